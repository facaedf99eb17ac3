"""Price an analysis on one device: a roofline per kernel, summed, with an optional learned
correction passed in by the caller (resolved at the API edge, :func:`hybridperf.api.predict_on`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from hybridperf.analysis.analyze import Analyzed
from hybridperf.analysis.cost_pass import FOLDED_NOTE, RUN_EVERY_CALL_NOTE, OpRecord, precision_of, with_dtype_split
from hybridperf.analysis.kernels import Kernel, with_ops_run
from hybridperf.analysis.memory import MemoryPlan
from hybridperf.analysis.recurrent import PRODUCT_OP
from hybridperf.costs import CostRegistry, OpContext, OpCost, Status, build_registry
from hybridperf.device.spec import HOST_ID, DeviceSpec, load_spec
from hybridperf.errors import InputError, SpecError
from hybridperf.estimate.roofline import ZERO, RooflineEstimate, roofline
from hybridperf.ir.tvm_compat import TensorInfo
from hybridperf.precision import stored_bytes
from hybridperf.units import bytes_text, numel, plural

if TYPE_CHECKING:  # execution imports the runtime memory model (and onnx): at run time only where a runtime is named
    from hybridperf.estimate.execution import Execution


__all__ = ["CALL_OVERHEAD_NOTE", "KernelPrediction", "NO_CALL_OVERHEAD", "Prediction", "ROOFLINE_NO_CALL",
           "OUTSIDE_TERMS", "RooflineMemo", "as_run_by", "bounded_energy", "folded_records", "launched_dynamic_energy_j", "predict_on",
           "price", "priced_cost", "priced_memory", "runs_every_call", "with_call_overhead", "with_depthwise_conv1d",
           "with_elementwise_math", "with_innermost_transposes", "with_short_broadcasts",
           "with_short_gathers"]


@dataclass(frozen=True)
class KernelPrediction:
    kernel: Kernel
    estimate: RooflineEstimate
    latency_s: float
    calibrated: bool = False


#: the words of a :attr:`Prediction.latency_note` saying that the stored model pricing it was calibrated with other
#: figures of the sheet (:func:`hybridperf.residual.sheet.qualified`): such a prediction also warns, one line
SHEET_CHANGED = "calibrated with other figures of this sheet"
#: how every :attr:`Prediction.latency_note` begins, once, before its reasons (:meth:`Prediction.unverified`)
UNVERIFIED_PREFIX = "unverified: "
#: the words of a :attr:`Prediction.latency_note` saying that a learned model's fitted constant overhead is most of
#: the figure (a model far smaller than any it was trained on): such a prediction also warns, one line
BELOW_TRAINING_SCALE = "below the scale of the models it was trained on"
#: the words of a :attr:`Prediction.latency_note` saying that most of a learned figure is kernels of op families the
#: model never saw, at their roofline (:func:`hybridperf.residual.model.untrained_share_note`)
UNTRAINED_FAMILIES = "op families the model was never trained on"
#: the same for dilated convolutions the learned model's training rows do not cover (a dilation with a valid-tap
#: share no training row reached: :func:`hybridperf.residual.model.inside_envelope`)
UNTRAINED_DILATION = "dilated convolution(s) outside the rows the model was trained on"

#: why a model whose every op is zero-cost has no latency or energy on a sheet that prices no runtime call
#: (:attr:`Prediction.unpriced_reason`): the CPU learned models' fitted overhead (100 us, a grid value chosen by
#: cross-validation on models of milliseconds) is no per-call figure (a 2x64 MatMul measured 5.9 us); only a sheet's
#: ``call_overhead`` of the runtime is (:data:`CALL_OVERHEAD_NOTE`), and ``--roofline-only`` prices no call
NO_CALL_OVERHEAD = ("nothing priced: every op is zero-cost (no kernel launches), and the per-call overhead of {runtime} "
                    "on {device} is not modelled")
#: :attr:`Prediction.unpriced_reason` where the sheet gives the runtime's per-call overhead but the prediction is the
#: roofline's (``--roofline-only``, ``annotate``), which prices no runtime call
ROOFLINE_NO_CALL = ("nothing priced: every op is zero-cost (no kernel launches), and the roofline prices no runtime call "
                    "(a learned prediction prices {device}'s call_overhead.{runtime}: `hybridperf predict` without "
                    "--roofline-only)")
#: :attr:`Prediction.call_overhead_note` of a model that launches no kernel priced on a sheet that gives its runtime's
#: per-call overhead (:attr:`~hybridperf.device.spec.DeviceSpec.call_overhead_s`): where the latency and energy come
#: from. Until 2026-12-05 they were unknown on every sheet (:data:`NO_CALL_OVERHEAD`), the probe's measured
#: ``session.run`` time being only words in the sheet's ``launch_overhead`` source
CALL_OVERHEAD_NOTE = ("no kernel launches: latency is the per-call overhead of {runtime} on {device} ({how} sheet "
                      "figure call_overhead.{runtime}), energy that time x idle power")

#: ``--runtime tvm`` on a CPU sheet: what the flag changes there (until 2026-12-03 nothing said the latency was not
#: TVM's, beside a TVM peak)
TVM_ON_CPU_NOTE = ("--runtime tvm on a CPU sheet changes the peak memory only: the latency is priced as without it "
                   "(the learned CPU models are trained on onnxruntime timings; TVM's CPU kernels are not modelled)")


#: the words of the reason a latency is a lower bound where a term of probed figures is not priced
#: (:attr:`Prediction.unpriced_terms_reason`), which ``check``'s undecided line answers with the probe
NOT_PRICED = "is not priced"


#: the terms priced outside the learned model from a CPU sheet's probed figures, in the order a prediction adds them:
#: :class:`Prediction` field (seconds in the latency; None: the model has that work and the sheet or runtime does not
#: price it, a warning says why) -> (its note field, what it prices). The one list the reports, the training tables
#: (:data:`hybridperf.residual.model.OUTSIDE_COLUMNS`) and ``check`` (:func:`hybridperf.estimate.budget.
#: unpriced_terms_text`) read
OUTSIDE_TERMS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "subnormal_assist_s": ("subnormal_note", "subnormal assists"),
    "innermost_transpose_s": ("innermost_transpose_note", "innermost-axis transposes"),
    "elementwise_math_s": ("elementwise_math_note", "element-wise math"),
    "depthwise_conv1d_s": ("depthwise_conv1d_note", "depthwise 1-D convolutions"),
    "short_gather_s": ("short_gather_note", "gathers of short blocks"),
    "short_broadcast_s": ("short_broadcast_note", "broadcasts over short spans"),
})


@dataclass(frozen=True)
class Prediction:
    """A model priced on one device."""

    analyzed: Analyzed
    spec: DeviceSpec
    precision: str | None
    kernels: tuple[KernelPrediction, ...]
    roofline_latency_s: float
    latency_s: float
    energy_j: float
    calibration: str = "none (roofline only)"
    #: the memory plan at this prediction's precision (None: the analysis's own plan)
    memory_plan: MemoryPlan | None = field(default=None, repr=False)
    #: what qualifies ``energy_j``: capped at the device's max power, and/or priced on a sheet whose power figures
    #: are estimates (:attr:`~hybridperf.device.spec.DeviceSpec.power_estimated`); else ""
    energy_note: str = ""
    #: the sheet's part of :attr:`energy_note` on its own (:func:`estimated_power_note`: "" where its power figures
    #: are measured or sourced), worked out once per prediction for the reports that name it apart (predict-many)
    estimated_power_note: str = ""
    #: how host and device time were composed (:class:`~hybridperf.estimate.execution.ExecutionSummary`),
    #: None for a roofline-only or per-device residual prediction
    execution: Any = None
    #: the runtime whose peak memory is the headline (``--runtime``); None: the TVM plan's peak
    runtime: str | None = None
    #: that runtime's peak and its parts (:class:`~hybridperf.estimate.runtime_memory.RuntimePeak`);
    #: None when no runtime was asked for or its model does not apply
    runtime_memory: Any = field(default=None, repr=False)
    #: why the runtime's model does not apply (the TVM plan's peak stands), else ""
    runtime_memory_note: str = ""
    #: what qualifies ``latency_s`` beyond :attr:`calibration`: ``unverified: ...`` where a zero-shot model prices a
    #: device unlike any it was trained on (:meth:`hybridperf.residual.cross_host.CrossHostModel.unverified_reason`);
    #: ``check`` reports it beside the verdict; else ""
    latency_note: str = ""
    #: the nodes the ONNX normaliser folded that this prediction's runtime runs every call, priced as its launches
    #: (:func:`folded_note`: eager PyTorch, CUDA graphs), else "". A disclosure, not a qualifier of the figure: it does
    #: not make the latency unverified (until 2026-12-04 it was a reason of :attr:`latency_note`, so ``check`` read
    #: every LLM under ``torch`` as ``ok (unverified)``)
    folded_note: str = ""
    #: where the user's own learned model that priced this is stored (a ``models/<id>/`` or ``hosts/<cpu>/model/``
    #: directory of the user data directory, or a GPU adaptation's file), which :attr:`calibration` names; None: a
    #: packaged model, or none
    calibration_stored_in: str | None = None
    #: where the latency and energy of a model that launches no kernel come from where the sheet gives its runtime's
    #: per-call overhead (:data:`CALL_OVERHEAD_NOTE`: that overhead, and its time x idle power), else ""
    call_overhead_note: str = ""
    #: the time of the microcode assists the float32 subnormals the model makes itself cost
    #: (:func:`with_subnormal_assists`), included in :attr:`latency_s`: 0.0 where it makes none (or on a sheet that is
    #: not a CPU's), None where it makes some and they are not priced (unknown: the sheet has no ``subnormal_assist``
    #: figures, or the runtime is not onnxruntime; :attr:`warnings` says so)
    subnormal_assist_s: float | None = 0.0
    #: how :attr:`subnormal_assist_s` was priced (:data:`SUBNORMAL_NOTE`), else ""
    subnormal_note: str = ""
    #: the extra time of the transposes that move the innermost axis other than as a 2-D transpose
    #: (:func:`with_innermost_transposes`), included in :attr:`latency_s`: 0.0 where the model has none (or on a sheet
    #: that is not a CPU's), None where it has some and they are not priced (unknown: the sheet has no
    #: ``transpose.innermost`` figure, or the runtime is not onnxruntime; :attr:`warnings` says so)
    innermost_transpose_s: float | None = 0.0
    #: how :attr:`innermost_transpose_s` was priced (:data:`TRANSPOSE_NOTE`), else ""
    innermost_transpose_note: str = ""
    #: the extra time of the element-wise math onnxruntime evaluates one element at a time
    #: (:func:`with_elementwise_math`), included in :attr:`latency_s`: 0.0 where the model has none (or on a sheet
    #: that is not a CPU's), None where it has some and they are not priced (unknown: the sheet has no
    #: ``elementwise_math`` figure for one of its functions, or the runtime is not onnxruntime; :attr:`warnings` says
    #: so)
    elementwise_math_s: float | None = 0.0
    #: how :attr:`elementwise_math_s` was priced (:data:`MATH_NOTE`), else ""
    elementwise_math_note: str = ""
    #: what pricing the depthwise 1-D convolutions at the sheet's probed figures (:func:`with_depthwise_conv1d`) added
    #: to :attr:`latency_s` over the price their kernels had (their roofline, as no learned model was trained on one;
    #: negative where the figures are faster): 0.0 where the model has none (or on a sheet that is not a CPU's), None
    #: where it has some and they are not priced so (unknown: the sheet has no ``depthwise_conv1d`` figure for one of
    #: its classes, or the runtime is not onnxruntime; :attr:`warnings` says so)
    depthwise_conv1d_s: float | None = 0.0
    #: how :attr:`depthwise_conv1d_s` was priced (:data:`DEPTHWISE_NOTE`), else ""
    depthwise_conv1d_note: str = ""
    #: the extra time of the gathers that copy many short blocks (:func:`with_short_gathers`), included in
    #: :attr:`latency_s`: 0.0 where the model has none (or on a sheet that is not a CPU's), None where it has some and
    #: they are not priced (unknown: the sheet has no ``gather.block`` figure, or the runtime is not onnxruntime;
    #: :attr:`warnings` says so)
    short_gather_s: float | None = 0.0
    #: how :attr:`short_gather_s` was priced (:data:`GATHER_NOTE`), else ""
    short_gather_note: str = ""
    #: the extra time of the element-wise ops that broadcast over many short spans (:func:`with_short_broadcasts`),
    #: included in :attr:`latency_s`: 0.0 where the model has none (or on a sheet that is not a CPU's), None where it
    #: has some and they are not priced (unknown: the sheet has no ``broadcast.span`` figure, or the runtime is not
    #: onnxruntime; :attr:`warnings` says so)
    short_broadcast_s: float | None = 0.0
    #: how :attr:`short_broadcast_s` was priced (:data:`BROADCAST_NOTE`), else ""
    short_broadcast_note: str = ""

    @property
    def outside_notes(self) -> tuple[str, ...]:
        """The notes of the :data:`OUTSIDE_TERMS` priced in :attr:`latency_s`, in their order."""
        return tuple(n for n in (getattr(self, note) for note, _ in OUTSIDE_TERMS.values()) if n)

    @property
    def unpriced_terms(self) -> tuple[str, ...]:
        """The :data:`OUTSIDE_TERMS` fields that are unknown (None): the model has that work and it is not priced."""
        return tuple(f for f in OUTSIDE_TERMS if getattr(self, f) is None)

    @property
    def unpriced_terms_reason(self) -> str:
        """``"the time of element-wise math is not priced (the warning says why; ...)"`` where :attr:`unpriced_terms`
        is not empty, else "": the latency and energy leave that time out, so they are lower bounds. The one text
        ``predict``'s reports print beside the latency (:attr:`latency_reason`, since 2026-12-07 08:30 UTC; until then
        only the warning said it, beside a plain figure) and ``check`` judges (:func:`hybridperf.estimate.budget.
        unpriced_terms_text`)."""
        names = [OUTSIDE_TERMS[f][1] for f in self.unpriced_terms]
        if not names:
            return ""
        return (f"the time of {', '.join(names)} {NOT_PRICED} (the warning says why; `hybridperf probe` on the device "
                "measures it)")

    @property
    def latency_lower_bound(self) -> bool:
        """The latency and energy are lower bounds: some op has no cost (:attr:`complete`) or a term of probed figures
        is not priced (:attr:`unpriced_terms`)."""
        return not self.complete or bool(self.unpriced_terms)

    @property
    def latency_lower_bound_reason(self) -> str | None:
        """Why the latency and energy are lower bounds (:attr:`latency_reason`), None where they are not: predict's
        JSON ``totals.latency_lower_bound_reason`` and predict-many's row of that name."""
        return self.latency_reason if self.latency_lower_bound else None

    def unverified(self, why: str, first: bool = True) -> Prediction:
        """This prediction with ``why`` added to :attr:`latency_note`, the one form every note takes:
        ``unverified: <reason>; <reason>`` (the prefix once). ``first``: before the reasons already there, else after
        them."""
        rest = self.latency_note.removeprefix(UNVERIFIED_PREFIX)
        reasons = [why, rest] if first else [rest, why]
        return replace(self, latency_note=UNVERIFIED_PREFIX + "; ".join(r for r in reasons if r))

    @property
    def memory(self) -> MemoryPlan:
        return self.memory_plan if self.memory_plan is not None else self.analyzed.memory

    @property
    def peak_memory_bytes(self) -> int | None:
        """Peak memory in bytes: the chosen runtime's (:attr:`runtime_memory`) when there is one, else the
        TVM plan's (activations + weights + inputs); None when no memory plan could be made (never 0)."""
        if self.runtime_memory is not None:
            return self.runtime_memory.peak_bytes
        return self.memory.peak_bytes

    @property
    def uncosted_ops(self) -> list[str]:
        return self.analyzed.uncosted_ops

    @property
    def complete(self) -> bool:
        """Every op has a cost; when False, latency, energy and traffic are lower bounds."""
        return not self.uncosted_ops

    @property
    def uncosted_op_count(self) -> int:
        """How many op records (not op types) have no cost."""
        ops = self.uncosted_ops
        return sum(1 for r in self.analyzed.analysis.records if r.op in ops) if ops else 0

    @property
    def lower_bound_reason(self) -> str:
        """Why latency, energy and traffic are lower bounds (``"lower bound: 1 op uncosted: nonzero"``), or "" when
        every op has a cost."""
        ops = self.uncosted_ops
        if not ops:
            return ""
        n = self.uncosted_op_count
        return f"lower bound: {n} op{'s' if n != 1 else ''} uncosted: {', '.join(o.removeprefix('relax.') for o in ops)}"

    @property
    def warnings(self) -> tuple[str, ...]:
        """Input that was not honoured, what the load assumed (:attr:`Analyzed.load_notes`), and figures the device
        cannot meet (one line each)."""
        out: list[str] = list(self.analyzed.load_notes)
        own = sorted({kp.kernel.precision for kp in self.kernels if kp.kernel.counts_toward_time} - {"none"})
        floats = [p for p in own if p != "int32"]
        if self.precision is not None and own and "fp32" not in own and floats != [self.precision]:
            # the override re-prices float32 ops only: an fp16 or int8 model stays at its own precision, and so
            # do the index and mask ops (int32) of any model
            out.append(f"--precision {self.precision}: the model has no float32 op to re-price (its ops are "
                       f"{', '.join(own)}); it is priced at its own precision")
        for prec, used in _precision_fallbacks(self.kernels, self.precision):
            if prec == self.precision:  # e.g. fp16 on a CPU sheet that lists bf16, fp8 on a T4 (int8)
                out.append(f"--precision {prec}: {self.spec.id} lists no {prec} peak; its kernels are priced at its "
                           f"{', '.join(used)} peak and energy per MAC")
            else:  # a model's own int8 (or fp16...) kernels: warned since 2026-12-03 (an int8 model on the Pi was not)
                # the energy per MAC falls back with the peak (hybridperf.estimate.roofline): said since 2026-12-05
                out.append(f"{self.spec.id} lists no {prec} peak; the model's {prec} kernels are priced at its "
                           f"{', '.join(used)} peak and energy per MAC (an assumed rate)")
        if self.precision is not None and self.runtime_memory is not None and self.runtime_memory.runtime == "onnxruntime":
            # the headline peak (and what check --max-memory judges) is onnxruntime's, which runs the graph as stored
            out.append(f"--precision {self.precision}: the peak memory is onnxruntime's for the model as stored "
                       "(onnxruntime on a CPU does not apply the override; the TVM plan line prices it)")
        if self.runtime == "tvm" and self.spec.kind == "cpu":
            out.append(TVM_ON_CPU_NOTE)
        if self.subnormal_assist_s is None:
            out.append(subnormal_warning(self))
        if self.innermost_transpose_s is None:
            out.append(transpose_warning(self))
        if self.elementwise_math_s is None:
            out.append(math_warning(self))
        if self.depthwise_conv1d_s is None:
            out.append(depthwise_warning(self))
        if self.short_gather_s is None:
            out.append(gather_warning(self))
        if self.short_broadcast_s is None:
            out.append(broadcast_warning(self))
        unfused = self._unfused_note()
        if unfused:
            out.append(unfused)
        if any(words in self.latency_note
               for words in (SHEET_CHANGED, BELOW_TRAINING_SCALE, UNTRAINED_FAMILIES, UNTRAINED_DILATION,
                             RECURRENT_REREAD, RECURRENT_UNROLLED)):
            out.append(f"latency {self.latency_note}")  # fitted to other sheet figures, extrapolated, or not learned
        peak, cap = self.peak_memory_bytes, self.spec.dram.capacity_bytes
        # bytes as the reports print them: a device of a few hundred KiB read "0.00 GiB" until 2026-12-03
        if peak is not None and cap is not None and peak > cap:
            out.append(
                f"predicted peak memory {bytes_text(peak)} exceeds {self.spec.id}'s {bytes_text(cap)} of memory; "
                "the model does not fit (lower the batch or the precision)"
            )
        elif peak is None and cap is not None and self.memory.input_bytes > cap:  # no plan, yet the inputs alone
            out.append(
                f"the inputs alone ({bytes_text(self.memory.input_bytes)}) exceed {self.spec.id}'s "
                f"{bytes_text(cap)} of memory; the model does not fit (lower the batch or the precision)"
            )
        return tuple(out)

    def _unfused_note(self) -> str:
        """What ``--no-fuse`` (``fused=False``) did not change, or "": a latency priced on the launches of a runtime
        that launches one kernel per op (eager PyTorch, CUDA graphs: :attr:`execution`) is the same with or without
        TVM's fusion, and so are the energy (priced on those launches) and that runtime's peak. Until 2026-12-04
        ``check``, ``mig`` and ``predict-many`` printed the same figures with ``--no-fuse`` as without, unsaid."""
        if self.analyzed.fused or self.execution is None:
            return ""
        from hybridperf.estimate.execution import EXECUTIONS, Granularity
        from hybridperf.estimate.runtime_memory import Runtime

        try:
            ex = EXECUTIONS.get(Runtime(self.execution.runtime))
        except ValueError:
            return ""
        if ex is None or ex.granularity is not Granularity.PER_OP:
            return ""
        rt = ex.runtime.value
        return (f"--no-fuse: runtime {rt} launches one kernel per op already; latency, energy and {rt}'s peak memory "
                "are the same without --no-fuse (only the roofline figure and the TVM plan are of unfused kernels)")

    @property
    def flops(self) -> int:
        return self.analyzed.analysis.flops

    @property
    def unpriced_reason(self) -> str:
        """Why the latency and energy of a model whose every op has a cost are unknown: no time was priced (every op
        is zero-cost, views such as a lone Reshape: no kernel launches) and nothing prices the runtime's call itself
        (:data:`NO_CALL_OVERHEAD`); "" where some time was priced, or where some op has no cost
        (:attr:`lower_bound_reason` says why then).

        A GPU sheet's execution model adds its synchronisation once per inference (10 us), and a CPU sheet that gives
        the runtime's ``call_overhead`` prices that (:func:`with_call_overhead`, since 2026-12-05), so only another CPU
        sheet, an NPU sheet, or ``--roofline-only``, leaves a latency of 0 here. Until 2026-12-05 such a model read ``latency 0.0
        us`` and ``energy 0.0 uJ`` on a CPU sheet, and ``check --max-latency`` passed it: a runtime call is never free.
        """
        if self.latency_s or not self.complete:
            return ""
        runtime = _runtime_name(self.runtime or (self.execution.runtime if self.execution is not None else None),
                                self.spec)
        # the sheet gives the call's overhead, yet it is not priced: a roofline's prediction (with_call_overhead)
        why = ROOFLINE_NO_CALL if runtime in self.spec.call_overhead_s else NO_CALL_OVERHEAD
        return why.format(runtime=runtime, device=self.spec.id)

    @property
    def latency_reason(self) -> str:
        """What the reports say beside the latency: why it is a lower bound (:attr:`lower_bound_reason`) or unknown
        (:attr:`unpriced_reason`), else where it comes from in a model that launches no kernel
        (:attr:`call_overhead_note`: the sheet's per-call overhead); "" for a latency priced on kernels. The one home
        of the reason ``predict``'s table, the HTML report's latency card and ``annotate``'s header line print."""
        bound = "; ".join(r for r in (self.lower_bound_reason, self.unpriced_terms_reason and
                                      f"lower bound: {self.unpriced_terms_reason}") if r)
        return bound or self.unpriced_reason or self.call_overhead_note

    @property
    def unknown_figures(self) -> tuple[str, ...]:
        """The figures of this prediction that are unknown: a lower bound of 0 (``latency_s``, ``roofline_latency_s``,
        ``energy_j``, ``flops`` when nothing was priced; a model of only uncosted ops on a CPU sheet), or the latency
        and energy of a model that launches no kernel where the runtime's per-call overhead is not modelled
        (:attr:`unpriced_reason`: its roofline of 0 and its FLOPs stay, they are exact). Their value stays a number
        (0.0) as the type says, and reads ``unknown`` in every report (``totals.unknown_fields`` in JSON); a caller
        comparing figures checks this first (as ``check`` does: exit 2)."""
        if self.complete:
            return ("latency_s", "energy_j") if self.unpriced_reason else ()
        return tuple(k for k in ("latency_s", "roofline_latency_s", "energy_j", "flops") if not getattr(self, k))

    def __repr__(self) -> str:
        # the generated repr would print every kernel, op record and the Relax module (~100 k characters)
        peak = self.peak_memory_bytes
        return (f"Prediction(source={self.analyzed.source!r}, device={self.spec.id!r}, precision={self.precision!r}, "
                f"latency_s={self.latency_s:.6g}, energy_j={self.energy_j:.6g}, "
                f"peak_memory_bytes={peak if peak is None else int(peak)}, flops={self.flops}, "
                f"kernels={len(self.kernels)}, calibration={self.calibration.split(';')[0]!r}"  # first clause only
                + (f", lower_bound={self.lower_bound_reason!r}" if self.lower_bound_reason else "")
                + (f", unknown={self.unknown_figures!r}" if self.unknown_figures else "") + ")")


