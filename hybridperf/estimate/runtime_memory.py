"""Peak memory per runtime: what onnxruntime (CPU), PyTorch (CUDA) and TVM's VM actually hold.

:mod:`hybridperf.analysis.memory` plans activations exactly as TVM's ``StaticPlanBlockMemory`` does.
A deployment runs on some runtime, and each allocates differently; this module predicts the
peak *as each runtime's ground truth in this project measures it*, with the parts it is made
of (:class:`RuntimePeak`). Each model states what it includes:

``onnxruntime`` (CPU, :func:`onnxruntime_peak`)
    Modelled figure: :data:`hybridperf.measure.onnxruntime.MEMORY_METHOD`, i.e. resident-set growth of a
    fresh process (arena disabled, glibc large blocks mmap'd): ``load`` (RSS growth while the
    session is created) + ``run`` (``VmHWM`` growth over two runs) + input bytes.

    * the graph onnxruntime runs: its own optimiser at level ALL (constant folding, Conv+BN/Act
      fusion, Gemm/MatMul fusions, LayerNorm/Gelu fusions, NCHWc blocked layouts), taken from
      onnxruntime itself when it is installed (``SessionOptions.optimized_model_filepath``),
      else the ONNX graph as written; its tensors sized by ONNX shape inference, by rules for
      onnxruntime's contrib / NCHWc ops and by one table for its quantized kernels (:data:`QUANT_OUTPUT_RULES`:
      QLinearConv, QLinearMatMul, QLinearAdd, ..., DynamicQuantizeLinear, MatMulInteger, ConvInteger); a
      node of no known size is sized as its largest input and makes the peak an estimate;
    * resident initializers of that graph, each its own allocation (page-rounded). Pre-packed
      weights (MLAS packs constant GEMM operands; NCHWc reorders conv weights to blocked layouts)
      replace the original, they do not add to it: on this data ``disable_prepacking`` changes
      load RSS by < 0.1 MiB;
    * activations: onnxruntime's sequential allocation planner (``core/framework/allocation_planner.cc``:
      aliasing ops share their input's buffer; ops declaring ``MayInplace`` write over an input that dies
      at the node; otherwise the most recently freed buffer of the *same shape* and element size is
      reused) and its memory pattern (``core/framework/mem_pattern_planner.h``: each buffer is placed at
      an offset by best fit between live blocks, and the pattern's peak is allocated as one block). A
      buffer kept for a later reuse stays in the pattern in between, so reuse can raise the peak above
      the live set (checked against onnxruntime itself in ``tests/test_runtime_memory.py``); graph
      outputs are allocated outside the pattern;
    * ``session`` (fixed + per node of the optimised graph) and ``run`` overheads (code pages first
      touched, thread pool, kernel objects, allocator book-keeping): constants fitted on training
      families (``benchmarks/memory_runtime.py``), not derived.

    The CPU arena (BFC, ``kNextPowerOfTwo`` extension from a 1 MiB initial chunk) is *off* in the
    measured figure; :func:`bfc_arena_reserved_bytes` gives what it would reserve.

``torch`` (CUDA, :func:`torch_cuda_peak`)
    Modelled figure: ``torch.cuda.max_memory_allocated()`` around one eager inference after
    warm-up (``hybridperf.measure.torch_cuda.measure_cuda``): weights + inputs resident, the
    cuBLAS (32 MiB on compute capability 9.x) and cuBLASLt (1 MiB) workspaces allocated in warm-up
    (kept by the caching allocator), plus the activation peak. Every block is rounded as the caching
    allocator does (512-byte granularity; requests over 1 MiB come from 2 MiB-rounded or 20 MiB segments
    and keep a remainder of 1 MiB or less unsplit).

    Activations follow eager PyTorch (:func:`torch_eager_activation_bytes`): one kernel per Relax op in
    execution order, each output a block freed after its last reader, views and weight-only ops free,
    activation functions written out in ONNX (``gelu``, ``silu``, ``hardswish``, ...) one kernel (which ops launch
    which kernels: :mod:`hybridperf.estimate.torch_eager`), transformer layers holding their input and
    attention probabilities until they return; in other graphs a block's input held until its branches join
    (:func:`branch_input_holds`). fp16 / bf16 convolutions with a spatial kernel add cuDNN's NHWC copies of
    input, filter and output as one workspace block while they run (:func:`cudnn_nhwc_workspace_bytes`); cuDNN's
    other algorithm workspaces (FFT, Winograd), chosen by its heuristics per shape, are not modelled. The live
    blocks of graphs without transformer layers are scaled by one fitted factor (what their Python frames hold
    beyond the branch holds, less what in-place ops save; neither is in the graph).

``tvm`` (:func:`tvm_peak`)
    TVM's exact static plan + the largest intra-kernel workspace + weights + inputs (activations
    3.6 % MAPE against the VM's resident peak in ``benchmarks/results/memory.md``).

``tflm`` (:func:`tflm_peak`; microcontroller NPUs, ``kind: npu``)
    The tensor arena of TensorFlow Lite Micro (or of a Vela-compiled command stream) in SRAM: TVM's static plan
    of the activations (int8 sizes where the model is quantized, as planned) + graph outputs + graph inputs (as
    the model declares them). Weights are read-only and stay in flash (:attr:`RuntimePeak.flash_bytes`, not in
    the peak); no CPU-kernel workspace exists there. Not measured here; TFLM's own arena packing (its greedy
    planner places buffers at offsets where TVM reuses size-matched blocks; the live-set bound stays beside it) and
    its interpreter's persistent per-op data are not modelled.

Measured accuracy on held-out families: ``benchmarks/results/memory_runtime.md``.
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

from hybridperf.device.cpuinfo import this_cpu
from hybridperf.device.spec import HOST_ID
from hybridperf.errors import ModelLoadError, error_line
from hybridperf.estimate.torch_eager import EagerOp, eager_ops, fuse_torch_activations
from hybridperf.frontends.onnx_shapes import (broadcast, conv_shape, conv_spatial, fused_matmul_shape, gemm_shape,
                                            matmul_shape)


class Runtime(str, Enum):
    """The runtime whose peak memory is predicted."""

    ONNXRUNTIME = "onnxruntime"
    TORCH = "torch"  # PyTorch eager (also spelled "torch-eager")
    TORCH_CUDAGRAPH = "torch-cudagraph"  # PyTorch replaying a captured CUDA graph; memory as TORCH
    TVM = "tvm"
    TFLM = "tflm"  # TensorFlow Lite Micro's tensor arena on a microcontroller NPU (Ethos-U)

    @classmethod
    def _missing_(cls, value):
        return cls.TORCH if value == "torch-eager" else None


#: default runtime per device kind: what the project's measurements on such devices use
#: (CPU sheets: ``hybridperf measure`` = onnxruntime; GPU sheets: ``benchmarks/gpu_measure.py`` = PyTorch);
#: microcontroller NPUs (Ethos-U) run under TensorFlow Lite Micro: its tensor arena
DEFAULT_RUNTIME_BY_KIND = {"cpu": Runtime.ONNXRUNTIME, "gpu": Runtime.TORCH, "npu": Runtime.TFLM}


def default_runtime(device_kind: str) -> Runtime:
    """The runtime a device's measurements are made with: onnxruntime on CPUs, PyTorch on GPUs, TensorFlow Lite
    Micro's arena on NPUs, else TVM."""
    return DEFAULT_RUNTIME_BY_KIND.get(device_kind, Runtime.TVM)


@dataclass(frozen=True)
class RuntimePeak:
    """Predicted peak memory of one inference on one runtime (bytes).

    ``parts`` are ``(name, bytes)`` and add up to ``peak_bytes``; ``includes`` says in words what the
    figure counts and ``measured_as`` which measurement it models. ``unsized_ops``: op types whose
    output size the model could not derive (data-dependent, or no shape rule; sized as their largest
    input) or whose subgraphs it does not size (If, Loop, Scan): the figure is then an estimate,
    neither a bound nor exact (``check`` cannot judge it). ``flash_bytes``: read-only bytes the runtime keeps
    outside the peak (the weights of a TFLM model, in flash); None where every resident byte is in the peak.
    """

    runtime: str
    peak_bytes: int
    parts: tuple[tuple[str, int], ...]
    includes: str
    measured_as: str
    notes: tuple[str, ...] = ()
    unsized_ops: tuple[str, ...] = ()
    flash_bytes: int | None = None

    def part(self, name: str) -> int:
        return dict(self.parts).get(name, 0)

    @property
    def unsized_reason(self) -> str:
        """``"1 node of unknown output size (NonZero), sized as its largest input"``, or "" when every size is known."""
        n = len(self.unsized_ops)
        if not n:
            return ""
        kinds = ", ".join(sorted(set(self.unsized_ops))[:5])
        return (f"{n} node{'s' if n != 1 else ''} of unknown output size or with unsized subgraphs ({kinds}), "
                f"sized as {'their' if n != 1 else 'its'} largest input")

    def to_dict(self) -> dict[str, Any]:
        out = {"runtime": self.runtime, "peak_bytes": self.peak_bytes, "parts": dict(self.parts),
               "includes": self.includes, "measured_as": self.measured_as, "notes": list(self.notes),
               "unsized_ops": list(self.unsized_ops)}
        if self.flash_bytes is not None:  # only runtimes that keep weights apart (tflm) carry the key
            out["flash_bytes"] = self.flash_bytes
        return out


def _make(runtime: Runtime, parts: Sequence[tuple[str, int]], includes: str, measured_as: str,
          notes: Iterable[str] = (), unsized_ops: Iterable[str] = ()) -> RuntimePeak:
    parts = tuple((k, int(v)) for k, v in parts)
    return RuntimePeak(runtime.value, sum(v for _, v in parts), parts, includes, measured_as, tuple(notes),
                       tuple(unsized_ops))


# =========================================================================== onnxruntime (CPU)

PAGE_BYTES = 4096
#: glibc's mmap threshold in the measurement worker (``MALLOC_MMAP_THRESHOLD_=65536``): larger
#: blocks are whole pages of their own
MMAP_THRESHOLD_BYTES = 65536
#: onnxruntime aligns every planned tensor to 64 bytes (``kAllocAlignment``)
ORT_ALIGNMENT = 64

#: ONNX ops whose onnxruntime CPU kernel returns a view of input 0 (no new buffer)
ORT_ALIAS_OPS = frozenset({"Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity"})
#: ops whose CPU kernel may write its output over an input that dies at this node (``MayInplace``):
#: op type -> input positions; the NCHWc and fused convolutions write over their ``Sum`` / ``Z`` input.
#: Not an exhaustive list: the ops onnxruntime's optimiser leaves in the zoo, each checked against onnxruntime 1.32
#: itself (x -> Add -> a -> op -> b -> ReduceSum, 32 MiB tensors: 32 MiB resident in place, 64 MiB not; for a binary op,
#: its other input kept alive: 64 vs 96 MiB). Softmax, LogSoftmax and the Elu family run in place; Erf, Sqrt, Neg, the
#: contrib Gelu / FastGelu / QuickGelu and the binary Add, Sub, Mul, Div, Pow do not (their kernels declare no
#: ``MayInplace``, ``element_wise_ops.cc``). Until 2026-12-05 the list had the reverse: whisper-tiny's encoder read
#: 41 % high, SegFormer-b0 23.9 % low.
ORT_INPLACE_INPUTS = {
    **{op: (0,) for op in ("Relu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "LeakyRelu", "Not", "Cast", "Dropout",
                           "Softmax", "LogSoftmax", "Elu", "Selu", "Celu", "Softplus", "Softsign", "Shrink",
                           "ThresholdedRelu")},
    "com.microsoft.nchwc.Conv": (3,), "com.microsoft.FusedConv": (3,),
}

