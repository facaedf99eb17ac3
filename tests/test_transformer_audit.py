"""Transformer audit: the graphs onnxruntime's transformer optimizer and graph optimizer write
(``com.microsoft`` contrib ops), built here with ``onnx.helper``, through ``hybridperf predict``.

Each op hybridperf lowers itself (:mod:`hybridperf.frontends.contrib`) is checked twice: its FLOPs
against hand arithmetic (FLOP = 2 x MAC), and its Relax lowering, built and run by TVM, against
onnxruntime's output on the same inputs. Ops it does not lower exit 2 with one line naming them.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridperf.cli import main

MS = "com.microsoft"


def _model(nodes, inputs, outputs, inits=(), opset=17, value_info=()):
    g = helper.make_graph(nodes, "trf", inputs, outputs, list(inits), value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS, 1)])
    m.ir_version = 8
    return m


def _vi(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, dims)


def _init(name, arr):
    return numpy_helper.from_array(arr, name)


def _predict(capsys, tmp_path, model, *flags):
    p = tmp_path / "m.onnx"
    onnx.save_model(model, str(p))
    rc = main(["predict", str(p), "-d", "t4", "--format", "json", *flags])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if rc == 0 else None), err.splitlines()


def _op_flops(rep, op):
    return [o["flops"] for o in rep["ops"] if o["op"] == op]


def _relax_outputs(model, feeds):
    """Outputs of ``model`` imported by hybridperf, built by TVM (llvm) and run in its VM."""
    from tvm import relax
    import tvm

    from hybridperf.frontends.load import load_model
    from hybridperf.ir.tvm_compat import var_name

    loaded = load_model(model, {k: v.shape for k, v in feeds.items()})
    mod = loaded.module
    ex = relax.build(mod, target="llvm")
    vm = relax.VirtualMachine(ex, tvm.cpu())
    params = [var_name(p) for p in mod["main"].params]
    out = vm["main"](*[tvm.runtime.tensor(feeds[n]) for n in params])
    outs = list(out) if not hasattr(out, "numpy") else [out]
    return [o.numpy() for o in outs]


def _ort_outputs(model, feeds):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _same_as_onnxruntime(model, feeds, atol=1e-5):
    for a, b in zip(_ort_outputs(model, feeds), _relax_outputs(model, feeds), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=atol)


# ------------------------------------------------------------- SkipLayerNormalization ----

def _skip_layer_norm_gpt2():
    """GPT-2's form (onnxruntime's gpt2 optimizer): no bias input, four outputs, the residual sum
    (output 3) read by the next layer; x, skip (1, 8, 16)."""
    rng = np.random.default_rng(0)
    inits = [_init("g", rng.standard_normal(16).astype(np.float32)), _init("b", rng.standard_normal(16).astype(np.float32))]
    node = helper.make_node("SkipLayerNormalization", ["x", "skip", "g", "b"], ["y", "", "", "sum"], domain=MS, epsilon=1e-5)
    return _model([node], [_vi("x", [1, 8, 16]), _vi("skip", [1, 8, 16])], [_vi("y", [1, 8, 16]), _vi("sum", [1, 8, 16])], inits)


def test_skip_layer_norm_without_bias_with_its_sum_output(capsys, tmp_path):
    rc, rep, err = _predict(capsys, tmp_path, _skip_layer_norm_gpt2())
    # before: exit 2, "SkipLayerNormalization import currently only supports required beta and bias"
    assert rc == 0, err
    assert _op_flops(rep, "relax.add") == [8 * 16]  # input + skip
    assert _op_flops(rep, "relax.nn.layer_norm") == [8 * 8 * 16]  # 8 per element
    assert rep["totals"]["flops"] == 8 * 16 + 8 * 8 * 16


def test_skip_layer_norm_computes_what_onnxruntime_does():
    rng = np.random.default_rng(1)
    feeds = {"x": rng.standard_normal((1, 8, 16)).astype(np.float32), "skip": rng.standard_normal((1, 8, 16)).astype(np.float32)}
    _same_as_onnxruntime(_skip_layer_norm_gpt2(), feeds)


def test_skip_layer_norm_with_bias_bert_form(capsys, tmp_path):
    """BERT's form: input, skip, gamma, beta, bias; one output."""
    rng = np.random.default_rng(2)
    inits = [_init(n, rng.standard_normal(16).astype(np.float32)) for n in ("g", "b", "bias")]
    node = helper.make_node("SkipLayerNormalization", ["x", "skip", "g", "b", "bias"], ["y"], domain=MS)
    m = _model([node], [_vi("x", [2, 4, 16]), _vi("skip", [2, 4, 16])], [_vi("y", [2, 4, 16])], inits)
    rc, rep, _ = _predict(capsys, tmp_path, m)
    assert rc == 0
    assert rep["totals"]["flops"] == 2 * (2 * 4 * 16) + 8 * (2 * 4 * 16)  # two adds, layer norm
    feeds = {"x": rng.standard_normal((2, 4, 16)).astype(np.float32), "skip": rng.standard_normal((2, 4, 16)).astype(np.float32)}
    _same_as_onnxruntime(m, feeds)


