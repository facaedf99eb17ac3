"""Rendering of a budget check (:class:`~hybridperf.estimate.budget.CheckResult`): a table, versioned
JSON, GitHub workflow commands and JUnit XML; ``hybridperf check`` picks one."""

from __future__ import annotations

import os
import re
from pathlib import Path

from hybridperf.estimate.budget import Metric
from hybridperf.report.format import fmt_bytes, fmt_energy, fmt_percent, fmt_time, one_line, table
from hybridperf.json_text import dumps
from hybridperf.units import whole_bytes

CHECK_SCHEMA_VERSION = 1


def undecided_line(checks) -> str:
    """One line: which limits cannot be judged, why, and how to proceed."""
    parts = list(dict.fromkeys(f"{c.metric.value} of {c.model} on {c.device} ({c.unknown or 'lower bound: ' + c.lower_bound})" for c in checks))
    fixes = []
    bounded = [c for c in checks if c.lower_bound and c.value is not None]
    if bounded:
        # an uncosted op needs a cost rule; a term of probed figures the sheet lacks needs the probe (since
        # 2026-12-07 such a term makes a lower bound too: budget.unpriced_terms_text)
        from hybridperf.estimate.budget import NO_COST
        from hybridperf.estimate.pricing import NOT_PRICED

        fix = " or ".join(f for f, words in (("add cost rules", NO_COST), ("run `hybridperf probe` on the device",
                                                                          NOT_PRICED))
                          if any(words in c.lower_bound for c in bounded)) or "add cost rules"
        fixes.append(f"{fix}, or pass --allow-unsupported to judge the lower bound")
    if any(c.lower_bound and c.value is None for c in checks):  # nothing priced: no bound to accept
        fixes.append("a figure of which nothing was priced can only be judged once its ops have cost rules")
    if any(c.value is None and not c.lower_bound for c in checks):
        fixes.append("the figure is unknown, so no budget can be checked against it")
    limits = "limit" if len(parts) == 1 else "limits"
    return f"cannot judge {len(parts)} {limits}: " + "; ".join(parts + fixes)


def override_line(o) -> str:
    """One line for an :class:`~hybridperf.estimate.budget.Override`: which flag replaced which value of the file."""
    if o.metric is not None:
        return (f"{o.flag} {_fmt(o.metric, o.new)} replaces {o.key} {_fmt(o.metric, o.old)} of {o.path} "
                f"({o.pairs}): the command line wins")
    if o.flag == "--device":
        return (f"--device {' '.join(o.new)} replaces the devices of {o.path}: not checked on "
                f"{', '.join(o.old)}")
    return f"{o.flag} {o.new} replaces {o.key} {', '.join(map(str, o.old))} of {o.path}: the command line wins"


def _fmt(metric, value: float | None) -> str:
    if value is None:
        return "-"
    return {Metric.LATENCY: fmt_time, Metric.MEMORY: fmt_bytes, Metric.ENERGY: fmt_energy}[metric](value)


def _status(c) -> str:
    if c.undecided and c.estimate is not None:
        return "UNDECIDED (estimate)"
    status = _verdict(c)
    if not c.estimated or c.skipped or c.value is None:
        return status
    note = "unverified" if c.metric is Metric.LATENCY else "estimated power"
    if status.endswith(")"):  # "ok (lower bound)" -> "ok (lower bound, estimated power)"
        return f"{status[:-1]}, {note})"
    return f"{status} ({note})"


def _verdict(c) -> str:
    if c.skipped:
        return "no budget"
    if c.undecided:
        return "UNKNOWN" if c.value is None else "UNDECIDED (lower bound)"
    if c.exceeded:
        where = " device memory" if _device_limit(c) else ""
        return f"OVER{where} (+{fmt_percent(c.over_by, 0)})"
    return "ok (lower bound)" if c.lower_bound else "ok"


def _predicted(c) -> str:
    if c.value is None and c.exceeded:  # an unknown figure whose known floor is over a limit
        return "≥ " + _fmt(c.metric, c.at_least)
    if c.value is None:
        return "unknown" if c.estimate is None else "≈ " + _fmt(c.metric, c.estimate)
    return ("≥ " if c.lower_bound else "") + _fmt(c.metric, c.value)


def _limit_text(c) -> str:
    if c.limit is None and c.over_capacity:
        return _fmt(c.metric, c.capacity) + " (device)"
    return _fmt(c.metric, c.limit)


def _device_limit(c) -> bool:
    """The tightest limit ``c`` exceeds is the device's memory, not a budget."""
    return c.over_capacity and (c.limit is None or c.capacity < c.limit)


def _said(c) -> str:
    """What qualifies ``c``'s figure, in ``predict``'s words where it has them (energy: its note, which names an
    estimated power itself), else why it is estimated (an unverified latency), else ""."""
    return c.note or c.estimated


