"""Audit of the torch.export and TFLite frontends: golden FLOPs / bytes on tiny models, and the input
errors a user meets (half-precision programs, dynamic dims, keyword inputs, unsupported TFLite ops).

TFLite files are written with the ``tflite`` package's flatbuffer builders (:func:`tflite_model`, any
builtin options table by name); the torch tests are marked ``torch``.
"""

from __future__ import annotations

import numpy as np
import pytest
from tflite_builder import tflite_model

from hybridperf.errors import DynamicShapeError, InputError, ModelLoadError, UnsupportedModelError

def _write(tmp_path, name, data):
    pytest.importorskip("tflite")
    p = tmp_path / f"{name}.tflite"
    p.write_bytes(data)
    return p


def _records(a):
    return {r.op: r for r in a.analysis.records}


_VALID = 1  # tflite.Padding.VALID (SAME = 0)

# ------------------------------------------------------------------ TFLite ----


def test_tflite_depthwise_pool_softmax_golden(tmp_path):
    from hybridperf.analysis.analyze import analyze

    rng = np.random.default_rng(0)
    t = [dict(name="x", shape=[1, 8, 8, 4], dtype="float32"),
         dict(name="w", shape=[1, 3, 3, 4], dtype="float32", data=rng.standard_normal((1, 3, 3, 4)).astype(np.float32)),
         dict(name="b", shape=[4], dtype="float32", data=np.zeros(4, np.float32)),
         dict(name="dw", shape=[1, 8, 8, 4], dtype="float32"),
         dict(name="pool", shape=[1, 4, 4, 4], dtype="float32")]
    pool = ("Pool2DOptions", dict(Padding=_VALID, StrideW=2, StrideH=2, FilterWidth=2, FilterHeight=2))
    ops = [dict(op="DEPTHWISE_CONV_2D", inputs=[0, 1, 2], outputs=[3],
                options=("DepthwiseConv2DOptions", dict(Padding=0, StrideW=1, StrideH=1, DepthMultiplier=1,
                                                        DilationWFactor=1, DilationHFactor=1))),
           dict(op="AVERAGE_POOL_2D", inputs=[3], outputs=[4], options=pool)]
    a = analyze(_write(tmp_path, "dw", tflite_model(t, ops, [0], [4])))
    r = _records(a)
    conv = r["relax.nn.conv2d"]
    assert conv.cost.flops == 2 * 8 * 8 * 4 * 3 * 3  # 2 * H*W*C * kh*kw (depthwise: one input channel per output)
    assert conv.cost.bytes_read == (8 * 8 * 4 + 3 * 3 * 4) * 4 and conv.cost.bytes_written == 8 * 8 * 4 * 4
    assert r["relax.add"].cost.flops == 8 * 8 * 4  # the bias
    assert r["relax.nn.avg_pool2d"].cost.bytes_written == 4 * 4 * 4 * 4
    assert a.analysis.weight_bytes == (3 * 3 * 4 + 4) * 4
    assert not a.analysis.unsupported_ops


def test_tflite_int8_fully_connected_and_add_priced_int8(tmp_path):
    from hybridperf.analysis.analyze import analyze

    rng = np.random.default_rng(1)
    t = [dict(name="x", shape=[2, 16], dtype="int8", scale=0.1, zp=-3),
         dict(name="w", shape=[8, 16], dtype="int8", data=rng.integers(-100, 100, (8, 16)).astype(np.int8), scale=0.02),
         dict(name="b", shape=[8], dtype="int32", data=np.zeros(8, np.int32), scale=0.002),
         dict(name="y", shape=[2, 8], dtype="int8", scale=0.2, zp=1),
         dict(name="z", shape=[2, 8], dtype="int8", scale=0.3)]
    ops = [dict(op="FULLY_CONNECTED", inputs=[0, 1, 2], outputs=[3], options=("FullyConnectedOptions", {})),
           dict(op="ADD", inputs=[3, 3], outputs=[4], options=("AddOptions", {}))]
    a = analyze(_write(tmp_path, "q", tflite_model(t, ops, [0], [4])))
    mm = next(r for r in a.analysis.records if r.op == "relax.matmul")
    assert mm.precision == "int8"
    assert mm.cost.flops == 2 * 2 * 8 * 16 + 2 * 8  # 2*M*N*K, plus the int32 bias folded into the kernel
    assert mm.cost.bytes_read == 2 * 16 + 8 * 16 + 8 * 4  # int8 input and weight (1 B), int32 bias
    assert mm.cost.bytes_written == 2 * 8  # int8 output
    # the weight reaches the matmul through a permute_dims folded at import: still a constant, counted at 1 B
    assert mm.cost.weight_bytes == 8 * 16 + 8 * 4  # int8 weight, int32 bias (544 = 8*16*4 + 32 until 2026-12-03)
    add = [r for r in a.analysis.records if r.op == "relax.add" and r.cost.flops]
    assert [(r.precision, r.cost.flops, r.cost.bytes_read, r.cost.bytes_written) for r in add] == [("int8", 16, 2 * 16, 16)]


