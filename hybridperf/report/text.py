"""A prediction's views: the versioned JSON report and the plain-text summary and kernel table.

Numbers become text through :mod:`hybridperf.report.format` (units and the table renderer).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hybridperf import json_text
from hybridperf._version import __version__
from hybridperf.costs import OpCost, Status
from hybridperf.estimate.pricing import Prediction, priced_cost
from hybridperf.estimate.runtime_memory import peak_kind
from hybridperf.precision import storage_bytes
from hybridperf.report.format import (fmt_bound, fmt_bytes, fmt_count, fmt_energy, fmt_flops, fmt_peak, fmt_percent,
                                      fmt_time, table)
from hybridperf.units import inputs_text, plural, whole_bytes

REPORT_SCHEMA_VERSION = 1

#: the statuses of an op or kernel that has no cost: its figures are unknown (JSON ``null``, ``unknown`` in tables), never 0
UNCOSTED = (Status.UNSUPPORTED, Status.SYMBOLIC)

#: the ``totals`` that are lower bounds when some op has no cost (``totals.lower_bound``); one of them that is
#: 0 then is unknown (nothing was priced): ``null``, and listed in ``totals.unknown_fields`` (:func:`mark_unknown`)
LOWER_BOUND_TOTALS = ("latency_s", "roofline_latency_s", "energy_j", "flops", "bytes_read", "bytes_written")


def coverage_dict(pred: Prediction) -> dict[str, Any]:
    a = pred.analyzed.analysis
    return {
        "ops": len(a.records),
        "by_status": {s.value: n for s, n in a.by_status().items()},
        "covered_share": a.coverage,
        "unsupported_ops": a.unsupported_ops,
        "uncosted_ops": pred.uncosted_ops,
    }


def precision_dict(pred: Prediction) -> dict[str, Any]:
    """The precision policy a prediction was priced under (``precision_override`` None: the model's own)."""
    p = pred.precision
    compute = sorted({kp.estimate.precision for kp in pred.kernels if kp.kernel.counts_toward_time})
    return {
        "override": p,
        "float32_storage_bytes": storage_bytes(p) if p else 4,
        "compute_precisions": compute,
    }


def _precision_text(pred: Prediction) -> str:
    p = pred.precision
    if not p:
        return ""
    text = f"  precision {p} (float32 ops at {p}, float32 tensors stored in {storage_bytes(p)} B"
    fallback = sorted(
        {kp.estimate.precision for kp in pred.kernels if kp.kernel.counts_toward_time and kp.kernel.precision == "fp32"} - {p}
    )
    if fallback:
        text += f"; {pred.spec.id} has no {p} peak: compute priced at {', '.join(fallback)}"
    return text + ")"


def plan_label(m: Any) -> str:
    """What a memory plan's activations are: ``TVM plan`` (TVM's StaticPlanBlockMemory on the module as imported), or
    for a quantized model ``TVM policy, int8 execution`` (the same policy on the execution the latency prices:
    :attr:`hybridperf.analysis.memory.MemoryPlan.execution`)."""
    return f"TVM policy, {m.execution} execution" if m.execution else "TVM plan"


def imported_plan_text(m: Any) -> str:
    """The line naming TVM's own plan of the module as imported where the headline plans another execution (an int8
    model: every dequantize a float32 tensor there); "" where the headline is that plan."""
    ai = m.as_imported
    if ai is None or not ai.known:
        return ""
    return (f"TVM's plan of the module as imported (dequantized to float32): peak {fmt_bytes(ai.peak_bytes)} = "
            f"activations {fmt_bytes(ai.planned_bytes)} + weights {fmt_bytes(ai.weight_bytes)} + inputs "
            f"{fmt_bytes(ai.input_bytes)}")


def memory_text(pred: Prediction) -> str:
    """The ``memory`` line(s) of the table: the chosen runtime's peak and its parts (``--runtime``), then
    the TVM plan's peak with the live-set lower bound and the no-reuse total; or why a figure is unknown."""
    m = pred.memory
    if not m.known:
        tvm = (
            f"peak unknown (no memory plan: {m.unknown_reason}); known parts: weights {fmt_bytes(m.weight_bytes)} "
            f"+ inputs {fmt_bytes(m.input_bytes)}"
        )
    else:
        ge = "≥ " if pred.analyzed.memory_is_lower_bound else ""
        tvm = (
            f"peak {ge}{fmt_bytes(m.peak_bytes)} = activations {fmt_bytes(m.planned_bytes)} ({plan_label(m)}; live-set bound "
            f"{fmt_bytes(m.live_peak_bytes)}, no reuse {fmt_bytes(m.no_reuse_bytes)}) + weights {fmt_bytes(m.weight_bytes)} "
            f"+ inputs {fmt_bytes(m.input_bytes)}"
        )
        if ge and m.lower_bound_reason:  # which outputs the plan leaves out
            tvm += f" ({m.lower_bound_reason})"
        if imported_plan_text(m):
            tvm += f"\n{'':10}{imported_plan_text(m)}"
    rt = pred.runtime_memory
    if rt is not None:
        kind = peak_kind(pred)
        why = f" (estimate: {rt.unsized_reason})" if kind == "estimate" else ""  # a guess: check cannot judge it
        return (f"peak {fmt_peak(rt.peak_bytes, kind)} on {rt.runtime}{why} = {runtime_parts_text(pred)}\n{'':10}"
                f"TVM plan: {tvm}")
    if pred.runtime is not None and pred.runtime_memory_note:
        return f"{tvm} ({pred.runtime}'s peak not modelled: {pred.runtime_memory_note})"
    return tvm


def runtime_parts_text(pred: Prediction) -> str:
    """The parts of the chosen runtime's peak (``planned activations 36.03 KiB + outputs 10 B + inputs 3.00 KiB``),
    and for an arena runtime (tflm) what the peak holds and where the weights are; ``""`` without a runtime peak.
    The text report's ``memory`` line and the HTML report's memory card both say it."""
    rt = pred.runtime_memory
    if rt is None:
        return ""
    parts = " + ".join(f"{name.replace('_', ' ')} {fmt_bytes(b)}" for name, b in rt.parts if b)
    if rt.flash_bytes is not None:
        parts += (f" (tensor arena in SRAM, no kernel workspace); weights {fmt_bytes(rt.flash_bytes)} in flash, "
                  "not in the peak")
    return parts


def runtime_memory_dict(pred: Prediction) -> dict[str, Any] | None:
    """The chosen runtime's peak and its parts (``--runtime``); None when no runtime was chosen."""
    if pred.runtime is None:
        return None
    rt = pred.runtime_memory
    if rt is None:
        return {"runtime": pred.runtime, "applied": False, "peak_bytes": None, "reason": pred.runtime_memory_note}
    # the table's marks (peak_kind): an estimate (a node sized by a guess) is neither exact nor a bound; a peak built
    # on a plan with uncosted (unsized) ops is a lower bound (the block had neither until 2026-12-03: a NonZero model's
    # tvm peak read as exact in JSON while the table printed it with >=)
    kind = peak_kind(pred)
    return {**rt.to_dict(), "applied": True, "lower_bound": kind == "lower_bound", "estimate": kind == "estimate"}


def to_dict(pred: Prediction) -> dict[str, Any]:
    """The JSON report (schema ``REPORT_SCHEMA_VERSION``)."""
    an = pred.analyzed
    records = an.analysis.records
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "hybridperf_version": __version__,
        "model": an.source,
        "input_shapes": {k: list(v) for k, v in an.input_shapes.items()},
        "device": {"id": pred.spec.id, "name": pred.spec.name, "kind": pred.spec.kind},
        "precision_override": pred.precision,
        "precision": precision_dict(pred),
        "calibration": pred.calibration,
        # where the user's own model that priced it is stored (what the calibration note names); null: a packaged
        # model, or none. Until 2026-12-04 a calibrated model read as the packaged one
        "calibration_stored_in": pred.calibration_stored_in,
        "execution": pred.execution.to_dict() if pred.execution is not None else None,
        "warnings": list(pred.warnings),
        "totals": _totals_dict(pred),
        "memory": _memory_dict(pred),
        "runtime_memory": runtime_memory_dict(pred),
        "coverage": coverage_dict(pred),
        "fusion_note": an.fusion_note,
        "kernels": _kernel_dicts(pred),
        "ops": [_op_dict(r, pred.precision) for r in records],
        "timings_s": dict(an.timings_s),
    }


