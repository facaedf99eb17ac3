"""Calibrate the H100 energy table against NVML energy (issue 5.2).

The roofline prices one inference as (``hybridperf.estimate.roofline``)::

    E = MACs x pJ/MAC[precision] + DRAM bytes x pJ/byte + P_static x t

This script fits the four unknowns (pJ/MAC fp32, pJ/MAC fp16, pJ/DRAM byte,
static W) to the whole-board NVML energy per inference measured on the H100
(``calibration/h100-sxm/torch-{eager,cudagraph}-fp32-fp16.csv``), with MACs
from the cost pass (``calibration/h100-sxm/features.csv``: the ``log_flops``
of each exported zoo model), DRAM bytes of the kernels the measured runtime
launches, and ``t`` the measured wall time per inference of the back-to-back
loop NVML was read over (``throughput_latency_s``). The fit is non-negative
least squares on relative errors (each row divided by its measured energy),
validated by leaving one model family out at a time.

Bytes (``--bytes``): ``launches`` (default) are those of the kernels eager
PyTorch and its CUDA graphs launch, one per op, every intermediate through
DRAM (:func:`hybridperf.residual.zero_shot.launches`, per-op): what a GPU
prediction's dynamic energy is summed over since 2026-12-04. They are counted
once by ``--count-launch-bytes`` (exports every configuration with
``benchmarks.zoo``: torch, torchvision and transformers needed, no GPU) into
``benchmarks/results/energy_h100_launch_bytes.csv``. ``fused`` are TVM's
fused kernels' (``log_bytes`` of features.csv), what the pipeline priced
before 2026-12-04: kept for comparison, never written into the spec.

It prints (and writes to ``benchmarks/results/energy_h100.md``) the energy
MAPE of the sheet table, of the probe's table and of the fitted one, and the
fitted figures next to the sheet's; ``--write-spec`` puts the fitted figures
into ``hybridperf/data/hw_specs/h100-sxm-measured.yaml`` (``energy.per_mac.fp32/fp16``,
``energy.per_byte.dram``, ``power.idle``) with their source.

Run from the repository root (the fit needs no torch, no GPU)::

    python -m benchmarks.energy_calibration --count-launch-bytes   # once, where torch is installed
    python -m benchmarks.energy_calibration [--write-spec]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
H100_DIR = ROOT / "calibration" / "h100-sxm"
MEASURED = {"eager": H100_DIR / "torch-eager-fp32-fp16.csv", "graph": H100_DIR / "torch-cudagraph-fp32-fp16.csv"}
SHEET_SPEC = ROOT / "hybridperf" / "data" / "hw_specs" / "h100-sxm.yaml"
MEASURED_SPEC = ROOT / "hybridperf" / "data" / "hw_specs" / "h100-sxm-measured.yaml"
PROBE_JSON = H100_DIR / "probe-2.json"  # the probe_cuda dict behind h100-sxm-measured.yaml
RESULTS = ROOT / "benchmarks" / "results" / "energy_h100.md"
#: per features.csv key, the bytes of the kernels eager PyTorch launches (written by ``--count-launch-bytes``)
LAUNCH_BYTES = ROOT / "benchmarks" / "results" / "energy_h100_launch_bytes.csv"
LAUNCH_BYTES_COLUMNS = ("key", "launches", "launch_bytes", "fused_bytes")
#: what the fit's DRAM bytes are (``--bytes``), in the words of the report and the spec note
BYTE_SOURCES = {
    "launches": "DRAM bytes of the kernels eager PyTorch launches (one per op, every intermediate through DRAM; "
                "benchmarks/results/energy_h100_launch_bytes.csv)",
    "fused": "DRAM bytes of TVM's fused kernels (features.csv log_bytes; what the pipeline priced before 2026-12-04)",
}
FLOPS_PER_MAC = 2
#: columns of the design matrix, in order
TERMS = ("pj_per_mac_fp32", "pj_per_mac_fp16", "pj_per_dram_byte", "static_w")


@dataclass(frozen=True)
class EnergyRow:
    """One measured inference: cost-pass counts, measured time and NVML energy."""

    key: str
    model: str
    family: str
    dtype: str  # fp32 | fp16
    mode: str  # eager | graph
    macs: float
    dram_bytes: float
    time_s: float  # wall time per inference in the NVML window
    energy_j: float  # NVML whole-board energy per inference
    pipeline_energy_j: float | None = None  # the pipeline's own prediction (sheet table, roofline latency)


@dataclass(frozen=True)
class EnergyTable:
    """The four priced terms in SI-ish units (pJ, W)."""

    pj_per_mac_fp32: float
    pj_per_mac_fp16: float
    pj_per_dram_byte: float
    static_w: float

    def as_vector(self) -> np.ndarray:
        return np.array([getattr(self, t) for t in TERMS])

    def energy_j(self, row: EnergyRow) -> float:
        return float(design_row(row) @ self.as_vector())


def design_row(row: EnergyRow) -> np.ndarray:
    """``[MACs fp32 x 1e-12, MACs fp16 x 1e-12, bytes x 1e-12, t]``: dotted with an :class:`EnergyTable` gives J."""
    fp16 = row.dtype == "fp16"
    return np.array([0.0 if fp16 else row.macs * 1e-12, row.macs * 1e-12 if fp16 else 0.0,
                     row.dram_bytes * 1e-12, row.time_s])


def fit_table(rows: Sequence[EnergyRow], upper: Sequence[float] | None = None) -> EnergyTable:
    """Non-negative least squares on relative error: minimise sum((E_pred / E_meas - 1)^2).

    ``upper`` bounds each term (in :data:`TERMS` order, ``inf`` for none). A
    term no row exercises (no fp16 rows, say) comes out as 0.
    """
    from scipy.optimize import lsq_linear

    a = np.array([design_row(r) / r.energy_j for r in rows])
    scale = np.where(a.max(axis=0) > 0, a.max(axis=0), 1.0)  # condition the columns, undone below
    ub = np.full(len(TERMS), np.inf) if upper is None else np.asarray(upper, float) * scale
    coef = lsq_linear(a / scale, np.ones(len(rows)), bounds=(np.zeros(len(TERMS)), ub), method="bvls").x
    return EnergyTable(*(coef / scale))


def physical_bounds(probe_json: Path) -> list[float]:
    """Upper bounds from the probe: a MAC at peak rate cannot draw more than (power limit - idle).

    ``pJ/MAC <= (P_max - P_idle) / (peak / 2)`` for fp32 and fp16; the byte
    and static terms are left free (a fit on TVM's fused kernels' bytes,
    ``--bytes fused``, has pJ/byte absorb what eager PyTorch moves beyond them).
    """
    import json

    out = json.loads(probe_json.read_text())
    room = out["power_limit_w"] - out["idle_power_w"]
    peaks = out["peak_flops_per_s"]
    return [room / (peaks["fp32"] / FLOPS_PER_MAC) * 1e12, room / (peaks["fp16"] / FLOPS_PER_MAC) * 1e12,
            np.inf, np.inf]


def mape(pred: Sequence[float], meas: Sequence[float]) -> float:
    """Mean absolute percentage error, in percent."""
    p, m = np.asarray(pred, float), np.asarray(meas, float)
    return float(np.mean(np.abs(p - m) / m) * 100)


def leave_family_out(rows: Sequence[EnergyRow], upper: Sequence[float] | None = None
                     ) -> tuple[np.ndarray, dict[str, EnergyTable]]:
    """Predictions for every row from a table fitted on the other families."""
    pred = np.zeros(len(rows))
    tables = {}
    for fam in sorted({r.family for r in rows}):
        train = [r for r in rows if r.family != fam]
        table = fit_table(train, upper)
        tables[fam] = table
        for i, r in enumerate(rows):
            if r.family == fam:
                pred[i] = table.energy_j(r)
    return pred, tables


# --------------------------------------------------------------------------- data


def _key(model: str, batch: str, res: str, seq: str, dtype: str) -> str:
    return f"{model}_b{batch}_{res or seq}_{dtype}"


def load_rows(features: Path = H100_DIR / "features.csv", measured: dict[str, Path] = MEASURED,
              launch_bytes: dict[str, float] | None = None) -> list[EnergyRow]:
    """Join the cost pass (features.csv) with every ok NVML-energy row of the measured CSVs.

    ``launch_bytes`` (:func:`read_launch_bytes`): each row's DRAM bytes are its launches', and a row without them
    is left out; None: TVM's fused kernels' (``log_bytes``)."""
    with features.open() as fh:
        feats = {r["key"]: r for r in csv.DictReader(fh)}
    out = []
    for mode, path in measured.items():
        if not path.exists():
            continue
        with path.open() as fh:
            for m in csv.DictReader(fh):
                if m["status"] != "ok" or not m["energy_j"]:
                    continue
                f = feats.get(_key(m["model"], m["batch"], m["resolution"], m["seq_len"], m["dtype"]))
                if f is None or launch_bytes is not None and f["key"] not in launch_bytes:
                    continue
                dram = launch_bytes[f["key"]] if launch_bytes is not None else math.exp(float(f["log_bytes"]))
                out.append(EnergyRow(
                    key=f["key"], model=m["model"], family=f["family"], dtype=m["dtype"], mode=mode,
                    macs=math.exp(float(f["log_flops"])) / FLOPS_PER_MAC, dram_bytes=dram,
                    time_s=float(m["throughput_latency_s"]), energy_j=float(m["energy_j"]),
                    pipeline_energy_j=float(f["predicted_energy_j"]) if mode == "eager" else None))
    return out


def read_launch_bytes(path: Path = LAUNCH_BYTES) -> dict[str, float]:
    """``{features.csv key: launch bytes}`` from :func:`count_launch_bytes`'s file; empty where there is none."""
    if not path.exists():
        return {}
    with path.open() as fh:
        return {r["key"]: float(r["launch_bytes"]) for r in csv.DictReader(fh)}


