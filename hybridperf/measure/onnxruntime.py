"""Ground truth on this CPU: real latency, per-node times and peak memory with onnxruntime.

Latency
    ``warmup`` untimed runs, then ``repeats`` timed runs of ``InferenceSession.run``
    (``time.perf_counter`` around each call); the record keeps the median, p10, p90,
    mean and standard deviation. Sessions use onnxruntime's defaults (graph
    optimisation level ALL, CPU arena on) with ``intra_op_num_threads=threads``
    and sequential execution, i.e. what a deployment would run; ``graph_optimization``
    (``all`` by default, or ``extended`` / ``basic`` / ``disabled``) sets onnxruntime's graph
    optimisation level and is recorded in ``Measurement.extra``.

Inputs
    Shapes are bound as ``predict`` binds them (a symbolic dim named in one ``--shape`` binds it in every input);
    values are valid for the graph by construction (:mod:`hybridperf.measure.inputs`: token ids within the table
    they index, masks all ones), and how each non-float input was filled is kept in ``Measurement.extra``
    (``input_fill``).

Per-node times
    A second session with ``SessionOptions.enable_profiling`` runs once (warm-up, left out)
    and then ``profile_runs`` times; every ``*_kernel_time`` event is summed per run and node and the
    median over runs is kept. Profile names are those of onnxruntime's *optimised* graph;
    each is joined to the original graph node with the same name (an unnamed node is ``<OpType>_<index>``
    there and ``output:<its first output>`` in the record, as the analysis names it), else to the node writing
    the tensor an NCHWc node is named after (``<output>_nchwc``), else to the longest original node name it
    starts with (after a ``fused `` prefix) (``graph_node=None`` for nodes the optimiser created, e.g. layout
    reorders).

Peak memory (:data:`MEMORY_METHOD`)
    Measured in a fresh subprocess (``isolate=True``) from Linux ``/proc/self/status``:
    the baseline is the RSS after importing onnxruntime and allocating the inputs;
    ``/proc/self/clear_refs`` (``5``) resets the high-water mark (VmHWM) before
    each phase. A session with the CPU arena *disabled* (so RSS follows real
    allocations rather than arena chunks) is created (``load_bytes`` = RSS growth:
    weights, pre-packed weights and session state) and run twice
    (``run_peak_bytes`` = HWM growth over the post-load RSS: activations plus
    onnxruntime's workspace). ``peak_bytes = load_bytes + run_peak_bytes + input
    bytes`` is comparable with :attr:`hybridperf.analysis.memory.MemoryPlan.peak_bytes`
    (activations + weights + inputs). Pages freed by the allocator but kept by
    the process would hide growth, so the worker runs with glibc's
    ``MALLOC_MMAP_THRESHOLD_=65536`` (large blocks are unmapped when freed) and
    calls ``malloc_trim(0)`` after loading.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hybridperf.device.cpuinfo import CpuIdentity, cpuinfo_text, this_cpu  # the one /proc/cpuinfo reader
from hybridperf.errors import InputError, ModelLoadError, error_line
from hybridperf.measure.contention import Contention, contention_between, usable_cpus, usage

MEASURE_SCHEMA_VERSION = 1
#: the device id a measurement records by default: this machine (the id `--device host` predicts)
DEFAULT_DEVICE = "host"
MEMORY_METHOD = (
    "fresh subprocess (glibc MALLOC_MMAP_THRESHOLD_=64KiB, malloc_trim after load); /proc/self VmHWM after "
    "clear_refs reset; arena-disabled session; "
    "peak = (RSS growth at session load) + (HWM growth over 2 runs) + input bytes"
)

_NP_DTYPES = {
    1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64",
    9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
}


@dataclass(frozen=True)
class NodeTime:
    """One node of onnxruntime's optimised graph with its median run time."""

    name: str
    op_type: str
    duration_s: float
    graph_node: str | None  # the original ONNX node it maps to; None if created by the optimiser


