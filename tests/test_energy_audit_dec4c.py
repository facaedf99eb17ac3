"""Energy audit 2026-12-04 (c): the energy figure as a user reads it.

energy = sum over the priced kernels of (MACs x pJ/MAC[precision] + DRAM bytes x pJ/B)   (dynamic)
       + idle W x latency                                                                (static)
capped at max W x latency. Recomputed here by hand from ``predict --format json``'s kernels and the sheet's figures,
on a probed CPU sheet (``host``: the tests install ``host-epyc-zen4-1c.yaml``) and on ``t4``, at fp32 and at
``--precision fp16``. A sheet without power figures is refused, never priced at 0 J. A probed GPU sheet's power and
energy sources say how each estimate was made and that a figure derived from estimated watts is one.
"""

import json
from pathlib import Path

import pytest
import yaml
from test_probe import _fake_cpu_result

from hybridperf.cli import ExitCode, main
from hybridperf.device.spec import parse_spec
from hybridperf.measure import probe

ROOT = Path(__file__).resolve().parent.parent
SQUEEZENET = str(ROOT / "examples" / "squeezenet1_1.onnx")


def _predict_json(capsys, *argv: str) -> dict:
    code = main(["predict", SQUEEZENET, "--format", "json", *argv])
    out, err = capsys.readouterr()
    assert code == ExitCode.OK, err
    return json.loads(out)


def _dynamic_j(kernels: list[dict], pj_per_mac: dict[str, float], pj_per_byte: float) -> float:
    """Sum over the kernel rows that take time: flops / 2 MACs x pJ/MAC + (read + written) bytes x pJ/B."""
    return sum((k["flops"] / 2 * pj_per_mac[k["compute_precision"]]
                + (k["bytes_read"] + k["bytes_written"]) * pj_per_byte) * 1e-12
               for k in kernels if k["status"] != "zero-cost")


def test_cpu_probed_sheet_energy_recomputed_by_hand(capsys):
    """``host`` (host-epyc-zen4-1c.yaml, probed): idle 3 W and max 10 W estimated; pJ/MAC fp32 137.4 =
    (10 - 3) / (101.9 GFLOP/s / 2); DRAM 160 pJ/B = 20 pJ/bit x 8. Each kernel row's energy is its roofline's
    (dynamic + 3 W x its roofline latency); the total is dynamic + 3 W x the learned latency, capped at 10 W x it."""
    d = _predict_json(capsys)
    pj_mac = {"fp64": 268.5, "fp32": 137.4, "int8": 39.20}
    assert 137.4 == pytest.approx((10 - 3) / (101.9e9 / 2) * 1e12, rel=1e-3)
    kernels, t = d["kernels"], d["totals"]
    for k in kernels:
        if k["status"] == "zero-cost":
            assert k["energy_j"] == 0.0
            continue
        dyn = _dynamic_j([k], pj_mac, 160.0)
        assert k["energy_j"] == pytest.approx(dyn + 3.0 * k["roofline_latency_s"], rel=1e-9), k["name"]
    dynamic = _dynamic_j(kernels, pj_mac, 160.0)
    implied = dynamic + 3.0 * t["latency_s"]
    assert t["energy_j"] == pytest.approx(min(implied, 10.0 * t["latency_s"]), rel=1e-9)
    assert t["energy_note"].endswith("power and energy per DRAM byte of host estimated, not measured: "
                                      "`hybridperf devices show host`")
    if implied > 10.0 * t["latency_s"]:
        assert t["energy_note"].startswith("capped at max power 10 W x latency (the energy model implied ")


def test_gpu_t4_energy_recomputed_by_hand(capsys):
    """``t4``: idle 10 W (estimated), max 70 W (datasheet); pJ/MAC fp32 14.8 = (70 - 10) / (8.1 TFLOP/s / 2);
    GDDR 112 pJ/B = 14 pJ/bit x 8. Under torch (the zero-shot model's runtime) the kernel rows are its launches, and
    the total is their dynamic energy + 10 W x the learned latency (below 70 W x it: not capped)."""
    d = _predict_json(capsys, "-d", "t4")
    assert 14.8 == pytest.approx((70 - 10) / (8.1e12 / 2) * 1e12, rel=1e-3)
    t = d["totals"]
    dynamic = _dynamic_j(d["kernels"], {"fp32": 14.8}, 112.0)
    assert dynamic > 0
    assert t["energy_j"] == pytest.approx(dynamic + 10.0 * t["latency_s"], rel=1e-9)
    assert t["energy_j"] < 70.0 * t["latency_s"]
    assert t["energy_note"] == "idle power of t4 estimated, not measured: `hybridperf devices show t4`"


def test_precision_override_prices_energy_as_latency(capsys):
    """``--precision fp16`` on t4: the kernels run at fp16 (pJ/MAC 1.85 = (70 - 10) / (65 TFLOP/s / 2)) and move
    half the bytes; the total is their dynamic energy + 10 W x that run's latency, the very formula at fp32."""
    fp32 = _predict_json(capsys, "-d", "t4")
    fp16 = _predict_json(capsys, "-d", "t4", "--precision", "fp16")
    assert {k["compute_precision"] for k in fp16["kernels"]} == {"fp16"}
    assert fp16["totals"]["bytes_read"] + fp16["totals"]["bytes_written"] < (
        fp32["totals"]["bytes_read"] + fp32["totals"]["bytes_written"])
    dynamic = _dynamic_j(fp16["kernels"], {"fp16": 1.85}, 112.0)
    assert fp16["totals"]["energy_j"] == pytest.approx(dynamic + 10.0 * fp16["totals"]["latency_s"], rel=1e-9)
    assert fp16["totals"]["energy_j"] < fp32["totals"]["energy_j"]


