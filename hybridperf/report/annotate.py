"""Relax module text with each binding's cost appended as a comment."""

from __future__ import annotations

import numbers
import re
from typing import Any

from hybridperf.costs import Status
from hybridperf.estimate.pricing import KernelPrediction, Prediction, priced_cost, runs_every_call
from hybridperf.report.format import fmt_bound, fmt_bytes, fmt_count, fmt_energy, fmt_flops, fmt_time
from hybridperf.report.text import LOWER_BOUND_TOTALS
from hybridperf.units import shapes_text

#: the line TVM's printer ends a module with when it leaves the constants out (``show_meta=False``)
TVM_METADATA_OMITTED = "# Metadata omitted. Use show_meta=True in script() method to show it."
#: what the header says of the figures (``hybridperf annotate``, :func:`hybridperf.api.annotate_text`): the roofline's,
#: per binding and in total
ROOFLINE_NOTE = "roofline: every binding priced by the roofline; `hybridperf predict` adds the learned correction"
#: what ``hybridperf annotate`` says there instead
METADATA_OMITTED = ("# constants omitted (metadata[...]): `hybridperf annotate --show-meta` prints them, and the text "
                    "then parses with tvm.script.from_source")

#: TVM 0.27's printer writes a non-finite scalar constant as ``R.const("-inf", "float32")``, which its parser refuses
#: ("value has to be scalar or Tensor": every ONNX Clip imports one); ``R.const(float("-inf"), "float32")`` parses
_NON_FINITE = re.compile(r'R\.const\("(-?inf|nan)", ')
_FLOAT_CALL = r'R.const(float("\1"), '


def binding_comments(pred: Prediction) -> dict[str, str]:
    """Comment text per bound variable name of ``main`` (a name bound twice: the last binding's; see
    :func:`record_comments` for one per op).

    Each op shows its own FLOPs and traffic (priced at the precision override, as the report's totals are). A kernel's
    time and energy are shown once, on its first op that has a cost; its other ops name the kernel (``in kernel
    NAME``), so that the times and energies shown add up to the header's totals (the energy before any cap at the
    sheet's max power, which the header names). A kernel left unpriced (an uncosted op fused with priced ones) reads
    ``latency unknown, energy unknown``, never 0."""
    return {r.var: c for r, c in zip(pred.analyzed.analysis.records, record_comments(pred))}


def record_comments(pred: Prediction) -> list[str]:
    """The comment of each op record of ``pred``'s analysis, in order (as :func:`binding_comments` describes)."""
    a = pred.analyzed.analysis
    timed: dict[int, str] = {}  # op index -> the kernel's time and energy text, on one op per kernel
    member: dict[int, str] = {}  # op index -> kernel name, for the kernel's other ops
    for kp in pred.kernels:
        members = kp.kernel.op_indices
        if not members:
            continue
        anchor = next((i for i in members if a.records[i].status.counts_toward_time), members[0])
        n = len(members)
        figures = _kernel_figures(kp)
        timed[anchor] = f"kernel {kp.kernel.name} ({n} ops) {figures}" if n > 1 else figures
        for i in members:
            if i != anchor:
                member[i] = f"in kernel {kp.kernel.name}"
    out = []
    run_every_call = set(runs_every_call(a.records))
    for r in a.records:
        if r.status is Status.ZERO_COST:
            run = r.unfolded.cost.flops if r.index in run_every_call else 0
            # a folded constant subexpression: what a runtime that runs it every call pays (eager PyTorch, CUDA graphs)
            out.append(f"# zero-cost: {r.note}" + (f" ({fmt_count(run)}FLOP where run every call: eager PyTorch, CUDA graphs)"
                                                   if run else ""))
            continue
        if r.status in (Status.UNSUPPORTED, Status.SYMBOLIC):
            out.append(f"# {r.status.value.upper()}: {r.note}")
            continue
        cost = priced_cost(r.cost, r.precision, pred.precision)[0]
        kern = timed.get(r.index) or member.get(r.index, "not timed")
        est = " (TIR estimate)" if r.status is Status.ESTIMATED else ""
        out.append(
            f"# {fmt_count(cost.flops)}FLOP{est}, read {fmt_bytes(cost.bytes_read)}, "
            f"write {fmt_bytes(cost.bytes_written)}, {kern}"
        )
    return out


def _kernel_figures(kp: KernelPrediction) -> str:
    """A kernel's time and energy per call as its comment shows them (``5.0 us, 12.3 uJ``): the prediction's latency
    and the kernel's roofline energy (what the header's energy sums); ``latency unknown, energy unknown`` for a kernel
    not priced (an uncosted op fused with priced ones: until 2026-12-04 such a kernel's priced op read ``0.0 us``). Until 2026-12-04 the
    comment gave no energy, only the header's total."""
    if not kp.kernel.counts_toward_time:
        return "latency unknown, energy unknown"
    return f"{fmt_time(kp.latency_s)}, {fmt_energy(kp.estimate.energy_j)}"


