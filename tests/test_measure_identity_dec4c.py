"""``measure -d SHEET`` judges a CPU sheet's CPU as ``calibrate --measure`` does: by its ``cpu_identity`` where it has
one, else by the vendor or instruction set its name and notes give (:func:`hybridperf.measure.host.cpu_elsewhere`).

Until 2026-12-04 measure applied the identity only: a sheet without one naming an Intel CPU (``host-xeon-2c``) or an
ARM one (``raspberry-pi-4b``), measured on an AMD x86-64 machine, was timed without a word and the record filed
under that device's id, while ``calibrate --measure`` refused the same sheet. This machine is simulated in every test
(its CPU words, :func:`hybridperf.measure.host.host_cpu`, and ``platform.machine``), so they pass on any CPU.
"""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
import yaml

import hybridperf.measure.onnxruntime as ortm
from hybridperf.cli import main
from hybridperf.device.spec import default_spec_dir, load_spec
from hybridperf.measure.onnxruntime import Measurement

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "examples" / "resnet_like.onnx"

ZEN5 = "AuthenticAMD family 26 model 2 stepping 1"
SAPPHIRE_RAPIDS = "GenuineIntel family 6 model 143 stepping 8"
FIX = "and measure times this machine: run it on that machine, or leave --device out (this machine: host)"


def _this_machine(monkeypatch, cpu: str, machine: str = "x86_64") -> None:
    """This machine: its CPU in :func:`~hybridperf.residual.cross_host.cpu_label`'s words (``""``: unknown), and its
    instruction set as ``platform.machine`` names it."""
    import hybridperf.measure.host as host

    monkeypatch.setattr(host, "host_cpu", lambda identity=None: cpu)
    monkeypatch.setattr(platform, "machine", lambda: machine)


def _no_timing(monkeypatch) -> None:
    monkeypatch.setattr(ortm, "measure", lambda *a, **k: pytest.fail("timed"))
    monkeypatch.setattr("hybridperf.measure.calibrate.measure_rounds", lambda *a, **k: pytest.fail("measured"))


def _err_line(capsys) -> str:
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("hybridperf: error: "), (out, err)
    return err


def _record(device: str) -> Measurement:
    from test_cpu_identity_dec4 import _record as record

    return record(device, threads=2, cpu_model="Intel Xeon")


def test_an_intel_sheet_without_identity_is_refused_on_an_amd_machine(monkeypatch, capsys, tmp_path):
    # until 2026-12-04: exit 0, the AMD machine's timing recorded as host-xeon-2c's (calibrate refused it)
    _this_machine(monkeypatch, ZEN5)
    _no_timing(monkeypatch)
    out = tmp_path / "m.json"
    assert load_spec("host-xeon-2c").cpu_identity is None  # judged by the words of its name: "Intel Xeon (...)"
    assert main(["measure", str(MODEL), "--batch", "1", "-d", "host-xeon-2c", "--out", str(out)]) == 2
    assert _err_line(capsys) == (
        "hybridperf: error: --device host-xeon-2c is the sheet of another CPU (GenuineIntel, as its name and notes "
        f"say; this machine: {ZEN5}), {FIX}\n")
    assert not out.exists()


def test_an_arm_sheet_is_refused_on_an_x86_machine_whose_vendor_is_unknown(monkeypatch, capsys):
    # until 2026-12-04: an x86-64 machine's timing recorded as the Raspberry Pi's, without a word
    _this_machine(monkeypatch, "")  # the instruction set is known all the same
    _no_timing(monkeypatch)
    assert main(["measure", str(MODEL), "--batch", "1", "-d", "raspberry-pi-4b"]) == 2
    assert _err_line(capsys) == (
        "hybridperf: error: --device raspberry-pi-4b is the sheet of another CPU (arm, as its name and notes say; "
        f"this machine: x86-64, x86_64), {FIX}\n")


def test_a_user_sheet_without_identity_naming_another_vendor_is_refused(monkeypatch, capsys, tmp_path):
    # until 2026-12-04: measured and recorded as my-xeon (a sheet file, not packaged: no training host to compare)
    _this_machine(monkeypatch, ZEN5)
    _no_timing(monkeypatch)
    raw = yaml.safe_load((default_spec_dir() / "host-xeon-2c.yaml").read_text(encoding="utf-8"))
    raw["id"] = "my-xeon"
    sheet = tmp_path / "my-xeon.yaml"
    sheet.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert main(["measure", str(MODEL), "--batch", "1", "-d", str(sheet)]) == 2
    assert _err_line(capsys) == (
        f"hybridperf: error: --device {sheet} is the sheet of another CPU (GenuineIntel, as its name and notes say; "
        f"this machine: {ZEN5}), {FIX}\n")


def test_on_a_machine_of_the_named_vendor_it_is_measured(monkeypatch, capsys):
    """An Intel x86-64 machine with the sheet's 2 cores free: timed with them, silently."""
    import hybridperf.measure.host as host

    _this_machine(monkeypatch, SAPPHIRE_RAPIDS)
    monkeypatch.setattr(host, "host_threads", lambda: 2)
    seen = []
    monkeypatch.setattr(ortm, "measure", lambda *a, threads, **k: seen.append(threads) or _record("host-xeon-2c"))
    assert main(["measure", str(MODEL), "--batch", "1", "-d", "host-xeon-2c", "--no-subnormal-scan"]) == 0
    assert seen == [2] and capsys.readouterr().err == ""


@pytest.mark.parametrize("device, theirs", [("host-xeon-2c", "GenuineIntel, as its name and notes say"),
                                            ("raspberry-pi-4b", "arm, as its name and notes say")])
def test_measure_and_calibrate_refuse_the_same_sheets_for_the_same_cpu(monkeypatch, capsys, device, theirs):
    """One check (:func:`~hybridperf.measure.host.cpu_elsewhere`): both commands name the same two CPUs."""
    from hybridperf.measure.host import cpu_elsewhere

    _this_machine(monkeypatch, ZEN5)
    _no_timing(monkeypatch)
    here = ZEN5 if device == "host-xeon-2c" else "x86-64, x86_64"
    assert cpu_elsewhere(load_spec(device)) == (theirs, here)
    pair = f"({theirs}; this machine: {here})"
    assert main(["measure", str(MODEL), "--batch", "1", "-d", device]) == 2
    assert pair in _err_line(capsys)
    assert main(["calibrate", "-d", device, "--measure", str(MODEL), str(MODEL)]) == 2
    assert pair in _err_line(capsys)


def test_a_sheet_with_an_identity_is_judged_by_it_not_by_its_words(monkeypatch):
    """host-xeon-1c names Intel and has a cpu_identity: on an Intel machine of another model the identity refuses it
    (family 6 model 167 against 143), on the same CPU its words do not."""
    from hybridperf.measure.host import cpu_elsewhere

    spec = load_spec("host-xeon-1c")
    _this_machine(monkeypatch, SAPPHIRE_RAPIDS)
    assert cpu_elsewhere(spec) == ("GenuineIntel family 6 model 167 stepping 8", SAPPHIRE_RAPIDS)
    _this_machine(monkeypatch, "GenuineIntel family 6 model 167 stepping 8")
    assert cpu_elsewhere(spec) is None
