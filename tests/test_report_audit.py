"""Audit 2026-12-03 of the report outputs (``predict --format table|json``, ``report --html``, ``annotate``).

What a user got before, pinned here:

* ``totals.kernels``, the table's ``compute`` line and the HTML ``kernels`` card counted TVM's fused kernels (38 for
  SqueezeNet on t4) while the kernel list, the ``runtime`` line and ``report``'s own summary line counted the
  runtime's (90: eager torch runs one kernel per op);
* an op or kernel without a cost read ``0`` (``flops: 0``, ``latency_s: 0.0``; ``0.0 us`` / ``0 FLOP`` in the table
  and the HTML) -- now ``null`` / ``unknown``;
* under ``--precision`` the ``ops[]`` traffic and annotate's per-op traffic were the float32 figures while the totals
  were priced at the override, so the ops did not sum to the totals;
* ``report``'s summary line printed ``latency 0.0 us`` for a model with nothing priced (and no ``≥`` for a lower
  bound); the HTML bars read ``max 1.000 s`` when no kernel had a time;
* annotate repeated a fused kernel's time on each of its ops (the shown times summed to n times the total) and its
  text did not parse back (``metadata`` undefined) with no way to get the constants;
* ``report --html -`` wrote a file named ``-``; ``--html /dev/stdout`` failed after the analysis ("Invalid
  cross-device link"); a folder the process cannot write in was found only after the analysis.

Tiny models on the toy device of :mod:`test_energy` (10 TFLOP/s fp32, 1000 GB/s, 5 us launch): golden values are
written as arithmetic.
"""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from onnx import TensorProto, helper
from test_energy import toy
from test_html_report import _Nesting
from test_no_silent_zeros import _save

from hybridperf.api import analyze, predict_on
from hybridperf.cli import ExitCode, main
from hybridperf.report.annotate import annotate_text, binding_comments
from hybridperf.report.format import fmt_energy
from hybridperf.report.html import render_html, written_line
from hybridperf.report.text import to_dict, to_json, to_table

F32 = TensorProto.FLOAT


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("report_audit")
    vi = helper.make_tensor_value_info
    w = helper.make_tensor("w", F32, [16, 16], [1.0] * 256)
    return {
        # MatMul + Add of a second input: TVM fuses them into one kernel; eager torch runs two
        "two_inputs": _save(
            [helper.make_node("MatMul", ["a", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])],
            [vi("a", F32, [2, 16]), vi("b", F32, [2, 16])], [vi("y", F32, [2, 16])], d / "two_inputs.onnx", inits=[w]),
        "nonzero": _save(
            [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("NonZero", ["r"], ["y"])],
            [vi("x", F32, [4, 8])], [vi("y", TensorProto.INT64, None)], d / "nonzero.onnx"),
        # NonZero feeding more ops: their shapes are symbolic, so nothing is priced and there is no memory plan
        "nz_chain": _save(
            [helper.make_node("NonZero", ["x"], ["nz"]), helper.make_node("Cast", ["nz"], ["c"], to=F32),
             helper.make_node("Relu", ["c"], ["y"])],
            [vi("x", F32, [4, 8])], [vi("y", F32, None)], d / "nz_chain.onnx"),
        # odd characters in the file name and the input name: the HTML must escape them
        "odd": _save(
            [helper.make_node("Relu", ['in"put<1>'], ["y"])], [vi('in"put<1>', F32, [4, 8])], [vi("y", F32, [4, 8])],
            d / 'we<ird>&"name.onnx'),
    }


@pytest.fixture(scope="module")
def preds(models):
    return {k: predict_on(analyze(p), toy(), residual=None) for k, p in models.items()}


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- kernel count


def test_kernel_count_is_the_listed_kernels_everywhere(models, tmp_path, capsys):
    """On t4 (eager torch: one kernel per op) MatMul + Add are 2 kernels in every view, not TVM's 1 fused kernel."""
    m = models["two_inputs"]
    code, out, _ = _cli(capsys, "predict", m, "-d", "t4", "--format", "json")
    rep = json.loads(out)
    assert code == ExitCode.OK and rep["totals"]["kernels"] == len(rep["kernels"]) == rep["execution"]["launches"] == 2
    code, out, _ = _cli(capsys, "predict", m, "-d", "t4", "--top", "0")
    assert "\ncompute   1.056 kFLOP (FLOP = 2 x MAC), 2 kernels from 2 ops\n" in out  # 2*2*16*16 + 2*16
    code, out, _ = _cli(capsys, "report", m, "-d", "t4", "--html", str(tmp_path / "r.html"))
    assert code == ExitCode.OK and out.endswith("  2 kernels\n")
    page = (tmp_path / "r.html").read_text()
    assert '<div class="k">kernels</div><div class="v">2</div><div class="d">from 2 ops (one per op on torch)</div>' in page


