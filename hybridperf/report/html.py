"""Self-contained HTML report of one prediction: inline SVG charts, no scripts.

The page holds, in order: totals and coverage (unsupported ops listed), the
roofline plot (log-log arithmetic intensity vs attained FLOP/s, one roof per
precision the device lists plus the DRAM bandwidth slope, one dot per kernel
with area proportional to its time), per-kernel latency and DRAM traffic bars
in execution order, the activation-memory-over-time curve on top of the
weights + inputs baseline, and a table of every kernel.

Nothing is fetched: no JavaScript, no external CSS, fonts or images, and no
URL in any attribute, so the file renders offline and can be attached to a CI
run. Numbers come from :func:`hybridperf.report.text.to_dict` and the memory plan;
formatting uses :mod:`hybridperf.report.format`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hybridperf.costs import Status
from hybridperf.estimate.pricing import OUTSIDE_TERMS, Prediction
from hybridperf.estimate.runtime_memory import peak_kind
from hybridperf.files import write_atomic
from hybridperf.precision import rate_unit
from hybridperf.report.format import (fmt_bound, fmt_bytes, fmt_count, fmt_energy, fmt_flops, fmt_peak, fmt_time,
                                      format_si)
from hybridperf.report.text import (UNCOSTED, clip, coverage_text, imported_plan_text, plan_label, runtime_parts_text,
                                    share_text, timed_kernel_count, to_dict, uncosted_rows)
from hybridperf.units import plural, shapes_text

__all__ = ["render_html", "write_html"]

#: dot / bar colour per roofline bound
BOUND_COLORS = {"compute": "#1f77b4", "memory": "#ff7f0e", "overhead": "#7f7f7f", "none": "#bbbbbb"}
#: roof colour per precision (unlisted precisions cycle through _EXTRA_COLORS)
ROOF_COLORS = {
    "fp64": "#6a3d9a",
    "fp32": "#2ca02c",
    "tf32": "#17becf",
    "fp16": "#d62728",
    "bf16": "#e377c2",
    "fp8": "#8c564b",
    "int8": "#bcbd22",
    "int4": "#9467bd",
}
_EXTRA_COLORS = ("#393b79", "#637939", "#8c6d31", "#843c39")

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1240px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#555;font-size:13px;margin-bottom:14px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:150px}
.card .k{font-size:11px;color:#666;text-transform:uppercase;letter-spacing:.04em}.card .v{font-size:19px;font-weight:600}
.card .d{font-size:11px;color:#666}
table{border-collapse:collapse;font-size:12px}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
th{background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.warn{color:#b00020;font-weight:600}.ok{color:#1b7f3b}
svg{max-width:100%;height:auto;display:block}
svg text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}
.note{font-size:12px;color:#555;max-width:1100px}
"""



def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _f(x: float) -> str:
    return f"{x:.2f}"


def _log_ticks(lo: float, hi: float) -> list[float]:
    return [10.0**k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]


