"""Mends of 2026-12-04 (e): subgraph names that shadow an enclosing graph's, and the sheet's power note once.

* :func:`hybridperf.frontends.normalize.check_graph` refuses a subgraph node output or initializer that reuses a
  name an enclosing graph defines (ONNX IR: single static assignment, subgraphs included); a subgraph *input* may
  reuse one (formal inputs are scoped; only ``Loop`` / ``Scan`` bodies have inputs).
* :func:`hybridperf.estimate.pricing.predict_on` works out the sheet's estimated power note once and keeps it on the
  prediction (:attr:`~hybridperf.estimate.pricing.Prediction.estimated_power_note`).
"""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from hybridperf.cli import ExitCode, main


def _vi(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, dims)


def _shadowing_if(then_nodes, then_inits=(), cond=True):
    """``r = MatMul(x, w)``; ``y = If(c) then <then_nodes> (writing ``t``) else Identity(r)``, ``c`` a constant."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 2], [1.0, 2.0, 3.0, 4.0])
    c = helper.make_tensor("c", TensorProto.BOOL, [], [cond])
    then_g = helper.make_graph(then_nodes, "then", [], [_vi("t", [2, 2])], initializer=list(then_inits))
    else_g = helper.make_graph([helper.make_node("Identity", ["r"], ["e"])], "else", [], [_vi("e", [2, 2])])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["r"], name="mm"),
             helper.make_node("If", ["c"], ["y"], name="if1", then_branch=then_g, else_branch=else_g)]
    g = helper.make_graph(nodes, "g", [_vi("x", [2, 2])], [_vi("y", [2, 2])], initializer=[w, c])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


OUTPUT_SHADOWS = ("m.onnx: then_branch of node 'if1' (If): node 'neg' (Neg) writes 'r', which an enclosing graph also "
                  "defines; ONNX names each tensor once, subgraphs included (a subgraph's outputs must not shadow the "
                  "names around it): rename the output and re-export the model")


def test_a_branch_node_writing_an_enclosing_name_is_refused(tmp_path, capsys):
    # until 2026-12-04 this passed check_graph; the taken branch was inlined by name, so two nodes wrote 'r' and the
    # enclosing MatMul was dropped: predict priced 20 FLOP (Neg 2*2 + MatMul 2*2*2*2), not 36 (two MatMuls and a Neg)
    from hybridperf.errors import ModelLoadError
    from hybridperf.frontends.normalize import check_graph

    m = _shadowing_if([helper.make_node("Neg", ["x"], ["r"], name="neg"),
                       helper.make_node("MatMul", ["r", "w"], ["t"])])
    with pytest.raises(ModelLoadError) as got:
        check_graph(m, "m.onnx")
    assert str(got.value) == OUTPUT_SHADOWS
    path = tmp_path / "m.onnx"
    onnx.save(m, str(path))
    assert main(["predict", str(path), "-d", "t4", "--roofline-only"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "node 'neg' (Neg) writes 'r', which an enclosing graph also defines" in err


def test_a_branch_initializer_reusing_an_enclosing_name_is_refused():
    # until 2026-12-04 this passed check_graph; the taken branch's initializer joined the model's beside the enclosing
    # 'w', and the import blamed the model's shapes (a 2x8 branch 'w': "The reduction dimensions of 8 and 2 are not
    # equal"), or priced the enclosing MatMul on the branch's weight
    from hybridperf.errors import ModelLoadError
    from hybridperf.frontends.normalize import check_graph

    branch_w = helper.make_tensor("w", TensorProto.FLOAT, [2, 2], [1.0] * 4)
    m = _shadowing_if([helper.make_node("MatMul", ["r", "w"], ["t"])], [branch_w])
    with pytest.raises(ModelLoadError) as got:
        check_graph(m, "m.onnx")
    assert str(got.value) == ("m.onnx: then_branch of node 'if1' (If): initializer 'w' reuses the name of a tensor "
                              "of an enclosing graph; ONNX names a subgraph's tensors apart from its enclosing "
                              "graphs': rename it (and the node inputs that read it) and re-export the model")


def test_a_nested_branch_shadowing_a_name_two_graphs_up_is_refused():
    # until 2026-12-04 shadowing passed at any depth
    from hybridperf.errors import ModelLoadError
    from hybridperf.frontends.normalize import check_graph

    inner_then = helper.make_graph([helper.make_node("Neg", ["x"], ["r"], name="neg")], "it", [], [_vi("r", [2, 2])])
    inner_else = helper.make_graph([helper.make_node("Neg", ["x"], ["ie"])], "ie", [], [_vi("ie", [2, 2])])
    inner = helper.make_node("If", ["c"], ["t"], name="if2", then_branch=inner_then, else_branch=inner_else)
    with pytest.raises(ModelLoadError) as got:
        check_graph(_shadowing_if([inner]), "m.onnx")
    assert str(got.value).startswith("m.onnx: then_branch of node 'if1' (If): then_branch of node 'if2' (If): "
                                     "node 'neg' (Neg) writes 'r', which an enclosing graph also defines")


def test_a_branch_with_names_of_its_own_passes():
    from hybridperf.frontends.normalize import check_graph

    check_graph(_shadowing_if([helper.make_node("Neg", ["r"], ["n"]), helper.make_node("MatMul", ["n", "w"], ["t"])]))


def test_a_loop_body_input_may_reuse_an_enclosing_name():
    """The IR scopes a subgraph's formal inputs (onnx.checker and onnxruntime take this): not refused here; the
    ``Loop`` itself is, by check_supported, with its own fix."""
    from hybridperf.frontends.normalize import check_graph

    body = helper.make_graph(
        [helper.make_node("Identity", ["cond"], ["cond_out"]), helper.make_node("Neg", ["x"], ["x_out"])], "body",
        [_vi("i", [], TensorProto.INT64), _vi("cond", [], TensorProto.BOOL), _vi("x", [2])],
        [_vi("cond_out", [], TensorProto.BOOL), _vi("x_out", [2])])
    n = helper.make_tensor("n", TensorProto.INT64, [], [3])
    g = helper.make_graph([helper.make_node("Loop", ["n", "", "x"], ["y"], body=body)], "g", [_vi("x", [2])],
                          [_vi("y", [2])], initializer=[n])
    check_graph(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8))


def test_predict_on_works_out_the_power_note_once_and_keeps_it(monkeypatch):
    # until 2026-12-04 a predict-many row worked it out twice: once in predict_on's energy note, once for its own key
    import onnx_models

    import hybridperf.estimate.pricing as pricing
    from hybridperf.api import analyze
    from hybridperf.device.spec import load_spec

    spec = load_spec("t4")
    expected = pricing.estimated_power_note(spec)
    assert expected  # t4's idle power is an estimate
    analyzed = analyze(onnx_models.resnet_like()[0], batch=1)
    calls = []
    real = pricing.estimated_power_note
    monkeypatch.setattr(pricing, "estimated_power_note", lambda s: calls.append(s) or real(s))
    pred = pricing.predict_on(analyzed, spec)
    assert len(calls) == 1
    assert pred.estimated_power_note == expected and pred.energy_note.endswith(expected)
