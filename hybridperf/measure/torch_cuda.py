"""Ground-truth measurements of PyTorch models on a CUDA GPU.

Two entry points, both importing torch lazily (torch is an optional extra):

* :func:`measure_cuda` times one model on one input: latency distribution from
  CUDA events, peak allocated memory around one inference, and energy per
  inference from NVML's cumulative energy counter.
* :func:`probe_cuda` measures the device itself: dense GEMM throughput per
  precision, device-to-device copy bandwidth, launch overhead, idle power.

These numbers are the targets the roofline + residual model is calibrated
against and the "measured" figures of a ``hybridperf/data/hw_specs/*-measured.yaml`` sheet.
Nothing here prints or changes global state for longer than one call (the
float32 matmul precision is restored after each use).
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

from hybridperf.costs import FLOPS_PER_MAC
from hybridperf.errors import error_line


@dataclass(frozen=True)
class TorchMeasurement:
    """Measured cost of one model at one input shape on one CUDA device.

    Latencies are per inference with the GPU synchronised after each one (the
    latency a caller waiting for the result sees, launch overhead included).
    Energy is the NVML counter delta over a back-to-back loop of at least
    ``energy_window_s`` seconds, divided by ``energy_iterations``; it is the
    whole board's energy (idle draw included), ``None`` without NVML.
    """

    latency_median_s: float
    latency_mean_s: float
    latency_p10_s: float
    latency_p90_s: float
    latency_min_s: float
    latency_std_s: float | None  # None: one timed run has no spread (unknown, not 0)
    repeats: int
    peak_memory_bytes: int  # max_memory_allocated during one inference (weights + inputs + activations)
    activation_peak_bytes: int  # peak minus what was allocated just before the inference
    weights_bytes: int  # parameters + buffers
    energy_per_inference_j: float | None
    avg_power_w: float | None
    energy_iterations: int
    energy_window_s: float
    throughput_latency_s: float  # wall time per inference in the back-to-back energy loop

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _percentile(sorted_xs: list[float], q: float) -> float:
    """Linear-interpolated percentile, ``q`` in [0, 100]."""
    if len(sorted_xs) == 1:
        return sorted_xs[0]
    pos = (len(sorted_xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


class _Nvml:
    """Thin NVML handle for the current CUDA device; ``ok`` is False without NVML."""

    def __init__(self, device_index: int):
        self.ok = False
        self.handle = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            try:
                import torch

                bus = torch.cuda.get_device_properties(device_index).pci_bus_id
                self.handle = pynvml.nvmlDeviceGetHandleByPciBusId(bus)
            except Exception:  # noqa: BLE001 - older torch has no pci_bus_id
                self.handle = pynvml.nvmlDeviceGetHandleByIndex(device_index)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
            self.ok = True
        except Exception:  # noqa: BLE001 - no NVML, no energy: reported as None
            self.ok = False

    def energy_j(self) -> float:
        return self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1e3  # mJ -> J

    def power_w(self) -> float:
        return self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1e3  # mW -> W

    def info(self) -> dict[str, Any]:
        if not self.ok:
            return {}
        n = self.nvml
        out: dict[str, Any] = {}
        for key, fn in (
            ("driver_version", lambda: n.nvmlSystemGetDriverVersion()),
            ("power_limit_w", lambda: n.nvmlDeviceGetEnforcedPowerLimit(self.handle) / 1e3),
            ("power_limit_default_w", lambda: n.nvmlDeviceGetPowerManagementDefaultLimit(self.handle) / 1e3),
            ("sm_clock_max_mhz", lambda: n.nvmlDeviceGetMaxClockInfo(self.handle, n.NVML_CLOCK_SM)),
            ("mem_clock_max_mhz", lambda: n.nvmlDeviceGetMaxClockInfo(self.handle, n.NVML_CLOCK_MEM)),
            ("sm_clock_now_mhz", lambda: n.nvmlDeviceGetClockInfo(self.handle, n.NVML_CLOCK_SM)),
            ("temperature_c", lambda: n.nvmlDeviceGetTemperature(self.handle, n.NVML_TEMPERATURE_GPU)),
        ):
            try:
                val = fn()
                out[key] = val.decode() if isinstance(val, bytes) else val
            except Exception:  # noqa: BLE001 - optional fields
                pass
        return out


@dataclass(frozen=True)
class InferencePeak:
    """CUDA caching-allocator figures around one inference (:func:`peak_around_one_inference`), in bytes."""

    allocated_before_bytes: int  # memory_allocated() just before the inference (weights, inputs, kept workspaces)
    max_allocated_bytes: int  # max_memory_allocated() during it
    max_reserved_bytes: int  # max_memory_reserved() during it (the allocator's segments: what nvidia-smi sees)


def peak_around_one_inference(model, example_inputs: tuple) -> InferencePeak:
    """Peak memory around exactly one eager ``model(*example_inputs)``: the one home of the measured memory figure.

    Call it inside ``torch.inference_mode()`` after warm-up and a ``torch.cuda.synchronize()``; the peak statistics
    are reset first and read after a synchronisation, and the output is released afterwards.
    """
    import torch

    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    out = model(*example_inputs)
    torch.cuda.synchronize()
    peak = InferencePeak(int(base), int(torch.cuda.max_memory_allocated()), int(torch.cuda.max_memory_reserved()))
    del out
    return peak


def _weights_bytes(model) -> int:
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    bufs = sum(b.numel() * b.element_size() for b in model.buffers())
    return int(params + bufs)


def measure_cuda(model, example_inputs: tuple, *, warmup: int = 10, repeats: int = 50,
                 energy_min_s: float = 1.0, cuda_graph: bool = False) -> TorchMeasurement:
    """Measure latency, peak memory and energy of ``model(*example_inputs)``.

    Model and inputs must already be on the current CUDA device in the dtype
    wanted. Runs under ``torch.inference_mode``.

    Parameters
    ----------
    warmup : int
        Untimed inferences first (cuDNN autotuning, allocator warm-up).
    repeats : int
        Timed inferences, each bracketed by CUDA events and followed by a
        synchronisation.
    energy_min_s : float
        Minimum length of the back-to-back loop over which energy is read;
        NVML's counter has millijoule resolution and updates every few tens of
        milliseconds, so shorter windows are noisy. ``0`` skips energy.
    cuda_graph : bool
        Capture one inference in a CUDA graph and time its replays instead of
        eager calls: this removes the Python dispatch and launch gaps, leaving
        (close to) the GPU's own time. Peak memory is still taken from one
        eager inference. Models that synchronise with the host (data-dependent
        shapes, ``.item()``) cannot be captured and raise.
    """
    # Long by design (STYLE.md 16): warm-up -> peak memory -> optional graph capture -> timed runs ->
    # energy window, all inside ONE torch.inference_mode() block and sharing the synchronisation
    # points between phases; the order of CUDA calls is what is being measured. It runs only on a
    # GPU, so a split could not be checked by the CPU test suite; it stays one readable sequence.
    import torch

    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    dev = torch.cuda.current_device()
    with torch.inference_mode():
        for _ in range(warmup):
            model(*example_inputs)
        torch.cuda.synchronize()

        mem = peak_around_one_inference(model, example_inputs)
        base, peak = mem.allocated_before_bytes, mem.max_allocated_bytes

        graph = None
        if cuda_graph:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    model(*example_inputs)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                graph_out = model(*example_inputs)  # noqa: F841 - keeps the graph's output alive
            for _ in range(warmup):
                graph.replay()
            torch.cuda.synchronize()

            def run():
                graph.replay()
        else:

            def run():
                model(*example_inputs)

        times = sorted(_event_times_s(run, repeats))
        median = statistics.median(times)

        nvml = _Nvml(dev) if energy_min_s > 0 else None
        energy_j = power_w = None
        iters = 0
        window = 0.0
        thr = median
        if nvml is not None:
            iters = max(3, math.ceil(energy_min_s / max(median, 1e-6)))
            torch.cuda.synchronize()
            e0 = nvml.energy_j() if nvml.ok else 0.0
            t0 = time.perf_counter()
            for _ in range(iters):
                run()
            torch.cuda.synchronize()
            window = time.perf_counter() - t0
            thr = window / iters
            if nvml.ok:
                de = nvml.energy_j() - e0
                energy_j = de / iters
                power_w = de / window if window > 0 else None
    return TorchMeasurement(
        latency_median_s=median,
        latency_mean_s=statistics.fmean(times),
        latency_p10_s=_percentile(times, 10),
        latency_p90_s=_percentile(times, 90),
        latency_min_s=times[0],
        latency_std_s=statistics.pstdev(times) if len(times) > 1 else None,
        repeats=repeats,
        peak_memory_bytes=int(peak),
        activation_peak_bytes=int(max(peak - base, 0)),
        weights_bytes=_weights_bytes(model),
        energy_per_inference_j=energy_j,
        avg_power_w=power_w,
        energy_iterations=iters,
        energy_window_s=window,
        throughput_latency_s=thr,
    )


# --------------------------------------------------------------------------- device probe


@contextlib.contextmanager
def _fp32_matmul_precision(precision: str):
    import torch

    old = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(precision)
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(old)


def _event_times_s(fn, repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn()``, timed with CUDA events around the call."""
    import torch

    times = []
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    for _ in range(repeats):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return times


