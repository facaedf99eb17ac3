"""Peak memory of int8 (QDQ) models: the plan describes the execution the latency prices (dequantize / quantize
folded into int8 kernels), TVM's own plan of the imported module is kept beside it; a precision override leaves an
int8 model's memory as its warning says; a model's own int8 kernels priced at an assumed rate are warned about.

Golden values are arithmetic: int8 1 B per element, float32 4 B.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


def qdq_model() -> onnx.ModelProto:
    """x float [1,3,8,8] -> Q -> DQ -> Conv(DQ(W1 int8 [4,3,3,3]), pad 1) -> Q -> DQ -> Flatten [1,256]
    -> MatMul(DQ(W2 int8 [256,10])) -> Q -> DQ -> y float [1,10]: quantize_static's QDQ form."""
    rng = np.random.default_rng(0)
    f = lambda n, v: numpy_helper.from_array(np.array(v, np.float32), n)  # noqa: E731
    z = lambda n: numpy_helper.from_array(np.array(0, np.int8), n)  # noqa: E731
    inits = [f("s", 0.05), z("zp"), f("sw", 0.01),
             numpy_helper.from_array(rng.integers(-100, 100, (4, 3, 3, 3)).astype(np.int8), "w1"),
             numpy_helper.from_array(rng.integers(-100, 100, (256, 10)).astype(np.int8), "w2")]
    q = lambda i, o: helper.make_node("QuantizeLinear", [i, "s", "zp"], [o])  # noqa: E731
    dq = lambda i, o, s="s": helper.make_node("DequantizeLinear", [i, s, "zp"], [o])  # noqa: E731
    nodes = [q("x", "xq"), dq("xq", "xd"), dq("w1", "w1d", "sw"),
             helper.make_node("Conv", ["xd", "w1d"], ["c"], pads=[1, 1, 1, 1]), q("c", "cq"), dq("cq", "cd"),
             helper.make_node("Flatten", ["cd"], ["fl"]), q("fl", "flq"), dq("flq", "fld"), dq("w2", "w2d", "sw"),
             helper.make_node("MatMul", ["fld", "w2d"], ["m"]), q("m", "mq"), dq("mq", "y")]
    g = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def float_model() -> onnx.ModelProto:
    """The same network in float32: Conv(W1 [4,3,3,3]) -> Flatten -> MatMul(W2 [256,10])."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.1, (4, 3, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(0, 0.1, (256, 10)).astype(np.float32), "w2")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Flatten", ["c"], ["fl"]),
             helper.make_node("MatMul", ["fl", "w2"], ["y"])]
    g = helper.make_graph(nodes, "f", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


@pytest.fixture(scope="module")
def qdq_path(tmp_path_factory):
    p = tmp_path_factory.mktemp("int8mem") / "qdq.onnx"
    onnx.save(qdq_model(), str(p))
    return p


@pytest.fixture(scope="module")
def float_path(tmp_path_factory):
    p = tmp_path_factory.mktemp("int8mem") / "float.onnx"
    onnx.save(float_model(), str(p))
    return p


# the tensors of the int8 execution: the quantized input, the conv's int8 result, the float32 output
XQ, CONV_Q, OUT = 3 * 8 * 8, 4 * 8 * 8, 10 * 4
WEIGHTS = 4 * 3 * 3 * 3 + 256 * 10 + 2 * 4 + 1  # int8 W1, W2; float32 scales s, sw; int8 zero point
INPUT = 3 * 8 * 8 * 4


@pytest.mark.parametrize("fused", [True, False])
def test_int8_plan_is_the_int8_execution(qdq_path, fused):
    from hybridperf.analysis.analyze import analyze

    m = analyze(qdq_path, fused=fused).memory
    assert m.execution == "int8"
    assert (m.weight_bytes, m.input_bytes) == (WEIGHTS, INPUT)
    # before: every dequantize was a float32 tensor, the weights' too: W2 alone 256 * 10 * 4 = 10240 B planned.
    # Now: the quantized input (192 B) and the conv's int8 result (256 B) live together while the conv runs; the
    # flatten -> Q -> DQ round trip is a view of the conv's result; the output (40 B float32) is TVM's (unplanned)
    assert m.live_peak_bytes == XQ + CONV_Q
    # unfused, the last dequantize is a kernel of its own (the graph output is float32): the matmul writes its
    # 10 int8 B first; fused, matmul -> Q -> DQ is one kernel writing the output
    mm_q = 0 if fused else 10
    assert m.planned_bytes == XQ + CONV_Q + mm_q + OUT
    assert m.peak_bytes == XQ + CONV_Q + mm_q + OUT + WEIGHTS + INPUT
    assert all(lt.nbytes != 256 * 10 * 4 for lt in m.lifetimes)  # no dequantized weight


def test_tvm_plan_of_the_module_kept_beside_it(qdq_path):
    from hybridperf.analysis.analyze import analyze_with_memory_module
    from hybridperf.analysis.memory import tvm_planned_bytes

    a, mem_mod = analyze_with_memory_module(qdq_path)
    tvm = a.memory.as_imported
    assert tvm is not None and tvm.execution == ""
    assert tvm.planned_bytes == tvm_planned_bytes(mem_mod)  # TVM's own planner on the module it builds
    # the dequantized weights are float32 activations there: W1 3*3*3*4 * 4 B and W2 256*10 * 4 B
    sizes = {lt.nbytes for lt in tvm.lifetimes}
    assert {4 * 3 * 3 * 3 * 4, 256 * 10 * 4} <= sizes
    assert tvm.planned_bytes > a.memory.planned_bytes + 256 * 10 * 4
    assert tvm.weight_bytes == a.memory.weight_bytes and tvm.input_bytes == a.memory.input_bytes


def test_float_model_plan_unchanged(float_path):
    from hybridperf.analysis.analyze import analyze_with_memory_module
    from hybridperf.analysis.memory import tvm_planned_bytes

    a, mem_mod = analyze_with_memory_module(float_path)
    assert a.memory.execution == "" and a.memory.as_imported is None
    assert a.memory.planned_bytes == tvm_planned_bytes(mem_mod)
    assert a.memory.planned_bytes == 4 * 8 * 8 * 4 + 10 * 4  # the conv's float32 result + the output


def test_int8_off_keeps_tvm_plan(qdq_path):
    from hybridperf.analysis.analyze import analyze

    on, off = analyze(qdq_path), analyze(qdq_path, int8=False)
    assert off.memory.execution == "" and off.memory.as_imported is None
    assert off.memory.planned_bytes == on.memory.as_imported.planned_bytes


def test_precision_override_leaves_an_int8_model_as_its_warning_says(qdq_path, float_path):
    from hybridperf.analysis.analyze import analyze
    from hybridperf.estimate.pricing import predict_on

    a = analyze(qdq_path)
    p = predict_on(a, "snapdragon-855", "fp16")
    assert any("no float32 op to re-price" in w for w in p.warnings)
    # before: 232 B-style float32 scales and every float32 tensor of the plan were halved despite that warning
    assert (p.memory.peak_bytes, p.memory.weight_bytes) == (a.memory.peak_bytes, WEIGHTS)
    assert p.peak_memory_bytes == XQ + CONV_Q + OUT + WEIGHTS + INPUT
    f = analyze(float_path)
    pf = predict_on(f, "snapdragon-855", "fp16")  # a float model is re-stored at 2 B
    assert pf.memory.weight_bytes == (4 * 3 * 3 * 3 + 256 * 10) * 2
    assert pf.memory.input_bytes == INPUT // 2


def test_own_int8_kernels_at_an_assumed_rate_warn(qdq_path, float_path):
    from hybridperf.analysis.analyze import analyze
    from hybridperf.estimate.pricing import predict_on

    # until 2026-12-05 the line named the peak alone, though the energy per MAC falls back to fp32's with it
    line = ("raspberry-pi-4b lists no int8 peak; the model's int8 kernels are priced at its fp32 peak and energy per MAC "
            "(an assumed rate)")
    q = analyze(qdq_path)
    assert line in predict_on(q, "raspberry-pi-4b").warnings  # before: no warning at all
    assert not any("lists no int8 peak" in w for w in predict_on(q, "snapdragon-855").warnings)  # it has one
    f = analyze(float_path)
    assert not any("lists no" in w for w in predict_on(f, "raspberry-pi-4b").warnings)
    # the override's own line stays as it was, once
    ws = predict_on(f, "raspberry-pi-4b", "int8").warnings
    assert [w for w in ws if "lists no" in w] == [
        "--precision int8: raspberry-pi-4b lists no int8 peak; its kernels are priced at its fp32 peak and energy per MAC"]


def test_tvm_runtime_peak_names_the_int8_execution(qdq_path):
    from hybridperf.analysis.analyze import analyze
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.estimate.runtime_memory import TVM_INT8_INCLUDES, runtime_peak

    a = analyze(qdq_path, workspace=True)
    peak, why = runtime_peak(predict_on(a, "raspberry-pi-4b"), "tvm")
    assert why == "" and peak.includes == TVM_INT8_INCLUDES
    assert peak.part("planned_activations") == XQ + CONV_Q + OUT


def test_reports_name_the_int8_execution_and_the_module_plan(qdq_path, float_path):
    """The table, JSON and HTML say which execution the headline plans and give TVM's own plan of the module as
    imported beside it; a float model's report has neither."""
    from hybridperf.api import analyze, predict_on
    from hybridperf.report.html import render_html
    from hybridperf.report.text import memory_text, to_dict

    pred = predict_on(analyze(qdq_path), "raspberry-pi-4b", residual=None)
    m, ai = pred.memory, pred.memory.as_imported
    mem = to_dict(pred)["memory"]
    assert mem["execution"] == "int8" and "on the int8 execution" in mem["planner"]
    assert mem["peak_bytes"] == m.peak_bytes == m.planned_bytes + m.weight_bytes + m.input_bytes
    assert mem["tvm_module_plan"] == {"peak_bytes": ai.peak_bytes, "planned_activation_bytes": ai.planned_bytes,
                                      "live_set_lower_bound_bytes": ai.live_peak_bytes,
                                      "no_reuse_activation_bytes": ai.no_reuse_bytes}
    assert ai.peak_bytes == ai.planned_bytes + m.weight_bytes + m.input_bytes > m.peak_bytes
    text = memory_text(pred)
    assert "(TVM policy, int8 execution;" in text and "TVM's plan of the module as imported" in text
    assert "plan of the module as imported (dequantized to float32)" in render_html(pred)  # its ' escaped
    fl = to_dict(predict_on(analyze(float_path), "raspberry-pi-4b", residual=None))["memory"]
    assert fl["execution"] is None and fl["tvm_module_plan"] is None and fl["planner"].startswith(
        "TVM StaticPlanBlockMemory policy, fused")
