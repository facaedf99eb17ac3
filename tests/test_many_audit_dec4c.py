"""predict-many and Session.predict_many as a NAS user meets them (audit of 2026-12-04): each row says where its peak
is the TVM plan's rather than the runtime's, a path with a newline keeps its table row and stderr line whole,
``--output DIR`` suggests a name the command takes, Session.predict_many names the model an error is about, and a
Ray actor that dies fails only its model."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
import types

import numpy as np
import pytest

from hybridperf.cli import ExitCode, main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def fc_tflite(tmp_path_factory):
    """A float32 FULLY_CONNECTED [1, 4] x [2, 4]^T as a .tflite file (onnxruntime's peak model needs an ONNX file)."""
    pytest.importorskip("tflite")
    import tflite_builder

    t = [dict(name="x", shape=[1, 4], dtype="float32"),
         dict(name="w", shape=[2, 4], dtype="float32", data=np.ones((2, 4), np.float32)),
         dict(name="y", shape=[1, 2], dtype="float32")]
    ops = [dict(op="FULLY_CONNECTED", inputs=[0, 1, -1], outputs=[2], options=("FullyConnectedOptions", {}))]
    p = tmp_path_factory.mktemp("tfl") / "fc.tflite"
    p.write_bytes(tflite_builder.tflite_model(t, ops, [0], [2]))
    return p


def test_row_says_the_peak_is_the_tvm_plans_where_the_runtimes_is_not_modelled(fc_tflite, model_dir, tmp_path,
                                                                                capsys):
    # until 2026-12-04 a .tflite on a CPU sheet read runtime "onnxruntime" beside the TVM plan's peak, with nothing
    # to say (predict: runtime_memory.applied false, "the onnxruntime model needs an ONNX file")
    code, out, _ = _run(capsys, "predict", str(fc_tflite), "-d", "host-epyc-1c", "--format", "json")
    assert code == ExitCode.OK
    want = json.loads(out)
    assert want["runtime_memory"]["applied"] is False
    d = tmp_path / "sweep"
    d.mkdir()
    shutil.copy(fc_tflite, d / "fc.tflite")
    shutil.copy(model_dir / "resnet_like.onnx", d / "resnet_like.onnx")
    code, out, _ = _run(capsys, "predict-many", str(d), "-d", "host-epyc-1c", "--batch", "1", "-j", "1",
                        "--format", "json")
    assert code == ExitCode.OK
    fc, resnet = json.loads(out)["models"]
    assert fc["runtime"] == "onnxruntime" and fc["peak_memory_bytes"] == want["memory"]["peak_bytes"]
    assert fc["runtime_memory_note"] == want["runtime_memory"]["reason"] == "the onnxruntime model needs an ONNX file"
    assert resnet["runtime_memory_note"] is None  # onnxruntime's own peak
    code, out, _ = _run(capsys, "predict-many", str(d), "-d", "host-epyc-1c", "--batch", "1", "-j", "1")
    fc_line = next(line for line in out.splitlines() if "fc.tflite" in line)
    assert fc_line.endswith("; peak: TVM plan (onnxruntime's not modelled: the onnxruntime model needs an ONNX file)")
    # an error row has the key too, null (unknown)
    (d / "broken.onnx").write_bytes(b"junk")
    code, out, _ = _run(capsys, "predict-many", str(d / "broken.onnx"), str(d / "fc.tflite"), "-d", "host-epyc-1c",
                        "-j", "1", "--format", "json")
    broken, fc = json.loads(out)["models"]
    assert set(fc) <= set(broken) and broken["runtime_memory_note"] is None


def test_a_path_with_a_newline_keeps_its_table_row_and_stderr_line(model_dir, tmp_path, capsys):
    # until 2026-12-04 the table row of `new\nline.onnx` was split in two, and so was its stderr error line
    d = tmp_path / "sweep"
    d.mkdir()
    shutil.copy(model_dir / "resnet_like.onnx", d / "new\nline.onnx")
    code, out, err = _run(capsys, "predict-many", str(d), "-d", "t4", "-j", "1")
    assert code == ExitCode.INPUT_ERROR  # its one model failed: N is unbound
    lines = out.splitlines()
    assert len(lines) == 2 + 1 + 1  # header, rule, one row, summary
    assert "new\\nline.onnx" in lines[2] and lines[2].endswith("bind it with --batch N or --shape x=Nx3x32x32")
    assert err.count("\n") == 1 and "new\\nline.onnx: input 'x' dim 0 ('N') is symbolic" in err
    # CSV quotes it (the csv module's reader gives the path back as it is)
    code, out, _ = _run(capsys, "predict-many", str(d), "-d", "t4", "-j", "1", "--batch", "1", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == ExitCode.OK and [r["model"] for r in rows] == [str(d / "new\nline.onnx")]


def test_output_naming_a_directory_suggests_a_jsonl(model_dir, tmp_path, capsys):
    # until 2026-12-04 the hint was `DIR/out.json`, a name predict-many then refused ("not JSON; name it out.jsonl")
    code, out, err = _run(capsys, "predict-many", str(model_dir / "resnet_like.onnx"), "-d", "t4", "-o", str(tmp_path))
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err == (f"hybridperf: error: --output {tmp_path} is a directory; name the file to write, e.g. "
                   f"{tmp_path / 'rows.jsonl'}\n")


def test_session_predict_many_names_the_model_an_error_is_about(model_dir, tmp_path):
    import hybridperf
    from hybridperf.errors import DynamicShapeError, ModelLoadError

    s = hybridperf.Session()
    good = str(model_dir / "resnet_like.onnx")
    # until 2026-12-04: "input 'x' dim 0 ('N') is symbolic; ..." with nothing to say which of the models
    with pytest.raises(DynamicShapeError) as e:
        s.predict_many([good, good], "t4")
    assert str(e.value).startswith(f"models[0] ({good}): input 'x' dim 0 ('N') is symbolic; bind it with batch=N")
    # a missing file fails before any model is analysed (until 2026-12-04 when the loop reached it), and the message
    # names the path once
    missing = str(tmp_path / "missing.onnx")
    analysed = []
    s.analyze = lambda *a, **k: analysed.append(a)  # noqa: E731 - a probe: nothing may be analysed
    with pytest.raises(ModelLoadError) as e:
        s.predict_many([good, missing], "t4", batch=1)
    assert str(e.value) == f"models[1]: model file not found: {missing}; check the path" and analysed == []


def test_session_predict_many_equals_predict_and_its_second_call(model_dir):
    import hybridperf

    models = [str(model_dir / f"{n}.onnx") for n in ("resnet_like", "bert_like")]
    s = hybridperf.Session()
    first = s.predict_many(models, ["t4", "host-epyc-1c"], batch=1)
    again = s.predict_many(models, ["t4", "host-epyc-1c"], batch=1)
    for (i, dev), p in first.items():
        want = hybridperf.predict(models[i], dev, batch=1, runtime="auto")
        for got in (p, again[(i, dev)]):
            assert (got.latency_s, got.energy_j, got.peak_memory_bytes, got.flops) == \
                (want.latency_s, want.energy_j, want.peak_memory_bytes, want.flops)


class _Died(Exception):
    """A fake ``ray.exceptions.RayActorError``."""


class _Ref:
    def __init__(self, fn):
        self.fn = fn


class _FakeRay:
    """Just enough of Ray for :func:`predict_rows`: actors run in this process, one model kills every actor it is
    given."""

    exceptions = types.SimpleNamespace(RayActorError=_Died)

    def __init__(self, killer: str):
        self.killer, self.killed, self.actors = killer, 0, 0

    def is_initialized(self):
        return True

    def cluster_resources(self):
        return {"CPU": 2}

    def remote(self, num_cpus=1):
        ray = self

        def wrap(cls):
            class Handle:
                def __init__(self):
                    ray.actors += 1
                    self.dead = False
                    self.predict = types.SimpleNamespace(remote=self._call)

                def _call(self, path, spec, call):
                    def run():
                        if self.dead or path == ray.killer:
                            self.dead = True
                            raise _Died(path)
                        return {"model": path, "status": "ok"}
                    return _Ref(run)

            return types.SimpleNamespace(remote=Handle)

        return wrap

    def wait(self, refs, num_returns=1):
        return refs[:1], refs[1:]

    def get(self, ref):
        return ref.fn()

    def kill(self, handle, no_restart=True):
        self.killed += 1


def test_a_ray_actor_that_dies_fails_only_its_model(monkeypatch):
    # until 2026-12-04 ray.get's RayActorError ended the whole sweep (exit 3, no table); now the model that kills its
    # actor twice gets the dead worker's row, and the models queued on the dead actor are predicted again
    from hybridperf.commands import ray_backend
    from hybridperf.commands._sweep import WORKER_DIED

    fake = _FakeRay(killer="b.onnx")
    monkeypatch.setitem(sys.modules, "ray", fake)
    models = ["a.onnx", "b.onnx", "c.onnx", "d.onnx", "e.onnx", "f.onnx"]
    rows = dict(ray_backend.predict_rows(models, None, {"runtime": "torch"}, workers=2))
    assert sorted(rows) == models
    assert rows["b.onnx"]["status"] == "error" and rows["b.onnx"]["error"] == WORKER_DIED
    assert rows["b.onnx"]["latency_s"] is None and rows["b.onnx"]["runtime"] == "torch"
    assert all(rows[m]["status"] == "ok" for m in models if m != "b.onnx")
    assert fake.killed == fake.actors  # every actor started is ended


def test_an_empty_folder_fails_before_the_device_is_resolved(tmp_path, capsys, monkeypatch):
    # until 2026-12-04 `predict-many empty/ -d host` resolved the device first (probing a machine without a stored
    # probe, ~15 s) and only then said the folder held no model
    from hybridperf.commands import _common

    def resolve_device(*a, **k):
        raise AssertionError("the device was resolved")

    monkeypatch.setattr(_common, "resolve_device", resolve_device)
    code, out, err = _run(capsys, "predict-many", str(tmp_path), "-d", "host")
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err == (f"hybridperf: error: no .onnx files under {tmp_path} (and no .tflite or .pt2 files); name model files, "
                   "or a folder that holds them\n")


def test_the_table_says_when_energy_is_estimated_or_capped():
    # until 2026-12-04 (evening) only the CSV and JSON carried energy_note: the table's energy read as measured
    from hybridperf.report.many import to_table

    base = {"status": "ok", "lower_bound": False, "latency_s": 1e-3, "energy_j": 2e-3, "peak_memory_bytes": 1024,
            "flops": 10, "runtime": "torch"}
    est = "idle power of t4 estimated, not measured: `hybridperf devices show t4`"
    rows = [{**base, "model": "a.onnx", "energy_note": est},
            {**base, "model": "b.onnx", "energy_note": f"capped at max power 70 W x latency; {est}"}]
    lines = to_table(rows, "t4").splitlines()
    (a,) = [ln for ln in lines if ln.startswith("a.onnx")]
    (b,) = [ln for ln in lines if ln.startswith("b.onnx")]
    assert a.rstrip().endswith("ok") and b.rstrip().endswith("ok; energy capped at max power")
    assert lines[-1] == f"2 models on t4: 2 ok, 0 failed; energy: {est}"
    plain = [{**base, "model": "c.onnx", "energy_note": ""}]
    assert to_table(plain, "host-epyc-1c").splitlines()[-1] == "1 model on host-epyc-1c: 1 ok, 0 failed"
