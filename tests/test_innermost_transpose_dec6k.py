"""Transposes that move the innermost axis other than as a 2-D transpose (2026-12-06, 22:08 UTC session): counted by
the cost pass, timed by the probe (a sheet's ``transpose.innermost``), priced on CPU sheets that give the figure,
unknown with a warning where they do not, and taken off a training label where a sheet prices them."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hybridperf.analysis.transpose import (KEEPS, MOVES, PROBE_KEEPS, PROBE_MOVES, PROBE_SHAPE, SWAPS,  # noqa: E402
                                           innermost_elements, transpose_class)
from hybridperf.device.spec import load_spec, parse_spec  # noqa: E402
from hybridperf.errors import SpecError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: MaxViT-T's first window partition: 1 x 64 x 8 x 7 x 8 x 7, channels sent last
WINDOW = (1, 64, 8, 7, 8, 7)
ELEMENTS = 1 * 64 * 8 * 7 * 8 * 7


def _model(perms, constant_perm=None) -> onnx.ModelProto:
    """A chain of Transposes of a float32 input of :data:`WINDOW` (each perm applied to the last output), then an
    Add of a transposed constant of the same shape where ``constant_perm`` is given (folded: not run)."""
    nodes, shape, last = [], list(WINDOW), "x"
    for i, perm in enumerate(perms):
        nodes.append(helper.make_node("Transpose", [last], [f"t{i}"], perm=list(perm)))
        shape, last = [shape[a] for a in perm], f"t{i}"
    inits = []
    if constant_perm is not None:
        c = np.ones([shape[a] for a in np.argsort(constant_perm)], np.float32)
        inits.append(numpy_helper.from_array(c, "c"))
        nodes += [helper.make_node("Transpose", ["c"], ["ct"], perm=list(constant_perm)),
                  helper.make_node("Add", [last, "ct"], ["y"])]
        last = "y"
    else:
        nodes.append(helper.make_node("Identity", [last], ["y"]))
    graph = helper.make_graph(nodes, "transposes", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(WINDOW))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def analyses():
    from hybridperf.analysis.analyze import analyze

    back = tuple(int(a) for a in np.argsort(PROBE_MOVES))  # the window partition undone: moves the innermost axis too
    return {"moves": analyze(_model([PROBE_MOVES])),
            "two": analyze(_model([PROBE_MOVES, back])),
            "keeps": analyze(_model([PROBE_KEEPS])),
            "swap": analyze(_model([(0, 1, 2, 3, 5, 4)])),
            "folded": analyze(_model([PROBE_KEEPS], constant_perm=PROBE_MOVES))}


def test_the_classes_and_the_elements_of_a_shape():
    assert transpose_class(WINDOW, PROBE_MOVES) == MOVES and transpose_class(WINDOW, PROBE_KEEPS) == KEEPS
    assert transpose_class(WINDOW, (0, 1, 2, 3, 5, 4)) == SWAPS
    assert transpose_class((2, 3, 4), None) == MOVES  # no perm: the axes reversed, (2, 1, 0)
    assert transpose_class((1, 144, 256, 4), (0, 3, 2, 1)) == MOVES  # MobileViT's patch unfolding
    assert innermost_elements(WINDOW, PROBE_MOVES) == ELEMENTS
    assert innermost_elements(WINDOW, PROBE_KEEPS) == 0 and innermost_elements(None, PROBE_MOVES) == 0
    assert PROBE_SHAPE == WINDOW


def test_the_cost_pass_counts_the_elements_of_the_class_over_the_ops_that_run(analyses):
    assert analyses["moves"].analysis.innermost_transposes == (1, ELEMENTS)
    assert analyses["two"].analysis.innermost_transposes == (2, 2 * ELEMENTS)
    assert analyses["keeps"].analysis.innermost_transposes == (0, 0)
    assert analyses["swap"].analysis.innermost_transposes == (0, 0)
    # a transpose of a constant is folded (run by no runtime that folds constants): not counted
    assert analyses["folded"].analysis.innermost_transposes == (0, 0)


def _cpu_sheet(ns: float | None = 3.0):
    return dataclasses.replace(load_spec("host-epyc-1c"),
                               innermost_transpose_s_per_element=None if ns is None else ns * 1e-9)


def test_a_cpu_sheet_with_the_figure_prices_elements_times_figure(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.text import to_dict

    an = analyses["two"]
    without = predict_on(an, _cpu_sheet(0.0))
    priced = predict_on(an, _cpu_sheet(3.0))
    term = 2 * ELEMENTS * 3.0e-9
    assert priced.innermost_transpose_s == pytest.approx(term)
    assert priced.latency_s == pytest.approx(priced.roofline_latency_s + term)
    assert priced.energy_j == pytest.approx(without.energy_j + priced.spec.idle_power_w * term)
    assert f"{2 * ELEMENTS:,} elements" in priced.innermost_transpose_note
    assert "2 transposes" in priced.innermost_transpose_note
    assert not any("transpose" in w for w in priced.warnings)
    totals = to_dict(priced)["totals"]
    assert totals["innermost_transpose_s"] == pytest.approx(term)
    assert "innermost_transpose_s" not in totals["unknown_fields"]


def test_the_page_and_the_annotation_say_where_the_term_is(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.annotate import totals_line
    from hybridperf.report.html import render_html

    priced = predict_on(analyses["moves"], _cpu_sheet(3.0))
    assert "transposes add" in render_html(priced) and priced.innermost_transpose_note in totals_line(priced)
    plain = predict_on(analyses["keeps"], _cpu_sheet(3.0))
    assert "transposes add" not in render_html(plain) and "transposes" not in totals_line(plain)


def test_a_cpu_sheet_without_the_figure_says_unknown(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.text import to_dict

    pred = predict_on(analyses["moves"], _cpu_sheet(None))
    assert pred.innermost_transpose_s is None and pred.latency_s == pred.roofline_latency_s
    warn = [w for w in pred.warnings if "innermost axis" in w]
    assert len(warn) == 1 and "hybridperf probe" in warn[0] and f"{ELEMENTS:,} elements" in warn[0]
    totals = to_dict(pred)["totals"]
    assert totals["innermost_transpose_s"] is None and "innermost_transpose_s" in totals["unknown_fields"]


def test_none_of_the_class_or_a_gpu_sheet_cost_nothing_and_warn_nothing(analyses):
    from hybridperf.estimate.pricing import predict_on

    clean = predict_on(analyses["keeps"], _cpu_sheet(None))
    assert clean.innermost_transpose_s == 0.0 and not any("innermost axis" in w for w in clean.warnings)
    gpu = predict_on(analyses["moves"], load_spec("t4"))
    assert gpu.innermost_transpose_s == 0.0 and not any("innermost axis" in w for w in gpu.warnings)


def test_another_runtime_is_not_priced_with_onnxruntimes_figure(analyses):
    from hybridperf.estimate.pricing import predict_on, with_innermost_transposes

    pred = predict_on(analyses["moves"], _cpu_sheet(0.0))
    pred = dataclasses.replace(pred, spec=_cpu_sheet(3.0), innermost_transpose_s=0.0)
    assert with_innermost_transposes(pred, "onnxruntime").innermost_transpose_s > 0
    tvm = with_innermost_transposes(pred, "tvm")
    assert tvm.innermost_transpose_s is None and tvm.latency_s == pred.latency_s
    assert any("innermost axis" in w for w in tvm.warnings)


def _sheet_with(section, name: str = "host-epyc-1c.yaml") -> dict:
    from hybridperf.data import packaged_dir

    raw = yaml.safe_load((packaged_dir("hw_specs") / name).read_text())
    raw["transpose"] = section
    return raw


def test_the_sheet_section_parses_and_allows_a_measured_zero():
    spec = parse_spec(_sheet_with({"innermost": {"value": 3.1, "unit": "ns", "source": "measured", "measured": True}}),
                      "host-epyc-1c.yaml")
    assert spec.innermost_transpose_s_per_element == pytest.approx(3.1e-9) and "transpose.innermost" in spec.measured
    zero = parse_spec(_sheet_with({"innermost": {"value": 0, "unit": "ns", "source": "measured", "measured": True}}),
                      "host-epyc-1c.yaml")
    assert zero.innermost_transpose_s_per_element == 0.0


@pytest.mark.parametrize("section, words", [
    ({"inner": {"value": 3, "unit": "ns", "source": "s"}}, "did you mean 'innermost'"),
    ({"innermost": {"value": -1, "unit": "ns", "source": "s"}}, "positive"),
    ({"innermost": {"value": 3, "unit": "GB/s", "source": "s"}}, "time"),
])
def test_a_bad_section_is_refused_naming_the_fix(section, words):
    with pytest.raises(SpecError, match=words):
        parse_spec(_sheet_with(section), "host-epyc-1c.yaml")


def test_a_gpu_sheet_refuses_the_section():
    with pytest.raises(SpecError, match="CPU sheets"):
        parse_spec(_sheet_with({"innermost": {"value": 3, "unit": "ns", "source": "s"}}, "t4.yaml"), "t4.yaml")


def test_the_probe_writes_the_section_the_sheet_reads():
    from hybridperf.measure.probe import TransposeFigure, transpose_section

    t = TransposeFigure(per_element_s=3.15e-9, threads=2, moves_s=6.8e-4, keeps_s=4.7e-5, elements=ELEMENTS)
    section = transpose_section(t, "measured by hybridperf probe on 2026-12-06")
    assert section["innermost"]["value"] == 3.15 and section["innermost"]["measured"] is True
    assert "2 thread(s)" in section["innermost"]["source"]
    spec = parse_spec(_sheet_with(json.loads(json.dumps(section))), "host-epyc-1c.yaml")
    assert spec.innermost_transpose_s_per_element == pytest.approx(3.15e-9)


def test_the_probe_figure_is_the_difference_of_its_two_runs_per_element():
    """Correctness of what the probe returns (not its speed): the figure is (moves - keeps) / elements, or 0 under
    the resolution."""
    pytest.importorskip("onnxruntime")
    from hybridperf.measure.probe import SUBNORMAL_RESOLUTION, innermost_transpose

    t = innermost_transpose(threads=1, runs=2)
    assert t.elements == ELEMENTS and t.threads == 1 and t.moves_s > 0 and t.keeps_s > 0
    extra = t.moves_s - t.keeps_s
    want = extra / ELEMENTS if extra > SUBNORMAL_RESOLUTION * t.keeps_s else 0.0
    assert t.per_element_s == pytest.approx(want)


def test_the_zen4_sheets_figure_is_the_probe_csv_arithmetic():
    """Plan (10): the Zen 4 sheets' figure is plan (7)'s probe (``calibration/host-epyc-zen4-transpose/probe.csv``):
    the median over rounds of MaxViT's window partition less that of the shape that keeps the innermost axis, at the
    sheet's threads."""
    import statistics

    rows = list(csv.DictReader((ROOT / "calibration" / "host-epyc-zen4-transpose" / "probe.csv").open()))
    for sheet, threads in (("host-epyc-zen4-1c", "1"), ("host-epyc-zen4-2c", "2")):
        moves = statistics.median(float(r["ns_per_element"]) for r in rows if r["threads"] == threads
                                  and (r["shape"], r["perm"]) == ("1x64x8x7x8x7", "0,2,4,3,5,1"))
        keeps = statistics.median(float(r["ns_per_element"]) for r in rows if r["threads"] == threads
                                  and (r["shape"], r["perm"]) == ("2x128x12x64", "0,2,1,3"))
        spec = load_spec(sheet)
        assert spec.innermost_transpose_s_per_element == pytest.approx(round(moves - keeps, 4) * 1e-9)
        assert "transpose.innermost" in spec.measured


