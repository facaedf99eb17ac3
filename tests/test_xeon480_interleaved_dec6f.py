"""The quiet Xeon measured with 1 and 2 threads in alternating blocks of rounds (2026-12-06, plan of 09:54 UTC):
``calibration/host-xeon480-1c-alt`` and ``calibration/host-xeon480-2c-alt``, and what ``cpu_thread_scaling`` reports
of them.

The two settings' earlier runs were made hours apart on a virtual machine that drifts by as much as the thread
speed-up is off; here the blocks alternate (1 thread, 2 threads, 1 thread, ...) so both settings share the drift,
and the probes of both thread counts were taken back to back before the first block and after the last.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CALIB = ROOT / "calibration"
PAIR = ("host-xeon480-1c", "host-xeon480-2c")
RUNS = ("host-xeon480-1c-alt", "host-xeon480-2c-alt")
#: (run, device, threads, pinned cores, shuffle seed): as planned before the runs
SETTINGS = [(RUNS[0], PAIR[0], "1", "1", "77"), (RUNS[1], PAIR[1], "2", "0,1", "78")]
ROUNDS, BLOCK = 6, 2


def _rows(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("run, device, threads, cores, seed", SETTINGS)
def test_each_run_is_the_planned_setting_on_this_cpu(run, device, threads, cores, seed):
    d = CALIB / run
    rows = _rows(d / "measurements.csv")
    first = _rows(CALIB / device / "measurements.csv")
    assert {r["key"] for r in rows} == {r["key"] for r in first}  # the 72 configurations of the setting's first run
    assert {(r["device"], r["cpu_vendor"], r["cpu_model_id"], r["cpu_stepping"], r["threads"], r["pinned_cores"],
             r["rounds"]) for r in rows} == {(device, "GenuineIntel", "167", "1", threads, cores, str(ROUNDS))}
    assert {r["seed"] for r in _rows(d / "speed_index.csv")} == {seed}
    lscpu = (d / "lscpu.txt").read_text()
    assert "5200.00" in lscpu and "480 MiB" in lscpu and "Model:                                   167" in lscpu


def test_the_blocks_alternate_in_time():
    """Every 1-thread block ended before the 2-thread block of the same index began, and that one before the next
    1-thread block: the settings share the host's drift."""
    rounds = [sorted(_rows(CALIB / run / "speed_index.csv"), key=lambda r: int(r["round"])) for run in RUNS]
    assert [len(r) for r in rounds] == [ROUNDS, ROUNDS]
    timeline = []
    for i in range(0, ROUNDS, BLOCK):
        for side in rounds:
            block = side[i:i + BLOCK]
            timeline.append((block[0]["start_utc"], block[-1]["end_utc"]))
    assert all(a[1] <= b[0] for a, b in zip(timeline, timeline[1:])), timeline


def test_they_train_nothing_and_are_runs_of_their_settings():
    from benchmarks.cpu_cross_host import DATA_DIRS, RETESTS, SPLIT_HALVES
    from benchmarks.cpu_thread_scaling import INTERLEAVED, runs

    assert INTERLEAVED[PAIR].one == RUNS[0] and INTERLEAVED[PAIR].two == RUNS[1]
    assert INTERLEAVED[PAIR].block_rounds == BLOCK
    for run, setting in zip(RUNS, PAIR):
        assert run not in DATA_DIRS.values() and all(run not in r for r in (*RETESTS, *SPLIT_HALVES))
        assert runs(setting)[-1] == run


def _fastest(rows: list[dict], keep: range) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rows:
        if int(r["round"]) in keep:
            out[r["key"]] = min(out.get(r["key"], float("inf")), float(r["latency_min_s"]))
    return out


