"""Follow-ups of the ``probe`` audit (2026-12-04): a probed sheet as the other commands see it.

``devices show`` gives a CPU sheet's ``cpu_identity``; a sheet ``probe --out`` wrote while the machine was busy warns
whoever prices on it, as ``host``'s cached sheet does; the probe's summary writes bytes in the sheet's binary units;
``probe --out`` refuses the package's own sheets folder. The probe itself is faked (``test_probe._fake_cpu_result``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from test_probe import _fake_cpu_result

from hybridperf.cli import ExitCode, main
from hybridperf.device.spec import default_spec_dir, load_spec
from hybridperf.measure import probe
from hybridperf.measure.contention import contention_between

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "squeezenet1_1.onnx"
#: 250 preemptions in 2 s, 1 CPU second of 2: judged busy (as test_host's first-use test)
BUSY = contention_between((0.0, 0.0, 0), (2.0, 1.0, 250), threads=1)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty user data directory; a probe that must not run (a test that reaches it failed)."""
    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))

    def no_probe(quick=False, progress=None, use_gpu=None):
        raise AssertionError("the probe ran")

    monkeypatch.setattr(probe, "probe", no_probe)


def _identified(stepping: int | None = 1) -> probe.ProbeResult:
    r = _fake_cpu_result()
    return replace(r, host=replace(r.host, cpu_vendor="AuthenticAMD", cpu_family=26, cpu_model_id=2,
                                   cpu_stepping=stepping))


# --------------------------------------------------------------------------- devices show: cpu_identity


def test_devices_show_gives_a_packaged_sheets_cpu_identity(home, capsys):
    # until 2026-12-04 neither the table nor the JSON had it, nor its source
    assert main(["devices", "show", "host-epyc-zen5-1c", "--format", "json"]) == 0
    ident = json.loads(capsys.readouterr().out)["cpu_identity"]
    spec = load_spec("host-epyc-zen5-1c")
    assert ident == {"vendor": "AuthenticAMD", "family": 26, "model": 2, "stepping": 1,
                     "source": spec.cpu_identity.source}
    assert main(["devices", "show", "host-epyc-zen5-1c"]) == 0
    row = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("cpu_identity")]
    assert len(row) == 1 and "AuthenticAMD family 26 model 2 stepping 1" in row[0]
    assert spec.cpu_identity.source[:40] in row[0]


