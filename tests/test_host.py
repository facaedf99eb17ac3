"""The device ``host``: its cached sheet is versioned, and a sheet of an older probe format is probed again.

Every test runs in its own empty ``HYBRIDPERF_HOME`` and fakes the probe (a real one takes seconds).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_probe import _fake_cpu_result

from hybridperf.cli import main
from hybridperf.device.spec import default_spec_dir, load_spec
from hybridperf.measure import probe
from hybridperf.measure.contention import contention_between
from hybridperf.measure.host import (HOST_SHEET_FORMAT, IDENTITY_FILE, CacheState, ensure_host_spec, host_spec_path,
                                     host_spec_state, install_host_spec)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "squeezenet1_1.onnx"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty user data directory and a fake probe that records its calls' ``(quick, use_gpu)``."""
    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    calls = []

    def fake_probe(quick=False, progress=None, use_gpu=None):
        calls.append((quick, use_gpu))
        return _fake_cpu_result()

    monkeypatch.setattr(probe, "probe", fake_probe)
    return calls


def _make_old(identity_update: dict | None = None, drop_format: bool = True) -> None:
    """Turn the cached sheet into one an older probe wrote: identity.json without ``format`` (or changed)."""
    path = host_spec_path().parent / IDENTITY_FILE
    record = json.loads(path.read_text())
    if drop_format:
        del record["format"]
    record.update(identity_update or {})
    path.write_text(json.dumps(record))


def test_a_fresh_cache_records_the_current_format(home):
    assert host_spec_state() is CacheState.MISSING
    path = ensure_host_spec()
    assert home == [(False, False)] and host_spec_state() is CacheState.CURRENT  # the full probe, the CPU only
    assert json.loads((path.parent / IDENTITY_FILE).read_text())["source"] == "hybridperf probe --cpu-only"
    assert json.loads((path.parent / IDENTITY_FILE).read_text())["format"] == HOST_SHEET_FORMAT
    assert ensure_host_spec() == path and len(home) == 1  # cached: not probed again


def test_a_cache_of_an_older_format_is_probed_again(home):
    install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml")
    assert host_spec_state() is CacheState.CURRENT and home == []
    _make_old()  # as written before the format was recorded (format 1: no ISA flags in its notes)
    assert host_spec_state() is CacheState.STALE
    path = ensure_host_spec()
    assert len(home) == 1 and host_spec_state() is CacheState.CURRENT
    assert load_spec(path).peak_flops("fp32") == 100e9  # the (fake) probe's sheet replaced the installed one
    _make_old({"format": HOST_SHEET_FORMAT - 1}, drop_format=False)
    assert host_spec_state() is CacheState.STALE


@pytest.mark.parametrize("identity_text", ["", "not json", "[1, 2]"])
def test_a_cache_without_a_readable_identity_is_stale(home, identity_text):
    path = install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml")
    (path.parent / IDENTITY_FILE).write_text(identity_text)
    assert host_spec_state() is CacheState.STALE


