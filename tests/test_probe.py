"""``hybridperf probe``: its arithmetic on given times, the spec it writes, and (marked ``timing``, not in the
default run) a quick probe of this CPU against an independent measurement."""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from hybridperf.cli import ExitCode, main
from hybridperf.device.spec import load_spec, parse_spec
from hybridperf.errors import InputError
from hybridperf.measure import probe
from hybridperf.measure.contention import BUSY_PREEMPTIONS_PER_S, contention_between


def _best(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def independent_sgemm_flops(n: int = 1024) -> float:
    if os.environ.get("OPENBLAS_CORETYPE"):  # forced kernels (not this CPU's): time numpy in an interpreter without
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
        code = f"import test_probe as t; print(t.independent_sgemm_flops({n}))"
        return float(subprocess.run([sys.executable, "-c", code], env=env, cwd=os.path.dirname(__file__),
                                    capture_output=True, text=True, check=True).stdout)
    a = np.random.default_rng(1).random((n, n), dtype=np.float32)
    b = np.random.default_rng(2).random((n, n), dtype=np.float32)
    return 2 * n**3 / _best(lambda: a @ b, 5)  # FLOP = 2 x MAC, n^3 MACs


def independent_copy_bandwidth(nbytes: int = 256 * 2**20) -> float:
    src = np.ones(nbytes // 8)
    dst = np.zeros_like(src)
    return 2 * src.nbytes / _best(lambda: dst.__setitem__(slice(None), src), 3)  # read + write


def independent_int8_ops(n: int = 1024) -> float:
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "g",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n]),
         helper.make_tensor_value_info("B", TensorProto.INT8, [n, n])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    so = ort.SessionOptions()
    so.intra_op_num_threads = len(os.sched_getaffinity(0))  # the probe's threads: by default onnxruntime takes
    # every physical core, whatever this process's affinity (taskset -c 0 ran it on two cores)
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feeds = {"A": np.full((n, n), 3, np.uint8), "B": np.full((n, n), -2, np.int8)}
    return 2 * n**3 / _best(lambda: sess.run(None, feeds), 5)


def within_factor_2(probed: float, reference, attempts: int = 3) -> tuple[bool, list[float]]:
    """The host is shared and noisy: re-take the independent reference up to ``attempts`` times."""
    seen = []
    for _ in range(attempts):
        ref = reference()
        seen.append(ref)
        if 0.5 <= probed / ref <= 2.0:
            return True, seen
    return False, seen


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    out = tmp_path_factory.mktemp("probe") / "host-test.yaml"
    code = main(["probe", "--out", str(out), "--quick", "--cpu-only"])
    assert code == ExitCode.OK
    return out


def test_probe_writes_a_loadable_measured_spec(probed):
    spec = load_spec(probed)
    assert spec.id == "host-test" and spec.kind == "cpu"
    for key in ("peak_compute.fp32", "peak_compute.fp64", "memory.dram.bandwidth", "memory.dram.attainable_bandwidth",
                "launch_overhead"):
        assert key in spec.measured, key
        assert spec.sources[key].startswith("measured by hybridperf probe 0.1.0 on 20"), spec.sources[key]
    # not measured: power and energy, each says so
    assert "power.max" not in spec.measured and "estimate" in spec.sources["power.max"]
    assert spec.sources["energy.per_byte.dram"].startswith("estimate")
    assert spec.memory["l2"].capacity_bytes > 0
    raw = yaml.safe_load(probed.read_text())
    assert raw["peak_compute"]["fp32"]["measured"] is True
    # when it ran, to the UTC minute (2026-12-06: a VM's figures move with the hour)
    assert re.match(r"Probed 20\d\d-\d\d-\d\dT\d\d:\d\dZ by hybridperf ", raw["notes"]), raw["notes"][:60]


# Timed on this (shared, noisy) host: a check of the probe against the machine, not a gate on the code.
@pytest.mark.timing
def test_probe_figures_are_plausible_for_a_cpu(probed):
    spec = load_spec(probed)
    assert spec.peak_flops("fp64") < spec.peak_flops("fp32") * 1.5
    assert 10**-8 < spec.launch_overhead_s < 10**-3


@pytest.mark.timing
def test_probe_fp32_peak_within_2x_of_numpy(probed):
    got = load_spec(probed).peak_flops("fp32")
    ok, refs = within_factor_2(got, independent_sgemm_flops)
    assert ok, (got, refs)


@pytest.mark.timing
def test_probe_bandwidth_within_2x_of_numpy_copy(probed):
    got = load_spec(probed).dram_bandwidth_bytes_per_s
    ok, refs = within_factor_2(got, independent_copy_bandwidth)
    assert ok, (got, refs)


@pytest.mark.timing
def test_probe_int8_peak_within_2x_of_onnxruntime(probed):
    spec = load_spec(probed)
    if "int8" not in spec.peak_flops_per_s:
        pytest.skip("onnxruntime not installed: int8 not probed")
    ok, refs = within_factor_2(spec.peak_flops("int8"), independent_int8_ops)
    assert ok, (spec.peak_flops("int8"), refs)