def test_a_priced_term_comes_off_the_training_label(tmp_path):
    """A calibration on a sheet that prices the term: the learned model is fitted to the label less it (a prediction
    adds it after the learned figure), as the subnormal assists are."""
    from hybridperf.residual.model import load_table

    src = ROOT / "calibration" / "host-xeon480-1c-unseen"
    for name in ("features.csv", "kernel_features.csv"):
        shutil.copy(src / name, tmp_path / name)
    X0, y0, _, _, kt0, rows0 = load_table(tmp_path)
    key = "hf_mobilevit_small_b1_256"
    measured = float(next(r for r in rows0 if r["key"] == key)["measured_latency_s"])
    with (tmp_path / "features.csv").open() as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["innermost_transpose_s"] = 0.1 * measured if r["key"] == key else ""
    with (tmp_path / "features.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    X1, y1, _, _, kt1, rows1 = load_table(tmp_path)
    i = [r["key"] for r in rows1].index(key)
    assert y1[i] == pytest.approx(y0[i] + math.log(0.9))  # (measured - term) / roofline
    assert np.delete(y1, i) == pytest.approx(np.delete(y0, i))


def test_a_feature_row_carries_the_term(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.residual.features import feature_rows

    pred = predict_on(analyses["two"], _cpu_sheet(3.0))
    row, krows = feature_rows(pred, "two", measured_s=0.01, group_times={})
    assert row["innermost_transpose_s"] == pytest.approx(2 * ELEMENTS * 3.0e-9)
    assert sum(float(k["innermost_transpose_s"] or 0) for k in krows) == pytest.approx(2 * ELEMENTS * 3.0e-9)


def test_the_product_probe_reproduces_the_sheets_figure():
    """Plan (11): ``hybridperf probe`` on the Zen 4 of the sheets (identical ``lscpu``), 3 rounds at 1 and 2 threads;
    each figure within the plan's 25 % of the sheet's (from plan (7)'s probe), the sheets written read back."""
    probes = ROOT / "calibration" / "host-epyc-zen4-transpose" / "product-probes"
    assert (probes / "lscpu.txt").read_text() == (ROOT / "calibration" / "host-epyc-zen4-1c-unseen" / "lscpu.txt").read_text()
    for threads, sheet in ((1, "host-epyc-zen4-1c"), (2, "host-epyc-zen4-2c")):
        want = load_spec(sheet).innermost_transpose_s_per_element
        for r in (1, 2, 3):
            result = json.loads((probes / f"zen4-{threads}t-round{r}.json").read_text())["transpose"]
            assert result["threads"] == threads and result["elements"] == ELEMENTS
            assert result["per_element_s"] == pytest.approx((result["moves_s"] - result["keeps_s"]) / ELEMENTS)
            assert abs(result["per_element_s"] / want - 1) <= 0.25
            spec = load_spec(str(probes / f"zen4-{threads}t-round{r}.yaml"))
            assert spec.innermost_transpose_s_per_element == pytest.approx(result["per_element_s"], rel=1e-3)


def test_a_model_composed_by_the_block_cache_keeps_the_count(tmp_path):
    """A CNN the block cache cuts into segments (a ``Session``'s default, as predict-many uses): the composed analysis
    holds the same counts as the whole one (until 2026-12-06 22:40 UTC composed records were rebuilt without them,
    the subnormal counts too)."""
    from hybridperf import api

    w = [numpy_helper.from_array(np.full((8, 8, 3, 3), 0.01, np.float32), f"w{i}") for i in range(3)]
    nodes = [helper.make_node("Conv", ["x", "w0"], ["c0"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c0"], ["r0"]),
             helper.make_node("Transpose", ["r0"], ["t0"], perm=[0, 3, 2, 1]),  # moves the innermost axis: (2, 1, 0)
             helper.make_node("Conv", ["t0", "w1"], ["c1"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["y"], pads=[1, 1, 1, 1])]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], w)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    path = tmp_path / "cnn.onnx"
    onnx.save(model, str(path))
    session = api.Session(keep_analyses=0)
    composed = session.analyze(str(path))
    assert session.stats()["block_models_composed"] == 1
    assert composed.analysis.innermost_transposes == api.analyze(str(path)).analysis.innermost_transposes == (1, 512)


def test_the_host_sheet_without_the_figure_names_probe_host(analyses):
    """``--device host``'s cached sheet, probed before the probe timed the figure: the warning names the command that
    renews it."""
    from hybridperf.estimate.pricing import predict_on

    pred = predict_on(analyses["moves"], dataclasses.replace(_cpu_sheet(None), id="host"))
    assert any("`hybridperf probe --host` probes this machine again" in w for w in pred.warnings)


@pytest.mark.parametrize("op, shape, counted", [
    ("DepthToSpace", [1, 256, 8, 8], 0),  # onnxruntime's own kernel, no Transpose: not counted
    ("SpaceToDepth", [1, 64, 16, 16], 0),
    ("explicit", [1, 256, 8, 8], 1 * 256 * 8 * 8),  # the same permutation written as Reshape -> Transpose -> Reshape
])
def test_depth_to_space_is_not_an_onnxruntime_transpose(op, shape, counted):
    """TVM converts DepthToSpace / SpaceToDepth to reshape -> permute_dims (moving the innermost axis) -> reshape, but
    onnxruntime runs them with kernels of their own (1.80 / 0.29 ns per element on the Zen 4 against 4.00 ns for the
    same Transpose), so the term leaves them out; the explicit Transpose is counted."""
    from hybridperf.analysis.analyze import analyze

    n, c, h, w = shape
    if op == "explicit":
        s1 = numpy_helper.from_array(np.array([n, c // 4, 2, 2, h, w], np.int64), "s1")
        s2 = numpy_helper.from_array(np.array([n, c // 4, h * 2, w * 2], np.int64), "s2")
        nodes = [helper.make_node("Reshape", ["x", "s1"], ["a"]),
                 helper.make_node("Transpose", ["a"], ["t"], perm=[0, 1, 4, 2, 5, 3]),
                 helper.make_node("Reshape", ["t", "s2"], ["y"])]
        out, inits = [n, c // 4, h * 2, w * 2], [s1, s2]
    else:
        nodes = [helper.make_node(op, ["x"], ["y"], blocksize=2)]
        out = [n, c // 4, h * 2, w * 2] if op == "DepthToSpace" else [n, c * 4, h // 2, w // 2]
        inits = []
    graph = helper.make_graph(nodes, op, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    a = analyze(model).analysis
    assert any(r.op == "relax.permute_dims" for r in a.records)
    assert a.innermost_transposes == ((1, counted) if counted else (0, 0))


def test_the_recorded_depth_to_space_timings_are_why_it_is_left_out():
    """Plan (12): onnxruntime's DepthToSpace and SpaceToDepth on the Zen 4 (identical ``lscpu``) are well under the same
    permutation as a Transpose, with 1 and 2 threads; the docstring's figures are these medians."""
    from benchmarks.depth_to_space_cost import summary

    out = ROOT / "calibration" / "host-epyc-zen4-transpose" / "depth-to-space"
    assert (out / "lscpu.txt").read_text() == (ROOT / "calibration" / "host-epyc-zen4-1c-unseen" / "lscpu.txt").read_text()
    ns = summary(out / "depth_to_space.csv")
    for t in (1, 2):
        assert ns[("DepthToSpace CRD", t)] < 0.5 * ns[("Transpose as DepthToSpace CRD (0,1,4,2,5,3)", t)]
        assert ns[("SpaceToDepth", t)] < 0.2 * ns[("Transpose as SpaceToDepth (0,3,5,1,2,4)", t)]
    assert round(ns[("DepthToSpace CRD", 1)], 2) == 1.80 and round(ns[("SpaceToDepth", 1)], 2) == 0.29
