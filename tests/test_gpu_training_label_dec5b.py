"""A training GPU's own sheet is not called zero-shot; every other GPU sheet still is (the label follows the pricing)."""

from __future__ import annotations

import json

import pytest

from hybridperf.data import packaged_dir
from hybridperf.device.spec import default_spec_dir, load_spec
from hybridperf.residual.zero_shot import MODEL_ID, ZERO_SHOT_NOTE, for_device, training_gpu_note

#: the sheet ids the shipped cross-device model was trained on (its sidecar's ``training_devices``)
TRAINING = tuple(json.loads((packaged_dir("models") / MODEL_ID / "cross_device.json").read_text())["training_devices"])


@pytest.fixture(scope="module")
def analyzed(model_dir):
    from hybridperf.analysis.analyze import analyze

    return analyze(str(model_dir / "resnet_like.onnx"), batch=1)


def test_the_training_gpus_are_the_sheets_priced_with_their_own_probe():
    assert set(TRAINING) == {"a100-pcie-40gb", "a100-pcie-80gb", "p100-pcie-16gb", "p4", "t4", "v100-pcie-32gb"}
    # the ids the label matches are the ids the model prices with a recorded probe
    assert set(for_device(load_spec("t4")).model.probes_) == set(TRAINING)


@pytest.mark.parametrize("device", TRAINING)
def test_a_training_gpu_is_not_called_zero_shot(device):
    # until 2026-12-05b: on t4, p4, p100, v100 and both A100 PCIe sheets the label read "zero-shot from spec", though
    # the model saw that GPU's operators and priced it with its own measured dispatch floor
    from hybridperf.api import latency_model

    words = latency_model(device)
    assert words.startswith(training_gpu_note(device)) and "zero-shot from spec" not in words
    assert "not zero-shot" in words and "(its dispatch floor in the operator data)" in words


@pytest.mark.parametrize("runtime", ["torch", "torch-cudagraph"])
def test_a_training_gpu_s_prediction_is_not_zero_shot_and_its_figures_are_unchanged(analyzed, runtime):
    # until 2026-12-05b: execution.zero_shot was true on t4; only the words change, not the figures
    from hybridperf.api import predict_on

    pred = predict_on(analyzed, "t4", runtime=runtime)
    assert not pred.execution.zero_shot
    assert pred.calibration.startswith(
        "cross-device model, not zero-shot: t4 is one of its training GPUs (trained on P4, P100, T4, V100, A100 "
        "operators)")
    model = for_device(load_spec("t4"), runtime)
    bd, _ = model.breakdown(analyzed, load_spec("t4"))
    assert pred.latency_s == model.latency_s(bd)


@pytest.mark.parametrize("device", ["l4", "a100-sxm-40gb", "h100-sxm", "jetson-orin-nano-8gb"])
def test_a_gpu_measured_nowhere_stays_zero_shot(analyzed, device):
    from hybridperf.api import predict_on

    pred = predict_on(analyzed, device)
    assert pred.calibration.startswith(ZERO_SHOT_NOTE) and pred.execution.zero_shot
    assert "training GPUs (trained on" not in pred.calibration


def test_a_copy_of_a_training_sheet_under_another_id_is_priced_and_called_zero_shot(analyzed, tmp_path):
    """Matched by sheet id, as the probe is: the copy takes the zero-shot defaults (the median floor), so it is
    zero-shot, and says so."""
    from hybridperf.api import predict_on

    path = tmp_path / "my-t4.yaml"
    path.write_text((default_spec_dir() / "t4.yaml").read_text().replace("id: t4", "id: my-t4"))
    pred = predict_on(analyzed, load_spec(path), runtime="torch")
    assert pred.calibration.startswith(ZERO_SHOT_NOTE) and pred.execution.zero_shot
    assert "the operator data's median dispatch floor" in pred.calibration
    assert pred.latency_s != predict_on(analyzed, "t4", runtime="torch").latency_s