class _LogAxes:
    """Maps data (log10 both axes) to SVG pixels inside a plot box."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float, box: tuple[float, float, float, float]):
        self.lx0, self.lx1 = math.log10(x0), math.log10(x1)
        self.ly0, self.ly1 = math.log10(y0), math.log10(y1)
        self.left, self.top, self.width, self.height = box

    def x(self, v: float) -> float:
        return self.left + (math.log10(v) - self.lx0) / (self.lx1 - self.lx0) * self.width

    def y(self, v: float) -> float:
        return self.top + self.height - (math.log10(v) - self.ly0) / (self.ly1 - self.ly0) * self.height


def _roofline_svg(pred: Prediction, rep: dict[str, Any]) -> str:
    spec = pred.spec
    bw = spec.dram_bandwidth_bytes_per_s
    peaks = dict(sorted(spec.peak_flops_per_s.items(), key=lambda kv: kv[1]))
    pts = _roofline_points(pred, rep)
    x0, x1, y0, y1 = _roofline_ranges(pts, peaks, bw)
    W, H = 1180, 560
    ax = _LogAxes(x0, x1, y0, y1, (80, 20, 840, 480))
    out = [f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="roofline plot">']
    out.append(f'<rect x="{ax.left}" y="{ax.top}" width="{ax.width}" height="{ax.height}" fill="#fcfcfc" stroke="#999"/>')
    out += _roofline_grid(ax, x0, x1, y0, y1)
    # roofs: bandwidth slope up to the highest peak, then one flat roof per precision
    out.append(f'<clipPath id="plotclip"><rect x="{ax.left}" y="{ax.top}" width="{ax.width}" height="{ax.height}"/></clipPath>')
    out.append('<g clip-path="url(#plotclip)">')
    legend = _roofline_roofs(out, ax, peaks, bw, x0, x1)
    out += _roofline_dots(pts, ax, x0, y0, rep["totals"]["latency_s"])
    out.append("</g>")
    out += _roofline_legend(ax, legend)
    out.append("</svg>")
    return "".join(out)


def _roofline_points(pred: Prediction, rep: dict[str, Any]) -> list[tuple]:
    """(kernel prediction, kernel dict, arithmetic intensity or None, attained FLOP/s or None) per timed kernel."""
    kernels = [(kp, k) for kp, k in zip(pred.kernels, rep["kernels"]) if kp.kernel.counts_toward_time]
    pts = []
    for kp, kd in kernels:
        flops, traffic = kd["flops"], kd["bytes_read"] + kd["bytes_written"]
        ai = flops / traffic if traffic and flops else None
        perf = flops / kd["latency_s"] if flops and kd["latency_s"] > 0 else None
        pts.append((kp, kd, ai, perf))
    return pts


def _roofline_ranges(pts: list[tuple], peaks: dict[str, float], bw: float) -> tuple[float, float, float, float]:
    """Decade-aligned axis limits (x0, x1, y0, y1), each axis spanning at least two decades."""
    ais = [p[2] for p in pts if p[2]] + [min(peaks.values()) / bw, max(peaks.values()) / bw]
    perfs = [p[3] for p in pts if p[3]] + list(peaks.values())
    x0 = 10 ** math.floor(math.log10(min(ais) / 2))
    x1 = 10 ** math.ceil(math.log10(max(ais) * 4))
    y0 = 10 ** math.floor(math.log10(min(perfs) / 2))
    y1 = 10 ** math.ceil(math.log10(max(perfs) * 2))
    if x1 / x0 < 100:
        x1 = x0 * 100
    if y1 / y0 < 100:
        y0 = y1 / 100
    return x0, x1, y0, y1


def _roofline_grid(ax: _LogAxes, x0: float, x1: float, y0: float, y1: float) -> list[str]:
    """Grid lines, tick labels and the two axis titles."""
    out = []
    for t in _log_ticks(x0, x1):
        if x0 <= t <= x1:
            px = ax.x(t)
            out.append(f'<line x1="{_f(px)}" y1="{ax.top}" x2="{_f(px)}" y2="{ax.top + ax.height}" stroke="#e4e4e4"/>')
            out.append(f'<text x="{_f(px)}" y="{ax.top + ax.height + 16}" font-size="11" text-anchor="middle">{_e(format_si(t, "", sep=""))}</text>')
    for t in _log_ticks(y0, y1):
        if y0 <= t <= y1:
            py = ax.y(t)
            out.append(f'<line x1="{ax.left}" y1="{_f(py)}" x2="{ax.left + ax.width}" y2="{_f(py)}" stroke="#e4e4e4"/>')
            out.append(f'<text x="{ax.left - 6}" y="{_f(py + 4)}" font-size="11" text-anchor="end">{_e(format_si(t, "", sep=""))}</text>')
    out.append(
        f'<text x="{ax.left + ax.width / 2}" y="{ax.top + ax.height + 36}" font-size="13" text-anchor="middle">'
        "arithmetic intensity (FLOP / DRAM byte)</text>"
    )
    out.append(
        f'<text x="18" y="{ax.top + ax.height / 2}" font-size="13" text-anchor="middle" '
        f'transform="rotate(-90 18 {ax.top + ax.height / 2})">attained FLOP/s</text>'
    )
    return out


def _roofline_roofs(out: list[str], ax: _LogAxes, peaks: dict[str, float], bw: float, x0: float, x1: float
                    ) -> list[tuple[str, str, str]]:
    """Append the bandwidth slope and one flat roof per precision to ``out``; return the legend entries."""
    top_peak = max(peaks.values())
    ridge_hi = top_peak / bw
    out.append(
        f'<line class="roof-bandwidth" x1="{_f(ax.x(x0))}" y1="{_f(ax.y(bw * x0))}" x2="{_f(ax.x(ridge_hi))}" '
        f'y2="{_f(ax.y(top_peak))}" stroke="#444" stroke-width="2"/>'
    )
    extra = iter(_EXTRA_COLORS * 4)
    legend: list[tuple[str, str, str]] = []
    for prec, peak in peaks.items():
        col = ROOF_COLORS.get(prec) or next(extra)
        ridge = peak / bw
        out.append(
            f'<line class="roof" data-precision="{_e(prec)}" x1="{_f(ax.x(ridge))}" y1="{_f(ax.y(peak))}" '
            f'x2="{_f(ax.x(x1))}" y2="{_f(ax.y(peak))}" stroke="{col}" stroke-width="2" '
            f'stroke-dasharray="{"" if prec == "fp32" else "6 3"}"/>'
        )
        unit = rate_unit(prec)  # as `hybridperf devices` writes integer peaks
        legend.append((col, f"{prec} {format_si(peak, unit)}, ridge {ridge:.3g} {unit.removesuffix('/s')}/B",
                       "" if prec == "fp32" else "6 3"))
    legend.insert(0, ("#444", f"DRAM {format_si(bw, 'B/s')}", ""))
    return legend


def _roofline_dots(pts: list[tuple], ax: _LogAxes, x0: float, y0: float, total_s: float) -> list[str]:
    """One circle per kernel, area proportional to its share of the kernels' summed latency, largest first; its
    tooltip gives the kernel table's share (of the total latency ``total_s``: a tooltip read 6.1 % for SqueezeNet's
    ``lv111`` on ``a100-sxm-80gb``, the table 1.6 %, until 2026-12-03)."""
    out = []
    total = sum(kd["latency_s"] for _, kd, _, _ in pts) or 1.0  # the dots' areas: shares of the kernels' sum
    floor_x, floor_y = x0 * 1.4, y0 * 1.4
    for kp, kd, ai, perf in sorted(pts, key=lambda p: -p[1]["latency_s"]):
        r = max(2.5, min(28.0, 3.0 + 40.0 * math.sqrt(kd["latency_s"] / total)))
        px = ax.x(ai) if ai else ax.x(floor_x)
        py = ax.y(perf) if perf else ax.y(floor_y)
        col = BOUND_COLORS.get(kd["bound"], "#999")
        fill_op = "0.55" if ai else "0.15"
        tip = (
            f"{kd['name']} [{clip('+'.join(o.removeprefix('relax.') for o in kd['ops']), 120, '…')}]\n"
            f"latency {fmt_time(kd['latency_s'])} ({share_text(kd['latency_s'], total_s)} of the total), "
            f"{kd['bound']}-bound, {kd['precision']}\n"
            f"{fmt_count(kd['flops'])}FLOP, {fmt_bytes(kd['bytes_read'] + kd['bytes_written'])} DRAM"
            + (f", AI {ai:.3g} FLOP/B" if ai else " (no FLOPs or no traffic: drawn at the axis floor)")
        )
        out.append(
            f'<circle class="kernel" data-kernel="{_e(kd["name"])}" data-ai="{ai if ai else ""}" '
            f'data-flops-per-s="{perf if perf else ""}" data-latency-s="{kd["latency_s"]!r}" '
            f'cx="{_f(px)}" cy="{_f(py)}" r="{_f(r)}" fill="{col}" fill-opacity="{fill_op}" '
            f'stroke="{col}" stroke-width="1"><title>{_e(tip)}</title></circle>'
        )
    return out


def _roofline_legend(ax: _LogAxes, legend: list[tuple[str, str, str]]) -> list[str]:
    """The legend to the right of the plot (no circles, so that circles are exactly the kernels)."""
    out = []
    lx, ly = ax.left + ax.width + 20, ax.top + 6
    for col, label, dash in legend:
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 22}" y2="{ly}" stroke="{col}" stroke-width="2" stroke-dasharray="{dash}"/>')
        out.append(f'<text x="{lx + 28}" y="{ly + 4}" font-size="11">{_e(label)}</text>')
        ly += 18
    ly += 8
    for bound in ("compute", "memory", "overhead"):
        out.append(f'<rect x="{lx + 5}" y="{ly - 6}" width="12" height="12" fill="{BOUND_COLORS[bound]}" fill-opacity="0.6"/>')
        out.append(f'<text x="{lx + 28}" y="{ly + 4}" font-size="11">{bound}-bound kernel</text>')
        ly += 18
    for note in ("dot area ~ share of latency;", "faint dots at the floor: 0 FLOP"):
        out.append(f'<text x="{lx}" y="{ly + 8}" font-size="11" fill="#555">{note}</text>')
        ly += 14
    return out


def _bars_svg(pred: Prediction, rep: dict[str, Any]) -> str:
    rows = [(kp, kd) for kp, kd in zip(pred.kernels, rep["kernels"]) if kp.kernel.status is not Status.ZERO_COST]
    n = max(1, len(rows))
    row_h = max(3.0, min(16.0, 1400.0 / n))
    label = row_h >= 10
    name_w = 260 if label else 10
    bar_w = 420
    gap = 40
    top = 34
    H = int(top + row_h * n + 24)
    W = name_w + 2 * bar_w + gap + 170
    lats = [kd["latency_s"] or 0.0 for _, kd in rows]  # None: an uncosted kernel, drawn as a stub and labelled unknown
    traffics = [(kd["bytes_read"] or 0) + (kd["bytes_written"] or 0) for _, kd in rows]
    max_lat = max(lats, default=0.0)
    max_traffic = max(traffics, default=0)
    lat_title = f"max {fmt_time(max_lat)}" if max_lat else "no kernel priced"
    traffic_title = f"max {fmt_bytes(max_traffic)}" if max_traffic else "none known"
    max_lat, max_traffic = max_lat or 1.0, max_traffic or 1
    x_lat = name_w
    x_mem = name_w + bar_w + gap + 80
    out = [f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="per-kernel latency and memory bars">']
    out.append(f'<text x="{x_lat}" y="14" font-size="12" font-weight="600">latency per kernel ({_e(lat_title)})</text>')
    out.append(f'<text x="{x_mem}" y="14" font-size="12" font-weight="600">DRAM traffic per kernel ({_e(traffic_title)})</text>')
    out.append(
        f'<text x="{x_mem}" y="28" font-size="10" fill="#555">■ activations read+written  </text>'
        f'<text x="{x_mem + 150}" y="28" font-size="10" fill="#8c564b">■ of which weights</text>'
    )
    for i, (kp, kd) in enumerate(rows):
        y = top + i * row_h
        h = max(1.0, row_h - (2 if row_h >= 6 else 0.5))
        col = BOUND_COLORS.get(kd["bound"], "#999") if kp.kernel.counts_toward_time else "#b00020"
        lat_text, traffic_text = _kernel_time_text(kd), _kernel_traffic_text(kd)
        lw = bar_w * lats[i] / max_lat
        traffic = traffics[i]
        mw = bar_w * traffic / max_traffic
        ww = bar_w * min(kp.kernel.cost.weight_bytes, traffic) / max_traffic
        tip = f"{kd['name']}: {lat_text}, {traffic_text} traffic, {kd['status']}"
        if label:
            out.append(f'<text x="{name_w - 6}" y="{_f(y + h - 2)}" font-size="10" text-anchor="end">{_e(clip(kd["name"], 42, "…"))}</text>')
        out.append(
            f'<rect class="bar-latency" data-kernel="{_e(kd["name"])}" data-latency-s="{_num(kd["latency_s"])}" x="{x_lat}" '
            f'y="{_f(y)}" width="{_f(max(lw, 0.5))}" height="{_f(h)}" fill="{col}"><title>{_e(tip)}</title></rect>'
        )
        if label:
            out.append(f'<text x="{_f(x_lat + lw + 4)}" y="{_f(y + h - 2)}" font-size="9" fill="#444">{_e(lat_text)}</text>')
        out.append(
            f'<rect class="bar-traffic" data-kernel="{_e(kd["name"])}" data-bytes="{traffic}" x="{x_mem}" y="{_f(y)}" '
            f'width="{_f(max(mw, 0.5))}" height="{_f(h)}" fill="#9ecae1"><title>{_e(tip)}</title></rect>'
        )
        if ww > 0:
            out.append(f'<rect x="{x_mem}" y="{_f(y)}" width="{_f(ww)}" height="{_f(h)}" fill="#8c564b" fill-opacity="0.8"/>')
        if label:
            out.append(f'<text x="{_f(x_mem + mw + 4)}" y="{_f(y + h - 2)}" font-size="9" fill="#444">{_e(traffic_text)}</text>')
    out.append("</svg>")
    return "".join(out)


def _num(x: float | None) -> str:
    """A ``data-`` attribute's number (``repr``: round-trips exactly), empty when unknown."""
    return "" if x is None else repr(x)


