"""Peak memory per runtime: hybridperf's runtime models vs the measured peaks, on held-out families.

* **onnxruntime CPU** (``calibration/host-epyc-1c/measurements.csv``, the figure of
  ``hybridperf.measure.onnxruntime``: RSS growth at load + VmHWM growth over two runs + inputs, arena off):
  before = ``MemoryPlan.peak_bytes`` (TVM plan + weights + inputs, the ``predicted_peak_bytes`` column of
  ``features.csv``); after = :func:`hybridperf.estimate.runtime_memory.onnxruntime_peak`, whose two fixed
  overheads are fitted on the other families' rows (8 family folds, sorted families dealt round-robin)
  and evaluated on the held-out fold. Rows whose ONNX file is missing from ``.zoo/`` are skipped
  (the structural part needs the graph).
* **PyTorch CUDA** (``calibration/h100-sxm``: ``torch.cuda.max_memory_allocated`` around one eager
  inference): before = TVM plan + weights + inputs; previous = workspace + factor x TVM plan (fitted on the other
  folds); after = :func:`hybridperf.estimate.runtime_memory.torch_cuda_peak` with the eager activation sweep
  (``torch_eager_activations`` on the cached Relax op lists of ``torch-graphs``), its one factor (graphs without
  transformer layers) fitted on the other folds. ``torch-oracle`` (needs torch) checks the same rules on
  PyTorch's own op sequence.
* **TVM** (``benchmarks/results/memory.json``, the VM's resident peak): before = plan + weights + inputs,
  after = :func:`hybridperf.estimate.runtime_memory.tvm_peak` (plan + kernel workspace + weights + inputs); nothing fitted.

Usage::

    taskset -c 0 .venv/bin/python -m benchmarks.memory_runtime features   # onnxruntime features (cached)
    taskset -c 0 .venv/bin/python -m benchmarks.memory_runtime torch-graphs   # H100 models' op lists (cached)
    python -m benchmarks.memory_runtime torch-oracle --batch 1   # with torch: rules on PyTorch's op sequence
    taskset -c 0 .venv/bin/python -m benchmarks.memory_runtime report --out benchmarks/results/memory_runtime.md
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CPU_DIR = ROOT / "calibration" / "host-epyc-1c"
H100_DIR = ROOT / "calibration" / "h100-sxm"
RESULTS = ROOT / "benchmarks" / "results"
ORT_CACHE = RESULTS / "memory_runtime_ort.json"
#: the same measurement (hybridperf.measure.onnxruntime, memory only) of the ONNX files in .zoo/ today: the zoo is
#: re-exported from time to time and some exports differ from the ones measured in CPU_DIR
ORT_FRESH = RESULTS / "memory_runtime_ort_measured.json"
N_FOLDS = 8
COMMAND = "taskset -c 0 .venv/bin/python -m benchmarks.memory_runtime report --out benchmarks/results/memory_runtime.md"


def folds(families: list[str], n: int = N_FOLDS) -> list[set[str]]:
    """Family folds: sorted families dealt round-robin (never splits a family)."""
    uniq = sorted(set(families))
    k = min(n, len(uniq))
    return [set(uniq[i::k]) for i in range(k)]


def summary(pred: np.ndarray, meas: np.ndarray) -> dict:
    err = pred / meas - 1
    return {"n": len(err), "mape": float(np.mean(np.abs(err)) * 100) if len(err) else float("nan"),
            "within10": float(np.mean(np.abs(err) <= 0.10) * 100) if len(err) else float("nan"),
            "median_ratio": float(np.median(pred / meas)) if len(err) else float("nan")}


# --------------------------------------------------------------------------- onnxruntime


def cmd_features(args) -> int:
    """Optimise every available measured model with onnxruntime and replay its planner (cached per file)."""
    from hybridperf.estimate.runtime_memory import ort_features

    cache = json.loads(ORT_CACHE.read_text()) if ORT_CACHE.exists() else {}
    with (CPU_DIR / "measurements.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    isa = ("avx2",)  # host-epyc-1c: Zen 3, AVX2 (NCHWc block 8)
    for r in rows:
        path = ROOT / r["model"]
        if not path.exists() or cache.get(r["model"], {}).get("file_bytes") == path.stat().st_size:
            continue
        t0 = time.perf_counter()
        f = ort_features(path, isa)
        a = f.activations
        cache[r["model"]] = {"initializers": f.initializer_bytes, "pattern": a.pattern_bytes, "live_peak": a.live_peak_bytes,
                             "outputs": a.output_bytes, "total": a.total_bytes, "nodes": f.nodes, "n_init": f.initializers, "inputs": f.input_bytes, "optimised": f.optimised,
                             "unknown_ops": list(f.unknown_ops), "file_bytes": path.stat().st_size,
                             "seconds": round(time.perf_counter() - t0, 2)}
        print(r["key"], json.dumps(cache[r["model"]]), file=sys.stderr, flush=True)
        ORT_CACHE.write_text(json.dumps(cache, indent=1))
    ORT_CACHE.write_text(json.dumps(cache, indent=1))
    return 0


def cmd_measure(args) -> int:
    """Measure the peak (hybridperf.measure.onnxruntime, 1 thread, memory figures; run pinned by the caller) of every
    measured configuration whose file is in .zoo/ today (cached per file and size)."""
    from hybridperf.measure.onnxruntime import measure

    fresh = json.loads(ORT_FRESH.read_text()) if ORT_FRESH.exists() else {}
    with (CPU_DIR / "measurements.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        path = ROOT / r["model"]
        if not path.exists() or fresh.get(r["model"], {}).get("file_bytes") == path.stat().st_size:
            continue
        m = measure(path, threads=1, repeats=1, warmup=0, profile=False)
        fresh[r["model"]] = {"peak": m.peak_bytes, "load": m.load_bytes, "run": m.run_peak_bytes, "input": m.input_bytes,
                             "file_bytes": path.stat().st_size}
        print(r["key"], json.dumps(fresh[r["model"]]), file=sys.stderr, flush=True)
        ORT_FRESH.write_text(json.dumps(fresh, indent=1))
    return 0


def ort_table() -> list[dict]:
    """Measured rows joined with the baseline prediction and the cached onnxruntime features."""
    cache = json.loads(ORT_CACHE.read_text()) if ORT_CACHE.exists() else {}
    fresh = json.loads(ORT_FRESH.read_text()) if ORT_FRESH.exists() else {}
    with (CPU_DIR / "features.csv").open() as fh:
        base = {r["key"]: r for r in csv.DictReader(fh)}
    with (CPU_DIR / "measurements.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        b = base.get(r["key"], {})
        out.append({"key": r["key"], "family": r["family"], "measured": int(r["peak_bytes"]),
                    "load": int(r["load_bytes"]), "run": int(r["run_peak_bytes"]), "input": int(r["input_bytes"]),
                    "before": int(b["predicted_peak_bytes"]) if b.get("predicted_peak_bytes") else None,
                    "feat": cache.get(r["model"]), "fresh": fresh.get(r["model"])})
    return out


def ort_structural(f: dict) -> tuple[int, int]:
    """(load part, run part) without the fitted overheads."""
    return f["initializers"], max(f["pattern"], f["live_peak"]) + f["outputs"]


def ground_truth(r: dict, source: str) -> tuple[int, int, int] | None:
    """(peak, load, run) of a row: ``csv`` (CPU_DIR) or ``fresh`` (today's files, ORT_FRESH)."""
    if source == "csv":
        return r["measured"], r["load"], r["run"]
    f = r.get("fresh")
    return (f["peak"], f["load"], f["run"]) if f else None


def fit_ort(rows: list[dict], source: str = "fresh") -> tuple[int, int, int]:
    """(session fixed, session per node, run fixed): least squares of the measured-minus-structural load
    part on the node count, median of the measured-minus-structural run part."""
    rows = [r for r in rows if r["feat"] and ground_truth(r, source)]
    X = np.array([[1.0, r["feat"]["nodes"]] for r in rows])
    y = np.array([ground_truth(r, source)[1] - ort_structural(r["feat"])[0] for r in rows], float)
    c = np.linalg.lstsq(X, y, rcond=None)[0]
    run = [ground_truth(r, source)[2] - ort_structural(r["feat"])[1] for r in rows]
    return int(c[0]), int(c[1]), int(np.median(run))


def ort_predict(f: dict, fit: tuple[int, int, int]) -> int:
    from hybridperf.estimate.runtime_memory import OrtActivationPlan, OrtFeatures, onnxruntime_peak

    feat = OrtFeatures(f["initializers"], OrtActivationPlan(f["pattern"], f["live_peak"], f["outputs"], 0), f["inputs"],
                       f["optimised"], tuple(f["unknown_ops"]), f["nodes"], f["n_init"])
    return onnxruntime_peak(feat, session_fixed_bytes=fit[0], run_fixed_bytes=fit[2], session_bytes_per_node=fit[1]).peak_bytes


def ort_heldout(rows: list[dict], source: str) -> list[dict]:
    """Rows with a ground truth, each predicted with overheads fitted on the other folds' families."""
    usable = [r for r in rows if r["feat"] and ground_truth(r, source)]
    out = []
    for fold in folds([r["family"] for r in usable]):
        fit = fit_ort([r for r in usable if r["family"] not in fold], source)
        for r in usable:
            if r["family"] in fold:
                out.append(dict(r, after=ort_predict(r["feat"], fit), truth=ground_truth(r, source)[0]))
    return out


# --------------------------------------------------------------------------- PyTorch CUDA

#: compact Relax op lists of the H100 rows' models (``torch-graphs``): per ONNX file, the analysed records
#: (op, var, vars read, output bytes and dtypes), graph inputs and outputs, and one entry per initializer
TORCH_GRAPHS = RESULTS / "memory_runtime_torch_graphs.json"
#: where ``torch-graphs`` looks for the rows' ONNX files (``python -m benchmarks.zoo --export NAME --batch B
#: --out-dir .zoo/h100`` in an environment with torch writes the ones ``.zoo/`` lacks)
ZOO_DIRS = (ROOT / ".zoo", ROOT / ".zoo" / "h100")


def _h100_rows() -> list[dict]:
    with (H100_DIR / "torch-eager-fp32-fp16.csv").open() as fh:
        return [r for r in csv.DictReader(fh) if r["status"] == "ok"]


def _onnx_name(model: str, batch: int, r: dict) -> str:
    tag = f"r{r['resolution']}" if r["resolution"] else f"s{r['seq_len']}"
    return f"{model}_b{batch}_{tag}_legacy.onnx"


def cmd_torch_graphs(args) -> int:
    """Analyse (load + cost pass) the batch-1 and batch-2 ONNX file of every H100 row's model; cache the op lists."""
    import onnx
    from onnx import helper

    from hybridperf.analysis.analyze import analyze_module
    from hybridperf.frontends.load import load_model

    cache = json.loads(TORCH_GRAPHS.read_text()) if TORCH_GRAPHS.exists() else {}
    names = sorted({_onnx_name(r["model"], b, r) for r in _h100_rows() for b in (1, 2)}, key=lambda n: ("_b2_" in n, n))
    for name in names:
        path = next((d / name for d in ZOO_DIRS if (d / name).exists()), None)
        if path is None or name in cache:
            continue
        t0 = time.perf_counter()
        try:
            a = analyze_module(load_model(path).module)
        except Exception as exc:  # noqa: BLE001 - e.g. a detector with data-dependent shapes: left out
            print(f"{name}: not analysed: {type(exc).__name__}: {str(exc).splitlines()[0][:150]}", file=sys.stderr)
            continue
        proto = onnx.load(str(path), load_external_data=False)
        weights = []
        for t in proto.graph.initializer:
            dt = helper.tensor_dtype_to_np_dtype(t.data_type)
            weights.append([int(np.prod(t.dims, dtype=np.int64)) * dt.itemsize, dt.name])
        cache[name] = {
            "records": [[r.op, r.var, list(r.read_vars or r.input_vars), [o.nbytes or 0 for o in r.outputs],
                         [o.dtype for o in r.outputs]] for r in a.records],
            "inputs": {k: [v.nbytes or 0, v.dtype] for k, v in a.input_infos.items()},
            "outputs": sorted(a.output_vars), "weights": weights}
        TORCH_GRAPHS.write_text(json.dumps(cache, separators=(",", ":")))
        print(f"{name}: {len(a.records)} ops, {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return 0


#: per-row held-out predictions of the PyTorch CUDA model (written by ``report --out``)
TORCH_ROWS = RESULTS / "memory_runtime_torch.json"
#: the eager rules applied to PyTorch's own op sequence (``torch-oracle``, needs torch and the zoo's builders)
TORCH_ORACLE = RESULTS / "memory_runtime_torch_oracle.json"


def cmd_torch_oracle(args) -> int:
    """Run each H100 model once on the CPU (fp32, batch ``--batch``) under a dispatch mode that keeps one
    caching-allocator block per new tensor storage and frees it when the tensor dies: the eager rules on
    PyTorch's own op sequence and reference lifetimes (no cuDNN / cuBLAS scratch: those run inside kernels)."""
    import weakref

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    from benchmarks import zoo
    from hybridperf.estimate.runtime_memory import cuda_block_bytes

    class _Blocks(TorchDispatchMode):
        def __init__(self, resident: set[int]):
            super().__init__()
            self.resident, self.live, self.cur, self.peak, self.peak_op = resident, {}, 0, 0, ""

        def _free(self, ptr: int) -> None:
            self.cur -= self.live.pop(ptr, 0)

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    st = t.untyped_storage()
                    ptr = st.data_ptr()
                    if ptr in self.live or ptr in self.resident or st.nbytes() == 0:
                        continue  # a view, an in-place result, a weight or an input
                    self.live[ptr] = cuda_block_bytes(st.nbytes())
                    self.cur += self.live[ptr]
                    weakref.finalize(t, self._free, ptr)
            if self.cur > self.peak:
                self.peak, self.peak_op = self.cur, str(func)
            return out

    cache = json.loads(TORCH_ORACLE.read_text()) if TORCH_ORACLE.exists() else {}
    models = sorted({(r["model"], r["resolution"], r["seq_len"]) for r in _h100_rows()})
    torch.manual_seed(0)
    for name, res, seq in models:
        key = f"{name}_b{args.batch}_{res or seq}_fp32"
        if key in cache:
            continue
        t0 = time.perf_counter()
        try:
            model = zoo.build(name).eval()
            x = zoo.example_inputs(name, args.batch, int(res) if res else None, int(seq) if seq else None)
            resident = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers(), *x]}
            with torch.inference_mode():
                model(*x)
                mode = _Blocks(resident)
                with mode:
                    out = model(*x)
                del out
        except Exception as exc:  # noqa: BLE001 - record and go on
            print(f"{key}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}", file=sys.stderr, flush=True)
            continue
        cache[key] = {"activation_peak_bytes": mode.peak, "peak_op": mode.peak_op}
        TORCH_ORACLE.write_text(json.dumps(cache, indent=1))
        print(f"{key}: {mode.peak / 2**20:.2f} MiB at {mode.peak_op} ({time.perf_counter() - t0:.1f} s)",
              file=sys.stderr, flush=True)
    return 0


