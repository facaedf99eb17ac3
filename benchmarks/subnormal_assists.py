"""Subnormals a model makes itself, on this Xeon: the probe's figures, the priced term against measured runs.

Swin's shifted-window attention adds -100 before its softmax; exp(-100) = 3.7e-44 is a float32 subnormal, and the
attention x values product multiplies those probabilities. The cost pass counts them
(:mod:`hybridperf.analysis.subnormal`), ``hybridperf probe`` times onnxruntime's assist per multiply-add and per softmax
output (:func:`hybridperf.measure.probe.subnormal_assist`), and a CPU prediction adds counts x figures
(:func:`hybridperf.estimate.pricing.with_subnormal_assists`). Steps (plan: CHANGELOG 2026-12-06 15:11 UTC):

    taskset -c 1 python -m benchmarks.subnormal_assists probe --out calibration/host-xeon480-subnormal   # 1 and 2 threads
    taskset -c 0,1 python -m benchmarks.subnormal_assists daz --out calibration/host-xeon480-subnormal --rounds 6
    taskset -c 0 python -m benchmarks.subnormal_assists report > benchmarks/results/subnormal_assists.md

``probe`` alternates 1-thread (core 1) and 2-thread (cores 0 and 1) probes, ``--repeats`` of each; ``daz`` times the
affected models with 2 threads with and without ``session.set_denormal_as_zero`` (which onnxruntime applies to its
intra-op pool threads), interleaved; ``report`` needs no timing: it counts every measured configuration's subnormals with the cost pass (the exports under
``.zoo/``; kept in ``counts.csv``), prices the stored predictions of every run of this CPU again with the term and
reads the per-kernel rows of every training host.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CALIB = ROOT / "calibration"
OUT = CALIB / "host-xeon480-subnormal"
#: the configurations of the zoo whose graphs make subnormals (the cost pass's count is not 0), by measurement key
AFFECTED = {"swin_t_b1_224": ".zoo/swin_t_b1_r224_legacy.onnx", "swin_t_b2_224": ".zoo/swin_t_b2_r224_legacy.onnx",
            "hf_swin_tiny_b1_224": ".zoo/hf_swin_tiny_b1_r224_legacy.onnx"}
#: (run directory, the predictions stored for it, threads): every run of this CPU that has stored predictions of the
#: packaged model (a retest is scored with its run's); the 8-round runs have none
RUNS = (("host-xeon480-1c", "host-xeon480-1c/stored_predictions.csv", 1),
        ("host-xeon480-1c-retest", "host-xeon480-1c/stored_predictions.csv", 1),
        ("host-xeon480-1c-alt", "host-xeon480-1c-alt/fresh_probe_predictions.csv", 1),
        ("host-xeon480-1c-late", "host-xeon480-1c-late/fresh_probe_predictions.csv", 1),
        ("host-xeon480-1c-unseen", "host-xeon480-1c-unseen/fresh_probe_predictions.csv", 1),
        ("host-xeon480-1c-unseen-retest", "host-xeon480-1c-unseen/fresh_probe_predictions.csv", 1),
        ("host-xeon480-2c", "host-xeon480-2c/zero_shot_predictions.csv", 2),
        ("host-xeon480-2c-retest", "host-xeon480-2c/zero_shot_predictions.csv", 2),
        ("host-xeon480-2c-unseen", "host-xeon480-2c-unseen/fresh_probe_predictions.csv", 2))
#: the cores each thread count is pinned to
CORES = {1: "1", 2: "0,1"}
PROBE_FIELDS = ("date_utc", "threads", "cores", "mac_ns", "softmax_ns", "matmul_ms", "matmul_normal_ms",
                "softmax_ms", "softmax_normal_ms", "onnxruntime", "cpu_model", "cpu_vendor", "cpu_family",
                "cpu_model_id", "cpu_stepping")
DAZ_FIELDS = ("round", "key", "mode", "threads", "best_s", "runs", "date_utc", "onnxruntime", "cpu_model")
LABEL = "latency_min_s"


def _cpu() -> dict[str, str]:
    from hybridperf.measure.probe import read_host_info

    h = read_host_info()
    return {"cpu_model": h.cpu_model, "cpu_vendor": h.cpu_vendor, "cpu_family": str(h.cpu_family or ""),
            "cpu_model_id": str(h.cpu_model_id or ""), "cpu_stepping": str(h.cpu_stepping or "")}


def _append(path: Path, fields: Sequence[str], rows: list[dict]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(fields))
        if new:
            w.writeheader()
        w.writerows(rows)


def _lscpu(out: Path) -> None:
    text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    (out / "lscpu.txt").write_text(text)


def probe_once(threads: int) -> dict:
    """One :func:`~hybridperf.measure.probe.subnormal_assist` in this process (pinned by the caller)."""
    import onnxruntime as ort

    from hybridperf.measure.probe import subnormal_assist

    a = subnormal_assist(threads=threads)
    return {"date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "threads": threads,
            "cores": CORES[threads], "mac_ns": f"{a.mac_s * 1e9:.4g}", "softmax_ns": f"{a.softmax_s * 1e9:.4g}",
            "matmul_ms": f"{a.matmul_s * 1e3:.4g}", "matmul_normal_ms": f"{a.matmul_normal_s * 1e3:.4g}",
            "softmax_ms": f"{a.softmax_total_s * 1e3:.4g}", "softmax_normal_ms": f"{a.softmax_normal_s * 1e3:.4g}",
            "onnxruntime": ort.__version__, **_cpu()}


def cmd_probe(out: Path, repeats: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _lscpu(out)
    for _ in range(repeats):
        for threads in (1, 2):
            got = subprocess.run(["taskset", "-c", CORES[threads], sys.executable, "-m", "benchmarks.subnormal_assists",
                                  "probe-once", "--threads", str(threads)], capture_output=True, text=True,
                                 check=True, cwd=ROOT)
            row = dict(zip(PROBE_FIELDS, next(csv.reader([got.stdout.strip().splitlines()[-1]]))))
            _append(out / "subnormal_probe.csv", PROBE_FIELDS, [row])
            print(f"{row['date_utc']} {threads} thread(s): {row['mac_ns']} ns / MAC, {row['softmax_ns']} ns / output",
                  file=sys.stderr)


def cmd_daz(out: Path, rounds: int, runs: int, seed: int) -> None:
    """Time :data:`AFFECTED` with 2 threads, with and without ``session.set_denormal_as_zero``, in interleaved rounds
    (a shuffled order each round), the fastest of ``runs`` runs after one warm-up."""
    import numpy as np
    import onnxruntime as ort

    out.mkdir(parents=True, exist_ok=True)
    _lscpu(out)
    cpu = _cpu()["cpu_model"]
    sessions, feeds = {}, {}
    rng = np.random.default_rng(seed)
    for key, path in AFFECTED.items():
        for mode in ("default", "daz"):
            so = ort.SessionOptions()
            so.intra_op_num_threads = 2
            so.inter_op_num_threads = 1
            if mode == "daz":
                so.add_session_config_entry("session.set_denormal_as_zero", "1")
            sessions[(key, mode)] = ort.InferenceSession(str(ROOT / path), so, providers=["CPUExecutionProvider"])
        i = sessions[(key, "default")].get_inputs()[0]
        feeds[key] = {i.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)}
    order = list(sessions)
    shuffle = random.Random(seed)
    for r in range(rounds):
        shuffle.shuffle(order)
        rows = []
        for key, mode in order:
            s = sessions[(key, mode)]
            s.run(None, feeds[key])
            best = math.inf
            for _ in range(runs):
                t0 = time.perf_counter()
                s.run(None, feeds[key])
                best = min(best, time.perf_counter() - t0)
            rows.append({"round": r, "key": key, "mode": mode, "threads": 2, "best_s": f"{best:.6g}", "runs": runs,
                         "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                         "onnxruntime": ort.__version__, "cpu_model": cpu})
        _append(out / "daz.csv", DAZ_FIELDS, rows)
        print(f"round {r} done", file=sys.stderr)


# ----------------------------------------------------------------------------------------------- report


def figures(out: Path = OUT) -> dict[int, tuple[float, float]]:
    """threads -> (median ns per multiply-add, median ns per softmax output) of the probes kept in ``out``."""
    with (out / "subnormal_probe.csv").open() as f:
        rows = list(csv.DictReader(f))
    got = {}
    for t in sorted({int(r["threads"]) for r in rows}):
        mine = [r for r in rows if int(r["threads"]) == t]
        got[t] = (statistics.median(float(r["mac_ns"]) for r in mine),
                  statistics.median(float(r["softmax_ns"]) for r in mine))
    return got


def counts(paths: Mapping[str, str]) -> dict[str, tuple[int, int, int]]:
    """key -> (softmaxes, subnormal outputs, multiply-adds reading them), from the cost pass."""
    from hybridperf.analysis.analyze import analyze

    out = {}
    for key, path in paths.items():
        recs = [r for r in analyze(str(ROOT / path)).analysis.records if r.counts_toward_time]
        out[key] = (sum(1 for r in recs if r.subnormal_outputs), sum(r.subnormal_outputs for r in recs),
                    sum(r.subnormal_macs for r in recs))
    return out


def scan_all(run: str = "host-xeon480-2c-unseen") -> dict[str, tuple[int, int, int]]:
    """:func:`counts` of every configuration a run measured (its ``model`` column): which make subnormals."""
    rows = _read(CALIB / run / "measurements.csv")
    return counts({r["key"]: r["model"] for r in rows})


def _read(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def _pct(x: float) -> str:
    return f"{100 * x:+.1f} %"


def _mape(errs: Sequence[float]) -> str:
    return f"{100 * statistics.mean(abs(e) for e in errs):.1f} %" if errs else "-"


def runs_section(figs: Mapping[int, tuple[float, float]], cnt: Mapping[str, tuple[int, int, int]]) -> list[str]:
    lines = ["## 2. The packaged model's stored predictions on this CPU's runs, without and with the term", "",
             "Each run's label (`latency_min_s`, the fastest timed run) against the prediction stored for it (made on "
             "the run's own sheet, before it was timed where the file says *fresh*), and the same plus counts x the "
             "median probed figures of the run's thread count. Every other configuration is unchanged: the term is "
             "0 for a model without subnormals (section 1's count of every configuration).", "",
             "| run | threads | configuration | measured ms | stored ms | error | term ms | with term ms | error |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    before, after = [], []
    for run, preds, threads in RUNS:
        meas = {r["key"]: r for r in _read(CALIB / run / "measurements.csv")}
        pred = {r["model"]: r for r in _read(CALIB / preds)}
        mac_ns, sm_ns = figs[threads]
        for key, path in AFFECTED.items():
            if key not in meas or path not in pred or not pred[path].get("latency_s"):
                continue
            m = float(meas[key][LABEL])
            p = float(pred[path]["latency_s"])
            _, outputs, macs = cnt[key]
            term = (macs * mac_ns + outputs * sm_ns) * 1e-9
            e0, e1 = p / m - 1, (p + term) / m - 1
            before.append(e0)
            after.append(e1)
            lines.append(f"| `{run}` | {threads} | {key} | {m * 1e3:.2f} | {p * 1e3:.2f} | {_pct(e0)} | "
                         f"{term * 1e3:.2f} | {(p + term) * 1e3:.2f} | {_pct(e1)} |")
    lines += ["", f"MAPE over these {len(before)} rows: **{_mape(before)} without the term, {_mape(after)} with it** "
              f"(mean signed error {100 * statistics.mean(before):+.1f} -> {100 * statistics.mean(after):+.1f} %).", ""]
    return lines


def _probe_lines(probes: Sequence[Mapping[str, str]], figs: Mapping[int, tuple[float, float]]) -> list[str]:
    """The table of ``subnormal_probe.csv``'s probes and their medians (:func:`figures`)."""
    lines = ["| time (UTC) | threads | cores | ns per multiply-add reading a subnormal | ns per subnormal softmax output | "
             "MatMul ms with / without | Softmax ms with / without |", "|---|---:|---|---:|---:|---:|---:|"]
    for r in probes:
        lines.append(f"| {r['date_utc'][11:19]} | {r['threads']} | {r['cores']} | {r['mac_ns']} | {r['softmax_ns']} | "
                     f"{r['matmul_ms']} / {r['matmul_normal_ms']} | {r['softmax_ms']} / {r['softmax_normal_ms']} |")
    return lines + ["", "Medians: " + "; ".join(f"{t} thread(s) {m:.3g} ns per multiply-add, {s:.3g} ns per output"
                                                for t, (m, s) in figs.items()) + ".", ""]


