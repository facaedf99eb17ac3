"""Networks never measured on any CPU: how the CPU models predict a new CPU *and* a new network.

Every held-out figure of :mod:`benchmarks.cpu_cross_host` holds out a CPU, but the same networks were measured on
every CPU, so the model that predicts a held-out CPU has seen each of its networks on other CPUs. A user brings a
network of their own. Planned in CHANGELOG (2026-12-06, 12:16 UTC, before any timing); two sections:

1. **Measured** (:data:`RUNS`: the quiet Xeon and Zen 4, each with 1 and 2 threads): the zoo networks measured on
   no CPU before (:data:`benchmarks.collect_cpu.UNSEEN_PLAN`) timed in the same interleaved rounds as the 72
   configurations measured before (``collect_cpu rounds --plan both``). Scored: the packaged model's predictions on the probe taken
   right before the rounds, committed before any timing (``fresh_probe_predictions.csv``), and the zero-shot model
   held out with this CPU's settings (trained as :func:`benchmarks.cpu_cross_host.evaluate` trains it for
   ``host-xeon480-1c``), on the seen networks, the unseen networks of a family measured before and those of a
   family never measured; split-half test-retest of each set.
2. **Leave CPU and networks out**, offline, on every held-out setting of :mod:`benchmarks.cpu_cross_host`: the
   networks dealt into :data:`FOLDS` folds by zoo family (:func:`family_folds`), each setting's rows of a fold
   predicted by a zero-shot model trained on the other CPUs without that fold's families, against the usual held-out
   model (every network trained) on the same rows.

Evaluation only: nothing in the models or their training sets is chosen on these figures.

Usage::

    taskset -c 0,1 python -m benchmarks.unseen_networks --jobs 2   # writes benchmarks/results/unseen_networks.md
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks import cpu_cross_host as cc

#: the measured runs of section 1: setting -> its run (``<setting>-unseen``; in the directory, the probe
#: ``<setting>-probe-unseen.yaml`` and :data:`STORED`); a run not measured (yet) is left out of the report
RUNS = {"host-xeon480-1c": Path("calibration") / "host-xeon480-1c-unseen",
        "host-xeon480-2c": Path("calibration") / "host-xeon480-2c-unseen",
        # a second CPU (Zen 4, 1 and 2 threads; planned in CHANGELOG 2026-12-06 16:26 UTC before any timing)
        "host-epyc-zen4-1c": Path("calibration") / "host-epyc-zen4-1c-unseen",
        "host-epyc-zen4-2c": Path("calibration") / "host-epyc-zen4-2c-unseen"}
STORED = "fresh_probe_predictions.csv"
#: independent retests of section 1's runs (each planned in CHANGELOG before it ran): setting -> directories, in the
#: order they ran; each is compared with the run and with every retest before it; one not measured is left out
RETESTS = {"host-xeon480-1c": (Path("calibration") / "host-xeon480-1c-unseen-retest",),
           "host-epyc-zen4-1c": (Path("calibration") / "host-epyc-zen4-1c-unseen-retest",
                                 # across hours (plan (6) of 2026-12-06 19:13 UTC)
                                 Path("calibration") / "host-epyc-zen4-1c-unseen-hours"),
           # plan (5) of 2026-12-06 19:13 UTC; across hours, plan (8) of 20:34 UTC
           "host-epyc-zen4-2c": (Path("calibration") / "host-epyc-zen4-2c-unseen-retest",
                                 Path("calibration") / "host-epyc-zen4-2c-unseen-hours")}
#: ``measurements.csv`` columns the retest lines compare: the goal's unit-free figure and the raw fastest run
RETEST_COLUMNS = {"latency_min_run_norm": "fastest run / the round's fastest reference runs (the goal's figure)",
                  "latency_min_s": "raw fastest run"}
#: the retest lines' third figure, from the runs' rounds (``benchmarks.retest_cpu.figures``): the fastest run over the
#: GEMM and conv of the reference only, without its streaming add, which tracks DRAM contention from the other core
#: with 2 threads (added 2026-12-06 19:45 UTC, after the 2-thread retest's figures were seen; the goal's figure is
#: unchanged)
NO_STREAM_FIGURE = "normalised minimum (fastest GEMM + conv reference timing of the round, no stream)"
NO_STREAM = "fastest run / the round's fastest GEMM + conv reference runs (no stream)"
#: folds of section 2 (families sorted by name, dealt round-robin)
FOLDS = 5
RESULTS = Path("benchmarks") / "results"
COMMAND = "taskset -c 0,1 python -m benchmarks.unseen_networks --jobs 2"
#: the sets of section 1, in table order
SEEN, NEW_MEMBER, NEW_FAMILY = ("networks measured before (training plan)", "unseen network, family measured before",
                                "unseen network, family never measured")


def family(network: str) -> str:
    """The zoo family of a network (``resnet101`` -> ``resnet``)."""
    from benchmarks.zoo import get

    return get(network).family


def trained_families() -> frozenset[str]:
    """The zoo families of the training plan (:data:`benchmarks.collect_cpu.PLAN`)."""
    from benchmarks.collect_cpu import PLAN

    return frozenset(family(name) for name, _, _ in PLAN)


def set_of(key: str, trained: frozenset[str] | None = None) -> str:
    """Which set of section 1 a configuration key belongs to: :data:`SEEN` (its network is in the training plan),
    :data:`NEW_MEMBER` (not, but its zoo family is) or :data:`NEW_FAMILY`."""
    from benchmarks.collect_cpu import PLAN

    net = cc.network_of(key)
    if net in {name for name, _, _ in PLAN}:
        return SEEN
    return NEW_MEMBER if family(net) in (trained_families() if trained is None else trained) else NEW_FAMILY


def family_folds(networks: Sequence[str], folds: int = FOLDS) -> dict[str, int]:
    """network -> fold: the networks' zoo families sorted by name and dealt round-robin into ``folds`` folds, so no
    family is split between a fold and its training set."""
    fams = sorted({family(n) for n in networks})
    fold = {f: i % folds for i, f in enumerate(fams)}
    return {n: fold[family(n)] for n in networks}


def stats(pred: Sequence[float], true: Sequence[float]) -> tuple[float, float, float]:
    """(MAPE %, share within +-10 % in %, median predicted / measured): :func:`benchmarks.device_vs_measured.stats`
    of the pairs; NaN (unknown) for no pair."""
    from benchmarks.device_vs_measured import stats as pair_stats

    return pair_stats(list(zip(pred, true))) if len(pred) else (float("nan"),) * 3


def _set_row(name: str, n: int, stored: Sequence[tuple[float, float]], held: Sequence[float]) -> list[str]:
    """A table row of a set: its ``n`` configurations, the stored predictions' figures on the ``(predicted,
    measured)`` pairs ``stored`` and the held-out model's on its predicted / measured ratios ``held``."""
    s = stats([p for p, _ in stored], [m for _, m in stored])
    h = stats(held, [1.0] * len(held))
    return [name, str(n), str(len(stored)), _pct(s[0]), _pct(s[1]), f"{s[2]:.3f}", str(len(held)), _pct(h[0]),
            _pct(h[1]), f"{h[2]:.3f}"]


