"""Gathers that copy many short blocks (2026-12-07, plan (24)): counted by the cost pass, timed by the probe (a CPU
sheet's ``gather.block``), priced on CPU sheets that give the figure, unknown with a warning where they do not, and
taken off a training label where a sheet prices them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hybridperf.analysis.gather import MANY_BLOCKS, SHORT_BLOCK_ELEMENTS, short_blocks, take_blocks  # noqa: E402
from hybridperf.device.spec import load_spec, parse_spec  # noqa: E402
from hybridperf.errors import SpecError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _gather_model(data_shape, axis, indices_shape, constant_data: bool = False) -> onnx.ModelProto:
    """One ``Gather`` of a float32 input (or a constant table where ``constant_data``: its rows picked by an int64
    input) along ``axis`` by constant int64 indices (``indices_shape``), then a ``Relu``."""
    rng = np.random.default_rng(0)
    out_shape = list(data_shape[:axis]) + list(indices_shape) + list(data_shape[axis + 1:])
    if constant_data:
        inits = [numpy_helper.from_array(rng.standard_normal(data_shape).astype(np.float32), "x")]
        inputs = [helper.make_tensor_value_info("i", TensorProto.INT64, list(indices_shape))]
    else:
        idx = rng.integers(0, data_shape[axis], size=indices_shape).astype(np.int64)
        inits = [numpy_helper.from_array(idx, "i")]
        inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(data_shape))]
    nodes = [helper.make_node("Gather", ["x", "i"], ["g"], axis=axis), helper.make_node("Relu", ["g"], ["y"])]
    graph = helper.make_graph(nodes, "gather", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                                                      out_shape)],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


#: ConvBERT's unfolding at a smaller size: 64 channels, 9 taps x 128 positions, one element a block
UNFOLD_BLOCKS = 1 * 64 * 9 * 128


@pytest.fixture(scope="module")
def analyses():
    from hybridperf.analysis.analyze import analyze

    return {"unfold": analyze(_gather_model((1, 64, 136, 1), 2, (9, 128))),
            "embedding": analyze(_gather_model((1000, 128), 0, (1, 128), constant_data=True)),
            "few": analyze(_gather_model((4, 1000), 1, (100,))),
            "block63": analyze(_gather_model((2, 300, 63), 1, (4096,))),
            "block64": analyze(_gather_model((2, 300, 64), 1, (4096,)))}


def test_take_blocks_is_positions_before_the_axis_times_indices_and_the_block_what_follows():
    assert take_blocks((2, 5, 3), (4,), 1) == (2 * 4, 3)
    assert take_blocks((2, 5, 3), (4, 6), -1) == (2 * 5 * 4 * 6, 1)
    assert take_blocks((7, 3), (), 0) == (1, 3)  # a scalar index: one block
    assert take_blocks((2, 5, 3), (4,), None) == (4, 1)  # the data flattened
    assert take_blocks((2, "n", 3), (4,), 1) is None and take_blocks(None, (4,), 0) is None
    assert take_blocks((2, 5), (4,), 2) is None


def test_the_cost_pass_counts_many_short_blocks_only(analyses):
    assert analyses["unfold"].analysis.short_gathers == (1, UNFOLD_BLOCKS)
    # an embedding lookup copies 128 rows of 128 elements: long blocks, few of them
    assert analyses["embedding"].analysis.short_gathers == (0, 0)
    # 4 x 100 blocks of one element: below MANY_BLOCKS
    assert 4 * 100 < MANY_BLOCKS and analyses["few"].analysis.short_gathers == (0, 0)
    # blocks of 63 elements are short, of 64 not
    assert SHORT_BLOCK_ELEMENTS == 64
    assert analyses["block63"].analysis.short_gathers == (1, 2 * 4096)
    assert analyses["block64"].analysis.short_gathers == (0, 0)


def test_records_that_do_not_run_are_not_counted():
    from hybridperf.ir.tvm_compat import TensorInfo

    @dataclasses.dataclass
    class Rec:
        op: str
        inputs: tuple
        counts_toward_time: bool = True
        attrs: dict = dataclasses.field(default_factory=lambda: {"axis": 1})

    data, idx = TensorInfo((8, 4096), "float32"), TensorInfo((1024,), "int64")
    recs = [Rec("relax.take", (data, idx)), Rec("relax.take", (data, idx), False),
            Rec("relax.gather_elements", (data, idx)), Rec("relax.take", (data, TensorInfo(None, "int64")))]
    assert short_blocks(recs) == (1, 8 * 1024)


def _cpu_sheet(ns: float | None):
    return dataclasses.replace(load_spec("host-epyc-1c"), gather_s_per_block=None if ns is None else ns * 1e-9)


def test_a_cpu_sheet_with_the_figure_prices_blocks_times_figure(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.text import to_dict

    an = analyses["unfold"]
    zero = predict_on(an, _cpu_sheet(0.0))
    priced = predict_on(an, _cpu_sheet(7.4))
    term = UNFOLD_BLOCKS * 7.4e-9
    assert zero.short_gather_s == 0.0
    assert priced.short_gather_s == pytest.approx(term)
    assert priced.latency_s == pytest.approx(zero.latency_s + term)
    assert priced.energy_j == pytest.approx(zero.energy_j + priced.spec.idle_power_w * term)
    assert f"1 gather copy {UNFOLD_BLOCKS:,} blocks shorter than 64 elements" in priced.short_gather_note
    assert not any("blocks shorter" in w for w in priced.warnings)
    totals = to_dict(priced)["totals"]
    assert totals["short_gather_s"] == pytest.approx(term)
    assert totals["short_gather_note"] == priced.short_gather_note
    assert "short_gather_s" not in totals["unknown_fields"]


def test_the_table_the_page_and_the_annotation_say_where_the_term_is(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.annotate import totals_line
    from hybridperf.report.html import render_html
    from hybridperf.report.text import to_table

    priced = predict_on(analyses["unfold"], _cpu_sheet(7.4))
    assert "gathers of short blocks add" in render_html(priced)
    from hybridperf.estimate.pricing import OUTSIDE_TERMS
    from hybridperf.report.html import _TERM_ADDS

    assert tuple(_TERM_ADDS) == tuple(OUTSIDE_TERMS)  # the page names every term, in the prediction's order
    assert priced.short_gather_note in totals_line(priced)
    assert f"note      {priced.short_gather_note}" in to_table(priced)
    plain = predict_on(analyses["embedding"], _cpu_sheet(7.4))
    assert "short blocks" not in render_html(plain) and "short blocks" not in totals_line(plain)


def test_a_cpu_sheet_without_the_figure_says_unknown_and_a_lower_bound(analyses):
    from hybridperf.estimate.budget import unpriced_terms_text
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.text import to_dict

    pred = predict_on(analyses["unfold"], _cpu_sheet(None))
    assert pred.short_gather_s is None
    warn = [w for w in pred.warnings if "blocks shorter" in w]
    assert len(warn) == 1 and "hybridperf probe" in warn[0] and f"{UNFOLD_BLOCKS:,} blocks" in warn[0]
    totals = to_dict(pred)["totals"]
    assert totals["short_gather_s"] is None and "short_gather_s" in totals["unknown_fields"]
    assert "short_gather_s" in pred.unpriced_terms and "gathers of short blocks" in unpriced_terms_text(pred)
    # predict says what check judges: the latency and energy are lower bounds, with the reason beside them
    from hybridperf.report.text import to_table

    assert pred.latency_lower_bound and totals["latency_lower_bound"] is True and totals["lower_bound"] is False
    assert totals["latency_lower_bound_reason"] == f"lower bound: {pred.unpriced_terms_reason}"
    line = next(x for x in to_table(pred).splitlines() if x.startswith("latency"))
    assert line.startswith("latency   ≥ ") and "the time of gathers of short blocks is not priced" in line
    priced = to_dict(predict_on(analyses["unfold"], _cpu_sheet(7.4)))["totals"]
    assert priced["latency_lower_bound"] is False and priced["latency_lower_bound_reason"] is None


def test_none_counted_or_a_gpu_sheet_cost_nothing_and_warn_nothing(analyses):
    from hybridperf.estimate.pricing import predict_on

    clean = predict_on(analyses["embedding"], _cpu_sheet(None))
    assert clean.short_gather_s == 0.0 and not any("blocks shorter" in w for w in clean.warnings)
    gpu = predict_on(analyses["unfold"], load_spec("t4"))
    assert gpu.short_gather_s == 0.0 and not any("blocks shorter" in w for w in gpu.warnings)


def test_another_runtime_is_not_priced_with_onnxruntimes_figure(analyses):
    from hybridperf.estimate.pricing import predict_on, with_short_gathers

    pred = predict_on(analyses["unfold"], _cpu_sheet(0.0))
    pred = dataclasses.replace(pred, spec=_cpu_sheet(7.4), short_gather_s=0.0)
    assert with_short_gathers(pred, "onnxruntime").short_gather_s == pytest.approx(UNFOLD_BLOCKS * 7.4e-9)
    tvm = with_short_gathers(pred, "tvm")
    assert tvm.short_gather_s is None and tvm.latency_s == pred.latency_s
    assert any("blocks shorter" in w for w in tvm.warnings)


def test_predict_many_rows_and_csv_carry_the_term():
    from hybridperf.commands._sweep import FIGURES
    from hybridperf.estimate.pricing import OUTSIDE_TERMS
    from hybridperf.report.many import CSV_COLUMNS

    assert "short_gather_s" in CSV_COLUMNS and CSV_COLUMNS[-1] == "latency_lower_bound_reason"
    assert "short_gather_s" in OUTSIDE_TERMS  # since plan (26) of 2026-12-07 not the last
    assert FIGURES[-len(OUTSIDE_TERMS):] == tuple(OUTSIDE_TERMS)


def _sheet_with(section, name: str = "host-epyc-1c.yaml") -> dict:
    from hybridperf.data import packaged_dir

    raw = yaml.safe_load((packaged_dir("hw_specs") / name).read_text())
    raw["gather"] = section
    return raw


def test_the_sheet_section_parses_and_allows_a_measured_zero():
    spec = parse_spec(_sheet_with({"block": {"value": 7.4, "unit": "ns", "source": "measured", "measured": True}}),
                      "host-epyc-1c.yaml")
    assert spec.gather_s_per_block == pytest.approx(7.4e-9) and "gather.block" in spec.measured
    zero = parse_spec(_sheet_with({"block": {"value": 0, "unit": "ns", "source": "measured", "measured": True}}),
                      "host-epyc-1c.yaml")
    assert zero.gather_s_per_block == 0.0


@pytest.mark.parametrize("section, words", [
    ({"blocks": {"value": 3, "unit": "ns", "source": "s"}}, "did you mean 'block'"),
    ({"block": {"value": -1, "unit": "ns", "source": "s"}}, "positive|negative|>= 0"),
    ({"block": {"value": 3, "unit": "GB/s", "source": "s"}}, "time"),
])
def test_a_bad_section_is_refused_naming_the_fix(section, words):
    with pytest.raises(SpecError, match=words):
        parse_spec(_sheet_with(section), "host-epyc-1c.yaml")


def test_a_gpu_sheet_refuses_the_section():
    with pytest.raises(SpecError, match="CPU sheets"):
        parse_spec(_sheet_with({"block": {"value": 3, "unit": "ns", "source": "s"}}, "t4.yaml"), "t4.yaml")


def test_devices_show_lists_the_figure_and_unknown_where_absent():
    from hybridperf.commands.devices import show_device
    from hybridperf.report.devices import show_table

    d = show_device("host-epyc-1c")
    assert d["gather"] == {"block": None}
    assert "gather.block" in show_table(d)
    zen4 = show_device("host-epyc-zen4-1c")
    assert zen4["gather"]["block"]["measured"] is True


def test_the_probe_figure_is_the_difference_of_its_runs_per_block(monkeypatch):
    """Correctness of what the probe returns (not its speed), on made-up timings: (the Gather's run - the Neg's) /
    blocks, or 0 under the resolution."""
    pytest.importorskip("onnxruntime")
    from hybridperf.measure import probe as p

    _, n = p.GATHER_PROBE

    def fake(times):
        def best(kernels, min_rounds, budget_s, **_):
            assert set(kernels) == set(times)
            return dict(times), min_rounds
        return best

    monkeypatch.setattr(p, "_interleaved_best_seconds", fake({"copy": 40e-6, "gather": 40e-6 + n * 7.4e-9}))
    g = p.gather_block(threads=2, runs=1)
    assert g.per_block_s == pytest.approx(7.4e-9) and g.threads == 2 and g.blocks == n and g.copy_s == 40e-6
    monkeypatch.setattr(p, "_interleaved_best_seconds", fake({"copy": 40e-6, "gather": 41e-6}))
    assert p.gather_block(threads=1, runs=1).per_block_s == 0.0  # 1 us over a 40 us copy: under 5 %


def test_the_probe_writes_the_section_the_sheet_reads_and_its_table_row():
    from hybridperf.measure.probe import GatherFigure, gather_section
    from hybridperf.report.probe import to_table

    g = GatherFigure(per_block_s=7.366e-9, threads=1, gather_s=1.975e-3, copy_s=4.4e-5, blocks=2**18)
    section = gather_section(g, "measured by hybridperf probe on 2026-12-07")
    assert section["block"]["value"] == 7.366 and section["block"]["measured"] is True
    assert "1 thread(s)" in section["block"]["source"] and "262,144 indices" in section["block"]["source"]
    spec = parse_spec(_sheet_with(json.loads(json.dumps(section))), "host-epyc-1c.yaml")
    assert spec.gather_s_per_block == pytest.approx(7.366e-9)

    class R:
        gemm = bandwidth = caches = ()
        dispatch = None
        errors: dict = {}
        kind = "cpu"
        quick = False
        time_utc = ""
        source = "measured"
        gather = g

        class host:
            usable_cpus = 1
            governor = ""

    class S:
        id, name = "x", "x"

    text = to_table(R(), S(), Path("x.yaml"))
    assert "gather per block" in text and "7.37 ns" in text


def test_the_training_tables_carry_the_term_and_the_label_loses_it(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.residual.features import feature_rows
    from hybridperf.residual.model import OUTSIDE_COLUMNS, outside_s

    assert "short_gather_s" in OUTSIDE_COLUMNS
    pred = predict_on(analyses["unfold"], _cpu_sheet(7.4))
    row, krows = feature_rows(pred, "unfold", measured_s=1e-3, group_times={"elementwise": 1e-3})
    assert row["short_gather_s"] == pytest.approx(pred.short_gather_s)
    assert sum(k["short_gather_s"] or 0.0 for k in krows) == pytest.approx(pred.short_gather_s)
    assert outside_s(row) == pytest.approx(pred.short_gather_s)
    plain, _ = feature_rows(predict_on(analyses["embedding"], _cpu_sheet(7.4)), "e", measured_s=1e-3)
    assert plain["short_gather_s"] == "" and outside_s(plain) == 0.0


def test_the_zen4_sheets_give_the_medians_of_the_committed_probes():
    from benchmarks.gather_blocks import RUN, sheet_figures

    figures = sheet_figures(ROOT / RUN)
    for threads, sheet in ((1, "host-epyc-zen4-1c"), (2, "host-epyc-zen4-2c")):
        assert load_spec(sheet).gather_s_per_block == pytest.approx(round(figures[threads], 3) * 1e-9)


def test_the_summary_recomputes_the_committed_exploration():
    from benchmarks.gather_blocks import RUN, summary

    text = summary(ROOT / RUN)
    committed = (ROOT / "benchmarks" / "results" / "gather_blocks.md").read_text()
    assert text.replace(str(ROOT / RUN), str(RUN)).strip() == committed.strip()


def test_the_blind_report_and_the_set_priced_again_are_what_the_committed_runs_give():
    """Plan (24)'s report recomputed from its runs and the predictions stored before them; plan (23)'s set priced
    again with (24) (not blind) from its runs and the predictions written after them."""
    from benchmarks import gather_blocks
    from benchmarks.depthwise_set import RUN as DEPTHWISE_RUN
    from benchmarks.tcn_conv1d import score

    reports = {"gather_set.md": score(run=ROOT / gather_blocks.RUN, stored=gather_blocks.STORED,
                                      title=gather_blocks.SCORE_TITLE),
               "depthwise_set_after24.md": score(run=ROOT / DEPTHWISE_RUN, stored=gather_blocks.AFTER_STORED,
                                                 title=gather_blocks.AFTER_TITLE, blind=False)}
    for name, text in reports.items():
        committed = (ROOT / "benchmarks" / "results" / name).read_text()
        assert committed.rstrip("\n") == text.rstrip("\n"), name
    assert "host-epyc-zen4-1c: with (24) MAPE 6.6 %, without (24) MAPE 36.6 %" in reports["gather_set.md"]
    assert "host-epyc-zen4-2c: with (24) MAPE 8.3 %, without (24) MAPE 34.6 %" in reports["gather_set.md"]
    assert "host-epyc-zen4-1c-retest: with (24) MAPE 4.5 %, without (24) MAPE 34.3 %" in reports["gather_set.md"]
    assert "host-epyc-zen4-2c-retest: with (24) MAPE 6.4 %, without (24) MAPE 32.0 %" in reports["gather_set.md"]
    assert "Predictions made after the runs (not blind)" in reports["depthwise_set_after24.md"]
    assert "host-epyc-zen4-1c: with (24) MAPE 12.9 %, before (24) MAPE 16.8 %" in reports["depthwise_set_after24.md"]


def test_the_stored_predictions_differ_by_the_term_alone():
    """Without (24) is the same sheet with no gather figure: each network's two stored predictions differ by its
    counted blocks times the sheet's figure."""
    import csv

    from benchmarks import gather_blocks

    run = ROOT / gather_blocks.RUN
    with_, without = ({(r["model"], r["device"]): float(r["predicted_s"]) for r in csv.DictReader((run / n).open())}
                      for n in gather_blocks.STORED)
    assert set(with_) == set(without) and len(with_) == 4 * 2
    blocks = {"convbert_base_b1_s128": 10_616_832, "convbert_mediumsmall_b1_s256": 10_616_832,
              "led_encoder_h256_l4_b1_s1024": 7_077_888, "longformer_h256_l4_b1_s512": 3_538_944}
    for (model, device), t in with_.items():
        assert t - without[(model, device)] == pytest.approx(blocks[model] * load_spec(device).gather_s_per_block)