# Fitted on training families by ``benchmarks/memory_runtime.py`` (onnxruntime 1.32, 1 thread,
# Linux/glibc, measured by hybridperf.measure.onnxruntime): what the structural model does not derive.
ORT_SESSION_FIXED_BYTES = 10_256_296
ORT_SESSION_BYTES_PER_NODE = 13_427
ORT_RUN_FIXED_BYTES = 577_536
ORT_FIT_NOTE = "fixed overheads fitted on training families (benchmarks/memory_runtime.py), onnxruntime 1.32 / glibc"


def _tensor_bytes(t: Any) -> int:
    from hybridperf.frontends.onnx_dtype import onnx_elem_bytes

    n = math.prod(t.dims) if len(t.dims) else 1
    return onnx_elem_bytes(t.data_type, int(n))


#: models whose weights exceed this are not run through onnxruntime's optimiser, which
#: reads every weight into memory: their graph is priced as written (issue 10: big exports stay on disk)
ORT_OPTIMISE_MAX_BYTES = 1 << 30


def _model_bytes(proto: Any) -> int:
    """Bytes of every initializer of ``proto`` (inline or external, from dims x dtype, never read)."""
    return sum(_tensor_bytes(t) for t in proto.graph.initializer)


def ort_optimized_model(model: Any, level: str = "all", disabled: Sequence[str] = ()) -> tuple[Any, bool]:
    """The graph onnxruntime runs: ``(ModelProto, True)`` from onnxruntime's own optimiser, or
    ``(model, False)`` when onnxruntime is not installed or cannot optimise it.

    ``model`` is a path or a ``ModelProto``. Only the optimiser runs (session creation,
    one thread); no inference. ``disabled``: optimisers left out (``disabled_optimizers``, by name:
    ``"NchwcTransformer"`` for a CPU without NCHWc kernels).
    """
    import onnx

    # weights stay on disk: only their sizes are read (a multi-GB export must not be loaded here)
    proto = model if not isinstance(model, (str, Path)) else onnx.load(str(model), load_external_data=False)
    if _model_bytes(proto) > ORT_OPTIMISE_MAX_BYTES:
        return proto, False  # onnxruntime's optimiser would load every weight: graph as written
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
        # weights of 1 KiB and more go to a side file that is not read back: only their sizes are needed
        so.add_session_config_entry("session.optimized_model_external_initializers_file_name", "opt.onnx.data")
        so.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
        try:
            extra = {"disabled_optimizers": list(disabled)} if disabled else {}
            ort.InferenceSession(src, so, providers=["CPUExecutionProvider"], **extra)
            return onnx.load(out, load_external_data=False), True
        except Exception:  # noqa: BLE001 - fall back to the graph as written
            return proto, False


def _contrib_shapes(domain: str, op: str, ins: list, attrs: Mapping[str, Any], n_out: int,
                    block: int) -> list | None:
    """Output shapes of the onnxruntime-specific ops its optimiser inserts (None: not one of them)."""
    x = ins[0] if ins else None
    if domain == "com.microsoft.nchwc":
        if op == "Conv":
            return [conv_shape(x, ins[1], attrs)]
        if op in ("MaxPool", "AveragePool"):
            return [[x[0], x[1], *conv_spatial(x, attrs["kernel_shape"], attrs)]]
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
            return [conv_shape(x, ins[1], attrs)]
        if op == "FusedGemm":
            return [gemm_shape(ins[0], ins[1], attrs)]
        if op == "FusedMatMul":
            return [fused_matmul_shape(ins[0], ins[1], attrs)]
        if op == "NhwcMaxPool":  # MaxPool on NHWC (onnxruntime's NHWC rewrite of a quantized graph); x's dtype
            return [_quant_pool_shape(x, {**attrs, "channels_last": 1}, False)]
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


# element types (onnx.TensorProto) of the quantized kernels' fixed outputs and weights
_UINT8, _INT8, _INT32, _FLOAT = 2, 3, 6, 1


def _quant_pool_shape(x: Sequence[int], attrs: Mapping[str, Any], global_pool: bool) -> list[int]:
    last = bool(attrs.get("channels_last", 0))
    nchw = [x[0], x[-1], *x[1:-1]] if last else list(x)
    sp = [1] * (len(x) - 2) if global_pool else conv_spatial(nchw, attrs["kernel_shape"], attrs)
    return [x[0], *sp, nchw[1]] if last else [x[0], nchw[1], *sp]


def _quant_concat_shape(ins: Sequence[Any], attrs: Mapping[str, Any]) -> list[int]:
    xs = list(ins[2::3])  # (Y_scale, Y_zero_point, then X, X_scale, X_zero_point per input)
    axis = attrs["axis"] % len(xs[0])
    return [*xs[0][:axis], sum(x[axis] for x in xs), *xs[0][axis + 1:]]


#: output element type of a quantized op: ``("input", k)`` = that of input ``k`` (its output zero point,
#: or the float scale of ops that dequantize), ``("input", (k, j))`` = that of the first of them present (QGemm
#: without a y_zero_point has a float output, typed as a_scale), ``("type", t)`` = fixed (onnx.TensorProto)
QuantDtype = tuple[str, "int | tuple[int, ...]"]


@dataclass(frozen=True)
class QuantOutputRule:
    """Output sizes of one of onnxruntime's quantized kernels, from its semantics (ONNX operator docs
    and onnxruntime's ``contrib_defs``/``quantization_defs.cc``). ``shapes(ins, attrs)`` gives the output
    shapes from the input shapes; ``dtypes`` one :data:`QuantDtype` per output."""

    shapes: Any
    dtypes: tuple[QuantDtype, ...]


def _elementwise(operands: Sequence[int], zero_point: int) -> QuantOutputRule:
    """Broadcast of the ``operands`` (input positions), element type of the output zero point."""
    return QuantOutputRule(lambda ins, attrs: [broadcast(*(ins[k] for k in operands))], (("input", zero_point),))


def _matmul(a: int, b: int, dtype: QuantDtype) -> QuantOutputRule:
    """numpy matmul of inputs ``a`` and ``b``."""
    return QuantOutputRule(lambda ins, attrs: [matmul_shape(ins[a], ins[b])], (dtype,))


def _conv(weight: int, dtype: QuantDtype) -> QuantOutputRule:
    return QuantOutputRule(lambda ins, attrs: [conv_shape(ins[0], ins[weight], attrs)], (dtype,))


def _pool(global_pool: bool) -> QuantOutputRule:
    return QuantOutputRule(lambda ins, attrs: [_quant_pool_shape(ins[0], attrs, global_pool)], (("input", 4),))


#: onnxruntime's quantized kernels by op type (ONNX domain and com.microsoft share semantics). Used for
#: com.microsoft nodes, which ONNX's shape inference does not know, and for standard-domain nodes where
#: ONNX's inference gives no shape; an op not listed stays unsized (sized as its largest input).
QUANT_OUTPUT_RULES: dict[str, QuantOutputRule] = {
    # x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp[, B]
    "QLinearConv": _conv(3, ("input", 7)),
    # a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp
    "QLinearMatMul": _matmul(0, 3, ("input", 7)),
    # A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp
    "QLinearAdd": _elementwise((0, 3), 7),
    "QLinearMul": _elementwise((0, 3), 7),
    # X, X_scale, X_zp, Y_scale, Y_zp
    "QLinearSoftmax": _elementwise((0,), 4),
    "QLinearSigmoid": _elementwise((0,), 4),
    "QLinearLeakyRelu": _elementwise((0,), 4),
    "QLinearGlobalAveragePool": _pool(True),
    "QLinearAveragePool": _pool(False),
    "QLinearConcat": QuantOutputRule(lambda ins, attrs: [_quant_concat_shape(ins, attrs)], (("input", 1),)),
    # A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp (no y_zp: float output, typed by a_scale)
    "QGemm": QuantOutputRule(lambda ins, attrs: [gemm_shape(ins[0], ins[3], attrs)], (("input", (8, 1)),)),
    # x -> y (uint8, x's shape), y_scale (float scalar), y_zero_point (uint8 scalar)
    "DynamicQuantizeLinear": QuantOutputRule(lambda ins, attrs: [ins[0], [], []],
                                             (("type", _UINT8), ("type", _FLOAT), ("type", _UINT8))),
    # A, B[, a_zp, b_zp] -> int32
    "MatMulInteger": _matmul(0, 1, ("type", _INT32)),
    # x, w[, x_zp, w_zp] -> int32
    "ConvInteger": _conv(1, ("type", _INT32)),
    # A (float), B (int8), b_scale, b_zp, bias -> float, typed by b_scale
    "DynamicQuantizeMatMul": _matmul(0, 1, ("input", 2)),
    # A, B, a_scale, b_scale, a_zp, b_zp, bias -> float, typed by a_scale
    "MatMulIntegerToFloat": _matmul(0, 1, ("input", 2)),
}


def quant_output_sizes(op_type: str, ins: Sequence[Any], in_dtypes: Sequence[int | None],
                       attrs: Mapping[str, Any]) -> list[tuple[list[int], int]] | None:
    """``[(shape, element type)]`` per output of a quantized op from :data:`QUANT_OUTPUT_RULES`, or None
    (op not listed, or an input shape or element type it needs is unknown).

    ``ins``: input shapes (None for an absent or unknown input); ``in_dtypes``: their element types.
    """
    rule = QUANT_OUTPUT_RULES.get(op_type)
    if rule is None:
        return None
    try:
        shapes = rule.shapes(list(ins), attrs)
    except (TypeError, IndexError, KeyError, ValueError):  # an input shape or attribute it needs is missing
        return None
    out = []
    for shape, (kind, v) in zip(shapes, rule.dtypes):
        dt = v if kind == "type" else next((in_dtypes[k] for k in ((v,) if isinstance(v, int) else v)
                                            if k < len(in_dtypes) and in_dtypes[k] is not None), None)
        if shape is None or dt is None or any(d is None for d in shape):
            return None
        out.append(([int(d) for d in shape], int(dt)))
    return out


def _quant_shapes(node: Any, ins: list, in_dtypes: list, attrs: Mapping[str, Any], dtypes: dict[str, int]) -> list | None:
    """Output shapes of a quantized ``node`` (:func:`quant_output_sizes`), recording their element types in ``dtypes``."""
    sized = quant_output_sizes(node.op_type, ins, in_dtypes, attrs)
    if sized is None:
        return None
    for o, (_, dt) in zip(node.output, sized):
        if o:
            dtypes[o] = dt
    return [shape for shape, _ in sized]


def _whole_model_shapes(model: Any) -> dict[str, tuple[list[int], int]]:
    """``{name: (shape, element type)}`` of the main graph's tensors that ONNX's shape inference over the
    whole ``model`` sizes statically (none where it fails: an op it does not know is skipped, not an error)."""
    from onnx import shape_inference

    try:
        inferred = shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference failed (or a model over 2 GiB): nothing gained
        return {}
    found: dict[str, tuple[list[int], int]] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        tt = vi.type.tensor_type
        if not tt.HasField("shape") or not all(d.HasField("dim_value") for d in tt.shape.dim):
            continue
        found[vi.name] = ([int(d.dim_value) for d in tt.shape.dim], int(tt.elem_type))
    return found