def _in_range(seen: Sequence[str], unseen: Sequence[str], latency: Mapping[str, float]) -> tuple[float, float, list[str]]:
    """``(low, high, keys)``: the unseen configurations' range of measured latency ``latency`` and the seen ones within
    it (the unseen networks are all large; the seen set also holds sub-millisecond ones)."""
    low, high = (f(latency[k] for k in unseen) for f in (min, max))
    return low, high, [k for k in seen if k in latency and low <= latency[k] <= high]


def _left_out() -> frozenset[str]:
    """The configurations left out of training and scoring, as :mod:`benchmarks.cpu_cross_host` leaves them out: those
    whose activations collapse to subnormal floats (``benchmarks/results/subnormal_scan.csv``)."""
    from benchmarks.subnormal_scan import hazard_keys

    return hazard_keys()


def _pct(x: float) -> str:
    return "unknown" if x != x else f"{x:.1f} %"


# ------------------------------------------------------------------------------------------- section 1 (measured)

def probe_of(setting: str) -> Path:
    """The probe a measured run of section 1 was priced on (taken right before its rounds)."""
    return RUNS[setting] / f"{setting}-probe-unseen.yaml"


def heldout_predictions(setting: str, data, spreads: Mapping[str, float]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(keys, measured / roofline, held-out zero-shot predicted / roofline)`` of the featurized rows of ``setting``'s
    run (their ratio is predicted / measured, so these score like latencies): the model of
    :func:`benchmarks.cpu_cross_host.evaluate` for ``setting`` (trained on the rows of
    :func:`~benchmarks.cpu_cross_host.training_hosts`), priced on the run's probe with ``setting``'s threads; ``data``
    and ``spreads``: :func:`~benchmarks.cpu_cross_host.load_hosts` and :func:`~benchmarks.cpu_cross_host.timing_spreads`
    less :func:`_left_out`."""
    import yaml

    from hybridperf.device.spec import parse_spec
    from hybridperf.residual import cross_host as ch
    from hybridperf.residual.model import CPU_TARGET, load_table

    train = {h: data[h][:5] for h in cc.training_hosts(setting)}
    model = ch.train(train, spreads={h: spreads[h] for h in train})
    run, probe = RUNS[setting], probe_of(setting)
    X, y, _, _, kt, rows = load_table(run, target=CPU_TARGET, exclude=_left_out())
    fig = ch.host_figures(parse_spec(yaml.safe_load(probe.read_text()), str(probe)), cc.HOSTS[setting],
                          cc.measured_cpu(run))
    pred = model.for_host(fig).predict(X, ch.with_host(kt, fig))
    return [r["key"] for r in rows], np.exp(y), np.exp(pred)


def stored_predictions(run: Path) -> dict[str, tuple[float, float]]:
    """key -> (stored prediction s, measured fastest run s) of ``run``'s configurations that its stored
    ``predict-many --format csv`` output (:data:`STORED`) prices (a row without a latency is left out, and counted
    by the caller)."""
    from benchmarks.device_vs_measured import stored as read_stored
    from benchmarks.retest_cpu import csv_rows

    _, pred = read_stored(run / STORED)
    exclude = _left_out()
    out = {}
    for r in csv_rows(run / "measurements.csv"):
        p = pred.get(r["model"]) if r["key"] not in exclude else None
        if p is not None:
            out[r["key"]] = (p, float(r["latency_min_s"]))
    return out


def run_sets(setting: str) -> dict[str, str]:
    """The set of each configuration scored in ``setting``'s run (:func:`set_of`), in the order of its
    ``measurements.csv``, without those :func:`_left_out` leaves out."""
    from benchmarks.retest_cpu import csv_rows

    trained, exclude = trained_families(), _left_out()
    return {r["key"]: set_of(r["key"], trained) for r in csv_rows(RUNS[setting] / "measurements.csv")
            if r["key"] not in exclude}


def measured_section(setting: str, data, spreads: Mapping[str, float]) -> tuple[
        list[str], list[list[str]], dict[tuple[Path, Path], list[list[str]]]]:
    """Section 1: the stored and the held-out predictions by set, the unseen networks one by one, and the split-half
    test-retest of each set (``data``, ``spreads``: as :func:`heldout_predictions`); the set rows (the summary's
    lines: :func:`summary_lines`); and the retest pairs' rows (:func:`retest_section`)."""
    from benchmarks.retest_cpu import STATS_HEADER, csv_rows, rounds_rows, split_half, stats_rows
    from hybridperf.report.format import table

    run = RUNS[setting]
    stored = stored_predictions(run)
    keys, true_r, held_r = heldout_predictions(setting, data, spreads)
    held = dict(zip(keys, held_r / true_r))  # predicted / measured
    exclude = _left_out()  # also the split halves' rows below
    measurements = csv_rows(run / "measurements.csv")
    sets = run_sets(setting)
    measured_keys = list(sets)
    left = sorted({r["key"] for r in measurements} - set(sets))
    rows = []
    for name in (SEEN, NEW_MEMBER, NEW_FAMILY, "all unseen networks"):
        ks = [k for k in measured_keys if sets[k] == name or (name.startswith("all") and sets[k] != SEEN)]
        rows.append(_set_row(name, len(ks), [stored[k] for k in ks if k in stored], [held[k] for k in ks if k in held]))
    # added after the first figures were seen (not in the plan): the seen networks within the unseen set's range of
    # measured latency
    unseen = [k for k in measured_keys if sets[k] != SEEN and k in stored]
    if unseen:
        low, high, ks = _in_range([k for k in measured_keys if sets[k] == SEEN], unseen,
                                  {k: m for k, (_, m) in stored.items()})
        rows.insert(1, _set_row(f"{SEEN}, measured {low * 1e3:.0f}-{high * 1e3:.0f} ms (the unseen networks' range; "
                                "added after the plan)", len(ks), [stored[k] for k in ks],
                                [held[k] for k in ks if k in held]))
    head = ["set", "configurations", "stored n", "stored MAPE", "stored +-10 %", "stored median pred / meas",
            "held-out n", "held-out zero-shot MAPE", "held-out +-10 %", "held-out median pred / meas"]
    per = []
    for k in measured_keys:
        if sets[k] == SEEN:
            continue
        p, m = stored.get(k, (float("nan"), float("nan")))
        per.append([k, family(cc.network_of(k)), "yes" if sets[k] == NEW_MEMBER else "no",
                    f"{m * 1e3:.2f}", f"{p * 1e3:.2f}", f"{100 * (p / m - 1):+.1f} %",
                    f"{100 * (held[k] - 1):+.1f} %" if k in held else "unknown"])
    raw = [r for r in rounds_rows(run) if r["key"] not in exclude]
    retest = []
    for name in (SEEN, "all unseen networks"):
        part = [r for r in raw if (sets.get(r["key"]) == SEEN) == (name == SEEN)]
        halves = split_half(part)
        if halves is None:
            continue
        first, second, a, b = halves
        retest += [f"{name}, rounds {first} against {second}:", "", "```",
                   table(stats_rows(a, b), STATS_HEADER, "lrrrrr"), "```", ""]
    retest_lines, pairs = retest_section(setting, sets, stored, held)
    n_rounds = len({r["round"] for r in raw})
    first = measurements[0]
    calibration = csv_rows(run / STORED)[0]["calibration"]
    start = csv_rows(run / "speed_index.csv")[0]["start_utc"][:16].replace("T", " ")
    return ([f"## 1. Measured: networks never measured on any CPU, `{setting}` ({first['threads']} thread(s))", "",
            f"Run `{run}` ({n_rounds} interleaved rounds, the unseen networks and the networks measured before in the "
            f"same rounds, {first['threads']} thread(s) on core(s) {first['pinned_cores']}, from {start} UTC; "
            f"`lscpu.txt` beside it). Stored: the packaged model's `predict-many` on the probe taken right before the "
            f"rounds (`{probe_of(setting).name}`), committed before any timing (`{STORED}`; its calibration line: "
            f"\"{calibration}\"). Held-out zero-shot: the model of `cpu_cross_host` for `{setting}` (no row of this "
            "CPU trained it), priced on the same probe. Measured: the fastest timed run over the rounds. Left out, as "
            "`cpu_cross_host` leaves them out (activations collapse to subnormal floats, "
            f"`benchmarks/results/subnormal_scan.csv`): {', '.join(f'`{k}`' for k in left) or 'none'}.", "",
            "```", table(rows, head, "lrrrrrrrrr"), "```", "",
            "Each unseen network (measured and stored prediction in ms; errors predicted / measured - 1):", "",
            "```", table(per, ["configuration", "zoo family", "family measured before", "measured ms",
                               "stored ms", "stored error", "held-out error"], "lllrrrr"), "```", "",
            "Split-half test-retest of each set (the same run's first rounds against its last):", "", *retest,
            *retest_lines], rows, pairs)


def summary_lines(rows: Mapping[str, list[list[str]]]) -> list[str]:
    """The measured runs side by side (``rows``: setting -> :func:`measured_section`'s set rows): MAPE of the stored
    and of the held-out predictions on the seen networks, those in the unseen networks' latency range, and the unseen
    networks."""
    from hybridperf.report.format import table

    body = []
    for setting, r in rows.items():
        by = {x[0]: x for x in r}
        ranged = next((x for x in r if x[0].startswith(SEEN + ",")), None)
        body.append([f"`{setting}`", cc.LABELS.get(setting, setting), by[SEEN][3], ranged[3] if ranged else "unknown",
                     by["all unseen networks"][3], by[SEEN][7], ranged[7] if ranged else "unknown",
                     by["all unseen networks"][7]])
    return ["Summary of section 1 (MAPE on the fastest timed run; the rows below per run):", "", "```",
            table(body, ["run's setting", "CPU", "stored: seen", "seen, same latency range", "unseen",
                         "held-out zero-shot: seen", "seen, same latency range", "unseen"], "llrrrrrr"), "```", ""]


def _start_utc(run: Path) -> str:
    """When a run's first round began (``speed_index.csv``), as ``YYYY-MM-DDTHH:MM:SS``."""
    from benchmarks.retest_cpu import csv_rows

    return csv_rows(run / "speed_index.csv")[0]["start_utc"][:19]


def retest_pairs(setting: str) -> list[tuple[Path, Path]]:
    """The test-retest pairs of ``setting``'s run: each measured retest of :data:`RETESTS` against the run and against
    every measured retest before it, earlier run first."""
    done = [d for d in RETESTS.get(setting, ()) if (d / "measurements.csv").exists()]
    return [(first, d) for i, d in enumerate(done) for first in (RUNS[setting], *done[:i])]


def _hours_apart(first: Path, second: Path) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(_start_utc(second)) - datetime.fromisoformat(_start_utc(first))).total_seconds() / 3600


