"""Lower an analysed Relax module the way TVM's build does, keeping op provenance.

``LegalizeOps`` turns each high-level op into ``call_tir`` on a PrimFunc, but
the block builder de-duplicates identical PrimFuncs and ``FuseOps`` de-duplicates
identical groups, which loses which original op a kernel came from. We give
every ``call_tir`` site its own PrimFunc copy tagged with the index of the
:class:`~hybridperf.analysis.cost_pass.OpRecord` it came from (attribute
:data:`ORIGIN_ATTR`); fused groups then list their original ops exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from hybridperf.ir import tvm_compat as _tvm

ORIGIN_ATTR = "hybridperf.origin"

#: ops of a lowered module whose result aliases their first argument's storage (no new buffer)
ALIAS_OPS = frozenset({"relax.reshape", "relax.memory.view", "relax.memory.ensure_zero_offset"})


def _origin_per_call_tir(legalized_main: Any, record_vars: list[str]) -> list[int]:
    """Record index of every ``call_tir`` binding of the legalized ``main``, in order.

    Legalization keeps the bound variable of each original op; bindings it adds
    (multi-kernel legalizations) belong to the next original binding.
    """
    index_of = {name: i for i, name in enumerate(record_vars)}
    origins: list[int] = []
    pending = 0
    for b in _tvm.bindings(legalized_main):
        name = _tvm.var_name(b.var)
        is_tir = _tvm.is_call(b.value) and _tvm.op_name(b.value) == "relax.call_tir"
        if is_tir:
            pending += 1
        if name in index_of:
            origins.extend([index_of[name]] * pending)
            pending = 0
    origins.extend([-1] * pending)
    return origins


#: ops TVM's build lowers before ``LegalizeOps``, in its library-dispatch passes (``DispatchSampling``,
#: ``DispatchSortScan``): they have no ``FLegalize``, so ``LegalizeOps`` alone leaves them as calls whose
#: outputs no planner sees (a TopK's values and indices were missing from the plan)
DISPATCHED_OPS = frozenset({
    "relax.sort", "relax.argsort", "relax.topk", "relax.cumsum", "relax.cumprod", "relax.bucketize",
    "relax.multinomial_from_uniform",
})

#: ops of a legalized module that are not kernels yet allocate no tensor TVM's planner must see: the calls the
#: lowering itself emits (``call_tir`` and the like), views, shape bookkeeping and hints
_PLAN_NEUTRAL_PREFIXES = ("relax.call_", "relax.builtin.", "relax.memory.", "relax.vm.", "relax.invoke_")
_PLAN_NEUTRAL_OPS = frozenset({
    "relax.shape_of", "relax.tensor_to_shape", "relax.hint_on_device", "relax.null_value", "relax.print",
    "relax.assert_op", "relax.to_vdevice",
}) | ALIAS_OPS


#: float dtypes narrower than float32: TVM 0.27's legalization of ``relax.nn.batch_norm`` adds its epsilon to the
#: variance as a float32 constant, so a float16 / bfloat16 batch norm came out float32 (the next binary op's
#: legalization then failed: ``R.add(lv11, lv4) uses datatype T.float32``)
_NARROW_FLOATS = frozenset({"float16", "bfloat16"})


def _batch_norm_in_input_dtype(default: Any) -> Any:
    """``relax.nn.batch_norm``'s legalization with its epsilon a constant of the input's dtype where that is
    float16 / bfloat16 (TOPI's kernel otherwise, as TVM calls it); ``default`` (TVM's own) for every other dtype."""

    def legalize(bb: Any, call: Any) -> Any:
        dtype = str(getattr(_tvm.expr_type(call.args[0]), "dtype", ""))
        if dtype not in _NARROW_FLOATS:
            return default(bb, call)
        tvm, _ = _tvm.tvm_modules()
        from tvm import topi  # noqa: PLC0415 - loaded with tvm

        a = call.attrs
        return bb.call_te(
            topi.nn.batch_norm, data=call.args[0], gamma=call.args[1], beta=call.args[2],
            moving_mean=call.args[3], moving_var=call.args[4], axis=a.axis,
            epsilon=tvm.tirx.const(float(a.epsilon), dtype), center=a.center, scale=a.scale,
            training=a.training, momentum=a.momentum,
        )

    return legalize


def _int_avg_pool_in_op_dtype(pool: str) -> Any:
    """A factory (as :func:`_batch_norm_in_input_dtype`) for ``relax.nn.avg_pool{1,2,3}d`` legalized so that an integer
    pool's kernel writes the op's own dtype. TOPI's ``pool`` divides an integer sum by an int64 window size, so TVM
    0.27's legalization of an int32 average pool (TFLite's int8 AVERAGE_POOL_2D imports as ``astype(int32) ->
    avg_pool2d -> astype(int8)``) writes an int64 buffer where the Relax call says int32, and FuseTIR stops with
    "Inconsistent buffers pool_avg" wherever the kernels are lowered for the memory planner (the kernel workspace of
    ``--runtime tvm``: such a model's peak was unknown and its kernels unfused until 2026-12-04). Here the int64
    quotient is cast to the op's dtype inside the same kernel (values fit: an average lies within its inputs' range);
    float pools keep TVM's own."""

    def factory(default: Any) -> Any:
        def legalize(bb: Any, call: Any) -> Any:
            out_dtype = str(getattr(_tvm.expr_type(call), "dtype", ""))
            a = call.attrs
            if not out_dtype.startswith(("int", "uint")) or a.out_layout != a.layout:
                return default(bb, call)
            from tvm import topi  # noqa: PLC0415 - loaded with tvm

            def compute(x: Any) -> Any:
                y = getattr(topi.nn, pool)(x, kernel=a.pool_size, stride=a.strides, dilation=a.dilation,
                                           padding=a.padding, pool_type="avg", ceil_mode=a.ceil_mode,
                                           layout=a.layout, count_include_pad=a.count_include_pad)
                return y if y.dtype == out_dtype else topi.cast(y, out_dtype)

            return bb.call_te(compute, call.args[0], primfunc_name_hint=f"avg_{pool}")

        return legalize

    return factory


