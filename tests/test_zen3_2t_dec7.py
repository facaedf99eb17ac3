"""The Zen 3 VM with two threads (``host-epyc-zen3-2c``, 2026-12-07): its run and retest, the packaged model's
predictions stored before either, and how the cross-host benchmark holds it out with ``host-epyc-1c`` (the same CPU
model, 1 thread, another VM): plans (31), (32) and (34) of CHANGELOG 2026-12-07.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from benchmarks.cpu_cross_host import HOSTS, LABELS, RETESTS, SAME_CPU, SPLIT_HALVES, training_hosts
from hybridperf.device.spec import available_devices, parse_spec

ROOT = Path(__file__).resolve().parents[1]
HOST = "host-epyc-zen3-2c"
D = ROOT / "calibration" / HOST
RETEST = ROOT / "calibration" / f"{HOST}-retest"


def _rows(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("d, seed", [(D, "80"), (RETEST, "81")])
def test_the_run_and_its_retest_record_the_cpu_two_threads_and_their_seed(d, seed):
    rows = _rows(d / "measurements.csv")
    other = _rows((RETEST if d == D else D) / "measurements.csv")
    assert len(rows) == 72 and {r["key"] for r in rows} == {r["key"] for r in other}
    assert {(r["cpu_vendor"], r["cpu_family"], r["cpu_model_id"], r["cpu_stepping"]) for r in rows} == {
        ("AuthenticAMD", "25", "1", "1")}
    assert {r["threads"] for r in rows} == {"2"} and {r["pinned_cores"] for r in rows} == {"0,1"}
    assert {r["device"] for r in rows} == {HOST} and {r["rounds"] for r in rows} == {"4"}
    assert {r["seed"] for r in _rows(d / "rounds.csv")} == {seed}


def test_priced_on_its_own_two_thread_probe():
    sheet = D / f"{HOST}.yaml"
    spec = parse_spec(yaml.safe_load(sheet.read_text()), str(sheet))
    assert spec.id == HOST and HOST not in available_devices()  # kept with the rows, not a packaged sheet
    assert spec.compute_unit_count == 2 and spec.cpu_identity is not None


def test_held_out_with_the_zen3_core_of_another_vm():
    assert HOSTS[HOST] == 2 and HOST in LABELS
    assert SAME_CPU[HOST] == ("host-epyc-1c",) and SAME_CPU["host-epyc-1c"] == (HOST,)
    assert "host-epyc-1c" not in training_hosts(HOST) and HOST not in training_hosts("host-epyc-1c")
    assert "host-epyc-1c" in training_hosts(HOST, same_cpu=True)
    # adopted by plan (34)'s rule: it trains the other CPUs' models and the packaged model
    assert HOST in training_hosts(None) and HOST in training_hosts("host-epyc-zen4-1c")
    assert (HOST, HOST, f"{HOST}-retest") in RETESTS
    assert {(HOST, HOST), (HOST, f"{HOST}-retest")} <= set(SPLIT_HALVES)


#: (measured directory, report): the predictions committed before either run against each
SCORED = [(HOST, "device_vs_measured_zen3_2t.md"), (f"{HOST}-retest", "device_vs_measured_zen3_2t_retest.md")]


@pytest.mark.parametrize("measured, report", SCORED)
def test_the_scored_figure_is_that_of_the_stored_files(measured, report):
    """The stored predictions of b488075 against the fastest runs, recomputed here."""
    from scored_figure import summary_row

    text = (ROOT / "benchmarks" / "results" / report).read_text()
    assert summary_row(ROOT / "calibration" / measured, D / "zero_shot_predictions.csv") in text


def test_the_packaged_model_holds_its_rows():
    """The packaged model retrained with it (plan (34)): one offset per training host, its 70 configurations (the
    72 less MobileViT-small's two, whose activations collapse to subnormals) among the rows."""
    import json

    from benchmarks.cpu_cross_host import NOT_TRAINED
    from hybridperf.data import packaged_dir

    meta = json.loads((packaged_dir("models") / "cross-host-cpu" / "residual.json").read_text())
    hosts = meta["metrics"]["hosts"]
    assert hosts[HOST] == 70 and set(hosts) == set(HOSTS) - set(NOT_TRAINED)
    assert meta["metrics"]["data"][HOST] == f"calibration/{HOST}"
    assert meta["n_train"] == sum(hosts.values())


def test_a_run_without_reference_kernels_reads_unknown_not_nan():
    """``host-epyc-1c`` (one-pass protocol, 2026-11-23) timed no reference kernel: its pair's reference speed-up is
    unknown in ``cpu_thread_scaling.md``, never ``nanx``."""
    from benchmarks.cpu_thread_scaling import _ratio

    assert _ratio(float("nan")) == "unknown" and _ratio(1.5) == "1.50x"
    text = (ROOT / "benchmarks" / "results" / "cpu_thread_scaling.md").read_text()
    assert "nan" not in text.lower().replace("nanoseconds", "")
    line = next(x for x in text.splitlines() if x.startswith(f"| `host-epyc-1c` / `{HOST}` "))
    assert "| unknown / unknown |" in line
