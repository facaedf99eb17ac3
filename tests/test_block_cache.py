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
    # one weight read on both sides, passed on by every Conv: cut, the weight counted once (test below)
    (["Conv", "Relu", "Conv", "Relu", "Conv"], True, [2, 4]),
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


def test_shared_conv_weight_counted_once(tmp_path):
    from hybridperf import api

    path = tmp_path / "shared.onnx"
    onnx.save(_chain(["Conv", "Relu", "Conv", "Relu", "Conv"], shared_weight=True), str(path))
    session = api.Session(keep_analyses=0)
    _assert_same(session, path)
    assert session.stats()["block_models_composed"] == 1
    assert session.analyze(str(path)).analysis.weight_bytes == 8 * 8 * 3 * 3 * 4  # one 8x8x3x3 float32 weight


def _pre_norm(layers: int = 3, seq: int = 8, d: int = 16, ffn: int = 32, pow_exponent: bool = False) -> onnx.ModelProto:
    """A pre-norm transformer MLP stack, 1 x seq x d: ``x += W2 relu(W1 LN(x))`` per layer, every
    LayerNorm reading one shared scale and bias (as a random-weight export de-duplicates them); with
    ``pow_exponent`` each layer also squares its FFN activation with ``Pow`` reading one shared exponent."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(np.ones(d, np.float32), "ln_scale"),
             numpy_helper.from_array(np.zeros(d, np.float32), "ln_bias"),
             numpy_helper.from_array(np.array(2.0, np.float32), "two")]
    nodes = []
    x = "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array(rng.standard_normal((d, ffn)).astype(np.float32), f"w1_{i}"))
        inits.append(numpy_helper.from_array(rng.standard_normal((ffn, d)).astype(np.float32), f"w2_{i}"))
        nodes += [helper.make_node("LayerNormalization", [x, "ln_scale", "ln_bias"], [f"h{i}"], axis=-1),
                  helper.make_node("MatMul", [f"h{i}", f"w1_{i}"], [f"u{i}"]),
                  helper.make_node("Relu", [f"u{i}"], [f"r{i}"])]
        act = f"r{i}"
        if pow_exponent:
            nodes.append(helper.make_node("Pow", [act, "two"], [f"q{i}"]))
            act = f"q{i}"
        nodes += [helper.make_node("MatMul", [act, f"w2_{i}"], [f"v{i}"]),
                  helper.make_node("Add", [x, f"v{i}"], [f"x{i}"])]
        x = f"x{i}"
    graph = helper.make_graph(nodes, "pre_norm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, d])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, seq, d])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_pre_norm_transformer_cut_at_layer_norm():
    """The residual stream, read by the next LayerNorm (then a MatMul) and by the residual Add, is fenced:
    cut before each layer's LayerNorm; the LayerNorm scale and bias read by every layer do not block it."""
    from hybridperf.analysis.blocks import plan_cuts
    from hybridperf.frontends.normalize import normalize

    graph = normalize(_pre_norm()).model.graph
    ops = [n.op_type for n in graph.node]
    at_norm = [p for p, _ in plan_cuts(graph) if ops[p] == "LayerNormalization"]
    assert at_norm == [5, 10]  # five nodes a layer
    assert dict(plan_cuts(graph))[5] == ("x0",)
    # a shared initializer read by Pow (not passed on as an operand) blocks every cut it spans
    graph = normalize(_pre_norm(pow_exponent=True)).model.graph
    reads = [j for j, n in enumerate(graph.node) if "two" in n.input]
    assert len(reads) == 3
    assert [p for p, _ in plan_cuts(graph) if reads[0] < p <= reads[-1]] == []


def test_transformers_composed_and_equal(tmp_path):
    """A post-norm encoder (tests/onnx_models.py's bert_like: Reshape shapes shared among layers) and a
    pre-norm stack with a shared LayerNorm scale and bias: composed from segments, every figure equal."""
    import onnx_models

    from hybridperf import api

    session = api.Session(keep_analyses=0)
    paths = [tmp_path / "bert_like.onnx", tmp_path / "pre_norm.onnx", tmp_path / "pre_norm_again.onnx"]
    onnx.save(onnx_models.bert_like(layers=3)[0], str(paths[0]))
    onnx.save(_pre_norm(), str(paths[1]))
    onnx.save(_pre_norm(), str(paths[2]))
    for p in paths:
        _assert_same(session, p)
    stats = session.stats()
    assert stats["block_models_composed"] == 3 and stats["block_fallbacks"] == 0
    assert stats["block_hits"] > 0  # repeated layers, and the repeated model, answered from the cache
    # weights: per layer W1 16x32 and W2 32x16, plus one LayerNorm scale and bias of 16 (float32)
    assert session.analyze(str(paths[1])).analysis.weight_bytes == (3 * (16 * 32 + 32 * 16) + 2 * 16) * 4


