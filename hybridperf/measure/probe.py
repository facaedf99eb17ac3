"""Derive the spec sheet of the machine this runs on, by microbenchmarks.

The pieces are pure functions returning frozen dataclasses:

* :func:`read_host_info` and :func:`read_caches`: CPU model, usable cores,
  memory, frequency governor, cache sizes from ``/sys/devices/system/cpu``.
* :func:`gemm_rate`: best square-GEMM rate for fp32 / fp64 (numpy BLAS) and
  int8 (onnxruntime ``MatMulInteger``). Where ``OPENBLAS_CORETYPE`` forces
  numpy's OpenBLAS kernels, fp32 / fp64 are timed in a child process without
  it (:class:`_BlasChild`), and the backend names the kernels (:func:`_blas_core`).
* :func:`stream_bandwidth`: STREAM-like ``copy`` and ``triad`` over numpy
  arrays, split across threads (numpy releases the GIL in these loops).
* :func:`dispatch_overhead`: onnxruntime per-call and per-node overhead from a
  chain of tiny ``Add`` nodes (median of many runs).
* :func:`probe` runs them all (or, where ``torch.cuda.is_available()``, the
  CUDA probe of :mod:`hybridperf.measure.torch_cuda`) and returns a
  :class:`ProbeResult`; :func:`spec_dict` turns that into a schema-valid spec
  mapping (measured figures carry ``measured: true``, unmeasured ones a
  conservative estimate that says so) and :func:`write_spec` validates and
  writes it.

Bandwidths count the bytes a kernel names (STREAM convention: copy moves
2 x 8 B per element, read + write; write-allocate traffic is not counted).
numpy's triad ``a = b + s * c`` takes two passes, so it is counted as the
5 x 8 B per element those passes actually move.

Nothing here prints; progress goes to an optional ``progress(step, done, total)``
callback.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hybridperf._version import __version__
from hybridperf.costs import FLOPS_PER_MAC
from hybridperf.errors import InputError, error_line
from hybridperf.measure.contention import Contention, Usage, contention_between, usable_cpus, usage
from hybridperf.precision import Precision
from hybridperf.units import plural

Progress = Callable[[str, int, int], None]

_CPU_ROOT = Path("/sys/devices/system/cpu")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CacheLevel:
    """One cache of cpu0, from ``/sys/devices/system/cpu/cpu0/cache/index*``."""

    level: int
    type: str  # Data | Instruction | Unified
    size_bytes: int
    shared_cpu_count: int


@dataclass(frozen=True)
class HostInfo:
    """What the machine says about itself; no benchmark involved."""

    cpu_model: str
    logical_cpus: int
    usable_cpus: int  # CPUs this process may run on (affinity / cgroup slice)
    memory_bytes: int | None
    governor: str | None  # cpufreq scaling governor, None where not exposed (VMs)
    machine: str
    python: str
    numpy: str
    blas: str
    onnxruntime: str | None
    #: key ISA flags of /proc/cpuinfo (:data:`~hybridperf.device.cpuinfo.KEY_ISA_FLAGS`), listed whole in the sheet's
    #: notes: the cross-host CPU model reads AVX-512 from a sheet's text (``residual.cross_host.host_figures``)
    isa: tuple[str, ...] = ()
    #: /proc/cpuinfo's vendor_id, cpu family, model and stepping (:func:`~hybridperf.device.cpuinfo.this_cpu`;
    #: "" / None where it does not say), written as the sheet's ``cpu_identity``: the model name is "AMD EPYC" for
    #: Zen 3, 4 and 5 alike, so until 2026-12-04 a probed sheet did not say which CPU it was of
    cpu_vendor: str = ""
    cpu_family: int | None = None
    cpu_model_id: int | None = None
    cpu_stepping: int | None = None
    #: whether /proc/cpuinfo gave the CPU's flags (a ``flags`` or ``Features`` line): ``isa`` is then complete, and a
    #: CPU with none of the key flags is written ``ISA flags: none``
    isa_read: bool = False


@dataclass(frozen=True)
class GemmRate:
    """Best rate of an ``n x n x n`` GEMM: ``2 n^3 / best_seconds``."""

    precision: str
    n: int
    flops_per_s: float
    best_seconds: float
    repeats: int
    backend: str


@dataclass(frozen=True)
class Bandwidth:
    """Best rate of a STREAM-like kernel over arrays of ``array_bytes`` each."""

    kernel: str  # copy | triad
    level: str  # dram | l2
    array_bytes: int
    threads: int
    bytes_per_s: float
    repeats: int


@dataclass(frozen=True)
class DispatchOverhead:
    """onnxruntime overhead: per ``session.run`` call and per extra graph node."""

    per_call_s: float  # median run time of a one-node Add model
    per_node_s: float  # slope between a 1-node and an ``nodes``-node chain
    nodes: int
    runs: int


@dataclass(frozen=True)
class SubnormalAssist:
    """Extra onnxruntime time per float32 subnormal, timed by :func:`subnormal_assist`.

    Attributes
    ----------
    mac_s : float
        Per MatMul multiply-add that reads a subnormal operand (0: none measurable).
    softmax_s : float
        Per Softmax output that is a subnormal (0: none measurable).
    threads : int
        onnxruntime's intra-op threads.
    matmul_s, matmul_normal_s, softmax_s_total, softmax_normal_s : float
        Fastest run of each model with subnormals and without.
    """

    mac_s: float
    softmax_s: float
    threads: int
    matmul_s: float
    matmul_normal_s: float
    softmax_total_s: float
    softmax_normal_s: float


@dataclass(frozen=True)
class TransposeFigure:
    """Extra onnxruntime time per element of a Transpose that moves the innermost axis other than as a 2-D
    transpose, timed by :func:`innermost_transpose`.

    Attributes
    ----------
    per_element_s : float
        The extra time per input element over a Transpose of the same tensor that keeps the innermost axis (0: none
        measurable).
    threads : int
        onnxruntime's intra-op threads.
    moves_s, keeps_s : float
        Fastest run of each Transpose.
    elements : int
        Input elements of each.
    """

    per_element_s: float
    threads: int
    moves_s: float
    keeps_s: float
    elements: int


@dataclass(frozen=True)
class ElementwiseMath:
    """Extra onnxruntime time per float32 element of the element-wise math it evaluates one element at a time, timed
    by :func:`elementwise_math`.

    Attributes
    ----------
    per_element_s : mapping
        Function (:data:`~hybridperf.analysis.elementwise_math.ELEMENTWISE_MATH_KEYS`) -> the extra time per element over a ``Neg``
        of the same tensor (0: none measurable).
    threads : int
        onnxruntime's intra-op threads.
    fastest_s : mapping
        Function -> fastest run of its lone node; ``"neg"`` the copy's.
    elements : int
        Elements of each node's input and output.
    """

    per_element_s: Mapping[str, float]
    threads: int
    fastest_s: Mapping[str, float]
    elements: int


@dataclass(frozen=True)
class DepthwiseConv1d:
    """onnxruntime's time per multiply-add and per output element of a depthwise 1-D convolution of each class, timed
    by :func:`depthwise_conv1d`.

    Attributes
    ----------
    per_mac_s, per_output_s : mapping
        Class (:data:`~hybridperf.analysis.depthwise1d.DEPTHWISE_CONV1D_CLASSES`) -> seconds per multiply-add and per output
        element, fitted to its two nodes (0 where the fit gave none).
    threads : int
        onnxruntime's intra-op threads.
    fastest_s : mapping
        ``"<class> k<kernel>"`` -> fastest run of that lone node.
    work : mapping
        ``"<class> k<kernel>"`` -> (multiply-adds, output elements) of that node.
    """

    per_mac_s: Mapping[str, float]
    per_output_s: Mapping[str, float]
    threads: int
    fastest_s: Mapping[str, float]
    work: Mapping[str, tuple[int, int]]


@dataclass(frozen=True)
class BroadcastFigure:
    """Extra onnxruntime time per span a broadcasting ``Mul`` runs beyond a copy of its output, timed by
    :func:`broadcast_span`.

    Attributes
    ----------
    per_span_s : float
        The extra time per broadcast span over a ``Neg`` of the output's elements (0: none measurable).
    threads : int
        onnxruntime's intra-op threads.
    broadcast_s, copy_s : float
        Fastest run of the ``Mul`` and of the ``Neg``.
    spans, span : int
        Spans the ``Mul`` runs, and elements a span.
    """

    per_span_s: float
    threads: int
    broadcast_s: float
    copy_s: float
    spans: int
    span: int


@dataclass(frozen=True)
class GatherFigure:
    """Extra onnxruntime time per block a ``Gather`` copies beyond a copy of the block's elements, timed by
    :func:`gather_block`.

    Attributes
    ----------
    per_block_s : float
        The extra time per copied block over a ``Neg`` of the same number of elements (0: none measurable).
    threads : int
        onnxruntime's intra-op threads.
    gather_s, copy_s : float
        Fastest run of the ``Gather`` and of the ``Neg``.
    blocks : int
        Blocks the ``Gather`` copies (one element each), and elements of the ``Neg``.
    """

    per_block_s: float
    threads: int
    gather_s: float
    copy_s: float
    blocks: int


@dataclass(frozen=True)
class LlcReread:
    """The rate at which onnxruntime re-reads a weight the last-level cache holds, timed by :func:`llc_reread`.

    Attributes
    ----------
    bytes_per_s : float
        Weight bytes over the fastest run of one ``[1, k] x [k, 2k]`` MatMul (the weight read once a run).
    threads : int
        onnxruntime's intra-op threads.
    weight_bytes : int
        The weight's float32 bytes (a quarter of the LLC: held by it, past every private L2 measured).
    fastest_s : float
        The fastest run.
    """

    bytes_per_s: float
    threads: int
    weight_bytes: int
    fastest_s: float


@dataclass(frozen=True)
class L2Reread:
    """The rate at which onnxruntime's recurrent kernel re-reads a step weight the cores' L2 caches hold, timed by
    :func:`l2_reread`: the growth of an ``LSTM`` node's time a step with its recurrent weight's bytes.

    Attributes
    ----------
    bytes_per_s : float
        ``(weight_bytes - small_weight_bytes) / (step_s - small_step_s)``.
    threads : int
        onnxruntime's intra-op threads.
    weight_bytes, small_weight_bytes : int
        The recurrent weights' float32 bytes (``4H x H``) of the two layers: about half and a quarter of the L2 of
        the ``threads`` cores.
    step_s, small_step_s : float
        Each layer's time a step: the slope of its fastest run between 8 and 72 steps.
    """

    bytes_per_s: float
    threads: int
    weight_bytes: int
    small_weight_bytes: int
    step_s: float
    small_step_s: float


@dataclass(frozen=True)
class ProbeResult:
    """Everything one probe measured, plus when and with what."""

    date: str
    version: str
    quick: bool
    kind: str  # cpu | gpu
    host: HostInfo
    caches: tuple[CacheLevel, ...]
    gemm: tuple[GemmRate, ...]
    bandwidth: tuple[Bandwidth, ...]
    dispatch: DispatchOverhead | None
    errors: Mapping[str, str] = field(default_factory=dict)
    gpu: Mapping[str, Any] | None = None  # measure_torch.probe_cuda() output on a CUDA machine
    contention: Contention | None = None  # CPU probe: how busy its CPUs were while it timed (None: not measured)
    time_utc: str = ""  # when the probe began, ``HH:MM`` UTC ("": not recorded, e.g. rebuilt from a saved probe.json)
    subnormal: SubnormalAssist | None = None  # CPU probe: onnxruntime's subnormal assists (None: not measured)
    # CPU probe: onnxruntime's Transpose that moves the innermost axis (None: not measured)
    transpose: TransposeFigure | None = None
    # CPU probe: onnxruntime re-reading a weight the LLC holds (None: not measured, or no LLC found)
    llc: LlcReread | None = None
    # CPU probe: onnxruntime's LSTM re-reading a step weight the cores' L2 caches hold (None: not measured, no L2)
    l2: L2Reread | None = None
    # CPU probe: onnxruntime's element-wise math evaluated one element at a time (None: not measured)
    math: ElementwiseMath | None = None
    # CPU probe: onnxruntime's depthwise 1-D convolutions (None: not measured)
    depthwise: DepthwiseConv1d | None = None
    # CPU probe: onnxruntime's Gather per copied block (None: not measured)
    gather: GatherFigure | None = None
    # CPU probe: onnxruntime's broadcasting element-wise ops per span (None: not measured)
    broadcast: BroadcastFigure | None = None

    @property
    def source(self) -> str:
        return f"measured by hybridperf probe {self.version} on {self.date}"

    @property
    def moment(self) -> str:
        """When the probe began, ``2026-12-06T09:54Z`` (UTC, to the minute; the date alone where the time is not
        recorded): on a shared or virtual machine the figures move with the hour (a 1-thread Xeon VM read fp32 141
        GFLOP/s at 04:24 UTC and 172 at 09:54 the same day, ``docs/cpu-cross-host.md``), so the sheet says when."""
        return f"{self.date}T{self.time_utc}Z" if self.time_utc else self.date

    def peak(self, precision: str) -> GemmRate | None:
        rates = [g for g in self.gemm if g.precision == precision]
        return max(rates, key=lambda g: g.flops_per_s) if rates else None

    def best_bandwidth(self, level: str = "dram") -> Bandwidth | None:
        bws = [b for b in self.bandwidth if b.level == level]
        return max(bws, key=lambda b: b.bytes_per_s) if bws else None


# --------------------------------------------------------------------------- host facts


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _size_bytes(text: str) -> int:
    """``"48K"`` / ``"2048K"`` / ``"1M"`` (sysfs cache sizes, binary prefixes) -> bytes."""
    text = text.strip().upper()
    mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in "KMG" else text
    return int(digits) * mult


def _cpu_list_count(text: str) -> int:
    """``"0-3,8"`` -> 5."""
    n = 0
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-")
            n += int(hi) - int(lo) + 1
        else:
            n += 1
    return n


def read_caches(root: Path | None = None) -> tuple[CacheLevel, ...]:
    """Caches of cpu0, sorted by level then type; empty where sysfs has none."""
    root = root or _CPU_ROOT / "cpu0" / "cache"
    out = []
    for idx in sorted(root.glob("index*")):
        level, ctype, size = _read(idx / "level"), _read(idx / "type"), _read(idx / "size")
        if not (level and ctype and size):
            continue
        shared = _read(idx / "shared_cpu_list")
        out.append(
            CacheLevel(
                level=int(level),
                type=ctype,
                size_bytes=_size_bytes(size),
                shared_cpu_count=_cpu_list_count(shared) if shared else 1,
            )
        )
    return tuple(sorted(out, key=lambda c: (c.level, c.type)))


def probed_cpu_model() -> str:
    """This CPU's model name as a probed sheet's notes record it (``CPU: NAME;``)."""
    from hybridperf.device.cpuinfo import cpuinfo_text

    for line in (cpuinfo_text() or "").splitlines():
        key, _, val = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware", "cpu model") and val.strip():
            return val.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def notes_cpu_model(notes: str | None) -> str | None:
    """The CPU model name a CPU sheet's ``notes`` record where this probe wrote them (``Probed DATE by hybridperf
    ... CPU: NAME; N usable of``, as :func:`spec_dict` writes it), None for notes it did not write."""
    import re

    m = re.search(r"^Probed \S+ by hybridperf .*?CPU: (.+?); \d+ usable of", notes or "", re.S)
    return None if m is None else m.group(1).strip()


def probed_elsewhere(notes: str | None) -> tuple[str, str] | None:
    """``(the CPU a probed sheet's notes name, this machine's)`` where they differ; None where they are the same or
    the notes were not written by this probe (:func:`notes_cpu_model`)."""
    probed = notes_cpu_model(notes)
    if probed is None:
        return None
    here = probed_cpu_model()
    return None if probed == here else (probed, here)


#: how a probed CPU sheet's notes record a probe judged busy (:func:`spec_dict` writes it with the probe's
#: :meth:`~hybridperf.measure.contention.Contention.describe`, :func:`notes_probe_warning` reads it back)
_BUSY_NOTE = " Warning: {}."


def notes_probe_warning(notes: str | None) -> str | None:
    """The busy-CPU warning a probed sheet's ``notes`` record (the probe's
    :meth:`~hybridperf.measure.contention.Contention.describe`, as :func:`spec_dict` writes it), None where they record
    none or were not written by this probe (:func:`notes_cpu_model`)."""
    import re

    if notes_cpu_model(notes) is None:
        return None
    head, _, tail = _BUSY_NOTE.partition("{}")
    m = re.search(re.escape(head) + r"([^.]+)" + re.escape(tail) + r"(?:\s|$)", notes or "")
    return None if m is None else m.group(1).strip()


def _memory_bytes() -> int | None:
    text = _read(Path("/proc/meminfo")) or ""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _blas_name() -> str:
    import numpy as np

    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - old numpy: informational only
        return "unknown"


def read_host_info() -> HostInfo:
    """CPU model, core counts, memory, governor and library versions."""
    import numpy as np

    from hybridperf.device import cpuinfo

    try:
        import onnxruntime

        ort_version: str | None = onnxruntime.__version__
    except ImportError:
        ort_version = None
    ident = cpuinfo.this_cpu()  # None where /proc/cpuinfo cannot be read
    return HostInfo(
        cpu_model=probed_cpu_model(),
        logical_cpus=os.cpu_count() or 1,
        usable_cpus=usable_cpus(),
        memory_bytes=_memory_bytes(),
        governor=_read(_CPU_ROOT / "cpu0" / "cpufreq" / "scaling_governor"),
        machine=platform.machine(),
        python=platform.python_version(),
        numpy=np.__version__,
        blas=_blas_name(),
        onnxruntime=ort_version,
        isa=tuple(ident.isa) if ident is not None else (),
        cpu_vendor=ident.vendor if ident is not None else "",
        cpu_family=ident.family if ident is not None else None,
        cpu_model_id=ident.model if ident is not None else None,
        cpu_stepping=ident.stepping if ident is not None else None,
        isa_read=ident is not None and bool(ident.arch),
    )


def sheet_cpu_identity(host: HostInfo, source: str) -> dict[str, Any] | None:
    """The ``cpu_identity`` mapping of a probed CPU sheet (vendor, family, model, stepping where known), None where
    /proc/cpuinfo did not give vendor, family and model (unknown stays unknown: the sheet is then not judged by
    ``measure -d`` / ``calibrate --measure``)."""
    if not host.cpu_vendor or host.cpu_family is None or host.cpu_model_id is None:
        return None
    out: dict[str, Any] = {"vendor": host.cpu_vendor, "family": host.cpu_family, "model": host.cpu_model_id}
    if host.cpu_stepping is not None:
        out["stepping"] = host.cpu_stepping
    out["source"] = source
    return out


# --------------------------------------------------------------------------- benchmarks


def _best_seconds(fn: Callable[[], Any], repeats: int, warmup: int = 1, min_total_s: float = 0.0,
                  max_repeats: int = 200) -> float:
    """Fastest of at least ``repeats`` timed calls, going on (up to ``max_repeats``) until the timed calls
    add up to ``min_total_s``: on a shared host a best-of over a few milliseconds can land entirely in
    somebody else's burst (a quick int8 probe once read 90 GOPS on a core that does 200)."""
    for _ in range(warmup):
        fn()
    best, total, n = float("inf"), 0.0, 0
    while n < repeats or (total < min_total_s and n < max_repeats):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, total, n = min(best, dt), total + dt, n + 1
    return best


