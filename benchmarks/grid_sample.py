"""onnxruntime's ``GridSample`` (deformable attention's sampling): how much it costs, and plan (29) of CHANGELOG
2026-12-07, which prices it.

Found on 2026-12-07: TVM's importer turns ONNX ``GridSample`` into ``relax.image.grid_sample``, which had no cost rule
(a model holding one was a lower bound that ``check`` does not pass): the detectors and segmenters built on
multi-scale deformable attention (Deformable DETR, RT-DETR, D-FINE, Mask2Former) were not priced at all. onnxruntime
interpolates one output element at a time: ``lone`` times lone nodes (float32 input of C x H x W, a square grid of
coordinates uniform over it) per mode and shape.

Steps (run 1-thread steps pinned, ``taskset -c 1``; ``--threads 2`` unpinned)::

    python -m benchmarks.grid_sample lone --threads 1 --threads 2       # lone.csv
    python -m benchmarks.grid_sample probe --threads 1 --threads 2      # math_probe.csv (the sheets' figures)
    python -m benchmarks.grid_sample summary > benchmarks/results/grid_sample.md

Plan (29)'s blind set and its scoring::

    .venv-bench/bin/python -m benchmarks.grid_sample export            # to .zoo/deformable-set
    python -m benchmarks.grid_sample predict                            # before any timing: with and without (29)
    taskset -c 1 hybridperf calibrate --device host-epyc-zen4-1c --measure .zoo/deformable-set --rounds 8 \\
        --steady 3 --out calibration/host-epyc-zen4-deformable-set/host-epyc-zen4-1c
    hybridperf calibrate --device host-epyc-zen4-2c --measure .zoo/deformable-set --rounds 16 --steady 3 \\
        --out calibration/host-epyc-zen4-deformable-set/host-epyc-zen4-2c
    python -m benchmarks.grid_sample score > benchmarks/results/deformable_set.md

onnxruntime could not load two of the five as first exported (a float64 grid: Deformable DETR, Mask2Former); the
same steps with ``--float-grid`` export them again with float32 grids (to ``.zoo/deformable-set-float``), store their
predictions and score their runs (``calibration/host-epyc-zen4-deformable-set-float``,
``benchmarks/results/deformable_set_float.md``).

``predict`` stores the product's predictions on the Zen 4 sheets with the sampling's figures (``predictions_29.csv``)
and with them 0 (``predictions.csv``: the sampling priced at its roofline alone, an op family no learned model was
trained on); ``score`` writes the report (:func:`benchmarks.tcn_conv1d.score`, the same table).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

RUN = Path("calibration") / "host-epyc-zen4-gridsample"
LONE_CSV = "lone.csv"
LONE_FIELDS = ["round", "threads", "mode", "channels", "height", "width", "grid_h", "grid_w", "outputs", "fastest_s",
               "ns_per_output"]
#: ``lone``'s cases: (channels, height, width, grid height, grid width): a square grid over a small map, deformable
#: DETR's decoder (few queries x points, many channels) and its encoder (many queries, few channels)
LONE_SHAPES = ((32, 64, 64, 128, 128), (256, 32, 32, 300, 4), (8, 80, 80, 1000, 16))
MODES = ("bilinear", "nearest", "bicubic")
#: plan (29)'s blind set (``export``), and where its stored predictions and measured runs are kept
ZOO = Path(".zoo") / "deformable-set"
SET_RUN = Path("calibration") / "host-epyc-zen4-deformable-set"
SETTINGS = ("host-epyc-zen4-1c", "host-epyc-zen4-2c")
#: the two networks of the set onnxruntime could not load as first exported (a float64 grid), exported again with
#: float32 grids (:func:`float_grids`) into their own directory, with their own stored predictions and runs
FLOAT_GRID = ("deformable_detr_r256", "mask2former_r256")
ZOO2 = Path(".zoo") / "deformable-set-float"
SET_RUN2 = Path("calibration") / "host-epyc-zen4-deformable-set-float"


def lone(out: Path = RUN, rounds: int = 3, threads: Sequence[int] = (1,), runs: int = 15) -> Path:
    """Time a lone ``GridSample`` (opset 18, zeros outside) of each mode and :data:`LONE_SHAPES`, fastest of ``runs``
    alternating runs after 3 warm-up runs (:func:`hybridperf.measure.probe._fastest_runs`), ``rounds`` times at each
    thread count; rows appended to ``out / lone.csv`` with the host's columns."""
    import numpy as np
    from onnx import TensorProto, helper

    from benchmarks.ort_alone import HOST_FIELDS, append_rows, host_columns, start
    from hybridperf.measure.probe import MATH_PROBE_OPSET, _fastest_runs, _onnx_model, _ort_session

    host = start(out)
    rng = np.random.default_rng(0)
    path = out / LONE_CSV
    for r in range(rounds):
        for t in threads:
            sessions, feeds, meta = {}, {}, {}
            for c, h, w, gh, gw in LONE_SHAPES:
                io = ([helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, c, h, w]),
                       helper.make_tensor_value_info("G", TensorProto.FLOAT, [1, gh, gw, 2])],
                      [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, c, gh, gw])])
                feed = {"X": rng.standard_normal((1, c, h, w)).astype(np.float32),
                        "G": rng.uniform(-1.0, 1.0, (1, gh, gw, 2)).astype(np.float32)}
                for mode in MODES:
                    key = (mode, c, h, w, gh, gw)
                    sessions[key] = _ort_session(_onnx_model([helper.make_node("GridSample", ["X", "G"], ["Y"],
                                                                               mode=mode)], *io, opset=MATH_PROBE_OPSET),
                                                 threads=t, spin=False)
                    feeds[key], meta[key] = feed, c * gh * gw
            best = _fastest_runs(sessions, feeds, runs)
            append_rows(path, LONE_FIELDS + HOST_FIELDS,
                        [{"round": r, "threads": t, "mode": k[0], "channels": k[1], "height": k[2], "width": k[3],
                          "grid_h": k[4], "grid_w": k[5], "outputs": meta[k], "fastest_s": best[k],
                          "ns_per_output": 1e9 * best[k] / meta[k], **host_columns(host)} for k in sessions])
    return path