def ort_tensor_shapes(model: Any, block: int = 8) -> tuple[dict[str, tuple[tuple[int, ...], int]], tuple[str, ...]]:
    """Bytes of every tensor of an (onnxruntime-optimised) graph with static shapes.

    Standard ops use ONNX's own shape inference node by node; onnxruntime's contrib and NCHWc
    ops have rules here (``block``: the NCHWc channel block, 8 with AVX2, 16 with AVX-512), its
    quantized kernels (QLinearConv, QLinearMatMul, QLinearAdd, ...) the table :data:`QUANT_OUTPUT_RULES`.
    Where one node gives nothing usable alone (an ``If`` or ``Loop``, whose outputs come from its
    branches), ONNX's inference over the whole model sizes its outputs (:func:`_whole_model_shapes`).
    Returns ``{name: (shape, bytes)}`` and the ops whose output shape stayed unknown (given their
    largest input's shape).
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
    from hybridperf.frontends.normalize import default_opset
    from hybridperf.frontends.onnx_dtype import onnx_elem_bytes

    opset = default_opset(model)
    opset = 17 if opset is None else opset  # the ai.onnx schemas read where the model imports none
    unknown: list[str] = []
    whole: dict[str, tuple[list[int], int]] | None = None  # ONNX's whole-model inference, run on first need
    for node in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        ins = [shapes.get(i) if i else None for i in node.input]
        dt0 = dtypes.get(node.input[0], 1) if node.input else 1
        outs = None
        in_dtypes = [dtypes.get(i) if i else None for i in node.input]
        try:
            outs = _contrib_shapes(node.domain, node.op_type, ins, attrs, len(node.output), block)
            if outs is None and node.domain == "com.microsoft":
                outs = _quant_shapes(node, ins, in_dtypes, attrs, dtypes)
            if outs is None and node.domain in ("", "ai.onnx"):
                schema = onnx.defs.get_schema(node.op_type, opset, "")
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
        if (not outs or outs[0] is None) and node.domain in ("", "ai.onnx"):
            outs = _quant_shapes(node, ins, in_dtypes, attrs, dtypes)  # ONNX's inference gave none
        if not outs or outs[0] is None:
            # one node alone gave nothing usable (an If / Loop needs its branches in the graph's context):
            # ONNX's inference over the whole model, run once, sizes what it can
            if whole is None:
                whole = _whole_model_shapes(model)
            outs = list(outs or []) + [None] * (len(node.output) - len(outs or []))
            for k, o in enumerate(node.output):
                if outs[k] is None and o in whole:
                    outs[k], dtypes[o] = whole[o]
        if not outs or outs[0] is None or any(a.g.node or a.graphs for a in node.attribute):
            # a control-flow node's branch / body tensors are not sized either (If, Loop, Scan)
            unknown.append(f"{node.domain}.{node.op_type}" if node.domain else node.op_type)
        if not outs or outs[0] is None:
            known = [s for s in ins if s is not None]
            largest = max(known, key=math.prod) if known else [1]
            outs = [largest] * len(node.output)
        for o, s in zip(node.output, outs):
            if o and s is not None:
                shapes[o] = [int(v) for v in s]
                dtypes.setdefault(o, dt0)
    out = {k: (tuple(v), onnx_elem_bytes(dtypes.get(k, 1), int(math.prod(v)))) for k, v in shapes.items()}
    return out, tuple(unknown)


# --------------------------------------------------------------------------- quantized kernels' scratch

#: bytes of one pointer in the indirection buffers of MLAS's convolutions (64-bit hosts)
_POINTER_BYTES = 8


@dataclass(frozen=True)
class ConvSymKernel:
    """What decides whether MLAS's symmetric (indirect) int8 convolution takes a conv (``MlasConvSymPackWSize``,
    ``mlas/lib/convsym.cpp``): the ``MLAS_CONV_SYM_DISPATCH`` of the ISA and the ARM64-only rules.

    ``pack_out``: ``FilterOutputChannelPackCount`` (fewer output channels: not taken); ``align_in`` /
    ``align_out``: ``KernelInput/OutputChannelAlignment``; ``group_align``: a depthwise conv's group count must be a
    multiple of it (16 on x86, 8 on ARM64); ``min_in``: ARM64 leaves convs of fewer input channels to the GEMM path
    ("shallow indirect conv runs slower"); ``pointwise``: False on ARM64 (a 1-element kernel takes the GEMM path);
    ``signed``: int8 activations too (ARM64's ``ConvSymS8S8Dispatch``; x86 has uint8 only).
    """

    pack_out: int
    align_in: int
    align_out: int
    group_align: int
    min_in: int = 0
    pointwise: bool = True
    signed: bool = False


def conv_sym_kernel(isa: Iterable[str]) -> ConvSymKernel | None:
    """MLAS's symmetric int8 convolution kernels for the instruction sets ``isa`` (``mlas/lib/platform.cpp`` sets
    ``ConvSymU8S8Dispatch``; figures of ``convsym.cpp``): ``"arm"``: NEON (8 / 8 / 8), with ``"asimddp"`` the dot
    product kernels (16 / 4 / 16); x86 ``"avx512f"`` (AVX-512 core / VNNI: 16 / 4 / 4), ``"avx2"`` (AVX2 /
    AVX-VNNI: 16 / 4 / 8); None on x86 without AVX2 (the dispatch stays null: no symmetric path).

    ``"avx512f"`` stands for AVX-512 core here: MLAS takes ``ConvSymDispatchAvx512Core`` only where the CPU has
    AVX-512 F, BW, DQ and VL together (``platform.cpp``), and the sheets' words name AVX-512 as one extension, so a
    CPU with F alone (Xeon Phi; no current server or desktop part) would be priced with the AVX-512 alignment where
    MLAS runs AVX2's. The NCHWc block (:func:`nchwc_block`) rightly needs F only."""
    s = set(isa)
    if "arm" in s:
        dot = "asimddp" in s
        return ConvSymKernel(16 if dot else 8, 4 if dot else 8, 16 if dot else 8, 8, min_in=64, pointwise=False,
                             signed=True)
    if "avx512f" in s:
        return ConvSymKernel(16, 4, 4, 16)
    return ConvSymKernel(16, 4, 8, 16) if "avx2" in s else None