def launch_bytes_row(analyzed, key: str, dtype: str) -> dict[str, object]:
    """One row of the launch-bytes file: the launches eager PyTorch makes of ``analyzed`` at ``dtype`` (fp16 rows
    priced under ``--precision fp16``, as ``benchmarks.accuracy featurize-h100`` prices them), their bytes, and
    TVM's fused kernels' bytes at that precision (features.csv's ``log_bytes``, for comparison). The launches are
    those of ``analyzed`` as eager PyTorch runs it (:func:`hybridperf.estimate.pricing.as_run_by`: constant
    subexpressions and the normaliser's folded nodes, which it computes every call), as ``predict`` prices them
    (since 2026-12-05; before, the analysis as folded). :func:`~hybridperf.residual.zero_shot.launches` is a function
    of the records it is given (it knows no runtime), so the run copy is made here."""
    from hybridperf.estimate.execution import Granularity, execution
    from hybridperf.estimate.pricing import as_run_by, priced_cost
    from hybridperf.residual.zero_shot import launches

    prec = "fp16" if dtype == "fp16" else None
    ls = launches(as_run_by(analyzed, execution("torch", "gpu")), Granularity.PER_OP, prec)
    fused = sum(priced_cost(k.cost, k.precision, prec)[0].bytes_total for k in analyzed.kernels
                if k.counts_toward_time)
    return {"key": key, "launches": len(ls), "launch_bytes": sum(ln.cost.bytes_total for ln in ls),
            "fused_bytes": fused}


