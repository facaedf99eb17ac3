"""Audit of the shipped device sheets (2026-12-04): every figure traced to its source, derived figures re-derived,
figures that contradict each other refused at load time, and `devices show` giving every number's source."""

from __future__ import annotations

import json
import re

import pytest

from hybridperf.cli import ExitCode, main
from hybridperf.device.spec import available_devices, load_spec
from hybridperf.units import UNITS
from test_sheet_audit import error, sheet

#: ``derived: (MAX W - idle IDLE W) / (PEAK UNIT / 2 ...) = VALUE`` in a per-MAC energy's source
_PER_MAC = re.compile(r"\((?:estimated max power |TDP |TGP )?([0-9.]+) W - idle ([0-9.]+) W\) / \((?:measured )?"
                      r"([0-9.,]+) (\S+) / 2[^)]*\) = ([0-9.]+)")


def test_snapdragon_855_peaks_use_the_product_briefs_a55_clock():
    # until 2026-12-04 the A55 cluster was counted at 1.78 GHz, which neither the cited Qualcomm product brief nor
    # SPECS.md gives (both: 1.80 GHz): fp32 218.6 instead of 219.2 GFLOP/s, int8 874.2 instead of 876.8 GOPS
    spec = load_spec("snapdragon-855")
    a76_ghz = 2.84 + 3 * 2.42  # 1 prime + 3 gold Cortex-A76
    a55_ghz = 4 * 1.80  # 4 silver Cortex-A55
    fp32 = (16 * a76_ghz + 8 * a55_ghz) * 1e9  # 2 FMA pipes x 4 lanes x 2 FLOP; 1 Q-form FMA x 4 lanes x 2 FLOP
    assert spec.peak_flops_per_s["fp32"] == pytest.approx(fp32, rel=1e-12)
    assert spec.peak_flops_per_s["fp64"] == pytest.approx(fp32 / 2, rel=1e-12)
    assert spec.peak_flops_per_s["fp16"] == pytest.approx(fp32 * 2, rel=1e-12)
    assert spec.peak_flops_per_s["int8"] == pytest.approx((64 * a76_ghz + 32 * a55_ghz) * 1e9, rel=1e-12)  # SDOT
    for p, rate in spec.peak_flops_per_s.items():  # (5 W - 0.5 W idle) / (rate / 2), to the 3 figures written
        assert spec.energy_pj_per_mac[p] == pytest.approx((5 - 0.5) / (rate / 2) * 1e12, rel=5e-3)


@pytest.mark.parametrize("dev", available_devices())
def test_every_derived_per_mac_energy_is_its_own_arithmetic(dev):
    # a guard on the audit of 2026-12-04 (all 31 sheets agreed): a per-MAC energy derived as (max - idle) / (peak / 2)
    # names the sheet's own max, idle and peak, and its value is that arithmetic to the figures written
    spec = load_spec(dev)
    for p, pj in spec.energy_pj_per_mac.items():
        m = _PER_MAC.search(spec.sources[f"energy.per_mac.{p}"])
        if m is None:
            continue
        pmax, idle, peak, unit, said = m.groups()
        assert (float(pmax), float(idle)) == (spec.max_power_w, spec.idle_power_w), p
        rate = float(peak.replace(",", "")) * UNITS[unit][1]
        if p in spec.peak_flops_per_s:
            assert rate == pytest.approx(spec.peak_flops_per_s[p], rel=1e-9), p
        assert float(said) == pytest.approx(pj, rel=1e-9), p
        assert pj == pytest.approx((float(pmax) - float(idle)) / (rate / 2) * 1e12, rel=6e-3), p


@pytest.mark.parametrize("dev", available_devices())
def test_every_sheets_units_and_clock_give_its_fp32_peak(dev):
    # a guard: SMs (cores) x fp32 lanes x 2 FLOP x boost clock is the datasheet's fp32 peak within 1 % on every sheet
    # that gives all four and whose peak is a datasheet figure (a probe's measured GEMM rate is below it)
    spec = load_spec(dev)
    if None in (spec.compute_unit_count, spec.fp32_lanes_per_unit, spec.boost_clock_hz) or \
            "peak_compute.fp32" in spec.measured:
        return
    units = spec.compute_unit_count * spec.fp32_lanes_per_unit * 2 * spec.boost_clock_hz
    assert units == pytest.approx(spec.peak_flops_per_s["fp32"], rel=0.01)


def test_jetson_sheets_give_the_sms_and_cache_their_briefs_do():
    # until 2026-12-04 neither Jetson sheet had compute_units (nor the AGX Orin its 4 MB L2), though the technical
    # brief and datasheet give them: the cross-device model priced each as 1 SM of 64 lanes with no cache
    from hybridperf.residual.zero_shot import unverified_reason

    agx = load_spec("jetson-agx-orin-64gb")
    assert (agx.compute_unit_count, agx.fp32_lanes_per_unit) == (16, 128)
    assert agx.memory["l2"].capacity_bytes == 4 * 10**6
    assert 16 * 128 * 2 * agx.boost_clock_hz == pytest.approx(5.3e12, rel=0.01)
    nano = load_spec("jetson-orin-nano-8gb")
    assert (nano.compute_unit_count, nano.fp32_lanes_per_unit, nano.boost_clock_hz) == (8, 128, 1020e6)
    assert nano.peak_flops_per_s["fp32"] == pytest.approx(8 * 128 * 2 * 1020e6, rel=0.01)  # 1024 cores x 2 x 1.02 GHz
    assert "SM assumed" not in unverified_reason(agx) and "SM assumed" not in unverified_reason(nano)
    assert "no memory.l2.capacity (0 B assumed)" in unverified_reason(nano)  # no source gives it: still unknown


