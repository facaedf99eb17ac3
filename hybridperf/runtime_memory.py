"""Peak memory per runtime: what onnxruntime (CPU), PyTorch (CUDA) and TVM's VM actually hold.

:mod:`hybridperf.memory` plans activations exactly as TVM's ``StaticPlanBlockMemory`` does.
A deployment runs on some runtime, and each allocates differently; this module predicts the
peak *as each runtime's ground truth in this project measures it*, with the parts it is made
of (:class:`RuntimePeak`). Each model states what it includes:

``onnxruntime`` (CPU, :func:`onnxruntime_peak`)
    Modelled figure: :data:`hybridperf.measure.MEMORY_METHOD`, i.e. resident-set growth of a
    fresh process (arena disabled, glibc large blocks mmap'd): ``load`` (RSS growth while the
    session is created) + ``run`` (``VmHWM`` growth over two runs) + input bytes.

    * the graph onnxruntime runs: its own optimiser at level ALL (constant folding, Conv+BN/Act
      fusion, Gemm/MatMul fusions, LayerNorm/Gelu fusions, NCHWc blocked layouts), taken from
      onnxruntime itself when it is installed (``SessionOptions.optimized_model_filepath``),
      else the ONNX graph as written;
    * resident initializers of that graph, each its own allocation (page-rounded). Pre-packed
      weights (MLAS packs constant GEMM operands; NCHWc reorders conv weights to blocked layouts)
      replace the original, they do not add to it: on this data ``disable_prepacking`` changes
      load RSS by < 0.1 MiB;
    * activations: onnxruntime's sequential allocation planner (aliasing ops share their input's
      buffer, element-wise ops may run in place, a freed buffer of exactly the same size is
      reused, most recently freed first) and its memory pattern, which places every planned
      buffer at an offset by best fit between live blocks (onnxruntime
      ``core/framework/mem_pattern_planner.h``) and, from the second run on, allocates the
      pattern's peak as one block; graph outputs are allocated outside the pattern;
    * ``session`` and ``run`` fixed overheads (code pages first touched, thread pool, session
      objects, allocator book-keeping): constants fitted on training families
      (``benchmarks/memory_runtime.py``), not derived.

    The CPU arena (BFC, ``kNextPowerOfTwo`` extension from a 1 MiB initial chunk) is *off* in the
    measured figure; :func:`bfc_arena_reserved_bytes` gives what it would reserve.

``torch`` (CUDA, :func:`torch_cuda_peak`)
    Modelled figure: ``torch.cuda.max_memory_allocated()`` around one eager inference after
    warm-up (``hybridperf.measure_torch.measure_cuda``): weights + inputs resident, the
    cuBLAS workspace allocated in warm-up (kept by the caching allocator), plus the
    activation peak. Every block is rounded as the caching allocator does (512-byte granularity;
    requests over 1 MiB come from 2 MiB-rounded or 20 MiB segments and keep a remainder below
    1 MiB unsplit).

``tvm`` (:func:`tvm_peak`)
    TVM's exact static plan + the largest intra-kernel workspace + weights + inputs (3.6 % MAPE
    against the VM's resident peak in ``benchmarks/results/memory.md``).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any


class Runtime(str, Enum):
    """The runtime whose peak memory is predicted."""

    ONNXRUNTIME = "onnxruntime"
    TORCH = "torch"
    TVM = "tvm"


#: default runtime per device kind: what the project's measurements on such devices use
#: (CPU sheets: ``hybridperf measure`` = onnxruntime; GPU sheets: ``benchmarks/gpu_measure.py`` = PyTorch).
DEFAULT_RUNTIME_BY_KIND = {"cpu": Runtime.ONNXRUNTIME, "gpu": Runtime.TORCH}


def default_runtime(device_kind: str) -> Runtime:
    """The runtime a device's measurements are made with: onnxruntime on CPUs, PyTorch on GPUs, else TVM."""
    return DEFAULT_RUNTIME_BY_KIND.get(device_kind, Runtime.TVM)


