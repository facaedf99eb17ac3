"""An embedded / edge engineer's quantized models: onnxruntime ``quantize_static`` QDQ and QOperator output of a
classifier (its Gemm head), full-int8 TFLite with AVERAGE_POOL_2D and custom operators, ``--shape`` on a TFLite
model.

Golden values are arithmetic: FLOP = 2 x MAC, int8 / uint8 1 B per element, int32 / float32 4 B.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from hybridperf.costs import Status


import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from onnx_models import opset17_model as _model  # noqa: E402
from onnx_models import ort_run_unoptimised as _ort_run  # noqa: E402
from onnx_models import records_of as _records  # noqa: E402
from onnx_models import value_info as _vi  # noqa: E402


# ------------------------------------------------------------- QDQ Gemm head ----

K, N = 32, 10  # the classifier head: [1,K] x W[N,K]^T + b[N]


def qdq_gemm_model() -> onnx.ModelProto:
    """``quantize_static``'s QDQ form of a classifier head: x float [1,K] -> Q -> DQ -> Gemm(transB=1, DQ(W int8
    [N,K]), DQ(b int32 [N], scale xs*ws)) -> Q -> DQ -> y float [1,N]."""
    rng = np.random.default_rng(0)
    xs, ws = 0.05, 0.01
    inits = [numpy_helper.from_array(np.array(xs, np.float32), "xs"), numpy_helper.from_array(np.array(0, np.int8), "zp"),
             numpy_helper.from_array(np.array(ws, np.float32), "ws"),
             numpy_helper.from_array(np.array(xs * ws, np.float32), "bs"),
             numpy_helper.from_array(np.array(0, np.int32), "bz"),
             numpy_helper.from_array(rng.integers(-100, 100, (N, K)).astype(np.int8), "W"),
             numpy_helper.from_array(rng.integers(-500, 500, N).astype(np.int32), "b"),
             numpy_helper.from_array(np.array(0.2, np.float32), "ys")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "zp"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "xs", "zp"], ["xd"]),
             helper.make_node("DequantizeLinear", ["W", "ws", "zp"], ["Wd"]),
             helper.make_node("DequantizeLinear", ["b", "bs", "bz"], ["bd"]),
             helper.make_node("Gemm", ["xd", "Wd", "bd"], ["g"], transB=1),
             helper.make_node("QuantizeLinear", ["g", "ys", "zp"], ["gq"]),
             helper.make_node("DequantizeLinear", ["gq", "ys", "zp"], ["y"])]
    return _model(nodes, [_vi("x", [1, K])], [_vi("y", [1, N])], inits)


def test_qdq_gemm_head_is_an_int8_kernel(tmp_path):
    """TVM imports the Gemm's transB as a permute_dims of the dequantized weight, folded at compile time: until
    2026-12-04 the matmul behind it was not seen as int8 (its weight did not come from a dequantize through a view),
    so every QDQ classifier head from ``quantize_static`` ran at fp32, read its weight at 4 B per element and held
    that float32 copy in the int8 memory plan."""
    from hybridperf.analysis.analyze import analyze

    p = tmp_path / "head.onnx"
    onnx.save(qdq_gemm_model(), str(p))
    a = analyze(p, fused=False)
    (mm,) = _records(a, "relax.matmul")
    assert mm.precision == "int8"
    assert mm.cost.flops == 2 * K * N + N  # MACs x 2 + the bias add epilogue
    assert mm.cost.weight_bytes == N * K + 4 * N  # int8 weight, int32 bias (before: 4 * N * K + 4 * N)
    assert mm.cost.bytes_read == K + N * K + 4 * N  # int8 activation, int8 weight, int32 bias
    assert mm.cost.bytes_written == N  # int8, through the quantize
    # the activation's dequantize folds into the kernel (before: a counted float32 dequantize of its own)
    (act,) = [r for r in _records(a, "relax.dequantize") if r.inputs[0].shape == (1, K)]
    assert act.status is Status.ZERO_COST
    # no float32 copy of the weight among the planned activations: just the int8 result [1,N]
    assert a.memory.execution == "int8"
    assert 4 * N * K not in a.memory.storage_bytes
    fused = analyze(p)
    assert 4 * N * K not in fused.memory.storage_bytes
    assert sum(k.cost.flops for k in fused.kernels) == sum(r.cost.flops for r in a.analysis.records)
    assert {k.precision for k in fused.kernels if k.status is Status.COUNTED} == {"int8"}


# ------------------------------------------------------------- QOperator QGemm ----


def qgemm_model(per_column: bool, quantized_out: bool = True, trans_b: int = 1, alpha: float = 1.0) -> onnx.ModelProto:
    """``quantize_static(..., quant_format=QuantFormat.QOperator)``'s classifier head: x float [1,K] -> QuantizeLinear
    (uint8) -> com.microsoft QGemm(W int8 [N,K] (transB) or [K,N], int32 bias [N]) -> DequantizeLinear -> y [1,N]
    (or QGemm's own float output without y_scale)."""
    rng = np.random.default_rng(5)
    xs = 0.05
    ws = rng.uniform(0.005, 0.02, N).astype(np.float32) if per_column else np.array(0.01, np.float32)
    wz = np.zeros(N, np.int8) if per_column else np.array(0, np.int8)
    w = rng.integers(-100, 100, (N, K) if trans_b else (K, N)).astype(np.int8)
    inits = [numpy_helper.from_array(np.array(xs, np.float32), "xs"), numpy_helper.from_array(np.array(128, np.uint8), "xz"),
             numpy_helper.from_array(ws, "ws"), numpy_helper.from_array(wz, "wz"), numpy_helper.from_array(w, "W"),
             numpy_helper.from_array(rng.integers(-500, 500, N).astype(np.int32), "b"),
             numpy_helper.from_array(np.array(0.2, np.float32), "ys"), numpy_helper.from_array(np.array(128, np.uint8), "yz")]
    ins = ["xq", "xs", "xz", "W", "ws", "wz", "b"] + (["ys", "yz"] if quantized_out else [])
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("QGemm", ins, ["g"] if quantized_out else ["y"], domain="com.microsoft", alpha=alpha,
                              transA=0, transB=trans_b)]
    if quantized_out:
        nodes.append(helper.make_node("DequantizeLinear", ["g", "ys", "yz"], ["y"]))
    return _model(nodes, [_vi("x", [1, K])], [_vi("y", [1, N])], inits, ms=True)


