"""A named sheet's prediction is the sheet's, not the running machine's (audit of 2026-12-04).

Every read of the running machine (/proc/cpuinfo, the CPUs this process may use, os.cpu_count, platform, the
probed ``host`` sheet in the data home) is faked here, and ``predict_on`` a named sheet must give the same figures.
numpy's SIMD exp / log (SVML on AVX-512) may differ from another machine's in the last bit (3.7e-16 relative seen):
no printed figure moves, and the C library's scalar functions differ by platform too, so that is not held here.
"""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from onnx_models import resnet_like  # noqa: E402

import hybridperf.estimate.runtime_memory as rm  # noqa: E402


def _figures(pred) -> dict:
    """What a prediction reports, without wall-clock fields."""
    from hybridperf.api import report_dict

    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k not in ("timings_s", "load_s", "wall_s")}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o

    return strip(report_dict(pred))


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    import onnx

    from hybridperf.api import analyze

    path = tmp_path_factory.mktemp("hostdep") / "resnet_like.onnx"
    onnx.save(resnet_like(batch=2)[0], str(path))
    return analyze(str(path), batch=2)


def _without_layout_note(figures: dict) -> dict:
    """``figures`` without the note on the NCHWc layout this machine's onnxruntime chose (:func:`rm.ort_layout_note`)."""
    rt = figures.get("runtime_memory")
    if not rt:
        return figures
    notes = [n for n in rt.get("notes", []) if "this machine's onnxruntime" not in n]
    return {**figures, "runtime_memory": {**rt, "notes": notes}}


def test_the_running_machine_does_not_reach_a_named_sheets_figures(analyzed, monkeypatch, tmp_path):
    # the reads of this machine, each faked as another machine's (an ARM64 box of 64 CPUs, its `host` probed into the
    # data home): a named sheet's figures stay; only the note on onnxruntime's own NCHWc choice (made by this
    # machine's MLAS, which no flag can change) names this machine
    from hybridperf.api import predict_on
    from hybridperf.device.cpuinfo import CpuIdentity
    from hybridperf.measure import contention, onnxruntime as ort_measure

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "empty"))
    devices = ("host-xeon-2c", "raspberry-pi-4b", "host-epyc-zen4-2c", "t4")
    before = {d: _figures(predict_on(analyzed, d, runtime="auto")) for d in devices}
    monkeypatch.setattr(rm, "host_isa", lambda: ("arm", "asimddp"))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(contention, "usable_cpus", lambda: 64)
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(ort_measure, "cpu_identity", lambda: CpuIdentity(
        "Neoverse-N1", "ARM", 8, 3340, 1, ("asimddp",)))
    home = tmp_path / "probed"
    (home / "hosts" / "arm-probed-64t").mkdir(parents=True)
    (home / "hosts" / "arm-probed-64t" / "host.yaml").write_text("id: host\n")
    for env in ("OMP_NUM_THREADS", "TVM_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(env, "1")
    monkeypatch.setenv("HYBRIDPERF_HOME", str(home))
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    monkeypatch.chdir(tmp_path)
    for d in devices:
        assert _without_layout_note(_figures(predict_on(analyzed, d, runtime="auto"))) == \
            _without_layout_note(before[d]), d


def test_layout_note_on_a_machine_without_nchwc_kernels(monkeypatch):
    # until 2026-12-04 an ARM64 machine pricing an AVX-512 sheet noted "a convolution whose channels are a multiple of
    # 1 but not of 16 may be laid out otherwise": this machine's onnxruntime laid out no convolution NCHWc at all
    monkeypatch.setattr(rm, "host_isa", lambda: ("arm",))
    note = rm.ort_layout_note(("x86-64", "avx2", "avx512f"))
    assert "no NCHWc kernels" in note and "block 16" in note and "multiple of 1 " not in note
    assert rm.ort_layout_note(("arm", "asimddp")) == ""  # the device has none either: nothing to say
    monkeypatch.setattr(rm, "host_isa", lambda: ("x86-64", "avx2"))
    assert "block 8" in rm.ort_layout_note(("x86-64", "avx2", "avx512f"))
    assert rm.ort_layout_note(("x86-64", "avx2")) == ""
