"""Invariants found broken by the model x device sweep of 2026-12-05b (real torchvision / HF exports on every sheet),
each with what happened until then."""
from __future__ import annotations

import onnx
import pytest

import hybridperf
from onnx_models import densenet_like


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory):
    """A DenseNet block whose channels (8, 16, 24, 32) lay out differently under onnxruntime's x86 NCHWc kernels
    (AVX2 block 8, AVX-512 block 16) and its Arm kernels (no NCHWc): its onnxruntime peak depends on the sheet's ISA."""
    model, _ = densenet_like()
    path = tmp_path_factory.mktemp("inv") / "densenet_like.onnx"
    onnx.save(model, str(path))
    return str(path)


def test_session_onnxruntime_peak_follows_each_cpu_sheets_instruction_set(conv_model):
    # until 2026-12-05b: Session kept onnxruntime's peak per model file, shapes and precision only, so the first CPU
    # sheet priced set every later one's: after host-epyc-1c (x86, AVX2) a session gave raspberry-pi-4b (Arm) the
    # x86 NCHWc peak and note (squeezenet1_1: 20852656 B where raspberry-pi-4b's own is 20822813 B, and
    # `check(..., max_memory=0.999 x the session's figure)` passed)
    session = hybridperf.Session()
    for device in ("host-epyc-1c", "host-epyc-zen4-1c", "raspberry-pi-4b", "host-epyc-1c"):
        shared = session.predict(conv_model, device, batch=1, runtime="auto")
        alone = hybridperf.predict(conv_model, device, batch=1, runtime="auto")
        assert shared.runtime == alone.runtime == "onnxruntime"
        assert shared.runtime_memory == alone.runtime_memory, device
        assert shared.peak_memory_bytes == alone.peak_memory_bytes, device


def test_session_predict_many_rows_follow_each_cpu_sheet(conv_model):
    # until 2026-12-05b: the same cache made predict_many([m], ["host-epyc-1c", "raspberry-pi-4b"]) price the Arm
    # row's memory with the x86 sheet's onnxruntime layout
    devices = ["host-epyc-1c", "raspberry-pi-4b"]
    rows = hybridperf.Session().predict_many([conv_model], devices, batch=1)
    for device in devices:
        alone = hybridperf.predict(conv_model, device, batch=1, runtime="auto")
        assert rows[(0, device)].runtime_memory == alone.runtime_memory, device
