"""Element-wise math onnxruntime evaluates one element at a time (``Sin``, ``Cos``, ``Tan``, ``Log``): how much it
costs, what the product priced it at, and the probe a CPU sheet's ``elementwise_math`` figures come from.

Found on 2026-12-07 while reading why the vocoders of plan (21) were predicted too fast (an exploration first,
``optypes``): in Descript's audio codec onnxruntime's ``Sin`` nodes (the Snake activations) took 8.8 of the encoder's
71 ms with 1 thread, where the product priced the kernels holding them at 3.4 ms. ``unary`` times lone nodes of
onnxruntime's unary math over the same float32 vector: ``Sin``, ``Cos``, ``Tan`` and ``Log`` take ten to a hundred
times a copy's time per element, ``Exp``, ``Tanh``, ``Sigmoid``, ``Erf`` two to five times.

Steps (run 1-thread steps pinned, ``taskset -c 1``; ``--threads 2`` unpinned)::

    python -m benchmarks.elementwise_math unary --out calibration/host-epyc-zen4-math      # unary.csv
    python -m benchmarks.elementwise_math probe --out calibration/host-epyc-zen4-math      # math_probe.csv
    python -m benchmarks.elementwise_math optypes --device host-epyc-zen4-1c .zoo/vocoders/*.onnx
    python -m benchmarks.elementwise_math summary --out calibration/host-epyc-zen4-math \\
        > benchmarks/results/elementwise_math.md

Plan (22) of CHANGELOG 2026-12-07: ``export`` writes its blind set (``.venv-bench/bin/python -m
benchmarks.elementwise_math export``, to ``.zoo/mathops-set``), ``predict --zoo .zoo/mathops-set`` stores the product's predictions of the blind set (``--zoo``) on the
Zen 4 sheets before it is timed (``--name``: with and without the term), ``hybridperf calibrate --measure`` times it,
``score`` writes the report (:func:`benchmarks.tcn_conv1d.score`, the same table).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

RUN = Path("calibration") / "host-epyc-zen4-math"
#: the ONNX unary ops ``unary`` times, copy-like first
UNARY_OPS = ("Neg", "Abs", "Relu", "Exp", "Tanh", "Sigmoid", "Erf", "Sqrt", "Sin", "Cos", "Tan", "Log", "Softplus")
UNARY_CSV = "unary.csv"
UNARY_FIELDS = ["round", "threads", "op", "elements", "fastest_s", "ns_per_element"]
PROBE_CSV = "math_probe.csv"
PROBE_FIELDS = ["round", "threads", "function", "elements", "fastest_s", "copy_s", "extra_ns_per_element"]


def unary(out: Path = RUN, rounds: int = 3, threads: Sequence[int] = (1,), elements: int = 2**20,
          runs: int = 30, ops: Sequence[str] = UNARY_OPS, signed: bool = False, opset: int = 13) -> Path:
    """Time a lone node (``opset``) of each of ``ops`` over ``elements`` float32 values (0.05-8; ``signed``: standard
    normal), fastest of ``runs`` alternating runs after 3 warm-up runs (:func:`hybridperf.measure.probe._fastest_runs`),
    ``rounds`` times at each thread count; rows appended to ``out / unary.csv`` with the host's columns."""
    import numpy as np
    from onnx import TensorProto, helper

    from benchmarks.ort_alone import HOST_FIELDS, append_rows, host_columns, start
    from hybridperf.measure.probe import _fastest_runs, _onnx_model, _ort_session

    host = start(out)
    io = ([helper.make_tensor_value_info("X", TensorProto.FLOAT, [elements])],
          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [elements])])
    normal = np.random.default_rng(0).standard_normal(elements)
    feed = {"X": (normal if signed else 0.05 + 2 * np.abs(normal)).astype(np.float32)}
    path = out / UNARY_CSV
    for r in range(rounds):
        for t in threads:
            sessions = {op: _ort_session(_onnx_model([helper.make_node(op, ["X"], ["Y"])], *io, opset=opset),
                                         threads=t, spin=False) for op in ops}
            best = _fastest_runs(sessions, dict.fromkeys(sessions, feed), runs)
            append_rows(path, UNARY_FIELDS + HOST_FIELDS,
                        [{"round": r, "threads": t, "op": op, "elements": elements, "fastest_s": best[op],
                          "ns_per_element": 1e9 * best[op] / elements, **host_columns(host)} for op in ops])
    return path


