"""Exact peak memory from tensor lifetimes.

Works on the module exactly as TVM's ``StaticPlanBlockMemory`` sees it (after
``CallTIRRewrite``: explicit ``builtin.alloc_tensor`` + calls to PrimFuncs).

Three figures are reported for activations:

* ``planned_bytes``  what TVM's planner allocates: the same token / reference
  count / size-matched reuse policy (pool per storage scope and dtype, reuse
  window ``[size/16, size*16]``, larger-or-equal block first, else the largest
  smaller block enlarged), plus tensors it does not plan (function outputs).
  It equals the sum of ``memory.alloc_storage`` sizes after TVM's pass, i.e.
  the "with memory planning" figure of ``relax.analysis.estimate_memory_usage``.
* ``live_peak_bytes`` the ideal lower bound: the largest sum of tensors alive
  at once (definition to last use, in execution order).
* ``no_reuse_bytes`` every allocation kept for the whole run.

Runtime peak = planned activations + weights + inputs. An op no planned kernel computes (no
legalization and no library dispatch, or a runtime function that allocates its own output, such as
NonZero's: :func:`hybridperf.ir.lowering.ops_outside_plan`) has outputs no planner sees; the plan
names it in :attr:`MemoryPlan.ops_outside_plan` and is then a lower bound
(:attr:`MemoryPlan.lower_bound_reason`), never a silent undercount.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from hybridperf.ir import call_stream, lowering
from hybridperf.ir import tvm_compat as _tvm
from hybridperf.ir.call_stream import CallStream, Item, Kind

MATCH_RANGE = 16


@dataclass(frozen=True)
class TensorLifetime:
    """One allocated activation tensor: bytes and [first, last] call step."""

    name: str
    nbytes: int
    dtype: str
    start: int
    end: int
    planned: bool


@dataclass(frozen=True)
class MemoryPlan:
    """Activation memory of one function, and the model's runtime peak.

    The activation figures are ``None`` when no plan could be made (symbolic
    shapes, lowering failed): unknown, never 0. :attr:`unknown_reason` says why.
    """

    planned_bytes: int | None
    storage_bytes: tuple[int, ...]
    unplanned_bytes: int | None
    no_reuse_bytes: int | None
    live_peak_bytes: int | None
    weight_bytes: int
    input_bytes: int
    lifetimes: tuple[TensorLifetime, ...] = field(repr=False, default=())
    timeline_bytes: tuple[int, ...] = field(repr=False, default=())
    #: dtype of each ``storage_bytes`` block (TVM pools storage per dtype)
    storage_dtypes: tuple[str, ...] = field(repr=False, default=())
    unknown_reason: str = ""
    #: largest buffer one compiled kernel allocates inside itself (TVM runtime peak); None when not
    #: computed (``analyze(..., workspace=True)``: it lowers every kernel, ~0.5-2 s)
    workspace_bytes: int | None = None
    #: ``(op name, bytes of its outputs or None: data-dependent)`` of each op no planned kernel computes
    #: (:func:`hybridperf.ir.lowering.ops_outside_plan`): outputs not in the plan. Sizes as analysed (an
    #: override does not re-size them)
    ops_outside_plan: tuple[tuple[str, int | None], ...] = ()
    #: what the figures above plan where it is not the module as imported ("" then): ``"int8"``, the execution the
    #: latency prices for a quantized model (:func:`hybridperf.analysis.int8.int8_memory_plan`: a folded dequantize
    #: allocates nothing, an int8 kernel writes int8 bytes)
    execution: str = ""
    #: TVM's own plan of the module as imported (every dequantize a float32 tensor), where :attr:`execution` plans
    #: another execution of it; None when the figures above are that plan
    as_imported: MemoryPlan | None = field(repr=False, default=None)

    @classmethod
    def unknown(cls, weight_bytes: int, input_bytes: int, reason: str) -> MemoryPlan:
        """No activation plan: weights and inputs are known, activations (and so the peak) are not."""
        return cls(None, (), None, None, None, weight_bytes, input_bytes, unknown_reason=reason)

    @property
    def known(self) -> bool:
        return self.planned_bytes is not None

    @property
    def lower_bound_reason(self) -> str:
        """Why the activation figures are a lower bound ("" when they are not): the ops whose outputs no
        planner saw, with their bytes."""
        if not self.known or not self.ops_outside_plan:
            return ""
        listed = ", ".join(f"{op} ({'size unknown' if nbytes is None else f'{nbytes} B'})"
                           for op, nbytes in self.ops_outside_plan)
        return f"op outputs not in TVM's plan: {listed}"

    @property
    def peak_bytes(self) -> int | None:
        """Runtime peak: planned activations + weights + inputs (None when activations are unknown)."""
        if self.planned_bytes is None:
            return None
        return self.planned_bytes + self.weight_bytes + self.input_bytes

    def resized(self, stored_bytes: Callable[[str, int], int], weight_bytes: int, input_bytes: int) -> MemoryPlan:
        """This plan with every activation re-sized by ``stored_bytes(dtype, nbytes)`` (a precision
        override storing float32 tensors in fewer bytes), and the given weight and input totals.

        Each storage block is re-sized by its pool's dtype, the same as re-planning with the new
        sizes (TVM's reuse window ``[size/16, size*16]`` is scale-free) up to integer rounding.
        The kernel workspace (no dtype of its own) is re-sized as float32 when every activation is
        float32, else kept as it is (never under-stated).
        """
        imported = self.as_imported
        if imported is not None:
            imported = imported.resized(stored_bytes, weight_bytes, input_bytes)
        if not self.known:
            return replace(self, weight_bytes=weight_bytes, input_bytes=input_bytes, as_imported=imported)
        workspace = self.workspace_bytes
        if workspace is not None and all(lt.dtype == "float32" for lt in self.lifetimes):
            workspace = stored_bytes("float32", workspace)
        lifetimes = tuple(replace(lt, nbytes=stored_bytes(lt.dtype, lt.nbytes)) for lt in self.lifetimes)
        storage = tuple(stored_bytes(dt, n) for dt, n in zip(self.storage_dtypes, self.storage_bytes))
        unplanned = sum(lt.nbytes for lt in lifetimes if not lt.planned)
        timeline = _timeline(lifetimes, len(self.timeline_bytes))
        return replace(
            self,
            planned_bytes=sum(storage) + unplanned,
            storage_bytes=storage,
            unplanned_bytes=unplanned,
            no_reuse_bytes=sum(lt.nbytes for lt in lifetimes),
            live_peak_bytes=max(timeline) if timeline else 0,
            weight_bytes=weight_bytes,
            input_bytes=input_bytes,
            lifetimes=lifetimes,
            timeline_bytes=tuple(timeline),
            workspace_bytes=workspace,
            as_imported=imported,
        )


def _timeline(lifetimes: tuple[TensorLifetime, ...], steps: int) -> list[int]:
    """Bytes alive at each call step (a tensor lives from its definition to its last use)."""
    timeline = [0] * max(steps, 1)
    for lt in lifetimes:
        for t in range(lt.start, min(lt.end, len(timeline) - 1) + 1):
            timeline[t] += lt.nbytes
    return timeline


class _Token:
    __slots__ = ("nbytes", "dtype", "scope", "block", "refs", "discarded", "storage", "static")

    def __init__(self, nbytes: int | None, dtype: str, scope: str, block: int):
        self.nbytes = nbytes if nbytes is not None else -1
        self.static = nbytes is not None
        self.dtype = dtype
        self.scope = scope
        self.block = block
        self.refs = 0
        self.discarded = False
        self.storage: _Storage | None = None


class _Storage:
    __slots__ = ("nbytes", "refs", "sid")

    def __init__(self, nbytes: int, sid: int):
        self.nbytes = nbytes
        self.refs = 0
        self.sid = sid


def _leaves(tok: Any) -> list[Any]:
    if tok is None:
        return []
    if isinstance(tok, list):
        out = []
        for t in tok:
            out.extend(_leaves(t))
        return out
    return [tok]


def plan_memory(lowered: Any, weight_bytes: int = 0, input_bytes: int = 0, func_name: str = "main") -> MemoryPlan:
    """Plan activation memory of ``lowered[func_name]`` and measure lifetimes (:func:`plan_stream`
    on its :func:`~hybridperf.ir.call_stream.of_lowered` stream).

    Parameters
    ----------
    lowered : tvm.IRModule
        Output of :func:`hybridperf.ir.lowering.to_memory_plannable`.
    """
    outside = {**lowering.ops_outside_plan(lowered, func_name), **run_time_allocations(lowered, func_name)}
    return plan_stream(call_stream.of_lowered(lowered, func_name), weight_bytes, input_bytes,
                       ops_outside_plan=outside)


def run_time_allocations(lowered: Any, func_name: str = "main") -> dict[str, None]:
    """Kernel outputs of ``lowered[func_name]`` whose size is known only at run time: a ``builtin.alloc_tensor``
    of symbolic shape (NonMaxSuppression's selected boxes: a ``dynamic_strided_slice`` of its fixed-size result
    to the count found, and every tensor computed from them). TVM's planner gives such a tensor no static
    storage, or a block of symbolic size; either way none of its bytes are in the planned figures.

    Returns
    -------
    dict of str to None
        ``"<kernel> run-time output"`` -> None (size unknown), for :attr:`MemoryPlan.ops_outside_plan`.
    """
    dynamic: set[Any] = set()
    out: dict[str, None] = {}
    for b in _tvm.bindings(lowered[func_name]):
        v = b.value
        if not _tvm.is_call(v):
            continue
        if _tvm.is_global_var(v.op) or _tvm.is_extern_func(v.op):
            if any(_tvm.is_var(a) and a in dynamic for a in _tvm.items(v.args)):
                name = str(v.op.global_symbol) if _tvm.is_extern_func(v.op) else str(v.op.name_hint)
                out[f"{name} run-time output"] = None
        elif _tvm.op_name(v) == call_stream.ALLOC_OP and any(
                i.nbytes is None for i in _tvm.tensor_infos(_tvm.expr_type(v))):
            dynamic.add(b.var)
    return out


def plan_stream(stream: CallStream, weight_bytes: int = 0, input_bytes: int = 0,
                ops_outside_plan: dict[str, int | None] | None = None) -> MemoryPlan:
    """Plan activation memory of a call stream and measure lifetimes, in TVM's three steps: count
    the references of every allocation (:func:`_count_references`), then walk the calls
    allocating with size-matched reuse (:class:`_Allocator`) while sweeping live ranges
    (:func:`_sweep`).

    Parameters
    ----------
    stream : CallStream
        What TVM's planner walks: :func:`hybridperf.ir.call_stream.of_lowered` of the lowered
        module, or :func:`~hybridperf.ir.call_stream.of_fused` (the same, without lowering).
    ops_outside_plan : dict of str to int or None, optional
        :func:`hybridperf.ir.lowering.ops_outside_plan` of the module the stream comes from: ops whose
        outputs the stream holds no allocation for (the plan is then a lower bound naming them).
    """
    tokens = _count_references(stream)
    allocator = _Allocator()
    sweep = _sweep(stream, tokens, allocator)
    storages = allocator.storages
    lifetimes = tuple(
        TensorLifetime(nm, nb, dt, sweep.first_use[n], sweep.last_use[n], pl)
        for n, (nb, dt, pl, nm) in sweep.lifetimes.items()
    )
    timeline = _timeline(lifetimes, sweep.steps)
    return MemoryPlan(
        planned_bytes=sum(s.nbytes for s in storages) + sweep.unplanned_bytes,
        storage_bytes=tuple(s.nbytes for s in storages),
        unplanned_bytes=sweep.unplanned_bytes,
        no_reuse_bytes=sweep.no_reuse_bytes,
        live_peak_bytes=max(timeline) if timeline else 0,
        weight_bytes=weight_bytes,
        input_bytes=input_bytes,
        lifetimes=lifetimes,
        timeline_bytes=tuple(timeline),
        storage_dtypes=tuple(allocator.pool_of[s.sid][1] for s in storages),
        ops_outside_plan=tuple(sorted((ops_outside_plan or {}).items())),
    )


class Resized(NamedTuple):
    """A kernel output allocated at another size and dtype (:func:`rewrite_outputs`)."""

    nbytes: int
    dtype: str


class Aliased(NamedTuple):
    """A kernel output that is another value's storage (:func:`rewrite_outputs`): a stream expression, or None
    (a constant or weight: no activation storage)."""

    source: Any


def rewrite_outputs(stream: CallStream, fates: Mapping[Any, Sequence[Resized | Aliased | None]]) -> CallStream:
    """``stream`` with the outputs of some kernels changed: ``fates`` maps the var a kernel's results are bound to
    (one entry per output tensor, in order; None: as it is) to :class:`Resized` or :class:`Aliased`. An aliased
    output's allocation is dropped and its var reads the source; a kernel whose every output is aliased is dropped
    (nothing computes them). Kernel calls are taken as :func:`~hybridperf.ir.call_stream.of_fused` and
    :func:`~hybridperf.ir.call_stream.of_lowered` write them: allocations, the call on its inputs and them, then
    the result bound to a var."""
    fate_of: dict[Any, Resized | Aliased] = {}  # allocation -> its fate
    for block in stream.blocks:
        for b in block:
            outs = fates.get(b.var) if b.kind is Kind.VALUE else None
            if outs is None:
                continue
            allocs = b.args[0] if type(b.args[0]) is tuple else (b.args[0],)
            for a, fate in zip(allocs, outs):
                if fate is not None and _is_var_key(a):
                    fate_of[a] = fate
    if not fate_of:
        return stream
    allocated: set[Any] = set()
    blocks = []
    for block in stream.blocks:
        out = []
        for b in block:
            if b.kind is Kind.ALLOC:
                allocated.add(b.var)
                fate = fate_of.get(b.var)
                if isinstance(fate, Resized):
                    out.append(b._replace(nbytes=fate.nbytes, dtype=fate.dtype))
                elif fate is None:
                    out.append(b)
            elif b.kind is Kind.KERNEL:
                mine = [a for a in b.args if _is_var_key(a) and a in allocated]
                gone = [a for a in mine if isinstance(fate_of.get(a), Aliased)]
                if mine and len(gone) == len(mine):
                    continue
                out.append(b._replace(args=tuple(a for a in b.args if not any(a is g for g in gone))) if gone else b)
            elif b.kind is Kind.VALUE and b.var in fates:
                out.append(b._replace(args=(_fated(b.args[0], fate_of),)))
            else:
                out.append(b)
        blocks.append(tuple(out))
    return CallStream(tuple(blocks), stream.output)


def _fated(expr: Any, fate_of: Mapping[Any, Resized | Aliased]) -> Any:
    """A kernel's result expression with each aliased allocation replaced by its source."""
    if type(expr) is tuple:
        return tuple(_fated(e, fate_of) for e in expr)
    fate = fate_of.get(expr) if _is_var_key(expr) else None
    return fate.source if isinstance(fate, Aliased) else expr


def _is_var_key(expr: Any) -> bool:
    """Whether a stream expression is a variable (not a tuple, tuple item or other value)."""
    return expr is not None and type(expr) is not tuple and type(expr) is not Item


def _count_references(stream: CallStream) -> dict[Any, Any]:
    """Step 1: a token per ``alloc_tensor`` with the number of kernel calls that read it; a token
    reaching anything else (another block, a non-kernel call, the function's result) is discarded
    (never planned). Returns var -> token, list of tokens or None."""
    tokens: dict[Any, Any] = {}

    def get(expr: Any) -> Any:
        if expr is None:
            return None
        kind = type(expr)
        if kind is tuple:
            return [get(f) for f in expr]
        if kind is Item:
            t = get(expr.of)
            return t[expr.index] if isinstance(t, list) else None
        return tokens.get(expr)  # Vars are keys by identity: TVM reuses name hints (lv4 can be bound twice)

    def discard(tok: Any) -> None:
        for t in _leaves(tok):
            t.discarded = True

    for bi, block in enumerate(stream.blocks):
        for b in block:
            kind = b.kind
            if kind is Kind.ALLOC:
                tokens[b.var] = _Token(b.nbytes, b.dtype, b.scope, bi)
            elif kind is Kind.KERNEL:
                for a in b.args:
                    for t in _leaves(get(a)):
                        if t.block != bi:
                            t.discarded = True
                        else:
                            t.refs += 1
                tokens[b.var] = None
            elif kind is Kind.CALL:
                for a in b.args:
                    discard(get(a))
                tokens[b.var] = None
            else:  # an alias of its argument's storage, or a value
                tokens[b.var] = get(b.args[0])
    discard(get(stream.output))
    return tokens


class _Allocator:
    """Step 2: storage blocks pooled per (scope, dtype), reused within ``[size/16, size*16]``:
    an equal-or-larger block first, else the largest smaller one enlarged (TVM's
    ``TokenAllocator1D``)."""

    def __init__(self) -> None:
        self.pools: dict[tuple[str, str], list[tuple[int, int, _Storage]]] = {}
        self.storages: list[_Storage] = []
        self.pool_of: dict[int, tuple[str, str]] = {}
        self.seq = 0

    def request(self, tok: _Token) -> _Storage:
        pool = self.pools.setdefault((tok.scope, tok.dtype), [])
        # like TVM's TokenAllocator1D::RequestReuse: a tensor no kernel reads (0 references)
        # gets fresh storage, never a pooled block
        if tok.static and tok.refs > 0:
            size = tok.nbytes
            keys = [k for k, _, _ in pool]
            begin = bisect.bisect_left(keys, size // MATCH_RANGE)
            mid = bisect.bisect_left(keys, size)
            end = bisect.bisect_right(keys, size * MATCH_RANGE)
            if mid != end:
                _, _, st = pool.pop(mid)
                st.refs = tok.refs
                return self._owned(st, tok)
            if mid != begin:
                _, _, st = pool.pop(mid - 1)
                st.nbytes = size
                st.refs = tok.refs
                return self._owned(st, tok)
        st = _Storage(tok.nbytes, len(self.storages))
        st.refs = tok.refs
        self.storages.append(st)
        return self._owned(st, tok)

    def _owned(self, st: _Storage, tok: _Token) -> _Storage:
        self.pool_of[st.sid] = (tok.scope, tok.dtype)
        return st

    def release(self, st: _Storage) -> None:
        ents = self.pools.setdefault(self.pool_of[st.sid], [])
        keys = [k for k, _, _ in ents]
        pos = bisect.bisect_right(keys, st.nbytes)  # multimap: after equal keys
        ents.insert(pos, (st.nbytes, self.seq, st))
        self.seq += 1


@dataclass
class _Sweep:
    """What step 3 found: per allocation (bytes, dtype, planned, name) and its first / last call step."""

    lifetimes: dict[Any, tuple[int, str, bool, str]] = field(default_factory=dict)
    first_use: dict[Any, int] = field(default_factory=dict)
    last_use: dict[Any, int] = field(default_factory=dict)
    unplanned_bytes: int = 0
    no_reuse_bytes: int = 0
    steps: int = 0


def _sweep(stream: CallStream, tokens: dict[Any, Any], allocator: _Allocator) -> _Sweep:
    """Step 3: walk the calls in order, giving each planned allocation its storage and each
    storage back when its last reader ran, and record every allocation's live range."""
    out = _Sweep()
    current: dict[Any, Any] = {}
    alias_root: dict[Any, Any] = {}
    step = 0
    for block in stream.blocks:
        for b in block:
            name = b.var
            kind = b.kind
            if kind is Kind.VALUE or kind is Kind.ALIAS:
                v = b.args[0]
                current[name] = _cur(current, v)
                if _is_var_key(v):
                    alias_root[name] = alias_root.get(v, v)
                continue
            if kind is Kind.ALLOC:
                tok = tokens[name]
                nbytes = tok.nbytes if tok.static else 0
                out.no_reuse_bytes += nbytes
                out.lifetimes[name] = (nbytes, tok.dtype, not tok.discarded, b.name)
                out.first_use[name] = step
                out.last_use[name] = step
                if tok.discarded or not tok.static:
                    out.unplanned_bytes += nbytes
                    current[name] = None
                    continue
                current[name] = allocator.request(tok)
                continue
            # a call: every allocated tensor it touches is live at this step
            for a in b.args:
                for n in _var_names(a):
                    root = alias_root.get(n, n)
                    if root in out.last_use:
                        out.last_use[root] = step
            for a in b.args:
                for st in _leaves(_cur(current, a)):
                    st.refs -= 1
                    if st.refs == 0:
                        allocator.release(st)
            current[name] = None
            step += 1
    out.steps = step
    return out


def _cur(current: dict[Any, Any], expr: Any) -> Any:
    if expr is None:
        return None
    kind = type(expr)
    if kind is tuple:
        return [_cur(current, f) for f in expr]
    if kind is Item:
        t = _cur(current, expr.of)
        return t[expr.index] if isinstance(t, list) else None
    return current.get(expr)


def _var_names(expr: Any) -> list[Any]:
    if type(expr) is tuple:
        out = []
        for f in expr:
            out.extend(_var_names(f))
        return out
    return [expr] if _is_var_key(expr) else []


def tvm_planned_bytes(lowered: Any, func_name: str = "main") -> int:
    """Ground truth from TVM itself: run ``StaticPlanBlockMemory`` and sum what it allocates.

    Sums ``memory.alloc_storage`` sizes plus the ``builtin.alloc_tensor`` it left
    unplanned, the same quantity ``relax.analysis.estimate_memory_usage`` prints
    (in GiB) as "with memory planning".
    """
    planned = lowering.plan_block_memory(lowered)
    total = 0
    for b in _tvm.bindings(planned[func_name]):
        v = b.value
        if not _tvm.is_call(v):
            continue
        opn = _tvm.op_name(v)
        if opn == "relax.memory.alloc_storage":  # a run-time (symbolic) size counts 0, as plan_memory's figures
            size = v.args[0].values[0]
            total += int(size.value) if hasattr(size, "value") else 0
        elif opn == "relax.builtin.alloc_tensor":
            total += _tvm.tensor_infos(_tvm.expr_type(v))[0].nbytes or 0
    return total
