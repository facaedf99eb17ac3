"""Audit of the torch.export frontend as a PyTorch user drives it: boolean attention masks (what Hugging Face
models pass to ``scaled_dot_product_attention``), programs exported in training mode, and a clean stderr
when the undecomposed import fails and the decomposed one is used; a PyTorch user's own models (FLOPs against
FlopCounterMode, weights against the state dict, module / .pt2 / dynamic .pt2 alike), float16 / bfloat16 modules
(tied and recurrent weights once, GPT-2, dynamic dims) and non-tensor inputs. Marked ``torch``; skipped without torch.
"""

from __future__ import annotations

import json

import pytest

import hybridperf
from hybridperf.errors import InputError


def _sdpa_module(torch):
    class Attn(torch.nn.Module):
        def forward(self, q, k, v, keep):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=keep)

    return Attn()


@pytest.mark.torch
def test_boolean_attention_mask_stays_one_attention_op():
    torch = pytest.importorskip("torch")
    from hybridperf.frontends.torch_export import load_torch

    q = torch.randn(1, 2, 4, 8)  # batch 1, 2 heads, 4 tokens, head dim 8
    keep = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    loaded = load_torch(_sdpa_module(torch), (q, q.clone(), q.clone(), keep))
    # before: TVM refused the bool mask, the decomposed fallback split attention into matmul / softmax / ...
    assert loaded.format == "torch.export"
    a = hybridperf.analyze(loaded.module)
    ops = [r.op for r in a.analysis.records]
    assert ops.count("relax.nn.attention_bias") == 1
    assert "relax.matmul" not in ops
    att = next(r for r in a.analysis.records if r.op == "relax.nn.attention_bias")
    # Q.K^T and P.V: 2 matmuls x (1 batch x 2 heads x 4 x 4 x 8 MAC) x 2 FLOP/MAC, plus the softmax and bias
    assert att.cost.flops >= 2 * (1 * 2 * 4 * 4 * 8) * 2
    where = next(r for r in a.analysis.records if r.op == "relax.where")
    assert where.outputs[0].shape == (1, 1, 4, 4)  # the mask turned into a float bias once, as PyTorch does


@pytest.mark.torch
def test_boolean_mask_same_flops_as_float_mask():
    torch = pytest.importorskip("torch")
    from hybridperf.frontends.torch_export import load_torch

    q = torch.randn(1, 2, 4, 8)
    keep = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    with_bool = hybridperf.analyze(load_torch(_sdpa_module(torch), (q, q, q, keep)).module)
    with_float = hybridperf.analyze(load_torch(_sdpa_module(torch), (q, q, q, torch.zeros(1, 1, 4, 4))).module)

    def att(a):
        return next(r.cost.flops for r in a.analysis.records if r.op == "relax.nn.attention_bias")

    assert att(with_bool) == att(with_float)


