"""Zero-shot GPU latency from the device's spec sheet: the cross-device operator model priced the way a runtime executes.

For a GPU with no stored per-device residual, each launched kernel (granularity from
:mod:`hybridperf.estimate.execution`) is described as the NeuSight operator type whose PyTorch
kernel computes it (:data:`OP_MAP`: matmul -> ``bmm``/``linear`` with B, M, N, K; conv2d ->
``conv``; layer norm, softmax, element-wise), priced by
the :class:`~hybridperf.residual.cross_device.CrossDeviceModel` at the runtime's device floor (an
explicitly passed :class:`~hybridperf.residual.kernel_time.KernelTimeModel` prices kernel time instead:
its eager-timed training data less each op's host dispatch; an experiment, not shipped, see
``benchmarks/gpu_kernel_time.py``), and the
per-kernel device times are composed with the runtime's host floor (eager: ``max(host sum, device sum)``;
CUDA graphs: device sum).
Kernels of other op types keep their roofline time and are counted as such in the note.
On one of the model's training GPUs' own sheets (the sheet ids it recorded a runtime probe for:
:meth:`ZeroShotGpu.on_training_gpu`) the prediction uses that GPU's measured probe and the model saw its operators:
the note says "not zero-shot" (:func:`training_gpu_note`) and ``execution.zero_shot`` is false; "zero-shot from spec"
(:data:`ZERO_SHOT_NOTE`) is for a GPU measured nowhere.
A sheet written by ``hybridperf probe`` on the GPU may carry ``family_probes`` (fixed operator shapes timed
there): the fp32 kernels of each probed family are then rescaled by them
(:meth:`~hybridperf.residual.cross_device.CrossDeviceModel.predict_latency`) and the note says when they were
measured; a sheet without them is priced as before.

Precision: the operator data is fp32 only. A kernel priced at another precision uses a view
of the sheet whose fp32 peak is that precision's peak (and its bytes shrink as the precision
override says); the note says so.

Kernels PyTorch launches (:func:`launches`, per-op runtimes): one per Relax op, except what
:mod:`hybridperf.estimate.torch_eager` says launches nothing or one kernel for several ops (views,
host-side shape arithmetic, the element-wise chains an ONNX export writes for one activation function)
and the bias add a conv / linear carries.

Few-shot: :meth:`ZeroShotGpu.adapt` returns a new object corrected by a handful of measured
models (eager: op-dependent host dispatch cost with a fitted level; CUDA graphs: a kernel-ridge
correction by similar measured models, :class:`ResidualKernel`), every strength chosen by
leave-one-out on those models only; :meth:`ZeroShotGpu.save_adaptation` stores it under the user
data directory next to the per-device residuals (``<models>/<device id>/gpu_adaptation-<runtime>.json``), with the
sha256 of its figures (from 2026-12-05); :func:`for_device` reads it back checked (:func:`read_adaptation`).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from hybridperf.analysis.analyze import Analyzed
from hybridperf.analysis.kernels import Kernel
from hybridperf.costs import OpCost, Status
from hybridperf.device.spec import DeviceSpec
from hybridperf.errors import InputError, SpecError, error_line
from hybridperf.estimate import torch_eager
from hybridperf.estimate.execution import Execution, Granularity, execution
from hybridperf.estimate.pricing import UNVERIFIED_PREFIX, RooflineMemo, as_run_by, priced_cost, price
from hybridperf.precision import alu_precision
from hybridperf.residual.sheet import SHEET_KEY, qualified, sheet_figures, sheet_reason
from hybridperf.residual.sidecar import (FIGURES_KEY, check_figures, figure, figures_digest, is_newer_version,
                                         json_kind, number, shown_version)
from hybridperf.units import numel

#: trained-on GPUs as the headline names them
TRAINED_ON = "P4, P100, T4, V100, A100"
#: the headline on a GPU measured nowhere (one of the training GPUs' own sheets: :func:`training_gpu_note`)
ZERO_SHOT_NOTE = f"zero-shot from spec (cross-device model trained on {TRAINED_ON} operators)"


def training_gpu_note(device_id: str) -> str:
    """The headline on one of the cross-device model's training GPUs (:meth:`ZeroShotGpu.on_training_gpu`), in the
    words the CPU side uses for a training CPU's own sheet ("not zero-shot", "one of its training CPUs").

    Until 2026-12-05b it was :data:`ZERO_SHOT_NOTE` there too, and ``execution.zero_shot`` true, though the model
    saw that GPU's operator measurements and prices it with its own measured dispatch floor and bandwidth.

    Parameters
    ----------
    device_id : str
        The sheet id, as the model records its training GPUs (``t4``, ``a100-pcie-40gb``).

    Returns
    -------
    str
        ``"cross-device model, not zero-shot: t4 is one of its training GPUs (trained on ... operators)"``.
    """
    return (f"cross-device model, not zero-shot: {device_id} is one of its training GPUs "
            f"(trained on {TRAINED_ON} operators)")


#: the cross-device model's directory under the model search path
MODEL_ID = "cross-device"
#: a sheet figure more than this factor outside the training GPUs' range makes a zero-shot figure "unverified"
#: (:func:`unverified_reason`): the A100 SXM's 2039 GB/s, 5 % above the A100 PCIe 80GB's 1935, is not flagged
UNVERIFIED_MARGIN = 1.1


@lru_cache(maxsize=1)
def _training_ranges() -> dict[str, tuple[float, float]]:
    """Figure name -> (lowest, highest) over the training GPUs' sheets (:data:`~hybridperf.residual.neusight.GPUS`)."""
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.neusight import GPUS

    sheets = [load_spec(i) for ids in GPUS.values() for i in ids]
    out = {}
    for name, _, get in _FIGURES:
        vals = [v for v in (get(s) for s in sheets) if v]
        out[name] = (min(vals), max(vals))
    return out


_FIGURES = (("fp32 peak", "TFLOP/s", lambda s: s.peak_flops_per_s.get("fp32", 0.0) / 1e12),
            ("DRAM bandwidth", "GB/s", lambda s: (s.dram.bandwidth_bytes_per_s or 0.0) / 1e9),
            ("SM count", "", lambda s: float(s.compute_unit_count or 0)))


def unverified_reason(spec: DeviceSpec, precisions: Iterable[str] = ("fp32",)) -> str:
    """Why no measurement checks a zero-shot figure for GPU ``spec``: each sheet figure more than
    :data:`UNVERIFIED_MARGIN` outside the training GPUs' range (an H100's 66.9 TFLOP/s fp32 against their 5.5-19.5,
    a Jetson's 102 GB/s against their 192-1935), joined; "" when every figure is inside (or unknown). The peak checked
    is each of ``precisions``' (the precisions the operator model priced kernels at, each at its peak as the fp32
    operators' rate: :func:`spec_at`; until 2026-12-04 only the fp32 peak was checked, so a T4 at fp16, priced at its
    65 TFLOP/s, was never flagged, nor a sheet without an fp32 peak)."""
    why = []
    for key, unit, get in _FIGURES:
        lo, hi = _training_ranges()[key]
        if key == "fp32 peak":
            figures = [("fp32 peak" if p == "fp32" else f"{p} peak (priced as the fp32 operators' rate)",
                        spec.peak_flops_per_s.get("fp32", 0.0) / 1e12 if p == "fp32" else spec.peak_flops(p) / 1e12)
                       for p in sorted(set(precisions), key=lambda p: p != "fp32")]
        else:
            figures = [(key, get(spec))]
        for name, v in figures:
            if v and not lo / UNVERIFIED_MARGIN <= v <= hi * UNVERIFIED_MARGIN:
                why.append(f"its {name} {v:.4g}{' ' + unit if unit else ''} is outside the training GPUs' "
                           f"{lo:.4g}-{hi:.4g}")
    # the features fall back to 1 SM, 64 lanes and no cache (DeviceFigures.from_spec); unflagged until 2026-12-03
    cache = spec.memory.get("l2") or spec.memory.get("llc")
    assumed = [f"no {k} ({a} assumed)" for k, v, a in (
        ("compute_units.count", spec.compute_unit_count, "1 SM"),
        ("compute_units.fp32_lanes_per_unit", spec.fp32_lanes_per_unit, "64 lanes"),
        ("memory.l2.capacity", cache.capacity_bytes if cache else None, "0 B")) if v is None]
    if assumed:
        why.append(f"its sheet gives {' and '.join(assumed)}")
    return "; ".join(why)
