"""Audit 2026-12-03: a model whose ops cannot all be priced shows its FLOPs and roofline time as lower bounds
(``≥ X``), or ``unknown`` when nothing was priced ("≥ 0" says nothing), never a plain 0 -- in predict's table
and JSON, annotate's header, the HTML report, predict-many's table -- and ``mig`` does not suggest a profile on
such figures unless ``--allow-unsupported`` accepts them (exit 2 naming the ops, as ``check`` does).

Two models: NonMaxSuppression alone (nothing priced) and Relu -> NonZero (the Relu priced: 4*8 = 32 FLOP).
"""

import json
import shutil

import pytest
from onnx import TensorProto, helper
from test_energy import toy
from test_no_silent_zeros import _save

from hybridperf.api import analyze, predict_on
from hybridperf.cli import ExitCode, main
from hybridperf.report.format import fmt_bound, fmt_time
from hybridperf.report.html import render_html
from hybridperf.report.text import to_dict, to_table

NMS_OP = "relax.vision.all_class_non_max_suppression"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("unpriced")
    f32 = TensorProto.FLOAT
    return {
        "nms": _save(
            [helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"])],
            [helper.make_tensor_value_info("boxes", f32, [1, 100, 4]),
             helper.make_tensor_value_info("scores", f32, [1, 1, 100])],
            [helper.make_tensor_value_info("sel", TensorProto.INT64, None)],
            d / "nms.onnx",
        ),
        "nonzero": _save(
            [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("NonZero", ["r"], ["y"])],
            [helper.make_tensor_value_info("x", f32, [4, 8])],
            [helper.make_tensor_value_info("y", TensorProto.INT64, None)],
            d / "nonzero.onnx",
        ),
    }


@pytest.fixture(scope="module")
def preds(models):
    return {k: predict_on(analyze(p), toy(), residual=None) for k, p in models.items()}


def test_fmt_bound():
    assert fmt_bound(2.5e-3, fmt_time, False) == "2.500 ms"
    assert fmt_bound(2.5e-3, fmt_time, True) == "≥ 2.500 ms"
    assert fmt_bound(0.0, fmt_time, True) == "unknown"  # a lower bound of 0: nothing was priced
    assert fmt_bound(0.0, fmt_time, False) == "0.0 us"  # an exact 0 stays 0


def test_predict_table_nothing_priced_is_unknown(preds):
    pred = preds["nms"]
    assert pred.uncosted_ops == [NMS_OP] and pred.roofline_latency_s == 0.0 and pred.flops == 0
    lines = to_table(pred, top=0).splitlines()
    assert lines[2] == ("latency   unknown   (lower bound: 1 op uncosted: vision.all_class_non_max_suppression)   "
                        f"[{pred.calibration}; roofline unknown]")
    assert lines[3] == "energy    unknown"
    assert lines[5] == "compute   unknown (FLOP = 2 x MAC), 0 kernels from 1 op"  # "1 ops" until 2026-12-04


def test_predict_table_partly_priced_is_a_lower_bound(preds):
    lines = to_table(preds["nonzero"], top=0).splitlines()
    # Relu on 4x8 float32: 32 FLOP; 128 B read + 128 B written at 1000 GB/s, + 5 us launch = 5.000256 us
    assert lines[2].startswith("latency   ≥ 5.0 us   (lower bound: 1 op uncosted: nonzero)   [")
    assert lines[2].endswith("; roofline ≥ 5.0 us]")
    assert lines[5] == "compute   ≥ 32 FLOP (FLOP = 2 x MAC), 1 kernel from 2 ops"  # "1 kernels" until 2026-12-04


def test_json_names_the_unknown_totals(preds):
    nms, nonzero = to_dict(preds["nms"])["totals"], to_dict(preds["nonzero"])["totals"]
    # lower_bound says they are lower bounds, unknown_fields which say nothing: those are null (until 2026-12-04 they
    # kept their type, 0 and 0.0, an unknown written as 0)
    assert nms["lower_bound"] is True and nms["flops"] is None and nms["roofline_latency_s"] is None
    assert nms["latency_s"] is None and nms["energy_j"] is None
    assert nms["unknown_fields"] == ["latency_s", "roofline_latency_s", "energy_j", "flops"]
    assert nonzero["lower_bound"] is True and nonzero["flops"] == 32 and nonzero["unknown_fields"] == []


def test_json_of_a_complete_model_has_no_unknown_totals(models, tmp_path):
    relu = _save([helper.make_node("Relu", ["x"], ["y"])], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], tmp_path / "relu.onnx")
    totals = to_dict(predict_on(analyze(relu), toy(), residual=None))["totals"]
    assert totals["lower_bound"] is False and totals["unknown_fields"] == []


