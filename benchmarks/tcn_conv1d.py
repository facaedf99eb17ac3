"""Dilated 1-D convolutions (a temporal convolutional network): the learned CPU model against onnxruntime, per node.

Found on 2026-12-07 while looking for network families the CPU models price badly (an exploration, not a plan: no
product change rests on it). A TCN in the style of Bai, Kolter and Koltun (2018, "An Empirical Evaluation of Generic
Convolutional and Recurrent Networks for Sequence Modeling"): eight ``nn.Conv1d`` layers of 64 channels, kernel 3,
dilation 1, 2, ..., 128, each padded by twice its dilation and cut back to the input's length, on 4096 steps of 16
channels. Every layer does the same work (about 101 MFLOP), and onnxruntime takes the same time for each, whatever
the dilation; the learned model, trained on 2-D convolutions where dilation came with taps falling in the padding
(DeepLab's atrous layers, ``benchmarks/dilated_conv.py``), predicts the layers of larger dilation up to 4x faster.

Writes a table: each ONNX ``Conv`` node's median profiled time (onnxruntime, 1 thread, 20 runs after 5) against the
learned model's and the roofline's time for its kernel, on the packaged sheet of this machine's CPU.

Usage (torch builds the model; it lives in a separate environment)::

    .venv-bench/bin/python -m benchmarks.tcn_conv1d export            # to .zoo/tcn/tcn8_l4096.onnx
    .venv-bench/bin/python -m benchmarks.tcn_conv1d export --set vocoders   # plan (21)'s set, to .zoo/vocoders
    taskset -c 1 python -m benchmarks.tcn_conv1d report --device host-epyc-zen4-1c > benchmarks/results/tcn_conv1d.md

Plan (21) (CHANGELOG 2026-12-07): ``predict`` (before and with the change: ``--name predictions_21.csv``) stores the
product's predictions of the vocoders on the Zen 4 sheets, ``hybridperf calibrate --measure .zoo/vocoders --steady 3
--out calibration/host-epyc-zen4-vocoders/<sheet>`` times them, ``score`` writes
``benchmarks/results/vocoders.md``.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

MODEL = Path(".zoo") / "tcn" / "tcn8_l4096.onnx"
LEVELS, CHANNELS, INPUTS, STEPS = 8, 64, 16, 4096


def export(path: Path = MODEL) -> Path:
    import torch
    from torch import nn

    class TCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Conv1d(CHANNELS if i else INPUTS, CHANNELS, 3, dilation=2**i,
                                                   padding=2 * 2**i) for i in range(LEVELS)])

        def forward(self, x):
            for layer in self.layers:
                x = torch.relu(layer(x))[..., :x.shape[-1]]
            return x

    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(TCN().eval(), (torch.randn(1, INPUTS, STEPS),), str(path), dynamo=False, opset_version=17)
    return path


#: plan (21)'s blind set (``export --set vocoders``): networks written by others with dilated 1-D convolutions, random
#: weights (fixed seed), Hugging Face transformers' default configurations
VOCODERS_DIR = Path(".zoo") / "vocoders"


def _hifigan(frames: int):
    import torch
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    config = SpeechT5HifiGanConfig()  # resblock dilations (1, 3, 5), upsampling 4 x 4 x 4 x 4
    return SpeechT5HifiGan(config).eval(), (torch.randn(1, frames, config.model_in_dim),)


def _dac(part: str, seconds: float = 0.25):
    import torch
    from transformers import DacConfig, DacModel

    config = DacConfig()  # residual units of dilation 1, 3, 9
    model = DacModel(config).eval()
    samples = int(config.sampling_rate * seconds)
    if part == "encoder":
        return model.encoder, (torch.randn(1, 1, samples),)
    hop = 1
    for r in config.downsampling_ratios:
        hop *= r
    return model.decoder, (torch.randn(1, config.hidden_size, samples // hop),)


VOCODERS = {"speecht5_hifigan_f50": lambda: _hifigan(50), "speecht5_hifigan_f150": lambda: _hifigan(150),
            "dac_16khz_encoder_s0.25": lambda: _dac("encoder"), "dac_16khz_decoder_s0.25": lambda: _dac("decoder")}


def export_vocoders(out: Path = VOCODERS_DIR) -> list[Path]:
    import torch

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in VOCODERS.items():
        torch.manual_seed(0)
        module, args = build()
        path = out / f"{name}.onnx"
        with torch.no_grad():
            torch.onnx.export(module, args, str(path), dynamo=False, opset_version=17)
        written.append(path)
    return written


def profiled_nodes(path: Path, threads: int = 1, runs: int = 20, warmup: int = 5) -> dict[str, tuple[str, float]]:
    """ONNX node name -> (onnxruntime op type, median profiled time in s over ``runs`` after ``warmup``), with
    ``threads`` intra-op threads; float inputs standard normal, int64 ones (token ids) in 0-99."""
    import json
    import tempfile

    import numpy as np
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        so.enable_profiling, so.profile_file_prefix = True, str(Path(tmp) / "profile")
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        feed = {i.name: (rng.integers(0, 100, i.shape) if i.type == "tensor(int64)"
                         else rng.standard_normal(i.shape).astype(np.float32)) for i in sess.get_inputs()}
        for _ in range(warmup + runs):
            sess.run(None, feed)
        events = json.loads(Path(sess.end_profiling()).read_text())
    times: dict[str, list[float]] = {}
    ops: dict[str, str] = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            name = e["name"].removesuffix("_kernel_time")
            times.setdefault(name, []).append(e["dur"] * 1e-6)
            ops[name] = e["args"]["op_name"]
    return {k: (ops[k], statistics.median(v[warmup:])) for k, v in times.items()}


def node_times(path: Path, runs: int = 20, warmup: int = 5) -> dict[str, float]:
    """ONNX node name -> onnxruntime's median profiled time (s), 1 thread (:func:`profiled_nodes`)."""
    return {k: t for k, (_, t) in profiled_nodes(path, 1, runs, warmup).items()}


