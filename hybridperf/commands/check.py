"""``hybridperf check [MODEL ...] --device ID --max-latency 20ms --max-memory 512MiB --max-energy 50mJ``.

Exit 0 when every model is within budget on every device, 1 when any limit is
exceeded, 2 on bad input (model, device, limit syntax, config file). Limits
also come from ``[tool.hybridperf]`` in ``pyproject.toml`` (schema and
precedence: :mod:`hybridperf.budget`). Each model is analysed once and priced
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
import os
import sys
import tempfile
from pathlib import Path

from hybridperf.cli import ExitCode
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
    p.add_argument("--format", choices=("table", "json", "github"), default="table", help="output format (default %(default)s)")
    p.add_argument("--junit-xml", metavar="FILE", type=Path, help="also write a JUnit XML report to FILE")
    p.add_argument("--config", metavar="FILE", type=Path, help="TOML file with [tool.hybridperf] (default ./pyproject.toml)")


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.budget import Budget, load_config, resolve_targets, run_check
    from hybridperf.commands._common import shapes_from_args

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
    result = run_check(targets, fused=not args.no_fuse, residual=None if args.roofline_only else "auto")
    render = {"table": to_table, "json": to_json, "github": to_github}[args.format]
    if args.junit_xml is not None:
        try:
            write_atomic(args.junit_xml, to_junit_xml(result))
        except OSError as exc:
            raise InputError(f"cannot write --junit-xml {args.junit_xml}: {exc.strerror or exc}") from exc
    sys.stdout.write(render(result) + "\n")
    return ExitCode.OK if result.passed else ExitCode.BUDGET_EXCEEDED


# --------------------------------------------------------------------------- rendering


def _fmt(metric, value: float | None) -> str:
    from hybridperf.budget import Metric
    from hybridperf.report import fmt_bytes, fmt_energy, fmt_time

    if value is None:
        return "-"
    return {Metric.LATENCY: fmt_time, Metric.MEMORY: fmt_bytes, Metric.ENERGY: fmt_energy}[metric](value)


def _status(c) -> str:
    if c.skipped:
        return "no budget"
    return "ok" if c.passed else f"OVER (+{c.over_by:.0%})"


def _message(c) -> str:
    return (
        f"{c.metric.value} {_fmt(c.metric, c.value)} exceeds the budget {_fmt(c.metric, c.limit)} "
        f"by {c.over_by:.1%} on {c.device}"
    )


def _summary(result) -> str:
    budgeted = [c for c in result.checks if not c.skipped]
    over = result.failures
    pairs = {(c.model, c.device) for c in result.checks}
    verdict = "within budget" if not over else f"{len(over)} over budget"
    return f"{len(budgeted)} limits checked on {len(pairs)} model x device pairs: {verdict}"


def to_table(result) -> str:
    from hybridperf.report import table

    rows = [
        [c.model, c.device, c.metric.value, _fmt(c.metric, c.value), _fmt(c.metric, c.limit), _status(c)]
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
    lines.append(_summary(result))
    return "\n".join(lines)


def to_junit_xml(result) -> str:
    """JUnit XML: a testsuite per model, a testcase per device x metric."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="hybridperf check")
    by_model: dict[str, list] = {}
    for c in result.checks:
        by_model.setdefault(c.model, []).append(c)
    total = failures = skipped = 0
    for model, checks in by_model.items():
        nf = sum(1 for c in checks if not c.passed)
        ns = sum(1 for c in checks if c.skipped)
        suite = ET.SubElement(
            root, "testsuite", name=model, tests=str(len(checks)), failures=str(nf), errors="0", skipped=str(ns)
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
            elif not c.passed:
                ET.SubElement(case, "failure", message=_message(c), type="BudgetExceeded").text = (
                    f"predicted {c.value!r} {c.metric.si_unit} > budget {c.limit!r} {c.metric.si_unit}"
                )
        total += len(checks)
        failures += nf
        skipped += ns
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.resolve().parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
