"""Quantized TFLite models as a phone / NPU user brings them (helper int8audit, 2026-12-04).

Golden values are arithmetic: int8 1 B per element, int32 4 B.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

pytest.importorskip("tflite")

from hybridperf.costs import Status  # noqa: E402


def _tflite(tensors, ops, inputs, outputs) -> bytes:
    import tflite_builder

    return tflite_builder.tflite_model(tensors, ops, inputs, outputs)


def _records(a, op):
    return [r for r in a.analysis.records if r.op == op]


def pad_conv_tflite(pad_out_scale: float = 0.05) -> bytes:
    """Full-int8 PAD (1 px each side, as Keras' ZeroPadding2D writes before a stride-2 conv) -> CONV_2D 4->8 3x3
    VALID stride 2 on 1x8x8x4: what TFLite's converter writes for MobileNetV2."""
    rng = np.random.default_rng(5)
    t = [dict(name="x", shape=[1, 8, 8, 4], dtype="int8", scale=0.05, zp=-3),
         dict(name="pads", shape=[4, 2], dtype="int32", data=np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)),
         dict(name="xp", shape=[1, 10, 10, 4], dtype="int8", scale=pad_out_scale, zp=-3),
         dict(name="w", shape=[8, 3, 3, 4], dtype="int8", data=rng.integers(-100, 100, (8, 3, 3, 4)).astype(np.int8),
              scale=[0.01] * 8, zp=[0] * 8),
         dict(name="b", shape=[8], dtype="int32", data=rng.integers(-50, 50, 8).astype(np.int32),
              scale=[0.0005] * 8, zp=[0] * 8),
         dict(name="y", shape=[1, 4, 4, 8], dtype="int8", scale=0.1, zp=0)]
    opts = ("Conv2DOptions", {"Padding": 1, "StrideW": 2, "StrideH": 2})  # 1: VALID
    ops = [dict(op="PAD", inputs=[0, 1], outputs=[2]), dict(op="CONV_2D", inputs=[2, 3, 4], outputs=[5], options=opts)]
    return _tflite(t, ops, [0], [5])


def test_int8_pad_before_a_conv_imports_and_is_priced_as_int8(tmp_path):
    from hybridperf.analysis.analyze import analyze

    p = tmp_path / "padconv.tflite"
    p.write_bytes(pad_conv_tflite())
    # until 2026-12-04: refused, "TVM's TFLite frontend cannot import this model (The following quantized TFLite
    # operators are not supported in frontend TFLite yet: 'PAD'. ...)" (every Keras int8 MobileNetV2)
    a = analyze(p, fused=False)
    (pad,) = _records(a, "relax.nn.pad")
    assert pad.precision == "int8"
    assert (pad.cost.bytes_read, pad.cost.bytes_written) == (1 * 8 * 8 * 4, 1 * 10 * 10 * 4)  # int8 in and out
    (conv,) = _records(a, "relax.nn.conv2d")
    out = 1 * 4 * 4 * 8
    assert conv.precision == "int8"
    assert conv.cost.flops == 2 * out * (3 * 3 * 4) + out  # MACs x 2 + bias add
    assert conv.cost.bytes_read == 10 * 10 * 4 + 8 * 36 + 8 * 4  # int8 padded input, int8 weights, int32 bias


def test_int8_pad_prices_on_an_npu_with_a_memory_plan(tmp_path, capsys):
    import json

    from hybridperf.cli import main

    p = tmp_path / "padconv.tflite"
    p.write_bytes(pad_conv_tflite())
    assert main(["predict", str(p), "-d", "ethos-u55", "--format", "json"]) == 0
    j = json.loads(capsys.readouterr().out)
    assert j["coverage"]["by_status"]["unsupported"] == 0 and j["coverage"]["uncosted_ops"] == []
    assert j["memory"]["known"] and j["memory"]["execution"] == "int8"
    assert {k["precision"] for k in j["kernels"] if k["status"] == "counted"} == {"int8"}


