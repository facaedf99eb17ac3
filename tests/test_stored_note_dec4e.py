"""A prediction priced by the user's own calibrated model names it (2026-12-04).

Until 2026-12-04 a model ``hybridperf calibrate`` stored in the user data home (``models/<id>/``, found before the
packaged ``hybridperf/data/models/``) gave its predictions the packaged model's words ("lightgbm residual ... trained
on 186 measurements ..."): nothing said the user's calibration was in use, or where it was stored (one forgotten
gave its figures unexplained). The same for the cross-host adaptation of ``calibrate --measure`` (and ``host``'s), and
for a GPU few-shot adaptation (``gpu_adaptation-<runtime>.json``), which said "few-shot adapted on K measured models"
but not that it was the user's file. Now the calibration note names the place (``predict --format json``:
``calibration_stored_in``); a packaged model's note is as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "squeezenet1_1.onnx"
PACKAGED = ROOT / "hybridperf" / "data" / "models" / "host-epyc-1c"
ZEN4 = ROOT / "hybridperf" / "data" / "hw_specs" / "host-epyc-zen4-1c.yaml"


@pytest.fixture(scope="module")
def squeezenet():
    from hybridperf.analysis.analyze import analyze

    return analyze(EXAMPLE)


def test_a_calibrated_model_in_the_data_home_is_named(home, squeezenet):
    from hybridperf.api import latency_model, predict_on, report_dict
    from hybridperf.residual.model import ResidualModel

    packaged = predict_on(squeezenet, "host-epyc-1c")
    # the packaged model's note: its description alone, as before
    assert packaged.calibration == ResidualModel.load(PACKAGED).describe()
    assert report_dict(packaged)["calibration_stored_in"] is None
    assert latency_model("host-epyc-1c") == packaged.calibration

    d = home / "models" / "host-epyc-1c"
    shutil.copytree(PACKAGED, d)  # as `calibrate` stores it, without measuring (no sheet recorded)
    mine = predict_on(squeezenet, "host-epyc-1c")
    named = (f"; your model, stored by `hybridperf calibrate` in {d} (`calibrate --device host-epyc-1c --reset` to "
             "drop it)")
    assert mine.calibration == f"{packaged.calibration}{named}; sheet not recorded"
    assert mine.latency_s == packaged.latency_s
    assert report_dict(mine)["calibration_stored_in"] == str(d)
    assert latency_model("host-epyc-1c") == f"{packaged.calibration}{named}"  # `devices` says it too


def test_a_model_adapted_from_a_stored_one_is_not_it(stored):
    """``calibrate`` adapts a fresh load of the stored model: the new one is not stored (yet)."""
    from hybridperf.residual.model import ResidualModel
    from hybridperf.residual.features import MODEL_FEATURES

    m = ResidualModel.load(stored)
    assert m.stored_in_ == str(stored)
    X = np.random.default_rng(0).normal(size=(4, len(MODEL_FEATURES)))
    assert m.adapt(X, np.full(4, 0.1)).stored_in_ is None
    assert m.summary() == m.describe() + (f"; your model, stored by `hybridperf calibrate` in {stored} "
                                          "(`calibrate --device host-epyc-1c --reset` to drop it)")


def _sheet(path: Path) -> Path:
    import yaml

    raw = yaml.safe_load(ZEN4.read_text())
    raw["id"] = path.stem
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _adapted(spec, threads: int = 1):
    """The cross-host model adapted to four made-up measurements on ``spec`` (model rows only: fast)."""
    from hybridperf.residual.cross_host import base_model
    from hybridperf.residual.features import MODEL_FEATURES

    X = np.random.default_rng(1).normal(size=(4, len(MODEL_FEATURES)))
    return base_model(spec, threads).adapt(X, np.full(4, 0.2), device=spec.id)


def test_a_stored_cross_host_adaptation_is_named(tmp_path, home, squeezenet):
    from hybridperf.api import predict_on, report_dict
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.store import save_model

    sheet = _sheet(tmp_path / "my-box.yaml")
    zero_shot = predict_on(squeezenet, str(sheet)).calibration
    assert "your" not in zero_shot and zero_shot.startswith("cross-host lightgbm residual")
    model = _adapted(load_spec(sheet))
    d = save_model(model, home / "models" / "my-box")
    pred = predict_on(squeezenet, str(sheet))
    assert pred.calibration == (f"{model.describe()}; your model, stored by `hybridperf calibrate` in {d} "
                                "(`calibrate --device my-box --reset` to drop it)")
    assert "few-shot adapted with 4 measured models" in pred.calibration
    assert report_dict(pred)["calibration_stored_in"] == str(d)


def test_hosts_stored_model_is_named(home, squeezenet):
    from hybridperf.api import predict_on
    from hybridperf.device.spec import load_spec
    from hybridperf.measure.host import host_model_dir, host_threads, install_host_spec
    from hybridperf.residual.store import save_model

    cached = install_host_spec(ZEN4)
    d = save_model(_adapted(load_spec(cached), host_threads()), host_model_dir())
    assert f"; your model, stored by `hybridperf calibrate` in {d} (`calibrate --device host --reset` to drop it)" \
        in predict_on(squeezenet, "host").calibration


def test_a_stored_gpu_adaptation_is_named(home, squeezenet):
    from hybridperf.api import predict_on
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.zero_shot import ZeroShotGpu, for_device

    t4 = load_spec("t4")
    assert for_device(t4, "torch").stored_in_ is None  # zero-shot: nothing stored
    path = ZeroShotGpu(None, "torch", {"host": 0.1}, 4, weighted_host=True).save_adaptation("t4", sheet=t4)
    adapted = for_device(t4, "torch")
    assert adapted.adapted_on == 4 and adapted.stored_in_ == str(path)
    note = adapted.summary(t4)
    assert note.startswith("cross-device model few-shot adapted on 4 measured models of t4; your adaptation, stored "
                           f"by `hybridperf calibrate` in {path} (delete it to drop it); runtime torch (")
    assert predict_on(squeezenet, "t4").calibration_stored_in == str(path)