#: hybridperf's legalizations (Relax op name -> a factory given TVM's ``FLegalize``), passed to ``LegalizeOps``
#: as its ``customize_legalize_map``: TVM's registry is left as it is
_LEGALIZE_FIXES = {"relax.nn.batch_norm": _batch_norm_in_input_dtype,
                   **{f"relax.nn.avg_pool{n}d": _int_avg_pool_in_op_dtype(f"pool{n}d") for n in (1, 2, 3)}}


def flegalize(op: Any) -> Any:
    """The legalization hybridperf lowers ``op`` (a ``tvm.ir.Op``) with: TVM's ``FLegalize``, or this module's
    fix of it (:data:`_LEGALIZE_FIXES`); None where TVM has none."""
    default = op.get_attr("FLegalize")
    fix = _LEGALIZE_FIXES.get(op.name)
    return default if default is None or fix is None else fix(default)


def _legalizations(mod: Any, ops: Any = None) -> dict[str, Any]:
    """Op name -> :func:`flegalize` of each op ``mod``'s ``main`` calls that has a legalization, in the order of its
    first call; only the names in ``ops`` where given. The one walk of ``main`` for a ``customize_legalize_map``
    (:func:`_fixed_legalize_map` and :meth:`LegalizeCache.legalize_map` each walked it until 2026-12-03)."""
    tvm, _ = _tvm.tvm_modules()
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for b in _tvm.bindings(mod["main"]):
        v = b.value
        if not _tvm.is_call(v) or not isinstance(v.op, tvm.ir.Op) or v.op.name in seen:
            continue
        seen.add(v.op.name)
        if ops is not None and v.op.name not in ops:
            continue
        legalize = flegalize(v.op)
        if legalize is not None:
            out[v.op.name] = legalize
    return out


def _fixed_legalize_map(mod: Any) -> dict[str, Any]:
    """``customize_legalize_map`` holding this module's fixes for the ops ``mod``'s ``main`` calls."""
    return _legalizations(mod, _LEGALIZE_FIXES)


