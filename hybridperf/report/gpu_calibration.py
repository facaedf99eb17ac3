"""Text of a GPU calibration (``hybridperf calibrate --device GPU ...``): what was stored, held-out error, per model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hybridperf.report.format import fmt_time


def gpu_calibration_text(result: Mapping[str, Any]) -> str:
    """The result dict of :func:`hybridperf.commands.calibrate_gpu.run_gpu` as text."""
    m = result["heldout_mape_pct"]
    lines = [
        f"calibrated {result['device']} ({result['runtime']}): few-shot adapted on {result['adapted_on']} measured models",
        f"stored    {result['stored']}",
        f"held-out  leave-one-out MAPE {m['adapted']:.1f} % (zero-shot from spec on the same models: {m['zero_shot']:.1f} %)",
        "",
        f"{'model':<36} {'measured':>10} {'zero-shot':>10} {'adapted':>10}",
    ]
    for r in result["per_model"]:
        lines.append(f"{r['key']:<36} {fmt_time(r['measured_s']):>10} {fmt_time(r['zero_shot_s']):>10} "
                     f"{fmt_time(r['adapted_s']):>10}")
    if result["skipped"]:
        lines.append("")
        lines.append(f"skipped   {len(result['skipped'])} row(s): " + "; ".join(
            f"{s['key']} ({s['why']})" for s in result["skipped"][:3]) + (" ..." if len(result["skipped"]) > 3 else ""))
    return "\n".join(lines)
