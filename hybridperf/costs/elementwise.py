"""Element-wise ops, activations and softmax: a fixed FLOP count per output element.

Transcendentals (exp, log, erf, tanh, ...) count as 1 FLOP each; composite
activations add their arithmetic (e.g. sigmoid = neg, exp, add, div = 4).
"""

from __future__ import annotations

from hybridperf.costs.registry import CostRegistry, OpContext, Rule, RuleResult

#: max, subtract, exp, sum, divide
SOFTMAX_FLOPS_PER_ELEM = 5


def elementwise(flops_per_elem: int) -> Rule:
    """Rule factory: ``flops_per_elem`` x output elements."""

    def rule(ctx: OpContext) -> RuleResult:
        return RuleResult(flops_per_elem * ctx.out_numel)

    rule.__name__ = f"elementwise_{flops_per_elem}"
    return rule


UNARY_1 = [
    "relax.abs", "relax.negative", "relax.exp", "relax.log", "relax.sqrt", "relax.rsqrt", "relax.erf",
    "relax.sin", "relax.cos", "relax.tan", "relax.asin", "relax.acos", "relax.atan", "relax.sinh",
    "relax.cosh", "relax.tanh", "relax.asinh", "relax.acosh", "relax.atanh", "relax.floor", "relax.ceil",
    "relax.round", "relax.trunc", "relax.sign", "relax.square", "relax.nn.relu", "relax.logical_not",
    "relax.bitwise_not", "relax.isnan", "relax.isinf", "relax.isfinite",
]
BINARY_1 = [
    "relax.add", "relax.subtract", "relax.multiply", "relax.divide", "relax.floor_divide", "relax.power",
    "relax.maximum", "relax.minimum", "relax.mod", "relax.floor_mod", "relax.equal", "relax.not_equal",
    "relax.less", "relax.less_equal", "relax.greater", "relax.greater_equal", "relax.logical_and",
    "relax.logical_or", "relax.logical_xor", "relax.bitwise_and", "relax.bitwise_or", "relax.bitwise_xor",
    "relax.left_shift", "relax.right_shift", "relax.atan2", "relax.where",
]


def register(reg: CostRegistry) -> None:
    reg.add(UNARY_1, elementwise(1), "elementwise")
    reg.add(BINARY_1, elementwise(1), "elementwise")
    reg.add(["relax.clip", "relax.nn.leakyrelu", "relax.nn.prelu", "relax.ewise_fma"], elementwise(2), "elementwise")
    reg.add(["relax.log_add_exp"], elementwise(4), "elementwise")
    # sigmoid: neg, exp, add, div
    reg.add(["relax.sigmoid"], elementwise(4), "activation")
    # silu: sigmoid (4) + multiply
    reg.add(["relax.nn.silu"], elementwise(5), "activation")
    # softplus: exp, add, log
    reg.add(["relax.nn.softplus"], elementwise(3), "activation")
    # selu: compare, exp, sub, mul, mul
    reg.add(["relax.nn.selu"], elementwise(5), "activation")
    # gelu (erf form): div, erf, add, mul, mul
    reg.add(["relax.nn.gelu"], elementwise(5), "activation")
    # gelu (tanh form): x^3 (2), mul, add, mul, tanh, add, mul, mul
    reg.add(["relax.nn.gelu_tanh"], elementwise(9), "activation")
    reg.add(["relax.nn.softmax", "relax.nn.log_softmax"], elementwise(SOFTMAX_FLOPS_PER_ELEM), "softmax")
    # quantize: divide, round, add zero point, clip (2); dequantize: subtract, multiply
    reg.add(["relax.quantize"], elementwise(5), "quantize")
    reg.add(["relax.dequantize"], elementwise(2), "quantize")
    reg.add(["relax.astype"], elementwise(0), "cast")
