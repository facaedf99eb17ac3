"""One row of a sweep (``predict-many``): the work a local worker process or a Ray actor does per model.

Below both backends (:mod:`hybridperf.commands.predict_many`, :mod:`hybridperf.commands.ray_backend`).
The peak memory is the device's default runtime's, as in ``hybridperf predict``.
"""

from __future__ import annotations

import time
from typing import Any

from hybridperf.errors import error_line
from hybridperf.measure.contention import usable_cpus


def usable_cores() -> int:
    """Cores this process may run on (respects taskset/cgroup CPU sets), at least 1: :func:`usable_cpus`."""
    return usable_cpus()


def capped_jobs(jobs: int | None, models: int) -> tuple[int, str]:
    """The workers to start on this machine for ``--jobs`` (None: every usable core) and ``models`` models: at most one
    per model and at most :func:`usable_cores`; and the note saying so where the cores capped ``jobs`` ("" else).
    Until 2026-12-04 ``--jobs 64`` under ``taskset -c 0-3`` started 64 workers, each importing TVM (about 0.5 GiB)
    to take turns on four cores."""
    cores = usable_cores()
    want = min(jobs or cores, models)
    if want <= cores:
        return want, ""
    s = "s" if cores != 1 else ""
    return cores, (f"--jobs {jobs} is more than the {cores} core{s} this process may run on (its CPU affinity): "
                   f"running {cores} worker{s}")


#: the :class:`hybridperf.api.Session` of a ``predict-many`` worker process (set by :func:`_init_worker`, in that
#: process only): its caches serve every model the worker is given, as ``--jobs 1``'s session does
_worker_session: Any = None


def _init_worker() -> None:
    """End with the command (:func:`~hybridperf.measure.child.end_with_parent`; until 2026-12-05 a killed
    ``predict-many`` left its workers waiting forever), import TVM once per worker process and start the worker's
    session."""
    global _worker_session
    import multiprocessing

    from hybridperf.api import Session
    from hybridperf.ir.tvm_compat import tvm_modules
    from hybridperf.measure.child import end_with_parent

    parent = multiprocessing.parent_process()
    end_with_parent(parent.pid if parent is not None else None)
    tvm_modules()
    _worker_session = Session(keep_analyses=0)


#: the keys of a row's figures, null in an error row
FIGURES = ("input_shapes", "latency_s", "latency_note", "energy_j", "energy_note", "estimated_power_note",
           "peak_memory_bytes", "flops", "calibration", "lower_bound", "lower_bound_reason", "latency_lower_bound_reason",
           "memory_lower_bound",
           "memory_estimate", "runtime_memory_note", "warnings", "unknown_fields", "folded_note", "subnormal_assist_s",
           "innermost_transpose_s", "elementwise_math_s", "depthwise_conv1d_s",
           "short_gather_s", "short_broadcast_s")  # the last six: pricing.OUTSIDE_TERMS


def blank_row(path: str, runtime: str) -> dict[str, Any]:
    """A row of ``path`` with every key and its figures null (unknown: a model that fails keeps them so, never
    missing or 0), ``runtime`` the run's (``--runtime``, resolved for the device; error rows carry it too, as the
    ``--output`` file's rows do)."""
    return {"model": path, "status": "ok", "error": None, "runtime": runtime, **dict.fromkeys(FIGURES)}


#: a row's error when its worker process (or Ray actor) died while predicting it (killed for memory, or a crash in
#: native code)
WORKER_DIED = ("the worker process died while predicting this model (killed, e.g. out of memory, or a crash in TVM); "
               "predict it alone (hybridperf predict) to see why")


def died_row(path: str, call: dict[str, Any]) -> dict[str, Any]:
    """The error row of a model whose worker process or actor died (every key, figures null, as :func:`predict_row`'s
    error rows); ``call`` holds :func:`predict_row`'s keywords (its ``runtime``)."""
    return {**blank_row(path, call["runtime"]), "status": "error", "error": WORKER_DIED, "wall_s": None}


