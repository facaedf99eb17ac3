"""Device-relative kernel features for a residual that works across devices: one fixed, versioned list.

A cross-device residual sees a kernel *and* the device it runs on, so a device known only
from its spec sheet still gets a learned correction. With a handful of training GPUs, raw
device figures (log peak, SM count, clock, ...) let trees learn "which GPU" instead of "what
the hardware does", and that does not transfer to a new device. So every device-dependent
feature here is a dimensionless ratio of the kernel's work to the device's capacity, and the
target is normalised by a physical baseline:

* **baseline** ``base_s = max(compute_s, memory_s, floor_s)`` with ``compute_s = flops / peak``
  (sheet fp32 peak; for matmuls of two activations the probed GEMM rate where the caller passes
  :meth:`RuntimeProbe.gemm_figures`), ``memory_s = bytes / dram_bandwidth`` and ``floor_s`` the
  runtime's per-call floor (:class:`RuntimeProbe`);
* **features** (:data:`DERIVED_FEATURES`): work over the floor, compute over memory time
  (arithmetic intensity over the ridge point), working set over L2, and for each nominal GEMM
  tile in :data:`GEMM_TILES` the waves of output tiles over the SMs, the last wave's occupancy
  ("tail") and the whole-wave time over the ideal compute time; waves of element-wise blocks.

Waves, with ``T`` output tiles on ``U`` compute units::

    waves = T / U              tail = T / (ceil(T / U) x U)

e.g. a 512 x 512 GEMM in 128 x 128 tiles is 16 tiles: on 40 SMs 0.4 waves, tail 16/40 = 0.4;
on 108 SMs 0.148 waves, tail 16/108. The *wave time* prices whole waves: each wave costs one
tile's FLOPs (``2 x tile_m x tile_n x K``) at one SM's share of the peak, so
``wave_time = ceil(T / U) x 2 x tile_m x tile_n x K / (peak / U)`` (a GEMM that fills a tenth of
one wave still takes a full wave's time); the feature is ``wave_time / compute_s`` (>= 1).

The tiles are fixed a priori (cuBLAS / cuDNN fp32 kernels on Pascal to Ampere are named by
their C tile: 128x128, 128x64, 64x64, 256x128, 32x128), not chosen on data.

Everything here is a pure function of numbers (numpy arrays broadcast), imports only
:mod:`hybridperf.device.spec`, and every log is ``log(x + eps)`` of an SI quantity. Changing a name,
its order or its meaning bumps :data:`DEVICE_FEATURES_VERSION`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hybridperf.device.spec import DeviceSpec

DEVICE_FEATURES_VERSION = "3"

#: output tiles (rows x columns of C per thread block) of nominal GEMM kernels, fixed a priori
GEMM_TILES: tuple[tuple[int, int], ...] = ((128, 128), (128, 64), (64, 64), (256, 128), (32, 128))
#: elements per FP32 lane in one wave of a nominal element-wise kernel (a few resident threads per lane)
ELEMENTWISE_ELEMS_PER_LANE = 8

DERIVED_FEATURES: tuple[str, ...] = (
    "log_work_over_floor",
    "log_compute_over_memory",
    "log_working_set_over_l2",
    *(f"log_waves_{m}x{n}" for m, n in GEMM_TILES),
    *(f"tail_{m}x{n}" for m, n in GEMM_TILES),
    *(f"log_wave_time_{m}x{n}_over_compute" for m, n in GEMM_TILES),
    "log_waves_elementwise",
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
    dram_bytes_per_s : float
        Effective DRAM bandwidth (attainable where the sheet gives one, else its peak).
    l2_bytes : float
        Last on-chip cache level (``l2``, else ``llc``); 0 where the sheet has none.
    compute_units : int
        SMs / CUs / cores; 1 where the sheet gives none.
    fp32_lanes_per_unit : int
        FP32 lanes per compute unit; 64 where unknown.
    """

    peak_flops_per_s: float
    dram_bytes_per_s: float
    l2_bytes: float
    compute_units: int
    fp32_lanes_per_unit: int

    @classmethod
    def from_spec(cls, spec: DeviceSpec, precision: str = "fp32") -> DeviceFigures:
        """Figures of ``spec`` for kernels computed in ``precision``."""
        cache = spec.memory.get("l2") or spec.memory.get("llc")
        return cls(
            peak_flops_per_s=spec.peak_flops(precision),
            dram_bytes_per_s=spec.dram_bandwidth_bytes_per_s,
            l2_bytes=float(cache.capacity_bytes or 0.0) if cache else 0.0,
            compute_units=int(spec.compute_unit_count or 1),
            fp32_lanes_per_unit=int(spec.fp32_lanes_per_unit or 64),
        )

    @property
    def ridge_flop_per_byte(self) -> float:
        """Arithmetic intensity at which compute and DRAM time are equal: peak / bandwidth."""
        return self.peak_flops_per_s / self.dram_bytes_per_s


