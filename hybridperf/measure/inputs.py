"""The inputs a measurement runs a model on: valid for the model by construction.

Ground truth must run on any valid model, and the latency it records should be the one a user sees, so integer
inputs are not random numbers but values the graph accepts, read from how the graph uses each input
(:func:`onnx_input_fills`):

* **indices** (:attr:`Fill.INDICES`): an input that reaches the indices of a ``Gather`` (an embedding lookup), or
  the ids of ``com.microsoft.EmbedLayerNormalization``, is drawn uniformly from ``[0, rows)`` of the table it
  indexes (the smallest such table when it indexes several): token ids spread over the vocabulary, token types
  in ``[0, 2)`` for BERT. Where the table's rows are not known from the file (the table is computed), or for
  ``GatherElements`` / ``GatherND`` indices, 0: an index into any non-empty axis.
* **positions** (:attr:`Fill.POSITIONS`): indices whose name says ``position`` are ``0, 1, 2, ...`` along the last
  axis (modulo the table's rows), as a tokenizer would give them.
* **ones** (:attr:`Fill.ONES`): masks (a name with ``mask``, or an input used in arithmetic or a comparison
  rather than as indices: multiplied into scores, compared, a ``Where`` condition) and booleans: every position
  kept, the full sequence a user runs.
* **zeros** (:attr:`Fill.ZEROS`): any other integer input (a length, an offset, a step): 0 is valid wherever an
  index or an offset is.

An input is followed through ops that pass its values on unchanged (``Cast``, ``Reshape``, ``Unsqueeze``,
``Squeeze``, ``Flatten``, ``Identity``, ``Expand``, ``Transpose``, ``Slice``, ``Concat``, ``Split``, ``Tile``, the
data of a ``Gather``) to the op that uses them; the first of the rules above that matches wins, indices before
masks. Floats are uniform in ``[0, 1)`` from a generator seeded with ``seed``, drawn first, in input order (a
model whose inputs are all floats gets the values of earlier releases; integers drawn between floats shifted them).
:func:`fill_inputs` is the one place inputs are made: onnxruntime measurements (``measure``, ``calibrate
--measure``), the subnormal scan and the TVM memory measurement (:func:`hybridperf.measure.memory.random_inputs`,
which has no ONNX graph to read and fills integers with zeros) all call it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Fill", "InputFill", "fill_inputs", "fills_record", "onnx_input_fills"]


class Fill(str, enum.Enum):
    """How one input's values are made (see the module docstring)."""

    RANDOM = "random"
    INDICES = "indices"
    POSITIONS = "positions"
    ONES = "ones"
    ZEROS = "zeros"


@dataclass(frozen=True)
class InputFill:
    """How one input is filled and why.

    Attributes
    ----------
    fill : Fill
        The rule.
    high : int or None
        The exclusive upper bound of :attr:`Fill.INDICES` / :attr:`Fill.POSITIONS` values (rows of the table they
        index); None for the other rules.
    reason : str
        What in the graph chose the rule (``"indices of Gather 'emb' (table of 2 rows)"``).
    """

    fill: Fill
    high: int | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """``{"fill": ..., "range": [0, high] or None, "reason": ...}`` for a measurement's JSON."""
        return {"fill": self.fill.value, "range": None if self.high is None else [0, self.high],
                "reason": self.reason}


#: ops that pass the values of input 0 (all inputs for Concat) on unchanged: an input is followed through them
_PASS_ON = frozenset({"Cast", "CastLike", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity", "Expand",
                      "Transpose", "Slice", "Split", "Tile", "Gather", "Concat"})
#: ops whose use of a value makes it a mask (arithmetic, comparison, a Where condition, a reduction)
_MASK_USES = frozenset({"Mul", "Sub", "Add", "Div", "Neg", "Not", "And", "Or", "Xor", "Equal", "Less", "Greater",
                        "LessOrEqual", "GreaterOrEqual", "Where", "Min", "Max", "ReduceSum", "ReduceMax",
                        "ReduceMin", "CumSum"})
