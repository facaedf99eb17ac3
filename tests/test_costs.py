"""Per-family cost rules on tiny Relax modules, golden values written as arithmetic."""

import pytest

from hybridperf.analysis.cost_pass import analyze_module
from hybridperf.costs import FLOPS_PER_MAC, CostRegistry, Status, build_registry, default_registry
from hybridperf.costs.registry import OpContext, RuleResult

tvm = pytest.importorskip("tvm")
from tvm import relax  # noqa: E402


def run_op(make, *shapes, dtype="float32", dtypes=None):
    """Build main(x0, x1, ...) = make(*vars) and return the op record."""
    bb = relax.BlockBuilder()
    dtypes = dtypes or [dtype] * len(shapes)
    params = [relax.Var(f"x{i}", relax.TensorType(s, dt)) for i, (s, dt) in enumerate(zip(shapes, dtypes))]
    with bb.function("main", params):
        with bb.dataflow():
            out = bb.emit_output(make(*params))
        bb.emit_func_output(out)
    a = analyze_module(bb.get())
    assert len(a.records) == 1, a.records
    return a.records[0]


def test_flop_is_two_macs():
    assert FLOPS_PER_MAC == 2


def test_conv2d_plain():
    r = run_op(lambda x, w: relax.op.nn.conv2d(x, w, padding=1), (2, 3, 8, 8), (4, 3, 3, 3))
    # out 2x4x8x8, each output: 3*3*3 MACs
    assert r.cost.flops == 2 * (2 * 4 * 8 * 8) * (3 * 3 * 3)
    assert r.status is Status.COUNTED
    assert r.cost.bytes_read == 4 * (2 * 3 * 8 * 8 + 4 * 3 * 3 * 3)
    assert r.cost.bytes_written == 4 * (2 * 4 * 8 * 8)


def test_conv2d_strided_dilated_grouped_depthwise():
    r = run_op(lambda x, w: relax.op.nn.conv2d(x, w, strides=2, padding=1), (1, 4, 8, 8), (6, 4, 3, 3))
    assert r.cost.flops == 2 * (1 * 6 * 4 * 4) * (4 * 3 * 3)
    r = run_op(lambda x, w: relax.op.nn.conv2d(x, w, dilation=2, padding=2), (1, 4, 8, 8), (6, 4, 3, 3))
    assert r.cost.flops == 2 * (1 * 6 * 8 * 8) * (4 * 3 * 3)
    r = run_op(lambda x, w: relax.op.nn.conv2d(x, w, groups=2, padding=1), (1, 4, 8, 8), (6, 2, 3, 3))
    assert r.cost.flops == 2 * (1 * 6 * 8 * 8) * (2 * 3 * 3)
    r = run_op(lambda x, w: relax.op.nn.conv2d(x, w, groups=4, padding=1), (1, 4, 8, 8), (4, 1, 3, 3))
    assert r.cost.flops == 2 * (1 * 4 * 8 * 8) * (1 * 3 * 3)


def test_conv1d_and_conv_transpose():
    r = run_op(lambda x, w: relax.op.nn.conv1d(x, w), (1, 3, 10), (5, 3, 3))
    assert r.cost.flops == 2 * (1 * 5 * 8) * (3 * 3)
    r = run_op(lambda x, w: relax.op.nn.conv2d_transpose(x, w, strides=2), (1, 4, 5, 5), (4, 3, 3, 3))
    # every input element multiplies C_out/g * kh * kw weights
    assert r.cost.flops == 2 * (1 * 4 * 5 * 5) * (3 * 3 * 3)


def test_matmul_batched_and_linear():
    r = run_op(lambda a, b: relax.op.matmul(a, b), (2, 5, 7), (7, 3))
    assert r.cost.flops == 2 * (2 * 5 * 3) * 7
    r = run_op(lambda a, b: relax.op.matmul(a, b), (4, 2, 5, 7), (4, 2, 7, 3))
    assert r.cost.flops == 2 * (4 * 2 * 5 * 3) * 7


def test_pooling():
    r = run_op(lambda x: relax.op.nn.max_pool2d(x, pool_size=(3, 3), strides=(2, 2)), (1, 2, 9, 9))
    assert r.cost.flops == (1 * 2 * 4 * 4) * (3 * 3)
    r = run_op(lambda x: relax.op.nn.avg_pool2d(x, pool_size=(2, 2), strides=(2, 2)), (1, 2, 8, 8))
    assert r.cost.flops == (1 * 2 * 4 * 4) * (2 * 2) + (1 * 2 * 4 * 4)
    r = run_op(lambda x: relax.op.nn.adaptive_avg_pool2d(x, output_size=(1, 1)), (2, 3, 4, 4))
    assert r.cost.flops == (2 * 3 * 4 * 4) + (2 * 3)