def _totals_dict(pred: Prediction) -> dict[str, Any]:
    """The report's ``totals``: latency, energy, summed op cost and the timed kernel count."""
    an = pred.analyzed
    total = sum((priced_cost(r.cost, r.precision, pred.precision)[0] for r in an.analysis.records), OpCost())
    totals = {
        "latency_s": pred.latency_s,
        "roofline_latency_s": pred.roofline_latency_s,
        "energy_j": pred.energy_j,
        "energy_note": pred.energy_note or None,
        # what qualifies latency_s ("unverified: <why>"): until 2026-12-04 only inside the calibration text
        "latency_note": pred.latency_note or None,
        # the work of the nodes the ONNX normaliser folded into constants (masks, rotary tables): {nodes, elements,
        # bytes_read, bytes_written}; null: not an ONNX model (unknown). In the figures of a runtime that runs them
        # (torch, torch-cudagraph: one launch each, since 2026-12-05), in none of one that folds them. Until
        # 2026-12-04 nowhere (the normaliser's folds only: from a file path it leaves initializers over 64 KiB on
        # disk, unfolded)
        "folded_constants": an.folded.to_dict() if an.folded is not None else None,
        # under a runtime that runs them every call (torch, torch-cudagraph), the sentence the table's note line
        # gives ("... priced as 9 launches under torch ..."); null elsewhere. Until 2026-12-04 a reason of
        # latency_note, which marks the latency unverified
        "folded_note": pred.folded_note or None,
        "lower_bound": not pred.complete,
        "lower_bound_reason": pred.lower_bound_reason or None,
        # latency_s and energy_j are lower bounds: some op has no cost (lower_bound) or a term of a CPU sheet's probed
        # figures is not priced (its field in unknown_fields, latency_lower_bound_reason says which); since
        # 2026-12-07 08:30 UTC, when check already judged such a latency a lower bound and only a warning said so here
        "latency_lower_bound": pred.latency_lower_bound,
        "latency_lower_bound_reason": pred.latency_lower_bound_reason,
        # why latency_s and energy_j are null for a model whose every op has a cost: none launches a kernel and the
        # runtime's per-call overhead is not modelled (Prediction.unpriced_reason); until 2026-12-05 they were 0.0
        "unpriced_reason": pred.unpriced_reason or None,
        # where latency_s and energy_j of such a model come from on a sheet that gives its runtime's per-call
        # overhead (Prediction.call_overhead_note: that overhead, its time x idle power); null elsewhere
        "call_overhead_note": pred.call_overhead_note or None,
        # the assists of the float32 subnormals the model makes itself (a mask of about -100 before a softmax), in
        # latency_s: 0.0 where it makes none, null where it makes some and they are not priced (a warning says why);
        # since 2026-12-06 (until then in no figure)
        "subnormal_assist_s": pred.subnormal_assist_s,
        "subnormal_note": pred.subnormal_note or None,
        # the extra time of transposes that move the innermost axis other than as a 2-D transpose, in latency_s: 0.0
        # where the model has none, null where it has some and they are not priced (a warning says why); since
        # 2026-12-06 22:16 UTC (until then priced as any copy)
        "innermost_transpose_s": pred.innermost_transpose_s,
        "innermost_transpose_note": pred.innermost_transpose_note or None,
        # the extra time of element-wise math onnxruntime evaluates one element at a time (sin, cos, tan, log), in
        # latency_s: 0.0 where the model has none, null where it has some and they are not priced (a warning says
        # why); since 2026-12-07 (until then priced as one FLOP per element)
        "elementwise_math_s": pred.elementwise_math_s,
        "elementwise_math_note": pred.elementwise_math_note or None,
        # what pricing depthwise 1-D convolutions at the sheet's probed figures added over their kernels' roofline, in
        # latency_s (negative where faster): 0.0 where the model has none, null where it has some and they are not
        # priced so (a warning says why); since 2026-12-07 (until then the learned model priced them as 2-D ones)
        "depthwise_conv1d_s": pred.depthwise_conv1d_s,
        "depthwise_conv1d_note": pred.depthwise_conv1d_note or None,
        # the extra time of gathers that copy many short blocks (onnxruntime copies one block at a time), in
        # latency_s: 0.0 where the model has none, null where it has some and they are not priced (a warning says
        # why); since 2026-12-07 (until then priced as a copy of their bytes)
        "short_gather_s": pred.short_gather_s,
        "short_gather_note": pred.short_gather_note or None,
        # the extra time of element-wise ops that broadcast over many short spans (onnxruntime runs one span at a
        # time), in latency_s: 0.0 where the model has none, null where it has some and they are not priced (a warning
        # says why); since 2026-12-07 (until then priced as element-wise work of their bytes)
        "short_broadcast_s": pred.short_broadcast_s,
        "short_broadcast_note": pred.short_broadcast_note or None,
        "flops": total.flops,
        "bytes_read": total.bytes_read,
        "bytes_written": total.bytes_written,
        "weight_bytes": pred.memory.weight_bytes,
        "kernels": timed_kernel_count(pred),
    }
    totals = mark_unknown(totals, bool(totals["lower_bound"]), unknown=pred.unknown_figures)
    # a term of probed figures counted and not priced: unknown, a warning says why (and check judges the latency a
    # lower bound since 2026-12-07)
    totals["unknown_fields"].extend(pred.unpriced_terms)
    return totals