def test_nothing_priced_applies_no_runtime_model(models, capsys):
    # the GPU model's runtime line read "torch: 0 kernels (0 learned, 0 roofline) + 1 uncosted op, host unknown,
    # device unknown" while its constant made the latency "≥ 10.0 us"; nothing priced, the model is not applied
    assert main(["predict", models["nms"], "-d", "t4", "--top", "0"]) == ExitCode.OK
    out = capsys.readouterr().out.splitlines()
    assert not [x for x in out if x.startswith("runtime   ")]
    (line,) = [x for x in out if x.startswith("latency   ")]
    assert line.startswith("latency   unknown   (lower bound: 1 op uncosted") and "no op priced" in line


def test_annotate_header(models, capsys):
    assert main(["annotate", models["nms"], "-d", "t4"]) == ExitCode.OK
    head = capsys.readouterr().out.splitlines()[0]
    assert head.startswith("# hybridperf: t4: latency unknown (lower bound: 1 op uncosted: "
                           "vision.all_class_non_max_suppression) [roofline: ")
    assert head.endswith(", FLOP unknown")
    assert main(["annotate", models["nonzero"], "-d", "t4"]) == ExitCode.OK
    head = capsys.readouterr().out.splitlines()[0]
    assert head.startswith("# hybridperf: t4: latency ≥ ") and "(lower bound: 1 op uncosted: nonzero) [" in head
    assert head.endswith(", TVM plan peak memory ≥ 256 B, ≥ 32 FLOP")  # NonZero's output size is data-dependent


def test_html_cards(preds):
    page = render_html(preds["nms"])
    assert '<div class="k">latency</div><div class="v">unknown</div><div class="d">roofline unknown; lower bound' in page
    assert '<div class="k">compute</div><div class="v">unknown</div>' in page
    page = render_html(preds["nonzero"])
    assert '<div class="d">roofline ≥ 5.0 us; lower bound: 1 op uncosted: nonzero</div>' in page
    assert '<div class="k">compute</div><div class="v">≥ 32 FLOP</div>' in page
    assert '<div class="k">DRAM traffic</div><div class="v">≥ 256 B</div>' in page


def test_predict_many_table(models, tmp_path, capsys):
    for p in models.values():
        shutil.copy(p, tmp_path)
    assert main(["predict-many", str(tmp_path), "-d", "t4", "--jobs", "1"]) == ExitCode.OK
    rows = {line.split()[0].rsplit("/", 1)[-1]: line for line in capsys.readouterr().out.splitlines()[2:4]}
    assert "    unknown  lower bound: 1 op uncosted: vision.all_class_non_max_suppression" in rows["nms.onnx"]
    assert "  ≥ 32 FLOP  lower bound: 1 op uncosted: nonzero" in rows["nonzero.onnx"]


# --------------------------------------------------------------------------- mig