def test_devices_show_says_unknown_for_a_cpu_sheet_without_identity(home, capsys):
    # host-xeon-2c gives none: `unknown` and null (until 2026-12-04 nothing, as if the sheet had no such key to give)
    assert main(["devices", "show", "host-xeon-2c", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["cpu_identity"] is None
    assert main(["devices", "show", "host-xeon-2c"]) == 0
    row = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("cpu_identity")]
    assert len(row) == 1 and row[0].split()[1] == "unknown"
    # a GPU sheet has none to give: null, no row
    assert main(["devices", "show", "t4", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["cpu_identity"] is None
    assert main(["devices", "show", "t4"]) == 0
    assert "cpu_identity" not in capsys.readouterr().out


def test_devices_show_gives_a_probed_sheets_identity_with_unknown_stepping(home, tmp_path, capsys):
    # `devices show my.yaml` on a sheet `probe --out` wrote: until 2026-12-04 its cpu_identity was not shown
    sheet = tmp_path / "my.yaml"
    probe.write_spec(_identified(stepping=None), sheet)
    assert main(["devices", "show", str(sheet), "--format", "json"]) == 0
    ident = json.loads(capsys.readouterr().out)["cpu_identity"]
    assert (ident["vendor"], ident["family"], ident["model"], ident["stepping"]) == ("AuthenticAMD", 26, 2, None)
    assert ident["source"].startswith("read by hybridperf probe 0.1.0 on 2025-01-01")
    assert main(["devices", "show", str(sheet)]) == 0
    row = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("cpu_identity")]
    assert len(row) == 1 and "AuthenticAMD family 26 model 2 stepping unknown" in row[0]


# --------------------------------------------------------------------------- a busy probed sheet warns


def test_notes_record_the_busy_warning_and_give_it_back():
    raw = probe.spec_dict(replace(_fake_cpu_result(), contention=BUSY), "box")
    assert probe.notes_probe_warning(raw["notes"]) == BUSY.describe()
    assert probe.notes_probe_warning(probe.spec_dict(_fake_cpu_result(), "box")["notes"]) is None
    assert probe.notes_probe_warning("Hand-written. Warning: not a probe's.") is None  # notes no probe wrote


def test_predict_on_a_busy_probed_sheet_warns_as_host_does(home, tmp_path, capsys):
    # until 2026-12-04 only `-d host` warned: `predict -d my.yaml` priced on a busy probe's low figures without a word
    sheet = tmp_path / "my.yaml"
    probe.write_spec(replace(_fake_cpu_result(), contention=BUSY), sheet)
    assert main(["predict", str(EXAMPLE), "-d", str(sheet), "--top", "0"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [f"hybridperf: warning: device my: its sheet {sheet} is from a busy probe: {BUSY.describe()}; "
                   f"rerun `hybridperf probe --out {sheet}` when the machine is idle"]
    # devices show: the notes say it, no warning (as for host)
    assert main(["devices", "show", str(sheet)]) == 0
    assert capsys.readouterr().err == ""


def test_commands_share_the_busy_warning(home, tmp_path, capsys):
    # resolve_device, the one place predict, report, annotate, predict-many and check's host go through
    from hybridperf.commands._common import resolve_device

    busy, quiet = tmp_path / "busy.yaml", tmp_path / "quiet.yaml"
    probe.write_spec(replace(_fake_cpu_result(), contention=BUSY), busy)
    probe.write_spec(_fake_cpu_result(), quiet)
    assert resolve_device(str(busy)) == str(busy)
    assert capsys.readouterr().err.count("is from a busy probe") == 1
    assert resolve_device(str(busy), warn_busy=False) == str(busy) and capsys.readouterr().err == ""
    assert resolve_device(str(quiet)) == str(quiet) and capsys.readouterr().err == ""
    assert resolve_device("host-epyc-zen5-1c") == "host-epyc-zen5-1c" and capsys.readouterr().err == ""


def test_check_on_a_busy_probed_sheet_warns_once(home, tmp_path, capsys):
    # until 2026-12-04 (evening) check loaded a sheet file itself, past resolve_device: no warning
    sheet = tmp_path / "my.yaml"
    probe.write_spec(replace(_fake_cpu_result(), contention=BUSY), sheet)
    assert main(["check", str(EXAMPLE), "-d", str(sheet), "--max-latency", "1000s"]) == 0
    err = capsys.readouterr().err
    assert err.count(f"hybridperf: warning: device my: its sheet {sheet} is from a busy probe: ") == 1


def test_mig_goes_through_resolve_device(home, monkeypatch):
    # until 2026-12-04 (evening) mig loaded its sheet past resolve_device (no busy-probe warning)
    import hybridperf.commands._common as common

    seen = []
    monkeypatch.setattr(common, "resolve_device", lambda d, warn_busy=True: seen.append(d) or d)
    assert main(["mig", str(EXAMPLE), "-d", "a100-sxm-80gb"]) == 0
    assert seen == ["a100-sxm-80gb"]


# --------------------------------------------------------------------------- the summary's bytes


def test_probe_summary_writes_bytes_in_binary_units(tmp_path):
    # until 2026-12-04 SI: a 32 KiB L1 read "32.8 kB" and 256 MiB arrays "268 MB", while the sheet says KiB / MiB
    from hybridperf.report.probe import to_table

    r = _fake_cpu_result()
    spec = probe.write_spec(r, tmp_path / "box.yaml")
    text = to_table(r, spec, tmp_path / "box.yaml")
    assert "32.00 KiB" in text  # 32 * 2**10
    assert "256.00 MiB arrays" in text  # 2**28 = 256 * 2**20
    assert "1.00 MiB" in text and "32.00 MiB" in text  # L2 2**20, L3 32 * 2**20
    assert " kB" not in text and " MB " not in text


# --------------------------------------------------------------------------- --out in the package's sheets


@pytest.mark.parametrize("where", ["file", "folder", "link"])
def test_probe_out_refuses_the_packaged_sheets_folder(home, tmp_path, capsys, where):
    # until 2026-12-04 the probe wrote there, and `hybridperf devices` listed the probed sheet as a shipped one
    packaged = default_spec_dir()
    before = sorted(p.name for p in packaged.iterdir())
    if where == "link":
        (tmp_path / "specs").symlink_to(packaged, target_is_directory=True)
        out = str(tmp_path / "specs" / "my-box.yaml")
    else:
        out = str(packaged / "my-box.yaml") if where == "file" else str(packaged)
    assert main(["probe", "--out", out, "--quick"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "package's own sheets folder" in err and "--out ./" in err
    assert sorted(p.name for p in packaged.iterdir()) == before