@pytest.mark.parametrize("per_column,quantized_out,trans_b,alpha",
                         [(False, True, 1, 1.0), (True, True, 1, 1.0), (True, False, 1, 1.0), (True, True, 0, 0.5)])
def test_qgemm_rewritten_to_qdq_computes_the_same(per_column, quantized_out, trans_b, alpha):
    from hybridperf.frontends.qoperator import qoperator_to_qdq

    m = qgemm_model(per_column, quantized_out, trans_b, alpha)
    r = qoperator_to_qdq(m)
    assert "QGemm" not in [n.op_type for n in r.graph.node]
    x = np.random.default_rng(1).standard_normal((1, K)).astype(np.float32)
    want, got = _ort_run(m, {"x": x}), _ort_run(r, {"x": x})
    step = 0.2 if quantized_out else 1e-4 * float(np.abs(want).max())  # one quantization step (rounding of ties)
    assert np.abs(want - got).max() <= step


def test_qoperator_classifier_with_qgemm_is_priced_as_int8(tmp_path, capsys):
    """Until 2026-12-04 every QOperator model of a CNN with a Gemm head (onnxruntime's QOperator output of
    ``examples/resnet_like.onnx``) exited 2: "QOperator-format int8 ops cannot be imported by TVM:
    com.microsoft::QGemm"."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.cli import ExitCode, main

    p = tmp_path / "qgemm.onnx"
    onnx.save(qgemm_model(per_column=True), str(p))
    a = analyze(p, fused=False)
    (mm,) = _records(a, "relax.matmul")
    assert mm.precision == "int8"
    assert mm.cost.flops == 2 * K * N + N  # MACs x 2 + the bias add epilogue
    assert mm.cost.weight_bytes == N * K + 4 * N  # int8 weight, int32 bias
    assert mm.cost.bytes_written == N  # uint8, through the quantize
    assert 4 * N * K not in a.memory.storage_bytes  # no float32 copy of the weight
    assert main(["predict", str(p), "-d", "ethos-u55", "--format", "json"]) == ExitCode.OK
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------- TFLite ----


def _tflite_fc(dtype="float32", signature=None) -> bytes:
    import tflite_builder

    t = [dict(name="x", shape=[1, 4], dtype=dtype, signature=signature),
         dict(name="w", shape=[2, 4], dtype="float32", data=np.ones((2, 4), np.float32)),
         dict(name="y", shape=[1, 2], dtype="float32")]
    ops = [dict(op="FULLY_CONNECTED", inputs=[0, 1, -1], outputs=[2], options=("FullyConnectedOptions", {}))]
    return tflite_builder.tflite_model(t, ops, [0], [2])


def test_tflite_custom_operator_is_named(tmp_path, capsys):
    """Until 2026-12-04: "TVM's TFLite frontend cannot import this model (Custom operators are currently not
    supported); 3 operators", naming no operator."""
    pytest.importorskip("tflite")
    import tflite_builder

    from hybridperf.cli import ExitCode, main

    t = [dict(name="x", shape=[1, 4], dtype="float32"), dict(name="a", shape=[1, 4], dtype="float32"),
         dict(name="b", shape=[1, 4], dtype="float32"), dict(name="y", shape=[1, 4], dtype="float32")]
    ops = [dict(op="CUSTOM", custom="MyFancyOp", inputs=[0], outputs=[1]),
           dict(op="CUSTOM", custom="MyFancyOp", inputs=[1], outputs=[2]),
           dict(op="CUSTOM", custom="FlexErf", inputs=[2], outputs=[3])]
    p = tmp_path / "custom.tflite"
    p.write_bytes(tflite_builder.tflite_model(t, ops, [0], [3]))
    assert main(["predict", str(p), "-d", "ethos-u55"]) == ExitCode.INPUT_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.strip().splitlines()
    assert "custom operators MyFancyOp (2 nodes), FlexErf (1 node) are not supported" in line
    assert "builtin operators only" in line


