"""``hybridperf calibrate``: every option given is either read by the flow it runs or refused (one line, exit 2), and
``--out DIR`` keeps everything ``--measure`` writes under DIR. Audited 2026-12-04.

Exit codes, messages and files only: the measuring is faked (``measure_rounds`` replaced) or refused before it; the
models are the tiny hand-built ones of ``tests/onnx_models.py``.
"""

from __future__ import annotations

import json

import pytest

from hybridperf.cli import main
from test_calib_flow_dec4 import _fake_measuring, _host_home, _never, _static_models


def _one_line_error(capsys) -> str:
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    return err.strip().removeprefix("hybridperf: error: ")


def _gpu_rows(path):
    from test_gpu_calibrate_audit import _good_rows, _write

    return _write(path, _good_rows())


# --------------------------------------------------------------------------- typed, or the parser's default


def test_a_typed_default_is_told_from_the_default():
    """--rounds and --seed have defaults (4, 0); a value typed equal to the default must still count as given, or a
    flow that cannot apply it would take it silently."""
    from hybridperf.cli import build_parser
    from hybridperf.commands.calibrate_options import typed

    parse = build_parser(only="calibrate").parse_args
    left = parse(["calibrate", "-d", "host", "--reset"])
    given = parse(["calibrate", "-d", "host", "--reset", "--rounds", "4", "--seed", "0"])
    assert (left.rounds, left.seed) == (4, 0) and not typed(left, "rounds") and not typed(left, "seed")
    assert (given.rounds, given.seed) == (4, 0) and typed(given, "rounds") and typed(given, "seed")


# --------------------------------------------------------------------------- GPU: --rounds, --seed


@pytest.mark.parametrize(("flag", "value"), [("--rounds", "4"), ("--rounds", "2"), ("--seed", "0"), ("--seed", "7")])
def test_a_gpu_calibration_refuses_rounds_and_seed(flag, value, tmp_path, capsys, monkeypatch):
    """Until 2026-12-04 `calibrate --device a100-sxm-80gb --data rows.csv --rounds 2` (or --seed) adapted and stored
    as without it, exit 0: a GPU calibration draws nothing at random and times by its own repeats. Now exit 2, one
    line naming the flow the option goes with, nothing stored (the default values typed are refused alike)."""
    home = tmp_path / "home"
    monkeypatch.setenv("HYBRIDPERF_HOME", str(home))
    rows = _gpu_rows(tmp_path / "rows.csv")
    assert main(["calibrate", "--device", "a100-sxm-80gb", "--data", str(rows), flag, value]) == 2
    assert _one_line_error(capsys) == (
        f"{flag} goes with " + ("a CPU --measure (onnxruntime's interleaved rounds)" if flag == "--rounds" else
                                "a CPU calibration (LightGBM, the --shots / --few-shot sample, the --measure round "
                                "order)") + f"; a GPU --data (rows already measured) does not read it: drop {flag}")
    assert not home.exists()
    # a GPU --measure: refused before CUDA is looked for
    assert main(["calibrate", "--device", "a100-sxm-80gb", "--measure", "a.pt2", "b.pt2", flag, value]) == 2
    assert _one_line_error(capsys).endswith(f"a GPU --measure does not read it: drop {flag}")


# --------------------------------------------------------------------------- --reset


@pytest.mark.parametrize(("flag", "value"), [("--rounds", "4"), ("--seed", "0"), ("--seed", "3")])
def test_reset_refuses_rounds_and_seed(flag, value, tmp_path, capsys, monkeypatch):
    """Until 2026-12-04 `calibrate --device host --reset --rounds 4` (or --seed) removed the calibration, exit 0, the
    option taken without a word. Now exit 2 before anything is removed."""
    home = _host_home(tmp_path, monkeypatch)
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4))
    models = _static_models(tmp_path / "m")
    assert main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1"]) == 0
    capsys.readouterr()
    stored = sorted(p.relative_to(home) for p in home.rglob("*"))
    assert main(["calibrate", "--device", "host", "--reset", flag, value]) == 2
    assert _one_line_error(capsys) == (f"--reset removes a stored calibration and takes only --device and --out; drop "
                                       f"{flag}")
    assert sorted(p.relative_to(home) for p in home.rglob("*")) == stored


# --------------------------------------------------------------------------- CPU --data, CPU --measure


@pytest.mark.parametrize(("argv", "line"), [
    (["--shots", "2"], "--shots goes with --measure; a CPU --data adapts on K of its rows with --few-shot K "
                       "--base-device ID"),
    (["--rounds", "4"], "--rounds goes with a CPU --measure (onnxruntime's interleaved rounds); a CPU --data (tables "
                        "already measured) does not read it: drop --rounds"),
    (["--threads", "1"], "--threads goes with a CPU --measure; a CPU --data (tables already measured) does not read "
                         "it: drop --threads"),
    (["--models", "zoo"], "--models goes with a GPU --data (the folder of the rows' onnx_file); a CPU --data (tables "
                          "already measured) does not read it: drop --models"),
    (["--dtype", "fp16"], "--dtype goes with a GPU --measure; a CPU --data (tables already measured) does not read "
                          "it: drop --dtype"),
])
def test_a_cpu_data_calibration_refuses_what_it_does_not_read(argv, line, tmp_path, capsys, monkeypatch):
    """Until 2026-12-04 `calibrate --device host-xeon-2c --data DIR` took --shots, --rounds, --threads, --models and
    --dtype and trained as without them, exit 0. Now exit 2, one line, before the tables are read."""
    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    assert main(["calibrate", "--device", "host-xeon-2c", "--data", str(tmp_path / "tables"), *argv]) == 2
    assert _one_line_error(capsys) == line


