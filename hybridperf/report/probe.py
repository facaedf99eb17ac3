"""Rendering of a device probe (:class:`~hybridperf.measure.probe.ProbeResult`) as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hybridperf.precision import rate_unit
from hybridperf.report.format import fmt_bytes, fmt_contention, format_si, table


def to_table(result: Any, spec: Any, out: Path, replaced: str | None = None) -> str:
    """The measured figures, one row each, under the host line, then the path of the written spec (and, where
    ``replaced`` is given, what the probed sheet it replaced says of itself: ``probed DATE by hybridperf VERSION``)."""
    rows = []
    for g in result.gemm:
        unit = rate_unit(g.precision)
        rows.append([f"peak {g.precision}", format_si(g.flops_per_s, unit), f"{g.n}^3 GEMM, {g.backend}"])
    for b in result.bandwidth:
        rows.append([f"{b.level} {b.kernel}", format_si(b.bytes_per_s, "B/s"),
                     f"{b.threads} thread(s), {fmt_bytes(b.array_bytes)} arrays"])
    for c in result.caches:  # binary prefixes, as the sheet writes them (until 2026-12-04 SI: a 48 KiB L1 read 49.2 kB)
        rows.append([f"L{c.level} {c.type.lower()}", fmt_bytes(c.size_bytes),
                     f"shared by {c.shared_cpu_count} CPU(s)"])
    if result.dispatch is not None:
        d = result.dispatch
        if d.per_node_s > 0:
            rows.append(["dispatch per node", format_si(d.per_node_s, "s", 3),
                         f"onnxruntime, 1 vs {d.nodes} Add nodes"])
        else:  # the sheet then takes the per-call figure (until 2026-12-04 this row printed the negative slope)
            rows.append(["dispatch per node", "unknown", f"onnxruntime, 1 vs {d.nodes} Add nodes: no positive slope; "
                                                         "the sheet takes the per-call figure"])
        rows.append(["dispatch per call", format_si(d.per_call_s, "s", 3), "onnxruntime session.run, 1 Add node"])
    a = getattr(result, "subnormal", None)
    if a is not None:  # what the sheet's subnormal_assist prices the subnormals a model makes itself at (0: none)
        rows.append(["subnormal per MAC", format_si(a.mac_s, "s", 3) if a.mac_s else "0 (none measurable)",
                     f"onnxruntime MatMul reading exp(-100), {a.threads} thread(s)"])
        rows.append(["subnormal per output", format_si(a.softmax_s, "s", 3) if a.softmax_s else "0 (none measurable)",
                     f"onnxruntime Softmax writing exp(-100), {a.threads} thread(s)"])
    t = getattr(result, "transpose", None)
    if t is not None:  # what the sheet's transpose.innermost prices a transpose moving the innermost axis at (0: none)
        rows.append(["transpose per element", format_si(t.per_element_s, "s", 3) if t.per_element_s
                     else "0 (none measurable)", f"onnxruntime Transpose moving the innermost axis over one keeping "
                                                 f"it, {t.threads} thread(s)"])
    m = getattr(result, "math", None)
    if m is not None:  # what the sheet's elementwise_math prices each function's elements at (0: none)
        from hybridperf.analysis.elementwise_math import math_node

        for k, v in m.per_element_s.items():
            rows.append([f"{k} per element", f"{v * 1e9:.3g} ns" if v else "0 (none measurable)",
                         f"onnxruntime {math_node(k)} over a Neg, {m.threads} thread(s)"])
    dw = getattr(result, "depthwise", None)
    if dw is not None:  # what the sheet's depthwise_conv1d prices each class's multiply-adds at
        for k, v in dw.per_mac_s.items():
            # in ns, as the sheet writes them (format_si writes figures under 1 ns as 1.3e-10 s)
            rows.append([f"depthwise 1-D {k.replace('_', ' ')}", f"{v * 1e9:.3g} ns per MAC + "
                         f"{dw.per_output_s[k] * 1e9:.3g} ns per output",
                         f"onnxruntime depthwise {'ConvTranspose' if k.startswith('transpose') else 'Conv'}, two "
                         f"kernels, {dw.threads} thread(s)"])
    g = getattr(result, "gather", None)
    if g is not None:  # what the sheet's gather.block prices a copied short block at (0: none)
        rows.append(["gather per block", f"{g.per_block_s * 1e9:.3g} ns" if g.per_block_s else "0 (none measurable)",
                     f"onnxruntime Gather of one-element blocks over a Neg, {g.threads} thread(s)"])
    b = getattr(result, "broadcast", None)
    if b is not None:  # what the sheet's broadcast.span prices a short broadcast span at (0: none)
        rows.append(["broadcast per span", f"{b.per_span_s * 1e9:.3g} ns" if b.per_span_s else "0 (none measurable)",
                     f"onnxruntime Mul repeating a value over spans of {b.span} over a Neg, {b.threads} thread(s)"])
    r = getattr(result, "llc", None)
    if r is not None:  # what the sheet's memory.llc.bandwidth prices a recurrent layer's re-read weights at
        rows.append(["LLC re-read", format_si(r.bytes_per_s, "B/s"),
                     f"onnxruntime MatMul re-reading a {fmt_bytes(r.weight_bytes)} weight, {r.threads} thread(s)"])
    q = getattr(result, "l2", None)
    if q is not None:  # what the sheet's memory.l2.bandwidth prices a recurrent layer's re-read weights at
        rows.append(["L2 re-read", format_si(q.bytes_per_s, "B/s"),
                     f"onnxruntime LSTM with {fmt_bytes(q.weight_bytes)} against {fmt_bytes(q.small_weight_bytes)} of "
                     f"recurrent weight a step, {q.threads} thread(s)"])
    for k, v in result.errors.items():
        rows.append([k, "-", v])
    c = getattr(result, "contention", None)
    if c is not None:
        rows.append(["preemptions", f"{c.preemptions_per_s:.0f}/s", fmt_contention(c)])
    elif result.kind == "cpu":  # no getrusage here: whether the CPU was shared is not known (until 2026-12-04 no row)
        rows.append(["preemptions", "unknown",
                     "not counted (no getrusage): whether another process competed is unknown"])
    host = result.host
    head = (f"{spec.id}: {spec.name}\n{host.usable_cpus} usable CPUs, governor {host.governor or 'not exposed'}, "
            f"{result.source}{f' at {result.time_utc} UTC' if result.time_utc else ''}"
            f"{' (--quick)' if result.quick else ''}\n")
    tail = f"\nwrote {out}" + (f" (replacing the sheet {replaced})" if replaced else "")
    return head + table(rows, ["FIGURE", "VALUE", "HOW"], rule=False) + tail
