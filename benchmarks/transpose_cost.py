"""What onnxruntime's CPU Transpose costs per element, by whether it moves the innermost axis.

The largest miss on a new network, on both CPUs measured (MaxViT-T: -6 to -29 %, ``unseen_networks.md``), sits in
its ``Transpose`` nodes. This reads each run's per-node profile (``profile.csv``: one profiled run of every
configuration, written by ``collect_cpu rounds``) and the exports the rounds timed, and prices every profiled
``Transpose`` node by its permutation in canonical form (size-1 axes dropped, axes that stay adjacent merged):

* **keeps the innermost axis**: the last input axis stays last, so the copy moves contiguous runs;
* **swaps the last two axes**: a (batched) 2-D transpose, ``(..., i, j) -> (..., j, i)``, e.g. a key transposed
  for ``Q x K^T``;
* **moves the innermost axis otherwise**: any other permutation that moves the last input axis, e.g. MaxViT's
  window partitions, which send the channel axis of a 6-D view last.

Per run it prints the time of each class, its elements and time per element, and the networks whose Transposes
move the innermost axis otherwise (seen: in the training plan; unseen: never measured before 2026-12-06). Nodes the profile
names that the export does not (onnxruntime's optimizer made or renamed them) are counted apart. Evaluation and
design input (the classes are :mod:`hybridperf.analysis.transpose`'s, which the cost pass counts).

    taskset -c 0 python -m benchmarks.transpose_cost --probe-dir calibration/host-epyc-zen4-transpose \
        > benchmarks/results/transpose_cost.md

``--probe DIR`` first times the shapes alone (:func:`probe`; 2026-12-06, plan (7) in CHANGELOG):

    nice -n -20 taskset -c 0,1 python -m benchmarks.transpose_cost --probe calibration/host-epyc-zen4-transpose \
        --rounds 3 --seed 90
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from benchmarks.ort_alone import (HOST_FIELDS, append_rows, fastest_s, host_columns, shuffled_rounds, start, thread_counts,
                                  timing_options)
from benchmarks.retest_cpu import csv_rows
from hybridperf.analysis.transpose import KEEPS, MOVES, SWAPS, transpose_class

ROOT = Path(__file__).resolve().parents[1]
#: the runs read by default: the runs of the 88 configurations (72 of the training plan, 16 never measured) on
#: two CPUs, 1 and 2 threads
RUNS = ("host-xeon480-1c-unseen", "host-xeon480-2c-unseen", "host-epyc-zen4-1c-unseen", "host-epyc-zen4-2c-unseen")
COMMAND = ("taskset -c 0 python -m benchmarks.transpose_cost --probe-dir calibration/host-epyc-zen4-transpose "
           "> benchmarks/results/transpose_cost.md")
def export_transposes(path: Path) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Transpose node name -> (input shape, perm) of an ONNX export. Shapes come from ONNX shape inference where it
    resolves them, else from one onnxruntime run of the unoptimised graph with those inputs made outputs (inputs as
    ``hybridperf measure`` fills them): exports whose Reshapes take computed shapes (Hugging Face's MobileViT) leave
    every Transpose's input shape unknown to shape inference. Until 2026-12-06 23:00 UTC such nodes were left out
    (and the report counted them as "not in the export"), which hid MobileViT's Transposes that move the
    innermost axis."""
    import onnx
    from onnx import helper, shape_inference

    model = onnx.load(str(path))
    inferred = shape_inference.infer_shapes(model).graph
    infos = {v.name: v.type.tensor_type for v in (*inferred.value_info, *inferred.input, *inferred.output)}
    shapes = {name: tuple(d.dim_value if d.HasField("dim_value") else 0 for d in t.shape.dim)
              for name, t in infos.items()}
    nodes = [n for n in model.graph.node if n.op_type == "Transpose"]
    unknown = sorted({n.input[0] for n in nodes if not shapes.get(n.input[0]) or 0 in shapes[n.input[0]]})
    if unknown:
        import onnxruntime as ort

        from hybridperf.measure.onnxruntime import model_inputs

        outputs = {o.name for o in model.graph.output}
        for name in unknown:
            if name not in outputs:
                elem = infos[name].elem_type if name in infos else onnx.TensorProto.FLOAT
                model.graph.output.append(helper.make_tensor_value_info(name, elem, None))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        values = sess.run(unknown, model_inputs(path, None, None)[0])
        shapes.update({name: tuple(v.shape) for name, v in zip(unknown, values)})
    out = {}
    for n in nodes:
        shape = shapes.get(n.input[0])
        if not shape or 0 in shape:
            continue
        perm = next((tuple(a.ints) for a in n.attribute if a.name == "perm"), tuple(reversed(range(len(shape)))))
        out[n.name] = (shape, perm)
    return out


