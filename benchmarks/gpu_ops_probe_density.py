"""How the GPU cross-device model's family probes improve with more probe shapes and a local correction.

Measures, on the **inner protocol only** of ``benchmarks/gpu_ops_cross_device.py`` (three training GPUs predict
a fourth: the ten three-GPU training sets of NeuSight's five GPUs, each predicting its two left-out GPUs, 20 pairs),
the operator MAPE of :class:`hybridperf.residual.cross_device.CrossDeviceModel` with every runtime probe and

* **no family probes**: the device bag's mean;
* **k family probe shapes per family** (k = 4, the set shipped before this study; 16, 32, 64; and 32 with
  ``linear`` capped at 8, its probes being the slowest), rescaled by family offsets and member weights
  (:func:`hybridperf.residual.cross_device.probe_weighted`, (shrink, slope shrink) :data:`TODAY`, tau
  :data:`benchmarks.gpu_ops_cross_device.FAMILY_WEIGHT_TAU`). The shapes follow the shipped rule
  (:func:`hybridperf.residual.cross_device.family_probe_rows` with ``per_family = k``: among the shapes of the
  family's probe op that every GPU measured, those at the quantiles ``(i + 0.5) / k`` of their work);
* **k shapes + a local correction** (:func:`hybridperf.residual.cross_device.local_offsets`): the target GPU's
  probe residuals left after that rescaling, smoothed per family with a Gaussian kernel over standardised log shape
  features (:func:`hybridperf.residual.cross_device.local_features`; bandwidth h) and shrunk towards 0 by a prior
  weight c: ``sum_j w_ij r_j / (sum_j w_ij + c)``. The standardisation
  (:func:`hybridperf.residual.cross_device.family_scales`) comes from the training GPUs' rows, never from the
  target's; (h, c) is chosen nested among :data:`LOCAL_GRID`: for each target GPU, on the 16 pairs predicting the
  other four GPUs, scored on the 4 pairs predicting it.

Every variant is scored on the same rows: every row of the target GPU except the GEMM-probe rows and the union of
every variant's probe rows. Also reported: the device seconds each probe set costs on each GPU (one call per shape,
the median of NeuSight's rows of that shape; and with the calls per shape of the shipped probe,
:func:`hybridperf.measure.torch_cuda.probe_calls`).

What this chose, and the library ships: k = 64 (``FAMILY_PROBE_SHAPES``) with the local correction at h = 0.25,
c = 0.01 (``benchmarks.gpu_ops_cross_device.LOCAL_BANDWIDTH`` / ``LOCAL_PRIOR``; c = 0.001-0.03 lie within 0.04
points, 0.01 is the middle rather than the grid's edge). No outer held-out GPU is scored and no H100 row is read:
this is design evidence on the training side only. The fits use the
settings of ``gpu_ops_cross_device``'s ``gemm_probe`` candidate (:data:`PARAMS`: device bag, device specialists).

Writes ``benchmarks/results/gpu_ops_probe_density.md`` headed by the command. ``--cache FILE`` stores the members'
log predictions of the 20 pairs (npz; refitted when the settings differ), so a rerun skips the ten fits.

Usage (pinned to one core, about 6 minutes; 1-2 with a warm ``--cache``)::

    taskset -c 0 python -m benchmarks.gpu_ops_probe_density [--cache /tmp/probe_density.npz]
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.gpu_ops_cross_device import (
    add_fit_arguments,
    CANDIDATES,
    FAMILY_WEIGHT_TAU,
    _Data,
    _probes,
    write_doc,
)
from hybridperf.device.spec import load_spec
from hybridperf.measure.torch_cuda import probe_calls, probe_families
from hybridperf.residual.cross_device import (
    family_probe_rows,
    family_probe_size,
    family_scales,
    gemm_probe_rows,
    local_features,
    local_offsets,
    mape,
    probe_weighted,
)
from hybridperf.residual.neusight import FAMILIES, GPUS, load_ops

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "gpu_ops_probe_density.md"
#: probe shapes per family compared (the first is the set shipped before this study, the reference of the table)
KS: tuple[int, ...] = (4, 16, 32, 64)
#: the capped variant: (k, family, k for that family)
CAPPED = (32, "linear", 8)
#: today's (shrink, slope shrink) of the family offsets: the inner design of ``gpu_ops_cross_device``
TODAY = (0.75, 1.0)
#: (bandwidth h, prior weight c) of the local correction, chosen nested; h in units of standard deviations
#: (root mean square over the features that vary), c in units of kernel weight
LOCAL_GRID: tuple[tuple[float, float], ...] = tuple(itertools.product((0.15, 0.2, 0.25, 0.3, 0.5),
                                                                    (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)))
#: model settings of every fit: ``gpu_ops_cross_device``'s GEMM-probe candidate, device bag and specialists
PARAMS = {**CANDIDATES[1], "device_bagging": True, "device_specialists": True, "family_weight_tau": FAMILY_WEIGHT_TAU}
#: (warm-up, timed, budget seconds) per shape of the shipped GPU probe (:func:`hybridperf.measure.torch_cuda.probe_families`)
SHIPPED_PROBE = tuple(inspect.signature(probe_families).parameters[k].default for k in ("warmup", "repeats", "budget_s"))


def shipped_calls(one_call_s: float) -> int:
    """Calls the shipped probe makes of a shape whose call takes ``one_call_s`` (its first call included)."""
    warm, timed = probe_calls(one_call_s, *SHIPPED_PROBE)
    return 1 + warm + timed


def local_corrections(features: np.ndarray, family: np.ndarray, residual_log: np.ndarray, probe: np.ndarray,
                      scales: dict[str, tuple], grid=LOCAL_GRID) -> dict[tuple[float, float], np.ndarray]:
    """:func:`hybridperf.residual.cross_device.local_offsets` of every row at each ``(h, c)`` of ``grid``."""
    return {(h, c): local_offsets(features, family, residual_log, probe, scales, h, c) for h, c in grid}


def probe_masks(rows) -> dict[str, np.ndarray]:
    """Row mask of each probe set: ``k=K`` for :data:`KS`, and the :data:`CAPPED` one."""
    def mask(k):
        m = np.zeros(len(rows), bool)
        m[family_probe_rows(rows, k)] = True
        return m

    out = {f"k={k}": mask(k) for k in KS}
    k, fam, k_fam = CAPPED
    out[f"k={k}, {fam} {k_fam}"] = np.where(rows.family == fam, mask(k_fam), out[f"k={k}"])
    return out


def probe_seconds(rows, keys: np.ndarray, mask: np.ndarray, devices) -> tuple[dict[str, float], float]:
    """Per family, the device seconds of one call of each probe shape on ``devices`` (the median of the rows
    of that shape); and the seconds of the shipped probe's calls of them all (:func:`shipped_calls`). ``keys``: the
    rows' :meth:`~hybridperf.residual.neusight.PricedOps.shape_matrix`."""
    out, shipped = {}, 0.0
    for f in FAMILIES:
        tot = 0.0
        for d in devices:
            s = mask & (rows.family == f) & (rows.device == d)
            if s.any():
                _, inv = np.unique(keys[s], axis=0, return_inverse=True)
                inv = inv.reshape(-1)
                one = [float(np.median(rows.measured_s[s][inv == i])) for i in range(inv.max() + 1)]
                tot += sum(one)
                shipped += sum(t * shipped_calls(t) for t in one)
        out[f] = tot
    return out, shipped