# --------------------------------------------------------------------------- unknown is never 0


def test_json_uncosted_kernel_and_op_are_null(preds):
    rep = to_dict(preds["nonzero"])
    relu, nz = rep["kernels"]
    # Relu on 4x8 float32: 32 FLOP, 128 B read + 128 B written
    assert (relu["flops"], relu["bytes_read"], relu["bytes_written"]) == (32, 4 * 8 * 4, 4 * 8 * 4)
    assert nz["status"] == "unsupported"
    assert {k: nz[k] for k in ("flops", "bytes_read", "bytes_written", "latency_s", "roofline_latency_s", "energy_j")} \
        == dict.fromkeys(("flops", "bytes_read", "bytes_written", "latency_s", "roofline_latency_s", "energy_j"))
    op = rep["ops"][1]
    assert op["op"] == "relax.nonzero" and (op["flops"], op["bytes_read"], op["bytes_written"]) == (None, None, None)
    json.loads(to_json(preds["nonzero"]), parse_constant=pytest.fail)  # strict JSON: no NaN / Infinity


def test_table_uncosted_row_reads_unknown(preds):
    row = to_table(preds["nonzero"]).splitlines()[-1].split()
    assert row == ["lv1", "nonzero", "unsupported", "unknown", "-", "none", "unknown", "unknown"]


@pytest.mark.parametrize("runtime", ["torch", "torch-cudagraph", "tvm"])
def test_gpu_runtimes_list_uncosted_kernels_as_cpu_sheets_do(models, runtime, capsys):
    """On t4 the kernel list of every runtime left the unpriced NonZero out (it only showed in the UNSUPPORTED line):
    now its row reads unknown / null, after the Relu it follows, as on CPU sheets; the kernel count stays the timed 1."""
    code, out, _ = _cli(capsys, "predict", models["nonzero"], "-d", "t4", "--runtime", runtime, "--format", "json")
    rep = json.loads(out)
    assert code == ExitCode.OK and rep["totals"]["kernels"] == 1 and rep["totals"]["lower_bound"]
    assert [(k["ops"], k["status"], k["latency_s"], k["flops"]) for k in rep["kernels"]] == [
        (["relax.nn.relu"], "counted", rep["kernels"][0]["latency_s"], 32), (["relax.nonzero"], "unsupported", None, None)]
    code, out, _ = _cli(capsys, "predict", models["nonzero"], "-d", "t4", "--runtime", runtime)
    assert "UNSUPPORTED relax.nonzero (shown as rows; latency excludes them)" in out
    assert out.rstrip().splitlines()[-1].split()[1:] == ["nonzero", "unsupported", "unknown", "-", "none", "unknown",
                                                         "unknown"]


def test_table_without_rows_says_why(preds, tmp_path):
    reshape = _save([helper.make_node("Reshape", ["x", "s"], ["y"])], [helper.make_tensor_value_info("x", F32, [4, 8])],
                    [helper.make_tensor_value_info("y", F32, [32])], tmp_path / "reshape.onnx",
                    inits=[helper.make_tensor("s", TensorProto.INT64, [1], [32])])
    table = to_table(predict_on(analyze(reshape), toy(), residual=None))
    assert table.endswith("\n\nkernels   none to list: every op is zero-cost")


def test_html_uncosted_kernel_reads_unknown(preds):
    page = render_html(preds["nonzero"])
    row = re.search(r"<tr><td>lv1</td>(.*?)</tr>", page).group(1)
    assert re.findall(r"<td[^>]*>(.*?)</td>", row) == ["nonzero", "unsupported", "none", "none", "unknown", "-",
                                                      "unknown", "unknown", "unknown"]
    page = render_html(preds["nz_chain"])  # nothing priced: no "max 1.000 s" scale, no "-" for the unknown plan
    assert "latency per kernel (no kernel priced)" in page and "DRAM traffic per kernel (none known)" in page
    assert ('<div class="k">peak memory</div><div class="v">unknown</div><div class="d">TVM plan unknown (no memory '
            "plan: symbolic shapes); known parts: weights 0 B + inputs 128 B</div>") in page
    assert "no memory plan (symbolic shapes): activation bytes unknown." in page
    assert "from 3 ops (unfused)" in page  # the analysis could not fuse symbolic shapes