def run_table(run: Path, exports: dict[str, dict], seen_networks: frozenset[str]) -> tuple[list[list[str]], list[list[str]]]:
    """One run: the class rows (class, nodes, elements, ms, ns per element, median node ns per element) and the
    networks whose Transposes move the innermost axis otherwise (configuration, seen, nodes, ms, share of the measured
    fastest run, ns per element)."""
    measured = {r["key"]: r for r in csv_rows(run / "measurements.csv")}
    per_node: dict[tuple[str, str], float] = defaultdict(float)
    for r in csv_rows(run / "profile.csv"):
        if r["op_type"] == "Transpose":
            per_node[(r["key"], r["graph_node"])] += float(r["duration_s"])
    totals: dict[str, list] = defaultdict(lambda: [0.0, 0, 0, []])  # seconds, elements, nodes, per-node ns
    nets: dict[str, list] = defaultdict(lambda: [0, 0.0, 0])
    for (key, node), t in per_node.items():
        nodes = exports.get(measured[key]["model"], {})
        if node not in nodes:
            cls = "not in the export (made or renamed by onnxruntime)"
            elements = 0
        else:
            shape, perm = nodes[node]
            cls = transpose_class(shape, perm) or "identity in canonical form"
            elements = math.prod(shape)
        tot = totals[cls]
        tot[0] += t
        tot[1] += elements
        tot[2] += 1
        if elements:
            tot[3].append(t / elements * 1e9)
        if cls == MOVES:
            n = nets[key]
            n[0] += 1
            n[1] += t
            n[2] += elements
    order = [KEEPS, SWAPS, MOVES, "identity in canonical form", "not in the export (made or renamed by onnxruntime)"]
    rows = []
    for cls in order:
        if cls not in totals:
            continue
        t, e, n, ns = totals[cls]
        rows.append([cls, str(n), f"{e / 1e6:.2f} M" if e else "unknown", f"{t * 1e3:.2f}",
                     f"{t / e * 1e9:.2f}" if e else "unknown", f"{statistics.median(ns):.2f}" if ns else "unknown"])
    from benchmarks.cpu_cross_host import network_of
    from benchmarks.subnormal_scan import hazard_keys

    net_rows = []
    left_out = hazard_keys()  # in the training plan, left out of training (activations collapse to subnormals)
    for key, (n, t, e) in sorted(nets.items(), key=lambda kv: -kv[1][1]):
        fastest = float(measured[key]["latency_min_s"])
        seen = "unseen" if network_of(key) not in seen_networks else "seen, left out" if key in left_out else "seen"
        net_rows.append([key, seen, str(n), f"{t * 1e3:.2f}",
                         f"{100 * t / fastest:.1f} %", f"{t / e * 1e9:.2f}"])
    return rows, net_rows