def member_predictions(rows, args) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """Per pair ``"a|b|c>g"``: (positions of g's rows, members' log latency on them with every runtime probe
    (float32), members in the device bag); from ``args.cache`` when it holds these settings."""
    settings = f"{PARAMS} rows {args.train_rows} estimators {args.estimators} seed {args.seed}"
    if args.cache and Path(args.cache).exists():
        z = np.load(args.cache)
        if "settings" in z.files and str(z["settings"]) == settings:
            keys = sorted({k.rsplit(":", 1)[0] for k in z.files if ":" in k})
            return {k: (z[k + ":idx"], z[k + ":lp"], int(z[k + ":main"])) for k in keys}
        print(f"{args.cache} holds other settings: refitting", file=sys.stderr)
    t0 = time.time()
    specs = {d: load_spec(d) for d in np.unique(rows.device)}
    gemm_rows = gemm_probe_rows(rows)
    none = np.zeros(len(rows), bool)
    data = _Data(rows, specs, _probes(rows, specs, gemm_rows), ~none, none)
    print(f"priced {len(rows)} rows in {time.time() - t0:.0f} s", file=sys.stderr)
    out = {}
    for train in itertools.combinations(list(GPUS), 3):
        m = data.fit(list(train), {**PARAMS, "n_estimators": args.estimators}, args.train_rows, args.seed)
        for g in (g for g in GPUS if g not in train):
            on = np.isin(rows.device, GPUS[g])
            pr = {d: m.complete_probe(data.probes[d], specs[d]) for d in GPUS[g]}
            lp = m.log_member_latency(rows.take(on), specs, pr).astype(np.float32)
            out["|".join(train) + ">" + g] = (np.where(on)[0], lp, 1 + len(m.bag_))
        print(f"fitted {'|'.join(train)} ({time.time() - t0:.0f} s)", file=sys.stderr)
    if args.cache:
        flat = {f"{k}:{n}": v for k, t in out.items() for n, v in zip(("idx", "lp", "main"), t)}
        np.savez_compressed(args.cache, settings=np.array(settings), **flat)
    return out


