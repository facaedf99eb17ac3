"""Audit 2026-12-04 (a NAS / design-space sweep user of ``predict-many``): each test is a defect found and fixed.

* ``--jobs N`` (process pool) priced without a session: on a device whose runtime is ``tvm`` (the NPUs) the rows' peak
  memory left out the kernels' workspace that ``predict`` and ``--jobs 1`` count.
* one model whose worker process died (killed for memory) ended the whole sweep with exit 3 and no table; on resume
  its error row was kept for good.
* ``--shape`` was refused ("unrecognized arguments") while every symbolic-batch error row told the user to use it;
  ``--runtime`` and ``--roofline-only`` (predict's, check's) did not exist, so no sweep could match them.
* ``--address`` without ``--backend ray`` was ignored (the sweep ran here); ``--backend ray`` without Ray left an empty
  ``--output`` file; a Ray address nobody listens on was exit 3.
* every model failing for one cause (the device has no fp32 peak) said "fix or remove those files".
* a mistyped (empty) folder among several was skipped without a word; ``.pt2`` files were "not a model file".
* a sweep over variants written just before it (< 3 s, "racily new") resumed nothing: the file keys were compared whole.
* the CSV had no column for the runtime, the shapes priced, the energy's note or the warnings.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
import types
from pathlib import Path

import pytest

from hybridperf.cli import ExitCode, main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def sweep_dir(model_dir, tmp_path_factory):
    """resnet_like and mobilenetv2_like (symbolic batch N), as a sweep folder."""
    d = tmp_path_factory.mktemp("sweep")
    for name in ("resnet_like", "mobilenetv2_like"):
        shutil.copy(model_dir / f"{name}.onnx", d / f"{name}.onnx")
    return d


def _predict_json(capsys, *argv) -> dict:
    code, out, err = _run(capsys, "predict", *argv, "--format", "json", "--top", "0")
    assert code == ExitCode.OK, err
    return json.loads(out)


# --------------------------------------------------------------------------- 1. the pool's rows are predict's


def test_pool_row_counts_the_npu_workspace_as_predict_does(sweep_dir, capsys):
    """The process pool's path (no session given, no worker session: one for the call) gives predict's peak."""
    from hybridperf.commands import _sweep

    assert _sweep._worker_session is None  # this process is no pool worker
    path = str(sweep_dir / "resnet_like.onnx")
    p = _predict_json(capsys, path, "-d", "ethos-u55", "--batch", "1", "--precision", "int8", "--runtime", "tvm")
    row = _sweep.predict_row(path, "ethos-u55", 1, "int8", True, runtime="tvm")
    assert p["runtime_memory"]["runtime"] == "tvm" and p["runtime_memory"]["applied"]
    # the TVM plan without the workspace was 60260 B; with it predict says more, and the row the same
    assert row["peak_memory_bytes"] == p["runtime_memory"]["peak_bytes"] > p["memory"]["peak_bytes"]
    assert row["latency_s"] == p["totals"]["latency_s"] and row["runtime"] == "tvm"
    assert row["input_shapes"] == p["input_shapes"] == {"x": [1, 3, 32, 32]}


# --------------------------------------------------------------------------- 2. a worker that dies


def _no_init() -> None:
    """The pool's initializer in the crash test: no TVM import (the fake rows need none)."""


def _fake_row(path, spec_ref, batch, precision, fused, session=None, **kw):
    """A row in a worker, or the worker's death (``os._exit``: what the kernel's OOM killer does to it)."""
    from hybridperf.commands._sweep import FIGURES

    if "crash" in Path(path).name:
        os._exit(9)
    return {"model": path, "status": "ok", "error": None, "runtime": kw["runtime"], **dict.fromkeys(FIGURES),
            "latency_s": 1e-3, "energy_j": 1e-3, "peak_memory_bytes": 1024, "flops": 10, "lower_bound": False,
            "warnings": [], "unknown_fields": [], "wall_s": 0.0}