@pytest.mark.torch
@pytest.mark.parametrize("layer", ["batch_norm", "dropout"])
def test_training_mode_program_is_refused(tmp_path, layer, capsys):
    torch = pytest.importorskip("torch")
    from hybridperf.cli import main

    body = torch.nn.BatchNorm1d(4) if layer == "batch_norm" else torch.nn.Dropout(0.5)
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), body).train()
    ep = torch.export.export(net, (torch.randn(3, 4),))
    # before: priced as inference (dropout imported as identity, batch statistics not shown), exit 0
    with pytest.raises(InputError, match=f"training mode .*{layer}.*model.eval"):
        hybridperf.analyze(ep)
    p = tmp_path / "train.pt2"
    torch.export.save(ep, str(p))
    assert main(["predict", str(p), "--device", "a100-sxm-40gb"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.eval()" in err[0]
    # the same net exported in eval mode is priced: Linear 2 x 3 x 4 x 4 MAC
    a = hybridperf.analyze(torch.export.export(net.eval(), (torch.randn(3, 4),)))
    mm = next(r for r in a.analysis.records if r.op == "relax.matmul")
    assert mm.cost.flops == 2 * 3 * 4 * 4


@pytest.mark.torch
def test_failed_undecomposed_import_leaves_stderr_clean(capfd):
    torch = pytest.importorskip("torch")
    import gc

    from hybridperf.frontends.torch_export import load_exported_program

    class DropAttn(torch.nn.Module):  # TVM's converter asserts dropout_p == 0 half-way through the graph
        def forward(self, q):
            return torch.nn.functional.scaled_dot_product_attention(q, q, q, dropout_p=0.1)

    ep = torch.export.export(DropAttn(), (torch.randn(1, 2, 4, 8),))
    loaded = load_exported_program(ep)
    assert loaded.format == "torch.export (decomposed)"
    gc.collect()
    # before: TVM logged "BlockBuilder destroyed with remaining blocks!" on stderr after the failed attempt
    assert "BlockBuilder" not in capfd.readouterr().err


# ------------------------------------------------------------ batch norm, half precision ----


def _run_relax(module, *arrays):
    """Build ``module`` for the CPU and run ``main`` on ``arrays``; its (first) output as numpy."""
    from hybridperf.ir import tvm_compat as _tvm

    tvm, relax = _tvm.tvm_modules()
    vm = relax.VirtualMachine(relax.build(module, target="llvm"), tvm.cpu())
    out = vm["main"](*[tvm.runtime.tensor(a) for a in arrays])
    return (out if hasattr(out, "numpy") else out[0]).numpy()


@pytest.mark.torch
@pytest.mark.parametrize("affine", [True, False])
def test_eval_batch_norm_is_imported_as_inference(affine):
    torch = pytest.importorskip("torch")
    import numpy as np

    from hybridperf.frontends.torch_export import load_torch

    torch.manual_seed(0)
    bn = torch.nn.BatchNorm2d(8, eps=1e-3, affine=affine)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), bn).eval()
    x = torch.randn(2, 3, 6, 6)
    loaded = load_torch(net, (x,))
    text = loaded.module["main"].script(show_meta=False)
    # before: TVM read aten.batch_norm's arguments one place early: training=True, epsilon=0.1 (the momentum)
    assert "training=False" in text and "epsilon=0.001" in text and "momentum=0.1" in text
    got = _run_relax(loaded.module, x.numpy())
    # before: batch statistics and epsilon 0.1, max abs error 2.59 (affine) / 1.36 against PyTorch
    np.testing.assert_allclose(got, net(x).detach().numpy(), atol=1e-5)


def _residual_bn_net(torch):
    """x [1,8,4,4] -> Conv 3x3 (pad 1) -> BatchNorm -> + x -> ReLU: ResNet's block, whose add failed to legalize."""

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
            self.bn = torch.nn.BatchNorm2d(8)

        def forward(self, x):
            return torch.relu(self.bn(self.conv(x)) + x)

    torch.manual_seed(0)
    return Block().eval()


@pytest.mark.torch
@pytest.mark.parametrize("low", ["half", "bfloat16"])
def test_half_batch_norm_block_has_a_memory_plan_half_the_float32_one(low):
    torch = pytest.importorskip("torch")
    from hybridperf.analysis.analyze import analyze_with_memory_module
    from hybridperf.analysis.memory import tvm_planned_bytes
    from hybridperf.frontends.torch_export import load_torch

    x = torch.randn(1, 8, 4, 4)
    full = hybridperf.analyze(load_torch(_residual_bn_net(torch), (x,)).module, fused=False)
    net = getattr(_residual_bn_net(torch), low)()
    an, mem_mod = analyze_with_memory_module(load_torch(net, (x.to(net.conv.weight.dtype),)).module, fused=False)
    # before: peak unknown (TVM lowering failed (TypeError: ... R.add(...) uses datatype T.float32 ...))
    assert an.memory.known and an.memory.unknown_reason == ""
    assert an.memory.planned_bytes == tvm_planned_bytes(mem_mod)
    # 128-element activations x 2 B: the conv's out (its block then taken by the add's out), the batch norm's out
    # and the relu's out (the result, outside the pool); the batch norm's running mean and var, 8 x 2 B each
    assert an.memory.planned_bytes == 3 * (128 * 2) + 2 * (8 * 2)
    assert 2 * an.memory.planned_bytes == full.memory.planned_bytes
    assert an.analysis.flops == full.analysis.flops


@pytest.mark.torch
@pytest.mark.slow
def test_half_resnet18_has_a_memory_plan_half_the_float32_one():
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    from hybridperf.analysis.analyze import analyze_with_memory_module
    from hybridperf.analysis.memory import tvm_planned_bytes
    from hybridperf.frontends.torch_export import load_torch

    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(1, 3, 32, 32)
    full = hybridperf.analyze(load_torch(net, (x,)).module)
    an, mem_mod = analyze_with_memory_module(load_torch(net.half(), (x.half(),)).module)
    # before: peak unknown (TVM lowering failed (TypeError: ... R.add(lv11, lv4) uses datatype T.float32 ...))
    assert an.memory.known and an.memory.planned_bytes == tvm_planned_bytes(mem_mod)
    # every activation 2 B instead of 4 (no float32 running statistics left), the same kernels
    assert 2 * an.memory.planned_bytes == full.memory.planned_bytes
    assert 2 * an.memory.weight_bytes == full.memory.weight_bytes
    assert an.analysis.flops == full.analysis.flops


