"""Text of a GPU calibration (``hybridperf calibrate --device GPU ...``): what was stored, held-out error, per model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hybridperf.report.format import fmt_time

#: skipped rows named in the text (``--format json`` lists all)
SKIPPED_SHOWN = 3


def gpu_calibration_text(result: Mapping[str, Any]) -> str:
    """The result dict of :func:`hybridperf.commands.calibrate_gpu.run_gpu` as text."""
    m = result["heldout_mape_pct"]
    n = result["adapted_on"]
    if result.get("corrected", True):
        head = f"few-shot adapted on {n} measured models"
    else:
        head = (f"no correction kept from {n} measured models (a CUDA-graph correction takes 4 or more and must "
                "lower the leave-one-out error): predict uses the unadapted model")
    lines = [
        f"calibrated {result['device']} ({result['runtime']}): {head}",
        f"stored    {result['stored']}" + _replaced(result.get("replaced")),
        f"held-out  leave-one-out MAPE {m['adapted']:.1f} % (the unadapted model on the same models: {m['zero_shot']:.1f} %)",
        "",
        f"{'model':<36} {'measured':>10} {'unadapted':>10} {'adapted':>10}",
    ]
    for r in result["per_model"]:
        lines.append(f"{r['key']:<36} {fmt_time(r['measured_s']):>10} {fmt_time(r['zero_shot_s']):>10} "
                     f"{fmt_time(r['adapted_s']):>10}")
    skipped = result["skipped"]
    if skipped:
        more = len(skipped) - SKIPPED_SHOWN
        lines.append("")
        lines.append(f"skipped   {len(skipped)} row(s): " + "; ".join(f"{s['key']} ({s['why']})" for s in skipped[:SKIPPED_SHOWN])
                     + (f"; ... {more} more (--format json lists all)" if more > 0 else ""))
    return "\n".join(lines)


def _replaced(before: Mapping[str, Any] | None) -> str:
    """`` (replaced the adaptation on 5 models saved 2026-12-03T14:06:52+00:00)``, or nothing."""
    if before is None:
        return ""
    if before.get("adapted_on") is None:
        return " (replaced an unreadable file)"
    return f" (replaced the adaptation on {before['adapted_on']} models saved {before.get('saved_on') or 'unknown'})"