def daz_section(out: Path, figs: Mapping[int, tuple[float, float]], cnt: Mapping[str, tuple[int, int, int]],
                title: str = "## 3. Two threads with and without onnxruntime's denormals-as-zero") -> list[str]:
    path = out / "daz.csv"
    if not path.exists():
        return []
    rows = _read(path)
    lines = [title, "",
             f"`session.set_denormal_as_zero=1` (onnxruntime sets flush-to-zero and denormals-are-zero on its intra-op "
             f"pool threads), {len({r['round'] for r in rows})} interleaved rounds of a shuffled order, fastest of "
             f"{rows[0]['runs']} runs each; per configuration the median over rounds of each mode's fastest run, and "
             "the minimum. The term is the one priced for 2 threads.", "",
             "| configuration | default ms (median / min) | DAZ ms (median / min) | removed ms (medians) | term ms |",
             "|---|---:|---:|---:|---:|"]
    mac_ns, sm_ns = figs[2]
    for key in AFFECTED:
        d = [float(r["best_s"]) for r in rows if r["key"] == key and r["mode"] == "default"]
        z = [float(r["best_s"]) for r in rows if r["key"] == key and r["mode"] == "daz"]
        if not d or not z:
            continue
        _, outputs, macs = cnt[key]
        term = (macs * mac_ns + outputs * sm_ns) * 1e-9
        lines.append(f"| {key} | {statistics.median(d) * 1e3:.2f} / {min(d) * 1e3:.2f} | "
                     f"{statistics.median(z) * 1e3:.2f} / {min(z) * 1e3:.2f} | "
                     f"{(statistics.median(d) - statistics.median(z)) * 1e3:.2f} | {term * 1e3:.2f} |")
    return lines + [""]


