"""Output dtypes the ONNX import keeps, and op outputs the memory plan holds.

1. An op whose output dtype comes from an attribute or a non-first input keeps ONNX's dtype in Relax
   (:mod:`hybridperf.frontends.onnx_dtype`): a OneHot with float32 values came out float64 (8 indices,
   depth 10: ``8*10*8`` B, not ``8*10*4``) and a precision override did not shrink it.
2. TopK (and the other ops TVM's build dispatches before ``LegalizeOps``) is lowered to its kernel, so its
   values and indices are planned (they were missing from the plan); an op left as a call makes the plan a
   lower bound naming it (:attr:`hybridperf.analysis.memory.MemoryPlan.lower_bound_reason`).

Golden values as arithmetic: float32 4 B, float16 2 B, int64 8 B, int32 4 B per element.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

F32, F16, F64, I64, I32, I8, U8, BOOL = T.FLOAT, T.FLOAT16, T.DOUBLE, T.INT64, T.INT32, T.INT8, T.UINT8, T.BOOL


def _vi(name: str, elem: int, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def _c(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def _model(nodes, inputs, outputs, inits=(), opset: int = 17) -> onnx.ModelProto:
    """A graph with its outputs typed by ONNX shape inference (what onnxruntime needs)."""
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(o, 0, None) for o in outputs], list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m, strict_mode=True)


def _one_hot(values_dtype, indices_dtype: int = I64, depth=np.array(10, np.int64), axis: int = -1) -> onnx.ModelProto:
    """OneHot of 8 indices, depth 10, values (off, on) = (2, 7)."""
    return _model([helper.make_node("OneHot", ["i", "d", "v"], ["y"], axis=axis)], [_vi("i", indices_dtype, [8])], ["y"],
                  [_c("d", depth), _c("v", np.array([2, 7], values_dtype))], opset=13)


def _topk() -> onnx.ModelProto:
    """The top 5 of 32 per row of a 4x32 float32 input: float32 values, int64 indices."""
    return _model([helper.make_node("TopK", ["x", "k"], ["v", "ix"], axis=-1)], [_vi("x", F32, [4, 32])], ["v", "ix"],
                  [_c("k", np.array([5], np.int64))])


def _relax_dtypes(model: onnx.ModelProto) -> list[str]:
    from hybridperf.frontends.load import load_model
    from hybridperf.ir import tvm_compat as _tvm

    mod = load_model(model).module
    return [i.dtype for i in _tvm.tensor_infos(_tvm.expr_type(mod["main"].body.body))]


def _onnx_dtypes(model: onnx.ModelProto) -> list[str]:
    return [np.dtype(helper.tensor_dtype_to_np_dtype(o.type.tensor_type.elem_type)).name for o in model.graph.output]


# ------------------------------------------------------------------ 1. output dtypes


def _x(elem: int = F32):
    return _vi("x", elem, [4, 5])


def _plus_work(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with a second output computed from a new input (``Relu``): a model whose outputs all fold to constants
    computes nothing and is refused since 2026-12-04 (`normalize.check_computes`); the folded output's dtype is what
    these cases check."""
    g = model.graph
    g.input.append(_vi("w", F32, [2]))
    g.node.append(helper.make_node("Relu", ["w"], ["wy"]))
    g.output.append(_vi("wy", F32, [2]))
    return model