def test_cli_says_once_on_stderr_that_it_probes_again(home, capsys):
    install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml")
    _make_old()
    assert main(["predict", str(EXAMPLE), "--top", "0"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "written by an older probe; probing this machine again" in err
    assert str(host_spec_path()) in err and len(home) == 1
    assert main(["predict", str(EXAMPLE), "--top", "0"]) == 0
    assert capsys.readouterr().err == "" and len(home) == 1  # now current: no line, no probe


def test_cli_says_once_on_stderr_that_it_probes_a_new_host(home, capsys):
    assert main(["predict", str(EXAMPLE), "--top", "0"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "probing this machine once" in err and len(home) == 1


def test_probe_host_replaces_the_cached_sheet(home, capsys):
    curated = default_spec_dir() / "host-epyc-zen4-1c.yaml"
    install_host_spec(curated)
    assert load_spec(host_spec_path()).peak_flops("fp32") == load_spec(curated).peak_flops("fp32") != 100e9
    assert main(["probe", "--host", "--quick"]) == 0
    assert home == [(True, False)]  # probed once, the CPU, with the quick settings asked for
    assert load_spec(host_spec_path()).peak_flops("fp32") == 100e9  # the (fake) probe's sheet replaced it
    record = json.loads((host_spec_path().parent / IDENTITY_FILE).read_text())
    assert record["format"] == HOST_SHEET_FORMAT and record["source"] == "hybridperf probe --quick --cpu-only"
    out, err = capsys.readouterr()
    assert str(host_spec_path()) in out and "calibrated" not in err
    assert main(["probe", "--host"]) == 0 and home[-1] == (False, False)  # the full probe without --quick


def test_probe_host_says_a_calibrated_model_predates_the_new_sheet(home, capsys):
    from hybridperf.measure.host import host_model_dir

    ensure_host_spec()
    host_model_dir().mkdir(parents=True)
    assert main(["probe", "--host", "--quick"]) == 0
    err = capsys.readouterr().err
    assert "adapted with the previous sheet" in err and str(host_model_dir()) in err


@pytest.mark.parametrize("extra, why", [(["--id", "box"], "--id / --name go with --out"),
                                        (["--name", "box"], "--id / --name go with --out")])
def test_probe_host_refuses_options_of_out_before_probing(home, capsys, extra, why):
    assert main(["probe", "--host", *extra]) == 2
    err = capsys.readouterr().err
    assert why in err and err.count("\n") == 1 and home == []
    assert not host_spec_path().exists()


def test_probe_host_and_out_are_exclusive(home, tmp_path, capsys):
    assert main(["probe", "--host", "--out", str(tmp_path / "box.yaml")]) == 2
    assert "not allowed with argument" in capsys.readouterr().err and home == []
    assert not (tmp_path / "box.yaml").exists() and not host_spec_path().exists()


def test_first_use_warns_once_when_the_probe_ran_on_a_busy_cpu(tmp_path, monkeypatch, capsys):
    from dataclasses import replace

    from hybridperf.measure.host import host_probe_warning

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    busy = replace(_fake_cpu_result(), contention=contention_between((0.0, 0.0, 0), (2.0, 1.0, 250), threads=1))
    monkeypatch.setattr(probe, "probe", lambda quick=False, progress=None, use_gpu=None: busy)
    assert main(["predict", str(EXAMPLE), "--top", "0"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("hybridperf: device host: probing this machine once")
    assert err[1] == ("hybridperf: warning: device host: another process competed for the CPU during the probe "
                      "(preempted 125 times a second; it got 50% of its CPU time): its figures may be low; rerun "
                      "`hybridperf probe --host` when the machine is idle")
    assert host_probe_warning() == busy.contention.describe()
    # cached: still said, once per prediction (until 2026-12-04 nothing, and the busy figures priced it silently)
    assert main(["predict", str(EXAMPLE), "--top", "0"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "from a busy probe" in err[0] and "`hybridperf probe --host`" in err[0]
    monkeypatch.setattr(probe, "probe", lambda quick=False, progress=None, use_gpu=None: _fake_cpu_result())
    assert main(["probe", "--host", "--quick"]) == 0 and host_probe_warning() is None  # a quiet re-probe clears it


@pytest.mark.parametrize("command", [["predict"], ["report", "--html", "out.html"], ["annotate"],
                                     ["check", "--max-latency", "1s"]])
def test_a_mistyped_model_path_fails_before_the_host_probe(home, tmp_path, capsys, command):
    missing = tmp_path / "missng.onnx"
    argv = [command[0], str(missing), *command[1:]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"hybridperf: error: model file not found: {missing}; check the path\n"
    assert home == [] and not host_spec_path().exists()


@pytest.mark.parametrize("name", ["junk.onnx", "notes.txt"])
def test_a_file_that_is_not_onnx_fails_before_the_host_probe(home, tmp_path, capsys, name):
    """First use on a file that is not ONNX: one error line, no probe (its seconds, its stderr line, its cache)."""
    junk = tmp_path / name
    junk.write_text("not a model")
    assert main(["predict", str(junk)]) == 2
    assert capsys.readouterr().err == (f"hybridperf: error: cannot read {junk} as ONNX (DecodeError); the file is "
                                       "corrupt or not an ONNX model: re-export it\n")
    assert home == [] and not host_spec_path().exists()


def test_a_directory_is_not_a_model(tmp_path):
    from hybridperf.errors import ModelLoadError
    from hybridperf.frontends.load import load_model

    with pytest.raises(ModelLoadError, match=r"is a directory; pass a model file \(.onnx, .tflite or .pt2\)"):
        load_model(tmp_path)


def test_predict_many_defaults_to_host_like_predict(home, tmp_path, capsys):
    import shutil

    shutil.copy(EXAMPLE, tmp_path / "squeezenet.onnx")
    assert main(["predict-many", str(tmp_path), "-j", "1", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    single = main(["predict", str(EXAMPLE), "--format", "json"])
    one = json.loads(capsys.readouterr().out)
    assert single == 0 and len(home) == 1  # probed once, on first use
    assert rows["device"] == "host" and rows["models"][0]["latency_s"] == one["totals"]["latency_s"]
