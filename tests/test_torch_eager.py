"""Which kernels eager PyTorch launches (hybridperf.estimate.torch_eager): one rule set for latency and memory."""

from __future__ import annotations

from types import SimpleNamespace

from hybridperf.estimate.torch_eager import (
    EagerOp,
    activation_groups,
    eager_ops,
    fuse_torch_activations,
    host_side,
    pointwise_op,
    views,
)
from hybridperf.ir.tvm_compat import TensorInfo

MiB = 1 << 20


def _t(*shape, dtype="float32"):
    return TensorInfo(tuple(shape), dtype)


def _op(op, var, reads, size=MiB):
    return EagerOp(op, var, tuple(reads), (size,))


def test_hardswish_chain_is_one_kernel():
    # ONNX HardSwish as Relax writes it: x * clip(x + 3, 0, 6) / 6 (constants are not variables)
    ops = [_op("relax.nn.conv2d", "x", ["in"]), _op("relax.add", "a", ["x"]), _op("relax.clip", "c", ["a"]),
           _op("relax.divide", "d", ["c"]), _op("relax.multiply", "y", ["x", "d"]), _op("relax.nn.conv2d", "z", ["y"])]
    assert activation_groups(ops) == {"y": (1, 2, 3, 4)}


def test_gelu_silu_and_relu6_chains_but_not_a_written_out_tanh_gelu():
    gelu = [_op("relax.divide", "a", ["x"]), _op("relax.erf", "b", ["a"]), _op("relax.add", "c", ["b"]),
            _op("relax.multiply", "d", ["x", "c"]), _op("relax.multiply", "e", ["d"])]
    assert activation_groups(gelu) == {"e": (0, 1, 2, 3, 4)}
    silu = [_op("relax.sigmoid", "s", ["x"]), _op("relax.multiply", "y", ["x", "s"])]
    assert activation_groups(silu) == {"y": (0, 1)}
    # ReLU6 with tensor bounds: two TIR calls whose bounds are folded constants ("k0", "k1" host-side)
    relu6 = [_op(pointwise_op("relax.call_tir", "TVM TIR estimate of maximum3"), "m", ["x", "k0"]),
             _op(pointwise_op("relax.call_tir", "TVM TIR estimate of minimum3"), "n", ["m", "k1"])]
    assert [o.op for o in relu6] == ["relax.maximum", "relax.minimum"]
    assert activation_groups(relu6, skip={"k0", "k1"}) == {"n": (0, 1)}
    # GPT-2's gelu_new is Python arithmetic around tanh: one kernel per op in eager PyTorch, no marker
    tanh = [_op("relax.multiply", "a", ["x"]), _op("relax.tanh", "b", ["a"]), _op("relax.add", "c", ["b"]),
            _op("relax.multiply", "d", ["x", "c"])]
    assert activation_groups(tanh) == {}


def test_chain_value_used_elsewhere_or_a_gate_on_another_tensor_is_not_merged():
    # the sigmoid's output also feeds another op: PyTorch must materialise it
    ops = [_op("relax.sigmoid", "s", ["x"]), _op("relax.multiply", "y", ["x", "s"]), _op("relax.add", "z", ["s", "y"])]
    assert activation_groups(ops) == {}
    # squeeze-excitation: y = x * sigmoid(s) with s != x stays two kernels
    se = [_op("relax.mean", "s", ["x"], 512), _op("relax.sigmoid", "g", ["s"], 512),
          _op("relax.multiply", "y", ["x", "g"])]
    assert activation_groups(se) == {} and fuse_torch_activations(se) == se
    # a broadcast changes the size: not one element-wise kernel over one tensor
    bc = [_op("relax.sigmoid", "s", ["x"], 512), _op("relax.multiply", "y", ["x", "s"], MiB)]
    assert activation_groups(bc) == {}


def test_fused_chain_allocates_once_and_reads_its_input_only():
    silu = [_op("relax.nn.conv2d", "x", ["in"], 8 * MiB), _op("relax.sigmoid", "s", ["x"], 8 * MiB),
            _op("relax.multiply", "y", ["x", "s"], 8 * MiB), _op("relax.nn.conv2d", "z", ["y"])]
    fused = fuse_torch_activations(silu)
    assert [o.output_bytes for o in fused] == [(8 * MiB,), (), (8 * MiB,), (MiB,)]
    assert fused[2].input_vars == ("x",) and fused[1].input_vars == ()


def test_eager_ops_name_tir_calls_by_their_op_and_store_at_the_precision():
    rec = SimpleNamespace(op="relax.call_tir", var="m", input_vars=("x",), outputs=(_t(1, 256),),
                          note="TVM TIR estimate of maximum1")
    (op,) = eager_ops([rec], "fp16")
    assert op == EagerOp("relax.maximum", "m", ("x",), (256 * 2,))  # 256 float32 values stored as fp16


def test_views_slices_shape_arithmetic_and_same_dtype_casts_launch_nothing():
    def r(op, var, input_vars, ins, outs):
        return SimpleNamespace(op=op, var=var, input_vars=tuple(input_vars), inputs=tuple(ins), outputs=tuple(outs))

    recs = [r("relax.strided_slice", "s", ["x"], [_t(1, 8, 4)], [_t(1, 4, 4)]),
            r("relax.astype", "c", ["x"], [_t(1, 8, 4)], [_t(1, 8, 4)]),
            r("relax.reshape", "v", ["x"], [_t(1, 8, 4)], [_t(8, 4)]),
            r("relax.shape_of", "sh", ["x"], [_t(1, 8, 4)], [_t(3, dtype="int64")]),
            r("relax.multiply", "n", ["sh"], [_t(3, dtype="int64")], [_t(3, dtype="int64")]),
            r("relax.permute_dims", "p", ["x"], [_t(1, 8, 4)], [_t(1, 4, 8)]),  # read as a strided view
            r("relax.permute_dims", "q", ["x"], [_t(1, 8, 4)], [_t(1, 4, 8)]),
            r("relax.reshape", "qr", ["q"], [_t(1, 4, 8)], [_t(32)]),  # reshape of a permuted view copies: q is a kernel
            r("relax.take", "i", ["x"], [_t(1, 8, 4), _t(1, dtype="int64")], [_t(8, 4)])]
    assert host_side(recs) == {"sh", "n"}  # shape arithmetic: Python ints
    assert views(recs) == {"s", "c", "v", "p", "qr", "i"}
    # under a precision override an fp32 -> fp32 cast of the export is the fp16 model's real up-cast
    assert "c" not in views(recs, same_dtype_casts_free=False)
    # eager_ops carries the same decision (the memory model reads EagerOp.view): casts free only without an override
    assert {o.var for o in eager_ops(recs) if o.view} == views(recs)
    assert {o.var for o in eager_ops(recs, "fp16") if o.view} == views(recs, same_dtype_casts_free=False)
    # expand is a view unless a reshape copies it (repeat_kv); a view of a weight is the weight as stored
    kv = [r("relax.broadcast_to", "e", ["k"], [_t(1, 2, 1, 8)], [_t(1, 2, 4, 8)]),
          r("relax.reshape", "er", ["e"], [_t(1, 2, 4, 8)], [_t(1, 8, 8)]),
          r("relax.broadcast_to", "m", ["mask"], [_t(1, 1, 8)], [_t(1, 8, 8)]),
          r("relax.add", "sm", ["m", "y"], [_t(1, 8, 8), _t(1, 8, 8)], [_t(1, 8, 8)]),
          r("relax.reshape", "wt", [], [_t(8, 8)], [_t(64)])]
    assert views(kv) == {"er", "m"}
