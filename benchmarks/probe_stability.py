"""How much a CPU probe's figures, and the zero-shot predictions made from them, move from one probe to the next.

``--device host`` prices this machine from a sheet that ``hybridperf probe`` writes on first use and caches. The
cross-host CPU model's zero-shot prediction scales with that sheet's fp32 GEMM figure, so a probe that reads it 10 %
low makes every prediction about 10 % slow for as long as the cache lives. This benchmark runs ``--runs`` quick
probes (``hybridperf probe --quick``) and as many full ones, interleaved, each in a fresh process as a user would,
and for every sheet:

* its figures (fp32 / int8 GEMM, DRAM triad, per-node dispatch) and the probe's wall time;
* the zero-shot predictions (the packaged cross-host model, :func:`hybridperf.residual.cross_host.base_model` with
  the median offset of its lending training CPUs, as for a CPU it never saw) of every configuration of ``--data``
  (a calibration directory measured on this machine with the probe's thread count), scored against that
  directory's CPU label (``latency_min_s``, the fastest run).

Then per probe mode: the spread of each figure (max / min), the zero-shot MAPE's range, and how far two sheets of
the same mode move the predictions apart (mean over configurations and over pairs of sheets of |ratio - 1|).

Usage::

    taskset -c 0,1 python -m benchmarks.probe_stability --data calibration/host-epyc-zen4-2c-r2 --runs 8 \\
        --out benchmarks/results/probe_stability.md
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
MODES = ("quick", "full")


def _probe(mode: str, out: Path) -> float:
    """One ``hybridperf probe --cpu-only`` of ``mode`` into ``out`` (its id: the file's stem); its wall seconds."""
    cmd = [sys.executable, "-m", "hybridperf", "probe", "--cpu-only", "--out", str(out), "--id", out.stem,
           *(["--quick"] if mode == "quick" else [])]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _figures(spec) -> dict[str, float]:
    dram = spec.memory.get("dram")
    bw = dram.effective_bandwidth_bytes_per_s if dram else None
    return {"fp32 GFLOP/s": spec.peak_flops_per_s["fp32"] / 1e9,
            "int8 GOPS": spec.peak_flops_per_s.get("int8", float("nan")) / 1e9,
            "DRAM GB/s": bw / 1e9 if bw else float("nan"), "dispatch us": spec.launch_overhead_s * 1e6}


def _spread(values: list[float]) -> str:
    return f"{min(values):.4g} .. {max(values):.4g} (x{max(values) / min(values):.3f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.probe_stability", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path,
                   help="calibration directory measured here, with the probe's thread count (its measurements.csv)")
    p.add_argument("--runs", type=int, default=8, help="probes of each mode (default %(default)s)")
    p.add_argument("--out", default="-", help="markdown file to write ('-': none)")
    args = p.parse_args(argv)
    command = "python -m benchmarks.probe_stability " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    from hybridperf.api import analyze, predict_on
    from hybridperf.device.spec import load_spec
    from benchmarks.subnormal_scan import hazard_keys
    from hybridperf.measure.host import host_cpu, host_identity, host_key, host_threads
    from hybridperf.report.format import table
    from hybridperf.residual.cross_host import base_model

    threads = host_threads()
    ident = host_identity()
    with (args.data / "measurements.csv").open() as f:
        rows = list(csv.DictReader(f))
    data_threads = {int(r["threads"]) for r in rows}
    if data_threads != {threads}:
        p.error(f"--data was measured with {sorted(data_threads)} thread(s); this process may use {threads}: run it "
                "under `taskset -c` with that many CPUs")
    skip = hazard_keys()
    rows = [r for r in rows if r["key"] not in skip and Path(r["model"]).exists()]
    measured = {r["key"]: float(r["latency_min_s"]) for r in rows}
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M")
    sheets: dict[str, list[tuple[Path, float]]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory(prefix="probe-stability-") as tmp:
        for i in range(args.runs):  # interleaved: a slow spell of the host falls on both modes
            for mode in MODES:
                out = Path(tmp) / f"{mode}{i}.yaml"
                sheets[mode].append((out, _probe(mode, out)))
        ended = datetime.now(timezone.utc).strftime("%H:%M")
        specs = {m: [(load_spec(path), wall) for path, wall in v] for m, v in sheets.items()}
    analyzed = {r["key"]: analyze(r["model"]) for r in rows}

    lines = ["# CPU probe stability: the sheet's figures and the zero-shot predictions, probe after probe", "",
             f"Reproduce: `{command}`", "",
             f"Host: `{ident['model_name']}` ({host_cpu(ident) or 'CPU unknown'}; cache key `{host_key(ident)}`), "
             f"{threads} thread(s), "
             f"{started} .. {ended} UTC, {args.runs} quick and {args.runs} full probes interleaved, each a fresh "
             f"`hybridperf probe --cpu-only [--quick]` process. Predictions: the packaged cross-host model as for an "
             f"unknown CPU (median offset of its lending training CPUs) on each sheet, for the {len(measured)} "
             f"configurations of `{args.data}` (its fastest runs; subnormal hazards left out). The columns say "
             "'zero-shot' for that rule; where this CPU is one of the packaged model's training CPUs (Zen 4 and Zen 5 "
             "EPYCs, the Xeons), its rows trained the model, so the errors are not held-out ones: the spread between "
             "probes is what this table measures (since 2026-12-04 evening this line says so).", ""]
    per_probe, summary, preds = [], [], {}
    for mode in MODES:
        preds[mode] = []
        for i, (spec, wall) in enumerate(specs[mode]):
            model = base_model(spec, threads, "")
            pr = {k: predict_on(a, spec, residual=model).latency_s for k, a in analyzed.items()}
            preds[mode].append(pr)
            errs = [abs(pr[k] / measured[k] - 1) for k in measured]
            ratio = statistics.median(pr[k] / measured[k] for k in measured)
            fig = _figures(spec)
            per_probe.append([mode, str(i), f"{wall:.1f}", *(f"{v:.4g}" for v in fig.values()),
                              f"{100 * statistics.fmean(errs):.1f} %", f"{ratio:.3f}"])
        figs = [_figures(s) for s, _ in specs[mode]]
        mapes = [100 * statistics.fmean(abs(pr[k] / measured[k] - 1) for k in measured) for pr in preds[mode]]
        apart = [statistics.fmean(abs(b[k] / a[k] - 1) for k in measured)
                 for a, b in itertools.combinations(preds[mode], 2)]
        summary.append([mode, f"{statistics.median(w for _, w in specs[mode]):.1f}",
                        _spread([f["fp32 GFLOP/s"] for f in figs]), _spread([f["DRAM GB/s"] for f in figs]),
                        f"{min(mapes):.1f} .. {max(mapes):.1f} % (median {statistics.median(mapes):.1f})",
                        f"{100 * statistics.fmean(apart):.1f} % (max {100 * max(apart):.1f})"])
    lines += ["## Per probe mode", "", "```",
              table(summary, ["probe", "median wall s", "fp32 GFLOP/s", "DRAM GB/s", "zero-shot MAPE",
                              "predictions apart (mean |ratio - 1|)"], "lrrrrr"), "```", "",
              "## Every probe", "", "```",
              table(per_probe, ["probe", "#", "wall s", "fp32 GFLOP/s", "int8 GOPS", "DRAM GB/s", "dispatch us",
                                "zero-shot MAPE", "median predicted / measured"], "lrrrrrrrr"), "```", ""]
    text = "\n".join(lines)
    print(text, end="")
    if args.out != "-":
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TVM_LOG_DEBUG", "0")
    sys.exit(main())