def pair_rows(first: Path, second: Path, sets: Mapping[str, str]) -> list[list[str]]:
    """Test-retest of each set between two runs of the same configurations, on :data:`RETEST_COLUMNS` (rows: set,
    figure, n, MAPE, median ratio, within +-3 %, within +-10 %); the configurations ``sets`` names that both hold."""
    from benchmarks.retest_cpu import csv_rows, figures, rounds_rows, stats_rows

    a = {r["key"]: r for r in csv_rows(first / "measurements.csv")}
    b = {r["key"]: r for r in csv_rows(second / "measurements.csv")}
    fa, fb = (figures(rounds_rows(d)).get(NO_STREAM_FIGURE, {}) for d in (first, second))
    rows = []
    for name, seen in (("networks measured before", True), ("unseen networks", False)):
        ks = [k for k, s in sets.items() if (s == SEEN) == seen and k in a and k in b]
        test, again = ({what: {k: float(r[k][column]) for k in ks} for column, what in RETEST_COLUMNS.items()}
                       for r in (a, b))
        if all(k in fa and k in fb for k in ks):  # runs that recorded the reference kernels' fastest runs
            test[NO_STREAM], again[NO_STREAM] = ({k: f[k] for k in ks} for f in (fa, fb))
        rows += [[name, *row] for row in stats_rows(test, again)]
    return rows


