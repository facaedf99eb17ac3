"""The one place that touches TVM's Python API (pinned to apache-tvm 0.27).

TVM's Relax API changes every minor release (0.26: ``expr.ty``; 0.27:
``GenericConst``, ``tvm.tirx``, ``tvm.s_tir``). Everything version-specific
lives here so the rest of the package reads plain Python values.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hybridperf.precision import tensor_bytes
from hybridperf.units import numel


@functools.cache
def tvm_modules():
    """Import TVM lazily (about 1-2 s); returns ``(tvm, relax)``."""
    import tvm
    from tvm import relax

    return tvm, relax


def start_tvm() -> None:
    """Import TVM and its ONNX frontend (about 1 s, once a process; at once where done before), so that a timed
    analysis after it is the model's own (:func:`hybridperf.residual.features.featurize_measured`'s ``analysis_s``)."""
    tvm_modules()
    import tvm.relax.frontend.onnx  # noqa: F401, PLC0415 - what the first ONNX import would load, on its clock


@dataclass(frozen=True)
class TensorInfo:
    """Static shape and dtype of one tensor; ``shape`` is None when symbolic."""

    shape: tuple[int, ...] | None
    dtype: str
    symbolic_dims: tuple[str, ...] = ()

    @property
    def numel(self) -> int | None:
        return None if self.shape is None else numel(self.shape)

    @property
    def nbytes(self) -> int | None:
        n = self.numel
        return None if n is None else tensor_bytes(self.dtype, n)


def items(array: Any) -> list[Any]:
    """The elements of a TVM array as a list, in one slice (iterating reads them one index check at a time)."""
    return array[:]


def node_id(node: Any) -> int:
    """Identity of the IR node behind a Python handle (two handles of one node share it); valid
    while the node is alive."""
    return node.__chandle__()


def tensor_infos(ty: Any) -> list[TensorInfo]:
    """Flatten a Relax type (tensor or nested tuple) into :class:`TensorInfo` leaves."""
    tvm, relax = tvm_modules()
    if isinstance(ty, relax.TupleType):
        out: list[TensorInfo] = []
        for f in ty.fields:
            out.extend(tensor_infos(f))
        return out
    if isinstance(ty, relax.TensorType):
        dtype = str(ty.dtype)
        shape_expr = ty.shape
        if shape_expr is None or not hasattr(shape_expr, "values"):
            return [TensorInfo(None, dtype, ("?",))]
        dims: list[int] = []
        sym: list[str] = []
        for v in items(shape_expr.values):
            if isinstance(v, tvm.tirx.IntImm):
                dims.append(int(v.value))
            else:
                sym.append(str(v))
        if sym:
            return [TensorInfo(None, dtype, tuple(sym))]
        return [TensorInfo(tuple(dims), dtype)]
    return []


def is_tuple_type(ty: Any) -> bool:
    _, relax = tvm_modules()
    return isinstance(ty, relax.TupleType)


def expr_type(expr: Any):
    return expr.ty


def has_type(expr: Any) -> bool:
    """Whether ``expr`` carries a Relax type (a global or extern function does not)."""
    return hasattr(expr, "ty")


def tuple_of(item: Any) -> Any:
    """The tuple a ``TupleGetItem`` reads (``tuple_value`` in 0.27, ``tuple`` before)."""
    return item.tuple_value if hasattr(item, "tuple_value") else item.tuple


def is_constant(expr: Any) -> bool:
    tvm, relax = tvm_modules()
    return isinstance(expr, (tvm.ir.GenericConst, relax.Constant)) if hasattr(relax, "Constant") else isinstance(expr, tvm.ir.GenericConst)


def is_var(expr: Any) -> bool:
    _, relax = tvm_modules()
    return isinstance(expr, relax.Var)


def is_call(expr: Any) -> bool:
    _, relax = tvm_modules()
    return isinstance(expr, relax.Call)


def is_if(expr: Any) -> bool:
    """A Relax ``If`` (control flow on a run-time condition)."""
    _, relax = tvm_modules()
    return isinstance(expr, relax.If)


def is_tuple(expr: Any) -> bool:
    _, relax = tvm_modules()
    return isinstance(expr, relax.Tuple)


def is_tuple_get_item(expr: Any) -> bool:
    _, relax = tvm_modules()
    return isinstance(expr, relax.TupleGetItem)


def is_global_var(expr: Any) -> bool:
    tvm, _ = tvm_modules()
    return isinstance(expr, tvm.ir.GlobalVar)


def is_extern_func(expr: Any) -> bool:
    _, relax = tvm_modules()
    return isinstance(expr, relax.ExternFunc)


def is_relax_function(func: Any) -> bool:
    _, relax = tvm_modules()
    return isinstance(func, relax.Function)


def num_inputs(func: Any) -> int:
    """How many of ``func``'s leading parameters are inputs: its ``num_input`` attribute (TVM's convention for a
    function whose trailing parameters are its weights, as ``relax.frontend.onnx.from_onnx(...,
    keep_params_in_input=True)`` writes it), else all of them."""
    attrs = func.attrs
    n = attrs.get("num_input") if attrs is not None else None
    return len(func.params) if n is None else max(0, min(int(n), len(func.params)))


def op_name(call: Any) -> str:
    """``relax.nn.conv2d`` for an op call, the global name for a function call."""
    op = call.op
    if hasattr(op, "name") and isinstance(op.name, str):
        return op.name
    if hasattr(op, "name_hint"):
        return str(op.name_hint)
    return type(op).__name__


def op_exists(name: str) -> bool:
    tvm, _ = tvm_modules()
    try:
        tvm.ir.Op.get(name)
    except Exception:  # noqa: BLE001 - TVM raises AttributeError/TVMError depending on build
        return False
    return True


def var_name(var: Any) -> str:
    return str(var.name)


def bindings(func: Any) -> Iterator[Any]:
    """All bindings of a Relax function body, in execution order."""
    for block in func.body.blocks:
        yield from block.bindings


@functools.cache
def _binding_visitor() -> type:
    from tvm.relax.expr_functor import PyExprVisitor, visitor

    @visitor
    class BindingVisitor(PyExprVisitor):
        """Hands every binding to a callback and does not descend into bound values."""

        def __init__(self, on_binding) -> None:
            self.on_binding = on_binding

        def visit_var_binding_(self, binding) -> None:
            self.on_binding(binding)

        def visit_match_cast_(self, binding) -> None:
            self.on_binding(binding)

    return BindingVisitor


def visit_bindings(func: Any, on_binding: Any) -> None:
    """Call ``on_binding(binding)`` for every binding of a Relax function, in execution order,
    from a Relax ``PyExprVisitor`` (the same bindings as :func:`bindings`)."""
    _binding_visitor()(on_binding).visit_expr(func)


def end_open_blocks(builder: Any, scope: bool = False) -> None:
    """End the binding blocks a failed frontend import left open on its ``BlockBuilder`` (None: nothing), and with
    ``scope`` its function scope (the ONNX importer's; ending the torch importer's crashes TVM 0.27): TVM's C++
    builder otherwise logs "BlockBuilder destroyed with remaining blocks!" on stderr when it is freed, a second
    line after the one-line error."""
    if builder is None:
        return
    for _ in range(8):  # a function scope holds at most a couple of blocks
        try:
            builder._end_block()  # noqa: SLF001 - the counterpart of the frontend's own begin
        except Exception:  # noqa: BLE001 - no block left
            break
    if not scope:
        return
    try:
        builder.end_scope()
    except Exception:  # noqa: BLE001, S110 - failed before the function scope: nothing is open
        pass


def call_args(call: Any) -> list[Any]:
    """Flattened data arguments of a call (``call_tir``'s args tuple unpacked)."""
    _, relax = tvm_modules()
    args = list(call.args)
    if op_name(call) in ("relax.call_tir", "relax.call_tir_inplace", "relax.call_dps_packed") and len(args) >= 2:
        inner = args[1]
        return list(inner.fields) if isinstance(inner, relax.Tuple) else [inner]
    return args


def to_py(value: Any) -> Any:
    tvm, _ = tvm_modules()
    if value is None:
        return None
    if isinstance(value, (int, float, str, bool)):
        return value
    if hasattr(value, "value") and isinstance(getattr(value, "value"), (int, float, str, bool)):
        return value.value
    try:
        return [to_py(v) for v in value]
    except TypeError:
        return str(value)


def error_line(exc: BaseException) -> str:
    """The line of a TVM error that names the problem, with TVM's object dumps shortened.

    TVM messages end with the problem after a C++ traceback, and its printer
    writes an op as ``ir.Op(span=None, ..., name="relax.add", ...)`` (one
    500-character line) and an extent as ``T.int64(3)``; this gives
    ``relax.add`` and ``3``.
    """
    import re

    from hybridperf.errors import error_line as _error_line

    text = _error_line(exc, last=True)
    text = re.sub(r'ir\.Op\(.*?\bname="([^"]+)".*?support_level=\d+\)', r"\1", text)
    text = re.sub(r"T\.u?int\d+\((-?\d+)\)", r"\1", text)
    text = re.sub(r"R\.shape\(\[([^\]]*)\]\)", r"(\1)", text)
    return " ".join(text.split())


def empty_tensor(shape: tuple[int, ...], dtype: str) -> Any:
    """A CPU tensor of ``shape`` and ``dtype`` that holds zeros and costs virtual memory only: the stand-in
    for a weight left on disk.

    Its bytes are a fresh anonymous mapping (``mmap``), so they read as zeros and no page is backed until
    one is written; a read (``mod.script(show_meta=True)`` prints every constant) maps the kernel's zero
    page. Until 2026-12-05 this was ``tvm.runtime.empty``: below glibc's mmap threshold (dynamic, up to
    32 MB) the block was reused heap, so ``--show-meta`` printed leftover process memory (fragments of
    ONNX node names) that differed between two loads of one model, and a build of the module ran on it.

    Parameters
    ----------
    shape : tuple of int
        Static shape.
    dtype : str
        TVM dtype name (``"float32"``, ``"bfloat16"``, ``"int4"``: sub-byte types are packed as TVM
        sizes them).

    Returns
    -------
    tvm.runtime.Tensor
        A view of the mapping, which the tensor keeps alive.
    """
    import mmap  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    tvm, _ = tvm_modules()
    nbytes = tensor_bytes(dtype, numel(shape))
    pages = mmap.mmap(-1, max(nbytes, 1))  # anonymous, private: zeros, allocated on first write
    flat = tvm.runtime.from_dlpack(np.frombuffer(pages, dtype=np.uint8, count=nbytes))
    return flat._create_view(tuple(shape), dtype)  # noqa: SLF001 - the bytes as ``dtype``, no copy


def estimate_tir_flops(prim_func: Any) -> float:
    """TVM's FLOP estimate of a PrimFunc (2 per MAC; transcendentals count 0)."""
    tvm, _ = tvm_modules()
    from tvm.s_tir.analysis import estimate_tir_flops as _est

    return float(_est(tvm.IRModule({"main": prim_func})))


def evaluate_bindings(bindings: list[Any], var: Any) -> Any:
    """The value of ``var`` computed by ``bindings`` (a binding of ``main`` each, in order, every input a constant or
    a var one of them binds), as a numpy array: built for the CPU (``llvm``) and run by Relax's VM. About 1 s for
    the 51 bindings of a shifted-window mask of Swin-T (torch.export); raises what the build or the run raises."""
    tvm, relax = tvm_modules()
    fn = relax.Function([], relax.SeqExpr([relax.DataflowBlock(list(bindings))], var), expr_type(var))
    mod = tvm.IRModule({"main": fn})
    built = tvm.compile(mod, target="llvm") if hasattr(tvm, "compile") else relax.build(mod, target="llvm")
    return relax.VirtualMachine(built, tvm.cpu())["main"]().numpy()


def constant_array(const: Any) -> Any:
    """The contents of a Relax constant as a numpy array."""
    return const.value.numpy()


def constant_bytes(const: Any) -> bytes:
    """The raw contents of a Relax constant."""
    return constant_array(const).tobytes()


def global_var(name: str, ty: Any) -> Any:
    """A ``GlobalVar`` named ``name`` with Relax type ``ty`` (what ``BlockBuilder.add_func`` sets)."""
    tvm, relax = tvm_modules()
    from tvm.relax.expr import _update_type

    gvar = tvm.ir.GlobalVar(name)
    _update_type(gvar, ty)
    return gvar


def is_typed(expr: Any) -> bool:
    """Whether ``expr`` already has a Relax type (a call fresh from an op constructor has none yet:
    0.27 gives it a bare ``ir.Type``)."""
    tvm, _ = tvm_modules()
    ty = getattr(expr, "ty", None)
    return ty is not None and type(ty) is not tvm.ir.Type


def set_type(expr: Any, ty: Any) -> None:
    """Give an untyped ``expr`` its Relax type ``ty`` (a ``BlockBuilder`` then keeps it instead of inferring one)."""
    from tvm.relax.expr import _update_type

    _update_type(expr, ty)


def is_prim_func(func: Any) -> bool:
    tvm, _ = tvm_modules()
    return isinstance(func, tvm.tirx.PrimFunc)




def structural_hash(node: Any) -> int:
    """TVM's structural hash of an IR node (0.27: ``tvm_ffi.structural_hash``)."""
    import tvm_ffi

    return int(tvm_ffi.structural_hash(node))


def structural_equal(a: Any, b: Any) -> bool:
    """TVM's structural equality of two IR nodes (0.27: ``tvm_ffi.structural_equal``)."""
    import tvm_ffi

    return bool(tvm_ffi.structural_equal(a, b))


#: the logger that receives what TVM's C++ code logged during :func:`native_log_captured` (one record per line,
#: level DEBUG): a library does not write to the user's stderr; an application that wants the lines configures it
NATIVE_LOGGER = "hybridperf.tvm"


class native_log_captured:  # noqa: N801 - a context manager read as a phrase, like contextlib's
    """Keep what TVM's C++ logging writes to file descriptor 2 off the user's stderr while a TVM pass runs.

    TVM logs warnings with ``LOG(WARNING)`` straight to fd 2, bypassing Python: legalizing a Gather
    (``topi.take`` in its default ``mode="fast"``) writes "Fast mode segfaults when there are out-of-bounds
    indices" once per gather, and ``x ** 3`` "Detected pow(x, y) where y >= 3". There is no switch for this
    logging in TVM 0.27, and the ops are the frontend's (an ONNX Gather becomes ``relax.take`` in fast mode;
    another mode would change the kernels priced), so the lines are captured: fd 2 points to a temporary file
    inside the block; afterwards :attr:`lines` holds what was written, each line is logged at DEBUG to
    :data:`NATIVE_LOGGER`, and fd 2 is what it was. Python's own ``sys.stderr`` is flushed first. Nesting is
    fine (an inner block captures into its own file, the outer one sees nothing of it). Where fd 2 cannot be
    duplicated (a process started without it, ``sys.stderr`` None) the block runs uncaptured.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._saved: int | None = None
        self._tmp: Any = None

    def __enter__(self) -> native_log_captured:
        import os
        import sys
        import tempfile

        try:
            if sys.stderr is not None:  # None where the process started without fd 2 (until 2026-12-04 AttributeError)
                sys.stderr.flush()
            self._saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            return self
        self._tmp = tempfile.TemporaryFile()
        os.dup2(self._tmp.fileno(), 2)
        return self

    def __exit__(self, *exc: object) -> bool:
        import logging
        import os

        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._saved = None
        if self._tmp is not None:
            self._tmp.seek(0)
            self.lines = self._tmp.read().decode("utf-8", "replace").splitlines()
            self._tmp.close()
            self._tmp = None
            log = logging.getLogger(NATIVE_LOGGER)
            for line in self.lines:
                log.debug("%s", line)
        return False
