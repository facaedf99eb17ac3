"""Peak-memory audit (2026-12-03): golden figures on tiny ONNX graphs, and the defects it fixed.

* ``check --max-memory`` on a CPU judged onnxruntime's peak even where it rested on a guessed size (a ``NonZero``
  output, data-dependent, sized as its largest input) and passed it (``memory 10.39 MiB ok``, exit 0); the TVM plan
  of the same model was unknown. Now the limit cannot be judged (``UNKNOWN``, exit 2) and ``predict`` shows the
  figure as an estimate (``peak ≈ 10.39 MiB on onnxruntime (estimate: ...)``).
* ``check`` and ``mig`` did not say which peak they judged (onnxruntime's, PyTorch's or the TVM plan's): the check
  table reads ``memory (onnxruntime)``, its JSON / JUnit carry ``figure``, ``mig`` says ``peak = torch peak, ...``.

Golden values are written as arithmetic: a float32 tensor of shape (b, 64) is ``b * 64 * 4`` bytes.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from test_no_silent_zeros import _save as save_graph

import hybridperf
from hybridperf.estimate.budget import Budget, Metric, compare
from hybridperf.estimate.mig import suggest
from hybridperf.estimate.runtime_memory import (ORT_RUN_FIXED_BYTES, ORT_SESSION_BYTES_PER_NODE,
                                                ORT_SESSION_FIXED_BYTES, memory_figure)
from hybridperf.report.check import to_dict as check_dict
from hybridperf.report.check import to_table as check_table
from hybridperf.report.text import memory_text

W_BYTES = 64 * 64 * 4  # one float32 64x64 weight


def _save(path, nodes, inits, out_type=TensorProto.FLOAT, out_shape=("N", 64), in_shape=("N", 64)):
    return save_graph(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                      [helper.make_tensor_value_info("y", out_type, None if out_shape is None else list(out_shape))],
                      path, inits)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("memaudit")
    w = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    mlp = [helper.make_node("MatMul", ["x", "W"], ["a"]), helper.make_node("Relu", ["a"], ["b"])]
    return {
        # x @ W -> relu -> @ W: one initializer read by two MatMuls
        "shared": _save(d / "shared.onnx", [*mlp, helper.make_node("MatMul", ["b", "W"], ["y"])],
                        [numpy_helper.from_array(w, "W")]),
        # the same values in two initializers: two weights
        "two": _save(d / "two.onnx", [*mlp, helper.make_node("MatMul", ["b", "W2"], ["y"])],
                     [numpy_helper.from_array(w, "W"), numpy_helper.from_array(w.copy(), "W2")]),
        # NonZero: an output whose size depends on the data
        "nonzero": _save(d / "nonzero.onnx", [helper.make_node("Relu", ["x"], ["r"]),
                                              helper.make_node("NonZero", ["r"], ["nz"]),
                                              helper.make_node("Transpose", ["nz"], ["y"], perm=[1, 0])],
                         [], out_type=TensorProto.INT64, out_shape=None, in_shape=(1, 1024)),
    }


@pytest.mark.parametrize("batch", [1, 8])
def test_tvm_plan_golden_and_weights_counted_once(models, batch):
    m = hybridperf.analyze(models["shared"], batch=batch).memory
    act = batch * 64 * 4
    assert m.weight_bytes == W_BYTES  # W once, though two MatMuls read it
    assert m.input_bytes == act
    # matmul+relu fuse into one kernel: its output is the one planned block; y (the function's output) is unplanned
    assert m.storage_bytes == (act,) and m.unplanned_bytes == act and m.planned_bytes == 2 * act
    assert m.live_peak_bytes == 2 * act  # b and y alive at the second MatMul
    assert m.peak_bytes == 2 * act + W_BYTES + act
    assert hybridperf.analyze(models["two"], batch=batch).memory.weight_bytes == 2 * W_BYTES  # two initializers


@pytest.mark.parametrize(("precision", "size"), [(None, 4), ("fp16", 2), ("int8", 1)])
def test_precision_override_scales_the_tvm_plan(models, precision, size):
    pred = hybridperf.predict(models["shared"], "host", batch=8, precision=precision, residual=None)
    m = pred.memory
    assert (m.weight_bytes, m.input_bytes, m.planned_bytes) == (64 * 64 * size, 8 * 64 * size, 2 * 8 * 64 * size)
    assert pred.peak_memory_bytes == 64 * 64 * size + 3 * 8 * 64 * size  # runtime=None: the TVM plan's


def test_api_runtime_none_is_the_tvm_plan_auto_is_onnxruntime(models):
    plan = hybridperf.predict(models["shared"], "host", batch=1, residual=None)
    assert plan.runtime_memory is None and memory_figure(plan) == "TVM plan peak"
    assert plan.peak_memory_bytes == W_BYTES + 3 * 64 * 4  # weights + input + (storage + output)
    ort = hybridperf.predict(models["shared"], "host", batch=1, residual=None, runtime="auto")
    assert memory_figure(ort) == "onnxruntime peak"
    parts = dict(ort.runtime_memory.parts)
    assert parts == {
        "session": ORT_SESSION_FIXED_BYTES + 3 * ORT_SESSION_BYTES_PER_NODE,  # 3 nodes after onnxruntime's optimiser
        "initializers": W_BYTES,  # W once, under the 64 KiB mmap threshold: no page rounding
        # a, with b written over it by Relu in place (until 2026-12-05b: 2 * 64 * 4, the live set without reuse)
        "activation_pattern": 64 * 4,
        "outputs": 64 * 4, "run_fixed": ORT_RUN_FIXED_BYTES, "inputs": 64 * 4,
    }
    assert ort.peak_memory_bytes == sum(parts.values()) and ort.runtime_memory.unsized_ops == ()


def test_check_names_the_memory_figure(models):
    pred = hybridperf.predict(models["shared"], "host", batch=1, residual=None, runtime="auto")
    (mem,) = [c for c in compare(pred, Budget(max_memory_bytes=2**30), "m", "host") if c.metric is Metric.MEMORY]
    assert mem.figure == "onnxruntime peak" and mem.value == pred.peak_memory_bytes and mem.passed
    from hybridperf.estimate.budget import CheckResult

    res = CheckResult((mem,))
    assert check_dict(res)["checks"][0]["figure"] == "onnxruntime peak"
    assert "memory (onnxruntime)" in check_table(res)
    plan = hybridperf.predict(models["shared"], "host", batch=1, residual=None)
    (mem,) = [c for c in compare(plan, Budget(max_memory_bytes=2**30), "m", "host") if c.metric is Metric.MEMORY]
    assert mem.figure == "TVM plan peak" and mem.value == W_BYTES + 3 * 64 * 4


def test_mig_sizes_on_the_predict_headline_and_says_which(models):
    pred = hybridperf.predict(models["shared"], "a100-sxm-40gb", batch=1, residual=None, runtime="auto")
    s = suggest(pred)
    assert s.peak_memory_bytes == pred.peak_memory_bytes and s.memory_figure == "torch peak"
    from hybridperf.report.format import fmt_bytes
    from hybridperf.report.mig import to_table

    assert f"= torch peak {fmt_bytes(pred.peak_memory_bytes)} + headroom" in to_table(s, "m").splitlines()[0]


def test_guessed_onnxruntime_size_is_not_judged(models):
    """Was: ``memory 10.39 MiB ok`` (exit 0) for a peak resting on NonZero's guessed output size."""
    pred = hybridperf.predict(models["nonzero"], "host", residual=None, runtime="auto")
    rt = pred.runtime_memory
    assert rt.unsized_ops == ("NonZero",) and not pred.memory.known  # the TVM plan is unknown too
    assert memory_text(pred).startswith("peak ≈ ") and "(estimate: 1 node of unknown output size" in memory_text(pred)
    for allow in (False, True):
        (mem,) = [c for c in compare(pred, Budget(max_memory_bytes=2**30), "m", "host", allow_unsupported=allow)
                  if c.metric is Metric.MEMORY]
        assert mem.value is None and mem.undecided and not mem.passed
        assert mem.unknown.startswith("onnxruntime's peak rests on 1 node of unknown output size")
    result = hybridperf.check(models["nonzero"], "host", max_memory="1GiB", residual=None)
    assert not result and len(result.undecided) == 1


