"""End-to-end prediction: model -> Relax -> costs -> kernels -> memory -> roofline.

``analyze`` does the device-independent part once; ``predict_on`` prices an
analysis on one device, so checking several devices re-uses the analysis.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace, field
from pathlib import Path
from typing import Any

from hybridperf.analysis import ModelAnalysis, analyze_module
from hybridperf.costs import OpCost, Status
from hybridperf.kernels import Kernel, group_kernels, unfused_kernels
from hybridperf.memory import MemoryPlan, plan_memory
from hybridperf.roofline import RooflineEstimate, roofline
from hybridperf.spec import DeviceSpec, load_spec

REPORT_SCHEMA_VERSION = 1
#: The precision policy: a ``precision`` override runs float32 ops at that precision and stores
#: float32 tensors (activations, weights, inputs) in this many bytes per element. One table drives
#: latency, traffic, energy, peak memory and the report (``tf32`` is a compute mode: 4 bytes).
STORAGE_BYTES = {"tf32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}


@dataclass(frozen=True)
class Analyzed:
    """Device-independent analysis of one model."""

    source: str
    input_shapes: Mapping[str, tuple[int, ...]]
    analysis: ModelAnalysis
    kernels: tuple[Kernel, ...]
    memory: MemoryPlan
    fused: bool
    fusion_note: str = ""
    timings_s: Mapping[str, float] = field(default_factory=dict)
    memory_module: Any = field(default=None, repr=False, compare=False)
    #: Relax binding var name -> source graph node name (ONNX models; empty for other formats)
    source_nodes: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: input the analysis could not honour (e.g. a batch the model's fixed batch dim ignores)
    warnings: tuple[str, ...] = ()

    @property
    def memory_is_lower_bound(self) -> bool:
        """A plan exists but some op's output size is data-dependent (NonZero, Unique): not counted."""
        return self.memory.known and any(o.shape is None for r in self.analysis.records for o in r.outputs)

    @property
    def uncosted_ops(self) -> list[str]:
        """Op types without a cost (unsupported or symbolic): every total is then a lower bound."""
        return sorted({r.op for r in self.analysis.records if r.status in (Status.UNSUPPORTED, Status.SYMBOLIC)})


@dataclass(frozen=True)
class KernelPrediction:
    kernel: Kernel
    estimate: RooflineEstimate
    latency_s: float
    calibrated: bool = False


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
    #: why ``energy_j`` is not the plain energy model (capped at the device's max power), else ""
    energy_note: str = ""

    @property
    def memory(self) -> MemoryPlan:
        return self.memory_plan if self.memory_plan is not None else self.analyzed.memory

    @property
    def peak_memory_bytes(self) -> int | None:
        """Runtime peak in bytes; None when no memory plan could be made (unknown, never 0)."""
        return self.memory.peak_bytes

    @property
    def uncosted_ops(self) -> list[str]:
        return self.analyzed.uncosted_ops

    @property
    def complete(self) -> bool:
        """Every op has a cost; when False, latency, energy and traffic are lower bounds."""
        return not self.uncosted_ops

    @property
    def warnings(self) -> tuple[str, ...]:
        """Input that was not honoured, and figures the device cannot meet (one line each)."""
        out = list(self.analyzed.warnings)
        peak, cap = self.peak_memory_bytes, self.spec.dram.capacity_bytes
        if peak is not None and cap is not None and peak > cap:
            out.append(
                f"predicted peak memory {peak / 2**30:.2f} GiB exceeds {self.spec.id}'s {cap / 2**30:.2f} GiB of memory; "
                "the model does not fit (lower the batch or the precision)"
            )
        return tuple(out)

    @property
    def flops(self) -> int:
        return self.analyzed.analysis.flops

    def __repr__(self) -> str:
        # the generated repr would print every kernel, op record and the Relax module (~100 k characters)
        peak = self.peak_memory_bytes
        return (f"Prediction(source={self.analyzed.source!r}, device={self.spec.id!r}, precision={self.precision!r}, "
                f"latency_s={self.latency_s:.6g}, energy_j={self.energy_j:.6g}, "
                f"peak_memory_bytes={peak if peak is None else int(peak)}, flops={self.flops}, "
                f"kernels={len(self.kernels)}, calibration={self.calibration!r})")