def _time_cuda(fn, warmup: int, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` event-timed calls."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    return statistics.median(_event_times_s(fn, repeats))


def _gemm_fn(precision: str, n: int):
    """A zero-argument callable running one dense ``n x n x n`` GEMM of ``precision`` on random operands.

    fp32 / fp64 run with TF32 off, tf32 with it on; the callable sets the
    float32 matmul precision around each call and restores it.
    """
    import torch

    g = torch.Generator(device="cuda").manual_seed(0)
    if precision in ("fp32", "tf32", "fp64"):
        dt = torch.float64 if precision == "fp64" else torch.float32
        a = torch.randn(n, n, device="cuda", dtype=dt, generator=g)
        b = torch.randn(n, n, device="cuda", dtype=dt, generator=g)
        mode = "high" if precision == "tf32" else "highest"

        def fn():
            with _fp32_matmul_precision(mode):
                return torch.mm(a, b)

        return fn
    if precision in ("fp16", "bf16"):
        dt = torch.float16 if precision == "fp16" else torch.bfloat16
        a = torch.randn(n, n, device="cuda", dtype=dt, generator=g)
        b = torch.randn(n, n, device="cuda", dtype=dt, generator=g)
        return lambda: torch.mm(a, b)
    if precision == "int8":
        a = torch.randint(-64, 64, (n, n), device="cuda", dtype=torch.int8, generator=g)
        b = torch.randint(-64, 64, (n, n), device="cuda", dtype=torch.int8, generator=g)
        bt = b.t().contiguous().t()  # column-major B (cuBLASLt's TN layout), usually the fast kernel
        try:
            torch._int_mm(a, bt)
            return lambda: torch._int_mm(a, bt)
        except RuntimeError:
            return lambda: torch._int_mm(a, b)
    if precision == "fp8":
        f8 = torch.float8_e4m3fn
        a = torch.randn(n, n, device="cuda", generator=g).to(f8)
        b = torch.randn(n, n, device="cuda", generator=g).to(f8).t()  # column-major, as cuBLASLt wants
        one = torch.ones((), device="cuda")
        return lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
    raise ValueError(f"unknown precision {precision!r}")


def _gemm_rate(precision: str, n: int, warmup: int, repeats: int) -> float:
    """Dense n x n x n GEMM rate in FLOP/s (OP/s for int8) on random operands."""
    t = _time_cuda(_gemm_fn(precision, n), warmup, repeats)
    return FLOPS_PER_MAC * n**3 / t


def _graph_of(fn, count: int):
    """A CUDA graph of ``count`` back-to-back calls of ``fn`` (no launch gaps on replay)."""
    import torch

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(count):
            fn()
    return graph


def _l2_copy_bandwidth(nbytes: int, count: int, warmup: int, repeats: int) -> float:
    """Copy rate in B/s (read + write) of a ``nbytes`` buffer pair that stays in L2.

    ``count`` copies are captured in one CUDA graph so that the ~microsecond
    copies run back to back, without the host's launch gaps between them.
    """
    import torch

    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda").random_()
    dst = torch.empty_like(src)
    graph = _graph_of(lambda: dst.copy_(src), count)
    t = _time_cuda(graph.replay, warmup, repeats)
    return 2 * nbytes * count / t


def _copy_bandwidth(nbytes: int, warmup: int, repeats: int) -> float:
    """Device-to-device copy rate in B/s, counting bytes read plus bytes written."""
    import torch

    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda").random_()
    dst = torch.empty_like(src)
    t = _time_cuda(lambda: dst.copy_(src), warmup, repeats)
    return 2 * nbytes / t


def _read_bandwidth(nbytes: int, reuse: int, warmup: int, repeats: int) -> float:
    """Read rate in B/s of a full float32 sum over a buffer of ``nbytes`` seen ``reuse`` times.

    With ``reuse`` > 1 the buffer is expanded (stride 0) so the same bytes are
    re-read: when ``nbytes`` fits in L2 this measures L2 read bandwidth.
    """
    import torch

    n = nbytes // 4
    buf = torch.randn(n, device="cuda")
    view = buf.expand(reuse, n) if reuse > 1 else buf
    t = _time_cuda(lambda: view.sum(), warmup, repeats)
    return reuse * n * 4 / t


def _sustained_power(nvml: _Nvml, fn, seconds: float) -> float:
    """Average board power while ``fn`` runs back-to-back for about ``seconds``."""
    import torch

    fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    iters = max(3, math.ceil(seconds / max(time.perf_counter() - t0, 1e-6)))
    e0, t0 = nvml.energy_j(), time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    return (nvml.energy_j() - e0) / (time.perf_counter() - t0)


def _launch_overhead(n: int = 2000) -> dict[str, float]:
    """Per-launch cost of a one-element op: queued back-to-back, and synchronised each time."""
    import torch

    x = torch.zeros(1, device="cuda")
    for _ in range(100):
        x.add_(1.0)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        x.add_(1.0)
    torch.cuda.synchronize()
    queued = (time.perf_counter() - t0) / n
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(n):
        x.add_(1.0)
    end.record()
    end.synchronize()
    gpu = start.elapsed_time(end) / 1e3 / n
    t0 = time.perf_counter()
    for _ in range(n // 4):
        x.add_(1.0)
        torch.cuda.synchronize()
    synced = (time.perf_counter() - t0) / (n // 4)
    return {"launch_queued_s": queued, "launch_gpu_span_s": gpu, "launch_sync_roundtrip_s": synced}


#: NeuSight ops :func:`family_probe_fn` can run
FAMILY_PROBE_CALLS: tuple[str, ...] = ("bmm", "linear", "conv", "ln", "softmax", "mul")


def family_probe_fn(op: str, dims: dict[str, int]):
    """A zero-argument callable running one fp32 call of a family-probe shape
    (:data:`hybridperf.residual.cross_device.FAMILY_PROBE_SHAPES`, NeuSight's dims) on random CUDA tensors,
    as NeuSight's PyTorch calls: ``torch.bmm``, ``linear`` (with bias), ``conv2d`` (with bias; cuDNN at PyTorch's
    defaults), ``layer_norm`` over the last dim, ``softmax`` over the last dim, ``mul`` of two tensors.
    Matmuls run with TF32 off."""
    if op not in FAMILY_PROBE_CALLS:
        raise ValueError(f"no family probe for op {op!r}; known: {', '.join(FAMILY_PROBE_CALLS)}")
    import torch
    import torch.nn.functional as F

    g = torch.Generator(device="cuda").manual_seed(0)

    def rnd(*shape):
        return torch.randn(*shape, device="cuda", dtype=torch.float32, generator=g)

    if op == "bmm":
        a, b = rnd(dims["B"], dims["M"], dims["K"]), rnd(dims["B"], dims["K"], dims["N"])
        call = lambda: torch.bmm(a, b)  # noqa: E731
    elif op == "linear":
        x, w, bias = rnd(dims["B"], dims["M"], dims["K"]), rnd(dims["N"], dims["K"]), rnd(dims["N"])
        call = lambda: F.linear(x, w, bias)  # noqa: E731
    elif op == "conv":
        n, k = dims["Input_Size"], dims["Kernel_Szie"]
        x = rnd(dims["B"], dims["Input_Channel"], n, n)
        w, bias = rnd(dims["Output_Channel"], dims["Input_Channel"], k, k), rnd(dims["Output_Channel"])
        call = lambda: F.conv2d(x, w, bias, stride=dims["Stride"], padding=dims["Padding"])  # noqa: E731
    else:
        x, y = rnd(dims["B"], dims["H"]), rnd(dims["B"], dims["H"])
        call = {"ln": lambda: F.layer_norm(x, (dims["H"],)), "softmax": lambda: torch.softmax(x, -1),
                "mul": lambda: torch.mul(x, y)}[op]

    def fn():
        with _fp32_matmul_precision("highest"):
            return call()

    return fn


def probe_calls(first_s: float, warmup: int, repeats: int, budget_s: float) -> tuple[int, int]:
    """``(further warm-up calls, timed calls)`` of one family-probe shape whose first call took ``first_s``:
    ``warmup - 1`` and ``repeats`` while they fit in ``budget_s``; else as many timed calls as fit, at least 3,
    and warm-up calls only with what is left (the first call is a warm-up already)."""
    fit = int(budget_s / first_s + 1e-9) if first_s > 0 else warmup - 1 + repeats
    if fit >= warmup - 1 + repeats:
        return warmup - 1, repeats
    timed = max(3, min(repeats, fit))
    return max(0, min(warmup - 1, fit - timed)), timed


def probe_families(warmup: int = 3, repeats: int = 20, budget_s: float = 0.25) -> list[dict[str, Any]]:
    """Median latency (seconds, CUDA events) of each family-probe shape on the current CUDA device:
    ``[{"op", "dims", "latency_s"}]`` in :data:`hybridperf.residual.cross_device.FAMILY_PROBE_SHAPES` order
    (:func:`hybridperf.residual.cross_device.family_probe_ops` prices them for the cross-device model).

    Each shape gets ``warmup`` untimed and ``repeats`` timed calls, fewer where its first call says they would take
    more than ``budget_s`` (:func:`probe_calls`; at least 3 timed): 384 shapes, large ``linear`` calls run for tens
    of milliseconds on old GPUs."""
    import torch

    from hybridperf.residual.cross_device import FAMILY_PROBE_SHAPES

    out = []
    for op, dims in FAMILY_PROBE_SHAPES:
        fn = family_probe_fn(op, dict(dims))
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        warm, timed = probe_calls(time.perf_counter() - t0, warmup, repeats, budget_s)
        out.append({"op": op, "dims": dict(dims), "latency_s": _time_cuda(fn, warm, timed)})
        del fn
        torch.cuda.empty_cache()
    return out


def probe_cuda(*, gemm_n: int = 8192, copy_bytes: int = 1 << 31, l2_bytes: int = 16 << 20, l2_reuse: int = 64,
               l2_copy_bytes: int = 8 << 20, l2_copy_count: int = 64,
               idle_s: float = 1.0, power_s: float = 1.5, precisions: tuple[str, ...] = ("fp64", "fp32", "tf32", "fp16", "bf16", "int8", "fp8"),
               ) -> dict[str, Any]:
    """Measure the current CUDA device's ceilings and describe it.

    Returns a JSON-friendly dict: device description (name, SMs, L2, memory,
    driver, torch / CUDA / cuDNN versions), ``peak_flops_per_s`` per precision
    (dense square GEMM of size ``gemm_n`` on random data; fp32 with TF32 off),
    ``gemm_errors`` for precisions that could not run, DRAM copy bandwidth
    (read + write bytes), DRAM and L2-resident read bandwidth (a sum over a
    buffer re-read ``l2_reuse`` times), L2-resident copy bandwidth (two
    ``l2_copy_bytes`` buffers, ``l2_copy_count`` copies in one CUDA graph),
    launch overhead, the family probes' latencies (:func:`probe_families`, ``family_probe_latency_s``), idle
    power, and with NVML the average board power of a
    back-to-back loop of each precision's GEMM (``gemm_avg_power_w``, for about
    ``power_s`` each) and of the DRAM copy (``dram_copy_avg_power_w``).
    """
    # Long by design (STYLE.md 16): the body is the probe's fixed sequence of GPU measurements
    # (description, idle power, GEMM per precision, copies, launch), each a few lines filling
    # ``out``, in an order that keeps the idle-power window before any load. It runs only on a GPU, so a
    # split could not be checked by the CPU test suite.
    import torch

    dev = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(dev)
    nvml = _Nvml(dev)
    out: dict[str, Any] = {
        "device_name": props.name,
        "compute_capability": f"{props.major}.{props.minor}",
        "sm_count": props.multi_processor_count,
        "l2_cache_bytes": getattr(props, "L2_cache_size", None),
        "total_memory_bytes": props.total_memory,
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "cudnn_version": torch.backends.cudnn.version(),
        "nvml": nvml.ok,
    }
    out.update(nvml.info())

    # idle power first, before anything heats the card
    if nvml.ok and idle_s > 0:
        torch.cuda.synchronize()
        time.sleep(0.2)
        e0, t0 = nvml.energy_j(), time.perf_counter()
        samples = []
        while time.perf_counter() - t0 < idle_s:
            samples.append(nvml.power_w())
            time.sleep(0.05)
        out["idle_power_w"] = (nvml.energy_j() - e0) / (time.perf_counter() - t0)
        out["idle_power_sampled_w"] = statistics.median(samples)

    rates: dict[str, float] = {}
    watts: dict[str, float] = {}
    errors: dict[str, str] = {}
    for prec in precisions:
        try:
            rates[prec] = _gemm_rate(prec, gemm_n, warmup=3, repeats=10)
            if nvml.ok and power_s > 0:
                watts[prec] = _sustained_power(nvml, _gemm_fn(prec, gemm_n), power_s)
        except Exception as exc:  # noqa: BLE001 - unsupported precision is reported, not fatal
            errors[prec] = f"{type(exc).__name__}: {error_line(exc, 200)}"
        torch.cuda.empty_cache()
    out["gemm_n"] = gemm_n
    out["peak_flops_per_s"] = rates
    out["gemm_errors"] = errors
    out["gemm_avg_power_w"] = watts
    out["gemm_power_window_s"] = power_s if watts else 0.0
    if "bf16" in watts:
        out["bf16_gemm_sustained_power_w"] = watts["bf16"]  # the key earlier probes wrote

    out["copy_bytes"] = copy_bytes
    out["dram_copy_bandwidth_bytes_per_s"] = _copy_bandwidth(copy_bytes, warmup=3, repeats=20)
    if nvml.ok and power_s > 0:
        src = torch.empty(copy_bytes, dtype=torch.uint8, device="cuda")
        dst = torch.empty_like(src)
        out["dram_copy_avg_power_w"] = _sustained_power(nvml, lambda: dst.copy_(src), power_s)
        del src, dst
    out["dram_read_bandwidth_bytes_per_s"] = _read_bandwidth(copy_bytes, 1, warmup=3, repeats=20)
    out["l2_read_bytes"] = l2_bytes
    out["l2_read_reuse"] = l2_reuse
    out["l2_read_bandwidth_bytes_per_s"] = _read_bandwidth(l2_bytes, l2_reuse, warmup=3, repeats=20)
    try:
        out["l2_copy_bandwidth_bytes_per_s"] = _l2_copy_bandwidth(l2_copy_bytes, l2_copy_count, warmup=3, repeats=20)
        out["l2_copy_bytes"] = l2_copy_bytes
        out["l2_copy_count"] = l2_copy_count
    except RuntimeError as exc:  # graph capture unavailable: the figure is left out, the reason kept
        out["l2_copy_error"] = f"{type(exc).__name__}: {error_line(exc, 200)}"
    torch.cuda.empty_cache()
    try:
        out["family_probe_latency_s"] = probe_families()
    except RuntimeError as exc:  # e.g. out of memory on a small card: the figures are left out, the reason kept
        out["family_probe_error"] = f"{type(exc).__name__}: {error_line(exc, 200)}"
    torch.cuda.empty_cache()
    out.update(_launch_overhead())
    return out