def _kernel_time_text(kd: dict[str, Any]) -> str:
    """A kernel's latency as text; ``unknown`` for a kernel without a cost."""
    return "unknown" if kd["latency_s"] is None else fmt_time(kd["latency_s"])


def _kernel_traffic_text(kd: dict[str, Any]) -> str:
    """A kernel's DRAM traffic as text; for a kernel without a cost the bytes its known tensors move, a lower
    bound (``≥ 4.32 KiB``), or ``unknown``."""
    if kd["status"] in {s.value for s in UNCOSTED}:
        return fmt_bound((kd["bytes_read"] or 0) + (kd["bytes_written"] or 0), fmt_bytes, True)
    return fmt_bytes(kd["bytes_read"] + kd["bytes_written"])


def _memory_svg(pred: Prediction) -> str:
    m = pred.memory
    timeline = list(m.timeline_bytes)
    base = m.weight_bytes + m.input_bytes
    W, H = 1180, 340
    left, top, width, height = 90, 20, 820, 270
    if not timeline or max(timeline) == 0:
        return (
            f'<svg width="{W}" height="80" viewBox="0 0 {W} 80" role="img" aria-label="memory over time">'
            f'<text x="10" y="40" font-size="13">no memory timeline (no memory plan: {_e(pred.analyzed.fusion_note or "empty model")})</text></svg>'
        )
    ge = "≥ " if pred.analyzed.memory_is_lower_bound else ""  # a tensor of data-dependent size is left out
    peak_total = max(m.peak_bytes, base + max(timeline), 1)
    ymax = peak_total * 1.08
    n = len(timeline)

    def X(i: float) -> float:
        return left + (i / max(n - 1, 1)) * width

    def Y(v: float) -> float:
        return top + height - v / ymax * height

    out = [f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="memory over time">']
    out.append(f'<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="#fcfcfc" stroke="#999"/>')
    for k in range(6):
        v = ymax * k / 5
        out.append(f'<line x1="{left}" y1="{_f(Y(v))}" x2="{left + width}" y2="{_f(Y(v))}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{_f(Y(v) + 4)}" font-size="11" text-anchor="end">{_e(fmt_bytes(v))}</text>')
    # baseline band: weights + inputs
    if base > 0:
        out.append(f'<rect x="{left}" y="{_f(Y(base))}" width="{width}" height="{_f(Y(0) - Y(base))}" fill="#8c564b" fill-opacity="0.35"/>')
    # activations on top of the baseline (step curve)
    pts = [f"{_f(X(0))},{_f(Y(base))}"]
    for i, v in enumerate(timeline):
        x_a = X(i - 0.5) if i else X(0)
        x_b = X(i + 0.5) if i < n - 1 else X(n - 1)
        pts.append(f"{_f(x_a)},{_f(Y(base + v))}")
        pts.append(f"{_f(x_b)},{_f(Y(base + v))}")
    pts.append(f"{_f(X(n - 1))},{_f(Y(base))}")
    out.append(
        f'<polygon class="memory-curve" data-steps="{n}" data-peak-activation-bytes="{max(timeline)}" '
        f'data-baseline-bytes="{base}" points="{" ".join(pts)}" fill="#1f77b4" fill-opacity="0.45" '
        'stroke="#1f77b4" stroke-width="1"/>'
    )
    lines = [
        (m.peak_bytes, "#d62728", f"TVM plan peak (planned activations + weights + inputs) {ge}{fmt_bytes(m.peak_bytes)}"),
        (base + m.live_peak_bytes, "#2ca02c", f"live-set lower bound + weights + inputs {fmt_bytes(base + m.live_peak_bytes)}"),
    ]
    for v, col, _ in lines:
        out.append(
            f'<line class="memory-level" data-bytes="{v}" x1="{left}" y1="{_f(Y(v))}" x2="{left + width}" y2="{_f(Y(v))}" '
            f'stroke="{col}" stroke-dasharray="6 3" stroke-width="1.5"/>'
        )
    for i in sorted({round((n - 1) * t / 5) for t in range(6)}):  # each step labelled once (2 steps: 0 and 1)
        out.append(f'<text x="{_f(X(i))}" y="{top + height + 16}" font-size="11" text-anchor="middle">{i}</text>')
    out.append(f'<text x="{left + width / 2}" y="{top + height + 34}" font-size="13" text-anchor="middle">execution step (kernel call)</text>')
    lx, ly = left + width + 16, top + 10
    legend = [
        ("#1f77b4", f"live activations (peak {fmt_bytes(max(timeline))})"),
        ("#8c564b", f"weights {fmt_bytes(m.weight_bytes)} + inputs {fmt_bytes(m.input_bytes)}"),
    ] + [(col, label) for _, col, label in lines]
    for col, label in legend:
        out.append(f'<rect x="{lx}" y="{ly - 8}" width="12" height="10" fill="{col}" fill-opacity="0.6"/>')
        words = label.split(" ")
        line, lines_out = "", []
        for w in words:
            if len(line) + len(w) > 30:
                lines_out.append(line)
                line = w
            else:
                line = f"{line} {w}".strip()
        lines_out.append(line)
        for j, t in enumerate(lines_out):
            out.append(f'<text x="{lx + 18}" y="{ly + j * 13}" font-size="11">{_e(t)}</text>')
        ly += 13 * len(lines_out) + 8
    out.append("</svg>")
    return "".join(out)


def _card(key: str, value: str, detail: str = "") -> str:
    return f'<div class="card"><div class="k">{_e(key)}</div><div class="v">{_e(value)}</div><div class="d">{_e(detail)}</div></div>'


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[bool]) -> str:
    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f'<td{" class=n" if num else ""}>{_e(c)}</td>' for c, num in zip(r, numeric)) + "</tr>")
    out.append("</table>")
    return "".join(out)


