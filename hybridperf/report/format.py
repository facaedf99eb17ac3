"""Numbers into text: the one home of every unit formatter and of the plain-text table renderer.

Every report (predict, check, mig, devices, predict-many, probe, measure, calibrate, annotate,
HTML) and every command's progress line formats quantities through this module. Messages made
below the report layer (an error, a prediction's warning, a probed sheet's source note) cannot
import it: they write bytes with :func:`hybridperf.units.bytes_text` (what :func:`fmt_bytes` prints), figures in
datasheet style with :func:`hybridperf.units.format_si` (the one SI formatter, handed on here with its prefix
tables), and other figures in the one unit they name (``12.3 us``).
All formatters pick the first prefix a value's magnitude reaches (decimal, sub-multiple or, for bytes,
binary prefixes), in one of two styles:

* fixed decimals, for a prediction's own figures: :func:`fmt_time` (``2.500 ms``),
  :func:`fmt_bytes` (binary prefixes, ``1.50 GiB``), :func:`fmt_count` (``1.234 G``, followed by
  the unit by the caller), :func:`fmt_energy` (``2.000 mJ``);
  a figure of 10000 or more of its largest prefix, or under 0.0001 of its smallest, in scientific notation in the
  base unit (``3.154e7 s``, ``1.476e20 FLOP``);
* significant digits with decimal prefixes, as datasheets print them: :func:`format_si`
  (``19.5 TFLOP/s``, ``80 GB``) for device sheets, probes, calibration and the HTML roofline axes.
"""

from __future__ import annotations

import math
from typing import Any

from collections.abc import Callable, Sequence

from hybridperf.json_text import escape_control
from hybridperf.units import (DECIMAL, SCIENTIFIC_BELOW, SCIENTIFIC_FROM, SUBMULTIPLE, bytes_text, format_si,
                              scientific, si_prefix)

__all__ = ["fmt_bound", "fmt_bytes", "fmt_contention", "fmt_count", "fmt_energy", "fmt_flops", "fmt_peak", "fmt_time",
           "format_si", "one_line", "table"]


def fmt_time(s: float | None) -> str:
    """Seconds: ``2.500 s``, ``2.500 ms``, ``2.5 us``, ``2.5 ns``; zero is ``0.0 us``, None ``-``; from 10000 s
    ``3.154e7 s`` (:func:`_fixed`)."""
    if s is None:
        return "-"
    if not s:
        return "0.0 us"
    return _fixed(s, SUBMULTIPLE, "s")


def _fixed(value: float, prefixes: Sequence[tuple[float, str]], unit: str) -> str:
    """A nonzero ``value`` at the first of ``prefixes`` (largest first) that it reaches, else the last, in the style
    of :func:`_decimals`; in scientific notation in ``unit`` (:func:`hybridperf.units.scientific`) where that would
    be 10000 or more of the largest prefix (a latency of a year read ``31536000.000 s`` until 2026-12-04), or under
    0.0001 of the smallest (``1.0e-15 s``: it read ``1e-06 ns``)."""
    # a figure that rounds up to 1000 of its prefix reads at the next one (``999.99996 us`` read ``1000.0 us``, beside
    # a budget of ``1.000 ms``, until 2026-12-05), and one that rounds up to 10000 of the largest in scientific notation
    factor, prefix = si_prefix(value, prefixes, below=prefixes[-1],
                               shown=lambda v, f: float(_decimals(v / f, f)))
    v = value / factor
    if abs(v) >= SCIENTIFIC_FROM or abs(float(_decimals(v, factor))) >= SCIENTIFIC_FROM:
        return f"{scientific(value)} {unit}"
    if abs(v) < SCIENTIFIC_BELOW:
        return f"{scientific(value, 2)} {unit}"
    return f"{_decimals(v, factor)} {prefix}{unit}"


def _decimals(v: float, factor: float) -> str:
    """``v`` with 3 decimals from the milli unit up, else 1; a nonzero figure below the smallest prefix that one
    decimal would show as 0.0 keeps two significant digits (``0.04 ns``: it read ``0.0 ns``)."""
    text = f"{v:.{3 if factor >= 1e-3 else 1}f}"
    return f"{v:.2g}" if v and not float(text) else text


#: the prefixes of :func:`fmt_energy`: kJ and MJ since 2026-12-04 (a limit of ``--max-energy 2kJ`` read ``2000.000 J``)
_ENERGY_PREFIXES = ((1e6, "M"), (1e3, "k"), *SUBMULTIPLE, (1e-12, "p"))


def fmt_energy(j: float | None) -> str:
    """Joules: ``2.000 MJ``, ``2.000 kJ``, ``2.000 J``, ``2.000 mJ``, then one decimal: ``2.5 uJ``, ``42.8 nJ``,
    ``50.0 pJ``; zero is ``0.0 uJ``; from 10000 MJ ``1.663e10 J`` (:func:`_fixed`).

    An NPU inference (tens of nJ) or an ``--max-energy 50nJ`` limit read ``0.0 uJ`` until 2026-12-03; None (unknown)
    is ``-``, as :func:`fmt_time`'s (it read ``0.0 uJ`` until 2026-12-05), and so is NaN (no figure: it read ``nan pJ``
    until 2026-12-05); an infinite figure reads ``inf J`` (it raised ValueError until 2026-12-05)."""
    if j is None or math.isnan(j):
        return "-"
    if math.isinf(j):
        return f"{j} J"
    if not j:
        return "0.0 uJ"
    return _fixed(j, _ENERGY_PREFIXES, "J")


