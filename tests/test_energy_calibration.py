"""The NVML energy calibration (benchmarks/energy_calibration.py) on synthetic rows with a known table."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks import energy_calibration as ec
from hybridperf.device.spec import default_spec_dir, load_spec

ROOT = Path(__file__).resolve().parents[1]
TRUE = ec.EnergyTable(pj_per_mac_fp32=30.0, pj_per_mac_fp16=3.0, pj_per_dram_byte=200.0, static_w=125.0)


def _rows(table: ec.EnergyTable = TRUE) -> list[ec.EnergyRow]:
    rows = []
    for i, fam in enumerate(("resnet", "bert", "vgg", "mobilenet")):
        for j, dtype in enumerate(("fp32", "fp16", "fp32", "fp16")):
            base = ec.EnergyRow(key=f"{fam}{j}_{dtype}", model=f"{fam}{j}", family=fam, dtype=dtype, mode="eager",
                                macs=(1 + i) * (2 + j) * 1e9, dram_bytes=(3 + j) * (1 + 2 * i) * 1e7,
                                time_s=(1 + i + j * j) * 1e-3, energy_j=1.0)
            rows.append(ec.EnergyRow(**{**base.__dict__, "energy_j": table.energy_j(base)}))
    return rows


def test_design_row_prices_macs_at_the_row_dtype():
    row = ec.EnergyRow("k", "m", "f", "fp16", "graph", macs=2e9, dram_bytes=1e8, time_s=0.01, energy_j=1.0)
    # 2e9 MAC x 3 pJ + 1e8 B x 200 pJ + 125 W x 0.01 s = 0.006 + 0.02 + 1.25 J
    assert TRUE.energy_j(row) == pytest.approx(2e9 * 3e-12 + 1e8 * 200e-12 + 125 * 0.01)
    fp32 = ec.EnergyRow("k", "m", "f", "fp32", "graph", macs=2e9, dram_bytes=0.0, time_s=0.0, energy_j=1.0)
    assert TRUE.energy_j(fp32) == pytest.approx(2e9 * 30e-12)


def test_fit_recovers_a_known_table_exactly():
    fitted = ec.fit_table(_rows())
    for term in ec.TERMS:
        assert getattr(fitted, term) == pytest.approx(getattr(TRUE, term), rel=1e-6)


def test_fit_is_non_negative():
    # energy that is static power alone, scaled by -ish noise: no term may go negative
    rows = [ec.EnergyRow(**{**r.__dict__, "energy_j": 100.0 * r.time_s * (1.1 if k % 2 else 0.9)})
            for k, r in enumerate(_rows())]
    fitted = ec.fit_table(rows)
    assert all(getattr(fitted, t) >= 0 for t in ec.TERMS)
    assert fitted.static_w > 0


def test_leave_family_out_predicts_held_out_family_from_the_others():
    rows = _rows()
    pred, tables = ec.leave_family_out(rows)
    assert set(tables) == {"resnet", "bert", "vgg", "mobilenet"}
    assert ec.mape(pred, [r.energy_j for r in rows]) == pytest.approx(0.0, abs=1e-6)


def test_mape_in_percent():
    assert ec.mape([110.0, 90.0], [100.0, 100.0]) == pytest.approx(10.0)


def test_write_spec_puts_the_fit_into_a_loadable_spec(tmp_path):
    path = tmp_path / "h100-sxm-measured.yaml"
    shutil.copy(default_spec_dir() / "h100-sxm-measured.yaml", path)
    ec.write_spec(path, TRUE, n_rows=16, n_models=16, n_families=4, lfo_mape=5.0, date="2026-01-01")
    spec = load_spec(path)
    assert spec.energy_pj_per_mac["fp32"] == pytest.approx(30.0)
    assert spec.energy_pj_per_mac["fp16"] == pytest.approx(3.0)
    assert spec.energy_pj_per_byte["dram"] == pytest.approx(200.0)
    assert spec.idle_power_w == pytest.approx(125.0)
    assert spec.sources["energy.per_mac.fp16"].startswith("fitted to NVML energy, 16 models")
    assert "energy.per_byte.dram" in spec.measured


def test_write_spec_keeps_the_probe_figure_for_a_zero_term(tmp_path):
    path = tmp_path / "h100-sxm-measured.yaml"
    shutil.copy(default_spec_dir() / "h100-sxm-measured.yaml", path)
    before = load_spec(path)
    ec.write_spec(path, ec.EnergyTable(30.0, 0.0, 200.0, 125.0), n_rows=16, n_models=16, n_families=4, lfo_mape=5.0,
                  date="2026-01-01")
    after = load_spec(path)
    assert after.energy_pj_per_mac["fp16"] == before.energy_pj_per_mac["fp16"]
    assert after.energy_pj_per_mac["fp32"] == pytest.approx(30.0)


def test_write_spec_names_the_figure_it_replaces_by_its_source(tmp_path):
    """The note keeps the replaced figure as "probe figure before the fit" only when the probe wrote it (its source
    starts "measured by hybridperf probe"), else as "previous figure"; until 2026-12-03 a previous fit was labelled
    a probe figure too."""
    import yaml

    path = tmp_path / "h100-sxm-measured.yaml"
    raw = yaml.safe_load((default_spec_dir() / "h100-sxm-measured.yaml").read_text())
    probe_src = "measured by hybridperf probe 0.1.0 on 2026-11-23: (NVML average board power ...)"
    raw["energy"]["per_mac"]["fp32"] = {"value": 22.04, "unit": "pJ", "source": probe_src, "measured": True}
    raw["energy"]["per_mac"]["fp16"] = {"value": 1.611, "unit": "pJ", "source": "fitted to NVML energy, 54 models"}
    raw["power"]["idle"] = {"value": 70, "unit": "W", "source": "estimate: nvidia-smi idle draw"}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    ec.write_spec(path, ec.EnergyTable(30.0, 3.0, 0.0, 125.0), n_rows=16, n_models=16, n_families=4, lfo_mape=5.0,
                  date="2026-01-01")
    notes = load_spec(path).field_notes
    assert notes["energy.per_mac.fp32"].endswith(f"probe figure before the fit: 22.04 pJ ({probe_src})")
    assert notes["energy.per_mac.fp16"].endswith("previous figure: 1.611 pJ (fitted to NVML energy, 54 models)")
    assert notes["power.idle"].endswith("previous figure: 70 W (estimate: nvidia-smi idle draw)")
    assert all("probe figure" not in notes[k] for k in ("energy.per_mac.fp16", "power.idle"))
    # a zero term keeps its figure, and the note names it the same way (the shipped dram figure is a previous fit)
    assert notes["energy.per_byte.dram"].endswith("the NVML fit gave 0 for this term, so the previous figure stays")


def test_probe_table_from_the_saved_probe_dict():
    import json

    path = ROOT / "calibration" / "h100-sxm" / "probe-2.json"
    out = json.loads(path.read_text())
    table = ec.table_of_probe(path)
    idle = out["idle_power_w"]
    # the probe's own code path: (loop power - idle) / rate, 4 significant digits
    assert table.static_w == pytest.approx(idle, rel=1e-3)
    assert table.pj_per_mac_fp16 == pytest.approx(
        (out["gemm_avg_power_w"]["fp16"] - idle) / (out["peak_flops_per_s"]["fp16"] / 2) * 1e12, rel=1e-3)
    assert table.pj_per_dram_byte == pytest.approx(
        (out["dram_copy_avg_power_w"] - idle) / out["dram_copy_bandwidth_bytes_per_s"] * 1e12, rel=1e-3)


def test_upper_bound_caps_a_term_and_the_others_absorb_it():
    rows = _rows()
    fitted = ec.fit_table(rows, upper=[20.0, float("inf"), float("inf"), float("inf")])
    assert fitted.pj_per_mac_fp32 == pytest.approx(20.0)  # true 30 pJ is out of bounds: pinned at the bound
    unbounded = ec.fit_table(rows, upper=[1e9] * 4)
    assert unbounded.pj_per_mac_fp32 == pytest.approx(30.0, rel=1e-6)


def test_physical_bounds_from_the_probe():
    import json

    path = ROOT / "calibration" / "h100-sxm" / "probe-2.json"
    out = json.loads(path.read_text())
    ub = ec.physical_bounds(path)
    room = out["power_limit_w"] - out["idle_power_w"]
    assert ub[1] == pytest.approx(room / (out["peak_flops_per_s"]["fp16"] / 2) * 1e12)
    assert ub[2] == float("inf") and ub[3] == float("inf")
