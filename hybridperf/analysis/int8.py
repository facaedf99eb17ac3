"""Int8 QDQ detection: price quantized models as int8 kernels, not as float ops.

ONNX QDQ models (``QuantizeLinear``/``DequantizeLinear`` around each op) and
full-integer TFLite models both import into Relax as
``dequantize -> float op -> quantize``. Taken literally that is a float32
conv that reads float32 tensors plus separate (de)quantize kernels; an int8
runtime instead runs one int8 kernel that reads and writes int8 tensors and
requantizes in its epilogue. :func:`find_int8` recognises the pattern on a
:class:`~hybridperf.analysis.cost_pass.ModelAnalysis`; :func:`apply_int8` rewrites the
records:

* **int8 op** -- a conv / matmul whose data and weight inputs are
  dequantized int8 tensors, or any other op (add, pool, concat, ...) whose
  every tensor input is a dequantized int8 tensor and whose result goes
  straight to a ``quantize``: precision ``int8``; each dequantized input is
  read at its stored size (1 byte/elem for int8 instead of 4 for float32);
  when the output reaches a ``quantize`` it is written at 1 byte/elem.
* **weight-only int8** -- a conv / matmul with int8 weights but a float
  activation: weight traffic at 1 byte/elem, compute stays float.
* **epilogue** -- single-consumer elementwise ops between an int8 conv /
  matmul and its ``quantize`` (bias add, ReLU, clip), and a clip of the int8
  result right after the ``quantize`` (TFLite's fused activation): zero-cost,
  their FLOPs are added to the int8 op (a fused requantization epilogue).
* ``dequantize`` whose every consumer (through views) is an int8 op, and
  ``quantize`` that ends an int8 op or epilogue, plus ``dequantize -> views
  -> quantize`` round trips: zero-cost, reason :data:`FOLDED`.

QOperator-format models cannot be imported by TVM as they are.
:func:`~hybridperf.frontends.qoperator.qoperator_to_qdq` rewrites the standard ONNX ``QLinearConv`` and
``QLinearMatMul``, and onnxruntime's ``QGemm`` and ``QLinearAdd`` family, into the equivalent QDQ form
(then priced as above); for the rest (``QAttention``...)
:func:`~hybridperf.frontends.qoperator.check_qoperator` raises a clean
:class:`~hybridperf.errors.UnsupportedModelError` that names them and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
import dataclasses

from hybridperf.analysis.cost_pass import FOLDED_NOTE, ModelAnalysis, OpRecord
from hybridperf.costs import OpCost, Status
from hybridperf.costs.data_movement import VIEW_OPS


__all__ = ["ANCHOR_RECORD_OPS", "DYNAMIC_QUANT_OPS", "FOLDED", "INT8_EXECUTION", "Int8Op", "Int8Plan", "OrtFloatAnchors", "anchor_records",
           "apply_int8", "apply_int8_kernels", "as_float_kernels", "dynamic_quant_ops", "find_int8", "float_work_hint",
           "int8_memory_plan", "ort_float_anchors", "qdq_anchor_names"]


#: reason given to dequantize / quantize / epilogue ops absorbed by an int8 kernel
FOLDED = "folded into int8 kernel"

QUANTIZE = "relax.quantize"

DEQUANTIZE = "relax.dequantize"

#: ops that run as int8 kernels when both data and weight are dequantized int8
ANCHOR_OPS = frozenset(
    {
        "relax.nn.conv1d",
        "relax.nn.conv2d",
        "relax.nn.conv3d",
        "relax.nn.conv1d_transpose",
        "relax.nn.conv2d_transpose",
        "relax.nn.conv3d_transpose",
        "relax.matmul",
    }
)

#: elementwise ops an int8 kernel can fuse as epilogue (with constant other operands)
EPILOGUE_OPS = frozenset(
    {"relax.add", "relax.subtract", "relax.multiply", "relax.nn.relu", "relax.clip", "relax.maximum", "relax.minimum", "relax.nn.leakyrelu"}
)

_INT8_DTYPES = frozenset({"int8", "uint8"})

ASTYPE = "relax.astype"

#: pools TVM's TFLite frontend runs on int32 copies of an int8 tensor (``astype(int32) -> avg_pool2d ->
#: astype(int8)``, its quantized AVERAGE_POOL_2D); an int8 runtime pools the int8 tensor, accumulating in registers
WIDENED_POOL_OPS = frozenset({"relax.nn.avg_pool1d", "relax.nn.avg_pool2d", "relax.nn.avg_pool3d",
                              "relax.nn.adaptive_avg_pool1d", "relax.nn.adaptive_avg_pool2d",
                              "relax.nn.adaptive_avg_pool3d"})

#: layout ops that, folded at compile time on a dequantized weight, leave it an int8 weight in another layout
#: (until 2026-12-04 a Gemm's ``transB`` weight, ``dequantize -> permute_dims``, hid the int8 weight from its matmul)
_WEIGHT_LAYOUT_OPS = frozenset({*VIEW_OPS, "relax.permute_dims"})


@dataclass(frozen=True)
class Int8Input:
    """One operand of an int8 op that an int8 runtime reads at its stored size."""

    var: str
    dequantize_index: int
    float_bytes: int
    stored_bytes: int
    constant: bool

    @property
    def saved_bytes(self) -> int:
        return self.float_bytes - self.stored_bytes


@dataclass(frozen=True)
class Int8Op:
    """How one record changes under int8 execution."""

    index: int
    kind: str  # "int8", "weight-only", "epilogue", "folded"
    precision: str
    cost: OpCost
    note: str
    inputs: tuple[Int8Input, ...] = ()
    output_saved_bytes: int = 0


@dataclass(frozen=True)
class Int8Plan:
    """Result of :func:`find_int8`: the changed records, by record index."""

    ops: Mapping[int, Int8Op]

    def __bool__(self) -> bool:
        return bool(self.ops)

    def by_kind(self, kind: str) -> list[Int8Op]:
        return [o for o in self.ops.values() if o.kind == kind]


def _reads(r: OpRecord) -> tuple[str, ...]:
    """The vars ``r`` reads: its direct var arguments, or, for an op on a tuple (``concat``), the tuple's fields."""
    return r.input_vars or r.read_vars