# ------------------------------------------------------------------- GPT-2 (diff) ----


@pytest.mark.torch
@pytest.mark.parametrize(("dtype", "n", "dim", "ends"), [
    ("float32", 1, -1, "prepend"), ("int64", 2, 0, "append"), ("float32", 3, 1, "both"), ("bool", 1, -1, "prepend"),
])
def test_diff_matches_torch(dtype, n, dim, ends):
    torch = pytest.importorskip("torch")
    import numpy as np

    from hybridperf.frontends.torch_export import load_torch

    class Diff(torch.nn.Module):
        def forward(self, x, before, after):
            return torch.diff(x, n=n, dim=dim, prepend=before if ends in ("prepend", "both") else None,
                              append=after if ends in ("append", "both") else None)

    g = torch.Generator().manual_seed(0)
    x, before, after = (torch.randn(s, generator=g) for s in ((3, 5, 4), (3, 5, 4), (3, 5, 4)))
    before, after = before.narrow(dim, 0, 2), after.narrow(dim, 0, 1)
    if dtype == "int64":
        x, before, after = (t.mul(10).round().long() for t in (x, before, after))
    elif dtype == "bool":
        x, before, after = (t > 0 for t in (x, before, after))
    want = Diff()(x, before, after).numpy()
    # before: Unsupported function types ['diff.default'] (exit 2)
    loaded = load_torch(Diff(), (x, before, after))
    assert loaded.format == "torch.export"
    got = _run_relax(loaded.module, x.numpy(), before.numpy(), after.numpy())
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5)


def _tiny_gpt2():
    """``(make, ids)``: ``make()`` builds a 2-layer Hugging Face GPT-2 LM (vocabulary 100, width 64) in eval mode,
    returning its logits (no cache); ``ids`` a (2, 16) batch of token ids (seeded)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")

    class LM(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            return self.m(input_ids=input_ids, use_cache=False)[0]

    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=100, n_embd=64, n_layer=2, n_head=2, n_positions=64)
    return (lambda: LM(transformers.GPT2LMHeadModel(config)).eval()), torch.randint(0, 100, (2, 16))


@pytest.mark.torch
def test_tiny_gpt2_prices_like_flop_counter():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from hybridperf.frontends.torch_export import load_exported_program

    make, ids = _tiny_gpt2()
    net = make()
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            net(ids)
        ep = torch.export.export(net, (ids,))
    # before: Unsupported function types ['diff.default']; then a boolean cumsum / new_ones(dtype=bool) came out
    # int64 and the attention mask with them ("Only a float mask is supported")
    loaded = load_exported_program(ep)
    assert loaded.format == "torch.export"
    a = hybridperf.analyze(loaded.module)
    assert a.analysis.unsupported_ops == [] and a.memory.known
    ops = [r.op for r in a.analysis.records]
    assert ops.count("relax.nn.attention_bias") == 2  # one attention op per layer, the mask a float bias
    tokens = 2 * 16
    # per layer: c_attn 64->192, attention c_proj 64->64, MLP c_fc 64->256 and c_proj 256->64; then the LM head 64->100
    linear = 2 * tokens * 64 * (192 + 64 + 256) + 2 * tokens * 256 * 64
    expected = 2 * linear + 2 * tokens * 64 * 100
    matmul = sum(r.cost.flops for r in a.analysis.records if r.op == "relax.matmul")
    assert matmul == expected == counter.get_total_flops()


# ------------------------------------------------ a PyTorch user's models (audit of 2026-12-04) ----


def _tied_lm(torch):
    """Embedding(1000, 64) whose table is also the bias-free output Linear's weight (tied, as in language models)."""

    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(1000, 64)
            self.head = torch.nn.Linear(64, 1000, bias=False)
            self.head.weight = self.emb.weight

        def forward(self, ids):
            return self.head(self.emb(ids))

    torch.manual_seed(0)
    return Tied().eval()