def test_a_worker_that_dies_fails_its_model_only(tmp_path, capsys, monkeypatch):
    import hybridperf.commands.predict_many as pm

    monkeypatch.setattr(pm, "predict_row", _fake_row)
    monkeypatch.setattr(pm, "_init_worker", _no_init)
    names = ["a.onnx", "b_crash.onnx", "c.onnx", "d.onnx"]
    for n in names:
        (tmp_path / n).write_bytes(b"x")  # the fake reads nothing
    out = tmp_path / "rows.jsonl"
    code, stdout, err = _run(capsys, "predict-many", str(tmp_path), "-d", "t4", "--jobs", "2", "--format", "json",
                             "-o", str(out))
    assert code == ExitCode.OK, err  # was exit 3 (BrokenProcessPool), no table
    rows = json.loads(stdout)["models"]
    assert [Path(r["model"]).name for r in rows] == names
    assert [r["status"] for r in rows] == ["ok", "error", "ok", "ok"]
    assert rows[1]["error"] == pm.WORKER_DIED and rows[1]["latency_s"] is None
    assert "1 of 4 models failed" in err
    # a rerun predicts the died model again (its row is the run's error, not the model's); the others are resumed
    written = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(written) == 4
    files = {str(tmp_path / n): pm.model_file(tmp_path / n) for n in names}
    settings = {k: written[0][k] for k in ("device", "batch", "precision", "fused", "shapes", "roofline_only",
                                           "runtime", *pm.resume_settings(__import__("hybridperf").device_spec("t4")))}
    assert sorted(Path(m).name for m in pm.load_done(out, files, settings)) == ["a.onnx", "c.onnx", "d.onnx"]


# --------------------------------------------------------------------------- 3. predict's options


def test_shape_binds_every_model_and_equals_predict(sweep_dir, capsys):
    path = str(sweep_dir / "resnet_like.onnx")
    p = _predict_json(capsys, path, "-d", "t4", "--shape", "x=2x3x32x32")
    code, out, err = _run(capsys, "predict-many", str(sweep_dir), "-d", "t4", "--shape", "x=2x3x32x32", "-j", "1",
                          "--format", "json")
    assert code == ExitCode.OK, err  # was 2: unrecognized arguments: --shape
    rows = {Path(r["model"]).name: r for r in json.loads(out)["models"]}
    r = rows["resnet_like.onnx"]
    assert (r["latency_s"], r["flops"], r["peak_memory_bytes"]) == (
        p["totals"]["latency_s"], p["totals"]["flops"], p["runtime_memory"]["peak_bytes"])
    assert r["input_shapes"] == {"x": [2, 3, 32, 32]}
    assert rows["mobilenetv2_like.onnx"]["input_shapes"] == {"x": [2, 3, 32, 32]}


def test_shape_is_checked_before_any_work(sweep_dir, tmp_path, capsys):
    out = tmp_path / "rows.jsonl"
    code, stdout, err = _run(capsys, "predict-many", str(sweep_dir), "-d", "t4", "--shape", "x=2by3", "-o", str(out))
    assert code == ExitCode.INPUT_ERROR and stdout == "" and not out.exists()
    assert err == "hybridperf: error: bad --shape 'x=2by3': write NAME=DxDxD, e.g. --shape input=1x3x224x224\n"


def test_runtime_and_roofline_only_equal_predict(sweep_dir, capsys):
    path = str(sweep_dir / "mobilenetv2_like.onnx")
    p = _predict_json(capsys, path, "-d", "t4", "--batch", "1", "--runtime", "tvm", "--roofline-only")
    code, out, err = _run(capsys, "predict-many", path, "-d", "t4", "--batch", "1", "--runtime", "tvm",
                          "--roofline-only", "-j", "1", "--format", "json")
    assert code == ExitCode.OK, err
    (r,) = json.loads(out)["models"]
    assert r["runtime"] == p["runtime_memory"]["runtime"] == "tvm"
    assert r["peak_memory_bytes"] == p["runtime_memory"]["peak_bytes"]
    assert r["latency_s"] == p["totals"]["latency_s"] == p["totals"]["roofline_latency_s"]
    assert r["calibration"] == p["calibration"]


def test_runtime_of_another_device_kind_is_refused_before_any_work(sweep_dir, tmp_path, capsys):
    out = tmp_path / "rows.jsonl"
    code, stdout, err = _run(capsys, "predict-many", str(sweep_dir), "-d", "t4", "--runtime", "onnxruntime",
                             "-o", str(out))
    assert code == ExitCode.INPUT_ERROR and stdout == "" and not out.exists()
    assert err.startswith("hybridperf: error: --runtime onnxruntime runs on cpu devices and t4 is a gpu")
    assert err.count("\n") == 1