def _stored(n: int, dtype: str, half: bool) -> int:
    return n // 2 if half and dtype == "float32" else n


def _scaled(n1: int, n2: int | None, batch: int) -> int:
    """Bytes at ``batch`` from batch 1 and 2 (affine), or from batch 1 alone (proportional)."""
    return n1 + (n2 - n1) * (batch - 1) if n2 is not None else n1 * batch


def torch_prediction(g1: dict, g2: dict | None, batch: int, half: bool, device_id: str = "h100-sxm") -> dict:
    """The PyTorch model's parts for one row, from the cached op lists (``g2``: batch 2's, or None)."""
    from hybridperf.estimate.runtime_memory import (
        EagerOp,
        blas_workspace_bytes,
        fuse_torch_activations,
        torch_cuda_peak,
        torch_eager_activations,
        transformer_layer_holds,
    )

    recs2 = g2["records"] if g2 is not None and len(g2["records"]) == len(g1["records"]) else None
    ops = []
    for i, (op, var, reads, out1, dts) in enumerate(g1["records"]):
        out2 = recs2[i][3] if recs2 else [None] * len(out1)
        ops.append(EagerOp(op, var, tuple(reads), tuple(_stored(_scaled(a, b, batch), dt, half)
                                                        for a, b, dt in zip(out1, out2, dts))))
    fused = fuse_torch_activations(ops)
    holds = transformer_layer_holds(fused)
    plan = torch_eager_activations(fused, g1["inputs"], g1["outputs"], held_until=holds)
    inputs = [_stored(_scaled(n, g2["inputs"][k][0] if recs2 else None, batch), dt, half)
              for k, (n, dt) in g1["inputs"].items()]
    weights = [_stored(n, dt, half) for n, dt in g1["weights"]]
    peak = torch_cuda_peak(weights, inputs, plan.peak_bytes, blas_workspace_bytes(device_id))
    return {"peak": peak.peak_bytes, "act": plan.peak_bytes,
            "weights": peak.part("weights"), "inputs": peak.part("inputs"), "workspace": peak.part("blas_workspace"),
            "weights_total": sum(weights), "affine": recs2 is not None, "transformer": bool(holds)}


