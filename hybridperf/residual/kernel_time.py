"""Device kernel time learned from eager-timed operator latencies: the host dispatch taken out.

NeuSight times one PyTorch call between two CUDA events on an idle stream (``starter.record(); op(...);
ender.record(); synchronize()``, mean of the 5 fastest of 25 calls; ``neusight/Dataset/collect.py`` in
sitar-lab/NeuSight). The GPU waits for the launch, so each latency is *host dispatch + kernel*, serially.
A runtime without per-launch host work (a CUDA-graph replay, a compiled VM) pays only the kernel, plus a
small per-kernel gap. The cross-device model (:mod:`hybridperf.residual.cross_device`) learns the sum; this
module learns the kernel part, so the execution mode is explicit instead of baked into the residual:

* **dispatch cost** of an op on a device (:func:`dispatch_costs`): the 2 % latency quantile of that op's calls
  (the smallest calls: dispatch + a minimal kernel) less the minimal kernel :data:`KERNEL_FLOOR_S`. NeuSight has no
  tiny convolutions (its smallest cost 2-2.6 dispatch floors); a cuDNN call is given the cuBLAS call's cost
  (``linear``, addmm with bias: 1.9-2.2 floors);
* **kernel time** of a measured call: ``max(measured - dispatch, KERNEL_FLOOR_S)``;
* **model**: kernel = ``KERNEL_FLOOR_S + work x exp(f(x))`` with ``work = max(flops / peak, bytes / bandwidth)``
  (sheet peak, probed or defaulted bandwidth and GEMM rate, as the cross-device baseline) and ``f`` the
  cross-device LightGBM (:class:`~hybridperf.residual.cross_device.CrossDeviceModel`: same features, their
  floor the kernel floor) fitted on ``log(max(kernel - KERNEL_FLOOR_S, work) / work)``, averaged over a bag of
  fits on different row samples and seeds. A kernel far below one floor of work stays near the floor instead of
  a multiple of it.

An eager latency is recovered as dispatch + kernel (:meth:`KernelTimeModel.eager_latency_s`, what the
leave-one-GPU-out check in ``benchmarks/gpu_kernel_time.py`` scores). Persistence: the LightGBM model as the
cross-device model stores it (``cross_device.txt`` + ``cross_device.json``, whose probes and features it shares)
plus ``kernel_time.json`` (dispatch weights, kernel floor, and this model's target, which replaces the one
``cross_device.json`` describes); never pickle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from hybridperf.device.spec import DeviceSpec
from hybridperf.errors import InputError, NotFittedError
from hybridperf.estimate.execution import GPU_KERNEL_FLOOR_S
from hybridperf.json_text import dumps
from hybridperf.residual.cross_device import FEATURES, MODEL_FILE, CrossDeviceModel, baseline, featurize
from hybridperf.residual.device_features import RuntimeProbe
from hybridperf.residual.neusight import PricedOps
from hybridperf.residual.sidecar import DIGESTS_KEY, read_booster, read_sidecar, recorded_digests, write_booster

SCHEMA_VERSION = 2
SIDECAR_FILE = "kernel_time.json"
#: smallest device time of one kernel when the host is not in the way (the runtime's per-kernel floor)
KERNEL_FLOOR_S = GPU_KERNEL_FLOOR_S
#: quantile of an op's latencies taken as its dispatch + minimal kernel
DISPATCH_QUANTILE = 0.02
#: ops whose dispatch is another op's (NeuSight has no tiny calls of them): a cuDNN call costs what a cuBLAS call does
DISPATCH_AS: Mapping[str, str] = {"conv": "linear"}
_TARGET = ("log(max(kernel - kernel_floor, work) / work), kernel = max(measured - dispatch(op, device), kernel_floor), "
           "work = max(flops / peak, bytes / bandwidth)")


def dispatch_costs(rows: PricedOps, same_host: Mapping[str, str] | None = None) -> dict[tuple[str, str], float]:
    """``{(device, op): host dispatch seconds}``: each op's :data:`DISPATCH_QUANTILE` latency less
    :data:`KERNEL_FLOOR_S`.

    ``same_host`` maps a device with missing ops to one measured on the same host software (NeuSight's A100
    80GB conv rows -> its A100 40GB rows); ops in :data:`DISPATCH_AS` take the named op's cost.
    """
    q: dict[tuple[str, str], float] = {}
    for dev in map(str, np.unique(rows.device)):
        on = rows.device == dev
        for op in map(str, np.unique(rows.op[on])):
            q[(dev, op)] = max(float(np.quantile(rows.measured_s[on & (rows.op == op)], DISPATCH_QUANTILE))
                               - KERNEL_FLOOR_S, 0.0)
    out = {}
    for dev in map(str, np.unique(rows.device)):
        for op in map(str, np.unique(rows.op)):
            src = DISPATCH_AS.get(op, op)
            for d in (dev, (same_host or {}).get(dev)):
                if (d, src) in q:
                    out[(dev, op)] = q[(d, src)]
                    break
    return out


def dispatch_weights(dispatch: Mapping[tuple[str, str], float], probes: Mapping[str, RuntimeProbe],
                     devices) -> dict[str, float]:
    """Per op, its dispatch cost in dispatch floors (:class:`RuntimeProbe`), median over ``devices``."""
    devs = sorted(set(map(str, devices)))
    ops = sorted({o for d, o in dispatch if d in devs})
    return {o: float(np.median([dispatch[(d, o)] / probes[d].dispatch_floor_s for d in devs if (d, o) in dispatch]))
            for o in ops}


def _work_s(rows: PricedOps, specs: Mapping[str, DeviceSpec], probes: Mapping[str, RuntimeProbe]) -> np.ndarray:
    """``max(compute, memory)`` of each row (the cross-device baseline without its floor)."""
    return baseline(rows, specs, {d: replace(p, dispatch_floor_s=1e-15) for d, p in probes.items()})


def _kernel_probes(probes: Mapping[str, RuntimeProbe]) -> dict[str, RuntimeProbe]:
    return {d: replace(p, dispatch_floor_s=KERNEL_FLOOR_S) for d, p in probes.items()}


def kernel_targets(rows: PricedOps, specs: Mapping[str, DeviceSpec], probes: Mapping[str, RuntimeProbe],
                   dispatch: Mapping[tuple[str, str], float]) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: the cross-device features at the kernel floor and the kernel model's target (module docstring)."""
    host = np.array([dispatch[(str(d), str(o))] for d, o in zip(rows.device, rows.op)])
    kernel = np.maximum(rows.measured_s - host, KERNEL_FLOOR_S)
    work = _work_s(rows, specs, probes)
    y = np.log(np.maximum(kernel - KERNEL_FLOOR_S, work) / work)
    return featurize(rows, specs, _kernel_probes(probes)), y


