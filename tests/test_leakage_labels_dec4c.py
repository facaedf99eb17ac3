"""Labels the leakage review of 2026-12-04 (evening) found too strong: a CPU the packaged cross-host model was trained
on with other threads is not predicted zero-shot, and neither `predict` nor `calibrate` says it is."""

from __future__ import annotations

import dataclasses

from hybridperf.device.spec import load_spec
from hybridperf.report.calibration import _base_words
from hybridperf.residual.cross_host import base_model


def _zen5_cpu() -> str:
    (zen5,) = [e for e in base_model(load_spec("host-epyc-zen5-1c"), 1).host_effects_
               if e.figures.device == "host-epyc-zen5-1c"]
    return zen5.figures.cpu


def test_zen5_with_other_threads_is_not_called_zero_shot():
    # until 2026-12-04 (evening) `predict` on this Zen 5 with 2 threads said "zero-shot from spec for host", though
    # the packaged model's kernel booster was trained on its 1-thread rows (and it lends its offset); since
    # 2026-12-06 its 2-thread rows train the packaged model too, so 4 threads is the case here
    cpu = _zen5_cpu()
    assert cpu  # the packaged model records the training CPU
    sheet = dataclasses.replace(load_spec("host-epyc-zen5-1c"), id="host")
    model = base_model(sheet, 4, cpu)
    assert model.own_host() is None
    assert [e.figures.device for e in model.same_cpu_hosts()] == ["host-epyc-zen5-1c", "host-epyc-zen5-2c"]
    text = model.describe()
    assert "zero-shot from spec" not in text
    assert (f"for host (4 thread(s)): not zero-shot, its CPU ({cpu}) was trained on with other threads: "
            "host-epyc-zen5-1c (1 thread(s)), host-epyc-zen5-2c (2 thread(s)); priced from spec with the median "
            "offset of") in text
    # the same CPU with one of its training threads: that host's own offset; an unknown CPU: zero-shot
    assert base_model(sheet, 1, cpu).own_host().figures.device == "host-epyc-zen5-1c"
    assert base_model(sheet, 2, cpu).own_host().figures.device == "host-epyc-zen5-2c"
    assert base_model(sheet, 4, "").same_cpu_hosts() == ()


def test_calibrate_names_the_base_figures_as_predict_does():
    # until 2026-12-04 (evening) calibrate's table called them "cross-host zero-shot" in this case
    assert _base_words({"base_offset_of": None, "base_same_cpu": ["host-epyc-zen5-1c"]}) == (
        "cross-host; this CPU was trained on with other threads (host-epyc-zen5-1c), so not zero-shot; the "
        "'zero-shot' column")
    assert _base_words({"base_offset_of": None, "base_same_cpu": []}) == "cross-host zero-shot"
