"""The block cache changes no figure: block-composed and whole-model analyses compared field by field.

For every ONNX export in the zoo (``.zoo/*.onnx``) and ``--variants`` OFA MobileNetV3 variants of
``benchmarks/nas_sweep.py``, analyses each model twice, through a :class:`hybridperf.api.Session`
(the block cache: :mod:`hybridperf.analysis.blocks`) and without any cache (the whole-model path),
and compares every field of the two :class:`~hybridperf.analysis.analyze.Analyzed` records (stage
timings excepted: wall times), the records' attribute and read-var fields that ``==`` skips, and
the ``--device`` prediction of each (latency, energy, peak memory, per-kernel list). Reports how
many models were composed from segments, how many segments, and every difference found.

Usage::

    taskset -c 0 python -m benchmarks.block_cache_equality --variants 50 --md benchmarks/results/block_cache_equality.md
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

ZOO = Path(os.environ.get("HYBRIDPERF_ZOO", "/work/main/.zoo"))


def differences(whole, composed) -> list[str]:
    """Fields (``Analyzed`` and records) where two analyses differ; empty when identical."""
    a, b = dataclasses.replace(whole, timings_s={}), dataclasses.replace(composed, timings_s={})
    # ``segments`` says where a composed model's segments lie (None when analysed whole): no figure
    out = [f.name for f in dataclasses.fields(a) if f.name != "segments" and getattr(a, f.name) != getattr(b, f.name)]
    ra, rb = whole.analysis.records, composed.analysis.records
    if len(ra) == len(rb):
        for x, y in zip(ra, rb):
            if x.read_vars != y.read_vars or dict(x.attrs) != dict(y.attrs):
                out.append(f"record {x.index} read_vars/attrs")
                break
    return out


def prediction_differences(p, q) -> list[str]:
    """Figures of two predictions that differ (the analysis compared by :func:`differences`)."""
    fields = ("latency_s", "roofline_latency_s", "energy_j", "energy_note", "calibration", "peak_memory_bytes",
              "memory", "warnings")
    out = [f for f in fields if getattr(p, f) != getattr(q, f)]
    if [(k.kernel, k.estimate, k.latency_s, k.calibrated) for k in p.kernels] != \
            [(k.kernel, k.estimate, k.latency_s, k.calibrated) for k in q.kernels]:
        out.append("kernels")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", type=int, default=50, help="OFA MobileNetV3 sweep variants (default %(default)s)")
    ap.add_argument("--zoo", type=Path, default=ZOO, help="folder of *.onnx exports (default %(default)s)")
    ap.add_argument("--max-mb", type=float, default=600.0, help="skip zoo files larger than this (MB)")
    ap.add_argument("--device", default="host-epyc-1c")
    ap.add_argument("--md", type=Path)
    args = ap.parse_args(argv)
    cores = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    cmd = f"taskset -c {cores} python -m benchmarks.block_cache_equality " + " ".join(
        argv if argv is not None else sys.argv[1:])

    import onnx

    from benchmarks.nas_sweep import build, variants
    from hybridperf import api
    from hybridperf.errors import InputError

    session = api.Session(keep_analyses=0)
    rows: list[tuple[str, str, int, int, str]] = []
    scratch = Path(tempfile.mkdtemp(prefix="hybridperf-blocks-"))
    paths = [(p.name, p) for p in sorted(args.zoo.glob("*.onnx"))]
    for i, arch in enumerate(variants(args.variants, 0)):
        p = scratch / f"v{i:03d}.onnx"
        onnx.save(build(arch, seed=i), str(p))
        paths.append((f"sweep {arch.key}", p))
    t0 = time.perf_counter()
    for label, p in paths:
        if p.stat().st_size > args.max_mb * 1e6:
            rows.append((label, "skipped (size)", 0, 0, ""))
            continue
        stats0 = session.cache.blocks.stats()
        try:
            whole = api.analyze(str(p))
        except (InputError, Exception) as exc:  # noqa: BLE001 - a model neither path analyses
            try:
                session.analyze(str(p))
                rows.append((label, "whole path fails, composed does not", 0, 0, type(exc).__name__))
            except Exception as exc2:  # noqa: BLE001
                same = type(exc2) is type(exc) and str(exc2) == str(exc)
                rows.append((label, "both fail" + (" (same error)" if same else " (DIFFERENT errors)"), 0, 0,
                             type(exc).__name__))
            continue
        composed = session.analyze(str(p))
        stats1 = session.cache.blocks.stats()
        cut = stats1["block_models_composed"] > stats0["block_models_composed"]
        used = (stats1["block_hits"] + stats1["block_misses"]) - (stats0["block_hits"] + stats0["block_misses"])
        segs = used if cut else 0
        diff = differences(whole, composed)
        if not diff:
            diff = prediction_differences(api.predict_on(whole, args.device), session.predict_on(composed, args.device))
        how = "composed" if cut else ("fallback" if stats1["block_fallbacks"] > stats0["block_fallbacks"] else "whole")
        rows.append((label, how, segs, stats1["block_misses"] - stats0["block_misses"], ", ".join(diff) or "identical"))
        print(rows[-1], file=sys.stderr, flush=True)
        if p.parent == scratch:
            p.unlink()
    scratch.rmdir() if not any(scratch.iterdir()) else None
    wall = time.perf_counter() - t0
    checked = [r for r in rows if r[1] in ("composed", "fallback", "whole")]
    composed_rows = [r for r in checked if r[1] == "composed"]
    bad = [r for r in rows if r[4] not in ("identical", "") and not r[1].startswith("both fail (same")
           and r[1] != "skipped (size)"]
    lines = [
        "# Block cache equality (issue 14.2)", "", f"Command: `{cmd}`", "",
        f"Every model analysed through a `Session` (block cache) and without a cache (whole-model path); "
        f"every `Analyzed` field (stage timings excepted), the records' attrs and read vars, and the "
        f"`{args.device}` prediction compared. {wall:.0f} s in all.", "",
        f"- models compared: {len(checked)} ({sum(1 for r in checked if not r[0].startswith('sweep'))} zoo exports, "
        f"{sum(1 for r in checked if r[0].startswith('sweep'))} sweep variants)",
        f"- composed from segments: {len(composed_rows)} ({sum(r[2] for r in composed_rows)} segments, "
        f"{sum(r[3] for r in composed_rows)} of them new to the cache); no safe cut (whole-model path): "
        f"{sum(1 for r in checked if r[1] == 'whole')}; a segment outside the composed cases (whole-model path): "
        f"{sum(1 for r in checked if r[1] == 'fallback')}",
        f"- identical: {sum(1 for r in checked if r[4] == 'identical')} of {len(checked)}; differences: "
        f"{len(bad)}{' (listed below)' if bad else ''}",
        f"- caches at the end: {session.stats()}", "",
        "| model | path | segments | new segments | result |", "|---|---|---:|---:|---|",
    ]
    lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |" for r in rows]
    text = "\n".join(lines) + "\n"
    if args.md:
        args.md.write_text(text)
    print(text)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