def test_probe_progress_goes_to_stderr(tmp_path, capsys, monkeypatch):
    fake = _fake_cpu_result()
    monkeypatch.setattr(probe, "probe", lambda quick, progress, use_gpu: (progress("gemm", 0, 1), progress("done", 1, 1), fake)[-1])
    assert main(["probe", "--out", str(tmp_path / "fake-box.yaml"), "--quick"]) == ExitCode.OK
    out, err = capsys.readouterr()
    assert "probe [" in err and "1/1 done" in err
    assert "wrote" in out and "probe [" not in out
    assert load_spec(tmp_path / "fake-box.yaml").peak_flops("fp32") == pytest.approx(100 * 10**9)


def test_probe_rejects_id_that_differs_from_file_name_before_measuring(tmp_path, capsys, monkeypatch):
    def no_benchmarks(**kw):
        raise AssertionError("probe ran before the output path was checked")

    monkeypatch.setattr(probe, "probe", no_benchmarks)
    assert main(["probe", "--out", str(tmp_path / "a.yaml"), "--id", "b", "--quick"]) == ExitCode.INPUT_ERROR
    assert "differs from the file name" in capsys.readouterr().err


def test_check_out_directory_and_bad_names(tmp_path):
    assert probe.check_out(tmp_path, "my-box") == (tmp_path / "my-box.yaml", "my-box")
    assert probe.check_out(str(tmp_path / "new") + "/") == (tmp_path / "new" / "host-probe.yaml", "host-probe")
    with pytest.raises(InputError, match="must end in .yaml"):
        probe.check_out(tmp_path / "x.json")
    with pytest.raises(InputError, match="lower case"):
        probe.check_out(tmp_path / "My Box.yaml")


# --------------------------------------------------------------------------- pure pieces, no benchmarks


def _fake_cpu_result() -> probe.ProbeResult:
    host = probe.HostInfo(cpu_model="Toy CPU", logical_cpus=4, usable_cpus=4, memory_bytes=8 * 2**30, governor=None,
                          machine="x86_64", python="3", numpy="2", blas="toyblas", onnxruntime="1")
    caches = (probe.CacheLevel(1, "Data", 32 * 2**10, 1), probe.CacheLevel(2, "Unified", 2**20, 1),
              probe.CacheLevel(3, "Unified", 32 * 2**20, 4))
    return probe.ProbeResult(
        date="2025-01-01", version="0.1.0", quick=True, kind="cpu", host=host, caches=caches,
        gemm=(probe.GemmRate("fp32", 512, 100e9, 0.1, 3, "numpy"), probe.GemmRate("int8", 512, 400e9, 0.1, 3, "ort")),
        bandwidth=(probe.Bandwidth("copy", "dram", 2**28, 1, 10e9, 3), probe.Bandwidth("triad", "dram", 2**28, 4, 12e9, 3),
                   probe.Bandwidth("copy", "l2", 2**18, 1, 50e9, 3)),
        dispatch=probe.DispatchOverhead(per_call_s=4e-6, per_node_s=0.5e-6, nodes=64, runs=100),
    )


def test_spec_dict_golden_values():
    spec = parse_spec(probe.spec_dict(_fake_cpu_result(), "toy"), "<probe>")
    assert spec.peak_flops("fp32") == pytest.approx(100 * 10**9)
    assert spec.peak_flops("int8") == pytest.approx(400 * 10**9)
    assert spec.dram_bandwidth_bytes_per_s == pytest.approx(12 * 10**9)  # best kernel: triad
    assert spec.dram.capacity_bytes == pytest.approx(8 * 2**30)
    assert spec.memory["l2"].capacity_bytes == 2**20
    assert spec.memory["l2"].bandwidth_bytes_per_s == pytest.approx(50 * 10**9 * 4)  # per core x 4 cores
    assert spec.memory["llc"].capacity_bytes == 32 * 2**20
    assert spec.launch_overhead_s == pytest.approx(0.5 * 10**-6)  # per node, not per call
    assert spec.max_power_w == pytest.approx(10 * 4)  # estimate: 10 W per core
    # (max 40 W - idle 30 % of it) / (100 GFLOP/s / 2) = 560 pJ: dynamic energy, idle priced apart (800 until
    # 2026-12-03, when idle was counted twice)
    assert spec.energy_pj_per_mac["fp32"] == pytest.approx((40 - 12) / (100 * 10**9 / 2) * 10**12)
    assert spec.sources["energy.per_mac.fp32"].startswith(
        "derived: (estimated max power 40 W - idle 12 W) / (measured 100 GFLOP/s / 2) = 560,")
    assert spec.measured >= {"peak_compute.fp32", "memory.dram.bandwidth", "launch_overhead"}
    assert "power.max" not in spec.measured


