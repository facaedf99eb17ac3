"""Import speed of a large transformer export (issue 6.4: under 3 s for a 250 MB model).

Exports a zoo transformer (default ``distilbert_base``, legacy exporter: 66 M
fp32 parameters, about 253 MB of ONNX) once, then times in *fresh* processes:

* ``tvm_import_s``: ``import tvm`` + ``tvm.relax`` (paid once per process,
  reported separately and excluded from the import time),
* ``onnx_load_s``: reading the file (``onnx.load``),
* ``check_s``: :func:`hybridperf.frontends.normalize.check_supported`,
* ``normalize_s``: :func:`hybridperf.frontends.normalize.normalize` (in place),
* ``from_onnx_s``: TVM's Relax ONNX frontend as :func:`hybridperf.frontends.onnx_import.from_onnx`
  calls it (without the frontend's up-front ``onnx.checker`` run),
* ``tvm_public_from_onnx_s``: for comparison, ``tvm.relax.frontend.onnx.from_onnx``
  on the same normalised model (with the checker, which serialises the model),
* ``load_model_s``: :func:`hybridperf.frontends.load.load_model` end to end (the
  import time of the target: file -> Relax module),
* ``analyze_s``: :func:`hybridperf.analysis.analyze.analyze` end to end (load, cost
  pass, fusion, memory plan), in a second fresh process.

Each child prints one JSON line; the parent reports the median of ``--repeat``
children and writes a markdown table (``--md``).

Usage::

    taskset -c 1 python -m benchmarks.import_speed --model distilbert_base --repeat 3 \\
        --md benchmarks/results/import_speed.md
    python -m benchmarks.import_speed --onnx some.onnx --batch 1   # any file, no export
    python -m benchmarks.import_speed --onnx some.onnx --profile prof.txt  # cProfile of load_model
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path



def _import_tvm_s() -> float:
    """Seconds to import TVM (``tvm`` + ``tvm.relax``, through hybridperf's lazy loader) in this process."""
    t0 = time.perf_counter()
    from hybridperf.ir.tvm_compat import tvm_modules

    tvm_modules()
    return time.perf_counter() - t0


def _child_stages(path: str, batch: int) -> dict[str, float]:
    """Time every stage of ``load_model`` separately, then ``load_model`` itself (fresh process)."""
    t = {"tvm_import_s": _import_tvm_s()}

    from hybridperf.frontends.load import load_model
    from hybridperf.frontends.normalize import check_supported, normalize
    from hybridperf.frontends.onnx_import import from_onnx, load_onnx_proto

    t0 = time.perf_counter()
    model = load_onnx_proto(path)
    t["onnx_load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    check_supported(model, path)
    t["check_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = normalize(model, batch=batch, inplace=True)
    t["normalize_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    from_onnx(res.model, res.input_shapes, source=path)
    t["from_onnx_s"] = time.perf_counter() - t0
    # for comparison: TVM's public from_onnx, which runs onnx.checker on the whole model first
    import warnings

    from tvm.relax.frontend.onnx import from_onnx as tvm_from_onnx

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tvm_from_onnx(res.model, shape_dict={k: list(v) for k, v in res.input_shapes.items()})
    t["tvm_public_from_onnx_s"] = time.perf_counter() - t0
    del model, res

    t0, c0 = time.perf_counter(), time.process_time()
    loaded = load_model(path, batch=batch)
    t["load_model_s"] = time.perf_counter() - t0
    # CPU time of this process (user + system): what the wall time would be without other jobs on the core
    t["load_model_cpu_s"] = time.process_time() - c0
    t["nodes"] = loaded.node_count
    return t


def _child_analyze(path: str, batch: int) -> dict[str, float]:
    """Time ``analyze`` end to end in a fresh process (TVM imported first, timed apart)."""
    t = {"tvm_import_s": _import_tvm_s()}
    from hybridperf.analysis.analyze import analyze

    t0 = time.perf_counter()
    an = analyze(path, batch=batch)
    t["analyze_s"] = time.perf_counter() - t0
    for k, v in an.timings_s.items():
        t[f"analyze.{k}"] = v
    t["kernels"] = len(an.kernels)
    return t


def _profile(path: str, batch: int, out: str) -> None:
    import cProfile
    import io
    import pstats

    _import_tvm_s()  # outside the profile
    from hybridperf.frontends.load import load_model

    prof = cProfile.Profile()
    prof.enable()
    load_model(path, batch=batch)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(40)
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
    Path(out).write_text(buf.getvalue())


def _spawn(mode: str, path: Path, batch: int) -> dict[str, float]:
    cmd = [sys.executable, "-m", "benchmarks.import_speed", "--child", mode, "--onnx", str(path), "--batch", str(batch)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"child {mode} failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")


def _spawn_baseline(pythonpath: Path, path: Path, batch: int) -> dict[str, float]:
    """The ``stages`` child with another hybridperf checkout first on the path (e.g. an older commit)."""
    root = Path(__file__).resolve().parent.parent
    code = (
        f"import json, sys; sys.path.append({str(root)!r}); "
        "from benchmarks.import_speed import _child_stages; "
        f"print(json.dumps(_child_stages({str(path.resolve())!r}, {batch})))"
    )
    env = dict(os.environ, PYTHONPATH=str(pythonpath.resolve()))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env, cwd="/")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"baseline child failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")


def _file_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20


def _markdown(command: str, path: Path, runs: list[dict[str, float]], target_s: float,
              baseline: list[dict[str, float]], baseline_name: str, load: tuple[float, float]) -> str:
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if not k.startswith("nodes") and k != "kernels"}
    lines = [
        "# Import speed of a large transformer export",
        "",
        "Command:",
        "",
        "```",
        command,
        "```",
        "",
        f"Model: `{path.name}` ({_file_mb(path):.0f} MB, {int(runs[0]['nodes'])} ONNX nodes, "
        f"{int(runs[0]['kernels'])} kernels after fusion). Machine: {platform.machine()}, "
        f"{os.cpu_count()} CPUs (run pinned to one core), Python {platform.python_version()}. "
        f"Median of {len(runs)} fresh processes; TVM's own import is paid once per process and "
        f"is listed apart. Load average during the runs: {load[0]:.1f} at the start, {load[1]:.1f} at "
        "the end (other jobs share the core, so these are upper bounds).",
        "",
        "| stage | seconds (median) | runs |",
        "|---|---:|---|",
    ]
    for k in med:
        lines.append(f"| {k} | {med[k]:.2f} | {', '.join(f'{r[k]:.2f}' for r in runs)} |")
    if baseline:
        bmed = {k: statistics.median(r[k] for r in baseline) for k in baseline[0] if k != "nodes"}
        lines += [
            "",
            f"Baseline `{baseline_name}` (same file, same stages, {len(baseline)} fresh processes, run right "
            "after the rows above):",
            "",
            "| stage | baseline s (median) | now s (median) |",
            "|---|---:|---:|",
        ]
        for k in bmed:
            lines.append(f"| {k} | {bmed[k]:.2f} | {med.get(k, float('nan')):.2f} |")
    verdict = "meets" if med["load_model_s"] < target_s else "MISSES"
    cpu = med.get("load_model_cpu_s", float("nan"))
    cpu_verdict = "meets" if cpu < target_s else "misses"
    lines += [
        "",
        f"`load_model` (file -> Relax module: onnx.load + op check + normalize + TVM frontend) takes "
        f"**{med['load_model_s']:.2f} s**, which {verdict} the {target_s:.0f} s target; the full `analyze` "
        f"(load, cost pass, fusion, memory plan) takes **{med['analyze_s']:.2f} s**; `import tvm` "
        f"takes {med['tvm_import_s']:.2f} s on top, once per process. The process's own CPU time for "
        f"`load_model` (user + system, unaffected by waiting for the shared core) is **{cpu:.2f} s**, which "
        f"{cpu_verdict} the target.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.import_speed", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="distilbert_base", help="zoo model to export (needs torch)")
    ap.add_argument("--exporter", default="legacy")
    ap.add_argument("--onnx", type=Path, help="time this file instead of exporting a zoo model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--out-dir", type=Path, default=Path(".zoo"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--target-s", type=float, default=3.0)
    ap.add_argument("--md", type=Path, help="write the markdown report here")
    ap.add_argument("--profile", help="write a cProfile report of load_model to this file and exit")
    ap.add_argument("--baseline", type=Path, help="also time the stages with the hybridperf package under this dir")
    ap.add_argument("--child", choices=["stages", "analyze"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        fn = _child_stages if args.child == "stages" else _child_analyze
        print(json.dumps(fn(str(args.onnx), args.batch)))
        return 0

    path = args.onnx
    if path is None:
        from benchmarks import zoo

        path = zoo.export(args.model, batch=args.batch, exporter=args.exporter, out_dir=args.out_dir)
    if args.profile:
        _profile(str(path), args.batch, args.profile)
        print(f"profile written to {args.profile}")
        return 0
    runs = []
    load0 = os.getloadavg()[0]
    for i in range(args.repeat):
        r = _spawn("stages", path, args.batch)
        a = _spawn("analyze", path, args.batch)
        r["tvm_import_s"] = min(r["tvm_import_s"], a.pop("tvm_import_s"))
        r.update(a)
        runs.append(r)
        print(f"run {i + 1}: " + ", ".join(f"{k}={v:.2f}" for k, v in r.items() if isinstance(v, float)), flush=True)
    baseline = []
    if args.baseline:
        for i in range(args.repeat):
            baseline.append(_spawn_baseline(args.baseline, path, args.batch))
            print(f"baseline {i + 1}: load_model_s={baseline[-1]['load_model_s']:.2f}", flush=True)
    command = "taskset -c 1 python -m benchmarks.import_speed " + " ".join(argv if argv is not None else sys.argv[1:])
    text = _markdown(command, path, runs, args.target_s, baseline, str(args.baseline), (load0, os.getloadavg()[0]))
    print(text)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