def timed_kernel_count(pred: Prediction) -> int:
    """The kernels that take time in ``pred``: those of the runtime it was priced for (one per op for eager torch,
    TVM's fused kernels else), the count the kernel table and ``kernels[]`` list."""
    return sum(1 for kp in pred.kernels if kp.kernel.counts_toward_time)


def share_text(part: float | None, total: float | None) -> str:
    """``part`` as a share of ``total`` to one decimal (``1.6%``; :func:`~hybridperf.report.format.fmt_percent`: a
    nonzero part that rounds to 0.0 % reads ``<0.1%``); ``-`` without a total."""
    return "-" if part is None or not total else fmt_percent(part / total)


def coverage_text(share: float) -> str:
    """The share of ops costed, floored to one decimal, so that ``100.0%`` means every op: one NonZero among 2001
    ops read ``100.0%`` beside ``unsupported 1`` until 2026-12-03 (now ``99.9%``)."""
    return f"{math.floor(share * 1000 + 1e-9) / 10:.1f}%"  # + 1e-9: 57 / 100 * 1000 is 569.99...


def clip(text: str, width: int, mark: str = "...") -> str:
    """``text`` cut to ``width`` characters, ending in ``mark`` when it was cut (a kernel of 12 fused ops read as
    its first 9 until 2026-12-03, nothing saying the list went on)."""
    return text if len(text) <= width else text[: width - len(mark)] + mark


