"""Tests for hybridperf.frontends.normalize: shape binding, shape-subgraph folding, op support.

Each failure pattern seen on real torch exports is rebuilt as a tiny graph
with onnx.helper, shown to fail TVM's ONNX frontend as exported, and to import
after :func:`normalize` with the same onnxruntime outputs.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from hybridperf.errors import DynamicShapeError, InputError, UnsupportedModelError
from hybridperf.frontends.normalize import (
    METHOD,
    bind_input_shapes,
    check_supported,
    data_dependent_shape_ops,
    normalize,
    real_inputs,
    unsupported_ops,
)

ort = pytest.importorskip("onnxruntime")


# --------------------------------------------------------------------------- builders


def i64(name, vals):
    return nh.from_array(np.array(vals, dtype=np.int64), name)


def f32(name, vals):
    return nh.from_array(np.array(vals, dtype=np.float32), name)


def make(nodes, inputs, outputs, inits=(), opset=17):
    graph = h.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def fin(shape):
    return h.make_tensor_value_info("x", T.FLOAT, shape)


def fout(rank):
    return h.make_tensor_value_info("y", T.FLOAT, [f"o{i}" for i in range(rank)])


def dynamic_pad():
    """Pad whose pads input is computed from Shape: pad W to an even size."""
    nodes = [
        h.make_node("Shape", ["x"], ["s"]),
        h.make_node("Gather", ["s", "i3"], ["w"], axis=0),
        h.make_node("Mod", ["w", "two"], ["r"]),
        h.make_node("Concat", ["zeros6", "r", "zero"], ["pads"], axis=0),
        h.make_node("Pad", ["x", "pads"], ["y"], mode="constant"),
    ]
    inits = [i64("i3", [3]), i64("two", [2]), i64("zeros6", [0] * 6), i64("zero", [0])]
    return make(nodes, [fin(["N", 3, 5, 7])], [fout(4)], inits), (2, 3, 5, 7)


def computed_reshape():
    """Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), ReduceProd(Shape(x)[1:])))."""
    nodes = [
        h.make_node("Shape", ["x"], ["s"]),
        h.make_node("Gather", ["s", "i0"], ["n"], axis=0),
        h.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        h.make_node("Slice", ["s", "one", "big"], ["rest"]),
        h.make_node("ReduceProd", ["rest"], ["p"], keepdims=1),
        h.make_node("Concat", ["n1", "p"], ["shp"], axis=0),
        h.make_node("Reshape", ["x", "shp"], ["y"]),
    ]
    inits = [i64("i0", 0), i64("ax0", [0]), i64("one", [1]), i64("big", [100])]
    return make(nodes, [fin(["N", 3, 4, 4])], [fout(2)], inits), (2, 3, 4, 4)


def chain_expand():
    """Expand(x, Max(Concat(Unsqueeze(Gather(Shape(x), 0)), 4, 8), 1))."""
    nodes = [
        h.make_node("Shape", ["x"], ["s"]),
        h.make_node("Gather", ["s", "i0"], ["n"], axis=0),
        h.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        h.make_node("Concat", ["n1", "four", "eight"], ["shp"], axis=0),
        h.make_node("Max", ["shp", "ones"], ["shp2"]),
        h.make_node("Expand", ["x", "shp2"], ["y"]),
    ]
    inits = [i64("i0", 0), i64("ax0", [0]), i64("four", [4]), i64("eight", [8]), i64("ones", [1, 1, 1])]
    return make(nodes, [fin(["N", 1, 8])], [fout(3)], inits), (2, 1, 8)


def chain_slice():
    """Slice end = floor(W / 2) computed by Shape -> Slice -> Cast -> Div -> Floor -> Cast -> Concat."""
    nodes = [
        h.make_node("Shape", ["x"], ["s"]),
        h.make_node("Slice", ["s", "two_i", "three_i"], ["w"]),
        h.make_node("Cast", ["w"], ["wf"], to=T.FLOAT),
        h.make_node("Div", ["wf", "twof"], ["hf"]),
        h.make_node("Floor", ["hf"], ["hfl"]),
        h.make_node("Cast", ["hfl"], ["hi"], to=T.INT64),
        h.make_node("Concat", ["hi"], ["ends"], axis=0),
        h.make_node("Slice", ["x", "st", "ends", "ax2"], ["sl"]),
        h.make_node("Reshape", ["sl", "flat"], ["y"]),
    ]
    inits = [
        i64("two_i", [2]), i64("three_i", [3]), f32("twof", 2.0), i64("st", [0]), i64("ax2", [2]),
        i64("flat", [0, -1]),
    ]
    return make(nodes, [fin(["N", 6, 8])], [fout(2)], inits), (2, 6, 8)


def flatten_reshape():
    """Reshape(x, Concat(-1, ReduceProd(Shape(x)[1:]))): torch.flatten(x, 1) written out."""
    nodes = [
        h.make_node("Shape", ["x"], ["s"]),
        h.make_node("Slice", ["s", "one", "big"], ["rest"]),
        h.make_node("ReduceProd", ["rest"], ["p"], keepdims=1),
        h.make_node("Concat", ["m1", "p"], ["shp"], axis=0),
        h.make_node("Reshape", ["x", "shp"], ["y"]),
    ]
    inits = [i64("one", [1]), i64("big", [100]), i64("m1", [-1])]
    return make(nodes, [fin(["N", 3, 4, 4])], [fout(2)], inits), (2, 3, 4, 4)


def reduce_min_resize():
    """torchvision detection transform: scale = min(320 / min(H, W), 640 / max(H, W)), then Resize by it."""
    nodes = [
        h.make_node("Shape", ["x"], ["s"]),
        h.make_node("Slice", ["s", "m2", "big"], ["hw"]),
        h.make_node("Cast", ["hw"], ["hwf"], to=T.FLOAT),
        h.make_node("ReduceMin", ["hwf"], ["mn"], keepdims=0),
        h.make_node("ReduceMax", ["hwf"], ["mx"], keepdims=0),
        h.make_node("Div", ["target", "mn"], ["s1"]),
        h.make_node("Div", ["maxsz", "mx"], ["s2"]),
        h.make_node("Min", ["s1", "s2"], ["sc"]),
        h.make_node("Unsqueeze", ["sc", "ax0"], ["sc1"]),
        h.make_node("Concat", ["ones2", "sc1", "sc1"], ["scales"], axis=0),
        h.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest"),
    ]
    inits = [
        i64("m2", [-2]), i64("big", [100]), f32("target", 320.0), f32("maxsz", 640.0), i64("ax0", [0]),
        f32("ones2", [1.0, 1.0]),
    ]
    return make(nodes, [fin(["N", 3, "H", "W"])], [fout(4)], inits), (1, 3, 160, 200)


def reduce_min_topk():
    """k = min(4, W) as ReduceMin(Concat(4, Shape(x)[2])), then TopK(x, k): detection post-processing."""
    nodes = [
        h.make_node("Shape", ["x"], ["s"]),
        h.make_node("Gather", ["s", "i2"], ["w"], axis=0),
        h.make_node("Unsqueeze", ["w", "ax0"], ["w1"]),
        h.make_node("Concat", ["four", "w1"], ["cands"], axis=0),
        h.make_node("ReduceMin", ["cands"], ["k"], keepdims=1),
        h.make_node("TopK", ["x", "k"], ["y", "idx"], axis=-1),
    ]
    inits = [i64("i2", 2), i64("ax0", [0]), i64("four", [4])]
    return make(nodes, [fin(["N", 3, "W"])], [fout(3)], inits), (2, 3, 10)


PATTERNS = {
    # builder, exception fragment raised by TVM's frontend on the raw export
    "dynamic_pad": (dynamic_pad, "Dynamic pads are not supported yet"),
    "computed_reshape": (computed_reshape, "expects the input to be a Tuple of Tensors"),
    "flatten_reshape": (flatten_reshape, "Reshape requires the input new shape to be Shape"),
    "chain_expand": (chain_expand, "cannot handle ShapeExpr inputs"),
    "chain_slice": (chain_slice, "Reshape expects the input tensor to have known shape"),
    "reduce_min_resize": (reduce_min_resize, "for scale is currently unsupported"),
    "reduce_min_topk": (reduce_min_topk, "cannot handle ShapeExpr inputs"),
}


def tvm_import(model, shape_dict=None):
    from tvm.relax.frontend.onnx import from_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return from_onnx(model, shape_dict=shape_dict)


def ort_run(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_same_outputs(a, b, feeds):
    for x, y in zip(ort_run(a, feeds), ort_run(b, feeds)):
        assert x.shape == y.shape
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- folding


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_pattern_fails_raw_and_imports_after_normalize(name):
    build, fragment = PATTERNS[name]
    model, shape = build()
    with pytest.raises(Exception, match=fragment):
        tvm_import(model, {"x": list(shape)})

    res = normalize(model, {"x": shape})
    assert res.method == METHOD
    assert res.nodes_after < res.nodes_before
    assert "Shape" in dict(res.folded_op_types)
    mod = tvm_import(res.model)
    ret = mod["main"].ret_struct_info if hasattr(mod["main"], "ret_struct_info") else mod["main"].ret_ty
    assert "?" not in str(ret) and "ndim" not in str(ret)  # fully static output

    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal(shape).astype(np.float32)}
    assert_same_outputs(model, res.model, feeds)


def test_normalize_does_not_modify_its_argument_unless_inplace():
    model, shape = dynamic_pad()
    before = model.SerializeToString()
    res = normalize(model, {"x": shape})
    assert model.SerializeToString() == before
    assert res.model is not model
    res2 = normalize(model, {"x": shape}, inplace=True)
    assert res2.model is model
    assert len(model.graph.node) == 1  # Shape, Gather, Mod, Concat folded into the Pad's pads


def test_folded_counts_and_dead_code():
    model, shape = computed_reshape()
    res = normalize(model, {"x": shape})
    # Shape, Gather, Unsqueeze, Slice, ReduceProd, Concat -> one initializer
    assert dict(res.folded_op_types) == {
        "Shape": 1, "Gather": 1, "Unsqueeze": 1, "Slice": 1, "ReduceProd": 1, "Concat": 1,
    }
    assert res.nodes_folded == 6
    assert [n.op_type for n in res.model.graph.node] == ["Reshape"]
    # the index constants the folded nodes read are gone; only the target shape stays
    names = {t.name for t in res.model.graph.initializer}
    assert names == {"shp"}
    assert nh.to_array(next(iter(res.model.graph.initializer))).tolist() == [2, 48]  # 3*4*4


def test_normalize_is_idempotent_on_a_static_model():
    model, shape = chain_expand()
    once = normalize(model, {"x": shape}).model
    twice = normalize(once)
    assert twice.nodes_before == twice.nodes_after == 1
    assert twice.folded_op_types == ()


def test_qdq_dequantize_is_not_folded():
    w = nh.from_array(np.arange(4, dtype=np.int8).reshape(2, 2), "w")
    nodes = [
        h.make_node("DequantizeLinear", ["w", "sc", "zp"], ["wf"]),
        h.make_node("MatMul", ["x", "wf"], ["y"]),
    ]
    model = make(nodes, [fin([2, 2])], [fout(2)], [w, f32("sc", 0.5), nh.from_array(np.array(0, np.int8), "zp")])
    res = normalize(model)
    assert [n.op_type for n in res.model.graph.node] == ["DequantizeLinear", "MatMul"]


def test_local_functions_are_inlined():
    fn = h.make_function(
        "local", "Twice", ["a"], ["b"], [h.make_node("Add", ["a", "a"], ["b"])], [h.make_opsetid("", 17)]
    )
    graph = h.make_graph([h.make_node("Twice", ["x"], ["y"], domain="local")], "g", [fin([2, 3])], [fout(2)])
    model = h.make_model(
        graph, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("local", 1)], functions=[fn]
    )
    model.ir_version = 8
    assert unsupported_ops(model) == ["local::Twice"]
    res = normalize(model)
    assert [n.op_type for n in res.model.graph.node] == ["Add"]
    assert unsupported_ops(res.model) == []
    feeds = {"x": np.ones((2, 3), np.float32)}
    assert_same_outputs(model, res.model, feeds)


def test_external_weights_stay_external(tmp_path):
    rng = np.random.default_rng(0)
    w = nh.from_array(rng.standard_normal((8, 4096)).astype(np.float32), "w")  # 128 KiB
    nodes = [
        h.make_node("MatMul", ["x", "w"], ["mm"]),
        h.make_node("Shape", ["mm"], ["s"]),
        h.make_node("Slice", ["s", "z", "one"], ["n"]),
        h.make_node("Concat", ["n", "m1"], ["shp"], axis=0),
        h.make_node("Reshape", ["mm", "shp"], ["y"]),
    ]
    model = make(nodes, [fin(["N", 8])], [fout(2)], [w, i64("z", [0]), i64("one", [1]), i64("m1", [-1])])
    path = tmp_path / "m.onnx"
    saved = onnx.ModelProto()
    saved.CopyFrom(model)
    onnx.save(saved, str(path), save_as_external_data=True, location="m.onnx.data", size_threshold=1024)

    lazy = onnx.load(str(path), load_external_data=False)
    res = normalize(lazy, batch=3, inplace=True)
    (wt,) = [t for t in res.model.graph.initializer if t.name == "w"]
    assert wt.data_location == T.EXTERNAL and not wt.raw_data
    assert [n.op_type for n in res.model.graph.node] == ["MatMul", "Reshape"]
    onnx.load_external_data_for_model(res.model, str(tmp_path))
    assert_same_outputs(model, res.model, {"x": rng.standard_normal((3, 8)).astype(np.float32)})


# --------------------------------------------------------------------------- shape binding


def two_input_model():
    nodes = [h.make_node("Add", ["ids", "mask"], ["y"])]
    ids = h.make_tensor_value_info("ids", T.FLOAT, ["batch", "sequence"])
    mask = h.make_tensor_value_info("mask", T.FLOAT, ["batch", "sequence"])
    return make(nodes, [ids, mask], [h.make_tensor_value_info("y", T.FLOAT, ["batch", "sequence"])])


def shape_of(model, name):
    (vi,) = [i for i in model.graph.input if i.name == name]
    return [d.dim_value for d in vi.type.tensor_type.shape.dim]


def test_symbolic_batch_error_names_input_dim_and_flags():
    with pytest.raises(DynamicShapeError) as err:
        bind_input_shapes(two_input_model())
    msg = str(err.value)
    assert "\n" not in msg
    assert "'ids'" in msg and "dim 0" in msg and "'batch'" in msg
    assert "--batch N" in msg and "--shape ids=" in msg


def test_batch_alone_leaves_sequence_symbolic():
    with pytest.raises(DynamicShapeError, match=r"'ids' dim 1 \('sequence'\).*--shape ids=") as err:
        bind_input_shapes(two_input_model(), batch=4)
    assert "--batch" not in str(err.value)  # dim 1 cannot be bound by --batch


def test_shape_binds_shared_symbolic_dims_in_every_input():
    m = bind_input_shapes(two_input_model(), {"ids": (2, 16)})
    assert shape_of(m, "ids") == [2, 16]
    assert shape_of(m, "mask") == [2, 16]  # same "batch"/"sequence" params


def test_batch_binds_first_dim_and_keeps_static_dims():
    model, _ = dynamic_pad()
    m = bind_input_shapes(model, batch=5)
    assert shape_of(m, "x") == [5, 3, 5, 7]
    assert shape_of(model, "x") == [0, 3, 5, 7]  # original untouched (dim_param reads as 0)


def test_unknown_rank_input_error():
    nodes = [h.make_node("Relu", ["x"], ["y"])]
    graph = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, None)], [fout(1)])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    with pytest.raises(DynamicShapeError, match=r"'x' has unknown rank.*--shape x=1x3x224x224"):
        bind_input_shapes(model)
    assert shape_of(bind_input_shapes(model, {"x": (4,)}), "x") == [4]


@pytest.mark.parametrize(
    ("shapes", "fragment"),
    [
        ({"nope": (1, 3, 5, 7)}, "unknown input 'nope'"),
        ({"x": (1, 3, 5)}, "rank 3"),
        ({"x": (1, 4, 5, 7)}, "dim 1 is fixed to 3"),
        ({"x": (0, 3, 5, 7)}, "non-positive"),
    ],
)
def test_bad_shape_flags(shapes, fragment):
    model, _ = dynamic_pad()
    with pytest.raises(InputError, match=fragment):
        bind_input_shapes(model, shapes)


def test_initializer_listed_as_input_is_not_a_real_input():
    w = f32("w", np.arange(12).reshape(3, 4) / 10)
    w_in = h.make_tensor_value_info("w", T.FLOAT, [3, 4])
    nodes = [
        h.make_node("MatMul", ["x", "w"], ["mm"]),
        h.make_node("Shape", ["mm"], ["s"]),
        h.make_node("Gather", ["s", "i0"], ["n"], axis=0),
        h.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        h.make_node("Concat", ["n1", "m1"], ["shp"], axis=0),
        h.make_node("Reshape", ["mm", "shp"], ["y"]),
    ]
    model = make(
        nodes, [fin(["N", 3]), w_in], [fout(2)], [w, i64("i0", 0), i64("ax0", [0]), i64("m1", [-1])], opset=13
    )
    assert [i.name for i in real_inputs(model)] == ["x"]
    with pytest.raises(DynamicShapeError, match="'x'"):
        bind_input_shapes(model)
    res = normalize(model, batch=2)
    assert res.input_shapes == {"x": (2, 3)}
    assert "w" in {i.name for i in res.model.graph.input}  # old-style entry kept while used
    tvm_import(res.model)
    assert_same_outputs(model, res.model, {"x": np.ones((2, 3), np.float32)})


# --------------------------------------------------------------------------- support check


def unsupported_model():
    seq, batch, inp, hid = 5, 1, 4, 3
    nodes = [
        # Scan (a loop over a body graph; bodiless here: only the op type is read) is not TVM's; until 2026-12-07
        # this model used LSTM, which imports since (hybridperf.frontends.recurrent)
        h.make_node("Scan", ["x", "W", "R"], ["ys"], num_scan_inputs=1),
        h.make_node("MyOp", ["ys"], ["z"], domain="com.example"),
        h.make_node("Relu", ["z"], ["y"]),
        h.make_node("Scan", ["x", "W", "R"], ["ys2"], num_scan_inputs=1),
    ]
    inits = [f32("W", np.zeros((1, 4 * hid, inp))), f32("R", np.zeros((1, 4 * hid, hid)))]
    graph = h.make_graph(nodes, "g", [fin([seq, batch, inp])], [fout(4)], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.example", 1)])
    model.ir_version = 8
    return model


def test_unsupported_ops_lists_all_with_domain():
    assert unsupported_ops(unsupported_model()) == ["ai.onnx::Scan", "com.example::MyOp"]
    model, _ = dynamic_pad()
    assert unsupported_ops(model) == []


def test_check_supported_raises_one_line_with_counts():
    with pytest.raises(UnsupportedModelError) as err:
        check_supported(unsupported_model(), source="m.onnx")
    msg = str(err.value)
    assert "\n" not in msg
    assert "m.onnx: 3 of 4 nodes" in msg  # 2 Scan + 1 MyOp
    assert "ai.onnx::Scan (2)" in msg and "com.example::MyOp (1)" in msg
    check_supported(dynamic_pad()[0])  # no raise


def test_unsupported_ops_agree_with_tvm_frontend():
    import tvm

    with pytest.raises(tvm.error.OpNotImplemented, match="Scan"):
        tvm_import(unsupported_model())


def test_identity_of_a_weight_is_aliased_not_copied():
    w = f32("w", np.eye(3))
    nodes = [h.make_node("Identity", ["w"], ["w_shared"]), h.make_node("MatMul", ["x", "w_shared"], ["y"])]
    model = make(nodes, [fin([2, 3])], [fout(2)], [w])
    res = normalize(model)
    assert dict(res.folded_op_types) == {"Identity": 1}
    assert [list(n.input) for n in res.model.graph.node] == [["x", "w"]]
    assert [t.name for t in res.model.graph.initializer] == ["w"]


def test_stages_that_depend_on_earlier_folds_all_fold():
    """Stage 2 reads the shape of stage 1's Reshape, known only after stage 1 folds (swin_t does this 12x)."""
    nodes = [
        h.make_node("Shape", ["x"], ["s"]),
        h.make_node("Mod", ["s", "big"], ["s_mod"]),  # no onnx data propagation through Mod
        h.make_node("Reshape", ["x", "s_mod"], ["r"]),
        h.make_node("Shape", ["r"], ["s2"]),
        h.make_node("Gather", ["s2", "i3"], ["w"], axis=0),
        h.make_node("Mod", ["w", "two"], ["odd"]),
        h.make_node("Concat", ["zeros7", "odd"], ["pads"], axis=0),
        h.make_node("Pad", ["r", "pads"], ["y"]),
    ]
    inits = [i64("big", [1000] * 4), i64("i3", [3]), i64("two", [2]), i64("zeros7", [0] * 7)]
    model = make(nodes, [fin(["N", 3, 5, 7])], [fout(4)], inits)
    res = normalize(model, batch=2)
    assert [n.op_type for n in res.model.graph.node] == ["Reshape", "Pad"]
    tvm_import(res.model)
    assert_same_outputs(model, res.model, {"x": np.ones((2, 3, 5, 7), np.float32)})


