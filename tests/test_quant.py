"""Int8 QDQ detection (hybridperf.analysis.int8) on tiny hand-built models.

Golden numbers: a QDQ Conv 3->8, 3x3, pad 1 on a 1x3x8x8 input.
* FLOPs 2 * N*Cout*H*W * Cin*kh*kw = 2*1*8*8*8*3*3*3 = 27648
* int8 reads: activation 1*3*8*8 = 192 B + weight 8*3*3*3 = 216 B
* int8 write: 1*8*8*8 = 512 B (float32 would be 4x each)
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridperf.analysis.int8 import FOLDED, apply_int8, apply_int8_kernels, find_int8
from hybridperf.costs import Status
from hybridperf.errors import UnsupportedModelError
from hybridperf.frontends.qoperator import check_qoperator

CONV_FLOPS = 2 * 1 * 8 * 8 * 8 * 3 * 3 * 3
X_INT8 = 1 * 3 * 8 * 8
W_INT8 = 8 * 3 * 3 * 3
Y_INT8 = 1 * 8 * 8 * 8


def _s(name: str, v: float) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(v, np.float32), name)


def _z(name: str) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(0, np.int8), name)


def _model(nodes, name, inputs, outputs, inits) -> onnx.ModelProto:
    """A one-graph model at opset 17, IR version 8 (``helper.make_graph``'s arguments)."""
    m = helper.make_model(helper.make_graph(nodes, name, inputs, outputs, inits), opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def qdq_conv_model(relu: bool = True) -> onnx.ModelProto:
    """x -> Q -> DQ -> Conv(DQ(int8 W), bias) [-> Relu] -> Q -> DQ -> y."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.integers(-127, 127, (8, 3, 3, 3)).astype(np.int8), "w_q")
    inits = [w, _s("sx", 0.02), _z("zx"), _s("sw", 0.01), _z("zw"), _s("sy", 0.05), _z("zy")]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w_q", "sw", "zw"], ["wd"]),
        helper.make_node("Conv", ["xd", "wd"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
    ]
    last = "c"
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["r"]))
        last = "r"
    nodes += [
        helper.make_node("QuantizeLinear", [last, "sy", "zy"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"]),
    ]
    return _model(
        nodes,
        "qdq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])],
        inits,
    )


def weight_only_matmul_model() -> onnx.ModelProto:
    """float x @ DQ(int8 W): weight-only quantization."""
    w = numpy_helper.from_array(np.ones((16, 4), np.int8), "w_q")
    nodes = [
        helper.make_node("DequantizeLinear", ["w_q", "sw", "zw"], ["wd"]),
        helper.make_node("MatMul", ["x", "wd"], ["y"]),
    ]
    return _model(
        nodes,
        "wo",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [w, _s("sw", 0.1), _z("zw")],
    )


@pytest.fixture(scope="module")
def qdq_analyzed(tmp_path_factory):
    from hybridperf.analysis.analyze import analyze

    p = tmp_path_factory.mktemp("q") / "qdq_conv.onnx"
    onnx.save(qdq_conv_model(), str(p))
    return analyze(p, int8=False)


def _by_op(analysis, op):
    return [r for r in analysis.records if r.op == op]


def test_qdq_conv_becomes_int8(qdq_analyzed):
    before = qdq_analyzed.analysis
    after = apply_int8(before)
    conv_before = _by_op(before, "relax.nn.conv2d")[0]
    assert conv_before.precision == "fp32"
    conv = _by_op(after, "relax.nn.conv2d")[0]
    assert conv.precision == "int8"
    assert conv.cost.bytes_read == X_INT8 + W_INT8  # 192 + 216
    assert conv.cost.bytes_written == Y_INT8  # int8 output through the requantize epilogue
    relu = _by_op(after, "relax.nn.relu")[0]
    assert relu.status is Status.ZERO_COST and FOLDED in relu.note
    assert conv.cost.flops == CONV_FLOPS + Y_INT8  # conv + the ReLU epilogue (1 FLOP/elem)
    assert conv.cost.weight_bytes == W_INT8
    assert after.weight_bytes == before.weight_bytes  # constants were already counted as stored (int8)


def test_qdq_folds_inner_dequantize_and_quantize(qdq_analyzed):
    after = apply_int8(qdq_analyzed.analysis)
    deq = _by_op(after, "relax.dequantize")
    q = _by_op(after, "relax.quantize")
    # x's dequantize and the weight's are folded; the output dequantize leaves the model and stays
    assert [r.status for r in deq] == [Status.ZERO_COST, Status.ZERO_COST, Status.COUNTED]
    assert all(r.note.startswith(FOLDED) for r in deq[:2])
    # the input quantize is real work (float input); the conv's requantize is folded
    assert [r.status for r in q] == [Status.COUNTED, Status.ZERO_COST]
    assert q[1].note.startswith(FOLDED)


def test_apply_int8_without_pattern_is_identity(model_dir):
    from hybridperf.analysis.analyze import analyze

    a = analyze(model_dir / "resnet_like.onnx", batch=1).analysis
    assert not find_int8(a)
    assert apply_int8(a) is a


def test_int8_kernels_and_roofline(qdq_analyzed):
    from hybridperf.api import predict_on

    kernels = apply_int8_kernels(qdq_analyzed.kernels, qdq_analyzed.analysis)
    assert len(kernels) == len(qdq_analyzed.kernels)
    conv_k = [k for k in kernels if any(qdq_analyzed.analysis.records[i].op == "relax.nn.conv2d" for i in k.op_indices)]
    assert len(conv_k) == 1
    k = conv_k[0]
    assert k.precision == "int8"
    assert k.cost.bytes_read == X_INT8 + W_INT8
    # FuseOps pulled the model's output dequantize into this kernel, so it writes float32 y
    assert k.cost.bytes_written == 4 * Y_INT8
    assert k.cost.flops == CONV_FLOPS + Y_INT8 + 2 * Y_INT8  # conv + ReLU epilogue + output dequantize (2/elem)
    # kernels made only of folded ops do not count toward time
    assert all(not kk.counts_toward_time for kk in kernels if all(
        qdq_analyzed.analysis.records[i].op == "relax.dequantize" for i in kk.op_indices) and kk is not kernels[-1])
    import dataclasses

    int8 = dataclasses.replace(qdq_analyzed, analysis=apply_int8(qdq_analyzed.analysis), kernels=kernels)
    pred = predict_on(int8, "a100-sxm-40gb", residual=None)
    kp = next(p for p in pred.kernels if p.kernel.index == k.index)
    assert kp.estimate.precision == "int8"
    base = predict_on(qdq_analyzed, "a100-sxm-40gb", residual=None)
    assert pred.latency_s < base.latency_s


def test_weight_only_int8(tmp_path):
    from hybridperf.analysis.analyze import analyze

    p = tmp_path / "wo.onnx"
    onnx.save(weight_only_matmul_model(), str(p))
    a = analyze(p, int8=False).analysis
    plan = find_int8(a)
    kinds = sorted(o.kind for o in plan.ops.values())
    assert kinds == ["folded", "weight-only"]
    mm = _by_op(apply_int8(a), "relax.matmul")[0]
    assert mm.precision == "fp32"  # compute stays float
    assert mm.cost.weight_bytes == 16 * 4  # int8 weight, 1 B/elem
    assert mm.cost.bytes_read == 2 * 16 * 4 + 16 * 4  # float x + int8 W


def test_quantize_static_model(tmp_path):
    pytest.importorskip("onnxruntime")
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from hybridperf.analysis.analyze import analyze

    m = qdq_conv_model()
    # the float model: drop the hand-written Q/DQ
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.1, "w")
    fm = _model(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])],
        "f",
        list(m.graph.input),
        list(m.graph.output),
        [w],
    )
    fp, qp = tmp_path / "f.onnx", tmp_path / "q.onnx"
    onnx.save(fm, str(fp))

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(fp), str(qp), Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    a = analyze(qp, int8=False).analysis
    conv = _by_op(apply_int8(a), "relax.nn.conv2d")[0]
    assert conv.precision == "int8"
    assert conv.cost.bytes_read == X_INT8 + W_INT8
    assert conv.cost.flops >= CONV_FLOPS


def test_tflite_int8_conv(tmp_path):
    pytest.importorskip("tflite")
    from test_frontends_extra import int8_conv_tflite

    from hybridperf.analysis.analyze import analyze

    p = tmp_path / "q.tflite"
    p.write_bytes(int8_conv_tflite())
    a = analyze(p, int8=False).analysis
    after = apply_int8(a)
    conv = _by_op(after, "relax.nn.conv2d")[0]
    assert conv.precision == "int8"
    # int8 input 1*8*8*3 + int8 weight 4*3*3*3 + int32 bias 4*4 (read by the epilogue add)
    assert conv.cost.bytes_read == 192 + 108 + 16
    assert conv.cost.bytes_written == 1 * 8 * 8 * 4  # int8 output
    assert all(r.status is Status.ZERO_COST for r in _by_op(after, "relax.dequantize"))
    assert all(r.status is Status.ZERO_COST for r in _by_op(after, "relax.quantize"))


def test_qoperator_check_names_all_ops_and_the_pipeline_rewrites_them(tmp_path):
    from hybridperf.frontends.onnx_import import load_onnx_proto

    nodes = [
        helper.make_node("QLinearConv", ["x", "sx", "zx", "w", "sw", "zw", "sy", "zy"], ["c"]),
        helper.make_node("QLinearMatMul", ["c", "sy", "zy", "w2", "sw", "zw", "sy", "zy"], ["y"]),
    ]
    inits = [
        _s("sx", 0.1), _z("zx"), _s("sw", 0.1), _z("zw"), _s("sy", 0.1), _z("zy"),
        numpy_helper.from_array(np.ones((4, 3, 1, 1), np.int8), "w"),
        numpy_helper.from_array(np.ones((4, 4), np.int8), "w2"),
    ]
    m = _model(
        nodes, "qop",
        [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [1, 4, 4, 4])],
        inits,
    )
    p = tmp_path / "qop.onnx"
    onnx.save(m, str(p))
    with pytest.raises(UnsupportedModelError) as ei:
        check_qoperator(load_onnx_proto(p), str(p))
    msg = str(ei.value)
    assert "QLinearConv" in msg and "QLinearMatMul" in msg and "QDQ" in msg and "\n" not in msg
    check_qoperator(qdq_conv_model())  # QDQ is fine
    # the CLI rewrites QLinear* ops to QDQ before import, so the same file predicts (exit 0) at int8
    from hybridperf.analysis.analyze import analyze

    records = analyze(p).analysis.records  # loads through load_model's qoperator_to_qdq
    assert records
    assert {r.precision for r in records if r.op == "relax.nn.conv2d"} == {"int8"}


def qoperator_model(seed: int = 0) -> onnx.ModelProto:
    """QLinearConv (per-channel weight scales, int32 bias) -> QLinearMatMul, all int8."""
    rng = np.random.default_rng(seed)
    nodes = [
        helper.make_node("QLinearConv", ["x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "b"], ["c"], name="qconv", pads=[1, 1, 1, 1]),
        helper.make_node("QLinearMatMul", ["c", "sy", "zy", "w2", "sw2", "zw2", "sy", "zy"], ["y"], name="qmm"),
    ]
    inits = [
        _s("sx", 0.1), _z("zx"), _s("sy", 0.2), _z("zy"), _s("sw2", 0.1), _z("zw2"),
        numpy_helper.from_array(np.array([0.05, 0.1, 0.02, 0.08], np.float32), "sw"),
        numpy_helper.from_array(np.zeros(4, np.int8), "zw"),
        numpy_helper.from_array(rng.integers(-20, 20, (4, 3, 3, 3)).astype(np.int8), "w"),
        numpy_helper.from_array(rng.integers(-500, 500, 4).astype(np.int32), "b"),
        numpy_helper.from_array(rng.integers(-20, 20, (8, 5)).astype(np.int8), "w2"),
    ]
    return _model(
        nodes, "qop",
        [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [1, 4, 8, 5])],
        inits,
    )


def test_qlinear_rewrite_computes_the_same_int8_result():
    ort = pytest.importorskip("onnxruntime")
    from hybridperf.frontends.qoperator import qoperator_to_qdq

    m = qoperator_model()
    qdq = qoperator_to_qdq(m)
    onnx.checker.check_model(qdq)
    assert [n.op_type for n in qdq.graph.node] == [
        "DequantizeLinear", "DequantizeLinear", "Conv", "QuantizeLinear",  # the int32 bias dequantized once, stored
        "DequantizeLinear", "DequantizeLinear", "MatMul", "QuantizeLinear",
    ]
    assert [n.op_type for n in m.graph.node] == ["QLinearConv", "QLinearMatMul"]  # the input is not modified
    x = np.random.default_rng(1).integers(-100, 100, (1, 3, 8, 8)).astype(np.int8)
    run = [ort.InferenceSession(p.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0] for p in (m, qdq)]
    assert run[0].dtype == run[1].dtype == np.int8
    diff = np.abs(run[0].astype(int) - run[1].astype(int))
    # ORT requantizes QLinearConv in fixed point, QDQ in float: the conv output may round one step apart,
    # and the matmul after it carries that step through (scale 0.2 * 0.1 * |w2| <= 2 steps)
    assert diff.max() <= 2 and (diff == 0).mean() > 0.8
    assert (run[0] != 0).mean() > 0.5  # not a trivially saturated or zero result
    assert qoperator_to_qdq(qdq_conv_model()) is not None and check_qoperator(qoperator_to_qdq(m)) is None


def test_qlinear_model_priced_as_int8(tmp_path):
    import dataclasses

    from hybridperf.analysis.analyze import analyze
    from hybridperf.api import predict_on
    from hybridperf.frontends.qoperator import qoperator_to_qdq

    p = tmp_path / "q.onnx"
    onnx.save(qoperator_to_qdq(qoperator_model()), str(p))
    a = analyze(p, int8=False)
    assert len(find_int8(a.analysis).by_kind("int8")) == 2  # the conv and the matmul
    after = apply_int8(a.analysis)
    conv = next(r for r in after.records if r.op == "relax.nn.conv2d")
    mm = next(r for r in after.records if r.op == "relax.matmul")
    assert conv.precision == mm.precision == "int8"
    assert conv.cost.flops >= 2 * 4 * 8 * 8 * 3 * 3 * 3  # 2 * Cout*H*W * Cin*kh*kw (+ epilogue)
    assert mm.cost.flops >= 2 * 4 * 8 * 5 * 8  # 2 * (4*8 rows) * 5 cols * K=8
    assert conv.cost.bytes_read >= 3 * 8 * 8 + 4 * 27  # int8 input + int8 weights, 1 byte each
    assert conv.cost.bytes_read < 4 * (3 * 8 * 8 + 4 * 27)  # not priced as float32
    int8 = dataclasses.replace(a, analysis=after, kernels=apply_int8_kernels(a.kernels, a.analysis))
    assert 0 < predict_on(int8, "t4", residual=None).latency_s < predict_on(a, "t4", residual=None).latency_s


def test_pipeline_prices_qdq_as_int8_by_default(tmp_path):
    from hybridperf.analysis.analyze import analyze

    p = tmp_path / "qdq_conv.onnx"
    onnx.save(qdq_conv_model(), str(p))
    default = analyze(p)  # int8=True: the pipeline applies the int8 plan itself
    float_view = analyze(p, int8=False)
    conv = _by_op(default.analysis, "relax.nn.conv2d")[0]
    assert conv.precision == "int8"
    assert _by_op(float_view.analysis, "relax.nn.conv2d")[0].precision != "int8"
    assert conv.cost == _by_op(apply_int8(float_view.analysis), "relax.nn.conv2d")[0].cost
