"""Foundation: the closed set of compute precisions and what each implies (imports nothing of
hybridperf). Precisions travel as their plain strings (``"fp16"``); this is where their set, their
fallback chain and the override's storage size are written down once.
"""

from __future__ import annotations

import enum


class Precision(str, enum.Enum):
    """A compute precision, as device sheets, cost records and ``--precision`` name it."""

    FP64 = "fp64"
    FP32 = "fp32"
    TF32 = "tf32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8 = "fp8"
    INT8 = "int8"
    INT4 = "int4"

    @property
    def is_integer(self) -> bool:
        """Integer math: peaks are OP/s, not FLOP/s."""
        return self in (Precision.INT8, Precision.INT4)

    @property
    def fallback(self) -> tuple[str, ...]:
        """This precision, then where a device without a peak for it runs it, in order."""
        return _FALLBACK[self]

    @property
    def storage_bytes(self) -> int | None:
        """Bytes per element of a float32 tensor under a ``precision`` override to this one
        (``tf32`` is a compute mode: 4 B); None where no override may choose it."""
        return _STORAGE_BYTES.get(self)


_FALLBACK = {
    Precision.FP64: ("fp64", "fp32"),
    Precision.FP32: ("fp32",),
    Precision.TF32: ("tf32", "fp32"),
    Precision.FP16: ("fp16", "bf16", "fp32"),
    Precision.BF16: ("bf16", "fp16", "fp32"),
    Precision.FP8: ("fp8", "int8", "fp16", "bf16", "fp32"),
    Precision.INT8: ("int8", "fp16", "fp32"),
    Precision.INT4: ("int4", "int8", "fp16", "fp32"),
}

#: The precision policy: an override runs float32 ops at that precision and stores float32 tensors
#: (activations, weights, inputs) in this many bytes per element. One table drives latency, traffic,
#: energy, peak memory and the report.
_STORAGE_BYTES = {Precision.TF32: 4, Precision.FP16: 2, Precision.BF16: 2, Precision.FP8: 1, Precision.INT8: 1}

#: every precision name, in sheet order
PRECISIONS: tuple[str, ...] = tuple(p.value for p in Precision)

#: the precisions a ``--precision`` override (CLI, budget files, API) may choose
OVERRIDES: tuple[str, ...] = tuple(p.value for p in _STORAGE_BYTES)


def fallback_chain(precision: str) -> tuple[str, ...]:
    """:attr:`Precision.fallback` of a precision name; an unknown name falls back to nothing."""
    try:
        return Precision(precision).fallback
    except ValueError:
        return (precision,)


def storage_bytes(precision: str) -> int:
    """:attr:`Precision.storage_bytes` of an override's name (raises KeyError for a precision no override may choose)."""
    size = Precision(precision).storage_bytes
    if size is None:
        raise KeyError(precision)
    return size