def torch_table() -> list[dict]:
    """H100 eager rows joined with the baseline (``features.csv``: TVM plan) and the eager model's prediction."""
    graphs = json.loads(TORCH_GRAPHS.read_text()) if TORCH_GRAPHS.exists() else {}
    with (H100_DIR / "features.csv").open() as fh:
        feats = {r["key"]: r for r in csv.DictReader(fh)}
    rows = []
    for r in _h100_rows():
        key = f"{r['model']}_b{r['batch']}_{r['resolution'] or r['seq_len']}_{r['dtype']}"
        f = feats.get(key)
        g1 = graphs.get(_onnx_name(r["model"], 1, r))
        if f is None or g1 is None:
            continue
        half = r["dtype"] == "fp16"
        pred = torch_prediction(g1, graphs.get(_onnx_name(r["model"], 2, r)), int(r["batch"]), half)
        peak, act = int(r["peak_memory_bytes"]), int(r["activation_peak_bytes"])
        rows.append({"key": key, "family": r["family"], "dtype": r["dtype"], "model": r["model"], "batch": int(r["batch"]),
                     "measured": peak, "measured_act": act, "measured_base": peak - act,
                     "measured_weights": int(r["weights_bytes"]),
                     "before": int(f["predicted_peak_bytes"]),
                     # features.csv holds fp32 sizes for both rows: the old model halved them for fp16 rows
                     "tvm_wi": (int(f["predicted_peak_bytes"]) - int(f["predicted_activation_bytes"])) // (2 if half else 1),
                     "tvm_act": int(f["predicted_activation_bytes"]) // (2 if half else 1),
                     **{f"p_{k}": v for k, v in pred.items()}})
    return rows