class KernelTimeModel:
    """Kernel time of operators on any GPU sheet: a bag of :class:`CrossDeviceModel` fits, scikit-learn style.

    Parameters
    ----------
    bag : int
        Members, each fitted on its own sample of ``train_rows`` rows with its own seed (``seed + k``); their
        log predictions are averaged (one fit's extrapolation to a new device moves with its seed).
    train_rows : int
        Rows sampled per member (all rows when fewer).
    seed : int
        Seed of the first member.
    **params
        :class:`CrossDeviceModel` settings (its ``seed`` excepted).

    Fitted attributes: ``members_`` (the LightGBM fits), ``dispatch_weights_`` (per op, its dispatch cost in
    dispatch floors, median over the training devices), ``default_floor_s_`` (the training devices' median
    floor, for :meth:`eager_latency_s` on a device measured nowhere).
    """

    def __init__(self, bag: int = 5, train_rows: int = 60000, seed: int = 0, **params: Any):
        self.bag = bag
        self.train_rows = train_rows
        self.seed = seed
        self.params = params

    def fit(self, X: np.ndarray, y: np.ndarray, devices, probes: Mapping[str, RuntimeProbe],
            specs: Mapping[str, DeviceSpec], dispatch: Mapping[tuple[str, str], float]) -> KernelTimeModel:
        """Fit on :func:`kernel_targets` of the rows of ``devices`` (training device ids)."""
        devs = sorted(set(map(str, devices)))
        X, y = np.asarray(X, float), np.asarray(y, float)
        self.members_ = []
        for k in range(self.bag):
            rng = np.random.default_rng(self.seed + k)
            idx = np.arange(len(y)) if len(y) <= self.train_rows else np.sort(
                rng.choice(len(y), self.train_rows, replace=False))
            self.members_.append(CrossDeviceModel(**self.params, seed=self.seed + k).fit(
                X[idx], y[idx], devices=devs, probes={d: probes[d] for d in devs}, specs=specs))
        self.dispatch_weights_ = dispatch_weights(dispatch, probes, devs)
        self.default_floor_s_ = self.members_[0].default_floor_s_
        return self

    def _check(self) -> None:
        if not hasattr(self, "members_"):
            raise NotFittedError("this KernelTimeModel is not fitted; call fit() or load() first")

    def probe_for(self, device: str, spec: DeviceSpec) -> RuntimeProbe:
        """The runtime probe of ``device`` (recorded at training, else the zero-shot defaults)."""
        self._check()
        return self.members_[0].probe_for(device, spec)

    def kernel_s(self, rows: PricedOps, specs: Mapping[str, DeviceSpec], probes: Mapping[str, RuntimeProbe],
                 floor_s: float = KERNEL_FLOOR_S) -> np.ndarray:
        """Predicted kernel time of each row: ``floor_s + work x exp(mean f)`` (``probes`` completed the zero-shot
        way)."""
        self._check()
        pr = {d: self.members_[0].complete_probe(p, specs[d]) for d, p in probes.items()}
        work = _work_s(rows, specs, pr)
        X = featurize(rows, specs, _kernel_probes(pr))
        return floor_s + work * np.exp(np.mean([m.predict(X) for m in self.members_], axis=0))

    def eager_latency_s(self, rows: PricedOps, specs: Mapping[str, DeviceSpec],
                        probes: Mapping[str, RuntimeProbe]) -> np.ndarray:
        """Dispatch (probe floor x the op's weight) + kernel: the latency one eager call between two events shows."""
        self._check()
        host = np.array([probes[str(d)].dispatch_floor_s * self.dispatch_weights_.get(str(o), 1.0)
                         for d, o in zip(rows.device, rows.op)])
        return host + self.kernel_s(rows, specs, probes)

    def save(self, directory: str | Path, metrics: Mapping[str, Any] | None = None) -> Path:
        """The first member as :meth:`CrossDeviceModel.save` writes it, the others' LightGBM text
        (:func:`~hybridperf.residual.sidecar.write_booster`), and :data:`SIDECAR_FILE`, which records their sha256
        (:data:`~hybridperf.residual.sidecar.DIGESTS_KEY`)."""
        self._check()
        d = Path(self.members_[0].save(directory, metrics))
        digests = {f"kernel_member_{k}.txt": write_booster(d / f"kernel_member_{k}.txt", m.booster_)
                   for k, m in enumerate(self.members_[1:], start=1)}
        meta = {"schema_version": SCHEMA_VERSION, "target": _TARGET, "kernel_floor_s": KERNEL_FLOOR_S,
                "dispatch_quantile": DISPATCH_QUANTILE, "dispatch_as": dict(DISPATCH_AS),
                "dispatch_weights": self.dispatch_weights_, "bag": self.bag, "train_rows": self.train_rows,
                "seed": self.seed, "member_files": list(digests), DIGESTS_KEY: digests}
        (d / SIDECAR_FILE).write_text(dumps(meta, indent=1) + "\n")  # strict: a NaN raises (until 2026-12-04 stored)
        return d

    @classmethod
    def load(cls, directory: str | Path) -> KernelTimeModel:
        """Load a model written by :meth:`save`; refuses other schema versions or kernel floors, a sidecar that is not
        JSON, and a member booster that is not whole or not the one whose sha256 the sidecar records
        (:func:`~hybridperf.residual.sidecar.read_booster`; sidecars written before 2026-12-04 record none: read
        unverified). Until 2026-12-04 LightGBM read the members unchecked (one cut short aborted the process) and an
        unreadable sidecar was exit 3."""
        import copy

        d = Path(directory)
        side = d / SIDECAR_FILE
        fix = "; retrain the model"
        meta = read_sidecar(d, MODEL_FILE, SIDECAR_FILE, f"no kernel-time model in {d} (expected {SIDECAR_FILE} and "
                            f"{MODEL_FILE})", fix)
        if meta.get("schema_version") != SCHEMA_VERSION or meta.get("kernel_floor_s") != KERNEL_FLOOR_S:
            raise InputError(f"{side}: schema {meta.get('schema_version')} / kernel floor {meta.get('kernel_floor_s')} "
                             f"do not match this hybridperf ({SCHEMA_VERSION}, {KERNEL_FLOOR_S}); retrain the model")
        first = CrossDeviceModel.load(d)
        params = {k: v for k, v in first.get_params().items() if k != "seed"}
        m = cls(int(meta["bag"]), int(meta["train_rows"]), int(meta["seed"]), **params)
        m.members_ = [first]
        try:
            digests = recorded_digests(meta.get(DIGESTS_KEY), meta["member_files"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{side} is not a sidecar this hybridperf wrote ({exc}){fix}") from exc
        for name, sha256 in digests.items():
            member = copy.copy(first)  # same training devices, probes and defaults; its own trees only
            member.booster_, member.bag_ = read_booster(d / name, FEATURES, fix, sha256), []
            m.members_.append(member)
        m.dispatch_weights_ = {k: float(v) for k, v in meta["dispatch_weights"].items()}
        m.default_floor_s_ = first.default_floor_s_
        return m


__all__ = ["DISPATCH_AS", "DISPATCH_QUANTILE", "KERNEL_FLOOR_S", "KernelTimeModel", "SIDECAR_FILE", "dispatch_costs",
           "dispatch_weights", "kernel_targets"]
