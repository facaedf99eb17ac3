"""Several hybridperf processes sharing one ``HYBRIDPERF_HOME`` at once (parallel CI jobs on one runner).

One probe at a time, the others waiting for its sheet; a stored model read whole or not at all; two stores of one
model (and its measurements) ending with one whole; ``predict-many -o`` appends of two runs neither duplicated nor
torn; a lock of a killed process never stale. The other process is a small Python child that holds a lock until
told to go, so nothing here depends on how fast this machine is (no sleeps, no timing asserts).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_probe import _fake_cpu_result

from hybridperf.errors import InputError
from hybridperf.files import LockTimeout, file_lock

PKG_MODELS = Path(__file__).resolve().parents[1] / "hybridperf" / "data" / "models"

#: a child holding an exclusive lock on argv[1] (the probe lock when argv[2] is "probe"), saying "held PID" on stdout
#: and letting go when a line arrives on stdin; with argv[3], it first installs that sheet as the host's (as the
#: prober it stands for would have cached it)
HOLDER = """
import sys
from hybridperf.files import file_lock
from hybridperf.measure.host import install_host_spec, probe_lock
lock = probe_lock() if sys.argv[2] == "probe" else file_lock(sys.argv[1])
with lock:
    print("held", flush=True)
    sys.stdin.readline()
    if len(sys.argv) > 3:
        install_host_spec(sys.argv[3])
