"""Energy audit (2026-12-03): golden values written as arithmetic from the sheets' own numbers.

energy = MACs x pJ/MAC[precision] + bytes x pJ/byte[dram] + idle W x latency, capped at max W x latency;
latency = max(FLOPs / peak, bytes / bandwidth) + launch overhead; MACs = FLOPs / 2.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from hybridperf.device.spec import available_devices, default_spec_dir, load_spec
from hybridperf.report.format import fmt_energy

PJ = 1e-12
ROOT = Path(__file__).resolve().parents[1]


def _matmul(path: Path, batch="N", k: int = 64, n: int = 32) -> str:
    """x[batch, k] @ W[k, n] (W a float32 initializer): 2*batch*k*n FLOPs, (batch*k + k*n + batch*n) * 4 bytes."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((k, n), np.float32), "W")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, k])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, n])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return str(path)


# ------------------------------------------------------------------ display below a microjoule


def test_fmt_energy_goes_below_a_microjoule():
    # until 2026-12-03 everything under 0.05 uJ printed "0.0 uJ": an NPU inference and an nJ limit read as zero
    assert fmt_energy(4.27744e-8) == "42.8 nJ"
    assert fmt_energy(50e-9) == "50.0 nJ"
    assert fmt_energy(50e-12) == "50.0 pJ"
    assert [fmt_energy(j) for j in (0.0, 2.5e-6, 2e-3, 2.0)] == ["0.0 uJ", "2.5 uJ", "2.000 mJ", "2.000 J"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return _matmul(tmp_path_factory.mktemp("energy") / "mm1.onnx", batch=1)


def test_npu_energy_golden_and_shown_in_nanojoules(tiny):
    """A 1x64 @ 64x32 matmul at int8 on the Ethos-U55 sheet: 42.8 nJ, printed as such (it read "0.0 uJ")."""
    from hybridperf.api import analyze, predict_on
    from hybridperf.report.text import to_dict, to_table

    pred = predict_on(analyze(tiny), "ethos-u55", "int8", residual=None)
    macs = 64 * 32  # 1 x 64 x 32
    nbytes = (64 + 64 * 32 + 32) * 1  # x, W, y stored in 1 B at int8
    latency = max(2 * macs / 256e9, nbytes / 4e9) + 1e-6  # 536 ns of SRAM traffic + 1 us launch
    energy = macs * 0.3 * PJ + nbytes * 12.5 * PJ + 0.01 * latency  # 0.61 pJ-ish MACs + 26.8 nJ + 15.36 nJ
    assert pred.latency_s == pytest.approx(latency, rel=1e-12)
    assert pred.energy_j == pytest.approx(energy, rel=1e-12)
    assert pred.energy_j == pytest.approx(42.7744e-9, rel=1e-9)
    assert to_dict(pred)["totals"]["energy_j"] == pred.energy_j
    line = next(ln for ln in to_table(pred, top=0).splitlines() if ln.startswith("energy"))
    assert line.startswith("energy    42.8 nJ   [power of ethos-u55 estimated")


def test_check_prints_a_nanojoule_limit(capsys, tiny):
    from hybridperf.cli import ExitCode, main

    code = main(["check", tiny, "-d", "ethos-u55", "--precision", "int8", "--max-energy", "40nJ"])
    out, _ = capsys.readouterr()
    assert code == ExitCode.BUDGET_EXCEEDED
    row = next(ln for ln in out.splitlines() if " energy " in ln)
    # 42.7744 nJ / 40 nJ - 1 = +7 %; both figures read 0.0 uJ until 2026-12-03
    assert re.search(r"energy\s+42\.8 nJ\s+40\.0 nJ\s+OVER \(\+7%", row), row


# ------------------------------------------------------------------ batch and precision scaling (T4 sheet)


@pytest.mark.parametrize("batch, precision", [(1, None), (8, None), (256, None), (1, "fp16"), (1, "int8"),
                                              (256, "int8")])
def test_t4_matmul_energy_scales_with_batch_and_precision(tmp_path, batch, precision):
    """Hand arithmetic from t4.yaml: 8.1 / 65 / 130 T(FL)OP/s, 320 GB/s, 5 us launch, 14.8 / 1.85 / 0.923 pJ per MAC
    ((70 W - 10 W idle) / (rate / 2); 17.3 / 2.15 / 1.08 until 2026-12-03), 112 pJ per byte, 10 W idle, 70 W max."""
    from hybridperf.api import analyze, predict_on

    path = _matmul(tmp_path / "mm.onnx", k=1024, n=1024)
    pred = predict_on(analyze(path, batch=batch), "t4", precision, residual=None)
    size, peak, pj = {None: (4, 8.1e12, 14.8), "fp16": (2, 65e12, 1.85), "int8": (1, 130e12, 0.923)}[precision]
    flops = 2 * batch * 1024 * 1024
    nbytes = (batch * 1024 + 1024 * 1024 + batch * 1024) * size
    latency = max(flops / peak, nbytes / 320e9) + 5e-6
    energy = flops / 2 * pj * PJ + nbytes * 112 * PJ + 10 * latency
    assert pred.latency_s == pytest.approx(latency, rel=1e-12)
    assert pred.energy_j == pytest.approx(min(energy, 70 * latency), rel=1e-12)
    assert 10 * latency <= pred.energy_j <= 70 * latency * (1 + 1e-12)
    assert ("capped at max power 70 W" in pred.energy_note) == (energy > 70 * latency)


def test_energy_within_idle_and_max_power_on_every_sheet(tmp_path):
    """Roofline energy of a small fp32 model lies in [idle W x latency, max W x latency] on every sheet with an
    fp32 path; a capped figure says so."""
    from hybridperf.api import analyze, predict_on

    an = analyze(_matmul(tmp_path / "mm.onnx", k=256, n=256), batch=4)
    for dev in available_devices():
        spec = load_spec(dev)
        prec = None if "fp32" in spec.peak_flops_per_s else "int8"  # the NPUs compute int8 only
        pred = predict_on(an, spec, prec, residual=None)
        lo, hi = spec.idle_power_w * pred.latency_s, spec.max_power_w * pred.latency_s
        assert lo <= pred.energy_j <= hi * (1 + 1e-12), dev
        dynamic = sum(k.estimate.dynamic_energy_j for k in pred.kernels)
        uncapped = dynamic + lo
        assert pred.energy_j == pytest.approx(min(uncapped, hi), rel=1e-12), dev
        assert ("capped at max power" in pred.energy_note) == (uncapped > hi), dev


# ------------------------------------------------------------------ budgets


@pytest.mark.parametrize("text, joules", [("50mJ", 50e-3), ("50 mJ", 50e-3), ("0.05J", 0.05), ("5e-2 J", 0.05),
                                          ("50uJ", 50e-6), ("50µJ", 50e-6), ("40nJ", 40e-9), ("50pJ", 50e-12)])
def test_energy_limit_parsing(text, joules):
    from hybridperf.estimate.budget import parse_limit

    assert parse_limit(text, "energy", allow_number=False) == pytest.approx(joules, rel=1e-15)


@pytest.mark.parametrize("text", ["-5mJ", "0mJ", "50", "50mW", "50 MJ", "nan J"])
def test_energy_limit_rejected(text):
    from hybridperf.estimate.budget import BudgetError, parse_limit

    with pytest.raises(BudgetError, match="--max-energy"):
        parse_limit(text, "energy", allow_number=False)


def test_api_energy_budget_in_joules_and_text_agree(tiny):
    import hybridperf

    pred = hybridperf.predict(tiny, "t4", residual=None)
    # t4 roofline: 2048 MACs x 14.8 pJ + 8576 B x 112 pJ + 10 W x (8576 B / 320 GB/s + 5 us)
    latency = 8576 / 320e9 + 5e-6
    assert pred.energy_j == pytest.approx(2048 * 14.8 * PJ + 8576 * 112 * PJ + 10 * latency, rel=1e-12)
    for limit in ("50uJ", 50e-6):  # 51.26 uJ: over either way
        assert not hybridperf.check(tiny, "t4", max_energy=limit, residual=None).passed
    for limit in ("52 uJ", 52e-6):
        assert hybridperf.check(tiny, "t4", max_energy=limit, residual=None).passed
    from hybridperf.errors import InputError

    with pytest.raises(InputError, match="must be positive"):
        hybridperf.check(tiny, "t4", max_energy=-1.0, residual=None)


# ------------------------------------------------------------------ sheet arithmetic and provenance

_SCALE = {"TFLOP/s": 1e12, "TOPS": 1e12, "GFLOP/s": 1e9, "GOPS": 1e9}
_DERIVED = re.compile(r"\((?:[A-Za-z ]+ )?([\d.]+) W - idle ([\d.]+) W\) / \((?:measured )?([\d.]+) "
                      r"(TFLOP/s|TOPS|GFLOP/s|GOPS) / 2(?: FLOP per MAC)?\) = ([\d.]+),")


def _half_last_digit(written: str) -> float:
    """Half a unit of the last digit written ("14.8" -> 0.05, "480" -> 0.5, "0.520" -> 0.0005)."""
    return 0.5 * 10.0 ** -(len(written.split(".")[1]) if "." in written else 0)


def _sheets():
    for path in sorted(default_spec_dir().glob("*.yaml")):
        yield path.stem, yaml.safe_load(path.read_text())


def test_derived_pj_per_mac_is_its_own_arithmetic():
    """Every derived pJ/MAC is ``(P W - idle I W) / (R / 2) = V``: P and I the sheet's max and idle power, R its
    peak, V the figure written to its last digit. The roofline adds idle x latency itself, so only power above idle
    goes to the MACs: a kernel at peak then draws MACs + idle = P. Until 2026-12-03 the figures were P / (R / 2)
    (t4 fp32 17.3 pJ, now (70 - 10) / 4.05 = 14.8): idle counted twice."""
    checked = 0
    for dev, raw in _sheets():
        for prec, q in raw["energy"]["per_mac"].items():
            if not q["source"].startswith("derived") or "Horowitz" in q["source"]:  # the NPUs: a circuit figure
                continue
            m = _DERIVED.search(q["source"])
            assert m, (dev, prec, q["source"])  # no derived figure left in the old P / (R / 2) form
            watts, idle, rate = float(m.group(1)), float(m.group(2)), float(m.group(3)) * _SCALE[m.group(4)]
            peak = raw["peak_compute"][prec]
            assert rate == pytest.approx(peak["value"] * _SCALE[peak["unit"]], rel=1e-9), (dev, prec)
            assert watts == raw["power"]["max"]["value"] and idle == raw["power"]["idle"]["value"], (dev, prec)
            assert float(m.group(5)) == q["value"], (dev, prec)  # the "= V" is the figure used
            want = (watts - idle) / (rate / 2) / PJ
            assert abs(q["value"] - want) <= _half_last_digit(m.group(5)) * 1.001, (dev, prec, q["value"], want)
            # MACs at peak plus idle reach max power, to the figure's rounding
            at_peak = q["value"] * PJ * rate / 2 + idle
            assert at_peak == pytest.approx(watts, abs=_half_last_digit(m.group(5)) * PJ * rate / 2 * 1.001), dev
            checked += 1
    assert checked == 134  # 134 derived figures on 31 sheets (not h100-sxm-measured's probed / fitted ones)
    assert load_spec("t4").energy_pj_per_mac["fp64"] == pytest.approx((70 - 10) / (0.25e12 / 2) / PJ)  # 480
    assert load_spec("l4").energy_pj_per_mac["fp32"] == pytest.approx(3.70)  # (72 - 16) / (30.3 T / 2) = 3.696


def test_a_t4_matmul_at_peak_no_longer_implies_more_than_max_power_from_its_macs():
    """4096^2 fp32 weights at batch 1024 on the T4: it implied 82.6 W (17.3 pJ/MAC + idle on top) until 2026-12-03;
    now 72.5 W, the 2.7 W over 70 W being its DRAM traffic (MACs + idle alone: 69.9 W)."""
    from hybridperf.costs import OpCost
    from hybridperf.estimate.pricing import bounded_energy
    from hybridperf.estimate.roofline import roofline

    flops = 2 * 1024 * 4096 * 4096
    nbytes = (1024 * 4096 + 4096 * 4096 + 1024 * 4096) * 4
    spec = load_spec("t4")
    est = roofline(OpCost(flops=flops, bytes_read=(1024 * 4096 + 4096 * 4096) * 4, bytes_written=1024 * 4096 * 4),
                   spec, "fp32")
    latency = flops / 8.1e12 + 5e-6  # compute-bound: 4.242 ms + 5 us
    assert est.latency_s == pytest.approx(latency, rel=1e-12)
    energy = flops / 2 * 14.8 * PJ + nbytes * 112 * PJ + 10 * latency
    assert est.energy_j == pytest.approx(energy, rel=1e-12)
    assert est.energy_j / latency == pytest.approx(72.5, abs=0.05)
    assert (flops / 2 * 14.8 * PJ + 10 * latency) / latency == pytest.approx(69.9, abs=0.05)
    capped, note = bounded_energy(est.energy_j, latency, spec)
    assert capped == pytest.approx(70 * latency) and "implied 72.5 W" in note


def test_h100_probe_per_mac_is_loop_power_less_idle_over_rate():
    """The probe-measured pJ/MAC of h100-sxm-measured: (loop W - the sheet's idle W) / (the sheet's peak / 2)."""
    raw = yaml.safe_load((default_spec_dir() / "h100-sxm-measured.yaml").read_text())
    loop = re.compile(r"loop, ([\d.]+) W, minus idle ([\d.]+) W\) / \(measured rate / 2\)")
    checked = 0
    for prec, q in raw["energy"]["per_mac"].items():
        m = loop.search(q["source"].replace("\n", " "))
        if not m:
            continue
        peak = raw["peak_compute"][prec]["value"] * 1e12
        # the idle subtracted is the one the sheet prices (until 2026-12-05 the probe's 119.9 W beside a fitted 126.3 W)
        assert float(m.group(2)) == raw["power"]["idle"]["value"], prec
        want = (float(m.group(1)) - float(m.group(2))) / (peak / 2) / PJ  # fp64: (723.3 - 126.3) W / 28.05 T MAC/s = 21.29
        assert q["value"] == pytest.approx(want, rel=1e-3), prec
        checked += 1
    assert checked == 5  # fp64, tf32, bf16, fp8, int8


def test_h100_fitted_notes_name_the_probe_figure_the_probe_gives():
    """The fitted terms' notes give the probe's own figure (it read "probe figure before the fit: 22.91 pJ (fitted
    ... 412 rows)", a previous fit, until 2026-12-03)."""
    from benchmarks import energy_calibration as ec

    probe = ec.table_of_probe()
    spec = load_spec("h100-sxm-measured")
    for key, value, unit in (("energy.per_mac.fp32", probe.pj_per_mac_fp32, "pJ"),
                             ("energy.per_mac.fp16", probe.pj_per_mac_fp16, "pJ"),
                             ("energy.per_byte.dram", probe.pj_per_dram_byte, "pJ"),
                             ("power.idle", probe.static_w, "W")):
        note = spec.field_notes[key]
        assert "probe figure before the fit" not in note.replace("labelled 'probe figure before the fit'", "")
        assert f"the probe's own figure: {value:g} {unit}" in note, (key, note)
    results = (ROOT / "benchmarks" / "results" / "energy_h100.md").read_text()
    # sheet | probe | fitted; the sheet's 20.9 became (700 - 70) / (66.9 T / 2) = 18.8 on 2026-12-03
    assert "| pj_per_mac_fp32 (pJ) | 18.8 | 22.04 | 22.91 |" in results
    # static power 129.6 W in the fit on TVM's fused kernels' bytes, 126.3 W on the launches' bytes (2026-12-04)
    assert spec.energy_pj_per_mac["fp32"] == pytest.approx(22.91) and spec.idle_power_w == pytest.approx(126.3)


def test_readme_energy_mape_matches_the_results_file():
    readme = (ROOT / "README.md").read_text()
    results = (ROOT / "benchmarks" / "results" / "energy_h100.md").read_text()
    m = re.search(r"sheet coefficients ([\d.]+) %, probe coefficients ([\d.]+) %, fitted ([\d.]+) %", readme)
    assert m, "README's energy MAPE sentence moved"
    rows = [r for r in results.splitlines() if r.startswith("| sheet table") or r.startswith("| probe table")
            or r.startswith("| fitted, leave-family-out")]
    alls = [r.split("|")[2].strip() for r in rows]
    assert alls == [f"{m.group(i)}%" for i in (1, 2, 3)]


def test_devices_show_json_gives_energy_in_pj_and_watts(capsys):
    from hybridperf.cli import main

    assert main(["devices", "show", "t4", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["power"]["idle"]["value"] == 10 and d["power"]["idle"]["unit"] == "W"
    assert d["power"]["max"]["value"] == 70
    assert d["energy"]["per_mac"]["fp64"]["value"] == pytest.approx((70 - 10) / (0.25e12 / 2) / PJ)  # 480 pJ
    assert d["energy"]["per_mac"]["fp32"] == {**d["energy"]["per_mac"]["fp32"], "value": pytest.approx(14.8),
                                              "unit": "pJ"}
    assert d["energy"]["per_byte"]["dram"]["value"] == pytest.approx(112)  # 14 pJ/bit x 8


def test_predict_many_row_carries_the_energy_note(tiny):
    """A predict-many row says what ``predict`` says of its energy (capped at max power, or priced on an estimated
    power figure); a row on measured power says nothing (null). Until 2026-12-03 the rows had no such field."""
    from hybridperf.api import analyze, predict_on
    from hybridperf.commands._sweep import predict_row

    row = predict_row(tiny, "raspberry-pi-4b", None, None, True)
    want = predict_on(analyze(tiny), "raspberry-pi-4b", runtime="auto")
    assert row["energy_j"] == want.energy_j
    assert row["energy_note"] == want.energy_note
    assert row["energy_note"].startswith("power of raspberry-pi-4b estimated, not measured")
    t4 = predict_row(tiny, "t4", None, None, True)  # datasheet max power, estimated idle: said since 2026-12-03
    assert t4["energy_note"] == "idle power of t4 estimated, not measured: `hybridperf devices show t4`"
    measured = predict_row(tiny, "h100-sxm-measured", None, None, True)  # NVML-fitted idle, NVML power limit
    assert measured["energy_note"] is None and measured["energy_j"] > 0
    bad = predict_row(str(Path(tiny).with_name("missing.onnx")), "t4", None, None, True)
    assert bad["status"] == "error" and bad["energy_j"] is None and bad["energy_note"] is None


def test_write_spec_rederives_the_probe_per_mac_over_the_fitted_idle():
    """A refit of the idle re-derives the probe's per-MAC figures over it (until 2026-12-05: they stayed over the
    probe's own 119.9 W idle while the sheet priced a fitted 126.3 W)."""
    import copy

    from benchmarks.energy_calibration import _probe_per_mac_over_idle

    raw = yaml.safe_load((default_spec_dir() / "h100-sxm-measured.yaml").read_text())
    same = copy.deepcopy(raw)
    _probe_per_mac_over_idle(same, raw["power"]["idle"]["value"])
    assert same["energy"] == raw["energy"]  # the shipped sheet is consistent with its own idle
    _probe_per_mac_over_idle(same, 119.9)
    peak_int8 = raw["peak_compute"]["int8"]["value"] * 1e12
    assert same["energy"]["per_mac"]["int8"]["value"] == pytest.approx((419.9 - 119.9) / (peak_int8 / 2) / PJ, rel=1e-3)
    assert "minus idle 119.9 W)" in same["energy"]["per_mac"]["int8"]["source"]
    assert same["energy"]["per_mac"]["fp32"] == raw["energy"]["per_mac"]["fp32"]  # fitted terms are not the probe's