def count_launch_bytes(out: Path = LAUNCH_BYTES, features: Path = H100_DIR / "features.csv",
                       measured: Path = MEASURED["eager"], deadline_s: float = 3600.0, drop_exports: bool = False) -> int:
    """Export (``benchmarks.zoo``, cached under ``.zoo/``) and analyse each featurized configuration of the
    measured rows once, and append its rows' :func:`launch_bytes_row` to ``out`` (a configuration already there
    is skipped, so a run stopped by ``deadline_s`` resumes). ``drop_exports``: delete each export this run made
    once analysed (about 20 GB in all, as ``featurize-h100 --drop-exports``). Returns the number of rows written."""
    import time

    import benchmarks.zoo as zoo
    from hybridperf.analysis.analyze import analyze

    with features.open() as fh:
        keys = {r["key"] for r in csv.DictReader(fh)}
    zoo_before = {p.name for p in zoo.DEFAULT_OUT_DIR.iterdir()} if zoo.DEFAULT_OUT_DIR.is_dir() else set()
    done = set(read_launch_bytes(out))
    configs: dict[tuple[str, int, str, str], set[str]] = {}
    with measured.open() as fh:
        for m in csv.DictReader(fh):
            key = _key(m["model"], m["batch"], m["resolution"], m["seq_len"], m["dtype"])
            if m["status"] == "ok" and key in keys and key not in done:
                configs.setdefault((m["model"], int(m["batch"]), m["resolution"], m["seq_len"]), set()).add(m["dtype"])
    end = time.monotonic() + deadline_s
    written = 0
    for (name, batch, res, seq), dtypes in sorted(configs.items(), key=lambda c: (c[0][1], c[0][0])):
        if time.monotonic() > end:
            print(f"deadline reached before {name} b{batch}", file=sys.stderr)
            break
        path = None
        try:
            path = Path(zoo.export(name, batch=batch, resolution=int(res) if res else None,
                                   seq_len=int(seq) if seq else None))
            an = analyze(path)
        except Exception as exc:  # noqa: BLE001 - report and continue, as featurize-h100 does
            print(f"{name} b{batch}: {type(exc).__name__}: {str(exc).splitlines()[0][:150]}", file=sys.stderr)
            continue
        finally:
            if drop_exports and path is not None and path.name not in zoo_before:
                path.unlink(missing_ok=True)
        rows = [launch_bytes_row(an, _key(name, str(batch), res, seq, d), d) for d in sorted(dtypes)]
        new = not out.exists()
        with out.open("a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=LAUNCH_BYTES_COLUMNS)
            if new:
                w.writeheader()
            w.writerows(rows)
        written += len(rows)
    return written


def table_of_spec(path: Path) -> EnergyTable:
    from hybridperf.device.spec import load_spec

    return _table(load_spec(path))


def table_of_probe(path: Path = PROBE_JSON) -> EnergyTable:
    """The table ``hybridperf probe`` derives from a saved probe_cuda dict (GEMM / copy loop power)."""
    import json

    from hybridperf.device.spec import parse_spec
    from hybridperf.measure import probe

    host = probe.HostInfo(cpu_model="GPU machine's host", logical_cpus=1, usable_cpus=1, memory_bytes=None,
                          governor=None, machine="x86_64", python="", numpy="", blas="", onnxruntime=None)
    out = json.loads(path.read_text())
    result = probe.result_from_cuda_probe(out, host=host, date=out.get("date_utc", "")[:10] or "unknown")
    return _table(parse_spec(probe.spec_dict(result, "h100-probe"), str(path)))


def _table(s) -> EnergyTable:
    return EnergyTable(s.energy_pj_per_mac[s.resolve_precision("fp32")], s.energy_pj_per_mac[s.resolve_precision("fp16")],
                       s.energy_pj_per_byte["dram"], s.idle_power_w)


def write_spec(path: Path, fitted: EnergyTable, n_rows: int, n_models: int, n_families: int, lfo_mape: float,
               date: str, probed: EnergyTable | None = None, probe_json: Path = PROBE_JSON,
               byte_source: str = "launches") -> None:
    """Put the fitted figures into the measured spec's energy / power sections, keeping the probe's in notes (every
    refit: until 2026-12-03 a second fit dropped the probe's figure, keeping only the previous fit's)."""
    import yaml

    from hybridperf.device.spec import parse_spec

    text = path.read_text()
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    raw = yaml.safe_load(text)
    src = (f"fitted to NVML energy, {n_models} models ({n_rows} rows, {n_families} families, eager + CUDA graph, "
           f"fp32 + fp16{', launch bytes' if byte_source == 'launches' else ''}), benchmarks/energy_calibration.py, "
           f"{date}")
    note_tail = f"non-negative least squares on relative error; leave-family-out energy MAPE {lfo_mape:.1f}%"

    def put(section: dict, key: str, value: float, unit: str, what: str, probe_value: float | None = None) -> None:
        old = section.get(key, {})
        # the figure replaced is the probe's only where the probe wrote it; else a previous fit or a datasheet figure
        # (until 2026-12-03 every one was labelled "probe figure before the fit")
        probed = old.get("source", "").startswith("measured by hybridperf probe")
        if value <= 0:  # NNLS at the bound: the term is not identifiable from these rows; keep the figure there
            kept = "the probe's figure" if probed else "the previous figure"
            old["note"] = f"{old.get('note', '')}; the NVML fit gave 0 for this term, so {kept} stays".lstrip("; ")
            return
        label = "probe figure before the fit" if probed else "previous figure"
        prev = f"{label}: {old['value']:g} {old['unit']} ({old.get('source', '')})" if old else ""
        own = (f"; the probe's own figure: {probe_value:g} {unit} ({probe_json.relative_to(ROOT)}, the probe column of "
               f"benchmarks/results/energy_h100.md)" if probe_value is not None and not probed else "")
        section[key] = {"value": float(f"{value:.4g}"), "unit": unit, "source": src, "measured": True,
                        "note": f"{what}; {note_tail}. {prev}{own}".strip()}

    def of_probe(name: str) -> float | None:
        return None if probed is None else float(f"{getattr(probed, name):.4g}")

    put(raw["energy"]["per_mac"], "fp32", fitted.pj_per_mac_fp32, "pJ", "dynamic energy per fp32 MAC (TF32 off)",
        of_probe("pj_per_mac_fp32"))
    put(raw["energy"]["per_mac"], "fp16", fitted.pj_per_mac_fp16, "pJ", "dynamic energy per fp16 MAC",
        of_probe("pj_per_mac_fp16"))
    per_byte = ("dynamic energy per byte the launched kernels move (eager PyTorch / CUDA graphs: one kernel per op, "
                "every intermediate through DRAM), what a GPU prediction sums" if byte_source == "launches" else
                "dynamic energy per byte of TVM's fused kernels")
    put(raw["energy"]["per_byte"], "dram", fitted.pj_per_dram_byte, "pJ", per_byte, of_probe("pj_per_dram_byte"))
    put(raw["power"], "idle", fitted.static_w, "W",
        "static power while a model runs (board draw not explained by MACs or bytes, times the wall time); "
        "the roofline prices it as idle power x latency", of_probe("static_w"))
    _probe_per_mac_over_idle(raw, fitted.static_w)
    parse_spec(raw, str(path))  # never write an invalid spec
    if "fitted to NVML energy by" not in header:
        header += (f"# Energy / power: fp32 + fp16 per-MAC, DRAM per-byte and static power fitted to NVML energy by "
                   f"benchmarks/energy_calibration.py ({date}).\n")
    path.write_text(header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=120))


