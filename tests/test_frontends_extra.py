"""PyTorch (torch.export) and TFLite frontends.

The TFLite models are written with the ``tflite`` package's generated flatbuffer
builders (no TensorFlow needed, ``tests/tflite_builder.py``): :func:`tflite_bytes`
assembles a Model from tensors and CONV_2D / RESHAPE / FULLY_CONNECTED operators.
"""

from __future__ import annotations

import numpy as np
import pytest
from tflite_builder import tflite_model

from hybridperf.errors import DynamicShapeError, InputError, ModelLoadError, UnsupportedModelError

# ----------------------------------------------------------- TFLite builder ----


def tflite_bytes(tensors: list[dict], ops: list[dict], inputs: list[int], outputs: list[int]) -> bytes:
    """:func:`tflite_builder.tflite_model` with this file's op defaults: ``CONV_2D`` 3x3 SAME, stride and
    dilation 1, and ``FULLY_CONNECTED``, each with ``act`` as its fused activation (0 none, 1 ReLU)."""
    def options(o: dict) -> tuple[str, dict] | None:
        act = o.get("act", 0)
        if o["op"] == "CONV_2D":
            return "Conv2DOptions", dict(Padding=0, StrideW=1, StrideH=1, DilationWFactor=1, DilationHFactor=1,
                                         FusedActivationFunction=act)
        if o["op"] == "FULLY_CONNECTED":
            return "FullyConnectedOptions", dict(FusedActivationFunction=act)
        return None

    return tflite_model(tensors, [{**o, "options": options(o)} for o in ops], inputs, outputs)


def conv_fc_tflite(batch: int = 1, hw: int = 8, cin: int = 3, cout: int = 4, ncls: int = 5, dynamic_batch: bool = False) -> bytes:
    """NHWC input -> CONV_2D 3x3 SAME + ReLU -> RESHAPE -> FULLY_CONNECTED."""
    rng = np.random.default_rng(0)
    k = hw * hw * cout
    tensors = [
        dict(name="input", shape=[batch, hw, hw, cin], dtype="float32", signature=[-1, hw, hw, cin] if dynamic_batch else None),
        dict(name="conv_w", shape=[cout, 3, 3, cin], dtype="float32", data=rng.standard_normal((cout, 3, 3, cin)).astype(np.float32)),
        dict(name="conv_b", shape=[cout], dtype="float32", data=np.zeros(cout, np.float32)),
        dict(name="conv_out", shape=[batch, hw, hw, cout], dtype="float32"),
        dict(name="flat_shape", shape=[2], dtype="int32", data=np.array([-1, k], np.int32)),
        dict(name="flat", shape=[batch, k], dtype="float32"),
        dict(name="fc_w", shape=[ncls, k], dtype="float32", data=rng.standard_normal((ncls, k)).astype(np.float32)),
        dict(name="fc_b", shape=[ncls], dtype="float32", data=np.zeros(ncls, np.float32)),
        dict(name="logits", shape=[batch, ncls], dtype="float32"),
    ]
    ops = [
        dict(op="CONV_2D", inputs=[0, 1, 2], outputs=[3], act=1),
        dict(op="RESHAPE", inputs=[3, 4], outputs=[5]),
        dict(op="FULLY_CONNECTED", inputs=[5, 6, 7], outputs=[8]),
    ]
    return tflite_bytes(tensors, ops, [0], [8])


def int8_conv_tflite(hw: int = 8, cin: int = 3, cout: int = 4) -> bytes:
    """A full-integer CONV_2D: int8 activations and weights, int32 bias."""
    rng = np.random.default_rng(1)
    tensors = [
        dict(name="input", shape=[1, hw, hw, cin], dtype="int8", scale=0.05, zp=0),
        dict(name="w", shape=[cout, 3, 3, cin], dtype="int8", data=rng.integers(-100, 100, (cout, 3, 3, cin)).astype(np.int8), scale=[0.01] * cout, zp=[0] * cout),
        dict(name="b", shape=[cout], dtype="int32", data=np.zeros(cout, np.int32), scale=[0.0005] * cout, zp=[0] * cout),
        dict(name="out", shape=[1, hw, hw, cout], dtype="int8", scale=0.1, zp=0),
    ]
    return tflite_bytes(tensors, [dict(op="CONV_2D", inputs=[0, 1, 2], outputs=[3])], [0], [3])


@pytest.fixture
def tiny_tflite(tmp_path):
    pytest.importorskip("tflite")
    p = tmp_path / "tiny.tflite"
    p.write_bytes(conv_fc_tflite())
    return p


# ------------------------------------------------------------------ TFLite ----


