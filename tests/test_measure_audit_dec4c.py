"""Measure audit (2026-12-04, evening): a user checks a prediction with `hybridperf measure` and keeps the record.

The record names the model by its absolute path; the CSV carries the runtime line's figures (graph optimisation,
preemptions, CPU share) and writes an unknown load average empty (JSON null); more threads than usable CPUs are not
called "another process competed"; an empty --device is refused; replacing an existing --out record says so. The timing
is faked (a fixed record, fixed getrusage readings); nothing here depends on the host's speed.
"""

from __future__ import annotations

import csv
import json
import os

import pytest
from onnx import TensorProto, helper, save

pytest.importorskip("onnxruntime")

import hybridperf.measure.host as host
import hybridperf.measure.onnxruntime as ortm
from hybridperf.cli import main
from hybridperf.measure.contention import Contention
from hybridperf.measure.onnxruntime import Measurement


def _relu(path):
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    save(m, str(path))
    return path


def _record(model="m.onnx", load=0.5, optimization="all", contention=None) -> Measurement:
    """A fixed record, as the worker returns it (the model as given to it)."""
    return Measurement(model=model, device="host", runtime="onnxruntime", runtime_version="1.32.0", threads=1,
                       cpu_model="AMD EPYC", date_utc="2026-12-04T20:00:00+00:00", hybridperf_version="0.1.0",
                       input_shapes={"x": (2, 3)}, repeats=3, warmup=1, latency_s=2e-3, latency_p10_s=1.5e-3,
                       latency_p90_s=3e-3, latency_mean_s=2.1e-3, latency_std_s=1e-4, load_avg_1m=load,
                       latency_min_s=1e-3, input_bytes=2 * 3 * 4,
                       extra={"graph_optimization": optimization,
                              "cpu": {"cpu_model": "AMD EPYC", "cpu_vendor": "AuthenticAMD", "cpu_family": 26,
                                      "cpu_model_id": 2, "cpu_stepping": 1, "cpu_isa": "avx2"},
                              "input_fill": {}},
                       contention=contention)


@pytest.fixture
def faked(tmp_path, monkeypatch):
    """A relu model in the working folder, one usable CPU, and ``measure`` returning ``_record`` (kwargs seen)."""
    monkeypatch.chdir(tmp_path)
    _relu(tmp_path / "m.onnx")
    monkeypatch.setattr(host, "host_threads", lambda: 1)
    seen = {}

    def fake(model, *a, **k):
        seen.update(k, model=model)
        return seen.get("record") or _record(model)

    monkeypatch.setattr(ortm, "measure", fake)
    return seen


def test_the_record_names_the_model_by_its_absolute_path(faked, tmp_path, capsys):
    # until 2026-12-04 `measure m.onnx --out r.json` recorded "model": "m.onnx", a path that meant nothing once the
    # file was read from another folder
    assert main(["measure", "m.onnx", "--no-subnormal-scan", "--out", "r.json"]) == 0
    model = str(tmp_path / "m.onnx")
    assert capsys.readouterr().out.startswith(f"model     {model}  inputs x=2x3\n")
    assert json.loads((tmp_path / "r.json").read_text())["model"] == model
    assert main(["measure", "m.onnx", "--no-subnormal-scan", "--out", "r.csv"]) == 0
    assert next(csv.DictReader((tmp_path / "r.csv").open()))["model"] == model


def test_the_csv_carries_the_runtime_lines_figures(faked, tmp_path, capsys):
    # until 2026-12-04 the CSV had neither the graph optimisation level nor the preemptions and CPU share the
    # table's runtime line prints: a timing under a busy neighbour or with optimisation disabled read as a clean one
    faked["record"] = _record(optimization="disabled", contention=Contention(window_s=2.0, preemptions_per_s=125.0,
                                                                            cpu_share=0.5, threads=1))
    assert main(["measure", "m.onnx", "--no-subnormal-scan", "--graph-optimization", "disabled",
                 "--out", "r.csv"]) == 0
    row = next(csv.DictReader((tmp_path / "r.csv").open()))
    assert row["graph_optimization"] == "disabled"
    assert float(row["preemptions_per_s"]) == 125.0 and float(row["cpu_share"]) == 0.5
    assert row["cpu_vendor"] == "AuthenticAMD" and row["cpu_family"] == "26" and row["cpu_stepping"] == "1"
    out = capsys.readouterr().out
    # the table says the level too (until 2026-12-04 only JSON extra.graph_optimization did)
    assert "runtime   onnxruntime 1.32.0 (graph optimisation disabled) on host (AMD EPYC), 1 thread(s)" in out
    assert ", preempted 125/s while timing (2.0 s, 50% of its CPU time): BUSY" in out


