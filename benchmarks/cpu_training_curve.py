"""Does the CPU cross-host model get better with more training CPUs? Zero-shot error against the number of CPUs.

For each held-out CPU setting of ``benchmarks.cpu_cross_host`` (held out with the same CPU at its other thread count,
:data:`~benchmarks.cpu_cross_host.SAME_CPU`, as there), the cross-host model is trained on every subset of k of the
other training CPUs (a CPU measured at two thread counts brings both settings; the hosts of
:data:`~benchmarks.cpu_cross_host.NOT_TRAINED` train nothing: the loaded slice, whose timings do not reproduce, and
the settings the adoption rule did not adopt, ``NOT_TRAINED_WHY``), k = 1 up to all of
them, and predicts the held-out setting zero-shot from its sheet. With k = all it is the zero-shot row of
``cpu_cross_host.md``. A subset in which no training host lends its offset would be left out, and counted.

The question behind it: the notes of issue 12 say the targets still missed on CPUs (the AMX Xeon zero-shot, K = 10 on
Zen 5) need "more training CPUs like them". This shows how the error has moved with the number of CPUs so far;
six CPUs is a short curve, and which CPUs are in a subset matters as much as how many (the min-max columns).

Usage::

    taskset -c 0,1 python -m benchmarks.cpu_training_curve --jobs 2   # writes benchmarks/results/cpu_training_curve.md
"""

from __future__ import annotations

import argparse
import itertools
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.cpu_cross_host import (
    DATA_DIRS,
    DESIGN_HOSTS,
    HOSTS,
    LABELS,
    NOT_TRAINED,
    RESULTS,
    SAME_CPU,
    _left_out_line,
    label_line,
    load_hosts,
    timing_spreads,
)

COMMAND = "taskset -c 0,1 python -m benchmarks.cpu_training_curve --jobs 2"


def cpus() -> list[tuple[str, ...]]:
    """The training CPUs (:data:`HOSTS` but :data:`NOT_TRAINED`), each as the tuple of its settings (in :data:`HOSTS`
    order), in order of first setting."""
    out: list[tuple[str, ...]] = []
    for h in HOSTS:
        if h not in NOT_TRAINED and not any(h in c for c in out):
            out.append(tuple(x for x in HOSTS if (x == h or x in SAME_CPU.get(h, ())) and x not in NOT_TRAINED))
    return out


def subsets(held: str) -> dict[int, list[tuple[str, ...]]]:
    """k -> every subset of k CPUs other than ``held``'s, each as the settings it trains on (in :data:`HOSTS` order).
    ``held``'s CPU is its own settings and those of :data:`SAME_CPU` (a host that trains nothing, the Xeon slice, is
    in no CPU of :func:`cpus`, yet its CPU's quiet run is left out when it is held out)."""
    mine = {held, *SAME_CPU.get(held, ())}
    others = [c for c in cpus() if not mine & set(c)]
    return {k: [tuple(h for h in HOSTS if any(h in c for c in combo)) for combo in itertools.combinations(others, k)]
            for k in range(1, len(others) + 1)}


def _mape(log_pred: np.ndarray, log_true: np.ndarray) -> float:
    return float(np.mean(np.abs(np.exp(np.asarray(log_pred) - np.asarray(log_true)) - 1.0)) * 100.0)


def score_host(held: str, exclude: frozenset[str]) -> dict:
    """``held``'s zero-shot MAPE % for every training subset: ``{"host", "n", "by_k": {k: [mape, ...]}, "skipped"}``."""
    from hybridperf.residual import cross_host as ch

    data = load_hosts(DATA_DIRS, exclude)
    spreads = timing_spreads(DATA_DIRS, exclude)
    X, y, kt, _, fig, _ = data[held]
    kth = ch.with_host(kt, fig)
    by_k: dict[int, list[float]] = {}
    skipped = 0
    for k, combos in subsets(held).items():
        for train_hosts in combos:
            if not any(ch.lends_offset(spreads[h]) for h in train_hosts):
                skipped += 1
                continue
            model = ch.train({h: data[h][:5] for h in train_hosts}, spreads={h: spreads[h] for h in train_hosts})
            by_k.setdefault(k, []).append(_mape(model.for_host(fig).predict(X, kth), y))
    return {"host": held, "n": len(y), "by_k": by_k, "skipped": skipped}


def report(results: list[dict], exclude: frozenset[str], command: str) -> str:
    ks = sorted({k for r in results for k in r["by_k"]})
    lines = ["# CPU cross-host: zero-shot error against the number of training CPUs", "", f"Reproduce: `{command}`", "",
             " ".join(__doc__.split("\n\n")[1].split()), "", label_line(), "", _left_out_line(exclude), "",
             ("Zero-shot MAPE % on every row of the held-out setting: mean over the subsets of k training CPUs (in "
              "brackets the best and worst subset; n: how many subsets)."), "",
             "| held-out setting | rows | " + " | ".join(f"k = {k}" for k in ks) + " | subsets left out |",
             "|---|---:|" + "---:|" * len(ks) + "---:|"]
    for r in results:
        tag = " (design host)" if r["host"] in DESIGN_HOSTS else ""
        cells = []
        for k in ks:
            v = r["by_k"].get(k)
            cells.append(f"{np.mean(v):.1f} ({min(v):.1f}-{max(v):.1f}; n {len(v)})" if v else "unknown")
        lines.append(f"| `{r['host']}`{tag} ({LABELS[r['host']]}) | {r['n']} | {' | '.join(cells)} | {r['skipped']} |")
    # the hosts that train nothing (NOT_TRAINED: the loaded slice, the Xeon's 1-thread run the adoption rule did not
    # adopt) are not in the mean of the training settings
    quiet = [r for r in results if r["host"] not in NOT_TRAINED]
    means = []
    for k in ks:
        per = [np.mean(r["by_k"][k]) for r in quiet if r["by_k"].get(k)]
        means.append(f"{np.mean(per):.1f} (of {len(per)})" if per else "unknown")
    but = ", ".join(f"`{h}`" for h in NOT_TRAINED)
    lines += [f"| mean of the training settings (all but {but}) | | {' | '.join(means)} | |", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(RESULTS / "cpu_training_curve.md"))
    p.add_argument("--jobs", type=int, default=1, help="held-out settings scored at once, one process each")
    args = p.parse_args(argv)
    if args.jobs < 1:
        print(f"error: --jobs must be at least 1 (got {args.jobs})", file=sys.stderr)
        return 2
    from benchmarks.subnormal_scan import hazard_keys

    exclude = hazard_keys()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(score_host, list(HOSTS), [exclude] * len(HOSTS)))
    extra = [f"--out {args.out}"] if args.out != p.get_default("out") else []
    text = report(results, exclude, " ".join([COMMAND, *extra]))
    Path(args.out).write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