def retest_section(setting: str, sets: Mapping[str, str], stored: Mapping[str, tuple[float, float]],
                   held: Mapping[str, float]) -> tuple[list[str], dict[tuple[Path, Path], list[list[str]]]]:
    """The independent retests of ``setting``'s run (:func:`retest_pairs`; no lines where none is measured):
    test-retest of each set on :data:`RETEST_COLUMNS` for every pair, and the run's stored and held-out predictions
    scored on each retest (``stored``: key -> (prediction, the run's fastest run); ``held``: key -> held-out predicted
    / the run's fastest run); and each pair's :func:`pair_rows` (the summary's: :func:`retest_summary_lines`)."""
    from benchmarks.retest_cpu import csv_rows
    from hybridperf.report.format import table

    pairs = {(first, second): pair_rows(first, second, sets) for first, second in retest_pairs(setting)}
    lines = []
    for d in dict.fromkeys(second for _, second in pairs):
        rounds = len({r["round"] for r in csv_rows(d / "speed_index.csv")})
        lines += [f"Independent retest `{d}` ({rounds} rounds from {_start_utc(d)[:16].replace('T', ' ')} UTC, the "
                  "same configurations and settings; planned in CHANGELOG before it ran):", ""]
        for (first, second), rows in pairs.items():
            if second == d:
                lines += [f"Against `{first}` ({_hours_apart(first, d):.1f} h earlier):", "", "```",
                          table(rows, ["set", "figure", "n", "MAPE", "median ratio", "within +-3 %", "within +-10 %"],
                                "llrrrrr"), "```", ""]
        b = {r["key"]: r for r in csv_rows(d / "measurements.csv")}
        seen = [k for k, s in sets.items() if s == SEEN]
        unseen = [k for k, s in sets.items() if s != SEEN]
        low, high, in_range = _in_range(seen, [k for k in unseen if k in b],
                                        {k: float(r["latency_min_s"]) for k, r in b.items()})
        scored = []
        for name, ks in {"networks measured before": seen, "unseen networks": unseen,
                         f"networks measured before, measured {low * 1e3:.0f}-{high * 1e3:.0f} ms (the unseen "
                         "networks' range)": in_range}.items():
            ks = [k for k in ks if k in b and k in stored]
            new = {k: float(b[k]["latency_min_s"]) for k in ks}
            row = _set_row(name, len(ks), [(stored[k][0], new[k]) for k in ks],
                           [held[k] * stored[k][1] / new[k] for k in ks if k in held])
            scored.append([row[0], *row[2:6], *row[7:]])  # one count: every configuration here has a stored prediction
        lines += ["The run's stored and held-out predictions scored on this retest's fastest runs:", "", "```",
                  table(scored, ["set", "n", "stored MAPE", "stored +-10 %", "stored median pred / meas",
                                 "held-out MAPE", "held-out +-10 %", "held-out median pred / meas"], "lrrrrrrr"),
                  "```", ""]
    return lines, pairs


