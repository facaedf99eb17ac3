"""Matrix products: ``(..., M, K) @ (..., K, N)`` costs ``2 x M x N x K`` per batch."""

from __future__ import annotations

from hybridperf.costs.registry import FLOPS_PER_MAC, CostRegistry, OpContext, RuleResult


def matmul(ctx: OpContext) -> RuleResult:
    """MACs = output elements x K, with K the last axis of the left operand."""
    a = ctx.inputs[0]
    k = a.shape[-1]
    return RuleResult(FLOPS_PER_MAC * ctx.out.numel * k)


def einsum(ctx: OpContext) -> RuleResult:
    """MACs = product of the sizes of every distinct index in the equation."""
    eq = ctx.attr("subscripts")
    lhs = eq.split("->")[0].split(",")
    sizes: dict[str, int] = {}
    for term, t in zip(lhs, ctx.inputs):
        for ch, d in zip(term.replace("...", ""), t.shape[-len(term.replace("...", "")) :] if term else ()):
            sizes[ch] = d
    macs = 1
    for d in sizes.values():
        macs *= d
    batch = 1
    if "..." in eq:
        ell = ctx.inputs[0].shape[: len(ctx.inputs[0].shape) - len(lhs[0].replace("...", ""))]
        for d in ell:
            batch *= d
    return RuleResult(FLOPS_PER_MAC * macs * batch)


def outer(ctx: OpContext) -> RuleResult:
    return RuleResult(ctx.out.numel)


def register(reg: CostRegistry) -> None:
    reg.add(["relax.matmul"], matmul, "matmul")
    reg.add(["relax.einsum"], einsum, "matmul")
    reg.add(["relax.outer"], outer, "matmul")