@pytest.mark.parametrize("shape,message", [((0, 4), "has a non-positive dim"),
                                           ((1, 4, 1), "has rank 3 but the model's input has rank 2 (?x4)")])
def test_tflite_shape_flag_checked_like_onnx(tmp_path, shape, message):
    """Until 2026-12-04 ``--shape x=0x4`` on a TFLite model was priced (0 FLOP, the launch overheads as its
    latency) and a wrong rank failed inside TVM's converter with its raw ``ir.Op(span=None, ...`` text."""
    pytest.importorskip("tflite")
    from hybridperf.errors import InputError
    from hybridperf.frontends.tflite import load_tflite

    p = tmp_path / "fc.tflite"
    p.write_bytes(_tflite_fc(signature=[-1, 4]))
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        load_tflite(p, shapes={"x": shape})
    assert load_tflite(p, shapes={"x": (3, 4)}).input_shapes == {"x": (3, 4)}  # a batch of 3: still taken


def int8_conv_avgpool_tflite(hw: int = 8, cout: int = 16) -> bytes:
    """Full-int8 CONV_2D 3->cout 3x3 SAME (+ RELU) on 1xhwxhwx3 -> AVERAGE_POOL_2D hwxhw VALID -> 1x1x1xcout: a
    classifier's pooled features, as the TFLite converter writes them (the pool keeps its input's scale and zero
    point)."""
    import tflite_builder

    rng = np.random.default_rng(7)
    t = [dict(name="x", shape=[1, hw, hw, 3], dtype="int8", scale=0.05, zp=0),
         dict(name="w", shape=[cout, 3, 3, 3], dtype="int8", data=rng.integers(-100, 100, (cout, 3, 3, 3)).astype(np.int8),
              scale=[0.01] * cout, zp=[0] * cout),
         dict(name="b", shape=[cout], dtype="int32", data=np.zeros(cout, np.int32), scale=[0.0005] * cout, zp=[0] * cout),
         dict(name="c", shape=[1, hw, hw, cout], dtype="int8", scale=0.1, zp=-128),
         dict(name="p", shape=[1, 1, 1, cout], dtype="int8", scale=0.1, zp=-128)]
    ops = [dict(op="CONV_2D", inputs=[0, 1, 2], outputs=[3],
                options=("Conv2DOptions", dict(Padding=0, StrideW=1, StrideH=1, FusedActivationFunction=1))),
           dict(op="AVERAGE_POOL_2D", inputs=[3], outputs=[4],
                options=("Pool2DOptions", dict(Padding=1, StrideW=1, StrideH=1, FilterWidth=hw, FilterHeight=hw)))]
    return tflite_builder.tflite_model(t, ops, [0], [4])