def uncosted_rows(pred: Prediction) -> bool:
    """Whether ``pred``'s kernels include rows for its uncosted ops (every runtime's kernel list has one per TVM
    kernel of uncosted ops)."""
    return any(kp.kernel.status in UNCOSTED for kp in pred.kernels)


def mark_unknown(figures: dict[str, Any], lower_bound: bool,
                 keys: Sequence[str] = LOWER_BOUND_TOTALS, unknown: Sequence[str] = ()) -> dict[str, Any]:
    """``figures`` with ``unknown_fields`` set to those of its ``keys`` that are a lower bound of 0 (unknown: nothing
    was priced) or named in ``unknown`` (:attr:`~hybridperf.estimate.pricing.Prediction.unknown_figures`: also the
    latency and energy of a model that launches no kernel), and each of them set to None: an unknown is null, never 0
    (until 2026-12-04 predict's ``totals`` and predict-many's rows wrote a lower bound of 0 as ``0``, named only in
    ``unknown_fields``). Returns ``figures``, changed in place (``totals.unknown_fields``, predict-many's rows)."""
    figures["unknown_fields"] = [k for k in keys if (lower_bound and not figures[k]) or k in unknown]
    figures.update(dict.fromkeys(figures["unknown_fields"]))
    return figures


def _memory_dict(pred: Prediction) -> dict[str, Any]:
    """The report's ``memory``: the static (TVM-policy) memory plan."""
    an = pred.analyzed
    m = pred.memory
    fused = "fused (FuseOps+FuseTIR)" if an.fused and not an.fusion_note else "unfused"
    return {
        "known": m.known,
        "unknown_reason": m.unknown_reason or None,
        "lower_bound": an.memory_is_lower_bound,
        # which ops' outputs the plan leaves out (NonZero: "size unknown"); None when it is not a lower bound
        "lower_bound_reason": (m.lower_bound_reason or None) if an.memory_is_lower_bound else None,
        "device_capacity_bytes": whole_bytes(pred.spec.dram.capacity_bytes),
        "peak_bytes": m.peak_bytes,
        "planned_activation_bytes": m.planned_bytes,
        "live_set_lower_bound_bytes": m.live_peak_bytes,
        "no_reuse_activation_bytes": m.no_reuse_bytes,
        "weight_bytes": m.weight_bytes,
        "input_bytes": m.input_bytes,
        "planner": "TVM StaticPlanBlockMemory policy, " + (f"on the {m.execution} execution (dequantize / quantize "
                                                             "folded), " if m.execution else "") + fused,
        # the execution the figures above plan where it is not the module as imported ("int8"), and TVM's own plan
        # of that module (None where the figures above are it)
        "execution": m.execution or None,
        "tvm_module_plan": None if m.as_imported is None or not m.as_imported.known else {
            "peak_bytes": m.as_imported.peak_bytes,
            "planned_activation_bytes": m.as_imported.planned_bytes,
            "live_set_lower_bound_bytes": m.as_imported.live_peak_bytes,
            "no_reuse_activation_bytes": m.as_imported.no_reuse_bytes,
        },
    }


