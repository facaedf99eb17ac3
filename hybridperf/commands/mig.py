"""``hybridperf mig MODEL --device a100-sxm-80gb [--max-latency 5ms] [--headroom 500MiB]``.

Prints one row per MIG profile of the device (fits memory? predicted latency,
meets the budget?) and the smallest suitable profile; the scaling model is in
:mod:`hybridperf.estimate.mig`. Exit 0 with a suggestion, 1 when no profile fits the
memory and latency budget, 2 on bad input (including a device without MIG
profiles) and when the choice rests on a figure that is only a lower bound
(ops without a cost rule, or a memory plan that is a lower bound): the
table is printed with ``≥`` (``unknown`` when nothing was priced), no profile
is suggested and stderr names the ops. ``--allow-unsupported`` suggests on
the lower bounds, as ``check --allow-unsupported`` judges them; a latency
budget cannot be judged on an unknown latency even then.
"""

from __future__ import annotations

import argparse
import math
import re
import sys

from hybridperf.cli import ExitCode
from hybridperf.commands._common import (StoreOnce, add_format_argument, add_model_arguments, add_roofline_only_argument,
                                         add_runtime_argument, predict_from_args)


#: ``--headroom``'s default as ``--help`` shows it (:data:`hybridperf.estimate.mig.DEFAULT_HEADROOM_BYTES`, which
#: ``run`` uses; a test pins that the two agree); written out so that ``--help`` imports nothing
HEADROOM = "500MiB"


def parse_headroom(text: str) -> int:
    """``--headroom``: whole bytes of a capacity with a unit, or 0 (``0``, ``0 MiB``, ``.0GB``, ``0e0B``: none kept).

    A negative figure is refused saying 0 is allowed (until 2026-12-04 ``-1MiB`` read "must be positive" while ``0``
    was taken, and ``.0MiB`` / ``0e0MiB`` were refused as not positive while ``0MiB`` was taken)."""
    from hybridperf.errors import InputError
    from hybridperf.estimate.budget import Metric, parse_limit
    from hybridperf.units import split_quantity, units_of

    quantity = split_quantity(text.strip())
    if quantity is not None:
        num, unit = quantity
        try:
            number = float(num)
        except ValueError:
            number = math.nan
        if number < 0:
            raise InputError(f"--headroom {text!r}: must be positive or 0 (none); write 0, or a positive number and "
                             f"one of {', '.join(units_of('capacity'))}, e.g. 512MiB")
        if number == 0 and (not unit or unit in units_of("capacity")):
            return 0
    # a limit's hints told of the headroom: 0 is allowed, and leaving the flag out keeps 500MiB (until 2026-12-04
    # ``--headroom inf`` read "leave the limit out to set none", and every hint "write a positive number"), and named
    # it as what it is (until 2026-12-05 ``--headroom 500`` read "a limit needs a unit")
    return math.ceil(parse_limit(text, Metric.MEMORY, "--headroom", False, zero_is_none=True, noun="headroom"))


def add_arguments(p: argparse.ArgumentParser) -> None:
    from hybridperf.units import units_of  # the units the parsers accept (check's flags list them the same way)

    add_model_arguments(p)
    add_runtime_argument(p)
    add_format_argument(p)
    p.add_argument("--max-latency", action=StoreOnce, metavar="T", help=f"latency budget: {', '.join(units_of('time'))} (e.g. 5ms)")
    p.add_argument(
        "--headroom",
        action=StoreOnce,
        metavar="M",
        help=f"memory kept free on the instance for the CUDA context and workspaces: {', '.join(units_of('capacity'))} "
             f"(e.g. 1GiB), 0 for none (default {HEADROOM})",
    )
    add_roofline_only_argument(p)
    p.add_argument(
        "--allow-unsupported",
        action="store_true",
        help="suggest a profile for a model with uncosted ops on its lower-bound figures (default: exit 2 naming the ops)",
    )
    # as check's: "-1MiB" after a flag is a (negative) value, so the limit parser can say "must be positive"
    p._negative_number_matcher = re.compile(r"^-\.?\d")  # noqa: SLF001 - this parser's own setting


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.estimate.budget import Metric, parse_limit
    from hybridperf.estimate.mig import DEFAULT_HEADROOM_BYTES, caveats, require_profiles, suggest
    from hybridperf.report.mig import suggested, to_json, to_table

    max_latency = None if args.max_latency is None else parse_limit(args.max_latency, Metric.LATENCY, "--max-latency", False)
    headroom = DEFAULT_HEADROOM_BYTES if args.headroom is None else parse_headroom(args.headroom)
    if args.device == "host":
        from hybridperf.errors import InputError

        raise InputError("mig sizes a MIG partition of a GPU: pass --device with MIG profiles (e.g. a100-sxm-80gb, "
                         "h100-sxm); the default device, host, is this machine's CPU")
    from hybridperf.commands._common import device_spec_of, print_warnings

    spec = device_spec_of(args.device)  # a sheet of a busy probe warns (until 2026-12-04 silently)
    require_profiles(spec)  # a device without MIG fails before the slow analysis
    pred = predict_from_args(args, spec)
    s = suggest(pred, headroom, max_latency)
    c = caveats(pred, s, args.allow_unsupported)
    source = pred.analyzed.source
    sys.stdout.write((to_json(s, source, c) if args.format == "json" else to_table(s, source, c)) + "\n")
    print_warnings(pred)  # as predict's (until 2026-12-04 mig said nothing of e.g. a precision priced at another)
    if c.undecided:
        print(f"hybridperf: error: cannot size a MIG profile for {source} on {s.device}: {c.undecided}", file=sys.stderr)
        return ExitCode.INPUT_ERROR
    return ExitCode.OK if suggested(s, c) is not None else ExitCode.BUDGET_EXCEEDED
