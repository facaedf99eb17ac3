"""The quiet Xeon with one thread (``host-xeon480-1c``, 2026-12-06): its rows, its sheet, the packaged model's
predictions stored before any model was timed, and how the cross-host benchmark holds it out with the CPU's other
settings.

The virtual machine is the one of ``host-xeon480-2c`` (the CPU of the loaded Xeon slice ``host-xeon-2c``), a session
later. Its 1-thread probe sheet and the packaged model's predictions for the 72 configurations were committed before
its interleaved rounds ran (CHANGELOG, plan of 04:23 UTC).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from benchmarks.cpu_cross_host import HOSTS, LABELS, NOT_TRAINED, SAME_CPU, training_hosts
from hybridperf.device.spec import available_devices, parse_spec

ROOT = Path(__file__).resolve().parents[1]
HOST = "host-xeon480-1c"
D = ROOT / "calibration" / HOST
#: the settings of this CPU: the loaded slice, the quiet 2-thread run, this 1-thread run
XEON480 = {"host-xeon-2c", "host-xeon480-2c", HOST}


def _rows(directory: Path, name: str) -> list[dict]:
    with (directory / name).open() as f:
        return list(csv.DictReader(f))


def test_rows_record_the_cpu_one_thread_on_core_1_and_rounds():
    rows = _rows(D, "measurements.csv")
    two = _rows(ROOT / "calibration" / "host-xeon480-2c", "measurements.csv")
    assert {r["key"] for r in rows} == {r["key"] for r in two}  # the 72 configurations of the 2-thread run
    assert {(r["cpu_vendor"], r["cpu_family"], r["cpu_model_id"], r["cpu_stepping"]) for r in rows} == {
        ("GenuineIntel", "6", "167", "1")}
    assert {r["threads"] for r in rows} == {"1"} and {r["pinned_cores"] for r in rows} == {"1"}
    assert {r["device"] for r in rows} == {HOST} and {r["rounds"] for r in rows} == {"4"}
    lscpu = (D / "lscpu.txt").read_text()
    assert "5200.00" in lscpu and "480 MiB" in lscpu and "Model:                                   167" in lscpu


@pytest.mark.parametrize("host, threads", [(HOST, 1), ("host-xeon480-2c", 2)])
def test_each_setting_is_priced_on_its_own_probe(host, threads):
    sheet = ROOT / "calibration" / host / f"{host}.yaml"
    spec = parse_spec(yaml.safe_load(sheet.read_text()), str(sheet))
    assert spec.id == host and host not in available_devices()  # kept with the rows, not a packaged sheet
    assert spec.compute_unit_count == threads and spec.cpu_identity is not None


#: (setting, stored predictions, what every row's calibration note says): the packaged model of the day each was
#: written, before the setting's runs: the nine quiet settings for the 2-thread run (972 measurements, none of this
#: CPU: zero-shot), the ten for the 1-thread run (1042, this CPU's 2-thread run among them: not zero-shot)
STORED = [("host-xeon480-2c", "zero_shot_predictions.csv",
           ("zero-shot from spec for host-xeon480-2c (2 thread(s))", "trained on 972 measurements")),
          (HOST, "stored_predictions.csv",
           ("not zero-shot", "host-xeon480-2c (2 thread(s))", "trained on 1042 measurements"))]


@pytest.mark.parametrize("host, name, says", STORED)
def test_the_stored_predictions_cover_every_measured_model_and_say_what_priced_them(host, name, says):
    d = ROOT / "calibration" / host
    pred = _rows(d, name)
    assert {r["model"] for r in pred} == {r["model"] for r in _rows(d, "measurements.csv")}
    assert {r["device"] for r in pred} == {host} and {r["status"] for r in pred} == {"ok"}
    for r in pred:
        assert float(r["latency_s"]) > 0
        assert all(text in r["calibration"] for text in says), r["calibration"]


def test_held_out_with_both_other_settings_of_its_cpu_and_trains_nothing():
    assert HOSTS[HOST] == 1 and HOST in LABELS
    # the adoption rule written before its run said no (CHANGELOG 2026-12-06): scored, in no training set
    assert HOST in NOT_TRAINED and HOST not in training_hosts(None)
    assert all(HOST not in training_hosts(h, same_cpu=True) for h in HOSTS)
    for held in XEON480:
        assert set(SAME_CPU[held]) == XEON480 - {held}
        assert not set(training_hosts(held)) & XEON480
    # the row "same CPU at its other thread count trained on" adds the quiet 2-thread run back, never the slice
    assert "host-xeon480-2c" in training_hosts(HOST, same_cpu=True)
    assert "host-xeon-2c" not in training_hosts(HOST, same_cpu=True)


#: (measured directory, stored predictions, report): each setting's predictions against its first run, and the
#: 1-thread predictions (committed before any of them) against the two 8-round runs of 2026-12-06 06:56-08:05 UTC
SCORED = [("host-xeon480-2c", "host-xeon480-2c/zero_shot_predictions.csv", "device_vs_measured_xeon480_2t.md"),
          (HOST, f"{HOST}/stored_predictions.csv", "device_vs_measured_xeon480_1t.md"),
          (f"{HOST}-r8", f"{HOST}/stored_predictions.csv", "device_vs_measured_xeon480_1t_r8.md"),
          (f"{HOST}-r8-retest", f"{HOST}/stored_predictions.csv", "device_vs_measured_xeon480_1t_r8_retest.md"),
          (f"{HOST}-r8b", f"{HOST}/stored_predictions.csv", "device_vs_measured_xeon480_1t_r8b.md"),
          # the interleaved runs (plan of 2026-12-06 09:54 UTC), and the same model on the fresh probe of the 1-thread one
          (f"{HOST}-alt", f"{HOST}/stored_predictions.csv", "device_vs_measured_xeon480_1t_alt.md"),
          (f"{HOST}-alt", f"{HOST}-alt/fresh_probe_predictions.csv", "device_vs_measured_xeon480_1t_alt_fresh_probe.md"),
          ("host-xeon480-2c-alt", "host-xeon480-2c/zero_shot_predictions.csv", "device_vs_measured_xeon480_2t_alt.md"),
          # the fresh-probe check planned at 11:12 UTC: its own probe's predictions, committed before it ran, the stored
          # ones of 04:24 and those on the probe of 09:54
          (f"{HOST}-late", f"{HOST}-late/fresh_probe_predictions.csv", "device_vs_measured_xeon480_1t_late_fresh_probe.md"),
          (f"{HOST}-late", f"{HOST}/stored_predictions.csv", "device_vs_measured_xeon480_1t_late.md"),
          (f"{HOST}-late", f"{HOST}-alt/fresh_probe_predictions.csv", "device_vs_measured_xeon480_1t_late_alt_probe.md")]


@pytest.mark.parametrize("measured, stored, report", SCORED)
def test_the_scored_figure_is_that_of_the_stored_files(measured, stored, report):
    """``device_vs_measured_xeon480_*.md``: the stored predictions against the fastest runs, recomputed here."""
    from scored_figure import summary_row

    text = (ROOT / "benchmarks" / "results" / report).read_text()
    assert summary_row(ROOT / "calibration" / measured, ROOT / "calibration" / stored) in text


def test_thread_scaling_pairs_and_measured_speedups_are_those_of_the_files():
    """``cpu_thread_scaling.md``: the CPUs measured quietly at 1 and 2 threads, and each measured speed-up recomputed
    from the two directories' fastest runs (the model columns need training and are not recomputed here)."""
    from benchmarks.cpu_cross_host import DATA_DIRS, _speedup, timing_spreads
    from benchmarks.cpu_thread_scaling import thread_pairs
    from benchmarks.subnormal_scan import hazard_keys

    exclude = hazard_keys()
    pairs = thread_pairs(timing_spreads(None, exclude))
    assert pairs == [("host-epyc-1c", "host-epyc-zen3-2c"),  # Zen 3: one CPU model on two VMs (2026-11-23, 12-07)
                     ("host-epyc-zen4-1c", "host-epyc-zen4-2c"), ("host-epyc-zen5-1c", "host-epyc-zen5-2c"),
                     ("host-xeon-1c", "host-xeon-amx-2c"), ("host-epyc-zen1-1c", "host-epyc-zen1-2c"),
                     (HOST, "host-xeon480-2c")]  # the loaded slice (2 threads, one pass) in none
    text = (ROOT / "benchmarks" / "results" / "cpu_thread_scaling.md").read_text()
    for one, two in pairs:
        a, b = DATA_DIRS.get(one, one), DATA_DIRS.get(two, two)
        # the table's speed-up is the median over the configurations of both runs less the subnormal ones
        line = next(x for x in text.splitlines() if x.startswith(f"| `{one}` / `{two}` "))
        assert line.split("|")[3].strip() == f"{_speedup(a, b, exclude):.2f}x", line