def test_tflite_int8_average_pool_is_an_int8_kernel(tmp_path):
    """TVM imports TFLite's int8 AVERAGE_POOL_2D as ``astype(int32) -> avg_pool2d -> astype(int8)``. Until 2026-12-04
    the two casts were kernels of their own (the widening one reading 1 B and writing 4 B per element) and the int32
    copy was an activation of the int8 memory plan: here 4 * 8*8*16 = 4096 B next to the 1024 B int8 feature map,
    the plan 5,264 B (fused: 4,112 B) where an int8 runtime's is 1,040 B."""
    pytest.importorskip("tflite")
    from hybridperf.analysis.analyze import analyze

    hw, cout = 8, 16
    p = tmp_path / "pool.tflite"
    p.write_bytes(int8_conv_avgpool_tflite(hw, cout))
    a = analyze(p, fused=False)
    (pool,) = _records(a, "relax.nn.avg_pool2d")
    assert pool.precision == "int8"
    assert pool.cost.bytes_read == hw * hw * cout  # int8 (before: int32, 4 B per element)
    assert pool.cost.bytes_written == cout  # int8
    assert pool.cost.flops == hw * hw * cout + cout  # a sum per element, a divide per output (unchanged)
    assert all(r.status is Status.ZERO_COST for r in _records(a, "relax.astype"))
    assert sum(k.cost.bytes_written for k in a.kernels) == hw * hw * cout + cout  # the int8 conv and pool outputs
    # the plan: the int8 feature map and the int8 pooled result, no int32 copy
    assert a.memory.execution == "int8"
    assert a.memory.planned_bytes == hw * hw * cout + cout
    fused = analyze(p)  # conv + requantize + clip + widening cast in one kernel, pool + narrowing cast in another
    assert fused.memory.planned_bytes == hw * hw * cout + cout  # before: 4 * hw * hw * cout + cout
    assert [(k.cost.bytes_read, k.cost.bytes_written) for k in fused.kernels if k.status is Status.COUNTED] == [
        (hw * hw * 3 + cout * 27 + 4 * cout + 4 * cout, hw * hw * cout),  # int8 x, w; int32 bias, its float32 scales
        (hw * hw * cout, cout)]


# ------------------------------------------------- onnxruntime quantize_static ----


@pytest.fixture(scope="module")
def quantized_resnet(tmp_path_factory):
    """``examples/resnet_like.onnx`` (batch bound to 1) and onnxruntime's ``quantize_static`` of it in QDQ and in
    QOperator format, per-channel int8 weights, uint8 activations."""
    pytest.importorskip("onnxruntime")
    from pathlib import Path

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.it = iter([{"x": rng.standard_normal((1, 3, 32, 32)).astype(np.float32)} for _ in range(2)])

        def get_next(self):
            return next(self.it, None)

    d = tmp_path_factory.mktemp("ortq")
    m = onnx.load(str(Path(__file__).resolve().parent.parent / "examples" / "resnet_like.onnx"))
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(m, str(d / "b1.onnx"))
    fp32 = d / "fp32.onnx"  # onnxruntime's recommended pre-processing: BatchNormalization folded into the convs
    quant_pre_process(str(d / "b1.onnx"), str(fp32), skip_symbolic_shape=True)
    out = {"fp32": fp32}
    for fmt in ("QDQ", "QOperator"):
        out[fmt] = d / f"{fmt}.onnx"
        quantize_static(str(fp32), str(out[fmt]), Reader(), quant_format=getattr(QuantFormat, fmt), per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return out


def test_quantize_static_resnet_qdq_and_qoperator_priced_alike(quantized_resnet):
    """The persona's own workflow: both formats of one quantization are one int8 execution. Until 2026-12-04 the
    QOperator file exited 2 (its QGemm) and the QDQ file's Gemm head ran at fp32 with a float32 weight."""
    from hybridperf.analysis.analyze import analyze

    fp32 = analyze(quantized_resnet["fp32"], fused=False)
    qdq = analyze(quantized_resnet["QDQ"], fused=False)
    qop = analyze(quantized_resnet["QOperator"], fused=False)
    anchors = ("relax.nn.conv2d", "relax.matmul")
    for a in (qdq, qop):
        got = [r for r in a.analysis.records if r.op in anchors]
        assert len(got) == 7 and {r.precision for r in got} == {"int8"}  # 6 convs + the Gemm head
        # 2 x MAC of each layer as the float model counts it, plus the bias add folded into it (1 per output)
        want = sorted(r.cost.flops + int(np.prod(r.outputs[0].shape)) for r in fp32.analysis.records if r.op in anchors)
        assert sorted(r.cost.flops for r in got) == want
        assert a.memory.execution == "int8"
    assert qdq.analysis.flops == qop.analysis.flops
    assert qdq.memory.planned_bytes == qop.memory.planned_bytes
    # QDQ: the model's weights as stored (int8 weights, int32 biases, float32 scales, zero points)
    stored = sum(numpy_helper.to_array(t).nbytes for t in onnx.load(str(quantized_resnet["QDQ"])).graph.initializer)
    assert qdq.analysis.weight_bytes == stored