def _state_bytes(net):
    """Parameter and buffer bytes of ``net``, a tensor shared by two modules (tied) counted once."""
    return sum({id(t): t.numel() * t.element_size() for t in [*net.parameters(), *net.buffers()]}.values())


@pytest.mark.torch
@pytest.mark.parametrize("low", ["half", "bfloat16"])
def test_half_tied_weight_is_counted_once(low):
    torch = pytest.importorskip("torch")

    ids = torch.randint(0, 1000, (2, 12))
    full = hybridperf.analyze(_tied_lm(torch), ids)
    half = hybridperf.analyze(getattr(_tied_lm(torch), low)(), ids)
    assert full.memory.weight_bytes == 1000 * 64 * 4 == _state_bytes(_tied_lm(torch))
    # before: 256000 B, the table re-typed once per use (gather and matmul): a float16 model as heavy as float32
    assert half.memory.weight_bytes == 1000 * 64 * 2
    assert half.analysis.flops == full.analysis.flops == 2 * (2 * 12) * 64 * 1000


@pytest.mark.torch
@pytest.mark.parametrize("low", ["half", "bfloat16"])
def test_half_lstm_imports_like_float32_at_half_the_weight_bytes(low):
    torch = pytest.importorskip("torch")
    from hybridperf.frontends.torch_export import load_torch

    torch.manual_seed(0)
    net = torch.nn.LSTM(32, 64, batch_first=True).eval()
    x = torch.randn(2, 10, 32)
    full = hybridperf.analyze(net, x)
    half_net = getattr(torch.nn.LSTM(32, 64, batch_first=True), low)().eval()
    half_x = x.to(half_net.weight_ih_l0.dtype)
    # before: the float32 copy kept the exported zeros(dtype=float16) of h0 / c0, TVM's LSTM converter refused the
    # float16-by-float32 matmul and the decomposed import re-typed W_hh once per step: 349,700 B of weights, 7x
    assert load_torch(half_net, half_x).format == "torch.export"
    half = hybridperf.analyze(half_net, half_x)
    # weights: W_ih 256x32, W_hh 256x64 and two biases of 256, 2 B each
    assert _state_bytes(half_net) == (256 * 32 + 256 * 64 + 2 * 256) * 2
    # the few constants the importer adds (not float) are the same in both
    assert half.memory.weight_bytes - _state_bytes(half_net) == full.memory.weight_bytes - _state_bytes(net)
    # per step and sample: 4 gates x (32 + 64) MAC; 2 samples x 10 steps
    assert half.analysis.flops == full.analysis.flops
    assert sum(r.cost.flops for r in half.analysis.records if r.op == "relax.matmul") == 2 * (2 * 10) * 256 * (32 + 64)


@pytest.mark.torch
def test_half_gpt2_is_priced_at_half_precision():
    make, ids = _tiny_gpt2()
    net = make()
    full = hybridperf.analyze(net, ids)
    half_net = make().half()
    # before: refused ("could not be re-exported in float32 ... Tensor dtype mismatch! Expected: torch.float16")
    half = hybridperf.analyze(half_net, ids)
    assert half.analysis.flops == full.analysis.flops and half.uncosted_ops == []
    # every float constant at 2 B instead of 4 (the tied LM head once), the others as in float32
    by_dtype, full_by_dtype = dict(half.analysis.weight_bytes_by_dtype), dict(full.analysis.weight_bytes_by_dtype)
    assert 2 * by_dtype.pop("float16") == full_by_dtype.pop("float32") and by_dtype == full_by_dtype
    # the parameters, and a few scalars the importer adds (GELU's and attention's constants)
    assert 0 <= half.memory.weight_bytes - _state_bytes(half_net) < 128