def render_html(pred: Prediction, title: str | None = None) -> str:
    """The report page as one HTML string (UTF-8, no external resources)."""
    rep = to_dict(pred)
    an = pred.analyzed
    title = title or f"hybridperf: {Path(an.source).name} on {pred.spec.id}"
    parts = _header_parts(pred, rep, title)
    parts += _chart_parts(pred, rep)
    parts.append(_kernel_table(rep))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _header_parts(pred: Prediction, rep: dict, title: str) -> list[str]:
    """The page head, the summary cards and the coverage / fusion notes."""
    an = pred.analyzed
    tot = rep["totals"]
    cov = rep["coverage"]
    shapes = shapes_text(an.input_shapes)
    lower = pred.lower_bound_reason  # some op has no cost: time, energy, FLOPs and traffic are lower bounds
    lb = bool(lower)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<div class="sub">model {_e(an.source)} &middot; inputs {_e(shapes or "none")} &middot; device {_e(pred.spec.name)} '
        f'({_e(pred.spec.kind)}) &middot; {_e(pred.calibration)}'
        + (f" &middot; precision override {_e(pred.precision)}" if pred.precision else "")
        + f" &middot; hybridperf {_e(rep['hybridperf_version'])}</div>",
        '<div class="cards">',
        # no kernel launched and the runtime's call not modelled: latency and energy null in the totals, "unknown",
        # with why (until 2026-12-05 the cards read "-" and "0.0 uJ", as predict's "0.0 us"); a model of no kernel
        # priced at the sheet's per-call overhead: where the latency comes from, as predict's table says (until
        # 2026-12-05 the card read the time alone, and the kernel note called it a learned term)
        _card("latency", fmt_bound(tot["latency_s"], fmt_time, lb),
              f"roofline {fmt_bound(tot['roofline_latency_s'], fmt_time, lb)}"
              + (f"; {pred.latency_reason}" if pred.latency_reason else "")),
        _card("energy", fmt_bound(tot["energy_j"], fmt_energy, lb), pred.energy_note),
        _memory_card(pred),
        _card("compute", fmt_bound(tot["flops"], fmt_flops, lb), "FLOP = 2 x MAC"),
        _card("DRAM traffic", fmt_bound((tot["bytes_read"] or 0) + (tot["bytes_written"] or 0), fmt_bytes, lb), "sum over ops, unfused"),
        _card("kernels", str(tot["kernels"]), f"from {plural(cov['ops'], 'op')} ({_kernel_grouping(pred)})"),
        _card("coverage", coverage_text(cov["covered_share"]), ", ".join(f"{k} {v}" for k, v in cov["by_status"].items() if v)),
        "</div>",
    ]
    if cov["unsupported_ops"]:
        rows = "shown as red rows, " if uncosted_rows(pred) else ""
        parts.append(
            f'<p class="warn">Unsupported ops (no cost rule; {rows}latency excludes their compute): '
            f'{_e(", ".join(cov["unsupported_ops"]))}</p>'
        )
    elif lb:
        parts.append(f'<p class="warn">{_e(lower)}: these ops have no cost (symbolic shapes); the figures above are '
                     "lower bounds.</p>")
    else:
        parts.append('<p class="ok">Every op is costed or explicitly zero-cost.</p>')
    if an.fusion_note:
        parts.append(f'<p class="note">note: {_e(an.fusion_note)}</p>')
    # predict's WARNING lines (an unverified latency, a peak over the device's memory, an override not honoured):
    # the page left them out until 2026-12-03
    parts += [f'<p class="warn">warning: {_e(w)}</p>' for w in rep["warnings"]]
    return parts


