"""What TVM's static memory planner sees of ``main``, as plain Python values: the call stream.

``StaticPlanBlockMemory`` walks ``main`` after ``FuseTIR`` → ``RewriteDataflowReshape`` →
``ToNonDataflow`` → ``RemovePurityChecking`` → ``CallTIRRewrite``
(:func:`hybridperf.ir.lowering.to_memory_plannable`): an ``alloc_tensor`` per kernel output,
then the kernel call on its inputs and outputs. The planner
(:func:`hybridperf.analysis.memory.plan_stream`) reads only that order, which value each
call reads, and each allocation's bytes, dtype and scope. Two ways to get them:

* :func:`of_lowered` reads them off the module those passes return;
* :func:`of_fused` builds the same stream straight from the module ``FuseOps`` returns,
  without running the passes. ``FuseTIR`` merges the TIR of each fused group into one kernel
  (about two thirds of the memory-planning time of a CNN), yet the planner only needs the
  group's call signature, which the fused Relax function already has. Where the passes could
  do something this emulation does not cover, it returns None and the caller runs them.

``tests/test_call_stream.py`` checks both give the same stream (and so the same plan) on the
test models and zoo exports, fused and unfused.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

from hybridperf.ir import tvm_compat as _tvm
from hybridperf.ir.lowering import ALIAS_OPS

__all__ = ["Binding", "CallStream", "Item", "Kind", "ReshapePatterns", "of_fused", "of_lowered"]

ALLOC_OP = "relax.builtin.alloc_tensor"
#: call kinds whose lowering :func:`of_fused` does not emulate (it returns None on them)
_NOT_EMULATED_PREFIXES = ("relax.call_", "relax.vm.", "relax.builtin.", "relax.memory.", "relax.invoke_")


class Kind(Enum):
    """What a binding of the planned ``main`` does."""

    ALLOC = "alloc"  # builtin.alloc_tensor
    ALIAS = "alias"  # a view of its argument's storage (reshape, memory.view, ...)
    KERNEL = "kernel"  # a call into a PrimFunc (or an extern function)
    CALL = "call"  # any other call (its arguments are never planned)
    VALUE = "value"  # no call: a variable, tuple or tuple item


class Item(NamedTuple):
    """``of[index]`` (a ``TupleGetItem``)."""

    of: Any
    index: int


class Binding(NamedTuple):
    """One binding. An expression is a variable key, a Python tuple of expressions, an
    :class:`Item`, or None (a constant, shape or other value that holds no planned storage).
    Named tuples rather than frozen dataclasses: a BERT-base stream has ~2,000 of them."""

    var: Any
    kind: Kind
    #: ALIAS: (source,); KERNEL / CALL: the call's arguments; VALUE: (value,); ALLOC: ()
    args: tuple = ()
    name: str = ""
    nbytes: int | None = None
    dtype: str = ""
    scope: str = "global"


class CallStream(NamedTuple):
    """The bindings of ``main``, block by block, and the expression it returns."""

    blocks: tuple[tuple[Binding, ...], ...]
    output: Any


class ReshapePatterns:
    """TVM's ``has_reshape_pattern`` (about 0.1 ms a PrimFunc), remembered per PrimFunc body.

    The tagged copies of one legalized PrimFunc (:mod:`hybridperf.ir.lowering`) share its body,
    so a session answers each op signature once. Each entry holds its body, so an address is
    never re-used while remembered; at most ``keep`` entries (oldest dropped first).
    """

    def __init__(self, keep: int = 65536) -> None:
        self.keep = keep
        self._memo: dict[int, tuple[Any, bool]] = {}

    def __call__(self, prim_func: Any) -> bool:
        body = prim_func.body
        key = _tvm.node_id(body)
        got = self._memo.get(key)
        if got is not None and got[0].same_as(body):
            return got[1]
        _, relax = _tvm.tvm_modules()
        flag = bool(relax.analysis.has_reshape_pattern(prim_func))
        while len(self._memo) >= self.keep:
            self._memo.pop(next(iter(self._memo)))
        self._memo[key] = (body, flag)
        return flag

    def __len__(self) -> int:
        return len(self._memo)


def _expr(e: Any) -> Any:
    if _tvm.is_var(e):
        return e
    if _tvm.is_tuple(e):
        return tuple(_expr(f) for f in _tvm.items(e.fields))
    if _tvm.is_tuple_get_item(e):
        return Item(_expr(_tvm.tuple_of(e)), int(e.index))
    return None


def _is_prim_call(mod: Any, call: Any) -> bool:
    """A call into a kernel (PrimFunc, extern or dynamic ``call_tir``), as TVM's planner tells them."""
    op = call.op
    if _tvm.is_extern_func(op):
        return True
    if _tvm.op_name(call) == "relax.vm.call_tir_dyn":
        return True
    if _tvm.is_global_var(op):
        try:
            return _tvm.is_prim_func(mod[op])
        except Exception:  # noqa: BLE001
            return False
    return False


