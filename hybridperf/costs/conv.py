"""Convolutions: 2 FLOP per MAC; a MAC per (output element x reduction element)."""

from __future__ import annotations

from hybridperf.costs.registry import FLOPS_PER_MAC, CostRegistry, OpContext, RuleResult


def _out_channels_axis(layout: str) -> int:
    return layout.index("O")


def conv(ctx: OpContext) -> RuleResult:
    """MACs = output elements x (weight elements / output channels).

    ``weight / O`` is ``(C_in / groups) x prod(kernel)`` in any kernel layout, so
    grouped, depthwise, strided and dilated convolutions need no special case
    (stride and dilation only change the output size).
    """
    w = ctx.inputs[1]
    layout = ctx.attr("kernel_layout") or ("OIHW" if len(w.shape) == 4 else "OIW" if len(w.shape) == 3 else "OIDHW")
    out_ch = w.shape[_out_channels_axis(layout)]
    macs = ctx.out.numel * (w.numel // out_ch)
    return RuleResult(FLOPS_PER_MAC * macs)


def conv_transpose(ctx: OpContext) -> RuleResult:
    """Each input element multiplies ``weight / C_in`` weights (kernel layout IO..)."""
    x, w = ctx.inputs[0], ctx.inputs[1]
    layout = ctx.attr("kernel_layout") or "IOHW"
    in_ch = w.shape[layout.index("I")]
    macs = x.numel * (w.numel // in_ch)
    return RuleResult(FLOPS_PER_MAC * macs)


def register(reg: CostRegistry) -> None:
    reg.add(["relax.nn.conv1d", "relax.nn.conv2d", "relax.nn.conv3d"], conv, "conv")
    reg.add(
        ["relax.nn.conv1d_transpose", "relax.nn.conv2d_transpose", "relax.nn.conv3d_transpose"],
        conv_transpose,
        "conv_transpose",
    )
