"""A learned CPU figure that is mostly kernels of op families the model never saw is marked unverified."""

from __future__ import annotations

import pytest

pytest.importorskip("onnxruntime.quantization")

from hybridperf.estimate.pricing import UNTRAINED_FAMILIES  # noqa: E402
from test_int8_real_dec5b import _float_conv, _static  # noqa: E402


@pytest.mark.parametrize("device", ["host-epyc-1c", "host-epyc-zen4-1c"])
def test_static_int8_conv_on_a_float_trained_cpu_model_is_unverified(tmp_path, device):
    import hybridperf

    q = _static(_float_conv(tmp_path / "f.onnx"), tmp_path / "q.onnx", "QDQ")
    pred = hybridperf.predict(str(q), device)
    # until 2026-12-05b: every kernel int8 at its roofline (the CPU models were trained on float32 models only), the
    # figure unmarked and passed by check (a static int8 ResNet-18: 10.2 ms predicted, about 64 ms measured)
    assert pred.latency_note.startswith("unverified: 100% of it is")
    assert UNTRAINED_FAMILIES in pred.latency_note and "int8 kernels" in pred.latency_note
    assert any(UNTRAINED_FAMILIES in w for w in pred.warnings)


def test_the_float_model_it_came_from_is_not(tmp_path):
    import hybridperf

    pred = hybridperf.predict(str(_float_conv(tmp_path / "f.onnx")), "host-epyc-1c")
    assert UNTRAINED_FAMILIES not in pred.latency_note


def test_check_marks_it(tmp_path, capsys):
    from hybridperf.cli import main

    q = _static(_float_conv(tmp_path / "f.onnx"), tmp_path / "q.onnx", "QOperator")
    assert main(["check", str(q), "-d", "host-epyc-1c", "--max-latency", "10s"]) == 0
    assert "ok (unverified)" in capsys.readouterr().out
