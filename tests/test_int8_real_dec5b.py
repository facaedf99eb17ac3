"""Int8 models made by onnxruntime's own quantization tools (helper a8, 2026-12-05).

Each model is a tiny float32 graph built here and quantized with ``onnxruntime.quantization`` (``quantize_dynamic``,
``quantize_static`` QDQ and QOperator), as a user brings ResNet-18 or BERT quantized by onnxruntime.

Golden values are arithmetic: int8 1 B per element, float32 / int32 4 B.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

pytest.importorskip("onnxruntime.quantization")

from hybridperf.costs import Status  # noqa: E402

CIN, COUT, HW = 8, 16, 16  # conv 8 -> 16, 3x3, on 1x8x16x16
K, N = 64, 96  # matmul [4, 64] x [64, 96]


def _float_conv(path):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(0, 0.1, (COUT, CIN, 3, 3)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.normal(0, 0.1, COUT).astype(np.float32), "B")
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])]
    g = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, CIN, HW, HW])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, COUT, HW, HW])], [w, b])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _float_matmul(path):
    w = numpy_helper.from_array(np.random.default_rng(1).normal(0, 0.1, (K, N)).astype(np.float32), "W")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "mm",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, K])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, N])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _dynamic(src, dst):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
    return dst


def _static(src, dst, fmt, activation="QUInt8"):
    """``quantize_static`` of the one-input float model ``src`` into ``dst`` (``fmt`` QDQ / QOperator, weights int8,
    activations ``activation``), calibrated on two random inputs of the model's own input shape."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    (inp,) = onnx.load(str(src)).graph.input
    name, shape = inp.name, [d.dim_value for d in inp.type.tensor_type.shape.dim]

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(2)
            self.it = iter([{name: rng.normal(0, 1, shape).astype(np.float32)} for _ in range(2)])

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=getattr(QuantFormat, fmt),
                    activation_type=getattr(QuantType, activation), weight_type=QuantType.QInt8)
    return dst


def test_quantize_dynamic_conv_says_onnxruntime_runs_its_convinteger_kernel(tmp_path):
    import hybridperf

    q = _dynamic(_float_conv(tmp_path / "f.onnx"), tmp_path / "dyn.onnx")
    assert "ConvInteger" in [n.op_type for n in onnx.load(q).graph.node]
    a = hybridperf.analyze(str(q))
    # until 2026-12-05b: a quantize_dynamic Conv (ConvInteger) was priced as an int8 convolution with nothing to
    # say that onnxruntime runs it on its ConvInteger kernel: ResNet-18 measured 310 ms (float 33 ms), predicted 53 ms
    (note,) = [n for n in a.load_notes if "ConvInteger" in n]
    assert note.startswith("1 ConvInteger node (quantize_dynamic of a Conv) priced as int8 convolutions")
    assert "quantize_static" in note
    pred = hybridperf.predict(a, "host-epyc-1c")
    assert note in pred.warnings
    (conv,) = [r for r in a.analysis.records if r.op == "relax.nn.conv2d"]
    assert conv.precision == "int8"
    assert conv.cost.flops == 2 * COUT * HW * HW * CIN * 3 * 3  # FLOP = 2 x MAC, as the float conv


def test_quantize_dynamic_matmul_has_no_convinteger_note(tmp_path):
    import hybridperf

    q = _dynamic(_float_matmul(tmp_path / "f.onnx"), tmp_path / "dyn.onnx")
    a = hybridperf.analyze(str(q))
    assert not [n for n in a.load_notes if "ConvInteger" in n]  # MatMulInteger runs at its priced rate


@pytest.mark.parametrize("fmt", ["QDQ", "QOperator"])
def test_quantize_static_conv_is_all_int8_with_quarter_weights(tmp_path, fmt):
    import hybridperf

    f = _float_conv(tmp_path / "f.onnx")
    q = _static(f, tmp_path / f"{fmt}.onnx", fmt)
    fa, qa = hybridperf.analyze(str(f)), hybridperf.analyze(str(q))
    assert {r.status for r in qa.analysis.records} <= {Status.COUNTED, Status.ZERO_COST}
    live = [k for k in qa.kernels if k.counts_toward_time]
    assert live and {k.precision for k in live} == {"int8"}
    assert fa.analysis.weight_bytes == 4 * COUT * CIN * 9 + 4 * COUT
    # int8 weight, int32 bias (QDQ) or its float32 copy (QOperator), plus the scales and zero points
    assert COUT * CIN * 9 + 4 * COUT <= qa.analysis.weight_bytes <= COUT * CIN * 9 + 4 * COUT + 64
    out = COUT * HW * HW
    # the float conv + bias (its ReLU is the quantize's clamp), plus the graph input's quantize and output's dequantize
    assert fa.analysis.flops == 2 * out * CIN * 9 + out + out
    assert qa.analysis.flops == 2 * out * CIN * 9 + out + 5 * CIN * HW * HW + 2 * out


def test_below_scale_note_counts_the_uncalibrated_kernels():
    from hybridperf.residual.model import ResidualModel

    m = ResidualModel.__new__(ResidualModel)  # _below_scale reads only an adaptation, absent here
    # until 2026-12-05b: a quantized DistilBERT on host-epyc-1c (454 ms, its int8 kernels of untrained families at
    # roofline, 62.2 us calibrated) read "the model's fitted constant overhead (100 us) is most of this figure"
    assert m._below_scale(0.454, 62.2e-6, 100e-6) == ""
    why = m._below_scale(100e-6 + 5e-6 + 3e-6, 5e-6, 100e-6)  # overhead + calibrated + uncalibrated kernels
    assert why.startswith("the model's fitted constant overhead (100 us) is most of this figure (its kernels 8.0 us)")
