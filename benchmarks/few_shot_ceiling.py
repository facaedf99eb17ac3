"""How far K=10 few-shot adaptation could go on each CPU: every candidate correction scored on the held-out rests.

``CrossHostModel.adapt`` chooses one correction among a fixed grid (:data:`~hybridperf.residual.cross_host.
ADAPT_ROUNDS` kernel trees x :data:`~hybridperf.residual.cross_host.ADAPT_SHRINK` shrinkage, or none) by
leave-one-model-out over the K models. With the same hosts, training sets and draws as ``benchmarks.cpu_cross_host``
(leave one CPU out; 10 draws of 10 networks, seed 0), this scores on each draw's rest

* the zero-shot model and the shipped adaptation (as in ``cpu_cross_host.md``);
* every candidate of the grid, built on the K models as the choice would build it (``candidate_predictions``: the
  kernel trees grown once per draw, each candidate reading its first trees, shrunk);
* the best candidate of each draw chosen in hindsight (on the rest it is scored on: no rule that sees only the K
  models can do better on average) and the best single candidate for all draws (in hindsight too);
* the model-level offset alone, unshrunk.

The hindsight columns are ceilings of the *choice*, not predictions anyone could make: where the per-draw ceiling is
above a target, no rule for choosing among these candidates reaches it, and a better base model, another kind of
correction or more measured models would be needed.

Usage::

    taskset -c 0 python -m benchmarks.few_shot_ceiling   # writes benchmarks/results/few_shot_ceiling.md
    python -m benchmarks.few_shot_ceiling --jobs 2 --hosts host-epyc-1c,host-epyc-zen5-1c
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.cpu_cross_host import (
    DATA_DIRS,
    DESIGN_HOSTS,
    HOSTS,
    LABELS,
    RESULTS,
    SEED,
    TRIALS,
    K,
    _left_out_line,
    draws,
    label_line,
    load_hosts,
    timing_spreads,
    training_hosts,
)

COMMAND = "taskset -c 0 python -m benchmarks.few_shot_ceiling"
#: the CPU few-shot target of issue 12, for the verdict column
TARGET_PCT = 8.0


#: what the table shows, in its words
EXPLAIN = ("`CrossHostModel.adapt` chooses one correction from a fixed grid (0, 10, 30, 100 or 300 kernel trees "
           "(`ADAPT_ROUNDS`) x shrinkage 0.1-1 (`ADAPT_SHRINK`), or none) by leave-one-model-out over the K models, "
           "then may blend in a model of the K rows alone. With the hosts, training sets and draws of "
           "`cpu_cross_host.md` (leave one CPU out; 10 draws of 10 networks, one configuration of each, seed 0; "
           "scored on every configuration of the networks not drawn), each candidate of the grid is built on the K "
           "models as the choice would build it (`candidate_predictions`, as `adapt(candidate=...)` builds it) "
           "and scored on the rest. *Best per draw*: "
           "the candidate with the lowest MAPE on each draw's rest, chosen in hindsight, mean over draws: no rule "
           "that sees only the K models can choose better on average. *Best single candidate*: the one candidate "
           "with the lowest mean MAPE over the draws, also in hindsight. Where the best per draw is above the 8 % "
           "target, no way of choosing among these candidates reaches it: a better base model, another kind of "
           "correction or more measured models would be needed (`benchmarks/results/few_shot_curve.md`: the error "
           "against K).")


def _mape(log_pred: np.ndarray, log_true: np.ndarray) -> float:
    """MAPE % of latencies given as logs of the same scale (the table's label and its prediction)."""
    return float(np.mean(np.abs(np.exp(np.asarray(log_pred) - np.asarray(log_true)) - 1.0)) * 100.0)


def candidates() -> list[tuple[int, float]]:
    """The grid ``adapt`` chooses from: ``(0, 0.0)`` ("none"), then every ``(rounds, shrink)``, in its order."""
    from hybridperf.residual import cross_host as ch

    return [(0, 0.0), *((r, lam) for r in ch.ADAPT_ROUNDS for lam in ch.ADAPT_SHRINK)]


def held_out(held: str, exclude: frozenset[str]):
    """``(X, y, kernels with host columns, configuration keys, zero-shot model)`` of ``held``, the model trained as
    ``cpu_cross_host`` trains the one that predicts it (its training hosts, their timing spreads)."""
    from hybridperf.residual import cross_host as ch

    data = load_hosts(DATA_DIRS, exclude)
    spreads = timing_spreads(DATA_DIRS, exclude)
    X, y, kt, _, fig, rows = data[held]
    train = {h: data[h][:5] for h in training_hosts(held)}
    zs = ch.train(train, spreads={h: spreads[h] for h in train}).for_host(fig)
    return X, y, ch.with_host(kt, fig), [r["key"] for r in rows], zs


def parse_hosts(text: str, jobs: int) -> list[str] | None:
    """The hosts of ``--hosts`` (None, with one line on stderr, where one is unknown, none is given or ``jobs`` < 1)."""
    hosts = [h for h in text.split(",") if h]
    unknown = [h for h in hosts if h not in HOSTS]
    if unknown or not hosts or jobs < 1:
        print(f"error: --hosts from {', '.join(HOSTS)} (unknown: {', '.join(unknown) or 'none given'}) "
              f"and --jobs >= 1 (got {jobs})", file=sys.stderr)
        return None
    return hosts


def command_options(p: argparse.ArgumentParser, args: argparse.Namespace, names: Sequence[str]) -> list[str]:
    """The options ``names`` of ``args`` that differ from ``p``'s defaults, as ``--name value``: what the table's
    reproduce command adds (``--out`` among them, so the command of a partial table does not overwrite the main one)."""
    return [f"--{name} {getattr(args, name)}" for name in names if getattr(args, name) != p.get_default(name)]


def score_host(held: str, exclude: frozenset[str]) -> dict:
    """``held``'s figures: MAPE % on each draw's rest of zero-shot, the shipped adaptation and every candidate."""
    from hybridperf.residual.model import subset

    X, y, kth, keys, zs = held_out(held, exclude)
    grid = candidates()
    shipped, per_cand, chosen = [], [], []
    for pick, rest in draws(keys, K, TRIALS, SEED):
        kp, kr = subset(kth, pick), subset(kth, rest)
        ad = zs.adapt(X[pick], y[pick], kernels=kp)
        shipped.append(_mape(ad.predict(X[rest], kr), y[rest]))
        chosen.append((ad.adaptation_["kernel_rounds"], ad.adaptation_["shrink"], ad.adaptation_["alone_weight"]))
        pred = zs.candidate_predictions(X[pick], y[pick], kp, grid, X[rest], kr)
        per_cand.append([_mape(pred[c], y[rest]) for c in grid])
    return {"host": held, "grid": grid, "shipped": shipped, "per_candidate": per_cand, "chosen": chosen,
            "n": len(y)}


def _name(c: tuple[int, float]) -> str:
    if c == (0, 0.0):
        return "none"
    return f"offset x{c[1]:.1f}" if c[0] == 0 else f"{c[0]} trees x{c[1]:.1f}"


def report(results: list[dict], exclude: frozenset[str], command: str) -> str:
    lines = ["# CPU few-shot K=10: the ceiling of choosing a correction", "",
             f"Reproduce: `{command}`", "",
             EXPLAIN, "",
             label_line(), "", _left_out_line(exclude), "",
             ("| held-out host | configurations | zero-shot on the rests | K=10 shipped | best per draw (hindsight) | "
              "best single candidate (hindsight) | offset alone | K=10 target 8 % reachable by a choice? |"),
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    notes = []
    for r in results:
        pc = np.asarray(r["per_candidate"])
        if not len(pc):
            lines.append(f"| `{r['host']}` | {r['n']} | unknown | unknown | unknown | unknown | unknown | unknown "
                         "(no draw leaves a network to score) |")
            continue
        zs, ship = pc[:, 0].mean(), float(np.mean(r["shipped"]))
        oracle = pc.min(axis=1).mean()
        mean_c = pc.mean(axis=0)
        best = int(np.argmin(mean_c))
        off = mean_c[r["grid"].index((0, 1.0))]
        design = " (design host)" if r["host"] in DESIGN_HOSTS else ""
        verdict = "yes" if oracle <= TARGET_PCT else "no"
        lines.append(f"| `{r['host']}`{design} ({LABELS[r['host']]}) | {r['n']} | {zs:.1f} % | {ship:.1f} % | "
                     f"{oracle:.1f} % | {mean_c[best]:.1f} % ({_name(r['grid'][best])}) | {off:.1f} % | "
                     f"{verdict} |")
        picks = ", ".join(f"{_name((int(a), float(b)))}" + (f" + alone x{w:g}" if w else "") for a, b, w in r["chosen"])
        notes.append(f"- `{r['host']}`: shipped choices per draw: {picks}.")
    lines += ["", ("The shipped choice of each draw (trees and shrinkage; `+ alone xW`: blended with a model of the "
                   "K rows alone, weight W):"), "", *notes, ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(RESULTS / "few_shot_ceiling.md"))
    p.add_argument("--hosts", default=",".join(HOSTS),
                   help="comma-separated hosts to score (default: every host of cpu_cross_host's table)")
    p.add_argument("--jobs", type=int, default=1, help="hosts scored at once, one process each (default 1)")
    args = p.parse_args(argv)
    hosts = parse_hosts(args.hosts, args.jobs)
    if hosts is None:
        return 2
    from benchmarks.subnormal_scan import hazard_keys

    exclude = hazard_keys()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(score_host, hosts, [exclude] * len(hosts)))
    text = report(results, exclude, " ".join([COMMAND, *command_options(p, args, ("hosts", "out"))]))
    Path(args.out).write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
