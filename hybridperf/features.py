"""The fixed, versioned feature list of the residual model: one :func:`featurize`.

Features describe a :class:`~hybridperf.pipeline.Prediction` (a model priced on a
device by the roofline) at two levels:

* per kernel (:data:`KERNEL_FEATURES`): the kernel's family group (one-hot),
  log FLOPs / bytes / weight bytes, arithmetic intensity, the roofline's
  compute / memory / overhead times, op count, precision, batch;
* per model (:data:`MODEL_FEATURES`): roofline-time and FLOP shares per family
  group, totals, roofline parts, bound shares, kernel and op counts, precision,
  batch, planned activation bytes and the device's peak rate and bandwidth.

Every log is ``log(x + eps)`` of an SI quantity. Changing a name, its order or
its meaning bumps :data:`FEATURES_VERSION`; a stored model whose version differs
is refused at load time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FEATURES_VERSION = "1"

#: coarse groups shared by our op families and onnxruntime's op types
GROUPS = ("conv", "matmul", "norm", "pool", "elementwise", "data_movement")

#: hybridperf cost family -> group
FAMILY_GROUP: Mapping[str, str] = {
    "conv": "conv",
    "linear": "matmul",
    "matmul": "matmul",
    "attention": "matmul",
    "norm": "norm",
    "pool": "pool",
    "reduce": "pool",
    "elementwise": "elementwise",
    "activation": "elementwise",
    "softmax": "elementwise",
    "cast": "elementwise",
    "quantize": "elementwise",
    "data_movement": "data_movement",
    "gather": "data_movement",
    "resize": "data_movement",
    "sort": "data_movement",
    "view": "data_movement",
}

#: a fused kernel belongs to the first group of this order that it contains
_GROUP_PRIORITY = ("conv", "matmul", "norm", "pool", "elementwise", "data_movement")

_ORT_GROUP: Mapping[str, str] = {
    **{op: "conv" for op in ("Conv", "FusedConv", "NhwcConv", "ConvTranspose", "NhwcFusedConv", "QLinearConv")},
    **{op: "matmul" for op in ("MatMul", "Gemm", "FusedMatMul", "FusedGemm", "MatMulNBits", "Attention",
                               "MultiHeadAttention", "MatMulInteger", "QGemm", "DynamicQuantizeMatMul", "Einsum")},
    **{op: "norm" for op in ("LayerNormalization", "SkipLayerNormalization", "SimplifiedLayerNormalization",
                             "SkipSimplifiedLayerNormalization", "BatchNormalization", "InstanceNormalization",
                             "GroupNorm", "EmbedLayerNormalization", "RMSNormalization", "GroupNormalization")},
    **{op: "pool" for op in ("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean",
                             "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ArgMax", "ArgMin")},
    **{op: "data_movement" for op in ("ReorderInput", "ReorderOutput", "Transpose", "Reshape", "Concat", "Split",
                                      "Slice", "Gather", "GatherElements", "GatherND", "Expand", "Pad", "Resize",
                                      "Upsample", "Shape", "Unsqueeze", "Squeeze", "Flatten", "Tile", "Identity",
                                      "ScatterND", "ScatterElements", "DepthToSpace", "SpaceToDepth", "TopK",
                                      "Range", "ConstantOfShape", "NonZero", "Trilu", "CumSum")},
}

PRECISION_CODE: Mapping[str, int] = {"fp64": -1, "fp32": 0, "tf32": 1, "fp16": 2, "bf16": 2, "fp8": 3, "int8": 3}

KERNEL_FEATURES: tuple[str, ...] = (
    *(f"group_{g}" for g in GROUPS),
    "log_flops",
    "log_bytes",
    "log_weight_bytes",
    "log_intensity",
    "log_roofline_s",
    "log_compute_s",
    "log_memory_s",
    "log_compute_over_memory",
    "n_ops",
    "precision",
    "log_batch",
)

MODEL_FEATURES: tuple[str, ...] = (
    *(f"time_share_{g}" for g in GROUPS),
    *(f"flop_share_{g}" for g in GROUPS),
    "log_flops",
    "log_bytes",
    "log_weight_bytes",
    "log_intensity",
    "log_roofline_s",
    "log_compute_s",
    "log_memory_s",
    "log_overhead_s",
    "log_kernels",
    "log_ops",
    "share_compute_bound",
    "share_memory_bound",
    "share_overhead_bound",
    "mean_log_kernel_s",
    "log_activation_bytes",
    "precision",
    "log_batch",
    "log_device_peak_flops",
    "log_device_bandwidth",
)

_EPS = 1e-12


def _log(x: float) -> float:
    return math.log(max(float(x), 0.0) + _EPS)


def ort_group(op_type: str) -> str:
    """The group of an onnxruntime op type (anything unlisted is elementwise)."""
    return _ORT_GROUP.get(op_type, "elementwise")


def family_group(family: str) -> str:
    return FAMILY_GROUP.get(family, "elementwise")


def kernel_group(families: Iterable[str]) -> str:
    """Group of a (possibly fused) kernel from its ops' cost families."""
    gs = {family_group(f) for f in families}
    for g in _GROUP_PRIORITY:
        if g in gs:
            return g
    return "elementwise"


