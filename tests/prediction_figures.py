"""Every figure of a prediction, for tests that compare a cached path with the uncached one (``==``)."""

from __future__ import annotations

import dataclasses


def figures(pred) -> dict:
    """Every figure of ``pred`` (the analysis's stage timings excluded: they are wall times)."""
    a = pred.analyzed
    return {
        "latency_s": pred.latency_s,
        "roofline_latency_s": pred.roofline_latency_s,
        "energy_j": pred.energy_j,
        "energy_note": pred.energy_note,
        "calibration": pred.calibration,
        "execution": pred.execution,
        "peak_memory_bytes": pred.peak_memory_bytes,
        "memory": pred.memory,
        "kernels": [(k.kernel, k.estimate, k.latency_s, k.calibrated) for k in pred.kernels],
        "records": a.analysis.records,
        "weight_bytes": a.analysis.weight_bytes,
        "inputs": dict(a.analysis.input_infos),
        "outputs": a.analysis.output_infos,
        "analyzed": dataclasses.replace(a, timings_s={}),
        "warnings": pred.warnings,
    }