def test_sheet_without_power_figures_is_refused_not_priced_at_zero(capsys, tmp_path):
    """No power (and so no energy table): the sheet does not load, so no energy is printed at all (never 0 J)."""
    raw = yaml.safe_load((ROOT / "hybridperf" / "data" / "hw_specs" / "t4.yaml").read_text())
    raw["id"] = "no-power"
    del raw["power"], raw["energy"]
    sheet = tmp_path / "no-power.yaml"
    sheet.write_text(yaml.safe_dump(raw))
    code = main(["predict", SQUEEZENET, "-d", str(sheet)])
    out, err = capsys.readouterr()
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert "key 'power' is required but missing; give power.idle and power.max in W" in err


def _gpu_spec(**cuda):
    """A probed GPU sheet from a probe_cuda dict of an L4-like card (no GPU needed) with ``cuda`` keys added."""
    out = {"device_name": "NVIDIA L4", "total_memory_bytes": 24 * 10**9, "gemm_n": 4096,
           "peak_flops_per_s": {"fp32": 25e12, "fp16": 100e12}, "gemm_errors": {}, "gemm_avg_power_w": {},
           "copy_bytes": 2**30, "dram_copy_bandwidth_bytes_per_s": 250e9, "launch_queued_s": 4e-6, **cuda}
    result = probe.result_from_cuda_probe(out, host=_fake_cpu_result().host, date="2026-01-01")
    return parse_spec(probe.spec_dict(result, "l4-probed"), "<probe>")


def test_gpu_probe_without_nvml_names_its_estimates():
    """Until 2026-12-04 a GPU probe without NVML wrote idle power as "estimate, not measured: 15% of max power"
    (no watts, no reason) and its pJ/MAC as "derived: (max power 300 W - idle 45 W) ...", reading as NVML's watts,
    and its DRAM pJ/B estimate did not say why it was not measured."""
    spec = _gpu_spec()
    assert spec.idle_power_w == pytest.approx(0.15 * 300) and spec.max_power_w == 300
    assert spec.sources["power.idle"] == ("estimate, not measured (no NVML idle reading): 15% of the 300 W max power "
                                          "estimate")
    # (300 - 45) / (25 TFLOP/s / 2) = 20.4 pJ
    assert spec.energy_pj_per_mac["fp32"] == pytest.approx((300 - 45) / (25e12 / 2) * 1e12)
    assert spec.sources["energy.per_mac.fp32"].startswith(
        "derived: (estimated max power 300 W - estimated idle 45 W) / (measured rate / 2) = 20.4,")
    assert spec.sources["energy.per_byte.dram"].startswith(
        "estimate, not measured (no NVML power reading in the copy loop): GDDR5 ~14 pJ/bit x 8")
    assert spec.power_note == "power and energy per DRAM byte of l4-probed estimated, not measured"


def test_gpu_probe_says_why_an_nvml_reading_was_not_used():
    """Until 2026-12-04 an NVML idle reading at or above the limit, a GEMM or copy loop that drew no more than idle,
    were dropped without a word: the sheet read as if NVML had given nothing."""
    spec = _gpu_spec(power_limit_w=72.0, idle_power_w=80.0, gemm_avg_power_w={"fp32": 60.0, "fp16": 70.0},
                     dram_copy_avg_power_w=9.0)
    # idle: 15 % of the 72 W NVML limit = 10.8 W
    assert spec.idle_power_w == pytest.approx(0.15 * 72)
    assert spec.sources["power.idle"] == ("estimate, not measured (NVML's idle reading 80 W is not below the 72 W "
                                          "limit): 15% of the 72 W NVML limit")
    assert spec.power_note == "idle power and energy per DRAM byte of l4-probed estimated, not measured"
    # fp32: (60 - 10.8) W / (25 TFLOP/s / 2), from the GEMM loop's NVML power minus the estimated idle
    assert spec.energy_pj_per_mac["fp32"] == pytest.approx((60 - 10.8) / (25e12 / 2) * 1e12, rel=1e-3)
    assert "minus estimated idle 10.8 W) / (measured rate / 2)" in spec.sources["energy.per_mac.fp32"]
    assert spec.sources["energy.per_byte.dram"].startswith(
        "estimate, not measured (NVML board power in the copy loop, 9 W, was not above idle): GDDR5")


def test_gpu_probe_gemm_power_below_idle_is_said():
    """NVML limit 72 W, idle 16 W measured; an fp16 GEMM loop at 15 W gives no dynamic figure, so
    (72 - 16) / (100 TFLOP/s / 2) = 1.12 pJ stands in, and its source says why (until 2026-12-04 it did not)."""
    spec = _gpu_spec(power_limit_w=72.0, idle_power_w=16.0, gemm_avg_power_w={"fp16": 15.0})
    assert spec.energy_pj_per_mac["fp16"] == pytest.approx((72 - 16) / (100e12 / 2) * 1e12)
    src = spec.sources["energy.per_mac.fp16"]
    assert src.startswith("derived: (max power 72 W - idle 16 W) / (measured rate / 2) = 1.12,")
    assert src.endswith("; NVML board power in the GEMM loop, 15 W, was not above idle, so it gives no dynamic figure")
    assert spec.estimated_power_figures == ()