def _kernel_grouping(pred: Prediction) -> str:
    """How the kernels were formed: the runtime's one kernel per op, TVM's fusion, or one per op without it."""
    from hybridperf.estimate.execution import Granularity, execution

    an = pred.analyzed
    # by the runtime's granularity, not by whether the counts differ: a torch prediction whose ops TVM does not fuse
    # (a Relu and a NonZero) read "fused" until 2026-12-03
    if pred.execution is not None and execution(pred.execution.runtime).granularity is Granularity.PER_OP:
        return f"one per op on {pred.execution.runtime}"
    return "fused" if an.fused and not an.fusion_note else "unfused"


def _memory_card(pred: Prediction) -> str:
    """The peak-memory card: the runtime's peak (``--runtime``) or the TVM plan's, with the TVM plan's parts; an
    unknown plan is ``unknown`` with its reason and the parts that are known."""
    m, rt = pred.memory, pred.runtime_memory
    ge = "≥ " if m.known and pred.analyzed.memory_is_lower_bound else ""
    if m.known:
        plan = (f"{plan_label(m)} {ge}{fmt_bytes(m.peak_bytes)} = activations {fmt_bytes(m.planned_bytes)} + weights "
                f"{fmt_bytes(m.weight_bytes)} + inputs {fmt_bytes(m.input_bytes)}")
        if imported_plan_text(m):
            plan += f"; {imported_plan_text(m)}"
    else:
        plan = (f"TVM plan unknown (no memory plan: {m.unknown_reason}); known parts: weights {fmt_bytes(m.weight_bytes)} "
                f"+ inputs {fmt_bytes(m.input_bytes)}")
    if rt is not None:  # an onnxruntime peak on guessed sizes reads "≈" (it read "≥" or exact until 2026-12-03)
        why = f" (estimate: {rt.unsized_reason})" if rt.unsized_ops else ""
        parts = runtime_parts_text(pred)
        return _card("peak memory", fmt_peak(rt.peak_bytes, peak_kind(pred)),
                     f"on {rt.runtime}{why}{' = ' + parts if parts else ''}; {plan}")
    return _card("peak memory", ge + fmt_bytes(m.peak_bytes) if m.known else "unknown", plan)


