"""Audit 2026-12-03 of ``report --html``, ``predict``'s table and ``mig --format json`` as a performance engineer reads
them, figure by figure against ``predict --format json``.

What a user got before, pinned here:

* the roofline dot's tooltip gave a kernel's share of the kernels' summed device time (SqueezeNet 1.1 on
  ``a100-sxm-80gb``: ``lv111`` 40.1 us "(6.1%)") while the kernel table gave its share of the total latency (1.6 %);
* the page left out ``predict``'s WARNING lines (``latency unverified: the model's fitted constant overhead (100 us)
  is most of this figure``);
* on a CPU sheet the kernels' latencies summed to 9.268 ms of SqueezeNet's 9.368 ms (0.631 us of 100.6 us for one
  Add) and nothing said where the rest was;
* 65 table rows under a ``kernels 38`` card (27 zero-cost rows), nothing saying why;
* a kernel of 2.5 us beside a 9 ms total read ``0.0%`` of it;
* a kernel of 12 fused ops read ``relu+sigmoid+tanh+exp+relu+sigmoid+tanh+exp+relu`` in the table (its first 9),
  nothing saying the list went on;
* the ``kernels`` card read ``(fused)`` for an eager-torch prediction whose ops TVM does not fuse (a Relu and a
  NonZero), though torch runs one kernel per op.

Tiny models on the toy device of :mod:`test_energy` (10 TFLOP/s fp32, 1000 GB/s, 5 us launch), roofline only.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from html import unescape

import pytest
from onnx import TensorProto, helper
from test_energy import toy
from test_no_silent_zeros import _save

from hybridperf.api import analyze, predict_on
from hybridperf.device.spec import MigProfile
from hybridperf.estimate.execution import ExecutionSummary
from hybridperf.estimate.mig import MigOption, MigSuggestion
from hybridperf.estimate.pricing import BELOW_TRAINING_SCALE
from hybridperf.report.format import fmt_time
from hybridperf.report.html import render_html
from hybridperf.report.mig import to_json as mig_json
from hybridperf.report.text import clip, share_text, to_dict, to_table

F32 = TensorProto.FLOAT
vi = helper.make_tensor_value_info
UNARY = ("Relu", "Sigmoid", "Tanh", "Exp")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("report_user_audit")
    w = helper.make_tensor("w", F32, [16, 16], [1.0] * 256)
    chain = [helper.make_node(UNARY[i % 4], ["x" if i == 0 else f"t{i - 1}"], [f"t{i}"]) for i in range(12)]
    return {
        # MatMul + Add: one fused kernel on the roofline
        "matmul_add": _save(
            [helper.make_node("MatMul", ["a", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])],
            [vi("a", F32, [2, 16]), vi("b", F32, [2, 16])], [vi("y", F32, [2, 16])], d / "matmul_add.onnx", inits=[w]),
        # 12 unary ops TVM fuses into one kernel with a long name
        "chain": _save(chain, [vi("x", F32, [64, 64])], [vi("t11", F32, [64, 64])], d / "chain.onnx"),
        # a Relu and a NonZero: TVM does not fuse them, so TVM's kernels and torch's are the same two
        "nonzero": _save(
            [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("NonZero", ["r"], ["y"])],
            [vi("x", F32, [4, 8])], [vi("y", TensorProto.INT64, None)], d / "nonzero.onnx"),
    }


@pytest.fixture(scope="module")
def preds(models):
    return {k: predict_on(analyze(p), toy(), residual=None) for k, p in models.items()}


def _rows(page: str) -> list[dict[str, str]]:
    """The kernel table of a page: one dict per row, keyed by the header."""
    tab = page[page.index('<h2 id="kernels">'):]
    cells = [[unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r)]
             for r in re.findall(r"<tr>(.*?)</tr>", tab)]
    return [dict(zip(cells[0], r)) for r in cells[1:]]


def _notes(page: str) -> list[str]:
    return [unescape(n) for n in re.findall(r'<p class="(?:note|warn)">(.*?)</p>', page)]


def _kernel_note(page: str) -> str:
    (note,) = [n for n in _notes(page) if n.startswith("latency: the prediction's, per kernel")]
    return note


# --------------------------------------------------------------------------- shares


def test_roofline_tooltip_share_is_the_tables_share(preds):
    """A runtime whose total is more than its kernels' sum (eager torch: max(host, device) + sync): the tooltip read
    the kernel's share of the kernels' sum (100.0 % for the only kernel), the table its share of the total."""
    pred = preds["matmul_add"]
    (k,) = pred.kernels
    composed = dataclasses.replace(pred, latency_s=4 * k.latency_s)  # the kernel is a quarter of the total
    page = render_html(composed)
    (tip,) = re.findall(r'<circle class="kernel"[^>]*><title>(.*?)</title>', page, re.S)
    assert f"latency {fmt_time(k.latency_s)} (25.0% of the total)" in unescape(tip)  # 1 / 4
    (row,) = _rows(page)
    assert row["share"] == "25.0%"


def test_share_of_a_nonzero_kernel_never_reads_zero(preds):
    """A 5 us kernel in a 1 s total is 0.0005 %: it read ``0.0%`` in both tables."""
    assert share_text(2.4e-6, 0.5) == "<0.1%"  # 0.00048 %
    assert share_text(0.0005, 1.0) == "0.1%"  # 0.05 % rounds up: shown as it is
    assert share_text(0.0, 1.0) == "0.0%"  # a zero-cost kernel is 0
    assert share_text(1e-6, 0.0) == share_text(None, 1.0) == "-"
    pred = dataclasses.replace(preds["matmul_add"], latency_s=1.0)
    (row,) = _rows(render_html(pred))
    assert row["share"] == "<0.1%"
    line = [ln for ln in to_table(pred).splitlines() if ln.startswith("fused_matmul")][0]
    assert line.split()[5] == "<0.1%"  # kernel, ops, status, latency (2 words), share


# --------------------------------------------------------------------------- sums and counts


def test_kernel_sum_and_the_whole_model_term_are_stated(preds):
    """A learned CPU model adds a whole-model term (its fitted constant overhead) to the kernels' sum: the page said
    nothing of the difference (0.631 us of a 100.6 us total)."""
    pred = preds["matmul_add"]
    (k,) = pred.kernels
    assert _kernel_note(render_html(pred)).startswith(
        "latency: the prediction's, per kernel; the kernels' latencies sum to the total;")
    total = k.latency_s + 100e-6
    note = _kernel_note(render_html(dataclasses.replace(pred, latency_s=total)))
    assert (f"the kernels' latencies sum to {fmt_time(k.latency_s)} of the {fmt_time(total)} total "
            f"({share_text(k.latency_s, total)}); the other 100.0 us is priced for the model as a whole") in note


def test_kernel_sum_of_a_lower_bound_and_of_nothing_priced(preds):
    pred = preds["nonzero"]
    note = _kernel_note(render_html(pred))
    assert "sum to the total (a lower bound: the kernels without a cost have no time)" in note
    nothing = dataclasses.replace(pred, latency_s=0.0,
                                  kernels=tuple(dataclasses.replace(kp, latency_s=0.0) for kp in pred.kernels))
    assert "no kernel was priced: the total is unknown;" in _kernel_note(render_html(nothing))


def test_zero_cost_rows_are_counted_against_the_card(tmp_path):
    """A Conv with a bias: its bias reshaped to 1x3x1x1 (a constant, folded at compile time) is a zero-cost row
    beside the conv kernel, under ``kernels 1``."""
    w = helper.make_tensor("w", F32, [3, 2, 1, 1], [1.0] * 6)
    bias = helper.make_tensor("bias", F32, [3], [0.5] * 3)
    path = _save([helper.make_node("Conv", ["x", "w", "bias"], ["y"])], [vi("x", F32, [1, 2, 4, 4])],
                 [vi("y", F32, [1, 3, 4, 4])], tmp_path / "conv_bias.onnx", inits=[w, bias])
    pred = predict_on(analyze(path), toy(), residual=None)
    rep = to_dict(pred)
    zero = [k for k in rep["kernels"] if k["status"] == "zero-cost"]
    page = render_html(pred)
    assert len(_rows(page)) == len(rep["kernels"]) == rep["totals"]["kernels"] + len(zero)
    assert len(zero) >= 1
    assert (f"{len(zero)} of the {len(rep['kernels'])} rows are zero-cost kernels (views, constants folded at compile "
            f"time: no time, no traffic), which the kernels card above ({rep['totals']['kernels']}) does not count."
            ) in _kernel_note(page)


# --------------------------------------------------------------------------- warnings, grouping, names


def test_page_shows_predicts_warnings(preds):
    why = ("the model's fitted constant overhead (100 us) is most of this figure (its kernels 5.0 us): "
           + BELOW_TRAINING_SCALE)
    pred = preds["matmul_add"].unverified(why)
    (warning,) = pred.warnings
    assert f"WARNING   {warning}" in to_table(pred)
    assert f"warning: {warning}" in _notes(render_html(pred))
    assert not [n for n in _notes(render_html(preds["matmul_add"])) if n.startswith("warning:")]


def test_kernels_card_names_torchs_one_kernel_per_op(preds):
    pred = preds["nonzero"]
    assert len(pred.kernels) == len(pred.analyzed.kernels) == 2  # the counts alone cannot tell
    eager = dataclasses.replace(pred, execution=ExecutionSummary("torch", 1, 1, 28e-6, 3e-6, "max(host, device) + sync",
                                                                 True))
    card = '<div class="k">kernels</div><div class="v">1</div><div class="d">from 2 ops (%s)</div>'
    assert card % "one per op on torch" in render_html(eager)
    tvm = dataclasses.replace(eager, execution=dataclasses.replace(eager.execution, runtime="tvm"))
    assert card % "fused" in render_html(tvm)


def test_clipped_names_say_so(preds):
    assert clip("a" * 41, 40) == "a" * 37 + "..." and clip("a" * 40, 40) == "a" * 40
    pred = preds["chain"]
    (k,) = [kp for kp in pred.kernels if kp.kernel.counts_toward_time]
    ops = "+".join(UNARY[i % 4].lower() for i in range(12))  # relu+sigmoid+tanh+exp three times, 11 "+"
    assert len(k.kernel.name) > 40 and len(ops) == 3 * (4 + 7 + 4 + 3) + 11 == 65
    line = [ln for ln in to_table(pred).splitlines() if ln.startswith(k.kernel.name[:30])][0]
    name, op_cell = line.split()[:2]
    assert name == k.kernel.name[:37] + "..." and op_cell == ops[:45] + "..."
    (row,) = _rows(render_html(pred))
    assert row["kernel"] == k.kernel.name  # the page has room: the whole name
    assert row["ops"] == ops  # 65 <= 70 characters: whole
    assert row["ops"].count("+") == 11


# --------------------------------------------------------------------------- mig JSON


def test_mig_json_refuses_nan():
    """``mig --format json`` printed ``NaN`` (invalid JSON) where a figure was not a number; now it raises (exit 3)
    as ``predict --format json`` does, and a finite report is strict JSON with units in its field names."""
    prof = MigProfile("1g.10gb", 1, 7, 10e9)
    opt = MigOption(prof, 1 / 7, 0.125, 600 * 2**20, True, 4.6e-3, None)
    s = MigSuggestion("a100-sxm-80gb", 100 * 2**20, 500 * 2**20, None, (opt,), "torch peak")
    d = json.loads(mig_json(s, "m.onnx"))
    assert d["profiles"][0]["memory_bytes"] == 10 * 10**9
    assert d["profiles"][0]["required_bytes"] == 600 * 2**20 == d["peak_memory_bytes"] + d["headroom_bytes"]
    assert d["profiles"][0]["latency_s"] == 4.6e-3 and d["suggested"] == "1g.10gb"
    bad = dataclasses.replace(s, options=(dataclasses.replace(opt, latency_s=math.nan),))
    with pytest.raises(ValueError):
        mig_json(bad, "m.onnx")


def test_mig_bandwidth_share_is_whole_eighths():
    """H200's profiles hold 18, 35 and 71 GB of 141 GB: ``bw share`` read 0.128, 0.248 and 0.504 (capacity ratios)
    where MIG gives 1/8, 2/8 and 4/8 of the memory controllers; the A100's exact eighths are unchanged."""
    from hybridperf.device.spec import load_spec
    from hybridperf.estimate.mig import memory_fraction, require_profiles

    h200 = load_spec("h200-sxm")
    got = {p.name: memory_fraction(p, h200) for p in require_profiles(h200)}
    assert got == {"1g.18gb": 1 / 8, "1g.35gb": 2 / 8, "2g.35gb": 2 / 8, "3g.71gb": 4 / 8, "4g.71gb": 4 / 8,
                   "7g.141gb": 8 / 8}
    a100 = load_spec("a100-sxm-40gb")
    assert [memory_fraction(p, a100) for p in require_profiles(a100)] == [1 / 8, 2 / 8, 2 / 8, 4 / 8, 4 / 8, 8 / 8]


