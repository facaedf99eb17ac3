"""A CPU sheet's ``cpu_identity`` (vendor, family, model, stepping): the schema, the shipped sheets' identities, the
refusal of ``measure -d`` / ``calibrate --measure`` on a machine of another CPU, and ``probe`` writing it.

Until 2026-12-04 a CPU sheet said its CPU only in free text (its name, comments, probe notes), and ``lscpu`` names
Zen 3, Zen 4 and Zen 5 all "AMD EPYC" under KVM: ``measure -d host-epyc-1c`` (a Zen 3's sheet) on a Zen 5 was
recorded against the Zen 3 sheet without a word. This machine's identity is monkeypatched in every test below
(:func:`hybridperf.measure.onnxruntime.cpu_identity`), so they pass on any CPU.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
from pathlib import Path

import pytest
import yaml

import hybridperf.measure.onnxruntime as ortm
from hybridperf.cli import main
from hybridperf.device.spec import SheetCpu, cpu_words, default_spec_dir, load_spec, parse_spec
from hybridperf.errors import SpecError
from hybridperf.measure import probe
from hybridperf.device.cpuinfo import CpuIdentity
from hybridperf.measure.onnxruntime import Measurement
from hybridperf.residual.cross_host import cpu_label

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "examples" / "resnet_like.onnx"

ZEN3 = CpuIdentity("AMD EPYC", "AuthenticAMD", 25, 1, 0)
ZEN5 = CpuIdentity("AMD EPYC", "AuthenticAMD", 26, 2, 1)
ZEN5_STEPPING_0 = CpuIdentity("AMD EPYC", "AuthenticAMD", 26, 2, 0)

#: the shipped CPU sheets' identities (None: not known, left out)
SHIPPED = {
    "host-epyc-1c": ("AuthenticAMD", 25, 1, None),  # the sheet's name; its calibration rows have the model name only
    "host-epyc-zen4-1c": ("AuthenticAMD", 25, 17, 1),
    "host-epyc-zen4-2c": ("AuthenticAMD", 25, 17, 1),
    "host-epyc-zen5-1c": ("AuthenticAMD", 26, 2, 1),
    "host-xeon-1c": ("GenuineIntel", 6, 167, 8),
    "host-xeon-amx-2c": ("GenuineIntel", 6, 167, 8),
    "host-xeon-2c": None,  # "Sapphire Rapids class": its family and model were never recorded
}


def _this_machine(monkeypatch, ident: CpuIdentity | None) -> None:
    """This machine's /proc/cpuinfo identity, as every reader of it sees it: the probe, and the CPU checks of measure
    and calibrate, which compare :func:`hybridperf.measure.host.host_cpu` (the test session's conftest makes it "",
    unknown, so that no other test depends on the CPU it runs on)."""
    import hybridperf.measure.host as host
    from hybridperf.device import cpuinfo

    ident = ident if ident is not None else CpuIdentity("CPU")
    monkeypatch.setattr(ortm, "cpu_identity", lambda: ident)
    monkeypatch.setattr(cpuinfo, "this_cpu", lambda: ident)  # the probe reads the device layer's reader
    monkeypatch.setattr(host, "host_cpu", lambda identity=None: cpu_label(ident.vendor, ident.family, ident.model,
                                                                          ident.stepping))


def _err_line(capsys) -> str:
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("hybridperf: error: "), (out, err)
    return err


def _raw(device: str) -> dict:
    return yaml.safe_load((default_spec_dir() / f"{device}.yaml").read_text(encoding="utf-8"))


def _record(device: str, **fields) -> Measurement:
    """A measure record of ``MODEL`` on ``device`` (what a patched ``measure`` returns); ``fields`` replace its own."""
    return Measurement.from_dict({
        "model": str(MODEL), "device": device, "runtime": "onnxruntime", "runtime_version": "1.0", "threads": 1,
        "cpu_model": "AMD EPYC", "date_utc": "2026-12-04T00:00:00+00:00", "hybridperf_version": "0",
        "input_shapes": {"x": [1, 3, 32, 32]}, "repeats": 2, "warmup": 0, "latency_s": 2e-3, "latency_p10_s": 1e-3,
        "latency_p90_s": 3e-3, "latency_mean_s": 2e-3, "latency_std_s": 1e-3, "load_avg_1m": 0.0,
        "latency_min_s": 1e-3, **fields})


# --------------------------------------------------------------------------- schema


def test_schema_accepts_an_identity_with_and_without_stepping():
    raw = _raw("host-epyc-zen5-1c")
    spec = parse_spec(raw, "host-epyc-zen5-1c.yaml")
    assert spec.cpu_identity == SheetCpu("AuthenticAMD", 26, 2, 1, raw["cpu_identity"]["source"])
    assert spec.cpu_identity.label == "AuthenticAMD family 26 model 2 stepping 1"
    del raw["cpu_identity"]["stepping"]
    spec = parse_spec(raw, "host-epyc-zen5-1c.yaml")
    assert spec.cpu_identity.stepping is None and spec.cpu_identity.label == "AuthenticAMD family 26 model 2"
    del raw["cpu_identity"]
    assert parse_spec(raw, "host-epyc-zen5-1c.yaml").cpu_identity is None  # optional: unknown stays unknown


def test_the_identity_is_frozen_on_the_spec():
    spec = load_spec("host-epyc-zen5-1c")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.cpu_identity = None
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.cpu_identity.family = 25
    assert copy.deepcopy(spec).cpu_identity == spec.cpu_identity


@pytest.mark.parametrize("edit, key, says", [
    ({"cpu_model": "Zen 5"}, "cpu_identity.cpu_model", "is not a known key"),
    ({"family": "0x1a"}, "cpu_identity.family", "must be a whole number >= 0, got '0x1a' (decimal"),
    ({"model": 2.5}, "cpu_identity.model", "must be a whole number >= 0, got 2.5"),
    ({"stepping": True}, "cpu_identity.stepping", "must be a whole number >= 0, got True"),
    ({"model": -1}, "cpu_identity.model", "must be a whole number >= 0, got -1"),
    ({"vendor": "AMD"}, "cpu_identity.vendor", "is 'AMD'; write the vendor_id of /proc/cpuinfo (AuthenticAMD)"),
    ({"vendor": "Intel"}, "cpu_identity.vendor", "(GenuineIntel)"),
    ({"vendor": ""}, "cpu_identity.vendor", "must be a non-empty string"),
    ({"source": "..."}, "cpu_identity.source", "is the placeholder '...'"),
    ({"source": 7}, "cpu_identity.source", "must name where the identity comes from"),
])
def test_schema_rejects_a_bad_identity_naming_the_key(edit, key, says):
    raw = _raw("host-epyc-zen5-1c")
    raw["cpu_identity"].update(edit)
    with pytest.raises(SpecError) as exc:
        parse_spec(raw, "host-epyc-zen5-1c.yaml")
    assert f"host-epyc-zen5-1c.yaml: key '{key}'" in str(exc.value) and says in str(exc.value)


@pytest.mark.parametrize("missing", ["vendor", "family", "model", "source"])
def test_schema_requires_vendor_family_model_and_source(missing):
    raw = _raw("host-epyc-zen5-1c")
    del raw["cpu_identity"][missing]
    with pytest.raises(SpecError, match=f"key 'cpu_identity.{missing}' is required but missing"):
        parse_spec(raw, "host-epyc-zen5-1c.yaml")


def test_schema_rejects_an_identity_that_is_not_a_mapping_or_on_a_gpu_sheet():
    raw = _raw("host-epyc-zen5-1c")
    raw["cpu_identity"] = "AMD EPYC Zen 5"
    with pytest.raises(SpecError, match="key 'cpu_identity' must be a mapping"):
        parse_spec(raw, "host-epyc-zen5-1c.yaml")
    gpu = _raw("t4")
    gpu["cpu_identity"] = _raw("host-epyc-zen5-1c")["cpu_identity"]
    with pytest.raises(SpecError, match="key 'cpu_identity' is for CPU sheets \\(kind cpu\\), this sheet is kind gpu"):
        parse_spec(gpu, "t4.yaml")


def test_cpu_words():
    assert cpu_words("AuthenticAMD", 26, 2, 1) == "AuthenticAMD family 26 model 2 stepping 1"
    assert cpu_words("GenuineIntel", 6, 167) == "GenuineIntel family 6 model 167"
    assert cpu_words("", None, None, None) == "an unknown CPU"


# --------------------------------------------------------------------------- the shipped sheets


@pytest.mark.parametrize("device", sorted(SHIPPED))
def test_shipped_host_sheets_carry_their_known_identity(device):
    ident = load_spec(device).cpu_identity
    if SHIPPED[device] is None:
        assert ident is None
        return
    assert (ident.vendor, ident.family, ident.model, ident.stepping) == SHIPPED[device]
    assert ident.source.strip()


def test_every_shipped_host_sheet_is_in_the_table():
    hosts = {p.stem for p in default_spec_dir().glob("host-*.yaml")}
    assert hosts == set(SHIPPED)


@pytest.mark.parametrize("device", [d for d, i in SHIPPED.items() if i is not None and i[3] is not None])
def test_shipped_identities_are_those_the_calibration_rows_record(device):
    """Each identity with a stepping is what its calibration rows recorded (lscpu on that host), every row alike."""
    with open(REPO / "calibration" / device / "measurements.csv", newline="") as f:
        rows = {(r["cpu_vendor"], int(r["cpu_family"]), int(r["cpu_model_id"]), int(r["cpu_stepping"]))
                for r in csv.DictReader(f)}
    assert rows == {SHIPPED[device]}


# --------------------------------------------------------------------------- measure -d / calibrate --measure


def test_measure_refuses_the_zen3_sheet_on_a_zen5(monkeypatch, capsys, tmp_path):
    """Until 2026-12-04 ``measure -d host-epyc-1c`` on this Zen 5 host (family 26 model 2) timed it and wrote the
    record as the Zen 3 sheet's: both CPUs are "AMD EPYC" to lscpu and the sheet said its CPU only in its name."""
    _this_machine(monkeypatch, ZEN5)
    monkeypatch.setattr(ortm, "measure", lambda *a, **k: pytest.fail("timed"))
    out = tmp_path / "m.csv"
    assert main(["measure", str(MODEL), "--batch", "1", "-d", "host-epyc-1c", "--out", str(out)]) == 2
    assert _err_line(capsys) == (
        "hybridperf: error: --device host-epyc-1c is the sheet of another CPU (AuthenticAMD family 25 model 1; this "
        "machine: AuthenticAMD family 26 model 2 stepping 1), and measure times this machine: run it on that machine, "
        "or leave --device out (this machine: host)\n")
    assert not out.exists()


