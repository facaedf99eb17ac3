"""Audit 2026-12-05 of ``predict-many``, ``measure`` and ``probe`` as a demanding user meets them: each test is a
defect found and fixed.

* a ``predict-many`` killed by SIGTERM (``kill PID``, ``timeout``, a cancelled CI job) left its pool's workers (TVM
  imported, about 350 MiB each) waiting forever, and a killed ``measure`` left its onnxruntime worker timing the CPUs
  for up to 600 s;
* ``predict-many -d t4 -d t4`` was refused as two devices ("one device per run"), where ``predict`` takes it;
* a quoted glob (``predict-many 'models/*.onnx'``) read "not found ...; check the path", naming no fix;
* every model failing for one flag whose fix is worded per model (``--shape`` naming an input no model has) said
  "fix or remove those files".
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from hybridperf.cli import ExitCode
from hybridperf.errors import InputError
from test_sweep_user_audit import _run  # the command's exit code, stdout and stderr


@pytest.fixture(scope="module")
def one_model(model_dir, tmp_path_factory):
    """resnet_like (symbolic batch N) alone in a folder."""
    d = tmp_path_factory.mktemp("one")
    shutil.copy(model_dir / "resnet_like.onnx", d / "resnet_like.onnx")
    return d


# --------------------------------------------------------------------------- 1. workers end with their command


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped, counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_worker_ends_when_the_command_that_started_it_is_killed(tmp_path):
    # until 2026-12-05 a predict-many pool worker or measure's onnxruntime worker outlived a SIGTERM'd command
    pid_file = tmp_path / "child.pid"
    # the child writes its pid once its parent-death signal is set (whole: written aside, then renamed)
    parent_code = textwrap.dedent(f"""
        import os, subprocess, sys, time
        code = ("from hybridperf.measure.child import end_with_parent; import os, sys, time; "
                "end_with_parent(int(sys.argv[1])); open(sys.argv[2] + '.new', 'w').write(str(os.getpid())); "
                "os.replace(sys.argv[2] + '.new', sys.argv[2]); time.sleep(60)")
        subprocess.Popen([sys.executable, "-c", code, str(os.getpid()), {str(pid_file)!r}])
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
        parent.send_signal(signal.SIGTERM)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        parent.kill()
        parent.wait()


def test_a_worker_whose_parent_is_already_gone_ends_at_once():
    # the parent died while the worker started: it is reparented before the signal is set, so it must not run on
    code = ("import os; from hybridperf.measure.child import end_with_parent; "
            "end_with_parent(os.getppid() + 1); print('still running')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "still running" not in done.stdout


def test_the_pool_worker_and_the_measure_worker_end_with_their_command(monkeypatch, tmp_path, model_dir):
    # until 2026-12-05 neither the pool's initializer nor measure's worker command (no parent pid) set end_with_parent
    from hybridperf.commands import _sweep
    from hybridperf.measure import child, onnxruntime

    called = []
    monkeypatch.setattr(child, "end_with_parent", lambda parent: called.append(parent))
    monkeypatch.setattr(_sweep, "_worker_session", None)
    _sweep._init_worker()  # in this process: no multiprocessing parent, so the parent is os.getppid()'s
    assert called == [None]

    seen = {}

    def fake_run(cmd, **kw):
        seen["cmd"] = cmd
        raise subprocess.TimeoutExpired(cmd, 1)

    monkeypatch.setattr(onnxruntime.subprocess, "run", fake_run)
    with pytest.raises(InputError, match="ran past"):
        onnxruntime.measure(model_dir / "resnet_like.onnx", batch=1, repeats=1, warmup=0, profile=False)
    assert seen["cmd"][-1] == str(os.getpid())


# --------------------------------------------------------------------------- 2. predict-many's arguments


def test_the_same_device_twice_is_one_device(one_model, capsys):
    # until 2026-12-05 "predict-many prices one device per run (got -d t4 -d t4)", exit 2; predict takes it
    code, out, err = _run(capsys, "predict-many", str(one_model), "-d", "t4", "-d", "t4", "--batch", "1",
                          "--jobs", "1", "--format", "csv")
    assert code == ExitCode.OK, err
    assert len(out.splitlines()) == 1 + 1  # header + one model
    code, _, err = _run(capsys, "predict-many", str(one_model), "-d", "t4", "-d", "l4", "--batch", "1")
    assert code == ExitCode.INPUT_ERROR and "one device per run" in err


def test_a_quoted_glob_is_named_as_one(one_model, capsys):
    # until 2026-12-05 "not found: DIR/*.onnx; check the path", which names no fix
    code, _, err = _run(capsys, "predict-many", str(one_model / "*.onnx"), "-d", "t4")
    assert code == ExitCode.INPUT_ERROR
    assert "drop the quotes" in err and len(err.strip().splitlines()) == 1


def test_every_model_failing_for_one_flag_names_the_flag_not_the_files(model_dir, tmp_path, capsys):
    # until 2026-12-05 "every model failed (2 of 2; each row says why): fix or remove those files": the files were
    # fine, --shape named an input neither has (each row's fix names that model's inputs, so the errors differed)
    import onnx

    m = onnx.load(str(model_dir / "resnet_like.onnx"))
    onnx.save(m, str(tmp_path / "a.onnx"))
    old = m.graph.input[0].name
    for node in m.graph.node:  # the same model with its input named pixels: another fix ("the model's inputs are ...")
        node.input[:] = ["pixels" if i == old else i for i in node.input]
    m.graph.input[0].name = "pixels"
    onnx.save(m, str(tmp_path / "b.onnx"))
    code, _, err = _run(capsys, "predict-many", str(tmp_path), "-d", "t4", "--shape", "nope=1x3", "--jobs", "1")
    assert code == ExitCode.INPUT_ERROR
    line = err.strip().splitlines()[-1]
    assert "with the same error: --shape names unknown input 'nope'" in line
    assert "a.onnx: the model's inputs are x" in line and "remove those files" not in line