@dataclass(frozen=True)
class RuntimeProbe:
    """What a runtime on a host adds to the sheet: measured once with tiny probes, or defaulted.

    Attributes
    ----------
    dispatch_floor_s : float
        Per-call floor of the execution mode (PyTorch eager: framework dispatch + one launch,
        tens of microseconds; CUDA graphs: a few). Measured by timing a tiny element-wise op.
    stream_bytes_per_s : float or None
        Attainable DRAM bandwidth from one large element-wise op (a STREAM-like probe);
        None: the sheet's bandwidth scaled by the training devices' median attainable fraction.
    gemm_flops_per_s : float or None
        Attainable fp32 throughput of one large GEMM of two activations (``hybridperf probe``:
        square ``n = 8192`` ``torch.matmul``, TF32 off). Where given, matmuls in that layout are priced
        at it instead of the sheet peak (:meth:`gemm_figures`); None: the sheet peak scaled by the
        training devices' median GEMM efficiency (probe / sheet peak).
    """

    dispatch_floor_s: float
    stream_bytes_per_s: float | None = None
    gemm_flops_per_s: float | None = None

    def __post_init__(self):
        if not self.dispatch_floor_s > 0:
            raise ValueError(f"dispatch_floor_s must be > 0, got {self.dispatch_floor_s}")
        for name in ("stream_bytes_per_s", "gemm_flops_per_s"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ValueError(f"{name} must be > 0, got {v}")

    def gemm_figures(self, figures: DeviceFigures) -> DeviceFigures:
        """``figures`` with the peak replaced by the probed GEMM rate (unchanged without a GEMM probe)."""
        if self.gemm_flops_per_s is None:
            return figures
        return replace(figures, peak_flops_per_s=self.gemm_flops_per_s)


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


def work_times(flops, nbytes, figures: DeviceFigures, stream_bytes_per_s: float | None = None):
    """``(compute_s, memory_s)``: FLOPs at the sheet peak, bytes at the probed (else sheet) bandwidth."""
    bw = stream_bytes_per_s or figures.dram_bytes_per_s
    return np.asarray(flops, float) / figures.peak_flops_per_s, np.asarray(nbytes, float) / bw


def base_latency_s(flops, nbytes, figures: DeviceFigures, probe: RuntimeProbe) -> np.ndarray:
    """The physical baseline the residual corrects: ``max(compute_s, memory_s, dispatch_floor_s)``."""
    compute_s, memory_s = work_times(flops, nbytes, figures, probe.stream_bytes_per_s)
    return np.maximum(np.maximum(compute_s, memory_s), probe.dispatch_floor_s)


def derived_features(flops, nbytes, gemm_m, gemm_n, gemm_k, gemm_batch, elems, figures: DeviceFigures,
                     probe: RuntimeProbe) -> np.ndarray:
    """The :data:`DERIVED_FEATURES` of kernels on one device, shape ``(n, len(DERIVED_FEATURES))``.

    Parameters
    ----------
    flops, nbytes : arrays
        The kernels' FLOPs and DRAM bytes (from the cost rules).
    gemm_m, gemm_n, gemm_k, gemm_batch : arrays
        GEMM view (output rows, columns, reduction, batch); 0 rows for kernels that are not GEMMs,
        whose GEMM waves are then 0, tails 1 and wave-time ratios 0.
    elems : arrays
        Output elements (element-wise waves).
    figures : DeviceFigures
    probe : RuntimeProbe
        Dispatch floor and (optional) attainable bandwidth of the runtime on this device.
    """
    f = figures
    flops, nbytes = np.asarray(flops, float), np.asarray(nbytes, float)
    compute_s, memory_s = work_times(flops, nbytes, f, probe.stream_bytes_per_s)
    work = np.maximum(compute_s, memory_s)
    cols = [
        _log(work) - np.log(probe.dispatch_floor_s),
        _log(compute_s) - _log(memory_s),
        _log(nbytes) - np.log(f.l2_bytes + 1.0),
    ]
    wv, tl, wt = [], [], []
    for tm, tn in GEMM_TILES:
        w, t = waves(gemm_tiles(gemm_m, gemm_n, gemm_batch, tm, tn), f.compute_units)
        wv.append(_log(w))
        tl.append(t)
        ideal = np.where(compute_s > 0, compute_s, 1.0)
        wt.append(np.where(w > 0, _log(wave_time_s(gemm_m, gemm_n, gemm_k, gemm_batch, tm, tn, f) / ideal), 0.0))
    lanes = f.compute_units * f.fp32_lanes_per_unit * ELEMENTWISE_ELEMS_PER_LANE
    cols += [*wv, *tl, *wt, _log(np.asarray(elems, float) / lanes)]
    return np.column_stack([np.broadcast_to(np.asarray(c, float), flops.shape) for c in cols])


__all__ = [
    "DERIVED_FEATURES",
    "DEVICE_FEATURES_VERSION",
    "DeviceFigures",
    "ELEMENTWISE_ELEMS_PER_LANE",
    "GEMM_TILES",
    "RuntimeProbe",
    "base_latency_s",
    "conv_as_gemm",
    "derived_features",
    "gemm_tiles",
    "wave_time_s",
    "waves",
    "work_times",
]
