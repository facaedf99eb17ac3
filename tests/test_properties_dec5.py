"""Metamorphic relations of the roofline and the runtime composition rules (audit of 2026-12-05).

The audit checked these across models, sheets, runtimes and precisions through the Python API and found them
holding; these tests pin them on a toy sheet so that a change to the pure functions cannot break them unseen.
"""

import itertools

import pytest
from test_roofline import q

from hybridperf.costs import OpCost
from hybridperf.device.spec import parse_spec
from hybridperf.estimate.execution import Composition, execution
from hybridperf.estimate.roofline import roofline
from hybridperf.estimate.runtime_memory import Runtime


def sheet(compute=1.0, bandwidth=1.0):
    """A toy GPU sheet with its peaks times ``compute`` and its DRAM bandwidth times ``bandwidth``."""
    return parse_spec(
        {
            "schema_version": 1,
            "id": "toy",
            "name": "Toy device",
            "kind": "gpu",
            "peak_compute": {"fp32": q(10 * compute, "TFLOP/s"), "fp16": q(100 * compute, "TFLOP/s")},
            "memory": {"dram": {"bandwidth": q(1000 * bandwidth, "GB/s"), "capacity": q(16, "GB")}},
            "launch_overhead": q(5, "us"),
            "power": {"idle": q(50, "W"), "max": q(300, "W")},
            "energy": {"per_mac": {"fp32": q(2 / compute, "pJ"), "fp16": q(0.5 / compute, "pJ")},
                       "per_byte": {"dram": q(10, "pJ")}},
        },
        "<toy>",
    )


COSTS = [OpCost(flops=f, bytes_read=r, bytes_written=w)
         for f, r, w in itertools.product((0, 2 * 10**6, 2 * 10**9), (0, 10**4, 10**8), (0, 10**6))]


@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_faster_sheet_never_slower(cost, precision):
    base = roofline(cost, sheet(), precision).latency_s
    assert roofline(cost, sheet(compute=2, bandwidth=2), precision).latency_s <= base
    assert roofline(cost, sheet(bandwidth=2), precision).latency_s <= base
    assert roofline(cost, sheet(compute=2), precision).latency_s <= base


@pytest.mark.parametrize("cost", COSTS)
def test_roofline_at_least_each_bound_and_energy_at_least_idle(cost):
    spec = sheet()
    e = roofline(cost, spec, "fp32")
    assert e.latency_s >= cost.flops / 10e12  # FLOPs / fp32 peak
    assert e.latency_s >= cost.bytes_total / 1000e9  # bytes / bandwidth
    assert e.latency_s > 0  # launched: at least the launch overhead
    assert e.energy_j >= 50 * e.latency_s  # idle power x latency
    assert e.energy_j > 0


@pytest.mark.parametrize("cost", COSTS)
def test_roofline_of_twice_the_work_is_not_less(cost):
    double = OpCost(2 * cost.flops, 2 * cost.bytes_read, 2 * cost.bytes_written)
    assert roofline(double, sheet(), "fp32").latency_s >= roofline(cost, sheet(), "fp32").latency_s


@pytest.mark.parametrize("runtime", list(Runtime)[:4])
@pytest.mark.parametrize("kind", ["gpu", "cpu"])
def test_composition_rules(runtime, kind):
    ex = execution(runtime, kind)
    host, device = [3e-6, 4e-6], [1e-6, 2e-6]
    got = ex.compose(host, device)
    if kind == "cpu":
        assert ex.composition is Composition.SERIAL
        assert got == pytest.approx(7e-6 + 3e-6)  # host + device, no sync
    elif ex.composition is Composition.ASYNC:
        assert got == pytest.approx(max(7e-6, 3e-6) + ex.sync_s)
    else:
        assert got == pytest.approx(3e-6 + ex.sync_s)
    # more device time never makes the model faster
    assert ex.compose(host, [d * 2 for d in device]) >= got


def test_cudagraph_never_slower_than_eager_on_the_same_kernels():
    host, device = [9e-6] * 5, [1e-6] * 5
    eager = execution(Runtime.TORCH, "gpu")
    graph = execution(Runtime.TORCH_CUDAGRAPH, "gpu")
    assert graph.compose(graph.host_times(5, 9e-6), device) <= eager.compose(eager.host_times(5, 9e-6), device)
    assert eager.compose(host, device) == pytest.approx(5 * 9e-6 + eager.sync_s)  # host-bound + sync