def _kernel_dicts(pred: Prediction) -> list[dict[str, Any]]:
    """The report's ``kernels``: one record per kernel in execution order, costs priced at its precision."""
    records = pred.analyzed.analysis.records
    priced = [priced_cost(kp.kernel.cost, kp.kernel.precision, pred.precision) for kp in pred.kernels]
    out = []
    for kp, (cost, prec) in zip(pred.kernels, priced):
        known = kp.kernel.status not in UNCOSTED
        out.append({
            "name": kp.kernel.name,
            "ops": [records[i].op for i in kp.kernel.op_indices],
            "vars": [records[i].var for i in kp.kernel.op_indices],
            "status": kp.kernel.status.value,
            "precision": prec if kp.kernel.counts_toward_time else kp.estimate.precision,
            "compute_precision": kp.estimate.precision,
            **_cost_fields(cost, known),
            "latency_s": kp.latency_s if known else None,
            "roofline_latency_s": kp.estimate.latency_s if known else None,
            "bound": kp.estimate.bound.value,
            "energy_j": kp.estimate.energy_j if known else None,
            "calibrated": kp.calibrated,
        })
    return out


def _cost_fields(cost: OpCost, known: bool) -> dict[str, int | None]:
    """``flops``, ``bytes_read``, ``bytes_written`` of a kernel or op; one without a cost (unsupported, symbolic)
    has its FLOPs unknown (None) and its traffic known only where its tensors' sizes are (else None, never 0)."""
    return {
        "flops": cost.flops if known else None,
        "bytes_read": cost.bytes_read if known or cost.bytes_read else None,
        "bytes_written": cost.bytes_written if known or cost.bytes_written else None,
    }


def _op_dict(r, precision: str | None = None) -> dict[str, Any]:
    """The report's record of one op (an ``OpRecord``), its traffic priced under the precision override as the
    kernels' and totals' are (so that ``ops[]`` sums to ``totals``)."""
    cost = priced_cost(r.cost, r.precision, precision)[0]
    return {
        "var": r.var,
        "op": r.op,
        "family": r.family,
        "status": r.status.value,
        **_cost_fields(cost, r.status not in UNCOSTED),
        "weight_bytes": cost.weight_bytes,
        "output_shapes": [list(o.shape) if o.shape else None for o in r.outputs],
        "dtype": r.outputs[0].dtype if r.outputs else None,
        "note": r.note,
    }


def to_json(pred: Prediction) -> str:
    """:func:`to_dict` as JSON text; a NaN or infinity raises (JSON has none) instead of printing invalid JSON."""
    return json_text.dumps(to_dict(pred))


def _execution_text(ex, pred: Prediction) -> str:
    """One line: runtime, launches (learned / roofline) and the ops left unpriced, host and device sums
    (lower bounds, or unknown, when some op has no cost)."""
    lower = not pred.complete
    n = pred.uncosted_op_count
    uncosted = f" + {plural(n, 'uncosted op')}" if lower else ""
    return (f"runtime   {ex.runtime}: {plural(ex.launches, 'kernel')} ({ex.covered} learned, {ex.launches - ex.covered} roofline)"
            f"{uncosted}, host {fmt_bound(ex.host_s, fmt_time, lower)}, device {fmt_bound(ex.device_s, fmt_time, lower)}, "
            f"latency = {ex.composition}")


