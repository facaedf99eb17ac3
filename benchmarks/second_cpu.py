"""Plan (30) of CHANGELOG 2026-12-07: plans (22) and (24)-(29) on a second CPU, blind.

Each of those plans added a term priced from a figure ``hybridperf probe`` times on the machine (element-wise math,
gathers of short blocks, broadcasts over short spans, activations evaluated one element at a time, ``GridSample``)
and was scored on the Zen 4 VM alone. This module prices the same blind sets (and plan (25)'s popular architectures,
which have no term of their own) on another CPU's own probe, with each plan's term and without it, stores the
predictions before any timing and scores them against ``hybridperf calibrate --measure`` runs on that CPU.

Steps (a 1-thread probe and runs pinned to core 1; 2 threads on both cores)::

    .venv-bench/bin/python -m benchmarks.second_cpu export                    # every set under .zoo/
    nice -n -20 taskset -c 1 hybridperf probe --out RUN/host-epyc-zen3-1c.yaml --id host-epyc-zen3-1c
    nice -n -20 taskset -c 0,1 hybridperf probe --out RUN/host-epyc-zen3-2c.yaml --id host-epyc-zen3-2c
    python -m benchmarks.second_cpu predict --run RUN                        # before any timing
    bash benchmarks/second_cpu.sh RUN host-epyc-zen3                          # every set, 1 then 2 threads
    python -m benchmarks.second_cpu score --run RUN > benchmarks/results/second_cpu_zen3.md

``RUN`` holds the two probed sheets, one directory per set (its stored predictions, as the set's own module stores
them, and one ``calibrate --measure`` run per setting) and ``lscpu.txt``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

RUN = Path("calibration") / "host-epyc-zen3-sets"
PREFIX = "host-epyc-zen3"


@dataclass(frozen=True)
class PlanSet:
    """One blind set: its directory under ``.zoo``, the plan it judged and the module that exports it and stores
    its predictions (``predict(run, zoo, settings)``) and names the files it stores (its ``STORED``)."""

    name: str
    zoo: str
    plan: str
    module: str

    @property
    def stored(self) -> dict[str, str]:
        """The stored files scored (file -> heading): the module's own ``STORED``, with the term first (the popular
        architectures, which have no term: the product alone, under a heading that names no plan)."""
        import importlib

        stored = importlib.import_module(f"benchmarks.{self.module}").STORED
        return {name: "the product" for name in stored} if self.name == "popular" else dict(stored)


SETS = (
    PlanSet("mathops", "mathops-set", "(22)", "elementwise_math"),
    PlanSet("gather", "gather-set", "(24)", "gather_blocks"),
    PlanSet("popular", "popular-set", "(25)", "popular_set"),
    PlanSet("ssm", "ssm-set", "(26)", "broadcast_spans"),
    PlanSet("ssm2", "ssm-set2", "(27)", "broadcast_spans"),  # plan (27) judged (26)'s term on a second set
    PlanSet("activations", "activation-set", "(28)", "scalar_activations"),
    PlanSet("deformable", "deformable-set", "(29)", "grid_sample"),
)


def _exporter(s: PlanSet) -> Callable[[], list[Path]]:
    import importlib

    if s.name in ("ssm", "ssm2"):  # one module writes both state-space sets
        from benchmarks.ssm_set import NETWORKS, SECOND, export
        return lambda: export(SECOND if s.name == "ssm2" else NETWORKS)
    return importlib.import_module(f"benchmarks.{s.module}").export  # each writes to its own .zoo directory


def export(sets: Sequence[PlanSet] = SETS) -> None:
    """Write every set under ``.zoo/`` with its own module's export (a network that fails is named on stderr)."""
    for s in sets:
        written = _exporter(s)()
        print(f"{s.name}: {len(written)} networks in .zoo/{s.zoo}", file=sys.stderr)


def predict(run: Path = RUN, sets: Sequence[PlanSet] = SETS, prefix: str = PREFIX) -> list[Path]:
    """Store every set's predictions on the probed sheets ``run / {prefix}-1c.yaml`` and ``-2c.yaml`` with its plan's
    term and without it, as the set's own module stores them (under ``run / set``)."""
    import importlib

    from benchmarks.tcn_conv1d import predict as product_only

    sheets = tuple(str(run / f"{prefix}-{t}c.yaml") for t in (1, 2))
    out = []
    for s in sets:
        zoo, where = Path(".zoo") / s.zoo, run / s.name
        if s.name == "popular":  # no term: the product alone, as popular_set's own predict step stores it
            out.append(product_only(where, zoo, "predictions.csv", sheets))
            continue
        out += list(importlib.import_module(f"benchmarks.{s.module}").predict(where, zoo, sheets))
    return out


def score(run: Path = RUN, sets: Sequence[PlanSet] = SETS) -> str:
    """Each set's table (:func:`benchmarks.tcn_conv1d.score`), then every set's MAPE per setting with the plan's term
    and without it, and each run against its retest where one was measured."""
    from benchmarks.broadcast_spans import retest_line
    from benchmarks.recurrent_cost import _stats, measured
    from benchmarks.tcn_conv1d import score as table
    from benchmarks.tcn_conv1d import scored_runs

    parts, summary = [], ["## Every set", "", "MAPE of the stored predictions against the fastest timed runs; split-half: "
                          "the run's own test-retest (its second half of rounds against its first).", "",
                          "| set | plan | run | networks | with the term | without | better with the term | split-half |",
                          "|---|---|---|---:|---:|---:|---|---:|"]
    retests = []
    for s in sets:
        where, stored = run / s.name, s.stored
        if not where.exists():
            continue
        runs = scored_runs(where, stored)
        parts.append(table(where, stored, (f"{s.name}: plan {s.plan}'s set on {run.name}",
                                           "`benchmarks/second_cpu.py`; plan (30)"), runs=runs).replace("# ", "## ", 1))
        for d, truth, preds, sh in runs:
            mapes = [_stats(preds[name], truth)[0] for name in stored]
            better = "" if len(mapes) < 2 else ("yes" if mapes[0] < mapes[1] else "no")
            cells = [f"{m:.1f} %" for m in mapes] + ([""] if len(mapes) < 2 else [])
            summary.append(f"| {s.name} | {s.plan} | {d.name} | {len(truth)} | " + " | ".join(cells)
                           + f" | {better} | " + (f"{sh[0]:.1f} %" if sh else "") + " |")
            if (where / f"{d.name}-retest" / "calibration" / "measurements.csv").exists():
                retests.append(f"{s.name}: " + retest_line(d.name, truth, measured(where / f"{d.name}-retest"))[2:])
    return "\n".join(["# Plans (22), (24)-(29) on a second CPU (plan (30))", "", *summary, "",
                      *(["Run against retest (fastest timed runs):", ""] + [f"- {r}" for r in retests] + [""]
                        if retests else []), *parts])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("export", "predict", "score"))
    p.add_argument("--run", type=Path, default=RUN)
    p.add_argument("--only", action="append", help="export / predict: these sets alone (by name)")
    a = p.parse_args(argv)
    sets = tuple(s for s in SETS if not a.only or s.name in a.only)
    if a.step == "export":
        export(sets)
    elif a.step == "predict":
        for path in predict(a.run, sets):
            print(path)
    else:
        print(score(a.run, sets))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