@pytest.mark.parametrize(
    "make,per_elem",
    [
        (lambda x: relax.op.nn.relu(x), 1),
        (lambda x: relax.op.exp(x), 1),
        (lambda x: relax.op.sigmoid(x), 4),
        (lambda x: relax.op.nn.silu(x), 5),
        (lambda x: relax.op.nn.gelu(x), 5),
        (lambda x: relax.op.nn.gelu_tanh(x), 9),
        (lambda x: relax.op.tanh(x), 1),
        (lambda x: relax.op.clip(x, 0.0, 6.0), 2),
        (lambda x: relax.op.nn.softmax(x), 5),
        (lambda x: relax.op.nn.log_softmax(x), 5),
    ],
)
def test_elementwise_and_activations(make, per_elem):
    r = run_op(make, (3, 4, 5))
    assert r.cost.flops == per_elem * (3 * 4 * 5)
    assert r.cost.bytes_read == 4 * (3 * 4 * 5)
    assert r.cost.bytes_written == 4 * (3 * 4 * 5)


def test_binary_broadcast_counts_output_elements():
    r = run_op(lambda a, b: relax.op.add(a, b), (2, 3, 4), (4,))
    assert r.cost.flops == 2 * 3 * 4
    assert r.cost.bytes_read == 4 * (2 * 3 * 4 + 4)


def test_norms():
    r = run_op(lambda x, g, b: relax.op.nn.layer_norm(x, g, b, axes=[-1]), (2, 8, 16), (16,), (16,))
    assert r.cost.flops == 8 * (2 * 8 * 16)
    r = run_op(lambda x, g, b: relax.op.nn.group_norm(x, g, b, num_groups=2, channel_axis=1, axes=[2, 3]), (1, 4, 3, 3), (4,), (4,))
    assert r.cost.flops == 8 * (1 * 4 * 3 * 3)
    r = run_op(lambda x, w: relax.op.nn.rms_norm(x, w, axes=[-1]), (2, 16), (16,))
    assert r.cost.flops == 4 * (2 * 16)
    r = run_op(
        lambda x, g, b, m, v: relax.op.nn.batch_norm(x, g, b, m, v, axis=1),
        (2, 4, 3, 3), (4,), (4,), (4,), (4,),
    )
    assert r.cost.flops == 4 * (2 * 4 * 3 * 3)


def test_reductions():
    r = run_op(lambda x: relax.op.sum(x, axis=[1]), (3, 5))
    assert r.cost.flops == 3 * 5
    r = run_op(lambda x: relax.op.mean(x, axis=[1]), (3, 5))
    assert r.cost.flops == 3 * 5 + 3
    r = run_op(lambda x: relax.op.variance(x, axis=[1]), (3, 5))
    assert r.cost.flops == 3 * (3 * 5) + 3
    r = run_op(lambda x: relax.op.max(x, axis=[0]), (3, 5))
    assert r.cost.flops == 3 * 5


def test_attention():
    b, s, h, d = 2, 8, 4, 16
    r = run_op(lambda q, k, v: relax.op.nn.attention(q, k, v), (b, s, h, d), (b, s, h, d), (b, s, h, d))
    scores = b * h * s * s
    assert r.cost.flops == 2 * scores * d + 2 * scores * d + (1 + 5) * scores


def test_data_movement_and_views():
    r = run_op(lambda x: relax.op.permute_dims(x, [1, 0]), (3, 5))
    assert (r.cost.flops, r.cost.bytes_read, r.cost.bytes_written) == (0, 4 * 15, 4 * 15)
    assert r.status is Status.COUNTED
    r = run_op(lambda x: relax.op.reshape(x, (5, 3)), (3, 5))
    assert r.status is Status.ZERO_COST and "view" in r.note
    assert r.cost.bytes_total == 0
    r = run_op(lambda a, b: relax.op.concat([a, b], axis=0), (2, 4), (3, 4))
    assert r.cost.bytes_read == 4 * (2 * 4 + 3 * 4) and r.cost.bytes_written == 4 * (5 * 4)
    r = run_op(lambda x: relax.op.strided_slice(x, axes=[0], begin=[1], end=[3]), (4, 4))
    assert r.cost.bytes_written == 4 * (2 * 4)


def test_take_reads_rows_not_table():
    r = run_op(lambda t, i: relax.op.take(t, i, axis=0), (1000, 64), (8,), dtypes=["float32", "int64"])
    # 8 int64 indices plus 8 rows of 64 floats, not the 1000-row table
    assert r.cost.bytes_read == 8 * 8 + 4 * (8 * 64)
    assert r.cost.bytes_written == 4 * (8 * 64)


def test_unsupported_op_is_a_visible_row():
    r = run_op(lambda x: relax.op.unique(x), (10,))
    assert r.status is Status.UNSUPPORTED
    assert r.cost.flops == 0 and r.note


def test_symbolic_shape_is_flagged():
    n = tvm.tirx.Var("n", "int64")
    r = run_op(lambda x: relax.op.nn.relu(x), (n, 4))
    assert r.status is Status.SYMBOLIC


