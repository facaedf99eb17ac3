"""The fixed, versioned feature list of the residual model: one :func:`featurize`.

Features describe a :class:`~hybridperf.estimate.pricing.Prediction` (a model priced on a
device by the roofline) at two levels:

* per kernel (:data:`KERNEL_FEATURES`): the kernel's family group (one-hot),
  log FLOPs / bytes / weight bytes, arithmetic intensity, the roofline's
  compute / memory / overhead times, op count, precision, batch, and the shape
  of its main op: convolution kernel area, stride, dilation, groups, channels,
  output pixels and the share of taps that read the input rather than the
  padding (:func:`valid_tap_fraction`); matmul M / N / K; whether it permutes
  or resizes; how many elements pass through exp/erf/tanh-class math;
* per model (:data:`MODEL_FEATURES`): roofline-time and FLOP shares per family
  group, totals, roofline parts, bound shares, kernel and op counts, precision,
  batch, planned activation bytes and the device's peak rate and bandwidth.

Every log is ``log(x + eps)`` of an SI quantity. Changing a name, its order or
its meaning bumps :data:`FEATURES_VERSION` (model level) or
:data:`KERNEL_FEATURES_VERSION` (kernel level); a stored model or training
table whose version differs is refused.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hybridperf.analysis.recurrent import kernel_families
from hybridperf.errors import InputError, error_line
from hybridperf.ir.tvm_compat import start_tvm  # a name of this module: featurize_measured looks it up here

if TYPE_CHECKING:
    from hybridperf.device.spec import DeviceSpec

FEATURES_VERSION = "1"
#: version of :data:`KERNEL_FEATURES` and their targets (2: main-op shape, resize and transcendental features,
#: per-kernel targets; 3: renamed fused nodes shared by family group)
KERNEL_FEATURES_VERSION = "3"

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
    "grid_sample": "data_movement",
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

#: the roofline's own terms, the first features of a kernel and of a model after their op-group columns
ROOFLINE_TERMS: tuple[str, ...] = (
    "log_flops",
    "log_bytes",
    "log_weight_bytes",
    "log_intensity",
    "log_roofline_s",
    "log_compute_s",
    "log_memory_s",
)

KERNEL_FEATURES: tuple[str, ...] = (
    *(f"group_{g}" for g in GROUPS),
    *ROOFLINE_TERMS,
    "log_compute_over_memory",
    "n_ops",
    "precision",
    "log_batch",
    # shape of the kernel's main op (the one with the most FLOPs; 0 where it does not apply)
    "conv_kernel_area",
    "conv_stride",
    "conv_dilation",
    "conv_depthwise",
    "log_conv_groups",
    "log_conv_in_per_group",
    "log_conv_out_channels",
    "log_conv_out_pixels",
    "conv_valid_tap_fraction",
    "log_mm_m",
    "log_mm_n",
    "log_mm_k",
    "has_permute",
    "has_resize",
    "log_transcendental_elems",
)

#: ops evaluated with exp/erf/tanh-class math (much slower per element than add or max on a CPU)
TRANSCENDENTAL_OPS = frozenset({
    "relax.exp", "relax.sigmoid", "relax.tanh", "relax.erf", "relax.log", "relax.nn.gelu", "relax.nn.gelu_tanh",
    "relax.nn.silu", "relax.nn.softmax", "relax.nn.log_softmax", "relax.power", "relax.sin", "relax.cos",
    "relax.nn.softplus", "relax.nn.selu", "relax.nn.elu",
})

MODEL_FEATURES: tuple[str, ...] = (
    *(f"time_share_{g}" for g in GROUPS),
    *(f"flop_share_{g}" for g in GROUPS),
    *ROOFLINE_TERMS,
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


@functools.lru_cache(maxsize=4096)  # a pure function of six ints, asked again for every conv of a sweep
def valid_tap_fraction(in_size: int, out_size: int, kernel: int, stride: int, dilation: int, pad_lo: int) -> float:
    """Share of (output position, kernel tap) pairs of one spatial axis that read the input, not the padding.

    Nominal conv FLOPs count every tap; a kernel that skips taps landing in
    the zero padding does only this share of them (onnxruntime's CPU
    convolution skips much of that work: ``python -m benchmarks.dilated_conv``). Dilated 3x3 taps on a small map are mostly padding: dilation 36
    on a 16-pixel axis with padding 36 leaves 16 / 48 of the taps.
    """
    if out_size <= 0 or kernel <= 0:
        return 1.0
    o = np.arange(out_size)[:, None] * stride - pad_lo + np.arange(kernel)[None, :] * dilation
    return float(((o >= 0) & (o < in_size)).mean())


def _main_op_features(records: Sequence[Any]) -> list[float]:
    """The shape features (``conv_*``, ``log_mm_*``, ``has_permute``, ``has_resize``, ``log_transcendental_elems``)."""
    main = max(records, key=lambda r: (r.cost.flops, r.cost.bytes_total))
    conv = [0.0] * 9
    mm = [0.0] * 3
    attrs = main.attrs
    if main.family == "conv" and len(main.inputs) >= 2 and main.inputs[0].shape and main.inputs[1].shape \
            and main.outputs and main.outputs[0].shape and str(attrs.get("data_layout", "NCHW")).startswith("NC"):
        x, w, y = main.inputs[0].shape, main.inputs[1].shape, main.outputs[0].shape
        nsp = len(x) - 2
        groups = int(attrs.get("groups", 1) or 1)
        strides = list(attrs.get("strides", [1] * nsp) or [1] * nsp)
        dil = list(attrs.get("dilation", [1] * nsp) or [1] * nsp)
        pad = list(attrs.get("padding", [0] * (2 * nsp)) or [0] * (2 * nsp))
        ks = list(w[2:])
        frac = 1.0
        if "transpose" not in main.op and len(ks) == nsp and len(y) == len(x):
            for d in range(nsp):
                frac *= valid_tap_fraction(int(x[2 + d]), int(y[2 + d]), int(ks[d]), int(strides[d] if d < len(strides) else 1),
                                           int(dil[d] if d < len(dil) else 1), int(pad[d] if d < len(pad) else 0))
        cin = int(x[1])
        conv = [float(np.prod(ks)) if ks else 1.0, float(max(strides) if strides else 1), float(max(dil) if dil else 1),
                1.0 if groups > 1 and groups == cin else 0.0, _log(groups), _log(cin / groups), _log(y[1]),
                _log(float(np.prod(y[2:])) * y[0]), frac]
    elif main.family in ("matmul", "linear", "attention") and len(main.inputs) >= 2 and main.inputs[0].shape \
            and main.outputs and main.outputs[0].shape:
        a = main.inputs[0].shape
        k = int(a[-1]) if a else 1
        m = float(np.prod(a)) / max(k, 1)
        n = float(np.prod(main.outputs[0].shape)) / max(m, 1.0)
        mm = [_log(m), _log(n), _log(k)]
    permute = 1.0 if any(r.op == "relax.permute_dims" for r in records) else 0.0
    resize = 1.0 if any(r.family == "resize" for r in records) else 0.0
    trans = sum(o.numel or 0 for r in records if r.op in TRANSCENDENTAL_OPS for o in r.outputs[:1])
    return [*conv, *mm, permute, resize, _log(trans)]


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
    """Model- and kernel-level features of a roofline :class:`~hybridperf.estimate.pricing.Prediction`."""
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
        families = kernel_families(records, k.op_indices)  # an unrolled recurrent layer's: never trained on
        g = kernel_group(families)
        cost = k.cost
        # the priced cost (precision override may halve bytes) is what the roofline saw
        bw = spec.dram_bandwidth_bytes_per_s
        nbytes = est.memory_s * bw if est.memory_s else float(cost.bytes_total)
        pc = PRECISION_CODE.get(est.precision, 0)
        prec_codes.append(pc)
        rows.append(_kernel_feature_row(k, est, g, nbytes, pc, batch, records))
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
    model = _model_feature_vector(
        prediction, time_by_group, flops_by_group, bound_time, (tot_flops, tot_bytes, tot_w, comp, mem, ovh),
        roofs, roof, len(rows), prec_codes, batch,
    )
    karr = np.asarray(rows, dtype=float).reshape(len(rows), len(KERNEL_FEATURES))
    return Features(
        FEATURES_VERSION, np.asarray(model, dtype=float), karr, tuple(idx), tuple(groups), tuple(fams),
        np.asarray(roofs, dtype=float),
    )


def _kernel_feature_row(k: Any, est: Any, g: str, nbytes: float, pc: int, batch: float, records: list) -> list[float]:
    """One kernel's :data:`KERNEL_FEATURES` row (``nbytes``: the priced DRAM traffic the roofline saw)."""
    cost = k.cost
    return [
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
        *_main_op_features([records[j] for j in k.op_indices]),
    ]