def dispatch_library_ops(mod: Any) -> Any:
    """TVM's library dispatch for CPU (``DispatchSampling`` + ``DispatchSortScan`` under an ``llvm``
    target, as ``relax.build``'s default pipeline runs them before ``LegalizeOps``): sort, argsort,
    topk, cumsum, cumprod, bucketize and sampling become ``call_tir`` on TOPI's generic kernels.
    ``mod`` itself when ``main`` calls none of :data:`DISPATCHED_OPS` (the passes are not run)."""
    if not any(_tvm.is_call(b.value) and _tvm.op_name(b.value) in DISPATCHED_OPS for b in _tvm.bindings(mod["main"])):
        return mod
    tvm, relax = _tvm.tvm_modules()
    with tvm.target.Target({"kind": "llvm"}):
        return tvm.transform.Sequential([relax.backend.DispatchSampling(), relax.backend.DispatchSortScan()])(mod)


def ops_outside_plan(mod: Any, func_name: str = "main") -> dict[str, int | None]:
    """Op calls of ``mod[func_name]`` (legalized, fused or lowered) that no kernel computes and that return
    tensors: TVM's planner never sees their outputs (a VM builtin or nothing allocates them). Op name ->
    bytes of those outputs, None where one has a data-dependent size (NonZero). Empty for a module whose
    every op was legalized. In a lowered module (:func:`to_memory_plannable`) an op TVM computes with a
    runtime function (``relax.nonzero``) is a ``call_packed`` returning its output: listed by that
    function's name (``relax.run.nonzero``); a kernel's destination-passing call returns nothing.

    A run-time branch (an ONNX ``If`` on a data-dependent condition: a ``relax.If`` binding, not a call) is
    listed as ``"If"`` with the bytes of its result: the branch taken at run time allocates it and whatever
    its body computes, none of which is in the plan."""
    tvm, _ = _tvm.tvm_modules()
    out: dict[str, int | None] = {}
    for b in _tvm.bindings(mod[func_name]):
        v = b.value
        if _tvm.is_if(v):
            name = "If"
            infos = _tvm.tensor_infos(_tvm.expr_type(b.var)) if _tvm.has_type(b.var) else []
            sizes = [i.nbytes for i in infos] or [None]
        else:
            if not _tvm.is_call(v):
                continue
            if _tvm.is_extern_func(v.op):
                name = str(v.op.global_symbol)
            elif isinstance(v.op, tvm.ir.Op):
                name = v.op.name
                if name in _PLAN_NEUTRAL_OPS or name.startswith(_PLAN_NEUTRAL_PREFIXES):
                    continue
            else:  # a PrimFunc (destination-passing) or a fused function (its outputs are planned)
                continue
            sizes = [i.nbytes for i in _tvm.tensor_infos(_tvm.expr_type(v))]
            if not sizes:
                continue
        # one op's outputs add up; one of unknown size (None) makes its total unknown
        out[name] = None if (name in out and out[name] is None) or None in sizes else out.get(name, 0) + sum(sizes)
    return out


def tag_and_legalize(mod: Any, record_vars: list[str], cache: LegalizeCache | None = None) -> Any:
    """``LegalizeOps`` plus one tagged PrimFunc copy per ``call_tir`` site.

    Ops TVM's build dispatches to library kernels before legalizing (:data:`DISPATCHED_OPS`) are
    dispatched first (:func:`dispatch_library_ops`), so their kernels are tagged and planned too.

    ``cache`` (a :class:`LegalizeCache`) re-uses the PrimFunc of every op signature legalized
    before, in this model or an earlier one; without one, a cache for this module alone still
    legalizes each signature once (BERT's twelve layers: once, not twelve times). Where it
    applies, the tagged copies are added during ``LegalizeOps`` itself
    (:meth:`LegalizeCache.tag_and_legalize`), else by :func:`legalize_then_tag`; the module is
    the one :func:`legalize_then_tag` builds without a cache (TVM's own legalization). TVM's C++
    warnings while legalizing (a Gather's "Fast mode segfaults ...") are kept off stderr
    (:class:`~hybridperf.ir.tvm_compat.native_log_captured`).
    """
    with _tvm.native_log_captured():
        mod = dispatch_library_ops(mod)
        tagged = (LegalizeCache() if cache is None else cache).tag_and_legalize(mod, record_vars)
        if tagged is not None:
            return tagged
        return legalize_then_tag(mod, record_vars, cache)