def test_report_summary_line_keeps_bounds(preds):
    # Relu: 256 B at 1000 GB/s = 0.256 ns, under the 5 us launch: 5.000256 us, a lower bound (NonZero unpriced)
    assert written_line(preds["nonzero"], "r.html") == "r.html  latency ≥ 5.0 us  peak memory ≥ 256 B  1 kernel"  # "1 kernels" until 2026-12-04
    assert written_line(preds["nz_chain"], "r.html") == "r.html  latency unknown  peak memory unknown  0 kernels"


# --------------------------------------------------------------------------- ops sum to the totals


def test_ops_traffic_is_priced_at_the_override(models):
    pred = predict_on(analyze(models["nonzero"]), toy(), precision="fp16", residual=None)
    rep = to_dict(pred)
    relu = rep["ops"][0]
    assert (relu["bytes_read"], relu["bytes_written"]) == (4 * 8 * 2, 4 * 8 * 2)  # float32 stored in 2 B at fp16
    known = [op for op in rep["ops"] if op["flops"] is not None]
    for key in ("flops", "bytes_read", "bytes_written"):
        assert sum(op[key] for op in known) == rep["totals"][key]
    # the kernel's energy: 50 W idle x (5 us launch + 128 B at 1000 GB/s) + 32/2 MAC x 0.5 pJ (fp16) + 128 B x 10 pJ
    energy = fmt_energy(50 * (5e-6 + (64 + 64) / 1000e9) + (32 / 2 * 0.5 + (64 + 64) * 10) * 1e-12)
    assert energy == "250.0 uJ"
    assert binding_comments(pred)["lv"] == f"# 32 FLOP, read 64 B, write 64 B, 5.0 us, {energy}"


# --------------------------------------------------------------------------- HTML against the table


def _card(page, key):
    m = re.search(rf'<div class="k">{key}</div><div class="v">(.*?)</div><div class="d">(.*?)</div>', page)
    return unescape(m.group(1)), unescape(m.group(2))


def test_html_cards_equal_the_table(preds):
    pred = preds["two_inputs"]
    lines = {line[:10].strip(): line[10:] for line in to_table(pred, top=0).splitlines()}
    page = render_html(pred)
    assert lines["latency"].startswith(_card(page, "latency")[0] + "   ")
    assert lines["energy"] == _card(page, "energy")[0]
    assert lines["memory"].startswith("peak " + _card(page, "peak memory")[0] + " = ")
    assert lines["compute"].startswith(_card(page, "compute")[0] + " (FLOP = 2 x MAC), 1 kernel from 2 ops")  # "1 kernels" until 2026-12-04
    # MatMul 2x16 @ 16x16: 2*2*16*16 FLOP; Add 2x16: 32 FLOP
    assert _card(page, "compute")[0] == "1.056 kFLOP" and 2 * 2 * 16 * 16 + 2 * 16 == 1056


def test_every_html_figure_has_a_unit(preds):
    unit = re.compile(r"^(≥ )?[0-9.]+ (k|M|G|T|P)?(FLOP|OP)(/s)?$|^(≥ )?[0-9.]+ ([KMG]i)?B$|^(≥ )?[0-9.]+ [mun]?[sJ]$"
                      r"|^[0-9.]+%$|^unknown$|^-$")
    for pred in preds.values():
        page = render_html(pred)
        cells = [unescape(c) for c in re.findall(r"<td class=n>(.*?)</td>", page)]
        values = [unescape(v) for k, v in re.findall(r'<div class="k">(.*?)</div><div class="v">(.*?)</div>', page)
                  if k != "kernels"]
        assert cells and values and [c for c in cells + values if not unit.match(c)] == []
        legend = re.findall(r'font-size="11">((?:fp|int|bf|tf)\d+ [^<]*)</text>', page)
        assert legend and all(re.search(r" [kMGTP]?(FLOP|OP)/s, ridge [0-9.e+]+ (FLOP|OP)/B$", x) for x in legend)


def test_html_escapes_odd_names(preds, models):
    page = render_html(preds["odd"])
    assert "<ird>" not in page and 'in"put' not in page
    assert "<title>hybridperf: we&lt;ird&gt;&amp;&quot;name.onnx on toy</title>" in page
    assert "inputs in&quot;put&lt;1&gt;=4x8" in page
    nest = _Nesting()
    nest.feed(page)
    assert nest.errors == [] and nest.stack == []


# --------------------------------------------------------------------------- report output paths