@pytest.mark.parametrize("here", [ZEN5, ZEN5_STEPPING_0])
def test_measure_takes_the_zen5_sheet_on_a_zen5_of_any_stepping(monkeypatch, capsys, tmp_path, here):
    _this_machine(monkeypatch, here)
    monkeypatch.setattr("hybridperf.measure.host.host_threads", lambda: 2)
    seen = []
    monkeypatch.setattr(ortm, "measure", lambda *a, threads, **k: seen.append(threads) or _record("host-epyc-zen5-1c"))
    out = tmp_path / "m.csv"
    argv = ["measure", str(MODEL), "--batch", "1", "-d", "host-epyc-zen5-1c", "--no-subnormal-scan", "--out", str(out)]
    assert main(argv) == 0
    assert seen == [1] and capsys.readouterr().err == "" and out.exists()


def test_measure_refuses_a_zen5_sheet_on_a_zen3_and_an_intel_sheet_on_amd(monkeypatch, capsys):
    monkeypatch.setattr(ortm, "measure", lambda *a, **k: pytest.fail("timed"))
    _this_machine(monkeypatch, ZEN3)
    assert main(["measure", str(MODEL), "--batch", "1", "-d", "host-epyc-zen5-1c"]) == 2
    assert "(AuthenticAMD family 26 model 2 stepping 1; this machine: AuthenticAMD family 25 model 1 stepping 0)" \
        in _err_line(capsys)
    _this_machine(monkeypatch, ZEN5)
    assert main(["measure", str(MODEL), "--batch", "1", "-d", "host-xeon-1c"]) == 2
    assert "(GenuineIntel family 6 model 167 stepping 8; this machine: AuthenticAMD family 26 model 2 stepping 1)" \
        in _err_line(capsys)


