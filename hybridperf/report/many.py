"""Rendering of ``hybridperf predict-many`` rows (one dict per model): a table with a summary line, JSON or CSV."""

from __future__ import annotations

import math
from typing import Any

from hybridperf.estimate.pricing import OUTSIDE_TERMS, energy_capped
# one_line: control characters as escapes, so a row stays one line
from hybridperf.report.format import fmt_bound, fmt_energy, fmt_flops, fmt_peak, fmt_time, one_line, table
from hybridperf.json_text import dumps


def to_json(rows: list[dict[str, Any]], device: str, precision: str | None = None) -> str:
    """``{"device", "precision", "models"}``: ``precision`` the run's ``--precision`` (null: each op at the model's
    own), as ``predict --format json``'s ``precision_override`` (until 2026-12-04 not in the output, so an int8 run
    and an fp32 run of the same models gave the same-looking rows)."""
    return dumps({"device": device, "precision": precision, "models": rows})  # unknown is null; a NaN raises


#: ``--format csv`` columns, SI units in the names (as the JSON rows' keys)
CSV_COLUMNS = ("model", "status", "latency_s", "energy_j", "peak_memory_bytes", "flops", "lower_bound",
               "lower_bound_reason", "memory_lower_bound", "memory_estimate",
               "unknown_fields", "error", "runtime", "input_shapes", "energy_note", "warnings", "latency_note",
               "calibration", "precision", *OUTSIDE_TERMS, "latency_lower_bound_reason")
# runtime .. warnings appended 2026-12-04 (columns read by name stay where they were): until then a CSV row gave an
# estimated energy, an unverified latency (the warnings) and the shapes priced with nothing to say so; latency_note
# and calibration too (what priced the latency, and whether it is unverified); precision, the run's --precision
# (empty: none, each op at the model's own), last (a CSV row did not say an int8 / fp16 run was one);
# subnormal_assist_s after it (2026-12-06: the JSON rows had it, the CSV did not say whether a latency held the
# assists of the model's own subnormals; empty where unknown, as the JSON's null); innermost_transpose_s after it
# (2026-12-06 22:16 UTC, with the term); elementwise_math_s after it (2026-12-07, with the term), then
# depthwise_conv1d_s (2026-12-07), then short_gather_s (2026-12-07, with the term), then short_broadcast_s (2026-12-07,
# plan (26), with the term); latency_lower_bound_reason last
# (2026-12-07 09:15 UTC: why the latency and energy are lower bounds, uncosted ops or an unpriced probed term)


