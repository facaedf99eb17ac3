"""Can the reference kernels timed in every round serve as family probes of a held-out CPU? (No: see the table.)

Every interleaved run of ``benchmarks.collect_cpu rounds`` times, on the measured machine and with the measurements'
threads, three onnxruntime reference kernels (:func:`hybridperf.measure.rounds.reference_models`: a 512^3 MatMul, a
3x3 conv of 64 channels on 56 x 56, a streaming Add of 4 Mi floats). On a GPU, timing a few shapes of each operator
family on the held-out device and rescaling the model by them took leave-one-GPU-out from 19.6 to 9.6 %
(``benchmarks.gpu_ops_cross_device``). This asks whether the CPU's reference kernels can do the same: the zero-shot
model of each held-out CPU (trained as ``benchmarks.cpu_cross_host`` trains it) prices the three kernels, and their
fastest timing over all rounds against those prices corrects its prediction of the held-out CPU's models:

* (a) a model-level offset, the mean over the three of ``log(measured / predicted)``;
* (b) that offset less the training hosts' median of the same figure (the model's own bias on the three kernels,
  each training host priced by the same model);
* (c) per kernel group: matmul kernels moved by the GEMM's log ratio, conv kernels by the conv's, every other kernel
  by the streaming add's;

each times 0.5 and 1. The candidates and the rule (the lowest mean MAPE on the design hosts that have reference
timings, the Zen 4 with 1 and 2 threads; then the chosen one scored on the test hosts) were written in CHANGELOG
before any figure (2026-12-05, 23:35 UTC). Zen 3 and the Xeon slice were measured before reference kernels were
timed: they are not in the table.

Usage::

    taskset -c 0 python -m benchmarks.cpu_reference_probes   # writes benchmarks/results/cpu_reference_probes.md
"""

from __future__ import annotations

import argparse
import copy
import csv
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.cpu_cross_host import (
    CALIB,
    DATA_DIRS,
    DESIGN_HOSTS,
    HOSTS,
    LABELS,
    RESULTS,
    _left_out_line,
    label_line,
    load_hosts,
    timing_spreads,
    training_hosts,
)

COMMAND = "taskset -c 0 python -m benchmarks.cpu_reference_probes"
#: the reference kernels, in the order of ``reference_samples.csv``'s columns
PROBES = ("gemm", "conv", "stream")
#: the candidates: (name, kind, shrinkage); kind a, b or c as in the module docstring
CANDIDATES = tuple((f"({kind}) x{lam:g}", kind, lam) for kind in "abc" for lam in (0.5, 1.0))
#: the candidate the planned rule chose on the design hosts (mean MAPE over the Zen 4 with 1 and 2 threads)
PLANNED_DESIGN = ("host-epyc-zen4-1c", "host-epyc-zen4-2c")


#: what the table shows, in its words
EXPLAIN = ("Every interleaved run times three onnxruntime reference kernels in every round, on the measured machine "
           "with the measurements' threads (`hybridperf.measure.rounds.reference_models`: a 512^3 MatMul, a 3x3 conv "
           "of 64 channels on 56 x 56, a streaming Add of 4 Mi floats). The zero-shot model of each held-out CPU "
           "(trained as `cpu_cross_host` trains it) prices them; their fastest timing over all rounds against those "
           "prices corrects its prediction of the CPU's models: (a) by a model-level offset, the mean of the three "
           "log ratios; (b) by that offset less the training hosts' median of the same figure (the model's bias on "
           "the three kernels); (c) per kernel group (matmul kernels by the GEMM's log ratio, conv kernels by the "
           "conv's, the rest by the add's); each times 0.5 and 1. Candidates and rule were written in CHANGELOG "
           "before any figure (2026-12-05, 23:35 UTC): the lowest mean MAPE on the design hosts with reference "
           "timings (the Zen 4 with 1 and 2 threads), then that one scored on the test hosts. Zen 3 and the Xeon "
           "slice were measured before reference kernels were timed, so they are not in the table.")


