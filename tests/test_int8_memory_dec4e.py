"""The scratch of onnxruntime's quantized kernels in the onnxruntime peak memory model.

Until 2026-12-04 the onnxruntime model counted a run's activations (memory pattern, graph outputs) but not the buffers
a quantized kernel allocates from the session's allocator while it runs: ``QLinearConv``'s int32 accumulator and
im2col buffer (or, on MLAS's symmetric path, its indirection buffer), ``QLinearMatMul``'s / ``QGemm``'s int32 product.
With the arena off each is a malloc of its own, so resident-set growth (what ``hybridperf measure`` records) sees it:
an int8 ResNet-18 (QOperator or QDQ, whose graph onnxruntime fuses to the same QLinearConv) measured 27.7-28.0 MiB
against 23.6 MiB predicted (16 % low), the first convolution alone holding 4.8 MiB of scratch.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hybridperf.estimate.runtime_memory import (  # noqa: E402
    malloc_resident_bytes as _pages,
    onnxruntime_peak,
    ort_features,
    ort_kernel_scratch_bytes,
)

AVX512 = ("avx2", "avx512f")


def _qconv(x_shape, w_shape, y_shape, *, channels_last=1, group=1, strides=(1, 1), pads=(0, 0, 0, 0),
           w_type=TensorProto.INT8, w_zp=0, x_type=TensorProto.UINT8):
    """A QLinearConv node as onnxruntime's optimiser leaves it, its tensors and its constants."""
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"],
                            domain="com.microsoft" if channels_last else "", group=group, strides=list(strides),
                            pads=list(pads), **({"channels_last": 1} if channels_last else {}))
    w_np = np.zeros(w_shape, np.int8 if w_type == TensorProto.INT8 else np.uint8)
    consts = {"w": numpy_helper.from_array(w_np, "w"),
              "xz": helper.make_tensor("xz", x_type, [], [0]),
              "wz": helper.make_tensor("wz", w_type, [], [w_zp])}
    tensors = {"x": (tuple(x_shape), int(np.prod(x_shape))), "w": (tuple(w_shape), int(np.prod(w_shape))),
               "y": (tuple(y_shape), int(np.prod(y_shape)))}
    return node, tensors, consts


# --------------------------------------------------------------------------- one kernel, golden arithmetic


def test_qlinearconv_generic_path_int32_accumulator_and_im2col():
    # 3 input channels (not a multiple of 4): not MLAS's symmetric path. ResNet-18's stem, NHWC:
    # int32 accumulator 4 * 64 * 112*112 + im2col (3 * 7*7) * 112*112 bytes
    node, tensors, consts = _qconv((1, 224, 224, 3), (64, 3, 7, 7), (1, 112, 112, 64), strides=(2, 2),
                                   pads=(3, 3, 3, 3))
    assert ort_kernel_scratch_bytes(node, tensors, consts, AVX512) == \
        _pages(4 * 64 * 112 * 112) + _pages(3 * 7 * 7 * 112 * 112)
    # without AVX2 there is no symmetric kernel either: the same buffers
    assert ort_kernel_scratch_bytes(node, tensors, consts, ()) == _pages(4 * 64 * 112 * 112) + _pages(147 * 112 * 112)


def test_qlinearconv_symmetric_path_indirection_only():
    # 64 -> 64, 3x3, int8 weights with zero point 0: requantization fused, one pointer per tap and output pixel
    node, tensors, consts = _qconv((1, 56, 56, 64), (64, 64, 3, 3), (1, 56, 56, 64), pads=(1, 1, 1, 1))
    assert ort_kernel_scratch_bytes(node, tensors, consts, AVX512) == _pages(8 * 3 * 3 * 56 * 56)
    # pointwise, unit strides, no padding: reads its input in place, no scratch
    node, tensors, consts = _qconv((1, 56, 56, 64), (16, 64, 1, 1), (1, 56, 56, 16))
    assert ort_kernel_scratch_bytes(node, tensors, consts, AVX512) == 0
    # a weight zero point of 1 leaves the symmetric path: int32 accumulator 4 * 64 * 56*56 + im2col 64*9 * 56*56
    node, tensors, consts = _qconv((1, 56, 56, 64), (64, 64, 3, 3), (1, 56, 56, 64), pads=(1, 1, 1, 1), w_zp=1)
    assert ort_kernel_scratch_bytes(node, tensors, consts, AVX512) == _pages(4 * 64 * 3136) + _pages(576 * 3136)
    # 20 output channels: a multiple of AVX-512's alignment 4, not of AVX2's 8
    node, tensors, consts = _qconv((1, 8, 8, 64), (20, 64, 3, 3), (1, 8, 8, 20), pads=(1, 1, 1, 1))
    assert ort_kernel_scratch_bytes(node, tensors, consts, AVX512) == 8 * 9 * 64
    assert ort_kernel_scratch_bytes(node, tensors, consts, ("avx2",)) == 4 * 20 * 64 + 64 * 9 * 64


