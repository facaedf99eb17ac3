"""``hybridperf predict MODEL --device ID``."""

from __future__ import annotations

import argparse
import sys

from hybridperf.cli import ExitCode
from hybridperf.commands._common import (StoreOnce, add_format_argument, add_model_arguments,
                                         add_roofline_only_argument, add_runtime_argument, given, predict_from_args)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    add_format_argument(p)
    p.add_argument("--top", type=int, default=15, metavar="N", action=StoreOnce,
                   help="kernels shown in the table, slowest first (default %(default)s; 0: the summary only, no "
                        "table; the JSON lists every kernel)")
    add_roofline_only_argument(p)
    add_runtime_argument(p)
    p.add_argument("--strict", action="store_true", help="exit 2 when any op is unsupported or has a symbolic shape")


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.report.text import to_json, to_table

    if args.top < 0:
        from hybridperf.errors import InputError

        raise InputError(f"--top must be >= 0 (0 prints the summary without the kernel table), got {args.top}")
    from hybridperf.commands._common import model_device_spec, print_warnings

    spec = model_device_spec(args)
    pred = predict_from_args(args, spec)
    if args.strict:
        check_coverage(pred.analyzed.analysis)
    out = to_json(pred) if args.format == "json" else to_table(pred, top=args.top)
    sys.stdout.write(out + "\n")
    # the JSON lists every kernel: until 2026-12-04 it was the same with or without --top, unsaid
    if args.format == "json" and given(args, "top"):
        print(f"hybridperf: note: --top {args.top} sets the rows of the table; --format json lists every kernel (its "
              "kernels[])", file=sys.stderr)
    print_warnings(pred)
    return ExitCode.OK


def check_coverage(analysis) -> None:
    """Raise InputError when some op has no cost (for ``--strict``)."""
    from hybridperf.costs import Status
    from hybridperf.errors import InputError

    missing = sorted({r.op for r in analysis.records if r.status in (Status.UNSUPPORTED, Status.SYMBOLIC)})
    if missing:
        raise InputError(
            f"--strict: {len(missing)} op types have no cost ({', '.join(missing)}); "
            "add a cost rule or drop --strict to get a partial prediction"
        )
