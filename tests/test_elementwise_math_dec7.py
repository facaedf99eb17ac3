"""Element-wise math onnxruntime evaluates one element at a time (2026-12-07, plan (22)): ``sin``, ``cos``, ``tan`` and
``log`` counted by the cost pass, timed by the probe (a CPU sheet's ``elementwise_math``), priced on CPU sheets that
give the figures, unknown with a warning where they do not, and taken off a training label where a sheet prices them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hybridperf.analysis.elementwise_math import ELEMENTWISE_MATH_KEYS  # noqa: E402
from hybridperf.device.spec import load_spec, parse_spec  # noqa: E402
from hybridperf.errors import SpecError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (4, 1000)
N = 4 * 1000


def _model(ops, constant_op: str | None = None, dtype=TensorProto.FLOAT) -> onnx.ModelProto:
    """A chain of unary nodes ``ops`` over a float32 input of :data:`SHAPE`, then an Add of ``constant_op`` applied to
    a constant of the same shape where given (folded: not run)."""
    nodes, last, inits = [], "x", []
    for i, op in enumerate(ops):
        nodes.append(helper.make_node(op, [last], [f"t{i}"]))
        last = f"t{i}"
    if constant_op is not None:
        inits.append(numpy_helper.from_array(np.full(SHAPE, 0.5, np.float32), "c"))
        nodes += [helper.make_node(constant_op, ["c"], ["ct"]), helper.make_node("Add", [last, "ct"], ["y"])]
    else:
        nodes.append(helper.make_node("Identity", [last], ["y"]))
    graph = helper.make_graph(nodes, "math", [helper.make_tensor_value_info("x", dtype, list(SHAPE))],
                              [helper.make_tensor_value_info("y", dtype, list(SHAPE))], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def analyses():
    from hybridperf.analysis.analyze import analyze

    return {"snake": analyze(_model(["Sin", "Cos", "Sin", "Log"])),
            "tan": analyze(_model(["Tan"])),
            "vector": analyze(_model(["Exp", "Tanh", "Sigmoid", "Erf", "Sqrt"])),
            "folded": analyze(_model(["Relu"], constant_op="Sin")),
            "softplus": analyze(_model(["Softplus"]))}


def test_the_cost_pass_counts_float32_outputs_per_function_over_the_ops_that_run(analyses):
    assert analyses["snake"].analysis.math_elements == {"sin": 2 * N, "cos": N, "log": N}
    assert list(analyses["snake"].analysis.math_elements) == ["sin", "cos", "log"]  # the sheet's order
    assert analyses["tan"].analysis.math_elements == {"tan": N}
    # the vectorised functions are the learned model's: not counted
    assert analyses["vector"].analysis.math_elements == {}
    # a sin of a constant is folded (run by no runtime that folds constants): not counted
    assert analyses["folded"].analysis.math_elements == {}
    # TVM's importer lowers Softplus into maximum, exp and log; onnxruntime runs it as a Softplus kernel of its own:
    # counted once, under its own key, and its log not (plan (28); until then its log was counted)
    assert analyses["softplus"].analysis.math_elements == {"softplus": N}


def test_only_float32_outputs_count():
    from hybridperf.analysis.elementwise_math import math_elements
    from hybridperf.ir.tvm_compat import TensorInfo

    @dataclasses.dataclass
    class Rec:
        op: str
        outputs: tuple
        counts_toward_time: bool = True

    recs = [Rec("relax.sin", (TensorInfo((8, 8), "float32"),)), Rec("relax.sin", (TensorInfo((8, 8), "float16"),)),
            Rec("relax.log", (TensorInfo(None, "float32"),)), Rec("relax.cos", (TensorInfo((3,), "float32"),), False),
            Rec("relax.exp", (TensorInfo((5,), "float32"),))]
    assert math_elements(recs) == {"sin": 8 * 8}


def _cpu_sheet(ns: dict | None = None):
    figures = {} if ns is None else {k: v * 1e-9 for k, v in ns.items()}
    return dataclasses.replace(load_spec("host-epyc-1c"), elementwise_math_s_per_element=figures)


FIGURES_NS = {"sin": 1.75, "cos": 1.76, "tan": 13.2, "log": 1.57}


def test_a_cpu_sheet_with_the_figures_prices_elements_times_figure(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.text import to_dict

    an = analyses["snake"]
    zero = predict_on(an, _cpu_sheet(dict.fromkeys(ELEMENTWISE_MATH_KEYS, 0.0)))
    priced = predict_on(an, _cpu_sheet(FIGURES_NS))
    term = (2 * N * 1.75 + N * 1.76 + N * 1.57) * 1e-9
    assert zero.elementwise_math_s == 0.0 and zero.latency_s == pytest.approx(zero.roofline_latency_s)
    assert priced.elementwise_math_s == pytest.approx(term)
    assert priced.latency_s == pytest.approx(priced.roofline_latency_s + term)
    assert priced.energy_j == pytest.approx(zero.energy_j + priced.spec.idle_power_w * term)
    assert f"sin {2 * N:,} / cos {N:,} / log {N:,} float32 elements" in priced.elementwise_math_note
    assert not any("element-wise math" in w for w in priced.warnings)
    totals = to_dict(priced)["totals"]
    assert totals["elementwise_math_s"] == pytest.approx(term)
    assert totals["elementwise_math_note"] == priced.elementwise_math_note
    assert "elementwise_math_s" not in totals["unknown_fields"]


def test_the_table_the_page_and_the_annotation_say_where_the_term_is(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.annotate import totals_line
    from hybridperf.report.html import render_html
    from hybridperf.report.text import to_table

    priced = predict_on(analyses["snake"], _cpu_sheet(FIGURES_NS))
    assert "element-wise math adds" in render_html(priced)
    assert priced.elementwise_math_note in totals_line(priced)
    assert f"note      {priced.elementwise_math_note}" in to_table(priced)
    plain = predict_on(analyses["vector"], _cpu_sheet(FIGURES_NS))
    assert "element-wise math" not in render_html(plain) and "element-wise math" not in totals_line(plain)


def test_a_cpu_sheet_without_a_figure_it_needs_says_unknown(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.text import to_dict

    for sheet in (_cpu_sheet(None), _cpu_sheet({"sin": 1.75, "cos": 1.76})):  # none; no log
        pred = predict_on(analyses["snake"], sheet)
        assert pred.elementwise_math_s is None and pred.latency_s == pred.roofline_latency_s
        warn = [w for w in pred.warnings if "element-wise math" in w]
        assert len(warn) == 1 and "hybridperf probe" in warn[0] and f"sin {2 * N:,}" in warn[0]
        assert "for log" in warn[0] or "for sin, cos, log" in warn[0]
        totals = to_dict(pred)["totals"]
        assert totals["elementwise_math_s"] is None and "elementwise_math_s" in totals["unknown_fields"]


def test_none_counted_or_a_gpu_sheet_cost_nothing_and_warn_nothing(analyses):
    from hybridperf.estimate.pricing import predict_on

    clean = predict_on(analyses["vector"], _cpu_sheet(None))
    assert clean.elementwise_math_s == 0.0 and not any("element-wise math" in w for w in clean.warnings)
    gpu = predict_on(analyses["snake"], load_spec("t4"))
    assert gpu.elementwise_math_s == 0.0 and not any("element-wise math" in w for w in gpu.warnings)


def test_another_runtime_is_not_priced_with_onnxruntimes_figures(analyses):
    from hybridperf.estimate.pricing import predict_on, with_elementwise_math

    pred = predict_on(analyses["snake"], _cpu_sheet(dict.fromkeys(ELEMENTWISE_MATH_KEYS, 0.0)))
    pred = dataclasses.replace(pred, spec=_cpu_sheet(FIGURES_NS), elementwise_math_s=0.0)
    assert with_elementwise_math(pred, "onnxruntime").elementwise_math_s > 0
    tvm = with_elementwise_math(pred, "tvm")
    assert tvm.elementwise_math_s is None and tvm.latency_s == pred.latency_s
    assert any("element-wise math" in w for w in tvm.warnings)


def test_predict_many_rows_and_csv_carry_the_term(analyses):
    from hybridperf.report.many import CSV_COLUMNS

    assert CSV_COLUMNS[-5:-2] == ("elementwise_math_s", "depthwise_conv1d_s", "short_gather_s")  # then short_broadcast_s
    from hybridperf.commands._sweep import FIGURES
    from hybridperf.estimate.pricing import OUTSIDE_TERMS

    assert FIGURES[-len(OUTSIDE_TERMS):] == tuple(OUTSIDE_TERMS)  # the module keeps pricing out of its import


def _sheet_with(section, name: str = "host-epyc-1c.yaml") -> dict:
    from hybridperf.data import packaged_dir

    raw = yaml.safe_load((packaged_dir("hw_specs") / name).read_text())
    raw["elementwise_math"] = section
    return raw


def test_the_sheet_section_parses_and_allows_a_measured_zero():
    spec = parse_spec(_sheet_with({"sin": {"value": 1.8, "unit": "ns", "source": "measured", "measured": True},
                                   "log": {"value": 0, "unit": "ns", "source": "measured", "measured": True}}),
                      "host-epyc-1c.yaml")
    assert spec.elementwise_math_s_per_element == {"sin": pytest.approx(1.8e-9), "log": 0.0}
    assert "elementwise_math.sin" in spec.measured


@pytest.mark.parametrize("section, words", [
    ({"sine": {"value": 3, "unit": "ns", "source": "s"}}, "did you mean 'sin'"),
    ({"exp": {"value": 3, "unit": "ns", "source": "s"}}, "use sin, cos, tan, log"),
    ({"sin": {"value": -1, "unit": "ns", "source": "s"}}, "positive|negative|>= 0"),
    ({"sin": {"value": 3, "unit": "GB/s", "source": "s"}}, "time"),
])
def test_a_bad_section_is_refused_naming_the_fix(section, words):
    with pytest.raises(SpecError, match=words):
        parse_spec(_sheet_with(section), "host-epyc-1c.yaml")


def test_a_gpu_sheet_refuses_the_section():
    with pytest.raises(SpecError, match="CPU sheets"):
        parse_spec(_sheet_with({"sin": {"value": 3, "unit": "ns", "source": "s"}}, "t4.yaml"), "t4.yaml")


def test_devices_show_lists_the_figures_and_unknown_where_absent():
    from hybridperf.commands.devices import show_device
    from hybridperf.report.devices import show_table

    d = show_device("host-epyc-1c")
    assert set(d["elementwise_math"]) == set(ELEMENTWISE_MATH_KEYS)
    assert all(v is None for v in d["elementwise_math"].values())
    assert "elementwise_math.sin" in show_table(d)


def _fake_best(times):
    def best(kernels, min_rounds, budget_s, **_):
        assert set(kernels) == set(times)
        return dict(times), min_rounds
    return best


def test_the_probe_figure_is_the_difference_of_its_runs_per_element(monkeypatch):
    """Correctness of what the probe returns (not its speed), on made-up timings: each function's figure is (its run
    - the Neg's) / elements, or 0 under the resolution."""
    pytest.importorskip("onnxruntime")
    from hybridperf.measure import probe as p

    n = p.MATH_PROBE_ELEMENTS
    times = {"neg": 40e-6, "sin": 40e-6 + n * 1.75e-9, "cos": 40e-6 + n * 1.5e-9, "tan": 40e-6 + n * 13e-9,
             "log": 41e-6, "softplus": 40e-6 + n * 10.5e-9, "mish": 40e-6 + n * 11e-9, "elu": 40e-6 + n * 1.5e-9,
             "selu": 40e-6 + n * 1.75e-9, "grid_sample_bilinear": 40e-6 + n * 2.25e-9,
             "grid_sample_nearest": 40e-6 + n * 6e-9, "grid_sample_bicubic": 40e-6 + n * 34e-9}
    monkeypatch.setattr(p, "_interleaved_best_seconds", _fake_best(times))
    m = p.elementwise_math(threads=2, runs=1)
    assert m.per_element_s["sin"] == pytest.approx(1.75e-9) and m.per_element_s["tan"] == pytest.approx(13e-9)
    assert m.per_element_s["log"] == 0.0  # 1 us over a 40 us copy: under SUBNORMAL_RESOLUTION (5 %)
    assert m.per_element_s["softplus"] == pytest.approx(10.5e-9) and m.per_element_s["selu"] == pytest.approx(1.75e-9)
    assert m.threads == 2 and m.elements == n and m.fastest_s["neg"] == 40e-6