def test_spec_dict_gpu_from_probe_cuda_output():
    gpu = {
        "device_name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0", "sm_count": 132,
        "l2_cache_bytes": 50 * 2**20, "total_memory_bytes": 80 * 2**30, "torch_version": "2.5", "cuda_version": "12.4",
        "power_limit_w": 700.0, "idle_power_w": 70.0, "gemm_n": 8192,
        "peak_flops_per_s": {"fp32": 50e12, "fp16": 700e12, "int8": 1400e12},
        "gemm_avg_power_w": {"fp16": 600.0}, "gemm_errors": {"fp8": "RuntimeError: no"},
        "copy_bytes": 2**31, "dram_copy_bandwidth_bytes_per_s": 2.9e12,
        "l2_copy_bytes": 8 << 20, "l2_copy_bandwidth_bytes_per_s": 7e12,
        "launch_queued_s": 3e-6, "launch_gpu_span_s": 2e-6, "launch_sync_roundtrip_s": 9e-6,
    }
    host = _fake_cpu_result().host
    gemm = tuple(probe.GemmRate(p, 8192, r, 2 * 8192**3 / r, 10, "torch") for p, r in gpu["peak_flops_per_s"].items())
    result = probe.ProbeResult(
        date="2025-01-01", version="0.1.0", quick=False, kind="gpu", host=host, caches=(), gemm=gemm,
        bandwidth=(probe.Bandwidth("copy", "dram", 2**31, 1, 2.9e12, 20), probe.Bandwidth("copy", "l2", 8 << 20, 1, 7e12, 200)),
        dispatch=None, errors=gpu["gemm_errors"], gpu=gpu)
    spec = parse_spec(probe.spec_dict(result, "h100-probed"), "<probe>")
    assert spec.kind == "gpu"
    assert spec.peak_flops("fp16") == pytest.approx(700 * 10**12)
    assert spec.dram_bandwidth_bytes_per_s == pytest.approx(2.9 * 10**12)
    assert spec.dram.capacity_bytes == pytest.approx(80 * 2**30)
    assert spec.launch_overhead_s == pytest.approx(3 * 10**-6)  # max(host enqueue, GPU span)
    assert spec.idle_power_w == 70 and spec.max_power_w == 700
    # dynamic energy: (board power in the GEMM loop - idle) / MAC rate; 4 significant digits
    assert spec.energy_pj_per_mac["fp16"] == pytest.approx((600 - 70) / (700 * 10**12 / 2) * 10**12, rel=1e-3)
    assert "energy.per_mac.fp16" in spec.measured and "energy.per_mac.fp32" not in spec.measured
    assert spec.energy_pj_per_byte["dram"] == pytest.approx(31)  # HBM part
    assert "fp8" in spec.notes


def test_read_caches_from_a_fake_sysfs(tmp_path):
    for i, (level, ctype, size, shared) in enumerate(
        [(1, "Data", "48K", "0"), (1, "Instruction", "32K", "0"), (2, "Unified", "2048K", "0"), (3, "Unified", "105M", "0-3,8")]
    ):
        d = tmp_path / f"index{i}"
        d.mkdir()
        for name, val in (("level", level), ("type", ctype), ("size", size), ("shared_cpu_list", shared)):
            (d / name).write_text(f"{val}\n")
    caches = probe.read_caches(tmp_path)
    assert [(c.level, c.type) for c in caches] == [(1, "Data"), (1, "Instruction"), (2, "Unified"), (3, "Unified")]
    assert caches[0].size_bytes == 48 * 2**10
    assert caches[3].size_bytes == 105 * 2**20
    assert caches[3].shared_cpu_count == 5


def test_read_host_info_is_sane():
    host = probe.read_host_info()
    assert host.usable_cpus >= 1 and host.logical_cpus >= host.usable_cpus
    assert host.cpu_model


def test_stream_bandwidth_counts_bytes_moved():
    bw = probe.stream_bandwidth("triad", 2**20, threads=2, repeats=2)
    assert bw.array_bytes == 2**20 and bw.threads == 2 and bw.bytes_per_s > 0
    with pytest.raises(InputError):
        probe.stream_bandwidth("scale", 2**20)


def test_gemm_rate_rejects_unmeasured_precision():
    with pytest.raises(InputError, match="fp32, fp64 and int8"):
        probe.gemm_rate("fp16", 64)


