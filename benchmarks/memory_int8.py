"""Peak memory of int8 onnxruntime models: hybridperf's onnxruntime model vs the measured peak.

Each float model of the zoo (``.zoo/<name>_b1_*_legacy.onnx``, real architectures, random weights, batch 1) is
quantized with ``onnxruntime.quantization`` (after ``quant_pre_process``) into

* ``QOperator`` and ``QDQ``: ``quantize_static``, activations ``QUInt8``, weights ``QInt8``, per-tensor, MinMax
  calibration on :data:`CALIBRATION_INPUTS` inputs (``hybridperf.measure``'s input filler, seeds 0..n-1, so token
  ids stay valid); transformers: ``MatMul`` only and no pre-optimisation (QLinearMatMul; see :func:`quantize`);
* ``dynamic`` (transformers only): ``quantize_dynamic``, weights ``QInt8``.

The quantized files are cached under ``.zoo/int8/`` (git-ignored; rebuilt when missing or older than the float file,
or with ``--requantize``). Each is measured :data:`REPEATS` times with the figure of ``benchmarks/memory_runtime.py``
(:func:`hybridperf.measure.onnxruntime.measure`, 1 thread, memory only: RSS growth at load + VmHWM growth over two runs
+ inputs, CPU arena off, fresh subprocess) and predicted with ``hybridperf predict --runtime onnxruntime --device
host`` (the onnxruntime model is this machine's runtime; its fixed overheads were fitted on fp32 zoo models
measured on ``host-epyc-1c``, a Zen 3 host, by ``benchmarks/memory_runtime.py``; nothing is fitted on these int8
files). The "before" column is the prediction less its ``kernel_scratch`` part (the quantized kernels' scratch:
QLinearConv, QLinearMatMul, QGemm), i.e. what the model predicted without it. Errors are against the median measurement; the
scoring is ``benchmarks.memory_runtime.summary``.

Usage::

    taskset -c 0 .venv/bin/python -m benchmarks.memory_int8 --out benchmarks/results/memory_int8.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.memory_runtime import _mib, summary
from hybridperf.device.cpuinfo import this_cpu
from hybridperf.device.spec import cpu_words
from hybridperf.errors import error_line

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / ".zoo"
CACHE = ZOO / "int8"
COMMAND = "taskset -c 0 .venv/bin/python -m benchmarks.memory_int8 --out benchmarks/results/memory_int8.md"
#: float zoo models quantized (batch 1); transformers also get ``quantize_dynamic``
MODELS = ("resnet18", "squeezenet1_1", "mobilenet_v2", "efficientnet_b0", "shufflenet_v2_x1_0", "regnet_y_400mf",
          "mnasnet1_0", "bert_tiny")
TRANSFORMERS = frozenset({"bert_tiny"})
STATIC_FORMATS = ("QOperator", "QDQ")
CALIBRATION_INPUTS = 4
REPEATS = 3


def float_model(name: str) -> Path | None:
    """The batch-1 float ONNX file of zoo model ``name`` (None when ``.zoo/`` lacks it)."""
    hits = sorted(ZOO.glob(f"{name}_b1_*_legacy.onnx"))
    return hits[0] if hits else None


def formats(name: str) -> tuple[str, ...]:
    """The int8 formats ``name`` is quantized into: static QOperator and QDQ, plus dynamic for transformers."""
    return STATIC_FORMATS + (("dynamic",) if name in TRANSFORMERS else ())


def quantized_path(name: str, fmt: str) -> Path:
    """Cache path of ``name`` quantized in format ``fmt``."""
    return CACHE / f"{name}_b1_{fmt.lower()}.onnx"


def _calibration_reader(path: Path, n: int):
    from onnxruntime.quantization import CalibrationDataReader

    from hybridperf.measure.onnxruntime import model_inputs

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter([model_inputs(path, None, None, seed=s)[0] for s in range(n)])

        def get_next(self):
            return next(self._feeds, None)

    return Reader()


def quantize(name: str, src: Path, requantize: bool = False) -> dict[str, Path | str]:
    """Quantize ``src`` into every format of ``name``: format -> cached file, or the first line of why it failed."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    CACHE.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path | str] = {}
    todo = [f for f in formats(name)
            if requantize or not quantized_path(name, f).exists()
            or quantized_path(name, f).stat().st_mtime < src.stat().st_mtime]
    pre = CACHE / f"{name}_b1_pre.onnx"
    if todo:
        # transformers: no pre-optimisation (its MatMul+Add -> Gemm fusion gives a QGemm whose bias is an initializer
        # the export shares with a LayerNorm bias, quantized as uint8: onnxruntime rejects the file) and MatMul only
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True, skip_optimization=name in TRANSFORMERS)
    for fmt in formats(name):
        dst = quantized_path(name, fmt)
        if fmt in todo:
            t0 = time.perf_counter()
            try:
                if fmt == "dynamic":
                    quantize_dynamic(str(pre), str(dst), weight_type=QuantType.QInt8)
                else:
                    quantize_static(str(pre), str(dst), _calibration_reader(pre, CALIBRATION_INPUTS),
                                    quant_format=getattr(QuantFormat, fmt), activation_type=QuantType.QUInt8,
                                    weight_type=QuantType.QInt8,
                                    op_types_to_quantize=["MatMul"] if name in TRANSFORMERS else None)
            except Exception as exc:  # noqa: BLE001 - a model the quantizer cannot handle is a row, not a crash
                out[fmt] = f"{type(exc).__name__}: {error_line(exc, 150)}"
                continue
            print(f"{dst.name}: quantized in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        out[fmt] = dst
    if pre.exists():
        pre.unlink()
    return out


def measure_peaks(path: Path, repeats: int) -> list[int]:
    """Measured peaks (bytes) of ``repeats`` fresh-subprocess measurements, as ``benchmarks.memory_runtime measure``."""
    from hybridperf.measure.onnxruntime import measure

    return [measure(path, threads=1, repeats=1, warmup=0, profile=False).peak_bytes for _ in range(repeats)]


def predict(path: Path) -> dict:
    """``runtime_memory`` of ``hybridperf predict --runtime onnxruntime --device host --format json`` (never empty
    with ``--runtime``: ``applied: false`` and its ``reason`` where the model was not applied), or ``{"error": line}``
    where the command failed."""
    cmd = [sys.executable, "-m", "hybridperf", "predict", str(path), "--runtime", "onnxruntime", "--device", "host",
           "--format", "json", "--top", "0"]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]}
    out = json.loads(p.stdout)
    return out["runtime_memory"]


