"""Plan (25): the product as it stands, blind, on popular architectures no earlier set holds.

An evaluation, not a change: each network is written by others (transformers' modelling code and configurations,
random weights, ``torch.manual_seed(0)``, never ``from_pretrained``), predicted on the Zen 4 sheets and the
predictions committed before any timing, then measured by ``hybridperf calibrate --measure``.

Usage::

    .venv-bench/bin/python -m benchmarks.popular_set export     # to .zoo/popular-set (a network that fails is named)
    python -m benchmarks.popular_set predict                     # before any timing
    taskset -c 1 hybridperf calibrate --device host-epyc-zen4-1c --measure .zoo/popular-set --rounds 8 --steady 3 \\
        --out calibration/host-epyc-zen4-popular/host-epyc-zen4-1c
    hybridperf calibrate --device host-epyc-zen4-2c --measure .zoo/popular-set --rounds 16 --steady 3 \\
        --out calibration/host-epyc-zen4-popular/host-epyc-zen4-2c
    python -m benchmarks.popular_set score > benchmarks/results/popular_set.md
    python -m benchmarks.popular_set reprice > benchmarks/results/popular_set_probed.md   # not blind

``reprice`` prices the set again on this VM's probes of 2026-12-06 (written before the set was measured, for the
networks of ``benchmarks/unseen_networks.py``): the sheets ``--device host`` would have read here, where the shipped
Zen 4 sheets are probes of an earlier VM of this CPU (2026-12-01 / 03). Not blind: the runs were seen first (plan (26)
of CHANGELOG 2026-12-07).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ZOO = Path(".zoo") / "popular-set"
RUN = Path("calibration") / "host-epyc-zen4-popular"
STORED = {"predictions.csv": "the product (24)"}
SCORE_TITLE = ("Popular architectures no earlier set holds", "`benchmarks/popular_set.py`; plan (25)")


def _text(name: str, model, vocab: int, tokens: int = 128) -> Path:
    import torch

    from benchmarks.depthwise_set import _First
    from benchmarks.elementwise_math import _export

    return _export(ZOO, name, _First(model, "input_ids", return_dict=False),
                   (torch.randint(0, vocab, (1, tokens)),))


def _image(name: str, model, size: int) -> Path:
    import torch

    from benchmarks.depthwise_set import _First
    from benchmarks.elementwise_math import _export

    return _export(ZOO, name, _First(model, "pixel_values", return_dict=False), (torch.randn(1, 3, size, size),))


def deberta_v3_small() -> Path:
    import torch
    from transformers import DebertaV2Config, DebertaV2Model

    torch.manual_seed(0)  # microsoft/deberta-v3-small's configuration
    c = DebertaV2Config(hidden_size=768, num_hidden_layers=6, num_attention_heads=12, intermediate_size=3072,
                        vocab_size=128100, max_position_embeddings=512, relative_attention=True, position_buckets=256,
                        norm_rel_ebd="layer_norm", share_att_key=True, pos_att_type=["p2c", "c2p"],
                        layer_norm_eps=1e-7, max_relative_positions=-1, position_biased_input=False,
                        type_vocab_size=0)
    return _text("deberta_v3_small_b1_s128", DebertaV2Model(c).eval(), 1000)


def modernbert_base() -> Path:
    import torch
    from transformers import ModernBertConfig, ModernBertModel

    torch.manual_seed(0)  # answerdotai/ModernBERT-base's configuration (the default)
    c = ModernBertConfig(attn_implementation="eager")
    return _text("modernbert_base_b1_s128", ModernBertModel(c).eval(), 1000)


def qwen3_small() -> Path:
    import torch
    from transformers import Qwen3Config, Qwen3Model

    from benchmarks.depthwise_set import _no_packed_sequences

    _no_packed_sequences()
    torch.manual_seed(0)
    c = Qwen3Config(hidden_size=512, intermediate_size=1536, num_hidden_layers=6, num_attention_heads=8,
                    num_key_value_heads=4, head_dim=64, vocab_size=4096, attn_implementation="eager", use_cache=False)
    return _text("qwen3_h512_l6_b1_s128", Qwen3Model(c).eval(), 4096)


def smollm2_135m() -> Path:
    import torch
    from transformers import LlamaConfig, LlamaModel

    from benchmarks.depthwise_set import _no_packed_sequences

    _no_packed_sequences()
    torch.manual_seed(0)  # HuggingFaceTB/SmolLM2-135M's configuration
    c = LlamaConfig(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                    num_key_value_heads=3, vocab_size=49152, tie_word_embeddings=True, rope_theta=100000.0,
                    attn_implementation="eager", use_cache=False)
    return _text("smollm2_135m_b1_s128", LlamaModel(c).eval(), 1000)


def convnextv2_tiny() -> Path:
    import torch
    from transformers import ConvNextV2Config, ConvNextV2Model

    torch.manual_seed(0)  # facebook/convnextv2-tiny-1k-224
    c = ConvNextV2Config(depths=[3, 3, 9, 3], hidden_sizes=[96, 192, 384, 768])
    return _image("convnextv2_tiny_b1_r224", ConvNextV2Model(c).eval(), 224)


def swinv2_tiny() -> Path:
    import torch
    from transformers import Swinv2Config, Swinv2Model

    torch.manual_seed(0)  # microsoft/swinv2-tiny-patch4-window8-256
    c = Swinv2Config(image_size=256, window_size=8, embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24])
    return _image("swinv2_tiny_b1_r256", Swinv2Model(c).eval(), 256)


def dinov2_small() -> Path:
    import torch
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)  # facebook/dinov2-small
    c = Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, image_size=518, patch_size=14,
                     attn_implementation="eager")
    return _image("dinov2_small_b1_r224", Dinov2Model(c).eval(), 224)


def pvt_v2_b0() -> Path:
    import torch
    from transformers import PvtV2Config, PvtV2Model

    torch.manual_seed(0)  # OpenGVLab/pvt_v2_b0 (the default configuration)
    return _image("pvt_v2_b0_b1_r224", PvtV2Model(PvtV2Config()).eval(), 224)


def siglip_vision_base() -> Path:
    import torch
    from transformers import SiglipVisionConfig, SiglipVisionModel

    torch.manual_seed(0)  # google/siglip-base-patch16-224's vision tower (the default configuration)
    c = SiglipVisionConfig(attn_implementation="eager")
    return _image("siglip_vision_base_b1_r224", SiglipVisionModel(c).eval(), 224)


NETWORKS = (deberta_v3_small, modernbert_base, qwen3_small, smollm2_135m, convnextv2_tiny, swinv2_tiny, dinov2_small,
            pvt_v2_b0, siglip_vision_base)


def export() -> list[Path]:
    """Write every network of :data:`NETWORKS` to :data:`ZOO`; one that fails to export is named on stderr and left
    out (the set is what exports)."""
    import traceback

    written = []
    for net in NETWORKS:
        try:
            written.append(net())
        except Exception as exc:  # noqa: BLE001 - report and go on: the plan names what exported
            print(f"{net.__name__}: {type(exc).__name__}: {exc}"[:300], file=sys.stderr)
            traceback.print_exc(limit=1)
    return written


#: :func:`reprice`: setting -> this VM's probe of 2026-12-06, and the stored predictions scored
PROBED_1206 = {"host-epyc-zen4-1c": Path("calibration") / "host-epyc-zen4-1c-unseen" / "host-epyc-zen4-1c-probe-unseen.yaml",
               "host-epyc-zen4-2c": Path("calibration") / "host-epyc-zen4-2c-unseen" / "host-epyc-zen4-2c-probe-unseen.yaml"}
REPRICED = "predictions_probed_1206.csv"
REPRICED_STORED = {**STORED, REPRICED: "this VM's probe of 2026-12-06"}
REPRICED_TITLE = ("Popular architectures priced again on this VM's probe (not blind)",
                  "`benchmarks/popular_set.py` (`reprice`); plan (26)")


def reprice() -> str:
    """Store the set's predictions on :data:`PROBED_1206`'s sheets (:data:`REPRICED`) and score them beside the stored
    ones against the committed runs."""
    from benchmarks.tcn_conv1d import predict_sheets, score
    from hybridperf.device.spec import load_spec

    probed = {k: load_spec(v) for k, v in PROBED_1206.items()}
    predict_sheets(RUN, ZOO, tuple(PROBED_1206), {REPRICED: lambda spec: probed[spec.id]})
    return score(run=RUN, stored=REPRICED_STORED, title=REPRICED_TITLE, blind=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("export", "predict", "score", "reprice"))
    a = p.parse_args(argv)
    if a.step == "export":  # torch and transformers: .venv-bench
        print(*export(), sep="\n")
    elif a.step == "reprice":
        print(reprice())
    elif a.step == "predict":
        from benchmarks.tcn_conv1d import SETTINGS, predict

        print(predict(run=RUN, zoo=ZOO, name="predictions.csv", settings=SETTINGS))
    else:
        from benchmarks.tcn_conv1d import score

        print(score(run=RUN, stored=STORED, title=SCORE_TITLE))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
