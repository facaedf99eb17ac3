"""Caches that must never serve a stale figure: a model file or device sheet replaced under the same path, a
``predict-many --output`` file resumed under other settings, a stored model restored with its old mtime."""

from __future__ import annotations

import json
import os
import shutil

import onnx
import onnx_models

from hybridperf.device.spec import default_spec_dir

SHEET = default_spec_dir() / "host-epyc-1c.yaml"


def _user_sheet(path):
    """The packaged host-epyc-1c sheet under a user's own id (a shipped id with other figures is refused)."""
    text = SHEET.read_text(encoding="utf-8")
    assert text.count("id: host-epyc-1c\n") == 1
    path.write_text(text.replace("id: host-epyc-1c\n", "id: my-epyc\n"), encoding="utf-8")
    return path


def _slow_sheet(path):
    """The user's sheet (:func:`_user_sheet`) with its fp32 peak (88.89 GFLOP/s) and DRAM bandwidth (20.81 GB/s)
    lowered to 44 GFLOP/s and 10 GB/s in place, under the same id."""
    text = (path if path.exists() else _user_sheet(path)).read_text(encoding="utf-8")
    assert text.count("value: 88.89") == 1 and text.count("value: 20.81") == 2
    path.write_text(text.replace("value: 88.89", "value: 44.0").replace("value: 20.81", "value: 10.0"),
                    encoding="utf-8")
    return path


def test_file_key_sees_a_copy_with_the_old_mtime(tmp_path, monkeypatch):
    from hybridperf.analysis import cache
    from hybridperf.analysis.cache import file_key

    # "just written" however slowly this host runs the lines below (the real window is 3 s)
    monkeypatch.setattr(cache, "RACY_NS", 10**18)
    p = tmp_path / "m.onnx"
    p.write_bytes(b"a" * 100)
    before = file_key(p)
    st = p.stat()
    p.write_bytes(b"b" * 100)  # same size
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime put back, as cp -p / rsync -t / touch -r do
    after = file_key(p)
    assert p.stat().st_mtime_ns == st.st_mtime_ns and after[1] == before[1] == 100
    assert after != before
    assert before[-1] is not None and before[-1] != after[-1]  # just written: keyed by content too
    assert file_key(tmp_path / "missing.onnx") is None


def test_session_model_replaced_with_same_size_and_mtime(tmp_path):
    from hybridperf import api

    small, small_flops = onnx_models.resnet_like(hw=32, width=16)
    large, large_flops = onnx_models.resnet_like(hw=64, width=16)  # 4x the pixels; the same bytes on disk
    assert large_flops != small_flops
    p = tmp_path / "cand.onnx"
    onnx.save(small, str(p))
    st = p.stat()
    s = api.Session()
    assert s.predict(str(p), "host-epyc-1c", batch=1).flops == small_flops
    onnx.save(large, str(tmp_path / "next.onnx"))
    os.replace(tmp_path / "next.onnx", p)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (p.stat().st_size, p.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    # until 2026-12-03: small_flops again (the analysis keyed by path, size and mtime)
    assert s.predict(str(p), "host-epyc-1c", batch=1).flops == large_flops
    assert s.predict(str(p), "t4", batch=1).flops == large_flops


def test_session_sheet_edited_in_place(tmp_path, model_dir):
    from hybridperf import api

    sheet = _user_sheet(tmp_path / "my-epyc.yaml")
    model = str(model_dir / "resnet_like.onnx")
    s = api.Session()
    first = s.predict(model, str(sheet), batch=1, residual=None)
    assert s.spec(str(sheet)).peak_flops_per_s["fp32"] == 88.89e9
    _slow_sheet(sheet)
    spec = s.spec(str(sheet))
    # until 2026-12-03: the first parse, 88.89e9 and 20.81e9, for the session's life
    assert spec.peak_flops_per_s["fp32"] == 44.0e9
    assert spec.memory["dram"].bandwidth_bytes_per_s == 10.0e9
    again = s.predict(model, str(sheet), batch=1, residual=None)
    fresh = api.predict(model, str(sheet), batch=1, residual=None)
    assert again.latency_s == fresh.latency_s and again.energy_j == fresh.energy_j
    assert again.latency_s > first.latency_s


def _run(argv, capsys):
    from hybridperf.cli import main

    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)["models"]


