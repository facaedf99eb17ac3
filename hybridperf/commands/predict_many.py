"""``hybridperf predict-many DIR --device ID [--jobs N] [--batch N] [--format table|json]``.

Predicts every ``*.onnx`` and ``*.tflite`` under DIR (recursively, sorted by
path) on one device, in parallel: a ``ProcessPoolExecutor`` of ``--jobs``
workers (default: every core this process may run on), each importing TVM once when it starts. ``--jobs 1`` runs in this
process. A progress bar goes to stderr when stderr is a terminal.

One row per model: latency, energy, peak memory, FLOPs, and a status: ``ok``,
``lower bound`` (some ops have no cost rule: the figures are lower bounds, the
ops are named) or the error message. Warnings (a batch the model cannot take,
a peak above the device's memory) go to stderr and into the JSON rows.

Exit code: 0 when at least one model was predicted, even if others failed
(their error rows say why); 2 when every model failed, DIR holds no model file,
or an argument is bad (unknown device: before any work starts). With
``--fail-on-error`` (for CI) any failed model exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from hybridperf.cli import ExitCode
from hybridperf.precision import OVERRIDES
from hybridperf.commands._common import add_format_argument
from hybridperf.errors import InputError, error_line

#: file suffixes predicted (lower case); other files are ignored
MODEL_SUFFIXES = (".onnx", ".tflite")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", metavar="DIR", help="directory searched recursively for .onnx and .tflite files")
    p.add_argument("--device", "-d", required=True, help="device id from `hybridperf devices` or a spec file")
    p.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: every usable core; 1 = in this process)")
    p.add_argument("--batch", type=int, help="bind a symbolic leading (batch) dimension of every input")
    p.add_argument("--precision", choices=OVERRIDES, help="run float32 ops at this precision")
    p.add_argument("--no-fuse", action="store_true", help="one kernel per op instead of TVM's FuseOps grouping")
    p.add_argument(
        "--fail-on-error",
        action="store_true",
        help="exit 2 when any model fails (default: exit 0 when at least one model was predicted, 2 when none was)",
    )
    add_format_argument(p)


def find_models(directory: str | Path) -> list[Path]:
    d = Path(directory)
    if not d.exists():
        raise InputError(f"directory not found: {d}; check the path")
    if not d.is_dir():
        raise InputError(f"{d} is not a directory; use `hybridperf predict` for one model file")
    return sorted(p for p in d.rglob("*") if p.suffix.lower() in MODEL_SUFFIXES and p.is_file())


def usable_cores() -> int:
    """Cores this process may run on (respects taskset/cgroup CPU sets), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _init_worker() -> None:
    """Import TVM once per worker process."""
    from hybridperf.ir.tvm_compat import tvm_modules

    tvm_modules()


def predict_row(path: str, spec_ref: str, batch: int | None, precision: str | None, fused: bool) -> dict[str, Any]:
    """Predict one model; never raises (an error becomes the row's ``error``)."""
    from hybridperf.errors import InputError as _InputError

    t0 = time.perf_counter()
    row: dict[str, Any] = {"model": path, "status": "ok", "error": None}
    try:
        from hybridperf.analysis.analyze import analyze
        from hybridperf.api import predict_on
        from hybridperf.device.spec import load_spec

        from hybridperf.report.text import lower_bound_text

        pred = predict_on(analyze(path, None, batch, fused=fused), load_spec(spec_ref), precision)
        row.update(
            latency_s=pred.latency_s,
            energy_j=pred.energy_j,
            peak_memory_bytes=pred.peak_memory_bytes,
            flops=pred.flops,
            calibration=pred.calibration,
            lower_bound=lower_bound_text(pred) or None,
            warnings=list(pred.warnings),
        )
        if not pred.complete:
            row["status"] = "lower bound"
    except _InputError as exc:
        row.update(status="error", error=error_line(exc))
    except Exception as exc:  # noqa: BLE001 - one bad model must not stop the others
        row.update(status="error", error=f"internal error: {type(exc).__name__}: {error_line(exc, 200)}")
    row["wall_s"] = time.perf_counter() - t0
    return row


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.device.spec import load_spec
    from hybridperf.report.many import to_json, to_table
    from hybridperf.report.progress import ProgressBar

    if args.jobs is not None and args.jobs <= 0:
        raise InputError(f"--jobs must be a positive integer, got {args.jobs}")
    if args.batch is not None and args.batch <= 0:
        raise InputError(f"--batch must be a positive integer, got {args.batch}")
    spec = load_spec(args.device)  # a bad device fails before any work
    spec_ref = spec.path or args.device
    models = find_models(args.directory)
    if not models:
        raise InputError(f"no .onnx files under {args.directory} (and no .tflite files)")
    jobs = min(args.jobs or usable_cores(), len(models))
    progress = ProgressBar(len(models))
    call = (args.batch, args.precision, not args.no_fuse)
    rows: dict[str, dict[str, Any]] = {}
    try:
        if jobs == 1:
            for m in models:
                rows[str(m)] = predict_row(str(m), spec_ref, *call)
                progress.step(m.name[:40])
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            # spawn: workers never inherit a half-initialised TVM (thread pools) from a parent that imported it
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker) as pool:
                futures = {pool.submit(predict_row, str(m), spec_ref, *call): str(m) for m in models}
                for fut in as_completed(futures):
                    rows[futures[fut]] = fut.result()
                    progress.step(Path(futures[fut]).name[:40])
    finally:
        progress.close()
    ordered = [rows[str(m)] for m in models]
    out = to_json(ordered, spec.id) if args.format == "json" else to_table(ordered, spec.id)
    sys.stdout.write(out + "\n")
    for r in ordered:
        for w in r.get("warnings") or ():
            print(f"hybridperf: warning: {r['model']}: {w}", file=sys.stderr)
    failed = sum(1 for r in ordered if r["status"] == "error")
    if failed == len(ordered):
        return ExitCode.INPUT_ERROR
    if failed and args.fail_on_error:
        print(f"hybridperf: error: {failed} of {len(ordered)} models failed (--fail-on-error)", file=sys.stderr)
        return ExitCode.INPUT_ERROR
    return ExitCode.OK
