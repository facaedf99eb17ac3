"""Plan (23)'s blind set: networks written by others with depthwise 1-D convolutions, exported, predicted before
timing, and scored against the product's measurement.

Conformer speech encoders (Wav2Vec2-Conformer with rotary positions, NVIDIA's Parakeet / FastConformer encoder,
SeamlessM4T v2's speech encoder), FastSpeech2-Conformer's encoder and decoder, Mamba's causal convolution (6 layers of
384, 48 tokens) and ConvBERT's span-based dynamic convolution: transformers' configurations (small ones where the
default is large), random weights (``torch.manual_seed(0)``), never ``from_pretrained``. Every depthwise convolution
of the set has stride 1 (kernels 4-31).

Usage::

    .venv-bench/bin/python -m benchmarks.depthwise_set export          # to .zoo/depthwise-set
    python -m benchmarks.depthwise_set predict                          # before any timing
    git worktree add /tmp/before23 ef97c92 && cp benchmarks/depthwise_set.py /tmp/before23/benchmarks/ && \
        (cd /tmp/before23 && ln -s /work/main/.zoo .zoo && PYTHONPATH=. python -m benchmarks.depthwise_set predict \
        --name predictions.csv) && cp /tmp/before23/calibration/host-epyc-zen4-depthwise1d/predictions.csv \
        calibration/host-epyc-zen4-depthwise1d/      # the product before (23)
    .venv-bench/bin/python -m benchmarks.depthwise_set export --set 2  # to .zoo/depthwise-set2
    python -m benchmarks.depthwise_set predict --set 2                  # (and from the worktree); rows appended
    mkdir .zoo/depthwise-all && ln -s ../depthwise-set/*.onnx ../depthwise-set2/*.onnx .zoo/depthwise-all/
    taskset -c 1 hybridperf calibrate --device host-epyc-zen4-1c --measure .zoo/depthwise-all --rounds 8 \
        --steady 3 --out calibration/host-epyc-zen4-depthwise1d/host-epyc-zen4-1c
    hybridperf calibrate --device host-epyc-zen4-2c --measure .zoo/depthwise-all --rounds 16 --steady 3 \
        --out calibration/host-epyc-zen4-depthwise1d/host-epyc-zen4-2c
    python -m benchmarks.depthwise_set score > benchmarks/results/depthwise_set.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

ZOO = Path(".zoo") / "depthwise-set"
RUN = Path("calibration") / "host-epyc-zen4-depthwise1d"
#: plan (23)'s stored predictions: file -> heading
STORED = {"predictions_23.csv": "with (23)", "predictions.csv": "without (23)"}
SCORE_TITLE = ("Networks with depthwise 1-D convolutions", "`benchmarks/depthwise_set.py`; plan (23)")


def _export(name: str, module, args, **kwargs) -> Path:
    import torch

    ZOO.mkdir(parents=True, exist_ok=True)
    path = ZOO / f"{name}.onnx"
    with torch.no_grad():
        torch.onnx.export(module.eval(), args, str(path), dynamo=False, opset_version=17, **kwargs)
    return path


class _First:
    """Build an ``nn.Module`` calling ``m(**{input_name: x}, **extra)`` and returning its first output."""

    def __new__(cls, m, input_name: str, **extra):
        from torch import nn

        class Wrap(nn.Module):
            def __init__(self):
                super().__init__()
                self.m = m

            def forward(self, x):
                out = self.m(**{input_name: x}, **extra)
                return out[0] if isinstance(out, (tuple, list)) else out.last_hidden_state

        return Wrap()


def _w2v2_conformer(pos: str) -> Path:
    import torch
    from transformers import Wav2Vec2ConformerConfig, Wav2Vec2ConformerModel

    torch.manual_seed(0)
    config = Wav2Vec2ConformerConfig(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                                     intermediate_size=1024, conv_depthwise_kernel_size=31,
                                     position_embeddings_type=pos, attn_implementation="eager")
    model = Wav2Vec2ConformerModel(config).eval()
    audio = torch.randn(1, 16000)  # 1 s at 16 kHz -> 49 frames
    return _export(f"w2v2_conformer_{pos}_h256_l4_b1_s16000", _First(model, "input_values", return_dict=False),
                   (audio,))


def w2v2_conformer_rotary() -> Path:
    return _w2v2_conformer("rotary")


def _fs2(part: str, length: int) -> Path:
    import torch
    from transformers import FastSpeech2ConformerConfig, FastSpeech2ConformerModel

    torch.manual_seed(0)
    config = FastSpeech2ConformerConfig()  # hidden 384, 2 heads, 4+4 layers, encoder kernel 7, decoder kernel 31
    model = FastSpeech2ConformerModel(config).eval()
    if part == "encoder":
        ids = torch.randint(1, config.vocab_size, (1, length))
        return _export(f"fastspeech2_conformer_encoder_b1_s{length}", _First(model.encoder, "input_tensor",
                                                                              return_dict=False), (ids,))
    frames = torch.randn(1, length, config.hidden_size)  # the length-regulated encoder output
    return _export(f"fastspeech2_conformer_decoder_b1_f{length}", _First(model.decoder, "input_tensor",
                                                                          return_dict=False), (frames,))


def fs2_encoder() -> Path:
    return _fs2("encoder", 64)


def fs2_decoder() -> Path:
    return _fs2("decoder", 400)  # about 4.6 s of 22.05 kHz audio at hop 256


def parakeet() -> Path:
    import torch
    from transformers import ParakeetEncoder, ParakeetEncoderConfig

    torch.manual_seed(0)
    config = ParakeetEncoderConfig(hidden_size=256, num_hidden_layers=6, num_attention_heads=4, intermediate_size=1024,
                                   conv_kernel_size=9, subsampling_conv_channels=128, num_mel_bins=80,
                                   attn_implementation="eager")
    model = ParakeetEncoder(config).eval()
    mel = torch.randn(1, 300, config.num_mel_bins)  # 3 s of 10 ms log-mel frames -> 38 encoder frames
    return _export("parakeet_encoder_h256_l6_b1_f300", _First(model, "input_features"), (mel,))


def seamless_v2() -> Path:
    import torch
    from transformers import SeamlessM4Tv2Config
    from transformers.models.seamless_m4t_v2.modeling_seamless_m4t_v2 import SeamlessM4Tv2SpeechEncoder

    torch.manual_seed(0)
    config = SeamlessM4Tv2Config(hidden_size=256, speech_encoder_layers=4, speech_encoder_attention_heads=4,
                                 speech_encoder_intermediate_size=1024, conv_depthwise_kernel_size=31,
                                 attn_implementation="eager")
    model = SeamlessM4Tv2SpeechEncoder(config).eval()
    feats = torch.randn(1, 200, config.feature_projection_input_dim)  # 4 s (stacked fbank, 20 ms a frame)
    return _export("seamless_m4tv2_speech_encoder_h256_l4_b1_f200", _First(model, "input_features"), (feats,))


def mamba() -> Path:
    import torch
    from transformers import MambaConfig, MambaModel

    torch.manual_seed(0)
    config = MambaConfig(hidden_size=384, num_hidden_layers=6, state_size=16, vocab_size=1000, expand=2,
                         use_cache=False)
    model = MambaModel(config).eval()
    ids = torch.randint(0, config.vocab_size, (1, 48))
    return _export("mamba_h384_l6_b1_s48", _First(model, "input_ids", use_cache=False, return_dict=False), (ids,))


def convbert() -> Path:
    import torch
    from transformers import ConvBertConfig, ConvBertModel

    torch.manual_seed(0)
    config = ConvBertConfig(hidden_size=256, num_hidden_layers=6, num_attention_heads=4, intermediate_size=1024,
                            embedding_size=128, conv_kernel_size=9, head_ratio=2, attn_implementation="eager")
    model = ConvBertModel(config).eval()
    ids = torch.randint(0, config.vocab_size, (1, 128))
    return _export("convbert_small_b1_s128", _First(model, "input_ids", return_dict=False), (ids,))


NETWORKS = (w2v2_conformer_rotary, fs2_encoder, fs2_decoder, parakeet, seamless_v2, mamba, convbert)


def export() -> list[Path]:
    """Write every network of :data:`NETWORKS` to :data:`ZOO`."""
    return [net() for net in NETWORKS]


#: the second set: audio networks whose depthwise 1-D convolutions are a large part (anti-aliased SnakeBeta
#: activations: depthwise kernel-12 stride-2 Conv and ConvTranspose around each), and two where they are small
ZOO2 = Path(".zoo") / "depthwise-set2"


def _no_packed_sequences() -> None:
    """The TorchScript exporter has no ``aten::diff`` (transformers' packed-sequence detection from position ids); one
    sequence of arange positions is never packed, so the check returns None, as it does outside tracing."""
    from transformers import masking_utils

    masking_utils.find_packed_sequence_indices = lambda position_ids: None


def _export2(name: str, module, args) -> Path:
    import torch

    ZOO2.mkdir(parents=True, exist_ok=True)
    path = ZOO2 / f"{name}.onnx"
    with torch.no_grad():
        torch.onnx.export(module.eval(), args, str(path), dynamo=False, opset_version=17)
    return path


def export2() -> list[Path]:
    """Write the second set to :data:`ZOO2`: X-codec2's acoustic encoder (0.5 s of 16 kHz audio) and NeuCodec's (the
    same classes and configuration, 1.0 s), whose anti-aliased activations are the depthwise convolutions (their
    decoders are Vocos with an inverse STFT, no depthwise one); Mimi's decoder from 6 latent frames (one depthwise
    ConvTranspose upsampler, 8 transformer layers, the SEANet decoder); Qwen3-Omni's code2wav from 16 x 6 codes (two
    ConvNeXt depthwise kernel-7 convolutions, SnakeBeta decoder)."""
    import torch
    from torch import nn
    from transformers import MimiConfig, NeuCodecConfig, Xcodec2Config
    from transformers.models.mimi.modeling_mimi import MimiDecoderModel
    from transformers.models.neucodec import modeling_neucodec
    from transformers.models.qwen3_omni_moe.configuration_qwen3_omni_moe import Qwen3OmniMoeCode2WavConfig
    from transformers.models.qwen3_omni_moe.modeling_qwen3_omni_moe import Qwen3OmniMoeCode2Wav
    from transformers.models.xcodec2 import modeling_xcodec2

    from benchmarks.elementwise_math import _static_resamplers

    written = []
    torch.manual_seed(0)
    config = Xcodec2Config()
    enc = modeling_xcodec2.Xcodec2Encoder(config).eval()
    _static_resamplers(enc, modeling_xcodec2.Xcodec2AntiAliasedActivation1d)
    written.append(_export2("xcodec2_acoustic_encoder_s0.5", enc, (torch.randn(1, 1, int(config.sampling_rate * 0.5)),)))
    torch.manual_seed(0)
    config = NeuCodecConfig()
    enc = modeling_neucodec.NeuCodecEncoder(config).eval()
    _static_resamplers(enc, modeling_neucodec.NeuCodecAntiAliasedActivation1d)
    written.append(_export2("neucodec_acoustic_encoder_s1.0", enc,
                            (torch.randn(1, 1, int(config.input_sampling_rate * 1.0)),)))
    _no_packed_sequences()
    torch.manual_seed(0)
    config = MimiConfig()

    class Audio(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.d = d

        def forward(self, latents):
            return self.d(latents, use_cache=False).audio_values

    written.append(_export2("mimi_decoder_f6", Audio(MimiDecoderModel(config.decoder_config).eval()),
                            (torch.randn(1, config.hidden_size, 6),)))
    torch.manual_seed(0)
    config = Qwen3OmniMoeCode2WavConfig()
    written.append(_export2("qwen3omni_code2wav_f6", Qwen3OmniMoeCode2Wav(config).eval(),
                            (torch.randint(0, config.codebook_size, (1, config.num_quantizers, 6)),)))
    return written


def predict(run: Path = RUN, zoo: Path = ZOO, settings=("host-epyc-zen4-1c", "host-epyc-zen4-2c"),
            name: str = "predictions_23.csv") -> list[Path]:
    """Store the product's prediction of every export of ``zoo`` on each sheet before the set is timed: with (23)
    (``predictions_23.csv``, or ``name``). The product without (23) is the one of commit ef97c92, run from a worktree
    of it with the same step and ``--name predictions.csv`` (the module docstring)."""
    from benchmarks.tcn_conv1d import predict as store

    return [store(run=run, zoo=zoo, name=name, settings=tuple(settings))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("export", "predict", "score"))
    p.add_argument("--name", default="predictions_23.csv")
    p.add_argument("--set", choices=("1", "2"), default="1", help="export / predict: the first set or the second")
    a = p.parse_args(argv)
    if a.step == "export":
        print(*(export() if a.set == "1" else export2()), sep="\n")
    elif a.step == "predict":
        # the second set's rows were appended to the first's files (``tail -n +2``) before any timing
        print(*predict(zoo=ZOO if a.set == "1" else ZOO2,
                       name=a.name if a.set == "1" else a.name.replace(".csv", "_set2.csv")), sep="\n")
    else:
        from benchmarks.tcn_conv1d import score

        print(score(run=RUN, stored=STORED, title=SCORE_TITLE))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
