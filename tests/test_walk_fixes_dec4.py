"""Regressions of the 2026-12-04 walk audits: unknown host figures in ``devices``, whole bytes and no NaN in JSON,
spec values beyond a float and ``*.yml`` sheets, other formats named ``.onnx``, a busy cached host probe, the energy
note's ``devices show`` hint, plurals, and a resumed ``predict-many``."""

from __future__ import annotations

import json
import math
import shutil
import zipfile
from pathlib import Path

import pytest

from hybridperf.cli import ExitCode, main
from hybridperf.device.spec import available_devices, default_spec_dir, load_spec
from hybridperf.errors import SpecError

T4 = default_spec_dir() / "t4.yaml"


# ------------------------------------------------------------------ 1. devices: host not probed yet ----


def test_unprobed_host_row_reads_unknown_not_dash(tmp_path, monkeypatch, capsys):
    # until 2026-12-04 the row of a host not probed yet showed '-', which the footer defines as "not listed, falls
    # back to another precision": an unknown figure read as one the sheet leaves out
    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    assert main(["devices"]) == ExitCode.OK
    out = capsys.readouterr().out.splitlines()
    host = out[1]
    assert host.startswith("host ") and host.split()[-5:] == ["unknown"] * 5
    assert "'unknown': not measured yet" in out[-1] and "'-': not on the sheet" in out[-1]
    t4 = next(line for line in out if line.startswith("t4 "))
    assert "unknown" not in t4


def test_probed_host_row_has_figures_and_footer_no_unknown(capsys):
    # the session's host sheet (conftest): figures, and no 'unknown' defined where no row has one
    assert main(["devices"]) == ExitCode.OK
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("host ") and "unknown" not in out[1] and "'unknown'" not in out[-1]


# ------------------------------------------------------------------ 2. whole bytes, no NaN in JSON ----


