"""Roofline latency and energy of one op or kernel: pure functions of (cost, spec).

latency = max(flops / peak_flops[precision], dram bytes / dram_bandwidth + llc bytes / llc_bandwidth
              + l2 bytes / l2_bandwidth) + launch overhead

where ``llc bytes`` and ``l2 bytes`` (:attr:`~hybridperf.costs.OpCost.llc_bytes_read`, ``l2_bytes_read``: a recurrent
layer's weights re-read from a cache) are 0 but on a CPU sheet that gives that cache's rate, and ``dram bytes`` is the
rest.

On a slice of the device (a MIG profile) holding ``compute_share`` of its compute and
``memory_share`` of its DRAM bandwidth, the two terms are divided by those shares; the
launch overhead is unchanged.

energy  = MACs x pJ/MAC[precision] + bytes x pJ/byte[dram]     (dynamic)
        + idle_power x latency                                  (static)

The pJ/MAC is that of the precision the compute runs at (the peak's fallback, e.g. fp32's for an int8 kernel on a
sheet without an int8 peak). One kernel's energy is not capped here: a prediction's total is capped at max power x
its latency by :func:`hybridperf.estimate.pricing.bounded_energy`, which says so in its note.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hybridperf.costs import FLOPS_PER_MAC, OpCost
from hybridperf.device.spec import DeviceSpec


class Bound(str, enum.Enum):
    COMPUTE = "compute"
    MEMORY = "memory"
    OVERHEAD = "overhead"
    NONE = "none"  # zero-cost: nothing launched


@dataclass(frozen=True)
class RooflineEstimate:
    """Latency and energy of one op or kernel on one device."""

    latency_s: float
    compute_s: float
    memory_s: float
    overhead_s: float
    bound: Bound
    energy_j: float
    dynamic_energy_j: float
    precision: str


ZERO = RooflineEstimate(0.0, 0.0, 0.0, 0.0, Bound.NONE, 0.0, 0.0, "none")


def roofline(
    cost: OpCost,
    spec: DeviceSpec,
    precision: str = "fp32",
    launches: int = 1,
    compute_share: float = 1.0,
    memory_share: float = 1.0,
    in_node: bool = False,
) -> RooflineEstimate:
    """Roofline estimate for ``cost`` executed as ``launches`` kernel launches, on the whole
    device or on a slice with ``compute_share`` / ``memory_share`` of it (both in (0, 1]).

    An op with neither FLOPs nor bytes that is still launched costs the launch
    overhead (bound ``overhead``); pass ``launches=0`` for work that is not
    launched at all (views), which returns :data:`ZERO`. ``in_node``: work the runtime does inside a node another
    kernel's launch pays for (an unrolled recurrent layer's gates, which onnxruntime computes inside its one
    ``LSTM`` node): its work without the launch overhead.
    """
    if launches == 0:
        return ZERO
    peak = spec.peak_flops(precision)
    bw = spec.dram_bandwidth_bytes_per_s
    compute_s = cost.flops / peak / compute_share if cost.flops else 0.0
    memory_s = cost.bytes_total / bw / memory_share if cost.bytes_total else 0.0
    for cached, rate in ((cost.llc_bytes_read, spec.llc_bandwidth_bytes_per_s),
                         (cost.l2_bytes_read, spec.l2_bandwidth_bytes_per_s)):
        if cached and rate:
            memory_s += cached * (1.0 / rate - 1.0 / bw) / memory_share
    overhead_s = 0.0 if in_node else spec.launch_overhead_s * launches
    work_s = max(compute_s, memory_s)
    if not work_s and not overhead_s:  # in a node, nothing to do (no FLOPs, no bytes): bound by nothing
        bound = Bound.NONE
    elif work_s < overhead_s:
        bound = Bound.OVERHEAD
    elif compute_s >= memory_s:
        bound = Bound.COMPUTE
    else:
        bound = Bound.MEMORY
    latency_s = work_s + overhead_s
    dyn = energy_dynamic_j(cost, spec, precision)
    return RooflineEstimate(
        latency_s=latency_s,
        compute_s=compute_s,
        memory_s=memory_s,
        overhead_s=overhead_s,
        bound=bound,
        energy_j=dyn + spec.idle_power_w * latency_s,
        dynamic_energy_j=dyn,
        precision=spec.resolve_precision(precision),
    )


def energy_dynamic_j(cost: OpCost, spec: DeviceSpec, precision: str) -> float:
    """Dynamic energy: MACs x pJ/MAC + DRAM bytes x pJ/byte.

    The pJ/MAC is that of the precision the compute actually runs at
    (:meth:`DeviceSpec.resolve_precision`); spec loading guarantees an entry for
    every precision with a peak and for DRAM, so nothing is priced at 0 J.
    """
    pj_mac = spec.energy_pj_per_mac[spec.resolve_precision(precision)]
    pj_byte = spec.energy_pj_per_byte["dram"]
    macs = cost.flops / FLOPS_PER_MAC
    return (macs * pj_mac + cost.bytes_total * pj_byte) * 1e-12
