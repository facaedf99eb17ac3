"""Subnormal values a model makes itself: an additive mask of about -100 before a softmax.

A float32 below 2**-126 (about 1.18e-38) is *subnormal*. ``exp(x)`` is subnormal for ``x`` in
(ln 2**-149, ln 2**-126) = (-103.28, -87.34), so a softmax whose scores had a constant of that size added
(Swin's shifted-window attention masks with -100; ``exp(-100)`` = 3.7e-44) writes subnormal probabilities where
the mask is, and the matrix product that reads them (attention x values) multiplies subnormal operands. Masks of
-10000, ``-inf`` or the dtype's minimum give exact zeros instead, and a mask above -87.34 normal numbers. x86
cores take a microcode assist for such an operand unless flush-to-zero / denormals-are-zero are set; how much it
costs is a figure of the host (:attr:`~hybridperf.device.spec.DeviceSpec.subnormal_mac_s`), what the model does
is counted here, by the cost pass, from the graph alone:

* :func:`window_entries` (:func:`hybridperf.precision.exp_subnormal_entries`): the entries of a constant that fall in the window (candidates: the scores added to them
  move the exponent by a few units, so an entry is an estimate, not a certainty; on torchvision's Swin-T with
  random inputs every masked entry came out subnormal, the share :mod:`hybridperf.measure.subnormal` counted);
* the count follows the data through the ops of :data:`CARRY_OPS` (views and adds, scaled by broadcasting) to a
  softmax (:data:`SOFTMAX_OPS`), whose output entries are the candidates, and on to the matrix products
  (:data:`MATMUL_OPS`) that read them: each candidate entry of the left operand is multiplied by the N columns of
  the right one (N multiply-adds), of the right operand by the M rows of the left.

Imports: :mod:`hybridperf.precision` (the window, :func:`window_entries`, which the ONNX import also uses to keep a
mask folded with a weight left on disk); numpy where a constant is read (``import hybridperf`` stays free of it).
"""

from __future__ import annotations

from collections.abc import Sequence

from hybridperf.precision import EXP_SUBNORMAL_WINDOW, SUBNORMAL_MASK_ELEMENTS, exp_subnormal_entries as window_entries

#: Relax ops that carry candidate entries to their float32 output unchanged (views, a cast to float32: Hugging Face's
#: attention casts its probabilities to their own dtype) or adding (a broadcasting add)
CARRY_OPS = frozenset({"relax.reshape", "relax.permute_dims", "relax.expand_dims", "relax.squeeze",
                       "relax.flatten", "relax.astype", "relax.add"})
#: the most entries of a constant the cost pass reads for a mask (:data:`hybridperf.precision.SUBNORMAL_MASK_ELEMENTS`,
#: the bound of the import's kept placeholders too)
MASK_ELEMENTS = SUBNORMAL_MASK_ELEMENTS
#: Relax ops whose output holds the candidates as values
SOFTMAX_OPS = frozenset({"relax.nn.softmax"})
#: Relax ops that multiply-add their operands
MATMUL_OPS = frozenset({"relax.matmul"})


def broadcast_share(count: float, numel_in: int | None, numel_out: int | None) -> float:
    """``count`` entries of an operand of ``numel_in`` entries, as entries of a broadcast output of ``numel_out``."""
    if not count or not numel_in or not numel_out:
        return 0.0
    return count * max(numel_out / numel_in, 1.0)


def matmul_macs(count_a: float, count_b: float, out_shape: Sequence[int] | None) -> int:
    """Multiply-adds of a matrix product that read a candidate entry: each one of the left operand meets the N
    columns of the right, each one of the right the M rows of the left (``out_shape``: ``(..., M, N)``)."""
    if not out_shape or len(out_shape) < 2:
        return 0
    m, n = int(out_shape[-2]), int(out_shape[-1])
    return int(round(count_a * n + count_b * m))


__all__ = ["CARRY_OPS", "EXP_SUBNORMAL_WINDOW", "MASK_ELEMENTS", "MATMUL_OPS", "SOFTMAX_OPS", "broadcast_share", "matmul_macs",
           "window_entries"]