def test_report_to_stdout(models, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = _cli(capsys, "report", models["two_inputs"], "-d", "t4", "--html", "-")
    assert code == ExitCode.OK and out.startswith("<!DOCTYPE html>") and out.endswith("</body></html>\n")
    assert err.startswith("<stdout>  latency ") and err.endswith("  2 kernels\n")
    assert list(tmp_path.iterdir()) == []


def test_report_refuses_an_unwritable_folder_before_the_analysis(models, tmp_path, monkeypatch, capsys):
    import tempfile

    import hybridperf.commands.report as report

    def boom(*a, **k):
        raise AssertionError("analysed before the --html check")

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(report, "predict_from_args", boom)
    monkeypatch.setattr(tempfile, "mkstemp", denied)  # as a read-only folder answers a user who is not root
    target = tmp_path / "r.html"
    code, out, err = _cli(capsys, "report", models["two_inputs"], "-d", "t4", "--html", str(target))
    assert (code, out) == (ExitCode.INPUT_ERROR, "")
    assert err == (f"hybridperf: error: --html {target}: cannot write in {tmp_path} (Permission denied); choose a "
                   "writable path, or --html - for stdout\n")
    blocker = tmp_path / "file.html"
    blocker.write_text("kept")
    code, out, err = _cli(capsys, "report", models["two_inputs"], "-d", "t4", "--html", str(blocker / "r.html"))
    assert code == ExitCode.INPUT_ERROR and err.endswith(f"{blocker} is not a directory; choose another path\n")
    assert blocker.read_text() == "kept"


# --------------------------------------------------------------------------- annotate


_TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def test_annotate_shows_each_kernel_time_once(models):
    """MatMul + Add fused into one kernel: its time is on the MatMul line only, and the shown times add up to the
    header's latency."""
    from hybridperf.frontends.load import load_model

    loaded = load_model(models["two_inputs"], {}, None)
    pred = predict_on(analyze(loaded), toy(), residual=None)
    text = annotate_text(pred, loaded.module)
    mm = next(line for line in text.splitlines() if "R.matmul(" in line)
    add = next(line for line in text.splitlines() if "R.add(" in line)
    # 1024 FLOP; reads a (128 B) and w (1 KiB), writes 128 B; one kernel of 2 ops at the 5 us launch floor, its energy
    # 50 W idle x (5 us + 1408 B at 1000 GB/s) + (1024 + 32) / 2 MAC x 2 pJ + 1408 B x 10 pJ, the kernel's traffic
    # 128 + 1024 + 128 B read (a, w, b) and 128 B written
    energy = fmt_energy(50 * (5e-6 + (128 + 1024 + 128 + 128) / 1000e9)
                        + ((1024 + 32) / 2 * 2 + (128 + 1024 + 128 + 128) * 10) * 1e-12)
    assert energy == "250.1 uJ"
    assert mm.endswith("# 1.024 kFLOP, read 1.12 KiB, write 128 B, kernel fused_matmul_k0_add_k1 (2 ops) 5.0 us, "
                       + energy)
    assert add.endswith("# 32 FLOP, read 256 B, write 128 B, in kernel fused_matmul_k0_add_k1")
    shown = [float(v) * _TIME[u] for v, u in re.findall(r"\) ([0-9.]+) (s|ms|us|ns), [0-9.]+ [kmunp]?J$", text, re.M)]
    assert shown == [pytest.approx(pred.latency_s, abs=0.05e-6)]
    assert text.splitlines()[-1].startswith("# constants omitted (metadata[...]): `hybridperf annotate --show-meta`")


def test_annotate_show_meta_parses_back(models, capsys):
    from tvm.script import from_source

    code, out, _ = _cli(capsys, "annotate", models["two_inputs"], "-d", "t4", "--show-meta")
    assert code == ExitCode.OK and "metadata omitted" not in out.lower()
    func = from_source(out)  # the constants are back: w, 16x16 ones
    assert len(func.params) == 2 and "R.matmul(a, metadata[" in func.script(show_meta=False)


def test_json_device_capacity_is_a_whole_byte_count(models):
    """A probed sheet writes its memory in GiB with decimals (MemTotal / 2^30): the JSON capacity read
    ``25275882536.96`` bytes; now the nearest whole byte, and a datasheet's ``16 GB`` stays 16 * 10**9."""
    import dataclasses

    from hybridperf.device.spec import load_spec

    t4 = load_spec("t4")
    assert to_dict(predict_on(analyze(models["two_inputs"]), t4, residual=None))["memory"]["device_capacity_bytes"] \
        == 16 * 10**9
    probed = dataclasses.replace(t4, memory={**t4.memory, "dram": dataclasses.replace(
        t4.dram, capacity_bytes=23.54 * 2**30)})
    got = to_dict(predict_on(analyze(models["two_inputs"]), probed, residual=None))["memory"]["device_capacity_bytes"]
    assert isinstance(got, int) and got == round(23.54 * 2**30)
