"""``hybridperf calibrate`` exit codes and a small end-to-end training run."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from hybridperf.cli import main


def test_missing_data_dir_exit_2(tmp_path, capsys):
    code = main(["calibrate", "--device", "host-xeon-2c", "--data", str(tmp_path / "nope")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "does not exist" in err


def test_missing_features_exit_2(tmp_path, capsys):
    code = main(["calibrate", "--device", "host-xeon-2c", "--data", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "featurize" in err and len(err.splitlines()) == 1


def test_unknown_device_exit_2(tmp_path, capsys):
    code = main(["calibrate", "--device", "no-such-device", "--data", str(tmp_path)])
    assert code == 2


def test_few_shot_needs_base(tmp_path, capsys):
    code = main(["calibrate", "--device", "host-xeon-2c", "--data", str(tmp_path), "--few-shot", "10"])
    assert code == 2 and "--base-device" in capsys.readouterr().err


def test_train_and_store(tmp_path, capsys):
    pytest.importorskip("lightgbm")
    from hybridperf.residual.features import FEATURES_VERSION, MODEL_FEATURES

    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    with (data / "features.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["key", "family", "features_version", "roofline_latency_s", "measured_latency_s",
                                           "op_families", *MODEL_FEATURES])
        w.writeheader()
        for i in range(30):
            feats = dict(zip(MODEL_FEATURES, rng.normal(size=len(MODEL_FEATURES))))
            roof = 10 ** rng.uniform(-4, -1)
            feats["log_roofline_s"] = np.log(roof)
            w.writerow({"key": f"m{i}", "family": f"f{i % 5}", "features_version": FEATURES_VERSION,
                        "roofline_latency_s": roof, "measured_latency_s": roof * 2, "op_families": "conv|elementwise", **feats})
    out = tmp_path / "model"
    code = main(["calibrate", "--device", "host-xeon-2c", "--data", str(data), "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "trained on 30 measurements" in text and "train_mape_pct" in text
    assert (out / "residual.txt").exists() and (out / "residual.json").exists()