def _interleaved_best_seconds(kernels: Mapping[str, Callable[[], Any]], min_rounds: int, budget_s: float,
                              max_rounds: int = 1000,
                              warm: Mapping[str, Callable[[], Any]] | None = None) -> tuple[dict[str, float], int]:
    """Fastest timed call of each kernel over rounds that call every kernel once in turn; ``(best seconds by name,
    rounds)``.

    A peak figure on a shared host: a neighbour's burst (the other core streaming memory, a co-tenant VM) slows
    every call it overlaps, for tens to hundreds of milliseconds, so a best-of over back-to-back calls can land
    entirely inside one. Interleaving spreads each kernel's calls over the whole window; the fastest is kept.
    Rounds go on until ``min_rounds`` are done and ``budget_s`` has passed (or ``max_rounds``), so the time is
    about ``max(budget_s, min_rounds x one round)``. ``warm[name]``, where given, is called untimed before each
    timed call of ``name``: it brings back into cache the data the other kernels evicted. Kernels are expected warm.
    """
    warm = warm or {}
    best = {name: math.inf for name in kernels}
    start, rounds = time.perf_counter(), 0
    while rounds < min_rounds or (rounds < max_rounds and time.perf_counter() - start < budget_s):
        for name, fn in kernels.items():
            if name in warm:
                warm[name]()
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
        rounds += 1
    return best, rounds


def _fastest_runs(sessions: Mapping[str, Any], feeds: Mapping[str, Mapping[str, Any]], runs: int) -> dict[str, float]:
    """Fastest run of each onnxruntime session (its feed in ``feeds``, by the same name) over ``runs`` rounds that run
    every session once in turn (no time budget: exactly that many), after 3 warm-up runs each: the timing of the
    lone-node probes whose figure is one node's extra over another's (:func:`_extra_per`)."""
    for k, sess in sessions.items():
        for _ in range(3):
            sess.run(None, feeds[k])
    best, _ = _interleaved_best_seconds({k: functools.partial(s.run, None, feeds[k]) for k, s in sessions.items()},
                                        min_rounds=runs, budget_s=0.0)
    return best


def _extra_per(slow_s: float, base_s: float, count: int) -> float:
    """``(slow_s - base_s) / count``: a probed figure per element, block or span over a reference node; 0 (none
    measurable) where there is no count or the difference is under :data:`SUBNORMAL_RESOLUTION` of the reference."""
    extra = slow_s - base_s
    return extra / count if count and extra > SUBNORMAL_RESOLUTION * base_s else 0.0