def test_measure_does_not_judge_an_identity_where_this_machines_is_unknown(monkeypatch, capsys):
    """No /proc/cpuinfo family (another OS): unknown, not a mismatch."""
    _this_machine(monkeypatch, None)
    monkeypatch.setattr(ortm, "measure", lambda *a, **k: _record("host-epyc-1c"))
    assert main(["measure", str(MODEL), "--batch", "1", "-d", "host-epyc-1c", "--no-subnormal-scan"]) == 0
    assert capsys.readouterr().err == ""


def test_a_sheet_without_identity_keeps_the_notes_check(monkeypatch, capsys, tmp_path):
    """A probed sheet without cpu_identity (written before 2026-12-04) is still judged by the CPU its notes name."""
    _this_machine(monkeypatch, ZEN5)
    monkeypatch.setattr(ortm, "measure", lambda *a, **k: pytest.fail("timed"))
    host = dataclasses.replace(_toy_result().host, cpu_model="Toy CPU 9000", cpu_vendor="")
    raw = probe.spec_dict(dataclasses.replace(_toy_result(), host=host), "old-box")
    assert "cpu_identity" not in raw
    sheet = tmp_path / "old-box.yaml"
    sheet.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert main(["measure", str(MODEL), "--batch", "1", "-d", str(sheet)]) == 2
    assert _err_line(capsys).startswith(
        f"hybridperf: error: --device {sheet} is the sheet of another CPU (Toy CPU 9000; this machine: ")