def test_gpu_probe_calls_measure_torch_probe_cuda(tmp_path, monkeypatch):
    """The CUDA path delegates to measure_torch.probe_cuda (faked here: no GPU needed) and writes a gpu spec."""
    from hybridperf.measure import torch_cuda as measure_torch

    calls = []

    def fake_probe_cuda(**kw):
        calls.append(kw)
        return {"device_name": "NVIDIA L4", "total_memory_bytes": 24 * 10**9, "gemm_n": kw["gemm_n"],
                "peak_flops_per_s": {"fp32": 25e12, "fp16": 100e12}, "gemm_errors": {}, "gemm_avg_power_w": {},
                "copy_bytes": kw["copy_bytes"], "dram_copy_bandwidth_bytes_per_s": 250e9, "launch_queued_s": 4e-6}

    monkeypatch.setattr(measure_torch, "probe_cuda", fake_probe_cuda)
    result = probe.probe(quick=True, use_gpu=True)
    assert calls and calls[0]["gemm_n"] == 4096
    assert result.kind == "gpu" and result.peak("fp16").flops_per_s == 100e12
    spec = probe.write_spec(result, tmp_path / "l4-probed.yaml")
    assert spec.kind == "gpu" and spec.dram_bandwidth_bytes_per_s == pytest.approx(250 * 10**9)
    assert spec.energy_pj_per_byte["dram"] == pytest.approx(112)  # GDDR estimate
    assert "estimate" in spec.sources["power.max"]  # no NVML in the fake


def test_result_from_cuda_probe_measures_dram_energy_from_copy_power():
    """A saved probe_cuda dict (probe.json) becomes the same spec the CUDA probe writes."""
    out = {
        "device_name": "NVIDIA H100 80GB HBM3", "total_memory_bytes": 80 * 2**30, "power_limit_w": 700.0,
        "idle_power_w": 100.0, "gemm_n": 4096, "peak_flops_per_s": {"fp32": 50e12, "bf16": 700e12},
        "gemm_avg_power_w": {"fp32": 400.0, "bf16": 90.0}, "gemm_errors": {},
        "copy_bytes": 2**30, "dram_copy_bandwidth_bytes_per_s": 3e12, "dram_copy_avg_power_w": 400.0,
        "l2_copy_bytes": 8 << 20, "l2_copy_count": 64, "l2_copy_bandwidth_bytes_per_s": 8e12, "launch_queued_s": 1e-5,
    }
    result = probe.result_from_cuda_probe(out, host=_fake_cpu_result().host, date="2026-01-01")
    assert result.kind == "gpu" and result.peak("bf16").n == 4096 and result.best_bandwidth("l2").bytes_per_s == 8e12
    spec = parse_spec(probe.spec_dict(result, "h100-measured"), "<probe>")
    assert spec.energy_pj_per_byte["dram"] == pytest.approx((400 - 100) / (3 * 10**12) * 10**12)  # 100 pJ/B
    assert "energy.per_byte.dram" in spec.measured
    assert spec.energy_pj_per_mac["fp32"] == pytest.approx((400 - 100) / (50 * 10**12 / 2) * 10**12)  # 12 pJ
    # a GEMM loop that drew less than idle gives no dynamic figure: (max - idle) / (rate / 2) stands in, an upper
    # bound (700 / (rate / 2) = 2 pJ until 2026-12-03, idle counted twice)
    assert spec.energy_pj_per_mac["bf16"] == pytest.approx((700 - 100) / (700 * 10**12 / 2) * 10**12, rel=1e-3)  # 1.714
    assert "(max power 700 W - idle 100 W) / (measured rate / 2) = 1.714," in spec.sources["energy.per_mac.bf16"]
    assert "energy.per_mac.bf16" not in spec.measured
    assert spec.memory["l2"].bandwidth_bytes_per_s == pytest.approx(8 * 10**12)


def _fake_cuda_probe(**extra) -> dict:
    """A probe_cuda dict of an L4-like card (no GPU needed), with ``extra`` keys added."""
    return {"device_name": "NVIDIA L4", "total_memory_bytes": 24 * 10**9, "gemm_n": 4096,
            "peak_flops_per_s": {"fp32": 25e12, "fp16": 100e12}, "gemm_errors": {}, "gemm_avg_power_w": {},
            "copy_bytes": 2**30, "dram_copy_bandwidth_bytes_per_s": 250e9, "launch_queued_s": 4e-6,
            "torch_version": "2.5", **extra}


def test_family_probes_round_trip_through_the_sheet(tmp_path):
    """probe_cuda's family_probe_latency_s -> ProbeResult -> written sheet -> DeviceSpec, measured and dated."""
    from hybridperf.device.spec import FamilyProbe

    timed = [{"op": "bmm", "dims": {"B": 32, "M": 75, "N": 30, "K": 288}, "latency_s": 3 * 10**-5},
             {"op": "ln", "dims": {"B": 60, "H": 3120}, "latency_s": 12.5 * 10**-6}]
    result = probe.result_from_cuda_probe(_fake_cuda_probe(family_probe_latency_s=timed),
                                          host=_fake_cpu_result().host, date="2026-01-01")
    spec = probe.write_spec(result, tmp_path / "l4-probed.yaml")
    assert spec.family_probes_measured_on == "2026-01-01"
    assert [(p.op, p.dims) for p in spec.family_probes] == [
        ("bmm", (("B", 32), ("M", 75), ("N", 30), ("K", 288))), ("ln", (("B", 60), ("H", 3120)))]
    assert [p.latency_s for p in spec.family_probes] == pytest.approx([30 * 10**-6, 12.5 * 10**-6])  # written in us
    assert {"family_probes.shapes.0.latency", "family_probes.shapes.1.latency"} <= spec.measured
    assert "2026-01-01" in spec.sources["family_probes.shapes.0.latency"]
    # the file reads back to the same spec, and a sheet without the section has none
    assert load_spec(tmp_path / "l4-probed.yaml") == spec
    assert isinstance(spec.family_probes[0], FamilyProbe)
    plain = probe.write_spec(probe.result_from_cuda_probe(_fake_cuda_probe(), host=_fake_cpu_result().host,
                                                          date="2026-01-01"), tmp_path / "plain.yaml")
    assert plain.family_probes == () and plain.family_probes_measured_on == ""


