"""A first-time user's calibrate -> reset on `host`, audited from the installed wheel on 2026-12-04 (evening): a
calibration run under `taskset -c 1` and the reset its output names, run without it.

Structure, files and exit codes only (never timings): the measuring is faked, the models are the tiny hand-built ones
of ``tests/onnx_models.py``.
"""

from __future__ import annotations

import json

from hybridperf.cli import main
from test_calib_flow_dec4 import _fake_measuring, _host_home, _static_models


def test_reset_on_other_cpus_names_the_model_of_the_calibration(tmp_path, capsys, monkeypatch):
    """Until 2026-12-04 `calibrate --device host --reset` run without the `taskset -c 1` its calibration ran under
    (the command that calibration's output ends with) said only "no calibrated model stored for host in
    .../<key>-2t/model: nothing removed": `host` is this machine with the CPUs the process may use, one folder per
    thread count, and the 1-thread model stayed without a word. Now a note on stderr names it, and how to remove it."""
    import hybridperf.measure.host as host
    from hybridperf.measure.host import host_model_dir

    _host_home(tmp_path, monkeypatch)  # one thread
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4))
    models = _static_models(tmp_path / "m")
    assert main(["calibrate", "--device", "host", "--measure", *map(str, models), "--rounds", "1"]) == 0
    one = host_model_dir()
    capsys.readouterr()

    monkeypatch.setattr(host, "host_threads", lambda: 2)  # the reset run on both CPUs
    assert host_model_dir() != one
    assert main(["calibrate", "--device", "host", "--reset"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("no calibrated model stored for host in ")
    assert err.splitlines() == [
        f"hybridperf: note: a model calibrated for host with 1 thread(s) is stored in {one}; host is this machine "
        "with the CPUs this process may use (2 now): run this reset on 1 CPU(s), as that calibration ran (e.g. under "
        "taskset), to remove it"]
    assert (one / "residual.json").is_file()  # left alone
    assert main(["calibrate", "--device", "host", "--reset", "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["removed"] is None and r["stored_for_other_threads"] == {"1": str(one)}

    monkeypatch.setattr(host, "host_threads", lambda: 1)
    assert main(["calibrate", "--device", "host", "--reset"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("removed the model calibrated for host from ") and "note:" not in err
    assert not one.exists()


def test_reset_with_nothing_stored_anywhere_says_only_that(tmp_path, capsys, monkeypatch):
    """No model for any thread count: the one line, no note (and no `stored_for_other_threads` in the JSON)."""
    _host_home(tmp_path, monkeypatch)
    assert main(["calibrate", "--device", "host", "--reset", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert "stored_for_other_threads" not in json.loads(out) and err == ""
