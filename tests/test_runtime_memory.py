"""Peak memory per runtime (hybridperf.estimate.runtime_memory): golden arithmetic on tiny hand-built graphs."""

from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from hybridperf.estimate.runtime_memory import (
    Runtime,
    _BestFitPattern,
    bfc_arena_reserved_bytes,
    cuda_block_bytes,
    default_runtime,
    onnxruntime_peak,
    ort_activation_plan,
    ort_tensor_shapes,
    torch_cuda_peak,
    tvm_peak,
    OrtActivationPlan,
    OrtFeatures,
)

MiB = 1 << 20


def _model(nodes, inputs, outputs, inits=(), opsets=(("", 17),)):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])


def _f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


# --------------------------------------------------------------------------- onnxruntime


def test_best_fit_pattern_fills_the_smallest_gap():
    p = _BestFitPattern()
    p.alloc(0, 4096)   # [0, 4096)
    p.alloc(1, 1024)   # [4096, 5120)
    p.alloc(2, 2048)   # [5120, 7168)
    p.free(0)          # gap of 4096 at 0
    p.free(2)          # the tail is no gap: a new block goes after the last live block
    p.alloc(3, 3000)   # 3008 after 64-byte alignment: fits the 4096 gap at offset 0
    assert p.blocks[0][:2] == (0, 3008)
    p.alloc(4, 2048)   # no gap holds it (4096 - 3008 = 1088): after block 1, at 5120
    assert p.peak == 5120 + 2048  # 7168: the earlier peak, reached again


def test_chain_plan_reuse_holds_a_buffer_between_uses():
    # X -> Relu -> a -> Transpose -> b -> Relu -> c -> Transpose -> d (output); 1 MiB tensors of shape
    # [512, 512]; Relu runs in place over its dying input, so a = own buffer (X is the caller's),
    # b = new buffer, c = b in place, d = graph output (allocated outside the pattern).
    s = [512, 512]
    nodes = [helper.make_node("Relu", ["X"], ["a"]), helper.make_node("Transpose", ["a"], ["b"]),
             helper.make_node("Relu", ["b"], ["c"]), helper.make_node("Transpose", ["c"], ["d"])]
    m = _model(nodes, [_f32("X", s)], [_f32("d", s)])
    tensors, unknown = ort_tensor_shapes(m)
    assert unknown == ()
    assert tensors["d"] == ((512, 512), 512 * 512 * 4)
    plan = ort_activation_plan(m, tensors)
    assert plan.output_bytes == MiB
    assert plan.buffers == 2                   # a, and b (= c in place)
    assert plan.pattern_bytes == 2 * MiB       # a and b are alive together at the Transpose
    assert plan.live_peak_bytes == 2 * MiB


def test_freed_buffer_of_same_shape_is_reused_and_held_in_between():
    # a = Relu(X) [512x512]; t = Transpose(a) [512x512]; u = Reshape(t) [256x1024], an alias of t;
    # v = Transpose(u) [1024x256]; w = Transpose(v) [256x1024]; y = Relu(w) is the graph output.
    # All 1 MiB. a dies at the first Transpose, t (= u) at the second, v at the third.
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [256, 1024])
    nodes = [helper.make_node("Relu", ["X"], ["a"]), helper.make_node("Transpose", ["a"], ["t"]),
             helper.make_node("Reshape", ["t", "shape"], ["u"]), helper.make_node("Transpose", ["u"], ["v"]),
             helper.make_node("Transpose", ["v"], ["w"]), helper.make_node("Relu", ["w"], ["y"])]
    m = _model(nodes, [_f32("X", [512, 512])], [_f32("y", [256, 1024])], inits=[shape])
    tensors, _ = ort_tensor_shapes(m)
    assert tensors["v"][0] == (1024, 256) and tensors["w"][0] == (256, 1024)
    plan = ort_activation_plan(m, tensors)
    # t's buffer was defined as [512, 512] and a's too: onnxruntime compares shapes, not bytes, so
    # neither is reused for v [1024, 256] or w [256, 1024]: four buffers
    assert plan.buffers == 4
    # live at once: a+t (Transpose 1), t+v (Transpose 2), v+w (Transpose 3); pattern: best fit
    # a@0, t@1M, (a freed) v@0, (t freed) w@1M -> peak 2 MiB
    assert plan.pattern_bytes == 2 * MiB


