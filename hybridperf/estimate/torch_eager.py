"""Which kernels eager PyTorch launches for a Relax graph: one home for the latency and the memory models.

A model imported from an ONNX export has one Relax op per ONNX node; eager PyTorch (and a CUDA graph
captured from it) launches one kernel per op, except:

* **views** (:data:`TORCH_VIEW_OPS`): ``view`` / ``reshape`` of a contiguous tensor, ``squeeze`` /
  ``unsqueeze`` / ``flatten``, ``expand``, basic slicing, ``split`` / ``chunk`` return a view of their first
  input: no kernel, no block. With the records' shapes and dtypes (:func:`views`) also ``torch.permute``,
  and ``expand`` only when no ``reshape`` follows (cuBLAS and element-wise kernels read the strided view as is;
  a ``reshape`` of it copies, e.g. ``repeat_kv``), ``x[i]`` (``take`` of one index) and a cast to the dtype the
  tensor already has (``Tensor.to`` returns ``self``);
* **host-side values** (:func:`host_side`): shape arithmetic (ops whose every variable input comes from
  ``shape_of``: Python ints in PyTorch) and ops on scalar constants only;
* **activation functions written out** (:func:`activation_groups`): ``F.gelu``, ``F.silu``, ``hardswish``,
  ``hardsigmoid`` and ``ReLU6`` run as one kernel each (``GeluCUDAKernelImpl``, ``silu_kernel``,
  ``hardswish_kernel``, ...); an ONNX export followed by Relax import writes them as 2-5 element-wise ops.
  The chain's last op stands for the kernel: it reads the activation's input once and writes once.

Used by :func:`hybridperf.residual.zero_shot.launches` (one launch per kernel) and
:func:`hybridperf.estimate.runtime_memory.torch_eager_activation_bytes` (one block per kernel output).
Imports nothing above :mod:`hybridperf.estimate`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hybridperf.units import numel

#: Relax ops whose PyTorch eager counterpart returns a view of its first input (``view``/``reshape`` of a
#: contiguous tensor, ``squeeze``/``unsqueeze``/``flatten``, ``expand``, slicing, ``split``/``chunk``): no kernel,
#: no block
TORCH_VIEW_OPS = frozenset({"relax.reshape", "relax.squeeze", "relax.expand_dims", "relax.flatten",
                            "relax.broadcast_to", "relax.strided_slice", "relax.split", "relax.memory.view"})

#: Relax ops that are element-wise (each output element from the same-index input elements and constants)
ELEMENTWISE_OPS = frozenset({"relax.add", "relax.subtract", "relax.multiply", "relax.divide", "relax.power",
                             "relax.sigmoid", "relax.erf", "relax.tanh", "relax.exp", "relax.sqrt", "relax.negative",
                             "relax.clip", "relax.minimum", "relax.maximum", "relax.nn.relu"})
#: ops that mark an element-wise chain as one of PyTorch's activation functions: ``erf`` (``F.gelu``, exported as
#: ``x * 0.5 * (1 + erf(x / sqrt 2))``), ``sigmoid`` (``F.silu``: ``x * sigmoid(x)``), ``clip`` (``hardsigmoid`` /
#: ``hardswish``: ``x * clip(x + 3, 0, 6) / 6``), ``maximum`` / ``minimum`` (``ReLU6`` with tensor bounds).
#: ``tanh`` is deliberately not one: a tanh chain is usually written out in Python (GPT-2's ``gelu_new``) and runs as
#: one kernel per op in eager PyTorch.
ACTIVATION_MARKERS = frozenset({"relax.erf", "relax.clip", "relax.sigmoid", "relax.maximum", "relax.minimum"})
#: TIR functions the ONNX importer emits for ``Clip`` with tensor bounds (``ReLU6``: maximum then minimum);
#: the cost pass names them in the note (``TVM TIR estimate of maximum``, ``... maximum1``, ...)
_TIR_POINTWISE = re.compile(r"TVM TIR estimate of (maximum|minimum)\d*$")
#: views whose ``reshape`` copies (a strided, not contiguous, result): the copy kernel is charged to them
_COPY_WHEN_RESHAPED = frozenset({"relax.permute_dims", "relax.broadcast_to"})
#: ops that ``shape_of`` starts: shape arithmetic, which PyTorch does in Python on the host
_SHAPE_SOURCES = frozenset({"relax.shape_of", "relax.shape_to_tensor"})


@dataclass(frozen=True)
class EagerOp:
    """One op as eager PyTorch runs it: one kernel, its outputs allocated before it runs.

    ``var`` names the result, ``input_vars`` the activations it reads (weights are not listed),
    ``output_bytes`` one entry per output tensor, ``workspace_bytes`` a temporary block held while
    the kernel runs (cuDNN / cuBLAS scratch outside the kept workspace), ``view``: eager PyTorch returns the
    result as a view of its first input (:func:`views`): no kernel, no block of its own.
    """

    op: str
    var: str
    input_vars: tuple[str, ...]
    output_bytes: tuple[int, ...]
    workspace_bytes: int = 0
    view: bool = False


def pointwise_op(op: str, note: str = "") -> str:
    """The Relax op a record computes: ``op``, or for a ``call_tir`` of a known TIR function the op its note names."""
    m = _TIR_POINTWISE.match(note) if op == "relax.call_tir" else None
    return f"relax.{m.group(1)}" if m else op


def eager_ops(records: Iterable[Any], precision: str | None = None) -> list[EagerOp]:
    """:class:`EagerOp` of each analysed Relax op (:class:`hybridperf.analysis.cost_pass.OpRecord`), float32
    tensors stored as ``precision`` says (``model.half()`` for ``fp16``); a ``call_tir`` of a known element-wise
    TIR function is named by its op (:func:`pointwise_op`); ``view`` as :func:`views` says (a cast to the dtype the
    tensor has is free only without a precision override, or under ``fp32``)."""
    from hybridperf.precision import stored_bytes

    records = list(records)
    view_vars = views(records, same_dtype_casts_free=precision in (None, "fp32"))
    out = []
    for r in records:
        sizes = tuple(stored_bytes(t.dtype, t.nbytes or 0, precision) for t in r.outputs)
        reads = tuple(getattr(r, "read_vars", ()) or r.input_vars)
        out.append(EagerOp(pointwise_op(r.op, getattr(r, "note", "")), r.var, reads, sizes, view=r.var in view_vars))
    return out


def host_side(records: Sequence[Any]) -> set[str]:
    """Variables of analysed records that PyTorch computes on the host (no kernel): shape arithmetic (ops whose
    every variable input comes from ``shape_of``: Python ints) and ops on scalar constants only."""
    host: set[str] = set()
    for r in records:
        if r.op in _SHAPE_SOURCES:
            host.add(r.var)
        elif r.input_vars and all(v in host for v in r.input_vars):
            host.add(r.var)
        elif not r.input_vars and r.inputs and all(numel(i.shape or ()) <= 1 for i in r.inputs):
            host.add(r.var)  # scalar constants (tuple inputs such as concat's list no variables: not this rule)
    return host


def views(records: Sequence[Any], same_dtype_casts_free: bool = True) -> set[str]:
    """Variables of analysed records that eager PyTorch returns as views (no kernel; see the module docstring).

    ``same_dtype_casts_free``: a cast to the dtype the tensor already has is free (no precision override; under
    one, an fp32-to-fp32 cast of the exported graph is the fp16 model's real up-cast).
    """
    consumers: dict[str, list[str]] = {}
    for r in records:
        for v in r.input_vars:
            consumers.setdefault(v, []).append(r.op)
    out: set[str] = set()
    for r in records:
        if not r.input_vars:
            continue  # a view of a weight: PyTorch uses the weight as stored
        if r.op in _COPY_WHEN_RESHAPED:
            if "relax.reshape" not in consumers.get(r.var, ()):
                out.add(r.var)
        elif r.op in TORCH_VIEW_OPS:
            out.add(r.var)
        elif r.op == "relax.take" and len(r.inputs) == 2 and numel(r.inputs[1].shape or ()) == 1:
            out.add(r.var)
        elif (same_dtype_casts_free and r.op == "relax.astype" and r.inputs and r.outputs
              and r.inputs[0].dtype == r.outputs[0].dtype):
            out.add(r.var)
    return out


def activation_groups(ops: Sequence[EagerOp], skip: Iterable[str] = frozenset()) -> dict[str, tuple[int, ...]]:
    """Chains of element-wise ops that compute one PyTorch activation function of one tensor.

    A chain is grown around a marker op (:data:`ACTIVATION_MARKERS`): backwards through single-input
    element-wise producers used only by the chain, forwards through element-wise consumers whose inputs are
    the chain's values or its input ``x``; every op of a chain has the same output size. Vars in ``skip``
    (host-side values, :func:`host_side`; what else a caller does not count as a tensor input) are not
    counted. Returns ``{var of the chain's last op: positions in ops}`` for chains of two ops or more, whose
    values other than the last are read only inside the chain; the others compute nothing of their own. A
    marker whose chain reads a tensor other than its own input (a squeeze-excitation gate ``x * sigmoid(s)``)
    stays alone.
    """
    skip = frozenset(skip)
    pos = {o.var: i for i, o in enumerate(ops)}
    consumers: dict[str, list[int]] = {}
    for i, o in enumerate(ops):
        for v in dict.fromkeys(o.input_vars):
            consumers.setdefault(v, []).append(i)

    def live(o: EagerOp) -> list[str]:
        return [v for v in o.input_vars if v not in skip]

    out: dict[str, tuple[int, ...]] = {}
    taken: set[str] = set()
    for t, top in enumerate(ops):
        if top.op not in ACTIVATION_MARKERS or top.var in taken or top.var in skip or not any(top.output_bytes):
            continue
        size = top.output_bytes
        chain = [t]
        while True:  # backwards: a single-input element-wise producer used only by the chain's head
            vs = live(ops[chain[0]])
            if len(vs) != 1 or vs[0] not in pos:
                break
            p = pos[vs[0]]
            po = ops[p]
            if (po.op not in ELEMENTWISE_OPS or po.var in taken or len(consumers.get(po.var, ())) != 1
                    or po.output_bytes != size or len(live(po)) != 1):
                break
            chain.insert(0, p)
        x = live(ops[chain[0]])
        if len(x) != 1:
            continue
        allowed = {x[0], *(ops[i].var for i in chain)}
        while True:  # forwards: the tail's only consumer, if it combines chain values and x only
            cs = consumers.get(ops[chain[-1]].var, ())
            if len(cs) != 1:
                break
            c = ops[cs[0]]
            if c.op not in ELEMENTWISE_OPS or c.var in taken or c.output_bytes != size \
                    or not all(v in allowed or v in skip for v in c.input_vars):
                break
            chain.append(cs[0])
            allowed.add(c.var)
        # every value but the tail's must stay inside the chain
        if len(chain) < 2 or any(any(ops[c].var not in allowed for c in consumers.get(ops[i].var, ()))
                                 for i in chain[:-1]):
            continue
        taken.update(ops[i].var for i in chain)
        out[ops[chain[-1]].var] = tuple(chain)
    return out


def chain_input(ops: Sequence[EagerOp], chain: Sequence[int], skip: Iterable[str] = frozenset()) -> str:
    """The tensor an activation chain of :func:`activation_groups` reads (its head's one input)."""
    return next(v for v in ops[chain[0]].input_vars if v not in frozenset(skip))


def fuse_torch_activations(ops: Sequence[EagerOp],
                           groups: Mapping[str, tuple[int, ...]] | None = None) -> list[EagerOp]:
    """``ops`` with each :func:`activation_groups` chain collapsed into its last op (one PyTorch kernel reading x).

    Every op of a chain but the last reads and allocates nothing; the last reads ``x`` only.
    """
    ops = list(ops)
    groups = activation_groups(ops) if groups is None else groups
    fused: dict[int, EagerOp] = {}
    for chain in groups.values():
        x = chain_input(ops, chain)
        for i in chain[:-1]:
            fused[i] = EagerOp(ops[i].op, ops[i].var, (), ())
        last = ops[chain[-1]]
        fused[chain[-1]] = EagerOp(last.op, last.var, (x,), last.output_bytes, last.workspace_bytes)
    return [fused.get(i, o) for i, o in enumerate(ops)]


__all__ = ["ACTIVATION_MARKERS", "ELEMENTWISE_OPS", "EagerOp", "TORCH_VIEW_OPS", "activation_groups", "chain_input",
           "eager_ops", "fuse_torch_activations", "host_side", "pointwise_op", "views"]
