"""Outputs agree (2026-12-04): the same model on the same device gives the same figures, notes and warnings in every
output of the tool (predict, predict-many, check, report, annotate, mig).

What happened until 2026-12-04:

* ``check`` read ``unknown`` for a memory limit whose onnxruntime peak rests on a guessed size (a NonZero output),
  where ``predict``, ``predict-many`` and ``report`` showed ``peak ≈ 10.41 MiB``; now the check shows the same
  ``≈`` figure (``UNDECIDED (estimate)``; JSON ``estimate``, JUnit property ``estimate``), still not judged.
* ``predict-many`` said nothing of ``--precision`` in its table or JSON (an int8 run read as an fp32 one; the CSV still
  does not: its columns are pinned by test_check_audit.py), and its table
  dropped ``unverified`` from a lower-bound row (check said ``UNDECIDED (lower bound, unverified)``).
* ``mig`` printed ``2.535 ms ... no`` beside a budget of ``2.535 ms`` (check: ``OVER (+<1%)``).
* ``annotate`` did not name the precision override in its header, nor print the prediction's warnings (``t4 lists
  no fp8 peak``) that ``predict`` prints; ``report`` and ``mig`` printed no warning either.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from test_no_silent_zeros import _save

import hybridperf
from hybridperf.cli import main

F32 = TensorProto.FLOAT


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("agree")
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32), "W")
    return {
        # x @ W -> relu: fully priced, float32
        "mlp": _save([helper.make_node("MatMul", ["x", "W"], ["a"]), helper.make_node("Relu", ["a"], ["y"])],
                     [helper.make_tensor_value_info("x", F32, [1, 64])],
                     [helper.make_tensor_value_info("y", F32, [1, 64])], d / "mlp.onnx", [w]),
        # relu -> NonZero: NonZero has no cost rule, and its output size depends on the data
        "nonzero": _save([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("NonZero", ["r"], ["y"])],
                         [helper.make_tensor_value_info("x", F32, [1, 1024])],
                         [helper.make_tensor_value_info("y", TensorProto.INT64, None)], d / "nonzero.onnx"),
    }


CPU = "host-epyc-zen5-1c"


def test_check_shows_predicts_memory_estimate(models, tmp_path, capsys):
    """Was: ``memory (onnxruntime)  unknown ... UNKNOWN`` beside predict's ``peak ≈ X``."""
    from hybridperf.report.format import fmt_bytes

    pred = hybridperf.predict(models["nonzero"], CPU, residual=None, runtime="auto")
    est = pred.peak_memory_bytes
    assert est is not None and pred.runtime_memory.unsized_ops == ("NonZero",)
    junit = tmp_path / "j.xml"
    argv = ["check", models["nonzero"], "-d", CPU, "--roofline-only", "--max-memory", "1GiB"]
    assert main([*argv, "--junit-xml", str(junit)]) == 2  # still not judged
    row = next(line for line in capsys.readouterr().out.splitlines() if "memory" in line)
    assert f"≈ {fmt_bytes(est)}" in row and row.endswith("UNDECIDED (estimate)")
    assert main([*argv, "--format", "json"]) == 2
    (mem,) = [c for c in json.loads(capsys.readouterr().out)["checks"] if c["metric"] == "memory"]
    assert mem["predicted"] is None and mem["undecided"] and mem["estimate"] == est
    assert f'name="estimate" value="{est!r}"' in junit.read_text()  # whole bytes, as JSON's