def hosts_section() -> list[str]:
    """Attention x values products (matmul kernels with K = 49 and N = 32: Swin-T's windows, head size 32) of
    ``swin_t`` batch 1 on every training setting: measured over roofline, from the stored kernel rows."""
    from benchmarks import cpu_cross_host as cc

    lines = ["## 4. The attention x values products of Swin-T on every training setting", "",
             "From each setting's stored per-kernel rows (`kernel_features.csv`: onnxruntime's profile joined to the "
             "kernels), torchvision's `swin_t` at batch 1: the matrix products with K = 49 and N = 32 (attention x "
             "values of the 7 x 7 windows, head size 32; masked and unmasked blocks together), their measured time "
             "over their roofline, next to the model's other matrix products.", "",
             "| setting | CPU | attention x values: measured / roofline | other matmuls | measured ms of them |",
             "|---|---|---:|---:|---:|"]
    for host in cc.HOSTS:
        d = CALIB / cc.DATA_DIRS.get(host, host)
        rows = [r for r in _read(d / "kernel_features.csv") if r["key"] == "swin_t_b1_224" and r["group"] == "matmul"]
        if not rows:
            continue
        units: dict[tuple[bool, str], tuple[float, float]] = {}
        for r in rows:
            if not r.get("unit_roofline_s"):
                continue
            av = abs(float(r["log_mm_k"]) - math.log(49)) < 0.01 and abs(float(r["log_mm_n"]) - math.log(32)) < 0.01
            units[(av, r["unit"])] = (float(r["unit_measured_s"]), float(r["unit_roofline_s"]))
        av = [v for (a, _), v in units.items() if a]
        other = [v for (a, _), v in units.items() if not a]
        if not av:
            continue
        ratio = sum(m for m, _ in av) / sum(r for _, r in av)
        rest = sum(m for m, _ in other) / sum(r for _, r in other) if other else float("nan")
        lines.append(f"| `{host}` | {cc.LABELS[host]} | {ratio:.1f}x | {rest:.2f}x | {sum(m for m, _ in av) * 1e3:.2f} |")
    return lines + [""]