"""


def faked_probe(tmp_path, monkeypatch) -> list:
    """An empty user data directory under ``tmp_path`` and a fake probe: the list of each call's ``quick``."""
    from hybridperf.measure import probe

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    calls = []
    monkeypatch.setattr(probe, "probe", lambda quick=False, progress=None, use_gpu=None: calls.append(quick) or
                        _fake_cpu_result())
    return calls


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty user data directory; the fake probe records each call."""
    return faked_probe(tmp_path, monkeypatch)


def _holder(*args: str) -> subprocess.Popen:
    """A child holding a lock (:data:`HOLDER`); returns once it holds it."""
    p = subprocess.Popen([sys.executable, "-c", HOLDER, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, env={**os.environ})
    assert p.stdout.readline() == "held\n"
    return p


def _let_go(p: subprocess.Popen) -> None:
    p.stdin.write("go\n")
    p.stdin.flush()


# --------------------------------------------------------------------------- the lock itself


def test_a_busy_lock_names_its_holder_and_times_out(tmp_path):
    lock = tmp_path / "x.lock"
    p = _holder(str(lock), "file")
    told = []
    try:
        with pytest.raises(LockTimeout) as exc, file_lock(lock, timeout_s=0.0, on_wait=told.append):
            pass
        assert exc.value.holder == p.pid and str(exc.value) == f"process {p.pid} holds the lock {lock} (waited 0 s)"
    finally:
        _let_go(p)
        p.wait()
    with file_lock(lock, timeout_s=0.0):  # let go: taken at once
        assert lock.read_text() == f"{os.getpid()}\n"


def test_the_lock_of_a_killed_process_is_not_stale(tmp_path):
    lock = tmp_path / "x.lock"
    p = _holder(str(lock), "file")
    os.kill(p.pid, signal.SIGKILL)  # kill -9 while it holds it: the kernel releases it
    p.wait()
    assert lock.read_text() == f"{p.pid}\n"  # the file stays behind, its lock does not
    with file_lock(lock, timeout_s=0.0):
        pass


def test_another_thread_waits_but_the_same_thread_does_not_wait_on_itself(tmp_path):
    lock = tmp_path / "x.lock"
    with file_lock(lock, timeout_s=0.0):
        with file_lock(lock, timeout_s=0.0), file_lock(lock, shared=True, timeout_s=0.0):
            pass  # nested in the same thread: no self-deadlock
        caught = []

        def other():
            try:
                with file_lock(lock, shared=True, timeout_s=0.0):
                    pass
            except LockTimeout as exc:
                caught.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert len(caught) == 1  # flock belongs to the open file: another thread of this process is kept out


def test_a_reader_creates_no_lock_file(tmp_path):
    with file_lock(tmp_path / "x.lock", shared=True, create=False, timeout_s=0.0):
        pass
    assert list(tmp_path.iterdir()) == []  # reading a packaged model writes nothing into the package


# --------------------------------------------------------------------------- 1. one probe, the others wait


def test_a_command_waits_for_another_probe_and_uses_its_sheet(home):
    from hybridperf.device.spec import default_spec_dir, load_spec
    from hybridperf.measure.host import CacheState, ensure_host_spec, host_spec_state

    sheet = default_spec_dir() / "host-epyc-zen4-1c.yaml"
    p = _holder("-", "probe", str(sheet))  # another process is probing; it caches `sheet` when it lets go
    told = []

    def waiting(pid):
        told.append(pid)
        _let_go(p)  # the other probe ends now

    try:
        path = ensure_host_spec(on_wait=waiting)
    finally:
        p.wait()
    assert told == [p.pid]
    assert home == []  # it did not probe too: the other's sheet is the one cached and used
    assert host_spec_state() is CacheState.CURRENT
    assert load_spec(path).peak_flops("fp32") == load_spec(sheet).peak_flops("fp32")


def test_a_probe_that_waits_too_long_is_one_clear_error(home, monkeypatch, capsys):
    from hybridperf.cli import main
    from hybridperf.measure import host

    monkeypatch.setattr(host, "PROBE_LOCK_TIMEOUT_S", 0.0)
    p = _holder("-", "probe")
    try:
        code = main(["predict", str(Path(__file__).resolve().parents[1] / "examples" / "squeezenet1_1.onnx")])
    finally:
        _let_go(p)
        p.wait()
    err = capsys.readouterr().err.splitlines()
    lock = host.host_dir().parent / host.PROBE_LOCK_FILE
    assert code == 2 and home == []
    assert err[-1] == (f"hybridperf: error: process {p.pid} has been probing this machine for more than 0 s (lock "
                       f"{lock}); wait for it to finish, or end it and run again")


def test_a_probe_killed_half_way_is_probed_again(home):
    from hybridperf.measure.host import CacheState, ensure_host_spec, host_spec_state

    p = _holder("-", "probe")
    os.kill(p.pid, signal.SIGKILL)  # killed while probing: its lock goes with it, no sheet was cached
    p.wait()
    assert host_spec_state() is CacheState.MISSING
    ensure_host_spec()
    assert home == [False] and host_spec_state() is CacheState.CURRENT  # one full probe, no wait


# --------------------------------------------------------------------------- 2, 3. stored models


def _model(name: str):
    from hybridperf.residual.model import ResidualModel

    return ResidualModel.load(PKG_MODELS / name)


def _booster(m) -> str:
    return m.booster_.model_to_string()


def test_a_store_holds_its_directory_until_the_new_model_is_whole(tmp_path, monkeypatch):
    """While one store swaps files in, no reader (and no second store) gets in: of two stores the last wins whole."""
    from hybridperf.residual import store

    d = tmp_path / "models" / "dev"
    old, new = _model("cross-host-cpu"), _model("host-epyc-1c")
    store.save_model(old, d)
    seen = []
    real_replace = os.replace

    def try_to_read():  # another thread: the store's own thread would not wait on its own lock
        try:
            with file_lock(store.lock_path(d), shared=True, timeout_s=0.0):
                seen.append("read mid-store")
        except LockTimeout:
            seen.append("kept out")

    def replace(src, dst):  # mid-store: the old sidecar is gone, some files are new, the new sidecar is not in yet
        if Path(dst).parent == d and not seen:
            t = threading.Thread(target=try_to_read)
            t.start()
            t.join()
        real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", replace)
    store.save_model(new, d)
    assert seen == ["kept out"]
    loaded = store.load_for_device("dev", d.parent)
    assert _booster(loaded) == _booster(new) and loaded.trained_on_ == new.trained_on_


def test_a_reader_waits_for_a_store(tmp_path, monkeypatch):
    from hybridperf.residual import store

    d = tmp_path / "models" / "dev"
    store.save_model(_model("host-epyc-1c"), d)
    monkeypatch.setattr(store, "LOCK_TIMEOUT_S", 0.0)
    p = _holder(str(store.lock_path(d)), "file")  # a store under way in another process
    try:
        with pytest.raises(InputError) as exc:
            store.load_for_device("dev", d.parent)
    finally:
        _let_go(p)
        p.wait()
    assert str(exc.value) == (f"process {p.pid} has held the model in {d} for more than 0 s (lock {store.lock_path(d)}); "
                              "wait for it to finish, or end it and run again")
    assert store.load_for_device("dev", d.parent) is not None  # let go: read at once


def test_the_host_model_is_read_under_the_lock(home, monkeypatch):
    from hybridperf import api
    from hybridperf.device.spec import default_spec_dir, load_spec
    from hybridperf.measure.host import host_model_dir, install_host_spec
    from hybridperf.residual import store

    spec = load_spec(install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml"))
    store.save_model(_model("cross-host-cpu"), host_model_dir())
    monkeypatch.setattr(store, "LOCK_TIMEOUT_S", 0.0)
    p = _holder(str(store.lock_path(host_model_dir())), "file")  # `calibrate --device host` storing now
    try:
        with pytest.raises(InputError, match="has held the model in"):
            api._host_residual(spec)
    finally:
        _let_go(p)
        p.wait()


def test_a_store_killed_half_way_leaves_nothing_the_next_does_not_clear(tmp_path):
    from hybridperf.residual import store

    d = tmp_path / "models" / "dev"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = d.parent / f".dev.saving-{int(dead.stdout)}"  # a stage of a store killed with kill -9
    live = d.parent / f".dev.saving-{os.getppid()}"  # a stage of a store under way in a live process
    for stage in (gone, live):
        stage.mkdir(parents=True)
    store.save_model(_model("host-epyc-1c"), d)
    assert sorted(p.name for p in d.parent.iterdir()) == [".dev.lock", live.name, "dev"]


def test_two_calibrations_stage_their_measurements_apart(tmp_path):
    from hybridperf.commands.calibrate import _stage_dir

    src = tmp_path / "staged"
    src.mkdir()
    (src / "measurements.csv").write_text("a\n")
    dest = tmp_path / "host" / "calibration"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (dest.parent / f"calibration.new-{int(dead.stdout)}").mkdir(parents=True)  # left by a killed calibration
    swap_in, _ = _stage_dir(src, dest)
    other = dest.parent / f"calibration.new-{os.getppid()}"  # another calibration's copy, still to be swapped in
    other.mkdir()
    swap_in()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["calibration", other.name]
    assert (dest / "measurements.csv").read_text() == "a\n"


# --------------------------------------------------------------------------- 4. predict-many -o


def _rows(tmp_path):
    from hybridperf.commands.predict_many import RowFile

    out = tmp_path / "rows.jsonl"
    files = {"a.onnx": ["a", 1], "b.onnx": ["b", 2]}
    settings = {"device": "t4", "batch": None}
    return out, files, settings, lambda: RowFile(out, files, settings)


def test_two_runs_on_one_output_write_each_row_once(tmp_path):
    from hybridperf.commands.predict_many import load_done

    out, files, settings, open_rows = _rows(tmp_path)
    first, second = open_rows(), open_rows()  # started together: neither saw a row
    assert first.done == {} and second.done == {}
    row = lambda m: {"model": m, "status": "ok", "latency_s": 1e-3, **settings, "model_file": files[m]}  # noqa: E731
    assert first.append("a.onnx", row("a.onnx")) is True
    assert second.append("a.onnx", row("a.onnx")) is False  # the other run wrote it meanwhile
    assert second.append("b.onnx", row("b.onnx")) is True
    assert first.append("b.onnx", row("b.onnx")) is False
    first.close()
    second.close()
    lines = out.read_text().splitlines()
    assert [json.loads(x)["model"] for x in lines] == ["a.onnx", "b.onnx"]
    assert sorted(load_done(out, files, settings)) == ["a.onnx", "b.onnx"]


def test_a_row_after_a_line_torn_by_a_killed_run_starts_a_line(tmp_path):
    from hybridperf.commands.predict_many import load_done

    out, files, settings, open_rows = _rows(tmp_path)
    rows = open_rows()
    with out.open("a") as f:
        f.write('{"model": "a.onnx", "sta')  # another run killed while it wrote
    assert rows.append("b.onnx", {"model": "b.onnx", "status": "ok", **settings, "model_file": files["b.onnx"]})
    rows.close()
    assert out.read_text().splitlines()[1] == json.dumps({"model": "b.onnx", "status": "ok", **settings,
                                                          "model_file": files["b.onnx"]})
    assert sorted(load_done(out, files, settings)) == ["b.onnx"]  # the torn row is redone, not an error


def test_a_calibration_during_which_the_sheet_was_probed_again_stores_nothing(tmp_path, monkeypatch, capsys):
    """The model is adapted with the sheet read at the start: stored beside another (a `probe --host` that ran
    meanwhile) it would be priced with figures it was not adapted to; until 2026-12-03 it was stored all the same."""
    import hybridperf.measure.calibrate as cal
    from test_cross_host import _fake_rounds, _tiny_models

    from hybridperf.cli import main
    from hybridperf.device.spec import default_spec_dir
    from hybridperf.measure import host

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(host, "host_threads", lambda: 1)
    sheet = host.install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml")
    d = _tiny_models(tmp_path / "m")
    latencies = {d / "resnet_like.onnx": 2e-3, d / "mobilenetv2_like.onnx": 1e-3, d / "bert_like.onnx": 5e-4}
    measure = _fake_rounds(latencies)

    def measured_while_probed(*args, **kwargs):
        host.install_host_spec(default_spec_dir() / "host-epyc-1c.yaml")  # another process re-probes meanwhile
        return measure(*args, **kwargs)

    monkeypatch.setattr(cal, "measure_rounds", measured_while_probed)
    assert main(["calibrate", "--device", "host", "--measure", *map(str, latencies)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"hybridperf: error: this machine's sheet {sheet} was probed again (`hybridperf probe --host`, another "
        "process) while calibrate measured, and the model is adapted with the previous one; nothing was stored: run "
        "calibrate again")
    assert not host.host_model_dir().exists() and not (host.host_dir() / "calibration").exists()
    assert [p.name for p in host.host_dir().iterdir() if p.name.startswith("calibration")] == []  # no stage left


def test_probe_host_waits_for_another_probe_then_one_clear_error(home, monkeypatch, capsys):
    from hybridperf.cli import main
    from hybridperf.measure import host

    monkeypatch.setattr(host, "PROBE_LOCK_TIMEOUT_S", 0.0)
    p = _holder("-", "probe")
    try:
        code = main(["probe", "--host", "--quick"])
    finally:
        _let_go(p)
        p.wait()
    lock = host.host_dir().parent / host.PROBE_LOCK_FILE
    assert code == 2 and home == [] and capsys.readouterr().err.splitlines()[-1] == (
        f"hybridperf: error: process {p.pid} has been probing this machine for more than 0 s (lock {lock}); wait for "
        "it to finish, or end it and run again")