def test_tflite_custom_op_is_one_line_exit_2(tmp_path, capsys):
    from hybridperf.cli import main

    t = [dict(name="x", shape=[4, 8], dtype="float32"), dict(name="y", shape=[4, 8], dtype="float32")]
    p = _write(tmp_path, "c", tflite_model(t, [dict(op="CUSTOM", custom="MyOp", inputs=[0], outputs=[1])], [0], [1]))
    with pytest.raises(UnsupportedModelError):
        from hybridperf.frontends.load import load_model

        load_model(p)
    assert main(["predict", str(p), "-d", "t4", "--roofline-only"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not supported" in err


def test_tflite_dynamic_range_quantization_is_unsupported(tmp_path):
    from hybridperf.frontends.load import load_model

    t = [dict(name="x", shape=[2, 16], dtype="float32"),
         dict(name="w", shape=[8, 16], dtype="int8", data=np.ones((8, 16), np.int8), scale=0.02),
         dict(name="y", shape=[2, 8], dtype="float32")]
    p = _write(tmp_path, "dr", tflite_model(t, [dict(op="FULLY_CONNECTED", inputs=[0, 1, -1], outputs=[2],
                                                     options=("FullyConnectedOptions", {}))], [0], [2]))
    with pytest.raises(UnsupportedModelError, match="dynamic range quantization") as ei:
        load_model(p)
    assert "\n" not in str(ei.value)


# ----------------------------------------------------------------- PyTorch ----


@pytest.mark.torch
@pytest.mark.parametrize("dtype, name", [("float16", "fp16"), ("bfloat16", "bf16")])
def test_torch_half_precision_module_priced_at_2_bytes(dtype, name):
    torch = pytest.importorskip("torch")
    import hybridperf

    tdt = getattr(torch, dtype)
    lin = torch.nn.Linear(4, 3).to(tdt)
    a = hybridperf.analyze(lin, torch.randn(2, 4, dtype=tdt))  # before: ModelLoadError (float32 vs float16 add)
    mm = next(r for r in a.analysis.records if r.op == "relax.matmul")
    assert mm.precision == name and mm.cost.flops == 2 * 2 * 3 * 4  # 2*M*N*K
    assert mm.cost.bytes_read == (2 * 4 + 3 * 4) * 2 and mm.cost.bytes_written == 2 * 3 * 2  # 2 B per element
    assert a.analysis.weight_bytes == (3 * 4 + 3) * 2
    assert lin.weight.dtype == tdt  # the caller's module is left as it was


@pytest.mark.torch
def test_torch_half_conv_and_norms_all_half():
    torch = pytest.importorskip("torch")
    from torch import nn

    import hybridperf

    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.GELU(), nn.Flatten(), nn.LayerNorm(256)).half()
    a = hybridperf.analyze(net, torch.randn(1, 3, 8, 8, dtype=torch.float16))
    assert {r.precision for r in a.analysis.records} == {"fp16"}
    conv = next(r for r in a.analysis.records if r.op == "relax.nn.conv2d")
    assert conv.cost.flops == 2 * 4 * 8 * 8 * 3 * 3 * 3 and conv.cost.bytes_written == 4 * 8 * 8 * 2


@pytest.mark.torch
def test_torch_keyword_inputs():
    torch = pytest.importorskip("torch")
    import hybridperf

    class KW(torch.nn.Module):
        def forward(self, x, *, mask):
            return x * mask

    a = hybridperf.analyze(KW(), {"x": torch.randn(2, 4), "mask": torch.ones(2, 4)})  # before: "too many positional"
    assert dict(a.input_shapes) == {"x": (2, 4), "mask": (2, 4)}
    assert next(r for r in a.analysis.records if r.op == "relax.multiply").cost.flops == 2 * 4


def _dynamic_pt2(tmp_path, torch):
    from torch.export import Dim

    m = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU()).eval()
    ep = torch.export.export(m, (torch.randn(4, 8),), dynamic_shapes=({0: Dim("batch", min=1, max=64)},))
    p = tmp_path / "dyn.pt2"
    torch.export.save(ep, str(p))
    return p


