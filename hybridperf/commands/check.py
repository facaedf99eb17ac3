"""``hybridperf check [MODEL ...] --device ID --max-latency 20ms --max-memory 512MiB --max-energy 50mJ``.

Exit 0 when every model is within budget on every device, 1 when any limit is
exceeded (memory is also checked against the device's capacity, with or
without ``--max-memory``), 2 on bad input (model, device, limit syntax, config
file) and when a limit cannot be judged: a figure that is unknown (no memory
plan) or only a lower bound (ops without a cost rule, named on stderr). A lower
bound above its limit still fails with 1; ``--allow-unsupported`` judges lower
bounds as they are and marks them ``(lower bound)``. Limits
also come from ``[tool.hybridperf]`` in ``pyproject.toml`` (schema and
precedence: :mod:`hybridperf.estimate.budget`). Each model is analysed once and priced
on each device.

Output formats: ``table`` (one row per model x device x metric), ``json``,
``github`` (a ``::error`` workflow command per exceeded limit, shown as an
annotation on the model file). ``--junit-xml FILE`` also writes a JUnit report,
one testcase per model x device x metric (unbudgeted metrics are skipped
testcases). The file is written atomically (temporary file + rename) and only
after every model was checked, so bad input never leaves a partial file.

Pre-commit: the repository's ``.pre-commit-hooks.yaml`` defines the hook
``hybridperf-check`` (``entry: hybridperf check``, ``files: \\.onnx$``); the
staged models are passed as MODEL arguments and the limits come from
``pyproject.toml``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from hybridperf.cli import ExitCode
from hybridperf.precision import OVERRIDES
from hybridperf.files import write_atomic
from hybridperf.errors import InputError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from hybridperf.commands._common import StoreOnce, add_roofline_only_argument, add_runtime_argument

    p.add_argument("models", nargs="*", metavar="MODEL", help="model files (default: every model in [tool.hybridperf.budgets])")
    p.add_argument("--device", "-d", action="append", default=[], metavar="ID", help="device id or spec file (repeatable; default: the devices of [tool.hybridperf], else host, this machine)")
    p.add_argument("--max-latency", action=StoreOnce, metavar="T", help="latency limit: s, ms, us, ns (e.g. 20ms)")
    p.add_argument("--max-memory", action=StoreOnce, metavar="M", help="peak memory limit: B, KB, MB, GB, KiB, MiB, GiB (e.g. 512MiB)")
    p.add_argument("--max-energy", action=StoreOnce, metavar="E", help="energy limit per inference: J, mJ, uJ (e.g. 50mJ)")
    p.add_argument("--shape", action="append", metavar="NAME=DxD..", help="bind an input shape (repeatable)")
    p.add_argument("--batch", type=int, help="bind a symbolic leading (batch) dimension of every input")
    p.add_argument("--precision", choices=OVERRIDES, help="run float32 ops at this precision")
    p.add_argument("--no-fuse", action="store_true", help="one kernel per op instead of TVM's FuseOps grouping")
    add_roofline_only_argument(p)
    add_runtime_argument(p)
    p.add_argument(
        "--allow-unsupported",
        action="store_true",
        help="judge a model with uncosted ops by its lower-bound figures (default: exit 2 naming the ops)",
    )
    p.add_argument("--format", choices=("table", "json", "github"), default="table", help="output format (default %(default)s)")
    p.add_argument("--junit-xml", metavar="FILE", type=Path, help="also write a JUnit XML report to FILE")
    p.add_argument("--config", metavar="FILE", type=Path, help="TOML file with [tool.hybridperf] (default ./pyproject.toml)")
    # argparse takes "-5ms" (space-separated) for an option and stops with "expected one argument"; a
    # leading minus and a digit is a (negative) limit here, so the limit parser can say "must be positive"
    p._negative_number_matcher = re.compile(r"^-\.?\d")  # noqa: SLF001 - this parser's own setting


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.api import run_check
    from hybridperf.commands._common import shapes_from_args
    from hybridperf.estimate.budget import Budget, load_config, resolve_targets

    # Validate everything cheap before the slow analysis: limits, config, devices, output path.
    cli_budget = Budget.parse(args.max_latency, args.max_memory, args.max_energy, allow_number=False)
    shapes = shapes_from_args(args)
    config = load_config(args.config, required=args.config is not None)
    devices = list(args.device)
    if not devices and not (config and (config.devices or any(m.devices for m in config.models))):
        devices = ["host"]  # no device anywhere: this machine (hybridperf.measure.host)
    targets = resolve_targets(args.models, config, cli_budget, devices, args.batch, shapes, args.precision)
    from hybridperf.frontends.load import check_model_file

    for t in targets:
        check_model_file(t.model)  # a mistyped path fails before a host probe
    specs = None
    if any("host" in t.devices for t in targets):
        from hybridperf.commands._common import resolve_device
        from hybridperf.device.spec import load_spec

        specs = {"host": load_spec(resolve_device("host"))}
    if args.junit_xml is not None:
        parent = args.junit_xml.resolve().parent
        if not parent.is_dir():
            raise InputError(f"--junit-xml {args.junit_xml}: directory {parent} does not exist; create it first")
        if args.junit_xml.is_dir():
            raise InputError(f"--junit-xml {args.junit_xml} is a directory; name the file to write, e.g. {args.junit_xml / 'hybridperf.xml'}")
    result = run_check(
        targets, fused=not args.no_fuse, residual=None if args.roofline_only else "auto", allow_unsupported=args.allow_unsupported,
        specs=specs, runtime=args.runtime,
    )
    from hybridperf.report.check import to_github, to_json, to_junit_xml, to_table, undecided_line

    render = {"table": to_table, "json": to_json, "github": to_github}[args.format]
    if args.junit_xml is not None:
        try:
            write_atomic(args.junit_xml, to_junit_xml(result))
        except OSError as exc:
            raise InputError(f"cannot write --junit-xml {args.junit_xml}: {exc.strerror or exc}") from exc
    sys.stdout.write(render(result) + "\n")
    for pred in result.predictions.values():
        for w in pred.warnings:
            print(f"hybridperf: warning: {pred.analyzed.source} on {pred.spec.id}: {w}", file=sys.stderr)
    if result.undecided:
        print(f"hybridperf: error: {undecided_line(result.undecided)}", file=sys.stderr)
        return ExitCode.INPUT_ERROR
    return ExitCode.OK if result.passed else ExitCode.BUDGET_EXCEEDED