def test_the_interleaved_line_is_that_of_the_files():
    """``cpu_thread_scaling.md``: the measured speed-up over all rounds and per block pair, the reference kernels' and
    the probes' ratios, recomputed from the files (the model columns need training and are not recomputed here)."""
    from benchmarks.subnormal_scan import hazard_keys

    exclude = hazard_keys()
    raw = [_rows(CALIB / run / "rounds.csv") for run in RUNS]

    def speedup(keep: range) -> float:
        a, b = (_fastest(rows, keep) for rows in raw)
        return statistics.median(a[k] / b[k] for k in sorted(set(a) & set(b) - exclude))

    blocks = ", ".join(f"{speedup(range(i, i + BLOCK)):.2f}x" for i in range(0, ROUNDS, BLOCK))
    ref = []
    for columns in (("speed_index_s",), ("start_gemm_s", "end_gemm_s"), ("start_conv_s", "end_conv_s"),
                    ("start_stream_s", "end_stream_s")):
        med = [statistics.median(float(r[c]) for r in _rows(CALIB / run / "speed_index.csv") for c in columns)
               for run in RUNS]
        ref.append(f"{med[0] / med[1]:.2f}x")
    probes = []
    for tag in ("probe-before", "probe-after"):
        sheets = [yaml.safe_load((CALIB / run / f"{s}-{tag}.yaml").read_text()) for run, s in zip(RUNS, PAIR)]
        fp32 = [s["peak_compute"]["fp32"]["value"] for s in sheets]
        dram = [s["memory"]["dram"]["attainable_bandwidth"]["value"] for s in sheets]
        probes.append(f"{fp32[1] / fp32[0]:.2f}x / {dram[1] / dram[0]:.2f}x")
    text = (ROOT / "benchmarks" / "results" / "cpu_thread_scaling.md").read_text()
    line = next(x for x in text.splitlines() if x.startswith(f"| `{RUNS[0]}` / `{RUNS[1]}` "))
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[1] == str(ROUNDS) and cells[2] == f"{speedup(range(ROUNDS)):.2f}x"
    assert cells[3] == blocks and cells[4] == " / ".join(ref) and cells[5] == "; ".join(probes)


@pytest.mark.parametrize("run, setting, threads", [(RUNS[0], PAIR[0], 1), (RUNS[1], PAIR[1], 2)])
def test_the_probes_were_taken_with_the_runs_threads(run, setting, threads):
    from hybridperf.device.spec import available_devices, parse_spec

    for tag in ("probe-before", "probe-after"):
        path = CALIB / run / f"{setting}-{tag}.yaml"
        spec = parse_spec(yaml.safe_load(path.read_text()), str(path))
        assert spec.id == f"{setting}-{tag}" and spec.id not in available_devices()
        assert spec.compute_unit_count == threads and spec.cpu_identity is not None


@pytest.mark.parametrize("earlier", ["r8", "r8-retest", "r8b"])
def test_the_one_thread_run_against_the_earlier_eight_round_runs(earlier):
    """``retest_cpu_xeon480_1t_alt_vs_*.md`` (looked at after the runs, not planned): the interleaved 1-thread run
    against each 8-round run of the same setting 1-3 h before it; the default normalised figure (the rounds' fastest
    reference runs) recomputed from the unit-free column of both ``measurements.csv``."""
    a = {r["key"]: r for r in _rows(CALIB / f"host-xeon480-1c-{earlier}" / "measurements.csv")}
    b = {r["key"]: r for r in _rows(CALIB / RUNS[0] / "measurements.csv")}
    keys = sorted(set(a) & set(b))
    mape = statistics.fmean(abs(float(b[k]["latency_min_run_norm"]) / float(a[k]["latency_min_run_norm"]) - 1)
                            for k in keys)
    text = (ROOT / "benchmarks" / "results" / f"retest_cpu_xeon480_1t_alt_vs_{earlier.replace('-', '_')}.md").read_text()
    independent = text.split("### Independent runs: ")[1].split("### Independent runs, first")[0]
    line = next(x for x in independent.splitlines() if x.startswith("normalised minimum (fastest reference runs"))
    assert line.split(")")[-1].split()[:3] == [str(len(keys)), f"{mape * 100:.1f}", "%"], line


#: (run, its probe's id, how the probe's notes begin: the probe of 09:54 UTC ran before probes gave the minute)
FRESH = [(RUNS[0], "host-xeon480-1c-probe-before", "Probed 2026-12-06 by"),
         ("host-xeon480-1c-late", "host-xeon480-1c-probe-late", "Probed 2026-12-06T11:1")]


@pytest.mark.parametrize("run, probe_id, notes", FRESH)
def test_the_fresh_probe_predictions_were_made_on_the_runs_own_probe(run, probe_id, notes):
    """``fresh_probe_predictions.csv``: the packaged model's predictions of every measured model on the probe taken
    right before the run (for ``-alt`` made after its runs, for ``-late`` committed before them; CHANGELOG)."""
    pred = _rows(CALIB / run / "fresh_probe_predictions.csv")
    assert {r["model"] for r in pred} == {r["model"] for r in _rows(CALIB / run / "measurements.csv")}
    assert {r["device"] for r in pred} == {probe_id} and {r["status"] for r in pred} == {"ok"}
    assert all("trained on 1042 measurements" in r["calibration"] and "not zero-shot" in r["calibration"] for r in pred)
    assert yaml.safe_load((CALIB / run / f"{probe_id}.yaml").read_text())["notes"].startswith(notes)
