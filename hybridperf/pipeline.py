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
#: ``precision`` override values that also halve float32 tensor traffic
_HALF = ("fp16", "bf16")


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

    @property
    def memory(self) -> MemoryPlan:
        return self.analyzed.memory

    @property
    def peak_memory_bytes(self) -> int:
        return self.analyzed.memory.peak_bytes

    @property
    def flops(self) -> int:
        return self.analyzed.analysis.flops


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
    input_bytes = sum(v.nbytes or 0 for v in analysis.input_infos.values())
    t0 = time.perf_counter()
    note = ""
    mem_mod = None
    if any(r.status is Status.SYMBOLIC for r in analysis.records):
        note = "symbolic shapes: no fusion or memory plan"
        kernels = unfused_kernels(analysis)
        memory = MemoryPlan(0, (), 0, 0, 0, analysis.weight_bytes, input_bytes)
    else:
        try:
            tagged = lowering.tag_and_legalize(mod, [r.var for r in analysis.records])
            lowered = lowering.fuse(tagged) if fused else tagged
            kernels = group_kernels(analysis, lowered) if fused else unfused_kernels(analysis)
            mem_mod = lowering.to_memory_plannable(lowered, fused)
            memory = plan_memory(mem_mod, analysis.weight_bytes, input_bytes)
        except Exception as exc:  # noqa: BLE001 - lowering is best effort; costs still stand
            note = f"lowering failed ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); one kernel per op, no memory plan"
            kernels = unfused_kernels(analysis)
            memory = MemoryPlan(0, (), 0, 0, 0, analysis.weight_bytes, input_bytes)
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
    )


def _priced_cost(k: Kernel, precision: str | None) -> tuple[OpCost, str]:
    if precision is None:
        return k.cost, k.precision
    if precision in _HALF and k.precision == "fp32":
        c = k.cost
        return OpCost(c.flops, c.bytes_read // 2, c.bytes_written // 2, c.weight_bytes // 2), precision
    if k.precision == "fp32":
        return k.cost, precision
    return k.cost, k.precision


def predict_on(analyzed: Analyzed, device: str | DeviceSpec, precision: str | None = None, residual: Any = "auto") -> Prediction:
    """Price an analysis on one device.

    Parameters
    ----------
    precision : str, optional
        Run float32 ops at this precision instead (``tf32``, ``fp16``, ``bf16``);
        ``fp16``/``bf16`` also halve their tensor traffic.
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
        cost, prec = _priced_cost(k, precision)
        est = roofline(cost, spec, prec)
        preds.append(KernelPrediction(k, est, est.latency_s))
    roof = sum(p.latency_s for p in preds)
    energy = sum(p.estimate.energy_j for p in preds)
    note = f"roofline only: no residual model for {spec.id} (train one with `hybridperf calibrate`)"
    pred = Prediction(analyzed, spec, precision, tuple(preds), roof, roof, energy, note)
    model = _load_residual(spec) if residual == "auto" else residual
    if model is not None:
        pred = model.apply(pred)
        # static energy follows the corrected latency; dynamic energy is work-bound and unchanged
        dynamic = sum(p.estimate.dynamic_energy_j for p in preds)
        pred = replace(pred, energy_j=dynamic + spec.idle_power_w * pred.latency_s)
    return pred


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


__all__ = ["Analyzed", "KernelPrediction", "Prediction", "analyze", "predict", "predict_on"]