def _runtime_chart_note(pred: Prediction) -> str:
    """The memory chart's sentence on an arena runtime (tflm): its peak is not the TVM plan's the chart draws."""
    rt = pred.runtime_memory
    if rt is None or rt.flash_bytes is None:
        return ""
    return (f" On {_e(rt.runtime)} the peak memory is the tensor arena in SRAM, "
            f"{_e(fmt_peak(rt.peak_bytes, peak_kind(pred)))} (planned activations + outputs + inputs); the weights "
            f"({_e(fmt_bytes(rt.flash_bytes))}, in the chart's lower band) are in flash, not in the peak.")


def _chart_parts(pred: Prediction, rep: dict) -> list[str]:
    """The roofline, per-kernel bar and memory-over-time sections (up to the kernel table's heading)."""
    m = pred.memory
    return [
        '<h2 id="roofline">Roofline</h2>',
        '<p class="note">Each dot is one kernel (a fused group or a lone op) at its arithmetic intensity and the FLOP/s it '
        "attains in the prediction (FLOPs / predicted latency). Roofs: the device's dense peak per precision and the DRAM "
        "bandwidth slope. Hover a dot for the kernel.</p>",
        _roofline_svg(pred, rep),
        '<h2 id="kernel-bars">Per-kernel latency and memory traffic</h2>',
        '<p class="note">Kernels in execution order; bar colour = bound (blue compute, orange memory, grey launch overhead, '
        "red unsupported).</p>",
        _bars_svg(pred, rep),
        '<h2 id="memory-over-time">Memory over time</h2>',
        f'<p class="note">Activation bytes live at each step of the memory-planned program (tensor lifetimes), on top of '
        f"weights and inputs. {_e(rep['memory']['planner'])}: " + (
            f"planned activations {fmt_bytes(m.planned_bytes)}, ideal live-set {fmt_bytes(m.live_peak_bytes)}, "
            f"no reuse {fmt_bytes(m.no_reuse_bytes)}.{_runtime_chart_note(pred)}</p>" if m.known else
            f"no memory plan ({_e(m.unknown_reason)}): activation bytes unknown.{_runtime_chart_note(pred)}</p>"),
        _memory_svg(pred),
        '<h2 id="kernels">Kernels</h2>',
    ]


