"""Rendering of ``hybridperf predict-many`` rows (one dict per model): a table with a summary line, or JSON."""

from __future__ import annotations

import json
from typing import Any

from hybridperf.report.format import fmt_bound, fmt_bytes, fmt_energy, fmt_flops, fmt_time, table


def to_json(rows: list[dict[str, Any]], device: str) -> str:
    return json.dumps({"device": device, "models": rows}, indent=2)


def to_table(rows: list[dict[str, Any]], device: str) -> str:
    body = []
    for r in rows:
        if r["status"] != "error":
            lb = bool(r["lower_bound"])  # some op has no cost: time, energy and FLOPs are lower bounds (0: unknown)
            body.append(
                [
                    r["model"],
                    fmt_bound(r["latency_s"], fmt_time, lb),
                    fmt_bound(r["energy_j"], fmt_energy, lb),
                    "unknown" if r["peak_memory_bytes"] is None else fmt_bytes(r["peak_memory_bytes"]),
                    fmt_bound(r["flops"], fmt_flops, lb),
                    r["lower_bound"] or "ok",
                ]
            )
        else:
            body.append([r["model"], "-", "-", "-", "-", f"error: {r['error']}"])
    failed = sum(1 for r in rows if r["status"] == "error")
    partial = sum(1 for r in rows if r["status"] == "lower bound")
    bounds = f", {partial} lower bounds" if partial else ""
    summary = f"{len(rows)} model{'' if len(rows) == 1 else 's'} on {device}: {len(rows) - failed - partial} ok{bounds}, {failed} failed"
    return table(body, ["model", "latency", "energy", "peak memory", "flops", "status"], "lrrrrl") + "\n" + summary
