"""Rendering of a MIG suggestion (:class:`~hybridperf.estimate.mig.MigSuggestion`): a table or JSON.

A model with uncosted ops has only lower bounds for its profile latencies (``≥``), or none at all when nothing
was priced (``unknown``); a memory plan can be a lower bound too. A suggestion resting on such a figure is withheld
(``undecided``) unless ``--allow-unsupported`` accepts the bound: :func:`hybridperf.estimate.mig.caveats`.
"""

from __future__ import annotations

from hybridperf.estimate.mig import EXACT, Caveats, latency_unknown
from hybridperf.report.format import fmt_bound, fmt_bytes, fmt_percent, fmt_time, table
from hybridperf.json_text import dumps


def suggested(s, c: Caveats = EXACT):
    """The suggested option, or None (none suitable, or the choice is undecided)."""
    return None if c.undecided else s.chosen


def to_dict(s, model: str, c: Caveats = EXACT) -> dict:
    chosen, unknown = suggested(s, c), latency_unknown(s, c)
    return {
        "model": model,
        "device": s.device,
        "peak_memory_bytes": s.peak_memory_bytes,
        "memory_figure": s.memory_figure or None,
        "headroom_bytes": s.headroom_bytes,
        "max_latency_s": s.max_latency_s,
        "suggested": chosen.profile.name if chosen else None,
        "lower_bound": bool(c.lower_bound),
        "lower_bound_reason": c.lower_bound or None,
        "memory_lower_bound": c.memory_lower_bound,
        # latency_s of every profile is unknown (nothing priced): null
        "unknown_fields": (["latency_s"] if unknown else []) + (["fits_memory"] if c.memory_estimate else []),
        # why latency_s is null though every op has a cost (predict's totals.unpriced_reason)
        "unpriced_reason": c.unpriced or None,
        "memory_estimate": c.memory_estimate,
        "undecided": c.undecided or None,
        "latency_note": c.latency_note or None,
        "latency_source": s.latency_source or None,
        "profiles": [
            {
                "name": o.profile.name,
                "compute_fraction": o.compute_fraction,
                "sm_count": o.profile.sm_count,
                "memory_fraction": o.memory_fraction,
                "memory_bytes": int(o.profile.memory_bytes),
                "required_bytes": o.required_bytes,
                "fits_memory": o.fits_memory,
                "latency_s": o.latency_s,
                "meets_latency": None if unknown else o.meets_latency,
                "suitable": o.suitable,
            }
            for o in s.options
        ],
    }


def to_json(s, model: str, c: Caveats = EXACT) -> str:
    return dumps(to_dict(s, model, c))  # a NaN raises: JSON has none


def _yes_no(v: bool | None, lower: bool) -> str:
    """``yes``/``no``/``-``; a ``yes`` judged on a lower bound says so (a ``no`` on a lower bound is definite)."""
    if v is None:
        return "-"
    return ("yes (lower bound)" if lower else "yes") if v else "no"


def _tie(latency_s: float | None, budget_s: float | None) -> str:
    """`` (+<1%)`` where a latency over the budget prints as the budget (``2.535 ms`` against ``2.535 ms``), as
    check's ``OVER (+<1%)``; else "". Until 2026-12-04 the row read ``2.535 ms ... no`` beside a budget of 2.535 ms."""
    if latency_s is None or budget_s is None or latency_s <= budget_s or fmt_time(latency_s) != fmt_time(budget_s):
        return ""
    return f" (+{fmt_percent(latency_s / budget_s - 1, 0)})"


