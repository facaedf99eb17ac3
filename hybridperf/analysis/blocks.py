"""The block cache: price each repeated block of an ONNX graph once, compose whole models exactly.

Architecture-search variants repeat the same blocks (same ops, attributes and shapes) in new
combinations. :func:`analyze_segments` cuts the normalised ONNX graph at *safe cuts* into
segments, keys each segment by a structural hash, runs the whole pipeline (import -> cost
pass -> one-pass legalize -> fuse -> kernel grouping -> call stream) once per new segment, and
composes a model from its segments' cached results: records and kernels renumbered and renamed
as the whole-model pipeline names them, and TVM's memory planner
(:func:`hybridperf.analysis.memory.plan_stream`) run on the *composed* call stream, so the
peak is the whole model's. ``tests/test_block_cache.py`` and ``benchmarks/block_cache_equality.py``
compare composed and whole-model analyses field by field.

A cut before node ``p`` (graph order, which the importer follows) is safe when:

* one to :data:`MAX_LIVE` tensors cross it, none a graph input or output, each computed from
  the graph input (not a constant the importer could fold) and each with a declared static type;
* each crossing tensor is *fenced* (:func:`_fenced`): read straight into a ``kOutEWiseFusable``
  kernel by some node (:func:`_read_as_operand`: a 2-D ``Conv``'s data, a ``Gemm``'s A, a ``MatMul``
  operand; the ops of :data:`CUT_CONSUMERS`), or read by several nodes, one path from it reaching
  such a read (within :data:`FENCE_HOPS` nodes) before its last reader: a pre-norm transformer's
  residual stream, read by the next ``LayerNormalization`` (whose result a ``MatMul`` reads) and by
  the residual ``Add`` after the attention. TVM's ``FuseOps`` (``GraphPartitioner::RunFuse``) fuses a
  node only into its immediate post-dominator, and only when the pattern of every edge on the way,
  combined, is ``kElemWise`` (a conv-like group), at most ``kInjective`` or ``kCommReduce`` (an
  elementwise or broadcast group), or when every node on the way is at most ``kInjective`` (an
  injective group). An edge into such a kernel carries ``kOutEWiseFusable``. The post-dominator of
  a fenced tensor's producer lies on the path through its last reader, so after the fencing read in
  graph order (the importer's binding order): that edge lies on the way, and the producer, and
  anything before it whose post-dominator lies past the cut, fuses with nothing past the cut
  (checked on the zoo and the sweep by ``benchmarks/block_cache_equality.py``);
* the importer binds a node's result where it is first read: a result of the segment that nothing
  in it reads must be the first input of the next segment's first node (at most one such result);
* the crossing tensors are not views (:func:`_views`: ``Flatten``, ``Reshape``, ..., a ``Transpose`` of
  extent-1 axes, a ``Cast`` to its own type unless its producer fuses into it: a segment binds its
  output to ``gv``, not a dataflow var, so there a lone view is a kernel, where the whole model's
  ``RewriteDataflowReshape`` makes it a view). T5's, Llama's and Qwen2's RMSNorm casts the residual
  stream to its own type right after the residual ``Add``; that ``Add``, read by the ``Cast`` alone, fuses
  into it (:func:`_fuses_into_cast`), so the segment ends in one computing kernel, as the whole model
  has it, and the cut after the ``Cast`` stands. A segment ending in a lone reshape-pattern kernel all
  the same is refused (:func:`_ends_in_view`: the model goes whole). A graph output may be a view
  (GPT-2's last ``Reshape``, SqueezeNet's ``Flatten``): the last segment's output binding is the
  whole model's own ``gv`` binding, in neither a dataflow var, so its lone kernel and zero-cost
  record are the whole model's (:func:`_outputs` with ``last``);
* an initializer read on both sides is either passed on as an operand by every node reading it
  (:data:`_PASSING_READERS`, another operand computed from the graph input): the importer's one
  constant of it, which the whole model's weights count once and each segment reading it counts
  once, so :func:`_weights` takes it off all but the first; or read only as a ``Reshape``'s shape
  (a value: no weights anywhere) (:func:`_initializer_reads`). Any other read on both sides blocks
  the cut. (torch's exporter de-duplicates equal initializers, so a random-weight export reads one
  all-ones and one all-zeros initializer per shape in every layer: LayerNorm scales, biases.)

A model takes the whole-model path (same figures, no reuse) when it has no safe cut, holds
quantize / dequantize or control-flow nodes, or when a segment's pipeline leaves the cases
composed here (a legalization outside the one-pass path, symbolic shapes, a name that is not the
importer's ``lv`` counter, a stream with several blocks): then the normalised model is imported
whole.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hybridperf.analysis.cost_pass import ModelAnalysis, OpRecord
from hybridperf.analysis.kernels import Kernel, group_kernels
from hybridperf.analysis.memory import MemoryPlan, plan_stream
from hybridperf.analysis.marks import analyze_loaded
from hybridperf.costs import Status
from hybridperf.ir import call_stream, lowering
from hybridperf.ir import tvm_compat as _tvm
from hybridperf.ir.call_stream import Binding, CallStream, Item, Kind

__all__ = ["BlockCache", "Composed", "CUT_CONSUMERS", "MAX_LIVE", "Segments", "analyze_segments", "plan_cuts"]

#: ONNX ops whose Relax kernels TVM's FuseOps never fuses a producer into (``kOutEWiseFusable``)
CUT_CONSUMERS = frozenset({"Conv", "MatMul", "Gemm"})
#: most tensors live across one cut (an inverted-residual block: its input and the shortcut)
MAX_LIVE = 2
#: longest path :func:`_fenced` follows from a crossing tensor to a ``kOutEWiseFusable`` read (a
#: pre-norm transformer: residual -> LayerNormalization [-> Reshape] -> MatMul / Gemm)
FENCE_HOPS = 3
#: float initializers up to this many elements are keyed by value (clip bounds, resize scales, pad
#: values: what TVM's converters read); larger ones (a bias, a weight) by shape and dtype, as the
#: pipeline reads them (legalization inlines one-element constants alone); integer ones always by value
VALUE_KEYED_ELEMS = 8
#: ops that send a model down the whole-model path (int8 QDQ matching, control flow)
_WHOLE_ONLY_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Loop", "If", "Scan"})
#: ops whose TVM converters pass an initializer operand on, as the importer's one constant of it, to a
#: call (when another operand is computed from the graph input: no folding), so every segment reading
#: it counts it once as weights; only such reads may lie on both sides of a cut (:func:`_weights`)
_PASSING_READERS = frozenset({"Add", "Sub", "Mul", "Div", "MatMul", "Gemm", "Conv", "LayerNormalization"})
#: ops whose result may be a view of their input (never cut after: a lone view is a kernel)
_VIEW_OPS = frozenset({"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout"})
#: elementwise ops whose result, read by a ``Cast`` to its own type alone, fuses into it (:func:`_fuses_into_cast`)
_CAST_FUSERS = frozenset({"Add", "Sub", "Mul", "Div"})
_LV = re.compile(r"lv(\d*)\Z")
_TAGGED = re.compile(r"(.*)_k(\d+)\Z")


@dataclass(frozen=True)
class Segments:
    """Where each segment of a composed model lies in it: what a caller needs to attribute the model's
    records and kernels to its own blocks (:class:`hybridperf.block_table.BlockTable`).

    Attributes
    ----------
    cut_tensors : tuple of tuple of str
        The tensors (names of the normalised ONNX graph) crossing the cut after each segment but the last.
    record_spans : tuple of (int, int)
        Each segment's records: ``analysis.records[start:end]``.
    kernel_segments : tuple of int
        The segment of each kernel, in :attr:`Composed.kernels` order (every kernel lies in one segment).
    first_rest_kernel : int
        Kernels from here on are those of records left without a kernel of :func:`group_kernels`'s loop
        (each segment's, in segment order, after every segment's others).
    """

    cut_tensors: tuple[tuple[str, ...], ...]
    record_spans: tuple[tuple[int, int], ...]
    kernel_segments: tuple[int, ...]
    first_rest_kernel: int


@dataclass(frozen=True)
class Composed:
    """What :func:`analyze_segments` hands back to :func:`hybridperf.analysis.analyze.analyze`."""

    analysis: ModelAnalysis
    kernels: tuple[Kernel, ...]
    memory: MemoryPlan
    input_shapes: Mapping[str, tuple[int, ...]]
    source: str
    segments: int
    timings_s: Mapping[str, float]
    #: where each segment's records and kernels lie (:class:`Segments`)
    spans: Segments | None = None
    #: the work of the nodes the normaliser folded (:class:`~hybridperf.frontends.normalize.FoldedWork`)
    folded: Any = None
    #: what the load noted (:attr:`~hybridperf.frontends.common.LoadedModel.notes`: ConvInteger nodes)
    notes: tuple[str, ...] = ()


class BlockCache:
    """Segment results by structural key (at most ``keep``, least recently used dropped first).

    Attributes
    ----------
    hits, misses : int
        Segments answered from the cache / run through the pipeline.
    composed, whole, fallbacks : int
        Models composed from segments; models with no safe cut (whole-model path); models whose
        segments left the composed cases (whole-model path).
    """

    def __init__(self, keep: int = 4096) -> None:
        self.keep = keep
        self._by_key: OrderedDict[bytes, _Segment | None] = OrderedDict()
        self.hits = self.misses = self.composed = self.whole = self.fallbacks = 0

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, key: bytes) -> Any:
        got = self._by_key.get(key, _MISSING)
        if got is not _MISSING:
            self._by_key.move_to_end(key)
        return got

    def put(self, key: bytes, seg: _Segment | None) -> None:
        while len(self._by_key) >= self.keep:
            self._by_key.popitem(last=False)
        self._by_key[key] = seg

    def stats(self) -> dict[str, int]:
        return {"block_entries": len(self), "block_hits": self.hits, "block_misses": self.misses,
                "block_models_composed": self.composed, "block_models_whole": self.whole,
                "block_fallbacks": self.fallbacks}


_MISSING = object()


# --------------------------------------------------------------------------- cutting


def plan_cuts(graph: Any) -> list[tuple[int, tuple[str, ...]]]:
    """Safe cuts of a normalised ONNX graph: ``(node position, tensors crossing it)``, in order."""
    nodes = list(graph.node)
    # each node's fields read once (a protobuf field read builds a new container each time)
    ins = [tuple(n.input) for n in nodes]
    outs = [tuple(n.output) for n in nodes]
    op_types = [n.op_type for n in nodes]
    inits = {t.name for t in graph.initializer}
    inputs = {vi.name for vi in graph.input if vi.name not in inits}
    outputs = {o.name for o in graph.output}
    static = [vi for vi in graph.value_info if _static(vi)]
    typed = {vi.name for vi in static}
    if any(op in _WHOLE_ONLY_OPS or any(a.type in (5, 10) for a in n.attribute) for op, n in zip(op_types, nodes)):
        return []  # QDQ int8 matching and subgraphs look across the whole graph
    last_use: dict[str, int] = {}
    init_first: dict[str, int] = {}
    operand_at: dict[str, int] = {}  # tensor -> first node reading it straight into a kOutEWiseFusable kernel
    rank = {vi.name: len(vi.type.tensor_type.shape.dim) for vi in static}
    for i, n in enumerate(nodes):
        for x in ins[i]:
            if x in inits:
                init_first.setdefault(x, i)
            last_use[x] = i
        for x in _read_as_operand(n, op_types[i], ins[i], rank):
            operand_at.setdefault(x, i)
    passed, shapes = _initializer_reads(ins, outs, op_types, inits, inputs)
    # positions p where an initializer neither passed on nor read as a shape is read both before and after
    blocked = [0] * (len(nodes) + 1)
    for name in init_first.keys() - passed - shapes:
        blocked[init_first[name] + 1] += 1
        blocked[last_use[name] + 1] -= 1
    shared = 0
    dynamic = set(inputs)
    live: dict[str, None] = dict.fromkeys(x for x in inputs if x in last_use)
    cuts = []
    producer = {y: i for i, o in enumerate(outs) for y in o}
    consumers: dict[str, list[int]] = {}
    for i, xs in enumerate(ins):
        for x in dict.fromkeys(xs):
            consumers.setdefault(x, []).append(i)
    fenced = _fenced(operand_at, consumers, outs, last_use)
    views = _views(nodes, ins, op_types, graph, producer, consumers)
    start = 0
    for p in range(1, len(nodes)):
        n_in, n_out = ins[p - 1], outs[p - 1]
        if any(x in dynamic for x in n_in) and op_types[p - 1] != "Constant":
            dynamic.update(n_out)
        for y in n_out:
            if y in last_use or y in outputs:
                live[y] = None
        for x in set(n_in):
            if last_use.get(x) == p - 1 and x in live and x not in outputs:
                del live[x]
        shared += blocked[p]
        if shared or not 0 < len(live) <= MAX_LIVE:
            continue
        if not all(t in dynamic and t in fenced and t in typed and t not in inputs and t not in outputs
                   and producer[t] not in views for t in live):
            continue
        # The importer binds a node's result where it is first read. One result of the segment
        # [start, p) that nothing in it reads is bound last when the segment is imported alone, so
        # the next node must read it first (its first input) for the whole model's binding order
        unread = [t for t in live if producer[t] >= start and consumers[t][0] >= p]
        if len(unread) > 1 or (unread and ins[p][0] != unread[0]):
            continue
        cuts.append((p, tuple(live)))
        start = p
    return cuts


def _views(nodes: list[Any], ins: Sequence[Sequence[str]], op_types: Sequence[str], graph: Any,
           producer: Mapping[str, int], consumers: Mapping[str, list[int]]) -> set[int]:
    """Positions of the nodes whose result may be a view of their input: the ops of :data:`_VIEW_OPS`,
    a ``Cast`` to its input's own type (T5's and Llama's RMSNorm cast the residual stream so) unless its
    producer fuses into it (:func:`_fuses_into_cast`), a ``Transpose`` that moves only axes of extent 1 (a
    ViT's sequence-first layout at batch 1): reshapes to TVM."""
    types = {vi.name: vi.type.tensor_type for vi in (*graph.input, *graph.value_info)}
    out = set()
    for i, (n, op) in enumerate(zip(nodes, op_types)):
        tt = types.get(ins[i][0]) if ins[i] else None
        if op in _VIEW_OPS:
            out.add(i)
        elif op == "Cast" and tt is not None and any(a.name == "to" and a.i == tt.elem_type for a in n.attribute):
            if not _fuses_into_cast(ins[i][0], producer, op_types, consumers):
                out.add(i)
        elif op == "Transpose" and tt is not None and tt.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
            perm = next((list(a.ints) for a in n.attribute if a.name == "perm"), None) or list(range(len(dims)))[::-1]
            moved = [a for a in perm if dims[a] != 1]
            if moved == sorted(moved):
                out.add(i)
    return out


def _fuses_into_cast(x: str, producer: Mapping[str, int], op_types: Sequence[str],
                     consumers: Mapping[str, list[int]]) -> bool:
    """Whether the producer of ``x``, read by a ``Cast`` to its own type alone, fuses into that ``Cast``, so
    the ``Cast`` is no lone kernel (no view): ``x`` comes from an elementwise op of :data:`_CAST_FUSERS` (a
    residual ``Add``) and nothing else reads it. The ``Cast``, the one reader, is the producer's immediate
    post-dominator, the one edge on the way is ``kElemWise`` and the producer's group is at most
    ``kBroadcast`` (or ``kOutEWiseFusable``, a ``MatMul`` fused with it), so ``FuseOps`` phase 0 fuses it into
    the ``Cast``'s group: one computing kernel (``fused_add_astype``), no reshape pattern. A segment
    ending in a lone reshape-pattern kernel all the same is refused (:func:`_ends_in_view`)."""
    p = producer.get(x)
    return p is not None and op_types[p] in _CAST_FUSERS and len(consumers.get(x, ())) == 1


def _initializer_reads(ins: Sequence[Sequence[str]], outs: Sequence[Sequence[str]], op_types: Sequence[str],
                       inits: set[str], inputs: set[str]) -> tuple[set[str], set[str]]:
    """The initializers every node reading them passes on as an operand (:data:`_PASSING_READERS`, with
    another operand computed from the graph input, so the converter folds nothing): the importer's one
    constant of each, which every segment reading it counts once as weights; and those read only as a
    ``Reshape``'s shape (a value the converter reads: no constant, no weights). Only these may be read on
    both sides of a cut; :func:`_weights` counts the first kind once."""
    computed = set(inputs)  # computed from the graph input (not foldable)
    passed: set[str] = set()
    shapes: set[str] = set()
    other: set[str] = set()
    for xs, ys, op in zip(ins, outs, op_types):
        live_in = any(x in computed for x in xs)
        if live_in and op != "Constant":
            computed.update(ys)
        for k, x in enumerate(xs):
            if x not in inits:
                continue
            if op == "Reshape" and k == 1:
                shapes.add(x)
            elif op in _PASSING_READERS and live_in:
                passed.add(x)
            else:
                other.add(x)
    return passed - shapes - other, shapes - passed - other


def _fenced(operand_at: Mapping[str, int], consumers: Mapping[str, list[int]], outs: Sequence[Sequence[str]],
            last_use: Mapping[str, int]) -> set[str]:
    """The tensors whose producer ``FuseOps`` fuses into nothing: a ``kOutEWiseFusable`` edge lies on a path
    from it to its immediate post-dominator ``D`` (see the module docstring).

    A tensor read straight into a ``kOutEWiseFusable`` kernel (``operand_at``: the edge leaves the producer);
    or one from which a path of at most :data:`FENCE_HOPS` nodes leads to such a read by node ``k`` while
    another node reads it after ``k``. ``D`` lies on every path from the producer, that later reader's
    among them, so after ``k`` in graph order (the importer's binding order), and the path through ``k``
    reaches ``D`` through the edge into ``k``.
    """
    out = set(operand_at)
    for t, readers in consumers.items():
        if t in out or len(readers) < 2:
            continue
        last = last_use[t]
        frontier, seen = [t], {t}
        for _ in range(FENCE_HOPS):
            nxt = []
            for u in frontier:
                for i in consumers.get(u, ()):
                    if i >= last:
                        continue
                    for y in outs[i]:
                        if y not in seen:
                            seen.add(y)
                            nxt.append(y)
            if any(operand_at.get(y, last) < last for y in nxt):
                out.add(t)
                break
            frontier = nxt
    return out


def _read_as_operand(node: Any, op: str, ins: Sequence[str], rank: Mapping[str, int]) -> Sequence[str]:
    """The inputs ``node`` (of type ``op``, inputs ``ins``: its fields, read once by the caller) reads straight
    into a ``kOutEWiseFusable`` kernel, with no layout op the importer could put between (which could fuse with
    the producer): a 2-D ``Conv``'s data, a ``Gemm``'s A without ``transA``, a ``MatMul``'s operands of rank 2
    or more."""
    if op not in CUT_CONSUMERS:
        return []
    if op == "Conv" and ins and rank.get(ins[0]) == 4:
        return ins[:1]
    if op == "Gemm" and ins and not any(a.name == "transA" and a.i for a in node.attribute):
        return ins[:1]
    if op == "MatMul":
        return [x for x in ins[:2] if rank.get(x, 0) >= 2]
    return []


def _static(vi: Any) -> bool:
    tt = vi.type.tensor_type
    return vi.type.HasField("tensor_type") and tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim)