def _fixed(r: dict) -> int:
    return r["p_weights"] + r["p_inputs"] + r["p_workspace"]


def _after(r: dict, k: float) -> float:
    """Peak with the factor on the activations of graphs without transformer layers (whose holds are modelled)."""
    return _fixed(r) + (1.0 if r["p_transformer"] else k) * r["p_act"]


def fit_torch(rows: list[dict]) -> float:
    """Activation factor ``k`` of graphs without transformer layers (peak = weights + inputs + workspace +
    k x eager activations): least squares on relative error, closed form."""
    rows = [r for r in rows if not r["p_transformer"]]
    a = np.array([r["p_act"] / r["measured"] for r in rows])
    y = np.array([(r["measured"] - _fixed(r)) / r["measured"] for r in rows])
    return float(a @ y / (a @ a)) if a @ a > 0 else 1.0


def fit_torch_old(rows: list[dict]) -> tuple[float, float]:
    """The model this replaced: workspace + factor x TVM's static plan, least squares on relative error."""
    X = np.array([[1.0, r["tvm_act"]] for r in rows])
    y = np.array([r["measured"] - r["tvm_wi"] for r in rows], float)
    w = 1.0 / np.array([r["measured"] for r in rows], float)
    c = np.linalg.lstsq(X * w[:, None], y * w, rcond=None)[0]
    return float(c[0]), float(c[1])


