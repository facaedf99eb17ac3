"""A vendor's own device sheet, edited by hand (audit of 2026-12-03): each mistake gets one line naming the fix,
or a result whose guessed figures are said; a figure no prediction reads is flagged, never silently dropped."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from hybridperf.cli import ExitCode, main
from hybridperf.device.spec import MAX_SHEET_BYTES, default_spec_dir, load_spec
from hybridperf.errors import SpecError

A10 = yaml.safe_load((default_spec_dir() / "a10.yaml").read_text(encoding="utf-8"))


def sheet(tmp_path: Path, edit=None, name: str = "myboard", text: str | None = None, base: dict = A10) -> Path:
    """The shipped A10 sheet (or ``base``) as the vendor's ``myboard.yaml`` (``id: myboard``), edited by
    ``edit(raw)``."""
    raw = copy.deepcopy(base)
    raw["id"] = name
    if edit is not None:
        edit(raw)
    p = tmp_path / f"{name}.yaml"
    p.write_text(text if text is not None else yaml.safe_dump(raw, sort_keys=False, allow_unicode=True),
                 encoding="utf-8")
    return p


def error(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg, msg
    return msg[len(f"{path}: "):]


# --------------------------------------------------------------------------- values and units


def test_exponent_numbers_are_numbers(tmp_path):
    """Before: `value: 3e13` was YAML 1.1 text, "must be a positive number, got '3e13'"."""
    text = sheet(tmp_path).read_text()
    fp32 = "value: 31.2\n    unit: TFLOP/s\n"
    assert text.count(fp32) == 1
    p = sheet(tmp_path, text=text.replace(fp32, "value: 3e13\n    unit: FLOP/s\n"))
    assert load_spec(p).peak_flops_per_s["fp32"] == 3e13
    p = sheet(tmp_path, text=text.replace(fp32, "value: 31.2e+12\n    unit: FLOP/s\n"))
    assert load_spec(p).peak_flops_per_s["fp32"] == 31.2e12
    p = sheet(tmp_path, text=text.replace(fp32, "value: 1e400\n    unit: FLOP/s\n"))
    assert error(p) == "key 'peak_compute.fp32.value' must be a positive number, got inf"


def test_value_written_as_text_names_the_fix(tmp_path):
    def bw(value):
        return lambda r: r["memory"]["dram"]["bandwidth"].update(value=value)

    assert error(sheet(tmp_path, bw("600 GB/s"))) == (
        "key 'memory.dram.bandwidth.value' must be a positive number, got the text '600 GB/s'; write the number in "
        "value and the unit in unit (value: 600, unit: GB/s)")
    assert error(sheet(tmp_path, bw("600"))) == (
        "key 'memory.dram.bandwidth.value' must be a positive number, got the text '600'; write the number without "
        "quotes")


@pytest.mark.parametrize("unit, hint", [
    ("GBps", "did you mean 'GB/s'?"),
    ("gb/s", "did you mean 'GB/s'? a lowercase b is a bit, 1/8 of a byte"),
])
def test_misspelt_bandwidth_unit_gets_a_hint(tmp_path, unit, hint):
    p = sheet(tmp_path, lambda r: r["memory"]["dram"]["bandwidth"].update(unit=unit))
    assert error(p) == (f"key 'memory.dram.bandwidth.unit' unknown unit {unit!r} ({hint}); use one of B/s, MB/s, GB/s, "
                        "TB/s, MiB/s, GiB/s")


@pytest.mark.parametrize("unit", ["TFLOPS", "TFLOPs", "tflop/s"])
def test_misspelt_peak_unit_gets_a_hint(tmp_path, unit):
    p = sheet(tmp_path, lambda r: r["peak_compute"]["fp32"].update(unit=unit))
    assert f"unknown unit {unit!r} (did you mean 'TFLOP/s'?)" in error(p)


def test_cache_units(tmp_path):
    """`6144 KiB` of L2 is 6144 x 2^10 B; `kB` and `Mb` are refused with the spelling that fits."""
    p = sheet(tmp_path, lambda r: r["memory"]["l2"]["capacity"].update(value=6144, unit="KiB"))
    assert load_spec(p).memory["l2"].capacity_bytes == 6144 * 2**10
    p = sheet(tmp_path, lambda r: r["memory"]["l2"]["capacity"].update(value=6144, unit="kB"))
    assert "unknown unit 'kB' (did you mean 'KB'?)" in error(p)
    p = sheet(tmp_path, lambda r: r["memory"]["l2"]["capacity"].update(unit="Mb"))
    assert "unknown unit 'Mb' (did you mean 'MB'? a lowercase b is a bit" in error(p)


@pytest.mark.parametrize("name, guess", [("FP16", "fp16"), ("bfloat16", "bf16"), ("float32", "fp32")])
def test_misspelt_precision_gets_a_hint(tmp_path, name, guess):
    p = sheet(tmp_path, lambda r: r["peak_compute"].update({name: r["peak_compute"].pop(guess)}))
    assert error(p) == (f"key 'peak_compute.{name}' unknown precision (did you mean {guess!r}?); use one of fp64, fp32, "
                        "tf32, fp16, bf16, fp8, int8, int4")


def test_memory_level_alias_gets_a_hint(tmp_path):
    p = sheet(tmp_path, lambda r: r["memory"].update(hbm=r["memory"].pop("l2")))
    assert "key 'memory.hbm' unknown memory level (did you mean 'dram'?)" in error(p)


@pytest.mark.parametrize("source", ["...", "TODO", "todo: find the datasheet", "TBD", "?", "n/a"])
def test_placeholder_source_is_refused(tmp_path, source):
    """Before: the README template's `source: "..."` passed as a source."""
    p = sheet(tmp_path, lambda r: r["memory"]["dram"]["bandwidth"].update(source=source))
    assert error(p).startswith(f"key 'memory.dram.bandwidth.source' is the placeholder {source!r}; name where")