ADAPTATION_SCHEMA = 2

#: groups of launched kernels that few-shot adaptation scales separately; ``roofline`` = not covered
GROUPS: tuple[str, ...] = ("gemm", "conv", "norm", "elementwise", "roofline")
#: NeuSight operator type -> group
_GROUP_OF = {"bmm": "gemm", "linear": "gemm", "conv": "conv", "ln": "norm", "softmax": "norm"}

#: Relax op -> NeuSight operator type whose PyTorch kernel computes it (binary element-wise ops get
#: the ``u`` variant when one operand is a broadcast scalar / vector). Unary ops without a measured
#: type use the closest measured kernel (``relu`` for cheap ones, ``tanh`` for transcendental ones).
OP_MAP: Mapping[str, str] = MappingProxyType({
    "relax.matmul": "linear",  # bmm when both operands carry batch dimensions
    "relax.nn.conv2d": "conv",
    "relax.nn.layer_norm": "ln",
    "relax.nn.rms_norm": "ln",
    "relax.nn.softmax": "softmax",
    "relax.add": "add", "relax.subtract": "add",
    "relax.multiply": "mul",
    "relax.divide": "div",
    "relax.power": "pow",
    "relax.nn.relu": "relu", "relax.clip": "relu", "relax.negative": "relu", "relax.abs": "relu",
    "relax.maximum": "add", "relax.minimum": "add",
    "relax.nn.gelu": "gelu", "relax.nn.gelu_tanh": "gelu",
    "relax.tanh": "tanh", "relax.sigmoid": "tanh", "relax.nn.silu": "tanh", "relax.exp": "tanh", "relax.erf": "tanh",
    "relax.sqrt": "tanh", "relax.rsqrt": "tanh", "relax.log": "tanh",
})
_BINARY = {"add", "mul", "div", "pow"}


#: host dispatch cost of one launch in eager PyTorch, in units of the tiny element-wise floor, per NeuSight
#: operator type: the 2 % latency quantile of each type over the floor
#: (:data:`~hybridperf.residual.cross_device.FLOOR_OPS` median), median over NeuSight's five training GPUs
#: (``linear`` 1.94-2.24, ``ln`` 1.07-1.72, ``softmax`` 1.16-1.34, ``bmm`` 1.14-1.22, element-wise 0.91-1.27).
#: ``conv``: NeuSight has no tiny convolutions; a cuDNN call is priced like the cuBLAS call of ``linear``.
#: Other launches (pooling, copies, reductions): 1. Used by few-shot adaptation only (:meth:`ZeroShotGpu.adapt`).
HOST_WEIGHT: Mapping[str, float] = MappingProxyType({
    "linear": 2.07, "conv": 2.07, "ln": 1.68, "softmax": 1.18, "bmm": 1.16,
    "add": 0.93, "mul": 0.93, "div": 0.93, "pow": 0.94, "tanh": 0.91, "gelu": 1.07, "relu": 1.13,
    "addu": 1.09, "mulu": 1.09, "divu": 1.09, "powu": 1.03,
})


@dataclass(frozen=True)
class Launch:
    """One launched kernel: its records' indices, cost at the priced precision, and NeuSight view (or None)."""

    name: str
    kernel_index: int
    cost: OpCost
    precision: str
    op: str | None
    dims: Mapping[str, int] = field(default_factory=dict)
    #: indices of the op records the kernel computes
    op_indices: tuple[int, ...] = ()

    @property
    def group(self) -> str:
        if self.op is None:
            return "roofline"
        return _GROUP_OF.get(self.op, "elementwise")


