"""Roofline latency golden values, written as arithmetic."""

import pytest

from hybridperf.costs import OpCost
from hybridperf.device.spec import parse_spec
from hybridperf.estimate.roofline import ZERO, Bound, roofline


def q(value, unit):
    return {"value": value, "unit": unit, "source": "test"}


@pytest.fixture()
def spec():
    return parse_spec(
        {
            "schema_version": 1,
            "id": "toy",
            "name": "Toy device",
            "kind": "gpu",
            "peak_compute": {"fp32": q(10, "TFLOP/s"), "fp16": q(100, "TFLOP/s")},
            "memory": {"dram": {"bandwidth": q(1000, "GB/s"), "capacity": q(16, "GB")}},
            "launch_overhead": q(5, "us"),
            "power": {"idle": q(50, "W"), "max": q(300, "W")},
            "energy": {"per_mac": {"fp32": q(2, "pJ"), "fp16": q(0.5, "pJ")}, "per_byte": {"dram": q(10, "pJ")}},
        },
        "<toy>",
    )


def test_compute_bound(spec):
    c = OpCost(flops=2 * 10**9, bytes_read=10**6, bytes_written=10**6)
    e = roofline(c, spec, "fp32")
    assert e.compute_s == pytest.approx(2e9 / 10e12)
    assert e.memory_s == pytest.approx(2e6 / 1000e9)
    assert e.latency_s == pytest.approx(2e9 / 10e12 + 5e-6)
    assert e.bound is Bound.COMPUTE


def test_memory_bound(spec):
    c = OpCost(flops=10**6, bytes_read=4 * 10**8, bytes_written=10**8)
    e = roofline(c, spec, "fp32")
    assert e.latency_s == pytest.approx(5e8 / 1000e9 + 5e-6)
    assert e.bound is Bound.MEMORY


def test_overhead_bound_and_zero(spec):
    e = roofline(OpCost(flops=100, bytes_read=400), spec, "fp32")
    assert e.bound is Bound.OVERHEAD
    assert e.latency_s == pytest.approx(400 / 1000e9 + 5e-6)
    assert roofline(OpCost(), spec, "fp32", launches=0) is ZERO
    # launched but empty: pure overhead
    assert roofline(OpCost(), spec, "fp32").latency_s == pytest.approx(5e-6)


def test_precision_picks_its_peak_and_falls_back(spec):
    c = OpCost(flops=10**12)
    assert roofline(c, spec, "fp16").compute_s == pytest.approx(1e12 / 100e12)
    # bf16 is not listed: falls back to fp16
    e = roofline(c, spec, "bf16")
    assert e.compute_s == pytest.approx(1e12 / 100e12) and e.precision == "fp16"


def test_energy_dynamic_plus_idle(spec):
    c = OpCost(flops=2 * 10**9, bytes_read=10**6, bytes_written=10**6)
    e = roofline(c, spec, "fp32")
    dyn = (10**9 * 2 + 2 * 10**6 * 10) * 1e-12  # MACs x 2 pJ + bytes x 10 pJ
    assert e.dynamic_energy_j == pytest.approx(dyn)
    assert e.energy_j == pytest.approx(dyn + 50 * e.latency_s)


class _DoubleLatency:
    """A stand-in residual: doubles every latency (the real one is tested in test_residual)."""

    def apply(self, pred):
        from dataclasses import replace

        return replace(pred, latency_s=2 * pred.latency_s, calibration="x2")


def test_calibrated_prediction_recomputes_static_energy(model_dir):
    from hybridperf.analysis.analyze import analyze
    from hybridperf.api import predict_on

    analyzed = analyze(str(model_dir / "resnet_like.onnx"), batch=1)
    roof = predict_on(analyzed, "t4", residual=None)
    cal = predict_on(analyzed, "t4", residual=_DoubleLatency())
    dynamic = sum(k.estimate.dynamic_energy_j for k in roof.kernels)
    assert roof.calibration == "roofline only (--roofline-only)"  # residual=None: switched off, not missing
    assert roof.energy_j == pytest.approx(dynamic + roof.spec.idle_power_w * roof.latency_s)
    assert cal.latency_s == pytest.approx(2 * roof.latency_s)
    # the static part follows the corrected latency: idle W x (2 x roofline latency)
    assert cal.energy_j == pytest.approx(dynamic + roof.spec.idle_power_w * 2 * roof.latency_s)


def test_precision_override_prices_float32_work_at_the_override(spec):
    from hybridperf.estimate.pricing import price

    c = OpCost(flops=2 * 10**12, bytes_read=4 * 10**9, bytes_written=4 * 10**9, weight_bytes=10**9)
    e = price(c, "fp32", spec, "fp16")  # fp32 op, override fp16: fp16 peak, float32 bytes halved
    assert e.precision == "fp16"
    assert e.compute_s == pytest.approx(2e12 / 100e12)  # 20 ms at 100 TFLOP/s
    assert e.memory_s == pytest.approx((4e9 + 4e9) * 2 / 4 / 1000e9)  # 8 GB -> 4 GB at 1000 GB/s: 4 ms
    assert e.latency_s == pytest.approx(2e12 / 100e12 + 5e-6)
    assert e.dynamic_energy_j == pytest.approx((1e12 * 0.5 + 4e9 * 10) * 1e-12)  # MACs x 0.5 pJ + bytes x 10 pJ
    same = price(c, "fp16", spec, "int8")  # only float32 work follows the override
    assert same == roofline(c, spec, "fp16")
    assert price(c, "fp32", spec) == roofline(c, spec, "fp32")  # no override: the plain roofline


def test_slice_shares_divide_each_term(spec):
    c = OpCost(flops=10**9, bytes_read=10**6)
    e = roofline(c, spec, "fp32", compute_share=0.5, memory_share=0.25)
    assert e.compute_s == pytest.approx(1e9 / 10e12 / 0.5)
    assert e.memory_s == pytest.approx(1e6 / 1000e9 / 0.25)
    assert e.latency_s == pytest.approx(1e9 / 10e12 / 0.5 + 5e-6)  # the launch overhead is not shared