def report(device: str, path: Path = MODEL) -> str:
    from hybridperf.api import analyze, predict_on

    analyzed = analyze(path)
    learned = predict_on(analyzed, device)
    nodes = node_times(path)
    records = analyzed.analysis.records
    lines = [f"# Dilated 1-D convolutions (TCN) on `{device}`: the learned model against onnxruntime", "",
             "Reproduce: see the docstring of `benchmarks/tcn_conv1d.py`. An exploration (2026-12-07), not a plan.", "",
             "| layer | dilation | MFLOP | onnxruntime ms | learned ms (error) | roofline ms (error) |",
             "|---|---:|---:|---:|---:|---:|"]
    conv_kernels = [kp for kp in learned.kernels
                    if any(records[j].op == "relax.nn.conv1d" for j in kp.kernel.op_indices)]
    errs: dict[str, list[float]] = {"learned": [], "roofline": []}
    for i, kp in enumerate(conv_kernels):
        t = nodes.get(f"/layers.{i}/Conv")
        if t is None:
            continue
        got = {"learned": kp.latency_s, "roofline": kp.estimate.latency_s}
        for k, v in got.items():
            errs[k].append(v / t - 1)
        lines.append(f"| {i} | {2**i} | {kp.kernel.cost.flops / 1e6:.1f} | {t * 1e3:.3f} | "
                     + " | ".join(f"{got[k] * 1e3:.3f} ({100 * (got[k] / t - 1):+.1f} %)" for k in got) + " |")
    lines += ["", "MAPE over the layers: " + ", ".join(
        f"{k} {100 * statistics.mean(abs(e) for e in v):.1f} %" for k, v in errs.items() if v),
        f"Whole model: learned {learned.latency_s * 1e3:.3f} ms, roofline {learned.roofline_latency_s * 1e3:.3f} ms, "
        f"the nodes' sum {sum(nodes.values()) * 1e3:.3f} ms.", ""]
    return "\n".join(lines)


SETTINGS = ("host-epyc-zen4-1c", "host-epyc-zen4-2c")
RUN = Path("calibration") / "host-epyc-zen4-vocoders"
FIELDS = ["model", "device", "predicted_s", "roofline_s", "calibration", "hybridperf", "date_utc"]


def predict(run: Path = RUN, zoo: Path = VOCODERS_DIR, name: str = "predictions.csv",
            settings: tuple[str, ...] = SETTINGS) -> Path:
    """Store the product's prediction of every export of ``zoo`` on each sheet of ``settings`` in ``run / name``,
    before the set is timed."""
    return predict_sheets(run, zoo, settings, {name: lambda spec: spec})[0]


def predict_sheets(run: Path, zoo: Path, settings: Sequence[str], sheets: Mapping[str, Callable[[Any], Any]],
                   analyses: Mapping[str, Callable[[Any], Any]] | None = None) -> list[Path]:
    """Store the product's prediction of every export of ``zoo`` on each sheet of ``settings`` before the set is
    timed, once per file of ``sheets`` (file name -> the sheet as priced there, made from the shipped one: e.g. the
    same sheet without a plan's figure, for the predictions without it; ``analyses``, where it names the file: the
    analysed model as priced there, made from the product's); the files under ``run``, in that order. A setting is a
    sheet's id or its file (a probe's ``ID.yaml``); the rows name the sheet's id."""
    import csv
    import datetime

    from hybridperf import __version__
    from hybridperf.api import analyze, predict_on
    from hybridperf.device.spec import load_spec

    run.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    rows: dict[str, list[dict]] = {name: [] for name in sheets}
    for path in sorted(zoo.glob("*.onnx")):
        analyzed = analyze(path)
        for device in settings:
            spec = load_spec(device)
            for name, sheet_of in sheets.items():
                p = predict_on((analyses or {}).get(name, lambda a: a)(analyzed), sheet_of(spec))
                rows[name].append({"model": path.stem, "device": spec.id, "predicted_s": p.latency_s,
                                   "roofline_s": p.roofline_latency_s, "calibration": p.calibration,
                                   "hybridperf": __version__, "date_utc": now})
    for name, rs in rows.items():
        with (run / name).open("w", newline="") as f:
            w = csv.DictWriter(f, FIELDS)
            w.writeheader()
            w.writerows(rs)
    return [run / name for name in sheets]