def legalize_then_tag(mod: Any, record_vars: list[str], cache: LegalizeCache | None = None) -> Any:
    """``LegalizeOps`` (with ``cache``'s PrimFuncs, if given), then a pass giving every ``call_tir``
    site its tagged PrimFunc copy: the general path of :func:`tag_and_legalize`."""
    tvm, relax = _tvm.tvm_modules()
    from tvm.relax.expr_functor import PyExprMutator, mutator

    with _tvm.native_log_captured():  # TVM's C++ warnings while legalizing, as in tag_and_legalize
        leg = (relax.transform.LegalizeOps(_fixed_legalize_map(mod))(mod) if cache is None
               else relax.transform.LegalizeOps(cache.legalize_map(mod))(mod))
    origins = _origin_per_call_tir(leg["main"], record_vars)

    @mutator
    class _Tagger(PyExprMutator):
        def __init__(self, m):
            super().__init__(m)
            self.src = m
            self.k = 0

        def visit_call_(self, call):  # noqa: N802 - TVM visitor naming
            call = super().visit_call_(call)
            if isinstance(call.op, tvm.ir.Op) and call.op.name == "relax.call_tir":
                gv = call.args[0]
                origin = origins[self.k] if self.k < len(origins) else -1
                func = self.src[gv].with_attr(ORIGIN_ATTR, origin)
                new_gv = self.builder_.add_func(func, f"{gv.name_hint}_k{self.k}")
                self.k += 1
                return relax.Call(call.op, [new_gv, *list(call.args[1:])], call.attrs, call.ty_args)
            return call

        def run(self):
            self.visit_expr  # noqa: B018 - bind before loop
            for gv, f in list(self.src.functions_items()):
                if isinstance(f, relax.Function):
                    self.builder_.update_func(gv, self.visit_expr(f))
            return self.builder_.get()

    tagged = _Tagger(leg).run()
    # drop the now-unused untagged PrimFuncs
    return relax.transform.DeadCodeElimination(["main"])(tagged)


_UNCACHEABLE = object()