def of_lowered(lowered: Any, func_name: str = "main") -> CallStream:
    """The call stream of ``lowered[func_name]`` (the output of
    :func:`hybridperf.ir.lowering.to_memory_plannable`)."""
    func = lowered[func_name]
    blocks = []
    for block in func.body.blocks:
        out = []
        for b in block.bindings:
            var, v = b.var, b.value
            if not _tvm.is_call(v):
                out.append(Binding(var, Kind.VALUE, (_expr(v),)))
                continue
            opn = _tvm.op_name(v)
            if opn == ALLOC_OP:
                info = _tvm.tensor_infos(_tvm.expr_type(v))[0]
                scope = _tvm.to_py(v.args[3]) if len(v.args) > 3 else "global"
                out.append(Binding(var, Kind.ALLOC, (), _tvm.var_name(var), info.nbytes, info.dtype, str(scope)))
            elif opn in ALIAS_OPS:
                out.append(Binding(var, Kind.ALIAS, (_expr(v.args[0]),)))
            else:
                kind = Kind.KERNEL if _is_prim_call(lowered, v) else Kind.CALL
                out.append(Binding(var, kind, tuple(_expr(a) for a in _tvm.items(v.args))))
        blocks.append(tuple(out))
    return CallStream(tuple(blocks), _expr(func.body.body))


class _FusedWalk:
    """One :func:`of_fused` run: the stream being built and the names ``CallTIRRewrite`` would give."""

    def __init__(self, mod: Any, reshape_pattern: Callable[[Any], bool]) -> None:
        self.mod = mod
        self.reshape_pattern = reshape_pattern
        self.allocs = 0
        self.out: list[Binding] = []
        self._groups: dict[Any, bool] = {}  # fused function -> whether FuseTIR's kernel is emulated

    def alloc_name(self) -> str:
        """``alloc``, ``alloc1``, ... (the builder's fresh names for ``CallTIRRewrite``'s allocations)."""
        k = self.allocs
        self.allocs += 1
        return "alloc" if k == 0 else f"alloc{k}"

    def kernel(self, var: Any, args: list[Any], out_type: Any) -> bool:
        """``CallTIRRewrite`` of ``var = call_tir(f, args, out_type)`` (``args`` already as stream
        expressions): one allocation per output, the call, the result bound to ``var``."""
        infos = _tvm.tensor_infos(out_type)
        if not infos or any(i.nbytes is None for i in infos):
            return False
        if _tvm.is_tuple_type(out_type) and any(_tvm.is_tuple_type(f) for f in _tvm.items(out_type.fields)):
            return False  # a nested tuple of outputs: not emulated
        allocs = []
        for info in infos:
            key = object()
            self.out.append(Binding(key, Kind.ALLOC, (), self.alloc_name(), info.nbytes, info.dtype))
            allocs.append(key)
        self.out.append(Binding(object(), Kind.KERNEL, (*args, *allocs)))
        self.out.append(Binding(var, Kind.VALUE, (tuple(allocs) if _tvm.is_tuple_type(out_type) else allocs[0],)))
        return True

    def flatten(self, arg: Any, ty: Any) -> list[Any]:
        """``FuseTIR``'s ``FlattenArg``: a tuple-typed argument becomes one bound item per tensor."""
        if not _tvm.is_tuple_type(ty):
            return [arg]
        flat: list[Any] = []
        for i, field in enumerate(_tvm.items(ty.fields)):
            key = object()
            self.out.append(Binding(key, Kind.VALUE, (Item(arg, i),)))
            flat.extend(self.flatten(key, field))
        return flat

    def group_emulated(self, gv: Any, func: Any) -> bool:
        """Whether ``FuseTIR``'s kernel for fused function ``gv`` is a plain kernel call here: its
        body is ``call_tir`` and tuple bindings, and it is not one lone reshape-pattern
        PrimFunc (``RewriteDataflowReshape`` could turn its kernel into a view)."""
        got = self._groups.get(gv)
        if got is None:
            prims = []
            got = True
            for b in _tvm.bindings(func):
                if _tvm.is_call(b.value):
                    if _tvm.op_name(b.value) != "relax.call_tir" or len(b.value.args) != 2:
                        got = False
                        break
                    prims.append(b.value.args[0])
            if got and len(prims) == 1:
                got = not self.reshape_pattern(self.mod[prims[0]])
            self._groups[gv] = got
        return got

    def call_tir(self, var: Any, call: Any, in_dataflow: bool) -> bool:
        """A ``call_tir`` left unfused: a view where ``RewriteDataflowReshape`` makes it one, else a kernel."""
        args = call.args
        if len(args) != 2 or not _tvm.is_tuple(args[1]) or not _tvm.is_global_var(args[0]):
            return False
        fields = _tvm.items(args[1].fields)
        view = self._reshape_view(var, call, fields, in_dataflow)
        if view is False:
            return False
        if view is not None:
            self.out.append(Binding(var, Kind.ALIAS, (_expr(view),)))
            return True
        return self.kernel(var, [_expr(f) for f in fields], _tvm.expr_type(call))

    def _reshape_view(self, var: Any, call: Any, fields: list[Any], in_dataflow: bool) -> Any:
        """The argument ``RewriteDataflowReshape`` would reshape ``call`` from, None (a kernel stays a
        kernel) or False (not emulated: a reshape PrimFunc with a tuple, or several tensors, in or out)."""
        if not in_dataflow or not _is_dataflow_var(var):
            return None
        if not self.reshape_pattern(self.mod[call.args[0]]):
            return None
        out_type = _tvm.expr_type(call)
        if len(fields) != 1 or _tvm.is_tuple_type(out_type) or not _tvm.has_type(fields[0]):
            return False
        arg_type = _tvm.expr_type(fields[0])
        if _tvm.is_tuple_type(arg_type):
            return False
        src, res = _tvm.tensor_infos(arg_type), _tvm.tensor_infos(out_type)
        if len(src) != 1 or len(res) != 1 or src[0].shape is None or res[0].shape is None:
            return False
        if src[0].dtype != res[0].dtype or src[0].numel != res[0].numel:
            return None
        return fields[0]