def test_skip_simplified_layer_norm(capsys, tmp_path):
    rng = np.random.default_rng(3)
    node = helper.make_node("SkipSimplifiedLayerNormalization", ["x", "skip", "g"], ["y", "", "", "sum"], domain=MS, epsilon=1e-6)
    m = _model([node], [_vi("x", [1, 4, 16]), _vi("skip", [1, 4, 16])], [_vi("y", [1, 4, 16]), _vi("sum", [1, 4, 16])],
               [_init("g", rng.standard_normal(16).astype(np.float32))])
    rc, rep, _ = _predict(capsys, tmp_path, m)
    assert rc == 0
    assert rep["totals"]["flops"] == 4 * 16 + 4 * (4 * 16)  # add, RMS norm (4 per element)
    feeds = {"x": rng.standard_normal((1, 4, 16)).astype(np.float32), "skip": rng.standard_normal((1, 4, 16)).astype(np.float32)}
    _same_as_onnxruntime(m, feeds)


# ------------------------------------------------------------------------ FusedMatMul ----

def _fused_matmul():
    """A (2, 4, 8) @ B (2, 6, 8)^T x 0.5 (an ORT_ENABLE_EXTENDED attention score), then the shape
    arithmetic exporters put after it (Shape -> Reshape), which onnx's inference cannot see through."""
    nodes = [helper.make_node("FusedMatMul", ["a", "b"], ["s"], domain=MS, alpha=0.5, transB=1),
             helper.make_node("Shape", ["s"], ["shp"]),
             helper.make_node("Reshape", ["s", "shp"], ["y"])]
    return _model(nodes, [_vi("a", [2, 4, 8]), _vi("b", [2, 6, 8])], [_vi("y", [2, 4, 6])])


def test_fused_matmul_priced_and_its_shape_folded(capsys, tmp_path):
    rc, rep, err = _predict(capsys, tmp_path, _fused_matmul())
    # before: exit 2, "com.microsoft::FusedMatMul (1)" cannot be imported
    assert rc == 0, err
    assert _op_flops(rep, "relax.matmul") == [2 * 2 * 4 * 6 * 8]
    assert _op_flops(rep, "relax.multiply") == [2 * 4 * 6]  # alpha
    assert rep["totals"]["flops"] == 2 * 2 * 4 * 6 * 8 + 2 * 4 * 6


def test_fused_matmul_computes_what_onnxruntime_does():
    rng = np.random.default_rng(4)
    _same_as_onnxruntime(_fused_matmul(), {"a": rng.standard_normal((2, 4, 8)).astype(np.float32),
                                           "b": rng.standard_normal((2, 6, 8)).astype(np.float32)})


def test_fused_gemm_with_activation():
    rng = np.random.default_rng(5)
    node = helper.make_node("FusedGemm", ["a", "w", "c"], ["y"], domain=MS, transB=1, activation="Relu")
    m = _model([node], [_vi("a", [3, 8])], [_vi("y", [3, 5])],
               [_init("w", rng.standard_normal((5, 8)).astype(np.float32)), _init("c", rng.standard_normal(5).astype(np.float32))])
    _same_as_onnxruntime(m, {"a": rng.standard_normal((3, 8)).astype(np.float32)})


# -------------------------------------------------------------------------- Attention ----

B, S, P, H, N = 1, 3, 2, 16, 2  # batch, new tokens, past length, hidden size, heads
T = S + P