def fastest_probe_s(directory: Path) -> dict[str, float] | None:
    """The fastest run of each reference kernel over every round of ``directory`` (``reference_samples.csv``'s
    ``<kernel>_min_s``; the label the models' rows use is their fastest run too); None without reference timings."""
    path = directory / "reference_samples.csv"
    if not path.exists():
        return None
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    out = {}
    for name in PROBES:
        vals = [float(r[f"{name}_min_s"]) for r in rows if r.get(f"{name}_min_s")]
        if not vals:
            return None
        out[name] = min(vals)
    return out


def kernel_deltas(kernel_x: np.ndarray, deltas: dict[str, float]) -> np.ndarray:
    """Per kernel row (:data:`~hybridperf.residual.features.KERNEL_FEATURES`), the log ratio of candidate (c): the
    GEMM's for matmul kernels, the conv's for conv kernels, the streaming add's for every other kernel."""
    from hybridperf.residual.features import KERNEL_FEATURES

    kx = np.atleast_2d(np.asarray(kernel_x, float))
    out = np.full(len(kx), deltas["stream"])
    out[kx[:, KERNEL_FEATURES.index("group_matmul")] > 0.5] = deltas["gemm"]
    out[kx[:, KERNEL_FEATURES.index("group_conv")] > 0.5] = deltas["conv"]
    return out


def probe_tables(hosts, work: Path) -> dict[str, tuple]:
    """host -> ``(X, y, kernels, fastest seconds)`` of the three reference kernels (rows in :data:`PROBES` order)
    priced on the host's sheet (the one ``cpu_cross_host`` prices its rows on), for every host of ``hosts`` with
    reference timings. The kernel rows are those ``hybridperf predict`` reads (:func:`~hybridperf.residual.features.
    featurize` of the roofline prediction), without labels (0): they are predicted, never trained on."""
    import onnx

    from benchmarks.cpu_cross_host import host_spec
    from hybridperf.analysis.analyze import analyze
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.measure.rounds import reference_models
    from hybridperf.residual.features import featurize, start_tvm
    from hybridperf.residual.model import KernelTable

    models = reference_models()
    for name in PROBES:
        onnx.save(models[name], work / f"{name}.onnx")
    start_tvm()
    analysed = {name: analyze(str(work / f"{name}.onnx")) for name in PROBES}
    out = {}
    for host in hosts:
        fast = fastest_probe_s(CALIB / DATA_DIRS.get(host, host))
        if fast is None:
            continue
        spec = host_spec(host, DATA_DIRS)
        X, y, kx, kr, kf = [], [], [], [], []
        for i, name in enumerate(PROBES):
            pred = predict_on(analysed[name], spec, None, residual=None)
            f = featurize(pred)
            X.append(f.model)
            y.append(float(np.log(fast[name] / pred.roofline_latency_s)))
            kx.append(f.kernels)
            kr += [i] * len(f.kernels)
            kf += list(f.kernel_families)
        kt = KernelTable(np.vstack(kx), np.zeros(len(kr)), np.array(kr, dtype=int), kf)
        out[host] = (np.array(X), np.array(y), kt, fast)
    return out


