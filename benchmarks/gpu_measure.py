"""Measure the zoo on a CUDA GPU: latency, peak memory, energy per inference.

Run on the GPU machine from the repository root (no TVM needed there)::

    python -m benchmarks.gpu_measure --out OUT_DIR [--deadline-s 470] [--models a,b] [--batches 1,8,32]
    python -m benchmarks.gpu_measure --out OUT_DIR --mode graph --no-probe --resume

``--mode eager`` (default) times plain eager PyTorch calls, Python dispatch and
launch gaps included; ``--mode graph`` times replays of a CUDA graph of one
inference, which is close to the GPU's own time. Models that cannot be
captured get ``status=error`` rows. If an error leaves the CUDA context
unusable the script exits with code 3; run it again with ``--resume`` to
append the models not yet in the CSV.

For each zoo model (built by ``benchmarks.zoo.build`` with the zoo's seeded
random weights, directly on the GPU), for each dtype (``fp32`` with TF32 off
in both cuBLAS and cuDNN, then ``fp16`` via ``model.half()``) and each batch of
the entry's ``batches``, one row goes to ``OUT_DIR/torch-<mode>-fp32-fp16.csv``
(written and flushed row by row, so a time-out keeps what was measured).
Failures (out of memory, unsupported op in fp16...) are rows with
``status`` != ``ok``. ``OUT_DIR/probe.json`` holds the device probe
(:func:`hybridperf.measure.torch_cuda.probe_cuda`) and ``OUT_DIR/metadata.json`` the
settings, versions and what was skipped.

Every row names the ONNX export that matches it (``onnx_file`` and
``onnx_export_cmd``): same builder, batch and resolution / seq_len, so a local
benchmark can export that graph and compare prediction with measurement.

The run is time-boxed: after ``--deadline-s`` seconds no new configuration
starts, and everything measured so far is still written.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

from benchmarks import zoo
from hybridperf.measure.torch_cuda import _Nvml, measure_cuda, probe_cuda

CSV_NAMES = {"eager": "torch-eager-fp32-fp16.csv", "graph": "torch-cudagraph-fp32-fp16.csv"}
EXIT_CONTEXT_LOST = 3
COLUMNS = [
    "model", "family", "source", "task", "input_kind", "batch", "resolution", "seq_len", "dtype", "mode",
    "status", "error",
    "latency_median_s", "latency_mean_s", "latency_p10_s", "latency_p90_s", "latency_min_s", "latency_std_s",
    "repeats", "warmup", "throughput_latency_s", "peak_memory_bytes", "activation_peak_bytes", "weights_bytes",
    "energy_j", "avg_power_w", "energy_iterations", "energy_window_s",
    "onnx_file", "onnx_export_cmd", "device_name", "driver_version", "torch_version", "cuda_version",
    "cudnn_version", "date_utc",
]


def _log(msg: str) -> None:
    print(msg, flush=True)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _set_fp32_strict(torch) -> None:
    """fp32 really in fp32: no TF32 in cuBLAS matmuls nor cuDNN convolutions."""
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def _repeats_for(torch, model, inputs, budget_s: float, max_repeats: int) -> tuple[int, int]:
    """(warmup, repeats) so that timing one configuration takes about ``budget_s``."""
    with torch.inference_mode():
        model(*inputs)  # first call: allocator, cuDNN / cuBLAS handles
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        model(*inputs)
        torch.cuda.synchronize()
        est = time.perf_counter() - t0
    repeats = int(min(max_repeats, max(10, budget_s / max(est, 1e-6))))
    warmup = int(min(10, max(3, repeats // 5)))
    return warmup, repeats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gpu_measure", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--models", help="comma-separated zoo names (default: all)")
    ap.add_argument("--batches", help="comma-separated batch sizes overriding each entry's own")
    ap.add_argument("--dtypes", default="fp32,fp16")
    ap.add_argument("--deadline-s", type=float, default=470.0, help="start no new configuration after this")
    ap.add_argument("--time-budget-s", type=float, default=0.4, help="timing budget per configuration")
    ap.add_argument("--max-repeats", type=int, default=50)
    ap.add_argument("--energy-min-s", type=float, default=0.4)
    ap.add_argument("--no-probe", action="store_true")
    ap.add_argument("--mode", choices=sorted(CSV_NAMES), default="eager")
    ap.add_argument("--resume", action="store_true", help="append to an existing CSV, skipping models already in it")
    ap.add_argument("--stop-at-epoch", type=float, help="absolute deadline (Unix time), overrides --deadline-s")
    args = ap.parse_args(argv)

    import torch

    t_start = time.perf_counter()
    deadline = t_start + args.deadline_s
    if args.stop_at_epoch:
        deadline = t_start + (args.stop_at_epoch - time.time())
    args.out.mkdir(parents=True, exist_ok=True)
    if not torch.cuda.is_available():
        print("error: no CUDA device visible to torch", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = False  # eager defaults, recorded in metadata

    _log(f"[{time.perf_counter() - t_start:6.1f}s] probing device")
    if args.no_probe:
        probe = {"device_name": torch.cuda.get_device_name(), "torch_version": torch.__version__,
                 "cuda_version": torch.version.cuda, "cudnn_version": torch.backends.cudnn.version(),
                 **_Nvml(torch.cuda.current_device()).info()}  # driver version etc. for every row
    else:
        probe = probe_cuda()
        probe["date_utc"] = _now()
        (args.out / "probe.json").write_text(json.dumps(probe, indent=1))
        rates = ", ".join(f"{k} {v / 1e12:.1f}T" for k, v in probe["peak_flops_per_s"].items())
        _log(f"  {probe['device_name']}: {rates}; copy {probe['dram_copy_bandwidth_bytes_per_s'] / 1e12:.2f} TB/s; "
             f"launch {probe['launch_queued_s'] * 1e6:.1f} us; errors {probe['gemm_errors']}")

    common = {
        "device_name": probe["device_name"], "driver_version": probe.get("driver_version", ""),
        "torch_version": probe["torch_version"], "cuda_version": probe["cuda_version"],
        "cudnn_version": probe.get("cudnn_version", ""),
    }
    names = args.models.split(",") if args.models else [e.name for e in zoo.list_models()]
    dtypes = args.dtypes.split(",")
    fixed_batches = [int(b) for b in args.batches.split(",")] if args.batches else None

    csv_path = args.out / CSV_NAMES[args.mode]
    done: set[str] = set()
    if args.resume and csv_path.exists():
        with csv_path.open(newline="") as f:
            done = {r["model"] for r in csv.DictReader(f)}
        names = [n for n in names if n not in done]
    if args.mode == "graph":  # detectors synchronise with the host: try them last
        names.sort(key=lambda n: zoo.get(n).task == "detection")
    fh = csv_path.open("a" if done else "w", newline="")
    writer = csv.DictWriter(fh, fieldnames=COLUMNS)
    if not done:
        writer.writeheader()
    context_lost = False
    n_ok = n_fail = 0
    skipped: list[str] = []
    failures: list[dict] = []

    for name in names:
        if time.perf_counter() > deadline or context_lost:
            skipped.append(name)
            continue
        entry = zoo.get(name)
        shape = zoo.resolve_shape(name)
        batches = fixed_batches or list(entry.batches)
        base = {
            "model": name, "family": entry.family, "source": entry.source, "task": entry.task,
            "input_kind": entry.input.kind.value, "resolution": shape["resolution"] or "",
            "seq_len": shape["seq_len"] or "", "mode": args.mode, **common,
        }
        try:
            model = zoo.build(name, device="cuda")
        except Exception as exc:  # noqa: BLE001 - record and go on
            err = f"build: {type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
            _log(f"  {name}: {err}")
            for dtype in dtypes:
                for b in batches:
                    writer.writerow({**base, "batch": b, "dtype": dtype, "status": "error", "error": err, "date_utc": _now()})
                    n_fail += 1
            failures.append({"model": name, "error": err})
            fh.flush()
            continue
        for dtype in dtypes:
            torch_dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
            _set_fp32_strict(torch)
            model = model.to(torch_dtype)
            oom_at = None
            for b in batches:
                if time.perf_counter() > deadline:
                    skipped.append(f"{name}/{dtype}/b{b}")
                    continue
                row = {**base, "batch": b, "dtype": dtype, "date_utc": _now(),
                       "onnx_file": zoo.onnx_path(name, b).name,
                       "onnx_export_cmd": f"python -m benchmarks.zoo --export {name} --batch {b} "
                                          + (f"--resolution {shape['resolution']}" if shape["resolution"]
                                             else f"--seq-len {shape['seq_len']}")}
                if oom_at is not None:
                    row.update(status="oom", error=f"skipped: batch {oom_at} already ran out of memory")
                    writer.writerow(row)
                    n_fail += 1
                    continue
                t0 = time.perf_counter()
                try:
                    inputs = zoo.example_inputs(name, b, device="cuda", dtype=torch_dtype)
                    warmup, repeats = _repeats_for(torch, model, inputs, args.time_budget_s, args.max_repeats)
                    m = measure_cuda(model, inputs, warmup=warmup, repeats=repeats, energy_min_s=args.energy_min_s,
                                     cuda_graph=args.mode == "graph")
                    row.update(status="ok", error="", warmup=warmup, **{
                        k: getattr(m, k) for k in (
                            "latency_median_s", "latency_mean_s", "latency_p10_s", "latency_p90_s", "latency_min_s",
                            "latency_std_s", "repeats", "throughput_latency_s", "peak_memory_bytes",
                            "activation_peak_bytes", "weights_bytes", "avg_power_w", "energy_iterations",
                            "energy_window_s")})
                    row["energy_j"] = m.energy_per_inference_j if m.energy_per_inference_j is not None else ""
                    n_ok += 1
                    e_txt = f"{m.energy_per_inference_j * 1e3:.1f} mJ" if m.energy_per_inference_j else "-"
                    _log(f"[{time.perf_counter() - t_start:6.1f}s] {name:30s} {dtype} b{b:<3d} "
                         f"{m.latency_median_s * 1e3:8.3f} ms  peak {m.peak_memory_bytes / 2**20:8.1f} MiB  {e_txt}"
                         f"  ({time.perf_counter() - t0:.1f}s)")
                except torch.cuda.OutOfMemoryError as exc:
                    oom_at = b
                    row.update(status="oom", error=str(exc).splitlines()[0][:200])
                    n_fail += 1
                    _log(f"  {name} {dtype} b{b}: out of memory")
                except Exception as exc:  # noqa: BLE001 - record and go on
                    err = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
                    row.update(status="error", error=err)
                    failures.append({"model": name, "dtype": dtype, "batch": b, "error": err})
                    n_fail += 1
                    _log(f"  {name} {dtype} b{b}: {err}")
                    context_lost = not _context_alive(torch)
                finally:
                    inputs = None
                    if not context_lost:
                        torch.cuda.empty_cache()
                writer.writerow(row)
                fh.flush()
                if context_lost:
                    _log("  CUDA context lost: stopping; rerun with --resume")
                    break
            if context_lost:
                break
        del model
        if not context_lost:
            torch.cuda.empty_cache()
    fh.close()

    meta = {
        "script": "benchmarks/gpu_measure.py",
        "argv": sys.argv[1:],
        "mode": args.mode,
        "resumed_after": sorted(done),
        "context_lost": context_lost,
        "date_utc": _now(),
        "elapsed_s": round(time.perf_counter() - t_start, 1),
        "rows_ok": n_ok,
        "rows_failed": n_fail,
        "skipped_after_deadline": skipped,
        "failures": failures,
        "device": probe,
        "host": {"python": platform.python_version(), "machine": platform.machine(),
                 "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", "")},
        "settings": {
            "fp32": "TF32 off (torch.set_float32_matmul_precision('highest'), cudnn.allow_tf32=False)",
            "fp16": "model.half(); float inputs cast to fp16, token ids stay int64",
            "cudnn_benchmark": False,
            "mode": "eager PyTorch, torch.inference_mode(), no torch.compile, no CUDA graphs" if args.mode == "eager"
                    else "CUDA graph of one inference (torch.cuda.graph), replays timed; torch.inference_mode()",
            "latency": "CUDA events around each inference, synchronised after each; median of `repeats`",
            "repeats_policy": f"about {args.time_budget_s}s of timing per configuration, 10..{args.max_repeats} repeats",
            "peak_memory": "torch.cuda.max_memory_allocated() after reset_peak_memory_stats(), around one inference "
                           "(weights + inputs + activations; caching-allocator reserve not counted)",
            "energy": f"NVML total-energy counter delta over a back-to-back loop of >= {args.energy_min_s}s "
                      "divided by iterations (whole board, idle draw included)",
            "weights": f"random, torch.manual_seed({zoo.SEED}), built on the GPU by benchmarks.zoo.build",
            "hf_attention": zoo.HF_ATTENTION,
            "onnx_match": "each row's onnx_export_cmd exports the same builder at the same batch and "
                          "resolution / seq_len (legacy exporter, opset 17) for prediction-vs-measurement",
        },
        "zoo": [zoo.entry_record(zoo.get(n)) for n in names],
    }
    meta_name = "metadata.json" if args.mode == "eager" else f"metadata-{args.mode}.json"
    if done:
        meta_name = meta_name.replace(".json", f"-resume{int(time.time())}.json")
    (args.out / meta_name).write_text(json.dumps(meta, indent=1, default=str))
    _log(f"done: {n_ok} rows ok, {n_fail} failed, {len(skipped)} skipped after the deadline, "
         f"{meta['elapsed_s']}s -> {csv_path}")
    return EXIT_CONTEXT_LOST if context_lost else 0


def _context_alive(torch) -> bool:
    """Whether the CUDA context still runs work after an error."""
    try:
        torch.cuda.synchronize()
        return torch.ones(1, device="cuda").add(1).item() == 2.0
    except Exception:  # noqa: BLE001 - any failure means the context is gone
        return False


if __name__ == "__main__":
    sys.exit(main())