def _model_feature_vector(prediction: Any, time_by_group: dict[str, float], flops_by_group: dict[str, float],
                          bound_time: dict[str, float], totals: tuple[float, ...], roofs: list[float], roof: float,
                          n_kernels: int, prec_codes: list[int], batch: float) -> list[float]:
    """The :data:`MODEL_FEATURES` vector from the per-kernel sums of :func:`featurize`.

    ``totals`` is ``(flops, bytes, weight bytes, compute s, memory s, overhead s)``
    summed over the timed kernels; ``roof`` the summed roofline time (never 0).
    """
    tot_flops, tot_bytes, tot_w, comp, mem, ovh = totals
    an = prediction.analyzed
    spec = prediction.spec
    fl = tot_flops or 1.0
    return [
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
        _log(n_kernels),
        _log(len(an.analysis.records)),
        bound_time["compute"] / roof,
        bound_time["memory"] / roof,
        bound_time["overhead"] / roof,
        float(np.mean([_log(r) for r in roofs])) if roofs else _log(0),
        _log(an.memory.planned_bytes or 0),  # unknown plan: the 0 the models were trained with
        float(max(prec_codes)) if prec_codes else 0.0,
        _log(batch),
        _log(spec.peak_flops(prediction.precision or "fp32")),
        _log(spec.dram_bandwidth_bytes_per_s),
    ]


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


