"""Regression tests for defects the lead fixed on 2026-12-04, second session (outside the helpers' files)."""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import numpy_helper

from hybridperf.cli import ExitCode, main
from tests.onnx_models import opset17_model, value_info


def _no_input_model(path):
    """A model that takes no input: a constant 4x4 matrix times a 4x4 weight."""
    const = onnx.helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.ones((4, 4), np.float32)))
    matmul = onnx.helper.make_node("MatMul", ["c", "w"], ["y"])
    onnx.save(opset17_model([const, matmul], [], [value_info("y", [4, 4])],
                            [numpy_helper.from_array(np.ones((4, 4), np.float32), "w")]), str(path))
    return str(path)


def test_a_model_without_inputs_says_so_in_the_report(tmp_path, capsys):
    # until 2026-12-04 the first line read "inputs " with nothing after it
    model = _no_input_model(tmp_path / "noin.onnx")
    assert main(["predict", model, "-d", "t4", "--top", "0"]) == ExitCode.OK
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("inputs none (the model takes no input)")


def test_an_empty_tensor_takes_no_cuda_block():
    # until 2026-12-04 a request of 0 bytes was rounded up to the 512-byte minimum block, so a model without
    # inputs was charged "inputs 512 B" (and one without weights "weights 512 B") on torch
    from hybridperf.estimate.runtime_memory import CUDA_MIN_BLOCK_BYTES, cuda_block_bytes

    assert cuda_block_bytes(0) == 0
    assert cuda_block_bytes(1) == CUDA_MIN_BLOCK_BYTES
    assert cuda_block_bytes(CUDA_MIN_BLOCK_BYTES + 1) == 2 * CUDA_MIN_BLOCK_BYTES


def test_a_model_without_inputs_is_charged_no_input_block_on_torch(tmp_path, capsys):
    model = _no_input_model(tmp_path / "noin.onnx")
    assert main(["predict", model, "-d", "t4", "--format", "json"]) == ExitCode.OK
    parts = json.loads(capsys.readouterr().out)["runtime_memory"]["parts"]
    assert parts["inputs"] == 0


def test_device_sheets_hash_and_equal_sheets_hash_equal():
    # until 2026-12-04 hash(spec) raised TypeError (its read-only mappings do not hash), so a frozen sheet could
    # not key a dict or sit in a set
    from hybridperf.device.spec import load_spec

    t4, again, l4 = load_spec("t4"), load_spec("t4"), load_spec("l4")
    assert t4 == again and hash(t4) == hash(again)
    assert {t4: "a"}[again] == "a"
    assert len({t4, again, l4}) == 2


def test_a_probe_on_several_threads_that_shared_its_cpus_says_so():
    # until 2026-12-04 work on several threads was never judged: the README's first command, run while the machine
    # was busy, cached a 2-thread `host` sheet at half the CPU's figures without a word (measured on the Zen 5 host:
    # idle 0.94 of its 2 CPUs, beside two busy loops 0.46, its fp64 GEMM 100 instead of 204 GFLOP/s)
    from dataclasses import replace

    from hybridperf.measure import probe
    from hybridperf.measure.contention import contention_between
    from tests.test_probe import _fake_cpu_result

    busy = replace(_fake_cpu_result(), contention=contention_between((0.0, 0.0, 0), (2.0, 2 * 2.0 * 0.46, 460), 2))
    idle = replace(_fake_cpu_result(), contention=contention_between((0.0, 0.0, 0), (2.0, 2 * 2.0 * 0.94, 130), 2))
    assert "it got 46% of the CPU time of its 2 threads" in probe.spec_dict(busy, "toy")["notes"]
    assert "competed" not in probe.spec_dict(idle, "toy")["notes"]


def test_a_measurement_csv_records_the_cpu_identity(tmp_path, capsys):
    # until 2026-12-04 `measure --out FILE.csv` recorded only the lscpu model name ("AMD EPYC" for Zen 3, 4 and 5
    # alike); the JSON and calibration rows had vendor, family, model, stepping and ISA
    import csv
    from pathlib import Path

    example = str(Path(__file__).resolve().parents[1] / "examples" / "squeezenet1_1.onnx")
    out = tmp_path / "m.csv"
    assert main(["measure", example, "--repeats", "2", "--warmup", "1", "--no-subnormal-scan", "--out", str(out)]) == 0
    capsys.readouterr()
    (row,) = list(csv.DictReader(out.open()))
    assert {"cpu_model", "cpu_vendor", "cpu_family", "cpu_model_id", "cpu_stepping", "cpu_isa"} <= set(row)
    if Path("/proc/cpuinfo").exists():
        assert row["cpu_vendor"] and row["cpu_family"].isdigit()
