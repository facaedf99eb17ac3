"""Element-wise ops that broadcast over many short spans (2026-12-07, plan (26)): counted by the cost pass, timed by
the probe (a CPU sheet's ``broadcast.span``), priced on CPU sheets that give the figure, unknown with a warning where
they do not, and taken off a training label where a sheet prices them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hybridperf.analysis.broadcast import (MANY_SPANS, SHORT_SPAN_ELEMENTS, broadcast_spans, counted_spans,  # noqa: E402
                                           short_spans)
from hybridperf.device.spec import load_spec, parse_spec  # noqa: E402
from hybridperf.errors import SpecError  # noqa: E402


def _binary_model(op: str, a_shape, b_shape, constant_b: bool = False) -> onnx.ModelProto:
    """One ``op`` of float32 inputs ``a`` and ``b`` (``b`` a constant where ``constant_b``), then a ``Relu``."""
    rng = np.random.default_rng(0)
    out = list(np.broadcast_shapes(tuple(a_shape), tuple(b_shape)))
    inputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, list(a_shape))]
    inits = []
    if constant_b:
        inits.append(numpy_helper.from_array(rng.standard_normal(b_shape).astype(np.float32), "b"))
    else:
        inputs.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, list(b_shape)))
    nodes = [helper.make_node(op, ["a", "b"], ["c"]), helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "bcast", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _biased_matmul(rows: int, k: int, n: int) -> onnx.ModelProto:
    """``MatMul`` of a (rows, k) input by a constant (k, n) weight, then ``Add`` of a constant (n,) bias: the bias
    onnxruntime adds inside the product."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal((n,)).astype(np.float32), "bias")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "bias"], ["y"])]
    graph = helper.make_graph(nodes, "gemm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, n])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


#: Mamba's discretisation at its size: 512 channels x 64 steps, a value repeated over each 16-element state
MAMBA_SPANS = 512 * 64


@pytest.fixture(scope="module")
def analyses():
    from hybridperf.analysis.analyze import analyze

    return {"mamba": analyze(_binary_model("Mul", (1, 512, 1, 16), (1, 512, 64, 1))),
            "row": analyze(_binary_model("Add", (8192, 16), (1, 16), constant_b=True)),
            "plain": analyze(_binary_model("Mul", (8192, 16), (8192, 16))),
            "scalar": analyze(_binary_model("Mul", (8192, 16), (1,), constant_b=True)),
            "few": analyze(_binary_model("Div", (1000, 1), (1000, 16))),
            "span63": analyze(_binary_model("Sub", (4096, 1), (4096, 63))),
            "span64": analyze(_binary_model("Sub", (4096, 1), (4096, 64))),
            "bias": analyze(_biased_matmul(8192, 64, 16))}


def test_a_span_is_the_innermost_run_of_axes_each_operand_varies_or_repeats_over_alike():
    assert broadcast_spans((1, 512, 1, 16), (1, 512, 64, 1)) == (512 * 64, 16)
    assert broadcast_spans((8, 1), (8, 16)) == (8, 16)  # a value repeated over each span
    assert broadcast_spans((8, 16), (1, 16)) == (8, 16)  # a row repeated: both vary along the span
    assert broadcast_spans((2, 12, 128, 128), (2, 1, 1, 128)) == (2 * 12 * 128, 128)  # an attention mask's rows
    assert broadcast_spans((2, 64, 7, 7), (1, 64, 1, 1)) == (2 * 64, 7 * 7)  # a per-channel scale
    assert broadcast_spans((4, 1, 3), (1, 1, 3)) == (4, 3)  # a length-1 output axis does not split the span
    assert broadcast_spans((8, 16), (8, 16)) is None  # no broadcast: one span
    assert broadcast_spans((8, 16), ()) is None and broadcast_spans((8, 16), (1,)) is None  # one value over all
    assert broadcast_spans((8, "n"), (1, 16)) is None and broadcast_spans(None, (1,)) is None
    assert broadcast_spans((8, 3), (8, 4)) is None  # not broadcastable


def test_the_cost_pass_counts_many_short_spans_only(analyses):
    assert analyses["mamba"].analysis.short_broadcasts == (1, MAMBA_SPANS)
    assert analyses["row"].analysis.short_broadcasts == (1, 8192)
    assert analyses["plain"].analysis.short_broadcasts == (0, 0)
    assert analyses["scalar"].analysis.short_broadcasts == (0, 0)
    assert 1000 < MANY_SPANS and analyses["few"].analysis.short_broadcasts == (0, 0)
    assert SHORT_SPAN_ELEMENTS == 64
    assert analyses["span63"].analysis.short_broadcasts == (1, 4096)
    assert analyses["span64"].analysis.short_broadcasts == (0, 0)
    # the bias of a product: onnxruntime adds it inside the MatMul's kernel
    assert analyses["bias"].analysis.short_broadcasts == (0, 0)


def test_records_that_do_not_run_or_are_not_binary_element_wise_ops_are_not_counted():
    from hybridperf.ir.tvm_compat import TensorInfo

    @dataclasses.dataclass
    class Rec:
        op: str
        inputs: tuple
        counts_toward_time: bool = True
        var: str = ""
        input_vars: tuple = ("x",)
        outputs: tuple = (TensorInfo((8192, 16), "float32"),)

    a, b = TensorInfo((8192, 1), "float32"), TensorInfo((8192, 16), "float32")
    recs = [Rec("relax.multiply", (a, b)), Rec("relax.multiply", (a, b), False), Rec("relax.maximum", (a, b)),
            Rec("relax.add", (a, TensorInfo(None, "float32"))),
            # integer index arithmetic (Longformer's scatter indices from shapes): onnxruntime folds it
            Rec("relax.add", (a, b), outputs=(TensorInfo((8192, 16), "int64"),))]
    assert short_spans(recs) == (1, 8192) and counted_spans(recs) == {0: 8192}


def _cpu_sheet(ns: float | None):
    return dataclasses.replace(load_spec("host-epyc-1c"), broadcast_s_per_span=None if ns is None else ns * 1e-9)


def test_a_cpu_sheet_with_the_figure_prices_spans_times_figure(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.text import to_dict

    an = analyses["mamba"]
    zero = predict_on(an, _cpu_sheet(0.0))
    priced = predict_on(an, _cpu_sheet(9.0))
    term = MAMBA_SPANS * 9.0e-9
    assert zero.short_broadcast_s == 0.0
    assert priced.short_broadcast_s == pytest.approx(term)
    assert priced.latency_s == pytest.approx(zero.latency_s + term)
    assert priced.energy_j == pytest.approx(zero.energy_j + priced.spec.idle_power_w * term)
    assert f"1 element-wise op broadcast over {MAMBA_SPANS:,} spans shorter than 64 elements" in \
        priced.short_broadcast_note
    assert not any("spans shorter" in w for w in priced.warnings)
    totals = to_dict(priced)["totals"]
    assert totals["short_broadcast_s"] == pytest.approx(term)
    assert totals["short_broadcast_note"] == priced.short_broadcast_note
    assert "short_broadcast_s" not in totals["unknown_fields"]


def test_the_table_the_page_and_the_annotation_say_where_the_term_is(analyses):
    from hybridperf.estimate.pricing import OUTSIDE_TERMS, predict_on
    from hybridperf.report.annotate import totals_line
    from hybridperf.report.html import _TERM_ADDS, render_html
    from hybridperf.report.text import to_table

    priced = predict_on(analyses["mamba"], _cpu_sheet(9.0))
    assert "broadcasts over short spans add" in render_html(priced)
    assert tuple(_TERM_ADDS) == tuple(OUTSIDE_TERMS)
    assert priced.short_broadcast_note in totals_line(priced)
    assert f"note      {priced.short_broadcast_note}" in to_table(priced)
    plain = predict_on(analyses["plain"], _cpu_sheet(9.0))
    assert "short spans" not in render_html(plain) and "short spans" not in totals_line(plain)


def test_a_cpu_sheet_without_the_figure_says_unknown_and_a_lower_bound(analyses):
    from hybridperf.estimate.budget import unpriced_terms_text
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.text import to_dict, to_table

    pred = predict_on(analyses["mamba"], _cpu_sheet(None))
    assert pred.short_broadcast_s is None
    warn = [w for w in pred.warnings if "spans shorter" in w]
    assert len(warn) == 1 and "hybridperf probe" in warn[0] and f"{MAMBA_SPANS:,} spans" in warn[0]
    totals = to_dict(pred)["totals"]
    assert totals["short_broadcast_s"] is None and "short_broadcast_s" in totals["unknown_fields"]
    assert "short_broadcast_s" in pred.unpriced_terms and "broadcasts over short spans" in unpriced_terms_text(pred)
    assert pred.latency_lower_bound and totals["latency_lower_bound"] is True and totals["lower_bound"] is False
    line = next(x for x in to_table(pred).splitlines() if x.startswith("latency"))
    assert line.startswith("latency   ≥ ") and "the time of broadcasts over short spans is not priced" in line


def test_none_counted_or_a_gpu_sheet_cost_nothing_and_warn_nothing(analyses):
    from hybridperf.estimate.pricing import predict_on

    clean = predict_on(analyses["plain"], _cpu_sheet(None))
    assert clean.short_broadcast_s == 0.0 and not any("spans shorter" in w for w in clean.warnings)
    gpu = predict_on(analyses["mamba"], load_spec("t4"))
    assert gpu.short_broadcast_s == 0.0 and not any("spans shorter" in w for w in gpu.warnings)


def test_another_runtime_is_not_priced_with_onnxruntimes_figure(analyses):
    from hybridperf.estimate.pricing import predict_on, with_short_broadcasts

    pred = predict_on(analyses["mamba"], _cpu_sheet(0.0))
    pred = dataclasses.replace(pred, spec=_cpu_sheet(9.0), short_broadcast_s=0.0)
    assert with_short_broadcasts(pred, "onnxruntime").short_broadcast_s == pytest.approx(MAMBA_SPANS * 9.0e-9)
    tvm = with_short_broadcasts(pred, "tvm")
    assert tvm.short_broadcast_s is None and tvm.latency_s == pred.latency_s
    assert any("spans shorter" in w for w in tvm.warnings)


def test_predict_many_rows_and_csv_carry_the_term():
    from hybridperf.commands._sweep import FIGURES
    from hybridperf.estimate.pricing import OUTSIDE_TERMS
    from hybridperf.report.many import CSV_COLUMNS

    assert CSV_COLUMNS[-2:] == ("short_broadcast_s", "latency_lower_bound_reason")
    assert list(OUTSIDE_TERMS)[-1] == "short_broadcast_s"
    assert FIGURES[-len(OUTSIDE_TERMS):] == tuple(OUTSIDE_TERMS)


def _sheet_with(section, name: str = "host-epyc-1c.yaml") -> dict:
    from hybridperf.data import packaged_dir

    raw = yaml.safe_load((packaged_dir("hw_specs") / name).read_text())
    raw["broadcast"] = section
    return raw


def test_the_sheet_section_parses_and_allows_a_measured_zero():
    spec = parse_spec(_sheet_with({"span": {"value": 9.0, "unit": "ns", "source": "measured", "measured": True}}),
                      "host-epyc-1c.yaml")
    assert spec.broadcast_s_per_span == pytest.approx(9.0e-9) and "broadcast.span" in spec.measured
    zero = parse_spec(_sheet_with({"span": {"value": 0, "unit": "ns", "source": "measured", "measured": True}}),
                      "host-epyc-1c.yaml")
    assert zero.broadcast_s_per_span == 0.0


@pytest.mark.parametrize("section, words", [
    ({"spans": {"value": 3, "unit": "ns", "source": "s"}}, "did you mean 'span'"),
    ({"span": {"value": -1, "unit": "ns", "source": "s"}}, "positive|negative|>= 0"),
    ({"span": {"value": 3, "unit": "GB/s", "source": "s"}}, "time"),
])
def test_a_bad_section_is_refused_naming_the_fix(section, words):
    with pytest.raises(SpecError, match=words):
        parse_spec(_sheet_with(section), "host-epyc-1c.yaml")


def test_a_gpu_sheet_refuses_the_section():
    with pytest.raises(SpecError, match="CPU sheets"):
        parse_spec(_sheet_with({"span": {"value": 3, "unit": "ns", "source": "s"}}, "t4.yaml"), "t4.yaml")


def test_devices_show_lists_the_figure_and_unknown_where_absent():
    from hybridperf.commands.devices import show_device
    from hybridperf.report.devices import show_table

    d = show_device("host-epyc-1c")
    assert d["broadcast"] == {"span": None}
    assert "broadcast.span" in show_table(d)


def test_the_probe_figure_is_the_difference_of_its_runs_per_span(monkeypatch):
    """Correctness of what the probe returns (not its speed), on made-up timings: (the Mul's run - the Neg's) /
    spans, or 0 under the resolution."""
    pytest.importorskip("onnxruntime")
    from hybridperf.measure import probe as p

    spans, span = p.BROADCAST_PROBE

    def fake(times):
        def best(kernels, min_rounds, budget_s, **_):
            assert set(kernels) == set(times)
            return dict(times), min_rounds
        return best

    monkeypatch.setattr(p, "_interleaved_best_seconds", fake({"copy": 40e-6, "broadcast": 40e-6 + spans * 9e-9}))
    b = p.broadcast_span(threads=2, runs=1)
    assert b.per_span_s == pytest.approx(9e-9) and b.threads == 2 and (b.spans, b.span) == (spans, span)
    monkeypatch.setattr(p, "_interleaved_best_seconds", fake({"copy": 40e-6, "broadcast": 41e-6}))
    assert p.broadcast_span(threads=1, runs=1).per_span_s == 0.0  # 1 us over a 40 us copy: under 5 %


def test_the_probe_writes_the_section_the_sheet_reads_and_its_table_row():
    from hybridperf.measure.probe import BroadcastFigure, broadcast_section
    from hybridperf.report.probe import to_table

    b = BroadcastFigure(per_span_s=8.9e-9, threads=1, broadcast_s=0.19e-3, copy_s=4.4e-5, spans=2**14, span=16)
    section = broadcast_section(b, "measured by hybridperf probe on 2026-12-07")
    assert section["span"]["value"] == 8.9 and section["span"]["measured"] is True
    assert "1 thread(s)" in section["span"]["source"] and "(16,384, 16)" in section["span"]["source"]
    spec = parse_spec(_sheet_with(json.loads(json.dumps(section))), "host-epyc-1c.yaml")
    assert spec.broadcast_s_per_span == pytest.approx(8.9e-9)

    class R:
        gemm = bandwidth = caches = ()
        dispatch = None
        errors: dict = {}
        kind = "cpu"
        quick = False
        time_utc = ""
        source = "measured"
        broadcast = b

        class host:
            usable_cpus = 1
            governor = ""

    class S:
        id, name = "x", "x"

    text = to_table(R(), S(), Path("x.yaml"))
    assert "broadcast per span" in text and "8.9 ns" in text


def test_the_training_tables_carry_the_term_and_the_label_loses_it(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.residual.features import feature_rows
    from hybridperf.residual.model import OUTSIDE_COLUMNS, outside_s

    assert "short_broadcast_s" in OUTSIDE_COLUMNS
    pred = predict_on(analyses["mamba"], _cpu_sheet(9.0))
    row, krows = feature_rows(pred, "mamba", measured_s=1e-3, group_times={"elementwise": 1e-3})
    assert row["short_broadcast_s"] == pytest.approx(pred.short_broadcast_s)
    assert sum(k["short_broadcast_s"] or 0.0 for k in krows) == pytest.approx(pred.short_broadcast_s)
    assert outside_s(row) == pytest.approx(pred.short_broadcast_s)
    plain, _ = feature_rows(predict_on(analyses["plain"], _cpu_sheet(9.0)), "p", measured_s=1e-3)
    assert plain["short_broadcast_s"] == "" and outside_s(plain) == 0.0


ROOT = Path(__file__).resolve().parents[1]


def test_the_zen4_sheets_give_the_medians_of_the_committed_probes():
    from benchmarks.broadcast_spans import RUN, sheet_figures

    figures = sheet_figures(ROOT / RUN)
    assert set(figures) == {1, 2}
    for threads, sheet in ((1, "host-epyc-zen4-1c"), (2, "host-epyc-zen4-2c")):
        assert load_spec(sheet).broadcast_s_per_span == pytest.approx(round(figures[threads], 3) * 1e-9)


def test_the_summary_recomputes_the_committed_exploration():
    from benchmarks.broadcast_spans import RUN, summary

    text = summary(ROOT / RUN)
    committed = (ROOT / "benchmarks" / "results" / "broadcast_spans.md").read_text()
    assert text.replace(str(ROOT / RUN), str(RUN)).strip() == committed.strip()


def test_the_blind_reports_and_the_sets_priced_again_are_what_the_committed_runs_give():
    """Plans (26) and (27)'s reports recomputed from their runs and the predictions stored before them; the sets
    priced again (not blind) from their runs and the predictions written after them."""
    from benchmarks import broadcast_spans as b, popular_set
    from benchmarks.tcn_conv1d import score

    reports = {"ssm_set.md": score(run=ROOT / b.SET_RUN, stored=b.STORED, title=b.SCORE_TITLE),
               "ssm_set2.md": score(run=ROOT / b.SET_RUN2, stored=b.STORED2, title=b.SCORE_TITLE2) + "\n"
               + b.retest_lines(ROOT / b.SET_RUN2),
               "ssm_set_probed.md": score(run=ROOT / b.SET_RUN, stored=b.REPRICED, title=b.REPRICED_TITLE,
                                          blind=False),
               "popular_set_probed.md": score(run=ROOT / popular_set.RUN, stored=popular_set.REPRICED_STORED,
                                              title=popular_set.REPRICED_TITLE, blind=False)}
    for name, text in reports.items():
        committed = (ROOT / "benchmarks" / "results" / name).read_text()
        assert committed.rstrip("\n") == text.rstrip("\n"), name
    assert "host-epyc-zen4-1c: with (26) MAPE 24.9 %, without (26) MAPE 35.8 %" in reports["ssm_set.md"]
    assert "host-epyc-zen4-2c: with (26) MAPE 36.2 %, without (26) MAPE 29.1 %" in reports["ssm_set.md"]
    assert ("host-epyc-zen4-1c: probed sheet, with the term MAPE 14.7 %, probed sheet, without MAPE 30.4 %, "
            "shipped sheet, with the term MAPE 11.1 %") in reports["ssm_set2.md"]
    assert ("host-epyc-zen4-2c: probed sheet, with the term MAPE 21.9 %, probed sheet, without MAPE 33.0 %, "
            "shipped sheet, with the term MAPE 10.3 %") in reports["ssm_set2.md"]
    assert ("host-epyc-zen4-1c-retest: probed sheet, with the term MAPE 17.0 %, probed sheet, without MAPE 32.3 %"
            in reports["ssm_set2.md"])
    assert ("host-epyc-zen4-2c-retest: probed sheet, with the term MAPE 21.0 %, probed sheet, without MAPE 32.1 %"
            in reports["ssm_set2.md"])
    assert "host-epyc-zen4-1c against host-epyc-zen4-1c-retest (6 networks, fastest timed runs): test-retest 4.1 %" \
        in reports["ssm_set2.md"]
    assert "this VM's probe of 2026-12-06 MAPE 4.0 %" in reports["popular_set_probed.md"]
    after = "\n".join(score(run=ROOT / run, stored={b.AFTER_NAME: "with (26)", before: "before (26)"},
                            title=(f"{run.name}'s networks priced again with plan (26) (not blind)",
                                   "`benchmarks/broadcast_spans.py` (`after`); plan (26)"), blind=False)
                      for run, _, before in b.AFTER_SETS)
    assert (ROOT / "benchmarks" / "results" / "mamba_after26.md").read_text().rstrip("\n") == after.rstrip("\n")


#: the short spans of each network of (26)'s set with the term: layers x 3 ops x channels x tokens
SSM_SPANS = {"falcon_mamba_h256_l4_b1_s64": 4 * 3 * 512 * 64, "jamba_h256_l4_b1_s48": 3 * 3 * 512 * 48,
             "mamba_h192_l3_b1_s96": 3 * 3 * 384 * 96, "zamba_h256_l4_b1_s48": 4 * 2 * 3 * 256 * 48}


def test_the_stored_predictions_differ_by_the_term_alone():
    """Without (26) is the same sheet with no broadcast figure: each network's two stored predictions differ by its
    counted spans times the sheet's figure (0 for the Mamba-2 family, which broadcasts over no short span)."""
    import csv

    from benchmarks import broadcast_spans as b

    run = ROOT / b.SET_RUN
    with_, without = ({(r["model"], r["device"]): float(r["predicted_s"]) for r in csv.DictReader((run / n).open())}
                      for n in b.STORED)
    assert set(with_) == set(without) and len(with_) == 7 * 2
    for (model, device), t in with_.items():
        spans = SSM_SPANS.get(model, 0)
        assert t - without[(model, device)] == pytest.approx(spans * load_spec(device).broadcast_s_per_span,
                                                             abs=1e-12)