def test_predict_many_says_the_latency_is_a_lower_bound_where_the_term_is_not_priced(analyses, tmp_path):
    """As predict and check: a row whose latency leaves out the unpriced term is a lower bound (status, the table's
    ≥, the reason in its own column); FLOPs are not."""
    from hybridperf.report.many import to_csv, to_table

    path = tmp_path / "unfold.onnx"
    onnx.save(_gather_model((1, 64, 136, 1), 2, (9, 128)), str(path))
    from hybridperf.commands._sweep import predict_row

    row = predict_row(str(path), "host-epyc-1c", None, None, True, runtime="onnxruntime")
    assert row["status"] == "lower bound" and row["lower_bound"] is False and row["short_gather_s"] is None
    assert row["latency_lower_bound_reason"].startswith("lower bound: the time of gathers of short blocks")
    text = to_table([row], "host-epyc-1c")
    assert "≥ " in text.splitlines()[2] and "1 lower bound" in text
    assert to_csv([row], "host-epyc-1c").splitlines()[1].endswith("measures it)")
    zen4 = predict_row(str(path), "host-epyc-zen4-1c", None, None, True, runtime="onnxruntime")
    assert zen4["status"] == "ok" and zen4["latency_lower_bound_reason"] is None and zen4["short_gather_s"] > 0
