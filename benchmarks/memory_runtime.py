"""Peak memory per runtime: hybridperf's runtime models vs the measured peaks, on held-out families.

* **onnxruntime CPU** (``calibration/host-epyc-1c/measurements.csv``, the figure of
  ``hybridperf.measure``: RSS growth at load + VmHWM growth over two runs + inputs, arena off):
  before = ``MemoryPlan.peak_bytes`` (TVM plan + weights + inputs, the ``predicted_peak_bytes`` column of
  ``features.csv``); after = :func:`hybridperf.runtime_memory.onnxruntime_peak`, whose two fixed
  overheads are fitted on the other families' rows (8 family folds, sorted families dealt round-robin)
  and evaluated on the held-out fold. Rows whose ONNX file is missing from ``.zoo/`` are skipped
  (the structural part needs the graph).
* **PyTorch CUDA** (``calibration/h100-sxm``: ``torch.cuda.max_memory_allocated`` around one eager
  inference): before = TVM plan + weights + inputs; after = :func:`hybridperf.runtime_memory.torch_cuda_peak`
  with the workspace and activation factor fitted on the other folds.
* **TVM** (``benchmarks/results/memory.json``, the VM's resident peak): before = plan + weights + inputs,
  after = :func:`hybridperf.runtime_memory.tvm_peak` (plan + kernel workspace + weights + inputs); nothing fitted.

Usage::

    taskset -c 0 .venv/bin/python -m benchmarks.memory_runtime features   # onnxruntime features (cached)
    taskset -c 0 .venv/bin/python -m benchmarks.memory_runtime report --out benchmarks/results/memory_runtime.md
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CPU_DIR = ROOT / "calibration" / "host-epyc-1c"
H100_DIR = ROOT / "calibration" / "h100-sxm"
RESULTS = ROOT / "benchmarks" / "results"
ORT_CACHE = RESULTS / "memory_runtime_ort.json"
N_FOLDS = 8
COMMAND = "taskset -c 0 .venv/bin/python -m benchmarks.memory_runtime report --out benchmarks/results/memory_runtime.md"


def folds(families: list[str], n: int = N_FOLDS) -> list[set[str]]:
    """Family folds: sorted families dealt round-robin (never splits a family)."""
    uniq = sorted(set(families))
    k = min(n, len(uniq))
    return [set(uniq[i::k]) for i in range(k)]


def summary(pred: np.ndarray, meas: np.ndarray) -> dict:
    err = pred / meas - 1
    return {"n": len(err), "mape": float(np.mean(np.abs(err)) * 100) if len(err) else float("nan"),
            "within10": float(np.mean(np.abs(err) <= 0.10) * 100) if len(err) else float("nan"),
            "median_ratio": float(np.median(pred / meas)) if len(err) else float("nan")}


# --------------------------------------------------------------------------- onnxruntime


def cmd_features(args) -> int:
    """Optimise every available measured model with onnxruntime and replay its planner (cached per file)."""
    from hybridperf.runtime_memory import ort_features

    cache = json.loads(ORT_CACHE.read_text()) if ORT_CACHE.exists() else {}
    with (CPU_DIR / "measurements.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    isa = ("avx2",)  # host-epyc-1c: Zen 3, AVX2 (NCHWc block 8)
    for r in rows:
        path = ROOT / r["model"]
        if r["model"] in cache or not path.exists():
            continue
        t0 = time.perf_counter()
        f = ort_features(path, isa)
        a = f.activations
        cache[r["model"]] = {"initializers": f.initializer_bytes, "pattern": a.pattern_bytes, "live_peak": a.live_peak_bytes,
                             "outputs": a.output_bytes, "inputs": f.input_bytes, "optimised": f.optimised,
                             "unknown_ops": list(f.unknown_ops), "file_bytes": path.stat().st_size,
                             "seconds": round(time.perf_counter() - t0, 2)}
        print(r["key"], json.dumps(cache[r["model"]]), file=sys.stderr, flush=True)
        ORT_CACHE.write_text(json.dumps(cache, indent=1))
    ORT_CACHE.write_text(json.dumps(cache, indent=1))
    return 0


def ort_table() -> list[dict]:
    """Measured rows joined with the baseline prediction and the cached onnxruntime features."""
    cache = json.loads(ORT_CACHE.read_text()) if ORT_CACHE.exists() else {}
    with (CPU_DIR / "features.csv").open() as fh:
        base = {r["key"]: r for r in csv.DictReader(fh)}
    with (CPU_DIR / "measurements.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        b = base.get(r["key"], {})
        out.append({"key": r["key"], "family": r["family"], "measured": int(r["peak_bytes"]),
                    "load": int(r["load_bytes"]), "run": int(r["run_peak_bytes"]), "input": int(r["input_bytes"]),
                    "before": int(b["predicted_peak_bytes"]) if b.get("predicted_peak_bytes") else None,
                    "feat": cache.get(r["model"])})
    return out


def ort_structural(f: dict) -> tuple[int, int]:
    """(load part, run part) without the fixed overheads."""
    return f["initializers"], max(f["pattern"], f["live_peak"]) + f["outputs"]


def fit_ort(rows: list[dict]) -> tuple[int, int]:
    """Session and run fixed overheads: medians of the measured-minus-structural load and run parts."""
    load = [r["load"] - ort_structural(r["feat"])[0] for r in rows]
    run = [r["run"] - ort_structural(r["feat"])[1] for r in rows]
    return int(np.median(load)), int(np.median(run))


def ort_predict(f: dict, session_fixed: int, run_fixed: int) -> int:
    from hybridperf.runtime_memory import OrtActivationPlan, OrtFeatures, onnxruntime_peak

    feat = OrtFeatures(f["initializers"], OrtActivationPlan(f["pattern"], f["live_peak"], f["outputs"], 0), f["inputs"],
                       f["optimised"], tuple(f["unknown_ops"]))
    return onnxruntime_peak(feat, session_fixed, run_fixed).peak_bytes


def ort_heldout(rows: list[dict]) -> list[dict]:
    """Each row predicted with overheads fitted on the other folds' families."""
    usable = [r for r in rows if r["feat"]]
    out = []
    for fold in folds([r["family"] for r in usable]):
        train = [r for r in usable if r["family"] not in fold]
        s, rr = fit_ort(train)
        for r in usable:
            if r["family"] in fold:
                out.append(dict(r, after=ort_predict(r["feat"], s, rr), fit=(s, rr)))
    return out