def annotate_text(pred: Prediction, module: Any, show_meta: bool = False, runtime: str | None = None) -> str:
    """``main`` of ``module`` (the Relax module ``pred`` was analysed from) printed as TVMScript,
    each binding followed by its cost. ``show_meta``: print the constants too (large: every weight), so
    that the text parses back with ``tvm.script.from_source``. ``runtime``: the runtime ``pred`` was priced for
    (``predict_on(..., runtime=)``), named in the header (:func:`totals_line`) with the ``predict`` command whose
    totals the figures add up to; None: not named.

    A module with functions besides ``main`` (PrimFuncs ``call_tir`` calls) is printed whole, so that the text
    parses; the Relax functions ``main`` calls are inlined first, as the analysis inlined them
    (:func:`hybridperf.frontends.relax_module.inline_calls`), so that their ops show with their costs. The comments
    are attached to the binding objects by TVM's printer, so a var the printer renames (a name bound twice, or a
    parameter's name) keeps its comment."""
    from hybridperf.frontends.relax_module import inline_calls
    from hybridperf.ir import tvm_compat as _tvm

    module, inlined = inline_calls(module)
    notes = _binding_notes(pred, list(_tvm.bindings(module["main"])))
    whole = len(module.functions) > 1
    target = module if whole else module["main"]
    text = target.script(show_meta=show_meta, obj_to_annotate=notes)
    lines = [METADATA_OMITTED if line.strip() == TVM_METADATA_OMITTED else _NON_FINITE.sub(_FLOAT_CALL, line)
             for line in text.splitlines()]
    head = [header_line(pred), totals_line(pred, runtime), LEGEND]
    symbolic = _symbolic_params(module)
    if symbolic and all(n in pred.analyzed.input_shapes for n in symbolic):
        bound = shapes_text(pred.analyzed.input_shapes)
        head.append(f"# priced at inputs {bound} (the symbolic dims printed below bound)")
    if inlined:
        head.append(f"# Relax functions inlined into main (their ops are priced there): {', '.join(inlined)}")
    return "\n".join(head + lines)


#: what each comment's figures are (until 2026-12-04 nothing said: no units beyond the prefixes, no "per call")
LEGEND = ("# each op: its FLOPs, bytes read and bytes written per call of main; each kernel's roofline latency and "
          "energy once, on its first op (its other ops name the kernel); zero-cost, UNSUPPORTED and SYMBOLIC ops say "
          "why (no figure: unknown, not 0)")


def totals_line(pred: Prediction, runtime: str | None = None) -> str:
    """The header's second line: the energy of one call (the sum of the kernels' roofline energy, capped at the
    sheet's max power x latency where it says so; a lower bound ``≥`` or ``unknown`` as the latency is), and, where
    ``runtime`` is given, the runtime priced and the ``predict`` command with the same totals.

    Until 2026-12-04 the annotation had no energy at all and did not say which runtime it priced (always TVM's view:
    constants folded, where ``predict`` on a GPU sheet prices eager PyTorch, which runs them every call). An energy
    :attr:`~hybridperf.estimate.pricing.Prediction.unknown_figures` names (a model that launches no kernel, whose
    runtime call is not priced: :func:`header_line` says why) reads ``unknown``: until 2026-12-05 ``0.0 uJ``."""
    lb = bool(pred.lower_bound_reason) or "energy_j" in pred.unknown_figures
    energy = fmt_bound(pred.energy_j, fmt_energy, lb)
    # the whole energy note, as predict's table gives it: until 2026-12-05 only its cap part, so an estimated idle
    # power or energy per MAC (`idle power of t4 estimated, not measured`) went unsaid here
    if pred.energy_note and "energy_j" not in pred.unknown_figures:  # an unknown energy has no figure to qualify
        energy += f" ({pred.energy_note})"
    text = f"# energy {energy} per call"
    if runtime:
        text += (f"; runtime {runtime} (--runtime); the totals of `hybridperf predict --roofline-only --runtime "
                 f"{runtime}`")
    if pred.folded_note:
        text += f"; {pred.folded_note}"
    for note in pred.outside_notes:  # in the latency of the header line, in no op's comment
        text += f"; {note}"
    return text


def _symbolic_params(module: Any) -> list[str]:
    """The tensor parameters of ``module``'s ``main`` with a symbolic (or unknown) shape."""
    from hybridperf.ir import tvm_compat as _tvm

    return [_tvm.var_name(p) for p in module["main"].params
            if any(i.shape is None for i in _tvm.tensor_infos(_tvm.expr_type(p)))]