def probe(out: Path = RUN, rounds: int = 3, threads: Sequence[int] = (1,)) -> Path:
    """Time :func:`hybridperf.measure.probe.elementwise_math` (what ``hybridperf probe`` writes as a CPU sheet's
    ``elementwise_math``) ``rounds`` times at each thread count; rows appended to ``out / math_probe.csv``."""
    from benchmarks.ort_alone import HOST_FIELDS, append_rows, host_columns, start
    from hybridperf.measure.probe import elementwise_math

    host = start(out)
    path = out / PROBE_CSV
    for r in range(rounds):
        for t in threads:
            m = elementwise_math(threads=t)
            append_rows(path, PROBE_FIELDS + HOST_FIELDS,
                        [{"round": r, "threads": t, "function": k, "elements": m.elements, "fastest_s": m.fastest_s[k],
                          "copy_s": m.fastest_s["neg"], "extra_ns_per_element": 1e9 * v, **host_columns(host)}
                         for k, v in m.per_element_s.items()])
    return path


def sheet_figures(out: Path = RUN) -> dict[tuple[int, str], float]:
    """(threads, function) -> the median extra ns per element of ``math_probe.csv``: the Zen 4 sheets' figures."""
    from benchmarks.ort_alone import medians

    return medians(out / PROBE_CSV, lambda r: (int(r["threads"]), r["function"]), "extra_ns_per_element")


def node_types(path: Path, threads: int = 1, runs: int = 10, warmup: int = 3) -> dict[str, float]:
    """onnxruntime op type -> the sum over its nodes of each node's median profiled time (s)
    (:func:`benchmarks.tcn_conv1d.profiled_nodes`), largest first."""
    from benchmarks.tcn_conv1d import profiled_nodes

    out: dict[str, float] = {}
    for op, t in profiled_nodes(path, threads, runs, warmup).values():
        out[op] = out.get(op, 0.0) + t
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def optypes(paths: Sequence[Path], device: str) -> str:
    """Per network: onnxruntime's time by op type (1 thread, median of 10 profiled runs) beside the product's kernel
    latencies grouped by their main op (the convolution, else ``sin`` where the kernel holds one, else its ops)."""
    from hybridperf.api import analyze, predict_on

    lines = [f"# Where onnxruntime spends each network's time on `{device}`, and what the product priced", "",
             "Reproduce: `python -m benchmarks.elementwise_math optypes --device DEVICE FILES` (1 thread). An "
             "exploration (2026-12-07), not a plan.", ""]
    for p in paths:
        a = analyze(p)
        pred = predict_on(a, device)
        records = a.analysis.records
        learned: dict[str, float] = {}
        roof: dict[str, float] = {}
        for kp in pred.kernels:
            ops = [records[j].op for j in kp.kernel.op_indices]
            key = next((o for o in ops if "conv" in o), None) or ("relax.sin (with its neighbours)"
                                                                 if "relax.sin" in ops else "+".join(sorted(set(ops))))
            learned[key] = learned.get(key, 0.0) + kp.latency_s
            roof[key] = roof.get(key, 0.0) + kp.estimate.latency_s
        term = f" (of which the element-wise math term {pred.elementwise_math_s * 1e3:.2f} ms)" \
            if pred.elementwise_math_s else ""
        lines += [f"## `{Path(p).stem}`: predicted {pred.latency_s * 1e3:.2f} ms{term}", "",
                  "| product kernels (main op) | learned ms | roofline ms |", "|---|---:|---:|"]
        lines += [f"| {k} | {learned[k] * 1e3:.2f} | {roof[k] * 1e3:.2f} |"
                  for k in sorted(learned, key=lambda k: -learned[k]) if learned[k] >= 1e-5]
        nodes = node_types(Path(p))
        lines += ["", "| onnxruntime op type | ms (sum of node medians) |", "|---|---:|"]
        lines += [f"| {k} | {v * 1e3:.2f} |" for k, v in nodes.items() if v >= 1e-5]
        lines += ["", f"The nodes sum to {sum(nodes.values()) * 1e3:.2f} ms.", ""]
    return "\n".join(lines)


