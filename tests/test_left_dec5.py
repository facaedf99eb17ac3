"""Leftovers of 2026-12-05: file names that are not UTF-8 in JSON documents, ``calibrate --measure``'s analysis time
of its first model, and two ``calibrate --measure`` refusals moved into the option table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_cli_fuzz_audit import _tiny

from hybridperf.cli import main
from hybridperf.json_text import dumps, escape_undecodable


@pytest.fixture
def undecodable(tmp_path) -> Path:
    """A model file whose name holds byte 0xff (not UTF-8): Python names it with the lone surrogate U+DCFF."""
    path = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xffname.onnx"))
    _tiny(path)
    assert b"bad\xffname.onnx" in os.listdir(os.fsencode(str(tmp_path)))
    return path


def _strict_json(text: str):
    """``text`` read as a strict reader would: UTF-8 bytes first, then JSON whose strings are all UTF-8 text."""
    doc = json.loads(text.encode("utf-8").decode("utf-8"))
    json.dumps(doc, ensure_ascii=False).encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
    return doc


# ------------------------------------------------------------------ 1. file names that are not UTF-8, in JSON
# until 2026-12-05 the JSON documents held the lone surrogate's escape, "bad\udcffname.onnx": json.loads gave back a
# string UTF-8 cannot encode, and strict JSON readers refused the document


def test_dumps_writes_undecodable_bytes_as_their_escape_text():
    assert dumps({"m\udcff": ["x\udcfe", ("ü",)]}, indent=None) == '{"m\\\\udcff": ["x\\\\udcfe", ["\\u00fc"]]}'
    assert json.loads(dumps(Path("bad\udcff.onnx"), default=str)) == "bad\\udcff.onnx"  # default's text too
    assert escape_undecodable("plain ü \U0001F600") == "plain ü \U0001F600"  # a valid pair is no surrogate


def test_predict_json_undecodable_name(capsys, home, undecodable):
    assert main(["predict", str(undecodable), "-d", "t4", "--format", "json"]) == 0
    doc = _strict_json(capsys.readouterr().out)
    assert doc["model"] == str(undecodable.parent) + "/bad\\udcffname.onnx"  # as the table shows it on UTF-8 stdout


def test_predict_many_json_undecodable_name(capsys, home, undecodable):
    assert main(["predict-many", str(undecodable), "-d", "t4", "--format", "json"]) == 0
    doc = _strict_json(capsys.readouterr().out)
    assert [r["model"] for r in doc["models"]] == [str(undecodable.parent) + "/bad\\udcffname.onnx"]


def test_predict_many_output_resumes_undecodable_name(capsys, home, undecodable, tmp_path):
    # with the rows' names escaped, the row read back must still be the file's: predicted once, resumed after
    rows = tmp_path / "rows.jsonl"
    for _ in range(2):
        assert main(["predict-many", str(undecodable), "-d", "t4", "-o", str(rows)]) == 0
    assert "reused 1 row" in capsys.readouterr().err
    lines = rows.read_bytes().decode("utf-8").splitlines()
    assert len(lines) == 1
    assert _strict_json(lines[0])["model_file"][0].endswith("/bad\\udcffname.onnx")


# ------------------------------------------------------------------ 2. calibrate --measure: analysis_s
# until 2026-12-05 the first model's analysis_s held TVM's start-up (0.85 s against 0.007 s for the same tiny model
# analysed next in the same process)

def test_first_analysis_time_is_the_models_own(tmp_path, monkeypatch):
    # TVM's start-up (start_tvm, ~1 s once a process) runs before the first model's clock starts, not inside it
    import time

    import hybridperf.residual.features as features

    calls = []
    clock = time.perf_counter
    monkeypatch.setattr(features, "start_tvm", lambda: calls.append("start_tvm"))
    monkeypatch.setattr(time, "perf_counter", lambda: (calls.append("clock"), clock())[1])
    m = str(_tiny(tmp_path / "m.onnx"))
    rows, _ = features.featurize_measured([{"key": k, "model": m, "latency_s": "0.001"} for k in "ab"], None, "t4")
    assert len(rows) == 2
    assert calls[:2] == ["start_tvm", "clock"], calls


def test_calibrate_measure_starts_tvm_before_analysing(monkeypatch):
    # calibrate --measure analyses every model before measuring (unpriced), and the tables keep those times
    import hybridperf.measure.calibrate as mc
    import hybridperf.residual.features as features
    from hybridperf.commands.calibrate import _without_unpriced

    calls = []
    monkeypatch.setattr(features, "start_tvm", lambda: calls.append("start_tvm"))
    monkeypatch.setattr(mc, "unpriced", lambda models, device, batch: (calls.append("unpriced"), ({}, {}))[1])
    assert _without_unpriced(["a.onnx", "b.onnx"], "host", None)[0] == ["a.onnx", "b.onnx"]
    assert calls == ["start_tvm", "unpriced"]


# ------------------------------------------------------------------ 4. calibrate --measure refusals in the table
# until 2026-12-05 --target and --few-shot / --base-device with --measure were refused beside the option table (by
# run and run_measure); the same lines, exit 2, now come from it


def test_measure_refusals_are_in_the_option_table():
    from hybridperf.commands.calibrate_options import _OWN_WORDS

    assert set(_OWN_WORDS["cpu-measure"]) == {"target", "few_shot", "base_device"}


@pytest.mark.parametrize("extra, line", [
    (["--target", "latency_s"], "--target goes with --data; --measure adapts to the fastest run (latency_min_s)"),
    (["--few-shot", "3"], "--few-shot/--base-device go with --data; with --measure use --shots K"),
    (["--base-device", "t4"], "--few-shot/--base-device go with --data; with --measure use --shots K"),
    (["--target", "x", "--few-shot", "3"], "--target goes with --data; --measure adapts to the fastest run "
                                           "(latency_min_s)"),  # run checked --target first
])
def test_measure_refusals_same_lines(capsys, home, tmp_path, extra, line):
    code = main(["calibrate", "--device", "host", "--measure", str(tmp_path), *extra])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == f"hybridperf: error: {line}\n"
