"""Ceilings of the GPU operator residual on NeuSight's data: how far below the cross-device error one can get.

Diagnostics for :mod:`benchmarks.gpu_ops_cross_device` (module docstring of
:mod:`hybridperf.residual.cross_device`, "Where the rest of the error is"). Each section asks what is left when the
transfer to an unseen GPU is taken away or when the kernel choice is handed to the model:

1. **In-distribution ceiling**: :class:`hybridperf.residual.cross_device.CrossDeviceModel` (one model, no bag,
   candidate 1 of :data:`benchmarks.gpu_ops_cross_device.CANDIDATES`: 63 leaves, 50 rows per leaf, ``gemm_probe``)
   trained on all five GPUs with a share :data:`HOLD_OUT` of the distinct (op, shape) keys held out on every GPU
   (a held-out shape is measured nowhere in training), scored on the held-out rows the leave-one-GPU-out benchmark
   scores (GEMM-probe and family-probe rows excluded), each GPU with its own runtime probes; mean over
   :data:`SPLIT_SEEDS`. Also with every training row and ``--full-estimators`` rounds (``--no-full`` skips it).
2. **Same-GPU model**: the same model trained on 80 % of one GPU's scored rows (a random row split) and scored on
   the other 20 %; one model per GPU, mean over :data:`SPLIT_SEEDS`.
3. **Tile oracle** (diagnostic only, *not* a prediction any unseen GPU allows): leave-one-GPU-out (single model,
   every probe, and + family probes at shrink 1, slope shrink 1 as
   :func:`hybridperf.residual.cross_device.probe_weighted` of one member) with and without features of the kernel
   each GPU *really* ran for bmm / linear / conv: the algorithm and tile parsed from NeuSight's ``Kernel Name``
   column, the number of kernels, warps per block, and the waves, wave tails and whole-wave time of its real grid on
   the sheet's SM count. It uses the held-out GPU's own kernel choice. Both arms are trained by the same LightGBM
   call with the model's settings (the model itself takes :data:`hybridperf.residual.cross_device.FEATURES` only);
   mean over the five folds and :data:`ORACLE_SEEDS`.
4. **Ground-truth repeatability**: rows of one (device, op, shape) measured more than once; MAPE of each such row
   against the mean of the others (leave-self-out).
5. **Measurement drift along each file**: NeuSight's latencies drift with the row's place in its file (the same
   shapes come in the same order on every GPU, so the drift looks like a shape effect that agrees across GPUs).
   Per GPU and family, the correlation of section 1's held-out log errors ``log(measured / predicted)`` with the
   row's relative position in its file (:func:`file_position`, rows matched to the file by latency) and their mean
   per file fifth; Spearman correlations of log FLOPs and of the conv dimensions with the position (conv's shapes
   do not trend, so its drift is not a size effect; bmm, linear and layer norm shapes grow along their files, so
   there position and size are confounded); and, as a diagnostic only (a new op has no place in NeuSight's
   files), section 1 again with the position as one more feature.

Prints a markdown report and writes it to ``benchmarks/results/gpu_ops_ceiling.md`` headed by the command.
About 5.5 minutes on one core (load 0.5, in-distribution 1 of which 0.9 the every-row fits, same-GPU 0.5,
oracle 3, position diagnostic 0.2).

Run (pinned to one core)::

    taskset -c 0 python -m benchmarks.gpu_ops_ceiling
"""

from __future__ import annotations

import argparse
import csv
import gzip
import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from benchmarks.gpu_ops_cross_device import (
    add_fit_arguments,
    CANDIDATES,
    CITATION,
    _Data,
    _probes,
    _sample,
    within,
    write_doc,
)
from hybridperf.device.spec import DeviceSpec, load_spec
from hybridperf.residual.cross_device import (
    FEATURES,
    CrossDeviceModel,
    family_probe_rows,
    family_probe_size,
    gemm_probe_rows,
    mape,
    probe_weighted,
)
from hybridperf.residual.neusight import DEVICE_IDS, FAMILIES, GPUS, PricedOps, load_ops