def test_resume_tells_runs_with_other_options_apart(sweep_dir, tmp_path, capsys):
    """A row carries --shape / --runtime / --roofline-only: a run with other values predicts again; a row written
    before these keys existed is taken by a run with their defaults."""
    path = sweep_dir / "resnet_like.onnx"
    out = tmp_path / "rows.jsonl"
    base = ["predict-many", str(path), "-d", "t4", "-j", "1", "--format", "json", "-o", str(out)]
    assert _run(capsys, *base, "--batch", "1")[0] == ExitCode.OK
    row = json.loads(out.read_text())
    assert (row["shapes"], row["roofline_only"], row["runtime"]) == (None, False, "torch")
    for extra in (["--shape", "x=1x3x32x32"], ["--batch", "1", "--roofline-only"], ["--batch", "1", "--runtime", "tvm"]):
        assert _run(capsys, *base, *extra)[0] == ExitCode.OK
    assert len(out.read_text().splitlines()) == 4  # each option predicted anew
    # an older row (no shapes / roofline_only / runtime keys) is resumed by the default run
    for k in ("shapes", "roofline_only", "runtime"):
        del row[k]
    out.write_text(json.dumps(row) + "\n")
    code, stdout, _ = _run(capsys, *base, "--batch", "1")
    assert code == ExitCode.OK and len(out.read_text().splitlines()) == 1
    assert json.loads(stdout)["models"][0]["wall_s"] == row["wall_s"]


def test_resume_takes_a_row_under_another_spelling_of_the_path(sweep_dir, tmp_path, capsys, monkeypatch):
    """A sweep restarted from another folder (a relative path where the first run gave an absolute one) resumes."""
    out = tmp_path / "rows.jsonl"
    base = ["-d", "t4", "--batch", "1", "-j", "1", "--format", "json", "-o", str(out)]
    assert _run(capsys, "predict-many", str(sweep_dir / "resnet_like.onnx"), *base)[0] == ExitCode.OK
    first = json.loads(out.read_text())
    monkeypatch.chdir(sweep_dir.parent)
    rel = f"{sweep_dir.name}/resnet_like.onnx"
    code, stdout, _ = _run(capsys, "predict-many", rel, *base)
    assert code == ExitCode.OK and len(out.read_text().splitlines()) == 1  # was predicted again (2 lines)
    (row,) = json.loads(stdout)["models"]
    assert row["model"] == rel and row["wall_s"] == first["wall_s"]


# --------------------------------------------------------------------------- 4. Ray


def test_address_without_ray_backend_is_refused(sweep_dir, capsys):
    code, out, err = _run(capsys, "predict-many", str(sweep_dir), "-d", "t4", "--address", "auto")
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err == ("hybridperf: error: --address auto names a Ray cluster; add --backend ray (or drop --address to "
                   "run here)\n")