def _rms_stack(layers: int = 3, seq: int = 8, d: int = 16, ffn: int = 32) -> onnx.ModelProto:
    """T5 / Llama's shape, 1 x seq x d: per layer ``c = Cast(x)`` to its own type (float), an RMSNorm of ``c``,
    ``x = c + W2 relu(W1 norm(c))``; then GPT-2's end, a ``Reshape`` to 1 x seq*d as the graph output (a view).
    Each layer's scalars (exponent, epsilon, one) are initializers of their own names, equal in value
    (as a GPT-2 export names each layer's attention scale and Reshape shapes apart)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(np.array([1, seq * d], np.int64), "out_shape")]
    nodes = []
    x = "x"
    for i in range(layers):
        inits += [numpy_helper.from_array(np.array(v, np.float32), f"{k}_{i}") for k, v in
                  (("two", 2.0), ("eps", 1e-6), ("one", 1.0))]
        inits += [numpy_helper.from_array(np.ones(d, np.float32), f"g_{i}"),
                  numpy_helper.from_array(rng.standard_normal((d, ffn)).astype(np.float32), f"w1_{i}"),
                  numpy_helper.from_array(rng.standard_normal((ffn, d)).astype(np.float32), f"w2_{i}")]
        c = f"c{i}"
        nodes += [helper.make_node("Cast", [x], [c], to=TensorProto.FLOAT),
                  helper.make_node("Pow", [c, f"two_{i}"], [f"p{i}"]),
                  helper.make_node("ReduceMean", [f"p{i}"], [f"m{i}"], axes=[-1], keepdims=1),
                  helper.make_node("Add", [f"m{i}", f"eps_{i}"], [f"e{i}"]),
                  helper.make_node("Sqrt", [f"e{i}"], [f"s{i}"]),
                  helper.make_node("Div", [f"one_{i}", f"s{i}"], [f"d{i}"]),
                  helper.make_node("Mul", [c, f"d{i}"], [f"n{i}"]),
                  helper.make_node("Mul", [f"g_{i}", f"n{i}"], [f"h{i}"]),
                  helper.make_node("MatMul", [f"h{i}", f"w1_{i}"], [f"u{i}"]),
                  helper.make_node("Relu", [f"u{i}"], [f"a{i}"]),
                  helper.make_node("MatMul", [f"a{i}", f"w2_{i}"], [f"v{i}"]),
                  helper.make_node("Add", [c, f"v{i}"], [f"x{i}"])]
        x = f"x{i}"
    nodes.append(helper.make_node("Reshape", [x, "out_shape"], ["y"]))
    graph = helper.make_graph(nodes, "rms_stack", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, d])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, seq * d])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_cut_after_a_cast_the_residual_add_fuses_into():
    """A ``Cast`` to its own type is a view (a lone reshape-pattern kernel) unless its producer fuses into it:
    no cut after the first layer's (it reads the graph input); cuts after the later layers' (the residual
    ``Add``, read by the ``Cast`` alone, fuses into it); a graph output that is a view does not stop cutting."""
    from hybridperf.analysis.blocks import plan_cuts
    from hybridperf.frontends.normalize import normalize

    graph = normalize(_rms_stack()).model.graph
    ops = [n.op_type for n in graph.node]
    assert ops[:2] == ["Cast", "Pow"] and ops[-1] == "Reshape" and len(ops) == 3 * 12 + 1  # twelve nodes a layer
    cuts = plan_cuts(graph)
    assert [p for p, _ in cuts if ops[p - 1] == "Cast"] == [13, 25]  # not 1: that Cast reads the graph input
    assert dict(cuts)[13] == ("c1",)
    # before each MatMul reading the norm's or the FFN's output, but in the first layer, where the residual
    # crossing with it is the first Cast, a view
    assert [p for p, _ in cuts if ops[p] == "MatMul"] == [20, 22, 32, 34]


def test_cast_residual_and_view_output_composed_and_equal(tmp_path):
    """The T5 / Llama-shaped stack ending in a Reshape (GPT-2's end): composed with no fallback, every figure
    equal to the whole-model path's; the layers, whose equal scalars are named apart, answered from the cache."""
    from hybridperf import api

    session = api.Session(keep_analyses=0)
    paths = [tmp_path / "rms3.onnx", tmp_path / "rms4.onnx"]
    onnx.save(_rms_stack(layers=3), str(paths[0]))
    onnx.save(_rms_stack(layers=4), str(paths[1]))
    for p in paths:
        _assert_same(session, p)
    stats = session.stats()
    assert stats["block_models_composed"] == 2 and stats["block_fallbacks"] == 0
    assert stats["block_hits"] > stats["block_misses"]
    composed = session.analyze(str(paths[0]))
    assert composed.segments is not None and composed.analysis.records[-1].op == "relax.reshape"
    # weights: per layer W1 16x32, W2 32x16, g 16 and three scalars (float32); the Reshape's shape is a value
    assert composed.analysis.weight_bytes == 3 * (16 * 32 + 32 * 16 + 16 + 3) * 4