def _runtime_name(runtime: Any, spec: DeviceSpec) -> str:
    """The name of the runtime a prediction on ``spec`` is for: ``runtime`` (a
    :class:`~hybridperf.estimate.runtime_memory.Runtime` or its name), or where None the sheet kind's default
    (onnxruntime on a CPU), what ``predict`` names."""
    from hybridperf.estimate.runtime_memory import Runtime, default_runtime

    if runtime is None:
        return default_runtime(spec.kind).value
    try:
        return Runtime(runtime).value
    except ValueError:
        return str(runtime)


def with_call_overhead(pred: Prediction, runtime: Any) -> Prediction:
    """``pred`` with the latency and energy of one runtime call where it launches no kernel: a model whose every op
    has a cost and none takes time (views only, :attr:`Prediction.unpriced_reason`) priced on a sheet that gives
    ``runtime``'s per-call overhead (:attr:`~hybridperf.device.spec.DeviceSpec.call_overhead_s`, e.g. onnxruntime's
    ``session.run`` as ``hybridperf probe`` measured it). The latency is that overhead, the energy its time x the
    sheet's idle power (the static power a CPU prediction prices per second; no kernel does dynamic work), with
    :data:`CALL_OVERHEAD_NOTE` saying so; ``pred`` itself elsewhere (its figures stay unknown where it launches no
    kernel). The roofline (0: no work) is left as it is.

    A model that launches kernels is not changed: its learned model's fitted constant stands for the call already,
    and adding the overhead would move every figure priced before.

    Parameters
    ----------
    pred : Prediction
        Priced with a learned model (not ``--roofline-only``, which prices no call).
    runtime : Runtime, str or None
        The runtime ``pred`` is for (None: the sheet kind's default).

    Returns
    -------
    Prediction
        ``pred`` or its priced copy.
    """
    if pred.latency_s or not pred.complete:  # some time priced, or some op without a cost: not unpriced_reason's
        return pred
    name = _runtime_name(runtime, pred.spec)
    overhead = pred.spec.call_overhead_s.get(name)
    if overhead is None:
        return pred
    how = "measured" if f"call_overhead.{name}" in pred.spec.measured else "the"
    note = CALL_OVERHEAD_NOTE.format(runtime=name, device=pred.spec.id, how=how)
    return replace(pred, latency_s=overhead, energy_j=pred.spec.idle_power_w * overhead, call_overhead_note=note)


