"""What `predict` and `calibrate` say after `calibrate --device host --measure` on a CPU the cross-host model was
trained on (the 1-thread Zen 5 host, host-epyc-zen5-1c), found by a first user on 2026-12-05: the calibration note
dropped the training host's offset the figures still carried, and a rerun said "replaced the model" twice.

Words, files and exit codes only: the measuring is faked, the models are the tiny hand-built ones of
``tests/onnx_models.py``, the adaptations are set on the packaged model directly.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math

import numpy as np
import pytest

from hybridperf.cli import main
from test_calib_flow_dec4 import _fake_measuring, _host_home, _static_models
from test_first_user_dec5 import ZEN5, _calibrate, _no_correction

NONE = {"method": "none", "k": 5, "alone_weight": 0.0, "offset": 0.0, "slope": 0.0, "center": 0.0,
        "group_scales": None}


def _zen5_host(cpu: str = ZEN5):
    """The packaged model for ``host``: the Zen 4 core's sheet, 1 thread, on the CPU ``cpu``."""
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import base_model

    return base_model(dataclasses.replace(load_spec("host-epyc-zen4-1c"), id="host"), 1, cpu)


def _adapted(base, **adaptation):
    m = copy.copy(base)
    m.adaptation_ = {**NONE, **adaptation}
    return m


def test_an_adaptation_keeping_no_correction_still_names_the_training_hosts_offset():
    """Until 2026-12-05, before calibrating `predict -d host` on the Zen 5 said "the CPU of its training host
    host-epyc-zen5-1c (...): with that host's offset (x1.16), not zero-shot"; after a calibration that kept no
    correction only "few-shot adapted with 5 measured models (no correction kept: ...)", though its figure was the
    same, offset included. Now it still names that offset, as before calibrating."""
    base = _zen5_host()
    own = base.own_host()
    assert own is not None and own.figures.device == "host-epyc-zen5-1c"
    x = f"x{math.exp(own.log_offset):.2f}"
    assert f"with that host's offset ({x}), not zero-shot" in base.describe()
    m = _adapted(base)
    d = m.describe()
    assert (f"few-shot adapted with 5 measured models (no correction kept: none beat the base model by leave-one-out)"
            f", for host (1 thread(s)), the CPU of its training host host-epyc-zen5-1c ({ZEN5}, the same threads): "
            f"as before calibrating, with that host's offset ({x}), latency = fastest timed run") in d
    assert "zero-shot" not in d
    # true to what prices it: the adapted model adds exactly that offset, as the base model does
    from hybridperf.residual.features import MODEL_FEATURES

    X = np.random.default_rng(0).normal(size=(3, len(MODEL_FEATURES)))
    assert m._adaptation(X) == pytest.approx(np.full(3, own.log_offset))
    assert base._adaptation(X) == pytest.approx(m._adaptation(X))


def test_a_kept_correction_and_a_lent_offset_are_named_too():
    """The same, where the adaptation kept a correction (the offset is under it) and on a CPU that is no training host
    (the median offset it lends, as `predict` named it before calibrating); none where the figures carry no offset:
    group scales absorb it, a blend of weight 1 is the model of the K alone."""
    base = _zen5_host()
    x = f"x{math.exp(base.own_host().log_offset):.2f}"
    kept = _adapted(base, method="kernels+offset (5 trees), shrunk x0.5").describe()
    assert f"(kernels+offset (5 trees), shrunk x0.5), for host (1 thread(s)), the CPU of its training host " \
           f"host-epyc-zen5-1c ({ZEN5}, the same threads): corrected on top of that host's offset ({x})" in kept
    other = _zen5_host(cpu="")
    assert other.own_host() is None
    n = sum(e.lends for e in other.host_effects_)
    lent = f"x{math.exp(other.lent_offset()):.2f}"
    assert f"with the median offset of {n} of its training CPUs ({lent})" in other.describe()
    assert (f"(no correction kept: none beat the base model by leave-one-out), for host (1 thread(s)): as before "
            f"calibrating, with the median offset of {n} of its training CPUs ({lent})") in _adapted(other).describe()
    for no_offset in ({"method": "group scales", "group_scales": [1.0] * 4}, {"alone_weight": 1.0}):
        assert "offset (x" not in _adapted(base, **no_offset).describe()
    half = _adapted(base, alone_weight=0.5).describe()  # blended in part: with the offset, not "as before"
    assert f"the same threads): with that host's offset ({x}), blended 0.5 with a model of those 5 alone" in half


def test_predict_after_a_calibration_without_correction_names_the_offset(tmp_path, capsys, monkeypatch):
    """End to end on the Zen 5 (faked measuring): `predict -d host`'s calibration note before and after a
    calibration that kept no correction both name the training host's offset (until 2026-12-05 the second did not)."""
    _host_home(tmp_path, monkeypatch, cpu=ZEN5)
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4))
    _no_correction(monkeypatch)
    models = _static_models(tmp_path / "m")
    assert main(["predict", str(models[0]), "-d", "host", "--format", "json"]) == 0
    before = capsys.readouterr().out
    assert "the CPU of its training host host-epyc-zen5-1c" in before and "with that host's offset (x" in before
    assert _calibrate(models) == 0
    capsys.readouterr()
    assert main(["predict", str(models[0]), "-d", "host", "--format", "json"]) == 0
    after = capsys.readouterr().out
    assert "no correction kept" in after
    assert (f"the CPU of its training host host-epyc-zen5-1c ({ZEN5}, the same threads): as before calibrating, with "
            "that host's offset (x") in after


def test_a_rerun_says_replaced_the_model_once(tmp_path, capsys, monkeypatch):
    """Until 2026-12-05 a second `calibrate --measure` printed "hybridperf: note: replaced the model stored in DIR
    before (...)" on stderr and "replaced the model stored there before: ..." in the report on stdout. Now the report
    says it (as `probe` and the GPU calibration do); with --format json, whose stdout is data, the JSON's
    ``replaced`` and the stderr note."""
    _host_home(tmp_path, monkeypatch, cpu=ZEN5)
    _fake_measuring(monkeypatch, (2e-3, 1e-3, 5e-4))
    models = _static_models(tmp_path / "m")
    assert _calibrate(models) == 0
    capsys.readouterr()
    assert _calibrate(models) == 0
    cap = capsys.readouterr()
    assert "replaced the model" not in cap.err
    assert sum("replaced the model" in line for line in cap.out.splitlines()) == 1
    assert _calibrate(models, "--format", "json") == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out)["replaced"].startswith("cross-host")
    assert sum("replaced the model" in line for line in cap.err.splitlines()) == 1