def _scores(pred, meas, fam) -> dict[str, float]:
    return {"all": mape(pred, meas), **{f: mape(pred[fam == f], meas[fam == f]) for f in FAMILIES if (fam == f).any()}}


def evaluate(rows, preds, masks) -> tuple[dict[str, list], list[str], int]:
    """Per variant, one score dict per pair (order of the pairs returned); plus the scored-row count.
    Local variants are named ``"<probe set> + local h=H c=C"``."""
    gemm_rows = gemm_probe_rows(rows)
    scored = ~np.logical_or.reduce(list(masks.values()))
    scored[gemm_rows] = False
    logm_all, size_all, F_all = np.log(rows.measured_s), family_probe_size(rows), local_features(rows)
    res: dict[str, list] = {}
    pairs = sorted(preds)
    for key in pairs:
        idx, lp, main = preds[key]
        lp = lp.astype(float)
        train = [d for g in key.split(">")[0].split("|") for d in GPUS[g]]
        ref = np.isin(rows.device, train)
        scales = family_scales(F_all[ref], rows.family[ref])
        fam, size, logm, dev, F = rows.family[idx], size_all[idx], logm_all[idx], rows.device[idx], F_all[idx]
        sc, meas = scored[idx], rows.measured_s[idx]
        res.setdefault("no family probes (bag mean)", []).append(_scores(np.exp(lp[:main].mean(0))[sc], meas[sc],
                                                                         fam[sc]))
        for name, mask in masks.items():
            probe = mask[idx]
            pred = np.zeros(len(idx))
            local = {hc: np.zeros(len(idx)) for hc in LOCAL_GRID}
            for d in np.unique(dev):
                s = dev == d
                pred[s] = probe_weighted(lp[:, s], fam[s], size[s], logm[s], probe[s], *TODAY, FAMILY_WEIGHT_TAU,
                                         main)
                for hc, v in local_corrections(F[s], fam[s], (logm - pred)[s], probe[s], scales,
                                                LOCAL_GRID).items():
                    local[hc][s] = v
            res.setdefault(name, []).append(_scores(np.exp(pred)[sc], meas[sc], fam[sc]))
            for (h, c), v in local.items():
                res.setdefault(f"{name} + local h={h} c={c}", []).append(_scores(np.exp(pred + v)[sc], meas[sc],
                                                                                   fam[sc]))
        print(f"scored {key}", file=sys.stderr)
    return res, pairs, int(scored.sum())


def nested(res: dict[str, list], pairs: list[str], base: str) -> tuple[list[dict], dict[str, str]]:
    """Per pair, the scores of ``base + local`` at the (h, c) with the lowest mean MAPE over the pairs predicting
    the other GPUs; and the (h, c) chosen per target GPU."""
    target = [p.split(">")[1] for p in pairs]
    names = [f"{base} + local h={h} c={c}" for h, c in LOCAL_GRID]
    out, chosen = [None] * len(pairs), {}
    for g in GPUS:
        best = min(names, key=lambda n: np.mean([r["all"] for r, t in zip(res[n], target) if t != g]))
        chosen[g] = best.split(" + local ")[1]
        for i, t in enumerate(target):
            if t == g:
                out[i] = res[best][i]
    return out, chosen


