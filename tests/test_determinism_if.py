"""Regression tests: (1) onnxruntime's activation figure does not depend on the order its optimiser happens to
save the NCHWc ``ReorderOutput`` nodes in (that order follows heap addresses, so it changed from call to call);
(2) an ONNX ``If`` on a data-dependent condition makes TVM's memory plan a lower bound (a ``relax.If`` binding
is not a call, and ``ops_outside_plan`` skipped it: the peak was reported exact)."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import TensorProto, helper
from onnx_models import densenet_like

from hybridperf.cli import ExitCode, main
from hybridperf.estimate import runtime_memory as rm
from hybridperf.estimate.runtime_memory import (
    ORT_ALIGNMENT,
    ort_activation_plan,
    ort_execution_orders,
)

NCHWC = "com.microsoft.nchwc"


def _graph(order: list[str]) -> onnx.ModelProto:
    """A DenseNet block as onnxruntime's NCHWc transformer leaves it: stem conv ``a``, max-pool ``b``, a
    two-conv chain ``c``, ``d`` reading ``b``, both NCHWc maps reordered back (``ReorderOutput`` ``B`` of
    ``b`` and ``D`` of ``d``) for the concatenation. ``order``: the nodes' stored order, by output name."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 8])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 16, 4, 4])
    nodes = {
        "a": helper.make_node("Conv", ["x"], ["a"], domain=NCHWC),
        "b": helper.make_node("MaxPool", ["a"], ["b"], domain=NCHWC),
        "c": helper.make_node("Conv", ["b"], ["c"], domain=NCHWC),
        "d": helper.make_node("Conv", ["c"], ["d"], domain=NCHWC),
        "D": helper.make_node("ReorderOutput", ["d"], ["D"], domain=NCHWC),
        "B": helper.make_node("ReorderOutput", ["b"], ["B"], domain=NCHWC),
        "out": helper.make_node("Concat", ["B", "D"], ["out"], axis=1),
    }
    return helper.make_model(helper.make_graph([nodes[n] for n in order], "g", [x], [out]))


# bytes per tensor, whole multiples of onnxruntime's alignment (no rounding): max-pool and its reorder small,
# the conv chain large
A = ORT_ALIGNMENT
TENSORS = {"x": ((1, 8, 8, 8), 8 * A), "a": ((1, 8, 8, 8), 8 * A), "b": ((1, 8, 4, 4), 2 * A),
           "c": ((1, 32, 4, 4), 8 * A), "d": ((1, 8, 4, 4, 1), 2 * A), "D": ((1, 8, 4, 4, 2), 2 * A),
           "B": ((1, 8, 4, 4, 3), 2 * A), "out": ((1, 16, 4, 4), 4 * A)}
# the two orders onnxruntime saves (and runs) this graph in, by which ReorderOutput got the higher NodeIndex
LATE = ["a", "b", "c", "d", "D", "B", "out"]   # B created after D: both reorders just before the Concat
EARLY = ["a", "b", "B", "c", "d", "D", "out"]  # B right after the max-pool, held over the conv chain


def _stored_order_plan(order: list[str]):
    g = _graph(order).graph
    return rm._ort_plan_in_order(list(g.node), g, TENSORS)


def test_stored_orders_differ_so_the_test_forces_the_variation():
    # the stored order alone gives two figures: B held over the chain (2A) while c (8A) and d (2A) live
    early, late = _stored_order_plan(EARLY), _stored_order_plan(LATE)
    assert early.pattern_bytes != late.pattern_bytes
    assert early.pattern_bytes > late.pattern_bytes


@pytest.mark.parametrize("stored", [LATE, EARLY], ids=["reorders-late", "reorder-early"])
def test_ort_plan_is_the_same_whichever_order_onnxruntime_saved(stored):
    g = _graph(stored).graph
    orders = [[n.output[0] for n in o] for o in ort_execution_orders(g)]
    # the replay of onnxruntime's ReverseDFS gives back both orders it can run, whichever it saved
    assert sorted(orders) == sorted([LATE, EARLY])
    plans = {ort_activation_plan(_graph(stored), TENSORS) for _ in range(3)}
    assert len(plans) == 1
    # the larger of the two, the same from either stored order
    assert plans.pop().pattern_bytes == max(_stored_order_plan(LATE).pattern_bytes,
                                            _stored_order_plan(EARLY).pattern_bytes)