def _counted(torch):
    """forward(x, n, scale, flag): ``n`` Linear(16, 16) steps, times ``scale``; a tuple when ``flag``."""

    class Counted(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(16, 16)

        def forward(self, x, n: int = 1, scale: float = 1.0, flag: bool = False):
            for _ in range(n):
                x = self.fc(x)
            return (x * scale, x) if flag else x

    return Counted().eval()


LINEAR_4x16 = 2 * 4 * 16 * 16 + 4 * 16  # one Linear(16, 16) on 4 rows: matmul + bias


@pytest.mark.torch
@pytest.mark.parametrize(("inputs", "flops"), [
    (lambda x: (x, 3), 3 * LINEAR_4x16),
    (lambda x: (x, 3, 2.0, True), 3 * LINEAR_4x16 + 4 * 16),
    (lambda x: {"x": x, "n": 2}, 2 * LINEAR_4x16),
    (lambda x: {"x": x, "flag": True}, LINEAR_4x16 + 4 * 16),
])
def test_non_tensor_inputs_are_fixed_at_their_values(inputs, flops):
    torch = pytest.importorskip("torch")

    x = torch.randn(4, 16)
    # before: ModelLoadError "import ... failed (AttributeError: 'int' object has no attribute 'shape')"
    a = hybridperf.analyze(_counted(torch), inputs(x))
    assert a.analysis.flops == flops
    assert dict(a.input_shapes) == {"x": (4, 16)}


@pytest.mark.torch
def test_pt2_with_non_tensor_inputs_keeps_its_dynamic_dims(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from hybridperf.cli import main

    batch = torch.export.Dim("batch", max=32)
    ep = torch.export.export(_counted(torch), (torch.randn(4, 16), 2), {"flag": True},
                             dynamic_shapes=({0: batch}, None, None))
    p = tmp_path / "counted.pt2"
    torch.export.save(ep, str(p))
    # the batch stays to be bound (fixing n and flag must not fix it at the example's 4)
    assert main(["predict", str(p), "--device", "t4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--batch N" in err[0]
    assert main(["predict", str(p), "--device", "t4", "--batch", "33"]) == 2
    assert "0..32" in capsys.readouterr().err
    assert main(["predict", str(p), "--device", "t4", "--batch", "8", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # 2 Linear(16, 16) steps on 8 rows, then the x * 1.0 of the tuple
    assert report["totals"]["flops"] == 2 * (2 * 8 * 16 * 16 + 8 * 16) + 8 * 16


@pytest.mark.torch
@pytest.mark.parametrize("inputs", [3, 2.5, "x"])
def test_a_non_tensor_example_input_is_a_hybridperf_error(inputs):
    torch = pytest.importorskip("torch")
    from hybridperf.errors import ModelLoadError

    # before: TypeError: 'int' object is not iterable (3, 2.5); a string was split into characters
    with pytest.raises(ModelLoadError, match="must be Tensor.*example_inputs must match forward"):
        hybridperf.analyze(torch.nn.Linear(4, 4), inputs)


def _user_models(torch):
    """name -> (module in eval mode, example inputs): the layers a PyTorch user's models are made of."""
    nn, F = torch.nn, torch.nn.functional

    class Res(nn.Module):  # conv stem, BatchNorm (eval), max pool, residual block, adaptive pool, linear head
        def __init__(self):
            super().__init__()
            self.stem, self.bn, self.pool = nn.Conv2d(3, 16, 7, 2, 3), nn.BatchNorm2d(16), nn.MaxPool2d(3, 2, 1)
            self.c1, self.b1 = nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)
            self.fc = nn.Linear(16, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.bn(self.stem(x))))
            x = F.relu(self.b1(self.c1(x)) + x)
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    class Attn(nn.Module):  # causal self-attention through F.scaled_dot_product_attention
        def __init__(self):
            super().__init__()
            self.qkv, self.o = nn.Linear(64, 192), nn.Linear(64, 64)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = (z.view(b, t, 4, 16).transpose(1, 2) for z in self.qkv(x).chunk(3, -1))
            return self.o(F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, d))

    class Mobile(nn.Module):  # depthwise, pointwise, grouped dilated convs
        def __init__(self):
            super().__init__()
            self.dw, self.pw = nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.Conv2d(32, 64, 1)
            self.dil = nn.Conv2d(64, 64, 3, padding=2, dilation=2, groups=4)

        def forward(self, x):
            return self.dil(F.relu6(self.pw(self.dw(x))))

    torch.manual_seed(0)
    return {
        "resnet": (Res(), (torch.randn(2, 3, 32, 32),)),
        "mlp": (nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.LayerNorm(128), nn.Linear(128, 10)),
                (torch.randn(8, 64),)),
        "attention": (Attn(), (torch.randn(2, 16, 64),)),
        "mha": (nn.MultiheadAttention(64, 4, batch_first=True), (torch.randn(2, 16, 64),) * 3),
        "gru": (nn.GRU(32, 64, batch_first=True), (torch.randn(2, 10, 32),)),
        "mobile": (Mobile(), (torch.randn(1, 32, 16, 16),)),
        "tied": (_tied_lm(torch), (torch.randint(0, 1000, (2, 12)),)),
    }


_MATRIX_OPS = {"relax.matmul", "relax.nn.conv1d", "relax.nn.conv2d", "relax.nn.conv2d_transpose"}


def _matrix_flops(a):
    """FLOPs of the matrix and convolution ops, attention's two matmuls (Q.K^T and P.V) without its softmax."""
    total = 0
    for r in a.analysis.records:
        if r.op in _MATRIX_OPS:
            total += r.cost.flops
        elif r.op.startswith("relax.nn.attention"):
            (b, s, h, d), s_kv, d_v = r.inputs[0].shape, r.inputs[1].shape[1], r.inputs[2].shape[3]
            total += 2 * b * h * s * s_kv * (d + d_v)
    return total


@pytest.mark.torch
@pytest.mark.parametrize("name", ["resnet", "mlp", "attention", "mha", "gru", "mobile", "tied"])
def test_user_model_flops_and_weights_match_pytorch(name):
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    net, inputs = _user_models(torch)[name]
    net.eval()
    with torch.no_grad():
        # the counter on the decomposed program: on the CPU, eager attention / MHA / GRU kernels are not counted
        decomposed = torch.export.export(net, inputs).run_decompositions().module()
        with FlopCounterMode(display=False) as counter:
            decomposed(*inputs)
    a = hybridperf.analyze(net, inputs)
    assert a.uncosted_ops == [] and a.memory.known
    assert _matrix_flops(a) == counter.get_total_flops() > 0
    # parameters and buffers once each; num_batches_tracked (int64, 8 B a BatchNorm) is not read in eval mode
    unread = 8 * sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules())
    assert 0 <= a.memory.weight_bytes - (_state_bytes(net) - unread) <= 128  # + small constants the importer adds


@pytest.mark.torch
@pytest.mark.parametrize("name", ["resnet", "attention", "tied"])
def test_module_pt2_and_dynamic_pt2_give_the_same_prediction(tmp_path, name):
    torch = pytest.importorskip("torch")

    net, inputs = _user_models(torch)[name]
    net.eval()
    batch = inputs[0].shape[0]
    static, dynamic = tmp_path / "static.pt2", tmp_path / "dynamic.pt2"
    with torch.no_grad():
        torch.export.save(torch.export.export(net, inputs), str(static))
        dims = ({0: torch.export.Dim("batch", min=1, max=64)},)
        torch.export.save(torch.export.export(net, inputs, dynamic_shapes=dims), str(dynamic))
    preds = [hybridperf.predict(net, "t4", example_inputs=inputs), hybridperf.predict(str(static), "t4"),
             hybridperf.predict(str(dynamic), "t4", batch=batch)]
    figures = {(p.latency_s, p.energy_j, p.analyzed.analysis.flops, p.analyzed.memory.weight_bytes,
                p.analyzed.memory.planned_bytes, len(p.analyzed.kernels)) for p in preds}
    assert len(figures) == 1
    from hybridperf.frontends.torch_export import load_pt2

    assert load_pt2(dynamic, batch=batch).format == "torch.export"  # undecomposed, as the static program


@pytest.mark.torch
@pytest.mark.parametrize("low", ["half", "bfloat16"])
def test_half_pt2_with_dynamic_batch_is_bound_like_float32(tmp_path, low, capsys):
    torch = pytest.importorskip("torch")
    from hybridperf.cli import main

    net = getattr(torch.nn.Sequential(torch.nn.Linear(16, 16)), low)().eval()
    x = torch.randn(4, 16).to(net[0].weight.dtype)
    p = tmp_path / "half.pt2"
    torch.export.save(torch.export.export(net, (x,), dynamic_shapes=({0: torch.export.Dim("b", max=32)},)), str(p))
    # before: refused ("a float16 / bfloat16 program with dynamic dims cannot be imported"), exit 2
    assert main(["predict", str(p), "--device", "t4", "--batch", "8", "--format", "json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["flops"] == 2 * 8 * 16 * 16 + 8 * 16  # matmul + bias on 8 rows
    assert totals["weight_bytes"] == (16 * 16 + 16) * 2
    # the dynamic dim and its exported range survive the float32 copy
    assert main(["predict", str(p), "--device", "t4"]) == 2
    assert "--batch N" in capsys.readouterr().err
    assert main(["predict", str(p), "--device", "t4", "--batch", "40"]) == 2
    assert "0..32" in capsys.readouterr().err
