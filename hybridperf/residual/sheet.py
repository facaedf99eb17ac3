"""The sheet a stored model was made with: the figures its features read, recorded beside the model, and what a
prediction says when the sheet it prices now has other figures.

Every model ``hybridperf calibrate`` stores is trained or adapted with one sheet's figures: the roofline its
features are ratios to (peaks, bandwidths, launch overhead), the cache capacities and core count the cross-host
CPU model reads, the SM count, lanes and family probes the GPU model reads. A user who edits that sheet afterwards
(``my-box.yaml``, a re-probed ``host``) gets predictions from a model fitted to the old figures. Until 2026-12-03
nothing said so (except ``probe --host``, once, at probe time). Now the model records :func:`sheet_figures` of its
sheet (sidecar key :data:`SHEET_KEY`), and a prediction on a sheet whose figures differ keeps using it (as ``host``
does after ``probe --host``: the correction is still the best one measured here) but marks its latency unverified,
naming each changed figure (:func:`qualified`): the calibration note, the latency note ``check`` prints as
``ok (unverified)``, and the JSON that carries both. A model stored before sheets were recorded keeps working and
says ``sheet not recorded``.

Not the file's bytes or time stamp: a sheet whose sources, notes, power or energy figures are edited, or that is
copied elsewhere, prices latency with the same figures, and its model still applies.

Imports: :mod:`hybridperf.device.spec`, :mod:`hybridperf.estimate.pricing` (its :class:`Prediction`) and
:func:`hybridperf.units.format_si`, the reports' SI formatter, for the figures it names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from hybridperf.device.spec import latency_figures
from hybridperf.estimate.pricing import SHEET_CHANGED, Prediction
from hybridperf.precision import rate_unit
from hybridperf.units import format_si

__all__ = ["NOT_RECORDED", "SHEET_KEY", "qualified", "recalibrated", "sheet_changes", "sheet_figures", "sheet_reason"]

#: the sidecar key (and adaptation-file key) holding :func:`sheet_figures` of the sheet a model was made with
SHEET_KEY = "sheet"
#: the calibration note of a stored model without that key (stored before 2026-12-03)
NOT_RECORDED = "sheet not recorded"

#: the unit each kind of figure is recorded in (SI), by the last part of its key
_UNITS = {"bandwidth": "B/s", "attainable_bandwidth": "B/s", "capacity": "B", "launch_overhead": "s"}


#: the figures a stored model records of its sheet: the sheet's latency side, as :func:`load_spec` keeps it to a
#: shipped id (one definition of both)
sheet_figures = latency_figures


def _peak_unit(key: str) -> str:
    """``peak_compute.<p>``'s unit: integer peaks are OP/s, as `devices` and `probe` write them (until 2026-12-05
    a changed int8 peak read GFLOP/s)."""
    return rate_unit(key.removeprefix("peak_compute."))


def sheet_changes(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """Each figure that differs between ``recorded`` and ``now`` (:func:`sheet_figures`), in key order, in the
    reports' SI style (:func:`~hybridperf.units.format_si`): ``"peak_compute.fp32 101.9 GFLOP/s -> 203.8 GFLOP/s"``,
    ``"memory.l2.capacity none -> 1.049 MB"``, ``"compute_units.count 108 -> 54"``.

    Parameters
    ----------
    recorded, now : mapping of str to Any
        Figures of the sheet a model was made with, and of the sheet it prices now.

    Returns
    -------
    list of str
        One line per changed, added or removed figure; empty when the two agree (numbers within a relative
        1e-9, what a round trip through JSON keeps).
    """
    out = []
    for key in sorted(set(recorded) | set(now)):
        old, new = recorded.get(key), now.get(key)
        if _same(old, new):
            continue
        unit = _peak_unit(key) if key.startswith("peak_compute.") else _UNITS.get(key.rsplit(".", 1)[-1], "")
        out.append(f"{key} {_change(old, new, unit)}")
    return out


def _same(a: Any, b: Any) -> bool:
    """Whether two recorded figures agree: numbers (not bools) to a relative 1e-9, anything else equal."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0)  # through JSON and back
    return a == b


def _change(old: Any, new: Any, unit: str) -> str:
    """``101.9 GFLOP/s -> 203.8 GFLOP/s``: two figures of a key with ``unit`` (none: a count or a word), four
    significant digits, more where four would write two different figures alike (``1.0001 MB -> 1.0002 MB``)."""
    for digits in range(4, 18):
        pair = _text(old, unit, digits), _text(new, unit, digits)
        if pair[0] != pair[1]:
            break
    return " -> ".join(pair)


