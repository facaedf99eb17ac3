"""Measure user audit (2026-12-04): a user checks `hybridperf predict model.onnx` with `hybridperf measure model.onnx`.

The record (table, JSON, CSV) says the same figures; statistics are ordered; bad input is one line on stderr, exit 2,
and an --out file is left as it was; the per-node profile joins an unnamed export's nodes and adds up per run; a CPU
sheet of another CPU is refused. Tiny ONNX graphs built with onnx.helper; nothing here depends on the host's speed.
"""

from __future__ import annotations

import csv
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper, save

pytest.importorskip("onnxruntime")

from hybridperf.cli import main
from hybridperf.measure.onnxruntime import Measurement, NodeTime, join_profile, measure_in_process


def _save(path, nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    save(m, str(path))
    return path


def _vi(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, dims)


def _unnamed_mlp(path):
    """Conv -> Relu -> Flatten -> Gemm, no node named (as some exporters write them)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.random((4, 3, 3, 3), dtype=np.float32), "w"),
             numpy_helper.from_array(rng.random((5, 4 * 8 * 8), dtype=np.float32), "fc"),
             numpy_helper.from_array(np.zeros(5, np.float32), "fb")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("Gemm", ["f", "fc", "fb"], ["y"], transB=1)]
    return _save(path, nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, 5])], inits)


def _shared(path):
    """Two inputs naming the same symbolic dims: one --shape binds both."""
    return _save(path, [helper.make_node("Add", ["a", "b"], ["y"], name="add")],
                 [_vi("a", ["batch", "seq"]), _vi("b", ["batch", "seq"])], [_vi("y", None)])


def _err_line(capsys):
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("hybridperf: error: "), (out, err)
    return err


# --------------------------------------------------------------------------- the record says one thing


def test_table_json_and_csv_say_the_same_figures(tmp_path, capsys):
    """One run with --out FILE.json and the table on stdout: every figure of the table is the JSON's, rendered; the
    statistics are ordered (fastest <= p10 <= median <= p90) and the mean lies within the runs; a CSV run carries the
    record's own columns."""
    from hybridperf.report.format import fmt_bytes, fmt_time

    model = _shared(tmp_path / "shared.onnx")
    out = tmp_path / "m.json"
    assert main(["measure", str(model), "--shape", "a=2x5", "--threads", "1", "--repeats", "4", "--warmup", "1",
                 "--out", str(out)]) == 0
    table = capsys.readouterr().out
    d = json.loads(out.read_text())
    m = Measurement.from_dict(d)
    assert d["input_shapes"] == {"a": [2, 5], "b": [2, 5]} and d["threads"] == 1 and d["repeats"] == 4
    assert d["runtime"] == "onnxruntime" and d["runtime_version"] and d["device"] == "host"
    assert d["cpu_model"] == d["extra"]["cpu"]["cpu_model"] and d["date_utc"].endswith("+00:00")
    assert d["latency_min_s"] <= d["latency_p10_s"] <= d["latency_s"] <= d["latency_p90_s"]
    assert d["latency_min_s"] <= d["latency_mean_s"] and d["latency_std_s"] >= 0
    assert d["peak_bytes"] == d["load_bytes"] + d["run_peak_bytes"] + d["input_bytes"]
    assert d["input_bytes"] == 2 * (2 * 5 * 4)  # two float32 inputs of 2x5
    lines = {ln[:9].strip(): ln for ln in table.splitlines() if ln.strip()}
    assert lines["model"] == f"model     {model}  inputs a=2x5, b=2x5"
    assert lines["runtime"].startswith(f"runtime   onnxruntime {d['runtime_version']} on host ({d['cpu_model']}), "
                                       "1 thread(s), ")
    assert lines["latency"] == (
        f"latency   median {fmt_time(m.latency_s)}  fastest {fmt_time(m.latency_min_s)}  p10 "
        f"{fmt_time(m.latency_p10_s)}  p90 {fmt_time(m.latency_p90_s)}  std {fmt_time(m.latency_std_s)}  "
        "(4 runs after 1 warm-up)")
    assert lines["memory"].startswith(f"memory    peak {fmt_bytes(m.peak_bytes)} = load {fmt_bytes(m.load_bytes)} + "
                                      f"run {fmt_bytes(m.run_peak_bytes)} + inputs {fmt_bytes(m.input_bytes)}  [")
    assert lines["date"] == f"date      {d['date_utc']}  hybridperf {d['hybridperf_version']}"

    out_csv = tmp_path / "m.csv"
    assert main(["measure", str(model), "--shape", "a=2x5", "--threads", "1", "--repeats", "2", "--warmup", "0",
                 "--no-subnormal-scan", "--out", str(out_csv), "--format", "json"]) == 0
    d2 = json.loads(capsys.readouterr().out)
    with out_csv.open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["input_shapes"] == "a=2x5;b=2x5" and row["batch"] == "2" and row["threads"] == "1"
    for k in ("device", "runtime", "runtime_version", "cpu_model", "date_utc"):
        assert row[k] == str(d2[k])
    for k in ("latency_s", "latency_p10_s", "latency_p90_s", "latency_min_s", "peak_bytes"):
        assert float(row[k]) == d2[k]
    assert d2["extra"]["subnormal_activations"] is None  # --no-subnormal-scan: not scanned, not "0"


def test_one_timed_run_has_no_spread(tmp_path, capsys):
    model = _shared(tmp_path / "shared.onnx")
    assert main(["measure", str(model), "--shape", "a=1x3", "--threads", "1", "--repeats", "1", "--warmup", "0",
                 "--no-subnormal-scan", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["latency_std_s"] is None  # unknown, not 0
    assert d["latency_min_s"] == d["latency_p10_s"] == d["latency_s"] == d["latency_p90_s"] == d["latency_mean_s"]


def test_measure_and_predict_bind_the_same_shapes_and_refuse_alike(tmp_path, capsys):
    """The shapes a --shape binds are the same in predict's and measure's records; a symbolic dim left unbound is
    the same one line from both."""
    model = _shared(tmp_path / "shared.onnx")
    assert main(["predict", str(model), "--shape", "a=3x7", "--format", "json"]) == 0
    pred = json.loads(capsys.readouterr().out)["input_shapes"]
    assert main(["measure", str(model), "--shape", "a=3x7", "--threads", "1", "--repeats", "1", "--warmup", "0",
                 "--no-subnormal-scan", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["input_shapes"] == pred == {"a": [3, 7], "b": [3, 7]}
    assert main(["predict", str(model)]) == 2
    line = _err_line(capsys)
    assert main(["measure", str(model)]) == 2
    assert _err_line(capsys) == line == ("hybridperf: error: input 'a' dim 0 ('batch') is symbolic; bind it with "
                                         "--batch N or --shape a=NxN\n")


# --------------------------------------------------------------------------- bad input: one line, --out untouched


def test_bad_models_are_one_line_and_leave_out_as_it_was(tmp_path, capsys):
    """A model onnxruntime rejects, an opset newer than it supports, a string input: one line naming the fix, exit 2,
    an existing --out file unchanged and a new one not created."""
    import onnxruntime

    reject = _save(tmp_path / "reject.onnx", [helper.make_node("Add", ["a", "b"], ["y"])],
                   [_vi("a", [3]), _vi("b", [4])], [_vi("y", None)])
    future = _save(tmp_path / "future.onnx", [helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [4])],
                   [_vi("y", [4])], opset=99)
    strings = _save(tmp_path / "strings.onnx", [helper.make_node("Identity", ["s"], ["y"])],
                    [_vi("s", [2], TensorProto.STRING)], [_vi("y", [2], TensorProto.STRING)])
    kept = tmp_path / "kept.json"
    kept.write_text(_EARLIER)
    for model in (reject, future, strings):
        for out in (kept, tmp_path / "new.csv"):
            assert main(["measure", str(model), "--threads", "1", "--repeats", "1", "--out", str(out)]) == 2
            err = _err_line(capsys)
            assert "[ONNXRuntimeError]" not in err and "Load model from" not in err and ".h:" not in err
            assert kept.read_text() == _EARLIER and not (tmp_path / "new.csv").exists()
        if model == reject:
            assert err == (f"hybridperf: error: onnxruntime cannot load {model}: Node () Op (Add) "
                           "[ShapeInferenceError] Incompatible dimensions; the file is corrupt, or uses an op or "
                           "opset this onnxruntime lacks: re-export it (onnx.checker.check_model names the problem)\n")
        elif model == future:
            # until 2026-12-04: "...model_load_utils.h:46 void onnxruntime::model_load_utils::ValidateOpset; the file
            # is corrupt, ...": the C++ location, and the reason cut off
            got = re.fullmatch(rf"hybridperf: error: onnxruntime cannot load {re.escape(str(model))}: it is stamped "
                               rf"opset 99 of ai\.onnx, and onnxruntime {re.escape(onnxruntime.__version__)} "
                               r"supports up to opset (\d+); the file is corrupt, or uses an op or opset this "
                               r"onnxruntime lacks: re-export it with opset <= (\d+), or upgrade onnxruntime\n", err)
            assert got and got.group(1) == got.group(2) and int(got.group(1)) < 99
        else:  # until 2026-12-04 predict's "which TVM cannot represent": measure runs no TVM
            assert err == (f"hybridperf: error: input 's' of {model} is a string tensor; measure (like predict) fills "
                           "numeric inputs only: export the model from its first numeric tensor on (e.g. token ids "
                           "after the tokenizer)\n")


#: an earlier measure record at --out (since 2026-12-04 a file that holds none is refused before the flags are read)
_EARLIER = ('{"model": "m.onnx", "device": "host", "runtime": "onnxruntime", "latency_s": 0.001, '
            '"date_utc": "2026-12-04T00:00:00Z"}\n')


@pytest.mark.parametrize("argv, fix", [
    (["--repeats", "0"], "--repeats must be a positive integer, got 0"),
    (["--warmup", "-1"], "--warmup must be >= 0, got -1"),
    (["--threads", "0"], "--threads must be a positive integer, got 0"),
    (["--batch", "0"], "--batch must be a positive integer, got 0"),
    (["--shape", "a=2x0"], "--shape a=2x0 has a non-positive dim; every dim must be >= 1"),
    (["--shape", "c=2x3"], "--shape names unknown input 'c'; the model's inputs are a, b"),
    (["--shape", "a=2x3", "--out", "REC.txt"], "--out REC.txt: name FILE.json (the full record) or FILE.csv (one row)"),
])
def test_bad_flags_are_one_line_and_nothing_is_written(tmp_path, capsys, monkeypatch, argv, fix):
    import hybridperf.measure.onnxruntime as ortm

    monkeypatch.chdir(tmp_path)
    real = ortm.measure

    def measure(*a, **k):  # the shapes are checked in the worker, before any run
        real(*a, **k)
        pytest.fail("measured despite a bad flag")

    monkeypatch.setattr(ortm, "measure", measure)
    model = _shared(tmp_path / "shared.onnx")
    kept = tmp_path / "kept.json"
    kept.write_text(_EARLIER)
    out = [] if "--out" in argv else ["--out", str(kept)]
    assert main(["measure", str(model), *argv, *out]) == 2
    assert _err_line(capsys) == f"hybridperf: error: {fix}\n"
    assert kept.read_text() == _EARLIER and not (tmp_path / "REC.txt").exists()


# --------------------------------------------------------------------------- --device: a CPU sheet


def test_a_cpu_sheet_of_another_cpu_is_refused(tmp_path, capsys, monkeypatch):
    """host-epyc-zen4-1c's training host is a Zen 4 (family 25 model 17): on another CPU its timing would be filed
    under that sheet's id (until 2026-12-04 recorded without a word; calibrate --measure refuses it). On that CPU,
    with 2 usable CPUs, it is timed with the sheet's 1 core, silently."""
    import hybridperf.measure.host as host
    import hybridperf.measure.onnxruntime as ortm

    model = _shared(tmp_path / "shared.onnx")
    out = tmp_path / "m.json"
    seen = []
    monkeypatch.setattr(ortm, "measure", lambda *a, threads, **k: seen.append(threads) or pytest.fail("timed"))
    monkeypatch.setattr(host, "host_threads", lambda: 2)
    monkeypatch.setattr(host, "host_cpu", lambda identity=None: "GenuineIntel family 6 model 143 stepping 8")
    assert main(["measure", str(model), "--shape", "a=1x2", "-d", "host-epyc-zen4-1c", "--out", str(out)]) == 2
    assert _err_line(capsys) == (
        "hybridperf: error: --device host-epyc-zen4-1c is the sheet of another CPU (AuthenticAMD family 25 model 17 "
        "stepping 1; this machine: GenuineIntel family 6 model 143 stepping 8), and measure times this machine: run "
        "it on that machine, or leave --device out (this machine: host)\n")
    assert seen == [] and not out.exists()

    rec = Measurement.from_dict({**_record_dict(), "device": "host-epyc-zen4-1c"})
    monkeypatch.setattr(host, "host_cpu", lambda identity=None: "AuthenticAMD family 25 model 17 stepping 1")
    monkeypatch.setattr(ortm, "measure", lambda *a, threads, **k: seen.append(threads) or rec)
    assert main(["measure", str(model), "--shape", "a=1x2", "-d", "host-epyc-zen4-1c", "--no-subnormal-scan"]) == 0
    assert seen == [1] and capsys.readouterr().err == ""


def test_a_probed_sheet_names_its_cpu(monkeypatch):
    """A sheet `probe --out` wrote names its CPU in its notes: another model name is another CPU."""
    import hybridperf.measure.probe as probe
    from hybridperf.commands.measure import _sheet_cpu

    monkeypatch.setattr(probe, "probed_cpu_model", lambda: "AMD EPYC 9654")
    sheet = SimpleNamespace(id="my-box", name="my box", path="/elsewhere/my-box.yaml", packaged=False,
                            notes="Probed 2026-12-04 by hybridperf 0.1.0. CPU: Intel Xeon Gold 6338; 2 usable of 2")
    assert _sheet_cpu(sheet) == ("Intel Xeon Gold 6338", "AMD EPYC 9654")
    same = SimpleNamespace(id="my-box", name="my box", path="/elsewhere/my-box.yaml", packaged=False,
                           notes="Probed 2026-12-04 by hybridperf 0.1.0. CPU: AMD EPYC 9654; 2 usable of 2")
    assert _sheet_cpu(same) == ("", "")
    assert _sheet_cpu(SimpleNamespace(id="x", name="x", path="/elsewhere/x.yaml", packaged=False, notes="hand-written")) == ("", "")


def _record_dict():
    return {"model": "m.onnx", "device": "host", "runtime": "onnxruntime", "runtime_version": "1.0", "threads": 1,
            "cpu_model": "CPU", "date_utc": "2026-12-04T00:00:00+00:00", "hybridperf_version": "0",
            "input_shapes": {"a": [1, 2], "b": [1, 2]}, "repeats": 2, "warmup": 0, "latency_s": 2e-3,
            "latency_p10_s": 1e-3, "latency_p90_s": 3e-3, "latency_mean_s": 2e-3, "latency_std_s": 1e-3,
            "load_avg_1m": 0.0, "latency_min_s": 1e-3}


# --------------------------------------------------------------------------- --profile


def test_profile_joins_an_unnamed_exports_nodes(tmp_path):
    """onnxruntime calls an unnamed node <OpType>_<index> and an NCHWc node <output>_nchwc: both join the graph node
    (named as the analysis names an unnamed node, output:<its output>); until 2026-12-04 every row read
    "(optimiser)"."""
    model = _unnamed_mlp(tmp_path / "unnamed.onnx")
    m = measure_in_process(model, threads=1, repeats=1, warmup=0, profile=True, profile_runs=2, memory=False)
    graph = {"output:c", "output:r", "output:f", "output:y"}
    by_op = {n.op_type: n.graph_node for n in m.nodes}
    assert by_op["Gemm"] == "output:y" and by_op["Flatten"] == "output:f"
    assert all(n.graph_node in graph for n in m.nodes if n.graph_node is not None)
    assert all(n.graph_node is None for n in m.nodes if n.op_type.startswith("Reorder"))
    off = measure_in_process(model, threads=1, repeats=1, warmup=0, profile=True, profile_runs=1, memory=False,
                             graph_optimization="disabled")
    assert [(n.name, n.graph_node) for n in off.nodes] == [
        ("Conv_0", "output:c"), ("Relu_1", "output:r"), ("Flatten_2", "output:f"), ("Gemm_3", "output:y")]


def test_profile_sums_a_nodes_times_per_run_and_drops_the_warm_up():
    """A node run twice in one run (a loop body) counts both; the first (cold) run is left out of the medians."""
    def run(ts, dur):
        return {"cat": "Session", "name": "model_run", "ts": ts, "dur": dur}

    def node(name, ts, dur, op="Add"):
        return {"cat": "Node", "name": f"{name}_kernel_time", "ts": ts, "dur": dur, "args": {"op_name": op}}

    events = [run(0, 100), node("add", 10, 90),  # warm-up: cold
              run(200, 50), node("add", 210, 4), node("add", 220, 6), node("relu_0", 230, 3, "Relu"),
              run(300, 50), node("add", 310, 5), node("add", 320, 5), node("relu_0", 330, 5, "Relu"),
              run(400, 50), node("add", 410, 6), node("add", 420, 6), node("relu_0", 430, 4, "Relu")]
    nodes = join_profile(events, {"add": "add", "relu_0": "relu_0"}, skip_runs=1)
    assert nodes == (NodeTime("add", "Add", pytest.approx(10e-6), "add"),  # median of 4+6, 5+5, 6+6 us
                     NodeTime("relu_0", "Relu", pytest.approx(4e-6), "relu_0"))  # median of 3, 5, 4 us
    nchwc = join_profile([node("relu8_nchwc", 0, 2, "Conv")], {"Relu_2": "output:relu8"}, {"relu8": "output:relu8"})
    assert [(n.name, n.graph_node) for n in nchwc] == [("relu8_nchwc", "output:relu8")]


def test_profile_line_adds_the_nodes_up_against_the_median(tmp_path, capsys):
    from dataclasses import replace

    from hybridperf.report.measurement import to_text

    rec = Measurement.from_dict(_record_dict())
    nodes = (NodeTime("conv_nchwc", "Conv", 1.5e-3, "conv"), NodeTime("ReorderOutput", "ReorderOutput", 0.1e-3, None))
    text = to_text(replace(rec, nodes=nodes, profile_total_s=1.6e-3))
    assert ("profile   2 node(s) of onnxruntime's optimised graph sum 1.600 ms = 80% of the median [") in text  # 1.6/2
    assert "profile" not in to_text(rec)
    assert "profile   no node of onnxruntime's optimised graph ran (it folded the model into constants)" in to_text(
        replace(rec, profile_total_s=0.0))  # --profile of a graph of constants: said, not silent

    model = _unnamed_mlp(tmp_path / "unnamed.onnx")
    assert main(["measure", str(model), "--threads", "1", "--repeats", "2", "--warmup", "0", "--profile",
                 "--no-subnormal-scan", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["nodes"] and d["profile_total_s"] == pytest.approx(sum(n["duration_s"] for n in d["nodes"]))


def test_a_measurement_past_the_time_limit_names_the_flags(tmp_path, capsys, monkeypatch):
    """The worker stopped at its time limit was "internal error: TimeoutExpired ... report it", exit 3, until
    2026-12-04; it is what was asked for being too long: one line naming the flags, exit 2, --out not written."""
    import subprocess

    import hybridperf.measure.onnxruntime as ortm

    def too_long(cmd, timeout, **kwargs):
        raise subprocess.TimeoutExpired(cmd, timeout)

    monkeypatch.setattr(ortm.subprocess, "run", too_long)
    model = _shared(tmp_path / "shared.onnx")
    out = tmp_path / "m.json"
    assert main(["measure", str(model), "--shape", "a=1x2", "--repeats", "7", "--warmup", "3", "--profile",
                 "--out", str(out)]) == 2
    assert _err_line(capsys) == (f"hybridperf: error: measuring {model} ran past 600 s (3 warm-up and 7 timed runs, "
                                 "then the profile) and was stopped; give fewer --repeats / --warmup, or a smaller "
                                 "--shape / --batch\n")
    assert not out.exists()


def test_unknown_memory_and_load_read_unknown():
    """A record whose memory was not measured (no /proc/self/clear_refs) or whose load average is unknown (-1)."""
    from hybridperf.report.measurement import to_text

    text = to_text(Measurement.from_dict({**_record_dict(), "memory_method": "not measured", "load_avg_1m": -1.0}))
    assert "memory    peak unknown  [not measured]" in text.splitlines()  # was "peak - = load - + run - + inputs 0 B"
    assert ", load avg unknown" in text and "-1.00" not in text