def neusight_view(rec) -> tuple[str, dict[str, int]] | None:
    """``(NeuSight op, dims)`` of one op record, or None when no measured operator type covers it."""
    op = OP_MAP.get(rec.op)
    if op is None or not rec.outputs or rec.outputs[0].shape is None:
        return None
    ins = [i.shape for i in rec.inputs]
    if any(s is None for s in ins):
        return None
    out = rec.outputs[0].shape
    if op == "linear":
        if len(ins) < 2 or len(ins[0]) < 1 or len(ins[1]) < 1:
            return None
        a, b = ins[0], ins[1]
        k = a[-1]
        m = a[-2] if len(a) >= 2 else 1
        n = b[-1] if len(b) >= 2 else 1
        if len(b) >= 3 and numel(b[:-2]) > 1:
            return "bmm", {"B": numel(out[:-2]), "M": m, "N": n, "K": k}
        return "linear", {"B": numel(a[:-2]), "M": m, "N": n, "K": k}
    if op == "conv":
        a = rec.attrs
        if int(a.get("groups", 1) or 1) != 1 or len(ins) < 2 or len(ins[0]) != 4 or len(ins[1]) != 4:
            return None
        if str(a.get("data_layout", "NCHW")) != "NCHW":
            return None
        (nb, ci, h, w), (co, _, kh, kw) = ins[0], ins[1]
        st = list(a.get("strides", [1, 1]) or [1, 1])
        pad = list(a.get("padding", [0, 0, 0, 0]) or [0])
        dil = list(a.get("dilation", [1, 1]) or [1, 1])
        if kh != kw or h != w or st[0] != st[-1] or any(int(d) != 1 for d in dil):
            return None
        return "conv", {"B": nb, "Input_Channel": ci, "Output_Channel": co, "Kernel_Szie": kh, "Input_Size": h,
                        "Stride": int(st[0]), "Padding": int(pad[0])}
    h = out[-1] if out else 1
    b = max(1, numel(out) // max(h, 1))
    if op in _BINARY and len(ins) == 2 and numel(ins[1]) != numel(out) or \
            op in _BINARY and len(ins) == 2 and numel(ins[0]) != numel(out):
        op = op + "u"
    return op, {"B": b, "H": h}


def _bias_sized(r: Any, op: str) -> bool:
    """Whether the smaller input of the ``add`` record ``r`` after a ``conv`` / ``linear`` / ``bmm`` kernel is its
    bias: fewer elements than the output, or one per output channel (``conv``: dim 1, else the last). At batch 1 a
    linear layer's bias has as many elements as its output ((1000,) against (1, 1000)), and a convolution's on a 1x1
    map too: until 2026-12-05 those adds were priced as launches of their own (ResNet-18 at batch 1: 69 launches
    under eager PyTorch, where it launches 68, so its prediction fell from batch 1 to 2)."""
    out = tuple(r.outputs[0].shape or ())
    small = min(numel(i.shape or ()) for i in r.inputs)
    if small < numel(out):
        return True
    channels = out[1] if op == "conv" and len(out) > 1 else out[-1] if out else 1
    return small == channels

def launches(analyzed: Analyzed, granularity: Granularity, precision: str | None = None) -> tuple[Launch, ...]:
    """The kernels a runtime of ``granularity`` launches for ``analyzed``.

    Per-op: one per Relax op with a cost, except zero-cost ops (views), a bias ``add`` of a constant
    right after a conv2d / matmul (PyTorch's conv and linear kernels carry their bias): its FLOPs and
    bytes join that kernel, and the element-wise chains of one activation function
    (:func:`hybridperf.estimate.torch_eager.activation_groups`: one kernel reading ``x`` once and writing
    once). Fused: TVM's kernels, each described by its heaviest mapped op.
    """
    recs = analyzed.analysis.records
    out: list[Launch] = []
    if granularity is Granularity.PER_OP:
        by_var: dict[str, int] = {}
        with_bias: set[int] = set()
        ops = torch_eager.eager_ops(recs)  # their ops named as computed (a call_tir of maximum is maximum)
        host_side = torch_eager.host_side(recs)
        groups = torch_eager.activation_groups(ops, host_side)
        host_side |= torch_eager.views(recs, same_dtype_casts_free=precision in (None, "fp32"))
        inside = {i for g in groups.values() for i in g[:-1]}
        for r in recs:
            if r.status is Status.ZERO_COST or not r.counts_toward_time or r.var in host_side or r.index in inside:
                continue
            if r.var in groups:
                members = [recs[i] for i in groups[r.var]]
                priced = [priced_cost(m.cost, m.precision, precision) for m in members]
                c = OpCost(sum(p.flops for p, _ in priced), min(p.bytes_read for p, _ in priced),
                           priced[-1][0].bytes_written, sum(p.weight_bytes for p, _ in priced))
                marker = next(m for m in members if ops[m.index].op in torch_eager.ACTIVATION_MARKERS)
                view = neusight_view(replace(marker, op=ops[marker.index].op))
                out.append(Launch(r.var, len(out), c, priced[-1][1], *(view or (None, {})), groups[r.var]))
                by_var[r.var] = len(out) - 1
                continue
            prev = by_var.get(r.input_vars[0]) if len(r.input_vars) == 1 else None
            if (r.op == "relax.add" and prev is not None and prev not in with_bias and len(r.inputs) == 2
                    and out[prev].op in ("conv", "linear", "bmm") and _bias_sized(r, out[prev].op)):
                with_bias.add(prev)
                p = out[prev]
                c, _ = priced_cost(r.cost, r.precision, precision)
                # the kernel reads the bias once and writes its output once: add the FLOPs and the bias bytes
                small, total = (min(numel(i.shape or ()) for i in r.inputs),
                                sum(numel(i.shape or ()) for i in r.inputs))
                bias = c.bytes_read * small // max(1, total)
                out[prev] = replace(p, cost=OpCost(p.cost.flops + c.flops, p.cost.bytes_read + bias, p.cost.bytes_written,
                                                   p.cost.weight_bytes + bias), op_indices=(*p.op_indices, r.index))
                by_var[r.var] = prev
                continue
            c, prec = priced_cost(r.cost, r.precision, precision)
            view = neusight_view(r)
            out.append(Launch(r.var, len(out), c, prec, *(view or (None, {})), (r.index,)))
            by_var[r.var] = len(out) - 1
        return tuple(out)
    rank = {"conv": 0, "linear": 0, "bmm": 0, "ln": 1, "softmax": 1}
    for k in analyzed.kernels:
        if not k.counts_toward_time or k.status is Status.ZERO_COST:
            continue
        views = [v for v in (neusight_view(recs[i]) for i in k.op_indices) if v is not None]
        view = min(views, key=lambda v: rank.get(v[0], 2)) if views else None
        c, prec = priced_cost(k.cost, k.precision, precision)
        out.append(Launch(k.name, len(out), c, prec, *(view or (None, {})), k.op_indices))
    return tuple(out)


@dataclass(frozen=True)
class MappedLaunches:
    """The launches of one precision (:func:`~hybridperf.precision.alu_precision`: integer work with the fp32
    launches) that have a NeuSight view, as the device-independent columns of
    :class:`~hybridperf.residual.neusight.PricedOps` (read-only arrays, one entry per launch).

    ``index``: their positions among the launches; ``op``, ``family``, ``flops``, ``bytes_total`` and ``shapes``
    as :class:`~hybridperf.residual.neusight.PricedOps` has them.
    """

    precision: str
    index: np.ndarray
    op: np.ndarray
    family: np.ndarray
    flops: np.ndarray
    bytes_total: np.ndarray
    shapes: Mapping[str, np.ndarray]

    @classmethod
    def of(cls, ls: Sequence[Launch], precision: str) -> MappedLaunches:
        """The launches of ``ls`` at ``precision`` with a NeuSight view."""
        from hybridperf.residual.neusight import OPS, SHAPE_COLUMNS, shape_row

        idx = [i for i, ln in enumerate(ls) if ln.op is not None and alu_precision(ln.precision) == precision]
        shapes = np.array([shape_row(ls[i].op, ls[i].dims) for i in idx], float).reshape(-1, len(SHAPE_COLUMNS))
        cols = (np.array(idx, dtype=np.intp), np.array([ls[i].op for i in idx]), np.array([OPS[ls[i].op][1] for i in idx]),
                np.array([ls[i].cost.flops for i in idx], float), np.array([ls[i].cost.bytes_total for i in idx], float),
                shapes)
        for a in cols:
            a.setflags(write=False)
        return cls(precision, *cols[:5], MappingProxyType({c: shapes[:, j] for j, c in enumerate(SHAPE_COLUMNS)}))


@dataclass(frozen=True)
class LaunchTable:
    """The :func:`launches` of one analysis with what pricing them on any GPU reuses (device-independent).

    ``mapped``: the launches with a NeuSight view, one :class:`MappedLaunches` per precision (sorted);
    ``precisions``: each launch's :func:`~hybridperf.precision.alu_precision` (what the operator data prices);
    ``kernels``: the report's :class:`~hybridperf.analysis.kernels.Kernel` of each launch, at its own precision.
    """

    launches: tuple[Launch, ...]
    group: tuple[str, ...]
    precisions: tuple[str, ...]
    #: per launch, its host dispatch cost in floors (:data:`HOST_WEIGHT`)
    host_weights: tuple[float, ...]
    kernels: tuple[Kernel, ...]
    mapped: tuple[MappedLaunches, ...]

    @classmethod
    def of(cls, ls: Sequence[Launch]) -> LaunchTable:
        ls = tuple(ls)
        alu = tuple(alu_precision(ln.precision) for ln in ls)
        return cls(ls, tuple(ln.group for ln in ls), alu,
                   tuple(HOST_WEIGHT.get(ln.op, 1.0) for ln in ls),
                   tuple(Kernel(ln.kernel_index, ln.name, ln.op_indices, Status.COUNTED, ln.cost, ln.precision) for ln in ls),
                   tuple(MappedLaunches.of(ls, p) for p in sorted({a for a, ln in zip(alu, ls) if ln.op is not None})))


def launch_table(analyzed: Analyzed, granularity: Granularity, precision: str | None = None) -> LaunchTable:
    """:class:`LaunchTable` of :func:`launches`."""
    return LaunchTable.of(launches(analyzed, granularity, precision))


class LaunchMemo:
    """The :func:`launch_table` of the analysis priced last, per granularity and precision: what a
    :class:`~hybridperf.api.Session` shares between the GPUs it prices one analysis on.

    The analysis is the key (held while it is the last one): the same object, or a copy with the same op records
    and kernels (:func:`_same_launch_inputs`: what :func:`~hybridperf.estimate.pricing.as_run_by` makes for each GPU
    of a runtime that runs constant work, the normaliser's folds of an LLM among it), so a memo never answers for
    another; :func:`launches` is a function of the records, kernels, granularity and precision alone.
    """

    def __init__(self) -> None:
        self._analyzed: Analyzed | None = None
        self._tables: dict[tuple[Granularity, str | None], LaunchTable] = {}

    def table(self, analyzed: Analyzed, granularity: Granularity, precision: str | None = None) -> LaunchTable:
        """:func:`launch_table`, computed once per analysis, granularity and precision."""
        if analyzed is not self._analyzed and not _same_launch_inputs(analyzed, self._analyzed):
            self._analyzed, self._tables = analyzed, {}
        key = (granularity, precision)
        if key not in self._tables:
            self._tables[key] = launch_table(analyzed, granularity, precision)
        return self._tables[key]


def _same_launch_inputs(a: Analyzed, b: Analyzed | None) -> bool:
    """Whether :func:`launches` reads the same values in ``a`` and ``b``: their op records (every field, those left
    out of equality too) and kernels, each the same object or equal. Copies made by
    :func:`~hybridperf.estimate.pricing.as_run_by` share most records by identity, so this is about one identity
    check per record."""
    if b is None:
        return False
    ra, rb = a.analysis.records, b.analysis.records
    if len(ra) != len(rb) or a.kernels != b.kernels:
        return False
    return all(x is y or (x == y and x.attrs == y.attrs and x.read_vars == y.read_vars and x.unfolded == y.unfolded)
               for x, y in zip(ra, rb))


def spec_at(spec: DeviceSpec, precision: str) -> DeviceSpec:
    """``spec`` with its fp32 peak replaced by ``precision``'s (the operator model prices at the fp32 peak)."""
    if precision == "fp32":
        return spec
    return replace(spec, peak_flops_per_s=MappingProxyType({**spec.peak_flops_per_s, "fp32": spec.peak_flops(precision)}))


@dataclass(frozen=True)
class Breakdown:
    """One model's launched kernels priced on one device, before composition (seconds).

    ``device_s`` per kernel, ``group`` per kernel (:data:`GROUPS`), ``host_floor_s`` the per-launch
    host dispatch floor, ``execution`` the runtime's mode.
    """

    device_s: tuple[float, ...]
    group: tuple[str, ...]
    host_floor_s: float
    execution: Execution
    precisions: tuple[str, ...] = ()
    #: per launch, its host dispatch cost in floors (:data:`HOST_WEIGHT`; empty: 1 each)
    host_weights: tuple[float, ...] = ()

    @property
    def covered(self) -> int:
        return sum(g != "roofline" for g in self.group)

    @property
    def priced_precisions(self) -> tuple[str | None, ...]:
        """Per launch, the precision the operator model priced it at; None where it is at the roofline. The one
        reading of "operator-priced" (:meth:`ZeroShotGpu.apply`'s latency note, the family-probe check, and
        :class:`hybridperf.block_table.BlockTable`'s per-block sets)."""
        return tuple(None if g == "roofline" else p for g, p in zip(self.group, self.precisions))

    @cached_property
    def _group_sums(self) -> tuple[tuple[str, float], ...]:
        out = dict.fromkeys(GROUPS, 0.0)
        for t, g in zip(self.device_s, self.group):
            out[g] += t
        return tuple(out.items())

    def group_times(self) -> dict[str, float]:
        """Summed device time per :data:`GROUPS` entry."""
        return dict(self._group_sums)

    def host_s(self, log_scale: Mapping[str, float] | None = None, weighted_host: bool = False) -> float:
        """Summed host dispatch time: per-launch floor x ``exp(host)`` (x :attr:`host_weights` when ``weighted_host``)."""
        floor = self.host_floor_s * math.exp((log_scale or {}).get("host", 0.0))
        return float(sum(self.execution.host_times(len(self.device_s), floor,
                                                   self.host_weights if weighted_host else ())))

    def composition(self) -> np.ndarray:
        """What a model is made of, device-independent of its size: each :data:`GROUPS` entry's share of the
        device time, log device time and log launches (the features of :class:`ResidualKernel`)."""
        gt = dict(self._group_sums)
        total = max(sum(gt.values()), 1e-12)
        return np.array([gt[g] / total for g in GROUPS] + [math.log(total), math.log(max(len(self.device_s), 1))])

    def latency_s(self, log_scale: Mapping[str, float] | None = None, weighted_host: bool = False) -> float:
        """Composed latency with optional per-group (and ``host``) log-scale corrections."""
        s = log_scale or {}
        dev = [t * math.exp(s.get(g, 0.0)) for g, t in self._group_sums]
        return self.execution.compose([self.host_s(s, weighted_host)], dev)


@dataclass(frozen=True)
class ResidualKernel:
    """Few-shot correction ``log(measured / predicted)`` as kernel ridge regression over :meth:`Breakdown.composition`.

    A model is corrected by the residuals of the measured models that resemble it (Gaussian kernel on
    standardised composition, length ``length`` x sqrt(features)); far from all of them the correction
    returns to 0 (the prediction it corrects). ``bias`` adds a constant kernel (a shared device factor).
    Values only: ``center``/``scale`` standardise, ``points`` the measured models, ``alpha`` the weights.
    """

    center: tuple[float, ...]
    scale: tuple[float, ...]
    points: tuple[tuple[float, ...], ...]
    alpha: tuple[float, ...]
    length: float
    bias: float

    def _k(self, z: np.ndarray, pts: np.ndarray) -> np.ndarray:
        d2 = ((pts - z) ** 2).sum(-1)
        return np.exp(-d2 / (2 * self.length ** 2 * pts.shape[-1])) + self.bias

    def __call__(self, bd: Breakdown) -> float:
        z = (bd.composition() - np.asarray(self.center)) / np.asarray(self.scale)
        return float(self._k(z, np.asarray(self.points)) @ np.asarray(self.alpha))

    def to_dict(self) -> dict:
        return {"center": list(self.center), "scale": list(self.scale), "points": [list(p) for p in self.points],
                "alpha": list(self.alpha), "length": self.length, "bias": self.bias}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ResidualKernel:
        return cls(tuple(d["center"]), tuple(d["scale"]), tuple(tuple(p) for p in d["points"]), tuple(d["alpha"]),
                   float(d["length"]), float(d["bias"]))

    @classmethod
    def fit(cls, compositions: np.ndarray, residuals: np.ndarray) -> ResidualKernel | None:
        """Hyper-parameters from :data:`KERNEL_GRID` by closed-form leave-one-out (mean |pred / measured - 1|);
        None when no correction beats leaving the predictions as they are, or when the whole choice (grid point
        or none), itself left out one model at a time, does not: the best of many leave-one-out scores on a few
        models is optimistic."""
        F, r = np.asarray(compositions, float), np.asarray(residuals, float)
        best = _select_kernel(F, r)
        if best is None or len(r) < 4:
            return None
        nested = []
        for i in range(len(r)):  # the selection itself, scored on the model it did not see
            keep = np.arange(len(r)) != i
            sel = _select_kernel(F[keep], r[keep])
            pred = 0.0
            if sel is not None:
                center, scale, Z, length, bias, alpha = sel
                z = (F[i] - center) / scale
                pred = float((np.exp(-((Z - z) ** 2).sum(-1) / (2 * length ** 2 * Z.shape[1])) + bias) @ alpha)
            nested.append(abs(math.exp(pred - r[i]) - 1))
        if np.mean(nested) >= np.mean(np.abs(np.exp(-r) - 1)):
            return None
        center, scale, Z, length, bias, alpha = best
        return cls(tuple(map(float, center)), tuple(map(float, scale)), tuple(tuple(map(float, z)) for z in Z),
                   tuple(map(float, alpha)), float(length), float(bias))


def _select_kernel(F: np.ndarray, r: np.ndarray):
    """The :data:`KERNEL_GRID` point with the smallest closed-form leave-one-out error on ``(F, r)``, fitted:
    ``(center, scale, Z, length, bias, alpha)``; None when none beats no correction."""
    center, scale = F.mean(0), F.std(0) + 1e-9
    Z = (F - center) / scale
    d2 = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    best_err, best = float(np.mean(np.abs(np.exp(-r) - 1))), None
    for length, noise, bias in KERNEL_GRID:
        K = np.exp(-d2 / (2 * length ** 2 * Z.shape[1])) + bias + noise * np.eye(len(r))
        Ki = np.linalg.inv(K)
        loo = r - (Ki @ r) / np.diag(Ki)  # prediction of each residual from the others
        err = float(np.mean(np.abs(np.exp(loo - r) - 1)))
        if err < best_err:
            best_err, best = err, (center, scale, Z, length, bias, Ki @ r)
    return best


#: (length, noise, bias) tried by :meth:`ResidualKernel.fit`: noise is the ridge relative to the kernel's unit variance
KERNEL_GRID: tuple[tuple[float, float, float], ...] = tuple(
    (length, noise, bias) for length in (0.3, 1.0, 3.0) for noise in (0.1, 0.3, 1.0, 3.0) for bias in (0.0, 1.0))


class ZeroShotGpu:
    """The cross-device operator model applied to a whole model on a GPU, under one runtime.

    Parameters
    ----------
    model : CrossDeviceModel
        Fitted operator model.
    runtime : Runtime or str, optional
        Execution mode (default: the device kind's, :func:`hybridperf.estimate.execution.execution`).
    log_scale : mapping, optional
        Few-shot corrections per :data:`GROUPS` entry and ``host`` (0 = none).
    adapted_on : int
        Number of measured models the corrections were fitted on (0: zero-shot).
    weighted_host : bool
        Host dispatch per launch x :data:`HOST_WEIGHT` of its op type (few-shot on eager runtimes; zero-shot
        uses one floor per launch).
    kernel : ResidualKernel, optional
        Few-shot correction by similar measured models (CUDA-graph / compiled runtimes).
    kernel_time : KernelTimeModel, optional
        Prices each mapped kernel's device time without the eager dispatch its training data includes
        (:mod:`hybridperf.residual.kernel_time`); None: ``model`` at the runtime's device floor.
    cache : PredictionCache, optional
        Keeps ``model``'s scores of kernels priced before (:class:`~hybridperf.residual.cross_device.PredictionCache`,
        held by a :class:`~hybridperf.api.Session`); the same numbers as without.
    memo : LaunchMemo, optional
        Shares the last analysis's :func:`launches` with the other GPUs of a Session; the same launches as without.
    rooflines : RooflineMemo, optional
        Keeps the roofline estimate of each launch cost priced before on a sheet
        (:class:`~hybridperf.estimate.pricing.RooflineMemo`, held by a Session); the same estimates as without.
    """

    def __init__(self, model: Any, runtime: Any = None, log_scale: Mapping[str, float] | None = None,
                 adapted_on: int = 0, host_floor_s: float | None = None, weighted_host: bool = False,
                 kernel: ResidualKernel | None = None, kernel_time: Any = None, cache: Any = None,
                 memo: LaunchMemo | None = None, rooflines: RooflineMemo | None = None):
        self.model = model
        self.cache = cache
        self.memo = memo
        self.rooflines = rooflines
        self.kernel_time = kernel_time
        self.runtime = runtime
        self.log_scale = MappingProxyType(dict(log_scale or {}))
        self.adapted_on = adapted_on
        self.host_floor_s = host_floor_s
        self.weighted_host = weighted_host
        self.kernel = kernel
        #: the figures of the sheet a stored adaptation was fitted with (:func:`~hybridperf.residual.sheet.sheet_figures`,
        #: read by :func:`for_device`); None: not recorded, or not a stored adaptation
        self.sheet_: dict[str, Any] | None = None
        #: a stored adaptation without that record (saved before 2026-12-03): its predictions say "sheet not recorded"
        self.sheet_unrecorded_ = False
        #: the file of the user data directory a stored adaptation was read from (:func:`for_device`): :meth:`summary`
        #: names it (:func:`~hybridperf.residual.model.stored_note`); None: zero-shot, or not stored there
        self.stored_in_: str | None = None

    def with_cache(self, cache: Any, memo: LaunchMemo | None = None, rooflines: RooflineMemo | None = None) -> ZeroShotGpu:
        """A copy of this object that keeps ``model``'s kernel scores in ``cache`` (a
        :class:`~hybridperf.residual.cross_device.PredictionCache` of this model), takes launches from ``memo`` and
        roofline estimates from ``rooflines``."""
        out = copy.copy(self)
        out.cache, out.memo, out.rooflines = cache, memo, rooflines
        return out

    def latency_s(self, bd: Breakdown) -> float:
        """The model's latency from its :meth:`breakdown`, with this object's corrections."""
        return bd.latency_s(self.log_scale, self.weighted_host) * math.exp(self.kernel(bd) if self.kernel else 0.0)

    def on_training_gpu(self, spec: DeviceSpec) -> bool:
        """Whether ``spec`` is one of the cross-device model's training GPUs: its sheet id is one the model recorded a
        runtime probe for (``probes_``; the shipped model's: ``t4``, ``p4``, ``p100-pcie-16gb``, ``v100-pcie-32gb``, ``a100-pcie-40gb``,
        ``a100-pcie-80gb``), so the trees saw that GPU's operator measurements and it is priced with its own measured
        dispatch floor, bandwidth and GEMM rate (:meth:`~hybridperf.residual.cross_device.CrossDeviceModel.probe_for`,
        :meth:`_host_floor_source`): not zero-shot (:func:`training_gpu_note`).

        Matched by sheet id, the key those figures are looked up by, not by the sheet's figures: a copy of ``t4.yaml``
        under another id is priced with the zero-shot defaults (median floor, bandwidth x median fraction), so its
        figures are zero-shot and it says "zero-shot from spec". The CPU side matches a training CPU by id, else by
        the CPU identity the sheet states (:meth:`~hybridperf.residual.cross_host.CrossHostModel.own_host`), and then
        prices it with that host's offset; a GPU sheet states no such identity, so the label follows the pricing: a sheet
        with a training GPU's id (edited or not) takes that GPU's probe and is called one of its training GPUs.
        """
        return spec.id in (getattr(self.model, "probes_", None) or {})

    def is_zero_shot(self, spec: DeviceSpec) -> bool:
        """Whether nothing measured on ``spec``'s GPU enters this model's prediction there
        (:attr:`~hybridperf.estimate.execution.ExecutionSummary.zero_shot`): not adapted and not one of the training
        GPUs (:meth:`on_training_gpu`; until 2026-12-05b true on those too)."""
        return not self.adapted_on and not self.on_training_gpu(spec)

    def execution_for(self, spec: DeviceSpec) -> Execution:
        return execution(self.runtime, spec.kind)

    def _host_floor(self, spec: DeviceSpec) -> float:
        return self._host_floor_source(spec)[0]

    def _host_floor_source(self, spec: DeviceSpec) -> tuple[float, str]:
        """The eager host cost per launch on ``spec`` and where it comes from (the words of :meth:`summary`)."""
        if self.host_floor_s is not None:
            return self.host_floor_s, "as given"
        probe = self.model.probes_.get(spec.id)
        if probe is not None:
            return probe.dispatch_floor_s, "its dispatch floor in the operator data"
        return self.model.default_floor_s_, "the operator data's median dispatch floor: this device's host was never timed"

    def breakdown(self, analyzed: Analyzed, spec: DeviceSpec, precision: str | None = None) -> tuple[Breakdown, tuple[Launch, ...]]:
        """Per-kernel device times of ``analyzed`` on ``spec`` (before composition) and the launches: those of
        ``analyzed`` as this model's runtime runs it (:func:`~hybridperf.estimate.pricing.as_run_by`), as
        :func:`~hybridperf.estimate.pricing.predict_on` prices it."""
        bd, _, table = self._breakdown(analyzed, spec, precision)
        return bd, table.launches

    def _breakdown(self, analyzed: Analyzed, spec: DeviceSpec, precision: str | None):
        """:meth:`breakdown`, each launch's roofline estimate on ``spec`` and the :class:`LaunchTable`."""
        from hybridperf.residual.neusight import PricedOps

        ex = self.execution_for(spec)
        # the graph as the runtime runs it (constant work and the normaliser's folds, every call under torch): until
        # 2026-12-05 callers that did not apply as_run_by (GPU calibration, the block table) priced it as folded
        analyzed = as_run_by(analyzed, ex)
        table = (self.memo.table if self.memo is not None else launch_table)(analyzed, ex.granularity, precision)
        ls = table.launches
        priced = self.rooflines.price if self.rooflines is not None else price
        ests = [priced(ln.cost, ln.precision, spec) for ln in ls]
        floor = ex.device_floor_s  # roofline work for every kernel first, at least the runtime's device floor
        dev = np.array([max(est.compute_s, est.memory_s, floor) for est in ests], float)
        for m in table.mapped:
            idx = m.index
            try:
                view = spec_at(spec, m.precision)
            except SpecError:  # a precision the sheet has no peak for stays at roofline
                continue
            n = len(idx)
            # compute and memory time: the size axis of a family probe's slope (family_probe_size) reads them
            rows = PricedOps(
                op=m.op, family=m.family, device=np.array([spec.id] * n), measured_s=np.full(n, np.nan),
                flops=m.flops, bytes_total=m.bytes_total, roofline_s=dev[idx],
                compute_s=np.array([ests[i].compute_s for i in idx], float),
                memory_s=np.array([ests[i].memory_s for i in idx], float), shapes=m.shapes,
            )
            if self.kernel_time is not None:  # kernel time: the eager dispatch in the training data taken out
                probe = self.kernel_time.probe_for(spec.id, view)
                dev[idx] = self.kernel_time.kernel_s(rows, {spec.id: view}, {spec.id: probe}, ex.device_floor_s)
                continue
            # the device's probe (measured, or the zero-shot defaults: bandwidth, GEMM rate) at this runtime's floor
            probe = replace(self.model.probe_for(spec.id, view), dispatch_floor_s=ex.device_floor_s)
            # family probes are fp32 timings: they rescale the fp32 kernels only
            family = self._family_probes(spec) if m.precision == "fp32" else None
            dev[idx] = self.model.predict_latency(rows, {spec.id: view}, {spec.id: probe},
                                                  family_probes={spec.id: family} if family is not None else None,
                                                  cache=self.cache)
        bd = Breakdown(tuple(dev.tolist()), table.group, self._host_floor(spec), ex, table.precisions, table.host_weights)
        return bd, ests, table

    def _family_probe_shapes(self, spec: DeviceSpec) -> list | None:
        """The sheet's family probes of known op types, or None where it has none or the model does not use them."""
        from hybridperf.residual.neusight import OPS

        if not spec.family_probes or not getattr(self.model, "family_shrink", 0.0) or self.kernel_time is not None:
            return None
        return [p for p in spec.family_probes if p.op in OPS] or None

    def _family_probes(self, spec: DeviceSpec) -> Any:
        """The sheet's family probes (``family_probes``, written by ``hybridperf probe`` on the GPU) as priced
        rows for the cross-device model, or None where the sheet has none or the model does not use them."""
        from hybridperf.residual.cross_device import family_probe_ops

        known = self._family_probe_shapes(spec)
        if known is None:
            return None
        try:
            return family_probe_ops(spec.id, spec, [p.latency_s for p in known], [(p.op, dict(p.dims)) for p in known])
        except (KeyError, ValueError, InputError) as exc:
            raise SpecError(f"{spec.path or spec.id}: key 'family_probes' cannot be priced ({error_line(exc)}); "
                            "probe the GPU again (`hybridperf probe --out SHEET.yaml` on it), or remove the "
                            "key") from exc

    def _uses_family_probes(self, spec: DeviceSpec, bd: Breakdown) -> bool:
        """Whether :meth:`breakdown` rescaled some of ``bd``'s kernels by the sheet's family probes."""
        covered_fp32 = "fp32" in bd.priced_precisions
        return covered_fp32 and self._family_probe_shapes(spec) is not None

    def summary(self, spec: DeviceSpec, ex: Execution | None = None, fused: bool = True) -> str:
        """How this model prices ``spec`` whatever the graph: zero-shot or adapted, and the runtime (``ex``,
        default :meth:`execution_for`); :meth:`describe` adds what one prediction used. ``fused=False``: the graph
        was analysed without fusion (``--no-fuse``), so a fused runtime's kernels are the unfused ones (until
        2026-12-04 the note said "fused kernels" of 23 unfused launches)."""
        ex = ex or self.execution_for(spec)
        kernels = ex.granularity.value if fused or ex.granularity is not Granularity.FUSED else "unfused (--no-fuse)"
        if self.adapted_on:
            note = f"cross-device model few-shot adapted on {self.adapted_on} measured models of {spec.id}"
        else:  # a training GPU's own sheet is not zero-shot (until 2026-12-05b it said so)
            note = training_gpu_note(spec.id) if self.on_training_gpu(spec) else ZERO_SHOT_NOTE
        if self.adapted_on and self.stored_in_ is not None:
            from hybridperf.residual.model import stored_note

            note += stored_note(self.stored_in_, adaptation=True)
        why = "" if self.adapted_on else unverified_reason(spec)
        if why:
            note += f", unverified ({why})"
        note += f"; runtime {ex.runtime.value} ({kernels} kernels, {ex.composition.value})"
        if ex.host_per_launch and not self.adapted_on:
            from hybridperf.units import format_si  # not report.format, a layer above (until 2026-12-05 an upward import)

            floor, where = self._host_floor_source(spec)
            note += f", host {format_si(floor, 's', digits=3)} per launch ({where})"
        return note

    def describe(self, spec: DeviceSpec, bd: Breakdown, precision: str | None, fused: bool = True) -> str:
        note = self.summary(spec, bd.execution, fused)
        if self.kernel_time is not None:
            note += "; kernel times without the eager dispatch of the operator data"
        if self._uses_family_probes(spec, bd):
            note += (f"; fp32 kernels rescaled by family probes measured on {spec.family_probes_measured_on} "
                     f"({len(spec.family_probes)} shapes)")
        unc = len(bd.group) - bd.covered
        if unc:
            note += f"; {unc} of {len(bd.group)} kernels at roofline (op types without operator data)"
        if any(p != "fp32" for p in bd.precisions):
            note += "; non-fp32 kernels priced with the sheet's peak for their precision (operator data is fp32)"
        return note

    def apply(self, prediction: Any) -> Any:
        """A new :class:`~hybridperf.estimate.pricing.Prediction` with zero-shot (or adapted) latencies."""
        from hybridperf.estimate.execution import ExecutionSummary
        from hybridperf.estimate.pricing import KernelPrediction

        spec = prediction.spec
        bd, ests, table = self._breakdown(prediction.analyzed, spec, prediction.precision)
        n = len(table.launches)
        total = self.latency_s(bd)
        k = math.exp(self.kernel(bd)) if self.kernel else 1.0
        scaled = [t * k * math.exp(self.log_scale.get(g, 0.0)) for t, g in zip(bd.device_s, bd.group)]
        floor = bd.host_floor_s * math.exp(self.log_scale.get("host", 0.0))
        host = [h * k for h in bd.execution.host_times(n, floor, bd.host_weights if self.weighted_host else ())]
        # the report's kernel table: one row per launched kernel, and one per TVM kernel of uncosted ops (no time:
        # shown as unknown, as on CPU sheets), in graph order
        rows = [KernelPrediction(kn, est, float(t), calibrated=ln.op is not None)
                for ln, kn, t, est in zip(table.launches, table.kernels, scaled, ests)]
        rows += [kp for kp in prediction.kernels if kp.kernel.status in (Status.UNSUPPORTED, Status.SYMBOLIC)]
        rows = tuple(sorted(rows, key=lambda kp: min(kp.kernel.op_indices, default=-1)))
        summary = ExecutionSummary(bd.execution.runtime.value, n, bd.covered, float(sum(host)),
                                   float(sum(scaled)), bd.execution.composition.value, self.is_zero_shot(spec))
        priced_at = {p for p in bd.priced_precisions if p is not None}
        out = replace(prediction, kernels=rows, latency_s=float(total),
                      calibration=self.describe(spec, bd, prediction.precision, prediction.analyzed.fused),
                      calibration_stored_in=self.stored_in_ if self.adapted_on else None,
                      execution=summary)
        return self.qualify(out, spec, priced_at)

    def qualify(self, prediction: Any, spec: DeviceSpec, priced_at: Collection[str]) -> Any:
        """``prediction`` with this model's :attr:`~hybridperf.estimate.pricing.Prediction.latency_note`
        (:meth:`unverified_why`) and, adapted, what the sheet says of the stored adaptation in its calibration note
        (:func:`~hybridperf.residual.sheet.qualified`)."""
        if not self.adapted_on:
            why = self.unverified_why(spec, priced_at)
            return prediction.unverified(why) if why else prediction
        return qualified(prediction, self.sheet_, self.sheet_unrecorded_, sheet_figures(spec))

    def latency_note(self, spec: DeviceSpec, priced_at: Collection[str] = ()) -> str:
        """The :attr:`~hybridperf.estimate.pricing.Prediction.latency_note` :meth:`apply` gives on ``spec`` a
        prediction whose operator-priced launches run at ``priced_at``: ``"unverified: <why>"``
        (:meth:`unverified_why`), else "". It depends on nothing else, so
        :class:`hybridperf.block_table.BlockTable` composes it per variant from this alone.

        Parameters
        ----------
        spec : DeviceSpec
            The sheet priced.
        priced_at : collection of str, default ()
            The precisions the operator-priced launches are priced at (none: fp32).

        Returns
        -------
        str
            The note, in :meth:`~hybridperf.estimate.pricing.Prediction.unverified`'s form; "" where there is no
            reason.
        """
        why = self.unverified_why(spec, priced_at)
        return f"{UNVERIFIED_PREFIX}{why}" if why else ""

    def unverified_why(self, spec: DeviceSpec, priced_at: Collection[str] = ()) -> str:
        """Why this model's latency on ``spec`` is unverified, the one home of that reason (:meth:`qualify`,
        :meth:`latency_note`): zero-shot, ``spec`` (at the precisions ``priced_at`` its operator-priced launches run
        at; none: fp32) lies outside the training GPUs (:func:`unverified_reason`); adapted, the sheet's figures
        changed since the adaptation was stored (:func:`~hybridperf.residual.sheet.sheet_reason`). "" where neither.
        """
        if not self.adapted_on:  # zero-shot reads the sheet as it is now
            return unverified_reason(spec, set(priced_at) or {"fp32"})
        return sheet_reason(self.sheet_, sheet_figures(spec))

    # ------------------------------------------------------------------ few-shot
    def adapt(self, rows: Sequence[tuple[Breakdown, float]]) -> ZeroShotGpu:
        """A new model corrected by measured models of the device; ``self`` is unchanged.

        ``rows`` are ``(breakdown, measured latency s)`` pairs (:meth:`breakdown` of each measured model on
        the device under this runtime). Two steps, each chosen by leave-one-out over ``rows`` only:

        * eager runtimes (host dispatch per launch): the host cost per launch becomes op-dependent
          (:data:`HOST_WEIGHT`), its level starting where the weighted host time of ``rows`` equals the
          zero-shot one and moving toward the measurements with ridge strength from :data:`RIDGE_GRID`;
        * other runtimes: a :class:`ResidualKernel` on the remaining log residuals (none when it does not
          help in leave-one-out).
        """
        rows = list(rows)
        if not rows:
            raise InputError("adapt needs at least one measured model")
        if any(bd.execution.host_per_launch for bd, _ in rows):
            n = sum(len(bd.host_weights) for bd, _ in rows)
            w = sum(sum(bd.host_weights) for bd, _ in rows)
            h0 = math.log(n / w) if n and w > 0 else 0.0
            ridge = _loo_ridge(rows, h0) if len(rows) >= 3 else max(RIDGE_GRID)
            h = _fit_host_level(rows, h0, ridge)
            return ZeroShotGpu(self.model, self.runtime, {"host": h}, len(rows), self.host_floor_s, weighted_host=True,
                               kernel_time=self.kernel_time)
        kernel = None
        if len(rows) >= 3:
            kernel = ResidualKernel.fit(np.array([bd.composition() for bd, _ in rows]),
                                        np.array([math.log(m / self.latency_s(bd)) for bd, m in rows]))
        return ZeroShotGpu(self.model, self.runtime, dict(self.log_scale), len(rows), self.host_floor_s,
                           self.weighted_host, kernel, self.kernel_time)

    def save_adaptation(self, device: str, directory: str | Path | None = None, sheet: DeviceSpec | None = None) -> Path:
        """Write the corrections to ``<directory or user models>/<device>/gpu_adaptation-<runtime>.json``, with the
        figures of ``sheet``, the sheet the measured models were priced on (:func:`~hybridperf.residual.sheet.sheet_figures`;
        None: not recorded, and its predictions say so): a prediction on that sheet with other figures later is marked
        unverified, naming them."""
        from hybridperf.residual.model import user_model_dir

        if not self.adapted_on:
            raise InputError("nothing to save: this model is not adapted (call adapt() first)")
        rt = execution(self.runtime, "gpu").runtime.value
        d = Path(directory) if directory is not None else user_model_dir() / device
        d.mkdir(parents=True, exist_ok=True)
        path = d / adaptation_file(rt)
        meta = {"schema_version": ADAPTATION_SCHEMA, "device": device, "runtime": rt, "base_model": MODEL_ID,
                "base_features_version": getattr(self.model, "trained_on_", ""), "log_scale": dict(self.log_scale),
                "weighted_host": self.weighted_host, "kernel": self.kernel.to_dict() if self.kernel else None,
                "adapted_on": self.adapted_on, "saved_on": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                SHEET_KEY: sheet_figures(sheet) if sheet is not None else None}
        meta[FIGURES_KEY] = figures_digest(_adaptation_figures(meta))  # an edit of them is refused at load
        from hybridperf.files import write_atomic
        from hybridperf.json_text import dumps

        # whole or not at all: predict reads it; strict JSON: a NaN raises (until 2026-12-04 stored as NaN)
        write_atomic(path, dumps(meta, indent=1) + "\n")
        return path


#: ridge strengths tried by leave-one-out in :meth:`ZeroShotGpu.adapt` (penalty per squared log-scale of the host
#: level's move away from its start; 1e6 keeps the start)
RIDGE_GRID: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0, 1e6)


