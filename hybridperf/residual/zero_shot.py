"""Zero-shot GPU latency from the device's spec sheet: the cross-device operator model priced the way a runtime executes.

For a GPU with no stored per-device residual, each launched kernel (granularity from
:mod:`hybridperf.estimate.execution`) is described as the NeuSight operator type whose PyTorch
kernel computes it (:data:`OP_MAP`: matmul -> ``bmm``/``linear`` with B, M, N, K; conv2d ->
``conv``; layer norm, softmax, element-wise), priced by
:class:`~hybridperf.residual.cross_device.CrossDeviceModel` on the sheet, and the per-kernel
device times are composed with the runtime's host floor (eager: ``max(host sum, device sum)``).
Kernels of other op types keep their roofline time and are counted as such in the note.

Precision: the operator data is fp32 only. A kernel priced at another precision uses a view
of the sheet whose fp32 peak is that precision's peak (and its bytes shrink as the precision
override says); the note says so.

Few-shot: :meth:`ZeroShotGpu.adapt` fits per-op-group log-scale corrections (and one for the
host floor) on a handful of measured models, with ridge shrinkage toward 0, and returns a new
object; :meth:`ZeroShotGpu.save_adaptation` stores it under the user data directory next to
the per-device residuals (``<models>/<device id>/gpu_adaptation-<runtime>.json``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
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
from hybridperf.errors import InputError, SpecError
from hybridperf.estimate.execution import Execution, Granularity, execution
from hybridperf.estimate.pricing import priced_cost, price

#: trained-on GPUs as the headline names them
TRAINED_ON = "P4, P100, T4, V100, A100"
ZERO_SHOT_NOTE = f"zero-shot from spec (cross-device model trained on {TRAINED_ON} operators)"
#: the cross-device model's directory under the model search path
MODEL_ID = "cross-device"
ADAPTATION_SCHEMA = 1

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


def _numel(shape) -> int:
    return int(np.prod(shape)) if shape else 1


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
        if len(b) >= 3 and _numel(b[:-2]) > 1:
            return "bmm", {"B": _numel(out[:-2]), "M": m, "N": n, "K": k}
        return "linear", {"B": _numel(a[:-2]), "M": m, "N": n, "K": k}
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
    b = max(1, _numel(out) // max(h, 1))
    if op in _BINARY and len(ins) == 2 and _numel(ins[1]) != _numel(out) or \
            op in _BINARY and len(ins) == 2 and _numel(ins[0]) != _numel(out):
        op = op + "u"
    return op, {"B": b, "H": h}


#: ops that ``shape_of`` starts: shape arithmetic, which PyTorch does in Python on the host
_SHAPE_SOURCES = frozenset({"relax.shape_of", "relax.shape_to_tensor"})


def _host_side(recs) -> set[str]:
    """Variables of op records that launch no kernel in PyTorch eager / CUDA graphs.

    * shape arithmetic: ops whose every variable input comes from ``shape_of`` (Python ints in PyTorch);
    * constants: ops on scalar constants only (folded by any runtime);
    * views: ``permute_dims`` not followed by a ``reshape`` (``torch.permute`` is a strided view that
      cuBLAS and element-wise kernels read as is; ``reshape`` of it copies), and ``take`` of one index
      (``x[i]`` selects a view).
    """
    host: set[str] = set()
    consumers: dict[str, list[str]] = {}
    for r in recs:
        for v in r.input_vars:
            consumers.setdefault(v, []).append(r.op)
    for r in recs:
        if r.op in _SHAPE_SOURCES:
            host.add(r.var)
        elif r.input_vars and all(v in host for v in r.input_vars):
            host.add(r.var)
        elif not r.input_vars and r.inputs and all(_numel(i.shape) <= 1 for i in r.inputs):
            host.add(r.var)  # scalar constants (tuple inputs such as concat's list no variables: not this rule)
    for r in recs:
        if r.op == "relax.permute_dims" and "relax.reshape" not in consumers.get(r.var, ()):
            host.add(r.var)
        elif r.op == "relax.take" and len(r.inputs) == 2 and _numel(r.inputs[1].shape) == 1:
            host.add(r.var)
    return host


def launches(analyzed: Analyzed, granularity: Granularity, precision: str | None = None) -> tuple[Launch, ...]:
    """The kernels a runtime of ``granularity`` launches for ``analyzed``.

    Per-op: one per Relax op with a cost, except zero-cost ops (views) and a bias ``add`` of a constant
    right after a conv2d / matmul (PyTorch's conv and linear kernels carry their bias): its FLOPs and
    bytes join that kernel. Fused: TVM's kernels, each described by its heaviest mapped op.
    """
    recs = analyzed.analysis.records
    out: list[Launch] = []
    if granularity is Granularity.PER_OP:
        by_var: dict[str, int] = {}
        with_bias: set[int] = set()
        host_side = _host_side(recs)
        for r in recs:
            if r.status is Status.ZERO_COST or not r.counts_toward_time or r.var in host_side:
                continue
            prev = by_var.get(r.input_vars[0]) if len(r.input_vars) == 1 else None
            if (r.op == "relax.add" and prev is not None and prev not in with_bias and len(r.inputs) == 2
                    and out[prev].op in ("conv", "linear", "bmm")
                    and min(_numel(i.shape) for i in r.inputs) < _numel(r.outputs[0].shape)):
                with_bias.add(prev)
                p = out[prev]
                c, _ = priced_cost(r.cost, r.precision, precision)
                # the kernel reads the bias once and writes its output once: add the FLOPs and the bias bytes
                small, total = min(_numel(i.shape) for i in r.inputs), sum(_numel(i.shape) for i in r.inputs)
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

    @property
    def covered(self) -> int:
        return sum(g != "roofline" for g in self.group)

    @cached_property
    def _group_sums(self) -> tuple[tuple[str, float], ...]:
        out = dict.fromkeys(GROUPS, 0.0)
        for t, g in zip(self.device_s, self.group):
            out[g] += t
        return tuple(out.items())

    def group_times(self) -> dict[str, float]:
        """Summed device time per :data:`GROUPS` entry."""
        return dict(self._group_sums)

    def latency_s(self, log_scale: Mapping[str, float] | None = None) -> float:
        """Composed latency with optional per-group (and ``host``) log-scale corrections."""
        s = log_scale or {}
        dev = [t * math.exp(s.get(g, 0.0)) for g, t in self._group_sums]
        host = sum(self.execution.host_times(len(self.device_s), self.host_floor_s * math.exp(s.get("host", 0.0))))
        return self.execution.compose([host], dev)


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
    """

    def __init__(self, model: Any, runtime: Any = None, log_scale: Mapping[str, float] | None = None,
                 adapted_on: int = 0, host_floor_s: float | None = None):
        self.model = model
        self.runtime = runtime
        self.log_scale = MappingProxyType(dict(log_scale or {}))
        self.adapted_on = adapted_on
        self.host_floor_s = host_floor_s

    def execution_for(self, spec: DeviceSpec) -> Execution:
        return execution(self.runtime, spec.kind)

    def _host_floor(self, spec: DeviceSpec) -> float:
        if self.host_floor_s is not None:
            return self.host_floor_s
        probe = self.model.probes_.get(spec.id)
        return probe.dispatch_floor_s if probe is not None else self.model.default_floor_s_

    def breakdown(self, analyzed: Analyzed, spec: DeviceSpec, precision: str | None = None) -> tuple[Breakdown, tuple[Launch, ...]]:
        """Per-kernel device times of ``analyzed`` on ``spec`` (before composition) and the launches."""
        from hybridperf.residual.device_features import RuntimeProbe
        from hybridperf.residual.neusight import PricedOps, SHAPE_COLUMNS, shape_row

        ex = self.execution_for(spec)
        ls = launches(analyzed, ex.granularity, precision)
        dev = np.zeros(len(ls))
        for i, ln in enumerate(ls):  # roofline work for every kernel first, at least the runtime's device floor
            est = price(ln.cost, ln.precision, spec)
            dev[i] = max(est.compute_s, est.memory_s, ex.device_floor_s)
        for prec in sorted({ln.precision for ln in ls if ln.op is not None}):
            idx = [i for i, ln in enumerate(ls) if ln.op is not None and ln.precision == prec]
            try:
                view = spec_at(spec, prec)
            except SpecError:  # a precision the sheet has no peak for stays at roofline
                continue
            shapes = np.array([shape_row(ls[i].op, ls[i].dims) for i in idx], float).reshape(-1, len(SHAPE_COLUMNS))
            n = len(idx)
            rows = PricedOps(
                op=np.array([ls[i].op for i in idx]), family=np.array([ls[i].group for i in idx]),
                device=np.array([spec.id] * n), measured_s=np.full(n, np.nan),
                flops=np.array([ls[i].cost.flops for i in idx], float),
                bytes_total=np.array([ls[i].cost.bytes_total for i in idx], float),
                roofline_s=dev[idx], compute_s=np.zeros(n), memory_s=np.zeros(n),
                shapes=MappingProxyType({c: shapes[:, j] for j, c in enumerate(SHAPE_COLUMNS)}),
            )
            stream = self.model.probe_for(spec.id, view).stream_bytes_per_s
            probe = RuntimeProbe(ex.device_floor_s, stream)
            dev[idx] = self.model.predict_latency(rows, {spec.id: view}, {spec.id: probe})
        bd = Breakdown(tuple(float(t) for t in dev), tuple(ln.group for ln in ls), self._host_floor(spec), ex,
                       tuple(ln.precision for ln in ls))
        return bd, ls

    def describe(self, spec: DeviceSpec, bd: Breakdown, precision: str | None) -> str:
        ex = bd.execution
        note = ZERO_SHOT_NOTE if not self.adapted_on else (
            f"cross-device model few-shot adapted on {self.adapted_on} measured models of {spec.id}")
        note += f"; runtime {ex.runtime.value} ({ex.granularity.value} kernels, {ex.composition.value})"
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
        bd, ls = self.breakdown(prediction.analyzed, spec, prediction.precision)
        total = bd.latency_s(self.log_scale)
        scaled = [t * math.exp(self.log_scale.get(g, 0.0)) for t, g in zip(bd.device_s, bd.group)]
        host = bd.execution.host_times(len(ls), bd.host_floor_s * math.exp(self.log_scale.get("host", 0.0)))
        # the report's kernel table: one row per launched kernel
        rows = []
        for ln, t in zip(ls, scaled):
            est = price(ln.cost, ln.precision, spec)
            k = Kernel(ln.kernel_index, ln.name, ln.op_indices, Status.COUNTED, ln.cost, ln.precision)
            rows.append(KernelPrediction(k, est, float(t), calibrated=ln.op is not None))
        summary = ExecutionSummary(bd.execution.runtime.value, len(ls), bd.covered, float(sum(host)),
                                   float(sum(scaled)), bd.execution.composition.value, self.adapted_on == 0)
        return replace(prediction, kernels=tuple(rows), latency_s=float(total),
                       calibration=self.describe(spec, bd, prediction.precision), execution=summary)

    # ------------------------------------------------------------------ few-shot
    def adapt(self, rows: Sequence[tuple[Breakdown, float]], ridge: float | None = None) -> ZeroShotGpu:
        """A new model with per-group log-scale corrections fitted on measured models.

        ``rows`` are ``(breakdown, measured latency s)`` pairs (:meth:`breakdown` of each measured model on
        the device). Minimises ``sum (log pred - log measured)^2 + ridge * sum theta^2`` over one
        ``theta`` per group present in the rows and ``host`` (eager runtimes). ``ridge`` None: chosen from
        :data:`RIDGE_GRID` by leave-one-out over ``rows`` (only the given rows are used). ``self`` is unchanged.
        """
        rows = list(rows)
        if not rows:
            raise InputError("adapt needs at least one measured model")
        names = [g for g in GROUPS if any(g in bd.group for bd, _ in rows)]
        if any(bd.execution.host_per_launch for bd, _ in rows):
            names.append("host")
        if ridge is None:
            ridge = _loo_ridge(rows, names) if len(rows) >= 3 else max(RIDGE_GRID)
        theta = _fit_log_scales(rows, names, ridge)
        return ZeroShotGpu(self.model, self.runtime, theta, len(rows), self.host_floor_s)

    def save_adaptation(self, device: str, directory: str | Path | None = None) -> Path:
        """Write the corrections to ``<directory or user models>/<device>/gpu_adaptation-<runtime>.json``."""
        from hybridperf.residual.model import user_model_dir

        if not self.adapted_on:
            raise InputError("nothing to save: this model is not adapted (call adapt() first)")
        rt = execution(self.runtime, "gpu").runtime.value
        d = Path(directory) if directory is not None else user_model_dir() / device
        d.mkdir(parents=True, exist_ok=True)
        path = d / adaptation_file(rt)
        meta = {"schema_version": ADAPTATION_SCHEMA, "device": device, "runtime": rt, "base_model": MODEL_ID,
                "base_features_version": getattr(self.model, "trained_on_", ""), "log_scale": dict(self.log_scale),
                "adapted_on": self.adapted_on, "saved_on": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        path.write_text(json.dumps(meta, indent=1) + "\n")
        return path


#: ridge strengths tried by leave-one-out in :meth:`ZeroShotGpu.adapt` (penalty per squared log-scale)
RIDGE_GRID: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


def _fit_log_scales(rows, names: Sequence[str], ridge: float) -> dict[str, float]:
    """Log-scale corrections minimising squared log error + ``ridge`` x squared corrections."""
    from scipy.optimize import minimize

    y = np.log([m for _, m in rows])

    def loss(theta):
        sc = dict(zip(names, theta))
        p = np.log([bd.latency_s(sc) for bd, _ in rows])
        return float(np.sum((p - y) ** 2) + ridge * np.sum(np.asarray(theta) ** 2))

    res = minimize(loss, np.zeros(len(names)), method="Powell", options={"xtol": 1e-3, "ftol": 1e-6})
    return dict(zip(names, map(float, np.atleast_1d(res.x))))


def _loo_ridge(rows, names: Sequence[str]) -> float:
    """The :data:`RIDGE_GRID` entry with the smallest leave-one-out squared log error over ``rows``."""
    best, best_err = RIDGE_GRID[-1], math.inf
    for lam in RIDGE_GRID:
        err = 0.0
        for i in range(len(rows)):
            th = _fit_log_scales(rows[:i] + rows[i + 1:], names, lam)
            bd, m = rows[i]
            err += (math.log(bd.latency_s(th)) - math.log(m)) ** 2
        if err < best_err:
            best, best_err = lam, err
    return best


def adaptation_file(runtime: str) -> str:
    return f"gpu_adaptation-{runtime}.json"


@lru_cache(maxsize=4)
def _load_model(directory: str, mtime: float):
    from hybridperf.residual.cross_device import CrossDeviceModel

    return CrossDeviceModel.load(directory)


def load_cross_device():
    """The stored cross-device operator model (first ``cross-device/`` on the model search path), or None."""
    from hybridperf.residual.cross_device import SIDECAR_FILE
    from hybridperf.residual.model import model_search_path

    for base in model_search_path():
        d = base / MODEL_ID
        if (d / SIDECAR_FILE).exists():
            return _load_model(str(d), (d / SIDECAR_FILE).stat().st_mtime)
    return None


def for_device(spec: DeviceSpec, runtime: Any = None) -> ZeroShotGpu | None:
    """The GPU model for ``spec``: zero-shot, or adapted when a stored adaptation for its runtime exists.

    None for non-GPU sheets or when no cross-device model is installed.
    """
    from hybridperf.residual.model import model_search_path

    if spec.kind != "gpu":
        return None
    model = load_cross_device()
    if model is None:
        return None
    rt = execution(runtime, spec.kind).runtime
    for base in model_search_path():
        p = base / spec.id / adaptation_file(rt.value)
        if p.exists():
            meta = json.loads(p.read_text())
            if meta.get("schema_version") == ADAPTATION_SCHEMA:
                return ZeroShotGpu(model, rt, meta["log_scale"], int(meta["adapted_on"]))
    return ZeroShotGpu(model, rt)


__all__ = ["Breakdown", "GROUPS", "Launch", "OP_MAP", "TRAINED_ON", "ZERO_SHOT_NOTE", "ZeroShotGpu", "adaptation_file",
           "for_device", "launches", "load_cross_device", "neusight_view", "spec_at"]
