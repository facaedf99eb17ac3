"""Audit 2026-12-04 (``check`` as a CI gate, third pass): each test is a defect found and fixed.

* an energy capped at the device's max power was judged with no word of the cap in check's table, JSON, JUnit or
  GitHub output (``predict`` says it: :attr:`~hybridperf.estimate.pricing.Prediction.energy_note`);
* ``--junit-xml`` replaced a device sheet or a TOML config that the run itself did not read;
* a model or device of the config file that could not be found was named without the file;
* ``--max-latency inf`` and a limit in another metric's unit got no hint;
* ``[tool.hybridperf] devices`` offered a table, which that table refuses;
* a model path with a newline split its table rows.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from test_no_silent_zeros import _relu, _save

from hybridperf.cli import ExitCode, main

F32 = TensorProto.FLOAT


def _matmul(path: Path, batch: int = 1024, k: int = 1024, n: int = 1024) -> str:
    """x[batch, k] @ W[k, n]: compute-bound on t4 at these sizes, so its roofline energy is capped there.

    2*1024**3 FLOP at 8.1 TFLOP/s is 265 us; 1024**3 MAC x 14.8 pJ (15.9 mJ) + 3 * 4 MiB x 112 pJ/B (1.4 mJ) + 10 W
    idle x 270 us (2.7 mJ) is 20 mJ, 74 W over the latency: above t4's 70 W."""
    w = numpy_helper.from_array(np.ones((k, n), np.float32), "W")
    return _save([helper.make_node("MatMul", ["x", "W"], ["y"])],
                 [helper.make_tensor_value_info("x", F32, [batch, k])],
                 [helper.make_tensor_value_info("y", F32, [batch, n])], path, [w])


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    return _matmul(tmp_path_factory.mktemp("dec4c") / "mm.onnx")


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _note(model):
    from hybridperf.api import analyze, predict_on

    note = predict_on(analyze(model), "t4", residual=None).energy_note
    assert note.startswith("capped at max power 70 W x latency")  # the case under test
    return note


# --------------------------------------------------------------------------- predict's energy note in every output


def test_capped_energy_says_so_in_table_json_junit_and_github(capped, capsys, tmp_path):
    # until 2026-12-04 check's outputs said "ok (estimated power)" at most: the cap predict prints was in none of them
    note = _note(capped)
    junit = tmp_path / "r.xml"
    code, out, _ = _run(capsys, "check", capped, "-d", "t4", "--roofline-only", "--max-energy", "1J",
                        "--junit-xml", str(junit))
    assert code == ExitCode.OK
    assert f"note: energy of {capped} on t4: {note}\n" in out
    assert out.rstrip().splitlines()[-1].startswith("1 limit checked")  # the summary stays the last line

    code, out, _ = _run(capsys, "check", capped, "-d", "t4", "--roofline-only", "--max-energy", "1J", "--format", "json")
    energy = next(c for c in json.loads(out)["checks"] if c["metric"] == "energy")
    assert energy["note"] == note
    latency = next(c for c in json.loads(out)["checks"] if c["metric"] == "latency")
    assert "note" not in latency

    case = next(c for c in ET.parse(junit).getroot().iter("testcase") if c.get("name") == "t4.energy")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["note"] == note

    code, out, _ = _run(capsys, "check", capped, "-d", "t4", "--roofline-only", "--max-energy", "1J", "--format",
                        "github")
    notice = next(line for line in out.splitlines() if line.startswith("::notice "))
    assert "title=hybridperf%3A energy within budget on t4::" in notice
    assert notice.endswith(f"; {note}".replace("%", "%25"))


def test_capped_energy_over_budget_names_the_cap(capped, capsys, tmp_path):
    note = _note(capped)
    junit = tmp_path / "r.xml"
    code, out, _ = _run(capsys, "check", capped, "-d", "t4", "--roofline-only", "--max-energy", "1mJ", "--format",
                        "github", "--junit-xml", str(junit))
    assert code == ExitCode.BUDGET_EXCEEDED
    error = next(line for line in out.splitlines() if line.startswith("::error "))
    assert error.endswith(f"on t4 ({note})")  # was "(idle power of t4 estimated, not measured)"
    failure = next(ET.parse(junit).getroot().iter("failure"))
    assert failure.get("message").endswith(f"({note})")