#: the probe's per-MAC source: (loop power - idle) / (measured rate / 2)
_LOOP = re.compile(r"loop, ([\d.]+) W, minus idle ([\d.]+) W\) / \(measured rate / 2\)")


def _probe_per_mac_over_idle(raw: dict, idle_w: float) -> None:
    """Re-derive the probe's per-MAC figures (the precisions not fitted: fp64, tf32, bf16, fp8, int8) over the sheet's
    idle ``idle_w``: the roofline prices idle x latency plus the dynamic energy, so the loop's NVML power is reproduced
    only when the idle subtracted is the one priced (until 2026-12-05 the probe's own 119.9 W was subtracted beside a
    fitted 126.3 W, 1-2 % more energy per MAC at those precisions)."""
    for prec, q in raw["energy"]["per_mac"].items():
        m = _LOOP.search(" ".join(str(q.get("source", "")).split()))
        if not m or prec not in raw.get("peak_compute", {}):
            continue
        loop_w = float(m.group(1))
        mac_per_s = raw["peak_compute"][prec]["value"] * 1e12 / 2  # the sheet's peak is the probe's measured rate
        q["value"] = float(f"{(loop_w - idle_w) / mac_per_s * 1e12:.4g}")
        q["source"] = _LOOP.sub(f"loop, {m.group(1)} W, minus idle {idle_w:g} W) / (measured rate / 2)",
                                " ".join(str(q["source"]).split()))