def _ort_session(model_bytes: bytes, threads: int | None = None, optimize: bool = True, spin: bool = True):
    """A CPU session; ``spin=False`` stops its idle intra-op threads from busy-waiting after a run (they would
    steal the core from whatever is timed next)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads is not None:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    if not spin:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


def _onnx_model(nodes, inputs, outputs, initializers=(), opset: int = 13) -> bytes:
    from onnx import helper

    graph = helper.make_graph(nodes, "probe", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="hybridperf-probe")
    model.ir_version = 8  # readable by every onnxruntime >= 1.14
    return model.SerializeToString()


def _gemm_kernel(precision: str, n: int,
                 children: _GemmChildren | None = None) -> tuple[Callable[[], Any], Callable[[], Any], str]:
    """``(one call of an n x n x n GEMM at precision, a read of its operands, backend name)``: numpy for fp32 /
    fp64, onnxruntime ``MatMulInteger`` for int8; InputError for any other precision.

    The read brings the operands back into cache after other kernels evicted them (cold operands cost a 1024^3
    fp32 GEMM about 2 % on a Zen 4), far cheaper than an untimed GEMM.

    Where ``OPENBLAS_CORETYPE`` is set, numpy's OpenBLAS runs the kernels it names, not the ones it would pick for
    this CPU (``Haswell``'s AVX2 kernels read about 110 instead of 200-210 GFLOP/s fp32 on one Zen 5 core, while
    onnxruntime's MLAS picks its kernels by CPUID): fp32 / fp64 are then served by a :class:`_BlasChild` without
    the variable, added to ``children`` where given (else ended when the returned callables are dropped)."""
    import numpy as np

    rng = np.random.default_rng(0)
    if precision in ("fp32", "fp64"):
        forced = os.environ.get("OPENBLAS_CORETYPE")
        if forced:
            child = _BlasChild(precision, n)
            if children is not None:
                children.add(child)
            return child.run, child.touch, _numpy_backend(child.core, forced)
        run, touch = _numpy_gemm(precision, n)
        return run, touch, _numpy_backend(_blas_core())
    if precision == "int8":
        import onnxruntime
        from onnx import TensorProto, helper

        model = _onnx_model(
            [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])],
            [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n]),
             helper.make_tensor_value_info("B", TensorProto.INT8, [n, n])],
            [helper.make_tensor_value_info("Y", TensorProto.INT32, [n, n])],
        )
        # as many threads as numpy's BLAS gets (this process's CPUs), none left spinning between calls
        sess = _ort_session(model, threads=usable_cpus(), spin=False)
        feeds = {
            "A": rng.integers(0, 256, (n, n), dtype=np.uint8),
            "B": rng.integers(-128, 128, (n, n), dtype=np.int8),
        }
        return (lambda: sess.run(None, feeds)), (lambda: [f.sum() for f in feeds.values()]), \
            f"onnxruntime {onnxruntime.__version__} MatMulInteger (uint8 x int8)"
    raise InputError(f"the CPU probe measures fp32, fp64 and int8, not {precision!r}")


def _numpy_gemm(precision: str, n: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """``(one numpy matmul of n x n operands at fp32 / fp64, a read of its operands)`` in this process."""
    import numpy as np

    rng = np.random.default_rng(0)
    dt = np.float32 if precision == "fp32" else np.float64
    a = rng.standard_normal((n, n)).astype(dt)
    b = rng.standard_normal((n, n)).astype(dt)
    c = np.empty((n, n), dt)
    return (lambda: np.matmul(a, b, out=c)), (lambda: (a.sum(), b.sum(), c.sum()))


def _numpy_backend(core: str | None, forced: str | None = None) -> str:
    """``numpy 2.4.6 matmul (scipy-openblas 0.3.31.188.0, SkylakeX kernels[; timed in a child process without
    OPENBLAS_CORETYPE=Haswell])``: the backend of a numpy GEMM figure, naming the OpenBLAS kernels where known."""
    import numpy as np

    kernels = f", {core} kernels" if core else ""
    child = f"; timed in a child process without OPENBLAS_CORETYPE={forced}" if forced else ""
    return f"numpy {np.__version__} matmul ({_blas_name()}{kernels}{child})"


#: what OpenBLAS exports to name the kernel set ("core") it picked at load time: scipy-openblas, numpy's wheels
#: (``scipy_`` prefix, ``64_`` suffix of its 64-bit-integer build), and plain OpenBLAS builds
_CORENAME_SYMBOLS = ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename64_",
                     "openblas_get_corename")


def _blas_core() -> str | None:
    """The OpenBLAS core whose kernels numpy's BLAS runs in this process (``"SkylakeX"``, ``"Haswell"``, ...).

    Read from the OpenBLAS library this process has loaded (listed in ``/proc/self/maps``, numpy's own first);
    None where numpy's BLAS is not OpenBLAS, the library exports no core name, or the maps cannot be read (not
    Linux). Never raises: the name is informational."""
    try:
        import ctypes

        import numpy  # noqa: F401 - loads its BLAS

        with open("/proc/self/maps") as maps:
            paths = {line.split(maxsplit=5)[-1].strip() for line in maps if "openblas" in line.lower()}
        for path in sorted(paths, key=lambda p: ("numpy" not in p, p)):
            lib = ctypes.CDLL(path)
            for symbol in _CORENAME_SYMBOLS:
                fn = getattr(lib, symbol, None)
                if fn is None:
                    continue
                fn.argtypes, fn.restype = [], ctypes.c_char_p
                name = (fn() or b"").decode(errors="replace").strip()
                if name:
                    return name
    except Exception:  # noqa: BLE001 - no maps, a library ctypes cannot open: the name stays unknown
        return None
    return None


#: the child's program: this hybridperf first on its path (the parent's package, whatever the child's cwd holds)
_CHILD_PROGRAM = ("import sys; sys.path.insert(0, sys.argv[1]); "
                  "from hybridperf.measure.probe import _serve_gemm; _serve_gemm()")


#: ``OPENBLAS_THREAD_TIMEOUT`` of a :class:`_BlasChild` (OpenBLAS's smallest, 2^4 cycles of busy-wait before a worker
#: thread sleeps). Measured on 2 Zen 5 vCPUs: a 2048^3 fp32 GEMM right after the fp64 child's ran at 165-193 GFLOP/s
#: with OpenBLAS's default and 275-340 GFLOP/s with this (one child alone: 370-390); the quick probe of ``host``
#: recorded 181-193 GFLOP/s for 2 threads before
_BLAS_THREAD_TIMEOUT = 4


class _BlasChild:
    """One numpy GEMM of ``n x n`` operands at ``precision``, run on request in a child process of this interpreter
    started without ``OPENBLAS_CORETYPE`` (so its OpenBLAS picks the kernels for this CPU) and with
    ``OPENBLAS_THREAD_TIMEOUT`` :data:`_BLAS_THREAD_TIMEOUT` unless set; CPU affinity and the rest of the environment
    (``OPENBLAS_L2_SIZE``, thread counts) are inherited.

    One request line per call over a pipe, answered when the matmul is done, so a timed :meth:`run` is one GEMM
    plus a round trip. Measured on one Zen 5 core, parent and child pinned to it: a 1x1 GEMM takes 8.0 us at best
    (median 8.3 us over 5000 calls) through the child against 1 us in-process, so the round trip is about 7 us,
    0.07 % of the 10.3 ms of a 1024^3 fp32 GEMM there (0.03 % of the 25 ms of fp64). ``OPENBLAS_L2_SIZE=512``
    stays: with and without it the child's 2048^3 GEMMs read the same within noise (fp32 200-213 GFLOP/s, fp64
    88-94 GFLOP/s, two runs each). ``core``: the child's OpenBLAS core (None: unknown).

    A context manager; :meth:`close` (or dropping the object, or this interpreter exiting) closes the child's
    stdin, on which it exits (it also does when this process dies)."""

    def __init__(self, precision: str, n: int) -> None:
        import subprocess
        import sys
        import tempfile
        import weakref

        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
        # OpenBLAS worker threads busy-wait after a GEMM (about 2^28 cycles by default): with two children (fp32,
        # fp64) on 2 CPUs, one's spinning worker halved the other's GEMM. 2^4 cycles puts them to sleep at once.
        env.setdefault("OPENBLAS_THREAD_TIMEOUT", str(_BLAS_THREAD_TIMEOUT))
        root = str(Path(__file__).resolve().parents[2])
        self._stderr = tempfile.TemporaryFile()  # read back only where the child fails (a pipe could fill up)
        self._proc = subprocess.Popen([sys.executable, "-c", _CHILD_PROGRAM, root], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        self._close = weakref.finalize(self, _end_child, self._proc, self._stderr)
        try:
            self.core: str | None = self._ask(f"gemm {precision} {n}") or None
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _ask(self, request: str) -> str:
        """Send one request line; the answer's text after ``ok``. RuntimeError where the child failed or is gone."""
        try:
            self._proc.stdin.write(request.encode() + b"\n")
            self._proc.stdin.flush()
            reply = self._proc.stdout.readline().decode(errors="replace")
        except (OSError, ValueError) as exc:  # a broken pipe, or a closed one
            raise RuntimeError(f"the numpy GEMM child process is gone ({type(exc).__name__})") from exc
        if not reply.startswith("ok"):
            why = reply.removeprefix("error").strip() or self._exit_reason()
            raise RuntimeError(f"the numpy GEMM child process failed on {request!r}: {why}")
        return reply[2:].strip()

    def _exit_reason(self) -> str:
        """``it exited with code 1: <the last line it wrote to stderr>`` (it has closed its stdout)."""
        import subprocess

        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)
        last = "no message"
        with contextlib.suppress(OSError, ValueError):
            self._stderr.seek(0)
            last = (self._stderr.read().decode(errors="replace").strip().splitlines() or [last])[-1]
        return f"it exited with code {self._proc.poll()}: {last}"

    def run(self) -> None:
        self._ask("run")

    def touch(self) -> None:
        self._ask("touch")

    def usage(self) -> tuple[float, int] | None:
        """The child's (CPU seconds, involuntary context switches) so far; None where it cannot read them."""
        fields = self._ask("usage").split()
        return (float(fields[0]), int(fields[1])) if len(fields) == 2 else None

    def close(self) -> None:
        self._close()

    def __enter__(self) -> _BlasChild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _end_child(proc: Any, stderr: Any) -> None:
    """Close a :class:`_BlasChild` process's pipes and wait for it to exit (killed if it has not within 30 s)."""
    import subprocess

    for pipe in (proc.stdin, proc.stdout, stderr):
        with contextlib.suppress(OSError):
            pipe.close()
    try:
        proc.wait(timeout=30)  # it ends its GEMM in progress, reads end-of-file and exits
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class _GemmChildren(contextlib.ExitStack):
    """The :class:`_BlasChild` processes of one probe: ended together when the ``with`` block ends (or raises), and
    counted in its :meth:`usage`, so the contention check (:func:`~hybridperf.measure.contention.contention_between`)
    sees the CPU time of the GEMMs they run (without it a quiet 1-core probe read 32 % of its CPU: busy). Their round
    trips add involuntary switches (on a shared core the woken process preempts the one that woke it: a quiet quick
    probe with two children counts 152 a second instead of 33), so there the CPU share is what tells a busy window."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[_BlasChild] = []

    def add(self, child: _BlasChild) -> None:
        self.enter_context(child)
        self.started.append(child)

    def usage(self) -> Usage | None:
        """:func:`~hybridperf.measure.contention.usage` of this process plus its children's CPU seconds and
        involuntary context switches; None where a reading is missing."""
        now = usage()
        if now is None:
            return None
        wall, cpu, switches = now
        for child in self.started:
            theirs = child.usage()
            if theirs is None:
                return None
            cpu, switches = cpu + theirs[0], switches + theirs[1]
        return wall, cpu, switches


def _serve_gemm() -> None:
    """The loop of a :class:`_BlasChild` process: one request line on stdin, one answer line on stdout.

    ``gemm PRECISION N`` prepares the operands and answers ``ok CORE``; ``run`` (one matmul) and ``touch`` (a read
    of the operands) answer ``ok``; ``usage`` answers ``ok CPU_SECONDS INVOLUNTARY_SWITCHES`` (``ok`` where not
    known); a failure answers ``error MESSAGE``. Exits at end of input."""
    import sys

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    calls: dict[str, Callable[[], Any]] = {}
    for line in iter(inp.readline, b""):
        try:
            request, *args = line.decode().split()
            if request == "gemm":
                calls["run"], calls["touch"] = _numpy_gemm(args[0], int(args[1]))
                answer = f"ok {_blas_core() or ''}"
            elif request == "usage":
                now = usage()
                answer = f"ok {now[1]!r} {now[2]}" if now else "ok"
            else:
                calls[request]()
                answer = "ok"
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
            answer = f"error {type(exc).__name__}: {error_line(exc, 160)}"
        out.write(answer.encode() + b"\n")
        out.flush()


def _gemm_result(precision: str, n: int, seconds: float, repeats: int, backend: str) -> GemmRate:
    return GemmRate(precision=precision, n=n, flops_per_s=FLOPS_PER_MAC * n**3 / seconds, best_seconds=seconds,
                    repeats=repeats, backend=backend)


def gemm_rate(precision: str, n: int, repeats: int = 3) -> GemmRate:
    """Best ``n x n x n`` GEMM rate on this CPU.

    fp32 / fp64 use numpy (its BLAS, all threads it is given); int8 uses
    onnxruntime ``MatMulInteger`` (uint8 x int8 -> int32, the VNNI / AMX path).
    """
    with _GemmChildren() as children:
        run, _, backend = _gemm_kernel(precision, n, children)
        return _gemm_result(precision, n, _best_seconds(run, repeats, min_total_s=0.25), repeats, backend)


_STREAM_KERNELS = ("copy", "triad")


def _stream_arrays(array_bytes: int, threads: int = 1) -> tuple[Any, Any, Any]:
    """Three float64 arrays of ``array_bytes`` each (at least one element per thread), written once (so paged in)."""
    import numpy as np

    n = max(array_bytes // 8, threads)
    return np.ones(n), np.full(n, 2.0), np.full(n, 0.5)


def _stream_kernel(kernel: str, arrays: tuple[Any, Any, Any], threads: int = 1, inner: int = 1,
                   pool: Any = None) -> Callable[[], Any]:
    """One call of a STREAM-like kernel over ``arrays`` (``copy``: ``b[:] = a``; ``triad``: ``a = b + 3 c`` in numpy's
    two passes), each of ``threads`` threads of ``pool`` on its own contiguous slice, ``inner`` times over."""
    import numpy as np

    if kernel not in _STREAM_KERNELS:
        raise InputError(f"unknown stream kernel {kernel!r}; use copy or triad")
    a, b, c = arrays
    n = len(a)
    bounds = [(i * n // threads, (i + 1) * n // threads) for i in range(threads)]

    def work(lo: int, hi: int) -> None:
        for _ in range(inner):
            if kernel == "copy":
                np.copyto(b[lo:hi], a[lo:hi])
            else:
                np.multiply(c[lo:hi], 3.0, out=a[lo:hi])
                np.add(a[lo:hi], b[lo:hi], out=a[lo:hi])

    if threads == 1:
        return lambda: work(0, n)
    return lambda: list(pool.map(lambda lh: work(*lh), bounds))


def _stream_result(kernel: str, level: str, elements: int, threads: int, inner: int, seconds: float,
                   repeats: int) -> Bandwidth:
    """The :class:`Bandwidth` of a best call of ``seconds``: copy moves 2 x 8 B per element, triad 5 x 8 B."""
    moved = (2 if kernel == "copy" else 5) * 8 * elements * inner
    return Bandwidth(kernel=kernel, level=level, array_bytes=8 * elements, threads=threads, bytes_per_s=moved / seconds,
                     repeats=repeats)


def stream_bandwidth(kernel: str, array_bytes: int, threads: int = 1, repeats: int = 5,
                     level: str = "dram", inner: int = 1) -> Bandwidth:
    """Best STREAM-like rate over float64 arrays of ``array_bytes`` each.

    ``copy``: ``b[:] = a`` (2 x 8 B per element). ``triad``: ``a = b + s * c``
    in numpy's two passes (5 x 8 B per element). With ``threads > 1`` each
    thread works on its own contiguous slice. ``inner`` repeats the kernel
    inside one timed call (for cache-resident sizes, where one call is short).
    """
    if kernel not in _STREAM_KERNELS:
        raise InputError(f"unknown stream kernel {kernel!r}; use copy or triad")
    arrays = _stream_arrays(array_bytes, threads)
    if threads == 1:
        t = _best_seconds(_stream_kernel(kernel, arrays, 1, inner), repeats)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            t = _best_seconds(_stream_kernel(kernel, arrays, threads, inner, pool), repeats)
    return _stream_result(kernel, level, len(arrays[0]), threads, inner, t, repeats)


def dispatch_overhead(runs: int = 2000, nodes: int = 64) -> DispatchOverhead:
    """Median onnxruntime ``session.run`` time of a 1-node and an ``nodes``-node Add chain.

    One thread, graph optimisations off (so the chain is not fused away),
    one-element float tensors, so the time is dispatch, not arithmetic.
    """
    import numpy as np
    from onnx import TensorProto, helper

    def chain(k: int):
        made, prev = [], "X"
        for i in range(k):
            made.append(helper.make_node("Add", [prev, "one"], [f"y{i}"]))
            prev = f"y{i}"
        model = _onnx_model(
            made,
            [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
            [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1])],
            [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])],
        )
        return _ort_session(model, threads=1, optimize=False)

    feeds = {"X": np.zeros(1, np.float32)}

    def median_run(sess) -> float:
        for _ in range(max(runs // 20, 10)):
            sess.run(None, feeds)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            sess.run(None, feeds)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    one = median_run(chain(1))
    many = median_run(chain(nodes))
    slope = (many - one) / (nodes - 1)
    return DispatchOverhead(per_call_s=one, per_node_s=slope, nodes=nodes, runs=runs)


#: the shapes :func:`subnormal_assist` times: Swin-T's first-stage window attention (64 windows x 3 heads, 49 tokens,
#: head size 32), the half of each score matrix a shifted window's mask covers
SUBNORMAL_SHAPE = (192, 49, 32)
#: an extra time below this share of the run without subnormals reads as none (the probe's resolution)
SUBNORMAL_RESOLUTION = 0.05


def subnormal_assist(threads: int = 1, runs: int = 15) -> SubnormalAssist:
    """Time onnxruntime's MatMul and Softmax with and without float32 subnormals (x86 microcode assists).

    The MatMul multiplies probabilities whose masked half is ``exp(-100)`` = 3.7e-44 (what a softmax after a -100
    mask writes: Swin's shifted windows) by a normal matrix, against the same with those entries 0; the Softmax reads
    scores with that half offset by -100 (subnormal outputs) against -10000 (zeros). The extra time is divided by the
    subnormal multiply-adds (each masked entry meets the N columns) and by the subnormal outputs counted. Fastest of
    ``runs`` runs each, alternating; an extra time under :data:`SUBNORMAL_RESOLUTION` of the normal run is 0.
    """
    import numpy as np
    from onnx import TensorProto, helper

    b, m, n = SUBNORMAL_SHAPE
    f32 = TensorProto.FLOAT
    mm = _ort_session(_onnx_model([helper.make_node("MatMul", ["A", "B"], ["C"])],
                                  [helper.make_tensor_value_info("A", f32, [b, m, m]),
                                   helper.make_tensor_value_info("B", f32, [b, m, n])],
                                  [helper.make_tensor_value_info("C", f32, [b, m, n])]), threads=threads, spin=False)
    sm = _ort_session(_onnx_model([helper.make_node("Softmax", ["X"], ["Y"], axis=-1)],
                                  [helper.make_tensor_value_info("X", f32, [b, m, m])],
                                  [helper.make_tensor_value_info("Y", f32, [b, m, m])]), threads=threads, spin=False)
    rng = np.random.default_rng(0)
    mask = np.zeros((b, m, m), bool)
    half = (m + 1) // 2
    mask[:, :half, half:] = True
    mask[:, half:, :half] = True
    probs = (rng.random((b, m, m)) / m).astype(np.float32)
    right = rng.standard_normal((b, m, n)).astype(np.float32)
    scores = (0.1 * rng.standard_normal((b, m, m))).astype(np.float32)
    feeds = {"mm": ({"A": np.where(mask, np.float32(np.exp(np.float32(-100))), probs), "B": right},
                    {"A": np.where(mask, np.float32(0), probs), "B": right}),
             "sm": ({"X": np.where(mask, scores - 100, scores).astype(np.float32)},
                    {"X": np.where(mask, scores - 10000, scores).astype(np.float32)})}
    sessions = {"mm": mm, "sm": sm}
    best = {(k, i): float("inf") for k in feeds for i in (0, 1)}
    out = sessions["sm"].run(None, feeds["sm"][0])[0]
    for _ in range(runs):
        for k, pair in feeds.items():
            for i, feed in enumerate(pair):
                t0 = time.perf_counter()
                sessions[k].run(None, feed)
                best[(k, i)] = min(best[(k, i)], time.perf_counter() - t0)


    tiny = np.finfo(np.float32).tiny
    outputs = int(np.count_nonzero((out != 0) & (np.abs(out) < tiny)))
    return SubnormalAssist(
        mac_s=_extra_per(best[("mm", 0)], best[("mm", 1)], int(mask.sum()) * n),
        softmax_s=_extra_per(best[("sm", 0)], best[("sm", 1)], outputs),
        threads=threads, matmul_s=best[("mm", 0)], matmul_normal_s=best[("mm", 1)],
        softmax_total_s=best[("sm", 0)], softmax_normal_s=best[("sm", 1)])


def transpose_session(shape: Sequence[int], perm: Sequence[int], threads: int | None, spin: bool = True):
    """An onnxruntime CPU session of one float32 Transpose of ``shape`` by ``perm`` (input ``X``, output ``Y``)."""
    from onnx import TensorProto, helper

    return _ort_session(_onnx_model([helper.make_node("Transpose", ["X"], ["Y"], perm=list(perm))],
                                    [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(shape))],
                                    [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [shape[a] for a in perm])]),
                        threads=threads, spin=spin)


def innermost_transpose(threads: int = 1, runs: int = 15) -> TransposeFigure:
    """Time onnxruntime's Transpose of one float32 tensor with a permutation that moves the innermost axis other than
    as a 2-D transpose, and with one that keeps it (:data:`~hybridperf.analysis.transpose.PROBE_SHAPE`: MaxViT-T's
    first window partition, 200,704 elements; the same bytes moved by both).

    The figure is the difference of their fastest runs (of ``runs``, alternating, after 3 warm-up runs each) per
    element: what a transpose of that class costs beyond the copy the roofline and the learned model price. Measured
    2026-12-06 on a Zen 4 (1 and 2 threads): 3.38-3.40 ns per element against 0.15-0.25 ns for a transpose keeping
    the innermost axis (``calibration/host-epyc-zen4-transpose``). An extra time under
    :data:`SUBNORMAL_RESOLUTION` of the keeping copy reads as none (0).
    """
    import numpy as np

    from hybridperf.analysis.transpose import PROBE_KEEPS, PROBE_MOVES, PROBE_SHAPE

    sessions = {name: transpose_session(PROBE_SHAPE, perm, threads, spin=False)
                for name, perm in (("moves", PROBE_MOVES), ("keeps", PROBE_KEEPS))}
    feed = {"X": np.random.default_rng(0).standard_normal(PROBE_SHAPE, dtype=np.float32)}
    best = _fastest_runs(sessions, {k: feed for k in sessions}, runs)  # ``runs`` rounds alternating the two
    elements = int(np.prod(PROBE_SHAPE))
    per = _extra_per(best["moves"], best["keeps"], elements)
    return TransposeFigure(per_element_s=per, threads=threads, moves_s=best["moves"], keeps_s=best["keeps"],
                           elements=elements)


#: the elements :func:`elementwise_math` times each node over (1 MiB of float32 in, 1 MiB out)
MATH_PROBE_ELEMENTS = 2**18


#: the ONNX opset of :func:`elementwise_math`'s nodes (``Mish`` is an op from opset 18)
MATH_PROBE_OPSET = 18
#: :func:`elementwise_math`'s ``GridSample``: ((channels, height, width) of its float32 input, the side of its square
#: grid), so that it writes :data:`MATH_PROBE_ELEMENTS` outputs (coordinates uniform over the input, seed 0)
GRID_PROBE = ((16, 64, 64), 128)


def elementwise_math(threads: int = 1, runs: int = 15) -> ElementwiseMath:
    """Time onnxruntime's lone ``Sin``, ``Cos``, ``Tan``, ``Log``, ``Softplus``, ``Mish``, ``Elu`` and ``Selu``
    nodes (:data:`~hybridperf.analysis.elementwise_math.ELEMENTWISE_MATH_KEYS`, capitalised) and a ``Neg``
    over :data:`MATH_PROBE_ELEMENTS` float32 elements, fastest of ``runs`` alternating rounds after 3 warm-up runs
    each. The functions read values 0.05-8, where each is defined; the activations standard normal values, as an
    activation's input has both signs (onnxruntime's ``Elu`` takes about 1.35 times as long on positive values alone
    on the Zen 4 of plan (28)). ``GridSample`` of each mode (:data:`GRID_PROBE`) writes as many outputs.

    Each function's figure is its fastest run less the ``Neg``'s, per element: what it costs beyond the copy the
    roofline and the learned model price (:mod:`hybridperf.analysis.elementwise_math`). Measured 2026-12-07 on a
    Zen 4 (``calibration/host-epyc-zen4-math``, ``calibration/host-epyc-zen4-activations``). An extra time under
    :data:`SUBNORMAL_RESOLUTION` of the copy reads as none (0).
    """
    import numpy as np
    from onnx import TensorProto, helper

    from hybridperf.analysis.elementwise_math import ACTIVATION_KEYS, ELEMENTWISE_MATH_KEYS, GRID_SAMPLE_KEYS

    n = MATH_PROBE_ELEMENTS
    io = ([helper.make_tensor_value_info("X", TensorProto.FLOAT, [n])],
          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n])])
    (c, h, w), out_hw = GRID_PROBE  # c x out_hw x out_hw outputs: n (tests/test_grid_sample_dec7.py)
    grid_io = ([helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, c, h, w]),
                helper.make_tensor_value_info("G", TensorProto.FLOAT, [1, out_hw, out_hw, 2])],
               [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, c, out_hw, out_hw])])

    def model(k: str) -> bytes:
        if k in GRID_SAMPLE_KEYS:  # GridSample-16's modes (bilinear, nearest, bicubic), zeros outside
            node = helper.make_node("GridSample", ["X", "G"], ["Y"], mode=k.removeprefix("grid_sample_"))
            return _onnx_model([node], *grid_io, opset=MATH_PROBE_OPSET)
        return _onnx_model([helper.make_node(k.capitalize(), ["X"], ["Y"])], *io, opset=MATH_PROBE_OPSET)

    sessions = {k: _ort_session(model(k), threads=threads, spin=False) for k in ("neg", *ELEMENTWISE_MATH_KEYS)}
    rng = np.random.default_rng(0)
    normal = rng.standard_normal(n)
    positive = {"X": (0.05 + 2 * np.abs(normal)).astype(np.float32)}
    signed = {"X": normal.astype(np.float32)}
    grid = {"X": normal.astype(np.float32)[:c * h * w].reshape(1, c, h, w),
            "G": rng.uniform(-1.0, 1.0, (1, out_hw, out_hw, 2)).astype(np.float32)}
    best = _fastest_runs(sessions, {k: grid if k in GRID_SAMPLE_KEYS else signed if k in ACTIVATION_KEYS else positive
                                    for k in sessions}, runs)
    per = {k: _extra_per(best[k], best["neg"], n) for k in ELEMENTWISE_MATH_KEYS}
    return ElementwiseMath(per_element_s=per, threads=threads,
                           fastest_s=dict(best), elements=n)


#: :func:`gather_block`'s Gather: (rows of the float32 table, indices), one element a block
GATHER_PROBE = (4096, 2**18)


def gather_block(threads: int = 1, runs: int = 15) -> GatherFigure:
    """Time onnxruntime's lone ``Gather`` of :data:`GATHER_PROBE`'s indices (uniform, seed 0) from a float32 table
    of one element a row (each index copies a block of one element) and a ``Neg`` over as many elements, fastest of
    ``runs`` alternating rounds after 3 warm-up runs each.

    The figure is the ``Gather``'s fastest run less the ``Neg``'s, per block: what a block costs beyond the copy the
    roofline and the learned model price (:mod:`hybridperf.analysis.gather`). Measured 2026-12-07 on a Zen 4
    (``calibration/host-epyc-zen4-gather``). An extra time under :data:`SUBNORMAL_RESOLUTION` of the copy reads as
    none (0).
    """
    import numpy as np
    from onnx import TensorProto, helper

    rows, n = GATHER_PROBE
    rng = np.random.default_rng(0)
    gather = _ort_session(_onnx_model(
        [helper.make_node("Gather", ["X", "I"], ["Y"], axis=0)],
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [rows]),
         helper.make_tensor_value_info("I", TensorProto.INT64, [n])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n])]), threads=threads, spin=False)
    copy = _ort_session(_onnx_model(
        [helper.make_node("Neg", ["X"], ["Y"])], [helper.make_tensor_value_info("X", TensorProto.FLOAT, [n])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n])]), threads=threads, spin=False)
    feeds = {"gather": {"X": rng.standard_normal(rows).astype(np.float32),
                        "I": rng.integers(0, rows, size=n).astype(np.int64)},
             "copy": {"X": rng.standard_normal(n).astype(np.float32)}}
    best = _fastest_runs({"gather": gather, "copy": copy}, feeds, runs)
    per = _extra_per(best["gather"], best["copy"], n)
    return GatherFigure(per_block_s=per, threads=threads, gather_s=best["gather"], copy_s=best["copy"], blocks=n)


#: :func:`broadcast_span`'s Mul: (spans, elements a span), a value of ``(spans, 1)`` repeated over each span of
#: ``(spans, span)`` (Mamba's discretisation repeats one over each 16-element state)
BROADCAST_PROBE = (2**14, 16)


def broadcast_span(threads: int = 1, runs: int = 15) -> BroadcastFigure:
    """Time onnxruntime's lone ``Mul`` of ``(spans, 1)`` by ``(spans, span)`` float32 operands (:data:`BROADCAST_PROBE`:
    one value repeated over each span) and a ``Neg`` of its output's elements, fastest of ``runs`` alternating rounds
    after 3 warm-up runs each.

    The figure is the ``Mul``'s fastest run less the ``Neg``'s, per span: what a span costs beyond the element-wise
    work the roofline and the learned model price (:mod:`hybridperf.analysis.broadcast`). Measured 2026-12-07 on a
    Zen 4 (``calibration/host-epyc-zen4-broadcast``). An extra time under :data:`SUBNORMAL_RESOLUTION` of the copy
    reads as none (0).
    """
    import numpy as np
    from onnx import TensorProto, helper

    spans, span = BROADCAST_PROBE
    rng = np.random.default_rng(0)
    mul = _ort_session(_onnx_model(
        [helper.make_node("Mul", ["A", "B"], ["Y"])],
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [spans, 1]),
         helper.make_tensor_value_info("B", TensorProto.FLOAT, [spans, span])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [spans, span])]), threads=threads, spin=False)
    copy = _ort_session(_onnx_model(
        [helper.make_node("Neg", ["X"], ["Y"])], [helper.make_tensor_value_info("X", TensorProto.FLOAT, [spans, span])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [spans, span])]), threads=threads, spin=False)
    feeds = {"broadcast": {"A": rng.standard_normal((spans, 1)).astype(np.float32),
                           "B": rng.standard_normal((spans, span)).astype(np.float32)},
             "copy": {"X": rng.standard_normal((spans, span)).astype(np.float32)}}
    best = _fastest_runs({"broadcast": mul, "copy": copy}, feeds, runs)
    per = _extra_per(best["broadcast"], best["copy"], spans)
    return BroadcastFigure(per_span_s=per, threads=threads, broadcast_s=best["broadcast"], copy_s=best["copy"],
                           spans=spans, span=span)


#: the nodes :func:`depthwise_conv1d` times for each class: (ONNX op, stride, the two kernels) over 256 channels x
#: 4096 steps (kernel 31 a Conformer's, 12 at stride 2 BigVGAN's anti-aliasing filters)
DEPTHWISE_PROBE = {"conv": ("Conv", 1, (3, 31)), "conv_strided": ("Conv", 2, (4, 12)),
                   "transpose": ("ConvTranspose", 1, (3, 31)), "transpose_strided": ("ConvTranspose", 2, (4, 12))}
DEPTHWISE_PROBE_SHAPE = (256, 4096)


def two_point_fit(points: Sequence[tuple[float, float, float]]) -> tuple[float, float]:
    """``(per_mac, per_output)`` seconds with ``t = macs x per_mac + outputs x per_output`` through two
    ``(macs, outputs, t)`` points; where that gives a negative figure, it is 0 and the other the least-squares fit of
    both points alone."""
    import numpy as np

    a = np.array([[m, o] for m, o, _ in points], float)
    t = np.array([p[2] for p in points], float)
    per_mac, per_output = np.linalg.solve(a, t)
    if per_mac < 0:
        return 0.0, float(a[:, 1] @ t / (a[:, 1] @ a[:, 1]))
    if per_output < 0:
        return float(a[:, 0] @ t / (a[:, 0] @ a[:, 0])), 0.0
    return float(per_mac), float(per_output)


def depthwise_conv1d(threads: int = 1, runs: int = 15) -> DepthwiseConv1d:
    """Time onnxruntime's lone depthwise 1-D ``Conv`` / ``ConvTranspose`` nodes of each class of
    :data:`~hybridperf.analysis.depthwise1d.DEPTHWISE_CONV1D_CLASSES` at two kernel sizes (:data:`DEPTHWISE_PROBE`, over
    :data:`DEPTHWISE_PROBE_SHAPE`), fastest of ``runs`` alternating rounds after 3 warm-up runs each, each timed run
    right after an untimed one of the same node (warm); each class's figures are the time per multiply-add and per output element through its two nodes (:func:`two_point_fit`):
    onnxruntime's per-channel product has a cost per output besides its taps. Measured 2026-12-07 on a Zen 4
    (``calibration/host-epyc-zen4-depthwise1d``)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from hybridperf.analysis.depthwise1d import DEPTHWISE_CONV1D_CLASSES

    c, n = DEPTHWISE_PROBE_SHAPE
    rng = np.random.default_rng(0)
    sessions, work = {}, {}
    for cls in DEPTHWISE_CONV1D_CLASSES:
        op, s, kernels = DEPTHWISE_PROBE[cls]
        for k in kernels:
            out = (n - k) // s + 1 if op == "Conv" else (n - 1) * s + k
            w = numpy_helper.from_array(rng.standard_normal((c, 1, k)).astype(np.float32), "W")
            model = _onnx_model([helper.make_node(op, ["X", "W"], ["Y"], group=c, kernel_shape=[k], strides=[s])],
                                [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, c, n])],
                                [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, c, out])], [w])
            name = f"{cls} k{k}"
            sessions[name] = _ort_session(model, threads=threads, spin=False)
            work[name] = (c * k * (out if op == "Conv" else n), c * out)
    feed = {"X": rng.standard_normal((1, c, n)).astype(np.float32)}
    for sess in sessions.values():
        for _ in range(3):
            sess.run(None, feed)
    # each timed run right after an untimed one of the same node: its buffers warm, as a network's node finds the
    # tensor its producer just wrote (alternating cold, the kernel-3 nodes took 2.3x their warm time on a Zen 4)
    runners = {k: functools.partial(s.run, None, feed) for k, s in sessions.items()}
    best, _ = _interleaved_best_seconds(runners, min_rounds=runs, budget_s=0.0, warm=runners)
    per_mac, per_output = {}, {}
    for cls in DEPTHWISE_CONV1D_CLASSES:
        names = [f"{cls} k{k}" for k in DEPTHWISE_PROBE[cls][2]]
        per_mac[cls], per_output[cls] = two_point_fit([(*work[nm], best[nm]) for nm in names])
    return DepthwiseConv1d(per_mac_s=per_mac, per_output_s=per_output, threads=threads, fastest_s=dict(best),
                           work=work)


