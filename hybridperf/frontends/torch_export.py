"""PyTorch frontend: ``torch.export`` programs (in memory or ``.pt2`` files) to Relax.

TVM's ``from_exported_program`` can run PyTorch's decompositions first
(``run_ep_decomposition=True``) or translate the exported ATen ops as they are.
Undecomposed graphs keep high-level ops that map to one Relax op each --
``scaled_dot_product_attention`` becomes ``relax.nn.attention``, ``silu``,
``adaptive_avg_pool2d`` and bicubic resize stay single ops -- which is both
closer to what a deployment runtime launches and much faster to import
(MobileNetV2 0.14 s vs 3.3 s). Some ATen ops are only supported after
decomposition (``amax``, ``rms_norm``, ``mish``, ``fill_``), so the loader
tries undecomposed first and falls back to decomposed. Needs the optional
extra: ``pip install 'hybridperf[torch]'``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import inspect
from pathlib import Path
import threading
from typing import Any
import warnings

from hybridperf.errors import DynamicShapeError, InputError, ModelLoadError, UnsupportedModelError, error_line
from hybridperf.frontends.common import LoadedModel, _param_shapes


__all__ = ["TORCH_LOGGER", "load_exported_program", "load_pt2", "load_torch", "torch_logs_captured"]


_TORCH_HINT = "install the optional extra: pip install 'hybridperf[torch]'"

#: the logger that receives, at DEBUG, what PyTorch logged while :class:`torch_logs_captured` held its logging (the
#: CLI shows it with ``-v``): a failed export is one error, not torch's lines beside it
TORCH_LOGGER = "hybridperf.torch"


#: held by a :class:`torch_logs_captured` block from its start to its end (re-entrant: blocks nest in one thread),
#: so that two threads' blocks, which swap the process's ``sys.stderr``, never overlap
_CAPTURING = threading.RLock()


class torch_logs_captured:  # noqa: N801 - a context manager read as a phrase, like tvm_compat.native_log_captured
    """Keep PyTorch's log records off every handler while ``torch.export`` runs; afterwards :attr:`records` holds them,
    each is logged at DEBUG to :data:`TORCH_LOGGER` as its formatted message, and the handlers are as they were.

    A failed export logs before it raises (``failed while running evaluate_expr(...)`` at ERROR, ``failed during
    evaluate_expr`` at WARNING, through the stream handlers torch installs on its own loggers), and until 2026-12-04
    those lines reached stderr beside the one error the export becomes. A record is torch's when its logger is
    ``torch`` or below it; the filter sits on the handlers of those loggers, of the root logger and on
    :data:`logging.lastResort` (where a record goes that no handler takes), so other records pass as before.

    What torch prints onto ``sys.stderr`` meanwhile is held too and logged the same way: a failed export prints the
    partial FX graph it traced there (``torch.export._trace``; until 2026-12-04 a dozen lines of ``def forward``
    before the one error). ``sys.stderr`` is the process's, so what other threads print there and the Python
    warnings shown during an export are held as well, and logged at DEBUG to :data:`TORCH_LOGGER` (visible with
    ``-v``) once the block ends.

    Captures never overlap across threads: a block holds the module's lock (:data:`_CAPTURING`, re-entrant) from
    ``__enter__`` to ``__exit__``, so a second thread's block waits for the first to end. Until 2026-12-04 two
    threads' overlapping blocks could restore ``sys.stderr`` out of order and leave it a ``StringIO`` for good.
    Blocks nested in one thread restore in stack order.
    """

    def __init__(self) -> None:
        self.records: list[Any] = []
        self._kept: set[int] = set()  # ids of the records kept (held in records, so no id is reused meanwhile)
        self._handlers: list[Any] = []
        self._stderr: Any = None
        self._printed: Any = None

    def filter(self, record: Any) -> bool:
        """False for a record of torch's (kept in :attr:`records`), True for any other."""
        if record.name == "torch" or record.name.startswith("torch."):
            if id(record) not in self._kept:  # a record meets each handler on its way: kept once
                self._kept.add(id(record))
                self.records.append(record)
            return False
        return True

    def __enter__(self) -> torch_logs_captured:
        import logging

        import io
        import sys

        _CAPTURING.acquire()
        try:
            loggers = [logging.getLogger()] + [
                lg for name, lg in list(logging.Logger.manager.loggerDict.items())
                if isinstance(lg, logging.Logger) and (name == "torch" or name.startswith("torch."))]
            seen: set[int] = set()
            for h in [h for lg in loggers for h in lg.handlers] + [logging.lastResort]:
                if h is not None and id(h) not in seen:
                    seen.add(id(h))
                    h.addFilter(self)
                    self._handlers.append(h)
            self._stderr, self._printed = sys.stderr, io.StringIO()
            sys.stderr = self._printed
        except BaseException:  # no block to end: the filters off again and the lock let go
            for h in self._handlers:
                h.removeFilter(self)
            self._handlers = []
            _CAPTURING.release()
            raise
        return self

    def __exit__(self, *exc: object) -> bool:
        import logging

        import sys

        try:
            sys.stderr = self._stderr
            for h in self._handlers:
                h.removeFilter(self)
            self._handlers = []
        finally:
            _CAPTURING.release()  # before the records are logged: a handler may itself export (or wait on one that does)
        log = logging.getLogger(TORCH_LOGGER)
        for r in self.records:
            log.debug("%s: %s", r.name, r.getMessage())
        printed = self._printed.getvalue().strip() if self._printed is not None else ""
        if printed:
            log.debug("printed on stderr: %s", printed)
        return False


