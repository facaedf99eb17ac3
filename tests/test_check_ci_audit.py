"""Audit 2026-12-03 (``check`` as a CI budget gate): each test is a defect found and fixed, or a behaviour pinned.

* ``check --junit-xml models/*.onnx``: the shell put the first model after the flag and the report was written over it
  (the model file was lost); ``--junit-xml ''`` was refused as ". is a directory".
* a limit exceeded by 1 B of 9.13 MiB read ``OVER (+0%)`` and "by 0.0%", as if it were met.
* GitHub annotations named ``./m.onnx``, absolute paths and paths relative to a step's working directory as given:
  GitHub attaches an annotation to a pull request's file only by its path from the repository root.
* a control character in a model path (or any message) made the JUnit report unreadable XML.
* a JUnit testcase that passed on an unverified latency or an estimated power did not say so.
* a limit exceeded beside one that cannot be judged exits 2; a model that cannot be read stops the check.
* NonMaxSuppression alone (nothing priced, roofline 0) passed on a GPU with ``--allow-unsupported`` as
  ``≥ 10.0 us  ok (lower bound)``: the GPU model's learned constant, not a bound.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from onnx import TensorProto, helper
from test_no_silent_zeros import _nms, _relu, _save

from hybridperf.cli import ExitCode, main
from hybridperf.estimate.budget import Budget, CheckResult, Metric, MetricCheck, compare
from hybridperf.report.check import _status, to_github, to_junit_xml

F32 = TensorProto.FLOAT


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A fixed 4x8 Relu (fully priced), Relu + NonZero (a lower bound: NonZero has no cost rule) and
    NonMaxSuppression alone (nothing priced)."""
    d = tmp_path_factory.mktemp("ci_audit")
    return {
        "relu": _relu(d / "relu.onnx"),
        "nz": _save([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("NonZero", ["r"], ["y"])],
                    [helper.make_tensor_value_info("x", F32, [64, 64])],
                    [helper.make_tensor_value_info("y", TensorProto.INT64, None)], d / "nz.onnx"),
        "nms": _nms(d / "nms.onnx"),
    }


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- --junit-xml never replaces a model


def test_junit_xml_never_overwrites_a_model(models, capsys):
    before = Path(models["relu"]).read_bytes()
    # `--junit-xml models/*.onnx`: relu.onnx lands after the flag
    code, out, err = _run(capsys, "check", "--junit-xml", models["relu"], models["nz"], "-d", "t4", "--max-latency",
                          "1s", "--roofline-only")
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err == (f"hybridperf: error: --junit-xml {models['relu']} is a model file, not a report; name the file to "
                   "write, e.g. hybridperf.xml (a shell glob right after --junit-xml puts its first model there)\n")
    assert Path(models["relu"]).read_bytes() == before  # was replaced by the XML report