def test_tflite_loads_and_costs(tiny_tflite):
    from hybridperf.analysis.analyze import analyze
    from hybridperf.frontends.load import load_model

    loaded = load_model(tiny_tflite)
    assert loaded.format == "tflite"
    assert loaded.input_shapes == {"input": (1, 8, 8, 3)}
    assert loaded.node_count == 3
    a = analyze(tiny_tflite)
    ops = [r.op for r in a.analysis.records]
    assert "relax.nn.conv2d" in ops and "relax.matmul" in ops
    conv = next(r for r in a.analysis.records if r.op == "relax.nn.conv2d")
    assert conv.cost.flops == 2 * 1 * 4 * 8 * 8 * 3 * 3 * 3  # 2 * N*Cout*H*W * Cin*kh*kw
    mm = next(r for r in a.analysis.records if r.op == "relax.matmul")
    assert mm.cost.flops == 2 * 1 * 5 * 256  # 2 * M*N*K, K = 8*8*4
    assert a.analysis.weight_bytes == (4 * 27 + 4 + 5 * 256 + 5) * 4
    assert a.memory.planned_bytes > 0


def test_tflite_predicted_end_to_end_by_the_cli(tiny_tflite, capsys):
    import json

    from hybridperf.analysis.analyze import analyze
    from hybridperf.api import predict_on
    from hybridperf.cli import ExitCode, main

    assert main(["predict", str(tiny_tflite), "-d", "t4", "--roofline-only", "--format", "json"]) == ExitCode.OK
    d = json.loads(capsys.readouterr().out)
    want = predict_on(analyze(tiny_tflite), "t4", residual=None)
    assert d["model"] == str(tiny_tflite) and d["input_shapes"] == {"input": [1, 8, 8, 3]}
    assert d["totals"]["latency_s"] == pytest.approx(want.latency_s, rel=1e-12) and want.latency_s > 0
    assert d["totals"]["energy_j"] == pytest.approx(want.energy_j, rel=1e-12) and want.energy_j > 0
    assert d["totals"]["flops"] >= 2 * 4 * 8 * 8 * 27 + 2 * 5 * 256  # conv + fully connected MACs x 2
    assert d["memory"]["peak_bytes"] == want.peak_memory_bytes >= (4 * 27 + 4 + 5 * 256 + 5) * 4  # >= the fp32 weights
    assert d["coverage"]["unsupported_ops"] == []


def test_predict_many_takes_tflite_files(tiny_tflite, model_dir, capsys):
    import json
    import shutil

    from hybridperf.cli import ExitCode, main

    d = tiny_tflite.parent
    shutil.copy(model_dir / "resnet_like.onnx", d / "r.onnx")
    (d / "notes.txt").write_text("not a model")
    assert main(["predict-many", str(d), "-d", "t4", "--batch", "1", "--jobs", "1", "--format", "json"]) == ExitCode.OK
    rows = json.loads(capsys.readouterr().out)["models"]
    assert [(r["model"], r["status"]) for r in rows] == [(str(d / "r.onnx"), "ok"), (str(tiny_tflite), "ok")]
    assert all(r["latency_s"] > 0 for r in rows)


def test_tflite_batch_binds_dynamic_signature(tmp_path):
    pytest.importorskip("tflite")
    from hybridperf.frontends.tflite import load_tflite

    p = tmp_path / "dyn.tflite"
    p.write_bytes(conv_fc_tflite(dynamic_batch=True))
    assert load_tflite(p).input_shapes == {"input": (1, 8, 8, 3)}  # the stored placeholder size
    loaded = load_tflite(p, batch=4)
    assert loaded.input_shapes == {"input": (4, 8, 8, 3)}


def test_tflite_shape_flag_names_unknown_input(tiny_tflite):
    from hybridperf.frontends.tflite import load_tflite

    with pytest.raises(InputError, match="unknown input 'nope'"):
        load_tflite(tiny_tflite, shapes={"nope": (1, 2)})


def test_tflite_dynamic_dim_without_bound(tmp_path):
    pytest.importorskip("tflite")
    from hybridperf.frontends.tflite import load_tflite

    t = [dict(name="x", shape=[1, -1], dtype="float32", signature=[1, -1]),
         dict(name="w", shape=[2, 4], dtype="float32", data=np.ones((2, 4), np.float32)),
         dict(name="y", shape=[1, 2], dtype="float32")]
    p = tmp_path / "d.tflite"
    p.write_bytes(tflite_bytes(t, [dict(op="FULLY_CONNECTED", inputs=[0, 1, -1], outputs=[2])], [0], [2]))
    with pytest.raises(DynamicShapeError, match="--shape x=1xN"):  # "x=1x1" until 2026-12-05 (test_frontends_dec5)
        load_tflite(p)


@pytest.mark.parametrize("payload", [b"", b"not a flatbuffer at all", b"\x1c\x00\x00\x00TFL3" + b"\xff" * 12])
def test_tflite_corrupt_is_model_load_error(tmp_path, payload):
    pytest.importorskip("tflite")
    from hybridperf.frontends.load import load_model

    p = tmp_path / "bad.tflite"
    p.write_bytes(payload)
    with pytest.raises(ModelLoadError) as ei:
        load_model(p)
    msg = str(ei.value)
    assert "\n" not in msg and "re-export" in msg


