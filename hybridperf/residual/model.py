"""The learned residual: LightGBM corrections on top of the roofline.

Structure (all in log space, target ``log(measured / roofline)``):

1. **Kernel model** ``f`` (optional; where per-kernel ground truth exists). Trained
   on kernel rows (:data:`hybridperf.residual.features.KERNEL_FEATURES`) whose target is
   ``log(measured / roofline)`` of the kernel's *unit*: the onnxruntime profiler's
   node times joined to TVM's fused kernels through the ONNX source graph
   (:func:`hybridperf.residual.features.kernel_unit_times`; usually one kernel, one node).
   Tables built before per-node joins fall back to the kernel's family group in
   its model. Rows are weighted by the kernel's share of its model's roofline
   time. A kernel's corrected time is ``roofline_k * exp(f(x_k))``.
2. **Model model** ``g``: whole-model log ratio left after the kernel model,
   trained on :data:`hybridperf.residual.features.MODEL_FEATURES` (kernel-model terms
   out-of-fold, so ``g`` sees honest errors).
3. **Per-model overhead** ``o`` (seconds, learned): a fixed cost per inference
   (session run, input binding) picked by grouped cross-validation from a grid.

``latency = exp(g(x)) * sum_k roofline_k * exp(f(x_k)) + o``

Kernels containing an op family never seen in training keep their roofline
time and are flagged ``calibrated=False``.

Few-shot adaptation (:meth:`ResidualModel.adapt`) fits a per-device offset
(or offset + slope over log roofline time, chosen by leave-one-out on the K
samples) in log space on top of the base model.

Persistence: LightGBM text files (``Booster.save_model``) plus a JSON sidecar;
never pickle.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from hybridperf.data import HOST_MODEL_DIR, HOSTS_DIR, USER_MODELS
from hybridperf.errors import InputError, NotFittedError, error_line
from hybridperf.estimate.pricing import BELOW_TRAINING_SCALE, OUTSIDE_TERMS, UNTRAINED_DILATION, UNTRAINED_FAMILIES
from hybridperf.residual.sheet import SHEET_KEY, qualified, sheet_figures
from hybridperf.residual.sidecar import (DIGESTS_KEY, FIGURES_KEY, check_figures, figure, figures_digest,
                                         is_newer_version, number, read_booster, read_sidecar, recorded_digests,
                                         shown_version, write_booster, write_sidecar)
from hybridperf.residual.features import (
    FEATURES_VERSION,
    GROUPS,
    KERNEL_FEATURES_VERSION,
    KERNEL_FEATURES,
    MODEL_FEATURES,
    featurize,
)

SCHEMA_VERSION = 2
MODEL_FILE = "residual.txt"
KERNEL_FILE = "residual_kernel.txt"
SIDECAR_FILE = "residual.json"
_OVERHEAD_GRID_S = (0.0, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4)
_LOG_ROOF = MODEL_FEATURES.index("log_roofline_s")
_K_LOG_ROOF = KERNEL_FEATURES.index("log_roofline_s")
_N_GROUPS = sum(1 for n in KERNEL_FEATURES if n.startswith("group_"))
_K_DILATION = KERNEL_FEATURES.index("conv_dilation")
_K_VALID_TAPS = KERNEL_FEATURES.index("conv_valid_tap_fraction")
#: the sidecar key of :attr:`ResidualModel.conv_dilation_envelope_`
ENVELOPE_KEY = "conv_dilation_envelope"


def dilation_envelope(kernel_X: np.ndarray) -> tuple[tuple[float, float], ...]:
    """The (dilation, valid-tap share) points of the kernel rows ``kernel_X`` (:data:`KERNEL_FEATURES` first) with a
    convolution dilated above 1, less those another point dominates (as dilated and as full): what a learned model
    saw of dilated convolutions (plan (21) of CHANGELOG 2026-12-07)."""
    X = np.asarray(kernel_X, float)
    if X.ndim != 2 or not len(X):
        return ()
    pts = {(float(d), float(f)) for d, f in zip(X[:, _K_DILATION], X[:, _K_VALID_TAPS]) if d > 1}
    return tuple(sorted(p for p in pts if not any(q != p and q[0] >= p[0] and q[1] >= p[1] for q in pts)))


def inside_envelope(kernel_X: np.ndarray, envelope: Sequence[Sequence[float]] | None) -> np.ndarray:
    """Per kernel row: False for a convolution dilated above 1 that no point of ``envelope`` covers (a training row
    at least as dilated whose taps read at least as much of the input), True otherwise; all True where the model
    recorded no envelope (``None``: saved before 2026-12-07)."""
    X = np.atleast_2d(np.asarray(kernel_X, float))
    out = np.ones(len(X), bool)
    if envelope is None or not len(X):
        return out
    pts = np.asarray(envelope, float).reshape(-1, 2)
    eps = 1e-9
    for i, (d, f) in enumerate(zip(X[:, _K_DILATION], X[:, _K_VALID_TAPS])):
        if d > 1:
            out[i] = bool(np.any((pts[:, 0] >= d - eps) & (pts[:, 1] >= f - eps)))
    return out
#: context columns appended to every kernel row by :func:`kernel_context` (derived from the kernel rows of its model)
CONTEXT_FEATURES: tuple[str, ...] = ("log_group_roofline_s", "log_group_kernels", "group_time_share", "log_model_roofline_s")
KERNEL_INPUTS: tuple[str, ...] = (*KERNEL_FEATURES, *CONTEXT_FEATURES)


#: Settings of the stored device models (``hybridperf calibrate``), chosen by leave-family-out cross-validation
#: on calibration/host-epyc-1c (186 configurations, 28 families; benchmarks/results/accuracy_cpu.md): a kernel
#: model with context features, regularised (few rounds, large leaves), and a constant model-level scale.
#: Variants tried there with group-level kernel targets (held-out MAPE): default settings (300 rounds + model
#: booster) 12.3 %, these 9.6 %, without context features 9.6-10.2 %, measured-time kernel weights 9.7-10.9 %.
#: With per-kernel targets (kernel features v2): these 9.1 %, no context 9.1 %, 600 rounds x 15 leaves 9.1 %,
#: 300 rounds x min leaf 20 9.6 %, a 50-round model booster 10.4 %, measured-time weights 11.1 %. Sharing
#: renamed fused nodes by group (kernel features v3): 8.7 % (test-retest run 2: 12.0 %); also charging layout
#: reorders to conv kernels: 8.9 % (run 2: 11.9 %), no clear gain, not kept.
CALIBRATION_PARAMS: dict[str, Any] = {"n_estimators": 150, "min_data_in_leaf": 40, "model_estimators": 1,
                                      "context": True, "measured_weights": False}

#: The measured column (``measurements.csv``) that labels every CPU model: the packaged cross-host model, the
#: per-device CPU models (``hybridperf calibrate --data``) and ``hybridperf calibrate --measure``. The fastest
#: timed run (old one-pass protocol: the minimum over its timed runs; interleaved rounds: the minimum over
#: rounds of each round's fastest run), because it reproduces better than the median on every host measured
#: twice (test-retest MAPE, fastest vs median, when it was chosen: Zen 3 15.6 vs 18.1 %, Zen 4 r2 2.5 vs 4.2 %,
#: Zen 4 r3 3.1 vs 5.9 %; ``benchmarks/results/cpu_cross_host.md``). Fixed on 2026-12-02 before any model was
#: scored with it.
CPU_TARGET = "latency_min_s"
#: the label of a model whose sidecar does not record one (written before labels were recorded): the median
LEGACY_LABEL = "latency_s"
#: what a label means, in words (the ``describe`` line of a model and of the predictions it calibrates)
LABEL_WORDS: dict[str, str] = {"latency_min_s": "fastest timed run", "latency_s": "median timed run",
                               "measured_latency_s": "the training table's measured latency"}


def user_model_dir() -> Path:
    """Where ``hybridperf calibrate`` stores models by default: ``models/`` of the user data directory
    (``$HYBRIDPERF_HOME``, else ``$XDG_DATA_HOME/hybridperf``, else ``~/.local/share/hybridperf``)."""
    from hybridperf.data import user_data_dir

    return user_data_dir() / USER_MODELS


def model_search_path() -> tuple[Path, ...]:
    """Directories holding ``<device id>/`` model directories, searched in order: the user's models
    (:func:`user_model_dir`) before the ones shipped in the package (``hybridperf/data/models/``); the packaged ones
    alone where there is no user data directory (no home directory: nothing can have been calibrated)."""
    from hybridperf.data import packaged_dir

    try:
        return (user_model_dir(), packaged_dir("models"))
    except InputError:
        return (packaged_dir("models"),)


@dataclass(frozen=True)
class KernelTable:
    """Per-kernel training rows.

    Attributes
    ----------
    X : (n, len(KERNEL_FEATURES)) array
    y : (n,) array, log(measured group time / roofline group time)
    row : (n,) int array, index of the kernel's model in the model-level ``X``
    families : op families of each kernel (for the unseen-family rule), optional
    """

    X: np.ndarray
    y: np.ndarray
    row: np.ndarray
    families: Sequence[Iterable[str]] | None = None


def mape(pred: np.ndarray, true: np.ndarray) -> float:
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    return float(np.mean(np.abs(pred - true) / true) * 100)


#: the columns of a features row (and a kernel row) priced outside the learned model
#: (:data:`~hybridperf.estimate.pricing.OUTSIDE_TERMS`: the subnormal assists, the extra time of transposes that move
#: the innermost axis and of the element-wise math onnxruntime evaluates one element at a time, what depthwise 1-D
#: convolutions priced at probed figures add), taken off the label by :func:`load_table` and added back after the
#: learned figure
OUTSIDE_COLUMNS = tuple(OUTSIDE_TERMS)


def outside_s(row: Mapping[str, Any]) -> float:
    """The time of ``row`` priced outside the learned model (:data:`OUTSIDE_COLUMNS`; 0 where none)."""
    return sum(float(row.get(c) or 0.0) for c in OUTSIDE_COLUMNS)


def assist_s(rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The time priced outside the learned model for each row of a :func:`load_table` table (:func:`outside_s`: the
    subnormal assists and the innermost-axis transposes, taken off its label; 0 where none was priced): what a figure
    compared with the measured time adds back."""
    return np.array([outside_s(r) for r in rows])


