"""Does learning the kernel part keep operator accuracy? Leave-one-GPU-out on NeuSight, eager latency recomposed.

:class:`hybridperf.residual.kernel_time.KernelTimeModel` learns kernel time = eager-timed latency - the op's
host dispatch (NeuSight times one call between two CUDA events: dispatch + kernel, serially). It is meant for
runtimes without per-launch host work (CUDA graphs); on NeuSight's own (eager) rows it can only be checked by
recomposing ``dispatch + kernel``. For each of the five GPUs, both models are trained on the other four
(same sampled rows, same LightGBM settings: the shipped cross-device model's) and the held-out GPU is
predicted zero-shot from its sheet (training devices' median dispatch floor and attainable bandwidth / GEMM
efficiency). Nothing here sees an H100 row. Writes ``benchmarks/results/gpu_kernel_time.md``; with
``--save-model DIR`` also trains on all five GPUs and stores the model with NeuSight's licence::

    taskset -c 0 .venv/bin/python -m benchmarks.gpu_kernel_time --save-model benchmarks/models/cross-device-kernel
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.gpu_ops_cross_device import CITATION, _probes, _sample, add_fit_arguments, within, write_doc
from hybridperf.device.spec import load_spec
from hybridperf.residual.cross_device import CrossDeviceModel, baseline, featurize, gemm_probe_rows, mape
from hybridperf.residual.kernel_time import (
    KERNEL_FLOOR_S,
    KernelTimeModel,
    dispatch_costs,
    dispatch_weights,
    kernel_targets,
)
from hybridperf.residual.neusight import FAMILIES, GPUS, load_ops

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "gpu_kernel_time.md"
#: the shipped cross-device model's settings (chosen by the nested leave-one-GPU-out of benchmarks/gpu_ops_cross_device.py)
PARAMS = {"num_leaves": 63, "min_data_in_leaf": 50, "gemm_probe": True, "n_estimators": 300}
SAME_HOST = {"a100-pcie-80gb": "a100-pcie-40gb"}
#: kernel-time fits averaged (each on its own row sample and seed)
BAG = 5


def run(args) -> tuple[str, KernelTimeModel | None]:
    t0 = time.time()
    rows = load_ops(args.data)
    specs = {d: load_spec(d) for d in np.unique(rows.device)}
    gemm_rows = gemm_probe_rows(rows)
    scored = np.ones(len(rows), bool)
    scored[gemm_rows] = False
    probes = _probes(rows, specs, gemm_rows)
    dispatch = dispatch_costs(rows, SAME_HOST)
    Xk, yk = kernel_targets(rows, specs, probes, dispatch)
    Xs, ys = featurize(rows, specs, probes), np.log(rows.measured_s / baseline(rows, specs, probes))
    print(f"priced {len(rows)} rows in {time.time() - t0:.0f} s", file=sys.stderr)
    lines, summary = [], []
    for g in GPUS:
        devs = [d for x in GPUS if x != g for d in GPUS[x]]
        tr = _sample(np.where(np.isin(rows.device, devs))[0], args.train_rows, np.random.default_rng(args.seed))
        train_devs = sorted(set(rows.device[tr]))
        params = {**PARAMS, "seed": args.seed}
        summed = CrossDeviceModel(**params).fit(Xs[tr], ys[tr], devices=train_devs,
                                                probes={d: probes[d] for d in train_devs}, specs=specs)
        on = np.where(np.isin(rows.device, devs))[0]
        kern = KernelTimeModel(BAG, args.train_rows, args.seed, **PARAMS).fit(Xk[on], yk[on], train_devs, probes,
                                                                             specs, dispatch)
        te = np.isin(rows.device, GPUS[g]) & scored
        sub = rows.take(te)
        zero = {d: summed.zero_shot_probe(specs[d]) for d in GPUS[g]}
        p_sum = summed.predict_latency(sub, specs, zero)
        p_dec = kern.eager_latency_s(sub, specs, zero)
        meas, fam = sub.measured_s, sub.family
        for f in (*FAMILIES, "all"):
            s = np.ones(len(fam), bool) if f == "all" else fam == f
            if s.any():
                r = [g, f, int(s.sum()), mape(p_sum[s], meas[s]), within(p_sum[s], meas[s]), mape(p_dec[s], meas[s]),
                     within(p_dec[s], meas[s])]
                lines.append(r)
                if f == "all":
                    summary.append(r)
        print(f"{g}: summed {summary[-1][3]:.1f} %, decomposed {summary[-1][5]:.1f} % ({time.time() - t0:.0f} s)",
              file=sys.stderr)

    def fmt(r):
        return "| " + " | ".join([r[0], r[1], str(r[2]), f"{r[3]:.1f}", f"{r[4]:.0f}", f"{r[5]:.1f}", f"{r[6]:.0f}"]) + " |"

    head = ("| held-out GPU | family | rows | eager-sum model MAPE % | ±10 % | dispatch + kernel MAPE % | ±10 % |\n"
            "|---|---|---:|---:|---:|---:|---:|")
    mean = ["mean", "all", sum(r[2] for r in summary), *(float(np.mean([r[i] for r in summary])) for i in range(3, 7))]
    weights = dispatch_weights(dispatch, probes, sorted(probes))
    out = ["## Per held-out GPU, zero-shot (all op families)", "", head, *(fmt(r) for r in summary), fmt(mean), "",
           "## Per held-out GPU and op family", "", head, *(fmt(r) for r in lines), "",
           "## Dispatch cost per op, in dispatch floors (median over the five GPUs)", "",
           "| op | " + " | ".join(weights) + " |", "|---|" + "---:|" * len(weights),
           "| floors | " + " | ".join(f"{v:.2f}" for v in weights.values()) + " |", "",
           f"Setup: {args.train_rows} training rows sampled from the four training GPUs per fit (seed {args.seed}; the "
           f"kernel model averages {BAG} fits, seeds {args.seed}..{args.seed + BAG - 1}), LightGBM settings {PARAMS}, "
           "one thread. Eager-sum model: the cross-device model (target log(measured / "
           "max(compute, memory, dispatch floor))). Dispatch + kernel: the op's dispatch cost (its 2 % latency quantile "
           f"less the {KERNEL_FLOOR_S * 1e6:.1f} µs kernel floor; conv: linear's) x the held-out GPU's assumed floor + the "
           "kernel model. MAPE over every held-out row except the GEMM-probe rows. Data: " + CITATION]
    model = None
    if args.save_model:
        model = KernelTimeModel(BAG, args.train_rows, args.seed, **PARAMS).fit(Xk, yk, sorted(set(rows.device)),
                                                                              probes, specs, dispatch)
        loo = {r[0]: {"eager_sum_mape": r[3], "dispatch_plus_kernel_mape": r[5]} for r in summary}
        d = model.save(args.save_model, metrics={"leave_one_gpu_out": loo, "data": CITATION})
        shutil.copyfile(Path(args.data) / "LICENSE", d / "NOTICE.txt")
        with (d / "NOTICE.txt").open("a") as fh:
            fh.write(f"\n\nThis model was trained on operator latencies from {CITATION}\n"
                     "The licence above is NeuSight's; it applies to the data this model is derived from.\n")
        print(f"saved the all-GPU kernel-time model to {d}", file=sys.stderr)
    return "\n".join(out), model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fit_arguments(ap, estimators=False)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--save-model", type=Path, default=None, help="also train on all five GPUs and store the model here")
    args = ap.parse_args(argv)
    text, _ = run(args)
    write_doc("Kernel time from eager-timed operators, leave-one-GPU-out (NeuSight data)",
              "taskset -c 0 .venv/bin/python -m benchmarks.gpu_kernel_time", argv, text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
