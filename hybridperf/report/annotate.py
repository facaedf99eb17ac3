"""Relax module text with each binding's cost appended as a comment."""

from __future__ import annotations

import re
from typing import Any

from hybridperf.costs import Status
from hybridperf.estimate.pricing import Prediction, priced_cost
from hybridperf.report.format import fmt_bound, fmt_bytes, fmt_count, fmt_flops, fmt_time

#: the line TVM's printer ends a module with when it leaves the constants out (``show_meta=False``)
TVM_METADATA_OMITTED = "# Metadata omitted. Use show_meta=True in script() method to show it."
#: what ``hybridperf annotate`` says there instead
METADATA_OMITTED = ("# constants omitted (metadata[...]): `hybridperf annotate --show-meta` prints them, and the text "
                    "then parses with tvm.script.from_source")


def binding_comments(pred: Prediction) -> dict[str, str]:
    """Comment text per bound variable name of ``main``.

    Each op shows its own FLOPs and traffic (priced at the precision override, as the report's totals are). A kernel's
    time is shown once, on its first op that has a cost; its other ops name the kernel (``in kernel NAME``), so that
    the times shown add up to the header's total."""
    a = pred.analyzed.analysis
    timed: dict[int, str] = {}  # op index -> the kernel's time text, on one op per kernel
    member: dict[int, str] = {}  # op index -> kernel name, for the kernel's other ops
    for kp in pred.kernels:
        members = kp.kernel.op_indices
        if not members:
            continue
        anchor = next((i for i in members if a.records[i].status.counts_toward_time), members[0])
        n = len(members)
        timed[anchor] = f"kernel {kp.kernel.name} ({n} ops) {fmt_time(kp.latency_s)}" if n > 1 else fmt_time(kp.latency_s)
        for i in members:
            if i != anchor:
                member[i] = f"in kernel {kp.kernel.name}"
    out = {}
    for r in a.records:
        if r.status is Status.ZERO_COST:
            out[r.var] = f"# zero-cost: {r.note}"
            continue
        if r.status in (Status.UNSUPPORTED, Status.SYMBOLIC):
            out[r.var] = f"# {r.status.value.upper()}: {r.note}"
            continue
        cost = priced_cost(r.cost, r.precision, pred.precision)[0]
        kern = timed.get(r.index) or member.get(r.index, "not timed")
        est = " (TIR estimate)" if r.status is Status.ESTIMATED else ""
        out[r.var] = (
            f"# {fmt_count(cost.flops)}FLOP{est}, read {fmt_bytes(cost.bytes_read)}, "
            f"write {fmt_bytes(cost.bytes_written)}, {kern}"
        )
    return out


def annotate_text(pred: Prediction, module: Any, show_meta: bool = False) -> str:
    """``main`` of ``module`` (the Relax module ``pred`` was analysed from) printed as TVMScript,
    each binding line followed by its cost. ``show_meta``: print the constants too (large: every weight), so
    that the text parses back with ``tvm.script.from_source``."""
    text = module["main"].script(show_meta=show_meta)
    comments = binding_comments(pred)
    lines = []
    pat = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[:=]")
    for line in text.splitlines():
        m = pat.match(line)
        if m and m.group(1) in comments:
            lines.append(f"{line}  {comments[m.group(1)]}")
        elif line.strip() == TVM_METADATA_OMITTED:
            lines.append(METADATA_OMITTED)
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
