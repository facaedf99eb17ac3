"""Kernel time from eager-timed operator latencies (hybridperf.residual.kernel_time): dispatch taken out."""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
import pytest
from neusight_fake import write_tree

from hybridperf.costs import build_registry
from hybridperf.device.spec import load_spec
from hybridperf.errors import InputError, NotFittedError
from hybridperf.estimate.roofline import roofline
from hybridperf.residual.cross_device import runtime_probes
from hybridperf.residual.device_features import RuntimeProbe
from hybridperf.residual.kernel_time import (
    KERNEL_FLOOR_S,
    SIDECAR_FILE,
    KernelTimeModel,
    dispatch_costs,
    dispatch_weights,
    kernel_targets,
)
from hybridperf.residual.neusight import SHAPE_COLUMNS, PricedOps, load_ops

REG = build_registry(check_exists=False)
#: host dispatch per call in the synthetic data: an element-wise op, and a cuBLAS call (twice as much)
HOST_S = {"add": 20e-6, "bmm": 40e-6}


def _rows(ops, devices, measured_s):
    n = len(ops)
    z = np.zeros(n)
    cols = MappingProxyType({c: z for c in SHAPE_COLUMNS})
    return PricedOps(np.array(ops), np.array(["elementwise"] * n), np.array(devices), np.array(measured_s, float),
                     z + 1.0, z + 1.0, z + 1.0, z, z, cols)


def test_dispatch_cost_is_the_low_quantile_less_the_kernel_floor_and_conv_takes_linears():
    rows = _rows(["add", "add", "linear", "linear", "conv", "conv", "conv"], ["t4"] * 4 + ["a80"] * 3,
                 [10e-6, 20e-6, 40e-6, 60e-6, 90e-6, 100e-6, 110e-6])
    got = dispatch_costs(rows, same_host={"a80": "t4"})
    # numpy's linear quantile at 0.02 between the two smallest of two values: a + 0.02 x (b - a)
    assert got[("t4", "add")] == pytest.approx(10e-6 + 0.02 * 10e-6 - KERNEL_FLOOR_S)
    assert got[("t4", "linear")] == pytest.approx(40e-6 + 0.02 * 20e-6 - KERNEL_FLOOR_S)
    # conv has no tiny calls: a cuDNN call costs what a cuBLAS call does, from the same host's rows
    assert got[("a80", "conv")] == got[("t4", "linear")] == got[("t4", "conv")]
    probes = {"t4": RuntimeProbe(20e-6), "a80": RuntimeProbe(20e-6)}
    w = dispatch_weights(got, probes, ["t4"])
    assert w["linear"] == pytest.approx(got[("t4", "linear")] / 20e-6)


def test_kernel_target_removes_dispatch_and_never_goes_below_the_work():
    # work = max(flops / peak, bytes / bandwidth); a bandwidth-bound row of 1 MB on a T4 (sheet bandwidth)
    spec = load_spec("t4")
    probe = RuntimeProbe(20e-6, 300e9)
    work = 1e6 / 300e9
    rows = _rows(["add", "add"], ["t4", "t4"], [20e-6 + KERNEL_FLOOR_S + 3 * work, 21e-6])
    rows = PricedOps(rows.op, rows.family, rows.device, rows.measured_s, np.zeros(2), np.array([1e6, 1e6]),
                     rows.roofline_s, rows.compute_s, rows.memory_s, rows.shapes)
    _, y = kernel_targets(rows, {"t4": spec}, {"t4": probe}, {("t4", "add"): 20e-6})
    assert y[0] == pytest.approx(math.log(3.0))  # kernel - floor = 3 x work
    assert y[1] == 0.0  # 1 us left after the dispatch: at least the work


def _work(cost, spec) -> float:
    est = roofline(cost, spec)
    return max(est.compute_s, est.memory_s)


@pytest.fixture
def serial_neusight(tmp_path):
    """Two devices, bmm + add; measured = dispatch (HOST_S) + kernel floor + 3 x work: an eager call timed serially
    (the first 5 calls of each op are tiny, 1 element: dispatch + kernel floor)."""
    return write_tree(tmp_path, 80, lambda op, cost, spec: HOST_S[op] + KERNEL_FLOOR_S + 3 * _work(cost, spec),
                      tiny=5)


