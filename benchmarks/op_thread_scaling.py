"""How each onnxruntime CPU operator type speeds up from 1 to 2 threads, from the runs' per-node profiles.

The 2-thread settings are the hardest CPU settings to predict (the quiet Xeon's 2-thread zero-shot miss is about half
an over-predicted 1 -> 2 thread speed-up, ``docs/cpu-cross-host.md``), and the 2-thread MaxViT-T miss on Zen 4 is
-8 % after its transposes are priced (``benchmarks/results/transpose_term.md``). This reads the profiles of the
runs of the same 88 configurations with 1 and 2 threads on the same CPU (``profile.csv``: one profiled run per
configuration, written by ``collect_cpu rounds``) and sums each operator type's time over the configurations both
runs hold (less those left out as subnormal hazards): its speed-up (1-thread time / 2-thread time), its share of the
2-thread time, and the configurations where it takes most. Evaluation and design input only: no model, sheet or
cost rule reads it.

    python -m benchmarks.op_thread_scaling > benchmarks/results/op_thread_scaling.md
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from benchmarks.retest_cpu import csv_rows

ROOT = Path(__file__).resolve().parents[1]
#: (1-thread run, 2-thread run) of the same configurations on the same CPU
PAIRS = (("host-xeon480-1c-unseen", "host-xeon480-2c-unseen"),
         ("host-epyc-zen4-1c-unseen", "host-epyc-zen4-2c-unseen"))
COMMAND = "python -m benchmarks.op_thread_scaling > benchmarks/results/op_thread_scaling.md"
#: an operator type below this share of both runs' time is left out of the table (summed in its last row)
MIN_SHARE = 0.001


def op_times(run: str, exclude: frozenset[str]) -> dict[str, dict[str, float]]:
    """op type -> configuration key -> seconds of ``run``'s profile (the configurations in ``exclude`` left out)."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in csv_rows(ROOT / "calibration" / run / "profile.csv"):
        if r["key"] not in exclude:
            out[r["op_type"]][r["key"]] += float(r["duration_s"])
    return out


def pair_rows(one: str, two: str, exclude: frozenset[str]) -> tuple[list[list[str]], float, float]:
    """The table rows of one pair (op type, configurations, 1-thread ms, 2-thread ms, speed-up, share of the 2-thread
    time, the configuration where it takes most at 2 threads), fastest-scaling last; and both runs' totals (s)."""
    a, b = op_times(one, exclude), op_times(two, exclude)
    keys = set().union(*(v.keys() for v in a.values())) & set().union(*(v.keys() for v in b.values()))
    ta = {op: sum(t for k, t in v.items() if k in keys) for op, v in a.items()}
    tb = {op: sum(t for k, t in v.items() if k in keys) for op, v in b.items()}
    total_a, total_b = sum(ta.values()), sum(tb.values())
    rows, rest_a, rest_b = [], 0.0, 0.0
    for op in sorted(set(ta) | set(tb), key=lambda o: (ta.get(o, 0.0) / max(tb.get(o, 0.0), 1e-12))):
        x, y = ta.get(op, 0.0), tb.get(op, 0.0)
        if x < MIN_SHARE * total_a and y < MIN_SHARE * total_b:
            rest_a, rest_b = rest_a + x, rest_b + y
            continue
        where = max(b.get(op, {}).items(), key=lambda kv: kv[1] if kv[0] in keys else -1.0, default=("", 0.0))[0]
        n = sum(1 for k in a.get(op, {}) if k in keys)
        rows.append([op, str(n), f"{x * 1e3:.1f}", f"{y * 1e3:.1f}", f"x{x / y:.2f}" if y else "unknown",
                     f"{100 * y / total_b:.1f} %", where])
    rows.append([f"the rest (each < {100 * MIN_SHARE:g} %)", "", f"{rest_a * 1e3:.1f}", f"{rest_b * 1e3:.1f}",
                 f"x{rest_a / rest_b:.2f}" if rest_b else "unknown", f"{100 * rest_b / total_b:.1f} %", ""])
    return rows, total_a, total_b


def report() -> str:
    from benchmarks.subnormal_scan import hazard_keys
    from hybridperf.report.format import table

    exclude = hazard_keys()
    lines = ["# onnxruntime CPU operators: speed-up from 1 to 2 threads, by operator type", "",
             f"Command: `{COMMAND}`", "",
             "Per-node profiles (`profile.csv`, one profiled run per configuration) of the runs of the same 88 "
             "configurations with 1 and with 2 threads on one CPU, summed by operator type over the configurations "
             f"both hold (less {len(exclude)} left out as subnormal hazards). Speed-up: 1-thread time / 2-thread "
             "time, slowest-scaling first. Profiled runs are single runs: a row's figure carries that noise.", ""]
    for one, two in PAIRS:
        rows, total_a, total_b = pair_rows(one, two, exclude)
        first = csv_rows(ROOT / "calibration" / one / "measurements.csv")[0]
        lines += [f"## `{one}` / `{two}` ({first['cpu_model']}, family {first['cpu_family']} model "
                  f"{first['cpu_model_id']})", "",
                  f"All operators: {total_a * 1e3:.0f} ms with 1 thread, {total_b * 1e3:.0f} ms with 2 "
                  f"(x{total_a / total_b:.2f}).", "", "```",
                  table(rows, ["op type", "configurations", "1 thread ms", "2 threads ms", "speed-up",
                               "share of 2-thread time", "most at 2 threads in"], "lrrrrrl"), "```", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    argparse.ArgumentParser(prog="python -m benchmarks.op_thread_scaling", description=__doc__.splitlines()[0]).parse_args(argv)
    sys.stdout.write(report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