def test_coverage_never_rounds_up_to_every_op(tmp_path):
    """2000 Relus and a NonZero: 2000 / 2001 = 99.95 % read ``100.0% of ops costed (counted 2000, unsupported 1)``
    in the table and ``100.0%`` on the page's card; the share is now floored (99.9 %)."""
    from hybridperf.report.text import coverage_text

    assert coverage_text(1.0) == "100.0%" and coverage_text(2000 / 2001) == "99.9%"
    assert coverage_text(57 / 100) == "57.0%"  # 57 / 100 * 1000 is 569.99... in floats: not floored to 56.9
    n = 2000
    nodes = [helper.make_node("Relu", ["x" if i == 0 else f"t{i - 1}"], [f"t{i}"]) for i in range(n)]
    nodes.append(helper.make_node("NonZero", [f"t{n - 1}"], ["y"]))
    path = _save(nodes, [vi("x", F32, [2])], [vi("y", TensorProto.INT64, None)], tmp_path / "relus.onnx")
    pred = predict_on(analyze(path), toy(), residual=None)
    assert to_dict(pred)["coverage"]["covered_share"] == n / (n + 1)
    assert "\ncoverage  99.9% of ops costed (counted 2000, unsupported 1)\n" in to_table(pred, top=0) + "\n"
    assert '<div class="k">coverage</div><div class="v">99.9%</div>' in render_html(pred)


def test_tiny_nonzero_figures_and_large_capacities():
    """Found by the report audit: ``fmt_time(4e-11)`` read ``0.0 ns`` and ``fmt_energy(4e-14)`` ``0.0 pJ`` (nonzero
    figures printed as zero); capacities stopped at GiB (1 TiB read ``1024.00 GiB``)."""
    from hybridperf.report.format import fmt_bytes, fmt_energy, fmt_time

    assert fmt_time(4e-11) == "0.04 ns" and fmt_energy(4e-14) == "0.04 pJ"
    assert fmt_time(0) == "0.0 us" and fmt_time(2.5e-9) == "2.5 ns" and fmt_time(1.23e-3) == "1.230 ms"
    assert fmt_bytes(2**40) == "1.00 TiB" and fmt_bytes(3 * 2**50) == "3.00 PiB" and fmt_bytes(1023 * 2**30) == "1023.00 GiB"
