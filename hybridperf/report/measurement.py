"""Rendering of an onnxruntime measurement (:class:`~hybridperf.measure.onnxruntime.Measurement`) as text."""

from __future__ import annotations

from typing import Any

from hybridperf.report.format import fmt_bytes, fmt_contention, fmt_time, table
from hybridperf.units import shapes_text


def _contention(c: Any) -> str:
    """``, preempted N/s while timing (...)`` of the timed runs (:func:`fmt_contention`); empty if unknown."""
    return "" if c is None else f", preempted {c.preemptions_per_s:.0f}/s {fmt_contention(c)}"


def _fills(record: Any) -> str:
    """``input_ids ids in [0, 1000), attention_mask ones``: how the non-float inputs were filled (the measurement's
    ``extra.input_fill``, :func:`hybridperf.measure.inputs.fills_record`); empty for a float-only model or an older
    record."""
    words = {"indices": "ids in [0, {})", "positions": "0, 1, 2, ... (mod {})", "ones": "ones", "zeros": "zeros"}
    parts = []
    for name, f in (record or {}).items():
        text = words.get(f.get("fill"), str(f.get("fill")))
        parts.append(f"{name} {text.format(f['range'][1]) if f.get('range') else text}")
    return ", ".join(parts)


def to_text(m: Any) -> str:
    """Model, runtime, latency (median, fastest run: what CPU models predict, percentiles), memory and date; then
    the slowest nodes when profiled."""
    shapes = shapes_text(m.input_shapes)
    lines = [
        f"model     {m.model}  inputs {shapes}",
        f"runtime   {m.runtime} {m.runtime_version} on {m.device} ({m.cpu_model}), {m.threads} thread(s), "
        f"load avg {m.load_avg_1m:.2f}"
        + _contention(getattr(m, "contention", None)),
        f"latency   median {fmt_time(m.latency_s)}"
        + (f"  fastest {fmt_time(m.latency_min_s)}" if m.latency_min_s is not None else "")
        + f"  p10 {fmt_time(m.latency_p10_s)}  p90 {fmt_time(m.latency_p90_s)}  "
        f"std {'unknown' if m.latency_std_s is None else fmt_time(m.latency_std_s)}  ({m.repeats} "
        f"run{'s' if m.repeats != 1 else ''} after {m.warmup} warm-up)",
        f"memory    peak {fmt_bytes(m.peak_bytes)} = load {fmt_bytes(m.load_bytes)} + run {fmt_bytes(m.run_peak_bytes)} "
        f"+ inputs {fmt_bytes(m.input_bytes)}  [{m.memory_method}]",
        f"date      {m.date_utc}  hybridperf {m.hybridperf_version}",
    ]
    fills = _fills(m.extra.get("input_fill"))
    if fills:
        lines.insert(1, f"filled    {fills}")
    if m.nodes:
        top = sorted(m.nodes, key=lambda n: n.duration_s, reverse=True)[:15]
        tot = sum(n.duration_s for n in m.nodes) or 1.0
        lines.append("")
        lines.append(table([[n.name[:50], n.op_type, n.graph_node[:40] if n.graph_node else "(optimiser)",
                             fmt_time(n.duration_s), f"{n.duration_s / tot:.1%}"] for n in top],
                           ["node", "op", "graph node", "time", "share"], "lllrr"))
        if len(m.nodes) > len(top):
            lines.append(f"... {len(m.nodes) - len(top)} more nodes (use --format json)")
    return "\n".join(lines)
