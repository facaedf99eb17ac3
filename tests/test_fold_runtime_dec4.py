"""Constant subexpressions priced per runtime: folded where the runtime folds constants, run where it does not.

Until 2026-12-04 the cost pass priced every op whose inputs are all constants as free ("folded at compile time")
for every runtime. onnxruntime (constant folding, a basic graph optimisation) and TVM (``FoldConstant``) do fold
them; eager PyTorch and CUDA-graph replay of it run the graph as written, every call. A GRU or LSTM exported with a
zero initial state starts with ``h0 @ W_hh`` on constants only: under ``--runtime torch`` such models came out
5.7-6.7 % low in FLOPs (8 % for the H=1024 GRU below), with those ops shown as 0 FLOP.
"""

from __future__ import annotations

import numpy as np
import pytest

B, I, H = 2, 32, 64  # batch, input and hidden size of one GRU-like step: gates 3H wide
G = 3 * H


def _gru_step_module():
    """One recurrent step from a zero state: ``x @ W_ih + (h0 @ W_hh + b_hh)`` then a sigmoid, with the permute_dims
    TVM's ONNX import writes for a Gemm's transB (a layout change of a weight)."""
    from hybridperf.ir.tvm_compat import tvm_modules

    _, relax = tvm_modules()
    rng = np.random.default_rng(0)
    x = relax.Var("x", relax.TensorType((B, I), "float32"))
    bb = relax.BlockBuilder()
    with bb.function("main", [x]):
        with bb.dataflow():
            w_ih = relax.const(rng.standard_normal((I, G)).astype("float32"))
            w_hh_t = relax.const(rng.standard_normal((G, H)).astype("float32"))  # stored as (out, in), as nn.Linear
            b_hh = relax.const(rng.standard_normal((G,)).astype("float32"))
            h0 = relax.const(np.zeros((B, H), "float32"))
            xw = bb.emit(relax.op.matmul(x, w_ih))  # 2*B*I*G, runs everywhere
            w_hh = bb.emit(relax.op.permute_dims(w_hh_t))  # a weight's layout: folded everywhere
            hw = bb.emit(relax.op.matmul(h0, w_hh))  # all constant: 2*B*H*G
            hb = bb.emit(relax.op.add(hw, b_hh))  # all constant: B*G
            s = bb.emit(relax.op.add(xw, hb))  # B*G
            out = bb.emit_output(relax.op.sigmoid(s))
        bb.emit_func_output(out)
    return bb.get()


@pytest.fixture(scope="module")
def analyzed():
    import hybridperf

    return hybridperf.analyze(_gru_step_module())


#: FLOPs every runtime computes: x @ W_ih, the add of the two halves (1 an element), the sigmoid (4 an element:
#: neg, exp, add, div, as its cost rule counts it)
RUN_ALWAYS = 2 * B * I * G + B * G + 4 * B * G
#: FLOPs of the constant subexpression: h0 @ W_hh and its bias add
CONSTANT = 2 * B * H * G + B * G


def _rec(a, op, n=0):
    return [r for r in a.analysis.records if r.op == op][n]


def test_the_analysis_keeps_what_a_folded_op_costs(analyzed):
    from hybridperf.analysis.cost_pass import FOLDED_NOTE
    from hybridperf.costs import Status

    hw = _rec(analyzed, "relax.matmul", 1)
    # folded as before: zero-cost and 0 FLOP in the device-independent analysis (onnxruntime's and TVM's view)
    assert hw.status is Status.ZERO_COST and hw.cost.flops == 0 and hw.note == FOLDED_NOTE
    assert analyzed.analysis.flops == RUN_ALWAYS
    # and what it costs where it runs, kept beside it (dropped until 2026-12-04)
    assert hw.unfolded.status is Status.COUNTED and hw.unfolded.cost.flops == 2 * B * H * G
    assert hw.unfolded.cost.bytes_read == (B * H + H * G) * 4 and hw.unfolded.cost.bytes_written == B * G * 4
    # a record that is no constant subexpression has none
    assert _rec(analyzed, "relax.matmul", 0).unfolded is None