def test_nchwc_shapes_pad_channels_to_the_block():
    w = helper.make_tensor("W", TensorProto.FLOAT, [16, 8, 3, 3], [0.0] * (16 * 8 * 9))
    nodes = [helper.make_node("ReorderInput", ["X"], ["xr"], domain="com.microsoft.nchwc"),
             helper.make_node("Conv", ["xr", "W"], ["y"], domain="com.microsoft.nchwc", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("ReorderOutput", ["y"], ["out"], domain="com.microsoft.nchwc", channels=13)]
    m = _model(nodes, [_f32("X", [1, 3, 32, 32])], [_f32("out", [1, 13, 16, 16])], inits=[w],
               opsets=(("", 17), ("com.microsoft.nchwc", 1)))
    tensors, unknown = ort_tensor_shapes(m, block=8)
    assert unknown == ()
    assert tensors["xr"] == ((1, 8, 32, 32), 8 * 32 * 32 * 4)      # 3 channels padded to 8
    assert tensors["y"][0] == (1, 16, 16, 16)                        # (32 + 2 - 3) // 2 + 1 = 16
    assert tensors["out"][0] == (1, 13, 16, 16)


def test_onnxruntime_peak_adds_its_parts():
    act = OrtActivationPlan(pattern_bytes=3 * MiB, live_peak_bytes=2 * MiB, output_bytes=4000, buffers=3)
    feat = OrtFeatures(initializer_bytes=40 * MiB, activations=act, input_bytes=602112, optimised=True, unknown_ops=())
    p = onnxruntime_peak(feat, session_fixed_bytes=10 * MiB, run_fixed_bytes=MiB)
    assert p.runtime == "onnxruntime"
    assert p.peak_bytes == 10 * MiB + 40 * MiB + 3 * MiB + 4000 + MiB + 602112
    assert dict(p.parts)["activation_pattern"] == 3 * MiB  # the larger of pattern and live set


def test_arena_extends_by_powers_of_two():
    assert bfc_arena_reserved_bytes([512 * 1024]) == MiB                     # the 1 MiB initial chunk
    assert bfc_arena_reserved_bytes([512 * 1024] * 2) == MiB                 # both fit
    assert bfc_arena_reserved_bytes([512 * 1024] * 3) == MiB + 2 * MiB       # next region doubles
    assert bfc_arena_reserved_bytes([3 * MiB]) == 4 * MiB                    # 1 MiB doubled until it holds 3 MiB
    # the 4 MiB chunk is handed out whole (4 < 2 * 3, 1 MiB of dead bytes < 128 MiB); the size was just raised to
    # 4 MiB, so the next region is 4 MiB again, not 8
    assert bfc_arena_reserved_bytes([3 * MiB, 100]) == 4 * MiB + 4 * MiB
    assert bfc_arena_reserved_bytes([3 * MiB, 100, 100]) == 4 * MiB + 4 * MiB  # the split 4 MiB region is reused
    assert bfc_arena_reserved_bytes([100]) == MiB                            # 100 -> 256-byte rounding


# --------------------------------------------------------------------------- PyTorch CUDA


@pytest.mark.parametrize("request_bytes, block", [
    (1, 512),                                 # kMinBlockSize
    (513, 1024),                              # 512-byte granularity
    (MiB, MiB),                               # largest small-pool request
    (MiB + 1, MiB + 512),                     # 20 MiB segment, remainder > 1 MiB: split
    (19 * MiB + MiB // 2, 20 * MiB),          # remainder 0.5 MiB: the whole segment
    (10 * MiB + 1, 10 * MiB + 512),           # 12 MiB segment (2 MiB rounding), remainder > 1 MiB: split
    (11 * MiB + MiB // 2, 12 * MiB),          # 12 MiB segment, remainder 0.5 MiB: whole segment
])
def test_cuda_block_rounding(request_bytes, block):
    assert cuda_block_bytes(request_bytes) == block


def test_torch_peak_counts_blocks_workspace_and_activations():
    p = torch_cuda_peak([1, 513], [MiB + 1], activation_bytes=4 * MiB, workspace_bytes=32 * MiB)
    assert p.peak_bytes == (512 + 1024) + (MiB + 512) + 32 * MiB + 4 * MiB  # more in tests/test_torch_memory.py


# --------------------------------------------------------------------------- TVM and the default


def test_tvm_peak_is_plan_plus_workspace_weights_inputs():
    p = tvm_peak(planned_bytes=100, workspace_bytes=20, weight_bytes=1000, input_bytes=7)
    assert p.peak_bytes == 1127 and p.runtime == "tvm"


def test_default_runtime_by_device_kind():
    assert default_runtime("cpu") is Runtime.ONNXRUNTIME
    assert default_runtime("gpu") is Runtime.TORCH
    assert default_runtime("npu") is Runtime.TFLM  # the TensorFlow Lite Micro arena (TVM until 2026-12-04)


def _holding_graph():
    # a = Relu(X) [2048x1024, 8 MiB]; b = Transpose(a) [1024x2048]; c = Concat(b, b) [2048x2048, 16 MiB];
    # d = Transpose(c) [2048x2048]; e = Slice(d) [2048x1024]; y = Sigmoid(e) is the output (8 MiB).
    st = helper.make_tensor("st", TensorProto.INT64, [2], [0, 0])
    en = helper.make_tensor("en", TensorProto.INT64, [2], [2048, 1024])
    nodes = [helper.make_node("Relu", ["X"], ["a"]), helper.make_node("Transpose", ["a"], ["b"]),
             helper.make_node("Concat", ["b", "b"], ["c"], axis=0), helper.make_node("Transpose", ["c"], ["d"]),
             helper.make_node("Slice", ["d", "st", "en"], ["e"]), helper.make_node("Sigmoid", ["e"], ["y"])]
    return _model(nodes, [_f32("X", [2048, 1024])], [_f32("y", [2048, 1024])], inits=[st, en])


def test_a_buffer_kept_for_reuse_is_held_in_the_pattern():
    m = _holding_graph()
    plan = ort_activation_plan(m, ort_tensor_shapes(m)[0])
    # e has a's shape and reuses a's buffer (freed at step 1), so a is held from step 0 to 4:
    # a@[0,8) b@[8,16) c@[16,32) (b alive while c is made) d@[32,48) (the 8 MiB gap left by b is too small)
    assert plan.pattern_bytes == 48 * MiB
    assert plan.live_peak_bytes == 32 * MiB   # without reuse: c + d at the second Transpose
    assert plan.output_bytes == 8 * MiB


def test_onnxruntime_measured_run_peak_is_the_pattern(tmp_path):
    """onnxruntime itself (its resident peak over two runs, hybridperf.measure.onnxruntime) against the replay: the
    measured run peak is the pattern block + the output, and 16 MiB above the live set."""
    pytest.importorskip("onnxruntime")
    import sys

    from hybridperf.measure.onnxruntime import measure

    if not sys.platform.startswith("linux"):
        pytest.skip("resident-set figures need Linux /proc")
    path = tmp_path / "hold.onnx"
    onnx.save(_holding_graph(), str(path))
    meas = measure(path, threads=1, repeats=1, warmup=0, profile=False)
    if meas.run_peak_bytes is None:
        pytest.skip("no VmHWM on this system")
    assert abs(meas.run_peak_bytes - (48 + 8) * MiB) < 2 * MiB  # pattern + output, plus a little fixed overhead


# --------------------------------------------------------------------------- --runtime on the CLI

def _predict_json(capsys, *args):
    import json

    from hybridperf.cli import ExitCode, main

    assert main(["predict", str(EXAMPLE), "--batch", "1", "--format", "json", "--roofline-only", *args]) == ExitCode.OK
    return json.loads(capsys.readouterr().out)


EXAMPLE = __import__("pathlib").Path(__file__).resolve().parent.parent / "examples" / "resnet_like.onnx"


def test_runtime_defaults_follow_the_device_kind(capsys):
    gpu = _predict_json(capsys, "-d", "t4")
    assert gpu["runtime_memory"]["runtime"] == "torch"
    assert gpu["runtime_memory"]["peak_bytes"] == sum(gpu["runtime_memory"]["parts"].values())
    assert gpu["memory"]["peak_bytes"] == (gpu["memory"]["planned_activation_bytes"] + gpu["memory"]["weight_bytes"]
                                           + gpu["memory"]["input_bytes"])  # the TVM plan stays beside it
    pytest.importorskip("onnxruntime")
    cpu = _predict_json(capsys, "-d", "host-epyc-1c")
    rt = cpu["runtime_memory"]
    assert rt["runtime"] == "onnxruntime" and rt["applied"]
    assert set(rt["parts"]) == {"session", "initializers", "activation_pattern", "outputs", "run_fixed", "inputs"}
    assert rt["parts"]["inputs"] == 1 * 3 * 32 * 32 * 4  # the symbolic batch bound to 1 in onnxruntime's graph too


def test_a_runtime_of_another_device_kind_is_exit_2(capsys):
    """``--runtime torch-cudagraph`` on a CPU sheet (a cuBLAS workspace on a CPU) or ``onnxruntime`` on a GPU (the
    CPU provider's arenas) would price another device kind: one line naming the runtimes that fit, exit 2, before any
    analysis; ``tvm`` fits both kinds."""
    from hybridperf.cli import ExitCode, main

    for dev, rt, fits, auto in (("host-epyc-1c", "torch-cudagraph", "onnxruntime or tvm", "onnxruntime"),
                                ("t4", "onnxruntime", "torch or torch-cudagraph or tvm", "torch")):
        for cmd in (["predict", str(EXAMPLE), "--batch", "1"], ["check", str(EXAMPLE), "--batch", "1", "--max-latency", "1s"]):
            assert main([*cmd, "-d", dev, "--runtime", rt]) == ExitCode.INPUT_ERROR
            out, err = capsys.readouterr()
            kind = "gpu" if dev == "host-epyc-1c" else "cpu"
            assert out == "" and err == (f"hybridperf: error: --runtime {rt} runs on {kind} devices and {dev} is a "
                                         f"{'cpu' if kind == 'gpu' else 'gpu'}: use --runtime {fits}, or leave it out "
                                         f"(auto: {auto})\n")
    assert _predict_json(capsys, "-d", "host-epyc-1c", "--runtime", "tvm")["runtime_memory"]["runtime"] == "tvm"


def test_runtime_tvm_is_plan_plus_workspace(capsys):
    rep = _predict_json(capsys, "-d", "t4", "--runtime", "tvm")
    rt, m = rep["runtime_memory"], rep["memory"]
    assert rt["runtime"] == "tvm"
    assert rt["parts"]["planned_activations"] == m["planned_activation_bytes"]
    assert rt["peak_bytes"] == m["peak_bytes"] + rt["parts"]["kernel_workspace"]


def test_check_max_memory_judges_the_runtime_peak(capsys):
    from hybridperf.cli import ExitCode, main

    peak = _predict_json(capsys, "-d", "t4")["runtime_memory"]["peak_bytes"]
    args = ["check", str(EXAMPLE), "--batch", "1", "-d", "t4", "--roofline-only"]
    assert main([*args, "--max-memory", f"{peak}B"]) == ExitCode.OK
    assert main([*args, "--max-memory", f"{peak - 1}B"]) == ExitCode.BUDGET_EXCEEDED
    assert main([*args, "--runtime", "tvm", "--max-memory", f"{peak}B"]) == ExitCode.OK  # tvm: smaller here
    capsys.readouterr()


def test_table_headline_names_the_runtime(capsys):
    from hybridperf.cli import ExitCode, main

    assert main(["predict", str(EXAMPLE), "--batch", "1", "-d", "t4", "--roofline-only"]) == ExitCode.OK
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("memory"))
    assert " on torch = " in line and "TVM plan: peak" in out


def test_mig_and_mixed_device_check_use_each_devices_runtime(capsys):
    import json

    from hybridperf.cli import ExitCode, main

    gpu_peak = _predict_json(capsys, "-d", "h100-sxm")["runtime_memory"]["peak_bytes"]
    assert main(["mig", str(EXAMPLE), "--batch", "1", "-d", "h100-sxm", "--roofline-only", "--format", "json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["peak_memory_bytes"] == gpu_peak
    pytest.importorskip("onnxruntime")
    cpu_peak = _predict_json(capsys, "-d", "host-epyc-1c")["runtime_memory"]["peak_bytes"]
    assert cpu_peak < gpu_peak  # no 33 MiB of BLAS workspaces (Hopper) on the CPU
    code = main(["check", str(EXAMPLE), "--batch", "1", "-d", "host-epyc-1c", "-d", "h100-sxm", "--roofline-only",
                 "--max-memory", f"{cpu_peak}B", "--format", "json"])
    assert code == ExitCode.BUDGET_EXCEEDED  # within on the CPU (onnxruntime), over on the GPU (PyTorch)
    capsys.readouterr()