def to_csv(rows: list[dict[str, Any]], device: str, precision: str | None = None) -> str:
    """One CSV line per row under a header (``device`` a column too, so files of several runs concatenate). A figure
    that is unknown -- an error row's, or a lower bound of 0 where nothing was priced (``unknown_fields``) -- is an
    empty cell, never 0; a lower bound keeps its number and says so in ``lower_bound``. ``precision`` (the run's
    ``--precision``) is every row's ``precision`` cell (empty without one)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["device", *CSV_COLUMNS])
    for r in rows:
        unknown = set(r.get("unknown_fields") or ())
        cells = []
        for k in CSV_COLUMNS:
            v = precision if k == "precision" else r.get(k)
            if k in unknown or v is None:
                v = ""
            elif k == "unknown_fields":
                v = " ".join(v)
            elif k == "warnings":
                v = " | ".join(v)
            elif k == "input_shapes":  # as --shape takes them: x=1x3x224x224 y=1x128
                v = " ".join(f"{n}={'x'.join(map(str, dims))}" for n, dims in v.items())
            elif isinstance(v, bool):
                v = str(v).lower()
            elif isinstance(v, float) and not math.isfinite(v):
                # as to_json: a figure is never NaN or infinite (until 2026-12-04 the CSV wrote the cell "nan" or
                # "inf", which reads as a number, where the JSON of the same rows raised)
                raise ValueError(f"{r.get('model')}: {k} is {v}, not a figure")
            cells.append(v)
        w.writerow([device, *cells])
    return buf.getvalue().rstrip("\n")


def _status(r: dict[str, Any]) -> str:
    """A priced row's status: its lower bound's reason, ``ok``, and ``unverified`` where its latency is (as check's
    ``ok (unverified)`` / ``UNDECIDED (lower bound, unverified)``; until 2026-12-04 a lower-bound row dropped it);
    where the peak is the TVM plan's because the runtime's is not modelled, why (as predict's memory line: until
    2026-12-04 the table gave that peak as the runtime's)."""
    unverified = bool(r.get("latency_note"))
    # why a lower bound: uncosted ops, or a term of probed figures the sheet lacks (latency_lower_bound_reason, which
    # holds the first too; an --output file of an older hybridperf has lower_bound_reason only)
    reason = r.get("latency_lower_bound_reason") or r.get("lower_bound_reason")
    if reason:
        status = reason + (" (unverified)" if unverified else "")
    else:
        status = "ok (unverified)" if unverified else "ok"
    if energy_capped(r.get("energy_note")):  # as predict's energy line (until 2026-12-04 only the CSV and JSON said so)
        status += "; energy capped at max power"
    if r.get("runtime_memory_note"):
        peak = "TVM plan" if r.get("peak_memory_bytes") is not None else "unknown"
        status += f"; peak: {peak} ({r.get('runtime')}'s not modelled: {r['runtime_memory_note']})"
    return status


def _estimated_power(r: dict[str, Any]) -> str:
    """What a row's energy says of the sheet's estimated power figures, "" where nothing: its
    ``estimated_power_note``; a row without that key (from an ``--output`` file of an older hybridperf) has it as the
    part of its ``energy_note`` after the cap's note (:func:`hybridperf.estimate.pricing.energy_note` puts the cap's
    first)."""
    if "estimated_power_note" in r:
        return r["estimated_power_note"] or ""
    note = r.get("energy_note") or ""
    return note.partition("; ")[2] if energy_capped(note) else note


def to_table(rows: list[dict[str, Any]], device: str, precision: str | None = None) -> str:
    """The rows as a table and a summary line; ``precision`` (the run's ``--precision``) is named there, as
    ``predict``'s device line names it. Control characters in a model's path or message are written as escapes
    (``new\\nline.onnx``; until 2026-12-04 a path with a newline split its row in two)."""
    body = []
    for r in rows:
        if r["status"] != "error":
            lb = bool(r["lower_bound"])  # some op has no cost: time, energy and FLOPs are lower bounds (0: unknown)
            # or a term of probed figures is not priced: time and energy are lower bounds, FLOPs not
            lb_time = lb or bool(r.get("latency_lower_bound_reason"))
            # a figure unknown_fields names is None (mark_unknown), unknown: also the latency and energy of a model
            # that launches no kernel (until 2026-12-05 its energy read "0.0 uJ" here), never 0
            body.append(
                [
                    one_line(r["model"]),
                    fmt_bound(r["latency_s"], fmt_time, lb_time),
                    fmt_bound(r["energy_j"], fmt_energy, lb_time),
                    # a plan over ops of data-dependent size is a lower bound too (predict's "peak ≥ 9.13 MiB")
                    fmt_peak(r["peak_memory_bytes"], "estimate" if r.get("memory_estimate") else
                             "lower_bound" if r.get("memory_lower_bound") else "exact"),
                    fmt_bound(r["flops"], fmt_flops, lb),
                    # as check's "ok (unverified)": a zero-shot latency for a device unlike the training ones
                    one_line(_status(r)),
                ]
            )
        else:
            body.append([one_line(r["model"]), "-", "-", "-", "-", one_line(f"error: {r['error']}")])
    failed = sum(1 for r in rows if r["status"] == "error")
    partial = sum(1 for r in rows if r["status"] == "lower bound")
    bounds = f", {partial} lower bound{'' if partial == 1 else 's'}" if partial else ""
    at = f" at precision {precision}" if precision else ""
    summary = (f"{len(rows)} model{'' if len(rows) == 1 else 's'} on {device}{at}: {len(rows) - failed - partial} ok"
               f"{bounds}, {failed} failed")
    # the sheet's estimated power, once (every row's energy_note ends with it; until 2026-12-04 the table said nothing)
    estimated = sorted({note for r in rows if (note := _estimated_power(r))})
    if estimated:
        summary += f"; energy: {'; '.join(estimated)}"
    return table(body, ["model", "latency", "energy", "peak memory", "flops", "status"], "lrrrrl") + "\n" + summary