def _kernel_table(rep: dict) -> str:
    """The per-kernel table, one row per kernel in execution order; the note says how many rows are zero-cost
    kernels (views, constants folded at compile time), which the ``kernels`` card does not count (65 rows under a
    ``kernels 38`` card for SqueezeNet on ``host-epyc-1c``, nothing saying why, until 2026-12-03)."""
    tot = rep["totals"]
    rows = []
    for kd in rep["kernels"]:
        known = kd["latency_s"] is not None
        rows.append(
            [
                kd["name"],
                clip("+".join(o.removeprefix("relax.").removeprefix("nn.") for o in kd["ops"]), 70, "…"),
                kd["status"],
                kd["precision"],
                kd["bound"],
                _kernel_time_text(kd),
                share_text(kd["latency_s"], tot["latency_s"]) if known else "-",
                fmt_energy(kd["energy_j"]) if known else "unknown",
                f"{fmt_count(kd['flops'])}FLOP" if kd["flops"] is not None else "unknown",
                _kernel_traffic_text(kd),
            ]
        )
    zero = sum(1 for kd in rep["kernels"] if kd["status"] == Status.ZERO_COST.value)
    omitted = (f" {zero} of the {len(rows)} rows are zero-cost kernels (views, constants folded at compile time: no "
               f"time, no traffic), which the kernels card above ({tot['kernels']}) does not count." if zero else "")
    if not rows:
        return '<p class="note">No kernel to list.</p>'
    note = (f'<p class="note">latency: the prediction\'s, per kernel; {_e(_latency_sum_text(rep))}; roofline energy: the '
            "kernel's energy at its roofline time, before the learned correction and the power cap, so the column need "
            f"not sum to the energy above.{_e(omitted)}</p>")
    return _table(
        ["kernel", "ops", "status", "precision", "bound", "latency", "share", "roofline energy", "flops", "traffic"],
        rows,
        [False, False, False, False, False, True, True, True, True, True],
    ) + note


