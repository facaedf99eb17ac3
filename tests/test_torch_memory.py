"""PyTorch CUDA peak memory (hybridperf.estimate.runtime_memory): eager rules on tiny hand-built graphs.

Golden values are arithmetic from the rules: every output is one caching-allocator block (512-byte
granularity; a large-pool block keeps a segment remainder of 1 MiB or less), a block is freed after its last
reader, views and weight-only ops allocate nothing, graph outputs stay alive, inputs are not activations.
"""

from __future__ import annotations

import pytest

from hybridperf.estimate.runtime_memory import (
    CUBLAS_WORKSPACE_BYTES_HOPPER,
    CUBLASLT_WORKSPACE_BYTES,
    EagerOp,
    blas_workspace_bytes,
    fuse_torch_activations,
    torch_cuda_peak,
    torch_eager_activations,
)

MiB = 1 << 20


def _op(op, var, reads, *out_bytes):
    return EagerOp(op, var, tuple(reads), tuple(out_bytes))


def test_chain_frees_each_tensor_after_its_last_reader():
    # x -> a -> b -> c (output), 4 MiB each: while b runs a and b are live, then a dies; b + c while c runs
    ops = [_op("relax.nn.relu", "a", ["x"], 4 * MiB), _op("relax.nn.relu", "b", ["a"], 4 * MiB),
           _op("relax.nn.relu", "c", ["b"], 4 * MiB)]
    plan = torch_eager_activations(ops, ["x"], ["c"])
    assert plan.peak_bytes == 4 * MiB + 4 * MiB
    assert plan.timeline_bytes == (4 * MiB, 8 * MiB, 8 * MiB)  # a; a + b; b + c


def test_residual_input_lives_until_the_add():
    # a = f(x) 2 MiB; b = g(a) 2 MiB; c = h(b) 2 MiB; d = a + c (output): a is held until the add
    ops = [_op("relax.nn.relu", "a", ["x"], 2 * MiB), _op("relax.nn.conv2d", "b", ["a"], 2 * MiB),
           _op("relax.nn.relu", "c", ["b"], 2 * MiB), _op("relax.add", "d", ["a", "c"], 2 * MiB)]
    plan = torch_eager_activations(ops, ["x"], ["d"])
    assert plan.peak_bytes == 3 * 2 * MiB  # a + b + c while c runs, a + c + d while the add runs
    assert plan.peak_op == 2


def test_views_and_weight_only_ops_allocate_nothing():
    # wt = permute(weight) reads no activation (PyTorch uses the weight as stored); r = reshape(a) is a view
    # of a and keeps it alive until r's reader has run
    ops = [_op("relax.permute_dims", "wt", [], 64 * MiB), _op("relax.nn.relu", "a", ["x"], 3 * MiB),
           EagerOp("relax.reshape", "r", ("a",), (3 * MiB,), view=True), _op("relax.matmul", "m", ["r", "wt"], MiB),
           _op("relax.nn.relu", "o", ["m"], MiB)]
    plan = torch_eager_activations(ops, ["x"], ["o"])
    assert (plan.views, plan.weight_only) == (1, 1)
    assert plan.peak_bytes == 3 * MiB + MiB  # a (through its view) + m while the matmul runs
    assert plan.timeline_bytes == (0, 3 * MiB, 3 * MiB, 4 * MiB, 2 * MiB)


