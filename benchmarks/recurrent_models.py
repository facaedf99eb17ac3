"""Recurrent networks written by others, exported to ONNX for ``benchmarks.recurrent_cost``.

Each is built with random weights (fixed seed; nothing is downloaded) and exported with PyTorch's ONNX exporter
(``dynamo=False``, opset 17, as the zoo's ``_legacy`` exports), which writes every ``nn.LSTM`` / ``nn.GRU`` /
``nn.RNN`` as one ONNX ``LSTM`` / ``GRU`` / ``RNN`` node (imported by :mod:`hybridperf.frontends.recurrent`
since 2026-12-07):

- ``wlm_*``: the word-level language model of PyTorch's examples (``pytorch/examples``,
  ``word_language_model/model.py``, ``RNNModel``: embedding, a 2-layer ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``
  (tanh or ReLU), a linear decoder over the vocabulary), at the example's defaults (``--emsize 200 --nhid 200
  --nlayers 2 --bptt 35``, eval batch 10, WikiText-2's 33,278 words) and its README's medium model
  (``--emsize 650 --nhid 650``), sequence-first as the example feeds it;
- ``encodec_*``: Hugging Face ``EncodecModel`` (``EncodecConfig()``, the 24 kHz codec's architecture): its SEANet
  encoder on 1 s of mono audio and decoder on that second's 75 latent frames (each with a 2-layer LSTM);
- ``parakeet_rnnt_decoder``: Hugging Face ``ParakeetRNNTDecoder`` (``ParakeetRNNTConfig()``), the RNN-T prediction
  network (embedding, LSTM, projection) over 64 tokens.

torch and transformers live in a separate environment (the package never imports them)::

    .venv-bench/bin/python -m benchmarks.recurrent_models                # plan (14)'s, to .zoo/recurrent
    .venv-bench/bin/python -m benchmarks.recurrent_models --set check    # plan (15)'s, to .zoo/recurrent-check
    .venv-bench/bin/python -m benchmarks.recurrent_models --set steps    # plan (18)'s, to .zoo/recurrent-steps
"""

from __future__ import annotations

import argparse
from pathlib import Path

#: WikiText-2's vocabulary, the example's ntokens on its default data
WIKITEXT2_TOKENS = 33278
BPTT = 35
EVAL_BATCH = 10


def _wlm(kind: str, size: int):
    """``RNNModel`` of pytorch/examples word_language_model, its architecture (dropout is inactive in eval)."""
    import torch
    from torch import nn

    class RNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Embedding(WIKITEXT2_TOKENS, size)
            if kind in ("LSTM", "GRU"):
                self.rnn = getattr(nn, kind)(size, size, 2)
            else:
                self.rnn = nn.RNN(size, size, 2, nonlinearity={"RNN_TANH": "tanh", "RNN_RELU": "relu"}[kind])
            self.decoder = nn.Linear(size, WIKITEXT2_TOKENS)

        def forward(self, tokens):
            output, _ = self.rnn(self.encoder(tokens))
            return torch.log_softmax(self.decoder(output).view(-1, WIKITEXT2_TOKENS), dim=1)

    return RNNModel().eval(), (torch.randint(0, WIKITEXT2_TOKENS, (BPTT, EVAL_BATCH)),)


def _encodec(part: str):
    import torch
    from transformers import EncodecConfig, EncodecModel

    config = EncodecConfig()
    model = EncodecModel(config).eval()
    if part == "encoder":
        return model.encoder, (torch.randn(1, 1, config.sampling_rate),)
    frames = config.sampling_rate // int(torch.tensor(config.upsampling_ratios).prod())
    return model.decoder, (torch.randn(1, config.hidden_size, frames),)


def _parakeet_decoder():
    import torch
    from transformers.models.parakeet.configuration_parakeet import ParakeetRNNTConfig
    from transformers.models.parakeet.modeling_parakeet import ParakeetRNNTDecoder

    config = ParakeetRNNTConfig()
    return ParakeetRNNTDecoder(config).eval(), (torch.randint(0, config.vocab_size, (1, 64)),)