def _import_torch():
    try:
        import torch  # noqa: PLC0415
    except ImportError as exc:
        raise ModelLoadError(f"PyTorch models need torch; {_TORCH_HINT}") from exc
    return torch


def load_exported_program(
    ep: Any,
    source: str = "<torch.export>",
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    batch: int | None = None,
) -> LoadedModel:
    """Import a ``torch.export.ExportedProgram`` into Relax (see the module notes).

    A float16 / bfloat16 program is imported as its float32 copy and re-typed to its own
    precision (TVM 0.27's importer hard-codes float32 conv / linear / matmul outputs and rejects
    half-precision programs). Dynamic dims (``torch.export.Dim``) must be bound: ``batch`` binds
    the leading dynamic dim of every input, ``shapes`` whole inputs, within the exported range.
    Non-tensor inputs (ints, floats, bools the program was specialised on) are fixed at their
    exported values: only tensors are inputs of the imported module.

    Raises
    ------
    UnsupportedModelError
        TVM's PyTorch importer has no converter for some ATen op (the message lists them).
    DynamicShapeError
        A dynamic dim is left unbound.
    ModelLoadError
        Any other import failure.
    """
    ep = _tensor_inputs_only(ep, source)
    low = _low_float(_placeholder_float_dtypes(ep), source)
    if low is not None:
        mod, fmt = _import_relax(_float32_program(ep, source), source)
        mod = _retype_floats(mod, low)
    else:
        mod, fmt = _import_relax(ep, source)
    mod = _bind_dims(mod, shapes, batch, source)
    node_count = sum(1 for n in ep.graph.nodes if n.op == "call_function")
    return LoadedModel(module=mod, input_shapes=_param_shapes(mod), source=source, format=fmt, node_count=node_count)


def _tensor_inputs_only(ep: Any, source: str) -> Any:
    """``ep`` re-exported with its non-tensor inputs (``forward(x, n=2, flag=True)``: ints, floats, bools, None, which
    ``torch.export`` specialises the program on) fixed at their exported values, so that only tensors remain inputs;
    ``ep`` itself where it has none. TVM 0.27's importer reads a shape from every input ("import ... failed
    (AttributeError: 'int' object has no attribute 'shape')")."""
    torch = _import_torch()
    from torch.export.graph_signature import InputKind, TensorArgument  # noqa: PLC0415

    user = [spec.arg for spec in ep.graph_signature.input_specs if spec.kind is InputKind.USER_INPUT]
    if all(isinstance(arg, TensorArgument) for arg in user):
        return ep
    fixed = ", ".join(f"{arg.name}={getattr(arg, 'value', '?')!r}" for arg in user
                      if not isinstance(arg, TensorArgument))
    try:
        return _reexport(ep, ep.module(), lambda leaf: leaf, torch)
    except Exception as exc:  # noqa: BLE001 - export raises many kinds
        raise ModelLoadError(
            f"{source}: the program has non-tensor inputs ({fixed}) that TVM's importer cannot take, and fixing them "
            f"failed ({type(exc).__name__}: {error_line(exc, 120)}); export a wrapper module that passes them itself"
        ) from exc


def _reexport(ep: Any, program: Any, convert: Any, torch: Any) -> Any:
    """``program`` (``ep``'s module, or a copy of it) exported with ``ep``'s tensor inputs, each ``convert``-ed, as
    its only inputs, under their names and with ``ep``'s dynamic dims; its other inputs fixed at their exported
    values."""
    from torch.export.graph_signature import InputKind, TensorArgument  # noqa: PLC0415
    from torch.utils import _pytree  # noqa: PLC0415

    user = [spec.arg for spec in ep.graph_signature.input_specs if spec.kind is InputKind.USER_INPUT]
    leaves, in_spec = _pytree.tree_flatten(tuple(ep.example_inputs))
    if len(leaves) != len(user):
        raise ValueError(f"{len(leaves)} example inputs for {len(user)} inputs")
    tensors = {arg.name: convert(leaf) for arg, leaf in zip(user, leaves) if isinstance(arg, TensorArgument)}
    names = [arg.name for arg in user]

    class _Fixed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.program = program

        def forward(self, *given: Any) -> Any:
            got = dict(zip(tensors, given))
            args, kwargs = _pytree.tree_unflatten([got[n] if n in got else leaf for n, leaf in zip(names, leaves)],
                                                  in_spec)
            return self.program(*args, **kwargs)

    # the tensor inputs by their names (export names the program's inputs after the signature)
    _Fixed.forward.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in tensors])
    with torch.no_grad(), torch_logs_captured():
        return torch.export.export(_Fixed(), tuple(tensors.values()), dynamic_shapes=_dynamic_shapes(ep, tensors, torch))


