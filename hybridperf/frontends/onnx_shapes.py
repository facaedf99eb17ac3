"""Output shapes of ONNX and onnxruntime operators from their input shapes and attributes.

The one home of that arithmetic: the ONNX frontend's constant folding asks it for the onnxruntime contrib ops
that onnx's shape inference does not know (:func:`hybridperf.frontends.contrib.output_shapes`), and the
onnxruntime memory model for the ops of onnxruntime's optimised graph
(:mod:`hybridperf.estimate.runtime_memory`). Shapes are lists of ints; a shape the operator cannot take raises
(``ValueError`` from numpy's broadcasting, ``IndexError`` / ``KeyError`` on a missing axis or attribute): each
caller decides what an unknown shape is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["broadcast", "conv_shape", "conv_spatial", "fused_matmul_shape", "gemm_shape", "matmul_shape"]


def broadcast(*shapes: Sequence[int]) -> list[int]:
    """numpy's broadcast of ``shapes`` (``ValueError`` where they do not broadcast)."""
    import numpy as np

    return list(np.broadcast_shapes(*(tuple(s) for s in shapes)))


def matmul_shape(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """numpy ``matmul`` output shape (a 1-D operand is promoted, then its axis dropped)."""
    a2, b2 = ([1, *a] if len(a) == 1 else list(a)), (list(b) + [1] if len(b) == 1 else list(b))
    out = [*broadcast(a2[:-2], b2[:-2]), a2[-2], b2[-1]]
    if len(b) == 1:
        out.pop(-1)
    if len(a) == 1:
        out.pop(-2 if len(b) != 1 else -1)
    return out


def fused_matmul_shape(a: Sequence[int], b: Sequence[int], attrs: Mapping[str, Any]) -> list[int]:
    """onnxruntime ``FusedMatMul``: :func:`matmul_shape` of ``a`` and ``b``, each with its last two axes swapped
    under ``transA`` / ``transB``."""
    a, b = list(a), list(b)
    if attrs.get("transA", 0) and len(a) >= 2:
        a[-1], a[-2] = a[-2], a[-1]
    if attrs.get("transB", 0) and len(b) >= 2:
        b[-1], b[-2] = b[-2], b[-1]
    return matmul_shape(a, b)


def gemm_shape(a: Sequence[int], b: Sequence[int], attrs: Mapping[str, Any]) -> list[int]:
    """(M, N) of a Gemm of 2-D ``a`` and ``b`` with ``transA`` / ``transB``."""
    return [a[1] if attrs.get("transA", 0) else a[0], b[0] if attrs.get("transB", 0) else b[1]]


def conv_spatial(x: Sequence[int], kernel: Sequence[int], attrs: Mapping[str, Any]) -> list[int]:
    """The spatial output sizes of a convolution or pool over NC... ``x`` with ``kernel``: per axis
    ``(size + pads - dilation * (k - 1) - 1) // stride + 1`` (rounded up under ``ceil_mode``), ``ceil(size /
    stride)`` under ``auto_pad`` ``SAME_*``, no padding under ``VALID``."""
    sp = list(x[2:])
    nd = len(sp)
    strides = attrs.get("strides") or [1] * nd
    dil = attrs.get("dilations") or [1] * nd
    pads = attrs.get("pads") or [0] * (2 * nd)
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    out = []
    for i, d in enumerate(sp):
        ek = (kernel[i] - 1) * dil[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out.append(-(-d // strides[i]))
        elif auto_pad == "VALID":
            out.append((d - ek) // strides[i] + 1)
        else:
            num = d + pads[i] + pads[i + nd] - ek
            out.append((-(-num // strides[i]) if attrs.get("ceil_mode", 0) else num // strides[i]) + 1)
    return out


def conv_shape(x: Sequence[int], w: Sequence[int], attrs: Mapping[str, Any]) -> list[int]:
    """(N, M, spatial...) of a convolution of ``x`` by weights ``w`` (M, C/group, k...), (N, spatial..., M) with
    ``channels_last`` (com.microsoft)."""
    if attrs.get("channels_last", 0):
        return [x[0], *conv_spatial([x[0], x[-1], *x[1:-1]], w[2:], attrs), w[0]]
    return [x[0], w[0], *conv_spatial(x, w[2:], attrs)]
