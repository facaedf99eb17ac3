"""Audit 2026-12-03 (CI use of ``check``, ``predict-many`` and ``mig``): each test is a defect found and fixed.

* ``check --junit-xml /dev/full`` renamed its report over the device node (and ``/dev/stdout`` redirected to a log
  over the log); a symbolic link was replaced by a regular file.
* ``check --allow-unsupported`` passed a model of which nothing was priced (``≥ 0.0 us  ok (lower bound)``).
* ``check m.onnx ./m.onnx`` analysed and reported the same file twice.
* a flag replacing a limit of ``pyproject.toml`` did so silently; "no budget" named pyproject.toml under ``--config``;
  two tables for one file (``"m.onnx"`` and ``"./m.onnx"``) were two targets.
* in a check of several models, ``input 'x' dim 0 ('N') is symbolic`` did not say which model.
* ``--max-memory 15`` said only "write a positive number and one of ..."; ``1e400MiB`` said "must be positive".
* ``predict-many`` took one directory only (a shell glob: "unrecognized arguments"); ``-o rows.csv`` got JSON lines;
  an error row had no figure keys; "1 lower bounds".
* ``mig`` did not say a latency was unverified (``check`` does), and ``--headroom -1MiB`` was argparse's
  "expected one argument".
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest
from onnx import TensorProto
from test_energy import toy
from test_no_silent_zeros import _nms, _relu

from hybridperf.cli import ExitCode, main
from hybridperf.estimate.budget import (Budget, BudgetError, Metric, MetricCheck, compare, overridden, parse_config,
                                        parse_limit, resolve_targets)
from hybridperf.report.check import _status, override_line, undecided_line
from hybridperf.report.many import to_csv, to_table

F32 = TensorProto.FLOAT


@pytest.fixture(scope="module")
def models(tmp_path_factory, model_dir):
    """resnet_like (symbolic batch N), a fixed 4x8 Relu, NonMaxSuppression alone (nothing priced), a corrupt file."""
    d = tmp_path_factory.mktemp("audit_check")
    shutil.copy(model_dir / "resnet_like.onnx", d / "resnet_like.onnx")
    return {
        "resnet": str(d / "resnet_like.onnx"),
        "relu": _relu(d / "relu.onnx"),
        "nms": _nms(d / "nms.onnx"),
    }


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    "text, why",
    [
        ("15", "a limit needs a unit"),  # 15 what? no unit is guessed
        ("1.5e7", "a limit needs a unit"),
        ("0", "must be positive and carry a unit"),
        ("1e400MiB", "too large to be a limit"),  # beyond a float: was "must be positive"
        ("0MiB", "must be positive"),
    ],
)
def test_limit_messages_say_what_is_wrong(text, why):
    with pytest.raises(BudgetError) as exc:
        parse_limit(text, Metric.MEMORY)
    assert str(exc.value) == (f"--max-memory {text!r}: {why}; write a positive number and one of B, KB, MB, GB, TB, "
                              "KiB, MiB, GiB, TiB, e.g. 512MiB")


def test_spaced_and_exponent_limits():
    assert parse_limit("15 MB", Metric.MEMORY) == 15 * 10**6
    assert parse_limit("15MiB", Metric.MEMORY) == 15 * 2**20
    assert parse_limit("1.5e7B", Metric.MEMORY) == 15_000_000
    assert parse_limit("10 ms", Metric.LATENCY) == 10 / 1000


# --------------------------------------------------------------------------- nothing priced is unknown


def _pred(latency_s, energy_j, uncosted=("relax.nonzero",)):
    """The fields of a Prediction that ``compare`` reads; its unknown figures by pricing's own rule
    (:attr:`Prediction.unknown_figures`, on a roofline-only figure: the roofline is the latency)."""
    from hybridperf.estimate.pricing import Prediction

    figures = SimpleNamespace(complete=not uncosted, latency_s=latency_s, roofline_latency_s=latency_s,
                              energy_j=energy_j, flops=int(latency_s > 0))
    return SimpleNamespace(
        latency_s=latency_s, energy_j=energy_j, peak_memory_bytes=1000, uncosted_ops=list(uncosted), latency_note="",
        memory=SimpleNamespace(known=True), analyzed=SimpleNamespace(memory_is_lower_bound=False),
        spec=SimpleNamespace(dram=SimpleNamespace(capacity_bytes=16e9), power_note=""),
        unknown_figures=Prediction.unknown_figures.fget(figures),
    )


def test_a_lower_bound_of_zero_is_unknown_even_with_allow_unsupported():
    lat, mem, en = compare(_pred(0.0, 0.0), Budget(1e-3, 2**20, 1.0), "m.onnx", "d", allow_unsupported=True)
    assert lat.value is None and lat.undecided and not lat.passed  # was "≥ 0.0 us  ok (lower bound)"
    assert lat.unknown == "nothing priced: 1 op type has no cost (relax.nonzero)"
    assert en.value is None and en.undecided
    assert mem.value == 1000 and mem.passed  # the memory plan is exact here
    assert _status(lat) == "UNKNOWN"
    assert undecided_line([lat]) == (
        "cannot judge 1 limit: latency of m.onnx on d (nothing priced: 1 op type has no cost (relax.nonzero)); "
        "a figure of which nothing was priced can only be judged once its ops have cost rules")
    # a positive lower bound is still judged with --allow-unsupported
    lat, _, _ = compare(_pred(2e-5, 1e-4), Budget(1e-3), "m.onnx", "d", allow_unsupported=True)
    assert lat.value == 2e-5 and lat.passed and _status(lat) == "ok (lower bound)"


def test_nothing_priced_model_never_passes(models):
    from hybridperf.api import check

    res = check(models["nms"], toy(), max_latency="1ms", residual=None, allow_unsupported=True, runtime=None)
    lat = next(c for c in res.checks if c.metric is Metric.LATENCY)
    assert not res and lat.value is None and lat.undecided


def test_two_notes_share_one_parenthesis():
    c = MetricCheck("m", "d", Metric.ENERGY, 2e-3, 1.0, lower_bound="1 op type has no cost (x)",
                    lower_bound_accepted=True, estimated="power of d estimated, not measured")
    assert _status(c) == "ok (lower bound, estimated power)"  # was "ok (lower bound) (estimated power)"


# --------------------------------------------------------------------------- config and command line


CONFIG = {
    "devices": ["t4"],
    "max-latency": "50ms",
    "batch": 1,
    "budgets": {"m.onnx": {"max-memory": "15MiB", "devices": {"a100-sxm-80gb": {"max-latency": "1us"}, "t4": {}}}},
}


def test_one_file_is_one_target(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = parse_config(CONFIG, tmp_path / "pyproject.toml")
    targets = resolve_targets(["m.onnx", "./m.onnx", str(tmp_path / "m.onnx")], cfg)
    assert [t.model for t in targets] == ["m.onnx"]
    assert targets[0].budgets["a100-sxm-80gb"] == Budget(1e-6, 15 * 2**20)


def test_two_tables_for_one_file_are_refused(tmp_path):
    with pytest.raises(BudgetError) as exc:
        parse_config({"budgets": {"m.onnx": {"batch": 1}, "./m.onnx": {"devices": ["t4"]}}}, tmp_path / "p.toml")
    assert str(exc.value) == (f'{tmp_path / "p.toml"}: [tool.hybridperf.budgets."./m.onnx"] names the same file as '
                              '[tool.hybridperf.budgets."m.onnx"]; merge the two tables')


def test_no_budget_names_the_config_file(tmp_path):
    cfg = parse_config({}, tmp_path / "ci.toml")
    with pytest.raises(BudgetError, match=f"or set them in \\[tool.hybridperf\\] of {tmp_path / 'ci.toml'}$"):
        resolve_targets(["x.onnx"], cfg, cli_devices=["t4"])


def test_flags_that_replace_the_file_are_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = Path("pyproject.toml")
    cfg = parse_config(CONFIG, path)
    lines = [override_line(o) for o in overridden([], cfg, Budget(max_latency_s=1.0), ["t4"], 2)]
    assert lines == [
        "--device t4 replaces the devices of pyproject.toml: not checked on a100-sxm-80gb",
        "--max-latency 1.000 s replaces max-latency 50.000 ms of pyproject.toml (m.onnx on t4): the command line wins",
        "--batch 2 replaces batch 1 of pyproject.toml: the command line wins",
    ]
    # the same value as the file's, or a flag the file does not set: nothing to say
    (a100,) = overridden([], cfg, Budget(max_latency_s=0.05), ["t4", "a100-sxm-80gb"], 1)
    assert (a100.key, a100.old, a100.pairs) == ("max-latency", 1e-6, "m.onnx on a100-sxm-80gb")
    assert overridden(["x.onnx"], cfg, Budget(max_latency_s=0.05), ["t4"], 1) == []  # x.onnx: the defaults only
    assert overridden(["m.onnx"], cfg, Budget(max_energy_j=1.0)) == []
    # per device: the a100 table's 1 us and t4's inherited 50 ms are two replaced values
    lines = [override_line(o) for o in overridden([], cfg, Budget(max_latency_s=1.0))]
    assert lines == [
        "--max-latency 1.000 s replaces max-latency 1.0 us of pyproject.toml (m.onnx on a100-sxm-80gb): the command "
        "line wins",
        "--max-latency 1.000 s replaces max-latency 50.000 ms of pyproject.toml (m.onnx on t4): the command line wins",
    ]


def test_check_says_a_flag_replaced_a_limit(models, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copy(models["relu"], tmp_path / "m.onnx")
    (tmp_path / "pyproject.toml").write_text('[tool.hybridperf]\ndevices = ["t4"]\nmax-latency = "1us"\n')
    code, out, err = _run(capsys, "check", "m.onnx", "--max-latency", "1s", "--roofline-only")
    assert code == ExitCode.OK and out.splitlines()[-1] == "1 limit checked on 1 model x device pair: within budget"
    assert err == ("hybridperf: note: --max-latency 1.000 s replaces max-latency 1.0 us of pyproject.toml "
                   "(m.onnx on t4): the command line wins\n")


def test_a_default_batch_leaves_fixed_shapes_alone(models, tmp_path, monkeypatch, capsys):
    """``batch`` of [tool.hybridperf] binds symbolic batch dims; relu.onnx (fixed 4x8) was refused ("--batch 1
    cannot be applied") and so was the whole check. An explicit --batch still is."""
    monkeypatch.chdir(tmp_path)
    for k in ("relu", "resnet"):
        shutil.copy(models[k], tmp_path / Path(models[k]).name)
    (tmp_path / "pyproject.toml").write_text('[tool.hybridperf]\ndevices = ["t4"]\nbatch = 1\nmax-latency = "1s"\n')
    code, out, err = _run(capsys, "check", "relu.onnx", "resnet_like.onnx", "--roofline-only", "--format", "json")
    assert code == ExitCode.OK and err == ""
    assert {c["model"] for c in json.loads(out)["checks"]} == {"relu.onnx", "resnet_like.onnx"}
    code, _, err = _run(capsys, "check", "relu.onnx", "resnet_like.onnx", "--roofline-only", "--batch", "1")
    assert code == ExitCode.INPUT_ERROR and err.startswith("hybridperf: error: relu.onnx: --batch 1 cannot be applied")


def test_several_models_name_the_one_that_fails(models, capsys):
    code, out, err = _run(capsys, "check", models["relu"], models["resnet"], "-d", "t4", "--max-latency", "1s")
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err == (f"hybridperf: error: {models['resnet']}: input 'x' dim 0 ('N') is symbolic; bind it with --batch N "
                   "or --shape x=Nx3x32x32\n")


def test_a_file_named_twice_is_checked_once(models, capsys, monkeypatch):
    monkeypatch.chdir(Path(models["relu"]).parent)
    code, out, _ = _run(capsys, "check", "relu.onnx", "./relu.onnx", models["relu"], "-d", "t4", "--max-latency", "1s",
                        "--roofline-only", "--format", "json")
    assert code == ExitCode.OK
    assert [(c["model"], c["metric"]) for c in json.loads(out)["checks"]] == [
        ("relu.onnx", "latency"), ("relu.onnx", "memory"), ("relu.onnx", "energy")]


# --------------------------------------------------------------------------- --junit-xml targets


@pytest.mark.parametrize("target", ["/dev/full", "/dev/stdout", "/proc/self/report.xml"])
def test_junit_never_renames_over_dev_or_proc(models, capsys, target):
    before = os.stat("/dev/full").st_mode
    code, out, err = _run(capsys, "check", models["relu"], "-d", "t4", "--max-latency", "1s", "--junit-xml", target)
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err == (f"hybridperf: error: --junit-xml {target}: the report is written whole, by a rename, so it needs a "
                   "file of its own; name one, e.g. hybridperf.xml (then cat it)\n")
    assert os.stat("/dev/full").st_mode == before and stat.S_ISCHR(before)


def test_junit_refuses_a_pipe(models, capsys, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code, _, err = _run(capsys, "check", models["relu"], "-d", "t4", "--max-latency", "1s", "--junit-xml", str(fifo))
    assert code == ExitCode.INPUT_ERROR and "is not a regular file (a device, pipe or socket)" in err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_junit_writes_through_a_symlink(models, capsys, tmp_path):
    real, link = tmp_path / "reports" / "j.xml", tmp_path / "j.xml"
    real.parent.mkdir()
    link.symlink_to(real)
    code, _, _ = _run(capsys, "check", models["relu"], models["nms"], "-d", "t4", "--max-latency", "1s",
                      "--roofline-only", "--junit-xml", str(link))
    assert code == ExitCode.INPUT_ERROR  # nms: nothing priced
    assert link.is_symlink() and real.is_file()  # was: the link replaced by a regular file
    root = ET.parse(real).getroot()
    cases = list(root.iter("testcase"))
    assert len(cases) == 2 * 3  # 2 models x 1 device x 3 metrics
    # relu: latency ok, memory and energy unbudgeted; nms: latency unknown (an error), the rest unbudgeted
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("6", "0", "1", "4")
    err = next(c for c in cases if c.find("error") is not None)
    assert err.get("classname") == models["nms"] and err.get("name") == "t4.latency"
    assert err.find("error").get("message").startswith("nothing priced: 1 op type has no cost (relax.vision.")
    props = {p.get("name"): p.get("value") for p in err.find("properties")}
    assert props["predicted"] == "unknown"  # was Python's "None"


# --------------------------------------------------------------------------- predict-many


def test_predict_many_takes_files_and_directories_once(models, tmp_path, capsys):
    d = tmp_path / "sweep"
    d.mkdir()
    shutil.copy(models["relu"], d / "relu.onnx")
    (d / "broken.onnx").write_bytes(b"not a model")
    code, out, err = _run(capsys, "predict-many", str(d), str(d / "relu.onnx"), models["nms"], "-d", "t4", "--jobs",
                          "1", "--format", "csv")
    assert code == ExitCode.OK and err.startswith("hybridperf: warning: 1 of 3 models failed") and err.count("\n") == 1
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [Path(r["model"]).name for r in rows] == ["broken.onnx", "relu.onnx", "nms.onnx"]  # relu.onnx once
    broken, relu, nms = rows
    assert broken["status"] == "error" and broken["latency_s"] == "" and broken["flops"] == ""  # unknown, not 0
    assert relu["status"] == "ok" and int(relu["flops"]) == 4 * 8  # one max(x, 0) per element
    # nothing priced: latency and energy are unknown too (a GPU model's 10 us constant filled them until 2026-12-03)
    assert nms["status"] == "lower bound" and nms["flops"] == nms["latency_s"] == nms["energy_j"] == ""
    assert nms["unknown_fields"] == "latency_s energy_j flops"
    assert list(rows[0]) == ["device", "model", "status", "latency_s", "energy_j", "peak_memory_bytes", "flops",
                             "lower_bound", "lower_bound_reason", "memory_lower_bound", "memory_estimate",
                             "unknown_fields", "error", "runtime", "input_shapes", "energy_note", "warnings",
                             "latency_note", "calibration", "precision",  # precision since 2026-12-04
                             "subnormal_assist_s",  # since 2026-12-06
                             "innermost_transpose_s",  # since 2026-12-06 22:16 UTC
                             "elementwise_math_s", "depthwise_conv1d_s",  # since 2026-12-07
                             "short_gather_s",  # since 2026-12-07 07:33 UTC (plan (24))
                             "short_broadcast_s",  # since 2026-12-07 10:11 UTC (plan (26))
                             "latency_lower_bound_reason"]  # since 2026-12-07 09:15 UTC
    assert relu["subnormal_assist_s"] == "0.0" and broken["subnormal_assist_s"] == ""  # none made; unknown
    # lower_bound is a bool beside its reason, as predict's totals (it held the reason string until 2026-12-03)
    assert (relu["lower_bound"], relu["lower_bound_reason"]) == ("false", "")
    assert nms["lower_bound"] == "true" and nms["lower_bound_reason"].startswith("lower bound: 1 op uncosted: ")


def test_predict_many_error_rows_have_every_key(models, tmp_path, capsys):
    d = tmp_path / "sweep"
    d.mkdir()
    shutil.copy(models["relu"], d / "relu.onnx")
    (d / "broken.onnx").write_bytes(b"junk")
    code, out, _ = _run(capsys, "predict-many", str(d), "-d", "t4", "--jobs", "1", "--format", "json")
    broken, relu = json.loads(out)["models"]
    assert code == ExitCode.OK and set(relu) <= set(broken)
    assert broken["latency_s"] is None and broken["flops"] is None and broken["peak_memory_bytes"] is None


def test_predict_many_refuses_a_csv_output(models, tmp_path, capsys):
    out = tmp_path / "rows.csv"
    code, stdout, err = _run(capsys, "predict-many", models["relu"], "-d", "t4", "-o", str(out))
    assert code == ExitCode.INPUT_ERROR and stdout == "" and not out.exists()
    assert err == (f"hybridperf: error: --output {out}: the file gets JSON lines (one row per model, appended, "
                   "resumed), not CSV; name it rows.jsonl (a table: --format csv or json on stdout)\n")


def test_predict_many_refuses_a_non_model_file(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    code, _, err = _run(capsys, "predict-many", str(notes), "-d", "t4")
    assert code == ExitCode.INPUT_ERROR
    assert err == f"hybridperf: error: {notes} is not a model file (.onnx, .tflite, .pt2) or a directory; drop it\n"


def test_predict_many_table_marks_a_memory_lower_bound():
    row = {"model": "nz.onnx", "status": "lower bound", "error": None, "latency_s": 3.78e-5, "energy_j": 3.78e-4,
           "peak_memory_bytes": 9 * 2**20, "flops": 32, "lower_bound": True,
           "lower_bound_reason": "lower bound: 1 op uncosted: nonzero", "memory_lower_bound": True, "unknown_fields": []}
    line = to_table([row], "t4").splitlines()[2]
    assert line.split()[7:10] == ["≥", "9.00", "MiB"]  # was "9.00 MiB", where predict says "peak ≥ 9.00 MiB"


def test_summary_grammar_and_csv_unknowns():
    rows = [{"model": "a.onnx", "status": "lower bound", "error": None, "latency_s": 0.0, "energy_j": 0.0,
             "peak_memory_bytes": None, "flops": 0, "lower_bound": True, "lower_bound_reason": "lower bound: 1 op uncosted: x",
             "memory_lower_bound": False, "unknown_fields": ["latency_s", "energy_j", "flops"]}]
    assert to_table(rows, "t4").splitlines()[-1] == "1 model on t4: 0 ok, 1 lower bound, 0 failed"  # was "bounds"
    assert to_csv(rows, "t4").splitlines()[1] == ("t4,a.onnx,lower bound,,,,,true,lower bound: 1 op uncosted: x,false,,"
                                                  "latency_s energy_j flops,,,,,,,,,,,,,,,")  # subnormal_assist_s, innermost_transpose_s,
    # elementwise_math_s, depthwise_conv1d_s, short_gather_s, short_broadcast_s: unknown; latency_lower_bound_reason: none
    # given


# --------------------------------------------------------------------------- mig


def test_mig_says_the_latency_is_unverified(models, capsys):
    code, out, _ = _run(capsys, "mig", models["relu"], "-d", "h200-sxm", "--format", "json")
    d = json.loads(out)
    assert code == ExitCode.OK and d["latency_note"].startswith("unverified: its fp32 peak 66.9 TFLOP/s is outside")
    # ints, as required_bytes; 1g.35gb holds 32.25 GiB = 129 * 2**28 (nvidia-smi mig -lgip), 35 * 10**9 from the name
    # until 2026-12-04
    assert [p["memory_bytes"] for p in d["profiles"]][:2] == [16 * 2**30, 129 * 2**28]
    code, out, _ = _run(capsys, "mig", models["relu"], "-d", "h200-sxm")
    assert out.splitlines()[-2].startswith("latency unverified: its fp32 peak 66.9 TFLOP/s")
    # a sheet inside the training range says nothing
    code, out, _ = _run(capsys, "mig", models["relu"], "-d", "a100-sxm-80gb", "--format", "json")
    assert json.loads(out)["latency_note"] is None


@pytest.mark.parametrize("argv, fragment", [
    (["--headroom", "-1MiB"], "--headroom '-1MiB': must be positive"),  # was argparse's "expected one argument"
    (["--max-latency", "-2ms"], "--max-latency '-2ms': must be positive"),
])
def test_mig_negative_values(models, capsys, argv, fragment):
    code, out, err = _run(capsys, "mig", models["relu"], "-d", "a100-sxm-80gb", *argv)
    assert code == ExitCode.INPUT_ERROR and out == "" and fragment in err and len(err.splitlines()) == 1


def test_github_title_of_a_model_over_the_device_memory():
    from hybridperf.estimate.budget import CheckResult
    from hybridperf.report.check import to_github

    over = MetricCheck("m.onnx", "tiny", Metric.MEMORY, 9_000_000.0, None, capacity=4_000_000.0)
    assert to_github(CheckResult((over,))).splitlines()[0] == (
        "::error file=m.onnx,title=hybridperf%3A does not fit in the memory of tiny::memory 8.58 MiB exceeds the "
        "memory of tiny (3.81 MiB) by 125.0%25")  # 9e6 / 4e6 - 1 = 1.25; was "memory over budget" with no budget


def test_spec_files_in_the_config_are_relative_to_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = parse_config({"devices": ["t4", "specs/a.yaml"],
                        "budgets": {"m.onnx": {"devices": {"specs/b.yml": {"max-latency": "1ms"}}}}},
                       tmp_path / "ci" / "pyproject.toml")
    assert cfg.devices == ("t4", str(Path("ci/specs/a.yaml")))  # was "specs/a.yaml", read from the working directory
    (entry,) = cfg.models
    assert entry.devices == (str(Path("ci/specs/b.yml")),) and entry.device_budgets[entry.devices[0]] == Budget(1e-3)


def test_junit_xml_creates_missing_folders_as_report_html_does(models, tmp_path, capsys):
    """A CI job's ``reports/`` folder seldom exists on a fresh checkout: ``--junit-xml reports/ci/hp.xml`` was refused
    (while ``report --html`` creates its folders); now created, and a file in the way is still one line, exit 2."""
    out = tmp_path / "reports" / "ci" / "hp.xml"
    code, _, err = _run(capsys, "check", models["relu"], "-d", "t4", "--max-latency", "1s", "--junit-xml", str(out))
    assert code == ExitCode.OK and err == "" and out.read_text().startswith("<?xml")
    (tmp_path / "afile").write_text("x")
    code, _, err = _run(capsys, "check", models["relu"], "-d", "t4", "--max-latency", "1s", "--junit-xml",
                        str(tmp_path / "afile" / "x.xml"))
    assert code == ExitCode.INPUT_ERROR and err.count("\n") == 1 and "is a file, not a directory" in err