@dataclass(frozen=True)
class Measurement:
    """One measured model configuration on one device (SI units)."""

    model: str
    device: str
    runtime: str
    runtime_version: str
    threads: int
    cpu_model: str
    date_utc: str
    hybridperf_version: str
    input_shapes: Mapping[str, tuple[int, ...]]
    repeats: int
    warmup: int
    latency_s: float  # median
    latency_p10_s: float
    latency_p90_s: float
    latency_mean_s: float
    latency_std_s: float
    load_avg_1m: float
    latency_min_s: float | None = None
    peak_bytes: int | None = None
    load_bytes: int | None = None
    run_peak_bytes: int | None = None
    input_bytes: int = 0
    memory_method: str = ""
    profile_total_s: float | None = None
    nodes: tuple[NodeTime, ...] = ()
    schema_version: int = MEASURE_SCHEMA_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: how much another process competed for the CPU during the timed runs (None: not measured)
    contention: Contention | None = None

    @property
    def batch(self) -> int | None:
        for shape in self.input_shapes.values():
            return shape[0] if shape else None
        return None

    @property
    def known_load_avg_1m(self) -> float | None:
        """:attr:`load_avg_1m` as a record writes it: None (JSON null, an empty CSV cell) where the platform gave
        none (``-1.0``, :func:`_load_avg_1m`)."""
        load = self.load_avg_1m
        return None if load is None or load < 0 else load

    def to_dict(self) -> dict[str, Any]:
        """Every field as stored, ``-1.0`` for an unknown load average included (what :meth:`from_dict` reads back;
        :meth:`to_record` is what a user's record holds)."""
        d = asdict(self)
        d["input_shapes"] = {k: list(v) for k, v in self.input_shapes.items()}
        return d

    def to_record(self) -> dict[str, Any]:
        """:meth:`to_dict` as a record written for the user holds it: an unknown load average as None
        (:attr:`known_load_avg_1m`)."""
        return {**self.to_dict(), "load_avg_1m": self.known_load_avg_1m}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Measurement:
        d = dict(d)
        d["input_shapes"] = {k: tuple(v) for k, v in d.get("input_shapes", {}).items()}
        d["nodes"] = tuple(NodeTime(**n) for n in d.get("nodes", ()))
        if d.get("contention") is not None:
            d["contention"] = Contention(**d["contention"])
        return cls(**d)