def kernel_unit_times(prediction: Any, node_times: Iterable[tuple[str, float]], latency_s: float
                      ) -> list[tuple[int, float, float]]:
    """Per-kernel ground truth from profiled source-graph nodes: ``(unit, unit_roofline_s, unit_measured_s)``.

    ``node_times`` are ``(source node name, seconds[, runtime op type])`` rows
    of a runtime profile (onnxruntime's, joined to ONNX node names by
    :func:`hybridperf.measure.onnxruntime.join_profile`). The runtime fuses differently
    from TVM, so times are matched through the source graph:

    1. every Relax op knows the ONNX node it was converted from
       (:attr:`~hybridperf.analysis.analyze.Analyzed.source_nodes`); a kernel belongs
       to the profiled nodes of its ops; a kernel none of whose nodes has a
       profile row (the runtime fused them into a neighbour) belongs to the
       profiled node of its ops' first consumer that has one, else of their
       producers';
    2. kernels and profiled nodes are joined (union-find) into
       *units*; a unit's measured time is the sum of its nodes' times, its
       roofline the sum of its kernels' roofline times;
    3. a profiled node the runtime renamed when fusing (no source node name;
       onnxruntime's SkipLayerNormalization, Gelu, Upsample) is shared among
       the kernels of its op type's family group (:func:`ort_group`) in
       proportion to their roofline time;
    4. times are scaled so that all units add up to ``latency_s`` (what the
       profile does not attribute -- layout reorders, session overhead -- is
       spread in proportion).

    One row per timed kernel, in :attr:`Features.kernel_index` order. A kernel
    with no profiled node gets measured time 0 (the runtime folded it away).
    """
    an = prediction.analyzed
    records = an.analysis.records
    src = an.source_nodes
    timed, unjoined = _split_node_times(node_times)
    by_var = {r.var: r.index for r in records}
    unit_node = _record_unit_nodes(records, by_var, src, timed)
    parent: dict[Any, Any] = {}
    kernel_ids = [i for i, kp in enumerate(prediction.kernels) if kp.kernel.counts_toward_time]
    _join_kernels_to_nodes(prediction, kernel_ids, by_var, src, timed, unit_node, parent)
    comp_roof: dict[Any, float] = {}
    for i in kernel_ids:
        c = _find(parent, ("k", i))
        comp_roof[c] = comp_roof.get(c, 0.0) + prediction.kernels[i].estimate.latency_s
    comp_meas: dict[Any, float] = {}
    for node, d in timed.items():
        if ("n", node) in parent:
            c = _find(parent, ("n", node))
            if c in comp_roof:
                comp_meas[c] = comp_meas.get(c, 0.0) + d
    _share_unjoined(prediction, kernel_ids, unjoined, parent, comp_meas)
    total = sum(comp_meas.values())
    scale = latency_s / total if total > 0 else 0.0
    ids: dict[Any, int] = {}
    out = []
    for i in kernel_ids:
        c = _find(parent, ("k", i))
        out.append((ids.setdefault(c, len(ids)), comp_roof[c], comp_meas.get(c, 0.0) * scale))
    return out