def retest_summary_lines(pairs: Mapping[str, Mapping[tuple[Path, Path], list[list[str]]]]) -> list[str]:
    """Every test-retest pair of section 1 side by side (``pairs``: setting -> (run, retest) -> :func:`pair_rows`, as
    :func:`retest_section` returns them): MAPE of each set on the goal's figure, the raw fastest run and the no-stream
    figure, and the hours between the runs."""
    from hybridperf.report.format import table

    body = []
    for setting, by_pair in pairs.items():
        for (first, second), rows in by_pair.items():
            by = {(r[0], r[1]): r[3] for r in rows}
            body.append([f"`{setting}`", f"`{first.name}`", f"`{second.name}`", f"{_hours_apart(first, second):.1f}",
                         *(by.get((name, what), "unknown") for what in (*RETEST_COLUMNS.values(), NO_STREAM)
                           for name in ("networks measured before", "unseen networks"))])
    if not body:
        return []
    return ["Test-retest of the measured runs (MAPE between two independent runs of the same 88 configurations; "
            "goal's figure: fastest run / the round's fastest reference runs; the goal is 3 %; no stream: over the "
            "GEMM and conv of the reference only, added after the 2-thread retest was seen):", "", "```",
            table(body, ["setting", "run", "retest", "hours apart", "goal's figure: seen", "unseen", "raw fastest: seen",
                         "unseen", "no stream: seen", "unseen"], "lllrrrrrrr"), "```", ""]


