"""onnxruntime's DepthToSpace and SpaceToDepth against the same permutation as a Transpose, timed alone.

TVM converts an ONNX DepthToSpace / SpaceToDepth into reshape -> ``permute_dims`` -> reshape, and that
``permute_dims`` moves the innermost axis: the cost pass would count it for the transpose term
(:mod:`hybridperf.analysis.transpose`) although onnxruntime runs these ops with kernels of its own. This times each
(float32, 1 x 256 x 56 x 56 for DepthToSpace, the inverse shape for SpaceToDepth, block 2) against the same data
movement written as Reshape -> Transpose -> Reshape and against a Transpose of the same 6-D view that keeps the
innermost axis, 1 and 2 threads, shuffled rounds, the fastest of 30 runs after 3 warm-up runs; rows with ``lscpu``
into ``OUT/depth_to_space.csv``. Design input of :data:`hybridperf.frontends.onnx_import.OWN_KERNEL_OPS`.

    nice -n -20 taskset -c 0,1 python -m benchmarks.depth_to_space_cost --out calibration/host-epyc-zen4-transpose \
        --rounds 3 --seed 93
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.ort_alone import (HOST_FIELDS, append_rows, fastest_s, host_columns, medians, shuffled_rounds, start,
                                  thread_counts, timing_options)

N, C, H, W, B = 1, 64, 56, 56, 2
DEEP, WIDE = (N, C * B * B, H, W), (N, C, H * B, W * B)
FIELDS = ["case", "elements", "threads", "runs", "fastest_s", "ns_per_element", *HOST_FIELDS, "round"]


def cases() -> dict[str, tuple[bytes, tuple[int, ...]]]:
    """case -> (ONNX model, input shape)."""
    from onnx import TensorProto, helper

    from hybridperf.measure.probe import _onnx_model

    def model(nodes, ishape, oshape, inits=()):
        return _onnx_model(nodes, [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(ishape))],
                           [helper.make_tensor_value_info("Y", TensorProto.FLOAT, list(oshape))], inits)

    def view(perm, ishape, six, oshape):
        s1 = helper.make_tensor("s1", TensorProto.INT64, [6], list(six))
        s2 = helper.make_tensor("s2", TensorProto.INT64, [4], list(oshape))
        return model([helper.make_node("Reshape", ["X", "s1"], ["a"]),
                      helper.make_node("Transpose", ["a"], ["t"], perm=list(perm)),
                      helper.make_node("Reshape", ["t", "s2"], ["Y"])], ishape, oshape, [s1, s2])

    d2s_view = (N, C, B, B, H, W)
    s2d_view = (N, C, H, B, W, B)
    return {
        "DepthToSpace CRD": (model([helper.make_node("DepthToSpace", ["X"], ["Y"], blocksize=B, mode="CRD")],
                                   DEEP, WIDE), DEEP),
        "DepthToSpace DCR": (model([helper.make_node("DepthToSpace", ["X"], ["Y"], blocksize=B, mode="DCR")],
                                   DEEP, WIDE), DEEP),
        "Transpose as DepthToSpace CRD (0,1,4,2,5,3)": (view((0, 1, 4, 2, 5, 3), DEEP, d2s_view, WIDE), DEEP),
        "SpaceToDepth": (model([helper.make_node("SpaceToDepth", ["X"], ["Y"], blocksize=B)], WIDE, DEEP), WIDE),
        "Transpose as SpaceToDepth (0,3,5,1,2,4)": (view((0, 3, 5, 1, 2, 4), WIDE, s2d_view, DEEP), WIDE),
        "Transpose keeping the innermost axis (0,1,3,2,4,5)": (view((0, 1, 3, 2, 4, 5), DEEP, d2s_view, WIDE), DEEP),
    }


def run(out: Path, threads: Sequence[int], rounds: int, runs: int, seed: int) -> None:
    import numpy as np

    from hybridperf.measure.probe import _ort_session

    host = start(out)
    models = cases()
    rows = []
    for r, case, t, _ in shuffled_rounds(models, threads, rounds, seed):
        model, shape = models[case]
        sess = _ort_session(model, threads=t, spin=False)
        best = fastest_s(sess, {"X": np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}, runs,
                         warmup=3)
        n = int(np.prod(shape))
        rows.append({"case": case, "elements": n, "threads": t, "runs": runs, "fastest_s": f"{best:.4e}",
                     "ns_per_element": f"{best / n * 1e9:.4f}", **host_columns(host), "round": r})
    append_rows(out / "depth_to_space.csv", FIELDS, rows)


def summary(path: Path) -> dict[tuple[str, int], float]:
    """(case, threads) -> median over rounds of its ns per element."""
    return medians(path, lambda r: (r["case"], int(r["threads"])), "ns_per_element")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.depth_to_space_cost", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    timing_options(p, timed_runs=30)
    p.add_argument("--summary", action="store_true", help="print the medians of OUT/depth_to_space.csv, time nothing")
    args = p.parse_args(argv)
    if not args.summary:
        run(args.out, thread_counts(args), args.rounds, args.timed_runs, args.seed)
    for (case, t), ns in summary(args.out / "depth_to_space.csv").items():
        print(f"{case:52s} {t} thread(s) {ns:6.2f} ns per element")
    return 0


if __name__ == "__main__":
    sys.exit(main())
