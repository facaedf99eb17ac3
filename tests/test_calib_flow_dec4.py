"""A first-time user's `probe` -> `calibrate --device host --measure` -> `predict` / `measure` flow on an unknown machine,
audited again on 2026-12-04: which sheets a calibration refuses, what its output calls the figures it compares with,
how a model onnxruntime cannot run is named, and how to undo a calibration.

Structure, labels, files and exit codes only (never timings): the measuring is faked or refused before it, the models
are the tiny hand-built ones of ``tests/onnx_models.py``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from hybridperf.cli import main
from test_calibrate_user_audit import _ort_fails  # a model onnxruntime cannot run

ZEN5 = "AuthenticAMD family 26 model 2 stepping 1"
ZEN4 = "AuthenticAMD family 25 model 17 stepping 1"  # the CPU of the packaged sheet host-epyc-zen4-1c


def _static_models(d: Path, names=("resnet_like", "densenet_like", "bert_like")) -> list[Path]:
    import onnx_models

    return onnx_models.save_static(d, names)


def _never(*a, **k):
    raise AssertionError("measured before the input was checked")


def _host_home(tmp_path, monkeypatch, cpu: str = "") -> Path:
    """``host`` in an own home: one thread, the packaged Zen 4 core's sheet, this machine's CPU ``cpu``."""
    import hybridperf.measure.host as host
    from hybridperf.device.spec import default_spec_dir

    home = tmp_path / "home"
    monkeypatch.setenv("HYBRIDPERF_HOME", str(home))
    monkeypatch.setattr(host, "host_threads", lambda: 1)
    monkeypatch.setattr(host, "host_cpu", lambda identity=None: cpu)
    host.install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml")
    return home


def _fake_measuring(monkeypatch, fastest_s, fails=()):
    """``measure_rounds`` replaced: the models in turn measure ``fastest_s`` (median 1.1x); those whose stem is in
    ``fails`` are not measured (onnxruntime cannot load them)."""
    import hybridperf.measure.calibrate as cal

    def fake(models, device, threads, rounds=2, seed=0, on_measured=None, batch=None):
        ok = [p for p in models if p.stem not in fails]
        rows = [{"key": p.stem, "model": str(p.resolve()), "latency_s": t * 1.1, "latency_min_s": t,
                 "latency_norm_median": 1.0, "round_spread": 0.0, "rounds": rounds, "threads": threads,
                 "device": device} for p, t in zip(ok, fastest_s)]
        return rows, [], [(p.stem, "onnxruntime cannot load it") for p in models if p.stem in fails]

    monkeypatch.setattr(cal, "measure_rounds", fake)


# --------------------------------------------------------------------------- sheets of another CPU


@pytest.mark.parametrize(("device", "theirs", "here"), [
    # an Intel packaged sheet without a cpu_identity, its training CPU not recorded
    ("host-xeon-2c", "GenuineIntel", ZEN5),
    # ARM sheets on an x86-64 machine
    ("raspberry-pi-4b", "arm", "x86-64, x86_64"),
    ("snapdragon-855", "arm", "x86-64, x86_64"),
])
def test_a_packaged_sheet_naming_another_vendor_or_isa_is_refused(device, theirs, here, tmp_path, capsys,
                                                                    monkeypatch):
    """Until 2026-12-04 a packaged CPU sheet without a cpu_identity was not judged: on an AMD x86-64 machine with the
    CPUs the sheet covers, `calibrate --device host-xeon-2c` (or raspberry-pi-4b, snapdragon-855) measured this
    machine's timings and stored them as that sheet's model, which `predict --device ID` then used. Now: exit 2, one
    line naming both CPUs, before anything is measured (and before the thread count is judged)."""
    import platform

    import hybridperf.measure.calibrate as cal
    import hybridperf.measure.host as host

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(host, "host_cpu", lambda identity=None: ZEN5)
    monkeypatch.setattr(host, "host_threads", lambda: 8)  # as many CPUs as the sheets cover
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(cal, "measure_rounds", _never)
    models = _static_models(tmp_path / "m", ("resnet_like", "densenet_like"))
    code = main(["calibrate", "--device", device, "--measure", *map(str, models), "--rounds", "1"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"hybridperf: error: --device {device} is the packaged sheet of another CPU (")
    assert f"({theirs}, as its name and notes say; this machine: {here}): its model would be adapted" in err
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("residual.json"))


def test_sheets_the_words_cannot_tell_apart_are_not_judged(monkeypatch):
    """Same vendor and instruction set (a Ryzen sheet on an AMD machine), a sheet with a cpu_identity (judged by it),
    or this machine's CPU unknown: not refused by the sheet's words."""
    import platform

    import hybridperf.measure.host as host
    from hybridperf.measure.host import named_cpu_elsewhere
    from hybridperf.device.spec import load_spec

    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(host, "host_cpu", lambda identity=None: ZEN5)
    assert named_cpu_elsewhere(load_spec("ryzen-9-7950x")) is None
    assert named_cpu_elsewhere(load_spec("host-xeon-1c")) is None  # has a cpu_identity
    monkeypatch.setattr(host, "host_cpu", lambda identity=None: "")
    assert named_cpu_elsewhere(load_spec("host-xeon-2c")) is None  # vendor of this machine unknown
    assert named_cpu_elsewhere(load_spec("raspberry-pi-4b"))[0].startswith("arm,")  # the ISA is known all the same


# --------------------------------------------------------------------------- what the output calls its figures


def test_the_base_figure_on_a_training_cpu_is_not_called_zero_shot(tmp_path, capsys, monkeypatch):
    """Until 2026-12-04, on a CPU the packaged model was trained on (Zen 5 with 1 thread: `predict -d host` said
    "with that host's offset (x1.16), not zero-shot"), calibrate called the same figures "cross-host zero-shot".
    Now the JSON names the training host (``base_offset_of``) and the text says "with training host ...'s offset";
    on another CPU both stay zero-shot."""
    from hybridperf.report.calibration import measure_calibration_text

    _host_home(tmp_path, monkeypatch, cpu=ZEN4)
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4))
    models = _static_models(tmp_path / "m")
    code = main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1", "--format", "json"])
    r = json.loads(capsys.readouterr().out)
    assert code == 0 and r["base_offset_of"] == "host-epyc-zen4-1c"
    text = measure_calibration_text(r)
    assert ", cross-host with training host host-epyc-zen4-1c's offset (this CPU was trained on, so not zero-shot; " \
           "the 'zero-shot' column) " in text
    assert "cross-host zero-shot" not in text
    zero = measure_calibration_text({**r, "base_offset_of": None})
    assert f"roofline {r['heldout_mape_pct']['roofline']:.1f} %, cross-host zero-shot " in zero


def test_shots_below_one_names_the_smallest_that_works(tmp_path, capsys, monkeypatch):
    """Until 2026-12-04 `--shots 0` said "--shots must be >= 1", and `--shots 1` was then refused as well."""
    _host_home(tmp_path, monkeypatch)
    for k in ("0", "-1"):
        code = main(["calibrate", "--device", "host", "--measure", "a.onnx", "b.onnx", "--shots", k])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert err.strip().endswith(f"use --shots 2 or more (got {k})"), err


def test_an_alone_blend_of_weight_one_is_not_described_as_the_base_model():
    """Until 2026-12-04 an adaptation that kept no correction of the base model but blended in a model of its K
    models alone with weight 1 was described "(no correction kept: none beat the base model by leave-one-out),
    blended 1 with a model of those 7 alone", which reads as "the base model's figures"; they are the alone model's."""
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import base_model

    base = base_model(load_spec("host-epyc-zen4-1c"), 1)
    m = copy.copy(base)
    m.adaptation_ = {"method": "none", "k": 7, "alone_weight": 1.0, "offset": 0.0, "slope": 0.0, "center": 0.0,
                     "group_scales": None}
    d = m.describe()
    assert "few-shot adapted with 7 measured models (no correction of the base model kept), blended 1 with a model " \
           "of those 7 alone (the figures are that model's)" in d
    assert "none beat the base model" not in d
    m.adaptation_ = {**m.adaptation_, "alone_weight": 0.5}
    assert "blended 0.5 with a model of those 7 alone," in m.describe()
    m.adaptation_ = {**m.adaptation_, "alone_weight": 0.0}
    assert "(no correction kept: none beat the base model by leave-one-out)" in m.describe()


# --------------------------------------------------------------------------- a model onnxruntime cannot run


def test_a_model_onnxruntime_cannot_load_is_named_once(tmp_path, capsys, monkeypatch):
    """Until 2026-12-04 it got two warnings: "not scanned for subnormal activations (Fail: ...)" before measuring,
    then "not measured: ..." with the same onnxruntime error. Now the second alone; a model that was measured though
    the scan could not run it still gets the scan's warning."""
    import hybridperf.measure.subnormal as subnormal

    _host_home(tmp_path, monkeypatch)
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4), fails=("ortfail",))
    models = [*_static_models(tmp_path / "m"), _ort_fails(tmp_path / "m" / "ortfail.onnx")]
    code = main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1"])
    err = capsys.readouterr().err
    assert code == 0
    assert [line for line in err.splitlines() if "ortfail" in line] == [
        "hybridperf: warning: ortfail: not measured: onnxruntime cannot load it"]

    real = subnormal.scan_inputs

    def scan(path, shapes=None, batch=None):
        if Path(path).stem == "bert_like":
            raise RuntimeError("no scan")
        return real(path, shapes, batch)

    monkeypatch.setattr(subnormal, "scan_inputs", scan)
    code = main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1"])
    err = capsys.readouterr().err
    assert code == 0
    assert f"hybridperf: warning: {models[2]}: not scanned for subnormal activations (RuntimeError: no scan)" \
        in err.splitlines()
    assert not any("ortfail" in line and "not scanned" in line for line in err.splitlines())


