"""The onnxruntime measurement harness on a tiny hand-built ONNX model (no torch)."""

from __future__ import annotations

import pytest

pytest.importorskip("onnxruntime")

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hybridperf.errors import InputError, ModelLoadError
from hybridperf.measure.onnxruntime import Measurement, csv_row, join_profile, measure


def _tiny(path, symbolic=False):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.random((16, 32), dtype=np.float32), "w")
    b = numpy_helper.from_array(rng.random((32,), dtype=np.float32), "b")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["mm"], name="matmul_0"),
        helper.make_node("Add", ["mm", "b"], ["add"], name="add_0"),
        helper.make_node("Relu", ["add"], ["y"], name="relu_0"),
    ]
    batch = "N" if symbolic else 4
    g = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 32])],
        [w, b],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return _tiny(tmp_path_factory.mktemp("m") / "tiny.onnx")


@pytest.fixture(scope="module")
def record(tiny):
    return measure(tiny, threads=1, repeats=5, warmup=1, profile=True, profile_runs=2)


def test_record_fields(record):
    m = record
    assert m.latency_s > 0 and m.latency_p10_s <= m.latency_s <= m.latency_p90_s
    assert m.latency_min_s <= m.latency_p10_s
    assert m.runtime == "onnxruntime" and m.runtime_version
    assert m.device == "host" and m.threads == 1 and m.repeats == 5 and m.warmup == 1
    assert m.cpu_model and m.hybridperf_version and "T" in m.date_utc and m.date_utc.endswith("+00:00")
    assert m.input_shapes == {"x": (4, 16)} and m.batch == 4
    assert m.input_bytes == 4 * 16 * 4  # float32


def test_load_average_is_the_hosts_at_measurement_time(tiny, monkeypatch):
    import os

    from hybridperf.measure.onnxruntime import measure_in_process

    monkeypatch.setattr(os, "getloadavg", lambda: (3.25, 2.5, 1.75))
    m = measure_in_process(tiny, threads=1, repeats=3, warmup=1, memory=False)
    assert m.load_avg_1m == 3.25  # the 1-minute figure, not the 5- or 15-minute one
    monkeypatch.delattr(os, "getloadavg")  # a platform without it: recorded as -1, never a made-up 0
    assert measure_in_process(tiny, threads=1, repeats=3, warmup=1, memory=False).load_avg_1m == -1.0


def test_peak_memory_measured_in_subprocess(record):
    assert record.peak_bytes is not None and record.peak_bytes >= record.input_bytes
    assert record.peak_bytes == record.load_bytes + record.run_peak_bytes + record.input_bytes
    assert "subprocess" in record.memory_method


def test_profile_nodes_join_graph_nodes(record, tiny):
    graph = {n.name for n in onnx.load(str(tiny)).graph.node}
    assert record.nodes, "the profiler produced no node events"
    joined = [n for n in record.nodes if n.graph_node is not None]
    assert joined and all(n.graph_node in graph for n in joined)
    assert all(n.duration_s >= 0 and n.op_type for n in record.nodes)
    assert record.profile_total_s == pytest.approx(sum(n.duration_s for n in record.nodes))


def test_round_trip_dict_and_csv(record):
    again = Measurement.from_dict(record.to_dict())
    assert again == record
    row = csv_row(record, key="k")
    assert row["input_shapes"] == "x=4x16" and row["batch"] == 4 and row["key"] == "k"


def test_join_profile_prefix_and_optimiser_nodes():
    ev = [
        {"cat": "Node", "name": "conv_1_nchwc_kernel_time", "dur": 10, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "conv_1_nchwc_kernel_time", "dur": 30, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "reorder_token_3_kernel_time", "dur": 5, "args": {"op_name": "ReorderInput"}},
        {"cat": "Node", "name": "fused relu_2/MatMulAddFusion_kernel_time", "dur": 7, "args": {"op_name": "FusedGemm"}},
        {"cat": "Node", "name": "conv_1_nchwc_fence_before", "dur": 1, "args": {}},
        {"cat": "Session", "name": "model_run", "dur": 99},
    ]
    nodes = join_profile(ev, ["conv_1", "conv_10", "relu_2"])
    assert [(n.name, n.graph_node) for n in nodes] == [
        ("conv_1_nchwc", "conv_1"), ("reorder_token_3", None), ("fused relu_2/MatMulAddFusion", "relu_2")]
    assert nodes[0].duration_s == pytest.approx(20e-6)  # median of 10 and 30 us