#: (domain, op) -> {input index: input index of the table it indexes (its rows bound it)}; -1: no table known
_INDEX_USES: Mapping[tuple[str, str], Mapping[int, int]] = {
    ("", "Gather"): {1: 0},
    ("", "GatherElements"): {1: -1},
    ("", "GatherND"): {1: -1},
    # input_ids -> word_embedding, segment_ids -> segment_embedding, position_ids -> position_embedding
    ("com.microsoft", "EmbedLayerNormalization"): {0: 2, 1: 4, 8: 3},
}
#: (domain, op) -> input indices that are masks
_MASK_INPUTS: Mapping[tuple[str, str], frozenset[int]] = {
    ("com.microsoft", "EmbedLayerNormalization"): frozenset({7}),
}


def _domain(node: Any) -> str:
    """The node's op set domain, ``""`` for the default one (also spelt ``ai.onnx``)."""
    return "" if node.domain in ("", "ai.onnx") else node.domain


def _table_rows(graph: Any, name: str, axis: int) -> int | None:
    """Rows (dim ``axis``) of the tensor ``name`` where the file states them: an initializer or a Constant's
    value (dims are read without the weights: external data need not be loaded)."""
    tensor = next((t for t in graph.initializer if t.name == name), None)
    if tensor is None:
        tensor = next((a.t for n in graph.node if n.op_type == "Constant" and n.output and n.output[0] == name
                       for a in n.attribute if a.name == "value" and a.t is not None), None)
    if tensor is None:
        return None
    dims = list(tensor.dims)
    return int(dims[axis]) if -len(dims) <= axis < len(dims) else None


def _axis(node: Any) -> int:
    """The node's ``axis`` attribute (0 where it has none: ``Gather``'s default)."""
    for a in node.attribute:
        if a.name == "axis":
            return int(a.i)
    return 0


def onnx_input_fills(graph: Any) -> dict[str, InputFill]:
    """How each real input of an ONNX graph (``onnx.GraphProto``; initializers excluded) is filled.

    Parameters
    ----------
    graph : onnx.GraphProto
        The model's graph; loaded without external data is enough (only dims of tables are read).

    Returns
    -------
    dict of str to InputFill
        One entry per input, in graph order; floats are :attr:`Fill.RANDOM`, booleans :attr:`Fill.ONES`.
    """
    from onnx import TensorProto  # noqa: PLC0415 - the caller has loaded an ONNX graph

    floats = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16)
    inits = {t.name for t in graph.initializer}
    users: dict[str, list[tuple[Any, int]]] = {}
    for node in graph.node:
        for k, x in enumerate(node.input):
            if x:
                users.setdefault(x, []).append((node, k))
    out: dict[str, InputFill] = {}
    for vi in graph.input:
        if vi.name in inits:
            continue
        elem = vi.type.tensor_type.elem_type
        if elem in floats:
            out[vi.name] = InputFill(Fill.RANDOM, reason="float input: uniform in [0, 1)")
        elif elem == TensorProto.BOOL:
            out[vi.name] = InputFill(Fill.ONES, reason="boolean input: all true")
        else:
            out[vi.name] = _integer_fill(graph, vi.name, users)
    return out