def summary(out: Path = RUN) -> str:
    """Markdown of ``unary.csv`` (median ns per element by op and threads) and ``math_probe.csv`` (each round and the
    median: the sheets' figures)."""
    from benchmarks.ort_alone import medians

    lines = ["# Element-wise math in onnxruntime: time per float32 element", "",
             "Reproduce: see the docstring of `benchmarks/elementwise_math.py`. Host: "
             f"`{out}/lscpu.txt`.", ""]
    if (out / UNARY_CSV).exists():
        med = medians(out / UNARY_CSV, lambda r: (r["op"], int(r["threads"])), "ns_per_element")
        threads = sorted({t for _, t in med})
        lines += ["Lone nodes over 2^20 elements, fastest of 30 runs, median over rounds (ns per element):", "",
                  "| op | " + " | ".join(f"{t} thread(s)" for t in threads) + " |", "|---|" + "---:|" * len(threads)]
        for op in dict.fromkeys(o for o, _ in med):
            lines.append(f"| {op} | " + " | ".join(f"{med[(op, t)]:.3f}" if (op, t) in med else "-"
                                                  for t in threads) + " |")
        lines.append("")
    if (out / PROBE_CSV).exists():
        fig = sheet_figures(out)
        lines += ["`hybridperf probe`'s figure (`measure.probe.elementwise_math`: lone node over 2^18 elements less a "
                  "Neg, fastest of 15 alternating runs), median over rounds: the Zen 4 sheets' `elementwise_math` (ns "
                  "per element):", "", "| threads | function | extra ns per element |", "|---:|---|---:|"]
        lines += [f"| {t} | {k} | {v:.3f} |" for (t, k), v in fig.items()]
        lines.append("")
    return "\n".join(lines)


#: plan (22)'s blind set (``export``): networks written by others whose Snake activations take ``sin`` of every
#: activation, and one whose Softplus is lowered to a ``log``; random weights (seed 0), transformers' configurations
ZOO = Path(".zoo") / "mathops-set"


def _export(out: Path, name: str, module, args) -> Path:
    import torch

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.onnx"
    with torch.no_grad():
        torch.onnx.export(module.eval(), args, str(path), dynamo=False, opset_version=17)
    return path


def _static_resamplers(model, act_cls=None) -> None:
    """Give each anti-aliasing resampler of Qwen2.5-Omni's BigVGAN (or of the activations of class ``act_cls``:
    X-codec2's and NeuCodec's are the same design) its channel count as a Python int: transformers' up / down samplers expand their depthwise filter to ``hidden_states.shape[1]`` channels at run time, which the
    TorchScript exporter no longer knows after an edge ``Pad`` (it refuses a convolution of unknown kernel shape).
    The same arithmetic (its output checked equal, difference 0.0) and the same graph: a depthwise ``Conv`` /
    ``ConvTranspose`` of kernel 12, groups = channels."""
    import types

    import torch.nn.functional as F
    from transformers.models.qwen2_5_omni import modeling_qwen2_5_omni as q

    def up(self, x):
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        x = self.ratio * F.conv_transpose1d(x, self.filter.expand(self.channels, -1, -1), stride=self.stride,
                                            groups=self.channels)
        return x[..., self.pad_left:-self.pad_right]

    def down(self, x):
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        return F.conv1d(x, self.filter.expand(self.channels, -1, -1), stride=self.stride, groups=self.channels)

    for m in model.modules():
        if isinstance(m, act_cls or q.Qwen2_5OmniAntiAliasedActivation1d):
            m.upsample.channels = m.downsample.channels = m.act.in_features
            m.upsample.forward = types.MethodType(up, m.upsample)
            m.downsample.forward = types.MethodType(down, m.downsample)


