"""Foundation: units, shapes and messages shared by every stage (imports nothing of hybridperf
but :mod:`hybridperf.errors`): the one units table (:data:`UNITS`), the one reading of a number with a unit in text
(:func:`split_quantity`), the one SI formatter (:func:`format_si`, which :mod:`hybridperf.report.format` hands on) and
the one shape syntax.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType

from hybridperf.errors import InputError, did_you_mean

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
        "kJ": ("energy", 1e3),  # since 2026-12-04 (`--max-energy 2kJ` was an unknown unit)
        "J": ("energy", 1.0),
        "mJ": ("energy", 1e-3),
        "uJ": ("energy", 1e-6),
        "µJ": ("energy", 1e-6),
        "nJ": ("energy", 1e-9),
        "pJ": ("energy", 1e-12),
        "fJ": ("energy", 1e-15),
        # watt-hours (since 2026-12-04): how batteries and per-query LLM energy are quoted (0.3 Wh a query); a kWh
        # limit past 0.28 is over the largest energy limit (hybridperf.estimate.budget.LARGEST), and says so (a
        # "kWh" left out of this table was offered "Wh", a thousand times less)
        "kWh": ("energy", 3.6e6),
        "Wh": ("energy", 3600.0),
        "mWh": ("energy", 3.6),
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


#: a number as text: a sign, digits (with Python's single ``_`` between two), a fraction, an exponent
_NUMBER = r"[-+]?(?:[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)(?:[eE][-+]?[0-9]+)?"
#: the number, then a unit that starts with a letter (``GB/s``, ``µs``, ``msec``), blanks around and between allowed
_QUANTITY = re.compile(rf"\s*(?P<number>{_NUMBER})\s*(?P<unit>[^\W\d_].*?)?\s*", re.DOTALL)


def split_quantity(text: str) -> tuple[str, str] | None:
    """``"600 GB/s"`` -> ``("600", "GB/s")``, ``"20ms"`` -> ``("20", "ms")``, ``"3e13"`` -> ``("3e13", "")``; None
    for text that does not start with a number or goes on with something other than a unit (``"fast"``,
    ``"1,000 ms"``). The one reading of a number with a unit in text: a budget's limit
    (:func:`hybridperf.estimate.budget.parse_limit`) and a sheet value written as text (which
    :mod:`hybridperf.device.spec` refuses, naming the ``value`` and ``unit`` to write). The unit is not checked
    against :data:`UNITS`, and the number text (which :class:`float` and :class:`fractions.Fraction` read) may be
    negative: each caller says what is wrong with its own words."""
    m = _QUANTITY.fullmatch(text)
    return (m["number"], m["unit"] or "") if m else None


#: decimal multiples (FLOP, FLOP/s, B and B/s on datasheets)
DECIMAL: Sequence[tuple[float, str]] = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
#: the unit and its decimal sub-multiples (seconds, joules)
SUBMULTIPLE: Sequence[tuple[float, str]] = ((1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"))


def si_prefix(value: float, prefixes: Sequence[tuple[float, str]], below: tuple[float, str] = (1.0, ""),
              shown: Callable[[float, float], float] | None = None) -> tuple[float, str]:
    """The first ``(factor, prefix)`` of ``prefixes`` (largest first) that ``|value|`` reaches, else ``below``: the
    prefix choice of :func:`format_si`, :func:`bytes_text` and every formatter of :mod:`hybridperf.report.format`.

    Parameters
    ----------
    value : float
        The figure.
    prefixes : sequence of (float, str)
        ``(factor, prefix)``, largest factor first.
    below : (float, str)
        What a figure under every factor takes; where its factor is under the last one, it is the rung below it.
    shown : callable, optional
        ``shown(value, factor)``: the number the formatter writes for ``value`` at ``factor`` (its own rounding).
        With it a figure that rounds up to the next prefix (1000 of it, 1024 of a binary one) reads at that prefix:
        ``999.96 us`` written to four digits is ``1 ms``, not ``1000 us`` (it was, in :func:`format_si`, until
        2026-12-05).
    """
    ladder = [*prefixes, below] if below[0] < prefixes[-1][0] else list(prefixes)
    i = next((i for i, (factor, _) in enumerate(prefixes) if abs(value) >= factor), None)
    if i is None:
        if below not in ladder:
            return below
        i = ladder.index(below)
    while shown is not None and i and abs(shown(value, ladder[i][0])) >= round(ladder[i - 1][0] / ladder[i][0]):
        i -= 1
    return ladder[i]


#: a figure that reaches this many of its largest prefix (``1e4 TFLOP``, ``1e4 s``, ``1e4 EiB``) prints in scientific
#: notation in its base unit (:func:`scientific`): until 2026-12-04 a latency of a year read ``31536000.000 s`` and a
#: count ``147573952.590 TFLOP``, digit strings nobody reads at a glance. Four digits stay in full (``2500.000 TFLOP``).
SCIENTIFIC_FROM = 1e4
#: a nonzero figure under this much of its smallest prefix (``1e-5 ns``) prints in scientific notation too
SCIENTIFIC_BELOW = 1e-4


def scientific(value: float, digits: int = 4) -> str:
    """``5.708e7``, ``-1.0e-15``: ``value`` with ``digits`` significant digits and the exponent written plainly
    (Python's ``5.708e+07``): the one scientific notation of every formatter here and in
    :mod:`hybridperf.report.format`."""
    mantissa, _, exponent = f"{value:.{max(digits, 1) - 1}e}".partition("e")
    return f"{mantissa}e{int(exponent)}"


def _plain_exponent(text: str) -> str:
    """``"3e+07"`` -> ``"3e7"``, ``"1.5e-12"`` -> ``"1.5e-12"``: the exponent of a ``g`` format as :func:`scientific`
    writes it."""
    mantissa, e, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if e else text


def format_si(value: float | None, unit: str, digits: int = 4, sep: str = " ") -> str:
    """``19.5e12, "FLOP/s"`` -> ``"19.5 TFLOP/s"``: ``digits`` significant digits, decimal prefixes
    (bytes too, as datasheets do); seconds take sub-multiples, ``pJ`` and ``W`` none; ``sep`` goes
    between number and unit (``""`` for axis ticks); None is ``-``. A figure with more integer digits than
    ``digits`` at its largest prefix, or below the smallest, is written in scientific notation in the base unit
    (``1e20 FLOP/s``, ``3.2e7 s``, ``1.5e-12 s``; ``1e+05 PFLOP/s`` until 2026-12-04), and one that rounds up to
    1000 of its prefix at the next (``999960 B`` is ``1 MB``, ``0.00099999 s`` ``1 ms``: ``1000 kB`` and ``1000 us``
    until 2026-12-05). The one SI formatter: the reports' (:mod:`hybridperf.report.format`) and the messages made
    below the report layer."""
    if value is None:
        return "-"

    def shown(v: float, factor: float) -> float:
        return float(f"{v / factor:.{digits}g}")

    if unit == "s":
        factor, prefix = si_prefix(value, SUBMULTIPLE, shown=shown)
    elif unit in ("pJ", "W"):
        factor, prefix = 1.0, ""
    else:
        factor, prefix = si_prefix(value, DECIMAL, shown=shown)
    text = f"{value / factor:.{digits}g}"
    if "e" in text:
        return f"{_plain_exponent(f'{value:.{digits}g}')}{sep}{unit}"
    return f"{text}{sep}{prefix}{unit}"


def whole_bytes(n: float | None) -> int | float | None:
    """A byte count as the whole number it is, for JSON: a sheet's ``16e9`` prints ``16000000000``, and a figure with
    decimals in a binary unit (a probe's ``23.54 GiB``) is rounded to the nearest byte (``check --format json``
    printed ``25275882536.96`` until 2026-12-04). None (unknown) and a non-finite value are returned as they are.
    The one home of this rounding (``predict`` and ``check`` JSON)."""
    return round(n) if isinstance(n, float) and math.isfinite(n) else n


#: the binary prefixes of :func:`bytes_text`, largest first; the last, no prefix, is a whole number of bytes
_BINARY = ((2**60, "Ei"), (2**50, "Pi"), (2**40, "Ti"), (2**30, "Gi"), (2**20, "Mi"), (2**10, "Ki"), (1, ""))


def bytes_text(n: float) -> str:
    """Bytes with binary prefixes and two decimals (``1.50 GiB``, ``512.00 KiB``, up to ``EiB``); under 1 KiB a whole
    number (``512 B``); from 10000 EiB on in scientific notation (``1.153e22 B``; the EiB prefix and this since
    2026-12-04: ``1048576.00 PiB`` before): :func:`hybridperf.report.format.fmt_bytes`, and the messages made below
    the report layer (a capacity warning read ``0.00 GiB exceeds 0.00 GiB`` for a device of a few hundred KiB until
    2026-12-03).

    A fractional byte count is rounded to the nearest byte as :func:`whole_bytes` rounds it for JSON (``1023.6`` is
    ``1.00 KiB``, as JSON's ``1024``; it was cut to ``1023 B`` until 2026-12-05), and a figure that rounds up to 1024
    of its prefix reads at the next one (``2**20 - 1`` is ``1.00 MiB``; it read ``1024.00 KiB`` until 2026-12-05), as
    :func:`hybridperf.report.format.fmt_time` does at 1000."""
    if abs(n) >= SCIENTIFIC_FROM * 2**60:
        return f"{scientific(n)} B"
    factor, prefix = si_prefix(n, _BINARY, shown=_bytes_number)
    if factor == _BINARY[0][0] and abs(_bytes_number(n, factor)) >= SCIENTIFIC_FROM:  # 9999.999 EiB reads 10000.00
        return f"{scientific(n)} B"
    return f"{n / factor:.2f} {prefix}B" if prefix else f"{round(float(n))} B"


def _bytes_number(n: float, factor: float) -> float:
    """``n`` bytes as :func:`bytes_text` writes it at ``factor``: two decimals with a prefix, else whole."""
    return float(f"{n / factor:.2f}") if factor > 1 else round(float(n))


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` and ``noun``, in the plural unless the count is one: ``"1 device"``, ``"32 devices"``, ``"2 CPUs"``
    (until 2026-12-04 messages read "1 devices", "(1 CPUs, probed)", "torch: 1 kernels").

    Parameters
    ----------
    count : int
        How many.
    noun : str
        The singular.
    nouns : str, optional
        The plural where it is not ``noun + "s"``.
    """
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def units_of(quantity: str, aliases: bool = False) -> tuple[str, ...]:
    """The units of one quantity (``"time"``, ``"capacity"``, ...) in table order; the "µ"
    aliases only with ``aliases=True``."""
    return tuple(u for u, (q, _) in UNITS.items() if q == quantity and (aliases or "µ" not in u))


_DIMS = r"\d+(?:[x,]\d+)*"


def unit_key(unit: str) -> str:
    """A unit spelling folded so that ``TFLOPS``, ``TFLOPs`` and ``TFLOP/s`` (``GBps``, ``gb/s``, ``GB/s``; ``µs``,
    ``μs`` and ``us``) meet."""
    u = unit.strip().replace(" ", "").replace("\u03bc", "u").replace("\u00b5", "u").lower().replace("/", "")
    u = re.sub(r"sec$", "s", u)
    return re.sub(r"bps$", "bs", u)


#: an upper-case prefix letter that the case fold would read as another prefix: letter -> (its prefix, the
#: lower-case letter's)
_CASED_PREFIXES: Mapping[str, tuple[str, str]] = MappingProxyType({"M": ("mega", "milli"), "P": ("peta", "pico")})


def unit_hint(unit: object, quantity: str, known: Iterable[str] | None = None) -> str:
    """`` (did you mean 'TFLOP/s'?)`` for a unit of ``quantity`` (:data:`UNITS`) spelt another way, else ""; a
    lowercase ``b`` that would be a bit is said (``Gb`` is a gigabit, not ``GB``). ``known``: the units accepted, by
    default every one of ``quantity``. The one unit hint of sheets and budgets.

    Case is folded, but not where it changes a prefix: an upper-case ``M`` or ``P`` is mega or peta, so ``Mj`` (or
    ``MJ``) is offered ``mJ`` naming both (`` (did you mean 'mJ'? case matters: m is milli, M mega, and 'MJ' is not a
    unit here)``; until 2026-12-03 it was offered ``mJ`` as if the case were a slip). A lower-case ``mb`` is offered
    ``MB`` as before: nothing is measured in millibytes."""
    if not isinstance(unit, str):
        return ""
    known = tuple(known) if known is not None else units_of(quantity)
    plural = {unit_key(u) + "s": u for u in known}  # GBs for GB
    bare = {unit_key(u)[:-1]: u for u in known if unit_key(u).endswith("s")}  # GB for GB/s, TFLOP for TFLOP/s
    bytes_unit = any("B" in u for u in known)
    notes = ["a lowercase b is a bit, 1/8 of a byte"] if bytes_unit and "b" in unit and "B" not in unit else []
    first = unit.strip()[:1]
    guess = next((u for u in known if unit_key(u) == unit_key(unit)), None)
    if guess is not None and first in _CASED_PREFIXES and guess[:1] == first.lower() and first + guess[1:] not in known:
        upper, lower = _CASED_PREFIXES[first]
        notes.insert(0, f"case matters: {guess[0]} is {lower}, {first} {upper}, and {first + guess[1:]!r} is not a "
                        "unit here")
    return did_you_mean(unit, known, {**bare, **plural}, fold=unit_key, spelling=False, note="; ".join(notes))


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


def shape_example(dims: Sequence[object]) -> str:
    """A ``--shape`` value of ``dims``'s rank to give as an example, ``"1x3x224x224"``: each fixed positive dim as it
    is (an int, or a numpy integer of a TFLite shape), each other one (symbolic, or unknown: <= 0) as 1. The one form
    of the "give one dim per axis, e.g. --shape NAME=..." that a wrong rank's message ends with.

    Parameters
    ----------
    dims : sequence
        The input's dims as the model gives them: integers, or symbols (a name, a TIR var).

    Returns
    -------
    str
        The dims joined by ``x``; "" for a shape without dimensions.
    """
    return "x".join(str(int(d)) if isinstance(d, numbers.Integral) and d > 0 else "1" for d in dims)


def shapes_text(shapes: Mapping[str, Sequence[int]]) -> str:
    """``"x=1x3x224x224, mask=1x128"``: input shapes as the CLI writes them."""
    return ", ".join(f"{k}={dims_text(v)}" for k, v in shapes.items())


def inputs_text(shapes: Mapping[str, Sequence[int]]) -> str:
    """:func:`shapes_text`, or ``none (the model takes no input)`` where there are none (a report's ``inputs``
    field; it read empty until 2026-12-04)."""
    return shapes_text(shapes) or "none (the model takes no input)"


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
                             f"{len(dims)} ({dims_text(dims)}); give one dim per axis, e.g. --shape "
                             f"{n}={shape_example(dims)}")
        for i, (d, w) in enumerate(zip(dims or [], want)):
            if isinstance(d, int) and d > 0 and d != w:
                raise InputError(f"--shape {n}: dim {i} is fixed to {d} in the model, cannot bind it to {w}; "
                                 "re-export the model with a dynamic axis")
    _check_symbols_agree(inputs, shapes, batch)
    return shapes


def _check_symbols_agree(inputs: Mapping[str, Sequence[int | str] | None], shapes: Mapping[str, tuple[int, ...]],
                         batch: int | None) -> None:
    """Refuse two values for one symbolic dim: two ``--shape`` flags (``input_ids=1x128``, ``attention_mask=1x64``
    for ``[batch, seq]`` each), or a ``--shape`` and the ``--batch`` that binds the leading dim of an input it does
    not shape. Until 2026-12-03 the first flag won in some inputs and the second in others: ``measure`` failed in
    onnxruntime's broadcast, and ``predict`` priced the two shapes unless an op refused them."""
    seen: dict[str, tuple[int, str]] = {}  # dim name -> (value, the flag that gave it)
    for n, want in shapes.items():
        for d, w in zip(inputs[n] or [], want):
            if not isinstance(d, str) or d in ("", "?"):
                continue
            v, flag = seen.setdefault(d, (w, f"--shape {n}={dims_text(want)}"))
            if v != w:
                fixed = dims_text(tuple(v if e == d else x for e, x in zip(inputs[n] or [], want)))
                both = flag if flag == f"--shape {n}={dims_text(want)}" else f"{flag} and --shape {n}={dims_text(want)}"
                raise InputError(f"{both} bind{'s' if both == flag else ''} symbolic dim {d!r} to {v} and {w}; "
                                 f"give {d!r} one value in every input that names it (e.g. --shape {n}={fixed})")
    for n, dims in inputs.items():
        if batch is None or n in shapes or not dims or not isinstance(dims[0], str) or dims[0] not in seen:
            continue
        v, flag = seen[dims[0]]
        if v != batch:
            raise InputError(f"{flag} binds symbolic dim {dims[0]!r} to {v} but --batch {batch} binds it to {batch} "
                             f"in input {n!r}; give it one value: drop --batch, or give the batch in every --shape")


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
