"""Half-precision batch norm gets a memory plan: TVM 0.27's legalization of ``relax.nn.batch_norm`` adds its
epsilon as a float32 constant, so a float16 / bfloat16 batch norm came out float32 and the next binary op's
legalization failed (``R.add(lv11, lv4) uses datatype T.float32``: peak unknown). hybridperf legalizes it in the
input's dtype (:func:`hybridperf.ir.lowering.flegalize`); float32 lowering is TVM's own, unchanged.

Golden values are arithmetic: a 1x8x4x4 activation is 128 elements, 2 B each in float16 (4 B in float32).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridperf.analysis.analyze import analyze_with_memory_module
from hybridperf.analysis.memory import tvm_planned_bytes
from hybridperf.frontends.onnx_import import from_onnx
from hybridperf.ir import lowering
from hybridperf.ir import tvm_compat as _tvm

ELEMS = 1 * 8 * 4 * 4  # the activation
CHANNELS = 8


def bn_add_relu(dtype: int = TensorProto.FLOAT16, np_dtype: type = np.float16):
    """x [1,8,4,4] -> BatchNormalization -> Add(x) -> Relu: the residual pattern whose Add failed to legalize."""
    inits = [numpy_helper.from_array(np.full(CHANNELS, v, np_dtype), n) for n, v in
             (("scale", 1.0), ("bias", 0.0), ("mean", 0.0), ("var", 1.0))]
    nodes = [helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], epsilon=1e-5),
             helper.make_node("Add", ["y", "x"], ["a"]), helper.make_node("Relu", ["a"], ["z"])]
    g = helper.make_graph(nodes, "bn", [helper.make_tensor_value_info("x", dtype, [1, CHANNELS, 4, 4])],
                          [helper.make_tensor_value_info("z", dtype, [1, CHANNELS, 4, 4])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return from_onnx(m, {"x": (1, CHANNELS, 4, 4)}).module


def _tvm_text_bytes(mem_mod) -> float:
    """TVM's own planner, through its text report (its "GB" is GiB), in bytes."""
    _, relax = _tvm.tvm_modules()
    text = relax.analysis.estimate_memory_usage(relax.transform.StaticPlanBlockMemory()(mem_mod))
    gib = re.search(r"With memory planning, there are \d+ constant-size memory allocation\(s\) with total size "
                    r"([0-9.e+-]+) GB", text).group(1)
    return float(gib) * 2**30


def test_fp16_batch_norm_unfused_plan_golden_and_equals_tvm_planner():
    an, mem_mod = analyze_with_memory_module(bn_add_relu(), fused=False)
    m = an.memory
    # before: planned_bytes None, "TVM lowering failed (TypeError)"
    assert m.known and m.unknown_reason == ""
    # batch norm out 128 x 2 B + its running mean / var (8 x 2 B, one block as TVM's planner reuses it)
    # + the add's out 128 x 2 B (the batch norm's is still live) + the relu's out, the function's result, 128 x 2 B
    assert m.planned_bytes == ELEMS * 2 + CHANNELS * 2 + ELEMS * 2 + ELEMS * 2
    assert m.no_reuse_bytes == 3 * ELEMS * 2 + 2 * CHANNELS * 2
    assert m.weight_bytes == 4 * CHANNELS * 2 and m.input_bytes == ELEMS * 2
    assert m.planned_bytes == tvm_planned_bytes(mem_mod)
    assert m.planned_bytes == pytest.approx(_tvm_text_bytes(mem_mod), rel=1e-3)
    # every buffer of the lowered module is float16: no float32 output left behind by the epsilon
    dtypes = set(re.findall(r'dtype="(\w+)"', mem_mod["main"].script(show_meta=False)))
    assert dtypes == {"float16"}


def test_fp16_batch_norm_fused_plan_golden():
    an, mem_mod = analyze_with_memory_module(bn_add_relu(), fused=True)
    # one fused kernel: only its output, the function's result (128 x 2 B)
    assert an.memory.planned_bytes == ELEMS * 2 == tvm_planned_bytes(mem_mod)
    assert an.analysis.unsupported_ops == []


@pytest.mark.parametrize("fused", [True, False])
def test_fp16_plan_is_half_the_fp32_plan_and_flops_agree(fused):
    half, _ = analyze_with_memory_module(bn_add_relu(), fused=fused)
    full, _ = analyze_with_memory_module(bn_add_relu(TensorProto.FLOAT, np.float32), fused=fused)
    assert 2 * half.memory.planned_bytes == full.memory.planned_bytes
    # batch norm 4 / element, add 1, relu 1
    assert half.analysis.flops == full.analysis.flops == (4 + 1 + 1) * ELEMS


def _relax_bn_module(dtype: str):
    """Relax ``main(x, g0..g3)``: an inference batch norm of x [1,8,4,4] added to x (what torch.export imports)."""
    _, relax = _tvm.tvm_modules()
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((1, CHANNELS, 4, 4), dtype))
    params = [relax.Var(f"g{i}", relax.TensorType((CHANNELS,), dtype)) for i in range(4)]
    with bb.function("main", [x, *params]):
        with bb.dataflow():
            bn = bb.emit(relax.op.nn.batch_norm(x, *params, axis=1, epsilon=1e-5, training=False))
            y = bb.emit(relax.TupleGetItem(bn, 0))
            out = bb.emit_output(relax.op.add(y, x))
        bb.emit_func_output(out)
    return bb.get()


def test_bf16_batch_norm_lowers_in_bf16():
    an, mem_mod = analyze_with_memory_module(_relax_bn_module("bfloat16"), fused=False)
    assert an.memory.known
    assert an.memory.planned_bytes == tvm_planned_bytes(mem_mod)
    assert set(re.findall(r'dtype="(\w+)"', mem_mod["main"].script(show_meta=False))) == {"bfloat16"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_other_dtypes_keep_tvm_legalization(dtype):
    tvm, relax = _tvm.tvm_modules()
    mod = _relax_bn_module(dtype)
    op = tvm.ir.Op.get("relax.nn.batch_norm")
    ours = relax.transform.LegalizeOps({"relax.nn.batch_norm": lowering.flegalize(op)})(mod)
    theirs = relax.transform.LegalizeOps()(mod)
    assert _tvm.structural_equal(ours, theirs)
    assert ours.script() == theirs.script()  # byte-identical lowering
