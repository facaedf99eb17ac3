"""``hybridperf check``: exit codes, formats, JUnit XML, config files, the pre-commit hook."""

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from hybridperf.cli import ExitCode, main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def resnet(model_dir):
    return str(model_dir / "resnet_like.onnx")


@pytest.fixture(scope="module")
def truth(resnet):
    """The predictions the command is checked against."""
    from hybridperf.api import analyze, predict_on

    an = analyze(resnet, batch=1)
    return {d: predict_on(an, d, runtime="auto") for d in ("a100-sxm-80gb", "t4")}  # the CLI's default --runtime


def run(capsys, *argv):
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_within_budget(capsys, resnet, truth):
    code, out, err = run(capsys, resnet, "--batch", "1", "-d", "a100-sxm-80gb", "-d", "t4", "--max-latency", "1s", "--max-memory", "1GiB", "--max-energy", "1J")
    assert code == ExitCode.OK, err
    assert err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["model", "device", "metric", "predicted", "budget", "status"]
    assert len(lines) == 2 + 6 + 1  # header, rule, 2 devices x 3 metrics, summary
    assert lines[-1] == "6 limits checked on 2 model x device pairs: within budget"


def test_over_budget_exit_1(capsys, resnet, truth):
    lat = truth["a100-sxm-80gb"].latency_s
    limit_us = lat * 1e6 / 2  # half the prediction: 100 % over
    code, out, _ = run(capsys, resnet, "--batch", "1", "-d", "a100-sxm-80gb", "--max-latency", f"{limit_us}us")
    assert code == ExitCode.BUDGET_EXCEEDED
    row = next(line for line in out.splitlines() if " latency " in line)
    assert "OVER (+100%)" in row
    assert "no budget" in next(line for line in out.splitlines() if " energy " in line)


def test_energy_on_an_estimated_power_figure_is_judged_and_flagged(capsys, resnet):
    """raspberry-pi-4b's power figures are estimates, t4's idle draw is (since 2026-12-03 that is flagged too):
    their energy is checked, and every format says it is estimated; h100-sxm-measured's NVML figures are not."""
    code, out, _ = run(capsys, resnet, "--batch", "1", "-d", "raspberry-pi-4b", "-d", "t4", "-d", "h100-sxm-measured",
                       "--max-energy", "1J")
    assert code == ExitCode.OK
    rows = {line.split()[1]: line for line in out.splitlines() if " energy " in line}
    assert rows["raspberry-pi-4b"].endswith("ok (estimated power)") and rows["t4"].endswith("ok (estimated power)")
    assert rows["h100-sxm-measured"].endswith(" ok")
    code, out, _ = run(capsys, resnet, "--batch", "1", "-d", "raspberry-pi-4b", "--max-energy", "1uJ", "--format", "json")
    energy = next(c for c in json.loads(out)["checks"] if c["metric"] == "energy")
    assert code == ExitCode.BUDGET_EXCEEDED and energy["exceeded"]
    assert energy["estimated"] == "power of raspberry-pi-4b estimated, not measured"
    code, out, _ = run(capsys, resnet, "--batch", "1", "-d", "raspberry-pi-4b", "--max-energy", "1uJ", "--format", "github")
    assert out.splitlines()[0].endswith("on raspberry-pi-4b (power of raspberry-pi-4b estimated, not measured)")


def test_limit_exactly_met(capsys, resnet, truth):
    peak = truth["t4"].peak_memory_bytes
    assert run(capsys, resnet, "--batch", "1", "-d", "t4", "--max-memory", f"{peak}B")[0] == ExitCode.OK
    assert run(capsys, resnet, "--batch", "1", "-d", "t4", "--max-memory", f"{peak - 1}B")[0] == ExitCode.BUDGET_EXCEEDED