def _dims(vi: Any) -> tuple[int, ...]:
    return tuple(int(d.dim_value) for d in vi.type.tensor_type.shape.dim)


def _segment_key(nodes: list[Any], ins: tuple[str, ...], in_types: list[Any], first: bool, opset: bytes,
                 init_of: Mapping[str, Any], key_of_init: dict[str, bytes]) -> bytes:
    """Structural key of one segment: op types, attributes, which tensor each input is (a segment
    input, an earlier node's output, an initializer by :func:`_init_key`), input types."""
    # the pieces hashed as one string (the digest of their concatenation: the same as one update each)
    chunks: list[bytes] = [opset]
    add = chunks.append
    tok: dict[str, str] = {}
    for k, (name, vi) in enumerate(zip(ins, in_types)):
        tok[name] = f"i{k}"
        add(f"in{k}:{name if first else ''}:".encode())
        add(vi.type.SerializeToString())
    weights: dict[str, int] = {}
    for j, n in enumerate(nodes):
        add(f"|{n.domain}:{n.op_type}:".encode())
        for a in n.attribute:
            add(a.SerializeToString())
        add(b"(")
        for x in n.input:
            t = tok.get(x)
            if t is None:
                if x in init_of:
                    w = weights.setdefault(x, len(weights))
                    kb = key_of_init.get(x)
                    if kb is None:
                        kb = key_of_init[x] = _init_key(init_of[x])
                    add(f"w{w}:".encode())
                    add(kb)
                    continue
                t = "-" if not x else f"?{x}"  # an empty optional input, or (never) a name from outside
            add(f"{t},".encode())
        add(b")")
        for m, y in enumerate(n.output):
            tok[y] = f"n{j}.{m}"
            add(b"o" if y else b"_")
    return hashlib.blake2b(b"".join(chunks), digest_size=20).digest()