def torch_heldout(rows: list[dict]) -> list[dict]:
    """Each row predicted with ``k`` (and the old model's constants) fitted on the other folds' families."""
    from hybridperf.estimate.runtime_memory import cuda_block_bytes

    out = []
    for fold in folds([r["family"] for r in rows]):
        train = [r for r in rows if r["family"] not in fold]
        k, (ws, f) = fit_torch(train), fit_torch_old(train)
        for r in rows:
            if r["family"] in fold:
                out.append(dict(r, k=k, after=_after(r, k), rules=r["p_peak"],
                                after_total_w=_after(r, k) - r["p_weights"] + cuda_block_bytes(r["p_weights_total"]),
                                old=r["tvm_wi"] + ws + f * r["tvm_act"]))
    return out


def _render_oracle() -> list[str]:
    """The eager rules on PyTorch's own op sequence (``torch-oracle``) vs the measured activation peak."""
    if not TORCH_ORACLE.exists():
        return []
    oracle = json.loads(TORCH_ORACLE.read_text())
    meas = {f"{r['model']}_b{r['batch']}_{r['resolution'] or r['seq_len']}_{r['dtype']}": int(r["activation_peak_bytes"])
            for r in _h100_rows()}
    pairs = [(k, v["activation_peak_bytes"], meas[k]) for k, v in sorted(oracle.items()) if k in meas]
    if not pairs:
        return []
    err = np.array([p / m - 1 for _, p, m in pairs])
    exact = int(np.sum(np.abs(err) <= 0.01))
    batches = sorted({k.split("_b")[-1].split("_")[0] for k, _, _ in pairs}, key=int)
    off = [x for x in sorted(pairs, key=lambda x: -abs(x[1] / x[2] - 1)) if abs(x[1] / x[2] - 1) > 0.01][:8]
    return ["", "Mechanism check (`python -m benchmarks.memory_runtime torch-oracle`, in an environment with torch): "
            "the same rules (one block per new tensor storage, freed when the tensor dies) applied to PyTorch's own "
            "op sequence and reference lifetimes, traced on the CPU (no cuDNN / cuBLAS scratch, which runs inside "
            f"kernels), vs the measured activation peak, fp32 batch {' and '.join(batches)}: {exact} of {len(pairs)} "
            f"rows within ±1 %, {int(np.sum(np.abs(err) <= 0.05))} within ±5 %, median oracle/measured "
            f"{np.median(err + 1):.3f} (MAPE {np.mean(np.abs(err)) * 100:.1f} %). Largest gaps: "
            + "; ".join(f"{k} {_mib(p)} vs {_mib(m)} MiB" for k, p, m in off)
            + " (gaps of about 1 MiB at batch 1: a cached free block handed out whole, its remainder being 1 MiB or "
            "less; large ones: cuDNN workspaces). So the allocator rules and eager lifetimes hold; what the Relax "
            "graph does not show (which "
            "tensors a module's Python frame holds, which ops PyTorch fuses) and cuDNN's workspaces are what is left."]