#: (run, the run whose stored predictions score it, threads) of :mod:`benchmarks.unseen_networks`' section 1 and its
#: retest
UNSEEN_RUNS = (("host-xeon480-1c-unseen", "host-xeon480-1c-unseen", 1),
               ("host-xeon480-1c-unseen-retest", "host-xeon480-1c-unseen", 1),
               ("host-xeon480-2c-unseen", "host-xeon480-2c-unseen", 2))


def unseen_section(figs: Mapping[int, tuple[float, float]], cnt: Mapping[str, tuple[int, int, int]]) -> list[str]:
    """The unseen-networks figures (``benchmarks/results/unseen_networks.md`` section 1: stored predictions, measured
    fastest run, hazards left out) without and with the term."""
    from benchmarks import unseen_networks as un
    from benchmarks.device_vs_measured import stored as read_stored

    lines = ["## 5. The unseen-networks figures without and with the term", "",
             "`benchmarks/results/unseen_networks.md` section 1 (the packaged model's predictions stored before the "
             "runs, against the fastest timed run; the same configurations left out), and the same with the term on "
             "the configurations the cost pass finds subnormals in (3 of the 88).", "",
             "| run | set | n | MAPE without | within +-10 % without | MAPE with | within +-10 % with |",
             "|---|---|---:|---:|---:|---:|---:|"]
    exclude = un._left_out()
    for run, stored_run, threads in UNSEEN_RUNS:
        _, pred = read_stored(CALIB / stored_run / un.STORED)
        mac_ns, sm_ns = figs[threads]
        pairs: dict[str, list[tuple[float, float, float]]] = {}
        for r in _read(CALIB / run / "measurements.csv"):
            p = pred.get(r["model"])
            if r["key"] in exclude or p is None:
                continue
            _, outputs, macs = cnt.get(r["key"], (0, 0, 0))
            term = (macs * mac_ns + outputs * sm_ns) * 1e-9
            name = "seen" if un.set_of(r["key"]) == un.SEEN else "unseen"
            pairs.setdefault(name, []).append((p, p + term, float(r[LABEL])))
        for name in ("seen", "unseen"):
            got = pairs.get(name, [])
            a = un.stats([x for x, _, _ in got], [m for _, _, m in got])
            b = un.stats([y for _, y, _ in got], [m for _, _, m in got])
            lines.append(f"| `{run}` | {name} | {len(got)} | {a[0]:.1f} % | {a[1]:.0f} % | {b[0]:.1f} % | "
                         f"{b[1]:.0f} % |")
    return lines + [""]


