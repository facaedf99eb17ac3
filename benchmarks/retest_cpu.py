"""Test-retest of CPU ground truth (raw vs speed-index normalised) and the CPU cross-host baseline.

Reads calibration directories written by ``python -m benchmarks.collect_cpu rounds`` (see
:mod:`hybridperf.measure.rounds`) and prints, then writes to ``benchmarks/results/retest_cpu.md``:

1. the host (CPU identity as recorded with the rows) and its speed index per round;
2. split-half test-retest inside ``--test`` (the first half of its rounds against the second half);
3. with ``--retest``, an independent run against ``--test`` (every round of each), and how that test-retest
   error falls with the number of rounds kept (the first k rounds of each side);
4. for comparison, the older single-measurement protocol's test-retest (``--old-test`` / ``--old-retest``);
5. with ``--baseline-device``, the CPU cross-host baseline: that device's stored residual model (trained on
   another CPU) predicting ``--test``'s configurations, against the roofline on ``--test``'s own sheet, scored
   against the CPU label (:data:`hybridperf.residual.model.CPU_TARGET`, the fastest timed run).

Each comparison is given for several figures per configuration: the raw median over rounds, the raw
minimum, and the medians normalised by the round's speed index and by the timings bracketing each
measurement. A statistic row: configurations compared, MAPE (retest against test), median ratio,
share within +-3 % and +-10 %.

``--test`` and ``--retest`` each take one or more directories of the same configurations and settings; the
rounds of a later directory are appended after those of the earlier ones (one longer run, in time order).

Usage::

    python -m benchmarks.retest_cpu --test calibration/host-epyc-zen4-1c \\
        --retest calibration/host-epyc-zen4-1c-retest --baseline-device host-epyc-1c
"""

from __future__ import annotations

import argparse
import csv
import shlex
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
#: figure name -> how the summary gives it (first: raw, then normalised)
FIGURES: dict[str, Callable] = {
    "raw median": lambda s: s.latency_median_s,
    "raw minimum": lambda s: s.latency_min_s,
    "normalised median (round index)": lambda s: s.latency_norm_median,
    "normalised minimum (round index)": lambda s: s.latency_norm_min,
}
#: figure name -> (index column of the raw rows, summary statistic), for the other normalisations
INDEX_FIGURES = {"normalised median (all timings of the round)": ("round_mean_index_s", "latency_norm_median"),
                 "normalised median (local index)": ("local_index_s", "latency_norm_median"),
                 "normalised minimum (all timings of the round)": ("round_mean_index_s", "latency_norm_min"),
                 "normalised minimum (fastest timing of the round)": ("round_min_index_s", "latency_norm_min"),
                 "normalised minimum (fastest reference runs of the round)": ("round_min_run_index_s", "latency_norm_min"),
                 "normalised minimum (fastest GEMM + conv reference timing of the round, no stream)":
                     ("round_min_compute_index_s", "latency_norm_min")}
#: figure name -> index column: the median over rounds of (the round's fastest run / that index), for rows that
#: recorded the reference's fastest runs (protocol of 2026-12-01 16:00 UTC on)
MEDIAN_OF_MINIMA = {"normalised minimum, median over rounds (fastest reference runs)": "round_min_run_index_s"}


def csv_rows(path: Path) -> list[dict]:
    """The rows of a CSV file, as dicts of its header's columns."""
    with path.open() as f:
        return list(csv.DictReader(f))


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %"


def figures(raw: Sequence[Mapping], rounds: Sequence[int] | None = None) -> dict[str, dict[str, float]]:
    """Figure name -> {configuration key: value} from raw round rows (optionally some rounds only)."""
    from hybridperf.measure.rounds import summarize

    by_round = summarize(raw, rounds)
    out = {name: {s.key: f(s) for s in by_round} for name, f in FIGURES.items()}
    for name, (column, stat) in INDEX_FIGURES.items():
        if raw and column in raw[0]:
            out[name] = {s.key: getattr(s, stat) for s in summarize(raw, rounds, index_column=column)}
    keep = None if rounds is None else {int(r) for r in rounds}
    for name, column in MEDIAN_OF_MINIMA.items():
        if not raw or not raw[0].get(column):
            continue
        per: dict[str, list[float]] = {}
        for r in raw:
            if keep is None or int(r["round"]) in keep:
                low = float(r.get("latency_min_s") or r["latency_s"])
                per.setdefault(r["key"], []).append(low / float(r[column]))
        out[name] = {k: statistics.median(v) for k, v in per.items()}
    return out


