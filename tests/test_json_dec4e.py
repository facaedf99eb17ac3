"""Regressions of the 2026-12-04 audit of the machine-readable outputs: strict JSON everywhere (one writer,
:mod:`hybridperf.json_text`), whole bytes in ``devices``, no ``nan`` / ``inf`` CSV cell."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from test_probe import _fake_cpu_result

from hybridperf.cli import ExitCode, main
from hybridperf.measure.onnxruntime import Measurement


def _strict(text: str):
    """``text`` parsed as JSON that any parser reads: NaN / Infinity / -Infinity fail."""
    def refuse(const):
        raise ValueError(f"not JSON: {const}")

    return json.loads(text, parse_constant=refuse)


def test_one_writer_refuses_or_nulls_nonfinite_and_writes_numpy_scalars():
    # until 2026-12-04 each command had its own json.dumps: calibrate's default=float wrote a numpy int as 3.0, and
    # calibrate, probe and measure wrote NaN / Infinity (invalid JSON) where predict's writers refused them
    from hybridperf.json_text import dumps

    data = {"k": np.int64(3), "share": np.float32(0.5), "ok": np.bool_(True), "rows": (1, 2)}
    assert _strict(dumps(data)) == {"k": 3, "share": 0.5, "ok": True, "rows": [1, 2]}
    for bad in (math.nan, math.inf, -math.inf, np.float32("nan"), np.float64("inf")):
        with pytest.raises(ValueError):
            dumps({"x": [bad]})
        assert _strict(dumps({"x": [bad], "y": 1.5}, nonfinite_as_null=True)) == {"x": [None], "y": 1.5}


def test_calibrate_json_writes_an_infinite_error_as_null():
    # until 2026-12-04 `calibrate --format json` wrote a held-out error over a zero measurement as Infinity
    from hybridperf.commands.calibrate import json_text

    result = {"heldout_mape_pct": {"roofline": math.inf, "adapted": 1.5}, "rows": np.int64(3)}
    assert _strict(json_text(result)) == {"heldout_mape_pct": {"roofline": None, "adapted": 1.5}, "rows": 3}


def test_probe_json_writes_an_unresolved_gemm_rate_as_null(tmp_path, capsys):
    # until 2026-12-04 a GEMM the timer measured at 0 s (infinite FLOP/s) printed `"flops_per_s": Infinity`
    from hybridperf.commands.probe import _summary

    result = _fake_cpu_result()
    gemm = (replace(result.gemm[0], flops_per_s=math.inf, best_seconds=0.0), *result.gemm[1:])
    args = argparse.Namespace(format="json", host=False)
    assert _summary(args, replace(result, gemm=gemm), SimpleNamespace(id="box"), tmp_path / "box.yaml") == ExitCode.OK
    out = _strict(capsys.readouterr().out)
    assert out["gemm"][0]["flops_per_s"] is None and out["gemm"][0]["best_seconds"] == 0.0
    assert out["gemm"][1]["flops_per_s"] == result.gemm[1].flops_per_s and out["spec_id"] == "box"


def test_measure_json_writes_a_nan_figure_as_null():
    # until 2026-12-04 `measure --format json` / `--out FILE.json` wrote a NaN figure as NaN (not JSON)
    from hybridperf.commands.measure import _json

    m = Measurement(model="m.onnx", device="host", runtime="onnxruntime", runtime_version="1.32.0", threads=1,
                    cpu_model="AMD EPYC", date_utc="2026-12-04T20:00:00+00:00", hybridperf_version="0.1.0",
                    input_shapes={"x": (2, 3)}, repeats=2, warmup=1, latency_s=2e-3, latency_p10_s=1.5e-3,
                    latency_p90_s=3e-3, latency_mean_s=2.1e-3, latency_std_s=math.nan, load_avg_1m=0.5)
    rec = _strict(_json(m))
    assert rec["latency_std_s"] is None and rec["latency_s"] == 2e-3 and rec["input_shapes"] == {"x": [2, 3]}


def test_devices_json_capacity_is_whole_bytes(capsys):
    # until 2026-12-04 `devices --format json` listed a probed sheet's 23.54 GiB as 25275882536.96 bytes, where
    # predict's device_capacity_bytes and check's device_capacity give the whole 25275882537
    assert main(["devices", "--format", "json"]) == ExitCode.OK
    rows = {r["id"]: r for r in _strict(capsys.readouterr().out)}
    cap = rows["host-epyc-1c"]["dram_capacity_bytes"]
    assert cap == round(23.54 * 2**30) and isinstance(cap, int)
    assert rows["t4"]["dram_capacity_bytes"] == 16 * 10**9  # a sheet in whole bytes is as it was


def test_predict_many_csv_refuses_a_nonfinite_figure():
    # until 2026-12-04 a row's NaN latency was the CSV cell "nan" (read as a number) where to_json raised
    from hybridperf.report.many import to_csv

    row = {"model": "m.onnx", "status": "ok", "latency_s": math.nan, "unknown_fields": []}
    with pytest.raises(ValueError, match="latency_s is nan"):
        to_csv([row], "t4")
    assert to_csv([{**row, "latency_s": None}], "t4").splitlines()[1].startswith("t4,m.onnx,ok,,")
