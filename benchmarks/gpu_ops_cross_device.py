"""Leave-one-GPU-out on NeuSight's GPU operator data: roofline vs the cross-device residual.

For each of the five measured GPUs (P4, P100, T4, V100, A100), train
:class:`hybridperf.residual.cross_device.CrossDeviceModel` on the other four and predict the fifth from
its spec sheet. Nothing is tuned on the held-out GPU: the LightGBM settings and whether matmuls are priced
at a GEMM rate (``gemm_probe``) are chosen among :data:`CANDIDATES` by an inner leave-one-GPU-out over
the four training GPUs (nested CV, inner score = mean of the zero-shot and the all-probes MAPE, single models);
the features and tiles are fixed a priori (see :mod:`hybridperf.residual.device_features`). The outer model is a
device bag (``device_bagging``: the mean log ratio of the model on the four training GPUs and the four models
that each leave one of them out; ``--no-bag`` for the single model), a design chosen on three-GPU training
sets (module docstring of :mod:`hybridperf.residual.cross_device`). Four ways to know
the held-out device's runtime (:class:`hybridperf.residual.device_features.RuntimeProbe`):

* **zero-shot**: nothing measured on the held-out GPU (training devices' median dispatch floor,
  sheet bandwidth x their median attainable fraction);
* **floor probe**: its measured dispatch floor (median over tiny element-wise ops of their
  2nd-percentile latency), bandwidth as zero-shot;
* **floor + stream probe**: also its attainable bandwidth from its largest ``add`` call;
* **+ GEMM probe**: also its sustained GEMM rate, the median rate of the 20 largest ``bmm`` shapes that
  all five GPUs measured (:func:`hybridperf.residual.cross_device.gemm_probe_rows`; those rows are left
  out of every score). Only a ``gemm_probe`` model uses it; without it, such a model assumes the sheet
  peak x the training GPUs' median GEMM efficiency;
* **+ family probes**: also the shipped family-probe shapes (64 per op family) measured on the held-out GPU
  (:func:`hybridperf.residual.cross_device.family_probe_rows`, left out of every score): each family's
  prediction is rescaled by the shrunk log offset of its probes vs the model's prediction for them
  (:func:`hybridperf.residual.cross_device.family_offsets`, slope along
  :func:`hybridperf.residual.cross_device.family_probe_size`); the shrink and the slope shrink are chosen
  among :data:`FAMILY_GRID` by the same inner leave-one-GPU-out (for the chosen candidate). The outer model also
  holds one model per training GPU alone (device specialists, ``--no-specialists`` to drop them): every member is
  rescaled by the probes and the members are weighed per family by how well one offset fits their probes
  (:func:`hybridperf.residual.cross_device.probe_weighted`, :data:`FAMILY_WEIGHT_TAU`; a design chosen on
  three-GPU training sets, module docstring of :mod:`hybridperf.residual.cross_device`). Then what the probes'
  residuals keep is smoothed onto nearby shapes (:func:`hybridperf.residual.cross_device.local_offsets`,
  :data:`LOCAL_BANDWIDTH`, :data:`LOCAL_PRIOR`, standardised on the training GPUs' rows; fixed a priori from the
  three-GPU-train pairs of ``benchmarks/gpu_ops_probe_density.py``; ``--no-local`` to drop it). The column
  ``+ family probes, no local`` is the same prediction without that last step.

Prints a markdown table (MAPE and share within +-10 % per device and op family) and writes it to
``benchmarks/results/gpu_ops_cross_device.md`` headed by the command. With ``--save-model DIR`` also
trains on all five GPUs and stores the model (LightGBM text + JSON sidecar) with NeuSight's licence.

Run (pinned to one core)::

    taskset -c 0 python -m benchmarks.gpu_ops_cross_device
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from hybridperf.device.spec import load_spec
from hybridperf.residual.cross_device import (
    FAMILY_PROBE_INTENSITY_AXIS,
    FAMILY_PROBES_PER_FAMILY,
    probe_weighted,
    CrossDeviceModel,
    baseline,
    family_probe_rows,
    family_probe_size,
    family_scales,
    featurize,
    gemm_probe_rows,
    local_features,
    local_offsets,
    mape,
    runtime_probes,
)
from hybridperf.residual.device_features import RuntimeProbe
from hybridperf.residual.neusight import FAMILIES, GPUS, load_ops

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "neusight"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "gpu_ops_cross_device.md"
CITATION = ('NeuSight (sitar-lab/NeuSight, MIT licence): Lee et al., "Forecasting GPU Performance for Deep Learning '
            'Training and Inference", ASPLOS 2025.')
#: settings the inner leave-one-GPU-out chooses from: matmuls priced at the sheet peak or at a GEMM rate (a strongly
#: regularised tree, 15 leaves and 200 rows per leaf, lost every inner selection of the previous run and was dropped
#: to halve the run time)
CANDIDATES: tuple[dict, ...] = (
    {"num_leaves": 63, "min_data_in_leaf": 50, "gemm_probe": False},
    {"num_leaves": 63, "min_data_in_leaf": 50, "gemm_probe": True},
)
MODES = ("zero-shot", "floor probe", "floor + stream probe", "+ GEMM probe")
#: the mode that also measures each family's probe shapes on the held-out GPU (on top of every other probe)
FAMILY_MODE = "+ family probes"
#: the family-probe mode without the local correction (family offsets and member weights only)
FAMILY_NO_LOCAL = "+ family probes, no local"
#: (shrink, slope shrink) of :func:`hybridperf.residual.cross_device.family_offsets` the inner selection chooses from
FAMILY_GRID: tuple[tuple[float, float], ...] = ((0.5, 0.0), (0.75, 0.0), (1.0, 0.0), (0.5, 0.5), (0.75, 0.5),
                                               (1.0, 0.5), (0.75, 1.0), (1.0, 1.0))
ALL_MODES = (*MODES, FAMILY_NO_LOCAL, FAMILY_MODE)
#: temperature of :func:`hybridperf.residual.cross_device.probe_weighted` in the family-probe mode of a model with
#: device specialists (fixed a priori from the three-GPU-train pairs; see the module docstring)
FAMILY_WEIGHT_TAU = 0.05
#: bandwidth (standard deviations) and prior weight of the local correction in the family-probe mode: fixed a priori
#: from the three-GPU-train pairs (``benchmarks/gpu_ops_probe_density.py``, 64 shapes per family: h 0.25 best at every
#: c; c 0.001-0.03 within 0.04 points, 0.01 the middle rather than the grid's edge)
LOCAL_BANDWIDTH = 0.25
LOCAL_PRIOR = 0.01
#: latency buckets of the error profile (seconds, lower edges)
BUCKETS_S = (0.0, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3)


def within(pred, true, tol=0.10) -> float:
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    return float(np.mean(np.abs(pred - true) / true <= tol) * 100)


def _probes(rows, specs, gemm_rows) -> dict[str, RuntimeProbe]:
    pr = runtime_probes(rows, gemm_rows=gemm_rows)
    # NeuSight measured conv on an A100 80GB PCIe, with no element-wise rows: same host software and GPU die as the
    # A100 40GB PCIe, so its floor; its bandwidth probe scaled by the two sheets' DRAM bandwidths
    a40, a80 = "a100-pcie-40gb", "a100-pcie-80gb"
    if a80 not in pr and a40 in pr and a80 in specs:
        p = pr[a40]
        ratio = specs[a80].dram_bandwidth_bytes_per_s / specs[a40].dram_bandwidth_bytes_per_s
        pr[a80] = RuntimeProbe(p.dispatch_floor_s, p.stream_bytes_per_s * ratio if p.stream_bytes_per_s else None,
                               p.gemm_flops_per_s)
    return pr


def _sample(idx: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return idx if len(idx) <= n else np.sort(rng.choice(idx, n, replace=False))


class _Data:
    """Rows, sheets, probes, the probed features and targets of every row (with and without GEMM pricing)."""

    def __init__(self, rows, specs, probes, scored, family_probe):
        self.rows, self.specs, self.probes, self.scored = rows, specs, probes, scored
        self.family_probe = family_probe
        self.local_features = local_features(rows)
        plain = {d: RuntimeProbe(p.dispatch_floor_s, p.stream_bytes_per_s) for d, p in probes.items()}
        self.Xy = {}
        for gemm, pr in ((False, plain), (True, probes)):
            self.Xy[gemm] = (featurize(rows, specs, pr), np.log(rows.measured_s / baseline(rows, specs, pr)))

    def fit(self, gpus, params, n_rows, seed) -> CrossDeviceModel:
        devs = [d for g in gpus for d in GPUS[g]]
        tr = _sample(np.where(np.isin(self.rows.device, devs))[0], n_rows, np.random.default_rng(seed))
        train_devs = sorted(set(self.rows.device[tr]))
        X, y = self.Xy[bool(params.get("gemm_probe"))]
        gpu_of = {d: g for g, ds in GPUS.items() for d in ds}
        on = np.isin(self.rows.device, devs)  # the local correction's scales: every row of the training GPUs
        scales = family_scales(self.local_features[on], self.rows.family[on]) if params.get("local_bandwidth") else None
        return CrossDeviceModel(**params).fit(X[tr], y[tr], devices=train_devs,
                                              probes={d: self.probes[d] for d in train_devs}, specs=self.specs,
                                              groups=[gpu_of[d] for d in self.rows.device[tr]], shape_scales=scales)

    def predict(self, m: CrossDeviceModel, gpu: str, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """(row mask, predicted latency) of ``gpu``'s scored rows under ``mode`` (what the probes measured)."""
        te = np.isin(self.rows.device, GPUS[gpu]) & self.scored
        sub = self.rows.take(te)
        pr = {}
        for d in GPUS[gpu]:
            p = self.probes[d]
            pr[d] = {"zero-shot": RuntimeProbe(m.default_floor_s_), "floor probe": RuntimeProbe(p.dispatch_floor_s),
                     "floor + stream probe": RuntimeProbe(p.dispatch_floor_s, p.stream_bytes_per_s)}.get(mode, p)
        return te, m.predict_latency(sub, self.specs, pr)

    def family_predictions(self, m: CrossDeviceModel, gpu: str) -> tuple[np.ndarray, list, list]:
        """(scored-row mask, one predicted latency array per :data:`FAMILY_GRID` point, the same without the local
        correction) of ``gpu`` with every probe and its family probes."""
        on = np.isin(self.rows.device, GPUS[gpu]) & (self.scored | self.family_probe)
        sub = self.rows.take(on)
        pr = {d: m.complete_probe(self.probes[d], self.specs[d]) for d in GPUS[gpu]}
        weighted = bool(m.specialists_) and m.family_weight_tau > 0
        if weighted:  # every member rescaled by the probes and weighed by them (probe_weighted)
            log_pred = m.log_member_latency(sub, self.specs, pr)
        else:  # one prediction rescaled by the probes (probe_weighted of one member is family_offsets)
            log_pred = np.log(m.predict_latency(sub, self.specs, pr))[None]
        main, tau = (1 + len(m.bag_), m.family_weight_tau) if weighted else (1, 1.0)
        probe, keep, size = self.family_probe[on], self.scored[on], family_probe_size(sub)
        feats, logm = self.local_features[on], np.log(sub.measured_s)
        # per device: the A100's conv rows are another sheet (its own probe rows)
        out, no_local = [], []
        for shrink, slope in FAMILY_GRID:
            pred, local = np.zeros(len(sub)), np.zeros(len(sub))
            for d in np.unique(sub.device):
                s = sub.device == d
                pred[s] = probe_weighted(log_pred[:, s], sub.family[s], size[s], logm[s], probe[s], shrink, slope, tau,
                                         main)
                if m.local_bandwidth:  # the probes' leftover residuals smoothed onto nearby shapes
                    local[s] = local_offsets(feats[s], sub.family[s], np.where(probe[s], logm[s] - pred[s], 0.0),
                                             probe[s], m.local_scales_, m.local_bandwidth, m.local_prior)
            out.append(np.exp(pred + local)[keep])
            no_local.append(np.exp(pred)[keep])
        te = np.isin(self.rows.device, GPUS[gpu]) & self.scored
        return te, out, no_local