def report(runs: Sequence[str]) -> str:
    from benchmarks.collect_cpu import PLAN
    from hybridperf.report.format import table

    seen = frozenset(name for name, _, _ in PLAN)
    dirs = [ROOT / "calibration" / r for r in runs]
    paths = sorted({r["model"] for d in dirs for r in csv_rows(d / "measurements.csv")})
    exports, missing = {}, []
    for p in paths:
        if (ROOT / p).exists():
            exports[p] = export_transposes(ROOT / p)
        else:
            missing.append(p)
    lines = ["# onnxruntime CPU Transpose: time per element by whether it moves the innermost axis", "",
             f"Command: `{COMMAND}`", "",
             "Every profiled `Transpose` node of each run (`profile.csv`: one profiled run per configuration), its "
             "permutation in canonical form (size-1 axes dropped, adjacent axes merged) from the export's shapes. "
             "ns / element: the class's time over its input elements (float32: 4 bytes read and 4 written each). "
             f"Exports not found (their nodes count as not in the export): {len(missing)}. Network: seen (in the "
             "training plan), seen, left out (in the plan, left out of training and scoring: its activations "
             "collapse to subnormal floats on random inputs, `benchmarks/results/subnormal_scan.csv`) or unseen.", ""]
    for run, d in zip(runs, dirs):
        rows, nets = run_table(d, exports, seen)
        first = csv_rows(d / "measurements.csv")[0]
        lines += [f"## `{run}` ({first['cpu_model']}, family {first['cpu_family']} model {first['cpu_model_id']}, "
                  f"{first['threads']} thread(s))", "", "```",
                  table(rows, ["class", "nodes", "elements", "ms", "ns / element", "median node ns / element"],
                        "lrrrrr"), "```", "",
                  "Configurations with Transposes that move the innermost axis otherwise (not a 2-D transpose):", "",
                  "```",
                  table(nets, ["configuration", "network", "nodes", "ms", "share of fastest run", "ns / element"],
                        "llrrrr") if nets else "none", "```", ""]
    return "\n".join(lines)


#: the shapes timed alone by ``probe``: every (input shape, perm) of MaxViT-T b1's Transposes that move the innermost
#: axis otherwise, then one of each other class at a similar size (a BERT-base head split, b2, and its key
#: transposed for Q x K^T)
PROBE_EXPORT = Path(".zoo") / "maxvit_t_b1_r224_legacy.onnx"
OTHER_SHAPES = (((2, 128, 12, 64), (0, 2, 1, 3)), ((2, 12, 128, 64), (0, 1, 3, 2)))
PROBE_FIELDS = ["shape", "perm", "class", "elements", "threads", "runs", "fastest_s", "ns_per_element", *HOST_FIELDS,
                "round"]


def case_key(shape: Sequence[int], perm: Sequence[int]) -> tuple[str, str]:
    """How ``probe.csv`` writes a case: (``1x64x8x7x8x7``, ``0,2,4,3,5,1``)."""
    return "x".join(map(str, shape)), ",".join(map(str, perm))


def probe_cases(nodes: dict | None = None) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """What ``probe`` times: the distinct (shape, perm) of :data:`PROBE_EXPORT` (``nodes``: its
    :func:`export_transposes`, read when not given) of the "moves otherwise" class, in the export's order, then
    :data:`OTHER_SHAPES`."""
    cases = []
    for shape, perm in (export_transposes(ROOT / PROBE_EXPORT) if nodes is None else nodes).values():
        if transpose_class(shape, perm) == MOVES and (shape, perm) not in cases:
            cases.append((shape, perm))
    return [*cases, *OTHER_SHAPES]


def probe(out: Path, threads: Sequence[int], rounds: int, runs: int, seed: int) -> None:
    """Time each of :func:`probe_cases` alone in onnxruntime (one Transpose node, float32 input of random values),
    ``runs`` timed runs after 5 warm-up runs, fastest kept, for each thread count, the cases shuffled in each of
    ``rounds`` rounds; rows appended to ``out`` / ``probe.csv`` with ``lscpu`` in ``out`` / ``lscpu.txt``."""
    import numpy as np

    from hybridperf.measure.probe import transpose_session

    host = start(out)
    rows = []
    for r, (shape, perm), t, _ in shuffled_rounds(probe_cases(), threads, rounds, seed):
        sess = transpose_session(shape, perm, t)
        best = fastest_s(sess, {"X": np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}, runs,
                         warmup=5)
        n = math.prod(shape)
        key = case_key(shape, perm)
        rows.append({"shape": key[0], "perm": key[1],
                     "class": transpose_class(shape, perm), "elements": n, "threads": t, "runs": runs,
                     "fastest_s": f"{best:.4e}", "ns_per_element": f"{best / n * 1e9:.4f}",
                     **host_columns(host), "round": r})
    append_rows(out / "probe.csv", PROBE_FIELDS, rows)


