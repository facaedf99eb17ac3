"""Audit 2026-12-05 of ``hybridperf check`` / ``mig``: bytes at a prefix's edge, a budget file giving a model's devices
twice, per-device tables that replace the default devices, and ``mig --headroom``'s words (each test says what
happened until 2026-12-05)."""

from pathlib import Path

import pytest

from hybridperf.cli import ExitCode, main
from hybridperf.estimate.budget import BudgetError, load_config, parse_limit, unchecked_defaults, Metric
from hybridperf.report.format import fmt_bytes
from hybridperf.units import bytes_text, whole_bytes

ROOT = Path(__file__).resolve().parents[1]
MODEL = str(ROOT / "examples" / "resnet_like.onnx")


# --------------------------------------------------------------------------- bytes_text at a prefix's edge


@pytest.mark.parametrize("n, want", [
    (2**20 - 1, "1.00 MiB"),  # 1023.999 KiB: read "1024.00 KiB" until 2026-12-05
    (2**30 - 1, "1.00 GiB"),  # read "1024.00 MiB"
    (2**40 - 2**20, "1.00 TiB"),  # 1023.999 GiB: read "1024.00 GiB"
    (1024 * 1023.99, "1023.99 KiB"),  # still short of 1024.00 at two decimals: stays
    (2**20 - 5, "1.00 MiB"),  # 1023.995 KiB rounds to 1024.00
    (-(2**20 - 1), "-1.00 MiB"),
    (2**60 * 9999.994, "9999.99 EiB"),
    (2**60 * 9999.996, f"{9999.996 * 2**60:.3e}".replace("e+", "e") + " B"),  # 10000.00 EiB: scientific
])
def test_a_figure_rounding_to_1024_reads_at_the_next_prefix(n, want):
    assert bytes_text(n) == want and fmt_bytes(n) == want


@pytest.mark.parametrize("n, want", [
    (1023.6, "1.00 KiB"),  # read "1023 B" (cut) until 2026-12-05; JSON's whole_bytes wrote 1024
    (1023.4, "1023 B"),
    (1023.5, "1.00 KiB"),  # Python's round, as whole_bytes: 1024 (half to even)
    (0.6, "1 B"),  # read "0 B"
    (0.4, "0 B"),
    (511.5, "512 B"),  # read "511 B"
])
def test_a_fractional_byte_count_is_rounded_as_json_rounds_it(n, want):
    assert bytes_text(n) == want
    assert whole_bytes(n) == (1024 if want.endswith("KiB") else int(want.split()[0]))


def test_whole_figures_read_as_before():
    assert [bytes_text(n) for n in (0, 512, 1023, 1024, 1536, 3 * 2**29, 2**70)] == [
        "0 B", "512 B", "1023 B", "1.00 KiB", "1.50 KiB", "1.50 GiB", "1024.00 EiB"]


# --------------------------------------------------------------------------- devices given twice in a budget file


LIST_THEN_TABLE = '''
[tool.hybridperf.budgets."m.onnx"]
devices = ["a100-sxm-80gb", "t4"]
max-latency = "20ms"

[tool.hybridperf.budgets."m.onnx".devices."t4"]
max-latency = "5ms"
'''
TABLE_THEN_LIST = '''
[tool.hybridperf.budgets."m.onnx".devices."t4"]
max-latency = "5ms"
[tool.hybridperf.budgets."m.onnx"]
devices = ["a100-sxm-80gb", "t4"]
'''
DOTTED = '''
[tool.hybridperf.budgets."m.onnx"]
devices = ["a100-sxm-80gb", "t4"]
devices.t4.max-latency = "5ms"
'''


@pytest.mark.parametrize("text, line", [(LIST_THEN_TABLE, 6), (TABLE_THEN_LIST, 5), (DOTTED, 4)])
def test_a_list_and_tables_of_devices_name_the_fix(tmp_path, text, line):
    """Until 2026-12-05: ``cannot parse TOML (Cannot declare ('tool', 'hybridperf', 'budgets', 'm.onnx', 'devices',
    't4') twice (at line 6, column 47)); fix the file syntax`` (or "Cannot overwrite a value"), naming no fix."""
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text(text)
    with pytest.raises(BudgetError) as exc:
        load_config(cfg, required=True)
    assert str(exc.value) == (
        f"{cfg}: [tool.hybridperf.budgets.\"m.onnx\"] gives 'devices' both as a list and as a table per device "
        f"(line {line}); keep one: the tables alone ([tool.hybridperf.budgets.\"m.onnx\".devices.\"t4\"], one per "
        "device to check, an empty one for the model's limits), or the list alone")