def _specialists(args) -> dict:
    """Model settings for device specialists weighed by family probes (off with ``--no-specialists``)."""
    on = not args.no_specialists
    return {"device_specialists": on, "family_weight_tau": FAMILY_WEIGHT_TAU if on else 0.0}


def _local(args) -> dict:
    """Model settings of the local correction (off with ``--no-local``)."""
    return {} if args.no_local else {"local_bandwidth": LOCAL_BANDWIDTH, "local_prior": LOCAL_PRIOR}


def _choose(data: _Data, gpus: list[str], args) -> tuple[int, list[float], int, list[float]]:
    """Index of the candidate with the lowest inner score over a leave-one-GPU-out on ``gpus`` (the mean over
    the inner held-out GPUs of the zero-shot and the all-probes MAPE), its scores, and for that candidate the
    index of the :data:`FAMILY_GRID` point with the lowest inner family-probe MAPE and those MAPEs."""
    scores, fam_scores = [], []
    for params in CANDIDATES:
        errs, ferrs = [], []
        for g in gpus:
            m = data.fit([x for x in gpus if x != g], {**params, "n_estimators": args.estimators, **_local(args)},
                         args.train_rows, args.seed)
            for mode in (MODES[0], MODES[-1]):
                te, p = data.predict(m, g, mode)
                errs.append(mape(p, data.rows.measured_s[te]))
            te, fp, _ = data.family_predictions(m, g)
            ferrs.append([mape(p, data.rows.measured_s[te]) for p in fp])
        scores.append(float(np.mean(errs)))
        fam_scores.append(np.mean(ferrs, axis=0).tolist())
    best = int(np.argmin(scores))
    return best, scores, int(np.argmin(fam_scores[best])), fam_scores[best]


