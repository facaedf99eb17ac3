"""Review 2026-12-04 (one home per concept: sheets, check, budget, mig, probe, measure records).

* one rule tells a sheet file from a device id and keys a sheet (:func:`hybridperf.device.spec.sheet_key`);
* the probed sheet's header is written and read back by :mod:`hybridperf.measure.probe` alone;
* a measurement's unknown load average is translated for records in :class:`Measurement` alone (the calibration
  rounds' CSV rows held ``-1.0`` until 2026-12-04);
* ``check`` reads the estimated runtime peak and the energy cap from what ``compare`` and pricing decided;
* ``mig --headroom``'s messages are built by :func:`~hybridperf.estimate.budget.parse_limit` itself.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import pytest

from hybridperf.device.spec import names_spec_file, sheet_key
from hybridperf.estimate.budget import Budget, Metric, MetricCheck, compare, load_config, parse_limit, resolve_targets


# --------------------------------------------------------------------------- one rule for "a sheet file, or an id"


def test_sheet_key_one_sheet_however_spelled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    spellings = ["specs/x.yaml", "./specs/x.yaml", str(tmp_path / "specs" / "x.yaml")]
    assert {sheet_key(s) for s in spellings} == {(tmp_path / "specs" / "x.yaml").resolve()}
    assert sheet_key("t4") == "t4" and sheet_key("host") == "host"  # ids stay as they are


def test_budget_keys_devices_by_the_sheet_rule(tmp_path, monkeypatch):
    """``check -d x.yaml -d ./x.yaml`` is one device (one result row), by the rule ``load_spec`` reads a device by."""
    monkeypatch.chdir(tmp_path)
    (t,) = resolve_targets(["m.onnx"], load_config(), Budget(max_latency_s=1.0), ["x.yaml", "./x.yaml", "t4"])
    assert t.devices == ("x.yaml", "t4")


def test_config_sheet_is_relative_to_the_config_by_the_sheet_rule(tmp_path, monkeypatch):
    """A config's sheet path is read relative to the config file whenever ``load_spec`` would read it as a path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ci").mkdir()
    cfg = tmp_path / "ci" / "pyproject.toml"
    cfg.write_text('[tool.hybridperf]\ndevices = ["specs/x.yaml", "t4"]\nmax-latency = "1ms"\n')
    config = load_config(cfg)
    assert config.devices == ("ci/specs/x.yaml", "t4")
    assert [names_spec_file(d) for d in config.devices] == [True, False]


# --------------------------------------------------------------------------- the probed sheet's header


def test_probe_header_round_trip():
    from hybridperf.measure.probe import PROBED_HEADER, header_version_date, sheet_header

    text = sheet_header("0.1.0", "2026-11-23")
    first = text.splitlines()[0]
    assert first.startswith(PROBED_HEADER) and text.count("\n") == 2 and text.endswith("\n")
    assert header_version_date(first) == ("0.1.0", "2026-11-23")
    assert header_version_date("# hand-written sheet") is None
    # the packaged sheet a probe wrote reads back the same way
    from hybridperf.device.spec import default_spec_dir

    with open(default_spec_dir() / "h100-sxm-measured.yaml", encoding="utf-8") as fh:
        assert header_version_date(fh.readline().strip()) == ("0.1.0", "2026-11-23")


def test_probe_out_reads_back_the_header_it_wrote(tmp_path):
    from hybridperf.commands.probe import _replaced_sheet
    from hybridperf.errors import InputError
    from hybridperf.measure.probe import sheet_header

    sheet = tmp_path / "box.yaml"
    sheet.write_text(sheet_header("9.9.9", "2026-12-04") + "id: box\n")
    assert _replaced_sheet(sheet) == "probed 2026-12-04 by hybridperf 9.9.9"
    sheet.write_text("# Written by `hybridperf probe` (an older header)\n")
    assert _replaced_sheet(sheet) == "probed before"
    sheet.write_text("id: box\n")
    with pytest.raises(InputError, match="was not written by `hybridperf probe`"):
        _replaced_sheet(sheet)
    assert _replaced_sheet(tmp_path / "none.yaml") is None


# --------------------------------------------------------------------------- a record's unknown load average


def _measurement(load: float):
    from hybridperf.measure.onnxruntime import Measurement

    return Measurement(model="m.onnx", device="host", runtime="onnxruntime", runtime_version="1.32.0", threads=1,
                       cpu_model="AMD EPYC", date_utc="2026-12-04T20:00:00+00:00", hybridperf_version="0.1.0",
                       input_shapes={"x": (2, 3)}, repeats=3, warmup=1, latency_s=2e-3, latency_p10_s=1.5e-3,
                       latency_p90_s=3e-3, latency_mean_s=2.1e-3, latency_std_s=1e-4, load_avg_1m=load)


def test_unknown_load_average_in_records():
    pytest.importorskip("onnxruntime")
    unknown, known = _measurement(-1.0), _measurement(0.25)
    assert unknown.known_load_avg_1m is None and known.known_load_avg_1m == 0.25
    assert unknown.to_record()["load_avg_1m"] is None and known.to_record()["load_avg_1m"] == 0.25
    assert unknown.to_dict()["load_avg_1m"] == -1.0  # what the worker hands back (from_dict reads it)
    assert type(unknown).from_dict(unknown.to_dict()) == unknown


