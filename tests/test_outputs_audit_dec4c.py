"""Audit 2026-12-04 (c) of ``report --html``, ``annotate`` and the torch frontend's errors.

``report`` and ``annotate`` were compared with ``predict --format json`` on SqueezeNet, BERT-tiny, an int8 QDQ
SqueezeNet, a dynamically quantized BERT-tiny and SqueezeNet + NonZero (a100-sxm-80gb, h100-sxm, host-epyc-1c,
host-xeon-1c, ethos-u55; --precision fp16 / int8, --no-fuse): every card, every kernel row, annotate's header, its
per-op FLOPs and its kernel times agreed to the printed digit, and ``--show-meta`` parsed back with
``tvm.script.from_source``. The agreement is pinned here on a small model with an uncosted op and script-like
names. The defect found was in the torch frontend: what ``load_torch`` said when ``torch.export`` failed.
"""

from __future__ import annotations

import json
import re
from html import unescape

import onnx
import pytest
from onnx import TensorProto, helper

from hybridperf.cli import main
from hybridperf.frontends.torch_export import _export_failure, _export_hint
from hybridperf.report.format import fmt_bound, fmt_bytes, fmt_count, fmt_energy, fmt_flops, fmt_time

#: what torch 2.14's export raises for ``if x.sum() > 0:`` in forward (the message as torch writes it)
_GUARD_MESSAGE = (
    "Could not guard on data-dependent expression Eq(u0, 1) (unhinted: Eq(u0, 1)).  (Size-like symbols: none)\n\n"
    "consider using data-dependent friendly APIs such as guard_or_false, guard_or_true and statically_known_true.\n"
    "Caused by: (_export/non_strict_utils.py:1377 in __torch_function__)\n"
    'For more information, run with TORCH_LOGS="dynamic"\n\n'
    "The following call raised this error:\n"
    '  File "/home/me/model.py", line 11, in forward\n'
    "    if x.sum() > 0: return x * 2\n\n\n"
    "The error above occurred when calling torch.export.export. If you would like to view some more information "
    "about this error, and get a list of all other errors that may occur in your export call, you can replace your "
    "`export()` call with `draft_export()`."
)


class GuardOnDataDependentSymNode(RuntimeError):
    """Stands in for ``torch.fx.experimental.symbolic_shapes.GuardOnDataDependentSymNode`` (no torch needed)."""


def test_export_failure_names_the_cause_and_the_line():
    # until 2026-12-04 the message's last line was taken, cut at 200 characters: "The error above occurred when
    # calling torch.export.export. If you would like to view some more information about this error, and get a list
    # of all other errors that may occur in your export call, you"
    text = _export_failure(GuardOnDataDependentSymNode(_GUARD_MESSAGE))
    assert text == ("GuardOnDataDependentSymNode: Could not guard on data-dependent expression Eq(u0, 1) (unhinted: "
                    "Eq(u0, 1)).  (Size-like symbols: none) at model.py:11: if x.sum() > 0: return x * 2")
    assert _export_failure(RuntimeError("a and b must have same reduction dim, but got [3, 5] X [8, 8].")) == (
        "RuntimeError: a and b must have same reduction dim, but got [3, 5] X [8, 8].")


def test_export_hint_fits_the_failure():
    # until 2026-12-04 every failure but a TypeError read "make the model exportable (no data-dependent control
    # flow)", also a Linear(8, 8) given a 3x5 input
    assert "example_inputs={'x': x" in _export_hint(TypeError("x"))
    assert "data-dependent control flow (torch.cond" in _export_hint(GuardOnDataDependentSymNode("x"))
    shape = _export_hint(RuntimeError("a and b must have same reduction dim"))
    assert shape.startswith("check that module(*example_inputs) runs (the shapes and dtypes forward() expects)")


