"""``hybridperf mig MODEL --device a100-sxm-80gb [--max-latency 5ms] [--headroom 500MiB]``.

Prints one row per MIG profile of the device (fits memory? predicted latency,
meets the budget?) and the smallest suitable profile; the scaling model is in
:mod:`hybridperf.estimate.mig`. Exit 0 with a suggestion, 1 when no profile fits the
memory and latency budget, 2 on bad input (including a device without MIG
profiles).
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from hybridperf.cli import ExitCode
from hybridperf.commands._common import add_format_argument, add_model_arguments, shapes_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    add_format_argument(p)
    p.add_argument("--max-latency", metavar="T", help="latency budget: s, ms, us, ns (e.g. 5ms)")
    p.add_argument(
        "--headroom",
        metavar="M",
        default="500MiB",
        help="memory kept free on the instance for the CUDA context and workspaces (default %(default)s)",
    )
    p.add_argument("--roofline-only", action="store_true", help="ignore a calibrated residual model")


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.analysis.analyze import analyze
    from hybridperf.api import predict_on
    from hybridperf.device.spec import load_spec
    from hybridperf.estimate.budget import Metric, parse_limit
    from hybridperf.estimate.mig import require_profiles, suggest

    max_latency = None if args.max_latency is None else parse_limit(args.max_latency, Metric.LATENCY, "--max-latency", False)
    zero = re.fullmatch(r"\s*0+(?:\.0*)?\s*(?:B|KB|MB|GB|KiB|MiB|GiB)?\s*", args.headroom)
    headroom = 0 if zero else int(parse_limit(args.headroom, Metric.MEMORY, "--headroom", False))
    spec = load_spec(args.device)
    require_profiles(spec)  # a device without MIG fails before the slow analysis
    shapes = shapes_from_args(args)
    analyzed = analyze(args.model, shapes, args.batch, fused=not args.no_fuse)
    pred = predict_on(analyzed, spec, args.precision, residual=None if args.roofline_only else "auto")
    s = suggest(pred, headroom, max_latency)
    sys.stdout.write((to_json(s, analyzed.source) if args.format == "json" else to_table(s, analyzed.source)) + "\n")
    return ExitCode.OK if s.chosen is not None else ExitCode.BUDGET_EXCEEDED


def to_dict(s, model: str) -> dict:
    chosen = s.chosen
    return {
        "model": model,
        "device": s.device,
        "peak_memory_bytes": s.peak_memory_bytes,
        "headroom_bytes": s.headroom_bytes,
        "max_latency_s": s.max_latency_s,
        "suggested": chosen.profile.name if chosen else None,
        "profiles": [
            {
                "name": o.profile.name,
                "compute_fraction": o.compute_fraction,
                "memory_fraction": o.memory_fraction,
                "memory_bytes": o.profile.memory_bytes,
                "required_bytes": o.required_bytes,
                "fits_memory": o.fits_memory,
                "latency_s": o.latency_s,
                "meets_latency": o.meets_latency,
                "suitable": o.suitable,
            }
            for o in s.options
        ],
    }


def to_json(s, model: str) -> str:
    return json.dumps(to_dict(s, model), indent=2)


def to_table(s, model: str) -> str:
    from hybridperf.report.text import fmt_bytes, fmt_time, table

    def yn(v):
        return "-" if v is None else ("yes" if v else "no")

    rows = [
        [
            o.profile.name,
            f"{o.profile.compute_slices}/{o.profile.total_slices}",
            f"{o.memory_fraction:.3f}",
            fmt_bytes(o.profile.memory_bytes),
            yn(o.fits_memory),
            fmt_time(o.latency_s),
            yn(o.meets_latency),
            "<- suggested" if o is s.chosen else "",
        ]
        for o in s.options
    ]
    budget = f", latency budget {fmt_time(s.max_latency_s)}" if s.max_latency_s is not None else ""
    head = (
        f"model {model} on {s.device}: needs {fmt_bytes(s.peak_memory_bytes + s.headroom_bytes)} = peak "
        f"{fmt_bytes(s.peak_memory_bytes)} + headroom {fmt_bytes(s.headroom_bytes)}{budget}\n"
        "latency = sum over kernels of max(compute / compute share, memory / bandwidth share) + launch overhead\n"
    )
    body = table(
        rows,
        ["profile", "compute", "bw share", "memory", "fits", "latency", "meets budget", ""],
        "lrrrlrll",
    )
    if s.chosen is not None:
        tail = f"suggested: {s.chosen.profile.name} (smallest profile that fits{' and meets the budget' if budget else ''})"
    else:
        full = s.options[-1] if s.options else None
        if full is not None and not full.fits_memory:
            tail = (
                f"no profile fits: even {full.profile.name} holds {fmt_bytes(full.profile.memory_bytes)} < "
                f"{fmt_bytes(full.required_bytes)} needed; reduce the batch or the --headroom"
            )
        elif full is not None:
            tail = (
                f"no profile meets the latency budget: even {full.profile.name} (the whole GPU) is predicted at "
                f"{fmt_time(full.latency_s)} > {fmt_time(s.max_latency_s)}; relax the budget or reduce the batch"
            )
        else:
            tail = "no profile fits: reduce the batch or memory, or relax the budget"
    return head + body + "\n" + tail