def test_blocks_are_rounded_as_the_caching_allocator_hands_them_out():
    # 1-byte outputs take 512-byte blocks; 19.5 MiB takes its whole 20 MiB segment (remainder 0.5 MiB <= 1 MiB)
    ops = [_op("relax.nn.relu", "a", ["x"], 1), _op("relax.add", "b", ["a", "x"], 19 * MiB + MiB // 2)]
    plan = torch_eager_activations(ops, ["x"], ["b"])
    assert plan.peak_bytes == 512 + 20 * MiB


def test_unused_outputs_die_at_once_and_graph_outputs_stay():
    # a tuple op with 2 outputs (1 MiB + 1 MiB = one entry of 2 blocks); t is never read: freed after its op
    ops = [_op("relax.split_like", "t", ["x"], MiB, MiB), _op("relax.nn.relu", "a", ["x"], 2 * MiB),
           _op("relax.nn.relu", "b", ["a"], 2 * MiB)]
    plan = torch_eager_activations(ops, ["x"], ["a", "b"])
    assert plan.timeline_bytes == (2 * MiB, 2 * MiB, 4 * MiB)  # a stays (an output) while b runs


def test_silu_and_gelu_written_out_are_one_kernel():
    # x * sigmoid(x): sigmoid's output is not allocated, the multiply reads x only
    silu = [_op("relax.nn.conv2d", "x", ["in"], 8 * MiB), _op("relax.sigmoid", "s", ["x"], 8 * MiB),
            _op("relax.multiply", "y", ["x", "s"], 8 * MiB), _op("relax.nn.conv2d", "z", ["y"], MiB)]
    fused = fuse_torch_activations(silu)
    assert [o.output_bytes for o in fused] == [(8 * MiB,), (), (8 * MiB,), (MiB,)]
    assert torch_eager_activations(fused, ["in"], ["z"]).peak_bytes == 2 * 8 * MiB  # x + y; unfused 3 x 8 MiB
    assert torch_eager_activations(silu, ["in"], ["z"]).peak_bytes == 3 * 8 * MiB
    # exact GELU as exported: (x / sqrt 2) -> erf -> + 1 -> x * . -> * 0.5
    gelu = [_op("relax.matmul", "x", ["in"], 4 * MiB), _op("relax.divide", "d", ["x"], 4 * MiB),
            _op("relax.erf", "e", ["d"], 4 * MiB), _op("relax.add", "a", ["e"], 4 * MiB),
            _op("relax.multiply", "m", ["x", "a"], 4 * MiB), _op("relax.multiply", "y", ["m"], 4 * MiB)]
    fused = fuse_torch_activations(gelu)
    assert [o.output_bytes for o in fused] == [(4 * MiB,), (), (), (), (), (4 * MiB,)]
    assert fused[-1].input_vars == ("x",)
    assert torch_eager_activations(fused, ["in"], ["y"]).peak_bytes == 2 * 4 * MiB


def test_a_gate_on_another_tensor_is_not_fused():
    # squeeze-excitation: y = x * sigmoid(s) with s != x stays two kernels
    ops = [_op("relax.mean", "s", ["x"], 512), _op("relax.sigmoid", "g", ["s"], 512),
           _op("relax.multiply", "y", ["x", "g"], MiB)]
    assert fuse_torch_activations(ops) == ops


def test_blas_workspaces_by_architecture():
    assert blas_workspace_bytes("h100-sxm") == 32 * MiB + MiB  # CUBLAS_WORKSPACE_CONFIG :4096:8 + cuBLASLt 1 MiB
    assert blas_workspace_bytes("t4") == (4096 * 2 + 16 * 8) * 1024 + MiB  # :4096:2:16:8 + cuBLASLt
    assert CUBLAS_WORKSPACE_BYTES_HOPPER + CUBLASLT_WORKSPACE_BYTES == 33 * MiB


def test_torch_peak_adds_weight_and_input_blocks_workspace_and_activations():
    p = torch_cuda_peak([1000, 3 * MiB], [600], activation_bytes=5 * MiB)
    assert p.peak_bytes == (1024 + 3 * MiB) + 1024 + 33 * MiB + 5 * MiB
    assert dict(p.parts) == {"weights": 1024 + 3 * MiB, "inputs": 1024, "blas_workspace": 33 * MiB,
                             "activations": 5 * MiB}


onnx = pytest.importorskip("onnx")


def test_relax_records_read_through_tuples():
    # Relu -> a, Relu -> b, Concat(a, b) -> c: the concat's record reads both (its argument is a tuple)
    from onnx import TensorProto, helper

    from hybridperf.analysis.analyze import analyze

    f = lambda n, s: helper.make_tensor_value_info(n, TensorProto.FLOAT, s)  # noqa: E731
    nodes = [helper.make_node("Relu", ["X"], ["a"]), helper.make_node("Sigmoid", ["X"], ["b"]),
             helper.make_node("Concat", ["a", "b"], ["c"], axis=1), helper.make_node("Relu", ["c"], ["Y"])]
    g = helper.make_graph(nodes, "g", [f("X", [1, 256, 1024])], [f("Y", [1, 512, 1024])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    an = analyze(model)
    cat = next(r for r in an.analysis.records if r.op == "relax.concat")
    relu, sig = (next(r for r in an.analysis.records if r.op == op) for op in ("relax.nn.relu", "relax.sigmoid"))
    assert set(cat.read_vars) == {relu.var, sig.var}

    from hybridperf.estimate.runtime_memory import eager_ops

    plan = torch_eager_activations(eager_ops(an.analysis.records), an.analysis.input_infos, an.analysis.output_vars)
    # a (1 MiB) + b (1 MiB) + c (2 MiB) while the concat runs; c + Y (2 MiB each) at the end
    assert plan.peak_bytes == MiB + MiB + 2 * MiB


def test_a_cast_to_the_same_dtype_is_the_tensor_itself():
    # Tensor.to(same dtype) returns the tensor: no block; a widening cast, or a cast to another dtype of the same
    # size, is a new block (views decided by hybridperf.estimate.torch_eager.views, through eager_ops)
    from types import SimpleNamespace as NS

    from hybridperf.estimate.runtime_memory import eager_ops
    from hybridperf.ir.tvm_compat import TensorInfo

    f32, f64, i32 = (TensorInfo((512, 1024), dt) for dt in ("float32", "float64", "int32"))  # 2, 4, 2 MiB

    def rec(op, var, read, x, y):
        return NS(op=op, var=var, input_vars=(read,), read_vars=(read,), inputs=(x,), outputs=(y,))

    recs = [rec("relax.nn.relu", "a", "x", f32, f32), rec("relax.astype", "b", "a", f32, f32),
            rec("relax.astype", "c", "b", f32, f64), rec("relax.astype", "i", "a", f32, i32),
            rec("relax.nn.relu", "d", "c", f64, f64)]
    plan = torch_eager_activations(eager_ops(recs), ["x"], ["d", "i"])
    assert plan.views == 1  # b only
    # a; a (b is a); a + c; a + c + i (a dies: its last reader); c + i + d
    assert plan.timeline_bytes == (2 * MiB, 2 * MiB, 2 * MiB + 4 * MiB, 2 * MiB + 4 * MiB + 2 * MiB,
                                   4 * MiB + 2 * MiB + 4 * MiB)
    # under a precision override an fp32 -> fp32 cast of the export is the half model's real up-cast: a block
    assert torch_eager_activations(eager_ops(recs, "fp16"), ["x"], ["d", "i"]).views == 0


def _layer(i, x):
    # one post-LN transformer layer on a 1 MiB hidden state: scores 2 MiB, FFN 4 MiB
    p = f"l{i}_"
    return [_op("relax.matmul", p + "q", [x], MiB), _op("relax.matmul", p + "s", [p + "q", x], 2 * MiB),
            _op("relax.nn.softmax", p + "p", [p + "s"], 2 * MiB), _op("relax.matmul", p + "o", [p + "p", x], MiB),
            _op("relax.add", p + "r1", [p + "o", x], MiB), _op("relax.nn.layer_norm", p + "h", [p + "r1"], MiB),
            _op("relax.matmul", p + "f", [p + "h"], 4 * MiB), _op("relax.matmul", p + "g", [p + "f"], MiB),
            _op("relax.add", p + "r2", [p + "g", p + "h"], MiB), _op("relax.nn.layer_norm", p + "y", [p + "r2"], MiB)]


def test_transformer_layers_hold_their_input_and_attention_probabilities():
    from hybridperf.estimate.runtime_memory import transformer_layer_holds

    ops = [_op("relax.take", "e", ["ids"], MiB), *_layer(0, "e"), *_layer(1, "l0_y")]
    holds = transformer_layer_holds(ops)
    # layer 1 (ops 11..20): its input l0_y, the attention output l1_o (the residual add's other operand) and the
    # probabilities l1_p are held until its closing residual add (op 19)
    assert holds["l0_y"] == 19 and holds["l1_o"] == 19 and holds["l1_p"] == 19
    free = torch_eager_activations(ops, ["ids"], ["l1_y"])
    held = torch_eager_activations(ops, ["ids"], ["l1_y"], held_until=holds)
    # while layer 1's FFN up-projection runs (op 17): f 4 MiB + h 1 MiB, and held: l0_y + l1_o 1 MiB each + l1_p 2 MiB
    assert free.timeline_bytes[17] == 4 * MiB + MiB
    assert held.timeline_bytes[17] == 4 * MiB + MiB + 2 * MiB + 2 * MiB
    assert transformer_layer_holds(ops[:11]) == {}  # one softmax: no transformer layers


def test_fp16_halves_float32_tensors_and_the_factor_scales_graphs_without_transformer_layers():
    from types import SimpleNamespace as NS

    from hybridperf.estimate.runtime_memory import torch_eager_activation_bytes
    from hybridperf.ir.tvm_compat import TensorInfo

    def rec(op, var, reads, shape, dtype="float32"):
        return NS(op=op, var=var, input_vars=tuple(reads), read_vars=tuple(reads), outputs=(TensorInfo(shape, dtype),))

    # a = relu(x) [1, 1024, 1024] fp32 = 4 MiB; b = relu(a) 4 MiB (output): peak a + b = 8 MiB
    recs = [rec("relax.nn.relu", "a", ["x"], (1, 1024, 1024)), rec("relax.nn.relu", "b", ["a"], (1, 1024, 1024))]
    act, plan = torch_eager_activation_bytes(recs, ["x"], ["b"], activation_factor=1.5)
    assert plan.peak_bytes == act == 12 * MiB  # live 8 MiB x 1.5: no transformer layers, no workspace
    act16, plan16 = torch_eager_activation_bytes(recs, ["x"], ["b"], "fp16", activation_factor=1.0)
    assert plan16.peak_bytes == act16 == 4 * MiB  # model.half(): 2 MiB each


# --------------------------------------------------------------------------- branch holds, conv workspace


def test_block_input_is_held_until_a_downsampling_shortcut_joins():
    from hybridperf.estimate.runtime_memory import branch_input_holds

    # x 2 MiB (block input); c1 = conv(x), c2 = conv(c1), d = conv(x) (shortcut), s = c2 + d: 4 MiB each.
    # The graph's last read of x is d (op 3); forward(self, x) holds x until the block returns (the add, op 4).
    ops = [_op("relax.nn.relu", "x", ["in"], 2 * MiB), _op("relax.nn.conv2d", "c1", ["x"], 4 * MiB),
           _op("relax.nn.conv2d", "c2", ["c1"], 4 * MiB), _op("relax.nn.conv2d", "d", ["x"], 4 * MiB),
           _op("relax.add", "s", ["c2", "d"], 4 * MiB)]
    holds = branch_input_holds(ops)
    assert holds == {"x": 4}
    free = torch_eager_activations(ops, ["in"], ["s"])
    held = torch_eager_activations(ops, ["in"], ["s"], held_until=holds)
    assert free.peak_bytes == 4 * MiB + 4 * MiB + 4 * MiB  # c2 + d + s while the add runs; x died at op 3
    assert held.peak_bytes == 2 * MiB + 4 * MiB + 4 * MiB + 4 * MiB  # x + c2 + d + s


def test_identity_shortcut_and_gate_holds_change_nothing():
    from hybridperf.estimate.runtime_memory import branch_input_holds

    # identity shortcut: s = x + conv(conv(x)); the common ancestor is x, an operand of the add itself
    ops = [_op("relax.nn.relu", "x", ["in"], 2 * MiB), _op("relax.nn.conv2d", "c1", ["x"], 2 * MiB),
           _op("relax.nn.conv2d", "c2", ["c1"], 2 * MiB), _op("relax.add", "s", ["x", "c2"], 2 * MiB)]
    holds = branch_input_holds(ops)
    assert holds == {"x": 3}
    assert (torch_eager_activations(ops, ["in"], ["s"], held_until=holds).timeline_bytes
            == torch_eager_activations(ops, ["in"], ["s"]).timeline_bytes)
    # an add of one activation and a weight-only value is no join
    assert branch_input_holds([_op("relax.nn.relu", "x", ["in"], MiB), _op("relax.reshape", "b", [], 512),
                               _op("relax.add", "y", ["x", "b"], MiB)]) == {}


@pytest.mark.parametrize("weight_shape, groups, itemsize, expected", [
    # fp16 3x3, 64 -> 64 channels: NHWC copies of x, the filter and y
    ((64, 64, 3, 3), 1, 2, 3 * MiB + 5 * MiB + 64 * 64 * 3 * 3 * 2),
    ((128, 4, 3, 3), 32, 2, 3 * MiB + 5 * MiB + 128 * 4 * 3 * 3 * 2),  # grouped (not depthwise): counted
    ((64, 1, 3, 3), 64, 2, 0),  # depthwise: PyTorch's own kernel or an NCHW engine
    ((64, 64, 1, 1), 1, 2, 0),  # 1x1: a GEMM on NCHW as stored
    ((64, 64, 3, 3), 1, 4, 0),  # fp32 without TF32: NCHW kernels
])
def test_cudnn_nhwc_workspace(weight_shape, groups, itemsize, expected):
    from hybridperf.estimate.runtime_memory import cudnn_nhwc_workspace_bytes

    assert cudnn_nhwc_workspace_bytes(3 * MiB, 5 * MiB, weight_shape, groups, itemsize) == expected


def test_factor_scales_live_blocks_not_the_workspace():
    # a = conv(x) 4 MiB with a 2 MiB workspace; b = relu(a) 4 MiB (output)
    ops = [EagerOp("relax.nn.conv2d", "a", ("x",), (4 * MiB,), 2 * MiB), _op("relax.nn.relu", "b", ["a"], 4 * MiB)]
    plan = torch_eager_activations(ops, ["x"], ["b"], activation_factor=1.5)
    assert plan.timeline_bytes == (6 * MiB + 2 * MiB, 12 * MiB)  # 1.5 x 4 MiB + 2 MiB; 1.5 x (4 + 4) MiB
    assert plan.peak_bytes == 12 * MiB and plan.peak_op == 1


def test_fp16_conv_record_adds_its_nhwc_workspace_while_it_runs():
    from types import SimpleNamespace as NS

    from hybridperf.estimate.runtime_memory import conv_workspace_bytes, torch_eager_activation_bytes
    from hybridperf.ir.tvm_compat import TensorInfo

    x, y = TensorInfo((8, 64, 32, 32), "float32"), TensorInfo((8, 64, 32, 32), "float32")  # 2 MiB each in fp32
    conv = NS(op="relax.nn.conv2d", var="y", input_vars=("x",), read_vars=("x",), outputs=(y,), attrs={"groups": 1},
              inputs=(x, TensorInfo((64, 64, 3, 3), "float32")))
    assert conv_workspace_bytes(conv) == 0  # fp32: no Tensor Core copies
    ws16 = 1 * MiB + 1 * MiB + 64 * 64 * 3 * 3 * 2  # x and y stored at fp16 (1 MiB each) + the fp16 filter
    assert conv_workspace_bytes(conv, "fp16") == ws16
    act, plan = torch_eager_activation_bytes([conv], ["x"], ["y"], "fp16", activation_factor=1.0)
    # while the conv runs: y 1 MiB + the workspace block of 2 MiB + 72 KiB (split off a 20 MiB segment: the
    # remainder exceeds 1 MiB, so the block is the request rounded to 512 bytes, which it already is)
    assert act == plan.peak_bytes == 1 * MiB + ws16


def test_peak_around_one_inference_resets_before_and_reads_after_the_call(monkeypatch):
    # a fake torch.cuda (no GPU here): the inference allocates 3 MiB on top of 5 MiB resident, 2 MiB stays reserved
    import sys
    from types import SimpleNamespace as NS

    from hybridperf.measure.torch_cuda import InferencePeak, peak_around_one_inference

    calls = []
    state = {"allocated": 5 * MiB, "peak": 9 * MiB}
    cuda = NS(memory_allocated=lambda: state["allocated"],
              reset_peak_memory_stats=lambda: (calls.append("reset"), state.update(peak=state["allocated"])),
              synchronize=lambda: calls.append("sync"),
              max_memory_allocated=lambda: state["peak"], max_memory_reserved=lambda: state["peak"] + 2 * MiB)
    monkeypatch.setitem(sys.modules, "torch", NS(cuda=cuda))

    def model(x):
        calls.append(f"model({x})")
        state["peak"] = state["allocated"] + 3 * MiB
        return object()

    assert peak_around_one_inference(model, ("x",)) == InferencePeak(5 * MiB, 5 * MiB + 3 * MiB, 5 * MiB + 5 * MiB)
    assert calls == ["reset", "model(x)", "sync"]