def test_registry_rejects_duplicates_and_unknown_ops():
    reg = CostRegistry()
    reg.add(["relax.add"], lambda c: RuleResult(0), "x")
    with pytest.raises(ValueError, match="duplicate"):
        reg.add(["relax.add"], lambda c: RuleResult(0), "x")
    with pytest.raises(ValueError, match="not an op"):
        reg.add(["relax.nn.conv9d"], lambda c: RuleResult(0), "x")
    with pytest.raises(ValueError, match="duplicate"):
        reg.zero_cost(["relax.add"], "no")


#: Relax ops TVM registers that have no cost rule, by reason. Every other op is counted, zero-cost
#: or estimated (call_tir); a new TVM op fails test_every_relax_op_has_exactly_one_status until
#: it is given a rule or listed here.
UNSUPPORTED = {
    "lowered / VM only (never in a frontend module)": {
        "relax.builtin.alloc_tensor", "relax.builtin.stop_lift_params", "relax.call_builtin_with_ctx",
        "relax.call_dps_packed", "relax.call_inplace_packed", "relax.call_pure_packed", "relax.call_py_func",
        "relax.invoke_closure", "relax.invoke_pure_closure", "relax.make_closure", "relax.null_value",
        "relax.memory.alloc_storage", "relax.memory.alloc_tensor", "relax.memory.ensure_zero_offset",
        "relax.memory.kill_storage", "relax.memory.kill_tensor", "relax.memory.view", "relax.vm.alloc_storage",
        "relax.vm.alloc_tensor", "relax.vm.call_tir_dyn", "relax.vm.kill_object", "relax.to_vdevice",
        "relax.wrap_param", "relax.assert_op", "relax.print",
        "relax.inspect.tensor_byte_offset", "relax.inspect.tensor_dtype_bits", "relax.inspect.tensor_dtype_code",
        "relax.inspect.tensor_dtype_lanes", "relax.inspect.tensor_elem_offset", "relax.inspect.tensor_ndim",
        "relax.inspect.tensor_shape_i", "relax.inspect.tensor_stride_i",
    },
    "distributed / collective": {
        "relax.ccl.allgather", "relax.ccl.allreduce", "relax.ccl.broadcast_from_worker0", "relax.ccl.scatter_from_worker0",
        "relax.dist.annotate_sharding", "relax.dist.call_tir_local_view", "relax.dist.redistribute",
        "relax.dist.redistribute_replica_to_shard",
    },
    "training": {
        "relax.grad.avg_pool2d_backward", "relax.grad.end_checkpoint", "relax.grad.max_pool2d_backward",
        "relax.grad.nll_loss_backward", "relax.grad.no_grad", "relax.grad.start_checkpoint", "relax.grad.take_backward",
        "relax.nn.cross_entropy_with_logits", "relax.nn.nll_loss",
    },
    "data-dependent output size": {
        "relax.nonzero", "relax.unique", "relax.vision.all_class_non_max_suppression", "relax.vision.get_valid_counts",
        "relax.vision.non_max_suppression", "relax.nn.attention_var_len",
    },
    "no cost rule yet": {
        "relax.bucketize", "relax.hamming_window", "relax.image.affine_grid",
        "relax.multinomial_from_uniform", "relax.vision.multibox_transform_loc", "relax.vision.roi_align",
        "relax.vision.roi_pool",
    },
}


def test_every_relax_op_has_exactly_one_status():
    """fvcore's rule: each op TVM registers is counted, zero-cost, estimated (TIR) or knowingly unsupported."""
    import tvm

    from hybridperf.analysis.cost_pass import is_tir_call

    ops = {str(n) for n in tvm.ir.Op.list_op_names() if str(n).startswith("relax.")}
    reg = default_registry()
    unsupported = [n for names in UNSUPPORTED.values() for n in names]
    statuses = {
        "counted": reg.counted_ops,
        "zero-cost": reg.zero_cost_ops,
        "estimated": {n for n in ops if is_tir_call(n)},
        "unsupported": set(unsupported),
    }
    assert len(unsupported) == len(set(unsupported)), "an op is listed under two reasons"
    for name, members in statuses.items():
        assert members <= ops, f"{name}: not ops of the installed TVM: {sorted(members - ops)}"
    seen = [op for members in statuses.values() for op in members]
    twice = sorted({op for op in seen if seen.count(op) > 1})
    assert not twice, f"ops with two statuses: {twice}"
    unclassified = sorted(ops - set(seen))
    assert not unclassified, f"give these TVM ops a cost rule, or list them in UNSUPPORTED with a reason: {unclassified}"
    # the default registry is frozen
    with pytest.raises(RuntimeError):
        reg.add(["relax.unique"], lambda c: RuleResult(0), "x")


def test_build_registry_twice_is_independent():
    a, b = build_registry(), build_registry()
    assert a is not b and a.counted_ops == b.counted_ops


def test_opcontext_weight_bytes():
    from hybridperf.ir.tvm_compat import TensorInfo

    ctx = OpContext("relax.add", (TensorInfo((2, 2), "float32"), TensorInfo((2,), "float16")), (TensorInfo((2, 2), "float32"),), (False, True))
    assert ctx.weight_bytes == 2 * 2