def _init_key(t: Any) -> bytes:
    """An initializer's shape and dtype, and its value where small or not floating point (not its name: a
    GPT-2 export names each layer's attention scale and Reshape shapes apart, equal values all the same;
    which initializers a segment shares is keyed by :func:`_segment_key`'s ``w{k}`` tokens)."""
    n = 1
    for d in t.dims:
        n *= d
    head = f"{tuple(t.dims)}:{t.data_type}:".encode()
    if n <= VALUE_KEYED_ELEMS or t.data_type not in (1, 10, 11, 16):  # float, float16, double, bfloat16
        if t.name:
            t = _nameless(t)
        return head + hashlib.blake2b(t.SerializeToString(), digest_size=16).digest()
    return head


def _nameless(t: Any) -> Any:
    """A copy of the ``TensorProto`` ``t`` without its name."""
    c = type(t)()
    c.CopyFrom(t)
    c.ClearField("name")
    return c


# --------------------------------------------------------------------------- one segment


@dataclass(frozen=True)
class _Segment:
    """One segment's pipeline results, in its own names (the importer's ``lv`` counter from 0)."""

    records: tuple[OpRecord, ...]
    #: parameter names of the segment's ``main`` (its input tensors, in order)
    params: tuple[str, ...]
    #: ``lv`` names the segment's import used
    n_lv: int
    #: whether the output binding ``gv`` is an op (else a var or tuple of vars)
    bound_last: bool
    #: name code (:func:`_code`) of the record var of each output tensor
    out_codes: tuple[int, ...]
    #: each record's var, input vars and read vars as name codes (:func:`_code`)
    rec_codes: tuple[tuple[int, tuple[int, ...], tuple[int, ...]], ...]
    output_infos: tuple[Any, ...]
    #: name codes of the vars ``main`` returns
    output_codes: tuple[int, ...]
    input_infos: Mapping[str, Any]
    weight_bytes: int
    weight_bytes_by_dtype: Mapping[str, int]
    #: (name hint, structural class) of the legalized PrimFunc of each ``call_tir`` site
    sites: tuple[tuple[str, int], ...]
    #: kernels of the loop in :func:`group_kernels`, then those of records left without one:
    #: (name template, op indices, status, cost, precision)
    kernels: tuple[tuple[Any, tuple[int, ...], Status, Any, str], ...]
    n_main_kernels: int
    #: call stream with integer keys (>= 0 local, -1-k the k-th input), the output binding last
    stream: tuple[Binding, ...]
    out_keys: tuple[int, ...]
    n_keys: int
    n_allocs: int


