"""``hybridperf report --html``: a self-contained page with the roofline, per-kernel bars and memory curve.

The fast tests read the markup with :mod:`html.parser` (no browser). The
Chromium test loads the page in headless Chromium and checks the DOM the
browser built; it is skipped when no chromium binary is installed (CI has
none; ``python -m benchmarks.render_report`` runs the same check and takes a
screenshot).
"""

from __future__ import annotations

import math
from html.parser import HTMLParser

import pytest

from benchmarks.render_report import check_dom, elements, find_chromium
from hybridperf.cli import ExitCode, main
from hybridperf.costs import Status
from hybridperf.report.format import fmt_bytes, fmt_energy, fmt_time

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


@pytest.fixture(scope="module")
def pred(model_dir):
    from hybridperf.api import predict

    return predict(str(model_dir / "resnet_like.onnx"), "t4", batch=2, residual=None)


@pytest.fixture(scope="module")
def page(pred):
    from hybridperf.report.html import render_html

    return render_html(pred)


def of(markup, tag, cls):
    return [e.attrs for e in elements(markup) if e.tag == tag and cls in e.attrs.get("class", "").split()]


class _Nesting(HTMLParser):
    """Stack of open elements; records every mismatched or unclosed tag."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def test_page_is_well_formed_and_self_contained(page):
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    n = _Nesting()
    n.feed(page)
    n.close()
    assert n.errors == [] and n.stack == []
    lowered = page.lower()
    for needle in ("<script", "<link", "<img", "<iframe", "@import", "url(http", "://", "src="):
        assert needle not in lowered, needle
    assert [e.tag for e in elements(page)].count("svg") == 3  # roofline, bars, memory curve


def test_the_browser_check_passes_on_the_raw_markup(page, pred):
    rep = check_dom(page, pred)
    assert rep.failures == []
    timed = sum(1 for k in pred.kernels if k.kernel.counts_toward_time)
    assert rep.kernel_dots == timed > 0
    assert rep.roofs == len(pred.spec.peak_flops_per_s)


def test_headline_numbers_are_the_prediction(page, pred):
    assert f'<div class="v">{fmt_time(pred.latency_s)}</div>' in page
    assert f'<div class="v">{fmt_bytes(pred.peak_memory_bytes)}</div>' in page
    for k in pred.kernels:  # every kernel has a table row, with its energy
        assert f"<td>{k.kernel.name[:60]}</td>" in page
    energies = [f"<td class=n>{fmt_energy(k.estimate.energy_j)}</td>" for k in pred.kernels if k.estimate.energy_j > 0]
    assert energies and all(e in page for e in energies)


def test_roofline_dots_sit_at_their_arithmetic_intensity(page, pred):
    dots = of(page, "circle", "kernel")
    placed = {}
    for d in dots:
        k = next(k for k in pred.kernels if k.kernel.name == d["data-kernel"])
        c = k.kernel.cost
        if c.flops and c.bytes_read + c.bytes_written:
            assert float(d["data-ai"]) == pytest.approx(c.flops / (c.bytes_read + c.bytes_written), rel=1e-12)
            assert float(d["data-flops-per-s"]) == pytest.approx(c.flops / k.latency_s, rel=1e-12)
            placed[float(d["data-ai"])] = (float(d["cx"]), float(d["cy"]), c.flops / k.latency_s)
    assert len(placed) >= 3
    # log-log axes: x is affine in log10(AI), y affine in log10(FLOP/s), the same slope for every dot
    (a0, (x0, y0, p0)), *rest = sorted(placed.items())
    slopes_x = [(x - x0) / math.log10(a / a0) for a, (x, _, _) in rest if a / a0 > 1.01]
    slopes_y = [(y - y0) / math.log10(p / p0) for _, (_, y, p) in rest if abs(math.log10(p / p0)) > 0.01]
    assert slopes_x and max(slopes_x) == pytest.approx(min(slopes_x), rel=1e-2) and min(slopes_x) > 0
    assert slopes_y and max(slopes_y) == pytest.approx(min(slopes_y), rel=1e-2) and max(slopes_y) < 0  # SVG y grows down


def test_bars_and_memory_curve_carry_the_plan(page, pred):
    shown = [k for k in pred.kernels if k.kernel.status is not Status.ZERO_COST]
    lat = of(page, "rect", "bar-latency")
    assert [b["data-kernel"] for b in lat] == [k.kernel.name for k in shown]  # execution order
    assert sum(float(b["data-latency-s"]) for b in lat) == pytest.approx(pred.latency_s, rel=1e-12)
    widths = {b["data-kernel"]: float(b["width"]) for b in lat}
    slowest = max(shown, key=lambda k: k.latency_s)
    assert widths[slowest.kernel.name] == max(widths.values())
    traffic = of(page, "rect", "bar-traffic")
    assert [int(b["data-bytes"]) for b in traffic] == [k.kernel.cost.bytes_read + k.kernel.cost.bytes_written for k in shown]
    m = pred.memory
    (curve,) = of(page, "polygon", "memory-curve")
    assert int(curve["data-steps"]) == len(m.timeline_bytes) > 0
    assert int(curve["data-peak-activation-bytes"]) == max(m.timeline_bytes)
    assert int(curve["data-baseline-bytes"]) == m.weight_bytes + m.input_bytes
    ys = [float(p.split(",")[1]) for p in curve["points"].split()]
    assert len(ys) == 2 * len(m.timeline_bytes) + 2
    levels = sorted(int(line["data-bytes"]) for line in of(page, "line", "memory-level"))
    assert levels == sorted([m.peak_bytes, m.weight_bytes + m.input_bytes + m.live_peak_bytes])


def test_text_is_escaped(pred):
    from hybridperf.report.html import render_html

    page = render_html(pred, title='<script>alert("x")</script> & co')
    assert "<script" not in page
    assert "<title>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co</title>" in page


def test_cli_writes_the_page(model_dir, tmp_path, capsys):
    out = tmp_path / "sub" / "r.html"
    code = main(["report", str(model_dir / "resnet_like.onnx"), "--batch", "2", "-d", "t4", "--roofline-only", "--html", str(out)])
    stdout, err = capsys.readouterr()
    assert code == ExitCode.OK and err == ""
    assert stdout.startswith(f"{out}  latency ")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]  # no temporary file left
    assert oct(out.stat().st_mode & 0o777) == "0o644"


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["-d", "t5", "--html", "{tmp}/r.html"], "unknown device 't5'"),
        (["-d", "t4", "--html", "{tmp}"], "is a directory"),
        (["-d", "t4", "--html", "{model}/r.html"], "is not a directory"),
        (["-d", "t4", "--batch", "0", "--html", "{tmp}/r.html"], "batch"),
    ],
)
def test_cli_bad_input_exit_2(model_dir, tmp_path, capsys, argv, fragment):
    model = str(model_dir / "resnet_like.onnx")
    argv = [a.format(tmp=tmp_path, model=model) for a in argv]
    code = main(["report", model, *argv])
    out, err = capsys.readouterr()
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert len(err.splitlines()) == 1 and fragment in err
    assert list(tmp_path.iterdir()) == []


def test_cli_missing_html_flag_is_usage_error(model_dir, capsys):
    assert main(["report", str(model_dir / "resnet_like.onnx"), "-d", "t4"]) == ExitCode.INPUT_ERROR
    assert "--html" in capsys.readouterr().err


@pytest.mark.skipif(find_chromium() is None, reason="no chromium binary (install chromium to render the report)")
def test_renders_in_headless_chromium(pred, tmp_path):
    from benchmarks.render_report import dump_dom, png_nonwhite_share, png_size, screenshot
    from hybridperf.report.html import write_html

    binary = find_chromium()
    path = write_html(pred, tmp_path / "r.html")
    dom = dump_dom(binary, path)
    rep = check_dom(dom, pred)
    assert rep.failures == []
    assert rep.kernel_dots == sum(1 for k in pred.kernels if k.kernel.counts_toward_time)
    assert rep.memory_curves == 1
    png = screenshot(binary, path, tmp_path / "r.png", (1000, 700))
    assert png_size(png) == (1000, 700)
    assert png_nonwhite_share(png) > 0.05  # the cards, roofline axes and dots are drawn


def test_axis_and_legend_numbers_are_short():
    from hybridperf.report.format import format_si

    assert [format_si(v, "", sep="") for v in (1.9789e15, 989.4e12, 33.5e12, 1e10, 1e3, 999.0, 0.1, 0.01)] == [
        "1.979P", "989.4T", "33.5T", "10G", "1k", "999", "0.1", "0.01"
    ]


def test_a_lower_bound_and_an_energy_note_reach_the_cards(tmp_path):
    """An uncosted op makes latency and energy lower bounds (``≥``, with the reason); the energy note is shown."""
    from onnx import TensorProto, helper, save

    from hybridperf.api import predict
    from hybridperf.report.html import render_html

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("NonZero", ["r"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, None)])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "nonzero.onnx")
    pred = predict(str(tmp_path / "nonzero.onnx"), "raspberry-pi-4b", residual=None)
    page = render_html(pred)
    assert f'<div class="v">≥ {fmt_time(pred.latency_s)}</div>' in page
    assert f'<div class="v">≥ {fmt_energy(pred.energy_j)}</div>' in page
    assert "lower bound: 1 op uncosted: nonzero" in page
    assert "power of raspberry-pi-4b estimated, not measured" in pred.energy_note and pred.energy_note in page
