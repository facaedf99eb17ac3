"""Device features for a residual that works across devices: one fixed, versioned list.

A cross-device residual sees a kernel *and* the device it runs on, so a device
known only from its spec sheet still gets a learned correction. Two parts:

* :data:`DEVICE_FEATURES` describe the device alone (from :class:`~hybridperf.spec.DeviceSpec`):
  log peak FLOP/s per precision, log DRAM bandwidth, L2 capacity, compute-unit (SM) count,
  FP32 lanes per unit, clock, launch overhead and the ridge point (peak / bandwidth);
* :data:`DERIVED_FEATURES` combine a kernel's costs and GEMM view with the device and put
  different hardware in the same units: roofline times, arithmetic intensity over the ridge
  point, waves of output tiles over the SMs and the last wave's occupancy (the "tail") for a
  fixed nominal tile, waves of element-wise blocks, and the working set over the L2 capacity.

Waves, with ``T`` output tiles on ``U`` compute units::

    waves = T / U              tail = T / (ceil(T / U) x U)

e.g. a 512 x 512 GEMM in 128 x 128 tiles is 16 tiles: on 40 SMs 0.4 waves, tail 16/40 = 0.4;
on 108 SMs 0.148 waves, tail 16/108. The *wave time* prices whole waves: each wave costs one
tile's FLOPs (``2 x tile_m x tile_n x K``) at one SM's share of the peak, so
``wave_time = ceil(T / U) x 2 x tile_m x tile_n x K / (peak / U)`` (a GEMM that fills a tenth of
one wave still takes a full wave's time).

Everything here is a pure function of numbers (numpy arrays broadcast), imports only
:mod:`hybridperf.spec`, and every log is ``log(x + eps)`` of an SI quantity. Changing a name,
its order or its meaning bumps :data:`DEVICE_FEATURES_VERSION`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hybridperf.spec import DeviceSpec

DEVICE_FEATURES_VERSION = "1"

#: output tiles of a nominal GEMM kernel (rows x columns of C per thread block): a large and a small one,
#: since libraries pick among sizes like these and the two wave counts bracket the choice
GEMM_TILES: tuple[tuple[int, int], ...] = ((128, 128), (64, 64))
#: elements handled by one thread block of a nominal element-wise kernel (128 threads x 4 elements)
ELEMENTWISE_BLOCK_ELEMS = 512
#: precisions whose peak is a feature (fp16 falls back to fp32 where a device lists none)
FEATURE_PRECISIONS = ("fp32", "fp16")

DEVICE_FEATURES: tuple[str, ...] = (
    "log_peak_fp32_flops_per_s",
    "log_peak_fp16_flops_per_s",
    "log_dram_bytes_per_s",
    "log_l2_bytes",
    "compute_units",
    "fp32_lanes_per_unit",
    "log_clock_hz",
    "log_launch_overhead_s",
    "log_ridge_flop_per_byte",
)

DERIVED_FEATURES: tuple[str, ...] = (
    "log_roofline_s",
    "log_compute_s",
    "log_memory_s",
    "log_launch_over_work",
    "log_intensity_over_ridge",
    "log_working_set_over_l2",
    *(f"log_waves_{m}x{n}" for m, n in GEMM_TILES),
    *(f"tail_{m}x{n}" for m, n in GEMM_TILES),
    *(f"log_wave_time_{m}x{n}_over_roofline" for m, n in GEMM_TILES),
    "log_waves_elementwise",
    "tail_elementwise",
    "log_flops_per_unit",
)

_EPS = 1e-12


def _log(x) -> np.ndarray:
    return np.log(np.maximum(np.asarray(x, float), 0.0) + _EPS)


@dataclass(frozen=True)
class DeviceFigures:
    """The sheet figures the features use, in SI units.

    Attributes
    ----------
    peak_flops_per_s : float
        Dense peak of the priced precision.
    peak_fp16_flops_per_s : float
        Dense fp16 peak (fp32 where the sheet lists none, as :meth:`DeviceSpec.peak_flops` falls back).
    dram_bytes_per_s : float
        Effective DRAM bandwidth (attainable where measured, else the sheet peak).
    l2_bytes : float
        Last on-chip cache level (``l2``, else ``llc``); 0 where the sheet has none.
    compute_units : int
        SMs / CUs / cores; 1 where the sheet gives none.
    fp32_lanes_per_unit : int
        FP32 lanes per compute unit; 0 where unknown.
    clock_hz : float
        Boost clock; 0 where unknown.
    launch_overhead_s : float
        The sheet's per-launch overhead.
    """

    peak_flops_per_s: float
    peak_fp16_flops_per_s: float
    dram_bytes_per_s: float
    l2_bytes: float
    compute_units: int
    fp32_lanes_per_unit: int
    clock_hz: float
    launch_overhead_s: float

    @classmethod
    def from_spec(cls, spec: DeviceSpec, precision: str = "fp32") -> DeviceFigures:
        """Figures of ``spec`` for kernels computed in ``precision``."""
        cache = spec.memory.get("l2") or spec.memory.get("llc")
        return cls(
            peak_flops_per_s=spec.peak_flops(precision),
            peak_fp16_flops_per_s=spec.peak_flops("fp16"),
            dram_bytes_per_s=spec.dram_bandwidth_bytes_per_s,
            l2_bytes=float(cache.capacity_bytes or 0.0) if cache else 0.0,
            compute_units=int(spec.compute_unit_count or 1),
            fp32_lanes_per_unit=int(spec.fp32_lanes_per_unit or 0),
            clock_hz=float(spec.boost_clock_hz or 0.0),
            launch_overhead_s=spec.launch_overhead_s,
        )

    @property
    def ridge_flop_per_byte(self) -> float:
        """Arithmetic intensity at which compute and DRAM time are equal: peak / bandwidth."""
        return self.peak_flops_per_s / self.dram_bytes_per_s


def device_vector(figures: DeviceFigures) -> np.ndarray:
    """The :data:`DEVICE_FEATURES` of one device, shape ``(len(DEVICE_FEATURES),)``."""
    f = figures
    return np.array(
        [
            math.log(f.peak_flops_per_s),
            math.log(f.peak_fp16_flops_per_s),
            math.log(f.dram_bytes_per_s),
            math.log(f.l2_bytes + 1.0),
            float(f.compute_units),
            float(f.fp32_lanes_per_unit),
            math.log(f.clock_hz + 1.0),
            math.log(f.launch_overhead_s),
            math.log(f.ridge_flop_per_byte),
        ]
    )


def waves(tiles, units: int):
    """Waves of ``tiles`` work items over ``units`` compute units and the last wave's occupancy.

    Returns
    -------
    (waves, tail) : arrays
        ``waves = tiles / units`` (fractional); ``tail = tiles / (ceil(tiles / units) * units)``,
        1 when every wave is full, 1 / units for one tile; 1 where there are no tiles.
    """
    t = np.asarray(tiles, float)
    full = np.ceil(t / units) * units
    tail = np.where(t > 0, t / np.maximum(full, 1.0), 1.0)
    return t / units, tail


def gemm_tiles(m, n, batch, tile_m: int, tile_n: int):
    """Output tiles of a batched ``(m x k) @ (k x n)`` GEMM: ``batch x ceil(m / tile_m) x ceil(n / tile_n)``."""
    m, n, batch = (np.asarray(v, float) for v in (m, n, batch))
    return batch * np.ceil(m / tile_m) * np.ceil(n / tile_n)


def conv_as_gemm(batch, in_channels, out_channels, kernel, out_size):
    """The implicit-GEMM view of a square 2-D convolution: ``(M, N, K) = (B x out^2, C_out, C_in x k^2)``."""
    b, ci, co, k, o = (np.asarray(v, float) for v in (batch, in_channels, out_channels, kernel, out_size))
    return b * o * o, co, ci * k * k


def wave_time_s(gemm_m, gemm_n, gemm_k, gemm_batch, tile_m: int, tile_n: int, figures: DeviceFigures):
    """Compute time of a GEMM priced in whole waves of ``tile_m x tile_n`` output tiles (see module docstring)."""
    tiles = gemm_tiles(gemm_m, gemm_n, gemm_batch, tile_m, tile_n)
    u = figures.compute_units
    per_tile = 2.0 * tile_m * tile_n * np.asarray(gemm_k, float)
    return np.ceil(tiles / u) * per_tile / (figures.peak_flops_per_s / u)


def derived_features(flops, nbytes, gemm_m, gemm_n, gemm_k, gemm_batch, elems, figures: DeviceFigures,
                     roofline_s, compute_s, memory_s) -> np.ndarray:
    """The :data:`DERIVED_FEATURES` of kernels on one device, shape ``(n, len(DERIVED_FEATURES))``.

    Parameters
    ----------
    flops, nbytes : arrays
        The kernels' FLOPs and DRAM bytes (from the cost rules).
    gemm_m, gemm_n, gemm_k, gemm_batch : arrays
        GEMM view (output rows, columns, reduction, batch); 0 rows for kernels that are not GEMMs,
        whose GEMM waves and wave times are then 0 and tails 1.
    elems : arrays
        Output elements (element-wise block waves).
    figures : DeviceFigures
    roofline_s, compute_s, memory_s : arrays
        The roofline's total, compute and memory times of each kernel on this device.
    """
    f = figures
    flops, nbytes = np.asarray(flops, float), np.asarray(nbytes, float)
    work = np.maximum(np.asarray(compute_s, float), np.asarray(memory_s, float))
    intensity = flops / np.maximum(nbytes, 1.0)
    cols = [
        _log(roofline_s),
        _log(compute_s),
        _log(memory_s),
        _log(f.launch_overhead_s) - _log(work),
        _log(intensity) - math.log(f.ridge_flop_per_byte),
        _log(nbytes) - math.log(f.l2_bytes + 1.0),
    ]
    wv, tl = [], []
    for tm, tn in GEMM_TILES:
        w, t = waves(gemm_tiles(gemm_m, gemm_n, gemm_batch, tm, tn), f.compute_units)
        wv.append(_log(w))
        tl.append(t)
    ew, et = waves(np.ceil(np.asarray(elems, float) / ELEMENTWISE_BLOCK_ELEMS), f.compute_units)
    wt = [_log(wave_time_s(gemm_m, gemm_n, gemm_k, gemm_batch, tm, tn, f)) - _log(roofline_s) for tm, tn in GEMM_TILES]
    cols += [*wv, *tl, *wt, _log(ew), et, _log(flops / f.compute_units)]
    return np.column_stack([np.broadcast_to(np.asarray(c, float), flops.shape) for c in cols])


__all__ = [
    "DERIVED_FEATURES",
    "DEVICE_FEATURES",
    "DEVICE_FEATURES_VERSION",
    "DeviceFigures",
    "ELEMENTWISE_BLOCK_ELEMS",
    "GEMM_TILES",
    "conv_as_gemm",
    "derived_features",
    "device_vector",
    "gemm_tiles",
    "wave_time_s",
    "waves",
]