def _fit_host_level(rows, h0: float, ridge: float) -> float:
    """Host log-level minimising squared log error + ``ridge`` x (level - ``h0``)^2 (weighted host)."""
    from scipy.optimize import minimize_scalar

    y = np.log([m for _, m in rows])

    def loss(h: float) -> float:
        p = np.log([bd.latency_s({"host": h}, True) for bd, _ in rows])
        return float(np.sum((p - y) ** 2) + ridge * (h - h0) ** 2)

    return float(minimize_scalar(loss, bounds=(h0 - 3.0, h0 + 3.0), method="bounded").x)


def _loo_ridge(rows, h0: float) -> float:
    """The :data:`RIDGE_GRID` entry with the smallest leave-one-out mean |pred / measured - 1| over ``rows``."""
    best, best_err = RIDGE_GRID[-1], math.inf
    for lam in RIDGE_GRID:
        err = 0.0
        for i in range(len(rows)):
            h = _fit_host_level(rows[:i] + rows[i + 1:], h0, lam)
            bd, m = rows[i]
            err += abs(bd.latency_s({"host": h}, True) / m - 1)
        if err < best_err:
            best, best_err = lam, err
    return best


def adaptation_file(runtime: str) -> str:
    return f"gpu_adaptation-{runtime}.json"


