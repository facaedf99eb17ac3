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
import sys
from dataclasses import dataclass
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


def _ratio(v: float) -> str:
    """A speed-up as the tables print it; "unknown" where a run has no such timing (NaN: the one-pass protocol of
    ``host-epyc-1c`` timed no reference kernel)."""
    return "unknown" if np.isnan(v) else f"{v:.2f}x"


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
#: timing): the round's speed index (geometric mean of GEMM, conv and stream), the conv kernel alone, and (for the
#: interleaved runs, :data:`INTERLEAVED`) the GEMM and the streaming add alone
REFERENCE_FIGURES = {"index": ("speed_index_s",), "conv": ("start_conv_s", "end_conv_s"),
                     "GEMM": ("start_gemm_s", "end_gemm_s"), "add": ("start_stream_s", "end_stream_s")}


@dataclass(frozen=True)
class Interleaved:
    """One CPU measured with 1 and 2 threads in alternating blocks of rounds (``collect_cpu rounds --rounds 2, 4, ...``
    on each directory in turn), so the host's drift between the settings is shared by both: the 1-thread and 2-thread
    run directories (under ``calibration/``), the rounds of one block, and the tags of the ``hybridperf probe`` sheets
    taken back to back (1 thread, then 2) before the first block and after the last (``<dir>/<setting>-<tag>.yaml``)."""

    one: str
    two: str
    block_rounds: int
    probes: tuple[str, ...] = ("probe-before", "probe-after")


#: (1-thread setting, 2-thread setting) -> its interleaved runs (planned 2026-12-06 09:54 UTC before they ran; they
#: train nothing and are reported here only)
INTERLEAVED: dict[tuple[str, str], Interleaved] = {
    ("host-xeon480-1c", "host-xeon480-2c"): Interleaved("host-xeon480-1c-alt", "host-xeon480-2c-alt", 2),
}


def reference_speedup(one_dir: str, two_dir: str, what: str) -> float:
    """Median reference timing of the 1-thread run over that of the 2-thread run (:data:`REFERENCE_FIGURES`; the
    reference runs with each run's own threads); NaN where a run has no ``speed_index.csv``."""
    from benchmarks.retest_cpu import csv_rows

    med = []
    for d in (one_dir, two_dir):
        path = CALIB / d / "speed_index.csv"
        if not path.exists():
            return float("nan")
        med.append(float(np.median([float(r[c]) for r in csv_rows(path) for c in REFERENCE_FIGURES[what] if r.get(c)])))
    return med[0] / med[1]


def runs(host: str) -> list[str]:
    """Every run directory of a setting: its data directory, then each run of :data:`RETESTS` of it, then its
    interleaved run (:data:`INTERLEAVED`), in that order."""
    out = [DATA_DIRS.get(host, host)]
    for h, test, rt in RETESTS:
        if h == host:
            out += [d for d in (test, rt) if d not in out]
    for pair, run in INTERLEAVED.items():
        out += [d for h, d in zip(pair, (run.one, run.two)) if h == host and d not in out]
    return out


def block_speedups(run: Interleaved, exclude: frozenset[str] = frozenset()) -> tuple[int, list[float]]:
    """The rounds both runs of an interleaved run completed, and the measured speed-up of each block pair (the i-th
    1-thread block against the i-th 2-thread block): median over the configurations of both, less ``exclude``, of the
    fastest 1-thread run over the fastest 2-thread run within the blocks."""
    from benchmarks.retest_cpu import rounds_rows
    from hybridperf.measure.rounds import summarize

    raw = [rounds_rows(CALIB / d) for d in (run.one, run.two)]
    done = [sorted({int(r["round"]) for r in rows}) for rows in raw]
    rounds = min(len(d) for d in done)
    out = []
    for i in range(0, rounds, run.block_rounds):
        fast = [{s.key: s.latency_min_s for s in summarize(rows, d[i:i + run.block_rounds])}
                for rows, d in zip(raw, done)]
        keys = sorted((set(fast[0]) & set(fast[1])) - exclude)
        out.append(float(np.median([fast[0][k] / fast[1][k] for k in keys])))
    return rounds, out


def probe_sheet(d: str, setting: str, tag: str):
    """The ``hybridperf probe`` sheet ``calibration/<d>/<setting>-<tag>.yaml`` (parsed: its id is not a shipped one)."""
    import yaml

    from hybridperf.device.spec import parse_spec

    path = CALIB / d / f"{setting}-{tag}.yaml"
    return parse_spec(yaml.safe_load(path.read_text()), str(path))


def interleaved(pair: tuple[str, str], run: Interleaved, model, exclude: frozenset[str]) -> dict:
    """Figures of an interleaved run: the measured speed-up over all its rounds and per block pair, the reference
    kernels' speed-up in the same rounds, each pair of back-to-back probes' fp32 GEMM and DRAM copy ratio (2 threads
    over 1), and, priced on the probes taken before the first block, the rooflines' and the zero-shot ``model``'s
    speed-up (median over the configurations) with its MAPE and level on each run."""
    from benchmarks.cpu_cross_host import measured_cpu
    from hybridperf.residual import cross_host as ch
    from hybridperf.residual.model import CPU_TARGET, load_table

    rounds, blocks = block_speedups(run, exclude)
    out: dict = {"measured": _speedup(run.one, run.two, exclude), "blocks": blocks, "rounds": rounds,
                 "reference": {what: reference_speedup(run.one, run.two, what) for what in REFERENCE_FIGURES}}
    out["probes"] = {}
    for tag in run.probes:
        one, two = (probe_sheet(d, h, tag) for d, h in zip((run.one, run.two), pair))
        out["probes"][tag] = {"fp32": two.peak_flops("fp32") / one.peak_flops("fp32"),
                              "dram": two.dram_bandwidth_bytes_per_s / one.dram_bandwidth_bytes_per_s}
    logs = {}
    for d, h, threads in zip((run.one, run.two), pair, (1, 2)):
        X, y, _, _, kt, rows = load_table(CALIB / d, target=CPU_TARGET, exclude=exclude)
        fig = ch.host_figures(probe_sheet(d, h, run.probes[0]), threads, measured_cpu(CALIB / d))
        logs[h], out[h] = _priced(model, X, y, kt, fig, rows)
    _, ratios = _ratios(logs, *pair)
    out.update(ratios)
    return out


