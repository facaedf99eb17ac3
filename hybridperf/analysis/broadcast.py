"""Element-wise ops that broadcast over many short spans: a time per span that neither the roofline (the bytes of
the operands and the result, :mod:`hybridperf.costs.elementwise`) nor the learned CPU models see.

onnxruntime 1.32's CPU ``Add``, ``Sub``, ``Mul`` and ``Div`` run a broadcast one *span* at a time: the innermost run
of output axes over which each operand either varies or repeats the same way (an operand of shape ``(r, 1)`` against
``(r, 16)`` repeats one value over spans of 16; ``(r, 16)`` against ``(1, 16)`` repeats a row), at a fixed cost per
span besides the work of its elements. Timed 2026-12-07 on a Zen 4, lone nodes of 2^19 float32 outputs (plan (26) of
CHANGELOG 2026-12-07): about 9 ns a span more than the same op without broadcast with 1 thread (8.5-10.4 ns for
spans of 4 to 48, a value or a row repeated alike; Mamba's ``(1, 512, 1, 16) x (1, 512, 64, 1)``: 10.5 ns), about 4.5
ns with 2 threads; spans of 256 or more cost nothing measurable. The learned CPU models' training rows broadcast over
short spans only a few thousand spans an op (squeeze-and-excitation scales over the 7 x 7 maps of the last stages),
so they price such an op as the element-wise work of its bytes: Mamba's discretisation broadcasts a value over each
16-element state, three ops of 32,768 spans a layer.

The cost pass counts the spans of each record of :data:`BROADCAST_OPS` where they are short and many
(:func:`short_spans`: shorter than :data:`SHORT_SPAN_ELEMENTS` elements, at least :data:`MANY_SPANS` of them in one
op); what a span costs beyond the op's work is a figure of the host
(:attr:`~hybridperf.device.spec.DeviceSpec.broadcast_s_per_span`, ``hybridperf probe``;
:func:`hybridperf.estimate.pricing.with_short_broadcasts`). Pure functions of records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: the figure of a CPU sheet's ``broadcast`` (seconds per span): the extra time onnxruntime's CPU binary element-wise
#: kernels take per broadcast span beyond the same op without broadcast
BROADCAST_KEYS = ("span",)
#: the Relax ops ONNX ``Add``, ``Sub``, ``Mul`` and ``Div`` become (TVM's importer), whose onnxruntime kernels
#: broadcast one span at a time
BROADCAST_OPS = frozenset({"relax.add", "relax.subtract", "relax.multiply", "relax.divide"})
#: the element type counted: what the probe times; the integer broadcasts of the graphs measured are index
#: arithmetic on shapes (Longformer's scatter indices), which onnxruntime folds where the shapes are static
COUNTED_DTYPE = "float32"
#: a span shorter than this many elements is short: the Zen 4's 9 ns a span is at least about as much as the work of
#: its elements there (0.16 ns an element); longer spans, such as a per-channel scale over a 14 x 14 map or an
#: attention mask's rows, cost nothing measurable beyond their elements
SHORT_SPAN_ELEMENTS = 64
#: an op counts where it runs at least this many short spans (37 us at the Zen 4's 1-thread figure): fewer, such as
#: the squeeze-and-excitation scales of the training rows, are below what any prediction resolves
MANY_SPANS = 4096

__all__ = ["BROADCAST_KEYS", "BROADCAST_OPS", "COUNTED_DTYPE", "MANY_SPANS", "SHORT_SPAN_ELEMENTS", "broadcast_spans", "counted_spans",
           "short_spans"]


def broadcast_spans(a_shape: Sequence[Any] | None, b_shape: Sequence[Any] | None) -> tuple[int, int] | None:
    """(spans, elements a span) of a binary element-wise op of operands ``a_shape`` and ``b_shape`` (numpy
    broadcasting); None where a shape is not static or the op does not broadcast (every operand varies over the whole
    output, or one repeats a single value over all of it: one span).

    Output axes of length 1 are dropped; from the innermost axis outwards, the span takes every axis over which each
    operand varies or repeats as over the innermost one: ``broadcast_spans((1, 512, 1, 16), (1, 512, 64, 1))`` is
    ``(512 * 64, 16)``, ``broadcast_spans((8, 1), (8, 16))`` is ``(8, 16)``."""
    if a_shape is None or b_shape is None:
        return None
    a, b = list(a_shape), list(b_shape)
    if not all(isinstance(d, int) for d in a + b):
        return None
    rank = max(len(a), len(b))
    a, b = [1] * (rank - len(a)) + a, [1] * (rank - len(b)) + b
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        return None  # not broadcastable: the importer would have refused it
    axes = [(max(x, y), x == 1, y == 1) for x, y in zip(a, b) if max(x, y) > 1]
    if not axes:
        return None
    _, *pattern = axes[-1]
    span = 1
    for n, *p in reversed(axes):
        if p != pattern:
            break
        span *= n
    total = math.prod(n for n, *_ in axes)
    if span == total:
        return None  # one span: no broadcast, or a single value over the whole output
    return total // span, span


def counted_spans(records: Sequence[Any]) -> dict[int, int]:
    """Record index -> the short spans it runs, for the records that count (:func:`short_spans`'s rule).

    A record of :data:`BROADCAST_OPS` counts where it runs with a :data:`COUNTED_DTYPE` output, broadcasts (:func:`broadcast_spans`) over at least
    :data:`MANY_SPANS` spans shorter than :data:`SHORT_SPAN_ELEMENTS` elements, and is not a bias onnxruntime folds
    into the product before it: an ``add`` of a constant to the result of a ``matmul`` or a convolution (TVM's
    importer splits the bias of ``Conv`` and ``Gemm`` off as such an ``add``, the constant sometimes reshaped;
    onnxruntime's convolution and its ``MatMul`` + ``Add`` fusion add it inside the product's kernel)."""
    producers = {r.var: r.op for r in records}
    constant = set()  # vars computed from constants alone (a reshaped bias)
    for r in records:
        if all(v in constant for v in r.input_vars):
            constant.add(r.var)
    out: dict[int, int] = {}
    for n, r in enumerate(records):
        if (r.op not in BROADCAST_OPS or not r.counts_toward_time or len(r.inputs) != 2 or not r.outputs
                or r.outputs[0].dtype != COUNTED_DTYPE):
            continue
        got = broadcast_spans(r.inputs[0].shape, r.inputs[1].shape)
        if got is None or got[1] >= SHORT_SPAN_ELEMENTS or got[0] < MANY_SPANS:
            continue
        varying = [v for v in r.input_vars if v not in constant]
        if r.op == "relax.add" and len(varying) == 1 and _is_product(producers.get(varying[0], "")):
            continue  # a bias the product's kernel adds
        out[n] = got[0]
    return out


def _is_product(op: str) -> bool:
    return op == "relax.matmul" or op.startswith("relax.nn.conv")


def short_spans(records: Sequence[Any]) -> tuple[int, int]:
    """(ops, spans) over the records that run of the binary element-wise ops that broadcast over at least
    :data:`MANY_SPANS` spans shorter than :data:`SHORT_SPAN_ELEMENTS` elements each (:func:`counted_spans`)."""
    counted = counted_spans(records)
    return len(counted), sum(counted.values())
