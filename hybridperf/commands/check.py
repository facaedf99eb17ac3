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
import json
import re
import sys
from pathlib import Path

from hybridperf.cli import ExitCode
from hybridperf.commands._common import write_atomic
from hybridperf.errors import InputError

CHECK_SCHEMA_VERSION = 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="*", metavar="MODEL", help="model files (default: every model in [tool.hybridperf.budgets])")
    p.add_argument("--device", "-d", action="append", default=[], metavar="ID", help="device id or spec file (repeatable)")
    p.add_argument("--max-latency", metavar="T", help="latency limit: s, ms, us, ns (e.g. 20ms)")
    p.add_argument("--max-memory", metavar="M", help="peak memory limit: B, KB, MB, GB, KiB, MiB, GiB (e.g. 512MiB)")
    p.add_argument("--max-energy", metavar="E", help="energy limit per inference: J, mJ, uJ (e.g. 50mJ)")
    p.add_argument("--shape", action="append", metavar="NAME=DxD..", help="bind an input shape (repeatable)")
    p.add_argument("--batch", type=int, help="bind a symbolic leading (batch) dimension of every input")
    p.add_argument("--precision", choices=["tf32", "fp16", "bf16", "fp8", "int8"], help="run float32 ops at this precision")
    p.add_argument("--no-fuse", action="store_true", help="one kernel per op instead of TVM's FuseOps grouping")
    p.add_argument("--roofline-only", action="store_true", help="ignore a calibrated residual model")
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
    targets = resolve_targets(args.models, config, cli_budget, args.device, args.batch, shapes, args.precision)
    if args.junit_xml is not None:
        parent = args.junit_xml.resolve().parent
        if not parent.is_dir():
            raise InputError(f"--junit-xml {args.junit_xml}: directory {parent} does not exist; create it first")
        if args.junit_xml.is_dir():
            raise InputError(f"--junit-xml {args.junit_xml} is a directory; name the file to write, e.g. {args.junit_xml / 'hybridperf.xml'}")
    result = run_check(
        targets, fused=not args.no_fuse, residual=None if args.roofline_only else "auto", allow_unsupported=args.allow_unsupported
    )
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
        print(f"hybridperf: error: {_undecided_line(result.undecided)}", file=sys.stderr)
        return ExitCode.INPUT_ERROR
    return ExitCode.OK if result.passed else ExitCode.BUDGET_EXCEEDED


def _undecided_line(checks) -> str:
    """One line: which limits cannot be judged, why, and how to proceed."""
    parts = list(dict.fromkeys(f"{c.metric.value} of {c.model} on {c.device} ({c.unknown or 'lower bound: ' + c.lower_bound})" for c in checks))
    fix = (
        "; add cost rules, or pass --allow-unsupported to judge the lower bound"
        if any(c.lower_bound and c.value is not None for c in checks)
        else "; the figure is unknown, so no budget can be checked against it"
    )
    return f"cannot judge {len(parts)} limit{'s' if len(parts) != 1 else ''}: " + "; ".join(parts) + fix


# --------------------------------------------------------------------------- rendering


def _fmt(metric, value: float | None) -> str:
    from hybridperf.estimate.budget import Metric
    from hybridperf.report.text import fmt_bytes, fmt_energy, fmt_time

    if value is None:
        return "-"
    return {Metric.LATENCY: fmt_time, Metric.MEMORY: fmt_bytes, Metric.ENERGY: fmt_energy}[metric](value)


def _status(c) -> str:
    if c.skipped:
        return "no budget"
    if c.undecided:
        return "UNKNOWN" if c.value is None else "UNDECIDED (lower bound)"
    if c.exceeded:
        where = " device memory" if c.over_capacity and (c.limit is None or c.capacity < c.limit) else ""
        return f"OVER{where} (+{c.over_by:.0%})"
    return "ok (lower bound)" if c.lower_bound else "ok"


def _predicted(c) -> str:
    if c.value is None:
        return "unknown"
    return ("≥ " if c.lower_bound else "") + _fmt(c.metric, c.value)


def _limit_text(c) -> str:
    if c.limit is None and c.over_capacity:
        return _fmt(c.metric, c.capacity) + " (device)"
    return _fmt(c.metric, c.limit)