#: :attr:`Prediction.subnormal_note` of a priced assist term
SUBNORMAL_NOTE = ("subnormal assists {time} included: a mask of about -100 before {softmaxes} makes {outputs} "
                  "float32 subnormal probabilities, read by {macs} multiply-adds ({device}'s {how} subnormal_assist "
                  "figures); onnxruntime's session.set_denormal_as_zero=1 removes them on its intra-op pool threads, "
                  "not on the thread that calls run")
#: the warning where they are not priced (:attr:`Prediction.subnormal_assist_s` None)
SUBNORMAL_UNPRICED = ("a mask of about -100 before {softmaxes} makes {outputs} float32 subnormal probabilities, read "
                      "by {macs} multiply-adds: x86 cores take microcode assists on them (2.4 ns per multiply-add on "
                      "one thread of an Intel Xeon, family 6 model 167, 2026-12-06), not priced here ({why})")


#: the warning where a mask computed in the graph could not be evaluated (:attr:`OpRecord.subnormal_unknown`)
SUBNORMAL_UNCOUNTED = ("a mask computed in the graph from a literal of about -100 is added before {softmaxes}; it "
                       "could not be evaluated, so the float32 subnormals it makes (x86 cores take microcode assists "
                       "on them) are neither counted nor priced")


def _subnormal_counts(pred: Prediction) -> tuple[int, int, int, int]:
    """(softmaxes, subnormal outputs, multiply-adds reading them, softmaxes whose mask could not be evaluated) of the
    ops ``pred`` runs."""
    an = pred.analyzed.analysis
    run = [r for r in an.records if r.counts_toward_time]
    return (sum(1 for r in run if r.subnormal_outputs), *an.subnormal_work, sum(1 for r in run if r.subnormal_unknown))


def subnormal_assist_time_s(spec: DeviceSpec, outputs: int, macs: int) -> float:
    """The assists of ``outputs`` subnormal softmax outputs and ``macs`` multiply-adds reading them at ``spec``'s
    ``subnormal_assist`` figures (both given: the caller checks)."""
    return macs * spec.subnormal_mac_s + outputs * spec.subnormal_softmax_s


def subnormal_warning(pred: Prediction) -> str:
    """The warning of a prediction whose model makes subnormals that are not priced (:data:`SUBNORMAL_UNPRICED`), or
    whose mask could not be evaluated (:data:`SUBNORMAL_UNCOUNTED`)."""
    softmaxes, outputs, macs, uncounted = _subnormal_counts(pred)
    if uncounted:
        return SUBNORMAL_UNCOUNTED.format(softmaxes=plural(uncounted, "softmax", "softmaxes"))
    name = _runtime_name(pred.runtime, pred.spec)
    why = (f"{pred.spec.id} gives no subnormal_assist figures; `hybridperf probe` on the machine measures them"
           if name == "onnxruntime" else f"the figures are onnxruntime's and this prediction is for {name}")
    return SUBNORMAL_UNPRICED.format(softmaxes=plural(softmaxes, "softmax", "softmaxes"), outputs=f"{outputs:,}",
                                     macs=f"{macs:,}", why=why)


def with_subnormal_assists(pred: Prediction, runtime: Any) -> Prediction:
    """``pred`` with the assists its model's own float32 subnormals cost on a CPU (:mod:`hybridperf.analysis.subnormal`).

    Swin's shifted-window attention adds -100 before its softmax; the probabilities there are subnormal and the
    matrix product that reads them multiplies subnormal operands. An x86 core without flush-to-zero / denormals-are-
    zero (onnxruntime sets neither on the thread that calls ``run``) takes a microcode assist for each: on one
    thread of an Intel Xeon 2.4 ns per such multiply-add against 0.03 ns for a normal one. The term is the counts
    times the sheet's ``subnormal_assist`` figures (``hybridperf probe``), added to the latency (and its time x idle
    power to the energy) after the roofline or learned figure, which is priced on the shapes alone. ``pred`` as it is
    where the model makes none or the sheet is not a CPU's; :attr:`Prediction.subnormal_assist_s` None (unknown, with
    a warning) where the sheet gives no figures or the runtime is not onnxruntime.
    """
    if pred.spec.kind != "cpu":
        return pred
    softmaxes, outputs, macs, uncounted = _subnormal_counts(pred)
    if uncounted:
        return replace(pred, subnormal_assist_s=None)
    if not (outputs or macs):
        return pred
    mac_s, softmax_s = pred.spec.subnormal_mac_s, pred.spec.subnormal_softmax_s
    if _runtime_name(runtime, pred.spec) != "onnxruntime" or mac_s is None or softmax_s is None:
        return replace(pred, subnormal_assist_s=None)
    extra = subnormal_assist_time_s(pred.spec, outputs, macs)
    how = "measured" if "subnormal_assist.mac" in pred.spec.measured else "the"
    note = SUBNORMAL_NOTE.format(time=f"+{extra * 1e3:.3g} ms", softmaxes=plural(softmaxes, "softmax", "softmaxes"),
                                 outputs=f"{outputs:,}", macs=f"{macs:,}", device=pred.spec.id, how=how)
    return _with_extra_time(pred, extra, subnormal_assist_s=extra, subnormal_note=note)


def _with_extra_time(pred: Prediction, extra_s: float, **term: Any) -> Prediction:
    """``pred`` with a term priced outside the learned model (``term``: its fields, e.g. ``subnormal_assist_s`` and
    its note): ``extra_s`` added to the latency and ``extra_s`` x idle power to the energy, unless nothing was priced
    (the figures stay unknown, the term with them)."""
    if not pred.latency_s and not pred.complete:
        return replace(pred, **term)
    return replace(pred, latency_s=pred.latency_s + extra_s,
                   energy_j=pred.energy_j + pred.spec.idle_power_w * extra_s, **term)


#: :attr:`Prediction.innermost_transpose_note` of a priced term
TRANSPOSE_NOTE = ("transposes {time} included: {transposes} move the innermost axis other than as a 2-D transpose "
                  "({elements} elements; onnxruntime copies them element by element), at {device}'s {how} "
                  "transpose.innermost figure over a copy that keeps the innermost axis")
#: the warning where they are not priced (:attr:`Prediction.innermost_transpose_s` None)
TRANSPOSE_UNPRICED = ("{transposes} move the innermost axis other than as a 2-D transpose ({elements} elements): "
                      "onnxruntime copies them element by element, about 3 ns per element more than a copy that "
                      "keeps the innermost axis on a Zen 4 and a Sapphire Rapids Xeon (2026-12-06), not priced here "
                      "({why})")