def test_tflite_truncated_is_model_load_error(tmp_path):
    pytest.importorskip("tflite")
    from hybridperf.frontends.load import load_model

    p = tmp_path / "trunc.tflite"
    p.write_bytes(conv_fc_tflite()[:64])
    with pytest.raises(ModelLoadError):
        load_model(p)


def test_tflite_missing_file(tmp_path):
    from hybridperf.frontends.load import load_model

    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tmp_path / "nope.tflite")


def test_tflite_int8_imports_as_qdq(tmp_path):
    pytest.importorskip("tflite")
    from hybridperf.analysis.analyze import analyze

    p = tmp_path / "q.tflite"
    p.write_bytes(int8_conv_tflite())
    a = analyze(p)
    ops = [r.op for r in a.analysis.records]
    assert ops.count("relax.dequantize") == 3 and ops[-1] == "relax.quantize"
    assert a.input_shapes == {"input": (1, 8, 8, 3)}


# ----------------------------------------------------------------- PyTorch ----


@pytest.mark.torch
def test_torch_small_cnn_keeps_single_ops():
    torch = pytest.importorskip("torch")
    from torch import nn

    from hybridperf.api import analyze_torch

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2d(8)
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            y = nn.functional.gelu(torch.clamp(self.bn(self.conv(x)), 0, 6))
            return self.fc(y.mean((2, 3)))

    net = Net().train()
    a = analyze_torch(net, torch.randn(2, 3, 16, 16))
    assert net.training, "training flag restored after export"
    assert a.source == "<torch Net>"
    assert a.input_shapes == {"x": (2, 3, 16, 16)}
    ops = {r.op for r in a.analysis.records}
    assert {"relax.nn.conv2d", "relax.nn.batch_norm", "relax.clip", "relax.nn.gelu", "relax.matmul"} <= ops
    assert not a.analysis.unsupported_ops
    conv = next(r for r in a.analysis.records if r.op == "relax.nn.conv2d")
    assert conv.cost.flops == 2 * 2 * 8 * 16 * 16 * 3 * 3 * 3  # 2 * N*Cout*H*W * Cin*kh*kw
    assert a.memory.planned_bytes > 0
    assert len(a.kernels) < len(a.analysis.records)


@pytest.mark.torch
def test_torch_sdpa_becomes_one_attention_op():
    torch = pytest.importorskip("torch")
    from torch import nn

    from hybridperf.frontends.torch_export import load_torch

    class Attn(nn.Module):
        def forward(self, q, k, v):
            return nn.functional.scaled_dot_product_attention(q, k, v)

    x = torch.randn(1, 4, 16, 32)
    loaded = load_torch(Attn(), (x, x, x))
    assert loaded.format == "torch.export"
    from hybridperf.analysis.cost_pass import analyze_module

    ops = [r.op for r in analyze_module(loaded.module).records]
    assert ops.count("relax.nn.attention") == 1


@pytest.mark.torch
def test_torch_falls_back_to_decomposition():
    torch = pytest.importorskip("torch")
    from torch import nn

    from hybridperf.frontends.torch_export import load_torch

    class RMS(nn.Module):
        def forward(self, x):
            return nn.functional.rms_norm(x, (8,))

    loaded = load_torch(RMS(), torch.randn(2, 8))
    assert loaded.format == "torch.export (decomposed)"


@pytest.mark.torch
def test_torch_unsupported_op_is_clean_error():
    torch = pytest.importorskip("torch")
    from torch import nn

    from hybridperf.frontends.torch_export import load_torch

    class Amax(nn.Module):
        def forward(self, x):
            return x.amax(1)

    with pytest.raises(UnsupportedModelError, match="amax") as ei:
        load_torch(Amax(), torch.randn(2, 8))
    assert "\n" not in str(ei.value)


@pytest.mark.torch
def test_torch_bad_arguments():
    torch = pytest.importorskip("torch")
    from hybridperf.frontends.torch_export import load_torch

    with pytest.raises(InputError, match="torch.nn.Module"):
        load_torch(lambda x: x, torch.randn(1))
    with pytest.raises(InputError, match="example inputs"):
        load_torch(torch.nn.ReLU(), ())


@pytest.mark.torch
def test_torch_export_failure_is_model_load_error():
    torch = pytest.importorskip("torch")
    from torch import nn

    from hybridperf.frontends.torch_export import load_torch

    class DataDependent(nn.Module):
        def forward(self, x):
            return x[x > 0]  # data-dependent output shape

    with pytest.raises((ModelLoadError, UnsupportedModelError)):
        load_torch(DataDependent(), torch.randn(8))


@pytest.mark.torch
def test_pt2_roundtrip(tmp_path):
    torch = pytest.importorskip("torch")
    from hybridperf.frontends.torch_export import load_pt2

    ep = torch.export.export(torch.nn.Linear(4, 3).eval(), (torch.randn(2, 4),))
    p = tmp_path / "lin.pt2"
    torch.export.save(ep, str(p))
    loaded = load_pt2(p)
    assert loaded.source == str(p)
    assert list(loaded.input_shapes.values()) == [(2, 4)]
    with pytest.raises(InputError, match="re-export"):
        load_pt2(p, batch=3)
