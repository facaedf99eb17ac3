"""A residual across GPUs: LightGBM on device-relative kernel features -> log(measured / baseline).

One model for every device. The baseline is physical,
``base_s = max(flops / peak, bytes / bandwidth, dispatch_floor)`` on the device's sheet and its
runtime probe (:class:`~hybridperf.residual.device_features.RuntimeProbe`); the model learns
``log(measured / base_s)`` from the kernel's device-independent shape
(:data:`KERNEL_SHAPE_FEATURES`: op, reduction length, row length, conv kernel / stride / channels)
and dimensionless kernel-vs-device ratios
(:data:`hybridperf.residual.device_features.DERIVED_FEATURES`: work over the floor, intensity over the
ridge, working set over L2, GEMM waves / tails / whole-wave time for fixed tiles, element-wise
waves). No absolute device figure is a feature, so trees cannot key on "which GPU".

The runtime probe is an execution-mode property, explicit rather than a hidden bias:

* **zero-shot from spec** (nothing measured on the device): the training devices' median
  dispatch floor and the sheet bandwidth times their median attainable fraction;
* **a training device's own sheet** (its id among ``probes_``): the probe recorded from its operator data
  (:meth:`CrossDeviceModel.probe_for`); not zero-shot, and its report says so
  (:func:`hybridperf.residual.zero_shot.training_gpu_note`; until 2026-12-05b called "zero-shot from spec");
* **probed**: the floor measured with a tiny element-wise op and, optionally, the attainable
  bandwidth with one large element-wise op and the attainable fp32 rate of one large GEMM
  (``hybridperf probe``; seconds on the device).

A model fitted with ``gemm_probe=True`` prices the matmuls of two activations (:data:`GEMM_PROBE_OPS`)
at the device's probed GEMM rate instead of its sheet peak: sustained GEMM throughput is a device
figure the sheets do not carry (power-capped cards run large GEMMs at 36-54 % of their sheet peak,
HBM cards at 75-81 %; NeuSight data). Without a GEMM probe the rate is the sheet peak times the
training devices' median GEMM efficiency. Linear layers (``x @ W^T``, another cuBLAS layout and kernel
choice) and convolutions keep the sheet peak: one probe shape does not carry over to them (a P4 runs
large ``linear`` calls at 14 % of its peak and large ``bmm`` at 54 %).

Prediction: ``latency = base_s x exp(f(x))``.

**Family probes** (optional, :data:`FAMILY_PROBE_SHAPES`: 64 fixed shapes each of bmm, linear, conv, layer norm,
softmax and multiply, timed on the device by ``hybridperf probe``): how fast a GPU runs each op family is what
transfers worst between GPUs (a V100 runs large ``linear`` calls at about its ``bmm`` rate, a P4 at a third of it).
With them, each family's prediction is rescaled by the shrunk log offset of its probes' measured vs predicted
latency and a shrunk slope (:func:`family_offsets`; ``family_shrink``, ``family_slope_shrink``) along the
log roofline, or for batched matmuls along the log compute-over-memory time (:func:`family_probe_size`).
**Local correction** (``local_bandwidth > 0``): what the probes' log residuals keep after that is smoothed onto
nearby shapes (:func:`local_offsets`: a Gaussian kernel over the shape features of :func:`local_features`,
standardised per family on the training rows, shrunk towards 0 where no probe is near). One offset and slope per
family cannot follow how a GPU's speed varies within a family (a cuBLAS kernel choice that one range of shapes
hits); dense probes and a local smooth can.

**Device bag** (``device_bagging=True``): with a handful of training GPUs, one model also learns each
GPU's own kernel quirks (a cuBLAS layout one architecture runs slowly, a power-capped card's clock), and a
new GPU has a different set. So ``f`` is the mean, in log space, of the model on every training GPU and one
model per training GPU left out (``1 + G`` boosters for ``G`` groups): a quirk that only one training GPU
shows is outvoted. Chosen on the training GPUs only (``benchmarks/gpu_ops_cross_device.py``: three-GPU
training, the fourth GPU predicted, 20 such pairs).

**Device specialists** (``device_specialists=True``, ``family_weight_tau > 0``): which training GPU a new GPU
resembles, family by family, is what its family probes can tell. So the model also holds one model per training GPU
alone; with family probes, every member (the model, the bag, the specialists) is rescaled by the probes
(:func:`family_offsets`) and, per family, the members are averaged in log space with weights
``exp(-(e - min e) / tau)``, ``e`` the mean absolute deviation of that member's probe residuals from their median:
how well one offset fits the family's probes under that member (:func:`probe_weighted`). Without family probes the
specialists are not used. Chosen on three-GPU training sets predicting a fourth (20 pairs, never an outer held-out
GPU; benchmark settings, shrink 0.75, slope shrink 1): family-probe MAPE 12.70 -> 12.52 % at ``tau = 0.05``
(0.03-0.1 within 0.05 points; 12 of the 20 pairs lower; bmm 18.4 -> 17.9 %, linear 18.1 -> 17.4 %, conv
19.2 -> 19.6 %). Not kept: choosing the one member that fits the probes best (13.4 %), specialists instead of the bag
(12.6 %), anchoring each matmul / conv at the measured rate of its nearest family probe (14.6-18.8 %).

**Where the rest of the error is** (``benchmarks/gpu_ops_ceiling.py`` -> ``benchmarks/results/gpu_ops_ceiling.md``;
no H100 row, no outer choice):

* *Not transfer, for conv and linear*: trained on all five GPUs with 20 % of the (op, shape) keys held out
  on every GPU, the same model (60,000 rows, 300 rounds, one model) scores 9.3 % (bmm 12.3, linear 15.6, conv
  19.1 %; T4 11.0 %), 7.7 % with every row and 1,000 rounds. A model trained on 80 % of one GPU's own rows: bmm
  6.8, linear 8.8, conv 16.0 %. Ground-truth repeatability: 1.7 % (75 repeated element-wise / norm shapes).
* *Conv's ground truth drifts along NeuSight's files*: the in-distribution model's log error on conv rows
  correlates +0.51 to +0.72 with the row's position in its file on every GPU (first fifth -6 to -25 %, last fifth
  +4 to +36 %) while no conv dimension trends with the position (the same shape order on every GPU, measured
  separately on each: a property of the collection, cause unknown); the position as a diagnostic feature takes
  in-distribution conv 19.1 -> 13.6 %. Linear and layer norm drift on P100 and V100 (|r| 0.25-0.69). Shape features
  tried against it on the inner pairs (conv batch, log M, power-of-two alignment of channels / M / N / K) moved
  family-probe MAPE by at most 0.14 points; more capacity (every row, up to 1,000 rounds) by 0.04 points.
* *The kernel's tile is not the missing feature*: features of the tile and grid each GPU really ran (parsed from
  NeuSight's ``Kernel Name`` and grid columns: an oracle no unseen GPU has) lower leave-one-GPU-out + family
  probes by 0.8 points (13.5 -> 12.8 % for one model; bmm 1.7, linear 0.4, conv 1.0; three seeds). bmm runs one
  tile per GPU on the A100 (128x128) and the Pascals (128x64), so tile and GPU cannot be told apart.
* *Zero-shot runtimes* (inner pairs, scratch run): averaging members that each assume one training GPU's floor,
  bandwidth fraction and GEMM efficiency instead of their median: 21.01 -> 20.82 % (gemm_probe off; on:
  20.33 -> 20.37 %), within the pairs' spread; one training GPU's specialist as the new GPU's "analogue": 22.7 %.
  Neither kept.
* *Denser probes with a local correction* (``benchmarks/gpu_ops_probe_density.py``, inner pairs only; shipped):
  more probe shapes alone barely move one offset and slope per family (k = 4: 12.51 %, k = 64: 12.13 %), but
  smoothing the probes' leftover log errors (:func:`local_offsets`; bandwidth and prior chosen nested) gives
  10.36 % at k = 32 and 9.71 % at k = 64 (bmm 17.9 -> 12.8 %, linear 17.4 -> 13.0 %; conv barely moves). k = 64
  costs about 8-50 s of probe timing per GPU (A100 to P4, from NeuSight's latencies and the probe's call budget).

Persistence: ``cross_device.txt`` (LightGBM text; the bag's other members ``cross_device.bag<i>.txt``, the device
specialists ``cross_device.specialist<i>.txt``) +
``cross_device.json`` (feature names and versions, training devices, their probes, zero-shot defaults,
the bag's files and left-out groups, metrics); never pickle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from hybridperf.residual.device_features import (
    DERIVED_FEATURES,
    DEVICE_FEATURES_VERSION,
    DeviceFigures,
    RuntimeProbe,
    base_latency_s,
    derived_features,
)
from hybridperf.device.spec import DeviceSpec
from hybridperf.errors import InputError, NotFittedError
from hybridperf.estimate.roofline import roofline
from hybridperf.residual.neusight import OP_NAMES, OPS, SHAPE_COLUMNS, PricedOps, price_op, shape_row
from hybridperf.residual.sidecar import (DIGESTS_KEY, read_booster, read_sidecar, recorded_digests, write_booster,
                                         write_sidecar)

SCHEMA_VERSION = 3
#: version of the whole feature list (bump on any change of names, order or meaning)
FEATURES_VERSION = f"3.d{DEVICE_FEATURES_VERSION}"
MODEL_FILE = "cross_device.txt"
SIDECAR_FILE = "cross_device.json"
#: file name of the device bag's ``i``-th left-out model (``i`` from 1)
BAG_FILE = "cross_device.bag{}.txt"
#: file name of the ``i``-th device specialist (``i`` from 1)
SPECIALIST_FILE = "cross_device.specialist{}.txt"

#: device-independent kernel shape: nothing here scales with the problem's total size, so with the
#: device-relative ratios it cannot reconstruct a device constant
KERNEL_SHAPE_FEATURES: tuple[str, ...] = (
    "op",  # categorical: index into hybridperf.residual.neusight.OP_NAMES
    "conv_kernel",
    "conv_stride",
    "log_gemm_k",
    "log_row",
    "log_conv_in_channels",
    "log_conv_out_channels",
)
FEATURES: tuple[str, ...] = (*KERNEL_SHAPE_FEATURES, *DERIVED_FEATURES)
_CATEGORICAL = ("op",)
_EPS = 1e-12
#: tiny element-wise ops whose smallest calls measure the dispatch floor (a median over them is robust
#: to one op's kernel having a slow path on one device)
FLOOR_OPS: tuple[str, ...] = ("add", "addu", "mul", "relu", "gelu", "tanh")
#: ops priced at the probed GEMM rate (the probe's layout: a matmul of two activations, ``torch.matmul``)
GEMM_PROBE_OPS: tuple[str, ...] = ("bmm",)


def _log(x) -> np.ndarray:
    return np.log(np.maximum(np.asarray(x, float), 0.0) + _EPS)


def gemm_probe_rows(rows: PricedOps, op: str = "bmm", top: int = 20) -> np.ndarray:
    """Positions of the rows of the ``top`` largest-FLOP ``op`` shapes that every device of ``rows`` measured.

    They stand in for ``hybridperf probe``'s one large GEMM on data without one (NeuSight has no square
    shapes: its largest common ``bmm`` calls, 10^11 FLOP, run at the devices' sustained GEMM rate); a
    benchmark leaves them out of its scores.
    """
    s = rows.shapes
    sel = np.where(rows.op == op)[0]
    if not len(sel):
        return sel
    keys = np.stack([s["batch"][sel], s["gemm_m"][sel], s["gemm_n"][sel], s["gemm_k"][sel]], 1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    n_dev = len(np.unique(rows.device[sel]))
    seen = np.array([len(np.unique(rows.device[sel][inv == u])) for u in range(len(uniq))])
    common = np.where(seen == n_dev)[0]
    chosen = common[np.argsort(-np.prod(uniq[common], axis=1), kind="stable")[:top]]
    return sel[np.isin(inv, chosen)]


#: family -> the op whose shapes are that family's probes (element-wise: the binary multiply)
FAMILY_PROBE_OPS: Mapping[str, str] = MappingProxyType({
    "bmm": "bmm", "linear": "linear", "conv": "conv", "layer_norm": "ln", "softmax": "softmax", "elementwise": "mul",
})
#: families whose probe size is their FLOPs (the others': their bytes)
_COMPUTE_FAMILIES = ("bmm", "linear", "conv")
#: the packaged file of the family-probe shapes (``hybridperf/data/probes/``; written by
#: ``python -m benchmarks.family_probe_shapes`` from NeuSight's data)
PROBE_SHAPES_FILE = "family_probe_shapes.json"


def _packaged_probe_shapes() -> tuple[int, tuple[tuple[str, Mapping[str, int]], ...]]:
    """``(per_family, ((op, dims), ...))`` of the packaged :data:`PROBE_SHAPES_FILE` (read-only mappings)."""
    import json

    from hybridperf.data import packaged_dir

    doc = json.loads((packaged_dir("probes") / PROBE_SHAPES_FILE).read_text())
    return int(doc["per_family"]), tuple((str(s["op"]), MappingProxyType({str(k): int(v) for k, v in s["dims"].items()}))
                                         for s in doc["shapes"])


#: probe shapes per family, and the family probes in NeuSight's dims: the shapes :func:`family_probe_rows` picks on
#: NeuSight's five GPUs with ``per_family`` = this count (``linear``: ``B x M`` rows of ``K`` in, ``N`` out; ``conv``:
#: NeuSight's conv dims), read from the packaged :data:`PROBE_SHAPES_FILE`; ``hybridperf probe`` times them on a CUDA
#: device and :meth:`CrossDeviceModel.predict_latency` rescales each family by them. 64 per family: chosen on
#: three-GPU training sets predicting a fourth (``benchmarks/gpu_ops_probe_density.py``; 4, 16, 32, 64 compared)
FAMILY_PROBES_PER_FAMILY, FAMILY_PROBE_SHAPES = _packaged_probe_shapes()


def family_probe_ops(device: str, spec: DeviceSpec, measured_s: Sequence[float],
                     shapes: Sequence[tuple[str, Mapping[str, int]]] = FAMILY_PROBE_SHAPES) -> PricedOps:
    """The family probes measured on ``device`` as priced rows (fp32 roofline on ``spec``), ready for
    :meth:`CrossDeviceModel.predict_latency`'s ``family_probes``; ``measured_s`` holds one latency per shape."""
    if len(measured_s) != len(shapes):
        raise InputError(f"{len(measured_s)} family-probe latencies for {len(shapes)} shapes")
    cols: dict[str, list] = {k: [] for k in ("flops", "bytes", "roof", "comp", "mem", "shape")}
    for op, dims in shapes:
        cost = price_op(op, dims)
        est = roofline(cost, spec, "fp32")
        for k, v in zip(cols, (cost.flops, cost.bytes_total, est.latency_s, est.compute_s, est.memory_s,
                               shape_row(op, dims))):
            cols[k].append(v)
    shape = np.array(cols["shape"], float).reshape(len(shapes), len(SHAPE_COLUMNS))
    ops = np.array([op for op, _ in shapes])
    return PricedOps(ops, np.array([OPS[o][1] for o in ops]), np.array([device] * len(shapes)),
                     np.asarray(measured_s, float), *(np.array(cols[k], float) for k in ("flops", "bytes", "roof",
                                                                                          "comp", "mem")),
                     MappingProxyType({c: shape[:, i] for i, c in enumerate(SHAPE_COLUMNS)}))


