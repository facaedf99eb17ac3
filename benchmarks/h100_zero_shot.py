"""H100 as a device never trained on: roofline vs zero-shot vs few-shot K=10 vs 10 rows alone.

The cross-device operator model (``hybridperf/data/models/cross-device``) is trained on NeuSight's
P4, P100, T4, V100 and A100 operators only; no H100 row enters it. H100 is a test set: it is evaluated,
never tuned on, with one qualification: the kernel mapping (which Relax ops launch a kernel: activation groups,
views) was revised after comparing predicted launches with the H100 profiler's kernel counts of the same models
scored here (``calibration/h100-sxm/torch-kernels-fp32-fp16.csv``), and eager latency is about launches x the host
floor, so the zero-shot column is not free of the test set; no number was fitted to it. Every ``status == ok``
row of ``calibration/h100-sxm/torch-cudagraph-fp32-fp16.csv`` and ``torch-eager-fp32-fp16.csv`` (batch 1, 8
and 32) is scored: each row's ONNX file (``onnx_file`` column) is
analysed once, from ``.zoo/`` or ``.zoo/h100/`` (:data:`ZOO_DIRS`) or, with ``--export-missing PYTHON``,
exported first by the row's ``onnx_export_cmd`` run with that interpreter (one with torch; cwd the
repository, into ``.zoo/``), and priced on the ``h100-sxm`` sheet:

* **roofline**: ``hybridperf predict --roofline-only`` (TVM-fused kernels, sheet launch overhead);
* **zero-shot**: :class:`hybridperf.residual.zero_shot.ZeroShotGpu` with the measured runtime
  (``torch-cudagraph`` rows: summed device time; ``torch`` eager rows: ``max(host, device)``), device times from
  the shipped cross-device model at the runtime's device floor (what ``hybridperf predict`` does);
  column ``kernel-time variant``: the same kernels priced by the kernel-time model (``--kernel-time DIR``,
  default ``benchmarks/models/cross-device-kernel``, :mod:`hybridperf.residual.kernel_time`; not shipped: it is
  less accurate on NeuSight's leave-one-GPU-out, ``benchmarks/results/gpu_kernel_time.md``);
* **few-shot K=10**: :meth:`ZeroShotGpu.adapt` (eager: op-weighted host level; CUDA graphs: kernel-ridge
  residual correction; strengths by leave-one-out on the 10 rows) fitted on 10 rows and scored on the rest;
  10 draws (seed 0). Since 2026-12-04 a draw picks 10 random *networks* (:func:`network`: a row's ``model``
  column; batch 1, 8 and 32 of one model are one network) and one configuration of each (its batch drawn at
  random), and scores every configuration of the networks not drawn (:func:`network_draws`). Before, it picked
  10 random configurations and scored the others, so another batch of a drawn network was scored: the
  adaptation was scored partly on near-copies of its training rows;
* **10 rows alone**: ridge regression of ``log latency`` on ``log roofline`` and ``log kernel count``
  fitted on the same 10 rows, scored on the same rest; the zero-shot ``held-out`` column is scored on that rest too.

fp16 rows: the operator data is fp32 only; fp16 kernels are priced with the sheet's fp16 peak.
fp32 and fp16 are reported separately, all batches together and per batch.

The per-configuration prices are cached (``--cache``, JSON, default ``.zoo/h100_zero_shot_cache.json``, out of
git) under a fingerprint of what they depend on (:func:`fingerprint`: every file of the package that pricing reads,
sources, sheets and the shipped model, and the kernel-time model's files); a cache written under another
fingerprint is ignored. Without ``--export-missing``, a configuration with neither an ONNX file nor a
cache entry is an error that names its export command. A configuration that cannot be exported or analysed is
recorded in the cache with the reason and listed in the results as excluded (never dropped silently); with
``--export-missing`` it is tried again. ``--drop-exports`` deletes each ONNX file this run exported once it is
priced (files that were there before are never deleted). Writes ``benchmarks/results/h100_zero_shot.md``::

    taskset -c 0,1 nice -n 5 .venv/bin/python -m benchmarks.h100_zero_shot \\
        --export-missing .venv-bench/bin/python --drop-exports
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
H100 = ROOT / "calibration" / "h100-sxm"
ZOO = ROOT / ".zoo"
#: where a row's ONNX file is looked for, in order (``.zoo/h100/``: the H100 exports ``benchmarks.memory_runtime``
#: reads, written by the same ``benchmarks.zoo`` commands with ``--out-dir .zoo/h100``)
ZOO_DIRS = (ZOO, ZOO / "h100")
CACHE = ZOO / "h100_zero_shot_cache.json"
OUT = ROOT / "benchmarks" / "results" / "h100_zero_shot.md"
KERNEL_TIME_DIR = ROOT / "benchmarks" / "models" / "cross-device-kernel"
#: the package whose pricing files :func:`fingerprint` hashes
PACKAGE = ROOT / "hybridperf"
SETS = (("torch-cudagraph", "torch-cudagraph-fp32-fp16.csv", "CUDA graphs (latency ~ GPU time)", 12.0),
        ("torch", "torch-eager-fp32-fp16.csv", "eager (host dispatch + GPU)", 15.0))
BATCHES = ("1", "8", "32")
K, DRAWS, RIDGE = 10, 10, 1.0
MIN_FREE_GB = 4.0
COMMAND = ("taskset -c 0,1 nice -n 5 .venv/bin/python -m benchmarks.h100_zero_shot --cache "
           ".zoo/h100_zero_shot_cache.json --export-missing .venv-bench/bin/python --drop-exports")
EXPORT_PREFIX = ["python", "-m", "benchmarks.zoo", "--export"]


def _all_rows(name: str) -> list[dict]:
    """Every ``status == ok`` row of one H100 calibration file."""
    with open(H100 / name, newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["status"] == "ok"]


def _rows(name: str, failed: dict | None = None) -> list[dict]:
    """The rows scored: every ok row except those whose configuration is in ``failed`` (listed as excluded)."""
    return [r for r in _all_rows(name) if r["onnx_file"] not in (failed or {})]


def network(row: dict) -> str:
    """The network a calibration row measures: its ``model`` column (one configuration per batch size, e.g.
    ``resnet18`` at batch 1, 8 and 32 is one network). Few-shot draws hold out whole networks
    (:func:`network_draws`)."""
    name = (row.get("model") or "").strip()
    if not name:
        raise SystemExit(f"error: an H100 row ({row.get('onnx_file') or 'no onnx_file'}) has no model name; "
                         "fill its `model` column")
    return name


def network_draws(nets: list[str], k: int, draws: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``draws`` few-shot splits ``(train, test)`` of row indices, where ``nets[i]`` is row ``i``'s :func:`network`:
    ``k`` random networks, one random configuration (row) of each in ``train``; ``test`` = every row of the networks
    not drawn, so no network is both fitted on and scored. One ``numpy`` generator seeded ``seed`` for all draws."""
    names = list(dict.fromkeys(nets))
    if len(names) <= k:
        raise SystemExit(f"error: {len(names)} networks, need more than K={k} to hold any out; lower K")
    rows = {n: np.flatnonzero(np.asarray(nets) == n) for n in names}
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(draws):
        chosen = [names[i] for i in rng.permutation(len(names))[:k]]
        train = np.array([int(rng.choice(rows[n])) for n in chosen])
        test = np.flatnonzero(~np.isin(np.asarray(nets), chosen))
        out.append((train, test))
    return out


