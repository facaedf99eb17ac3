"""Depthwise 1-D convolutions (2026-12-07, plan (23)): classified and counted by the cost pass, an op family no
learned model was trained on, timed by the probe (a CPU sheet's ``depthwise_conv1d``), priced at its figures on CPU
sheets that give them, unknown with a warning where they do not."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import yaml

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hybridperf.analysis.depthwise1d import DEPTHWISE_CONV1D_KEYS  # noqa: E402
from hybridperf.device.spec import load_spec, parse_spec  # noqa: E402
from hybridperf.errors import SpecError  # noqa: E402

C, L = 8, 64


def _model(op: str = "Conv", k: int = 3, s: int = 1, group: int = C, cin: int = C, spatial: int = 1):
    """One ``op`` over a float32 input of ``cin`` channels x ``L`` (x ``L`` where ``spatial`` is 2), ``group`` groups,
    then a Relu."""
    shape = [1, cin] + [L] * spatial
    kshape = [k] * spatial
    if op == "Conv":
        w = np.ones([C, cin // group] + kshape, np.float32)
        out = [1, C] + [(L - k) // s + 1] * spatial
    else:
        w = np.ones([cin, C // group] + kshape, np.float32)
        out = [1, C] + [(L - 1) * s + k] * spatial
    graph = helper.make_graph(
        [helper.make_node(op, ["x", "w"], ["c"], group=group, kernel_shape=kshape, strides=[s] * spatial),
         helper.make_node("Relu", ["c"], ["y"])], "dw",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)], initializer=[numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def analyses():
    from hybridperf.analysis.analyze import analyze

    return {"conv": analyze(_model()), "strided": analyze(_model(k=12, s=2)),
            "transpose": analyze(_model("ConvTranspose")), "transpose_strided": analyze(_model("ConvTranspose", 12, 2)),
            "grouped": analyze(_model(group=2)), "dense": analyze(_model(group=1)),
            "two_d": analyze(_model(spatial=2))}


def test_the_classes_their_multiply_adds_and_outputs(analyses):
    out, out_s = L - 3 + 1, (L - 12) // 2 + 1
    assert analyses["conv"].analysis.depthwise_conv1d_work == {"conv": (C * out * 3, C * out)}
    assert analyses["strided"].analysis.depthwise_conv1d_work == {"conv_strided": (C * out_s * 12, C * out_s)}
    # a transposed convolution: each input element times its kernel
    assert analyses["transpose"].analysis.depthwise_conv1d_work == {"transpose": (C * L * 3, C * (L - 1 + 3))}
    assert analyses["transpose_strided"].analysis.depthwise_conv1d_work == {
        "transpose_strided": (C * L * 12, C * ((L - 1) * 2 + 12))}
    # groups of 4 channels, a dense one, a 2-D depthwise one: not this class
    for name in ("grouped", "dense", "two_d"):
        assert analyses[name].analysis.depthwise_conv1d_work == {}


def test_a_kernel_holding_one_is_a_family_no_model_was_trained_on(analyses):
    from hybridperf.analysis.depthwise1d import DEPTHWISE_1D_FAMILY
    from hybridperf.analysis.recurrent import kernel_families

    an = analyses["conv"]
    fams = [kernel_families(an.analysis.records, k.op_indices) for k in an.kernels]
    assert any(DEPTHWISE_1D_FAMILY in f for f in fams)
    two_d = analyses["two_d"]
    assert not any(DEPTHWISE_1D_FAMILY in kernel_families(two_d.analysis.records, k.op_indices)
                   for k in two_d.kernels)
    from hybridperf.residual.cross_host import CrossHostModel  # noqa: F401 - the packaged model's families
    import hybridperf.data as data

    meta = json.loads((data.packaged_dir("models") / "cross-host-cpu" / "residual.json").read_text())
    assert DEPTHWISE_1D_FAMILY not in meta["seen_families"]


def _cpu_sheet(ns: dict | None = None):
    figures = {} if ns is None else {k: v * 1e-9 for k, v in ns.items()}
    return dataclasses.replace(load_spec("host-epyc-1c"), depthwise_conv1d_s_per_item=figures)


FIGURES_NS = {"conv_mac": 0.12, "conv_output": 0.8, "conv_strided_mac": 0.33, "conv_strided_output": 1.3,
              "transpose_mac": 0.23, "transpose_output": 0.6, "transpose_strided_mac": 0.58,
              "transpose_strided_output": 0.4}


@pytest.mark.parametrize("name", ["conv", "strided", "transpose", "transpose_strided"])
def test_a_cpu_sheet_with_the_figures_prices_the_kernel_at_them(analyses, name):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.text import to_dict

    an = analyses[name]
    priced = predict_on(an, _cpu_sheet(FIGURES_NS))
    (key, (macs, outputs)), = an.analysis.depthwise_conv1d_work.items()
    probed = (macs * FIGURES_NS[f"{key}_mac"] + outputs * FIGURES_NS[f"{key}_output"]) * 1e-9
    dw = [kp for kp in priced.kernels if any(r in kp.kernel.op_indices for r, rec in enumerate(an.analysis.records)
                                             if rec.op.startswith("relax.nn.conv1d"))]
    assert len(dw) == 1
    # the kernel's roofline price is replaced by its multiply-adds at the figure; every other kernel as it was
    assert priced.depthwise_conv1d_s == pytest.approx(probed - dw[0].latency_s)
    assert priced.latency_s == pytest.approx(priced.roofline_latency_s - dw[0].latency_s + probed)
    assert f"{key} {macs:,} multiply-adds / {outputs:,} outputs" in priced.depthwise_conv1d_note
    totals = to_dict(priced)["totals"]
    assert totals["depthwise_conv1d_s"] == pytest.approx(priced.depthwise_conv1d_s)
    assert "depthwise_conv1d_s" not in totals["unknown_fields"]
    assert not any("depthwise" in w for w in priced.warnings)


def test_the_packaged_model_prices_the_kernel_at_its_roofline_before_the_figures(analyses):
    """On a Zen 4 sheet (learned model): the kernel is of a family never trained on, so its price before the term is
    its roofline, and the figures replace it."""
    from hybridperf.estimate.pricing import predict_on

    an = analyses["strided"]
    spec = load_spec("host-epyc-zen4-1c")
    figures = spec.depthwise_conv1d_s_per_item
    pred = predict_on(an, "host-epyc-zen4-1c")
    (key, (macs, outputs)), = an.analysis.depthwise_conv1d_work.items()
    probed = macs * figures[f"{key}_mac"] + outputs * figures[f"{key}_output"]
    k = next(kp for kp in pred.kernels if any(an.analysis.records[j].op == "relax.nn.conv1d"
                                              for j in kp.kernel.op_indices))
    assert k.latency_s == pytest.approx(k.estimate.latency_s)
    assert pred.depthwise_conv1d_s == pytest.approx(probed - k.latency_s)


def test_a_cpu_sheet_without_a_figure_it_needs_says_unknown(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.text import to_dict

    for sheet in (_cpu_sheet(None), _cpu_sheet({"conv_mac": 0.2, "conv_output": 0.8, "conv_strided_mac": 0.3})):
        pred = predict_on(analyses["strided"], sheet)
        assert pred.depthwise_conv1d_s is None and pred.latency_s == pred.roofline_latency_s
        warn = [w for w in pred.warnings if "depthwise 1-D" in w]
        assert len(warn) == 1 and "hybridperf probe" in warn[0] and "for conv_strided_" in warn[0]
        totals = to_dict(pred)["totals"]
        assert totals["depthwise_conv1d_s"] is None and "depthwise_conv1d_s" in totals["unknown_fields"]


def test_none_of_the_class_or_a_gpu_sheet_cost_nothing_and_warn_nothing(analyses):
    from hybridperf.estimate.pricing import predict_on

    for name in ("grouped", "dense", "two_d"):
        pred = predict_on(analyses[name], _cpu_sheet(None))
        assert pred.depthwise_conv1d_s == 0.0 and not any("depthwise" in w for w in pred.warnings)
    gpu = predict_on(analyses["conv"], load_spec("t4"))
    assert gpu.depthwise_conv1d_s == 0.0 and not any("depthwise 1-D" in w for w in gpu.warnings)


def test_another_runtime_is_not_priced_with_onnxruntimes_figures(analyses):
    from hybridperf.estimate.pricing import predict_on, with_depthwise_conv1d

    pred = predict_on(analyses["conv"], _cpu_sheet(None))
    pred = dataclasses.replace(pred, spec=_cpu_sheet(FIGURES_NS), depthwise_conv1d_s=0.0)
    assert with_depthwise_conv1d(pred, "onnxruntime").depthwise_conv1d_s not in (None, 0.0)
    tvm = with_depthwise_conv1d(pred, "tvm")
    assert tvm.depthwise_conv1d_s is None and tvm.latency_s == pred.latency_s


def test_the_reports_say_where_the_term_is(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.annotate import totals_line
    from hybridperf.report.html import render_html
    from hybridperf.report.many import CSV_COLUMNS
    from hybridperf.report.text import to_table

    priced = predict_on(analyses["conv"], _cpu_sheet(FIGURES_NS))
    assert "depthwise 1-D convolutions add" in render_html(priced)
    assert priced.depthwise_conv1d_note in totals_line(priced)
    assert f"note      {priced.depthwise_conv1d_note}" in to_table(priced)
    assert "depthwise_conv1d_s" in CSV_COLUMNS


def _sheet_with(section, name: str = "host-epyc-1c.yaml") -> dict:
    from hybridperf.data import packaged_dir

    raw = yaml.safe_load((packaged_dir("hw_specs") / name).read_text())
    raw["depthwise_conv1d"] = section
    return raw


def test_the_sheet_section_parses():
    spec = parse_spec(_sheet_with({"conv_mac": {"value": 0.2, "unit": "ns", "source": "measured", "measured": True},
                                   "conv_output": {"value": 0, "unit": "ns", "source": "measured", "measured": True}}),
                      "host-epyc-1c.yaml")
    assert spec.depthwise_conv1d_s_per_item == {"conv_mac": pytest.approx(0.2e-9), "conv_output": 0.0}
    assert "depthwise_conv1d.conv_mac" in spec.measured


@pytest.mark.parametrize("section, words", [
    ({"conv_strided_macs": {"value": 3, "unit": "ns", "source": "s"}}, "did you mean 'conv_strided_mac'"),
    ({"conv": {"value": 3, "unit": "ns", "source": "s"}}, "use conv_mac, conv_output"),
    ({"conv_mac": {"value": -1, "unit": "ns", "source": "s"}}, "positive|negative|>= 0"),
    ({"conv_mac": {"value": 3, "unit": "GB/s", "source": "s"}}, "time"),
])
def test_a_bad_section_is_refused_naming_the_fix(section, words):
    with pytest.raises(SpecError, match=words):
        parse_spec(_sheet_with(section), "host-epyc-1c.yaml")


def test_a_gpu_sheet_refuses_the_section():
    with pytest.raises(SpecError, match="CPU sheets"):
        parse_spec(_sheet_with({"conv_mac": {"value": 3, "unit": "ns", "source": "s"}}, "t4.yaml"), "t4.yaml")


def test_the_two_point_fit_as_arithmetic():
    from hybridperf.measure.probe import two_point_fit

    # t = 0.1 ns x MACs + 0.8 ns x outputs through both points
    pts = [(3e6, 1e6, 3e6 * 0.1e-9 + 1e6 * 0.8e-9), (31e6, 1e6, 31e6 * 0.1e-9 + 1e6 * 0.8e-9)]
    assert two_point_fit(pts) == (pytest.approx(0.1e-9), pytest.approx(0.8e-9))
    # a fit with a negative per-output figure: 0, and the per-MAC figure fitted alone
    pts = [(1e6, 1e6, 1e-3), (2e6, 1e6, 3e-3)]
    mac, out = two_point_fit(pts)
    assert out == 0.0 and mac == pytest.approx((1e6 * 1e-3 + 2e6 * 3e-3) / (1e12 + 4e12))


def test_the_probe_figures_are_fitted_to_its_two_nodes_a_class(monkeypatch):
    """Correctness of what the probe returns (not its speed), on made-up timings made of known figures."""
    pytest.importorskip("onnxruntime")
    from hybridperf.analysis.depthwise1d import DEPTHWISE_CONV1D_CLASSES
    from hybridperf.measure import probe as p

    c, n = p.DEPTHWISE_PROBE_SHAPE
    truth = {"conv": (0.12e-9, 0.8e-9), "conv_strided": (0.33e-9, 1.3e-9), "transpose": (0.23e-9, 0.6e-9),
             "transpose_strided": (0.58e-9, 0.4e-9)}

    def work(cls, k):
        op, s, _ = p.DEPTHWISE_PROBE[cls]
        out = (n - k) // s + 1 if op == "Conv" else (n - 1) * s + k
        return c * k * (out if op == "Conv" else n), c * out

    def best(kernels, min_rounds, budget_s, **_):
        times = {}
        for name in kernels:
            cls, k = name.split(" k")
            m, o = work(cls, int(k))
            times[name] = m * truth[cls][0] + o * truth[cls][1]
        return times, min_rounds

    monkeypatch.setattr(p, "_interleaved_best_seconds", best)
    d = p.depthwise_conv1d(threads=2, runs=1)
    for cls in DEPTHWISE_CONV1D_CLASSES:
        assert d.per_mac_s[cls] == pytest.approx(truth[cls][0]) and d.per_output_s[cls] == pytest.approx(truth[cls][1])
        for k in p.DEPTHWISE_PROBE[cls][2]:
            assert d.work[f"{cls} k{k}"] == work(cls, k)
    assert d.threads == 2


def test_the_probe_writes_the_section_the_sheet_reads():
    from hybridperf.measure.probe import DepthwiseConv1d, depthwise_section

    classes = ("conv", "conv_strided", "transpose", "transpose_strided")
    d = DepthwiseConv1d(per_mac_s=dict(zip(classes, (1.2e-10, 3.3e-10, 2.3e-10, 5.8e-10))),
                        per_output_s=dict(zip(classes, (8e-10, 1.3e-9, 6e-10, 4e-10))), threads=1,
                        fastest_s={f"{c} k{k}": 1e-3 for c in classes for k in (3, 4, 12, 31)},
                        work={})
    section = depthwise_section(d, "measured by hybridperf probe on 2026-12-07")
    assert section["conv_mac"]["value"] == 0.12 and section["conv_strided_output"]["value"] == 1.3
    assert "stride 2" in section["conv_strided_mac"]["source"] and "per output element" in section["conv_output"]["source"]
    spec = parse_spec(_sheet_with(json.loads(json.dumps(section))), "host-epyc-1c.yaml")
    assert spec.depthwise_conv1d_s_per_item["transpose_strided_mac"] == pytest.approx(5.8e-10)


def test_the_zen4_sheets_give_the_medians_of_the_committed_probes():
    from pathlib import Path

    from benchmarks.depthwise_conv1d import OUT, sheet_figures

    root = Path(__file__).resolve().parents[1]
    figures = sheet_figures(root / OUT)
    for threads, sheet in ((1, "host-epyc-zen4-1c"), (2, "host-epyc-zen4-2c")):
        got = load_spec(sheet).depthwise_conv1d_s_per_item
        assert set(got) == set(DEPTHWISE_CONV1D_KEYS)
        for k, v in got.items():
            assert v == pytest.approx(round(figures[(threads, k)], 4) * 1e-9)


def test_the_training_tables_carry_the_term_and_a_negative_one_comes_off_the_label(analyses, tmp_path):
    import csv

    from hybridperf.estimate.pricing import predict_on
    from hybridperf.residual.features import MODEL_FEATURES, feature_rows
    from hybridperf.residual.model import load_table, outside_s

    pred = predict_on(analyses["conv"], _cpu_sheet({"conv_mac": 1000.0, "conv_output": 0.0}))  # 1 us a MAC: slow
    row, krows = feature_rows(pred, "dw", measured_s=1e-3, group_times={"conv": 1e-3})
    assert row["depthwise_conv1d_s"] == pytest.approx(pred.depthwise_conv1d_s) and pred.depthwise_conv1d_s > 0
    assert sum(k["depthwise_conv1d_s"] or 0.0 for k in krows) == pytest.approx(pred.depthwise_conv1d_s)
    fast = predict_on(analyses["conv"], _cpu_sheet({"conv_mac": 1e-6, "conv_output": 0.0}))  # a negative term
    row2, _ = feature_rows(fast, "dw2", measured_s=1e-3)
    assert row2["depthwise_conv1d_s"] < 0 and outside_s(row2) == pytest.approx(fast.depthwise_conv1d_s)
    with (tmp_path / "features.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, list(row2))
        w.writeheader()
        w.writerow(row2)
    X, y, *_ = load_table(tmp_path, kernels=False)
    assert len(MODEL_FEATURES) == X.shape[1]
    # the label is the measured time less the (negative) term, over the roofline
    assert float(np.exp(y[0])) == pytest.approx((1e-3 - fast.depthwise_conv1d_s) / fast.roofline_latency_s)


def test_the_blind_reports_are_what_the_committed_runs_and_predictions_give():
    """Plans (22) and (23)'s reports recomputed from the runs and the predictions stored before them."""
    from pathlib import Path

    from benchmarks import depthwise_set, elementwise_math
    from benchmarks.tcn_conv1d import score

    root = Path(__file__).resolve().parents[1]
    reports = {"depthwise_set.md": score(run=root / depthwise_set.RUN, stored=depthwise_set.STORED,
                                         title=depthwise_set.SCORE_TITLE),
               "elementwise_math_set.md": score(run=root / elementwise_math.RUN, stored=elementwise_math.STORED,
                                                title=elementwise_math.SCORE_TITLE)}
    for name, text in reports.items():
        committed = (root / "benchmarks" / "results" / name).read_text()
        assert committed.rstrip("\n") == text.replace(str(root) + "/", "").rstrip("\n"), name
    assert "host-epyc-zen4-1c: with (23) MAPE 16.8 %, without (23) MAPE 22.6 %" in reports["depthwise_set.md"]
    assert "host-epyc-zen4-2c: with (22) MAPE 19.7 %, without (22) MAPE 31.4 %" in reports["elementwise_math_set.md"]