# ------------------------------------------------------------------------------- section 2 (leave CPU and networks out)

def _held_out(args) -> tuple[str, list[str], np.ndarray, np.ndarray, np.ndarray]:
    """One setting of section 2: ``(setting, keys, measured / roofline, usual held-out prediction / roofline,
    prediction / roofline of the models trained without each row's fold)``."""
    from hybridperf.residual import cross_host as ch
    from hybridperf.residual.model import subset

    held, folds = args
    exclude = _left_out()
    data = cc.load_hosts(exclude=exclude)
    spreads = cc.timing_spreads(exclude=exclude)
    X, y, kt, _, fig, rows = data[held]
    keys = [r["key"] for r in rows]
    kth = ch.with_host(kt, fig)
    hosts = cc.training_hosts(held)
    full = ch.train({h: data[h][:5] for h in hosts}, spreads={h: spreads[h] for h in hosts})
    usual = full.for_host(fig).predict(X, kth)
    out = np.full(len(y), np.nan)
    fold_of = [folds[cc.network_of(k)] for k in keys]
    for f in sorted(set(fold_of)):
        train = {}
        for h in hosts:
            Xh, yh, kth_, gh, figh, rowsh = data[h]
            keep = np.array([i for i, r in enumerate(rowsh) if folds[cc.network_of(r["key"])] != f], dtype=int)
            train[h] = (Xh[keep], yh[keep], subset(kth_, keep), [gh[i] for i in keep], figh)
        model = ch.train(train, spreads={h: spreads[h] for h in train}).for_host(fig)
        test = np.array([i for i, g in enumerate(fold_of) if g == f], dtype=int)
        out[test] = model.predict(X[test], subset(kth, test))
    return held, keys, np.exp(y), np.exp(usual), np.exp(out)


