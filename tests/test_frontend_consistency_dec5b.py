"""The same model through the ONNX and the ``torch.export`` frontends (audit of 2026-12-05b): ATen ops that Hugging Face
transformers 5 and torchvision programs use and TVM 0.27's importer has no converter for made the whole program fall
back to the decomposed import, whose ``matmul`` is ``expand`` + ``bmm`` (one copy kernel per ``expand`` in eager
PyTorch: wav2vec2 priced 27 % slower on t4 than its ONNX export). Tiny modules, each checked against PyTorch's own
output. Marked ``torch``; skipped without torch.
"""

from __future__ import annotations

import pytest

import hybridperf


def _run_relax(module, *arrays):
    """Build ``module`` for the CPU and run ``main`` on ``arrays``; its (first) output as numpy."""
    from hybridperf.ir import tvm_compat as _tvm

    tvm, relax = _tvm.tvm_modules()
    vm = relax.VirtualMachine(relax.build(module, target="llvm"), tvm.cpu())
    out = vm["main"](*[tvm.runtime.tensor(a) for a in arrays])
    return (out if hasattr(out, "numpy") else out[0]).numpy()


def _imported_as_exported(torch, net, *inputs):
    """``net`` loaded through the torch frontend; asserts the undecomposed import was used and the result matches
    PyTorch's; returns the analysis."""
    import numpy as np

    from hybridperf.frontends.torch_export import load_torch

    with torch.no_grad():
        want = net(*inputs).numpy()
    loaded = load_torch(net, inputs)
    assert loaded.format == "torch.export"
    got = _run_relax(loaded.module, *[t.numpy() for t in inputs])
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    return hybridperf.analyze(loaded.module)


@pytest.mark.torch
def test_attention_with_a_where_scalar_mask_keeps_matmul_undecomposed():
    torch = pytest.importorskip("torch")

    class Attn(torch.nn.Module):
        # Hugging Face's eager attention with the mask transformers 5 builds: where(keep, 0, finfo.min)
        def forward(self, q, k, v, keep):
            bias = torch.where(keep, torch.zeros(()), torch.finfo(torch.float32).min)
            return torch.softmax(q @ k.transpose(-1, -2) + bias, -1) @ v

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 4, 8, generator=g) for _ in range(3))  # batch 1, 2 heads, 4 tokens, head dim 8
    keep = torch.tensor([True, True, True, False]).expand(1, 1, 4, 4)
    # until 2026-12-05b: Unsupported function types ['where.ScalarOther'], the decomposed import used: each matmul
    # an identity broadcast_to (a copy kernel under eager PyTorch) + matmul
    a = _imported_as_exported(torch, Attn().eval(), q, k, v, keep)
    ops = [r.op for r in a.analysis.records]
    assert "relax.broadcast_to" not in ops
    # Q.K^T and P.V: 2 x (1 x 2 heads x 4 x 4 x 8 MAC) x 2 FLOP/MAC
    assert sum(r.cost.flops for r in a.analysis.records if r.op == "relax.matmul") == 2 * (2 * 4 * 4 * 8) * 2


@pytest.mark.torch
def test_where_with_a_scalar_operand_is_imported():
    torch = pytest.importorskip("torch")

    class W(torch.nn.Module):
        def forward(self, keep, x):
            return torch.where(keep, 2.5, x)

    class Promoted(torch.nn.Module):
        def forward(self, keep, n):
            return torch.where(keep, n, -0.5)  # int64 and a float scalar: a float32 result, as in PyTorch

    x = torch.randn(3, 5, generator=torch.Generator().manual_seed(1))
    # until 2026-12-05b: where.ScalarSelf had no converter (decomposed import)
    _imported_as_exported(torch, W().eval(), x > 0, x)
    _imported_as_exported(torch, Promoted().eval(), x > 0, x.mul(10).long())


@pytest.mark.torch
def test_to_device_with_a_dtype_is_a_cast_and_without_a_change_nothing():
    torch = pytest.importorskip("torch")

    class To(torch.nn.Module):
        # Hugging Face decoders: mask.to(device, torch.bool); the second .to changes nothing
        def forward(self, x):
            m = x.to(x.device, torch.bool)
            return torch.where(m, x.to(x.device, torch.float32), 1.0)

    x = torch.tensor([[0.0, 1.5], [2.0, 0.0]])
    # until 2026-12-05b: Unsupported function types ['to.device'] (decomposed import)
    a = _imported_as_exported(torch, To().eval(), x)
    assert [r.op for r in a.analysis.records].count("relax.astype") == 1