def _dynamic_shapes(ep: Any, inputs: Mapping[str, Any], torch: Any) -> dict[str, Any] | None:
    """``dynamic_shapes`` that re-export ``inputs`` (tensor inputs of ``ep`` by name) with ``ep``'s dynamic dims:
    one ``torch.export.Dim`` per symbol, within its exported range; None where ``ep`` has none."""
    if not ep.range_constraints:
        return None
    vals = {n.name: n.meta.get("val") for n in ep.graph.nodes if n.op == "placeholder"}
    dims: dict[Any, Any] = {}

    def bound(v: Any) -> int | None:
        try:
            return int(v)
        except Exception:  # noqa: BLE001 - torch's int_oo (no bound) raises AttributeError
            return None

    def dim(expr: Any) -> Any:
        if expr not in dims:
            vr = ep.range_constraints.get(expr)
            lo, hi = (bound(vr.lower), bound(vr.upper)) if vr is not None else (None, None)
            limits = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
            dims[expr] = torch.export.Dim(f"d{len(dims)}", **limits) if expr.is_Symbol else torch.export.Dim.DYNAMIC
        return dims[expr]

    out: dict[str, Any] = {}
    for name in inputs:
        shape = getattr(vals.get(name), "shape", ())
        out[name] = {axis: dim(d.node.expr) for axis, d in enumerate(shape) if isinstance(d, torch.SymInt)} or None
    return out


def _import_relax(ep: Any, source: str) -> tuple[Any, str]:
    """``from_exported_program``, undecomposed first; returns the module and the format name."""
    from hybridperf.ir.tvm_compat import end_open_blocks, tvm_modules

    tvm_modules()
    from tvm.relax.frontend.torch.exported_program_translator import ExportedProgramImporter  # noqa: PLC0415

    _refuse_training_mode(ep, source)
    errors: list[BaseException] = []
    for decompose in (False, True):
        importer = ExportedProgramImporter()
        try:
            with warnings.catch_warnings(), torch_logs_captured():
                warnings.simplefilter("ignore")
                program = ep.run_decompositions() if decompose else ep
                mod = importer.from_exported_program(program, False, False, False, dict(_CONVERTERS))
        except Exception as exc:  # noqa: BLE001 - the importer raises AssertionError, KeyError, TVMError...
            end_open_blocks(getattr(importer, "block_builder", None))
            errors.append(exc)
            continue
        return mod, "torch.export (decomposed)" if decompose else "torch.export"
    # report the undecomposed failure when it names unsupported ops: that list is the actionable one
    unsupported = [e for e in errors if "unsupported function types" in str(e).lower()]
    exc = unsupported[0] if unsupported else errors[-1]
    msg = error_line(exc, 200, last=True)
    if unsupported:
        raise UnsupportedModelError(
            f"{source}: TVM's PyTorch importer cannot convert this model ({msg}); "
            "rewrite those ops with supported ones or export to ONNX"
        ) from exc
    raise ModelLoadError(f"{source}: import of the exported program into TVM Relax failed ({type(exc).__name__}: {msg}); "
                         "export the model to ONNX instead, or report it") from exc


def _sdpa_any_mask(node: Any, importer: Any) -> Any:
    """``scaled_dot_product_attention`` whose boolean ``attn_mask`` (what Hugging Face models pass) becomes
    the float bias PyTorch's own kernels turn it into (``0`` where kept, ``-inf`` where masked): TVM 0.27's
    converter takes float masks only, and the fallback (decomposition) splits attention into a dozen ops."""
    from hybridperf.ir import tvm_compat as _tvm

    _, relax = _tvm.tvm_modules()
    mask = node.args[3] if len(node.args) > 3 else node.kwargs.get("attn_mask")
    kept = importer.env.get(mask) if mask is not None else None
    if kept is None or str(getattr(kept.ty, "dtype", "")) != "bool":
        return importer._scaled_dot_product_attention(node)
    dtype = str(importer.env[node.args[0]].ty.dtype)
    bias = relax.op.where(kept, relax.const(0.0, dtype), relax.const(float("-inf"), dtype))
    importer.env[mask] = importer.block_builder.emit(bias)
    try:
        return importer._scaled_dot_product_attention(node)
    finally:
        importer.env[mask] = kept


def _node_arg(node: Any, index: int, name: str, default: Any) -> Any:
    """Argument ``index`` (keyword ``name``) of an FX call node, ``default`` where it is not given."""
    return node.args[index] if len(node.args) > index else node.kwargs.get(name, default)


def _batch_norm_inference(node: Any, importer: Any) -> Any:
    """``aten.batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled)``
    as an inference batch norm. TVM 0.27 routes this op (what ``torch.export`` keeps for ``BatchNorm`` in eval mode)
    to its ``_native_batch_norm_legit`` reader, whose arguments sit one place earlier: it imported a training-mode
    batch norm (batch statistics) with ``epsilon`` = the momentum (0.1) and ``momentum`` = the training flag.
    Programs in training mode are refused before import (:func:`_refuse_training_mode`); one without running
    statistics (which PyTorch normalises by batch statistics) keeps TVM's conversion."""
    from hybridperf.ir import tvm_compat as _tvm

    _, relax = _tvm.tvm_modules()
    stats = (node.args + (None,) * 5)[3:5]
    if _node_arg(node, 5, "training", False) is not False or any(a is None for a in stats):
        return importer._batch_norm_legit_no_training(node)
    import numpy as np  # noqa: PLC0415

    x = importer.env[node.args[0]]
    dtype = str(x.ty.dtype)
    weight, bias = (node.args + (None,) * 3)[1:3]
    channels = importer.shape_of(x)[1]

    def affine(arg: Any, fill: float) -> Any:
        return importer.env[arg] if arg is not None else relax.const(np.full(int(channels), fill), dtype)

    bn = importer.block_builder.emit(relax.op.nn.batch_norm(
        x, affine(weight, 1.0), affine(bias, 0.0), importer.env[stats[0]], importer.env[stats[1]], axis=1,
        epsilon=float(_node_arg(node, 7, "eps", 1e-5)), center=bias is not None, scale=weight is not None,
        momentum=float(_node_arg(node, 6, "momentum", 0.1)), training=False,
    ))
    return importer.block_builder.emit(relax.TupleGetItem(bn, 0))