def render_torch(rows: list[dict]) -> list[str]:
    held = torch_heldout(rows)
    n_all = len(_h100_rows())
    meas = np.array([r["measured"] for r in held], float)

    def s(key):
        return summary(np.array([r[key] for r in held], float), meas)

    k = fit_torch(rows)
    act = summary(np.array([r["p_act"] for r in held], float), np.array([r["measured_act"] for r in held], float))
    base = summary(np.array([_fixed(r) for r in held], float), np.array([r["measured_base"] for r in held], float))
    fams = sorted({r["family"] for r in held})
    lines = ["", "## PyTorch CUDA (H100 SXM, eager, fp32 + fp16)", "",
             "Measured figure: `torch.cuda.max_memory_allocated()` around one eager inference after warm-up "
             "(`hybridperf.measure.torch_cuda.measure_cuda`, torch 2.11, cuDNN 9.19, `calibration/h100-sxm/`); weights, "
             "inputs and the BLAS workspaces allocated during warm-up are resident before it. "
             "`max_memory_reserved` was not recorded by that run, so only the allocated peak is compared.", "",
             f"Rows: the {len(held)} of {n_all} `ok` rows whose model's ONNX export is analysed in "
             f"`{TORCH_GRAPHS.relative_to(ROOT)}` (`python -m benchmarks.memory_runtime torch-graphs`; batch 1 and 2 "
             "exports, other batches' tensor sizes affine in batch"
             + (f"; proportional to batch where only batch 1 is: {', '.join(sorted({r['model'] for r in held if not r['p_affine']}))}"
                if any(not r["p_affine"] for r in held) else "")
             + f"), {len(fams)} families, 8 family folds.", "",
             "| predictor | n | MAPE | within ±10 % | median pred/meas | target |", "|---|---|---|---|---|---|",
             _row("before: TVM plan + weights + inputs (fp32 sizes)", s("before"), ""),
             _row("previous: fitted workspace + factor x TVM plan, held-out", s("old"), ""),
             _row("after: eager rules only (nothing fitted)", s("rules"), ""),
             _row("**after: eager rules + fitted activation factor, held-out families**", s("after"), "≤ 5 %"),
             "", "Parts (after, rules only):", "",
             "| part | n | MAPE | within ±10 % | median pred/meas |", "|---|---|---|---|---|",
             f"| resident: weight + input blocks + 33 MiB BLAS workspaces vs measured peak - activation peak | "
             f"{base['n']} | {base['mape']:.1f} % | {base['within10']:.0f} % | {base['median_ratio']:.3f} |",
             f"| eager activation peak vs measured activation peak | {act['n']} | {act['mape']:.1f} % | "
             f"{act['within10']:.0f} % | {act['median_ratio']:.3f} |", "",
             f"`hybridperf predict` rounds the weights as one total (the analysis keeps no per-tensor list); with "
             f"that instead of one block per initializer the after MAPE is {s('after_total_w')['mape']:.1f} %.", "",
             f"One constant is fitted: the activation factor k of graphs without transformer layers (all rows: {k:.3f}, "
             f"the constant `TORCH_ACTIVATION_FACTOR` in `hybridperf/estimate/runtime_memory.py`; per fold "
             f"{min(r['k'] for r in held):.3f}..{max(r['k'] for r in held):.3f}). Everything else is derived: the "
             "allocator's block rounding, one block per weight / input / op output, the cuBLAS (32 MiB, "
             "`CUBLAS_WORKSPACE_CONFIG` default `:4096:8` on compute capability 9.x) and cuBLASLt (1 MiB) workspaces, "
             "and the eager activation sweep (`torch_eager_activations`).", "",
             "Per family (held out):", "",
             "| family | n | before MAPE | rules MAPE | after MAPE | activations pred/meas (median) | worst (after) |",
             "|---|---|---|---|---|---|---|"]
    for fam in fams:
        rs = [r for r in held if r["family"] == fam]
        m = np.array([r["measured"] for r in rs], float)
        mape = lambda key: float(np.mean(np.abs(np.array([r[key] for r in rs], float) / m - 1)) * 100)  # noqa: E731
        worst = max(rs, key=lambda r: abs(r["after"] / r["measured"] - 1))
        ar = np.median([r["p_act"] / r["measured_act"] for r in rs])
        lines.append(f"| {fam} | {len(rs)} | {mape('before'):.1f} % | {mape('rules'):.1f} % | {mape('after'):.1f} % | "
                     f"{ar:.2f} | {worst['key']} {_mib(worst['after'])} vs {_mib(worst['measured'])} MiB |")
    lines += _render_oracle()
    big = [r for r in held if r["measured_act"] > 1.5 * r["p_act"] and r["measured_act"] - r["p_act"] > 50 * 2**20]
    rest = [r for r in held if r not in big]
    rest_mape = float(np.mean([abs(r["after"] / r["measured"] - 1) for r in rest]) * 100)
    lines += ["", f"Rows whose measured activation peak exceeds the rules' by 1.5x and 50 MiB or more (a kernel-internal "
              f"workspace, cuDNN's convolution scratch for these convolutional models): {len(big)} "
              f"({', '.join(r['key'] for r in big)}); without them the after MAPE is {rest_mape:.1f} %."]
    lines += ["", "Worst held-out rows (after):", ""]
    for r in sorted(held, key=lambda r: -abs(r["after"] / r["measured"] - 1))[:8]:
        lines.append(f"* {r['key']}: predicted {_mib(r['after'])} MiB, measured {_mib(r['measured'])} MiB "
                     f"({(r['after'] / r['measured'] - 1) * 100:+.0f} %; activations {_mib(r['after'] - _fixed(r))} vs "
                     f"{_mib(r['measured_act'])} MiB)")
    return lines