def _find(parent: dict[Any, Any], a: Any) -> Any:
    """Union-find root of ``a`` in ``parent`` (adding ``a`` as its own root if new; halves paths)."""
    parent.setdefault(a, a)
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


def _split_node_times(node_times: Iterable[tuple]) -> tuple[dict[str, float], dict[str, float]]:
    """Profile rows summed per source node name (``timed``) and, for rows with no node name,
    per family group of their runtime op type (``unjoined``; layout reorders dropped)."""
    timed: dict[str, float] = {}
    unjoined: dict[str, float] = {}  # group -> seconds of profiled nodes whose names match no source node
    for item in node_times:
        node, d = item[0], float(item[1])
        if node:
            timed[node] = timed.get(node, 0.0) + d
        elif len(item) > 2 and item[2] and not str(item[2]).startswith("Reorder"):
            g = ort_group(str(item[2]))
            unjoined[g] = unjoined.get(g, 0.0) + d
    return timed, unjoined


def _record_unit_nodes(records: list, by_var: dict[str, int], src: dict[str, str], timed: dict[str, float]
                       ) -> list[str | None]:
    """Per op record: its own profiled source node, else that of its first consumer (by index) that has one."""
    consumers: dict[int, list[int]] = {}
    for r in records:
        for v in r.input_vars:
            j = by_var.get(v)
            if j is not None and j != r.index:
                consumers.setdefault(j, []).append(r.index)
    unit_node: list[str | None] = [None] * len(records)
    for r in reversed(records):
        own = src.get(r.var)
        if own in timed:
            unit_node[r.index] = own
            continue
        for c in sorted(consumers.get(r.index, ())):
            if unit_node[c] is not None:
                unit_node[r.index] = unit_node[c]
                break
    return unit_node


def _join_kernels_to_nodes(prediction: Any, kernel_ids: list[int], by_var: dict[str, int], src: dict[str, str],
                           timed: dict[str, float], unit_node: list[str | None], parent: dict[Any, Any]) -> None:
    """Union each timed kernel with the profiled nodes of its ops (step 1-2 of :func:`kernel_unit_times`)."""
    records = prediction.analyzed.analysis.records
    for i in kernel_ids:
        _find(parent, ("k", i))
        ops = prediction.kernels[i].kernel.op_indices
        own = {src.get(records[j].var) for j in ops} & timed.keys()
        if not own:  # fused away by the runtime: into its consumer's node, else its producer's
            own = {unit_node[j] for j in ops if unit_node[j] is not None}
        if not own:
            own = {unit_node[by_var[v]] for j in ops for v in records[j].input_vars
                   if v in by_var and unit_node[by_var[v]] is not None}
        for node in own:
            parent[_find(parent, ("k", i))] = _find(parent, ("n", node))


def _share_unjoined(prediction: Any, kernel_ids: list[int], unjoined: dict[str, float], parent: dict[Any, Any],
                    comp_meas: dict[Any, float]) -> None:
    """Add the renamed fused nodes' time to ``comp_meas`` (step 3 of :func:`kernel_unit_times`)."""
    records = prediction.analyzed.analysis.records
    # fused nodes onnxruntime renamed (SkipLayerNormalization, Gelu, Upsample, ...): their time goes to the
    # kernels of the same family group, in proportion to roofline time; with no such kernel it stays unattributed
    groups = {i: kernel_group(records[j].family for j in prediction.kernels[i].kernel.op_indices) for i in kernel_ids}
    for g, d in unjoined.items():
        ks = [i for i in kernel_ids if groups[i] == g]
        tot = sum(prediction.kernels[i].estimate.latency_s for i in ks)
        for i in ks if tot > 0 else ():
            c = _find(parent, ("k", i))
            comp_meas[c] = comp_meas.get(c, 0.0) + d * prediction.kernels[i].estimate.latency_s / tot


