"""Zen 4 (2026-12-06, plan of 16:26 UTC): networks never measured, with 1 thread (``calibration/host-epyc-zen4-1c-unseen``),
the subnormal probe and denormals-as-zero runs (``calibration/host-epyc-zen4-subnormal``), and what
``benchmarks.unseen_networks`` and ``benchmarks.subnormal_assists`` report of them."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "calibration" / "host-epyc-zen4-1c-unseen"
SUB = ROOT / "calibration" / "host-epyc-zen4-subnormal"
RESULTS = ROOT / "benchmarks" / "results"


def _rows(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


#: setting -> (run directory, threads, pinned cores, shuffle seed, rounds, probe minute, first round not before)
RUNS = {"host-epyc-zen4-1c": (RUN, "1", "1", "85", 6, "2026-12-06T16:29Z", "2026-12-06T16:30"),
        "host-epyc-zen4-2c": (ROOT / "calibration" / "host-epyc-zen4-2c-unseen", "2", "0,1", "86", 4,
                              "2026-12-06T17:11Z", "2026-12-06T17:13")}


@pytest.mark.parametrize("setting", sorted(RUNS))
def test_the_run_is_the_planned_setting_and_trains_nothing(setting):
    from benchmarks.collect_cpu import configs
    from benchmarks.cpu_cross_host import DATA_DIRS, HOSTS, RETESTS, SPLIT_HALVES
    from benchmarks.unseen_networks import RUNS as REPORTED

    run, threads, cores, seed, rounds, _, _ = RUNS[setting]
    assert ROOT / REPORTED[setting] == run
    rows = _rows(run / "measurements.csv")
    assert {r["key"] for r in rows} == {c["key"] for c in configs(None, {1, 2}, True, "both")}
    assert {(r["device"], r["cpu_vendor"], r["cpu_family"], r["cpu_model_id"], r["cpu_stepping"], r["threads"],
             r["pinned_cores"]) for r in rows} == {(setting, "AuthenticAMD", "25", "17", "1", threads, cores)}
    index = _rows(run / "speed_index.csv")
    assert {r["seed"] for r in index} == {seed} and len({r["round"] for r in index}) == rounds
    lscpu = (run / "lscpu.txt").read_text()
    assert "AuthenticAMD" in lscpu and "5192.25" in lscpu and "32 MiB" in lscpu
    assert run.name not in HOSTS and run.name not in DATA_DIRS.values()
    assert all(run.name not in r for r in (*RETESTS, *SPLIT_HALVES))


@pytest.mark.parametrize("setting", sorted(RUNS))
def test_the_stored_predictions_were_made_on_the_runs_probe_before_the_rounds(setting):
    """``fresh_probe_predictions.csv``: every configuration priced by the packaged model on the probe kept beside it
    (Zen 4 is a training CPU: not zero-shot), the probe taken before the first round began."""
    from benchmarks.collect_cpu import configs
    from hybridperf.device.spec import available_devices, parse_spec

    run, threads, _, _, _, probed, first = RUNS[setting]
    pred = _rows(run / "fresh_probe_predictions.csv")
    assert {r["model"] for r in pred} == {str(c["path"]) for c in configs(None, {1, 2}, True, "both")}
    probe = run / f"{setting}-probe-unseen.yaml"
    raw = yaml.safe_load(probe.read_text())
    spec = parse_spec(raw, str(probe))
    assert spec.id == f"{setting}-probe-unseen" and spec.id not in available_devices()
    assert spec.compute_unit_count == int(threads) and spec.cpu_identity is not None
    assert {r["device"] for r in pred} == {spec.id} and {r["status"] for r in pred} == {"ok"}
    assert all(float(r["latency_s"]) > 0 and "not zero-shot" in r["calibration"] for r in pred)
    assert raw["notes"].startswith(f"Probed {probed}")
    assert _rows(run / "speed_index.csv")[0]["start_utc"] >= first
    # the probe's subnormal figures: none measurable per multiply-add on this CPU, under a nanosecond per output
    assert raw["subnormal_assist"]["mac"]["value"] == 0.0 and spec.subnormal_mac_s == 0.0
    assert 0 < spec.subnormal_softmax_s < 1e-9


def _section(text: str, setting: str) -> str:
    return text.split(f"## 1. Measured: networks never measured on any CPU, `{setting}`")[1].split("\n## ")[0]


def test_the_summary_repeats_each_runs_set_rows():
    """The summary table at the head of ``unseen_networks.md`` gives, per run, the MAPE of its section's rows."""
    from benchmarks.unseen_networks import RUNS, SEEN

    text = (RESULTS / "unseen_networks.md").read_text()
    summary = text.split("Summary of section 1")[1].split("## 1.")[0]
    for setting in RUNS:
        sec = _section(text, setting)
        cells = {x.split("  ")[0]: [c.strip() for c in x.split("  ") if c.strip()] for x in sec.splitlines()}
        ranged = next(v for k, v in cells.items() if k.startswith(SEEN + ","))
        line = next(x for x in summary.splitlines() if x.startswith(f"`{setting}`"))
        got = [c.strip() for c in line.split("  ") if c.strip()][-6:]
        assert got == [cells[SEEN][3], ranged[3], cells["all unseen networks"][3], cells[SEEN][7], ranged[7],
                       cells["all unseen networks"][7]], setting


def test_the_subnormal_probe_and_daz_runs_are_the_planned_ones():
    probes = _rows(SUB / "subnormal_probe.csv")
    assert [r["threads"] for r in probes] == ["1", "2"] * 3
    assert {(r["cpu_vendor"], r["cpu_family"], r["cpu_model_id"], r["cpu_stepping"]) for r in probes} == {
        ("AuthenticAMD", "25", "17", "1")}
    # the MatMul with subnormals is under the probe's 5 % resolution slower here: none measurable
    assert {float(r["mac_ns"]) for r in probes} == {0.0}
    assert all(float(r["matmul_ms"]) < 1.05 * float(r["matmul_normal_ms"]) for r in probes)
    daz = _rows(SUB / "daz.csv")
    assert len(daz) == 6 * 3 * 2 and {r["threads"] for r in daz} == {"2"}
    assert {r["mode"] for r in daz} == {"default", "daz"} and len({r["round"] for r in daz}) == 6


def test_the_report_prices_the_zen4_term_with_its_own_figures():
    """``subnormal_assists.md`` section 6: the medians of Zen 4's probes, and its denormals-as-zero table recomputed
    from ``daz.csv`` with the term counts x those medians."""
    from benchmarks.subnormal_assists import AFFECTED, figures, stored_counts

    text = (RESULTS / "subnormal_assists.md").read_text().split("## 6. Another CPU")[1]
    figs = figures(SUB)
    assert figs[1][0] == figs[2][0] == 0.0
    mac_ns, sm_ns = figs[2]
    cnt = stored_counts()
    daz = _rows(SUB / "daz.csv")
    for key in AFFECTED:
        d = statistics.median(float(r["best_s"]) for r in daz if r["key"] == key and r["mode"] == "default")
        z = statistics.median(float(r["best_s"]) for r in daz if r["key"] == key and r["mode"] == "daz")
        _, outputs, macs = cnt[key]
        term = (macs * mac_ns + outputs * sm_ns) * 1e-9
        line = next(x for x in text.splitlines() if x.startswith(f"| {key} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[3:] == [f"{(d - z) * 1e3:.2f}", f"{term * 1e3:.2f}"], key