#: plan (21)'s stored predictions: file -> heading
STORED = {"predictions_21.csv": "with (21)", "predictions.csv": "without (21)"}


#: the heading and the plan of :func:`score`'s report
SCORE_TITLE = ("Vocoders with dilated 1-D convolutions", "`benchmarks/tcn_conv1d.py`; plan (21)")


def stored_predictions(path: Path, device: str) -> dict[str, float]:
    """A stored predictions file's rows of one sheet: model -> predicted seconds (the one reader of the files
    :func:`predict_sheets` writes, for :func:`scored_runs` and the plans' own judgements)."""
    import csv

    with path.open(newline="") as f:
        return {r["model"]: float(r["predicted_s"]) for r in csv.DictReader(f) if r["device"] == device}


def scored_runs(run: Path, stored: Mapping[str, str]) -> list[tuple[Path, dict[str, float], dict[str, dict[str, float]],
                                                                      tuple[float, float] | None]]:
    """Each measured run under ``run`` (a ``calibrate --measure --out`` directory per setting, sorted by name) with
    its label (model -> fastest timed seconds), each stored file's predictions of its sheet (file -> model ->
    seconds) and its split-half test-retest (None where it has one round)."""
    from benchmarks.recurrent_cost import _device, measured, split_half

    out = []
    for d in sorted(p for p in run.iterdir() if (p / "calibration" / "measurements.csv").exists()):
        out.append((d, measured(d), {name: stored_predictions(run / name, _device(d.name)) for name in stored},
                    split_half(d)))
    return out


def score(run: Path = RUN, stored: dict[str, str] | None = None, title: tuple[str, str] = SCORE_TITLE,
          blind: bool = True, runs: Sequence[tuple] | None = None) -> str:
    """Each measured run under ``run`` (a ``calibrate --measure --out`` directory per setting, ``-r2`` / ``-r3`` its
    repeats) against the stored predictions of its sheet: a markdown table, with each run's split-half test-retest.
    ``title``: the report's heading and where its plan is (the module, the plan's number); ``blind`` False: the
    predictions were made after the runs (a set priced again), and the report says so; ``runs``: those runs as
    :func:`scored_runs` read them (read here where not given)."""
    from benchmarks.recurrent_cost import _stats

    stored = STORED if stored is None else stored
    lines = [f"# {title[0]}: stored predictions against the product's measurement", "",
             f"Reproduce: see the docstring of {title[1]} of CHANGELOG 2026-12-07. "
             + ("Predictions stored before any timing" if blind else
                "Predictions made after the runs (not blind)")
             + "; label: the fastest timed run of `hybridperf calibrate --measure`.",
             "", "| run | network | measured ms | " + " | ".join(f"{h} ms (error)" for h in stored.values()) + " |",
             "|---|---|---:|" + "---:|" * len(stored)]
    summary = []
    for d, truth, preds, sh in (scored_runs(run, stored) if runs is None else runs):
        for m in sorted(truth):
            lines.append(f"| {d.name} | `{m}` | {truth[m] * 1e3:.2f} | " + " | ".join(
                f"{preds[n][m] * 1e3:.2f} ({100 * (preds[n][m] / truth[m] - 1):+.1f} %)" for n in stored) + " |")
        summary.append(f"- {d.name}: " + ", ".join(f"{h} MAPE {_stats(preds[n], truth)[0]:.1f} %"
                                                   for n, h in stored.items())
                       + (f"; split-half test-retest {sh[0]:.1f} %" if sh else ""))
    return "\n".join(lines + [""] + summary + [""])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("export", "report", "predict", "score"))
    p.add_argument("--name", default="predictions.csv", help="predict: the file under calibration/host-epyc-zen4-vocoders")
    p.add_argument("--set", choices=("tcn", "vocoders"), default="tcn",
                   help="export: the TCN (default) or plan (21)'s vocoders (to .zoo/vocoders)")
    p.add_argument("--device", default="host-epyc-zen4-1c")
    p.add_argument("--model", type=Path, default=MODEL)
    a = p.parse_args(argv)
    if a.step == "export":
        print(*(export_vocoders() if a.set == "vocoders" else [export(a.model)]), sep="\n")
    elif a.step == "predict":
        print(predict(name=a.name))
    elif a.step == "score":
        print(score())
    else:
        print(report(a.device, a.model))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
