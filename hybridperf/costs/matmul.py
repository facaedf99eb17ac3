"""Matrix products: ``(..., M, K) @ (..., K, N)`` costs ``2 x M x N x K`` per batch."""

from __future__ import annotations

import math

from hybridperf.costs.registry import FLOPS_PER_MAC, CostRegistry, OpContext, RuleResult


def matmul(ctx: OpContext) -> RuleResult:
    """MACs = output elements x K, with K the last axis of the left operand."""
    a = ctx.inputs[0]
    k = a.shape[-1]
    return RuleResult(FLOPS_PER_MAC * ctx.out.numel * k)


def einsum(ctx: OpContext) -> RuleResult:
    """MACs = product of the sizes of every distinct index, times the broadcast ``...`` dims.

    An index's size is read from the operand axes it labels, wherever ``...`` stands in the term
    (``"...id"``, ``"i...d"``); the ``...`` dims of all operands broadcast together (right-aligned,
    1 against n gives n), so an operand without batch dims does not shrink the count.
    """
    lhs = ctx.attr("subscripts").replace(" ", "").split("->")[0].split(",")
    sizes: dict[str, int] = {}
    ellipsis: list[tuple[int, ...]] = []
    for term, t in zip(lhs, ctx.inputs):
        shape = tuple(t.shape)
        head, dots, tail = term.partition("...")
        n_ell = len(shape) - len(head) - len(tail) if dots else 0
        for ch, d in zip(head + tail, shape[: len(head)] + shape[len(shape) - len(tail) :]):
            sizes[ch] = max(sizes.get(ch, 1), d)
        if dots:
            ellipsis.append(shape[len(head) : len(head) + n_ell])
    return RuleResult(FLOPS_PER_MAC * math.prod(sizes.values()) * math.prod(_broadcast(ellipsis)))


def _broadcast(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """NumPy broadcast of ``shapes`` (right-aligned; a 1 takes the other size)."""
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, d in enumerate(s, start=ndim - len(s)):
            out[i] = max(out[i], d)
    return tuple(out)


def outer(ctx: OpContext) -> RuleResult:
    return RuleResult(ctx.out.numel)


def register(reg: CostRegistry) -> None:
    reg.add(["relax.matmul"], matmul, "matmul")
    reg.add(["relax.einsum"], einsum, "matmul")
    reg.add(["relax.outer"], outer, "matmul")