#: family-probe shapes per family this study was run with (the set shipped before 64 were; its published results
#: are for it)
PROBES_PER_FAMILY = 4
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "gpu_ops_ceiling.md"
#: model settings of every section: candidate 1 of the leave-one-GPU-out benchmark (GEMM-rate pricing of bmm)
SETTINGS: Mapping = CANDIDATES[1]
#: share of the distinct (op, shape) keys held out on every GPU (section 1)
HOLD_OUT = 0.2
#: seeds of the key / row splits (sections 1 and 2) and of the training-row samples
SPLIT_SEEDS = (0, 1)
#: seeds of the training-row samples of the oracle's leave-one-GPU-out (section 3)
ORACLE_SEEDS = (0, 1, 2)
#: (shrink, slope shrink) of the family probes in section 3 (fixed, as in the earlier scratch diagnostic)
ORACLE_FAMILY = (1.0, 1.0)
#: NeuSight ops whose kernel the oracle describes, and their families (the summary's columns)
KERNEL_OPS = ("bmm", "linear", "conv")
KERNEL_FAMILIES = ("bmm", "linear", "conv")
#: families of the shape-trend check (section 5) and the file fifths of the drift table
DRIFT_FAMILIES = ("bmm", "linear", "conv", "layer_norm")
DRIFT_BINS = 5
#: conv dimensions whose trend along the file section 5 shows (NeuSight's batch is ``gemm_m / out size**2``;
#: its kernel, stride and padding are 3, 1, 1 on every row)
CONV_DIMS = ("batch", "conv_in_channels", "conv_out_channels", "conv_in_size")
_ARCH_PREFIX = re.compile(r"^(ampere|volta|maxwell|turing)_")
_TILE = re.compile(r"(\d+)x(\d+)")


# -- the source files (kernels for the oracle, each row's place in its file) ------------------------------------

def _source_rows(data_dir: Path, rows: PricedOps, ops: Sequence[str]):
    """``(row indices, CSV records)`` of every NeuSight file of ``ops``, the indices of ``rows`` that file's rows are,
    in file order; the latencies are checked against ``rows``."""
    for op in ops:
        for path in sorted((Path(data_dir) / "ops" / op).glob("*.csv.gz")):
            dev = DEVICE_IDS.get(path.name[: -len(".csv.gz")])
            if dev is None:
                continue
            at = np.where((rows.op == op) & (rows.device == dev))[0]
            with gzip.open(path, "rt", newline="") as fh:
                recs = list(csv.DictReader(fh))
            lat = np.array([float(r["Latency"]) * 1e-3 for r in recs])
            if len(recs) != len(at) or not np.allclose(lat, rows.measured_s[at]):
                raise RuntimeError(f"{path}: rows do not line up with load_ops")
            yield at, recs


def file_position(data_dir: Path, rows: PricedOps) -> np.ndarray:
    """Relative position of each row in its NeuSight file (first row 0, last row 1), aligned with ``rows``."""
    pos = np.full(len(rows), np.nan)
    for at, _ in _source_rows(data_dir, rows, np.unique(rows.op).tolist()):
        pos[at] = np.arange(len(at)) / max(len(at) - 1, 1)
    if np.isnan(pos).any():
        raise RuntimeError(f"{int(np.isnan(pos).sum())} rows were found in no NeuSight file")
    return pos


def read_kernels(data_dir: Path, rows: PricedOps) -> dict[str, np.ndarray]:
    """Kernel name, all kernel names, grid blocks, block threads and kernel count of every :data:`KERNEL_OPS` row,
    aligned with ``rows`` (empty elsewhere); latencies are checked against ``rows``."""
    n = len(rows)
    out = {"name": np.full(n, "", dtype=object), "kernels": np.full(n, "", dtype=object), "blocks": np.zeros(n),
           "block_threads": np.zeros(n), "n_kernels": np.zeros(n)}
    for at, recs in _source_rows(data_dir, rows, KERNEL_OPS):
        for i, r in zip(at, recs):
            allk = r.get("Kernels") or r["Kernel Name"]
            out["name"][i], out["kernels"][i] = r["Kernel Name"], allk
            out["blocks"][i] = float(r["Grid x"] or 0) * float(r["Grid y"] or 0) * float(r["Grid z"] or 0)
            out["block_threads"][i] = float(r["Block x"] or 0)
            out["n_kernels"][i] = len([k for k in allk.split(";") if k])
    return out


