"""ResidualModel: fit / predict, persistence, NotFittedError, unseen families, few-shot."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("lightgbm")

from hybridperf.errors import InputError, NotFittedError
from hybridperf.residual.features import KERNEL_FEATURES, MODEL_FEATURES
from hybridperf.residual.model import (
    CONTEXT_FEATURES,
    SCHEMA_VERSION,
    KernelTable,
    ResidualModel,
    kernel_context,
)
from hybridperf.residual.store import load_for_device

LOG_ROOF = MODEL_FEATURES.index("log_roofline_s")


def _synthetic(n=60, seed=0):
    """Model rows whose true log ratio depends on two features; 6 kernels per model."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(MODEL_FEATURES)))
    X[:, LOG_ROOF] = rng.uniform(np.log(1e-4), np.log(1e-1), n)
    y = 0.8 + 0.5 * np.tanh(X[:, 0]) - 0.3 * (X[:, 1] > 0)
    kx = rng.normal(size=(6 * n, len(KERNEL_FEATURES)))
    kx[:, KERNEL_FEATURES.index("log_roofline_s")] = rng.uniform(-12, -6, 6 * n)
    n_groups = sum(1 for f in KERNEL_FEATURES if f.startswith("group_"))
    kx[:, :n_groups] = np.eye(n_groups)[rng.integers(0, n_groups, 6 * n)]  # one family group per kernel
    ky = 0.5 * kx[:, 0]
    rows = np.repeat(np.arange(n), 6)
    fams = [frozenset({"conv"} if i % 2 else {"matmul", "elementwise"}) for i in range(6 * n)]
    groups = [f"g{i % 6}" for i in range(n)]
    return X, y, KernelTable(kx, ky, rows, fams), groups


def _small():
    return ResidualModel(n_estimators=40, overhead_grid_s=(0.0, 1e-5))


def test_fit_predict_round_trip():
    X, y, kt, groups = _synthetic()
    m = _small().fit(X, y, kernels=kt, groups=groups)
    assert m is not None and hasattr(m, "booster_") and m.kernel_booster_ is not None
    pred = m.predict(X, kt)
    assert pred.shape == y.shape and np.isfinite(pred).all()
    assert np.mean(np.abs(pred - y)) < np.mean(np.abs(y - y.mean()))  # learns something
    assert set(m.metrics_) >= {"train_mape_pct", "roofline_mape_pct"}
    assert m.overhead_s_ in (0.0, 1e-5)


def test_fixed_seed_is_deterministic():
    X, y, kt, groups = _synthetic()
    a = _small().fit(X, y, kernels=kt, groups=groups).predict(X, kt)
    b = _small().fit(X, y, kernels=kt, groups=groups).predict(X, kt)
    np.testing.assert_array_equal(a, b)


def test_not_fitted():
    m = ResidualModel()
    with pytest.raises(NotFittedError):
        m.predict(np.zeros((1, len(MODEL_FEATURES))))
    with pytest.raises(NotFittedError):
        m.save("/nonexistent")
    assert isinstance(NotFittedError("x"), ValueError)  # scikit-learn convention


def test_bad_shape_rejected():
    with pytest.raises(ValueError, match="columns"):
        ResidualModel().fit(np.zeros((5, 3)), np.zeros(5))


def test_persistence_text_and_json(tmp_path):
    X, y, kt, groups = _synthetic()
    m = _small().fit(X, y, kernels=kt, groups=groups, families=[{"conv", "matmul", "elementwise"}] * len(y))
    m.device = "host-xeon-2c"
    d = m.save(tmp_path / "host-xeon-2c")
    txt = (d / "residual.txt").read_text()
    assert txt.startswith("tree") and "pickle" not in txt
    meta = json.loads((d / "residual.json").read_text())
    assert meta["schema_version"] == SCHEMA_VERSION == 2 and meta["device"] == "host-xeon-2c"
    assert meta["kernel_features"] == list(KERNEL_FEATURES) + list(CONTEXT_FEATURES)
    assert meta["model_features"] == list(MODEL_FEATURES) and meta["n_train"] == len(y)
    assert {"lightgbm_version", "hybridperf_version", "trained_on", "metrics", "features_version"} <= set(meta)
    again = ResidualModel.load(d)
    np.testing.assert_array_equal(again.predict(X, kt), m.predict(X, kt))
    assert again.seen_families_ == m.seen_families_
    loaded = load_for_device("host-xeon-2c", calib_dir=tmp_path)
    np.testing.assert_array_equal(loaded.predict(X), m.predict(X))
    assert load_for_device("no-such-device", calib_dir=tmp_path) is None


