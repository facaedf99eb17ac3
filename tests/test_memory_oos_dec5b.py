"""onnxruntime CPU peak memory, found out of sample (whisper-tiny's encoder, fcn_resnet50, SegFormer): which unary
kernels run in place, and what the first run holds. Hand-built graphs, golden arithmetic; one check against
onnxruntime itself."""

from __future__ import annotations

import sys

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from hybridperf.estimate.runtime_memory import (  # noqa: E402
    OrtFeatures,
    onnxruntime_peak,
    ort_activation_plan,
    ort_tensor_shapes,
)

MiB = 1 << 20
ROWS, COLS = 2048, 1024  # one float32 tensor: 2048 * 1024 * 4 B = 8 MiB


def _unary_graph(op: str, domain: str = "", **attrs):
    """x -> Add(x, 0.5) -> a -> op -> b -> ReduceSum -> y (a scalar): ``a`` dies at ``op``, same shape as ``b``."""
    c = helper.make_tensor("c", TensorProto.FLOAT, [1], [0.5])
    nodes = [helper.make_node("Add", ["x", "c"], ["a"]), helper.make_node(op, ["a"], ["b"], domain=domain, **attrs),
             helper.make_node("ReduceSum", ["b"], ["y"], keepdims=0)]
    g = helper.make_graph(nodes, op, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [ROWS, COLS])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])], [c])
    opsets = [helper.make_opsetid("", 18)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    m = helper.make_model(g, opset_imports=opsets)
    m.ir_version = 8
    return m


def _plan(m):
    return ort_activation_plan(m, ort_tensor_shapes(m)[0])


@pytest.mark.parametrize("op,attrs", [("Softmax", {"axis": -1}), ("LogSoftmax", {"axis": -1}), ("Elu", {}),
                                      ("Softplus", {}), ("Softsign", {})])
def test_softmax_and_elu_family_run_in_place(op, attrs):
    # until 2026-12-05b: Softmax was not in place (whisper-tiny encoder b1: 51.5 MiB attention scores counted twice,
    # onnxruntime peak 184.5 MiB predicted, 130.5 measured); b now overwrites a: one 8 MiB buffer, not two
    plan = _plan(_unary_graph(op, **attrs))
    assert plan.pattern_bytes == 8 * MiB
    assert plan.buffers == 1


@pytest.mark.parametrize("op,domain", [("Erf", ""), ("Sqrt", ""), ("Neg", ""), ("Gelu", "com.microsoft"),
                                       ("FastGelu", "com.microsoft"), ("QuickGelu", "com.microsoft")])
def test_erf_sqrt_neg_and_gelu_do_not_run_in_place(op, domain):
    # until 2026-12-05b: Erf / Sqrt / Neg were taken as in place (SegFormer-b0 b1: 146 MiB of pattern, 202 MiB with
    # them not; measured run 204.8 MiB); a and b are both alive at the op: 8 + 8 MiB
    plan = _plan(_unary_graph(op, domain))
    assert plan.pattern_bytes == 8 * MiB + 8 * MiB
    assert plan.buffers == 2


def _binary_graph(op: str):
    """x -> Add -> a, x -> Mul -> d; b = op(a, d) while d stays alive for a later ReduceSum: a dies at ``op``."""
    c = helper.make_tensor("c", TensorProto.FLOAT, [1], [0.5])
    nodes = [helper.make_node("Add", ["x", "c"], ["a"]), helper.make_node("Mul", ["x", "c"], ["d"]),
             helper.make_node(op, ["a", "d"], ["b"]), helper.make_node("ReduceSum", ["b"], ["y1"], keepdims=0),
             helper.make_node("ReduceSum", ["d"], ["y2"], keepdims=0), helper.make_node("Add", ["y1", "y2"], ["y"])]
    g = helper.make_graph(nodes, op, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [ROWS, COLS])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])], [c])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Pow"])
def test_binary_elementwise_ops_do_not_run_in_place(op):
    # until 2026-12-05b: Add / Sub / Mul / Div / Pow wrote over a dying input (qwen2-tiny b1: 9.6 MiB of pattern,
    # 13.8 MiB without; measured run 15.8 MiB): a, d and b are alive at once, 3 x 8 MiB
    assert _plan(_binary_graph(op)).pattern_bytes == 3 * 8 * MiB  # the 4-byte y1 goes into the gap a leaves


def test_run_part_is_the_pattern_not_the_no_reuse_live_set():
    # until 2026-12-05b: the run part was max(pattern, live set without reuse): an in-place Relu over 8 MiB read
    # 16 MiB (fcn_resnet50 b1: 94.5 MiB of run predicted, 86.0 measured, 86.6 with the pattern alone)
    plan = _plan(_unary_graph("Relu"))
    assert plan.pattern_bytes == 8 * MiB
    assert plan.live_peak_bytes == 8 * MiB + 8 * MiB  # a and b as two values: not what onnxruntime allocates
    assert plan.run_bytes == 8 * MiB
    feat = OrtFeatures(initializer_bytes=0, activations=plan, input_bytes=ROWS * COLS * 4, optimised=False,
                       unknown_ops=(), nodes=3)
    parts = dict(onnxruntime_peak(feat).parts)
    assert parts["activation_pattern"] == 8 * MiB
    assert "kernel_scratch" not in parts


@pytest.mark.parametrize("op,attrs,in_place", [("Softmax", {"axis": -1}, True), ("Relu", {}, True),
                                               ("Erf", {}, False), ("Add", {}, False)])
def test_onnxruntime_itself_agrees(tmp_path, op, attrs, in_place):
    """onnxruntime's resident run peak (hybridperf.measure.onnxruntime, two runs, arena off) is one 8 MiB buffer
    where the kernel runs in place, two where it does not (three for Add: its other input stays alive), as the
    replay says."""
    pytest.importorskip("onnxruntime")
    if not sys.platform.startswith("linux"):
        pytest.skip("resident-set figures need Linux /proc")
    from hybridperf.measure.onnxruntime import measure

    m = _binary_graph(op) if op == "Add" else _unary_graph(op, **attrs)
    path = tmp_path / f"{op}.onnx"
    onnx.save(m, str(path))
    meas = measure(path, threads=1, repeats=1, warmup=0, profile=False)
    if meas.run_peak_bytes is None:
        pytest.skip("no VmHWM on this system")
    expected = (3 if op == "Add" else 1 if in_place else 2) * 8 * MiB
    assert _plan(m).run_bytes == expected
    assert abs(meas.run_peak_bytes - expected) < 2 * MiB