def feature_rows(prediction: Any, key: str, measured_s: float | None = None,
                 group_times: Mapping[str, float] | None = None,
                 node_times: Iterable[tuple[str, float]] | None = None) -> tuple[dict, list[dict]]:
    """One model row and kernel rows (CSV-ready dicts) for the training tables."""
    from hybridperf.estimate.pricing import OUTSIDE_TERMS

    f = featurize(prediction)
    row = {"key": key, "features_version": f.version, "device": prediction.spec.id,
           "precision_override": prediction.precision or "",
           "roofline_latency_s": prediction.roofline_latency_s, "measured_latency_s": measured_s if measured_s else "",
           "op_families": "|".join(sorted(set().union(*f.kernel_families))) if f.kernel_families else "",
           # the terms priced on the sheet outside the learned model (pricing.OUTSIDE_TERMS: the assists of the model's
           # own subnormals, transposes that move the innermost axis, element-wise math, depthwise 1-D convolutions,
           # gathers of short blocks, broadcasts over short spans):
           # taken off its label by load_table, which the learned model is fitted to, as a prediction adds them after
           # it; "" where not priced (none, or unknown)
           **{f: getattr(prediction, f) or "" for f in OUTSIDE_TERMS}}
    row.update({n: round(float(v), 6) for n, v in zip(MODEL_FEATURES, f.model)})
    krows = []
    if group_times is not None:
        roof_g = dict.fromkeys(GROUPS, 0.0)
        for g, r in zip(f.kernel_groups, f.kernel_roofline_s):
            roof_g[g] += r
        units = (kernel_unit_times(prediction, node_times, measured_s or 0.0) if node_times is not None
                 else [("", "", "")] * len(f.kernel_index))
        assists = kernel_assists_s(prediction, f.kernel_index)
        transposes = kernel_transposes_s(prediction, f.kernel_index)
        maths = kernel_math_s(prediction, f.kernel_index)
        depthwise = kernel_depthwise_s(prediction, f.kernel_index)
        gathers = kernel_gather_s(prediction, f.kernel_index)
        broadcasts = kernel_broadcast_s(prediction, f.kernel_index)
        for n, (g, fam, r, x, u) in enumerate(zip(f.kernel_groups, f.kernel_families, f.kernel_roofline_s, f.kernels, units)):
            kr = {"key": key, "kernel_features_version": KERNEL_FEATURES_VERSION, "kernel": n, "group": g, "families": "|".join(sorted(fam)), "roofline_s": r,
                  "group_roofline_s": roof_g[g], "group_measured_s": group_times.get(g, 0.0),
                  "unit": u[0], "unit_roofline_s": u[1], "unit_measured_s": u[2],
                  # this kernel's part of the row's subnormal_assist_s: taken off its unit's measured time by load_table
                  "subnormal_assist_s": assists[n] or "",
                  # and of innermost_transpose_s
                  "innermost_transpose_s": transposes[n] or "",
                  # and of elementwise_math_s
                  "elementwise_math_s": maths[n] or "",
                  # and of depthwise_conv1d_s
                  "depthwise_conv1d_s": depthwise[n] or "",
                  # and of short_gather_s
                  "short_gather_s": gathers[n] or "",
                  # and of short_broadcast_s
                  "short_broadcast_s": broadcasts[n] or ""}
            kr.update({nm: round(float(v), 6) for nm, v in zip(KERNEL_FEATURES, x)})
            krows.append(kr)
    return row, krows


def kernel_transposes_s(prediction: Any, kernel_index: Sequence[int]) -> list[float]:
    """The extra transpose time priced for each kernel of ``kernel_index`` (its ops' elements of transposes that move
    the innermost axis x the sheet's figure; :func:`hybridperf.estimate.pricing.with_innermost_transposes`), 0 where
    the prediction priced none."""
    return _kernel_counts_s(prediction, kernel_index, prediction.innermost_transpose_s,
                            prediction.spec.innermost_transpose_s_per_element,
                            lambda r: r.innermost_transpose_elements)


def _kernel_counts_s(prediction: Any, kernel_index: Sequence[int], term_s: float | None, figure: float | None,
                     count: Any) -> list[float]:
    """Each kernel of ``kernel_index``'s part of a term of one probed figure (``figure`` x the ``count(record)`` of
    its ops: :func:`hybridperf.estimate.pricing._one_figure_term`'s amount, kernel by kernel), 0 where the prediction
    priced none (``term_s`` 0 or None)."""
    if not term_s:
        return [0.0] * len(kernel_index)
    records = prediction.analyzed.analysis.records
    return [figure * sum(count(records[j]) for j in prediction.kernels[i].kernel.op_indices) for i in kernel_index]