def test_family_probe_error_is_noted_and_no_section_written():
    result = probe.result_from_cuda_probe(_fake_cuda_probe(family_probe_error="OutOfMemoryError: CUDA out of memory"),
                                          host=_fake_cpu_result().host, date="2026-01-01")
    raw = probe.spec_dict(result, "l4-probed")
    assert "family_probes" not in raw and "Family probes did not run: OutOfMemoryError" in raw["notes"]


def test_family_probes_with_a_bad_latency_are_noted_and_not_written():
    bad = [{"op": "bmm", "dims": {"B": 1, "M": 1, "N": 1, "K": 1}, "latency_s": 0.0}]
    result = probe.result_from_cuda_probe(_fake_cuda_probe(family_probe_latency_s=bad),
                                          host=_fake_cpu_result().host, date="2026-01-01")
    raw = probe.spec_dict(result, "l4-probed")
    assert "family_probes" not in raw and "Family probes not kept: a timed latency was not a positive" in raw["notes"]


@pytest.mark.parametrize("entry, key", [
    ({"op": "bmm", "dims": {"B": 0}, "latency": {"value": 1, "unit": "us", "source": "x"}}, "dims.B"),
    ({"op": "bmm", "dims": {"B": 1}, "latency": {"value": 1, "unit": "GB/s", "source": "x"}}, "latency.unit"),
    ({"op": "bmm", "dims": {"B": 1}, "latency": {"value": 1, "unit": "us", "source": "x"}, "extra": 1}, "extra"),
])
def test_family_probes_section_is_validated(entry, key):
    from hybridperf.errors import SpecError

    raw = probe.spec_dict(probe.result_from_cuda_probe(_fake_cuda_probe(), host=_fake_cpu_result().host,
                                                       date="2026-01-01"), "l4-probed")
    raw["family_probes"] = {"measured_on": "2026-01-01", "shapes": [entry]}
    with pytest.raises(SpecError, match=f"family_probes.shapes.0.{key}"):
        parse_spec(raw, "l4-probed.yaml")


class _Clock:
    """A fake ``time`` for the probe: each call of :meth:`work` takes the next of ``steps`` seconds."""

    def __init__(self, steps):
        self.now, self.steps, self.calls = 0.0, list(steps), 0

    def perf_counter(self) -> float:
        return self.now

    def work(self) -> None:
        self.now += self.steps[self.calls % len(self.steps)]
        self.calls += 1


def test_best_seconds_times_at_least_min_total(monkeypatch):
    # binary fractions, so the sums are exact
    clock = _Clock([0.125, 0.5, 0.25])
    monkeypatch.setattr(probe, "time", clock)
    best = probe._best_seconds(clock.work, repeats=2, warmup=1, min_total_s=0.75)
    # warm-up 0.125 s (untimed), then 0.5 + 0.25 = 0.75 s reaches min_total_s after the 2 repeats
    assert clock.calls == 1 + 2 and best == 0.25
    clock = _Clock([0.125])
    monkeypatch.setattr(probe, "time", clock)
    best = probe._best_seconds(clock.work, repeats=2, warmup=0, min_total_s=0.5)
    assert clock.calls == 4 and best == 0.125  # 4 x 0.125 s: more than the 2 repeats asked for
    clock = _Clock([0.125])
    monkeypatch.setattr(probe, "time", clock)
    probe._best_seconds(clock.work, repeats=2, warmup=0, min_total_s=1.0, max_repeats=7)
    assert clock.calls == 7


def _fixed_time(seconds: float):
    """A ``_best_seconds`` stand-in: runs the kernel once (it must work) and reports ``seconds``."""

    def best(fn, repeats, warmup=1, min_total_s=0.0, max_repeats=200):
        fn()
        return seconds

    return best


@pytest.mark.parametrize("precision", ["fp32", "fp64", "int8"])
def test_gemm_rate_is_2_n_cubed_over_the_best_time(monkeypatch, precision):
    if precision == "int8":
        pytest.importorskip("onnxruntime")
    monkeypatch.setattr(probe, "_best_seconds", _fixed_time(0.5))
    rate = probe.gemm_rate(precision, 64)
    assert rate.flops_per_s == 2 * 64**3 / 0.5  # FLOP = 2 x MAC, 64^3 MACs in 0.5 s = 1,048,576 FLOP/s
    assert rate.best_seconds == 0.5 and rate.n == 64 and rate.precision == precision