def test_json(capsys, resnet, truth):
    code, out, _ = run(capsys, resnet, "--batch", "1", "-d", "t4", "--max-energy", "1uJ", "--format", "json")
    assert code == ExitCode.BUDGET_EXCEEDED
    d = json.loads(out)
    assert d["schema_version"] == 1 and d["passed"] is False
    energy = next(c for c in d["checks"] if c["metric"] == "energy")
    assert energy == {
        "model": resnet,
        "device": "t4",
        "metric": "energy",
        "unit": "J",
        "predicted": pytest.approx(truth["t4"].energy_j),
        "budget": pytest.approx(1e-6),
        "passed": False,
        "skipped": False,
        "exceeded": True,
        "undecided": False,
        "device_capacity": None,  # only memory is checked against the device capacity
        "lower_bound": None,
        "unknown": None,
        "estimated": "idle power of t4 estimated, not measured",  # None until 2026-12-03 (max power: datasheet)
    }
    assert [c["skipped"] for c in d["checks"]] == [True, True, False]


def test_github_annotations(capsys, resnet):
    code, out, _ = run(capsys, resnet, "--batch", "1", "-d", "t4", "--max-latency", "1us", "--max-memory", "1GiB", "--format", "github")
    assert code == ExitCode.BUDGET_EXCEEDED
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"::error file={resnet},title=hybridperf%3A latency over budget on t4::latency ")
    assert "exceeds the budget 1.0 us" in lines[0]
    assert lines[1] == "2 limits checked on 1 model x device pair: 1 over budget, 1 within budget"


def test_junit_xml(capsys, resnet, tmp_path):
    path = tmp_path / "report.xml"
    code, _, _ = run(capsys, resnet, "--batch", "1", "-d", "a100-sxm-80gb", "-d", "t4", "--max-latency", "1us", "--max-memory", "1GiB", "--junit-xml", str(path))
    assert code == ExitCode.BUDGET_EXCEEDED
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("6", "2", "2")
    cases = root.findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == [f"{d}.{m}" for d in ("a100-sxm-80gb", "t4") for m in ("latency", "memory", "energy")]
    assert cases[0].find("failure").get("type") == "BudgetExceeded"
    assert cases[1].find("failure") is None and cases[1].find("skipped") is None
    assert cases[2].find("skipped") is not None
    assert [p.name for p in tmp_path.iterdir()] == ["report.xml"]  # no temporary file left behind


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--max-latency", "20 msec"], "--max-latency '20 msec': unknown unit"),
        (["--max-memory", "512MB/s"], "--max-memory '512MB/s'"),
        (["--max-energy=-5mJ"], "must be positive"),
        (["-d", "a100-sxm-80g", "--max-latency", "1s"], "did you mean 'a100-sxm-80gb'"),
        (["--max-latency", "1s", "--config", "missing.toml"], "config file not found"),
        ([], "no budget for"),
    ],
)
def test_bad_input_exit_2_and_no_junit(capsys, resnet, tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "report.xml"
    dev = [] if "-d" in argv else ["-d", "t4"]
    code, out, err = run(capsys, resnet, "--batch", "1", *dev, *argv, "--junit-xml", str(path))
    assert code == ExitCode.INPUT_ERROR
    assert out == ""
    assert len(err.splitlines()) == 1 and fragment in err
    assert list(tmp_path.iterdir()) == []


def test_unreadable_model_leaves_no_junit(capsys, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage\xff" * 10)
    path = tmp_path / "report.xml"
    code, out, err = run(capsys, str(bad), "-d", "t4", "--max-latency", "1s", "--junit-xml", str(path))
    assert code == ExitCode.INPUT_ERROR and out == "" and len(err.splitlines()) == 1
    assert not path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.onnx"]


def test_models_from_pyproject(capsys, resnet, truth, tmp_path, monkeypatch):
    import shutil

    (tmp_path / "models").mkdir()
    shutil.copy(resnet, tmp_path / "models" / "r.onnx")
    lat = truth["a100-sxm-80gb"].latency_s
    (tmp_path / "pyproject.toml").write_text(
        f"""
[tool.hybridperf]
batch = 1
max-memory = "1GiB"

[tool.hybridperf.budgets."models/r.onnx".devices."a100-sxm-80gb"]
max-latency = "{lat * 2e6}us"

[tool.hybridperf.budgets."models/r.onnx".devices."t4"]
max-latency = "1us"
"""
    )
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "--format", "json")
    assert code == ExitCode.BUDGET_EXCEEDED
    checks = json.loads(out)["checks"]
    assert {(c["model"], c["device"]) for c in checks} == {("models/r.onnx", "a100-sxm-80gb"), ("models/r.onnx", "t4")}
    failed = [(c["device"], c["metric"]) for c in checks if not c["passed"]]
    assert failed == [("t4", "latency")]
    # a model named on the command line picks up its table too (the pre-commit hook's way)
    code, out, _ = run(capsys, "models/r.onnx", "-d", "a100-sxm-80gb")
    assert code == ExitCode.OK, out


def test_pyproject_typo_exit_2(capsys, resnet, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.hybridperf.budgets."m.onnx"]\nmax-latncy = "5ms"\n')
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, resnet, "-d", "t4", "--max-latency", "1s")
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err.strip() == (
        "hybridperf: error: pyproject.toml: [tool.hybridperf.budgets.\"m.onnx\"] unknown key 'max-latncy' "
        "(did you mean 'max-latency'?)"
    )