def to_table(pred: Prediction, top: int = 15) -> str:
    an = pred.analyzed
    a = an.analysis
    cov = coverage_dict(pred)
    lower = pred.lower_bound_reason
    # a lower bound, or unknown where no kernel launched and the runtime's call is not modelled (until 2026-12-05
    # "0.0 us", "0.0 uJ"): unknown_figures names the latency then
    # (or a term of the sheet's probed figures is not priced: Prediction.latency_lower_bound, since 2026-12-07)
    bound = pred.latency_lower_bound or "latency_s" in pred.unknown_figures
    power = f"   [{pred.energy_note}]" if pred.energy_note else ""
    lines = [
        f"model     {an.source}  inputs {inputs_text(an.input_shapes)}",
        f"device    {pred.spec.id} ({pred.spec.name})" + _precision_text(pred),
        # why a lower bound or unknown, or where the per-call overhead of the sheet priced it instead
        f"latency   {fmt_bound(pred.latency_s, fmt_time, bound)}"
        + (f"   ({pred.latency_reason})" if pred.latency_reason else "")
        + f"   [{pred.calibration}; roofline {fmt_bound(pred.roofline_latency_s, fmt_time, bool(lower))}]",
        *([_execution_text(pred.execution, pred)] if pred.execution is not None else []),
        f"energy    {fmt_bound(pred.energy_j, fmt_energy, bound)}{power}",
        f"memory    {memory_text(pred)}",
        f"compute   {fmt_bound(a.flops, fmt_flops, bool(lower))} (FLOP = 2 x MAC), {plural(timed_kernel_count(pred), 'kernel')} "
        f"from {plural(len(a.records), 'op')}",
        f"coverage  {coverage_text(cov['covered_share'])} of ops costed ("
        + ", ".join(f"{k} {v}" for k, v in cov["by_status"].items() if v)
        + ")",
    ]
    if cov["unsupported_ops"]:
        rows = "shown as rows; " if uncosted_rows(pred) else ""
        lines.append(f"UNSUPPORTED {', '.join(cov['unsupported_ops'])} ({rows}latency excludes them)")
    if an.fusion_note:
        lines.append(f"note      {an.fusion_note}")
    if pred.folded_note:  # the folded nodes its runtime runs, priced as launches: a note, not a latency qualifier
        lines.append(f"note      {pred.folded_note}")
    # the terms of probed figures priced in the latency (subnormal assists, transposes, element-wise math, depthwise
    # 1-D convolutions)
    lines.extend(f"note      {note}" for note in pred.outside_notes)
    for w in pred.warnings:
        lines.append(f"WARNING   {w}")
    if top <= 0:  # --top 0: the summary lines only, no kernel table
        return "\n".join(lines)
    ranked = sorted(pred.kernels, key=lambda kp: kp.latency_s, reverse=True)
    shown = [kp for kp in ranked if kp.kernel.status is not Status.ZERO_COST]
    unsupported = [kp for kp in shown if kp.kernel.status is Status.UNSUPPORTED]
    shown = [kp for kp in shown if kp.kernel.status is not Status.UNSUPPORTED][:top] + unsupported
    rows = []
    for kp in shown:
        k = kp.kernel
        ops = "+".join(a.records[i].op.removeprefix("relax.").removeprefix("nn.") for i in k.op_indices)
        cost = priced_cost(k.cost, k.precision, pred.precision)[0]
        if k.status in UNCOSTED:  # no cost: its time and FLOPs are unknown, its traffic at least what it touches
            figures = ["unknown", "-", "unknown", fmt_bound(cost.bytes_total, fmt_bytes, True)]
        else:
            figures = [fmt_time(kp.latency_s), share_text(kp.latency_s, pred.latency_s), fmt_count(cost.flops) + "FLOP",
                       fmt_bytes(cost.bytes_total)]
        rows.append([clip(k.name, 40), clip(ops, 48), k.status.value, *figures[:2], kp.estimate.bound.value, *figures[2:]])
    lines.append("")
    if not rows:  # no header over an empty table
        lines.append("kernels   none to list: " + ("no op has a cost (see coverage)" if lower else "every op is zero-cost"))
        return "\n".join(lines)
    lines.append(table(rows, ["kernel", "ops", "status", "latency", "share", "bound", "flops", "traffic"], "lllrrlrr"))
    hidden = len([kp for kp in ranked if kp.kernel.status is not Status.ZERO_COST]) - len(shown)
    if hidden > 0:
        lines.append(f"... {hidden} more {'kernel' if hidden == 1 else 'kernels'} (use --top N or --format json)")
    return "\n".join(lines)
