"""``benchmarks.transpose_term`` (plan (10) of 2026-12-06 22:16 UTC): the report's figures recomputed from the stored
predictions, the runs' measurements, the counts and the Zen 4 sheets' figures."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_counts_are_the_exports_of_the_zen4_runs_and_only_three_have_the_class():
    from benchmarks.transpose_term import exports, read_elements

    elements = read_elements()
    assert sorted(elements) == exports() and len(elements) == 88
    assert {Path(m).name: e for m, e in elements.items() if e} == {
        "maxvit_t_b1_r224_legacy.onnx": 3_411_968,
        "hf_mobilevit_small_b1_r256_legacy.onnx": 423_936,
        "hf_mobilevit_small_b2_r256_legacy.onnx": 2 * 423_936}  # batch 2: twice the elements


def test_maxvits_count_is_the_sum_over_its_export_transposes_of_the_class():
    """The product's count (Relax ``permute_dims``) against the ONNX export's Transposes of the class; skipped
    without the export."""
    from benchmarks.transpose_cost import export_transposes
    from hybridperf.analysis.transpose import MOVES, transpose_class

    path = ROOT / ".zoo" / "maxvit_t_b1_r224_legacy.onnx"
    if not path.exists():
        pytest.skip("the .zoo exports are not in this checkout (python -m benchmarks.collect_cpu export)")
    nodes = [n for n in export_transposes(path).values() if transpose_class(*n) == MOVES]
    assert len(nodes) == 36 and sum(math.prod(s) for s, _ in nodes) == 3_411_968


def test_the_report_is_the_stored_predictions_plus_the_term():
    from benchmarks.transpose_term import SETTINGS, read_elements, scored
    from benchmarks.unseen_networks import RETESTS, RUNS
    from hybridperf.device.spec import load_spec

    text = (ROOT / "benchmarks" / "results" / "transpose_term.md").read_text()
    elements = read_elements()
    for setting in SETTINGS:
        figure = load_spec(setting).innermost_transpose_s_per_element
        section = text.split(f"## `{setting}`")[1].split("\n## ")[0]
        assert f"figure {figure * 1e9:.3f} ns per element" in section
        for run in (RUNS[setting], *RETESTS[setting]):
            s = scored(setting, run, elements)
            changed = {k: v for k, v in s.items() if v[2] != v[1]}
            assert list(changed) == ["maxvit_t_b1_224"]  # MobileViT is left out of scoring
            _, p, q, t = changed["maxvit_t_b1_224"]
            assert q - p == pytest.approx(3_411_968 * figure)
            line = next(x for x in section.splitlines() if x.startswith(f"`{run.name}`") and "maxvit" in x)
            assert f"{100 * (p / t - 1):+.1f} %" in line and f"{100 * (q / t - 1):+.1f} %" in line
    assert "passed (12 of 12 comparisons)" in text
