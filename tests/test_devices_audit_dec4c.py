"""Audit of ``hybridperf devices`` and of the top-level CLI as a first-time user (2026-12-04, helper devaudit).

Each regression test's comment says what happened until 2026-12-04; the rest pin behaviour the audit found right.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hybridperf.cli import ExitCode, main
from hybridperf.device.spec import available_devices

#: the CLI run as a user runs it, in a child process (pipes, environment, imports)
CLI = [sys.executable, "-m", "hybridperf"]


def _child(argv: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", **kw.pop("env", {})}
    return subprocess.run(CLI + argv, env=env, capture_output=True, text=True, timeout=120, **kw)


# --------------------------------------------------------------------------- regressions


@pytest.mark.parametrize("argv, usage", [
    (["help"], "usage: hybridperf [-h]"),
    (["help", "devices"], "usage: hybridperf devices"),
    (["-v", "help", "devices"], "usage: hybridperf devices"),
])
def test_help_command(argv, usage, capsys):
    # until 2026-12-04: `hybridperf help devices` said "unknown command 'help'", exit 2
    assert main(argv) == ExitCode.OK
    assert capsys.readouterr().out.startswith(usage)


def test_help_of_unknown_command_is_exit_2(capsys):
    assert main(["help", "devics"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'devices'" in err


def test_top_level_help_says_how_to_reach_a_command_s_options(capsys):
    # until 2026-12-04 the top-level help named no way to a command's options
    assert main(["--help"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "hybridperf help COMMAND" in out and "exit codes: 0 ok" in out


def test_devices_subcommand_typo_suggests_show(capsys):
    # until 2026-12-04: `devices shwo t4` printed only the usage line, no word of the typo
    assert main(["devices", "shwo", "t4"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'show'?" in err


@pytest.mark.parametrize("argv, code", [
    (["bogus"], ExitCode.INPUT_ERROR),
    ([], ExitCode.INPUT_ERROR),
    (["devices", "--format", "JSON"], ExitCode.INPUT_ERROR),
    (["devices", "show", "t5"], ExitCode.INPUT_ERROR),
])
def test_error_into_closed_stderr_keeps_its_exit_code(argv, code):
    # until 2026-12-04: `hybridperf bogus 2>&1 | head -0` exited 1 (BrokenPipeError out of main), which the CLI's exit
    # codes read as "budget exceeded"
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run(CLI + argv, stderr=w, stdout=subprocess.DEVNULL, timeout=120)
    finally:
        os.close(w)
    assert p.returncode == code


# --------------------------------------------------------------------------- pinned by the audit


def test_list_has_every_packaged_sheet_and_json_equals_table():
    table = _child(["devices"]).stdout.splitlines()
    rows = json.loads(_child(["devices", "--format", "json"]).stdout)
    assert [r["id"] for r in rows] == ["host", *available_devices()]
    assert len(table) == 1 + len(rows) + 1  # header, one line per row, footer
    for r, line in zip(rows, table[1:]):
        assert line.split()[0] == r["id"] and f"  {r['kind']}  " in line
        if not r["figures_known"]:  # host before its probe: unknown, never 0 or blank
            assert line.split()[-5:] == ["unknown"] * 5
    assert table[-1].startswith(f"{len(rows)} devices;")


def test_yml_sheet_in_spec_dir_is_listed(tmp_path, capsys):
    from hybridperf.data import packaged_dir

    text = (packaged_dir("hw_specs") / "t4.yaml").read_text().replace("id: t4\n", "id: my-t4\n", 1)
    (tmp_path / "my-t4.yml").write_text(text)
    assert main(["devices", "--spec-dir", str(tmp_path), "--format", "json"]) == ExitCode.OK
    (row,) = json.loads(capsys.readouterr().out)
    assert row["id"] == "my-t4" and row["dram_capacity_bytes"] == 16 * 10**9


def test_broken_yaml_is_one_line_naming_file(tmp_path, capsys):
    bad = tmp_path / "broken.yaml"
    bad.write_text("schema_version: 1\nid: broken\npeak_compute:\n  fp32: [1, 2\n")
    assert main(["devices", "show", str(bad)]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "line" in err


@pytest.mark.parametrize("argv", [["devices"], ["devices", "show", "t4"], ["--help"], ["devices", "--help"]])
def test_closed_stdout_is_quiet_exit_0(argv):
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run(CLI + argv, stdout=w, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(w)
    assert (p.returncode, p.stderr) == (0, "")


@pytest.mark.parametrize("argv", [["devices"], ["devices", "show", "h100-sxm"], ["--help"]])
def test_no_escape_codes_and_narrow_terminal(argv):
    p = _child(argv, env={"COLUMNS": "40"})
    assert p.returncode == 0 and p.stderr == ""
    assert "\x1b" not in p.stdout


def test_help_imports_no_heavy_module():
    code = ("import sys, contextlib, io\nfrom hybridperf.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['--help']); main(['devices', '--help'])\n"
            "print(sorted(m for m in ('tvm', 'onnx', 'lightgbm', 'onnxruntime', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.strip() == "[]"