def test_the_probe_writes_the_section_the_sheet_reads():
    from hybridperf.measure.probe import ElementwiseMath, math_section

    m = ElementwiseMath(per_element_s={"sin": 1.75e-9, "cos": 1.76e-9, "tan": 1.3e-8, "log": 0.0}, threads=2,
                        fastest_s={"neg": 4e-5, "sin": 5e-4, "cos": 5e-4, "tan": 3.5e-3, "log": 4.1e-5},
                        elements=2**18)
    section = math_section(m, "measured by hybridperf probe on 2026-12-07")
    assert section["sin"]["value"] == 1.75 and section["sin"]["measured"] is True
    assert "2 thread(s)" in section["tan"]["source"] and "Tan of 262,144" in section["tan"]["source"]
    spec = parse_spec(_sheet_with(json.loads(json.dumps(section))), "host-epyc-1c.yaml")
    assert spec.elementwise_math_s_per_element["tan"] == pytest.approx(1.3e-8)
    assert spec.elementwise_math_s_per_element["log"] == 0.0


def test_the_probe_table_has_a_row_per_function():
    from hybridperf.measure.probe import ElementwiseMath
    from hybridperf.report.probe import to_table

    class R:
        gemm = bandwidth = caches = ()
        dispatch = None
        errors: dict = {}
        kind = "cpu"
        quick = False
        time_utc = ""
        source = "measured"
        math = ElementwiseMath(per_element_s={"sin": 1.75e-9, "cos": 0.0}, threads=1,
                               fastest_s={"neg": 4e-5, "sin": 5e-4, "cos": 4e-5}, elements=2**18)

        class host:
            usable_cpus = 1
            governor = ""

    class S:
        id, name = "x", "x"

    text = to_table(R(), S(), Path("x.yaml"))
    assert "sin per element" in text and "1.75 ns" in text and "0 (none measurable)" in text