def test_pre_commit_hook_definition():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "hybridperf-check"]
    assert hook["entry"] == "hybridperf check"
    assert hook["files"] == r"\.(onnx|tflite)$"
    staged = ["models/a.onnx", "m/b.tflite", "c.onnx.data", "README.md", "x.onnx.bak"]
    assert [f for f in staged if re.search(hook["files"], f)] == ["models/a.onnx", "m/b.tflite"]
    assert hook["language"] == "python"


def test_internal_error_exit_3_and_no_junit(capsys, resnet, tmp_path, monkeypatch):
    import hybridperf.api
    import hybridperf.estimate.budget

    def boom(*args, **kwargs):
        raise RuntimeError("cost pass exploded")

    monkeypatch.setattr(hybridperf.api, "run_check", boom)
    path = tmp_path / "report.xml"
    code, out, err = run(capsys, resnet, "--batch", "1", "-d", "t4", "--max-latency", "1s", "--junit-xml", str(path))
    assert code == ExitCode.INTERNAL_ERROR == 3
    assert out == ""
    assert err == "hybridperf: internal error: RuntimeError: cost pass exploded (rerun with -v and report it)\n"
    assert not path.exists()


def test_github_escapes_file_names_and_lists_every_failure(capsys, resnet, tmp_path):
    import shutil

    odd = tmp_path / "r,1:50%.onnx"
    shutil.copy(resnet, odd)
    code, out, _ = run(capsys, str(odd), "--batch", "1", "-d", "t4", "-d", "l4", "--max-memory", "1KiB", "--format", "github")
    assert code == ExitCode.BUDGET_EXCEEDED
    lines = out.splitlines()
    assert len(lines) == 3  # one annotation per device, then the summary
    escaped = str(odd).replace("%", "%25").replace(":", "%3A").replace(",", "%2C")
    assert [line.split("::")[1] for line in lines[:2]] == [
        f"error file={escaped},title=hybridperf%3A memory over budget on {d}" for d in ("t4", "l4")
    ]
    assert all("exceeds the budget 1.00 KiB" in line for line in lines[:2])
    assert lines[2] == "2 limits checked on 2 model x device pairs: 2 over budget"


def test_junit_counts_match_the_elements(capsys, resnet, tmp_path):
    path = tmp_path / "j.xml"
    run(capsys, resnet, "--batch", "1", "-d", "t4", "-d", "l4", "--max-latency", "1us", "--max-energy", "1J", "--junit-xml", str(path))
    text = path.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    root = ET.fromstring(text)
    for suite in [root, *root.findall("testsuite")]:
        cases = list(suite.iter("testcase"))
        assert int(suite.get("tests")) == len(cases) == 6
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases) == 2
        assert int(suite.get("skipped")) == sum(c.find("skipped") is not None for c in cases) == 2
        assert suite.get("errors") == "0"
    for case in root.iter("testcase"):
        assert set(case.attrib) == {"classname", "name", "time"}
        props = {p.get("name"): p.get("value") for p in case.find("properties")}
        assert float(props["predicted"]) > 0 and props["unit"] in ("s", "B", "J")
