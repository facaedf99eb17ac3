"""What a user of the installed wheel meets: help texts and errors they can follow without the repository,
output checks made before the slow work, packaging metadata that holds on every Python it admits.

The wheel itself is built and run from an empty directory by ``.ci/wheel_check.sh``; these tests pin what the
audit of that install found (2026-12-03), each on the smallest input that shows it.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

import hybridperf
from hybridperf.cli import COMMANDS, ExitCode, main

PACKAGE = Path(hybridperf.__file__).parent
ROOT = PACKAGE.parent
#: folders of the source checkout that the wheel does not ship (``.zoo``: the models downloaded there)
REPO_ONLY = re.compile(r"(?<![\w.])(benchmarks|calibration|tests|examples|\.ci)/|python -m (benchmarks|tests)\b")


def _help(capsys, *argv: str) -> str:
    assert main([*argv, "--help"]) == ExitCode.OK
    return capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_names_no_folder_of_the_source_checkout(capsys, command):
    """``calibrate --help`` pointed a wheel user at ``calibration/ID/`` and ``calibration/h100-sxm/torch-*.csv``."""
    text = " ".join(_help(capsys, command).split())
    assert REPO_ONLY.findall(text) == []
    if ".zoo" in text:  # calibrate --models: a fallback that exists in a source checkout only, and says so
        assert "./.zoo, a source checkout's model zoo" in text


def test_calibrate_help_describes_what_data_and_measure_take(capsys):
    text = " ".join(_help(capsys, "calibrate").split())
    # the GPU CSV's columns, spelled as hybridperf.measure.gpu_calibration reads them
    from hybridperf.measure.gpu_calibration import CSV_COLUMNS

    assert "columns " + ", ".join(CSV_COLUMNS) in text
    assert "GPU: .pt2 programs (torch.export)" in text  # --measure on a GPU sheet takes .pt2, not ONNX


def _string_constants(path: Path):
    """(line, text) of every string literal of ``path`` that is not a docstring (f-string parts included)."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs:
            yield n.lineno, n.value


def test_messages_that_send_to_a_repository_script_say_it_needs_a_source_checkout():
    """residual.model's errors said "re-run `python -m benchmarks.collect_cpu featurize`", which a wheel lacks."""
    bad = []
    for p in sorted(PACKAGE.rglob("*.py")):
        lines = p.read_text().splitlines()
        for lineno, text in _string_constants(p):
            if "benchmarks.collect_cpu" in text:
                near = " ".join(lines[lineno - 2: lineno + 2])  # the message's neighbouring literals
                if "source checkout" not in near:
                    bad.append(f"{p.relative_to(ROOT)}:{lineno}")
    assert bad == []


def test_a_table_that_is_not_featurized_says_where_featurize_runs(tmp_path):
    from hybridperf.errors import InputError
    from hybridperf.residual.model import load_table

    (tmp_path / "features.csv").write_text("measured_latency_s\n0.001\n")
    with pytest.raises(InputError) as exc:
        load_table(tmp_path)
    assert str(exc.value).endswith(
        f"features.csv has no `key` column, so it is not a featurize table; re-run `python -m benchmarks.collect_cpu "
        f"featurize --out {tmp_path}` in a source checkout, or measure with `hybridperf calibrate --device ID "
        "--measure MODEL.onnx ...`")