def report(rows, res, pairs, n_scored, masks, args) -> str:
    today = f"k={KS[0]}"
    ref = [r["all"] for r in res[today]]

    def line(name, per_pair, note=""):
        mean = {f: float(np.mean([r[f] for r in per_pair])) for f in ("all", *FAMILIES)}
        lower = sum(r["all"] < b - 1e-9 for r, b in zip(per_pair, ref))
        return (f"| {name} | {mean['all']:.2f} | " + " | ".join(f"{mean[f]:.1f}" for f in FAMILIES)
                + f" | {lower}/{len(pairs)} | {note} |")

    head = ["| variant | MAPE % | " + " | ".join(FAMILIES) + f" | pairs below {today} | (h, c) chosen per target |",
            "|---|---:|" + "---:|" * len(FAMILIES) + "---:|---|"]
    table = [line("no family probes (bag mean)", res["no family probes (bag mean)"])]
    table += [line(n + (" (shipped before)" if n == today else ""), res[n]) for n in masks]
    choices = {}
    for n in masks:
        per_pair, chosen = nested(res, pairs, n)
        choices[n] = chosen
        same = len(set(chosen.values())) == 1
        table.append(line(f"{n} + local (nested)", per_pair,
                          next(iter(chosen.values())) + " (all)" if same
                          else ", ".join(f"{g} {v}" for g, v in chosen.items())))
    grid = ["| (h, c) | " + " | ".join(masks) + " |", "|---|" + "---:|" * len(masks)]
    for h, c in LOCAL_GRID:
        grid.append(f"| {h}, {c} | " + " | ".join(
            f"{np.mean([r['all'] for r in res[f'{n} + local h={h} c={c}']]):.2f}" for n in masks) + " |")
    keys = rows.shape_matrix()
    secs = {n: {g: probe_seconds(rows, keys, m, GPUS[g]) for g in GPUS} for n, m in masks.items()}
    shapes = {n: {f: len(np.unique(keys[m & (rows.family == f)], axis=0)) for f in FAMILIES} for n, m in masks.items()}
    cost = ["| probe set | shapes (" + " / ".join(FAMILIES) + ") | " + " | ".join(f"{f} ms" for f in FAMILIES)
            + " | " + " | ".join(f"{g} s" for g in GPUS) + " | mean s | shipped probe: " + " | ".join(
                f"{g} s" for g in GPUS) + " |",
            "|---|---|" + "---:|" * (len(FAMILIES) + 2 * len(GPUS) + 1)]
    for n in masks:
        tot = {g: sum(secs[n][g][0].values()) for g in GPUS}
        cost.append(f"| {n} | " + " / ".join(str(shapes[n][f]) for f in FAMILIES) + " | "
                    + " | ".join(f"{np.mean([secs[n][g][0][f] for g in GPUS]) * 1e3:.1f}" for f in FAMILIES) + " | "
                    + " | ".join(f"{tot[g]:.3f}" for g in GPUS)
                    + f" | {float(np.mean(list(tot.values()))):.3f} | "
                    + " | ".join(f"{secs[n][g][1]:.1f}" for g in GPUS) + " |")
    out = [
        "## Operator MAPE %, mean over the 20 inner pairs (three training GPUs predict a fourth)", "",
        *head, *table, "",
        f"Scored: {n_scored} rows over the five GPUs (every row except the GEMM-probe rows and the union of all probe "
        f"sets' rows, the same for every variant); each pair's MAPE over its target GPU's scored rows, per family over "
        f"that family's. Family offsets (shrink, slope shrink) {TODAY}, member weights tau {FAMILY_WEIGHT_TAU}. "
        f"Local: (h, c) chosen for each target GPU on the 16 pairs predicting the other four GPUs among "
        f"h x c = {sorted({h for h, _ in LOCAL_GRID})} x {sorted({c for _, c in LOCAL_GRID})}; features standardised "
        "per family on the training GPUs' rows.", "",
        "## Local correction at each (h, c), mean over the 20 pairs (not nested)", "", *grid, "",
        "## Device time of the probe sets", "",
        "Shapes per family; one call per shape (the median of NeuSight's rows of that shape), per family the mean over "
        "the five GPUs in ms, the total per GPU in s; shipped probe: the seconds of the calls "
        "hybridperf.measure.torch_cuda.probe_families makes of those shapes (first call, then (warm-up, timed, budget "
        f"s) {SHIPPED_PROBE} per shape, fewer calls where they would exceed the budget, at least 3 timed: "
        "probe_calls). Kernel time only (no allocation, no Python between calls).", "",
        *cost, "",
        f"Setup: per three-GPU training set, one CrossDeviceModel {PARAMS}, {args.train_rows} training rows sampled "
        f"(seed {args.seed}), {args.estimators} rounds, one thread; every runtime probe of the target (floor, stream, "
        "GEMM) completed by the model; members' log latencies kept as float32. No outer held-out GPU, no H100 row. "
        "Data: NeuSight (sitar-lab/NeuSight, MIT licence): Lee et al., ASPLOS 2025.",
    ]
    return "\n".join(out)


def run(args) -> str:
    t0 = time.time()
    rows = load_ops(args.data)
    preds = member_predictions(rows, args)
    masks = probe_masks(rows)
    res, pairs, n_scored = evaluate(rows, preds, masks)
    text = report(rows, res, pairs, n_scored, masks, args)
    print(f"done in {time.time() - t0:.0f} s", file=sys.stderr)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fit_arguments(ap)
    ap.add_argument("--cache", type=Path, default=None,
                    help="npz of the members' predictions: read when it holds these settings, else written")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    write_doc("GPU operators: family-probe density and a local correction (inner pairs, NeuSight data)",
              "taskset -c 0 python -m benchmarks.gpu_ops_probe_density", argv, run(args), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
