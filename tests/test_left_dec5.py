"""Leftovers of 2026-12-05: file names that are not UTF-8 in JSON documents, ``calibrate --measure``'s analysis time
of its first model, and two ``calibrate --measure`` refusals moved into the option table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridperf.cli import main
from hybridperf.json_text import dumps, escape_undecodable


def _tiny(path: Path) -> Path:
    """x[2, 8] @ W[8, 4] -> Relu, saved to ``path`` (a name of any bytes)."""
    w = numpy_helper.from_array(np.ones((8, 4), np.float32), "W")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
                          "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path.write_bytes(m.SerializeToString())
    return path


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

_FIRST_ANALYSIS = """
import json, sys, time
import hybridperf.residual.features as features
took = []
start = features.start_tvm
def timed():
    t0 = time.perf_counter()
    start()
    took.append(time.perf_counter() - t0)
features.start_tvm = timed
assert "tvm" not in sys.modules
rows, _ = features.featurize_measured([{"key": k, "model": sys.argv[1], "latency_s": "0.001"} for k in "ab"], None, "t4")
print(json.dumps({"startup_s": took[0], "analysis_s": [r["analysis_s"] for r in rows]}))
"""


def test_first_analysis_time_is_the_models_own(tmp_path):
    m = _tiny(tmp_path / "m.onnx")
    got = subprocess.run([sys.executable, "-c", _FIRST_ANALYSIS, str(m)], capture_output=True, text=True, timeout=300,
                         check=True)
    r = json.loads(got.stdout.strip().splitlines()[-1])
    assert len(r["analysis_s"]) == 2
    assert r["analysis_s"][0] < r["startup_s"], r  # the import is ~1 s; a tiny model's analysis some ms


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
