"""Collect onnxruntime ground truth for zoo models on one core of this CPU, and their features.

Device configuration: ``host-epyc-1c`` = one core of this AMD EPYC (Zen 3) host, onnxruntime with
``intra_op_num_threads=1``, ``inter_op_num_threads=1``, sequential execution, the
process pinned to one core (``taskset -c 0``) that no other job used while the
measurements ran. Three subcommands, all resumable (keys already in an output are
skipped):

``export`` (needs torch: run it with the torch environment, on another core)
    Exports every configuration of :data:`PLAN` with :func:`benchmarks.zoo.export`
    (static shapes, cached in ``.zoo/``), batch 1 of every model first.

``run`` (no torch; run it pinned: ``taskset -c 0``)
    Loops until every configuration is done: measures an exported,
    not-yet-measured configuration with :func:`hybridperf.measure.onnxruntime.measure` (fresh
    subprocess, 1 thread) if there is one, else analyses a measured,
    not-yet-featurized one with hybridperf, else waits for the exporter. One job at
    a time, so analyses never overlap a measurement. ``--no-wait`` stops when
    nothing is left instead of waiting.

``variant``
    Re-measures the batch-1 configurations under another onnxruntime setting
    (``--graph-optimization disabled``: no fusions, no layout changes) into
    ``calibration/host-epyc-1c-ort-disabled/``, a second measured "device" on the
    same core for the few-shot benchmark (features = the base rows).

``featurize``
    Only the analysis step of ``run`` (e.g. after changing the device spec: delete
    ``features.csv`` and ``kernel_features.csv`` first).

``rounds`` (no torch; run it pinned and prioritised, e.g. ``nice -n -20 taskset -c 1``)
    The reproducible protocol of :mod:`hybridperf.measure.rounds`: ``--rounds`` interleaved
    rounds, each measuring every exported configuration once in a shuffled order, with a host
    speed index (a fixed reference workload timed at the start and end of every round and,
    with ``--reference-every N``, after every N configurations). Writes ``rounds.csv`` (raw rows),
    ``speed_index.csv``, ``reference_samples.csv``, ``profile.csv`` (first round only) and the
    per-configuration summary ``measurements.csv`` (see calibration/README.md) to ``--out``;
    resumable by round. ``--batches 1,2 --default-size`` is the smaller plan (every family).

Files written to ``calibration/host-epyc-1c/``:

``measurements.csv``
    one row per configuration: ``key`` (``<zoo name>_b<batch>_<resolution or seq_len>``),
    ``zoo_name``, ``family`` (architecture family: the held-out unit),
    ``resolution``, ``seq_len``, then :data:`hybridperf.measure.onnxruntime.CSV_FIELDS`
    (device, runtime, runtime_version, threads, cpu_model, date_utc, repeats,
    latency median / p10 / p90 / mean / std / min in seconds, ``load_avg_1m``,
    peak memory), then ``pinned_cores`` (the process's CPU affinity) and
    ``measure_wall_s`` (wall time of one measurement, process start to result) and
    ``attempts``: a measurement whose p90/p10 exceeds ``--max-spread`` is repeated
    (up to ``--max-attempts``) and the attempt with the lowest median is kept.
    ``features.csv``'s label is the median (``latency_s``; ``featurize --target``); CPU models are trained
    on the fastest run instead (:data:`hybridperf.residual.model.CPU_TARGET`), read from this file by key
    (:func:`hybridperf.residual.model.load_table`).
``profile.csv``
    per-node onnxruntime profiler times (``key, node, op_type, duration_s, graph_node``).
``features.csv`` / ``kernel_features.csv``
    :func:`hybridperf.residual.features.featurize_measured` rows: model features + target,
    kernel features + the measured time of the kernel's group.

Usage::

    taskset -c 1 /work/venvz/bin/python -m benchmarks.collect_cpu export &
    taskset -c 0 /work/venvz/bin/python -m benchmarks.collect_cpu run --export-idle
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import sys
import time
from pathlib import Path

DEVICE = "host-epyc-1c"
THREADS = 1
OUT_DIR = Path("calibration") / DEVICE
ZOO_DIR = Path(".zoo")
EXPORT_DONE = "export.done"
SKIP_SINGLE_RUN_S = 1.5

_CNN3 = (224, 160, 128)
_CNN2 = (224, 160)
_B3 = (1, 2, 4)
_SEQ3 = (64, 128, 256)
_SEQ2 = (64, 128)

#: (zoo name, batches, resolutions or seq_lens)
PLAN: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = [
    ("resnet18", _B3, _CNN3),
    ("resnet50", _B3, _CNN2),
    ("resnext50_32x4d", (1, 2), _CNN2),
    ("mobilenet_v2", _B3, _CNN3),
    ("mobilenet_v3_small", _B3, _CNN2),
    ("mobilenet_v3_large", _B3, _CNN2),
    ("mnasnet1_0", _B3, _CNN2),
    ("efficientnet_b0", _B3, _CNN2),
    ("regnet_y_400mf", _B3, _CNN2),
    ("regnet_x_1_6gf", (1, 2), _CNN2),
    ("densenet121", (1, 2), _CNN2),
    ("squeezenet1_0", _B3, _CNN2),
    ("squeezenet1_1", _B3, _CNN2),
    ("shufflenet_v2_x1_0", _B3, _CNN2),
    ("vgg11", (1, 2), _CNN2),
    ("alexnet", _B3, _CNN2),
    ("googlenet", _B3, _CNN2),
    ("inception_v3", (1,), (299,)),
    ("convnext_tiny", (1, 2), _CNN2),
    ("vit_b_16", (1, 2), (224,)),
    ("hf_deit_small", _B3, (224,)),
    ("swin_t", (1, 2), (224,)),
    ("hf_mobilevit_small", (1, 2), (256,)),
    ("lraspp_mobilenet_v3_large", (1, 2), (512, 256)),
    ("deeplabv3_mobilenet_v3_large", (1,), (512, 256)),
    ("hf_segformer_b0", (1,), (512, 256)),
    ("bert_tiny", (1, 2, 4, 8), _SEQ3),
    ("bert_small", _B3, _SEQ3),
    ("bert_base", (1, 2), _SEQ2),
    ("distilbert_base", _B3, _SEQ2),
    ("roberta_base", (1,), _SEQ2),
    ("albert_base", (1, 2), _SEQ2),
    ("electra_small", _B3, _SEQ3),
    ("t5_small_encoder", _B3, _SEQ2),
    ("gpt2", (1, 2), _SEQ2),
    ("opt_125m", (1, 2), _SEQ2),
    ("llama_tiny", _B3, _SEQ2),
    ("qwen2_tiny", (1, 2), _SEQ2),
]


#: zoo networks measured on no CPU before 2026-12-06 12:16 UTC (CHANGELOG's plan of that session): every zoo network
#: outside :data:`PLAN` that exports and imports (``ssdlite320_mobilenet_v3_large`` does not import: its shapes depend on
#: input values), batch 1 at the default size (the two ResNet-50 segmentation networks at 256 px, as the plan's
#: smaller segmentation size). They train nothing; ``--plan unseen`` / ``both`` measures them
#: (``benchmarks.unseen_networks`` scores them)
UNSEEN_PLAN: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = [
    ("resnet101", (1,), (224,)),
    ("wide_resnet50_2", (1,), (224,)),
    ("efficientnet_b3", (1,), (300,)),
    ("efficientnet_v2_s", (1,), (384,)),
    ("vgg16", (1,), (224,)),
    ("maxvit_t", (1,), (224,)),
    ("fcn_resnet50", (1,), (256,)),
    ("deeplabv3_resnet50", (1,), (256,)),
    ("bert_large", (1,), (128,)),
    ("gpt2_medium", (1,), (128,)),
    ("hf_vit_base", (1,), (224,)),
    ("hf_swin_tiny", (1,), (224,)),
    ("hf_convnext_tiny", (1,), (224,)),
    ("hf_resnet50", (1,), (224,)),
    ("whisper_tiny_encoder", (1,), (3000,)),
    ("wav2vec2_base", (1,), (16000,)),
]
#: ``--plan`` choices: the training plan, the unseen networks, or both in the same rounds
PLANS = {"train": PLAN, "unseen": UNSEEN_PLAN, "both": PLAN + UNSEEN_PLAN}


def key_of(name: str, batch: int, size: int) -> str:
    return f"{name}_b{batch}_{size}"


def configs(only: set[str] | None = None, batches: set[int] | None = None, default_size: bool = False,
            plan: str = "train") -> list[dict]:
    """Every configuration of ``PLANS[plan]`` (default :data:`PLAN`): batch 1 at the default size of every model first.

    ``batches`` keeps only those batch sizes; ``default_size`` only each model's default resolution or
    sequence length, or its first planned size where the default is not planned (the smaller plan of ``rounds``:
    every family, a fraction of the time).
    """
    from benchmarks.zoo import InputKind, get, onnx_path

    out = []
    for name, plan_batches, sizes in PLANS[plan]:
        if only and name not in only:
            continue
        entry = get(name)
        image = entry.input.kind is InputKind.IMAGE
        default = entry.input.resolution if image else entry.input.seq_len
        for b in plan_batches:
            if batches and b not in batches:
                continue
            for si, s in enumerate(sizes):
                if default_size and s != (default if default in sizes else sizes[0]):
                    continue
                res, seq = (s, None) if image else (None, s)
                out.append({"key": key_of(name, b, s), "name": name, "family": entry.family, "batch": b,
                            "resolution": res, "seq_len": seq, "order": (b * (si + 1), si),
                            "path": onnx_path(name, b, res, seq, out_dir=ZOO_DIR)})
    out.sort(key=lambda c: c["order"])
    return out


def _int_set(text: str) -> set[int]:
    return {int(x) for x in text.split(",") if x}


def _read_keys(path: Path, column: str = "key") -> set[str]:
    if not path.exists():
        return set()
    with path.open() as f:
        return {r[column] for r in csv.DictReader(f)}


def _append(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    new = not path.exists()
    if not new:  # a column added since the file was written would shift every later one
        with path.open(newline="") as f:
            header = next(csv.reader(f), [])
        if header != list(rows[0]):
            raise SystemExit(f"{path} has columns {header}, the new rows {list(rows[0])}: featurize into an empty "
                             "directory")
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        if new:
            w.writeheader()
        w.writerows(rows)


def cmd_export(args) -> int:
    from benchmarks.zoo import export

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / EXPORT_DONE).unlink(missing_ok=True)
    only = set(args.only.split(",")) if args.only else None
    failed = set()
    for c in configs(only, args.batches, args.default_size, args.plan):
        if c["path"].exists() or c["name"] in failed:
            continue
        t0 = time.perf_counter()
        try:
            export(c["name"], batch=c["batch"], resolution=c["resolution"], seq_len=c["seq_len"], out_dir=ZOO_DIR)
        except Exception as exc:  # noqa: BLE001 - record and go on
            print(f"{c['key']}: export failed: {exc}", file=sys.stderr, flush=True)
            failed.add(c["name"])
            continue
        print(f"{c['key']}: exported in {time.perf_counter() - t0:.1f} s", flush=True)
    (out / EXPORT_DONE).write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")
    return 0


def _measure_one(c: dict, args, mpath: Path, ppath: Path) -> None:
    from hybridperf.measure.onnxruntime import csv_row, measure, node_rows

    t0 = time.perf_counter()
    m, attempts = None, 0
    for attempts in range(1, args.max_attempts + 1):
        try:
            a = measure(c["path"], threads=THREADS, repeats=args.repeats, warmup=args.warmup, profile=True,
                        profile_runs=3, isolate=True, budget_s=args.budget_s, device=DEVICE)
        except Exception as exc:  # noqa: BLE001 - record as skipped
            print(f"{c['key']}: measure failed: {exc}", file=sys.stderr, flush=True)
            _append(Path(args.out) / "skipped.csv", [{"key": c["key"], "reason": f"measure failed: {str(exc)[:200]}"}])
            return
        if m is None or a.latency_s < m.latency_s:
            m = a
        if a.latency_p90_s / max(a.latency_p10_s, 1e-12) <= args.max_spread:
            break
    wall = time.perf_counter() - t0
    row = {"key": c["key"], "zoo_name": c["name"], "family": c["family"], "resolution": c["resolution"] or "",
           "seq_len": c["seq_len"] or "", **csv_row(m)}
    row["pinned_cores"] = ",".join(str(x) for x in sorted(os.sched_getaffinity(0)))
    row["measure_wall_s"] = round(wall / attempts, 3)
    row["attempts"] = attempts
    _append(mpath, [row])
    _append(ppath, node_rows(m, c["key"]))
    spread = m.latency_p90_s / max(m.latency_p10_s, 1e-12)
    print(f"{c['key']}: {m.latency_s * 1e3:.3f} ms (p10 {m.latency_p10_s * 1e3:.3f}, p90 {m.latency_p90_s * 1e3:.3f}, "
          f"spread {spread:.3f}, {m.repeats} runs, load {m.load_avg_1m:.2f}, {wall:.1f} s)", flush=True)


def _featurize_keys(out: Path, keys: set[str], device: str, target: str = "latency_s") -> int:
    from hybridperf.residual.features import featurize_measured

    with (out / "measurements.csv").open() as f:
        todo = [r for r in csv.DictReader(f) if r["key"] in keys]
    if not todo:
        return 0
    rows, krows = featurize_measured(todo, out / "profile.csv", device=device, precision=None, target=target,
                                     log=lambda s: print(s, file=sys.stderr, flush=True))
    _append(out / "features.csv", rows)
    _append(out / "kernel_features.csv", krows)
    for k in keys - {r["key"] for r in rows}:
        _append(out / "skipped.csv", [{"key": k, "reason": "analysis failed"}])
    return len(rows)


def _too_slow(c: dict, slow: dict[str, int]) -> bool:
    """A bigger configuration of a model whose smaller one already exceeded the single-run cap."""
    size = c["resolution"] or c["seq_len"]
    return c["name"] in slow and c["batch"] * size >= slow[c["name"]]


def _export_last(pending: list[dict], slow: dict[str, int]) -> bool:
    """Export the last pending configuration (the ``export`` job works from the front); False if none."""
    from benchmarks.zoo import export

    for c in reversed(pending):
        if c["path"].exists() or _too_slow(c, slow):
            continue
        if c["path"].with_suffix(".tmp.onnx").exists():
            return False  # the other exporter is on it: we have met in the middle
        try:
            export(c["name"], batch=c["batch"], resolution=c["resolution"], seq_len=c["seq_len"], out_dir=ZOO_DIR)
        except Exception as exc:  # noqa: BLE001
            print(f"{c['key']}: export failed: {exc}", file=sys.stderr, flush=True)
            _append(Path("calibration") / DEVICE / "skipped.csv", [{"key": c["key"], "reason": "export failed"}])
        return True
    return False


def cmd_run(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mpath, ppath = out / "measurements.csv", out / "profile.csv"
    only = set(args.only.split(",")) if args.only else None
    while True:
        done = _read_keys(mpath) | _read_keys(out / "skipped.csv")
        featurized = _read_keys(out / "features.csv") | _read_keys(out / "skipped.csv")
        slow: dict[str, int] = {}
        if mpath.exists():
            with mpath.open() as f:
                for r in csv.DictReader(f):
                    if float(r["latency_s"]) > SKIP_SINGLE_RUN_S:
                        size = int(r["resolution"] or r["seq_len"])
                        slow[r["zoo_name"]] = min(slow.get(r["zoo_name"], 10**9), int(r["batch"]) * size)
        pending = [c for c in configs(only) if c["key"] not in done]
        ready = [c for c in pending if c["path"].exists() and not _too_slow(c, slow)]
        for c in pending:
            if c["path"].exists() and _too_slow(c, slow):
                _append(out / "skipped.csv", [{"key": c["key"], "reason": f"a smaller configuration ran > {SKIP_SINGLE_RUN_S} s"}])
        if ready:
            _measure_one(ready[0], args, mpath, ppath)
            continue
        unfeat = (_read_keys(mpath) - featurized) if mpath.exists() else set()
        if unfeat:
            # a handful at a time, so that new exports are measured soon
            _featurize_keys(out, set(sorted(unfeat)[:4]), args.device)
            continue
        if args.no_wait or (out / EXPORT_DONE).exists() or not pending:
            break
        if args.export_idle and _export_last(pending, slow):
            continue
        time.sleep(2)
    return 0


def cmd_variant(args) -> int:
    """Measure the batch-1 configurations of ``--base`` again under another onnxruntime setting (a second
    "device" on the same core for few-shot adaptation) and write its measurements.csv + features.csv: the
    features are the base's rows (same core, same spec), the measured latency is the new one."""
    from hybridperf.measure.onnxruntime import csv_row, measure

    base, out = Path(args.base), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (base / "features.csv").open() as f:
        feats = {r["key"]: r for r in csv.DictReader(f)}
    with (base / "measurements.csv").open() as f:
        todo = [r for r in csv.DictReader(f) if r["key"] in feats and int(r["batch"]) in args.batches
                and float(r["latency_s"]) < args.max_base_s]
    done = _read_keys(out / "measurements.csv")
    for r in todo:
        if r["key"] in done:
            continue
        t0 = time.perf_counter()
        try:
            m = measure(r["model"], threads=THREADS, repeats=args.repeats, warmup=3, profile=False, isolate=True,
                        budget_s=args.budget_s, device=f"{DEVICE}-ort-{args.graph_optimization}",
                        graph_optimization=args.graph_optimization)
        except Exception as exc:  # noqa: BLE001
            print(f"{r['key']}: measure failed: {exc}", file=sys.stderr, flush=True)
            continue
        row = {"key": r["key"], "zoo_name": r["zoo_name"], "family": r["family"], "resolution": r["resolution"],
               "seq_len": r["seq_len"], **csv_row(m), "graph_optimization": args.graph_optimization,
               "pinned_cores": ",".join(str(x) for x in sorted(os.sched_getaffinity(0))),
               "measure_wall_s": round(time.perf_counter() - t0, 3)}
        _append(out / "measurements.csv", [row])
        fr = dict(feats[r["key"]])
        fr["measured_latency_s"] = m.latency_s
        fr["measured_median_s"] = m.latency_s
        fr["measure_wall_s"] = row["measure_wall_s"]
        _append(out / "features.csv", [fr])
        print(f"{r['key']}: {m.latency_s * 1e3:.3f} ms (base {float(r['latency_s']) * 1e3:.3f} ms)", flush=True)
    return 0


