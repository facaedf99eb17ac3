"""Subnormals a model makes itself (a mask of about -100 before a softmax): counted by the cost pass, timed by the
probe (a sheet's ``subnormal_assist``), priced on CPU sheets that give the figures, warned where they do not."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import yaml

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hybridperf.analysis.subnormal import EXP_SUBNORMAL_WINDOW, broadcast_share, matmul_macs, window_entries  # noqa: E402
from hybridperf.device.spec import load_spec, parse_spec  # noqa: E402
from hybridperf.errors import SpecError  # noqa: E402

HEADS, TOKENS, HEAD = 3, 8, 4  # scores (1, HEADS, TOKENS, TOKENS), values (1, HEADS, TOKENS, HEAD)


def _attention(mask_value: float, cast: bool = False, masked_rows: int = TOKENS // 2) -> onnx.ModelProto:
    """softmax(scores + mask) @ values, the mask (1, 1, T, T) holding ``mask_value`` in the first ``masked_rows`` rows'
    last half of the columns (broadcast over the heads); ``cast`` puts a float32 -> float32 Cast after the softmax
    (Hugging Face's attention)."""
    mask = np.zeros((1, 1, TOKENS, TOKENS), np.float32)
    mask[0, 0, :masked_rows, TOKENS // 2:] = mask_value
    nodes = [helper.make_node("Add", ["scores", "mask"], ["masked"]),
             helper.make_node("Softmax", ["masked"], ["probs"], axis=-1)]
    probs = "probs"
    if cast:
        nodes.append(helper.make_node("Cast", ["probs"], ["probs32"], to=TensorProto.FLOAT))
        probs = "probs32"
    nodes.append(helper.make_node("MatMul", [probs, "values"], ["out"]))
    graph = helper.make_graph(
        nodes, "attention",
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, HEADS, TOKENS, TOKENS]),
         helper.make_tensor_value_info("values", TensorProto.FLOAT, [1, HEADS, TOKENS, HEAD])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, HEADS, TOKENS, HEAD])],
        initializer=[numpy_helper.from_array(mask, "mask")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


#: entries the mask of :func:`_attention` puts in exp's subnormal window, broadcast over the heads
MASKED = HEADS * (TOKENS // 2) * (TOKENS // 2)


def test_the_window_is_exps_float32_subnormal_range():
    lo, hi = EXP_SUBNORMAL_WINDOW
    assert lo == pytest.approx(-149 * math.log(2)) and hi == pytest.approx(-126 * math.log(2))
    assert np.float32(np.exp(np.float32(-100))) < np.finfo(np.float32).tiny  # subnormal: Swin's mask
    assert np.float32(np.exp(np.float32(-10000))) == 0  # BERT's: exact zero, no assist
    # -100 and -90 in the window; -10000, -50, 0 and -inf not; integers are never a mask's window
    assert window_entries(np.array([-100.0, -90.0, -10000.0, -50.0, 0.0, -np.inf], np.float32)) == 2
    assert window_entries(np.array([-100, -90], np.int64)) == 0


def test_broadcast_and_matmul_arithmetic():
    assert broadcast_share(16, 64, 192) == 16 * 3  # a (1, 64 windows, 1, 49, 49) mask over 3 heads
    assert broadcast_share(16, None, 192) == 0.0
    assert matmul_macs(10, 0, (2, 49, 32)) == 10 * 32  # each left entry meets N columns
    assert matmul_macs(0, 10, (2, 49, 32)) == 10 * 49  # each right entry meets M rows
    assert matmul_macs(10, 0, (32,)) == 0


@pytest.fixture(scope="module")
def analyses():
    from hybridperf.analysis.analyze import analyze

    return {name: analyze(_attention(v, cast=c)) for name, (v, c) in
            {"minus100": (-100.0, False), "minus10000": (-10000.0, False), "cast": (-100.0, True)}.items()}


def test_the_cost_pass_counts_a_minus_100_mask_before_a_softmax(analyses):
    a = analyses["minus100"].analysis
    assert a.subnormal_work == (MASKED, MASKED * HEAD)
    soft = [r for r in a.records if r.op == "relax.nn.softmax"]
    mm = [r for r in a.records if r.op == "relax.matmul"]
    assert [r.subnormal_outputs for r in soft] == [MASKED] and [r.subnormal_macs for r in mm] == [MASKED * HEAD]


def test_a_minus_10000_mask_makes_zeros_not_subnormals(analyses):
    assert analyses["minus10000"].analysis.subnormal_work == (0, 0)


def test_a_float32_cast_after_the_softmax_carries_the_count(analyses):
    assert analyses["cast"].analysis.subnormal_work == (MASKED, MASKED * HEAD)


def _cpu_sheet(mac_ns: float | None = 2.0, softmax_ns: float | None = 6.0):
    spec = load_spec("host-epyc-1c")
    return dataclasses.replace(spec, subnormal_mac_s=None if mac_ns is None else mac_ns * 1e-9,
                               subnormal_softmax_s=None if softmax_ns is None else softmax_ns * 1e-9)


def test_a_cpu_sheet_with_figures_prices_counts_times_figures(analyses):
    from hybridperf.estimate.pricing import predict_on

    an = analyses["minus100"]
    without = predict_on(an, load_spec("host-epyc-1c"))
    priced = predict_on(an, _cpu_sheet(2.0, 6.0))
    term = (MASKED * HEAD * 2.0 + MASKED * 6.0) * 1e-9
    assert priced.subnormal_assist_s == pytest.approx(term)
    assert priced.latency_s == pytest.approx(priced.roofline_latency_s + term)
    spec = priced.spec
    assert priced.energy_j == pytest.approx(without.energy_j + spec.idle_power_w * term)
    assert "subnormal assists" in priced.subnormal_note and f"{MASKED:,}" in priced.subnormal_note
    assert not any("subnormal" in w for w in priced.warnings)


def test_the_page_and_the_annotation_say_where_the_assists_are(analyses):
    """The HTML page's sum line and annotate's totals line name the term, which is in no kernel's latency."""
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.annotate import totals_line
    from hybridperf.report.html import render_html

    priced = predict_on(analyses["minus100"], _cpu_sheet(2.0, 6.0))
    page = render_html(priced)
    assert "subnormal assists add" in page and "whole-model term" not in page.split("subnormal assists add")[1][:400]
    assert priced.subnormal_note in totals_line(priced)
    plain = predict_on(analyses["minus10000"], _cpu_sheet(2.0, 6.0))
    assert "subnormal" not in render_html(plain) and "subnormal" not in totals_line(plain)


def test_a_cpu_sheet_without_figures_says_unknown(analyses):
    from hybridperf.estimate.pricing import predict_on
    from hybridperf.report.text import to_dict

    pred = predict_on(analyses["minus100"], load_spec("host-epyc-1c"))
    assert pred.subnormal_assist_s is None and pred.latency_s == pred.roofline_latency_s
    warn = [w for w in pred.warnings if "subnormal" in w]
    assert len(warn) == 1 and "hybridperf probe" in warn[0] and f"{MASKED * HEAD:,} multiply-adds" in warn[0]
    totals = to_dict(pred)["totals"]
    assert totals["subnormal_assist_s"] is None and "subnormal_assist_s" in totals["unknown_fields"]


def test_no_subnormals_or_a_gpu_sheet_cost_nothing_and_warn_nothing(analyses):
    from hybridperf.estimate.pricing import predict_on

    clean = predict_on(analyses["minus10000"], _cpu_sheet())
    assert clean.subnormal_assist_s == 0.0 and clean.latency_s == clean.roofline_latency_s
    gpu = predict_on(analyses["minus100"], load_spec("t4"), residual=None)
    assert gpu.subnormal_assist_s == 0.0 and not any("subnormal" in w for w in gpu.warnings)


def test_another_runtime_is_not_priced_with_onnxruntimes_figures(analyses):
    from hybridperf.estimate.pricing import with_subnormal_assists, predict_on

    pred = predict_on(analyses["minus100"], load_spec("host-epyc-1c"))
    pred = dataclasses.replace(pred, latency_s=pred.roofline_latency_s, spec=_cpu_sheet(), subnormal_assist_s=0.0)
    assert with_subnormal_assists(pred, "onnxruntime").subnormal_assist_s > 0
    tvm = with_subnormal_assists(pred, "tvm")
    assert tvm.subnormal_assist_s is None and tvm.latency_s == pred.latency_s


def _sheet_with(section) -> dict:
    from hybridperf.data import packaged_dir

    raw = yaml.safe_load((packaged_dir("hw_specs") / "host-epyc-1c.yaml").read_text())
    raw["subnormal_assist"] = section
    return raw


def test_the_sheet_section_parses_and_allows_a_measured_zero():
    spec = parse_spec(_sheet_with({"mac": {"value": 2.3, "unit": "ns", "source": "measured here", "measured": True},
                                   "softmax": {"value": 0, "unit": "ns", "source": "measured here", "measured": True}}),
                      "host-epyc-1c.yaml")
    assert spec.subnormal_mac_s == pytest.approx(2.3e-9) and spec.subnormal_softmax_s == 0.0
    assert "subnormal_assist.mac" in spec.measured


@pytest.mark.parametrize("section, words", [
    ({"macs": {"value": 2, "unit": "ns", "source": "s"}}, "did you mean 'mac'"),
    ({"mac": {"value": -1, "unit": "ns", "source": "s"}}, "positive"),
    ({"mac": {"value": 2, "unit": "GB/s", "source": "s"}}, "time"),
])
def test_a_bad_section_is_refused_naming_the_fix(section, words):
    with pytest.raises(SpecError, match=words):
        parse_spec(_sheet_with(section), "host-epyc-1c.yaml")


def test_a_gpu_sheet_refuses_the_section():
    from hybridperf.data import packaged_dir

    raw = yaml.safe_load((packaged_dir("hw_specs") / "t4.yaml").read_text())
    raw["subnormal_assist"] = {"mac": {"value": 2, "unit": "ns", "source": "s"}}
    with pytest.raises(SpecError, match="CPU sheets"):
        parse_spec(raw, "t4.yaml")


def test_the_probe_writes_the_section_the_sheet_reads():
    from hybridperf.measure.probe import SubnormalAssist, subnormal_section

    a = SubnormalAssist(mac_s=2.25e-9, softmax_s=0.0, threads=1, matmul_s=0.017, matmul_normal_s=0.0004,
                        softmax_total_s=0.0018, softmax_normal_s=0.0018)
    section = subnormal_section(a, "measured by hybridperf probe on 2026-12-06")
    assert section["mac"]["value"] == 2.25 and section["softmax"]["value"] == 0
    spec = parse_spec(_sheet_with(json.loads(json.dumps(section))), "host-epyc-1c.yaml")
    assert spec.subnormal_mac_s == pytest.approx(2.25e-9) and spec.subnormal_softmax_s == 0.0


def test_a_mask_folded_with_a_weight_left_on_disk_is_kept(tmp_path):
    """Hugging Face's Swin adds its -100 mask to a relative-position bias above the 64 KiB the ONNX import reads: the
    fold became a placeholder of zeros, and its subnormals went uncounted (stage 3 of hf_swin_tiny until 2026-12-06)."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.frontends.onnx_import import INLINE_EXTERNAL_BYTES

    windows, heads, t, d = 4, 12, 49, 8
    bias = np.full((1, heads, t, t), 0.5, np.float32)
    assert bias.nbytes > INLINE_EXTERNAL_BYTES  # left on disk, a placeholder
    mask = np.zeros((windows, 1, t, t), np.float32)
    mask[1:, :, :, t // 2:] = -100.0  # three of the four windows mask their last columns
    graph = helper.make_graph(
        [helper.make_node("Add", ["bias", "mask"], ["bias_mask"]),
         helper.make_node("Add", ["scores", "bias_mask"], ["masked"]),
         helper.make_node("Softmax", ["masked"], ["probs"], axis=-1),
         helper.make_node("MatMul", ["probs", "values"], ["out"])], "hf_attention",
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [windows, heads, t, t]),
         helper.make_tensor_value_info("values", TensorProto.FLOAT, [windows, heads, t, d])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [windows, heads, t, d])],
        initializer=[numpy_helper.from_array(bias, "bias"), numpy_helper.from_array(mask, "mask")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "hf_attention.onnx"
    onnx.save(model, str(path))
    masked = (windows - 1) * t * (t - t // 2) * heads  # per masked window: every row, the last t - t//2 columns
    assert analyze(str(path)).analysis.subnormal_work == (masked, masked * d)


def test_a_priced_assist_comes_off_the_training_label(tmp_path):
    """A calibration on a sheet that prices subnormal assists: the learned model is fitted to the label less them, and
    each kernel's part comes off its unit's measured time (a prediction adds them after the learned figure)."""
    import csv
    import shutil
    from pathlib import Path

    from hybridperf.residual.model import load_table

    src = Path(__file__).resolve().parents[1] / "calibration" / "host-xeon480-1c-unseen"
    for name in ("features.csv", "kernel_features.csv"):
        shutil.copy(src / name, tmp_path / name)
    X0, y0, _, _, kt0, rows0 = load_table(tmp_path)

    def rewrite(name, change):
        with (tmp_path / name).open() as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            change(r)
        with (tmp_path / name).open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]) + [k for k in ("subnormal_assist_s",) if k not in rows[0]])
            w.writeheader()
            w.writerows(rows)

    key = "swin_t_b1_224"
    measured = float(next(r for r in rows0 if r["key"] == key)["measured_latency_s"])
    assist = 0.25 * measured
    rewrite("features.csv", lambda r: r.__setitem__("subnormal_assist_s", assist if r["key"] == key else ""))
    with (tmp_path / "kernel_features.csv").open() as f:
        first = next(r for r in csv.DictReader(f) if r["key"] == key and r["unit_roofline_s"])
    unit_meas, unit_roof = float(first["unit_measured_s"]), float(first["unit_roofline_s"])
    part = 0.5 * unit_meas  # the kernel's share of the assists, off its unit
    rewrite("kernel_features.csv", lambda r: r.__setitem__(
        "subnormal_assist_s", part if (r["key"], r["kernel"]) == (key, first["kernel"]) else ""))
    X1, y1, _, _, kt1, rows1 = load_table(tmp_path)
    i = [r["key"] for r in rows1].index(key)
    assert y1[i] == pytest.approx(y0[i] + math.log(0.75))  # (measured - assist) / roofline
    assert np.delete(y1, i) == pytest.approx(np.delete(y0, i))
    assert len(kt1.y) == len(kt0.y)  # its kernel rows still train, less their part
    unit_rows = [j for j, r in enumerate(kt0.row) if r == i
                 and math.isclose(kt0.y[j], math.log(min(max(unit_meas / unit_roof, 1e-2), 1e3)), rel_tol=1e-9)]
    assert unit_rows and all(kt1.y[j] == pytest.approx(math.log((unit_meas - part) / unit_roof)) for j in unit_rows)
    others = np.setdiff1d(np.arange(len(kt0.y)), unit_rows)
    assert kt1.y[others] == pytest.approx(kt0.y[others])


# ------------------------------------------------------------------ the measured figures (benchmarks.subnormal_assists)

def _bench():
    from benchmarks import subnormal_assists as sa

    return sa


def test_the_probes_are_of_this_xeon_with_both_thread_counts():
    sa = _bench()
    rows = sa._read(sa.OUT / "subnormal_probe.csv")
    assert sorted(int(r["threads"]) for r in rows) == [1, 1, 1, 2, 2, 2]
    assert {(r["cpu_vendor"], r["cpu_family"], r["cpu_model_id"]) for r in rows} == {("GenuineIntel", "6", "167")}
    assert (sa.OUT / "lscpu.txt").read_text().count("Model:") == 1
    figs = sa.figures()
    assert figs[1][0] == pytest.approx(2.405) and figs[2][0] == pytest.approx(1.234)  # medians of three
    assert figs[1][0] == pytest.approx(2 * figs[2][0], rel=0.05)  # two threads halve it


def test_the_counts_kept_find_only_the_swins():
    sa = _bench()
    counts = sa.stored_counts()
    assert len(counts) == 72 + 16
    found = {k for k, (_, o, m) in counts.items() if o or m}
    assert found == set(sa.AFFECTED)
    # 5 masked softmaxes (stages 1, 2 and 3's three shifted blocks), N = 32 columns meet each subnormal probability
    assert counts["swin_t_b1_224"] == counts["hf_swin_tiny_b1_224"] == (5, 256320, 256320 * 32)
    assert counts["swin_t_b2_224"] == (5, 2 * 256320, 2 * 256320 * 32)


def test_the_stored_results_are_the_kept_data_priced_again():
    """Sections 2, 3 and 5 of the results file recomputed from the kept counts, probes, DAZ timings, stored
    predictions and measurements."""
    sa = _bench()
    text = (sa.ROOT / "benchmarks" / "results" / "subnormal_assists.md").read_text()
    counts = sa.stored_counts()
    cnt = {k: counts[k] for k in sa.AFFECTED}
    figs = sa.figures()
    for section in (sa.runs_section(figs, cnt), sa.daz_section(sa.OUT, figs, cnt), sa.unseen_section(figs, counts)):
        assert "\n".join(section) in text
    assert "MAPE over these 21 rows: **32.3 % without the term, 13.6 % with it**" in text


def test_the_unseen_figures_without_the_term_are_the_unseen_networks_tables():
    sa = _bench()
    text = "\n".join(sa.unseen_section(sa.figures(), sa.stored_counts()))
    results = (sa.ROOT / "benchmarks" / "results" / "unseen_networks.md").read_text()
    assert "| `host-xeon480-1c-unseen` | unseen | 16 | 7.4 % | 75 % | 6.1 % |" in text
    assert "| `host-xeon480-2c-unseen` | unseen | 16 | 11.9 % |" in text
    assert "7.4 %" in results and "11.9 %" in results


def test_the_term_matches_what_denormals_as_zero_removes():
    sa = _bench()
    rows = sa._read(sa.OUT / "daz.csv")
    counts = sa.stored_counts()
    mac_ns, sm_ns = sa.figures()[2]
    for key in sa.AFFECTED:
        med = {m: sorted(float(r["best_s"]) for r in rows if r["key"] == key and r["mode"] == m)
               for m in ("default", "daz")}
        removed = med["default"][len(med["default"]) // 2] - med["daz"][len(med["daz"]) // 2]
        _, outputs, macs = counts[key]
        assert removed == pytest.approx((macs * mac_ns + outputs * sm_ns) * 1e-9, rel=0.15)


def test_the_assist_is_an_intel_thing_in_the_stored_kernel_rows():
    sa = _bench()
    from benchmarks.cpu_cross_host import HOSTS

    lines = [ln for ln in sa.hosts_section() if ln.startswith("| `host-")]
    assert len(lines) == len(HOSTS)  # every setting of the cross-host table
    ratio = {ln.split("`")[1]: float(ln.split("|")[3].strip().rstrip("x")) for ln in lines}
    assert all(ratio[h] > 15 for h in ratio if "xeon" in h) and all(ratio[h] < 2.5 for h in ratio if "epyc" in h)


@pytest.mark.torch
def test_a_mask_computed_in_a_torch_program_is_evaluated_and_counted():
    """torch.export keeps Swin's mask computation (a zeros image, slice assignments, masked_fill(-100)) as constant
    subexpressions, not a constant: the cost pass evaluates the one a softmax reads (its literals include -100)."""
    torch = pytest.importorskip("torch")
    from hybridperf.api import analyze

    t, d = 8, 4

    class Masked(torch.nn.Module):
        def forward(self, scores, values):
            img = scores.new_zeros((t,))
            img[t // 2:] = 1.0  # two regions, as a shifted window's
            diff = img[None, :] - img[:, None]
            mask = diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)
            return torch.softmax(scores + mask, dim=-1) @ values

    ep = torch.export.export(Masked(), (torch.randn(1, HEADS, t, t), torch.randn(1, HEADS, t, d)))
    masked = HEADS * 2 * (t // 2) * (t // 2)  # the off-diagonal blocks, over the heads
    assert analyze(ep).analysis.subnormal_work == (masked, masked * d)


def test_a_mask_that_could_not_be_evaluated_is_unknown_not_zero(analyses):
    from hybridperf.analysis.cost_pass import ModelAnalysis
    from hybridperf.estimate.pricing import predict_on

    an = analyses["minus10000"]
    recs = tuple(dataclasses.replace(r, subnormal_unknown=True) if r.op == "relax.nn.softmax" else r
                 for r in an.analysis.records)
    broken = dataclasses.replace(an, analysis=dataclasses.replace(an.analysis, records=recs))
    assert isinstance(broken.analysis, ModelAnalysis)
    pred = predict_on(broken, _cpu_sheet())
    assert pred.subnormal_assist_s is None and pred.latency_s == pred.roofline_latency_s
    assert any("could not be evaluated" in w for w in pred.warnings)
