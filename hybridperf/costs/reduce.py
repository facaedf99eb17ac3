"""Reductions: one FLOP per input element (variance/std: 3; mean adds a divide per output)."""

from __future__ import annotations

from hybridperf.costs.registry import CostRegistry, OpContext, RuleResult


def reduction(ctx: OpContext) -> RuleResult:
    n = ctx.inputs[0].numel
    if ctx.op in ("relax.variance", "relax.std"):
        return RuleResult(3 * n + ctx.out_numel)
    if ctx.op == "relax.mean":
        return RuleResult(n + ctx.out_numel)
    return RuleResult(n)


def sort_like(ctx: OpContext) -> RuleResult:
    """Comparison sorts: n log2(n) compares along the sorted axis."""
    import math

    x = ctx.inputs[0]
    axis = ctx.attr("axis", -1)
    axis = axis if isinstance(axis, int) else -1
    m = x.shape[axis] if x.shape else 1
    return RuleResult(int(x.numel * max(1.0, math.log2(max(m, 2)))))


def register(reg: CostRegistry) -> None:
    reg.add(
        [
            "relax.sum", "relax.mean", "relax.max", "relax.min", "relax.prod", "relax.variance", "relax.std",
            "relax.argmax", "relax.argmin", "relax.cumsum", "relax.cumprod", "relax.median",
            "relax.collapse_sum_like", "relax.collapse_sum_to",
        ],
        reduction,
        "reduce",
    )
    reg.add(["relax.sort", "relax.argsort", "relax.topk"], sort_like, "sort")