def leave_networks_out(data, jobs: int = 1, folds: int = FOLDS) -> dict[str, tuple[list[str], np.ndarray,
                                                                                     np.ndarray, np.ndarray]]:
    """setting -> (keys, measured / roofline, usual held-out zero-shot, zero-shot without the row's fold's families)
    for every setting of :data:`benchmarks.cpu_cross_host.HOSTS` (``data``: as :func:`heldout_predictions`; each
    worker loads its own)."""
    nets = sorted({cc.network_of(r["key"]) for h in cc.HOSTS for r in data[h][5]})
    fold = family_folds(nets, folds)
    work = [(h, fold) for h in cc.HOSTS]
    if jobs > 1:
        # spawned, not forked: the parent has run LightGBM (OpenMP), and a forked child of it can hang
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as ex:
            done = list(ex.map(_held_out, work))
    else:
        done = [_held_out(w) for w in work]
    return {h: (keys, true, usual, lno) for h, keys, true, usual, lno in done}


def networks_out_section(results: Mapping[str, tuple], folds: int = FOLDS) -> list[str]:
    from hybridperf.report.format import table

    rows, a, b = [], [], []
    for h, (keys, true, usual, lno) in results.items():
        su, sl = stats(usual, true), stats(lno, true)
        a.append(su[0])
        b.append(sl[0])
        rows.append([cc.LABELS[h] + (" (design host)" if h in cc.DESIGN_HOSTS else ""), str(len(keys)),
                     str(len({cc.network_of(k) for k in keys})), _pct(su[0]), _pct(su[1]), _pct(sl[0]), _pct(sl[1]),
                     f"{sl[0] - su[0]:+.1f}"])
    quiet = [i for i, h in enumerate(results) if h != "host-xeon-2c"]  # the loaded slice: one pass under load
    rows.append(["mean of the settings", "", "", _pct(statistics.fmean(a)), "", _pct(statistics.fmean(b)), "",
                 f"{statistics.fmean(b) - statistics.fmean(a):+.1f}"])
    rows.append(["mean without the loaded slice (`host-xeon-2c`)", "", "",
                 _pct(statistics.fmean(a[i] for i in quiet)), "", _pct(statistics.fmean(b[i] for i in quiet)), "",
                 f"{statistics.fmean(b[i] for i in quiet) - statistics.fmean(a[i] for i in quiet):+.1f}"])
    data_nets = sorted({cc.network_of(k) for keys, *_ in results.values() for k in keys})
    fold = family_folds(data_nets, folds)
    fams = {}
    for n, f in fold.items():
        fams.setdefault(f, set()).add(family(n))
    fold_lines = [f"- fold {f}: {', '.join(sorted(v))}" for f, v in sorted(fams.items())]
    return ["## 2. Leave CPU and networks out (every measured setting, offline)", "",
            f"Each held-out setting as in `cpu_cross_host` (its CPU's other settings held out too); its networks "
            f"dealt into {folds} folds by zoo family; a fold's rows predicted by a zero-shot model trained on the "
            "training CPUs' rows *without that fold's families* (their offsets, the median of each CPU's rows, "
            "taken on the rows kept). Against the usual held-out zero-shot model (every network trained) on the "
            "same rows. MAPE on the fastest timed run.", "",
            "```", table(rows, ["held-out setting", "configurations", "networks", "zero-shot, networks trained",
                                "+-10 %", "zero-shot, CPU and networks held out", "+-10 %", "difference (points)"],
                         "lrrrrrrr"), "```", "", "Folds:", "", *fold_lines, ""]


def report(jobs: int = 1) -> str:
    head = ["# Networks never measured: a new CPU and a new network", "",
            f"Command: `{COMMAND}`", "",
            "Planned in CHANGELOG (2026-12-06, 12:16 UTC; the Zen 4 run at 16:26 UTC) before any timing. Evaluation "
            "only: nothing in the models "
            "or their training sets is chosen on these figures.", ""]
    exclude = _left_out()
    data, spreads = cc.load_hosts(exclude=exclude), cc.timing_spreads(exclude=exclude)
    done = {s: measured_section(s, data, spreads) for s, run in RUNS.items() if (run / "measurements.csv").exists()}
    measured = [line for lines, _, _ in done.values() for line in lines]
    summary = [*summary_lines({s: rows for s, (_, rows, _) in done.items()}),
               *retest_summary_lines({s: pairs for s, (_, _, pairs) in done.items()})]
    return "\n".join([*head, *summary, *measured, *networks_out_section(leave_networks_out(data, jobs))]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.unseen_networks", description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=1, help="processes for section 2 (one held-out setting each)")
    p.add_argument("--out", default=str(RESULTS / "unseen_networks.md"))
    args = p.parse_args(argv)
    text = report(args.jobs)
    Path(args.out).write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