#: the keys of a stored adaptation that price or that its predictions print, whose sha256 it records
#: (:data:`~hybridperf.residual.sidecar.FIGURES_KEY`, from 2026-12-05); the others are words (its base model, its
#: date, the sheet's figures: compared with the sheet at each prediction)
ADAPTATION_FIGURES = ("device", "runtime", "log_scale", "weighted_host", "kernel", "adapted_on")
#: the largest |log-scale| a stored adaptation may hold: :meth:`ZeroShotGpu.adapt` fits the host level within 3 of
#: its start, log(launches / weighted launches), within log 2.07 (:data:`HOST_WEIGHT`) of 0, so within 3.73; a
#: larger one was not fitted (and ``exp`` of one above ~709 overflows)
LOG_SCALE_LIMIT = 5.0


def _adaptation_figures(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: meta.get(k) for k in ADAPTATION_FIGURES}


def read_adaptation(path: Path, device: str, runtime: str) -> dict[str, Any]:
    """The stored adaptation ``path`` (``<models>/<device>/gpu_adaptation-<runtime>.json``), checked as
    :meth:`ZeroShotGpu.save_adaptation` writes it: this hybridperf's schema, of ``device`` and ``runtime`` (those its
    place names), each figure of its type and range, and, in one stored from 2026-12-05, the figures its sha256
    records. Until 2026-12-05 an adaptation of another schema was skipped without a word (priced zero-shot), one of
    another runtime or device than its place names was used, a hand-edited figure priced as stored, and a missing
    key or a figure of another type was exit 3 (a NaN one too, at the report).

    Returns
    -------
    dict
        The file's JSON object; ``log_scale`` a map of finite floats, ``adapted_on`` an int, ``weighted_host`` a bool,
        ``kernel`` None or a map :meth:`ResidualKernel.from_dict` reads.

    Raises
    ------
    InputError
        One line naming ``path`` and the fix: calibrate again, or delete it (predict is then zero-shot).
    """
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"stored GPU adaptation {path} is unreadable ({error_line(exc, 120)}); calibrate again or "
                         "delete it") from None
    fix = (f"; calibrate again (`hybridperf calibrate --device {device} --runtime {runtime} --data ROWS.csv`) or "
           "delete it (predict is then zero-shot)")
    schema = meta.get("schema_version")
    if schema != ADAPTATION_SCHEMA:
        newer = is_newer_version(schema, ADAPTATION_SCHEMA)
        raise InputError(f"{path}: a GPU adaptation of schema {shown_version(schema, ADAPTATION_SCHEMA)}, "
                         f"{'newer than' if newer else 'not'} this hybridperf's ({ADAPTATION_SCHEMA})"
                         f"{'; upgrade hybridperf, or' if newer else ';'} {fix[2:]}")
    for key, want in (("device", device), ("runtime", runtime)):
        if meta.get(key) != want:
            raise InputError(f"{path} is an adaptation of {key} {meta.get(key)!r}, not of {want!r} its "
                             f"{'folder' if key == 'device' else 'file name'} names (copied or renamed?){fix}")
    try:
        _check_adaptation(meta)
    except KeyError as exc:
        raise InputError(f"{path} is not an adaptation hybridperf wrote: it has no {exc}{fix}") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path} is not an adaptation hybridperf wrote: {exc}{fix}") from None
    check_figures(path, meta, _adaptation_figures(meta), fix)
    return meta