class _Unusable(Exception):
    """A segment (or composition) outside the cases composed here: the model goes whole."""


def _run_segment(model: Any, nodes: list[Any], ins: tuple[str, ...], in_types: list[Any], outs: list[str],
                 out_types: dict[str, Any], init_of: Mapping[str, Any], cache: Any, last: bool) -> _Segment:
    """The whole pipeline on one segment (a model of its own), in the form :func:`_compose` reads;
    ``last``: the model's last segment (its output binding the whole model's)."""
    loaded = _import(model, nodes, in_types, outs, out_types, init_of)
    mod = loaded.module
    analysis = analyze_loaded(loaded)
    if any(r.status is Status.SYMBOLIC for r in analysis.records):
        raise _Unusable("symbolic")
    fused, kernels, stream = _lower(mod, analysis, cache)
    main = mod["main"]
    params = tuple(_tvm.var_name(p) for p in main.params)
    if len(params) != len(ins):
        raise _Unusable("parameters")
    n_lv, bound_last, out_vars = _outputs(main, analysis, last)
    if bound_last and not last and _ends_in_view(fused, cache.reshape_patterns):
        raise _Unusable("a view bound as the output (a kernel alone, a view in the whole model)")
    sites = _sites(main, cache.legalize)
    pidx = {nm: k for k, nm in enumerate(params)}
    templates, n_main = _kernel_templates(analysis, kernels, fused, sites, pidx)
    local, out_keys, n_keys, n_allocs = _int_stream(stream, main.params, bound_last)
    rec_codes = tuple((_code(r.var, pidx), tuple(_code(v, pidx) for v in r.input_vars),
                       tuple(_code(v, pidx) for v in r.read_vars)) for r in analysis.records)
    return _Segment(
        records=analysis.records, params=params, n_lv=n_lv, bound_last=bound_last,
        out_codes=tuple(_code(v, pidx) for v in out_vars), rec_codes=rec_codes, output_infos=analysis.output_infos,
        output_codes=tuple(_code(v, pidx) for v in sorted(analysis.output_vars)),
        input_infos=analysis.input_infos, weight_bytes=analysis.weight_bytes,
        weight_bytes_by_dtype=analysis.weight_bytes_by_dtype, sites=sites, kernels=templates, n_main_kernels=n_main,
        stream=local, out_keys=out_keys, n_keys=n_keys, n_allocs=n_allocs,
    )