def _unpriced_why(pred: Prediction, lacking: str, one: bool = False) -> str:
    """Why a term of onnxruntime's probed figures is not priced: the sheet gives no ``lacking`` (and the probe that
    measures it), or the prediction is for another runtime; ``one``: a single figure."""
    name = _runtime_name(pred.runtime, pred.spec)
    if name != "onnxruntime":
        return f"the figure{'' if one else 's'} {'is' if one else 'are'} onnxruntime's and this prediction is for {name}"
    # the cached sheet of --device host was probed before the probe timed these (2026-12-06 / 07): `probe --host`
    # renews it
    probe = "`hybridperf probe --host` probes this machine again" if pred.spec.id == HOST_ID else \
        f"`hybridperf probe` on the machine measures {'it' if one else 'them'}"
    return f"{pred.spec.id} gives no {lacking}; {probe}"


def transpose_warning(pred: Prediction) -> str:
    """The warning of a prediction whose model has transposes that move the innermost axis and are not priced
    (:data:`TRANSPOSE_UNPRICED`)."""
    transposes, elements = pred.analyzed.analysis.innermost_transposes
    why = _unpriced_why(pred, "transpose.innermost figure", one=True)
    return TRANSPOSE_UNPRICED.format(transposes=plural(transposes, "transpose"), elements=f"{elements:,}", why=why)


def with_innermost_transposes(pred: Prediction, runtime: Any) -> Prediction:
    """``pred`` with the extra time of its transposes that move the innermost axis other than as a 2-D transpose
    (:mod:`hybridperf.analysis.transpose`) on a CPU.

    onnxruntime's CPU Transpose copies such a permutation element by element: 3.35-3.86 ns per float32 element on a
    Zen 4 and a Sapphire Rapids Xeon against 0.31-0.46 ns for one that keeps the innermost axis
    (``benchmarks/results/transpose_cost.md``). The roofline prices a transpose by its bytes and the learned model
    by what such kernels cost in its training rows, where they are rare (MobileViT-small alone, about 3 % of its
    time on a Zen 4); the term is the counted input
    elements times the sheet's ``transpose.innermost`` figure (the extra per element over a copy that keeps the
    innermost axis, ``hybridperf probe``), added to the latency (and its time x idle power to the energy). ``pred``
    as it is where the model has none or the sheet is not a CPU's; :attr:`Prediction.innermost_transpose_s` None
    (unknown, with a warning) where the sheet gives no figure or the runtime is not onnxruntime.
    """
    if pred.spec.kind != "cpu":
        return pred
    transposes, elements = pred.analyzed.analysis.innermost_transposes
    return _one_figure_term(pred, runtime, elements, pred.spec.innermost_transpose_s_per_element,
                            "transpose.innermost", "innermost_transpose_s",
                            lambda time, how: TRANSPOSE_NOTE.format(
                                time=time, transposes=plural(transposes, "transpose"), elements=f"{elements:,}",
                                device=pred.spec.id, how=how))


def _one_figure_term(pred: Prediction, runtime: Any, amount: int, figure: float | None, key: str, field: str,
                     note: Callable[[str, str], str]) -> Prediction:
    """``pred`` with a term of one probed figure of a CPU sheet: ``amount`` (elements, blocks) x ``figure`` (the
    sheet's ``key``, seconds each) in ``field`` of :data:`OUTSIDE_TERMS` and its note (``note(time, how)``: the time
    added, and "measured" or "the" as the sheet marks the figure); ``pred`` as it is where ``amount`` is 0; ``field``
    None (unknown, with a warning) where the sheet gives no figure or the runtime is not onnxruntime."""
    if not amount:
        return pred
    if _runtime_name(runtime, pred.spec) != "onnxruntime" or figure is None:
        return replace(pred, **{field: None})
    extra = amount * figure
    how = "measured" if key in pred.spec.measured else "the"
    return _with_extra_time(pred, extra, **{field: extra, OUTSIDE_TERMS[field][0]: note(f"+{extra * 1e3:.3g} ms", how)})


#: :attr:`Prediction.elementwise_math_note` of a priced term
MATH_NOTE = ("element-wise math {time} included: {counts} float32 elements that onnxruntime evaluates one element at "
             "a time, at {device}'s {how} elementwise_math figures over a copy")
#: the warning where they are not priced (:attr:`Prediction.elementwise_math_s` None)
MATH_UNPRICED = ("{counts} float32 elements of element-wise math that onnxruntime evaluates one element at a time: "
                 "about 1.5-13 ns per element more than a copy on a Zen 4 (2026-12-07), not priced here ({why})")


def _per_key(elements: dict[str, int]) -> str:
    """``sin 1,024 / log 64``: counts per sheet key (elements per function, multiply-adds per class), in the sheet's
    order."""
    return " / ".join(f"{k} {n:,}" for k, n in elements.items())


def math_warning(pred: Prediction) -> str:
    """The warning of a prediction whose model has element-wise math onnxruntime evaluates one element at a time that
    is not priced (:data:`MATH_UNPRICED`)."""
    elements = pred.analyzed.analysis.math_elements
    missing = [k for k in elements if k not in pred.spec.elementwise_math_s_per_element]
    why = _unpriced_why(pred, f"elementwise_math figure for {', '.join(missing)}")
    return MATH_UNPRICED.format(counts=_per_key(elements), why=why)


def with_elementwise_math(pred: Prediction, runtime: Any) -> Prediction:
    """``pred`` with the extra time of the element-wise math onnxruntime evaluates one element at a time on a CPU
    (:mod:`hybridperf.analysis.elementwise_math`: ``sin``, ``cos``, ``tan``, ``log``, and the activations
    ``Softplus``, ``Mish``, ``Elu``, ``Selu`` that onnxruntime runs with kernels of their own).

    The roofline prices such an op as one FLOP per element and the learned CPU models as the cheap element-wise work
    of their training rows, which hold these functions only in a few thousand elements; onnxruntime takes 1.7-1.9 ns
    per element for them on a Zen 4 with one thread against 0.35 ns for a copy. The term is each function's counted
    float32 output elements times the sheet's ``elementwise_math`` figure for it (the extra per element over a copy,
    ``hybridperf probe``), added to the latency (and its time x idle power to the energy). ``pred`` as it is where the
    model has none or the sheet is not a CPU's; :attr:`Prediction.elementwise_math_s` None (unknown, with a warning)
    where the sheet lacks a figure of a function the model has or the runtime is not onnxruntime.
    """
    if pred.spec.kind != "cpu":
        return pred
    elements = pred.analyzed.analysis.math_elements
    if not elements:
        return pred
    figures = pred.spec.elementwise_math_s_per_element
    if _runtime_name(runtime, pred.spec) != "onnxruntime" or any(k not in figures for k in elements):
        return replace(pred, elementwise_math_s=None)
    extra = sum(n * figures[k] for k, n in elements.items())
    how = "measured" if all(f"elementwise_math.{k}" in pred.spec.measured for k in elements) else "the"
    note = MATH_NOTE.format(time=f"+{extra * 1e3:.3g} ms", counts=_per_key(elements), device=pred.spec.id,
                            how=how)
    return _with_extra_time(pred, extra, elementwise_math_s=extra, elementwise_math_note=note)


#: :attr:`Prediction.depthwise_conv1d_note` of a priced term
DEPTHWISE_NOTE = ("depthwise 1-D convolutions {time} included: {convs} ({counts}; onnxruntime runs one "
                  "small product per channel) priced at {probed} from {device}'s {how} depthwise_conv1d figures "
                  "instead of {was}")
#: the warning where they are not priced so (:attr:`Prediction.depthwise_conv1d_s` None)
DEPTHWISE_UNPRICED = ("{convs} ({counts}): onnxruntime runs one small product per channel, 1.2 to 33 "
                      "times their roofline on a Zen 4 (2026-12-07), and no learned model was trained on one; priced "
                      "at their roofline here ({why})")


def _depthwise_parts(pred: Prediction) -> tuple[int, dict[str, tuple[int, int]], list[str]]:
    """(depthwise 1-D convolutions that run, their (multiply-adds, outputs) per class, the sheet figures they need)."""
    from hybridperf.analysis.depthwise1d import depthwise_key

    convs = sum(1 for r in pred.analyzed.analysis.records if r.counts_toward_time and depthwise_key(r) is not None)
    work = pred.analyzed.analysis.depthwise_conv1d_work
    return convs, work, [f"{k}_{part}" for k in work for part in ("mac", "output")]


def _macs_text(work: dict[str, tuple[int, int]]) -> str:
    """``conv 1,024 multiply-adds / 128 outputs; ...`` per class."""
    return "; ".join(f"{k} {m:,} multiply-adds / {o:,} outputs" for k, (m, o) in work.items())


def depthwise_warning(pred: Prediction) -> str:
    """The warning of a prediction whose model has depthwise 1-D convolutions not priced at probed figures
    (:data:`DEPTHWISE_UNPRICED`)."""
    convs, work, needed = _depthwise_parts(pred)
    missing = [k for k in needed if k not in pred.spec.depthwise_conv1d_s_per_item]
    why = _unpriced_why(pred, f"depthwise_conv1d figure for {', '.join(missing)}")
    return DEPTHWISE_UNPRICED.format(convs=plural(convs, "depthwise 1-D convolution"), counts=_macs_text(work),
                                     why=why)


def depthwise_kernel_terms(pred: Prediction) -> list[tuple[float, float]]:
    """``(time at the sheet's depthwise_conv1d figures, price it had)`` of each kernel of ``pred`` (``(0, 0)`` for a
    kernel holding no depthwise 1-D convolution); every figure the model needs is on the sheet (the caller checks).
    The one place :func:`with_depthwise_conv1d` and the training tables' kernel rows
    (:func:`hybridperf.residual.features.kernel_depthwise_s`) take these from."""
    from hybridperf.analysis.depthwise1d import depthwise_work, priced_s

    records, figures = pred.analyzed.analysis.records, pred.spec.depthwise_conv1d_s_per_item
    out = []
    for kp in pred.kernels:
        work = depthwise_work(records[j] for j in kp.kernel.op_indices)
        out.append((priced_s(work, figures), kp.latency_s) if work else (0.0, 0.0))
    return out


def with_depthwise_conv1d(pred: Prediction, runtime: Any) -> Prediction:
    """``pred`` with its depthwise 1-D convolutions priced at the CPU sheet's probed ``depthwise_conv1d`` figures
    (:mod:`hybridperf.analysis.depthwise1d`).

    onnxruntime runs such a convolution as one small matrix product per channel, 1.2 to 33 times its roofline on a
    Zen 4 (``benchmarks/results/depthwise_conv1d.md``), and no learned CPU model was trained on one (a kernel holding
    one is priced at its roofline by them). Each such kernel's time becomes its convolutions' multiply-adds and output
    elements at the sheet's figures of their class (seconds per multiply-add and per output element, ``hybridperf
    probe``; :func:`depthwise_kernel_terms`); the difference from the price the kernel had is the term, added to the
    latency (and its time x idle power to the energy). ``pred`` as it is where the
    model has none or the sheet is not a CPU's; :attr:`Prediction.depthwise_conv1d_s` None (unknown, with a warning)
    where the sheet lacks a figure of a class the model has or the runtime is not onnxruntime.
    """
    if pred.spec.kind != "cpu":
        return pred
    convs, work, needed = _depthwise_parts(pred)
    if not work:
        return pred
    if _runtime_name(runtime, pred.spec) != "onnxruntime" or any(k not in pred.spec.depthwise_conv1d_s_per_item
                                                                  for k in needed):
        return replace(pred, depthwise_conv1d_s=None)
    terms = depthwise_kernel_terms(pred)
    probed, was = sum(p for p, _ in terms), sum(w for _, w in terms)
    extra = probed - was
    how = "measured" if all(f"depthwise_conv1d.{k}" in pred.spec.measured for k in needed) else "the"
    note = DEPTHWISE_NOTE.format(time=f"{extra * 1e3:+.3g} ms", convs=plural(convs, "convolution"),
                                 counts=_macs_text(work), probed=f"{probed * 1e3:.3g} ms", device=pred.spec.id,
                                 how=how, was=f"{was * 1e3:.3g} ms")
    return _with_extra_time(pred, extra, depthwise_conv1d_s=extra, depthwise_conv1d_note=note)