def predict_row(path: str, spec_ref: Any, batch: int | None, precision: str | None, fused: bool,
                session: Any = None, *, shapes: dict[str, tuple[int, ...]] | None = None, roofline_only: bool = False,
                runtime: str = "auto") -> dict[str, Any]:
    """Predict one model as ``hybridperf predict`` would with the same options; never raises (an error becomes the
    row's ``error``).

    ``spec_ref`` is a device id, a spec file or a ``DeviceSpec``; ``session`` (a
    :class:`hybridperf.api.Session`) keeps caches across the calls of one worker (default: the worker process's,
    else one for this call). Every path goes through a session, so ``--jobs 1`` and ``--jobs N`` give the same row:
    until 2026-12-04 the process pool priced without one, and on a device whose runtime is ``tvm`` (the NPUs) its
    rows' peak memory left out the kernels' workspace that ``predict`` and ``--jobs 1`` count (ethos-u55, int8:
    60260 B against 76662 B).
    """
    from hybridperf.errors import InputError as _InputError
    from hybridperf.estimate.pricing import OUTSIDE_TERMS

    t0 = time.perf_counter()
    row = blank_row(path, runtime)
    try:
        from hybridperf.api import Session
        from hybridperf.commands._common import native_stderr_silenced
        from hybridperf.estimate.runtime_memory import peak_kind
        from hybridperf.report.text import mark_unknown

        session = session or _worker_session or Session(keep_analyses=0)
        with native_stderr_silenced():  # TVM's C++ log lines of hundreds of models would bury the table
            pred = session.predict(path, spec_ref, batch=batch, shapes=shapes or None, precision=precision,
                                   fused=fused, residual=None if roofline_only else "auto", runtime=runtime)
        kind = peak_kind(pred)
        row.update(
            # the shapes the model was priced at (what --batch / --shape bound) and the runtime whose peak memory
            # (and, on a GPU, execution mode) the row's figures are: as predict --format json's input_shapes / runtime
            input_shapes={k: list(v) for k, v in pred.analyzed.input_shapes.items()},
            runtime=pred.runtime or runtime,
            latency_s=pred.latency_s,
            # "unverified: <why>" as predict's totals.latency_note (until 2026-12-04 a row gave no sign of it)
            latency_note=pred.latency_note or None,
            # the folded nodes the runtime runs unpriced, as predict's totals.folded_note: not a qualifier of the
            # latency (until 2026-12-04 inside latency_note, so the row read "ok (unverified)")
            folded_note=pred.folded_note or None,
            # the terms of probed figures in latency_s (subnormal assists, transposes that move the innermost axis,
            # element-wise math, depthwise 1-D convolutions, gathers of short blocks, broadcasts over short spans), as
            # predict's totals (null: counted and not priced, a warning says why)
            **{f: getattr(pred, f) for f in OUTSIDE_TERMS},
            energy_j=pred.energy_j,
            # capped at max power, or priced on an estimated power sheet (predict's totals.energy_note; until
            # 2026-12-03 a predict-many row gave such an energy with nothing to say so)
            energy_note=pred.energy_note or None,
            # the part of energy_note that is the sheet's, on its own (null where its power figures are measured or
            # sourced): the table's summary names it once (until 2026-12-04 it picked it out of energy_note's words)
            estimated_power_note=pred.estimated_power_note or None,
            peak_memory_bytes=pred.peak_memory_bytes,
            flops=pred.flops,
            calibration=pred.calibration,
            # a bool and its reason, as predict's totals.lower_bound / lower_bound_reason (until 2026-12-03 the row's
            # lower_bound held the reason string or null)
            lower_bound=not pred.complete,
            lower_bound_reason=pred.lower_bound_reason or None,
            # the table's marks (peak_kind): until 2026-12-03 an onnxruntime peak on guessed sizes (a NonZero output
            # sized as its input) was a plain figure here, and a lower bound was flagged even where the peak was not
            memory_lower_bound=kind == "lower_bound",
            memory_estimate=kind == "estimate",
            # why the peak is the TVM plan's and not the runtime's (predict's runtime_memory.reason, applied false;
            # null where the runtime's peak applies): until 2026-12-04 a .tflite on a CPU sheet read "runtime
            # onnxruntime" beside the TVM plan's peak with nothing to say the onnxruntime peak was not modelled
            runtime_memory_note=(pred.runtime_memory_note or None) if pred.runtime_memory is None else None,
            warnings=list(pred.warnings),
        )
        # unknown is null in every format (until 2026-12-04 0 in the JSON and JSONL rows)
        mark_unknown(row, bool(row["lower_bound"]), ("latency_s", "energy_j", "flops"), pred.unknown_figures)
        # the latency and energy leave out a term of probed figures the sheet lacks: lower bounds too, as predict's
        # totals.latency_lower_bound_reason (since 2026-12-07; until then "ok" beside the warning, while check
        # judged such a latency a lower bound)
        row["latency_lower_bound_reason"] = pred.latency_lower_bound_reason
        if pred.latency_lower_bound:
            row["status"] = "lower bound"
    except _InputError as exc:
        row.update(status="error", error=error_line(exc))
    except Exception as exc:  # noqa: BLE001 - one bad model must not stop the others
        row.update(status="error", error=f"internal error: {type(exc).__name__}: {error_line(exc, 200)}")
    row["wall_s"] = time.perf_counter() - t0
    return row


__all__ = ["WORKER_DIED", "blank_row", "died_row", "predict_row", "usable_cores"]
