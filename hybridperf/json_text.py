"""Foundation: strict JSON text, the one home of ``json.dumps`` for what hybridperf prints or stores (imports nothing
of hybridperf, so that every layer can write through it: the report layer's documents, the residual and measure
layers' stored sidecars).

Every document is strict JSON (RFC 8259): Python's ``json.dumps`` writes ``NaN``, ``Infinity`` and ``-Infinity`` by
default, which no other parser reads. Until 2026-12-04 ``calibrate``, ``probe`` and ``measure`` wrote JSON that way
(each command its own ``json.dumps``, with ``default=float`` or ``default=str``), while ``predict``, ``check``,
``mig``, ``devices`` and ``predict-many`` refused a non-finite figure, each in its own copy.

Two policies, one per kind of figure:

* a prediction's figure (``predict``, ``check``, ``mig``, ``predict-many``, ``devices``) is never NaN or infinite:
  one that is, is a defect, and :func:`dumps` raises (exit 3) rather than print a document that reads as valid;
* a measured figure (``measure``, ``probe``, ``calibrate``'s errors) can be one a timer could not resolve (a GEMM
  timed at 0 s is infinitely fast; a percentage error over a zero is infinite): ``nonfinite_as_null=True`` writes it
  as ``null``, the house's unknown.

A stored model's sidecar (``residual``'s LightGBM sidecars and adaptations, ``measure.host``'s identity) is written
with the first policy: a NaN in a stored model is a defect, and raises. Until 2026-12-04 those sidecars were written
by plain ``json.dumps``, so a NaN was stored as ``NaN`` (not JSON), and this module lived in ``hybridperf.report``,
which the residual and measure layers below it may not import.

Every string is Unicode text: a file name that is not UTF-8 reaches Python with each undecodable byte as a lone
surrogate (byte 0xff as U+DCFF), which :func:`escape_undecodable` writes as the text ``\\udcff``, the text the
CLI's stdout (``hybridperf.cli``), :func:`hybridperf.files.write_atomic`, the HTML page and the JUnit report show for
it. Until 2026-12-05 the document held the JSON escape ``\\udcff`` of the lone surrogate itself, which strict JSON
readers refuse and no UTF-8 text can hold (``json.loads`` gave back a string that cannot be encoded as UTF-8).
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Callable
from typing import Any

#: the codec error handler that writes an undecodable byte's lone surrogate as its escape text (U+DCFF as ``\\udcff``)
#: where text is encoded as UTF-8: :func:`escape_undecodable`'s, and that of the CLI's stdout and of
#: :func:`hybridperf.files.write_atomic`
UNDECODABLE = "backslashreplace"


def dumps(data: Any, indent: int | None = 2, nonfinite_as_null: bool = False,
          default: Callable[[Any], Any] | None = None) -> str:
    """``data`` as strict JSON text.

    Parameters
    ----------
    data : Any
        Plain types (dicts, lists, tuples, str, int, float, bool, None); numpy scalars are written as the Python
        number they hold; a string (a key too) holding an undecodable byte as :func:`escape_undecodable` gives it.
    indent : int or None
        As ``json.dumps``'s (None: one line, as a JSONL row).
    nonfinite_as_null : bool
        Write a NaN or infinite float as ``null`` (unknown); without it such a float raises.
    default : callable, optional
        Called on an object JSON cannot write (after numpy scalars), as ``json.dumps``'s ``default``.

    Returns
    -------
    str
        The JSON text, without a trailing newline.

    Raises
    ------
    ValueError
        A NaN or infinite float, without ``nonfinite_as_null``.
    TypeError
        An object JSON cannot write, without a ``default`` that converts it.
    """
    def plain(obj: Any) -> Any:
        if type(obj).__module__ == "numpy" and getattr(obj, "shape", None) == ():  # a numpy scalar: its number
            return obj.item()
        if default is not None:
            return _text_escaped(default(obj))  # default=str of a path is a file name too
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    if nonfinite_as_null:
        data = finite_or_null(data)
    text = json.dumps(data, indent=indent, allow_nan=False, default=plain)
    # a lone surrogate can only be in the text as an escape \udXXX (ensure_ascii): without one, nothing to redo, and
    # the document is not walked a second time (a sweep writes a row per model); a false alarm (a non-BMP character's
    # surrogate pair, a literal backslash before "ud") only takes the walk, with the same text
    if "\\ud" not in text:
        return text
    return json.dumps(_text_escaped(data), indent=indent, allow_nan=False, default=plain)


def escape_control(text: str) -> str:
    """``text`` with each control character (C0, DEL and C1) written as its escape (a newline as ``\\n``, a NUL as
    ``\\x00``): the one home of :func:`hybridperf.report.format.one_line` and of the path an error message names
    (:func:`hybridperf.frontends.common.shown_path`); any other text as it is."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def escape_undecodable(text: str) -> str:
    """``text`` with each lone surrogate (an undecodable byte of a file name: byte 0xff is U+DCFF) written as its
    escape text, ``\\udcff`` (backslash, ``u``, four hex digits): text that UTF-8 holds, shown as the CLI's stdout
    shows it (:data:`UNDECODABLE`); any other text as it is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", UNDECODABLE).decode("utf-8")
    return text


def _text_escaped(data: Any) -> Any:
    """``data`` with :func:`escape_undecodable` applied to every string in it (dict keys too), dicts, lists and tuples
    walked (as :func:`finite_or_null`); everything else as it is."""
    if isinstance(data, str):
        return escape_undecodable(data)
    if isinstance(data, dict):
        return {_text_escaped(k): _text_escaped(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_text_escaped(v) for v in data]
    return data


def finite_or_null(data: Any) -> Any:
    """``data`` with every NaN or infinite float (numpy's too) in it replaced by None, dicts, lists and tuples walked;
    everything else as it is."""
    if isinstance(data, numbers.Real) and not isinstance(data, numbers.Integral):  # float, numpy's floats
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite_or_null(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_or_null(v) for v in data]
    return data