def test_check_json_capacity_is_whole_bytes_as_predict(model_dir, capsys):
    # until 2026-12-04 `check --format json` wrote a host sheet's 23.54 GiB as 25275882536.96 bytes, predict's JSON
    # the integer 25275882537
    argv = [str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", "host-epyc-zen4-1c", "--format", "json"]
    assert main(["check", *argv, "--max-memory", "1GB"]) == ExitCode.OK
    mem = next(c for c in json.loads(capsys.readouterr().out)["checks"] if c["metric"] == "memory")
    assert mem["device_capacity"] == round(23.54 * 2**30) and isinstance(mem["device_capacity"], int)
    assert main(["predict", *argv]) == ExitCode.OK
    rep = json.loads(capsys.readouterr().out)
    assert rep["memory"]["device_capacity_bytes"] == mem["device_capacity"]


def test_whole_bytes_keeps_unknown():
    from hybridperf.units import whole_bytes

    assert whole_bytes(23.54 * 2**30) == 25275882537 and whole_bytes(None) is None and whole_bytes(16) == 16


def test_check_and_many_json_refuse_nan():
    # until 2026-12-04 check's and predict-many's JSON wrote NaN (not JSON) where text.py and mig.py refused it
    from types import SimpleNamespace

    from hybridperf.estimate.budget import Metric, MetricCheck
    from hybridperf.report import check, many

    c = MetricCheck(model="m", device="t4", metric=Metric.LATENCY, value=math.nan, limit=1.0)
    with pytest.raises(ValueError):
        check.to_json(SimpleNamespace(passed=False, checks=[c]))
    with pytest.raises(ValueError):
        many.to_json([{"model": "m", "latency_s": math.inf}], "t4")


# ------------------------------------------------------------------ 3. spec: beyond a float, *.yml ----


@pytest.mark.parametrize("old, new", [("value: 8.1, unit: TFLOP/s", "value: 1e300, unit: TFLOP/s"),
                                      ("capacity: {value: 16, unit: GB,", "capacity: {value: 1e300, unit: TB,")])
def test_value_beyond_a_float_after_conversion_is_refused(model_dir, tmp_path, capsys, old, new):
    # until 2026-12-04 `1e300 TFLOP/s` (or TB) loaded as inf: a peak of infinity, and JSON that wrote Infinity
    text = T4.read_text()
    assert old in text
    sheet = tmp_path / "big.yaml"
    sheet.write_text(text.replace("id: t4", "id: big").replace(old, new))
    with pytest.raises(SpecError, match="is inf in SI units, beyond any device"):
        load_spec(sheet)  # the loader refuses it, so predict and check do too (not only `devices`)
    assert main(["predict", str(model_dir / "resnet_like.onnx"), "-d", str(sheet)]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is inf in SI units" in err and "fix its value and unit" in err


def test_yml_sheets_are_listed_and_found_and_twins_refused(tmp_path, capsys):
    # until 2026-12-04 `devices --spec-dir D` said "0 devices" for a D holding t4.yml, which `-d D/t4.yml` loaded
    shutil.copy(T4, tmp_path / "t4.yml")
    assert available_devices(tmp_path) == ["t4"]
    assert load_spec("t4", tmp_path).path == str(tmp_path / "t4.yml")
    assert main(["devices", "--spec-dir", str(tmp_path)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("t4 ") and out.splitlines()[-1].startswith("1 device;")
    shutil.copy(T4, tmp_path / "t4.yaml")  # two sheets of one id: which is meant cannot be told
    for argv in (["devices", "--spec-dir", str(tmp_path)], ["devices", "show", "t4", "--spec-dir", str(tmp_path)]):
        assert main(argv) == ExitCode.INPUT_ERROR
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "two sheets of id 't4': t4.yaml and t4.yml" in err


# ------------------------------------------------------------------ 4. other formats named .onnx ----


def _tflite_bytes() -> bytes:
    import numpy as np
    import tflite_builder

    t = [dict(name="x", shape=[1, 4], dtype="float32"),
         dict(name="w", shape=[2, 4], dtype="float32", data=np.ones((2, 4), np.float32)),
         dict(name="y", shape=[1, 2], dtype="float32")]
    ops = [dict(op="FULLY_CONNECTED", inputs=[0, 1, -1], outputs=[2], options=("FullyConnectedOptions", {}))]
    return tflite_builder.tflite_model(t, ops, [0], [2])


def test_tflite_named_onnx_says_rename(tmp_path, capsys):
    # until 2026-12-04: "cannot read fc.onnx as ONNX (DecodeError); the file is corrupt or not an ONNX model:
    # re-export it", for a good TFLite model under the wrong suffix
    pytest.importorskip("flatbuffers")
    f = tmp_path / "fc.onnx"
    f.write_bytes(_tflite_bytes())
    assert main(["predict", str(f), "-d", "t4"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "it is a TFLite model" in err and "rename it to fc.tflite" in err
    assert "re-export" not in err


def test_torch_archives_named_onnx_say_what_they_are(tmp_path, capsys):
    # until 2026-12-04 a torch.export archive or a torch.save checkpoint named .onnx read "corrupt ...: re-export it"
    ep = tmp_path / "ep.onnx"
    with zipfile.ZipFile(ep, "w") as z:
        z.writestr("ep/archive_format", "pt2")
        z.writestr("ep/serialized_exported_program.json", "{}")
    ckpt = tmp_path / "ckpt.onnx"
    with zipfile.ZipFile(ckpt, "w") as z:
        z.writestr("ckpt/data.pkl", b"\x80\x02}q\x00.")  # an empty dict: a state dict
        z.writestr("ckpt/version", "3")
    assert main(["predict", str(ep), "-d", "t4"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "torch.export program" in err and "rename it to ep.pt2" in err
    assert main(["predict", str(ckpt), "-d", "t4"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a torch.save checkpoint" in err and "torch.export.save" in err


# ------------------------------------------------------------------ 5. busy cached host probe ----


def test_busy_cached_host_sheet_warns_on_every_prediction(tmp_path, monkeypatch, capsys):
    # until 2026-12-04 only the command that probed said the probe ran on a busy CPU; every later `predict -d host`
    # priced on its low figures without a word
    from hybridperf.commands._common import resolve_device
    from hybridperf.measure.host import IDENTITY_FILE, host_spec_path, install_host_spec

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml")
    ident = host_spec_path().parent / IDENTITY_FILE
    record = json.loads(ident.read_text())
    ident.write_text(json.dumps({**record, "warning": "another process competed for the CPU during the probe"}))
    for _ in range(2):
        assert Path(resolve_device("host")) == host_spec_path()
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and "from a busy probe" in err[0]
        assert "rerun `hybridperf probe --host` when the machine is idle" in err[0]
    assert main(["devices", "show", "host"]) == ExitCode.OK  # the sheet itself: shown, no warning line
    assert capsys.readouterr().err == ""
    ident.write_text(json.dumps(record))  # a quiet probe: nothing said
    resolve_device("host")
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------ 6. energy note's devices show hint ----


def test_energy_hint_names_the_file_of_a_sheet_loaded_from_one(tmp_path, monkeypatch, capsys):
    # until 2026-12-04 `predict -d my-gpu.yaml` said "`hybridperf devices show my-gpu`", which `devices show` refused
    # (unknown device)
    monkeypatch.chdir(tmp_path)
    Path("my-gpu.yaml").write_text(T4.read_text().replace("id: t4", "id: my-gpu"))
    spec = load_spec("my-gpu.yaml")
    assert spec.power_estimated and spec.show_ref == "my-gpu.yaml"
    assert load_spec("t4").show_ref == "t4" and load_spec(str(tmp_path / "my-gpu.yaml")).show_ref == str(
        tmp_path / "my-gpu.yaml")
    assert main(["devices", "show", spec.show_ref]) == ExitCode.OK
    assert capsys.readouterr().out.startswith("my-gpu: ")


def test_energy_note_of_a_prediction_carries_the_file(chain, tmp_path):
    from hybridperf.api import predict_on

    sheet = tmp_path / "my-gpu.yaml"
    sheet.write_text(T4.read_text().replace("id: t4", "id: my-gpu"))
    pred = predict_on(chain, str(sheet), residual=None)
    assert f"`hybridperf devices show {sheet}`" in pred.energy_note


# ------------------------------------------------------------------ 7. plurals ----


def test_plural():
    # until 2026-12-04 messages read "1 devices", "(1 CPUs, probed)", "torch: 1 kernels"
    from hybridperf.units import plural

    assert plural(1, "device") == "1 device" and plural(32, "device") == "32 devices"
    assert plural(0, "kernel") == "0 kernels" and plural(1, "CPU") == "1 CPU" and plural(2, "CPU") == "2 CPUs"
    assert plural(2, "child", "children") == "2 children"


# ------------------------------------------------------------------ 8. predict-many resume note ----


def test_resumed_predict_many_says_how_many_rows_it_reused(model_dir, tmp_path, capsys):
    # until 2026-12-04 a resumed run took rows from the file without a word
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(model_dir / "resnet_like.onnx", d / "resnet_like.onnx")
    out = tmp_path / "rows.jsonl"
    argv = ["predict-many", str(d), "-d", "t4", "--batch", "1", "--jobs", "1", "--roofline-only", "-o", str(out)]
    assert main(argv) == ExitCode.OK
    assert "reused" not in capsys.readouterr().err  # nothing to reuse: nothing said
    assert main(argv) == ExitCode.OK
    err = [line for line in capsys.readouterr().err.splitlines() if "reused" in line]
    assert err == [f"hybridperf: note: reused 1 row of {out} (resumed, not predicted again); 0 to predict"]
