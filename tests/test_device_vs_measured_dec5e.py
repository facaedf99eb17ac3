"""``benchmarks.device_vs_measured``: its table and its per-configuration CSV, against a faked CLI.

Until 2026-12-05 (evening) the script wrote aggregates only, so a README figure for one model (SqueezeNet 1.1's
prediction on the 2-thread Zen 1) had no file behind it; ``--per-model`` writes each configuration's prediction and
measurements.
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import pytest

from benchmarks import device_vs_measured as dvm

FIELDS = ("key", "model", "latency_min_s")


def _runs(d: Path, rows: list[tuple[str, str, float]]) -> Path:
    d.mkdir()
    with (d / "measurements.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        w.writerows(rows)
    return d


def _fake_cli(tmp_path: Path, predictions: dict[str, str]) -> Path:
    """A ``hybridperf`` stand-in whose ``predict-many --format csv`` prints ``predictions`` (model -> latency_s)."""
    body = "\\n".join(["model,status,latency_s", *(f"{m},ok,{v}" if v else f"{m},error,"
                                                    for m, v in predictions.items())])
    exe = tmp_path / "fake_hybridperf"
    exe.write_text(f"#!{sys.executable}\nprint('{body}')\n")
    exe.chmod(0o755)
    return exe


@pytest.fixture
def no_hazards(monkeypatch):
    import benchmarks.subnormal_scan as scan

    monkeypatch.setattr(scan, "hazard_keys", lambda path=None: frozenset())


def test_per_model_csv_and_table(tmp_path, no_hazards):
    a = _runs(tmp_path / "run", [("m1", "a.onnx", 0.010), ("m2", "b.onnx", 0.020), ("m3", "c.onnx", 0.040)])
    b = _runs(tmp_path / "retest", [("m1", "a.onnx", 0.0125), ("m2", "b.onnx", 0.020), ("m3", "c.onnx", 0.040)])
    exe = _fake_cli(tmp_path, {"a.onnx": "0.011", "b.onnx": "0.022", "c.onnx": ""})
    out, per = tmp_path / "t.md", tmp_path / "per.csv"
    assert dvm.main(["--data", str(a), str(b), "--device", "dev", "--hybridperf", str(exe),
                     "--out", str(out), "--per-model", str(per)]) == 0
    rows = list(csv.DictReader(per.open()))
    assert [r["model"] for r in rows] == ["a.onnx", "b.onnx", "c.onnx"]
    assert rows[0]["device"] == "dev"
    assert float(rows[0]["measured_s"]) == pytest.approx(math.sqrt(0.010 * 0.0125), rel=1e-5)
    assert float(rows[0][f"measured_s:{a}"]) == 0.010 and float(rows[0][f"measured_s:{b}"]) == 0.0125
    assert float(rows[1]["predicted_s"]) == 0.022
    assert rows[2]["predicted_s"] == ""  # an unknown prediction stays empty, never 0
    text = out.read_text()
    # a.onnx: 0.011 / sqrt(0.010 * 0.0125) - 1; b.onnx: 0.022 / 0.020 - 1; c.onnx unknown, not scored
    e1, e2 = abs(0.011 / math.sqrt(0.010 * 0.0125) - 1), abs(0.022 / 0.020 - 1)
    assert f"| `dev` | 2 (1 unknown) | {100 * (e1 + e2) / 2:.1f} % |" in text
    assert f"--out {out} --per-model {per}" in text  # the reproduce line names what was written


def _stored(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("device", "model", "status", "latency_s"))
        w.writerows(rows)
    return path


def test_stored_predictions_are_scored_without_the_cli(tmp_path, no_hazards):
    """``--predictions``: a stored ``predict-many --format csv`` output (written before the measurements, 2026-12-06)
    is scored as the CLI's would be; the CLI is not run (a path that does not exist would fail)."""
    a = _runs(tmp_path / "run", [("m1", "a.onnx", 0.010), ("m2", "b.onnx", 0.020)])
    pred = _stored(tmp_path / "zs.csv", [("dev", "a.onnx", "ok", "0.012"), ("dev", "b.onnx", "ok", "0.019"),
                                         ("dev", "z.onnx", "ok", "0.5")])  # a model not measured is not scored
    out, per = tmp_path / "t.md", tmp_path / "per.csv"
    assert dvm.main(["--data", str(a), "--predictions", str(pred), "--hybridperf", str(tmp_path / "no-such-cli"),
                     "--out", str(out), "--per-model", str(per)]) == 0
    text = out.read_text()
    mape = 100 * (abs(0.012 / 0.010 - 1) + abs(0.019 / 0.020 - 1)) / 2
    assert f"| `dev` (stored: `{pred}`) | 2 | {mape:.1f} % | 50 % |" in text
    assert f"--predictions {pred}" in text
    assert [r["device"] for r in csv.DictReader(per.open())] == ["dev", "dev"]


def test_stored_predictions_must_cover_every_measured_model(tmp_path, no_hazards):
    a = _runs(tmp_path / "run", [("m1", "a.onnx", 0.010), ("m2", "b.onnx", 0.020)])
    pred = _stored(tmp_path / "zs.csv", [("dev", "a.onnx", "ok", "0.012")])
    with pytest.raises(SystemExit, match="no prediction of 1 measured model"):
        dvm.main(["--data", str(a), "--predictions", str(pred)])
    two = _stored(tmp_path / "two.csv", [("d1", "a.onnx", "ok", "0.01"), ("d2", "b.onnx", "ok", "0.02")])
    with pytest.raises(SystemExit, match="predictions of 2 devices"):
        dvm.main(["--data", str(a), "--predictions", str(two)])
    with pytest.raises(SystemExit):
        dvm.main(["--data", str(a)])  # neither a device nor a stored file