#: :attr:`Prediction.short_gather_note` of a priced term
GATHER_NOTE = ("gathers {time} included: {gathers} copy {blocks} blocks shorter than {short} elements (onnxruntime "
               "copies one block at a time), at {device}'s {how} gather.block figure over a copy of their elements")
#: the warning where they are not priced (:attr:`Prediction.short_gather_s` None)
GATHER_UNPRICED = ("{gathers} copy {blocks} blocks shorter than {short} elements: onnxruntime copies one block at a "
                   "time, about 7 ns a block more than a copy of its elements on a Zen 4 with 1 thread (2026-12-07), "
                   "not priced here ({why})")


def _gather_words(gathers: int, blocks: int) -> dict[str, str]:
    """The counts :data:`GATHER_NOTE` and :data:`GATHER_UNPRICED` name (``ModelAnalysis.short_gathers``)."""
    from hybridperf.analysis.gather import SHORT_BLOCK_ELEMENTS

    return {"gathers": plural(gathers, "gather"), "blocks": f"{blocks:,}", "short": str(SHORT_BLOCK_ELEMENTS)}


def gather_warning(pred: Prediction) -> str:
    """The warning of a prediction whose model has gathers of many short blocks that are not priced
    (:data:`GATHER_UNPRICED`)."""
    return GATHER_UNPRICED.format(**_gather_words(*pred.analyzed.analysis.short_gathers),
                                  why=_unpriced_why(pred, "gather.block figure", one=True))


def with_short_gathers(pred: Prediction, runtime: Any) -> Prediction:
    """``pred`` with the extra time of its gathers that copy many short blocks (:mod:`hybridperf.analysis.gather`) on
    a CPU.

    onnxruntime's CPU Gather copies one block per index (and per position before the gathered axis), about 7 ns a
    block beyond the copy of its elements on a Zen 4 with one thread: 7.7 ns an element in blocks of one element
    against 0.41 for a copy (``benchmarks/results/gather_blocks.md``). The roofline prices a gather by the bytes of
    its index and of the rows it selects and the learned model as the gathers of its training rows, whose blocks are
    long or few; the term is the counted blocks times the sheet's ``gather.block`` figure (the extra per block over a
    copy of its elements, ``hybridperf probe``), added to the latency (and its time x idle power to the energy).
    ``pred`` as it is where the model has none or the sheet is not a CPU's; :attr:`Prediction.short_gather_s` None
    (unknown, with a warning) where the sheet gives no figure or the runtime is not onnxruntime.
    """
    if pred.spec.kind != "cpu":
        return pred
    gathers, blocks = pred.analyzed.analysis.short_gathers
    return _one_figure_term(pred, runtime, blocks, pred.spec.gather_s_per_block, "gather.block", "short_gather_s",
                            lambda time, how: GATHER_NOTE.format(time=time, **_gather_words(gathers, blocks),
                                                                 device=pred.spec.id, how=how))


#: :attr:`Prediction.short_broadcast_note` of a priced term
BROADCAST_NOTE = ("broadcasts {time} included: {ops} broadcast over {spans} spans shorter than {short} elements "
                  "(onnxruntime runs one span at a time), at {device}'s {how} broadcast.span figure over their work")
#: the warning where they are not priced (:attr:`Prediction.short_broadcast_s` None)
BROADCAST_UNPRICED = ("{ops} broadcast over {spans} spans shorter than {short} elements: onnxruntime runs one span "
                      "at a time, about 9 ns a span more than the op without broadcast on a Zen 4 with 1 thread "
                      "(2026-12-07), not priced here ({why})")


def _broadcast_words(ops: int, spans: int) -> dict[str, str]:
    """The counts :data:`BROADCAST_NOTE` and :data:`BROADCAST_UNPRICED` name (``ModelAnalysis.short_broadcasts``)."""
    from hybridperf.analysis.broadcast import SHORT_SPAN_ELEMENTS

    return {"ops": plural(ops, "element-wise op"), "spans": f"{spans:,}", "short": str(SHORT_SPAN_ELEMENTS)}


def broadcast_warning(pred: Prediction) -> str:
    """The warning of a prediction whose model has element-wise ops broadcasting over many short spans that are not
    priced (:data:`BROADCAST_UNPRICED`)."""
    return BROADCAST_UNPRICED.format(**_broadcast_words(*pred.analyzed.analysis.short_broadcasts),
                                     why=_unpriced_why(pred, "broadcast.span figure", one=True))


def with_short_broadcasts(pred: Prediction, runtime: Any) -> Prediction:
    """``pred`` with the extra time of its element-wise ops that broadcast over many short spans
    (:mod:`hybridperf.analysis.broadcast`) on a CPU.

    onnxruntime's CPU ``Add``, ``Sub``, ``Mul`` and ``Div`` run a broadcast one span at a time, about 9 ns a span
    beyond the op's work on a Zen 4 with one thread (0.73 ns an element in spans of 16 against 0.18 without broadcast;
    plan (26) of CHANGELOG 2026-12-07). The roofline prices such an op by its bytes and the learned model as the
    element-wise work of its training rows, whose spans are long or few; the term is the counted spans times the
    sheet's ``broadcast.span`` figure (``hybridperf probe``), added to the latency (and its time x idle power to the
    energy). ``pred`` as it is where the model has none or the sheet is not a CPU's;
    :attr:`Prediction.short_broadcast_s` None (unknown, with a warning) where the sheet gives no figure or the
    runtime is not onnxruntime.
    """
    if pred.spec.kind != "cpu":
        return pred
    ops, spans = pred.analyzed.analysis.short_broadcasts
    return _one_figure_term(pred, runtime, spans, pred.spec.broadcast_s_per_span, "broadcast.span",
                            "short_broadcast_s",
                            lambda time, how: BROADCAST_NOTE.format(time=time, **_broadcast_words(ops, spans),
                                                                    device=pred.spec.id, how=how))


def _precision_fallbacks(kernels: tuple[KernelPrediction, ...], precision: str | None) -> list[tuple[str, list[str]]]:
    """``(precision, the peaks it was priced at instead)`` for each precision the sheet has no peak for that a
    time-taking kernel is priced at: the override's (``precision``) for float32 kernels and those already at it, the
    kernel's own for the rest (not ``int32``, priced on the fp32 path by design)."""
    used: dict[str, set[str]] = {}
    for kp in kernels:
        own = kp.kernel.precision
        wanted = precision if precision is not None and own in ("fp32", precision) else own
        if not kp.kernel.counts_toward_time or wanted in ("fp32", "int32", "none"):
            continue
        if kp.estimate.precision not in (wanted, "none"):
            used.setdefault(wanted, set()).add(kp.estimate.precision)
    return [(p, sorted(u)) for p, u in sorted(used.items(), key=lambda pu: (pu[0] != precision, pu[0]))]  # override first


def price(
    cost: OpCost,
    op_precision: str,
    spec: DeviceSpec,
    precision: str | None = None,
    compute_share: float = 1.0,
    memory_share: float = 1.0,
    in_node: bool = False,
) -> RooflineEstimate:
    """The one pricing function: an op's or kernel's ``cost`` (run at ``op_precision``) under the
    precision override (:func:`priced_cost`) on ``spec``, or on a slice of it holding
    ``compute_share`` of its compute and ``memory_share`` of its bandwidth (a MIG profile); ``in_node``: without
    the launch overhead (:func:`~hybridperf.estimate.roofline.roofline`, :func:`runs_in_node`)."""
    cost, prec = priced_cost(cost, op_precision, precision)
    return roofline(cost, spec, prec, compute_share=compute_share, memory_share=memory_share, in_node=in_node)