def nonzero_topk():
    """k = min(4, number of positive x) -- NonZero makes it a run-time value at any input shape."""
    nodes = [
        h.make_node("Greater", ["x", "zero"], ["pos"]),
        h.make_node("NonZero", ["pos"], ["nz"]),
        h.make_node("Shape", ["nz"], ["s"]),
        h.make_node("Slice", ["s", "one", "two"], ["n"]),
        h.make_node("Concat", ["four", "n"], ["cands"], axis=0),
        h.make_node("ReduceMin", ["cands"], ["k"], keepdims=1),
        h.make_node("TopK", ["x", "k"], ["y", "idx"], axis=-1),
    ]
    inits = [f32("zero", 0.0), i64("one", [1]), i64("two", [2]), i64("four", [4])]
    return make(nodes, [fin([1, 10])], [fout(2)], inits)


def test_data_dependent_shapes_are_named_not_folded():
    model = nonzero_topk()
    res = normalize(model)
    assert "NonZero" in [n.op_type for n in res.model.graph.node]  # not foldable
    assert data_dependent_shape_ops(res.model) == {"ai.onnx::NonZero": 1}
    assert data_dependent_shape_ops(reduce_min_topk()[0]) == {}  # no NonZero at all
    # a NonZero whose result never feeds a shape computation is harmless
    plain = make(
        [h.make_node("NonZero", ["x"], ["y"])], [fin([2, 3])], [h.make_tensor_value_info("y", T.INT64, [2, "n"])]
    )
    assert data_dependent_shape_ops(plain) == {}


def test_load_model_names_data_dependent_ops(tmp_path):
    from hybridperf.frontends.load import load_model

    path = tmp_path / "det.onnx"
    onnx.save(nonzero_topk(), str(path))
    with pytest.raises(UnsupportedModelError) as err:
        load_model(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert "ai.onnx::NonZero (1)" in msg and "shapes depend on the input values" in msg and "7 nodes" in msg


def cli_predict(tmp_path, model):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    return subprocess.run(
        [sys.executable, "-m", "hybridperf", "predict", str(path), "-d", "t4"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )


def test_cli_data_dependent_shapes_exit_2_one_line(tmp_path):
    proc = cli_predict(tmp_path, nonzero_topk())
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()  # no TVM "BlockBuilder destroyed" line after ours
    assert "ai.onnx::NonZero (1)" in line and "7 nodes" in line


def test_cli_unsupported_ops_exit_2_one_line(tmp_path):
    proc = cli_predict(tmp_path, unsupported_model())
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    # every unsupported op with its node count, and the model's node count (2 Scan + 1 MyOp of 4)
    assert "3 of 4 nodes" in line and "ai.onnx::Scan (2)" in line and "com.example::MyOp (1)" in line
