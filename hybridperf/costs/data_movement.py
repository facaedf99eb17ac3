"""Data movement: no arithmetic, but real DRAM traffic (read inputs, write outputs).

Views (reshape and friends) are free: TVM lowers them to a no-copy
``memory.view`` (RewriteDataflowReshape) that shares the input's storage.
Gathers read the selected rows, not the whole table.
"""

from __future__ import annotations

from hybridperf.costs.registry import CostRegistry, OpContext, RuleResult

COPY_OPS = [
    "relax.permute_dims", "relax.concat", "relax.split", "relax.strided_slice", "relax.dynamic_strided_slice",
    "relax.broadcast_to", "relax.tile", "relax.repeat", "relax.flip", "relax.nn.pad", "relax.layout_transform",
    "relax.stack", "relax.nn.pixel_shuffle", "relax.tril", "relax.triu", "relax.reverse_sequence",
    "relax.slice_scatter", "relax.one_hot",
    "relax.zeros", "relax.ones", "relax.full", "relax.arange", "relax.eye", "relax.meshgrid", "relax.nn.dropout",
]
#: fills shaped like their first input: they read its shape, never its data
LIKE_OPS = ["relax.zeros_like", "relax.ones_like", "relax.full_like", "relax.eye_like"]
#: the scatters that can combine each update with the value already there (``reduction``, ``accumulate``)
SCATTER_OPS = ["relax.scatter_elements", "relax.scatter_nd", "relax.index_put"]
#: ops that only reinterpret a tensor's shape: zero cost here, and traced through by the int8 pass
VIEW_OPS = ("relax.reshape", "relax.squeeze", "relax.expand_dims", "relax.flatten", "relax.nn.batch_flatten")
SHAPE_OPS = ["relax.shape_of", "relax.shape_to_tensor", "relax.tensor_to_shape", "relax.size", "relax.hint_on_device"]


def copy(ctx: OpContext) -> RuleResult:
    return RuleResult(0)


def scatter(ctx: OpContext) -> RuleResult:
    """A copy of the data with the updates written in: no arithmetic for a plain update; one FLOP per update
    where each is combined with the value there (``reduction`` add, mul, min, max; ``index_put`` with
    ``accumulate``), and a divide per output element for ``mean``. The updates are the last input."""
    if ctx.op == "relax.index_put":
        reduction = "add" if ctx.attr("accumulate", False) else "update"
    else:
        reduction = str(ctx.attr("reduction", "update") or "update")
    if reduction in ("update", "none"):
        return RuleResult(0)
    flops = ctx.inputs[-1].numel + (ctx.out.numel if reduction == "mean" else 0)
    return RuleResult(flops, note=f"scatter with reduction {reduction}: one FLOP per update")


def fill_like(ctx: OpContext) -> RuleResult:
    """Writes its output; reads the fill value (``full_like``), not the template tensor's data."""
    return RuleResult(0, bytes_read=sum(i.nbytes or 0 for i, _ in ctx.distinct_inputs()[1:]))


def gather(ctx: OpContext) -> RuleResult:
    """Reads the index tensor plus one output-sized slice of the table."""
    index_bytes = sum(i.nbytes for i in ctx.inputs[1:])
    return RuleResult(0, bytes_read=index_bytes + ctx.out_bytes, note="gather: reads selected rows only")


def resize(ctx: OpContext) -> RuleResult:
    """Linear / cubic interpolation: 2^d or 4^d taps of (mul, add) per output element."""
    method = ctx.attr("method", "linear")
    dims = 2 if ctx.op.endswith("2d") else 3
    taps = 1 if method == "nearest_neighbor" else (4**dims if method == "cubic" else 2**dims)
    return RuleResult(2 * taps * ctx.out.numel if taps > 1 else 0)


#: taps of each ``relax.image.grid_sample`` method: the input values one output element interpolates
GRID_SAMPLE_TAPS = {"nearest": 1, "bilinear": 4, "bicubic": 16}


def grid_sample(ctx: OpContext) -> RuleResult:
    """Sampling at given coordinates (ONNX ``GridSample``, ``torch.nn.functional.grid_sample``: deformable
    attention's sampling): a (mul, add) per tap per output element, 4 taps bilinear, 16 bicubic, none nearest; the
    traffic is the input, the grid and the output (each read or written once at best: the roofline's)."""
    taps = GRID_SAMPLE_TAPS.get(str(ctx.attr("method", "bilinear")), 4)
    return RuleResult(2 * taps * ctx.out.numel if taps > 1 else 0)


def register(reg: CostRegistry) -> None:
    reg.add(COPY_OPS, copy, "data_movement")
    reg.add(SCATTER_OPS, scatter, "data_movement")
    reg.add(LIKE_OPS, fill_like, "data_movement")
    reg.add(["relax.take", "relax.gather_elements", "relax.gather_nd", "relax.index_tensor"], gather, "gather")
    reg.add(["relax.image.resize2d", "relax.image.resize3d"], resize, "resize")
    reg.add(["relax.image.grid_sample"], grid_sample, "grid_sample")
    reg.zero_cost(VIEW_OPS, "view: lowered to a no-copy memory.view sharing the input's storage")
    reg.zero_cost(SHAPE_OPS, "shape metadata only, no tensor data is touched")