class LegalizeCache:
    """Legalized PrimFuncs by op signature, kept across the models of a sweep.

    An op's legalization (TVM's ``FLegalize``: a TE compute turned into a PrimFunc, the slow
    part of lowering) depends only on the op, its attributes (by structural hash), the shapes
    and dtypes of its tensor arguments and the values of its shape / prim-value arguments.
    The first call of a signature runs TVM's own legalization in a scratch builder and keeps
    the PrimFunc, its name hint and how the ``call_tir`` arguments map onto the op's
    arguments; later calls add the kept PrimFunc to the module's builder (which names and
    de-duplicates it exactly as ``call_te`` does) and build the same ``call_tir``. Ops whose
    legalization is anything else (several kernels, emitted bindings, a packed call) are
    legalized by TVM every time.

    Attributes
    ----------
    hits, misses, uncached : int
        Lookups answered from the cache, signatures legalized and kept, ops legalized by TVM.
    one_pass : int
        Modules legalized and tagged in one pass (:meth:`tag_and_legalize`).
    """

    def __init__(self) -> None:
        self._entries: dict[Any, Any] = {}
        self._by_hash: dict[int, list[_Entry]] = {}  # structural hash of a PrimFunc -> one entry per class
        self._classes = 0
        self.one_pass = 0
        self.hits = 0
        self.misses = 0
        self.uncached = 0

    def __len__(self) -> int:
        return sum(1 for v in self._entries.values() if v is not _UNCACHEABLE)

    def legalize_map(self, mod: Any) -> dict[str, Any]:
        """``customize_legalize_map`` for one ``LegalizeOps`` run over ``mod``: every op TVM can legalize
        (:func:`_legalizations`), each through this cache."""
        added: dict[int, Any] = {}  # this run: cache entry -> its GlobalVar (what add_func would return again)
        return {name: self._wrap(default, added) for name, default in _legalizations(mod).items()}

    def tag_and_legalize(self, mod: Any, record_vars: list[str]) -> Any:
        """:func:`tag_and_legalize` in one ``LegalizeOps`` run, or None where this path does not apply.

        Every op call of ``main`` is looked up (and legalized on a miss) before the pass runs, and
        its tagged PrimFunc copy made: named ``{name}_k{site}`` after the name TVM's builder gives
        the untagged PrimFunc (:class:`PrimFuncNames`: the builder's unique naming, with structurally
        equal PrimFuncs sharing the first one's name and body, as ``add_func`` de-duplicates).
        The pass's callbacks only return the ``call_tir`` on each copy (ops that are not cached,
        such as ``shape_to_tensor``, are legalized by TVM in the pass); the copies join the module
        in one step. The module is the one :func:`legalize_then_tag` builds (tested equal, names
        included). None (the caller takes that path) when the module has other functions, a
        ``call_tir`` already, or an op not cached whose legalization adds a kernel.
        """
        tvm, relax = _tvm.tvm_modules()
        items = list(mod.functions_items())
        if len(items) != 1 or items[0][0].name_hint != "main":
            return None
        index_of = {name: i for i, name in enumerate(record_vars)}
        # per call LegalizeOps legalizes, in order: (op, entry, tagged GlobalVar) or (op, None, FLegalize)
        plan: list[tuple[str, _Entry | None, Any]] = []
        funcs: dict[Any, Any] = {}
        names = PrimFuncNames()
        defaults: dict[str, Any] = {}
        hits = 0
        for b in _tvm.bindings(mod["main"]):
            v = b.value
            if not _tvm.is_call(v):
                continue
            if not isinstance(v.op, tvm.ir.Op):
                return None
            name = v.op.name
            if name.startswith("relax.call_tir") or name == "relax.call_dps_packed":
                return None
            default = defaults.get(name)
            if default is None:
                default = flegalize(v.op)
                if default is None:
                    continue
                defaults[name] = default
            origin = index_of.get(_tvm.var_name(b.var))
            if origin is None:
                return None
            key = _signature(v)
            entry = self._entries.get(key) if key is not None else _UNCACHEABLE
            if entry is None:
                entry = self._entries[key] = self._new_entry(v, default)
                if entry is not _UNCACHEABLE:
                    self.misses += 1
            elif entry is not _UNCACHEABLE:
                hits += 1
            if entry is _UNCACHEABLE:  # TVM legalizes it in the pass: checked below to add no kernel
                plan.append((name, None, default))
                continue
            untagged, func = names.add(entry)
            gvar = _tvm.global_var(f"{untagged}_k{len(funcs)}", entry.ty)
            funcs[gvar] = func.with_attr(ORIGIN_ATTR, origin)
            plan.append((name, entry, gvar))
        if names.clash(gv.name_hint for gv in funcs):
            return None
        state = _TagState(plan)
        leg = relax.transform.LegalizeOps({name: state.legalize for name in defaults})(mod)
        if not state.complete:
            return None
        if len(funcs) < len(plan) and not _only_planned_kernels(leg, len(funcs)):
            return None
        self.hits += hits
        self.one_pass += 1
        self.uncached += len(plan) - len(funcs)
        leg.update(tvm.IRModule(funcs))
        return relax.transform.DeadCodeElimination(["main"])(leg)

    def cached_site(self, call: Any) -> tuple[str, int] | None:
        """The name hint and class of the PrimFunc kept for ``call``'s signature, if one is kept.

        Parameters
        ----------
        call : relax.Call
            An op call, keyed as :meth:`tag_and_legalize` keys it.

        Returns
        -------
        tuple of (str, int) or None
            ``(hint, cls)``: the name hint TVM's legalization gave the PrimFunc and its class of
            structurally equal PrimFuncs (the argument of :meth:`PrimFuncNames.name`); None where
            the signature was never legalized here or is one TVM legalizes every time.
        """
        key = _signature(call)
        entry = self._entries.get(key) if key is not None else None
        if not isinstance(entry, _Entry):
            return None
        return entry.hint, entry.cls

    def _new_entry(self, call: Any, default: Any) -> Any:
        """Legalize ``call`` in a scratch builder; the entry (with its class of structurally equal
        PrimFuncs among all entries), or ``_UNCACHEABLE``."""
        entry = _scratch_legalize(call, default)
        if entry is _UNCACHEABLE:
            return entry
        h = _tvm.structural_hash(entry.func)
        same = self._by_hash.setdefault(h, [])
        for other in same:
            if _tvm.structural_equal(other.func, entry.func):
                entry.cls = other.cls
                break
        else:
            entry.cls = self._classes
            self._classes += 1
            same.append(entry)
        return entry

    def _wrap(self, default: Any, added: dict[int, Any]) -> Any:
        def legalize(bb: Any, call: Any) -> Any:
            return self._legalize(bb, call, default, added)

        return legalize

    def _legalize(self, bb: Any, call: Any, default: Any, added: dict[int, Any]) -> Any:
        tvm, relax = _tvm.tvm_modules()
        key = _signature(call)
        entry = self._entries.get(key, None) if key is not None else _UNCACHEABLE
        if entry is None:
            entry = self._new_entry(call, default)
            self._entries[key] = entry
            if entry is not _UNCACHEABLE:
                self.misses += 1
        elif entry is not _UNCACHEABLE:
            self.hits += 1
        if entry is _UNCACHEABLE:
            self.uncached += 1
            return default(bb, call)
        gvar = added.get(id(entry))
        if gvar is None:  # the builder de-duplicates structurally and names uniquely, as for call_te
            gvar = added[id(entry)] = bb.add_func(entry.func, entry.hint)
        return entry.call(call, gvar)


