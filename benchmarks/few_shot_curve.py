"""How many measured models a CPU needs: few-shot error against K, leave one CPU out.

The same hosts, training sets and draw rule as ``benchmarks.cpu_cross_host`` (leave one CPU out; each draw takes K
networks, one configuration of each, and scores on every configuration of the networks not drawn; 10 draws, seed 0),
for several K: the shipped adaptation (``CrossHostModel.adapt``, as ``hybridperf calibrate --measure`` runs it) and
the zero-shot model on the same rests. ``cpu_cross_host.md`` is the K = 10 column; this asks what a user who measures
more models gets (the rests shrink as K grows, so each K's zero-shot column is its own baseline).

Usage::

    taskset -c 0 python -m benchmarks.few_shot_curve   # writes benchmarks/results/few_shot_curve.md
    python -m benchmarks.few_shot_curve --jobs 2 --shots 5,10,20 --hosts host-epyc-zen5-1c
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks import cpu_cross_host as cch
from benchmarks.few_shot_ceiling import (
    TARGET_PCT,
    _mape,
    command_options,
    held_out,
    parse_hosts,
)

COMMAND = "taskset -c 0 python -m benchmarks.few_shot_curve"
SHOTS = (5, 10, 15, 20)
#: what the table shows, in its words
EXPLAIN = ("The hosts, training sets and draw rule of `cpu_cross_host.md` (leave one CPU out; each draw takes K "
           "networks, one configuration of each, and scores on every configuration of the networks not drawn; 10 "
           "draws, seed 0), for several K: the shipped adaptation (`CrossHostModel.adapt`, as `hybridperf "
           "calibrate --measure` runs it) and, in brackets, the zero-shot model on the same rests. The K=10 column "
           "is `cpu_cross_host.md`'s; the others say what a user who measures fewer or more models gets. The rests "
           "shrink as K grows, so each K's zero-shot figure is its own baseline.")


def score_host(held: str, shots: tuple[int, ...], exclude: frozenset[str]) -> dict:
    """``held``: K -> (zero-shot MAPE % on the rests, adapted MAPE %, draws, mean rest size); None where a draw of K
    networks leaves none to score."""
    from hybridperf.residual.model import subset

    X, y, kth, keys, zs = held_out(held, exclude)
    out = {}
    for k in shots:
        zs_m, ad_m, sizes = [], [], []
        for pick, rest in cch.draws(keys, k, cch.TRIALS, cch.SEED):
            kr = subset(kth, rest)
            ad = zs.adapt(X[pick], y[pick], kernels=subset(kth, pick))
            zs_m.append(_mape(zs.predict(X[rest], kr), y[rest]))
            ad_m.append(_mape(ad.predict(X[rest], kr), y[rest]))
            sizes.append(len(rest))
        out[k] = (float(np.mean(zs_m)), float(np.mean(ad_m)), len(zs_m), float(np.mean(sizes))) if zs_m else None
    return {"host": held, "curve": out, "networks": len(dict.fromkeys(cch.network_of(k) for k in keys))}


def report(results: list[dict], shots: tuple[int, ...], exclude: frozenset[str], command: str) -> str:
    head = " | ".join(f"K={k}" for k in shots)
    lines = ["# CPU few-shot error against the number of measured models K", "", f"Reproduce: `{command}`", "",
             EXPLAIN, "", cch.label_line(), "", cch._left_out_line(exclude), "",
             ("Each cell: adapted MAPE (zero-shot MAPE on the same rests). `unknown`: a draw of K networks "
              "leaves none to score."), "",
             f"| held-out host | networks | {head} | fewest K at or below {TARGET_PCT:g} % |",
             "|---|---:|" + "---:|" * len(shots) + "---|"]
    for r in results:
        cells, first = [], None
        for k in shots:
            c = r["curve"].get(k)
            if c is None:
                cells.append("unknown")
                continue
            cells.append(f"{c[1]:.1f} % ({c[0]:.1f} %)")
            if first is None and c[1] <= TARGET_PCT:
                first = k
        design = " (design host)" if r["host"] in cch.DESIGN_HOSTS else ""
        reach = f"K={first}" if first is not None else f"none up to K={max(shots)}"
        lines.append(f"| `{r['host']}`{design} ({cch.LABELS[r['host']]}) | {r['networks']} | {' | '.join(cells)} | "
                     f"{reach} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(cch.RESULTS / "few_shot_curve.md"))
    p.add_argument("--hosts", default=",".join(cch.HOSTS),
                   help="comma-separated hosts to score (default: every host of cpu_cross_host's table)")
    p.add_argument("--shots", default=",".join(map(str, SHOTS)), help="comma-separated K values (default %(default)s)")
    p.add_argument("--jobs", type=int, default=1, help="hosts scored at once, one process each (default 1)")
    args = p.parse_args(argv)
    hosts = parse_hosts(args.hosts, args.jobs)
    try:
        shots = tuple(int(s) for s in args.shots.split(",") if s)
    except ValueError:
        shots = ()
    if hosts is None:
        return 2
    if not shots or min(shots) < 2:
        print(f"error: --shots takes integers >= 2, comma-separated (got {args.shots!r})", file=sys.stderr)
        return 2
    from benchmarks.subnormal_scan import hazard_keys

    exclude = hazard_keys()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(score_host, hosts, [shots] * len(hosts), [exclude] * len(hosts)))
    text = report(results, shots, exclude, " ".join([COMMAND, *command_options(p, args, ("hosts", "shots", "out"))]))
    Path(args.out).write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
