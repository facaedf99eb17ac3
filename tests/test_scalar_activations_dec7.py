"""Activations onnxruntime runs with a kernel of its own that evaluates one element at a time (2026-12-07, plan (28)):
``Softplus``, ``Mish``, ``Elu`` and ``Selu`` marked by the ONNX frontend on the Relax ops of their lowering,
counted once per node by the element-wise math term under their own sheet key, timed by the probe over values of both
signs, and priced from the sheet (unknown with a warning where it lacks the figure)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from hybridperf.analysis.elementwise_math import ACTIVATION_KEYS, ELEMENTWISE_MATH_KEYS, FUNCTION_KEYS  # noqa: E402
from hybridperf.device.spec import load_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (2, 8, 250)
N = 2 * 8 * 250


def _model(nodes: list, opset: int = 18) -> onnx.ModelProto:
    """``nodes`` (op, inputs, output[, attrs]) over a float32 input ``x`` of :data:`SHAPE`, the last output ``y``."""
    made = [helper.make_node(op, list(ins), [out], **(rest[0] if rest else {})) for op, ins, out, *rest in nodes]
    graph = helper.make_graph(made, "act", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(SHAPE))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(SHAPE))],
                              initializer=[onnx.numpy_helper.from_array(np.ones((1,), np.float32), "one")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _one(op: str, **attrs) -> onnx.ModelProto:
    return _model([(op, ("x",), "y", attrs)])


@pytest.fixture(scope="module")
def analyses():
    from hybridperf.analysis.analyze import analyze

    out = {k: analyze(_one(k.capitalize())) for k in ACTIVATION_KEYS}
    # (ONNX Celu: TVM 0.27's importer refuses it, so a model holding one is not priced at all)
    # two activations and a function in a chain: each counted once, under its own key
    out["chain"] = analyze(_model([("Elu", ("x",), "a", {"alpha": 0.5}), ("Sin", ("a",), "b"),
                                   ("Softplus", ("b",), "c"), ("Elu", ("c",), "y")]))
    # softplus written out as Exp, Add, Log: onnxruntime runs three vectorised-or-log kernels, not Softplus
    out["by_hand"] = analyze(_model([("Exp", ("x",), "e"), ("Add", ("e", "one"), "s"), ("Log", ("s",), "y")]))
    out["plain"] = analyze(_model([("Relu", ("x",), "r"), ("Tanh", ("r",), "y")]))
    return out


def test_each_activation_counts_its_output_once_under_its_own_key(analyses):
    for k in ACTIVATION_KEYS:
        assert analyses[k].analysis.math_elements == {k: N}, k
    assert analyses["chain"].analysis.math_elements == {"sin": N, "softplus": N, "elu": 2 * N}
    assert list(analyses["chain"].analysis.math_elements) == ["sin", "softplus", "elu"]  # the sheet's order
    assert analyses["by_hand"].analysis.math_elements == {"log": N}
    assert analyses["plain"].analysis.math_elements == {}


def test_the_marks_are_on_every_op_of_the_lowering_and_the_count_on_its_last():
    from hybridperf.analysis.analyze import analyze

    an = analyze(_one("Softplus")).analysis
    marked = [r for r in an.records if r.activation]
    assert {r.activation for r in marked} == {"softplus"} and len(marked) >= 3  # maximum, exp, log, ... (TVM 0.27)
    assert "relax.log" in {r.op for r in marked}
    assert [r.activation_elements for r in marked] == [0] * (len(marked) - 1) + [N]
    assert marked[-1].index == max(r.index for r in marked)
    assert an.with_activations({}) is an


def test_the_frontend_names_the_vars_of_each_node_and_its_key():
    from hybridperf.frontends.load import load_model
    from hybridperf.frontends.onnx_import import SCALAR_ACTIVATION_OPS

    assert set(SCALAR_ACTIVATION_OPS.values()) == set(ACTIVATION_KEYS)
    assert {k.capitalize() for k in ACTIVATION_KEYS} == set(SCALAR_ACTIVATION_OPS)  # the probe's node names
    loaded = load_model(_model([("Elu", ("x",), "a"), ("Mish", ("a",), "y")]), {}, None)
    keys = {key for _, key in loaded.activation_vars.values()}
    nodes = {node for node, _ in loaded.activation_vars.values()}
    assert keys == {"elu", "mish"} and nodes == {"output:a", "output:y"}
    plain = load_model(_model([("Relu", ("x",), "y")]), {}, None)
    assert plain.activation_vars == {}


def _cpu_sheet(ns: dict | None):
    figures = {} if ns is None else {k: v * 1e-9 for k, v in ns.items()}
    return dataclasses.replace(load_spec("host-epyc-1c"), elementwise_math_s_per_element=figures)


FIGURES_NS = {"sin": 1.6, "cos": 1.6, "tan": 13.0, "log": 1.4, "softplus": 10.5, "mish": 11.25, "elu": 1.5,
              "selu": 1.5}


def test_the_term_is_elements_times_each_activations_figure(analyses):
    from hybridperf.estimate.pricing import predict_on

    pred = predict_on(analyses["chain"], _cpu_sheet(FIGURES_NS))
    term = (N * 1.6 + N * 10.5 + 2 * N * 1.5) * 1e-9
    assert pred.elementwise_math_s == pytest.approx(term)
    assert pred.latency_s == pytest.approx(pred.roofline_latency_s + term)
    assert f"sin {N:,} / softplus {N:,} / elu {2 * N:,} float32 elements" in pred.elementwise_math_note


def test_a_sheet_without_an_activations_figure_leaves_it_unknown_and_check_undecided(analyses):
    from hybridperf.estimate.budget import Budget, compare
    from hybridperf.estimate.pricing import predict_on

    functions_only = {k: v for k, v in FIGURES_NS.items() if k in FUNCTION_KEYS}  # a sheet probed before plan (28)
    pred = predict_on(analyses["mish"], _cpu_sheet(functions_only))
    assert pred.elementwise_math_s is None and pred.latency_s == pred.roofline_latency_s
    warn = [w for w in pred.warnings if "element-wise math" in w]
    assert len(warn) == 1 and "for mish" in warn[0] and f"mish {N:,}" in warn[0] and "1.5-13 ns" in warn[0]
    lat, _, _ = compare(pred, Budget(1.0), "mish.onnx", "cpu")
    assert lat.undecided and not lat.passed


def test_the_probe_times_the_activations_over_both_signs_and_the_functions_over_positive_values(monkeypatch):
    """Correctness of what the probe builds and returns (not its speed): every key has an onnxruntime session (Mish
    needs opset 18), the activations read standard normal values, the functions positive ones; figures are the
    difference of the runs per element."""
    pytest.importorskip("onnxruntime")
    from hybridperf.measure import probe as p

    n = p.MATH_PROBE_ELEMENTS
    seen = {}

    def fastest(sessions, feeds, runs):
        assert set(sessions) == {"neg", *ELEMENTWISE_MATH_KEYS}
        seen.update({k: v["X"] for k, v in feeds.items()})
        return {k: 40e-6 + n * (FIGURES_NS.get(k, 0.0) * 1e-9) for k in sessions}

    monkeypatch.setattr(p, "_fastest_runs", fastest)
    m = p.elementwise_math(threads=1, runs=1)
    for k in ACTIVATION_KEYS:
        assert (seen[k] < 0).any() and (seen[k] > 0).any()
        assert m.per_element_s[k] == pytest.approx(FIGURES_NS[k] * 1e-9)
    for k in FUNCTION_KEYS:
        assert (seen[k] > 0).all()
    assert p.MATH_PROBE_OPSET >= 18


def test_cached_host_sheets_of_format_5_are_probed_again():
    from hybridperf.measure.host import HOST_SHEET_FORMAT

    assert HOST_SHEET_FORMAT >= 6


def test_the_summary_recomputes_the_committed_exploration_and_probes():
    from benchmarks.scalar_activations import RUN, summary

    text = summary(ROOT / RUN)
    assert "| Softplus |" in text and "| 1 | softplus |" in text and "| 2 | selu |" in text
    committed = (ROOT / "benchmarks" / "results" / "scalar_activations.md").read_text()
    assert text.replace(str(ROOT / RUN), str(RUN)).strip() == committed.strip()


def test_the_blind_report_is_what_the_committed_runs_give():
    """Plan (28)'s report recomputed from its runs and the predictions stored before them."""
    from benchmarks.scalar_activations import SET_RUN, report

    text = report(ROOT / SET_RUN)
    committed = (ROOT / "benchmarks" / "results" / "activation_set.md").read_text()
    assert text.strip() == committed.strip()
    assert "host-epyc-zen4-1c: with (28) MAPE 17.3 %, without (28) MAPE 26.4 %" in committed


def test_the_earlier_sets_priced_again_are_what_their_committed_runs_give():
    """Not blind: the earlier sets' runs against the predictions stored with (28) and without it."""
    from benchmarks.scalar_activations import after_report

    text = after_report(root=ROOT)
    committed = (ROOT / "benchmarks" / "results" / "activations_after28.md").read_text()
    assert text.strip() == committed.strip()
    assert "| host-epyc-zen4-1c | `encodec_24khz_encoder_b1_s24000` | 50.26 | 46.74 (-7.0 %) | 38.63 (-23.1 %) |" in committed


def test_the_stored_predictions_without_28_strip_the_marks_alone(analyses):
    from benchmarks.scalar_activations import before_28

    was = before_28(analyses["chain"])
    assert not any(r.activation or r.activation_elements for r in was.analysis.records)
    assert was.analysis.math_elements == {"sin": N, "log": N}  # Softplus's log at log's figure, as before plan (28)
    assert before_28(analyses["plain"]).analysis.records == analyses["plain"].analysis.records