def _is_int8_dequantize(r: OpRecord) -> bool:
    return r.op == DEQUANTIZE and bool(r.inputs) and r.inputs[0].dtype in _INT8_DTYPES and r.status is not Status.SYMBOLIC


def find_int8(analysis: ModelAnalysis) -> Int8Plan:
    """Find the QDQ int8 pattern; see the module docstring for the rules.

    Four passes over the records: int8 and weight-only ops (:func:`_int8_ops`), their
    epilogues up to a quantize (:func:`_fold_epilogues`), dequantize -> views -> quantize
    round trips (:func:`_round_trips`), then the quantize / dequantize records they absorb
    (:func:`_fold_qdq`).

    Returns an :class:`Int8Plan` mapping record index -> :class:`Int8Op`
    (empty when the model has no int8 QDQ pattern).
    """
    g = _Dataflow(analysis)
    ops = _int8_ops(g)
    _widened_pools(g, ops)
    int8_ops = {i for i, o in ops.items() if o.kind == "int8"}
    folded_quantize = _fold_epilogues(g, ops, int8_ops)
    _round_trips(g, folded_quantize)
    _fold_qdq(g, ops, int8_ops, folded_quantize)
    return Int8Plan(ops)


class _Dataflow:
    """Producers and consumers of the records' vars, read through zero-cost views."""

    def __init__(self, analysis: ModelAnalysis):
        self.records = records = analysis.records
        self.producer: dict[str, int] = {r.var: r.index for r in records}
        self.consumers: dict[str, list[int]] = {}
        for r in records:
            for v in dict.fromkeys(_reads(r)):
                self.consumers.setdefault(v, []).append(r.index)
        self.outputs = analysis.output_vars

    @staticmethod
    def is_view(r: OpRecord) -> bool:
        return r.op in VIEW_OPS and r.status is Status.ZERO_COST and len(set(r.input_vars)) <= 1

    def is_folded_layout(self, r: OpRecord) -> bool:
        """A layout change of one constant (a Gemm's ``transB`` weight, imported as ``permute_dims`` of its
        dequantized weight) folded at compile time: an int8 runtime stores the int8 weight in that layout."""
        return (r.op in _WEIGHT_LAYOUT_OPS and r.note == FOLDED_NOTE and len(set(r.input_vars)) == 1
                and len(r.inputs) == 1)

    def source_dequantize(self, var: str) -> int | None:
        """The int8 dequantize a var comes from, through zero-cost views and folded layout changes of a weight."""
        seen = 0
        while var in self.producer and seen < 64:
            r = self.records[self.producer[var]]
            if _is_int8_dequantize(r):
                return r.index
            if (self.is_view(r) or self.is_folded_layout(r)) and r.input_vars:
                var = r.input_vars[0]
                seen += 1
                continue
            return None
        return None

    def final_consumers(self, var: str, weight_layout: bool = False) -> list[int] | None:
        """Consumers through views (and, with ``weight_layout``, through folded layout changes of a constant:
        :meth:`is_folded_layout`); None when the value leaves the function."""
        out: list[int] = []
        stack = [var]
        while stack:
            v = stack.pop()
            if v in self.outputs:
                return None
            for c in self.consumers.get(v, []):
                rc = self.records[c]
                if self.is_view(rc) or (weight_layout and self.is_folded_layout(rc)):
                    stack.append(rc.var)
                else:
                    out.append(c)
        return out

    def is_const_var(self, var: str) -> bool:
        return var in self.producer and self.records[self.producer[var]].note == FOLDED_NOTE

    def single_consumer(self, var: str) -> int | None:
        if var in self.outputs:
            return None
        cs = self.consumers.get(var, [])
        return cs[0] if len(cs) == 1 else None

    def int8_inputs(self, r: OpRecord) -> tuple[list[Int8Input], list[str]]:
        found, other = [], []
        for v in _reads(r):
            d = self.source_dequantize(v)
            if d is None:
                other.append(v)
                continue
            dr = self.records[d]
            found.append(
                Int8Input(
                    var=v,
                    dequantize_index=d,
                    float_bytes=dr.outputs[0].nbytes or 0,
                    stored_bytes=dr.inputs[0].nbytes or 0,
                    # a constant weight, or one folded from constants (TFLite's FULLY_CONNECTED weight goes
                    # through a permute_dims folded at import; until 2026-12-03 it counted as activation)
                    constant=all(self.is_const_var(u) for u in dr.input_vars),
                )
            )
        return found, other