# --------------------------------------------------------------------------- helpers


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    for line in (cpuinfo_text() or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_identity() -> CpuIdentity:
    """This machine's :class:`CpuIdentity` (model name only where /proc/cpuinfo is missing); the file is read once
    per process (:func:`hybridperf.device.cpuinfo.cpuinfo_text`)."""
    ident = this_cpu()
    if ident is None:
        return CpuIdentity(model_name=cpu_model())
    return ident if ident.model_name else replace(ident, model_name=cpu_model())


def _rss_kib() -> dict[str, int]:
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    return out


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _malloc_trim() -> None:
    """Return freed heap pages to the OS (glibc) so RSS counts only live memory."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _read_graph(model_path: Path) -> Any:
    """The ONNX model at ``model_path`` without its external data (a :class:`ModelLoadError` if unreadable)."""
    import onnx

    from hybridperf.frontends.onnx_import import onnx_read_error

    try:
        return onnx.load(str(model_path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad model file
        raise onnx_read_error(model_path, exc, measuring=True) from exc


def _bound_specs(m: Any, model_path: Path, shapes: Mapping[str, Sequence[int]] | None,
                 batch: int | None) -> dict[str, tuple[tuple[int, ...], str]]:
    """Input name -> (shape, numpy dtype) of ``m``'s real inputs, bound as ``predict`` binds them
    (:func:`hybridperf.frontends.normalize.bind_input_shapes`: a symbolic dim named in one ``--shape`` binds it in
    every input, ``--batch`` every symbolic leading dim; the same errors)."""
    import onnx

    from hybridperf.frontends.normalize import bind_input_shapes, real_inputs
    from hybridperf.units import check_batch_taken

    inputs = real_inputs(m)
    for vi in inputs:
        if vi.type.WhichOneof("value") == "tensor_type" and vi.type.tensor_type.elem_type == onnx.TensorProto.STRING:
            # until 2026-12-04 bind's message for predict: "which TVM cannot represent" (measure runs no TVM)
            raise InputError(f"input {vi.name!r} of {model_path} is a string tensor; measure (like predict) fills "
                             "numeric inputs only: export the model from its first numeric tensor on (e.g. token ids "
                             "after the tokenizer)")
        if vi.type.WhichOneof("value") == "tensor_type" and vi.type.tensor_type.elem_type not in _NP_DTYPES:
            raise InputError(f"input {vi.name!r} of {model_path} has an unsupported element type "
                             f"{onnx.TensorProto.DataType.Name(vi.type.tensor_type.elem_type)}; measure runs "
                             f"inputs of {', '.join(onnx.TensorProto.DataType.Name(t) for t in _NP_DTYPES)}: export the "
                             "model with its inputs in one of those types")
    stub = onnx.ModelProto()  # the inputs alone: binding copies the model it is given
    stub.graph.input.extend(inputs)
    bound = bind_input_shapes(stub, shapes, batch)
    specs = {vi.name: (tuple(int(d.dim_value) for d in vi.type.tensor_type.shape.dim),
                       _NP_DTYPES[vi.type.tensor_type.elem_type]) for vi in bound.graph.input}
    check_batch_taken(batch, {k: v[0] for k, v in specs.items()}, shapes)
    return specs


def input_specs(model_path: Path, shapes: Mapping[str, Sequence[int]] | None, batch: int | None):
    """Input name -> (shape, numpy dtype) of a model's graph inputs; ``shapes`` / ``batch`` bind symbolic dimensions
    as ``predict`` binds them.

    Raises :class:`~hybridperf.errors.InputError` for a dimension left unbound or an unsupported element type.
    """
    return _bound_specs(_read_graph(model_path), model_path, shapes, batch)


def model_inputs(model_path: Path, shapes: Mapping[str, Sequence[int]] | None, batch: int | None,
                 seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """The inputs a measurement runs ``model_path`` on, and how each was filled.

    Returns
    -------
    (feeds, fills)
        ``feeds``: input name -> array (:func:`hybridperf.measure.inputs.fill_inputs`, valid for the graph by
        construction: token ids within the table they index, masks all ones); ``fills``: input name ->
        :class:`~hybridperf.measure.inputs.InputFill`.
    """
    from hybridperf.measure.inputs import fill_inputs, onnx_input_fills
    from hybridperf.units import shapes_text

    m = _read_graph(model_path)
    specs = _bound_specs(m, model_path, shapes, batch)
    fills = onnx_input_fills(m.graph)
    del m
    try:
        return fill_inputs(specs, fills, seed), fills
    except MemoryError as exc:  # until 2026-12-03: "failed in the worker: numpy ... _ArrayMemoryError", no fix named
        raise InputError(f"the inputs of {model_path} ({shapes_text({k: v[0] for k, v in specs.items()})}) do not fit "
                         "in this machine's memory; bind a smaller shape with --shape or --batch") from exc


def make_inputs(specs: Mapping[str, tuple[tuple[int, ...], str]], seed: int = 0) -> dict[str, Any]:
    """Inputs for ``specs`` without a graph to read: floats uniform in [0, 1), booleans true, integers 0
    (:func:`model_inputs` reads the graph and fills integers as it uses them)."""
    from hybridperf.measure.inputs import fill_inputs

    return fill_inputs(specs, None, seed)


def unnamed_node_name(node: Any) -> str:
    """The name an unnamed ONNX node goes by in a profile's ``graph_node``: ``output:<its first output>``, as the
    analysis names it (:attr:`hybridperf.analysis.analyze.Analyzed.source_nodes`), so a profile row and a Relax op
    of the same node join."""
    return f"output:{node.output[0]}" if node.output else ""


def _graph_nodes(model_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """``(profile name -> graph node, output tensor -> graph node)`` of the model's nodes. onnxruntime calls an
    unnamed node ``<OpType>_<index>`` (until 2026-12-04 such nodes were never joined: every row of an unnamed export
    read "(optimiser)", its Gemm and Flatten too)."""
    import onnx

    m = onnx.load(str(model_path), load_external_data=False)
    names: dict[str, str] = {}
    outputs: dict[str, str] = {}
    for i, n in enumerate(m.graph.node):
        g = n.name or unnamed_node_name(n)
        if not g:
            continue
        names.setdefault(n.name or f"{n.op_type}_{i}", g)
        for o in n.output:
            if o:
                outputs.setdefault(o, g)
    return names, outputs


def _run_windows(events: list[dict]) -> list[tuple[float, float]]:
    """``(start, end)`` in the profile's microseconds of every ``model_run`` event, in time order."""
    runs = [(float(ev["ts"]), float(ev["ts"]) + float(ev.get("dur", 0))) for ev in events
            if ev.get("cat") == "Session" and ev.get("name") == "model_run" and "ts" in ev]
    return sorted(runs)


def join_profile(events: list[dict], graph_nodes: Sequence[str] | Mapping[str, str],
                 outputs: Mapping[str, str] | None = None, skip_runs: int = 0) -> tuple[NodeTime, ...]:
    """Per optimised node, its median time per run, joined to the original graph node.

    ``graph_nodes``: the graph's node names, or profile name -> graph node (:func:`_graph_nodes`: an unnamed node
    is profiled as ``<OpType>_<index>``); ``outputs``: output tensor -> graph node, for the nodes onnxruntime's
    NCHWc transformer names ``<output>_nchwc``. Where the events hold ``model_run`` windows, a node's times are
    summed per run (a node inside a loop runs several times a run) and the first ``skip_runs`` runs (warm-up) are
    left out; otherwise every event is one sample.
    """
    names = dict(graph_nodes) if isinstance(graph_nodes, Mapping) else {g: g for g in graph_nodes}
    windows = _run_windows(events)[skip_runs:] if any("ts" in ev for ev in events) else []
    durs: dict[str, dict[int, float]] = {}
    ops: dict[str, str] = {}
    order: list[str] = []
    for k, ev in enumerate(events):
        if ev.get("cat") != "Node" or not str(ev.get("name", "")).endswith("_kernel_time"):
            continue
        run = k
        if windows:
            ts = float(ev.get("ts", -1))
            run = next((j for j, (a, b) in enumerate(windows) if a <= ts <= b), -1)
            if run < 0:
                continue  # a warm-up run's node
        name = ev["name"][: -len("_kernel_time")]
        if name not in durs:
            durs[name] = {}
            order.append(name)
        durs[name][run] = durs[name].get(run, 0.0) + float(ev.get("dur", 0)) * 1e-6
        ops[name] = ev.get("args", {}).get("op_name", "")
    by_len = sorted(names, key=len, reverse=True)
    out = []
    for name in order:
        base = name.removeprefix("fused ")  # e.g. "fused matmul_0/MatMulAddFusion"
        if base in names:
            g = names[base]
        elif outputs and base.endswith("_nchwc") and base.removesuffix("_nchwc") in outputs:
            g = outputs[base.removesuffix("_nchwc")]  # e.g. "relu8_nchwc": the node writing relu8
        else:
            g = next((names[c] for c in by_len if base.startswith(c)), None)
        out.append(NodeTime(name, ops[name], statistics.median(durs[name].values()), g))
    return tuple(out)


# --------------------------------------------------------------------------- in-process measurement


#: ``graph_optimization`` argument -> onnxruntime GraphOptimizationLevel member
GRAPH_OPTIMIZATION = {"all": "ORT_ENABLE_ALL", "extended": "ORT_ENABLE_EXTENDED", "basic": "ORT_ENABLE_BASIC",
                      "disabled": "ORT_DISABLE_ALL"}


def _load_reason(exc: BaseException) -> str:
    """The reason in an onnxruntime load failure, without its status prefix, the repeated ``Load model from PATH
    failed:`` and a C++ source location with its signature (until 2026-12-04 an opset onnxruntime lacks read
    "...model_load_utils.h:46 void onnxruntime::model_load_utils::ValidateOpset", the reason cut off)."""
    import re

    text = " ".join(str(exc).split())
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = re.sub(r"^Load model from .*? failed:\s*", "", text)
    text = re.sub(r"^\S+\.(?:h|cc|cpp):\d+ [^(]*\(.*?\)(?: const)? ", "", text)
    return text or type(exc).__name__


def _cannot_load(path: Path, exc: BaseException) -> str:
    """The one-line error of an onnxruntime session that cannot be created, naming what to do about it."""
    import re

    reason = _load_reason(exc)
    newest = re.search(r"Opset (\d+) is under development.*?support for domain (\S+) is till opset (\d+)", reason)
    if newest:
        reason = (f"it is stamped opset {newest.group(1)} of {newest.group(2)}, and onnxruntime {_ort_version()} "
                  f"supports up to opset {newest.group(3)}")
        fix = f"with opset <= {newest.group(3)}, or upgrade onnxruntime"
    else:
        reason, fix = reason[:240], "(onnx.checker.check_model names the problem)"
    return (f"onnxruntime cannot load {path}: {reason}; the file is corrupt, or uses an op or opset this onnxruntime "
            f"lacks: re-export it {fix}")


def _ort_version() -> str:
    try:
        import onnxruntime

        return onnxruntime.__version__
    except (ImportError, AttributeError):
        return ""


def _run_error(exc: BaseException) -> str:
    """The reason in an onnxruntime run failure: ``node 'NAME' (Op): reason``, without onnxruntime's status prefix
    and source location (``[ONNXRuntimeError] : 1 : FAIL : ... element_wise_ops.h:563 void ...() ... was false.``)."""
    import re

    text = " ".join(str(exc).split())
    m = re.search(r"running (\S+) node\. Name:'([^']*)' Status Message: (.*)", text)
    if m is None:
        return error_line(exc, 200)
    reason = re.sub(r"^\S+:\d+ .*? was false\. ", "", m.group(3))
    return f"node {m.group(2)!r} ({m.group(1)}): {reason}"[:240]


#: the characters of an error line the CLI shows whole (:func:`hybridperf.cli._one_line` cuts a longer one's middle),
#: and the least of onnxruntime's reason kept when a run-failure line must be cut to fit them
_ERROR_LINE_CHARS, _REASON_MIN_CHARS = 400, 60
#: the words for a guessed fill's values (:class:`~hybridperf.measure.inputs.Fill`)
_GUESS_WORDS = {"zeros": "0s", "ones": "1s"}


def guessed_fills(fills: Mapping[str, Any], most: int = 3) -> tuple[str, str]:
    """What a failed run's error says of the inputs filled with a guessed value, and the fix.

    Floats (random) and indices drawn from a table the file states are valid by construction; an integer whose use
    was not recognised (0s), a mask (1s) and a boolean (true) are guesses, and a model that needs the real values
    (a Reshape target, a length, a count) fails on them.

    Parameters
    ----------
    fills : mapping of str to InputFill
        Input name -> its fill (:func:`hybridperf.measure.inputs.onnx_input_fills`).
    most : int
        The inputs named; the others are counted.

    Returns
    -------
    (str, str)
        ``("input 'shape' filled with 0s: an integer not used as indices or a mask", "measure cannot guess ...")``;
        ``("", "")`` where no input was guessed.
    """
    from hybridperf.measure.inputs import Fill

    guessed = [(name, f) for name, f in fills.items() if f.fill in (Fill.ZEROS, Fill.ONES)]
    if not guessed:
        return "", ""
    parts = []
    for name, f in guessed[:most]:
        what = "true" if f.reason.startswith("boolean") else _GUESS_WORDS[f.fill.value]
        why = f.reason.rsplit(": ", 1)[0]  # "an integer not used as indices or a mask: 0" -> its why
        parts.append(f"{name!r} filled with {what}: {why}")
    more = f"; {len(guessed) - most} more" if len(guessed) > most else ""
    one = len(guessed) == 1
    named = f"input{'' if one else 's'} {'; '.join(parts)}{more}"
    fix = (f"measure cannot guess the real values (a shape, a count): make {'it' if one else 'each'} an "
           "initializer holding them")
    return named, fix


def _session_options(ort, threads: int, profile_prefix: str | None = None, arena: bool = True,
                     graph_optimization: str = "all"):
    so = ort.SessionOptions()
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, GRAPH_OPTIMIZATION[graph_optimization])
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.enable_cpu_mem_arena = arena
    # 4 (fatal only): an error of the session reaches the user once, as the exception's line; at 3 onnxruntime also
    # logged it in red on stderr, native and unsilenced (until 2026-12-03: a model that fails to run, 2 lines)
    so.log_severity_level = 4
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    return so


