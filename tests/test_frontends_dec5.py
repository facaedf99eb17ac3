"""Audit of the TFLite, torch.export / torch file and int8 frontends as a user meets them (2026-12-05): corrupt
flatbuffers, dynamic TFLite dims past the batch, a --shape that does not fit a TFLite model, a .pt2 given its own
shape, empty torch files and ONNX files under another format's name, and the shared ONNX node walker.

TFLite files are written with ``tests/tflite_builder.py`` (no TensorFlow); the torch tests are marked ``torch``.
"""

from __future__ import annotations

import numpy as np
import pytest
from tflite_builder import tflite_model

from hybridperf.errors import DynamicShapeError, InputError, ModelLoadError, UnsupportedModelError

_VALID = 1  # tflite.Padding.VALID


def _write(tmp_path, name, data):
    pytest.importorskip("tflite")
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _int8_conv() -> bytes:
    """Full-int8 CONV_2D 4->6 3x3 VALID on 1x8x8x4, per-channel weight scales, int32 bias."""
    rng = np.random.default_rng(0)
    t = [dict(name="x", shape=[1, 8, 8, 4], dtype="int8", scale=0.1, zp=-1),
         dict(name="w", shape=[6, 3, 3, 4], dtype="int8", data=rng.integers(-100, 100, (6, 3, 3, 4)).astype(np.int8),
              scale=[0.01] * 6, zp=[0] * 6),
         dict(name="b", shape=[6], dtype="int32", data=np.zeros(6, np.int32), scale=[0.001] * 6, zp=[0] * 6),
         dict(name="y", shape=[1, 6, 6, 6], dtype="int8", scale=0.2, zp=2)]
    conv = ("Conv2DOptions", dict(Padding=_VALID, StrideW=1, StrideH=1, DilationWFactor=1, DilationHFactor=1))
    return tflite_model(t, [dict(op="CONV_2D", inputs=[0, 1, 2], outputs=[3], options=conv)], [0], [3])


def _fc_seq(signature=(1, -1, 8)) -> bytes:
    """FULLY_CONNECTED 8->4 (keep_num_dims) on x 1x1x8 whose signature is ``signature`` (the converter stores a
    dynamic dim as 1)."""
    rng = np.random.default_rng(1)
    t = [dict(name="x", shape=[1, 1, 8], dtype="float32", signature=list(signature)),
         dict(name="w", shape=[4, 8], dtype="float32", data=rng.standard_normal((4, 8)).astype(np.float32)),
         dict(name="y", shape=[1, 1, 4], dtype="float32", signature=[*signature[:2], 4])]
    fc = ("FullyConnectedOptions", dict(KeepNumDims=True))
    return tflite_model(t, [dict(op="FULLY_CONNECTED", inputs=[0, 1, -1], outputs=[2], options=fc)], [0], [2])


# ------------------------------------------------------------------ TFLite ----


def test_tflite_int8_conv_golden(tmp_path):
    """Not a defect: the int8 CONV_2D that the corrupt-file tests below start from, priced by hand."""
    import hybridperf

    p = _write(tmp_path, "q.tflite", _int8_conv())
    r = next(r for r in hybridperf.analyze(p).analysis.records if r.op == "relax.nn.conv2d")
    assert r.precision == "int8"
    assert r.cost.flops == 2 * 6 * 6 * 6 * (3 * 3 * 4) + 6 * 6 * 6  # 2 * out HWC * kh*kw*cin, + the folded bias
    assert r.cost.bytes_read == 8 * 8 * 4 + 6 * 3 * 3 * 4 + 6 * 4  # int8 input and weight, int32 bias


