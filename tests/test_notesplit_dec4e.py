"""The latency note of the cross-device GPU model without a prediction (2026-12-04 refactor, no behaviour change).

:meth:`ZeroShotGpu.latency_note` gives the note :meth:`ZeroShotGpu.qualify` puts on a prediction, from the one reason
both read (:meth:`ZeroShotGpu.unverified_why`); :class:`~hybridperf.block_table.BlockTable` composes a variant's note
from it. Until 2026-12-04 the table built a placeholder ``Prediction`` (no analysis, zero figures) only to ask
``qualify`` for its note. The sheet's side is split the same way: :func:`~hybridperf.residual.sheet.qualified` is
:func:`~hybridperf.residual.sheet.recalibrated` (the calibration note) plus
:func:`~hybridperf.residual.sheet.sheet_reason` (the latency reason)."""

from __future__ import annotations

import pytest

from hybridperf.device.spec import load_spec
from hybridperf.estimate.pricing import SHEET_CHANGED, Prediction
from hybridperf.residual.sheet import NOT_RECORDED, qualified, recalibrated, sheet_figures, sheet_reason
from hybridperf.residual.zero_shot import ZeroShotGpu, unverified_reason


def _bare(spec, note: str = "") -> Prediction:
    """A prediction holding only a calibration text and a latency note (what qualify reads and writes)."""
    return Prediction(None, spec, None, (), 0.0, 0.0, 0.0, "base", latency_note=note)  # type: ignore[arg-type]


def _adapted(recorded, unrecorded: bool = False) -> ZeroShotGpu:
    model = ZeroShotGpu(None, "torch", {"host": 0.1}, 4, weighted_host=True)
    model.sheet_, model.sheet_unrecorded_ = recorded, unrecorded
    return model


T4 = sheet_figures(load_spec("t4"))
L4 = load_spec("l4")


def test_sheet_reason_and_recalibrated_make_qualified():
    what = "compute_units.count 40 -> 58"  # t4's 40 SMs, l4's 58 (the first changed figure in key order)
    why = sheet_reason(T4, sheet_figures(L4))
    assert why.startswith(f"{SHEET_CHANGED}: {what}; ") and why.endswith("; calibrate again to fit this sheet")
    assert sheet_reason(T4, T4) == "" and sheet_reason(None, T4) == ""
    got = qualified(_bare(L4, "unverified: first"), T4, False, sheet_figures(L4))
    assert got.latency_note == f"unverified: first; {why}"  # after the reasons already there
    assert got.calibration == f"base; calibrated with other sheet figures ({why.removeprefix(SHEET_CHANGED + ': ')})"
    assert recalibrated(_bare(L4), T4, False, sheet_figures(L4)).latency_note == ""
    assert recalibrated(_bare(L4), None, True, T4).calibration == f"base; {NOT_RECORDED}"
    same = _bare(L4)
    assert qualified(same, sheet_figures(L4), False, sheet_figures(L4)) is same


@pytest.mark.parametrize("device, priced_at", [("h100-pcie", ()), ("t4", ()), ("t4", ("fp16",)), ("h100-sxm", ("fp16",))])
def test_zero_shot_note_is_qualify_s(device, priced_at):
    spec = load_spec(device)
    model = ZeroShotGpu(None, "torch")
    why = unverified_reason(spec, set(priced_at) or {"fp32"})
    assert model.unverified_why(spec, priced_at) == why
    assert model.latency_note(spec, priced_at) == (f"unverified: {why}" if why else "")
    assert model.qualify(_bare(spec), spec, priced_at).latency_note == model.latency_note(spec, priced_at)
    if why:  # a zero-shot reason goes before those already there
        assert model.qualify(_bare(spec, "unverified: other"), spec, priced_at).latency_note == (
            f"unverified: {why}; other")


@pytest.mark.parametrize("recorded, unrecorded", [(T4, False), (None, True), (sheet_figures(L4), False)])
def test_adapted_note_is_qualify_s(recorded, unrecorded):
    model = _adapted(recorded, unrecorded)
    want = qualified(_bare(L4), recorded, unrecorded, sheet_figures(L4))
    got = model.qualify(_bare(L4), L4, ("fp16",))  # priced_at does not matter to an adapted model
    assert (got.latency_note, got.calibration) == (want.latency_note, want.calibration)
    assert model.latency_note(L4, ("fp16",)) == want.latency_note
    assert bool(model.latency_note(L4)) == (recorded is T4)  # only a changed sheet makes it unverified
