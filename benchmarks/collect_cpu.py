"""Collect onnxruntime ground truth for zoo models on this CPU, and their features.

Two steps, both resumable (rows already in the output are skipped):

``measure`` (needs torch for the ONNX exports)
    Exports each configuration of :data:`PLAN` with :mod:`benchmarks.zoo` and
    measures it with :func:`hybridperf.measure.measure` (fresh subprocess,
    ``threads=2``). Other processes may share the 2 cores, so every attempt
    records the 1-minute load average and an attempt whose spread is large
    (p90/p10 > ``--max-spread``) is repeated; the attempt with the lowest
    p10 is kept. The training target is that p10 (``latency_p10_s``): on a shared
    host the fastest decile is the least disturbed by other processes. Writes ``measurements.csv`` (one row per configuration)
    and ``profile.csv`` (per-node onnxruntime profiler times).

``featurize`` (needs TVM, no torch)
    Analyses every measured ONNX file with hybridperf, prices it on the device
    (roofline only), and writes ``features.csv`` (one row per model: features
    of :mod:`hybridperf.features` + target) and ``kernel_features.csv`` (one
    row per kernel + the measured time of its family group from the profile).

Usage::

    python -m benchmarks.collect_cpu measure  [--limit N] [--only resnet18,...]
    python -m benchmarks.collect_cpu featurize
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

DEVICE = "host-xeon-2c"
OUT_DIR = Path("calibration") / DEVICE
ZOO_DIR = Path(".zoo")

#: (zoo name, batches, resolutions or seq_lens; None = default)
PLAN: list[tuple[str, tuple[int, ...], tuple[int | None, ...]]] = [
    ("resnet18", (1, 2, 4, 8), (224, 160)),
    ("resnet50", (1, 2, 4), (224,)),
    ("mobilenet_v2", (1, 2, 4, 8), (224, 160)),
    ("mobilenet_v3_small", (1, 2, 4, 8), (224,)),
    ("mobilenet_v3_large", (1, 2, 4, 8), (224,)),
    ("mnasnet1_0", (1, 2, 4, 8), (224,)),
    ("efficientnet_b0", (1, 2, 4), (224,)),
    ("regnet_y_400mf", (1, 2, 4, 8), (224,)),
    ("regnet_x_1_6gf", (1, 2, 4), (224,)),
    ("densenet121", (1, 2, 4), (224,)),
    ("squeezenet1_0", (1, 2, 4, 8), (224,)),
    ("squeezenet1_1", (1, 2, 4, 8), (224, 160)),
    ("shufflenet_v2_x1_0", (1, 2, 4, 8), (224,)),
    ("vgg11", (1, 2), (224,)),
    ("alexnet", (1, 2, 4, 8), (224,)),
    ("googlenet", (1, 2, 4), (224,)),
    ("convnext_tiny", (1, 2), (224,)),
    ("vit_b_16", (1, 2), (224,)),
    ("hf_deit_small", (1, 2, 4), (224,)),
    ("swin_t", (1, 2), (224,)),
    ("bert_tiny", (1, 2, 4, 8), (128, 64, 256)),
    ("bert_small", (1, 2, 4, 8), (128, 64)),
    ("distilbert_base", (1, 2, 4), (128, 64)),
    ("electra_small", (1, 2, 4, 8), (128, 64)),
    ("t5_small_encoder", (1, 2, 4), (128, 64)),
    ("gpt2", (1, 2, 4), (128, 64)),
    ("opt_125m", (1, 2), (128, 64)),
    ("llama_tiny", (1, 2, 4), (128, 64)),
    ("qwen2_tiny", (1, 2), (128,)),
    ("hf_mobilevit_small", (1, 2, 4), (256,)),
    ("lraspp_mobilenet_v3_large", (1, 2), (512,)),
]


def key_of(name: str, batch: int, size: int | None) -> str:
    return f"{name}_b{batch}_{size}"


def configs(only: set[str] | None = None):
    from benchmarks.zoo import InputKind, get

    for name, batches, sizes in PLAN:
        if only and name not in only:
            continue
        entry = get(name)
        image = entry.input.kind is InputKind.IMAGE
        # interleave: all models at batch 1 first so a partial run still covers every family
        for b in batches:
            for s in sizes:
                yield {"name": name, "family": entry.family, "batch": b,
                       "resolution": s if image else None, "seq_len": None if image else s}


def _read_keys(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with path.open() as f:
        return {r["key"] for r in csv.DictReader(f)}


def _append(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        if new:
            w.writeheader()
        w.writerows(rows)


def cmd_measure(args) -> int:
    from benchmarks.zoo import export
    from hybridperf.measure import csv_row, measure, node_rows

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mpath, ppath = out / "measurements.csv", out / "profile.csv"
    done = _read_keys(mpath)
    todo = [c for c in configs(set(args.only.split(",")) if args.only else None)]
    todo.sort(key=lambda c: (c["batch"] > 1, c["batch"]))  # every model at batch 1 first
    n = 0
    for c in todo:
        size = c["resolution"] or c["seq_len"]
        key = key_of(c["name"], c["batch"], size)
        if key in done:
            continue
        if args.limit and n >= args.limit:
            break
        t0 = time.perf_counter()
        try:
            path = export(c["name"], batch=c["batch"], resolution=c["resolution"], seq_len=c["seq_len"], out_dir=ZOO_DIR)
        except Exception as exc:  # noqa: BLE001 - record and go on
            print(f"{key}: export failed: {exc}", file=sys.stderr)
            continue
        best, attempts = None, 0
        for attempts in range(1, args.max_attempts + 1):
            try:
                m = measure(path, threads=2, repeats=args.repeats, warmup=2, profile=True, profile_runs=3,
                            isolate=True, budget_s=args.budget_s)
            except Exception as exc:  # noqa: BLE001
                print(f"{key}: measure failed: {exc}", file=sys.stderr)
                break
            if best is None or m.latency_p10_s < best.latency_p10_s:
                best = m
            if m.latency_p90_s / max(m.latency_p10_s, 1e-9) <= args.max_spread:
                break
        if best is None:
            continue
        row = {"key": key, "zoo_name": c["name"], "family": c["family"], "resolution": c["resolution"] or "",
               "seq_len": c["seq_len"] or "", "attempts": attempts, **csv_row(best)}
        row["model"] = str(path)
        _append(mpath, [row])
        _append(ppath, node_rows(best, key))
        n += 1
        print(f"{key}: {best.latency_s * 1e3:.2f} ms (p10 {best.latency_p10_s * 1e3:.2f}, p90 "
              f"{best.latency_p90_s * 1e3:.2f}, load {best.load_avg_1m:.2f}, {attempts} attempt(s), "
              f"{time.perf_counter() - t0:.1f} s)", flush=True)
    return 0


def cmd_featurize(args) -> int:
    from hybridperf.features import featurize_measured

    out = Path(args.out)
    rows, krows = featurize_measured(out / "measurements.csv", out / "profile.csv", device=args.device,
                                     precision=None, log=lambda s: print(s, file=sys.stderr, flush=True))
    for name, data in (("features.csv", rows), ("kernel_features.csv", krows)):
        path = out / name
        if data:
            with path.open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(data[0]))
                w.writeheader()
                w.writerows(data)
        print(f"wrote {path} ({len(data)} rows)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.collect_cpu", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--out", default=str(OUT_DIR))
    m.add_argument("--only", help="comma-separated zoo names")
    m.add_argument("--limit", type=int, default=0, help="stop after N new measurements")
    m.add_argument("--repeats", type=int, default=30, help="at most this many timed runs")
    m.add_argument("--budget-s", type=float, default=1.5, help="timed runs stop after about this long (min 5 runs)")
    m.add_argument("--max-attempts", type=int, default=3)
    m.add_argument("--max-spread", type=float, default=1.25, help="repeat when p90/p10 exceeds this")
    f = sub.add_parser("featurize")
    f.add_argument("--out", default=str(OUT_DIR))
    f.add_argument("--device", default=DEVICE)
    args = p.parse_args(argv)
    return cmd_measure(args) if args.cmd == "measure" else cmd_featurize(args)


if __name__ == "__main__":
    sys.exit(main())