def _lower(mod: Any, analysis: ModelAnalysis, cache: Any) -> tuple[Any, tuple[Kernel, ...], CallStream]:
    """The segment legalized in one pass, fused, its kernels grouped and its call stream read: the
    whole-model path's steps, within the cases composed here."""
    legalize = cache.legalize
    one_pass = legalize.one_pass
    tagged = lowering.tag_and_legalize(mod, [r.var for r in analysis.records], cache=legalize)
    if legalize.one_pass != one_pass + 1:
        raise _Unusable("not the one-pass legalization")
    fused = lowering.fuse(tagged)
    kernels = group_kernels(analysis, fused)
    stream = call_stream.of_fused(fused, cache.reshape_patterns)
    if stream is None or len(stream.blocks) != 1:
        raise _Unusable("call stream")
    return fused, kernels, stream


def _import(model: Any, nodes: list[Any], in_types: list[Any], outs: list[str], out_types: dict[str, Any],
            init_of: Mapping[str, Any]) -> Any:
    """The segment as an ONNX model of its own (its inputs typed as in the whole graph), imported (a
    :class:`~hybridperf.frontends.common.LoadedModel`)."""
    import onnx
    from onnx import helper

    from hybridperf.frontends.onnx_import import from_onnx

    used = dict.fromkeys(x for n in nodes for x in n.input if x in init_of)
    g = helper.make_graph(nodes, "segment", list(in_types),
                          [out_types.get(y) or helper.make_empty_tensor_value_info(y) for y in outs],
                          [init_of[x] for x in used])
    sub = onnx.ModelProto()
    sub.ir_version = model.ir_version
    sub.opset_import.extend(model.opset_import)
    sub.graph.CopyFrom(g)
    return from_onnx(sub, {vi.name: _dims(vi) for vi in in_types}, source="<segment>")


def _outputs(main: Any, analysis: ModelAnalysis, last: bool) -> tuple[int, bool, tuple[str, ...]]:
    """``lv`` names used, whether the output binding is an op, and the record var of each output.

    ``gv = op(...)``: the one result nothing in the segment reads, bound as the output (in the
    whole model: as the next ``lv``, where the next segment's first node reads it); else
    ``gv = lv`` or ``gv = (lv, ...)``, a binding the whole model does not have. The ``last`` segment's
    output binding is the whole model's: it may be a zero-cost record (a view op such as GPT-2's
    final ``Reshape``), no later segment reading it.
    """
    binds = list(_tvm.bindings(main))
    names = [_tvm.var_name(b.var) for b in binds]
    if not names or names[-1] != "gv" or any(_LV.match(nm) is None or _lv_index(nm) != i for i, nm in enumerate(names[:-1])):
        raise _Unusable("var names")
    out_expr = binds[-1].value
    bound_last = _tvm.is_call(out_expr)
    out_list = [binds[-1].var] if bound_last else list(out_expr.fields) if _tvm.is_tuple(out_expr) else [out_expr]
    by_var = {r.var: r for r in analysis.records}
    out_vars = []
    for e in out_list:
        r = by_var.get(_tvm.var_name(e)) if _tvm.is_var(e) else None
        if r is None or (r.status is Status.ZERO_COST and not last) or len(r.outputs) != 1:
            raise _Unusable("output")
        out_vars.append(r.var)
    return len(names) - 1, bound_last, tuple(out_vars)


def _kernel_templates(analysis: ModelAnalysis, kernels: tuple[Kernel, ...], fused: Any,
                      sites: tuple[tuple[str, int], ...], pidx: Mapping[str, int]) -> tuple[tuple, int]:
    """Each kernel with its name as a template (``("fused", sites)``, ``("tir", site)``,
    ``("var", code)``, ``("op", name)``) after checking the segment's own names follow it; and the
    number of kernels of :func:`group_kernels`'s loop (the rest: records left without a kernel)."""
    tagged_site = {}
    for b in _tvm.bindings(fused["main"]):
        v = b.value
        if _tvm.is_call(v) and _tvm.op_name(v) == "relax.call_tir":
            tagged_site[v.args[0].name_hint] = _site_of(v.args[0].name_hint, len(sites))
    fused_sites = {}
    for gv, f in fused.functions_items():
        if _tvm.is_relax_function(f) and gv.name_hint != "main":
            fused_sites[gv.name_hint] = tuple(
                _site_of(ib.value.args[0].name_hint, len(sites)) for ib in _tvm.bindings(f)
                if _tvm.is_call(ib.value) and _tvm.op_name(ib.value) == "relax.call_tir")
    local_tagged = _tagged_names(sites, lowering.PrimFuncNames(), 0)
    rec_vars = {r.var for r in analysis.records}
    n_main = sum(1 for k in kernels if k.name not in rec_vars)
    out = []
    for i, k in enumerate(kernels):
        if i >= n_main:
            if k.name not in rec_vars:
                raise _Unusable("kernel order")
            tmpl = ("var", _code(k.name, pidx))
        elif k.name in fused_sites or k.name in tagged_site:
            tmpl = ("fused", fused_sites[k.name]) if k.name in fused_sites else ("tir", tagged_site[k.name])
            if _kernel_name(tmpl, local_tagged, None) != k.name:
                raise _Unusable(f"{tmpl[0]} name")
        elif k.name.startswith("relax."):
            tmpl = ("op", k.name)
        else:
            raise _Unusable("kernel name")
        out.append((tmpl, k.op_indices, k.status, k.cost, k.precision))
    return tuple(out), n_main