def test_the_default_level_keeps_the_runtime_line_as_it_was(faked, capsys):
    assert main(["measure", "m.onnx", "--no-subnormal-scan"]) == 0
    assert "runtime   onnxruntime 1.32.0 on host (AMD EPYC), 1 thread(s), load avg 0.50\n" in capsys.readouterr().out


def test_an_unknown_load_average_is_written_unknown_in_every_record(faked, tmp_path, capsys):
    # until 2026-12-04 a platform without a load average wrote "load_avg_1m": -1.0 (JSON, CSV, --format json)
    faked["record"] = _record(load=-1.0)
    assert main(["measure", "m.onnx", "--no-subnormal-scan", "--out", "r.json", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["load_avg_1m"] is None
    assert json.loads((tmp_path / "r.json").read_text())["load_avg_1m"] is None
    assert main(["measure", "m.onnx", "--no-subnormal-scan", "--out", "r.csv"]) == 0
    assert "load avg unknown" in capsys.readouterr().out
    assert next(csv.DictReader((tmp_path / "r.csv").open()))["load_avg_1m"] == ""


def test_a_load_average_the_platform_cannot_give_does_not_lose_the_measurement(tmp_path, monkeypatch):
    # until 2026-12-04 an OSError of os.getloadavg ended the measurement ("failed in the worker: OSError")
    def no_load():
        raise OSError("no load average")

    monkeypatch.setattr(os, "getloadavg", no_load)
    m = ortm.measure_in_process(_relu(tmp_path / "m.onnx"), threads=1, repeats=2, warmup=0, profile=False,
                                memory=False)
    assert m.load_avg_1m == -1.0  # written unknown by the command (above)


@pytest.mark.parametrize("device", ["", "  "])
def test_an_empty_device_is_refused(faked, capsys, device):
    # until 2026-12-04 `-d ''` was measured and recorded as the device "" ("on  (AMD EPYC)")
    assert main(["measure", "m.onnx", "-d", device]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == ("hybridperf: error: --device is empty; name a device id, or leave --device out (this "
                                 "machine: host)\n")
    assert "model" not in faked  # nothing measured


def test_replacing_an_existing_out_file_says_what_it_held(faked, tmp_path, capsys):
    # until 2026-12-04 --out onto an existing file replaced it without a word (a CSV of other data included)
    assert main(["measure", "m.onnx", "--no-subnormal-scan", "--out", "r.csv"]) == 0
    assert capsys.readouterr().err == ""  # a new file: nothing replaced
    assert main(["measure", "m.onnx", "--no-subnormal-scan", "--out", "r.csv"]) == 0
    assert capsys.readouterr().err == (f"hybridperf: note: --out r.csv: replaced the record there "
                                       f"({tmp_path / 'm.onnx'} on host, 2026-12-04T20:00:00+00:00)\n")
    assert len(list(csv.DictReader((tmp_path / "r.csv").open()))) == 1  # replaced, not appended to
    # a file that holds no measure record is refused, not replaced (until 2026-12-04 replaced with a note):
    # tests/test_defects_dec4d.py


def test_more_threads_than_cpus_is_not_called_another_process(tmp_path, monkeypatch):
    # until 2026-12-04 `--threads 2` on one usable CPU, alone on it, was judged over 2 CPUs: "another process competed
    # for the CPU during the timed runs (... 50% of the CPU time of its 2 threads)", BUSY
    readings = iter([(0.0, 0.0, 0), (1.0, 1.0, 250)])  # 1 s of wall, 1 s of CPU, 250 preemptions (its own threads)
    monkeypatch.setattr(ortm, "usage", lambda: next(readings))
    monkeypatch.setattr(ortm, "usable_cpus", lambda: 1)
    m = ortm.measure_in_process(_relu(tmp_path / "m.onnx"), threads=2, repeats=2, warmup=0, profile=False,
                                memory=False)
    c = m.contention
    assert (c.cpu_share, c.threads) == (1.0, 1) and not c.busy  # 1 s of CPU / (1 s x 1 usable CPU)
    assert m.threads == 2
    readings = iter([(0.0, 0.0, 0), (1.0, 0.5, 250)])  # half the one CPU: another process had the rest
    monkeypatch.setattr(ortm, "usage", lambda: next(readings))
    c = ortm.measure_in_process(tmp_path / "m.onnx", threads=2, repeats=2, warmup=0, profile=False,
                                memory=False).contention
    assert c.cpu_share == 0.5 and c.busy
