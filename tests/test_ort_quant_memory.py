"""Output sizes of onnxruntime's quantized kernels (QUANT_OUTPUT_RULES) in the onnxruntime memory model.

The graph onnxruntime runs for a QDQ / QOperator / dynamically quantized model holds com.microsoft ops
(QLinearConv with channels_last, QLinearSoftmax, QLinearAdd, DynamicQuantizeMatMul) that ONNX's shape
inference does not know; they are sized from their semantics, and checked here against onnxruntime's own
output shapes.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hybridperf.estimate.runtime_memory import (  # noqa: E402
    QUANT_OUTPUT_RULES,
    ort_activation_plan,
    ort_features,
    ort_tensor_shapes,
    quant_output_sizes,
)

U8, I8, I32, F32 = TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32, TensorProto.FLOAT

# input positions of the zero points / scales in the rules' signatures
QLINEAR_CONV_DTYPES = [U8, F32, U8, I8, F32, I8, F32, U8, I32]  # x, x_s, x_zp, w, w_s, w_zp, y_s, y_zp, B


def _conv_ins(x, w):
    return [x, [], [], w, [], [], [], [], [w[0]]]


# --------------------------------------------------------------------------- rules, one per op family


def test_qlinearconv_nchw_and_channels_last():
    # NCHW: (16 + 1 + 1 - 3) // 2 + 1 = 8
    assert quant_output_sizes("QLinearConv", _conv_ins([1, 8, 16, 16], [16, 8, 3, 3]), QLINEAR_CONV_DTYPES,
                              {"strides": [2, 2], "pads": [1, 1, 1, 1]}) == [([1, 16, 8, 8], U8)]
    # com.microsoft channels_last: x is (N, H, W, C), y is (N, H', W', M)
    assert quant_output_sizes("QLinearConv", _conv_ins([1, 16, 16, 3], [8, 3, 3, 3]), QLINEAR_CONV_DTYPES,
                              {"pads": [1, 1, 1, 1], "channels_last": 1}) == [([1, 16, 16, 8], U8)]
    # SAME_UPPER: ceil(15 / 2) = 8; dilation 2 with VALID: (15 - ((3 - 1) * 2 + 1)) // 1 + 1 = 11
    assert quant_output_sizes("QLinearConv", _conv_ins([2, 4, 15, 15], [6, 4, 3, 3]), QLINEAR_CONV_DTYPES,
                              {"strides": [2, 2], "auto_pad": b"SAME_UPPER"})[0][0] == [2, 6, 8, 8]
    assert quant_output_sizes("QLinearConv", _conv_ins([2, 4, 15, 15], [6, 4, 3, 3]), QLINEAR_CONV_DTYPES,
                              {"dilations": [2, 2], "auto_pad": "VALID"})[0][0] == [2, 6, 11, 11]
    # int8 activations: the output takes y_zero_point's type
    s8 = list(QLINEAR_CONV_DTYPES)
    s8[7] = I8
    assert quant_output_sizes("QLinearConv", _conv_ins([1, 8, 4, 4], [8, 8, 1, 1]), s8, {})[0][1] == I8


def test_matmul_family_broadcasts_and_types():
    qmm = [U8, F32, U8, I8, F32, I8, F32, U8]
    assert quant_output_sizes("QLinearMatMul", [[3, 1, 5, 7], [], [], [4, 7, 2], [], [], [], []], qmm, {}) == \
        [([3, 4, 5, 2], U8)]
    assert quant_output_sizes("MatMulInteger", [[5, 7], [7]], [U8, I8], {}) == [([5], I32)]  # 1-D b: axis dropped
    assert quant_output_sizes("MatMulInteger", [[7], [7, 3]], [U8, I8], {}) == [([3], I32)]
    assert quant_output_sizes("DynamicQuantizeMatMul", [[1, 1024], [1024, 10], [], []], [F32, I8, F32, I8], {}) == \
        [([1, 10], F32)]
    # QGemm without y_zero_point: float output
    assert quant_output_sizes("QGemm", [[10, 4], [], [], [6, 4], [], [], [6], []], [U8, F32, U8, I8, F32, I8, I32, F32],
                              {"transB": 1}) == [([10, 6], F32)]


def test_elementwise_pool_concat_dynamic():
    add = [U8, F32, U8, U8, F32, U8, F32, I8]
    assert quant_output_sizes("QLinearAdd", [[2, 1, 4], [], [], [3, 1], [], [], [], []], add, {}) == [([2, 3, 4], I8)]
    for op in ("QLinearSoftmax", "QLinearSigmoid", "QLinearLeakyRelu"):
        assert quant_output_sizes(op, [[1, 10], [], [], [], []], [U8, F32, U8, F32, U8], {}) == [([1, 10], U8)]
    pool = [U8, F32, U8, F32, U8]
    assert quant_output_sizes("QLinearGlobalAveragePool", [[1, 7, 7, 32], [], [], [], []], pool,
                              {"channels_last": 1}) == [([1, 1, 1, 32], U8)]
    assert quant_output_sizes("QLinearGlobalAveragePool", [[1, 32, 7, 7], [], [], [], []], pool, {}) == \
        [([1, 32, 1, 1], U8)]
    # (7 - 3) // 2 + 1 = 3; ceil_mode: ceil((7 + 1 - 3) / 2) + 1 = 4
    assert quant_output_sizes("QLinearAveragePool", [[1, 32, 7, 7], [], [], [], []], pool,
                              {"kernel_shape": [3, 3], "strides": [2, 2]})[0][0] == [1, 32, 3, 3]
    assert quant_output_sizes("QLinearAveragePool", [[1, 32, 7, 7], [], [], [], []], pool,
                              {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 0, 1, 1], "ceil_mode": 1}
                              )[0][0] == [1, 32, 4, 4]
    cat = [F32, U8, U8, F32, U8, U8, F32, U8]
    assert quant_output_sizes("QLinearConcat", [[], [], [1, 8, 4, 4], [], [], [1, 24, 4, 4], [], []], cat,
                              {"axis": 1}) == [([1, 8 + 24, 4, 4], U8)]
    assert quant_output_sizes("DynamicQuantizeLinear", [[2, 3]], [F32], {}) == [([2, 3], U8), ([], F32), ([], U8)]
    assert quant_output_sizes("ConvInteger", [[1, 3, 8, 8], [4, 3, 3, 3]], [U8, I8], {}) == [([1, 4, 6, 6], I32)]


def test_unlisted_op_or_unknown_input_stays_unsized():
    assert "QLinearReduceMean" not in QUANT_OUTPUT_RULES
    assert quant_output_sizes("QLinearReduceMean", [[1, 4]], [U8], {}) is None
    assert quant_output_sizes("QLinearAdd", [[1, 4], [], [], None, [], [], [], []], [U8] * 8, {}) is None


def test_contrib_graph_is_sized_without_guesses():
    """A graph as onnxruntime's optimiser leaves a QDQ model (channels-last QLinearConv, QLinearSoftmax):
    every tensor sized, nothing unknown, bytes = elements x element size."""
    inits = [numpy_helper.from_array(np.array(0.1, np.float32), "s"), numpy_helper.from_array(np.array(128, np.uint8), "z"),
             numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.int8), "w"),
             numpy_helper.from_array(np.array(0, np.int8), "wz"), numpy_helper.from_array(np.zeros(8, np.int32), "b"),
             numpy_helper.from_array(np.zeros((2048, 10), np.uint8), "w2"), numpy_helper.from_array(np.array([0, -1], np.int64), "sh")]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
        helper.make_node("Transpose", ["xq"], ["xt"], perm=[0, 2, 3, 1]),
        helper.make_node("QLinearConv", ["xt", "s", "z", "w", "s", "wz", "s", "z", "b"], ["c"], domain="com.microsoft",
                         pads=[1, 1, 1, 1], channels_last=1),
        helper.make_node("Reshape", ["c", "sh"], ["f"]),
        helper.make_node("QLinearMatMul", ["f", "s", "z", "w2", "s", "z", "s", "z"], ["m"]),
        helper.make_node("QLinearSoftmax", ["m", "s", "z", "s", "z"], ["p"], domain="com.microsoft", axis=1, opset=13),
        helper.make_node("DequantizeLinear", ["p", "s", "z"], ["y"]),
    ]
    g = helper.make_graph(nodes, "q", [helper.make_tensor_value_info("x", F32, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", F32, [1, 10])], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    tensors, unknown = ort_tensor_shapes(model)
    assert unknown == ()
    assert tensors["c"] == ((1, 16, 16, 8), 16 * 16 * 8)  # uint8: bytes == elements
    assert tensors["f"] == ((1, 2048), 16 * 16 * 8)
    assert tensors["m"] == ((1, 10), 10)
    assert tensors["p"] == ((1, 10), 10)
    assert tensors["y"] == ((1, 10), 10 * 4)  # DequantizeLinear (ONNX inference downstream of the rules): float32


# --------------------------------------------------------------------------- against onnxruntime itself


class _Reader:
    def __init__(self):
        rng = np.random.default_rng(0)
        self.feeds = iter([{"x": rng.random((1, 3, 16, 16), dtype=np.float32)} for _ in range(2)])

    def get_next(self):
        return next(self.feeds, None)


def _float_model(path):
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n) for n, s in
             (("w1", (8, 3, 3, 3)), ("b1", (8,)), ("w2", (16, 8, 3, 3)), ("b2", (16,)), ("w3", (1024, 10)), ("b3", (10,)))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("Flatten", ["r2"], ["f"]),
             helper.make_node("MatMul", ["f", "w3"], ["mm"]),
             helper.make_node("Add", ["mm", "b3"], ["g"]),
             helper.make_node("Softmax", ["g"], ["y"], axis=1)]
    g = helper.make_graph(nodes, "f", [helper.make_tensor_value_info("x", F32, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", F32, [1, 10])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_qdq_model_matches_onnxruntime_output_shapes(tmp_path):
    """quantize_static (QDQ, int8) on a tiny conv+matmul model; onnxruntime's optimised graph run with every node
    output exposed: each tensor's measured shape and bytes equal the prediction, and nothing is an estimate."""
    ort = pytest.importorskip("onnxruntime")
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    fp, qp, opt_path = (str(tmp_path / n) for n in ("f.onnx", "q.onnx", "opt.onnx"))
    _float_model(fp)
    quantize_static(fp, qp, _Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8)
    so = ort.SessionOptions()
    so.optimized_model_filepath, so.intra_op_num_threads, so.log_severity_level = opt_path, 1, 3
    ort.InferenceSession(qp, so, providers=["CPUExecutionProvider"])
    opt = onnx.load(opt_path)
    ops = {f"{n.domain}.{n.op_type}" for n in opt.graph.node}
    assert {"com.microsoft.QLinearConv", ".QLinearMatMul", "com.microsoft.QLinearSoftmax"} <= ops, ops
    tensors, unknown = ort_tensor_shapes(opt)
    assert unknown == ()

    exposed = onnx.ModelProto()
    exposed.CopyFrom(opt)
    outs = {o.name for o in exposed.graph.output}
    for n in exposed.graph.node:
        exposed.graph.output.extend(onnx.ValueInfoProto(name=o) for o in n.output if o and o not in outs)
    so2 = ort.SessionOptions()
    so2.graph_optimization_level, so2.log_severity_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL, 3
    sess = ort.InferenceSession(exposed.SerializeToString(), so2, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": np.zeros((1, 3, 16, 16), np.float32)})
    measured = {o.name: (tuple(v.shape), v.nbytes) for o, v in zip(sess.get_outputs(), got)}
    assert measured == {k: tensors[k] for k in measured}

    # int8 activations (onnxruntime converts them to uint8): quantized input 3*16*16 at offset 0, its channels-last
    # copy 3*16*16 after it; the first conv's 8*16*16 output does not fit the freed first block, so it goes on top
    assert ort_activation_plan(opt, tensors).pattern_bytes == 3 * 16 * 16 + 3 * 16 * 16 + 8 * 16 * 16
    feat = ort_features(qp)
    assert feat.unknown_ops == () and feat.optimised
    assert feat.activations.output_bytes == 10 * 4  # y: float32 [1, 10]
    os.remove(opt_path)
