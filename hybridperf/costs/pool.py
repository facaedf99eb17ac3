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
    """One add per element of each output's window, one divide per output.

    Output ``i`` of a spatial axis of size ``I -> O`` averages input ``floor(i I / O)`` up to
    ``ceil((i + 1) I / O)`` (exclusive), so where ``O`` does not divide ``I`` the windows overlap
    (4 -> 3: windows of 2, 2, 2 = 6 adds, not 4). Where it divides (a global pool among them) the
    windows tile the input and the adds are the input's elements.
    """
    x, out = ctx.inputs[0], ctx.out
    layout = str(ctx.attr("layout") or "NC" + "DHW"[5 - len(x.shape):])
    if len(layout) != len(x.shape) or len(out.shape) != len(x.shape) or not layout.isupper():
        return RuleResult(x.numel + out.numel)  # a packed layout (NCHW4c): the input's elements
    spatial = [i for i, c in enumerate(layout) if c in "DHW"]
    adds = x.numel // max(1, math.prod(x.shape[i] for i in spatial))
    for i in spatial:
        adds *= _window_sum(int(x.shape[i]), int(out.shape[i]))
    return RuleResult(adds + out.numel)


def _window_sum(n_in: int, n_out: int) -> int:
    """Total length of the ``n_out`` adaptive windows over an axis of ``n_in`` (``n_in`` where they tile it)."""
    return sum(-(-(i + 1) * n_in // n_out) - i * n_in // n_out for i in range(n_out))


def register(reg: CostRegistry) -> None:
    reg.add(
        [f"relax.nn.{k}_pool{d}d" for k in ("max", "avg") for d in (1, 2, 3)],
        pool,
        "pool",
    )
    reg.add([f"relax.nn.adaptive_avg_pool{d}d" for d in (1, 2, 3)], adaptive_pool, "pool")