@dataclass(frozen=True)
class Features:
    """Features of one prediction: one model row and one row per timed kernel.

    ``kernel_index[i]`` is the position in ``prediction.kernels`` of kernel row ``i``.
    """

    version: str
    model: np.ndarray  # shape (len(MODEL_FEATURES),)
    kernels: np.ndarray  # shape (n, len(KERNEL_FEATURES))
    kernel_index: tuple[int, ...]
    kernel_groups: tuple[str, ...]
    kernel_families: tuple[frozenset[str], ...]
    kernel_roofline_s: np.ndarray


def _batch_of(prediction: Any) -> int:
    for shape in prediction.analyzed.input_shapes.values():
        if shape:
            return int(shape[0])
    return 1


def featurize(prediction: Any) -> Features:
    """Model- and kernel-level features of a roofline :class:`~hybridperf.pipeline.Prediction`."""
    an = prediction.analyzed
    records = an.analysis.records
    spec = prediction.spec
    batch = _batch_of(prediction)
    rows, idx, groups, fams, roofs = [], [], [], [], []
    time_by_group = dict.fromkeys(GROUPS, 0.0)
    flops_by_group = dict.fromkeys(GROUPS, 0.0)
    bound_time = {"compute": 0.0, "memory": 0.0, "overhead": 0.0}
    tot_flops = tot_bytes = tot_w = comp = mem = ovh = 0.0
    prec_codes = []
    for i, kp in enumerate(prediction.kernels):
        k = kp.kernel
        if not k.counts_toward_time:
            continue
        est = kp.estimate
        families = frozenset(records[j].family for j in k.op_indices)
        g = kernel_group(families)
        cost = k.cost
        # the priced cost (precision override may halve bytes) is what the roofline saw
        bw = spec.dram_bandwidth_bytes_per_s
        nbytes = est.memory_s * bw if est.memory_s else float(cost.bytes_total)
        pc = PRECISION_CODE.get(est.precision, 0)
        prec_codes.append(pc)
        rows.append(
            [
                *(1.0 if g == gg else 0.0 for gg in GROUPS),
                _log(cost.flops),
                _log(nbytes),
                _log(cost.weight_bytes),
                _log(cost.flops / nbytes) if nbytes else _log(cost.flops),
                _log(est.latency_s),
                _log(est.compute_s),
                _log(est.memory_s),
                _log(est.compute_s) - _log(est.memory_s),
                float(len(k.op_indices)),
                float(pc),
                _log(batch),
            ]
        )
        idx.append(i)
        groups.append(g)
        fams.append(families)
        roofs.append(est.latency_s)
        time_by_group[g] += est.latency_s
        flops_by_group[g] += cost.flops
        if est.bound.value in bound_time:
            bound_time[est.bound.value] += est.latency_s
        tot_flops += cost.flops
        tot_bytes += nbytes
        tot_w += cost.weight_bytes
        comp += est.compute_s
        mem += est.memory_s
        ovh += est.overhead_s
    roof = sum(roofs) or _EPS
    fl = tot_flops or 1.0
    model = [
        *(time_by_group[g] / roof for g in GROUPS),
        *(flops_by_group[g] / fl for g in GROUPS),
        _log(tot_flops),
        _log(tot_bytes),
        _log(tot_w),
        _log(tot_flops / tot_bytes) if tot_bytes else _log(tot_flops),
        _log(roof),
        _log(comp),
        _log(mem),
        _log(ovh),
        _log(len(rows)),
        _log(len(records)),
        bound_time["compute"] / roof,
        bound_time["memory"] / roof,
        bound_time["overhead"] / roof,
        float(np.mean([_log(r) for r in roofs])) if roofs else _log(0),
        _log(an.memory.planned_bytes),
        float(max(prec_codes)) if prec_codes else 0.0,
        _log(batch),
        _log(spec.peak_flops(prediction.precision or "fp32")),
        _log(spec.dram_bandwidth_bytes_per_s),
    ]
    karr = np.asarray(rows, dtype=float).reshape(len(rows), len(KERNEL_FEATURES))
    return Features(
        FEATURES_VERSION, np.asarray(model, dtype=float), karr, tuple(idx), tuple(groups), tuple(fams),
        np.asarray(roofs, dtype=float),
    )


# --------------------------------------------------------------------------- training tables