def rounds_rows(d: Path) -> list[dict]:
    """``rounds.csv`` of ``d``, with ``round_min_index_s`` filled from ``speed_index.csv`` where the rows
    predate that column."""
    raw = csv_rows(d / "rounds.csv")
    if raw and "round_min_index_s" not in raw[0]:
        low = {s["round"]: s["min_index_s"] for s in csv_rows(d / "speed_index.csv")}
        raw = [{**r, "round_min_index_s": low[r["round"]]} for r in raw]
    samples = reference_samples(d)
    if raw and samples and samples[0].get("gemm_min_s"):
        # the compute part of the reference only (fastest GEMM and conv runs; directories that recorded them):
        # the streaming add tracks DRAM contention from the other core, which moves the index more than most models
        comp = round_minima(samples, lambda s: (float(s["gemm_min_s"]) * float(s["conv_min_s"])) ** 0.5)
        raw = [{**r, "round_min_compute_index_s": comp[r["round"]]} for r in raw]
    return raw


def reference_samples(d: Path) -> list[dict]:
    """``reference_samples.csv`` of ``d`` (every timing of the reference workload); [] where the run has none."""
    return csv_rows(d / "reference_samples.csv") if (d / "reference_samples.csv").exists() else []


def round_minima(samples: Sequence[Mapping], value) -> dict[str, float]:
    """The smallest ``value(sample)`` of each round of ``samples`` (``reference_samples.csv`` rows), by round."""
    out: dict[str, float] = {}
    for s in samples:
        out[s["round"]] = min(out.get(s["round"], float("inf")), value(s))
    return out


def pooled_rows(runs: Sequence[Sequence[Mapping]]) -> list[dict]:
    """Several directories' :func:`rounds_rows` as one run: each one's rounds are numbered after those of the ones
    before it."""
    out: list[dict] = []
    for raw in runs:
        shift = 1 + max((int(r["round"]) for r in out), default=-1)
        out += [{**r, "round": str(int(r["round"]) + shift)} for r in raw]
    return out


def stats_rows(a: Mapping[str, Mapping[str, float]], b: Mapping[str, Mapping[str, float]]) -> list[list[str]]:
    """One table row per figure both sides have: figure, n, MAPE, median ratio, within +-3 %, within +-10 %."""
    from hybridperf.measure.rounds import retest

    rows = []
    for name in a:
        if name not in b:
            continue
        s = retest(a[name], b[name])
        w = dict(s.within)
        rows.append([name, str(s.n), _pct(s.mape), f"{s.median_ratio:.3f}", _pct(w[0.03]), _pct(w[0.10])])
    return rows


STATS_HEADER = ["figure", "n", "MAPE", "median ratio", "within +-3 %", "within +-10 %"]


def _block(text: str) -> list[str]:
    return ["```", text, "```", ""]


def kernel_spread_line(samples: Sequence[Mapping]) -> str:
    """How far each reference kernel's fastest run moved between the rounds of a run: per kernel, the fastest run of
    each round, then the fastest and slowest of those (ms) and their ratio. ``samples``: ``reference_samples.csv`` rows;
    "" where they predate the kernels' fastest runs (``gemm_min_s``). A kernel whose ratio is far above the others'
    moves the speed index without the models (the streaming add with 2 threads, ``docs/ground-truth.md``)."""
    if not samples or not samples[0].get("gemm_min_s"):
        return ""
    parts = []
    for name, col in (("GEMM", "gemm_min_s"), ("conv", "conv_min_s"), ("add", "stream_min_s")):
        per_round = round_minima(samples, lambda row, col=col: float(row[col])).values()
        lo, hi = min(per_round), max(per_round)
        parts.append(f"{name} {lo * 1e3:.3f} / {hi * 1e3:.3f} ({hi / lo:.2f}x)")
    return ("Each reference kernel's fastest run per round, fastest / slowest round (ms; ratio): "
            + ", ".join(parts) + ".")