def fmt_bytes(n: float | None) -> str:
    """Bytes with binary prefixes and two decimals (``1.50 GiB``); under 1 KiB a whole number (``512 B``)."""
    return "-" if n is None else bytes_text(n)


def fmt_count(n: float) -> str:
    """A count with a decimal prefix up to T and three decimals, the unit left to the caller:
    ``fmt_count(2.5e9) + "FLOP"`` -> ``2.500 GFLOP``; under 1000 a whole number (``12 FLOP``); from 10000 T in
    scientific notation (``1.476e20 FLOP``; it read ``147573952.590 TFLOP`` until 2026-12-04)."""
    # rounding up to 1000 of a prefix reads at the next (``999.6`` read ``1000 FLOP``, ``999999.6`` ``1000.000 k``,
    # until 2026-12-05), to 10000 T in scientific notation
    factor, prefix = si_prefix(n, DECIMAL[1:], shown=lambda v, f: float(f"{v / f:.{3 if f > 1 else 0}f}"))
    if abs(n) >= SCIENTIFIC_FROM * DECIMAL[1][0] or abs(round(n / DECIMAL[1][0], 3)) >= SCIENTIFIC_FROM:
        return f"{scientific(n)} "
    return f"{n / factor:.{3 if prefix else 0}f} {prefix}"


def fmt_flops(n: float) -> str:
    """:func:`fmt_count` with its unit: ``2.500 GFLOP``."""
    return fmt_count(n) + "FLOP"


def fmt_percent(fraction: float, decimals: int = 1) -> str:
    """``0.25`` -> ``25.0%``; a positive fraction that rounds to 0 at ``decimals`` reads ``<0.1%`` (``<1%`` with no
    decimals), never ``0.0%``: a 2.4 us Add beside a 0.5 s MatMul, or a limit exceeded by 1 B of 9.13 MiB, read as
    zero until 2026-12-03. From 10000 % on in scientific notation (``2.854e11%``: a year's latency against a 20 ms
    limit read ``+285388541455%`` until 2026-12-04)."""
    if abs(fraction) * 100 >= SCIENTIFIC_FROM:
        return f"{scientific(fraction * 100)}%"
    text = f"{fraction:.{decimals}%}"
    if fraction > 0 and float(text[:-1]) == 0:
        return f"<{10.0 ** -decimals:.{decimals}f}%"
    return text


def fmt_bound(value: float | None, fmt: Callable[[float], str], lower_bound: bool) -> str:
    """A figure that may be only a lower bound (some ops have no cost, so their share is missing):
    ``fmt(value)`` when exact, ``≥ fmt(value)`` when a lower bound, and ``unknown`` for a lower bound of
    zero or None (nothing was priced: "≥ 0" says nothing), and for None (unknown) exact or not.
    ``fmt_bound(0, fmt_time, True)`` -> ``unknown``; ``fmt_bound(None, fmt_time, False)`` -> ``unknown`` (it was
    ``fmt(None)`` until 2026-12-05: ``-``, or an error for :func:`fmt_flops`)."""
    if value is None or (lower_bound and not value):
        return "unknown"
    return ("≥ " if lower_bound else "") + fmt(value)


def fmt_peak(value: int | None, kind: str) -> str:
    """A peak memory of :func:`hybridperf.estimate.runtime_memory.peak_kind` ``kind``: ``unknown``, ``≈ 9.45 MiB``
    (an estimate), ``≥ 9.45 MiB`` (a lower bound) or ``9.45 MiB``."""
    if value is None or kind == "unknown":
        return "unknown"
    return {"estimate": "≈ ", "lower_bound": "≥ "}.get(kind, "") + fmt_bytes(value)


def fmt_contention(c: Any) -> str:
    """What a timing window's :class:`~hybridperf.measure.contention.Contention` says after its rate of
    preemptions: ``while timing (2.2 s, 50% of its CPU time): BUSY``; with several threads ``while timing (2.0 s,
    94% of the CPU time of 2 threads)`` (judged by that share alone)."""
    of = "its CPU time" if c.threads == 1 else f"the CPU time of {c.threads} threads"
    return f"while timing ({c.window_s:.1f} s, {c.cpu_share:.0%} of {of}){': BUSY' if c.busy else ''}"


def one_line(name: str) -> str:
    """``name`` with control characters written as escapes (``m/new\\nline.onnx``), so that a model or device named
    with a newline keeps its table row on one line (check and predict-many split the row until 2026-12-04)."""
    return escape_control(name)


def table(rows: list[list[str]], header: list[str], align: str | None = None, rule: bool = True) -> str:
    """The one plain-text table renderer: columns two spaces apart, ``align`` one of 'l'/'r' per
    column (default all left), a rule of dashes under the header unless ``rule=False``; no
    trailing blanks."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    align = align or "l" * len(header)

    def line(cells):
        return "  ".join(str(c).ljust(w) if a == "l" else str(c).rjust(w) for c, w, a in zip(cells, widths, align)).rstrip()

    out = [line(header)] + (["  ".join("-" * w for w in widths).rstrip()] if rule else [])
    out.extend(line(r) for r in rows)
    return "\n".join(out)
