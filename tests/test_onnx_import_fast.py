"""The ONNX import's shortcuts give the module TVM's own import gives, names included.

* ``conv2d`` typed in Python (:func:`hybridperf.frontends.onnx_import._conv2d_type`) instead of by
  TVM's layout-based inference;
* weights stored in the file left unread (:func:`hybridperf.frontends.onnx_import.load_onnx_proto`):
  the same figures as the model parsed with its weights.
"""

from __future__ import annotations

import pytest
from zoo_exports import ZOO

ZOO_MODELS = ("mobilenet_v3_small_b1_r224_legacy.onnx", "squeezenet1_1_b1_r224_legacy.onnx",
              "shufflenet_v2_x1_0_b1_r224_legacy.onnx", "regnet_y_400mf_b1_r224_legacy.onnx")


def _both(path, monkeypatch, batch=None):
    """(module with the ``conv2d`` shortcut, module without it), both with their weights read (a weight
    left in the file imports as a placeholder of zeros, not the file's values)."""
    from hybridperf.frontends import onnx_import
    from hybridperf.frontends.load import load_model

    def load():
        return load_model(onnx_import.load_onnx_proto(path, read_weights=True), batch=batch).module

    fast = load()
    with monkeypatch.context() as m:
        m.setattr(onnx_import, "_conv2d_type", lambda expr: None)
        plain = load()
    return fast, plain


def _assert_same(fast, plain, what):
    from hybridperf.ir.tvm_compat import structural_equal

    assert structural_equal(fast, plain), what
    assert fast.script() == plain.script(), what  # binding order and names too


def test_typed_conv2d_imports_the_same_module(model_dir, monkeypatch):
    for path in sorted(model_dir.glob("*.onnx")):
        for batch in (1, 3):
            _assert_same(*_both(path, monkeypatch, batch), f"{path.name} batch {batch}")


def test_conv2d_type_equals_tvms(tmp_path):
    """Strides, asymmetric pads, dilation, groups, 1x1 and odd sizes: the type TVM infers."""
    import numpy as np

    from hybridperf.frontends.onnx_import import _conv2d_type
    from hybridperf.ir.tvm_compat import structural_equal, tvm_modules

    _, relax = tvm_modules()
    x = relax.Var("x", relax.TensorType((2, 8, 17, 12), "float32"))
    cases = [dict(), dict(strides=2), dict(strides=(2, 3), padding=(1, 0, 2, 1)), dict(dilation=2, padding=2),
             dict(groups=2), dict(groups=8, strides=2, padding=1)]
    bb = relax.BlockBuilder()
    with bb.function("main", [x]):
        with bb.dataflow():
            for kw in cases:
                groups = kw.get("groups", 1)
                for kh, kwd in ((1, 1), (3, 3), (5, 2)):
                    w = relax.const(np.zeros((16, 8 // groups, kh, kwd), "float32"))
                    ty = _conv2d_type(relax.op.nn.conv2d(x, w, **kw))
                    inferred = bb.normalize(relax.op.nn.conv2d(x, w, **kw)).ty
                    assert ty is not None and structural_equal(ty, inferred), (kw, kh, kwd)
            # not the plain case: left to TVM
            w = relax.const(np.zeros((16, 8, 3, 3), "float16"))
            assert _conv2d_type(relax.op.nn.conv2d(x, w)) is None  # mixed dtypes: TVM reports it
            w = relax.const(np.zeros((16, 3, 3, 3), "float32"))
            assert _conv2d_type(relax.op.nn.conv2d(x, w)) is None  # channels do not match
            w = relax.const(np.zeros((16, 8, 3, 3), "float32"))
            assert _conv2d_type(relax.op.nn.conv2d(x, w, out_dtype="float16")) is None
            assert _conv2d_type(relax.op.nn.conv2d(x, w, data_layout="NHWC", kernel_layout="OIHW")) is None
            out = bb.emit_output(x)
        bb.emit_func_output(out)


@pytest.mark.slow
@pytest.mark.skipif(not all((ZOO / m).exists() for m in ZOO_MODELS), reason="zoo exports not present")
def test_typed_conv2d_imports_the_same_module_on_zoo(monkeypatch):
    for m in ZOO_MODELS:
        _assert_same(*_both(ZOO / m, monkeypatch), m)


def _big_weights_model():
    """A conv and a matmul whose weights (288 KiB, 512 KiB) are above the inline limit, a bias below it."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((32, 256, 3, 3)).astype(np.float32), "wc"),
             numpy_helper.from_array(rng.standard_normal((32 * 8 * 8, 64)).astype(np.float32), "wm"),
             numpy_helper.from_array(rng.standard_normal(64).astype(np.float32), "b"),
             numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape")]
    nodes = [helper.make_node("Conv", ["x", "wc"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Reshape", ["r", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "wm"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])]
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), inits


def _figures(a):
    return (a.analysis.records, a.analysis.weight_bytes, a.kernels, a.memory, dict(a.input_shapes), a.fusion_note)


def test_weights_in_the_file_are_left_there(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, numpy_helper

    from hybridperf.analysis.analyze import analyze
    from hybridperf.frontends.onnx_import import INLINE_EXTERNAL_BYTES, load_onnx_proto

    model, inits = _big_weights_model()
    path = tmp_path / "big.onnx"
    onnx.save(model, str(path))
    proto = load_onnx_proto(path)
    where = {t.name: t.data_location for t in proto.graph.initializer}
    assert where == {"wc": TensorProto.EXTERNAL, "wm": TensorProto.EXTERNAL, "b": TensorProto.DEFAULT,
                     "shape": TensorProto.DEFAULT}
    assert 64 * 4 <= INLINE_EXTERNAL_BYTES < 32 * 256 * 3 * 3 * 4
    for t, want in zip(proto.graph.initializer, inits):  # each reference points at the tensor's own bytes
        assert t.name == want.name
        if t.data_location == TensorProto.EXTERNAL:
            assert {e.key: e.value for e in t.external_data}["location"] == "big.onnx"
        np.testing.assert_array_equal(numpy_helper.to_array(t, base_dir=str(tmp_path)), numpy_helper.to_array(want))
    assert proto.graph.node == model.graph.node and proto.opset_import == model.opset_import
    full = load_onnx_proto(path, read_weights=True)
    assert all(t.data_location == TensorProto.DEFAULT for t in full.graph.initializer)
    assert _figures(analyze(path)) == _figures(analyze(onnx.load(str(path))))  # the proto in memory: weights read


def test_file_without_large_weights_parses_as_before(model_dir):
    import onnx

    from hybridperf.frontends.onnx_import import load_onnx_proto

    for path in sorted(model_dir.glob("*.onnx")):
        assert load_onnx_proto(path) == onnx.load(str(path), load_external_data=False)


@pytest.mark.slow
@pytest.mark.skipif(not all((ZOO / m).exists() for m in ZOO_MODELS), reason="zoo exports not present")
def test_weights_left_in_the_file_give_the_same_figures_on_zoo():
    import onnx

    from hybridperf.analysis.analyze import analyze

    for m in (*ZOO_MODELS, "bert_tiny_b1_s128_legacy.onnx"):
        path = ZOO / m
        assert _figures(analyze(path)) == _figures(analyze(onnx.load(str(path)))), m