@pytest.mark.parametrize(("argv", "line"), [
    (["--models", "zoo"], "--models goes with a GPU --data (the folder of the rows' onnx_file); a CPU --measure does "
                          "not read it: drop --models"),
    (["--dtype", "fp16"], "--dtype goes with a GPU --measure; a CPU --measure does not read it: drop --dtype"),
])
def test_a_cpu_measure_calibration_refuses_gpu_options(argv, line, tmp_path, capsys, monkeypatch):
    """Until 2026-12-04 `calibrate --device host --measure a.onnx b.onnx --dtype fp16` measured in fp32 (onnxruntime
    runs the models as exported) and stored the model, exit 0; --models was ignored alike. Now exit 2 before any
    measurement."""
    import hybridperf.measure.calibrate as cal

    _host_home(tmp_path, monkeypatch)
    monkeypatch.setattr(cal, "measure_rounds", _never)
    models = _static_models(tmp_path / "m")
    assert main(["calibrate", "--device", "host", "--measure", *map(str, models), *argv]) == 2
    assert _one_line_error(capsys) == line


# --------------------------------------------------------------------------- --out DIR


def test_measure_out_keeps_the_measurements_under_out(tmp_path, capsys, monkeypatch):
    """Until 2026-12-04 `calibrate --device host --measure ... --out DIR` stored the model in DIR but its measurements
    in the data home's hosts/<key>/calibration, replacing the measurements of the model predict uses (and a later
    `--reset` without --out removed them; `--reset --out DIR` left them). Now they go to DIR/calibration, the data
    home holds none, and `--reset --out DIR` removes both (and DIR, then empty)."""
    from hybridperf.measure.calibrate import TABLE_FILES
    from hybridperf.measure.host import host_dir

    _host_home(tmp_path, monkeypatch)
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4))
    models = _static_models(tmp_path / "m")
    out = tmp_path / "mine"
    assert main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1", "--out",
                 str(out), "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["stored"] == str(out) and r["data"] == str(out / "calibration")
    assert {p.name for p in (out / "calibration").iterdir()} <= set(TABLE_FILES)
    assert (out / "calibration" / "measurements.csv").is_file()
    assert not (host_dir() / "calibration").exists()
    assert main(["calibrate", "--device", "host", "--reset", "--out", str(out), "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["measurements_removed"] == str(out / "calibration") and not out.exists()


def test_measure_out_leaves_the_default_calibration_alone(tmp_path, capsys, monkeypatch):
    """Until 2026-12-04 an experiment with --out replaced the measurements beside the default model: the stored model
    and its tables no longer matched. Now the default calibration's tables stay byte for byte."""
    from hybridperf.measure.host import host_dir

    _host_home(tmp_path, monkeypatch)
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4))
    models = _static_models(tmp_path / "m")
    assert main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1"]) == 0
    before = (host_dir() / "calibration" / "measurements.csv").read_bytes()
    _fake_measuring(monkeypatch, (4e-3, 3e-3, 1e-3))
    assert main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1", "--out",
                 str(tmp_path / "exp")]) == 0
    capsys.readouterr()
    assert (host_dir() / "calibration" / "measurements.csv").read_bytes() == before
    assert (tmp_path / "exp" / "calibration" / "measurements.csv").read_bytes() != before


def test_measure_out_refuses_a_calibration_folder_of_the_users(tmp_path, capsys, monkeypatch):
    """`--out .` in a checkout with its own calibration/ (this repository's) would have that folder replaced by the
    measurements and then removed by `--reset --out .`. Refused before anything is measured; the folder stays."""
    import hybridperf.measure.calibrate as cal

    _host_home(tmp_path, monkeypatch)
    monkeypatch.setattr(cal, "measure_rounds", _never)
    models = _static_models(tmp_path / "m")
    out = tmp_path / "checkout"
    (out / "calibration" / "host-xeon-2c").mkdir(parents=True)
    (out / "calibration" / "host-xeon-2c" / "features.csv").write_text("the user's")
    assert main(["calibrate", "--device", "host", "--measure", *map(str, models), "--out", str(out)]) == 2
    assert _one_line_error(capsys) == (f"--out {out}: {out / 'calibration'} is not a folder of measurements calibrate "
                                       f"wrote, and calibrate --measure stores its measurements there; choose another "
                                       f"--out, or move {out / 'calibration'}")
    # --reset --out leaves it alone too
    assert main(["calibrate", "--device", "host", "--reset", "--out", str(out)]) == 0
    capsys.readouterr()
    assert (out / "calibration" / "host-xeon-2c" / "features.csv").read_text() == "the user's"


def test_measure_out_that_fails_to_store_leaves_nothing(tmp_path, capsys, monkeypatch):
    """A store into --out DIR that fails (a full disk) leaves neither the measurements nor DIR, which it created (its
    lock file beside it stays: a lock file is never stale, :func:`hybridperf.files.file_lock`)."""
    import errno

    import hybridperf.residual.store as store
    from hybridperf.measure.host import host_dir

    _host_home(tmp_path, monkeypatch)
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4))

    def full(model, directory):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "save_model", full)
    models = _static_models(tmp_path / "m")
    out = tmp_path / "new" / "mine"
    assert main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1", "--out",
                 str(out)]) == 2
    assert _one_line_error(capsys).startswith(f"cannot store the model in {out}: No space left on device")
    assert [p.name for p in (tmp_path / "new").iterdir()] == [".mine.lock"]
    assert not (host_dir() / "calibration").exists()