def family_probe_work(rows: PricedOps) -> np.ndarray:
    """The work :func:`family_probe_rows` ranks each row's shape by: its FLOPs in the matmul and convolution families,
    its bytes otherwise."""
    return np.where(np.isin(rows.family, _COMPUTE_FAMILIES), rows.flops, rows.bytes_total)


def family_probe_rows(rows: PricedOps, per_family: int = FAMILY_PROBES_PER_FAMILY) -> np.ndarray:
    """Positions of the rows of each family's probe shapes: ``per_family`` shapes of its
    :data:`FAMILY_PROBE_OPS` op that every device measuring that op measured, at the evenly spaced
    quantiles ``(i + 0.5) / per_family`` of their work (FLOPs for matmuls and convolutions, bytes otherwise).

    A benchmark leaves them out of its scores; on a new device they are measured (``family probes``) and
    :func:`family_offsets` rescales each family by them.
    """
    keys = rows.shape_matrix()
    work_all = family_probe_work(rows)
    out = []
    for fam, op in FAMILY_PROBE_OPS.items():
        sel = np.where(rows.op == op)[0]
        if not len(sel):
            continue
        uniq, first, inv = np.unique(keys[sel], axis=0, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
        n_dev = len(np.unique(rows.device[sel]))
        seen = np.array([len(np.unique(rows.device[sel][inv == u])) for u in range(len(uniq))])
        common = np.where(seen == n_dev)[0]
        if not len(common):
            continue
        work = work_all[sel][first]
        order = common[np.lexsort((common, work[common]))]
        pick = {int(order[min(len(order) - 1, int((i + 0.5) / per_family * len(order)))]) for i in range(per_family)}
        out.append(sel[np.isin(inv, sorted(pick))])
    return np.sort(np.concatenate(out)) if out else np.zeros(0, int)


#: families whose family-probe slope runs along the log compute-over-memory time (arithmetic intensity over the
#: ridge) instead of the log roofline (:func:`family_probe_size`): a batched matmul's error on a new GPU follows
#: its regime (memory- vs compute-bound) more than its size. Chosen on three-GPU training sets predicting a fourth
#: (never the outer held-out GPU): inner family-probe MAPE 14.6 -> 13.8 %, bmm 22.8 -> 20.4 %, every outer fold
#: lower; ``linear`` and ``conv`` along it were worse (their probes span too little intensity).
FAMILY_PROBE_INTENSITY_AXIS: tuple[str, ...] = ("bmm",)


def family_probe_size(rows: PricedOps) -> np.ndarray:
    """The size axis :func:`family_offsets` fits its slope on, per row: ``log(compute_s / memory_s)`` (sheet
    roofline times) for the families in :data:`FAMILY_PROBE_INTENSITY_AXIS`, ``log(roofline_s)`` otherwise."""
    intensity = np.isin(rows.family, FAMILY_PROBE_INTENSITY_AXIS)
    return np.where(intensity, _log(rows.compute_s) - _log(rows.memory_s), _log(rows.roofline_s))


def family_offsets(family: np.ndarray, log_size: np.ndarray, residual_log: np.ndarray, probe: np.ndarray,
                   shrink: float = 1.0, slope_shrink: float = 0.0) -> np.ndarray:
    """Log correction of every row from its family's probe rows on the same device.

    For each family with probe rows (``probe`` true), ``residual_log = log(measured / predicted)`` of those
    rows gives an offset ``shrink x (median residual + slope_shrink x b x (clip(x) - median probe x))``,
    where ``x = log_size`` (e.g. the row's log roofline), ``b`` the least-squares slope of the residual on
    ``x`` over the probe rows and ``clip`` limits ``x`` to the probes' range. Rows of families without
    probe rows get 0. ``residual_log`` is read on probe rows only.
    """
    family, x, r, probe = (np.asarray(a) for a in (family, log_size, residual_log, probe))
    x, r = x.astype(float), r.astype(float)
    out = np.zeros(len(family))
    for f in np.unique(family[probe.astype(bool)]):
        m, on = probe.astype(bool) & (family == f), family == f
        off = np.full(int(on.sum()), float(np.median(r[m])))
        if slope_shrink and np.ptp(x[m]) > 0:
            b = float(np.polyfit(x[m], r[m], 1)[0])
            off += slope_shrink * b * (np.clip(x[on], x[m].min(), x[m].max()) - float(np.median(x[m])))
        out[on] = shrink * off
    return out


def local_features(rows: PricedOps) -> np.ndarray:
    """``(rows, len(SHAPE_COLUMNS) + 2)`` shape features of :func:`local_offsets`: ``log(1 + x)`` of every shape
    column (:data:`hybridperf.residual.neusight.SHAPE_COLUMNS`), of the FLOPs and of the bytes; no device figure."""
    return np.column_stack([np.log1p(rows.shape_matrix()), np.log1p(rows.flops), np.log1p(rows.bytes_total)]).astype(float)


def family_scales(features: np.ndarray, family: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per family, ``(mean, sd)`` of the rows' ``features`` (:func:`local_features`): the standardisation of
    :func:`local_offsets`, taken from training rows (never the target device's). A feature constant in a family gets
    sd 0 and is left out of that family's distance."""
    family = np.asarray(family)
    return {str(f): (features[family == f].mean(axis=0), features[family == f].std(axis=0))
            for f in np.unique(family)}


def local_offsets(features: np.ndarray, family: np.ndarray, residual_log: np.ndarray, probe: np.ndarray,
                  scales: Mapping[str, tuple[np.ndarray, np.ndarray]], bandwidth: float, prior: float) -> np.ndarray:
    """Log correction of every row from its family's nearby probe rows: a kernel smooth of the probes' leftover
    residuals, shrunk towards 0 where no probe is near.

    Per family with probe rows and a scale: features standardised by ``scales[family]`` (features with sd 0
    dropped), ``d2_ij`` the mean squared difference between row i and probe row j, ``w_ij = exp(-d2_ij / (2 h^2))``
    with ``h = bandwidth`` (in standard deviations) and the correction ``sum_j w_ij r_j / (sum_j w_ij + prior)``,
    ``r = residual_log`` on the probe rows (read there only). Other rows get 0.
    """
    if not bandwidth > 0 or prior < 0:
        raise InputError(f"local_offsets needs bandwidth > 0 and prior >= 0, got {bandwidth}, {prior}")
    family, probe = np.asarray(family), np.asarray(probe, bool)
    r_all = np.asarray(residual_log, float)
    out = np.zeros(len(family))
    for f in np.unique(family[probe]):
        if str(f) not in scales:
            continue
        mean, sd = (np.asarray(a, float) for a in scales[str(f)])
        keep = sd > 0
        if not keep.any():
            continue
        on, m = family == f, probe & (family == f)
        Z = (features[on][:, keep] - mean[keep]) / sd[keep]
        P = (features[m][:, keep] - mean[keep]) / sd[keep]
        d2 = np.maximum((Z ** 2).sum(1)[:, None] + (P ** 2).sum(1)[None] - 2.0 * Z @ P.T, 0.0) / int(keep.sum())
        w = np.exp(-0.5 * d2 / bandwidth ** 2)
        out[on] = (w @ r_all[m]) / (w.sum(axis=1) + prior)
    return out


def probe_weighted(log_pred: np.ndarray, family: np.ndarray, log_size: np.ndarray, log_measured: np.ndarray,
                   probe: np.ndarray, shrink: float = 1.0, slope_shrink: float = 0.0, tau: float = 0.05,
                   main: int | None = None) -> np.ndarray:
    """One log prediction per row from several models' (members') log predictions and the family probes.

    Each member's rows are rescaled by :func:`family_offsets` of that member's own probe residuals
    ``log_measured - log_pred`` (``shrink``, ``slope_shrink``); then, per family with probe rows, the rescaled
    members are averaged in log space with weights ``exp(-(e - min e) / tau)``, where ``e`` is the mean absolute
    deviation of the member's probe residuals from their median: how well one offset fits the family's probes
    under that member. Rows of families without probe rows get the plain mean of the first ``main`` members (all
    by default). With one member this is ``log_pred + family_offsets(...)``.

    Parameters
    ----------
    log_pred : array (members, rows)
    family, log_size, probe : arrays (rows,)
        As for :func:`family_offsets`.
    log_measured : array (rows,)
        Log measured latency; read on probe rows only.
    tau : float
        Weight temperature in log units (> 0).
    """
    P = np.atleast_2d(np.asarray(log_pred, float))
    family, probe = np.asarray(family), np.asarray(probe, bool)
    if not tau > 0:
        raise InputError(f"probe_weighted needs tau > 0, got {tau}")
    resid = np.where(probe, np.asarray(log_measured, float), 0.0) - P
    out = P[: len(P) if main is None else main].mean(axis=0)
    rescaled = np.stack([p + family_offsets(family, log_size, r, probe, shrink, slope_shrink)
                         for p, r in zip(P, resid)])
    for f in np.unique(family[probe]):
        m, on = probe & (family == f), family == f
        e = np.array([np.mean(np.abs(r[m] - np.median(r[m]))) for r in resid])
        w = np.exp(-(e - e.min()) / tau)
        out[on] = (w / w.sum()) @ rescaled[:, on]
    return out


def runtime_probes(rows: PricedOps, floor_ops: Iterable[str] = FLOOR_OPS, quantile: float = 0.02,
                   stream_op: str = "add", gemm_rows: np.ndarray | None = None) -> dict[str, RuntimeProbe]:
    """Per device, the :class:`RuntimeProbe` that probes on that device would give.

    * dispatch floor: the median over ``floor_ops`` of the ``quantile`` of each op's latencies
      (the smallest calls: framework dispatch + one launch);
    * stream bandwidth: bytes / latency of the largest ``stream_op`` call (a STREAM-like add);
    * GEMM rate (only with ``gemm_rows``, e.g. :func:`gemm_probe_rows`): the median FLOPs / latency of the
      device's rows among ``gemm_rows``.

    Devices without ``floor_ops`` rows get no probe.
    """
    out = {}
    floor_ops = tuple(floor_ops)
    in_gemm = np.zeros(len(rows), bool)
    if gemm_rows is not None:
        in_gemm[np.asarray(gemm_rows, int)] = True
    for dev in np.unique(rows.device):
        on = rows.device == dev
        qs = [float(np.quantile(rows.measured_s[on & (rows.op == o)], quantile)) for o in floor_ops
              if (on & (rows.op == o)).any()]
        if not qs:
            continue
        stream = None
        s = np.where(on & (rows.op == stream_op))[0]
        if len(s):
            i = s[np.argmax(rows.bytes_total[s])]
            stream = float(rows.bytes_total[i] / rows.measured_s[i])
        g = on & in_gemm
        gemm = float(np.median(rows.flops[g] / rows.measured_s[g])) if g.any() else None
        out[str(dev)] = RuntimeProbe(float(np.median(qs)), stream, gemm)
    return out


def _kernel_columns(rows: PricedOps) -> np.ndarray:
    s = rows.shapes
    op_index = {o: i for i, o in enumerate(OP_NAMES)}
    return np.column_stack([
        np.array([op_index[o] for o in rows.op], float), s["conv_kernel"], s["conv_stride"], _log(s["gemm_k"]),
        _log(s["row"]), _log(s["conv_in_channels"]), _log(s["conv_out_channels"]),
    ])


def _per_device(rows: PricedOps, specs: Mapping[str, DeviceSpec], probes: Mapping[str, RuntimeProbe]):
    """``(row mask, figures, probe)`` per device; with a GEMM probe, :data:`GEMM_PROBE_OPS` rows are a
    group of their own whose figures carry the probed GEMM rate as peak."""
    gemm = np.isin(rows.op, GEMM_PROBE_OPS)
    for dev in np.unique(rows.device):
        if dev not in specs:
            raise InputError(f"no device sheet for {dev!r}; pass its DeviceSpec")
        if dev not in probes:
            raise InputError(f"no runtime probe for {dev!r}; give one or use CrossDeviceModel.probe_for()")
        on, fig, probe = rows.device == dev, DeviceFigures.from_spec(specs[dev], "fp32"), probes[dev]
        if probe.gemm_flops_per_s is None:
            yield on, fig, probe
            continue
        for sel, f in ((on & ~gemm, fig), (on & gemm, probe.gemm_figures(fig))):
            if sel.any():
                yield sel, f, probe


def baseline(rows: PricedOps, specs: Mapping[str, DeviceSpec], probes: Mapping[str, RuntimeProbe]) -> np.ndarray:
    """``max(compute_s, memory_s, dispatch_floor_s)`` of each row on its device (fp32 sheet peak; the probed
    GEMM rate for :data:`GEMM_PROBE_OPS` rows where the device's probe has one)."""
    out = np.zeros(len(rows))
    for sel, fig, probe in _per_device(rows, specs, probes):
        out[sel] = base_latency_s(rows.flops[sel], rows.bytes_total[sel], fig, probe)
    return out


def featurize(rows: PricedOps, specs: Mapping[str, DeviceSpec], probes: Mapping[str, RuntimeProbe]) -> np.ndarray:
    """The :data:`FEATURES` matrix of ``rows`` (each priced on its device's sheet in ``specs``).

    ``probes`` maps device id -> :class:`RuntimeProbe` (see :func:`runtime_probes`,
    :meth:`CrossDeviceModel.probe_for`); every device of ``rows`` needs one.
    """
    s = rows.shapes
    X = np.zeros((len(rows), len(FEATURES)))
    nk = len(KERNEL_SHAPE_FEATURES)
    X[:, :nk] = _kernel_columns(rows)
    for sel, fig, probe in _per_device(rows, specs, probes):
        X[sel, nk:] = derived_features(
            rows.flops[sel], rows.bytes_total[sel], s["gemm_m"][sel], s["gemm_n"][sel], s["gemm_k"][sel], s["batch"][sel],
            s["elems"][sel], fig, probe)
    return X


def mape(pred, true) -> float:
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    return float(np.mean(np.abs(pred - true) / true) * 100)


class PredictionCache:
    """The booster scores of feature rows already predicted, keyed by the row's bytes: what a sweep keeps
    (:class:`hybridperf.api.Session`) so that kernels seen before are not scored again.

    A row's score is a function of its :data:`FEATURES` values alone (LightGBM scores rows one at a time),
    so :meth:`CrossDeviceModel.predict` with a cache gives the same numbers as without. One cache serves one
    model (the first it is used with); at most ``max_rows`` rows are kept, the oldest dropped first.
    """

    def __init__(self, max_rows: int = 50_000):
        if max_rows < 1:
            raise InputError(f"PredictionCache needs max_rows >= 1, got {max_rows}")
        self.max_rows = max_rows
        self._model: CrossDeviceModel | None = None
        self._rows: dict[bytes, np.ndarray] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def scores(self, model: CrossDeviceModel, boosters: Sequence[Any], X: np.ndarray) -> np.ndarray:
        """``(len(boosters), len(X))`` scores of ``X``'s rows by ``model``'s ``boosters``; unseen rows scored in one
        call per booster."""
        if self._model is None:
            self._model = model
        elif self._model is not model:
            raise InputError("this PredictionCache holds another model's scores; use one cache per model")
        X = np.ascontiguousarray(X, float)
        # the booster count is part of the key: the plain bag and all members (with device specialists) differ
        tag = len(boosters).to_bytes(4, "little")
        keys = [tag + row.tobytes() for row in X]
        out = np.empty((len(boosters), len(keys)))
        new: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            got = self._rows.get(k)
            if got is not None:
                out[:, i] = got
            elif k not in new:
                new[k] = i
        self.hits += len(keys) - len(new)
        self.misses += len(new)
        if new:
            first = list(new.values())
            scored = np.stack([b.predict(X[first]) for b in boosters])
            fresh = dict(zip(new, scored.T.copy()))
            for i, k in enumerate(keys):
                if k in fresh:
                    out[:, i] = fresh[k]
            self._rows.update(fresh)
            while len(self._rows) > self.max_rows:
                self._rows.pop(next(iter(self._rows)))
        return out


def _save_members(d: Path, pattern: str, boosters: Sequence[Any]) -> dict[str, str]:
    """Write ``boosters`` into ``d`` as ``pattern.format(1)``, ... (an earlier set of that pattern removed first,
    :func:`~hybridperf.residual.sidecar.write_booster`); their file names -> sha256, in order."""
    for stale in d.glob(pattern.format("*")):
        stale.unlink()
    names = [pattern.format(i) for i in range(1, len(boosters) + 1)]
    return {name: write_booster(d / name, b) for b, name in zip(boosters, names)}


def _member_paths(d: Path, names: Sequence[str], what: str) -> list[Path]:
    """The paths of the member files the sidecar names; every one must be in ``d``."""
    missing = [f for f in names if not (d / f).exists()]
    if missing:
        raise InputError(f"{d / SIDECAR_FILE} names {what} that are not in {d}: {', '.join(missing)}; retrain the model")
    return [d / f for f in names]


class _LazyBoosters(Sequence):
    """LightGBM boosters read from their text files on first use (:func:`~hybridperf.residual.sidecar.read_booster`,
    each against its recorded sha256, None: unverified): the device specialists, which only a prediction with family
    probes uses (reading the five shipped files, ~1.7 MB each, added ~0.13 s to every GPU prediction's model load).
    ``len`` and truth do not read them."""

    def __init__(self, paths: Sequence[Path], digests: Sequence[str | None], fix: str):
        self._paths = tuple(paths)
        self._digests = tuple(digests)
        self._fix = fix
        self._boosters: list | None = None

    def __len__(self) -> int:
        return len(self._paths)

    def __getitem__(self, i):
        if self._boosters is None:
            self._boosters = [read_booster(p, FEATURES, self._fix, h) for p, h in zip(self._paths, self._digests)]
        return self._boosters[i]


class CrossDeviceModel:
    """LightGBM over :data:`FEATURES` predicting ``log(measured / baseline)``, scikit-learn style.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_data_in_leaf, lambda_l2, feature_fraction : LightGBM settings
    objective : str
        LightGBM objective on the log ratio (``"l2"``, or ``"l1"`` for a median fit).
    gemm_probe : bool
        Price :data:`GEMM_PROBE_OPS` at a GEMM rate (probed, else the sheet peak x the training devices'
        median GEMM efficiency); False: at the sheet peak, GEMM probes ignored. ``fit`` expects features
        made with the matching probes (:meth:`complete_probe`).
    device_bagging : bool
        Also fit one model per training group (GPU) left out and predict the mean log ratio of all of them
        (module docstring); ``fit`` then needs ``groups``.
    device_specialists : bool
        Also fit one model per training group (GPU) on that group's rows alone; they enter only predictions with
        family probes and ``family_weight_tau > 0`` (module docstring); ``fit`` then needs ``groups``.
    family_shrink, family_slope_shrink : float
        How :meth:`predict_latency` rescales each op family by family probes measured on the device
        (:func:`family_offsets`; 0: family probes ignored). Chosen by the benchmark's inner leave-one-GPU-out.
    family_weight_tau : float
        With device specialists and family probes: the temperature of :func:`probe_weighted` over all members
        (the model, the bag and the specialists); 0: the bag's mean rescaled by :func:`family_offsets`.
    local_bandwidth, local_prior : float
        With family probes: after the family rescaling, each row also gets :func:`local_offsets` of the probes'
        leftover residuals (bandwidth ``h`` in standard deviations, prior weight ``c``); ``local_bandwidth`` 0: off.
        ``fit`` then needs ``shape_scales``.
    seed : int
        Seed of every random choice (``deterministic=True``).
    n_jobs : int
        LightGBM threads.

    Fitted attributes: ``booster_`` (the model on every row), ``bag_`` (the left-out models, empty without
    ``device_bagging``), ``bag_groups_`` (the group each of them left out), ``specialists_`` and
    ``specialist_groups_`` (the models on one group each; empty without ``device_specialists``), ``devices_``,
    ``probes_``, the
    zero-shot defaults ``default_floor_s_``, ``stream_fraction_``, ``gemm_efficiency_``, and ``local_scales_`` (the
    :func:`family_scales` of the training rows; empty without ``local_bandwidth``).
    """

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.05, num_leaves: int = 63,
                 min_data_in_leaf: int = 50, lambda_l2: float = 1.0, feature_fraction: float = 0.8,
                 objective: str = "l2", gemm_probe: bool = False, device_bagging: bool = False, seed: int = 0,
                 n_jobs: int = 1, family_shrink: float = 0.0, family_slope_shrink: float = 0.0,
                 device_specialists: bool = False, family_weight_tau: float = 0.0, local_bandwidth: float = 0.0,
                 local_prior: float = 0.01):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.lambda_l2 = lambda_l2
        self.feature_fraction = feature_fraction
        self.objective = objective
        self.gemm_probe = gemm_probe
        self.device_bagging = device_bagging
        self.seed = seed
        self.n_jobs = n_jobs
        self.family_shrink = family_shrink
        self.family_slope_shrink = family_slope_shrink
        self.device_specialists = device_specialists
        self.family_weight_tau = family_weight_tau
        self.local_bandwidth = local_bandwidth
        self.local_prior = local_prior

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("n_estimators", "learning_rate", "num_leaves", "min_data_in_leaf",
                                              "lambda_l2", "feature_fraction", "objective", "gemm_probe",
                                              "device_bagging", "seed", "n_jobs", "family_shrink",
                                              "family_slope_shrink", "device_specialists", "family_weight_tau",
                                              "local_bandwidth", "local_prior")}

    def lgb_params(self) -> dict[str, Any]:
        """The ``lightgbm.train`` parameters every booster of :meth:`fit` is trained with."""
        return {
            "objective": self.objective, "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf, "lambda_l2": self.lambda_l2,
            "feature_fraction": self.feature_fraction, "seed": self.seed, "deterministic": True,
            "num_threads": self.n_jobs, "verbose": -1,
        }

    def fit(self, X: np.ndarray, y: np.ndarray, devices: Sequence[str] = (),
            probes: Mapping[str, RuntimeProbe] | None = None, specs: Mapping[str, DeviceSpec] | None = None,
            sample_weight: np.ndarray | None = None, groups: Sequence[str] | None = None,
            shape_scales: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None) -> CrossDeviceModel:
        """Fit on a :func:`featurize` matrix ``X`` and targets ``y = log(measured / baseline)``.

        ``groups`` (one label per row: the GPU it was measured on, sheets of one GPU sharing a label) is
        what ``device_bagging`` leaves out in turn; it needs at least two groups.

        ``devices`` (training device ids) and ``probes`` (their runtime probes) are recorded; the
        zero-shot defaults for an unmeasured device are the median probed floor and the median
        attainable fraction ``stream / sheet bandwidth`` (that needs ``specs`` of the devices), each over
        distinct values (sheets sharing one host's probe vote once); with ``gemm_probe`` also the median
        GEMM efficiency ``probed GEMM rate / sheet fp32 peak``.

        ``shape_scales`` (:func:`family_scales` of the training devices' rows) is what :func:`local_offsets`
        standardises by; needed with ``local_bandwidth``.
        """
        import lightgbm as lgb

        X, y = np.asarray(X, float), np.asarray(y, float)
        if X.ndim != 2 or X.shape[1] != len(FEATURES):
            raise InputError(f"X has {X.shape[-1] if X.ndim == 2 else '?'} columns; featurize() gives {len(FEATURES)}")
        params = self.lgb_params()

        def train(keep: np.ndarray | None):
            rows = slice(None) if keep is None else keep
            w = None if sample_weight is None else np.asarray(sample_weight, float)[rows]
            data = lgb.Dataset(X[rows], y[rows], weight=w, feature_name=list(FEATURES),
                               categorical_feature=list(_CATEGORICAL), free_raw_data=True)
            return lgb.train(params, data, num_boost_round=self.n_estimators)

        if self.local_bandwidth and not shape_scales:
            raise InputError("local_bandwidth > 0 needs shape_scales: family_scales(local_features(rows), rows.family) "
                             "of the training rows")
        bag_groups: list[str] = []
        if self.device_bagging or self.device_specialists:
            what = "device_bagging" if self.device_bagging else "device_specialists"
            if groups is None or len(groups) != len(y):
                raise InputError(f"{what} needs groups: one label per row of X (the GPU it was measured on)")
            labels = np.asarray(groups).astype(str)
            bag_groups = sorted(set(labels))
            if len(bag_groups) < 2:
                raise InputError(f"{what} needs at least two groups, got {bag_groups}")
        self.booster_ = train(None)
        self.bag_groups_ = tuple(bag_groups) if self.device_bagging else ()
        self.bag_ = [train(labels != g) for g in self.bag_groups_]
        self.specialist_groups_ = tuple(bag_groups) if self.device_specialists else ()
        self.specialists_ = [train(labels == g) for g in self.specialist_groups_]
        self.devices_ = tuple(sorted(set(devices)))
        self.local_scales_ = ({str(f): (np.asarray(a, float), np.asarray(b, float)) for f, (a, b) in shape_scales.items()}
                              if self.local_bandwidth else {})
        self.probes_ = dict(probes or {})
        # one vote per distinct value: two sheets measured on one host (NeuSight's A100 40GB and 80GB PCIe)
        # share a probe and must not count twice
        floors = sorted({p.dispatch_floor_s for p in self.probes_.values()})
        self.default_floor_s_ = float(np.median(floors)) if floors else 3e-5
        fractions = sorted({round(p.stream_bytes_per_s / DeviceFigures.from_spec(specs[d]).dram_bytes_per_s, 9)
                            for d, p in self.probes_.items() if p.stream_bytes_per_s and specs and d in specs})
        self.stream_fraction_ = float(np.median(fractions)) if fractions else 1.0
        effs = sorted({round(p.gemm_flops_per_s / DeviceFigures.from_spec(specs[d]).peak_flops_per_s, 9)
                       for d, p in self.probes_.items() if p.gemm_flops_per_s and specs and d in specs})
        if self.gemm_probe and not effs:
            raise InputError("gemm_probe=True needs training probes with gemm_flops_per_s and their specs")
        self.gemm_efficiency_ = float(np.median(effs)) if effs else 1.0
        self.n_train_ = int(len(y))
        self.metrics_: dict[str, Any] = {"train_mae_log": float(np.mean(np.abs(self.predict(X) - y)))}
        self.trained_on_ = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return self

    def _check(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError("this CrossDeviceModel is not fitted; call fit() or load() first")

    def predict(self, X: np.ndarray, cache: PredictionCache | None = None) -> np.ndarray:
        """Predicted ``log(measured / baseline)`` of each row of ``X`` (the bag's mean with ``device_bagging``).

        ``cache`` keeps each row's booster scores (:class:`PredictionCache`); the result is the same number.
        """
        self._check()
        X = np.asarray(X, float)
        boosters = (self.booster_, *self.bag_)
        if cache is None:
            return np.mean([b.predict(X) for b in boosters], axis=0)
        return np.mean(cache.scores(self, boosters, X), axis=0)

    def predict_members(self, X: np.ndarray, cache: PredictionCache | None = None) -> np.ndarray:
        """``(members, rows)`` predicted ``log(measured / baseline)`` of each member: the model, the bag's
        left-out models, then the device specialists (:meth:`predict` is the mean of the first ``1 + len(bag_)``)."""
        self._check()
        X = np.asarray(X, float)
        boosters = (self.booster_, *self.bag_, *self.specialists_)
        if cache is None:
            return np.stack([b.predict(X) for b in boosters])
        return cache.scores(self, boosters, X)

    def log_member_latency(self, rows: PricedOps, specs: Mapping[str, DeviceSpec], probes: Mapping[str, RuntimeProbe],
                           cache: PredictionCache | None = None) -> np.ndarray:
        """``(members, rows)`` log predicted latency of each member (:meth:`predict_members` on the baseline);
        ``probes`` complete for every device of ``rows``."""
        return np.log(baseline(rows, specs, probes)) + self.predict_members(featurize(rows, specs, probes), cache)

    def zero_shot_probe(self, spec: DeviceSpec) -> RuntimeProbe:
        """The probe assumed for a device measured nowhere: median training floor, sheet bandwidth x
        the training devices' median attainable fraction (and, with ``gemm_probe``, sheet fp32 peak x their
        median GEMM efficiency)."""
        self._check()
        return self.complete_probe(RuntimeProbe(self.default_floor_s_), spec)

    def complete_probe(self, probe: RuntimeProbe, spec: DeviceSpec) -> RuntimeProbe:
        """``probe`` with the figures it lacks filled from ``spec`` the zero-shot way (see :meth:`zero_shot_probe`);
        its GEMM rate dropped when the model is not ``gemm_probe``."""
        self._check()
        fig = DeviceFigures.from_spec(spec)
        stream = probe.stream_bytes_per_s or self.stream_fraction_ * fig.dram_bytes_per_s
        gemm = (probe.gemm_flops_per_s or self.gemm_efficiency_ * fig.peak_flops_per_s) if self.gemm_probe else None
        return RuntimeProbe(probe.dispatch_floor_s, stream, gemm)

    def probe_for(self, device: str, spec: DeviceSpec) -> RuntimeProbe:
        """The runtime probe of ``device``: recorded at training, else :meth:`zero_shot_probe`.

        A sheet written by ``hybridperf probe`` on the GPU (its fp32 peak marked ``measured``) carries a
        measured GEMM rate: a ``gemm_probe`` model uses it as the device's GEMM probe.
        """
        self._check()
        if device in self.probes_:
            return self.complete_probe(self.probes_[device], spec)
        probe = self.zero_shot_probe(spec)
        if self.gemm_probe and "peak_compute.fp32" in spec.measured:
            probe = RuntimeProbe(probe.dispatch_floor_s, probe.stream_bytes_per_s, spec.peak_flops("fp32"))
        return probe

    def predict_latency(self, rows: PricedOps, specs: Mapping[str, DeviceSpec],
                        probes: Mapping[str, RuntimeProbe] | None = None,
                        family_probes: Mapping[str, PricedOps] | None = None,
                        cache: PredictionCache | None = None) -> np.ndarray:
        """Predicted latency (seconds) of priced rows; devices without a given probe use :meth:`probe_for`,
        given probes are completed by :meth:`complete_probe`; ``cache``: see :meth:`predict`.

        ``family_probes`` maps a device to its measured family probes (:func:`family_probe_ops`): each family's
        rows on that device are rescaled by :func:`family_offsets` of those probes' ``log(measured / predicted)``
        (size axis :func:`family_probe_size`; ``family_shrink``, ``family_slope_shrink``). A model with device
        specialists and ``family_weight_tau > 0`` rescales every member so and weighs them by its probes
        (:func:`probe_weighted`). With ``local_bandwidth``, what the probes' residuals keep after that is smoothed
        onto nearby shapes (:func:`local_offsets`).
        """
        self._check()
        pr = {}
        for d in map(str, np.unique(rows.device)):
            if d in specs:
                given = (probes or {}).get(d)
                pr[d] = self.complete_probe(given, specs[d]) if given is not None else self.probe_for(d, specs[d])
        if family_probes and self.family_shrink and self.family_weight_tau > 0 and self.specialists_:
            return self._probe_weighted_latency(rows, specs, pr, family_probes, cache)
        out = baseline(rows, specs, pr) * np.exp(self.predict(featurize(rows, specs, pr), cache))
        for d, fp in (family_probes or {}).items():
            on = rows.device == d
            if not on.any() or not len(fp) or not self.family_shrink:
                continue
            resid = np.log(fp.measured_s / self.predict_latency(fp, specs, {d: pr[d]}, cache=cache))
            n = len(fp)
            off = family_offsets(np.concatenate([fp.family, rows.family[on]]),
                                 np.concatenate([family_probe_size(fp), family_probe_size(rows)[on]]),
                                 np.concatenate([resid, np.zeros(int(on.sum()))]),
                                 np.arange(n + int(on.sum())) < n, self.family_shrink, self.family_slope_shrink)
            out[on] *= np.exp(off[n:] + self._local(fp, rows.take(on), resid - off[:n]))
        return out

    def _local(self, fp: PricedOps, rows: PricedOps, residual_log: np.ndarray) -> np.ndarray | float:
        """:func:`local_offsets` of ``rows`` from the family probes ``fp`` and their residuals left after the family
        rescaling (0 without ``local_bandwidth``)."""
        if not self.local_bandwidth:
            return 0.0
        n = len(fp)
        return local_offsets(np.vstack([local_features(fp), local_features(rows)]),
                             np.concatenate([fp.family, rows.family]),
                             np.concatenate([residual_log, np.zeros(len(rows))]), np.arange(n + len(rows)) < n,
                             self.local_scales_, self.local_bandwidth, self.local_prior)[n:]

    def _probe_weighted_latency(self, rows: PricedOps, specs: Mapping[str, DeviceSpec],
                                probes: Mapping[str, RuntimeProbe], family_probes: Mapping[str, PricedOps],
                                cache: PredictionCache | None) -> np.ndarray:
        """:meth:`predict_latency` with family probes weighing every member (:func:`probe_weighted`);
        ``probes`` complete for every device of ``rows``."""
        main = 1 + len(self.bag_)
        log_pred = self.log_member_latency(rows, specs, probes, cache)
        out = log_pred[:main].mean(axis=0)
        for d, fp in family_probes.items():
            on = rows.device == d
            if not on.any() or not len(fp):
                continue
            fp_pred = self.log_member_latency(fp, specs, {d: probes[d]}, cache)
            n, k = len(fp), int(on.sum())
            full = probe_weighted(
                np.concatenate([fp_pred, log_pred[:, on]], axis=1), np.concatenate([fp.family, rows.family[on]]),
                np.concatenate([family_probe_size(fp), family_probe_size(rows)[on]]),
                np.concatenate([np.log(fp.measured_s), np.zeros(k)]), np.arange(n + k) < n, self.family_shrink,
                self.family_slope_shrink, self.family_weight_tau, main)
            out[on] = full[n:] + self._local(fp, rows.take(on), np.log(fp.measured_s) - full[:n])
        return np.exp(out)

    def feature_importance(self) -> dict[str, float]:
        """Total gain of each feature, largest first."""
        self._check()
        gain = self.booster_.feature_importance("gain")
        return dict(sorted(zip(FEATURES, map(float, gain)), key=lambda kv: -kv[1]))

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, metrics: Mapping[str, Any] | None = None) -> Path:
        """Write :data:`MODEL_FILE`, the bag's and the specialists' boosters and :data:`SIDECAR_FILE` into
        ``directory``; the sidecar records each booster's sha256 (:data:`~hybridperf.residual.sidecar.DIGESTS_KEY`),
        which :meth:`load` checks."""
        self._check()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        digests = {MODEL_FILE: write_booster(d / MODEL_FILE, self.booster_)}
        bag_files = _save_members(d, BAG_FILE, self.bag_)
        specialist_files = _save_members(d, SPECIALIST_FILE, self.specialists_)
        digests.update({**bag_files, **specialist_files})
        if metrics:
            self.metrics_ = {**self.metrics_, **metrics}
        meta = {
            "schema_version": SCHEMA_VERSION,
            "features_version": FEATURES_VERSION,
            "features": list(FEATURES),
            "categorical": list(_CATEGORICAL),
            "ops": list(OP_NAMES),
            "target": "log(measured latency / max(flops / fp32 peak, bytes / bandwidth, dispatch floor)); with "
                      "gemm_probe the peak of bmm rows is the probed GEMM rate",
            "gemm_probe_ops": list(GEMM_PROBE_OPS),
            "model_file": MODEL_FILE,
            "bag_files": list(bag_files),
            "bag_left_out": list(self.bag_groups_),
            "specialist_files": list(specialist_files),
            "specialist_groups": list(self.specialist_groups_),
            "params": self.get_params(),
            "family_probe_shapes": [[op, dict(d)] for op, d in FAMILY_PROBE_SHAPES],
            "family_probe_intensity_axis": list(FAMILY_PROBE_INTENSITY_AXIS),
            "local_features": [*(f"log1p({c})" for c in SHAPE_COLUMNS), "log1p(flops)", "log1p(bytes)"],
            "local_scales": {f: {"mean": a.tolist(), "sd": b.tolist()} for f, (a, b) in self.local_scales_.items()},
            "training_devices": list(self.devices_),
            "runtime_probes": {k: {"dispatch_floor_s": p.dispatch_floor_s, "stream_bytes_per_s": p.stream_bytes_per_s,
                                   "gemm_flops_per_s": p.gemm_flops_per_s} for k, p in self.probes_.items()},
            "default_floor_s": self.default_floor_s_,
            "stream_fraction": self.stream_fraction_,
            "gemm_efficiency": self.gemm_efficiency_,
            "n_train": self.n_train_,
            "metrics": self.metrics_,
            "trained_on": self.trained_on_,
            DIGESTS_KEY: digests,
        }
        write_sidecar(d / SIDECAR_FILE, meta)
        return d

    @classmethod
    def load(cls, directory: str | Path) -> CrossDeviceModel:
        """Load a model written by :meth:`save`; refuses other schema or feature versions, and a booster that is not
        whole or not the one whose sha256 its sidecar records (:func:`~hybridperf.residual.sidecar.read_booster`; the
        packaged one records them; a sidecar written before 2026-12-04 records none: read checked but unverified).
        Until 2026-12-04 LightGBM read the boosters unchecked (one cut short aborted the process) and failed on a
        folder whose name is not UTF-8."""
        d = Path(directory)
        side = d / SIDECAR_FILE
        fix = "; retrain the model"
        meta = read_sidecar(d, MODEL_FILE, SIDECAR_FILE,
                            f"no cross-device model in {d} (expected {MODEL_FILE} and {SIDECAR_FILE})", fix)
        if meta.get("schema_version") != SCHEMA_VERSION or meta.get("features_version") != FEATURES_VERSION \
                or meta.get("features") != list(FEATURES):
            raise InputError(
                f"{side}: schema {meta.get('schema_version')} / features {meta.get('features_version')} do not match "
                f"this hybridperf (schema {SCHEMA_VERSION}, features {FEATURES_VERSION}); retrain the model")
        m = cls(**meta["params"])
        bag, specialists = meta.get("bag_files", []), meta.get("specialist_files", [])
        try:
            digests = recorded_digests(meta.get(DIGESTS_KEY), [MODEL_FILE, *bag, *specialists])
        except (TypeError, ValueError) as exc:
            raise InputError(f"{side} is not a sidecar this hybridperf wrote ({exc}){fix}") from exc
        m.booster_ = read_booster(d / MODEL_FILE, FEATURES, fix, digests[MODEL_FILE])
        m.bag_ = [read_booster(p, FEATURES, fix, digests[n]) for n, p in zip(bag, _member_paths(d, bag, "bag members"))]
        m.bag_groups_ = tuple(meta.get("bag_left_out", []))
        m.specialists_ = _LazyBoosters(_member_paths(d, specialists, "device specialists"),
                                       [digests[n] for n in specialists], fix)
        m.specialist_groups_ = tuple(meta.get("specialist_groups", []))
        m.devices_ = tuple(meta["training_devices"])
        opt = lambda v: None if v is None else float(v)  # noqa: E731
        m.probes_ = {k: RuntimeProbe(float(v["dispatch_floor_s"]), opt(v.get("stream_bytes_per_s")),
                                     opt(v.get("gemm_flops_per_s"))) for k, v in meta["runtime_probes"].items()}
        m.local_scales_ = {f: (np.asarray(v["mean"], float), np.asarray(v["sd"], float))
                           for f, v in meta.get("local_scales", {}).items()}
        if m.local_bandwidth and not m.local_scales_:
            raise InputError(f"{side}: local_bandwidth {m.local_bandwidth} but no local_scales; retrain the model")
        m.default_floor_s_ = float(meta["default_floor_s"])
        m.stream_fraction_ = float(meta["stream_fraction"])
        m.gemm_efficiency_ = float(meta["gemm_efficiency"])
        m.n_train_ = int(meta["n_train"])
        m.metrics_ = meta.get("metrics", {})
        m.trained_on_ = meta.get("trained_on", "")
        return m


__all__ = ["BAG_FILE", "SPECIALIST_FILE", "FAMILY_PROBE_INTENSITY_AXIS", "FAMILY_PROBE_OPS", "FAMILY_PROBE_SHAPES", "FAMILY_PROBES_PER_FAMILY", "FEATURES", "FEATURES_VERSION", "FLOOR_OPS", "GEMM_PROBE_OPS", "KERNEL_SHAPE_FEATURES", "CrossDeviceModel", "PredictionCache",
           "PROBE_SHAPES_FILE", "baseline", "family_offsets", "family_probe_ops", "family_probe_size", "family_probe_rows", "family_probe_work",
           "family_scales", "featurize", "gemm_probe_rows", "local_features", "local_offsets", "mape", "probe_weighted",
           "runtime_probes"]