@pytest.mark.torch
def test_dynamic_pt2_needs_a_batch(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from hybridperf.cli import main
    from hybridperf.frontends.torch_export import load_pt2

    p = _dynamic_pt2(tmp_path, torch)
    with pytest.raises(DynamicShapeError, match="--batch N"):
        load_pt2(p)
    # before: exit 0 with "inputs" blank and every figure unknown
    assert main(["predict", str(p), "-d", "t4", "--roofline-only"]) == 2
    assert "--batch N" in capsys.readouterr().err
    with pytest.raises(InputError, match="1..64"):
        load_pt2(p, batch=100)


@pytest.mark.torch
def test_dynamic_pt2_batch_binds(tmp_path, capsys):
    import json

    torch = pytest.importorskip("torch")
    from hybridperf.cli import main

    p = _dynamic_pt2(tmp_path, torch)
    assert main(["predict", str(p), "-d", "t4", "--roofline-only", "--batch", "3", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["input_shapes"] == {"input": [3, 8]}
    assert d["totals"]["flops"] == 2 * 3 * 4 * 8 + 3 * 4 + 3 * 4  # matmul + bias + relu
    assert d["memory"]["peak_bytes"] is not None


@pytest.mark.torch
def test_static_pt2_refuses_batch(tmp_path):
    torch = pytest.importorskip("torch")
    from hybridperf.frontends.torch_export import load_pt2

    ep = torch.export.export(torch.nn.Linear(4, 3).eval(), (torch.randn(2, 4),))
    p = tmp_path / "s.pt2"
    torch.export.save(ep, str(p))
    with pytest.raises(InputError, match="re-export"):
        load_pt2(p, batch=3)


@pytest.mark.torch
def test_torch_export_error_is_model_load_error_one_line():
    torch = pytest.importorskip("torch")
    from hybridperf.frontends.torch_export import load_torch

    class KW(torch.nn.Module):
        def forward(self, x, *, mask):
            return x * mask

    with pytest.raises(ModelLoadError, match="as a dict") as ei:
        load_torch(KW(), (torch.randn(2, 4), torch.ones(2, 4)))
    assert "\n" not in str(ei.value)


@pytest.mark.torch
def test_api_binds_a_dynamic_exported_program(tmp_path):
    """``hybridperf.analyze(ep, batch=...)`` binds an ExportedProgram's dynamic batch as the CLI does for a .pt2
    (until 2026-12-03 the API refused batch / shapes for every torch model); a Module still refuses them."""
    torch = pytest.importorskip("torch")
    import hybridperf

    ep = torch.export.load(str(_dynamic_pt2(tmp_path, torch)))
    a = hybridperf.analyze(ep, batch=3)
    assert dict(a.input_shapes) == {"input": (3, 8)}
    assert a.analysis.flops == 2 * 3 * 4 * 8 + 3 * 4 + 3 * 4  # matmul + bias + relu
    assert dict(hybridperf.analyze(ep, shapes={"input": (5, 8)}).input_shapes) == {"input": (5, 8)}
    with pytest.raises(InputError, match="positive integer"):
        hybridperf.analyze(ep, batch=0)
    with pytest.raises(InputError, match="example inputs"):
        hybridperf.analyze(torch.nn.Linear(8, 4), torch.randn(2, 8), batch=3)