def test_an_identity_of_this_cpu_keeps_the_notes_check_too(monkeypatch, capsys, tmp_path):
    """Two SKUs of one family and model (a Xeon Gold 6338 and a Platinum 8380) have one identity but other names: a
    probed sheet naming another model name is refused though its identity is this machine's."""
    import hybridperf.measure.probe as probe_mod

    _this_machine(monkeypatch, ZEN5)
    monkeypatch.setattr(probe_mod, "probed_cpu_model", lambda: "AMD EPYC 9B45")
    monkeypatch.setattr(ortm, "measure", lambda *a, **k: pytest.fail("timed"))
    raw = probe.spec_dict(_toy_result(cpu_model="AMD EPYC 9655"), "other-sku")
    assert raw["cpu_identity"]["family"] == 26
    sheet = tmp_path / "other-sku.yaml"
    sheet.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert main(["measure", str(MODEL), "--batch", "1", "-d", str(sheet)]) == 2
    assert "(AMD EPYC 9655; this machine: AMD EPYC 9B45)" in _err_line(capsys)
    assert main(["calibrate", "-d", str(sheet), "--measure", str(MODEL), str(MODEL)]) == 2
    assert "its sheet was probed on another CPU (AMD EPYC 9655; this machine: AMD EPYC 9B45)" in _err_line(capsys)


def test_a_user_sheet_of_another_cpu_is_refused_by_calibrate(monkeypatch, capsys, tmp_path):
    _this_machine(monkeypatch, ZEN5)
    monkeypatch.setattr("hybridperf.measure.calibrate.measure_rounds", lambda *a, **k: pytest.fail("measured"))
    sheet = tmp_path / "zen3-box.yaml"
    sheet.write_text(yaml.safe_dump(probe.spec_dict(_toy_result(cpu_family=25, cpu_model_id=1), "zen3-box")))
    assert main(["calibrate", "-d", str(sheet), "--measure", str(MODEL), str(MODEL)]) == 2
    assert _err_line(capsys).startswith(
        "hybridperf: error: --device zen3-box is the sheet of another CPU (AuthenticAMD family 25 model 1 stepping 1; "
        "this machine: AuthenticAMD family 26 model 2 stepping 1)")


def test_a_sheet_without_identity_or_probe_notes_behaves_as_before(monkeypatch, capsys):
    """host-xeon-2c says neither: measured as its label on an Intel machine (on an AMD one, refused by its name since
    2026-12-04 evening: tests/test_measure_identity_dec4c.py)."""
    _this_machine(monkeypatch, CpuIdentity("Intel Xeon", "GenuineIntel", 6, 143, 8))
    monkeypatch.setattr("hybridperf.measure.host.host_threads", lambda: 2)
    seen = []
    monkeypatch.setattr(ortm, "measure", lambda *a, threads, **k: seen.append(threads) or _record("host-xeon-2c"))
    assert main(["measure", str(MODEL), "--batch", "1", "-d", "host-xeon-2c", "--no-subnormal-scan"]) == 0
    assert seen == [2] and capsys.readouterr().err == ""