def to_table(s, model: str, c: Caveats = EXACT) -> str:
    lower, unknown = bool(c.lower_bound), latency_unknown(s, c)
    chosen = suggested(s, c)
    rows = [
        [
            o.profile.name,
            # the SMs the profile gets of the GPU's where the sheet lists them (the share priced), else its slices
            (f"{o.profile.sm_count}/{s.gpu_sm_count}" if o.profile.sm_count is not None and s.gpu_sm_count else
             f"{o.profile.compute_slices}/{o.profile.total_slices}"),
            f"{o.memory_fraction:.3f}",
            fmt_bytes(o.profile.memory_bytes),
            "unknown" if c.memory_estimate else _yes_no(o.fits_memory, c.memory_lower_bound),
            fmt_bound(o.latency_s, fmt_time, lower),  # None: unknown
            "unknown" if unknown and o.meets_latency is not None else
            _yes_no(o.meets_latency, lower) + _tie(o.latency_s, s.max_latency_s),
            "<- suggested" if o is chosen else "",
        ]
        for o in s.options
    ]
    budget = f", latency budget {fmt_time(s.max_latency_s)}" if s.max_latency_s is not None else ""
    ge = "≈ " if c.memory_estimate else "≥ " if c.memory_lower_bound else ""
    # which peak: the figure predict's headline shows and check --max-memory judges (e.g. "torch peak")
    head = (
        f"model {model} on {s.device}: needs {ge}{fmt_bytes(s.peak_memory_bytes + s.headroom_bytes)} = "
        f"{s.memory_figure or 'peak'} {ge}{fmt_bytes(s.peak_memory_bytes)} + headroom {fmt_bytes(s.headroom_bytes)}"
        f"{budget}\n"
        "latency = the prediction's host time and its kernels' device time, each kernel slowed by its roofline "
        "slowdown on the slice (max(compute / compute share, memory / bandwidth share)), combined as predict "
        "combines them; compute = the SMs a profile gets of the GPU's (nvidia-smi mig -lgip) where the sheet lists "
        "them, else its compute slices\n"
    )
    body = table(
        rows,
        ["profile", "compute", "bw share", "memory", "fits", "latency", "meets budget", "choice"],
        "lrrrlrll",
    )
    ops = c.lower_bound.removeprefix("lower bound: ")
    note = f"\n{'latency unknown (nothing priced)' if unknown else 'latencies are lower bounds'}: {ops}" if lower else ""
    if c.unpriced:  # every op has a cost, yet no kernel launched: the runtime's call is not modelled
        note += f"\nlatency unknown: {c.unpriced}"
    if c.latency_note and not unknown:  # judged all the same, as check's "ok (unverified)"
        note += f"\nlatency {c.latency_note}"
    if s.latency_source and not unknown:  # what priced the whole-GPU latency (until 2026-12-04 not shown)
        note = f"\nlatency from: {s.latency_source}" + note
    return head + body + note + "\n" + _tail(s, c, budget, unknown)


def _tail(s, c: Caveats, budget: str, unknown: bool) -> str:
    """The last line: the suggestion and what it rests on, why none is made, or why none fits."""
    if c.undecided:
        return f"no suggestion: {c.undecided}"
    if s.chosen is not None:
        judged = " and meets the budget" if budget else ""
        if c.lower_bound and budget:
            judged = " and whose latency lower bound meets the budget"
        if c.memory_lower_bound:
            judged = " on its memory lower bound" + judged
        if (c.lower_bound or c.unpriced) and not budget:
            judged += f"; latency {'unknown' if unknown else 'only a lower bound'}, not judged"
        return f"suggested: {s.chosen.profile.name} (smallest profile that fits{judged})"
    full = s.options[-1] if s.options else None
    if full is not None and not full.fits_memory:
        return _no_fit(s, full, c.memory_lower_bound)
    if full is not None:
        ge = "≥ " if c.lower_bound else ""
        # "(the whole GPU)" until 2026-12-04 also where the largest profile runs fewer SMs (A100 7g: 98 of 108)
        share = ("the whole GPU" if full.compute_fraction >= 1 or not s.gpu_sm_count else
                 f"{full.profile.sm_count} of {s.gpu_sm_count} SMs; the GPU without MIG may do better")
        return (
            f"no profile meets the latency budget: even {full.profile.name} ({share}) is predicted at "
            f"{ge}{fmt_time(full.latency_s)} > {fmt_time(s.max_latency_s)}{_tie(full.latency_s, s.max_latency_s)}; "
            "relax the budget or reduce the batch"
        )
    return "no profile fits: reduce the batch or memory, or relax the budget"


def _no_fit(s, full, lower: bool) -> str:
    """Why not even the largest profile ``full`` holds the model: what it holds, what is needed and by how much it
    falls short, and what would help: the --headroom only where the peak alone fits. Until 2026-12-04 the line read
    ``holds 74.51 GiB < 74.51 GiB needed`` (9.13 MiB short, both rounded alike) and told a model whose peak alone is
    over the profile (even at ``--headroom 0``) to "reduce the batch or the --headroom"."""
    held = int(full.profile.memory_bytes)
    at_least = "at least " if lower else ""
    line = (f"no profile fits: even {full.profile.name} holds {fmt_bytes(held)} < {at_least}"
            f"{fmt_bytes(full.required_bytes)} needed ({at_least}{fmt_bytes(full.required_bytes - held)} short)")
    if s.peak_memory_bytes > held:
        return (f"{line}, and the {s.memory_figure or 'peak'} alone is {at_least}{fmt_bytes(s.peak_memory_bytes)}; "
                "reduce the batch or the precision")
    return f"{line}; reduce the batch or the --headroom"
