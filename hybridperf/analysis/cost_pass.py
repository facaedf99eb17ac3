"""The cost pass: one :class:`OpRecord` per Relax call binding of ``main``.

A thin loop over bindings that looks each op up in the cost registry
(:mod:`hybridperf.costs`). Bindings that only rename or pick tuple fields
carry data flow but produce no record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hybridperf.costs import CostRegistry, OpContext, OpCost, RuleResult, Status, default_registry, op_cost
from hybridperf.ir import tvm_compat as _tvm
from hybridperf.ir.tvm_compat import TensorInfo

_FOLDED_NOTE = "constant subexpression: all inputs are constants, folded at compile time"


@dataclass(frozen=True)
class OpRecord:
    """Cost of one Relax call binding."""

    index: int
    var: str
    op: str
    family: str
    status: Status
    cost: OpCost
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    input_vars: tuple[str, ...]
    precision: str
    note: str = ""
    #: the op's attributes as plain Python values (strides, dilation, groups, ...), where a cost rule read them
    attrs: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def counts_toward_time(self) -> bool:
        return self.status.counts_toward_time


@dataclass(frozen=True)
class ModelAnalysis:
    """Per-op costs of a whole model plus its interface."""

    records: tuple[OpRecord, ...]
    input_infos: Mapping[str, TensorInfo]
    output_infos: tuple[TensorInfo, ...]
    weight_bytes: int
    module: Any = field(repr=False, compare=False, default=None)
    #: ``weight_bytes`` split by dtype (what a precision override rescales)
    weight_bytes_by_dtype: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> OpCost:
        tot = OpCost()
        for r in self.records:
            tot = tot + r.cost
        return tot

    @property
    def flops(self) -> int:
        return sum(r.cost.flops for r in self.records)

    def by_status(self) -> dict[Status, int]:
        out = {s: 0 for s in Status}
        for r in self.records:
            out[r.status] += 1
        return out

    def by_operator(self) -> dict[str, OpCost]:
        out: dict[str, OpCost] = {}
        for r in self.records:
            out[r.op] = out.get(r.op, OpCost()) + r.cost
        return out

    @property
    def unsupported_ops(self) -> list[str]:
        return sorted({r.op for r in self.records if r.status is Status.UNSUPPORTED})

    @property
    def coverage(self) -> float:
        """Share of ops that have a cost (counted, estimated or zero-cost with a reason)."""
        if not self.records:
            return 1.0
        ok = sum(1 for r in self.records if r.status in (Status.COUNTED, Status.ESTIMATED, Status.ZERO_COST))
        return ok / len(self.records)


def precision_of(dtypes: list[str]) -> str:
    """Compute precision of an op from its operand dtypes."""
    ds = set(dtypes)
    if ds & {"int8", "uint8", "e4m3_float8", "e5m2_float8", "float8_e4m3fn", "float8_e5m2"}:
        return "fp8" if any("float8" in d for d in ds) else "int8"
    if "float16" in ds:
        return "fp16"
    if "bfloat16" in ds:
        return "bf16"
    if "float64" in ds:
        return "fp64"
    return "fp32"


def _attrs_dict(call: Any) -> dict[str, Any]:
    attrs = call.attrs
    if attrs is None:
        return {}
    out = {}
    for name in dir(attrs):
        if name.startswith("_") or name in ("same_as", "get_int", "get_int_tuple", "get_str", "id_", "is_", "script", "show", "span"):
            continue
        try:
            val = getattr(attrs, name)
        except Exception:  # noqa: BLE001 - some attrs raise on access in TVM
            continue
        if callable(val):
            continue
        out[name] = _tvm.to_py(val)
    return out


def analyze_module(mod: Any, registry: CostRegistry | None = None) -> ModelAnalysis:
    """Run the cost pass over ``mod["main"]``.

    Parameters
    ----------
    mod : tvm.IRModule
        A Relax module as produced by a frontend (high-level ops, not legalized).
    registry : CostRegistry, optional
        Cost rules; defaults to :func:`hybridperf.costs.default_registry`.
    """
    reg = registry or default_registry()
    func = mod["main"]
    # var name -> (is constant-derived, tensor infos)
    const_vars: set[str] = set()
    alias: dict[str, str] = {}
    records: list[OpRecord] = []
    weight_bytes = 0
    weight_by_dtype: dict[str, int] = {}
    seen_consts: set[int] = set()

    def resolve(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    def is_const(e: Any) -> bool:
        if _tvm.is_constant(e):
            return True
        if _tvm.is_var(e):
            return resolve(_tvm.var_name(e)) in const_vars
        return False

    for binding in _tvm.bindings(func):
        var = binding.var
        name = _tvm.var_name(var)
        value = binding.value
        if not _tvm.is_call(value):
            # aliases, tuples, tuple fields and constants carry data flow only
            if _tvm.is_var(value):
                alias[name] = _tvm.var_name(value)
            elif _tvm.is_tuple_get_item(value) and _tvm.is_var(_tvm.tuple_of(value)):
                src = _tvm.tuple_of(value)
                if resolve(_tvm.var_name(src)) in const_vars:
                    const_vars.add(name)
            elif _tvm.is_constant(value):
                const_vars.add(name)
            elif _tvm.is_tuple(value) and all(is_const(f) for f in value.fields):
                const_vars.add(name)
            continue
        op = _tvm.op_name(value)
        args = _tvm.call_args(value)
        in_infos: list[TensorInfo] = []
        const_flags: list[bool] = []
        in_vars: list[str] = []
        for a in args:
            infos = _tvm.tensor_infos(_tvm.expr_type(a)) if _tvm.has_type(a) else []
            c = is_const(a)
            for info in infos:
                in_infos.append(info)
                const_flags.append(c)
            if _tvm.is_var(a):
                in_vars.append(resolve(_tvm.var_name(a)))
            if _tvm.is_constant(a) and hash(a) not in seen_consts:
                seen_consts.add(hash(a))
                weight_bytes += sum(i.nbytes or 0 for i in infos)
                for i in infos:
                    weight_by_dtype[i.dtype] = weight_by_dtype.get(i.dtype, 0) + (i.nbytes or 0)
        out_infos = _tvm.tensor_infos(_tvm.expr_type(var))
        prec = precision_of([i.dtype for i in in_infos] or [o.dtype for o in out_infos])
        ctx = OpContext(op=op, inputs=tuple(in_infos), outputs=tuple(out_infos), const_inputs=tuple(const_flags))
        tensor_args = [a for a in args if _tvm.has_type(a) and _tvm.tensor_infos(_tvm.expr_type(a))]
        all_const = bool(tensor_args) and all(is_const(a) for a in tensor_args)

        status, family, note = Status.COUNTED, reg.family(op), ""
        flops, bytes_read = 0, None
        attrs: Mapping[str, Any] = {}
        symbolic = any(i.shape is None for i in in_infos + out_infos)
        if op.startswith("relax.call_tir"):
            family = "call_tir"
            if symbolic:
                status, note = Status.SYMBOLIC, "symbolic shape"
            else:
                gvar = value.args[0]
                flops = int(_tvm.estimate_tir_flops(mod[gvar]))
                status, note = Status.ESTIMATED, f"TVM TIR estimate of {gvar.name_hint}"
        elif reg.zero_reason(op) is not None:
            status, note = Status.ZERO_COST, reg.zero_reason(op) or ""
        elif reg.rule(op) is not None:
            if symbolic:
                status, note = Status.SYMBOLIC, "symbolic shape: bind it with --shape or --batch"
            else:
                attrs = _attrs_dict(value)
                ctx = OpContext(op=op, inputs=ctx.inputs, outputs=ctx.outputs, const_inputs=ctx.const_inputs, attrs=attrs)
                res = reg.rule(op)[1](ctx)
                flops, bytes_read, note = res.flops, res.bytes_read, res.note
        else:
            status, note = Status.UNSUPPORTED, "no cost rule for this op"

        if all_const and status in (Status.COUNTED, Status.ESTIMATED, Status.ZERO_COST):
            const_vars.add(name)
            status, note, flops, bytes_read = Status.ZERO_COST, _FOLDED_NOTE, 0, 0

        if status in (Status.COUNTED, Status.ESTIMATED):
            cost = op_cost(ctx, RuleResult(flops, bytes_read))
        elif status is Status.UNSUPPORTED and not symbolic:
            # traffic is known from shapes even when the arithmetic is not
            cost = OpCost(0, int(ctx.in_bytes), int(ctx.out_bytes), int(ctx.weight_bytes))
        else:
            cost = OpCost()
        records.append(
            OpRecord(
                index=len(records),
                var=name,
                op=op,
                family=family,
                status=status,
                cost=cost,
                inputs=tuple(in_infos),
                outputs=tuple(out_infos),
                input_vars=tuple(in_vars),
                precision=prec,
                note=note,
                attrs=attrs,
            )
        )

    inputs = {_tvm.var_name(p): (_tvm.tensor_infos(_tvm.expr_type(p)) or [TensorInfo(None, "unknown")])[0] for p in func.params}
    outputs = tuple(_tvm.tensor_infos(_tvm.expr_type(func.body.body)))
    return ModelAnalysis(
        records=tuple(records),
        input_infos=inputs,
        output_infos=outputs,
        weight_bytes=weight_bytes,
        module=mod,
        weight_bytes_by_dtype=weight_by_dtype,
    )