def kernel_math_s(prediction: Any, kernel_index: Sequence[int]) -> list[float]:
    """The extra element-wise math time priced for each kernel of ``kernel_index`` (its ops' counted elements x the
    sheet's figure of each function; :func:`hybridperf.estimate.pricing.with_elementwise_math`), 0 where the
    prediction priced none."""
    from hybridperf.analysis.elementwise_math import math_elements

    if not prediction.elementwise_math_s:
        return [0.0] * len(kernel_index)
    records = prediction.analyzed.analysis.records
    figures = prediction.spec.elementwise_math_s_per_element
    return [sum(n * figures[k] for k, n in math_elements(records[j] for j in prediction.kernels[i].kernel.op_indices)
                .items()) for i in kernel_index]


def kernel_gather_s(prediction: Any, kernel_index: Sequence[int]) -> list[float]:
    """The extra gather time priced for each kernel of ``kernel_index`` (its ops' counted short blocks x the sheet's
    figure; :func:`hybridperf.estimate.pricing.with_short_gathers`), 0 where the prediction priced none."""
    from hybridperf.analysis.gather import record_blocks

    return _kernel_counts_s(prediction, kernel_index, prediction.short_gather_s, prediction.spec.gather_s_per_block,
                            record_blocks)


def kernel_broadcast_s(prediction: Any, kernel_index: Sequence[int]) -> list[float]:
    """The extra broadcast time priced for each kernel of ``kernel_index`` (its ops' counted short spans x the sheet's
    figure; :func:`hybridperf.estimate.pricing.with_short_broadcasts`), 0 where the prediction priced none."""
    from hybridperf.analysis.broadcast import counted_spans

    # a record's count needs the others (a product's bias): counted once, read by the record's index in the records
    counted = counted_spans(prediction.analyzed.analysis.records) if prediction.short_broadcast_s else {}
    return _kernel_counts_s(prediction, kernel_index, prediction.short_broadcast_s,
                            prediction.spec.broadcast_s_per_span, lambda record: counted.get(record.index, 0))


def kernel_depthwise_s(prediction: Any, kernel_index: Sequence[int]) -> list[float]:
    """What pricing its depthwise 1-D convolutions at the sheet's figures adds to each kernel of ``kernel_index`` (its
    convolutions' multiply-adds and outputs x the figures of their class, less the kernel's price;
    :func:`hybridperf.estimate.pricing.with_depthwise_conv1d`), 0 where the prediction priced none so."""
    from hybridperf.estimate.pricing import depthwise_kernel_terms

    if not prediction.depthwise_conv1d_s:
        return [0.0] * len(kernel_index)
    terms = depthwise_kernel_terms(prediction)
    return [terms[i][0] - terms[i][1] for i in kernel_index]


def kernel_assists_s(prediction: Any, kernel_index: Sequence[int]) -> list[float]:
    """The subnormal assists priced for each kernel of ``kernel_index`` (its ops' subnormal multiply-adds and softmax
    outputs x the sheet's figures; :func:`hybridperf.estimate.pricing.with_subnormal_assists`), 0 where the prediction
    priced none."""
    from hybridperf.estimate.pricing import subnormal_assist_time_s

    if not prediction.subnormal_assist_s:
        return [0.0] * len(kernel_index)
    records = prediction.analyzed.analysis.records
    out = []
    for i in kernel_index:
        ops = [records[j] for j in prediction.kernels[i].kernel.op_indices]
        out.append(subnormal_assist_time_s(prediction.spec, sum(r.subnormal_outputs for r in ops),
                                           sum(r.subnormal_macs for r in ops)))
    return out