def test_the_speedup_over_every_pairing_of_runs_is_that_of_the_files():
    """``cpu_thread_scaling.md``'s list of each CPU's speed-up over every pairing of its 1- and 2-thread runs: this
    CPU's five 1-thread runs (first run, its retest, the two 8-round runs, the interleaved run) against its three
    2-thread runs (first run, retest, the interleaved run)."""
    import numpy as np

    from benchmarks.cpu_cross_host import _speedup
    from benchmarks.cpu_thread_scaling import runs
    from benchmarks.subnormal_scan import hazard_keys

    assert runs(HOST) == [HOST, f"{HOST}-retest", f"{HOST}-r8", f"{HOST}-r8-retest", f"{HOST}-alt"]
    assert runs("host-xeon480-2c") == ["host-xeon480-2c", "host-xeon480-2c-retest", "host-xeon480-2c-alt"]
    v = np.array([_speedup(a, b, hazard_keys()) for a in runs(HOST) for b in runs("host-xeon480-2c")])
    text = (ROOT / "benchmarks" / "results" / "cpu_thread_scaling.md").read_text()
    assert (f"- `{HOST}` / `host-xeon480-2c`: 5 x 3 runs, {v.min():.2f}-{v.max():.2f}x (median {np.median(v):.2f}x)"
            in text)


