"""State-space models written by others, blind: the sets plans (26) and (27) of CHANGELOG 2026-12-07 are judged on.

An evaluation, not a change: Mamba-2 (the chunked scan of its torch path: einsums, segment sums, no loop), Falcon-Mamba
and a further Mamba (the sequential selective scan, unrolled over the tokens by the exporter), and the hybrids Jamba
(Mamba layers and an attention layer), Bamba (Mamba-2 layers and an attention layer), Zamba and Zamba2 (Mamba / Mamba-2
layers and a shared attention block): transformers' modelling code with small configurations (hidden 192-256, 3-4
layers, 48-96 tokens, vocabulary 1000), random weights (``torch.manual_seed(0)``), never ``from_pretrained``; the
torch paths only (no CUDA kernels, ``use_mambapy=False``, eager attention, no cache). Predicted on the Zen 4 sheets
and the predictions committed before any timing, then measured by ``hybridperf calibrate --measure``.

Plan (27)'s set (``export --second``, to ``.zoo/ssm-set2``) holds other configurations of the networks of the Mamba
family whose layers repeat a value over short spans (Mamba, Falcon-Mamba, Jamba, Zamba): states of 8, 16, 32 and 64
elements (64 is not a short span: its term is 0), 2 to 6 layers, 32-128 tokens, one at batch 2.

Usage (the predictions and scores: ``benchmarks/broadcast_spans.py``)::

    .venv-bench/bin/python -m benchmarks.ssm_set export              # to .zoo/ssm-set (a network that fails is named)
    .venv-bench/bin/python -m benchmarks.ssm_set export --second     # to .zoo/ssm-set2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ZOO = Path(".zoo") / "ssm-set"
RUN = Path("calibration") / "host-epyc-zen4-ssm"
#: every configuration's vocabulary (the embedding is a gather: its size is not what the set is about)
VOCAB = 1000


def _nonnegative_perms(path: Path) -> Path:
    """Write each ``Transpose`` permutation of ``path`` with axes counted from the front, in place.

    The TorchScript exporter copies ``permute``'s dimensions as given: Mamba-2's chunked scan
    (``decay_states.permute(0, -2, -1, 1)``, in Bamba and Zamba2 too) becomes ``perm = [0, -2, -1, 1]``, which the
    ONNX specification does not allow and onnxruntime refuses when it loads the model ("Invalid attribute perm").
    The same permutation, the same graph otherwise.
    """
    import onnx

    model = onnx.load(str(path))
    changed = False
    for node in model.graph.node:
        for attr in node.attribute:
            if node.op_type == "Transpose" and attr.name == "perm" and min(attr.ints, default=0) < 0:
                attr.ints[:] = [i % len(attr.ints) for i in attr.ints]
                changed = True
    if changed:
        onnx.save(model, str(path))
    return path


def _text(name: str, model, tokens: int, zoo: Path = ZOO, batch: int = 1) -> Path:
    """Export ``model`` (called with ``input_ids`` of ``batch`` x ``tokens``, no cache) to ``zoo / name.onnx``: its
    first output, the last hidden states."""
    import torch

    from benchmarks.depthwise_set import _First
    from benchmarks.elementwise_math import _export

    return _nonnegative_perms(_export(zoo, name, _First(model, "input_ids", use_cache=False, return_dict=False),
                                      (torch.randint(0, VOCAB, (batch, tokens)),)))


def mamba2() -> Path:
    import torch
    from transformers import Mamba2Config, Mamba2Model

    torch.manual_seed(0)  # intermediate 512 = 8 heads of 64; 4 chunks of 16 tokens
    c = Mamba2Config(hidden_size=256, num_hidden_layers=4, state_size=64, num_heads=8, head_dim=64, n_groups=1,
                     expand=2, chunk_size=16, vocab_size=VOCAB, use_cache=False)
    return _text("mamba2_h256_l4_b1_s64", Mamba2Model(c).eval(), 64)


def falcon_mamba() -> Path:
    import torch
    from transformers import FalconMambaConfig, FalconMambaModel

    torch.manual_seed(0)
    c = FalconMambaConfig(hidden_size=256, num_hidden_layers=4, state_size=16, expand=2, intermediate_size=512,
                          time_step_rank=16, vocab_size=VOCAB, use_mambapy=False, use_associative_scan=False,
                          use_cache=False)
    return _text("falcon_mamba_h256_l4_b1_s64", FalconMambaModel(c).eval(), 64)


def jamba() -> Path:
    import torch
    from transformers import JambaConfig, JambaModel

    from benchmarks.depthwise_set import _no_packed_sequences

    _no_packed_sequences()
    torch.manual_seed(0)  # layers: mamba, mamba, attention, mamba; one expert (a dense MLP) everywhere
    c = JambaConfig(hidden_size=256, intermediate_size=768, num_hidden_layers=4, num_attention_heads=4,
                    num_key_value_heads=2, attn_layer_period=4, attn_layer_offset=2, num_experts=1,
                    num_experts_per_tok=1, mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=16,
                    use_mambapy=False, use_associative_scan=False, vocab_size=VOCAB, attn_implementation="eager",
                    use_cache=False)
    return _text("jamba_h256_l4_b1_s48", JambaModel(c).eval(), 48)


def bamba() -> Path:
    import torch
    from transformers import BambaConfig, BambaModel

    from benchmarks.depthwise_set import _no_packed_sequences

    _no_packed_sequences()
    torch.manual_seed(0)  # layers: mamba-2, mamba-2, attention, mamba-2 (8 heads of 64, state 64, chunks of 16)
    c = BambaConfig(hidden_size=256, intermediate_size=768, num_hidden_layers=4, num_attention_heads=4,
                    num_key_value_heads=2, attn_layer_indices=[2], mamba_n_heads=8, mamba_d_head=64, mamba_n_groups=1,
                    mamba_d_state=64, mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=16, vocab_size=VOCAB,
                    attn_implementation="eager", use_cache=False)
    return _text("bamba_h256_l4_b1_s64", BambaModel(c).eval(), 64)


def zamba2() -> Path:
    import torch
    from transformers import Zamba2Config, Zamba2Model

    from benchmarks.depthwise_set import _no_packed_sequences

    _no_packed_sequences()
    torch.manual_seed(0)  # mamba-2 layers (8 heads of 64, state 64, chunks of 16); the shared block before layer 2
    c = Zamba2Config(hidden_size=256, num_hidden_layers=4, intermediate_size=1024, num_attention_heads=4,
                     layers_block_type=["linear_attention", "linear_attention", "hybrid", "linear_attention"],
                     n_mamba_heads=8, mamba_d_state=64, mamba_d_conv=4, mamba_expand=2, mamba_ngroups=1, chunk_size=16,
                     use_mem_eff_path=False, vocab_size=VOCAB, attn_implementation="eager", use_cache=False)
    return _text("zamba2_h256_l4_b1_s64", Zamba2Model(c).eval(), 64)


def zamba() -> Path:
    import torch
    from transformers import ZambaConfig, ZambaModel

    from benchmarks.depthwise_set import _no_packed_sequences

    _no_packed_sequences()
    # mamba layers (2 heads, state 16); the shared attention block before layers 1 and 3 (transformers ties the
    # shared block of the hybrid layers after the first to it: one hybrid layer alone is refused)
    torch.manual_seed(0)
    c = ZambaConfig(hidden_size=256, attention_hidden_size=512, intermediate_size=1024, num_hidden_layers=4,
                    num_attention_heads=4, attention_head_dim=128, num_key_value_heads=4, n_mamba_heads=2,
                    layers_block_type=["linear_attention", "hybrid", "linear_attention", "hybrid"],
                    mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=16,
                    use_associative_scan=False, vocab_size=VOCAB, attn_implementation="eager", use_cache=False)
    return _text("zamba_h256_l4_b1_s48", ZambaModel(c).eval(), 48)


def mamba() -> Path:
    import torch
    from transformers import MambaConfig, MambaModel

    torch.manual_seed(0)  # narrower and longer than plan (22)'s and plan (23)'s
    c = MambaConfig(hidden_size=192, num_hidden_layers=3, state_size=16, expand=2, vocab_size=VOCAB,
                    use_mambapy=False, use_cache=False)
    return _text("mamba_h192_l3_b1_s96", MambaModel(c).eval(), 96)


NETWORKS = (mamba2, falcon_mamba, jamba, bamba, zamba2, zamba, mamba)
#: plan (27)'s set
ZOO2 = Path(".zoo") / "ssm-set2"


def mamba_state8() -> Path:
    import torch
    from transformers import MambaConfig, MambaModel

    torch.manual_seed(0)  # spans of 8: a state of 8 elements
    c = MambaConfig(hidden_size=128, num_hidden_layers=6, state_size=8, expand=2, vocab_size=VOCAB,
                    use_mambapy=False, use_cache=False)
    return _text("mamba_h128_l6_n8_b1_s128", MambaModel(c).eval(), 128, ZOO2)


def mamba_state64() -> Path:
    import torch
    from transformers import MambaConfig, MambaModel

    torch.manual_seed(0)  # spans of 64: not short, the term is 0
    c = MambaConfig(hidden_size=256, num_hidden_layers=2, state_size=64, expand=2, vocab_size=VOCAB,
                    use_mambapy=False, use_cache=False)
    return _text("mamba_h256_l2_n64_b1_s64", MambaModel(c).eval(), 64, ZOO2)


def mamba_batch2() -> Path:
    import torch
    from transformers import MambaConfig, MambaModel

    torch.manual_seed(0)
    c = MambaConfig(hidden_size=256, num_hidden_layers=3, state_size=16, expand=2, vocab_size=VOCAB,
                    use_mambapy=False, use_cache=False)
    return _text("mamba_h256_l3_n16_b2_s48", MambaModel(c).eval(), 48, ZOO2, batch=2)


def falcon_mamba_state32() -> Path:
    import torch
    from transformers import FalconMambaConfig, FalconMambaModel

    torch.manual_seed(0)  # spans of 32
    c = FalconMambaConfig(hidden_size=384, num_hidden_layers=2, state_size=32, expand=2, intermediate_size=768,
                          time_step_rank=24, vocab_size=VOCAB, use_mambapy=False, use_associative_scan=False,
                          use_cache=False)
    return _text("falcon_mamba_h384_l2_n32_b1_s32", FalconMambaModel(c).eval(), 32, ZOO2)


def jamba_small() -> Path:
    import torch
    from transformers import JambaConfig, JambaModel

    from benchmarks.depthwise_set import _no_packed_sequences

    _no_packed_sequences()
    # layers: mamba, attention, mamba, attention; one expert (a dense MLP): two experts route with aten::histc,
    # which torch does not export to ONNX
    torch.manual_seed(0)
    c = JambaConfig(hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
                    num_key_value_heads=2, attn_layer_period=2, attn_layer_offset=1, num_experts=1,
                    num_experts_per_tok=1, mamba_d_state=16,
                    mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=12, use_mambapy=False, use_associative_scan=False,
                    vocab_size=VOCAB, attn_implementation="eager", use_cache=False)
    return _text("jamba_h192_l4_b1_s64", JambaModel(c).eval(), 64, ZOO2)


def zamba_small() -> Path:
    import torch
    from transformers import ZambaConfig, ZambaModel

    from benchmarks.depthwise_set import _no_packed_sequences

    _no_packed_sequences()
    torch.manual_seed(0)  # mamba layers (4 heads, state 16); the shared attention block before layers 1 and 3
    c = ZambaConfig(hidden_size=192, attention_hidden_size=384, intermediate_size=768, num_hidden_layers=4,
                    num_attention_heads=4, attention_head_dim=96, num_key_value_heads=4, n_mamba_heads=4,
                    layers_block_type=["linear_attention", "hybrid", "linear_attention", "hybrid"],
                    mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=12,
                    use_associative_scan=False, vocab_size=VOCAB, attn_implementation="eager", use_cache=False)
    return _text("zamba_h192_l4_b1_s64", ZambaModel(c).eval(), 64, ZOO2)


SECOND = (mamba_state8, mamba_state64, mamba_batch2, falcon_mamba_state32, jamba_small, zamba_small)


def _imported(path: Path) -> Path:
    """``path`` once the product has read it (:func:`hybridperf.api.analyze`, nothing timed); one it cannot read is
    removed from the set and its error raised."""
    from hybridperf import api

    try:
        api.analyze(path)
    except Exception:
        path.unlink()
        raise
    return path


def export(networks=NETWORKS) -> list[Path]:
    """Write every network of ``networks`` (:data:`NETWORKS`: to :data:`ZOO`; :data:`SECOND`: to :data:`ZOO2`), one
    at a time, and read each back with the product;
    one that fails to export or to import is named on stderr with its reason and left out (the set is what
    exports)."""
    import traceback

    written = []
    for net in networks:
        try:
            written.append(_imported(net()))
        except Exception as exc:  # noqa: BLE001 - report and go on: the plan names what exported
            print(f"{net.__name__}: {type(exc).__name__}: {exc}".splitlines()[0][:300], file=sys.stderr)
            traceback.print_exc(limit=1)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("export",))
    p.add_argument("--second", action="store_true", help="plan (27)'s set (.zoo/ssm-set2)")
    a = p.parse_args(argv)
    if a.step == "export":  # torch and transformers: .venv-bench
        print(*export(SECOND if a.second else NETWORKS), sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