def _diff(node: Any, importer: Any) -> Any:
    """``aten.diff(input, n=1, dim=-1, prepend=None, append=None)``: ``prepend``, ``input`` and ``append`` joined
    along ``dim``, then ``x[1:] - x[:-1]`` along it, ``n`` times (exclusive or for booleans, as PyTorch computes it).
    Hugging Face's causal masks call it on position ids (GPT-2), which TVM 0.27 has no converter for."""
    from hybridperf.ir import tvm_compat as _tvm

    tvm, relax = _tvm.tvm_modules()
    bb = importer.block_builder
    x = importer.env[node.args[0]]
    n = int(_node_arg(node, 1, "n", 1))
    dim = int(_node_arg(node, 2, "dim", -1))
    ndim = len(importer.shape_of(x))
    dim = dim + ndim if dim < 0 else dim
    parts = [importer.env[a] for a in (_node_arg(node, 3, "prepend", None), node.args[0],
                                       _node_arg(node, 4, "append", None)) if a is not None]
    if len(parts) > 1:
        x = bb.emit(relax.op.concat(parts, axis=dim))
    is_bool = str(x.ty.dtype) == "bool"
    for _ in range(n):
        size = importer.shape_of(x)[dim]
        last = tvm.tirx.max(size - 1, 0)
        hi = bb.emit(relax.op.strided_slice(x, axes=[dim], begin=[1], end=[size]))
        lo = bb.emit(relax.op.strided_slice(x, axes=[dim], begin=[0], end=[last]))
        x = bb.emit(relax.op.logical_xor(hi, lo) if is_bool else relax.op.subtract(hi, lo))
    return x


#: integer dtypes PyTorch's ``cumsum`` sums in int64 when no ``dtype`` is given
_CUMSUM_TO_INT64 = frozenset({"bool", "uint8", "int8", "int16", "int32"})


def _cumsum_promoted(node: Any, importer: Any) -> Any:
    """``aten.cumsum`` with PyTorch's promotion: booleans and narrow integers are summed in int64 (TVM 0.27 keeps
    the input's dtype, so the running count of a boolean mask, in Hugging Face's causal masks, stayed boolean)."""
    from hybridperf.ir import tvm_compat as _tvm

    _, relax = _tvm.tvm_modules()
    x = importer.env[node.args[0]]
    if node.kwargs.get("dtype") is not None or str(x.ty.dtype) not in _CUMSUM_TO_INT64:
        return importer._cumsum(node)
    return importer.block_builder.emit(relax.op.cumsum(x, _node_arg(node, 1, "dim", None), "int64"))


def _new_filled(fill: int) -> Any:
    """Converter of ``aten.new_ones`` / ``aten.new_zeros`` (``fill`` 1 / 0) honouring their ``dtype`` keyword, which
    TVM 0.27 ignores (a ``new_ones(..., dtype=torch.bool)`` came out in the input's int64, and the boolean mask
    built from it with it)."""

    def convert(node: Any, importer: Any) -> Any:
        from hybridperf.ir import tvm_compat as _tvm

        _, relax = _tvm.tvm_modules()
        args = importer.retrieve_args(node)
        size = args[1] if isinstance(args[1], (list, tuple)) else args[1:]
        dtype = node.kwargs.get("dtype")
        dt = str(args[0].ty.dtype) if dtype is None else importer._convert_data_type(str(dtype), importer.env)
        return importer.block_builder.emit(relax.op.full(relax.ShapeExpr(list(size)), relax.const(fill, dt), dt))

    return convert


def _where_scalar(scalar_at: int) -> Any:
    """Converter of ``aten.where.ScalarOther`` (``scalar_at`` 2: ``where(cond, x, -inf)``) / ``.ScalarSelf`` (1): the
    scalar a constant of the tensor operand's dtype. TVM 0.27 converts ``where.self`` only, and Hugging Face
    transformers 5 builds every attention mask with ``where.ScalarOther``: BERT, GPT-2, Llama, T5, DeiT and wav2vec2
    fell back to the decomposed import (each ``matmul`` an ``expand`` + ``bmm``, a copy kernel per ``expand``)."""

    def convert(node: Any, importer: Any) -> Any:
        from hybridperf.ir import tvm_compat as _tvm

        _, relax = _tvm.tvm_modules()
        bb = importer.block_builder
        cond = importer.env[node.args[0]]
        tensor = importer.env[node.args[3 - scalar_at]]
        scalar, dtype = node.args[scalar_at], str(tensor.ty.dtype)
        if isinstance(scalar, float) and not dtype.startswith(("float", "bfloat")):  # PyTorch promotes to float
            tensor, dtype = bb.emit(relax.op.astype(tensor, "float32")), "float32"
        elif isinstance(scalar, int) and not isinstance(scalar, bool) and dtype == "bool":  # and a bool one to int64
            tensor, dtype = bb.emit(relax.op.astype(tensor, "int64")), "int64"
        value = relax.const(scalar, dtype)
        x, y = (tensor, value) if scalar_at == 2 else (value, tensor)
        return bb.emit(relax.op.where(cond, x, y))

    return convert