def host_section(d: Path, raw: Sequence[Mapping]) -> list[str]:
    """CPU identity and the speed index of every round of directory ``d``."""
    from hybridperf.report.format import table

    r0 = raw[0]
    speed = csv_rows(d / "speed_index.csv")
    keys = {r["key"] for r in raw}
    dates = sorted(r["date_utc"] for r in raw)
    ident = (f"`{r0.get('cpu_model', '')}` ({r0.get('cpu_vendor', '')} family {r0.get('cpu_family', '?')} model "
             f"{r0.get('cpu_model_id', '?')} stepping {r0.get('cpu_stepping', '?')}; {r0.get('cpu_isa', '').replace('|', ', ')})")
    rows = [[s["round"], s["start_utc"][11:16], f"{float(s['start_index_s']) * 1e3:.3f}",
             f"{float(s['end_index_s']) * 1e3:.3f}", f"{float(s['speed_index_s']) * 1e3:.3f}",
             f"{float(s['min_index_s']) * 1e3:.3f} .. {float(s['max_index_s']) * 1e3:.3f}", s["samples"],
             f"{float(s['drift']):.3f}"] for s in speed]
    return [f"### `{d}`", "",
            f"{len(keys)} configurations x {len(speed)} rounds on {ident}, {r0['runtime']} {r0['runtime_version']}, "
            f"{r0['threads']} thread(s), pinned to CPU {r0.get('pinned_cores', '?')}, {dates[0][:16]} .. {dates[-1][11:16]} UTC. "
            f"Speed index (ms; geometric mean of a 512^3 GEMM, a 64-channel 56x56 3x3 convolution and a 4 Mi-element "
            f"add, reference version {r0.get('reference_version', '?')}):", "",
            *_block(table(rows, ["round", "start UTC", "start", "end", "round index", "all timings", "timings", "end/start"],
                          "rrrrrrrr")),
            *([spread, ""] if (spread := kernel_spread_line(reference_samples(d))) else [])]


def split_half(raw: Sequence[Mapping]) -> tuple[list[int], list[int], dict, dict] | None:
    """A run's split half: its first half of rounds, the second half, and :func:`figures` of each; None with fewer
    than two rounds."""
    rounds = sorted({int(r["round"]) for r in raw})
    if len(rounds) < 2:
        return None
    half = len(rounds) // 2
    first, second = rounds[:half], rounds[half:]
    return first, second, figures(raw, first), figures(raw, second)


def split_half_section(d: Path | str, raw: Sequence[Mapping]) -> list[str]:
    from hybridperf.report.format import table

    halves = split_half(raw)
    if halves is None:
        return []
    first, second, a, b = halves
    return [f"### Split half: `{d}` rounds {first} against rounds {second}", "",
            *_block(table(stats_rows(a, b), STATS_HEADER, "lrrrrr"))]


def _names(dirs: Sequence[Path]) -> str:
    return " + ".join(f"`{d}`" for d in dirs)


def independent_section(test: Sequence[Path], retest_dirs: Sequence[Path], raw_a: Sequence[Mapping],
                        raw_b: Sequence[Mapping]) -> list[str]:
    from hybridperf.report.format import table

    ia = statistics.median(float(s["speed_index_s"]) for d in test for s in csv_rows(d / "speed_index.csv"))
    ib = statistics.median(float(s["speed_index_s"]) for d in retest_dirs for s in csv_rows(d / "speed_index.csv"))
    return [f"### Independent runs: {_names(retest_dirs)} against {_names(test)}", "",
            f"Median speed index {ia * 1e3:.3f} ms, then {ib * 1e3:.3f} ms (the host was {ib / ia:.3f}x as slow).", "",
            *_block(table(stats_rows(figures(raw_a), figures(raw_b)), STATS_HEADER, "lrrrrr"))]