@pytest.mark.torch
@pytest.mark.parametrize("dim", [0, 2])
def test_weight_norm_conv_is_priced_on_its_weight_once(dim):
    torch = pytest.importorskip("torch")

    torch.manual_seed(0)
    conv = torch.nn.Conv1d(8, 8, 3, padding=1, groups=2, bias=False)
    net = torch.nn.utils.parametrizations.weight_norm(conv, name="weight", dim=dim).eval()  # wav2vec2's positional convolution: dim 2
    x = torch.randn(1, 8, 16)
    # until 2026-12-05b: Unsupported function types ['_weight_norm.default'] (decomposed import)
    a = _imported_as_exported(torch, net, x)
    # v (8 x 4 x 3) and g (8 x 1 x 1, or 1 x 1 x 3 for dim 2) in float32, nothing else
    g = 8 if dim == 0 else 3
    assert a.analysis.weight_bytes == (8 * 4 * 3 + g) * 4
    conv_flops = sum(r.cost.flops for r in a.analysis.records if r.op == "relax.nn.conv1d")
    assert conv_flops == 2 * (8 * 16) * (4 * 3)  # 2 x outputs (8 channels x 16) x MACs each (4 inputs x 3 taps)


@pytest.mark.torch
def test_swapaxes_is_a_transpose():
    torch = pytest.importorskip("torch")

    class Swap(torch.nn.Module):
        def forward(self, x):
            return torch.swapaxes(x, -2, -3) * 2.0  # MaxViT's grid partition

    x = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(2))
    # until 2026-12-05b: Unsupported function types ['swapaxes.default'] (decomposed import)
    a = _imported_as_exported(torch, Swap().eval(), x)
    assert [r.op for r in a.analysis.records] == ["relax.permute_dims", "relax.multiply"]


@pytest.mark.torch
def test_decomposed_matmul_has_no_copy_kernel_for_its_identity_expand():
    torch = pytest.importorskip("torch")
    import numpy as np

    from hybridperf.frontends.torch_export import load_exported_program

    class Scores(torch.nn.Module):
        def forward(self, q, k, row):
            return q @ k.transpose(-1, -2) + row.expand(1, 2, 4, 4)  # the second expand broadcasts for real

    g = torch.Generator().manual_seed(3)
    q, k, row = torch.randn(1, 2, 4, 8, generator=g), torch.randn(1, 2, 4, 8, generator=g), torch.randn(4, generator=g)
    # the decomposed program, as the fallback imports it (Swin-T: fill_.Tensor): matmul = expand + view + bmm
    ep = torch.export.export(Scores(), (q, k, row)).run_decompositions()
    assert "aten.bmm.default" in [str(n.target) for n in ep.graph.nodes]
    loaded = load_exported_program(ep)
    got = _run_relax(loaded.module, q.numpy(), k.numpy(), row.numpy())
    np.testing.assert_allclose(got, Scores()(q, k, row).numpy(), rtol=1e-5, atol=1e-5)
    a = hybridperf.analyze(loaded.module)
    # until 2026-12-05b: 3 broadcast_to, the two identity ones (q and k^T to their own shapes) copy kernels
    bcast = [r for r in a.analysis.records if r.op == "relax.broadcast_to"]
    assert [r.outputs[0].shape for r in bcast] == [(1, 2, 4, 4)]
    assert a.analysis.flops - sum(r.cost.flops for r in a.analysis.records if r.op != "relax.matmul") \
        == 2 * (2 * 4 * 4 * 8)  # 2 heads x 4 x 4 x 8 MAC


@pytest.mark.torch
def test_where_with_an_int_scalar_and_a_bool_tensor_is_int64():
    # until 2026-12-05b (review): torch.where(c, bool_tensor, 1) became a bool result; PyTorch promotes it to int64
    torch = pytest.importorskip("torch")

    class M(torch.nn.Module):
        def forward(self, c, b):
            return torch.where(c, b, 1)

    _imported_as_exported(torch, M().eval(), torch.tensor([True, False, True]), torch.tensor([False, True, True]))