def _check_adaptation(meta: dict[str, Any]) -> None:
    """Each figure of a stored adaptation of its type and range (:func:`read_adaptation`).

    Raises
    ------
    KeyError, TypeError, ValueError
        What :meth:`ZeroShotGpu.save_adaptation` does not write (the message names the key).
    """
    scales = meta["log_scale"]
    if not isinstance(scales, dict):
        raise TypeError(f"its log_scale is a JSON {json_kind(scales)}, not an object")
    unknown = sorted(set(scales) - {*GROUPS, "host"})
    if unknown:
        raise ValueError(f"its log_scale corrects {unknown[0]!r}, not one of {', '.join((*GROUPS, 'host'))}")
    for key in scales:
        figure(scales[key], f"log_scale's {key}")
        if abs(scales[key]) > LOG_SCALE_LIMIT:
            raise ValueError(f"its log_scale's {key} {scales[key]!r} is beyond +-{LOG_SCALE_LIMIT:g} (a factor "
                             f"{math.exp(LOG_SCALE_LIMIT):.0f}), which no adaptation fits")
    number(meta, "adapted_on", low=1, integer=True)
    if not isinstance(meta["weighted_host"], bool):
        raise TypeError(f"its weighted_host {meta['weighted_host']!r} is not true or false")
    kernel = meta["kernel"]
    if kernel is not None:
        _check_kernel(kernel)
    if not isinstance(meta.get(SHEET_KEY), (dict, type(None))):
        raise TypeError(f"its {SHEET_KEY} is a JSON {json_kind(meta[SHEET_KEY])}, not an object")


