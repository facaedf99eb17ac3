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
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable
from typing import Any


def dumps(data: Any, indent: int | None = 2, nonfinite_as_null: bool = False,
          default: Callable[[Any], Any] | None = None) -> str:
    """``data`` as strict JSON text.

    Parameters
    ----------
    data : Any
        Plain types (dicts, lists, tuples, str, int, float, bool, None); numpy scalars are written as the Python
        number they hold.
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
            return default(obj)
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    if nonfinite_as_null:
        data = finite_or_null(data)
    return json.dumps(data, indent=indent, allow_nan=False, default=plain)


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
