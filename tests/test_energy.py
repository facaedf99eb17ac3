"""Energy golden values, written as arithmetic.

energy = MACs x pJ/MAC[precision] + bytes x pJ/byte[dram] (dynamic) + idle W x latency (static),
with MACs = FLOPs / 2.
"""

import pytest

from hybridperf.costs import OpCost
from hybridperf.device.spec import parse_spec
from hybridperf.estimate.roofline import ZERO, Bound, energy_dynamic_j, roofline

PJ = 1e-12


def q(value, unit):
    return {"value": value, "unit": unit, "source": "test"}


def toy(per_mac=None, peaks=None, per_byte=10):
    """10 TFLOP/s fp32, 100 TFLOP/s fp16, 1000 GB/s, 5 us launch, 50 W idle."""
    return parse_spec(
        {
            "schema_version": 1,
            "id": "toy",
            "name": "Toy device",
            "kind": "gpu",
            "peak_compute": peaks or {"fp32": q(10, "TFLOP/s"), "fp16": q(100, "TFLOP/s")},
            "memory": {"dram": {"bandwidth": q(1000, "GB/s"), "capacity": q(16, "GB")}},
            "launch_overhead": q(5, "us"),
            "power": {"idle": q(50, "W"), "max": q(300, "W")},
            "energy": {
                "per_mac": per_mac or {"fp32": q(2, "pJ"), "fp16": q(0.5, "pJ")},
                "per_byte": {"dram": q(per_byte, "pJ")},
            },
        },
        "<toy>",
    )


@pytest.fixture()
def spec():
    return toy()


def test_compute_bound(spec):
    c = OpCost(flops=2 * 10**9, bytes_read=10**6, bytes_written=10**6)
    e = roofline(c, spec, "fp32")
    assert e.bound is Bound.COMPUTE
    latency = 2e9 / 10e12 + 5e-6  # 205 us
    dynamic = 1e9 * 2 * PJ + 2e6 * 10 * PJ  # 1e9 MACs x 2 pJ + 2 MB x 10 pJ = 2.02 mJ
    assert e.dynamic_energy_j == pytest.approx(dynamic)
    assert e.energy_j == pytest.approx(dynamic + 50 * latency)  # + 50 W x 205 us = 10.25 mJ


def test_memory_bound(spec):
    c = OpCost(flops=10**6, bytes_read=4 * 10**8, bytes_written=10**8)
    e = roofline(c, spec, "fp32")
    assert e.bound is Bound.MEMORY
    latency = 5e8 / 1000e9 + 5e-6  # 505 us
    dynamic = 5e5 * 2 * PJ + 5e8 * 10 * PJ  # 1 uJ of MACs + 5 mJ of traffic
    assert e.dynamic_energy_j == pytest.approx(dynamic)
    assert e.energy_j == pytest.approx(dynamic + 50 * latency)


def test_overhead_bound(spec):
    c = OpCost(flops=100, bytes_read=400)
    e = roofline(c, spec, "fp32")
    assert e.bound is Bound.OVERHEAD
    latency = max(100 / 10e12, 400 / 1000e9) + 5e-6
    dynamic = 50 * 2 * PJ + 400 * 10 * PJ
    assert e.energy_j == pytest.approx(dynamic + 50 * latency)
    assert e.energy_j == pytest.approx(50 * 5e-6, rel=1e-3)  # the idle power during the launch dominates


def test_zero_cost(spec):
    assert roofline(OpCost(flops=100, bytes_read=400), spec, "fp32", launches=0) is ZERO
    assert ZERO.energy_j == 0.0 and ZERO.dynamic_energy_j == 0.0
    launched = roofline(OpCost(), spec, "fp32")  # nothing to do, but launched: idle power x overhead
    assert launched.dynamic_energy_j == 0.0
    assert launched.energy_j == pytest.approx(50 * 5e-6)


def test_per_precision_table(spec):
    c = OpCost(flops=2 * 10**9)
    assert energy_dynamic_j(c, spec, "fp32") == pytest.approx(1e9 * 2 * PJ)
    assert energy_dynamic_j(c, spec, "fp16") == pytest.approx(1e9 * 0.5 * PJ)
    e = roofline(c, spec, "fp16")
    assert e.energy_j == pytest.approx(1e9 * 0.5 * PJ + 50 * (2e9 / 100e12 + 5e-6))


def test_precision_fallback(spec):
    c = OpCost(flops=2 * 10**9, bytes_read=10**6)
    # bf16 -> fp16 (peak and energy), tf32 -> fp32, int8 -> fp16 on this device
    assert roofline(c, spec, "bf16").energy_j == pytest.approx(roofline(c, spec, "fp16").energy_j)
    assert roofline(c, spec, "tf32").energy_j == pytest.approx(roofline(c, spec, "fp32").energy_j)
    e8 = roofline(c, spec, "int8")
    assert e8.precision == "fp16"
    assert e8.dynamic_energy_j == pytest.approx(1e9 * 0.5 * PJ + 1e6 * 10 * PJ)


def test_energy_follows_the_precision_the_compute_runs_at():
    s = toy(peaks={"fp32": q(10, "TFLOP/s")})  # no fp16 units, but an fp16 energy entry
    e = roofline(OpCost(flops=2 * 10**9), s, "fp16")
    assert e.precision == "fp32"
    assert e.dynamic_energy_j == pytest.approx(1e9 * 2 * PJ)


def test_missing_energy_entry_is_rejected_at_load():
    """A precision with a peak but no pJ/MAC entry would price its MACs at a silent 0 J: the spec is refused."""
    from hybridperf.errors import SpecError

    with pytest.raises(SpecError, match="energy.per_mac.fp32"):
        toy(per_mac={"fp16": q(0.5, "pJ")})


def test_model_energy_is_sum_of_kernels(spec):
    """Model energy = sum over kernels = dynamic + idle power x roofline latency."""
    import onnx_models

    from hybridperf.api import analyze, predict_on

    model, _ = onnx_models.resnet_like(1)
    an = analyze(model, batch=1)
    pred = predict_on(an, spec, residual=None)
    assert pred.energy_j == pytest.approx(sum(k.estimate.energy_j for k in pred.kernels))
    dynamic = sum(k.estimate.dynamic_energy_j for k in pred.kernels)
    assert pred.energy_j == pytest.approx(dynamic + 50 * pred.roofline_latency_s)
    macs = sum(k.kernel.cost.flops for k in pred.kernels if k.kernel.counts_toward_time) / 2
    traffic = sum(k.kernel.cost.bytes_total for k in pred.kernels if k.kernel.counts_toward_time)
    assert dynamic == pytest.approx(macs * 2 * PJ + traffic * 10 * PJ)
    # fp16 override: 0.5 pJ/MAC and half the (float32) traffic
    half = predict_on(an, spec, "fp16", residual=None)
    half_dyn = sum(k.estimate.dynamic_energy_j for k in half.kernels)
    assert half_dyn == pytest.approx(macs * 0.5 * PJ + traffic / 2 * 10 * PJ, rel=1e-3)