@dataclass(frozen=True)
class RuntimePeak:
    """Predicted peak memory of one inference on one runtime (bytes).

    ``parts`` are ``(name, bytes)`` and add up to ``peak_bytes``; ``includes`` says in words what the
    figure counts and ``measured_as`` which measurement it models.
    """

    runtime: str
    peak_bytes: int
    parts: tuple[tuple[str, int], ...]
    includes: str
    measured_as: str
    notes: tuple[str, ...] = ()

    def part(self, name: str) -> int:
        return dict(self.parts).get(name, 0)

    def to_dict(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "peak_bytes": self.peak_bytes, "parts": dict(self.parts),
                "includes": self.includes, "measured_as": self.measured_as, "notes": list(self.notes)}


def _make(runtime: Runtime, parts: Sequence[tuple[str, int]], includes: str, measured_as: str,
          notes: Iterable[str] = ()) -> RuntimePeak:
    parts = tuple((k, int(v)) for k, v in parts)
    return RuntimePeak(runtime.value, sum(v for _, v in parts), parts, includes, measured_as, tuple(notes))


# =========================================================================== onnxruntime (CPU)

PAGE_BYTES = 4096
#: glibc's mmap threshold in the measurement worker (``MALLOC_MMAP_THRESHOLD_=65536``): larger
#: blocks are whole pages of their own
MMAP_THRESHOLD_BYTES = 65536
#: onnxruntime aligns every planned tensor to 64 bytes (``kAllocAlignment``)
ORT_ALIGNMENT = 64

#: ONNX ops whose onnxruntime CPU kernel returns a view of input 0 (no new buffer)
ORT_ALIAS_OPS = frozenset({"Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity"})
#: ops whose CPU kernel may write its output over an input that dies at this node (same size)
ORT_INPLACE_OPS = frozenset({
    "Relu", "Add", "Sub", "Mul", "Div", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "LeakyRelu", "Gelu",
    "FastGelu", "QuickGelu", "Neg", "Not", "Cast", "Dropout", "Erf", "Sqrt", "Pow",
})

# Fitted on training families by ``benchmarks/memory_runtime.py`` (onnxruntime 1.32, 1 thread,
# Linux/glibc, measured by hybridperf.measure): what the structural model does not derive.
ORT_SESSION_FIXED_BYTES = 10_700_000
ORT_RUN_FIXED_BYTES = 600_000
ORT_FIT_NOTE = "fixed overheads fitted on training families (benchmarks/memory_runtime.py), onnxruntime 1.32 / glibc"


def _dtype_bytes(elem_type: int) -> int:
    from onnx import helper

    return int(helper.tensor_dtype_to_np_dtype(elem_type).itemsize)


def _tensor_bytes(t: Any) -> int:
    n = math.prod(t.dims) if len(t.dims) else 1
    return int(n) * _dtype_bytes(t.data_type)


def ort_optimized_model(model: Any, level: str = "all") -> tuple[Any, bool]:
    """The graph onnxruntime runs: ``(ModelProto, True)`` from onnxruntime's own optimiser, or
    ``(model, False)`` when onnxruntime is not installed or cannot optimise it.

    ``model`` is a path or a ``ModelProto``. Only the optimiser runs (session creation,
    one thread); no inference.
    """
    import onnx

    proto = model if not isinstance(model, (str, Path)) else onnx.load(str(model))
    try:
        import onnxruntime as ort
    except ImportError:
        return proto, False
    levels = {"all": "ORT_ENABLE_ALL", "extended": "ORT_ENABLE_EXTENDED", "basic": "ORT_ENABLE_BASIC",
              "disabled": "ORT_DISABLE_ALL"}
    with tempfile.TemporaryDirectory() as tmp:
        src = str(model) if isinstance(model, (str, Path)) else os.path.join(tmp, "in.onnx")
        if not isinstance(model, (str, Path)):
            onnx.save(proto, src)
        out = os.path.join(tmp, "opt.onnx")
        so = ort.SessionOptions()
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, levels[level])
        so.optimized_model_filepath = out
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        try:
            ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
            return onnx.load(out), True
        except Exception:  # noqa: BLE001 - fall back to the graph as written
            return proto, False


