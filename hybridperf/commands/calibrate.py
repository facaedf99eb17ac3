"""``hybridperf calibrate --device ID --data DIR``: train and store a device's residual model."""

from __future__ import annotations

import argparse
import sys

from hybridperf.cli import ExitCode
from hybridperf.commands._common import add_format_argument, check_output_path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", "-d", required=True, help="device id the model is for (its spec must exist)")
    p.add_argument("--data", required=True, metavar="DIR",
                   help="calibration directory with features.csv (+ kernel_features.csv), e.g. calibration/ID/")
    p.add_argument("--out", metavar="DIR",
                   help="where to store the model (default: models/ID/ of the user data directory: $HYBRIDPERF_HOME, "
                        "else $XDG_DATA_HOME/hybridperf, else ~/.local/share/hybridperf; predict looks there first)")
    p.add_argument("--few-shot", type=int, metavar="K",
                   help="adapt the model of --base-device with K measurements of --data instead of training from scratch")
    p.add_argument("--base-device", metavar="ID", help="device whose stored model --few-shot adapts")
    p.add_argument("--seed", type=int, default=0, help="seed of LightGBM and of the few-shot sample (default %(default)s)")
    add_format_argument(p)


def run(args: argparse.Namespace) -> ExitCode:
    import json
    from pathlib import Path

    from hybridperf.errors import InputError

    data = Path(args.data)
    if not data.is_dir():
        raise InputError(f"data directory {data} does not exist; collect measurements first (see benchmarks/collect_cpu.py)")
    if (args.few_shot is None) != (args.base_device is None):
        raise InputError("--few-shot K and --base-device ID go together")
    if args.few_shot is not None and args.few_shot < 1:
        raise InputError(f"--few-shot must be >= 1, got {args.few_shot}")
    if args.out:
        check_output_path(args.out, "--out", directory=True)  # before the training, not after

    import numpy as np

    from hybridperf.residual.model import (
        CALIBRATION_PARAMS,
        ResidualModel,
        find_model_dir,
        load_table,
        mape,
        user_model_dir,
    )
    from hybridperf.device.spec import load_spec
    from hybridperf.report.calibration import calibration_text

    spec = load_spec(args.device)
    X, y, groups, families, kt, rows = load_table(data)
    out = Path(args.out) if args.out else user_model_dir() / spec.id
    if args.few_shot is not None:
        base_dir = find_model_dir(args.base_device)
        if base_dir is None:
            raise InputError(f"no stored residual model for {args.base_device}; run hybridperf calibrate --device {args.base_device} first")
        base = ResidualModel.load(base_dir)
        rng = np.random.default_rng(args.seed)
        k = min(args.few_shot, len(y))
        pick = np.sort(rng.choice(len(y), size=k, replace=False))
        model = base.adapt(X[pick], y[pick], device=spec.id)
        rest = np.setdiff1d(np.arange(len(y)), pick)
        metrics = {"k": int(k), "method": model.adaptation_["method"]}
        if len(rest):
            metrics["heldout_mape_pct"] = mape(np.exp(model.predict(X[rest])), np.exp(y[rest]))
            metrics["heldout_roofline_mape_pct"] = mape(np.ones(len(rest)), np.exp(y[rest]))
        model.metrics_ = {**model.metrics_, "few_shot": metrics}
    else:
        model = ResidualModel(**CALIBRATION_PARAMS, seed=args.seed, device=spec.id).fit(
            X, y, kernels=kt, groups=groups, families=families)
        metrics = dict(model.metrics_)
    model.save(out)
    result = {"device": spec.id, "stored": str(out), "rows": int(len(y)), "kernel_rows": int(len(kt.y)) if kt is not None else 0,
              "calibration": model.describe(), "metrics": metrics}
    if args.format == "json":
        sys.stdout.write(json.dumps(result, indent=1, default=float) + "\n")
        return ExitCode.OK
    sys.stdout.write(calibration_text(model, result, metrics, data) + "\n")
    return ExitCode.OK
