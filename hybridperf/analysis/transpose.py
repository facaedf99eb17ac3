"""Transposes that move the innermost axis other than as a 2-D transpose: the one data movement whose time per
element a roofline of its bytes cannot see.

onnxruntime's CPU ``Transpose`` copies contiguous runs where the last input axis stays last, and runs a blocked 2-D
transpose where only the last two axes swap; any other permutation that moves the last input axis is copied element
by element. Measured on a Zen 4 and a Sapphire Rapids Xeon (``benchmarks/results/transpose_cost.md``: every profiled
Transpose of 88 configurations), per float32 element: 0.31-0.46 ns keeping the innermost axis, 0.51-0.68 ns as a 2-D
transpose, 3.35-3.86 ns otherwise, with 1 and 2 threads alike. MaxViT's window partitions (channels sent last through
a 6-D view) and MobileViT's patch unfolding (``(B, C, N, P) -> (B, P, N, C)``) are of the last kind.

The class is read off the permutation in canonical form (:func:`canonical`: size-1 axes dropped, axes that stay
adjacent merged), so a view that only looks like a transpose (``(0, 2, 1, 3)`` of ``1 x 8 x 1 x 4``) moves nothing.
The cost pass counts the input elements of each Relax ``permute_dims`` of the class
(:attr:`~hybridperf.analysis.cost_pass.OpRecord.innermost_transpose_elements`); what an element costs is a figure of
the host (:attr:`~hybridperf.device.spec.DeviceSpec.innermost_transpose_s_per_element`, ``hybridperf probe``). The
``permute_dims`` of an ONNX DepthToSpace or SpaceToDepth is not counted: onnxruntime runs those with kernels of their
own (1.80 and 0.29 ns per element on the Zen 4, :data:`hybridperf.frontends.onnx_import.OWN_KERNEL_OPS`).
Pure functions of shapes (:func:`hybridperf.units.numel` counts the elements).
"""

from __future__ import annotations

from collections.abc import Sequence

from hybridperf.units import numel

#: the classes, by where the last input axis goes (:func:`transpose_class`)
KEEPS = "keeps the innermost axis"
SWAPS = "swaps the last two axes (2-D transpose)"
MOVES = "moves the innermost axis otherwise"


def canonical(shape: Sequence[int], perm: Sequence[int]) -> tuple[int, ...]:
    """The permutation with size-1 axes dropped and runs of axes that stay adjacent merged (e.g. a (0, 2, 1, 3)
    transpose of a 1 x 8 x 1 x 4 tensor is the identity, ``()``; (0, 2, 3, 1) of 2 x 3 x 4 x 5 is (0, 2, 1))."""
    keep = [a for a in perm if shape[a] != 1]
    order = sorted(keep)
    p = [order.index(a) for a in keep]
    groups: list[list[int]] = []
    for a in p:
        if groups and a == groups[-1][-1] + 1:
            groups[-1].append(a)
        else:
            groups.append([a])
    firsts = sorted(g[0] for g in groups)
    q = tuple(firsts.index(g[0]) for g in groups)
    return () if q == tuple(range(len(q))) else q


def transpose_class(shape: Sequence[int], perm: Sequence[int] | None) -> str | None:
    """:data:`KEEPS`, :data:`SWAPS` or :data:`MOVES` by the canonical form; ``None`` for a transpose that moves no
    element (the identity in canonical form). ``perm`` None: the axes reversed (ONNX's and Relax's default)."""
    perm = tuple(reversed(range(len(shape)))) if perm is None else tuple(perm)
    q = canonical(shape, perm)
    if not q:
        return None
    r = len(q)
    if q[-1] == r - 1:
        return KEEPS
    return SWAPS if q == (*range(r - 2), r - 1, r - 2) else MOVES


def innermost_elements(shape: Sequence[int] | None, perm: Sequence[int] | None) -> int:
    """Input elements of a transpose of ``shape`` by ``perm`` of the class :data:`MOVES`; 0 for any other (or a shape
    that is not static)."""
    if not shape or any(not isinstance(d, int) for d in shape):
        return 0
    return numel(shape) if transpose_class(shape, perm) == MOVES else 0


#: the probe's pair (``hybridperf probe``): MaxViT-T's window partition, and the same tensor with a permutation that
#: keeps the innermost axis (the same elements and bytes); the figure is the difference of their times per element
PROBE_SHAPE = (1, 64, 8, 7, 8, 7)
PROBE_MOVES = (0, 2, 4, 3, 5, 1)
PROBE_KEEPS = (0, 1, 3, 2, 4, 5)

__all__ = ["KEEPS", "MOVES", "PROBE_KEEPS", "PROBE_MOVES", "PROBE_SHAPE", "SWAPS", "canonical", "innermost_elements",
           "transpose_class"]