class _Entry:
    """One cached legalization: the PrimFunc, its name hint and type, and the ``call_tir`` to build."""

    __slots__ = ("func", "hint", "ty", "template", "op", "attrs", "sinfo", "cls")

    def __init__(self, func: Any, hint: str, ty: Any, template: tuple, op: Any, attrs: Any, sinfo: Any) -> None:
        self.func, self.hint, self.ty, self.template = func, hint, ty, template
        self.op, self.attrs, self.sinfo = op, attrs, sinfo
        self.cls = -1  # class of structurally equal PrimFuncs (the builder de-duplicates them)

    def call(self, call: Any, gvar: Any) -> Any:
        """The ``call_tir`` on ``gvar`` that replaces ``call``."""
        _, relax = _tvm.tvm_modules()
        args = [_pick(call.args, path) for path in self.template]
        return relax.Call(self.op, [gvar, relax.Tuple(args)], self.attrs, self.sinfo)


class PrimFuncNames:
    """The names a ``BlockBuilder`` gives the PrimFuncs added to a module holding only ``main``.

    ``add_func`` returns the existing GlobalVar for a PrimFunc structurally equal to one added
    before, else a fresh name: the hint (``.`` -> ``_``) if unused, else the hint followed by
    the hint's next counter value that is unused (TVM's ``NameSupply``). Used by
    :meth:`LegalizeCache.tag_and_legalize` and by the block cache
    (:mod:`hybridperf.analysis.blocks`), which renames composed segments the same way.
    """

    def __init__(self) -> None:
        self._counters: dict[str, int] = {"main": 0}
        self._of_class: dict[int, str] = {}
        self._func_of_class: dict[int, Any] = {}

    def name(self, hint: str, cls: int) -> str:
        """The name of a PrimFunc added with name hint ``hint``.

        Parameters
        ----------
        hint : str
            The name hint TVM's legalization gives the PrimFunc.
        cls : int
            Its class of structurally equal PrimFuncs (:meth:`LegalizeCache.cached_site`): a class
            named before keeps its first name.

        Returns
        -------
        str
            The name the builder gives it.
        """
        got = self._of_class.get(cls)
        if got is None:
            got = self._of_class[cls] = self._fresh(hint)
        return got

    def add(self, entry: _Entry) -> tuple[str, Any]:
        """(name, PrimFunc kept under it) of ``entry``'s PrimFunc."""
        func = self._func_of_class.setdefault(entry.cls, entry.func)
        return self.name(entry.hint, entry.cls), func

    def _fresh(self, hint: str) -> str:
        name = hint.replace(".", "_")
        if name not in self._counters:
            self._counters[name] = 0
            return name
        new = name
        while new in self._counters:
            self._counters[name] += 1
            new = f"{name}{self._counters[name]}"
        self._counters[new] = 0
        return new

    def clash(self, names: Iterable[str]) -> bool:
        """Whether one of ``names`` (tagged names) is also an untagged one (the builder would rename it).

        Parameters
        ----------
        names : iterable of str
            Names to check against those given (and ``main``).

        Returns
        -------
        bool
            True where any of them is taken.
        """
        return any(nm in self._counters for nm in names)