def _to_device(node: Any, importer: Any) -> Any:
    """``aten.to.device(input, device, dtype, ...)``: the cast to ``dtype`` (the device is this model's), the input
    itself where it has that dtype. TVM 0.27 has no converter (Hugging Face decoders' ``mask.to(device, bool)``)."""
    from hybridperf.ir import tvm_compat as _tvm

    _, relax = _tvm.tvm_modules()
    x = importer.env[node.args[0]]
    dtype = _node_arg(node, 2, "dtype", None)
    dt = str(x.ty.dtype) if dtype is None else importer._convert_data_type(str(dtype), importer.env)
    return x if dt == str(x.ty.dtype) else importer.block_builder.emit(relax.op.astype(x, dt))


def _weight_norm(node: Any, importer: Any) -> Any:
    """``aten._weight_norm(v, g, dim=0)``: ``v * (g / ||v||)``, the 2-norm over every axis but ``dim`` (all axes for
    ``dim`` -1), as PyTorch computes a ``weight_norm`` parametrisation each call (wav2vec2's positional
    convolution). TVM 0.27 has no converter."""
    from hybridperf.ir import tvm_compat as _tvm

    _, relax = _tvm.tvm_modules()
    bb = importer.block_builder
    v, g = importer.env[node.args[0]], importer.env[node.args[1]]
    ndim = len(importer.shape_of(v))
    dim = int(_node_arg(node, 2, "dim", 0))
    axes = [a for a in range(ndim) if dim == -1 or a != dim % ndim]
    norm = bb.emit(relax.op.sqrt(bb.emit(relax.op.sum(bb.emit(relax.op.multiply(v, v)), axes, keepdims=True))))
    return bb.emit(relax.op.multiply(v, bb.emit(relax.op.divide(g, norm))))


def _expand_or_same(node: Any, importer: Any) -> Any:
    """``aten.expand(input, size)``: the input itself where ``size`` is its own shape (PyTorch returns it as is), else
    TVM's ``broadcast_to``. The decomposed import writes each ``matmul`` as ``expand`` + ``bmm``, and the identity
    ``broadcast_to`` was priced as a copy kernel (48 in Swin-T, launches eager PyTorch never makes)."""
    from hybridperf.ir import tvm_compat as _tvm

    tvm, _ = _tvm.tvm_modules()
    x = importer.env[node.args[0]]
    dims = importer.shape_of(x)
    size = importer.retrieve_args(node)[1]
    if dims is not None and len(size) == len(dims) and all(
            isinstance(d, tvm.tirx.IntImm) and (s == -1 or (isinstance(s, int) and s == int(d.value)))
            for d, s in zip(dims, size)):
        return x
    return importer._expand(node)


def _swapaxes(node: Any, importer: Any) -> Any:
    """``aten.swapaxes(input, axis0, axis1)``: ``transpose``'s conversion (TVM 0.27 has none for this alias; MaxViT)."""
    return importer._transpose(node)


#: converters hybridperf adds to TVM's (ATen op name -> ``f(node, importer)``)
_CONVERTERS = {
    "scaled_dot_product_attention.default": _sdpa_any_mask,
    "batch_norm.default": _batch_norm_inference,
    "diff.default": _diff,
    "cumsum.default": _cumsum_promoted,
    "new_ones.default": _new_filled(1),
    "new_zeros.default": _new_filled(0),
    # until 2026-12-05b these fell back to the decomposed import (see _where_scalar)
    "where.ScalarOther": _where_scalar(2),
    "where.ScalarSelf": _where_scalar(1),
    "to.device": _to_device,
    "_weight_norm.default": _weight_norm,
    "swapaxes.default": _swapaxes,
    "expand.default": _expand_or_same,
}

#: ATen ops of a program exported in training mode -> the index of their ``training`` / ``train`` argument
_TRAINING_ARG = {
    "aten.batch_norm.default": 5,
    "aten.native_batch_norm.default": 5,
    "aten._native_batch_norm_legit.default": 5,
    "aten._native_batch_norm_legit_functional.default": 5,
    "aten.dropout.default": 2,
    "aten.native_dropout.default": 2,
    "aten.feature_dropout.default": 2,
    "aten.alpha_dropout.default": 2,
    "aten.feature_alpha_dropout.default": 2,
}


def _refuse_training_mode(ep: Any, source: str) -> None:
    """Refuse a program exported in training mode: its batch norms use batch statistics and its
    dropouts are live, which the inference pricing (TVM imports dropout as identity) would not show."""
    for n in ep.graph.nodes:
        at = _TRAINING_ARG.get(str(n.target)) if n.op == "call_function" else None
        if at is None:
            continue
        name = "train" if "dropout" in str(n.target) else "training"
        if _node_arg(n, at, name, False) is True:
            op = str(n.target).removeprefix("aten.").removesuffix(".default")
            raise InputError(
                f"{source}: the program was exported in training mode ({op} with {name}=True); "
                "call model.eval() before torch.export.export and export again"
            )


