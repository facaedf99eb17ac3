"""One mark per kind of peak memory, wherever a peak is shown (2026-12-03).

``peak_kind`` says what a prediction's peak is: exact, a lower bound (a plan whose uncosted op's output is not
sized), an estimate (onnxruntime's graph sized with a guess for a data-dependent output) or unknown. Until
2026-12-03 only ``predict``'s table knew all four: the JSON ``runtime_memory`` block had no mark (a ``--runtime
tvm`` peak over a NonZero read as exact), the HTML card printed an estimate as ``≥`` and ``predict-many`` rows as a
plain figure.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from test_no_silent_zeros import _save as save_graph

import hybridperf
from hybridperf.cli import main
from hybridperf.estimate.runtime_memory import peak_kind
from hybridperf.report.format import fmt_peak
from hybridperf.report.html import written_line
from hybridperf.report.many import to_csv, to_table
from hybridperf.report.text import runtime_memory_dict


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("marks")
    x = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1024])]
    w = numpy_helper.from_array(np.full((1024, 64), 0.5, np.float32), "W")
    return {
        # relu then NonZero as the graph's output: the plan is known (relu's 4 KiB), NonZero's output is not sized
        "nz_out": save_graph([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("NonZero", ["r"], ["y"])], x,
                             [helper.make_tensor_value_info("y", TensorProto.INT64, None)], d / "nz_out.onnx", []),
        "mlp": save_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], x,
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], d / "mlp.onnx", [w]),
    }


def test_fmt_peak_marks():
    assert [fmt_peak(2048, k) for k in ("exact", "lower_bound", "estimate", "unknown")] == [
        "2.00 KiB", "≥ 2.00 KiB", "≈ 2.00 KiB", "unknown"]
    assert fmt_peak(None, "exact") == "unknown"


def test_tvm_runtime_json_marks_a_lower_bound(models):
    pred = hybridperf.predict(models["nz_out"], "a100-sxm-80gb", residual=None, runtime="tvm")
    assert pred.memory.known and peak_kind(pred) == "lower_bound"
    rt = runtime_memory_dict(pred)
    assert rt["runtime"] == "tvm" and rt["lower_bound"] is True and rt["estimate"] is False
    # the parts still add up to the figure
    assert rt["peak_bytes"] == sum(rt["parts"].values())


def test_exact_peak_is_not_marked(models):
    pred = hybridperf.predict(models["mlp"], "a100-sxm-80gb", residual=None, runtime="tvm")
    assert peak_kind(pred) == "exact"
    rt = runtime_memory_dict(pred)
    assert (rt["lower_bound"], rt["estimate"]) == (False, False)
    # weights 1024*64*4 + input 1024*4 are parts of the peak
    assert rt["parts"]["weights"] == 1024 * 64 * 4 and rt["parts"]["inputs"] == 1024 * 4


def test_onnxruntime_guess_is_an_estimate_everywhere(models, tmp_path, capsys):
    pred = hybridperf.predict(models["nz_out"], "ryzen-9-7950x", residual=None, runtime="onnxruntime")
    assert pred.runtime_memory.unsized_ops == ("NonZero",) and peak_kind(pred) == "estimate"
    rt = runtime_memory_dict(pred)
    assert (rt["lower_bound"], rt["estimate"]) == (False, True)
    # the HTML page's summary line (it printed ">=" for a guess until 2026-12-03)
    assert "peak memory ≈ " in written_line(pred, tmp_path / "r.html")
    # predict-many: the row says estimate, the table prints "≈", the CSV has the column
    code = main(["predict-many", str(models["nz_out"]), "-d", "ryzen-9-7950x", "--jobs", "1", "--format", "json"])
    row = json.loads(capsys.readouterr().out)["models"][0]
    assert code == 0 and row["memory_estimate"] is True and row["memory_lower_bound"] is False
    assert "≈" in to_table([row], "ryzen-9-7950x").splitlines()[2]
    header, line = to_csv([row], "ryzen-9-7950x").splitlines()
    cells = dict(zip(header.split(","), line.split(",")))
    assert (cells["memory_estimate"], cells["memory_lower_bound"]) == ("true", "false")


def test_tvm_runtime_on_a_cpu_sheet_says_latency_is_not_tvms(models):
    """--runtime tvm on a CPU sheet prices TVM's peak and nothing else; until 2026-12-03 nothing said so."""
    from hybridperf.estimate.pricing import TVM_ON_CPU_NOTE

    tvm = hybridperf.predict(models["mlp"], "ryzen-9-7950x", residual=None, runtime="tvm")
    ort = hybridperf.predict(models["mlp"], "ryzen-9-7950x", residual=None, runtime="onnxruntime")
    assert TVM_ON_CPU_NOTE in tvm.warnings and TVM_ON_CPU_NOTE not in ort.warnings
    assert tvm.latency_s == ort.latency_s and tvm.peak_memory_bytes != ort.peak_memory_bytes
    gpu = hybridperf.predict(models["mlp"], "t4", residual=None, runtime="tvm")
    assert TVM_ON_CPU_NOTE not in gpu.warnings


def test_a_lower_bound_plan_names_the_ops_it_leaves_out(models):
    """NonZero's output is allocated by the runtime, outside TVM's plan: the plan line and JSON memory name it (the
    peak read only ``≥`` until 2026-12-03)."""
    from hybridperf.report.text import memory_text, to_dict

    pred = hybridperf.predict(models["nz_out"], "t4", residual=None, runtime="tvm")
    reason = "op outputs not in TVM's plan: relax.run.nonzero (size unknown)"
    assert to_dict(pred)["memory"]["lower_bound_reason"] == reason and reason in memory_text(pred)
    exact = hybridperf.predict(models["mlp"], "t4", residual=None, runtime="tvm")
    assert to_dict(exact)["memory"]["lower_bound_reason"] is None
