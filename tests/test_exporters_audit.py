"""Audit against real exporters' output (torch.onnx TorchScript and dynamo, transformers, torchvision,
onnxruntime's transformer optimizer, session-optimized saves and float16 converters): the graph forms they
write that hybridperf got wrong, rebuilt here with the ``onnx`` helper API (no torch, no onnxruntime).

* ``onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types=True)`` appends the input's Cast
  after the nodes that read it (not topologically sorted; onnxruntime runs it, ONNX's checker refuses it);
* an ``ORT_ENABLE_EXTENDED`` save of an opset-14 BERT holds onnxruntime's ONNX-domain ``LayerNormalization``,
  which opset 14's shape inference does not know, followed by ``Shape`` -> ``Expand``;
* T5's relative-position buckets take ``log(0)`` in shape arithmetic that normalisation folds.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

from hybridperf.analysis.analyze import analyze
from hybridperf.costs import FLOPS_PER_MAC
from hybridperf.costs.norm import LAYER_NORM_FLOPS_PER_ELEM


def _save(tmp_path, name, nodes, inputs, outputs, inits=(), opset=17, ms=False):
    graph = h.make_graph(nodes, name, inputs, outputs, list(inits))
    ops = [h.make_opsetid("", opset)] + ([h.make_opsetid("com.microsoft", 1)] if ms else [])
    model = h.make_model(graph, opset_imports=ops)
    model.ir_version = 8
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _by_op(a) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in a.analysis.records:
        out.setdefault(r.op, []).append(r)
    return out


def _fp16_conv(tmp_path, name, sorted_nodes: bool):
    """x (float32) -> Cast float16 -> Conv 3->4, 3x3, pad 1 -> Cast float32, as the float16 converter writes it."""
    w = nh.from_array(np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float16), "w")
    cast_in = h.make_node("Cast", ["x"], ["x16"], to=TP.FLOAT16, name="graph_input_cast0")
    conv = h.make_node("Conv", ["x16", "w"], ["y16"], pads=[1, 1, 1, 1], name="conv")
    cast_out = h.make_node("Cast", ["y16"], ["y"], to=TP.FLOAT, name="graph_output_cast0")
    nodes = [cast_in, conv, cast_out] if sorted_nodes else [conv, cast_in, cast_out]
    return _save(tmp_path, name, nodes, [h.make_tensor_value_info("x", TP.FLOAT, [1, 3, 8, 8])],
                 [h.make_tensor_value_info("y", TP.FLOAT, [1, 4, 8, 8])], [w])


def test_graph_not_topologically_sorted_imports_like_the_sorted_one(tmp_path):
    # did: hybridperf predict on a torchvision MobileNetV3 / ConvNeXt after onnxruntime.transformers.float16
    # (keep_io_types=True); got: exit 2 "import into TVM Relax failed: 'graph_input_cast_0'; re-export the model"
    unsorted = analyze(_fp16_conv(tmp_path, "unsorted", sorted_nodes=False))
    ref = analyze(_fp16_conv(tmp_path, "sorted", sorted_nodes=True))
    conv = _by_op(unsorted)["relax.nn.conv2d"]
    assert len(conv) == 1
    assert conv[0].cost.flops == FLOPS_PER_MAC * 4 * 8 * 8 * 3 * 3 * 3  # 2 * Cout*H*W * Cin*kh*kw
    assert conv[0].inputs[0].dtype == "float16"
    assert unsorted.analysis.flops == ref.analysis.flops
    assert [r.op for r in unsorted.analysis.records] == [r.op for r in ref.analysis.records]
    assert unsorted.memory.peak_bytes == ref.memory.peak_bytes


def test_sorted_graph_keeps_its_node_order():
    from hybridperf.frontends.normalize import _sort_topologically

    g = h.make_graph([h.make_node("Relu", ["x"], ["a"], name="n0"), h.make_node("Neg", ["x"], ["b"], name="n1"),
                      h.make_node("Add", ["a", "b"], ["y"], name="n2")], "g",
                     [h.make_tensor_value_info("x", TP.FLOAT, [2])], [h.make_tensor_value_info("y", TP.FLOAT, [2])])
    _sort_topologically(g)
    assert [n.name for n in g.node] == ["n0", "n1", "n2"]
    # out of order: the reader moves after its producers, ties stay in file order
    g2 = h.make_graph([g.node[2], g.node[1], g.node[0]], "g2", list(g.input), list(g.output))
    _sort_topologically(g2)
    assert [n.name for n in g2.node] == ["n1", "n0", "n2"]


def _ort_layer_norm_model(tmp_path):
    """onnxruntime's LayerNormalization (ONNX domain) in an opset-14 graph, its shape read by Shape -> Expand,
    with a symbolic batch: the form of an ORT_ENABLE_EXTENDED save of a dynamic-axes BERT."""
    nodes = [
        h.make_node("LayerNormalization", ["x", "s", "b"], ["y"], axis=-1, epsilon=1e-5, stash_type=1),
        h.make_node("Shape", ["y"], ["sh"]),
        h.make_node("Expand", ["c", "sh"], ["e"]),
        h.make_node("Add", ["y", "e"], ["z"]),
    ]
    inits = [nh.from_array(np.ones(8, np.float32), "s"), nh.from_array(np.zeros(8, np.float32), "b"),
             nh.from_array(np.ones(8, np.float32), "c")]
    return _save(tmp_path, "ln14", nodes, [h.make_tensor_value_info("x", TP.FLOAT, ["batch", 4, 8])],
                 [h.make_tensor_value_info("z", TP.FLOAT, None)], inits, opset=14, ms=True)


def test_ort_layer_norm_at_opset_14_feeds_shape_and_expand(tmp_path):
    # did: hybridperf predict bert.onnx (opset 14, dynamic axes) saved by an onnxruntime session at
    # ORT_ENABLE_EXTENDED, --shape input_ids=2x16 ...; got: exit 2 "failed at node '/m/Shape' (Shape): 'Type' object
    # has no attribute 'shape'; the input shapes ... do not fit the model", then at Expand once that was fixed
    a = analyze(_ort_layer_norm_model(tmp_path), batch=2)
    ops = _by_op(a)
    assert ops["relax.nn.layer_norm"][0].cost.flops == LAYER_NORM_FLOPS_PER_ELEM * 2 * 4 * 8
    assert ops["relax.add"][0].cost.flops == 2 * 4 * 8  # one add per element
    assert not a.uncosted_ops
    assert a.memory.known


def test_ort_layer_norm_at_opset_14_is_typed_for_the_importer(tmp_path):
    # the importer's own path, shapes not folded first: TVM's Shape converter reads the layer norm's type
    from hybridperf.frontends.onnx_import import from_onnx

    loaded = from_onnx(onnx.load(str(_ort_layer_norm_model(tmp_path))), {"x": (2, 4, 8)})
    assert "R.nn.layer_norm" in loaded.module.script()


def test_ort_layer_norm_output_shape_for_normalisation():
    from hybridperf.frontends.contrib import SHAPED, output_shapes

    node = h.make_node("LayerNormalization", ["x", "s", "b"], ["y"], axis=-1)
    assert ("", "LayerNormalization") in SHAPED
    assert output_shapes(node, [(2, 4, 8), (8,), (8,)]) == [(2, 4, 8)]


def test_shape_arithmetic_with_log_of_zero_folds_without_numpy_warnings(tmp_path):
    # did: hybridperf.analyze on a T5 encoder / decoder export (relative position buckets: log(0) -> -inf, cast to
    # int64, masked out by a Where); got: "RuntimeWarning: divide by zero encountered in log" and "invalid value
    # encountered in cast" on the API user's stderr; now: folded quietly, to the value onnxruntime computes
    nodes = [
        h.make_node("Shape", ["x"], ["sh"], start=1, end=2),
        h.make_node("Squeeze", ["sh"], ["n"]),
        h.make_node("Range", ["zero", "n", "one"], ["pos"]),
        h.make_node("Cast", ["pos"], ["posf"], to=TP.FLOAT),
        h.make_node("Log", ["posf"], ["logp"]),
        h.make_node("Cast", ["logp"], ["logi"], to=TP.INT64),
        h.make_node("Greater", ["pos", "zero"], ["big"]),
        h.make_node("Where", ["big", "logi", "pos"], ["bucket"]),
        h.make_node("Cast", ["bucket"], ["bf"], to=TP.FLOAT),
        h.make_node("Add", ["x", "bf"], ["y"]),
    ]
    inits = [nh.from_array(np.array(0, np.int64), "zero"), nh.from_array(np.array(1, np.int64), "one")]
    path = _save(tmp_path, "t5_buckets", nodes, [h.make_tensor_value_info("x", TP.FLOAT, ["batch", 6])],
                 [h.make_tensor_value_info("y", TP.FLOAT, None)], inits)
    from hybridperf.frontends.normalize import normalize

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = normalize(onnx.load(str(path)), batch=2)
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
    assert [n.op_type for n in res.model.graph.node] == ["Add"]  # the buckets folded by normalisation itself
    a = analyze(path, batch=2)
    ops = _by_op(a)
    assert [r.op for r in a.analysis.records if r.cost.flops] == ["relax.add"]  # the buckets folded to a constant
    assert ops["relax.add"][0].cost.flops == 2 * 6


@pytest.mark.parametrize("opset", [18, 21])
def test_group_normalization_both_scale_layouts(tmp_path, opset):
    # opset 18: scale and bias per group; opset 21: per channel (what torch's dynamo exporter writes at 21+)
    n = 2 if opset == 18 else 4
    path = _save(tmp_path, f"gn{opset}", [h.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2)],
                 [h.make_tensor_value_info("x", TP.FLOAT, [1, 4, 3, 3])], [h.make_tensor_value_info("y", TP.FLOAT, [1, 4, 3, 3])],
                 [nh.from_array(np.ones(n, np.float32), "s"), nh.from_array(np.zeros(n, np.float32), "b")], opset=opset)
    a = analyze(path)
    assert _by_op(a)["relax.nn.group_norm"][0].cost.flops == LAYER_NORM_FLOPS_PER_ELEM * 4 * 3 * 3
    assert not a.uncosted_ops


# ------------------------------------------------------------- FusedConv (ORT_ENABLE_EXTENDED saves of CNNs) ----

def _fused_conv_model(activation: str | None, params=(), residual=False):
    """x (1, 3, 8, 8) -> FusedConv 3->4, 3x3, stride 2, pad 1, bias (+ Z) -> activation: what an onnxruntime
    session saved at ORT_ENABLE_EXTENDED writes for Conv -> Relu / HardSigmoid (torchvision MobileNetV3: 23)."""
    rng = np.random.default_rng(3)
    inits = [nh.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"),
             nh.from_array(rng.standard_normal(4).astype(np.float32), "b")]
    attrs = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], dilations=[1, 1], group=1)
    if activation:
        attrs["activation"] = activation
    if params:
        attrs["activation_params"] = list(params)
    inputs = ["x", "w", "b"] + (["z"] if residual else [])
    node = h.make_node("FusedConv", inputs, ["y"], domain="com.microsoft", **attrs)
    vis = [h.make_tensor_value_info("x", TP.FLOAT, [1, 3, 8, 8])]
    if residual:
        vis.append(h.make_tensor_value_info("z", TP.FLOAT, [1, 4, 4, 4]))
    graph = h.make_graph([node], "fused_conv", vis, [h.make_tensor_value_info("y", TP.FLOAT, [1, 4, 4, 4])], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13), h.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model


_FUSED_CONV_CASES = [("Relu", ()), ("HardSigmoid", (0.2, 0.5)), ("LeakyRelu", (0.1,)), ("Clip", (0.0, 6.0)),
                     ("Sigmoid", ()), (None, ())]


@pytest.mark.parametrize(("activation", "params"), _FUSED_CONV_CASES)
def test_fused_conv_flops(tmp_path, activation, params):
    # did: hybridperf predict mobilenet_v3_small.onnx saved by an onnxruntime session at ORT_ENABLE_EXTENDED;
    # got: exit 2 "com.microsoft::FusedConv (23)"; now: the conv, its bias and activation, as the export prices them
    path = tmp_path / "fc.onnx"
    onnx.save(_fused_conv_model(activation, params), str(path))
    a = analyze(path)
    ops = _by_op(a)
    assert ops["relax.nn.conv2d"][0].cost.flops == FLOPS_PER_MAC * 4 * 4 * 4 * 3 * 3 * 3  # 2 * Cout*OH*OW * Cin*kh*kw
    assert not a.uncosted_ops
    assert a.analysis.flops >= FLOPS_PER_MAC * 4 * 4 * 4 * 3 * 3 * 3 + 4 * 4 * 4  # + the bias add


@pytest.mark.parametrize(("activation", "params", "residual"),
                         [(a, p, False) for a, p in _FUSED_CONV_CASES] + [("Relu", (), True)])
def test_fused_conv_computes_what_onnxruntime_does(activation, params, residual):
    ort = pytest.importorskip("onnxruntime")
    import tvm
    from tvm import relax

    from hybridperf.frontends.load import load_model
    from hybridperf.ir.tvm_compat import var_name

    rng = np.random.default_rng(4)
    feeds = {"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32)}
    if residual:
        feeds["z"] = rng.standard_normal((1, 4, 4, 4)).astype(np.float32)
    model = _fused_conv_model(activation, params, residual)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    mod = load_model(model, {k: v.shape for k, v in feeds.items()}).module
    vm = relax.VirtualMachine(relax.build(mod, target="llvm"), tvm.cpu())
    got = vm["main"](*[tvm.runtime.tensor(feeds[var_name(p)]) for p in mod["main"].params]).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("attrs", "want"), [
    (dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]), (1, 4, 4, 4)),  # (8 + 2 - 2 - 1) // 2 + 1
    (dict(kernel_shape=[3, 3], dilations=[2, 2]), (1, 4, 4, 4)),  # 8 - 2 * 2 = 4
    (dict(kernel_shape=[3, 3], strides=[3, 3], auto_pad="SAME_UPPER"), (1, 4, 3, 3)),  # ceil(8 / 3)
    (dict(kernel_shape=[3, 3], auto_pad="VALID"), (1, 4, 6, 6)),
])
def test_fused_conv_output_shape_for_normalisation(attrs, want):
    # torchvision's LRASPP reads its features' Shape to size a Resize: after an ORT_ENABLE_EXTENDED save the
    # feature is a FusedConv, whose shape onnx's inference does not know
    from hybridperf.frontends.contrib import SHAPED, output_shapes

    node = h.make_node("FusedConv", ["x", "w"], ["y"], domain="com.microsoft", activation="Relu", **attrs)
    assert ("com.microsoft", "FusedConv") in SHAPED
    assert output_shapes(node, [(1, 3, 8, 8), (4, 3, 3, 3)]) == [want]


@pytest.mark.parametrize(("alpha", "per_elem"), [(1.0, 2), (1.702, 3)])
def test_quick_gelu_alpha_one_is_silu(tmp_path, alpha, per_elem):
    # did: hybridperf predict efficientnet_b0.onnx saved by an onnxruntime session at ORT_ENABLE_EXTENDED (its SiLU
    # fused into QuickGelu alpha=1); got: 1 FLOP per element more than the export (a multiply by 1.0)
    node = h.make_node("QuickGelu", ["x"], ["y"], domain="com.microsoft", alpha=alpha)
    path = _save(tmp_path, "qg", [node], [h.make_tensor_value_info("x", TP.FLOAT, [2, 8])],
                 [h.make_tensor_value_info("y", TP.FLOAT, [2, 8])], opset=17, ms=True)
    a = analyze(path)
    ops = _by_op(a)
    mults = sum(r.cost.flops for r in ops["relax.multiply"])
    assert mults == (per_elem - 1) * 2 * 8  # x * sigmoid(.), and alpha * x unless alpha is 1
    assert len(ops["relax.sigmoid"]) == 1