def export(out: Path = ZOO) -> list[Path]:
    """Write plan (22)'s set: Qwen2.5-Omni's BigVGAN vocoder (SnakeBeta) at 15 and 45 mel frames (about 29 and 87
    GFLOP), the Descript audio codec with its 24 kHz configuration (encoder of 0.1 s, decoder of its latent), X-codec's
    acoustic encoder and decoder (0.1 s), and Mamba (4 layers of 256, 64 tokens, the scan unrolled)."""
    import torch
    from torch import nn
    from transformers import (DacConfig, DacModel, MambaConfig, MambaModel, Qwen2_5OmniBigVGANConfig,
                              Qwen2_5OmniToken2WavBigVGANModel, XcodecConfig, XcodecModel)

    written = []
    for frames in (15, 45):
        torch.manual_seed(0)
        config = Qwen2_5OmniBigVGANConfig()
        model = Qwen2_5OmniToken2WavBigVGANModel(config).eval()
        _static_resamplers(model)
        written.append(_export(out, f"qwen25omni_bigvgan_f{frames}", model, (torch.randn(1, config.mel_dim, frames),)))
    torch.manual_seed(0)
    # descript/dac_24khz: hop 320, upsampling [8, 5, 4, 2] (derived by the configuration)
    config = DacConfig(encoder_hidden_size=64, downsampling_ratios=[2, 4, 5, 8], decoder_hidden_size=1536,
                       n_codebooks=32, codebook_size=1024, codebook_dim=8, sampling_rate=24000)
    dac = DacModel(config).eval()
    samples = int(config.sampling_rate * 0.1)
    written.append(_export(out, "dac_24khz_encoder_s0.1", dac.encoder, (torch.randn(1, 1, samples),)))
    written.append(_export(out, "dac_24khz_decoder_s0.1", dac.decoder,
                           (torch.randn(1, config.hidden_size, samples // config.hop_length),)))
    torch.manual_seed(0)
    config = XcodecConfig()
    xcodec = XcodecModel(config).eval()
    acoustic, samples = config.acoustic_model_config, int(config.sample_rate * 0.1)
    written.append(_export(out, "xcodec_acoustic_encoder_s0.1", xcodec.acoustic_encoder, (torch.randn(1, 1, samples),)))
    written.append(_export(out, "xcodec_acoustic_decoder_s0.1", xcodec.acoustic_decoder,
                           (torch.randn(1, acoustic.hidden_size, samples // acoustic.hop_length),)))
    torch.manual_seed(0)
    config = MambaConfig(hidden_size=256, num_hidden_layers=4, state_size=16, vocab_size=1000, expand=2,
                         use_cache=False)

    class Hidden(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            return self.m(input_ids=input_ids, use_cache=False, return_dict=False)[0]

    written.append(_export(out, "mamba_h256_l4_b1_s64", Hidden(MambaModel(config).eval()),
                           (torch.randint(0, config.vocab_size, (1, 64)),)))
    return written


#: the sheets plan (22) is judged on
SETTINGS = ("host-epyc-zen4-1c", "host-epyc-zen4-2c")


def predict(run: Path, zoo: Path, settings: Sequence[str] = SETTINGS) -> tuple[Path, Path]:
    """Store the product's prediction of every export of ``zoo`` on each sheet of ``settings`` before the set is
    timed: with (22) (``predictions_22.csv``, the sheets as shipped) and without it (``predictions.csv``, the same
    sheets with no ``elementwise_math`` figures: the term unpriced, everything else the same)."""
    import dataclasses

    from benchmarks.tcn_conv1d import predict_sheets

    with_, without = predict_sheets(run, zoo, settings, {
        "predictions_22.csv": lambda spec: spec,
        "predictions.csv": lambda spec: dataclasses.replace(spec, elementwise_math_s_per_element={})})
    return with_, without


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("unary", "probe", "optypes", "summary", "export", "predict", "score"))
    p.add_argument("files", nargs="*", type=Path, help="optypes: the ONNX files")
    p.add_argument("--out", type=Path, default=RUN)
    p.add_argument("--threads", type=int, action="append", help="unary / probe: thread counts (default 1)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="host-epyc-zen4-1c")
    p.add_argument("--zoo", type=Path, help="predict: the blind set's directory of ONNX files")
    p.add_argument("--name", default="predictions.csv", help="predict: the file under --out")
    a = p.parse_intermixed_args(argv)
    threads = tuple(a.threads or (1,))
    if a.step == "export":  # torch and transformers: .venv-bench
        print(*export(), sep="\n")
    elif a.step == "unary":
        print(unary(a.out, a.rounds, threads))
    elif a.step == "probe":
        print(probe(a.out, a.rounds, threads))
    elif a.step == "optypes":
        print(optypes(a.files, a.device))
    elif a.step == "summary":
        print(summary(a.out))
    elif a.step == "predict":
        if a.zoo is None:
            print("predict needs --zoo DIR (the blind set's ONNX files)", file=sys.stderr)
            return 2
        print(*predict(a.out, a.zoo), sep="\n")
    else:
        from benchmarks.tcn_conv1d import score

        print(score(run=a.out, stored=STORED, title=SCORE_TITLE))
    return 0


#: plan (22)'s stored predictions: file -> heading
STORED = {"predictions_22.csv": "with (22)", "predictions.csv": "without (22)"}
SCORE_TITLE = ("Networks with element-wise math onnxruntime evaluates one element at a time",
               "`benchmarks/elementwise_math.py`; plan (22)")

if __name__ == "__main__":
    raise SystemExit(main())
