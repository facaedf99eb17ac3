"""The recurrent runs' README figures recomputed from the committed data: each run's stored predictions (made before
the run) against its ``calibrate --measure`` measurements (benchmarks.recurrent_cost, CHANGELOG 2026-12-07 plans
(14)-(17)); no export or timing needed."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: (run, column) -> (MAPE % with 1 thread, with 2 threads), as README "Recurrent layers" and the reports give them
FIGURES = {
    ("host-epyc-zen4-recurrent", "predicted_s"): (22.3, 42.2),  # plan (14): stored before the LLC term
    ("host-epyc-zen4-recurrent-check", "predicted_s"): (13.3, 35.9),  # (15b), blind
    ("host-epyc-zen4-recurrent-check", "predicted_learned_s"): (41.1, 74.7),  # (15)
    ("host-epyc-zen4-recurrent-check", "predicted_no_llc_s"): (100.7, 223.0),  # before (15)
    ("host-epyc-zen4-recurrent-edge", "predicted_s"): (18.7, 51.4),  # plan (16)'s share, rejected
    ("host-epyc-zen4-recurrent-edge", "predicted_step_s"): (29.9, 5.9),  # (15b)'s rule, kept
    ("host-epyc-zen4-recurrent-small", "predicted_s"): (21.5, 22.4),  # plan (17): with the L2 level
    ("host-epyc-zen4-recurrent-small", "predicted_no_l2_s"): (20.9, 37.3),  # without it
}


@pytest.mark.parametrize("run, column", sorted(FIGURES))
def test_readme_figures_come_from_the_committed_runs(run, column):
    from benchmarks.recurrent_cost import _stats, measured

    d = ROOT / "calibration" / run
    stored = list(csv.DictReader((d / "predictions.csv").open()))
    got = []
    for setting in ("host-epyc-zen4-1c", "host-epyc-zen4-2c"):
        truth = measured(d / setting)
        pred = {r["model"]: float(r[column]) for r in stored if r["device"] == setting}
        assert set(pred) == set(truth)  # every stored prediction measured, nothing measured unpredicted
        got.append(round(_stats(pred, truth)[0], 1))
    assert tuple(got) == FIGURES[(run, column)]


def test_the_plans_decisions_follow_from_the_figures():
    """(15b) beats (15), which beats DRAM pricing, at both thread counts; (16) loses to (15b) with 2 threads (so the
    product kept (15b)'s rule); (17) wins with 2 threads and stays within a point with 1 (adopted)."""
    f = FIGURES
    check = "host-epyc-zen4-recurrent-check"
    for t in (0, 1):
        assert f[(check, "predicted_s")][t] < f[(check, "predicted_learned_s")][t] < f[(check, "predicted_no_llc_s")][t]
    edge = "host-epyc-zen4-recurrent-edge"
    assert f[(edge, "predicted_s")][1] > f[(edge, "predicted_step_s")][1]
    small = "host-epyc-zen4-recurrent-small"
    assert f[(small, "predicted_s")][1] < f[(small, "predicted_no_l2_s")][1]
    assert f[(small, "predicted_s")][0] - f[(small, "predicted_no_l2_s")][0] <= 1.0
