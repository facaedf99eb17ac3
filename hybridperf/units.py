"""Foundation: units, shapes and messages shared by every stage (imports nothing of hybridperf
but :mod:`hybridperf.errors`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from hybridperf.errors import InputError

#: unit -> (quantity, factor to the SI base unit): the one table that device sheets and budgets read.
#: A spelling with "µ" is an alias of the "u" one and is not listed in messages (see :func:`units_of`).
UNITS: Mapping[str, tuple[str, float]] = MappingProxyType(
    {
        "FLOP/s": ("compute", 1.0),
        "GFLOP/s": ("compute", 1e9),
        "TFLOP/s": ("compute", 1e12),
        "PFLOP/s": ("compute", 1e15),
        "OP/s": ("compute", 1.0),
        "GOPS": ("compute", 1e9),
        "TOPS": ("compute", 1e12),
        "POPS": ("compute", 1e15),
        "B/s": ("bandwidth", 1.0),
        "MB/s": ("bandwidth", 1e6),
        "GB/s": ("bandwidth", 1e9),
        "TB/s": ("bandwidth", 1e12),
        "MiB/s": ("bandwidth", 2.0**20),
        "GiB/s": ("bandwidth", 2.0**30),
        "B": ("capacity", 1.0),
        "KB": ("capacity", 1e3),
        "MB": ("capacity", 1e6),
        "GB": ("capacity", 1e9),
        "TB": ("capacity", 1e12),
        "KiB": ("capacity", 2.0**10),
        "MiB": ("capacity", 2.0**20),
        "GiB": ("capacity", 2.0**30),
        "TiB": ("capacity", 2.0**40),
        "s": ("time", 1.0),
        "ms": ("time", 1e-3),
        "us": ("time", 1e-6),
        "µs": ("time", 1e-6),
        "ns": ("time", 1e-9),
        "W": ("power", 1.0),
        "mW": ("power", 1e-3),
        "J": ("energy", 1.0),
        "mJ": ("energy", 1e-3),
        "uJ": ("energy", 1e-6),
        "µJ": ("energy", 1e-6),
        "nJ": ("energy", 1e-9),
        "pJ": ("energy", 1e-12),
        "fJ": ("energy", 1e-15),
        "Hz": ("frequency", 1.0),
        "MHz": ("frequency", 1e6),
        "GHz": ("frequency", 1e9),
        # counts (compute_units): the unit names what is counted; all are plain integers
        "SM": ("count", 1.0),
        "CU": ("count", 1.0),
        "core": ("count", 1.0),
        "lanes": ("count", 1.0),
    }
)


def bytes_text(n: float) -> str:
    """Bytes with binary prefixes and two decimals (``1.50 GiB``, ``512.00 KiB``); under 1 KiB a whole number
    (``512 B``): :func:`hybridperf.report.format.fmt_bytes`, and the messages made below the report layer (a
    capacity warning read ``0.00 GiB exceeds 0.00 GiB`` for a device of a few hundred KiB until 2026-12-03)."""
    for factor, prefix in ((2**30, "Gi"), (2**20, "Mi"), (2**10, "Ki")):
        if abs(n) >= factor:
            return f"{n / factor:.2f} {prefix}B"
    return f"{int(n)} B"


def units_of(quantity: str, aliases: bool = False) -> tuple[str, ...]:
    """The units of one quantity (``"time"``, ``"capacity"``, ...) in table order; the "µ"
    aliases only with ``aliases=True``."""
    return tuple(u for u, (q, _) in UNITS.items() if q == quantity and (aliases or "µ" not in u))


_DIMS = r"\d+(?:[x,]\d+)*"


def parse_dims(text: str) -> tuple[int, ...] | None:
    """``"1x3x224x224"`` (or ``"1,3,224,224"``) -> ``(1, 3, 224, 224)``; None when not of that form.
    The one shape syntax of ``--shape`` flags, budget files and the Python API."""
    m = re.fullmatch(rf"\s*({_DIMS})\s*", text)
    return tuple(int(d) for d in re.split("[x,]", m.group(1))) if m else None


def numel(dims: Iterable[int]) -> int:
    """Elements of a tensor of shape ``dims`` (1 for a scalar's ``()``), as a Python int: the one element count of
    every stage (:attr:`hybridperf.ir.tvm_compat.TensorInfo.numel` is this of a static shape)."""
    n = 1
    for d in dims:
        n *= int(d)
    return n


def dims_text(dims: Sequence[int]) -> str:
    """``"1x3x224x224"``; ``"scalar"`` for a shape without dimensions (it read ``x=`` before 2026-12-03)."""
    return "x".join(map(str, dims)) if len(dims) else "scalar"


def shapes_text(shapes: Mapping[str, Sequence[int]]) -> str:
    """``"x=1x3x224x224, mask=1x128"``: input shapes as the CLI writes them."""
    return ", ".join(f"{k}={dims_text(v)}" for k, v in shapes.items())


def check_shape_flags(inputs: Mapping[str, Sequence[int | str] | None], shapes: Mapping[str, Iterable[int]] | None,
                      batch: int | None) -> dict[str, tuple[int, ...]]:
    """``--shape`` / ``--batch`` checked against a model's ``inputs`` (name -> dims: an int for a fixed dim, a str
    for a symbolic one; None: rank unknown): names, positive dims, rank, fixed dims. Returns the shapes as int tuples.
    Shared by the analysis and ``measure`` (whose onnxruntime run took a zero dim, and said only "failed in the
    worker" for a wrong rank or a fixed dim, until 2026-12-03).

    Raises
    ------
    InputError
        The first problem, with the flag that fixes it.
    """
    shapes = {k: tuple(int(d) for d in v) for k, v in (shapes or {}).items()}
    for n in shapes:
        if n not in inputs:
            raise InputError(f"--shape names unknown input {n!r}; the model's inputs are {', '.join(inputs) or '(none)'}")
    if batch is not None and batch <= 0:
        raise InputError(f"--batch must be a positive integer, got {batch}")
    for n, s in shapes.items():
        if any(d <= 0 for d in s):
            raise InputError(f"--shape {n}={dims_text(s)} has a non-positive dim; every dim must be >= 1")
    for n, want in shapes.items():
        dims = inputs[n]
        if dims is not None and len(dims) != len(want):
            raise InputError(f"--shape {n}={dims_text(want)} has rank {len(want)} but the model's input has rank "
                             f"{len(dims)} ({dims_text(dims)})")
        for i, (d, w) in enumerate(zip(dims or [], want)):
            if isinstance(d, int) and d > 0 and d != w:
                raise InputError(f"--shape {n}: dim {i} is fixed to {d} in the model, cannot bind it to {w}; "
                                 "re-export the model with a dynamic axis")
    return shapes


def check_batch_taken(batch: int | None, in_shapes: Mapping[str, Sequence[int]],
                      shapes: Mapping[str, Sequence[int]] | None = None) -> None:
    """Refuse a ``--batch`` that no input's leading dimension took (``in_shapes``: the inputs as bound): every figure
    would be for another batch, and ``check`` would judge a budget on it (until 2026-12-03 a warning, and
    ``annotate`` / ``measure`` ignored it silently). ``shapes``: the ``--shape`` bindings, which may have set it.

    Raises
    ------
    InputError
        One line naming the fix.
    """
    if batch is None or not in_shapes or any(s and s[0] == batch for s in in_shapes.values()):
        return
    text = shapes_text(in_shapes)
    if shapes and any(name in in_shapes for name in shapes):
        raise InputError(f"--batch {batch} disagrees with the shapes bound ({text}): drop --batch, or give the batch "
                         "in --shape")
    raise InputError(f"--batch {batch} cannot be applied: no input has a symbolic batch dim ({text}); drop --batch "
                     "(these shapes are fixed), or re-export the model with a dynamic batch axis")


def parse_shape_flags(flags: list[str] | None) -> dict[str, tuple[int, ...]]:
    """Parse ``["x=1x3x224x224", "mask=1x128"]`` into a dict of shapes."""
    out: dict[str, tuple[int, ...]] = {}
    for flag in flags or []:
        name, _, dims = flag.partition("=")
        shape = parse_dims(dims) if name.strip() and not any(c.isspace() for c in name.strip()) else None
        if shape is None:
            raise InputError(f"bad --shape {flag!r}: write NAME=DxDxD, e.g. --shape input=1x3x224x224")
        if name.strip() in out and out[name.strip()] != shape:  # the last one won silently until 2026-12-03
            raise InputError(f"--shape {name.strip()} given twice ({dims_text(out[name.strip()])} and "
                             f"{dims_text(shape)}); give each input one shape")
        out[name.strip()] = shape
    return out