def llc_reread(llc_bytes: int, threads: int = 1, runs: int = 200) -> LlcReread:
    """Time onnxruntime's MatMul of one row ``[1, k]`` with a float32 weight ``[k, 2k]`` of about ``llc_bytes / 4``
    (``k`` a multiple of 16), the product each step of a recurrent layer computes with its weight: after the first
    run the last-level cache holds the weight, so the fastest of ``runs`` (after 20 warm-up runs) reads it from there.
    The weight's bytes over that time are the rate a sheet gives as ``memory.llc.bandwidth``
    (:mod:`hybridperf.analysis.recurrent`). Measured 2026-12-07 on a Zen 4 (32 MiB LLC, 8 MiB weight): 78 GB/s with
    1 thread, 144 GB/s with 2, against 26-33 / 50-74 GB/s for weights of 36-64 MiB (DRAM)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    k = max(16, int((llc_bytes / 4 / 8) ** 0.5) // 16 * 16)
    weight = np.random.default_rng(0).standard_normal((k, 2 * k), dtype=np.float32)
    model = _onnx_model([helper.make_node("MatMul", ["X", "W"], ["Y"])],
                        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, k])],
                        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 2 * k])],
                        [numpy_helper.from_array(weight, "W")])
    sess = _ort_session(model, threads=threads)
    feed = {"X": np.ones((1, k), np.float32)}
    best = _best_seconds(lambda: sess.run(None, feed), runs, warmup=20)
    return LlcReread(bytes_per_s=weight.nbytes / best, threads=threads, weight_bytes=weight.nbytes, fastest_s=best)


#: :func:`l2_reread`'s sequence lengths (the slope between them is a layer's time a step) and its layers' input size
L2_STEPS = (8, 72)
L2_INPUT_SIZE = 16


def _lstm_session(units: int, steps: int, threads: int) -> Callable[[], Any]:
    """One ``run`` of an onnxruntime session of an ``LSTM`` node (``units`` hidden units, input size
    :data:`L2_INPUT_SIZE`, batch 1, ``steps`` steps, zero initial state)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(units)
    scale = 1.0 / units ** 0.5
    w = (rng.standard_normal((1, 4 * units, L2_INPUT_SIZE)) * scale).astype(np.float32)
    r = (rng.standard_normal((1, 4 * units, units)) * scale).astype(np.float32)
    model = _onnx_model([helper.make_node("LSTM", ["X", "W", "R"], ["Y"], hidden_size=units)],
                        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [steps, 1, L2_INPUT_SIZE])],
                        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [steps, 1, 1, units])],
                        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R")])
    sess = _ort_session(model, threads=threads)
    feed = {"X": rng.standard_normal((steps, 1, L2_INPUT_SIZE)).astype(np.float32)}
    return lambda: sess.run(None, feed)


