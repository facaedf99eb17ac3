"""Make exported ONNX graphs importable: bind input shapes, fold shape subgraphs.

Models exported by ``torch.onnx.export`` (legacy TorchScript and dynamo
exporters) compute reshape targets, pads, slice bounds and expand shapes at run
time from ``Shape`` nodes (``Shape -> Gather -> Unsqueeze -> Concat ->
Reshape``). Once every input shape is fixed these subgraphs are constants, but
TVM's Relax ONNX frontend folds only some of them and then fails with
"Dynamic pads are not supported yet", "Reshape requires the input new shape to
be Shape ... TensorType" or "Reshape expects the input tensor to have known
shape". :func:`normalize` binds the shapes and folds those subgraphs into
initializers so that the frontend sees static shapes everywhere.

Method
------
The folding is done with onnx itself (already a core dependency): onnx shape
inference with data propagation gives static shapes, ``Shape``/``Size`` of a
statically shaped tensor become constants, and every node whose inputs are all
(small) constants is evaluated -- with numpy for the dozen ops that make up
shape arithmetic, and with ``onnx.reference`` (the ONNX reference
implementation, maintained with the spec) for any other standard op -- except
float matrix products and convolutions (:data:`_RUN_EVERY_CALL`): no shape
depends on them, and a runtime without constant folding (eager PyTorch) runs
them every call, so they reach the cost pass, which prices them per runtime
(:func:`hybridperf.estimate.pricing.as_run_by`). This was chosen over the
alternatives:

* onnxruntime ``ORT_ENABLE_BASIC`` + ``optimized_model_filepath`` folds the
  same subgraphs, but needs the whole model serialised, parsed, optimised,
  written to disk and read back (two extra copies of the weights, external
  data files for models above 2 GB), refuses models with any op it does not
  know (custom domains -- exactly the models :func:`unsupported_ops` must
  describe), also rewrites cost-relevant structure (Conv+BN fusion, Identity
  and Dropout removal), and would turn onnxruntime into a core dependency.
* onnxsim / onnxslim are on PyPI but add a dependency (onnxsim with a native
  extension and onnxruntime underneath) for the same result, and both
  re-serialise or copy the model through their own IR.

Measured on a 2-core CPU, DistilBERT-base legacy export (265 MB, 310 nodes):
onnxruntime basic round trip 5.2 s (and it fused MatMul+Add into Gemm);
this module 0.35 s (310 -> 201 nodes), plus 1.4 s for TVM's import.
* The method here never serialises the weights: shape inference runs on a
  *skeleton* model whose large initializers are stubs (dims and dtype only),
  weights stay where they are (in memory or external), and only tensors with
  at most ``max_fold_elements`` elements are ever materialised. Folding is
  deliberately conservative: quantize/dequantize (the QDQ pattern the cost
  pass recognises), random ops, control flow and non-standard domains are
  never folded. Nodes that become dead are removed; nothing else changes, so
  the imported graph costs what the exported one costs.

Large models: load them with ``onnx.load(path, load_external_data=False)`` and
pass ``inplace=True``; initializers stored as external data are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
import heapq
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from hybridperf.errors import DynamicShapeError, InputError
from hybridperf.frontends.onnx_dtype import onnx_dtype_name
from hybridperf.precision import tensor_bytes
from hybridperf.units import check_shape_flags, dims_text, numel

#: the largest tensor a shape may make: a 48-bit virtual address space (256 TiB), what x86-64 and
#: ARMv8 processes and CUDA's unified address space can map; beyond it a shape is absurd (and
#: byte counts near 2^63 overflow TVM's int64 arithmetic)
MAX_TENSOR_BYTES = 2**48


def check_input_size(name: str, dims: Iterable[int], elem_type: int, flag: str = "--shape") -> None:
    """Refuse a bound input larger than :data:`MAX_TENSOR_BYTES` (:class:`InputError`, exit 2)."""
    dims = tuple(dims)
    try:
        nbytes = tensor_bytes(onnx_dtype_name(elem_type), numel(dims))
    except (KeyError, TypeError, ValueError):
        nbytes = 0
    nbytes = nbytes or numel(dims)  # an unknown element size: one byte each
    if nbytes > MAX_TENSOR_BYTES:
        raise InputError(
            f"{flag} {name}={dims_text(dims)} is {nbytes:.3g} B, more than the 2^48 B (256 TiB) "
            "any device can address; bind a smaller shape"
        )

__all__ = [
    "METHOD",
    "FoldedWork",
    "NormalizeResult",
    "bind_input_shapes",
    "check_computes",
    "check_graph",
    "check_supported",
    "data_dependent_shape_ops",
    "default_opset",
    "normalize",
    "real_inputs",
    "unsupported_ops",
]

#: name of the folding method recorded in :class:`NormalizeResult`
METHOD = "onnx-shape-inference+constant-folding"

#: largest tensor (elements) that folding materialises; larger stays a node
DEFAULT_MAX_FOLD_ELEMENTS = 1 << 20

#: initializers above this many bytes are stubbed out of the shape-inference skeleton
_SKELETON_MAX_BYTES = 4096

#: at most this many infer-and-fold rounds (a round only repeats when it folded something)
_MAX_ROUNDS = 64

_DEFAULT_DOMAINS = frozenset({"", "ai.onnx"})

#: the ``ai.onnx`` opset the constant folder evaluates a node at in a model that imports none
_FOLD_OPSET = 17


def default_opset(model: onnx.ModelProto) -> int | None:
    """The model's ``ai.onnx`` opset version (its ``opset_import`` entry of domain ``""`` or ``"ai.onnx"``, the
    last where it lists both), or None where it imports none. The one reading of it: the constant folder and the
    TVM import (:func:`hybridperf.frontends.onnx_import.from_onnx`) each take it from here."""
    found = None
    for imp in model.opset_import:
        if (imp.domain or "") in _DEFAULT_DOMAINS:
            found = imp.version
    return found

#: ops never folded, with the reason
_NO_FOLD = {
    "QuantizeLinear": "kept so the cost pass sees the int8 QDQ pattern",
    "DequantizeLinear": "kept so the cost pass sees the int8 QDQ pattern",
    "DynamicQuantizeLinear": "kept so the cost pass sees the int8 QDQ pattern",
    "RandomNormal": "not deterministic",
    "RandomUniform": "not deterministic",
    "RandomNormalLike": "not deterministic",
    "RandomUniformLike": "not deterministic",
    "Multinomial": "not deterministic",
    "Bernoulli": "not deterministic",
    "If": "control flow",
    "Loop": "control flow",
    "Scan": "control flow",
}

#: float ops with constant inputs that stay nodes, with the reason: no shape or index depends on them (folding them
#: is never needed for import), and a runtime that runs the graph as written computes them every call (a GRU or LSTM
#: from a zero initial state: ``h0 @ W_hh``, folded here, and so free under eager PyTorch, until 2026-12-04); the cost
#: pass prices them folded for onnxruntime and TVM (which fold them at load time) and run for eager PyTorch
_RUN_EVERY_CALL = {
    op: "float arithmetic that eager PyTorch runs every call; the cost pass prices it per runtime"
    for op in ("MatMul", "Gemm", "Conv", "ConvTranspose", "Einsum")
}

#: domains whose op names the TVM frontend looks up in its converter map; it
#: ignores the domain, so ops of any other domain would be converted by name
#: with the wrong semantics and are reported as unsupported instead
_TVM_DOMAINS = frozenset({"", "ai.onnx", "com.microsoft"})

#: ops the TVM frontend handles outside its converter map
_TVM_DIRECT_OPS = frozenset({"If", "Constant"})

#: folded ops that launch no kernel in eager PyTorch, with the reason (:class:`FoldedWork` leaves them out; the
#: ONNX twin of :data:`hybridperf.estimate.torch_eager.TORCH_VIEW_OPS` and its host-side values)
_FOLDED_NO_KERNEL = {
    "Constant": "a literal or a buffer: nothing computed",
    "Identity": "no copy",
    "Shape": "a Python int tuple in PyTorch",
    "Size": "a Python int in PyTorch",
    **{op: "a view of its first input in PyTorch: no kernel" for op in
       ("Reshape", "Squeeze", "Unsqueeze", "Flatten", "Expand", "Slice", "Split")},
    # until 2026-12-04 counted as a kernel (swin_t: its window-partition permutes of constant index tables)
    "Transpose": "a view (permute) of its input in PyTorch: no kernel",
}
#: largest integer tensor a folded op may write and still be shape arithmetic, at any rank (a shape vector, or a
#: (2, 4) int64 pads table): PyTorch computes it on the host in Python ints. Until 2026-12-04 only at rank <= 1, so
#: the pads arithmetic of swin_t's window padding counted as kernels
_HOST_VECTOR_ELEMENTS = 8


def _reads_no_values(op_type: str, position: int) -> bool:
    """Whether input ``position`` of an ``op_type`` node is read for no values eager PyTorch computes: a ``Shape`` /
    ``Size`` (a tensor's shape is known without its values), a ``ScatterND``'s indices and updates (a slice
    assignment's index grid and fill value: eager PyTorch fills a view)."""
    return op_type in ("Shape", "Size") or (op_type == "ScatterND" and position in (1, 2))


#: the Relax op TVM's ONNX importer writes for a folded node's op type, so that a runtime that runs it every call
#: prices its kernel as it prices that op's (:func:`hybridperf.estimate.pricing.as_run_by`: the cross-device model's
#: element-wise types where the op maps, the roofline else); an op type not listed is ``onnx.<op type>``
FOLDED_RELAX_OPS = {
    "Add": "relax.add", "Sub": "relax.subtract", "Mul": "relax.multiply", "Div": "relax.divide", "Pow": "relax.power",
    "Neg": "relax.negative", "Abs": "relax.abs", "Relu": "relax.nn.relu", "Clip": "relax.clip",
    "Max": "relax.maximum", "Min": "relax.minimum", "Sqrt": "relax.sqrt", "Exp": "relax.exp", "Log": "relax.log",
    "Tanh": "relax.tanh", "Sigmoid": "relax.sigmoid", "Erf": "relax.erf", "Cos": "relax.cos", "Sin": "relax.sin",
    "Floor": "relax.floor", "Ceil": "relax.ceil", "Where": "relax.where", "Cast": "relax.astype",
    "Equal": "relax.equal", "Less": "relax.less", "LessOrEqual": "relax.less_equal", "Greater": "relax.greater",
    "GreaterOrEqual": "relax.greater_equal", "And": "relax.logical_and", "Or": "relax.logical_or",
    "Not": "relax.logical_not", "Range": "relax.arange", "ConstantOfShape": "relax.full", "Gather": "relax.take",
    "ScatterND": "relax.scatter_nd", "Concat": "relax.concat", "Tile": "relax.tile",
}


@dataclass(frozen=True)
class FoldedNode:
    """One folded node that eager PyTorch runs as a kernel every call (:func:`folded_work`): values only.

    Attributes
    ----------
    op_type : str
        Its ONNX op type.
    name : str
        Its first output's name (what the report calls its kernel).
    inputs, outputs : tuple of (shape, dtype)
        Each input (empty inputs left out) and output: its shape and numpy dtype name (``float32``, ``int64``,
        ``bool``), which are Relax's names too.
    """

    op_type: str
    name: str
    inputs: tuple[tuple[tuple[int, ...], str], ...]
    outputs: tuple[tuple[tuple[int, ...], str], ...]

    @property
    def relax_op(self) -> str:
        """The Relax op the importer writes for it (:data:`FOLDED_RELAX_OPS`), or ``onnx.<op type>``."""
        return FOLDED_RELAX_OPS.get(self.op_type, f"onnx.{self.op_type}")

    @property
    def elements(self) -> int:
        return sum(numel(s) for s, _ in self.outputs)

    @property
    def bytes_read(self) -> int:
        return sum(tensor_bytes(d, numel(s)) for s, d in self.inputs)

    @property
    def bytes_written(self) -> int:
        return sum(tensor_bytes(d, numel(s)) for s, d in self.outputs)


@dataclass(frozen=True)
class FoldedWork:
    """The work of the folded nodes that eager PyTorch would compute every call as kernels: causal masks, rotary
    ``Cos``/``Sin`` tables, T5's relative-position buckets, position-embedding lookups. Left out: what launches no
    kernel there (:data:`_FOLDED_NO_KERNEL`: constants, views, ``Shape``), a cast to the dtype it already has, and
    shape arithmetic (every output a scalar or an integer tensor of at most :data:`_HOST_VECTOR_ELEMENTS`
    elements, at any rank: Python ints in PyTorch), and what only a slice assignment's index grid or a shape reads
    (:meth:`_Folder.work`). onnxruntime and TVM fold the same subgraphs at load time, so their figures leave it out;
    eager PyTorch and its CUDA graphs run each node as one launch, which
    :func:`hybridperf.estimate.pricing.as_run_by` prices from :attr:`kernels` (until 2026-12-05 no runtime priced it:
    a note said so).

    It counts the normaliser's folds only, so it depends on how the model was read: from a file path, initializers
    over :data:`hybridperf.frontends.onnx_import.INLINE_EXTERNAL_BYTES` stay on disk and the normaliser does not
    fold what reads them (TVM's Relax importer folds those later, uncounted); from an in-memory ``ModelProto``
    every initializer is there to fold. A BERT-base's position-embedding lookup: 0 nodes from its path, 1 from
    ``onnx.load(path)``.

    Attributes
    ----------
    nodes : int
        Folded nodes that compute a tensor.
    elements : int
        Elements they write (about one operation each: these are element-wise ops, casts and gathers).
    bytes_read, bytes_written : int
        Bytes of their inputs and outputs.
    kernels : tuple of FoldedNode
        Each of those nodes, in fold order (a topological order). Equality and hash are the totals' (a
        :class:`FoldedWork` built from totals alone, as before 2026-12-05, has none: it is reported, not priced).
    """

    nodes: int = 0
    elements: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    kernels: tuple[FoldedNode, ...] = field(default=(), compare=False, repr=False)

    def __add__(self, other: FoldedWork) -> FoldedWork:
        return FoldedWork(self.nodes + other.nodes, self.elements + other.elements,
                          self.bytes_read + other.bytes_read, self.bytes_written + other.bytes_written,
                          self.kernels + other.kernels)

    @property
    def priced(self) -> bool:
        """Whether every node is kept as a :class:`FoldedNode` (what a runtime that runs them prices)."""
        return len(self.kernels) == self.nodes

    def to_dict(self) -> dict[str, int]:
        """The totals (``predict --format json``'s ``totals.folded_constants``)."""
        return {"nodes": self.nodes, "elements": self.elements, "bytes_read": self.bytes_read,
                "bytes_written": self.bytes_written}


def folded_work(node: onnx.NodeProto, inputs: Sequence[np.ndarray | None], outputs: Sequence[np.ndarray]) -> FoldedWork:
    """What folding ``node`` (its constant ``inputs`` and ``outputs``) saves a runtime that runs the graph as
    written: one kernel's work, or nothing where eager PyTorch launches no kernel for it (:class:`FoldedWork`)."""
    if node.op_type in _FOLDED_NO_KERNEL:
        return FoldedWork()
    ins = [v for v in inputs if v is not None]
    if node.op_type == "Cast" and ins and all(o.dtype == ins[0].dtype for o in outputs):
        return FoldedWork()  # Tensor.to(its own dtype) returns self
    if all(o.size <= 1 or (o.dtype.kind in "iub" and o.size <= _HOST_VECTOR_ELEMENTS) for o in outputs):
        return FoldedWork()  # shape arithmetic and scalars: host-side values in PyTorch
    kernel = FoldedNode(node.op_type, next((o for o in node.output if o), node.op_type),
                        tuple((tuple(int(d) for d in v.shape), v.dtype.name) for v in ins),
                        tuple((tuple(int(d) for d in o.shape), o.dtype.name) for o in outputs))
    return FoldedWork(1, kernel.elements, kernel.bytes_read, kernel.bytes_written, (kernel,))


@dataclass(frozen=True)
class NormalizeResult:
    """Outcome of :func:`normalize`.

    Attributes
    ----------
    model : onnx.ModelProto
        The normalised model: static input shapes, shape subgraphs folded.
    nodes_before : int
        Node count of the input model (top-level graph).
    nodes_after : int
        Node count of the normalised model.
    folded_op_types : tuple of (str, int)
        ``(op_type, count)`` of every folded node, most frequent first.
    dead_nodes_removed : int
        Nodes removed because nothing used their outputs after folding.
    input_shapes : dict
        Bound shape of every real graph input.
    method : str
        Folding method (:data:`METHOD`).
    folded : FoldedWork
        The work of the folded nodes a runtime without constant folding (eager PyTorch) computes every call.
    """

    model: onnx.ModelProto
    nodes_before: int
    nodes_after: int
    folded_op_types: tuple[tuple[str, int], ...]
    dead_nodes_removed: int
    input_shapes: Mapping[str, tuple[int, ...]]
    method: str = METHOD
    folded: FoldedWork = FoldedWork()

    @property
    def nodes_folded(self) -> int:
        """Number of nodes replaced by initializers."""
        return sum(n for _, n in self.folded_op_types)


# --------------------------------------------------------------------------- shapes


def real_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """Graph inputs that are not initializers.

    Parameters
    ----------
    model : onnx.ModelProto
        Any ONNX model; old exporters list every weight as a graph input too.

    Returns
    -------
    list of onnx.ValueInfoProto
        The inputs a caller has to feed.
    """
    init = {t.name for t in model.graph.initializer}
    init.update(t.values.name for t in model.graph.sparse_initializer)
    return [i for i in model.graph.input if i.name not in init]


def _dims(vi: onnx.ValueInfoProto) -> list[Any] | None:
    """Dims of a value info: int for a static dim, str (param or '?') otherwise; None for unknown rank."""
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    out: list[Any] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        else:
            out.append(d.dim_param or "?")
    return out


def _example(name: str, dims: list[Any] | None) -> str:
    if dims is None:
        return f"--shape {name}=1x3x224x224"
    parts = [str(d) if isinstance(d, int) and d > 0 else "N" for d in dims]
    return f"--shape {name}={'x'.join(parts) or '1'}"


def _bind_in_place(
    model: onnx.ModelProto, shapes: Mapping[str, Iterable[int]] | None, batch: int | None
) -> dict[str, tuple[int, ...]]:
    inputs = real_inputs(model)
    shapes = check_shape_flags({vi.name: _dims(vi) for vi in inputs}, shapes, batch)

    # symbolic dim name -> value, shared between inputs ("batch", "sequence")
    params: dict[str, int] = {}
    for vi in inputs:
        dims = _dims(vi)
        if vi.name in shapes:
            for d, w in zip(dims or [], shapes[vi.name]):
                if isinstance(d, str) and d != "?":
                    params.setdefault(d, w)
        elif dims and batch is not None and isinstance(dims[0], str) and dims[0] != "?":
            params.setdefault(dims[0], batch)

    out: dict[str, tuple[int, ...]] = {}
    for vi in inputs:
        if vi.type.WhichOneof("value") != "tensor_type":
            raise InputError(f"input {vi.name!r} is not a tensor; only tensor inputs are supported: "
                             "re-export the model with tensor inputs (a sequence or optional input as its tensors)")
        if vi.type.tensor_type.elem_type == onnx.TensorProto.STRING:
            raise InputError(
                f"input {vi.name!r} is a string tensor, which TVM cannot represent; export the model from its "
                "first numeric tensor on (e.g. token ids after the tokenizer)"
            )
        if vi.type.tensor_type.elem_type in _COMPLEX_TYPES:
            # until 2026-12-04 a complex input ended the process with SIGSEGV (exit 139) inside TVM's importer
            raise InputError(
                f"input {vi.name!r} is a {_COMPLEX_TYPES[vi.type.tensor_type.elem_type]} tensor, which TVM cannot "
                "represent; export the model with the real and imaginary parts as two float inputs"
            )
        dims = _dims(vi)
        if vi.name in shapes:
            bound = list(shapes[vi.name])
        elif dims is None:
            raise DynamicShapeError(
                f"input {vi.name!r} has unknown rank; bind it with {_example(vi.name, None)}"
            )
        else:
            bound = []
            for i, d in enumerate(dims):
                if isinstance(d, int) and d > 0:
                    bound.append(d)
                elif isinstance(d, str) and d in params:
                    bound.append(params[d])
                elif i == 0 and batch is not None:
                    bound.append(batch)
                else:
                    flag = _example(vi.name, dims)
                    if i == 0:
                        flag = f"--batch N or {flag}"
                    what = f"is {d} (empty, or unknown in this export)" if isinstance(d, int) else f"({d!r}) is symbolic"
                    raise DynamicShapeError(f"input {vi.name!r} dim {i} {what}; bind it with {flag}")
        check_input_size(vi.name, bound, vi.type.tensor_type.elem_type, "--shape" if vi.name in shapes else "input")
        _set_shape(vi, bound)
        out[vi.name] = tuple(bound)

    # stale symbolic dims elsewhere would only conflict with inference
    for vi in list(model.graph.output) + list(model.graph.value_info):
        tt = vi.type.tensor_type
        if tt.HasField("shape"):
            for d in tt.shape.dim:
                if d.HasField("dim_param") and d.dim_param in params:
                    d.dim_value = params[d.dim_param]
    return out


#: ONNX complex element types (TVM has no complex dtype), by name
_COMPLEX_TYPES = {onnx.TensorProto.COMPLEX64: "complex64", onnx.TensorProto.COMPLEX128: "complex128"}


def _set_shape(vi: onnx.ValueInfoProto, dims: list[int]) -> None:
    tt = vi.type.tensor_type
    tt.ClearField("shape")
    shape = tt.shape
    shape.SetInParent()
    for d in dims:
        shape.dim.add().dim_value = int(d)


def bind_input_shapes(
    model: onnx.ModelProto,
    shapes: Mapping[str, Iterable[int]] | None = None,
    batch: int | None = None,
) -> onnx.ModelProto:
    """Return a copy of ``model`` whose real inputs all have static shapes.

    Parameters
    ----------
    model : onnx.ModelProto
        Model to bind; not modified.
    shapes : dict of str to tuple of int, optional
        Full shape per input name (``--shape NAME=1x3x224x224``). A symbolic
        dim name bound here (``"sequence"``) is bound in every input using it.
    batch : int, optional
        Value of the first dim of every input whose first dim is symbolic
        (``--batch N``).

    Returns
    -------
    onnx.ModelProto
        The bound copy. Initializers listed as graph inputs are left alone.

    Raises
    ------
    DynamicShapeError
        A dim is still symbolic; the message names input, dim and flag.
    InputError
        ``shapes`` names an unknown input, has the wrong rank or contradicts a
        static dim.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    _bind_in_place(out, shapes, batch)
    return out


# --------------------------------------------------------------------------- folding


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _axes(node: onnx.NodeProto, vals: list[np.ndarray | None], attrs: dict[str, Any]) -> list[int] | None:
    if len(vals) > 1 and vals[1] is not None:
        return [int(a) for a in np.asarray(vals[1]).reshape(-1)]
    if "axes" in attrs:
        return [int(a) for a in attrs["axes"]]
    return None


def _np_unsqueeze(node, vals, attrs):
    axes = _axes(node, vals, attrs)
    x = vals[0]
    rank = x.ndim + len(axes)
    axes = sorted(a % rank for a in axes)
    for a in axes:
        x = np.expand_dims(x, a)
    return [x]


def _np_squeeze(node, vals, attrs):
    axes = _axes(node, vals, attrs)
    x = vals[0]
    if axes is None:
        return [np.squeeze(x)]
    return [np.squeeze(x, axis=tuple(a % x.ndim for a in axes))]


def _np_gather(node, vals, attrs):
    x, idx = vals[0], vals[1].astype(np.int64)
    axis = int(attrs.get("axis", 0))
    idx = np.where(idx < 0, idx + x.shape[axis], idx)
    return [np.take(x, idx, axis=axis)]


def _np_concat(node, vals, attrs):
    return [np.concatenate(vals, axis=int(attrs["axis"]))]


def _np_identity(node, vals, attrs):
    return [vals[0]]


def _np_cast(node, vals, attrs):
    to = int(attrs["to"])
    if to in (onnx.TensorProto.BFLOAT16, onnx.TensorProto.STRING) or to >= onnx.TensorProto.FLOAT8E4M3FN:
        return None
    return [vals[0].astype(onnx.helper.tensor_dtype_to_np_dtype(to))]


def _np_int_binary(fn):
    def run(node, vals, attrs):
        a, b = vals
        if a.dtype.kind not in "iu" or b.dtype.kind not in "iu":
            return None  # float semantics (nan, rounding) left to onnx.reference
        return [np.asarray(fn(a, b)).astype(a.dtype)]

    return run


#: numpy fast paths for shape arithmetic; None from a path means "use onnx.reference"
_FAST = {
    "Gather": _np_gather,
    "Concat": _np_concat,
    "Unsqueeze": _np_unsqueeze,
    "Squeeze": _np_squeeze,
    "Identity": _np_identity,
    "Cast": _np_cast,
    "Add": _np_int_binary(np.add),
    "Sub": _np_int_binary(np.subtract),
    "Mul": _np_int_binary(np.multiply),
}


class _Folder:
    """One model's constant table and the node evaluator."""

    def __init__(self, model: onnx.ModelProto, max_elements: int) -> None:
        self.max_elements = max_elements
        opset = default_opset(model)
        self.opset = _FOLD_OPSET if opset is None else opset
        self.inits = {t.name: t for t in model.graph.initializer}
        self.consts: dict[str, np.ndarray] = {}
        self.new: dict[str, np.ndarray] = {}  # folded values, to become initializers
        #: each folded node in fold order (a topological order): op type, inputs, outputs, :func:`folded_work`
        self.folds: list[tuple[str, tuple[str, ...], tuple[str, ...], FoldedWork]] = []

    def value(self, name: str) -> np.ndarray | None:
        if name in self.consts:
            return self.consts[name]
        t = self.inits.get(name)
        if t is None or t.data_location == onnx.TensorProto.EXTERNAL:
            return None
        if numel(t.dims) > self.max_elements or t.data_type == onnx.TensorProto.STRING:
            return None
        try:
            arr = numpy_helper.to_array(t)
        except Exception:  # noqa: BLE001 - malformed or exotic dtype: just not a constant
            return None
        self.consts[name] = arr
        return arr

    def fold(self, node: onnx.NodeProto, shapes: Mapping[str, tuple[int, ...]]) -> bool:
        """Evaluate ``node`` if it is constant; record its outputs and return True."""
        if (node.domain or "") not in _DEFAULT_DOMAINS or node.op_type in _NO_FOLD:
            return False
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            return False
        outs: list[np.ndarray] | None
        vals: list[np.ndarray | None] = []
        if node.op_type in ("Shape", "Size"):
            shape = shapes.get(node.input[0])
            if shape is None:
                return False
            if node.op_type == "Size":
                outs = [np.array(numel(shape), dtype=np.int64)]
            else:
                a = _attrs(node)
                start, end = a.get("start", 0), a.get("end", None)
                outs = [np.array(shape[start:end], dtype=np.int64)]
        else:
            for name in node.input:
                if name == "":
                    vals.append(None)
                    continue
                v = self.value(name)
                if v is None:
                    return False
                vals.append(v)
            if node.op_type in _RUN_EVERY_CALL and any(v is not None and v.dtype.kind in "fc" for v in vals):
                return False
            if not node.input and node.op_type != "Constant":
                return False
            outs = self._evaluate(node, vals)
        if outs is None or len(outs) != len(node.output):
            return False
        arrays: list[np.ndarray] = []
        for o in outs:
            if not isinstance(o, np.ndarray) and not np.isscalar(o):
                return False
            o = np.asarray(o)
            if o.dtype == object or o.size > self.max_elements:
                return False
            arrays.append(o)
        for name, arr in zip(node.output, arrays):
            if name:
                self.consts[name] = arr
                self.new[name] = arr
        self.folds.append((node.op_type, tuple(node.input), tuple(node.output), folded_work(node, vals, arrays)))
        return True

    def work(self, read_elsewhere: set[str]) -> FoldedWork:
        """The work of the folded nodes (:class:`FoldedWork`) whose values something uses, less the index
        arithmetic of slice assignments. An export writes ``mask[a:b, c:d] = v`` as ``Range`` / ``Slice`` / ``Add``
        index grids (broadcast through ``Shape`` / ``Expand``) and a ``ConstantOfShape`` of ``v`` feeding a
        ``ScatterND``; eager PyTorch runs one fill kernel on a view, the ``ScatterND``'s. So a folded node counts
        where a node left in the graph or a graph output reads it (``read_elsewhere``), or a counted folded node
        reads its values: not as a ``ScatterND``'s indices or updates, not through ``Shape`` / ``Size`` (which read
        no values). One no node reads at all counts (the export computed it). Until 2026-12-04 every folded node
        counted: swin_t's 5 shifted-window masks gave 305 nodes (with the rank-2 shape arithmetic and permutes, 325),
        80 now (16 a mask: a zero fill, 9 region fills, the subtraction and its two masked fills)."""
        readers: dict[str, list[tuple[int, int]]] = {}
        for j, (_, ins, _, _) in enumerate(self.folds):
            for pos, name in enumerate(ins):
                readers.setdefault(name, []).append((j, pos))
        used: set[int] = set()
        for i in range(len(self.folds) - 1, -1, -1):  # readers come after their producers
            outs = [o for o in self.folds[i][2] if o]
            uses = [u for o in outs for u in readers.get(o, ())]
            if (not uses or any(o in read_elsewhere for o in outs) or any(
                    j in used and not _reads_no_values(self.folds[j][0], pos) for j, pos in uses)):
                used.add(i)
        return sum((self.folds[i][3] for i in sorted(used)), FoldedWork())

    def _evaluate(self, node: onnx.NodeProto, vals: list[np.ndarray | None]) -> list[Any] | None:
        fast = _FAST.get(node.op_type)
        # shape arithmetic evaluates what the runtime would: log(0) = -inf cast to int64 (T5's relative position
        # buckets, masked out by a Where) is ONNX's result too, so numpy's RuntimeWarnings would be noise on the
        # API user's stderr (until 2026-12-03 they leaked from every T5 export)
        try:
            with np.errstate(all="ignore"):
                if fast is not None and all(v is not None for v in vals[:1]):
                    res = fast(node, vals, _attrs(node))
                    if res is not None:
                        return res
                from onnx.reference import ReferenceEvaluator  # noqa: PLC0415 - ~0.3 s, only when needed

                feeds = {n: v for n, v in zip(node.input, vals) if n}
                ev = ReferenceEvaluator(node, opsets={"": self.opset})
                return list(ev.run(None, feeds))
        except Exception:  # noqa: BLE001 - an op we cannot evaluate simply stays a node
            return None


def _small(t: onnx.TensorProto) -> bool:
    """Whether ``t`` holds at most :data:`_SKELETON_MAX_BYTES` (decided from dims first).

    ``ByteSize()`` walks the payload of the message; on a 400 MB model the
    calls on the weights alone took 0.4 s, so large tensors are recognised
    from their element count without touching their data.
    """
    if numel(t.dims) > _SKELETON_MAX_BYTES:  # every dtype has at least one byte per element
        return False
    return t.ByteSize() <= _SKELETON_MAX_BYTES


def _skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    """Copy of ``model`` with large initializers replaced by data-less stubs."""
    sk = onnx.ModelProto()
    sk.ir_version = model.ir_version
    sk.opset_import.extend(model.opset_import)
    sk.functions.extend(model.functions)
    g = sk.graph
    src = model.graph
    g.name = src.name
    g.input.extend(src.input)
    g.output.extend(src.output)
    # a file's value_info is a hint, and sometimes a wrong one (onnxruntime's float16 converter writes
    # rank 0 for 1-D shape tensors): onnx infers the standard ops' outputs itself, so only the outputs of
    # custom-domain ops, which it cannot infer, keep theirs
    custom = {o for n in src.node if (n.domain or "") not in _DEFAULT_DOMAINS for o in n.output}
    g.value_info.extend(vi for vi in src.value_info if vi.name in custom)
    g.node.extend(src.node)
    for t in src.initializer:
        _add_to_skeleton(g, t)
    return sk


def _add_to_skeleton(g: onnx.GraphProto, t: onnx.TensorProto) -> None:
    """Give the skeleton graph ``g`` initializer ``t``: itself when small, else a data-less stub."""
    if t.data_location != onnx.TensorProto.EXTERNAL and _small(t):
        g.initializer.append(t)
        return
    stub = g.initializer.add()
    stub.name = t.name
    stub.data_type = t.data_type
    stub.dims.extend(t.dims)
    stub.data_location = onnx.TensorProto.EXTERNAL
    entry = stub.external_data.add()
    entry.key, entry.value = "location", "__hybridperf_stub__"


def _taken_branch(node: onnx.NodeProto, folder: _Folder) -> onnx.GraphProto | None:
    """The branch an ``If`` node takes when its condition is a constant (exporters compute it from
    shapes, which binding made static); None when the condition is a run-time value."""
    if node.op_type != "If" or (node.domain or "") not in _DEFAULT_DOMAINS or not node.input:
        return None
    cond = folder.value(node.input[0])
    if cond is None or cond.size != 1:
        return None
    branch = next((a.g for a in node.attribute if a.name == ("then_branch" if bool(cond.reshape(-1)[0]) else "else_branch")), None)
    if branch is None or len(branch.sparse_initializer) or len(branch.output) != len(node.output):
        return None
    return branch


def _inline_branch(node: onnx.NodeProto, branch: onnx.GraphProto, out: onnx.ModelProto, sk: onnx.ModelProto,
                   folder: _Folder) -> list[onnx.NodeProto]:
    """The nodes that replace ``node`` by its taken ``branch``: the branch's nodes, then an ``Identity``
    per output (ONNX names are unique across subgraphs, so nothing is renamed). The branch's
    initializers join the model's (``out``), the skeleton's and the folder's."""
    for t in branch.initializer:
        out.graph.initializer.append(t)
        folder.inits[t.name] = out.graph.initializer[-1]
        _add_to_skeleton(sk.graph, t)
    nodes = [onnx.NodeProto() for _ in branch.node]
    for copy, n in zip(nodes, branch.node):
        copy.CopyFrom(n)
    nodes.extend(onnx.helper.make_node("Identity", [b.name], [o], name=f"{node.name or o}__taken_branch{k}")
                 for k, (b, o) in enumerate(zip(branch.output, node.output)) if o)
    return nodes


def _contrib_shapes(sk: onnx.ModelProto, inferred: onnx.ModelProto, static: Mapping[str, tuple[int, ...]]) -> int:
    """Give ``sk`` the static output shapes of its onnxruntime contrib ops (which onnx's inference does
    not know: :func:`hybridperf.frontends.contrib.output_shapes`) where their inputs' are known, so
    that the next round folds the shape arithmetic after them; returns how many were added."""
    from hybridperf.frontends.contrib import SHAPED, output_shapes  # noqa: PLC0415

    have = {vi.name for vi in sk.graph.value_info}
    types: dict[str, int] | None = None
    added = 0
    for node in sk.graph.node:
        if (node.domain or "", node.op_type) not in SHAPED:
            continue
        todo = [o for o in node.output if o and o not in static and o not in have]
        if not todo:
            continue
        if types is None:
            g = inferred.graph
            types = {vi.name: vi.type.tensor_type.elem_type for vi in list(g.input) + list(g.value_info)}
            types.update((t.name, t.data_type) for t in g.initializer)
        elem = types.get(node.input[0]) if node.input else None
        if not elem:
            continue
        shapes = output_shapes(node, [static.get(i) if i else None for i in node.input])
        for name, shape in zip(node.output, shapes):
            if name in todo and shape is not None:
                sk.graph.value_info.append(onnx.helper.make_tensor_value_info(name, elem, list(shape)))
                have.add(name)
                added += 1
    return added


def _infer(sk: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, tuple[int, ...]]]:
    try:
        inferred = onnx.shape_inference.infer_shapes(sk, check_type=False, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - inference is best effort; folding works with what it has
        inferred = sk
    shapes: dict[str, tuple[int, ...]] = {}
    g = inferred.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = _dims(vi)
        if dims is not None and all(isinstance(d, int) for d in dims):
            shapes[vi.name] = tuple(dims)
    for t in g.initializer:
        shapes[t.name] = tuple(t.dims)  # ints already
    return inferred, shapes


def _subgraph_inputs(node: onnx.NodeProto) -> set[str]:
    """Names a node's subgraphs read from the enclosing scope (superset)."""
    names: set[str] = set()
    for a in node.attribute:
        # the type says which field holds graphs (reading ``graphs`` of every attribute builds a
        # container each, and normalisation asks twice per node); UNDEFINED: old files
        t = a.type
        if t == onnx.AttributeProto.GRAPH:
            graphs = [a.g]
        elif t == onnx.AttributeProto.GRAPHS or t == onnx.AttributeProto.UNDEFINED:
            graphs = a.graphs
        else:
            continue
        for sub in graphs:
            for n in sub.node:
                names.update(n.input)
                names.update(_subgraph_inputs(n))
    return names


def _live_nodes(nodes: list[onnx.NodeProto], outputs: Iterable[str]) -> tuple[list[onnx.NodeProto], set[str]]:
    """The nodes that reach ``outputs``, in order, and the names they and ``outputs`` need."""
    needed = set(outputs)
    keep: list[onnx.NodeProto] = []
    for node in reversed(nodes):
        if any(o in needed for o in node.output if o):
            keep.append(node)
            needed.update(i for i in node.input if i)
            needed.update(_subgraph_inputs(node))
    keep.reverse()
    return keep, needed


def normalize(
    model: onnx.ModelProto,
    shapes: Mapping[str, Iterable[int]] | None = None,
    batch: int | None = None,
    *,
    inplace: bool = False,
    max_fold_elements: int = DEFAULT_MAX_FOLD_ELEMENTS,
) -> NormalizeResult:
    """Bind input shapes and fold shape subgraphs and constants into initializers.

    Parameters
    ----------
    model : onnx.ModelProto
        Model to normalise (weights in memory, or external and not loaded).
    shapes, batch
        As in :func:`bind_input_shapes`.
    inplace : bool, default False
        Modify ``model`` instead of a copy; saves one copy of the weights.
    max_fold_elements : int, default 2**20
        Largest tensor (elements) a fold may produce or read.

    Returns
    -------
    NormalizeResult
        The normalised model with before/after node counts and what was folded.

    Raises
    ------
    DynamicShapeError, InputError
        From shape binding.
    """
    out = model
    if not inplace:
        out = onnx.ModelProto()
        out.CopyFrom(model)
    nodes_before = len(out.graph.node)
    _inline_functions(out)
    _sort_topologically(out.graph)
    input_shapes = _bind_in_place(out, shapes, batch)
    folder = _Folder(out, max_fold_elements)
    sk = _skeleton(out)
    inferred, folded = _fold_to_fixpoint(out, sk, folder)
    graph = out.graph
    live, dead, needed = _keep_live(graph, sk, folder)
    _refresh_types(graph, live, inferred)

    counts = tuple(sorted(folded.items(), key=lambda kv: (-kv[1], kv[0])))
    return NormalizeResult(
        model=out,
        nodes_before=nodes_before,
        nodes_after=len(graph.node),
        folded_op_types=counts,
        dead_nodes_removed=dead,
        input_shapes=input_shapes,
        folded=folder.work(needed),
    )


def check_computes(result: NormalizeResult, source: str = "model") -> None:
    """Raise :class:`~hybridperf.errors.ModelLoadError` where the normalised model computes nothing: it lists no
    graph output (every node is dead), or every output is an input or a folded constant (the same refusal
    :func:`~hybridperf.frontends.onnx_import.load_onnx_proto` gives a file without nodes)."""
    from hybridperf.errors import ModelLoadError  # noqa: PLC0415

    graph = result.model.graph
    # until 2026-12-04 both were priced as a confident 0 FLOP model ("coverage 100.0% of ops costed ()")
    if not len(graph.output):
        raise ModelLoadError(f"{source}: its ONNX graph lists no outputs, so no node is needed: nothing to predict; "
                             "re-export the model with its outputs")
    if result.nodes_before and not len(graph.node):
        raise ModelLoadError(
            f"{source}: every output is an input or a constant once constants are folded ({result.nodes_before} "
            f"node{'s' if result.nodes_before != 1 else ''} folded or unused): nothing to predict; "
            "pass a model that computes its outputs"
        )


def _sort_topologically(graph: onnx.GraphProto) -> None:
    """Put ``graph``'s nodes in an order where each comes after the nodes whose outputs it reads.

    ONNX requires that order and onnxruntime does not: ``onnxruntime.transformers.float16.convert_float_to_float16``
    with ``keep_io_types=True`` appends the input's Cast after the nodes that read it, and onnxruntime runs the file.
    The liveness sweep and TVM's frontend read the nodes in file order (until 2026-12-03 such a model exited 2 with
    "import into TVM Relax failed: 'graph_input_cast_0'"). A sorted graph is left untouched; otherwise the order is
    Kahn's, ties kept in file order. Nodes in a cycle, or reading a name nothing defines, keep their file order
    after the rest (the frontend then names the failure).
    """
    nodes = list(graph.node)
    producer: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for o in node.output:
            if o:
                producer.setdefault(o, i)
    deps = [{producer[n] for n in (*node.input, *_subgraph_inputs(node)) if n in producer and producer[n] != i}
            for i, node in enumerate(nodes)]
    if all(d < i for i, ds in enumerate(deps) for d in ds):
        return
    order, _ = _kahn(deps)
    placed = set(order)
    order.extend(i for i in range(len(nodes)) if i not in placed)
    graph.ClearField("node")
    graph.node.extend(nodes[i] for i in order)


def _kahn(deps: Sequence[set[int]]) -> tuple[list[int], list[int]]:
    """Kahn's topological order of nodes ``0..len(deps)-1`` (``deps[i]``: the nodes node ``i`` reads from), ties in
    index order, and each node's count of dependencies left unplaced (above 0 only on or behind a cycle)."""
    waiting = [len(ds) for ds in deps]
    readers: list[list[int]] = [[] for _ in deps]
    for i, ds in enumerate(deps):
        for d in ds:
            readers[d].append(i)
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for r in readers[i]:
            waiting[r] -= 1
            if waiting[r] == 0:
                heapq.heappush(ready, r)
    return order, waiting


def _node_text(node: onnx.NodeProto, index: int) -> str:
    """How a message names a node: ``node 'conv1' (Conv)``, or ``Conv node #3`` when it has no name."""
    return f"node {node.name!r} ({node.op_type})" if node.name else f"{node.op_type} node #{index}"


def _required_input(node: onnx.NodeProto, position: int, opset: int) -> bool:
    """Whether input ``position`` of ``node`` is required by its op's schema (False where the schema is unknown)."""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain or "")
    except Exception:  # noqa: BLE001 - a custom op: check_supported reports it
        return False
    formal = schema.inputs
    if not formal:
        return False
    param = formal[min(position, len(formal) - 1)]
    return param.option == onnx.defs.OpSchema.FormalParameterOption.Single


#: attributes that divide an op's spatial arithmetic: 0 or less is a division by zero or a negative step
_POSITIVE_ATTRS = ("strides", "dilations")


def check_graph(model: onnx.ModelProto, source: str = "model") -> None:
    """Refuse a graph that is not valid ONNX in the ways a frontend would mis-price or misreport
    (:class:`~hybridperf.errors.ModelLoadError`, one line naming the name or node and the fix).

    Checked with sets of names, not ``onnx.checker`` (which also rejects models onnxruntime runs): a name
    defined twice (two graph inputs, two initializers, two nodes writing one output, a node writing a graph
    input), a graph input with an empty name, an empty name for a required node input, a node reading a
    name nothing defines, a cycle, and ``strides`` / ``dilations`` below 1. Until 2026-12-04 the last writer
    of a duplicated name was priced and the other dropped, and the rest failed inside TVM with its own words
    (``Found null pointer node``, ``'ghost'``, ``integer division or modulo by zero``).

    The same rules hold in every subgraph (the bodies of ``If``, ``Loop``, ``Scan``, at any depth), whose
    nodes may also read the names of the graphs enclosing them; the message names the subgraph by its node
    and attribute (until 2026-12-04 only the top-level graph was checked). A subgraph's node output or
    initializer must not reuse a name an enclosing graph defines: ONNX's IR (single static assignment)
    forbids it for node outputs, and a taken ``If`` branch is inlined by name, so either would overwrite
    the enclosing tensor (until 2026-12-04 the enclosing writer was dropped from the price, or the import
    blamed the model's shapes). A subgraph *input* may reuse one: the IR scopes formal inputs, and only
    ``Loop`` / ``Scan`` bodies have inputs (refused later by :func:`check_supported`).
    """
    opset = default_opset(model)
    opset = 1 if opset is None else opset  # no ai.onnx import: the schemas of opset 1
    _check_scope(model.graph, f"{source}: ", frozenset(), opset)


def _check_scope(g: onnx.GraphProto, where: str, outer: frozenset[str], opset: int) -> None:
    """:func:`check_graph`'s rules on ``g``, then on each of its subgraphs; ``where`` starts each message (the
    source, and the subgraph's place), ``outer`` holds the names the graphs enclosing ``g`` define."""
    from hybridperf.errors import ModelLoadError  # noqa: PLC0415

    inits = [t.name for t in g.initializer] + [sp.values.name for sp in g.sparse_initializer]
    seen: set[str] = set()
    for vi in g.input:
        if not vi.name:
            raise ModelLoadError(f"{where}a graph input has an empty name; name it (and the node inputs that read "
                                 "it) and re-export the model")
        if vi.name in seen:
            raise ModelLoadError(f"{where}graph input {vi.name!r} is declared twice; keep one and re-export the model")
        seen.add(vi.name)
    defined = set(seen)
    for name in inits:
        if name in defined and name not in seen:
            raise ModelLoadError(f"{where}initializer {name!r} is stored twice; keep one and re-export the model")
        if name in outer and name not in seen:  # an input's default value: the input may shadow
            raise ModelLoadError(f"{where}initializer {name!r} reuses the name of a tensor of an enclosing graph; "
                                 "ONNX names a subgraph's tensors apart from its enclosing graphs': rename it "
                                 "(and the node inputs that read it) and re-export the model")
        defined.add(name)
    writer: dict[str, int] = {}
    for i, node in enumerate(g.node):
        for o in node.output:
            if not o:
                continue
            if o in writer:
                raise ModelLoadError(
                    f"{where}tensor {o!r} is written by two nodes ({_node_text(g.node[writer[o]], writer[o])} and "
                    f"{_node_text(node, i)}); ONNX names each tensor once: rename one output and re-export the model")
            if o in defined:
                what = "graph input" if o in seen else "initializer"
                raise ModelLoadError(f"{where}{_node_text(node, i)} writes {o!r}, which is also a {what}; "
                                     "rename the output and re-export the model")
            if o in outer:
                raise ModelLoadError(
                    f"{where}{_node_text(node, i)} writes {o!r}, which an enclosing graph also defines; ONNX "
                    "names each tensor once, subgraphs included (a subgraph's outputs must not shadow the "
                    "names around it): rename the output and re-export the model")
            writer[o] = i
    defined.update(writer)
    visible = defined | outer
    enclosing = "" if not outer else " of this or an enclosing graph"
    for i, node in enumerate(g.node):
        for k, name in enumerate(node.input):
            if not name and _required_input(node, k, opset):
                raise ModelLoadError(f"{where}{_node_text(node, i)} has an empty name for its required input "
                                     f"#{k}; connect it to a tensor and re-export the model")
            if name and name not in visible:
                raise ModelLoadError(
                    f"{where}{_node_text(node, i)} reads {name!r}, which no graph input, initializer or "
                    f"node{enclosing} defines; add {name!r} as a graph input or re-export the model")
        for a in node.attribute:
            if a.name in _POSITIVE_ATTRS and a.type == onnx.AttributeProto.INTS and any(v < 1 for v in a.ints):
                raise ModelLoadError(f"{where}{_node_text(node, i)} has {a.name}={list(a.ints)}; each must be "
                                     "at least 1: fix the attribute and re-export the model")
    cycle = _cycle_node(g, writer)
    if cycle is not None:
        raise ModelLoadError(f"{where}{_node_text(g.node[cycle], cycle)} depends on its own output (the graph has "
                             "a cycle); ONNX graphs are acyclic: re-export the model")
    inner = frozenset(visible)
    for i, node in enumerate(g.node):
        for a in node.attribute:
            subs = [a.g] if a.HasField("g") else list(a.graphs)
            for j, sub in enumerate(subs):
                place = f"{a.name}[{j}]" if len(subs) > 1 else a.name
                _check_scope(sub, f"{where}{place} of {_node_text(node, i)}: ", inner, opset)


def _cycle_node(g: onnx.GraphProto, writer: Mapping[str, int]) -> int | None:
    """A node on a cycle of ``g``'s top-level nodes (``writer``: output name -> node index), or None."""
    deps = [{writer[n] for n in node.input if n in writer} for node in g.node]
    order, waiting = _kahn(deps)
    if len(order) == len(deps):
        return None
    # every node left waits on another left: walking back through them must come round to one twice
    i, visited = next(i for i, w in enumerate(waiting) if w > 0), set()
    while i not in visited:
        visited.add(i)
        i = next(d for d in deps[i] if waiting[d] > 0)
    return i


def _inline_functions(out: onnx.ModelProto) -> None:
    """Inline the model's local functions into its graph (the frontend reads only the graph)."""
    if not len(out.functions):
        return
    from onnx import inliner  # noqa: PLC0415

    inlined = inliner.inline_local_functions(out)
    out.graph.ClearField("node")
    out.graph.node.extend(inlined.graph.node)
    out.ClearField("functions")


def _fold_to_fixpoint(out: onnx.ModelProto, sk: onnx.ModelProto, folder: _Folder) -> tuple[onnx.ModelProto, dict[str, int]]:
    """Fold what static shapes and constants decide, re-inferring shapes after each round, until
    nothing more folds; ``sk`` loses the folded nodes. Returns the last inferred model and the
    folded op types with their counts."""
    folded: dict[str, int] = {}
    in_skeleton: set[str] = set()
    inferred = sk
    # Identity of a weight: consumers read the weight directly (no copy of the data)
    protected = {o.name for o in out.graph.output}
    for node in out.graph.node:
        protected.update(_subgraph_inputs(node))
    alias: dict[str, str] = {}
    for _ in range(_MAX_ROUNDS):
        inferred, static = _infer(sk)
        kept: list[onnx.NodeProto] = []
        n_new = _contrib_shapes(sk, inferred, static)
        for node in sk.graph.node:
            if alias:
                for i, name in enumerate(node.input):
                    if name in alias:
                        node.input[i] = alias[name]
            branch = _taken_branch(node, folder)
            if branch is not None:  # its nodes are folded or kept in the next round
                kept.extend(_inline_branch(node, branch, out, sk, folder))
                folded["If"] = folded.get("If", 0) + 1
                n_new += 1
                continue
            if (
                node.op_type == "Identity"
                and (node.domain or "") in _DEFAULT_DOMAINS
                and (node.input[0] in folder.inits or node.input[0] in folder.new)
                and node.output[0] not in protected
            ):
                alias[node.output[0]] = node.input[0]
                folded["Identity"] = folded.get("Identity", 0) + 1
                n_new += 1
                continue
            if folder.fold(node, static):
                folded[node.op_type] = folded.get(node.op_type, 0) + 1
                n_new += 1
            else:
                kept.append(node)
        if not n_new:
            break
        sk.graph.ClearField("node")
        sk.graph.node.extend(kept)
        for name, arr in folder.new.items():
            if name not in in_skeleton:
                sk.graph.initializer.append(numpy_helper.from_array(arr, name))
                in_skeleton.add(name)
    return inferred, folded


def _keep_live(graph: onnx.GraphProto, sk: onnx.ModelProto,
               folder: _Folder) -> tuple[list[onnx.NodeProto], int, set[str]]:
    """Give ``graph`` the nodes of ``sk`` that reach an output and the initializers they read
    (folded ones added, unread ones dropped); returns the live nodes, how many were dead and the names the live
    nodes (their subgraphs included) and the graph outputs read (:func:`_live_nodes`)."""
    graph_outputs = [o.name for o in graph.output]
    live, needed = _live_nodes(list(sk.graph.node), graph_outputs)
    dead = len(sk.graph.node) - len(live)

    graph.ClearField("node")
    graph.node.extend(live)
    have = {t.name for t in graph.initializer}
    for name, arr in folder.new.items():
        if name in needed and name not in have:
            graph.initializer.append(numpy_helper.from_array(arr, name))
    # drop initializers nothing reads any more (and their old-style input entries)
    unused = [i for i, t in enumerate(graph.initializer) if t.name not in needed]
    unused_names = {graph.initializer[i].name for i in unused}
    for i in reversed(unused):
        del graph.initializer[i]
    for i in reversed([i for i, v in enumerate(graph.input) if v.name in unused_names]):
        del graph.input[i]
    return live, dead, needed


def _refresh_types(graph: onnx.GraphProto, live: list[onnx.NodeProto], inferred: onnx.ModelProto) -> None:
    """Value infos of the live nodes and static output types from the last shape inference."""
    produced = {o for n in live for o in n.output}
    graph.ClearField("value_info")
    graph.value_info.extend(vi for vi in inferred.graph.value_info if vi.name in produced)
    inferred_out = {vi.name: vi for vi in inferred.graph.output}
    for o in graph.output:
        if o.name in inferred_out and _dims(inferred_out[o.name]) is not None:
            o.type.CopyFrom(inferred_out[o.name].type)


# --------------------------------------------------------------------------- support check


def _tvm_convert_map() -> Mapping[str, Any]:
    """The Relax ONNX frontend's op table (imports TVM, ~2 s the first time)."""
    from hybridperf.ir.tvm_compat import tvm_modules  # noqa: PLC0415

    tvm_modules()
    from tvm.relax.frontend.onnx import onnx_frontend  # noqa: PLC0415

    return onnx_frontend._get_convert_map()  # noqa: SLF001 - the frontend's only table of supported ops


def walk_nodes(nodes: Iterable[onnx.NodeProto]) -> Iterable[onnx.NodeProto]:
    """Every node of ``nodes`` and, after each, the nodes of its subgraphs (If / Loop / Scan bodies), depth first."""
    for n in nodes:
        yield n
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from walk_nodes(a.g.node)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from walk_nodes(g.node)


def _op_id(node: onnx.NodeProto) -> str:
    return f"{node.domain or 'ai.onnx'}::{node.op_type}"


#: op names TVM's frontend converts with a ``com.microsoft`` op's semantics: in the ONNX domain they are
#: another op (``Attention``, opset 23: separate Q, K, V inputs; TVM's converter reads ``num_heads``)
_CONTRIB_NAMED = frozenset({"Attention"})


def _unsupported_nodes(model: onnx.ModelProto) -> dict[str, int]:
    from hybridperf.frontends.contrib import converter_for  # noqa: PLC0415

    table = _tvm_convert_map()
    counts: dict[str, int] = {}
    for node in walk_nodes(model.graph.node):
        domain = node.domain or ""
        ok = domain in _TVM_DOMAINS and (node.op_type in table or node.op_type in _TVM_DIRECT_OPS)
        if ok and domain in _DEFAULT_DOMAINS and node.op_type in _CONTRIB_NAMED:
            ok = False
        ok = ok or converter_for(node) is not None
        if not ok:
            key = _op_id(node)
            counts[key] = counts.get(key, 0) + 1
    return counts


def unsupported_ops(model: onnx.ModelProto) -> list[str]:
    """Every op type in ``model`` that TVM's Relax ONNX frontend cannot import.

    Parameters
    ----------
    model : onnx.ModelProto
        Model to check, subgraphs (If / Loop bodies) included.

    Returns
    -------
    list of str
        Sorted ``"domain::OpType"`` ids (``"ai.onnx::LSTM"``,
        ``"com.example::MyOp"``); empty when everything is supported. Ops of
        domains other than the ONNX default and ``com.microsoft`` are always
        listed: the frontend ignores domains and would convert them by name.
        Calls of model-local functions are listed too; :func:`normalize`
        inlines them.
    """
    return sorted(_unsupported_nodes(model))


def check_supported(model: onnx.ModelProto, source: str = "model") -> None:
    """Raise :class:`~hybridperf.errors.UnsupportedModelError` listing all unsupported ops.

    Parameters
    ----------
    model : onnx.ModelProto
        Model to check.
    source : str
        Name used in the message (usually the file path).

    Raises
    ------
    UnsupportedModelError
        One line: every unsupported op with its node count, and the total.
    """
    from hybridperf.errors import UnsupportedModelError  # noqa: PLC0415

    known = onnx.defs.onnx_opset_version()
    for imp in model.opset_import:
        if (imp.domain or "") in _DEFAULT_DOMAINS and imp.version > known:
            # until 2026-12-04 priced (an opset-99 Relu as today's Relu): no converter knows such an opset's ops
            raise UnsupportedModelError(
                f"{source}: ONNX opset {imp.version} is newer than the installed onnx {onnx.__version__} knows "
                f"({known}), so its ops' meaning is unknown; re-export with opset <= {known}"
            )
    counts = _unsupported_nodes(model)
    if not counts:
        return
    total = sum(1 for _ in walk_nodes(model.graph.node))
    listed = ", ".join(f"{k} ({v})" for k, v in sorted(counts.items()))
    hint = "e.g. opset <= 22, no custom ops"
    if any(k.split("::")[-1] in _LOOP_OPS for k in counts):
        hint = "loops unrolled, e.g. traced at a fixed sequence length"
    elif any(k.startswith("com.microsoft::") for k in counts):
        # onnxruntime's fused ops compute what the exported subgraphs did: price the export itself
        hint = ("or pass the model as exported, before onnxruntime's fusions (transformers optimize_model, "
                "ORT_ENABLE_EXTENDED), which compute the same thing")
    raise UnsupportedModelError(
        f"{source}: {sum(counts.values())} of {total} nodes use ops TVM's ONNX frontend cannot import: "
        f"{listed}; re-export without them ({hint})"
    )


#: ops a re-export removes by unrolling (control-flow loops), not by an opset or domain change (the recurrent layers
#: LSTM / GRU / RNN import since 2026-12-07: :mod:`hybridperf.frontends.recurrent`)
_LOOP_OPS = frozenset({"Loop", "Scan"})


#: ops whose output *shape* depends on the input *values*
_DATA_DEPENDENT_SHAPE_OPS = frozenset({"NonZero", "NonMaxSuppression", "Unique", "Compress"})


def data_dependent_shape_ops(model: onnx.ModelProto) -> dict[str, int]:
    """Ops whose output shape depends on input values and reaches a shape computation.

    Detection post-processing (``score > threshold -> NonZero``, NMS) makes the
    number of boxes, and every shape computed from it (``TopK`` k, ``Slice``
    ends), a run-time value. No input-shape binding makes those static, so
    they cannot be folded and TVM's frontend fails on them with messages like
    "Node ReduceMin cannot handle ShapeExpr inputs".

    Parameters
    ----------
    model : onnx.ModelProto
        Model to check (top-level graph; usually after :func:`normalize`).

    Returns
    -------
    dict of str to int
        ``{"ai.onnx::NonZero": 180, ...}``: such ops with a ``Shape`` or
        ``Size`` node downstream; empty when shapes are data-independent.
    """
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in set(node.input) | _subgraph_inputs(node):
            consumers.setdefault(name, []).append(node)

    def reaches_shape(node: onnx.NodeProto) -> bool:
        seen: set[str] = set()
        todo = [o for o in node.output if o]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for c in consumers.get(name, ()):
                if c.op_type in ("Shape", "Size"):
                    return True
                todo.extend(o for o in c.output if o)
        return False

    counts: dict[str, int] = {}
    for node in model.graph.node:
        if (node.domain or "") in _DEFAULT_DOMAINS and node.op_type in _DATA_DEPENDENT_SHAPE_OPS and reaches_shape(node):
            key = _op_id(node)
            counts[key] = counts.get(key, 0) + 1
    return counts
