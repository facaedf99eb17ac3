"""Fused attention: ``softmax(Q K^T / sqrt(d) [+ bias]) V``.

Q is ``(B, S, H, D)``, K ``(B, S_kv, H_kv, D)``, V ``(B, S_kv, H_kv, D_v)``.
FLOPs = QK^T ``2 B H S S_kv D`` + PV ``2 B H S S_kv D_v`` + scale and softmax
``(1 + SOFTMAX_FLOPS_PER_ELEM) B H S S_kv`` (+ ``B H S S_kv`` for a bias add).
"""

from __future__ import annotations

from hybridperf.costs.elementwise import SOFTMAX_FLOPS_PER_ELEM
from hybridperf.costs.registry import FLOPS_PER_MAC, CostRegistry, OpContext, RuleResult


def attention(ctx: OpContext) -> RuleResult:
    q, k, v = ctx.inputs[0], ctx.inputs[1], ctx.inputs[2]
    b, s, h, d = q.shape
    s_kv = k.shape[1]
    d_v = v.shape[3]
    scores = b * h * s * s_kv
    flops = FLOPS_PER_MAC * scores * d + FLOPS_PER_MAC * scores * d_v + (1 + SOFTMAX_FLOPS_PER_ELEM) * scores
    if ctx.op == "relax.nn.attention_bias" or len(ctx.inputs) > 3:
        flops += scores
    return RuleResult(flops)


def register(reg: CostRegistry) -> None:
    reg.add(["relax.nn.attention", "relax.nn.attention_bias"], attention, "attention")
