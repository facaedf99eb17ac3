"""``hybridperf calibrate`` on a GPU sheet: adapt the zero-shot GPU model to measured models and store it.

::

    hybridperf calibrate --device h100-sxm --runtime torch-cudagraph --data rows.csv [--models DIR]
    hybridperf calibrate --device h100-sxm --runtime torch --measure a.pt2 b.pt2 ... [--dtype fp16]

``--data``: rows already measured (:func:`hybridperf.measure.gpu_calibration.read_rows`); ``--measure``:
``.pt2`` programs measured here with PyTorch on CUDA (exit 2 with one line on stderr when there is none).
Either way the models are priced zero-shot on the sheet, the adaptation is fitted on all of them and
stored as ``<user data dir>/models/<device>/gpu_adaptation-<runtime>.json`` (``predict`` then says
"few-shot adapted on K measured models"), and the held-out (leave-one-out) error is printed.
"""

from __future__ import annotations

import argparse
import sys

from hybridperf.cli import ExitCode


def add_gpu_arguments(p: argparse.ArgumentParser) -> None:
    """The options only a GPU calibration reads (added to ``calibrate``'s parser)."""
    from hybridperf.measure.gpu_calibration import GPU_RUNTIMES

    p.add_argument("--runtime", choices=GPU_RUNTIMES, default=None,
                   help="GPU: the runtime the rows were measured under (torch = eager, torch-cudagraph = CUDA graph "
                        "replay); default torch")
    p.add_argument("--models", metavar="DIR",
                   help="GPU --data: where the rows' onnx_file are (default: the CSV's folder, then ./.zoo)")
    p.add_argument("--dtype", choices=("fp32", "fp16", "bf16"), default="fp32",
                   help="GPU --measure: the precision to run the models in (default %(default)s)")


def is_gpu_calibration(args: argparse.Namespace) -> bool:
    """True when ``--device`` names a GPU sheet (or ``--runtime`` is given)."""
    if getattr(args, "runtime", None) is not None:
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
    """Read or measure, adapt, store, print the held-out error."""
    import json
    from pathlib import Path

    from hybridperf.commands._common import check_output_path, warn_if_adaptation_worse
    from hybridperf.device.spec import load_spec
    from hybridperf.errors import InputError
    from hybridperf.measure.gpu_calibration import adapt_gpu, collect_programs, cuda_unavailable, measure_models, read_rows
    from hybridperf.report.gpu_calibration import gpu_calibration_text

    for opt in ("few_shot", "base_device", "shots"):
        if getattr(args, opt, None) is not None:
            raise InputError(f"--{opt.replace('_', '-')} is for CPU calibration; a GPU calibration adapts on every "
                             "measured model and reports leave-one-out error")
    spec = load_spec(args.device)
    if spec.kind != "gpu":
        raise InputError(f"--runtime {args.runtime} calibrates a GPU; {spec.id} is a {spec.kind}")
    runtime = args.runtime or "torch"
    if args.out:
        check_output_path(args.out, "--out", directory=True)
    skipped: list[tuple[str, str]] = []
    if args.measure is not None:
        why = cuda_unavailable()
        if why:  # before anything is analysed: one line, exit 2
            raise InputError(f"--measure on {spec.id} needs PyTorch with CUDA here ({why}; onnxruntime --measure "
                             "calibrates CPUs): measure on the GPU machine or pass measured rows with --data FILE.csv")
        rows = measure_models(collect_programs(args.measure), runtime, args.dtype,
                              on_measured=lambda k, s: print(f"calibrate: {k}: {s * 1e3:.3f} ms", file=sys.stderr, flush=True))
    else:
        rows, skipped = read_rows(args.data, args.models)
    if len(rows) < 2:
        raise InputError(f"{len(rows)} usable measured model(s) in {args.data or 'the measurements'}; a GPU calibration "
                         f"needs at least 2" + (f" ({len(skipped)} skipped, e.g. {skipped[0][0]}: {skipped[0][1]})" if skipped else ""))
    verbose = getattr(args, "verbose", False)
    res = adapt_gpu(rows, spec, runtime,
                    on_analysed=(lambda k: print(f"calibrate: analysing {k}", file=sys.stderr, flush=True)) if verbose else None)
    path = res.model.save_adaptation(spec.id, Path(args.out) if args.out else None)
    result = {"device": spec.id, "runtime": runtime, "stored": str(path), "adapted_on": res.n,
              "skipped": [{"key": k, "why": w} for k, w in (*skipped, *res.skipped)],
              "heldout_mape_pct": {"zero_shot": res.zero_shot_mape_pct, "adapted": res.held_out_mape_pct},
              "per_model": [dict(zip(("key", "measured_s", "zero_shot_s", "adapted_s"), r)) for r in res.per_model]}
    warn_if_adaptation_worse(result["heldout_mape_pct"])
    if args.format == "json":
        sys.stdout.write(json.dumps(result, indent=1, default=float) + "\n")
        return ExitCode.OK
    sys.stdout.write(gpu_calibration_text(result) + "\n")
    return ExitCode.OK

