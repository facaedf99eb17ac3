"""Per-kernel GPU time of the zoo under eager PyTorch, from the torch profiler (CUPTI).

Run on the GPU machine from the repository root (no TVM needed there)::

    python -m benchmarks.gpu_kernels --out OUT_DIR [--deadline-s 300] [--models a,b] [--reps 3]

For each zoo model, dtype (fp32 with TF32 off, fp16) and batch of its entry,
after a few warm-up inferences, ``--reps`` inferences run under
``torch.profiler`` with CUDA activity. Two CSVs come out:

* ``OUT_DIR/torch-kernels-fp32-fp16.csv``: one row per configuration with the
  number of GPU activities (kernels, memcpy, memset) per inference, the sum
  of their durations per inference (``gpu_kernel_time_s``: the GPU's own
  time, without the host's launch gaps, which is what a roofline sums), and
  the span from the first activity's start to the last one's end per
  inference (``gpu_span_s``: kernel time plus the gaps between kernels).
* ``OUT_DIR/torch-kernels-by-name.csv``: per configuration and kernel name,
  calls and total time per inference (for per-kernel comparisons).

This complements ``benchmarks.gpu_measure --mode graph``, which cannot capture
models that copy host tensors inside ``forward`` (the Hugging Face ones); the
profiler needs no capture. Every row carries device, driver, torch, CUDA
versions and the UTC time. ``--device cpu`` runs the same code on the CPU with
CPU activities (a dry run of the bookkeeping, no GPU figures).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
import time
from pathlib import Path

from benchmarks import zoo

COLUMNS = ["model", "family", "source", "batch", "resolution", "seq_len", "dtype", "status", "error", "reps",
           "kernels_per_inference", "gpu_kernel_time_s", "gpu_span_s", "wall_per_inference_s", "top_kernel",
           "top_kernel_share", "device_name", "driver_version", "torch_version", "cuda_version", "date_utc"]
BY_NAME = ["model", "batch", "dtype", "kernel", "calls_per_inference", "time_per_inference_s"]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _order(names: list[str]) -> list[str]:
    """Hugging Face models first (CUDA graphs cannot capture them), then the rest."""
    return sorted(names, key=lambda n: zoo.get(n).source == "torchvision")


def profile_once(torch, model, inputs, reps: int, device: str) -> tuple[dict, dict]:
    """(summary, {kernel name: [calls, seconds]}) per inference for ``reps`` profiled inferences."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    cuda = device == "cuda"
    acts = [ProfilerActivity.CUDA] if cuda else [ProfilerActivity.CPU]
    want = DeviceType.CUDA if cuda else DeviceType.CPU
    with torch.inference_mode():
        for _ in range(3):
            model(*inputs)
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with profile(activities=acts) as prof:
            for _ in range(reps):
                model(*inputs)
            if cuda:
                torch.cuda.synchronize()
        wall = (time.perf_counter() - t0) / reps
    events = [e for e in prof.events() if e.device_type == want]
    if not cuda:  # CPU dry run: top-level ops only, so nested ops are not double counted
        events = [e for e in events if e.cpu_parent is None]
    if not events:
        raise RuntimeError("the profiler recorded no device activity")
    by_name: dict[str, list[float]] = {}
    total_us = 0.0
    for e in events:
        d = e.time_range.end - e.time_range.start
        total_us += d
        slot = by_name.setdefault(e.name[:200], [0, 0.0])
        slot[0] += 1
        slot[1] += d
    span_us = max(e.time_range.end for e in events) - min(e.time_range.start for e in events)
    top = max(by_name.items(), key=lambda kv: kv[1][1])
    summary = {"reps": reps, "kernels_per_inference": len(events) / reps, "gpu_kernel_time_s": total_us * 1e-6 / reps,
               "gpu_span_s": span_us * 1e-6 / reps, "wall_per_inference_s": wall, "top_kernel": top[0][:120],
               "top_kernel_share": top[1][1] / total_us if total_us else 0.0}
    return summary, {k: [c / reps, t * 1e-6 / reps] for k, (c, t) in by_name.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gpu_kernels", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--models", help="comma-separated zoo names (default: all, Hugging Face first)")
    ap.add_argument("--batches", help="comma-separated batch sizes overriding each entry's own")
    ap.add_argument("--dtypes", default="fp32,fp16")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--deadline-s", type=float, default=300.0)
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    args = ap.parse_args(argv)

    import torch

    t_start = time.perf_counter()
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        print("error: no CUDA device visible to torch", file=sys.stderr)
        return 2
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    common = {"torch_version": torch.__version__, "cuda_version": torch.version.cuda or "",
              "device_name": torch.cuda.get_device_name() if cuda else "cpu (dry run)", "driver_version": ""}
    if cuda:
        from hybridperf.measure.torch_cuda import _Nvml

        common["driver_version"] = _Nvml(torch.cuda.current_device()).info().get("driver_version", "")
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.models.split(",") if args.models else _order([e.name for e in zoo.list_models()])
    fixed = [int(b) for b in args.batches.split(",")] if args.batches else None
    n_ok = n_fail = 0
    with (args.out / "torch-kernels-fp32-fp16.csv").open("w", newline="") as fh, \
         (args.out / "torch-kernels-by-name.csv").open("w", newline="") as fk:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        wk = csv.DictWriter(fk, fieldnames=BY_NAME)
        w.writeheader()
        wk.writeheader()
        for name in names:
            if time.perf_counter() - t_start > args.deadline_s:
                print(f"deadline: skipped {name} and after", flush=True)
                break
            entry = zoo.get(name)
            shape = zoo.resolve_shape(name)
            base = {"model": name, "family": entry.family, "source": entry.source,
                    "resolution": shape["resolution"] or "", "seq_len": shape["seq_len"] or "", **common}
            try:
                model = zoo.build(name, device=args.device)
            except Exception as exc:  # noqa: BLE001 - record and go on
                print(f"{name}: build: {type(exc).__name__}: {exc}", flush=True)
                continue
            for dtype in args.dtypes.split(","):
                tdt = {"fp32": torch.float32, "fp16": torch.float16}[dtype]
                model = model.to(tdt)
                for b in fixed or list(entry.batches):
                    row = {**base, "batch": b, "dtype": dtype, "date_utc": _now()}
                    try:
                        inputs = zoo.example_inputs(name, b, device=args.device, dtype=tdt)
                        summary, kernels = profile_once(torch, model, inputs, args.reps, args.device)
                        row.update(status="ok", error="", **summary)
                        for k, (calls, secs) in sorted(kernels.items(), key=lambda kv: -kv[1][1]):
                            wk.writerow({"model": name, "batch": b, "dtype": dtype, "kernel": k,
                                         "calls_per_inference": calls, "time_per_inference_s": secs})
                        n_ok += 1
                        print(f"[{time.perf_counter() - t_start:6.1f}s] {name:28s} {dtype} b{b:<3d} "
                              f"{summary['kernels_per_inference']:6.0f} kernels  gpu {summary['gpu_kernel_time_s'] * 1e3:8.3f} ms"
                              f"  span {summary['gpu_span_s'] * 1e3:8.3f} ms  wall {summary['wall_per_inference_s'] * 1e3:8.3f} ms",
                              flush=True)
                    except Exception as exc:  # noqa: BLE001 - record and go on
                        row.update(status="error", error=f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}")
                        n_fail += 1
                        print(f"  {name} {dtype} b{b}: {row['error']}", flush=True)
                    finally:
                        inputs = None
                        if cuda:
                            torch.cuda.empty_cache()
                    w.writerow(row)
                    fh.flush()
                    fk.flush()
            model = None
    print(f"done: {n_ok} ok, {n_fail} failed, {time.perf_counter() - t_start:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
