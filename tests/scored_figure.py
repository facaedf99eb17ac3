"""The summary row of a ``benchmarks/results/device_vs_measured_*.md`` report, recomputed from its files."""

from __future__ import annotations

import csv
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def summary_row(measured: Path, stored: Path) -> str:
    """``| n | MAPE | within ±10 % |`` of the predictions in ``stored`` against the fastest timed runs of the
    ``measured`` calibration directory (the configurations whose activations collapse to subnormals left out)."""
    from benchmarks.subnormal_scan import hazard_keys

    with (measured / "measurements.csv").open() as f:
        truth = {r["model"]: float(r["latency_min_s"]) for r in csv.DictReader(f) if r["key"] not in hazard_keys()}
    with stored.open() as f:
        pred = {r["model"]: float(r["latency_s"]) for r in csv.DictReader(f)}
    errs = [abs(pred[m] - y) / y for m, y in truth.items()]
    mape = 100 * math.fsum(errs) / len(errs)
    within = 100 * sum(e <= 0.10 for e in errs) / len(errs)
    return f"| {len(errs)} | {mape:.1f} % | {within:.0f} % |"
