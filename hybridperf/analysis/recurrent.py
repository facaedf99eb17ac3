"""The weights a recurrent layer re-reads every step (ONNX LSTM / GRU / RNN, unrolled by
:mod:`hybridperf.frontends.recurrent`).

Each step of an unrolled layer multiplies its state by the same recurrent weight ``R`` (GRU without
``linear_before_reset``: two slices of it). The cost pass counts that weight as DRAM traffic at every step, as it
counts every kernel's weights. A CPU's last-level cache holds it from one step to the next where it fits, and
onnxruntime then re-reads it at the LLC's rate: on the Zen 4 development host a ``[1, k] x [k, 2k]`` MatMul re-reads
a 2-16 MiB weight at 65-78 GB/s with one thread against 26-33 GB/s from DRAM (plan (15) of CHANGELOG 2026-12-07);
Parakeet's RNN-T decoder, 128 such products of a 6.25 MiB weight, was predicted 2.6x too slow before.

:func:`with_rereads` marks each step product after a layer's first of each weight (per direction): the bytes it
re-reads (:attr:`~hybridperf.analysis.cost_pass.OpRecord.reread_weight_bytes`) and the bytes a step of that layer
reads in weights (``reread_set_bytes``: what the cache must hold). Whether the LLC serves them (where they fit
it), and at what rate, is the device's (:func:`hybridperf.estimate.pricing.llc_share`,
:func:`~hybridperf.estimate.pricing.with_cache_reads`). Only recurrent layers are marked: a weight other
kernels share (ALBERT's layers) is priced from DRAM, as the learned models were trained.

The unrolling writes a ``split`` of each step's gate block into its gates and of the sequence's input product into
its steps; the runtime's kernel reads those blocks in place (onnxruntime's ``LSTM`` / ``GRU`` / ``RNN``, cuDNN's
layers), so :func:`with_rereads` makes them views (:data:`SPLIT_VIEW_NOTE`; plan (18a) of CHANGELOG 2026-12-07:
a copy of the gate block a step, 31 of the 398 us a 128-unit LSTM over 64 steps was priced at on Zen 4, against
259 us measured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from hybridperf.analysis.depthwise1d import DEPTHWISE_1D_FAMILY, depthwise_key
from hybridperf.analysis.cost_pass import ModelAnalysis, OpRecord
from hybridperf.costs.registry import OpCost, Status

__all__ = ["PRODUCT_OP", "RECURRENT_FAMILY", "SPLIT_VIEW_NOTE", "kernel_families", "with_rereads"]

#: the op family a learned CPU model sees in a kernel of an unrolled recurrent layer (:func:`kernel_families`): no
#: training row holds one, so the model prices such kernels at their roofline (with the LLC rate of the re-read
#: weights), which matched onnxruntime's LSTM nodes within 2-6 % on Zen 4 (plan (15b) of CHANGELOG 2026-12-07),
#: where its learned correction of other kernels added 30-50 %
RECURRENT_FAMILY = "recurrent"

#: the Relax op of a recurrent layer's matrix products (the input product and each step's)
PRODUCT_OP = "relax.matmul"
#: the Relax op the unrolling cuts a gate block (or the input product) with
_SPLIT = "relax.split"
#: the note of a ``split`` of an unrolled recurrent layer, a view (zero cost)
SPLIT_VIEW_NOTE = "a view: the recurrent layer's kernel reads this block in place"


def with_rereads(analysis: ModelAnalysis, recurrent_vars: Mapping[str, tuple[str, int]]) -> ModelAnalysis:
    """``analysis`` with the re-reads of its recurrent layers' weights marked.

    Parameters
    ----------
    analysis : ModelAnalysis
        The cost pass's analysis.
    recurrent_vars : mapping of str to (str, int)
        Binding var -> (recurrent node, its directions):
        :attr:`~hybridperf.frontends.common.LoadedModel.recurrent_vars`.

    Returns
    -------
    ModelAnalysis
        The same analysis where no var is a recurrent node's; else each record of one names its node
        (``recurrent_node``), its ``split`` records are views (zero cost, :data:`SPLIT_VIEW_NOTE`), and the step
        products after the first
        ``directions`` of each (node, weight shape) group carry ``reread_weight_bytes`` (their weight's bytes) and
        ``reread_set_bytes`` (the weights one step of that node reads: one product of each group that re-reads).
    """
    if not recurrent_vars:
        return analysis
    analysis = replace(analysis, records=tuple(_in_layer(r, recurrent_vars[r.var][0]) if r.var in recurrent_vars
                                               else r for r in analysis.records))
    groups: dict[tuple[str, tuple], list[int]] = {}
    for k, r in enumerate(analysis.records):
        if r.op != PRODUCT_OP or r.var not in recurrent_vars or not r.cost.weight_bytes or not r.counts_toward_time:
            continue
        groups.setdefault((recurrent_vars[r.var][0], tuple(i.shape for i in r.inputs)), []).append(k)
    rereads: dict[int, int] = {}
    step_set: dict[str, int] = {}
    for (node, _), members in groups.items():
        # one first read per direction; the records do not say which direction's weight a product reads (both are
        # the same size), so a bidirectional layer's second forward step stands for the reverse direction's first:
        # the bytes re-read per layer, and so the layer's time, are exact; those two kernels are priced as each other
        first = recurrent_vars[analysis.records[members[0]].var][1]
        again = members[first:]
        if not again:  # a product once per direction (the input product X W^T): no re-read
            continue
        weight = analysis.records[members[0]].cost.weight_bytes
        step_set[node] = step_set.get(node, 0) + weight
        for k in again:
            rereads[k] = weight
    if not rereads:
        return analysis
    records = tuple(replace(r, reread_weight_bytes=rereads[k], reread_set_bytes=step_set[recurrent_vars[r.var][0]])
                    if k in rereads else r for k, r in enumerate(analysis.records))
    return replace(analysis, records=records)


def _in_layer(record: OpRecord, node: str) -> OpRecord:
    """``record``, unrolled from the recurrent ``node``: named so, and a view where it is a ``split``."""
    if record.op == _SPLIT and record.counts_toward_time:
        return replace(record, recurrent_node=node, status=Status.ZERO_COST, cost=OpCost(), note=SPLIT_VIEW_NOTE)
    return replace(record, recurrent_node=node)


def kernel_families(records: Sequence[OpRecord], op_indices: Sequence[int]) -> frozenset[str]:
    """The op families a learned model sees in a kernel of ``records[op_indices]``: its ops' cost families,
    :data:`RECURRENT_FAMILY` where one of them was unrolled from a recurrent node, and
    :data:`~hybridperf.analysis.depthwise1d.DEPTHWISE_1D_FAMILY` where one is a depthwise 1-D convolution (since
    2026-12-07: neither was in any training row)."""
    fams = {records[j].family for j in op_indices}
    if any(records[j].recurrent_node for j in op_indices):
        fams.add(RECURRENT_FAMILY)
    if any(depthwise_key(records[j]) is not None for j in op_indices):
        fams.add(DEPTHWISE_1D_FAMILY)
    return frozenset(fams)
