"""``CrossHostModel.adapt(candidate=...)``: one kernel correction built as the leave-one-out choice would build it,
for ``benchmarks.few_shot_ceiling`` (what the best candidate in hindsight reaches)."""

import numpy as np
import pytest

from tests.test_cross_host import _zen4_rows


def test_a_forced_candidate_is_the_one_adapt_builds_when_it_chooses_it(monkeypatch):
    """With the blend off, the candidate adapt chooses on Zen 4 rows 0-9, forced, predicts as the chosen model; the
    forced "none" is the zero-shot model; a forced candidate records no leave-one-out figures (none were made)."""
    from hybridperf.residual import cross_host as ch
    from hybridperf.residual.model import subset

    X, y, kth, base = _zen4_rows()
    monkeypatch.setattr(ch, "ADAPT_ALONE_WEIGHTS", (0.0,))
    pick, rows = np.arange(10), np.arange(20, 40)
    chosen = base.adapt(X[pick], y[pick], kernels=subset(kth, pick))
    a = chosen.adaptation_
    forced = base.adapt(X[pick], y[pick], kernels=subset(kth, pick), candidate=(a["kernel_rounds"], a["shrink"]))
    assert forced.adaptation_["method"] == a["method"] and forced.adaptation_["offset"] == pytest.approx(a["offset"])
    assert forced.adaptation_["loo_abs_log_error"] == {} and forced.alone_ is None
    np.testing.assert_allclose(forced.predict(X[rows], subset(kth, rows)), chosen.predict(X[rows], subset(kth, rows)))
    none = base.adapt(X[pick], y[pick], kernels=subset(kth, pick), candidate=(0, 0.0))
    assert none.adaptation_["method"] == "none" and none.adaptation_["offset"] == 0.0
    np.testing.assert_allclose(none.predict(X[rows], subset(kth, rows)), base.predict(X[rows], subset(kth, rows)))
    # the offset alone, unshrunk: the mean log residual of the 10 models is added to every prediction
    off = base.adapt(X[pick], y[pick], kernels=subset(kth, pick), candidate=(0, 1.0))
    mean = float(np.mean(y[pick] - base.predict(X[pick], subset(kth, pick))))
    np.testing.assert_allclose(off.predict(X[rows], subset(kth, rows)), base.predict(X[rows], subset(kth, rows)) + mean)


def test_candidate_predictions_are_those_of_each_candidate_built_alone():
    """candidate_predictions grows the trees once, for the most rounds asked, and reads each candidate's first
    trees, shrunk: every candidate predicts as the model adapt(candidate=...) builds for it alone (its own booster
    of exactly that many trees, leaf values shrunk)."""
    from hybridperf.residual.model import subset

    X, y, kth, base = _zen4_rows()
    pick, rows = np.arange(10), np.arange(20, 40)
    grid = [(0, 0.0), (0, 0.4), (10, 0.3), (30, 1.0), (100, 0.6), (300, 0.2)]
    pred = base.candidate_predictions(X[pick], y[pick], subset(kth, pick), grid, X[rows], subset(kth, rows))
    assert list(pred) == grid
    for c in grid:
        alone = base.adapt(X[pick], y[pick], kernels=subset(kth, pick), candidate=c)
        np.testing.assert_allclose(pred[c], alone.predict(X[rows], subset(kth, rows)), rtol=0, atol=1e-12)
    # the candidates differ: more trees and another shrinkage change the prediction
    assert np.max(np.abs(pred[(10, 0.3)] - pred[(300, 0.2)])) > 1e-3
    with pytest.raises(ValueError, match="candidate"):
        base.candidate_predictions(X[pick], y[pick], subset(kth, pick), [(20, 0.5)], X[rows], subset(kth, rows))


@pytest.mark.parametrize("candidate", [(7, 0.5), (30, 0.0), (30, 1.5), (0, -0.1)])
def test_a_candidate_outside_the_grid_is_refused(candidate):
    from hybridperf.residual.model import subset

    X, y, kth, base = _zen4_rows()
    pick = np.arange(10)
    with pytest.raises(ValueError, match="candidate"):
        base.adapt(X[pick], y[pick], kernels=subset(kth, pick), candidate=candidate)


def test_few_shot_benchmarks_refuse_bad_options_and_write_nothing(tmp_path, capsys):
    from benchmarks import few_shot_ceiling, few_shot_curve

    out = tmp_path / "t.md"
    assert few_shot_ceiling.main(["--hosts", "host-nope", "--out", str(out)]) == 2
    assert few_shot_curve.main(["--shots", "1", "--out", str(out)]) == 2
    assert few_shot_curve.main(["--shots", "five", "--out", str(out)]) == 2
    assert few_shot_curve.main(["--jobs", "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("error: ") for line in err) and not out.exists()


def test_few_shot_tables_say_unknown_where_nothing_was_scored():
    """A host whose draws leave no network to score reads `unknown` in every cell, never 0; the curve's verdict
    column names the first K at or below the target from the adapted figures."""
    from benchmarks import few_shot_ceiling, few_shot_curve

    grid = few_shot_ceiling.candidates()
    assert grid[0] == (0, 0.0) and (0, 1.0) in grid and len(grid) == 1 + 5 * 10
    text = few_shot_ceiling.report([{"host": "host-epyc-1c", "grid": grid, "shipped": [], "per_candidate": [],
                                     "chosen": [], "n": 4}], frozenset(), "cmd")
    row = next(line for line in text.splitlines() if line.startswith("| `host-epyc-1c`"))
    assert row.count("unknown") == 6 and " 0.0 %" not in row
    curve = few_shot_curve.report([{"host": "host-epyc-1c", "networks": 12,
                                    "curve": {5: (9.0, 8.5, 10, 7.0), 10: None, 20: (9.0, 7.5, 10, 2.0)}}],
                                  (5, 10, 20), frozenset(), "cmd")
    row = next(line for line in curve.splitlines() if line.startswith("| `host-epyc-1c`"))
    assert "8.5 % (9.0 %) | unknown | 7.5 % (9.0 %) | K=20 |" in row


def test_reproduce_command_names_every_non_default_option_out_included():
    # a partial table's command must write where the table was written, not over the main one (2026-12-05 evening)
    import argparse

    from benchmarks.few_shot_ceiling import command_options

    p = argparse.ArgumentParser()
    p.add_argument("--out", default="benchmarks/results/few_shot_curve.md")
    p.add_argument("--hosts", default="a,b")
    p.add_argument("--shots", default="5,10")
    args = p.parse_args(["--hosts", "b", "--out", "x.md"])
    assert command_options(p, args, ("hosts", "shots", "out")) == ["--hosts b", "--out x.md"]
    assert command_options(p, p.parse_args([]), ("hosts", "shots", "out")) == []
