"""One home per concept: the "did you mean" of every message (:func:`hybridperf.errors.did_you_mean`), the one
reading of a number with a unit (:func:`hybridperf.units.split_quantity`) and the one SI formatter
(:func:`hybridperf.units.format_si`), here with the messages each one now makes at its sites."""

from __future__ import annotations

import pytest

from hybridperf.errors import InputError, did_you_mean
from hybridperf.units import format_si, split_quantity

# --------------------------------------------------------------------------- did you mean


@pytest.mark.parametrize("value, choices, hint", [
    ("FP16", ("fp32", "fp16"), " (did you mean 'fp16'?)"),  # case folded
    (" t4 ", ("t4", "a10"), " (did you mean 't4'?)"),  # blanks folded
    ("max-latncy", ("max-latency", "max-memory", "max-energy"), " (did you mean 'max-latency'?)"),  # spelling
    ("predcit", ("predict", "check", "devices"), " (did you mean 'predict'?)"),
    ("zzz", ("predict", "check"), ""),  # nothing close
    (16, ("fp16",), ""),  # not a name
])
def test_did_you_mean(value, choices, hint):
    assert did_you_mean(value, choices) == hint


def test_did_you_mean_aliases_fold_and_note():
    assert did_you_mean("bfloat16", ("fp16", "bf16"), {"bfloat16": "bf16"}) == " (did you mean 'bf16'?)"
    # a custom fold: `_` and `-` ignored
    assert did_you_mean("structured-24", ("structured_2_4",), fold=lambda s: s.lower().replace("_", "").replace(
        "-", "")) == " (did you mean 'structured_2_4'?)"
    # spelling=False: only case and aliases (``tpu`` is not a misspelt ``cpu``)
    assert did_you_mean("tpu", ("gpu", "cpu", "npu"), spelling=False) == ""
    assert did_you_mean("GPU", ("gpu", "cpu", "npu"), spelling=False) == " (did you mean 'gpu'?)"
    assert did_you_mean("mb", ("MB",), note="a lowercase b is a bit") == " (did you mean 'MB'? a lowercase b is a bit)"
    assert did_you_mean("zzz", ("MB",), note="never said") == ""


def test_sheet_hints():
    from hybridperf.device.spec import _LEVEL_ALIASES, _PRECISION_ALIASES, MEMORY_LEVELS, _name_hint
    from hybridperf.units import unit_hint as _unit_hint
    from hybridperf.precision import PRECISIONS

    assert _unit_hint("TFLOPS", "compute") == " (did you mean 'TFLOP/s'?)"
    assert _unit_hint("TFLOP", "compute") == " (did you mean 'TFLOP/s'?)"
    assert _unit_hint("GBps", "bandwidth") == " (did you mean 'GB/s'?)"
    assert _unit_hint("GBs", "capacity") == " (did you mean 'GB'?)"  # a plural
    assert _unit_hint("Gb/s", "bandwidth") == " (did you mean 'GB/s'? a lowercase b is a bit, 1/8 of a byte)"
    assert _unit_hint("msec", "time") == " (did you mean 'ms'?)"
    assert _unit_hint("GB/s", "compute") == ""  # another quantity: said by the caller, never guessed
    # fp61: fp64 and fp16 share 3 of 4 characters each (difflib ratio 0.75); the tie goes to the larger text
    assert _name_hint("fp61", PRECISIONS, _PRECISION_ALIASES) == " (did you mean 'fp64'?)"
    assert _name_hint("FP-16", PRECISIONS, _PRECISION_ALIASES) == " (did you mean 'fp16'?)"
    assert _name_hint("HBM3", MEMORY_LEVELS, _LEVEL_ALIASES) == " (did you mean 'dram'?)"


def test_unknown_command_line(capsys):
    from hybridperf.cli import ExitCode, main

    assert main(["predcit", "m.onnx"]) == ExitCode.INPUT_ERROR
    assert capsys.readouterr().err == ("hybridperf: error: unknown command 'predcit' (did you mean 'predict'?); "
                                       "`hybridperf --help` lists the commands\n")


def test_unknown_device_line(tmp_path):
    from hybridperf.device.spec import available_devices, default_spec_dir, load_spec
    from hybridperf.errors import SpecError

    n = len(available_devices(default_spec_dir()))
    with pytest.raises(SpecError) as info:
        load_spec("T4")
    assert str(info.value) == (f"unknown device 'T4' (did you mean 't4'?): run `hybridperf devices` to list the known "
                               f"ids ({n} sheets, and host: this machine), or pass a spec file path")


def test_api_precision_line():
    from hybridperf.api import _precision

    with pytest.raises(InputError) as info:
        _precision("FP16")
    assert str(info.value) == ("precision='FP16' is not an override (did you mean 'fp16'?): use one of tf32, fp16, "
                               "bf16, fp8, int8, or None to price each op at the model's own precision")