def other_cpu_section(out: Path, cnt: Mapping[str, tuple[int, int, int]]) -> list[str]:
    """The probe and the denormals-as-zero runs of another CPU (``out``: its ``subnormal_probe.csv``, ``daz.csv``,
    ``lscpu.txt``), the term priced with its own figures; [] where it has no probes."""
    if not (out / "subnormal_probe.csv").exists():
        return []
    probes = _read(out / "subnormal_probe.csv")
    figs = figures(out)
    p = probes[0]
    return [f"## 6. Another CPU: {p['cpu_model']} ({p['cpu_vendor']} family {p['cpu_family']} model "
            f"{p['cpu_model_id']} stepping {p['cpu_stepping']}; `lscpu` in `{out.relative_to(ROOT)}/lscpu.txt`)", "",
            "The same probe and the same denormals-as-zero runs on this CPU (planned in CHANGELOG before they ran). "
            "Where the probe writes 0 (`none measurable`), the run with subnormals was less than "
            "`SUBNORMAL_RESOLUTION` (5 %) slower than the one without (the MatMul columns).", "",
            *_probe_lines(probes, figs),
            *daz_section(out, figs, cnt, "Two threads with and without onnxruntime's denormals-as-zero on this CPU:")]


#: another CPU's probes and denormals-as-zero runs (:func:`other_cpu_section`)
ZEN4 = CALIB / "host-epyc-zen4-subnormal"
COUNT_FIELDS = ("key", "model", "softmaxes", "subnormal_outputs", "subnormal_macs")


