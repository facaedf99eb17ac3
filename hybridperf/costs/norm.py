"""Normalisations, per normalised element.

* layer/group/instance norm: mean (1) + variance (3: sub, square, add) +
  normalise (2: sub, mul by rsqrt) + affine (2: mul, add) = 8
* batch norm (inference, statistics given): sub, mul, mul, add = 4
* RMS norm: square, add, mul by rsqrt, mul by weight = 4 (+ rsqrt per row)
"""

from __future__ import annotations

from hybridperf.costs.elementwise import elementwise
from hybridperf.costs.registry import CostRegistry, OpContext, RuleResult

LAYER_NORM_FLOPS_PER_ELEM = 8
BATCH_NORM_FLOPS_PER_ELEM = 4
RMS_NORM_FLOPS_PER_ELEM = 4


def batch_norm(ctx: OpContext) -> RuleResult:
    # Output 0 is the normalised tensor; outputs 1-2 are the running statistics.
    return RuleResult(BATCH_NORM_FLOPS_PER_ELEM * ctx.outputs[0].numel)


def register(reg: CostRegistry) -> None:
    reg.add(
        ["relax.nn.layer_norm", "relax.nn.group_norm", "relax.nn.instance_norm"],
        elementwise(LAYER_NORM_FLOPS_PER_ELEM),
        "norm",
    )
    reg.add(["relax.nn.rms_norm"], elementwise(RMS_NORM_FLOPS_PER_ELEM), "norm")
    reg.add(["relax.nn.batch_norm"], batch_norm, "norm")