def _attention(unidirectional=1, past=True, mask=True):
    """com.microsoft Attention as onnxruntime's GPT-2 fusion writes it: packed QKV weight (H, 3H),
    bias, a 2-D raw mask (B, T), past (2, B, N, P, H/N) and present."""
    rng = np.random.default_rng(6)
    inits = [_init("w", (rng.standard_normal((H, 3 * H)) * 0.3).astype(np.float32)),
             _init("bias", rng.standard_normal(3 * H).astype(np.float32))]
    ins = ["x", "w", "bias", "mask" if mask else "", "past" if past else ""]
    inputs = [_vi("x", [B, S, H])]
    if mask:
        inputs.append(_vi("mask", [B, T if past else S], TensorProto.INT32))
    if past:
        inputs.append(_vi("past", [2, B, N, P, H // N]))
    total = T if past else S
    node = helper.make_node("Attention", ins, ["y", "present"] if past else ["y"], domain=MS, num_heads=N,
                            unidirectional=unidirectional)
    outs = [_vi("y", [B, S, H])] + ([_vi("present", [2, B, N, total, H // N])] if past else [])
    return _model([node], inputs, outs, inits)


def test_attention_with_past_priced_by_arithmetic(capsys, tmp_path):
    rc, rep, err = _predict(capsys, tmp_path, _attention())
    # before: exit 2, TVM's converter asserts "unidirectional attention is not currently supported"
    assert rc == 0, err
    scores = B * N * S * T  # each head's S x T score matrix
    d = H // N
    # QK^T and PV (2 MAC-flops each), scale and softmax (1 + 5), mask bias add (1)
    assert _op_flops(rep, "relax.nn.attention_bias") == [2 * scores * d + 2 * scores * d + 6 * scores + scores]
    assert _op_flops(rep, "relax.matmul") == [2 * B * S * H * 3 * H]  # the packed QKV projection
    # QKV bias add (B S 3H), mask bias: 1 - mask and x filter value (B T each)
    assert sorted(_op_flops(rep, "relax.add")) == [B * S * 3 * H]
    assert _op_flops(rep, "relax.subtract") == [B * T] and _op_flops(rep, "relax.multiply") == [B * T]


def test_attention_computes_what_onnxruntime_does():
    rng = np.random.default_rng(7)
    mask = np.ones((B, T), np.int32)
    mask[0, 0] = 0  # a padded past position
    feeds = {"x": rng.standard_normal((B, S, H)).astype(np.float32), "mask": mask,
             "past": rng.standard_normal((2, B, N, P, H // N)).astype(np.float32)}
    _same_as_onnxruntime(_attention(), feeds)


def test_bidirectional_attention_without_past_computes_what_onnxruntime_does():
    rng = np.random.default_rng(8)
    mask = np.array([[1, 1, 0]], np.int32)
    _same_as_onnxruntime(_attention(unidirectional=0, past=False),
                         {"x": rng.standard_normal((B, S, H)).astype(np.float32), "mask": mask})


def _multi_head_attention():
    """Decoder self-attention with a KV cache: Q, K, V (B, S, H), past_key / past_value (B, N, P, H/N),
    presents out."""
    node = helper.make_node("MultiHeadAttention", ["q", "k", "v", "", "", "", "pk", "pv"], ["y", "present_k", "present_v"],
                            domain=MS, num_heads=N, unidirectional=1)
    ins = [_vi("q", [B, S, H]), _vi("k", [B, S, H]), _vi("v", [B, S, H]), _vi("pk", [B, N, P, H // N]), _vi("pv", [B, N, P, H // N])]
    outs = [_vi("y", [B, S, H]), _vi("present_k", [B, N, T, H // N]), _vi("present_v", [B, N, T, H // N])]
    return _model([node], ins, outs)


def test_multi_head_attention_with_kv_cache(capsys, tmp_path):
    rc, rep, err = _predict(capsys, tmp_path, _multi_head_attention())
    assert rc == 0, err  # before: exit 2, com.microsoft::MultiHeadAttention cannot be imported
    scores, d = B * N * S * T, H // N
    assert _op_flops(rep, "relax.nn.attention") == [4 * scores * d + 6 * scores]
    rng = np.random.default_rng(9)
    feeds = {k: rng.standard_normal(s).astype(np.float32) for k, s in
             (("q", (B, S, H)), ("k", (B, S, H)), ("v", (B, S, H)), ("pk", (B, N, P, d)), ("pv", (B, N, P, d)))}
    _same_as_onnxruntime(_multi_head_attention(), feeds)


# ------------------------------------------------------------------ what is not lowered ----

@pytest.mark.parametrize("op,ins,outs,attrs", [
    ("MatMulNBits", ["x", "wq", "sc"], ["y"], {"K": 16, "N": 8, "bits": 4, "block_size": 16}),
    ("GroupQueryAttention", ["x", "x", "x"], ["y"], {"num_heads": 2, "kv_num_heads": 1}),
])
def test_contrib_ops_not_lowered_exit_2_naming_them(capsys, tmp_path, op, ins, outs, attrs):
    inits = [_init("wq", np.zeros((8, 1, 8), np.uint8)), _init("sc", np.ones(8, np.float32))]
    m = _model([helper.make_node(op, ins, outs, domain=MS, **attrs)], [_vi("x", [1, 4, 16])], [_vi("y", [1, 4, 8])], inits)
    rc, rep, err = _predict(capsys, tmp_path, m)
    assert rc == 2 and len(err) == 1 and err[0].startswith("hybridperf: error: ")
    assert f"com.microsoft::{op} (1)" in err[0]
    assert "before onnxruntime's fusions" in err[0]  # the fix: price the model as exported


def test_onnx_domain_attention_is_not_taken_for_the_contrib_op(capsys, tmp_path):
    """ONNX's own Attention (opset 23: separate Q, K, V) shares the name with the contrib op TVM converts."""
    node = helper.make_node("Attention", ["q", "k", "v"], ["y"])
    m = _model([node], [_vi(n, [1, 2, 4, 8]) for n in "qkv"], [_vi("y", [1, 2, 4, 8])], opset=23)
    rc, _, err = _predict(capsys, tmp_path, m)
    # before: exit 2 after TVM's contrib converter failed ("import into TVM Relax failed ... 'num_heads'")
    assert rc == 2 and len(err) == 1 and "ai.onnx::Attention (1)" in err[0]


# ----------------------------------------------------------------- files as written ----

def test_stale_rank_zero_value_info_is_ignored(capsys, tmp_path):
    """onnxruntime's float16 converter writes ``value_info`` of rank 0 for 1-D shape tensors; the
    shape arithmetic after them must still fold (until 2026-12-03: exit 2 at an Expand, BERT fp16)."""
    rng = np.random.default_rng(10)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Shape", ["h"], ["shp"]),
             helper.make_node("ConstantOfShape", ["shp"], ["ones"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
             helper.make_node("Add", ["h", "ones"], ["y"])]
    stale = helper.make_tensor_value_info("shp", TensorProto.INT64, [])  # rank 0: wrong, it is 1-D
    m = _model(nodes, [_vi("x", ["batch", 8])], [_vi("y", ["batch", 4])], [_init("w", rng.standard_normal((8, 4)).astype(np.float32))],
               value_info=[stale])
    rc, rep, err = _predict(capsys, tmp_path, m, "--batch", "2")
    assert rc == 0, err
    # matmul, add, and the folded ones, which eager PyTorch (t4's runtime) builds each call: one FLOP per element
    # written (priced under torch since 2026-12-05)
    assert rep["totals"]["flops"] == 2 * 2 * 8 * 4 + 2 * 4 + 2 * 4


def test_layer_normalization_below_opset_17_imports(capsys, tmp_path):
    """onnxruntime registers LayerNormalization in the ONNX domain at opset 1 (its optimizer writes it
    into opset-12 / 13 models); TVM converts only the opset-17 op."""
    rng = np.random.default_rng(11)
    node = helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], epsilon=1e-5)
    m = _model([node], [_vi("x", [2, 16])], [_vi("y", [2, 16])],
               [_init("g", rng.standard_normal(16).astype(np.float32)), _init("b", rng.standard_normal(16).astype(np.float32))], opset=13)
    rc, rep, err = _predict(capsys, tmp_path, m)
    assert rc == 0, err
    assert rep["totals"]["flops"] == 8 * 2 * 16


def test_embed_layer_normalization_computes_what_onnxruntime_does(capsys, tmp_path):
    """TVM's own converter (BERT's embeddings, onnxruntime's bert optimizer): word + position + segment
    embeddings, layer norm; output 1 the mask's row sums."""
    rng = np.random.default_rng(12)
    inits = [_init("we", rng.standard_normal((50, 16)).astype(np.float32)), _init("pe", rng.standard_normal((8, 16)).astype(np.float32)),
             _init("se", rng.standard_normal((2, 16)).astype(np.float32)), _init("g", rng.standard_normal(16).astype(np.float32)),
             _init("b", rng.standard_normal(16).astype(np.float32))]
    node = helper.make_node("EmbedLayerNormalization", ["ids", "seg", "we", "pe", "se", "g", "b", "mask"], ["y", "mi"], domain=MS, epsilon=1e-12)
    m = _model([node], [_vi("ids", [2, 8], TensorProto.INT32), _vi("seg", [2, 8], TensorProto.INT32), _vi("mask", [2, 8], TensorProto.INT32)],
               [_vi("y", [2, 8, 16]), _vi("mi", [2], TensorProto.INT32)], inits)
    rc, rep, err = _predict(capsys, tmp_path, m)
    assert rc == 0, err
    assert _op_flops(rep, "relax.nn.layer_norm") == [8 * 2 * 8 * 16]
    feeds = {"ids": rng.integers(0, 50, (2, 8)).astype(np.int32), "seg": rng.integers(0, 2, (2, 8)).astype(np.int32),
             "mask": np.array([[1] * 8, [1] * 5 + [0] * 3], np.int32)}
    _same_as_onnxruntime(m, feeds)