def _algorithm(name: str, kernels: str) -> str:
    k = _ARCH_PREFIX.sub("", name)
    if "winograd_nonfused" in kernels:
        return "wino_nonfused"
    if "fft" in kernels.lower():
        return "fft"
    for needle, label in (("scudnn_winograd", "scudnn_winograd"), ("scudnn", "scudnn"), ("gcgemm", "gcgemm"),
                          ("implicit_convolve", "implicit_conv"), ("explicit_convolve", "explicit_conv"),
                          ("sliced", "sgemm_sliced"), ("sgemm", "sgemm")):
        if needle in k:
            return label
    return "other"


def oracle_columns(rows: PricedOps, specs: Mapping[str, DeviceSpec], kern: Mapping[str, np.ndarray],
                   tile_grid_only: bool = False) -> dict[str, np.ndarray]:
    """Features of the kernel each row really ran (NaN outside :data:`KERNEL_OPS`): algorithm (categorical), tile,
    waves and tails of the real grid on the sheet's SM count, whole-wave time of the real tile over the compute
    time, kernel count, warps per block, waves of the tiles the real tile implies on the GEMM view. With
    ``tile_grid_only`` without the algorithm and the kernel count."""
    mm = np.isin(rows.op, KERNEL_OPS)
    sms = np.array([specs[d].compute_unit_count for d in rows.device], float)
    peak = np.array([specs[d].peak_flops("fp32") for d in rows.device], float)
    algos = sorted({_algorithm(a, b) for a, b in zip(kern["name"][mm], kern["kernels"][mm])})
    alg, tm, tn = (np.full(len(rows), np.nan) for _ in range(3))
    for i in np.where(mm)[0]:
        alg[i] = algos.index(_algorithm(kern["name"][i], kern["kernels"][i]))
        t = _TILE.search(_ARCH_PREFIX.sub("", kern["name"][i]))
        if t:
            tm[i], tn[i] = float(t.group(1)), float(t.group(2))
    blocks, s = kern["blocks"], rows.shapes

    def tail(resident: int) -> np.ndarray:
        cap = sms * resident
        return np.where(blocks > 0, blocks / (np.ceil(blocks / cap) * cap), 1.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        wave_s = np.ceil(blocks / sms) * 2 * tm * tn * s["gemm_k"] / (peak / sms)
        tiles = s["batch"] * np.ceil(s["gemm_m"] / tm) * np.ceil(s["gemm_n"] / tn)
        cols = {
            "o_algo": alg, "o_tile_m": tm, "o_tile_n": tn, "o_log_waves": np.log(blocks / sms + 1e-12),
            "o_tail1": tail(1), "o_tail2": tail(2),
            "o_log_wavetime": np.log(wave_s / np.maximum(rows.flops / peak, 1e-30) + 1e-12),
            "o_nkernels": kern["n_kernels"], "o_log_warps_per_block": np.log(kern["block_threads"] / 32 + 1e-12),
            "o_log_tiles_real_waves": np.log(tiles / sms + 1e-12),
        }
    if tile_grid_only:
        cols = {k: v for k, v in cols.items() if k not in ("o_algo", "o_nkernels")}
    return {k: np.where(mm, v, np.nan) for k, v in cols.items()}


# -- scoring helpers ------------------------------------------------------------------------------------------------

def _gpu_of(rows: PricedOps) -> np.ndarray:
    gpu = {d: g for g, ds in GPUS.items() for d in ds}
    return np.array([gpu[d] for d in rows.device])


def _shape_keys(rows: PricedOps) -> np.ndarray:
    """Index of each row's distinct (op, shape) key (the same shape on every device shares it)."""
    op = np.unique(rows.op, return_inverse=True)[1].reshape(-1, 1)
    keys = np.concatenate([op, rows.shape_matrix()], 1)
    return np.unique(keys, axis=0, return_inverse=True)[1].reshape(-1)


def _fit(data: _Data, idx: np.ndarray, n_rows: int, estimators: int, seed: int) -> CrossDeviceModel:
    """A single :data:`SETTINGS` model on (a sample of ``n_rows`` of) the rows ``idx``."""
    tr = _sample(idx, n_rows, np.random.default_rng(seed))
    devs = sorted(set(data.rows.device[tr]))
    X, y = data.Xy[True]
    return CrossDeviceModel(**SETTINGS, n_estimators=estimators).fit(
        X[tr], y[tr], devices=devs, probes={d: data.probes[d] for d in devs}, specs=data.specs)


def _predict(data: _Data, m: CrossDeviceModel, mask: np.ndarray) -> np.ndarray:
    """Predicted latency of the rows in ``mask``, each GPU with its own probes (the features of ``data``)."""
    X, y = data.Xy[True]
    return data.rows.measured_s[mask] * np.exp(m.predict(X[mask]) - y[mask])


def _cells(rows: PricedOps, gpu: np.ndarray, runs: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict:
    """``(family, GPU) -> (MAPE %, share within ±10 %)`` averaged over ``runs`` (each a scored-row mask and its
    predictions); family ``all`` pools a GPU's rows, GPU ``mean`` is the mean over the five GPUs."""
    out = {}
    for f in (*FAMILIES, "all"):
        for g in GPUS:
            vals = []
            for mask, pred in runs:
                s = ((rows.family[mask] == f) | (f == "all")) & (gpu[mask] == g)
                if s.any():
                    vals.append((mape(pred[s], rows.measured_s[mask][s]), within(pred[s], rows.measured_s[mask][s])))
            if vals:
                out[(f, g)] = tuple(np.mean(vals, axis=0))
        per_gpu = [out[(f, g)] for g in GPUS if (f, g) in out]
        if per_gpu:
            out[(f, "mean")] = tuple(np.mean(per_gpu, axis=0))
    return out


def _cell_table(cells: dict, base: dict | None = None) -> list[str]:
    """MAPE / share within 10 % per family x GPU; with ``base``, its MAPE in brackets after each cell."""
    cols = (*GPUS, "mean")
    lines = ["| family | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for f in (*FAMILIES, "all"):
        lines.append(f"| {f} | " + " | ".join(
            f"{cells[(f, g)][0]:.1f} / {cells[(f, g)][1]:.0f}" + (f" ({base[(f, g)][0]:.1f})" if base else "")
            if (f, g) in cells else "" for g in cols) + " |")
    return lines


# -- sections -------------------------------------------------------------------------------------------------------

def _held_out(key: np.ndarray, seed: int) -> np.ndarray:
    """Rows whose shape key section 1 holds out under split seed ``seed``."""
    return (np.random.default_rng(100 + seed).random(key.max() + 1) < HOLD_OUT)[key]


def in_distribution(data: _Data, gpu: np.ndarray, n_rows: int, estimators: int) -> tuple[dict, list]:
    """Section 1: every GPU in training, :data:`HOLD_OUT` of the shape keys held out on all of them; the cells and
    the runs (scored-row mask, predictions) of each split seed."""
    key = _shape_keys(data.rows)
    runs = []
    for seed in SPLIT_SEEDS:
        hold = _held_out(key, seed)
        m = _fit(data, np.where(~hold)[0], n_rows, estimators, seed)
        te = hold & data.scored
        runs.append((te, _predict(data, m, te)))
    return _cells(data.rows, gpu, runs), runs


def same_gpu(data: _Data, gpu: np.ndarray, n_rows: int, estimators: int) -> dict:
    """Section 2: one model per GPU on 80 % of its scored rows, scored on the other 20 %."""
    runs = []
    for seed in SPLIT_SEEDS:
        te_all, pred_all = np.zeros(len(data.rows), bool), np.zeros(len(data.rows))
        for g in GPUS:
            idx = np.where((gpu == g) & data.scored)[0]
            np.random.default_rng(seed).shuffle(idx)
            cut = int(0.8 * len(idx))
            m = _fit(data, np.sort(idx[:cut]), n_rows, estimators, seed)
            te = np.zeros(len(data.rows), bool)
            te[idx[cut:]] = True
            te_all |= te
            pred_all[te] = _predict(data, m, te)
        runs.append((te_all, pred_all[te_all]))
    return _cells(data.rows, gpu, runs)


def oracle(data: _Data, gpu: np.ndarray, arms: Mapping[str, dict[str, np.ndarray]], n_rows: int,
           estimators: int) -> dict[str, dict[str, dict]]:
    """Section 3: leave-one-GPU-out per arm (extra feature columns), ``arm -> mode -> cells``."""
    import lightgbm as lgb

    rows = data.rows
    params = CrossDeviceModel(**SETTINGS).lgb_params()
    X0, y = data.Xy[True]
    log_base = np.log(rows.measured_s) - y
    size = family_probe_size(rows)
    out = {}
    for arm, extra in arms.items():
        X = np.column_stack([X0, *extra.values()])
        names = [*FEATURES, *extra]
        cat = [c for c in ("op", "o_algo") if c in names]
        runs = {"every probe": [], "+ family probes": []}
        for seed in ORACLE_SEEDS:
            full, fam, scored = np.zeros(len(rows)), np.zeros(len(rows)), np.zeros(len(rows), bool)
            for g in GPUS:
                tr = _sample(np.where(gpu != g)[0], n_rows, np.random.default_rng(seed))
                bst = lgb.train(params, lgb.Dataset(X[tr], y[tr], feature_name=names, categorical_feature=cat),
                                num_boost_round=estimators)
                on = (gpu == g) & (data.scored | data.family_probe)
                lp = log_base[on] + bst.predict(X[on])
                lf = np.zeros(int(on.sum()))
                for d in GPUS[g]:  # per sheet: the A100's conv rows are another sheet with its own probe rows
                    s = rows.device[on] == d
                    lf[s] = probe_weighted(lp[None, s], rows.family[on][s], size[on][s],
                                           np.log(rows.measured_s[on][s]), data.family_probe[on][s], *ORACLE_FAMILY,
                                           1.0, 1)
                full[on], fam[on] = np.exp(lp), np.exp(lf)
                scored |= (gpu == g) & data.scored
            runs["every probe"].append((scored, full[scored]))
            runs["+ family probes"].append((scored, fam[scored]))
        out[arm] = {mode: _cells(rows, gpu, r) for mode, r in runs.items()}
    return out


def repeatability(rows: PricedOps) -> list[tuple[str, int, int, float, float]]:
    """Section 4: ``(label, rows, groups, leave-self-out MAPE %, median %)`` per family, per device and overall
    over rows whose (device, op, shape) was measured more than once."""
    key = np.column_stack([np.unique(rows.device, return_inverse=True)[1].reshape(-1),
                           np.unique(rows.op, return_inverse=True)[1].reshape(-1),
                           rows.shape_matrix()])
    _, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    dup = cnt[inv] > 1
    total = np.bincount(inv, rows.measured_s)
    others = (total[inv] - rows.measured_s) / np.maximum(cnt[inv] - 1, 1)
    err = np.abs(others - rows.measured_s) / rows.measured_s * 100
    out = []
    groups = ([(f, rows.family == f) for f in FAMILIES] + [(d, rows.device == d) for d in np.unique(rows.device)]
              + [("all", np.ones(len(rows), bool))])
    for label, sel in groups:
        s = dup & sel
        if s.any():
            out.append((str(label), int(s.sum()), len(np.unique(inv[s])), float(err[s].mean()),
                        float(np.median(err[s]))))
    return out


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks of ``x`` (ties share their mean rank)."""
    r = np.empty(len(x))
    r[np.argsort(x, kind="mergesort")] = np.arange(len(x))
    inv = np.unique(x, return_inverse=True)[1].reshape(-1)
    return (np.bincount(inv, r) / np.bincount(inv))[inv]


def _corr(a: np.ndarray, b: np.ndarray, rank: bool) -> float:
    """Pearson correlation of ``a`` and ``b`` (Spearman with ``rank``); NaN when either is constant."""
    if rank:
        a, b = _ranks(a), _ranks(b)
    return float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 and a.std() > 0 and b.std() > 0 else float("nan")


def drift(rows: PricedOps, gpu: np.ndarray, pos: np.ndarray, runs: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Section 5: ``(family, GPU) -> (Pearson r, Spearman rho, mean per file fifth %)`` of the held-out rows' log
    error ``log(measured / predicted)`` against their relative file position, each the mean over ``runs``; a
    fifth's figure is ``exp(mean log error) - 1`` in % (positive: slower than predicted)."""
    out = {}
    for f in FAMILIES:
        for g in GPUS:
            vals = []
            for mask, pred in runs:
                s = (rows.family[mask] == f) & (gpu[mask] == g)
                if s.sum() < 10:
                    continue
                err, p = np.log(rows.measured_s[mask][s] / pred[s]), pos[mask][s]
                fifth = np.minimum((p * DRIFT_BINS).astype(int), DRIFT_BINS - 1)
                vals.append([_corr(err, p, False), _corr(err, p, True),
                             *((np.exp(err[fifth == k].mean()) - 1) * 100 if (fifth == k).any() else np.nan
                               for k in range(DRIFT_BINS))])
            if vals:
                v = np.nanmean(vals, axis=0)
                out[(f, g)] = (v[0], v[1], tuple(v[2:]))
    return out


def shape_trend(rows: PricedOps, gpu: np.ndarray, pos: np.ndarray) -> list[tuple[str, str, dict[str, float]]]:
    """Section 5: ``(family, quantity, GPU -> Spearman rho)`` of a shape quantity against the file position over
    every row of the family: log FLOPs of each :data:`DRIFT_FAMILIES` family, and each conv dimension."""
    quantities = [(f, "log FLOPs", lambda s: np.log(rows.flops[s] + 1)) for f in DRIFT_FAMILIES]
    dims = {**rows.shapes, "batch": rows.shapes["gemm_m"] / np.maximum(rows.shapes["conv_out_size"], 1) ** 2}
    quantities += [("conv", c, lambda s, c=c: dims[c][s]) for c in CONV_DIMS]
    out = []
    for f, label, value in quantities:
        rho = {}
        for g in GPUS:
            s = (rows.family == f) & (gpu == g)
            if s.any():
                rho[g] = _corr(value(s), pos[s], True)
        out.append((f, label, rho))
    return out


def position_oracle(data: _Data, gpu: np.ndarray, pos: np.ndarray, n_rows: int, estimators: int) -> dict:
    """Section 5 (diagnostic): section 1's splits and training samples with the relative file position as an extra
    feature, trained by the LightGBM call :class:`CrossDeviceModel` makes with :data:`SETTINGS`."""
    import lightgbm as lgb

    params = CrossDeviceModel(**SETTINGS).lgb_params()
    X0, y = data.Xy[True]
    X, names = np.column_stack([X0, pos]), [*FEATURES, "file_position"]
    key = _shape_keys(data.rows)
    runs = []
    for seed in SPLIT_SEEDS:
        hold = _held_out(key, seed)
        tr = _sample(np.where(~hold)[0], n_rows, np.random.default_rng(seed))
        bst = lgb.train(params, lgb.Dataset(X[tr], y[tr], feature_name=names, categorical_feature=["op"]),
                        num_boost_round=estimators)
        te = hold & data.scored
        runs.append((te, data.rows.measured_s[te] * np.exp(bst.predict(X[te]) - y[te])))
    return _cells(data.rows, gpu, runs)


def _drift_table(res: dict) -> list[str]:
    head = ["Pearson r", "Spearman rho", *(f"fifth {k + 1}" for k in range(DRIFT_BINS))]
    lines = ["| family | GPU | " + " | ".join(head) + " |", "|---|---|" + "---:|" * len(head)]
    for (f, g), (r, rho, fifths) in res.items():
        lines.append(f"| {f} | {g} | {r:+.2f} | {rho:+.2f} | " + " | ".join(f"{v:+.1f}" for v in fifths) + " |")
    return lines


def _trend_table(res: list[tuple[str, str, dict[str, float]]]) -> list[str]:
    lines = ["| family | quantity | " + " | ".join(GPUS) + " |", "|---|---|" + "---:|" * len(GPUS)]
    for f, label, rho in res:
        lines.append(f"| {f} | {label} | " + " | ".join(f"{rho.get(g, np.nan):+.2f}" for g in GPUS) + " |")
    return lines


# -- report ---------------------------------------------------------------------------------------------------------

def _oracle_table(res: dict[str, dict[str, dict]]) -> list[str]:
    arms, modes = list(res), list(next(iter(res.values())))
    head = [f"{a}, {m}" for m in modes for a in arms]
    lines = ["| family | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    for f in (*FAMILIES, "all"):
        lines.append(f"| {f} | " + " | ".join(f"{res[a][m][(f, 'mean')][0]:.1f} / {res[a][m][(f, 'mean')][1]:.0f}"
                                             for m in modes for a in arms) + " |")
    return lines


def run(args) -> str:
    t0 = time.time()

    def note(what: str) -> None:
        print(f"{what} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)

    rows = load_ops(args.data)
    specs = {d: load_spec(d) for d in np.unique(rows.device)}
    gemm_rows = gemm_probe_rows(rows)
    family_probe = np.zeros(len(rows), bool)
    family_probe[family_probe_rows(rows, PROBES_PER_FAMILY)] = True
    scored = ~family_probe
    scored[gemm_rows] = False
    data = _Data(rows, specs, _probes(rows, specs, gemm_rows), scored, family_probe)
    gpu = _gpu_of(rows)
    kern = read_kernels(args.data, rows)
    pos = file_position(args.data, rows)
    note(f"priced {len(rows)} rows and read their kernels and file positions")

    ind, ind_runs = in_distribution(data, gpu, args.train_rows, args.estimators)
    note(f"in-distribution: {ind[('all', 'mean')][0]:.2f} %")
    ind_full = None
    if not args.no_full:
        ind_full, _ = in_distribution(data, gpu, len(rows), args.full_estimators)
        note(f"in-distribution, every row, {args.full_estimators} rounds: {ind_full[('all', 'mean')][0]:.2f} %")
    same = same_gpu(data, gpu, args.train_rows, args.estimators)
    note("same GPU: " + ", ".join(f"{f} {same[(f, 'mean')][0]:.1f} %" for f in (*KERNEL_FAMILIES, "all")))
    arms = {"shape features": {}, "+ real kernel (oracle)": oracle_columns(rows, specs, kern),
            "+ real tile and grid only (oracle)": oracle_columns(rows, specs, kern, tile_grid_only=True)}
    orc = oracle(data, gpu, arms, args.train_rows, args.estimators)
    note("oracle, + family probes: " + ", ".join(
        f"{a} {orc[a]['+ family probes'][('all', 'mean')][0]:.2f} %" for a in orc))
    rep = repeatability(rows)
    dri, trend = drift(rows, gpu, pos, ind_runs), shape_trend(rows, gpu, pos)
    ind_pos = position_oracle(data, gpu, pos, args.train_rows, args.estimators)
    note("in-distribution + file position: " + ", ".join(f"{f} {ind_pos[(f, 'mean')][0]:.1f} %"
                                                         for f in (*KERNEL_FAMILIES, "all")))

    base, top = orc["shape features"], "+ real kernel (oracle)"
    gain = {f: base["+ family probes"][(f, "mean")][0] - orc[top]["+ family probes"][(f, "mean")][0]
            for f in (*KERNEL_FAMILIES, "all")}
    rep_all = rep[-1]
    out = [
        "## Summary (MAPE %)", "",
        "| figure | bmm | linear | conv | all |", "|---|---:|---:|---:|---:|",
        *(f"| {label} | " + " | ".join(f"{c[(f, 'mean')][0]:.1f}" for f in (*KERNEL_FAMILIES, "all")) + " |"
          for label, c in (("in-distribution ceiling (all five GPUs, 20 % of shapes held out)", ind),
                           *((("same, every row, " + str(args.full_estimators) + " rounds", ind_full),)
                             if ind_full else ()),
                           ("same-GPU model (80 / 20 rows of one GPU)", same),
                           ("leave-one-GPU-out + family probes, single model (section 3)", base["+ family probes"]),
                           ("same + real kernel (ORACLE)", orc[top]["+ family probes"]),
                           ("in-distribution + file position (DIAGNOSTIC, section 5)", ind_pos))),
        "| oracle gain, points | " + " | ".join(f"{gain[f]:.2f}" for f in (*KERNEL_FAMILIES, "all")) + " |",
        "", f"Ground-truth repeatability: {rep_all[3]:.1f} % leave-self-out MAPE over {rep_all[1]} rows in "
        f"{rep_all[2]} repeated (device, op, shape) groups.", "",
        f"## 1. In-distribution ceiling: MAPE % / share within ±10 % ({args.train_rows} training rows, "
        f"{args.estimators} rounds)", "",
        "All five GPUs in training; a held-out (op, shape) key is held out on every GPU. GPU `mean` is the mean over "
        "the five GPUs.", "", *_cell_table(ind), "",
    ]
    if ind_full:
        out += [f"### Every training row, {args.full_estimators} rounds", "", *_cell_table(ind_full), ""]
    out += [
        f"## 2. Same-GPU model: MAPE % / share within ±10 % (one model per GPU, at most {args.train_rows} rows, "
        f"{args.estimators} rounds)", "", *_cell_table(same), "",
        "## 3. Tile oracle (DIAGNOSTIC: uses the held-out GPU's real kernel choice), leave-one-GPU-out", "",
        "MAPE % / share within ±10 %, mean over the five held-out GPUs and seeds "
        f"{', '.join(map(str, ORACLE_SEEDS))}. `every probe`: floor, stream and GEMM probes of the held-out GPU; "
        f"`+ family probes`: also its family probes, shrink {ORACLE_FAMILY[0]}, slope shrink {ORACLE_FAMILY[1]}.", "",
        *_oracle_table(orc), "",
        "## 4. Ground-truth repeatability", "",
        "| rows of | rows | groups | leave-self-out MAPE % | median % |", "|---|---:|---:|---:|---:|",
        *(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f} | {r[4]:.1f} |" for r in rep), "",
        "## 5. Measurement drift along each file", "",
        "Section 1's held-out rows (its model, both split seeds; mean over them): correlation of the log error "
        "log(measured / predicted) with the row's relative position in its NeuSight file (first row 0, last 1), and "
        "exp(mean log error) - 1 in % per fifth of the file (positive: slower than the model predicts).", "",
        *_drift_table(dri), "",
        "### Shapes along the file: Spearman rho with the relative file position (every row of the family)", "",
        "NeuSight's conv kernel, stride and padding are 3, 1 and 1 on every row; its conv batch is gemm_m / out "
        "size^2.", "", *_trend_table(trend), "",
        f"### In-distribution + file position (DIAGNOSTIC, not a predictor: an op has no place in NeuSight's files): "
        f"MAPE % / share within ±10 % ({args.train_rows} training rows, {args.estimators} rounds)", "",
        "Section 1's splits and training samples with the relative file position as one more feature (the same "
        "LightGBM call CrossDeviceModel makes), scored at each held-out row's true position. Section 1 in "
        "brackets.", "",
        *_cell_table(ind_pos, ind), "",
        f"Setup: model settings {dict(SETTINGS)} (candidate 1 of benchmarks/gpu_ops_cross_device.py), single model "
        f"(no bag, no specialists), LightGBM one thread and seed 0; training rows sampled per fit "
        f"({args.train_rows} unless stated; numpy seed = split seed); target log(measured / max(compute, memory, "
        f"floor)), every GPU with its own probes (bmm at its GEMM probe rate). Sections 1-2 average split seeds "
        f"{', '.join(map(str, SPLIT_SEEDS))} (section 1: shape keys held out with numpy seed 100 + split seed). "
        f"Scored rows: every measured row except the {int((~scored).sum())} GEMM-probe and family-probe rows, as in "
        "gpu_ops_cross_device. Section 3 trains "
        "both arms with the same lightgbm.train call and the model's settings (CrossDeviceModel takes its FEATURES "
        f"only); the oracle features are NaN outside {', '.join(KERNEL_OPS)}; 'tile and grid only' drops the "
        "algorithm and the kernel count. Repeatability: each repeated row against the mean of the other rows with "
        "its (device, op, shape). Section 5: file position = index of the row in its NeuSight CSV / (rows - 1), "
        "rows matched to load_ops by latency; the A100's conv rows are their own file (A100 80GB). Data: "
        + CITATION,
    ]
    note("done")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fit_arguments(ap, seed=False)
    ap.add_argument("--full-estimators", type=int, default=1000,
                    help="rounds of the section-1 fit on every training row")
    ap.add_argument("--no-full", action="store_true", help="skip the section-1 fit on every training row")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    write_doc("GPU operators: ceilings of the cross-device residual (NeuSight data)",
              "taskset -c 0 python -m benchmarks.gpu_ops_ceiling", argv, run(args), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