def test_junit_xml_never_overwrites_the_config_or_a_spec(models, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copy(models["relu"], tmp_path / "relu.onnx")
    config = '[tool.hybridperf]\ndevices = ["t4"]\nmax-latency = "1s"\n[tool.hybridperf.budgets."relu.onnx"]\n'
    (tmp_path / "ci.toml").write_text(config)
    code, out, err = _run(capsys, "check", "--config", "ci.toml", "--junit-xml", "ci.toml")
    assert code == ExitCode.INPUT_ERROR and out == "" and (tmp_path / "ci.toml").read_text() == config
    assert err == ("hybridperf: error: --junit-xml ci.toml is a file this check reads (a model, spec or config file), "
                   "not a report; name the file to write, e.g. hybridperf.xml\n")
    spec = Path(__file__).parents[1] / "hybridperf" / "data" / "hw_specs" / "t4.yaml"
    (tmp_path / "gpu.yaml").write_text(spec.read_text().replace("id: t4", "id: my-gpu", 1))
    before = (tmp_path / "gpu.yaml").read_text()
    code, _, err = _run(capsys, "check", "relu.onnx", "-d", "gpu.yaml", "--max-latency", "1s",
                        "--junit-xml", "gpu.yaml")
    assert code == ExitCode.INPUT_ERROR and (tmp_path / "gpu.yaml").read_text() == before
    assert err.startswith("hybridperf: error: --junit-xml gpu.yaml is a file this check reads")
    # a new file with a model's suffix is refused too: nothing is written
    code, _, err = _run(capsys, "check", "relu.onnx", "-d", "t4", "--max-latency", "1s", "--junit-xml", "new.onnx")
    assert code == ExitCode.INPUT_ERROR and not (tmp_path / "new.onnx").exists()


def test_junit_xml_empty_says_so(models, capsys):
    code, out, err = _run(capsys, "check", models["relu"], "-d", "t4", "--max-latency", "1s", "--junit-xml", "")
    assert code == ExitCode.INPUT_ERROR and out == ""
    # was "--junit-xml . is a directory"
    assert err == "hybridperf: error: --junit-xml is empty; name the file to write, e.g. hybridperf.xml\n"


# --------------------------------------------------------------------------- a limit met exactly, exceeded by a hair


def test_a_limit_equal_to_the_prediction_passes_and_one_byte_less_fails(models, capsys):
    code, out, _ = _run(capsys, "check", models["relu"], "-d", "t4", "--max-latency", "1s", "--roofline-only",
                        "--format", "json")
    lat, mem, _ = json.loads(out)["checks"]
    latency_s, peak_b = lat["predicted"], mem["predicted"]
    assert peak_b == int(peak_b) > 4 * 8 * 4  # a whole number of bytes, above the input's 4*8 float32
    code, out, _ = _run(capsys, "check", models["relu"], "-d", "t4", "--max-latency", f"{latency_s!r}s",
                        "--max-memory", f"{int(peak_b)}B", "--roofline-only", "--format", "json")
    assert code == ExitCode.OK and json.loads(out)["passed"] is True  # predicted <= limit
    code, out, _ = _run(capsys, "check", models["relu"], "-d", "t4", "--max-memory", f"{int(peak_b) - 1}B",
                        "--roofline-only")
    row = next(line for line in out.splitlines() if "memory" in line)
    assert code == ExitCode.BUDGET_EXCEEDED and row.endswith("OVER (+<1%)")  # was "OVER (+0%)"


def test_an_excess_that_rounds_to_zero_is_not_written_as_zero():
    c = MetricCheck("m.onnx", "t4", Metric.MEMORY, 9569844.0, 9569843.0)
    assert c.exceeded and c.over_by == 9569844 / 9569843 - 1
    assert _status(c) == "OVER (+<1%)"
    assert to_github(CheckResult((c,))).splitlines()[0] == (
        "::error file=m.onnx,title=hybridperf%3A memory over budget on t4::memory 9.13 MiB exceeds the budget "
        "9.13 MiB by <0.1%25 on t4")  # was "by 0.0%25"
    root = ET.fromstring(to_junit_xml(CheckResult((c,))))
    assert root.find(".//failure").get("message") == "memory 9.13 MiB exceeds the budget 9.13 MiB by <0.1% on t4"
    # 25 % over still reads as a percentage
    assert _status(MetricCheck("m.onnx", "t4", Metric.LATENCY, 5e-3, 4e-3)) == "OVER (+25%)"  # 5 / 4 - 1


# --------------------------------------------------------------------------- GitHub annotation paths


def _over(model):
    return MetricCheck(model, "t4", Metric.LATENCY, 2e-3, 1e-3)


def _files(text):
    return [line.split(",title=")[0].removeprefix("::error file=") for line in text.splitlines()[:-1]]


def test_github_file_is_the_path_from_the_repository_root(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "ml" / "models").mkdir(parents=True)
    monkeypatch.chdir(repo / "ml")  # a step with working-directory: ml
    result = CheckResult(tuple(_over(m) for m in ("./models/a.onnx", "models/../models/b.onnx",
                                                  str(repo / "ml" / "models" / "c.onnx"), "/elsewhere/d, e:f.onnx")))
    # outside GitHub Actions: relative to the working directory, normalised
    assert _files(to_github(result)) == [
        "models/a.onnx", "models/b.onnx", "models/c.onnx", "/elsewhere/d%2C e%3Af.onnx"]
    # on a runner: from $GITHUB_WORKSPACE (was "./models/a.onnx", "models/../models/b.onnx" and the absolute path)
    assert _files(to_github(result, str(repo))) == [
        "ml/models/a.onnx", "ml/models/b.onnx", "ml/models/c.onnx", "/elsewhere/d%2C e%3Af.onnx"]
    # a file below the working directory but outside the repository keeps its absolute path
    assert _files(to_github(result, str(tmp_path / "other"))) == [
        (repo / "ml" / "models" / "a.onnx").as_posix(), (repo / "ml" / "models" / "b.onnx").as_posix(),
        (repo / "ml" / "models" / "c.onnx").as_posix(), "/elsewhere/d%2C e%3Af.onnx"]


def test_check_format_github_reads_github_workspace(models, tmp_path, monkeypatch, capsys):
    repo = tmp_path / "repo"
    (repo / "ml").mkdir(parents=True)
    shutil.copy(models["relu"], repo / "ml" / "relu.onnx")
    monkeypatch.chdir(repo / "ml")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(repo))
    code, out, _ = _run(capsys, "check", "./relu.onnx", "-d", "t4", "--max-latency", "1ns", "--roofline-only",
                        "--format", "github")
    assert code == ExitCode.BUDGET_EXCEEDED
    assert out.startswith("::error file=ml/relu.onnx,title=hybridperf%3A latency over budget on t4::")