def _measure_memory(ort: Any, path: Path, feeds: dict, threads: int, graph_optimization: str, providers: list[str],
                    input_bytes: int) -> tuple[int, int, int]:
    """``(load, run peak, peak)`` bytes from the RSS of a session without the memory arena
    (the high-water mark was just reset by the caller)."""
    base = _rss_kib().get("VmRSS", 0)
    try:
        s = ort.InferenceSession(str(path), _session_options(ort, threads, arena=False, graph_optimization=graph_optimization),
                                 providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelLoadError(_cannot_load(path, exc)) from exc
    _malloc_trim()
    loaded = _rss_kib().get("VmRSS", 0)
    _reset_hwm()
    for _ in range(2):
        s.run(None, feeds)
    hwm = _rss_kib().get("VmHWM", 0)
    load_b = max(0, loaded - base) * 1024
    run_b = max(0, hwm - loaded) * 1024
    peak_b = load_b + run_b + input_bytes
    del s
    return load_b, run_b, peak_b


def _time_runs(ort: Any, path: Path, feeds: dict, threads: int, graph_optimization: str, providers: list[str],
               warmup: int, repeats: int, budget_s: float | None) -> tuple[list[float], Contention | None]:
    """Wall time of each timed run after ``warmup`` untimed ones (at least ``min(5, repeats)`` runs
    when ``budget_s`` cuts the series short), and the contention over the timed runs
    (:mod:`hybridperf.measure.contention`), judged over the CPUs the threads could run on: more threads than this
    process may use share them among themselves (until 2026-12-04 ``--threads 2`` on one usable CPU read "another
    process competed for the CPU ... 50% of the CPU time of its 2 threads: BUSY" on an idle machine)."""
    try:
        sess = ort.InferenceSession(str(path), _session_options(ort, threads, graph_optimization=graph_optimization),
                                    providers=providers)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(_cannot_load(path, exc)) from exc
    for _ in range(warmup):
        sess.run(None, feeds)
    times = []
    start = usage()
    t_start = time.perf_counter()
    for i in range(repeats):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - t0)
        if budget_s is not None and i + 1 >= min(5, repeats) and time.perf_counter() - t_start > budget_s:
            break
    contention = contention_between(start, usage(), min(threads, usable_cpus()))
    del sess
    return times, contention


