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