#: the share of a figure that kernels of op families the model was never trained on (priced at roofline) may carry
#: before the figure is marked unverified
UNTRAINED_SHARE_UNVERIFIED = 0.5


def untrained_share_note(prediction: Any, kernel_index: Sequence[int], roof_s: np.ndarray, calibrated: np.ndarray,
                         total_s: float, outside: np.ndarray | None = None) -> str:
    """Why a learned CPU figure is unverified when most of it is kernels of op families the model never saw (priced
    at their roofline), else "".

    Until 2026-12-05 such a figure only said "N kernel(s) of untrained op families at roofline": a static int8
    ResNet-18 on host-epyc-zen4-1c read 10.2 ms, every kernel at the int8 roofline, against about 64 ms measured
    (onnxruntime's int8 kernels run far below the sheet's MatMulInteger peak; the models were trained on float32
    measurements only), and ``check`` passed it unmarked.

    Parameters
    ----------
    prediction : Prediction
        The prediction priced (its kernels' precisions name int8 where that is what went untrained).
    kernel_index, roof_s, calibrated
        Per featurized kernel: its position in ``prediction.kernels``, its roofline time (s), whether the model
        covers its op family.
    total_s : float
        The figure (s).
    outside : array of bool, optional
        Per featurized kernel: a dilated convolution outside the model's training rows (:func:`inside_envelope`),
        among those not calibrated.
    """
    untrained = ~np.asarray(calibrated, bool)
    share = float(np.asarray(roof_s)[untrained].sum()) / total_s if total_s > 0 else 0.0
    if not untrained.any() or share <= UNTRAINED_SHARE_UNVERIFIED:
        return ""
    precisions = [str(prediction.kernels[i].kernel.precision) for i, u in zip(kernel_index, untrained) if u]
    int8 = sum(1 for p in precisions if "int8" in p)  # int8, uint8
    what = "" if not int8 else ("; they are int8 kernels" if int8 == len(precisions) else
                                f"; {int8} of them are int8 kernels")
    n_out = int(np.asarray(outside, bool).sum()) if outside is not None else 0
    n_fam = int(untrained.sum()) - n_out
    kinds = ([f"{n_fam} kernel(s) of {UNTRAINED_FAMILIES}"] if n_fam else []) + (
        [f"{n_out} {UNTRAINED_DILATION} (its dilation against its share of taps reading the input)"] if n_out else [])
    return f"{share:.0%} of it is {' and '.join(kinds)}, priced at their roofline{what}"