def _is_dataflow_var(var: Any) -> bool:
    _, relax = _tvm.tvm_modules()
    return isinstance(var, relax.DataflowVar)


def _is_primitive(func: Any) -> bool:
    attrs = getattr(func, "attrs", None)
    if attrs is None or "Primitive" not in attrs:
        return False
    return bool(int(attrs["Primitive"]))


def of_fused(fused: Any, reshape_pattern: Callable[[Any], bool] | None = None,
             func_name: str = "main") -> CallStream | None:
    """The call stream :func:`of_lowered` reads after the passes of
    :func:`~hybridperf.ir.lowering.to_memory_plannable`, built from their input ``fused`` (the
    output of :func:`~hybridperf.ir.lowering.fuse`, or a tagged module when unfused) without
    running them; None where a construct is not emulated (the caller then runs the passes).

    Emulated: a call to a fused (``Primitive``) function becomes one kernel on its flattened
    arguments (``FuseTIR``); a ``call_tir`` on a reshape-pattern PrimFunc inside a dataflow
    block becomes a view (``RewriteDataflowReshape``); each kernel gets one ``alloc_tensor``
    per output, named as ``CallTIRRewrite`` names them. ``reshape_pattern`` is TVM's
    ``has_reshape_pattern`` (default: a :class:`ReshapePatterns` for this module alone; a session
    passes its own).
    """
    tvm, relax = _tvm.tvm_modules()
    if reshape_pattern is None:
        reshape_pattern = ReshapePatterns()
    walk = _FusedWalk(fused, reshape_pattern)
    func = fused[func_name]
    blocks = []
    for block in func.body.blocks:
        in_dataflow = isinstance(block, relax.DataflowBlock)
        walk.out = []
        for b in block.bindings:
            if not isinstance(b, relax.VarBinding):
                return None
            var, v = b.var, b.value
            if not _tvm.is_call(v):
                walk.out.append(Binding(var, Kind.VALUE, (_expr(v),)))
                continue
            op = v.op
            if _tvm.is_global_var(op):
                callee = fused[op]
                if not (_tvm.is_relax_function(callee) and _is_primitive(callee) and walk.group_emulated(op, callee)):
                    return None
                flat = [f for a in _tvm.items(v.args) for f in walk.flatten(_expr(a), _tvm.expr_type(a))]
                if not walk.kernel(var, flat, _tvm.expr_type(v)):
                    return None
                continue
            if not isinstance(op, tvm.ir.Op):
                return None
            opn = op.name
            if opn == "relax.call_tir":
                if not walk.call_tir(var, v, in_dataflow):
                    return None
            elif opn in ALIAS_OPS:
                walk.out.append(Binding(var, Kind.ALIAS, (_expr(v.args[0]),)))
            elif opn.startswith(_NOT_EMULATED_PREFIXES):
                return None
            else:
                walk.out.append(Binding(var, Kind.CALL, tuple(_expr(a) for a in _tvm.items(v.args))))
        blocks.append(tuple(walk.out))
    return CallStream(tuple(blocks), _expr(func.body.body))