def test_stream_bandwidth_is_bytes_moved_over_the_best_time(monkeypatch):
    monkeypatch.setattr(probe, "_best_seconds", _fixed_time(0.25))
    copy = probe.stream_bandwidth("copy", 2**20, inner=3)
    assert copy.bytes_per_s == 2 * 2**20 * 3 / 0.25  # read + write of 1 MiB, 3 times, in 0.25 s
    triad = probe.stream_bandwidth("triad", 2**20, threads=2)
    assert triad.bytes_per_s == 5 * 2**20 / 0.25  # numpy's two passes: 3 reads + 2 writes of 1 MiB
    assert triad.array_bytes == 2**20 and triad.threads == 2


def test_interleaved_trials_keep_each_kernels_fastest_call(monkeypatch):
    """Rounds call every kernel once in turn; a kernel's figure is its fastest call over all rounds."""
    clock = _Clock([0.5, 0.125, 0.25, 0.25])  # a's calls: 0.5, 0.25, 0.5, ...; b's: 0.125, 0.25, 0.125, ...
    monkeypatch.setattr(probe, "time", clock)
    order = []
    kernels = {"a": lambda: (order.append("a"), clock.work()), "b": lambda: (order.append("b"), clock.work())}
    best, rounds = probe._interleaved_best_seconds(kernels, min_rounds=3, budget_s=0.0)
    assert rounds == 3 and order == ["a", "b"] * 3
    assert best == {"a": 0.25, "b": 0.125}


def test_interleaved_trials_go_on_until_the_budget_is_spent(monkeypatch):
    clock = _Clock([0.125])
    monkeypatch.setattr(probe, "time", clock)
    _, rounds = probe._interleaved_best_seconds({"a": clock.work, "b": clock.work}, min_rounds=2, budget_s=1.0)
    assert rounds == 4  # 0.25 s a round (2 x 0.125 s): the 4th round ends at 1.0 s
    _, rounds = probe._interleaved_best_seconds({"a": clock.work}, min_rounds=2, budget_s=10.0, max_rounds=5)
    assert rounds == 5


def test_interleaved_trials_rewarm_cache_resident_kernels_untimed(monkeypatch):
    clock = _Clock([1.0, 0.125])  # a cold call takes 1 s, the warm one after it 0.125 s
    monkeypatch.setattr(probe, "time", clock)
    best, rounds = probe._interleaved_best_seconds({"l2": clock.work}, min_rounds=2, budget_s=0.0,
                                                   warm={"l2": clock.work})
    assert best == {"l2": 0.125} and clock.calls == 2 * rounds


def _small_kernels(monkeypatch, usable_cpus: int):
    """The quick CPU probe on this machine, shrunk: 64^3 GEMMs, 1 MiB arrays, no time budget, 3 rounds."""
    gemm, arrays = probe._gemm_kernel, probe._stream_arrays
    monkeypatch.setattr(probe, "_gemm_kernel", lambda precision, n, children=None: gemm(precision, 64, children))
    monkeypatch.setattr(probe, "_stream_arrays", lambda nbytes, threads=1: arrays(min(nbytes, 2**20), threads))
    monkeypatch.setattr(probe, "CPU_TRIAL_BUDGET_S", {True: 0.0, False: 0.0})
    monkeypatch.setattr(probe, "CPU_TRIAL_MIN_ROUNDS", 3)
    host = probe.read_host_info()
    monkeypatch.setattr(probe, "read_host_info", lambda: probe.HostInfo(**{**host.__dict__, "usable_cpus": usable_cpus}))


@pytest.mark.parametrize("cpus", [1, 2])
def test_cpu_probe_times_every_kernel_in_the_same_rounds(monkeypatch, cpus):
    pytest.importorskip("onnxruntime")
    _small_kernels(monkeypatch, cpus)
    steps = []
    result = probe.probe(quick=True, progress=lambda step, done, total: steps.append(step), use_gpu=False)
    assert {g.precision for g in result.gemm} == {"fp64", "fp32", "int8"}
    dram = [(b.kernel, b.threads) for b in result.bandwidth if b.level == "dram"]
    # one thread: a single copy figure (no second "copy 1 threads" run)
    assert dram == ([("copy", 1), ("copy", 2), ("triad", 2)] if cpus == 2 else [("copy", 1), ("triad", 1)])
    assert {g.repeats for g in result.gemm} | {b.repeats for b in result.bandwidth} == {3}  # the rounds
    assert all(b.array_bytes == 2**20 for b in result.bandwidth if b.level == "dram")  # one shared set of arrays
    assert steps[-3].startswith("interleaved trials") and steps[-2:] == ["dispatch", "done"]


