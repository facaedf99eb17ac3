"""Plan (25) (2026-12-07): the product, blind, on popular architectures no earlier set holds; its report is what the
committed runs and the predictions stored before them give."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_plan_25s_report_is_what_its_committed_runs_and_stored_predictions_give():
    from benchmarks import popular_set
    from benchmarks.tcn_conv1d import score

    text = score(run=ROOT / popular_set.RUN, stored=popular_set.STORED, title=popular_set.SCORE_TITLE)
    assert (ROOT / "benchmarks" / "results" / "popular_set.md").read_text().rstrip("\n") == text.rstrip("\n")
    assert "host-epyc-zen4-1c: the product (24) MAPE 6.1 %; split-half test-retest 0.8 %" in text
    assert "host-epyc-zen4-2c: the product (24) MAPE 9.7 %; split-half test-retest 0.8 %" in text
