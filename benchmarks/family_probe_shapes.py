"""Write the family-probe shapes the package ships (``hybridperf/data/probes/family_probe_shapes.json``).

The shapes are the rows :func:`hybridperf.residual.cross_device.family_probe_rows` picks on NeuSight's five GPUs
(``per_family`` shapes of each family's probe op that every GPU measured, at evenly spaced quantiles of their work),
in NeuSight's own dims (:func:`hybridperf.residual.neusight.op_dims`), so that ``hybridperf probe`` on a CUDA device
times the very calls the cross-device model's benchmarks leave out of their scores and use as probes. How many per
family: ``benchmarks/gpu_ops_probe_density.py`` (inner pairs only).

Usage::

    python -m benchmarks.family_probe_shapes [--per-family 64] [--out hybridperf/data/probes/family_probe_shapes.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.gpu_ops_cross_device import CITATION, DEFAULT_DATA
from hybridperf.files import write_atomic
from hybridperf.residual.cross_device import FAMILY_PROBE_OPS, PROBE_SHAPES_FILE, family_probe_rows, family_probe_work
from hybridperf.residual.neusight import load_ops, op_dims

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "hybridperf" / "data" / "probes" / PROBE_SHAPES_FILE


def probe_shapes(data: Path, per_family: int) -> list[dict]:
    """``[{"op", "dims"}]`` of every family's probe shapes, families in :data:`FAMILY_PROBE_OPS` order, each family's
    shapes by increasing work (the order :func:`family_probe_rows` ranks them in)."""
    out = []
    for op in FAMILY_PROBE_OPS.values():
        rows = load_ops(data, ops=[op])
        picked = family_probe_rows(rows, per_family)
        keys, work = rows.shape_matrix()[picked], family_probe_work(rows)[picked]
        dims = op_dims(data, op)
        seen: dict[tuple, float] = {}
        for k, w in zip(map(tuple, keys.tolist()), work.tolist()):
            seen.setdefault(k, w)
        for k in sorted(seen, key=lambda k: (seen[k], k)):
            out.append({"op": op, "dims": dims[k]})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NeuSight directory (holds ops/)")
    ap.add_argument("--per-family", type=int, default=64)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    shapes = probe_shapes(args.data, args.per_family)
    doc = {
        "per_family": args.per_family,
        "rule": "hybridperf.residual.cross_device.family_probe_rows on NeuSight's five GPUs: per family, the shapes of "
                "its probe op that every GPU measured, at the quantiles (i + 0.5) / per_family of their work (FLOPs "
                "for bmm / linear / conv, bytes otherwise)",
        "command": "python -m benchmarks.family_probe_shapes --per-family " + str(args.per_family),
        "dims": "NeuSight's columns (linear: B x M rows of K in, N out; conv: Kernel_Szie as NeuSight spells it)",
        "data": CITATION,
        "shapes": shapes,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out, json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(shapes)} shapes to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