#: how the latency card's sum names each term of :data:`~hybridperf.estimate.pricing.OUTSIDE_TERMS` it adds
_TERM_ADDS = {"subnormal_assist_s": "subnormal assists add", "innermost_transpose_s": "transposes add",
              "elementwise_math_s": "element-wise math adds", "depthwise_conv1d_s": "depthwise 1-D convolutions add",
              "short_gather_s": "gathers of short blocks add", "short_broadcast_s": "broadcasts over short spans add"}


def _latency_sum_text(rep: dict) -> str:
    """How the kernels' latencies make the total: on a runtime with host dispatch, each kernel's device time under
    the composition; else their sum and what the total adds to it (a learned model's whole-model term: 100 us of the
    100.6 us of a one-Add model on ``host-epyc-1c``, which the page did not say until 2026-12-03)."""
    tot, ex = rep["totals"], rep["execution"]
    if ex:
        return (f"on {ex['runtime']} each kernel's device time; the total is {ex['composition']}, so the shares need "
                "not sum to 100%")
    known = [kd["latency_s"] for kd in rep["kernels"] if kd["latency_s"] is not None]
    summed, total = sum(known), tot["latency_s"]
    lower = "≥ " if tot["lower_bound"] else ""
    if total is None and tot.get("unpriced_reason"):  # no kernel launched, the runtime's call not modelled
        return f"the total is unknown ({tot['unpriced_reason']})"
    if tot.get("call_overhead_note"):  # no kernel launched: the total is the sheet's per-call overhead, no kernel's
        return f"the total is no kernel's ({tot['call_overhead_note']})"
    if not total:
        return "no kernel was priced: the total is unknown" if tot["lower_bound"] else "every kernel takes no time"
    # the terms of probed figures (pricing.OUTSIDE_TERMS: subnormal assists, transposes that move the innermost axis,
    # element-wise math, what depthwise 1-D convolutions priced at probed figures add over their kernels' latencies,
    # gathers of short blocks) are in the total, in no kernel's latency
    assist = sum(tot.get(f) or 0.0 for f in OUTSIDE_TERMS)
    added = "".join(f"; {words} {fmt_time(tot[f])} ({tot[OUTSIDE_TERMS[f][0]]})"
                    for f, words in _TERM_ADDS.items() if tot.get(f))
    if math.isclose(summed + assist, total, rel_tol=1e-6, abs_tol=1e-12):
        if assist:
            return f"the kernels' latencies sum to {fmt_time(summed)} of the {lower}{fmt_time(total)} total" + added
        return "the kernels' latencies sum to the total" + (
            " (a lower bound: the kernels without a cost have no time)" if tot["lower_bound"] else "")
    rest = total - summed - assist
    return (f"the kernels' latencies sum to {fmt_time(summed)} of the {lower}{fmt_time(total)} total ("
            f"{share_text(summed, total)}){added}; the other {fmt_time(abs(rest))} is "
            + ("priced for the model as a whole, not per kernel (the learned model's whole-model term)" if rest > 0
               else "taken off by the learned model's whole-model term"))


def write_html(pred: Prediction, path: str | Path, title: str | None = None) -> Path:
    """Render and write the page atomically (temporary file in the same folder, then rename); a path that exists
    and is not a regular file (``/dev/stdout``, a FIFO) is written in place."""
    p = Path(path)
    text = render_html(pred, title)
    if p.exists() and not p.is_file():  # a device or FIFO (/dev/stdout): written in place, it cannot be replaced
        with open(p, "w", encoding="utf-8", errors="backslashreplace") as f:  # as write_atomic
            f.write(text)
        return p
    p.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(p, text, mode=0o644)  # a report is meant to be shared
    return p


def written_line(pred: Prediction, path: Path) -> str:
    """The one line ``hybridperf report`` prints: where the page went and the headline figures."""
    # unknown where the prediction says so (nothing priced, or no kernel launched: "latency 0.0 us" until 2026-12-05)
    latency = "unknown" if "latency_s" in pred.unknown_figures else fmt_bound(pred.latency_s, fmt_time, not pred.complete)
    memory = fmt_peak(pred.peak_memory_bytes, peak_kind(pred))
    return (f"{path}  latency {latency}  peak memory {memory}  "
            f"{plural(timed_kernel_count(pred), 'kernel')}")