def _configs() -> dict[str, dict]:
    """``{onnx_file: {"cmd": export command, "combos": {(runtime, dtype)}}}`` over both sets."""
    need: dict[str, dict] = {}
    for rt, name, _, _ in SETS:
        for r in _all_rows(name):
            c = need.setdefault(r["onnx_file"], {"cmd": r["onnx_export_cmd"], "combos": set()})
            if c["cmd"] != r["onnx_export_cmd"]:
                raise SystemExit(f"error: {r['onnx_file']} has two export commands: {c['cmd']!r}, "
                                 f"{r['onnx_export_cmd']!r}")
            c["combos"].add((rt, r["dtype"]))
    return need


#: subpackages of ``hybridperf`` a price does not depend on (the command line, reports, measuring)
_NOT_PRICING = ("commands", "report", "measure")


def fingerprint(kernel_time_dir: Path | None = None) -> str:
    """sha256 over what a cached price depends on: every file of the ``hybridperf`` package that pricing reads
    (sources, device sheets, the shipped cross-device model; all but :data:`_NOT_PRICING`) and the kernel-time
    model's files (when priced), and this benchmark's own source (how it prices: until 2026-12-05 not in the
    fingerprint, so a change to :func:`_price_one` reused the old prices). Any edit there, a docstring included,
    makes the cache stale: a rerun prices again."""
    h = hashlib.sha256()
    pkg = PACKAGE
    files = [("hybridperf", p) for p in sorted(pkg.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
             and p.relative_to(pkg).parts[0] not in _NOT_PRICING]
    files.append(("benchmark", Path(__file__).resolve()))
    if kernel_time_dir:
        files += [("kernel-time", p) for p in sorted(Path(kernel_time_dir).iterdir()) if p.is_file()]
    for tag, p in files:
        h.update(f"{tag}/{p.relative_to(pkg) if tag == 'hybridperf' else p.name}\n".encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def load_cache(path: Path | None, fp: str) -> dict:
    """``{"fingerprint", "entries", "failed"}`` from ``path``; empty when absent or written under another fingerprint."""
    empty = {"fingerprint": fp, "entries": {}, "failed": {}}
    if not path or not path.exists():
        return empty
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("fingerprint") != fp:
        print(f"{path}: written under another fingerprint (model, sheet or analysis changed): ignored",
              file=sys.stderr, flush=True)
        return empty
    return {"fingerprint": fp, "entries": data.get("entries", {}), "failed": data.get("failed", {})}


def _save(cache: dict, path: Path | None) -> None:
    from hybridperf.files import write_atomic

    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(cache))


def _locate(onnx: str) -> Path | None:
    return next((d / onnx for d in ZOO_DIRS if (d / onnx).exists()), None)


def _export(onnx: str, cmd: str, python: str) -> tuple[Path | None, str]:
    """Run ``cmd`` (``python -m benchmarks.zoo --export ...``) with ``python``; ``(path, "")`` or ``(None, reason)``."""
    argv = shlex.split(cmd)
    if argv[:4] != EXPORT_PREFIX or "--out-dir" in argv:
        return None, f"unexpected export command {cmd!r}"
    t0 = time.perf_counter()
    res = subprocess.run([python, *argv[1:]], cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        tail = (res.stderr.strip().splitlines() or [f"exit {res.returncode}"])[-1]
        return None, f"export failed: {tail[:300]}"
    path = ZOO / onnx
    if not path.exists():
        return None, f"the export command wrote no .zoo/{onnx} (stdout: {res.stdout.strip()[:200]})"
    print(f"  exported in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return path, ""


def _price_one(path: Path, combos, spec, model, kernel_time) -> dict:
    from hybridperf.analysis.analyze import analyze
    from hybridperf.api import predict_on
    from hybridperf.residual.zero_shot import ZeroShotGpu

    analyzed = analyze(str(path))
    out = {}
    for rt, dt in sorted(combos):
        prec = None if dt == "fp32" else dt
        zs = ZeroShotGpu(model, rt)
        # the breakdown prices the graph as the runtime runs it, as `predict` does (as_run_by: constant subexpressions
        # and the normaliser's folded nodes computed every call; until 2026-12-05 this benchmark priced it as folded)
        bd, _ = zs.breakdown(analyzed, spec, prec)
        roof = predict_on(analyzed, spec, prec, residual=None).latency_s
        e = {"device_s": list(bd.device_s), "group": list(bd.group), "host_floor_s": bd.host_floor_s,
             "host_weights": list(bd.host_weights), "roofline_s": roof}
        if kernel_time is not None:
            kt, _ = ZeroShotGpu(model, rt, kernel_time=kernel_time).breakdown(analyzed, spec, prec)
            e["kt_device_s"] = list(kt.device_s)
        out[f"{path.name}|{rt}|{dt}"] = e
    return out


def _price_all(cache_path: Path | None, kernel_time_dir: Path | None = None, export_python: str | None = None,
               drop_exports: bool = False, min_free_gb: float = MIN_FREE_GB) -> dict:
    """Price every configuration; the cache ``{"fingerprint", "entries": {"onnx|runtime|dtype": {"device_s", "group",
    "host_floor_s", "host_weights", "roofline_s", "kt_device_s"}}, "failed": {onnx: reason}}`` (saved after each)."""
    cache = load_cache(cache_path, fingerprint(kernel_time_dir))
    entries, failed = cache["entries"], cache["failed"]
    need = _configs()
    todo = {o: c for o, c in sorted(need.items())
            if not all(f"{o}|{rt}|{dt}" in entries for rt, dt in c["combos"])
            and (export_python or o not in failed)}
    missing = [c["cmd"] for o, c in todo.items() if _locate(o) is None]
    if missing and not export_python:
        raise SystemExit(f"error: {len(missing)} configuration(s) have no ONNX file under .zoo/ or .zoo/h100/ and no cache entry; "
                         "export them (an interpreter with torch, from the repository root) or pass "
                         "--export-missing PYTHON:\n  " + "\n  ".join(missing))
    if not todo:
        return cache
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.zero_shot import load_cross_device, load_kernel_time

    spec = load_spec("h100-sxm")
    model = load_cross_device()
    kernel_time = load_kernel_time(kernel_time_dir) if kernel_time_dir else None
    for i, (onnx, c) in enumerate(todo.items()):
        print(f"[{i + 1}/{len(todo)}] {onnx}", file=sys.stderr, flush=True)
        path, exported = _locate(onnx), False
        try:
            if path is None:
                free_gb = shutil.disk_usage(ZOO).free / 1e9
                if free_gb < min_free_gb:
                    print(f"  not exported: {free_gb:.1f} GB free < {min_free_gb:g} GB", file=sys.stderr, flush=True)
                    failed[onnx] = f"not exported: {free_gb:.1f} GB disk free < {min_free_gb:g} GB"
                    continue
                path, reason = _export(onnx, c["cmd"], export_python)
                if path is None:
                    failed[onnx] = reason
                    continue
                exported = True
            t0 = time.perf_counter()
            try:
                entries.update(_price_one(path, c["combos"], spec, model, kernel_time))
                failed.pop(onnx, None)
            except Exception as exc:  # noqa: BLE001 - recorded and listed as excluded, not raised
                first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
                first = first.replace(f"{ROOT}/", "")
                failed[onnx] = f"analysis failed: {type(exc).__name__}: {first[:600]}"
            print(f"  priced in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        finally:
            if exported and drop_exports:
                path.unlink(missing_ok=True)
            _save(cache, cache_path)
    return cache


def _breakdown(entry: dict, runtime: str, device_key: str = "device_s"):
    from hybridperf.estimate.execution import execution
    from hybridperf.residual.zero_shot import Breakdown

    return Breakdown(tuple(entry[device_key]), tuple(entry["group"]), entry["host_floor_s"], execution(runtime, "gpu"),
                     host_weights=tuple(entry.get("host_weights", ())))


def _scores(pred, true) -> tuple[float, float]:
    e = np.abs(np.asarray(pred) / np.asarray(true) - 1)
    return float(e.mean() * 100), float((e <= 0.10).mean() * 100)


def _alone(roof, n, y, train, test) -> np.ndarray:
    X = np.column_stack([np.ones(len(y)), np.log(roof), np.log(n)])
    A = X[train]
    lam = np.diag([0.0, RIDGE, RIDGE])
    w = np.linalg.solve(A.T @ A + lam, A.T @ np.log(y[train]))
    return np.exp(X[test] @ w)


def eager_retest() -> tuple[int, float, float]:
    """Ground-truth noise of eager rows: the same model's fp32 and fp16 runs (batch 1) when both are host-bound
    (GPU kernel time under half the latency) and launch the same number of kernels (+-10 %), so their host work is
    the same: ``(pairs, mean |fp16 / fp32 - 1| %, median %)``."""
    def load(name):
        with open(H100 / name, newline="") as fh:
            return {(r["model"], r["batch"], r["dtype"]): r for r in csv.DictReader(fh) if r["status"] == "ok"}

    eager, prof = load("torch-eager-fp32-fp16.csv"), load("torch-kernels-fp32-fp16.csv")
    d = []
    for (m, b, dt), r in eager.items():
        k32, k16, r16 = (m, b, "fp32"), (m, b, "fp16"), eager.get((m, b, "fp16"))
        if dt != "fp32" or b != "1" or r16 is None or k32 not in prof or k16 not in prof:
            continue
        y32, y16 = float(r["latency_median_s"]), float(r16["latency_median_s"])
        g32, g16 = float(prof[k32]["gpu_kernel_time_s"]), float(prof[k16]["gpu_kernel_time_s"])
        n32, n16 = float(prof[k32]["kernels_per_inference"]), float(prof[k16]["kernels_per_inference"])
        if g32 < 0.5 * y32 and g16 < 0.5 * y16 and abs(n16 / n32 - 1) < 0.1:
            d.append(abs(y16 / y32 - 1))
    return len(d), float(np.mean(d) * 100) if d else float("nan"), float(np.median(d) * 100) if d else float("nan")


def launch_counts(cache: dict) -> list[tuple[str, int, int]]:
    """``(model, launches predicted, kernels the profiler counted)`` for the CUDA-graph fp32 rows the profiler has."""
    with open(H100 / "torch-kernels-fp32-fp16.csv", newline="") as fh:
        prof = {(r["model"], r["batch"], r["dtype"]): float(r["kernels_per_inference"]) for r in csv.DictReader(fh)
                if r["status"] == "ok"}
    out = []
    for r in _rows("torch-cudagraph-fp32-fp16.csv", cache["failed"]):
        k = (r["model"], r["batch"], r["dtype"])
        if r["dtype"] == "fp32" and k in prof:
            n = len(cache["entries"][f"{r['onnx_file']}|torch-cudagraph|fp32"]["device_s"])
            out.append((r["model"], n, int(prof[k])))
    return out


def excluded(cache: dict) -> list[tuple[str, str, int]]:
    """``(onnx file, reason, rows it removes)`` for each configuration that could not be exported or analysed."""
    n = {}
    for _, name, _, _ in SETS:
        for r in _all_rows(name):
            n[r["onnx_file"]] = n.get(r["onnx_file"], 0) + 1
    return [(o, reason, n.get(o, 0)) for o, reason in sorted(cache["failed"].items()) if o in n]


def evaluate(cache: dict) -> list[dict]:
    """Scores per runtime and dtype over every priced row, with a per-batch breakdown (``per_batch``)."""
    from hybridperf.residual.zero_shot import ZeroShotGpu, load_cross_device

    base = load_cross_device()
    out = []
    for rt, name, label, target in SETS:
        for dt in ("fp32", "fp16"):
            rows = [r for r in _rows(name, cache["failed"]) if r["dtype"] == dt]
            if not rows:
                continue
            ents = [cache["entries"][f"{r['onnx_file']}|{rt}|{dt}"] for r in rows]
            y = np.array([float(r["latency_median_s"]) for r in rows])
            bds = [_breakdown(e, rt) for e in ents]
            roof = np.array([e["roofline_s"] for e in ents])
            zs = np.array([b.latency_s() for b in bds])
            probed = None
            if rt == "torch":  # host floor from the device's 2-second launch probe instead of the training median
                from dataclasses import replace

                floor = json.loads((H100 / "probe.json").read_text())["launch_queued_s"]
                probed = _scores([replace(b, host_floor_s=floor).latency_s() for b in bds], y)
            kts = (np.array([_breakdown(e, rt, "kt_device_s").latency_s() for e in ents])
                   if all("kt_device_s" in e for e in ents) else None)
            kt = _scores(kts, y) if kts is not None else None
            batch = np.array([r["batch"] for r in rows])
            per_batch = {}
            for b in BATCHES:
                m = batch == b
                if m.any():
                    per_batch[b] = {"n": int(m.sum()), "roofline": _scores(roof[m], y[m]),
                                    "zero_shot": _scores(zs[m], y[m]),
                                    "kernel_time": _scores(kts[m], y[m]) if kts is not None else None}
            nk = np.array([len(b.device_s) for b in bds], float)
            few, alone, zs_held = [], [], []
            for tr, te in network_draws([network(r) for r in rows], K, DRAWS, seed=0):
                m = ZeroShotGpu(base, rt).adapt([(bds[i], y[i]) for i in tr])
                few.append(_scores([m.latency_s(bds[i]) for i in te], y[te]))
                alone.append(_scores(_alone(roof, nk, y, tr, te), y[te]))
                zs_held.append(_scores(zs[te], y[te]))
            out.append({
                "set": label, "runtime": rt, "dtype": dt, "n": len(y), "target": target,
                "roofline": _scores(roof, y), "zero_shot": _scores(zs, y), "kernel_time": kt,
                "probed": probed, "per_batch": per_batch,
                "host_floor_s": bds[0].host_floor_s,
                "zero_shot_held": tuple(np.mean(zs_held, axis=0)), "few_shot": tuple(np.mean(few, axis=0)),
                "alone": tuple(np.mean(alone, axis=0)),
                "covered": float(np.mean([sum(g != "roofline" for g in e["group"]) / len(e["group"]) for e in ents])),
            })
    return out


def render(res: list[dict], counts: list | None = None, retest: tuple | None = None,
           excl: list[tuple[str, str, int]] | None = None) -> str:
    L = ["# H100 zero-shot: a GPU never trained on\n", f"Command: `{COMMAND}`\n",
         "Device sheet `h100-sxm` (spec only). Cross-device operator model trained on NeuSight's P4, P100, T4, V100, "
         "A100 fp32 operators (no H100 row). Ground truth: every `status == ok` row of `calibration/h100-sxm/"
         "torch-cudagraph-fp32-fp16.csv` and `torch-eager-fp32-fp16.csv` (batch 1, 8 and 32; each row's ONNX export "
         "taken from `.zoo/` or made by its `onnx_export_cmd`; configurations that cannot be exported or analysed are "
         "listed below as excluded). H100 is a test set: no number is fitted to it, but the kernel mapping (which "
         "ops launch a kernel: activation groups, views) was revised after comparing predicted launches with the H100 "
         "profiler's kernel counts of these same models, and eager latency is about launches x the host floor, so "
         "the zero-shot column is not free of the test set. Model-level "
         "MAPE = mean |pred / measured - 1|; `±10 %` = share of configurations within 10 %. fp16 rows: the operator "
         "data is fp32 only, fp16 kernels are priced with the sheet's fp16 peak (989 TFLOP/s dense tensor) and "
         "halved traffic.\n",
         f"Few-shot K={K} (`ZeroShotGpu.adapt`): eager, the host cost per launch becomes op-dependent (NeuSight's "
         "per-operator dispatch ratios, `HOST_WEIGHT`) with its level fitted (ridge toward the zero-shot level); CUDA "
         "graphs, a kernel-ridge correction of log(measured / predicted) over the models' composition (device-time share "
         f"per kernel group, size, launches); every strength chosen by leave-one-out on the {K} rows only. Fitted on {K} "
         f"random networks, one configuration (batch) of each drawn at random, scored on every configuration of the "
         f"networks not drawn (a network = a row's `model`: its batch 1, 8 and 32 are one network), mean of {DRAWS} "
         "draws (seed 0). This rule since 2026-12-04; before, the 10 were random configurations scored on the other "
         "configurations, so another batch of a drawn network could be scored (near-copies of the training rows). "
         "10 rows alone: ridge regression of log latency on log roofline and log kernel count, fitted on the same 10 "
         "rows. The zero-shot column `held-out` is scored on the same held-out rows as K=10.\n",
         "Zero-shot device times: the shipped cross-device model (trained on eager latencies, dispatch included) at "
         "the runtime's device floor, as `hybridperf predict` prices them. The column `kernel-time variant` prices the "
         "same kernels with the kernel-time model (`benchmarks/models/cross-device-kernel`, "
         "`benchmarks/gpu_kernel_time.py`: NeuSight latencies less each op's eager dispatch, learned as kernel time); "
         "it is not shipped because on NeuSight's leave-one-GPU-out (the training data, where the choice is made) it "
         "is less accurate than the cross-device model (`benchmarks/results/gpu_kernel_time.md`).\n",
         "| runtime | dtype | n | roofline MAPE / ±10 % | zero-shot MAPE / ±10 % | kernel-time variant | zero-shot held-out "
         "| K=10 MAPE / ±10 % | 10 rows alone | target (zero-shot) | kernels learned |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    f = lambda s: f"{s[0]:.1f} % / {s[1]:.0f} %"  # noqa: E731
    for r in res:
        L.append(f"| {r['runtime']} | {r['dtype']} | {r['n']} | {f(r['roofline'])} | {f(r['zero_shot'])} | "
                 f"{f(r['kernel_time']) if r['kernel_time'] else '-'} | {f(r['zero_shot_held'])} | {f(r['few_shot'])} | {f(r['alone'])} | ≤ {r['target']:.0f} % "
                 f"({'met' if r['zero_shot'][0] <= r['target'] else 'not met'}) | {r['covered'] * 100:.0f} % |")
    L += ["", "Per batch (the same rows and predictions as above, split by batch size; batch 1 is the set the earlier "
          "versions of this benchmark scored):", "",
          "| runtime | dtype | batch | n | roofline MAPE / ±10 % | zero-shot MAPE / ±10 % | kernel-time variant |",
          "|---|---|---:|---:|---:|---:|---:|"]
    for r in res:
        for b, pb in r["per_batch"].items():
            L.append(f"| {r['runtime']} | {r['dtype']} | {b} | {pb['n']} | {f(pb['roofline'])} | {f(pb['zero_shot'])} | "
                     f"{f(pb['kernel_time']) if pb['kernel_time'] else '-'} |")
    L.append("")
    sizes = ", ".join(f"{r['runtime']} {r['dtype']} {r['n']} ("
                      + " / ".join(f"b{b}: {pb['n']}" for b, pb in r["per_batch"].items()) + ")" for r in res)
    L.append(f"- Rows scored: {sizes}.")
    if excl:
        L.append(f"- Excluded ({len(excl)} configuration(s), {sum(n for _, _, n in excl)} rows over both files; "
                 "never scored):")
        L += [f"  - `{o}` ({n} rows): {reason}" for o, reason, n in excl]
    else:
        L.append("- Excluded: none (every ok row is scored).")
    for r in res:
        if r["probed"] is not None:
            L.append(f"- {r['runtime']} {r['dtype']}: zero-shot host floor {r['host_floor_s'] * 1e6:.1f} us per launch (the "
                     "training GPUs' median tiny-op latency); with the H100 host's own probed launch time "
                     f"(`calibration/h100-sxm/probe.json` launch_queued_s, a 2-second probe, no model measured): "
                     f"{r['probed'][0]:.1f} % / {r['probed'][1]:.0f} %.")
    if retest:
        L.append(f"- Eager ground truth is noisy: {retest[0]} models whose fp32 and fp16 eager runs (batch 1) are both host-bound "
                 f"(GPU busy < 50 %) with the same kernel count (±10 %), i.e. the same host work, differ by "
                 f"{retest[1]:.1f} % on average (median {retest[2]:.1f} %; `calibration/h100-sxm/torch-eager-fp32-fp16.csv`, "
                 "`torch-kernels-fp32-fp16.csv`): noise of the order of the 15 % eager target.")
    if counts:
        e = [abs(p / m - 1) for _, p, m in counts]
        L.append(f"- Launches predicted vs kernels the profiler counted (CUDA graphs, fp32, {len(counts)} configurations the "
                 f"profiler has): median |ratio - 1| {np.median(e) * 100:.1f} %, within ±5 % for "
                 f"{np.mean(np.array(e) <= 0.05) * 100:.0f} % of them "
                 "(no number fitted to them, but the kernel mapping was revised after comparing with these counts).")
    L.append("")
    for r in res:
        beats = r["few_shot"][0] < r["zero_shot_held"][0] and r["few_shot"][0] < r["alone"][0]
        L.append(f"- {r['runtime']} {r['dtype']}: K=10 {'beats' if beats else 'does NOT beat'} both zero-shot "
                 f"({r['zero_shot_held'][0]:.1f} %) and 10 rows alone ({r['alone'][0]:.1f} %) with {r['few_shot'][0]:.1f} %.")
    L.append("")
    return "\n".join(L)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=CACHE,
                    help="JSON cache of the per-configuration breakdowns, keyed by fingerprint (default %(default)s)")
    ap.add_argument("--no-cache", action="store_true", help="price everything afresh and write no cache")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--kernel-time", type=Path, default=KERNEL_TIME_DIR,
                    help="a saved kernel-time model to price as the extra column (benchmarks/gpu_kernel_time.py)")
    ap.add_argument("--export-missing", metavar="PYTHON",
                    help="an interpreter with torch: run a row's onnx_export_cmd with it when its ONNX file is missing "
                         "and not cached (cwd the repository, into .zoo/); also retries configurations that failed")
    ap.add_argument("--drop-exports", action="store_true",
                    help="delete each ONNX file this run exported once it is priced (never files that were there)")
    ap.add_argument("--min-free-gb", type=float, default=MIN_FREE_GB,
                    help="export nothing while the disk under .zoo/ has less free space (default %(default)s GB); "
                         "such configurations are listed as excluded")
    args = ap.parse_args(argv)
    cache = _price_all(None if args.no_cache else args.cache, args.kernel_time, args.export_missing,
                       args.drop_exports, args.min_free_gb)
    text = render(evaluate(cache), launch_counts(cache), eager_retest(), excluded(cache))
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
