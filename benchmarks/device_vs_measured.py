"""What a user gets on this machine: ``hybridperf predict-many`` on a device against a calibration directory.

Runs the installed CLI (``hybridperf predict-many MODELS --device D --format csv``, as a user would) on the ONNX
files of a calibration directory's ``measurements.csv`` (its ``model`` column) and scores the predictions against
the measured label of every CPU model, the fastest timed run (``latency_min_s``). Configurations whose
activations collapse to subnormal floats are left out, as in :mod:`benchmarks.cpu_cross_host`. The rows of
several directories of the same configurations (a run and its retest) are averaged in log space first, and the
test-retest between the first two is printed beside the error.

Usage (pin to the cores the measurements used; ``--device host`` probes this machine once, with as many threads as
the process may use)::

    taskset -c 1 python -m benchmarks.device_vs_measured --data calibration/host-epyc-zen5-1c-r2 \\
        calibration/host-epyc-zen5-1c-r2-retest --device host --device host-epyc-zen5-1c

``--predictions FILE`` scores a stored ``predict-many --format csv`` output instead of running the CLI (its rows'
``device`` column names the device): predictions written down before the measurements, so that what is scored is
what the tool said before any model was timed (``calibration/host-xeon480-2c/zero_shot_predictions.csv``, since
2026-12-06).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measured(dirs: list[Path], exclude: frozenset[str]) -> tuple[dict[str, float], dict[str, list[float]]]:
    """``(model path -> geometric mean of the directories' fastest runs, model path -> each directory's)``."""
    runs: dict[str, list[float]] = {}
    for d in dirs:
        with (d / "measurements.csv").open() as f:
            for r in csv.DictReader(f):
                if r["key"] not in exclude:
                    runs.setdefault(r["model"], []).append(float(r["latency_min_s"]))
    runs = {m: v for m, v in runs.items() if len(v) == len(dirs)}
    return {m: math.exp(sum(math.log(x) for x in v) / len(v)) for m, v in runs.items()}, runs


def predicted(models: list[str], device: str, exe: str) -> dict[str, float | None]:
    """``predict-many`` latency per model on ``device`` (None where its status is not ok or the latency unknown)."""
    out = subprocess.run([exe, "predict-many", *models, "--device", device, "--format", "csv"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return latencies(csv.DictReader(io.StringIO(out)))


def latencies(rows) -> dict[str, float | None]:
    """model -> ``latency_s`` of ``predict-many --format csv`` rows (None where its status is not ok or the latency
    unknown: an empty cell, never 0)."""
    return {r["model"]: float(r["latency_s"]) if r["status"].startswith("ok") and r["latency_s"] else None
            for r in rows}


def stored(path: Path) -> tuple[str, dict[str, float | None]]:
    """``(device, model -> latency_s)`` of a stored ``predict-many --format csv`` output (None where its status is
    not ok or the latency unknown); a file naming several devices is refused."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    devices = {r["device"] for r in rows}
    if len(devices) != 1:
        raise SystemExit(f"{path}: predictions of {len(devices)} devices ({', '.join(sorted(devices))}); store one "
                         "device per file")
    return devices.pop(), latencies(rows)


def stats(pairs: list[tuple[float, float]]) -> tuple[float, float, float]:
    """``(MAPE %, share within +-10 %, median ratio)`` of ``(predicted, measured)`` pairs."""
    errs = [abs(p - y) / y for p, y in pairs]
    return (100 * statistics.fmean(errs), 100 * sum(e <= 0.10 for e in errs) / len(errs),
            statistics.median(p / y for p, y in pairs))


def main(argv: list[str] | None = None) -> int:
    from benchmarks.subnormal_scan import hazard_keys

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", required=True, type=Path, help="calibration directories of one host")
    p.add_argument("--device", action="append", default=[], help="device id to predict on (repeatable)")
    p.add_argument("--predictions", action="append", default=[], type=Path, metavar="CSV",
                   help="a stored `predict-many --format csv` output to score instead of running the CLI "
                        "(repeatable)")
    p.add_argument("--hybridperf", default=shutil.which("hybridperf") or str(Path(sys.executable).parent / "hybridperf"),
                   help="the CLI to run (default: the one beside this Python)")
    p.add_argument("--out", type=Path, help="also write the table to this markdown file")
    p.add_argument("--per-model", type=Path,
                   help="also write each configuration's prediction and measurements to this CSV file "
                        "(model, device, predicted_s, measured_s: the geometric mean, then one column per directory)")
    args = p.parse_args(argv)
    if not args.device and not args.predictions:
        p.error("name a --device to predict on or a stored --predictions file")

    truth, runs = measured(args.data, hazard_keys())
    models = sorted(truth)
    lines = [f"# `hybridperf predict-many` against {', '.join(f'`{d}`' for d in args.data)}", "",
             f"Reproduce: `python -m benchmarks.device_vs_measured --data {' '.join(str(d) for d in args.data)}"
             + "".join(f" --device {d}" for d in args.device)
             + "".join(f" --predictions {f}" for f in args.predictions)
             + (f" --out {args.out}" if args.out else "") + (f" --per-model {args.per_model}" if args.per_model else "")
             + "` (pinned as the measurements were)", "",
             f"{len(models)} configurations (collapsed-activation ones left out); label: the fastest timed run "
             "(geometric mean over the directories).", "",
             "| device | n | MAPE | within ±10 % | median predicted / measured |", "|---|---:|---:|---:|---:|"]
    per_model: list[list[str]] = []
    sources = [(d, None) for d in args.device] + [(None, f) for f in args.predictions]
    for device, file in sources:
        if file is None:
            pred = predicted(models, device, args.hybridperf)
        else:
            name, pred = stored(file)
            missing = [m for m in models if m not in pred]
            if missing:
                raise SystemExit(f"{file}: no prediction of {len(missing)} measured model(s), e.g. {missing[0]}; "
                                 "predict every model of the directories")
            device = name
        label = f"`{device}`" if file is None else f"`{device}` (stored: `{file}`)"
        per_model += [[m, device, "" if pred.get(m) is None else f"{pred[m]:.6g}", f"{truth[m]:.6g}",
                       *(f"{x:.6g}" for x in runs[m])] for m in models]
        pairs = [(pred[m], truth[m]) for m in models if pred.get(m) is not None]
        mape, within, ratio = stats(pairs)
        unknown = len(models) - len(pairs)
        lines.append(f"| {label} | {len(pairs)}{f' ({unknown} unknown)' if unknown else ''} | {mape:.1f} % | "
                     f"{within:.0f} % | {ratio:.3f} |")
    if len(args.data) > 1:
        mape, within, ratio = stats([(v[1], v[0]) for v in runs.values()])
        lines += ["", f"Test-retest (`{args.data[1]}` against `{args.data[0]}`, fastest runs): MAPE {mape:.1f} %, "
                  f"{within:.0f} % within ±10 %, median ratio {ratio:.3f}."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.per_model:
        with args.per_model.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["model", "device", "predicted_s", "measured_s", *(f"measured_s:{d}" for d in args.data)])
            w.writerows(per_model)  # an empty predicted_s: not ok, or its latency unknown
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