def test_fit_predict_round_trip_and_eager_recomposition(serial_neusight, tmp_path):
    rows = load_ops(serial_neusight, registry=REG)
    specs = {d: load_spec(d) for d in ("t4", "v100-pcie-32gb", "l4")}
    probes = runtime_probes(rows, floor_ops=("add",), quantile=0.02)
    dispatch = dispatch_costs(rows)
    X, y = kernel_targets(rows, specs, probes, dispatch)
    with pytest.raises(NotFittedError):
        KernelTimeModel().kernel_s(rows, specs, probes)
    m = KernelTimeModel(bag=2, train_rows=200, n_estimators=30, num_leaves=7, min_data_in_leaf=5).fit(
        X, y, list(probes), probes, specs, dispatch)
    assert len(m.members_) == 2 and m.members_[1].seed == 1
    # the tiny calls' dispatch is recovered (one element: a roofline time of nanoseconds on top of the floor)
    for (dev, op), host in dispatch.items():
        assert host == pytest.approx(HOST_S[op], rel=0.01), (dev, op)
    assert m.dispatch_weights_["bmm"] == pytest.approx(np.median([dispatch[(d, "bmm")] / probes[d].dispatch_floor_s
                                                                  for d in probes]))
    m2 = KernelTimeModel.load(m.save(tmp_path / "kt"))
    assert len(m2.members_) == 2 and (tmp_path / "kt" / "kernel_member_1.txt").exists()
    k1, k2 = m.kernel_s(rows, specs, probes), m2.kernel_s(rows, specs, probes)
    np.testing.assert_allclose(k1, k2)
    # the bag's log prediction is the members' mean
    one = KernelTimeModel(bag=1, train_rows=200, n_estimators=30, num_leaves=7, min_data_in_leaf=5)
    one.members_, one.dispatch_weights_ = m.members_[1:], m.dispatch_weights_
    k_second = one.kernel_s(rows, specs, probes)
    one.members_ = m.members_[:1]
    k_first = one.kernel_s(rows, specs, probes)
    np.testing.assert_allclose(k1 - KERNEL_FLOOR_S, np.sqrt((k_first - KERNEL_FLOOR_S) * (k_second - KERNEL_FLOOR_S)))
    assert (k1 >= KERNEL_FLOOR_S).all()
    # the kernel excludes the dispatch (true kernel: measured - HOST_S); dispatch + kernel recovers the eager latency
    true_kernel = rows.measured_s - np.array([HOST_S[o] for o in rows.op])
    assert np.median(np.abs(k1 / true_kernel - 1)) < 0.15
    eager = m2.eager_latency_s(rows, specs, probes)
    assert np.median(np.abs(eager / rows.measured_s - 1)) < 0.15
    # a sheet measured nowhere: the zero-shot probe, and the kernel floor a runtime asks for
    l4 = rows.take(rows.device == "t4")
    l4 = PricedOps(l4.op, l4.family, np.array(["l4"] * len(l4)), l4.measured_s, l4.flops, l4.bytes_total,
                   l4.roofline_s, l4.compute_s, l4.memory_s, l4.shapes)
    k = m2.kernel_s(l4, specs, {"l4": m2.probe_for("l4", specs["l4"])}, floor_s=1e-6)
    assert (k >= 1e-6).all() and np.isfinite(k).all()
    (tmp_path / "kt" / SIDECAR_FILE).unlink()
    with pytest.raises(InputError):
        KernelTimeModel.load(tmp_path / "kt")


@pytest.fixture(scope="module")
def analyzed(model_dir):
    from hybridperf.analysis.analyze import analyze

    return analyze(str(model_dir / "mobilenetv2_like.onnx"), batch=1)


def test_zero_shot_prices_kernels_with_the_kernel_time_model(analyzed):
    from pathlib import Path

    from hybridperf.residual.zero_shot import ZeroShotGpu, for_device, load_cross_device, load_kernel_time

    saved = Path(__file__).resolve().parents[1] / "benchmarks" / "models" / "cross-device-kernel"
    base, kt = load_cross_device(), load_kernel_time(saved)
    if kt is None:
        pytest.fail(f"the kernel-time model is missing ({saved}; benchmarks/gpu_kernel_time.py --save-model)")
    assert for_device(load_spec("t4")).kernel_time is None  # the product prices with the cross-device model
    spec = load_spec("t4")
    with_kt, ls = ZeroShotGpu(base, "torch-cudagraph", kernel_time=kt).breakdown(analyzed, spec)
    without, _ = ZeroShotGpu(base, "torch-cudagraph").breakdown(analyzed, spec)
    mapped = [i for i, ln in enumerate(ls) if ln.op is not None]
    assert mapped and all(with_kt.device_s[i] >= 2.5e-6 for i in mapped)
    unmapped = [i for i, ln in enumerate(ls) if ln.op is None]
    assert all(with_kt.device_s[i] == without.device_s[i] for i in unmapped)  # roofline kernels unchanged
    assert "without the eager dispatch" in ZeroShotGpu(base, "torch-cudagraph", kernel_time=kt).describe(
        spec, with_kt, None)