def test_one_reorder_keeps_the_stored_order():
    g = _graph(["a", "b", "c", "d", "D", "B", "out"]).graph
    del g.node[5]  # B's reorder gone (the graph is no longer valid, the order is what is checked)
    assert [[n.output[0] for n in o] for o in ort_execution_orders(g)] == [["a", "b", "c", "d", "D", "out"]]


def _swap_densenet_reorders(model: onnx.ModelProto) -> list[onnx.ModelProto]:
    """``model`` (onnxruntime's optimised densenet_like) in each order :func:`ort_execution_orders` replays."""
    out = []
    for order in ort_execution_orders(model.graph):
        m = onnx.ModelProto()
        m.CopyFrom(model)
        del m.graph.node[:]
        m.graph.node.extend(order)
        out.append(m)
    return out


def test_densenet_figure_identical_with_onnxruntime_order_forced_both_ways(monkeypatch):
    model, _ = densenet_like()
    model = rm.bind_input_shapes(model, {"x": (1, 3, 16, 16)})
    opt, optimised = rm.ort_optimized_model(model)
    assert optimised
    variants = _swap_densenet_reorders(opt)
    # onnxruntime's NCHWc transformer leaves 4 ReorderOutput nodes here on the AVX-512 hosts CI ran on (two
    # orders), 1 on an AVX2-only Zen 1 (one order: nothing to force; until 2026-12-05 this failed there)
    reorders = sum(n.op_type == "ReorderOutput" for n in opt.graph.node)
    if reorders != 4:
        pytest.skip(f"onnxruntime on this CPU ({rm.host_isa()}) leaves {reorders} ReorderOutput node(s) in "
                    "densenet_like, not the 4 that give two orders")
    assert len(variants) == 2
    # onnxruntime saved one of the two orders replayed
    assert [n.output[0] for n in opt.graph.node] in [[n.output[0] for n in v.graph.node] for v in variants]
    figures = set()
    for v in variants:  # onnxruntime's optimiser forced to return each order
        monkeypatch.setattr(rm, "ort_optimized_model", lambda m, level="all", disabled=(), v=v: (v, True))
        for _ in range(3):
            figures.add(rm.onnxruntime_peak(rm.ort_features(model, rm.host_isa())).peak_bytes)
    assert len(figures) == 1


def if_model() -> onnx.ModelProto:
    """``y = x + x if ReduceSum(x) > 0 else x * x`` on ``x`` of 1x16 float: a data-dependent ``If``."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])
    then_g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 16])])
    else_g = helper.make_graph([helper.make_node("Mul", ["x", "x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [1, 16])])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             helper.make_node("Greater", ["s", "zero"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    m = helper.make_model(helper.make_graph(nodes, "if_model", [x], [y], [zero]),
                          opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    return m


@pytest.fixture(scope="module")
def if_path(tmp_path_factory):
    p = tmp_path_factory.mktemp("if") / "if_model.onnx"
    onnx.save(if_model(), str(p))
    return str(p)


@pytest.mark.parametrize("runtime", ["tvm", "auto"])
def test_if_makes_memory_a_lower_bound_in_json(if_path, runtime, capsys):
    assert main(["predict", if_path, "-d", "host-epyc-1c", "--runtime", runtime, "--format", "json"]) == ExitCode.OK
    mem = json.loads(capsys.readouterr().out)["memory"]
    assert mem["known"] is True
    assert mem["lower_bound"] is True
    # the If's result: 1 x 16 float32 = 16 * 4 B, allocated by the branch taken, not in TVM's plan
    assert mem["lower_bound_reason"] == f"op outputs not in TVM's plan: If ({16 * 4} B)"


def test_if_makes_memory_a_lower_bound_in_table(if_path, capsys):
    assert main(["predict", if_path, "-d", "host-epyc-1c", "--runtime", "tvm"]) == ExitCode.OK
    table = capsys.readouterr().out
    mem_line = next(line for line in table.splitlines() if line.startswith("memory"))
    assert "peak ≥" in mem_line
    assert f"If ({16 * 4} B)" in table


def test_ops_outside_plan_lists_the_if_binding():
    from hybridperf.ir import lowering
    from hybridperf.ir.tvm_compat import bindings, is_if, tvm_modules

    _, relax = tvm_modules()
    from tvm.relax.frontend.onnx import from_onnx

    mod = relax.transform.LegalizeOps()(from_onnx(if_model()))  # sum and greater become kernels (planned)
    assert any(is_if(b.value) for b in bindings(mod["main"]))  # the If stays a relax.If binding, not a call
    assert lowering.ops_outside_plan(mod) == {"If": 16 * 4}