def op_counts(path: Path) -> dict[str, int]:
    """Quantized nodes in the file before onnxruntime's optimiser (QLinear*, QGemm, *Integer; DynQ, Q, DQ:
    DynamicQuantizeLinear, QuantizeLinear, DequantizeLinear)."""
    import onnx

    kinds = {"QLinearConv": "QLinearConv", "QLinearMatMul": "QLinearMatMul", "QGemm": "QGemm",
             "MatMulInteger": "MatMulInteger", "ConvInteger": "ConvInteger", "DynamicQuantizeLinear": "DynQ",
             "QuantizeLinear": "Q", "DequantizeLinear": "DQ"}
    counts: dict[str, int] = {}
    for n in onnx.load(str(path), load_external_data=False).graph.node:
        if n.op_type in kinds:
            counts[kinds[n.op_type]] = counts.get(kinds[n.op_type], 0) + 1
    return counts


def _before(row: dict) -> int | None:
    """The row's prediction less its ``kernel_scratch`` part (the model without the quantized kernels' scratch);
    None where the prediction is unknown."""
    after = row.get("predicted")
    return None if after is None else after - (row.get("kernel_scratch") or 0)


def row_errors(row: dict) -> dict:
    """``after`` / ``before`` errors (%) of a row against its median measured peak; None where unknown."""
    med, after, before = row.get("measured_median"), row.get("predicted"), _before(row)
    if not med or after is None:
        return {"err_after": None, "err_before": None}
    return {"err_after": (after / med - 1) * 100, "err_before": (before / med - 1) * 100}


