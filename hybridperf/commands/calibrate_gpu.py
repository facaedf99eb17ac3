"""``hybridperf calibrate`` on a GPU sheet: adapt the zero-shot GPU model to measured models and store it.

::

    hybridperf calibrate --device h100-sxm --runtime torch-cudagraph --data rows.csv [--models DIR]
    hybridperf calibrate --device h100-sxm --runtime torch --measure a.pt2 b.pt2 ... [--dtype fp16]

``--data``: rows already measured (:func:`hybridperf.measure.gpu_calibration.read_rows`); ``--measure``:
``.pt2`` programs measured here with PyTorch on CUDA (exit 2 with one line on stderr when there is none).
Either way the models are priced zero-shot on the sheet, the adaptation is fitted on all of them and
stored whole (a rename) as ``<user data dir>/models/<device>/gpu_adaptation-<runtime>.json``, saying what it
replaced (``predict`` then says "few-shot adapted on K measured models", or stays zero-shot where the adaptation
kept no correction), and the held-out (leave-one-out) error is printed. ``--runtime`` defaults to the one the CSV's
``mode`` column names; rows of the other runtime are left out and listed. Where the result would be stored is
checked before any work.
"""

from __future__ import annotations

import argparse
import sys

from hybridperf.cli import ExitCode
from hybridperf.commands.calibrate_options import refuse_unread, stored_in
from hybridperf.errors import InputError


def add_gpu_arguments(p: argparse.ArgumentParser) -> None:
    """The options only a GPU calibration reads (added to ``calibrate``'s parser)."""
    from hybridperf.commands._common import StoreOnce
    from hybridperf.measure.gpu_calibration import GPU_RUNTIMES

    p.add_argument("--runtime", choices=GPU_RUNTIMES, default=None, action=StoreOnce,
                   help="GPU: the runtime the rows were measured under (torch = eager, torch-cudagraph = CUDA graph "
                        "replay); default: the one the CSV's mode column names, else torch")
    p.add_argument("--models", metavar="DIR", action=StoreOnce,
                   help="GPU --data: the folder of the rows' onnx_file (default: the CSV's folder; then ./.zoo, a source "
                        "checkout's model zoo)")
    p.add_argument("--dtype", choices=("fp32", "fp16", "bf16"), default=None, action=StoreOnce,
                   help="GPU --measure: the precision to run the models in (default fp32; --data rows carry their own)")


def is_gpu_calibration(args: argparse.Namespace) -> bool:
    """True when ``--device`` names a GPU sheet, ``--runtime`` is given, or ``--data`` is a file (a CSV of measured
    rows: only a GPU calibration reads one; the GPU path names what is wrong with a CPU or unknown device)."""
    from pathlib import Path

    if getattr(args, "runtime", None) is not None:
        return True
    if getattr(args, "data", None) is not None and Path(args.data).is_file():
        return True
    from hybridperf.device.spec import load_spec
    from hybridperf.measure.host import HOST_ID

    if str(args.device) == HOST_ID:
        return False
    try:
        return load_spec(args.device).kind == "gpu"
    except Exception:  # an unknown device: the CPU path reports it with its own message
        return False


