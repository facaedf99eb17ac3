"""A residual across GPUs: LightGBM on (kernel shape, device figures) -> log(measured / roofline).

One model for every device: the kernel's costs and shape (:data:`KERNEL_SHAPE_FEATURES`), the
device's sheet figures (:data:`hybridperf.device_features.DEVICE_FEATURES`) and the quantities that
combine the two (:data:`hybridperf.device_features.DERIVED_FEATURES`: roofline times, intensity
over the ridge point, waves and tails over the SMs, working set over L2), plus the runtime's
dispatch floor (:data:`RUNTIME_FEATURES`). A device known only from its sheet gets a prediction
("zero-shot from spec"); nothing in the features is a measurement of the device, except the
optional dispatch floor, which describes the runtime on its host (PyTorch eager: tens of
microseconds per op) and is given, or taken as the training devices' median.

Prediction: ``latency = roofline x exp(f(x))``.

Persistence: ``cross_device.txt`` (LightGBM text) + ``cross_device.json`` (feature names and
versions, training devices, per-device dispatch floors, metrics); never pickle.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from hybridperf.device_features import (
    DERIVED_FEATURES,
    DEVICE_FEATURES,
    DEVICE_FEATURES_VERSION,
    DeviceFigures,
    derived_features,
    device_vector,
)
from hybridperf.errors import InputError, NotFittedError
from hybridperf.neusight import OP_NAMES, PricedOps
from hybridperf.spec import DeviceSpec

SCHEMA_VERSION = 1
#: version of the whole feature list (bump on any change of names, order or meaning)
FEATURES_VERSION = f"1.d{DEVICE_FEATURES_VERSION}"
MODEL_FILE = "cross_device.txt"
SIDECAR_FILE = "cross_device.json"

KERNEL_SHAPE_FEATURES: tuple[str, ...] = (
    "op",  # categorical: index into hybridperf.neusight.OP_NAMES
    "log_flops",
    "log_bytes",
    "log_intensity",
    "log_batch",
    "log_gemm_m",
    "log_gemm_n",
    "log_gemm_k",
    "log_elems",
    "log_row",
    "conv_kernel",
    "conv_stride",
    "log_conv_in_size",
    "log_conv_out_size",
    "log_conv_in_channels",
    "log_conv_out_channels",
)
RUNTIME_FEATURES: tuple[str, ...] = ("log_dispatch_floor_s", "log_floor_over_roofline")
FEATURES: tuple[str, ...] = (*KERNEL_SHAPE_FEATURES, *DEVICE_FEATURES, *DERIVED_FEATURES, *RUNTIME_FEATURES)
_CATEGORICAL = ("op",)
_EPS = 1e-12


def _log(x) -> np.ndarray:
    return np.log(np.maximum(np.asarray(x, float), 0.0) + _EPS)


def dispatch_floors(rows: PricedOps, op: str = "add", quantile: float = 0.02) -> dict[str, float]:
    """Per device, the ``quantile`` of measured latencies of ``op``: the runtime's per-call floor.

    On PyTorch eager the smallest element-wise op costs the framework's dispatch plus one launch,
    a property of the host and software stack more than of the GPU; one probe of a tiny op measures it.
    """
    out = {}
    for dev in np.unique(rows.device):
        sel = (rows.device == dev) & (rows.op == op)
        if sel.any():
            out[str(dev)] = float(np.quantile(rows.measured_s[sel], quantile))
    return out


def featurize(rows: PricedOps, specs: Mapping[str, DeviceSpec], floors: Mapping[str, float],
              precision: str = "fp32") -> np.ndarray:
    """The :data:`FEATURES` matrix of ``rows`` (each priced on its device's sheet in ``specs``).

    ``floors`` maps device id -> dispatch floor in seconds (see :func:`dispatch_floors`); every
    device of ``rows`` needs one.
    """
    s = rows.shapes
    n = len(rows)
    X = np.zeros((n, len(FEATURES)))
    op_index = {o: i for i, o in enumerate(OP_NAMES)}
    X[:, 0] = [op_index[o] for o in rows.op]
    nk = len(KERNEL_SHAPE_FEATURES)
    X[:, 1:nk] = np.column_stack([
        _log(rows.flops), _log(rows.bytes_total), _log(rows.flops) - _log(rows.bytes_total), _log(s["batch"]),
        _log(s["gemm_m"]), _log(s["gemm_n"]), _log(s["gemm_k"]), _log(s["elems"]), _log(s["row"]),
        s["conv_kernel"], s["conv_stride"], _log(s["conv_in_size"]), _log(s["conv_out_size"]),
        _log(s["conv_in_channels"]), _log(s["conv_out_channels"]),
    ])
    nd = len(DEVICE_FEATURES)
    for dev in np.unique(rows.device):
        if dev not in specs:
            raise InputError(f"no device sheet for {dev!r}; pass its DeviceSpec")
        if dev not in floors:
            raise InputError(f"no dispatch floor for {dev!r}; give one (seconds) or use the model's default")
        sel = rows.device == dev
        fig = DeviceFigures.from_spec(specs[dev], precision)
        X[sel, nk:nk + nd] = device_vector(fig)
        X[sel, nk + nd:nk + nd + len(DERIVED_FEATURES)] = derived_features(
            rows.flops[sel], rows.bytes_total[sel], s["gemm_m"][sel], s["gemm_n"][sel], s["gemm_k"][sel], s["batch"][sel],
            s["elems"][sel], fig, rows.roofline_s[sel], rows.compute_s[sel], rows.memory_s[sel])
        X[sel, -2] = math.log(floors[dev])
        X[sel, -1] = math.log(floors[dev]) - _log(rows.roofline_s[sel])
    return X


def mape(pred, true) -> float:
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    return float(np.mean(np.abs(pred - true) / true) * 100)


class CrossDeviceModel:
    """LightGBM over :data:`FEATURES` predicting ``log(measured / roofline)``, scikit-learn style.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_data_in_leaf, lambda_l2, feature_fraction : LightGBM settings
    objective : str
        LightGBM objective on the log ratio (``"l2"``, or ``"l1"`` for a median fit).
    seed : int
        Seed of every random choice (``deterministic=True``).
    n_jobs : int
        LightGBM threads.
    """

    def __init__(self, n_estimators: int = 600, learning_rate: float = 0.05, num_leaves: int = 63,
                 min_data_in_leaf: int = 50, lambda_l2: float = 1.0, feature_fraction: float = 0.8,
                 objective: str = "l2", seed: int = 0, n_jobs: int = 1):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.lambda_l2 = lambda_l2
        self.feature_fraction = feature_fraction
        self.objective = objective
        self.seed = seed
        self.n_jobs = n_jobs

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("n_estimators", "learning_rate", "num_leaves", "min_data_in_leaf",
                                              "lambda_l2", "feature_fraction", "objective", "seed", "n_jobs")}

    def fit(self, X: np.ndarray, y: np.ndarray, devices: Sequence[str] = (), floors: Mapping[str, float] | None = None,
            sample_weight: np.ndarray | None = None) -> CrossDeviceModel:
        """Fit on a :func:`featurize` matrix ``X`` and targets ``y = log(measured / roofline)``.

        ``devices`` (training device ids) and ``floors`` (their dispatch floors) are recorded; the
        median floor is the default for a device given none.
        """
        import lightgbm as lgb

        X, y = np.asarray(X, float), np.asarray(y, float)
        if X.ndim != 2 or X.shape[1] != len(FEATURES):
            raise InputError(f"X has {X.shape[-1] if X.ndim == 2 else '?'} columns; featurize() gives {len(FEATURES)}")
        params = {
            "objective": self.objective, "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf, "lambda_l2": self.lambda_l2,
            "feature_fraction": self.feature_fraction, "seed": self.seed, "deterministic": True,
            "num_threads": self.n_jobs, "verbose": -1,
        }
        data = lgb.Dataset(X, y, weight=sample_weight, feature_name=list(FEATURES),
                           categorical_feature=list(_CATEGORICAL), free_raw_data=True)
        self.booster_ = lgb.train(params, data, num_boost_round=self.n_estimators)
        self.devices_ = tuple(sorted(set(devices)))
        self.floors_ = dict(floors or {})
        self.default_floor_s_ = float(np.median(list(self.floors_.values()))) if self.floors_ else 3e-5
        self.n_train_ = int(len(y))
        self.metrics_: dict[str, Any] = {"train_mae_log": float(np.mean(np.abs(self.predict(X) - y)))}
        self.trained_on_ = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return self

    def _check(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError("this CrossDeviceModel is not fitted; call fit() or load() first")

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted ``log(measured / roofline)`` of each row of ``X``."""
        self._check()
        return self.booster_.predict(np.asarray(X, float))

    def floor_for(self, device: str) -> float:
        """The dispatch floor of ``device``: recorded at training, else the training median."""
        self._check()
        return self.floors_.get(device, self.default_floor_s_)

    def predict_latency(self, rows: PricedOps, specs: Mapping[str, DeviceSpec],
                        floors: Mapping[str, float] | None = None) -> np.ndarray:
        """Predicted latency (seconds) of priced rows; devices without a given floor use :meth:`floor_for`."""
        self._check()
        fl = {str(d): (floors or {}).get(str(d), self.floor_for(str(d))) for d in np.unique(rows.device)}
        return rows.roofline_s * np.exp(self.predict(featurize(rows, specs, fl)))

    def feature_importance(self) -> dict[str, float]:
        """Total gain of each feature, largest first."""
        self._check()
        gain = self.booster_.feature_importance("gain")
        return dict(sorted(zip(FEATURES, map(float, gain)), key=lambda kv: -kv[1]))

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, metrics: Mapping[str, Any] | None = None) -> Path:
        """Write :data:`MODEL_FILE` and :data:`SIDECAR_FILE` into ``directory``."""
        import lightgbm

        from hybridperf import __version__

        self._check()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(d / MODEL_FILE))
        if metrics:
            self.metrics_ = {**self.metrics_, **metrics}
        meta = {
            "schema_version": SCHEMA_VERSION,
            "features_version": FEATURES_VERSION,
            "features": list(FEATURES),
            "categorical": list(_CATEGORICAL),
            "ops": list(OP_NAMES),
            "target": "log(measured latency / roofline latency), roofline on the device sheet at fp32",
            "model_file": MODEL_FILE,
            "params": self.get_params(),
            "training_devices": list(self.devices_),
            "dispatch_floors_s": self.floors_,
            "default_floor_s": self.default_floor_s_,
            "n_train": self.n_train_,
            "metrics": self.metrics_,
            "trained_on": self.trained_on_,
            "lightgbm_version": lightgbm.__version__,
            "hybridperf_version": __version__,
        }
        (d / SIDECAR_FILE).write_text(json.dumps(meta, indent=1, default=float) + "\n")
        return d

    @classmethod
    def load(cls, directory: str | Path) -> CrossDeviceModel:
        """Load a model written by :meth:`save`; refuses other schema or feature versions."""
        import lightgbm as lgb

        d = Path(directory)
        side = d / SIDECAR_FILE
        if not side.exists() or not (d / MODEL_FILE).exists():
            raise InputError(f"no cross-device model in {d} (expected {MODEL_FILE} and {SIDECAR_FILE})")
        meta = json.loads(side.read_text())
        if meta.get("schema_version") != SCHEMA_VERSION or meta.get("features_version") != FEATURES_VERSION \
                or meta.get("features") != list(FEATURES):
            raise InputError(
                f"{side}: schema {meta.get('schema_version')} / features {meta.get('features_version')} do not match "
                f"this hybridperf (schema {SCHEMA_VERSION}, features {FEATURES_VERSION}); retrain the model")
        m = cls(**meta["params"])
        m.booster_ = lgb.Booster(model_file=str(d / MODEL_FILE))
        m.devices_ = tuple(meta["training_devices"])
        m.floors_ = {k: float(v) for k, v in meta["dispatch_floors_s"].items()}
        m.default_floor_s_ = float(meta["default_floor_s"])
        m.n_train_ = int(meta["n_train"])
        m.metrics_ = meta.get("metrics", {})
        m.trained_on_ = meta.get("trained_on", "")
        return m


__all__ = ["FEATURES", "FEATURES_VERSION", "KERNEL_SHAPE_FEATURES", "RUNTIME_FEATURES", "CrossDeviceModel",
           "dispatch_floors", "featurize", "mape"]