# --------------------------------------------------------------------------- report


def _mib(b: float | None) -> str:
    return "-" if b is None else f"{b / 2**20:.2f}"


def _row(label: str, s: dict, target: str) -> str:
    return f"| {label} | {s['n']} | {s['mape']:.1f} % | {s['within10']:.0f} % | {s['median_ratio']:.3f} | {target} |"


def render_ort(rows: list[dict]) -> list[str]:
    held = ort_heldout(rows)
    all_before = [r for r in rows if r["before"]]
    sb_all = summary(np.array([r["before"] for r in all_before], float), np.array([r["measured"] for r in all_before], float))
    meas = np.array([r["measured"] for r in held], float)
    sb = summary(np.array([r["before"] for r in held], float), meas)
    sa = summary(np.array([r["after"] for r in held], float), meas)
    s_all, r_all = fit_ort([r for r in rows if r["feat"]])
    lines = [
        "## onnxruntime CPU (host-epyc-1c, onnxruntime 1.32, 1 thread)", "",
        f"Measured figure: `hybridperf.measure` (RSS growth at session load + VmHWM growth over 2 runs + input bytes; "
        f"CPU arena off, glibc `MALLOC_MMAP_THRESHOLD_=65536`). {len(held)} of {len(rows)} configurations have their "
        f"ONNX file in `.zoo/` ({len(set(r['family'] for r in held))} families); the others are skipped by 'after'.", "",
        "| predictor | n | MAPE | within ±10 % | median pred/meas | target |", "|---|---|---|---|---|---|",
        _row("before: TVM plan + weights + inputs, all 186 rows", sb_all, "today 21.4 %"),
        _row("before: same, rows with a file", sb, ""),
        _row("after: onnxruntime model, held-out families", sa, "≤ 5 %, ≥ 90 %"),
        "",
        f"Fixed overheads fitted on all rows (the constants in `hybridperf/runtime_memory.py`): session "
        f"{s_all / 2**20:.2f} MiB, run {r_all / 2**20:.2f} MiB.", "",
        "Per family (held out):", "",
        "| family | n | before MAPE | after MAPE | after within ±10 % | worst (after) |", "|---|---|---|---|---|---|",
    ]
    fams = sorted(set(r["family"] for r in held))
    for fam in fams:
        rs = [r for r in held if r["family"] == fam]
        m = np.array([r["measured"] for r in rs], float)
        b = summary(np.array([r["before"] for r in rs], float), m)
        a = summary(np.array([r["after"] for r in rs], float), m)
        worst = max(rs, key=lambda r: abs(r["after"] / r["measured"] - 1))
        lines.append(f"| {fam} | {a['n']} | {b['mape']:.1f} % | {a['mape']:.1f} % | {a['within10']:.0f} % | "
                     f"{worst['key']} {_mib(worst['after'])} vs {_mib(worst['measured'])} MiB |")
    return lines


def cmd_report(args) -> int:
    rows = ort_table()
    lines = [f"# Peak memory per runtime: model vs measured, held-out families", "", f"Reproduce: `{COMMAND}`", ""]
    lines += render_ort(rows)
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("features")
    rp = sub.add_parser("report")
    rp.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    return {"features": cmd_features, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