def _int8_ops(g: _Dataflow) -> dict[int, Int8Op]:
    """Pass 1: int8 ops (every data operand dequantized, or an elementwise op feeding a
    quantize) and weight-only ops (an anchor op with a dequantized constant weight)."""
    records = g.records
    ops: dict[int, Int8Op] = {}
    for r in records:
        if r.status not in (Status.COUNTED, Status.ESTIMATED) or not _reads(r) or r.op in (QUANTIZE, DEQUANTIZE):
            continue
        found, other = g.int8_inputs(r)
        if not found:
            continue
        deq_vars = {i.var for i in found}
        data_weight = list(r.input_vars[:2])
        if r.op in ANCHOR_OPS:
            if all(v in deq_vars for v in data_weight):
                kind = "int8"
            elif any(i.constant for i in found):
                kind = "weight-only"
            else:
                continue
        else:
            nxt = g.single_consumer(r.var)
            if other or nxt is None or records[nxt].op != QUANTIZE:
                continue
            kind = "int8"
        saved = sum(i.saved_bytes for i in found)
        saved_w = sum(i.saved_bytes for i in found if i.constant)
        cost = OpCost(
            r.cost.flops,
            max(0, r.cost.bytes_read - saved),
            r.cost.bytes_written,
            max(0, r.cost.weight_bytes - saved_w),
        )
        if kind == "weight-only":  # float compute: its int8 weights keep their 1 B under a float precision override
            stored = sum(i.stored_bytes for i in found)
            stored_w = sum(i.stored_bytes for i in found if i.constant)
            cost = dataclasses.replace(cost, float32_bytes_read=max(0, cost.bytes_read - stored),
                                       float32_bytes_written=cost.bytes_written,
                                       float32_weight_bytes=max(0, cost.weight_bytes - stored_w))
        prec = "int8" if kind == "int8" else r.precision
        note = "int8 kernel: dequantized inputs read as int8" if kind == "int8" else "weight-only int8: weights read as int8, compute in float"
        ops[r.index] = Int8Op(r.index, kind, prec, cost, note, tuple(found))
    return ops


def _widened_pools(g: _Dataflow, ops: dict[int, Int8Op]) -> None:
    """Pass 1b: ``astype(int8 -> int32) -> pool -> astype(int32 -> int8)`` (TFLite's quantized AVERAGE_POOL_2D as
    TVM imports it) is one int8 pool: it reads and writes int8, and the two casts fold into it. Until 2026-12-04 the
    casts were kernels of their own and the int32 copy (4 B per element) was an activation of the int8 memory plan:
    of a full-int8 MobileNet's 7x7x1024 head, 200,704 B."""
    records = g.records
    for r in records:
        if (r.op != ASTYPE or r.status is not Status.COUNTED or not r.inputs or not r.outputs
                or r.inputs[0].dtype not in _INT8_DTYPES or r.outputs[0].dtype != "int32" or len(r.input_vars) != 1):
            continue
        pi = g.single_consumer(r.var)
        pool = records[pi] if pi is not None else None
        if pool is None or pool.op not in WIDENED_POOL_OPS or pool.status is not Status.COUNTED or set(pool.input_vars) != {r.var}:
            continue
        ni = g.single_consumer(pool.var)
        narrow = records[ni] if ni is not None else None
        if (narrow is None or narrow.op != ASTYPE or narrow.status is not Status.COUNTED or not narrow.outputs
                or narrow.outputs[0].dtype != r.inputs[0].dtype):
            continue
        src = Int8Input(var=r.var, dequantize_index=r.index, float_bytes=r.outputs[0].nbytes or 0,
                        stored_bytes=r.inputs[0].nbytes or 0, constant=False)
        written = narrow.outputs[0].nbytes or 0
        cost = OpCost(pool.cost.flops, max(0, pool.cost.bytes_read - src.saved_bytes), written, pool.cost.weight_bytes)
        ops[pool.index] = Int8Op(pool.index, "int8", "int8", cost,
                                 f"int8 kernel: pools the int8 tensor, writes int8 through {narrow.var}", (src,),
                                 output_saved_bytes=max(0, pool.cost.bytes_written - written))
        for c in (r, narrow):
            ops[c.index] = Int8Op(c.index, "folded", "int8", OpCost(), f"{FOLDED} ({pool.var})")