# ------------------------------------------------------------ float16 / bfloat16 ----

#: torch dtype name -> TVM dtype of the half-precision floats imported via a float32 copy
_LOW_FLOATS = {"torch.float16": "float16", "torch.bfloat16": "bfloat16"}

_LOW_HINT = "export the float32 model and price it with --precision fp16 (API: precision='fp16')"


def _placeholder_float_dtypes(ep: Any) -> set[str]:
    """The floating dtypes (``"torch.float16"``, ...) of the program's inputs, parameters, buffers and constants."""
    out = set()
    for n in ep.graph.nodes:
        val = n.meta.get("val") if n.op == "placeholder" else None
        dtype = getattr(val, "dtype", None)
        if dtype is not None and dtype.is_floating_point:
            out.add(str(dtype))
    return out


def _low_float(dtypes: set[str], source: str) -> str | None:
    """The one half-precision float ``dtypes`` hold (TVM name), None for float32 / no floats; mixed halves refused."""
    low = dtypes & set(_LOW_FLOATS)
    if not low:
        return None
    if len(dtypes) > 1:
        raise UnsupportedModelError(
            f"{source}: mixed float precisions ({', '.join(sorted(d.removeprefix('torch.') for d in dtypes))}) "
            f"cannot be imported by TVM's PyTorch importer; {_LOW_HINT}"
        )
    return _LOW_FLOATS[low.pop()]


def _float32_program(ep: Any, source: str) -> Any:
    """The float32 copy of a half-precision ExportedProgram (re-exported from its module)."""
    import copy  # noqa: PLC0415

    torch = _import_torch()

    def f32(x: Any) -> Any:
        return x.float() if isinstance(x, torch.Tensor) and x.is_floating_point() else x

    try:
        # with its dynamic dims (until 2026-12-04 a half-precision program with dynamic dims was refused)
        return _reexport(ep, _float32_literals(copy.deepcopy(ep.module()).float(), torch), f32, torch)
    except Exception as exc:  # noqa: BLE001 - export raises many kinds
        raise UnsupportedModelError(
            f"{source}: this float16 / bfloat16 program could not be re-exported in float32 for TVM's importer "
            f"({type(exc).__name__}: {error_line(exc, 120)}); {_LOW_HINT}"
        ) from exc


def _float32_literals(module: Any, torch: Any) -> Any:
    """``module`` (the program's graph module) with the half-precision dtypes its ops name (``zeros(..., dtype=
    torch.float16)``, ``to(torch.bfloat16)``: the export baked the traced dtype in) made float32: ``.float()`` converts
    the weights only, and the float16 zeros an LSTM starts from met its float32 weights (the import failed, and the
    decomposed one that was used instead priced the model at 7x its weight bytes)."""
    low = {torch.float16, torch.bfloat16}

    def f32(a: Any) -> Any:
        return torch.float32 if isinstance(a, torch.dtype) and a in low else a

    for n in module.graph.nodes:
        if n.op == "call_function":
            n.args = torch.fx.node.map_aggregate(n.args, f32)
            n.kwargs = torch.fx.node.map_aggregate(n.kwargs, f32)
    module.recompile()
    return module


def _retype_floats(mod: Any, dtype: str) -> Any:
    """``mod`` with every float32 tensor (inputs, constants, op outputs and ``dtype`` / ``out_dtype`` attributes)
    re-typed to ``dtype``: the half-precision model the float32 copy was imported for."""

    from hybridperf.ir import tvm_compat as _tvm

    tvm, relax = _tvm.tvm_modules()
    from tvm.relax.expr_functor import PyExprMutator, mutator  # noqa: PLC0415

    np_dtype: Any = dtype
    if dtype == "bfloat16":
        import ml_dtypes  # noqa: PLC0415 - a TVM dependency

        np_dtype = ml_dtypes.bfloat16

    def low_type(ty: Any) -> Any:
        if isinstance(ty, relax.TensorType) and str(ty.dtype) == "float32":
            return relax.TensorType(ty.shape, dtype) if ty.shape is not None else relax.TensorType(dtype=dtype, ndim=ty.ndim)
        if isinstance(ty, relax.TupleType):
            return relax.TupleType([low_type(f) for f in ty.fields])
        return ty

    lowered: dict[int, Any] = {}  # one low copy per constant: a weight read twice (tied, recurrent) stays one

    def low_const(e: Any) -> Any:
        if _tvm.is_constant(e) and str(e.ty.dtype) == "float32":
            key = _tvm.node_id(e)  # the float32 module, alive throughout, holds ``e``: its id is not reused
            if key not in lowered:
                lowered[key] = relax.const(e.value.numpy().astype(np_dtype), dtype)
            return lowered[key]
        if _tvm.is_tuple(e):
            return relax.Tuple([low_const(f) for f in e.fields])
        return e

    def low_attrs(attrs: Any) -> Any:
        info = getattr(type(attrs), "__tvm_ffi_type_info__", None) if attrs is not None else None
        if info is None:
            return attrs
        fields = {f.name: getattr(attrs, f.name) for f in info.fields}
        hit = [k for k, v in fields.items() if k in ("dtype", "out_dtype") and str(v) == "float32"]
        if not hit:
            return attrs
        fields.update(dict.fromkeys(hit, dtype))
        return tvm.ir.make_node(info.type_key, **fields)

    @mutator
    class _Retype(PyExprMutator):
        def visit_call_(self, call):  # noqa: ANN001, ANN202 - TVM visitor signature
            args = [low_const(self.visit_expr(a)) for a in call.args]
            return relax.Call(call.op, args, low_attrs(call.attrs), [low_type(t) for t in call.ty_args])

    func = mod["main"]
    retype = _Retype(mod)
    params = []
    for p in func.params:
        q = relax.Var(_tvm.var_name(p), low_type(p.ty))
        retype.set_var_remap(p, q)
        params.append(q)
    body = retype.visit_expr(func.body)
    funcs = {gv: f for gv, f in mod.functions.items() if gv.name_hint != "main"}
    funcs[mod.get_global_var("main")] = relax.Function(params, body, None, func.is_pure, func.attrs)
    return tvm.IRModule(funcs)