# --------------------------------------------------------------------------- TVM


def render_tvm() -> list[str]:
    from hybridperf.estimate.runtime_memory import tvm_peak

    rows = [r for r in json.loads((RESULTS / "memory.json").read_text()) if r.get("kind") == "zoo" and "error" not in r]
    meas = np.array([r["rss"] + r["weights"] + r["inputs"] for r in rows], float)
    before = np.array([r["planned"] + r["weights"] + r["inputs"] for r in rows], float)
    after = np.array([tvm_peak(r["planned"], r["workspace"], r["weights"], r["inputs"]).peak_bytes for r in rows], float)
    act_meas = np.array([r["rss"] for r in rows], float)
    act_after = np.array([r["planned"] + r["workspace"] for r in rows], float)
    sb, sa, sact = summary(before, meas), summary(after, meas), summary(act_after, act_meas)
    return ["", "## TVM Relax VM (CPU, llvm)", "",
            "Measured figure: resident peak of TVM's VM for one run + weights + inputs "
            "(`benchmarks/memory_accuracy.py`, stored in `benchmarks/results/memory.json`). Nothing is fitted.", "",
            "| predictor | n | MAPE | within ±10 % | median pred/meas | target |", "|---|---|---|---|---|---|",
            _row("before: TVM plan + weights + inputs", sb, ""),
            _row("after: plan + kernel workspace + weights + inputs", sa, "≤ 2 %"),
            _row("after, activations only (plan + workspace vs VM RSS)", sact, "")]


# --------------------------------------------------------------------------- report


def _mib(b: float | None) -> str:
    return "-" if b is None else f"{b / 2**20:.2f}"


def _row(label: str, s: dict, target: str) -> str:
    return f"| {label} | {s['n']} | {s['mape']:.1f} % | {s['within10']:.0f} % | {s['median_ratio']:.3f} | {target} |"