def test_budget_key_and_unit_lines(tmp_path):
    from hybridperf.estimate.budget import BudgetError, load_config, parse_limit

    p = tmp_path / "pyproject.toml"
    p.write_text('[tool.hybridperf]\nmax-latncy = "5ms"\n')
    with pytest.raises(BudgetError) as info:
        load_config(p)
    assert str(info.value) == f"{p}: [tool.hybridperf] unknown key 'max-latncy' (did you mean 'max-latency'?)"
    with pytest.raises(BudgetError) as info:
        parse_limit("512mib", "memory")
    assert str(info.value) == ("--max-memory '512mib': unknown unit 'mib' (did you mean 'MiB'? a lowercase b is a bit, 1/8 of a byte); write a positive "
                               "number and one of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB, e.g. 512MiB")


# --------------------------------------------------------------------------- number with a unit


@pytest.mark.parametrize("text, parts", [
    ("600 GB/s", ("600", "GB/s")),
    ("20ms", ("20", "ms")),
    ("3e13", ("3e13", "")),
    (" 24 GiB ", ("24", "GiB")),
    ("5 msec", ("5", "msec")),
    ("20 µs", ("20", "µs")),
    ("-5ms", ("-5", "ms")),
    (".5s", (".5", "s")),
    ("1_000ms", ("1_000", "ms")),
    ("fast", None),
    ("", None),
    ("1,000 ms", None),  # not a number then a unit
    ("1__0ms", None),  # Python's digits have one _ between two
])
def test_split_quantity(text, parts):
    assert split_quantity(text) == parts


def test_budgets_and_sheets_read_one_quantity():
    from hybridperf.device.spec import _text_value_fix
    from hybridperf.estimate.budget import BudgetError, parse_limit

    assert parse_limit("1_000ms", "latency") == 1.0  # 1000 * 1e-3
    assert parse_limit("+5 ms", "latency") == 0.005  # 5 * 1e-3
    assert parse_limit(" 200 MB", "memory") == 200e6
    with pytest.raises(BudgetError, match=r"^--max-memory '512MB/s': unknown unit 'MB/s' \(did you mean 'MB'\?\); "):
        parse_limit("512MB/s", "memory")
    assert _text_value_fix("600 GB/s") == ("must be a positive number, got the text '600 GB/s'; write the number in "
                                           "value and the unit in unit (value: 600, unit: GB/s)")
    assert _text_value_fix("3e13") == "must be a positive number, got the text '3e13'; write the number without quotes"
    assert _text_value_fix("fast") == "must be a positive number, got the text 'fast'"


# --------------------------------------------------------------------------- SI formatting


def test_one_si_formatter():
    import hybridperf.report.format as fmt
    import hybridperf.units as units

    assert fmt.format_si is units.format_si and fmt.DECIMAL is units.DECIMAL and fmt.SUBMULTIPLE is units.SUBMULTIPLE
    assert format_si(19.5e12, "FLOP/s") == "19.5 TFLOP/s"
    assert format_si(5e-6, "s") == "5 us"
    assert format_si(2**20, "B") == "1.049 MB"  # 1048576 B, 4 significant digits
    assert fmt.fmt_time(2.5e-3) == "2.500 ms" and fmt.fmt_count(2.5e9) == "2.500 G"  # unchanged by the move


def test_sheet_change_text():
    from hybridperf.residual.sheet import sheet_changes

    recorded = {"kind": "cpu", "peak_compute.fp32": 101.9e9, "memory.l2.capacity": float(2**20),
                "memory.dram.bandwidth": 1.0001e9, "launch_overhead": 5e-6, "compute_units.count": 108}
    now = {"kind": "cpu", "peak_compute.fp32": 2 * 101.9e9, "memory.dram.bandwidth": 1.0002e9,
           "launch_overhead": 5e-6, "compute_units.count": 54, "memory.llc.capacity": 32 * 2**20}
    assert sheet_changes(recorded, now) == [
        "compute_units.count 108 -> 54",
        "memory.dram.bandwidth 1.0001 GB/s -> 1.0002 GB/s",  # 4 digits would write both 1 GB/s: 5 are used
        "memory.l2.capacity 1.049 MB -> none",
        "memory.llc.capacity none -> 33.55 MB",  # 32 * 2**20 = 33554432 B
        "peak_compute.fp32 101.9 GFLOP/s -> 203.8 GFLOP/s",  # 2 * 101.9
    ]


def test_budget_units_micro_bits_and_sub_byte():
    """Found by the CI audit: the Greek mu (NFKC of the micro sign) was refused with "did you mean 's'?", ``Gb`` was
    offered ``GB`` without saying it is a gigabit, and ``0.5B`` was a limit every model is over."""
    from hybridperf.estimate.budget import BudgetError, parse_limit

    assert parse_limit("20\u03bcs", "latency") == parse_limit("20\u00b5s", "latency") == pytest.approx(20e-6)
    assert parse_limit("3 \u03bcJ", "energy") == pytest.approx(3e-6)
    with pytest.raises(BudgetError, match=r"unknown unit 'Gb' \(did you mean 'GB'\? a lowercase b is a bit, 1/8 of a "
                                          r"byte\)"):
        parse_limit("1 Gb", "memory")
    with pytest.raises(BudgetError, match="is less than one byte"):
        parse_limit("0.5B", "memory")
    assert parse_limit("1B", "memory") == 1.0
