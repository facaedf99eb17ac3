"""Depthwise 1-D convolutions: onnxruntime on a CPU runs them far from the roofline, and no learned CPU model was
trained on one.

onnxruntime turns 2-D convolutions into its blocked NCHWc kernels; a 1-D convolution whose groups hold one input
channel each (groups = input channels) runs as one small matrix product per channel: 0.15-0.21 ns per multiply-add
with stride 1 and 0.38-0.43 ns with stride 2 on a Zen 4 with 1 thread, 0.24-0.34 / 0.53-0.55 ns for the transposed
convolution, 2.3 to 20 times their roofline with 1 thread and 1.2 to 33 times with 2
(``benchmarks/results/depthwise_conv1d.md``: lone nodes; BigVGAN's anti-aliased activations, a Conformer's convolution module, Mamba's causal convolution). The learned
CPU models' training rows hold depthwise convolutions in 2-D only, which onnxruntime runs fast.

A kernel holding one is of :data:`DEPTHWISE_1D_FAMILY`, an op family no learned model was trained on (priced at its
roofline by them, :func:`hybridperf.analysis.recurrent.kernel_families`); the cost pass counts each one's
multiply-adds and output elements by class (:func:`depthwise_work`: transposed or not, stride 1 or more), which a
CPU sheet's ``depthwise_conv1d`` figures price (seconds per multiply-add and per output, ``hybridperf probe``;
:func:`hybridperf.estimate.pricing.with_depthwise_conv1d`). Pure functions of records.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: the classes of a depthwise 1-D convolution: a convolution (``conv``) or transposed convolution (``transpose``)
#: whose groups hold one input channel each, with stride 1 or above it (``_strided``)
DEPTHWISE_CONV1D_CLASSES = ("conv", "conv_strided", "transpose", "transpose_strided")
#: the figures of a CPU sheet's ``depthwise_conv1d``: onnxruntime's time per multiply-add (``<class>_mac``) and per
#: output element (``<class>_output``) of each class, seconds
DEPTHWISE_CONV1D_KEYS = tuple(f"{c}_{part}" for c in DEPTHWISE_CONV1D_CLASSES for part in ("mac", "output"))
#: the op family a kernel holding a depthwise 1-D convolution has besides its ops' (never trained on)
DEPTHWISE_1D_FAMILY = "depthwise_conv1d"
#: Relax op -> the class's stem (its key in a sheet's ``depthwise_conv1d``; ``_strided`` where a stride is above 1)
_OPS = {"relax.nn.conv1d": "conv", "relax.nn.conv1d_transpose": "transpose"}

__all__ = ["DEPTHWISE_1D_FAMILY", "DEPTHWISE_CONV1D_CLASSES", "DEPTHWISE_CONV1D_KEYS", "depthwise_key", "depthwise_work",
           "priced_s"]


def depthwise_key(record: Any) -> str | None:
    """The class (:data:`DEPTHWISE_CONV1D_CLASSES`) of a Relax 1-D convolution or transposed
    convolution whose groups hold one input channel each, None for any other op (or a shape that is not static)."""
    stem = _OPS.get(record.op)
    if stem is None or not record.inputs or record.inputs[0].shape is None:
        return None
    groups = int(record.attrs.get("groups", 1) or 1)
    layout = str(record.attrs.get("data_layout") or "NCW")
    if groups <= 1 or "C" not in layout or record.inputs[0].shape[layout.index("C")] != groups:
        return None
    strided = any(int(s) > 1 for s in record.attrs.get("strides") or (1,))
    return f"{stem}_strided" if strided else stem


def depthwise_work(records: Iterable[Any]) -> dict[str, tuple[int, int]]:
    """(multiply-adds (FLOPs / 2), output elements) per class of the depthwise 1-D convolutions among ``records`` that
    run, in the sheet's order; classes with none are left out."""
    out: dict[str, tuple[int, int]] = {}
    for r in records:
        key = depthwise_key(r) if r.counts_toward_time else None
        if key is not None:
            macs, outputs = out.get(key, (0, 0))
            out[key] = (macs + int(r.cost.flops) // 2, outputs + (r.outputs[0].numel or 0))
    return {k: out[k] for k in DEPTHWISE_CONV1D_CLASSES if k in out}


def priced_s(work: dict[str, tuple[int, int]], figures: Any) -> float:
    """The time of ``work`` (:func:`depthwise_work`) at a sheet's ``depthwise_conv1d`` figures (seconds per
    ``<class>_mac`` and ``<class>_output``; every one ``work`` needs is given: the caller checks)."""
    return sum(m * figures[f"{k}_mac"] + o * figures[f"{k}_output"] for k, (m, o) in work.items())