class RooflineMemo:
    """The :func:`price` of each cost priced before on a device sheet (whole device): what a
    :class:`~hybridperf.api.Session` keeps so that the kernels a sweep's models share are priced once per sheet.

    :func:`price` is a pure function of the cost, its precision, the precision override and the sheet, so the memo
    answers with the very estimate :func:`price` returned (the same figures as without). A sheet is keyed by its id
    and held by identity: another sheet object with that id (an edited copy) starts that id's memo afresh. At most
    ``max_entries`` estimates per sheet (the oldest dropped first) and ``max_sheets`` sheets (the least recently
    added dropped first).

    Parameters
    ----------
    max_entries : int
        Estimates kept per sheet (a few hundred bytes each).
    max_sheets : int
        Sheets kept.
    """

    def __init__(self, max_entries: int = 50_000, max_sheets: int = 16) -> None:
        if max_entries < 1 or max_sheets < 1:
            raise InputError(f"RooflineMemo needs max_entries >= 1 and max_sheets >= 1, got {max_entries}, {max_sheets}")
        self.max_entries = max_entries
        self.max_sheets = max_sheets
        self._sheets: dict[str, tuple[DeviceSpec, dict[tuple[OpCost, str, str | None], RooflineEstimate]]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return sum(len(m) for _, m in self._sheets.values())

    def estimates(self, spec: DeviceSpec) -> dict[tuple[OpCost, str, str | None], RooflineEstimate]:
        """The estimates kept for ``spec`` (keyed by ``(cost, op precision, precision override)``), emptied when
        ``spec`` is not the sheet they were priced on."""
        got = self._sheets.get(spec.id)
        if got is None or got[0] is not spec:
            self._sheets.pop(spec.id, None)
            while len(self._sheets) >= self.max_sheets:
                self._sheets.pop(next(iter(self._sheets)))
            got = self._sheets[spec.id] = (spec, {})
        return got[1]

    def price(self, cost: OpCost, op_precision: str, spec: DeviceSpec, precision: str | None = None,
              in_node: bool = False) -> RooflineEstimate:
        """:func:`price` on the whole device, computed once per cost, precisions, ``in_node`` and sheet."""
        memo = self.estimates(spec)
        key = (cost, op_precision, precision, in_node)
        est = memo.get(key)
        if est is not None:
            self.hits += 1
            return est
        self.misses += 1
        est = memo[key] = price(cost, op_precision, spec, precision, in_node=in_node)
        while len(memo) > self.max_entries:
            memo.pop(next(iter(memo)))
        return est


def llc_share(spec: DeviceSpec, set_bytes: int) -> float | None:
    """The share of a recurrent layer's re-reads ``spec``'s last-level cache serves, given the bytes of weights one
    step reads (``set_bytes``): all of them where they fit its capacity, none otherwise; None where the sheet gives
    no LLC capacity.

    Where a layer stops fitting is not sharper than that on the Zen 4 development host (32 MiB LLC shared by the
    VM's 2 vCPUs and other tenants): onnxruntime re-reading one weight kept the LLC rate up to 16 MiB and reached
    DRAM's by 28 MiB (``calibration/host-epyc-zen4-recurrent/llc_sweep.csv``), but LSTM / GRU layers of 16-25 MiB
    a step ran at DRAM speed with 1 thread and at the LLC's with 2 (``benchmarks/results/recurrent_edge.md``), so a
    share falling from half the LLC to all of it (plan (16) of CHANGELOG 2026-12-07) was worse than this rule with 2
    threads (MAPE 51.4 against 5.9 %) and better with 1 (18.7 against 29.9 %): rejected as planned."""
    llc = spec.memory.get("llc")
    if llc is None or llc.capacity_bytes is None:
        return None
    return 1.0 if set_bytes <= llc.capacity_bytes else 0.0


def l2_holds(spec: DeviceSpec, set_bytes: int) -> bool:
    """Whether the L2 caches of the cores ``spec`` runs on (capacity per core x ``compute_units.count``) hold
    ``set_bytes`` of a recurrent step's weights, on a sheet that gives their rate (``memory.l2.bandwidth``).

    onnxruntime splits a step's product between its threads, so each core's L2 holds its share: with 2 threads on the
    Zen 4 VM a layer of 1 MiB a step ran at about 160 GB/s, the sheet's L2 rate (184.9 GB/s over both cores), against
    131.7 GB/s from the LLC (plan (17) of CHANGELOG 2026-12-07)."""
    l2 = spec.memory.get("l2")
    if l2 is None or l2.capacity_bytes is None or spec.l2_bandwidth_bytes_per_s is None:
        return False
    return set_bytes <= l2.capacity_bytes * (spec.compute_unit_count or 1)


def with_cache_reads(kernel: Kernel, records: Sequence[OpRecord], spec: DeviceSpec) -> OpCost:
    """``kernel``'s cost with the weights its recurrent step products re-read (:mod:`hybridperf.analysis.recurrent`)
    served by a cache, on a CPU sheet that gives its rate: the cores' L2 caches where they hold a step's weights
    (:func:`l2_holds`: :attr:`OpCost.l2_bytes_read`), else the last-level cache where it does (:func:`llc_share`, on a
    sheet with ``memory.llc.bandwidth``: :attr:`OpCost.llc_bytes_read`); else the cost as it is (every byte from
    DRAM). ``records``: the analysis's op records (a kernel's ``op_indices`` index them)."""
    if spec.kind != "cpu":
        return kernel.cost
    # every kernel of every CPU prediction passes here: the sum alone for a kernel that re-reads nothing
    reread = min(sum(records[i].reread_weight_bytes for i in kernel.op_indices), kernel.cost.weight_bytes)
    if not reread:
        return kernel.cost
    step = max(records[i].reread_set_bytes for i in kernel.op_indices)
    if l2_holds(spec, step):
        return replace(kernel.cost, l2_bytes_read=reread)
    share = llc_share(spec, step) if spec.llc_bandwidth_bytes_per_s is not None else None
    if not share:
        return kernel.cost
    return replace(kernel.cost, llc_bytes_read=round(share * reread))


def runs_in_node(kernel: Kernel, records: Sequence[OpRecord], spec: DeviceSpec) -> bool:
    """Whether ``kernel`` runs inside a recurrent node's kernel on ``spec`` without a launch of its own: on a CPU
    (onnxruntime runs an ``LSTM`` / ``GRU`` / ``RNN`` as one node), every op of the kernel unrolled from a recurrent
    node and none a matrix product (the node calls its GEMM for the input product and once a step: each of those
    keeps its dispatch). Plan (18b) of CHANGELOG 2026-12-07: a 128-unit LSTM step's gates cost about 0.2 us on Zen 4
    where two kernels' dispatch (0.53 us) was priced. Other devices launch per step (cuDNN): False."""
    if spec.kind != "cpu" or not kernel.op_indices:
        return False
    return all(records[i].recurrent_node and records[i].op != PRODUCT_OP for i in kernel.op_indices)


def price_kernel(kernel: Kernel, records: Sequence[OpRecord], spec: DeviceSpec, precision: str | None = None,
                 priced: Callable[..., RooflineEstimate] = price) -> RooflineEstimate:
    """A kernel's roofline on ``spec`` as every prediction prices it: its cost with the cache reads of recurrent
    weights (:func:`with_cache_reads`), without a launch where it runs inside a recurrent node
    (:func:`runs_in_node`), through ``priced`` (:func:`price`, or a :class:`RooflineMemo`'s); :data:`ZERO` for a
    kernel that adds no time."""
    if not kernel.counts_toward_time:
        return ZERO
    return priced(with_cache_reads(kernel, records, spec), kernel.precision, spec, precision,
                  in_node=runs_in_node(kernel, records, spec))


#: the reason a CPU prediction of a recurrent model is unverified where its sheet cannot say which cache holds the
#: weights each step re-reads
RECURRENT_REREAD = "recurrent weights re-read every step"
RECURRENT_REREAD_NOTE = (RECURRENT_REREAD + " ({mib:.3g} MiB a step) priced from DRAM: {device}'s "
                         "sheet gives no {what}, and a last-level cache that holds them serves them 2-3x faster "
                         "(measured on Zen 4); {fix}")


#: the reason a prediction of a recurrent model on a device other than a CPU is unverified
RECURRENT_UNROLLED = "recurrent layers priced as their unrolled per-step kernels"
RECURRENT_UNMEASURED = (RECURRENT_UNROLLED + " on {device}, which is not a CPU: cuDNN and other accelerator "
                        "libraries run a layer as a few fused kernels; not measured")


def recurrent_reread_note(analyzed: Analyzed, spec: DeviceSpec) -> str:
    """Why a prediction of a model with recurrent layers is unverified: on a CPU sheet that gives no LLC rate, or no
    LLC capacity, the weights its steps re-read are priced from DRAM; on another device the unrolled layer has not
    been measured (:data:`RECURRENT_UNMEASURED`). "" where the pricing could tell which cache serves them, and for a
    model without such a layer."""
    if spec.kind != "cpu":
        recurrent = any(r.recurrent_node and r.counts_toward_time for r in analyzed.analysis.records)
        return RECURRENT_UNMEASURED.format(device=spec.id) if recurrent else ""
    sets = [r.reread_set_bytes for r in analyzed.analysis.records if r.reread_weight_bytes and r.counts_toward_time]
    if not sets:
        return ""
    if l2_holds(spec, max(sets)):
        return ""  # priced at the L2 caches' rate
    share = llc_share(spec, max(sets))
    if share == 0.0 or (share is not None and spec.llc_bandwidth_bytes_per_s is not None):
        return ""  # as large as the LLC (DRAM is right), or priced at the LLC's rate
    what = "LLC capacity" if share is None else "LLC rate (memory.llc.bandwidth)"
    fix = "`hybridperf probe --host`" if spec.id == HOST_ID else "`hybridperf probe` on that machine"
    return RECURRENT_REREAD_NOTE.format(mib=max(sets) / 2**20, device=spec.id, what=what,
                                        fix=f"{fix} measures it")


def priced_cost(cost: OpCost, op_precision: str, precision: str | None) -> tuple[OpCost, str]:
    """An op's or kernel's cost and precision under the override: float32 work (``fp32``) runs at ``precision``,
    other precisions (fp16, int8, and ``int32``: integer and bool index or mask work) as they are; float32 tensors
    shrink with :attr:`Precision.storage_bytes`, tensors of other dtypes keep their bytes. The float32 part of the
    traffic is what the cost gives where it has one (:attr:`OpCost.has_float32_part`: a gather's int64 indices, a
    cast's int64 side), else all of it for an ``fp32`` cost and none for an ``int32`` one."""
    if precision is None or op_precision not in ("fp32", "int32"):
        return cost, op_precision
    prec = precision if op_precision == "fp32" else op_precision
    if cost.has_float32_part:
        parts = ((cost.bytes_read, cost.float32_bytes_read), (cost.bytes_written, cost.float32_bytes_written),
                 (cost.weight_bytes, cost.float32_weight_bytes))
    elif op_precision == "fp32":
        parts = ((cost.bytes_read, cost.bytes_read), (cost.bytes_written, cost.bytes_written),
                 (cost.weight_bytes, cost.weight_bytes))
    else:
        return cost, op_precision
    read, written, weight = (stored_bytes("float32", f32, precision) + total - f32 for total, f32 in parts)
    # the caches' part of the weights shrinks with them
    cached = [round(c * weight / cost.weight_bytes) if c and cost.weight_bytes else 0
              for c in (cost.llc_bytes_read, cost.l2_bytes_read)]
    return OpCost(cost.flops, read, written, weight, llc_bytes_read=cached[0], l2_bytes_read=cached[1]), prec


def priced_memory(analyzed: Analyzed, precision: str | None) -> MemoryPlan:
    """The memory plan with float32 tensors stored as the precision override says; the plan as it is for a model
    whose kernels the override does not re-price (an int8 or fp16 model, :attr:`Prediction.warnings` says so): its
    float32 tensors are then a quantized model's scales and float input, which the override does not re-store."""
    if precision is None or not _repriced(analyzed, precision):
        return analyzed.memory
    a = analyzed.analysis
    by_dtype = a.weight_bytes_by_dtype or {"float32": a.weight_bytes}
    weights = sum(stored_bytes(dt, n, precision) for dt, n in by_dtype.items())
    inputs = sum(stored_bytes(i.dtype, i.nbytes or 0, precision) for i in a.input_infos.values())
    return analyzed.memory.resized(lambda dt, n: stored_bytes(dt, n, precision), weights, inputs)


def _repriced(analyzed: Analyzed, precision: str) -> bool:
    """Whether the override re-prices some kernel that takes time (:func:`priced_cost`: float32 work, or float32
    tensors an ``int32`` kernel reads or writes); when none, the model runs as stored and so does its memory."""
    return any(priced_cost(k.cost, k.precision, precision) != (k.cost, k.precision)
               for k in analyzed.kernels if k.counts_toward_time)


#: the first words of :func:`bounded_energy`'s note, and so of a capped :attr:`Prediction.energy_note`
CAPPED = "capped at max power"


def energy_capped(note: str | None) -> bool:
    """Whether an energy note (:attr:`Prediction.energy_note`) says the energy was capped at the device's max power
    (:func:`bounded_energy`; :func:`energy_note` puts that note first)."""
    return bool(note) and note.startswith(CAPPED)


def bounded_energy(energy_j: float, latency_s: float, spec: DeviceSpec) -> tuple[float, str]:
    """Cap energy at ``max power x latency``: a device cannot average more than its maximum power.

    The sheets' pJ/MAC are upper bounds ((maximum - idle power) over peak MAC rate) and byte energy and
    idle power are added on top, so a model at peak compute or a memory-bound one can imply more than the
    maximum; then the bound holds.
    """
    cap = spec.max_power_w * latency_s
    if latency_s > 0 and energy_j > cap:
        return cap, (
            f"{CAPPED} {spec.max_power_w:g} W x latency (the energy model implied "
            f"{_watts_above(energy_j / latency_s, spec.max_power_w)} W, above the sheet's maximum)"
        )
    return energy_j, ""


def _watts_above(watts: float, limit: float) -> str:
    """``watts`` (above ``limit``) with one decimal, or as many more as it takes to read above ``limit``: a Raspberry
    Pi int8 model at 6.402 W read "capped at max power 6.4 W x latency (the energy model implied 6.4 W, above the
    sheet's maximum)" until 2026-12-03."""
    for decimals in range(1, 13):
        text = f"{watts:.{decimals}f}"
        if float(text) > limit:
            return text
    return f"{watts!r}"


def launched_dynamic_energy_j(kernels: Sequence[KernelPrediction]) -> float:
    """Dynamic energy of a prediction's kernel rows (:attr:`Prediction.kernels`): each row's roofline
    :attr:`~hybridperf.estimate.roofline.RooflineEstimate.dynamic_energy_j`, summed in kernel index order.

    After a learned model (:meth:`ResidualModel.apply`, :meth:`ZeroShotGpu.apply`) the rows are the kernels its
    latency is priced on: TVM's fused kernels on a CPU and under a fused runtime (in kernel order, as
    :func:`predict_on` priced them), else the runtime's launches (eager PyTorch / CUDA graphs: about one kernel per
    op, every intermediate through DRAM), whose index is their launch position; a launch's cost is already at the
    precision override. The rows of uncosted kernels (no time, :data:`~hybridperf.estimate.roofline.ZERO`) add 0.
    Launch order is the order :class:`hybridperf.block_table.BlockTable` composes a variant's launches in, so its
    sum is this one.
    """
    return sum(kp.estimate.dynamic_energy_j for kp in sorted(kernels, key=lambda kp: kp.kernel.index))


#: families of a constant subexpression that stays folded under a runtime that runs the graph as written: a layout
#: change, gather, cast or dequantize of a constant is the exporter's or TVM importer's rewrite of a weight (an ONNX
#: Gemm's transB imports as a permute_dims of W), which the PyTorch module reads as stored
_WEIGHT_PREPARATION = frozenset({"view", "data_movement", "gather", "cast", "quantize"})


def runs_every_call(records: Sequence[OpRecord]) -> list[int]:
    """Indices of the constant subexpressions of ``records`` (ops the cost pass priced as folded) that a runtime that
    does not fold constants (eager PyTorch, its CUDA graphs) computes every call: arithmetic on tensors (a GRU's first
    ``h0 @ W_hh`` from a zero state, its bias add), and a layout change, gather or cast of such a result; not a
    weight's preparation (:data:`_WEIGHT_PREPARATION` of constants only), arithmetic on scalars (Python numbers in
    PyTorch, :func:`hybridperf.estimate.torch_eager.host_side`) nor integer or bool work on constant indices (what
    an importer writes around a gather)."""
    run: list[int] = []
    run_vars: set[str] = set()
    for r in records:
        u = r.unfolded
        if u is None or r.note != FOLDED_NOTE or u.status not in (Status.COUNTED, Status.ESTIMATED):
            continue
        if r.family in _WEIGHT_PREPARATION:
            runs = any(v in run_vars for v in r.read_vars or r.input_vars)
        else:  # index and mask work (int32: TVM's import of a Gather checks its constant indices for < 0) stays
            runs = r.precision != "int32" and any(numel(i.shape or ()) > 1 for i in r.inputs)
        if runs:
            run.append(r.index)
            run_vars.add(r.var)
    return run


#: the note of an op record :func:`folded_records` adds: a node the ONNX normaliser folded, which ``{runtime}`` runs
FOLDED_RUN_NOTE = ("folded by the ONNX normaliser before the cost pass (all inputs constant), run every call by "
                   "{runtime}: one launch")


def folded_records(work: Any, start: int, runtime: str) -> list[OpRecord]:
    """The op records of the nodes the ONNX normaliser folded (``work``, a
    :class:`~hybridperf.frontends.normalize.FoldedWork`), as a runtime that runs them every call launches them: one
    counted record per node, indexed from ``start``, reading no activation (its inputs are constants), named
    ``folded:<its output>``, its op the Relax op the importer writes for it
    (:attr:`~hybridperf.frontends.normalize.FoldedNode.relax_op`), so that it is priced as that op's launches are (the
    cross-device model's element-wise types where it maps, the roofline else). Its cost is one operation per element
    written (:class:`~hybridperf.frontends.normalize.FoldedWork`), its bytes its inputs' and outputs', its inputs as
    the Relax op takes them (scalars only: attributes, none). Empty where ``work`` is None or keeps no node
    (:attr:`~hybridperf.frontends.normalize.FoldedWork.priced`)."""
    if work is None or not work.nodes or not work.priced:
        return []
    registry = _families()
    note = FOLDED_RUN_NOTE.format(runtime=runtime)
    out: list[OpRecord] = []
    for i, node in enumerate(work.kernels):
        ins = tuple(TensorInfo(shape, dtype) for shape, dtype in node.inputs)
        if all(numel(t.shape) <= 1 for t in ins):
            ins = ()  # torch.arange(n), torch.full(shape, v): Python numbers, not tensors (nor host-side values)
        outs = tuple(TensorInfo(shape, dtype) for shape, dtype in node.outputs)
        prec = precision_of([t.dtype for t in ins] or [t.dtype for t in outs])
        ctx = OpContext(node.relax_op, ins, outs)
        cost = with_dtype_split(OpCost(node.elements, node.bytes_read, node.bytes_written), ctx, prec)
        family = registry.family(node.relax_op)
        out.append(OpRecord(start + i, f"folded:{node.name}", node.relax_op,
                            "elementwise" if family == "unknown" else family, Status.COUNTED, cost, ins, outs, (),
                            prec, note))
    return out


@functools.cache
def _families() -> CostRegistry:
    """The cost rules, read for their families only (:func:`folded_records`): built without checking each op name
    against TVM, so pricing a stored analysis needs no TVM (:func:`~hybridperf.costs.default_registry` imports it: 2 s
    and 390 MiB in a process without it, until 2026-12-05); the families are the same."""
    return build_registry(check_exists=False)


#: how the notes of the records :func:`as_run_by` writes begin: a copy that carries one is already run
_RUN_NOTE_STARTS = (RUN_EVERY_CALL_NOTE.split("{runtime}")[0], FOLDED_RUN_NOTE.split("{runtime}")[0])


def as_run_by(analyzed: Analyzed, ex: Execution) -> Analyzed:
    """``analyzed`` as the runtime of ``ex`` (:class:`~hybridperf.estimate.execution.Execution`) runs it.

    A runtime that folds constants (onnxruntime, TVM) gets ``analyzed`` itself; one that runs the graph as written
    (eager PyTorch, CUDA-graph replay) a copy in which every constant subexpression it computes
    (:func:`runs_every_call`) has its cost, status and a note naming the runtime, and takes time in its kernels
    (:func:`~hybridperf.analysis.kernels.with_ops_run`), and in which each node the ONNX normaliser folded that it
    launches (:attr:`~hybridperf.analysis.analyze.Analyzed.folded`) is an op record and a kernel of its own, after
    the others (:func:`folded_records`); ``analyzed`` itself where there is neither. Until 2026-12-04
    every runtime read them as folded: a GRU or LSTM exported with a zero initial state lost its first step's
    ``h0 @ W_hh`` under torch (8 % of the FLOPs of a 10-step GRU with 1024 hidden units). Until 2026-12-05 the
    normaliser's folds (causal masks, rotary tables: 9 launches of a tiny Llama) were only named in a note.

    Idempotent: a copy it made (its records carry the notes it writes) is returned as is, whichever runtime that
    does not fold constants asks (they run the same work; the notes name the first). Until 2026-12-05 a second call
    appended the folded launches again (a tiny Llama's kernels 151, 160, 169; :func:`predict_on` of such a copy
    counted 98,432 FLOPs twice).
    """
    if ex.folds_constants:
        return analyzed
    records = analyzed.analysis.records
    if any(r.note.startswith(_RUN_NOTE_STARTS) for r in records):
        return analyzed
    run = runs_every_call(records)
    extra = folded_records(getattr(analyzed, "folded", None), len(records), ex.runtime.value)
    if not run and not extra:
        return analyzed
    note = RUN_EVERY_CALL_NOTE.format(runtime=ex.runtime.value)
    recs = list(records)
    for i in run:
        u = recs[i].unfolded
        recs[i] = replace(recs[i], status=u.status, cost=u.cost, note=f"{note}; {u.note}" if u.note else note)
    recs += extra
    run += [r.index for r in extra]
    analysis = replace(analyzed.analysis, records=tuple(recs))
    return replace(analyzed, analysis=analysis, kernels=with_ops_run(analyzed.kernels, recs, run))


def _execution_of(runtime: Any, residual: Any, spec: DeviceSpec) -> Execution | None:
    """The :class:`~hybridperf.estimate.execution.Execution` a prediction is priced under: ``runtime``'s where one
    is given, else the learned model's (a zero-shot GPU model prices one runtime); None where neither says (a
    roofline or a CPU model: TVM's fused kernels) or the runtime has no execution mode (tflm)."""
    from hybridperf.estimate.execution import EXECUTIONS, execution
    from hybridperf.estimate.runtime_memory import Runtime

    if runtime is not None:
        rt = Runtime(runtime)
        return execution(rt, spec.kind) if rt in EXECUTIONS else None
    execution_for = getattr(residual, "execution_for", None)
    return execution_for(spec) if execution_for is not None else None


def predict_on(analyzed: Analyzed, device: str | DeviceSpec, precision: str | None = None, residual: Any = None,
               roofline_note: str = "roofline only (--roofline-only)", rooflines: RooflineMemo | None = None,
               runtime: Any = None) -> Prediction:
    """Price an analysis on one device.

    Parameters
    ----------
    precision : str, optional
        Run float32 ops at this precision instead (``tf32``, ``fp16``, ``bf16``, ``fp8``, ``int8``) and
        store float32 tensors as :attr:`Precision.storage_bytes` says: traffic, energy and peak memory follow.
    residual : ResidualModel or None
        The learned correction (:func:`hybridperf.api.predict_on` resolves ``\"auto\"``).
    roofline_note : str
        What the report says when ``residual`` is None: why the figure is the roofline's.
    rooflines : RooflineMemo, optional
        Estimates of costs priced before (a :class:`~hybridperf.api.Session`'s); the same figures as without.
    runtime : Runtime or str, optional
        The runtime the model runs on (a :class:`~hybridperf.estimate.runtime_memory.Runtime` name); None: the one
        ``residual`` prices, if any. One that does not fold constants (eager PyTorch, CUDA graphs) computes constant
        subexpressions every call (:func:`as_run_by`): their FLOPs, traffic and time count.
    """
    spec = device if isinstance(device, DeviceSpec) else load_spec(device)
    ex = _execution_of(runtime, residual, spec)
    # the runtime that runs the model: named, else the residual's execution's (None: neither)
    run_by = runtime if runtime is not None else (ex.runtime if ex is not None else None)
    if ex is not None:
        analyzed = as_run_by(analyzed, ex)
    analyzed, qdq_unverified = as_ort_runs_qdq(analyzed, spec, runtime, precision)
    priced = rooflines.price if rooflines is not None else price
    preds = []
    for k in analyzed.kernels:
        try:
            est = price_kernel(k, analyzed.analysis.records, spec, precision, priced)
        except SpecError as exc:  # no peak for the kernel's precision: the model may say why it has such kernels
            from hybridperf.analysis.int8 import float_work_hint

            hint = (float_work_hint(str(analyzed.source), analyzed.dynamic_quant_ops)
                    if k.precision == "fp32" and precision is None else "")
            if not hint:
                raise
            raise SpecError(f"{exc}{hint}") from exc
        preds.append(KernelPrediction(k, est, est.latency_s))
    roof = sum(p.latency_s for p in preds)
    energy = sum(p.estimate.energy_j for p in preds)
    pred = Prediction(analyzed, spec, precision, tuple(preds), roof, roof, energy, roofline_note,
                      memory_plan=priced_memory(analyzed, precision))
    model = residual
    # nothing priced (a roofline of 0 with uncosted ops): a learned model's constant (10 us on t4) would be no bound,
    # so the figures stay 0, which every report reads as unknown (until 2026-12-03 predict printed ">= 10.0 us")
    if model is not None and not (roof or pred.complete):
        pred = replace(pred, calibration="no op priced, so the learned model is not applied (its constant is no bound)")
    elif model is not None:
        pred = model.apply(pred)
        # static energy follows the corrected latency; dynamic energy is the work of the kernels that latency is
        # priced on: the runtime's launches where the model prices them (until 2026-12-04 TVM's fused kernels: a
        # t4 resnet_like at batch 64 read 12.674 mJ, its 22 launches' work gives 14.788 mJ)
        pred = replace(pred, energy_j=launched_dynamic_energy_j(pred.kernels) + spec.idle_power_w * pred.latency_s)
        # a model that launches no kernel: one runtime call, where the sheet gives its overhead (until 2026-12-05
        # unknown on every CPU sheet, the probe's measured session.run time only words in a source)
        pred = with_call_overhead(pred, run_by)
    pred = with_subnormal_assists(pred, run_by)
    pred = with_innermost_transposes(pred, run_by)
    pred = with_elementwise_math(pred, run_by)
    pred = with_depthwise_conv1d(pred, run_by)
    pred = with_short_gathers(pred, run_by)
    pred = with_short_broadcasts(pred, run_by)
    why = recurrent_reread_note(analyzed, spec)
    if why:
        pred = pred.unverified(why, first=False)
    energy_j, capped = bounded_energy(pred.energy_j, pred.latency_s, spec)
    # the folded nodes ex's runtime runs, priced as its launches by as_run_by: a note, not a qualifier of the latency.
    # Until 2026-12-04 their work was missing from eager PyTorch's latency with nothing to say so; then, for a day, a
    # reason of latency_note (unverified); until 2026-12-05 a note that they were not priced
    power = estimated_power_note(spec)
    if qdq_unverified:
        pred = pred.unverified(qdq_unverified, first=False)
    return replace(pred, energy_j=energy_j, energy_note=energy_note(capped, spec, power), estimated_power_note=power,
                   folded_note=folded_note(pred.analyzed, ex) if ex is not None else "")


#: :func:`as_ort_runs_qdq`'s note where onnxruntime's optimised graph could not be asked ({why}: the reason)
ORT_QDQ_UNCHECKED = ("whether onnxruntime's optimised graph runs some of this model's QDQ convolutions / matmuls in "
                     "float32 (it does on x86 for int8 activations) was not checked ({why}): all priced as int8 "
                     "kernels")
#: the latency's unverified reason where it was not checked
ORT_QDQ_UNVERIFIED = "QDQ convolutions / matmuls priced as int8 kernels, not checked against onnxruntime's optimised graph"


def as_ort_runs_qdq(analyzed: Analyzed, spec: DeviceSpec, runtime: Any = None,
                    precision: str | None = None) -> tuple[Analyzed, str]:
    """``analyzed`` with the QDQ convolutions / matmuls that onnxruntime's optimised graph leaves float32 priced as
    float32 kernels (:func:`hybridperf.analysis.int8.as_float_kernels`) and a load note saying how many
    (:meth:`~hybridperf.analysis.int8.OrtFloatAnchors.note`); ``analyzed`` itself where the model has no int8
    anchor, the sheet is not a CPU, or the runtime is not onnxruntime (``runtime`` None on a CPU sheet: onnxruntime,
    whose timings the CPU models learn). The second item is why the latency is unverified ("" where it is not).

    onnxruntime's x86 build fuses a ``DequantizeLinear -> Conv -> QuantizeLinear`` group into ``QLinearConv`` only
    for uint8 activations: a ``quantize_static`` model with its default int8 activations keeps many float32 (ResNet-18
    11 of 20 convolutions, SqueezeNet 1.1 24 of 26). Until 2026-12-05b every one was priced at the int8 peak. The
    optimised graph is this machine's onnxruntime's (:func:`~hybridperf.estimate.runtime_memory.ort_optimized_model`,
    kept per file): a sheet of an ARM CPU (whose build fuses int8 activations) keeps int8 pricing, and an x86 sheet
    priced on an ARM machine gets a note that nothing was checked. The anchors map to the kernels through
    :attr:`~hybridperf.analysis.analyze.Analyzed.source_nodes` or their order
    (:func:`~hybridperf.analysis.int8.anchor_records`). Where the graph cannot be asked (onnxruntime not installed,
    an in-memory ``onnx.ModelProto``, a model its optimiser refuses or over its size limit, anchors without unique
    node names) or the anchors cannot be matched, they stay int8, a note says why and the latency is unverified
    (until the review of 2026-12-05 several of those cases were silent). ``precision``: a ``--precision`` override,
    which re-prices the float32 kernels, these included, and the note says so.
    """
    from hybridperf.estimate.runtime_memory import Runtime, host_isa, ort_isa

    if spec.kind != "cpu" or _runtime_name(runtime, spec) != Runtime.ONNXRUNTIME.value:
        return analyzed, ""
    if not any(k.precision == "int8" and k.counts_toward_time for k in analyzed.kernels):
        return analyzed, ""
    if ort_isa(spec)[0][:1] == ("arm",):
        return analyzed, ""  # onnxruntime's ARM build fuses int8 activations (QDQIsInt8Allowed)

    def unchecked(why: str) -> tuple[Analyzed, str]:
        return replace(analyzed, load_notes=(*analyzed.load_notes, ORT_QDQ_UNCHECKED.format(why=why))), \
            ORT_QDQ_UNVERIFIED

    source = str(analyzed.source)
    if source.startswith("<onnx.ModelProto"):
        return unchecked("an in-memory onnx.ModelProto: pass its file") if _has_qdq_anchor(analyzed) else (analyzed, "")
    if host_isa()[:1] == ("arm",):
        return unchecked("this machine's onnxruntime is an ARM build, which fuses them all")
    got = _ort_float_anchors(source)
    if got is None:
        return analyzed, ""
    if isinstance(got, str):
        return unchecked(got)
    if not got.float_names:
        return analyzed, ""
    from hybridperf.analysis.int8 import anchor_records, as_float_kernels

    where = anchor_records(analyzed.analysis, analyzed.source_nodes, got.anchors)
    if where is None:
        return (replace(analyzed, load_notes=(*analyzed.load_notes, got.note(
                    "not matched to the imported ops, priced as int8 kernels"))),
                "QDQ ops onnxruntime runs in float32 priced as int8 kernels (too low)")
    note = got.note()
    if precision is not None:
        note += f" (then re-priced at --precision {precision}, as every float32 kernel)"
    analysis, kernels = as_float_kernels(analyzed.analysis, analyzed.kernels, [where[n] for n in got.float_names],
                                         "float32 in onnxruntime's optimised graph (QDQ group not fused)")
    return replace(analyzed, analysis=analysis, kernels=kernels, load_notes=(*analyzed.load_notes, note)), ""


def _has_qdq_anchor(analyzed: Analyzed) -> bool:
    """Whether ``analyzed`` holds an int8 convolution / matmul record (what a QDQ anchor becomes)."""
    from hybridperf.analysis.int8 import ANCHOR_RECORD_OPS

    return any(r.precision == "int8" and r.op in ANCHOR_RECORD_OPS for r in analyzed.analysis.records)


def _ort_float_anchors(source: str) -> Any:
    """:func:`~hybridperf.analysis.int8.ort_float_anchors` of the ONNX file ``source``, kept per file
    (:func:`hybridperf.analysis.cache.file_key`); why it could not be made (str); None where ``source`` is no
    readable ONNX file (a TFLite or ``.pt2`` model: not onnxruntime's) or it has no QDQ anchor."""
    from hybridperf.analysis.cache import file_key

    p = Path(source)
    if p.suffix.lower() != ".onnx" or not p.is_file():
        return None
    key = file_key(p)
    return _ort_float_anchors_of(key) if key is not None else None


@functools.lru_cache(maxsize=16)
def _ort_float_anchors_of(key: tuple) -> Any:
    """:func:`_ort_float_anchors` of the file whose :func:`~hybridperf.analysis.cache.file_key` is ``key``."""
    import importlib.util

    from hybridperf.analysis.int8 import ort_float_anchors, qdq_anchor_names
    from hybridperf.frontends.onnx_import import load_onnx_proto
    from hybridperf.estimate.runtime_memory import ort_optimized_model

    try:
        model = load_onnx_proto(Path(key[0]))
    except Exception:  # noqa: BLE001 - the model loaded once already; an unreadable file keeps int8 pricing
        return "the file could not be read again"
    anchors = qdq_anchor_names(model)
    if not anchors:
        return None
    if "" in anchors or len(set(anchors)) != len(anchors):
        return "its QDQ convolutions / matmuls have no unique node names to match"
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed"
    # the QDQ fusion does not depend on the NCHWc layout, which would only rename the float convolutions' ops
    opt, optimised = ort_optimized_model(key[0], disabled=("NchwcTransformer",))
    return ort_float_anchors(model, opt) if optimised else "onnxruntime's optimiser could not read it, or it is over 1 GiB"


def folded_note(analyzed: Analyzed, ex: Execution) -> str:
    """What a prediction under ``ex`` does with the nodes the ONNX normaliser folded
    (:attr:`~hybridperf.analysis.analyze.Analyzed.folded`): ``"9 constant-foldable nodes folded before the cost pass,
    priced as 9 launches under torch (eager PyTorch runs them each call)"``; "" where nothing was folded or ``ex``'s
    runtime folds constants itself.

    onnxruntime and TVM fold the same subgraphs at load time (:attr:`Execution.folds_constants`), so the folded
    figures are theirs: no note. A CUDA graph captured from eager PyTorch replays every kernel the capture ran, these
    included, so they are priced there too (:func:`as_run_by`): only the host's launch cost is gone, not the kernels'
    device time. A :class:`~hybridperf.frontends.normalize.FoldedWork` of totals alone (no
    :attr:`~hybridperf.frontends.normalize.FoldedWork.kernels`) is not priced, and the note says so (``"... (not
    priced; eager PyTorch runs them each call)"``, every runtime's words until 2026-12-05). The count is the
    normaliser's folds only (it depends on whether the model was read from a path).
    """
    work = getattr(analyzed, "folded", None)
    if ex.folds_constants or work is None or not work.nodes:
        return ""
    n = work.nodes
    s = "s" if n != 1 else ""
    # folds_constants is False for torch (eager: a host dispatch per launch) and torch-cudagraph (none) alone
    who = "eager PyTorch runs" if ex.host_per_launch else "a CUDA graph captured from eager PyTorch replays"
    if not work.priced:
        return f"{n} constant-foldable node{s} folded before pricing (not priced; {who} them each call)"
    return (f"{n} constant-foldable node{s} folded before the cost pass, priced as {n} launch{'es' if n != 1 else ''} "
            f"under {ex.runtime.value} ({who} them each call)")


def estimated_power_note(spec: DeviceSpec) -> str:
    """What an energy figure says of ``spec``'s power figures where they are estimates (``"idle power of t4
    estimated, not measured: `hybridperf devices show t4`"``); "" where they are measured or sourced."""
    return f"{spec.power_note}: `hybridperf devices show {spec.show_ref}`" if spec.power_estimated else ""


def energy_note(capped: str, spec: DeviceSpec, estimated: str | None = None) -> str:
    """:attr:`Prediction.energy_note`: ``capped`` (:func:`bounded_energy`'s note, "" where not capped), then
    :func:`estimated_power_note` (``estimated``: that note computed once already, as a sweep keeps it)."""
    estimated = estimated_power_note(spec) if estimated is None else estimated
    return f"{capped}; {estimated}" if capped and estimated else capped or estimated