def test_probe_int8_session_leaves_no_thread_spinning():
    """Idle onnxruntime threads busy-wait after a run by default; in the probe they would halve the rate of
    the kernel timed next on the same core (a STREAM triad read 16 instead of 33 GB/s after a MatMulInteger)."""
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    model = probe._onnx_model([helper.make_node("Identity", ["X"], ["Y"])],
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])])
    opts = probe._ort_session(model, threads=1, spin=False).get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_contention_between_two_usage_readings():
    # 2 s window, 1 s of CPU for single-thread work, 250 involuntary switches: sharing the CPU with a busy process
    c = contention_between((10.0, 3.0, 100), (12.0, 4.0, 350), threads=1)
    assert (c.window_s, c.preemptions_per_s, c.cpu_share) == (2.0, 250 / 2.0, 1.0 / 2.0)
    assert c.busy and "preempted 125 times a second; it got 50% of its CPU time" in c.describe()
    alone = contention_between((0.0, 0.0, 0), (2.0, 2.0, 2), threads=1)  # about once a second: alone
    assert not alone.busy and alone.cpu_share == 1.0
    switches = contention_between((0.0, 0.0, 0), (2.0, 1.98, 60), threads=1)  # switched often, yet 99 % of the CPU
    assert switches.preemptions_per_s > BUSY_PREEMPTIONS_PER_S and not switches.busy
    # several threads preempt each other (an idle 2-core host: 60-272 a second): judged by their CPU share alone
    # (until 2026-12-04 never judged: a 2-thread probe beside two busy processes, 46 % of its CPUs, passed quietly)
    idle = contention_between((0.0, 0.0, 0), (2.0, 2 * 2.0 * 0.94, 544), threads=2)  # idle: 0.94 of 2 CPUs
    assert idle.cpu_share == 0.94 and not idle.busy
    shared = contention_between((0.0, 0.0, 0), (2.0, 3.0, 600), threads=4)
    assert shared.cpu_share == 3.0 / (2.0 * 4) and shared.busy
    assert "it got 38% of the CPU time of its 4 threads" in shared.describe()
    assert contention_between(None, (1.0, 1.0, 1), threads=1) is None  # no reading: unknown, not zero


def test_a_busy_probe_says_so_in_the_sheet_and_on_stderr(tmp_path, capsys, monkeypatch):
    from dataclasses import replace

    busy = replace(_fake_cpu_result(), contention=contention_between((0.0, 0.0, 0), (2.0, 1.0, 250), threads=1))
    quiet = replace(_fake_cpu_result(), contention=contention_between((0.0, 0.0, 0), (2.0, 2.0, 1), threads=1))
    several = replace(_fake_cpu_result(), contention=contention_between((0.0, 0.0, 0), (2.0, 7.6, 544), threads=4))
    assert "competed for the CPU" in probe.spec_dict(busy, "toy")["notes"]
    assert "competed" not in probe.spec_dict(quiet, "toy")["notes"] + probe.spec_dict(several, "toy")["notes"]
    monkeypatch.setattr(probe, "probe", lambda quick, progress, use_gpu: busy)
    assert main(["probe", "--out", str(tmp_path / "busy-box.yaml"), "--quick"]) == ExitCode.OK
    out, err = capsys.readouterr()
    assert re.search(r"\npreemptions +125/s +while timing \(2\.0 s, 50% of its CPU time\): BUSY\n", out)
    assert err == ("hybridperf: warning: another process competed for the CPU during the probe (preempted 125 times a "
                   "second; it got 50% of its CPU time): its figures may be low; rerun the probe when the machine is "
                   "idle\n")
    for result, row in ((quiet, r"\npreemptions +0/s +while timing \(2\.0 s, 100% of its CPU time\)\n"),
                        (several, r"\npreemptions +272/s +while timing \(2\.0 s, 95% of the CPU time of 4 threads\)\n")):
        monkeypatch.setattr(probe, "probe", lambda quick, progress, use_gpu, r=result: r)
        assert main(["probe", "--out", str(tmp_path / "quiet-box.yaml"), "--quick"]) == ExitCode.OK
        out, err = capsys.readouterr()
        assert err == "" and re.search(row, out) and "BUSY" not in out


# --------------------------------------------------------------------------- numpy's OpenBLAS kernels