def probe_report(out: Path, runs: Sequence[str]) -> str:
    """The probe's figures (median over rounds of each case's fastest run, per thread count) beside the same shapes'
    time per element in the runs' profiles (median over nodes of that shape and permutation)."""
    from hybridperf.report.format import table

    rows = csv_rows(out / "probe.csv")
    threads = sorted({int(r["threads"]) for r in rows})
    nodes = export_transposes(ROOT / PROBE_EXPORT)
    # each run's MaxViT-T Transpose nodes of the export: (shape, perm) as probe.csv writes them, seconds, elements
    profiled: dict[str, list[tuple[tuple[str, str], float, int]]] = {}
    for run in runs:
        profiled[run] = [(case_key(*node), float(r["duration_s"]), math.prod(node[0]))
                         for r in csv_rows(ROOT / "calibration" / run / "profile.csv")
                         if r["key"] == "maxvit_t_b1_224" and r["op_type"] == "Transpose"
                         and (node := nodes.get(r["graph_node"])) is not None]
    prof: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for run, found in profiled.items():
        for key, t, n in found:
            prof[(*key, run)].append(t / n * 1e9)
    body = []
    timed = {(r["shape"], r["perm"]) for r in rows}
    for shape, perm in (c for c in (case_key(s, q) for s, q in probe_cases(nodes)) if c in timed):
        cells = [shape, perm, next(r["class"] for r in rows if r["shape"] == shape)]
        for t in threads:
            v = [float(r["ns_per_element"]) for r in rows if (r["shape"], r["perm"], r["threads"]) == (shape, perm, str(t))]
            cells.append(f"{statistics.median(v):.2f}")
        for run in runs:
            v = prof.get((shape, perm, run))
            cells.append(f"{statistics.median(v):.2f}" if v else "unknown")
        body.append(cells)
    # the whole class priced by the probe: each MaxViT-T node of it at its shape's probe figure (the run's threads)
    classes = {case_key(*node): transpose_class(*node) for node in nodes.values()}
    priced = []
    for run in runs:
        t = csv_rows(ROOT / "calibration" / run / "measurements.csv")[0]["threads"]
        fig = {(r["shape"], r["perm"]): [] for r in rows}
        for r in rows:
            if r["threads"] == t:
                fig[(r["shape"], r["perm"])].append(float(r["ns_per_element"]))
        got, want = 0.0, 0.0
        for key, seconds, n in profiled[run]:
            v = fig.get(key)
            if v and classes[key] == MOVES:
                got += statistics.median(v) * n * 1e-9
                want += seconds
        if want:
            priced.append([f"`{run}`", t, f"{got * 1e3:.2f}", f"{want * 1e3:.2f}", f"{100 * (got / want - 1):+.1f} %"])
    first = rows[0]
    head = ["shape", "perm", "class", *(f"probe {t} thread(s)" for t in threads), *(f"profile {r}" for r in runs)]
    return "\n".join([f"## Timed alone: `{out}`", "",
                       f"onnxruntime {first['onnxruntime']} on {first['cpu_model']} (family {first['cpu_family']} "
                       f"model {first['cpu_model_id']} stepping {first['cpu_stepping']}), {len({r['round'] for r in rows})}"
                       f" rounds from {first['date_utc']}; ns per element: median over rounds of each case's fastest "
                       "run. Profile columns: the same shape's MaxViT-T nodes in each run's `profile.csv` (median).", "",
                       "```", table(body, head, "lll" + "r" * (len(head) - 3)), "```", "",
                       "MaxViT-T's Transposes that move the innermost axis otherwise, priced node by node at the "
                       "probe's figure for their shape (the run's thread count), against their time in each run's "
                       "profile:", "", "```",
                       table(priced, ["run", "threads", "probe-priced ms", "profiled ms", "error"], "lrrrr"),
                       "```", ""])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.transpose_cost", description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", default=list(RUNS), help="calibration directories (names) with profile.csv")
    p.add_argument("--probe", type=Path, help="time the shapes alone first, appending to PROBE/probe.csv")
    p.add_argument("--probe-dir", type=Path, help="add the probe table of PROBE_DIR/probe.csv to the report")
    timing_options(p, timed_runs=50)
    args = p.parse_args(argv)
    if args.probe:
        probe(args.probe, thread_counts(args), args.rounds, args.timed_runs, args.seed)
        return 0
    text = report(args.runs)
    if args.probe_dir:
        text += "\n" + probe_report(args.probe_dir, args.runs)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
