"""Device spec schema: every shipped sheet loads, every bad input is rejected with file + key."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from hybridperf.errors import InputError, SpecError
from hybridperf.device.spec import (
    PRECISIONS,
    DeviceSpec,
    available_devices,
    default_spec_dir,
    load_spec,
    parse_spec,
)

#: a minimal valid spec; each bad-input test breaks exactly one thing in a copy of it
GOOD = {
    "schema_version": 1,
    "id": "toy",
    "name": "Toy accelerator",
    "kind": "npu",
    "peak_compute": {
        "fp32": {"value": 2, "unit": "TFLOP/s", "source": "test"},
        "int8": {"value": 8, "unit": "TOPS", "source": "test"},
    },
    "memory": {
        "dram": {
            "bandwidth": {"value": 100, "unit": "GB/s", "source": "test"},
            "attainable_bandwidth": {"value": 80, "unit": "GB/s", "source": "test", "measured": True},
            "capacity": {"value": 4, "unit": "GiB", "source": "test"},
        },
        "l2": {"capacity": {"value": 512, "unit": "KiB", "source": "test"}},
    },
    "launch_overhead": {"value": 3, "unit": "us", "source": "test"},
    "power": {"idle": {"value": 500, "unit": "mW", "source": "test"}, "max": {"value": 5, "unit": "W", "source": "test"}},
    "energy": {
        "per_mac": {"fp32": {"value": 1.5, "unit": "pJ", "source": "test"}, "int8": {"value": 200, "unit": "fJ", "source": "test"}},
        "per_byte": {"dram": {"value": 0.02, "unit": "nJ", "source": "test"}},
    },
}


def write(tmp_path: Path, raw, name: str = "toy") -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False) if not isinstance(raw, str) else raw)
    return p


def broken(edit) -> dict:
    raw = copy.deepcopy(GOOD)
    edit(raw)
    return raw


def expect_error(tmp_path: Path, raw, key: str, words: str = "") -> SpecError:
    """Load ``raw`` from ``toy.yaml``; the error must name the file and ``key``."""
    path = write(tmp_path, raw)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    msg = str(info.value)
    assert str(path) in msg, msg
    assert f"'{key}'" in msg, msg
    assert "\n" not in msg
    if words:
        assert re.search(words, msg), msg
    return info.value


# --------------------------------------------------------------------------- shipped specs


@pytest.mark.parametrize("device", available_devices())
def test_every_shipped_spec_loads(device):
    spec = load_spec(device)
    assert isinstance(spec, DeviceSpec)
    assert spec.id == device == Path(spec.path).stem
    assert spec.dram_bandwidth_bytes_per_s > 0
    assert spec.launch_overhead_s > 0 and 0 < spec.idle_power_w <= spec.max_power_w
    # a source for every number: one per peak, memory figure, power, energy entry
    for p in spec.peak_flops_per_s:
        assert spec.sources[f"peak_compute.{p}"].strip()
    for p in spec.energy_pj_per_mac:
        assert spec.sources[f"energy.per_mac.{p}"].strip()
    # running every MAC unit flat out never needs more than the device's max power
    for p, pj in spec.energy_pj_per_mac.items():
        if p in spec.peak_flops_per_s:
            watts = pj * 1e-12 * spec.peak_flops_per_s[p] / 2
            assert watts <= spec.max_power_w * 1.05, (device, p, watts)


def test_at_least_twelve_real_devices_ship():
    real = [d for d in available_devices() if not d.startswith("host-") and not d.endswith("-measured")]
    assert len(real) >= 12, real
    for must in ("a100-sxm-40gb", "a100-sxm-80gb", "h100-sxm", "h100-pcie", "h200-sxm", "jetson-agx-orin-64gb",
                 "jetson-orin-nano-8gb", "raspberry-pi-4b", "snapdragon-855", "ethos-u55", "ethos-u65", "ryzen-9-7950x"):
        assert must in real


def test_shipped_figures_match_the_datasheets():
    a100 = load_spec("a100-sxm-80gb")
    assert a100.peak_flops("fp32") == pytest.approx(19.5 * 10**12)
    assert a100.peak_flops("int8") == pytest.approx(624 * 10**12)
    assert a100.dram_bandwidth_bytes_per_s == pytest.approx(2039 * 10**9)
    assert a100.sparsity_speedup["structured_2_4"] == 2.0
    h100 = load_spec("h100-sxm")
    assert h100.peak_flops("fp16") == pytest.approx(989.4 * 10**12)  # dense; 1979 is the sparse figure
    assert h100.dram_bandwidth_bytes_per_s == pytest.approx(3.35 * 10**12)
    assert load_spec("h200-sxm").dram.capacity_bytes == pytest.approx(141 * 10**9)
    pi = load_spec("raspberry-pi-4b")
    assert pi.peak_flops("fp32") == pytest.approx(4 * 2 * 4 * 2 * 1.5 * 10**9)  # cores x pipes x lanes x FMA x GHz
    assert pi.dram_bandwidth_bytes_per_s == pytest.approx(3200 * 10**6 * 4)  # LPDDR4-3200 x 32-bit
    u55 = load_spec("ethos-u55")
    assert u55.peak_flops("int8") == pytest.approx(256 * 2 * 500 * 10**6)


def test_sparsity_is_never_folded_into_peaks():
    for device in available_devices():
        spec = load_spec(device)
        for p in spec.peak_flops_per_s:
            src = spec.sources[f"peak_compute.{p}"].lower()
            if "sparsity" in src or "sparse" in src:
                assert "/ 2" in src, (device, p, src)  # a sparse sheet figure must be halved


@pytest.mark.parametrize("device", ["a100-sxm-40gb", "a100-sxm-80gb", "h100-sxm", "h100-pcie", "h200-sxm"])
def test_mig_profiles(device):
    spec = load_spec(device)
    names = [m.name for m in spec.mig_profiles]
    assert names[0].startswith("1g.") and names[-1].startswith("7g.")
    full = spec.mig_profiles[-1]
    assert full.compute_fraction == 1.0
    assert full.memory_bytes == pytest.approx(spec.dram.capacity_bytes, rel=0.01)
    assert all(m.memory_bytes <= full.memory_bytes for m in spec.mig_profiles)


def test_h200_mig_names():
    names = [m.name for m in load_spec("h200-sxm").mig_profiles]
    assert names == ["1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"]


@pytest.mark.parametrize("device", ["ethos-u55", "ethos-u65"])
def test_ethos_is_int8_only(device):
    spec = load_spec(device)
    assert set(spec.peak_flops_per_s) == {"int8"}
    with pytest.raises(SpecError, match="no peak for fp32"):
        spec.peak_flops("fp32")


# --------------------------------------------------------------------------- units and fallback


def test_unit_conversion_golden_values(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.peak_flops("fp32") == pytest.approx(2 * 10**12)
    assert spec.peak_flops("int8") == pytest.approx(8 * 10**12)
    assert spec.dram.bandwidth_bytes_per_s == pytest.approx(100 * 10**9)
    assert spec.dram.attainable_bandwidth_bytes_per_s == pytest.approx(80 * 10**9)
    assert spec.dram_bandwidth_bytes_per_s == pytest.approx(80 * 10**9)  # attainable wins over the sheet
    assert spec.dram.capacity_bytes == 4 * 2**30
    assert spec.memory["l2"].capacity_bytes == 512 * 2**10
    assert spec.memory["l2"].bandwidth_bytes_per_s is None
    assert spec.launch_overhead_s == pytest.approx(3 * 10**-6)
    assert spec.idle_power_w == pytest.approx(500 * 10**-3)
    assert spec.energy_pj_per_mac["int8"] == pytest.approx(200 / 1000)  # fJ -> pJ
    assert spec.energy_pj_per_byte["dram"] == pytest.approx(0.02 * 1000)  # nJ -> pJ
    assert spec.measured == frozenset({"memory.dram.attainable_bandwidth"})


def test_a100_golden_values():
    spec = load_spec("a100-sxm-80gb")
    assert spec.peak_flops_per_s["tf32"] == pytest.approx(156 * 10**12)
    assert spec.dram.capacity_bytes == pytest.approx(80 * 10**9)
    assert spec.memory["l2"].capacity_bytes == pytest.approx(40 * 10**6)
    assert spec.launch_overhead_s == pytest.approx(5 * 10**-6)
    # (400 W max - 60 W idle) / (19.5 TFLOP/s / 2) = 34.87 pJ, written 34.9 (400 / 9.75 = 41.0 until 2026-12-03)
    assert spec.energy_per_mac_pj("fp32") == pytest.approx((400 - 60) / (19.5 * 10**12 / 2) * 10**12, rel=0.01)


def test_precision_fallback(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))  # lists fp32 and int8 only
    assert spec.resolve_precision("fp16") == "fp32"
    assert spec.peak_flops("fp16") == spec.peak_flops("fp32")
    assert spec.resolve_precision("bf16") == "fp32"
    assert spec.resolve_precision("fp8") == "int8"
    assert spec.peak_flops("int4") == pytest.approx(8 * 10**12)  # int4 -> int8
    assert spec.resolve_precision("fp64") == "fp32"
    assert spec.resolve_precision("int8") == "int8"
    assert spec.energy_per_mac_pj("fp16") == pytest.approx(1.5)
    assert spec.energy_per_mac_pj("fp64") == pytest.approx(1.5)


def test_fallback_prefers_the_closest_precision():
    t4 = load_spec("t4")  # no bf16 hardware: bf16 runs at the fp16 rate, not fp32
    assert t4.resolve_precision("bf16") == "fp16"
    assert t4.peak_flops("bf16") == pytest.approx(65 * 10**12)


def test_missing_precision_without_fallback_names_the_fix(tmp_path):
    raw = broken(lambda r: r["peak_compute"].pop("fp32"))
    raw["energy"]["per_mac"].pop("fp32")
    spec = load_spec(write(tmp_path, raw))
    with pytest.raises(SpecError, match="quantize the model"):
        spec.peak_flops("fp32")
    assert spec.energy_per_mac_pj("fp32") is None


# --------------------------------------------------------------------------- one test per bad input


def test_rejects_unknown_top_level_key(tmp_path):
    expect_error(tmp_path, broken(lambda r: r.update(peak_computee={})), "peak_computee", "not a known key")


def test_rejects_unknown_key_with_suggestion(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["memory"]["dram"].update(bandwith=r["memory"]["dram"].pop("bandwidth"))),
                 "memory.dram.bandwith", "did you mean 'bandwidth'")


def test_rejects_unknown_quantity_key(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["peak_compute"]["fp32"].update(typo=1)), "peak_compute.fp32.typo")


def test_rejects_unknown_precision(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["peak_compute"].update(fp12=r["peak_compute"]["fp32"])),
                 "peak_compute.fp12", "unknown precision")


def test_rejects_unknown_memory_level(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["memory"].update(l9={})), "memory.l9", "unknown memory level")


def test_rejects_missing_required_top_level_field(tmp_path):
    expect_error(tmp_path, broken(lambda r: r.pop("launch_overhead")), "launch_overhead", "required")


def test_rejects_missing_dram(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["memory"].pop("dram")), "memory.dram", "required")


def test_rejects_missing_dram_bandwidth(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["memory"]["dram"].pop("bandwidth")), "memory.dram.bandwidth", "required")


def test_rejects_missing_source(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["peak_compute"]["int8"].pop("source")), "peak_compute.int8.source")


def test_rejects_empty_source(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["power"]["max"].update(source="  ")), "power.max.source")


def test_rejects_missing_power_entry(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["power"].pop("idle")), "power.idle", "required")


def test_rejects_zero_value(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["peak_compute"]["fp32"].update(value=0)), "peak_compute.fp32.value", "positive")


def test_rejects_negative_value(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["memory"]["dram"]["capacity"].update(value=-4)),
                 "memory.dram.capacity.value", "positive")


def test_rejects_non_numeric_value(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["launch_overhead"].update(value="3us")), "launch_overhead.value", "positive")


def test_rejects_boolean_value(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["launch_overhead"].update(value=True)), "launch_overhead.value", "positive")


def test_rejects_non_positive_sparsity_speedup(tmp_path):
    expect_error(tmp_path, broken(lambda r: r.update(sparsity={"structured_2_4": {"speedup": 0, "source": "x"}})),
                 "sparsity.structured_2_4.speedup", "positive")


def test_rejects_unit_of_the_wrong_category(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["peak_compute"]["fp32"].update(unit="GB/s")),
                 "peak_compute.fp32.unit", "bandwidth unit but this key needs compute")


def test_rejects_capacity_unit_for_bandwidth(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["memory"]["dram"]["bandwidth"].update(unit="GB")),
                 "memory.dram.bandwidth.unit", "capacity unit")


def test_rejects_unknown_unit(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["launch_overhead"].update(unit="microseconds")), "launch_overhead.unit",
                 "unknown unit")


def test_rejects_id_that_differs_from_file_name(tmp_path):
    expect_error(tmp_path, broken(lambda r: r.update(id="other")), "id", "file name must equal the id")


def test_rejects_wrong_schema_version(tmp_path):
    expect_error(tmp_path, broken(lambda r: r.update(schema_version=2)), "schema_version")


def test_rejects_unknown_kind(tmp_path):
    expect_error(tmp_path, broken(lambda r: r.update(kind="fpga")), "kind", "gpu, cpu, npu")


def test_rejects_empty_peak_compute(tmp_path):
    expect_error(tmp_path, broken(lambda r: r.update(peak_compute={})), "peak_compute", "at least one")


def test_rejects_idle_power_above_max(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["power"]["idle"].update(value=50, unit="W")), "power.idle", "larger")


def test_rejects_non_mapping_section(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["energy"].update(per_mac=[1, 2])), "energy.per_mac", "mapping")


def test_rejects_non_boolean_measured(tmp_path):
    expect_error(tmp_path, broken(lambda r: r["peak_compute"]["fp32"].update(measured="yes")),
                 "peak_compute.fp32.measured")


def test_rejects_bad_mig_slices(tmp_path):
    mig = {"name": "1g.1gb", "compute_slices": 8, "total_slices": 7, "memory": {"value": 1, "unit": "GB", "source": "x"}}
    expect_error(tmp_path, broken(lambda r: r.update(mig_profiles=[mig])), "mig_profiles[0]", "compute_slices")


def test_rejects_duplicate_mig_profile(tmp_path):
    mig = {"name": "1g.1gb", "compute_slices": 1, "total_slices": 7, "memory": {"value": 1, "unit": "GB", "source": "x"}}
    expect_error(tmp_path, broken(lambda r: r.update(mig_profiles=[mig, dict(mig)])), "mig_profiles", "twice")


def test_rejects_duplicate_yaml_key(tmp_path):
    text = yaml.safe_dump(GOOD, sort_keys=False) + "kind: gpu\n"
    path = write(tmp_path, text)
    with pytest.raises(SpecError, match=r"duplicate key 'kind'") as info:
        load_spec(path)
    assert str(path) in str(info.value)


def test_rejects_unparsable_yaml(tmp_path):
    path = write(tmp_path, "schema_version: [1\n")
    with pytest.raises(SpecError, match="cannot parse YAML") as info:
        load_spec(path)
    assert str(path) in str(info.value)


def test_rejects_non_mapping_document(tmp_path):
    path = write(tmp_path, "- 1\n- 2\n")
    with pytest.raises(SpecError, match="top level must be a mapping"):
        load_spec(path)


def test_unknown_device_id_suggests_a_close_one():
    with pytest.raises(SpecError, match=r"did you mean 'h100-sxm'"):
        load_spec("h100-sx")


def test_spec_error_is_an_input_error():
    assert issubclass(SpecError, InputError)  # so the CLI maps it to exit code 2


def test_parse_spec_without_a_file_skips_the_name_check():
    spec = parse_spec(copy.deepcopy(GOOD), "<memory>")
    assert spec.id == "toy"
    assert set(spec.peak_flops_per_s) <= set(PRECISIONS)


def test_default_spec_dir_is_the_packaged_hw_specs():
    import hybridperf

    assert default_spec_dir() == Path(hybridperf.__file__).parent / "data" / "hw_specs"
    assert (default_spec_dir() / "README.md").exists()


def test_spec_is_frozen():
    spec = load_spec("a100-sxm-80gb")
    with pytest.raises(AttributeError):
        spec.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.peak_flops_per_s["fp32"] = 1.0  # type: ignore[index]


def test_readme_lists_every_shipped_sheet():
    """The sheet library's README table names every packaged sheet (8 of 31 were missing until 2026-12-03)."""
    text = (default_spec_dir() / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Shipped devices"):].splitlines()[4:]
    listed = set()
    for line in section:
        if not line.startswith("|"):
            break
        listed |= {x.strip() for x in line.split("|")[1].split("/")}
    assert listed == {p.stem for p in default_spec_dir().glob("*.yaml")}
