"""Rendering of an onnxruntime measurement (:class:`~hybridperf.measure.onnxruntime.Measurement`) as text."""

from __future__ import annotations

from typing import Any

from hybridperf.report.format import fmt_bytes, fmt_contention, fmt_time, table
from hybridperf.units import inputs_text


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


def _optimization(m: Any) -> str:
    """`` (graph optimisation basic)`` where onnxruntime ran with less than its default level (``all``); until
    2026-12-04 a ``--graph-optimization disabled`` timing read as a default one."""
    level = (m.extra or {}).get("graph_optimization", "all")
    return "" if level == "all" else f" (graph optimisation {level})"


def _memory(m: Any) -> str:
    """``memory    peak P = load L + run R + inputs I  [method]``; ``peak unknown`` where it was not measured (until
    2026-12-04 ``peak - = load - + run -``)."""
    if m.peak_bytes is None:
        return f"memory    peak unknown  [{m.memory_method or 'not measured'}]"
    return (f"memory    peak {fmt_bytes(m.peak_bytes)} = load {fmt_bytes(m.load_bytes)} + run "
            f"{fmt_bytes(m.run_peak_bytes)} + inputs {fmt_bytes(m.input_bytes)}  [{m.memory_method}]")


def _profile_line(m: Any) -> str:
    """``profile   N nodes sum X = P% of the median (...)``: how the per-node times add up against the timed runs'
    median (until 2026-12-04 the table gave each node's share of their sum only, and no total)."""
    total = m.profile_total_s if m.profile_total_s is not None else sum(n.duration_s for n in m.nodes)
    share = f" = {total / m.latency_s:.0%} of the median" if m.latency_s and m.latency_s > 0 else ""
    return (f"profile   {len(m.nodes)} node(s) of onnxruntime's optimised graph sum {fmt_time(total)}{share} "
            "[each node's median over profiled runs, not the timed ones: the profiler adds its own cost to every "
            "node, and a run's own overhead is in none]")


def to_text(m: Any) -> str:
    """Model, runtime, latency (median, fastest run: what CPU models predict, percentiles), memory and date; then
    the slowest nodes when profiled."""
    lines = [
        f"model     {m.model}  inputs {inputs_text(m.input_shapes)}",
        f"runtime   {m.runtime} {m.runtime_version}{_optimization(m)} on {m.device} ({m.cpu_model}), "
        f"{m.threads} thread(s), load avg "
        f"{'unknown' if m.known_load_avg_1m is None else f'{m.known_load_avg_1m:.2f}'}"
        + _contention(getattr(m, "contention", None)),
        f"latency   median {fmt_time(m.latency_s)}"
        + (f"  fastest {fmt_time(m.latency_min_s)}" if m.latency_min_s is not None else "")
        + f"  p10 {fmt_time(m.latency_p10_s)}  p90 {fmt_time(m.latency_p90_s)}  "
        f"std {'unknown' if m.latency_std_s is None else fmt_time(m.latency_std_s)}  ({m.repeats} "
        f"run{'s' if m.repeats != 1 else ''} after {m.warmup} warm-up)",
        _memory(m),
        f"date      {m.date_utc}  hybridperf {m.hybridperf_version}",
    ]
    fills = _fills(m.extra.get("input_fill"))
    if fills:
        lines.insert(1, f"filled    {fills}")
    if not m.nodes and m.profile_total_s is not None:  # --profile, and no kernel ran (until 2026-12-04: silence)
        lines.append("profile   no node of onnxruntime's optimised graph ran (it folded the model into constants)")
    if m.nodes:
        top = sorted(m.nodes, key=lambda n: n.duration_s, reverse=True)[:15]
        tot = sum(n.duration_s for n in m.nodes) or 1.0
        lines.append(_profile_line(m))
        lines.append("")
        lines.append(table([[n.name[:50], n.op_type, n.graph_node[:40] if n.graph_node else "(optimiser)",
                             fmt_time(n.duration_s), f"{n.duration_s / tot:.1%}"] for n in top],
                           ["node", "op", "graph node", "time", "share"], "lllrr"))
        if len(m.nodes) > len(top):
            lines.append(f"... {len(m.nodes) - len(top)} more nodes (use --format json)")
    return "\n".join(lines)