def test_int8_pass_through_with_other_scale_is_one_clear_line(tmp_path, capsys):
    from hybridperf.cli import ExitCode, main

    p = tmp_path / "padmixed.tflite"
    p.write_bytes(pad_conv_tflite(pad_out_scale=0.07))  # not what TFLite writes: a PAD cannot rescale
    assert main(["predict", str(p), "-d", "raspberry-pi-4b"]) == ExitCode.INPUT_ERROR
    out, err = capsys.readouterr()
    (line,) = err.strip().splitlines()
    assert out == "" and "quantized PAD with a different scale or zero point" in line


def test_int8_layout_ops_import_as_int8(tmp_path):
    """TRANSPOSE -> STRIDED_SLICE -> SPLIT (2) on int8 1x4x6x8, one scale throughout (as TFLite writes them)."""
    from hybridperf.analysis.analyze import analyze

    q = dict(dtype="int8", scale=0.05, zp=2)
    t = [dict(name="x", shape=[1, 4, 6, 8], **q),
         dict(name="perm", shape=[4], dtype="int32", data=np.array([0, 2, 1, 3], np.int32)),
         dict(name="xt", shape=[1, 6, 4, 8], **q),
         dict(name="begin", shape=[4], dtype="int32", data=np.array([0, 1, 0, 0], np.int32)),
         dict(name="end", shape=[4], dtype="int32", data=np.array([1, 5, 4, 8], np.int32)),
         dict(name="stride", shape=[4], dtype="int32", data=np.array([1, 1, 1, 1], np.int32)),
         dict(name="xs", shape=[1, 4, 4, 8], **q),
         dict(name="axis", shape=[], dtype="int32", data=np.array(3, np.int32)),
         dict(name="y0", shape=[1, 4, 4, 4], **q),
         dict(name="y1", shape=[1, 4, 4, 4], **q)]
    ops = [dict(op="TRANSPOSE", inputs=[0, 1], outputs=[2]),
           dict(op="STRIDED_SLICE", inputs=[2, 3, 4, 5], outputs=[6], options=("StridedSliceOptions", {})),
           dict(op="SPLIT", inputs=[7, 6], outputs=[8, 9], options=("SplitOptions", {"NumSplits": 2}))]
    p = tmp_path / "layout.tflite"
    p.write_bytes(_tflite(t, ops, [0], [8, 9]))
    # until 2026-12-04: refused ("... not supported in frontend TFLite yet: 'SPLIT', 'STRIDED_SLICE', 'TRANSPOSE'")
    a = analyze(p, fused=False)
    (tr,) = _records(a, "relax.permute_dims")
    assert tr.precision == "int8" and (tr.cost.bytes_read, tr.cost.bytes_written) == (4 * 6 * 8, 4 * 6 * 8)
    assert not [r for r in a.analysis.records if r.status is Status.UNSUPPORTED]


def test_quantized_op_without_int8_lowering_is_named_with_a_way_on(tmp_path, capsys):
    from hybridperf.cli import ExitCode, main

    q = dict(dtype="int8", scale=0.05, zp=0)
    t = [dict(name="x", shape=[1, 4, 4, 2], **q), dict(name="y", shape=[1, 4, 4, 2], **q)]
    p = tmp_path / "sq.tflite"
    p.write_bytes(_tflite(t, [dict(op="SQUARE", inputs=[0], outputs=[1])], [0], [1]))
    assert main(["predict", str(p), "-d", "raspberry-pi-4b"]) == ExitCode.INPUT_ERROR
    out, err = capsys.readouterr()
    (line,) = err.strip().splitlines()
    # until 2026-12-04: TVM's message cut at 200 characters mid-word ("... applied directly to quantized integer te);
    # 1 operator"), naming no way on
    assert out == "" and "has no int8 lowering for quantized 'SQUARE'" in line and "--precision int8" in line
