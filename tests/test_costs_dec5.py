"""Cost-rule audit of 2026-12-05: rules checked against hand counts (FLOP = 2 x MAC), golden values as arithmetic.

Fixed here: overlapping adaptive-pool windows, scatters that combine updates, one-operand einsum, and fills shaped
like a tensor that read its data. The rest pin edge cases the audit found right (ConvTranspose with groups and
output_padding, broadcast MatMul, 1-D MatMul, broadcast inputs read once) so a change to them is seen.
"""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
tvm = pytest.importorskip("tvm")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from test_costs import run_op  # noqa: E402
from tvm import relax  # noqa: E402

from hybridperf.analysis.analyze import analyze  # noqa: E402
from hybridperf.costs import Status  # noqa: E402


def relax_op(make, *shapes, dtypes=None):
    """The one record of ``main(x0, x1, ...) = make(*vars)`` (:func:`test_costs.run_op`), counted."""
    r = run_op(make, *shapes, dtypes=dtypes)
    assert r.status is Status.COUNTED
    return r


def onnx_records(op, inputs, consts=(), **attrs):
    """Records of ``y = op(inputs..., consts...)``: ``inputs`` are float32 graph-input shapes, ``consts``
    initializer arrays."""
    names = [f"x{i}" for i in range(len(inputs))] + [f"c{i}" for i in range(len(consts))]
    g = helper.make_graph(
        [helper.make_node(op, names, ["y"], **attrs)], "g",
        [helper.make_tensor_value_info(f"x{i}", TensorProto.FLOAT, s) for i, s in enumerate(inputs)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(a, f"c{i}") for i, a in enumerate(consts)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return [r for r in analyze(m).analysis.records if r.status is not Status.ZERO_COST]


# ---------------------------------------------------------------------------------------------- fixed 2026-12-05


def test_adaptive_avg_pool_counts_overlapping_windows():
    # until 2026-12-05 every input element was added once (2*4*4 + 2*3*3 = 50): 4 -> 3 has windows [0,2) [1,3)
    # [2,4), 2 + 2 + 2 = 6 per axis, so 6*6 adds per channel, 2 channels, + a divide per output
    r = relax_op(lambda x: relax.op.nn.adaptive_avg_pool2d(x, (3, 3)), (1, 2, 4, 4))
    assert r.cost.flops == 2 * (6 * 6) + 2 * 3 * 3
    # 5 -> 3: windows [0,2) [1,4) [3,5) = 2 + 3 + 2 = 7 per axis, NHWC layout
    r = relax_op(lambda x: relax.op.nn.adaptive_avg_pool2d(x, (3, 3), layout="NHWC"), (2, 5, 5, 4))
    assert r.cost.flops == 2 * 4 * (7 * 7) + 2 * 3 * 3 * 4
    # windows that tile the input (global, divisible) are unchanged: every input element once
    r = relax_op(lambda x: relax.op.nn.adaptive_avg_pool2d(x, (2, 2)), (2, 3, 4, 4))
    assert r.cost.flops == 2 * 3 * 4 * 4 + 2 * 3 * 2 * 2
    r = relax_op(lambda x: relax.op.nn.adaptive_avg_pool1d(x, 1), (2, 3, 7))
    assert r.cost.flops == 2 * 3 * 7 + 2 * 3


def test_scatter_that_combines_updates_is_not_free():
    # until 2026-12-05 every scatter was a 0-FLOP copy, also where each update is added to (or multiplied
    # with, ...) the value already there
    r = relax_op(lambda d, i, u: relax.op.scatter_elements(d, i, u, axis=1, reduction="add"),
                 (4, 5), (4, 2), (4, 2), dtypes=["float32", "int64", "float32"])
    assert r.cost.flops == 4 * 2
    assert r.cost.bytes_read == 4 * (4 * 5) + 8 * (4 * 2) + 4 * (4 * 2)
    r = relax_op(lambda d, i, u: relax.op.scatter_elements(d, i, u, axis=1, reduction="mean"),
                 (4, 5), (4, 2), (4, 2), dtypes=["float32", "int64", "float32"])
    assert r.cost.flops == 4 * 2 + 4 * 5  # an add per update, a divide per output element
    r = relax_op(lambda d, i, u: relax.op.scatter_nd(d, i, u, reduction="mul"),
                 (4, 5), (3, 1), (3, 5), dtypes=["float32", "int64", "float32"])
    assert r.cost.flops == 3 * 5
    r = relax_op(lambda d, i, u: relax.op.index_put(d, relax.Tuple([i]), u, accumulate=True),
                 (6,), (3,), (3,), dtypes=["float32", "int64", "float32"])
    assert r.cost.flops == 3
    # a plain update is still a copy
    r = relax_op(lambda d, i, u: relax.op.scatter_nd(d, i, u), (4, 5), (3, 1), (3, 5),
                 dtypes=["float32", "int64", "float32"])
    assert r.cost.flops == 0
    r = relax_op(lambda d, i, u: relax.op.index_put(d, relax.Tuple([i]), u), (6,), (3,), (3,),
                 dtypes=["float32", "int64", "float32"])
    assert r.cost.flops == 0


def test_one_operand_einsum_is_a_sum_or_a_copy():
    # until 2026-12-05 one operand was priced as a product, 2 FLOP per element: ij->ji 2*3*4 = 24 for a
    # transpose, ij->i 24 for 12 adds
    assert relax_op(lambda x: relax.op.einsum([x], "ij->ji"), (3, 4)).cost.flops == 0
    assert relax_op(lambda x: relax.op.einsum([x], "ii->i"), (4, 4)).cost.flops == 0
    assert relax_op(lambda x: relax.op.einsum([x], "ij->i"), (3, 4)).cost.flops == 3 * 4
    assert relax_op(lambda x: relax.op.einsum([x], "ii"), (4, 4)).cost.flops == 4  # trace: the diagonal's adds
    assert relax_op(lambda x: relax.op.einsum([x], "...ij->...j"), (2, 3, 4)).cost.flops == 2 * 3 * 4


def test_fills_shaped_like_a_tensor_do_not_read_its_data():
    # until 2026-12-05 zeros_like(x) read x whole (ONNX Shrink's zeros_like of a (3, 4) tensor read 4*3*4 B);
    # it takes x's shape only and writes its output
    r = relax_op(lambda x: relax.op.zeros_like(x), (3, 4))
    assert (r.cost.flops, r.cost.bytes_read, r.cost.bytes_written) == (0, 0, 4 * 3 * 4)
    r = relax_op(lambda x: relax.op.eye_like(x), (4, 4))
    assert (r.cost.bytes_read, r.cost.bytes_written) == (0, 4 * 4 * 4)
    r = relax_op(lambda x, v: relax.op.full_like(x, v), (3, 4), ())  # reads the fill value, one float32
    assert (r.cost.bytes_read, r.cost.bytes_written) == (4 * 1, 4 * 3 * 4)


# ------------------------------------------------------------------------------------- edge cases found right


def test_conv_transpose_groups_and_output_padding():
    # x (1, 4, 5, 5), W (C_in=4, C_out/g=3, 3, 3), group 2: C_out 6, out (5-1)*2 + 3 - 2*1 + 1 = 10; every input
    # element multiplies C_out/g * kh * kw = 3*3*3 weights
    (r,) = onnx_records("ConvTranspose", [[1, 4, 5, 5]], [np.ones((4, 3, 3, 3), np.float32)], group=2,
                        strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])
    assert r.outputs[0].shape == (1, 6, 10, 10)
    assert r.cost.flops == 2 * (1 * 4 * 5 * 5) * (3 * 3 * 3)
    assert r.cost.bytes_read == 4 * (4 * 5 * 5 + 4 * 3 * 3 * 3)
    assert r.cost.weight_bytes == 4 * (4 * 3 * 3 * 3)


def test_depthwise_conv_strided_dilated_asymmetric_pads():
    # 11x11, k3 d2 (extent 5), s2, pads H 1+1, W 2+2: H (13-5)//2+1 = 5, W (15-5)//2+1 = 6; 1*3*3 MACs each
    (r,) = onnx_records("Conv", [[1, 8, 11, 11]], [np.ones((8, 1, 3, 3), np.float32)], group=8,
                        strides=[2, 2], dilations=[2, 2], pads=[1, 2, 1, 2])
    assert r.cost.flops == 2 * (1 * 8 * 5 * 6) * (1 * 3 * 3)


def test_matmul_broadcast_and_vector_operands():
    # [2,1,4,6] x [3,6,5] -> [2,3,4,5], K 6; each operand read once at its own size
    (r,) = onnx_records("MatMul", [[2, 1, 4, 6], [3, 6, 5]])
    assert r.cost.flops == 2 * (2 * 3 * 4 * 5) * 6
    assert r.cost.bytes_read == 4 * (2 * 4 * 6 + 3 * 6 * 5)
    (r,) = onnx_records("MatMul", [[6], [2, 6, 5]])  # vector on the left: out (2, 5)
    assert r.cost.flops == 2 * (2 * 5) * 6
    (r,) = onnx_records("MatMul", [[2, 4, 6], [6]])  # vector on the right: out (2, 4)
    assert r.cost.flops == 2 * (2 * 4) * 6
    (r,) = onnx_records("MatMul", [[6], [6]])  # dot product: a scalar
    assert r.cost.flops == 2 * 1 * 6


def test_broadcast_inputs_are_read_once_not_expanded():
    (r,) = onnx_records("Add", [[2, 1, 4], [3, 1]])  # out (2, 3, 4)
    assert r.cost.flops == 2 * 3 * 4
    assert r.cost.bytes_read == 4 * (2 * 1 * 4 + 3 * 1)
    assert r.cost.bytes_written == 4 * (2 * 3 * 4)
