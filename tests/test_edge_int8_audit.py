"""Quantized models as an edge engineer brings them: onnxruntime ``quantize_dynamic`` (``DynamicQuantizeLinear``
-> ``ConvInteger`` / ``MatMulInteger``), ``quantize_static`` in QOperator format (onnxruntime's ``com.microsoft``
``QLinearAdd`` family after the convs), TFLite full-int8 with a fused activation, TFLite 16x8.

Golden values are arithmetic: FLOP = 2 x MAC, int8 / uint8 1 B per element, int32 / float32 4 B.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridperf.costs import Status


import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from onnx_models import opset17_model as _model  # noqa: E402
from onnx_models import ort_run_unoptimised as _ort_run  # noqa: E402
from onnx_models import records_of as _records  # noqa: E402
from onnx_models import value_info as _vi  # noqa: E402


# ------------------------------------------------------------ quantize_dynamic ----


def dynamic_conv_model() -> onnx.ModelProto:
    """onnxruntime ``quantize_dynamic``'s Conv: x -> DynamicQuantizeLinear -> ConvInteger(uint8 x, int8 W 4x3x3x3,
    the dynamic zero point, a constant one) -> Cast float -> Mul(x scale * w scale) -> y [1,4,8,8]."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.integers(-100, 100, (4, 3, 3, 3)).astype(np.int8), "Wq"),
             numpy_helper.from_array(np.array(0, np.int8), "wz"),
             numpy_helper.from_array(np.array(0.01, np.float32), "ws")]
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
             helper.make_node("Mul", ["xs", "ws"], ["s"]),
             helper.make_node("ConvInteger", ["xq", "Wq", "xz", "wz"], ["ci"], pads=[1, 1, 1, 1]),
             helper.make_node("Cast", ["ci"], ["cf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["cf", "s"], ["y"])]
    return _model(nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, 4, 8, 8])], inits)


def test_dynamic_quantized_conv_integer_is_rewritten_and_computes_the_same():
    from hybridperf.frontends.qoperator import qoperator_to_qdq

    m = dynamic_conv_model()
    q = qoperator_to_qdq(m)
    onnx.checker.check_model(q)
    # before: the zero point from DynamicQuantizeLinear is not an initializer, so ConvInteger was left as it was
    assert "ConvInteger" not in [n.op_type for n in q.graph.node]
    x = np.random.default_rng(1).normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    a, b = _ort_run(m, {"x": x}), _ort_run(q, {"x": x})
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() > 0


def test_dynamic_quantized_conv_is_priced_as_int8(tmp_path):
    from hybridperf.analysis.analyze import analyze

    p = tmp_path / "dyn.onnx"
    onnx.save(dynamic_conv_model(), str(p))
    a = analyze(p)  # before: UnsupportedModelError, "ai.onnx::ConvInteger (1)" cannot be imported (exit 2)
    (conv,) = _records(a, "relax.nn.conv2d")
    assert conv.precision == "int8"
    assert conv.cost.flops == 2 * (4 * 8 * 8) * (3 * 3 * 3)  # 2 * Cout*H*W * Cin*kh*kw
    assert conv.cost.bytes_read == 3 * 8 * 8 + 4 * 3 * 3 * 3  # uint8 activations + int8 weights, 1 B each
    assert conv.cost.bytes_written == 4 * (4 * 8 * 8)  # the int32 result (as float32: the same 4 B)


# ------------------------------------------- QOperator: onnxruntime's com.microsoft QLinear ops ----

MS = "com.microsoft"