def test_tflite_corrupt_bytes_are_one_line_model_load_errors(tmp_path, monkeypatch):
    """Until 2026-12-05 a flatbuffer with a corrupt byte could escape as struct.error, UnicodeDecodeError (a tensor
    name), KeyError (a tensor type) or TypeError: exit 3, "internal error ... report it". 67 of the 1024 single-byte
    flips to 0xFF of this model did; every third one is tried here."""
    from hybridperf.frontends.load import load_model

    # the frontend's gc.collect per failed load (to free TVM's BlockBuilder while its log is captured) was 70 % of
    # this test's 7 s; nothing here reads that log
    monkeypatch.setattr("hybridperf.frontends.tflite.gc.collect", lambda: 0)
    base = _int8_conv()
    p = _write(tmp_path, "m.tflite", base)
    failed = 0
    for i in range(8, len(base), 3):
        data = bytearray(base)
        data[i] = 0xFF
        p.write_bytes(bytes(data))
        try:
            load_model(p)
        except (ModelLoadError, UnsupportedModelError, InputError) as exc:
            assert "\n" not in str(exc), (i, str(exc))
            failed += 1
    assert failed > 0


def test_tflite_input_name_not_utf8_is_model_load_error(tmp_path):
    """Until 2026-12-05: UnicodeDecodeError from the input's name, exit 3."""
    from hybridperf.frontends.load import load_model

    t = [dict(name="xQQQQ", shape=[2, 4], dtype="float32"), dict(name="y", shape=[2, 4], dtype="float32")]
    data = tflite_model(t, [dict(op="RELU", inputs=[0], outputs=[1])], [0], [1])
    assert data.count(b"xQQQQ") == 1
    p = _write(tmp_path, "n.tflite", data.replace(b"xQQQQ", b"x\xda\xdaQQ"))
    with pytest.raises(ModelLoadError, match=r"\(UnicodeDecodeError\); the file is corrupt or truncated: re-export it"):
        load_model(p)