def summary(out: Path = RUN) -> str:
    """Markdown of ``lone.csv`` (median ns per output by mode, shape and threads) and ``math_probe.csv``'s
    ``GridSample`` figures (each the median over rounds: the Zen 4 sheets')."""
    from benchmarks.elementwise_math import sheet_figures
    from benchmarks.ort_alone import medians

    lines = ["# onnxruntime's GridSample: time per output element", "",
             "Reproduce: see the docstring of `benchmarks/grid_sample.py`. Host: " f"`{out}/lscpu.txt`.", ""]
    med = medians(out / LONE_CSV, lambda r: (r["mode"], r["channels"], r["height"], r["width"], r["grid_h"],
                                             r["grid_w"], int(r["threads"])), "ns_per_output")
    threads = sorted({k[-1] for k in med})
    lines += ["Lone nodes, fastest of 15 runs, median over rounds (ns per output element):", "",
              "| mode | input C x H x W | grid | " + " | ".join(f"{t} thread(s)" for t in threads) + " |",
              "|---|---|---|" + "---:|" * len(threads)]
    for k in dict.fromkeys(k[:-1] for k in med):
        lines.append(f"| {k[0]} | {k[1]} x {k[2]} x {k[3]} | {k[4]} x {k[5]} | "
                     + " | ".join(f"{med[(*k, t)]:.2f}" if (*k, t) in med else "-" for t in threads) + " |")
    fig = {k: v for k, v in sheet_figures(out).items() if k[1].startswith("grid_sample_")}
    lines += ["", "`hybridperf probe`'s figure (`measure.probe.elementwise_math`: GridSample of 16 x 64 x 64 over a "
              "128 x 128 grid less a Neg of as many elements, fastest of 15 alternating runs), median over rounds: "
              "the Zen 4 sheets' `elementwise_math` (ns per output element):", "",
              "| threads | key | extra ns per output |", "|---:|---|---:|"]
    lines += [f"| {t} | {k} | {v:.3f} |" for (t, k), v in sorted(fig.items())]
    return "\n".join(lines + [""])


