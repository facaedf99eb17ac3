"""An adapted model's fitted constant overhead, as it enters the figure (2026-12-04).

``calibrate --device host --measure DIR`` on tiny models (14-60 us each) adapted the model on exactly those, yet
``predict`` / ``check`` / ``report`` still said "latency unverified: the model's fitted constant overhead (100 us)
is most of this figure (its kernels 4.8 us): below the scale of the models it was trained on" of a 15.7 us figure:
the unscaled overhead was judged against the kernels scaled by the adaptation (the figure is
``(kernels * e^g + overhead) * e^adaptation``). Now the overhead is printed and judged as it enters the figure, and
an adaptation records the fastest latency it was fitted on (``min_latency_s``): a figure at least that is not below
the scale the model was checked at. Models are adapted by the API on synthetic rows: nothing here times anything.
"""

from __future__ import annotations

import copy
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import hybridperf
from hybridperf.device.spec import load_spec
from hybridperf.estimate.pricing import BELOW_TRAINING_SCALE
from hybridperf.residual.features import featurize
from hybridperf.residual.model import ResidualModel, find_model_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
import onnx_models  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "squeezenet1_1.onnx"
#: tiny models (the builders of tests/onnx_models.py, small sizes): a fitted overhead of 100 us is most of their figure
TINY = {"r1": (onnx_models.resnet_like, dict(hw=8, width=4)), "r2": (onnx_models.resnet_like, dict(hw=12, width=4)),
        "m1": (onnx_models.mobilenetv2_like, dict(hw=8)),
        "b1": (onnx_models.bert_like, dict(seq=4, hidden=16, layers=1, ffn=16)),
        "d1": (onnx_models.densenet_like, dict(hw=8, growth=4, layers=2))}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return onnx_models.save_static(tmp_path_factory.mktemp("tiny"), TINY)


@pytest.fixture(scope="module")
def epyc():
    """The packaged host-epyc-1c model (a ResidualModel, no adaptation)."""
    m = ResidualModel.load(find_model_dir("host-epyc-1c"))
    assert not m.adaptation_ and m.overhead_s_ == pytest.approx(100e-6)
    return m


def _adapted(model, offset: float, **extra):
    m = copy.copy(model)
    m.adaptation_ = {"method": "offset", "offset": offset, "slope": 0.0, "center": 0.0, "k": 4, **extra}
    return m


def _kernels_us(note: str) -> float:
    return float(note.split("(its kernels ")[1].split(" us)")[0])


def test_the_overhead_is_printed_as_it_enters_the_figure(tiny, epyc):
    """An adaptation halving every figure (an older sidecar: no ``min_latency_s``): the note names the overhead
    halved (50 us, not 100 us) beside the kernels halved, and the figure is the base figure halved."""
    base = hybridperf.predict(tiny[0], "host-epyc-1c", residual=epyc)
    half = hybridperf.predict(tiny[0], "host-epyc-1c", residual=_adapted(epyc, math.log(0.5)))
    assert "overhead (100 us)" in base.latency_note
    assert half.latency_s == pytest.approx(base.latency_s * 0.5, rel=1e-9)
    assert "the model's fitted constant overhead (50 us) is most of this figure" in half.latency_note  # 100 * 0.5
    assert _kernels_us(half.latency_note) == pytest.approx(_kernels_us(base.latency_note) * 0.5, abs=0.051)
    assert half.latency_note.endswith(BELOW_TRAINING_SCALE)  # no recorded scale: judged as before
    assert f"latency {half.latency_note}" in half.warnings


def test_a_figure_at_the_scale_the_model_was_adapted_on_is_not_marked(tiny, epyc):
    """Adapted on models down to a figure's size: no note, no warning; above it: marked, naming the fastest."""
    base = hybridperf.predict(tiny[0], "host-epyc-1c", residual=epyc)
    fig = base.latency_s * 0.5
    ok = hybridperf.predict(tiny[0], "host-epyc-1c", residual=_adapted(epyc, math.log(0.5), min_latency_s=fig * 0.9))
    assert ok.latency_s == pytest.approx(fig, rel=1e-9)
    assert ok.latency_note == "" and not any(BELOW_TRAINING_SCALE in w for w in ok.warnings)
    result = hybridperf.check(tiny[0], "host-epyc-1c", max_latency="1s",
                              residual=_adapted(epyc, math.log(0.5), min_latency_s=fig * 0.9))
    (lat,) = [c for c in result.checks if c.metric.value == "latency"]
    assert result.passed and lat.estimated == ""  # check prints it "ok", not "ok (unverified)"
    low = hybridperf.predict(tiny[0], "host-epyc-1c", residual=_adapted(epyc, math.log(0.5), min_latency_s=fig * 2))
    assert low.latency_s == ok.latency_s  # the figure does not change, only its note
    assert BELOW_TRAINING_SCALE in low.latency_note
    assert low.latency_note.endswith(f"and of the 4 it was adapted on (the fastest {fig * 2 * 1e6:.1f} us)")


