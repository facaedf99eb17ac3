"""Accuracy of roofline-only vs hybrid (roofline + LightGBM residual) on held-out families.

The residual is trained on some architecture families and evaluated on
families it never saw (whole families are held out, never single rows), with
``K`` rotating folds so that every family is evaluated exactly once. Reported
per device: latency MAPE, share within +-10 %, worst models, peak memory
predicted vs measured, prediction time vs measurement time. CPU rows are labelled, and scored, by the CPU
label :data:`hybridperf.residual.model.CPU_TARGET` (the fastest timed run, the label of the stored
``host-epyc-1c`` model), read from each directory's ``measurements.csv`` by key; GPU rows by their
``features.csv`` label.

Usage::

    python -m benchmarks.collect_cpu measure && python -m benchmarks.collect_cpu featurize
    python -m benchmarks.accuracy featurize-h100 [--drop-exports]   # exports + analyses the H100 rows' models
                                                    # (resumes: keys already in features.csv are kept; remove
                                                    # the file to refresh every row; ~30 min on one core)
    python -m benchmarks.accuracy report                # writes benchmarks/results/accuracy_{cpu,h100}.md
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

CPU_DIR = Path("calibration") / "host-epyc-1c"
#: the stored model trained on CPU_DIR, shipped in the package (``hybridperf calibrate ... --out CPU_MODEL_DIR``)
CPU_MODEL_DIR = Path("hybridperf") / "data" / "models" / "host-epyc-1c"
#: the earlier 2-thread onnxruntime measurements on a (different) Xeon host: a second device for few-shot adaptation
XEON_DIR = Path("calibration") / "host-xeon-2c"
#: the same configurations measured a second time, later, on the same core (test-retest)
RETEST_DIR = Path("calibration") / "host-epyc-1c-retest"
#: the same core with onnxruntime's graph optimisations disabled (``python -m benchmarks.collect_cpu variant``)
NOOPT_DIR = Path("calibration") / "host-epyc-1c-ort-disabled"
H100_DIR = Path("calibration") / "h100-sxm"
H100_CSV = H100_DIR / "torch-eager-fp32-fp16.csv"
RESULTS = Path("benchmarks") / "results"
N_FOLDS = 8


# --------------------------------------------------------------------------- H100 features


def cmd_featurize_h100(args) -> int:
    """Export + analyse each (model, batch, shape) of the H100 CSV once; price fp32 and fp16 rows."""
    from benchmarks.zoo import export
    from hybridperf.analysis.analyze import analyze
    from hybridperf.api import predict_on
    from hybridperf.residual.features import feature_rows

    out = Path(args.out)
    with H100_CSV.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["status"] == "ok"]
    fpath = out / "features.csv"
    done = set()
    if fpath.exists():
        with fpath.open() as fh:
            done = {r["key"] for r in csv.DictReader(fh)}
    configs: dict[tuple, list[dict]] = {}
    for r in rows:
        configs.setdefault((r["model"], int(r["batch"]), r["resolution"], r["seq_len"]), []).append(r)
    order = sorted(configs, key=lambda c: (c[1], c[0]))
    t_end = time.monotonic() + args.deadline_s
    from benchmarks.zoo import DEFAULT_OUT_DIR

    zoo_before = {p.name for p in DEFAULT_OUT_DIR.iterdir()} if DEFAULT_OUT_DIR.is_dir() else set()
    for cfg in order:
        name, batch, res, seq = cfg
        todo = [r for r in configs[cfg] if f"{name}_b{batch}_{res or seq}_{r['dtype']}" not in done]
        if not todo:
            continue
        if time.monotonic() > t_end:
            print(f"deadline reached before {name} b{batch}", file=sys.stderr)
            break
        t0 = time.perf_counter()
        path = None
        try:
            path = export(name, batch=batch, resolution=int(res) if res else None, seq_len=int(seq) if seq else None)
            an = analyze(path)
        except Exception as exc:  # noqa: BLE001 - report and continue
            print(f"{name} b{batch}: {type(exc).__name__}: {str(exc).splitlines()[0][:150]}", file=sys.stderr)
            continue
        finally:  # about 20 GB of exports: --drop-exports removes each one this run made once it is analysed
            if args.drop_exports and path is not None and path.name not in zoo_before:
                path.unlink(missing_ok=True)
        dt = time.perf_counter() - t0
        new = []
        for r in todo:
            prec = "fp16" if r["dtype"] == "fp16" else None
            pred = predict_on(an, args.device, prec, residual=None)
            key = f"{name}_b{batch}_{res or seq}_{r['dtype']}"
            row, _ = feature_rows(pred, key, float(r["latency_median_s"]))
            row = {"key": key, "zoo_name": name, "family": r["family"], "batch": batch, "dtype": r["dtype"],
                   **{k: v for k, v in row.items() if k != "key"},
                   "measured_peak_bytes": r["peak_memory_bytes"], "predicted_peak_bytes": an.memory.peak_bytes,
                   "measured_activation_bytes": r["activation_peak_bytes"],
                   "predicted_activation_bytes": an.memory.planned_bytes,
                   "measured_energy_j": r["energy_j"], "predicted_energy_j": pred.energy_j,
                   "analysis_s": round(an.timings_s.get("load_s", 0) + an.timings_s.get("cost_pass_s", 0)
                                       + an.timings_s.get("lower_and_plan_s", 0), 4),
                   "measure_wall_s": ""}
            new.append(row)
        _append(fpath, new)
        print(f"{name} b{batch}: {len(new)} row(s), {dt:.1f} s", flush=True)
    return 0


def _append(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        if new:
            w.writeheader()
        w.writerows(rows)


# --------------------------------------------------------------------------- evaluation


def held_out_predictions(data_dir: Path, params: dict | None = None, use_kernels: bool = True,
                         target: str | None = None):
    """Out-of-family predictions: for each of N_FOLDS family folds, train on the others; rows labelled by
    ``target`` (:func:`hybridperf.residual.model.load_table`; None: ``features.csv``'s label).

    Returns (rows, X, y, held-out prediction of y, fold_of_row, groups, folds).
    """
    from hybridperf.residual.model import ResidualModel, _folds, load_table, subset

    X, y, groups, families, kt, rows = load_table(data_dir, kernels=use_kernels, target=target)
    folds = _folds(groups, N_FOLDS)
    pred = np.zeros(len(y))
    fold_of = np.zeros(len(y), int)
    for fi, test in enumerate(folds):
        train = np.setdiff1d(np.arange(len(y)), test)
        m = ResidualModel(**(params or {})).fit(
            X[train], y[train], kernels=subset(kt, train), groups=[groups[i] for i in train],
            families=[families[i] for i in train])
        pred[test] = m.predict(X[test], subset(kt, test))
        fold_of[test] = fi
    return rows, X, y, pred, fold_of, groups, folds


def ground_truth_lines(data_dir: Path, target: str) -> list[str]:
    """How the CPU ground truth was measured (from measurements.csv) and which of its columns (``target``)
    is scored, or nothing for other devices."""
    from hybridperf.residual.model import LABEL_WORDS

    mpath = data_dir / "measurements.csv"
    if not mpath.exists():
        return []
    with mpath.open() as fh:
        ms = list(csv.DictReader(fh))
    if not ms:
        return []
    spread = np.array([float(m["latency_p90_s"]) / float(m["latency_p10_s"]) for m in ms])
    load = np.array([float(m["load_avg_1m"]) for m in ms])
    lat = np.array([float(m[target]) for m in ms if m.get(target)])
    dates = sorted(m["date_utc"] for m in ms)
    keys = lambda f: ", ".join(sorted({m.get(f, "") for m in ms}))  # noqa: E731
    return ["## Ground truth", "",
            f"{len(ms)} configurations measured with {keys('runtime')} {keys('runtime_version')}, "
            f"intra-op threads {keys('threads')}, inter-op 1, sequential, process pinned to CPU {keys('pinned_cores')} "
            f"({keys('cpu_model')}), {dates[0]} .. {dates[-1]}. While measuring, every other process was moved to the "
            f"other core, so the 1-minute load average ({load.min():.1f} .. {load.max():.1f}) is the other core's work. "
            f"Timed runs: up to 40 runs or ~1 s after 3 warm-up runs; repeated up to 3 times while p90/p10 > 1.10. "
            f"p90/p10 of the kept runs: median {np.median(spread):.3f}, p90 {np.percentile(spread, 90):.3f}. "
            f"Label, for training and scoring alike: `{target}`, the {LABEL_WORDS.get(target, target)} of the kept "
            f"attempt (`hybridperf.residual.model.CPU_TARGET`, the label of every CPU model, the stored `host-epyc-1c` "
            f"model included; before 2026-12-02 this table scored the median, `latency_s`). "
            f"Latencies {lat.min() * 1e3:.2f} ms .. {lat.max() * 1e3:.0f} ms.", ""]


def _stats(pred_ratio: np.ndarray, true_ratio: np.ndarray) -> dict:
    err = np.abs(pred_ratio - true_ratio) / true_ratio
    return {"mape": float(err.mean() * 100), "within10": float((err <= 0.10).mean() * 100),
            "within25": float((err <= 0.25).mean() * 100), "median_ape": float(np.median(err) * 100)}


def _pct(x: float) -> str:
    return f"{x:.1f} %"


def report(data_dir: Path, title: str, device: str, out_md: Path, command: str, params: dict | None = None,
           few_shot_base: Path | None = None, notes: list[str] | None = None, target: str | None = None) -> str:
    """Write ``out_md``: held-out accuracy on ``data_dir``, rows labelled by ``target`` (CPU:
    :data:`~hybridperf.residual.model.CPU_TARGET`; None: ``features.csv``'s label)."""
    from hybridperf.report.format import fmt_bytes, table

    if params is None:
        from hybridperf.residual.model import CALIBRATION_PARAMS

        params = CALIBRATION_PARAMS
    rows, X, y, pred, fold_of, groups, folds = held_out_predictions(data_dir, params, target=target)
    true = np.exp(y)
    hyb = np.exp(pred)
    roof = np.ones(len(y))
    s_roof, s_hyb = _stats(roof, true), _stats(hyb, true)
    lines = [f"# {title}", "", f"Reproduce: `{command}`", "",
             f"{len(y)} measured configurations of {len(set(groups))} architecture families on `{device}`; "
             f"the residual is trained on the other folds' families and evaluated on families it never saw "
             f"({len(folds)} folds by family, every row predicted out-of-family once).", ""]
    lines += notes or []
    lines += ground_truth_lines(data_dir, target) if target else []
    lines += ["## Latency (held-out families)", "",
              table([["roofline only", _pct(s_roof["mape"]), _pct(s_roof["median_ape"]), _pct(s_roof["within10"]), _pct(s_roof["within25"])],
                     ["hybrid (roofline + LightGBM residual)", _pct(s_hyb["mape"]), _pct(s_hyb["median_ape"]), _pct(s_hyb["within10"]), _pct(s_hyb["within25"])]],
                    ["predictor", "MAPE", "median APE", "within +-10 %", "within +-25 %"], "lrrrr"), ""]
    # per family
    fam_rows = []
    for fam in sorted(set(groups)):
        sel = np.array([g == fam for g in groups])
        fam_rows.append([fam, str(int(sel.sum())), _pct(_stats(roof[sel], true[sel])["mape"]), _pct(_stats(hyb[sel], true[sel])["mape"])])
    lines += ["### By family (held out)", "", table(fam_rows, ["family", "rows", "roofline MAPE", "hybrid MAPE"], "lrrr"), ""]
    err = np.abs(hyb - true) / true
    worst = np.argsort(-err)[:8]
    lines += ["### Worst models (hybrid)", "",
              table([[rows[i]["key"], f"{float(rows[i]['measured_latency_s']) * 1e3:.3f} ms",
                      f"{float(rows[i]['roofline_latency_s']) * 1e3:.3f} ms",
                      f"{float(rows[i]['roofline_latency_s']) * hyb[i] * 1e3:.3f} ms", _pct(err[i] * 100)] for i in worst],
                    ["model", "measured", "roofline", "hybrid", "abs error"], "lrrrr"), ""]
    # memory
    mem = [(float(r["measured_peak_bytes"]), float(r["predicted_peak_bytes"]), r["key"]) for r in rows
           if r.get("measured_peak_bytes") not in (None, "") and float(r.get("predicted_peak_bytes") or 0) > 0]
    if mem:
        meas = np.array([m for m, _, _ in mem])
        predm = np.array([p for _, p, _ in mem])
        ratio = predm / meas
        lines += ["## Peak memory: TVM plan (activations + weights + inputs) vs measured", "",
                  f"{len(mem)} configurations: predicted / measured median {np.median(ratio):.2f}, "
                  f"p10 {np.percentile(ratio, 10):.2f}, p90 {np.percentile(ratio, 90):.2f}; "
                  f"MAPE {np.mean(np.abs(predm - meas) / meas) * 100:.1f} %.", ""]
        ex = sorted(mem, key=lambda t: t[0])[:: max(1, len(mem) // 6)][:6]
        lines += [table([[k, fmt_bytes(m), fmt_bytes(p), f"{p / m:.2f}"] for m, p, k in ex],
                        ["model", "measured", "predicted", "ratio"], "lrrr"), ""]
    # energy (GPU)
    en = [(float(r["measured_energy_j"]), float(r["predicted_energy_j"])) for r in rows if r.get("measured_energy_j")]
    if en:
        me, pe = np.array(en).T
        lines += ["## Energy per inference: roofline energy model vs NVML", "",
                  f"{len(en)} rows: predicted / measured median {np.median(pe / me):.2f}, MAPE "
                  f"{np.mean(np.abs(pe - me) / me) * 100:.1f} % (uncalibrated: the residual corrects latency only; "
                  f"static energy scales with the roofline latency).", ""]
    # speed
    an = np.array([float(r["analysis_s"]) for r in rows if r.get("analysis_s")])
    if len(an):
        meas_t = np.array([float(r["measured_latency_s"]) for r in rows])
        lines += ["## Prediction time vs measurement time", "",
                  f"analysis + prediction per model (ONNX import, cost pass, fusion, memory plan; TVM already imported): "
                  f"median {np.median(an):.2f} s, p90 {np.percentile(an, 90):.2f} s -> {1 / np.median(an):.1f} predictions/s. "
                  f"Applying the residual adds ~1 ms.", ""]
        if "measure_wall_s" in rows[0] and any(r.get("measure_wall_s") for r in rows):
            mw = np.array([float(r["measure_wall_s"]) for r in rows if r.get("measure_wall_s")])
            lines.append(f"one onnxruntime measurement (fresh process, warm-up, timed runs, profile, memory): median {np.median(mw):.1f} s "
                         f"-> prediction is {np.median(mw) / np.median(an):.0f}x faster, and needs no target device.")
        lines.append(f"(median measured latency {np.median(meas_t) * 1e3:.2f} ms per inference)")
        lines.append("")
    if few_shot_base is not None:
        lines += few_shot_section(data_dir, few_shot_base, target=target)
    text = "\n".join(lines)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text(text + "\n")
    return text


def retest_section(first: Path, second: Path, params: dict | None = None, target: str | None = None) -> list[str]:
    """The same configurations measured twice on the same core: how far apart the two runs are, and how the
    hybrid trained on the first run's other families predicts the second run (calibrate once, predict later);
    both runs labelled by ``target``."""
    from hybridperf.report.format import table
    from hybridperf.residual.model import CALIBRATION_PARAMS

    a_rows, Xa, ya, pa, *_ = held_out_predictions(first, params or CALIBRATION_PARAMS, target=target)
    b_rows, Xb, yb, pb, *_ = held_out_predictions(second, params or CALIBRATION_PARAMS, target=target)
    a_idx = {r["key"]: i for i, r in enumerate(a_rows)}
    common = [(a_idx[r["key"]], j) for j, r in enumerate(b_rows) if r["key"] in a_idx]
    ia = np.array([i for i, _ in common])
    jb = np.array([j for _, j in common])
    ta = np.array([float(a_rows[i]["measured_latency_s"]) for i in ia])
    tb = np.array([float(b_rows[j]["measured_latency_s"]) for j in jb])
    roof = np.array([float(b_rows[j]["roofline_latency_s"]) for j in jb])
    dates = {}
    for d in (first, second):
        with (d / "measurements.csv").open() as fh:
            ms = list(csv.DictReader(fh))
        ds = sorted(r["date_utc"] for r in ms)
        loads = [float(r["load_avg_1m"]) for r in ms]
        dates[d] = f"{ds[0][:16]} .. {ds[-1][11:16]} UTC, 1-min load {min(loads):.1f} .. {max(loads):.1f}"
    rel = tb / ta
    fam = {}
    for (i, _), r in zip(common, rel):
        fam.setdefault(a_rows[i].get("family", ""), []).append(r)
    fam_txt = ", ".join(f"{k} {np.median(v):.2f}x" for k, v in sorted(fam.items(), key=lambda kv: -abs(np.log(np.median(kv[1]))))[:8])
    s_first = _stats(ta, tb)
    s_scaled = _stats(ta * np.median(rel), tb)
    s_cross = _stats(roof * np.exp(pa[ia]), tb)
    s_own = _stats(np.exp(pb[jb]), np.exp(yb[jb]))
    s_roof = _stats(roof, tb)
    return ["## Test-retest: the same configurations measured twice", "",
            f"Run 1 `{first}`: {dates[first]}. Run 2 `{second}`: {dates[second]} (same core, same onnxruntime, "
            f"`python -m benchmarks.collect_cpu run --out {second} --no-wait`, the other core idle). {len(common)} configurations "
            f"in both. Run 2 / run 1 latency: median {np.median(rel):.2f}, p10 {np.percentile(rel, 10):.2f}, "
            f"p90 {np.percentile(rel, 90):.2f}; by family (most moved first): {fam_txt}. The host is a shared virtual "
            f"machine: memory-bound models moved most, so run-to-run drift, not only the predictor, bounds the "
            f"achievable error.", "",
            table([[name, _pct(st["mape"]), _pct(st["within10"]), _pct(st["within25"])] for name, st in (
                       ("run 1's measurement as the prediction of run 2", s_first),
                       (f"run 1's measurement x {np.median(rel):.2f} (the median drift)", s_scaled),
                       ("roofline, against run 2", s_roof),
                       ("hybrid trained on run 1 (other families), against run 2", s_cross),
                       ("hybrid trained on run 2 (other families), against run 2", s_own))],
                  ["predictor of run 2", "MAPE", "within +-10 %", "within +-25 %"], "lrrr"), ""]


def few_shot_section(data_dir: Path, base_dir: Path, k: int = 10, trials: int = 10, title: str | None = None,
                     kernel_dir: Path | None = None, target: str | None = None) -> list[str]:
    """Adapt the base device's stored model with K whole-model measurements; evaluate on the rest (rows and
    kernel rows labelled by ``target``)."""
    from hybridperf.residual.model import ResidualModel, load_table, subset

    X, y, groups, families, _, rows = load_table(data_dir, kernels=False, target=target)
    kt = None
    if kernel_dir is not None:  # same models on the same core: the base's kernel rows apply
        _, _, _, _, bkt, brows = load_table(kernel_dir, target=target)
        index = {r["key"]: i for i, r in enumerate(brows)}
        keep = [i for i, r in enumerate(rows) if r["key"] in index]
        X, y, rows = X[keep], y[keep], [rows[i] for i in keep]
        kt = subset(bkt, np.array([index[r["key"]] for r in rows]))
    res = {"roofline": [], "base model": [], f"adapted (K={k}; LOO picks offset, offset+slope or group scales)": [], f"trained from scratch on K={k}": []}
    rng = np.random.default_rng(0)
    for _ in range(trials):
        pick = rng.choice(len(y), size=k, replace=False)
        rest = np.setdiff1d(np.arange(len(y)), pick)
        base = ResidualModel.load(base_dir)
        true = np.exp(y[rest])
        k_rest, k_pick = subset(kt, rest), subset(kt, pick)
        res["roofline"].append(_stats(np.ones(len(rest)), true)["mape"])
        res["base model"].append(_stats(np.exp(base.predict(X[rest], k_rest)), true)["mape"])
        adapted = base.adapt(X[pick], y[pick], kernels=k_pick)
        res[f"adapted (K={k}; LOO picks offset, offset+slope or group scales)"].append(_stats(np.exp(adapted.predict(X[rest], k_rest)), true)["mape"])
        small = ResidualModel(n_estimators=50, min_data_in_leaf=2, overhead_grid_s=(0.0,)).fit(X[pick], y[pick])
        res[f"trained from scratch on K={k}"].append(_stats(np.exp(small.predict(X[rest])), true)["mape"])
    from hybridperf.report.format import table

    return [f"## Few-shot adaptation (K={k} whole-model measurements of {title or 'this device'})", "",
            f"Base: the stored model of `{base_dir.name}`{' (with its kernel model: same models, same core)' if kt is not None else ''}; "
            f"{trials} random draws of K={k} of the {len(y)} rows, evaluated on the other {len(y) - k}.", "",
            table([[name, _pct(float(np.mean(v))), _pct(float(np.min(v))), _pct(float(np.max(v)))] for name, v in res.items()],
                  ["predictor", "mean MAPE", "best draw", "worst draw"], "lrrr"), ""]


CPU_COMMAND = ("taskset -c 1 /work/venvz/bin/python -m benchmarks.collect_cpu export & taskset -c 0 /work/venvz/bin/python -m "
               "benchmarks.collect_cpu run --export-idle && taskset -c 0 python -m benchmarks.collect_cpu variant; "
               "hybridperf calibrate --device host-epyc-1c --data calibration/host-epyc-1c --out hybridperf/data/models/host-epyc-1c; "
               "python -m benchmarks.accuracy report")


CPU_NOTES = [
    "Notes: this host is an AMD EPYC (Zen 3, AVX2; `lscpu`), not the Xeon the older `host-xeon-2c` sheet and "
    "measurements describe (an earlier machine), hence the device id `host-epyc-1c` (hybridperf/data/hw_specs/host-epyc-1c.yaml, peaks "
    "and bandwidth from `taskset -c 0 hybridperf probe` on the reserved core). The targets of issue 4 (MAPE <= 5 %, "
    ">= 90 % within +-10 %) are not reached: the residual halves the roofline's error on families it never saw, and "
    "the rest is concentrated in a few families (below), and the test-retest section shows that this shared host's "
    "own run-to-run drift is larger than the target. The residual settings are "
    "`hybridperf.residual.model.CALIBRATION_PARAMS`, chosen on these folds before the per-kernel join (so the hybrid "
    "figure is slightly optimistic; with the join, the variants tried ranged 9.1-11.1 % before the renamed-node "
    "rule).", "",
    "Worst family, deeplab (measured 0.6x the roofline): its ASPP 3x3 convolutions have dilation 12/24/36 on a "
    "16x16 (256 px) or 32x32 (512 px) map, so most taps fall in the zero padding, and onnxruntime's convolution "
    "skips much of that work while the cost pass counts nominal FLOPs. Measured in isolation "
    "(`taskset -c 0 python -m benchmarks.dilated_conv`, benchmarks/results/dilated_conv.md): one 3x3 conv, 256 "
    "channels, 32x32, same nominal 1.21 GFLOP at every dilation, takes 16.8 ms at dilation 1 and 4.9 ms at "
    "dilation 36 (245 nominal GFLOP/s, above the core's peak). No other family has dilated convolutions, so a "
    "residual that never saw deeplab cannot learn this (the per-kernel features carry the valid-tap share); a "
    "cost rule for this runtime would.", "",
    "Per-kernel ground truth: onnxruntime's per-node profile is joined to TVM's fused kernels through the ONNX "
    "source graph (`hybridperf.residual.features.kernel_unit_times`; nodes onnxruntime renamed when fusing, such as "
    "SkipLayerNormalization and Gelu, are shared within their family group). With the same settings, held-out "
    "MAPE was 9.6 % when kernels were trained on their family group's time per model, 9.1 % with the join "
    "but renamed nodes spread over the whole model.", "",
]


def cmd_report(args) -> int:
    from hybridperf.residual.model import CPU_TARGET

    if (CPU_DIR / "features.csv").exists():
        t = report(CPU_DIR, "Accuracy on host-epyc-1c (one AMD EPYC Zen 3 core, onnxruntime 1 thread, held-out families)",
                   "host-epyc-1c", RESULTS / "accuracy_cpu.md", CPU_COMMAND, notes=CPU_NOTES, target=CPU_TARGET)
        extra = []
        if (NOOPT_DIR / "features.csv").exists() and (CPU_MODEL_DIR / "residual.json").exists():
            with (NOOPT_DIR / "measurements.csv").open() as fh:
                slow = {r["key"]: float(r[CPU_TARGET]) for r in csv.DictReader(fh)}
            with (CPU_DIR / "measurements.csv").open() as fh:
                ratio = [slow[r["key"]] / float(r[CPU_TARGET]) for r in csv.DictReader(fh) if r["key"] in slow]
            extra += few_shot_section(NOOPT_DIR, CPU_MODEL_DIR, kernel_dir=CPU_DIR, target=CPU_TARGET,
                                      title=f"the same core with onnxruntime graph optimisations disabled (no fusions, no "
                                      f"NCHWc layout: {min(ratio):.1f}x .. {max(ratio):.1f}x slower, by model), measured "
                                      f"with `python -m benchmarks.collect_cpu variant`")
        if (XEON_DIR / "features.csv").exists() and (CPU_MODEL_DIR / "residual.json").exists():
            extra += few_shot_section(XEON_DIR, CPU_MODEL_DIR, target=CPU_TARGET, title="host-xeon-2c: an Intel Xeon host, onnxruntime 2 threads "
                                      "(measured earlier on a shared machine, so noisy)")
        if (RETEST_DIR / "features.csv").exists() and (RETEST_DIR / "kernel_features.csv").exists():
            extra = retest_section(CPU_DIR, RETEST_DIR, target=CPU_TARGET) + extra
            extra += few_shot_section(RETEST_DIR, CPU_MODEL_DIR, kernel_dir=CPU_DIR, target=CPU_TARGET,
                                      title="test-retest run 2 (the same core 2.5 h later, drifted; see above)")
        if extra:
            t += "\n" + "\n".join(extra)
            (RESULTS / "accuracy_cpu.md").write_text(t + "\n")
        print(t)
    if (H100_DIR / "features.csv").exists():
        base = CPU_MODEL_DIR if (CPU_MODEL_DIR / "residual.json").exists() else None
        with H100_CSV.open() as fh:
            n_ok = sum(1 for r in csv.DictReader(fh) if r["status"] == "ok")
        with (H100_DIR / "features.csv").open() as fh:
            n_feat = sum(1 for _ in csv.DictReader(fh))
        h100_notes = [f"Coverage: {n_feat} of the {n_ok} `ok` rows of {H100_CSV} are featurized (`featurize-h100` "
                      f"exports and analyses each configuration; the rest were not reached or failed analysis).", ""]
        t = report(H100_DIR, "Accuracy on H100 SXM (PyTorch eager fp32 / fp16, held-out families)", "h100-sxm",
                   RESULTS / "accuracy_h100.md", "python -m benchmarks.accuracy featurize-h100 && " + CPU_COMMAND,
                   few_shot_base=base, params={}, notes=h100_notes)  # no per-kernel ground truth on the GPU: the model booster does the work
        print(t)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.accuracy", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("featurize-h100")
    f.add_argument("--out", default=str(H100_DIR))
    f.add_argument("--device", default="h100-sxm")
    f.add_argument("--deadline-s", type=float, default=3600)  # 1800 stopped two configurations short (2026-12-03)
    f.add_argument("--drop-exports", action="store_true", help="delete each ONNX export this run made once analysed")
    sub.add_parser("report")
    args = p.parse_args(argv)
    return cmd_featurize_h100(args) if args.cmd == "featurize-h100" else cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
