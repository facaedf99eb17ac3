"""Matrix products: ``(..., M, K) @ (..., K, N)`` costs ``2 x M x N x K`` per batch."""

from __future__ import annotations

import math

from hybridperf.costs.registry import FLOPS_PER_MAC, CostRegistry, OpContext, RuleResult


def matmul(ctx: OpContext) -> RuleResult:
    """MACs = output elements x K, with K the last axis of the left operand."""
    a = ctx.inputs[0]
    k = a.shape[-1]
    return RuleResult(FLOPS_PER_MAC * ctx.out.numel * k)


def einsum(ctx: OpContext) -> RuleResult:
    """MACs of two operands = product of the sizes of every distinct index, times the broadcast
    ``...`` dims; three or more operands are contracted pairwise, and cost the sum of the pairs' MACs.
    One operand has no product: summing an index away costs an add per element visited, a permutation
    or diagonal (``ij->ji``, ``ii->i``) nothing.

    An index's size is read from the operand axes it labels, wherever ``...`` stands in the term
    (``"...id"``, ``"i...d"``); the ``...`` dims of all operands broadcast together (right-aligned,
    1 against n gives n), so an operand without batch dims does not shrink the count.

    Runtimes never run a chain as one loop over every index (``2 * i*j*k*l`` for ``ij,jk,kl->il``):
    ``torch.einsum`` contracts two operands at a time along opt_einsum's path ('auto': the optimal one up to
    four operands, greedy beyond), the order ``numpy.einsum_path`` computes with the same cost model
    (:func:`_einsum_path`); ``ij,jk,kl->il`` costs ``2*i*j*k + 2*i*k*l``. onnxruntime contracts left to right,
    the same pairs on a chain. Bytes stay inputs + output: the intermediates are not counted.
    """
    terms, sizes = _einsum_terms(ctx.attr("subscripts"), [tuple(t.shape) for t in ctx.inputs])
    if len(terms) == 2:  # one operand: a sum over the indices the output drops, else a copy (ij->ji, ii->i)
        return RuleResult(_lone_sum(terms[0], terms[1], sizes[0]))
    if len(terms) - 1 <= 2:
        return RuleResult(FLOPS_PER_MAC * math.prod(_merge(sizes).values()))
    macs = 0
    ops = list(zip(terms[:-1], sizes))
    for step in _einsum_path(terms, sizes):
        group = [ops[i] for i in step]
        ops = [o for i, o in enumerate(ops) if i not in step]
        later = {c for t, _ in ops for c in t} | set(terms[-1])
        (cur, cur_sizes), rest = group[0], group[1:]
        if not rest and set(cur) - later:  # a lone operand summed over an index
            macs += math.prod(cur_sizes.values())
        for k, (t, sz) in enumerate(rest):  # a step of more than two operands: pairwise, left to right
            merged = _merge([cur_sizes, sz])
            macs += math.prod(merged.values())
            keep = later | {c for t2, _ in rest[k + 1 :] for c in t2}
            cur = "".join(c for c in dict.fromkeys(cur + t) if c in keep)
            cur_sizes = {c: merged[c] for c in cur}
        keep = "".join(c for c in cur if c in later)
        ops.append((keep, {c: cur_sizes[c] for c in keep}))
    note = f"einsum: {len(terms) - 1} operands contracted pairwise"
    return RuleResult(FLOPS_PER_MAC * macs, note=note)


def _lone_sum(term: str, keep: str, sizes: dict[str, int]) -> int:
    """FLOPs of one operand reduced on its own: one add per element visited where an index is summed away (as
    ``relax.sum`` counts), none where every index is kept (a permutation or a diagonal is a copy)."""
    return math.prod(sizes.values()) if set(term) - set(keep) else 0


def _einsum_terms(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], list[dict[str, int]]]:
    """The input terms and the output term of ``subscripts`` with ``...`` spelled out as letters the
    equation does not use (right-aligned across operands), and each operand's index sizes."""
    lhs, arrow, rhs = subscripts.replace(" ", "").partition("->")
    terms = lhs.split(",")
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in subscripts]
    n_ell = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes) if "..." in t), default=0)
    ell = "".join(free[:n_ell])
    spelled, sizes = [], []
    for term, shape in zip(terms, shapes):
        head, dots, tail = term.partition("...")
        n = len(shape) - len(head) - len(tail) if dots else 0
        t = head + ell[n_ell - n :] + tail if dots else term
        sz: dict[str, int] = {}
        for c, d in zip(t, shape):
            sz[c] = max(sz.get(c, 1), int(d))
        spelled.append(t)
        sizes.append(sz)
    if arrow:
        out = rhs.replace("...", ell)
    else:  # implicit output: the broadcast dims, then the labels used once, in alphabetical order
        counts = "".join(terms).replace("...", "")
        out = ell + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    return spelled + [out], sizes


def _merge(sizes: list[dict[str, int]]) -> dict[str, int]:
    """Each index's size across operands (1 against n gives n)."""
    out: dict[str, int] = {}
    for sz in sizes:
        for c, d in sz.items():
            out[c] = max(out.get(c, 1), d)
    return out


def _einsum_path(terms: list[str], sizes: list[dict[str, int]]) -> list[tuple[int, ...]]:
    """Contraction steps (positions in the list of pending operands; each result goes last), as
    ``numpy.einsum_path`` finds them with opt_einsum's 'auto' choice: optimal up to four operands, greedy
    beyond, no limit on intermediates. Left to right where numpy cannot spell the equation."""
    import numpy as np  # noqa: PLC0415

    n = len(terms) - 1
    letters = set("".join(terms))
    if not letters <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"):
        return [(0, 1)] * (n - 1)
    stand_ins = [np.broadcast_to(np.zeros((), np.float32), tuple(sz[c] for c in t)) for t, sz in zip(terms, sizes)]
    equation = ",".join(terms[:-1]) + "->" + terms[-1]
    path, _ = np.einsum_path(equation, *stand_ins, optimize=("optimal" if n <= 4 else "greedy", float(2**62)))
    return [tuple(step) for step in path[1:]]


def outer(ctx: OpContext) -> RuleResult:
    return RuleResult(ctx.out.numel)


def register(reg: CostRegistry) -> None:
    reg.add(["relax.matmul"], matmul, "matmul")
    reg.add(["relax.einsum"], einsum, "matmul")
    reg.add(["relax.outer"], outer, "matmul")
