"""A first-time user's calibration flow: duplicates, too few models for a held-out error, an unwritable store, ids
that name another sheet, a model stored whole or not at all, and unknown figures shown as unknown.

Every case here fails (or is decided) before anything is measured or probed, or uses a stored model, so the file
runs in a few seconds on one core; the one end-to-end run is marked ``slow``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybridperf.cli import main
from hybridperf.errors import InputError


def _static_models(d: Path, names=("resnet_like", "densenet_like", "mobilenetv2_like")) -> list[Path]:
    """The hand-built test models with their batch bound to 1 (calibration needs static shapes)."""
    import onnx_models

    return onnx_models.save_static(d, names)


def _no_probe_no_measure(monkeypatch):
    """Make any probe or measurement fail the test: the cases below must be decided before either."""
    import hybridperf.measure.calibrate as mcal
    import hybridperf.measure.probe as probe

    def boom(*a, **k):
        raise AssertionError("probed or measured before the input was checked")

    monkeypatch.setattr(probe, "probe", boom)
    monkeypatch.setattr(mcal, "measure_rounds", boom)


# --------------------------------------------------------------------------- duplicates


def test_unique_files_drops_a_repeated_path_and_a_copy(tmp_path):
    from hybridperf.measure.calibrate import unique_files

    a, b, c, d = (tmp_path / n for n in ("a.onnx", "b.onnx", "c.onnx", "d.onnx"))
    a.write_bytes(b"model-a")
    b.write_bytes(b"model-b")  # the same size as a, other bytes: a different model
    c.write_bytes(b"model-a")  # a copy of a
    d.write_bytes(b"model-dd")
    kept, dropped = unique_files([a, b, tmp_path / "." / "a.onnx", c, d])
    assert kept == [a, b, d]
    assert dropped == [(tmp_path / "." / "a.onnx", a), (c, a)]


def test_a_model_named_twice_is_measured_once(tmp_path, capsys, monkeypatch):
    """Before: `--measure m.onnx m.onnx` measured it twice (keys m, m-2), and leave-one-out "held out" each copy
    from an adaptation that had the other: 2 models, an error of 0 by construction."""
    _no_probe_no_measure(monkeypatch)
    (m,) = _static_models(tmp_path / "m", ("resnet_like",))
    code = main(["calibrate", "--device", "host", "--measure", str(m), str(m)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == (f"hybridperf: error: --measure needs at least 2 models, all different (got 1: {m} repeats {m}): "
                   "held-out error needs one to hold out; add another model")


def test_a_directory_and_a_file_in_it_is_one_model(tmp_path):
    from hybridperf.measure.calibrate import collect_models

    models = _static_models(tmp_path / "m", ("resnet_like", "densenet_like"))
    (tmp_path / "m" / "notes.txt").write_text("not a model")  # other files in a directory are not models
    seen = []
    got = collect_models([models[0], tmp_path / "m"], on_duplicate=lambda p, same: seen.append((p, same)))
    assert got == [models[0], models[1]]
    assert seen == [(models[0], models[0])]


# --------------------------------------------------------------------------- too few models


def test_shots_1_is_refused_before_measuring(tmp_path, capsys, monkeypatch):
    """An adaptation on one model keeps no correction; before, --shots 1 stored the zero-shot model as "few-shot
    adapted with 1 measured models"."""
    _no_probe_no_measure(monkeypatch)
    models = _static_models(tmp_path / "m")
    code = main(["calibrate", "--device", "host", "--measure", *map(str, models), "--shots", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--shots 1: an adaptation on one model keeps no correction" in err


def test_one_model_adaptation_keeps_no_correction():
    """The fact the two rules above rest on: an adaptation on one model always chooses "none"."""
    import numpy as np

    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import base_model
    from hybridperf.residual.features import MODEL_FEATURES

    base = base_model(load_spec("host-epyc-zen4-1c"), 1)
    x = np.zeros((1, len(MODEL_FEATURES)))
    x[0, MODEL_FEATURES.index("log_roofline_s")] = np.log(1e-3)
    for y in (-1.0, 0.0, 2.0):  # far off in either direction: still no correction from one model
        a = base.adapt(x, np.array([y])).adaptation_
        assert a["method"] == "none" and a["offset"] == 0.0


@pytest.mark.parametrize("n, k, shots, per_fold, known", [
    (2, 2, None, 1, False),  # leave-one-out over 2: each fold adapts on 1
    (3, 3, None, 2, True),
    (5, 2, 2, 2, True),      # --shots 2 of 5: the 3 held out were predicted by an adaptation on 2
    (12, 12, None, 11, True),
])
def test_heldout_adaptation_known_only_from_two_models_per_fold(n, k, shots, per_fold, known):
    from hybridperf.commands.calibrate import heldout_adaptation

    got, why = heldout_adaptation(n, k, shots)
    assert got == per_fold and (why is None) == known
    if not known:
        assert why == ("each held-out model was predicted by an adaptation on 1 model, which keeps no correction: "
                       "measure 3 or more models to test the adaptation (the stored one is adapted on all 2)")


def test_unknown_adapted_error_is_shown_as_unknown():
    from hybridperf.report.calibration import measure_calibration_text

    result = {"device": "host", "models": 2, "threads": 1, "stored": "/s", "data": "/d", "calibration": "m",
              "heldout": "leave-one-out over the 2 models", "replaced": "an earlier model",
              "heldout_unknown_reason": "each held-out model was predicted by an adaptation on 1 model",
              "heldout_mape_pct": {"roofline": 88.25, "zero_shot": 286.04, "adapted": None},
              "measurement_retest": {"rounds": 1, "halves": None, "models": None, "mape_pct": None},
              "duplicates_left_out": [["/m/a2.onnx", "/m/a.onnx"]],
              "not_calibrated_on": [{"key": "b", "why": "not measured: onnxruntime cannot load /m/b.onnx"}],
              "per_model": [{"key": "a", "measured_s": 58e-6, "roofline_s": 68e-6, "zero_shot_s": 204e-6,
                             "adapted_s": None}]}
    text = measure_calibration_text(result)
    assert ("held-out error (leave-one-out over the 2 models): roofline 88.2 %, cross-host zero-shot 286.0 % MAPE, "
            "adapted unknown (each held-out model was predicted by an adaptation on 1 model)") in text
    row = next(line for line in text.splitlines() if line.startswith("a "))
    assert row.split()[-1] == "unknown"
    assert "replaced the model stored there before: an earlier model" in text
    assert "measured once (named twice, or the same bytes): /m/a2.onnx = /m/a.onnx" in text
    assert "left out: b: not measured: onnxruntime cannot load /m/b.onnx" in text


# --------------------------------------------------------------------------- where the model goes


def _own_sheet(tmp_path: Path, new_id: str) -> Path:
    """A packaged CPU sheet under another id, as `probe --out` writes one."""
    import yaml

    from hybridperf.device.spec import default_spec_dir

    raw = yaml.safe_load((default_spec_dir() / "host-epyc-zen4-1c.yaml").read_text())
    raw["id"] = new_id
    p = tmp_path / f"{new_id}.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


def test_unwritable_home_is_an_input_error_before_measuring(tmp_path, capsys, monkeypatch):
    """Before: exit 3 (NotADirectoryError) after the probe or the whole measurement."""
    _no_probe_no_measure(monkeypatch)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("HYBRIDPERF_HOME", str(blocker / "home"))
    models = _static_models(tmp_path / "m")
    sheet = _own_sheet(tmp_path, "my-box")
    code = main(["calibrate", "--device", str(sheet), "--measure", *map(str, models)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err == (f"hybridperf: error: cannot store the calibrated model in {blocker / 'home' / 'models' / 'my-box'}: "
                   f"{blocker} is not a directory; set HYBRIDPERF_HOME to a writable directory")
    code = main(["calibrate", "--device", "host", "--measure", *map(str, models)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "set HYBRIDPERF_HOME to a writable directory" in err, err


def test_probe_host_into_an_unwritable_home_fails_before_probing(tmp_path, capsys, monkeypatch):
    _no_probe_no_measure(monkeypatch)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("HYBRIDPERF_HOME", str(blocker / "home"))
    code = main(["probe", "--host", "--quick"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.endswith(f"{blocker} is not a directory; set HYBRIDPERF_HOME to a writable directory"), err
    from hybridperf.measure.host import probe_host_spec

    with pytest.raises(InputError, match="set HYBRIDPERF_HOME"):
        probe_host_spec(quick=True)


def test_a_sheet_file_with_a_packaged_id_is_refused(tmp_path, capsys, monkeypatch):
    """Its model would go to models/<packaged id>/ and price the packaged sheet."""
    _no_probe_no_measure(monkeypatch)
    models = _static_models(tmp_path / "m")
    sheet = _own_sheet(tmp_path, "host-epyc-zen4-1c")
    code = main(["calibrate", "--device", str(sheet), "--measure", *map(str, models)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "has the id of the packaged sheet host-epyc-zen4-1c" in err


def test_a_packaged_sheet_of_another_cpu_is_refused(tmp_path, capsys, monkeypatch):
    """Before: `calibrate --device host-epyc-zen5-1c --measure` on a Zen 4 stored Zen 4 timings as the Zen 5 sheet's
    model, which `predict --device host-epyc-zen5-1c` then used."""
    import hybridperf.measure.host as host

    _no_probe_no_measure(monkeypatch)
    monkeypatch.setattr(host, "host_cpu", lambda identity=None: "GenuineIntel family 6 model 1 stepping 1")
    models = _static_models(tmp_path / "m")
    code = main(["calibrate", "--device", "host-epyc-zen5-1c", "--measure", *map(str, models)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert ("--device host-epyc-zen5-1c is the packaged sheet of another CPU (AuthenticAMD family 26 model 2 stepping "
            "1; this machine: GenuineIntel family 6 model 1 stepping 1)") in err


def test_a_packaged_sheet_whose_cpu_is_not_known_is_taken_over_and_said():
    from hybridperf.commands.calibrate import _check_named_sheet
    from hybridperf.device.spec import load_spec

    note = _check_named_sheet(load_spec("host-epyc-1c"), None)  # the model does not name that host's CPU
    assert note.startswith("host-epyc-1c is a packaged sheet: the model calibrated here prices it")
    assert _check_named_sheet(load_spec("host-epyc-1c"), "/elsewhere") is None


@pytest.mark.parametrize("out, msg", [
    ("host.yaml", "the id host is this machine's cached sheet"),
    ("a100-sxm-80gb.yaml", "the id a100-sxm-80gb is a packaged sheet's"),
    ("a-file/x.yaml", "a-file is a file, not a directory"),
])
def test_probe_out_refused_before_probing(out, msg, tmp_path, capsys, monkeypatch):
    _no_probe_no_measure(monkeypatch)
    (tmp_path / "a-file").write_text("x")
    code = main(["probe", "--out", str(tmp_path / out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and msg in err, err


# --------------------------------------------------------------------------- stored whole or not at all


def _packaged(name: str):
    from hybridperf.data import packaged_dir
    from hybridperf.residual.store import _load

    return _load(packaged_dir("models") / name)


def test_save_model_replaces_a_model_whole_and_keeps_other_files(tmp_path):
    import copy

    from hybridperf.residual.model import KERNEL_FILE, SIDECAR_FILE
    from hybridperf.residual.store import describe_stored, save_model

    d = tmp_path / "models" / "my-box"
    assert describe_stored(d) is None
    a = _packaged("host-epyc-1c")
    assert a.kernel_booster_ is not None
    save_model(a, d)
    (d / "NOTES.md").write_text("mine")
    assert describe_stored(d) == a.describe() and (d / KERNEL_FILE).exists()
    b = copy.copy(a)
    b.kernel_booster_ = None  # a model without a kernel booster: the old kernel file must go
    save_model(b, d)
    assert not (d / KERNEL_FILE).exists() and (d / SIDECAR_FILE).exists()
    assert (d / "NOTES.md").read_text() == "mine"
    # no staging left; the store's lock file stays (a flock is released with its process, never stale)
    assert [p.name for p in tmp_path.joinpath("models").iterdir() if p.name.startswith(".")] == [".my-box.lock"]


def test_an_interrupted_save_leaves_the_old_model(tmp_path, monkeypatch):
    """Before: the boosters were written over the old ones one by one, so a store interrupted after the first
    left the new booster beside the old sidecar (and adaptation), a mix that loads and predicts."""
    from hybridperf.residual.model import ResidualModel
    from hybridperf.residual.store import describe_stored, save_model

    d = tmp_path / "m"
    a = _packaged("host-epyc-1c")
    save_model(a, d)
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}
    real_save = ResidualModel.save

    def half_save(self, directory):
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(Path(directory) / "residual.txt"))
        raise KeyboardInterrupt

    monkeypatch.setattr(ResidualModel, "save", half_save)
    with pytest.raises(KeyboardInterrupt):
        save_model(a, d)
    monkeypatch.setattr(ResidualModel, "save", real_save)
    assert {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()} == before
    assert describe_stored(d) == a.describe()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.lock", "m"]  # no stage left; the lock file stays


# --------------------------------------------------------------------------- measure


def test_measure_one_run_has_no_spread(tmp_path, capsys):
    """One timed run: the std is unknown (JSON null, `std unknown`), not 0."""
    (m,) = _static_models(tmp_path / "m", ("resnet_like",))
    args = ["measure", str(m), "--repeats", "1", "--warmup", "0", "--threads", "1", "--no-subnormal-scan"]
    assert main([*args, "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["repeats"] == 1 and rec["latency_std_s"] is None and rec["latency_s"] > 0
    assert main(args) == 0
    assert "std unknown  (1 run after 0 warm-up)" in capsys.readouterr().out


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_two_models_then_three_replaced_and_said(tmp_path, capsys, monkeypatch):
    """Two models: the held-out error of the adaptation is unknown (null), not the zero-shot figure again; a second
    calibration says what it replaced; the printed held-out error is the mean of the per-model errors."""
    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    from hybridperf.device.spec import default_spec_dir
    from hybridperf.measure.host import host_model_dir, install_host_spec

    install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml")
    models = _static_models(tmp_path / "m")
    base = ["calibrate", "--device", "host", "--rounds", "1", "--format", "json", "--measure"]
    assert main([*base, *map(str, models[:2])]) == 0
    cap = capsys.readouterr()
    res = json.loads(cap.out)
    assert res["heldout_mape_pct"]["adapted"] is None and res["heldout_adapted_on"] == 1 and res["replaced"] is None
    assert all(r["adapted_s"] is None for r in res["per_model"])
    assert "held-out error of the adaptation unknown" in cap.err
    assert main([*base, *map(str, models)]) == 0
    cap = capsys.readouterr()
    res = json.loads(cap.out)
    assert "few-shot adapted with 2 measured models" in res["replaced"]
    assert f"replaced the model stored in {host_model_dir()} before" in cap.err
    per = res["per_model"]
    mape = 100.0 * sum(abs(r["adapted_s"] - r["measured_s"]) / r["measured_s"] for r in per) / len(per)
    assert res["heldout_mape_pct"]["adapted"] == pytest.approx(mape, rel=1e-9)


def test_measurements_are_copied_before_the_model_is_stored(tmp_path):
    """The measurements were copied into place after the model was stored (an interrupt during the copy left the new
    model beside the old measurements): now they are copied beside the folder first, and swapped in by renames once
    the model is stored, or discarded when storing it fails."""
    from hybridperf.commands.calibrate import _stage_dir

    src, dest = tmp_path / "staged", tmp_path / "home" / "calibration"
    src.mkdir()
    (src / "measurements.csv").write_text("key,s\nnew,1\n")
    dest.mkdir(parents=True)
    (dest / "measurements.csv").write_text("key,s\nold,2\n")
    swap_in, discard = _stage_dir(src, dest)
    assert (dest / "measurements.csv").read_text() == "key,s\nold,2\n"  # nothing replaced before the model is stored
    discard()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["calibration"]
    swap_in, discard = _stage_dir(src, dest)
    swap_in()
    assert (dest / "measurements.csv").read_text() == "key,s\nnew,1\n"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["calibration"]