def _fold_epilogues(g: _Dataflow, ops: dict[int, Int8Op], int8_ops: set[int]) -> dict[int, str]:
    """Pass 2: an int8 op -> single-consumer elementwise chain (constant other operands) ->
    int8 quantize runs as one int8 kernel writing int8. Updates ``ops``; returns the folded
    quantize records (index -> the var of the op that owns them)."""
    records = g.records
    folded_quantize: dict[int, str] = {}
    for idx in sorted(int8_ops):
        r = records[idx]
        chain: list[int] = []
        cur = r
        q = None
        while True:
            nxt = g.single_consumer(cur.var)
            if nxt is None:
                break
            rn = records[nxt]
            if rn.op == QUANTIZE and rn.outputs and rn.outputs[0].dtype in _INT8_DTYPES:
                q = rn
                break
            others = [v for v in rn.input_vars if v != cur.var]
            if rn.op in EPILOGUE_OPS and rn.status is Status.COUNTED and all(g.is_const_var(v) for v in others):
                chain.append(nxt)
                cur = rn
                continue
            break
        if q is None:
            continue
        act = _fused_activation(g, q)
        if act is not None:
            chain.append(act)
        op = ops[idx]
        extra_flops = sum(records[c].cost.flops for c in chain)
        extra_weight = sum(records[c].cost.weight_bytes for c in chain)
        out_float = r.cost.bytes_written
        out_int8 = q.cost.bytes_written
        cost = OpCost(
            op.cost.flops + extra_flops,
            op.cost.bytes_read + extra_weight,
            out_int8,
            op.cost.weight_bytes + extra_weight,
        )
        out_var = records[act].var if act is not None else q.var
        note = op.note + f"; writes int8 through {out_var}" + (f" (+{len(chain)} epilogue ops)" if chain else "")
        ops[idx] = dataclasses.replace(op, cost=cost, note=note, output_saved_bytes=max(0, out_float - out_int8))
        for c in chain:
            ops[c] = Int8Op(c, "epilogue", "int8", OpCost(), f"{FOLDED}: epilogue of {r.var}")
        folded_quantize[q.index] = r.var
    return folded_quantize


def _fused_activation(g: _Dataflow, q: OpRecord) -> int | None:
    """The record of a clip on the int8 result of ``q``, its only consumer: TFLite's fused activation (RELU,
    RELU6, RELU_N1_TO_1 of a CONV_2D, FULLY_CONNECTED...), which TVM imports as a clip of the quantized
    values after the requantization. An int8 runtime clamps to that range in the kernel's requantization
    step: no kernel of its own, no traffic."""
    nxt = g.single_consumer(q.var)
    if nxt is None:
        return None
    rn = g.records[nxt]
    same_int8 = bool(rn.outputs) and rn.outputs[0].dtype == q.outputs[0].dtype
    if rn.op == "relax.clip" and rn.status is Status.COUNTED and same_int8 and set(rn.input_vars) == {q.var}:
        return nxt
    return None


def _round_trips(g: _Dataflow, folded_quantize: dict[int, str]) -> None:
    """Pass 3: dequantize -> views -> quantize to the same dtype is int8 data movement; its
    quantizes fold (added to ``folded_quantize``)."""
    records = g.records
    for r in records:
        if not _is_int8_dequantize(r) or not r.input_vars:
            continue
        fc = g.final_consumers(r.var)
        if fc and all(records[c].op == QUANTIZE and records[c].outputs[0].dtype == r.inputs[0].dtype for c in fc):
            for c in fc:
                folded_quantize.setdefault(c, r.var)


def _fold_qdq(g: _Dataflow, ops: dict[int, Int8Op], int8_ops: set[int], folded_quantize: dict[int, str]) -> None:
    """Pass 4: the folded quantizes, and every int8 dequantize whose consumers all absorb it,
    become zero-cost records of ``ops``."""
    records = g.records
    for qi, owner in folded_quantize.items():
        ops[qi] = Int8Op(qi, "folded", "int8", OpCost(), f"{FOLDED} ({owner})")
    absorbing = int8_ops | {i for i, o in ops.items() if o.kind == "weight-only"} | set(folded_quantize)
    for r in records:
        if not _is_int8_dequantize(r):
            continue
        fc = g.final_consumers(r.var)
        if fc and all(c in absorbing for c in fc):
            ops[r.index] = Int8Op(r.index, "folded", "int8", OpCost(), FOLDED)


def apply_int8(analysis: ModelAnalysis, plan: Int8Plan | None = None) -> ModelAnalysis:
    """A new analysis whose QDQ-wrapped ops are priced as int8 kernels.

    Returns ``analysis`` itself when there is no int8 pattern. The model's
    ``weight_bytes`` is unchanged: it already counts constants at their stored
    (int8) size; per-op ``weight_bytes`` drop from float to stored size.
    """
    plan = plan if plan is not None else find_int8(analysis)
    if not plan:
        return analysis
    records = list(analysis.records)
    for idx, op in plan.ops.items():
        r = records[idx]
        if op.kind in ("folded", "epilogue"):
            records[idx] = dataclasses.replace(r, status=Status.ZERO_COST, cost=OpCost(), note=op.note, precision=op.precision)
        else:
            records[idx] = dataclasses.replace(r, cost=op.cost, precision=op.precision, note=op.note)
    # analysis.weight_bytes already counts the constants at their stored (int8) size
    return dataclasses.replace(analysis, records=tuple(records))