def _layer(kind: str, hidden: int, batch: int, steps: int = 32, bidirectional: bool = False):
    """One ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` (tanh) layer (input size = hidden size), sequence-first, from a zero
    state."""
    import torch
    from torch import nn

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, kind)(hidden, hidden, 1, bidirectional=bidirectional)

        def forward(self, x):
            return self.rnn(x)[0]

    return Layer().eval(), (torch.randn(steps, batch, hidden),)


def _parakeet_at(batch: int, tokens: int):
    import torch

    module, _ = _parakeet_decoder()
    from transformers.models.parakeet.configuration_parakeet import ParakeetRNNTConfig

    return module, (torch.randint(0, ParakeetRNNTConfig().vocab_size, (batch, tokens)),)


#: the set plan (15) of CHANGELOG 2026-12-07 scores the LLC term on (``--set check``): measured after the change
CHECK = {
    **{f"lstm_h{h}_b{b}_t32": (lambda h=h, b=b: _layer("LSTM", h, b)) for h in (256, 768, 1536) for b in (1, 8)},
    **{f"gru_h{h}_b1_t32": (lambda h=h: _layer("GRU", h, 1)) for h in (256, 768, 1536)},
    "parakeet_rnnt_decoder_b1_s16": lambda: _parakeet_at(1, 16),
    "parakeet_rnnt_decoder_b1_s128": lambda: _parakeet_at(1, 128),
    "parakeet_rnnt_decoder_b4_s64": lambda: _parakeet_at(4, 64),
}

#: plan (16)'s set (``--set edge``): layers whose step weights lie between half the 32 MiB LLC and all of it
EDGE = {
    "lstm_h1024_b1_t32": lambda: _layer("LSTM", 1024, 1),   # 16 MiB a step
    "gru_h1280_b1_t32": lambda: _layer("GRU", 1280, 1),     # 18.75 MiB
    "lstm_h1152_b1_t32": lambda: _layer("LSTM", 1152, 1),   # 20.25 MiB
    "gru_h1408_b1_t32": lambda: _layer("GRU", 1408, 1),     # 22.7 MiB
    "lstm_h1280_b1_t32": lambda: _layer("LSTM", 1280, 1),   # 25 MiB
    "lstm_h1024_b4_t32": lambda: _layer("LSTM", 1024, 4),   # 16 MiB, batch 4
}

#: plan (17)'s set (``--set small``): layers whose step weights fit two cores' 1 MiB L2 caches
SMALL = {
    "lstm_h128_b1_t64": lambda: _layer("LSTM", 128, 1, 64),    # 0.25 MiB a step
    "lstm_h192_b1_t64": lambda: _layer("LSTM", 192, 1, 64),    # 0.56 MiB
    "lstm_h320_b1_t64": lambda: _layer("LSTM", 320, 1, 64),    # 1.56 MiB
    "lstm_h320_b4_t64": lambda: _layer("LSTM", 320, 4, 64),    # 1.56 MiB, batch 4
    "gru_h384_b1_t64": lambda: _layer("GRU", 384, 1, 64),      # 1.69 MiB
    "gru_h192_b4_t64": lambda: _layer("GRU", 192, 4, 64),      # 0.42 MiB, batch 4
}

