"""Audit 2026-12-04 of the CLI's input handling (predict-many, check, report): the less obvious inputs.

Until 2026-12-04:

* ``report m.onnx --html m.onnx`` wrote the page over the model (and ``--html SHEET.yaml`` over the ``-d`` sheet);
* ``report --html /dev/stdout`` with stdout redirected to a file analysed the model, then failed (exit 2);
* root's ``predict-many -o /sys/x.jsonl`` was exit 3 ("internal error: PermissionError"), and ``check --junit-xml
  /sys/x.xml`` analysed every model before it failed (permission bits say nothing to root nor of a read-only mount);
* a symbolic link loop was exit 3 ("RuntimeError: Symlink loop") as a ``check`` model, ``--junit-xml`` or ``--html``;
* a dangling link ``x.onnx`` in a directory was left out without a word: ``check DIR`` passed a model it never priced;
* ``predict-many -o models/*.onnx`` (the glob's first model taken as the output) read "not a file of predict-many
  rows"; one model failing for ``--batch`` read "fix or remove those files";
* shapes and batch of ``pyproject.toml`` that a model cannot take were reported as ``--shape`` / ``--batch`` flags
  the command line never had, naming no file; ``shapes = {x = "0x3"}`` likewise; ``precision = "FP16"`` got no hint.

Every model here is one Relu on x=2x8 (fixed shapes), priced on the packaged t4 sheet.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest
from onnx import TensorProto, helper, save

from hybridperf.cli import ExitCode, main


@pytest.fixture()
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    vi = helper.make_tensor_value_info
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [vi("x", TensorProto.FLOAT, [2, 8])],
                              [vi("y", TensorProto.FLOAT, [2, 8])])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "m.onnx"))
    return tmp_path


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _no_analysis(monkeypatch, *modules):
    """Make the slow step fail the test: the refusal must come before it."""
    def boom(*a, **k):
        raise AssertionError("analysed before the output path was checked")

    for mod, name in modules:
        monkeypatch.setattr(mod, name, boom)


# --------------------------------------------------------------------------- report --html


def test_report_never_writes_over_its_own_model_or_sheet(work, capsys, monkeypatch):
    import hybridperf.commands.report as report

    _no_analysis(monkeypatch, (report, "predict_from_args"))
    model = work / "m.onnx"
    before = model.read_bytes()
    code, out, err = _cli(capsys, "report", "m.onnx", "-d", "t4", "--html", "m.onnx")
    assert (code, out) == (ExitCode.INPUT_ERROR, "") and model.read_bytes() == before
    assert err == ("hybridperf: error: --html m.onnx is a file this report reads (a model or spec file), not a page; "
                   "name the file to write, e.g. report.html\n")
    sheet = work / "t4.yaml"
    sheet.write_bytes((Path(report.__file__).parent.parent / "data" / "hw_specs" / "t4.yaml").read_bytes())
    code, out, err = _cli(capsys, "report", "m.onnx", "-d", str(sheet), "--html", "./t4.yaml")
    assert code == ExitCode.INPUT_ERROR and "is a file this report reads" in err
    assert sheet.read_bytes().startswith(b"schema_version")


def test_report_html_dev_stdout_is_stdout_and_a_dev_file_fails_first(work, capsys, monkeypatch):
    code, out, err = _cli(capsys, "report", "m.onnx", "-d", "t4", "--html", "/dev/stdout")
    assert code == ExitCode.OK and out.startswith("<!DOCTYPE html>") and err.startswith("<stdout>  latency ")
    import hybridperf.commands.report as report

    _no_analysis(monkeypatch, (report, "predict_from_args"))
    # /dev/stderr redirected to a regular file: a rename would replace that file, so it is refused, before the work
    log = work / "log.txt"
    log.write_text("kept")
    monkeypatch.setattr("hybridperf.files.resolved", lambda p: log if str(p) == "/dev/stderr" else Path(p).absolute())
    monkeypatch.setattr("hybridperf.files.renamable", lambda p: str(p) != "/dev/stderr")
    code, out, err = _cli(capsys, "report", "m.onnx", "-d", "t4", "--html", "/dev/stderr")
    assert (code, out) == (ExitCode.INPUT_ERROR, "") and "or --html - for stdout" in err and log.read_text() == "kept"


# --------------------------------------------------------------------------- a folder no file can be created in


def _read_only(monkeypatch):
    """tempfile.mkstemp as a read-only mount answers root (whom os.access always lets write)."""
    def denied(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", denied)


def test_predict_many_output_on_a_read_only_mount_is_exit_2_before_the_work(work, capsys, monkeypatch):
    import hybridperf.commands.predict_many as pm

    _no_analysis(monkeypatch, (pm, "_results"))
    _read_only(monkeypatch)
    code, out, err = _cli(capsys, "predict-many", "m.onnx", "-d", "t4", "-o", "rows.jsonl")
    assert (code, out) == (ExitCode.INPUT_ERROR, "")
    assert err == ("hybridperf: error: --output rows.jsonl: cannot write in . (Read-only file "
                   "system); choose another path\n")
    assert not (work / "rows.jsonl").exists()


def test_predict_many_output_that_cannot_be_opened_is_exit_2(work, capsys, monkeypatch):
    real_open = os.open

    def refuse(path, *a, **k):
        if str(path).endswith("rows.jsonl"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, *a, **k)

    monkeypatch.setattr(os, "open", refuse)
    code, out, err = _cli(capsys, "predict-many", "m.onnx", "-d", "t4", "-o", "rows.jsonl")
    assert (code, out) == (ExitCode.INPUT_ERROR, "")
    assert err == ("hybridperf: error: --output rows.jsonl: cannot open it to append (Permission denied); choose "
                   "another path\n")


def test_check_junit_on_a_read_only_mount_fails_before_the_analysis(work, capsys, monkeypatch):
    import hybridperf.api as api

    _no_analysis(monkeypatch, (api, "run_check"))
    _read_only(monkeypatch)
    code, out, err = _cli(capsys, "check", "m.onnx", "-d", "t4", "--max-latency", "1s", "--junit-xml", "j.xml")
    assert (code, out) == (ExitCode.INPUT_ERROR, "")
    assert err == ("hybridperf: error: --junit-xml j.xml: cannot write in . (Read-only file "
                   "system); choose another path\n")


# --------------------------------------------------------------------------- symbolic links


@pytest.fixture()
def loop(work):
    (work / "a.xml").symlink_to("b.xml")
    (work / "b.xml").symlink_to("a.xml")
    (work / "a.onnx").symlink_to("b.onnx")
    (work / "b.onnx").symlink_to("a.onnx")
    return work


@pytest.mark.parametrize("argv, flag", [
    (["check", "m.onnx", "-d", "t4", "--max-latency", "1s", "--junit-xml", "a.xml"], "--junit-xml"),
    (["report", "m.onnx", "-d", "t4", "--html", "a.xml"], "--html"),
    (["predict-many", "m.onnx", "-d", "t4", "-o", "a.xml.jsonl"], "--output"),
])
def test_an_output_link_loop_is_one_line(loop, capsys, argv, flag):
    (loop / "a.xml.jsonl").symlink_to("b.xml.jsonl")
    (loop / "b.xml.jsonl").symlink_to("a.xml.jsonl")
    code, out, err = _cli(capsys, *argv)
    name = argv[-1]
    assert (code, out) == (ExitCode.INPUT_ERROR, "")
    assert err == (f"hybridperf: error: {flag} {name} is a symbolic link whose links loop back to it; remove the link "
                   "or name another path\n")


def test_a_model_link_loop_is_not_found_not_an_internal_error(loop, capsys):
    code, out, err = _cli(capsys, "check", "a.onnx", "-d", "t4", "--max-latency", "1s")
    assert (code, out, err) == (ExitCode.INPUT_ERROR, "", "hybridperf: error: model file not found: a.onnx; check "
                                                          "the path\n")


def test_a_dangling_link_in_a_directory_is_never_passed_by_check(work, capsys):
    models = work / "models"
    models.mkdir()
    (models / "m.onnx").write_bytes((work / "m.onnx").read_bytes())
    (models / "gone.onnx").symlink_to("nowhere.onnx")
    code, out, err = _cli(capsys, "check", "models", "-d", "t4", "--max-latency", "1s")
    assert (code, out) == (ExitCode.INPUT_ERROR, "")
    assert err == "hybridperf: error: model file not found: models/gone.onnx; check the path\n"
    code, out, err = _cli(capsys, "predict-many", "models", "-d", "t4", "-j", "1", "--format", "csv")
    assert code == ExitCode.OK and "warning: 1 of 2 models failed" in err
    assert "models/gone.onnx,error," in out and "models/m.onnx,ok," in out


# --------------------------------------------------------------------------- predict-many messages


def test_predict_many_output_named_as_a_model_says_so(work, capsys):
    before = (work / "m.onnx").read_bytes()
    code, out, err = _cli(capsys, "predict-many", "m.onnx", "-d", "t4", "-o", "m.onnx")
    assert (code, out) == (ExitCode.INPUT_ERROR, "") and (work / "m.onnx").read_bytes() == before
    assert err == ("hybridperf: error: --output m.onnx is a model file, not a file of rows; name the file to write, "
                   "e.g. rows.jsonl (a shell glob right after -o puts its first model there)\n")


def test_predict_many_one_model_failing_names_its_error(work, capsys):
    code, out, err = _cli(capsys, "predict-many", "m.onnx", "-d", "t4", "-j", "1", "--batch", "3")
    assert code == ExitCode.INPUT_ERROR
    assert err.startswith("hybridperf: error: m.onnx: --batch 3 cannot be applied") and "fix or remove" not in err


# --------------------------------------------------------------------------- pyproject.toml values


def _config(work, text):
    (work / "pyproject.toml").write_text('[tool.hybridperf]\nmax-latency = "1s"\ndevices = ["t4"]\n' + text)


def test_config_shapes_a_model_cannot_take_name_the_file_not_a_flag(work, capsys):
    _config(work, '[tool.hybridperf.budgets."m.onnx"]\nshapes = {y = "2x8"}\n')
    code, out, err = _cli(capsys, "check")
    assert (code, out) == (ExitCode.INPUT_ERROR, "")
    assert err == ("hybridperf: error: m.onnx: --shape names unknown input 'y'; the model's inputs are x (--shape here "
                   "is the shapes of [tool.hybridperf.budgets.\"m.onnx\"] in pyproject.toml, not a flag: fix it "
                   "there)\n")
    _config(work, '[tool.hybridperf.budgets."m.onnx"]\nbatch = 3\n')
    code, out, err = _cli(capsys, "check")
    assert code == ExitCode.INPUT_ERROR and err.startswith("hybridperf: error: m.onnx: --batch 3 cannot be applied")
    assert err.endswith("(--batch here is the batch of [tool.hybridperf.budgets.\"m.onnx\"] in pyproject.toml, not "
                        "a flag: fix it there)\n")
    # a flag stays a flag
    code, out, err = _cli(capsys, "check", "m.onnx", "--shape", "y=2x8")
    assert err == "hybridperf: error: --shape names unknown input 'y'; the model's inputs are x\n"


@pytest.mark.parametrize("shape, why", [
    ("0x8", "every dim must be >= 1"),
    (f"{2**40}x{2**9}", "more than 2^48 elements, beyond what any device can address; bind a smaller shape"),
])
def test_config_shapes_out_of_range_are_refused_naming_the_key(work, capsys, shape, why):
    _config(work, f'[tool.hybridperf.budgets."m.onnx"]\nshapes = {{x = "{shape}"}}\n')
    code, out, err = _cli(capsys, "check")
    assert (code, out) == (ExitCode.INPUT_ERROR, "")
    assert err == (f"hybridperf: error: pyproject.toml: [tool.hybridperf.budgets.\"m.onnx\"] key 'shapes' entry 'x' "
                   f"is '{shape}': {why}\n")


def test_config_precision_in_capitals_gets_a_hint(work, capsys):
    _config(work, 'precision = "FP16"\n')
    code, out, err = _cli(capsys, "check", "m.onnx")
    assert code == ExitCode.INPUT_ERROR
    assert "key 'precision' is 'FP16' (did you mean 'fp16'?); use one of" in err


# --------------------------------------------------------------------------- the command line itself


def test_an_option_before_the_command_is_named_as_such(capsys):
    # until 2026-12-04: "unknown command 't4'"
    code, out, err = _cli(capsys, "-d", "t4", "predict", "m.onnx")
    assert (code, out) == (ExitCode.INPUT_ERROR, "")
    assert err == ("hybridperf: error: -d t4 comes before the command; options go after it: `hybridperf predict ... "
                   "-d t4`\n")
    code, out, err = _cli(capsys, "prdict", "m.onnx")
    assert err == ("hybridperf: error: unknown command 'prdict' (did you mean 'predict'?); `hybridperf --help` lists "
                   "the commands\n")


def test_a_choice_in_the_wrong_case_gets_a_hint(capsys):
    # until 2026-12-04 `--format JSON` and `--precision FP16` got the list of choices but no hint
    code, out, err = _cli(capsys, "predict", "m.onnx", "--format", "JSON")
    assert (code, out) == (ExitCode.INPUT_ERROR, "")
    assert err == ("hybridperf: error: predict: argument --format: invalid choice: 'JSON' (did you mean 'json'?) "
                   "(choose from 'table', 'json') (see `hybridperf predict --help`)\n")
    code, out, err = _cli(capsys, "predict", "m.onnx", "--format", "xml")
    assert "invalid choice: 'xml' (choose from" in err and "did you mean" not in err


def test_a_full_stdout_is_exit_2_not_an_internal_error(work, capsys, monkeypatch):
    # until 2026-12-04 `predict m.onnx > /dev/full` was exit 3, "internal error: OSError: [Errno 28] ... report it"
    import sys

    class Full:
        errors = "backslashreplace"

        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", Full())
    code = main(["devices"])
    assert code == ExitCode.INPUT_ERROR
    assert capsys.readouterr().err == ("hybridperf: error: cannot write the output: No space left on device; free some "
                                       "space, or write it elsewhere\n")


# --------------------------------------------------------------------------- devices


def test_devices_json_never_holds_infinity(work, capsys):
    # until 2026-12-04 a figure beyond a float once in SI units (1e300 TFLOP/s) was shown as `"value": Infinity`,
    # which is not JSON
    from hybridperf.device.spec import default_spec_dir

    text = (default_spec_dir() / "t4.yaml").read_text().replace("id: t4", "id: mygpu", 1)
    text = text.replace("fp32: {value: 8.1, unit: TFLOP/s", "fp32: {value: 1e300, unit: TFLOP/s", 1)  # 1e312 FLOP/s
    sheets = work / "sheets"
    sheets.mkdir()
    (sheets / "mygpu.yaml").write_text(text)
    want = ("hybridperf: error: sheets/mygpu.yaml: key 'peak_compute.fp32' is inf in SI units, beyond any device; fix "
            "its value and unit\n")
    for argv in (["devices", "show", "sheets/mygpu.yaml", "--format", "json"], ["devices", "--spec-dir", "sheets"]):
        code, out, err = _cli(capsys, *argv)
        assert (code, out, err) == (ExitCode.INPUT_ERROR, "", want)