def evaluate(exclude: frozenset[str]) -> dict[str, dict]:
    """host -> its figures: MAPE % of zero-shot and of each candidate, the probes' log ratios and the training bias."""
    from hybridperf.residual import cross_host as ch
    data = load_hosts(DATA_DIRS, exclude)
    spreads = timing_spreads(DATA_DIRS, exclude)
    with tempfile.TemporaryDirectory() as tmp:
        probes = probe_tables(HOSTS, Path(tmp))

    def ratios(model, host):
        X, y, kt, _ = probes[host]
        fig = data[host][4]
        return y - model.for_host(fig).predict(X, ch.with_host(kt, fig))

    out = {}
    for held in HOSTS:
        if held not in probes:
            continue
        X, y, kt, _, fig, _ = data[held]
        train = {h: data[h][:5] for h in training_hosts(held)}
        model = ch.train(train, spreads={h: spreads[h] for h in train})
        zs = model.for_host(fig)
        kth = ch.with_host(kt, fig)
        pred = zs.predict(X, kth)
        delta = ratios(model, held)
        bias = np.median([ratios(model, h) for h in train if h in probes], axis=0)
        f = zs.kernel_booster_.predict(zs._kernel_inputs(kth.X, kth.row))
        kd = kernel_deltas(kt.X, dict(zip(PROBES, delta)))
        res = {"zero-shot": _mape(pred, y)}
        for name, kind, lam in CANDIDATES:
            if kind == "c":
                m = copy.copy(zs)
                m.kernel_booster_ = ch._Fixed(f + lam * kd)
                res[name] = _mape(m.predict(X, kth), y)
            else:
                off = float(np.mean(delta - (bias if kind == "b" else 0.0)))
                res[name] = _mape(pred + lam * off, y)
        out[held] = {"mape": res, "delta": delta, "bias": bias, "n": len(y),
                     "probe_hosts": sum(h in probes for h in train)}
    return out


def _mape(log_pred: np.ndarray, log_true: np.ndarray) -> float:
    return float(np.mean(np.abs(np.exp(np.asarray(log_pred) - np.asarray(log_true)) - 1.0)) * 100.0)


def chosen(results: dict[str, dict]) -> str:
    """The candidate of the planned rule: the lowest mean MAPE over :data:`PLANNED_DESIGN` (first in order on a tie)."""
    names = [c[0] for c in CANDIDATES]
    return min(names, key=lambda n: (np.mean([results[h]["mape"][n] for h in PLANNED_DESIGN]), names.index(n)))


def report(results: dict[str, dict], exclude: frozenset[str], command: str) -> str:
    names = ["zero-shot", *(c[0] for c in CANDIDATES)]
    pick = chosen(results)
    head = "| held-out host | rows | " + " | ".join(names) + " | probe log ratio GEMM / conv / add | training bias |"
    lines = ["# CPU reference kernels as family probes of a held-out CPU", "", f"Reproduce: `{command}`", "",
             EXPLAIN, "",
             label_line(), "", _left_out_line(exclude), "",
             "MAPE % on every row of the held-out host (the rows of `cpu_cross_host.md`):", "",
             head, "|---|---:|" + "---:|" * len(names) + "---|---|"]
    for h, r in results.items():
        tag = " (design host)" if h in DESIGN_HOSTS else ""
        cells = " | ".join(f"{r['mape'][n]:.1f}" for n in names)
        lines.append(f"| `{h}`{tag} ({LABELS[h]}) | {r['n']} | {cells} | "
                     f"{' / '.join(f'{v:+.2f}' for v in r['delta'])} | "
                     f"{' / '.join(f'{v:+.2f}' for v in r['bias'])} ({r['probe_hosts']} hosts) |")
    tests = [h for h in results if h not in PLANNED_DESIGN]
    zs = np.mean([results[h]["mape"]["zero-shot"] for h in tests])
    ch_ = np.mean([results[h]["mape"][pick] for h in tests])
    wins = sum(results[h]["mape"][pick] < results[h]["mape"]["zero-shot"] for h in tests)
    lines += ["", f"Chosen on the design hosts by the planned rule: **{pick}**. On the {len(tests)} test hosts: mean "
              f"{ch_:.1f} % against zero-shot's {zs:.1f} %, better on {wins} of {len(tests)}. Planned threshold for "
              "shipping it: better on the mean and on at least four of the six; "
              + ("met." if ch_ < zs and wins >= 4 else "not met, so the shipped prediction is unchanged."), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(RESULTS / "cpu_reference_probes.md"))
    args = p.parse_args(argv)
    from benchmarks.subnormal_scan import hazard_keys

    exclude = hazard_keys()
    extra = [f"--out {args.out}"] if args.out != p.get_default("out") else []
    text = report(evaluate(exclude), exclude, " ".join([COMMAND, *extra]))
    Path(args.out).write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
