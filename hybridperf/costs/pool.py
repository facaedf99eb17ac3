"""Pooling: one FLOP (compare or add) per window element per output element."""

from __future__ import annotations

import math

from hybridperf.costs.registry import CostRegistry, OpContext, RuleResult


def pool(ctx: OpContext) -> RuleResult:
    window = math.prod(ctx.attr("pool_size"))
    flops = ctx.out.numel * window
    if "avg" in ctx.op:
        flops += ctx.out.numel  # the final divide
    return RuleResult(flops)


def adaptive_pool(ctx: OpContext) -> RuleResult:
    """Every input element is added once, every output divided once."""
    return RuleResult(ctx.inputs[0].numel + ctx.out.numel)


def register(reg: CostRegistry) -> None:
    reg.add(
        [f"relax.nn.{k}_pool{d}d" for k in ("max", "avg") for d in (1, 2, 3)],
        pool,
        "pool",
    )
    reg.add([f"relax.nn.adaptive_avg_pool{d}d" for d in (1, 2, 3)], adaptive_pool, "pool")