def test_uncapped_energy_on_estimated_power_keeps_estimated_alone(tmp_path, capsys):
    """A sheet of estimated power and no cap: predict's note says no more than ``estimated``, which every output
    marks already (``ok (estimated power)``), so no note is added."""
    from hybridperf.api import analyze, predict_on

    model = _relu(tmp_path / "relu.onnx")
    note = predict_on(analyze(model), "raspberry-pi-4b", residual=None).energy_note
    assert note == "power of raspberry-pi-4b estimated, not measured: `hybridperf devices show raspberry-pi-4b`"
    code, out, _ = _run(capsys, "check", model, "-d", "raspberry-pi-4b", "--roofline-only", "--max-energy", "1J",
                        "--format", "json")
    assert code == ExitCode.OK
    energy = next(c for c in json.loads(out)["checks"] if c["metric"] == "energy")
    assert "note" not in energy and energy["estimated"] == "power of raspberry-pi-4b estimated, not measured"


# --------------------------------------------------------------------------- --junit-xml never replaces a sheet/config


@pytest.mark.parametrize("name", ["my-gpu.yaml", "specs.YML", "pyproject.toml"])
def test_junit_xml_refuses_a_sheet_or_config_name(name, tmp_path, capsys):
    # until 2026-12-04 a sheet or config this run did not read (`-d t4 --junit-xml specs/my-gpu.yaml`) was replaced
    model = _relu(tmp_path / "relu.onnx")
    target = tmp_path / name
    target.write_text("keep me\n")
    code, _, err = _run(capsys, "check", model, "-d", "t4", "--roofline-only", "--max-latency", "1s",
                        "--junit-xml", str(target))
    assert code == ExitCode.INPUT_ERROR
    assert "not a report's; name the file to write, e.g. hybridperf.xml" in err
    assert target.read_text() == "keep me\n"


# --------------------------------------------------------------------------- the config's own values name the config


def test_missing_model_of_the_config_names_its_table(tmp_path, capsys, monkeypatch):
    # until 2026-12-04: "model file not found: sub/old.onnx; check the path", of a path no command line had
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text('[tool.hybridperf]\ndevices = ["t4"]\nmax-latency = "1s"\n[tool.hybridperf.budgets."old.onnx"]\n')
    code, _, err = _run(capsys, "check", "--roofline-only")
    assert code == ExitCode.INPUT_ERROR
    assert 'model file not found: old.onnx' in err
    assert '(listed in [tool.hybridperf.budgets."old.onnx"] of pyproject.toml: fix the key there)' in err


def test_unknown_device_of_the_config_names_the_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _relu(tmp_path / "relu.onnx")
    (tmp_path / "pyproject.toml").write_text('[tool.hybridperf]\ndevices = ["t5"]\nmax-latency = "1s"\n'
                                             '[tool.hybridperf.budgets."relu.onnx"]\n')
    code, _, err = _run(capsys, "check", "--roofline-only")
    assert code == ExitCode.INPUT_ERROR
    assert "unknown device 't5'" in err and "(a device of pyproject.toml: fix it there)" in err
    code, _, err = _run(capsys, "check", "--roofline-only", "-d", "t5")  # a flag's device: no file named
    assert code == ExitCode.INPUT_ERROR and "pyproject.toml" not in err


def test_top_level_devices_offers_no_table(tmp_path, capsys):
    # until 2026-12-04 "a non-empty list of device ids or a table of device id -> limits", and the table is refused
    cfg = tmp_path / "p.toml"
    cfg.write_text('[tool.hybridperf]\ndevices = []\nmax-latency = "1s"\n')
    code, _, err = _run(capsys, "check", _relu(tmp_path / "r.onnx"), "--config", str(cfg))
    assert code == ExitCode.INPUT_ERROR
    assert "key 'devices' must be a non-empty list of device ids\n" in err


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize("text", ["inf", "Infinity", "infms", "nan"])
def test_an_infinite_limit_says_to_leave_it_out(text, tmp_path, capsys):
    # until 2026-12-04 "write a positive number and one of s, ms, us, ns", of what means "no limit"
    code, _, err = _run(capsys, "check", _relu(tmp_path / "r.onnx"), "-d", "t4", "--max-latency", text)
    assert code == ExitCode.INPUT_ERROR
    assert "is not a finite number; leave the limit out to set none" in err