# ----------------------------------------------------------------- dynamic dims ----


def _bind_dims(mod: Any, shapes: Mapping[str, tuple[int, ...]] | None, batch: int | None, source: str) -> Any:
    """Bind the dynamic dims of ``main``'s inputs (``batch``: each input's leading one; ``shapes``: whole inputs)."""
    from hybridperf.ir import tvm_compat as _tvm
    from hybridperf.units import dims_text

    tvm, relax = _tvm.tvm_modules()
    func = mod["main"]
    shapes = dict(shapes or {})
    params = {_tvm.var_name(p): list(_tvm.items(p.ty.shape.values)) for p in func.params
              if isinstance(p.ty, relax.TensorType) and p.ty.shape is not None and hasattr(p.ty.shape, "values")}
    unknown = sorted(set(shapes) - set(params))
    if unknown:
        raise InputError(f"--shape names unknown input {unknown[0]!r}; the program's inputs are {', '.join(params)}")
    dynamic = any(not isinstance(d, tvm.tirx.IntImm) for dims in params.values() for d in dims)
    if not dynamic and (batch is not None or any([int(w) for w in want] != [int(d.value) for d in params[n]]
                                                 for n, want in shapes.items())):
        # a --shape that repeats the exported shape is taken, as an ONNX model's fixed shape is (refused until
        # 2026-12-05: one --shape over a folder of .onnx and .pt2 exports of a model failed on the .pt2)
        raise InputError(f"{source}: a torch.export program has the shapes it was exported with; drop --shape/--batch "
                         "and re-export instead (or export with torch.export.Dim dynamic dims)")
    attrs = func.attrs or {}
    lower = dict(attrs.get("tir_var_lower_bound", {}) or {})
    upper = dict(attrs.get("tir_var_upper_bound", {}) or {})
    binding: dict[str, int] = {}

    def bind(var: Any, value: int, name: str, axis: int) -> None:
        key = str(var)
        lo, hi = int(lower.get(key, 0)), int(upper.get(key, 1 << 62))
        if not lo <= value <= hi:
            raise InputError(f"{source}: input {name!r} dim {axis} is exported for {lo}..{hi}, not {value}; "
                             "bind a size in that range or re-export with a wider torch.export.Dim")
        if binding.setdefault(key, value) != value:
            raise InputError(f"{source}: dim {key} is bound to both {binding[key]} and {value}; inputs sharing it must "
                             f"agree: give it one value in every --shape that binds it")

    took_batch = False
    for name, dims in params.items():
        if name in shapes:
            want = tuple(int(w) for w in shapes[name])
            if len(want) != len(dims):
                raise InputError(f"--shape {name}={dims_text(want)} has rank {len(want)}; the input has rank {len(dims)}: "
                                 "give one dim per axis")
            for axis, (d, w) in enumerate(zip(dims, want)):
                if isinstance(d, tvm.tirx.IntImm):
                    if int(d.value) != w:
                        raise InputError(f"--shape {name}={dims_text(want)}: dim {axis} is fixed at {int(d.value)} "
                                         "in the exported program; give it that size, or re-export with a "
                                         "torch.export.Dim at that axis")
                elif isinstance(d, tvm.tirx.Var):
                    bind(d, w, name, axis)
        elif batch is not None and dims and isinstance(dims[0], tvm.tirx.Var):
            bind(dims[0], int(batch), name, 0)
            took_batch = True
    if batch is not None and not took_batch:
        raise InputError(f"{source}: no input has a dynamic leading dim for --batch {batch}; bind the dynamic dims "
                         "with --shape NAME=DxD instead")
    if binding:
        mod = relax.transform.BindSymbolicVars(binding)(mod)
    for p in mod["main"].params:
        name = _tvm.var_name(p)
        dims = list(_tvm.items(p.ty.shape.values)) if name in params else []
        for axis, d in enumerate(dims):
            if not isinstance(d, tvm.tirx.IntImm):
                example = "x".join(str(int(x.value)) if isinstance(x, tvm.tirx.IntImm) else "N" for x in dims)
                raise DynamicShapeError(
                    f"{source}: input {name!r} has a dynamic dim at axis {axis} ({d}); bind it with "
                    f"{'--batch N' if axis == 0 else f'--shape {name}={example}'} (API: batch= / shapes=)"
                )
    return mod


