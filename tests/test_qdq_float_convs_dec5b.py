"""QDQ convolutions onnxruntime's x86 build runs in float32 (helper a11, 2026-12-05b).

``quantize_static`` with its default int8 activations: onnxruntime's optimiser on x86 fuses a
``DequantizeLinear -> Conv -> QuantizeLinear`` group into ``QLinearConv`` only for uint8 activations, so the Conv runs
in float32. Tiny models built here and quantized with ``onnxruntime.quantization``; traffic golden values are
arithmetic (int8 1 B per element, float32 4 B).
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

pytest.importorskip("onnxruntime.quantization")

import hybridperf  # noqa: E402
from hybridperf.analysis.int8 import anchor_records, qdq_anchor_names  # noqa: E402
from hybridperf.estimate import pricing  # noqa: E402

CIN, COUT, HW = 8, 16, 16  # 3x3 convs 8 -> 16, then two 16 -> 16, on 1x8x16x16
CPU = "host-epyc-zen4-1c"  # an x86 sheet (AVX-512)


def _float_convs(path):
    """conv1 -> relu -> (conv2, conv3) -> concat: the fork and the concat keep onnxruntime's x86 optimiser from turning
    the int8 activations into uint8, so none of the three QDQ convs fuses into QLinearConv (uint8: all three do)."""
    rng = np.random.default_rng(0)

    def w(name, cout, cin):
        return numpy_helper.from_array(rng.normal(0, 0.1, (cout, cin, 3, 3)).astype(np.float32), name)

    nodes = [helper.make_node("Conv", ["x", "W1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "W2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["r1", "W3"], ["c3"], name="conv3", pads=[1, 1, 1, 1]),
             helper.make_node("Concat", ["c2", "c3"], ["y"], name="cat", axis=1)]
    g = helper.make_graph(nodes, "convs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, CIN, HW, HW])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2 * COUT, HW, HW])],
                          [w("W1", COUT, CIN), w("W2", COUT, COUT), w("W3", COUT, COUT)])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _static(src, dst, activation):
    from test_int8_real_dec5b import _static as quantize

    return str(quantize(src, dst, "QDQ", activation))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("qdq")
    f = _float_convs(d / "f.onnx")
    return {"QInt8": _static(f, d / "s8.onnx", "QInt8"), "QUInt8": _static(f, d / "u8.onnx", "QUInt8")}


def _conv_kernels(pred):
    recs = pred.analyzed.analysis.records
    return [kp.kernel for kp in pred.kernels if any(recs[i].op == "relax.nn.conv2d" for i in kp.kernel.op_indices)]


def _qdq_notes(pred):
    return [w for w in pred.warnings if "QDQ" in w]


def test_int8_activation_convs_onnxruntime_leaves_float_are_priced_float32(models):
    pred = hybridperf.predict(models["QInt8"], CPU, runtime="onnxruntime", residual=None)
    ks = _conv_kernels(pred)
    # until 2026-12-05b: every QDQ conv of a quantize_static model (int8 activations) was priced at the int8 peak on a
    # CPU sheet, though onnxruntime's x86 optimiser leaves such convs DequantizeLinear -> Conv (float32) ->
    # QuantizeLinear (ResNet-18: 11 of 20 convs, predicted 10.2 ms, measured 25.8 ms)
    assert [k.precision for k in ks] == ["fp32", "fp32", "fp32"]
    assert _qdq_notes(pred) == ["3 of 3 QDQ convolutions stay float32 in onnxruntime's optimised graph "
                                "(int8 activations on x86): priced as float32"]
    before = hybridperf.predict(models["QInt8"], CPU, runtime="tvm", residual=None)
    for k, b in zip(ks, _conv_kernels(before), strict=True):  # its tensors at 4 B per element where int8 read 1 B
        assert b.precision == "int8"
        assert (k.cost.flops, k.cost.bytes_read, k.cost.weight_bytes) == (
            b.cost.flops, 4 * b.cost.bytes_read, 4 * b.cost.weight_bytes)
    assert pred.latency_s > before.latency_s


def test_uint8_activation_convs_onnxruntime_fuses_stay_int8(models):
    pred = hybridperf.predict(models["QUInt8"], CPU, runtime="onnxruntime", residual=None)
    assert [k.precision for k in _conv_kernels(pred)] == ["int8", "int8", "int8"]
    assert _qdq_notes(pred) == []


@pytest.mark.parametrize("device,runtime", [(CPU, "tvm"), ("t4", None), ("snapdragon-855", "onnxruntime")])
def test_other_runtimes_gpu_and_arm_sheets_keep_int8_pricing(models, device, runtime):
    # tvm: its own kernels; a GPU sheet; an ARM sheet (onnxruntime's ARM build fuses int8 activations)
    pred = hybridperf.predict(models["QInt8"], device, runtime=runtime, residual=None)
    assert [k.precision for k in _conv_kernels(pred)] == ["int8", "int8", "int8"]
    assert _qdq_notes(pred) == []


def test_without_onnxruntime_int8_pricing_stays_and_says_not_checked(models, monkeypatch):
    pricing._ort_float_anchors_of.cache_clear()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime fails, find_spec says None
    try:
        pred = hybridperf.predict(models["QInt8"], CPU, runtime="onnxruntime", residual=None)
    finally:
        pricing._ort_float_anchors_of.cache_clear()
    assert [k.precision for k in _conv_kernels(pred)] == ["int8", "int8", "int8"]
    assert _qdq_notes(pred) == [pricing.ORT_QDQ_UNCHECKED.format(why="onnxruntime is not installed")]
    assert pricing.ORT_QDQ_UNVERIFIED in pred.latency_note  # since the review of 2026-12-05: the latency is marked


def test_anchors_map_by_provenance_and_by_order_alike(models):
    from hybridperf.analysis.analyze import analyze

    a = analyze(models["QInt8"], provenance=True)
    anchors = qdq_anchor_names(onnx.load(models["QInt8"]))
    assert anchors == ("conv1", "conv2", "conv3")
    by_node = anchor_records(a.analysis, a.source_nodes, anchors)
    assert by_node is not None and by_node == anchor_records(a.analysis, {}, anchors)
    # a count that disagrees (a normaliser merged or split an anchor) is no match: note only, latency unverified
    assert anchor_records(a.analysis, {}, anchors[:1]) is None


def test_anchors_not_matched_keep_int8_and_mark_the_latency_unverified(models, monkeypatch):
    import hybridperf.analysis.int8 as int8

    monkeypatch.setattr(int8, "anchor_records", lambda *a: None)  # as where a normaliser merged an anchor
    pred = hybridperf.predict(models["QInt8"], CPU, runtime="onnxruntime", residual=None)
    assert [k.precision for k in _conv_kernels(pred)] == ["int8", "int8", "int8"]
    assert _qdq_notes(pred)[0].startswith("3 of 3 QDQ convolutions stay float32 in onnxruntime's optimised graph")
    assert pred.latency_note.startswith("unverified: ") and "priced as int8 kernels (too low)" in pred.latency_note