# --------------------------------------------------------------------------- report


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def report(rows: list[EnergyRow], sheet: EnergyTable, probed: EnergyTable, upper: Sequence[float] | None = None,
           byte_source: str = "launches") -> tuple[str, EnergyTable, float]:
    """The markdown report; returns (text, table fitted on all rows, leave-family-out MAPE)."""
    meas = np.array([r.energy_j for r in rows])
    fitted = fit_table(rows, upper)
    lfo, _ = leave_family_out(rows, upper)
    lfo_mape = mape(lfo, meas)
    preds = {
        "sheet table (h100-sxm.yaml), measured time": np.array([sheet.energy_j(r) for r in rows]),
        "probe table (hybridperf probe: GEMM / copy loop power), measured time": np.array([probed.energy_j(r) for r in rows]),
        "fitted, leave-family-out, measured time": lfo,
        "fitted on all rows (in-sample), measured time": np.array([fitted.energy_j(r) for r in rows]),
    }
    subsets = {"all": np.ones(len(rows), bool),
               "eager": np.array([r.mode == "eager" for r in rows]), "graph": np.array([r.mode == "graph" for r in rows]),
               "fp32": np.array([r.dtype == "fp32" for r in rows]), "fp16": np.array([r.dtype == "fp16" for r in rows])}
    lines = ["# Energy on H100 SXM: the table calibrated against NVML", "",
             f"{len(rows)} measured inferences ({len({r.key.rsplit('_', 1)[0] for r in rows})} model x batch configs, "
             f"{len({r.family for r in rows})} families; "
             f"{int(subsets['eager'].sum())} eager + {int(subsets['graph'].sum())} CUDA-graph rows, fp32 with TF32 off and fp16). "
             "Measured: NVML whole-board energy per inference over a back-to-back loop (>= 0.3-0.4 s). "
             "Model: E = MACs x pJ/MAC[dtype] + DRAM bytes x pJ/byte + P_static x t, MACs from the cost pass "
             f"of the exported ONNX graph, bytes: {BYTE_SOURCES[byte_source]}, t the measured wall time per inference "
             "in the NVML window. "
             "Fit: non-negative least squares on relative error; validation: each family predicted by a table fitted on "
             "the others. Bounds: pJ/MAC <= (power limit - idle) / (peak MAC rate) for fp32 and fp16 "
             "(" + (", ".join(f"{t} <= {u:.4g}" for t, u in zip(TERMS, upper) if np.isfinite(u)) if upper is not None
                    else "none") + "), so no precision's MACs at peak draw more than the board may; "
             "the byte and static terms are free.", "",
             "## Energy MAPE", "",
             "| energy table | " + " | ".join(f"{k} (n={int(m.sum())})" for k, m in subsets.items()) + " |",
             "|---|" + "---:|" * len(subsets)]
    for name, p in preds.items():
        cells = [f"{mape(p[m], meas[m]):.1f}%" if m.any() else "-" for m in subsets.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    pe = [(r.pipeline_energy_j, r.energy_j) for r in rows if r.pipeline_energy_j is not None]
    if pe:
        lines += ["", f"For reference, the pipeline's own prediction (sheet table, *roofline* latency, no residual) on the "
                      f"{len(pe)} eager rows: MAPE {mape([p for p, _ in pe], [m for _, m in pe]):.1f}% "
                      "(the latency error dominates: eager inference on the H100 is mostly launch-bound, so "
                      "P_static x t is most of the energy)."]
    lines += ["", "## Fitted figures vs the sheet and the probe", "",
              "| term | sheet (h100-sxm.yaml) | probe (GEMM / copy loops) | fitted (all rows) | fitted, range over leave-one-family-out folds |",
              "|---|---:|---:|---:|---:|"]
    _, tables = leave_family_out(rows, upper)
    for t, unit in zip(TERMS, ("pJ", "pJ", "pJ", "W")):
        vals = [getattr(tab, t) for tab in tables.values()]
        lines.append(f"| {t} ({unit}) | {_fmt(getattr(sheet, t))} | {_fmt(getattr(probed, t))} | "
                     f"{_fmt(getattr(fitted, t))} | {_fmt(min(vals))} - {_fmt(max(vals))} |")
    share = np.array([[*(design_row(r) * fitted.as_vector())] for r in rows])
    share = share / share.sum(axis=1, keepdims=True)
    lines += ["", "Share of the fitted energy per term, mean over rows: "
              + ", ".join(f"{t} {s * 100:.0f}%" for t, s in zip(TERMS, share.mean(axis=0))) + ".", "",
              "## Per family (leave-family-out)", "",
              "| family | rows | MAPE sheet | MAPE fitted (held out) |", "|---|---:|---:|---:|"]
    sheet_pred = preds["sheet table (h100-sxm.yaml), measured time"]
    for fam in sorted({r.family for r in rows}):
        m = np.array([r.family == fam for r in rows])
        lines.append(f"| {fam} | {int(m.sum())} | {mape(sheet_pred[m], meas[m]):.1f}% | {mape(lfo[m], meas[m]):.1f}% |")
    lines += ["", "Reproduce (no GPU needed; the measurements are committed): "
              "`python -m benchmarks.accuracy featurize-h100 && python -m benchmarks.energy_calibration "
              "--count-launch-bytes && python -m benchmarks.energy_calibration --write-spec`", ""]
    return "\n".join(lines), fitted, lfo_mape


def probe_vs_sheet(sheet_path: Path = SHEET_SPEC, probe_json: Path = PROBE_JSON) -> str:
    """Markdown table: the probe's measured ceilings next to the datasheet's."""
    import json

    from hybridperf.device.spec import load_spec

    sheet = load_spec(sheet_path)
    out = json.loads(probe_json.read_text())
    lines = ["## Probe (`hybridperf probe` on the lent H100) vs the datasheet", "",
             f"{out.get('device_name')}, driver {out.get('driver_version')}, torch {out.get('torch_version')}, "
             f"CUDA {out.get('cuda_version')}, power limit {out.get('power_limit_w')} W, probed {out.get('date_utc', '')[:10]}; "
             f"dense {out.get('gemm_n')}^3 GEMMs on random data, fp32 with TF32 off.", "",
             "| figure | sheet | probe | probe / sheet |", "|---|---:|---:|---:|"]
    for prec, rate in out["peak_flops_per_s"].items():
        ref = sheet.peak_flops_per_s.get(prec)
        unit = "TOPS" if prec.startswith("int") else "TFLOP/s"
        lines.append(f"| peak {prec} ({unit}) | {ref / 1e12:.4g} | {rate / 1e12:.4g} | {rate / ref:.2f} |" if ref else
                     f"| peak {prec} ({unit}) | - | {rate / 1e12:.4g} | - |")
    bw = out["dram_copy_bandwidth_bytes_per_s"]
    ref = sheet.dram.bandwidth_bytes_per_s
    lines.append(f"| DRAM bandwidth, copy read + write (GB/s) | {ref / 1e9:.4g} | {bw / 1e9:.4g} | {bw / ref:.2f} |")
    if out.get("l2_copy_bandwidth_bytes_per_s"):
        lines.append(f"| L2 copy bandwidth, {out['l2_copy_bytes'] >> 20} MiB in a CUDA graph (GB/s) | - | "
                     f"{out['l2_copy_bandwidth_bytes_per_s'] / 1e9:.4g} | - |")
    launch = max(out.get("launch_queued_s", 0), out.get("launch_gpu_span_s", 0))
    lines.append(f"| launch overhead (us) | {sheet.launch_overhead_s * 1e6:.3g} | {launch * 1e6:.3g} | "
                 f"{launch / sheet.launch_overhead_s:.2f} |")
    lines.append(f"| idle power (W) | {sheet.idle_power_w:.4g} | {out['idle_power_w']:.4g} | "
                 f"{out['idle_power_w'] / sheet.idle_power_w:.2f} |")
    watts = out.get("gemm_avg_power_w", {})
    if watts:
        lines += ["", "Board power in each precision's back-to-back GEMM loop (NVML): "
                  + ", ".join(f"{k} {v:.0f} W" for k, v in watts.items())
                  + f"; DRAM copy loop {out.get('dram_copy_avg_power_w', float('nan')):.0f} W. Most GEMM loops sit at the "
                  "700 W limit (clocks throttle), so their pJ/MAC is at power-capped clocks. The int8 loop (420 W) ran "
                  "the row-major-B kernel while the rate is the faster of two layouts, so its pJ/MAC is a low estimate "
                  "(the probe now times and powers the same column-major-B kernel; this probe predates that fix)."]
    lines += ["", "fp64 beats the sheet because the sheet lists the vector FP64 peak (33.5 TFLOP/s) while cuBLAS DGEMM "
              "runs on the FP64 Tensor Cores (66.9 TFLOP/s peak). Every other peak lands at 0.47-0.79 of the sheet: "
              "the sheet figures are at boost clock with no power cap, the loops here hit the 700 W limit."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.energy_calibration", description=__doc__.splitlines()[0])
    ap.add_argument("--write-spec", action="store_true", help=f"write the fitted figures into {MEASURED_SPEC.name}")
    ap.add_argument("--probe-json", type=Path, default=PROBE_JSON,
                    help="saved probe_cuda dict whose table is compared (default: the one behind the measured spec)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--bytes", choices=sorted(BYTE_SOURCES), default="launches",
                    help="DRAM bytes of the kernels eager PyTorch launches (default; what a GPU prediction prices) or "
                         "of TVM's fused kernels (comparison only: not with --write-spec)")
    ap.add_argument("--count-launch-bytes", action="store_true",
                    help=f"export and analyse each measured configuration (torch needed) and write its launch bytes "
                         f"to {LAUNCH_BYTES.relative_to(ROOT)}, then stop")
    ap.add_argument("--deadline-s", type=float, default=3600.0, help="--count-launch-bytes stops after this long "
                    "(a rerun resumes)")
    ap.add_argument("--drop-exports", action="store_true",
                    help="--count-launch-bytes deletes each ONNX export it made once analysed")
    args = ap.parse_args(argv)
    if args.count_launch_bytes:
        try:
            import torch  # noqa: F401 - benchmarks.zoo builds the models with it
        except ImportError:
            print("error: --count-launch-bytes exports the zoo models with torch, torchvision and transformers; "
                  "install them (pip install torch torchvision transformers) or run it where they are", file=sys.stderr)
            return 2
        n = count_launch_bytes(deadline_s=args.deadline_s, drop_exports=args.drop_exports)
        print(f"{len(load_rows(launch_bytes=read_launch_bytes()))} of {len(load_rows())} measured rows have launch bytes",
              file=sys.stderr)
        print(f"wrote {n} row(s) to {LAUNCH_BYTES.relative_to(ROOT)}", file=sys.stderr)
        return 0
    if args.write_spec and args.bytes != "launches":
        print("error: --write-spec takes the fit on launch bytes (what a GPU prediction prices since 2026-12-04); "
              "drop --bytes fused", file=sys.stderr)
        return 2
    launch_bytes = None
    if args.bytes == "launches":
        launch_bytes = read_launch_bytes()
        if not launch_bytes:
            print(f"error: no launch bytes in {LAUNCH_BYTES.relative_to(ROOT)}; run `python -m "
                  "benchmarks.energy_calibration --count-launch-bytes` where torch is installed first (or --bytes "
                  "fused for the comparison fit on TVM's fused kernels)", file=sys.stderr)
            return 2
    rows = load_rows(launch_bytes=launch_bytes)
    if len(rows) < 2 * len(TERMS):
        print(f"error: only {len(rows)} rows with both features and NVML energy; run "
              "`python -m benchmarks.accuracy featurize-h100` first", file=sys.stderr)
        return 2
    text, fitted, lfo_mape = report(rows, table_of_spec(SHEET_SPEC), table_of_probe(args.probe_json),
                                    physical_bounds(args.probe_json), args.bytes)
    text += "\n" + probe_vs_sheet(SHEET_SPEC, args.probe_json)
    print(text)
    args.out.write_text(text)
    if args.write_spec:
        date = dt.datetime.now(dt.timezone.utc).date().isoformat()
        write_spec(MEASURED_SPEC, fitted, len(rows), len({r.model for r in rows}),
                   len({r.family for r in rows}), lfo_mape, date, table_of_probe(args.probe_json), args.probe_json,
                   args.bytes)
        print(f"wrote fitted figures into {MEASURED_SPEC.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