#: the figures of the rounds-kept table: the CPU label and its best normalised variant
ROUNDS_FIGURES = ("raw minimum", "normalised minimum (fastest reference runs of the round)")


def rounds_kept_section(raw_a: Sequence[Mapping], raw_b: Sequence[Mapping]) -> list[str]:
    """Independent test-retest when each side keeps only its first k rounds, k = 1 .. the shorter side's rounds."""
    from hybridperf.measure.rounds import retest
    from hybridperf.report.format import table

    ra = sorted({int(r["round"]) for r in raw_a})
    rb = sorted({int(r["round"]) for r in raw_b})
    rows = []
    for k in range(1, min(len(ra), len(rb)) + 1):
        fa, fb = figures(raw_a, ra[:k]), figures(raw_b, rb[:k])
        for name in ROUNDS_FIGURES:
            if name in fa and name in fb:
                s = retest(fa[name], fb[name])
                w = dict(s.within)
                rows.append([str(k), name, str(s.n), _pct(s.mape), f"{s.median_ratio:.3f}", _pct(w[0.03]), _pct(w[0.10])])
    return ["### Independent runs, first k rounds of each", "",
            "The same two runs, each side keeping only its first k rounds (in time order): what the protocol's "
            "round count buys.", "",
            *_block(table(rows, ["rounds", *STATS_HEADER], "rlrrrrr"))]


def old_protocol_section(old_test: Path, old_retest: Path) -> list[str]:
    """The previous protocol: one measurement per configuration (median and fastest of up to 40 runs), two runs."""
    from hybridperf.report.format import table

    def columns(d: Path) -> dict[str, dict[str, float]]:
        rows = csv_rows(d / "measurements.csv")
        return {name: {r["key"]: float(r[col]) for r in rows if r.get(col)}
                for name, col in (("raw median", "latency_s"), ("raw minimum", "latency_min_s"))}

    return [f"### Previous protocol: `{old_retest}` against `{old_test}` (one measurement each, no speed index)", "",
            *_block(table(stats_rows(columns(old_test), columns(old_retest)), STATS_HEADER, "lrrrrr"))]


def cross_host_section(test: Path, baseline_device: str) -> list[str]:
    """The stored residual of ``baseline_device`` (another CPU) predicting ``test``'s configurations, scored against
    the CPU label (:data:`~hybridperf.residual.model.CPU_TARGET`) and the min-normalised figure."""
    import numpy as np

    from hybridperf.report.format import table
    from hybridperf.residual.model import CPU_TARGET, LABEL_WORDS, ResidualModel, find_model_dir, load_table

    model_dir = find_model_dir(baseline_device)
    if model_dir is None:
        return [f"(no stored model for {baseline_device})", ""]
    model = ResidualModel.load(model_dir)
    X, y, groups, _, kt, rows = load_table(test, target=CPU_TARGET)
    roof = np.array([float(r["roofline_latency_s"]) for r in rows])
    meas = np.array([float(r["measured_latency_s"]) for r in rows])  # the CPU_TARGET column, by key
    preds = {"roofline on the new sheet": roof,
             f"{baseline_device} residual (other CPU) on the new sheet's roofline": roof * np.exp(model.predict(X, kt))}
    truths = {f"measurements.csv `{CPU_TARGET}`": meas}
    summary = {r["key"]: r for r in csv_rows(test / "measurements.csv")}
    if all(summary.get(r["key"], {}).get("latency_min_norm_s") for r in rows):
        truths["measurements.csv `latency_min_norm_s`"] = np.array([float(summary[r["key"]]["latency_min_norm_s"]) for r in rows])
    out = []
    for truth_name, truth in truths.items():
        for name, p in preds.items():
            err = np.abs(p - truth) / truth
            out.append([truth_name, name, str(len(truth)), _pct(float(err.mean())), _pct(float(np.median(err))),
                        f"{float(np.median(truth / p)):.3f}", _pct(float((err <= 0.10).mean())),
                        _pct(float((err <= 0.25).mean()))])
    fams = len(set(groups))
    return [f"## CPU cross-host baseline: `{baseline_device}`'s stored residual predicting `{test}`", "",
            f"{len(meas)} configurations of {fams} families; features priced on `{rows[0]['device']}`'s sheet. "
            f"The residual was trained on another CPU only (zero-shot on this host); its label: "
            f"{LABEL_WORDS.get(model.label, model.label)} (`{model.label}`). Ground truth: `{CPU_TARGET}`, the "
            f"{LABEL_WORDS[CPU_TARGET]} (the CPU label, `hybridperf.residual.model.CPU_TARGET`; rounds: the fastest "
            f"over rounds of each round's fastest run), and the min-normalised figure.", "",
            *_block(table(out, ["ground truth", "predictor", "n", "MAPE", "median APE", "measured / predicted",
                                "within +-10 %", "within +-25 %"], "llrrrrrr"))]


