"""Lower an analysed Relax module the way TVM's build does, keeping op provenance.

``LegalizeOps`` turns each high-level op into ``call_tir`` on a PrimFunc, but
the block builder de-duplicates identical PrimFuncs and ``FuseOps`` de-duplicates
identical groups, which loses which original op a kernel came from. We give
every ``call_tir`` site its own PrimFunc copy tagged with the index of the
:class:`~hybridperf.analysis.cost_pass.OpRecord` it came from (attribute
:data:`ORIGIN_ATTR`); fused groups then list their original ops exactly.
"""

from __future__ import annotations

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


def tag_and_legalize(mod: Any, record_vars: list[str], cache: LegalizeCache | None = None) -> Any:
    """``LegalizeOps`` plus one tagged PrimFunc copy per ``call_tir`` site.

    ``cache`` (a :class:`LegalizeCache`) re-uses the PrimFunc of every op signature legalized
    before, in this model or an earlier one; the module is the same as without it.
    """
    tvm, relax = _tvm.tvm_modules()
    from tvm.relax.expr_functor import PyExprMutator, mutator

    leg = (relax.transform.LegalizeOps()(mod) if cache is None
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
    """

    def __init__(self) -> None:
        self._entries: dict[Any, Any] = {}
        self.hits = 0
        self.misses = 0
        self.uncached = 0

    def __len__(self) -> int:
        return sum(1 for v in self._entries.values() if v is not _UNCACHEABLE)

    def legalize_map(self, mod: Any) -> dict[str, Any]:
        """``customize_legalize_map`` for one ``LegalizeOps`` run over ``mod``: every op TVM can legalize."""
        tvm, _ = _tvm.tvm_modules()
        out: dict[str, Any] = {}
        added: dict[int, Any] = {}  # this run: cache entry -> its GlobalVar (what add_func would return again)
        for b in _tvm.bindings(mod["main"]):
            v = b.value
            if not _tvm.is_call(v) or not isinstance(v.op, tvm.ir.Op) or v.op.name in out:
                continue
            default = v.op.get_attr("FLegalize")
            if default is not None:
                out[v.op.name] = self._wrap(default, added)
        return out

    def _wrap(self, default: Any, added: dict[int, Any]) -> Any:
        def legalize(bb: Any, call: Any) -> Any:
            return self._legalize(bb, call, default, added)

        return legalize

    def _legalize(self, bb: Any, call: Any, default: Any, added: dict[int, Any]) -> Any:
        tvm, relax = _tvm.tvm_modules()
        key = _signature(call)
        entry = self._entries.get(key, None) if key is not None else _UNCACHEABLE
        if entry is None:
            entry = _scratch_legalize(call, default)
            self._entries[key] = entry
            if entry is not _UNCACHEABLE:
                self.misses += 1
        elif entry is not _UNCACHEABLE:
            self.hits += 1
        if entry is _UNCACHEABLE:
            self.uncached += 1
            return default(bb, call)
        func, hint, template, op, attrs, sinfo = entry
        gvar = added.get(id(entry))
        if gvar is None:  # the builder de-duplicates structurally and names uniquely, as for call_te
            gvar = added[id(entry)] = bb.add_func(func, hint)
        args = [_pick(call.args, path) for path in template]
        return relax.Call(op, [gvar, relax.Tuple(args)], attrs, sinfo)


def _arg_key(a: Any) -> Any:
    """Hashable description of one op argument, or None when it is not one a signature covers."""
    tvm, relax = _tvm.tvm_modules()
    if _tvm.is_var(a) or _tvm.is_constant(a):
        si = _tvm.expr_type(a)
        if not isinstance(si, relax.TensorType) or si.shape is None or not hasattr(si.shape, "values"):
            return None
        dims = []
        for d in si.shape.values:
            if not isinstance(d, tvm.tirx.IntImm):
                return None
            dims.append(int(d.value))
        return ("T", tuple(dims), str(si.dtype))
    if isinstance(a, relax.ShapeExpr):
        if not all(isinstance(d, tvm.tirx.IntImm) for d in a.values):
            return None
        return ("S", tuple(int(d.value) for d in a.values))
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
    return (func, gvar.name_hint, tuple(template), out.op, out.attrs, out.ty_args)


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