def render_ort(rows: list[dict]) -> list[str]:
    held = ort_heldout(rows, "fresh")
    held_csv = ort_heldout(rows, "csv")
    base = [r for r in rows if r["before"]]
    sb_all = summary(np.array([r["before"] for r in base], float), np.array([r["measured"] for r in base], float))

    def s(rs, key):
        return summary(np.array([r[key] for r in rs], float), np.array([r["truth"] for r in rs], float))

    fit = fit_ort(rows, "fresh")
    drift = [r for r in held if abs(r["fresh"]["peak"] / r["measured"] - 1) > 0.01]
    lines = [
        "## onnxruntime CPU (host-epyc-1c, onnxruntime 1.32, 1 thread)", "",
        "Measured figure: `hybridperf.measure.onnxruntime` (RSS growth at session load + VmHWM growth over 2 runs + input bytes; "
        "CPU arena off, glibc `MALLOC_MMAP_THRESHOLD_=65536`). It is resident memory, not arena statistics, so the "
        "model predicts resident pages: initializers page-rounded, the memory-pattern block, outputs, fixed overheads.", "",
        f"Ground truth: **today's files** = the same measurement of the ONNX files in `.zoo/` now "
        f"(`python -m benchmarks.memory_runtime measure`, core 0); **CSV** = `{CPU_DIR.relative_to(ROOT)}/measurements.csv`. "
        f"The zoo was re-exported since the CSV was measured and {len(drift)} of the {len(held)} re-measured files "
        f"differ by more than 1 % in measured peak (up to "
        f"{max((abs(r['fresh']['peak'] / r['measured'] - 1) for r in held), default=0) * 100:.0f} %: "
        f"{', '.join(sorted({r['family'] for r in drift}))}); the structural part reads today's file, so "
        "'today's files' is the like-for-like comparison. Rows without a file in `.zoo/` are left out of 'after'.", "",
        "| predictor | ground truth | n | MAPE | within ±10 % | median pred/meas | target |", "|---|---|---|---|---|---|---|",
        f"| before: TVM plan + weights + inputs | CSV, all rows | {sb_all['n']} | {sb_all['mape']:.1f} % | "
        f"{sb_all['within10']:.0f} % | {sb_all['median_ratio']:.3f} | (issue: 21.4 %) |",
    ]
    for label, rs, gt in [("before: TVM plan + weights + inputs", held, "today's files"),
                          ("**after: onnxruntime model, held-out families**", held, "today's files"),
                          ("before: TVM plan + weights + inputs", held_csv, "CSV, rows with a file"),
                          ("after: onnxruntime model, held-out families", held_csv, "CSV, rows with a file")]:
        x = s(rs, "after" if "after" in label else "before")
        lines.append(f"| {label} | {gt} | {x['n']} | {x['mape']:.1f} % | {x['within10']:.0f} % | "
                     f"{x['median_ratio']:.3f} | {'≤ 5 %, ≥ 90 %' if 'after' in label else ''} |")
    lines += [
        "",
        f"Overheads fitted on all rows of today's files (the constants in `hybridperf/estimate/runtime_memory.py`): session "
        f"{fit[0] / 2**20:.2f} MiB + {fit[1] / 1024:.1f} KiB per node of the optimised graph, run {fit[2] / 2**20:.2f} MiB. "
        "Everything else is derived: onnxruntime's optimised graph (its own optimiser), tensor shapes, the sequential "
        "planner's reuse (same shape only, in place when the input dies) and the memory pattern's best-fit offsets.", "",
        "Reading: the measured run peak is onnxruntime's memory-pattern block, not the live set. The planner "
        "reuses a freed buffer only for a later value of the same shape, and the pattern keeps that buffer "
        "allocated until its last user dies, so reuse can *raise* the peak (gpt2 b1: pattern 9.0 MiB vs live set "
        "2.3 MiB; measured run 10.0 MiB); `tests/test_runtime_memory.py` pins this on a hand-built graph against "
        "onnxruntime itself (pattern 48 MiB + output 8 MiB predicted, about 56 MiB measured; live set 32 MiB). "
        "Kernel-internal scratch (e.g. im2col buffers of convolutions onnxruntime does not run as NCHWc) is not "
        "modelled beyond the fitted run overhead; the largest miss left, segformer (about 55 MiB more measured than "
        "the pattern + outputs hold), is of that kind or a shape rule, not yet isolated.", "",
        "Per family (held out, today's files):", "",
        "| family | n | before MAPE | after MAPE | after within ±10 % | worst (after) |", "|---|---|---|---|---|---|",
    ]
    for fam in sorted(set(r["family"] for r in held)):
        rs = [r for r in held if r["family"] == fam]
        b, a = s(rs, "before"), s(rs, "after")
        worst = max(rs, key=lambda r: abs(r["after"] / r["truth"] - 1))
        lines.append(f"| {fam} | {a['n']} | {b['mape']:.1f} % | {a['mape']:.1f} % | {a['within10']:.0f} % | "
                     f"{worst['key']} {_mib(worst['after'])} vs {_mib(worst['truth'])} MiB |")
    return lines


def cmd_report(args) -> int:
    rows = ort_table()
    lines = [f"# Peak memory per runtime: model vs measured, held-out families", "", f"Reproduce: `{COMMAND}`", ""]
    lines += render_ort(rows)
    trows = torch_table()
    lines += render_torch(trows)
    lines += render_tvm()
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)
        keep = ("key", "family", "measured", "measured_act", "before", "old", "rules", "after", "k", "p_act",
                "p_weights", "p_inputs", "p_workspace", "p_transformer")
        TORCH_ROWS.write_text(json.dumps([{k: r[k] for k in keep} for r in torch_heldout(trows)], indent=0))
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("features")
    sub.add_parser("measure")
    sub.add_parser("torch-graphs")
    op = sub.add_parser("torch-oracle")
    op.add_argument("--batch", type=int, default=1)
    rp = sub.add_parser("report")
    rp.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    return {"features": cmd_features, "measure": cmd_measure, "torch-graphs": cmd_torch_graphs,
            "torch-oracle": cmd_torch_oracle,
            "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
