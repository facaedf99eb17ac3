"""Which measured CPU configurations time subnormal assists instead of the model.

For every configuration in ``calibration/*/measurements.csv`` whose export is under ``.zoo/``, run it
once on the inputs its measurement used and count the subnormal float32 values entering its
multiply-add nodes (:func:`hybridperf.measure.subnormal.scan_inputs`). Writes
``benchmarks/results/subnormal_scan.csv`` (one row per configuration, read by
``benchmarks.cpu_cross_host`` to leave the hazardous ones out) and prints a markdown table of the
configurations with any subnormal value.

    taskset -c 0 python -m benchmarks.subnormal_scan > benchmarks/results/subnormal_scan.md
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from hybridperf.measure.subnormal import MOSTLY, scan_inputs

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "subnormal_scan.csv"
FIELDS = ["model", "input_shapes", "keys", "hosts", "nodes", "values", "subnormal", "share", "mean_node_share",
          "nodes_mostly_subnormal", "worst_node", "worst_node_share", "hazard"]


def parse_shapes(text: str) -> dict[str, tuple[int, ...]]:
    """``a=1x3x224x224;b=1x128`` -> {name: shape}."""
    out = {}
    for part in filter(None, text.split(";")):
        name, dims = part.rsplit("=", 1)
        out[name] = tuple(int(d) for d in dims.split("x"))
    return out


def configurations(calibration: Path) -> dict[tuple[str, str], tuple[set[str], set[str]]]:
    """(model path, input shapes) -> (the rows' keys, the calibration directories that measured it)."""
    configs: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    for path in sorted(calibration.glob("*/measurements.csv")):
        with path.open() as f:
            for row in csv.DictReader(f):
                if row.get("model") and row.get("input_shapes"):
                    keys, hosts = configs.setdefault((row["model"], row["input_shapes"]), (set(), set()))
                    keys.add(row["key"])
                    hosts.add(path.parent.name)
    return configs


def hazard_keys(path: Path = OUT) -> frozenset[str]:
    """Measurement keys (``measurements.csv`` / ``features.csv`` ``key``) of the configurations whose scan is a hazard."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python -m benchmarks.subnormal_scan` first")
    with path.open() as f:
        return frozenset(k for r in csv.DictReader(f) if r["hazard"] == "1" for k in r["keys"].split("|"))


def _earlier(path: Path) -> dict[tuple[str, str], dict]:
    """(model, input shapes) -> row of an earlier scan in ``path`` ({} without one): a rerun on a machine without every
    export keeps those rows instead of dropping their hazards."""
    if not path.exists():
        return {}
    with path.open() as f:
        return {(r["model"], r["input_shapes"]): r for r in csv.DictReader(f)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibration", type=Path, default=ROOT / "calibration")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    rows, missing, kept = [], [], []
    earlier = _earlier(args.out)
    for (model, shapes), (keys, hosts) in sorted(configurations(args.calibration).items()):
        path = ROOT / model
        if not path.exists():
            if (model, shapes) in earlier:  # scanned before where its export was: kept, not dropped
                rows.append({**earlier[model, shapes], "keys": "|".join(sorted(keys)), "hosts": "|".join(sorted(hosts))})
                kept.append(model)
            else:
                missing.append(model)
            continue
        s = scan_inputs(path, parse_shapes(shapes))
        rows.append({"model": model, "input_shapes": shapes, "keys": "|".join(sorted(keys)),
                     "hosts": "|".join(sorted(hosts)), "nodes": s.nodes, "values": s.values, "subnormal": s.subnormal,
                     "share": f"{s.share:.6f}", "mean_node_share": f"{s.mean_node_share:.6f}",
                     "nodes_mostly_subnormal": s.nodes_mostly_subnormal, "worst_node": s.worst_node,
                     "worst_node_share": f"{s.worst_node_share:.4f}", "hazard": int(s.hazard)})
        print(f"{model} {s.describe()}", file=sys.stderr, flush=True)
    with args.out.open("w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        w.writerows(rows)
    print("# Subnormal activations in the measured CPU configurations\n")
    print("Command: `taskset -c 0 python -m benchmarks.subnormal_scan > benchmarks/results/subnormal_scan.md`; "
          f"every row: `{args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}`. "
          f"Hazard: at least one multiply-add node whose activation inputs are more than {MOSTLY * 100:g} % subnormal "
          "(collapsed activations, `hybridperf.measure.subnormal`); such configurations are left out of the CPU "
          "training and scoring tables (`benchmarks.cpu_cross_host`).\n")
    hit = [r for r in rows if int(r["subnormal"])]
    print(f"{len(rows) - len(kept)} configurations scanned, {len(kept)} without an export under .zoo/ kept from the "
          f"earlier scan in the output file, {len(missing)} without either (not scanned); "
          f"{len(hit)} with any subnormal value, {sum(int(r['hazard']) for r in rows)} hazards.\n")
    print("| model | input shapes | mean node share | share of all values | nodes mostly subnormal / read | "
          "worst node (share) | hazard | measured on |")
    print("|---|---|---:|---:|---:|---|---|---|")
    for r in sorted(hit, key=lambda r: -float(r["mean_node_share"])):
        print(f"| {Path(r['model']).name} | {r['input_shapes']} | {float(r['mean_node_share']) * 100:.2f} % | "
              f"{float(r['share']) * 100:.2f} % | "
              f"{r['nodes_mostly_subnormal']} / {r['nodes']} | {r['worst_node']} ({float(r['worst_node_share']) * 100:.0f} %) | "
              f"{'yes' if int(r['hazard']) else 'no'} | {r['hosts'].replace('|', ', ')} |")
    if missing:
        print(f"\nNot scanned (no export): {', '.join(sorted(missing))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