def test_qlinearconv_depthwise_and_nchw():
    # depthwise, 32 groups (a multiple of 16): symmetric, indirection 8 * 9 * 56*56
    node, tensors, consts = _qconv((1, 56, 56, 32), (32, 1, 3, 3), (1, 56, 56, 32), group=32, pads=(1, 1, 1, 1))
    assert ort_kernel_scratch_bytes(node, tensors, consts, AVX512) == _pages(8 * 9 * 3136)
    # 24 groups: not symmetric, int32 accumulator + indirection
    node, tensors, consts = _qconv((1, 56, 56, 24), (24, 1, 3, 3), (1, 56, 56, 24), group=24, pads=(1, 1, 1, 1))
    assert ort_kernel_scratch_bytes(node, tensors, consts, AVX512) == _pages(4 * 24 * 3136) + _pages(8 * 9 * 3136)
    # ONNX-domain QLinearConv (NCHW): the input and output are transposed through copies too
    node, tensors, consts = _qconv((1, 64, 56, 56), (64, 64, 3, 3), (1, 64, 56, 56), channels_last=0,
                                   pads=(1, 1, 1, 1))
    assert ort_kernel_scratch_bytes(node, tensors, consts, AVX512) == \
        _pages(64 * 3136) + _pages(64 * 3136) + _pages(8 * 9 * 3136)


def test_qlinearmatmul_and_float_ops():
    node = helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])
    tensors = {"a": ((1, 128, 256), 128 * 256), "b": ((256, 512), 256 * 512), "y": ((1, 128, 512), 128 * 512)}
    assert ort_kernel_scratch_bytes(node, tensors, {}, AVX512) == _pages(4 * 128 * 512)  # int32 product
    # float kernels: none modelled (their scratch lies in the fitted overheads), so fp32 figures stay as fitted
    conv = helper.make_node("Conv", ["x", "w"], ["y"])
    assert ort_kernel_scratch_bytes(conv, {"x": ((1, 3, 8, 8), 768), "y": ((1, 4, 8, 8), 1024)}, {}, AVX512) is None


# --------------------------------------------------------------------------- the whole peak, onnxruntime's graph


def _float_model() -> onnx.ModelProto:
    """A 3 -> 16 7x7/2 stem and a 16 -> 16 3x3 conv on 1x3x64x64 (seeded weights)."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((16, 3, 7, 7)).astype(np.float32) * 0.1, "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((16, 16, 3, 3)).astype(np.float32) * 0.1, "w2")
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w1"], ["c1"], strides=[2, 2], pads=[3, 3, 3, 3]),
         helper.make_node("Relu", ["c1"], ["r1"]),
         helper.make_node("Conv", ["r1", "w2"], ["y"], pads=[1, 1, 1, 1])],
        "stem", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 32, 32])], [w1, w2])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_qoperator_peak_counts_the_stem_scratch(tmp_path):
    pytest.importorskip("onnxruntime")
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    src, dst = tmp_path / "f.onnx", tmp_path / "q.onnx"
    onnx.save(_float_model(), src)

    class One(CalibrationDataReader):
        def __init__(self):
            self.left = [{"x": np.random.default_rng(1).random((1, 3, 64, 64), dtype=np.float32)}]

        def get_next(self):
            return self.left.pop() if self.left else None

    quantize_static(str(src), str(dst), One(), quant_format=QuantFormat.QOperator,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    feat = ort_features(dst, AVX512)
    act = feat.activations
    # the stem (3 input channels): int32 accumulator 4 * 16 * 32*32 + im2col 3*7*7 * 32*32; the 16 -> 16 conv is
    # symmetric: indirection 8 * 9 * 32*32, less
    stem = _pages(4 * 16 * 32 * 32) + _pages(3 * 7 * 7 * 32 * 32)
    assert act.scratch_bytes == stem
    assert act.scratch_peak_bytes > max(act.pattern_bytes, act.live_peak_bytes)
    peak = onnxruntime_peak(feat)
    added = peak.part("kernel_scratch")
    assert 0 < added <= stem
    assert added == act.scratch_peak_bytes - max(act.pattern_bytes, act.live_peak_bytes)
    assert "scratch" in peak.includes
    # the float model has no quantized kernel: no such part, the figure as fitted
    fp = onnxruntime_peak(ort_features(src, AVX512))
    assert "kernel_scratch" not in dict(fp.parts) and "scratch" not in fp.includes
