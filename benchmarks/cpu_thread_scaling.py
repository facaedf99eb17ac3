"""Where a CPU's 2-thread level miss comes from: measured 1 -> 2 thread speed-up against the cross-host model's.

For every CPU of ``benchmarks.cpu_cross_host`` measured quietly with both 1 and 2 onnxruntime threads (its settings in
:data:`~benchmarks.cpu_cross_host.HOSTS` joined by :data:`~benchmarks.cpu_cross_host.SAME_CPU`, less those whose timings
do not reproduce: the loaded slice), on the configurations measured at both settings:

* measured speed-up: median of the fastest 1-thread run over the fastest 2-thread run;
* the same ratio of the rooflines of the two sheets (each probed with its own thread count), and of the zero-shot
  cross-host model of ``cpu_cross_host.md`` (trained on the other CPUs, none of this one: the model that prices
  the CPU held out);
* each setting's level: median measured / roofline (the offset) and median zero-shot predicted / measured.

A 2-thread setting whose zero-shot level misses while the 1-thread one does not, with a measured speed-up below the
model's, says the miss is in how the CPU scales to its second thread (shared caches, a second vCPU that is an SMT
sibling or shares its core with other guests), which no figure of the sheet but the 2-thread probe itself carries.

Usage::

    taskset -c 0 python -m benchmarks.cpu_thread_scaling   # writes benchmarks/results/cpu_thread_scaling.md
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from benchmarks.cpu_cross_host import (
    CALIB,
    DATA_DIRS,
    HOSTS,
    LABELS,
    RESULTS,
    RETESTS,
    SAME_CPU,
    _left_out_line,
    _measurements,
    _speedup,
    load_hosts,
    timing_spreads,
    training_hosts,
)

COMMAND = "taskset -c 0 python -m benchmarks.cpu_thread_scaling"


def thread_pairs(spreads: dict[str, float]) -> list[tuple[str, str]]:
    """(1-thread setting, 2-thread setting) of every CPU measured at both with timings that reproduce (``spreads``:
    :func:`~benchmarks.cpu_cross_host.timing_spreads`, at most
    :data:`~hybridperf.residual.cross_host.MAX_OFFSET_SPREAD`), in :data:`HOSTS` order."""
    from hybridperf.residual.cross_host import lends_offset

    out = []
    for h, threads in HOSTS.items():
        if threads != 1 or not lends_offset(spreads[h]):
            continue
        two = [x for x in SAME_CPU.get(h, ()) if HOSTS.get(x) == 2 and lends_offset(spreads[x])]
        out += [(h, x) for x in two]
    return out


#: the reference kernels' timings compared between the two runs (``speed_index.csv``, every round's start and end
#: timing): the round's speed index (geometric mean of GEMM, conv and stream) and the conv kernel alone
REFERENCE_FIGURES = {"index": ("speed_index_s",), "conv": ("start_conv_s", "end_conv_s")}


def reference_speedup(one_dir: str, two_dir: str, what: str) -> float:
    """Median reference timing of the 1-thread run over that of the 2-thread run (:data:`REFERENCE_FIGURES`; the
    reference runs with each run's own threads); NaN where a run has no ``speed_index.csv``."""
    med = []
    for d in (one_dir, two_dir):
        path = CALIB / d / "speed_index.csv"
        if not path.exists():
            return float("nan")
        with path.open() as f:
            med.append(float(np.median([float(r[c]) for r in csv.DictReader(f) for c in REFERENCE_FIGURES[what]
                                        if r.get(c)])))
    return med[0] / med[1]


def runs(host: str) -> list[str]:
    """Every run directory of a setting: its data directory, then each run of :data:`RETESTS` of it, in that order."""
    out = [DATA_DIRS.get(host, host)]
    for h, test, rt in RETESTS:
        if h == host:
            out += [d for d in (test, rt) if d not in out]
    return out


def _by_key(rows: list[dict], values: np.ndarray) -> dict[str, float]:
    return {r["key"]: float(v) for r, v in zip(rows, values)}


def scale(one: str, two: str, data, spreads: dict[str, float], exclude: frozenset[str] = frozenset()) -> dict:
    """Figures of one CPU (see the module docstring); predicted latencies in log seconds are compared by key, the
    measured ones by :func:`~benchmarks.cpu_cross_host._speedup` of the two directories (less ``exclude``, the keys
    ``data`` was loaded without)."""
    from hybridperf.residual import cross_host as ch

    hosts = training_hosts(one)
    if training_hosts(two) != hosts:  # the same model must price both settings
        raise ValueError(f"{one} and {two} are not held out together (SAME_CPU)")
    model = ch.train({h: data[h][:5] for h in hosts}, spreads={h: spreads[h] for h in hosts})
    out: dict = {"hosts": hosts}
    logs = {}
    for h in (one, two):
        X, y, kt, _, fig, rows = data[h]
        pred = model.for_host(fig).predict(X, ch.with_host(kt, fig))
        roof = np.log([float(r["roofline_latency_s"]) for r in rows])
        logs[h] = {"roof": _by_key(rows, roof), "zs": _by_key(rows, roof + pred)}
        out[h] = {"offset": float(np.exp(np.median(y))), "zs_level": float(np.exp(np.median(pred - y))),
                  "zs_mape": float(np.mean(np.abs(np.exp(pred - y) - 1.0)) * 100)}
    keys = sorted(set(logs[one]["roof"]) & set(logs[two]["roof"]))
    out["n"] = len(keys)
    d1, d2 = (DATA_DIRS.get(h, h) for h in (one, two))  # the first run of each: runs(one)[0], runs(two)[0]
    # every pairing of the two settings' runs; the table's measured column is that of the two data directories
    out["pairings"] = {(a, b): _speedup(a, b, exclude) for a in runs(one) for b in runs(two)}
    out["true"] = out["pairings"][d1, d2]
    # the runs' dates, and the speed-up against each independent retest of the 2-thread run: two runs hours apart
    # differ by the host's drift as well as by the threads
    out["dates"] = tuple(min((r.get("date_first_utc") or "unknown")[:16] for r in _measurements(CALIB / d).values())
                         for d in (d1, d2))
    out["retests"] = {rt: (out["pairings"][d1, rt], reference_speedup(d1, rt, "conv"))
                      for h, test, rt in RETESTS if h == two and test == d2}
    out["reference"] = {what: reference_speedup(d1, d2, what) for what in REFERENCE_FIGURES}
    for what in ("roof", "zs"):
        out[what] = float(np.exp(np.median([logs[one][what][k] - logs[two][what][k] for k in keys])))
    return out


def report(results: dict[tuple[str, str], dict], exclude: frozenset[str]) -> str:
    out = ["# CPU thread scaling: 1 -> 2 threads, measured and predicted", "",
           f"Reproduce: `{COMMAND}`", "",
           "For each CPU measured quietly with 1 and 2 onnxruntime threads (both vCPUs of a 2-vCPU virtual machine), "
           "on the configurations measured at both settings: the measured speed-up (median of fastest 1-thread run "
           "/ fastest 2-thread run), the same ratio of the two sheets' rooflines (each sheet probed with its own "
           "thread count) and of the zero-shot cross-host model that prices the CPU held out (trained on the other "
           "CPUs, as in `cpu_cross_host.md`); and each setting's offset (median measured / roofline) and zero-shot "
           "level (median predicted / measured; below 1: predicted too fast). Label: the fastest timed run. The two "
           "runs of a CPU were made minutes to hours apart (their first timings below), so a measured speed-up also "
           "carries the host's drift between them; where the 2-thread run has an independent retest, the speed-up "
           "against the retest is given too. *Reference kernels'*: the median timing of the interleaved rounds' "
           "reference workload (`hybridperf.measure.rounds.reference_models`, run with each run's threads, at the "
           "start and end of every round) of the 1-thread run over the 2-thread run's: the speed index (GEMM, conv, "
           "stream) and the 3x3 conv alone (looked at on 2026-12-06 after the measured column was seen, as a possible "
           "thread-scaling probe; the lines below give it against the retests too).", "",
           _left_out_line(exclude), "",
           "| CPU | configurations | measured speed-up 1 -> 2 threads | roofline's | zero-shot model's "
           "| reference kernels' (index / conv) "
           "| offset 1 thread / 2 threads | zero-shot level 1 thread / 2 threads | zero-shot MAPE 1 thread / 2 threads |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (one, two), r in results.items():
        a, b = r[one], r[two]
        out.append(f"| `{one}` / `{two}` ({LABELS[one].rsplit(' (', 1)[0]}) | {r['n']} | {r['true']:.2f}x "
                   f"| {r['roof']:.2f}x | {r['zs']:.2f}x "
                   f"| {r['reference']['index']:.2f}x / {r['reference']['conv']:.2f}x "
                   f"| x{a['offset']:.2f} / x{b['offset']:.2f} "
                   f"| {a['zs_level']:.3f} / {b['zs_level']:.3f} | {a['zs_mape']:.1f} / {b['zs_mape']:.1f} % |")
    out += ["", "Runs compared (first timing, UTC) and the speed-up against the 2-thread run's retests:", ""]
    for (one, two), r in results.items():
        rt = "; ".join(f"against `{d}` {v:.2f}x (reference conv {c:.2f}x)" for d, (v, c) in r["retests"].items())
        rt = rt or "no retest"
        out.append(f"- `{DATA_DIRS.get(one, one)}` {r['dates'][0]} / `{DATA_DIRS.get(two, two)}` {r['dates'][1]}: {rt}")
    out += ["", "The measured speed-up over every pairing of a CPU's 1-thread runs with its 2-thread runs (each setting's "
            "data directory and the runs of its test-retest pairs in `cpu_cross_host.RETESTS`; fastest runs, as the "
            "table's column; added 2026-12-06 08:15 UTC after the 8-round runs of "
            "`host-xeon480-1c`): how much of the measured column is the host's drift between runs:", ""]
    for (one, two), r in results.items():
        v = np.array(list(r["pairings"].values()))
        n1, n2 = len(runs(one)), len(runs(two))
        out.append(f"- `{one}` / `{two}`: {n1} x {n2} runs, {v.min():.2f}-{v.max():.2f}x (median {np.median(v):.2f}x)"
                   f" against the zero-shot model's {r['zs']:.2f}x")
    out += ["", "Training settings of each row's model (every other CPU's quiet settings):", ""]
    out += [f"- `{one}` / `{two}`: {', '.join(f'`{h}`' for h in r['hosts'])}" for (one, two), r in results.items()]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(RESULTS / "cpu_thread_scaling.md"))
    args = p.parse_args(argv)
    from benchmarks.subnormal_scan import hazard_keys

    exclude = hazard_keys()
    data = load_hosts(DATA_DIRS, exclude)
    spreads = timing_spreads(DATA_DIRS, exclude)
    results = {pair: scale(*pair, data, spreads, exclude) for pair in thread_pairs(spreads)}
    text = report(results, exclude)
    Path(args.out).write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