def apply_int8_kernels(kernels: Iterable[Any], analysis: ModelAnalysis, plan: Int8Plan | None = None) -> tuple[Any, ...]:
    """Re-price kernels (from :mod:`hybridperf.analysis.kernels`) of the *original* ``analysis``.

    Fused kernels measure traffic at their boundary in the lowered module,
    where dequantized tensors are float32; this subtracts the int8 savings of
    operands whose dequantize lies outside the kernel and of outputs that
    an int8 runtime keeps in int8, and drops kernels made only of folded ops.
    """
    from hybridperf.analysis.kernels import Kernel

    plan = plan if plan is not None else find_int8(analysis)
    kernels = tuple(kernels)
    if not plan:
        return kernels
    records = analysis.records
    consumers: dict[str, set[int]] = {}
    for r in records:
        for v in _reads(r):
            consumers.setdefault(v, set()).add(r.index)
    outputs = analysis.output_vars
    out: list[Kernel] = []
    for k in kernels:
        members = set(k.op_indices)
        changed = [plan.ops[i] for i in k.op_indices if i in plan.ops]
        if not changed:
            out.append(k)
            continue
        if len(k.op_indices) == 1:
            op = changed[0]
            if op.kind in ("folded", "epilogue"):
                out.append(dataclasses.replace(k, status=Status.ZERO_COST, cost=OpCost(), precision=op.precision))
            else:
                out.append(dataclasses.replace(k, cost=op.cost, precision=op.precision))
            continue
        live = [i for i in k.op_indices if not (i in plan.ops and plan.ops[i].kind in ("folded", "epilogue"))]
        live = [i for i in live if records[i].status is not Status.ZERO_COST]
        if not live:
            out.append(dataclasses.replace(k, status=Status.ZERO_COST, cost=OpCost()))
            continue
        read_saved = weight_saved = 0
        flops = 0
        for i in k.op_indices:
            op = plan.ops.get(i)
            if op is None:
                flops += records[i].cost.flops
                continue
            flops += op.cost.flops if op.kind in ("int8", "weight-only") else 0
            for inp in op.inputs:
                if inp.dequantize_index not in members:
                    read_saved += inp.saved_bytes
                    weight_saved += inp.saved_bytes if inp.constant else 0
        # epilogue FLOPs were moved onto the int8 op; do not count them twice
        written_saved = 0
        for i in k.op_indices:
            r = records[i]
            escapes = r.var in outputs or bool(consumers.get(r.var, set()) - members)
            if not escapes:
                continue
            op = plan.ops.get(i)
            if op is not None and op.kind == "folded" and r.op in (DEQUANTIZE, ASTYPE) and r.inputs:
                written_saved += max(0, (r.outputs[0].nbytes or 0) - (r.inputs[0].nbytes or 0))
            elif op is not None and op.kind == "int8":
                written_saved += op.output_saved_bytes
        c = k.cost
        cost = OpCost(flops, max(0, c.bytes_read - read_saved), max(0, c.bytes_written - written_saved), max(0, c.weight_bytes - weight_saved))
        prec = "int8" if any(o.kind == "int8" for o in changed) else k.precision
        out.append(dataclasses.replace(k, cost=cost, precision=prec))
    return tuple(out)


# ----------------------------------------------------------------------------------------- memory


#: :attr:`~hybridperf.analysis.memory.MemoryPlan.execution` of a plan made by :func:`int8_memory_plan`
INT8_EXECUTION = "int8"


def int8_memory_plan(analysis: ModelAnalysis, plan: Int8Plan, fused_module: Any, tvm_plan: Any) -> Any:
    """The memory plan of the execution :func:`apply_int8_kernels` prices, or None where it cannot be made.

    TVM's plan of the imported module (``tvm_plan``, made on ``fused_module``'s call stream) allocates every
    dequantize's float32 result, constant weights included. An int8 runtime does not: each kernel output of
    ``fused_module`` is re-sized or dropped (:func:`_output_fate`), then the same planner runs
    (:func:`hybridperf.analysis.memory.plan_stream`: TVM's reuse policy):

    * a folded dequantize allocates nothing: its int8 source stays live in its place (a weight's: no
      activation storage at all); so does a kernel of only folded ops (a ``dequantize -> views -> quantize`` round
      trip: a view);
    * a kernel whose int8 result reaches the next kernel through a folded dequantize, or an int8 op writing
      through its folded quantize, writes int8 bytes;
    * a constant folded at compile time that only int8 kernels read (an int32 bias dequantized to float32 for the
      bias add the kernel fuses) is a weight of theirs, not an activation.

    ``analysis`` is the one ``plan`` was found on (before :func:`apply_int8`). The result keeps ``tvm_plan`` as
    :attr:`~hybridperf.analysis.memory.MemoryPlan.as_imported`; None where ``fused_module`` has a construct the call
    stream does not emulate (:func:`hybridperf.ir.call_stream.of_fused`) or the plan would not change.
    """
    from hybridperf.analysis import memory
    from hybridperf.ir import call_stream

    stream = call_stream.of_fused(fused_module)
    if stream is None or not tvm_plan.known:
        return None
    g = _Dataflow(analysis)
    produced, params = _kernel_outputs(fused_module)
    expr_of: dict[str, Any] = dict(params)
    for key, outs in produced.items():
        for j, (rec, k, _) in enumerate(outs):
            if rec is not None and k == 0:
                expr_of.setdefault(g.records[rec].var, key if len(outs) == 1 else call_stream.Item(key, j))
    fates = {}
    for key, outs in produced.items():
        fate = tuple(None if rec is None or k else _output_fate(g, plan, rec, members, expr_of)
                     for rec, k, members in outs)
        if any(f is not None for f in fate):
            fates[key] = fate
    if not fates:
        return None
    stream = memory.rewrite_outputs(stream, fates)
    # one block, as :func:`hybridperf.analysis.analyze.plan_lowered_memory` plans it
    stream = call_stream.CallStream((tuple(b for block in stream.blocks for b in block),), stream.output)
    got = memory.plan_stream(stream, tvm_plan.weight_bytes, tvm_plan.input_bytes,
                             ops_outside_plan=dict(tvm_plan.ops_outside_plan))
    return dataclasses.replace(got, workspace_bytes=tvm_plan.workspace_bytes, execution=INT8_EXECUTION,
                               as_imported=tvm_plan)