@pytest.mark.parametrize("flag, text, hint", [
    ("--max-memory", "20ms", "(a unit of latency: --max-latency / max-latency)"),
    ("--max-energy", "2GiB", "(a unit of memory: --max-memory / max-memory)"),
    ("--max-latency", "5mJ", "(a unit of energy: --max-energy / max-energy)"),
])
def test_a_unit_of_another_metric_names_its_flag(flag, text, hint, tmp_path, capsys):
    # until 2026-12-04 "unknown unit 'ms'" alone
    code, _, err = _run(capsys, "check", _relu(tmp_path / "r.onnx"), "-d", "t4", flag, text)
    assert code == ExitCode.INPUT_ERROR
    assert hint in err


# --------------------------------------------------------------------------- table rows


def test_a_newline_in_a_model_path_keeps_its_row_on_one_line(tmp_path, capsys):
    model = _relu(tmp_path / "new\nline.onnx")
    code, out, _ = _run(capsys, "check", model, "-d", "t4", "--roofline-only", "--max-latency", "1s")
    assert code == ExitCode.OK
    rows = [line for line in out.splitlines() if "  t4  " in line]
    assert len(rows) == 3 and all("new\\nline.onnx" in r for r in rows)


# --------------------------------------------------------------------------- a spec file however --device spells it


@pytest.fixture
def sheet_config(tmp_path, monkeypatch):
    """``sub/pyproject.toml`` with a per-device latency limit for the sheet ``sub/my-gpu.yaml`` (t4's, renamed)."""
    import yaml

    from hybridperf.device.spec import default_spec_dir

    monkeypatch.chdir(tmp_path)
    sub = tmp_path / "sub"
    sub.mkdir()
    sheet = yaml.safe_load((default_spec_dir() / "t4.yaml").read_text())
    sheet["id"] = "my-gpu"
    (sub / "my-gpu.yaml").write_text(yaml.safe_dump(sheet))
    _relu(sub / "relu.onnx")
    (sub / "pyproject.toml").write_text('[tool.hybridperf]\nmax-energy = "1J"\n'
                                        '[tool.hybridperf.budgets."relu.onnx".devices."my-gpu.yaml"]\n'
                                        'max-latency = "1ns"\n')
    return sub


@pytest.mark.parametrize("spelling", ["sub/my-gpu.yaml", "./sub/my-gpu.yaml", "absolute"])
def test_per_device_limits_of_a_sheet_hold_however_device_spells_it(spelling, sheet_config, capsys):
    # until 2026-12-04 `-d ./sub/my-gpu.yaml` missed the table of "my-gpu.yaml": the 1 ns limit went unchecked, the
    # check passed (exit 0) and a note said the sheet itself was "not checked"
    device = str(sheet_config / "my-gpu.yaml") if spelling == "absolute" else spelling
    code, out, err = _run(capsys, "check", "--config", "sub/pyproject.toml", "-d", device, "--roofline-only")
    assert code == ExitCode.BUDGET_EXCEEDED
    assert "OVER" in next(line for line in out.splitlines() if " latency " in line)
    assert "not checked on" not in err


def test_one_sheet_spelled_twice_is_checked_once(sheet_config, capsys):
    code, out, _ = _run(capsys, "check", "--config", "sub/pyproject.toml", "-d", "sub/my-gpu.yaml", "-d",
                        "./sub/my-gpu.yaml", "--roofline-only", "--format", "json")
    assert code == ExitCode.BUDGET_EXCEEDED
    assert {c["device"] for c in json.loads(out)["checks"]} == {"sub/my-gpu.yaml"}  # 3 rows, not 6
