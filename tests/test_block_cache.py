"""The block cache (hybridperf.analysis.blocks) changes no figure: composed and whole-model analyses
compared field by field on the test models and on OFA MobileNetV3 sweep variants."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
import numpy as np

from benchmarks.block_cache_equality import differences, prediction_differences
from sweep_variants import write_variants

DEVICES = ("host-epyc-1c",)


def _assert_same(session, path, batch=None):
    from hybridperf import api

    whole = api.analyze(str(path), batch=batch)  # no cache: the whole-model path
    composed = session.analyze(str(path), batch=batch)
    assert differences(whole, composed) == [], path
    for dev in DEVICES:
        assert prediction_differences(api.predict_on(whole, dev), session.predict_on(composed, dev)) == [], (path, dev)


def test_test_models_equal(model_dir):
    from hybridperf import api

    session = api.Session(keep_analyses=0)
    for path in sorted(model_dir.glob("*.onnx")):
        _assert_same(session, path, batch=1)
    stats = session.stats()
    assert stats["block_models_composed"] >= 2  # the CNNs are cut; each figure equal all the same


def test_sweep_variants_composed_and_equal(tmp_path):
    from hybridperf import api

    session = api.Session(keep_analyses=0)
    paths = write_variants(tmp_path, (0, 1, 0))  # the last repeats the first's blocks
    for p in paths:
        _assert_same(session, p)
    stats = session.stats()
    assert stats["block_models_composed"] == len(paths)
    assert stats["block_fallbacks"] == 0
    assert stats["block_hits"] > stats["block_misses"]  # the last variant repeats the first: all hits


def _chain(ops: list[str], shared_weight: bool = False) -> onnx.ModelProto:
    """x -> ops in order (Conv: 8 -> 8 channels 3x3, Relu, Add x + x), 1x8x8x8."""
    nodes, inits = [], []
    x = "x"
    w = numpy_helper.from_array(np.ones((8, 8, 3, 3), np.float32), "w")
    inits.append(w)
    for i, op in enumerate(ops):
        y = f"t{i}"
        if op == "Conv":
            wn = "w" if shared_weight else f"w{i}"
            if not shared_weight:
                inits.append(numpy_helper.from_array(np.ones((8, 8, 3, 3), np.float32), wn))
            nodes.append(helper.make_node("Conv", [x, wn], [y], pads=[1, 1, 1, 1]))
        elif op == "Add":
            nodes.append(helper.make_node("Add", [x, x], [y]))
        else:
            nodes.append(helper.make_node(op, [x], [y]))
        x = y
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 8])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 8, 8, 8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


@pytest.mark.parametrize(("ops", "shared", "cuts"), [
    (["Conv", "Relu", "Conv", "Relu", "Conv"], False, [2, 4]),  # before each Conv reading a Relu
    (["Conv", "Relu", "Add", "Relu", "Conv"], False, [4]),  # a tensor read by Add alone: no cut
    (["Conv", "Relu", "Conv", "Relu", "Conv"], True, []),  # one weight read on both sides: no cut
])
def test_plan_cuts(ops, shared, cuts):
    from hybridperf.analysis.blocks import plan_cuts
    from hybridperf.frontends.normalize import normalize

    norm = normalize(_chain(ops, shared)).model
    assert [p for p, _ in plan_cuts(norm.graph)] == cuts


def test_block_cache_off_and_stats():
    from hybridperf import api

    assert "block_hits" in api.Session().stats()
    assert "block_hits" not in api.Session(block_cache=False).stats()


def test_primfunc_names_follow_the_builder():
    """The names composed segments get (:class:`hybridperf.ir.lowering.PrimFuncNames`): one per class of
    structurally equal PrimFuncs, a used hint numbered by its own counter, ``.`` -> ``_``."""
    from hybridperf.ir.lowering import PrimFuncNames

    names = PrimFuncNames()
    assert [names.name(h, c) for h, c in [("add", 0), ("add", 1), ("add", 0), ("main", 2), ("nn.relu", 3)]] == [
        "add", "add1", "add", "main1", "nn_relu"]
    assert names.clash(["add_k0", "add1_k1"]) is False
    assert names.clash(["add_k0", "add1"]) is True