def _tagged_names(sites: tuple[tuple[str, int], ...], names: lowering.PrimFuncNames, first: int) -> list[str]:
    """The tagged PrimFunc names (``{name}_k{site}``) of ``sites``, numbered from ``first``."""
    return [f"{names.name(*site)}_k{first + j}" for j, site in enumerate(sites)]


def _kernel_name(tmpl: tuple[str, Any], tagged: list[str], var_name: Callable[[int], str] | None) -> str:
    """A kernel's name from its template (:func:`_kernel_templates`), ``tagged`` naming the
    segment's sites and ``var_name`` its var name codes."""
    kind, what = tmpl
    if kind == "fused":
        return "fused_" + "_".join([tagged[x] for x in what])
    if kind == "tir":
        return tagged[what]
    if kind == "var":
        return var_name(what)
    return what


#: the name code of ``gv`` (:func:`_code`)
_GV = -(1 << 30)


def _code(name: str, params: Mapping[str, int]) -> int:
    """A segment's var name as an int: ``lv{i}`` -> i, the k-th parameter -> -1-k, ``gv`` -> :data:`_GV`."""
    k = params.get(name)
    if k is not None:
        return -1 - k
    if name == "gv":
        return _GV
    if _LV.match(name) is None:
        raise _Unusable(f"var {name}")
    return _lv_index(name)


def _lv_index(name: str) -> int:
    digits = name[2:]
    return int(digits) if digits else 0


def _site_of(tagged: str, n: int) -> int:
    m = _TAGGED.match(tagged)
    if m is None or int(m.group(2)) >= n:
        raise _Unusable("tagged name")
    return int(m.group(2))


def _sites(main: Any, legalize: Any) -> tuple[tuple[str, int], ...]:
    """(hint, class) of each cached legalization, in the order the one-pass path tags them
    (:meth:`hybridperf.ir.lowering.LegalizeCache.tag_and_legalize`; it keys the same signatures)."""
    tvm, _ = _tvm.tvm_modules()
    out = []
    for b in _tvm.bindings(main):
        v = b.value
        if not _tvm.is_call(v) or not isinstance(v.op, tvm.ir.Op) or v.op.get_attr("FLegalize") is None:
            continue
        site = legalize.cached_site(v)
        if site is not None:  # else uncached: no site
            out.append(site)
    return tuple(out)


def _ends_in_view(fused: Any, reshape_pattern: Any) -> bool:
    """Whether the last binding of ``fused``'s ``main`` is a lone ``call_tir`` of a reshape-pattern
    PrimFunc (``RewriteDataflowReshape`` makes it a view only when it binds a dataflow var)."""
    *_, last = _tvm.bindings(fused["main"])
    v = last.value
    return (_tvm.is_call(v) and _tvm.op_name(v) == "relax.call_tir" and _tvm.is_global_var(v.args[0])
            and bool(reshape_pattern(fused[v.args[0]])))


def _int_stream(stream: CallStream, params: Any, bound_last: bool) -> tuple[tuple[Binding, ...], tuple[int, ...], int, int]:
    """The stream with integer keys (params -> -1-k), alloc names -> their index, and the keys of
    the segment's outputs: ``gv`` itself where ``bound_last``, else what ``gv`` (the last binding) refers to."""
    ids: dict[Any, int] = {}  # TVM vars hash and compare as the node they refer to; other keys by identity
    for k, p in enumerate(params):
        ids[p] = -1 - k

    def key(e: Any) -> Any:
        if e is None:
            return None
        t = type(e)
        if t is tuple:
            return tuple(key(f) for f in e)
        if t is Item:
            return Item(key(e.of), e.index)
        got = ids.get(e)
        if got is None:
            raise _Unusable("stream reads a value defined nowhere")
        return got

    out = []
    allocs = 0
    (block,) = stream.blocks
    for b in block:
        args = tuple(key(a) for a in b.args)
        new = len(ids) - len(params)
        ids[b.var] = new
        name = b.name
        if b.kind is Kind.ALLOC:
            if name != _alloc(allocs):
                raise _Unusable("alloc name")
            name = allocs
            allocs += 1
        out.append(Binding(new, b.kind, args, name, b.nbytes, b.dtype, b.scope))
    last = out[-1]
    if last.kind is not Kind.VALUE:
        raise _Unusable("output binding")
    (val,) = last.args
    out_keys = (last.var,) if bound_last else val if type(val) is tuple else (val,)
    if not all(isinstance(k, int) and k >= 0 for k in out_keys) or key(stream.output) != last.var:
        raise _Unusable("output binding")
    return tuple(out), tuple(out_keys), len(out), allocs


# --------------------------------------------------------------------------- composing


def _lv(i: int) -> str:
    return "lv" if i == 0 else f"lv{i}"


def _alloc(i: int) -> str:
    return "alloc" if i == 0 else f"alloc{i}"


@dataclass(frozen=True)
class _Place:
    """Where one segment's vars and call stream keys land in the composed model: the first ``lv``
    and key it takes, what its inputs are there, and the name of its output binding."""

    lv_off: int
    key_off: int
    in_names: tuple[str, ...]
    in_keys: tuple[int, ...]
    gv: str

    def name(self, c: int) -> str:
        """The composed name of the segment's var with name code ``c`` (:func:`_code`)."""
        if c >= 0:
            return _lv(c + self.lv_off)
        return self.gv if c == _GV else self.in_names[-1 - c]

    def key(self, e: Any) -> Any:
        """The composed call stream key of the segment's key ``e`` (an int, None, a tuple or an Item)."""
        t = type(e)
        if t is int:
            return e + self.key_off if e >= 0 else self.in_keys[-1 - e]
        if e is None:
            return None
        if t is tuple:
            return tuple([self.key(f) for f in e])
        return Item(self.key(e.of), e.index)


