"""A model far smaller than any the learned CPU models were trained on (2026-12-03).

The CPU models add a fitted constant overhead (100 us for the shipped ones: their training models' fastest runs
were 0.6 ms or more). A 2x64 MatMul was predicted at 110 us where onnxruntime runs it in 5.9 us, with nothing to say
so; now the latency is marked unverified, one warning line names why, and ``check`` says ``ok (unverified)``.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from test_no_silent_zeros import _save as save_graph

import hybridperf
from hybridperf.estimate.pricing import BELOW_TRAINING_SCALE


def _tiny(tmp_path):
    w = numpy_helper.from_array(np.ones((64, 64), np.float32), "W")
    return save_graph([helper.make_node("MatMul", ["x", "W"], ["y"])],
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 64])], tmp_path / "tiny.onnx", [w])


def test_a_tiny_model_on_a_learned_cpu_model_is_marked(tmp_path):
    pred = hybridperf.predict(_tiny(tmp_path), "host-epyc-1c")
    assert pred.latency_note.startswith("unverified: the model's fitted constant overhead (100 us) is most of this")
    assert BELOW_TRAINING_SCALE in pred.latency_note
    assert f"latency {pred.latency_note}" in pred.warnings
    result = hybridperf.check(_tiny(tmp_path), "host-epyc-1c", max_latency="1s")
    (lat,) = [c for c in result.checks if c.metric.value == "latency"]
    assert result.passed and lat.estimated == pred.latency_note  # check prints it "ok (unverified)"


def test_the_roofline_alone_and_a_real_model_are_not_marked(tmp_path):
    from pathlib import Path

    assert hybridperf.predict(_tiny(tmp_path), "host-epyc-1c", residual=None).latency_note == ""
    example = Path(__file__).resolve().parents[1] / "examples" / "squeezenet1_1.onnx"
    assert BELOW_TRAINING_SCALE not in hybridperf.predict(example, "host-epyc-1c").latency_note
