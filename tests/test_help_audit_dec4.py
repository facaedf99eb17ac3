"""``hybridperf <command> --help`` says what the parser does: units listed are the units accepted, defaults named are
the parser's defaults, options a path refuses say so (help audit of 2026-12-04)."""

from __future__ import annotations

import argparse

import pytest

from hybridperf.cli import COMMANDS, build_parser
from hybridperf.estimate.budget import Metric, parse_limit
from hybridperf.units import units_of


def _command_parser(name: str) -> argparse.ArgumentParser:
    parser = build_parser(only=name)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    return sub.choices[name]


def _help(name: str, flag: str) -> str:
    action = next(a for a in _command_parser(name)._actions if flag in a.option_strings)  # noqa: SLF001
    return " ".join(action.help.split())


@pytest.mark.parametrize("command, flag, metric", [
    ("check", "--max-latency", Metric.LATENCY),
    ("check", "--max-memory", Metric.MEMORY),
    ("check", "--max-energy", Metric.ENERGY),
    ("mig", "--max-latency", Metric.LATENCY),
    ("mig", "--headroom", Metric.MEMORY),
])
def test_limit_help_lists_every_unit_accepted(command, flag, metric):
    # until 2026-12-04 `check --help` listed "kJ, J, mJ, uJ, Wh, mWh" for --max-energy, while 5nJ, 3pJ, 1fJ and
    # 0.1kWh were taken (and the error message listed all ten); mig's --headroom listed no unit at all
    text = _help(command, flag)
    units = units_of(metric.quantity)
    assert ", ".join(units) in text
    number = "0.1" if metric is Metric.ENERGY else "2"  # 1 kWh (3.6e6 J) is over the largest energy limit
    for unit in units:  # each one listed is accepted
        assert parse_limit(f"{number}{unit}", metric, flag, False) > 0


def test_energy_help_names_the_small_and_watt_hour_units():
    text = _help("check", "--max-energy")
    for unit in ("nJ", "pJ", "fJ", "kWh"):
        assert unit in text.split(": ", 1)[1].split(" (")[0].split(", ")


def _defaults_named():
    for name in COMMANDS:
        for action in _command_parser(name)._actions:  # noqa: SLF001
            default = action.default
            if (action.help and "default" in action.help and default is not argparse.SUPPRESS
                    and isinstance(default, (int, float, str)) and not isinstance(default, bool)):
                yield name, action.option_strings[0] if action.option_strings else action.dest, action, default


@pytest.mark.parametrize("name, flag, action, default", list(_defaults_named()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_default_named_in_help_is_the_parsers(name, flag, action, default):
    text = action.help % {"default": default} if "%(default)" in action.help else action.help
    assert (f"default {default}" in text or f"default: {default}" in text or f"default {default}" in text
            or (text.startswith(str(default)) and "(default)" in text))


def test_defaults_named_cover_the_numeric_ones():
    found = {(n, f): d for n, f, _, d in _defaults_named()}
    # 4 rounds, seed 0, 20 repeats, 5 warm-ups, top 15: the figures the help texts name
    assert found[("calibrate", "--rounds")] == 4 and found[("calibrate", "--seed")] == 0
    assert found[("measure", "--repeats")] == 20 and found[("measure", "--warmup")] == 5
    assert found[("predict", "--top")] == 15


@pytest.mark.parametrize("flag", ["--shots", "--batch", "--rounds", "--threads", "--few-shot"])
def test_calibrate_cpu_only_options_say_so(flag):
    # until 2026-12-04 these read "with --measure:" (or nothing), while a GPU --measure refuses --shots, --batch,
    # --threads and --few-shot with exit 2
    assert "(CPU)" in _help("calibrate", flag)


def test_calibrate_reset_names_what_it_refuses():
    # until 2026-12-04 --reset's help named neither that a GPU device is refused nor that other options are
    text = _help("calibrate", "--reset")
    assert "CPU devices only" in text and "takes only --device and --out" in text


@pytest.mark.parametrize("flag", ["--id", "--name"])
def test_probe_id_and_name_go_with_out(flag):
    # until 2026-12-04 the help did not say that `probe --host --id X` is refused (exit 2)
    assert _help("probe", flag).startswith("with --out:")


def test_check_device_default_names_the_model_entry():
    # until 2026-12-04 the help named only [tool.hybridperf]'s devices, while a model's own entry wins
    assert "[tool.hybridperf.budgets] entry" in _help("check", "--device")