def _binding_notes(pred: Prediction, bindings: list[Any]) -> dict[Any, str]:
    """Binding object of ``main`` -> its cost comment (without the ``#``). The records follow the call bindings in
    order, so each is matched by position (TVM reuses name hints), checked by its var name."""
    from hybridperf.ir import tvm_compat as _tvm

    records = pred.analyzed.analysis.records
    comments = record_comments(pred)
    by_name = dict(zip((r.var for r in records), comments))
    out: dict[Any, str] = {}
    k = 0
    for b in bindings:
        if not (_tvm.is_call(b.value) or _tvm.is_if(b.value)):
            continue
        name = _tvm.var_name(b.var)
        if k < len(records) and records[k].var == name:
            text = comments[k]
            k += 1
        else:
            text = by_name.get(name)
        if text:
            out[b] = text[2:]
    return out


def header_line(pred: Prediction) -> str:
    """The ``# hybridperf:`` line: total latency, peak memory and FLOPs; with uncosted ops the latency and
    FLOPs are lower bounds (``≥``), or ``unknown`` when nothing was priced, and the ops are named. A model that
    launches no kernel reads latency ``unknown`` with the reason
    (:attr:`~hybridperf.estimate.pricing.Prediction.unpriced_reason`: the runtime's call is not priced, as under the
    roofline annotate prices by) where :attr:`~hybridperf.estimate.pricing.Prediction.unknown_figures` names it
    (until 2026-12-05 ``latency 0.0 us``), or the sheet's per-call overhead with where it comes from
    (:attr:`~hybridperf.estimate.pricing.Prediction.call_overhead_note`) where a learned prediction priced it."""
    lb = bool(pred.lower_bound_reason)
    why = pred.latency_reason
    mem_ge = "≥ " if pred.analyzed.memory_is_lower_bound else ""
    memory = mem_ge + fmt_bytes(pred.memory.peak_bytes) if pred.memory.known else "unknown"
    flops = "FLOP unknown" if lb and not pred.flops else fmt_bound(pred.flops, fmt_flops, lb)
    return (
        f"# hybridperf: {pred.spec.id}: latency "
        f"{fmt_bound(pred.latency_s, fmt_time, lb or 'latency_s' in pred.unknown_figures)}"
        + (f" ({why})" if why else "")
        + f" [{pred.calibration}], TVM plan peak memory {memory}, {flops}"
        # the override every figure is priced at, as predict's device line ("precision int8"): until 2026-12-04 the
        # header did not say it, and an int8 annotation read as an fp32 one
        + (f", precision {pred.precision}" if pred.precision else "")
    )


#: the namespace of every function attribute :func:`with_cost_attributes` writes
ATTR_PREFIX = "hybridperf."
#: a kernel's figures written as ``hybridperf.<key>`` on its function, each left out where unknown (and named in
#: ``hybridperf.unknown``): the kernel's record in ``hybridperf predict --format json`` (``kernels[]``)
KERNEL_FIGURES = LOWER_BOUND_TOTALS
#: the totals written on ``main`` (``totals`` of the JSON report), besides ``weight_bytes`` and ``peak_memory_bytes``;
#: a lower bound (some op without a cost) is written as ``hybridperf.<key>_lower_bound`` instead, so that no reader
#: takes it for the figure
TOTAL_FIGURES = LOWER_BOUND_TOTALS