def _fresh_blas_core() -> str:
    """The core a fresh interpreter's numpy OpenBLAS picks for this CPU, ``OPENBLAS_CORETYPE`` removed."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    out = subprocess.run([sys.executable, "-c", "from hybridperf.measure.probe import _blas_core; print(_blas_core())"],
                         env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _gone(proc: subprocess.Popen) -> bool:
    return proc.poll() is not None and not os.path.exists(f"/proc/{proc.pid}")


def test_blas_core_names_the_kernels_of_numpys_openblas():
    assert "openblas" in probe._blas_name().lower()  # numpy's wheels bundle scipy-openblas
    core = probe._blas_core()
    assert isinstance(core, str) and core  # e.g. "SkylakeX", "Haswell", "Zen"


def test_blas_core_is_none_where_openblas_names_no_core(monkeypatch):
    monkeypatch.setattr(probe, "_CORENAME_SYMBOLS", ("no_such_symbol",))
    assert probe._blas_core() is None


def test_forced_coretype_gemm_runs_in_a_child_with_the_kernels_for_this_cpu(monkeypatch):
    """``OPENBLAS_CORETYPE=Haswell`` made numpy run AVX2 kernels on an AVX-512 Zen 5 (110 vs 205 GFLOP/s fp32): the
    GEMM is timed in a child without it, whose core is the one a fresh interpreter without it picks."""
    import numpy as np

    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    with probe._GemmChildren() as children:
        run, touch, backend = probe._gemm_kernel("fp32", 64, children)
        child = run.__self__
        assert isinstance(child, probe._BlasChild) and child.pid != os.getpid()
        run()
        touch()
        assert child._proc.poll() is None  # alive while the trials run
    assert _gone(child._proc)
    fresh = _fresh_blas_core()
    assert child.core == fresh
    assert backend == (f"numpy {np.__version__} matmul ({probe._blas_name()}, {fresh} kernels; timed in a child "
                       "process without OPENBLAS_CORETYPE=Haswell)")


def test_unforced_gemm_runs_here_and_names_its_kernels(monkeypatch):
    import numpy as np

    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    run, _, backend = probe._gemm_kernel("fp64", 8)
    assert not hasattr(run, "__self__")  # a numpy call in this process, no child
    assert backend == f"numpy {np.__version__} matmul ({probe._blas_name()}, {probe._blas_core()} kernels)"


def test_gemm_child_that_dies_says_why(monkeypatch):
    monkeypatch.setattr(probe, "_CHILD_PROGRAM", "import sys; sys.exit('no numpy here')")
    with pytest.raises(RuntimeError, match="failed on 'gemm fp32 8': it exited with code 1: no numpy here"):
        probe._BlasChild("fp32", 8)


@pytest.mark.parametrize("given, want", [(None, "4"), ("10", "10")])
def test_gemm_child_workers_sleep_at_once_unless_told_otherwise(monkeypatch, given, want):
    """Two GEMM children on 2 CPUs: one's OpenBLAS workers busy-waiting after its GEMM halved the other's (165-193
    against 370-390 GFLOP/s on Zen 5); the children get OPENBLAS_THREAD_TIMEOUT=4 where the user set none."""
    if given is None:
        monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", given)
    # a child that answers its first request with the variable it was started with
    monkeypatch.setattr(probe, "_CHILD_PROGRAM", "import os, sys; sys.stdin.readline(); "
                        "print('ok', os.environ.get('OPENBLAS_THREAD_TIMEOUT'), flush=True); sys.stdin.read()")
    with probe._BlasChild("fp32", 8) as child:
        assert child.core == want


def test_gemm_child_reports_failures_and_ends_when_dropped():
    child = probe._BlasChild("fp64", 8)
    with pytest.raises(RuntimeError, match="failed on 'bogus': KeyError"):
        child._ask("bogus")
    child.run()  # still serving after a failed request
    proc = child._proc
    del child
    gc.collect()
    assert _gone(proc)
    with probe._BlasChild("fp32", 8) as closed:
        pass
    with pytest.raises(RuntimeError, match="gone"):
        closed.run()


@pytest.mark.parametrize("fails", [False, True])
def test_cpu_probe_ends_its_gemm_children_when_it_ends_or_raises(monkeypatch, fails):
    pytest.importorskip("onnxruntime")
    _small_kernels(monkeypatch, 1)
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    started = []

    class Recorded(probe._BlasChild):
        def __init__(self, precision, n):
            super().__init__(precision, n)
            started.append(self._proc)

    monkeypatch.setattr(probe, "_BlasChild", Recorded)
    if fails:  # the first STREAM kernel, prepared after both GEMMs
        monkeypatch.setattr(probe, "_stream_kernel", lambda *a, **k: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            probe.probe(quick=True, use_gpu=False)
    else:
        result = probe.probe(quick=True, use_gpu=False)
        in_child = {g.precision for g in result.gemm if "child process without OPENBLAS_CORETYPE=Haswell" in g.backend}
        assert in_child == {"fp64", "fp32"}  # not int8: onnxruntime picks its kernels by CPUID
    assert len(started) == 2 and all(_gone(p) for p in started)  # fp64 and fp32


def test_gemm_children_count_in_the_probes_cpu_usage():
    """The contention check must see the CPU time of the GEMMs the children run (else a quiet probe reads busy)."""
    from hybridperf.measure.contention import usage

    with probe._GemmChildren() as children:
        child = probe._BlasChild("fp32", 64)
        children.add(child)
        child.run()
        ours, both = usage(), children.usage()
        assert child.usage()[0] > 0.01  # at least its imports of numpy and hybridperf
        assert both[1] > ours[1] + 0.01 and both[2] >= ours[2]
    assert _gone(child._proc)