def _kernel_outputs(fused_module: Any) -> tuple[dict[Any, list[tuple[int | None, int, frozenset[int]]]], dict[str, Any]]:
    """Each kernel call of ``fused_module``'s ``main``: the var its results are bound to -> per output tensor
    ``(record index or None, output index of that record, the records the kernel computes)``; and ``main``'s
    parameters by name. Records are read off the tags :mod:`hybridperf.ir.lowering` gives each op's PrimFunc."""
    from hybridperf.analysis.kernels import kernel_records
    from hybridperf.ir import tvm_compat as _tvm

    main = fused_module["main"]
    params = {_tvm.var_name(p): p for p in main.params}
    out: dict[Any, list[tuple[int | None, int, frozenset[int]]]] = {}
    for b in _tvm.bindings(main):
        v = b.value
        made = kernel_records(fused_module, v) if _tvm.is_call(v) else None  # var -> (record, output index)
        if made is None:
            continue
        if _tvm.op_name(v) == "relax.call_tir":
            if made:
                o = made[None][0]
                out[b.var] = [(o, j, frozenset({o})) for j in range(len(_tvm.tensor_infos(_tvm.expr_type(b.var))))]
            continue
        members = frozenset(o for o, _ in made.values())
        ret = fused_module[v.op].body.body
        fields = _tvm.items(ret.fields) if _tvm.is_tuple(ret) else [ret]
        out[b.var] = [(*made.get(f, (None, 0)), members) for f in fields]
    return out, params


def _output_fate(g: _Dataflow, plan: Int8Plan, idx: int, members: frozenset[int], expr_of: Mapping[str, Any]) -> Any:
    """What record ``idx``'s output, computed by the kernel of ``members``, is in the int8 execution: None (as
    TVM allocates it), :class:`~hybridperf.analysis.memory.Aliased` (another value's storage, None for a weight)
    or :class:`~hybridperf.analysis.memory.Resized` (int8 bytes)."""
    from hybridperf.analysis.memory import Aliased

    r = g.records[idx]
    if g.is_const_var(r.var):  # a weight, or a constant folded from weights
        fc = g.final_consumers(r.var, weight_layout=True)
        return Aliased(None) if fc and all(c in plan.ops for c in fc) else None
    op = plan.ops.get(idx)
    if op is None:
        return None
    cur = r
    while cur.index in members and _passes_int8_through(g, plan, cur):  # back through the kernel's folded members
        src = next((v for v in cur.input_vars if not g.is_const_var(v)), None)
        if src is None or g.is_const_var(src):
            return Aliased(None)
        p = g.producer.get(src)
        if p is None or p not in members:  # a graph input or another kernel's result: this output is that storage
            return Aliased(expr_of[src]) if src in expr_of else _int8_size(g, r, op)
        cur = g.records[p]
    return _int8_size(g, r, op)


def _passes_int8_through(g: _Dataflow, plan: Int8Plan, r: OpRecord) -> bool:
    """Whether ``r`` writes no tensor of its own in the int8 execution: a folded (de)quantize or cast (of a widened
    pool: :func:`_widened_pools`) or a view hands on the value it reads, an epilogue op runs inside the int8 kernel it
    follows (:func:`_fold_epilogues`)."""
    op = plan.ops.get(r.index)
    if op is not None and op.kind == "folded":
        return r.op in (QUANTIZE, DEQUANTIZE, ASTYPE) and bool(r.inputs)
    if op is not None and op.kind == "epilogue":
        return True
    return g.is_view(r)


def _int8_size(g: _Dataflow, r: OpRecord, op: Int8Op) -> Any:
    """The int8 tensor a kernel writes in place of ``r``'s float32 output (None: ``r`` writes what TVM allocates)."""
    from hybridperf.analysis.memory import Resized

    if r.op in (DEQUANTIZE, ASTYPE) and op.kind == "folded" and r.inputs and r.inputs[0].dtype in _INT8_DTYPES:
        src = r.inputs[0]
        return Resized(src.nbytes or 0, src.dtype)
    if r.outputs and r.outputs[0].dtype in _INT8_DTYPES:
        return None  # int8 already (TFLite's fused activation, a clip after the quantize, a widened pool's narrowing)
    if r.op in WIDENED_POOL_OPS and op.kind == "int8":  # its int32 result, narrowed by the cast after it
        narrow = g.records[g.single_consumer(r.var)].outputs[0]
        return Resized(narrow.nbytes or 0, narrow.dtype)
    if op.kind == "epilogue" or (op.kind == "int8" and op.output_saved_bytes):
        q = _quantize_after(g, r)
        if q is not None:
            return Resized(q.nbytes or 0, q.dtype)
    return None