def test_adapt_records_the_fastest_latency_it_was_fitted_on(tiny, epyc, tmp_path):
    """``adapt`` on synthetic measurements of 40-60 us (the audit's sizes) records 40 us; the sidecar keeps it; an
    adapted figure of at least that is not marked, and a model's figure follows the same rule either way."""
    preds = [hybridperf.predict(p, "host-epyc-1c", residual=None) for p in tiny]
    X = np.array([featurize(p).model for p in preds])
    measured = np.array([40e-6, 50e-6, 60e-6, 45e-6, 55e-6])
    y = np.log(measured / np.array([p.latency_s for p in preds]))  # label: log(latency / roofline)
    ad = epyc.adapt(X, y, device="tiny-host")
    assert ad.adaptation_["min_latency_s"] == pytest.approx(40e-6, rel=1e-6)  # features are float32
    assert "min_latency_s" not in (epyc.adaptation_ or {})  # adapt returns a new model
    ad.save(tmp_path / "m")
    back = ResidualModel.load(tmp_path / "m")
    assert back.adaptation_["min_latency_s"] == pytest.approx(40e-6, rel=1e-6)  # features are float32
    unmarked = 0
    for p in tiny:
        out = hybridperf.predict(p, "host-epyc-1c", residual=back)
        before = hybridperf.predict(p, "host-epyc-1c", residual=_without_scale(back))
        assert out.latency_s == before.latency_s  # the record changes notes, never figures
        assert (BELOW_TRAINING_SCALE in out.latency_note) == (out.latency_s < 40e-6 and bool(before.latency_note))
        unmarked += BELOW_TRAINING_SCALE not in out.latency_note
    assert unmarked >= 1  # adapted on these very sizes: the figures at that scale are not marked


def _without_scale(model):
    m = copy.copy(model)
    m.adaptation_ = {k: v for k, v in model.adaptation_.items() if k != "min_latency_s"}
    return m


def test_an_older_sidecar_without_the_record_still_loads(tmp_path, epyc, tiny):
    import json

    from hybridperf.residual.model import SIDECAR_FILE

    d = _adapted(epyc, math.log(0.5)).save(tmp_path / "old")
    meta = json.loads((d / SIDECAR_FILE).read_text())
    assert "min_latency_s" not in meta["adaptation"]
    back = ResidualModel.load(d)
    out = hybridperf.predict(tiny[0], "host-epyc-1c", residual=back)
    assert "overhead (50 us)" in out.latency_note and out.latency_note.endswith(BELOW_TRAINING_SCALE)


def test_cross_host_adapt_records_it_too(tiny):
    """The cross-host CPU model (the one ``calibrate --device host --measure`` adapts), on a sheet of a CPU outside
    its training hosts, adapted without kernel rows on synthetic 40-60 us rows: the same record, the same rule."""
    from hybridperf.residual.cross_host import for_sheet

    spec = load_spec("ryzen-9-7950x")
    base = for_sheet(spec)
    preds = [hybridperf.predict(p, spec, residual=None) for p in tiny]
    X = np.array([featurize(p).model for p in preds])
    measured = np.array([40e-6, 50e-6, 60e-6, 45e-6, 55e-6])
    ad = base.adapt(X, np.log(measured / np.array([p.latency_s for p in preds])), device="tiny-host")
    assert ad.adaptation_["min_latency_s"] == pytest.approx(40e-6, rel=1e-6)  # features are float32
    figures, noted = 0, 0
    overhead_s = base.overhead_s_ * math.exp(base.host_offset())  # as it enters the figure: times the lent offset
    for p in tiny:
        out = hybridperf.predict(p, spec, residual=ad)
        zero_shot = hybridperf.predict(p, spec, residual=base)
        # zero-shot: the overhead named where it is most of the figure (more than the rest of it), and not elsewhere
        named = f"overhead ({overhead_s * 1e6:.0f} us)" in zero_shot.latency_note
        assert named == (overhead_s > zero_shot.latency_s - overhead_s), zero_shot.latency_note
        noted += named
        if out.latency_s >= 40e-6:
            assert BELOW_TRAINING_SCALE not in out.latency_note
            figures += 1
    assert figures >= 1 and noted >= 1


def test_packaged_figures_do_not_change():
    """squeezenet on the packaged host-epyc-1c model and on the T4: no note; the figures are pinned by the
    prediction-figure tests (tests/prediction_figures.py), this only says no scale note was added."""
    for dev in ("host-epyc-1c", "t4"):
        assert BELOW_TRAINING_SCALE not in hybridperf.predict(EXAMPLE, dev).latency_note