def _integer_fill(graph: Any, name: str, users: Mapping[str, list[tuple[Any, int]]]) -> InputFill:
    """The fill of one integer input, from the ops its values reach (module docstring)."""
    index_uses: list[tuple[Any, int | None]] = []  # (node, rows of the table or None)
    mask_use = None
    seen = {name}
    todo = [name]
    while todo:
        value = todo.pop()
        for node, k in users.get(value, ()):
            key = (_domain(node), node.op_type)
            table = _INDEX_USES.get(key, {}).get(k)
            if table is not None:
                rows = None
                if table >= 0 and table < len(node.input) and node.input[table]:
                    rows = _table_rows(graph, node.input[table], _axis(node) if node.op_type == "Gather" else 0)
                index_uses.append((node, rows))
            elif k in _MASK_INPUTS.get(key, ()) or (key[0] == "" and node.op_type in _MASK_USES):
                mask_use = mask_use or node
            elif key[0] == "" and node.op_type in _PASS_ON and (k == 0 or node.op_type == "Concat"):
                for o in node.output:
                    if o and o not in seen:
                        seen.add(o)
                        todo.append(o)
    if index_uses:
        known = [(n, r) for n, r in index_uses if r is not None and r > 0]
        if len(known) < len(index_uses):  # a table of unknown rows: 0 is the one index every non-empty one takes
            node = next(n for n, r in index_uses if r is None or r <= 0)
            return InputFill(Fill.ZEROS, reason=f"indices of {node.op_type} {node.name or node.output[0]!r} "
                                                "(rows of the table not stated in the file): 0")
        node, rows = min(known, key=lambda nr: nr[1])
        what = f"{node.op_type} {node.name or node.output[0]!r} (table of {rows} rows)"
        if "position" in name.lower():
            return InputFill(Fill.POSITIONS, rows, f"position ids of {what}: 0, 1, 2, ... along the last axis")
        return InputFill(Fill.INDICES, rows, f"indices of {what}: uniform in [0, {rows})")
    if "mask" in name.lower():
        return InputFill(Fill.ONES, reason="a mask (by its name): ones, every position kept")
    if mask_use is not None:
        return InputFill(Fill.ONES, reason=f"a mask (used by {mask_use.op_type} "
                                           f"{mask_use.name or mask_use.output[0]!r}): ones, every position kept")
    return InputFill(Fill.ZEROS, reason="an integer not used as indices or a mask: 0")


def fill_inputs(specs: Mapping[str, tuple[tuple[int, ...], str]], fills: Mapping[str, InputFill] | None = None,
                seed: int = 0) -> dict[str, np.ndarray]:
    """Arrays for ``specs``, filled as ``fills`` says.

    An input without an entry in ``fills`` gets its dtype's default: floats uniform in ``[0, 1)``, booleans
    ``True``, integers 0. Floats are drawn first, in ``specs`` order, from ``numpy.random.default_rng(seed)``;
    then the indices.

    Parameters
    ----------
    specs : mapping of str to (tuple of int, str)
        Input name -> (static shape, numpy dtype name).
    fills : mapping of str to InputFill, optional
        How each input is filled (:func:`onnx_input_fills`); None: every input its dtype's default.
    seed : int
        Seed of the generator the floats and indices are drawn from.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per input, in ``specs`` order.
    """
    rng = np.random.default_rng(seed)
    fills = fills or {}
    out: dict[str, np.ndarray] = {}
    for name, (shape, dtype) in specs.items():  # floats first: the stream of earlier releases
        if dtype.startswith(("float", "bfloat")):
            out[name] = rng.random(shape, dtype=np.float32).astype(dtype)
    for name, (shape, dtype) in specs.items():
        if name in out:
            continue
        f = fills.get(name)
        kind = f.fill if f is not None else (Fill.ONES if dtype == "bool" else Fill.ZEROS)
        if kind is Fill.INDICES and f.high:
            high = min(f.high, int(np.iinfo(dtype).max) + 1)  # an int8 id cannot reach row 200 of a table
            out[name] = rng.integers(0, high, size=shape).astype(dtype)
        elif kind is Fill.POSITIONS and f.high and len(shape):
            out[name] = np.broadcast_to(np.arange(shape[-1]) % f.high, shape).astype(dtype)
        elif kind is Fill.ONES:
            out[name] = np.ones(shape, dtype=dtype)
        else:
            out[name] = np.zeros(shape, dtype=dtype)
    return {name: out[name] for name in specs}


def fills_record(fills: Mapping[str, InputFill]) -> dict[str, dict[str, Any]]:
    """The fills of the non-float inputs as a measurement records them (``extra.input_fill``).

    Parameters
    ----------
    fills : mapping of str to InputFill
        Input name -> its fill (:func:`onnx_input_fills`).

    Returns
    -------
    dict of str to dict
        Input name -> :meth:`InputFill.to_dict`, the float inputs (:attr:`Fill.RANDOM`) left out.
    """
    return {k: f.to_dict() for k, f in fills.items() if f.fill is not Fill.RANDOM}