def _by_key(rows: list[dict], values: np.ndarray) -> dict[str, float]:
    return {r["key"]: float(v) for r, v in zip(rows, values)}


def _priced(model, X, y, kt, fig, rows) -> tuple[dict, dict]:
    """One setting's rows priced by the zero-shot ``model`` for the host ``fig``: the log roofline and the log
    zero-shot latency by key, and the offset (median measured / roofline), zero-shot level (median predicted /
    measured) and zero-shot MAPE (%)."""
    from hybridperf.residual import cross_host as ch

    pred = model.for_host(fig).predict(X, ch.with_host(kt, fig))
    roof = np.log([float(r["roofline_latency_s"]) for r in rows])
    logs = {"roof": _by_key(rows, roof), "zs": _by_key(rows, roof + pred)}
    return logs, {"offset": float(np.exp(np.median(y))), "zs_level": float(np.exp(np.median(pred - y))),
                  "zs_mape": float(np.mean(np.abs(np.exp(pred - y) - 1.0)) * 100)}


def _ratios(logs: dict, one: str, two: str) -> tuple[int, dict[str, float]]:
    """The configurations priced for both settings, and the median 1-thread over 2-thread ratio of the rooflines
    (``"roof"``) and of the zero-shot latencies (``"zs"``) over them."""
    keys = sorted(set(logs[one]["roof"]) & set(logs[two]["roof"]))
    return len(keys), {what: float(np.exp(np.median([logs[one][what][k] - logs[two][what][k] for k in keys])))
                       for what in ("roof", "zs")}


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
        logs[h], out[h] = _priced(model, X, y, kt, fig, rows)
    out["n"], ratios = _ratios(logs, one, two)
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
    out.update(ratios)
    if (one, two) in INTERLEAVED:
        out["interleaved"] = interleaved((one, two), INTERLEAVED[one, two], model, exclude)
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
                   f"| {_ratio(r['reference']['index'])} / {_ratio(r['reference']['conv'])} "
                   f"| x{a['offset']:.2f} / x{b['offset']:.2f} "
                   f"| {a['zs_level']:.3f} / {b['zs_level']:.3f} | {a['zs_mape']:.1f} / {b['zs_mape']:.1f} % |")
    out += ["", "Runs compared (first timing, UTC) and the speed-up against the 2-thread run's retests:", ""]
    for (one, two), r in results.items():
        rt = "; ".join(f"against `{d}` {v:.2f}x (reference conv {_ratio(c)})" for d, (v, c) in r["retests"].items())
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
    inter = {pair: r["interleaved"] for pair, r in results.items() if "interleaved" in r}
    if inter:
        out += ["", "## Interleaved runs: 1 and 2 threads in alternating blocks of rounds", "",
                "The same CPU measured with 1 thread (one core pinned) and 2 threads (both vCPUs) in alternating blocks "
                "of rounds, so that the host's drift between runs is shared by both settings (planned 2026-12-06 09:54 "
                "UTC before they ran; `INTERLEAVED`); `hybridperf probe` with 1 thread, then 2, back to back before "
                "the first block and after the last. Measured: fastest runs, as the table above, over all rounds and "
                "per block pair; reference kernels: median timing over the rounds (1 thread over 2); probes: 2-thread "
                "figure over 1-thread; the rooflines' and the zero-shot model's speed-up priced on the probes taken "
                "before the first block (the model of the table's row: trained on the other CPUs), its MAPE and level "
                "scored on these runs.", "",
                "| CPU runs | rounds a setting | measured speed-up, all rounds | per block pair | reference kernels' "
                "(index / GEMM / conv / add) | probes' fp32 GEMM / DRAM copy (before; after) | rooflines' | zero-shot "
                "model's | zero-shot MAPE 1 thread / 2 threads | zero-shot level 1 thread / 2 threads |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for (one, two), r in inter.items():
            run = INTERLEAVED[one, two]
            ref = " / ".join(f"{r['reference'][w]:.2f}x" for w in ("index", "GEMM", "conv", "add"))
            probes = "; ".join(f"{p['fp32']:.2f}x / {p['dram']:.2f}x" for p in r["probes"].values())
            out.append(f"| `{run.one}` / `{run.two}` | {r['rounds']} | {r['measured']:.2f}x "
                       f"| {', '.join(f'{b:.2f}x' for b in r['blocks'])} | {ref} | {probes} | {r['roof']:.2f}x "
                       f"| {r['zs']:.2f}x | {r[one]['zs_mape']:.1f} / {r[two]['zs_mape']:.1f} % "
                       f"| {r[one]['zs_level']:.3f} / {r[two]['zs_level']:.3f} |")
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
