"""The cross-device model's local correction from dense family probes, the probe-shape file and the GPU probe's
call counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from neusight_fake import write_tree

from hybridperf.costs import build_registry
from hybridperf.device.spec import load_spec
from hybridperf.errors import InputError
from hybridperf.estimate.roofline import roofline
from hybridperf.residual.cross_device import (
    CrossDeviceModel,
    FAMILY_PROBE_SHAPES,
    baseline,
    family_probe_ops,
    family_scales,
    featurize,
    local_features,
    local_offsets,
    runtime_probes,
)
from hybridperf.residual.neusight import SHAPE_COLUMNS, load_ops, op_dims, shape_row

REG = build_registry(check_exists=False)


def test_local_offsets_golden():
    # one feature, family "bmm": rows at 0, 1, 4; probes at 0 (residual 0.3) and 1 (residual -0.1); "add" no probe
    features = np.array([[0.0], [1.0], [4.0], [0.0]])
    family = np.array(["bmm", "bmm", "bmm", "add"])
    probe = np.array([True, True, False, False])
    resid = np.array([0.3, -0.1, 99.0, 99.0])  # read on probe rows only
    scales = {"bmm": (np.array([0.0]), np.array([2.0])), "add": (np.array([0.0]), np.array([1.0]))}
    got = local_offsets(features, family, resid, probe, scales, bandwidth=0.5, prior=0.1)
    # standardised: rows 0, 0.5, 2; probes 0, 0.5; w = exp(-d^2 / (2 * 0.25)) = exp(-2 d^2)
    w = lambda d: math.exp(-2 * d * d)  # noqa: E731
    want = [(w(a) * 0.3 + w(a - 0.5) * -0.1) / (w(a) + w(a - 0.5) + 0.1) for a in (0.0, 0.5, 2.0)]
    np.testing.assert_allclose(got, [*want, 0.0])
    # a feature constant in the family's training rows (sd 0) is left out of the distance
    two = np.column_stack([features[:, 0], [5.0, 7.0, 9.0, 1.0]])
    scales2 = {"bmm": (np.array([0.0, 0.0]), np.array([2.0, 0.0]))}
    np.testing.assert_allclose(local_offsets(two, family, resid, probe, scales2, 0.5, 0.1), [*want, 0.0])
    for bad in ((0.0, 0.1), (0.5, -1.0)):
        with pytest.raises(InputError):
            local_offsets(features, family, resid, probe, scales, *bad)


def test_local_features_and_family_scales():
    shapes = [("bmm", {"B": 2, "M": 3, "N": 4, "K": 5}), ("ln", {"B": 7, "H": 9}), ("ln", {"B": 1, "H": 9})]
    rows = family_probe_ops("t4", load_spec("t4"), [1e-4] * 3, shapes)
    F = local_features(rows)
    assert F.shape == (3, len(SHAPE_COLUMNS) + 2)
    i = SHAPE_COLUMNS.index("gemm_k")
    assert F[0, i] == pytest.approx(math.log(1 + 5))
    assert F[0, -2] == pytest.approx(math.log(1 + 2 * 2 * 3 * 4 * 5))  # log1p(FLOPs)
    sc = family_scales(F, rows.family)
    assert set(sc) == {"bmm", "layer_norm"}
    mean, sd = sc["layer_norm"]
    j = SHAPE_COLUMNS.index("batch")
    assert mean[j] == pytest.approx((math.log(8) + math.log(2)) / 2)
    assert sd[SHAPE_COLUMNS.index("row")] == 0.0  # both rows 9 long


def test_local_correction_in_predict_latency_and_round_trip(tmp_path):
    # training GPUs: 3 x roofline + 20 us. The target (t4) runs the larger half of bmm calls (by FLOPs) twice as slow
    # as the model predicts: one offset per family cannot fit both halves; smoothing over shape features can
    root = write_tree(tmp_path / "data", 80, lambda op, cost, spec: 3 * roofline(cost, spec).latency_s + 2e-5)
    rows = load_ops(root, registry=REG)
    specs = {d: load_spec(d) for d in ("t4", "v100-pcie-32gb")}
    probes = runtime_probes(rows, floor_ops=("add",), quantile=0.0)
    X, y = featurize(rows, specs, probes), np.log(rows.measured_s / baseline(rows, specs, probes))
    scales = family_scales(local_features(rows), rows.family)
    small = {"n_estimators": 20, "num_leaves": 7, "min_data_in_leaf": 5, "family_shrink": 1.0}
    with pytest.raises(InputError):  # the local correction needs the training rows' scales
        CrossDeviceModel(**small, local_bandwidth=0.5).fit(X, y, probes=probes, specs=specs)
    plain = CrossDeviceModel(**small).fit(X, y, devices=list(specs), probes=probes, specs=specs)
    local = CrossDeviceModel(**small, local_bandwidth=0.5, local_prior=0.01).fit(
        X, y, devices=list(specs), probes=probes, specs=specs, shape_scales=scales)
    assert set(local.local_scales_) == {"bmm", "elementwise"} and plain.local_scales_ == {}
    t4 = rows.take((rows.device == "t4") & (rows.op == "bmm"))
    slow = t4.flops > np.median(t4.flops)
    truth = plain.predict_latency(t4, specs) * np.where(slow, 2.0, 1.0)
    # 16 probes: bmm shapes of t4's own rows (every other one), measured at the truth
    idx = np.arange(0, 32, 2)
    shapes = [("bmm", {"B": int(t4.shapes["batch"][i]), "M": int(t4.shapes["gemm_m"][i]),
                       "N": int(t4.shapes["gemm_n"][i]), "K": int(t4.shapes["gemm_k"][i])}) for i in idx]
    fp = family_probe_ops("t4", specs["t4"], truth[idx], shapes)
    rest = np.setdiff1d(np.arange(len(t4)), idx)
    err = {}
    for name, m in (("plain", plain), ("local", local)):
        got = m.predict_latency(t4, specs, family_probes={"t4": fp})
        err[name] = float(np.mean(np.abs(got[rest] / truth[rest] - 1)))
    assert err["local"] < 0.5 * err["plain"]
    # the correction is the documented one: local_offsets of the probes' residuals left after the family offset
    resid_plain = np.log(fp.measured_s / plain.predict_latency(fp, specs, family_probes={"t4": fp}))
    F = np.vstack([local_features(fp), local_features(t4)])
    fam = np.concatenate([fp.family, t4.family])
    n = len(fp)
    corr = local_offsets(F, fam, np.concatenate([resid_plain, np.zeros(len(t4))]), np.arange(n + len(t4)) < n,
                         local.local_scales_, 0.5, 0.01)[n:]
    np.testing.assert_allclose(local.predict_latency(t4, specs, family_probes={"t4": fp}),
                               plain.predict_latency(t4, specs, family_probes={"t4": fp}) * np.exp(corr), rtol=1e-9)
    # no family probes: the local correction does nothing
    np.testing.assert_allclose(local.predict_latency(t4, specs), plain.predict_latency(t4, specs))
    again = CrossDeviceModel.load(local.save(tmp_path / "m"))
    assert again.get_params()["local_bandwidth"] == 0.5
    np.testing.assert_allclose(again.predict_latency(t4, specs, family_probes={"t4": fp}),
                               local.predict_latency(t4, specs, family_probes={"t4": fp}))


def test_op_dims_maps_shape_rows_to_neusight_dims(tmp_path):
    root = write_tree(tmp_path / "data", 5, lambda op, cost, spec: 1e-4)
    dims = op_dims(root, "bmm")
    assert 1 <= len(dims) <= 10  # 5 calls on each of the two GPUs
    for key, d in dims.items():
        assert set(d) == {"B", "M", "N", "K"} and shape_row("bmm", d) == key
    with pytest.raises(InputError):
        op_dims(root, "nope")


def test_packaged_probe_shapes_price_and_are_distinct():
    keys = {(op, shape_row(op, d)) for op, d in FAMILY_PROBE_SHAPES}
    assert len(keys) == len(FAMILY_PROBE_SHAPES)
    rows = family_probe_ops("a100-pcie-40gb", load_spec("a100-pcie-40gb"), [1e-4] * len(FAMILY_PROBE_SHAPES))
    assert np.all(rows.flops > 0) and np.all(rows.bytes_total > 0)


def test_probe_calls_fit_the_budget():
    from hybridperf.measure.torch_cuda import probe_calls

    assert probe_calls(1e-5, 3, 20, 0.25) == (2, 20)  # everything fits
    assert probe_calls(0.01, 3, 20, 0.25) == (2, 20)  # 25 calls fit: 22 needed
    assert probe_calls(0.0115, 3, 20, 0.25) == (1, 20)  # 21 fit: 20 timed, 1 warm-up more
    assert probe_calls(0.05, 3, 20, 0.25) == (0, 5)  # 5 fit
    assert probe_calls(1.0, 3, 20, 0.25) == (0, 3)  # at least 3 timed calls
    assert probe_calls(0.0, 3, 20, 0.25) == (2, 20)