# --------------------------------------------------------------------------- sections


def test_missing_energy_names_the_derivation(tmp_path):
    msg = error(sheet(tmp_path, lambda r: r.pop("energy")))
    assert msg.startswith("key 'energy' is required but missing; give energy.per_mac (pJ per MAC")
    assert "(max power - idle power) / (peak / 2)" in msg


def test_energy_per_mac_without_a_peak_is_flagged_unused(tmp_path):
    """Before: an fp8 pJ/MAC on a sheet without an fp8 peak was shown as any other; energy follows the peak's
    precision (fp8 falls back to the int8 peak and its 1.04 pJ), so nothing reads it."""
    p = sheet(tmp_path, lambda r: r["energy"]["per_mac"].update(fp8={"value": 0.5, "unit": "pJ", "source": "x"}))
    spec = load_spec(p)
    assert "energy.per_mac.fp8" in spec.unused_figures and "energy.per_mac.int8" not in spec.unused_figures
    assert spec.resolve_precision("fp8") == "int8" and spec.energy_pj_per_mac["int8"] == 1.04


def test_energy_per_byte_needs_its_memory_level(tmp_path):
    p = sheet(tmp_path, lambda r: r["energy"]["per_byte"].update(sram={"value": 5, "unit": "pJ", "source": "x"}))
    assert error(p) == ("key 'energy.per_byte.sram' has no memory.sram; add that level under memory or remove this "
                        "entry")


def test_sparsity_is_a_closed_set(tmp_path):
    """Before: `structured_24` (or any name) loaded and was shown as a sparsity."""
    p = sheet(tmp_path, lambda r: r["sparsity"].update(structured_24=r["sparsity"].pop("structured_2_4")))
    assert error(p).startswith("key 'sparsity.structured_24' unknown sparsity (did you mean 'structured_2_4'?)")
    p = sheet(tmp_path, lambda r: r["sparsity"]["structured_2_4"].update(speedup=0.5))
    assert error(p).startswith("key 'sparsity.structured_2_4.speedup' is 0.5, below 1")


def test_kind_in_capitals_gets_a_hint(tmp_path):
    assert error(sheet(tmp_path, lambda r: r.update(kind="GPU"))) == (
        "key 'kind' is 'GPU' (did you mean 'gpu'?); use one of gpu, cpu, npu")


# --------------------------------------------------------------------------- MIG


def mig(name, cs, ts, gb):
    return {"name": name, "compute_slices": cs, "total_slices": ts, "memory": {"value": gb, "unit": "GB", "source": "x"}}


def test_mig_profile_larger_than_the_dram_is_refused(tmp_path):
    """Before: a 500 GB profile of the 24 GB card loaded, and `mig` said it fits with the whole bandwidth."""
    p = sheet(tmp_path, lambda r: r.update(mig_profiles=[mig("1g.500gb", 1, 7, 500)]))
    assert error(p) == ("key 'mig_profiles[0].memory' 500 GB is more than memory.dram.capacity (24 GB); fix the profile "
                        "or the capacity")
    p = sheet(tmp_path, lambda r: r.update(mig_profiles=[mig("1g.24gb", 1, 7, 24)]))
    assert load_spec(p).mig_profiles[0].memory_bytes == 24e9


def test_mig_profiles_share_one_slice_count(tmp_path):
    p = sheet(tmp_path, lambda r: r.update(mig_profiles=[mig("1g.5gb", 1, 7, 5), mig("2g.10gb", 2, 8, 10)]))
    assert error(p) == ("key 'mig_profiles[1].total_slices' is 8 but mig_profiles[0] has 7; a GPU has one slice "
                        "count: give every profile the same total_slices")


def test_mig_slices_are_integers_not_booleans(tmp_path):
    p = sheet(tmp_path, lambda r: r.update(mig_profiles=[mig("1g.5gb", True, 7, 5)]))
    assert "compute_slices and total_slices must be integers" in error(p)


def test_mig_needs_a_dram_capacity(tmp_path):
    """Before: `mig` gave each profile its compute share of the bandwidth where the capacity was missing."""
    def edit(r):
        r["memory"]["dram"].pop("capacity")
        r["mig_profiles"] = [mig("1g.5gb", 1, 7, 5)]

    assert error(sheet(tmp_path, edit)).startswith("key 'memory.dram.capacity' is required with mig_profiles")