def _profile_table(profile) -> list[str]:
    """Rows ``family x latency bucket`` of ``zero-shot / all-probes`` MAPE (row count) over every fold."""
    meas, fam, zs, full = (np.concatenate(c) for c in zip(*profile))
    edges = (*BUCKETS_S, np.inf)
    names = [f"{lo * 1e6:.0f}-{hi * 1e6:.0f} µs" if np.isfinite(hi) else f">= {lo * 1e6:.0f} µs"
             for lo, hi in zip(edges[:-1], edges[1:])]
    out = ["zero-shot / " + MODES[-1] + " MAPE % (rows)", "",
           "| family | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for f in FAMILIES:
        cells = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            s = (fam == f) & (meas >= lo) & (meas < hi)
            cells.append(f"{mape(zs[s], meas[s]):.0f} / {mape(full[s], meas[s]):.0f} ({int(s.sum())})"
                         if s.any() else "")
        out.append(f"| {f} | " + " | ".join(cells) + " |")
    return out


def run(args) -> str:
    t0 = time.time()
    rows = load_ops(args.data)
    specs = {d: load_spec(d) for d in np.unique(rows.device)}
    gemm_rows = gemm_probe_rows(rows)
    family_probe = np.zeros(len(rows), bool)
    family_probe[family_probe_rows(rows)] = True
    scored = ~family_probe
    scored[gemm_rows] = False
    data = _Data(rows, specs, _probes(rows, specs, gemm_rows), scored, family_probe)
    print(f"priced {len(rows)} rows in {time.time() - t0:.0f} s", file=sys.stderr)
    lines, summary, chosen, profile = [], [], {}, []
    imp_total: dict[str, float] = {}
    for g in GPUS:
        train_gpus = [x for x in GPUS if x != g]
        best, scores, fbest, fscores = (_choose(data, train_gpus, args) if not args.no_nested
                                        else (0, [float("nan")], 0, [float("nan")]))
        chosen[g] = (best, scores, fbest, fscores)
        params = {**CANDIDATES[best], "n_estimators": args.estimators, "device_bagging": not args.no_bag,
                  **_specialists(args), **_local(args)}
        m = data.fit(train_gpus, params, args.train_rows, args.seed)
        for k, v in m.feature_importance().items():
            imp_total[k] = imp_total.get(k, 0.0) + v
        preds = {}
        for mode in MODES:
            te, preds[mode] = data.predict(m, g, mode)
        _, fp, fp_no_local = data.family_predictions(m, g)
        preds[FAMILY_MODE], preds[FAMILY_NO_LOCAL] = fp[fbest], fp_no_local[fbest]
        roof, meas, fam = rows.roofline_s[te], rows.measured_s[te], rows.family[te]
        profile.append((meas, fam, preds[MODES[0]], preds[MODES[-1]]))
        for f in (*FAMILIES, "all"):
            s = np.ones(len(fam), bool) if f == "all" else fam == f
            if not s.any():
                continue
            r = [g, f, int(s.sum()), mape(roof[s], meas[s]), within(roof[s], meas[s])]
            for mode in ALL_MODES:
                r += [mape(preds[mode][s], meas[s]), within(preds[mode][s], meas[s])]
            lines.append(r)
            if f == "all":
                summary.append(r)
        print(f"{g}: candidate {best} (inner {', '.join(f'{s:.1f}' for s in scores)}); roofline {summary[-1][3]:.1f} %, "
              + ", ".join(f"{mode} {summary[-1][5 + 2 * i]:.1f} %" for i, mode in enumerate(ALL_MODES))
              + f" ({time.time() - t0:.0f} s)", file=sys.stderr)

    def fmt(r):
        return "| " + " | ".join([r[0], r[1], str(r[2])] + [f"{v:.1f}" if i % 2 == 0 else f"{v:.0f}"
                                                             for i, v in enumerate(r[3:])]) + " |"

    head = ("| held-out GPU | family | rows | roofline MAPE % | roofline ±10 % | "
            + " | ".join(f"{m} MAPE % | {m} ±10 %" for m in ALL_MODES) + " |\n|---|---|---:|"
            + "---:|" * (2 + 2 * len(ALL_MODES)))
    mean_row = ["mean", "all", int(sum(r[2] for r in summary))] + [float(np.mean([r[i] for r in summary]))
                                                                   for i in range(3, len(summary[0]))]
    tot = sum(imp_total.values()) or 1.0
    top = sorted(imp_total.items(), key=lambda kv: -kv[1])[:12]
    sel = [f"{g}: candidate {b} {CANDIDATES[b]} (inner score per candidate: "
           f"{', '.join(f'{s:.1f} %' for s in sc)}); family probes (shrink, slope shrink) {FAMILY_GRID[fb]} "
           f"(inner family-probe MAPE per grid point: {', '.join(f'{s:.1f} %' for s in fsc)})"
           for g, (b, sc, fb, fsc) in chosen.items()]
    out = [
        "## Per held-out GPU (all op families)", "", head, *(fmt(r) for r in summary), fmt(mean_row), "",
        "## Per held-out GPU and op family", "", head, *(fmt(r) for r in lines), "",
        "## Settings chosen by the inner leave-one-GPU-out (four training GPUs only)", "",
        *(f"- {s}" for s in sel), "",
        "## Where the error is: MAPE % by op family and measured latency, all five held-out GPUs", "",
        *_profile_table(profile), "",
        "## Device figures (probes from the data)", "",
        "| sheet | dispatch floor µs | stream GB/s (sheet) | GEMM probe TFLOP/s (sheet fp32 peak) |",
        "|---|---:|---:|---:|",
        *(f"| {d} | {p.dispatch_floor_s * 1e6:.1f} | {p.stream_bytes_per_s / 1e9:.0f} "
          f"({specs[d].dram_bandwidth_bytes_per_s / 1e9:.0f}) | {p.gemm_flops_per_s / 1e12:.2f} "
          f"({specs[d].peak_flops('fp32') / 1e12:.1f}) |" for d, p in sorted(data.probes.items())), "",
        "## Feature importance (gain share, summed over the five folds)", "",
        "| feature | gain % |", "|---|---:|", *(f"| {k} | {v / tot * 100:.1f} |" for k, v in top), "",
        f"Setup: {args.train_rows} training rows sampled from the training GPUs per fit (seed {args.seed}), "
        f"LightGBM {args.estimators} rounds, one thread, "
        + ("single model" if args.no_bag else "device bag (the model on all training GPUs and one per training GPU "
           "left out, mean log ratio)")
        + ("" if args.no_specialists else f"; in {FAMILY_MODE} also one model per training GPU alone (device "
           "specialists), each member rescaled by the family probes and the members weighed per family by how well "
           f"one offset fits its probes (probe_weighted, tau {FAMILY_WEIGHT_TAU})")
        + ("" if args.no_local else f"; then the probes' leftover log residuals smoothed onto nearby shapes "
           f"(local_offsets, bandwidth {LOCAL_BANDWIDTH} sd, prior {LOCAL_PRIOR}, {FAMILY_PROBES_PER_FAMILY} probe "
           f"shapes per family; {FAMILY_NO_LOCAL}: without this step)")
        + "; target log(measured / max(compute, memory, floor)) (with "
        "gemm_probe the bmm rows' compute time at the GEMM rate); MAPE is the mean of |predicted - measured| / "
        f"measured over every measured row of the held-out GPU except the {int((~scored).sum())} GEMM-probe and "
        f"family-probe rows ({FAMILY_MODE}: the grid {FAMILY_GRID} of (shrink, slope shrink); slope along the log "
        f"roofline, for {', '.join(FAMILY_PROBE_INTENSITY_AXIS)} along log(compute / memory time)). "
        "The A100 fold holds out both A100 sheets (NeuSight measured conv on an A100 80GB PCIe, every other op on an "
        "A100 40GB PCIe; the 80GB's probe is the 40GB's floor and its bandwidth probe scaled by the sheets' DRAM "
        "bandwidth ratio). Data: " + CITATION,
    ]
    text = "\n".join(out)
    if args.save_model:
        best = Counter(c[0] for c in chosen.values()).most_common(1)[0][0]
        shrink, slope = FAMILY_GRID[Counter(c[2] for c in chosen.values()).most_common(1)[0][0]]
        m = data.fit(list(GPUS), {**CANDIDATES[best], "n_estimators": args.estimators, "device_bagging": not args.no_bag,
                                  "family_shrink": shrink, "family_slope_shrink": slope, **_specialists(args),
                                  **_local(args)},
                     args.train_rows, args.seed)
        loo = {r[0]: {"roofline_mape": r[3], **{f"{mode}_mape": r[5 + 2 * i] for i, mode in enumerate(ALL_MODES)}}
               for r in summary}
        d = m.save(args.save_model, metrics={"leave_one_gpu_out": loo, "data": CITATION})
        shutil.copyfile(Path(args.data) / "LICENSE", Path(d) / "NOTICE.txt")
        with (Path(d) / "NOTICE.txt").open("a") as fh:
            fh.write(f"\n\nThis model was trained on operator latencies from {CITATION}\n"
                     "The licence above is NeuSight's; it applies to the data this model is derived from.\n")
        print(f"saved the all-GPU model (candidate {best}, family probes (shrink, slope shrink) {(shrink, slope)}) "
              f"to {d}", file=sys.stderr)
    return text


def add_fit_arguments(ap: argparse.ArgumentParser, estimators: bool = True, seed: bool = True) -> None:
    """The NeuSight benchmarks' shared options: ``--data`` and ``--train-rows``, and where asked ``--estimators``
    (LightGBM rounds) and ``--seed`` (row sampling)."""
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NeuSight directory (holds ops/)")
    ap.add_argument("--train-rows", type=int, default=60000, help="training rows sampled per fit")
    if estimators:
        ap.add_argument("--estimators", type=int, default=300)
    if seed:
        ap.add_argument("--seed", type=int, default=0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fit_arguments(ap)
    ap.add_argument("--no-nested", action="store_true", help="skip the inner selection (use the first candidate)")
    ap.add_argument("--no-bag", action="store_true", help="one model per fold instead of the device bag")
    ap.add_argument("--no-specialists", action="store_true",
                    help="no device specialists: family probes rescale the bag's mean only")
    ap.add_argument("--no-local", action="store_true", help="no local correction after the family probes' rescaling")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--save-model", type=Path, default=None, help="also train on all five GPUs and store the model here")
    args = ap.parse_args(argv)
    write_doc("GPU operators, leave-one-GPU-out (NeuSight data)", "taskset -c 0 python -m benchmarks.gpu_ops_cross_device",
              argv, run(args), args.out)
    return 0


def write_doc(title: str, command: str, argv, text: str, out: Path) -> None:
    """Print and write a results file: the title, the command that made it (with ``argv``), the text."""
    cmd = command + " " + " ".join(argv if argv is not None else sys.argv[1:])
    doc = f"# {title}\n\nCommand: `{cmd.strip()}`\n\n{text}\n"
    print(doc)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc)


if __name__ == "__main__":
    raise SystemExit(main())
