"""Leave-one-GPU-out on NeuSight's GPU operator data: roofline vs the cross-device residual.

For each of the five measured GPUs (P4, P100, T4, V100, A100), train
:class:`hybridperf.cross_device.CrossDeviceModel` on the other four and predict the fifth from
its spec sheet. Two ways to know the held-out device's PyTorch dispatch floor (a host/runtime
property, see :func:`hybridperf.cross_device.dispatch_floors`):

* **zero-shot**: the median floor of the training devices (nothing measured on the held-out GPU);
* **floor probe**: its measured floor (2nd percentile of its ``add`` calls: one tiny-op probe).

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
from pathlib import Path

import numpy as np

from hybridperf.cross_device import CrossDeviceModel, dispatch_floors, featurize, mape
from hybridperf.neusight import FAMILIES, GPUS, load_ops
from hybridperf.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "neusight"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "gpu_ops_cross_device.md"
CITATION = ('NeuSight (sitar-lab/NeuSight, MIT licence): Lee et al., "Forecasting GPU Performance for Deep Learning '
            'Training and Inference", ASPLOS 2025.')


def within(pred, true, tol=0.10) -> float:
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    return float(np.mean(np.abs(pred - true) / true <= tol) * 100)


def _floors(rows) -> dict[str, float]:
    fl = dispatch_floors(rows)
    # NeuSight measured conv on an A100 80GB PCIe without element-wise rows: take the A100 40GB PCIe host's floor
    if "a100-pcie-80gb" not in fl and "a100-pcie-40gb" in fl:
        fl["a100-pcie-80gb"] = fl["a100-pcie-40gb"]
    return fl


def _sample(idx: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return idx if len(idx) <= n else np.sort(rng.choice(idx, n, replace=False))


def run(args) -> str:
    t0 = time.time()
    rows = load_ops(args.data)
    specs = {d: load_spec(d) for d in np.unique(rows.device)}
    floors = _floors(rows)
    X = featurize(rows, specs, floors)
    y = rows.target
    print(f"priced {len(rows)} rows in {time.time() - t0:.0f} s", file=sys.stderr)
    params = {"n_estimators": args.estimators}
    lines = []
    summary = []
    imp_total: dict[str, float] = {}
    for g, devs in GPUS.items():
        rng = np.random.default_rng(args.seed)
        te = np.isin(rows.device, devs)
        tr = _sample(np.where(~te)[0], args.train_rows, rng)
        train_devs = sorted(set(rows.device[tr]))
        m = CrossDeviceModel(**params).fit(X[tr], y[tr], devices=train_devs, floors={d: floors[d] for d in train_devs})
        for k, v in m.feature_importance().items():
            imp_total[k] = imp_total.get(k, 0.0) + v
        Xp = X[te]
        Xz = Xp.copy()
        zf = m.default_floor_s_
        Xz[:, -2] = np.log(zf)
        Xz[:, -1] = np.log(zf) - np.log(rows.roofline_s[te])
        roof = rows.roofline_s[te]
        meas = rows.measured_s[te]
        pz = roof * np.exp(m.predict(Xz))
        pp = roof * np.exp(m.predict(Xp))
        fam = rows.family[te]
        for f in (*FAMILIES, "all"):
            s = np.ones(len(fam), bool) if f == "all" else fam == f
            if not s.any():
                continue
            r = [g, f, int(s.sum()), mape(roof[s], meas[s]), within(roof[s], meas[s]), mape(pz[s], meas[s]),
                 within(pz[s], meas[s]), mape(pp[s], meas[s]), within(pp[s], meas[s])]
            lines.append(r)
            if f == "all":
                summary.append(r)
        print(f"{g}: roofline {summary[-1][3]:.1f} %, zero-shot {summary[-1][5]:.1f} %, floor probe {summary[-1][7]:.1f} %"
              f" ({time.time() - t0:.0f} s)", file=sys.stderr)

    def fmt(r):
        return (f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f} | {r[4]:.0f} | {r[5]:.1f} | {r[6]:.0f} | {r[7]:.1f} | {r[8]:.0f} |")

    head = ("| held-out GPU | family | rows | roofline MAPE % | roofline ±10 % | zero-shot MAPE % | zero-shot ±10 % "
            "| floor-probe MAPE % | floor-probe ±10 % |\n|---|---|---:|---:|---:|---:|---:|---:|---:|")
    tot = sum(imp_total.values()) or 1.0
    top = sorted(imp_total.items(), key=lambda kv: -kv[1])[:12]
    out = [
        "## Per held-out GPU (all op families)", "", head, *(fmt(r) for r in summary), "",
        "## Per held-out GPU and op family", "", head, *(fmt(r) for r in lines), "",
        "## Feature importance (gain share, summed over the five folds)", "",
        "| feature | gain % |", "|---|---:|", *(f"| {k} | {v / tot * 100:.1f} |" for k, v in top), "",
        f"Setup: {args.train_rows} training rows sampled from the four training GPUs per fold (seed {args.seed}), "
        f"LightGBM {args.estimators} rounds, one thread; MAPE is the mean of |predicted - measured| / measured over "
        "every measured row of the held-out GPU. The A100 fold holds out both A100 sheets (NeuSight measured conv on "
        "an A100 80GB PCIe, every other op on an A100 40GB PCIe). Data: " + CITATION,
    ]
    text = "\n".join(out)
    if args.save_model:
        train_devs = sorted(set(rows.device))
        idx = _sample(np.arange(len(rows)), args.train_rows, np.random.default_rng(args.seed))
        m = CrossDeviceModel(**params).fit(X[idx], y[idx], devices=train_devs, floors=floors)
        loo = {r[0]: {"roofline_mape": r[3], "zero_shot_mape": r[5], "floor_probe_mape": r[7]} for r in summary}
        d = m.save(args.save_model, metrics={"leave_one_gpu_out": loo, "data": CITATION})
        shutil.copyfile(Path(args.data) / "LICENSE", Path(d) / "NOTICE.txt")
        with (Path(d) / "NOTICE.txt").open("a") as fh:
            fh.write(f"\n\nThis model was trained on operator latencies from {CITATION}\n"
                     "The licence above is NeuSight's; it applies to the data this model is derived from.\n")
        print(f"saved the all-GPU model to {d}", file=sys.stderr)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NeuSight directory (holds ops/)")
    ap.add_argument("--train-rows", type=int, default=60000, help="training rows sampled per fold")
    ap.add_argument("--estimators", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--save-model", type=Path, default=None, help="also train on all five GPUs and store the model here")
    args = ap.parse_args(argv)
    text = run(args)
    cmd = "taskset -c 0 python -m benchmarks.gpu_ops_cross_device " + " ".join(argv if argv is not None else sys.argv[1:])
    doc = f"# GPU operators, leave-one-GPU-out (NeuSight data)\n\nCommand: `{cmd.strip()}`\n\n{text}\n"
    print(doc)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