def test_the_cli_says_it_in_one_line_exit_2(tmp_path, capsys):
    # until 2026-12-05 check said TOML's words ("Cannot declare ... twice"; fix the file syntax), naming no fix
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text(LIST_THEN_TABLE)
    code = main(["check", MODEL, "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == ExitCode.INPUT_ERROR and err.count("\n") == 1
    assert "keep one: the tables alone" in err and "Cannot declare" not in err


def test_top_level_devices_as_a_table_too_names_the_model_tables(tmp_path):
    # until 2026-12-05: "cannot parse TOML (Cannot declare ('tool', 'hybridperf', 'devices', 't4') twice (at line 3..."
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text('[tool.hybridperf]\ndevices = ["a100-sxm-80gb"]\n'
                   '[tool.hybridperf.devices."t4"]\nmax-latency = "5ms"\n')
    with pytest.raises(BudgetError, match=r"\[tool.hybridperf\] key 'devices' is a list of device ids, and line 3 "
                                          r"gives it a table too; limits per device go in a model's table"):
        load_config(cfg, required=True)


def test_other_toml_errors_keep_toml_words(tmp_path):
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text('[tool.hybridperf.budgets."m.onnx".devices."t4"]\n[tool.hybridperf.budgets."m.onnx".devices."t4"]\n')
    with pytest.raises(BudgetError, match=r"cannot parse TOML \(Cannot declare .* twice"):
        load_config(cfg, required=True)


# --------------------------------------------------------------------------- tables per device replace the defaults


PER_DEVICE = '''
[tool.hybridperf]
devices = ["a100-sxm-80gb", "t4"]
max-latency = "50ms"
[tool.hybridperf.budgets."m.onnx".devices."t4"]
max-latency = "5ms"
'''


def test_tables_per_device_leaving_a_default_out_say_so(tmp_path):
    """The schema (module docstring of hybridperf.estimate.budget: "EITHER a list ... OR a table of device id ->
    overrides; each key is a device to check"; the README: "or limits per device") makes the tables the model's
    devices, as its list would be. Until 2026-12-05 a100-sxm-80gb was left unchecked without a word."""
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text(PER_DEVICE)
    config = load_config(cfg, required=True)
    (note,) = unchecked_defaults([], config)
    assert note == (f"{tmp_path / 'm.onnx'} is checked on t4 only: its tables of limits per device name its devices, "
                    "in place of a100-sxm-80gb of [tool.hybridperf]; to check it there too, add "
                    "[tool.hybridperf.budgets.\"m.onnx\".devices.\"a100-sxm-80gb\"] (empty: the model's limits)")
    assert unchecked_defaults([], config, ["t4"]) == []  # --device names the devices: nothing left out by the file
    cfg.write_text(PER_DEVICE + '[tool.hybridperf.budgets."m.onnx".devices."a100-sxm-80gb"]\n')
    assert unchecked_defaults([], load_config(cfg, required=True)) == []
    cfg.write_text(PER_DEVICE.replace('.devices."t4"]\nmax-latency = "5ms"', ']\ndevices = ["t4"]'))
    assert unchecked_defaults([], load_config(cfg, required=True)) == []  # a list replaces them plainly


def test_check_prints_the_note(tmp_path, capsys):
    # until 2026-12-05 check left a100-sxm-80gb unchecked without a word (exit 0, nothing on stderr)
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text(PER_DEVICE.replace("m.onnx", MODEL))
    code = main(["check", "--config", str(cfg), "--batch", "1", "--roofline-only"])
    out, err = capsys.readouterr()
    assert code == ExitCode.OK and " t4 " in out and "a100" not in out
    assert err.startswith("hybridperf: note: ") and "resnet_like.onnx is checked on t4 only: its tables" in err


# --------------------------------------------------------------------------- mig --headroom is no limit


@pytest.mark.parametrize("given, want", [
    # until 2026-12-05: "--headroom '500': a limit needs a unit; ..."
    ("500", "--headroom '500': the headroom needs a unit; write 0 (none), or a positive number and one of B, KB, MB, "
            "GB, TB, KiB, MiB, GiB, TiB, e.g. 512MiB"),
    # until 2026-12-05: "is more than the largest memory limit, ..."
    ("1e30B", "--headroom '1e30B': is more than the largest headroom, 1048576 TiB (2^60 B, 1024 PiB); write a smaller "
              "figure, or 0 for none"),
    # until 2026-12-05: "too large to be a limit"
    ("1e400MiB", "--headroom '1e400MiB': too large for the headroom; write 0 (none), or a positive number"),
])
def test_headroom_messages_name_the_headroom(capsys, given, want):
    code = main(["mig", MODEL, "-d", "a100-sxm-80gb", "--headroom", given])
    err = capsys.readouterr().err
    assert code == ExitCode.INPUT_ERROR and err.count("\n") == 1
    assert want in err and "limit needs" not in err and "to be a limit" not in err


def test_limits_keep_their_words():
    with pytest.raises(BudgetError, match=r"^--max-memory '500': a limit needs a unit; write a positive number"):
        parse_limit("500", Metric.MEMORY, "--max-memory", False)
    with pytest.raises(BudgetError, match=r"is more than the largest memory limit, 1048576 TiB"):
        parse_limit("1e30B", Metric.MEMORY, "--max-memory", False)
    with pytest.raises(BudgetError, match=r"too large to be a limit"):
        parse_limit("1e400MiB", Metric.MEMORY, "--max-memory", False)
