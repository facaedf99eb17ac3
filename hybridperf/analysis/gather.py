"""Gathers that copy many short blocks: a time per copied block that neither the roofline (the bytes of the index and
of the rows it selects, :func:`hybridperf.costs.data_movement.gather`) nor the learned CPU models see.

onnxruntime 1.32's CPU ``Gather`` copies one block per index and per position before the gathered axis (a block is
everything after that axis: one element where it gathers along the innermost axis), at a fixed cost per block besides
the copy of its bytes. Timed 2026-12-07 on a Zen 4 with 1 thread, lone nodes gathering 2^20 float32 elements along
axis 0 (``benchmarks/results/gather_blocks.md``): 7.7 ns an element in blocks of one element, 2.0 in blocks of 4, 0.69
in blocks of 16, 0.50 in blocks of 256, against 0.41 for a copy-like ``Neg``; along an inner axis alike (ConvBERT's
unfolding, blocks of one element: 7.4 ns). The learned CPU models' training rows hold gathers of short blocks only a
few dozen blocks at a time (the positions of BERT-like embeddings, the folded relative-position tables of Swin and
ViT), so they price such a gather as a copy of its bytes: ConvBERT's span convolutions unfold their input with two
such ``Gather`` nodes a layer, 12.9 of 29.8 ms on the Zen 4, priced 0.4 ms.

The cost pass counts the blocks each Relax ``take`` copies (:func:`take_blocks`) where they are short and many
(:func:`short_blocks`: shorter than :data:`SHORT_BLOCK_ELEMENTS` elements, at least :data:`MANY_BLOCKS` of them in
one op); what a block costs beyond a copy of its elements is a figure of the host
(:attr:`~hybridperf.device.spec.DeviceSpec.gather_s_per_block`, ``hybridperf probe``;
:func:`hybridperf.estimate.pricing.with_short_gathers`). Pure functions of records.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

#: the figure of a CPU sheet's ``gather`` (seconds per block): the extra time onnxruntime's CPU ``Gather`` takes per
#: copied block beyond a copy of the block's elements
GATHER_KEYS = ("block",)
#: the Relax op an ONNX ``Gather`` becomes (TVM's importer: ``relax.take(data, indices, axis)``)
GATHER_OP = "relax.take"
#: a block shorter than this many elements is short: the Zen 4's fixed cost of a block (7.3 ns) is at least a quarter
#: of its copy's time there (0.45 ns an element: ``gather_blocks.md``); longer blocks, such as the rows of every
#: embedding table of the training rows (64 elements or more), are priced as copies
SHORT_BLOCK_ELEMENTS = 64
#: a gather counts where one op copies at least this many short blocks (30 us at the Zen 4's 1-thread figure):
#: fewer, such as the gathers of shape values and of BERT's few positions, are below what any prediction resolves
MANY_BLOCKS = 4096

__all__ = ["GATHER_KEYS", "GATHER_OP", "MANY_BLOCKS", "SHORT_BLOCK_ELEMENTS", "record_blocks", "short_blocks", "take_blocks"]


def take_blocks(data_shape: Sequence[Any] | None, indices_shape: Sequence[Any] | None,
                axis: int | None) -> tuple[int, int] | None:
    """(blocks copied, elements a block) of a ``take`` of ``data_shape`` by ``indices_shape`` along ``axis`` (None:
    the data flattened, one element a block); None where a shape is not static or the axis is out of range.

    A block is what follows the axis; one is copied per index and per position before the axis:
    ``take_blocks((2, 5, 3), (4,), 1)`` is ``(2 * 4, 3)``."""
    if data_shape is None or indices_shape is None:
        return None
    dims, idx = list(data_shape), list(indices_shape)
    if not all(isinstance(d, int) for d in dims + idx):
        return None
    if axis is None:
        return math.prod(idx), 1
    if not -len(dims) <= axis < len(dims):
        return None
    axis %= len(dims)
    return math.prod(dims[:axis]) * math.prod(idx), math.prod(dims[axis + 1:])


def record_blocks(record: Any) -> int:
    """The short blocks one record copies where it counts (:func:`short_blocks`'s rule), else 0."""
    if record.op != GATHER_OP or not record.counts_toward_time or len(record.inputs) < 2:
        return 0
    axis = record.attrs.get("axis", 0)
    got = take_blocks(record.inputs[0].shape, record.inputs[1].shape, None if axis is None else int(axis))
    if got is None:
        return 0
    blocks, block = got
    return blocks if block < SHORT_BLOCK_ELEMENTS and blocks >= MANY_BLOCKS else 0


def short_blocks(records: Iterable[Any]) -> tuple[int, int]:
    """(gathers, blocks) over the records that run of the ``take`` ops that copy at least :data:`MANY_BLOCKS` blocks
    shorter than :data:`SHORT_BLOCK_ELEMENTS` elements each."""
    counted = [n for n in (record_blocks(r) for r in records) if n]
    return len(counted), sum(counted)