def _quantize_after(g: _Dataflow, r: OpRecord) -> Any:
    """The output of the int8 quantize that ends ``r``'s single-consumer chain of epilogue ops, or None."""
    cur = r
    for _ in range(64):
        nxt = g.single_consumer(cur.var)
        if nxt is None:
            return None
        cur = g.records[nxt]
        if cur.op == QUANTIZE:
            return cur.outputs[0] if cur.outputs and cur.outputs[0].dtype in _INT8_DTYPES else None
        if cur.op not in EPILOGUE_OPS:
            return None
    return None


#: ONNX ops of a dynamically quantized model (onnxruntime ``quantize_dynamic``): activations are quantized at run
#: time around each integer matmul / conv, so everything between them stays float32
DYNAMIC_QUANT_OPS = frozenset({"DynamicQuantizeLinear", "DynamicQuantizeMatMul", "DynamicQuantizeLSTM"})


def dynamic_quant_ops(model: Any) -> tuple[str, ...]:
    """The :data:`DYNAMIC_QUANT_OPS` an ``onnx.ModelProto``'s graph holds (If / Loop / Scan bodies included), sorted:
    ``()`` for a model quantized statically or not at all. Reads the node lists only."""
    from hybridperf.frontends.normalize import walk_nodes

    return tuple(sorted({n.op_type for n in walk_nodes(model.graph.node)
                         if n.op_type in DYNAMIC_QUANT_OPS and n.domain in ("", "com.microsoft")}))


def float_work_hint(source: str, ops: Sequence[str] = ()) -> str:
    """What to add to "this device has no float peak" for the model in ``source``: when it is quantized dynamically,
    that its float32 work is the quantization itself and the fix is a static full-integer one; "" otherwise (a float
    model: the device's own message already says to quantize it).

    Parameters
    ----------
    source : str
        The model's :attr:`~hybridperf.analysis.analyze.Analyzed.source`: an ONNX file's node list is read when
        ``ops`` is empty (weights stay on disk).
    ops : sequence of str
        The dynamic quantization ops already found in the model (:func:`dynamic_quant_ops`; an in-memory
        ``onnx.ModelProto`` has no file to read).

    Until 2026-12-04 such a model on an integer-only NPU (ethos-u55) was told only to quantize itself, which it
    already was; an in-memory ``onnx.ModelProto`` was told so even after that, the hint reading only a file. Only
    asked on that error's path.
    """
    found = tuple(ops) or _file_dynamic_quant_ops(source)
    if not found:
        return ""
    return (f"; this model is already quantized dynamically ({', '.join(found)}), its activations float32 between "
            "integer kernels: quantize it statically to full integer instead (onnxruntime quantize_static, QDQ)")


def _file_dynamic_quant_ops(source: str) -> tuple[str, ...]:
    """:func:`dynamic_quant_ops` of the ONNX file ``source``; ``()`` for another format or an unreadable file."""
    from pathlib import Path

    p = Path(source)
    if p.suffix.lower() != ".onnx" or not p.is_file():
        return ()
    try:
        from hybridperf.frontends.onnx_import import load_onnx_proto

        return dynamic_quant_ops(load_onnx_proto(p))
    except Exception:  # noqa: BLE001 - the model loaded once already; an unreadable file only loses the hint
        return ()


# ----------------------------------------------------------------------------------- onnxruntime's own fusion


#: ONNX ops whose QDQ form (``DequantizeLinear`` on the data and the weight) onnxruntime may fuse into an int8 kernel
#: (``QLinearConv``, ``QLinearMatMul``, ``QGemm``), and what the notes call them
QDQ_ANCHOR_KINDS = MappingProxyType({"Conv": "convolution", "ConvTranspose": "convolution", "MatMul": "matmul",
                                     "Gemm": "matmul"})

#: op types of an onnxruntime-optimised graph that run a QDQ anchor in float32 (its own ops and its CPU fusions)
ORT_FLOAT_ANCHOR_OPS = frozenset({*QDQ_ANCHOR_KINDS, "FusedConv", "FusedMatMul", "FusedGemm"})

#: the int8 records that stand for a QDQ anchor: what :func:`_int8_ops` makes of a Conv, MatMul or Gemm
ANCHOR_RECORD_OPS = frozenset({"relax.nn.conv1d", "relax.nn.conv2d", "relax.nn.conv3d", "relax.nn.conv1d_transpose",
                                "relax.nn.conv2d_transpose", "relax.matmul"})


