"""Plan (21) of CHANGELOG 2026-12-07: a dilated convolution outside the learned CPU model's training rows (dilation
against the share of taps that read the input) is priced at its roofline and said so; the packaged model's envelope
comes from its training tables; the vocoders' figures come from the committed runs."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "hybridperf" / "data" / "models" / "cross-host-cpu"


def _rows(points):
    """Kernel rows (KERNEL_FEATURES wide) with the given (dilation, valid-tap share) and zeros elsewhere."""
    from hybridperf.residual.features import KERNEL_FEATURES
    from hybridperf.residual.model import _K_DILATION, _K_VALID_TAPS

    X = np.zeros((len(points), len(KERNEL_FEATURES)))
    for i, (d, f) in enumerate(points):
        X[i, _K_DILATION], X[i, _K_VALID_TAPS] = d, f
    return X


def test_the_envelope_keeps_the_points_no_other_dominates():
    from hybridperf.residual.model import dilation_envelope

    X = _rows([(1, 1.0), (2, 0.72), (2, 0.86), (12, 0.25), (12, 0.56), (24, 0.11), (24, 0.25), (36, 0.11)])
    assert dilation_envelope(X) == ((2.0, 0.86), (12.0, 0.56), (24.0, 0.25), (36.0, 0.11))
    assert dilation_envelope(_rows([(1, 1.0)])) == () and dilation_envelope(np.zeros((0, 3))) == ()


def test_a_dilated_convolution_is_inside_where_a_row_is_as_dilated_and_as_full():
    from hybridperf.residual.model import inside_envelope

    env = ((2.0, 0.86), (12.0, 0.56), (24.0, 0.25), (36.0, 0.11))
    X = _rows([(1, 1.0), (2, 0.86), (2, 0.87), (8, 0.5), (8, 0.99), (36, 0.11), (48, 0.05)])
    assert inside_envelope(X, env).tolist() == [True, True, False, True, False, True, False]
    assert inside_envelope(X, None).all()  # a model saved before 2026-12-07: no guard
    assert inside_envelope(X, ()).tolist() == [True] + [False] * 6  # no dilated row trained: every one outside


def test_the_packaged_envelope_comes_from_its_training_tables():
    from benchmarks import cpu_cross_host as cc
    from hybridperf.residual.model import dilation_envelope

    data = cc.load_hosts(None, __import__("benchmarks.subnormal_scan", fromlist=["hazard_keys"]).hazard_keys())
    hosts = cc.training_hosts(None, not_trained=cc.NOT_TRAINED)
    env = dilation_envelope(np.vstack([data[h][2].X for h in hosts]))
    meta = json.loads((PACKAGED / "residual.json").read_text())
    assert meta["conv_dilation_envelope"] == [list(p) for p in env]
    assert [p[0] for p in env] == [2.0, 12.0, 24.0, 36.0]  # DeepLab's dilations: the only dilated training rows


def _tcn_layer(dilation: int, steps: int = 512, channels: int = 32):
    """One ``Conv1d`` of ``channels`` -> ``channels``, kernel 3, padding = dilation, over ``steps`` steps."""
    rng = np.random.default_rng(dilation)
    w = numpy_helper.from_array(rng.standard_normal((channels, channels, 3)).astype(np.float32), "W")
    node = helper.make_node("Conv", ["x", "W"], ["y"], dilations=[dilation], pads=[dilation, dilation],
                            kernel_shape=[3])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, channels, steps))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_a_long_dilated_1d_convolution_is_priced_at_its_roofline_and_said():
    from hybridperf.api import analyze, predict_on
    from hybridperf.estimate.pricing import UNTRAINED_DILATION

    pred = predict_on(analyze(_tcn_layer(16)), "host-epyc-zen4-1c")
    conv = [kp for kp in pred.kernels if kp.kernel.counts_toward_time]
    assert conv and all(not kp.calibrated and kp.latency_s == kp.estimate.latency_s for kp in conv)
    assert UNTRAINED_DILATION in pred.latency_note and "priced at their roofline" in pred.latency_note
    assert any(UNTRAINED_DILATION in w for w in pred.warnings)
    # undilated, the same layer is the learned model's
    plain = predict_on(analyze(_tcn_layer(1)), "host-epyc-zen4-1c")
    assert any(kp.calibrated for kp in plain.kernels) and UNTRAINED_DILATION not in plain.latency_note


def _packaged_with_envelope(d: Path, *envelope) -> Path:
    """A copy of the packaged model in ``d`` whose sidecar has no envelope (no argument) or ``envelope[0]``, its
    figures digest recorded again (as save() records it), so that only the envelope can refuse it."""
    from hybridperf.residual.cross_host import CrossHostModel
    from hybridperf.residual.model import ENVELOPE_KEY
    from hybridperf.residual.sidecar import FIGURES_KEY, figures_digest

    shutil.copytree(PACKAGED, d)
    meta = json.loads((d / "residual.json").read_text())
    del meta[ENVELOPE_KEY]
    if envelope:
        meta[ENVELOPE_KEY] = envelope[0]
    meta[FIGURES_KEY] = figures_digest(CrossHostModel._priced(meta))
    (d / "residual.json").write_text(json.dumps(meta, indent=1) + "\n")
    return d


def test_a_model_without_an_envelope_prices_dilated_convolutions_as_before(tmp_path):
    """A sidecar saved before 2026-12-07 has no envelope: it loads, and its model calibrates every convolution (as
    then)."""
    import copy

    from hybridperf.api import analyze, predict_on
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.cross_host import CrossHostModel, base_model, sheet_cpu_label

    assert CrossHostModel.load(_packaged_with_envelope(tmp_path / "old")).conv_dilation_envelope_ is None
    spec = load_spec("host-epyc-zen4-1c")
    old = copy.copy(base_model(spec, 1, sheet_cpu_label(spec)))
    old.conv_dilation_envelope_ = None
    pred = predict_on(analyze(_tcn_layer(16)), spec, residual=old)
    assert all(kp.calibrated for kp in pred.kernels if kp.kernel.counts_toward_time)


@pytest.mark.parametrize("bad", [[[1.0, 0.5]], [[2.0, "0.5"]], [[2.0]], "x", [[2.0, True]]])
def test_a_bad_envelope_in_a_sidecar_is_refused(bad, tmp_path):
    from hybridperf.residual.cross_host import CrossHostModel
    from hybridperf.residual.model import ENVELOPE_KEY

    with pytest.raises(Exception, match=ENVELOPE_KEY):
        CrossHostModel.load(_packaged_with_envelope(tmp_path / "bad", bad))


def test_a_model_round_trips_its_envelope(tmp_path):
    from hybridperf.residual.cross_host import CrossHostModel

    m = CrossHostModel.load(PACKAGED)
    m.save(tmp_path / "again")
    assert CrossHostModel.load(tmp_path / "again").conv_dilation_envelope_ == m.conv_dilation_envelope_
    assert m.conv_dilation_envelope_[0] == (2.0, 0.855625)


#: the vocoders' runs (plan (21)): setting -> (MAPE % with (21), without it)
VOCODERS = {"host-epyc-zen4-1c": (15.5, 20.8), "host-epyc-zen4-2c": (24.9, 30.8)}


@pytest.mark.parametrize("setting", sorted(VOCODERS))
def test_the_vocoders_figures_come_from_the_committed_runs(setting):
    from benchmarks.recurrent_cost import _stats, measured

    run = ROOT / "calibration" / "host-epyc-zen4-vocoders"
    truth = measured(run / setting)
    got = []
    for name in ("predictions_21.csv", "predictions.csv"):
        pred = {r["model"]: float(r["predicted_s"]) for r in csv.DictReader((run / name).open())
                if r["device"] == setting}
        assert set(pred) == set(truth)
        got.append(round(_stats(pred, truth)[0], 1))
    assert tuple(got) == VOCODERS[setting]
    assert got[0] < got[1]  # plan (21)'s criterion at this thread count