def malloc_resident_bytes(n: int) -> int:
    """Resident bytes of one ``malloc`` of ``n`` bytes in the measurement worker (a kernel's scratch buffer, an
    initializer): whole pages from :data:`MMAP_THRESHOLD_BYTES` up (their own ``mmap``), else ``n``."""
    return -(-n // PAGE_BYTES) * PAGE_BYTES if n >= MMAP_THRESHOLD_BYTES else n


def _qlinearconv_scratch(node: Any, x: Sequence[int] | None, w: Sequence[int] | None, y: Sequence[int] | None,
                         consts: Mapping[str, Any], attrs: Mapping[str, Any], isa: Iterable[str]) -> list[int] | None:
    """The temporary buffers of onnxruntime's ``QLinearConv`` CPU kernel (``providers/cpu/quantization/
    qlinearconv.cc``, ``QLinearConv<ActType>::Compute``), one image at a time.

    Symmetric path (``TryConvSymPrepack``: uint8 activations (int8 too on ARM64) with a constant zero point, int8
    weights whose zero points are all 0, an MLAS ``ConvSym`` kernel for this ISA (:func:`conv_sym_kernel`), and
    either a depthwise conv whose group count is a multiple of the kernel's group alignment or one group whose
    channels meet the kernel's counts and alignments): requantization is fused, only an indirection buffer (a pointer per kernel tap and output pixel) unless
    the conv is pointwise with unit strides and no padding. Otherwise: an int32 accumulator of M x output pixels, an
    indirection buffer for a depthwise conv, else an im2col buffer of (C/group x kernel) x output pixels (x group for
    3-D kernels) unless pointwise; NCHW (``channels_last`` 0) adds the transposed input and output; a weight that is
    not constant is reordered into a copy. ``x``, ``w``, ``y``: the input's, weight's and output's shapes (None:
    not known).
    """
    if not x or not w or not y or len(w) < 3:
        return None
    last = bool(attrs.get("channels_last", 0))
    groups = int(attrs.get("group", 1))
    m, cg, kernel = int(w[0]), int(w[1]), math.prod(w[2:])
    c = int(x[-1] if last else x[1])
    pixels_in = math.prod(x[1:-1] if last else x[2:])
    pixels = math.prod(y[1:-1] if last else y[2:])

    def const(i: int) -> Any:
        return consts.get(node.input[i]) if len(node.input) > i and node.input[i] else None

    w_t, x_zp, w_zp = const(3), const(2), const(5)
    depthwise = cg == 1 and m == groups
    k = conv_sym_kernel(isa)
    sym = (w_t is not None and w_t.data_type == _INT8 and x_zp is not None and k is not None
           and (k.signed or x_zp.data_type != _INT8) and w_zp is not None and _all_zero(w_zp)
           and ((groups > 1 and depthwise and groups % k.group_align == 0)
                or (groups == 1 and m >= k.pack_out and c >= k.min_in and (k.pointwise or kernel > 1)
                    and c % k.align_in == 0 and m % k.align_out == 0)))
    strides, pads = attrs.get("strides") or (), attrs.get("pads") or ()
    direct = kernel == 1 and all(v == 1 for v in strides) and all(v == 0 for v in pads)
    bufs = [] if sym else [4 * m * pixels]
    if not last:
        bufs += [c * pixels_in, m * pixels]
    if depthwise or (sym and not direct):
        bufs.append(_POINTER_BYTES * kernel * pixels)
    elif not direct:
        bufs.append((groups if len(w) > 4 else 1) * cg * kernel * pixels)
    if w_t is None:
        bufs.append(m * cg * kernel)
    return bufs


def _all_zero(t: Any) -> bool:
    from onnx import numpy_helper

    try:
        return not numpy_helper.to_array(t).any()
    except Exception:  # noqa: BLE001 - external or unreadable data: not known to be zero
        return False


def ort_kernel_scratch_bytes(node: Any, tensors: Mapping[str, tuple[tuple[int, ...], int]],
                             consts: Mapping[str, Any], isa: Iterable[str] = ()) -> int | None:
    """Scratch bytes onnxruntime's CPU kernel for ``node`` allocates while it runs, or None (no modelled scratch).

    These buffers come from the kernel's temp-space allocator, the session's CPU allocator: with the arena off
    each is its own ``malloc`` (whole pages from :data:`MMAP_THRESHOLD_BYTES`), freed when the kernel returns, so
    resident-set growth sees them on top of the activations of that moment. Modelled for the quantized kernels, read
    in onnxruntime 1.32:

    * ``QLinearConv`` (ONNX and com.microsoft): :func:`_qlinearconv_scratch`; on the first convolution of an int8
      ResNet-18 (3 input channels: not the symmetric path) an int32 accumulator of 64 x 112 x 112 and an im2col
      buffer of 3 x 7 x 7 x 112 x 112 bytes, 4.8 MiB;
    * ``QLinearMatMul`` (``quantize_linear_matmul.cc``): an int32 product of the output's shape;
    * com.microsoft ``QGemm`` (``contrib_ops/cpu/quantization/quant_gemm.cc``): an int32 product of M x N when the
      output is requantized (``y_scale`` given), plus a transposed copy of A under ``transA`` and of B (N x K bytes)
      under ``transB`` where B is not a constant (a constant B is pre-packed at session load, not copied per run;
      until 2026-12-04 that copy was left out).

    The float kernels' scratch (im2col of a non-NCHWc ``Conv``...) is not modelled: it lies in the fitted overheads.

    Parameters
    ----------
    node : onnx.NodeProto
        A node of onnxruntime's optimised graph.
    tensors : mapping
        ``{name: (shape, bytes)}`` (:func:`ort_tensor_shapes`).
    consts : mapping
        The graph's initializers by name (zero points, weight element types).
    isa : iterable of str
        Instruction sets of the CPU it runs on (:func:`ort_isa`): ``"arm"`` / ``"asimddp"``, ``"avx2"``,
        ``"avx512f"`` choose MLAS's kernels (:func:`conv_sym_kernel`).
    """
    from onnx import helper

    op = node.op_type
    if op not in ("QLinearConv", "QLinearMatMul", "QGemm") or node.domain not in ("", "ai.onnx", "com.microsoft"):
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def shape(i: int) -> tuple[int, ...] | None:
        """The shape of input ``i`` (None: no such input, or its shape is not known)."""
        name = node.input[i] if len(node.input) > i else ""
        return tensors.get(name, (None,))[0] if name else None

    y = tensors.get(node.output[0], (None,))[0] if node.output else None
    if op == "QLinearConv":
        bufs = _qlinearconv_scratch(node, shape(0), shape(3), y, consts, attrs, isa)
    elif y is None:
        bufs = None
    elif op == "QLinearMatMul":
        bufs = [4 * math.prod(y)]
    else:  # QGemm: A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp
        requant = len(node.input) > 7 and bool(node.input[7])
        a = shape(0)
        b = None if len(node.input) > 3 and node.input[3] in consts else shape(3)
        bufs = ([4 * math.prod(y)] if requant else []) + ([math.prod(a)] if attrs.get("transA", 0) and a else []) \
            + ([math.prod(b)] if attrs.get("transB", 0) and b else [])
    return None if bufs is None else sum(malloc_resident_bytes(int(b)) for b in bufs if b)


@dataclass(frozen=True)
class OrtActivationPlan:
    """onnxruntime's activation memory for one run (bytes).

    ``pattern_bytes``: peak of the memory pattern (best-fit offsets), the block allocated from the
    second run on; ``live_peak_bytes``: most values alive at once, each its own buffer (no reuse, no
    in-place; not the first run, which allocates the planned buffers); ``output_bytes``: graph outputs
    (outside the pattern); ``buffers``: planned buffers;
    ``total_bytes``: their sum (no reuse). ``scratch_bytes``: the largest scratch one quantized kernel allocates
    while it runs (:func:`ort_kernel_scratch_bytes`); ``scratch_peak_bytes``: the most resident at once with it,
    the activations resident at that node (the pattern's extent so far, or the live set) + its scratch; None where
    the graph has no kernel whose scratch is modelled.
    """

    pattern_bytes: int
    live_peak_bytes: int
    output_bytes: int
    buffers: int
    total_bytes: int = 0
    timeline_bytes: tuple[int, ...] = field(repr=False, default=())
    scratch_bytes: int = 0
    scratch_peak_bytes: int | None = None

    @property
    def run_bytes(self) -> int:
        """Resident bytes of a run's activations: the pattern, or more while a quantized kernel holds its scratch.

        The first run allocates the same planned buffers (reuse and in place included) over the same lifetimes, one
        by one, so it never holds more than the pattern; ``live_peak_bytes`` (every value its own buffer) is no
        bound on it (until 2026-12-05 it was taken when larger: an in-place Relu over 32 MiB read 64 MiB,
        measured 32)."""
        return max(self.pattern_bytes, self.scratch_peak_bytes or 0)


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


def ort_activation_plan(model: Any, tensors: Mapping[str, tuple[tuple[int, ...], int]],
                        isa: Iterable[str] = ()) -> OrtActivationPlan:
    """Replay onnxruntime's sequential allocation planner and memory pattern over ``model``'s nodes
    (in the order onnxruntime runs them: :func:`ort_execution_orders`; the larger plan where that order
    varies between sessions).

    ``tensors``: ``{name: (shape, bytes)}`` (:func:`ort_tensor_shapes`). Two steps, as in onnxruntime
    (``core/framework/allocation_planner.cc``, ``mem_pattern_planner.h``):

    1. plan: an aliasing op's output shares its input's buffer; an in-place capable op reuses an input
       that dies at this node if it has the *same shape* and element size; otherwise the most
       recently freed buffer of the same shape is reused; otherwise a new buffer;
    2. pattern: each buffer is placed by best fit when its first value is defined and stays until
       its *last* value dies, so a buffer kept for a later reuse is held in between (reuse can raise
       the pattern above the live-set peak).

    ``live_peak_bytes`` is the live set without any reuse (every value freed at its last use). A quantized
    kernel's scratch (:func:`ort_kernel_scratch_bytes`, for the instruction sets ``isa``) is held while it runs,
    on top of what is resident then (``scratch_peak_bytes``).
    """
    g = model.graph
    consts = {t.name: t for t in g.initializer}
    # keyed by the node's outputs (unique in a graph; protobuf hands out new node objects on each access)
    scratch = {tuple(n.output): b for n in g.node if (b := ort_kernel_scratch_bytes(n, tensors, consts, isa)) is not None}
    plans = [_ort_plan_in_order(order, g, tensors, scratch) for order in ort_execution_orders(g)]
    return max(plans, key=lambda p: (p.run_bytes, p.pattern_bytes, p.live_peak_bytes))


def _ort_plan_in_order(nodes: Sequence[Any], g: Any, tensors: Mapping[str, tuple[tuple[int, ...], int]],
                       scratch: Mapping[tuple[str, ...], int] | None = None) -> OrtActivationPlan:
    """:func:`ort_activation_plan` with ``nodes`` run in the order given; ``scratch``: bytes by the outputs of the
    nodes whose kernel scratch is modelled."""
    outputs = {o.name for o in g.output}
    uses: dict[str, int] = {}
    for n in nodes:
        for i in n.input:
            if i:
                uses[i] = uses.get(i, 0) + 1
    size_of, first, last, value_alloc, value_free, out_bytes = _ort_plan_buffers(nodes, tensors, outputs, uses)
    end = len(nodes)
    peak, live_peak, timeline, extent = _ort_memory_pattern(size_of, first, last, value_alloc, value_free, end)
    scratch = scratch or {}
    held = [scratch.get(tuple(n.output)) for n in nodes]
    scratch_peak = None
    if any(b is not None for b in held):
        # the first run allocates buffer by buffer (the live set); from the second, the pattern's block is resident
        # as far as the buffers placed so far reach: the kernel's scratch comes on top of either
        scratch_peak = max(max(timeline[k], extent[k]) + b for k, b in enumerate(held) if b is not None)
    return OrtActivationPlan(peak, live_peak, out_bytes, len(size_of), sum(size_of.values()), tuple(timeline[:end]),
                             max((b for b in held if b is not None), default=0), scratch_peak)


def ort_execution_orders(g: Any) -> list[list[Any]]:
    """The orders onnxruntime may run the nodes of its optimised graph ``g`` in: ``[stored order]``, or two.

    onnxruntime runs (and saves) the nodes in its default topological order (``GraphViewer``:
    ``Graph::ReverseDFSFrom`` the leaf nodes, a node's producers visited highest ``NodeIndex`` first), so
    the order follows the node indices. Those of the ``ReorderOutput`` nodes its NCHWc transformer adds
    last (``NchwcTransformerImpl::Finalize``) follow the iteration order of an ``unordered_map`` keyed by
    ``NodeArg*``, i.e. heap addresses: with two or more of them the order, and the memory pattern, differs
    from one session to the next (measured: a DenseNet block's ``ReorderOutput`` of the max-pool output runs
    right after it or just before the concatenation, 38912 B vs 32768 B of pattern with AVX-512).
    The stored order is then one draw; instead, the order is replayed with those nodes numbered in
    creation order and in reverse (the other nodes keep their stored precedence), and
    :func:`ort_activation_plan` keeps the larger pattern: the same figure on every call, one that
    onnxruntime really plans in some sessions and the higher of the two extremes.
    """
    nodes = list(g.node)
    floating = [i for i, n in enumerate(nodes) if n.op_type == "ReorderOutput"]
    if len(floating) < 2:
        return [nodes]
    producer = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    # creation order: the order the transformer met their NCHWc producers (its graph walk), then names
    created = sorted(floating, key=lambda i: (producer.get(nodes[i].input[0], -1) if nodes[i].input else -1,
                                              tuple(nodes[i].output)))
    orders = []
    for numbering in (created, created[::-1]):
        # visit priority (lower first) = minus the node index: Finalize's nodes have the highest indices
        prio = {i: pos for pos, i in enumerate(numbering[::-1])}
        prio.update({i: len(nodes) + pos for pos, i in enumerate(x for x in range(len(nodes)) if x not in prio)})
        orders.append([nodes[i] for i in _reverse_dfs_order(nodes, producer, prio)])
    return orders


def _reverse_dfs_order(nodes: Sequence[Any], producer: Mapping[str, int], prio: Mapping[int, int]) -> list[int]:
    """onnxruntime's ``Graph::ReverseDFSFrom`` the leaf nodes (post-order), leaves and each node's producers
    visited in ascending ``prio``."""
    inputs = [sorted({producer[x] for x in n.input if x in producer}, key=prio.__getitem__) for n in nodes]
    consumed = {p for ins in inputs for p in ins}
    leaves = sorted((i for i in range(len(nodes)) if i not in consumed), key=prio.__getitem__)
    order: list[int] = []
    visited: set[int] = set()
    stack: list[tuple[int, bool]] = [(i, False) for i in reversed(leaves)]
    while stack:
        i, leave = stack.pop()
        if leave:
            order.append(i)
            continue
        if i in visited:
            continue
        visited.add(i)
        stack.append((i, True))
        stack.extend((p, False) for p in reversed(inputs[i]) if p not in visited)
    return order


def _ort_plan_buffers(nodes: Sequence[Any], tensors: Mapping[str, tuple[tuple[int, ...], int]], outputs: set[str],
                      uses: dict[str, int]) -> tuple:
    """Step 1 of :func:`ort_activation_plan`: assign every value a buffer (alias, in place, reuse or new).

    Returns ``(size_of, first, last, value_alloc, value_free, out_bytes)``: per buffer its size, first
    and last step (a buffer never freed has no ``last``), per step the sizes of the values defined and
    freed (the no-reuse live set), and the bytes of the graph outputs.
    """
    remaining = dict(uses)
    owner: dict[str, int] = {}
    key_of: dict[int, tuple] = {}
    size_of: dict[int, int] = {}
    refs: dict[int, int] = {}
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    free: list[int] = []  # freed buffers, most recent first
    out_bytes = 0
    value_alloc: dict[int, list[int]] = {}  # step -> sizes of values defined (no-reuse live set)
    value_free: dict[int, list[int]] = {}
    value_size: dict[str, int] = {}

    def release(name: str, step: int) -> None:
        if name in value_size:
            value_free.setdefault(step, []).append(value_size.pop(name))
        b = owner.pop(name, None)
        if b is None:
            return
        refs[b] -= 1
        if refs[b] == 0:
            free.insert(0, b)
            last[b] = step

    for step, node in enumerate(nodes):
        for o in node.output:
            if not o:
                continue
            shape, size = tensors.get(o, ((), 0))
            key = (shape, size)
            if o in outputs:
                out_bytes += size
                continue
            b = None
            src = node.input[0] if node.input else ""
            if node.op_type in ORT_ALIAS_OPS and src in owner:
                b = owner[src]
            else:
                value_size[o] = size
                value_alloc.setdefault(step, []).append(size)
                slots = ORT_INPLACE_INPUTS.get(f"{node.domain}.{node.op_type}" if node.domain else node.op_type, ())
                cands = [node.input[k] for k in slots if k < len(node.input)]
                b = next((owner[i] for i in cands if i in owner and remaining.get(i) == 1
                          and refs[owner[i]] == 1 and tensors.get(i, ((), 0)) == key), None)
                if b is None and shape:
                    b = next((f for f in free if key_of[f] == key), None)
                    if b is not None:
                        free.remove(b)
            if b is None:
                b = len(size_of)
                size_of[b], key_of[b], refs[b], first[b] = size, key, 0, step
            owner[o] = b
            refs[b] += 1
            last.pop(b, None)
        for i in dict.fromkeys(x for x in node.input if x):
            remaining[i] -= list(node.input).count(i)
            if remaining[i] <= 0:
                release(i, step)
        for o in node.output:
            if o and o not in uses:
                release(o, step)
    return size_of, first, last, value_alloc, value_free, out_bytes


def _ort_memory_pattern(size_of: dict[int, int], first: dict[int, int], last: dict[int, int],
                        value_alloc: dict[int, list[int]], value_free: dict[int, list[int]], end: int
                        ) -> tuple[int, int, list[int], list[int]]:
    """Step 2 of :func:`ort_activation_plan`: best-fit placement of the buffers over their lifetimes.

    Returns ``(pattern peak, no-reuse live-set peak, live bytes per step, pattern extent per step)``, the extent
    being the highest end offset of the buffers placed up to and at that step.
    """
    pattern = _BestFitPattern()
    starts: dict[int, list[int]] = {}
    stops: dict[int, list[int]] = {}
    for b in size_of:
        starts.setdefault(first[b], []).append(b)
        stops.setdefault(last.get(b, end), []).append(b)
    live = live_peak = 0
    timeline, extent = [], []
    for step in range(end + 1):
        for b in starts.get(step, ()):
            pattern.alloc(b, size_of[b])
        live += sum(value_alloc.get(step, ()))
        live_peak = max(live_peak, live)
        timeline.append(live)
        extent.append(pattern.peak)
        live -= sum(value_free.get(step, ()))
        for b in stops.get(step, ()):
            pattern.free(b)
    return pattern.peak, live_peak, timeline, extent


def ort_resident_initializer_bytes(model: Any) -> int:
    """Initializers of the optimised graph as resident pages: each tensor is its own allocation,
    those of at least :data:`MMAP_THRESHOLD_BYTES` whole pages."""
    return sum(malloc_resident_bytes(_tensor_bytes(t)) for t in model.graph.initializer)


def nchwc_block(isa: Iterable[str] = ()) -> int:
    """MLAS's NCHWc channel block (``MlasNchwcGetBlockSize``, ``mlas/lib/snchwc.cpp``; ``NchwcBlockSize`` of
    ``mlas/lib/platform.cpp``): 16 floats with AVX-512F, else 8 on x86-64 (SSE and AVX2 alike); 1 on ``"arm"``: no
    NCHWc kernels, so onnxruntime's ``NchwcTransformer`` does nothing (ARM64 has them only in a build with
    ``MLAS_USE_ARM_NEON_NCHWC``, an opt-in cmake option the released packages leave off)."""
    s = set(isa)
    return 1 if "arm" in s else 16 if "avx512f" in s else 8


@dataclass(frozen=True)
class OrtFeatures:
    """What :func:`onnxruntime_peak` derives from the graph onnxruntime runs (bytes)."""

    initializer_bytes: int
    activations: OrtActivationPlan
    input_bytes: int
    optimised: bool
    unknown_ops: tuple[str, ...]
    nodes: int = 0
    initializers: int = 0


def ort_features(model: Any, isa: Iterable[str] = (), level: str = "all") -> OrtFeatures:
    """Optimise ``model`` (path or ModelProto) as onnxruntime does on a CPU of the instruction sets ``isa``
    (:func:`ort_isa`), size its tensors and replay its planner.

    Where that CPU has no NCHWc kernels (:func:`nchwc_block` 1: ARM64) onnxruntime's ``NchwcTransformer`` is left
    out of the optimisation; otherwise the NCHWc layout is the one this machine's onnxruntime chose, sized with
    that CPU's block.
    """
    isa = tuple(isa)
    block = nchwc_block(isa)
    opt, optimised = ort_optimized_model(model, level, disabled=("NchwcTransformer",) if block == 1 else ())
    tensors, unknown = ort_tensor_shapes(opt, block)
    init = {i.name for i in opt.graph.initializer}
    inputs = sum(tensors[i.name][1] for i in opt.graph.input if i.name not in init and i.name in tensors)
    return OrtFeatures(ort_resident_initializer_bytes(opt), ort_activation_plan(opt, tensors, isa), inputs, optimised,
                       unknown, len(opt.graph.node), len(opt.graph.initializer))


_ORT_PARTS = ("session overhead (fixed + per node)", "resident initializers of onnxruntime's optimised graph (pre-packed "
              "weights replace originals)", "memory-pattern activation block (best fit, sequential planner)")
_ORT_PARTS_AFTER = ("graph outputs", "run fixed overhead", "inputs; CPU arena off")
_ORT_SCRATCH_PART = ("the quantized kernels' scratch on top of the activations resident while each runs (int32 "
                     "accumulators, im2col / indirection buffers)")
ORT_INCLUDES = " + ".join(_ORT_PARTS + _ORT_PARTS_AFTER)
#: the same, for a graph with quantized kernels whose scratch is modelled
ORT_INCLUDES_QUANT = " + ".join(_ORT_PARTS + (_ORT_SCRATCH_PART,) + _ORT_PARTS_AFTER)
ORT_MEASURED_AS = "hybridperf.measure.onnxruntime: RSS growth at session load + VmHWM growth over 2 runs + input bytes"


def onnxruntime_peak(feat: OrtFeatures, session_fixed_bytes: int = ORT_SESSION_FIXED_BYTES,
                     run_fixed_bytes: int = ORT_RUN_FIXED_BYTES,
                     session_bytes_per_node: int = ORT_SESSION_BYTES_PER_NODE) -> RuntimePeak:
    """onnxruntime CPU peak (the figure ``hybridperf.measure.onnxruntime`` records) from :func:`ort_features`.

    ``session`` = a fixed part + a part per node of the optimised graph (kernel objects, node
    arguments, per-node state); both fitted, as is the run's fixed part. ``kernel_scratch`` (a part only where the
    graph has quantized kernels whose scratch is modelled, :func:`ort_kernel_scratch_bytes`): what a kernel's scratch
    adds to the activations at its peak (until 2026-12-04 not modelled: an int8 ResNet-18 was 16 % low).
    """
    act = feat.activations
    run_block = act.pattern_bytes  # the first run's buffers fit in it (OrtActivationPlan.run_bytes)
    scratch = [] if act.scratch_peak_bytes is None else [("kernel_scratch", act.run_bytes - run_block)]
    notes = []
    if not feat.optimised:
        notes.append("the ONNX graph as written stands in for onnxruntime's optimised graph (onnxruntime is not "
                     "installed, could not optimise it, or the weights exceed 1 GiB and its optimiser would read them all)")
    if feat.unknown_ops:
        notes.append(f"{len(feat.unknown_ops)} node(s) of unknown output shape sized as their largest input: "
                     + ", ".join(sorted(set(feat.unknown_ops))[:5]))
    return _make(Runtime.ONNXRUNTIME, [
        ("session", session_fixed_bytes + session_bytes_per_node * feat.nodes), ("initializers", feat.initializer_bytes),
        ("activation_pattern", run_block), *scratch, ("outputs", act.output_bytes), ("run_fixed", run_fixed_bytes),
        ("inputs", feat.input_bytes),
    ], ORT_INCLUDES_QUANT if scratch else ORT_INCLUDES, ORT_MEASURED_AS, notes + [ORT_FIT_NOTE], feat.unknown_ops)


# onnxruntime's BFC arena defaults (OrtArenaCfg; mirrored in onnxruntime/test/autoep/library/ep_arena.h)
ARENA_INITIAL_CHUNK_BYTES = 1 << 20
ARENA_MAX_POWER_OF_TWO_EXTEND_BYTES = 1 << 30
ARENA_ROUNDING_BYTES = 256
ARENA_MAX_DEAD_BYTES_PER_CHUNK = 128 << 20


def bfc_arena_reserved_bytes(requests: Iterable[int]) -> int:
    """Bytes a BFC arena with the ``kNextPowerOfTwo`` extend strategy reserves for ``requests``.

    The requests are made one after another and all kept alive (the worst case: nothing freed in
    between). The rule follows onnxruntime's ``core/framework/bfc_arena.cc`` (``BFCArena::Extend``,
    ``FindChunkPtr`` and ``SplitFreeChunkFromBin``, read in microsoft/onnxruntime):

    * each request is rounded up to a multiple of 256 bytes (``RoundedBytes``);
    * it is served from the smallest free chunk that holds it, in any region reserved so far (the
      bins are searched from the request's size upwards, each bin ordered by size); the chunk is
      split only when it is at least twice the request or would waste at least
      ``max_dead_bytes_per_chunk`` (128 MiB), otherwise the whole chunk is handed out;
    * when no free chunk holds it, a new region is reserved: the current region size (1 MiB
      initially) doubled until it holds the request. The size doubles once more for the next region
      only when it was not just raised for this one; onnxruntime versions with
      ``max_power_of_two_extend_bytes`` stop that doubling at it (default 1 GiB), as here;
    * a request of 0 bytes allocates nothing.

    Parameters
    ----------
    requests : iterable of int
        Allocation sizes in bytes, in the order they are made.

    Returns
    -------
    int
        Total bytes of the regions the arena reserves.
    """
    reserved = 0
    region = ARENA_INITIAL_CHUNK_BYTES
    free: list[int] = []  # sizes of the free chunks left in the regions reserved so far
    for size in requests:
        r = -(-int(size) // ARENA_ROUNDING_BYTES) * ARENA_ROUNDING_BYTES
        if r == 0:
            continue
        chunk = min((c for c in free if c >= r), default=None)
        if chunk is not None:
            free.remove(chunk)
        else:
            raised = False
            while r > region:
                region, raised = region * 2, True
            chunk = region
            reserved += chunk
            if not raised:
                region = min(region * 2, ARENA_MAX_POWER_OF_TWO_EXTEND_BYTES)
        if chunk >= 2 * r or chunk - r >= ARENA_MAX_DEAD_BYTES_PER_CHUNK:
            free.append(chunk - r)
    return reserved


# =========================================================================== PyTorch (CUDA)

#: caching-allocator constants (c10/cuda/CUDACachingAllocator.cpp)
CUDA_MIN_BLOCK_BYTES = 512          # kMinBlockSize: every request rounded up to a multiple
CUDA_SMALL_SIZE_BYTES = 1 << 20     # kSmallSize: requests up to 1 MiB come from the small pool
CUDA_SMALL_BUFFER_BYTES = 2 << 20   # kSmallBuffer: small-pool segments are 2 MiB
CUDA_LARGE_BUFFER_BYTES = 20 << 20  # kLargeBuffer: requests in (1, 10) MiB get a 20 MiB segment
CUDA_MIN_LARGE_ALLOC_BYTES = 10 << 20  # kMinLargeAlloc
CUDA_ROUND_LARGE_BYTES = 2 << 20    # kRoundLarge: larger segments are rounded to 2 MiB

#: cuBLAS workspace PyTorch allocates through the caching allocator on the first GEMM of a (handle,
#: stream) and keeps: ``CUBLAS_WORKSPACE_CONFIG`` default ``:4096:8`` (32 MiB) on compute capability 9.x,
#: ``:4096:2:16:8`` (8 MiB + 128 KiB) elsewhere (ATen ``CublasHandlePool.cpp``, cuBLAS' recommendation)
CUBLAS_WORKSPACE_BYTES_HOPPER = 4096 * 8 << 10
CUBLAS_WORKSPACE_BYTES_OTHER = (4096 * 2 + 16 * 8) << 10
#: device-sheet ids of compute capability 9.x parts (the 32 MiB default)
HOPPER_IDS = ("h100", "h200", "gh200")
#: cuBLASLt workspace (``CUBLASLT_WORKSPACE_SIZE`` default 1024 KiB; ``addmm`` with a bias and the fp16
#: GEMMs go through cuBLASLt), also kept once allocated
CUBLASLT_WORKSPACE_BYTES = 1024 << 10

#: Relax convolutions (PyTorch ``F.conv1d`` / ``F.conv2d`` / ``F.conv3d`` on cuDNN)
TORCH_CONV_OPS = frozenset({"relax.nn.conv1d", "relax.nn.conv2d", "relax.nn.conv3d"})

TORCH_INCLUDES = ("weights + inputs as caching-allocator blocks + cuBLAS/cuBLASLt workspaces kept from warm-up + "
                  "eager activation peak (one PyTorch kernel per Relax op in execution order, each output a rounded "
                  "block freed after its last use, views and weight-only ops free, written-out activations one kernel, "
                  "transformer layers holding their input and attention probabilities, other graphs holding a branch's "
                  "input until the branches join; fp16/bf16 convolutions with a spatial kernel adding cuDNN's NHWC copies "
                  "of input, filter and output as one workspace block; other cuDNN algorithm workspaces (FFT, "
                  "Winograd) not modelled)")
#: Fitted on calibration/h100-sxm (``benchmarks/memory_runtime.py``, all rows): the factor on the live activation
#: blocks (not on convolution workspaces) of graphs without transformer layers, for what their Python frames hold
#: past a tensor's last read beyond the branch holds (a ``Sequential``'s input until it returns, an unfused
#: BatchNorm's second tensor) less what in-place ops (``ReLU(inplace=True)``, a convolution's own bias) save
TORCH_ACTIVATION_FACTOR = 1.105
TORCH_FIT_NOTE = (f"live activation blocks of graphs without transformer layers x {TORCH_ACTIVATION_FACTOR}, fitted on "
                  "calibration/h100-sxm (benchmarks/memory_runtime.py)")
TORCH_MEASURED_AS = "torch.cuda.max_memory_allocated() around one eager inference after warm-up"


def cuda_block_bytes(request: int) -> int:
    """Bytes ``max_memory_allocated`` counts for one request (the block handed out).

    Rounded up to 512 bytes; a large-pool block is split off its segment only when the remainder
    exceeds 1 MiB, else the whole segment is the block. An empty request takes no block (PyTorch's allocator
    returns no memory for 0 bytes; a model without inputs or weights was charged 512 B for each until 2026-12-04).
    """
    if int(request) <= 0:
        return 0
    size = max(CUDA_MIN_BLOCK_BYTES, -(-int(request) // CUDA_MIN_BLOCK_BYTES) * CUDA_MIN_BLOCK_BYTES)
    if size <= CUDA_SMALL_SIZE_BYTES:
        return size
    if size < CUDA_MIN_LARGE_ALLOC_BYTES:
        segment = CUDA_LARGE_BUFFER_BYTES
    else:
        segment = -(-size // CUDA_ROUND_LARGE_BYTES) * CUDA_ROUND_LARGE_BYTES
    return size if segment - size > CUDA_SMALL_SIZE_BYTES else segment


def blas_workspace_bytes(device_id: str = "h100-sxm") -> int:
    """cuBLAS + cuBLASLt workspaces PyTorch holds after the first GEMM on ``device_id``'s architecture."""
    hopper = device_id.lower().startswith(HOPPER_IDS)
    return (CUBLAS_WORKSPACE_BYTES_HOPPER if hopper else CUBLAS_WORKSPACE_BYTES_OTHER) + CUBLASLT_WORKSPACE_BYTES


@dataclass(frozen=True)
class EagerActivationPlan:
    """Activation blocks of one eager inference (bytes as the caching allocator counts them).

    ``peak_bytes``: the largest sum of live blocks (+ the running op's workspace), reached while op
    ``peak_op`` runs (-1: no op allocates); ``timeline_bytes``: live blocks while each op runs;
    ``views`` / ``weight_only``: ops that allocate nothing (a view of their input; computed from
    weights and shapes alone, which PyTorch never materialises).
    """

    peak_bytes: int
    peak_op: int
    timeline_bytes: tuple[int, ...] = field(repr=False, default=())
    views: int = 0
    weight_only: int = 0


def torch_eager_activations(ops: Sequence[EagerOp], input_vars: Iterable[str], output_vars: Iterable[str],
                            held_until: Mapping[str, int] | None = None,
                            activation_factor: float = 1.0) -> EagerActivationPlan:
    """Peak of activation blocks when ``ops`` run one by one as eager PyTorch runs them.

    The rules (PyTorch's documented semantics, nothing fitted):

    1. an op's outputs are allocated before its kernel runs, each as one caching-allocator block
       (:func:`cuda_block_bytes`); a view (:attr:`EagerOp.view`, which :func:`hybridperf.estimate.torch_eager.views`
       decides) allocates nothing and shares its first input's block;
    2. an op reading no activation (only weights, constants, shapes) allocates nothing: PyTorch uses the
       weight as stored (no run-time transpose or reshape of weights);
    3. a block is freed when its last reader has run (the tensor's last reference dies; a view keeps its base
       alive); the graph's outputs stay alive to the end; graph inputs are resident, not counted here;
    4. while an op runs, live blocks + its outputs + its workspace are held: the peak is the maximum over ops.

    ``held_until`` maps a var to an op index its block lives at least until (a Python frame holding it:
    :func:`transformer_layer_holds`, :func:`branch_input_holds`). ``activation_factor`` scales the live blocks
    (not the workspace): what is held while op *i* runs is ``round(activation_factor x live_i) + workspace_i``.
    """
    # var -> the block it lives in: "" for graph inputs (resident) and their views, None for weights and shapes
    root: dict[str, str | None] = {v: "" for v in input_vars}
    size: dict[str, int] = {}
    alloc: list[tuple[str, int]] = []  # (block, bytes) each op allocates
    views = weight_only = 0
    for i, o in enumerate(ops):
        if all(root.get(v) is None for v in o.input_vars):
            root[o.var], weight_only = None, weight_only + 1  # weights / shapes only
            alloc.append(("", 0))
        elif o.view:
            first = next(v for v in o.input_vars if root.get(v) is not None)
            root[o.var], views = root[first], views + 1
            alloc.append(("", 0))
        else:
            blk = f"#{i}"
            root[o.var] = blk
            size[blk] = sum(cuda_block_bytes(b) for b in o.output_bytes if b)
            alloc.append((blk, size[blk]))
    last: dict[str, int] = {blk: i for i, (blk, _) in enumerate(alloc) if blk}  # unused outputs die at once
    for i, o in enumerate(ops):
        for v in o.input_vars:
            blk = root.get(v)
            if blk:
                last[blk] = max(last[blk], i)
    for v, i in (held_until or {}).items():
        blk = root.get(v)
        if blk:
            last[blk] = max(last[blk], min(i, len(ops) - 1))
    keep = {root.get(v) for v in output_vars} - {None, ""}
    dies: dict[int, list[str]] = {}
    for blk, i in last.items():
        if blk not in keep:
            dies.setdefault(i, []).append(blk)
    live = peak = 0
    peak_op = -1
    timeline = []
    for i, o in enumerate(ops):
        live += alloc[i][1]
        held = int(round(activation_factor * live)) + (o.workspace_bytes and cuda_block_bytes(o.workspace_bytes))
        timeline.append(held)
        if held > peak:
            peak, peak_op = held, i
        live -= sum(size[b] for b in dies.get(i, ()))
    return EagerActivationPlan(peak, peak_op, tuple(timeline), views, weight_only)


def transformer_layer_holds(ops: Sequence[EagerOp]) -> dict[str, int]:
    """Tensors a transformer layer's Python frame holds past their last read (Hugging Face's layer code):
    the layer's input until the layer returns, and the attention probabilities, which the attention module
    returns to the layer with its output, likewise. (In BERT-style models the model also holds the embedding
    output through the whole encoder; the second operand held at each residual add stands in for it: one
    hidden state, same size, checked on the H100 rows.) A layer is delimited by residual adds (``relax.add`` of
    two computed activations): both operands of a residual add are held until the next residual add, a
    softmax's
    output until the second residual add after it. Only in graphs with two softmax ops or more (attention
    layers); nothing otherwise. Returns ``{var: op index}``.
    """
    blocks = set()
    for o in ops:
        if o.output_bytes and any(o.output_bytes):
            blocks.add(o.var)
    if sum(o.op == "relax.nn.softmax" for o in ops) < 2:
        return {}  # not a transformer (one softmax at most: a classifier's)
    residual = [i for i, o in enumerate(ops)
                if o.op == "relax.add" and len({v for v in o.input_vars if v in blocks}) == 2]
    held: dict[str, int] = {}
    for k, i in enumerate(residual):
        nxt = residual[k + 1] if k + 1 < len(residual) else len(ops)
        for v in ops[i].input_vars:
            held[v] = max(held.get(v, 0), nxt)
    for i, o in enumerate(ops):
        if o.op == "relax.nn.softmax":
            after = [r for r in residual if r > i]
            held[o.var] = after[1] if len(after) > 1 else len(ops)
    return held


#: ops where the branches of a block join: a residual add, a gate's multiply, an inception / dense concat
TORCH_JOIN_OPS = frozenset({"relax.add", "relax.multiply", "relax.concat"})


def branch_input_holds(ops: Sequence[EagerOp]) -> dict[str, int]:
    """The input of each block whose branches join, held until the join (``{var: op index}``).

    A module's ``forward(self, x)`` frame references ``x`` until it returns, and CPython frees a tensor only
    when its last reference dies. Where two or more computed activations join (:data:`TORCH_JOIN_OPS`: a
    residual add after a downsampling shortcut, an inception block's concat), the block's input is their latest
    common ancestor; it stays alive until the join although the graph's last read of it (the shortcut
    convolution, the last branch's first op) comes earlier. Where the input is itself an operand of the join
    (an identity shortcut, a gate) the hold changes nothing. Ops reading no activation are not ancestors.
    """
    index = {o.var: i for i, o in enumerate(ops)}
    blocks = {o.var for o in ops if o.output_bytes and any(o.output_bytes)}
    anc: list[int] = []  # bit j set: op j is an ancestor (or the op itself)
    for i, o in enumerate(ops):
        m = 1 << i if o.input_vars else 0
        for v in o.input_vars:
            j = index.get(v)
            if j is not None and j < i:
                m |= anc[j]
        anc.append(m)
    held: dict[str, int] = {}
    for i, o in enumerate(ops):
        if o.op not in TORCH_JOIN_OPS:
            continue
        operands = [index[v] for v in dict.fromkeys(o.input_vars) if v in blocks and v in index]
        if len(operands) < 2:
            continue
        common = anc[operands[0]]
        for j in operands[1:]:
            common &= anc[j]
        if common:
            fork = ops[common.bit_length() - 1].var
            held[fork] = max(held.get(fork, 0), i)
    return held


#: float types of the graph as analysed (a precision override then decides the stored width)
_FLOAT_DTYPES = ("float16", "bfloat16", "float32")


def cudnn_nhwc_workspace_bytes(input_bytes: int, output_bytes: int, weight_shape: Sequence[int], groups: int,
                               itemsize: int) -> int:
    """Workspace cuDNN takes to run a convolution of NCHW tensors on Tensor Cores: NHWC copies of input, filter
    and output (bytes of the one block PyTorch allocates for it, before the allocator's rounding).

    cuDNN documents that it "may use padding, folding, and NCHW-to-NHWC transformations to call the Tensor
    Core operations" (cuDNN Developer Guide, Legacy API, "Data and Filter Formats"); PyTorch allocates the
    plan's workspace through the caching allocator for the call (``Conv_v8.cpp``) and, with
    ``cudnn.benchmark=False``, takes the first plan of cuDNN's heuristics whose workspace it can allocate
    (pytorch/pytorch#49207), so the copies count in ``max_memory_allocated``. The rule: 2-byte floats
    (``itemsize == 2``: fp16 / bf16; fp32 reaches Tensor Cores only through TF32, which the measurements disable
    and this rule leaves out, although PyTorch's default ``cudnn.allow_tf32=True`` enables it) and a kernel with
    more than one tap; a depthwise convolution (``weight_shape[1] == 1``, ``groups > 1``: PyTorch's own
    ``conv_depthwise2d`` kernel or a cuDNN NCHW engine) and a 1x1 convolution (a GEMM on NCHW as stored) take
    none. This module's reading of the kernels traced on the H100 (``nchwToNhwcKernel`` / ``nhwcToNchwKernel``
    around ``sm90_xmma_fprop_implicit_gemm_*_nhwc`` kernels in ``calibration/h100-sxm/torch-kernels-by-name.csv``),
    not a cuDNN guarantee: its heuristics choose per shape. The two exclusions were chosen on the scored H100
    rows (``benchmarks/results/memory_runtime.md``); ``benchmarks/cudnn_conv_workspace.py`` measures the rule
    convolution by convolution where a GPU is at hand.
    """
    depthwise = groups > 1 and len(weight_shape) > 1 and weight_shape[1] == 1
    taps = math.prod(weight_shape[2:]) if len(weight_shape) > 2 else 1
    if itemsize != 2 or depthwise or taps <= 1:
        return 0
    return int(input_bytes) + int(output_bytes) + math.prod(weight_shape) * itemsize


def conv_workspace_bytes(record: Any, precision: str | None = None) -> int:
    """:func:`cudnn_nhwc_workspace_bytes` of one analysed record (0 for anything but a convolution), tensors
    stored as ``precision`` says."""
    from hybridperf.precision import stored_bytes

    ins, outs = getattr(record, "inputs", ()), getattr(record, "outputs", ())
    if record.op not in TORCH_CONV_OPS or len(ins) < 2 or not outs:
        return 0
    x, w, y = ins[0], ins[1], outs[0]
    n = math.prod(x.shape) if x.shape else 0
    if not x.nbytes or not y.nbytes or not n or x.dtype not in _FLOAT_DTYPES:
        return 0
    xb = stored_bytes(x.dtype, x.nbytes, precision)
    groups = int((getattr(record, "attrs", None) or {}).get("groups", 1))
    return cudnn_nhwc_workspace_bytes(xb, stored_bytes(y.dtype, y.nbytes, precision), tuple(w.shape), groups, xb // n)


def torch_eager_activation_bytes(records: Iterable[Any], input_vars: Iterable[str], output_vars: Iterable[str],
                                 precision: str | None = None,
                                 activation_factor: float = TORCH_ACTIVATION_FACTOR) -> tuple[int, EagerActivationPlan]:
    """Eager activation peak of analysed records as :func:`torch_cuda_peak` takes it, and the plan it comes from.

    The steps: :func:`eager_ops` with each convolution's :func:`conv_workspace_bytes` ->
    :func:`fuse_torch_activations` -> :func:`transformer_layer_holds` (or, in graphs without transformer layers,
    :func:`branch_input_holds`) -> :func:`torch_eager_activations`, whose live blocks in graphs without transformer
    layers are scaled by ``activation_factor`` (workspaces are not).
    """
    from dataclasses import replace

    records = list(records)
    ops = [replace(o, workspace_bytes=ws) if (ws := conv_workspace_bytes(r, precision)) else o
           for o, r in zip(eager_ops(records, precision), records)]
    ops = fuse_torch_activations(ops)
    holds = transformer_layer_holds(ops)
    factor = 1.0 if holds else activation_factor
    plan = torch_eager_activations(ops, input_vars, output_vars, held_until=holds or branch_input_holds(ops),
                                   activation_factor=factor)
    return plan.peak_bytes, plan


def torch_cuda_peak(weight_tensor_bytes: int | Iterable[int], input_tensor_bytes: int | Iterable[int],
                    activation_bytes: int, workspace_bytes: int | None = None,
                    notes: Iterable[str] = ()) -> RuntimePeak:
    """PyTorch CUDA ``max_memory_allocated`` for one eager inference.

    ``weight_tensor_bytes`` / ``input_tensor_bytes``: one entry per tensor (each is one block), or a
    total; ``activation_bytes``: the eager activation peak (:func:`torch_eager_activations`);
    ``workspace_bytes``: BLAS workspaces kept from warm-up (default :func:`blas_workspace_bytes` of a Hopper part).
    """
    return _make(Runtime.TORCH, [
        ("weights", _blocks(weight_tensor_bytes)),
        ("inputs", _blocks(input_tensor_bytes)),
        ("blas_workspace", blas_workspace_bytes() if workspace_bytes is None else workspace_bytes),
        ("activations", int(activation_bytes)),
    ], TORCH_INCLUDES, TORCH_MEASURED_AS, notes)


def _blocks(tensors: int | Iterable[int]) -> int:
    return cuda_block_bytes(tensors) if isinstance(tensors, int) else sum(cuda_block_bytes(n) for n in tensors)


# =========================================================================== TVM

TVM_INCLUDES = "TVM's exact static plan (StaticPlanBlockMemory) + largest intra-kernel workspace + weights + inputs"
TVM_MEASURED_AS = "resident peak of TVM's Relax VM (benchmarks/memory_accuracy.py: VM RSS + weights + inputs)"


#: what the TVM peak includes for a quantized model, whose plan is the int8 execution's
#: (:attr:`hybridperf.analysis.memory.MemoryPlan.execution`)
TVM_INT8_INCLUDES = ("TVM's static-plan policy on the int8 execution (dequantize / quantize folded into int8 kernels, "
                     "as the latency is priced; the module as imported is planned beside it) + largest intra-kernel "
                     "workspace + weights + inputs")


def tvm_peak(planned_bytes: int, workspace_bytes: int, weight_bytes: int, input_bytes: int,
             includes: str = TVM_INCLUDES) -> RuntimePeak:
    """TVM VM peak: the exact plan plus the kernel workspace no Relax-level planner sees."""
    return _make(Runtime.TVM, [("planned_activations", planned_bytes), ("kernel_workspace", workspace_bytes),
                               ("weights", weight_bytes), ("inputs", input_bytes)], includes, TVM_MEASURED_AS)


# =========================================================================== TensorFlow Lite Micro (NPU)

TFLM_INCLUDES = ("tensor arena in SRAM: TVM's static plan of the activations (int8 where quantized) + outputs + "
                 "inputs; weights in flash, not in the peak; no kernel workspace")
TFLM_INT8_INCLUDES = ("tensor arena in SRAM: TVM's static-plan policy on the int8 execution (dequantize / quantize "
                      "folded into int8 kernels) + outputs + inputs; weights in flash, not in the peak; no kernel "
                      "workspace")
TFLM_MEASURED_AS = ("not measured here: the tensor arena TensorFlow Lite Micro (or a Vela command stream) needs "
                    "(MicroInterpreter::arena_used_bytes)")
TFLM_NOTE = ("TFLM's greedy arena planner packs buffers by offset where TVM's reuses size-matched blocks (the "
             "live-set bound is the least any planner needs); its interpreter's persistent per-op data is not modelled")


def tflm_peak(planned_bytes: int, output_bytes: int, input_bytes: int, weight_bytes: int,
              includes: str = TFLM_INCLUDES) -> RuntimePeak:
    """TensorFlow Lite Micro's tensor arena: activations planned (``planned_bytes`` without the graph outputs) +
    graph outputs + graph inputs. The weights are read from flash (:attr:`RuntimePeak.flash_bytes`), not counted."""
    peak = _make(Runtime.TFLM, [("planned_activations", planned_bytes), ("outputs", output_bytes),
                                ("inputs", input_bytes)], includes, TFLM_MEASURED_AS, [TFLM_NOTE])
    from dataclasses import replace

    return replace(peak, flash_bytes=int(weight_bytes))


# =========================================================================== per prediction


def host_isa() -> tuple[str, ...]:
    """The instruction sets of this machine that choose onnxruntime's kernels, as :func:`ort_isa` names them:
    ``"x86-64"`` (a ``flags`` line) with ``"avx2"`` (MLAS's symmetric int8 convolutions,
    :func:`ort_kernel_scratch_bytes`) and ``"avx512f"`` (the NCHWc block, :func:`nchwc_block`, and those
    convolutions' channel alignment) where present, or ``"arm"`` (a ``Features`` line) with ``"asimddp"``;
    () where ``/proc/cpuinfo`` says neither. Read for ``--device host`` only (:func:`ort_isa`); /proc/cpuinfo is read
    once per process (:func:`hybridperf.device.cpuinfo.this_cpu`)."""
    cpu = this_cpu()
    if cpu is None or not cpu.arch:
        return ()
    keys = ("asimddp",) if cpu.arch == "arm" else ("avx2", "avx512f")
    return (cpu.arch,) + tuple(f for f in keys if f in cpu.isa)


#: what :func:`ort_isa` assumes of a sheet that does not name it: an x86-64 CPU with AVX2 (NCHWc block 8)
ORT_ASSUMED_ISA = ("x86-64", "avx2")


def ort_isa(spec: Any) -> tuple[tuple[str, ...], str]:
    """The instruction sets onnxruntime's kernels are chosen by on the CPU of the sheet ``spec``
    (:attr:`~hybridperf.device.spec.DeviceSpec.instruction_set`: its name and notes), and a note where a part was
    assumed ("" where none was).

    Never this machine's flags for another device: only the ``host`` sheet (this machine, probed) falls back to
    :func:`host_isa` where its words do not say. Elsewhere a sheet naming x86-64 without its AVX level runs AVX2,
    one naming arm without saying whether it has the dot product runs the NEON kernels without it, and one naming
    neither instruction set runs :data:`ORT_ASSUMED_ISA`, each said in the note. ``spec`` None: this machine.
    Until 2026-12-04 every sheet was priced with this machine's flags: ``--device raspberry-pi-4b`` on an AVX-512
    machine got AVX-512's NCHWc layout.
    """
    if spec is None:
        return host_isa(), ""
    named = spec.instruction_set
    if spec.id == HOST_ID and (not named.isa or named.unnamed) and (here := host_isa()):
        return here, ""
    if named.isa == "arm":
        note = ("" if not named.unnamed else f"{spec.id}'s sheet does not say whether its CPU has the Arm int8 dot "
                "product (asimddp): onnxruntime's NEON int8 kernels without it assumed")
        return ("arm", *named.flags), note
    if named.isa == "x86-64":
        note = ("" if not named.unnamed else
                f"{spec.id}'s sheet names neither AVX2 nor AVX-512: onnxruntime's AVX2 kernels assumed (NCHWc block 8)"
                if "avx512f" in named.unnamed else
                f"{spec.id}'s sheet says its CPU has no AVX-512 but not whether it has AVX2: onnxruntime's AVX2 "
                "kernels assumed (NCHWc block 8)")
        # AVX2 where the words do not say; a CPU said to lack it (a probed ``ISA flags: none``) runs without it
        return ("x86-64", *named.flags, *(("avx2",) if "avx2" in named.unnamed else ())), note
    return ORT_ASSUMED_ISA, (f"{spec.id}'s sheet does not name its CPU's instruction set: onnxruntime's kernels "
                             "for an x86-64 CPU with AVX2 assumed (NCHWc block 8)")


def ort_layout_note(isa: Iterable[str]) -> str:
    """Where the NCHWc layout of a prediction for ``isa`` rests on this machine's onnxruntime: its optimiser chose
    which convolutions go NCHWc with this machine's block, and a block of the device that differs can choose others
    (a convolution whose channels are a multiple of 8 but not of 16: NCHWc with 8, not with 16); "" where the blocks
    agree or the device has none (its graph is optimised without the NCHWc pass, :func:`ort_features`). On a
    machine without NCHWc kernels (ARM64) no convolution was laid out NCHWc: the note says so (until 2026-12-04 it
    read "a multiple of 1 but not of 16")."""
    target, here = nchwc_block(isa), nchwc_block(host_isa())
    if target == 1 or target == here:
        return ""
    if here == 1:
        return (f"this machine's onnxruntime has no NCHWc kernels: the device's NCHWc layout (block {target}) is not "
                "modelled, its convolutions are sized as written (NCHW)")
    return (f"the NCHWc layout is the one this machine's onnxruntime chose (block {here}), sized with the device's "
            f"block {target}: a convolution whose channels are a multiple of {min(target, here)} but not of "
            f"{max(target, here)} may be laid out otherwise on the device")


def bind_input_shapes(proto: Any, shapes: Mapping[str, Sequence[int]]) -> Any:
    """A copy of an ONNX model whose graph inputs have the given static shapes (symbolic batch bound).

    Every dim of a named input is rewritten, so an input declared without a shape (unknown rank, bound by
    ``--shape``) gets one too: until 2026-12-04 only its declared dims were bound, none, and onnxruntime's model
    sized it as a scalar (an estimate with its first op unsized, inputs 4 B).
    """
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(proto)
    for vi in m.graph.input:
        if vi.name in shapes:
            shape = vi.type.tensor_type.shape
            del shape.dim[:]
            for v in shapes[vi.name]:
                shape.dim.add().dim_value = int(v)
    return m


def runtime_peak(pred: Any, runtime: Runtime | str) -> tuple[RuntimePeak | None, str]:
    """The peak memory of ``pred`` (a :class:`hybridperf.estimate.pricing.Prediction`) on ``runtime``.

    Returns ``(peak, "")``, or ``(None, reason)`` when the runtime's model does not apply (no memory
    plan; onnxruntime needs the ONNX file).
    """
    runtime = Runtime(runtime)
    an, m = pred.analyzed, pred.memory
    if runtime is Runtime.ONNXRUNTIME:
        src = Path(str(an.source))
        if src.suffix.lower() != ".onnx" or not src.is_file():
            return None, "the onnxruntime model needs an ONNX file"
        import onnx

        proto = onnx.load(str(src), load_external_data=False)
        if _model_bytes(proto) <= ORT_OPTIMISE_MAX_BYTES:  # small enough for onnxruntime's optimiser to read
            try:
                onnx.load_external_data_for_model(proto, str(src.parent))
            except (OSError, ValueError, onnx.checker.ValidationError) as exc:  # load_onnx_proto checks these first
                raise ModelLoadError(f"{src}: cannot read its external data ({error_line(exc)}); "
                                     "re-export the model") from exc
        proto = bind_input_shapes(proto, an.input_shapes)
        inits = {t.name for t in proto.graph.initializer}
        if any(d.dim_value <= 0 for vi in proto.graph.input if vi.name not in inits
               for d in vi.type.tensor_type.shape.dim):
            return None, "symbolic input shapes (bind them with --batch / --shape)"
        isa, assumed = ort_isa(getattr(pred, "spec", None))
        peak = onnxruntime_peak(ort_features(proto, isa))
        from dataclasses import replace

        extra = [n for n in (assumed, ort_layout_note(isa)) if n]
        if pred.precision is not None:
            extra.append(f"onnxruntime CPU runs the graph as stored: --precision {pred.precision} is not applied to "
                         "this figure")
        if extra:
            peak = replace(peak, notes=peak.notes + tuple(extra))
        return peak, ""
    if not m.known:
        return None, m.unknown_reason or "no memory plan"
    if runtime in (Runtime.TORCH, Runtime.TORCH_CUDAGRAPH):  # a captured graph is measured on one eager inference
        act, _ = torch_eager_activation_bytes(an.analysis.records, an.analysis.input_infos, an.analysis.output_vars,
                                              pred.precision)
        return torch_cuda_peak(m.weight_bytes, m.input_bytes, act, blas_workspace_bytes(pred.spec.id),
                               [TORCH_FIT_NOTE]), ""
    if runtime is Runtime.TFLM:  # graph outputs are the plan's unplanned tensors (TVM allocates them apart)
        outputs = m.unplanned_bytes or 0
        return tflm_peak(m.planned_bytes - outputs, outputs, m.input_bytes, m.weight_bytes,
                         TFLM_INT8_INCLUDES if m.execution == "int8" else TFLM_INCLUDES), ""
    if m.workspace_bytes is None:
        return None, "kernel workspace not sized: analyze with workspace=True (the CLI does for --runtime tvm)"
    return tvm_peak(m.planned_bytes, m.workspace_bytes, m.weight_bytes, m.input_bytes,
                    TVM_INT8_INCLUDES if m.execution == "int8" else TVM_INCLUDES), ""


#: the device kinds each runtime's latency and memory models are for: onnxruntime's memory model is its CPU
#: provider's arenas, PyTorch's the CUDA caching allocator (with a cuBLAS workspace); TVM's plan is any kind's
RUNTIME_KINDS: dict[Runtime, frozenset[str]] = {Runtime.ONNXRUNTIME: frozenset({"cpu"}),
                                                Runtime.TORCH: frozenset({"gpu"}),
                                                Runtime.TORCH_CUDAGRAPH: frozenset({"gpu"}),
                                                Runtime.TVM: frozenset({"cpu", "gpu", "npu"}),
                                                Runtime.TFLM: frozenset({"npu"})}


def resolve_runtime(runtime: Runtime | str | None, device_kind: str, device: str = "") -> Runtime:
    """``"auto"`` (or None) -> the device kind's default (:func:`default_runtime`), else the named runtime.

    Raises
    ------
    InputError
        The named runtime does not run on ``device_kind`` (:data:`RUNTIME_KINDS`): its figures would be another
        device kind's (until 2026-12-03 ``--runtime torch-cudagraph`` on a CPU sheet priced a cuBLAS workspace).
    """
    if runtime in (None, "auto"):
        return default_runtime(device_kind)
    rt = Runtime(runtime)
    if device_kind not in RUNTIME_KINDS[rt]:
        from hybridperf.errors import InputError

        fits = [r.value for r, kinds in RUNTIME_KINDS.items() if device_kind in kinds]
        raise InputError(f"--runtime {rt.value} runs on {' / '.join(sorted(RUNTIME_KINDS[rt]))} devices and "
                         f"{device or 'this device'} is a {device_kind}: use --runtime {' or '.join(fits)}, or leave "
                         f"it out (auto: {default_runtime(device_kind).value})")
    return rt


def memory_figure(pred: Any) -> str:
    """Which peak ``pred.peak_memory_bytes`` is (what ``predict``'s headline, ``check --max-memory``, the capacity
    warning and ``mig`` judge): ``"onnxruntime peak"``, ``"torch peak"``, ``"tvm peak"``, or ``"TVM plan peak"``
    (no runtime asked for, or the runtime's model does not apply: then the reason follows)."""
    rt = getattr(pred, "runtime_memory", None)
    if rt is not None:
        return f"{rt.runtime} peak"
    runtime, why = getattr(pred, "runtime", None), getattr(pred, "runtime_memory_note", "")
    if runtime is not None and why:
        return f"TVM plan peak ({runtime}'s not modelled: {why})"
    return "TVM plan peak"


def peak_kind(pred: Any) -> str:
    """What ``pred.peak_memory_bytes`` is, for every place that prints or stores it: ``"unknown"`` (None: no plan),
    ``"estimate"`` (the runtime's peak rests on guessed sizes, :attr:`RuntimePeak.unsized_ops`: neither exact nor a
    bound), ``"lower_bound"`` (built on a plan whose uncosted ops' outputs are not sized) or ``"exact"``."""
    if pred.peak_memory_bytes is None:
        return "unknown"
    rt = getattr(pred, "runtime_memory", None)
    if rt is not None and rt.unsized_ops:
        return "estimate"
    return "lower_bound" if pred.memory.known and pred.analyzed.memory_is_lower_bound else "exact"


def with_runtime(pred: Any, runtime: Runtime | str | None = "auto") -> Any:
    """``pred`` with its peak memory on ``runtime`` attached (``runtime``, ``runtime_memory``,
    ``runtime_memory_note`` of :class:`hybridperf.estimate.pricing.Prediction`); where the runtime's model does not
    apply, the note says why and the TVM plan's peak stands."""
    from dataclasses import replace

    rt = resolve_runtime(runtime, pred.spec.kind, pred.spec.id)
    peak, why = runtime_peak(pred, rt)
    return replace(pred, runtime=rt.value, runtime_memory=peak, runtime_memory_note=why)


__all__ = [
    "Runtime", "RuntimePeak", "DEFAULT_RUNTIME_BY_KIND", "default_runtime",
    "OrtActivationPlan", "OrtFeatures", "ort_optimized_model", "ort_tensor_shapes", "ort_activation_plan",
    "ort_execution_orders",
    "ort_resident_initializer_bytes", "malloc_resident_bytes", "ort_kernel_scratch_bytes", "ConvSymKernel", "conv_sym_kernel", "ort_features", "onnxruntime_peak", "nchwc_block", "bfc_arena_reserved_bytes",
    "cuda_block_bytes", "blas_workspace_bytes", "EagerOp", "EagerActivationPlan", "torch_eager_activations",
    "branch_input_holds", "cudnn_nhwc_workspace_bytes", "conv_workspace_bytes",
    "fuse_torch_activations", "transformer_layer_holds", "eager_ops", "torch_eager_activation_bytes",
    "torch_cuda_peak", "tvm_peak", "tflm_peak", "host_isa", "ORT_ASSUMED_ISA", "ort_isa", "ort_layout_note", "bind_input_shapes", "runtime_peak",
    "RUNTIME_KINDS", "resolve_runtime", "with_runtime", "memory_figure", "peak_kind",
]