def _pct(x: float | None) -> str:
    return "unknown" if x is None else f"{x:+.1f} %"


def render(rows: list[dict], header: dict) -> str:
    lines = ["# int8 onnxruntime peak memory: hybridperf's onnxruntime model vs measured", "",
             f"Reproduce: `{COMMAND}`", "",
             f"Host: {header['cpu']} ({header['cpu_identity']}; {header['cores']} cores; **shared with other jobs during the run**: the figure "
             f"is memory, not time, but the run was not alone), onnxruntime {header['onnxruntime']}, measured with 1 "
             f"thread, pinned to core 0; {header['date']}; run time {header['seconds']:.0f} s.", "",
             "Measured: `hybridperf.measure.onnxruntime.measure` (fresh subprocess, CPU arena off, RSS growth at load + "
             f"VmHWM growth over 2 runs + inputs), {header['repeats']} times per file; errors are against the median. "
             "Predicted: `hybridperf predict --runtime onnxruntime --device host` (`runtime_memory.peak_bytes`); the "
             "onnxruntime model is this machine's runtime (its fixed overheads were fitted on fp32 zoo models measured the "
             "same way on `host-epyc-1c`, a Zen 3 host, `benchmarks/memory_runtime.py`; nothing is fitted on these int8 files). before = predicted "
             "minus its `kernel_scratch` part (the model without the quantized kernels' scratch); '-' in the scratch "
             "column: the prediction has no such part.", "",
             f"Models: zoo float exports (random weights, batch 1), `quant_pre_process` then `quantize_static` "
             f"(QOperator / QDQ; activations QUInt8, weights QInt8, per-tensor, MinMax on {CALIBRATION_INPUTS} inputs "
             "from hybridperf's input filler, seeds 0..3; the transformer: MatMul only, no pre-optimisation) and, for the "
             "transformer, `quantize_dynamic` (weights QInt8); "
             "files cached in `.zoo/int8/`.", "",
             "| model | format | int8 nodes in the file | measured min MiB | measured median MiB | predicted MiB | before MiB | "
             "kernel scratch MiB | error | error before |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['format']} | - | - | - | - | - | - | {r['error']} | |")
            continue
        ops = ", ".join(f"{k} {v}" for k, v in sorted(r["ops"].items())) or "-"
        after, before = r["predicted"], _before(r)
        lines.append(f"| {r['model']} | {r['format']} | {ops} | {_mib(r['measured_min'])} | "
                     f"{_mib(r['measured_median'])} | {_mib(after) if after is not None else 'unknown'} | "
                     f"{_mib(before) if before is not None else 'unknown'} | "
                     f"{_mib(r['kernel_scratch']) if r['kernel_scratch'] is not None else '-'} | "
                     f"{_pct(r['err_after'])} | {_pct(r['err_before'])} |")
    lines += ["", "Per format (errors against the median measurement):", "",
              "| format | n | MAPE | within ±10 % | MAPE before | within ±10 % before | median pred/meas |",
              "|---|---|---|---|---|---|---|"]
    for fmt in (*STATIC_FORMATS, "dynamic", "all"):
        rs = [r for r in rows if "error" not in r and r["predicted"] is not None and (fmt == "all" or r["format"] == fmt)]
        if not rs:
            continue
        meas = np.array([r["measured_median"] for r in rs], float)
        a = summary(np.array([r["predicted"] for r in rs], float), meas)
        b = summary(np.array([_before(r) for r in rs], float), meas)
        lines.append(f"| {fmt} | {a['n']} | {a['mape']:.1f} % | {a['within10']:.0f} % | {b['mape']:.1f} % | "
                     f"{b['within10']:.0f} % | {a['median_ratio']:.3f} |")
    unsized = [r for r in rows if r.get("unsized_ops")]
    if unsized:
        lines += ["", "Estimates with nodes of unknown output size: "
                  + "; ".join(f"{r['model']} {r['format']}: {', '.join(sorted(set(r['unsized_ops'])))}" for r in unsized)]
    unknown = [r for r in rows if "error" not in r and r["predicted"] is None]
    if unknown:
        lines += ["", "Not priced (left out of the scores): "
                  + "; ".join(f"{r['model']} {r['format']}: {r.get('reason') or 'no reason given'}" for r in unknown)]
    return "\n".join(lines) + "\n"