#: every later run of this setting and its rounds: the 4-round retest of 05:14 UTC, the two 8-round runs planned at
#: 06:56 UTC and the third planned at 08:46 UTC, the interleaved run planned at 09:54 UTC and the fresh-probe check
#: planned at 11:12 UTC, each before it ran (CHANGELOG 2026-12-06)
LATER_RUNS = [(f"{HOST}-retest", "4"), (f"{HOST}-r8", "8"), (f"{HOST}-r8-retest", "8"), (f"{HOST}-r8b", "8"),
              (f"{HOST}-alt", "6"), (f"{HOST}-late", "4")]


@pytest.mark.parametrize("run, rounds", LATER_RUNS)
def test_every_later_run_is_the_same_setting(run, rounds):
    rows = _rows(ROOT / "calibration" / run, "measurements.csv")
    # the same configurations, device, CPU, threads and core as the first run, and the planned rounds
    assert {r["key"] for r in rows} == {r["key"] for r in _rows(D, "measurements.csv")}
    assert {(r["device"], r["cpu_model_id"], r["cpu_stepping"], r["threads"], r["pinned_cores"], r["rounds"])
            for r in rows} == {(HOST, "167", "1", "1", "1", rounds)}
    assert (ROOT / "calibration" / run / "lscpu.txt").read_text().count("480 MiB") == 1


def test_its_retests_and_split_halves_are_reported():
    """The two pairs in ``cpu_cross_host``'s test-retest lines; the third 8-round run, an out-of-sample check of the
    second pair, only in ``retest_cpu``'s report (``retest_cpu_xeon480_1t_r8b.md``)."""
    from benchmarks.cpu_cross_host import RETESTS, SPLIT_HALVES

    for run, retest in ((HOST, f"{HOST}-retest"), (f"{HOST}-r8", f"{HOST}-r8-retest")):
        assert (HOST, run, retest) in RETESTS and (HOST, run) in SPLIT_HALVES
    assert all(f"{HOST}-r8b" not in pair for pair in RETESTS)
    text = (ROOT / "benchmarks" / "results" / "retest_cpu_xeon480_1t_r8b.md").read_text()
    assert f"--test calibration/{HOST}-r8-retest --retest calibration/{HOST}-r8b" in text


def test_the_retest_lines_compare_normalised_figures_in_reference_units():
    """``cpu_cross_host.md``'s test-retest lines: the normalised figures are the unit-free columns (the ``*_s`` ones
    are multiplied back by each run's own median index, which carries the host's change between runs again)."""
    import numpy as np

    from benchmarks.cpu_cross_host import retest_lines
    from benchmarks.subnormal_scan import hazard_keys

    def table(d):
        return {r["key"]: r for r in _rows(ROOT / "calibration" / d, "measurements.csv")}

    a, b = table(f"{HOST}-r8"), table(f"{HOST}-r8-retest")
    keys = sorted((set(a) & set(b)) - hazard_keys())
    ratio = np.array([float(b[k]["latency_min_run_norm"]) / float(a[k]["latency_min_run_norm"]) for k in keys])
    figure = f"(`latency_min_run_norm`) MAPE {np.mean(np.abs(ratio - 1)) * 100:.1f} %"
    line = next(x for x in retest_lines(hazard_keys()) if f"`{HOST}-r8` vs `{HOST}-r8-retest`" in x)
    assert figure in line and "the goal's figure" in line and "_norm_s" not in line
    assert line in (ROOT / "benchmarks" / "results" / "cpu_cross_host.md").read_text()