def _compose(parts: list[tuple[_Segment, tuple[tuple[int, int], ...], tuple[tuple[str, int, str], ...]]]
             ) -> tuple[ModelAnalysis, tuple[Kernel, ...], CallStream, tuple[tuple[tuple[int, int], ...], tuple[int, ...], int]]:
    """Records, kernels and call stream of the whole model from its segments (``parts``: each
    segment, per input the (segment, output position) it reads (the first reads the graph inputs), and
    the initializers it passes on (:func:`_initializer_reads`): name, bytes, dtype),
    and where each segment's records lie and the segment of each kernel (:class:`Segments`)."""
    records: list[OpRecord] = []
    main_k: list[tuple] = []
    rest_k: list[tuple] = []
    main_s: list[int] = []
    rest_s: list[int] = []
    rec_spans: list[tuple[int, int]] = []
    bindings: list[Binding] = []
    names = lowering.PrimFuncNames()
    tagged_names: list[str] = []
    out_names: list[tuple[str, ...]] = []  # per segment: global var name of each output
    out_keys: list[tuple[int, ...]] = []
    first = parts[0][0]
    n_in = len(first.params)
    lv_off = rec_off = alloc_off = 0
    key_off = n_in  # keys 0 .. n_in - 1: the graph inputs
    last = len(parts) - 1
    for s, (seg, src, _) in enumerate(parts):
        place = _Place(
            lv_off, key_off,
            tuple([out_names[a][b] for a, b in src]) if s else seg.params,
            tuple([out_keys[a][b] for a, b in src]) if s else tuple(range(n_in)),
            "gv" if s == last else _lv(seg.n_lv + lv_off))
        records.extend(_placed_records(seg, place, rec_off))
        seg_tagged = _tagged_names(seg.sites, names, len(tagged_names))
        tagged_names += seg_tagged
        for i, (tmpl, ops, status, cost, prec) in enumerate(seg.kernels):
            kernel = (_kernel_name(tmpl, seg_tagged, place.name), tuple([o + rec_off for o in ops]), status, cost, prec)
            (main_k if i < seg.n_main_kernels else rest_k).append(kernel)
            (main_s if i < seg.n_main_kernels else rest_s).append(s)
        rec_spans.append((rec_off, rec_off + len(seg.records)))
        bindings += _placed_bindings(seg, place, alloc_off, whole=s == last or seg.bound_last)
        out_keys.append(tuple(k + key_off for k in seg.out_keys))
        out_names.append(tuple(place.name(c) for c in seg.out_codes))
        lv_off += seg.n_lv + seg.bound_last
        rec_off += len(seg.records)
        key_off += seg.n_keys
        alloc_off += seg.n_allocs
    if names.clash(tagged_names):
        raise _Unusable("a tagged name is also an untagged one")
    weight, by_dtype = _weights([(part[0], part[2]) for part in parts])
    out_vars = frozenset(place.name(c) for c in seg.output_codes)  # seg, place: the last segment's
    analysis = ModelAnalysis(
        records=tuple(records), input_infos=first.input_infos, output_infos=seg.output_infos,
        weight_bytes=weight, weight_bytes_by_dtype=MappingProxyType(by_dtype), output_vars=out_vars)
    kernels = tuple(Kernel(i, *k) for i, k in enumerate(main_k + rest_k))
    return analysis, kernels, CallStream((tuple(bindings),), bindings[-1].var), (tuple(rec_spans), tuple(main_s + rest_s), len(main_s))


def _placed_records(seg: _Segment, place: _Place, off: int) -> list[OpRecord]:
    """The segment's records, renamed as the whole model's and numbered from ``off``."""
    rn = _Names(place)
    # every other field kept as the segment's analysis made it (until 2026-12-06 22:40 UTC a new record was built
    # from a list of fields that left out the subnormal counts and the innermost-axis transpose elements)
    return [replace(r, index=r.index + off, var=rn[v], input_vars=tuple([rn[c] for c in iv]),
                    read_vars=tuple([rn[c] for c in rv]))
            for r, (v, iv, rv) in zip(seg.records, seg.rec_codes)]


class _Names(dict):
    """Name code -> composed name in one place (:meth:`_Place.name`), each worked out once: a var
    is read by several records."""

    def __init__(self, place: _Place) -> None:
        super().__init__()
        self.place = place

    def __missing__(self, c: int) -> str:
        name = self[c] = self.place.name(c)
        return name


def _placed_bindings(seg: _Segment, place: _Place, alloc_off: int, whole: bool) -> list[Binding]:
    """The segment's call stream with the whole model's keys and alloc names (numbered from
    ``alloc_off``); without its output binding unless ``whole`` (the last segment's, or one bound as
    an op: a binding the whole model has)."""
    out = []
    key_off, rk = place.key_off, place.key
    for b in seg.stream if whole else seg.stream[:-1]:
        kind = b.kind
        if kind is Kind.ALLOC:
            out.append(Binding(b.var + key_off, kind, (), _alloc(b.name + alloc_off), b.nbytes, b.dtype, b.scope))
        else:
            out.append(Binding(b.var + key_off, kind, tuple([rk(a) for a in b.args])))
    return out


def _weights(segs: Iterable[tuple[_Segment, tuple[tuple[str, int, str], ...]]]) -> tuple[int, dict[str, int]]:
    """Weight bytes of the segments (each with the initializers it reads), in all and by dtype: an
    initializer read in several segments (on both sides of a cut: only as an operand passed on,
    :data:`_PASSING_READERS`, so each segment counts it) counts once, as the whole model's one constant of it does."""
    weight = 0
    by_dtype: dict[str, int] = {}
    counted: set[str] = set()
    for seg, reads in segs:
        for k, v in seg.weight_bytes_by_dtype.items():
            by_dtype[k] = by_dtype.get(k, 0) + v
        weight += seg.weight_bytes
        for name, nbytes, dtype in reads:
            if name in counted and nbytes:
                if by_dtype.get(dtype, 0) < nbytes:
                    raise _Unusable(f"weights of {dtype}")  # (never on the zoo) a dtype named otherwise
                weight -= nbytes
                by_dtype[dtype] -= nbytes
            counted.add(name)
    return weight, by_dtype


# --------------------------------------------------------------------------- the stage