def _profile_nodes(ort: Any, path: Path, feeds: dict, threads: int, graph_optimization: str, providers: list[str],
                   profile_runs: int) -> tuple[NodeTime, ...]:
    """Per-node times from onnxruntime's profiler over ``profile_runs`` runs (plus one warm-up),
    joined to the model's node names."""
    with tempfile.TemporaryDirectory() as tmp:
        ps = ort.InferenceSession(
            str(path), _session_options(ort, threads, os.path.join(tmp, "ort"), graph_optimization=graph_optimization),
            providers=providers
        )
        for _ in range(max(1, profile_runs) + 1):
            ps.run(None, feeds)
        pfile = ps.end_profiling()
        events = json.loads(Path(pfile).read_text())
    names, outputs = _graph_nodes(path)
    # the first run is the warm-up (until 2026-12-04 its cold times were one of the medians' samples)
    return join_profile(events, names, outputs, skip_runs=1)


def measure_in_process(
    model: str | Path,
    shapes: Mapping[str, Sequence[int]] | None = None,
    batch: int | None = None,
    threads: int = 2,
    repeats: int = 20,
    warmup: int = 5,
    profile: bool = True,
    profile_runs: int = 5,
    memory: bool = True,
    device: str = DEFAULT_DEVICE,
    budget_s: float | None = None,
    graph_optimization: str = "all",
) -> Measurement:
    """Measure in this process (memory figures are only meaningful in a fresh one: see :func:`measure`)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise InputError("onnxruntime is not installed; pip install 'hybridperf[measure]'") from exc
    import numpy as np

    from hybridperf._version import __version__
    from hybridperf.measure.inputs import fills_record
    from hybridperf.units import shapes_text

    path = Path(model)
    if not path.is_file():
        raise ModelLoadError(f"model file {path} is missing or not a regular file; pass an .onnx file")
    feeds, fills = model_inputs(path, shapes, batch)
    input_bytes = int(sum(a.nbytes for a in feeds.values()))
    providers = ["CPUExecutionProvider"]

    load_b = run_b = peak_b = None
    nodes: tuple[NodeTime, ...] = ()
    prof_total = None
    try:
        if memory and _reset_hwm():
            load_b, run_b, peak_b = _measure_memory(ort, path, feeds, threads, graph_optimization, providers,
                                                    input_bytes)
        times, contention = _time_runs(ort, path, feeds, threads, graph_optimization, providers, warmup, repeats,
                                       budget_s)
        if profile:
            nodes = _profile_nodes(ort, path, feeds, threads, graph_optimization, providers, profile_runs)
            prof_total = float(sum(n.duration_s for n in nodes))
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        if not type(exc).__module__.startswith("onnxruntime"):
            raise
        # until 2026-12-03 "failed in the worker: onnxruntime...InvalidArgument: [ONNXRuntimeError] ...", no fix named
        # until 2026-12-04 an input filled with a guess (a Reshape target of 0s) was not named: only --shape was
        named, fix = guessed_fills(fills)
        given = shapes_text({k: v.shape for k, v in feeds.items()})
        if named:  # the reason's end gives way, so that the line keeps the inputs named and the fix
            head = f"onnxruntime cannot run {path} on inputs {given} ({named}): "
            tail = f"; {fix}, or check --shape / --batch"
            reason = _run_error(exc)
            room = max(_REASON_MIN_CHARS, _ERROR_LINE_CHARS - len(head) - len(tail))
            reason = reason if len(reason) <= room else reason[:room - 4].rstrip() + " ..."
            raise InputError(head + reason + tail) from exc
        raise InputError(f"onnxruntime cannot run {path} on inputs {given}: {_run_error(exc)}; check the --shape / "
                         "--batch values (each symbolic dim the same in every input that names it)") from exc
    arr = np.asarray(times)

    return Measurement(
        model=str(path),
        device=device,
        runtime="onnxruntime",
        runtime_version=ort.__version__,
        threads=threads,
        cpu_model=cpu_model(),
        date_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        hybridperf_version=__version__,
        input_shapes={k: tuple(v.shape) for k, v in feeds.items()},
        repeats=len(times),
        warmup=warmup,
        latency_s=float(np.median(arr)),
        latency_p10_s=float(np.percentile(arr, 10)),
        latency_p90_s=float(np.percentile(arr, 90)),
        latency_mean_s=float(arr.mean()),
        latency_std_s=float(arr.std()),
        latency_min_s=float(arr.min()),
        load_avg_1m=_load_avg_1m(),
        peak_bytes=peak_b,
        load_bytes=load_b,
        run_peak_bytes=run_b,
        input_bytes=input_bytes,
        memory_method=MEMORY_METHOD if peak_b is not None else "not measured",
        profile_total_s=prof_total,
        nodes=nodes,
        extra={"graph_optimization": graph_optimization, "cpu": cpu_identity().as_row(),
               "input_fill": fills_record(fills)},
        contention=contention,
    )


def _load_avg_1m() -> float:
    """The 1-minute load average; -1.0 where the platform gives none (records write it unknown: JSON null, CSV
    empty: :attr:`Measurement.known_load_avg_1m`; until 2026-12-04 an ``OSError`` of ``os.getloadavg`` lost the
    measurement)."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return -1.0


