"""Calibrate a CPU from its own measurements: measure ONNX models, featurize, adapt the cross-host model.

The flow behind ``hybridperf calibrate --device ID --measure MODEL ... [--shots K]``:

1. :func:`measure_rounds`: every model once per round in a shuffled order between timings of the
   reference workload (:mod:`hybridperf.measure.rounds`); few rounds, short budgets; per model the median
   over rounds of each round's median (``latency_s``) and the fastest run over rounds (``latency_min_s``,
   the label calibration adapts to: :data:`hybridperf.residual.model.CPU_TARGET`).
2. :func:`write_tables`: ``measurements.csv`` / ``profile.csv`` and the training tables
   (``features.csv``, ``kernel_features.csv``, :func:`hybridperf.residual.features.featurize_measured`)
   in a calibration directory of the user data directory.
3. :func:`hybridperf.residual.cross_host.adapt_cross_host` (not here: nothing in measure predicts): the packaged cross-host CPU model, zero-shot for the device's sheet, adapted
   with K of the measured models (``ResidualModel.adapt``); held-out error by leave-one-out over the
   measured models (each one predicted by an adaptation that never saw it).

Imports: :mod:`hybridperf.measure`, :mod:`hybridperf.residual.features` (the training tables).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hybridperf.errors import InputError


def model_key(path: Path, taken: set[str]) -> str:
    """A unique key for a model file (its stem; ``stem-2`` ... on collisions)."""
    key, n = path.stem, 1
    while key in taken:
        n += 1
        key = f"{path.stem}-{n}"
    taken.add(key)
    return key


def collect_files(items: Sequence[str | Path], suffix: str, wrong_suffix: str | None = None) -> list[Path]:
    """The ``suffix`` files named by ``items`` (files, or directories searched one level deep), checked to
    exist; a file with another suffix is refused with ``wrong_suffix`` as the reason (None: taken as named)."""
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(p.glob(f"*{suffix}"))
            if not found:
                raise InputError(f"--measure {p}: no {suffix} file in this directory; pass a directory that holds {suffix} "
                                 "files, or the files themselves")
            out.extend(found)
        elif not p.exists():
            raise InputError(f"--measure {p}: file not found; check the path")
        elif wrong_suffix is not None and p.suffix != suffix:
            raise InputError(f"--measure {p}: not an {suffix} file ({wrong_suffix}); pass {suffix} files, or export "
                             f"the model to {suffix}")
        else:
            out.append(p)
    return out


def collect_models(items: Sequence[str | Path], batch: int | None = None,
                   on_duplicate: Callable[[Path, Path], None] | None = None) -> list[Path]:
    """The ``.onnx`` files named by ``items`` (files, or directories searched one level deep), checked to exist,
    to have static input shapes once ``batch`` (if given) binds a symbolic leading dimension, and to take ``batch``
    (each graph read once for both checks).

    A file named twice (a directory and a file in it) or a copy of one already named (the same bytes) is kept once:
    measured twice, it would be in the adaptation that predicts it "held out". ``on_duplicate(path, same_as)`` is
    called for each one left out.

    Raises
    ------
    InputError
        A file missing, unreadable or with a symbolic dimension ``batch`` does not bind; fewer than 2 models; or
        (last, after ``on_duplicate``) :func:`_refuse_fixed_batch`.
    """
    out = collect_files(items, ".onnx", "calibration measures with onnxruntime")
    out, dropped = unique_files(out)
    fixed = [p for p in out if not _check_static(p, batch)]
    if len(out) < 2:
        also = ("" if not dropped else f": {dropped[0][0]} repeats {dropped[0][1]}" if len(dropped) == 1 else
                f" once {len(dropped)} repeats were left out")
        raise InputError(f"--measure needs at least 2 models, all different (got {len(out)}{also}): held-out error "
                         "needs one to hold out; add another model")
    for path, same in dropped:  # said once the run goes on (an error above is its one line)
        if on_duplicate is not None:
            on_duplicate(path, same)
    _refuse_fixed_batch(fixed, len(out), batch)
    return out


def unique_files(paths: Sequence[Path]) -> tuple[list[Path], list[tuple[Path, Path]]]:
    """``paths`` without repeats: the same file (resolved path) or the same bytes as one before it. Returns
    ``(kept, [(left out, the kept file it repeats), ...])``; only files of equal size are read and compared."""
    import filecmp

    kept: list[Path] = []
    dropped: list[tuple[Path, Path]] = []
    seen: dict[Path, Path] = {}
    by_size: dict[int, list[Path]] = {}
    for p in paths:
        real = p.resolve()
        same = seen.get(real)
        if same is None:
            size = real.stat().st_size
            same = next((q for q in by_size.get(size, ()) if filecmp.cmp(q, p, shallow=False)), None)
            if same is None:
                seen[real] = p
                by_size.setdefault(size, []).append(p)
                kept.append(p)
                continue
        dropped.append((p, same))
    return kept, dropped


def _check_static(path: Path, batch: int | None = None) -> bool:
    """Refuse a model whose inputs have symbolic dimensions (measurement and analysis need the same shapes); with
    ``batch``, a symbolic leading dimension is bound by it (as ``--batch`` does in ``predict``). Returns whether the
    model takes ``batch`` (:func:`hybridperf.units.check_batch_taken` on its inputs so bound; True without one).

    Until 2026-12-04 ``calibrate`` read each model again for the batch check (``input_specs``), and then read its
    inline weights here (``onnx.load`` reads them whatever ``load_external_data`` says): only the graph is parsed now
    (:func:`hybridperf.frontends.onnx_import.parse_graph`, as the frontend reads a model).
    """
    from hybridperf.frontends.onnx_import import parse_graph
    from hybridperf.units import check_batch_taken

    try:
        m = parse_graph(path)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file
        raise InputError(f"--measure {path}: not a readable ONNX model ({type(exc).__name__}); re-export it, or "
                         "leave it out (move it out of the directory)") from exc
    inits = {i.name for i in m.graph.initializer}
    bound: dict[str, tuple[int, ...]] = {}
    for inp in m.graph.input:
        if inp.name in inits:
            continue
        dims = []
        for axis, d in enumerate(inp.type.tensor_type.shape.dim):
            if not d.HasField("dim_value") and not (axis == 0 and batch is not None):
                fix = ("pass --batch N to bind it" if axis == 0 else
                       "calibration needs static shapes: export the model with fixed input shapes")
                raise InputError(f"--measure {path}: input {inp.name!r} has a symbolic dimension at axis {axis}; {fix}")
            dims.append(d.dim_value if d.HasField("dim_value") else batch)
        bound[inp.name] = tuple(dims)
    try:
        check_batch_taken(batch, bound)
    except InputError:
        return False
    return True


def _refuse_fixed_batch(fixed: Sequence[Path], n: int, batch: int | None) -> None:
    """``--batch N`` must bind every model (a symbolic leading dimension, or a fixed one of N), as ``predict`` and
    ``measure`` refuse a ``--batch`` no input takes. Until 2026-12-04 each model of a fixed other batch was tried in
    the rounds and named "not measured" on a line of its own (a folder of batch-1 exports with ``--batch 2``: four
    warnings, then "only 0 of 4 models could be measured and analysed", exit 2).

    Raises
    ------
    InputError
        One line naming the models (``fixed``, of the ``n``) whose batch is fixed at another size.
    """
    if not fixed:
        return
    names = ", ".join(p.name for p in fixed[:3]) + (f" and {len(fixed) - 3} more" if len(fixed) > 3 else "")
    raise InputError(f"--batch {batch} cannot be applied to {len(fixed)} of {n} models, whose batch is fixed at "
                     f"another size ({names}); drop --batch, or measure only models with a dynamic batch axis")


def unpriced(models: Sequence[Path], device: str | Path, batch: int | None = None
             ) -> tuple[dict[Path, str], dict[str, Any]]:
    """The models of ``models`` that no calibration can learn from, ``{path: why}``: their roofline on ``device`` is
    0 (a model of only uncosted ops, such as NonZero, or only zero-cost ones, such as Reshape), and a calibration
    learns the ratio of the measured latency to the roofline. Until 2026-12-04 ``calibrate --measure`` measured such
    a model and then stopped on a division by that 0 (exit 3).

    Each model is analysed and priced as :func:`write_tables` will (roofline only); one that cannot be analysed is
    not named here (measuring it names it, as not analysed).

    Returns
    -------
    tuple
        ``({path: why}, analyses)``: ``analyses`` maps each analysed model's resolved path (a measurement row's
        ``model``) to its :class:`~hybridperf.analysis.analyze.Analyzed`, with the provenance the training tables
        join profiles by, for :func:`write_tables` to price again rather than analyse again (until 2026-12-04 every
        model was analysed twice).
    """
    from hybridperf.analysis.analyze import analyze
    from hybridperf.estimate.pricing import predict_on

    out, analyses = {}, {}
    for path in models:
        try:
            an = analyze(path, batch=batch, provenance=True)
            pred = predict_on(an, device, None, residual=None)
        except Exception:  # noqa: BLE001 - its failure is said once measured, as featurize_measured's
            continue
        analyses[str(Path(path).resolve())] = an
        if not pred.roofline_latency_s > 0:
            ops = pred.uncosted_ops
            out[path] = (f"roofline 0: nothing priced ({len(ops)} op type{'' if len(ops) == 1 else 's'} without a "
                         f"cost: {', '.join(ops)})" if ops else "roofline 0: only zero-cost ops (no kernel)")
    return out, analyses


def measure_rounds(models: Sequence[Path], device: str, threads: int, rounds: int = 4, repeats: int = 10,
                   budget_s: float = 0.3, seed: int = 0,
                   on_measured: Callable[[str, int, float, float], None] | None = None, batch: int | None = None):
    """Measure every model once per round (:func:`hybridperf.measure.rounds.run_round`).

    Returns ``(summary rows, profile rows, failures)``: one row per model that was measured in every round
    with ``key``, ``model``, ``latency_s`` (median over rounds of the round medians), ``latency_min_s``,
    ``latency_norm_median``, ``round_spread``, ``rounds``, ``threads``, ``device`` (and ``batch`` when one binds the
    models' symbolic leading dimension); with two rounds or more also ``latency_min_first_half_s`` and
    ``latency_min_second_half_s``, the fastest run over the first and over the second half of the rounds (their
    agreement is the run's own test-retest: :func:`hybridperf.measure.rounds.split_half_min`), and how and when the
    model was measured (:data:`PROVENANCE_FIELDS`, ``date_utc``, ``date_utc_last``).
    ``on_measured(key, round, median_s, fastest_s)`` is called after each measurement.
    """
    from hybridperf.measure.onnxruntime import measure, node_rows
    from hybridperf.measure.rounds import ReferenceWorkload, round_rows, run_round, summarize

    taken: set[str] = set()
    plan = {model_key(m, taken): m for m in models}
    reference = ReferenceWorkload(threads=threads, runs=5, warmup=1)
    raw, profile, failures = [], [], []

    for rnd in range(rounds):
        def one(key: str, r: int):
            m = measure(plan[key], batch=batch, threads=threads, repeats=repeats, warmup=2, profile=(r == 0), profile_runs=2,
                        isolate=False, budget_s=budget_s, device=device)
            if r == 0:
                profile.extend(node_rows(m, key))
            if on_measured is not None:
                on_measured(key, r, m.latency_s, m.latency_min_s)
            return m

        res = run_round(rnd, list(plan), one, reference.time, seed=seed)
        raw.extend(round_rows(res))
        failures.extend(res.failures)
    half = rounds // 2
    halves = {name: {s.key: s.latency_min_s for s in summarize(raw, part)}
              for name, part in (("latency_min_first_half_s", range(half)),
                                 ("latency_min_second_half_s", range(half, rounds)))} if half else {}
    seen = {}  # key -> (its first raw row, its last): what ran the model, on which CPU, and when
    for r in raw:
        seen[r["key"]] = (seen.get(r["key"], (r,))[0], r)
    out = []
    for s in summarize(raw):
        if s.rounds < rounds:
            continue
        first, last = seen[s.key]
        # absolute: the table is stored under the user data directory, read from anywhere later
        out.append({"key": s.key, "model": str(Path(plan[s.key]).resolve()), "latency_s": s.latency_median_s,
                    "latency_min_s": s.latency_min_s, "latency_norm_median": s.latency_norm_median,
                    "round_spread": s.round_spread, "rounds": s.rounds, "threads": threads, "device": device,
                    **{name: v[s.key] for name, v in halves.items()},
                    **({"batch": batch} if batch is not None else {}),
                    **{k: first.get(k) for k in PROVENANCE_FIELDS},
                    "date_utc": first.get("date_utc"), "date_utc_last": last.get("date_utc")})
    return out, profile, failures


#: what each row of ``measurements.csv`` says about how it was measured (until 2026-12-03 only ``device`` and
#: ``threads``: a table from another machine, runtime or version could not be told apart): the runtime and its
#: version, the input shapes, the CPU (``lscpu``'s model name, vendor, family, model, stepping, ISA flags) and the
#: hybridperf version; beside them ``date_utc`` / ``date_utc_last``, the model's first and last measurement
PROVENANCE_FIELDS = ("runtime", "runtime_version", "input_shapes", "cpu_model", "cpu_vendor", "cpu_family",
                     "cpu_model_id", "cpu_stepping", "cpu_isa", "hybridperf_version")


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    from hybridperf.files import write_atomic

    if not rows:
        return
    fields: list[str] = []
    for r in rows:
        fields.extend(k for k in r if k not in fields)
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    w.writerows(rows)
    write_atomic(path, buf.getvalue())


#: the files :func:`write_tables` writes, and the only ones a folder of measurements holds
TABLE_FILES = ("measurements.csv", "profile.csv", "features.csv", "kernel_features.csv")


def write_tables(directory: Path, rows, profile, device: str | Path,
                 log: Callable[[str], None] | None = None, analyses: dict[str, Any] | None = None) -> int:
    """Write the measurements and their training tables (:data:`TABLE_FILES`) into ``directory``; returns the rows
    featurized. ``analyses``: the models analysed already (:func:`unpriced`'s), by resolved path; the others are
    analysed here."""
    from hybridperf.residual.features import featurize_measured

    measurements, profile_csv, features, kernel_features = (directory / name for name in TABLE_FILES)
    directory.mkdir(parents=True, exist_ok=True)
    _write_csv(measurements, rows)
    _write_csv(profile_csv, profile)
    feats, krows = featurize_measured(rows, profile_csv, device=device, log=log, analyses=analyses)
    for path in (features, kernel_features):
        path.unlink(missing_ok=True)
    _write_csv(features, feats)
    _write_csv(kernel_features, krows)
    return len(feats)


def is_table_folder(directory: Path) -> bool:
    """True when ``directory`` is a folder (not a link) that holds nothing but tables :func:`write_tables` writes
    (or nothing): one that ``calibrate`` may replace or remove as its own measurements. A folder of the user's of
    that name (``calibrate --out .`` in a checkout with a ``calibration/`` of its own) is not one."""
    if directory.is_symlink() or not directory.is_dir():
        return False
    try:
        return {p.name for p in directory.iterdir()} <= set(TABLE_FILES)
    except OSError:
        return False


__all__ = ["TABLE_FILES", "collect_models", "is_table_folder", "measure_rounds", "model_key", "unique_files",
           "unpriced", "write_tables"]