def run_gpu(args: argparse.Namespace) -> ExitCode:
    """Refuse what does not apply, read or measure, adapt, store (saying what it replaced), print the held-out error."""
    from hybridperf.commands._common import check_output_path, native_stderr_silenced, warn_if_adaptation_worse
    from hybridperf.measure.gpu_calibration import (
        adapt_gpu,
        check_measured_on,
        collect_programs,
        cuda_unavailable,
        measure_models,
        read_rows,
        select_runtime,
    )
    from hybridperf.measure.host import check_writable
    from hybridperf.report.gpu_calibration import gpu_calibration_text
    from hybridperf.residual.zero_shot import adaptation_file

    # the CPU calibration's options and the other GPU flow's, --rounds, --seed: until 2026-12-04 taken and ignored
    refuse_unread(args, "gpu-measure" if args.measure is not None else "gpu-data")
    spec = _gpu_sheet(args)
    if args.out:
        check_output_path(args.out, "--out", directory=True)
    out = stored_in(spec.id, args.out)[0]
    check_writable(out, f"the GPU adaptation of {spec.id}")  # before anything is read, analysed or measured
    skipped: list[tuple[str, str]] = []
    if args.measure is not None:
        runtime = args.runtime or "torch"
        why = cuda_unavailable()
        if why:  # before anything is analysed: one line, exit 2
            raise InputError(f"--measure on {spec.id} needs PyTorch with CUDA here ({why}; onnxruntime --measure "
                             "calibrates CPUs): measure on the GPU machine or pass measured rows with --data FILE.csv")
        rows = measure_models(collect_programs(args.measure), runtime, args.dtype or "fp32",
                              on_measured=lambda k, s: print(f"calibrate: {k}: {s * 1e3:.3f} ms", file=sys.stderr, flush=True))
    else:
        rows, skipped = read_rows(args.data, args.models, args.runtime)
        runtime, rows, other = select_runtime(rows, args.runtime, str(args.data))
        skipped += other
        check_measured_on(rows, spec, str(args.data))  # before the analysis: rows of another GPU adapt nothing right
    if len(rows) < 2:
        raise InputError(f"{len(rows)} usable measured model(s) in {args.data or 'the measurements'}; a GPU calibration "
                         f"needs at least 2" + (f" ({len(skipped)} skipped, e.g. {skipped[0][0]}: {skipped[0][1]})" if skipped else "")
                         + ": measure more models, or add their rows to the --data file")
    verbose = getattr(args, "verbose", False)
    with native_stderr_silenced(not verbose):  # TVM's C++ warnings while analysing (as predict does)
        res = adapt_gpu(rows, spec, runtime,
                        on_analysed=(lambda k: print(f"calibrate: analysing {k}", file=sys.stderr, flush=True)) if verbose else None)
    replaced = _stored_before(out / adaptation_file(runtime))
    path = res.model.save_adaptation(spec.id, out, sheet=spec)  # the sheet's figures: an edit of them is said later
    result = {"device": spec.id, "runtime": runtime, "stored": str(path), "replaced": replaced, "adapted_on": res.n,
              "corrected": res.corrected,
              "skipped": [{"key": k, "why": w} for k, w in (*skipped, *res.skipped)],
              "heldout_mape_pct": {"zero_shot": res.zero_shot_mape_pct, "adapted": res.held_out_mape_pct},
              "per_model": [dict(zip(("key", "measured_s", "zero_shot_s", "adapted_s"), r)) for r in res.per_model]}
    warn_if_adaptation_worse(result["heldout_mape_pct"],
                             f"and check that every row was measured on {spec.id} under {runtime}")
    if args.format == "json":
        from hybridperf.json_text import dumps

        sys.stdout.write(dumps(result, indent=1, nonfinite_as_null=True) + "\n")
        return ExitCode.OK
    sys.stdout.write(gpu_calibration_text(result) + "\n")
    return ExitCode.OK


def _gpu_sheet(args: argparse.Namespace):
    """The GPU sheet of ``--device``; one line naming the fix for this machine, a CPU sheet or an unknown id."""
    from hybridperf.device.spec import load_spec
    from hybridperf.measure.host import HOST_ID

    what = f"--runtime {args.runtime}" if args.runtime else f"--data {args.data} (a file of measured rows)"
    if str(args.device) == HOST_ID:  # load_spec said "unknown device 'host'"
        raise InputError(f"{what} calibrates a GPU; host is this machine's CPU: name a GPU sheet (hybridperf devices), "
                         "or calibrate host with --measure MODEL.onnx ...")
    spec = load_spec(args.device)
    if spec.kind != "gpu":
        fix = "" if args.runtime else "; a CPU sheet's --data is a calibration directory (features.csv)"
        raise InputError(f"{what} calibrates a GPU; {spec.id} is a {spec.kind}{fix}")
    return spec


def _stored_before(path) -> dict | None:
    """What a calibration is about to replace at ``path``: ``{"adapted_on", "saved_on"}`` (None: nothing;
    unknown values None where the file is unreadable, or its count or date is not one: until 2026-12-05 a count of
    ``"four"`` or ``NaN`` was printed as the models the replaced adaptation was fitted on)."""
    import json

    from hybridperf.residual.sidecar import number

    if not path.exists():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        saved = meta.get("saved_on")
        return {"adapted_on": number(meta, "adapted_on", low=1, integer=True, optional=True),
                "saved_on": saved if isinstance(saved, str) else None}
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, RecursionError):
        return {"adapted_on": None, "saved_on": None}