# --------------------------------------------------------------------------- files and ids


def test_yaml_error_says_where(tmp_path):
    """Before: "cannot parse YAML (while scanning for the next token)", no line."""
    text = sheet(tmp_path).read_text()
    lines = text.splitlines(keepends=True)
    i = lines.index("memory:\n") + 1
    lines[i] = "\t" + lines[i].lstrip()
    p = sheet(tmp_path, text="".join(lines))
    assert error(p) == (f"cannot parse YAML (found character '\\t' that cannot start any token at line {i + 1}, "
                        "column 1); fix the file syntax")


def test_huge_file_is_refused_before_parsing(tmp_path):
    """Before: a 200 MB file was parsed for minutes before its first error."""
    p = tmp_path / "myboard.yaml"
    with p.open("w") as f:
        f.truncate(MAX_SHEET_BYTES + 1)
    assert error(p) == ("1 MiB is not a spec sheet (a sheet is a few KiB of YAML, at most 1 MiB); pass the device's "
                        "ID.yaml")


def test_unreadable_file_names_the_read_error(tmp_path, monkeypatch):
    """Before: "cannot parse YAML ([Errno 13] Permission denied ...); fix the file syntax"."""
    p = sheet(tmp_path)

    def denied(self, *a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", denied)
    assert error(p) == "cannot read the file (Permission denied); check its path and permissions"


def test_shipped_id_with_other_figures_is_refused(tmp_path):
    """Before: ./t4.yaml with twice T4's fp32 peak was priced with the real T4's measured dispatch floor."""
    raw = yaml.safe_load((default_spec_dir() / "t4.yaml").read_text())
    raw["peak_compute"]["fp32"]["value"] = 16.2
    p = tmp_path / "t4.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert error(p) == ("key 'id' is 't4', a shipped sheet's id, but its peak_compute differs from that sheet's; give "
                        "your device its own id (and file name), e.g. id: t4-custom in t4-custom.yaml")
    # power, energy, sources and notes edits keep the id (the energy fit writes such a copy)
    raw = yaml.safe_load((default_spec_dir() / "t4.yaml").read_text())
    raw["power"]["idle"]["value"] = 11
    raw["notes"] = "edited"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert load_spec(p).idle_power_w == 11


def test_unicode_name_round_trips(tmp_path, capsys):
    p = sheet(tmp_path, lambda r: r.update(name="Üñí Bördé 加速器"))
    assert main(["devices", "show", str(p), "--format", "json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["name"] == "Üñí Bördé 加速器"


# --------------------------------------------------------------------------- guessed and unused figures


def test_gpu_without_compute_units_is_marked_unverified(tmp_path):
    """Before: the cross-device model ran with 1 SM and 64 lanes assumed and said nothing."""
    from hybridperf.residual.zero_shot import unverified_reason

    p = sheet(tmp_path, lambda r: r.pop("compute_units"))
    assert unverified_reason(load_spec(p)) == (
        "its fp32 peak 31.2 TFLOP/s is outside the training GPUs' 5.5-19.5; its sheet gives no compute_units.count "
        "(1 SM assumed) and no compute_units.fp32_lanes_per_unit (64 lanes assumed)")
    p = sheet(tmp_path, lambda r: r["memory"].pop("l2"))
    assert unverified_reason(load_spec(p)).endswith("; its sheet gives no memory.l2.capacity (0 B assumed)")


def test_unused_figures_are_flagged(tmp_path, capsys):
    """A figure no prediction reads is shown `[not used]` (json: unused_figures), not as if priced."""
    def edit(r):
        r["memory"]["l2"]["bandwidth"] = {"value": 3000, "unit": "GB/s", "source": "x"}
        r["energy"]["per_byte"]["l2"] = {"value": 5, "unit": "pJ", "source": "x"}

    p = sheet(tmp_path, edit)
    assert load_spec(p).unused_figures == ("memory.l2.bandwidth", "energy.per_byte.l2", "sparsity.structured_2_4",
                                           "compute_units.boost_clock")
    assert main(["devices", "show", str(p)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "3 TB/s [not used]" in out and "5 pJ [not used]" in out and "x2 (not in peaks) [not used]" in out
    assert "1.695 GHz [not used]" in out and "24 GB [not used]" not in out
    assert out.rstrip().endswith("[not used]: on the sheet, but no prediction reads it")


def test_fp16_only_sheet_names_the_precision_flag(tmp_path):
    def edit(r):
        for section in (r["peak_compute"], r["energy"]["per_mac"]):
            for prec in list(section):
                if prec != "fp16":
                    del section[prec]

    spec = load_spec(sheet(tmp_path, edit))
    assert spec.peak_flops("fp16") == 125e12
    with pytest.raises(SpecError) as info:
        spec.peak_flops("fp32")
    assert str(info.value) == ("device 'myboard' has no peak for fp32 (it lists fp16); run it at fp16 (--precision "
                               "fp16), quantize the model or pick a device that supports fp32")


def test_every_shipped_sheet_still_loads():
    from hybridperf.device.spec import available_devices

    assert len([load_spec(d) for d in available_devices()]) == len(list(default_spec_dir().glob("*.yaml")))