def test_unrecognized_option_points_at_the_commands_own_help(capsys):
    """The top-level parser reported it: "(see `hybridperf --help`)", whose text lists no command's options."""
    assert main(["predict", "m.onnx", "--no-such-flag"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert err == ("hybridperf: error: predict: unrecognized arguments: --no-such-flag "
                   "(see `hybridperf predict --help`)\n")
    assert main(["--no-such-flag"]) == ExitCode.INPUT_ERROR
    assert capsys.readouterr().err == ("hybridperf: error: unrecognized arguments: --no-such-flag "
                                       "(see `hybridperf --help`)\n")


def test_measure_takes_d_like_every_other_command(capsys, tmp_path):
    """``measure m.onnx -d host-epyc-1c`` was "unrecognized arguments: -d host-epyc-1c"."""
    assert "--device DEVICE, -d DEVICE" in _help(capsys, "measure")
    missing = tmp_path / "missing.onnx"
    assert main(["measure", str(missing), "-d", "host-epyc-1c"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert "unrecognized" not in err and str(missing) in err and len(err.splitlines()) == 1


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "box.yaml"
    os.mkfifo(path)
    return path


def test_probe_refuses_a_pipe_before_probing(monkeypatch, capsys, fifo):
    """``probe --out FIFO.yaml`` ran its 6-10 s of benchmarks, then failed at the rename."""
    import hybridperf.measure.probe as probe

    monkeypatch.setattr(probe, "probe", lambda **kw: pytest.fail("probed before refusing --out"))
    assert main(["probe", "--out", str(fifo)]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert err == (f"hybridperf: error: --out {fifo} is not a regular file (a device, pipe, /proc entry or "
                   "directory), and the output is written whole by a rename: name a file of its own\n")


def test_measure_refuses_proc_before_measuring(monkeypatch, capsys):
    """``measure m.onnx --out /proc/x.json`` measured the model (a --repeats 200000 run: 3 s more), then failed."""
    import hybridperf.measure.onnxruntime as ort_measure

    monkeypatch.setattr(ort_measure, "measure", lambda *a, **kw: pytest.fail("measured before refusing --out"))
    model = ROOT / "examples" / "resnet_like.onnx"
    code = main(["measure", str(model), "--batch", "1", "-d", "host-epyc-1c", "--out", "/proc/hybridperf-x.json"])
    assert code == ExitCode.INPUT_ERROR
    # since 2026-12-04 the folder is tried with a temporary file first (root may write anywhere by its mode bits)
    assert capsys.readouterr().err == ("hybridperf: error: --out /proc/hybridperf-x.json: cannot write in /proc (No "
                                       "such file or directory); choose another path\n")


def _config_example_toml() -> str:
    from hybridperf.commands.check import CONFIG_EXAMPLE

    block = [ln for ln in CONFIG_EXAMPLE.splitlines() if ln.startswith("  ")]
    return textwrap.dedent("\n".join(block)) + "\n"


def test_check_help_shows_a_config_that_loads(capsys, tmp_path):
    """``check --help`` named [tool.hybridperf.budgets] but showed no key; the example it shows now is valid."""
    text = _help(capsys, "check")
    assert "[tool.hybridperf.budgets.\"models/resnet.onnx\"]" in text
    assert "KB, MB, GB, TB, KiB, MiB, GiB, TiB" in " ".join(text.split())  # TB / TiB were accepted, not listed
    from hybridperf.estimate.budget import load_config

    (tmp_path / "pyproject.toml").write_text(_config_example_toml())
    config = load_config(tmp_path / "pyproject.toml", required=True)
    assert config.devices == ("host-epyc-1c",)
    assert config.batch == 1
    (entry,) = config.models
    assert entry.devices == ("a100-sxm-80gb", "t4")
    # the commented per-device table is valid too
    per_device = _config_example_toml().replace("# [tool", "[tool").replace("# max-latency", "max-latency")
    per_device = per_device.replace('devices = ["a100-sxm-80gb", "t4"] # precision', "# precision")
    (tmp_path / "pyproject.toml").write_text(per_device)
    (entry,) = load_config(tmp_path / "pyproject.toml", required=True).models
    assert {d: b.max_latency_s for d, b in entry.device_budgets.items()} == {"t4": pytest.approx(5e-3)}


def test_check_reads_pyproject_without_tomllib(monkeypatch, tmp_path):
    """requires-python admits 3.10, which has no tomllib: ``check`` failed there with exit 3 (ModuleNotFoundError);
    it falls back to tomli, a dependency on Python < 3.11."""
    from hybridperf.estimate.budget import load_config

    monkeypatch.setitem(sys.modules, "tomllib", None)  # `import tomllib` raises ModuleNotFoundError, as on 3.10
    monkeypatch.setitem(sys.modules, "tomli", tomllib)  # the same API
    (tmp_path / "pyproject.toml").write_text('[tool.hybridperf]\nmax-latency = "5ms"\n')
    assert load_config(tmp_path / "pyproject.toml").budget.max_latency_s == pytest.approx(5e-3)


def test_package_metadata():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    meta = project["project"]
    assert meta["license"] == "Apache-2.0"  # an SPDX string: a TOML table is deprecated by setuptools
    assert "setuptools>=77" in project["build-system"]["requires"]  # the first to take that string
    assert meta["requires-python"] == ">=3.10"
    assert "tomli>=2.0; python_version < '3.11'" in meta["dependencies"]
    assert meta["scripts"] == {"hybridperf": "hybridperf.cli:main"}


def test_help_imports_no_heavy_module():
    """Every ``COMMAND --help`` parses with the command's own module only: no TVM, numpy, onnx, LightGBM."""
    code = ("import sys\nfrom hybridperf.cli import COMMANDS, main\n"
            "for c in [None, *COMMANDS]:\n"
            "    try:\n        main([c, '--help'] if c else ['--help'])\n    except SystemExit:\n        pass\n"
            "heavy = sorted(m for m in ('tvm', 'numpy', 'onnx', 'onnxruntime', 'lightgbm', 'yaml', 'torch')\n"
            "               if m in sys.modules)\n"
            "sys.stderr.write(repr(heavy))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert r.stderr == "[]"
