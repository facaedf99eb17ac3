"""Relax module text with each binding's cost appended as a comment."""

from __future__ import annotations

import re
from typing import Any

from hybridperf.costs import Status
from hybridperf.estimate.pricing import Prediction
from hybridperf.report.format import fmt_bound, fmt_bytes, fmt_count, fmt_flops, fmt_time


def binding_comments(pred: Prediction) -> dict[str, str]:
    """Comment text per bound variable name of ``main``."""
    a = pred.analyzed.analysis
    op_latency: dict[int, tuple[float, str, int]] = {}
    for kp in pred.kernels:
        members = kp.kernel.op_indices
        for i in members:
            op_latency[i] = (kp.latency_s, kp.kernel.name, len(members))
    out = {}
    for r in a.records:
        if r.status is Status.ZERO_COST:
            out[r.var] = f"# zero-cost: {r.note}"
            continue
        if r.status in (Status.UNSUPPORTED, Status.SYMBOLIC):
            out[r.var] = f"# {r.status.value.upper()}: {r.note}"
            continue
        lat, kname, n = op_latency.get(r.index, (0.0, "", 1))
        kern = f"kernel {kname} ({n} ops) {fmt_time(lat)}" if n > 1 else f"{fmt_time(lat)}"
        est = " (TIR estimate)" if r.status is Status.ESTIMATED else ""
        out[r.var] = (
            f"# {fmt_count(r.cost.flops)}FLOP{est}, read {fmt_bytes(r.cost.bytes_read)}, "
            f"write {fmt_bytes(r.cost.bytes_written)}, {kern}"
        )
    return out


def annotate_text(pred: Prediction, module: Any) -> str:
    """``main`` of ``module`` (the Relax module ``pred`` was analysed from) printed as TVMScript,
    each binding line followed by its cost."""
    text = module["main"].script(show_meta=False)
    comments = binding_comments(pred)
    lines = []
    pat = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[:=]")
    for line in text.splitlines():
        m = pat.match(line)
        if m and m.group(1) in comments:
            lines.append(f"{line}  {comments[m.group(1)]}")
        else:
            lines.append(line)
    return header_line(pred) + "\n" + "\n".join(lines)


def header_line(pred: Prediction) -> str:
    """The ``# hybridperf:`` line: total latency, peak memory and FLOPs; with uncosted ops the latency and
    FLOPs are lower bounds (``≥``), or ``unknown`` when nothing was priced, and the ops are named."""
    lower = pred.lower_bound_reason
    lb = bool(lower)
    mem_ge = "≥ " if pred.analyzed.memory_is_lower_bound else ""
    memory = mem_ge + fmt_bytes(pred.memory.peak_bytes) if pred.memory.known else "unknown"
    flops = "FLOP unknown" if lb and not pred.flops else fmt_bound(pred.flops, fmt_flops, lb)
    return (
        f"# hybridperf: {pred.spec.id}: latency {fmt_bound(pred.latency_s, fmt_time, lb)}"
        + (f" ({lower})" if lower else "")
        + f" [{pred.calibration}], TVM plan peak memory {memory}, {flops}"
    )
