"""Planned peak memory (hybridperf) vs TVM's estimate vs the measured runtime peak.

For each model (the hand-built test graphs and zoo models exported to ONNX) a fresh
worker process, pinned by the caller, runs:

* ``hybridperf.analysis.analyze.analyze`` -> ``planned`` (activations planned by
  :mod:`hybridperf.analysis.memory`) and ``workspace`` (largest intra-kernel buffer);
* ``relax.analysis.estimate_memory_usage`` on TVM's own ``StaticPlanBlockMemory``
  output -> ``tvm_est`` (its text, GiB to 4 significant digits);
* :func:`hybridperf.measure.memory.measure_tvm` -> ``requested`` (VM allocation
  trace) and ``rss`` (resident peak added by one run on TVM's VM, activations only);
* in a second fresh process, onnxruntime's resident peak added by one run.

All figures are activations only: weights and inputs are resident before the
measured run and are excluded on both sides. Workers run with
``MALLOC_MMAP_THRESHOLD_=4096`` so that freed blocks go back to the OS and every
new allocation shows up in the resident size.

Usage::

    taskset -c 1 /work/venv/bin/python -m benchmarks.memory_accuracy --out benchmarks/results/memory.md

Missing zoo exports are made with ``/work/venvz`` (torch) when it exists.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_GRAPHS = ["resnet_like", "mobilenetv2_like", "bert_like"]
# cheapest first: untuned kernels at LLVM -O0 run slowly, so a long list takes an hour
ZOO = [
    "resnet18", "mobilenet_v3_small", "squeezenet1_1", "shufflenet_v2_x1_0", "bert_tiny",
    "electra_small", "llama_tiny", "qwen2_tiny", "mobilenet_v2", "mnasnet1_0", "regnet_y_400mf",
    "efficientnet_b0", "mobilenet_v3_large", "bert_small", "googlenet", "resnet50",
    "distilbert_base", "gpt2", "hf_deit_small", "densenet121", "opt_125m", "alexnet",
]
SEQ_LEN = 64
TORCH_PY = Path("/work/venvz/bin/python")


def _estimate_bytes(memory_module) -> int:
    from tvm import relax

    planned = relax.transform.StaticPlanBlockMemory()(memory_module)
    text = relax.analysis.estimate_memory_usage(planned)
    m = re.search(r"With memory planning, there are \d+ constant-size memory allocation\(s\) with total size ([0-9.e+-]+) GB", text)
    return round(float(m.group(1)) * 2**30) if m else -1


def worker_tvm(spec: dict) -> dict:
    """Analyse and measure one model on TVM's VM (runs inside the worker process)."""
    from hybridperf.analysis.analyze import analyze_with_memory_module
    from hybridperf.measure.memory import measure_tvm, pooled_vm_bytes

    t0 = time.perf_counter()
    if spec["kind"] == "test":
        sys.path.insert(0, str(ROOT / "tests"))
        import onnx_models

        from hybridperf.frontends.normalize import normalize
        from hybridperf.frontends.onnx_import import from_onnx

        model, _ = getattr(onnx_models, spec["name"])(batch=spec["batch"])
        res = normalize(model, batch=spec["batch"])
        an, mem_mod = analyze_with_memory_module(from_onnx(res.model, res.input_shapes).module, fused=spec["fused"])
    else:
        an, mem_mod = analyze_with_memory_module(spec["path"], batch=spec["batch"], fused=spec["fused"])
    if mem_mod is None:
        return {"error": an.fusion_note or "no memory plan"}
    analyze_s = time.perf_counter() - t0
    est = _estimate_bytes(mem_mod)
    pooled = pooled_vm_bytes(mem_mod)
    r = measure_tvm(mem_mod)
    m = an.memory
    return {
        "planned": m.planned_bytes, "live_peak": m.live_peak_bytes, "weights": m.weight_bytes,
        "inputs": m.input_bytes, "tvm_est": est, "requested": r.requested_bytes, "pooled": pooled, "rss": r.rss_peak_bytes,
        "workspace": r.workspace_bytes, "build_s": round(r.build_s, 1), "analyze_s": round(analyze_s, 1),
    }