def _mig(capsys, model, *argv):
    code = main(["mig", model, "-d", "a100-sxm-80gb", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_mig_refuses_to_suggest_on_nothing_priced(models, capsys):
    code, out, err = _mig(capsys, models["nms"])
    assert code == ExitCode.INPUT_ERROR
    # no "<- suggested"; since 2026-12-05b the fit is on a lower bound: NMS's selected boxes are allocated at run time
    assert out[4].split() == ["1g.10gb", "14/108", "0.125", "9.31", "GiB", "yes", "(lower", "bound)", "unknown", "-"]
    assert out[-2] == "latency unknown (nothing priced): 1 op uncosted: vision.all_class_non_max_suppression"
    why = (f"latency unknown (no op priced), memory only a lower bound (1 op type has no cost ({NMS_OP})); add cost "
           "rules, or pass --allow-unsupported to size on the lower bound")
    assert out[-1] == f"no suggestion: {why}"
    assert err == f"hybridperf: error: cannot size a MIG profile for {models['nms']} on a100-sxm-80gb: {why}\n"


def test_mig_allow_unsupported_sizes_on_memory_but_never_judges_an_unknown_latency(models, capsys):
    code, out, err = _mig(capsys, models["nms"], "--allow-unsupported")
    assert code == ExitCode.OK and err == ""
    assert out[4].endswith("<- suggested")
    # since 2026-12-05b the peak is a lower bound (NMS's selected boxes are allocated at run time), and says so
    assert out[-1] == "suggested: 1g.10gb (smallest profile that fits on its memory lower bound; latency unknown, not judged)"
    code, out, err = _mig(capsys, models["nms"], "--allow-unsupported", "--max-latency", "1ms")
    assert code == ExitCode.INPUT_ERROR
    assert out[4].split()[-2:] == ["unknown", "unknown"]  # latency, meets budget
    assert err.endswith(f"latency unknown on every profile (no op priced: 1 op type has no cost ({NMS_OP})); "
                        "no latency budget can be checked against it\n")


def test_mig_json_marks_unknown_latency(models, capsys):
    code = main(["mig", models["nms"], "-d", "a100-sxm-80gb", "--max-latency", "1ms", "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert code == ExitCode.INPUT_ERROR and d["suggested"] is None and d["lower_bound"] is True
    assert d["unknown_fields"] == ["latency_s"] and d["undecided"].startswith("latency unknown on every profile")
    assert {p["meets_latency"] for p in d["profiles"]} == {None}


def test_mig_lower_bound(models, capsys):
    code, out, err = _mig(capsys, models["nonzero"])
    assert code == ExitCode.INPUT_ERROR and out[0].endswith("needs ≥ 509.13 MiB = torch peak ≥ 9.13 MiB + headroom 500.00 MiB")
    assert out[4].split()[5:9] == ["yes", "(lower", "bound)", "≥"]
    assert err.endswith("latency only a lower bound, memory only a lower bound (1 op type has no cost (relax.nonzero)); "
                        "add cost rules, or pass --allow-unsupported to size on the lower bound\n")
    code, out, _ = _mig(capsys, models["nonzero"], "--allow-unsupported", "--max-latency", "1s")
    assert code == ExitCode.OK and out[4].endswith("yes (lower bound)  <- suggested")
    assert out[-1] == ("suggested: 1g.10gb (smallest profile that fits on its memory lower bound and whose latency "
                       "lower bound meets the budget)")
    # a lower bound already over the budget is a definite "no", with or without --allow-unsupported
    code, out, _ = _mig(capsys, models["nonzero"], "--max-latency", "1us")
    assert code == ExitCode.BUDGET_EXCEEDED
    assert out[-1].startswith("no profile meets the latency budget: even 7g.80gb (98 of 108 SMs; the GPU without MIG may do "
                                 "better) is predicted at ≥ ")


def test_predict_many_json_rows_name_their_unknown_figures(models, tmp_path, capsys):
    """predict-many's JSON rows carry flops null for a model with nothing priced (0 until 2026-12-04): ``unknown_fields``
    names it (as the predict report's ``totals.unknown_fields``); a partly priced model has none."""
    d = tmp_path / "m"
    d.mkdir()
    for p in models.values():
        shutil.copy(p, d)
    out = tmp_path / "rows.jsonl"
    assert main(["predict-many", str(d), "-d", "t4", "--jobs", "1", "--output", str(out)]) == ExitCode.OK
    capsys.readouterr()
    rows = {r["model"].rsplit("/", 1)[-1]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["nms.onnx"]["flops"] is None and "flops" in rows["nms.onnx"]["unknown_fields"]
    assert rows["nonzero.onnx"]["unknown_fields"] == [] and rows["nonzero.onnx"]["flops"] == 32
    assert all(isinstance(r["memory_lower_bound"], bool) for r in rows.values())