def export(out: Path = ZOO, only: Sequence[str] = ()) -> list[Path]:
    """Write plan (29)'s set: detectors and segmenters written by others on multi-scale deformable attention, each
    over a 256 x 256 image, random weights (seed 0), transformers' default configurations (Deformable DETR with
    transformers' own ResNet-50 backbone, not timm's): Deformable DETR, RT-DETR, RT-DETR v2, D-FINE, Mask2Former
    (``only``: those names alone). Each grid left float64 is cast to float32 (:func:`float_grids`)."""
    import torch
    import transformers as tf

    from benchmarks.elementwise_math import _export

    class Heads(torch.nn.Module):
        """The detector's or segmenter's output tensors of one image."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            o = self.m(pixel_values=pixel_values, return_dict=True)
            return tuple(v for k, v in o.items() if k in ("logits", "pred_boxes", "class_queries_logits",
                                                          "masks_queries_logits"))

    image = torch.randn(1, 3, 256, 256)
    written = []
    models = {
        "deformable_detr_r256": lambda: tf.DeformableDetrForObjectDetection(tf.DeformableDetrConfig(
            use_timm_backbone=False, use_pretrained_backbone=False,
            backbone_config=tf.ResNetConfig(out_features=["stage2", "stage3", "stage4"]))),
        "rtdetr_r256": lambda: tf.RTDetrForObjectDetection(tf.RTDetrConfig()),
        "rtdetr_v2_r256": lambda: tf.RTDetrV2ForObjectDetection(tf.RTDetrV2Config()),
        "dfine_r256": lambda: tf.DFineForObjectDetection(tf.DFineConfig()),
        "mask2former_r256": lambda: tf.Mask2FormerForUniversalSegmentation(tf.Mask2FormerConfig()),
    }
    for name, make in models.items():
        if only and name not in only:
            continue
        torch.manual_seed(0)
        written.append(float_grids(_export(out, name, Heads(make().eval()), (image,))))
    return written


def float_grids(path: Path) -> Path:
    """Cast to float32 each ``GridSample`` grid that the export left float64 (Deformable DETR's and Mask2Former's
    encoders compute their reference points in float64, and onnxruntime 1.32 has no ``GridSample`` of a float32 input
    over a float64 grid: it refuses to load the model); the file rewritten in place where any was, else as it is.
    Decided on 2026-12-07 at 13:10 UTC, when the first run of plan (29)'s set left those two networks out, before
    either was timed."""
    import onnx
    from onnx import TensorProto, helper, shape_inference

    model = onnx.load(str(path))
    types = {v.name: v.type.tensor_type.elem_type
             for v in shape_inference.infer_shapes(model).graph.value_info}
    nodes, changed = [], 0
    for node in model.graph.node:
        if node.op_type == "GridSample" and types.get(node.input[1]) == TensorProto.DOUBLE:
            cast = f"{node.input[1]}_float32"
            nodes.append(helper.make_node("Cast", [node.input[1]], [cast], to=TensorProto.FLOAT,
                                          name=f"{node.name}/grid_float32"))
            node.input[1] = cast
            changed += 1
        nodes.append(node)
    if changed:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        onnx.save(model, str(path))
    return path


def predict(run: Path = SET_RUN, zoo: Path = ZOO, settings: Sequence[str] = SETTINGS) -> tuple[Path, ...]:
    """Store the product's prediction of every export of ``zoo`` on each sheet of ``settings`` before the set is
    timed: with (29) (``predictions_29.csv``, the sheets as shipped) and without it (``predictions.csv``, the same
    sheets with the ``GridSample`` figures 0: the sampling at its roofline alone)."""
    import dataclasses

    from benchmarks.tcn_conv1d import predict_sheets
    from hybridperf.analysis.elementwise_math import GRID_SAMPLE_KEYS

    def without(spec):
        figures = {**spec.elementwise_math_s_per_element, **dict.fromkeys(GRID_SAMPLE_KEYS, 0.0)}
        return dataclasses.replace(spec, elementwise_math_s_per_element=figures)

    return tuple(predict_sheets(run, zoo, settings, {"predictions_29.csv": lambda spec: spec,
                                                      "predictions.csv": without}))


#: plan (29)'s stored predictions: file -> heading
STORED = {"predictions_29.csv": "with (29)", "predictions.csv": "without (29)"}
SCORE_TITLE = ("Detectors and segmenters on deformable attention (GridSample)", "`benchmarks/grid_sample.py`; plan (29)")


def whole_set(root: Path = Path(), settings: Sequence[str] = SETTINGS) -> str:
    """Plan (29)'s judgement: per setting (and its retest, where measured), the MAPE over all five networks (the
    first runs' three, the float-grid runs' two) with and without the figures, each against its own stored
    predictions; then each run against its retest over the five (:func:`retest_lines`)."""
    from benchmarks.recurrent_cost import _stats, measured
    from benchmarks.tcn_conv1d import stored_predictions

    lines = []
    for setting in (*settings, *(f"{s}-retest" for s in settings)):
        device = setting.removesuffix("-retest")
        truth, preds = {}, {name: {} for name in STORED}
        for run in (root / SET_RUN, root / SET_RUN2):
            if not (run / setting / "calibration" / "measurements.csv").exists():
                continue
            truth.update(measured(run / setting))
            for name in STORED:
                preds[name].update(stored_predictions(run / name, device))
        if not truth:
            continue
        lines.append(f"- {setting}, {len(truth)} networks: " + ", ".join(
            f"{head} MAPE {_stats(preds[name], truth)[0]:.1f} %" for name, head in STORED.items()))
    return "\n".join(lines + retest_lines(root, settings))


def retest_lines(root: Path = Path(), settings: Sequence[str] = SETTINGS) -> list[str]:
    """Each setting's run against its retest over the five networks (both set directories;
    :func:`benchmarks.broadcast_spans.retest_line`; none without a retest)."""
    from benchmarks.broadcast_spans import retest_line
    from benchmarks.recurrent_cost import measured

    out = []
    for setting in settings:
        a, b = {}, {}
        for run in (root / SET_RUN, root / SET_RUN2):
            if (run / f"{setting}-retest" / "calibration" / "measurements.csv").exists():
                a.update(measured(run / setting))
                b.update(measured(run / f"{setting}-retest"))
        if set(a) & set(b):
            out.append(retest_line(setting, a, b))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("lone", "probe", "summary", "export", "predict", "score"))
    p.add_argument("--out", type=Path, default=RUN)
    p.add_argument("--threads", type=int, action="append", help="lone / probe: thread counts (default 1)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--zoo", type=Path, default=ZOO, help="export / predict: the blind set's directory of ONNX files")
    p.add_argument("--run", type=Path, default=SET_RUN, help="predict / score: the set's predictions and runs")
    p.add_argument("--float-grid", action="store_true",
                   help="export / predict / score: the two networks exported again with float32 grids (ZOO2, SET_RUN2)")
    a = p.parse_intermixed_args(argv)
    threads = tuple(a.threads or (1,))
    if a.float_grid:
        a.zoo, a.run = ZOO2, SET_RUN2
    if a.step == "export":  # torch and transformers: .venv-bench
        print(*export(a.zoo, FLOAT_GRID if a.float_grid else ()), sep="\n")
    elif a.step == "lone":
        print(lone(a.out, a.rounds, threads))
    elif a.step == "probe":
        from benchmarks.elementwise_math import probe

        print(probe(a.out, a.rounds, threads))
    elif a.step == "summary":
        print(summary(a.out))
    elif a.step == "predict":
        print(*predict(a.run, a.zoo), sep="\n")
    else:
        from benchmarks.tcn_conv1d import score

        print(score(run=a.run, stored=STORED, title=SCORE_TITLE))
        if a.float_grid:
            print(whole_set())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
