"""The memory plan from a fused module's call stream equals the plan of the lowered module.

:func:`hybridperf.ir.call_stream.of_fused` emulates FuseTIR → RewriteDataflowReshape →
ToNonDataflow → RemovePurityChecking → CallTIRRewrite without running them; the plan made on
its stream must be the plan made on the module those passes return (itself pinned to TVM's
``StaticPlanBlockMemory`` in ``tests/test_models.py``), field by field, lifetimes and names included.
"""

from __future__ import annotations

import pytest
from onnx_models import batches_taken
from zoo_exports import ZOO

ZOO_MODELS = ("mobilenet_v3_small_b1_r224_legacy.onnx", "bert_tiny_b1_s128_legacy.onnx", "gpt2_b1_s128_legacy.onnx",
              "efficientnet_b0_b1_r224_legacy.onnx", "densenet121_b1_r224_legacy.onnx")


def _plans(path, batch, fused):
    from hybridperf.analysis.cost_pass import analyze_module
    from hybridperf.analysis.memory import plan_memory, plan_stream
    from hybridperf.frontends.load import load_model
    from hybridperf.ir import call_stream, lowering

    mod = load_model(path, batch=batch).module
    analysis = analyze_module(mod)
    tagged = lowering.tag_and_legalize(mod, [r.var for r in analysis.records])
    module = lowering.fuse(tagged) if fused else tagged
    lowered = plan_memory(lowering.to_memory_plannable(module, fused), analysis.weight_bytes, 16)
    stream = call_stream.of_fused(module)
    assert stream is not None, f"{path}: not emulated"
    return lowered, plan_stream(stream, analysis.weight_bytes, 16)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("batch", [1, 2])
def test_plan_from_fused_module_equals_lowered(model_dir, batch, fused):
    for path in sorted(model_dir.glob("*.onnx")):
        lowered, direct = _plans(path, batch, fused)
        assert lowered.known and lowered.lifetimes
        assert direct == lowered, f"{path.name} batch {batch} fused={fused}"


def test_tuple_outputs_and_arguments(tmp_path):
    """Split's tuple output, its items read by other kernels, and a Concat of a tuple."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Split", ["r"], ["a", "b", "c"], axis=1, num_outputs=3),
             helper.make_node("Sigmoid", ["a"], ["sa"]), helper.make_node("Tanh", ["c"], ["tc"]),
             helper.make_node("Concat", ["sa", "b", "tc"], ["cat"], axis=1),
             helper.make_node("Flatten", ["cat"], ["out"], axis=1)]
    graph = helper.make_graph(nodes, "split", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6, 4])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)])
    path = tmp_path / "split.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    for fused in (True, False):
        lowered, direct = _plans(path, None, fused)
        assert direct == lowered


def test_not_emulated_gives_none():
    """A construct the emulation does not cover (here ``call_dps_packed``) leaves it to the passes."""
    from hybridperf.ir import call_stream
    from hybridperf.ir.tvm_compat import tvm_modules

    tvm, relax = tvm_modules()
    x = relax.Var("x", relax.TensorType((2, 3), "float32"))
    bb = relax.BlockBuilder()
    with bb.function("main", [x]):
        with bb.dataflow():
            lv = bb.emit(relax.call_dps_packed("my_kernel", (x,), relax.TensorType((2, 3), "float32")))
            out = bb.emit_output(lv)
        bb.emit_func_output(out)
    assert call_stream.of_fused(bb.get()) is None


def test_reshape_patterns_remembers_per_body(model_dir):
    from hybridperf.analysis.cost_pass import analyze_module
    from hybridperf.frontends.load import load_model
    from hybridperf.ir import call_stream, lowering
    from hybridperf.ir.tvm_compat import is_prim_func, tvm_modules

    _, relax = tvm_modules()
    mod = load_model(model_dir / "bert_like.onnx", batch=1).module
    tagged = lowering.tag_and_legalize(mod, [r.var for r in analyze_module(mod).records])
    prims = [f for _, f in tagged.functions_items() if is_prim_func(f)]
    memo = call_stream.ReshapePatterns()
    assert [memo(f) for f in prims] == [bool(relax.analysis.has_reshape_pattern(f)) for f in prims]
    assert any(memo(f) for f in prims) and not all(memo(f) for f in prims)
    assert len(memo) < len(prims)  # tagged copies of one PrimFunc share its body: one entry


def test_analyze_plans_without_lowering_the_same(model_dir):
    """``analyze`` (call stream) and ``analyze_with_memory_module`` (lowered module) agree."""
    import dataclasses

    from hybridperf.analysis.analyze import analyze, analyze_with_memory_module

    for path in sorted(model_dir.glob("*.onnx")):
        batch = 2 if batches_taken(path, (2,)) else None  # bert_like's batch is fixed at 1
        a = analyze(path, batch=batch)
        b, mem_mod = analyze_with_memory_module(path, batch=batch)
        assert mem_mod is not None
        assert dataclasses.replace(a, timings_s={}) == dataclasses.replace(b, timings_s={})


@pytest.mark.slow
@pytest.mark.skipif(not all((ZOO / m).exists() for m in ZOO_MODELS), reason="zoo exports not present")
def test_plan_from_fused_module_equals_lowered_on_zoo():
    for m in ZOO_MODELS:
        lowered, direct = _plans(ZOO / m, None, True)
        assert direct == lowered, m