def _units_for(weight_bytes: float) -> int:
    """An LSTM's units (a multiple of 16) whose recurrent weight (``4H x H`` float32) is about ``weight_bytes``."""
    return max(16, int((weight_bytes / 16) ** 0.5) // 16 * 16)


def l2_reread(l2_bytes: int, threads: int = 1, runs: int = 100, rounds: int = 3) -> L2Reread:
    """Time two onnxruntime ``LSTM`` layers whose recurrent weights (``4H x H`` float32) are about half and a
    quarter of ``l2_bytes`` (the L2 caches of the ``threads`` cores they run on, together), each over the
    :data:`L2_STEPS` sequence lengths: the fastest of ``runs`` runs in each of ``rounds`` interleaved rounds. Each
    layer's time a step is the slope between the lengths; the weight bytes the larger layer adds over the time it
    adds is the rate a sheet gives as ``memory.l2.bandwidth``: how fast a recurrent layer's step product re-reads a
    weight the L2 caches hold (:mod:`hybridperf.analysis.recurrent`); what a step costs whatever its weight (the
    gates, the dispatch and the threads' hand-off) cancels. Measured 2026-12-07 on a Zen 4 (1 MiB L2 a core) in
    plan (18c) of CHANGELOG: about 100 GB/s with 1 thread and 175 GB/s with 2, where a copy of L2-sized arrays
    read 77-92 GB/s a core."""
    units, small = _units_for(l2_bytes / 2), _units_for(l2_bytes / 4)
    if small >= units:
        raise RuntimeError(f"an L2 of {l2_bytes} B is too small for two LSTM layers of different sizes")
    layers = {(u, t): _lstm_session(u, t, threads) for u in (units, small) for t in L2_STEPS}
    best = dict.fromkeys(layers, float("inf"))
    for _ in range(rounds):
        for key, run in layers.items():
            best[key] = min(best[key], _best_seconds(run, runs, warmup=10))
    lo, hi = L2_STEPS
    step = {u: (best[(u, hi)] - best[(u, lo)]) / (hi - lo) for u in (units, small)}
    weight, small_weight = (16 * u * u for u in (units, small))
    grown = step[units] - step[small]
    if grown <= 0:
        raise RuntimeError(f"onnxruntime's {units}-unit LSTM was not slower a step than its {small}-unit one "
                           f"({step[units] * 1e6:.3g} against {step[small] * 1e6:.3g} us): no L2 rate")
    return L2Reread(bytes_per_s=(weight - small_weight) / grown, threads=threads, weight_bytes=weight,
                    small_weight_bytes=small_weight, step_s=step[units], small_step_s=step[small])


def l2_bandwidth_quantity(figure: L2Reread, src: str) -> dict[str, Any]:
    """A CPU sheet's ``memory.l2.bandwidth`` from :func:`l2_reread`'s figure."""
    units, small = (int(round((b / 16) ** 0.5)) for b in (figure.weight_bytes, figure.small_weight_bytes))
    return _q(figure.bytes_per_s / 1e9, "GB/s",
              f"{src}: onnxruntime LSTM layers of {units} and {small} units re-reading their "
              f"{figure.weight_bytes / 2**10:.4g} / {figure.small_weight_bytes / 2**10:.4g} KiB recurrent weights "
              f"from the L2 caches, {figure.step_s * 1e6:.4g} / {figure.small_step_s * 1e6:.4g} us a step, "
              f"{figure.threads} thread(s): the weight bytes the larger adds over the time it adds (the rate a "
              "recurrent layer's steps re-read a weight the cores' L2 caches hold at)", measured=True)


def llc_bandwidth_quantity(figure: LlcReread, src: str) -> dict[str, Any]:
    """A sheet's ``memory.llc.bandwidth`` from :func:`llc_reread`'s figure."""
    return _q(figure.bytes_per_s / 1e9, "GB/s",
              f"{src}: onnxruntime MatMul [1, k] x [k, 2k] re-reading a {figure.weight_bytes / 2**20:.3g} MiB float32 "
              f"weight the last-level cache holds, fastest run {figure.fastest_s * 1e6:.4g} us, {figure.threads} "
              "thread(s) (the rate a recurrent layer's steps re-read their weights at)", measured=True)


# --------------------------------------------------------------------------- whole probe


def _cuda_available() -> bool:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken torch install means: no CUDA probe
        return False


def _llc_bytes(caches: tuple[CacheLevel, ...]) -> int:
    data = [c for c in caches if c.type in ("Data", "Unified")]
    return max((c.size_bytes for c in data), default=32 * 2**20)


#: the CPU probe times its GEMM and STREAM kernels in interleaved rounds (:func:`_interleaved_best_seconds`) for
#: at least this many seconds (``quick`` -> budget) and this many rounds; with ``--quick`` the whole CPU probe
#: took about 3.5 s on a 1-core slice of a Zen 4 with 1024^3 GEMMs, 4.8-5.3 s on a Zen 5 core with 2048^3 (2026-12-02)
CPU_TRIAL_BUDGET_S = {True: 2.0, False: 6.0}
CPU_TRIAL_MIN_ROUNDS = 5

@dataclass(frozen=True)
class _Trial:
    """A prepared kernel of the CPU probe: ``run`` is one timed call, ``warm`` (untimed, before each timed call)
    brings its data back into cache, ``figure(best seconds, calls)`` the :class:`GemmRate` / :class:`Bandwidth`."""

    run: Callable[[], Any]
    figure: Callable[[float, int], Any]
    warm: Callable[[], Any] | None = None


def _cpu_trial_steps(quick: bool, threads: int, caches: tuple[CacheLevel, ...], memory_bytes: int | None,
                     pool: Any, children: _GemmChildren | None = None) -> list[tuple[str, Callable[[], _Trial]]]:
    """The CPU probe's kernels as ``(name, prepare)``; ``prepare()`` builds the data and returns a :class:`_Trial`.
    GEMM child processes (:class:`_BlasChild`) are added to ``children``."""
    llc = _llc_bytes(caches)
    mem = memory_bytes or 8 * 2**30
    # arrays well past the last-level cache (its whole size, up to the cap) but a small share of RAM
    cap = (256 if quick else 1024) * 2**20
    dram_array = int(min(max(2 * llc, 64 * 2**20), cap, mem // 16))
    # 2048^3 either way: the size of every shipped CPU sheet's GEMM figures, which the cross-host model was trained
    # on. A smaller quick GEMM read a different figure, not a noisier one: on one Zen 5 core int8 MatMulInteger ran
    # 720-730 GOPS at 1024^3 against 300-306 at 2048^3, fp32 181-186 against 200-207 GFLOP/s (2026-12-02).
    n_gemm = 2048
    dram: list[Any] = []  # one set of arrays for every DRAM kernel, made by the first

    def gemm(precision: str) -> _Trial:
        run, touch, backend = _gemm_kernel(precision, n_gemm, children)
        return _Trial(run, lambda t, calls: _gemm_result(precision, n_gemm, t, calls, backend), touch)

    def stream(kernel: str, k: int, level: str = "dram", array_bytes: int = 0, inner: int = 1) -> _Trial:
        if level == "dram" and not dram:
            dram.extend(_stream_arrays(dram_array, threads))
        arrays = tuple(dram) if level == "dram" else _stream_arrays(array_bytes, k)
        run = _stream_kernel(kernel, arrays, k, inner, pool)
        # a cache-resident kernel is warmed by one untimed call; DRAM kernels start cold anyway
        return _Trial(run, lambda t, calls: _stream_result(kernel, level, len(arrays[0]), k, inner, t, calls),
                      run if level != "dram" else None)

    steps: list[tuple[str, Callable[[], _Trial]]] = [(f"gemm {p}", lambda p=p: gemm(p)) for p in ("fp64", "fp32", "int8")]
    steps.append(("copy 1 thread", lambda: stream("copy", 1)))
    if threads > 1:
        steps.append((f"copy {threads} threads", lambda: stream("copy", threads)))
    steps.append((f"triad {threads} thread{'s' if threads > 1 else ''}", lambda: stream("triad", threads)))
    l2 = [c for c in caches if c.level == 2 and c.type in ("Data", "Unified")]
    if l2:  # two arrays fill half of one core's L2
        steps.append(("copy l2", lambda: stream("copy", 1, "l2", l2[0].size_bytes // 4, inner=20 if quick else 50)))
    return steps


def _prepare_trials(steps: list[tuple[str, Callable[[], _Trial]]], report: Progress,
                    total: int) -> tuple[dict[str, _Trial], dict[str, str]]:
    """Prepare and warm (one untimed call) each step's kernel; ``(trials by name, errors by name)``.

    int8 GEMM needs onnxruntime: without it (or where it fails) that figure is skipped, recorded and
    estimated; numpy failures are real errors.
    """
    trials, errors = {}, {}
    for i, (name, prepare) in enumerate(steps):
        report(name, i, total)
        try:
            trial = prepare()
            trial.run()
        except Exception as exc:  # noqa: BLE001 - see the docstring
            if not (isinstance(exc, ImportError) or name == "gemm int8"):
                raise
            errors[name] = f"skipped: {type(exc).__name__}: {error_line(exc, 160)}"
            continue
        trials[name] = trial
    return trials, errors


def probe(quick: bool = False, progress: Progress | None = None, use_gpu: bool | None = None) -> ProbeResult:
    """Probe this machine. ``use_gpu=None`` probes CUDA where ``torch.cuda.is_available()``.

    ``quick`` keeps the whole CPU probe to a few seconds (smaller DRAM arrays,
    fewer L2 passes, a 2 s instead of 6 s trial budget; the same 2048^3 GEMMs as
    the full probe and the shipped sheets); figures are then noisier. The GEMM and STREAM figures
    are the fastest call of each kernel over interleaved rounds
    (:func:`_interleaved_best_seconds`), so a busy neighbour does not set them.
    """
    if use_gpu is None:
        use_gpu = _cuda_available()
    host = read_host_info()
    caches = read_caches()
    now = _dt.datetime.now(_dt.timezone.utc)
    date = now.date().isoformat()
    if use_gpu:
        return _probe_gpu(quick, progress, host, caches, date, now.strftime("%H:%M"))

    report = progress or (lambda step, done, total: None)
    threads = host.usable_cpus
    from concurrent.futures import ThreadPoolExecutor

    # the GEMM child processes (where OPENBLAS_CORETYPE is set) end with the trials, before dispatch is timed
    with ThreadPoolExecutor(threads) if threads > 1 else contextlib.nullcontext() as pool, \
            _GemmChildren() as children:
        steps = _cpu_trial_steps(quick, threads, caches, host.memory_bytes, pool, children)
        total = len(steps) + 2
        trials, errors = _prepare_trials(steps, report, total)
        report(f"interleaved trials (>= {CPU_TRIAL_BUDGET_S[quick]:g} s)", len(steps), total)
        start = children.usage()
        best, rounds = _interleaved_best_seconds({name: t.run for name, t in trials.items()},
                                                 min_rounds=CPU_TRIAL_MIN_ROUNDS, budget_s=CPU_TRIAL_BUDGET_S[quick],
                                                 warm={name: t.warm for name, t in trials.items() if t.warm})
        contention = contention_between(start, children.usage(), threads)
    figures = [t.figure(best[name], rounds) for name, t in trials.items()]
    gemm = [f for f in figures if isinstance(f, GemmRate)]
    bws = [f for f in figures if isinstance(f, Bandwidth)]
    report("dispatch", len(steps) + 1, total)
    dispatch = None
    try:
        dispatch = dispatch_overhead(runs=500 if quick else 3000)
    except Exception as exc:  # noqa: BLE001 - needs onnxruntime: without it the figure is skipped and estimated
        errors["dispatch"] = f"skipped: {type(exc).__name__}: {error_line(exc, 160)}"
    subnormal = None
    try:
        subnormal = subnormal_assist(threads=threads, runs=5 if quick else 15)
    except Exception as exc:  # noqa: BLE001 - needs onnxruntime: without it the figures are not on the sheet
        errors["subnormal"] = f"skipped: {type(exc).__name__}: {error_line(exc, 160)}"
    transpose = None
    try:
        transpose = innermost_transpose(threads=threads, runs=5 if quick else 15)
    except Exception as exc:  # noqa: BLE001 - needs onnxruntime: without it the figure is not on the sheet
        errors["transpose"] = f"skipped: {type(exc).__name__}: {error_line(exc, 160)}"
    math_figure = None
    try:
        math_figure = elementwise_math(threads=threads, runs=5 if quick else 15)
    except Exception as exc:  # noqa: BLE001 - needs onnxruntime: without it the figures are not on the sheet
        errors["elementwise math"] = f"skipped: {type(exc).__name__}: {error_line(exc, 160)}"
    depthwise = None
    try:
        depthwise = depthwise_conv1d(threads=threads, runs=5 if quick else 15)
    except Exception as exc:  # noqa: BLE001 - needs onnxruntime: without it the figures are not on the sheet
        errors["depthwise conv1d"] = f"skipped: {type(exc).__name__}: {error_line(exc, 160)}"
    gather = None
    try:
        gather = gather_block(threads=threads, runs=5 if quick else 15)
    except Exception as exc:  # noqa: BLE001 - needs onnxruntime: without it the figure is not on the sheet
        errors["gather"] = f"skipped: {type(exc).__name__}: {error_line(exc, 160)}"
    broadcast = None
    try:
        broadcast = broadcast_span(threads=threads, runs=5 if quick else 15)
    except Exception as exc:  # noqa: BLE001 - needs onnxruntime: without it the figure is not on the sheet
        errors["broadcast"] = f"skipped: {type(exc).__name__}: {error_line(exc, 160)}"
    llc = None
    if max((c.level for c in caches if c.type in ("Data", "Unified")), default=0) >= 3:
        try:
            llc = llc_reread(_llc_bytes(caches), threads=threads, runs=50 if quick else 200)
        except Exception as exc:  # noqa: BLE001 - needs onnxruntime: without it the figure is not on the sheet
            errors["llc"] = f"skipped: {type(exc).__name__}: {error_line(exc, 160)}"
    l2 = None
    l2_caches = [c for c in caches if c.level == 2 and c.type in ("Data", "Unified")]
    if l2_caches:
        try:
            l2 = l2_reread(l2_caches[0].size_bytes * threads, threads=threads, runs=30 if quick else 100)
        except Exception as exc:  # noqa: BLE001 - needs onnxruntime: without it the sheet keeps the copy's figure
            errors["l2"] = f"skipped: {type(exc).__name__}: {error_line(exc, 160)}"
    report("done", total, total)
    return ProbeResult(date=date, version=__version__, quick=quick, kind="cpu", host=host, caches=caches,
                       gemm=tuple(gemm), bandwidth=tuple(bws), dispatch=dispatch, errors=errors, contention=contention,
                       time_utc=now.strftime("%H:%M"), subnormal=subnormal, transpose=transpose, llc=llc, l2=l2,
                       math=math_figure, depthwise=depthwise, gather=gather,
                       broadcast=broadcast)


def _probe_gpu(quick: bool, progress: Progress | None, host: HostInfo, caches, date: str, time_utc: str) -> ProbeResult:
    from hybridperf.measure import torch_cuda as measure_torch

    report = progress or (lambda step, done, total: None)
    report("cuda probe (gemm + power per precision, copy, launch, idle power)", 0, 1)
    out = measure_torch.probe_cuda(
        gemm_n=4096 if quick else 8192,
        copy_bytes=(256 if quick else 2048) * 2**20,
        idle_s=0.5 if quick else 2.0,
        power_s=0.5 if quick else 1.5,
    )
    report("done", 1, 1)
    return result_from_cuda_probe(out, host=host, caches=caches, date=date, quick=quick, time_utc=time_utc)


def result_from_cuda_probe(out: Mapping[str, Any], *, host: HostInfo, caches: tuple[CacheLevel, ...] = (),
                           date: str, quick: bool = False, version: str = __version__, time_utc: str = "") -> ProbeResult:
    """A :class:`ProbeResult` from the dict of :func:`hybridperf.measure.torch_cuda.probe_cuda`.

    The same conversion the CUDA probe uses, so a ``probe.json`` saved on a GPU
    machine can be turned into a spec elsewhere (``spec_dict`` / ``write_spec``).
    """
    gemm = tuple(
        GemmRate(precision=p, n=out["gemm_n"], flops_per_s=r, best_seconds=FLOPS_PER_MAC * out["gemm_n"] ** 3 / r,
                 repeats=10, backend=f"torch {out.get('torch_version')} CUDA {out.get('cuda_version')}")
        for p, r in out["peak_flops_per_s"].items()
    )
    bws = [Bandwidth(kernel="copy", level="dram", array_bytes=out["copy_bytes"], threads=1,
                     bytes_per_s=out["dram_copy_bandwidth_bytes_per_s"], repeats=20)]
    if out.get("l2_copy_bandwidth_bytes_per_s"):
        bws.append(Bandwidth(kernel="copy", level="l2", array_bytes=out["l2_copy_bytes"], threads=1,
                             bytes_per_s=out["l2_copy_bandwidth_bytes_per_s"], repeats=20))
    return ProbeResult(date=date, version=version, quick=quick, kind="gpu", host=host, caches=caches, gemm=gemm,
                       bandwidth=tuple(bws), dispatch=None, errors=dict(out.get("gemm_errors", {})), gpu=dict(out),
                       time_utc=time_utc)


# --------------------------------------------------------------------------- spec writing


def subnormal_section(a: SubnormalAssist, src: str) -> dict[str, Any]:
    """A sheet's ``subnormal_assist`` from :func:`subnormal_assist`'s figures (ns; 0 where none was measurable)."""
    b, m, n = SUBNORMAL_SHAPE
    shape = f"{b} x {m} x {m} probabilities with half of each row exp(-100)"
    return {
        "mac": _q(a.mac_s * 1e9, "ns", f"{src}: onnxruntime MatMul ({shape}) x ({b} x {m} x {n}), {a.threads} "
                  f"thread(s), fastest run {a.matmul_s * 1e3:.3g} ms against {a.matmul_normal_s * 1e3:.3g} ms with "
                  "those entries 0, per multiply-add reading a subnormal", measured=True),
        "softmax": _q(a.softmax_s * 1e9, "ns", f"{src}: onnxruntime Softmax ({b} x {m} x {m} scores, half offset by "
                      f"-100), {a.threads} thread(s), fastest run {a.softmax_total_s * 1e3:.3g} ms against "
                      f"{a.softmax_normal_s * 1e3:.3g} ms offset by -10000, per subnormal output", measured=True)}


def transpose_section(t: TransposeFigure, src: str) -> dict[str, Any]:
    """A sheet's ``transpose`` from :func:`innermost_transpose`'s figure (ns per element; 0 where none was
    measurable)."""
    from hybridperf.analysis.transpose import PROBE_KEEPS, PROBE_MOVES, PROBE_SHAPE

    shape = " x ".join(map(str, PROBE_SHAPE))
    return {"innermost": _q(t.per_element_s * 1e9, "ns", f"{src}: onnxruntime Transpose of {shape} float32, perm "
                            f"{PROBE_MOVES} (moves the innermost axis) fastest run {t.moves_s * 1e3:.3g} ms against "
                            f"{t.keeps_s * 1e3:.3g} ms with perm {PROBE_KEEPS} (keeps it), {t.threads} thread(s), "
                            "per element", measured=True)}


def math_section(m: ElementwiseMath, src: str) -> dict[str, Any]:
    """A sheet's ``elementwise_math`` from :func:`elementwise_math`'s figures (ns per element; 0 where none was
    measurable)."""
    from hybridperf.analysis.elementwise_math import math_node

    return {k: _q(v * 1e9, "ns", f"{src}: onnxruntime {math_node(k)} of {m.elements:,} float32 elements, fastest "
                  f"run {m.fastest_s[k] * 1e3:.3g} ms against {m.fastest_s['neg'] * 1e3:.3g} ms for a Neg, "
                  f"{m.threads} thread(s), per element", measured=True) for k, v in m.per_element_s.items()}


def depthwise_section(d: DepthwiseConv1d, src: str) -> dict[str, Any]:
    """A sheet's ``depthwise_conv1d`` from :func:`depthwise_conv1d`'s figures (ns per multiply-add and per output)."""
    c, n = DEPTHWISE_PROBE_SHAPE
    out = {}
    for cls in d.per_mac_s:
        op, stride, kernels = DEPTHWISE_PROBE[cls]
        runs = ", ".join(f"kernel {k} {d.fastest_s[f'{cls} k{k}'] * 1e3:.3g} ms" for k in kernels)
        how = (f"{src}: onnxruntime depthwise {op} of {c} channels x {n} steps, stride {stride}, {d.threads} "
               f"thread(s), fastest runs {runs}, fitted to their multiply-adds and outputs")
        out[f"{cls}_mac"] = _q(d.per_mac_s[cls] * 1e9, "ns", f"{how}; per multiply-add", measured=True)
        out[f"{cls}_output"] = _q(d.per_output_s[cls] * 1e9, "ns", f"{how}; per output element", measured=True)
    return out


def gather_section(g: GatherFigure, src: str) -> dict[str, Any]:
    """A sheet's ``gather`` from :func:`gather_block`'s figure (ns per block; 0 where none was measurable)."""
    rows, _ = GATHER_PROBE
    return {"block": _q(g.per_block_s * 1e9, "ns", f"{src}: onnxruntime Gather of {g.blocks:,} indices from {rows:,} "
                        f"float32 rows of one element, fastest run {g.gather_s * 1e3:.3g} ms against "
                        f"{g.copy_s * 1e3:.3g} ms for a Neg of as many elements, {g.threads} thread(s), per block",
                        measured=True)}


def broadcast_section(b: BroadcastFigure, src: str) -> dict[str, Any]:
    """A sheet's ``broadcast`` from :func:`broadcast_span`'s figure (ns per span; 0 where none was measurable)."""
    return {"span": _q(b.per_span_s * 1e9, "ns", f"{src}: onnxruntime Mul of ({b.spans:,}, 1) by ({b.spans:,}, "
                       f"{b.span}) float32 (one value repeated over each span of {b.span}), fastest run "
                       f"{b.broadcast_s * 1e3:.3g} ms against {b.copy_s * 1e3:.3g} ms for a Neg of its output, "
                       f"{b.threads} thread(s), per span", measured=True)}


def _sig(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits}g}")


def _q(value: float, unit: str, source: str, measured: bool = False, note: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"value": _sig(value), "unit": unit, "source": source}
    if measured:
        out["measured"] = True
    if note:
        out["note"] = note
    return out


#: conservative estimates for figures a probe cannot measure
_CPU_WATTS_PER_CORE = 10.0
_DRAM_PJ_PER_BYTE = 160.0
_HBM_PJ_PER_BYTE = 31.0
_GDDR_PJ_PER_BYTE = 112.0


def spec_dict(result: ProbeResult, device_id: str, name: str | None = None) -> dict[str, Any]:
    """A schema-v1 spec mapping for ``result`` (validate with :func:`hybridperf.device.spec.parse_spec`)."""
    if result.kind == "gpu":
        return _gpu_spec_dict(result, device_id, name)
    src = result.source
    host = result.host
    cores = host.usable_cpus
    peaks = _cpu_peaks(result, src)
    memory = _cpu_memory(result, src, cores)
    launch = _cpu_launch(result, src)
    pmax = _CPU_WATTS_PER_CORE * cores
    power, energy = _cpu_power_energy(peaks, pmax, cores)
    notes = (f"Probed {result.moment} by hybridperf {result.version}{' (--quick)' if result.quick else ''}. "
             f"CPU: {host.cpu_model}; {cores} usable of {host.logical_cpus} logical CPUs; governor "
             f"{host.governor or 'not exposed'}; {host.machine}; Python {host.python}; numpy {host.numpy} ({host.blas}); "
             f"onnxruntime {host.onnxruntime or 'not installed'}. "
             # the complete list (a flag not in it is absent, :func:`~hybridperf.device.spec.sheet_isa_flags`);
             # "none" where the flags were read and none is key (until 2026-12-04 left out: read as "not said")
             + (f"ISA flags: {' '.join(host.isa) or 'none'}. " if host.isa or host.isa_read else "")
             + "Power and energy are estimates, not measurements.")
    if result.errors:
        notes += " Skipped: " + "; ".join(f"{k}: {v}" for k, v in result.errors.items()) + "."
    if result.contention is not None and result.contention.busy:
        notes += _BUSY_NOTE.format(result.contention.describe())
    out = {
        "schema_version": 1,
        "id": device_id,
        "name": name or f"{host.cpu_model} ({plural(cores, 'CPU')}, probed)",
        "kind": "cpu",
        "peak_compute": peaks,
        "memory": memory,
        "launch_overhead": launch,
        # onnxruntime's measured session.run time: what a model that launches no kernel is priced at (until 2026-12-05
        # only words in launch_overhead's source)
        **({"call_overhead": {"onnxruntime": _q(
            result.dispatch.per_call_s * 1e6, "us", f"{src}: onnxruntime per-call time, median session.run of a 1-node "
            f"Add model ({result.dispatch.runs} runs; one node's dispatch included)", measured=True)}}
           if result.dispatch is not None and result.dispatch.per_call_s > 0 else {}),
        **({"subnormal_assist": subnormal_section(result.subnormal, src)} if result.subnormal is not None else {}),
        **({"transpose": transpose_section(result.transpose, src)} if result.transpose is not None else {}),
        **({"elementwise_math": math_section(result.math, src)} if result.math is not None else {}),
        **({"depthwise_conv1d": depthwise_section(result.depthwise, src)} if result.depthwise is not None else {}),
        **({"gather": gather_section(result.gather, src)} if result.gather is not None else {}),
        **({"broadcast": broadcast_section(result.broadcast, src)} if result.broadcast is not None else {}),
        "power": power,
        "energy": energy,
        "compute_units": {"count": {"value": cores, "unit": "core",
                                    # counted, not timed: not marked measured, and its source does not say so
                                    "source": f"read by hybridperf probe {result.version} on {result.date}: the CPUs "
                                              "the probe could run on (its affinity), each one thread of the measured "
                                              "peaks"}},
    }
    ident = sheet_cpu_identity(host, f"read by hybridperf probe {result.version} on {result.date}: /proc/cpuinfo "
                                     "vendor_id, cpu family, model, stepping")
    if ident is not None:
        out["cpu_identity"] = ident
    out["notes"] = notes
    return out


def _widest_first(rate: Any) -> int:
    """Sort key of a measured GEMM rate: its precision's place in :class:`Precision` (widest first)."""
    return list(Precision).index(Precision(rate.precision))


def _cpu_peaks(result: ProbeResult, src: str) -> dict[str, Any]:
    """``peak_compute`` from the measured GEMM rates (fp64, fp32, int8 order); InputError when none."""
    peaks: dict[str, Any] = {}
    for g in sorted(result.gemm, key=_widest_first):
        unit, scale = ("GOPS", 1e9) if Precision(g.precision).is_integer else ("GFLOP/s", 1e9)
        peaks[g.precision] = _q(g.flops_per_s / scale, unit, f"{src}: best of {g.repeats} {g.n}^3 GEMM, {g.backend}",
                                measured=True)
    if not peaks:
        raise InputError("the probe measured no GEMM rate; install numpy (and onnxruntime for int8)")

    return peaks


def _cpu_memory(result: ProbeResult, src: str, cores: int) -> dict[str, Any]:
    """``memory``: DRAM (measured bandwidth, capacity), L2 and last-level cache; InputError with no bandwidth."""
    host = result.host
    memory: dict[str, Any] = {}
    dram = result.best_bandwidth("dram")
    if dram is None:
        raise InputError("the probe measured no memory bandwidth (its copy and triad kernels gave no timing); run "
                         "`hybridperf probe` again on an idle machine, or write memory.dram.bandwidth into the sheet "
                         "yourself (hw_specs/README.md)")
    dram_src = (f"{src}: best STREAM-like {dram.kernel}, {dram.threads} thread(s), {dram.array_bytes // 2**20} MiB "
                f"arrays (numpy)")
    memory["dram"] = {
        "bandwidth": _q(dram.bytes_per_s / 1e9, "GB/s", dram_src, measured=True,
                        note="no sheet figure for this machine: the attainable rate stands in for the peak (a lower bound)"),
        "attainable_bandwidth": _q(dram.bytes_per_s / 1e9, "GB/s", dram_src, measured=True),
    }
    if host.memory_bytes:
        memory["dram"]["capacity"] = _q(host.memory_bytes / 2**30, "GiB", f"{src}: MemTotal in /proc/meminfo",
                                        measured=True)
    caches = {c.level: c for c in result.caches if c.type in ("Data", "Unified")}
    l2bw = result.best_bandwidth("l2")
    if 2 in caches or l2bw or result.l2 is not None:
        memory["l2"] = {}
        if 2 in caches:
            memory["l2"]["capacity"] = _q(caches[2].size_bytes / 2**10, "KiB",
                                          f"{src}: /sys/devices/system/cpu/cpu0/cache, L2 of one core", measured=True)
        if result.l2 is not None:
            memory["l2"]["bandwidth"] = l2_bandwidth_quantity(result.l2, src)
        elif l2bw:
            total = l2bw.bytes_per_s * cores
            memory["l2"]["bandwidth"] = _q(
                total / 1e9, "GB/s",
                f"{src}: single-thread copy of {l2bw.array_bytes // 2**10} KiB arrays x {cores} cores (derived: "
                f"{l2bw.bytes_per_s / 1e9:.4g} GB/s per core x {cores})", measured=True)
    top = max(caches) if caches else 0
    if top >= 3:
        memory["llc"] = {"capacity": _q(caches[top].size_bytes / 2**20, "MiB",
                                        f"{src}: /sys/devices/system/cpu/cpu0/cache, L{top} (shared by "
                                        f"{caches[top].shared_cpu_count} CPUs visible here)", measured=True)}
        if result.llc is not None:
            memory["llc"]["bandwidth"] = llc_bandwidth_quantity(result.llc, src)

    return memory


def _cpu_launch(result: ProbeResult, src: str) -> dict[str, Any]:
    """``launch_overhead``: onnxruntime's measured per-node (else per-call) dispatch, else a 2 us estimate."""
    if result.dispatch is not None and result.dispatch.per_node_s > 0:
        d = result.dispatch
        launch = _q(d.per_node_s * 1e6, "us",
                    f"{src}: onnxruntime per-node dispatch, slope of median session.run over a 1- vs {d.nodes}-node "
                    f"Add chain ({d.runs} runs each; per call {d.per_call_s * 1e6:.3g} us)", measured=True)
    elif result.dispatch is not None:
        launch = _q(result.dispatch.per_call_s * 1e6, "us",
                    f"{src}: onnxruntime per-call dispatch of a 1-node Add model, median of {result.dispatch.runs} runs",
                    measured=True)
    else:
        launch = _q(2, "us", "estimate: onnxruntime per-node dispatch on a server CPU, a few us (onnxruntime not "
                             "installed, not measured)")

    return launch


def _cpu_power_energy(peaks: dict[str, Any], pmax: float, cores: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """``power`` and ``energy`` estimates (not measured) from a per-core power figure and the measured peaks."""
    power = {
        "idle": _q(0.3 * pmax, "W", f"estimate, not measured: 30% of the {pmax:g} W max estimate"),
        "max": _q(pmax, "W", f"estimate, not measured: {_CPU_WATTS_PER_CORE:g} W per core x {cores} cores "
                             "(x86 server / desktop cores draw 5-15 W each at full load)"),
    }
    idle_w = power["idle"]["value"]
    per_mac = {}
    for p, q in peaks.items():
        # dynamic energy only: the roofline adds idle power x latency itself
        pj = _sig((pmax - idle_w) / (q["value"] * 1e9 / FLOPS_PER_MAC) * 1e12)
        per_mac[p] = _q(pj, "pJ", f"derived: (estimated max power {pmax:g} W - idle {idle_w:g} W) / (measured "
                                  f"{q['value']:g} {q['unit']} / 2) = {pj:g}, dynamic energy at peak, an upper bound; "
                                  "idle is priced apart")
    energy = {
        "per_mac": per_mac,
        "per_byte": {"dram": _q(_DRAM_PJ_PER_BYTE, "pJ", "estimate, not measured: DRAM access ~20 pJ/bit incl. I/O "
                                                           "(Horowitz, ISSCC 2014) x 8, upper bound")},
    }
    return power, energy


def _gpu_spec_dict(result: ProbeResult, device_id: str, name: str | None) -> dict[str, Any]:
    src = result.source
    g = result.gpu or {}
    peaks = _gpu_peaks(result, src, g)
    dram = result.best_bandwidth("dram")
    memory = _gpu_memory(result, src, g, dram)
    launch = _gpu_launch(src, g)
    pmax, power_max, power_idle = _gpu_power(src, g)
    energy, dev_name = _gpu_energy(src, g, peaks, pmax, power_idle, dram)
    extras = {k: g[k] for k in ("compute_capability", "sm_count", "driver_version", "cuda_version", "torch_version",
                                "sm_clock_max_mhz") if g.get(k) is not None}
    notes = (f"Probed {result.moment} by hybridperf {result.version}{' (--quick)' if result.quick else ''} on "
             f"{dev_name}: " + ", ".join(f"{k} {v}" for k, v in extras.items()) + f". Host CPU: {result.host.cpu_model}.")
    if result.errors:
        notes += " Precisions that did not run: " + "; ".join(f"{k}: {v}" for k, v in result.errors.items()) + "."
    family = _gpu_family_probes(result, src, g)
    if family is None and g.get("family_probe_error"):
        notes += f" Family probes did not run: {g['family_probe_error']}."
    elif family is None and g.get("family_probe_latency_s"):
        notes += " Family probes not kept: a timed latency was not a positive finite number."
    out = {
        "schema_version": 1,
        "id": device_id,
        "name": name or f"{dev_name} (probed)",
        "kind": "gpu",
        "peak_compute": peaks,
        **({"compute_units": units} if (units := _gpu_compute_units(src, g)) else {}),
        "memory": memory,
        "launch_overhead": launch,
        "power": {"idle": power_idle, "max": power_max},
        "energy": energy,
    }
    if family is not None:
        out["family_probes"] = family
    out["notes"] = notes
    return out


#: FP32 lanes per SM by compute capability (major, minor): CUDA C++ Programming Guide, "Arithmetic Instructions",
#: throughput of 32-bit floating-point add, multiply, multiply-add (results per clock cycle per multiprocessor)
FP32_LANES_PER_SM: Mapping[tuple[int, int], int] = MappingProxyType({
    (6, 0): 64, (6, 1): 128, (6, 2): 128, (7, 0): 64, (7, 2): 64, (7, 5): 64, (8, 0): 64, (8, 6): 128, (8, 7): 128,
    (8, 9): 128, (9, 0): 128})


def _gpu_compute_units(src: str, g: Mapping[str, Any]) -> dict[str, Any]:
    """``compute_units`` of a probed GPU: the SM count and boost clock the device reports, the FP32 lanes per SM of
    its compute capability (:data:`FP32_LANES_PER_SM`; left out for one not listed). The zero-shot GPU model reads
    them; until 2026-12-04 a probed sheet kept the SM count in its notes only, so its figures assumed 1 SM."""
    units: dict[str, Any] = {}
    if g.get("sm_count"):
        units["count"] = _q(int(g["sm_count"]), "SM", f"{src}: multi_processor_count from "
                                                     "torch.cuda.get_device_properties", True)
    try:
        cc = tuple(int(x) for x in str(g.get("compute_capability", "")).split("."))
    except ValueError:
        cc = ()
    if cc in FP32_LANES_PER_SM:
        units["fp32_lanes_per_unit"] = _q(FP32_LANES_PER_SM[cc], "lanes", f"CUDA C++ Programming Guide, arithmetic "
                                          f"instruction throughput: {FP32_LANES_PER_SM[cc]} FP32 results per clock per "
                                          f"SM at compute capability {cc[0]}.{cc[1]} (the probe's "
                                          "torch.cuda.get_device_properties)")
    if g.get("sm_clock_max_mhz"):
        units["boost_clock"] = _q(float(g["sm_clock_max_mhz"]), "MHz", f"{src}: maximum SM clock (NVML)", True)
    return units


def _gpu_family_probes(result: ProbeResult, src: str, g: Mapping[str, Any]) -> dict[str, Any] | None:
    """``family_probes``: the fixed operator shapes :func:`hybridperf.measure.torch_cuda.probe_families` timed
    (``family_probe_latency_s``), or None where the probe has none (or any latency is not a positive number)."""
    timed = g.get("family_probe_latency_s") or []
    if not timed or any(not isinstance(t.get("latency_s"), (int, float)) or not math.isfinite(t["latency_s"])
                        or t["latency_s"] <= 0 for t in timed):
        return None
    fsrc = f"{src}: median of CUDA-event timings of one fp32 call, torch {g.get('torch_version')}"
    return {"measured_on": result.date,
            "shapes": [{"op": str(t["op"]), "dims": {str(k): int(v) for k, v in t["dims"].items()},
                        "latency": _q(t["latency_s"] * 1e6, "us", fsrc, True)} for t in timed]}


def _gpu_peaks(result: ProbeResult, src: str, g: dict[str, Any]) -> dict[str, Any]:
    """``peak_compute`` from the measured GEMM rates, widest precision first; InputError when none."""
    peaks: dict[str, Any] = {}
    for rate in sorted(result.gemm, key=_widest_first):
        unit = "TOPS" if Precision(rate.precision).is_integer else "TFLOP/s"
        note = "TF32 Tensor Cores off (float32 matmul precision 'highest')" if rate.precision == "fp32" else None
        peaks[rate.precision] = _q(rate.flops_per_s / 1e12, unit,
                                   f"{src}: median of 10 dense {rate.n}^3 GEMMs, {rate.backend}", True, note)
    if not peaks:
        raise InputError(f"the CUDA probe measured no GEMM rate ({g.get('gemm_errors')}); check that PyTorch sees the "
                         "GPU (torch.cuda.is_available()), or probe the CPU with --cpu-only")
    return peaks


def _gpu_memory(result: ProbeResult, src: str, g: dict[str, Any], dram: Any) -> dict[str, Any]:
    """``memory``: DRAM (measured copy rate, capacity) and L2 (capacity, L2-resident copy rate)."""
    dsrc = f"{src}: device-to-device copy of {dram.array_bytes // 2**20} MiB, read + write bytes (torch)"
    memory: dict[str, Any] = {
        "dram": {
            "bandwidth": _q(dram.bytes_per_s / 1e9, "GB/s", dsrc, True,
                            "no sheet figure in a probed spec: the attainable rate stands in (a lower bound)"),
            "attainable_bandwidth": _q(dram.bytes_per_s / 1e9, "GB/s", dsrc, True),
            "capacity": _q(g["total_memory_bytes"] / 2**30, "GiB",
                           f"{src}: total_memory from torch.cuda.get_device_properties", True),
        }
    }
    l2bw = result.best_bandwidth("l2")
    if g.get("l2_cache_bytes") or l2bw:
        memory["l2"] = {}
        if g.get("l2_cache_bytes"):
            memory["l2"]["capacity"] = _q(g["l2_cache_bytes"] / 2**20, "MiB",
                                          f"{src}: L2_cache_size from torch.cuda.get_device_properties", True)
        if l2bw:
            memory["l2"]["bandwidth"] = _q(l2bw.bytes_per_s / 1e9, "GB/s",
                                           f"{src}: L2-resident copy of {l2bw.array_bytes // 2**20} MiB, read + write bytes, "
                                           f"{g.get('l2_copy_count', 'many')} copies in one CUDA graph (torch)", True)
    return memory


def _gpu_launch(src: str, g: dict[str, Any]) -> dict[str, Any]:
    """``launch_overhead``: the larger of host enqueue time and GPU span per kernel (5 us when neither ran)."""
    launch_s = max(g.get("launch_queued_s", 0.0), g.get("launch_gpu_span_s", 0.0)) or 5e-6
    launch = _q(launch_s * 1e6, "us",
                f"{src}: per-kernel cost of back-to-back one-element adds, max of host enqueue "
                f"({g.get('launch_queued_s', 0) * 1e6:.3g} us) and GPU span ({g.get('launch_gpu_span_s', 0) * 1e6:.3g} us)",
                bool(g.get("launch_queued_s")))
    return launch


def _gpu_power(src: str, g: dict[str, Any]) -> tuple[float, dict[str, Any], dict[str, Any]]:
    """``(max watts, power max, power idle)``: NVML's enforced limit and idle reading, else estimates."""
    limit = g.get("power_limit_w")
    pmax = limit or 300.0
    power_max = _q(pmax, "W", f"{src}: enforced power limit (NVML)" if limit else
                   "estimate, not measured (no NVML): 300 W, a typical data-centre GPU board", bool(limit))
    idle = g.get("idle_power_w")
    if idle and idle < pmax:
        power_idle = _q(idle, "W", f"{src}: NVML energy counter over an idle window", True)
    else:
        # until 2026-12-04 the source read "15% of max power": neither the watts it was taken of, whether that max
        # was itself an estimate, nor why NVML's idle reading (where there was one) was not used
        why = (f"NVML's idle reading {idle:.4g} W is not below the {pmax:g} W limit" if idle else
               "no NVML idle reading")
        power_idle = _q(0.15 * pmax, "W", f"estimate, not measured ({why}): 15% of the {pmax:g} W "
                                          f"{'NVML limit' if limit else 'max power estimate'}")
    return pmax, power_max, power_idle


def _gpu_energy(src: str, g: dict[str, Any], peaks: dict[str, Any], pmax: float, power_idle: dict[str, Any],
                dram: Any) -> tuple[dict[str, Any], str]:
    """``(energy, device name)``: dynamic energy per MAC and per DRAM byte from NVML power during the
    GEMM and copy loops (idle power taken off), else derived upper bounds / literature estimates."""
    # Dynamic energy only: the roofline adds idle power x latency itself, so
    # the idle draw is taken off the board power before dividing by the rate.
    idle_w = power_idle["value"]
    # a figure derived from estimated watts says so (until 2026-12-04 "(max power 300 W - idle 45 W)" read as NVML's)
    max_text = f"{'' if g.get('power_limit_w') else 'estimated '}max power {pmax:g} W"
    idle_text = f"{'' if power_idle.get('measured') else 'estimated '}idle {idle_w:.4g} W"
    per_mac = {}
    for p, q in peaks.items():
        rate = q["value"] * 1e12
        watts = (g.get("gemm_avg_power_w") or {}).get(p)
        if watts and watts > idle_w:
            per_mac[p] = _q((watts - idle_w) / (rate / FLOPS_PER_MAC) * 1e12, "pJ",
                            f"{src}: (NVML average board power during a back-to-back {g.get('gemm_n')}^3 GEMM "
                            f"loop, {watts:.4g} W, minus {idle_text}) / (measured rate / 2)", True,
                            "dynamic energy at full tensor-core / SIMT utilisation; idle power is priced separately")
        else:
            pj = _sig((pmax - idle_w) / (rate / FLOPS_PER_MAC) * 1e12)
            dropped = (f"; NVML board power in the GEMM loop, {watts:.4g} W, was not above idle, so it gives no "
                       "dynamic figure" if watts else "")
            per_mac[p] = _q(pj, "pJ", f"derived: ({max_text} - {idle_text}) / (measured rate / 2) = {pj:g}, "
                                      f"dynamic energy at peak, an upper bound; idle is priced apart{dropped}")
    dev_name = str(g.get("device_name", "CUDA GPU"))
    hbm = any(k in dev_name.upper() for k in ("A100", "H100", "H200", "H800", "A800", "B200", "V100", "GH200"))
    per_byte = _HBM_PJ_PER_BYTE if hbm else _GDDR_PJ_PER_BYTE
    copy_w = g.get("dram_copy_avg_power_w")
    if copy_w and copy_w > idle_w:
        dram_pj = _q((copy_w - idle_w) / dram.bytes_per_s * 1e12, "pJ",
                     f"{src}: (NVML average board power during a back-to-back {dram.array_bytes // 2**20} MiB "
                     f"device-to-device copy loop, {copy_w:.4g} W, minus {idle_text}) / measured copy rate "
                     "(read + write bytes)", True,
                     "includes the L2 / SM / interconnect energy of moving each byte, not the HBM array alone")
    else:
        why = (f"NVML board power in the copy loop, {copy_w:.4g} W, was not above idle" if copy_w else
               "no NVML power reading in the copy loop")
        dram_pj = _q(per_byte, "pJ",
                     f"estimate, not measured ({why}): HBM2 ~3.9 pJ/bit x 8 (O'Connor et al., MICRO 2017)" if hbm else
                     f"estimate, not measured ({why}): GDDR5 ~14 pJ/bit x 8 (O'Connor et al., MICRO 2017), upper "
                     "bound")
    energy = {"per_mac": per_mac, "per_byte": {"dram": dram_pj}}
    return energy, dev_name


def check_out(path: Path | str, device_id: str | None = None) -> tuple[Path, str]:
    """Check an output path and id before probing; returns ``(path, id)``.

    ``path`` may be a directory (existing, or written with a trailing slash):
    the file is then ``<dir>/<id>.yaml`` with ``id`` defaulting to ``host-probe``.
    """
    import re

    text = str(path)
    if not text.strip():  # Path("") is ".": until 2026-12-03 `--out ''` wrote host-probe.yaml into the working directory
        raise InputError("--out is empty; name the spec file to write (ID.yaml), or a directory")
    path = Path(path)
    try:
        path.exists()
    except OSError as exc:  # ENAMETOOLONG: until 2026-12-03 exit 3, "internal error: OSError: ... File name too long"
        raise InputError(f"--out {path} cannot be looked up ({exc.strerror}); choose a shorter path") from None
    if path.is_dir() or text.endswith(("/", "\\")):
        path = path / f"{device_id or 'host-probe'}.yaml"
    if path.suffix not in (".yaml", ".yml"):
        raise InputError(f"--out {str(path)!r} must end in .yaml (the file name is the device id) or be a directory")
    if device_id is not None and not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", device_id):  # before naming a file after it
        # (until 2026-12-03 `--id ''` was taken for no --id, and `--id 'Bad Id!'` said "name the file Bad Id!.yaml")
        raise InputError(f"--id {device_id!r} must be lower case letters, digits, '.', '_' or '-'")
    device_id = device_id or path.stem
    if device_id != path.stem:
        raise InputError(f"--id {device_id!r} differs from the file name {path.stem!r}; "
                         f"name the file {device_id}.yaml or drop --id")
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", device_id):
        raise InputError(f"device id {device_id!r} must be lower case letters, digits, '.', '_' or '-'")
    return path, device_id


#: the first words of a sheet :func:`write_spec` writes (:func:`sheet_header`); ``probe --out`` replaces only a file
#: that starts with them
PROBED_HEADER = "# Written by `hybridperf probe`"


def sheet_header(version: str, date: str) -> str:
    """The two comment lines :func:`write_spec` puts above a sheet: who wrote it (:data:`PROBED_HEADER`, the probe's
    ``version`` and ``date``: :func:`header_version_date` reads them back) and how to read its figures."""
    return (f"{PROBED_HEADER} {version} on {date}. Measured figures carry `measured: true`;\n"
            "# everything else is an estimate whose source says so. See hybridperf/data/hw_specs/README.md.\n")


def header_version_date(line: str) -> tuple[str, str] | None:
    """``(version, date)`` of a sheet's first ``line`` as :func:`sheet_header` writes it, None for any other line."""
    import re

    m = re.match(re.escape(PROBED_HEADER) + r" (\S+) on (\S+?)\.", line)
    return None if m is None else (m[1], m[2])


def write_spec(result: ProbeResult, path: Path, device_id: str | None = None, name: str | None = None):
    """Validate the spec of ``result`` and write it to ``path``; returns the loaded :class:`DeviceSpec`.

    The id defaults to the file name; an explicit id that differs from it is an
    error, because the loader requires the two to match.
    """
    import yaml

    from hybridperf.device.spec import load_spec, parse_spec
    from hybridperf.files import write_atomic

    path, device_id = check_out(path, device_id)
    raw = spec_dict(result, device_id, name)
    parse_spec(raw, str(path))  # fail before writing anything invalid
    header = sheet_header(result.version, result.date)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=120))
    except OSError as exc:
        raise InputError(f"cannot write {str(path)!r}: {exc.strerror or exc}; pass --out a path you can write to") from exc
    return load_spec(path)