# --------------------------------------------------------------------------- isolated measurement


def measure(
    model: str | Path,
    shapes: Mapping[str, Sequence[int]] | None = None,
    batch: int | None = None,
    threads: int = 2,
    repeats: int = 20,
    warmup: int = 5,
    profile: bool = True,
    profile_runs: int = 5,
    device: str = DEFAULT_DEVICE,
    isolate: bool = True,
    timeout_s: float = 600.0,
    budget_s: float | None = None,
    graph_optimization: str = "all",
) -> Measurement:
    """Measure ``model`` with onnxruntime on this CPU.

    ``repeats`` timed runs follow ``warmup`` runs; with ``budget_s`` the timed
    runs stop once they have taken that long (at least 5 runs).
    With ``isolate=True`` (default) the measurement runs in a fresh Python
    subprocess so that the peak-memory figures see only this model (see the
    module docstring); latency is measured there too.

    Raises
    ------
    ModelLoadError
        The file is missing or onnxruntime cannot load it.
    InputError
        A symbolic input dimension is not bound, or onnxruntime is missing.
    """
    kwargs = dict(
        model=str(model), shapes={k: list(v) for k, v in (shapes or {}).items()} or None, batch=batch,
        threads=threads, repeats=repeats, warmup=warmup, profile=profile, profile_runs=profile_runs, device=device,
        budget_s=budget_s, graph_optimization=graph_optimization,
    )
    if not isolate:
        return measure_in_process(**kwargs)
    if not Path(model).is_file():
        raise ModelLoadError(f"model file {model} is missing or not a regular file; pass an .onnx file")
    with tempfile.TemporaryDirectory() as tmp:
        req, res = Path(tmp) / "req.json", Path(tmp) / "res.json"
        req.write_text(json.dumps(kwargs))
        # large blocks via mmap so that freed memory leaves RSS at once (see MEMORY_METHOD)
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MALLOC_MMAP_THRESHOLD_="65536")
        try:
            proc = subprocess.run(
                # this process's pid: the worker ends with it (until 2026-12-05 a killed measure left it timing)
                [sys.executable, "-m", "hybridperf.measure.onnxruntime", str(req), str(res), str(os.getpid())],
                capture_output=True, text=True, timeout=timeout_s, env=env,
            )
        except subprocess.TimeoutExpired as exc:  # until 2026-12-04: "internal error: TimeoutExpired ...", exit 3
            raise InputError(f"measuring {model} ran past {timeout_s:g} s ({warmup} warm-up and {repeats} timed runs"
                             f"{', then the profile' if profile else ''}) and was stopped; give fewer --repeats / "
                             "--warmup, or a smaller --shape / --batch") from exc
        if not res.exists():
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
            raise ModelLoadError(f"measurement of {model} failed in the worker: {tail}; it stopped without a result "
                                 "(out of memory, or onnxruntime crashed): give a smaller --shape / --batch, or check "
                                 "the model with onnx.checker.check_model")
        payload = json.loads(res.read_text())
    if "error" in payload:
        cls = {"ModelLoadError": ModelLoadError}.get(payload["error_type"], InputError)
        raise cls(payload["error"])
    return Measurement.from_dict(payload)