def test_control_flow_subgraphs_make_the_onnxruntime_peak_an_estimate(tmp_path):
    """An ``If`` node's branch tensors are not sized by the onnxruntime model: its peak passed ``check`` before."""
    f32 = TensorProto.FLOAT
    then = helper.make_graph([helper.make_node("Relu", ["h"], ["r"])], "then", [],
                             [helper.make_tensor_value_info("r", f32, [1, 32])])
    other = helper.make_graph([helper.make_node("Neg", ["h"], ["n"])], "else", [],
                              [helper.make_tensor_value_info("n", f32, [1, 32])])
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"]),
         helper.make_node("If", ["c"], ["b"], then_branch=then, else_branch=other)], "g",
        [helper.make_tensor_value_info("x", f32, [1, 64]), helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("b", f32, [1, 32])],
        [numpy_helper.from_array(np.ones((64, 32), np.float32), "W")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(tmp_path / "if.onnx"))
    pred = hybridperf.predict(str(tmp_path / "if.onnx"), "host", residual=None, runtime="auto")
    assert pred.runtime_memory.unsized_ops == ("If",)
    (mem,) = [c for c in compare(pred, Budget(max_memory_bytes=2**30), "m", "host") if c.metric is Metric.MEMORY]
    assert mem.value is None and mem.undecided