def _check_kernel(k: Any) -> None:
    """A stored :class:`ResidualKernel` (its :meth:`~ResidualKernel.to_dict`): finite numbers, a positive scale and
    length, a non-negative bias, one point per weight, each of the composition's ``len(GROUPS) + 2`` features."""
    if not isinstance(k, dict):
        raise TypeError(f"its kernel is a JSON {json_kind(k)}, not an object")
    missing = [key for key in ("center", "scale", "points", "alpha", "length", "bias") if key not in k]
    if missing:
        raise ValueError(f"its kernel has no {missing[0]}")
    points = k["points"]
    if not isinstance(points, list) or not points:
        raise ValueError("its kernel's points are not a list of measured models")
    n = len(GROUPS) + 2  # Breakdown.composition
    vectors = {"center": k["center"], "scale": k["scale"], "alpha": k["alpha"],
               **{f"points[{i}]": v for i, v in enumerate(points)}}
    for key, v in vectors.items():
        size = len(points) if key == "alpha" else n
        if not isinstance(v, list) or len(v) != size:
            raise ValueError(f"its kernel's {key} is not a list of {size} numbers")
        for i, x in enumerate(v):
            figure(x, f"kernel's {key}[{i}]", positive=key == "scale")
    figure(k["length"], "kernel's length", positive=True)
    figure(k["bias"], "kernel's bias", low=0.0)