class ResidualModel:
    """LightGBM residual over the roofline, scikit-learn style.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_data_in_leaf, lambda_l2 : LightGBM settings of both boosters
    model_estimators : int, optional
        Boosting rounds of the model-level booster ``g`` (default ``n_estimators``); 1 makes ``g`` a
        constant scale, i.e. whole-model predictions are the calibrated kernel sum plus the overhead.
    context : bool
        Append :data:`CONTEXT_FEATURES` to the kernel rows (see :func:`kernel_context`).
    measured_weights : bool
        Weight kernel rows by their share of the model's measured time (default) instead of its roofline time.
    linear_tree : bool
        Piecewise-linear leaves (extrapolate better to unseen model sizes).
    overhead_grid_s : tuple of float
        Candidate per-inference overheads; chosen by grouped CV when ``groups`` are given to ``fit``.
    seed : int
        Seed of every random choice (LightGBM ``seed``, ``deterministic=True``, one thread).
    label : str, optional
        The measured column the latency labels came from (:data:`CPU_TARGET` for CPU models; see
        :func:`load_table`); stored with the sidecar's ``params``, where a sidecar without it (written
        before labels were recorded) loads as :data:`LEGACY_LABEL`. None: not recorded.
    """

    #: the figures of the sheet this model was trained or adapted with (:meth:`figures_read`, set by
    #: ``hybridperf calibrate``, stored in the sidecar); None: not recorded. A prediction on a sheet whose figures
    #: differ is marked unverified, naming them (:func:`hybridperf.residual.sheet.qualified`)
    sheet_: dict[str, Any] | None = None
    #: loaded from a sidecar without :attr:`sheet_` (stored before 2026-12-03): its predictions say "sheet not
    #: recorded"; False for a model fitted in memory, or packaged (made with the packaged sheet of its id)
    sheet_unrecorded_: bool = False
    #: the directory of the user data directory this model was loaded from (``models/<id>/``, ``hosts/<cpu key>/
    #: model/``), as given to :meth:`load`: its predictions' calibration note names it
    #: (:func:`stored_note`); None for a packaged model, one stored elsewhere or fitted
    stored_in_: str | None = None
    #: the device :attr:`stored_in_` holds a model for (``host``, ``ID`` of ``models/ID/``), as :meth:`load` found it
    #: (:func:`stored_for`): its note names that device's ``--reset`` without looking at the place again
    stored_device_: str | None = None

    def __init__(self, n_estimators: int = 300, learning_rate: float = 0.05, num_leaves: int = 7,
                 min_data_in_leaf: int = 5, lambda_l2: float = 1.0, linear_tree: bool = False,
                 overhead_grid_s: tuple[float, ...] = _OVERHEAD_GRID_S, seed: int = 0, device: str | None = None,
                 model_estimators: int | None = None, context: bool = True, measured_weights: bool = True,
                 label: str | None = None):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.lambda_l2 = lambda_l2
        self.linear_tree = linear_tree
        self.overhead_grid_s = overhead_grid_s
        self.seed = seed
        self.device = device
        self.model_estimators = model_estimators
        self.context = context
        self.measured_weights = measured_weights
        self.label = label

    # ------------------------------------------------------------------ LightGBM
    def _params(self) -> dict[str, Any]:
        return {
            "objective": "regression", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf, "min_data_in_bin": 1, "lambda_l2": self.lambda_l2,
            "feature_fraction": 0.9, "bagging_fraction": 0.9, "bagging_freq": 1, "linear_tree": self.linear_tree,
            "seed": self.seed, "deterministic": True, "num_threads": 1, "verbose": -1, "force_col_wise": True,
        }

    def _train(self, X, y, w=None, names=MODEL_FEATURES):
        import lightgbm as lgb

        ds = lgb.Dataset(np.asarray(X, float), np.asarray(y, float), weight=w, feature_name=list(names),
                         free_raw_data=False, params={"min_data_in_bin": 1, "verbose": -1})
        rounds = self.n_estimators
        if names is MODEL_FEATURES and self.model_estimators is not None:
            rounds = max(1, self.model_estimators)
        return lgb.train(self._params(), ds, num_boost_round=rounds)

    def _kernel_names(self) -> tuple[str, ...]:
        return KERNEL_INPUTS if self.context else KERNEL_FEATURES

    def _kernel_inputs(self, Xk, rows) -> np.ndarray:
        return kernel_context(Xk, rows) if self.context else np.asarray(Xk, float)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, kernels: KernelTable | None = None, groups: Sequence[str] | None = None,
            families: Sequence[Iterable[str]] | None = None) -> ResidualModel:
        """Fit on model rows ``X`` with targets ``y = log(measured / roofline)``.

        Parameters
        ----------
        kernels : KernelTable, optional
            Per-kernel rows for the kernel model.
        groups : sequence of str, optional
            Architecture family of each model row: the overhead and the
            out-of-fold kernel terms use folds that never split a family.
        families : sequence of iterables of str, optional
            Op families present in each model (the unseen-family rule).
        """
        X = np.asarray(X, float)
        y = np.asarray(y, float)
        if X.ndim != 2 or X.shape[1] != len(MODEL_FEATURES):
            raise ValueError(f"X must have {len(MODEL_FEATURES)} columns (MODEL_FEATURES v{FEATURES_VERSION}), got {X.shape}")
        if len(y) != len(X) or len(X) < 2:
            raise ValueError("X and y must have the same length (at least 2 rows)")
        seen: set[str] = set()
        for fam in families or ():
            seen.update(fam)
        if kernels is not None and kernels.families is not None:
            for fam in kernels.families:
                seen.update(fam)
        self.seen_families_ = frozenset(seen)
        # what it saw of dilated convolutions (None without kernel rows: nothing known, nothing guarded)
        self.conv_dilation_envelope_ = dilation_envelope(kernels.X) if kernels is not None and len(kernels.row) else None
        folds = _folds(groups if groups is not None else [str(i % 5) for i in range(len(X))])

        # kernel model, and its out-of-fold per-model log ratio K
        self.kernel_booster_ = None
        k_oof = np.zeros(len(X))
        if kernels is not None and len(kernels.y) >= 10:
            kw = kernel_weights(kernels, len(X), measured=self.measured_weights)
            kx = self._kernel_inputs(kernels.X, kernels.row)
            self.kernel_booster_ = self._train(kx, kernels.y, kw, self._kernel_names())
            for test in folds:
                tr = ~np.isin(kernels.row, test)
                if tr.sum() < 10:
                    continue
                b = self._train(kx[tr], kernels.y[tr], kw[tr], self._kernel_names())
                te = np.isin(kernels.row, test)
                k_oof[test] = _kernel_log_ratio(b.predict(kx[te]), kernels.X[te], kernels.row[te], test)

        # per-model overhead by grouped CV, then the model booster on what is left
        roof = np.exp(X[:, _LOG_ROOF])
        measured = roof * np.exp(y)
        best, scores = 0.0, {}
        for o in self.overhead_grid_s:
            if len(folds) < 2:
                break
            pred = np.empty(len(X))
            for test in folds:
                tr = np.setdiff1d(np.arange(len(X)), test)
                b = self._train(X[tr], _model_target(measured[tr], roof[tr], k_oof[tr], o))
                pred[test] = roof[test] * np.exp(k_oof[test] + b.predict(X[test])) + o
            scores[o] = mape(pred, measured)
        if scores:
            best = min(scores, key=scores.get)
        self.overhead_s_ = float(best)
        self.booster_ = self._train(X, _model_target(measured, roof, k_oof, self.overhead_s_))
        self.n_train_ = int(len(X))
        self.n_kernel_train_ = int(len(kernels.y)) if kernels is not None else 0
        train_pred = np.exp(self.predict(X, kernels))
        self.metrics_ = {
            "train_mape_pct": mape(train_pred, np.exp(y)),
            "cv_mape_pct_by_overhead": {f"{k:g}": v for k, v in scores.items()},
            "roofline_mape_pct": mape(np.ones(len(y)), np.exp(y)),
        }
        self.adaptation_ = None
        self.trained_on_ = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return self

    # ------------------------------------------------------------------ predict
    def _check(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError("this ResidualModel is not fitted; call fit(X, y) or load it with ResidualModel.load(dir)")

    def predict(self, X, kernels: KernelTable | None = None) -> np.ndarray:
        """Predicted ``log(latency / roofline)`` of each model row."""
        self._check()
        X = np.atleast_2d(np.asarray(X, float))
        k = np.zeros(len(X))
        if kernels is not None and self.kernel_booster_ is not None and len(kernels.row):
            kx = self._kernel_inputs(kernels.X, kernels.row)
            k = _kernel_log_ratio(self.kernel_booster_.predict(kx), kernels.X, kernels.row, np.arange(len(X)))
        roof = np.exp(X[:, _LOG_ROOF])
        a = getattr(self, "adaptation_", None)
        if a and a.get("group_scales") and kernels is not None and self.kernel_booster_ is not None:
            lat = self._group_times(X, kernels) @ np.asarray(a["group_scales"]) + self.overhead_s_
            return np.log(np.maximum(lat, 1e-12) / roof)
        lat = roof * np.exp(k + self.booster_.predict(X)) + self.overhead_s_
        out = np.log(lat / roof)
        return self._untrained_at_roofline(X, kernels, out + self._adaptation(X))

    def _untrained_at_roofline(self, X: np.ndarray, kernels: KernelTable | None, out: np.ndarray) -> np.ndarray:
        """``out`` (log ratios of the model rows ``X``) with each model that has kernel rows of op families this model
        was never trained on (``kernels.families`` against :attr:`seen_families_`), or of dilated convolutions outside
        its training rows (:func:`inside_envelope`), priced as :meth:`apply` prices it:
        ``(calibrated kernels x exp(g) + overhead) x exp(adaptation) + untrained kernels at roofline``, or its
        roofline where every kernel is untrained. Until 2026-12-07 a table (``calibrate``'s held-out columns) priced
        them with the learned correction, so ``calibrate``'s "zero-shot" column of an unrolled recurrent model was not
        ``predict``'s figure (Parakeet's decoder over 128 tokens: 43.1 against 31.6 ms, measured 29.6)."""
        if kernels is None or not len(kernels.row):
            return out
        unseen = ~inside_envelope(kernels.X, getattr(self, "conv_dilation_envelope_", None))
        if kernels.families is not None and self.seen_families_:
            unseen |= np.array([not frozenset(f) <= self.seen_families_ for f in kernels.families], bool)
        if not unseen.any():
            return out
        roof_k = np.exp(kernels.X[:, _K_LOG_ROOF])
        f = (self.kernel_booster_.predict(self._kernel_inputs(kernels.X, kernels.row))
             if self.kernel_booster_ is not None else np.zeros(len(roof_k)))
        roof = np.exp(X[:, _LOG_ROOF])
        g = self.booster_.predict(X)
        adj = self._adaptation(X)
        out = out.copy()
        for m in np.unique(kernels.row[unseen]):
            sel = kernels.row == m
            cal, unc = sel & ~unseen, sel & unseen
            if not cal.any():
                lat = float(roof_k[unc].sum())
            else:
                s_cal = float((roof_k[cal] * np.exp(f[cal])).sum())
                lat = (s_cal * math.exp(g[m]) + self.overhead_s_) * math.exp(adj[m]) + float(roof_k[unc].sum())
            out[m] = math.log(lat / roof[m])
        return out

    def _adapts_kernels(self, kernels: KernelTable | None, n_models: int) -> bool:
        """Whether an adaptation to ``n_models`` models can use their kernel rows: this model has a kernel booster,
        ``kernels`` holds rows, and there are 2 or more models (one has no leave-one-out to choose by)."""
        return kernels is not None and self.kernel_booster_ is not None and len(kernels.row) > 0 and n_models >= 2

    def _group_times(self, X: np.ndarray, kernels: KernelTable) -> np.ndarray:
        """(n models, n groups): the base model's predicted seconds per kernel group, overhead excluded."""
        f = self.kernel_booster_.predict(self._kernel_inputs(kernels.X, kernels.row))
        t = np.exp(kernels.X[:, _K_LOG_ROOF] + f)
        out = np.zeros((len(X), _N_GROUPS))
        np.add.at(out, (kernels.row, np.argmax(kernels.X[:, :_N_GROUPS], axis=1)), t)
        return out * np.exp(self.booster_.predict(X))[:, None]

    def _adaptation(self, X: np.ndarray) -> np.ndarray:
        a = getattr(self, "adaptation_", None)
        if not a:
            return np.zeros(len(X))
        return a["offset"] + a["slope"] * (X[:, _LOG_ROOF] - a["center"])

    # ------------------------------------------------------------------ few-shot
    def adapt(self, X_new, y_new, device: str | None = None, ridge: float = 1.0,
              kernels: KernelTable | None = None, label: str | None = None) -> ResidualModel:
        """Few-shot adaptation to a new device from K whole-model measurements.

        Fits ``y_new - predict(X_new)`` with either an offset or an offset +
        slope over centred log roofline time (ridge ``ridge`` on both); with
        ``kernels`` (the kernel rows of ``X_new``) also one scale per kernel group
        (``measured ~ sum_g scale_g * base group time + overhead``, least squares in
        relative error, ridge ``0.05 * ridge`` towards 1). The candidate with the lowest
        leave-one-out error is kept. Group scales need kernel rows at prediction
        time; without them the offset fit is used. Returns a new model (it shares this one's
        boosters, which nothing modifies); this one is unchanged. ``label``: the measured column
        ``y_new`` was taken from (e.g. :data:`CPU_TARGET`), stored as the new model's :attr:`label`;
        None keeps this model's.
        """
        self._check()
        X = np.atleast_2d(np.asarray(X_new, float))
        y = np.asarray(y_new, float)
        new = copy.copy(self)
        new.adaptation_ = None  # adapt the base model, not an earlier adaptation of it
        new.stored_in_ = None  # a new model: not the one stored
        r = y - new.predict(X, kernels)
        z = X[:, _LOG_ROOF]
        c = float(z.mean())

        def fit(idx, slope):
            A = np.column_stack([np.ones(len(idx)), (z[idx] - c) if slope else np.zeros(len(idx))])
            coef = np.linalg.solve(A.T @ A + ridge * np.diag([0.1, 1.0]), A.T @ r[idx])
            return coef

        loo = {}
        for slope in (False, True):
            errs = []
            for i in range(len(X)):
                idx = np.delete(np.arange(len(X)), i)
                if len(idx) == 0:
                    errs.append(abs(r[i]))
                    continue
                a, b = fit(idx, slope)
                errs.append(abs(r[i] - a - b * (z[i] - c)))
            loo[slope] = float(np.mean(errs))
        slope = loo[True] < loo[False]
        a, b = fit(np.arange(len(X)), slope)
        loo_out = {"offset+slope" if s_ else "offset": v for s_, v in loo.items()}
        scales = None
        if self._adapts_kernels(kernels, len(X)):
            # per-group scales s: measured ~ sum_g s_g T_g + overhead, least squares in relative error, ridge to 1
            # (one scale per group from one model has no leave-one-out to choose it by: never from fewer than 2)
            T = self._group_times(X, kernels)
            meas = np.exp(y + z)
            A, rhs = T / meas[:, None], 1.0 - self.overhead_s_ / meas

            def solve(idx):
                lam = 0.05 * ridge * np.eye(T.shape[1])
                sol = np.linalg.solve(A[idx].T @ A[idx] + lam, A[idx].T @ rhs[idx] + lam @ np.ones(T.shape[1]))
                return np.clip(sol, 0.05, 20.0)

            errs = []
            for i in range(len(X)):
                sc = solve(np.delete(np.arange(len(X)), i))
                errs.append(abs(math.log(max(float(T[i] @ sc) + self.overhead_s_, 1e-12) / meas[i])))
            loo_out["group_scales"] = float(np.mean(errs))
            if loo_out["group_scales"] < min(loo.values()):
                scales = solve(np.arange(len(X)))
        method = "group_scales" if scales is not None else ("offset+slope" if slope else "offset")
        new.adaptation_ = {"method": method, "offset": float(a), "slope": float(b),
                            "center": c, "k": int(len(X)), "min_latency_s": min_latency_s(X, y),
                            "loo_abs_log_error": loo_out,
                            "group_scales": [float(v) for v in scales] if scales is not None else None,
                            "base_device": self.device, "device": device}
        if device:
            new.device = device
        if label is not None:
            new.label = label
        return new

    # ------------------------------------------------------------------ Prediction API
    @property
    def version(self) -> str:
        return f"s{SCHEMA_VERSION}/f{FEATURES_VERSION}.k{KERNEL_FEATURES_VERSION}"

    def describe(self) -> str:
        """One line: what the model is, what it was trained and adapted on, then what its latency means (its
        label, e.g. ``latency = fastest timed run``); the calibration note of the predictions it makes."""
        self._check()
        return self._summary() + (f", latency = {LABEL_WORDS.get(self.label, self.label)}" if self.label else "")

    def summary(self, spec: Any = None) -> str:
        """:meth:`describe`, and where the user's own model is stored where it was loaded from the user data directory
        (:attr:`stored_in_`, :func:`~stored_note`): the calibration note of its predictions,
        and how ``devices`` says what prices a sheet (``spec``, as :meth:`ZeroShotGpu.summary` takes it: unused)."""
        if self.stored_in_ is None:
            return self.describe()
        return self.describe() + stored_note(self.stored_in_, device=self.stored_device_)

    def _summary(self) -> str:
        """:meth:`describe` without the label."""
        date = (self.trained_on_ or "")[:10]
        s = f"lightgbm residual {self.version} trained on {self.n_train_} measurements ({date})"
        if self.adaptation_:
            s += f", few-shot adapted with {self.adaptation_['k']} measured models ({self._kept()})"
        return s

    def keeps_correction(self) -> bool:
        """Whether this model, where adapted (:meth:`adapt`), prices otherwise than its base model: False where the
        adaptation kept no correction (none beat the base model by leave-one-out); True for a model not adapted."""
        a = getattr(self, "adaptation_", None) or {}
        return a.get("method") != "none"

    def _kept(self) -> str:
        """What the few-shot adaptation kept, in :meth:`_summary`'s words."""
        method = self.adaptation_["method"]
        return "no correction kept: none beat the base model by leave-one-out" if method == "none" else method

    def apply(self, prediction: Any) -> Any:
        """A new :class:`~hybridperf.estimate.pricing.Prediction` with calibrated kernel and total latencies."""
        self._check()
        f = featurize(prediction)
        cal = np.array([fam <= self.seen_families_ if self.seen_families_ else True for fam in f.kernel_families], bool)
        envelope = getattr(self, "conv_dilation_envelope_", None)
        outside = ~inside_envelope(f.kernels, envelope) if len(cal) else np.zeros(0, bool)
        cal &= ~outside
        roof = f.kernel_roofline_s
        if len(roof) == 0 or not cal.any():  # the model changes nothing: what its sheet was does not matter
            out = replace(prediction, calibration=self.summary() + "; no kernel of a trained op family: roofline only",
                          calibration_stored_in=self.stored_in_)
            why = untrained_share_note(prediction, f.kernel_index, roof, cal, out.latency_s, outside)
            return out.unverified(why) if why else out
        if self.kernel_booster_ is not None:
            r = np.exp(self.kernel_booster_.predict(self._kernel_inputs(f.kernels, np.zeros(len(roof), int))))
        else:
            r = np.ones(len(roof))
        r = np.where(cal, r, 1.0)
        s_cal = float((roof * r)[cal].sum())
        g = float(self.booster_.predict(f.model[None, :])[0])
        adj = float(self._adaptation(f.model[None, :])[0])
        scale = math.exp(g + adj)
        a = getattr(self, "adaptation_", None)
        gs = None
        if a and a.get("group_scales") and self.kernel_booster_ is not None:
            gs = np.asarray(a["group_scales"])[[GROUPS.index(k) for k in f.kernel_groups]]
            scale = math.exp(g)
        new_k = list(prediction.kernels)
        for j, i in enumerate(f.kernel_index):
            kp = new_k[i]
            if cal[j]:
                lat = roof[j] * r[j] * scale * (gs[j] if gs is not None else 1.0)
                new_k[i] = replace(kp, latency_s=float(lat), calibrated=True)
        if gs is not None:  # same composition as predict(): sum_g scale_g * group time * exp(g) + overhead
            kernels_s, overhead_s = float((roof * r * gs)[cal].sum()) * scale, self.overhead_s_
            total = kernels_s + overhead_s + float(roof[~cal].sum())
        else:  # same composition as predict(): (kernels * exp(g) + overhead) * exp(adaptation)
            total = (s_cal * math.exp(g) + self.overhead_s_) * math.exp(adj) + float(roof[~cal].sum())
            kernels_s, overhead_s = s_cal * math.exp(g + adj), self.overhead_s_ * math.exp(adj)
        note = self.summary()
        n_unc, n_out = int((~cal).sum()), int(outside.sum())
        if n_unc - n_out:
            note += f"; {n_unc - n_out} kernel(s) of untrained op families at roofline (uncalibrated)"
        if n_out:
            note += f"; {n_out} {UNTRAINED_DILATION} at roofline (uncalibrated)"
        out = replace(prediction, kernels=tuple(new_k), latency_s=total, calibration=note,
                      calibration_stored_in=self.stored_in_)
        out = qualified(out, self.sheet_, self.sheet_unrecorded_, self.figures_read(prediction.spec))
        why = self._below_scale(total, kernels_s, overhead_s)
        if why:  # e.g. a 2x64 MatMul: 110 us predicted, 5.9 us measured (2026-12-03)
            out = out.unverified(why)
        why = untrained_share_note(prediction, f.kernel_index, roof, cal, total, outside)
        if why:
            out = out.unverified(why, first=False)
        return out

    def _below_scale(self, total_s: float, kernels_s: float, overhead_s: float) -> str:
        """Why a figure of ``total_s`` (``kernels_s`` of calibrated kernels, ``overhead_s`` of fitted constant
        overhead, both as they enter the figure: scaled by an adaptation) is below the scale this model was checked
        at; "" when it is not. The overhead is most of such a figure; an adaptation fitted on measured models
        (:meth:`adapt`, ``min_latency_s``) checked it down to the fastest of them: a figure at least that is not
        below its scale. (Until 2026-12-04 the unscaled overhead was judged against the scaled kernels, and a model
        just adapted on models of 14-60 us still warned on them.) The overhead is judged against all the rest of the
        figure, kernels of untrained families at roofline included: until 2026-12-05 only the calibrated ones counted,
        so a quantized DistilBERT (its int8 kernels untrained, 454 ms) read "overhead (100 us) is most of this figure"."""
        kernels_s = max(kernels_s, total_s - overhead_s)
        if overhead_s <= kernels_s:
            return ""
        a = getattr(self, "adaptation_", None) or {}
        fastest = a.get("min_latency_s")  # absent in sidecars written before 2026-12-04
        if fastest is not None and total_s >= fastest:
            return ""
        why = (f"the model's fitted constant overhead ({overhead_s * 1e6:.0f} us) is most of this figure "
               f"(its kernels {kernels_s * 1e6:.1f} us): {BELOW_TRAINING_SCALE}")
        if fastest is not None:
            why += f" and of the {a.get('k')} it was adapted on (the fastest {fastest * 1e6:.1f} us)"
        return why

    def record_sheet(self, spec: Any) -> ResidualModel:
        """Record ``spec`` as the sheet this model was trained or adapted with (:attr:`sheet_`, kept by :meth:`save`);
        returns this model."""
        self.sheet_, self.sheet_unrecorded_ = self.figures_read(spec), False
        return self

    def figures_read(self, spec: Any) -> dict[str, Any]:
        """The figures of ``spec`` this model's predictions read (:func:`~hybridperf.residual.sheet.sheet_figures`),
        as recorded in :attr:`sheet_` when it is stored."""
        return sheet_figures(spec)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``residual.txt`` (+ ``residual_kernel.txt``) and ``residual.json`` into ``directory``; the sidecar
        records each booster's sha256 (:data:`DIGESTS_KEY`), which :meth:`load` checks."""
        self._check()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        digests = {MODEL_FILE: write_booster(d / MODEL_FILE, self.booster_)}
        if self.kernel_booster_ is not None:
            digests[KERNEL_FILE] = write_booster(d / KERNEL_FILE, self.kernel_booster_)
        elif (d / KERNEL_FILE).exists():
            (d / KERNEL_FILE).unlink()
        meta = {
            "schema_version": SCHEMA_VERSION,
            "device": self.device,
            "features_version": FEATURES_VERSION,
            "kernel_features_version": KERNEL_FEATURES_VERSION if self.kernel_booster_ is not None else None,
            "model_features": list(MODEL_FEATURES),
            "kernel_features": list(self._kernel_names()),
            "model_file": MODEL_FILE,
            "kernel_file": KERNEL_FILE if self.kernel_booster_ is not None else None,
            "target": "log(measured latency / roofline latency)",
            "params": self.get_params(),
            "overhead_s": self.overhead_s_,
            "seen_families": sorted(self.seen_families_),
            ENVELOPE_KEY: (None if getattr(self, "conv_dilation_envelope_", None) is None
                           else [list(p) for p in self.conv_dilation_envelope_]),
            "n_train": self.n_train_,
            "n_kernel_train": self.n_kernel_train_,
            "metrics": self.metrics_,
            "adaptation": self.adaptation_,
            "trained_on": self.trained_on_,
            SHEET_KEY: self.sheet_,
            DIGESTS_KEY: digests,
            **self._sidecar_extra(),
        }
        meta[FIGURES_KEY] = figures_digest(self._priced(meta))
        write_sidecar(d / SIDECAR_FILE, meta)
        return d

    #: the sidecar keys that are words, not figures that price (:meth:`_priced`): what sidecars written before them
    #: lack and load without (the sheet, :data:`LABEL_WORDS`' label in ``params``), what describes the training, and
    #: the digests and versions written with the sidecar
    _WORDS = frozenset({SHEET_KEY, "metrics", "trained_on", "n_train", "n_kernel_train", "target", DIGESTS_KEY,
                        FIGURES_KEY, "lightgbm_version", "hybridperf_version"})

    @classmethod
    def _priced(cls, meta: dict[str, Any]) -> dict[str, Any]:
        """The figures of the sidecar ``meta`` that price, whose digest it records (:data:`FIGURES_KEY`): every key
        but its words (:data:`_WORDS`, and ``params``' label), a subclass's too (the cross-host ``cross_host``)."""
        out = {k: v for k, v in meta.items() if k not in cls._WORDS}
        if isinstance(out.get("params"), dict):
            out["params"] = {k: v for k, v in out["params"].items() if k != "label"}
        return out

    def _sidecar_extra(self) -> dict[str, Any]:
        """Sidecar keys a subclass adds (:class:`~hybridperf.residual.cross_host.CrossHostModel`)."""
        return {}

    def _read_sidecar_extra(self, meta: dict[str, Any], directory: Path) -> None:
        """Read back what :meth:`_sidecar_extra` wrote (on a fresh model inside :meth:`load`)."""

    @classmethod
    def load(cls, directory: str | Path) -> ResidualModel:
        """Load a model written by :meth:`save`.

        Raises
        ------
        InputError
            One line naming the file and the fix (the ``calibrate --reset`` that removes it, or calibrate again) where
            the model is not one this hybridperf reads: another schema or feature version (a newer one also says to
            upgrade), a file missing, cut short, emptied or edited (:func:`~hybridperf.residual.sidecar.read_booster`;
            a booster whose sha256 is not the one its sidecar records, :data:`DIGESTS_KEY`, or that it records none of
            where it records some), a sidecar of another device than the folder of the user data directory holding it
            is for. Until 2026-12-04 a booster cut short aborted the process (SIGABRT, SIGSEGV), a sidecar not JSON or
            not a file was exit 3, one naming another device (copied in) priced this one silently, and a booster with
            numbers edited in place (or missing from the sidecar's digests) was read as stored.
        """
        d = Path(directory)
        side = d / SIDECAR_FILE
        device, fix = stored_for(d)
        fix = f"; {fix}"
        meta = read_sidecar(d, MODEL_FILE, SIDECAR_FILE, f"no residual model in {d} (expected {MODEL_FILE} and "
                            f"{SIDECAR_FILE}){fix if holds_model(d) else '; run hybridperf calibrate'}", fix)
        schema, features = meta.get("schema_version"), meta.get("features_version")
        if schema != SCHEMA_VERSION or features != FEATURES_VERSION:
            raise _version_refusal(side, f"schema {shown_version(schema, SCHEMA_VERSION)} / features "
                                   f"{shown_version(features, FEATURES_VERSION)}",
                                   f"schema {SCHEMA_VERSION}, features {FEATURES_VERSION}",
                                   is_newer_version(schema, SCHEMA_VERSION)
                                   or is_newer_version(features, FEATURES_VERSION), fix[2:])
        kernel_file = meta.get("kernel_file")
        kernel_version = meta.get("kernel_features_version", "1")
        if kernel_file and kernel_version != KERNEL_FEATURES_VERSION:
            raise _version_refusal(side, f"kernel features {shown_version(kernel_version, KERNEL_FEATURES_VERSION)}",
                                   f"kernel features {KERNEL_FEATURES_VERSION}",
                                   is_newer_version(kernel_version, KERNEL_FEATURES_VERSION), fix[2:])
        if device is not None and meta.get("device") not in (None, device):
            raise InputError(f"{side} is a model of {meta.get('device')!r}, not of {device!r} whose folder holds it "
                             f"(copied from another device's?){fix}")
        try:
            # params of a sidecar written before labels were recorded lack "label": those models learnt the median
            m = cls(**{"label": LEGACY_LABEL, **_checked_params(meta["params"])})
            if kernel_file not in (None, KERNEL_FILE):
                raise ValueError(f"kernel_file {kernel_file!r}")
            if meta.get("model_features", list(MODEL_FEATURES)) != list(MODEL_FEATURES):
                raise ValueError("its model_features are not this hybridperf's")
            kernel_names = [str(n) for n in meta.get("kernel_features") or m._kernel_names()]  # the booster's, below
            # each figure that prices checked as a figure (until 2026-12-05 an overhead_s of NaN, -1 or true priced
            # NaN, a negative or a +1 s latency, and an adaptation or sheet of another type was exit 3)
            m.overhead_s_ = float(number(meta, "overhead_s", low=0.0))
            m.seen_families_ = frozenset(_strings(meta["seen_families"], "seen_families"))
            m.conv_dilation_envelope_ = _checked_envelope(meta.get(ENVELOPE_KEY))
            m.n_train_ = int(number(meta, "n_train", low=0, integer=True))
            m.n_kernel_train_ = int(number(meta, "n_kernel_train", low=0, integer=True, optional=True) or 0)
            # a map of digests without one of a booster read: refused (until 2026-12-04 that booster was read unverified)
            digests = recorded_digests(meta.get(DIGESTS_KEY), [MODEL_FILE, *([KERNEL_FILE] if kernel_file else [])])
            m.metrics_ = meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {}
            m.adaptation_ = _checked_adaptation(meta.get("adaptation"))
            m.trained_on_ = meta.get("trained_on") or ""
            if not isinstance(m.trained_on_, str):
                raise ValueError(f"its trained_on {m.trained_on_!r} is not a date")
            if not isinstance(meta.get(SHEET_KEY), (dict, type(None))):
                raise ValueError(f"its {SHEET_KEY} is a JSON {type(meta[SHEET_KEY]).__name__}, not an object")
            m.sheet_ = meta.get(SHEET_KEY)  # absent before 2026-12-03: predictions say "sheet not recorded"
            m.sheet_unrecorded_ = m.sheet_ is None and not _packaged(d)
            m.stored_in_ = str(d) if device is not None else None  # models/<id>/, hosts/<cpu key>/model/ of the home
            m.stored_device_ = device
            m._read_sidecar_extra(meta, d)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            what = f"no {exc}" if isinstance(exc, KeyError) else error_line(exc, 120)
            raise InputError(f"{side} is not a sidecar this hybridperf wrote ({what}){fix}") from exc
        m.booster_ = read_booster(d / MODEL_FILE, MODEL_FEATURES, fix, digests[MODEL_FILE])
        m.kernel_booster_ = read_booster(d / KERNEL_FILE, kernel_names, fix, digests[KERNEL_FILE]) \
            if kernel_file else None
        # the kernel booster reads the context features where its params say: until 2026-12-05 a params' context
        # edited to false beside them was a LightGBMError at the first prediction (exit 3)
        has = kernel_names[-len(CONTEXT_FEATURES):] == list(CONTEXT_FEATURES)
        if kernel_file and has != m.context:
            raise InputError(f"{side} is not a sidecar this hybridperf wrote (its kernel booster reads "
                             f"{len(kernel_names)} features, {'with' if has else 'without'} the context features, and "
                             f"its params' context is {str(m.context).lower()}){fix}")
        check_figures(side, meta, cls._priced(meta), fix)
        return m

    def get_params(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators, "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf, "lambda_l2": self.lambda_l2, "linear_tree": self.linear_tree,
            "overhead_grid_s": list(self.overhead_grid_s), "seed": self.seed, "device": self.device,
            "model_estimators": self.model_estimators, "context": self.context,
            "measured_weights": self.measured_weights, "label": self.label,
        }


# --------------------------------------------------------------------------- helpers


def min_latency_s(X: np.ndarray, y: np.ndarray) -> float:
    """The fastest measured latency (seconds) of model rows ``X`` with labels ``y`` (``log(latency / roofline)``):
    recorded by an adaptation as ``min_latency_s`` (:meth:`ResidualModel._below_scale`)."""
    return float(np.exp(np.asarray(y, float) + np.atleast_2d(np.asarray(X, float))[:, _LOG_ROOF]).min())


def _folds(groups: Sequence[str], n: int = 5) -> list[np.ndarray]:
    """Up to ``n`` folds that never split a group (deterministic: groups sorted, dealt round-robin)."""
    g = np.asarray([str(x) for x in groups])
    uniq = sorted(set(g))
    if len(uniq) < 2:
        return []
    k = min(n, len(uniq))
    return [np.where(np.isin(g, uniq[i::k]))[0] for i in range(k)]


def kernel_context(Xk: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``Xk`` with :data:`CONTEXT_FEATURES` appended: the roofline time and kernel count of the kernel's
    group in its model, the group's share of the model's roofline time, and the model's roofline time.

    The measured ground truth is per group (onnxruntime's fusions differ from TVM's), so how much of a
    model a group is, and in how many kernels, is what a kernel's ratio depends on beyond its own shape.
    """
    Xk = np.asarray(Xk, float)
    rows = np.asarray(rows, int)
    if len(Xk) == 0:
        return np.zeros((0, len(KERNEL_INPUTS)))
    g = np.argmax(Xk[:, :_N_GROUPS], axis=1)
    roof = np.exp(Xk[:, _K_LOG_ROOF])
    key = rows * _N_GROUPS + g
    _, inv = np.unique(key, return_inverse=True)
    g_roof = np.bincount(inv, weights=roof)[inv]
    g_n = np.bincount(inv)[inv].astype(float)
    _, minv = np.unique(rows, return_inverse=True)
    m_roof = np.bincount(minv, weights=roof)[minv]
    eps = 1e-12
    ctx = np.column_stack([np.log(g_roof + eps), np.log(g_n), g_roof / np.maximum(m_roof, eps), np.log(m_roof + eps)])
    return np.hstack([Xk, ctx])


def kernel_weights(kt: KernelTable, n_models: int, measured: bool = True) -> np.ndarray:
    """Training weight of each kernel row: its share of its model's time.

    A log error ``e`` on a kernel moves its model's log latency by about share x ``e``, so measured shares
    weight the errors as the whole-model target sees them. Used by :class:`ResidualModel` and the cross-host
    model (:mod:`hybridperf.residual.cross_host`).

    Parameters
    ----------
    kt : KernelTable
        Kernel rows; ``kt.row`` is each row's model index, ``kt.y`` its log(measured / roofline).
    n_models : int
        Number of models (``kt.row`` < ``n_models``).
    measured : bool
        Share of the measured time (``roofline_k * exp(y_k)``) when True, else of the roofline time.

    Returns
    -------
    numpy.ndarray
        One weight per kernel row; the weights of one model's rows add up to 1.
    """
    t = np.exp(kt.X[:, _K_LOG_ROOF])
    if measured:
        t = t * np.exp(kt.y)
    tot = np.bincount(kt.row, weights=t, minlength=n_models)
    return t / np.maximum(tot[kt.row], 1e-30)


def _kernel_log_ratio(fk: np.ndarray, Xk: np.ndarray, rows: np.ndarray, model_rows: np.ndarray) -> np.ndarray:
    """log(sum roof_k e^f_k / sum roof_k) for each of ``model_rows`` (0 where a model has no kernel rows)."""
    roof = np.exp(Xk[:, _K_LOG_ROOF])
    out = np.zeros(len(model_rows))
    for j, m in enumerate(model_rows):
        sel = rows == m
        if sel.any():
            out[j] = math.log(float((roof[sel] * np.exp(fk[sel])).sum()) / float(roof[sel].sum()))
    return out


def _model_target(measured, roof, k, overhead):
    return np.log(np.maximum(measured - overhead, 0.05 * measured) / roof) - k


def load_table(data_dir: str | Path, kernels: bool = True, target: str | None = None, exclude: Collection[str] = ()):
    """See :func:`_load_table`; a table that is not what featurize writes (a column missing, a value that is not a
    number, bytes that are not UTF-8) raises :class:`InputError` naming it: until 2026-12-03, exit 3 (KeyError,
    ValueError, UnicodeDecodeError)."""
    try:
        return _load_table(data_dir, kernels, target, exclude)
    except (KeyError, ValueError) as exc:
        what = f"no column {exc}" if isinstance(exc, KeyError) else error_line(exc, 120)
        raise InputError(f"{data_dir}: a table is not as featurize writes it ({what}); re-run `python -m "
                         "benchmarks.collect_cpu featurize` in a source checkout, or measure with `hybridperf "
                         "calibrate --device ID --measure MODEL.onnx ...`") from exc


def _load_table(data_dir: str | Path, kernels: bool = True, target: str | None = None, exclude: Collection[str] = ()):
    """Read ``features.csv`` (+ ``kernel_features.csv``) of a calibration directory.

    Parameters
    ----------
    data_dir : path
        The calibration directory.
    kernels : bool
        Also read the per-kernel rows (``kernel_features.csv``, where present).
    target : str, optional
        The column of the directory's ``measurements.csv`` that labels the rows (:data:`CPU_TARGET` for CPU
        models), read by ``key``, so a directory whose measurements were extended needs no new featurize.
        Kernel labels (kernel times scaled to add up to ``features.csv``'s ``measured_latency_s``:
        :func:`hybridperf.residual.features.kernel_unit_times`, ``measured_group_times``) are rescaled by
        ``target / measured_latency_s``, what ``featurize --target COLUMN`` writes. None or
        ``"measured_latency_s"``: ``features.csv``'s own label, as featurized.
    exclude : collection of str
        Keys of rows to leave out (with their kernel rows), e.g. configurations whose timing is of subnormal
        assists (:mod:`hybridperf.measure.subnormal`).

    Returns
    -------
    tuple
        ``(X, y, groups, families, kernel_table, rows)`` with ``y = log(label / roofline)``; rows without a
        label are dropped. ``rows`` are the ``features.csv`` rows with ``measured_latency_s`` set to the label.
    """
    import csv

    d = Path(data_dir)
    fpath = d / "features.csv"
    if not fpath.exists():
        raise InputError(
            f"{fpath} not found; --data takes a directory of featurized tables (`python -m benchmarks.collect_cpu "
            f"featurize --out {d}` in a source checkout); on the machine itself `hybridperf calibrate --device ID "
            "--measure MODEL.onnx ...` measures and featurizes in one step"
        )
    redo = (f"re-run `python -m benchmarks.collect_cpu featurize --out {d}` in a source checkout, or measure with "
            "`hybridperf calibrate --device ID --measure MODEL.onnx ...`")
    try:  # until 2026-12-03 a file without a `key` column, or not UTF-8, was exit 3 (KeyError, UnicodeDecodeError)
        with fpath.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames and "measured_latency_s" in reader.fieldnames and "key" not in reader.fieldnames:
                raise InputError(f"{fpath} has no `key` column, so it is not a featurize table; {redo}")
            rows = [r for r in reader if r.get("measured_latency_s") and r["key"] not in exclude]
    except UnicodeDecodeError as exc:
        raise InputError(f"{fpath} is not UTF-8 text, so it is not a featurize table; {redo}") from exc
    if not rows:
        raise InputError(f"{fpath} has no measured rows (no `measured_latency_s` values); {redo}")
    bad = {r.get("features_version") for r in rows} - {FEATURES_VERSION}
    if bad:
        raise InputError(f"{fpath} was built with features version {sorted(bad)}, this hybridperf uses {FEATURES_VERSION}; re-run featurize")
    scale: dict[str, float] = {}  # key -> label / features.csv's measured latency (absent: 1)
    if target not in (None, "measured_latency_s"):
        labels = _measured_column(d, target)
        rows = [r for r in rows if labels.get(r["key"])]
        if not rows:
            raise InputError(f"{d / 'measurements.csv'}: no row of {fpath} has a `{target}` value; pass --target "
                             "with a column those rows fill (measured_latency_s: features.csv's own label), or "
                             "remeasure")
        scale = {r["key"]: labels[r["key"]] / float(r["measured_latency_s"]) for r in rows}
        rows = [{**r, "measured_latency_s": repr(labels[r["key"]])} for r in rows]
    # a roofline of 0 (nothing priced) has no ratio to learn: until 2026-12-04 a ZeroDivisionError (exit 3)
    unpriced = [r["key"] for r in rows if not float(r["roofline_latency_s"]) > 0]
    if unpriced:
        raise InputError(f"{fpath}: {len(unpriced)} row(s) have a roofline of 0 (nothing priced), so no ratio to it "
                         f"can be learned ({', '.join(unpriced[:5])}{', ...' if len(unpriced) > 5 else ''}); drop "
                         "those rows")
    # the assists of a model's own subnormals that its sheet prices (features.feature_rows' subnormal_assist_s) come
    # off its label, and each kernel's part off its unit's (or group's) measured time: a prediction adds them after
    # the learned figure (pricing.with_subnormal_assists)
    # (and the transposes that move the innermost axis: pricing.with_innermost_transposes; and the element-wise math
    # evaluated one element at a time: pricing.with_elementwise_math; and what depthwise 1-D convolutions priced at
    # probed figures add, which may be negative: pricing.with_depthwise_conv1d)
    assisted = {r["key"] for r in rows if outside_s(r) != 0}
    rows = [{**r, "measured_latency_s": repr(max(float(r["measured_latency_s"]) - outside_s(r),
                                                 0.05 * float(r["measured_latency_s"])))} if r["key"] in assisted
            else r for r in rows]
    X = np.array([[float(r[n]) for n in MODEL_FEATURES] for r in rows])
    y = np.log(np.array([float(r["measured_latency_s"]) / float(r["roofline_latency_s"]) for r in rows]))
    groups = [r.get("family") or r["key"] for r in rows]
    families = [frozenset(filter(None, r.get("op_families", "").split("|"))) for r in rows]
    kt = None
    kpath = d / "kernel_features.csv"
    if kernels and kpath.exists():
        index = {r["key"]: i for i, r in enumerate(rows)}
        kx, ky, kr, kf = [], [], [], []
        with kpath.open() as fh:
            krows = list(csv.DictReader(fh))
        taken: dict[tuple[str, str], float] = {}  # (key, unit or group) -> the assists of its kernels
        for r in krows:
            if r["key"] in assisted and outside_s(r):
                at = (r["key"], r.get("unit", "") if r.get("unit_roofline_s") else r["group"])
                taken[at] = taken.get(at, 0.0) + outside_s(r)
        for r in krows:
            if r.get("kernel_features_version", "1") != KERNEL_FEATURES_VERSION:
                raise InputError(f"{kpath} was built with kernel features version {r.get('kernel_features_version', '1')}, "
                                 f"this hybridperf uses {KERNEL_FEATURES_VERSION}; re-run featurize")
            if r["key"] not in index:
                continue
            # per-kernel ground truth joined through the source graph (features.kernel_unit_times) when the
            # profile had node names, else the kernel's family group's time in its model
            unit = bool(r.get("unit_roofline_s"))
            meas, roof = ((r["unit_measured_s"], r["unit_roofline_s"]) if unit
                          else (r["group_measured_s"], r["group_roofline_s"]))
            if float(roof) <= 0:
                continue
            meas_s = float(meas) * scale.get(r["key"], 1.0)
            less = taken.get((r["key"], r.get("unit", "") if unit else r["group"]), 0.0) if taken else 0.0
            meas_s = max(meas_s - less, 0.05 * meas_s) if less else meas_s
            ratio = min(max(meas_s / float(roof), 1e-2), 1e3)
            kx.append([float(r[n]) for n in KERNEL_FEATURES])
            ky.append(math.log(ratio))
            kr.append(index[r["key"]])
            kf.append(frozenset(r["families"].split("|")))
        if kx:
            kt = KernelTable(np.array(kx), np.array(ky), np.array(kr, dtype=int), kf)
    return X, y, groups, families, kt, rows


def _measured_column(directory: Path, column: str) -> dict[str, float]:
    """key -> ``column`` of ``directory/measurements.csv`` (rows with an empty value left out)."""
    import csv

    mpath = directory / "measurements.csv"
    if not mpath.exists():
        raise InputError(f"{mpath} not found: the label `{column}` is read from it by key; to train on "
                         "features.csv's own label instead, pass --target measured_latency_s")
    with mpath.open() as fh:
        reader = csv.DictReader(fh)
        if column not in (reader.fieldnames or ()):
            raise InputError(f"{mpath} has no `{column}` column; remeasure (hybridperf calibrate --measure; in a "
                             "source checkout python -m benchmarks.collect_cpu) or pass --target with a column it has")
        return {r["key"]: float(r[column]) for r in reader if r.get(column)}


def subset(kt: KernelTable | None, model_rows: np.ndarray) -> KernelTable | None:
    """The kernel rows of ``model_rows``, renumbered to positions in ``model_rows``."""
    if kt is None:
        return None
    pos = {int(m): i for i, m in enumerate(model_rows)}
    sel = np.array([int(r) in pos for r in kt.row], bool)
    fam = [f for f, s in zip(kt.families, sel) if s] if kt.families is not None else None
    return KernelTable(kt.X[sel], kt.y[sel], np.array([pos[int(r)] for r in kt.row[sel]], dtype=int), fam)


def _packaged(directory: Path) -> bool:
    """Whether ``directory`` is a model shipped in the package (``hybridperf/data/models/<id>/``): made with the
    packaged sheet of its id, which a sheet file of that id cannot change (``load_spec`` refuses other latency
    figures under a shipped id)."""
    from hybridperf.data import packaged_dir

    try:
        return directory.resolve().parent == packaged_dir("models").resolve()
    except (OSError, RuntimeError):
        return False


#: the type of each setting a sidecar's ``params`` records (:meth:`ResidualModel.get_params`); None allowed where
#: the default is None
_PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "n_estimators": (int,), "learning_rate": (int, float), "num_leaves": (int,), "min_data_in_leaf": (int,),
    "lambda_l2": (int, float), "linear_tree": (bool,), "overhead_grid_s": (list,), "seed": (int,),
    "device": (str, type(None)), "model_estimators": (int, type(None)), "context": (bool,),
    "measured_weights": (bool,), "label": (str, type(None))}


def _checked_params(params: Any) -> dict[str, Any]:
    """A sidecar's ``params``, each of the type :meth:`ResidualModel.get_params` writes (until 2026-12-05 a
    ``context`` of ``"no"`` read as true, and one of ``false`` beside a kernel booster of context features was a
    LightGBMError, exit 3). Unknown keys are left for the constructor to refuse.

    Raises
    ------
    TypeError
        ``params`` is not an object, or a setting is of another type.
    """
    if not isinstance(params, dict):
        raise TypeError(f"its params are a JSON {type(params).__name__}, not an object")
    for key, kinds in _PARAM_TYPES.items():
        value = params.get(key)
        if key in params and (not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)):
            raise TypeError(f"its params' {key} {value!r} is not a {' or '.join(k.__name__ for k in kinds)}")
    return params


def _strings(value: Any, key: str) -> list[str]:
    """``value``, a sidecar's list of strings ``key`` (until 2026-12-05 a string there was read as its letters)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"its {key} is not a list of names")
    return value


