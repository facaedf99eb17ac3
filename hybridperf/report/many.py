"""Rendering of ``hybridperf predict-many`` rows (one dict per model): a table with a summary line, or JSON."""

from __future__ import annotations

import json
from typing import Any

from hybridperf.report.format import fmt_bytes, fmt_count, fmt_energy, fmt_time, table


def to_json(rows: list[dict[str, Any]], device: str) -> str:
    return json.dumps({"device": device, "models": rows}, indent=2)


def to_table(rows: list[dict[str, Any]], device: str) -> str:
    body = []
    for r in rows:
        if r["status"] != "error":
            ge = "≥ " if r["lower_bound"] else ""
            body.append(
                [
                    r["model"],
                    ge + fmt_time(r["latency_s"]),
                    ge + fmt_energy(r["energy_j"]),
                    "unknown" if r["peak_memory_bytes"] is None else fmt_bytes(r["peak_memory_bytes"]),
                    fmt_count(r["flops"]) + "FLOP",
                    r["lower_bound"] or "ok",
                ]
            )
        else:
            body.append([r["model"], "-", "-", "-", "-", f"error: {r['error']}"])
    failed = sum(1 for r in rows if r["status"] == "error")
    partial = sum(1 for r in rows if r["status"] == "lower bound")
    bounds = f", {partial} lower bounds" if partial else ""
    summary = f"{len(rows)} models on {device}: {len(rows) - failed - partial} ok{bounds}, {failed} failed"
    return table(body, ["model", "latency", "energy", "peak memory", "flops", "status"], "lrrrrl") + "\n" + summary