def with_cost_attributes(pred: Prediction, module: Any) -> Any:
    """``module`` (the Relax module ``pred``'s kernels were read off: the fused or legalized module, or where no
    lowering was made the analysed module itself) with ``pred``'s figures as function attributes
    (``func.with_attr``), keys namespaced ``hybridperf.`` with their unit in the name.

    ``main`` gets the totals (:data:`TOTAL_FIGURES`, ``weight_bytes``, ``peak_memory_bytes``), ``device``,
    ``calibration``, ``kernels`` (the timed kernel count) and, where given, ``runtime``, ``precision`` and
    ``lower_bound_reason``.
    Each function a kernel call of ``main`` calls (a fused Relax function, or the PrimFunc of a ``call_tir``) gets
    that kernel's figures (:data:`KERNEL_FIGURES`), ``kernel`` (its name in the report), ``status``, ``ops``,
    ``precision`` and ``bound``, on the function of its first op where a kernel spans several (a bias add eager
    PyTorch carries into its matmul: the other's function names it, ``hybridperf.in_kernel``). Every function with
    figures has ``hybridperf.unknown``: the keys it leaves out because
    the figure is unknown (never written as 0); a lower bound on ``main`` is written as ``KEY_lower_bound``.
    The figures are those of ``hybridperf predict --format json`` for ``pred`` (:func:`hybridperf.report.text.to_dict`).
    A kernel that stays a lone op call in ``main`` (an op TVM does not legalize, ``R.call_dps_packed``) has no
    function to carry its figures: ``main``'s ``lower_bound_reason`` and ``unknown`` say what it leaves out.
    """
    from hybridperf.analysis.kernels import kernel_records
    from hybridperf.ir import tvm_compat as _tvm
    from hybridperf.report.text import to_dict

    report = to_dict(pred)
    kernel_of: dict[int, int] = {}  # op index -> index in pred.kernels
    for k, kp in enumerate(pred.kernels):
        for i in kp.kernel.op_indices:
            kernel_of.setdefault(i, k)
    tvm, _ = _tvm.tvm_modules()
    funcs = dict(module.functions.items())
    done: set[int] = set()
    for b in _tvm.bindings(module["main"]):
        call = b.value
        made = kernel_records(module, call) if _tvm.is_call(call) else None
        if not made:  # None: a lone high-level op (or no call); {}: nothing tagged
            continue
        ks = list(dict.fromkeys(kernel_of[o] for o, _ in made.values() if o in kernel_of))
        if not ks:  # only folded ops (an int8 pattern's): no kernel runs
            continue
        gvar = call.args[0] if _tvm.op_name(call) == "relax.call_tir" else call.op
        if len(ks) == 1 and ks[0] not in done:
            attrs = _kernel_attributes(report["kernels"][ks[0]])
            done.add(ks[0])
        else:  # a kernel's other op (a bias add carried into its matmul), or ops of several kernels
            attrs = {"in_kernel": tuple(str(report["kernels"][k]["name"]) for k in ks)}
        funcs[gvar] = _with_attributes(funcs[gvar], attrs)
    main = module.get_global_var("main")
    funcs[main] = _with_attributes(funcs[main], _main_attributes(pred, report))
    return tvm.IRModule(funcs, attrs=module.attrs, global_infos=module.global_infos)


def _with_attributes(func: Any, attrs: dict[str, Any]) -> Any:
    """``func`` with each of ``attrs`` set, its key namespaced (:data:`ATTR_PREFIX`)."""
    for key, value in attrs.items():
        func = func.with_attr(ATTR_PREFIX + key, value)
    return func


def _attr_value(value: Any) -> Any:
    """``value`` as a plain Python value TVM stores (an int, float, bool, str or tuple of str)."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _figures(record: dict[str, Any], keys: tuple[str, ...], lower_bound: bool = False) -> dict[str, Any]:
    """The known figures of ``record`` under their keys (a lower bound under ``KEY_lower_bound``), and ``unknown``:
    the keys of those that are unknown (None in the report), which are left out."""
    out: dict[str, Any] = {}
    unknown = []
    for k in keys:
        v = record.get(k)
        if v is None:
            unknown.append(k)
        else:
            out[f"{k}_lower_bound" if lower_bound else k] = _attr_value(v)
    out["unknown"] = tuple(unknown)
    return out


def _kernel_attributes(kd: dict[str, Any]) -> dict[str, Any]:
    """A kernel function's attributes, from its record ``kd`` of the JSON report (``kernels[]``)."""
    figures = _figures(kd, KERNEL_FIGURES)
    known = "latency_s" in figures
    return {"kernel": str(kd["name"]), "status": str(kd["status"]), "ops": tuple(kd["ops"]),
            "precision": str(kd["precision"]), **({"bound": str(kd["bound"])} if known else {}), **figures}


def _main_attributes(pred: Prediction, report: dict[str, Any]) -> dict[str, Any]:
    """``main``'s attributes: the totals of ``report`` (the JSON report of ``pred``) and what they were priced for."""
    totals = report["totals"]
    figures = _figures(totals, TOTAL_FIGURES, lower_bound=bool(totals["lower_bound"]))
    unknown = list(figures.pop("unknown"))
    figures["weight_bytes"] = int(totals["weight_bytes"])  # the constants' stored size: always known
    peak = pred.peak_memory_bytes
    if peak is None:
        unknown.append("peak_memory_bytes")
    else:
        below = pred.runtime_memory is None and pred.analyzed.memory_is_lower_bound
        figures["peak_memory_bytes_lower_bound" if below else "peak_memory_bytes"] = int(peak)
    out: dict[str, Any] = {"device": pred.spec.id, "calibration": pred.calibration,
                           "kernels": int(totals["kernels"])}
    if pred.runtime:
        out["runtime"] = str(pred.runtime)
    if pred.precision:
        out["precision"] = str(pred.precision)
    if pred.lower_bound_reason:
        out["lower_bound_reason"] = pred.lower_bound_reason
    return {**out, **figures, "unknown": tuple(unknown)}
