"""Cost records and the rule registry keyed by full Relax op name.

Convention, stated once: **one FLOP is one scalar arithmetic operation; a
multiply-accumulate (MAC) is 2 FLOP** (:data:`FLOPS_PER_MAC`). Integer ops are
counted the same way (OPs).

Every op gets exactly one :class:`Status`:

* ``counted``     a rule computed its cost from shapes,
* ``estimated``   no rule; TVM's TIR FLOP estimate of the lowered kernel was used,
* ``zero-cost``   explicitly free (a view, a shape query), with the reason,
* ``symbolic``    a shape is not static, so no number can be given,
* ``unsupported`` nothing covers the op; it is reported, never silently 0.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from hybridperf.ir.tvm_compat import TensorInfo

#: A multiply-accumulate is two floating-point operations.
FLOPS_PER_MAC = 2


class Status(str, enum.Enum):
    COUNTED = "counted"
    ESTIMATED = "estimated"
    ZERO_COST = "zero-cost"
    SYMBOLIC = "symbolic"
    UNSUPPORTED = "unsupported"

    @property
    def counts_toward_time(self) -> bool:
        """An op or kernel in this status is priced (counted or estimated); the others add no time."""
        return self in (Status.COUNTED, Status.ESTIMATED)


@dataclass(frozen=True)
class OpCost:
    """Cost of one op or kernel. Counts are ints; bytes are DRAM traffic assuming
    each distinct input is read once and each output written once.

    Attributes
    ----------
    flops : int
        Arithmetic operations (:data:`FLOPS_PER_MAC` per multiply-accumulate).
    bytes_read, bytes_written : int
        DRAM traffic in and out.
    weight_bytes : int
        The part of ``bytes_read`` that constant inputs (weights) account for.
    float32_bytes_read, float32_bytes_written, float32_weight_bytes : int or None
        The float32 part of each traffic figure, set (all three) only where an op's tensors are not all of
        the dtype its precision label implies: a float32 gather with int64 indices, a float32 ``Where`` on a
        bool mask, a cast between float32 and int64, a weight-only int8 kernel. A precision override re-sizes
        this part and leaves the rest at its own dtype's bytes
        (:func:`hybridperf.estimate.pricing.priced_cost`). None: all of the traffic is float32 for an op
        labelled ``fp32``, none of it for one labelled ``int32``.
    llc_bytes_read, l2_bytes_read : int
        The part of ``weight_bytes`` the last-level cache, or the L2 caches of the cores the device runs on, serve
        rather than DRAM: a recurrent layer's weight that every step re-reads and that cache holds (set by the pricing
        of a CPU whose sheet gives that cache's rate: :func:`hybridperf.estimate.pricing.with_cache_reads`; 0
        everywhere else). The roofline times each at its cache's rate (:func:`hybridperf.estimate.roofline.roofline`).
    """

    flops: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    weight_bytes: int = 0
    float32_bytes_read: int | None = None
    float32_bytes_written: int | None = None
    float32_weight_bytes: int | None = None
    llc_bytes_read: int = 0
    l2_bytes_read: int = 0

    @property
    def has_float32_part(self) -> bool:
        """Whether the float32 part of the traffic is given (the op mixes dtypes) rather than implied by its
        precision label."""
        return self.float32_bytes_read is not None

    @property
    def bytes_total(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def arithmetic_intensity(self) -> float:
        """FLOP per byte of DRAM traffic (0 when nothing moves)."""
        return self.flops / self.bytes_total if self.bytes_total else 0.0

    def __add__(self, other: OpCost) -> OpCost:
        """The sum of two costs; it keeps no float32 part (a sum of ops has no one precision label to read
        the rest by)."""
        return OpCost(
            self.flops + other.flops,
            self.bytes_read + other.bytes_read,
            self.bytes_written + other.bytes_written,
            self.weight_bytes + other.weight_bytes,
            llc_bytes_read=self.llc_bytes_read + other.llc_bytes_read,
            l2_bytes_read=self.l2_bytes_read + other.l2_bytes_read,
        )


@dataclass(frozen=True)
class OpContext:
    """What a cost rule sees: shapes and attributes, never tensors."""

    op: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    const_inputs: tuple[bool, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict)
    #: per input, True where it is the same tensor as an earlier one (``Mul(y, y)``): the rule sees both operands,
    #: the traffic counts it once
    repeated: tuple[bool, ...] = ()

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def distinct_inputs(self) -> list[tuple[TensorInfo, bool]]:
        """Each input tensor once (a repeated operand dropped), with whether it is a constant."""
        consts = self.const_inputs or (False,) * len(self.inputs)
        again = self.repeated or (False,) * len(self.inputs)
        return [(i, c) for i, c, r in zip(self.inputs, consts, again) if not r]

    @property
    def out(self) -> TensorInfo:
        return self.outputs[0]

    @property
    def out_numel(self) -> int:
        return sum(o.numel or 0 for o in self.outputs)

    @property
    def in_bytes(self) -> int:
        return sum(i.nbytes or 0 for i, _ in self.distinct_inputs())

    @property
    def out_bytes(self) -> int:
        return sum(o.nbytes or 0 for o in self.outputs)

    @property
    def weight_bytes(self) -> int:
        return sum(i.nbytes or 0 for i, c in self.distinct_inputs() if c)


@dataclass(frozen=True)
class RuleResult:
    """What a rule returns: FLOPs, and optionally a read-byte override (e.g. gather)."""

    flops: int
    bytes_read: int | None = None
    note: str = ""


Rule = Callable[[OpContext], RuleResult]


@dataclass(frozen=True)
class CountedRule:
    """A registry entry: an op whose cost a rule computes from shapes and attributes."""

    family: str
    rule: Rule

    def __call__(self, ctx: OpContext) -> RuleResult:
        return self.rule(ctx)


@dataclass(frozen=True)
class ZeroCost:
    """A registry entry: an op that truly costs nothing at run time, and why."""

    reason: str
    family: str = "view"


Entry = CountedRule | ZeroCost


def op_cost(ctx: OpContext, result: RuleResult) -> OpCost:
    """The :class:`OpCost` of one op from its rule's result: every input read once (unless the rule
    overrides the read bytes), every output written once, constant inputs counted as weights."""
    return OpCost(
        flops=int(result.flops),
        bytes_read=int(ctx.in_bytes if result.bytes_read is None else result.bytes_read),
        bytes_written=int(ctx.out_bytes),
        weight_bytes=int(ctx.weight_bytes),
    )


class CostRegistry:
    """Table of cost rules keyed by full Relax op name (``relax.nn.conv2d``).

    Registration checks that the op exists in the installed TVM and rejects
    duplicates, so a typo or a TVM rename fails loudly at start-up.
    """

    def __init__(self, check_exists: bool = True):
        self._entries: dict[str, Entry] = {}
        self._check = check_exists
        self._frozen = False

    def _claim(self, name: str) -> None:
        if self._frozen:
            raise RuntimeError("registry is frozen")
        if name in self._entries:
            raise ValueError(f"duplicate cost rule for {name}")
        if self._check:
            from hybridperf.ir.tvm_compat import op_exists

            if not op_exists(name):
                raise ValueError(f"{name} is not an op of the installed TVM")

    def add(self, names: Iterable[str], rule: Rule, family: str) -> None:
        for n in names:
            self._claim(n)
            self._entries[n] = CountedRule(family, rule)

    def zero_cost(self, names: Iterable[str], reason: str) -> None:
        """Allow-list ops that truly cost nothing at run time, with the reason."""
        for n in names:
            self._claim(n)
            self._entries[n] = ZeroCost(reason)

    def freeze(self) -> CostRegistry:
        self._frozen = True
        self._entries = MappingProxyType(self._entries)  # type: ignore[assignment]
        return self

    def entry(self, name: str) -> Entry | None:
        """The op's :class:`CountedRule` or :class:`ZeroCost`; None when it has neither."""
        return self._entries.get(name)

    def rule(self, name: str) -> CountedRule | None:
        e = self._entries.get(name)
        return e if isinstance(e, CountedRule) else None

    def zero_reason(self, name: str) -> str | None:
        e = self._entries.get(name)
        return e.reason if isinstance(e, ZeroCost) else None

    def family(self, name: str) -> str:
        e = self._entries.get(name)
        return e.family if e is not None else "unknown"

    @property
    def counted_ops(self) -> frozenset[str]:
        return frozenset(n for n, e in self._entries.items() if isinstance(e, CountedRule))

    @property
    def zero_cost_ops(self) -> frozenset[str]:
        return frozenset(n for n, e in self._entries.items() if isinstance(e, ZeroCost))

    def __contains__(self, name: str) -> bool:
        return name in self._entries
