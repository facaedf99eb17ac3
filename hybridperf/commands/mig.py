"""``hybridperf mig MODEL --device a100-sxm-80gb [--max-latency 5ms] [--headroom 500MiB]``.

Prints one row per MIG profile of the device (fits memory? predicted latency,
meets the budget?) and the smallest suitable profile; the scaling model is in
:mod:`hybridperf.estimate.mig`. Exit 0 with a suggestion, 1 when no profile fits the
memory and latency budget, 2 on bad input (including a device without MIG
profiles).
"""

from __future__ import annotations

import argparse
import re
import sys

from hybridperf.cli import ExitCode
from hybridperf.commands._common import (add_format_argument, add_model_arguments, add_roofline_only_argument,
                                         add_runtime_argument, predict_from_args)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    add_runtime_argument(p)
    add_format_argument(p)
    p.add_argument("--max-latency", metavar="T", help="latency budget: s, ms, us, ns (e.g. 5ms)")
    p.add_argument(
        "--headroom",
        metavar="M",
        default="500MiB",
        help="memory kept free on the instance for the CUDA context and workspaces (default %(default)s)",
    )
    add_roofline_only_argument(p)


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.device.spec import load_spec
    from hybridperf.estimate.budget import Metric, parse_limit
    from hybridperf.estimate.mig import require_profiles, suggest
    from hybridperf.report.mig import to_json, to_table
    from hybridperf.units import units_of

    max_latency = None if args.max_latency is None else parse_limit(args.max_latency, Metric.LATENCY, "--max-latency", False)
    zero = re.fullmatch(rf"\s*0+(?:\.0*)?\s*(?:{'|'.join(units_of('capacity'))})?\s*", args.headroom)
    headroom = 0 if zero else int(parse_limit(args.headroom, Metric.MEMORY, "--headroom", False))
    if args.device == "host":
        from hybridperf.errors import InputError

        raise InputError("mig sizes a MIG partition of a GPU: pass --device with MIG profiles (e.g. a100-sxm-80gb, "
                         "h100-sxm); the default device, host, is this machine's CPU")
    spec = load_spec(args.device)
    require_profiles(spec)  # a device without MIG fails before the slow analysis
    pred = predict_from_args(args, spec)
    s = suggest(pred, headroom, max_latency)
    source = pred.analyzed.source
    sys.stdout.write((to_json(s, source) if args.format == "json" else to_table(s, source)) + "\n")
    return ExitCode.OK if s.chosen is not None else ExitCode.BUDGET_EXCEEDED
