"""Where the time of one prediction goes, and predictions per second per core in steady state.

Breaks ``hybridperf predict`` into its stages and times each, in one process with TVM already
imported, over several repeats (min and median per stage):

* ``load``: ``onnx.load`` without external weights, QOperator -> QDQ, the op support check,
* ``normalize``: shape binding and shape-subgraph folding (:func:`hybridperf.frontends.normalize.normalize`),
* ``import``: TVM's Relax ONNX frontend (:func:`hybridperf.frontends.onnx_import.from_onnx`),
* ``cost_pass``: :func:`hybridperf.analysis.cost_pass.analyze_module` (+ tensor-size check, int8 patterns),
* ``legalize``: ``LegalizeOps`` + one tagged PrimFunc per call site (:func:`hybridperf.ir.lowering.tag_and_legalize`;
  with a session's cache, one ``LegalizeOps`` run that adds the tagged copies itself),
* ``fusion``: ``AnnotateTIROpPattern`` + ``FuseOps`` and the kernel grouping,
* ``memory_plan``: our planner on the fused module's call stream
  (:func:`hybridperf.analysis.analyze.plan_lowered_memory`; before issue 14's third round: on the
  output of the passes that precede ``StaticPlanBlockMemory``),
* ``residual``: roofline pricing and the device's LightGBM residual,
* ``report``: the JSON report.

``--mode cold`` times the plain pipeline (every prediction starts from scratch: the figures
before issue 14); ``--mode session`` times the same stages through one
:class:`hybridperf.api.Session` whose caches persist across repeats (the steady state of a
sweep: the first repeat fills the caches and is excluded from the steady-state figures).

The ratio to measuring: ``measure_wall_s`` of the same zoo model in
``calibration/host-epyc-1c/measurements.csv`` (onnxruntime on one core, warm-up + repeats,
the wall time one measurement took) divided by the median prediction time.

Usage::

    taskset -c 0 python -m benchmarks.predict_speed --mode cold --md benchmarks/results/predict_speed.md
    taskset -c 0 python -m benchmarks.predict_speed --mode session --md benchmarks/results/predict_speed.md --append
    taskset -c 1 python -m benchmarks.predict_speed --mode blocks --md benchmarks/results/predict_speed.md --append
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

ZOO = Path(os.environ.get("HYBRIDPERF_ZOO", "/work/main/.zoo"))
#: (label, zoo file, key in the measurement CSV, repeats)
MODELS = (
    ("squeezenet1_1", "squeezenet1_1_b1_r224_legacy.onnx", "squeezenet1_1_b1_224", 6),
    ("mobilenet_v3_large", "mobilenet_v3_large_b1_r224_legacy.onnx", "mobilenet_v3_large_b1_224", 6),
    ("efficientnet_b0", "efficientnet_b0_b1_r224_legacy.onnx", "efficientnet_b0_b1_224", 6),
    ("bert_base", "bert_base_b1_s128_legacy.onnx", "bert_base_b1_128", 4),
    ("opt_1.3b", "opt-1.3b/model.onnx", None, 3),
)
STAGES = ("load", "normalize", "import", "cost_pass", "legalize", "fusion", "memory_plan", "residual", "report")
MEASUREMENTS = Path(__file__).resolve().parents[1] / "calibration" / "host-epyc-1c" / "measurements.csv"


def _stages_cold(path: str, device: str, session=None) -> dict[str, float]:
    """One prediction of ``path`` on ``device``, stage by stage (``session``: its caches are used)."""
    from hybridperf.analysis.analyze import check_tensor_sizes
    from hybridperf.analysis.cost_pass import analyze_module
    from hybridperf.analysis.int8 import apply_int8, apply_int8_kernels, find_int8
    from hybridperf.analysis.kernels import group_kernels
    from hybridperf.analysis.analyze import Analyzed, plan_lowered_memory
    from hybridperf.frontends.normalize import check_supported, normalize
    from hybridperf.frontends.onnx_import import from_onnx, load_onnx_proto
    from hybridperf.frontends.qoperator import qoperator_to_qdq
    from hybridperf.ir import lowering
    from hybridperf.report.text import to_json

    cache = session.cache if session is not None else None
    t: dict[str, float] = {}
    c = time.perf_counter
    t0 = c()
    proto = qoperator_to_qdq(load_onnx_proto(path))
    check_supported(proto, path)
    t1 = c()
    res = normalize(proto, None, None, inplace=True)
    t2 = c()
    loaded = from_onnx(res.model, res.input_shapes, source=path)
    t3 = c()
    mod = loaded.module
    analysis = analyze_module(mod)
    check_tensor_sizes(analysis, loaded.input_shapes)
    input_bytes = sum(v.nbytes or 0 for v in analysis.input_infos.values())
    t4 = c()
    record_vars = [r.var for r in analysis.records]
    tagged = (lowering.tag_and_legalize(mod, record_vars, cache=cache.legalize) if cache is not None
              else lowering.tag_and_legalize(mod, record_vars))
    t5 = c()
    fused = lowering.fuse(tagged)
    kernels = group_kernels(analysis, fused)
    t6 = c()
    memory, _ = plan_lowered_memory(fused, analysis, input_bytes, True, cache)
    plan = find_int8(analysis)
    if plan:
        kernels = apply_int8_kernels(kernels, analysis, plan)
        analysis = apply_int8(analysis, plan)
    analyzed = Analyzed(path, dict(loaded.input_shapes), analysis, kernels, memory, True)
    t7 = c()
    if session is not None:
        pred = session.predict_on(analyzed, device)
    else:
        from hybridperf.api import predict_on

        pred = predict_on(analyzed, device)
    t8 = c()
    to_json(pred)
    t9 = c()
    marks = (t0, t1, t2, t3, t4, t5, t6, t7, t8, t9)
    for i, s in enumerate(STAGES):
        t[s] = marks[i + 1] - marks[i]
    t["total"] = t9 - t0
    t["latency_s"] = pred.latency_s
    return t


#: ``--mode blocks``: the stages of a model composed from the session's block cache
#: (:mod:`hybridperf.analysis.blocks`; ``segments``: cutting, keying and looking up the segments,
#: ``compose``: records, kernels and call stream renumbered into the whole model's)
BLOCK_STAGES = ("load", "normalize", "segments", "compose", "memory_plan", "residual", "report")
def _stages_session(path: str, device: str, session) -> dict[str, float]:
    """One prediction through ``session.analyze`` (its block cache) and ``session.predict_on``,
    with the stage times the analysis records (``path``: which path the model took)."""
    from hybridperf.report.text import to_json

    c = time.perf_counter
    before = session.cache.blocks.stats()["block_models_composed"]
    t0 = c()
    analyzed = session.analyze(path)
    t1 = c()
    pred = session.predict_on(analyzed, device)
    t2 = c()
    to_json(pred)
    t3 = c()
    t = {k.removesuffix("_s"): v for k, v in analyzed.timings_s.items()}
    t.update(residual=t2 - t1, report=t3 - t2, total=t3 - t0, latency_s=pred.latency_s)
    t["path"] = "blocks" if session.cache.blocks.stats()["block_models_composed"] > before else "whole"
    return t


def _measure_wall() -> dict[str, float]:
    if not MEASUREMENTS.exists():
        return {}
    with MEASUREMENTS.open() as fh:
        return {r["key"]: float(r["measure_wall_s"]) for r in csv.DictReader(fh) if r.get("measure_wall_s")}


def _fmt_ms(x: float) -> str:
    return f"{x * 1e3:.0f}" if x >= 0.01 else f"{x * 1e3:.1f}"


def run(mode: str, device: str, only: list[str] | None, raw: Path | None = None) -> list[str]:
    from hybridperf.ir.tvm_compat import tvm_modules

    tvm_modules()
    session = None
    stages = STAGES
    if mode in ("session", "blocks"):
        from hybridperf.api import Session

        # blocks: keep no whole analysis, so each repeat composes the model again from its segments
        session = Session(keep_analyses=0) if mode == "blocks" else Session(block_cache=False)
    if mode == "blocks":
        stages = BLOCK_STAGES
    walls = _measure_wall()
    lines = [
        f"### mode `{mode}`, device `{device}`",
        "",
        "Per stage: min / median ms over the steady-state repeats"
        + (" (repeat 1 fills the session's caches and is not counted)" if session is not None else "") + "."
        + (" A model the block cache does not compose takes the whole-model path (row marked `whole`: "
           "`load` is then load + normalize + import; its cost pass and lowering + memory plan are listed "
           "in the `compose` column)." if mode == "blocks" else ""),
        "",
        "| model | repeats | " + " | ".join(stages) + " | total min / median ms | predictions/s/core (median) | measure wall s | ratio |",
        "|---|---:|" + "---:|" * len(stages) + "---:|---:|---:|---:|",
    ]
    for label, rel, key, reps in MODELS:
        if only and label not in only:
            continue
        path = ZOO / rel
        if not path.exists():
            lines.append(f"| {label} | - | " + " | ".join("-" for _ in STAGES) + f" | not in {ZOO} | | | |")
            continue
        stage_fn = _stages_session if mode == "blocks" else _stages_cold
        runs = [stage_fn(str(path), device, session) for _ in range(reps)]
        whole = mode == "blocks" and runs[-1]["path"] == "whole"
        if whole:
            label = f"{label} (whole)"
        if session is not None:
            first, runs = runs[0], runs[1:]
            print(f"{label}: first (cache-filling) prediction {first['total']:.3f} s", file=sys.stderr)
        if raw is not None:
            with raw.open("a") as fh:
                for r in runs:
                    fh.write(json.dumps({"model": label, "mode": mode, **r}) + "\n")
        cells = []
        for s in stages:
            if whole and s in ("normalize", "segments", "memory_plan"):
                cells.append("-")
                continue
            if whole and s == "compose":  # the whole-model path's own stages
                cells.append("whole path: " + ", ".join(
                    f"{w.replace('_', ' ')} {_fmt_ms(min(r[w] for r in runs))} / {_fmt_ms(statistics.median(r[w] for r in runs))}"
                    for w in ("cost_pass", "lower_and_plan")))
                continue
            v = [r[s] for r in runs]
            cells.append(f"{_fmt_ms(min(v))} / {_fmt_ms(statistics.median(v))}")
        tot = [r["total"] for r in runs]
        med = statistics.median(tot)
        wall = walls.get(key) if key else None
        ratio = f"{wall / med:.2f}x" if wall else "-"
        lines.append(f"| {label} | {len(runs)} | " + " | ".join(cells)
                     + f" | {_fmt_ms(min(tot))} / {_fmt_ms(med)} | {1 / med:.2f} | {wall if wall else '-'} | {ratio} |")
        print(lines[-1], file=sys.stderr)
    return lines


def compare(before: Path, after: Path) -> list[str]:
    """A before -> after table from two ``--raw`` files (min / median ms per stage over all their repeats)."""
    def load(p: Path) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for line in p.read_text().splitlines():
            r = json.loads(line)
            out.setdefault(r["model"], []).append(r)
        return out

    b, a = load(before), load(after)
    lines = ["| model | repeats before / after | " + " | ".join(STAGES) + " | total | predictions/s/core (median) |",
             "|---|---:|" + "---:|" * len(STAGES) + "---:|---:|"]
    for label, *_ in MODELS:
        if label not in b or label not in a:
            continue
        cells = []
        for s in (*STAGES, "total"):
            vb, va = [r[s] for r in b[label]], [r[s] for r in a[label]]
            cells.append(f"{_fmt_ms(min(vb))} → {_fmt_ms(min(va))} (med {_fmt_ms(statistics.median(vb))} → "
                         f"{_fmt_ms(statistics.median(va))})" if s == "total" else f"{_fmt_ms(min(vb))} → {_fmt_ms(min(va))}")
        rate = f"{1 / statistics.median(r['total'] for r in b[label]):.2f} → {1 / statistics.median(r['total'] for r in a[label]):.2f}"
        lines.append(f"| {label} | {len(b[label])} / {len(a[label])} | " + " | ".join(cells) + f" | {rate} |")
    return lines


def ort_peak(device: str, only: list[str] | None) -> list[str]:
    """What ``runtime="onnxruntime"`` (the CLI's default on a CPU sheet) adds to one prediction:
    onnxruntime's graph optimiser and planner replay, uncached and from a :class:`Session`'s cache."""
    from hybridperf import api
    from hybridperf.ir.tvm_compat import tvm_modules

    tvm_modules()
    lines = ["| model | pricing ms | with the onnxruntime peak ms | session, second call ms |", "|---|---:|---:|---:|"]
    for label, rel, _, _ in MODELS:
        path = ZOO / rel
        if (only and label not in only) or not path.exists():
            continue
        s = api.Session()
        a = s.analyze(str(path))
        api.predict_on(a, device)  # loads the residual model
        c = time.perf_counter
        t0 = c(); api.predict_on(a, device); t1 = c(); api.predict_on(a, device, runtime="onnxruntime"); t2 = c()
        s.predict_on(a, device, runtime="onnxruntime")
        t3 = c(); s.predict_on(a, device, runtime="onnxruntime"); t4 = c()
        lines.append(f"| {label} | {_fmt_ms(t1 - t0)} | {_fmt_ms(t2 - t1)} | {_fmt_ms(t4 - t3)} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["cold", "session", "blocks"], default="cold",
                    help="cold: no caches; session: a Session's caches (block cache off); blocks: "
                         "Session.analyze with the block cache (each repeat composed from segments)")
    ap.add_argument("--device", default="host-epyc-1c")
    ap.add_argument("--models", nargs="*", help="labels to run (default: all)")
    ap.add_argument("--md", type=Path, help="write (or with --append, extend) this markdown file")
    ap.add_argument("--append", action="store_true")
    ap.add_argument("--raw", type=Path, help="also append every steady-state repeat's stage times here (JSON lines)")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                    help="print a before -> after table (min ms per stage) from two --raw files (and write it to "
                         "--md, with --title), and measure nothing")
    ap.add_argument("--title", help="with --compare and --md: the heading of the table written")
    ap.add_argument("--ort-peak", action="store_true",
                    help="time onnxruntime's peak-memory model (runtime=onnxruntime) instead of the stages")
    args = ap.parse_args(argv)
    if args.ort_peak:
        print("\n".join(ort_peak(args.device, args.models)))
        return 0
    if args.compare:
        text = "\n".join(compare(*args.compare)) + "\n"
        if args.md:
            cmd = "python -m benchmarks.predict_speed " + shlex.join(argv if argv is not None else sys.argv[1:])
            head = f"\n## {args.title}\n\n" if args.title else "\n"
            with args.md.open("a" if args.append else "w") as fh:
                fh.write(head + f"Command: `{cmd}`\n\n" + text)
        print(text)
        return 0
    cores = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    cmd = f"taskset -c {cores} python -m benchmarks.predict_speed " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = run(args.mode, args.device, args.models, args.raw)
    text = "\n".join(lines) + "\n"
    if args.md:
        head = ""
        if not (args.append and args.md.exists()):
            head = (f"# Prediction speed (issue 14)\n\nCommands: `{cmd}` (and the other mode).\n\n"
                    f"Host: {platform.machine()}, Python {platform.python_version()}, measured on core(s) {cores} of a shared "
                    "2-core host (other sessions running: expect noise; min is the better estimate).\n\n")
        mode = "a" if args.append else "w"
        with args.md.open(mode) as fh:
            fh.write(head + (f"\nCommand: `{cmd}`\n\n" if args.append else "") + text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