def test_version_mismatch_refused(tmp_path):
    X, y, _, groups = _synthetic()
    d = _small().fit(X, y, groups=groups).save(tmp_path)
    meta = json.loads((d / "residual.json").read_text())
    meta["features_version"] = "0"
    (d / "residual.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="features"):
        ResidualModel.load(d)


def test_few_shot_adapt_recovers_offset():
    X, y, _, groups = _synthetic()
    base = _small().fit(X, y, groups=groups)
    Xn, yn, _, _ = _synthetic(seed=1)
    shift = 1.2  # the new device is exp(1.2) = 3.3x slower than the base predicts
    before = np.mean(np.abs(base.predict(Xn) - (yn + shift)))
    adapted = base.adapt(Xn[:10], yn[:10] + shift, device="new-dev")
    after = np.mean(np.abs(adapted.predict(Xn[10:]) - (yn[10:] + shift)))
    assert adapted.adaptation_["k"] == 10 and adapted.adaptation_["method"] in ("offset", "offset+slope")
    assert after < before / 2 and adapted.device == "new-dev"
    # the base model is unchanged
    assert base.adaptation_ is None and base.device != "new-dev"
    assert np.mean(np.abs(base.predict(Xn) - (yn + shift))) == before
    # the label: the base model's unless the rows measured another column
    assert adapted.label == base.label
    relabelled = base.adapt(Xn[:10], yn[:10] + shift, label="latency_min_s")
    assert relabelled.label == "latency_min_s" and base.label != "latency_min_s"


def test_unseen_family_falls_back_to_roofline(model_dir):
    """A kernel whose op family was never trained keeps its roofline time, flagged uncalibrated."""
    pytest.importorskip("tvm")
    from hybridperf.analysis.analyze import analyze
    from hybridperf.api import predict_on
    from hybridperf.residual.features import featurize

    pred = predict_on(analyze(model_dir / "bert_like.onnx", batch=1), "host-xeon-2c", residual=None)
    f = featurize(pred)
    n = len(f.kernel_groups)
    fams = sorted(set().union(*f.kernel_families))
    unseen = "norm" if "norm" in fams else fams[-1]
    rng = np.random.default_rng(0)
    X = np.tile(f.model, (20, 1)) + rng.normal(scale=0.01, size=(20, len(MODEL_FEATURES)))
    y = np.full(20, np.log(2.0))
    m = ResidualModel(n_estimators=20, overhead_grid_s=(0.0,)).fit(
        X, y, groups=[str(i % 4) for i in range(20)], families=[set(fams) - {unseen}] * 20)
    out = m.apply(pred)
    assert "uncalibrated" in out.calibration and out.calibration.startswith("lightgbm residual")
    for j, i in enumerate(f.kernel_index):
        kp = out.kernels[i]
        if unseen in f.kernel_families[j]:
            assert not kp.calibrated and kp.latency_s == pred.kernels[i].latency_s
        else:
            assert kp.calibrated
    assert n and out.latency_s > pred.roofline_latency_s


def test_kernel_context_golden():
    """Two models; model 0 has two conv kernels (1 ms, 3 ms) and one matmul (4 ms), model 1 one conv (2 ms)."""
    conv, mm = KERNEL_FEATURES.index("group_conv"), KERNEL_FEATURES.index("group_matmul")
    lr = KERNEL_FEATURES.index("log_roofline_s")
    X = np.zeros((4, len(KERNEL_FEATURES)))
    X[[0, 1, 3], conv] = 1.0
    X[2, mm] = 1.0
    X[:, lr] = np.log([1e-3, 3e-3, 4e-3, 2e-3])
    out = kernel_context(X, np.array([0, 0, 0, 1]))
    ctx = out[:, len(KERNEL_FEATURES):]
    assert out.shape == (4, len(KERNEL_FEATURES) + len(CONTEXT_FEATURES))
    np.testing.assert_allclose(np.exp(ctx[:, 0]), [4e-3, 4e-3, 4e-3, 2e-3])  # group time: 1+3 ms, 1+3, 4, 2
    np.testing.assert_allclose(np.exp(ctx[:, 1]), [2, 2, 1, 1])  # kernels in the group
    np.testing.assert_allclose(ctx[:, 2], [4 / 8, 4 / 8, 4 / 8, 2 / 2])  # group share of the model's 1+3+4 ms
    np.testing.assert_allclose(np.exp(ctx[:, 3]), [8e-3, 8e-3, 8e-3, 2e-3])


def test_constant_model_scale_round_trip(tmp_path):
    """model_estimators=1: the model-level booster is a constant; persistence keeps the setting."""
    X, y, kt, groups = _synthetic()
    m = ResidualModel(n_estimators=40, overhead_grid_s=(0.0,), model_estimators=1).fit(X, y, kernels=kt, groups=groups)
    assert m.booster_.num_trees() == 1
    again = ResidualModel.load(m.save(tmp_path))
    assert again.model_estimators == 1 and again.context
    np.testing.assert_array_equal(again.predict(X, kt), m.predict(X, kt))


def test_few_shot_group_scales_recover_a_slower_group():
    """The new device runs group_conv kernels 3x slower: per-group scales (picked by leave-one-out) fit it."""
    X, y, kt, groups = _synthetic()
    base = _small().fit(X, y, kernels=kt, groups=groups)
    T = base._group_times(X, kt)
    true_scales = np.ones(T.shape[1])
    true_scales[KERNEL_FEATURES.index("group_conv")] = 3.0
    meas = T @ true_scales + base.overhead_s_
    y_new = np.log(meas) - X[:, LOG_ROOF]
    adapted = base.adapt(X[:10], y_new[:10], kernels=_rows(kt, np.arange(10)), ridge=0.1)  # conv is ~1/6 of each model: light shrinkage
    a = adapted.adaptation_
    assert a["method"] == "group_scales" and a["loo_abs_log_error"]["group_scales"] < a["loo_abs_log_error"]["offset"]
    conv = KERNEL_FEATURES.index("group_conv")
    assert 2.5 < a["group_scales"][conv] < 3.5
    assert all(0.8 < v < 1.25 for i, v in enumerate(a["group_scales"]) if i != conv)
    got = np.exp(adapted.predict(X[10:], _rows(kt, np.arange(10, len(y)))))
    rel = np.abs(got / np.exp(y_new[10:]) - 1)
    assert np.median(rel) < 0.05


def _rows(kt, idx):
    from hybridperf.residual.model import subset

    return subset(kt, np.asarray(idx))


def test_label_round_trip_and_legacy_sidecar(tmp_path):
    """The sidecar records the label (``params.label``); a sidecar written before labels were recorded loads as
    the median (``latency_s``), the label those models were trained on."""
    X, y, _, groups = _synthetic()
    d = ResidualModel(n_estimators=20, overhead_grid_s=(0.0,), label="latency_min_s").fit(X, y, groups=groups).save(tmp_path)
    meta = json.loads((d / "residual.json").read_text())
    assert meta["params"]["label"] == "latency_min_s"
    m = ResidualModel.load(d)
    assert m.label == "latency_min_s" and m.describe().endswith("latency = fastest timed run")
    del meta["params"]["label"]
    (d / "residual.json").write_text(json.dumps(meta))
    legacy = ResidualModel.load(d)
    assert legacy.label == "latency_s" and legacy.describe().endswith("latency = median timed run")
    np.testing.assert_array_equal(legacy.predict(X), m.predict(X))


def test_packaged_per_device_cpu_model_uses_the_cpu_label():
    from hybridperf.data import packaged_dir
    from hybridperf.residual.model import CPU_TARGET

    assert ResidualModel.load(packaged_dir("models") / "host-epyc-1c").label == CPU_TARGET == "latency_min_s"


def _calibration_dir(d, measurements=True):
    """Two models (roofline 1 ms, features.csv label 2 ms), one kernel each (unit: roofline 0.5 ms, measured
    1.2 ms of its model's 2 ms); measurements.csv: fastest runs 1.5 ms (a) and 1 ms (b), b listed first."""
    import csv

    from hybridperf.residual.features import FEATURES_VERSION, KERNEL_FEATURES_VERSION

    d.mkdir()
    feats = [{"key": k, "family": "f", "features_version": FEATURES_VERSION, "roofline_latency_s": 1e-3,
              "measured_latency_s": 2e-3, "op_families": "conv", **dict.fromkeys(MODEL_FEATURES, 0.0)} for k in "ab"]
    kern = [{"key": k, "kernel_features_version": KERNEL_FEATURES_VERSION, "families": "conv", "unit_roofline_s": 5e-4,
             "unit_measured_s": 1.2e-3, "group_roofline_s": 5e-4, "group_measured_s": 1.2e-3,
             **dict.fromkeys(KERNEL_FEATURES, 0.0)} for k in "ab"]
    meas = [{"key": "b", "latency_s": 2e-3, "latency_min_s": 1e-3}, {"key": "a", "latency_s": 2e-3, "latency_min_s": 1.5e-3}]
    for name, rows in (("features.csv", feats), ("kernel_features.csv", kern), ("measurements.csv", meas))[:3 if measurements else 2]:
        with (d / name).open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return d


def test_load_table_target_by_key_rescales_kernel_labels(tmp_path):
    from hybridperf.residual.model import load_table

    d = _calibration_dir(tmp_path / "cal")
    _, y, _, _, kt, rows = load_table(d)  # features.csv's label: 2 ms over a 1 ms roofline
    np.testing.assert_allclose(np.exp(y), [2.0, 2.0])
    np.testing.assert_allclose(np.exp(kt.y), [1.2e-3 / 5e-4] * 2)
    _, y, _, _, kt, rows = load_table(d, target="latency_min_s")
    assert [r["key"] for r in rows] == ["a", "b"]
    np.testing.assert_allclose(np.exp(y), [1.5, 1.0])  # 1.5 ms / 1 ms, 1 ms / 1 ms
    np.testing.assert_allclose([float(r["measured_latency_s"]) for r in rows], [1.5e-3, 1e-3])
    # kernel times scale with their model's label: 1.2 ms x (1.5 / 2) / 0.5 ms = 1.8, 1.2 ms x (1 / 2) / 0.5 ms = 1.2
    np.testing.assert_allclose(np.exp(kt.y), [1.8, 1.2])
    with pytest.raises(InputError, match="no `latency_min_norm_s` column"):
        load_table(d, target="latency_min_norm_s")
    with pytest.raises(InputError, match="measurements.csv not found"):
        load_table(_calibration_dir(tmp_path / "bare", measurements=False), target="latency_min_s")


def test_load_table_routes_agree_on_a_calibration_directory():
    """On a directory featurized with the median, reading ``latency_s`` from measurements.csv by key gives
    features.csv's own labels, model and kernel rows alike."""
    from pathlib import Path

    from hybridperf.residual.model import load_table

    d = Path(__file__).resolve().parents[1] / "calibration" / "host-epyc-1c"
    a, b = load_table(d), load_table(d, target="latency_s")
    np.testing.assert_allclose(b[1], a[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(b[4].y, a[4].y, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(b[4].X, a[4].X)


def test_featurize_measured_labels_by_target_and_refuses_a_missing_one(tmp_path):
    """Rows are labelled by the ``target`` column; a row without a value raises, naming its key, before any
    analysis (no other column stands in for it)."""
    import onnx
    import onnx_models

    from hybridperf.residual.features import featurize_measured

    m, _ = onnx_models.resnet_like()
    for io in [*m.graph.input, *m.graph.output]:
        for dim in io.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                dim.dim_value = 1
    onnx.save(m, str(tmp_path / "r.onnx"))
    row = {"key": "r", "model": str(tmp_path / "r.onnx"), "latency_s": "0.002", "latency_min_s": "0.0015"}
    rows, _ = featurize_measured([row], None, "host-epyc-1c", target="latency_min_s")
    assert [(r["key"], float(r["measured_latency_s"]), r["measured_median_s"]) for r in rows] == [("r", 1.5e-3, "0.002")]
    logs: list[str] = []
    missing = {"key": "nope", "model": str(tmp_path / "absent.onnx"), "latency_s": "0.002", "latency_min_s": ""}
    with pytest.raises(InputError, match=r"1 row\(s\) have no `latency_min_s` value \(nope\); remeasure"):
        featurize_measured([row, missing], None, "host-epyc-1c", target="latency_min_s", log=logs.append)
    assert logs == []  # refused before analysing anything
    with pytest.raises(InputError, match="no `latency_mn_s` value"):  # a misspelt column labels nothing
        featurize_measured([row], None, "host-epyc-1c", target="latency_mn_s")
