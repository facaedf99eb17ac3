"""Regressions of the 2026-12-04 JSON audit: an unknown figure is null in every machine-readable output, never 0.

1. ``predict --format json``'s ``totals`` and ``predict-many``'s JSON / JSONL rows wrote a lower bound of 0 (nothing
   priced) as ``0``, named only in ``unknown_fields``; now ``null`` (CSV: an empty cell), ``unknown_fields`` kept.
2. ``calibrate --measure`` with a model whose roofline is 0 (NonZero or Reshape alone) measured it, then stopped with
   a ZeroDivisionError (exit 3); now it is left out before measuring, named on stderr.
3. Stored sidecars were written by plain ``json.dumps``: a NaN was stored as ``NaN`` (not JSON); now strict, through
   the one writer, :mod:`hybridperf.json_text`, which moved below every layer (it was ``hybridperf.report``'s).
4. ``devices show --format json`` left out a figure the sheet does not give; now the key is there, null.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper
from test_calib_flow_dec4 import _fake_measuring, _host_home, _static_models

from hybridperf.cli import ExitCode, main
from hybridperf.errors import InputError

F32 = TensorProto.FLOAT


def _save(nodes, inputs, outputs, path, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def _nonzero(path: Path) -> Path:
    """NonZero alone: nothing priced (its output size is data-dependent)."""
    return _save([helper.make_node("NonZero", ["x"], ["y"])], [helper.make_tensor_value_info("x", F32, [4, 8])],
                 [helper.make_tensor_value_info("y", TensorProto.INT64, None)], path)


def _reshape(path: Path) -> Path:
    """Reshape alone: a zero-cost op, no kernel, a roofline of 0."""
    return _save([helper.make_node("Reshape", ["x", "s"], ["y"])], [helper.make_tensor_value_info("x", F32, [4, 8])],
                 [helper.make_tensor_value_info("y", F32, [32])], path,
                 [numpy_helper.from_array(np.array([32], dtype=np.int64), "s")])


def _relu(path: Path) -> Path:
    return _save([helper.make_node("Relu", ["x"], ["y"])], [helper.make_tensor_value_info("x", F32, [4, 8])],
                 [helper.make_tensor_value_info("y", F32, [4, 8])], path)


@pytest.fixture(scope="module")
def nonzero(tmp_path_factory) -> Path:
    return _nonzero(tmp_path_factory.mktemp("null") / "nonzero.onnx")


# --------------------------------------------------------------------------- 1. unknown totals are null


def test_predict_json_totals_of_nothing_priced_are_null(nonzero, capsys):
    """Until 2026-12-04: ``"latency_s": 0.0, "roofline_latency_s": 0.0, "energy_j": 0.0, "flops": 0`` beside
    ``unknown_fields`` naming them."""
    assert main(["predict", str(nonzero), "-d", "host-epyc-1c", "--format", "json"]) == ExitCode.OK
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["lower_bound"] is True
    assert totals["unknown_fields"] == ["latency_s", "roofline_latency_s", "energy_j", "flops", "bytes_read",
                                        "bytes_written"]
    assert {k: totals[k] for k in totals["unknown_fields"]} == dict.fromkeys(totals["unknown_fields"])


def test_the_python_prediction_keeps_its_floats(nonzero):
    """Only the reports change: ``Prediction.latency_s`` stays a float, ``unknown_figures`` names it."""
    from hybridperf.api import analyze, predict_on

    pred = predict_on(analyze(str(nonzero)), "host-epyc-1c", residual=None)
    assert pred.latency_s == 0.0 and isinstance(pred.latency_s, float) and "latency_s" in pred.unknown_figures


def test_predict_many_rows_of_nothing_priced_are_null(nonzero, tmp_path, capsys):
    """Until 2026-12-04 the JSON and JSONL rows held 0 where the CSV left the cell empty."""
    d = tmp_path / "m"
    d.mkdir()
    shutil.copy(nonzero, d)
    _relu(d / "relu.onnx")
    args = ["predict-many", str(d), "-d", "t4", "--jobs", "1"]
    assert main([*args, "--format", "json"]) == ExitCode.OK
    rows = {Path(r["model"]).name: r for r in json.loads(capsys.readouterr().out)["models"]}
    nz = rows["nonzero.onnx"]
    assert nz["unknown_fields"] == ["latency_s", "energy_j", "flops"]
    assert nz["latency_s"] is None and nz["energy_j"] is None and nz["flops"] is None
    assert rows["relu.onnx"]["flops"] == 4 * 8 and rows["relu.onnx"]["unknown_fields"] == []  # one max per element
    out = tmp_path / "rows.jsonl"
    assert main([*args, "--output", str(out)]) == ExitCode.OK
    capsys.readouterr()
    line = next(json.loads(x) for x in out.read_text().splitlines() if "nonzero.onnx" in x)
    assert line["latency_s"] is None and line["energy_j"] is None and line["flops"] is None
    assert main([*args, "--format", "csv"]) == ExitCode.OK
    cells = next(r for r in csv.DictReader(io.StringIO(capsys.readouterr().out)) if r["model"].endswith("nonzero.onnx"))
    assert cells["latency_s"] == cells["energy_j"] == cells["flops"] == ""  # empty, as before
    # the table reads the null as unknown
    assert main(args) == ExitCode.OK
    row = next(x for x in capsys.readouterr().out.splitlines() if "nonzero.onnx" in x)
    assert row.split()[1:3] == ["unknown", "unknown"]


def test_mig_json_latency_of_nothing_priced_is_null(nonzero, capsys):
    assert main(["mig", str(nonzero), "-d", "a100-sxm-80gb", "--allow-unsupported", "--format", "json"]) == ExitCode.OK
    d = json.loads(capsys.readouterr().out)
    assert d["unknown_fields"] == ["latency_s"] and {p["latency_s"] for p in d["profiles"]} == {None}


# --------------------------------------------------------------------------- 2. calibrate leaves a roofline of 0 out


def test_calibrate_leaves_out_a_model_without_a_roofline(tmp_path, capsys, monkeypatch):
    """Until 2026-12-04 a NonZero-only or Reshape-only model was measured, then ``load_table`` divided by its roofline
    of 0: ZeroDivisionError, exit 3. Now each is named on stderr and left out before measuring."""
    _host_home(tmp_path, monkeypatch)
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4))
    m = tmp_path / "m"
    models = [*_static_models(m), _nonzero(m / "nonzero.onnx"), _reshape(m / "reshape.onnx")]
    code = main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == ExitCode.OK
    left = {Path(r["model"]).name: r["why"] for r in json.loads(out)["left_out_unpriced"]}
    assert left == {"nonzero.onnx": "roofline 0: nothing priced (1 op type without a cost: relax.nonzero)",
                    "reshape.onnx": "roofline 0: only zero-cost ops (no kernel)"}
    assert (f"hybridperf: warning: {models[3]}: roofline 0: nothing priced (1 op type without a cost: relax.nonzero), "
            "so no calibration can learn from it; left out of the calibration") in err.splitlines()


def test_calibrate_with_fewer_than_two_priced_models_is_refused(tmp_path, capsys, monkeypatch):
    import hybridperf.measure.calibrate as cal
    from test_calib_flow_dec4 import _never

    _host_home(tmp_path, monkeypatch)
    monkeypatch.setattr(cal, "measure_rounds", _never)
    m = tmp_path / "m"
    m.mkdir()
    models = [_nonzero(m / "nonzero.onnx"), _reshape(m / "reshape.onnx"), _relu(m / "relu.onnx")]
    code = main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1"])
    err = capsys.readouterr().err.splitlines()
    assert code == ExitCode.INPUT_ERROR
    assert err[-1] == ("hybridperf: error: only 1 of 3 models have a roofline above 0 (some op priced); calibration "
                       "needs 2: add models with priced ops (Conv, MatMul, ...)")


def test_a_table_row_without_a_roofline_is_an_input_error(tmp_path):
    """``--data`` with such a row (a table built elsewhere) was the same ZeroDivisionError."""
    from hybridperf.residual.features import FEATURES_VERSION, MODEL_FEATURES
    from hybridperf.residual.model import load_table

    cols = ["key", "features_version", "measured_latency_s", "roofline_latency_s", *MODEL_FEATURES]
    rows = [{**dict.fromkeys(MODEL_FEATURES, "1"), "key": k, "features_version": FEATURES_VERSION,
             "measured_latency_s": "0.001", "roofline_latency_s": roof} for k, roof in (("a", "0.0005"), ("b", "0.0"))]
    with (tmp_path / "features.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, [*dict.fromkeys(cols)])
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(InputError, match=r"1 row\(s\) have a roofline of 0 \(nothing priced\).*\(b\); drop those rows"):
        load_table(tmp_path, kernels=False)


# --------------------------------------------------------------------------- 3. one strict JSON writer, below all


def test_json_text_lives_below_every_layer():
    """The residual and measure layers may not import the report layer; the writer moved, no shim left behind."""
    import hybridperf.json_text as jt

    assert importlib.util.find_spec("hybridperf.report.json_text") is None
    source = Path(jt.__file__).read_text()
    assert "from hybridperf" not in source and "import hybridperf" not in source


def test_a_sidecar_with_a_nan_raises(tmp_path):
    """Until 2026-12-04 ``write_sidecar`` stored ``NaN`` (``json.dumps``'s default), which no JSON parser reads."""
    from hybridperf.residual.sidecar import write_sidecar

    with pytest.raises(ValueError):
        write_sidecar(tmp_path / "s.json", {"metrics": {"mape": math.nan}})
    write_sidecar(tmp_path / "s.json", {"metrics": {"mape": np.float64(1.5)}, "n": np.int64(3)})  # numpy: its number
    d = json.loads((tmp_path / "s.json").read_text())
    assert d["metrics"] == {"mape": 1.5} and d["n"] == 3


def test_a_host_identity_with_a_nan_raises(tmp_path):
    from hybridperf.measure.host import _write_identity

    with pytest.raises(ValueError):
        _write_identity(tmp_path, {"vendor": "AuthenticAMD", "mhz": math.inf}, "2026-12-04", "test")


# --------------------------------------------------------------------------- 4. devices show: null, not left out


def test_devices_show_json_has_every_key(tmp_path, capsys):
    """Until 2026-12-04 ``memory.dram.capacity`` and ``compute_units.*`` were left out where the sheet gives none, and
    ``notes`` was "" without notes."""
    from hybridperf.device.spec import default_spec_dir

    assert main(["devices", "show", "ethos-u55", "--format", "json"]) == ExitCode.OK
    d = json.loads(capsys.readouterr().out)
    assert d["memory"]["dram"]["capacity"] is None and d["memory"]["dram"]["attainable_bandwidth"] is None
    assert d["compute_units"] == {"count": None, "fp32_lanes_per_unit": None, "boost_clock": None}
    raw = yaml.safe_load((default_spec_dir() / "ethos-u55.yaml").read_text())
    del raw["notes"]
    (tmp_path / "ethos-u55.yaml").write_text(yaml.safe_dump(raw))
    assert main(["devices", "show", "ethos-u55", "--spec-dir", str(tmp_path), "--format", "json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["notes"] is None
    assert main(["devices", "show", "ethos-u55", "--spec-dir", str(tmp_path)]) == ExitCode.OK
    assert "notes:" not in capsys.readouterr().out  # the table: no notes line, as before