def _text(v: Any, unit: str, digits: int) -> str:
    """One figure: ``none`` when absent, a number with ``unit`` by :func:`~hybridperf.units.format_si`, else as
    it is (``108``, ``True``, ``cpu``)."""
    if v is None:
        return "none"
    if unit and isinstance(v, (int, float)) and not isinstance(v, bool):
        return format_si(v, unit, digits)
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def sheet_reason(recorded: Mapping[str, Any] | None, now: Mapping[str, Any]) -> str:
    """Why a stored model's latency on a sheet is unverified: ``"calibrated with other figures of this sheet:
    <each changed figure>; calibrate again to fit this sheet"`` (:data:`~hybridperf.estimate.pricing.SHEET_CHANGED`,
    then :func:`sheet_changes`), the reason :func:`qualified` adds to a latency note.

    Parameters
    ----------
    recorded : mapping of str to Any or None
        The model's record of its sheet (:func:`sheet_figures`); None where it has none.
    now : mapping of str to Any
        :func:`sheet_figures` of the sheet priced now.

    Returns
    -------
    str
        The reason; "" where ``recorded`` is None (nothing to compare) or equals ``now``.
    """
    return _reason(_changed(recorded, now))


def recalibrated(prediction: Prediction, recorded: Mapping[str, Any] | None, unrecorded: bool,
                 now: Mapping[str, Any]) -> Prediction:
    """``prediction`` with what its sheet says about the stored model that priced it in its calibration note
    alone (:func:`qualified` without the latency note); the parameters are :func:`qualified`'s.

    Returns
    -------
    Prediction
        ``prediction`` itself where ``recorded`` equals ``now`` or nothing is worth saying; with
        :data:`NOT_RECORDED` in its calibration note for a stored model without a record; for a sheet whose figures
        changed since, with the changes in its calibration note.
    """
    return _recalibrated(prediction, recorded is None and unrecorded, _changed(recorded, now))


def _changed(recorded: Mapping[str, Any] | None, now: Mapping[str, Any]) -> str:
    """The changed figures' text both notes name (:func:`sheet_changes`, then what to do about them):
    ``"compute_units.count 108 -> 54; calibrate again to fit this sheet"``; "" where ``recorded`` is None or equals
    ``now``."""
    changes = sheet_changes(recorded, now) if recorded is not None else []
    return f"{'; '.join(changes)}; calibrate again to fit this sheet" if changes else ""


def _reason(what: str) -> str:
    """:func:`sheet_reason` of the changed figures' text ``what`` (:func:`_changed`)."""
    return f"{SHEET_CHANGED}: {what}" if what else ""


def _recalibrated(prediction: Prediction, not_recorded: bool, what: str) -> Prediction:
    """:func:`recalibrated` of the changed figures' text ``what`` (:func:`_changed`); ``not_recorded``: the model has
    no record of its sheet, and that is worth saying."""
    if not_recorded:
        return replace(prediction, calibration=f"{prediction.calibration}; {NOT_RECORDED}")
    if not what:
        return prediction
    return replace(prediction, calibration=f"{prediction.calibration}; calibrated with other sheet figures ({what})")


def qualified(prediction: Prediction, recorded: Mapping[str, Any] | None, unrecorded: bool,
              now: Mapping[str, Any]) -> Prediction:
    """``prediction`` with what its sheet says about the stored model that priced it: :func:`recalibrated`, and
    :func:`sheet_reason` after the reasons its latency note already gives.

    Parameters
    ----------
    prediction : Prediction
        What a stored model priced.
    recorded : mapping of str to Any or None
        The model's record of its sheet (:func:`sheet_figures`); None where it has none.
    unrecorded : bool
        Whether a missing record is worth saying: True for a model stored before sheets were recorded, False for
        one fitted in memory or packaged with its own sheet.
    now : mapping of str to Any
        :func:`sheet_figures` of the sheet priced now.

    Returns
    -------
    Prediction
        ``prediction`` itself where ``recorded`` equals ``now`` or nothing is worth saying; with
        :data:`NOT_RECORDED` in its calibration note for a stored model without a record; for a sheet whose figures
        changed since, with the changes in its calibration note and its latency note (``unverified: ...`` with
        :data:`~hybridperf.estimate.pricing.SHEET_CHANGED`), so that
        ``check`` judges it ``ok (unverified)``.
    """
    what = _changed(recorded, now)  # once, for both notes
    out = _recalibrated(prediction, recorded is None and unrecorded, what)
    return out.unverified(_reason(what), first=False) if what else out