@dataclass(frozen=True)
class OrtFloatAnchors:
    """The QDQ convolutions / matmuls of an ONNX model (:func:`qdq_anchor_names`) that onnxruntime's optimised graph
    runs in float32 (:func:`ort_float_anchors`): names in graph order."""

    anchors: tuple[str, ...]
    float_names: tuple[str, ...]
    kinds: tuple[str, ...]  # the notes' words for the float ones' kinds ("convolution", "matmul"), sorted
    of_kinds: int  # how many of ``anchors`` are of those kinds: the note's "of M"

    def note(self, priced: str = "priced as float32") -> str:
        """``"11 of 20 QDQ convolutions stay float32 in onnxruntime's optimised graph (int8 activations on x86):
        priced as float32"`` (``priced``: how they were priced); "" where none does."""
        if not self.float_names:
            return ""
        what = " and ".join(f"{k}s" for k in self.kinds)
        return (f"{len(self.float_names)} of {self.of_kinds} QDQ {what} stay float32 in onnxruntime's optimised "
                f"graph (int8 activations on x86): {priced}")


def qdq_anchor_names(model: Any) -> tuple[str, ...]:
    """Names of the nodes of ``model`` (an ``onnx.ModelProto``) that :func:`find_int8` prices as int8 kernels once
    imported: a Conv, ConvTranspose, MatMul or Gemm (:data:`QDQ_ANCHOR_KINDS`) whose data and weight inputs are each a
    ``DequantizeLinear`` result; graph order (the importer's)."""
    dq = {o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    return tuple(n.name for n in model.graph.node
                 if n.op_type in QDQ_ANCHOR_KINDS and len(n.input) > 1 and n.input[0] in dq and n.input[1] in dq)


def ort_float_anchors(model: Any, optimised: Any) -> OrtFloatAnchors:
    """Which QDQ anchors of ``model`` (:func:`qdq_anchor_names`) ``optimised`` (onnxruntime's optimised graph of it)
    still runs as a float op (:data:`ORT_FLOAT_ANCHOR_OPS`, matched by node name: onnxruntime keeps the names of the
    nodes it does not fuse). onnxruntime's x86 build fuses a QDQ node group into ``QLinearConv`` / ``QLinearMatMul``
    only where its activations are uint8 (``QDQIsInt8Allowed`` is false off ARM; int8 activations are converted to
    uint8 where a pair of Q/DQ allows it): a ``quantize_static`` model with the default int8 activations keeps many of
    them as ``DequantizeLinear -> Conv (float32) -> QuantizeLinear``."""
    anchors = qdq_anchor_names(model)
    ops = {n.name: n.op_type for n in optimised.graph.node if n.op_type in ORT_FLOAT_ANCHOR_OPS}
    kind = {n.name: QDQ_ANCHOR_KINDS[n.op_type] for n in model.graph.node if n.op_type in QDQ_ANCHOR_KINDS}
    floats = tuple(a for a in anchors if a in ops)
    kinds = tuple(sorted({kind[a] for a in floats}))
    return OrtFloatAnchors(anchors, floats, kinds, sum(kind[a] in kinds for a in anchors))


def anchor_records(analysis: ModelAnalysis, source_nodes: Mapping[str, str], anchors: Sequence[str]) -> dict[str, int] | None:
    """ONNX node name -> index of the int8 record :func:`apply_int8` made of it, for the names ``anchors``
    (:func:`qdq_anchor_names`, graph order); None where they cannot be matched.

    By :attr:`~hybridperf.analysis.analyze.Analyzed.source_nodes` where the analysis kept them; otherwise by order:
    the importer converts nodes in graph order, so the k-th int8 convolution / matmul record is the k-th anchor, where
    the counts agree (a normaliser that merged or split one of them breaks the count: None)."""
    recs = [r for r in analysis.records if r.precision == "int8" and r.op in ANCHOR_RECORD_OPS]
    if source_nodes:
        by_node = {source_nodes.get(r.var): r.index for r in recs}
        got = {a: by_node[a] for a in anchors if a in by_node}
        return got if len(got) == len(anchors) else None
    if len(recs) != len(anchors):
        return None
    return {a: r.index for a, r in zip(anchors, recs)}


def as_float_kernels(analysis: ModelAnalysis, kernels: Sequence[Any], indices: Iterable[int],
                     note: str) -> tuple[ModelAnalysis, tuple[Any, ...]]:
    """``analysis`` and its ``kernels`` with the int8 records ``indices`` (and each kernel holding one) priced as the
    float32 ops a runtime runs in their place: precision ``fp32``, their traffic at 4 B per element where
    :func:`apply_int8` had made it 1 B (every byte the record reads and writes, an int32 bias included, a few bytes per
    output channel), note
    ``note``. The float32 ``DequantizeLinear`` / ``QuantizeLinear`` kernels around each stay folded (elementwise, small
    beside the convolution)."""
    idx = set(indices)
    if not idx:
        return analysis, tuple(kernels)

    def widen(c: OpCost) -> OpCost:
        return OpCost(c.flops, 4 * c.bytes_read, 4 * c.bytes_written, 4 * c.weight_bytes)

    records = list(analysis.records)
    for i in idx:
        r = records[i]
        records[i] = dataclasses.replace(r, cost=widen(r.cost), precision="fp32", note=note)
    out = tuple(dataclasses.replace(k, cost=widen(k.cost), precision="fp32")
                if k.precision == "int8" and idx.intersection(k.op_indices) else k for k in kernels)
    return dataclasses.replace(analysis, records=tuple(records)), out