def analyze_segments(model: Any, shapes: Mapping[str, tuple[int, ...]] | None, batch: int | None,
                     cache: Any) -> Composed | Any:
    """Load and normalise ``model`` (an ONNX file path or ``onnx.ModelProto``), then compose it
    from cached segments; returns a :class:`Composed`, or the whole model imported
    (:class:`~hybridperf.frontends.common.LoadedModel`) where it takes the whole-model path."""
    from hybridperf.frontends.common import is_onnx_proto
    from hybridperf.frontends.load import import_normalized, normalized_onnx, proto_source
    from hybridperf.frontends.onnx_import import load_onnx_proto
    from hybridperf.frontends.qoperator import integer_conv_note

    blocks: BlockCache = cache.blocks
    t: dict[str, float] = {}
    c = time.perf_counter
    t0 = c()
    if is_onnx_proto(model):
        source, proto, inplace = proto_source(model), model, False
    else:
        source, proto, inplace = str(Path(model)), load_onnx_proto(model), True
    t1 = c()
    # read before the normaliser rewrites the nodes; the whole-model path's load adds the same note (until
    # 2026-12-05b a Session, predict-many and sweeps composed the model without it)
    notes = tuple(n for n in [integer_conv_note(proto)] if n)
    res = normalized_onnx(proto, shapes, batch, source, inplace)
    t2 = c()
    t["load_s"], t["normalize_s"] = t1 - t0, t2 - t1
    norm = res.model
    graph = norm.graph
    cuts = plan_cuts(graph)
    if not cuts:
        blocks.whole += 1
        return _noted(import_normalized(res, source, shapes, batch), notes)
    try:
        parts = _segments(norm, cuts, cache)
        t3 = c()
        analysis, kernels, stream, where = _compose(parts)
        t4 = c()
        input_bytes = sum(v.nbytes or 0 for v in analysis.input_infos.values())
        memory = plan_stream(stream, analysis.weight_bytes, input_bytes)
        t5 = c()
    except _Unusable:
        blocks.fallbacks += 1
        return _noted(import_normalized(res, source, shapes, batch), notes)
    blocks.composed += 1
    t["segments_s"], t["compose_s"], t["memory_plan_s"] = t3 - t2, t4 - t3, t5 - t4
    return Composed(analysis, kernels, memory, MappingProxyType(dict(res.input_shapes)), source, len(parts),
                    MappingProxyType(t), Segments(tuple(live for _, live in cuts), *where), res.folded, notes)


def _noted(loaded: Any, notes: tuple[str, ...]) -> Any:
    """``loaded`` (a :class:`~hybridperf.frontends.common.LoadedModel`) with ``notes`` after its own."""
    return replace(loaded, notes=(*loaded.notes, *notes)) if notes else loaded


def _init_bytes(t: Any) -> tuple[int, str]:
    """An initializer's bytes and dtype, as the cost pass counts its constant (:class:`TensorInfo`)."""
    from hybridperf.frontends.onnx_dtype import onnx_dtype_name, onnx_elem_bytes
    from hybridperf.units import numel

    try:
        return onnx_elem_bytes(t.data_type, numel(t.dims)), onnx_dtype_name(t.data_type)
    except (KeyError, ValueError, TypeError) as exc:
        raise _Unusable("initializer dtype") from exc


def _segments(norm: Any, cuts: list[tuple[int, tuple[str, ...]]], cache: Any) -> list:
    """Each segment's cached result (running the pipeline on a miss) and where its inputs come from."""
    graph = norm.graph
    blocks: BlockCache = cache.blocks
    nodes = list(graph.node)
    init_of = {t.name: t for t in graph.initializer}
    inits = set(init_of)
    types = {vi.name: vi for vi in graph.value_info}
    graph_inputs = tuple(vi.name for vi in graph.input if vi.name not in inits)
    in_types0 = [vi for vi in graph.input if vi.name not in inits]
    opset = b"".join(o.SerializeToString() for o in norm.opset_import)
    passed, _ = _initializer_reads([tuple(n.input) for n in nodes], [tuple(n.output) for n in nodes],
                                   [n.op_type for n in nodes], inits, set(graph_inputs))
    bounds = [(0, graph_inputs)] + cuts
    where: dict[str, tuple[int, int]] = {}  # tensor -> (segment, output position)
    parts = []
    key_of_init: dict[str, bytes] = {}
    n_seg = len(bounds)
    for s, (start, ins) in enumerate(bounds):
        end = bounds[s + 1][0] if s + 1 < n_seg else len(nodes)
        seg_nodes = nodes[start:end]
        pos = {y: (j, m) for j, n in enumerate(seg_nodes) for m, y in enumerate(n.output)}
        # what the segment hands on: the tensors crossing the next cut that it computes (the others pass by)
        outs = [o for o in bounds[s + 1][1] if o in pos] if s + 1 < n_seg else [o.name for o in graph.output]
        if any(o not in pos for o in outs):
            raise _Unusable("a graph output not computed in the last segment")
        if s:  # the tensors it reads (others crossing its first cut pass it by)
            read = {x for n in seg_nodes for x in n.input}
            ins = tuple(x for x in ins if x in read)
        in_types = in_types0 if s == 0 else [types[x] for x in ins]
        key = _segment_key(seg_nodes, ins, in_types, s == 0, opset, init_of, key_of_init)
        key += repr((s + 1 == n_seg, [pos[o] for o in outs])).encode()
        seg = blocks.get(key)
        if seg is _MISSING:
            blocks.misses += 1
            out_types = {o.name: o for o in graph.output} if s + 1 == n_seg else types
            try:
                seg = _run_segment(norm, seg_nodes, ins, in_types, outs, out_types, init_of, cache, s + 1 == n_seg)
            except Exception:  # noqa: BLE001 - _Unusable, or an error the whole-model path reports (or survives)
                seg = None
            blocks.put(key, seg)
        else:
            blocks.hits += 1
        if seg is None:
            raise _Unusable("segment")
        src = tuple(where[x] for x in ins) if s else ()
        for m, y in enumerate(outs):
            where[y] = (s, m)
        reads = dict.fromkeys(x for n in seg_nodes for x in n.input if x in passed)
        parts.append((seg, src, tuple((x, *_init_bytes(init_of[x])) for x in reads)))
    return parts