def load_torch(module: Any, example_inputs: Sequence[Any] | Any, source: str | None = None) -> LoadedModel:
    """Export ``module`` with ``torch.export`` and import it into Relax.

    Parameters
    ----------
    module : torch.nn.Module
        The model; it is exported in eval mode (its training flag is restored).
    example_inputs : tensor, tuple / list of inputs, or mapping
        Inputs whose shapes fix every dimension (the export is static); a mapping passes
        them as keyword arguments (``{"x": x, "mask": mask}``). Non-tensor inputs (``n=2``,
        ``flag=True``) are fixed at their values, as ``torch.export`` specialises on them.
    source : str, optional
        Name shown in reports; defaults to the module's class name.

    Returns
    -------
    LoadedModel
        ``format`` is ``"torch.export"`` (or ``"torch.export (decomposed)"``
        when only the decomposed graph could be imported).
    """
    torch = _import_torch()
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"load_torch needs a torch.nn.Module, got {type(module).__name__}")
    kwargs: dict[str, Any] = {}
    if isinstance(example_inputs, Mapping):
        kwargs, example_inputs = dict(example_inputs), ()
    elif example_inputs is not None and not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)  # one input (an int was TypeError: 'int' object is not iterable)
    example_inputs = tuple(example_inputs or ())
    if not example_inputs and not kwargs:
        raise InputError("load_torch needs example inputs: pass a tensor or a tuple of tensors with the shapes to analyse")
    source = source or f"<torch {type(module).__name__}>"
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), torch_logs_captured():  # the failure is our one line, not torch's log lines too
            ep = torch.export.export(module, example_inputs, kwargs)
    except Exception as exc:  # noqa: BLE001 - export raises many kinds (Unsupported, UserError, ...)
        raise ModelLoadError(f"{source}: torch.export.export failed ({_export_failure(exc)}); {_export_hint(exc)}") from exc
    finally:
        module.train(was_training)
    return load_exported_program(ep, source=source)


#: the line of a torch.export error after which it names the user's code that raised it
_RAISED_AT = "The following call raised this error:"


def _export_failure(exc: BaseException, limit: int = 200) -> str:
    """``torch.export.export``'s error as one line: its class, the first line of its message (torch names the cause
    first, then advice and boilerplate) and, where torch names it, the line of the model's code that raised it.

    Until 2026-12-04 the message's last line was taken: a model branching on a tensor's value (``if x.sum() > 0``)
    read "The error above occurred when calling torch.export.export. If you would like to view some more information
    about this error, and get a list of all other errors that may occur in your export call, you", cut there, instead
    of "Could not guard on data-dependent expression ..." and where.
    """
    text = f"{type(exc).__name__}: {error_line(exc, limit)}"
    lines = [ln.strip() for ln in str(exc).splitlines()]
    if _RAISED_AT in lines:
        at = [ln for ln in lines[lines.index(_RAISED_AT) + 1:] if ln][:2]
        if len(at) == 2 and at[0].startswith('File "'):
            file, _, rest = at[0].removeprefix('File "').partition('", line ')
            text += f" at {Path(file).name}:{rest.split(',')[0]}: {at[1][:100]}"
    return text


def _export_hint(exc: BaseException) -> str:
    """The fix :func:`load_torch` names for an export failure: the inputs' form (a TypeError), the model's
    data-dependent control flow or shapes (a guard on a data-dependent value), else both the inputs and the model
    (until 2026-12-04 every failure but a TypeError read "no data-dependent control flow", also a Linear(8, 8) given
    a 3x5 input)."""
    if isinstance(exc, TypeError):
        return ("example_inputs must match forward()'s parameters: a tensor, a tuple of positional inputs, or "
                "keyword(-only) inputs as a dict: example_inputs={'x': x, 'mask': mask}")
    if "DataDependent" in type(exc).__name__:
        return ("forward() branches on or sizes a tensor by its values, which torch.export cannot trace: rewrite it "
                "without data-dependent control flow (torch.cond, torch.where) or export it to ONNX")
    return ("check that module(*example_inputs) runs (the shapes and dtypes forward() expects), then make the model "
            "exportable (no data-dependent control flow) or export it to ONNX")


def load_pt2(path: str | Path, shapes: Mapping[str, tuple[int, ...]] | None = None, batch: int | None = None) -> LoadedModel:
    """Load a ``torch.export.save``-d program (``.pt2``).

    ``batch`` / ``shapes`` bind its dynamic dims (``torch.export.Dim``) within the exported range; a
    program without dynamic dims has the shapes it was exported with, and passing either is an error.
    """
    from hybridperf.frontends.common import check_model_file  # noqa: PLC0415

    p = Path(path)
    check_model_file(p)
    torch = _import_torch()
    try:
        with torch_logs_captured():  # torch 2.14 logs a traceback (WARNING) before it raises on a corrupt archive
            ep = torch.export.load(str(p))
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot read {p} as a torch.export program ({type(exc).__name__}); re-export it with torch.export.save") from exc
    return load_exported_program(ep, source=str(p), shapes=shapes, batch=batch)
