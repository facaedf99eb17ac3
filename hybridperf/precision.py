"""Foundation: the closed set of compute precisions and what each implies (imports nothing of
hybridperf). Precisions travel as their plain strings (``"fp16"``); this is where their set, their
fallback chain and the override's storage size are written down once, with the one table of dtype sizes
(:func:`dtype_bits`, :func:`tensor_bytes`).
"""

from __future__ import annotations

import enum
import functools
import re


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
    #: an op label, not a sheet precision nor an override: integer and bool work wider than int8 (int16 to int64
    #: index arithmetic, masks, comparisons of indices), which devices run on their fp32 ALU path
    INT32 = "int32"

    @property
    def is_integer(self) -> bool:
        """Integer math: peaks are OP/s, not FLOP/s."""
        return self in (Precision.INT8, Precision.INT4, Precision.INT32)

    @property
    def rate_unit(self) -> str:
        """The unit of a peak at this precision: ``OP/s`` for integer math, else ``FLOP/s`` (every report's)."""
        return "OP/s" if self.is_integer else "FLOP/s"

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
    # the fp32 ALU runs it; a device with no float unit (an integer NPU) at its int8 rate, an upper bound
    Precision.INT32: ("int32", "fp32", "int8"),
}

#: The precision policy: an override runs float32 ops at that precision and stores float32 tensors
#: (activations, weights, inputs) in this many bytes per element. One table drives latency, traffic,
#: energy, peak memory and the report.
_STORAGE_DTYPES = {Precision.TF32: "float32", Precision.FP16: "float16", Precision.BF16: "bfloat16",
                   Precision.FP8: "float8_e4m3fn", Precision.INT8: "int8"}

#: a dtype name as TVM, numpy and ml_dtypes write it: an optional legacy ``e4m3_`` prefix, the type name, its bit
#: width, an optional format suffix (``_e4m3fn``) and an optional lane count (``x4``)
_DTYPE_NAME = re.compile(r"(?:e\d+m\d+_)?[a-z]+?(\d+)(?:_[a-z0-9]+)?(?:x(\d+))?")


def rate_unit(label: str) -> str:
    """The unit of a peak at the precision ``label``: :attr:`Precision.rate_unit`, and for a label the enum does not
    name (``uint8``) ``OP/s`` where it is an integer type, else ``FLOP/s``; the one rule every report uses."""
    try:
        return Precision(label).rate_unit
    except ValueError:
        return "OP/s" if label.startswith(("int", "uint")) else "FLOP/s"


@functools.cache
def dtype_bits(dtype: str) -> int | None:
    """Bits per element of a dtype name (``float32`` -> 32, ``float8_e4m3fn`` -> 8, ``int4`` -> 4,
    ``float32x4`` -> 128, ``bool`` -> 8 as stored); None for a name with no bit width (``handle``).

    Only the width right after the type name counts: the digits of a format suffix (``e4m3``) are not a width.
    """
    if dtype == "bool":
        return 8
    m = _DTYPE_NAME.fullmatch(dtype)
    if m is None:
        return None
    return int(m.group(1)) * int(m.group(2) or 1)


def tensor_bytes(dtype: str, numel: int) -> int:
    """Bytes ``numel`` elements of ``dtype`` take: sub-byte types packed (``int4``: two per byte, as ONNX and
    ml_dtypes arrays store them), the total rounded up to a whole byte; 0 for a dtype with no bit width."""
    bits = dtype_bits(dtype)
    return 0 if bits is None else (int(numel) * bits + 7) // 8


_STORAGE_BYTES = {p: tensor_bytes(d, 1) for p, d in _STORAGE_DTYPES.items()}

#: every precision a device sheet may list a peak or energy for (and a measured model's dtype), in sheet order;
#: ``int32`` labels ops only
PRECISIONS: tuple[str, ...] = tuple(p.value for p in Precision if p is not Precision.INT32)

#: the precisions a ``--precision`` override (CLI, budget files, API) may choose
OVERRIDES: tuple[str, ...] = tuple(p.value for p in _STORAGE_BYTES)


def alu_precision(precision: str) -> str:
    """The precision whose arithmetic path runs an op labelled ``precision``: ``fp32`` for ``int32`` (integer
    element-wise work runs beside float32 work, e.g. in the fp32 operator data of the zero-shot model), else
    ``precision`` itself."""
    return Precision.FP32.value if precision == Precision.INT32.value else precision


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


def stored_bytes(dtype: str, nbytes: int, precision: str | None) -> int:
    """Bytes a tensor of ``dtype`` takes under the precision override (:attr:`Precision.storage_bytes`): a float32
    tensor shrinks or grows with it, any other dtype keeps its bytes."""
    if precision is None or dtype != "float32":
        return nbytes
    return nbytes * storage_bytes(precision) // 4


#: ``exp(x)`` is a float32 subnormal (below 2**-126, about 1.18e-38, and not 0) for x in this open interval:
#: (ln 2**-149, ln 2**-126) = (-103.28, -87.34). A mask of -100 before a softmax lands there (Swin's shifted windows);
#: -10000, ``-inf`` or the dtype's minimum give exact zeros (:mod:`hybridperf.analysis.subnormal`)
EXP_SUBNORMAL_WINDOW = (-149 * 0.6931471805599453, -126 * 0.6931471805599453)


#: the most entries of a constant read (or a placeholder kept) as a mask in that window: Swin-T's largest is 64
#: windows x 49 x 49 = 153,664, the Hugging Face Swin-T's kept placeholder 115,248 (the cost pass,
#: :mod:`hybridperf.analysis.subnormal`, and the ONNX import, ``frontends.onnx_import._hp_keep_mask``)
SUBNORMAL_MASK_ELEMENTS = 1 << 24


def exp_subnormal_entries(values) -> int:
    """Entries of ``values`` (a float array) whose ``exp`` is a float32 subnormal (:data:`EXP_SUBNORMAL_WINDOW`);
    0 for an integer array."""
    import numpy as np

    v = np.asarray(values)
    if v.dtype.kind != "f":
        return 0
    lo, hi = EXP_SUBNORMAL_WINDOW
    return int(np.count_nonzero((v > lo) & (v < hi)))

