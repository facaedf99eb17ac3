"""Grid sampling (2026-12-07, plan (29)): ONNX ``GridSample`` (``relax.image.grid_sample``, deformable attention's
sampling) has a cost rule, an op family no learned model was trained on, and onnxruntime's time per output element as
keys of a CPU sheet's ``elementwise_math``, timed by the probe, priced where the sheet gives them and unknown where it
does not."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from hybridperf.analysis.elementwise_math import GRID_SAMPLE_KEYS, GRID_SAMPLE_OP  # noqa: E402
from hybridperf.device.spec import load_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
C, H, W, GH, GW = 8, 20, 24, 30, 4
OUT = C * GH * GW


def _model(mode: str) -> onnx.ModelProto:
    """A lone GridSample of a 1 x C x H x W float32 input over a 1 x GH x GW grid (opset 16 mode names)."""
    graph = helper.make_graph([helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode)], "gs",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, H, W]),
                               helper.make_tensor_value_info("g", TensorProto.FLOAT, [1, GH, GW, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, C, GH, GW])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def analyses():
    from hybridperf.analysis.analyze import analyze

    return {m: analyze(_model(m)) for m in ("bilinear", "nearest", "bicubic")}


def _sampler(analyzed):
    (rec,) = [r for r in analyzed.analysis.records if r.op == GRID_SAMPLE_OP]
    return rec


def test_the_cost_rule_counts_a_multiply_add_per_tap_and_output(analyses):
    taps = {"bilinear": 4, "nearest": 1, "bicubic": 16}
    for mode, an in analyses.items():
        rec = _sampler(an)
        assert rec.family == "grid_sample" and rec.counts_toward_time
        assert rec.cost.flops == (2 * taps[mode] * OUT if taps[mode] > 1 else 0), mode
        assert rec.cost.bytes_read == 4 * (C * H * W + GH * GW * 2) and rec.cost.bytes_written == 4 * OUT
        assert an.analysis.by_status().get(__import__("hybridperf.costs", fromlist=["Status"]).Status.UNSUPPORTED) == 0


def test_its_outputs_count_under_the_key_of_its_method(analyses):
    from hybridperf.analysis.elementwise_math import math_node, record_key

    for mode, an in analyses.items():
        assert an.analysis.math_elements == {f"grid_sample_{mode}": OUT}
        assert record_key(_sampler(an)) == f"grid_sample_{mode}"
    assert math_node("grid_sample_bicubic") == "GridSample (bicubic)" and math_node("sin") == "Sin"
    assert set(GRID_SAMPLE_KEYS) == {f"grid_sample_{m}" for m in analyses}


def test_the_learned_models_see_an_op_family_they_were_never_trained_on():
    from hybridperf.residual.features import FAMILY_GROUP

    assert FAMILY_GROUP["grid_sample"] == "data_movement"


def _cpu_sheet(ns: dict | None):
    figures = {} if ns is None else {k: v * 1e-9 for k, v in ns.items()}
    return dataclasses.replace(load_spec("host-epyc-1c"), elementwise_math_s_per_element=figures)


def test_a_sheet_with_the_figure_adds_outputs_times_figure_and_a_zero_figure_the_roofline_alone(analyses):
    from hybridperf.estimate.pricing import predict_on

    an = analyses["bilinear"]
    priced = predict_on(an, _cpu_sheet({"grid_sample_bilinear": 2.25}))
    zero = predict_on(an, _cpu_sheet({"grid_sample_bilinear": 0.0}))
    assert priced.elementwise_math_s == pytest.approx(OUT * 2.25e-9)
    assert priced.latency_s == pytest.approx(zero.latency_s + OUT * 2.25e-9)
    assert zero.elementwise_math_s == 0.0 and f"grid_sample_bilinear {OUT:,} float32 elements" in priced.elementwise_math_note


def test_a_sheet_without_it_leaves_the_latency_a_lower_bound_check_does_not_pass(analyses):
    from hybridperf.estimate.budget import Budget, compare
    from hybridperf.estimate.pricing import predict_on

    pred = predict_on(analyses["nearest"], _cpu_sheet({"grid_sample_bilinear": 2.25}))
    assert pred.elementwise_math_s is None
    assert any("for grid_sample_nearest" in w for w in pred.warnings)
    lat, _, _ = compare(pred, Budget(10.0), "gs.onnx", "cpu")
    assert lat.undecided and not lat.passed


def test_the_probe_samples_a_grid_uniform_over_its_input(monkeypatch):
    """Correctness of what the probe builds (not its speed): one onnxruntime session per key, the GridSample ones
    over a 4-D input and a grid of coordinates in [-1, 1] writing as many outputs as the other nodes."""
    pytest.importorskip("onnxruntime")
    from hybridperf.measure import probe as p

    n, seen = p.MATH_PROBE_ELEMENTS, {}

    def fastest(sessions, feeds, runs):
        seen.update(feeds)
        out = {k: 40e-6 for k in sessions}
        out.update({k: 40e-6 + n * 2e-9 for k in GRID_SAMPLE_KEYS})
        return out

    monkeypatch.setattr(p, "_fastest_runs", fastest)
    m = p.elementwise_math(threads=1, runs=1)
    (c, h, w), side = p.GRID_PROBE
    for k in GRID_SAMPLE_KEYS:
        assert seen[k]["X"].shape == (1, c, h, w) and seen[k]["G"].shape == (1, side, side, 2)
        assert np.abs(seen[k]["G"]).max() <= 1.0
        assert m.per_element_s[k] == pytest.approx(2e-9)
    assert c * side * side == n


def test_the_summary_recomputes_the_committed_exploration_and_probes():
    from benchmarks.grid_sample import RUN, summary

    text = summary(ROOT / RUN)
    committed = (ROOT / "benchmarks" / "results" / "grid_sample.md").read_text()
    assert text.replace(str(ROOT / RUN), str(RUN)).strip() == committed.strip()
    assert "| 1 | grid_sample_bilinear | 2.331 |" in committed


def test_the_blind_reports_are_what_the_committed_runs_give():
    """Plan (29)'s reports recomputed from its runs and the predictions stored before them, and the whole set's
    judgement over both."""
    from benchmarks.grid_sample import SCORE_TITLE, SET_RUN, SET_RUN2, STORED, whole_set
    from benchmarks.tcn_conv1d import score

    first = score(run=ROOT / SET_RUN, stored=STORED, title=SCORE_TITLE)
    assert first.strip() == (ROOT / "benchmarks" / "results" / "deformable_set.md").read_text().strip()
    both = whole_set(ROOT)
    second = score(run=ROOT / SET_RUN2, stored=STORED, title=SCORE_TITLE) + "\n" + both
    assert second.strip() == (ROOT / "benchmarks" / "results" / "deformable_set_float.md").read_text().strip()
    assert "host-epyc-zen4-1c, 5 networks: with (29) MAPE 3.7 %, without (29) MAPE 12.1 %" in both
    assert "host-epyc-zen4-2c, 5 networks: with (29) MAPE 0.6 %, without (29) MAPE 10.6 %" in both