def _conv_spatial(x: Sequence[int], kernel: Sequence[int], attrs: Mapping[str, Any]) -> list[int]:
    sp = list(x[2:])
    nd = len(sp)
    strides = attrs.get("strides") or [1] * nd
    dil = attrs.get("dilations") or [1] * nd
    pads = attrs.get("pads") or [0] * (2 * nd)
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    out = []
    for i, d in enumerate(sp):
        ek = (kernel[i] - 1) * dil[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out.append(-(-d // strides[i]))
        elif auto_pad == "VALID":
            out.append((d - ek) // strides[i] + 1)
        else:
            num = d + pads[i] + pads[i + nd] - ek
            out.append((-(-num // strides[i]) if attrs.get("ceil_mode", 0) else num // strides[i]) + 1)
    return out


def _contrib_shapes(domain: str, op: str, ins: list, attrs: Mapping[str, Any], n_out: int,
                    block: int) -> list | None:
    """Output shapes of the onnxruntime-specific ops its optimiser inserts (None: not one of them)."""
    x = ins[0] if ins else None
    if domain == "com.microsoft.nchwc":
        if op == "Conv":
            return [[x[0], ins[1][0], *_conv_spatial(x, ins[1][2:], attrs)]]
        if op in ("MaxPool", "AveragePool"):
            return [[x[0], x[1], *_conv_spatial(x, attrs["kernel_shape"], attrs)]]
        if op in ("GlobalAveragePool", "GlobalMaxPool"):
            return [[x[0], x[1], *([1] * (len(x) - 2))]]
        if op == "ReorderInput":  # channels padded to the NCHWc block
            if attrs.get("channels_last", 0):
                x = [x[0], x[-1], *x[1:-1]]
            return [[x[0], -(-x[1] // block) * block, *x[2:]]]
        if op == "ReorderOutput":
            c = attrs["channels"]
            return [[x[0], *x[2:], c]] if attrs.get("channels_last", 0) else [[x[0], c, *x[2:]]]
        if op == "Upsample":
            return [[d * s for d, s in zip(x, attrs["scales"])]]
        return None
    if domain == "com.microsoft":
        if op == "FusedConv":
            return [[x[0], ins[1][0], *_conv_spatial(x, ins[1][2:], attrs)]]
        if op == "FusedGemm":
            a, b = ins[0], ins[1]
            return [[a[1] if attrs.get("transA", 0) else a[0], b[0] if attrs.get("transB", 0) else b[1]]]
        if op == "FusedMatMul":
            import numpy as np

            a, b = list(ins[0]), list(ins[1])
            if attrs.get("transA", 0):
                a[-1], a[-2] = a[-2], a[-1]
            if attrs.get("transB", 0):
                b[-1], b[-2] = b[-2], b[-1]
            return [[*np.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2])), a[-2], b[-1]]]
        if op in ("Gelu", "FastGelu", "QuickGelu", "BiasGelu", "BiasSoftmax", "BiasAdd"):
            return [x]
        if op in ("SkipLayerNormalization", "SkipSimplifiedLayerNormalization"):
            red = [*x[:-1], 1]
            return [x, red, red, x][:n_out]
        return None
    if op in ("LayerNormalization", "SimplifiedLayerNormalization"):
        red = [*x[:-1], 1]
        return [x, red, red][:n_out]
    return None


def ort_tensor_bytes(model: Any, block: int = 8) -> tuple[dict[str, int], tuple[str, ...]]:
    """Bytes of every tensor of an (onnxruntime-optimised) graph with static shapes.

    Standard ops use ONNX's own shape inference node by node; onnxruntime's contrib and NCHWc
    ops have rules here (``block``: the NCHWc channel block, 8 with AVX2, 16 with AVX-512).
    Returns the sizes and the ops whose output shape stayed unknown (sized as their largest input).
    """
    import onnx
    from onnx import helper, shape_inference

    g = model.graph
    init = {i.name: i for i in g.initializer}
    shapes: dict[str, list[int]] = {i.name: list(i.dims) for i in g.initializer}
    dtypes: dict[str, int] = {i.name: i.data_type for i in g.initializer}
    for vi in g.input:
        if vi.name in init:
            continue
        tt = vi.type.tensor_type
        shapes[vi.name] = [d.dim_value for d in tt.shape.dim]
        dtypes[vi.name] = tt.elem_type
    opset = {o.domain: o.version for o in model.opset_import}
    unknown: list[str] = []
    for node in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        ins = [shapes.get(i) if i else None for i in node.input]
        dt0 = dtypes.get(node.input[0], 1) if node.input else 1
        outs = None
        try:
            outs = _contrib_shapes(node.domain, node.op_type, ins, attrs, len(node.output), block)
            if outs is None and node.domain in ("", "ai.onnx"):
                schema = onnx.defs.get_schema(node.op_type, opset.get("", opset.get("ai.onnx", 17)), "")
                types = {n: helper.make_tensor_type_proto(dtypes[n], shapes[n]) for n in node.input if n}
                data = {n: init[n] for n in node.input if n in init}
                res = shape_inference.infer_node_outputs(schema, node, types, data)
                outs = []
                for o in node.output:
                    tp = res.get(o)
                    dims = None
                    if tp is not None and tp.tensor_type.HasField("shape"):
                        dims = [d.dim_value if d.HasField("dim_value") else None for d in tp.tensor_type.shape.dim]
                        dtypes[o] = tp.tensor_type.elem_type
                    outs.append(None if dims is None or None in dims else dims)
        except Exception:  # noqa: BLE001 - unknown op or shape: sized below
            outs = None
        if not outs or outs[0] is None:
            unknown.append(f"{node.domain}.{node.op_type}" if node.domain else node.op_type)
            known = [s for s in ins if s is not None]
            largest = max(known, key=math.prod) if known else [1]
            outs = [largest] * len(node.output)
        for o, s in zip(node.output, outs):
            if o and s is not None:
                shapes[o] = [int(v) for v in s]
                dtypes.setdefault(o, dt0)
    sizes = {k: int(math.prod(v)) * _dtype_bytes(dtypes.get(k, 1)) for k, v in shapes.items()}
    return sizes, tuple(unknown)


@dataclass(frozen=True)
class OrtActivationPlan:
    """onnxruntime's activation memory for one run (bytes).

    ``pattern_bytes``: peak of the memory pattern (best-fit offsets), the block allocated from the
    second run on; ``live_peak_bytes``: most planned buffers alive at once (the first run, allocated
    one by one); ``output_bytes``: graph outputs (outside the pattern); ``buffers``: planned buffers.
    """

    pattern_bytes: int
    live_peak_bytes: int
    output_bytes: int
    buffers: int
    timeline_bytes: tuple[int, ...] = field(repr=False, default=())


class _BestFitPattern:
    """onnxruntime's memory-pattern trace: each new buffer goes into the smallest gap between live
    blocks that holds it, else after the last live block; the peak is the highest end offset."""

    def __init__(self) -> None:
        self.blocks: list[tuple[int, int, int]] = []  # (offset, size, id), sorted by offset
        self.peak = 0

    def alloc(self, ident: int, size: int) -> None:
        size = -(-size // ORT_ALIGNMENT) * ORT_ALIGNMENT
        end = self.blocks[-1][0] + self.blocks[-1][1] if self.blocks else 0
        best_off, pos, waste, cur = end, len(self.blocks), None, 0
        for i, (off, sz, _) in enumerate(self.blocks):
            if off >= cur:
                gap = off - cur
                if gap >= size and (waste is None or gap - size < waste):
                    waste, best_off, pos = gap - size, cur, i
            cur = off + sz
        self.blocks.insert(pos, (best_off, size, ident))
        self.peak = max(self.peak, best_off + size)

    def free(self, ident: int) -> None:
        self.blocks = [b for b in self.blocks if b[2] != ident]


def ort_activation_plan(model: Any, sizes: Mapping[str, int]) -> OrtActivationPlan:
    """Replay onnxruntime's sequential allocation planner and memory pattern over ``model``'s nodes
    (in their stored order, which is onnxruntime's execution order for an optimised model)."""
    g = model.graph
    outputs = {o.name for o in g.output}
    uses: dict[str, int] = {}
    for n in g.node:
        for i in n.input:
            if i:
                uses[i] = uses.get(i, 0) + 1
    owner: dict[str, int] = {}
    size_of: dict[int, int] = {}
    refs: dict[int, int] = {}
    free: list[int] = []  # freed buffers, most recent first
    pattern = _BestFitPattern()
    live = live_peak = out_bytes = 0
    timeline = []

    def release(name: str) -> None:
        nonlocal live
        b = owner.pop(name, None)
        if b is None:
            return
        refs[b] -= 1
        if refs[b] == 0:
            free.insert(0, b)
            pattern.free(b)
            live -= size_of[b]

    for node in g.node:
        for o in node.output:
            if not o:
                continue
            size = sizes.get(o, 0)
            if o in outputs:
                out_bytes += size
                continue
            b = None
            first = node.input[0] if node.input else ""
            if node.op_type in ORT_ALIAS_OPS and first in owner:
                b = owner[first]
            elif node.op_type in ORT_INPLACE_OPS:
                b = next((owner[i] for i in node.input[:2] if i in owner and uses.get(i) == 1
                          and refs[owner[i]] == 1 and size_of[owner[i]] == size), None)
            if b is None:
                b = next((f for f in free if size_of[f] == size), None)
                if b is not None:
                    free.remove(b)
                    refs[b] = 0
            if b is None:
                b = len(size_of)
                size_of[b], refs[b] = size, 0
                pattern.alloc(b, size)
                live += size
                live_peak = max(live_peak, live)
            owner[o] = b
            refs[b] += 1
        timeline.append(live)
        for i in dict.fromkeys(x for x in node.input if x):
            uses[i] -= list(node.input).count(i)
            if uses[i] <= 0:
                release(i)
        for o in node.output:
            if o and o not in uses:
                release(o)
    return OrtActivationPlan(pattern.peak, live_peak, out_bytes, len(size_of), tuple(timeline))


def ort_resident_initializer_bytes(model: Any) -> int:
    """Initializers of the optimised graph as resident pages: each tensor is its own allocation,
    those of at least :data:`MMAP_THRESHOLD_BYTES` whole pages."""
    total = 0
    for t in model.graph.initializer:
        n = _tensor_bytes(t)
        total += -(-n // PAGE_BYTES) * PAGE_BYTES if n >= MMAP_THRESHOLD_BYTES else n
    return total


def nchwc_block(isa: Iterable[str] = ()) -> int:
    """MLAS's NCHWc channel block: 16 floats with AVX-512, else 8."""
    return 16 if "avx512f" in set(isa) else 8


@dataclass(frozen=True)
class OrtFeatures:
    """What :func:`onnxruntime_peak` derives from the graph onnxruntime runs (bytes)."""

    initializer_bytes: int
    activations: OrtActivationPlan
    input_bytes: int
    optimised: bool
    unknown_ops: tuple[str, ...]


def ort_features(model: Any, isa: Iterable[str] = (), level: str = "all") -> OrtFeatures:
    """Optimise ``model`` (path or ModelProto) as onnxruntime does, size its tensors and replay its planner."""
    opt, optimised = ort_optimized_model(model, level)
    sizes, unknown = ort_tensor_bytes(opt, nchwc_block(isa))
    init = {i.name for i in opt.graph.initializer}
    inputs = sum(sizes.get(i.name, 0) for i in opt.graph.input if i.name not in init)
    return OrtFeatures(ort_resident_initializer_bytes(opt), ort_activation_plan(opt, sizes), inputs, optimised, unknown)


ORT_INCLUDES = ("session fixed overhead + resident initializers of onnxruntime's optimised graph (pre-packed "
                "weights replace originals) + memory-pattern activation block (best fit, sequential planner) + "
                "graph outputs + run fixed overhead + inputs; CPU arena off")
ORT_MEASURED_AS = "hybridperf.measure: RSS growth at session load + VmHWM growth over 2 runs + input bytes"


def onnxruntime_peak(feat: OrtFeatures, session_fixed_bytes: int = ORT_SESSION_FIXED_BYTES,
                     run_fixed_bytes: int = ORT_RUN_FIXED_BYTES) -> RuntimePeak:
    """onnxruntime CPU peak (the figure ``hybridperf.measure`` records) from :func:`ort_features`."""
    act = feat.activations
    run_block = max(act.pattern_bytes, act.live_peak_bytes)
    notes = []
    if not feat.optimised:
        notes.append("onnxruntime not installed: the ONNX graph as written stands in for its optimised graph")
    if feat.unknown_ops:
        notes.append(f"{len(feat.unknown_ops)} node(s) of unknown output shape sized as their largest input: "
                     + ", ".join(sorted(set(feat.unknown_ops))[:5]))
    return _make(Runtime.ONNXRUNTIME, [
        ("session_fixed", session_fixed_bytes), ("initializers", feat.initializer_bytes),
        ("activation_pattern", run_block), ("outputs", act.output_bytes), ("run_fixed", run_fixed_bytes),
        ("inputs", feat.input_bytes),
    ], ORT_INCLUDES, ORT_MEASURED_AS, notes + [ORT_FIT_NOTE])


# onnxruntime's BFC arena defaults (OrtArenaCfg; mirrored in onnxruntime/test/autoep/library/ep_arena.h)
ARENA_INITIAL_CHUNK_BYTES = 1 << 20
ARENA_MAX_POWER_OF_TWO_EXTEND_BYTES = 1 << 30
ARENA_ROUNDING_BYTES = 256


def bfc_arena_reserved_bytes(requests: Iterable[int]) -> int:
    """Bytes a BFC arena with the ``kNextPowerOfTwo`` extend strategy reserves for ``requests``
    made one after another and all kept alive (the worst case: nothing freed in between).

    Each request is rounded up to 256 bytes. When the free space of the regions reserved so far
    cannot hold it, a new region of ``max(next_region, request)`` is reserved; ``next_region``
    starts at the 1 MiB initial chunk and doubles after every extension, up to 1 GiB.
    """
    reserved = free = 0
    next_region = ARENA_INITIAL_CHUNK_BYTES
    for r in requests:
        r = -(-int(r) // ARENA_ROUNDING_BYTES) * ARENA_ROUNDING_BYTES
        if r > free:
            region = max(next_region, r)
            reserved += region
            free = region  # the tail of the previous region is too small (not reused: conservative)
            next_region = min(next_region * 2, ARENA_MAX_POWER_OF_TWO_EXTEND_BYTES)
        free -= r
    return reserved


# =========================================================================== PyTorch (CUDA)

#: caching-allocator constants (c10/cuda/CUDACachingAllocator.cpp)
CUDA_MIN_BLOCK_BYTES = 512          # kMinBlockSize: every request rounded up to a multiple
CUDA_SMALL_SIZE_BYTES = 1 << 20     # kSmallSize: requests up to 1 MiB come from the small pool
CUDA_SMALL_BUFFER_BYTES = 2 << 20   # kSmallBuffer: small-pool segments are 2 MiB
CUDA_LARGE_BUFFER_BYTES = 20 << 20  # kLargeBuffer: requests in (1, 10) MiB get a 20 MiB segment
CUDA_MIN_LARGE_ALLOC_BYTES = 10 << 20  # kMinLargeAlloc
CUDA_ROUND_LARGE_BYTES = 2 << 20    # kRoundLarge: larger segments are rounded to 2 MiB

# Fitted on the training families of calibration/h100-sxm/ (benchmarks/memory_runtime.py)
TORCH_WORKSPACE_BYTES = 34_000_000  # cuBLAS workspace(s) kept from warm-up + context-side blocks
TORCH_ACTIVATION_FACTOR = 1.0
TORCH_FIT_NOTE = "workspace and activation factor fitted on training families of calibration/h100-sxm (benchmarks/memory_runtime.py)"


def cuda_block_bytes(request: int) -> int:
    """Bytes ``max_memory_allocated`` counts for one request (the block handed out).

    Rounded up to 512 bytes; a large-pool block is split off its segment only when the remainder
    exceeds 1 MiB, else the whole segment is the block.
    """
    size = max(CUDA_MIN_BLOCK_BYTES, -(-int(request) // CUDA_MIN_BLOCK_BYTES) * CUDA_MIN_BLOCK_BYTES)
    if size <= CUDA_SMALL_SIZE_BYTES:
        return size
    if size < CUDA_MIN_LARGE_ALLOC_BYTES:
        segment = CUDA_LARGE_BUFFER_BYTES
    else:
        segment = -(-size // CUDA_ROUND_LARGE_BYTES) * CUDA_ROUND_LARGE_BYTES
    return size if segment - size > CUDA_SMALL_SIZE_BYTES else segment


TORCH_INCLUDES = ("weights + inputs as caching-allocator blocks + cuBLAS workspace kept from warm-up + "
                  "activation peak of eager execution (live set of the unfused graph, blocks rounded)")
TORCH_MEASURED_AS = "torch.cuda.max_memory_allocated() around one eager inference after warm-up"


def torch_cuda_peak(weight_tensor_bytes: Iterable[int], input_tensor_bytes: Iterable[int], activation_bytes: int,
                    workspace_bytes: int = TORCH_WORKSPACE_BYTES,
                    activation_factor: float = TORCH_ACTIVATION_FACTOR) -> RuntimePeak:
    """PyTorch CUDA ``max_memory_allocated`` for one eager inference.

    ``weight_tensor_bytes`` / ``input_tensor_bytes``: one entry per tensor (each is a block);
    ``activation_bytes``: the activation peak of eager execution (the live-set peak of the
    unfused graph is the estimate used here).
    """
    return _make(Runtime.TORCH, [
        ("weights", sum(cuda_block_bytes(n) for n in weight_tensor_bytes)),
        ("inputs", sum(cuda_block_bytes(n) for n in input_tensor_bytes)),
        ("cublas_workspace", workspace_bytes),
        ("activations", int(round(activation_bytes * activation_factor))),
    ], TORCH_INCLUDES, TORCH_MEASURED_AS, [TORCH_FIT_NOTE])


# =========================================================================== TVM

TVM_INCLUDES = "TVM's exact static plan (StaticPlanBlockMemory) + largest intra-kernel workspace + weights + inputs"
TVM_MEASURED_AS = "resident peak of TVM's Relax VM (benchmarks/memory_accuracy.py: VM RSS + weights + inputs)"


def tvm_peak(planned_bytes: int, workspace_bytes: int, weight_bytes: int, input_bytes: int) -> RuntimePeak:
    """TVM VM peak: the exact plan plus the kernel workspace no Relax-level planner sees."""
    return _make(Runtime.TVM, [("planned_activations", planned_bytes), ("kernel_workspace", workspace_bytes),
                               ("weights", weight_bytes), ("inputs", input_bytes)], TVM_INCLUDES, TVM_MEASURED_AS)


__all__ = [
    "Runtime", "RuntimePeak", "DEFAULT_RUNTIME_BY_KIND", "default_runtime",
    "OrtActivationPlan", "OrtFeatures", "ort_optimized_model", "ort_tensor_bytes", "ort_activation_plan",
    "ort_resident_initializer_bytes", "ort_features", "onnxruntime_peak", "nchwc_block", "bfc_arena_reserved_bytes",
    "cuda_block_bytes", "torch_cuda_peak", "tvm_peak",
]
