"""``hybridperf report MODEL --device ID --html out.html``: a self-contained HTML report."""

from __future__ import annotations

import argparse
import sys

from hybridperf.cli import ExitCode
from hybridperf.commands._common import add_model_arguments, native_stderr_silenced, shapes_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("--html", required=True, metavar="PATH", help="write the report page here (written atomically)")
    p.add_argument("--title", help="page title (default: model and device)")
    p.add_argument("--roofline-only", action="store_true", help="ignore a calibrated residual model")


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.html_report import write_html
    from hybridperf.pipeline import analyze, predict_on
    from hybridperf.report import fmt_bytes, fmt_time
    from hybridperf.spec import load_spec

    spec = load_spec(args.device)  # a bad device fails before the slow import
    shapes = shapes_from_args(args)
    with native_stderr_silenced(not args.verbose):
        analyzed = analyze(args.model, shapes, args.batch, fused=not args.no_fuse)
    pred = predict_on(analyzed, spec, args.precision, residual=None if args.roofline_only else "auto")
    path = write_html(pred, args.html, title=args.title)
    sys.stdout.write(
        f"{path}  latency {fmt_time(pred.latency_s)}  peak memory {fmt_bytes(pred.peak_memory_bytes)}  "
        f"{sum(1 for k in pred.kernels if k.kernel.counts_toward_time)} kernels\n"
    )
    return ExitCode.OK
