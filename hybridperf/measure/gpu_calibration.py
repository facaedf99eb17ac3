"""GPU calibration: adapt the zero-shot GPU model (:mod:`hybridperf.residual.zero_shot`) to measured models.

Two sources of measured models, one adaptation:

* :func:`read_rows`: rows already measured (the CSV format of ``calibration/h100-sxm/torch-*-fp32-fp16.csv``:
  ``model``, ``batch``, ``dtype``, ``status``, ``latency_median_s``, ``onnx_file``), each analysed from its
  ONNX file;
* :func:`measure_models`: ``.pt2`` programs (``torch.export.save``) measured here with PyTorch on CUDA
  (:func:`hybridperf.measure.torch_cuda.measure_cuda`, eager or CUDA-graph replay).

:func:`adapt_gpu` prices every measured model zero-shot on the device sheet, fits the few-shot corrections
(:meth:`~hybridperf.residual.zero_shot.ZeroShotGpu.adapt`) on all of them and reports the held-out error by
leave-one-out (each model predicted by an adaptation fitted on the others alone, its own choices included).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hybridperf.device.spec import DeviceSpec
from hybridperf.errors import InputError
from hybridperf.measure.calibrate import collect_files
from hybridperf.precision import PRECISIONS

#: columns a measured-rows CSV must have
CSV_COLUMNS: tuple[str, ...] = ("model", "batch", "dtype", "status", "latency_median_s", "onnx_file")
#: the runtimes a GPU calibration adapts (CUDA graphs and eager PyTorch)
GPU_RUNTIMES: tuple[str, ...] = ("torch", "torch-cudagraph")


@dataclass(frozen=True)
class MeasuredModel:
    """One measured configuration: where its graph is, its precision and its measured latency."""

    key: str
    path: Path
    dtype: str
    measured_s: float
    #: the batch the model was measured at (fills a symbolic batch dimension; None: the file's own shapes)
    batch: int | None = None
    #: the runtime its ``mode`` column names (None: the CSV has no such column)
    runtime: str | None = None
    #: the GPU its ``device_name`` column names ("": the CSV has no such column, or the cell is empty)
    device_name: str = ""


@dataclass(frozen=True)
class GpuCalibration:
    """Result of :func:`adapt_gpu` (values for the report layer).

    ``per_model`` rows are ``(key, measured_s, zero_shot_s, held_out_s)``; ``held_out_s`` is the
    leave-one-out prediction. MAPEs in percent. ``corrected``: False when the adaptation kept no correction
    (a CUDA-graph correction needs 4 models and must help in leave-one-out): it prices as zero-shot does.
    """

    model: object  # the adapted ZeroShotGpu
    runtime: str
    per_model: tuple[tuple[str, float, float, float], ...]
    skipped: tuple[tuple[str, str], ...]
    zero_shot_mape_pct: float
    held_out_mape_pct: float
    corrected: bool = True

    @property
    def n(self) -> int:
        return len(self.per_model)


#: what a ``mode`` column may say, and the runtime it names (the H100 CSVs write ``eager`` / ``graph``)
MODE_RUNTIMES: dict[str, str] = {"eager": "torch", "torch": "torch", "torch-eager": "torch",
                                 "graph": "torch-cudagraph", "cudagraph": "torch-cudagraph",
                                 "torch-cudagraph": "torch-cudagraph"}
#: measured latencies a median of more than this factor away from the zero-shot predictions are not in seconds (or
#: not of this device): far beyond any model error (the zero-shot figures are off by tens of percent), so refused
UNIT_SANITY_FACTOR: float = 100.0


def read_rows(path: str | Path, models_dir: str | Path | None = None,
              runtime: str | None = None) -> tuple[list[MeasuredModel], list[tuple[str, str]]]:
    """Measured rows of a CSV, with their ONNX files found; ``(rows, skipped (key, why))``.

    ``onnx_file`` is looked up in ``models_dir`` (when given), the CSV's folder and ``./.zoo``. Rows whose
    status is not ``ok``, whose dtype is not a :data:`hybridperf.precision.PRECISIONS` name, whose file is missing, whose latency is not a positive finite number of seconds or whose
    batch is not a positive whole number are skipped (listed, not fatal); so is a row that repeats a configuration
    (the same file, batch and dtype) of an earlier one: kept twice, the adaptation that predicts it held out would
    have seen its copy. Where the CSV has a ``mode`` column (``eager`` / ``graph``), each row's runtime is read from
    it (:attr:`MeasuredModel.runtime`; :func:`select_runtime` keeps those of one runtime). With ``runtime`` given,
    rows of another runtime are set aside before their files are looked up, and a CSV of only the other runtime is
    refused (:class:`InputError` naming it; until 2026-12-04 its rows were reported as files not found).
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(f"--data {p} is a directory; for a GPU it takes the CSV file of measured rows (columns "
                         f"{', '.join(CSV_COLUMNS)})")
    if not p.is_file():
        raise InputError(f"measured rows {p} do not exist (a CSV with columns {', '.join(CSV_COLUMNS)}); check the "
                         "--data path")
    try:
        with open(p, newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise InputError(f"{p}: missing column(s) {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}")
            has_mode = "mode" in (reader.fieldnames or ())
            raw = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{p} is not a readable CSV ({exc}); pass the measured rows as CSV text") from None
    dirs = list(dict.fromkeys(Path(d) for d in (models_dir, p.parent, Path(".zoo")) if d is not None))
    rows, skipped, seen, other_runtimes = [], [], {}, []
    for line, r in enumerate(raw, start=2):  # line 1 is the header
        cell = {c: (r.get(c) or "").strip() for c in (*CSV_COLUMNS, "mode", "device_name")}
        batch = _batch(cell["batch"])
        key = f"{cell['model']} b{batch or cell['batch']} {cell['dtype']}"
        if cell["status"] != "ok":
            skipped.append((key, f"status {cell['status'] or '(empty)'}"))
            continue
        row_runtime = None
        if has_mode:
            row_runtime = MODE_RUNTIMES.get(cell["mode"])
            if row_runtime is None:
                skipped.append((key, f"mode {cell['mode'] or '(empty)'}: a GPU calibration adapts eager (torch) or "
                                     "graph (torch-cudagraph)"))
                continue
            if runtime is not None and row_runtime != runtime:
                other_runtimes.append(row_runtime)
                skipped.append((key, f"measured under {row_runtime} (column mode), not {runtime}"))
                continue
        if batch == 0:
            skipped.append((key, f"batch {cell['batch']!r} is not a positive whole number"))
            continue
        if cell["dtype"] not in PRECISIONS:
            skipped.append((key, f"dtype {cell['dtype']!r} is not one of {', '.join(PRECISIONS)}"))
            continue
        try:
            latency = float(cell["latency_median_s"])
        except ValueError:
            skipped.append((key, f"latency_median_s {cell['latency_median_s']!r} is not a number"))
            continue
        if not (math.isfinite(latency) and latency > 0):
            skipped.append((key, f"latency_median_s {cell['latency_median_s']!r} is not a positive finite number"))
            continue
        found = next((d / cell["onnx_file"] for d in dirs if cell["onnx_file"] and (d / cell["onnx_file"]).is_file()), None)
        if found is None:
            skipped.append((key, f"{cell['onnx_file'] or 'no onnx_file'} not found in {', '.join(map(str, dirs))}"))
            continue
        config = (found.resolve(), batch, cell["dtype"], row_runtime)
        if config in seen:
            skipped.append((key, f"line {line} repeats line {seen[config]} (the same file, batch and dtype): kept once"))
            continue
        seen[config] = line
        rows.append(MeasuredModel(key, found, cell["dtype"], latency, batch, row_runtime, cell["device_name"]))
    if other_runtimes and not any(r.runtime == runtime for r in rows) and \
            len(other_runtimes) == sum(1 for r in raw if (r.get("status") or "").strip() == "ok"):
        raise _other_runtime(runtime, str(p), other_runtimes[0])
    return rows, skipped


def gpu_model(name: str) -> str | None:
    """The GPU model a device name names (``"NVIDIA H100 80GB HBM3"`` -> ``"H100"``, ``"Tesla V100-PCIE-32GB"`` ->
    ``"V100"``, ``"NVIDIA GeForce RTX 4090"`` -> ``"4090"``): its first word holding a digit that is not a memory
    size, a form factor or a memory type, outside parentheses (a sheet's notes: ``"(Super, 25 W mode)"``); None
    where there is none (``"Jetson AGX Orin"``)."""
    for word in re.findall(r"[A-Za-z]*\d+[A-Za-z]*", re.sub(r"\([^)]*\)", " ", name)):
        if not _NOT_A_MODEL.fullmatch(word):
            return word.upper()
    return None


#: words with a digit in a GPU's name that do not name its model: memory sizes, form factors, memory types
_NOT_A_MODEL = re.compile(r"\d+(?:GB|MB|GIB|G)|SXM\d*|HBM\d*E?|GDDR\d*X?|DDR\d*|PCIE\d*|GEN\d+", re.IGNORECASE)


def check_measured_on(rows: Sequence[MeasuredModel], spec: DeviceSpec, source: str) -> None:
    """Refuse rows measured on another GPU than ``spec``'s: their ``device_name`` cells name two GPU models, or one
    that is not the sheet's (``"NVIDIA T4"`` rows for ``h100-sxm``). Names without a model word, and sheets whose
    name has none, are not compared; the unit check of :func:`adapt_gpu` stays the backstop.

    Raises
    ------
    InputError
        The rows name more than one GPU model, or another one than the sheet.
    """
    named = {gpu_model(r.device_name): r.device_name for r in rows if r.device_name}
    named.pop(None, None)
    if len(named) > 1:
        raise InputError(f"{source}: the rows were measured on {len(named)} GPUs ({'; '.join(sorted(named.values()))}); "
                         "a calibration adapts one device: keep the rows of one GPU (column device_name)")
    sheet = gpu_model(spec.name)
    if named and sheet is not None and sheet not in named:
        (theirs,) = named.values()
        raise InputError(f"{source}: the rows were measured on {theirs} (column device_name), but --device {spec.id} is "
                         f"the sheet of {spec.name}; calibrate the sheet of that GPU, or measure on {spec.id}")


def select_runtime(rows: Sequence[MeasuredModel], runtime: str | None,
                   source: str = "the rows") -> tuple[str, list[MeasuredModel], list[tuple[str, str]]]:
    """The runtime to adapt, the rows measured under it and the others as skipped ``(key, why)``.

    ``runtime`` None: the one runtime the rows' ``mode`` names (``torch`` where they name none). Raises
    :class:`InputError` when the rows name both and no ``runtime`` is given, or when every row is of another runtime.
    """
    named = sorted({r.runtime for r in rows if r.runtime is not None})
    if runtime is None:
        if len(named) > 1:
            raise InputError(f"{source} hold rows of {' and '.join(named)} (column mode): pass --runtime "
                             f"{' or --runtime '.join(named)}")
        runtime = named[0] if named else "torch"
    keep = [r for r in rows if r.runtime in (None, runtime)]
    other = [r for r in rows if r.runtime not in (None, runtime)]
    if other and not keep:
        raise _other_runtime(runtime, source, other[0].runtime)
    return runtime, keep, [(r.key, f"measured under {r.runtime} (column mode), not {runtime}") for r in other]


def _other_runtime(runtime: str, source: str, theirs: str) -> InputError:
    """The refusal of rows measured under another runtime than ``--runtime``."""
    return InputError(f"--runtime {runtime}: {source} were measured under {theirs} (column mode "
                      f"{'graph' if theirs == 'torch-cudagraph' else 'eager'}); pass --runtime {theirs}")


def _batch(text: str) -> int | None:
    """A CSV batch cell: None when empty (the file's own shapes), 0 when not a positive whole number."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return 0
    return int(value) if math.isfinite(value) and value.is_integer() and value >= 1 else 0


def cuda_unavailable() -> str | None:
    """Why PyTorch cannot measure on a CUDA GPU here (None when it can)."""
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed (pip install torch with CUDA)"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible to PyTorch (torch.cuda.is_available() is False)"
    return None


def collect_programs(items: Sequence[str | Path]) -> list[Path]:
    """The ``.pt2`` files named by ``items`` (files, or directories searched one level deep), checked to exist."""
    return collect_files(items, ".pt2")


def measure_models(paths: Sequence[str | Path], runtime: str, dtype: str = "fp32",
                   on_measured: Callable[[str, float], None] | None = None) -> list[MeasuredModel]:
    """Measure ``.pt2`` programs here with PyTorch on CUDA (``runtime`` ``torch``: eager; ``torch-cudagraph``: replay).

    Inputs are zeros of the program's example-input shapes. Raises :class:`InputError` without CUDA or for
    files PyTorch cannot run (ONNX: export the model with ``torch.export.save`` instead).
    """
    why = cuda_unavailable()
    if why:
        raise InputError(f"cannot measure on a GPU here: {why}; pass measured rows with --data FILE.csv instead")
    import torch

    from hybridperf.measure.torch_cuda import measure_cuda

    torch_dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}.get(dtype)
    if torch_dtype is None:
        raise InputError(f"--dtype {dtype}: use fp32, fp16 or bf16")
    out = []
    for p in map(Path, paths):
        if p.suffix != ".pt2":
            raise InputError(f"{p}: PyTorch measures torch.export programs (.pt2); export it with torch.export.save "
                             "or measure elsewhere and pass the rows with --data FILE.csv")
        ep = torch.export.load(str(p))
        module = ep.module().to("cuda")
        args, _ = ep.example_inputs if getattr(ep, "example_inputs", None) else ((), {})
        inputs = tuple(a.to("cuda", torch_dtype if a.is_floating_point() else a.dtype) for a in args)
        if torch_dtype is not torch.float32:
            module = module.to(torch_dtype)
        m = measure_cuda(module, inputs, cuda_graph=runtime == "torch-cudagraph", energy_min_s=0.0)
        row = MeasuredModel(p.stem, p, dtype, float(m.latency_median_s))
        if on_measured:
            on_measured(row.key, row.measured_s)
        out.append(row)
    return out


def adapt_gpu(rows: Sequence[MeasuredModel], spec: DeviceSpec, runtime: str,
              on_analysed: Callable[[str], None] | None = None) -> GpuCalibration:
    """Price ``rows`` zero-shot on ``spec`` under ``runtime``, adapt on all of them, and score by leave-one-out."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.residual.zero_shot import ZeroShotGpu, load_cross_device

    if spec.kind != "gpu":
        raise InputError(f"{spec.id} is a {spec.kind}; GPU calibration needs a GPU sheet: pass --device with a GPU id "
                         "from `hybridperf devices`")
    if runtime not in GPU_RUNTIMES:
        raise InputError(f"--runtime {runtime}: a GPU calibration adapts {' or '.join(GPU_RUNTIMES)}; pass --runtime "
                         f"{' or '.join(GPU_RUNTIMES)}")
    base = load_cross_device()
    if base is None:
        raise InputError("no cross-device model installed (hybridperf/data/models/cross-device); reinstall hybridperf")
    zs = ZeroShotGpu(base, runtime)
    priced, skipped = [], []
    for r in rows:
        if on_analysed:
            on_analysed(r.key)
        try:
            bd, _ = zs.breakdown(analyze(str(r.path), batch=r.batch), spec, None if r.dtype == "fp32" else r.dtype)
        except InputError as exc:
            skipped.append((r.key, str(exc).splitlines()[0]))
            continue
        priced.append((r, bd))
    if len(priced) < 2:
        raise InputError(f"{len(priced)} measured model(s) could be analysed; a GPU calibration needs at least 2: "
                         "give rows of more models that `hybridperf predict` can analyse")
    _check_units([r.measured_s / zs.latency_s(bd) for r, bd in priced], spec.id)
    pairs = [(bd, r.measured_s) for r, bd in priced]
    adapted = zs.adapt(pairs)
    per_model = []
    for i, (r, bd) in enumerate(priced):  # leave-one-out: the whole adaptation, its own choices included, without row i
        held = zs.adapt(pairs[:i] + pairs[i + 1:])
        per_model.append((r.key, r.measured_s, zs.latency_s(bd), held.latency_s(bd)))
    mape = lambda j: 100.0 * sum(abs(p[j] / p[1] - 1) for p in per_model) / len(per_model)  # noqa: E731
    corrected = bool(adapted.log_scale) or adapted.weighted_host or adapted.kernel is not None
    return GpuCalibration(adapted, runtime, tuple(per_model), tuple(skipped), mape(2), mape(3), corrected)


def _check_units(ratios: Sequence[float], device: str) -> None:
    """Refuse measured latencies a median of more than :data:`UNIT_SANITY_FACTOR` away from the zero-shot ones."""
    import statistics

    median = statistics.median(ratios)
    if not 1.0 / UNIT_SANITY_FACTOR <= median <= UNIT_SANITY_FACTOR:
        raise InputError(f"the measured latencies are a median {median:.3g}x the zero-shot predictions on {device}: "
                         "latency_median_s must be seconds measured on that device (milliseconds would read 1000x)")


__all__ = ["CSV_COLUMNS", "GPU_RUNTIMES", "MODE_RUNTIMES", "UNIT_SANITY_FACTOR", "GpuCalibration", "MeasuredModel", "adapt_gpu", "check_measured_on", "collect_programs", "cuda_unavailable", "gpu_model",
           "measure_models", "read_rows", "select_runtime"]
