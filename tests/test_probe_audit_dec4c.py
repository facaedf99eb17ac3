"""``hybridperf probe`` audited as a first-time user on an unknown machine (2026-12-04): the probe lock of ``--out``,
an existing ``--out`` file, ``--name``, a stored model the new sheet outdates, and the summary's unknown figures.

The probe itself is faked (``test_probe._fake_cpu_result``): nothing here times this machine.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace

import pytest
import yaml
from test_concurrency_audit import HOLDER
from test_probe import _fake_cpu_result

from hybridperf.cli import ExitCode, main
from hybridperf.device.spec import load_spec
from hybridperf.measure import probe


@pytest.fixture
def probes(tmp_path, monkeypatch):
    """An empty user data directory and a fake probe recording each call's ``quick`` (the concurrency audit's)."""
    from test_concurrency_audit import faked_probe

    return faked_probe(tmp_path, monkeypatch)


def _holding_probe_lock() -> subprocess.Popen:
    """A child holding the probe lock of ``$HYBRIDPERF_HOME`` (as a ``probe --host`` or a first ``predict -d host``
    does while it probes) until a line arrives on its stdin."""
    p = subprocess.Popen([sys.executable, "-c", HOLDER, "-", "probe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline() == "held\n"
    return p


def _let_go(p: subprocess.Popen) -> None:
    p.stdin.write("go\n")
    p.stdin.flush()


# --------------------------------------------------------------------------- one probe at a time


def test_probe_out_waits_for_another_probe_of_this_machine(probes, tmp_path, monkeypatch, capsys):
    # until 2026-12-04 `probe --out` took no lock: beside a `probe --host` both probed at once, each reading 13-15 % of
    # the CPU time of its 2 threads (BUSY figures in both sheets)
    from hybridperf.commands import probe as command

    other = _holding_probe_lock()
    told = []

    def waiting(pid):
        told.append((pid, list(probes)))  # what had been probed when this one started waiting
        _let_go(other)

    monkeypatch.setattr(command, "_waiting", waiting)
    try:
        assert main(["probe", "--out", str(tmp_path / "box.yaml"), "--quick"]) == ExitCode.OK
    finally:
        other.wait()
    assert told == [(other.pid, [])] and probes == [True]  # it waited, then probed once


def test_probe_out_gives_up_on_a_probe_that_holds_the_lock_too_long(probes, tmp_path, monkeypatch, capsys):
    from hybridperf.measure import host

    monkeypatch.setattr(host, "PROBE_LOCK_TIMEOUT_S", 0.0)
    other = _holding_probe_lock()
    try:
        code = main(["probe", "--out", str(tmp_path / "box.yaml")])
    finally:
        _let_go(other)
        other.wait()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == ExitCode.INPUT_ERROR and probes == [] and not (tmp_path / "box.yaml").exists()
    assert err[-1].startswith(f"hybridperf: error: process {other.pid} has been probing this machine for more than 0 s")


def test_probe_out_runs_where_the_data_home_cannot_hold_the_lock(probes, tmp_path, monkeypatch, capsys):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "a-file" / "home"))  # --out does not need the data home
    assert main(["probe", "--out", str(tmp_path / "box.yaml"), "--quick"]) == ExitCode.OK
    assert probes == [True] and load_spec(tmp_path / "box.yaml").id == "box"


# --------------------------------------------------------------------------- an existing --out file


@pytest.mark.parametrize("text", ["foo: 1\n", "schema_version: 1\nid: box\n", ""])
def test_probe_out_refuses_to_replace_a_file_it_did_not_write(probes, tmp_path, capsys, text):
    # until 2026-12-04 a hand-written sheet or a config at --out was replaced without a word after the probe's seconds
    out = tmp_path / "box.yaml"
    out.write_text(text)
    assert main(["probe", "--out", str(out)]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert err == (f"hybridperf: error: --out {out} exists and was not written by `hybridperf probe`; choose another "
                   "name, or remove it first\n")
    assert probes == [] and out.read_text() == text


def test_probe_out_replaces_a_sheet_it_wrote_and_says_so(probes, tmp_path, capsys):
    out = tmp_path / "box.yaml"
    assert main(["probe", "--out", str(out)]) == ExitCode.OK
    assert capsys.readouterr().out.endswith(f"\nwrote {out}\n")  # nothing was there
    assert main(["probe", "--out", str(out)]) == ExitCode.OK
    assert capsys.readouterr().out.endswith(f"\nwrote {out} (replacing the sheet probed 2025-01-01 by hybridperf "
                                            "0.1.0)\n")
    assert main(["probe", "--out", str(out), "--format", "json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["replaced"] == "probed 2025-01-01 by hybridperf 0.1.0"
    assert probes == [False, False, False]


def test_probe_out_says_a_calibrated_model_predates_the_new_sheet(probes, tmp_path, capsys):
    # until 2026-12-04 only --host said so; a model stored for a --out sheet's id went on unmentioned
    from hybridperf.residual.model import user_model_dir

    (user_model_dir() / "box").mkdir(parents=True)
    out = tmp_path / "box.yaml"
    assert main(["probe", "--out", str(out)]) == ExitCode.OK
    err = capsys.readouterr().err
    assert err == (f"hybridperf: note: the model calibrated for box ({user_model_dir() / 'box'}) was adapted with the "
                   f"sheet of that id before; rerun `hybridperf calibrate --device {out} --measure ...` to adapt it to "
                   "this one\n")


# --------------------------------------------------------------------------- --name


@pytest.mark.parametrize("name, why", [("", "--name is empty"), ("  ", "--name is empty"),
                                       ("my\nbox", "holds control characters"), ("a\tb", "holds control characters")])
def test_probe_refuses_an_empty_or_multi_line_name_before_probing(probes, tmp_path, capsys, name, why):
    # until 2026-12-04 `--name ''` was taken for no --name, and a line break split the summary's head line
    assert main(["probe", "--out", str(tmp_path / "box.yaml"), "--name", name]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert why in err and err.count("\n") == 1 and probes == [] and not (tmp_path / "box.yaml").exists()


def test_probe_name_is_written_as_given(probes, tmp_path, capsys):
    assert main(["probe", "--out", str(tmp_path / "box.yaml"), "--name", "Lab box 3"]) == ExitCode.OK
    assert load_spec(tmp_path / "box.yaml").name == "Lab box 3"
    assert capsys.readouterr().out.startswith("box: Lab box 3\n")


# --------------------------------------------------------------------------- the summary's unknown figures


def test_summary_never_prints_a_negative_dispatch_figure(tmp_path):
    # until 2026-12-04 a per-node slope <= 0 (noise on a busy machine) was printed as it was ("-50 ns"), while the
    # sheet took the per-call figure
    from hybridperf.report.probe import to_table

    result = replace(_fake_cpu_result(), dispatch=probe.DispatchOverhead(per_call_s=4e-6, per_node_s=-5e-8, nodes=64,
                                                                        runs=100))
    spec = load_spec(probe.write_spec(result, tmp_path / "box.yaml").path)
    text = to_table(result, spec, tmp_path / "box.yaml")
    assert re.search(r"\ndispatch per node +unknown +onnxruntime, 1 vs 64 Add nodes: no positive slope", text)
    # the report's lines, not the sheet path (pytest's tmp_path holds numbers such as "pytest-508": flaky until fixed)
    figures = text.replace(str(tmp_path), "")
    assert "-50" not in figures and "-5e" not in figures
    assert spec.launch_overhead_s == pytest.approx(4 * 10**-6)  # the per-call figure


def test_summary_says_the_contention_is_unknown_where_it_was_not_counted(tmp_path):
    # until 2026-12-04 a CPU probe without getrusage printed no row: nothing said the busy check had not run
    from hybridperf.report.probe import to_table

    result = _fake_cpu_result()
    assert result.contention is None
    text = to_table(result, load_spec(probe.write_spec(result, tmp_path / "box.yaml").path), tmp_path / "box.yaml")
    assert re.search(r"\npreemptions +unknown +not counted", text)


# --------------------------------------------------------------------------- what the sheet records


def test_a_probed_sheet_says_when_on_which_cpu_and_with_how_many_threads(tmp_path):
    host = replace(_fake_cpu_result().host, cpu_vendor="AuthenticAMD", cpu_family=26, cpu_model_id=2, cpu_stepping=1)
    result = replace(_fake_cpu_result(), host=host)
    path = tmp_path / "box.yaml"
    spec = load_spec(probe.write_spec(result, path).path)
    raw = yaml.safe_load(path.read_text())
    assert raw["cpu_identity"] == {"vendor": "AuthenticAMD", "family": 26, "model": 2, "stepping": 1,
                                   "source": "read by hybridperf probe 0.1.0 on 2025-01-01: /proc/cpuinfo vendor_id, "
                                             "cpu family, model, stepping"}
    assert raw["notes"].startswith("Probed 2025-01-01 by hybridperf 0.1.0 (--quick). CPU: Toy CPU; 4 usable of 4 "
                                   "logical CPUs;")
    assert raw["compute_units"]["count"]["value"] == 4  # the threads the peaks were measured with

    def figures(node, key=""):
        if isinstance(node, dict) and "value" in node and "unit" in node:
            yield key, node
        elif isinstance(node, dict):
            for k, v in node.items():
                yield from figures(v, f"{key}.{k}" if key else k)

    seen = dict(figures({k: v for k, v in raw.items() if k not in ("cpu_identity", "notes")}))
    assert len(seen) >= 15
    for key, q in seen.items():
        assert q["value"] > 0, key
        assert q["source"].startswith(("measured by hybridperf probe 0.1.0 on 2025-01-01", "read by hybridperf probe",
                                       "estimate", "derived")), key
        assert q.get("measured", False) == (key in spec.measured), key