def measured_group_times(nodes: Iterable[tuple[str, float]], latency_s: float) -> dict[str, float]:
    """Measured seconds per group from ``(op_type, duration_s)`` profile rows, scaled to sum to ``latency_s``."""
    out = dict.fromkeys(GROUPS, 0.0)
    for op, d in nodes:
        out[ort_group(op)] += d
    tot = sum(out.values())
    if tot > 0:
        out = {g: v * latency_s / tot for g, v in out.items()}
    return out


def feature_rows(prediction: Any, key: str, measured_s: float | None = None,
                 group_times: Mapping[str, float] | None = None) -> tuple[dict, list[dict]]:
    """One model row and kernel rows (CSV-ready dicts) for the training tables."""
    f = featurize(prediction)
    row = {"key": key, "features_version": f.version, "device": prediction.spec.id,
           "precision_override": prediction.precision or "",
           "roofline_latency_s": prediction.roofline_latency_s, "measured_latency_s": measured_s if measured_s else "",
           "op_families": "|".join(sorted(set().union(*f.kernel_families))) if f.kernel_families else ""}
    row.update({n: round(float(v), 6) for n, v in zip(MODEL_FEATURES, f.model)})
    krows = []
    if group_times is not None:
        roof_g = dict.fromkeys(GROUPS, 0.0)
        for g, r in zip(f.kernel_groups, f.kernel_roofline_s):
            roof_g[g] += r
        for n, (g, fam, r, x) in enumerate(zip(f.kernel_groups, f.kernel_families, f.kernel_roofline_s, f.kernels)):
            kr = {"key": key, "kernel": n, "group": g, "families": "|".join(sorted(fam)), "roofline_s": r,
                  "group_roofline_s": roof_g[g], "group_measured_s": group_times.get(g, 0.0)}
            kr.update({nm: round(float(v), 6) for nm, v in zip(KERNEL_FEATURES, x)})
            krows.append(kr)
    return row, krows


def featurize_measured(measurements_csv: Path | Iterable[Mapping[str, str]], profile_csv: Path | None, device: str, precision: str | None = None,
                       log: Callable[[str], None] | None = None,
                       target: str = "latency_s") -> tuple[list[dict], list[dict]]:
    """Analyse every model of a measurements CSV (a path, or its rows) and build the training tables.

    ``target`` names the measured latency column used as ground truth (the
    median of the timed runs by default: see ``benchmarks/collect_cpu.py``).

    Model rows also carry the measured and predicted peak memory and the
    analysis time (for the accuracy benchmark).
    """
    import csv
    import time

    from hybridperf.pipeline import analyze, predict_on

    if isinstance(measurements_csv, (str, Path)):
        with Path(measurements_csv).open() as fh:
            meas = list(csv.DictReader(fh))
    else:
        meas = list(measurements_csv)
    prof: dict[str, list[tuple[str, float]]] = {}
    if profile_csv is not None and Path(profile_csv).exists():
        with Path(profile_csv).open() as fh:
            for r in csv.DictReader(fh):
                prof.setdefault(r["key"], []).append((r["op_type"], float(r["duration_s"])))
    rows, krows = [], []
    for m in meas:
        t0 = time.perf_counter()
        try:
            an = analyze(m["model"])
            pred = predict_on(an, device, precision, residual=None)
        except Exception as exc:  # noqa: BLE001 - a model hybridperf cannot analyse is reported and skipped
            if log:
                log(f"{m['key']}: analysis failed: {type(exc).__name__}: {str(exc).splitlines()[0][:150]}")
            continue
        dt = time.perf_counter() - t0
        lat = float(m.get(target) or m["latency_s"])
        gt = measured_group_times(prof[m["key"]], lat) if m["key"] in prof else None
        row, kr = feature_rows(pred, m["key"], lat, gt)
        row = {
            "key": m["key"], "zoo_name": m.get("zoo_name", ""), "family": m.get("family", ""), "batch": m.get("batch", ""),
            **{k: v for k, v in row.items() if k != "key"},
            "measured_peak_bytes": m.get("peak_bytes", ""), "predicted_peak_bytes": an.memory.peak_bytes,
            "measured_run_peak_bytes": m.get("run_peak_bytes", ""), "predicted_activation_bytes": an.memory.planned_bytes,
            "analysis_s": round(dt, 4), "measure_wall_s": m.get("measure_wall_s", ""),
            "repeats": m.get("repeats", ""), "measured_median_s": m.get("latency_s", ""),
            "load_avg_1m": m.get("load_avg_1m", ""),
        }
        rows.append(row)
        krows.extend(kr)
        if log:
            log(f"{m['key']}: roofline {pred.roofline_latency_s * 1e3:.2f} ms, measured {lat * 1e3:.2f} ms")
    return rows, krows


__all__ = [
    "FEATURES_VERSION", "GROUPS", "KERNEL_FEATURES", "MODEL_FEATURES", "Features", "featurize", "feature_rows",
    "featurize_measured", "kernel_group", "measured_group_times", "ort_group",
]
