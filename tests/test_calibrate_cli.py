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


def _write_table(data, n: int = 30, with_measurements: bool = True) -> None:
    """A features.csv labelled 2x roofline and, optionally, a measurements.csv whose fastest run is 1.5x roofline."""
    from hybridperf.residual.features import FEATURES_VERSION, MODEL_FEATURES

    rng = np.random.default_rng(0)
    data.mkdir()
    feat, meas = [], []
    for i in range(n):
        feats = dict(zip(MODEL_FEATURES, rng.normal(size=len(MODEL_FEATURES))))
        roof = 10 ** rng.uniform(-4, -1)
        feats["log_roofline_s"] = np.log(roof)
        feat.append({"key": f"m{i}", "family": f"f{i % 5}", "features_version": FEATURES_VERSION,
                     "roofline_latency_s": roof, "measured_latency_s": roof * 2, "op_families": "conv|elementwise", **feats})
        meas.append({"key": f"m{i}", "latency_s": roof * 2, "latency_min_s": roof * 1.5})
    tables = [("features.csv", feat)] + ([("measurements.csv", meas)] if with_measurements else [])
    for name, rows in tables:
        with (data / name).open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


def test_train_and_store(tmp_path, capsys):
    pytest.importorskip("lightgbm")
    from hybridperf.residual.model import ResidualModel, load_table

    data = tmp_path / "data"
    _write_table(data)
    out = tmp_path / "model"
    code = main(["calibrate", "--device", "host-xeon-2c", "--data", str(data), "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "trained on 30 measurements" in text and "train_mape_pct" in text
    assert "latency = fastest timed run" in text
    assert (out / "residual.txt").exists() and (out / "residual.json").exists()
    # trained on the fastest run (1.5x roofline), not features.csv's median (2x)
    model = ResidualModel.load(out)
    X, *_ = load_table(data)
    assert model.label == "latency_min_s"
    assert np.allclose(np.exp(model.predict(X)), 1.5, rtol=0.02)


def test_train_on_features_label(tmp_path, capsys):
    """Without measurements.csv the CPU label cannot be read: exit 2 naming the file and --target; with
    ``--target measured_latency_s`` features.csv's own label (2x roofline) is learnt."""
    pytest.importorskip("lightgbm")
    from hybridperf.residual.model import ResidualModel, load_table

    data = tmp_path / "data"
    _write_table(data, with_measurements=False)
    out = tmp_path / "model"
    code = main(["calibrate", "--device", "host-xeon-2c", "--data", str(data), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "measurements.csv not found" in err and "--target measured_latency_s" in err
    assert len(err.splitlines()) == 1
    code = main(["calibrate", "--device", "host-xeon-2c", "--data", str(data), "--out", str(out),
                 "--target", "measured_latency_s"])
    assert code == 0, capsys.readouterr()
    model = ResidualModel.load(out)
    X, *_ = load_table(data)
    assert model.label == "measured_latency_s"
    assert np.allclose(np.exp(model.predict(X)), 2.0, rtol=0.02)


def test_target_with_measure_refused(tmp_path, capsys):
    code = main(["calibrate", "--device", "host", "--measure", str(tmp_path), "--target", "latency_s"])
    assert code == 2 and "--target goes with --data" in capsys.readouterr().err


def test_data_errors_name_what_data_takes(tmp_path, capsys):
    """``--data`` with ``host`` (said "unknown device 'host'"), a directory for a GPU (said its rows "do not exist"),
    and a directory without tables (named a benchmarks script only): one line each, exit 2, naming the fix."""
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (["--device", "host", "--data", str(empty)],
         "--data trains on tables featurized for a named CPU sheet; for this machine measure instead: hybridperf "
         "calibrate --device host --measure MODEL.onnx ..."),
        (["--device", "h100-sxm", "--data", str(empty)],
         f"--data {empty} is a directory; for a GPU it takes the CSV file of measured rows (columns model, batch, "
         "dtype, status, latency_median_s, onnx_file)"),
        (["--device", "host-xeon-2c", "--data", str(tmp_path / "nope")],
         f"data directory {tmp_path / 'nope'} does not exist; measure with `hybridperf calibrate --device host-xeon-2c "
         "--measure MODEL.onnx ...` on that machine instead"),
    ]
    for argv, line in cases:
        assert main(["calibrate", *argv]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err == f"hybridperf: error: {line}\n"
    assert main(["calibrate", "--device", "host-xeon-2c", "--data", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "features.csv not found" in err and "--measure MODEL.onnx" in err