def _at_least_text(c) -> str:
    """``"at least 1.12 TiB (the inputs alone; the peak is unknown: no memory plan (...))"``: what an unknown figure
    judged by its floor (:attr:`~hybridperf.estimate.budget.MetricCheck.at_least`) is, else ""."""
    if c.value is not None or not c.exceeded:
        return ""
    return (f"at least {_fmt(c.metric, c.at_least)} ({c.at_least_is}; the {'peak' if c.metric is Metric.MEMORY else 'figure'} is unknown: "
            f"{c.unknown or 'unknown'})")


def _message(c) -> str:
    shown = _at_least_text(c) or _fmt(c.metric, c.value)
    if _device_limit(c):
        return (
            f"{c.metric.value} {shown} exceeds the memory of {c.device} "
            f"({_fmt(c.metric, c.capacity)}) by {fmt_percent(c.over_by, 1)}"
        )
    return (
        f"{c.metric.value} {_at_least_text(c) or _predicted(c)} exceeds the budget {_fmt(c.metric, c.limit)} "
        f"by {fmt_percent(c.over_by, 1)} on {c.device}" + (f" ({_said(c)})" if _said(c) else "")
    )


def _notes(result) -> list[str]:
    """One line per figure ``predict`` qualifies (:attr:`~hybridperf.estimate.budget.MetricCheck.note`, e.g. an
    energy capped at the device's max power), in its words: ``energy of m.onnx on t4: capped at max power 70 W x
    latency (...)``."""
    return [f"{c.metric.value} of {one_line(c.model)} on {one_line(c.device)}: {c.note or _at_least_text(c)}"
            for c in result.checks if (c.note and c.value is not None) or _at_least_text(c)]


def _summary(result) -> str:
    budgeted = [c for c in result.checks if not c.skipped]
    over = result.failures
    pairs = {(c.model, c.device) for c in result.checks}
    undecided = result.undecided
    if not over and not undecided:
        verdict = "within budget"
    else:  # the three outcomes are exclusive; name each that occurred
        within = len(budgeted) - len(over) - len(undecided)
        parts = [f"{len(over)} over budget"] if over else []
        parts += [f"{len(undecided)} cannot be judged"] if undecided else []
        parts += [f"{within} within budget"] if within else []
        verdict = ", ".join(parts)
    limits = "limit" if len(budgeted) == 1 else "limits"
    pair_s = "pair" if len(pairs) == 1 else "pairs"
    return f"{len(budgeted)} {limits} checked on {len(pairs)} model x device {pair_s}: {verdict}"


def to_table(result) -> str:
    rows = [  # memory names the peak it judged: "memory (onnxruntime)", "memory (TVM plan)"
        [one_line(c.model), one_line(c.device), c.metric.value + (f" ({c.figure.split(' peak')[0]})" if c.figure else ""),
         _predicted(c), _limit_text(c), _status(c)]
        for c in result.checks
    ]
    notes = "".join(f"note: {line}\n" for line in _notes(result))  # predict's words on a figure (a capped energy)
    return (table(rows, ["model", "device", "metric", "predicted", "budget", "status"], "lllrrl") + "\n" + notes
            + _summary(result))


def _number(metric, value: float | None) -> float | int | None:
    """A figure or limit for JSON and JUnit: bytes (memory) as the whole number they are, as ``predict``'s
    ``peak_bytes`` (:func:`~hybridperf.units.whole_bytes`; ``9807918.0`` beside predict's ``9807918`` until
    2026-12-05), a limit with a fraction of a byte (``1.3KB`` is 1300 B, ``0.3KiB`` 307.2 B) as given; other
    metrics as they are."""
    if metric is Metric.MEMORY and isinstance(value, float) and value.is_integer():
        return whole_bytes(value)
    return value


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
                "predicted": _number(c.metric, c.value),
                "budget": _number(c.metric, c.limit),
                "passed": c.passed,
                "skipped": c.skipped,
                "exceeded": c.exceeded,
                "undecided": c.undecided,
                "device_capacity": whole_bytes(c.capacity),  # bytes: a whole number, as predict's
                "lower_bound": c.lower_bound or None,
                "unknown": c.unknown or None,
                "estimated": c.estimated or None,
                # predict's note on the figure where it says more than "estimated" (a capped energy: totals.energy_note)
                **({"note": c.note} if c.note else {}),
                **({"figure": c.figure} if c.figure else {}),  # memory rows: which peak was judged
                # predict's figure that could not be judged (peak ≈ X: guessed sizes); "predicted" stays null
                **({"estimate": _number(c.metric, c.estimate)} if c.estimate is not None else {}),
                # a known floor of an unknown figure (memory: the inputs alone), judged where over a limit
                **({"at_least": _number(c.metric, c.at_least), "at_least_is": c.at_least_is} if c.at_least is not None else {}),
            }
            for c in result.checks
        ],
    }


def to_json(result) -> str:
    return dumps(to_dict(result))  # unknown is null; a NaN raises: JSON has none