def _message(c) -> str:
    if c.over_capacity and (c.limit is None or c.capacity < c.limit):
        return (
            f"{c.metric.value} {_fmt(c.metric, c.value)} exceeds the memory of {c.device} "
            f"({_fmt(c.metric, c.capacity)}) by {c.over_by:.1%}"
        )
    return (
        f"{c.metric.value} {_predicted(c)} exceeds the budget {_fmt(c.metric, c.limit)} "
        f"by {c.over_by:.1%} on {c.device}"
    )


def _summary(result) -> str:
    budgeted = [c for c in result.checks if not c.skipped]
    over = result.failures
    pairs = {(c.model, c.device) for c in result.checks}
    verdict = "within budget" if not over else f"{len(over)} over budget"
    if result.undecided:
        verdict += f", {len(result.undecided)} cannot be judged"
    return f"{len(budgeted)} limits checked on {len(pairs)} model x device pairs: {verdict}"


def to_table(result) -> str:
    from hybridperf.report.text import table

    rows = [
        [c.model, c.device, c.metric.value, _predicted(c), _limit_text(c), _status(c)]
        for c in result.checks
    ]
    return table(rows, ["model", "device", "metric", "predicted", "budget", "status"], "lllrrl") + "\n" + _summary(result)


def to_dict(result) -> dict:
    return {
        "schema_version": CHECK_SCHEMA_VERSION,
        "passed": result.passed,
        "checks": [
            {
                "model": c.model,
                "device": c.device,
                "metric": c.metric.value,
                "unit": c.metric.si_unit,
                "predicted": c.value,
                "budget": c.limit,
                "passed": c.passed,
                "skipped": c.skipped,
                "exceeded": c.exceeded,
                "undecided": c.undecided,
                "device_capacity": c.capacity,
                "lower_bound": c.lower_bound or None,
                "unknown": c.unknown or None,
            }
            for c in result.checks
        ],
    }


def to_json(result) -> str:
    return json.dumps(to_dict(result), indent=2)


def _gh_escape(text: str, prop: bool = False) -> str:
    """Escape for a GitHub workflow command (data; properties also escape ``:`` and ``,``)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def to_github(result) -> str:
    lines = []
    for c in result.failures:
        title = f"hybridperf: {c.metric.value} over budget on {c.device}"
        lines.append(f"::error file={_gh_escape(c.model, True)},title={_gh_escape(title, True)}::{_gh_escape(_message(c))}")
    for c in result.undecided:
        title = f"hybridperf: {c.metric.value} cannot be judged on {c.device}"
        why = c.unknown or f"lower bound {_predicted(c)}: {c.lower_bound}"
        lines.append(f"::error file={_gh_escape(c.model, True)},title={_gh_escape(title, True)}::{_gh_escape(why)}")
    lines.append(_summary(result))
    return "\n".join(lines)


def to_junit_xml(result) -> str:
    """JUnit XML: a testsuite per model, a testcase per device x metric."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="hybridperf check")
    by_model: dict[str, list] = {}
    for c in result.checks:
        by_model.setdefault(c.model, []).append(c)
    total = failures = skipped = errors = 0
    for model, checks in by_model.items():
        nf = sum(1 for c in checks if c.exceeded)
        ns = sum(1 for c in checks if c.skipped)
        ne = sum(1 for c in checks if c.undecided)
        suite = ET.SubElement(
            root, "testsuite", name=model, tests=str(len(checks)), failures=str(nf), errors=str(ne), skipped=str(ns)
        )
        for c in checks:
            case = ET.SubElement(suite, "testcase", classname=model, name=f"{c.device}.{c.metric.value}", time="0")
            props = ET.SubElement(case, "properties")
            ET.SubElement(props, "property", name="predicted", value=repr(c.value))
            if c.limit is not None:
                ET.SubElement(props, "property", name="budget", value=repr(c.limit))
            ET.SubElement(props, "property", name="unit", value=c.metric.si_unit)
            if c.skipped:
                ET.SubElement(case, "skipped", message=f"no {c.metric.value} budget")
            elif c.undecided:
                ET.SubElement(case, "error", message=c.unknown or f"lower bound: {c.lower_bound}", type="Undecided")
            elif not c.passed:
                limit = min(x for x in (c.limit, c.capacity) if x is not None)
                ET.SubElement(case, "failure", message=_message(c), type="BudgetExceeded").text = (
                    f"predicted {c.value!r} {c.metric.si_unit} > {'budget' if limit == c.limit else 'device memory'} "
                    f"{limit!r} {c.metric.si_unit}"
                )
        total += len(checks)
        failures += nf
        skipped += ns
        errors += ne
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    root.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