def test_ray_missing_leaves_no_output_file(sweep_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, installed or not
    out = tmp_path / "rows.jsonl"
    code, stdout, err = _run(capsys, "predict-many", str(sweep_dir), "-d", "t4", "--backend", "ray", "-o", str(out))
    assert code == ExitCode.INPUT_ERROR and stdout == ""
    assert err == "hybridperf: error: --backend ray needs Ray: pip install 'hybridperf[ray]' (or pip install ray)\n"
    assert not out.exists()  # was an empty file


def test_ray_address_that_does_not_answer_is_an_input_error(sweep_dir, capsys, monkeypatch):
    def init(address=None, **kw):
        raise ConnectionError(f"Could not find any running Ray instance at {address}.")

    fake = types.SimpleNamespace(is_initialized=lambda: False, init=init)
    monkeypatch.setitem(sys.modules, "ray", fake)
    code, out, err = _run(capsys, "predict-many", str(sweep_dir), "-d", "t4", "--backend", "ray", "--address",
                          "10.0.0.9:6379")
    assert code == ExitCode.INPUT_ERROR and out == ""  # was exit 3
    assert err.startswith("hybridperf: error: --address 10.0.0.9:6379: cannot connect to a Ray cluster there")
    assert err.count("\n") == 1


# --------------------------------------------------------------------------- 5. messages and inputs


def test_every_model_failing_for_one_cause_names_it(sweep_dir, capsys):
    code, _, err = _run(capsys, "predict-many", str(sweep_dir), "-d", "ethos-u55", "--batch", "1", "-j", "1")
    assert code == ExitCode.INPUT_ERROR
    assert err == ("hybridperf: error: every model failed (2 of 2) with the same error: device 'ethos-u55' has no peak "
                   "for fp32 (it lists int8); run it at int8 (--precision int8), quantize the model or pick a device "
                   "that supports fp32\n")


def test_an_empty_folder_among_several_is_refused(sweep_dir, tmp_path, capsys):
    empty = tmp_path / "variants_b"
    empty.mkdir()
    code, out, err = _run(capsys, "predict-many", str(sweep_dir), str(empty), "-d", "t4")
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err == f"hybridperf: error: no model file (.onnx, .tflite, .pt2) under {empty}; check the folder, or drop it\n"


def test_pt2_files_are_models(sweep_dir, tmp_path, capsys, monkeypatch):
    """A folder's .pt2 files are predicted (a row each; without torch the row says how to install it)."""
    monkeypatch.setitem(sys.modules, "torch", None)
    (tmp_path / "v1.pt2").write_bytes(b"PK")
    code, out, err = _run(capsys, "predict-many", str(tmp_path), "-d", "t4", "-j", "1", "--format", "json")
    (row,) = json.loads(out)["models"]  # was "no .onnx files under ..." (and a .pt2 named: "not a model file")
    assert Path(row["model"]).name == "v1.pt2" and row["status"] == "error"
    assert "pip install 'hybridperf[torch]'" in row["error"]
    assert code == ExitCode.INPUT_ERROR


def test_resume_matches_a_file_keyed_while_racily_new(tmp_path):
    from hybridperf.commands.predict_many import _same_file

    f = tmp_path / "m.onnx"
    f.write_bytes(b"abc")
    import zlib

    st = [str(f.resolve()), 3, 1, 2, 3, 4]
    assert _same_file([*st, zlib.crc32(b"abc")], [*st, None], str(f))  # was False: every model predicted again
    assert not _same_file([*st, zlib.crc32(b"abd")], [*st, None], str(f))  # rewritten within the same tick
    assert not _same_file([*st, None], [*st[:-1], 5, None], str(f))  # another file
    assert not _same_file([*st, None], None, str(f))


# --------------------------------------------------------------------------- 6. CSV


def test_csv_names_runtime_shapes_energy_note_and_warnings(sweep_dir, capsys):
    path = str(sweep_dir / "resnet_like.onnx")
    code, out, err = _run(capsys, "predict-many", path, "-d", "host-epyc-1c", "--batch", "1", "--precision", "fp16",
                          "-j", "1", "--format", "csv")
    assert code == ExitCode.OK, err
    (row,) = csv.DictReader(io.StringIO(out))
    p = _predict_json(capsys, path, "-d", "host-epyc-1c", "--batch", "1", "--precision", "fp16")
    assert row["runtime"] == "onnxruntime" and row["input_shapes"] == "x=1x3x32x32"
    assert row["energy_note"] == (p["totals"]["energy_note"] or "")
    assert row["warnings"].split(" | ") == p["warnings"] and len(p["warnings"]) >= 1
    assert float(row["latency_s"]) == p["totals"]["latency_s"]


def test_a_pool_that_breaks_at_submit_loses_no_model(monkeypatch):
    """A worker can die between two submissions, and ``submit`` then raises ``BrokenProcessPool`` itself: the model
    being submitted is predicted later, not dropped (it was, and the table ended in an internal KeyError: seen once in
    a clean-clone CI run of ``test_a_worker_that_dies_fails_its_model_only``, 2026-12-06)."""
    import concurrent.futures
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    import hybridperf.commands.predict_many as pm

    broke = []

    class Pool:  # the second submission of the first pool finds it broken; every later pool works
        def __init__(self, max_workers, mp_context=None, initializer=None):
            self.submitted = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, fn, *args, **kw):
            self.submitted += 1
            if self.submitted == 2 and not broke:
                broke.append(args[0])
                raise BrokenProcessPool("a worker died")
            f = Future()
            f.set_result(fn(*args, **kw))
            return f

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(pm, "predict_row", lambda path, spec_ref, **kw: {"model": path, "status": "ok"})
    models = ["a.onnx", "b.onnx", "c.onnx", "d.onnx"]
    got = [path for path, _ in pm._pool_results(models, "t4", {}, 2)]
    assert broke == ["b.onnx"] and sorted(got) == models and len(got) == len(models)