def _gh_escape(text: str, prop: bool = False) -> str:
    """Escape for a GitHub workflow command (data; properties also escape ``:`` and ``,``)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def _gh_file(model: str, root: str | None = None) -> str:
    """The ``file=`` of an annotation on ``model``: its path from ``root`` (the repository root,
    ``$GITHUB_WORKSPACE``; without one, the working directory) with ``/`` and without ``./`` or ``..``; a file
    outside ``root`` keeps its absolute path (relative, it would name a file of the repository). GitHub attaches an
    annotation to a file of the pull request only by its path from the repository root: until 2026-12-03
    ``./m.onnx``, an absolute path or a path relative to a step's ``working-directory`` was written as given and
    the annotation was shown on no file."""
    path = Path(os.path.abspath(model))
    base = root or os.getcwd()
    for b in dict.fromkeys((os.path.abspath(base), os.path.realpath(base))):
        try:
            return path.relative_to(b).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def to_github(result, root: str | None = None) -> str:
    """GitHub workflow commands: an ``::error`` per limit exceeded or not judged, a ``::warning`` per latency limit met
    by an unverified figure (the table's ``ok (unverified)``: no annotation said so until 2026-12-03), each on the
    model's file (its path from ``root``, the repository root: :func:`_gh_file`), then the summary line."""
    lines = []
    for c in result.failures:
        title = (f"hybridperf: does not fit in the memory of {c.device}" if _device_limit(c)
                 else f"hybridperf: {c.metric.value} over budget on {c.device}")
        lines.append(f"::error file={_gh_escape(_gh_file(c.model, root), True)},title={_gh_escape(title, True)}::"
                     f"{_gh_escape(_message(c))}")
    for c in result.undecided:
        title = f"hybridperf: {c.metric.value} cannot be judged on {c.device}"
        why = c.unknown or f"lower bound {_predicted(c)}: {c.lower_bound}"
        if c.estimate is not None:
            why = f"estimate {_predicted(c)}: {why}"
        lines.append(f"::error file={_gh_escape(_gh_file(c.model, root), True)},title={_gh_escape(title, True)}::"
                     f"{_gh_escape(why)}")
    for c in result.checks:
        if c.metric is Metric.LATENCY and c.estimated and c.value is not None and c.limit is not None and c.passed:
            title = f"hybridperf: latency within budget on {c.device}, unverified"
            lines.append(f"::warning file={_gh_escape(_gh_file(c.model, root), True)},title={_gh_escape(title, True)}::"
                         f"{_gh_escape(f'{_predicted(c)} within {_limit_text(c)}; {c.estimated}')}")
        elif c.note and c.value is not None and c.limit is not None and c.passed:
            # a limit met by a figure predict qualifies (an energy capped at max power, or on estimated power):
            # a notice in predict's words (until 2026-12-04 nothing: the annotations said only what failed)
            title = f"hybridperf: {c.metric.value} within budget on {c.device}"
            lines.append(f"::notice file={_gh_escape(_gh_file(c.model, root), True)},title={_gh_escape(title, True)}::"
                         f"{_gh_escape(f'{_predicted(c)} within {_limit_text(c)}; {c.note}')}")
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
            ET.SubElement(props, "property", name="predicted", value="unknown" if c.value is None else repr(_number(c.metric, c.value)))
            if c.estimate is not None:  # predict's "peak ≈ X", not judged
                ET.SubElement(props, "property", name="estimate", value=repr(_number(c.metric, c.estimate)))
            if c.lower_bound and c.value is not None:
                ET.SubElement(props, "property", name="lower_bound", value=c.lower_bound)
            if c.limit is not None:
                ET.SubElement(props, "property", name="budget", value=repr(_number(c.metric, c.limit)))
            ET.SubElement(props, "property", name="unit", value=c.metric.si_unit)
            if c.figure:
                ET.SubElement(props, "property", name="figure", value=c.figure)
            if c.estimated and c.value is not None:  # a pass on an unverified latency or estimated power says so
                ET.SubElement(props, "property", name="estimated", value=c.estimated)
            if c.note and c.value is not None:  # predict's note on the figure (a capped energy)
                ET.SubElement(props, "property", name="note", value=c.note)
            if c.skipped:
                ET.SubElement(case, "skipped", message=f"no {c.metric.value} budget")
            elif c.undecided:
                ET.SubElement(case, "error", message=c.unknown or f"lower bound: {c.lower_bound}", type="Undecided")
            elif not c.passed:
                limit = min(x for x in (c.limit, c.capacity) if x is not None)
                predicted = (repr(_number(c.metric, c.value)) if c.value is not None else
                             f"at least {_number(c.metric, c.at_least)!r}")
                ET.SubElement(case, "failure", message=_message(c), type="BudgetExceeded").text = (
                    f"predicted {predicted} {c.metric.si_unit} > {'budget' if limit == c.limit else 'device memory'} "
                    f"{_number(c.metric, limit)!r} {c.metric.si_unit}"
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
    text = ET.tostring(root, encoding="unicode")
    # ElementTree writes control characters as they are, which no XML parser reads (a model file named with an ESC
    # made the whole report unreadable until 2026-12-03): each is written as its Python escape instead
    text = _NOT_XML.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n"


#: characters outside XML 1.0's Char production (control characters, lone surrogates, U+FFFE/U+FFFF)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