# --------------------------------------------------------------------------- undoing a calibration


def test_reset_removes_the_stored_calibration(tmp_path, capsys, monkeypatch):
    """Until 2026-12-04 nothing undid a calibration: the output named where the model was stored, and going back to
    the packaged model meant finding and deleting that folder (and the measurements beside it) by hand. Now
    `calibrate --device ID --reset` removes both under the calibration's locks, the calibration's output names that
    command, and a second reset says nothing was stored (exit 0)."""
    from hybridperf.measure.host import host_dir, host_model_dir

    _host_home(tmp_path, monkeypatch)
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4))
    models = _static_models(tmp_path / "m")
    assert main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "to go back to the packaged model: hybridperf calibrate --device host --reset" in out.splitlines()
    assert (host_model_dir() / "residual.json").is_file() and (host_dir() / "calibration").is_dir()

    assert main(["calibrate", "--device", "host", "--reset", "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["removed"].startswith("cross-host lightgbm residual") and r["model_dir"] == str(host_model_dir())
    assert r["measurements_removed"] == str(host_dir() / "calibration")
    assert not host_model_dir().exists() and not (host_dir() / "calibration").exists()
    assert (host_dir() / "host.yaml").is_file()  # the probed sheet stays

    assert main(["calibrate", "--device", "host", "--reset"]) == 0
    assert capsys.readouterr().out.startswith("no calibrated model stored for host in ")


@pytest.mark.parametrize(("argv", "words"), [
    (["--device", "host", "--reset", "--shots", "2"], "takes only --device and --out; drop --shots"),
    (["--device", "h100-sxm", "--reset"], "--reset removes a CPU calibration; h100-sxm is a gpu"),
    (["--device", "host", "--reset", "--measure", "a.onnx"], "not allowed with argument --reset"),
])
def test_reset_refusals_are_one_line(argv, words, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    assert main(["calibrate", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and words in err, err


def test_a_sheet_that_says_its_cpu_is_adapted_from_what_predict_gave(tmp_path, capsys, monkeypatch):
    """Until 2026-12-04 a CPU sheet of a training host's CPU under another id (a `probe --out my-box.yaml` on the
    Zen 5: its cpu_identity names the CPU) was priced by `predict -d my-box.yaml` with that training host's offset,
    "not zero-shot", but `calibrate --device my-box.yaml --measure` adapted, and compared with, the zero-shot model
    (407 % against the offset's figures on four tiny models). Now both start from the training host's offset."""
    import yaml

    import hybridperf.measure.host as host
    from hybridperf.device.spec import default_spec_dir, load_spec
    from hybridperf.residual.cross_host import for_sheet

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(host, "host_threads", lambda: 1)
    monkeypatch.setattr(host, "host_cpu", lambda identity=None: ZEN4)
    raw = yaml.safe_load((default_spec_dir() / "host-epyc-zen4-1c.yaml").read_text())
    raw["id"] = "my-box"  # the Zen 4 core's sheet, cpu_identity kept, under an id of its own
    sheet = tmp_path / "my-box.yaml"
    sheet.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert "not zero-shot" in for_sheet(load_spec(str(sheet))).describe()  # what predict says before calibrating
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4))
    models = _static_models(tmp_path / "m")
    code = main(["calibrate", "--device", str(sheet), "--measure", *map(str, models), "--rounds", "1", "--format",
                 "json"])
    r = json.loads(capsys.readouterr().out)
    assert code == 0 and r["device"] == "my-box" and r["base_offset_of"] == "host-epyc-zen4-1c"


def test_reset_of_an_out_folder_removes_the_model_alone(tmp_path, capsys, monkeypatch):
    """`--out DIR` stores where predict does not look: the calibration's output says "to remove it" (not "to go back
    to the packaged model"), and `--reset --out DIR` removes the model's files only; the user's other files in DIR
    stay; the measurements, in DIR/calibration since 2026-12-04 (evening), go with the model."""
    from hybridperf.measure.host import host_dir

    _host_home(tmp_path, monkeypatch)
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4))
    models = _static_models(tmp_path / "m")
    out = tmp_path / "mine"
    assert main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1", "--out",
                 str(out)]) == 0
    assert f"to remove it: hybridperf calibrate --device host --reset --out {out}" in capsys.readouterr().out
    (out / "notes.txt").write_text("the user's")
    assert main(["calibrate", "--device", "host", "--reset", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"removed the model calibrated for host from {out} (") and "packaged model" not in text
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert not (host_dir() / "calibration").exists()


def test_a_batch_the_models_cannot_take_is_one_line_before_measuring(tmp_path, capsys, monkeypatch):
    """Until 2026-12-04 `--batch 2` over batch-1 exports tried each one in the rounds, named each "not measured: --batch
    2 cannot be applied ..." on a line of its own, and ended "only 0 of 3 models could be measured" (and with one
    dynamic model among them, calibrated on the rest silently smaller). Now one line, exit 2, nothing measured; a
    --batch equal to the fixed batch still goes."""
    import hybridperf.measure.calibrate as cal

    _host_home(tmp_path, monkeypatch)
    models = _static_models(tmp_path / "m")  # batch fixed at 1
    monkeypatch.setattr(cal, "measure_rounds", _never)
    code = main(["calibrate", "--device", "host", "--measure", *map(str, models), "--batch", "2", "--rounds", "1"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("hybridperf: error: --batch 2 cannot be applied to 3 of 3 models, whose batch is fixed at "
                          "another size (resnet_like.onnx, densenet_like.onnx, bert_like.onnx); drop --batch")
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4))
    assert main(["calibrate", "--device", "host", "--measure", *map(str, models), "--batch", "1", "--rounds", "1"]) == 0
