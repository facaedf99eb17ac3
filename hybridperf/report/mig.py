"""Rendering of a MIG suggestion (:class:`~hybridperf.estimate.mig.MigSuggestion`): a table or JSON."""

from __future__ import annotations

import json

from hybridperf.report.format import fmt_bytes, fmt_time, table


def to_dict(s, model: str) -> dict:
    chosen = s.chosen
    return {
        "model": model,
        "device": s.device,
        "peak_memory_bytes": s.peak_memory_bytes,
        "headroom_bytes": s.headroom_bytes,
        "max_latency_s": s.max_latency_s,
        "suggested": chosen.profile.name if chosen else None,
        "profiles": [
            {
                "name": o.profile.name,
                "compute_fraction": o.compute_fraction,
                "memory_fraction": o.memory_fraction,
                "memory_bytes": o.profile.memory_bytes,
                "required_bytes": o.required_bytes,
                "fits_memory": o.fits_memory,
                "latency_s": o.latency_s,
                "meets_latency": o.meets_latency,
                "suitable": o.suitable,
            }
            for o in s.options
        ],
    }


def to_json(s, model: str) -> str:
    return json.dumps(to_dict(s, model), indent=2)


def to_table(s, model: str) -> str:
    def yn(v):
        return "-" if v is None else ("yes" if v else "no")

    rows = [
        [
            o.profile.name,
            f"{o.profile.compute_slices}/{o.profile.total_slices}",
            f"{o.memory_fraction:.3f}",
            fmt_bytes(o.profile.memory_bytes),
            yn(o.fits_memory),
            fmt_time(o.latency_s),
            yn(o.meets_latency),
            "<- suggested" if o is s.chosen else "",
        ]
        for o in s.options
    ]
    budget = f", latency budget {fmt_time(s.max_latency_s)}" if s.max_latency_s is not None else ""
    head = (
        f"model {model} on {s.device}: needs {fmt_bytes(s.peak_memory_bytes + s.headroom_bytes)} = peak "
        f"{fmt_bytes(s.peak_memory_bytes)} + headroom {fmt_bytes(s.headroom_bytes)}{budget}\n"
        "latency = sum over kernels of max(compute / compute share, memory / bandwidth share) + launch overhead\n"
    )
    body = table(
        rows,
        ["profile", "compute", "bw share", "memory", "fits", "latency", "meets budget", ""],
        "lrrrlrll",
    )
    if s.chosen is not None:
        tail = f"suggested: {s.chosen.profile.name} (smallest profile that fits{' and meets the budget' if budget else ''})"
    else:
        full = s.options[-1] if s.options else None
        if full is not None and not full.fits_memory:
            tail = (
                f"no profile fits: even {full.profile.name} holds {fmt_bytes(full.profile.memory_bytes)} < "
                f"{fmt_bytes(full.required_bytes)} needed; reduce the batch or the --headroom"
            )
        elif full is not None:
            tail = (
                f"no profile meets the latency budget: even {full.profile.name} (the whole GPU) is predicted at "
                f"{fmt_time(full.latency_s)} > {fmt_time(s.max_latency_s)}; relax the budget or reduce the batch"
            )
        else:
            tail = "no profile fits: reduce the batch or memory, or relax the budget"
    return head + body + "\n" + tail
