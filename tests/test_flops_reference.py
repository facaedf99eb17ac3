"""FLOPs of the op families PyTorch's FlopCounterMode also counts, on ONNX graphs built here.

``benchmarks/flops_vs_torch.py`` compares hybridperf with ``torch.utils.flop_counter`` on zoo
models; these tests pin the same formulas without torch. Golden values
are torch's formulas (FLOP = 2 x MAC, bias adds not in the matrix/conv count) written as arithmetic.
"""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
tvm = pytest.importorskip("tvm")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from tvm import relax  # noqa: E402

from hybridperf.analysis.analyze import analyze  # noqa: E402
from hybridperf.analysis.cost_pass import analyze_module  # noqa: E402
from hybridperf.costs import Status  # noqa: E402

#: the hybridperf families whose FLOPs torch's counter also counts
TORCH_COUNTED = frozenset(("conv", "conv_transpose", "matmul"))


def one_node(op, x_shape, consts=(), out_shape=None, **attrs):
    """Model ``y = op(x, *consts)`` (constants filled with ones) and its analysis."""
    names = ["x"] + [f"c{i}" for i in range(len(consts))]
    inits = [numpy_helper.from_array(np.ones(s, np.float32), f"c{i}") for i, s in enumerate(consts)]
    node = helper.make_node(op, names, ["y"], **attrs)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return analyze(m)


def counted(a, families=TORCH_COUNTED) -> int:
    return sum(r.cost.flops for r in a.analysis.records if r.family in families)


def test_grouped_and_depthwise_conv2d():
    # resnext-style: 64 -> 64 channels, 32 groups, 3x3, stride 2 on 56x56 -> 28x28
    a = one_node("Conv", [1, 64, 56, 56], [(64, 2, 3, 3)], group=32, strides=[2, 2], pads=[1, 1, 1, 1])
    assert counted(a) == 2 * (1 * 64 * 28 * 28) * (2 * 3 * 3)
    # mobilenet depthwise 5x5, batch 2: one input channel per output channel
    a = one_node("Conv", [2, 40, 14, 14], [(40, 1, 5, 5)], group=40, pads=[2, 2, 2, 2])
    assert counted(a) == 2 * (2 * 40 * 14 * 14) * (1 * 5 * 5)


def test_dilated_conv2d_with_bias_counts_no_bias():
    # deeplab ASPP: dilation only moves the taps; the bias add is element-wise work, not conv FLOPs
    a = one_node("Conv", [1, 16, 32, 32], [(8, 16, 3, 3), (8,)], dilations=[12, 12], pads=[12, 12, 12, 12])
    assert counted(a) == 2 * (1 * 8 * 32 * 32) * (16 * 3 * 3)
    assert counted(a, {"elementwise"}) == 1 * 8 * 32 * 32


def test_grouped_conv1d_and_conv3d():
    # wav2vec2-style positional conv: 16 groups, kernel 7 over 20 frames, padding 3
    a = one_node("Conv", [1, 32, 20], [(32, 2, 7)], group=16, pads=[3, 3])
    assert counted(a) == 2 * (1 * 32 * 20) * (2 * 7)
    a = one_node("Conv", [1, 4, 6, 6, 6], [(6, 4, 3, 3, 3)])
    assert counted(a) == 2 * (1 * 6 * 4 * 4 * 4) * (4 * 3 * 3 * 3)


@pytest.mark.parametrize("attrs", [dict(strides=[2, 2]), dict(strides=[2, 2], dilations=[2, 2], output_padding=[1, 1])])
def test_grouped_conv_transpose(attrs):
    # torch: batch x prod(weight shape) x input spatial; weight (C_in, C_out / groups, kh, kw) = (4, 3, 3, 3)
    a = one_node("ConvTranspose", [2, 4, 5, 5], [(4, 3, 3, 3)], group=2, **attrs)
    assert counted(a) == 2 * 2 * (4 * 3 * 3 * 3) * (5 * 5)
    assert {r.family for r in a.analysis.records if r.cost.flops} == {"conv_transpose"}


def test_gemm_counts_the_product_and_the_bias_apart():
    # torch's addmm: 2 x M x N x K, the bias add not counted; hybridperf files it as element-wise
    a = one_node("Gemm", [8, 768], [(1000, 768), (1000,)], transB=1)
    assert counted(a) == 2 * 8 * 1000 * 768
    assert counted(a, {"elementwise"}) == 8 * 1000


def test_batched_attention_matmuls():
    # vit_b_16's Q @ K^T per layer: (1, 12, 197, 64) @ (1, 12, 64, 197) -> torch's bmm 2 x 12 x 197 x 197 x 64
    a = one_node("MatMul", [1, 12, 197, 64], [(1, 12, 64, 197)])
    assert counted(a) == 2 * 12 * 197 * 197 * 64
    # a vector operand broadcast over a batch: (7,) @ (2, 7, 3)
    a = one_node("MatMul", [7], [(2, 7, 3)])
    assert counted(a) == 2 * 2 * 3 * 7


def test_onnx_einsum_is_an_estimated_bmm():
    # maxvit's torch.einsum("bghid,bghjd->bghij"): TVM lowers it to a call_tir priced by its TIR estimate
    a = one_node("Einsum", [1, 4, 2, 49, 32], [(1, 4, 2, 49, 32)], equation="bghid,bghjd->bghij")
    (r,) = [r for r in a.analysis.records if r.cost.flops]
    assert r.status is Status.ESTIMATED
    assert r.cost.flops == 2 * (1 * 4 * 2) * 49 * 49 * 32


def einsum_flops(subscripts, *shapes):
    bb = relax.BlockBuilder()
    params = [relax.Var(f"x{i}", relax.TensorType(s, "float32")) for i, s in enumerate(shapes)]
    with bb.function("main", params):
        with bb.dataflow():
            out = bb.emit_output(relax.op.einsum(params, subscripts))
        bb.emit_func_output(out)
    (r,) = analyze_module(bb.get()).records
    assert r.op == "relax.einsum" and r.status is Status.COUNTED
    return r.cost.flops


def test_einsum_plain_and_implicit():
    assert einsum_flops("bhid,bhjd->bhij", (2, 3, 4, 5), (2, 3, 6, 5)) == 2 * (2 * 3) * 4 * 6 * 5
    assert einsum_flops("ij,jk", (4, 5), (5, 6)) == 2 * 4 * 5 * 6


def test_einsum_ellipsis_broadcast_from_the_second_operand():
    # was 2 x 4 x 6 x 5 = 240: the batch dims were read from the first operand only, which has none
    assert einsum_flops("...id,...jd->...ij", (4, 5), (2, 3, 6, 5)) == 2 * (2 * 3) * 4 * 6 * 5
    # 1 against 3 broadcasts to 3 on both ellipsis dims and on a labelled one
    assert einsum_flops("...id,...jd->...ij", (1, 3, 4, 5), (2, 1, 6, 5)) == 2 * (2 * 3) * 4 * 6 * 5
    assert einsum_flops("bij,bjk->bik", (1, 4, 5), (3, 5, 6)) == 2 * 3 * 4 * 5 * 6


def test_einsum_ellipsis_inside_a_term():
    # was 1960: with "..." between labels, i took the size of the ellipsis axis (7) instead of 4
    assert einsum_flops("i...d,j...d->ij...", (4, 7, 5), (6, 7, 5)) == 2 * 4 * 6 * 7 * 5