def analyze(
    model: str | Path | Any,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    batch: int | None = None,
    fused: bool = True,
    int8: bool = True,
    provenance: bool = False,
) -> Analyzed:
    """Load (if a path), run the cost pass, group kernels and plan memory.

    Parameters
    ----------
    model : path or tvm.IRModule
        An ONNX/TFLite file, or a Relax module with static shapes.
    fused : bool
        Group ops into kernels with TVM's FuseOps (default) or one kernel per op.
    int8 : bool
        Price quantize → op → dequantize (QDQ) patterns as int8 kernels at the
        device's int8 peak with 1-byte tensors (default); False keeps the float view.
    provenance : bool
        Record which ONNX node each Relax op came from (:attr:`Analyzed.source_nodes`), to join
        runtime profiles to kernels when building training tables; off by default (only they need it).
    """
    from hybridperf import lowering
    from hybridperf.frontend import load_model

    t = {}
    t0 = time.perf_counter()
    if isinstance(model, (str, Path)):
        loaded = load_model(model, shapes, batch, provenance=provenance)
        mod, source, in_shapes = loaded.module, loaded.source, loaded.input_shapes
        src_nodes = loaded.source_nodes
    else:
        mod, source, in_shapes, src_nodes = model, "<module>", {}, {}
    t["load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    analysis = analyze_module(mod)
    t["cost_pass_s"] = time.perf_counter() - t0
    if not in_shapes:
        in_shapes = {k: v.shape for k, v in analysis.input_infos.items() if v.shape is not None}
    check_tensor_sizes(analysis, in_shapes)
    warnings = []
    if batch is not None and in_shapes and not any(s and s[0] == batch for s in in_shapes.values()):
        warnings.append(
            f"batch {batch} not applied: no input has a symbolic batch dim ({_shapes_text(in_shapes)}); "
            "the figures are for these shapes (re-export the model with a dynamic batch axis)"
        )
    input_bytes = sum(v.nbytes or 0 for v in analysis.input_infos.values())
    t0 = time.perf_counter()
    note = ""
    mem_mod = None
    if any(r.status is Status.SYMBOLIC for r in analysis.records):
        note = "symbolic shapes: no fusion or memory plan"
        kernels = unfused_kernels(analysis)
        memory = MemoryPlan.unknown(analysis.weight_bytes, input_bytes, "symbolic shapes")
    else:
        try:
            tagged = lowering.tag_and_legalize(mod, [r.var for r in analysis.records])
            lowered = lowering.fuse(tagged) if fused else tagged
            kernels = group_kernels(analysis, lowered) if fused else unfused_kernels(analysis)
            mem_mod = lowering.to_memory_plannable(lowered, fused)
            memory = plan_memory(mem_mod, analysis.weight_bytes, input_bytes)
        except Exception as exc:  # noqa: BLE001 - lowering is best effort; costs still stand
            first = str(exc).splitlines()[0][:120] if str(exc) else ""
            note = f"lowering failed ({type(exc).__name__}: {first}); one kernel per op, no memory plan"
            kernels = unfused_kernels(analysis)
            memory = MemoryPlan.unknown(analysis.weight_bytes, input_bytes, f"TVM lowering failed ({type(exc).__name__})")
    t["lower_and_plan_s"] = time.perf_counter() - t0
    if int8:
        from hybridperf.quant import apply_int8, apply_int8_kernels, find_int8

        plan = find_int8(analysis)
        if plan:
            kernels = apply_int8_kernels(kernels, analysis, plan)
            analysis = apply_int8(analysis, plan)
    return Analyzed(
        source=source,
        input_shapes=dict(in_shapes),
        analysis=analysis,
        kernels=kernels,
        memory=memory,
        fused=fused,
        fusion_note=note,
        timings_s=t,
        memory_module=mem_mod,
        source_nodes=src_nodes,
        warnings=tuple(warnings),
    )


def _shapes_text(shapes: Mapping[str, tuple[int, ...]]) -> str:
    return ", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in shapes.items())


def check_tensor_sizes(analysis: ModelAnalysis, input_shapes: Mapping[str, tuple[int, ...]]) -> None:
    """Refuse shapes that make some tensor larger than :data:`MAX_TENSOR_BYTES`.

    Such a model cannot run anywhere, and its byte counts overflow TVM's integer arithmetic, so
    every figure would be meaningless (raises :class:`~hybridperf.errors.InputError`, exit 2).
    """
    from hybridperf.errors import InputError
    from hybridperf.normalize import MAX_TENSOR_BYTES

    named = [(f"input {k}", v) for k, v in analysis.input_infos.items()]
    named += [(f"{r.var} ({r.op})", o) for r in analysis.records for o in r.outputs]
    for what, info in named:
        if info.nbytes is not None and info.nbytes > MAX_TENSOR_BYTES:
            shape = "x".join(map(str, info.shape or ()))
            raise InputError(
                f"shapes too large: {what} would be {shape} {info.dtype} = {info.nbytes:.3g} B, more than the "
                f"2^48 B (256 TiB) any device can address (inputs {_shapes_text(input_shapes)}); bind smaller shapes"
            )


def stored_bytes(dtype: str, nbytes: int, precision: str | None) -> int:
    """Bytes a tensor of ``dtype`` takes under the precision override (:data:`STORAGE_BYTES`)."""
    if precision is None or dtype != "float32":
        return nbytes
    return nbytes * STORAGE_BYTES[precision] // 4


def priced_cost(cost: OpCost, op_precision: str, precision: str | None) -> tuple[OpCost, str]:
    """An op's or kernel's cost and precision under the override: float32 work runs at ``precision``
    and its traffic shrinks with :data:`STORAGE_BYTES`; other precisions are left as they are."""
    if precision is None or op_precision != "fp32":
        return cost, op_precision
    size = STORAGE_BYTES[precision]
    return OpCost(
        cost.flops, cost.bytes_read * size // 4, cost.bytes_written * size // 4, cost.weight_bytes * size // 4
    ), precision


def priced_memory(analyzed: Analyzed, precision: str | None) -> MemoryPlan:
    """The memory plan with float32 tensors stored as the precision override says."""
    if precision is None:
        return analyzed.memory
    a = analyzed.analysis
    by_dtype = a.weight_bytes_by_dtype or {"float32": a.weight_bytes}
    weights = sum(stored_bytes(dt, n, precision) for dt, n in by_dtype.items())
    inputs = sum(stored_bytes(i.dtype, i.nbytes or 0, precision) for i in a.input_infos.values())
    return analyzed.memory.resized(lambda dt, n: stored_bytes(dt, n, precision), weights, inputs)


def bounded_energy(energy_j: float, latency_s: float, spec: DeviceSpec) -> tuple[float, str]:
    """Cap energy at ``max power x latency``: a device cannot average more than its maximum power.

    The sheets' pJ/MAC are upper bounds (maximum power over peak MAC rate) and idle power is added
    on top, so small or memory-bound models can imply more than the maximum; then the bound holds.
    """
    cap = spec.max_power_w * latency_s
    if latency_s > 0 and energy_j > cap:
        return cap, (
            f"capped at max power {spec.max_power_w:g} W x latency (the energy model implied "
            f"{energy_j / latency_s:.1f} W, above the sheet's maximum)"
        )
    return energy_j, ""


def predict_on(analyzed: Analyzed, device: str | DeviceSpec, precision: str | None = None, residual: Any = "auto") -> Prediction:
    """Price an analysis on one device.

    Parameters
    ----------
    precision : str, optional
        Run float32 ops at this precision instead (``tf32``, ``fp16``, ``bf16``, ``fp8``, ``int8``) and
        store float32 tensors as :data:`STORAGE_BYTES` says: traffic, energy and peak memory follow.
    residual : ResidualModel, "auto" or None
        The learned correction; ``"auto"`` loads the device's calibrated model if one exists.
    """
    spec = device if isinstance(device, DeviceSpec) else load_spec(device)
    preds = []
    for k in analyzed.kernels:
        if not k.counts_toward_time:
            from hybridperf.roofline import ZERO

            preds.append(KernelPrediction(k, ZERO, 0.0))
            continue
        cost, prec = priced_cost(k.cost, k.precision, precision)
        est = roofline(cost, spec, prec)
        preds.append(KernelPrediction(k, est, est.latency_s))
    roof = sum(p.latency_s for p in preds)
    energy = sum(p.estimate.energy_j for p in preds)
    note = (f"roofline only: no residual model for {spec.id} (train one with `hybridperf calibrate`)"
            if residual is not None else "roofline only (--roofline-only)")
    pred = Prediction(analyzed, spec, precision, tuple(preds), roof, roof, energy, note, priced_memory(analyzed, precision))
    model = _load_residual(spec) if residual == "auto" else residual
    if model is not None:
        pred = model.apply(pred)
        # static energy follows the corrected latency; dynamic energy is work-bound and unchanged
        dynamic = sum(p.estimate.dynamic_energy_j for p in preds)
        pred = replace(pred, energy_j=dynamic + spec.idle_power_w * pred.latency_s)
    energy_j, energy_note = bounded_energy(pred.energy_j, pred.latency_s, spec)
    return replace(pred, energy_j=energy_j, energy_note=energy_note)


def _load_residual(spec: DeviceSpec):
    try:
        from hybridperf.residual import load_for_device
    except ImportError:
        return None
    return load_for_device(spec.id)


def predict(
    model: str | Path | Any,
    device: str | DeviceSpec,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    batch: int | None = None,
    precision: str | None = None,
    fused: bool = True,
) -> Prediction:
    """Predict latency, energy and peak memory of ``model`` on ``device`` (Python API)."""
    spec = device if isinstance(device, DeviceSpec) else load_spec(device)  # fail fast on a bad device
    return predict_on(analyze(model, shapes, batch, fused), spec, precision)


__all__ = [
    "Analyzed",
    "KernelPrediction",
    "Prediction",
    "STORAGE_BYTES",
    "analyze",
    "bounded_energy",
    "predict",
    "predict_on",
    "priced_cost",
    "priced_memory",
    "stored_bytes",
]
