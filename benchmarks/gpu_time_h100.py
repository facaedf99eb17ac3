"""Where the H100 time goes: roofline vs GPU kernel time vs CUDA-graph vs eager latency.

Joins, per (model, batch, dtype), the cost pass's roofline on the sheet spec
and predicted kernel count (``calibration/h100-sxm/features.csv``) with three
measurements of the same configuration on the lent H100:

* eager PyTorch latency (``torch-eager-fp32-fp16.csv``: Python dispatch and
  launch gaps included),
* CUDA-graph replay latency (``torch-cudagraph-fp32-fp16.csv``: no host gaps;
  the Hugging Face models cannot be captured),
* the summed duration of the GPU activities of one eager inference
  (``torch-kernels-fp32-fp16.csv``, torch profiler / CUPTI: the GPU's own time).

Writes ``benchmarks/results/gpu_time_h100.md``. Run from the repository root::

    python -m benchmarks.gpu_time_h100
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
H100_DIR = ROOT / "calibration" / "h100-sxm"
OUT = ROOT / "benchmarks" / "results" / "gpu_time_h100.md"


def _rows(name: str, key_cols=("model", "batch", "dtype")) -> dict[tuple, dict]:
    path = H100_DIR / name
    if not path.exists():
        return {}
    with path.open() as fh:
        return {tuple(r[c] for c in key_cols): r for r in csv.DictReader(fh) if r.get("status", "ok") == "ok"}


def _stats(ratio: np.ndarray) -> list[str]:
    """median ratio, geometric spread (exp of std of log), share within 2x, MAPE of the prediction."""
    lr = np.log(ratio)
    mape = float(np.mean(np.abs(1 / ratio - 1)) * 100)  # prediction / measured - 1
    return [f"{np.median(ratio):.2f}", f"{math.exp(float(np.std(lr))):.2f}",
            f"{np.mean(np.abs(lr) <= math.log(2)) * 100:.0f}%", f"{mape:.0f}%"]


def main() -> int:
    import argparse

    # no options: --help prints the usage instead of running (it measured and rewrote the results file until
    # 2026-12-03)
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    feats = _rows("features.csv", ("zoo_name", "batch", "dtype"))
    eager = _rows("torch-eager-fp32-fp16.csv")
    graph = _rows("torch-cudagraph-fp32-fp16.csv")
    kern = _rows("torch-kernels-fp32-fp16.csv")
    if not feats or not kern:
        print("error: needs calibration/h100-sxm/features.csv and torch-kernels-fp32-fp16.csv", file=sys.stderr)
        return 2
    lines = ["# H100: where the time goes (roofline vs GPU kernel time vs CUDA graph vs eager)", "",
             f"Configurations with a cost-pass row: {len(feats)} (model x batch x dtype; fp32 with TF32 off, fp16). "
             "Roofline: the cost pass on the exported ONNX graph priced on `hybridperf/data/hw_specs/h100-sxm.yaml` (sheet), no residual. "
             "Ratio = measured / roofline; spread = exp(std of log ratio); MAPE = mean |roofline / measured - 1|.", "",
             "| measured time | n | median measured / roofline | spread | within 2x | roofline MAPE |",
             "|---|---:|---:|---:|---:|---:|"]
    for label, table, col in (("eager latency (median)", eager, "latency_median_s"),
                              ("CUDA-graph latency (median)", graph, "latency_median_s"),
                              ("GPU kernel time, summed (profiler)", kern, "gpu_kernel_time_s")):
        ratio = np.array([float(table[k][col]) / float(f["roofline_latency_s"]) for k, f in feats.items() if k in table])
        if len(ratio):
            lines.append(f"| {label} | {len(ratio)} | " + " | ".join(_stats(ratio)) + " |")
    both = [k for k in feats if k in eager and k in kern]
    share = np.array([float(kern[k]["gpu_kernel_time_s"]) / float(eager[k]["latency_median_s"]) for k in both])
    lines += ["", f"GPU busy share of the eager latency (summed kernel time / eager median), {len(both)} configurations: "
              f"median {np.median(share) * 100:.0f}%, below 50% in {np.mean(share < 0.5) * 100:.0f}% of them: "
              "eager PyTorch on the H100 is mostly host-bound (Python dispatch + launches), which the roofline's "
              "per-kernel launch overhead has to carry.", ""]
    gk = [k for k in graph if k in kern]
    if gk:
        r = np.array([float(kern[k]["gpu_kernel_time_s"]) / float(graph[k]["latency_median_s"]) for k in gk])
        lines += [f"Consistency: summed kernel time / CUDA-graph latency over {len(gk)} configurations: median "
                  f"{np.median(r):.2f} (p10 {np.percentile(r, 10):.2f}, p90 {np.percentile(r, 90):.2f}).", ""]
    kk = [k for k in feats if k in kern and feats[k].get("log_kernels")]
    if kk:
        pred = np.array([math.exp(float(feats[k]["log_kernels"])) for k in kk])
        meas = np.array([float(kern[k]["kernels_per_inference"]) for k in kk])
        r = meas / pred
        lines += ["## Kernel count: predicted (Relax lowering + fusion) vs launched by eager PyTorch", "",
                  f"{len(kk)} configurations: measured / predicted median {np.median(r):.2f} "
                  f"(p10 {np.percentile(r, 10):.2f}, p90 {np.percentile(r, 90):.2f}); measured includes memcpy / memset "
                  "and the unfused kernels eager PyTorch launches, predicted counts the fused TVM kernels.", "",
                  "| family | n | predicted kernels (median) | measured kernels (median) |", "|---|---:|---:|---:|"]
        fams = sorted({feats[k]["family"] for k in kk})
        for fam in fams:
            idx = [i for i, k in enumerate(kk) if feats[k]["family"] == fam]
            lines.append(f"| {fam} | {len(idx)} | {np.median(pred[idx]):.0f} | {np.median(meas[idx]):.0f} |")
    lines += ["", "Reproduce: `python -m benchmarks.accuracy featurize-h100 && python -m benchmarks.gpu_time_h100` "
              "(measurements: `benchmarks/h100_probe_and_graph.sh` and `python -m benchmarks.gpu_kernels --out DIR` on the GPU).", ""]
    text = "\n".join(lines)
    OUT.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