def report(args, command: str) -> str:
    tests = [Path(d) for d in args.test]
    retests = [Path(d) for d in args.retest or []]
    raws = {d: rounds_rows(d) for d in (*tests, *retests)}  # each directory read once
    raw_a = pooled_rows([raws[d] for d in tests])
    threads = sorted({r.get("threads") or "1" for r in raw_a})
    lines = ["# Test-retest of CPU ground truth, raw and normalised by the host speed index", "",
             f"Reproduce: `{command}`", "",
             "Protocol (`hybridperf.measure.rounds`, `python -m benchmarks.collect_cpu rounds`): every round measures "
             f"every configuration once (fresh onnxruntime process, {'/'.join(threads)} thread(s), up to 30 runs in ~0.8 s after 3 warm-up "
             "runs, their median and fastest kept) in a shuffled order, with the reference workload timed before the "
             "first, after every configuration and after the last; normalised = latency / speed index (reference "
             "units). MAPE: mean |retest / test - 1|. The raw minimum is the CPU label "
             "(`hybridperf.residual.model.CPU_TARGET`, `latency_min_s`: the label of every CPU model since "
             "2026-12-02); the raw median was the label before.", "",
             "## Hosts", ""]
    for d in (*tests, *retests):
        lines += host_section(d, raws[d])
    raw_b = pooled_rows([raws[d] for d in retests]) if retests else None
    lines += ["## Test-retest", ""]
    lines += split_half_section(" + ".join(map(str, tests)), raw_a)
    if raw_b:
        lines += split_half_section(" + ".join(map(str, retests)), raw_b)
        lines += independent_section(tests, retests, raw_a, raw_b)
        lines += rounds_kept_section(raw_a, raw_b)
    if args.old_test and args.old_retest and Path(args.old_test).exists() and Path(args.old_retest).exists():
        lines += old_protocol_section(Path(args.old_test), Path(args.old_retest))
    if args.baseline_device and (tests[0] / "features.csv").exists():
        lines += cross_host_section(tests[0], args.baseline_device)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.retest_cpu", description=__doc__.splitlines()[0])
    p.add_argument("--test", required=True, nargs="+",
                   help="a rounds directory (calibration/<device>); several: one run, their rounds in this order")
    p.add_argument("--retest", nargs="+", help="a second, independent run of the same configurations (directories)")
    p.add_argument("--old-test", default="calibration/host-epyc-1c", help="previous protocol, first run")
    p.add_argument("--old-retest", default="calibration/host-epyc-1c-retest", help="previous protocol, second run")
    p.add_argument("--baseline-device", help="device whose stored residual (another CPU) predicts --test")
    p.add_argument("--out", default=str(RESULTS / "retest_cpu.md"), help="markdown file to write ('-': none)")
    args = p.parse_args(argv)
    command = "python -m benchmarks.retest_cpu " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    text = report(args, command)
    print(text, end="")
    if args.out != "-":
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