def _checked_envelope(raw: Any) -> tuple[tuple[float, float], ...] | None:
    """A sidecar's :data:`ENVELOPE_KEY`: a list of [dilation > 1, valid-tap share] pairs of finite numbers, or None (absent:
    a model saved before 2026-12-07, which prices every dilated convolution with its correction)."""
    if raw is None:
        return None
    ok = isinstance(raw, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
        and math.isfinite(p[0]) and math.isfinite(p[1]) and p[0] > 1 for p in raw)
    if not ok:
        raise ValueError(f"{ENVELOPE_KEY} must be a list of [dilation > 1, valid-tap share] pairs of numbers")
    return tuple((float(d), float(f)) for d, f in raw)


def _checked_adaptation(a: Any) -> dict[str, Any] | None:
    """A sidecar's ``adaptation`` (None: the base model), its figures that price checked: ``offset``, ``slope``,
    ``center`` finite, ``k`` a count, ``group_scales`` one finite positive scale per kernel group or null,
    ``min_latency_s`` positive or absent. Until 2026-12-05 a NaN there priced NaN, and a missing key, another type or
    a list of scales of another length was exit 3 (KeyError, TypeError, IndexError).

    Raises
    ------
    KeyError, TypeError, ValueError
        What is not as :meth:`ResidualModel.adapt` (or the cross-host one) writes it.
    """
    if a is None:
        return None
    if not isinstance(a, dict):
        raise TypeError(f"its adaptation is a JSON {type(a).__name__}, not an object")
    if not isinstance(a.get("method"), str):
        raise ValueError(f"its adaptation's method {a.get('method')!r} is not a name")
    try:
        for key in ("offset", "slope", "center"):
            number(a, key)
        number(a, "k", low=1, integer=True)
        number(a, "min_latency_s", low=0.0, optional=True)
    except KeyError as exc:
        raise ValueError(f"its adaptation has no {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"its adaptation's {str(exc).removeprefix('its ')}") from exc
    scales = a.get("group_scales")
    if scales is not None:
        try:
            if not isinstance(scales, list) or len(scales) != _N_GROUPS:
                raise ValueError
            for v in scales:
                figure(v, "group_scales", positive=True)
        except ValueError:
            raise ValueError(f"its adaptation's group_scales are not {_N_GROUPS} finite positive scales") from None
    return a


def _version_refusal(side: Path, got: str, have: str, newer: bool, fix: str) -> InputError:
    """The refusal of the sidecar ``side`` whose versions ``got`` (words: ``schema 2 / features 3``) are not this
    hybridperf's ``have``; one written by a newer hybridperf (``newer``) also says to upgrade. ``fix`` ends the line."""
    return InputError(f"{side}: {got} {'are newer than' if newer else 'do not match'} this hybridperf's ({have})"
                      f"{'; upgrade hybridperf, or' if newer else ';'} {fix}")


def holds_model(directory: str | Path) -> bool:
    """Whether ``directory`` holds any file a stored model is made of (its sidecar or a booster), whole or not: what
    :meth:`ResidualModel.load` is to read (and refuse, when it is not whole) rather than fall back silently."""
    return any(os.path.lexists(Path(directory) / name) for name in (SIDECAR_FILE, MODEL_FILE, KERNEL_FILE))


def stored_for(directory: str | Path) -> tuple[str | None, str]:
    """The device the model directory ``directory`` holds a model for where its place says (``host`` for
    ``hosts/<cpu key>/model/`` of the user data directory, ``ID`` for ``models/ID/``; None elsewhere), and how to
    remove the model stored there, in words that end a message: the ``calibrate --reset`` for that place (``--out``
    elsewhere), reinstalling for a packaged model. A model stored inside another (the cross-host adaptation's
    few-shot alone model) is named by the one holding it."""
    d = Path(directory)
    top = d.parent if os.path.lexists(d.parent / SIDECAR_FILE) else d
    if _packaged(top):
        return None, "it is shipped with hybridperf: reinstall hybridperf"
    again = "(predict then uses the packaged model again), or calibrate again"
    try:
        from hybridperf.data import user_data_dir

        home, here = user_data_dir().resolve(), top.resolve()
    except (OSError, RuntimeError, ValueError, InputError):  # no data home (HOME unset, no passwd entry): not in it
        home, here = None, top.absolute()
    device = None
    # hosts/<cpu key>/model/ (hybridperf.measure.host.host_model_dir) and models/ID/
    if home is not None and here.name == HOST_MODEL_DIR and here.parent.parent == home / HOSTS_DIR:
        device = "host"
    elif home is not None and here.parent == home / USER_MODELS:
        device = here.name
    if device is not None:
        return (device if top == d else None), f"`hybridperf calibrate --device {device} --reset` removes it {again}"
    return None, f"`hybridperf calibrate --device ID --out {top} --reset` removes it, or calibrate again"


def stored_note(stored: str, adaptation: bool = False, device: str | None = None) -> str:
    """The clause a prediction's calibration note ends its model's description with where that model was loaded from
    the user data directory (``stored``, the directory, or the GPU adaptation's file, as recorded at load): that it is
    the user's own, stored by ``hybridperf calibrate``, where, and how to drop it. A packaged model has none. Until
    2026-12-04 a calibrated model's note read as the packaged model's: nothing said the user's calibration was used.

    Parameters
    ----------
    stored : str
        The model directory (``models/<id>/``, ``hosts/<cpu key>/model/``), or with ``adaptation`` the file.
    adaptation : bool, default False
        A GPU few-shot adaptation (one file, which ``calibrate --reset`` does not remove: deleting it does).
    device : str, optional
        The device ``stored`` holds a model for, as :func:`stored_for` found it at load; None: found from ``stored``'s
        place now (:func:`stored_for`).

    Returns
    -------
    str
        E.g. ``"; your model, stored by `hybridperf calibrate` in /home/me/.local/share/hybridperf/models/x
        (`calibrate --device x --reset` to drop it)"`` (``stored`` as given; JSON gives it as
        ``calibration_stored_in``, :attr:`hybridperf.estimate.pricing.Prediction.calibration_stored_in`).
    """
    if adaptation:
        return f"; your adaptation, stored by `hybridperf calibrate` in {stored} (delete it to drop it)"
    device = device or stored_for(stored)[0] or "ID"
    return (f"; your model, stored by `hybridperf calibrate` in {stored} (`calibrate --device {device} --reset` to "
            "drop it)")

def find_model_dir(device_id: str, calib_dir: str | Path | None = None) -> Path | None:
    """The directory of ``device_id``'s stored model: ``calib_dir/<id>/`` when given, else the first
    ``<id>/`` on :func:`model_search_path` holding a model; None if there is none.

    A directory holding part of a model (its sidecar without its booster, or the booster without the sidecar: a
    ``calibrate`` killed while it stored, a file deleted) is returned too, so that loading it says so and names the
    ``--reset`` (:meth:`ResidualModel.load`): until 2026-12-04 the packaged model was used instead, silently.
    """
    bases = (Path(calib_dir),) if calib_dir is not None else model_search_path()
    for base in bases:
        d = base / device_id
        if (d / SIDECAR_FILE).exists() and (d / MODEL_FILE).exists():
            return d
        if holds_model(d) and not _packaged(d):
            return d
    return None


__all__ = ["CALIBRATION_PARAMS", "CONTEXT_FEATURES", "CPU_TARGET", "DIGESTS_KEY", "LABEL_WORDS", "LEGACY_LABEL", "KERNEL_INPUTS", "KernelTable", "ResidualModel", "find_model_dir", "holds_model", "kernel_context", "kernel_weights", "load_table", "mape", "min_latency_s",
           "model_search_path", "stored_for", "stored_note", "subset", "user_model_dir", "SCHEMA_VERSION"]