def test_csv_rows_write_an_unknown_load_average_empty():
    """Until 2026-12-04 ``csv_row`` (the calibration rounds' raw rows, ``calibrate --measure``'s rounds.csv) wrote an
    unknown load average as ``-1.0``, a figure, where ``measure --out`` wrote it empty."""
    pytest.importorskip("onnxruntime")
    from hybridperf.measure.onnxruntime import csv_row

    row = csv_row(_measurement(-1.0))
    assert row["load_avg_1m"] is None
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(row))
    w.writeheader()
    w.writerow(row)
    assert next(csv.DictReader(io.StringIO(buf.getvalue())))["load_avg_1m"] == ""
    assert csv_row(_measurement(0.5))["load_avg_1m"] == 0.5


# --------------------------------------------------------------------------- check reads what was decided


def test_energy_capped_reads_the_note():
    from hybridperf.estimate.pricing import CAPPED, energy_capped

    assert energy_capped(f"{CAPPED} 70 W x latency (the energy model implied 74.0 W, above the sheet's maximum)")
    assert not energy_capped("idle power of t4 estimated, not measured: `hybridperf devices show t4`")
    assert not energy_capped("") and not energy_capped(None)


@pytest.fixture(scope="module")
def capped_pred(tmp_path_factory):
    """x[1024, 1024] @ W[1024, 1024] on t4: 20 mJ over 265 us is 74 W, capped at t4's 70 W (test_check_audit_dec4c)."""
    from test_check_audit_dec4c import _matmul

    from hybridperf.api import analyze, predict_on

    return predict_on(analyze(_matmul(tmp_path_factory.mktemp("tidy") / "mm.onnx")), "t4", residual=None)


def test_check_energy_note_is_the_capped_prediction_note(capped_pred):
    from hybridperf.estimate.pricing import energy_capped

    assert energy_capped(capped_pred.energy_note)
    (energy,) = [c for c in compare(capped_pred, Budget(max_energy_j=1.0), "m", "t4") if c.metric is Metric.ENERGY]
    assert energy.note == capped_pred.energy_note
    uncapped = dataclasses.replace(capped_pred, energy_note="idle power of t4 estimated, not measured")
    (energy,) = [c for c in compare(uncapped, Budget(max_energy_j=1.0), "m", "t4") if c.metric is Metric.ENERGY]
    assert energy.note == ""  # an estimated power alone is `estimated`'s


def test_check_memory_estimate_comes_from_compare(capped_pred):
    """The report shows the estimate ``compare`` recorded (``peak ≈ X``), without pricing the peak's kind again."""
    from hybridperf.estimate.budget import CheckResult
    from hybridperf.estimate.runtime_memory import with_runtime
    from hybridperf.report.check import to_dict, to_table

    pred = with_runtime(capped_pred, "auto")  # torch's peak on t4
    rt = dataclasses.replace(pred.runtime_memory, unsized_ops=("NonZero",))
    guessed = dataclasses.replace(pred, runtime_memory=rt)
    checks = compare(guessed, Budget(max_memory_bytes=2.0**40), "m", "t4")
    (mem,) = [c for c in checks if c.metric is Metric.MEMORY]
    assert mem.value is None and mem.undecided and mem.estimate == float(guessed.peak_memory_bytes)
    result = CheckResult(checks)  # no predictions: the report needs none
    row = next(line for line in to_table(result).splitlines() if line.split()[2:3] == ["memory"])
    assert "≈ " in row and row.endswith("UNDECIDED (estimate)")
    assert next(c for c in to_dict(result)["checks"] if c["metric"] == "memory")["estimate"] == mem.estimate
    (exact,) = [c for c in compare(pred, Budget(max_memory_bytes=2.0**40), "m", "t4") if c.metric is Metric.MEMORY]
    assert exact.estimate is None
    assert MetricCheck("m", "d", Metric.MEMORY, None, 1.0).estimate is None


# --------------------------------------------------------------------------- --headroom's words, built directly


@pytest.mark.parametrize("given, limit_says, headroom_says", [
    ("inf", "is not a finite number; leave the limit out to set none, or write a positive number",
     "is not a finite number; write 0 (none), or a positive number"),
    ("1e30B", "(2^60 B, 1024 PiB); leave the limit out to set none",
     "(2^60 B, 1024 PiB); write a smaller figure, or 0 for none"),
    ("500", "a limit needs a unit; write a positive number", "a limit needs a unit; write 0 (none), or a positive"),
    ("-5MiB", "must be positive; write a positive number", "must be positive; write 0 (none), or a positive number"),
])
def test_headroom_words_from_parse_limit(given, limit_says, headroom_says):
    from hybridperf.estimate.budget import BudgetError

    with pytest.raises(BudgetError) as limit:
        parse_limit(given, Metric.MEMORY, "--max-memory", False)
    with pytest.raises(BudgetError) as headroom:
        parse_limit(given, Metric.MEMORY, "--headroom", False, zero_is_none=True)
    assert limit_says in str(limit.value) and headroom_says in str(headroom.value)
    assert "leave the limit out" not in str(headroom.value)


def test_headroom_parses_as_before():
    from hybridperf.commands.mig import parse_headroom
    from hybridperf.estimate.budget import BudgetError

    assert parse_headroom("0") == 0 and parse_headroom("0 MiB") == 0
    assert parse_headroom("1.5KiB") == 1536  # 1.5 * 1024
    with pytest.raises(BudgetError, match=r"--headroom 'inf': is not a finite number; write 0 \(none\)"):
        parse_headroom("inf")


def test_no_second_copy_of_the_rules():
    """The rules live once: no suffix test of its own in budget/check, no header regex in the probe command."""
    root = Path(__file__).parent.parent / "hybridperf"
    for f in ("estimate/budget.py", "commands/check.py"):
        assert '.endswith((".yaml", ".yml"))' not in (root / f).read_text()
    assert "Written by `hybridperf probe`" not in (root / "commands" / "probe.py").read_text()
    assert "def headroom_hint" not in (root / "commands" / "mig.py").read_text()
