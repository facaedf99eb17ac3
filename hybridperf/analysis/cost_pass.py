"""The cost pass: one :class:`OpRecord` per Relax call binding of ``main``.

A thin visitor over bindings that looks each op up in the cost registry
(:mod:`hybridperf.costs`), whose typed entries (:class:`~hybridperf.costs.registry.CountedRule`,
:class:`~hybridperf.costs.registry.ZeroCost`) say how it is priced. Bindings that only rename or
pick tuple fields carry data flow but produce no record.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from hybridperf.costs import CostRegistry, OpContext, OpCost, RuleResult, Status, default_registry, op_cost
from hybridperf.analysis.broadcast import short_spans
from hybridperf.analysis.depthwise1d import depthwise_work
from hybridperf.analysis.elementwise_math import math_elements
from hybridperf.analysis.gather import short_blocks
from hybridperf.analysis.subnormal import (CARRY_OPS, MASK_ELEMENTS, MATMUL_OPS, SOFTMAX_OPS, broadcast_share,
                                          matmul_macs, window_entries)
from hybridperf.analysis.transpose import innermost_elements
from hybridperf.costs.registry import CountedRule, ZeroCost
from hybridperf.frozen import reduce_read_only
from hybridperf.ir import tvm_compat as _tvm
from hybridperf.ir.tvm_compat import TensorInfo

#: the note of a constant subexpression, zero-cost as a runtime that folds constants sees it (public: int8 and
#: pricing tell folded records by it)
FOLDED_NOTE = "constant subexpression: all inputs are constants, folded at compile time"
#: the note of a constant subexpression as a runtime that does not fold constants runs it (the ``--runtime`` named)
RUN_EVERY_CALL_NOTE = "constant subexpression: all inputs are constants, run every call by {runtime} (no constant folding)"


def _float32_bytes(infos: Any) -> int:
    return sum(i.nbytes or 0 for i in infos if i.dtype == "float32")


def with_dtype_split(cost: OpCost, ctx: OpContext, precision: str) -> OpCost:
    """``cost`` with its float32 part given (:attr:`OpCost.float32_bytes_read` and the two others) where a precision
    override could mistake it: an op labelled ``fp32`` that moves a tensor of another dtype, or one labelled
    ``int32`` that writes a float32 tensor; else ``cost`` itself (every float32 op's cost leaves them None).

    Integer and bool inputs are read whole; the rest of the read bytes (all of them where the rule did not say
    otherwise, the selected rows of a gather where it did) are the float32 inputs' data.

    Parameters
    ----------
    cost : OpCost
        The op's or kernel's cost, without a float32 part.
    ctx : OpContext
        Its input and output tensors (dtypes and bytes) and which inputs are constants.
    precision : str
        Its precision label (:func:`precision_of`).

    Returns
    -------
    OpCost
        ``cost`` itself, or a copy with its float32 part.
    """
    if precision not in ("fp32", "int32") or not (cost.bytes_read or cost.bytes_written or cost.weight_bytes):
        return cost  # fp16, bf16, int8 ...: an override leaves the op as it is; no traffic: nothing to split
    tensors = ctx.inputs + ctx.outputs
    if precision == "fp32" and all(t.dtype == "float32" for t in tensors if t.nbytes):
        return cost
    if precision == "int32" and not _float32_bytes(ctx.outputs):
        return cost
    distinct = ctx.distinct_inputs()
    other_in = sum(i.nbytes or 0 for i, _ in distinct if i.dtype != "float32")
    read = cost.bytes_read - min(cost.bytes_read, other_in) if _float32_bytes(ctx.inputs) else 0
    weight = sum(i.nbytes or 0 for i, c in distinct if c and i.dtype == "float32")
    written = min(cost.bytes_written, _float32_bytes(ctx.outputs))
    return replace(cost, float32_bytes_read=read, float32_bytes_written=written,
                   float32_weight_bytes=min(cost.weight_bytes, weight))


@dataclass(frozen=True)
class Unfolded:
    """What a constant subexpression (an op whose every input is a constant) costs where the runtime runs it.

    Its :class:`OpRecord` is zero-cost (:data:`FOLDED_NOTE`), as onnxruntime and TVM fold it at load time; a runtime
    that runs the graph as written (eager PyTorch, CUDA-graph replay) computes it every call
    (:func:`hybridperf.estimate.pricing.as_run_by` prices it there).

    Attributes
    ----------
    status : Status
        The status the op has where it runs (counted, estimated, or zero-cost with the rule's reason).
    cost : OpCost
        Its cost there.
    note : str
        Its cost rule's note.
    """

    status: Status
    cost: OpCost
    note: str = ""


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
    #: every record var (or graph input) whose value the op reads, through tuples and tuple fields too
    #: (``input_vars`` lists direct var arguments only): the data flow a runtime's lifetimes follow
    read_vars: tuple[str, ...] = field(default=(), compare=False, repr=False)
    #: a constant subexpression (:data:`FOLDED_NOTE`): its cost where a runtime runs it every call; None for the rest
    unfolded: Unfolded | None = field(default=None, compare=False, repr=False)
    #: a softmax's output entries that a mask of about -100 makes float32 subnormals, and a matrix product's
    #: multiply-adds that read such entries (:mod:`hybridperf.analysis.subnormal`; estimates from the graph, 0: none)
    subnormal_outputs: int = field(default=0, repr=False)
    subnormal_macs: int = field(default=0, repr=False)
    #: a softmax whose mask, computed in the graph from constants, could not be evaluated: its count is unknown
    subnormal_unknown: bool = field(default=False, repr=False)
    #: a ``permute_dims`` that moves the innermost axis other than as a 2-D transpose: its input elements
    #: (:mod:`hybridperf.analysis.transpose`; 0: any other op, or a shape that is not static)
    innermost_transpose_elements: int = field(default=0, repr=False)
    #: a recurrent layer's step product that re-reads a weight an earlier step of the same layer and direction read:
    #: the bytes it re-reads, and the bytes of every weight one step of that layer reads (what a cache must hold
    #: for the re-reads to hit it) (:mod:`hybridperf.analysis.recurrent`; 0: any other op)
    reread_weight_bytes: int = field(default=0, repr=False)
    reread_set_bytes: int = field(default=0, repr=False)
    #: the ONNX recurrent node (LSTM, GRU, RNN) this op was unrolled from ("": none): a CPU model prices its kernels
    #: as an op family it was never trained on (:data:`hybridperf.analysis.recurrent.RECURRENT_FAMILY`)
    recurrent_node: str = field(default="", repr=False)
    #: the key (:data:`hybridperf.analysis.elementwise_math.ACTIVATION_KEYS`) of the ONNX activation this op was
    #: lowered from where onnxruntime runs that activation with a kernel of its own ("": none), and on the op that
    #: gives the activation's output, that output's elements (0 on the others): the activation is priced once, at its
    #: own figure, and none of its ops at theirs (:mod:`hybridperf.analysis.elementwise_math`)
    activation: str = field(default="", repr=False)
    activation_elements: int = field(default=0, repr=False)

    @property
    def counts_toward_time(self) -> bool:
        return self.status.counts_toward_time

    def __reduce__(self) -> tuple[Any, tuple[type, dict[str, Any]]]:
        return reduce_read_only(self)  # ``attrs`` is a mappingproxy, which does not pickle


@dataclass(frozen=True)
class ModelAnalysis:
    """Per-op costs of a whole model plus its interface."""

    records: tuple[OpRecord, ...]
    input_infos: Mapping[str, TensorInfo]
    output_infos: tuple[TensorInfo, ...]
    weight_bytes: int
    #: ``weight_bytes`` split by dtype (what a precision override rescales)
    weight_bytes_by_dtype: Mapping[str, int] = field(default_factory=dict)
    #: the vars ``main`` returns (a value that leaves the function cannot stay int8 inside it)
    output_vars: frozenset[str] = frozenset()

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
    def subnormal_work(self) -> tuple[int, int]:
        """(softmax output entries, matrix-product multiply-adds) that read or write float32 subnormals the model
        makes itself (:mod:`hybridperf.analysis.subnormal`), over the ops that run."""
        run = [r for r in self.records if r.counts_toward_time]
        return sum(r.subnormal_outputs for r in run), sum(r.subnormal_macs for r in run)

    def with_own_kernels(self, own: frozenset[str]) -> ModelAnalysis:
        """This analysis with no transpose elements counted on the records of ``own`` (the vars of ONNX nodes that
        onnxruntime runs with a kernel of their own: :attr:`~hybridperf.frontends.common.LoadedModel.own_kernel_vars`)."""
        if not any(r.var in own and r.innermost_transpose_elements for r in self.records):
            return self
        return replace(self, records=tuple(replace(r, innermost_transpose_elements=0) if r.var in own else r
                                           for r in self.records))

    def with_activations(self, activation_vars: Mapping[str, tuple[str, str]]) -> ModelAnalysis:
        """This analysis with the records of ``activation_vars`` (the vars of ONNX activations that onnxruntime runs
        with a kernel of its own: :attr:`~hybridperf.frontends.common.LoadedModel.activation_vars`, var -> (node,
        key)) marked with their key, and the last record of each node (its output) with the node's output elements."""
        if not activation_vars:
            return self
        last: dict[str, int] = {}
        for k, r in enumerate(self.records):
            if r.var in activation_vars:
                last[activation_vars[r.var][0]] = k

        def marked(k: int, r: OpRecord) -> OpRecord:
            node, key = activation_vars[r.var]
            out = r.outputs[0].numel if last[node] == k and r.outputs else 0
            return replace(r, activation=key, activation_elements=out or 0)

        return replace(self, records=tuple(marked(k, r) if r.var in activation_vars else r
                                           for k, r in enumerate(self.records)))

    @property
    def innermost_transposes(self) -> tuple[int, int]:
        """(transposes, their input elements) that move the innermost axis other than as a 2-D transpose
        (:mod:`hybridperf.analysis.transpose`), over the ops that run."""
        run = [r for r in self.records if r.counts_toward_time and r.innermost_transpose_elements]
        return len(run), sum(r.innermost_transpose_elements for r in run)

    @property
    def short_gathers(self) -> tuple[int, int]:
        """(gathers, blocks) of the ``take`` ops that run and copy many short blocks
        (:func:`hybridperf.analysis.gather.short_blocks`)."""
        return short_blocks(self.records)

    @property
    def short_broadcasts(self) -> tuple[int, int]:
        """(ops, spans) of the binary element-wise ops that run and broadcast over many short spans
        (:func:`hybridperf.analysis.broadcast.short_spans`)."""
        return short_spans(self.records)

    @property
    def depthwise_conv1d_work(self) -> dict[str, tuple[int, int]]:
        """(multiply-adds, output elements) per class of the depthwise 1-D convolutions that run
        (:func:`hybridperf.analysis.depthwise1d.depthwise_work`)."""
        return depthwise_work(self.records)

    @property
    def math_elements(self) -> dict[str, int]:
        """float32 output elements per function of the element-wise math onnxruntime evaluates one element at a time
        (:func:`hybridperf.analysis.elementwise_math.math_elements`), over the ops that run."""
        return math_elements(self.records)

    @property
    def coverage(self) -> float:
        """Share of ops that have a cost (counted, estimated or zero-cost with a reason)."""
        if not self.records:
            return 1.0
        ok = sum(1 for r in self.records if r.status in (Status.COUNTED, Status.ESTIMATED, Status.ZERO_COST))
        return ok / len(self.records)

    def __reduce__(self) -> tuple[Any, tuple[type, dict[str, Any]]]:
        return reduce_read_only(self)  # ``input_infos`` and ``weight_bytes_by_dtype`` are mappingproxies


#: integer and bool dtypes wider than int8: an op on these alone is index or mask work (``int32``)
_INT_ALU_DTYPES = frozenset(("bool", "int16", "uint16", "int32", "uint32", "int64", "uint64"))


def precision_of(dtypes: list[str]) -> str:
    """Compute precision of an op from its operand dtypes: ``int32`` where they are all integer or bool wider
    than int8 (a precision override re-prices float32 work only), ``fp32`` where none says otherwise."""
    ds = set(dtypes)
    if ds & {"int8", "uint8", "e4m3_float8", "e5m2_float8", "float8_e4m3fn", "float8_e5m2"}:
        return "fp8" if any("float8" in d for d in ds) else "int8"
    if "float16" in ds:
        return "fp16"
    if "bfloat16" in ds:
        return "bf16"
    if "float64" in ds:
        return "fp64"
    if ds and ds <= _INT_ALU_DTYPES:
        return "int32"
    return "fp32"


def is_tir_call(op: str) -> bool:
    """``call_tir`` and its variants: priced by TVM's estimate of the called PrimFunc (status estimated)."""
    return op.startswith("relax.call_tir")


_NOT_ATTRS = frozenset(("same_as", "get_int", "get_int_tuple", "get_str", "id_", "is_", "script", "show", "span"))


@functools.cache
def _attr_names(attrs_type: type) -> tuple[str, ...]:
    """Candidate attribute names of one TVM attrs class (``dir`` once per class)."""
    return tuple(n for n in dir(attrs_type) if not n.startswith("_") and n not in _NOT_ATTRS)


def _attrs_dict(call: Any) -> dict[str, Any]:
    attrs = call.attrs
    if attrs is None:
        return {}
    out = {}
    names = _attr_names(type(attrs))
    extra = getattr(attrs, "__dict__", None)
    if extra:  # names set on the instance itself (dir would list them too)
        names = tuple(sorted(set(names) | {n for n in extra if not n.startswith("_") and n not in _NOT_ATTRS}))
    for name in names:
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
    cost_pass = _CostPass(mod, registry or default_registry())
    func = mod["main"]
    n_inputs = _tvm.num_inputs(func)
    for p in func.params[n_inputs:]:
        cost_pass.add_weight_param(p)
    # A Relax PyExprVisitor hands over the bindings. It is slower than a plain loop over
    # func.body.blocks (TVM_NOTES), but by little: best of 8, +4 ms on ResNet-50 (116 -> 120 ms)
    # and +35 ms on BERT-base (207 -> 242 ms), medians equal within noise; the pass's time is
    # attribute reads and TIR FLOP estimates. That is under 1 % of a predict.
    _tvm.visit_bindings(func, cost_pass.visit_binding)
    cost_pass.count_constants(func.body.body)  # a constant main returns is a weight too (until 2026-12-05 not counted)
    inputs = {}
    for p in func.params[:n_inputs]:  # a tuple parameter: one input per tensor in it (its first alone was counted)
        leaves = _tvm.tensor_infos(_tvm.expr_type(p)) or [TensorInfo(None, "unknown")]
        if _tvm.is_tuple_type(_tvm.expr_type(p)):
            inputs.update({f"{_tvm.var_name(p)}[{i}]": info for i, info in enumerate(leaves)})
        else:
            inputs[_tvm.var_name(p)] = leaves[0]
    outputs = tuple(_tvm.tensor_infos(_tvm.expr_type(func.body.body)))
    return ModelAnalysis(
        records=tuple(cost_pass.records),
        input_infos=MappingProxyType(inputs),
        output_infos=outputs,
        weight_bytes=cost_pass.weight_bytes,
        weight_bytes_by_dtype=MappingProxyType(cost_pass.weight_by_dtype),
        output_vars=frozenset(_returned_vars(func.body.body)),
    )


def _returned_vars(expr: Any) -> list[str]:
    """Names of the vars in a function's result (a var or a nested tuple of them)."""
    if _tvm.is_var(expr):
        return [_tvm.var_name(expr)]
    if _tvm.is_tuple(expr):
        return [n for f in expr.fields for n in _returned_vars(f)]
    return []


class _CostPass:
    """The cost pass's state while it walks ``main``: which vars are constants (or aliases of
    one), the weights seen, and the records so far. One :meth:`visit_binding` per binding."""

    def __init__(self, mod: Any, registry: CostRegistry):
        self.mod = mod
        self.registry = registry
        self.const_vars: set[str] = set()
        self.alias: dict[str, str] = {}
        self.records: list[OpRecord] = []
        self.weight_bytes = 0
        self.weight_by_dtype: dict[str, int] = {}
        self.seen_consts: set[int] = set()
        #: var -> the constants it holds (a var bound to a constant, a tuple of them or a field of one)
        self.const_leaves: dict[str, tuple[Any, ...]] = {}
        #: tuple / tuple-field vars -> the record vars (or inputs) they hold
        self.reads_of: dict[str, tuple[str, ...]] = {}
        #: var -> the float32 constants added into it, each with how many of its entries one constant entry became
        #: (before a softmax), and the entries that are subnormal (after one); constant hash -> its window entries
        self.masked: dict[str, list[tuple[Any, float]]] = {}
        self.subnormal: dict[str, float] = {}
        self.windows: dict[Any, int | None] = {}
        #: the bindings of constant subexpressions (a mask computed from constants: torch.export's Swin), by var
        self.const_bindings: dict[str, Any] = {}
        self._infos: dict[int, list[TensorInfo]] = {}
        self._alive: list[Any] = []

    def infos(self, e: Any) -> list[TensorInfo]:
        """Tensor leaves of ``e``'s type (none for an expression without one), read once per type
        node: a var's type is read at its binding and at each use."""
        if not _tvm.has_type(e):
            return []
        ty = _tvm.expr_type(e)
        key = _tvm.node_id(ty)
        got = self._infos.get(key)
        if got is None:
            got = self._infos[key] = _tvm.tensor_infos(ty)
            self._alive.append(ty)  # keeps the node (and so its id) alive while the pass runs
        return got

    def resolve(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def is_const(self, e: Any) -> bool:
        if _tvm.is_constant(e):
            return True
        if _tvm.is_var(e):
            return self.resolve(_tvm.var_name(e)) in self.const_vars
        return False

    def add_weight_param(self, param: Any) -> None:
        """A parameter past ``num_input`` (:func:`~hybridperf.ir.tvm_compat.num_inputs`): a weight whose value is
        passed in, a constant to the pass; its bytes are weights once, used or not, as the runtime holds it either
        way."""
        self.const_vars.add(_tvm.var_name(param))
        self._add_weight(self.infos(param))

    def _add_weight(self, infos: list[TensorInfo]) -> None:
        self.weight_bytes += sum(i.nbytes or 0 for i in infos)
        for i in infos:
            self.weight_by_dtype[i.dtype] = self.weight_by_dtype.get(i.dtype, 0) + (i.nbytes or 0)

    def constants_of(self, e: Any) -> list[Any]:
        """The constants ``e`` holds: itself, those of a var bound to them, of a tuple's fields, of a tuple field."""
        if _tvm.is_constant(e):
            return [e]
        if _tvm.is_var(e):
            return list(self.const_leaves.get(self.resolve(_tvm.var_name(e)), ()))
        if _tvm.is_tuple(e):
            return [c for f in e.fields for c in self.constants_of(f)]
        if _tvm.is_tuple_get_item(e):
            return self.constants_of(_tvm.tuple_of(e))
        return []

    def count_constants(self, e: Any) -> None:
        """Count each constant ``e`` holds once as weights (a var bound to a constant and a constant returned were not
        counted until 2026-12-05, only one passed to a call)."""
        for c in self.constants_of(e):
            if hash(c) not in self.seen_consts:
                self.seen_consts.add(hash(c))
                self._add_weight(self.infos(c))

    def visit_binding(self, binding: Any) -> None:
        name = _tvm.var_name(binding.var)
        value = binding.value
        if _tvm.is_call(value):
            args = _tvm.call_args(value)
            self.records.append(self._subnormals(self._record(name, binding.var, value, args), args))
            if name in self.const_vars:
                self.const_bindings[name] = binding
        elif _tvm.is_if(value):  # its branches are not bindings of this function: neither is priced
            self.records.append(self._control_flow(name, binding.var, value))
        else:
            self._data_flow(name, value)
            if _tvm.is_constant(value):  # a literal a constant subexpression may be computed from (-100)
                self.const_bindings[name] = binding

    def _control_flow(self, name: str, var: Any, value: Any) -> OpRecord:
        """An ``If`` on a run-time condition: one unsupported record, so the totals are lower bounds (its branches
        ran unpriced and unmentioned until 2026-12-03). A condition known once shapes are bound is folded before
        import (:mod:`hybridperf.frontends.normalize`), so only data-dependent ones reach here."""
        out_infos = self.infos(var)
        cond = value.cond
        in_infos = self.infos(cond)
        return OpRecord(
            index=len(self.records),
            var=name,
            op="relax.If",
            family="control_flow",
            status=Status.UNSUPPORTED,
            cost=OpCost(),
            inputs=tuple(in_infos),
            outputs=tuple(out_infos),
            input_vars=(self.resolve(_tvm.var_name(cond)),) if _tvm.is_var(cond) else (),
            read_vars=tuple(self.reads(cond)),
            precision=precision_of([o.dtype for o in out_infos] or [i.dtype for i in in_infos]),
            note="control flow on a run-time condition: neither branch is priced",
            attrs=MappingProxyType({}),
        )

    def reads(self, e: Any) -> list[str]:
        """Record vars (or graph inputs) an argument reads: a var, the fields of a tuple, a tuple field."""
        if _tvm.is_var(e):
            name = self.resolve(_tvm.var_name(e))
            return list(self.reads_of.get(name, (name,)))
        if _tvm.is_tuple(e):
            return [v for f in e.fields for v in self.reads(f)]
        if _tvm.is_tuple_get_item(e):
            return self.reads(_tvm.tuple_of(e))
        return []

    def _data_flow(self, name: str, value: Any) -> None:
        """Aliases, tuples, tuple fields and constants carry data flow only."""
        if _tvm.is_tuple(value) or _tvm.is_tuple_get_item(value):
            self.reads_of[name] = tuple(self.reads(value))
        if not _tvm.is_var(value) and (consts := self.constants_of(value)):
            self.const_leaves[name] = tuple(consts)
        if _tvm.is_var(value):
            self.alias[name] = _tvm.var_name(value)
        elif _tvm.is_tuple_get_item(value) and _tvm.is_var(_tvm.tuple_of(value)):
            if self.resolve(_tvm.var_name(_tvm.tuple_of(value))) in self.const_vars:
                self.const_vars.add(name)
        elif _tvm.is_constant(value):
            self.const_vars.add(name)
        elif _tvm.is_tuple(value) and all(self.is_const(f) for f in value.fields):
            self.const_vars.add(name)

    def _operands(self, args: list[Any]) -> tuple[list[TensorInfo], list[bool], list[bool], list[str]]:
        """Tensor leaves of a call's arguments with their constness, whether each repeats an earlier argument
        (``Mul(y, y)``), and the vars read; counts each constant's bytes once as weights."""
        in_infos: list[TensorInfo] = []
        const_flags: list[bool] = []
        repeated: list[bool] = []
        in_vars: list[str] = []
        seen: set[Any] = set()
        for a in args:
            infos = self.infos(a)
            c = self.is_const(a)
            key = (self.resolve(_tvm.var_name(a)) if _tvm.is_var(a) else
                   ("const", hash(a)) if _tvm.is_constant(a) else None)
            again = key is not None and key in seen
            seen.add(key)
            for info in infos:
                in_infos.append(info)
                const_flags.append(c)
                repeated.append(again)
            if _tvm.is_var(a):
                in_vars.append(self.resolve(_tvm.var_name(a)))
            self.count_constants(a)
        return in_infos, const_flags, repeated, in_vars

    def _record(self, name: str, var: Any, value: Any, args: list[Any]) -> OpRecord:
        op = _tvm.op_name(value)
        in_infos, const_flags, repeated, in_vars = self._operands(args)
        out_infos = self.infos(var)
        prec = precision_of([i.dtype for i in in_infos] or [o.dtype for o in out_infos])
        ctx = OpContext(op=op, inputs=tuple(in_infos), outputs=tuple(out_infos), const_inputs=tuple(const_flags),
                        repeated=tuple(repeated))
        tensor_args = [a for a in args if self.infos(a)]
        all_const = bool(tensor_args) and all(self.is_const(a) for a in tensor_args)
        symbolic = any(i.shape is None for i in in_infos + out_infos)

        priced = self._price(op, value, ctx, symbolic)
        if priced.status in (Status.COUNTED, Status.ESTIMATED):
            cost = op_cost(ctx, RuleResult(priced.flops, priced.bytes_read))
        elif priced.status is Status.UNSUPPORTED and not symbolic:
            # traffic is known from shapes even when the arithmetic is not
            cost = OpCost(0, int(ctx.in_bytes), int(ctx.out_bytes), int(ctx.weight_bytes))
        else:
            cost = OpCost()
        cost = with_dtype_split(cost, ctx, prec)
        unfolded = None
        if all_const and priced.status in (Status.COUNTED, Status.ESTIMATED, Status.ZERO_COST):
            # zero-cost, as a runtime that folds constants sees it; its cost kept for one that does not (dropped until
            # 2026-12-04: a GRU's first h0 @ W_hh read as free under eager PyTorch)
            self.const_vars.add(name)
            unfolded = Unfolded(priced.status, cost, priced.note)
            priced = _Priced(Status.ZERO_COST, priced.family, FOLDED_NOTE, 0, 0, priced.attrs)
            cost = OpCost()
        return OpRecord(
            index=len(self.records),
            var=name,
            op=op,
            family=priced.family,
            status=priced.status,
            cost=cost,
            inputs=tuple(in_infos),
            outputs=tuple(out_infos),
            input_vars=tuple(in_vars),
            read_vars=tuple(dict.fromkeys(v for a in args for v in self.reads(a))),
            precision=prec,
            note=priced.note,
            attrs=MappingProxyType(dict(priced.attrs)),
            unfolded=unfolded,
            innermost_transpose_elements=(innermost_elements(in_infos[0].shape, priced.attrs.get("axes"))
                                          if op == "relax.permute_dims" and in_infos else 0),
        )

    def _broadcast(self, arg: Any, out_numel: int | None) -> float:
        """How many output entries of ``out_numel`` each entry of ``arg`` becomes (broadcast; 0 where unknown)."""
        infos = self.infos(arg)
        return broadcast_share(1.0, infos[0].numel if len(infos) == 1 else None, out_numel)

    def _subnormals(self, rec: OpRecord, args: list[Any]) -> OpRecord:
        """Follow float32 entries that a softmax makes subnormal (:mod:`hybridperf.analysis.subnormal`): an add's
        float32 constants (up to :data:`~hybridperf.analysis.subnormal.MASK_ELEMENTS` entries) are carried, with how
        many output entries each of their entries became, through views and adds; a softmax reads their window
        entries (only then: a bias add that no softmax reads is never looked at) into its subnormal outputs, carried on
        to the multiply-adds of the matrix products that read them."""
        if rec.op not in CARRY_OPS and rec.op not in SOFTMAX_OPS and rec.op not in MATMUL_OPS:
            return rec
        if len(rec.outputs) != 1 or rec.outputs[0].dtype != "float32":
            return rec
        out_numel = rec.outputs[0].numel
        held = [self.resolve(_tvm.var_name(a)) if _tvm.is_var(a) else None for a in args]
        if rec.op != "relax.add" and not any(v in self.masked or v in self.subnormal for v in held if v):
            return rec  # nothing carried in (most views and matmuls): the pass stays as fast as before
        if rec.op in MATMUL_OPS:
            # each operand's own entries (a broadcast operand meets the other's batches: not counted again)
            counts = [self.subnormal.get(v, 0.0) if v else 0.0 for v in held[:2]]
            if len(counts) < 2 or not any(counts):
                return rec
            return replace(rec, subnormal_macs=matmul_macs(counts[0], counts[1], rec.outputs[0].shape))
        if rec.op in SOFTMAX_OPS:
            scale = self._broadcast(args[0], out_numel) if args else 0.0
            windows = [(self._window(c), k) for c, k in self.masked.get(held[0], ())] if held else []
            count = sum(n * k * scale for n, k in windows if n)
            unknown = any(n is None for n, _ in windows)
            if count:
                self.subnormal[rec.var] = count
            return replace(rec, subnormal_outputs=int(round(count)), subnormal_unknown=unknown) if count or unknown \
                else rec
        masked: list[tuple[Any, float]] = []
        after = 0.0
        for a, v in zip(args, held):
            scale = self._broadcast(a, out_numel)
            masked += [(c, k * scale) for c, k in self.masked.get(v, ())] if v else []
            after += self.subnormal.get(v, 0.0) * scale if v else 0.0
            if rec.op == "relax.add":
                # a literal constant, or one computed from constants in the graph (read only if a softmax reads it)
                consts = self.constants_of(a) or ([("computed", v)] if v in self.const_bindings else [])
                for c in consts:
                    infos = self.infos(c if not isinstance(c, tuple) else a)
                    if len(infos) == 1 and infos[0].dtype == "float32" and 0 < (infos[0].numel or 0) <= MASK_ELEMENTS:
                        masked.append((c, broadcast_share(1.0, infos[0].numel, out_numel)))
        if masked:
            self.masked[rec.var] = masked
        if after:
            self.subnormal[rec.var] = after
        return rec

    def _window(self, const: Any) -> int | None:
        """Entries of a constant whose ``exp`` is a float32 subnormal, read once per constant; ``("computed", var)``: a
        constant subexpression, evaluated (:func:`~hybridperf.ir.tvm_compat.evaluate_bindings`) only where one of
        the literals it is computed from has such entries (a -100 fill); None where that fails (unknown)."""
        key = const if isinstance(const, tuple) else hash(const)
        if key not in self.windows:
            self.windows[key] = (self._computed_window(const[1]) if isinstance(const, tuple)
                                 else window_entries(_tvm.constant_array(const)))
        return self.windows[key]

    def _computed_window(self, var: str) -> int | None:
        """:meth:`_window` of the constant subexpression bound to ``var``."""
        need, stack, literal = {}, [var], False
        while stack:
            v = stack.pop()
            if v in need:
                continue
            b = self.const_bindings.get(v)
            if b is None:
                return None  # an ancestor bound otherwise (an alias, a tuple): not evaluated
            need[v] = b
            for a in _tvm.call_args(b.value) if _tvm.is_call(b.value) else [b.value]:
                if _tvm.is_var(a):
                    stack.append(_tvm.var_name(a))
                elif _tvm.is_constant(a):
                    infos = self.infos(a)
                    literal = literal or (len(infos) == 1 and (infos[0].numel or 0) <= MASK_ELEMENTS
                                          and window_entries(_tvm.constant_array(a)) > 0)
        if not literal:
            return 0
        try:  # in the order they were bound (const_bindings keeps it)
            return window_entries(_tvm.evaluate_bindings([b for v, b in self.const_bindings.items() if v in need],
                                                         need[var].var))
        except Exception:  # noqa: BLE001 - a build or run of TVM's: the count is unknown, said so
            return None

    def _price(self, op: str, call: Any, ctx: OpContext, symbolic: bool) -> _Priced:
        """Status, FLOPs and read bytes of one call from its registry entry (or TVM's TIR estimate
        for ``call_tir``)."""
        if is_tir_call(op):
            if symbolic:
                return _Priced(Status.SYMBOLIC, "call_tir", "symbolic shape")
            gvar = call.args[0]
            flops = int(_tvm.estimate_tir_flops(self.mod[gvar]))
            return _Priced(Status.ESTIMATED, "call_tir", f"TVM TIR estimate of {gvar.name_hint}", flops)
        entry = self.registry.entry(op)
        if isinstance(entry, ZeroCost):
            return _Priced(Status.ZERO_COST, entry.family, entry.reason)
        if isinstance(entry, CountedRule):
            if symbolic:
                return _Priced(Status.SYMBOLIC, entry.family, "symbolic shape: bind it with --shape or --batch")
            attrs = _attrs_dict(call)
            res = entry(replace(ctx, attrs=attrs))
            return _Priced(Status.COUNTED, entry.family, res.note, res.flops, res.bytes_read, attrs)
        if _tvm.is_extern_func(call.op) or (op in ("relax.call_dps_packed", "relax.call_pure_packed") and call.args
                                            and _tvm.is_extern_func(call.args[0])):
            fn = call.op if _tvm.is_extern_func(call.op) else call.args[0]
            note = (f"packed function {fn.global_symbol} is opaque, cost unknown; write it as a PrimFunc called "
                    "with R.call_tir to price it")
            return _Priced(Status.UNSUPPORTED, "unknown", note)
        if _tvm.is_global_var(call.op):
            return _Priced(Status.UNSUPPORTED, "unknown", f"call of Relax function {op} is not priced (a recursive "
                                                          "call is not inlined into main)")
        return _Priced(Status.UNSUPPORTED, "unknown", "no cost rule for this op")


@dataclass(frozen=True)
class _Priced:
    """What :meth:`_CostPass._price` found for one call."""

    status: Status
    family: str
    note: str = ""
    flops: int = 0
    bytes_read: int | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)