def _worker(req: str, res: str) -> int:
    kwargs = json.loads(Path(req).read_text())
    try:
        m = measure_in_process(**kwargs)
        payload = m.to_dict()
    except InputError as exc:
        payload = {"error": str(exc), "error_type": type(exc).__name__}
    Path(res).write_text(json.dumps(payload))
    return 0


# --------------------------------------------------------------------------- output

CSV_FIELDS = (
    "model", "device", "runtime", "runtime_version", "threads", "cpu_model", "date_utc", "hybridperf_version",
    "input_shapes", "batch", "repeats", "warmup", "latency_s", "latency_p10_s", "latency_p90_s", "latency_mean_s",
    "latency_std_s", "latency_min_s", "load_avg_1m", "peak_bytes", "load_bytes", "run_peak_bytes", "input_bytes", "profile_total_s",
)


def csv_row(m: Measurement, **extra: Any) -> dict[str, Any]:
    """A flat row (no per-node data) for CSV files; ``extra`` columns are appended. An unknown load average is None
    (an empty cell): until 2026-12-04 the rows of ``calibrate --measure``'s rounds held ``-1.0``."""
    d = m.to_record()
    row = {k: d.get(k) for k in CSV_FIELDS if k not in ("input_shapes", "batch")}
    row["input_shapes"] = ";".join(f"{k}={'x'.join(map(str, v))}" for k, v in m.input_shapes.items())
    row["batch"] = m.batch
    row.update(extra)
    return {**{k: row.get(k) for k in CSV_FIELDS}, **extra}


def node_rows(m: Measurement, key: str) -> list[dict[str, Any]]:
    """Per-node rows (``key`` identifies the measurement) for the profile CSV."""
    return [
        {"key": key, "node": n.name, "op_type": n.op_type, "duration_s": f"{n.duration_s:.3e}", "graph_node": n.graph_node or ""}
        for n in m.nodes
    ]


if __name__ == "__main__":  # the isolated worker: python -m hybridperf.measure.onnxruntime REQ.json RES.json [PARENT]
    from hybridperf.measure.child import end_with_parent

    end_with_parent(int(sys.argv[3]) if len(sys.argv) > 3 else None)
    sys.exit(_worker(sys.argv[1], sys.argv[2]))