@lru_cache(maxsize=4)
def _load_model(directory: str, key: object):  # key: the sidecar's file_key (a store replaces the sidecar last)
    from hybridperf.residual.cross_device import CrossDeviceModel

    return CrossDeviceModel.load(directory)


def load_cross_device():
    """The stored cross-device operator model (first ``cross-device/`` on the model search path), or None."""
    from hybridperf.analysis.cache import file_key
    from hybridperf.residual.cross_device import SIDECAR_FILE
    from hybridperf.residual.model import model_search_path

    for base in model_search_path():
        d = base / MODEL_ID
        if (d / SIDECAR_FILE).exists():
            return _load_model(str(d), file_key(d / SIDECAR_FILE))
    return None


@lru_cache(maxsize=4)
def _load_kernel_time(directory: str, key: object):
    from hybridperf.residual.kernel_time import KernelTimeModel

    return KernelTimeModel.load(directory)


def load_kernel_time(directory) -> Any:
    """The kernel-time model saved in ``directory`` (:mod:`hybridperf.residual.kernel_time`), or None when absent.

    Not shipped and not used by :func:`for_device`: on NeuSight's leave-one-GPU-out it is less accurate than the
    cross-device model (``benchmarks/results/gpu_kernel_time.md``); ``benchmarks/h100_zero_shot.py`` evaluates it.
    """
    from pathlib import Path

    from hybridperf.analysis.cache import file_key
    from hybridperf.residual.kernel_time import SIDECAR_FILE

    d = Path(directory)
    if (d / SIDECAR_FILE).exists():
        return _load_kernel_time(str(d), file_key(d / SIDECAR_FILE))
    return None


def for_device(spec: DeviceSpec, runtime: Any = None) -> ZeroShotGpu | None:
    """The GPU model for ``spec``: zero-shot, or adapted when a stored adaptation for its runtime exists.

    None for non-GPU sheets or when no cross-device model is installed.
    """
    from hybridperf.residual.model import model_search_path, stored_for

    if spec.kind != "gpu":
        return None
    model = load_cross_device()
    if model is None:
        return None
    rt = execution(runtime, spec.kind).runtime
    for base in model_search_path():
        p = base / spec.id / adaptation_file(rt.value)
        if p.exists():
            meta = read_adaptation(p, spec.id, rt.value)
            if not (meta["log_scale"] or meta["weighted_host"] or meta["kernel"]):
                break  # an adaptation that kept no correction prices as zero-shot does, and says so
            kernel = ResidualKernel.from_dict(meta["kernel"]) if meta["kernel"] else None
            adapted = ZeroShotGpu(model, rt, meta["log_scale"], meta["adapted_on"], weighted_host=meta["weighted_host"],
                                  kernel=kernel)
            adapted.sheet_ = meta.get(SHEET_KEY)  # absent before 2026-12-03: "sheet not recorded"
            adapted.sheet_unrecorded_ = adapted.sheet_ is None
            adapted.stored_in_ = str(p) if stored_for(base / spec.id)[0] is not None else None  # not packaged
            return adapted
    return ZeroShotGpu(model, rt)


__all__ = ["Breakdown", "GROUPS", "HOST_WEIGHT", "KERNEL_GRID", "Launch", "LaunchMemo", "LaunchTable", "MappedLaunches",
           "OP_MAP", "RIDGE_GRID", "ResidualKernel", "TRAINED_ON", "UNVERIFIED_MARGIN", "ZERO_SHOT_NOTE", "ZeroShotGpu", "adaptation_file", "for_device",
           "launch_table", "launches", "load_cross_device", "load_kernel_time", "neusight_view", "read_adaptation", "spec_at",
           "training_gpu_note", "unverified_reason"]