def test_predict_many_resume_other_sheet_or_model(tmp_path, model_dir, capsys):
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(model_dir / "resnet_like.onnx", d / "a.onnx")
    out = tmp_path / "rows.jsonl"
    user = _user_sheet(tmp_path / "my-epyc.yaml")
    base = ["predict-many", str(d), "--batch", "1", "--jobs", "1", "--format", "json", "--output", str(out)]
    first = _run([*base, "-d", str(user)], capsys)[0]
    _slow_sheet(user)  # the same id, other figures
    edited = _run([*base, "-d", str(user)], capsys)[0]
    alone = _run([*base[:-2], "-d", str(user)], capsys)[0]  # no --output: nothing resumed
    # until 2026-12-03 the second run took the first sheet's row (0.000231825 s instead of 0.000336958 s)
    assert edited["latency_s"] == alone["latency_s"] != first["latency_s"]
    assert len(out.read_text().splitlines()) == 2
    packaged = _run([*base, "-d", "host-epyc-1c"], capsys)[0]
    assert _run([*base, "-d", "host-epyc-1c"], capsys)[0] == packaged  # the same settings: resumed, row unchanged
    assert len(out.read_text().splitlines()) == 3

    # the model replaced by another of the same size, its mtime put back
    st = (d / "a.onnx").stat()
    m, flops = onnx_models.resnet_like(hw=64, width=16)
    onnx.save(m, str(tmp_path / "b.onnx"))
    assert (tmp_path / "b.onnx").stat().st_size == st.st_size
    os.replace(tmp_path / "b.onnx", d / "a.onnx")
    os.utime(d / "a.onnx", ns=(st.st_atime_ns, st.st_mtime_ns))
    again = _run([*base, "-d", "host-epyc-1c"], capsys)[0]
    assert (packaged["flops"], again["flops"]) == (onnx_models.resnet_like(hw=32, width=16)[1], flops)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 4 and rows[0]["version"] == rows[3]["version"]
    assert "model_file" not in again and "device_sheet" not in again  # the resume keys stay in the file


def test_resume_settings_follow_stored_models_and_version(tmp_path, monkeypatch):
    import hybridperf
    from hybridperf.commands.predict_many import resume_settings
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.model import user_model_dir

    spec = load_spec("host-epyc-1c")
    before = resume_settings(spec)
    assert before["version"] == hybridperf.__version__
    stored = user_model_dir() / "cache-audit-device"
    stored.mkdir(parents=True)
    try:
        (stored / "sidecar.json").write_text("{}")  # a calibration stored (any device's may change which applies)
        after = resume_settings(spec)
    finally:
        shutil.rmtree(stored)
    assert after["stored_models"] != before["stored_models"]
    assert after["device_sheet"] == before["device_sheet"]
    assert resume_settings(spec) == before


def test_stored_model_restored_with_old_mtime(tmp_path, monkeypatch):
    from hybridperf.residual import store
    from hybridperf.residual.model import MODEL_FILE, SIDECAR_FILE

    loads = []
    monkeypatch.setattr(store, "_load", lambda path: loads.append(path) or len(loads))
    store._load_cached.cache_clear()
    try:
        d = tmp_path / "dev"
        d.mkdir()
        (d / MODEL_FILE).write_text("tree")
        (d / SIDECAR_FILE).write_text('{"trained": 1}')
        st = (d / SIDECAR_FILE).stat()
        assert store.load_for_device("dev", tmp_path) == 1
        assert store.load_for_device("dev", tmp_path) == 1  # cached
        (d / SIDECAR_FILE).write_text('{"trained": 2}')  # another model's sidecar, its mtime kept
        os.utime(d / SIDECAR_FILE, ns=(st.st_atime_ns, st.st_mtime_ns))
        # until 2026-12-03: 1 (keyed by the sidecar's mtime alone)
        assert store.load_for_device("dev", tmp_path) == 2
    finally:
        store._load_cached.cache_clear()


def test_session_does_not_trust_an_analysis_of_a_racily_new_file(tmp_path, monkeypatch):
    """A file analysed within RACY_NS of its last change could be rewritten within the same time-stamp tick with
    the same size (a NAS loop writing each candidate to one path): such an entry is not trusted and the file is
    analysed again, with no checksum (a sweep analyses each new file once, and hashing every 10-20 MB candidate
    twice cost a third of its time); once the file is older, the entry made then is re-used."""
    from hybridperf import api
    from hybridperf.analysis import cache

    model, flops = onnx_models.resnet_like(hw=32, width=16)
    p = tmp_path / "cand.onnx"
    # "just written" however slowly this host gets from the save to the analyses (a loaded host could take the 3 s
    # of the real window before the first one, and the entry would be trusted)
    monkeypatch.setattr(cache, "RACY_NS", 10**18)
    onnx.save(model, str(p))
    calls = []
    real = api.analyze
    monkeypatch.setattr(api, "analyze", lambda *a, **k: calls.append(1) or real(*a, **k))
    s = api.Session()
    assert s.analyze(p, batch=1).analysis.flops == flops
    assert s.analyze(p, batch=1).analysis.flops == flops and len(calls) == 2  # racily new: analysed again
    monkeypatch.setattr(cache, "RACY_NS", 0)  # the file is now "old"
    s.analyze(p, batch=1)
    s.analyze(p, batch=1)
    assert len(calls) == 3  # the entry made once the file was old is re-used