def test_predict_many_names_the_precision_in_every_format(models, capsys):
    """Was: no precision in the table or JSON of an ``--precision int8`` run."""
    argv = ["predict-many", models["mlp"], "-d", "t4", "--jobs", "1", "--roofline-only", "--precision", "int8"]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (  # t4's power figures are estimates (said since 12-04 evening)
        "1 model on t4 at precision int8: 1 ok, 0 failed; energy: idle power of t4 estimated, not measured: "
        "`hybridperf devices show t4`")
    assert main([*argv, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["precision"] == "int8"
    assert main(argv[:-2] + ["--format", "json"]) == 0  # no override: null, as predict's precision_override
    assert json.loads(capsys.readouterr().out)["precision"] is None


def test_predict_many_lower_bound_row_keeps_unverified():
    """Was: ``lower bound: 1 op uncosted: nonzero`` with the row's latency_note dropped."""
    from hybridperf.report.many import to_table

    row = {"model": "m.onnx", "status": "lower bound", "latency_s": 1e-4, "energy_j": 1e-4,
           "peak_memory_bytes": 1024, "flops": 32, "lower_bound": True,
           "lower_bound_reason": "lower bound: 1 op uncosted: nonzero", "latency_note": "unverified: why",
           "memory_estimate": False, "memory_lower_bound": True}
    assert to_table([row], CPU).splitlines()[2].endswith("lower bound: 1 op uncosted: nonzero (unverified)")
    assert to_table([{**row, "lower_bound": False, "lower_bound_reason": None}], CPU).splitlines()[2].endswith(
        " ok (unverified)")


def test_mig_says_by_how_much_where_latency_prints_as_the_budget(models):
    """Was: ``2.535 ms ... no`` against ``latency budget 2.535 ms``."""
    from hybridperf.estimate.mig import caveats, suggest
    from hybridperf.report.format import fmt_time
    from hybridperf.report.mig import to_table

    pred = hybridperf.predict(models["mlp"], "a100-sxm-80gb", residual=None, runtime="auto")
    budget = pred.latency_s * (1 - 1e-6)  # over by 1 ppm: the same text at 4 digits
    assert fmt_time(budget) == fmt_time(pred.latency_s)
    s = suggest(pred, max_latency_s=budget)
    out = to_table(s, "m", caveats(pred, s, False)).splitlines()
    (full,) = [line for line in out if line.startswith("7g.80gb")]  # the whole GPU: the prediction's own latency
    assert f" {fmt_time(pred.latency_s)}  no (+<1%)" in full
    assert out[-1].endswith(f"> {fmt_time(budget)} (+<1%); relax the budget or reduce the batch")
    s_ok = suggest(pred, max_latency_s=pred.latency_s * 2)  # met: no mark
    assert "(+" not in to_table(s_ok, "m", caveats(pred, s_ok, False))


def test_annotate_names_the_precision_and_warns_as_predict(models, capsys):
    """Was: no precision in the header and no ``t4 lists no fp8 peak`` warning (predict prints it)."""
    assert main(["predict", models["mlp"], "-d", "t4", "--precision", "fp8", "--top", "0"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("hybridperf: warning: ")]
    assert any("lists no fp8 peak" in w for w in warned)
    assert main(["annotate", models["mlp"], "-d", "t4", "--precision", "fp8"]) == 0
    cap = capsys.readouterr()
    assert cap.out.splitlines()[0].endswith(", precision fp8")
    assert any("lists no fp8 peak" in line for line in cap.err.splitlines() if line in warned)
    assert main(["annotate", models["mlp"], "-d", "t4"]) == 0
    assert "precision" not in capsys.readouterr().out.splitlines()[0]


def test_report_and_mig_print_predicts_warnings(models, tmp_path, capsys):
    """Was: the warnings only inside the page (report), or nowhere (mig)."""
    assert main(["predict", models["mlp"], "-d", "a100-sxm-80gb", "--precision", "fp8", "--top", "0"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("hybridperf: warning: ")]
    assert warned
    assert main(["report", models["mlp"], "-d", "a100-sxm-80gb", "--precision", "fp8",
                 "--html", str(tmp_path / "r.html")]) == 0
    assert [line for line in capsys.readouterr().err.splitlines() if line.startswith("hybridperf: warning: ")] == warned
    assert main(["mig", models["mlp"], "-d", "a100-sxm-80gb", "--precision", "fp8"]) == 0
    assert [line for line in capsys.readouterr().err.splitlines() if line.startswith("hybridperf: warning: ")] == warned