def test_load_torch_export_error_is_one_line_with_the_cause():
    torch = pytest.importorskip("torch")
    from hybridperf.errors import ModelLoadError
    from hybridperf.frontends.torch_export import load_torch

    class Branchy(torch.nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x * 2
            return x

    with pytest.raises(ModelLoadError) as e:
        load_torch(Branchy(), torch.randn(4, 8))
    msg = str(e.value)
    assert "\n" not in msg
    assert "Could not guard on data-dependent expression" in msg and "if x.sum() > 0:" in msg
    assert "The error above occurred" not in msg


# ------------------------------------------------------------- report / annotate agree with predict --format json


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    """MatMul [1,64]x[64,32] -> Relu -> NonZero (no cost rule), with '<script>' and '&' in the file, input, weight
    and node names."""
    import numpy as np
    from onnx import numpy_helper

    f32 = TensorProto.FLOAT
    x = "in<script>alert(1)</script>&x"
    nodes = [helper.make_node("MatMul", [x, "W&<b>"], ["h<i>"], name="mm<script>&"),
             helper.make_node("Relu", ["h<i>"], ['y"<>&'], name="relu&<x>"),
             helper.make_node("NonZero", ['y"<>&'], ["nz<script>"], name="nz<script>&")]
    g = helper.make_graph(nodes, "g<script>&", [helper.make_tensor_value_info(x, f32, [1, 64])],
                          [helper.make_tensor_value_info("nz<script>", TensorProto.INT64, None)],
                          [numpy_helper.from_array(np.ones((64, 32), np.float32), "W&<b>")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path_factory.mktemp("dec4c") / "m<script>&.onnx"
    onnx.save(m, str(path))
    return path


def _run(capsys, *argv):
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def _cards(page: str) -> dict[str, str]:
    return {unescape(k): unescape(v) for k, v in re.findall(
        r'<div class="card"><div class="k">(.*?)</div><div class="v">(.*?)</div>', page)}


@pytest.mark.parametrize("device", ["a100-sxm-80gb", "host-epyc-1c"])
def test_report_cards_and_rows_are_predicts_json(scripted, tmp_path, capsys, device):
    d = json.loads(_run(capsys, "predict", str(scripted), "--device", device, "--format", "json"))
    page_path = tmp_path / "r.html"
    _run(capsys, "report", str(scripted), "--device", device, "--html", str(page_path))
    page = page_path.read_text()
    t = d["totals"]
    assert t["lower_bound"]  # NonZero has no cost rule
    cards = _cards(page)
    assert cards["latency"] == fmt_bound(t["latency_s"], fmt_time, True)
    assert cards["energy"] == fmt_bound(t["energy_j"], fmt_energy, True)
    assert cards["compute"] == fmt_bound(t["flops"], fmt_flops, True)
    assert cards["DRAM traffic"] == fmt_bound(t["bytes_read"] + t["bytes_written"], fmt_bytes, True)
    assert cards["kernels"] == str(t["kernels"])
    rows = [[unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)]
            for r in re.findall(r"<tr>(<td.*?)</tr>", page)]
    assert [(r[0], r[5], r[8]) for r in rows] == [
        (k["name"], "unknown" if k["latency_s"] is None else fmt_time(k["latency_s"]),
         "unknown" if k["flops"] is None else f"{fmt_count(k['flops'])}FLOP") for k in d["kernels"]]
    assert "unknown" in [r[5] for r in rows]  # the NonZero kernel, where a kernel list has it
    # escaped, and one file: no script, no URL but the plot's own clip path
    assert "<script" not in page.lower() and "in&lt;script&gt;alert(1)&lt;/script&gt;&amp;x" in page
    assert set(re.findall(r"url\(([^)]*)\)", page)) == {"#plotclip"} and "http" not in page


def test_annotate_sums_to_predict_roofline(scripted, capsys):
    device = "a100-sxm-80gb"
    d = json.loads(_run(capsys, "predict", str(scripted), "--device", device, "--format", "json", "--roofline-only"))
    text = _run(capsys, "annotate", str(scripted), "--device", device)
    t = d["totals"]
    head = text.splitlines()[0]
    assert f"latency {fmt_bound(t['latency_s'], fmt_time, True)} (lower bound: 1 op uncosted: nonzero)" in head
    assert head.endswith(f"TVM plan peak memory ≥ {fmt_bytes(d['memory']['peak_bytes'])}, "
                         f"{fmt_bound(t['flops'], fmt_flops, True)}")
    comments = re.findall(r"^\s+\w+(?::.*?)? = .*?  # (.*)$", text, re.M)
    assert len(comments) == len(d["ops"]) == 3
    assert comments[2] == "UNSUPPORTED: no cost rule for this op"
    flops = [re.match(r"([0-9.]+ ?[kMG]?)FLOP", c).group(1) for c in comments[:2]]
    assert flops == [fmt_count(1 * 64 * 32 * 2), fmt_count(1 * 32)] == [fmt_count(o["flops"]) for o in d["ops"][:2]]
    assert sum(o["flops"] for o in d["ops"][:2]) == t["flops"] == 1 * 64 * 32 * 2 + 1 * 32
    times = [m.groups() for c in comments if (m := re.search(r" ([0-9.]+ [num]?s), ([0-9.]+ [kmunp]?J)$", c))]
    assert times == [(fmt_time(k["latency_s"]), fmt_energy(k["energy_j"])) for k in d["kernels"] if k["latency_s"]]
