"""Audit of the torch.export frontend as a PyTorch user drives it: boolean attention masks (what Hugging Face
models pass to ``scaled_dot_product_attention``), programs exported in training mode, and a clean stderr
when the undecomposed import fails and the decomposed one is used. Marked ``torch``; skipped without torch.
"""

from __future__ import annotations

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


@pytest.mark.torch
def test_tiny_gpt2_prices_like_flop_counter():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from torch.utils.flop_counter import FlopCounterMode

    from hybridperf.frontends.torch_export import load_exported_program

    class LM(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            return self.m(input_ids=input_ids, use_cache=False)[0]

    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=100, n_embd=64, n_layer=2, n_head=2, n_positions=64)
    net = LM(transformers.GPT2LMHeadModel(config)).eval()
    ids = torch.randint(0, 100, (2, 16))
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