def test_calibrate_measure_refuses_the_zen3_sheet_on_a_zen5_writing_nothing(monkeypatch, capsys, tmp_path):
    """Until 2026-12-04 ``calibrate -d host-epyc-1c --measure`` on a Zen 5 measured and stored a model adapting the
    Zen 3 sheet to the Zen 5's timings (the training host of host-epyc-1c has no recorded CPU, and the notes name
    "AMD EPYC", as this machine's)."""
    home = tmp_path / "home"
    monkeypatch.setenv("HYBRIDPERF_HOME", str(home))
    _this_machine(monkeypatch, ZEN5)
    monkeypatch.setattr("hybridperf.measure.calibrate.measure_rounds", lambda *a, **k: pytest.fail("measured"))
    assert main(["calibrate", "-d", "host-epyc-1c", "--measure", str(MODEL), str(MODEL)]) == 2
    assert _err_line(capsys) == (
        "hybridperf: error: --device host-epyc-1c is the packaged sheet of another CPU (AuthenticAMD family 25 model 1; "
        "this machine: AuthenticAMD family 26 model 2 stepping 1): its model would be adapted to this machine's "
        "timings; calibrate this machine with --device host, or a sheet probed here (`hybridperf probe --out "
        "my-box.yaml`)\n")
    assert not home.exists()


def test_calibrate_checks_pass_the_zen5_sheet_on_a_zen5_of_another_stepping(monkeypatch):
    """With an identity the training host's stepping (1) is not compared: a stepping 0 Zen 5 may calibrate it."""
    from hybridperf.commands.calibrate import _check_named_sheet, _check_probed_here

    _this_machine(monkeypatch, ZEN5_STEPPING_0)
    spec = load_spec("host-epyc-zen5-1c")
    _check_probed_here(spec)
    assert _check_named_sheet(spec, None).startswith("host-epyc-zen5-1c is a packaged sheet")


# --------------------------------------------------------------------------- probe


def _toy_result(**host) -> probe.ProbeResult:
    info = probe.HostInfo(cpu_model="AMD EPYC", logical_cpus=2, usable_cpus=1, memory_bytes=8 * 2**30, governor=None,
                          machine="x86_64", python="3", numpy="2", blas="toyblas", onnxruntime="1",
                          cpu_vendor="AuthenticAMD", cpu_family=26, cpu_model_id=2, cpu_stepping=1)
    return probe.ProbeResult(
        date="2026-12-04", version="0.1.0", quick=True, kind="cpu", host=dataclasses.replace(info, **host),
        caches=(probe.CacheLevel(2, "Unified", 2**20, 1), probe.CacheLevel(3, "Unified", 32 * 2**20, 2)),
        gemm=(probe.GemmRate("fp32", 512, 100e9, 0.1, 3, "numpy"),),
        bandwidth=(probe.Bandwidth("copy", "dram", 2**28, 1, 10e9, 3),),
        dispatch=probe.DispatchOverhead(per_call_s=4e-6, per_node_s=0.5e-6, nodes=64, runs=100),
    )


def test_probe_writes_the_identity_into_the_sheet(tmp_path):
    """Until 2026-12-04 a probed sheet named its CPU only as "CPU: AMD EPYC;" in its notes."""
    spec = probe.write_spec(_toy_result(), tmp_path / "my-box.yaml")
    assert (spec.cpu_identity.vendor, spec.cpu_identity.family, spec.cpu_identity.model,
            spec.cpu_identity.stepping) == ("AuthenticAMD", 26, 2, 1)
    assert spec.cpu_identity.source == ("read by hybridperf probe 0.1.0 on 2026-12-04: /proc/cpuinfo vendor_id, cpu "
                                        "family, model, stepping")


def test_probe_leaves_out_what_cpuinfo_does_not_say():
    no_stepping = parse_spec(probe.spec_dict(_toy_result(cpu_stepping=None), "a"), "a.yaml").cpu_identity
    assert no_stepping.stepping is None and no_stepping.label == "AuthenticAMD family 26 model 2"
    for unknown in ({"cpu_vendor": ""}, {"cpu_family": None}, {"cpu_model_id": None}):  # an ARM board: no vendor_id
        assert "cpu_identity" not in probe.spec_dict(_toy_result(**unknown), "b")


def test_read_host_info_reads_the_identity_from_cpuinfo(monkeypatch):
    _this_machine(monkeypatch, ZEN5)
    info = probe.read_host_info()
    assert (info.cpu_vendor, info.cpu_family, info.cpu_model_id, info.cpu_stepping) == ("AuthenticAMD", 26, 2, 1)