class _TagState:
    """One :meth:`LegalizeCache.tag_and_legalize` run: the planned call sites, in order."""

    def __init__(self, plan: list[tuple[str, _Entry | None, Any]]) -> None:
        self.plan = plan
        self.site = 0
        self.failed = False

    @property
    def complete(self) -> bool:
        return not self.failed and self.site == len(self.plan)

    def legalize(self, bb: Any, call: Any) -> Any:
        k = self.site
        if self.failed or k >= len(self.plan) or self.plan[k][0] != call.op.name:
            self.failed = True  # not the order planned: the result is dropped
            return call
        _, entry, gvar = self.plan[k]
        self.site += 1
        if entry is None:  # not cached: TVM's own legalization (``gvar`` is its FLegalize)
            return gvar(bb, call)
        return entry.call(call, gvar)


def _only_planned_kernels(leg: Any, n: int) -> bool:
    """Whether the ops TVM legalized in :meth:`LegalizeCache.tag_and_legalize` added no function
    and no kernel call: ``leg`` holds only ``main``, with ``n`` ``call_tir`` (the planned ones)."""
    if len(list(leg.functions_items())) != 1:
        return False
    calls = sum(1 for b in _tvm.bindings(leg["main"])
                if _tvm.is_call(b.value) and _tvm.op_name(b.value).startswith("relax.call_tir"))
    return calls == n


#: constants this small are keyed by value: TVM's legalizations read them (a 0-d operand of a binary
#: op becomes an immediate in the PrimFunc, NMS reads its box count); larger ones (a bias) are
#: PrimFunc arguments, keyed by shape and dtype alone
_INLINED_CONSTANT_ELEMS = 1


def _arg_key(a: Any) -> Any:
    """Hashable description of one op argument, or None when it is not one a signature covers."""
    tvm, relax = _tvm.tvm_modules()
    if _tvm.is_var(a) or _tvm.is_constant(a):
        si = _tvm.expr_type(a)
        if isinstance(si, relax.ShapeType):  # shape_to_tensor's argument: its values are the key
            values = None if si.values is None else _tvm.items(si.values)
            if values is None or not all(isinstance(d, tvm.tirx.IntImm) for d in values):
                return None
            return ("V", tuple(int(d.value) for d in values))
        if not isinstance(si, relax.TensorType) or si.shape is None or not hasattr(si.shape, "values"):
            return None
        dims = []
        for d in _tvm.items(si.shape.values):
            if not isinstance(d, tvm.tirx.IntImm):
                return None
            dims.append(int(d.value))
        if _tvm.is_constant(a) and math.prod(dims) <= _INLINED_CONSTANT_ELEMS:
            # legalizations inline small constants' values (a scalar operand becomes an immediate)
            return ("C", tuple(dims), str(si.dtype), _tvm.constant_bytes(a))
        return ("T", tuple(dims), str(si.dtype))
    if isinstance(a, relax.ShapeExpr):
        values = _tvm.items(a.values)
        if not all(isinstance(d, tvm.tirx.IntImm) for d in values):
            return None
        return ("S", tuple(int(d.value) for d in values))
    if isinstance(a, relax.Tuple):
        keys = tuple(_arg_key(f) for f in a.fields)
        return None if any(k is None for k in keys) else ("U", keys)
    kind = type(a).__name__
    if kind == "PrimValue" and isinstance(getattr(a, "value", None), (tvm.tirx.IntImm, tvm.tirx.FloatImm)):
        return ("P", str(a.value.dtype), a.value.value)
    if kind in ("IntImm", "FloatImm"):  # 0.27: clip's bounds, some ops' scalars
        return (kind, str(a.ty), a.value)
    if kind in ("StringImm", "DataTypeImm"):
        return (kind, str(a.value))
    return None