def test_execution_says_which_runtimes_fold_constants():
    from hybridperf.estimate.execution import EXECUTIONS, Runtime, execution

    assert {rt.value: ex.folds_constants for rt, ex in EXECUTIONS.items()} == {
        "torch": False, "torch-cudagraph": False, "onnxruntime": True, "tvm": True}
    assert execution("onnxruntime", "cpu").folds_constants and not execution(Runtime.TORCH, "gpu").folds_constants
    assert execution("torch", "gpu").to_dict()["folds_constants"] is False


@pytest.mark.parametrize("runtime", ["torch", "torch-cudagraph"])
def test_runtimes_that_run_the_graph_as_written_pay_for_constant_subexpressions(analyzed, runtime):
    from hybridperf.costs import Status
    from hybridperf.estimate.pricing import predict_on

    before = predict_on(analyzed, "h100-sxm", runtime="tvm")
    pred = predict_on(analyzed, "h100-sxm", runtime=runtime)
    # until 2026-12-04: RUN_ALWAYS under every runtime
    assert pred.flops == RUN_ALWAYS + CONSTANT
    hw = _rec(pred.analyzed, "relax.matmul", 1)
    assert hw.status is Status.COUNTED and hw.cost.flops == 2 * B * H * G
    assert hw.note.startswith(f"constant subexpression: all inputs are constants, run every call by {runtime}")
    # the permute_dims of the weight stays folded: the PyTorch module reads its weight as stored
    assert _rec(pred.analyzed, "relax.permute_dims").status is Status.ZERO_COST
    # its kernels take the time: the roofline grows, no kernel loses any
    assert sum(k.cost.flops for k in pred.analyzed.kernels if k.counts_toward_time) == RUN_ALWAYS + CONSTANT
    assert pred.roofline_latency_s > before.roofline_latency_s
    # the analysis itself is left as it was
    assert analyzed.analysis.flops == RUN_ALWAYS and _rec(analyzed, "relax.matmul", 1).cost.flops == 0


@pytest.mark.parametrize("device, runtime", [("h100-sxm", "tvm"), ("host-xeon-2c", "onnxruntime"),
                                             ("host-xeon-2c", None), ("h100-sxm", None)])
def test_runtimes_that_fold_constants_price_as_before(analyzed, device, runtime):
    from hybridperf.estimate.pricing import predict_on

    pred = predict_on(analyzed, device, runtime=runtime)
    # the very analysis, so every figure is the one priced before 2026-12-04 (runtime None, no residual: TVM's kernels)
    assert pred.analyzed is analyzed and pred.flops == RUN_ALWAYS


def test_the_zero_shot_gpu_model_prices_its_runtime(analyzed):
    """The default GPU path (``hybridperf predict -d h100-sxm``: eager PyTorch by the zero-shot model) runs them."""
    import hybridperf

    eager = hybridperf.predict_on(analyzed, "h100-sxm", runtime="auto")
    graph = hybridperf.predict_on(analyzed, "h100-sxm", runtime="torch-cudagraph")
    tvm = hybridperf.predict_on(analyzed, "h100-sxm", runtime="tvm")
    assert eager.execution.runtime == "torch" and graph.execution.runtime == "torch-cudagraph"
    assert eager.flops == graph.flops == RUN_ALWAYS + CONSTANT and tvm.flops == RUN_ALWAYS
    # one more launch than before: h0 @ W_hh with its bias (PyTorch's linear carries the bias add)
    assert eager.execution.launches == graph.execution.launches == 4
    assert sum(kp.kernel.cost.flops for kp in eager.kernels) == RUN_ALWAYS + CONSTANT


