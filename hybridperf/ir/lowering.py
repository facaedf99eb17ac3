"""Lower an analysed Relax module the way TVM's build does, keeping op provenance.

``LegalizeOps`` turns each high-level op into ``call_tir`` on a PrimFunc, but
the block builder de-duplicates identical PrimFuncs and ``FuseOps`` de-duplicates
identical groups, which loses which original op a kernel came from. We give
every ``call_tir`` site its own PrimFunc copy tagged with the index of the
:class:`~hybridperf.analysis.cost_pass.OpRecord` it came from (attribute
:data:`ORIGIN_ATTR`); fused groups then list their original ops exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def tag_and_legalize(mod: Any, record_vars: list[str]) -> Any:
    """``LegalizeOps`` plus one tagged PrimFunc copy per ``call_tir`` site."""
    tvm, relax = _tvm.tvm_modules()
    from tvm.relax.expr_functor import PyExprMutator, mutator

    leg = relax.transform.LegalizeOps()(mod)
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
