"""The Xeon slice's CPU measured quietly (``host-xeon480-2c``, 2026-12-06): its rows, its sheet, the zero-shot
predictions stored before any model was timed, and how the cross-host benchmark holds it out.

The loaded Xeon slice (``host-xeon-2c``: one pass under a load average of 3.6-4.6) recorded ``lscpu`` BogoMIPS 5200
and L3 480 MiB; the virtual machine of 2026-12-06 reads the same. Its probe sheet and the packaged model's predictions
for its 72 configurations were committed before its interleaved rounds ran (CHANGELOG, 2026-12-06 plan).
"""

from __future__ import annotations

import csv
from pathlib import Path


from benchmarks.cpu_cross_host import HOSTS, NOT_TRAINED, SAME_CPU, training_hosts

ROOT = Path(__file__).resolve().parents[1]
HOST = "host-xeon480-2c"
D = ROOT / "calibration" / HOST


def _rows(name: str) -> list[dict]:
    with (D / name).open() as f:
        return list(csv.DictReader(f))


def test_rows_record_the_cpu_threads_and_rounds():
    rows = _rows("measurements.csv")
    assert len(rows) == 72  # the default-size batch 1 and 2 configurations of the plan
    assert {(r["cpu_vendor"], r["cpu_family"], r["cpu_model_id"], r["cpu_stepping"]) for r in rows} == {
        ("GenuineIntel", "6", "167", "1")}
    assert {r["threads"] for r in rows} == {"2"} and {r["pinned_cores"] for r in rows} == {"0,1"}
    assert {r["device"] for r in rows} == {HOST} and {r["rounds"] for r in rows} == {"4"}
    lscpu = (D / "lscpu.txt").read_text()
    assert "BogoMIPS:" in lscpu and "5200.00" in lscpu and "480 MiB" in lscpu  # the slice's lscpu figures


# its sheet, stored predictions and their scored figure: tests/test_xeon480_1c_dec6e.py (both settings of this CPU)


def test_held_out_with_the_slice_and_never_trained_on_the_slice():
    assert HOSTS[HOST] == 2
    # since 2026-12-06 04:23 UTC with the same CPU's 1-thread run, held out with both
    assert set(SAME_CPU[HOST]) == {"host-xeon-2c", "host-xeon480-1c"}
    assert set(SAME_CPU["host-xeon-2c"]) == {HOST, "host-xeon480-1c"}
    for held in (HOST, "host-xeon-2c"):
        train = training_hosts(held)
        assert HOST not in train and "host-xeon-2c" not in train
    assert "host-xeon-2c" in NOT_TRAINED
    assert "host-xeon-2c" not in training_hosts(HOST, same_cpu=True)


def test_its_retest_and_split_halves_are_reported():
    from benchmarks.cpu_cross_host import RETESTS, SPLIT_HALVES

    assert (HOST, HOST, f"{HOST}-retest") in RETESTS and (HOST, HOST) in SPLIT_HALVES
    with (ROOT / "calibration" / f"{HOST}-retest" / "measurements.csv").open() as f:
        retest = list(csv.DictReader(f))
    # the same configurations, CPU, threads and rounds as the run it retests
    assert {r["key"] for r in retest} == {r["key"] for r in _rows("measurements.csv")}
    assert {(r["cpu_model_id"], r["cpu_stepping"], r["threads"], r["rounds"]) for r in retest} == {("167", "1", "2", "4")}