def write_counts(every: Mapping[str, tuple[int, int, int]], run: str, out: Path = OUT) -> None:
    """Keep the cost pass's counts of every configuration of ``run`` in ``out/counts.csv`` (what the tests score the
    report's tables with, on a machine without the exports)."""
    models = {r["key"]: r["model"] for r in _read(CALIB / run / "measurements.csv")}
    with (out / "counts.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COUNT_FIELDS)
        for key, (n, o, m) in sorted(every.items()):
            w.writerow([key, models[key], n, o, m])


def stored_counts(out: Path = OUT) -> dict[str, tuple[int, int, int]]:
    """key -> (softmaxes, subnormal outputs, multiply-adds) of ``out/counts.csv``."""
    return {r["key"]: (int(r["softmaxes"]), int(r["subnormal_outputs"]), int(r["subnormal_macs"]))
            for r in _read(out / "counts.csv")}


def report(out: Path = OUT, run: str = "host-xeon480-2c-unseen") -> str:
    figs = figures(out)
    every = scan_all(run)
    write_counts(every, run, out)
    cnt = {k: every[k] for k in AFFECTED}
    probes = _read(out / "subnormal_probe.csv")
    lines = ["# Subnormals a model makes itself: the probe's figures and the priced term on this Xeon", "",
             "Commands: `python -m benchmarks.subnormal_assists probe | daz | report` (module docstring). CPU: "
             f"{probes[0]['cpu_model']} ({probes[0]['cpu_vendor']} family {probes[0]['cpu_family']} model "
             f"{probes[0]['cpu_model_id']} stepping {probes[0]['cpu_stepping']}; `lscpu` in "
             f"`{out.relative_to(ROOT)}/lscpu.txt`), onnxruntime {probes[0]['onnxruntime']}.", "",
             "## 1. The probe's figures (`hybridperf probe`'s `subnormal_assist`)", "", *_probe_lines(probes, figs),
              "Counts of the cost pass (`ModelAnalysis.subnormal_work`):", "",
              "| configuration | softmaxes with a -100 mask | subnormal outputs | multiply-adds reading them |",
              "|---|---:|---:|---:|"]
    found = sorted(k for k, (_, o, m) in every.items() if o or m)
    for key, (n, o, m) in cnt.items():
        lines.append(f"| {key} | {n} | {o:,} | {m:,} |")
    lines += ["", f"Of the {len(every)} configurations of `host-xeon480-2c-unseen` (the training plan's 72 and the 16 "
              f"unseen networks), the cost pass finds subnormals in {len(found)}: {', '.join(found)}"
              + (" (the configurations above)." if found == sorted(AFFECTED) else
                 f"; **not the configurations above** ({', '.join(sorted(AFFECTED))}): update AFFECTED."), ""]
    lines += runs_section(figs, cnt)
    lines += daz_section(out, figs, cnt)
    lines += hosts_section()
    lines += unseen_section(figs, cnt)
    lines += other_cpu_section(ZEN4, cnt)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--repeats", type=int, default=3)
    p1 = sub.add_parser("probe-once")
    p1.add_argument("--threads", type=int, default=1)
    d = sub.add_parser("daz")
    d.add_argument("--out", type=Path, default=OUT)
    d.add_argument("--rounds", type=int, default=6)
    d.add_argument("--runs", type=int, default=5)
    d.add_argument("--seed", type=int, default=83)
    r = sub.add_parser("report")
    r.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    if args.cmd == "probe":
        cmd_probe(args.out, args.repeats)
    elif args.cmd == "probe-once":
        row = probe_once(args.threads)
        w = csv.writer(sys.stdout)
        w.writerow([row[k] for k in PROBE_FIELDS])
    elif args.cmd == "daz":
        cmd_daz(args.out, args.rounds, args.runs, args.seed)
    else:
        print(report(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