def cpu_header() -> dict:
    """This machine's CPU for the results header (:func:`hybridperf.device.cpuinfo.this_cpu`): ``cpu`` (model name)
    and ``cpu_identity`` (vendor, family, model, stepping in words); unknown parts are said to be unknown."""
    cpu = this_cpu()
    if cpu is None:
        return {"cpu": "unknown CPU", "cpu_identity": "an unknown CPU"}
    return {"cpu": cpu.model_name or "unknown CPU",
            "cpu_identity": cpu_words(cpu.vendor, cpu.family, cpu.model, cpu.stepping)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="markdown file to write (a .json of the rows is written beside it)")
    ap.add_argument("--models", nargs="+", default=list(MODELS), help=f"zoo model names (default: {' '.join(MODELS)})")
    ap.add_argument("--repeats", type=int, default=REPEATS, help=f"measurements per file (default {REPEATS})")
    ap.add_argument("--requantize", action="store_true", help="rebuild the cached int8 files")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        print("memory_int8: --repeats must be at least 1; pass --repeats 3", file=sys.stderr)
        return 2
    missing = [m for m in args.models if float_model(m) is None]
    if missing:
        print(f"memory_int8: no .zoo/<name>_b1_*_legacy.onnx for {', '.join(missing)}; export them with "
              f"`python -m benchmarks.zoo --export NAME --batch 1` or drop them from --models", file=sys.stderr)
        return 2
    import onnxruntime

    t0 = time.perf_counter()
    rows: list[dict] = []
    for name in args.models:
        for fmt, path in quantize(name, float_model(name), args.requantize).items():
            if isinstance(path, str):
                rows.append({"model": name, "format": fmt, "error": f"not quantized: {path}"})
                continue
            try:
                peaks = measure_peaks(path, args.repeats)
            except Exception as exc:  # noqa: BLE001 - e.g. a file onnxruntime rejects: a row, not a crash
                rows.append({"model": name, "format": fmt, "error": f"not measured: {error_line(exc, 200)}"})
                continue
            rm = predict(path)
            if "error" in rm:
                rows.append({"model": name, "format": fmt, "error": f"predict failed: {rm['error']}"})
                continue
            parts = rm.get("parts") or {}
            row = {"model": name, "format": fmt, "file": str(path.relative_to(ROOT)), "ops": op_counts(path),
                   "measured": peaks, "measured_min": min(peaks), "measured_median": int(statistics.median(peaks)),
                   "predicted": rm.get("peak_bytes"), "kernel_scratch": parts.get("kernel_scratch"), "parts": parts,
                   "reason": rm.get("reason"), "unsized_ops": rm.get("unsized_ops", [])}
            row.update(row_errors(row))
            rows.append(row)
            print(f"{name} {fmt}: measured {[_mib(p) for p in peaks]} MiB, predicted {_mib(row['predicted'])} MiB "
                  f"(scratch {_mib(row['kernel_scratch'])})", file=sys.stderr, flush=True)
    header = {**cpu_header(), "cores": os.cpu_count(), "onnxruntime": onnxruntime.__version__,
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "repeats": args.repeats,
              "seconds": time.perf_counter() - t0, "threads": 1}
    text = render(rows, header)
    if args.out:
        Path(args.out).write_text(text)
        Path(args.out).with_suffix(".json").write_text(json.dumps({"header": header, "rows": rows}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