# --------------------------------------------------------------------------- JUnit XML


def test_junit_xml_stays_well_formed_with_control_characters():
    names = ["ctl\x1b.onnx", "bad\udcff.onnx", "tab\tand ü.onnx"]
    root = ET.fromstring(to_junit_xml(CheckResult(tuple(_over(m) for m in names))))  # was: not well-formed
    assert [s.get("name") for s in root] == ["ctl\\x1b.onnx", "bad\\udcff.onnx", "tab\tand ü.onnx"]


def test_junit_counts_match_the_verdicts_and_mark_estimated_passes():
    checks = (
        MetricCheck("a.onnx", "t4", Metric.LATENCY, 2e-3, 1e-3),  # over
        MetricCheck("a.onnx", "t4", Metric.MEMORY, 9e6, None, capacity=4e6),  # over the device's memory, no budget
        MetricCheck("a.onnx", "t4", Metric.ENERGY, 1e-3, None),  # no budget
        MetricCheck("b.onnx", "t4", Metric.LATENCY, 5e-4, 1e-3, estimated="unverified: outside the training GPUs"),
        MetricCheck("b.onnx", "t4", Metric.MEMORY, None, 1e9, unknown="no memory plan (symbolic)"),
        MetricCheck("b.onnx", "t4", Metric.ENERGY, 2e-4, 1e-3, lower_bound="1 op type has no cost (x)"),
    )
    result = CheckResult(checks)
    root = ET.fromstring(to_junit_xml(result))
    n_fail, n_err, n_skip = len(result.failures), len(result.undecided), sum(c.skipped for c in checks)
    assert (n_fail, n_err, n_skip) == (2, 2, 1)
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("6", "2", "2", "1")
    assert [len(root.findall(f".//{tag}")) for tag in ("testcase", "failure", "error", "skipped")] == [6, 2, 2, 1]
    for suite in root:
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("errors")) == sum(c.find("error") is not None for c in cases)
    props = {p.get("name"): p.get("value") for p in root.find(".//testcase[@name='t4.latency'][@classname='b.onnx']")
             .find("properties")}
    assert props["estimated"] == "unverified: outside the training GPUs"  # a pass on an unverified figure says so
    gh = to_github(result).splitlines()  # one ::error each, a ::warning per unverified latency pass, the summary
    assert len([x for x in gh if x.startswith("::error ")]) == n_fail + n_err
    assert len([x for x in gh if x.startswith("::warning ")]) == 1 and len(gh) == n_fail + n_err + 2


# --------------------------------------------------------------------------- exit codes: which wins


def test_over_budget_beside_a_limit_not_judged_exits_2(models, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for k in ("relu", "nz"):
        shutil.copy(models[k], tmp_path / f"{k}.onnx")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.hybridperf]\ndevices = ["t4"]\nmax-latency = "1s"\n'
        '[tool.hybridperf.budgets."relu.onnx"]\nmax-latency = "1ns"\n[tool.hybridperf.budgets."nz.onnx"]\n')
    code, out, err = _run(capsys, "check", "--roofline-only", "--junit-xml", "r/j.xml")
    assert code == ExitCode.INPUT_ERROR  # 2 wins over 1; both are reported
    assert out.splitlines()[-1] == "2 limits checked on 2 model x device pairs: 1 over budget, 1 cannot be judged"
    assert err.startswith("hybridperf: error: cannot judge 1 limit: latency of nz.onnx on t4 (lower bound: ")
    root = ET.parse(tmp_path / "r" / "j.xml").getroot()
    assert (root.get("failures"), root.get("errors")) == ("1", "1")
    # a model that cannot be read stops the check: one line, no report, no JUnit file
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    code, out, err = _run(capsys, "check", "relu.onnx", "broken.onnx", "--roofline-only", "--junit-xml", "r/k.xml")
    assert code == ExitCode.INPUT_ERROR and out == "" and not (tmp_path / "r" / "k.xml").exists()
    assert err.count("\n") == 1 and "broken.onnx" in err