ROUNDS_FILE = "rounds.csv"
SPEED_FILE = "speed_index.csv"
SAMPLES_FILE = "reference_samples.csv"
MEASUREMENTS_FILE = "measurements.csv"
#: per-configuration columns of measurements.csv in a rounds directory, copied from the configuration's first row
_ROUND_COPY = ("key", "zoo_name", "family", "resolution", "seq_len", "model", "device", "runtime", "runtime_version",
               "threads", "cpu_model", "cpu_vendor", "cpu_family", "cpu_model_id", "cpu_stepping", "cpu_isa",
               "hybridperf_version", "input_shapes", "batch", "warmup", "peak_bytes", "load_bytes", "run_peak_bytes",
               "input_bytes", "profile_total_s", "pinned_cores", "reference_version")


def _read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def _write(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` to ``path`` (replacing it; :func:`hybridperf.files.write_atomic`)."""
    from hybridperf.files import write_atomic

    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    write_atomic(path, buf.getvalue())


def summary_rows(raw: list[dict]) -> list[dict]:
    """measurements.csv of a rounds directory: per configuration, the columns of its first round row
    (:data:`_ROUND_COPY`), ``latency_s`` = median over rounds of the round medians (raw, ``featurize``'s
    default label), the :class:`hybridperf.measure.rounds.ConfigSummary` columns by the round index,
    ``latency_local_norm_s`` (normalised by the timings bracketing each measurement), ``latency_mean_norm_s``
    (by every timing of its round), with their medians in reference units, ``latency_min_norm_s`` (the
    fastest run of each round / the round's fastest reference timing, minimum over rounds, x the median
    of those timings: the most reproducible figure on a shared host), ``latency_min_run_norm_s`` (where the
    reference's fastest runs were recorded: the fastest run of each round / the round's fastest reference
    runs, minimum over rounds, x the median of those indices), ``repeats`` (sum),
    ``load_avg_1m`` (median), ``measure_wall_s`` (median) and the first and last date."""
    from hybridperf.measure.rounds import summarize

    by_round = {s.key: s for s in summarize(raw)}
    by_local = {s.key: s for s in summarize(raw, index_column="local_index_s")}
    by_mean = {s.key: s for s in summarize(raw, index_column="round_mean_index_s")}
    by_best = {s.key: s for s in summarize(raw, index_column="round_min_index_s")}
    has_runs = bool(raw) and all(r.get("round_min_run_index_s") for r in raw)
    by_runs = {s.key: s for s in summarize(raw, index_column="round_min_run_index_s")} if has_runs else {}
    first: dict[str, dict] = {}
    rows_of: dict[str, list[dict]] = {}
    for r in sorted(raw, key=lambda r: (int(r["round"]), int(r["position"]))):
        first.setdefault(r["key"], r)
        rows_of.setdefault(r["key"], []).append(r)
    out = []
    for key, s in by_round.items():
        rs, f = rows_of[key], first[key]
        out.append({**{c: f.get(c, "") for c in _ROUND_COPY}, "latency_s": s.latency_median_s,
                    **{k: v for k, v in s.as_row().items() if k != "key"},
                    "latency_local_norm_s": by_local[key].latency_norm_s,
                    "latency_local_norm_median": by_local[key].latency_norm_median,
                    "latency_mean_norm_s": by_mean[key].latency_norm_s,
                    "latency_mean_norm_median": by_mean[key].latency_norm_median,
                    "latency_min_norm_s": by_best[key].latency_norm_min * by_best[key].reference_index_s,
                    "latency_min_norm": by_best[key].latency_norm_min,
                    **({"latency_min_run_norm_s": by_runs[key].latency_norm_min * by_runs[key].reference_index_s,
                        "latency_min_run_norm": by_runs[key].latency_norm_min} if has_runs else {}),
                    "repeats": sum(int(r["repeats"]) for r in rs),
                    "load_avg_1m": statistics.median(float(r["load_avg_1m"]) for r in rs),
                    "measure_wall_s": statistics.median(float(r["measure_wall_s"]) for r in rs),
                    "date_first_utc": min(r["date_utc"] for r in rs), "date_last_utc": max(r["date_utc"] for r in rs)})
    return out


def read_rounds(out: Path) -> list[dict]:
    """``rounds.csv`` of ``out``, with ``round_min_index_s`` filled from ``speed_index.csv`` for rows written
    before that column existed."""
    raw = _read_rows(out / ROUNDS_FILE)
    if raw and not raw[0].get("round_min_index_s"):
        low = {s["round"]: s["min_index_s"] for s in _read_rows(out / SPEED_FILE)}
        raw = [{**r, "round_min_index_s": low[r["round"]]} for r in raw]
    return raw


def cmd_summary(args) -> int:
    out = Path(args.out)
    _write(out / MEASUREMENTS_FILE, summary_rows(read_rounds(out)))
    print(f"wrote {out / MEASUREMENTS_FILE}")
    return 0


def _round_measure_fn(plan: dict[str, dict], args, profiled: set[str], profile_rows: list[dict],
                      walls: dict[str, float]):
    """``measure_one(key, round)`` for :func:`hybridperf.measure.rounds.run_round`: a fresh subprocess per
    configuration; the per-node profile only for configurations not yet profiled."""
    from hybridperf.measure.onnxruntime import measure, node_rows

    def measure_one(key: str, round_index: int):
        c = plan[key]
        t0 = time.perf_counter()
        m = measure(c["path"], threads=args.threads, repeats=args.repeats, warmup=args.warmup,
                    profile=key not in profiled, profile_runs=3, isolate=True, budget_s=args.budget_s,
                    device=args.device)
        walls[key] = round(time.perf_counter() - t0, 3)
        if key not in profiled:
            profile_rows.extend(node_rows(m, key))
            profiled.add(key)
        print(f"r{round_index} {key}: {m.latency_s * 1e3:.3f} ms ({m.repeats} runs, {walls[key]:.1f} s)", flush=True)
        return m

    return measure_one


def cmd_rounds(args) -> int:
    """Interleaved rounds (see :mod:`hybridperf.measure.rounds`): each round measures every exported
    configuration once in a shuffled order between reference timings; the round's raw rows, its speed
    index, the profiles of newly profiled configurations and the refreshed summary are written when the
    round ends (an interrupted round is measured again)."""
    from hybridperf.measure.rounds import ReferenceWorkload, round_rows, run_round, sample_rows, speed_row

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    wanted = configs(only, args.batches, args.default_size, args.plan)
    plan = {c["key"]: c for c in wanted if c["path"].exists()}
    missing = [c["key"] for c in wanted if c["key"] not in plan]
    if missing:
        print(f"{len(missing)} configuration(s) not exported, left out: {', '.join(missing)}", file=sys.stderr)
    skipped = _read_keys(out / "skipped.csv")
    plan = {k: c for k, c in plan.items() if k not in skipped}
    done_rounds = {int(r["round"]) for r in _read_rows(out / SPEED_FILE)}
    profiled = _read_keys(out / "profile.csv")
    reference = ReferenceWorkload(threads=args.threads, runs=args.reference_runs)
    cores = ",".join(str(x) for x in sorted(os.sched_getaffinity(0)))
    extra = {k: {"zoo_name": c["name"], "family": c["family"], "resolution": c["resolution"] or "",
                 "seq_len": c["seq_len"] or ""} for k, c in plan.items()}
    for rnd in range(args.rounds):
        if rnd in done_rounds:
            continue
        profile_rows: list[dict] = []
        walls: dict[str, float] = {}
        res = run_round(rnd, plan, _round_measure_fn(plan, args, profiled, profile_rows, walls), reference.time,
                        seed=args.seed, reference_every=args.reference_every)
        rows = [{**r, "pinned_cores": cores, "measure_wall_s": walls[r["key"]], "seed": args.seed}
                for r in round_rows(res, extra)]
        for key, why in res.failures:
            _append(out / "skipped.csv", [{"key": key, "reason": f"measure failed: {why}"}])
        _append(out / ROUNDS_FILE, rows)
        _append(out / "profile.csv", profile_rows)
        _append(out / SAMPLES_FILE, sample_rows(res))
        _append(out / SPEED_FILE, [speed_row(res, device=args.device, configs=len(rows), seed=args.seed)])
        _write(out / MEASUREMENTS_FILE, summary_rows(read_rounds(out)))
        print(f"round {rnd}: {len(rows)} configurations, speed index {res.index_s * 1e3:.3f} ms "
              f"(start {res.start.index_s * 1e3:.3f}, end {res.end.index_s * 1e3:.3f})", flush=True)
    return 0


def cmd_featurize(args) -> int:
    from hybridperf.errors import SpecError

    out = Path(args.out)
    keys = _read_keys(out / "measurements.csv") - _read_keys(out / "features.csv")
    try:  # featurize_measured loads the sheet before any model: one that cannot be used stops it, nothing written
        n = _featurize_keys(out, keys, args.device, args.target)
    except SpecError as exc:
        print(f"featurize: {exc}", file=sys.stderr)
        return 2
    print(f"featurized {n} new configuration(s) into {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.collect_cpu", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    r = sub.add_parser("run")
    f = sub.add_parser("featurize")
    for q in (e, r, f):
        q.add_argument("--out", default=str(OUT_DIR))
        q.add_argument("--only", help="comma-separated zoo names")
    for q in (r, f):
        q.add_argument("--device", default=DEVICE, help="device spec the features are priced on")
    e.add_argument("--batches", type=_int_set, help="comma-separated batch sizes to export (default: the whole plan)")
    e.add_argument("--default-size", action="store_true", help="only each model's default resolution / seq_len")
    r.add_argument("--repeats", type=int, default=40, help="at most this many timed runs")
    r.add_argument("--warmup", type=int, default=3)
    r.add_argument("--budget-s", type=float, default=1.0, help="timed runs stop after about this long (min 5 runs)")
    r.add_argument("--max-attempts", type=int, default=3)
    r.add_argument("--max-spread", type=float, default=1.10,
                   help="measure again (keeping the attempt with the lowest median) while p90/p10 exceeds this")
    r.add_argument("--no-wait", action="store_true", help="stop when nothing is ready instead of waiting for exports")
    r.add_argument("--export-idle", action="store_true",
                   help="when nothing is ready, export the last pending configuration here (needs torch)")
    f.add_argument("--target", default="latency_s",
                   help="measured column that labels features.csv (rounds directories: also latency_norm_s, "
                        "latency_min_s); a row without a value is refused, naming its key (CPU models read "
                        "latency_min_s from measurements.csv by key whatever features.csv's label)")
    o = sub.add_parser("rounds", help="interleaved rounds with a host speed index (hybridperf.measure.rounds)")
    o.add_argument("--out", required=True, help="calibration directory of the device, e.g. calibration/host-epyc-zen4-1c")
    o.add_argument("--device", required=True, help="device id recorded with every row (the id of its sheet)")
    o.add_argument("--only", help="comma-separated zoo names")
    o.add_argument("--batches", type=_int_set, help="comma-separated batch sizes (default: the whole plan)")
    o.add_argument("--default-size", action="store_true", help="only each model's default resolution / seq_len")
    for q in (e, o):
        q.add_argument("--plan", choices=sorted(PLANS), default="train",
                       help="train: the networks the models are trained on (PLAN); unseen: networks measured on no "
                            "CPU before 2026-12-06 (UNSEEN_PLAN); both: both in the same rounds")
    o.add_argument("--rounds", type=int, default=4, help="rounds in all (rounds already in the directory are kept)")
    o.add_argument("--seed", type=int, default=0, help="seed of the per-round shuffles")
    o.add_argument("--threads", type=int, default=THREADS,
                   help="onnxruntime intra-op threads of every timing and of the reference (pin the process to as "
                        "many cores, e.g. taskset -c 0,1)")
    o.add_argument("--repeats", type=int, default=30, help="at most this many timed runs per configuration and round")
    o.add_argument("--warmup", type=int, default=3)
    o.add_argument("--budget-s", type=float, default=0.8, help="timed runs stop after about this long (min 5 runs)")
    o.add_argument("--reference-runs", type=int, default=25, help="timed runs of each reference kernel per timing")
    o.add_argument("--reference-every", type=int, default=1,
                   help="also time the reference after every N configurations (local index); 0: start and end only")
    m = sub.add_parser("summary", help="rewrite measurements.csv of a rounds directory from its rounds.csv")
    m.add_argument("--out", required=True)
    v = sub.add_parser("variant", help="re-measure the base's batch-1 rows under another onnxruntime setting")
    v.add_argument("--base", default=str(OUT_DIR))
    v.add_argument("--out", default=str(OUT_DIR.with_name(DEVICE + "-ort-disabled")))
    v.add_argument("--graph-optimization", default="disabled", choices=("all", "extended", "basic", "disabled"))
    v.add_argument("--batches", type=lambda t: {int(x) for x in t.split(",")}, default={1})
    v.add_argument("--max-base-s", type=float, default=0.5, help="skip configurations slower than this on the base")
    v.add_argument("--repeats", type=int, default=30)
    v.add_argument("--budget-s", type=float, default=0.7)
    args = p.parse_args(argv)
    return {"export": cmd_export, "run": cmd_run, "featurize": cmd_featurize, "variant": cmd_variant,
            "rounds": cmd_rounds, "summary": cmd_summary}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