def worker_ort(spec: dict) -> dict:
    """onnxruntime's resident peak for one run of an ONNX file (runs inside the worker process)."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    from hybridperf.measure.memory import measure_onnxruntime_peak

    path = spec["path"]
    if spec["kind"] == "test":
        sys.path.insert(0, str(ROOT / "tests"))
        import onnx_models

        model, _ = getattr(onnx_models, spec["name"])(batch=spec["batch"])
        path = f"/tmp/hybridperf_memacc_{os.getpid()}.onnx"
        onnx.save(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else spec["batch"] for d in i.shape]
        feeds[i.name] = rng.random(shape).astype(np.float32) if "float" in i.type else np.zeros(shape, np.int64)
    del sess
    return {"ort_rss": measure_onnxruntime_peak(path, feeds)}


def _run_worker(kind: str, spec: dict, timeout_s: float) -> dict:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="4096", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "benchmarks.memory_accuracy", "--worker", kind, json.dumps(spec)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout_s:.0f} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": tail[:160]}


def _zoo_path(name: str) -> Path | None:
    from benchmarks import zoo

    path = zoo.onnx_path(name, 1, None, SEQ_LEN if zoo.get(name).input.kind.value == "tokens" else None)
    if path.exists():
        return path
    if not TORCH_PY.exists():
        return None
    code = (f"from benchmarks.zoo import export; export({name!r}, batch=1, "
            f"seq_len={SEQ_LEN if zoo.get(name).input.kind.value == 'tokens' else None})")
    subprocess.run([str(TORCH_PY), "-c", code], cwd=ROOT, capture_output=True, timeout=600)
    return path if path.exists() else None


def _mib(x: int | None) -> str:
    return "-" if x is None or x < 0 else f"{x / 2**20:.3f}"


def _pct(a: int | None, b: int | None) -> str:
    return "-" if not a or not b or a < 0 or b < 0 else f"{100 * (a - b) / b:+.1f}"


def _summary(rows: list[dict], pred_key, meas_key: str) -> tuple[float, float, int]:
    errs = [abs(pred_key(r) - r[meas_key]) / r[meas_key] for r in rows if r.get(meas_key) and pred_key(r) is not None]
    if not errs:
        return float("nan"), float("nan"), 0
    return 100 * sum(errs) / len(errs), 100 * sum(e <= 0.05 for e in errs) / len(errs), len(errs)


def render(rows: list[dict], command: str) -> str:
    ok = [r for r in rows if "error" not in r]
    lines = [
        "# Peak memory: plan vs TVM's estimate vs measured runtime peak", "",
        f"Reproduce: `{command}`", "",
        "All columns are **activation bytes only** (weights and inputs excluded; they are resident before the run), in MiB.",
        "",
        "* **planned**: `hybridperf.analysis.memory.plan_memory` (`MemoryPlan.planned_bytes`); `Analyzed.memory.peak_bytes` adds weights + inputs.",
        "* **TVM est.**: `relax.analysis.estimate_memory_usage` after TVM's `StaticPlanBlockMemory` ('with memory planning', printed in GiB to 4 digits).",
        "* **VM requested**: bytes TVM's Relax VM asked for through `vm.builtin.alloc_storage` during one run (VM instrument), after building the planned module for llvm.",
        "* **workspace**: largest buffer set inside one compiled kernel (TIR `calculate_allocated_bytes` after the llvm TIR pipeline); TVM's planner does not see it.",
        "* **VM RSS**: resident-set peak (`VmHWM`, reset via `/proc/self/clear_refs`) minus the resident size before one warm run on a fresh thread, pools cleared, `MALLOC_MMAP_THRESHOLD_=4096`.",
        "* **VM pool**: `hybridperf.measure.memory.pooled_vm_bytes`, a replay of the built module's allocations and kills through TVM's pooled allocator (4 KiB pages, exact-size reuse of killed blocks); **pool+ws** adds the workspace: the predicted resident peak of TVM's VM.",
        "* **ORT RSS**: the same resident-peak measurement for onnxruntime 1 thread, arena off, memory pattern on (a different runtime: own fusion and planner).",
        "",
        "| model | fused | planned | TVM est. | VM requested | VM pool | workspace | VM RSS | planned vs RSS % | planned+ws vs RSS % | pool+ws vs RSS % | ORT RSS | planned vs ORT % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['fused']} | error: {r['error']} |||||||||||")
            continue
        pw = r["planned"] + r["workspace"]
        qw = r["pooled"] + r["workspace"]
        lines.append(
            f"| {r['model']} | {r['fused']} | {_mib(r['planned'])} | {_mib(r['tvm_est'])} | {_mib(r['requested'])} | "
            f"{_mib(r['pooled'])} | {_mib(r['workspace'])} | {_mib(r['rss'])} | {_pct(r['planned'], r['rss'])} | "
            f"{_pct(pw, r['rss'])} | {_pct(qw, r['rss'])} | "
            f"{_mib(r.get('ort_rss'))} | {_pct(r['planned'], r.get('ort_rss'))} |"
        )
    big = [dict(r, rss_total=r["rss"] + r["weights"] + r["inputs"]) for r in ok if r["kind"] == "zoo"]
    eq = sum(r["requested"] == r["planned"] for r in ok)
    est_ok = sum(r["tvm_est"] > 0 and abs(r["tvm_est"] - r["planned"]) <= 5e-4 * r["planned"] + 2**30 * 5e-4 for r in ok)
    lines += ["", "## Summary (zoo models)", ""]
    for label, key, meas in [
        ("planned vs VM RSS", lambda r: r["planned"], "rss"),
        ("planned + workspace vs VM RSS", lambda r: r["planned"] + r["workspace"], "rss"),
        ("pool replay + workspace vs VM RSS", lambda r: r["pooled"] + r["workspace"], "rss"),
        ("peak_bytes (planned + weights + inputs) vs VM RSS + weights + inputs",
         lambda r: r["planned"] + r["weights"] + r["inputs"], "rss_total"),
        ("planned vs ORT RSS", lambda r: r["planned"], "ort_rss"),
        ("planned + workspace vs ORT RSS", lambda r: r["planned"] + r["workspace"], "ort_rss"),
    ]:
        mape, within, n = _summary(big, key, meas)
        lines.append(f"* {label}: MAPE {mape:.1f} %, within 5 %: {within:.0f} % (n={n})")
    lines.append(f"* VM requested bytes == planned bytes: {eq}/{len(ok)} configurations; TVM's estimate equals planned "
                 f"(to its printed precision): {est_ok}/{len(ok)}")
    for r in ok:
        if r["requested"] != r["planned"]:
            lines.append(f"* mismatch: {r['model']} planned {r['planned']} B, TVM est. {r['tvm_est']} B, VM requested "
                         f"{r['requested']} B (planned - requested = {r['planned'] - r['requested']} B)")
    lines += [
        "", "## Reading", "",
        "* Where hybridperf's `planned_bytes` equals TVM's `StaticPlanBlockMemory` / `estimate_memory_usage`, the VM, "
        "running the built module, requests exactly those bytes; the mismatches listed above are hybridperf's planner "
        "disagreeing with TVM's (the VM agrees with TVM).",
        "* It is not the runtime peak of TVM's VM on CPU: kernels allocate buffers of their own (conv padding "
        "copies, intermediates of fused but unscheduled TIR) that no Relax-level planner sees. "
        "Adding the largest kernel workspace closes most of the gap; what is left is page rounding, "
        "several workspace blocks held by TVM's workspace pool at once, and allocator bookkeeping.",
        "* TVM's pooled allocator reuses blocks freed by `KillAfterLastUse`, so the runtime can sit below the "
        "static plan (shown on a chain of 4 MiB tensors in `tests/test_measure_memory.py`). On the CNNs page rounding "
        "outweighs it; on the transformers the replay predicts reuse that the measured peak does not show "
        "(planned + workspace is closer there), a gap in the replay whose cause is not yet isolated.",
        "* So `Analyzed.memory.peak_bytes` (planned + weights + inputs) under-predicts the TVM VM's measured peak by "
        "the kernel workspace; `hybridperf.measure.memory.kernel_workspace_bytes` computes that term statically.",
        "* onnxruntime fuses and plans differently (its own memory pattern, in-place ops), so the TVM plan "
        "is not an onnxruntime peak; the column is there for scale.",
        "* The test graphs are KiB-sized: a few resident pages of bookkeeping dominate them; "
        "they are left out of the summary.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "SPEC"), help=argparse.SUPPRESS)
    ap.add_argument("--models", nargs="*", default=None, help="zoo models (default: a fixed list of 22)")
    ap.add_argument("--no-ort", action="store_true")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per model and runtime")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--render", action="store_true", help="only re-render OUT from its .json")
    ap.add_argument("--resume", action="store_true", help="keep the rows already in OUT's .json and skip them")
    args = ap.parse_args(argv)
    if args.render:
        rows = json.loads(args.out.with_suffix(".json").read_text())
        _write(args.out, rows)
        print(render(rows, _command(args.out)))
        return 0
    if args.worker:
        kind, spec = args.worker
        res = (worker_tvm if kind == "tvm" else worker_ort)(json.loads(spec))
        print(json.dumps(res))
        return 0
    specs = [{"kind": "test", "name": n, "model": n, "batch": 2, "fused": f, "path": None}
             for n in TEST_GRAPHS for f in (True, False)]
    for name in args.models if args.models is not None else ZOO:
        path = _zoo_path(name)
        if path is None:
            print(f"{name}: no ONNX export", file=sys.stderr)
            continue
        specs.append({"kind": "zoo", "name": name, "model": name, "batch": 1, "fused": True, "path": str(path)})
    rows = []
    if args.resume and args.out and args.out.with_suffix(".json").exists():
        rows = json.loads(args.out.with_suffix(".json").read_text())
        done = {(r["model"], r["fused"]) for r in rows}
        specs = [s for s in specs if (s["model"], s["fused"]) not in done]
    for spec in specs:
        t0 = time.perf_counter()
        row = dict(spec, **_run_worker("tvm", spec, args.timeout))
        if not args.no_ort and "error" not in row:
            ort = _run_worker("ort", spec, args.timeout)
            row["ort_rss"] = ort.get("ort_rss")
            if "error" in ort:
                row["ort_error"] = ort["error"]
        rows.append(row)
        print(json.dumps({k: row.get(k) for k in ("model", "fused", "planned", "requested", "workspace", "rss", "ort_rss", "error")}),
              f"{time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
        if args.out:  # after every model, so a long run can be read while it goes
            _write(args.out, rows)
    if args.out:
        _write(args.out, rows)
    print(render(rows, _command(args.out)))
    return 0


def _command(out: Path | None) -> str:
    return "taskset -c 1 nice -n 5 /work/venv/bin/python -m benchmarks.memory_accuracy" + (f" --out {out}" if out else "")


def _write(out: Path, rows: list[dict]) -> None:
    out.write_text(render(rows, _command(out)))
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    raise SystemExit(main())
