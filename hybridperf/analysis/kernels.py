"""Kernel grouping after TVM's fusion (``FuseOps``).

A kernel is one launch: either a fused group of ops or a single op. Its
FLOPs are the sum of its ops'; its DRAM traffic is only what crosses the
kernel boundary (external inputs and outputs) since intermediates inside a
fused kernel stay in registers / cache.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hybridperf.analysis.cost_pass import ModelAnalysis, OpRecord, precision_of, with_dtype_split
from hybridperf.costs import OpContext, OpCost, Status
from hybridperf.ir import tvm_compat as _tvm
from hybridperf.ir.lowering import origin_of


@dataclass(frozen=True)
class Kernel:
    """One launched kernel: a fused group (or a lone op) of the analysed module."""

    index: int
    name: str
    op_indices: tuple[int, ...]
    status: Status
    cost: OpCost
    precision: str

    @property
    def counts_toward_time(self) -> bool:
        return self.status.counts_toward_time


def _kernel_status(members: list[OpRecord]) -> Status:
    statuses = {m.status for m in members}
    for s in (Status.UNSUPPORTED, Status.SYMBOLIC):
        if s in statuses:
            return s
    if statuses <= {Status.ZERO_COST}:
        return Status.ZERO_COST
    if Status.ESTIMATED in statuses:
        return Status.ESTIMATED
    return Status.COUNTED


def _arg_infos(args: list[Any]) -> list[tuple[_tvm.TensorInfo, bool]]:
    out = []
    for a in args:
        if not _tvm.has_type(a):
            continue
        for info in _tvm.tensor_infos(_tvm.expr_type(a)):
            out.append((info, _tvm.is_constant(a)))
    return out


def kernel_records(fused_module: Any, call: Any) -> dict[Any, tuple[int, int]] | None:
    """The op records a kernel ``call`` of ``fused_module``'s ``main`` computes, read off the tags
    :mod:`hybridperf.ir.lowering` gives each op's PrimFunc: for a ``relax.call_tir``, ``{None: (record, 0)}``;
    for a call of a fused Relax function, each of its vars bound to a tagged ``call_tir`` or to an item of one ->
    ``(record, output index)``, in binding order ({} where nothing is tagged); None for any other call (an op TVM
    could not legalize stays a lone high-level call)."""
    if _tvm.op_name(call) == "relax.call_tir":
        o = origin_of(fused_module, call.args[0])
        return {None: (o, 0)} if o is not None and o >= 0 else {}
    if not (_tvm.is_global_var(call.op) and _tvm.is_relax_function(fused_module[call.op])):
        return None
    made: dict[Any, tuple[int, int]] = {}
    for ib in _tvm.bindings(fused_module[call.op]):
        iv = ib.value
        if _tvm.is_call(iv) and _tvm.op_name(iv) == "relax.call_tir":
            o = origin_of(fused_module, iv.args[0])
            if o is not None and o >= 0:
                made[ib.var] = (o, 0)
        elif _tvm.is_tuple_get_item(iv) and _tvm.tuple_of(iv) in made:
            made[ib.var] = (made[_tvm.tuple_of(iv)][0], int(iv.index))
    return made


def group_kernels(analysis: ModelAnalysis, fused_module: Any) -> tuple[Kernel, ...]:
    """Read kernels off a tagged, fused module (see :mod:`hybridperf.ir.lowering`)."""
    records = analysis.records
    kernels: list[Kernel] = []
    claimed: set[int] = set()
    for b in _tvm.bindings(fused_module["main"]):
        value = b.value
        if not _tvm.is_call(value):
            continue
        name = _tvm.op_name(value)
        made = kernel_records(fused_module, value)
        members = list(dict.fromkeys(o for o, _ in made.values())) if made is not None else []
        if name == "relax.call_tir":
            args = _tvm.call_args(value)
            kname = value.args[0].name_hint
        elif made is not None:
            args = list(value.args)
            kname = value.op.name_hint
        else:
            # an op TVM could not legalize: it stays a lone high-level call
            var = _tvm.var_name(b.var)
            members = [r.index for r in records if r.var == var]
            args = _tvm.call_args(value)
            kname = name
        members = [m for m in members if m not in claimed]
        if not members:
            continue
        claimed.update(members)
        kernels.append(_make_kernel(len(kernels), kname, members, records, args, b.var))
    # records that produced no kernel (views folded away, pure shape ops) stay visible
    for r in records:
        if r.index not in claimed and r.status is not Status.ZERO_COST:
            kernels.append(Kernel(len(kernels), r.var, (r.index,), r.status, r.cost, r.precision))
    return tuple(kernels)


def _make_kernel(idx: int, name: str, members: list[int], records, args, out_var) -> Kernel:
    recs = [records[m] for m in members]
    status = _kernel_status(recs)
    if len(recs) == 1:
        r = recs[0]
        return Kernel(idx, name, (r.index,), status, r.cost, r.precision)
    flops = sum(r.cost.flops for r in recs)
    ins = _arg_infos(args)
    bytes_read = sum(i.nbytes or 0 for i, _ in ins)
    weight = sum(i.nbytes or 0 for i, c in ins if c)
    # a gather inside the kernel reads selected rows, not its whole table
    for r in recs:
        if r.family == "gather" and r.inputs and r.inputs[0].nbytes:
            table = r.inputs[0]
            if any(i == table for i, _ in ins):
                bytes_read += r.cost.bytes_read - (table.nbytes or 0)
    outs = _tvm.tensor_infos(_tvm.expr_type(out_var))
    bytes_written = sum(o.nbytes or 0 for o in outs)
    prec = precision_of([i.dtype for r in recs if r.counts_toward_time for i in r.inputs]) if any(
        r.counts_toward_time for r in recs
    ) else recs[0].precision
    if status is Status.ZERO_COST:
        cost = OpCost()
    else:
        cost = OpCost(flops, max(0, bytes_read), bytes_written, weight)
        # the float32 part of what crosses the boundary is what a precision override re-sizes
        cost = with_dtype_split(cost, OpContext(name, tuple(i for i, _ in ins), tuple(outs), tuple(c for _, c in ins)), prec)
    return Kernel(idx, name, tuple(members), status, cost, prec)


def unfused_kernels(analysis: ModelAnalysis) -> tuple[Kernel, ...]:
    """One kernel per op with a cost (the granularity of an unfused runtime)."""
    return tuple(
        Kernel(i, r.var, (r.index,), r.status, r.cost, r.precision)
        for i, r in enumerate(r for r in analysis.records if r.status is not Status.ZERO_COST)
    )


def with_ops_run(kernels: Sequence[Kernel], records: Sequence[OpRecord], run: Collection[int]) -> tuple[Kernel, ...]:
    """``kernels`` with the records ``run`` (constant subexpressions a runtime computes every call, ``records``
    holding them priced: :func:`hybridperf.estimate.pricing.as_run_by`) taking time.

    A kernel of folded ops only takes their summed cost; a timed kernel that holds one also computes its FLOPs (its
    constant inputs already cross the kernel's boundary); one held by no kernel (an unfused analysis lists none for a
    zero-cost op) becomes a kernel of its own, after the others.

    Parameters
    ----------
    kernels : sequence of Kernel
        The analysis's kernels.
    records : sequence of OpRecord
        Its op records, those in ``run`` with their cost where they run.
    run : collection of int
        Indices of the records run every call.

    Returns
    -------
    tuple of Kernel
    """
    run = frozenset(run)
    out: list[Kernel] = []
    claimed: set[int] = set()
    for k in kernels:
        claimed.update(k.op_indices)
        extra = [records[i] for i in k.op_indices if i in run]
        if not extra:
            out.append(k)
        elif k.status is Status.ZERO_COST:
            cost = extra[0].cost if len(extra) == 1 else sum((r.cost for r in extra), OpCost())
            prec = extra[0].precision if len(extra) == 1 else precision_of([i.dtype for r in extra for i in r.inputs])
            out.append(replace(k, status=_kernel_status([records[i] for i in k.op_indices]), cost=cost, precision=prec))
        else:
            out.append(replace(k, cost=replace(k.cost, flops=k.cost.flops + sum(r.cost.flops for r in extra))))
    for i in sorted(run - claimed):
        r = records[i]
        out.append(Kernel(len(out), r.var, (r.index,), r.status, r.cost, r.precision))
    return tuple(out)
