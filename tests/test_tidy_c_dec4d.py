"""One home per concept in the ONNX / TFLite frontends and the block table (2026-12-04, review "tidyC"): the ONNX
load sequence (:func:`hybridperf.frontends.load.normalized_onnx`), the model's ``ai.onnx`` opset
(:func:`hybridperf.frontends.normalize.default_opset`), TVM's TFLite converter class made once, and the count of
tensors between blocks checked on every ``build()`` of a :class:`~hybridperf.block_table.BlockTable`."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import pytest

from hybridperf.errors import ModelLoadError
from hybridperf.frontends import load
from hybridperf.frontends.normalize import default_opset, normalize


def _model(opsets: list[tuple[str, int]]) -> onnx.ModelProto:
    """``y = x + float(Split(arange(6), [2, 4])[0])``: the Split folds to a constant."""
    c = numpy_helper.from_array(np.arange(6, dtype=np.int64), "c")
    nodes = [helper.make_node("Split", ["c"], ["a", "b"], axis=0, split=[2, 4]),
             helper.make_node("Cast", ["a"], ["af"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["x", "af"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])], [c])
    return helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets], ir_version=7)


@pytest.mark.parametrize(("opsets", "want"), [
    ([("", 11)], 11),
    ([("ai.onnx", 11)], 11),  # the same domain under its long name
    ([("com.microsoft", 1), ("", 13)], 13),
    ([("com.microsoft", 1)], None),
])
def test_default_opset_reads_both_spellings_of_the_default_domain(opsets, want):
    assert default_opset(_model(opsets)) == want


@pytest.mark.parametrize("domain", ["", "ai.onnx"])
def test_folder_evaluates_at_the_declared_opset_under_either_domain_name(domain):
    """The folder takes the opset from :func:`default_opset` (it read domain "" alone, and evaluated a model stamped
    ``ai.onnx`` at opset 17; no fold found whose value that changed)."""
    res = normalize(_model([(domain, 11)]))
    assert [n.op_type for n in res.model.graph.node] == ["Add"]
    folded = {t.name: numpy_helper.to_array(t) for t in res.model.graph.initializer}
    assert folded["af"].tolist() == [0.0, 1.0]


def test_normalized_onnx_is_the_one_load_sequence(monkeypatch):
    """``load_model`` and the block cache's ``analyze_segments`` both normalise through ``normalized_onnx``, and name
    an in-memory model the same way."""
    from hybridperf.analysis import blocks

    calls = []
    real = load.normalized_onnx

    def spy(model, shapes, batch, source, inplace):
        calls.append((source, inplace))
        return real(model, shapes, batch, source, inplace)

    monkeypatch.setattr(load, "normalized_onnx", spy)
    m = _model([("", 13)])
    m.graph.name = "tidy"
    load.load_model(m)
    cache = SimpleNamespace(blocks=SimpleNamespace(whole=0))  # one node: no cut, the whole-model path
    blocks.analyze_segments(m, None, None, cache)
    assert calls == [("<onnx.ModelProto tidy>", False)] * 2
    assert cache.blocks.whole == 1


def test_normalized_onnx_refuses_a_graph_that_folds_to_constants():
    """check_computes runs in the one sequence: a model whose output is a folded constant is refused."""
    c = numpy_helper.from_array(np.arange(2, dtype=np.int64), "c")
    g = helper.make_graph([helper.make_node("Cast", ["c"], ["y"], to=TensorProto.FLOAT)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])], [c])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)
    with pytest.raises(ModelLoadError, match=r"^<m>: every output is an input or a constant"):
        load.normalized_onnx(m, None, None, "<m>", False)


def test_tflite_operator_converter_is_made_once():
    pytest.importorskip("tvm")
    from hybridperf.frontends.tflite import QUANTIZED_PASS_THROUGH, _operator_converter

    first = _operator_converter()
    assert _operator_converter() is first  # until 2026-12-04 a new class per load
    assert QUANTIZED_PASS_THROUGH <= first._SUPPORTED_QUANTIZED_OPS


def test_verify_every_checks_the_count_of_tensors_between_blocks():
    """Until 2026-12-04 the ``verify_every`` re-check took a ``build()`` giving the wrong count of tensor names
    (only the learning path checked it); every ``build()`` is now checked in one place."""
    from benchmarks.nas_sweep import Arch, block_keys, build_blocks
    from hybridperf.block_table import BlockTable
    from hybridperf.errors import InputError
    from sweep_variants import SMALL
    from test_block_table import MIXED

    table = BlockTable(["t4"], roofline_only=["t4"], verify_every=1)
    for i in (0, 1):
        table.predict(block_keys(Arch(*SMALL[i])), lambda i=i: build_blocks(Arch(*SMALL[i]), i))
    keys = block_keys(MIXED)
    model, names = build_blocks(MIXED, 7)
    with pytest.raises(InputError, match=rf"^{len(keys)} block keys need {len(keys) - 1} tensors between blocks; "
                                         rf"build\(\) gave {len(names) - 1}$"):
        table.predict(keys, lambda: (model, names[:-1]))
    with pytest.raises(InputError, match=r"variants\[0\]\[1\] \(build\)\(\) gave"):
        table.predict_many([(keys, lambda: (model, names[:-1]))])
    assert table.predict(keys, lambda: (model, names))["t4"].from_table  # the right count re-checks fine
    assert Path(__file__).name == "test_tidy_c_dec4d.py"