def test_weight_layout_and_index_work_on_constants_stay_folded():
    """Ops on constants that PyTorch does not run: a layout change of a weight, a comparison of constant indices
    (TVM's import of a Gather checks them for < 0), arithmetic on scalars (Python numbers in PyTorch)."""
    from hybridperf.analysis.cost_pass import FOLDED_NOTE, OpRecord, Unfolded
    from hybridperf.costs import OpCost, Status
    from hybridperf.estimate.pricing import runs_every_call
    from hybridperf.ir.tvm_compat import TensorInfo

    def rec(i, var, op, family, ins, precision="fp32", reads=()):
        infos = tuple(TensorInfo(s, "int64" if precision == "int32" else "float32") for s in ins)
        return OpRecord(i, var, op, family, Status.ZERO_COST, OpCost(), infos, infos[:1], reads, precision,
                        FOLDED_NOTE, unfolded=Unfolded(Status.COUNTED, OpCost(1, 4, 4, 0)))

    recs = [rec(0, "w_t", "relax.permute_dims", "data_movement", [(8, 4)]),
            rec(1, "neg", "relax.less", "elementwise", [(1, 128), ()], "int32"),
            rec(2, "two", "relax.multiply", "elementwise", [(), ()]),
            rec(3, "hw", "relax.matmul", "matmul", [(2, 8), (8, 4)], reads=("w_t",)),
            rec(4, "hw_t", "relax.permute_dims", "data_movement", [(2, 4)], reads=("hw",))]
    # the matmul runs, and so does the copy of its result (a permute of a value computed every call)
    assert runs_every_call(recs) == [3, 4]


@pytest.mark.slow
def test_onnx_gru_step_from_a_zero_state_counts_its_recurrent_gemm_under_torch(tmp_path):
    """One GRU step as a PyTorch legacy export writes it (two Gemms with transB, h0 a zero initializer); W_hh is
    large (3h x h > 2**20 elements), which the ONNX normaliser did not fold even before it left float Gemms to the
    cost pass (2026-12-04), so the cost pass sees h0 @ W_hh^T on constants.
    FLOPs = 2 x MAC of both Gemms, 1 per element of each add, 4 per element of the sigmoid."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    import hybridperf
    from hybridperf.estimate.pricing import predict_on

    b, i, h = 2, 8, 1024
    g = 3 * h
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("W_ih", rng.standard_normal((g, i)).astype("float32")), ("b_ih", np.zeros(g, "float32")),
        ("W_hh", rng.standard_normal((g, h)).astype("float32")), ("b_hh", np.zeros(g, "float32")),
        ("h0", np.zeros((b, h), "float32")))]
    nodes = [helper.make_node("Gemm", ["x", "W_ih", "b_ih"], ["xw"], transB=1),
             helper.make_node("Gemm", ["h0", "W_hh", "b_hh"], ["hw"], transB=1),
             helper.make_node("Add", ["xw", "hw"], ["s"]), helper.make_node("Sigmoid", ["s"], ["y"])]
    graph = helper.make_graph(nodes, "gru_step", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [b, i])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [b, g])], inits)
    path = tmp_path / "gru_step.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    a = hybridperf.analyze(path)
    always = 2 * b * i * g + b * g + b * g + 4 * b * g  # x @ W_ih^T, its bias add, the add of both halves, the sigmoid
    constant = 2 * b * h * g + b * g  # h0 @ W_hh^T and its bias add
    torch_pred, cuda_graph, tvm_pred = (predict_on(a, "h100-sxm", runtime=rt) for rt in
                                        ("torch", "torch-cudagraph", "tvm"))
    assert tvm_pred.flops == a.analysis.flops == always  # until 2026-12-04 torch's too
    assert torch_pred.flops == cuda_graph.flops == always + constant


def test_annotate_names_what_a_folded_op_costs_where_it_runs(analyzed):
    """``hybridperf annotate`` (the TVM view: folded) shows the FLOPs a runtime without constant folding pays, not a bare
    zero-cost line (until 2026-12-04), and under torch the op's own cost."""
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.annotate import binding_comments

    folded = binding_comments(predict_on(analyzed, "h100-sxm"))
    hw, w_hh = _rec(analyzed, "relax.matmul", 1).var, _rec(analyzed, "relax.permute_dims").var
    assert folded[hw].startswith("# zero-cost: constant subexpression") and "FLOP where run every call" in folded[hw]
    assert "where run every call" not in folded[w_hh]  # a weight's layout: folded under every runtime
    run = binding_comments(predict_on(analyzed, "h100-sxm", runtime="torch"))
    assert run[hw].startswith("# 49.152 kFLOP")  # 2*B*H*G