def test_the_training_tables_carry_the_term_and_the_label_loses_it(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.residual.features import feature_rows
    from hybridperf.residual.model import OUTSIDE_COLUMNS, outside_s

    assert "elementwise_math_s" in OUTSIDE_COLUMNS
    pred = predict_on(analyses["snake"], _cpu_sheet(FIGURES_NS))
    row, krows = feature_rows(pred, "snake", measured_s=1e-3, group_times={"elementwise": 1e-3})
    assert row["elementwise_math_s"] == pytest.approx(pred.elementwise_math_s)
    assert sum(k["elementwise_math_s"] or 0.0 for k in krows) == pytest.approx(pred.elementwise_math_s)
    assert outside_s(row) == pytest.approx(pred.elementwise_math_s)
    plain, _ = feature_rows(predict_on(analyses["vector"], _cpu_sheet(FIGURES_NS)), "v", measured_s=1e-3)
    assert plain["elementwise_math_s"] == "" and outside_s(plain) == 0.0


def test_the_zen4_sheets_give_the_medians_of_the_committed_probes():
    """The functions from plan (22)'s probes, the activations from plan (28)'s, GridSample's from plan (29)'s."""
    from benchmarks.elementwise_math import RUN, sheet_figures
    from benchmarks.grid_sample import RUN as GRID
    from benchmarks.scalar_activations import RUN as ACTIVATIONS
    from hybridperf.analysis.elementwise_math import ACTIVATION_KEYS, FUNCTION_KEYS, GRID_SAMPLE_KEYS

    functions, activations, grid = (sheet_figures(ROOT / r) for r in (RUN, ACTIVATIONS, GRID))
    for threads, sheet in ((1, "host-epyc-zen4-1c"), (2, "host-epyc-zen4-2c")):
        got = load_spec(sheet).elementwise_math_s_per_element
        assert set(got) == set(ELEMENTWISE_MATH_KEYS)
        for keys, figures in ((FUNCTION_KEYS, functions), (ACTIVATION_KEYS, activations), (GRID_SAMPLE_KEYS, grid)):
            for k in keys:
                assert got[k] == pytest.approx(round(figures[(threads, k)], 3) * 1e-9)


def test_check_never_passes_a_latency_that_leaves_an_unpriced_term_out(analyses):
    """A CPU sheet without the figures: the latency leaves the math's time out, so ``check`` judges a lower bound
    (undecided without ``--allow-unsupported``); with the figures the term is priced and the check decides."""
    from hybridperf.estimate.budget import Budget, Metric, compare
    from hybridperf.estimate.pricing import predict_on

    unpriced = predict_on(analyses["snake"], _cpu_sheet(None))
    lat, mem, en = compare(unpriced, Budget(1.0, 2**40, 1.0), "snake.onnx", "cpu")
    assert lat.metric is Metric.LATENCY and "element-wise math is not priced" in lat.lower_bound
    assert lat.undecided and not lat.passed and en.undecided and not mem.lower_bound
    from hybridperf.report.check import undecided_line

    assert "run `hybridperf probe` on the device, or pass --allow-unsupported" in undecided_line([lat])
    accepted, _, _ = compare(unpriced, Budget(1.0), "snake.onnx", "cpu", allow_unsupported=True)
    assert accepted.passed and accepted.lower_bound  # judged as the bound it is, and saying so
    priced = predict_on(analyses["snake"], _cpu_sheet(FIGURES_NS))
    lat, _, _ = compare(priced, Budget(1.0), "snake.onnx", "cpu")
    assert lat.passed and not lat.lower_bound