#: one tiny graph per op whose output dtype comes from an attribute or a non-first input; the first group
#: drifted (or failed to import) before hybridperf.frontends.onnx_dtype, the rest are guards
DTYPE_CASES = {
    "OneHot float32 values": _one_hot(np.float32),
    "OneHot float16 values": _one_hot(np.float16),
    "OneHot int32 values": _one_hot(np.int32),
    "OneHot int32 indices, float depth": _one_hot(np.float32, I32, np.array([10.0], np.float32)),
    "EyeLike dtype=int32": _model([helper.make_node("EyeLike", ["x"], ["y"], dtype=I32)], [_x()], ["y"]),
    "EyeLike dtype=float64": _model([helper.make_node("EyeLike", ["x"], ["y"], dtype=F64)], [_x()], ["y"]),
    "Pow float16 ** float32": _model([helper.make_node("Pow", ["x", "p"], ["y"])], [_x(F16)], ["y"],
                                     [_c("p", np.array(2.0, np.float32))]),
    "Pow float32 ** int64": _model([helper.make_node("Pow", ["x", "p"], ["y"])], [_x(), _vi("p", I64, [1])], ["y"]),
    "Pow int32 ** float32": _model([helper.make_node("Pow", ["x", "p"], ["y"])], [_x(I32), _vi("p", F32, [1])], ["y"]),
    "Elu float16": _model([helper.make_node("Elu", ["x"], ["y"])], [_x(F16)], ["y"]),
    "Selu float16": _model([helper.make_node("Selu", ["x"], ["y"])], [_x(F16)], ["y"]),
    "ThresholdedRelu float16": _model([helper.make_node("ThresholdedRelu", ["x"], ["y"])], [_x(F16)], ["y"]),
    # guards: TVM's converters already right
    "OneHot int64 values": _one_hot(np.int64),
    "Cast to float16": _model([helper.make_node("Cast", ["x"], ["y"], to=F16)], [_x()], ["y"]),
    "Cast to int8": _model([helper.make_node("Cast", ["x"], ["y"], to=I8)], [_x()], ["y"]),
    "CastLike float16": _model([helper.make_node("CastLike", ["x", "t"], ["y"])], [_x(), _vi("t", F16, [1])], ["y"]),
    "ConstantOfShape int32": _plus_work(_model([helper.make_node("ConstantOfShape", ["s"], ["y"],
                                                                value=helper.make_tensor("value", I32, [1], [3]))],
                                               [], ["y"], [_c("s", np.array([4, 5], np.int64))])),
    "ConstantOfShape float16": _plus_work(_model([helper.make_node("Shape", ["x"], ["s"]),
                                                  helper.make_node("ConstantOfShape", ["s"], ["y"],
                                                                   value=helper.make_tensor("value", F16, [1], [1.0]))],
                                                 [_x()], ["y"])),
    "EyeLike of float16": _model([helper.make_node("EyeLike", ["x"], ["y"])], [_x(F16)], ["y"]),
    "Range int32": _plus_work(_model([helper.make_node("Range", ["a", "b", "d"], ["y"])], [], ["y"],
                                     [_c("a", np.array(0, np.int32)), _c("b", np.array(10, np.int32)),
                                      _c("d", np.array(2, np.int32))])),
    "Shape": _plus_work(_model([helper.make_node("Shape", ["x"], ["y"])], [_x()], ["y"])),
    "Size": _plus_work(_model([helper.make_node("Size", ["x"], ["y"])], [_x()], ["y"])),
    "NonZero": _model([helper.make_node("NonZero", ["x"], ["y"])], [_x()], ["y"]),
    "ArgMax": _model([helper.make_node("ArgMax", ["x"], ["y"], axis=1)], [_x()], ["y"]),
    "TopK float16": _model([helper.make_node("TopK", ["x", "k"], ["v", "y"], axis=1)], [_x(F16)], ["v", "y"],
                           [_c("k", np.array([2], np.int64))]),
    "QuantizeLinear int8": _model([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])], [_x()], ["y"],
                                  [_c("s", np.array(0.1, np.float32)), _c("z", np.array(3, np.int8))]),
    "QuantizeLinear no zero point": _model([helper.make_node("QuantizeLinear", ["x", "s"], ["y"])], [_x()], ["y"],
                                           [_c("s", np.array(0.1, np.float32))]),
    "DequantizeLinear float16 scale": _model([helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])],
                                             [_vi("q", I8, [4, 5])], ["y"],
                                             [_c("s", np.array(0.1, np.float16)), _c("z", np.array(3, np.int8))], opset=19),
    "Where float16": _model([helper.make_node("Where", ["b", "x", "z"], ["y"])],
                            [_vi("b", BOOL, [4, 5]), _x(F16), _vi("z", F16, [4, 5])], ["y"]),
    "Resize uint8": _model([helper.make_node("Resize", ["x", "", "sc"], ["y"], mode="nearest")], [_vi("x", U8, [1, 1, 4, 5])],
                           ["y"], [_c("sc", np.array([1, 1, 2, 2], np.float32))]),
}


@pytest.mark.parametrize("name", list(DTYPE_CASES))
def test_relax_output_dtype_is_onnx_output_dtype(name):
    model = DTYPE_CASES[name]
    assert _relax_dtypes(model) == _onnx_dtypes(model)


def test_one_hot_float32_values_stay_float32_and_shrink_under_an_override():
    from hybridperf.api import analyze, predict_on

    an = analyze(_one_hot(np.float32), fused=True)
    (rec,) = [r for r in an.analysis.records if r.op == "relax.one_hot"]
    assert [(o.dtype, o.nbytes) for o in rec.outputs] == [("float32", 8 * 10 * 4)]  # was float64, 8*10*8
    assert an.memory.planned_bytes == 8 * 10 * 4  # one fused kernel: the one-hot output
    half = predict_on(an, "t4", "fp16", residual=None)
    assert half.memory.planned_bytes == 8 * 10 * 2


@pytest.mark.parametrize("values_dtype, indices_dtype, depth, axis", [
    (np.float32, I64, np.array(10, np.int64), -1),
    (np.float16, I64, np.array(10, np.int64), -1),
    (np.float32, I32, np.array([10.0], np.float32), 0),
])
def test_one_hot_values_match_onnxruntime(values_dtype, indices_dtype, depth, axis):
    ort = pytest.importorskip("onnxruntime")
    import tvm
    from tvm import relax

    from hybridperf.frontends.load import load_model

    model = _one_hot(values_dtype, indices_dtype, depth, axis)
    idx = np.array([0, 3, -1, 9, 2, -10, 5, 1], helper.tensor_dtype_to_np_dtype(indices_dtype))  # -1 -> 9, -10 -> 0
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"i": idx})[0]
    vm = relax.VirtualMachine(relax.build(load_model(model).module, target="llvm"), tvm.cpu())
    got = vm["main"](tvm.runtime.tensor(idx)).numpy()
    assert got.dtype == want.dtype == values_dtype
    assert got.shape == want.shape == ((8, 10) if axis == -1 else (10, 8))
    np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------ 2. ops the plan holds