def test_tflite_corrupt_file_exits_2_on_the_cli(tmp_path, capsys):
    from hybridperf.cli import main

    data = bytearray(_int8_conv())
    data[20] = 0xFF  # one of the flips that raised struct.error (exit 3) until 2026-12-05
    p = _write(tmp_path, "c.tflite", bytes(data))
    assert main(["predict", str(p), "-d", "t4", "--roofline-only"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "corrupt" in err and "internal error" not in err


def test_tflite_dynamic_sequence_dim_must_be_bound(tmp_path):
    """A dynamic dim past the batch (signature -1, stored 1 by the converter) was priced at 1 until 2026-12-05 (a
    BERT at one token), without a word; now it is refused naming --shape, and priced as bound."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.frontends.tflite import load_tflite

    p = _write(tmp_path, "s.tflite", _fc_seq())
    with pytest.raises(DynamicShapeError, match=r"axis 1 \(the file stores 1, a placeholder\); bind it with "
                                                r"--shape x=1xNx8, N the size to price"):
        load_tflite(p)
    mm = next(r for r in analyze(p, shapes={"x": (1, 128, 8)}).analysis.records if r.op == "relax.matmul")
    assert mm.cost.flops == 2 * 128 * 4 * 8  # 2 * tokens * out * in


def test_tflite_dynamic_batch_still_takes_the_stored_size(tmp_path):
    """Not changed: a dynamic leading dim is priced at its stored size (the interpreter's before a resize), or
    --batch."""
    from hybridperf.frontends.tflite import load_tflite

    p = _write(tmp_path, "b.tflite", _fc_seq(signature=(-1, 1, 8)))
    assert load_tflite(p).input_shapes == {"x": (1, 1, 8)}
    assert load_tflite(p, batch=3).input_shapes == {"x": (3, 1, 8)}
    both = _write(tmp_path, "bs.tflite", _fc_seq(signature=(-1, -1, 8)))
    with pytest.raises(DynamicShapeError, match="axis 1"):
        load_tflite(both, batch=3)
    assert load_tflite(both, shapes={"x": (2, 16, 8)}).input_shapes == {"x": (2, 16, 8)}


def test_tflite_shape_that_does_not_fit_names_the_shape_flag(tmp_path, capsys):
    """Until 2026-12-05 a --shape that breaks the model (a BATCH_MATMUL's reduction length) read "convert the model
    again, or export it to ONNX"; ONNX models name the --shape values."""
    from hybridperf.cli import main

    t = [dict(name="a", shape=[3, 5, 7], dtype="float32"), dict(name="b", shape=[3, 7, 11], dtype="float32"),
         dict(name="y", shape=[3, 5, 11], dtype="float32")]
    p = _write(tmp_path, "bmm.tflite", tflite_model(
        t, [dict(op="BATCH_MATMUL", inputs=[0, 1], outputs=[2], options=("BatchMatMulOptions", {}))], [0, 1], [2]))
    assert main(["predict", str(p), "-d", "t4", "--roofline-only", "--shape", "a=3x5x9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.endswith("the input shapes (a=3x5x9, b=3x7x11) do not fit the model: check the --shape / --batch values")
    assert main(["predict", str(p), "-d", "t4", "--roofline-only", "--format", "json"]) == 0  # as stored: priced
    capsys.readouterr()


# ------------------------------------------------------- files by their name ----


def test_empty_torch_files_are_called_empty(tmp_path):
    """Until 2026-12-05 an empty .pt read "is a torch.save checkpoint ... load them into the model" (an empty .pt2 is
    the torch.export loader's: "cannot read ... re-export it with torch.export.save")."""
    from hybridperf.frontends.load import load_model

    for name in ("m.pt", "m.pth"):
        p = tmp_path / name
        p.write_bytes(b"")
        with pytest.raises(ModelLoadError, match=r"is empty \(0 bytes\), not a torch.export program: save it again"):
            load_model(p)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".pt2", ".tflite"])
def test_onnx_model_under_another_name_says_rename(tmp_path, suffix):
    """Until 2026-12-05 an ONNX file named .pt read "is a torch.save checkpoint", .pt2 "(BadZipFile)", .tflite "not a
    TFLite flatbuffer ... re-export it with the TFLite converter"."""
    from onnx_models import resnet_like

    import onnx

    from hybridperf.frontends.load import load_model

    p = tmp_path / f"m{suffix}"
    onnx.save(resnet_like(hw=8, width=4)[0], p)
    with pytest.raises(ModelLoadError) as ei:
        load_model(p)
    assert str(ei.value) == f"{p} is an ONNX model, not a {suffix} file: rename it to m.onnx"


# ----------------------------------------------------------------- PyTorch ----


@pytest.mark.torch
def test_static_pt2_takes_its_own_shape(tmp_path):
    """Until 2026-12-05 a .pt2 without dynamic dims refused any --shape, its own too, where an ONNX model with fixed
    shapes takes them: one --shape over a folder of both exports failed on the .pt2. Another shape is still refused."""
    torch = pytest.importorskip("torch")
    from hybridperf.frontends.load import load_model

    net = torch.nn.Conv2d(3, 8, 3).eval()
    p = tmp_path / "c.pt2"
    torch.export.save(torch.export.export(net, (torch.randn(1, 3, 16, 16),)), p)
    name = next(iter(load_model(p).input_shapes))
    assert load_model(p, shapes={name: (1, 3, 16, 16)}).input_shapes == {name: (1, 3, 16, 16)}
    with pytest.raises(InputError, match="has the shapes it was exported with"):
        load_model(p, shapes={name: (2, 3, 16, 16)})
    with pytest.raises(InputError, match="has the shapes it was exported with"):
        load_model(p, batch=1)


@pytest.mark.torch
def test_pt2_depthwise_and_linear_golden(tmp_path):
    """Not a defect: a depthwise conv and a Linear from a .pt2 file, priced by hand."""
    torch = pytest.importorskip("torch")
    import hybridperf

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dw = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
            self.fc = torch.nn.Linear(8 * 16 * 16, 10)

        def forward(self, x):
            return self.fc(self.dw(x).flatten(1))

    p = tmp_path / "n.pt2"
    torch.export.save(torch.export.export(Net().eval(), (torch.randn(1, 8, 16, 16),)), p)
    recs = hybridperf.analyze(p).analysis.records
    assert next(r for r in recs if r.op == "relax.nn.conv2d").cost.flops == 2 * 16 * 16 * 8 * 3 * 3  # 2*HWC*kh*kw
    assert next(r for r in recs if r.op == "relax.matmul").cost.flops == 2 * 10 * 8 * 16 * 16  # 2*out*in


# -------------------------------------------------------------------- int8 ----


def test_dynamic_quant_ops_uses_the_shared_walker():
    """Behaviour unchanged (2026-12-05): dynamic_quant_ops walks If bodies through normalize.walk_nodes, the one
    ONNX node walker, instead of a copy of its own."""
    import onnx
    from onnx import TensorProto, helper

    from hybridperf.analysis.int8 import dynamic_quant_ops
    from hybridperf.frontends.normalize import walk_nodes

    body = helper.make_graph([helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"])], "then", [],
                             [helper.make_tensor_value_info("q", TensorProto.UINT8, [4])])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["q2"])], "else", [],
                              [helper.make_tensor_value_info("q2", TensorProto.FLOAT, [4])])
    node = helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=other)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                                        helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    assert sorted(n.op_type for n in walk_nodes(model.graph.node)) == ["DynamicQuantizeLinear", "Identity", "If"]
    assert dynamic_quant_ops(model) == ("DynamicQuantizeLinear",)
    assert dynamic_quant_ops(onnx.ModelProto()) == ()


def test_qlinear_conv_and_matmul_golden(tmp_path):
    """Not a defect: onnxruntime's QOperator QLinearConv (dense and depthwise) and QLinearMatMul, priced by hand."""
    ort_q = pytest.importorskip("onnxruntime.quantization")
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    import hybridperf

    rng = np.random.default_rng(0)

    def init(name, shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["c1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=6),
             helper.make_node("Flatten", ["c2"], ["f"]), helper.make_node("MatMul", ["f", "wm"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
                          [init("w1", (6, 4, 3, 3)), init("b1", (6,)), init("w2", (6, 1, 3, 3)), init("b2", (6,)),
                           init("wm", (6 * 8 * 8, 10))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    f32, q = tmp_path / "f.onnx", tmp_path / "q.onnx"
    onnx.save(m, f32)

    class Reader(ort_q.CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": rng.standard_normal((1, 4, 8, 8)).astype(np.float32)} for _ in range(2)])

        def get_next(self):
            return next(self.it, None)

    ort_q.quantize_static(str(f32), str(q), Reader(), quant_format=ort_q.QuantFormat.QOperator)
    assert {n.op_type for n in onnx.load(q).graph.node} >= {"QLinearConv", "QLinearMatMul"}
    recs = hybridperf.analyze(q).analysis.records
    convs = [r for r in recs if r.op == "relax.nn.conv2d"]
    assert [r.precision for r in convs] == ["int8", "int8"]
    assert [r.cost.flops for r in convs] == [2 * 6 * 8 * 8 * (4 * 3 * 3) + 6 * 8 * 8,  # 2*out*k, + the folded bias
                                             2 * 6 * 8 * 8 * (1 * 3 * 3) + 6 * 8 * 8]  # depthwise: one input channel
    mm = next(r for r in recs if r.op == "relax.matmul")
    assert mm.precision == "int8" and mm.cost.flops == 2 * 10 * 6 * 8 * 8  # 2*N*K
    assert mm.cost.weight_bytes == 10 * 6 * 8 * 8  # int8 weight, 1 B


@pytest.mark.torch
def test_corrupt_pt2_is_one_line_without_torch_log(tmp_path, capfd):
    """Until 2026-12-05 torch 2.14's ``torch.export.load`` logged "Ran into the following error when deserializing"
    and a traceback (about 12 lines on stderr) before the one error."""
    torch = pytest.importorskip("torch")
    from hybridperf.cli import main

    p = tmp_path / "c.pt2"
    torch.export.save(torch.export.export(torch.nn.ReLU(), (torch.randn(2, 3),)), p)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])  # truncated
    assert main(["predict", str(p), "-d", "t4", "--roofline-only"]) == 2
    err = capfd.readouterr().err.strip()
    assert err.count("\n") == 0 and "re-export it with torch.export.save" in err