def _signature(call: Any) -> Any:
    """The cache key of an op call: op, attributes, argument shapes/values and which arguments
    are the same expression (``mul(x, x)`` legalizes to a different PrimFunc than ``mul(x, y)``)."""
    args = tuple(_arg_key(a) for a in call.args)
    if any(k is None for k in args):
        return None
    leaves = [f for a in call.args for f in (a.fields if _tvm.is_tuple(a) else (a,))]
    aliases = tuple(next(j for j, g in enumerate(leaves) if g.same_as(f)) for f in leaves)
    attrs = 0 if call.attrs is None else _tvm.structural_hash(call.attrs)
    return (call.op.name, attrs, args, aliases)


def _pick(args: Any, path: tuple[int, ...]) -> Any:
    e = args[path[0]]
    return e if len(path) == 1 else e.fields[path[1]]


def _scratch_legalize(call: Any, default: Any) -> Any:
    """Legalize ``call`` in a fresh builder; the cache entry, or ``_UNCACHEABLE``."""
    tvm, relax = _tvm.tvm_modules()
    bb = relax.BlockBuilder()
    try:
        out = default(bb, call)
        funcs = list(bb.get().functions_items())
    except Exception:  # noqa: BLE001 - TVM's own pass will raise (or not) as it always does
        return _UNCACHEABLE
    if (len(funcs) != 1 or not isinstance(out, relax.Call) or not isinstance(out.op, tvm.ir.Op)
            or out.op.name != "relax.call_tir" or len(out.args) != 2 or not isinstance(out.args[1], relax.Tuple)):
        return _UNCACHEABLE
    gvar, func = funcs[0]
    if not out.args[0].same_as(gvar) or not _tvm.is_prim_func(func):
        return _UNCACHEABLE
    places: list[tuple[Any, tuple[int, ...]]] = []
    for i, a in enumerate(call.args):
        places.append((a, (i,)))
        if isinstance(a, relax.Tuple):
            places.extend((f, (i, j)) for j, f in enumerate(a.fields))
    template = []
    for a in out.args[1].fields:
        path = next((p for e, p in places if e.same_as(a)), None)
        if path is None:
            return _UNCACHEABLE
        template.append(path)
    return _Entry(func, gvar.name_hint, _tvm.expr_type(gvar), tuple(template), out.op, out.attrs, out.ty_args)


def fuse(tagged: Any) -> Any:
    """``AnnotateTIROpPattern`` + ``FuseOps``: fused groups become private Relax functions."""
    _, relax = _tvm.tvm_modules()
    return relax.transform.FuseOps()(relax.transform.AnnotateTIROpPattern()(tagged))


def to_memory_plannable(mod: Any, fused: bool) -> Any:
    """Run the passes that precede ``StaticPlanBlockMemory`` in TVM's build pipeline."""
    tvm, relax = _tvm.tvm_modules()
    T = relax.transform
    passes = [T.FuseTIR()] if fused else []
    passes += [T.RewriteDataflowReshape(), T.ToNonDataflow(), T.RemovePurityChecking(), T.CallTIRRewrite()]
    return tvm.transform.Sequential(passes)(mod)


def plan_block_memory(mod: Any) -> Any:
    """TVM's own ``StaticPlanBlockMemory`` on the output of :func:`to_memory_plannable`."""
    _, relax = _tvm.tvm_modules()
    return relax.transform.StaticPlanBlockMemory()(mod)


def origin_of(mod: Any, gvar: Any) -> int | None:
    func = mod[gvar]
    if func.attrs is None or ORIGIN_ATTR not in func.attrs:
        return None
    return int(func.attrs[ORIGIN_ATTR])
