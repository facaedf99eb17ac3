"""Activations onnxruntime runs with a kernel of its own that evaluates one element at a time (``Softplus``, ``Mish``,
``Elu``, ``Selu``, ``Celu``): how much they cost, and plan (28) of CHANGELOG 2026-12-07, which prices them.

Found on 2026-12-07 while reading a Mamba's onnxruntime profile (its ``Softplus`` nodes 0.36 ms each, 11 ns per
element, where the product priced the ``log`` of their Relax lowering at 1.5): TVM's ONNX importer lowers these
activations into chains of cheap element-wise ops (``Softplus``: ``maximum``, ``abs``, ``negative``, ``exp``, ``add``,
``log``, ``add``; ``Elu``: ``exp``, ``subtract``, ``relu``, ...), which the roofline and the learned CPU models price
as such, while onnxruntime evaluates them one element at a time. ``unary`` times lone nodes over standard normal
float32 values (both signs, as an activation's input), with a ``Neg`` as the copy they are compared to.

Steps (run 1-thread steps pinned, ``taskset -c 1``; ``--threads 2`` unpinned)::

    python -m benchmarks.scalar_activations unary --out calibration/host-epyc-zen4-activations     # unary.csv
    python -m benchmarks.scalar_activations probe --out calibration/host-epyc-zen4-activations     # math_probe.csv
    python -m benchmarks.scalar_activations summary --out calibration/host-epyc-zen4-activations \\
        > benchmarks/results/scalar_activations.md

Plan (28)'s blind set and its scoring::

    .venv-bench/bin/python -m benchmarks.scalar_activations export      # to .zoo/activation-set
    python -m benchmarks.scalar_activations predict                      # before any timing: with and without (28)
    taskset -c 1 hybridperf calibrate --device host-epyc-zen4-1c --measure .zoo/activation-set --rounds 8 \
        --steady 3 --out calibration/host-epyc-zen4-activation-set/host-epyc-zen4-1c
    hybridperf calibrate --device host-epyc-zen4-2c --measure .zoo/activation-set --rounds 16 --steady 3 \
        --out calibration/host-epyc-zen4-activation-set/host-epyc-zen4-2c
    python -m benchmarks.scalar_activations score > benchmarks/results/activation_set.md
    python -m benchmarks.scalar_activations after > benchmarks/results/activations_after28.md   # not blind

``predict`` stores the product's predictions on the Zen 4 sheets (with the activations' figures,
``predictions_28.csv``; without them, each activation priced as its Relax lowering was before plan (28),
``predictions.csv``); ``score`` writes the report (:func:`benchmarks.tcn_conv1d.score`, the same table).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

RUN = Path("calibration") / "host-epyc-zen4-activations"
#: the ONNX unary ops ``unary`` times, the copy first
UNARY_OPS = ("Neg", "Relu", "LeakyRelu", "Exp", "Sigmoid", "Tanh", "Softsign", "HardSwish", "Elu", "Selu", "Celu",
             "Softplus", "Mish")
UNARY_CSV = "unary.csv"
#: plan (28)'s blind set (``export``), and where its stored predictions and measured runs are kept
ZOO = Path(".zoo") / "activation-set"
SET_RUN = Path("calibration") / "host-epyc-zen4-activation-set"
#: the sheets plan (28) is judged on
SETTINGS = ("host-epyc-zen4-1c", "host-epyc-zen4-2c")


def unary(out: Path = RUN, rounds: int = 3, threads: Sequence[int] = (1,), elements: int = 2**20,
          runs: int = 30) -> Path:
    """Time a lone node of each of :data:`UNARY_OPS` (opset 18) over ``elements`` standard normal float32 values
    (:func:`benchmarks.elementwise_math.unary`: fastest of ``runs`` alternating runs after 3 warm-up runs, ``rounds``
    times at each thread count); rows appended to ``out / unary.csv`` with the host's columns."""
    from benchmarks.elementwise_math import unary as time_unary
    from hybridperf.measure.probe import MATH_PROBE_OPSET

    return time_unary(out, rounds, threads, elements, runs, ops=UNARY_OPS, signed=True, opset=MATH_PROBE_OPSET)