def test_symbolic_batch_needs_binding(tmp_path):
    p = _tiny(tmp_path / "sym.onnx", symbolic=True)
    with pytest.raises(InputError, match="--batch"):
        measure(p, repeats=1, warmup=0, profile=False, isolate=False)
    m = measure(p, batch=2, repeats=2, warmup=0, profile=False, isolate=False, threads=1)
    assert m.input_shapes == {"x": (2, 16)}


def test_missing_model_is_a_load_error(tmp_path):
    with pytest.raises(ModelLoadError):
        measure(tmp_path / "nope.onnx")


def test_measure_cli_json(tiny, capsys):
    import json

    from hybridperf.cli import main

    assert main(["measure", str(tiny), "--threads", "1", "--repeats", "3", "--warmup", "1", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["latency_s"] > 0 and d["runtime"] == "onnxruntime"
    assert 0 < d["latency_min_s"] <= d["latency_s"]  # the fastest run, what CPU models predict
    assert main(["measure", str(tiny), "--repeats", "0"]) == 2
    assert main(["measure", str(tiny), "--threads", "1", "--repeats", "3", "--warmup", "1",
                 "--graph-optimization", "disabled", "--format", "json"]) == 0
    extra = json.loads(capsys.readouterr().out)["extra"]
    assert extra["graph_optimization"] == "disabled"
    assert set(extra["cpu"]) == {"cpu_model", "cpu_vendor", "cpu_family", "cpu_model_id", "cpu_stepping", "cpu_isa"}


def test_text_shows_the_fastest_run_beside_the_median(record):
    """The table shows the fastest run (CPU models' label) after the median; a record without one omits it."""
    from dataclasses import replace

    from hybridperf.report.format import fmt_time
    from hybridperf.report.measurement import to_text

    line = next(x for x in to_text(record).splitlines() if x.startswith("latency"))
    assert line.startswith(f"latency   median {fmt_time(record.latency_s)}  fastest {fmt_time(record.latency_min_s)}  p10 ")
    assert "fastest" not in to_text(replace(record, latency_min_s=None))


def test_graph_optimization_level_recorded(tiny):
    """With optimisations disabled, MatMul+Add stay separate nodes (the default level fuses them into a Gemm-like node)."""
    from hybridperf.measure.onnxruntime import measure_in_process

    off = measure_in_process(tiny, threads=1, repeats=3, warmup=1, profile=True, profile_runs=1, memory=False,
                             graph_optimization="disabled")
    assert off.extra["graph_optimization"] == "disabled" and off.extra["cpu"]["cpu_model"] == off.cpu_model
    assert [n.op_type for n in off.nodes] == ["MatMul", "Add", "Relu"]
    on = measure_in_process(tiny, threads=1, repeats=3, warmup=1, profile=True, profile_runs=1, memory=False)
    assert on.extra["graph_optimization"] == "all" and len(on.nodes) < 3


def test_record_carries_the_contention_of_its_timed_runs(record):
    """The isolated worker measures the timed runs' contention and it survives the JSON round trip."""
    from hybridperf.measure.contention import Contention

    c = record.contention
    assert isinstance(c, Contention) and c.window_s > 0 and c.preemptions_per_s >= 0 and 0 <= c.cpu_share <= 1
    assert Measurement.from_dict(record.to_dict()) == record


def test_a_busy_measurement_warns_and_says_so_in_the_table(tiny, capsys, monkeypatch):
    from dataclasses import replace

    import hybridperf.measure.onnxruntime as ortm
    from hybridperf.cli import main
    from hybridperf.measure.contention import contention_between

    real = ortm.measure(tiny, threads=1, repeats=3, warmup=1, profile=False)
    busy = replace(real, contention=contention_between((0.0, 0.0, 0), (1.0, 0.5, 125), threads=1))
    monkeypatch.setattr(ortm, "measure", lambda *a, **k: busy)
    assert main(["measure", str(tiny)]) == 0
    out, err = capsys.readouterr()
    assert err == ("hybridperf: warning: another process competed for the CPU during the timed runs (preempted 125 "
                   "times a second; it got 50% of its CPU time): the latency figures are slow and noisy; measure "
                   "again when the machine is idle\n")
    assert ", preempted 125/s while timing (1.0 s, 50% of its CPU time): BUSY" in out
    monkeypatch.setattr(ortm, "measure", lambda *a, **k: replace(real, contention=None))
    assert main(["measure", str(tiny)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "preempted" not in out  # unknown is not shown as a figure


def test_measure_refuses_a_gpu_sheet_and_names_the_device_it_records(tiny, capsys, record):
    """onnxruntime on this CPU is never recorded as a GPU's timing; an id without a sheet is the user's own label."""
    from hybridperf.cli import main
    from hybridperf.report.measurement import to_text

    assert main(["measure", str(tiny), "--device", "t4"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == ("hybridperf: error: --device t4 is a gpu sheet, but measure times onnxruntime on this "
                                 "CPU: run it on the machine itself, or leave --device out (this machine: host)\n")
    runtime = next(x for x in to_text(record).splitlines() if x.startswith("runtime"))
    assert runtime.startswith(f"runtime   onnxruntime {record.runtime_version} on {record.device} ({record.cpu_model}), ")


def test_measure_times_the_threads_host_predicts_for_and_says_when_it_does_not(tiny, capsys, monkeypatch, record):
    """Default ``--threads``: the CPUs this process may use, the count predictions for ``host`` assume (before: 2
    everywhere: on one usable CPU two threads shared it, 2x the median of one). Another count says so on stderr."""
    from dataclasses import replace

    import hybridperf.measure.host as host
    import hybridperf.measure.onnxruntime as ortm
    from hybridperf.cli import main

    seen = []
    quiet = replace(record, contention=None)  # the fixture's real reading: busy under load, a warning on stderr
    monkeypatch.setattr(host, "host_threads", lambda: 3)
    monkeypatch.setattr(ortm, "measure", lambda *a, threads, **k: seen.append(threads) or quiet)
    assert main(["measure", str(tiny)]) == 0 and seen == [3]
    assert capsys.readouterr().err == ""
    assert main(["measure", str(tiny), "--threads", "4"]) == 0 and seen == [3, 4]
    assert capsys.readouterr().err == (
        "hybridperf: warning: --threads 4: predictions for device host assume 3 thread(s), the CPUs this process may "
        "use (more threads share them); compare them with a measurement at --threads 3\n")
    assert main(["measure", str(tiny), "--threads", "4", "--device", "my-box"]) == 0  # another machine's label
    assert capsys.readouterr().err == ""


def test_measure_names_the_fix_for_a_directory_a_missing_file_and_a_non_onnx_file(tmp_path, capsys):
    from hybridperf.cli import main

    junk = tmp_path / "junk.onnx"
    junk.write_text("not a model")
    for path, line in [
        (tmp_path, f"{tmp_path} is a directory; pass an .onnx file (`hybridperf calibrate --device host --measure DIR` "
                   "measures a directory)"),
        (tmp_path / "missng.onnx", f"model file not found: {tmp_path / 'missng.onnx'}; check the path"),
        (junk, f"cannot read {junk} as ONNX (DecodeError); the file is corrupt or not an ONNX model: re-export it"),
    ]:
        assert main(["measure", str(path), "--threads", "1"]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err == f"hybridperf: error: {line}\n"