#: plan (18)'s set (``--set steps``, CHANGELOG 2026-12-07 02:26 UTC session): layers none of the sets above holds, their
#: step weights in the cores' L2 (0.14-0.9 MiB) or the LLC (2.25-3 MiB), one bidirectional, one ``RNN``
STEPS = {
    "lstm_h96_b1_t128": lambda: _layer("LSTM", 96, 1, 128),     # 0.14 MiB a step
    "lstm_h240_b2_t48": lambda: _layer("LSTM", 240, 2, 48),     # 0.88 MiB, batch 2
    "gru_h128_b1_t96": lambda: _layer("GRU", 128, 1, 96),       # 0.19 MiB
    "gru_h256_b1_t64": lambda: _layer("GRU", 256, 1, 64),       # 0.75 MiB
    "rnn_h448_b1_t64": lambda: _layer("RNN", 448, 1, 64),       # 0.77 MiB
    "lstm_h160_b1_t64_bi": lambda: _layer("LSTM", 160, 1, 64, bidirectional=True),  # 0.39 MiB a direction
    "lstm_h384_b1_t48": lambda: _layer("LSTM", 384, 1, 48),     # 2.25 MiB
    "gru_h512_b2_t32": lambda: _layer("GRU", 512, 2, 32),       # 3 MiB, batch 2
}

#: plan (20)'s set (``--set steps2``): layers none of the sets above holds, to judge plan (18) again with a steadiness
#: gate (CHANGELOG 2026-12-07, 03:00 UTC)
STEPS2 = {
    "lstm_h112_b1_t96": lambda: _layer("LSTM", 112, 1, 96),     # 0.19 MiB a step
    "lstm_h208_b1_t64": lambda: _layer("LSTM", 208, 1, 64),     # 0.66 MiB
    "lstm_h256_b1_t64": lambda: _layer("LSTM", 256, 1, 64),     # 1 MiB
    "gru_h160_b2_t64": lambda: _layer("GRU", 160, 2, 64),       # 0.29 MiB, batch 2
    "gru_h320_b1_t48": lambda: _layer("GRU", 320, 1, 48),       # 1.17 MiB
    "rnn_h384_b1_t96": lambda: _layer("RNN", 384, 1, 96),       # 0.56 MiB
    "lstm_h128_b1_t64_bi": lambda: _layer("LSTM", 128, 1, 64, bidirectional=True),  # 0.25 MiB a direction
    "gru_h448_b1_t32": lambda: _layer("GRU", 448, 1, 32),       # 2.3 MiB
}

#: file stem -> builder of ``(module, example inputs)``: plan (14)'s networks
MODELS = {
    **{f"wlm_{kind.lower()}_{size}_b{EVAL_BATCH}_s{BPTT}": (lambda kind=kind, size=size: _wlm(kind, size))
       for size in (200, 650) for kind in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU")},
    "encodec_24khz_encoder_b1_s24000": lambda: _encodec("encoder"),
    "encodec_24khz_decoder_b1_s75": lambda: _encodec("decoder"),
    "parakeet_rnnt_decoder_b1_s64": _parakeet_decoder,
}


#: ``--set`` choices
SETS = {"networks": MODELS, "check": CHECK, "edge": EDGE, "small": SMALL, "steps": STEPS, "steps2": STEPS2}


def export(out: Path, names: list[str] | None = None, which: str = "networks") -> list[Path]:
    import torch

    models = SETS[which]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names or list(models):
        torch.manual_seed(0)
        module, args = models[name]()
        path = out / f"{name}.onnx"
        with torch.no_grad():
            torch.onnx.export(module, args, str(path), dynamo=False, opset_version=17)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", choices=sorted(SETS), default="networks",
                   help="networks: plan (14)'s (default, to .zoo/recurrent); check: plan (15)'s layers and Parakeet "
                        "variants (to .zoo/recurrent-check); edge: plan (16)'s (to .zoo/recurrent-edge); small: "
                        "plan (17)'s (to .zoo/recurrent-small); steps: plan (18)'s (to .zoo/recurrent-steps); steps2: plan (20)'s (to .zoo/recurrent-steps2)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("names", nargs="*", help="models to export (default: all of the set)")
    a = p.parse_args(argv)
    out = a.out or Path(".zoo") / ("recurrent" if a.set == "networks" else f"recurrent-{a.set}")
    for path in export(out, a.names or None, a.set):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