def summary(out: Path = RUN) -> str:
    """Markdown of ``unary.csv`` and ``math_probe.csv`` (:func:`benchmarks.elementwise_math.summary`'s tables)."""
    from benchmarks.elementwise_math import summary as tables

    text = tables(out).replace("# Element-wise math in onnxruntime: time per float32 element",
                               "# Activations onnxruntime evaluates one element at a time: time per float32 element")
    return text.replace("`benchmarks/elementwise_math.py`", "`benchmarks/scalar_activations.py`").replace(
        "Lone nodes over 2^20 elements,", "Lone nodes over 2^20 standard normal elements,")


def export(out: Path = ZOO) -> list[Path]:
    """Write plan (28)'s set: networks written by others whose activations onnxruntime runs one element at a time
    over many elements, that no earlier set holds; random weights (seed 0), transformers' configurations.

    Mimi's SEANet encoder (ELU) over 0.2 s of 24 kHz audio; EnCodec in the configuration of MusicGen's
    32 kHz codec (ratios 8, 5, 4, 4; 64 filters; 128 latent channels; ELU), its encoder over 0.2 s and its decoder
    over the latent of 0.2 s; X-codec's semantic encoder and decoder (ELU) over 25 frames of 768 features; Pocket
    TTS's SEANet decoder (ELU) over 40 frames."""
    import torch
    from transformers import (EncodecConfig, EncodecModel, MimiConfig, MimiModel, PocketTTSAudioTokenizerConfig,
                              PocketTTSAudioTokenizerModel, XcodecConfig, XcodecModel)

    from benchmarks.elementwise_math import _export

    written = []
    torch.manual_seed(0)
    mimi = MimiModel(MimiConfig()).eval()
    written.append(_export(out, "mimi_seanet_encoder_s0.2", mimi.encoder.encoder_seanet, (torch.randn(1, 1, 4800),)))
    torch.manual_seed(0)
    config = EncodecConfig(sampling_rate=32000, upsampling_ratios=[8, 5, 4, 4], codebook_size=2048, num_filters=64,
                           hidden_size=128, use_causal_conv=False, normalize=False, target_bandwidths=[2.2])
    encodec = EncodecModel(config).eval()
    samples = int(config.sampling_rate * 0.2)
    written.append(_export(out, "encodec_32khz_encoder_s0.2", encodec.encoder, (torch.randn(1, 1, samples),)))
    written.append(_export(out, "encodec_32khz_decoder_s0.2", encodec.decoder,
                           (torch.randn(1, config.hidden_size, samples // config.hop_length),)))
    torch.manual_seed(0)
    config = XcodecConfig()
    xcodec = XcodecModel(config).eval()
    features = config.semantic_model_config.hidden_size
    written.append(_export(out, "xcodec_semantic_encoder_f25", xcodec.encoder_semantic,
                           (torch.randn(1, features, 25),)))
    written.append(_export(out, "xcodec_semantic_decoder_f25", xcodec.decoder_semantic,
                           (torch.randn(1, features, 25),)))
    torch.manual_seed(0)
    config = PocketTTSAudioTokenizerConfig()
    pocket = PocketTTSAudioTokenizerModel(config).eval()
    written.append(_export(out, "pocket_tts_seanet_decoder_f40", pocket.decoder.decoder_seanet,
                           _first_conv_input(pocket.decoder.decoder_seanet, 40)))
    return written


def _first_conv_input(module, frames: int) -> tuple:
    """``module``'s input of ``frames`` frames (its first convolution's channels)."""
    import torch

    first = next(m for m in module.modules() if isinstance(m, torch.nn.Conv1d))
    return (torch.randn(1, first.in_channels, frames),)


def predict(run: Path, zoo: Path, settings: Sequence[str] = SETTINGS) -> tuple[Path, Path]:
    """Store the product's prediction of every export of ``zoo`` on each sheet of ``settings`` before the set is
    timed: with (28) (``predictions_28.csv``) and without it (``predictions.csv``: the same sheets, each activation
    priced as the ops of its Relax lowering were before plan (28), :func:`before_28`)."""
    from benchmarks.tcn_conv1d import predict_sheets

    same = {"predictions_28.csv": lambda spec: spec, "predictions.csv": lambda spec: spec}
    return tuple(predict_sheets(run, zoo, settings, same, analyses={"predictions.csv": before_28}))


def before_28(analyzed):
    """``analyzed`` with no record marked as an activation's lowering
    (:attr:`~hybridperf.analysis.cost_pass.OpRecord.activation`): a ``Softplus`` or ``Mish`` counted at the ``log``
    figure over its elements, an ``Elu`` / ``Selu`` / ``Celu`` at none, as the product priced them before plan (28)."""
    import dataclasses

    records = tuple(dataclasses.replace(r, activation="", activation_elements=0) if r.activation else r
                    for r in analyzed.analysis.records)
    return dataclasses.replace(analyzed, analysis=dataclasses.replace(analyzed.analysis, records=records))


#: :func:`after`: (run directory, zoo) of the earlier sets whose networks hold such activations (the Mamba family's
#: ``Softplus``; EnCodec's 24 kHz codec's and Mimi's decoder's ``Elu``)
AFTER_SETS = ((Path("calibration") / "host-epyc-zen4-math", Path(".zoo") / "mathops-set"),
              (Path("calibration") / "host-epyc-zen4-depthwise1d", Path(".zoo") / "depthwise-all"),
              (Path("calibration") / "host-epyc-zen4-recurrent", Path(".zoo") / "recurrent"),
              (Path("calibration") / "host-epyc-zen4-ssm", Path(".zoo") / "ssm-set"),
              (Path("calibration") / "host-epyc-zen4-ssm2", Path(".zoo") / "ssm-set2"))
#: :func:`after`'s stored predictions (the shipped Zen 4 sheets): file -> heading
AFTER = {"predictions_after28.csv": "with (28)", "predictions_before28.csv": "before (28)"}


def after(sets=AFTER_SETS) -> str:
    """Store the earlier sets' predictions on the shipped Zen 4 sheets with (28) and without it (:func:`before_28`;
    everything else as the product prices it now), then :func:`after_report`."""
    from benchmarks.tcn_conv1d import predict_sheets

    same = {name: (lambda spec: spec) for name in AFTER}
    for run, zoo in sets:
        predict_sheets(run, zoo, SETTINGS, same, analyses={"predictions_before28.csv": before_28})
    return after_report(sets)


def after_report(sets=AFTER_SETS, root: Path = Path()) -> str:
    """The stored predictions of :func:`after` scored against the sets' committed runs (not blind: the runs were
    seen before plan (28)); ``root``: where the run directories are."""
    from benchmarks.tcn_conv1d import score

    return "\n".join(score(run=root / run, stored=AFTER,
                           title=(f"{run.name}'s networks priced again with plan (28) (not blind)",
                                  "`benchmarks/scalar_activations.py` (`after`); plan (28)"), blind=False)
                     for run, _ in sets)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("unary", "probe", "summary", "export", "predict", "score", "after"))
    p.add_argument("--out", type=Path, default=RUN)
    p.add_argument("--threads", type=int, action="append", help="unary / probe: thread counts (default 1)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--zoo", type=Path, default=ZOO, help="export / predict: the blind set's directory of ONNX files")
    p.add_argument("--run", type=Path, default=SET_RUN, help="predict / score: the set's predictions and runs")
    a = p.parse_intermixed_args(argv)
    threads = tuple(a.threads or (1,))
    if a.step == "export":  # torch and transformers: .venv-bench
        print(*export(a.zoo), sep="\n")
    elif a.step == "unary":
        print(unary(a.out, a.rounds, threads))
    elif a.step == "probe":
        from benchmarks.elementwise_math import probe

        print(probe(a.out, a.rounds, threads))
    elif a.step == "summary":
        print(summary(a.out))
    elif a.step == "predict":
        print(*predict(a.run, a.zoo), sep="\n")
    elif a.step == "after":
        print(after())
    else:
        print(report(a.run))
    return 0


def report(run: Path = SET_RUN) -> str:
    """Plan (28)'s report: each run against the stored predictions (:func:`benchmarks.tcn_conv1d.score`), then each
    run against its retest (:func:`benchmarks.broadcast_spans.retest_lines`)."""
    from benchmarks.broadcast_spans import retest_lines
    from benchmarks.tcn_conv1d import score

    return score(run=run, stored=STORED, title=SCORE_TITLE) + "\n" + retest_lines(run)


#: plan (28)'s stored predictions: file -> heading
STORED = {"predictions_28.csv": "with (28)", "predictions.csv": "without (28)"}
SCORE_TITLE = ("Networks with activations onnxruntime evaluates one element at a time",
               "`benchmarks/scalar_activations.py`; plan (28)")

if __name__ == "__main__":
    raise SystemExit(main())