def featurize_measured(measurements_csv: Path | Iterable[Mapping[str, str]], profile_csv: Path | None,
                       device: str | Path | DeviceSpec, precision: str | None = None,
                       log: Callable[[str], None] | None = None,
                       target: str = "latency_s",
                       analyses: Mapping[str, Any] | None = None) -> tuple[list[dict], list[dict]]:
    """Analyse every model of a measurements CSV (a path, or its rows) and build the training tables.

    ``target`` names the measured latency column that labels the rows (the
    median of the timed runs by default: see ``benchmarks/collect_cpu.py``; CPU
    models are relabelled by key, :func:`hybridperf.residual.model.load_table`).
    Every row must have a ``target`` value: a row without one raises
    :class:`~hybridperf.errors.InputError` naming its key before anything is
    analysed (no other column stands in for it).

    Model rows also carry the measured and predicted peak memory and the
    analysis time (for the accuracy benchmark).

    ``analysis_s`` is the model's own analysis and pricing: TVM's start-up (importing TVM and its ONNX frontend,
    about 1 s once a process, :func:`start_tvm`) is done before the first clock starts, so the first model's time is
    not the process's (until 2026-12-05 the first model's ``analysis_s`` held it, 0.85 s against 0.007 s for the same
    tiny model analysed next). ``analyses`` maps a row's ``model`` to its
    :class:`~hybridperf.analysis.analyze.Analyzed`, made with ``provenance=True``, where the caller has analysed it
    already (``calibrate --measure``, which checks every roofline before measuring, calling :func:`start_tvm` first);
    such a model is priced, not analysed again, and its ``analysis_s`` is the time its analysis took
    (:attr:`~hybridperf.analysis.analyze.Analyzed.timings_s`) plus the pricing here.

    ``device`` (an id, a sheet's path or a :class:`~hybridperf.device.spec.DeviceSpec`) is loaded once, before any
    model: a sheet that cannot be used raises :class:`~hybridperf.errors.SpecError` (until 2026-12-05 it was loaded
    for every model and its error logged as each model's "analysis failed", so every row was skipped and nothing
    said why once).
    """
    import csv
    import time

    from hybridperf.analysis.analyze import analyze
    from hybridperf.device.spec import DeviceSpec, load_spec
    from hybridperf.estimate.pricing import predict_on

    spec = device if isinstance(device, DeviceSpec) else load_spec(device)

    if isinstance(measurements_csv, (str, Path)):
        with Path(measurements_csv).open() as fh:
            meas = list(csv.DictReader(fh))
    else:
        meas = list(measurements_csv)
    unlabelled = [m.get("key", "?") for m in meas if not m.get(target)]
    if unlabelled:
        where = measurements_csv if isinstance(measurements_csv, (str, Path)) else "measurements"
        raise InputError(
            f"{where}: {len(unlabelled)} row(s) have no `{target}` value ({', '.join(unlabelled[:5])}"
            f"{', ...' if len(unlabelled) > 5 else ''}); remeasure them, or featurize with a target column every "
            "row has (e.g. latency_s, the median)")
    # key -> (graph node, seconds, onnxruntime op type) per profiled node
    prof: dict[str, list[tuple[str, float, str]]] = {}
    if profile_csv is not None and Path(profile_csv).exists():
        with Path(profile_csv).open() as fh:
            for r in csv.DictReader(fh):
                prof.setdefault(r["key"], []).append((r.get("graph_node", ""), float(r["duration_s"]), r["op_type"]))
    rows, krows = [], []
    start_tvm()  # before any clock: the start-up is no model's analysis time
    for m in meas:
        t0 = time.perf_counter()
        an = (analyses or {}).get(m["model"])
        earlier_s = sum(an.timings_s.values()) if an is not None else 0.0  # its analysis, timed where it was made
        try:
            if an is None:
                an = analyze(m["model"], batch=int(m["batch"]) if m.get("batch") else None, provenance=True)
            pred = predict_on(an, spec, precision, residual=None)
        except Exception as exc:  # noqa: BLE001 - a model hybridperf cannot analyse is reported and skipped
            if log:
                log(f"{m['key']}: analysis failed: {type(exc).__name__}: {error_line(exc, 150)}")
            continue
        dt = earlier_s + time.perf_counter() - t0
        lat = float(m[target])
        nodes = prof.get(m["key"])
        gt = measured_group_times([(op, d) for _, d, op in nodes], lat) if nodes is not None else None
        row, kr = feature_rows(pred, m["key"], lat, gt, nodes)
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
    "FEATURES_VERSION", "KERNEL_FEATURES_VERSION", "GROUPS", "KERNEL_FEATURES", "MODEL_FEATURES", "Features", "featurize", "feature_rows",
    "featurize_measured", "kernel_assists_s", "kernel_group", "kernel_unit_times", "measured_group_times", "ort_group", "start_tvm",
    "valid_tap_fraction",
]