def test_devices_show_gives_each_mig_sm_counts_source(capsys, tmp_path):
    # until 2026-12-04 a profile's sm_count was shown as a bare number (JSON and table) and its source was dropped;
    # a profile without one read "1/7 compute", not that its SMs are unknown
    assert main(["devices", "show", "a100-sxm-40gb", "--format", "json"]) == ExitCode.OK
    prof = json.loads(capsys.readouterr().out)["mig_profiles"][0]
    assert prof["sm_count"] == 14 and prof["sm_count_source"].startswith("nvidia-smi mig -lgip on A100-SXM4-40GB")
    # a sheet whose profiles give no SM count (every shipped one has them since 2026-12-04: h100-pcie without them)
    from hybridperf.device.spec import default_spec_dir

    text = (default_spec_dir() / "h100-pcie.yaml").read_text()
    (tmp_path / "h100-pcie.yaml").write_text(re.sub(r", sm_count: \{[^}]*\}", "", text))
    assert main(["devices", "--spec-dir", str(tmp_path), "show", "h100-pcie", "--format", "json"]) == ExitCode.OK
    prof = json.loads(capsys.readouterr().out)["mig_profiles"][0]
    assert prof["sm_count"] is None and prof["sm_count_source"] is None  # unknown, not 0
    assert main(["devices", "show", "a100-sxm-40gb"]) == ExitCode.OK
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("mig.1g.5gb "))
    assert "1/7 compute (14 SMs), 5 GB" in row and "; SMs: nvidia-smi mig -lgip on A100-SXM4-40GB" in row
    assert main(["devices", "--spec-dir", str(tmp_path), "show", "h100-pcie"]) == ExitCode.OK
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("mig.1g.10gb "))
    assert "1/7 compute (SMs unknown), 10 GB" in row and "SMs:" not in row


def test_devices_show_gives_a_mig_memorys_note(capsys):
    # until 2026-12-04 the note of a profile's memory (H200's 1g.18gb holds 16 GiB, not the 18 GB of its name) was
    # left out of the table, though every other figure's note is shown
    assert main(["devices", "show", "h200-sxm"]) == ExitCode.OK
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("mig.1g.18gb "))
    assert "(note: the name (NVIDIA MIG user guide" in row and "(16 SMs), 17.2 GB" in row


def test_half_precision_below_fp32_on_a_tensor_core_gpu_is_refused(tmp_path):
    # until 2026-12-04 an A10 sheet whose fp16 was written in GFLOP/s (125 GFLOP/s, below its 31.2 TFLOP/s fp32) loaded,
    # and fp16 work was priced 250x slower than fp32
    p = sheet(tmp_path, lambda r: r["peak_compute"]["fp16"].update(unit="GFLOP/s"))
    assert error(p) == ("key 'peak_compute.fp16' is 0.125 TFLOP/s, below the fp32 peak (31.2 TFLOP/s) of a GPU with "
                        "Tensor Cores (the sheet lists tf32); give the dense Tensor Core fp16 rate (at least fp32's) "
                        "and check its unit")

    def no_tf32(r):  # Tensor Cores told by the 2:4 sparsity speed-up alone
        del r["peak_compute"]["tf32"], r["energy"]["per_mac"]["tf32"]
        r["peak_compute"]["bf16"]["value"] = 12.5

    assert "a 2:4 sparsity speed-up" in error(sheet(tmp_path, no_tf32))


def test_half_precision_below_fp32_without_tensor_cores_loads(tmp_path):
    # a Pascal GP104 card (GTX 1080: fp16 at 1/64 of fp32, no Tensor Cores, no tf32, no sparsity) is a true sheet
    def pascal(r):
        for key in ("tf32", "bf16", "int8", "int4", "fp64"):
            del r["peak_compute"][key], r["energy"]["per_mac"][key]
        del r["sparsity"]
        r["peak_compute"]["fp32"]["value"] = 8.87
        r["peak_compute"]["fp16"]["value"] = 8.87 / 64

    assert load_spec(sheet(tmp_path, pascal)).peak_flops_per_s["fp16"] == pytest.approx(8.87e12 / 64)


def test_mig_sm_counts_out_of_slice_order_are_refused(tmp_path):
    # until 2026-12-04 SM counts swapped between profiles (1g.5gb 28 SMs, 2g.10gb 14) loaded, and `mig` priced the
    # 2-slice profile slower than the 1-slice one
    import yaml

    from hybridperf.device.spec import default_spec_dir

    base = yaml.safe_load((default_spec_dir() / "a100-sxm-40gb.yaml").read_text(encoding="utf-8"))

    def swap(r):
        r["mig_profiles"][0]["sm_count"]["value"] = 28
        r["mig_profiles"][2]["sm_count"]["value"] = 14

    assert error(sheet(tmp_path, swap, base=base)) == (
        "key 'mig_profiles[2].sm_count' is 14 SMs for 2 compute slices (2g.10gb), fewer than mig_profiles[0] "
        "(1g.5gb: 28 SMs for 1); a profile of more compute slices holds at least as many SMs (nvidia-smi mig -lgip): "
        "check the counts")
    h100 = load_spec("h100-sxm")  # one slice, twice the memory, more SMs (26) than 1g.10gb (16): in order
    assert [m.sm_count for m in h100.mig_profiles] == [16, 26, 32, 60, 64, 132]