# --------------------------------------------------------------------------- nothing priced never passes


class _Constant:
    """A learned model reduced to its constant: 10 us over any roofline (a GPU model's floor on t4)."""

    calibration = "a constant of 10 us"

    def apply(self, pred):
        from dataclasses import replace

        return replace(pred, latency_s=pred.roofline_latency_s + 1e-5, calibration=self.calibration)


def test_a_roofline_of_zero_is_unknown_whatever_the_learned_constant(models):
    """Built as pricing builds it (``predict_on`` with the learned model): where nothing is priced the constant is
    not applied and the prediction says its figures are unknown, which ``compare`` reads (it read a roofline of 0 by
    a rule of its own until 2026-12-03, and was fed a constant over a roofline of 0 here, which pricing never
    makes)."""
    from hybridperf.api import analyze, predict_on

    pred = predict_on(analyze(models["nms"]), "t4", residual=_Constant())
    assert {"latency_s", "energy_j"} <= set(pred.unknown_figures) and pred.latency_s == 0.0
    lat, mem, en = compare(pred, Budget(1e-3, 2**20, 1.0), "nms.onnx", "t4", allow_unsupported=True)
    # was "≥ 10.0 us  ok (lower bound)"
    assert (lat.value, en.value) == (None, None) and lat.undecided and en.undecided
    assert lat.unknown == "nothing priced: 1 op type has no cost (relax.vision.all_class_non_max_suppression)"
    # a positive roofline under the same constant is still a bound --allow-unsupported may judge
    nz = predict_on(analyze(models["nz"]), "t4", residual=_Constant())
    assert nz.roofline_latency_s > 0 and nz.latency_s == nz.roofline_latency_s + 1e-5 and not nz.unknown_figures
    lat, _, _ = compare(nz, Budget(1e-3), "m", "t4", True)
    assert lat.value == nz.latency_s and lat.passed and lat.lower_bound


def test_nothing_priced_fails_on_a_gpu_with_its_learned_model(models, capsys):
    code, out, err = _run(capsys, "check", models["nms"], "-d", "t4", "--max-latency", "1ms", "--max-energy", "1J",
                          "--allow-unsupported", "--format", "json")
    lat, _, en = json.loads(out)["checks"]
    assert code == ExitCode.INPUT_ERROR and lat["predicted"] is None and en["predicted"] is None
    assert lat["undecided"] and lat["unknown"].startswith("nothing priced: 1 op type has no cost (relax.vision.")


@pytest.mark.parametrize("device", ["t4", "host-epyc-1c"])
def test_nothing_priced_reads_unknown_in_predict_and_mig(models, device):
    """predict printed ``latency ≥ 10.0 us`` and ``energy ≥ 100.0 uJ`` for NonMaxSuppression alone on t4 (the GPU
    model's constant over a roofline of 0) while check and mig said unknown; the learned model is not applied where
    nothing was priced."""
    from hybridperf.api import analyze, predict_on
    from hybridperf.report.text import to_dict

    pred = predict_on(analyze(models["nms"]), device)
    assert (pred.latency_s, pred.energy_j, pred.roofline_latency_s) == (0.0, 0.0, 0.0)
    assert set(pred.unknown_figures) == {"latency_s", "roofline_latency_s", "energy_j", "flops"}
    assert pred.calibration.startswith("no op priced, so the learned model is not applied")
    assert {"latency_s", "energy_j"} <= set(to_dict(pred)["totals"]["unknown_fields"])


def test_github_warns_on_a_pass_with_an_unverified_latency(models, capsys):
    """The table said ``ok (unverified)`` and JUnit a property, but ``--format github`` said nothing of it."""
    code, out, _ = _run(capsys, "check", models["relu"], "-d", "h200-sxm", "-d", "t4", "--max-latency", "1s",
                        "--format", "github")
    assert code == 0
    warnings = [x for x in out.splitlines() if x.startswith("::warning ")]
    (line,) = warnings  # h200-sxm is outside the training GPUs' figures; t4 is not
    assert "title=hybridperf%3A latency within budget on h200-sxm%2C unverified::" in line
    assert "within 1.000 s; unverified: its fp32 peak" in line
    assert not [x for x in out.splitlines() if x.startswith("::error ")]
