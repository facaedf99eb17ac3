"""onnxruntime's CPU Einsum against the same products as MatMul, timed alone (plan (13) of CHANGELOG 2026-12-06).

MaxViT-T's 44 Einsum nodes (its attention products, ``B G H I D, B G H J D -> B G H I J`` and
``B G H I J, B G H J D -> B G H I D``) take the same time with 1 and 2 threads in the runs' profiles
(``benchmarks/results/op_thread_scaling.md``), where TVM's import prices them as ``relax.matmul``. This times both
equations at MaxViT's first-stage shape (1 x 64 windows x 2 heads x 49 tokens x 32) as one Einsum node and as the same
product written as MatMul (the key transposed beforehand, outside the timing), 1 and 2 threads, with onnxruntime's
intra-op threads spinning and not, shuffled rounds, fastest of 30 runs after 3 warm-up runs; rows with ``lscpu`` into
``OUT/einsum.csv``; ``--summary`` adds the same shape's Einsum nodes in the Zen 4 profiles. Evaluation and design
input only.

    nice -n -20 taskset -c 0,1 python -m benchmarks.einsum_cost --out calibration/host-epyc-zen4-transpose/einsum \\
        --rounds 3 --seed 94
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.ort_alone import (HOST_FIELDS, append_rows, fastest_s, host_columns, medians, shuffled_rounds, start,
                                  thread_counts, timing_options)

ROOT = Path(__file__).resolve().parents[1]
B, G, H, T, D = 1, 64, 2, 49, 32
#: multiply-adds of each product at this shape (both equations: T x T x D per head and window)
MACS = B * G * H * T * T * D
FIELDS = ["case", "op", "threads", "spin", "runs", "fastest_s", "ps_per_mac", *HOST_FIELDS, "round"]
#: the profiles compared (1 and 2 threads) and the first-stage nodes of the shape timed here
PROFILES = {1: "host-epyc-zen4-1c-unseen", 2: "host-epyc-zen4-2c-unseen"}
STAGE0 = "/blocks.0/"


def models() -> dict[tuple[str, str], tuple[bytes, dict]]:
    """(case, op) -> (ONNX model, inputs)."""
    import numpy as np
    from onnx import TensorProto, helper

    from hybridperf.measure.probe import _onnx_model

    rng = np.random.default_rng(0)
    q, k = (rng.standard_normal((B, G, H, T, D), dtype=np.float32) for _ in range(2))
    p = rng.random((B, G, H, T, T), dtype=np.float32)

    def one(node, ins, out_shape):
        return _onnx_model([node], [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(a.shape))
                                    for n, a in ins.items()],
                           [helper.make_tensor_value_info("Y", TensorProto.FLOAT, list(out_shape))])

    kt = np.ascontiguousarray(np.swapaxes(k, -1, -2))
    scores, context = (B, G, H, T, T), (B, G, H, T, D)
    return {
        ("scores", "Einsum"): (one(helper.make_node("Einsum", ["A", "K"], ["Y"], equation="bghid,bghjd->bghij"),
                                   {"A": q, "K": k}, scores), {"A": q, "K": k}),
        ("scores", "MatMul"): (one(helper.make_node("MatMul", ["A", "K"], ["Y"]), {"A": q, "K": kt}, scores),
                               {"A": q, "K": kt}),
        ("context", "Einsum"): (one(helper.make_node("Einsum", ["P", "V"], ["Y"], equation="bghij,bghjd->bghid"),
                                    {"P": p, "V": k}, context), {"P": p, "V": k}),
        ("context", "MatMul"): (one(helper.make_node("MatMul", ["P", "V"], ["Y"]), {"P": p, "V": k}, context),
                                {"P": p, "V": k}),
    }


def run(out: Path, threads: Sequence[int], rounds: int, runs: int, seed: int) -> None:
    from hybridperf.measure.probe import _ort_session

    host = start(out)
    cases = models()
    rows = []
    for r, (case, op), t, spin in shuffled_rounds(cases, threads, rounds, seed, variants=(True, False)):
        model, feed = cases[(case, op)]
        sess = _ort_session(model, threads=t, spin=spin)
        best = fastest_s(sess, feed, runs, warmup=3)
        del sess  # its spinning threads stop before the next case
        rows.append({"case": case, "op": op, "threads": t, "spin": int(spin), "runs": runs,
                     "fastest_s": f"{best:.4e}", "ps_per_mac": f"{best / MACS * 1e12:.2f}",
                     **host_columns(host), "round": r})
    append_rows(out / "einsum.csv", FIELDS, rows)


def probe_medians(path: Path) -> dict[tuple[str, str, int, int], float]:
    """(case, op, threads, spin) -> median over rounds of its picoseconds per multiply-add."""
    return medians(path, lambda r: (r["case"], r["op"], int(r["threads"]), int(r["spin"])), "ps_per_mac")


def profile_medians() -> dict[tuple[str, int], float]:
    """(case, threads) -> median over MaxViT-T's first-stage Einsum nodes in the Zen 4 profiles of picoseconds per
    multiply-add (``Einsum`` nodes: scores, ``Einsum_1``: context)."""
    from benchmarks.retest_cpu import csv_rows

    out: dict[tuple[str, int], list[float]] = {}
    for t, run in PROFILES.items():
        for r in csv_rows(ROOT / "calibration" / run / "profile.csv"):
            if r["key"] == "maxvit_t_b1_224" and r["op_type"] == "Einsum" and r["graph_node"].startswith(STAGE0):
                case = "context" if r["graph_node"].endswith("Einsum_1") else "scores"
                out.setdefault((case, t), []).append(float(r["duration_s"]) / MACS * 1e12)
    return {k: statistics.median(v) for k, v in out.items()}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.einsum_cost", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    timing_options(p, timed_runs=30)
    p.add_argument("--summary", action="store_true", help="print the medians of OUT/einsum.csv, time nothing")
    args = p.parse_args(argv)
    if not args.summary:
        run(args.out, thread_counts(args), args.rounds, args.timed_runs, args.seed)
    prof = profile_medians()
    for (case, op, t, spin), ps in probe_medians(args.out / "einsum.csv").items():
        extra = f"   profile {prof[(case, t)]:.1f}" if op == "Einsum" and (case, t) in prof else ""
        print(f"{case:8s} {op:7s} {t} thread(s) spin {spin}: {ps:6.1f} ps per multiply-add{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