@pytest.mark.parametrize("fused", [True, False])
def test_topk_values_and_indices_are_planned(fused):
    from hybridperf.analysis.analyze import analyze_with_memory_module
    from hybridperf.analysis.memory import tvm_planned_bytes

    an, mem_mod = analyze_with_memory_module(_topk(), fused=fused)
    m = an.memory
    assert sorted((lt.dtype, lt.nbytes) for lt in m.lifetimes) == [("float32", 4 * 5 * 4), ("int64", 4 * 5 * 8)]
    assert m.planned_bytes == 4 * 5 * 4 + 4 * 5 * 8  # was 0: both outputs missing
    assert m.peak_bytes == 4 * 5 * 4 + 4 * 5 * 8 + 4 * 32 * 4  # + the input
    assert m.planned_bytes == tvm_planned_bytes(mem_mod)
    assert m.ops_outside_plan == () and m.lower_bound_reason == "" and not an.memory_is_lower_bound
    assert [k.op_indices for k in an.kernels] == [(0,)]  # the TopK's own kernel


def test_topk_indices_keep_their_bytes_under_an_override():
    from hybridperf.api import analyze, predict_on

    half = predict_on(analyze(_topk()), "t4", "fp16", residual=None)
    assert half.memory.planned_bytes == 4 * 5 * 2 + 4 * 5 * 8


def _fma_module():
    """``add(x, x)`` -> ``ewise_fma`` (no legalization in TVM 0.27) -> ``multiply`` on 4x5 float32."""
    from tvm import relax

    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((4, 5), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            a = bb.emit(relax.op.add(x, x))
            f = bb.emit(relax.op.ewise_fma(a, a, a))
            out = bb.emit_output(relax.op.multiply(f, f))
        bb.emit_func_output(out)
    return bb.get()


@pytest.mark.parametrize("fused", [True, False])
def test_op_left_as_a_call_makes_the_plan_a_lower_bound_naming_it(fused):
    from hybridperf.analysis.memory import plan_memory, plan_stream, tvm_planned_bytes
    from hybridperf.ir import call_stream, lowering

    tagged = lowering.tag_and_legalize(_fma_module(), ["lv", "lv1", "gv"])
    module = lowering.fuse(tagged) if fused else tagged
    assert lowering.ops_outside_plan(module) == {"relax.ewise_fma": 4 * 5 * 4}
    mem_mod = lowering.to_memory_plannable(module, fused)
    plan = plan_memory(mem_mod)
    # the add's output and the function's result are planned (TVM's figure); the fma's is not
    assert plan.planned_bytes == tvm_planned_bytes(mem_mod) == 4 * 5 * 4 + 4 * 5 * 4
    assert plan.ops_outside_plan == (("relax.ewise_fma", 4 * 5 * 4),)
    assert plan.lower_bound_reason == "op outputs not in TVM's plan: relax.ewise_fma (80 B)"
    streamed = plan_stream(call_stream.of_fused(module), ops_outside_plan=lowering.ops_outside_plan(module))
    assert streamed.lower_bound_reason == plan.lower_bound_reason


#: registry ops without a legalization in TVM 0.27 that need none for the plan: shape bookkeeping and hints
_PLAN_NEUTRAL = {"relax.shape_of", "relax.tensor_to_shape", "relax.hint_on_device"}
#: registry ops TVM 0.27 cannot lower: a plan holding one is a lower bound naming it
_NOT_LOWERED = {"relax.ewise_fma"}


def test_every_registry_op_is_legalized_dispatched_or_known():
    import tvm
    import tvm.relax.transform.legalize_ops  # noqa: F401 - registers FLegalize

    from hybridperf.costs import default_registry
    from hybridperf.ir.lowering import DISPATCHED_OPS

    reg = default_registry()
    left = {n for n in reg.counted_ops | reg.zero_cost_ops if tvm.ir.Op.get(n).get_attr("FLegalize") is None}
    assert left - DISPATCHED_OPS == _PLAN_NEUTRAL | _NOT_LOWERED
    assert left & DISPATCHED_OPS == {"relax.topk", "relax.sort", "relax.argsort", "relax.cumsum", "relax.cumprod"}


def test_nonzero_output_allocated_by_the_runtime_is_named_outside_the_plan():
    from hybridperf.analysis.analyze import analyze_with_memory_module

    # y = nonzero(relu(x)) on 4x5 float32: the relu's output is planned, NonZero's (data-dependent) is not
    model = _model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("NonZero", ["r"], ["y"])], [_x()], ["y"])
    an, _ = analyze_with_memory_module(model, fused=True)
    assert an.memory.planned_bytes == 4 * 5 * 4
    assert an.memory.ops_outside_plan == (("relax.run.nonzero", None),)
    assert an.memory.lower_bound_reason == "op outputs not in TVM's plan: relax.run.nonzero (size unknown)"
    assert an.memory_is_lower_bound