def ms_qlinear_model() -> onnx.ModelProto:
    """int8 x, y [1,4,4,4] -> QLinearAdd -> QLinearMul(y) -> QLinearSigmoid -> QLinearLeakyRelu -> QLinearConcat(x)
    [1,8,4,4] -> QLinearAveragePool 2x2/2 [1,8,2,2] -> QLinearSoftmax (axis -1), and QLinearGlobalAveragePool of the
    concat [1,8,1,1]."""
    s = lambda n, v: numpy_helper.from_array(np.array(v, np.float32), n)  # noqa: E731
    z = lambda n, v=0: numpy_helper.from_array(np.array(v, np.int8), n)  # noqa: E731
    inits = [s("sx", 0.05), z("zx", 3), s("sy", 0.04), z("zy", -2), s("sa", 0.08), z("za", 1), s("sm", 0.1), z("zm"),
             s("ss", 1 / 256), z("zs", -128), s("sl", 1 / 256), z("zl", -128), s("sc", 0.05), z("zc"),
             s("sp", 0.05), z("zp"), s("so", 1 / 256), z("zo", -128), s("sg", 0.05), z("zg")]
    nodes = [
        helper.make_node("QLinearAdd", ["x", "sx", "zx", "y", "sy", "zy", "sa", "za"], ["a"], domain=MS),
        helper.make_node("QLinearMul", ["a", "sa", "za", "y", "sy", "zy", "sm", "zm"], ["m"], domain=MS),
        helper.make_node("QLinearSigmoid", ["m", "sm", "zm", "ss", "zs"], ["sg_out"], domain=MS),
        helper.make_node("QLinearLeakyRelu", ["sg_out", "ss", "zs", "sl", "zl"], ["l"], domain=MS, alpha=0.1),
        helper.make_node("QLinearConcat", ["sc", "zc", "l", "sl", "zl", "x", "sx", "zx"], ["c"], domain=MS, axis=1),
        helper.make_node("QLinearAveragePool", ["c", "sc", "zc", "sp", "zp"], ["p"], domain=MS, kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("QLinearSoftmax", ["p", "sp", "zp", "so", "zo"], ["out"], domain=MS, axis=-1, opset=13),
        helper.make_node("QLinearGlobalAveragePool", ["c", "sc", "zc", "sg", "zg"], ["gap"], domain=MS),
    ]
    return _model(nodes, [_vi("x", [1, 4, 4, 4], TensorProto.INT8), _vi("y", [1, 4, 4, 4], TensorProto.INT8)],
                  [_vi("out", [1, 8, 2, 2], TensorProto.INT8), _vi("gap", [1, 8, 1, 1], TensorProto.INT8)], inits, ms=True)


def test_ms_qlinear_ops_rewritten_to_qdq_compute_the_same():
    ort = pytest.importorskip("onnxruntime")
    from hybridperf.frontends.qoperator import qoperator_to_qdq

    m = ms_qlinear_model()
    q = qoperator_to_qdq(m)
    onnx.checker.check_model(q)
    float_ops = [n.op_type for n in q.graph.node if n.op_type not in ("DequantizeLinear", "QuantizeLinear")]
    # before: all eight were left as they were, and the model exited 2 ("com.microsoft::QLinearAdd (1), ...")
    assert float_ops == ["Add", "Mul", "Sigmoid", "LeakyRelu", "Concat", "AveragePool", "Softmax", "GlobalAveragePool"]
    assert all(n.domain in ("", "ai.onnx") for n in q.graph.node)
    rng = np.random.default_rng(2)
    feeds = {k: rng.integers(-60, 60, (1, 4, 4, 4)).astype(np.int8) for k in ("x", "y")}
    for k in range(2):  # both outputs
        sess = [ort.InferenceSession(p.SerializeToString(), providers=["CPUExecutionProvider"]) for p in (m, q)]
        a, b = (s.run(None, feeds)[k] for s in sess)
        assert a.dtype == b.dtype == np.int8
        # onnxruntime computes the QLinear ops in fixed point / lookup tables, QDQ in float: one rounding step apart
        # per op, compounding through the chain (the softmax is the seventh requantization)
        diff = np.abs(a.astype(int) - b.astype(int))
        assert diff.max() <= (1 if k else 4) and (diff == 0).mean() > 0.7
        assert len(np.unique(a)) > 1  # not a saturated constant


def test_ms_qlinear_ops_priced_as_int8(tmp_path):
    from hybridperf.analysis.analyze import analyze

    p = tmp_path / "ms.onnx"
    onnx.save(ms_qlinear_model(), str(p))
    a = analyze(p)
    n = 1 * 4 * 4 * 4
    for op in ("relax.add", "relax.multiply", "relax.sigmoid", "relax.nn.leakyrelu", "relax.concat", "relax.nn.softmax"):
        (r,) = _records(a, op)
        assert r.precision == "int8", op
    (add,) = _records(a, "relax.add")
    assert (add.cost.flops, add.cost.bytes_read, add.cost.bytes_written) == (n, 2 * n, n)  # int8 in, int8 out
    (cat,) = _records(a, "relax.concat")
    # before: the concat's operands come as a tuple, which the int8 pass did not follow: fp32, 2 * 4 * n B read and
    # written, plus two counted dequantize kernels (2 * n FLOPs, n + 5 B read, 4 * n B written each)
    assert (cat.cost.bytes_read, cat.cost.bytes_written) == (2 * n, 2 * n)
    assert all(r.status is Status.ZERO_COST for r in _records(a, "relax.dequantize"))
    (sm,) = _records(a, "relax.nn.softmax")
    assert (sm.cost.bytes_read, sm.cost.bytes_written) == (8 * 2 * 2, 8 * 2 * 2)
    assert all(r.status is not Status.UNSUPPORTED for r in a.analysis.records)


def test_ms_qlinear_forms_not_rewritten_are_left_for_the_support_check():
    from hybridperf.frontends.qoperator import qoperator_to_qdq

    s = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    z = numpy_helper.from_array(np.array(0, np.int8), "z")
    nodes = [helper.make_node("QLinearGlobalAveragePool", ["x", "s", "z", "s", "z"], ["y"], domain=MS, channels_last=1)]
    m = _model(nodes, [_vi("x", [1, 4, 4, 4], TensorProto.INT8)], [_vi("y", [1, 1, 1, 4], TensorProto.INT8)], [s, z], ms=True)
    # channels-last pooling: no rewrite, so the support check names it
    assert [(n.domain, n.op_type) for n in qoperator_to_qdq(m).graph.node] == [(MS, "QLinearGlobalAveragePool")]


def test_qoperator_ops_left_name_the_qdq_fix(tmp_path, capsys):
    """A QOperator op the rewrite leaves (channels-last pooling here; QGemm, QAttention) exits 2 naming the QDQ
    re-quantization; until 2026-12-03 the generic check named only onnxruntime's fusions."""
    from hybridperf.cli import main

    s = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    z = numpy_helper.from_array(np.array(0, np.int8), "z")
    nodes = [helper.make_node("QLinearGlobalAveragePool", ["x", "s", "z", "s", "z"], ["y"], domain=MS, channels_last=1)]
    m = _model(nodes, [_vi("x", [1, 4, 4, 4], TensorProto.INT8)], [_vi("y", [1, 1, 1, 4], TensorProto.INT8)], [s, z], ms=True)
    path = tmp_path / "q.onnx"
    onnx.save(m, path)
    assert main(["predict", str(path), "-d", "raspberry-pi-4b"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "QOperator-format int8 ops cannot be imported by TVM: com.microsoft::QLinearGlobalAveragePool" in err[0]
    assert "re-quantize in QDQ format" in err[0]


# ------------------------------------------------------------------ TFLite ----


def _tflite(tensors, ops, outputs):
    import tflite_builder

    return tflite_builder.tflite_model(tensors, ops, [0], outputs)


def relu_conv_tflite(activation: int = 1) -> bytes:
    """Full-int8 CONV_2D 3->4, 3x3 SAME on 1x8x8x3 with int32 bias and a fused activation (1 RELU, 3 RELU6)."""
    rng = np.random.default_rng(3)
    t = [dict(name="x", shape=[1, 8, 8, 3], dtype="int8", scale=0.05, zp=0),
         dict(name="w", shape=[4, 3, 3, 3], dtype="int8", data=rng.integers(-100, 100, (4, 3, 3, 3)).astype(np.int8),
              scale=[0.01, 0.02, 0.03, 0.04], zp=[0] * 4),
         dict(name="b", shape=[4], dtype="int32", data=rng.integers(-50, 50, 4).astype(np.int32),
              scale=[0.0005, 0.001, 0.0015, 0.002], zp=[0] * 4),
         dict(name="y", shape=[1, 8, 8, 4], dtype="int8", scale=0.1, zp=-128)]
    opts = ("Conv2DOptions", {"Padding": 0, "StrideW": 1, "StrideH": 1, "FusedActivationFunction": activation})
    return _tflite(t, [dict(op="CONV_2D", inputs=[0, 1, 2], outputs=[3], options=opts)], [3])


@pytest.mark.parametrize("activation", [1, 3])
def test_tflite_fused_activation_folds_into_the_int8_conv(tmp_path, activation):
    pytest.importorskip("tflite")
    from hybridperf.analysis.analyze import analyze

    p = tmp_path / "c.tflite"
    p.write_bytes(relu_conv_tflite(activation))
    a = analyze(p, fused=False)
    (clip,) = _records(a, "relax.clip")
    # before: the clip of the int8 result was a kernel of its own: 2 * 256 FLOPs, 256 B read and 256 B written,
    # one more launch (on a GPU sheet's per-op runtime, 28 us of host time)
    assert clip.status is Status.ZERO_COST and clip.precision == "int8"
    (conv,) = _records(a, "relax.nn.conv2d")
    out = 1 * 8 * 8 * 4
    assert conv.precision == "int8"
    assert conv.cost.flops == 2 * out * (3 * 3 * 3) + out + 2 * out  # MACs x 2 + bias add + clamp (min, max)
    assert conv.cost.bytes_read == 8 * 8 * 3 + 4 * 27 + 4 * 4  # int8 input, int8 weights, int32 bias
    assert conv.cost.bytes_written == out  # int8
    assert [k for k in a.kernels if k.status is Status.COUNTED and "clip" in k.name] == []
    assert sum(k.cost.flops for k in a.kernels) == conv.cost.flops  # the fused view counts the same work


def test_tflite_int16x8_conv_is_one_clear_line(tmp_path, capsys):
    pytest.importorskip("tflite")
    import tflite_builder

    from hybridperf.cli import ExitCode, main

    rng = np.random.default_rng(4)
    t = [dict(name="x", shape=[1, 4, 4, 2], dtype="int16", scale=0.001, zp=0),
         dict(name="w", shape=[2, 1, 1, 2], dtype="int8", data=rng.integers(-9, 9, (2, 1, 1, 2)).astype(np.int8), scale=[0.01] * 2, zp=[0] * 2),
         dict(name="b", shape=[2], dtype="int64", data=np.zeros(2, np.int64), scale=[0.00001] * 2, zp=[0] * 2),
         dict(name="y", shape=[1, 4, 4, 2], dtype="int16", scale=0.001, zp=0)]
    old = tflite_builder._TYPES
    tflite_builder._TYPES = dict(old, int16=7)  # tflite.TensorType.INT16
    try:
        opts = ("Conv2DOptions", {"Padding": 0, "StrideW": 1, "StrideH": 1})
        data = _tflite(t, [dict(op="CONV_2D", inputs=[0, 1, 2], outputs=[3], options=opts)], [3])
    finally:
        tflite_builder._TYPES = old
    p = tmp_path / "q16.tflite"
    p.write_bytes(data)
    assert main(["predict", str(p), "-d", "raspberry-pi-4b", "--format", "json"]) == ExitCode.INPUT_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    # before: "import into TVM Relax failed (TypeError: Unsupported input datatype for operation: float32)"
    (line,) = err.strip().splitlines()
    assert "16x8 quantization (int16 activations: x, y) at operator 0 (CONV_2D)" in line and "TFLITE_BUILTINS_INT8" in line


def test_tflite_import_failure_names_the_operator(tmp_path):
    pytest.importorskip("tflite")
    from hybridperf.errors import ModelLoadError
    from hybridperf.frontends.tflite import load_tflite

    t = [dict(name="x", shape=[1, 4], dtype="float32"),
         dict(name="w", shape=[2, 4], dtype="float32", data=np.ones((2, 4), np.float32)),
         dict(name="y", shape=[1, 2], dtype="float32")]
    p = tmp_path / "fc.tflite"
    p.write_bytes(_tflite(t, [dict(op="FULLY_CONNECTED", inputs=[0, 1, -1], outputs=[2])], [2]))  # no options table
    with pytest.raises(ModelLoadError) as ei:
        load_tflite(p)
    # before: "import into TVM Relax failed (AssertionError: AssertionError)", naming nothing
    assert "at operator 0 (FULLY_CONNECTED)" in str(ei.value)


def test_tflite_import_failure_is_one_stderr_line_at_the_fd(tmp_path):
    """TVM's C++ "BlockBuilder destroyed with remaining blocks!" reached fd 2 after the error line (the frontend's
    frames freed at exit); the frames are freed while TVM's log is captured now."""
    pytest.importorskip("tflite")
    import subprocess
    import sys

    t = [dict(name="x", shape=[1, 4], dtype="float32"),
         dict(name="w", shape=[2, 4], dtype="float32", data=np.ones((2, 4), np.float32)),
         dict(name="y", shape=[1, 2], dtype="float32")]
    p = tmp_path / "fc.tflite"
    p.write_bytes(_tflite(t, [dict(op="FULLY_CONNECTED", inputs=[0, 1, -1], outputs=[2])], [2]))
    run = subprocess.run([sys.executable, "-m", "hybridperf", "predict", str(p), "-d", "t4"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and run.stdout == ""
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("hybridperf: error: ") and "at operator 0 (FULLY_CONNECTED)" in line
