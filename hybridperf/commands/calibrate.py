"""``hybridperf calibrate``: store a device's residual model.

::

    hybridperf calibrate --device ID --measure MODEL.onnx ... | DIR [--shots K]   # on the machine itself
    hybridperf calibrate --device ID --data DIR [--target COLUMN] [--few-shot K --base-device ID]   # from tables
    hybridperf calibrate --device GPU --runtime torch|torch-cudagraph --data ROWS.csv | --measure M.pt2 ...  # GPU
    hybridperf calibrate --device ID --reset [--out DIR]   # remove what a CPU calibration stored

``--measure`` (CPU): measure the models here with onnxruntime (interleaved rounds, :mod:`hybridperf.measure.rounds`),
featurize, adapt the cross-host CPU model to them (few-shot) and store it and the measurements under the user data
directory (``--out DIR``: the model in DIR, the measurements in ``DIR/calibration``, neither in the data home); prints
the held-out error on the measured models (the adaptation's is unknown where each held-out prediction's adaptation
saw one model: it keeps no correction, so ``--shots K`` takes 2 to one fewer than the models, none with 2). A model
named twice is measured once. The model is stored whole or not at all (:func:`hybridperf.residual.store.save_model`),
and what it replaced is said.
``--device host`` is this machine (:mod:`hybridperf.measure.host`); a packaged sheet of another CPU is refused.
CPU models are labelled by the fastest timed run (:data:`hybridperf.residual.model.CPU_TARGET`; ``--data``:
``--target`` picks another column of ``DIR/measurements.csv``). Every stored model (and GPU adaptation) records the
figures of the sheet it was made with: predicting on that sheet after its figures are edited (or ``host`` re-probed)
keeps the model, names each changed figure and marks the latency unverified (:mod:`hybridperf.residual.sheet`).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

from hybridperf.cli import ExitCode, terminated_cleanly
from hybridperf.commands._common import StoreOnce, add_format_argument, check_batch, check_output_path
from hybridperf.commands.calibrate_options import MEASUREMENTS_DIR, ParserDefault, refuse_unread, stored_in, unread


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", "-d", required=True, action=StoreOnce, help="device id the model is for (its spec must exist)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", metavar="DIR", action=StoreOnce,
                     help="CPU: a calibration directory with features.csv (+ kernel_features.csv, measurements.csv), "
                          "as `calibrate --measure` leaves under the user data directory (with --out DIR: "
                          "DIR/calibration); GPU: a CSV file of measured "
                          "rows with the columns model, batch, dtype, status, latency_median_s, onnx_file (seconds)")
    src.add_argument("--measure", nargs="+", metavar="MODEL", action=StoreOnce,
                     help="CPU: ONNX models (or directories of them) to measure on this machine and adapt the "
                          "cross-host CPU model to (on the CPUs measured, 20 different networks improved the "
                          "prediction on every one, 5-15 did not always: README, 'How far K = 10 could go'); GPU: "
                          ".pt2 programs (torch.export) run here with PyTorch on CUDA (at least 2; a few seconds each)")
    src.add_argument("--reset", action="store_true",
                     help="remove the model calibrate stored for --device (and its measurements), so that predict "
                          "prices it as before calibrating; with --out DIR: the model stored there (and the "
                          "measurements in DIR/calibration). CPU devices "
                          "only (a GPU's adaptation is one file, which the error names); takes only --device and --out")
    p.add_argument("--shots", type=int, metavar="K", action=StoreOnce,
                   help="with --measure (CPU): adapt on K random models and hold out the rest, K from 2 to one fewer "
                        "than the models (with 2 models omit it; default: adapt on all, held-out error by "
                        "leave-one-out)")
    p.add_argument("--batch", type=int, metavar="N", action=StoreOnce,
                   help="with --measure (CPU): bind a symbolic leading (batch) dimension of the models' inputs (measured and "
                        "analysed at N, as `predict --batch N`)")
    # 4: on the 2-thread Zen 4 slice the fastest run of 1 / 2 / 4 / 8 rounds reproduced to 18.2 / 11.7 / 6.8 / 4.9 %
    # (benchmarks/results/retest_cpu_zen4_2t_rounds.md); 2 until 2026-12-03. 4 rounds of 12 models add about 25 s.
    p.add_argument("--rounds", type=int, default=ParserDefault(4), action=StoreOnce,
                   help="with --measure (CPU): interleaved measurement rounds (default %(default)s)")
    p.add_argument("--steady", type=float, metavar="PCT", action=StoreOnce,
                   help=f"with --measure (CPU): measure again, up to {STEADY_RUNS} runs in all, while a run's own "
                        "split-half test-retest (its second half of rounds against the first) is above PCT %%, and "
                        "adapt to the steadiest run (3: the goal of a reproducible label; on a shared host a run of a "
                        "few seconds can fall in a neighbour's burst)")
    p.add_argument("--threads", type=int, metavar="N", action=StoreOnce,
                   help="with --measure (CPU): onnxruntime threads (default: the CPUs this process may use; a named CPU "
                        "sheet with a core count: that count, the only one allowed)")
    p.add_argument("--out", metavar="DIR", action=StoreOnce,
                   help="where to store the model (default: models/ID/ of the user data directory, hosts/<cpu key>/"
                        "model/ for host: $HYBRIDPERF_HOME, else $XDG_DATA_HOME/hybridperf, else "
                        "~/.local/share/hybridperf; predict looks there first); "
                        "with --measure (CPU) its measurements go to DIR/calibration beside it, not to the user data "
                        "directory")
    p.add_argument("--few-shot", type=int, metavar="K", action=StoreOnce,
                   help="with --data (CPU) and --base-device: adapt the model of --base-device with K measurements of --data "
                        "instead of training from scratch")
    p.add_argument("--base-device", metavar="ID", action=StoreOnce, help="with --few-shot: device whose stored model --few-shot adapts")
    p.add_argument("--seed", type=int, default=ParserDefault(0), action=StoreOnce,
                   help="seed of LightGBM, of the --few-shot / --shots sample and of the --measure round order (CPU; "
                        "default %(default)s)")
    p.add_argument("--target", metavar="COLUMN", action=StoreOnce,
                   help="with --data (CPU): the column of DIR/measurements.csv that labels the rows (default: "
                        "latency_min_s, the fastest timed run, the label of every CPU model; measured_latency_s: "
                        "features.csv's own label)")
    from hybridperf.commands.calibrate_gpu import add_gpu_arguments

    add_gpu_arguments(p)
    add_format_argument(p)


#: ``--steady``: the most runs measured (the first and up to two more), as plan (20) of CHANGELOG 2026-12-07 gated its
#: runs by hand on the Zen 4 VM, where 2-thread runs of 3-30 s had split-half test-retest from 0.3 to 11.9 %
STEADY_RUNS = 3
#: the split-half test-retest (%) above which a run without ``--steady`` is said to be unsteady (issue 12's goal)
UNSTEADY_PCT = 3.0


def json_text(result: dict) -> str:
    """``calibrate --format json``'s document: strict JSON, a non-finite error (a percentage over a zero) null
    (:func:`hybridperf.json_text.dumps`; until 2026-12-04 written as ``NaN`` / ``Infinity``, not JSON)."""
    from hybridperf.json_text import dumps

    return dumps(result, indent=1, nonfinite_as_null=True)


def run(args: argparse.Namespace) -> ExitCode:
    from pathlib import Path

    from hybridperf.errors import InputError

    from hybridperf.commands.calibrate_gpu import is_gpu_calibration, run_gpu

    if getattr(args, "reset", False):
        return run_reset(args)
    if is_gpu_calibration(args):
        return run_gpu(args)
    if args.measure is not None:
        # a `kill` while measuring removes what this run wrote (its scratch tables, a staged copy, the folders made for
        # --out), as Ctrl-C does, and the model stored before stays; until 2026-12-05 SIGTERM ended the process at once,
        # leaving its hybridperf-calibrate-* folder in the temporary directory
        with terminated_cleanly():
            return run_measure(args)
    refuse_unread(args, "cpu-data")  # --shots, --rounds, --threads, --models, --dtype: until 2026-12-04 ignored
    from hybridperf.measure.host import HOST_ID

    if args.device == HOST_ID:  # load_spec said "unknown device 'host'" until 2026-12-03
        raise InputError("--data trains on tables featurized for a named CPU sheet; for this machine measure instead: "
                         "hybridperf calibrate --device host --measure MODEL.onnx ...")
    data = Path(args.data)
    if not data.is_dir():
        raise InputError(f"data directory {data} does not exist; measure with `hybridperf calibrate --device "
                         f"{args.device} --measure MODEL.onnx ...` on that machine instead")
    if (args.few_shot is None) != (args.base_device is None):
        given, missing = ("--few-shot K", "--base-device ID") if args.few_shot is not None else (
            "--base-device ID", "--few-shot K")
        raise InputError(f"--few-shot K and --base-device ID go together; pass {missing} with {given} (ID: a device "
                         f"calibrated before), or drop {given.split()[0]} to train from scratch")
    if args.few_shot is not None and args.few_shot < 1:
        raise InputError(f"--few-shot must be >= 1, got {args.few_shot}")
    if args.out:
        check_output_path(args.out, "--out", directory=True)  # before the training, not after

    import numpy as np

    from hybridperf.residual.model import (
        CALIBRATION_PARAMS,
        CPU_TARGET,
        ResidualModel,
        find_model_dir,
        load_table,
        mape,
    )
    from hybridperf.device.spec import load_spec
    from hybridperf.report.calibration import calibration_text

    spec = load_spec(args.device)
    target = args.target or CPU_TARGET
    X, y, groups, families, kt, rows = load_table(data, target=target)
    # --few-shot too: until 2026-12-04 a table featurized for another sheet adapted the base model silently
    _check_table_device(data, rows, spec.id)
    out = stored_in(spec.id, args.out)[0]
    if args.few_shot is not None:
        base_dir = find_model_dir(args.base_device)
        if base_dir is None:
            raise InputError(f"no stored residual model for {args.base_device}; run hybridperf calibrate --device {args.base_device} first")
        base = ResidualModel.load(base_dir)
        rng = np.random.default_rng(args.seed)
        k = min(args.few_shot, len(y))
        pick = np.sort(rng.choice(len(y), size=k, replace=False))
        model = base.adapt(X[pick], y[pick], device=spec.id, label=target)
        rest = np.setdiff1d(np.arange(len(y)), pick)
        metrics = {"k": int(k), "method": model.adaptation_["method"]}
        if len(rest):
            metrics["heldout_mape_pct"] = mape(np.exp(model.predict(X[rest])), np.exp(y[rest]))
            metrics["heldout_roofline_mape_pct"] = mape(np.ones(len(rest)), np.exp(y[rest]))
        model.metrics_ = {**model.metrics_, "few_shot": metrics}
    else:
        model = ResidualModel(**CALIBRATION_PARAMS, seed=args.seed, device=spec.id, label=target).fit(
            X, y, kernels=kt, groups=groups, families=families)
        metrics = dict(model.metrics_)
    model.record_sheet(spec)  # predictions on this sheet with other figures later are marked unverified
    replaced = _store(model, out, note=args.format == "json")
    result = {"device": spec.id, "stored": str(out), "replaced": replaced, "rows": int(len(y)),
              "kernel_rows": int(len(kt.y)) if kt is not None else 0,
              "calibration": model.describe(), "label": model.label, "metrics": metrics}
    if args.format == "json":
        sys.stdout.write(json_text(result) + "\n")
        return ExitCode.OK
    sys.stdout.write(calibration_text(model, result, metrics, data) + "\n")
    return ExitCode.OK


def run_reset(args: argparse.Namespace) -> ExitCode:
    """``--reset``: remove the model ``calibrate`` stored for ``--device`` (``host``: this machine's, under its
    host folder; another CPU sheet: ``models/ID/``; ``--out DIR``: that folder) and the measurements ``--measure``
    left beside it (``--out DIR``: in ``DIR/calibration``), under the locks a calibration stores them under;
    predictions then use the packaged model again. Nothing stored: said, exit 0. Until 2026-12-04 there was no way
    but finding and deleting the folder by hand, and only a packaged sheet's calibration said so.

    Raises
    ------
    InputError
        Another option than ``--out`` / ``--format`` is given (:func:`unread`), the device is a GPU's, or the folder
        cannot be removed.
    """
    import shutil
    from contextlib import ExitStack

    from hybridperf.errors import InputError
    from hybridperf.measure.host import HOST_ID
    from hybridperf.residual.store import describe_stored, model_lock, remove_model

    given = unread(args, "reset")  # --rounds and --seed: until 2026-12-04 taken and ignored
    if given:
        raise InputError(f"--reset removes a stored calibration and takes only --device and --out; drop {', '.join(given)}")
    if args.device == HOST_ID:
        device = HOST_ID
    else:
        from hybridperf.device.spec import load_spec

        spec = load_spec(args.device)
        if spec.kind != "cpu":
            raise InputError(f"--reset removes a CPU calibration; {spec.id} is a {spec.kind}, whose adaptation is one "
                             f"file: delete {stored_in(spec.id, None)[0]}/gpu_adaptation-RUNTIME.json")
        device = spec.id
    out, data = stored_in(device, args.out)
    if args.out:  # the measurements --measure --out left in DIR (until 2026-12-04 under the data home: left there)
        from hybridperf.measure.calibrate import is_table_folder

        data = data if is_table_folder(data) else None  # a folder of the user's of that name is left alone
    try:
        # the locks run_measure takes: the measurements', then the model's (with --out, the model's covers both)
        with ExitStack() as held:
            for d in (out,) if args.out else (data, out):
                if d.parent.is_dir():
                    held.enter_context(model_lock(d))
            before = describe_stored(out)
            if before is not None:
                remove_model(out)
            measured = data is not None and data.is_dir()
            if measured:
                shutil.rmtree(data)
                if args.out:
                    _remove_empty([out])  # remove_model left it for the measurements
    except OSError as exc:
        raise InputError(f"cannot remove the calibration of {device} in {out}: {exc.strerror or exc}") from exc
    result = {"device": device, "removed": before, "model_dir": str(out),
              "measurements_removed": str(data) if measured else None, "predict_used_it": not args.out}
    others = _host_models_of_other_threads() if device == HOST_ID and not args.out and before is None else {}
    if others:
        result["stored_for_other_threads"] = {str(n): str(d) for n, d in others.items()}
    if args.format == "json":
        sys.stdout.write(json_text(result) + "\n")
        return ExitCode.OK
    from hybridperf.report.calibration import reset_text

    sys.stdout.write(reset_text(result) + "\n")
    _say_other_threads(others)
    return ExitCode.OK


def _host_models_of_other_threads() -> dict[int, Path]:
    """The models ``calibrate --device host`` stored for this CPU run with another thread count: ``{threads: model
    folder}``. ``host`` is this machine with the CPUs this process may use, one folder per count
    (:func:`hybridperf.measure.host.host_model_dirs_by_threads`), so a calibration run under ``taskset -c 1`` is not
    the one a reset run without it finds."""
    from hybridperf.measure.host import host_model_dirs_by_threads
    from hybridperf.residual.model import holds_model

    # whether one is there (what describe_stored's None means), without loading LightGBM to describe each
    return {threads: folder for threads, folder in host_model_dirs_by_threads() if holds_model(folder)}


def _say_other_threads(others: dict[int, Path]) -> None:
    """A note on stderr naming the models of this CPU stored for other thread counts (the reset found none for this
    one). Until 2026-12-04 a reset run without the ``taskset`` its calibration ran under said only "nothing removed"
    for the folder of the threads it had, though the output of the calibration had named that command."""
    from hybridperf.measure.host import host_threads

    for n, d in others.items():
        print(f"hybridperf: note: a model calibrated for host with {n} thread(s) is stored in {d}; host is this "
              f"machine with the CPUs this process may use ({host_threads()} now): run this reset on {n} CPU(s), "
              "as that calibration ran (e.g. under taskset), to remove it", file=sys.stderr)


def _check_table_device(data, rows, device: str) -> None:
    """The rows of ``--data`` were featurized for ``device``'s sheet (their ``device`` column; a table without one is
    not judged). Until 2026-12-03 `calibrate --device host-epyc-zen5-1c --data` on the tables `calibrate --device
    host --measure` left (this machine's timings, its probed sheet's features) stored a model that then priced the
    packaged Zen 5 sheet.

    Raises
    ------
    InputError
        Some row names another device.
    """
    from hybridperf.errors import InputError

    from hybridperf.measure.host import HOST_ID

    others = sorted({str(r.get("device") or "") for r in rows} - {"", device})
    if others:
        fix = ("calibrate this machine with `hybridperf calibrate --device host --measure MODEL.onnx ...`"
               if others == [HOST_ID] else f"use --device {others[0]}")
        raise InputError(f"--data {data} was measured and featurized for {', '.join(others)}, not {device}: its "
                         f"timings and features are of that sheet; {fix}, or measure for {device} on its machine")


def run_measure(args: argparse.Namespace) -> ExitCode:
    """``--measure``: validate, measure, featurize, adapt, store, print the held-out error. The measurement tables
    are written to a scratch directory first: a run that fails leaves the user data directory as it was."""
    import tempfile
    from pathlib import Path

    from hybridperf.errors import InputError

    refuse_unread(args, "cpu-measure")  # --target, --few-shot, --base-device, --models, --dtype (table order)
    _check_shots(args.shots, None, "")  # K >= 1 here; 2 to one fewer than the models once they are read
    if args.rounds < 1:
        raise InputError(f"--rounds must be >= 1, got {args.rounds}")
    if args.steady is not None and not args.steady > 0:
        raise InputError(f"--steady must be a percentage above 0, got {args.steady:g}")
    if args.steady is not None and args.rounds < 2:
        raise InputError(f"--steady needs --rounds 2 or more (a run's test-retest compares the halves of its rounds), "
                         f"got --rounds {args.rounds}")
    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads must be >= 1, got {args.threads}")
    if args.out:
        check_output_path(args.out, "--out", directory=True)
        _check_out_measurements(Path(args.out) / MEASUREMENTS_DIR)
    from hybridperf.commands._common import native_stderr_silenced, resolve_device
    from hybridperf.measure.calibrate import collect_models, measure_rounds, write_tables
    from hybridperf.residual.cross_host import adapt_cross_host
    from hybridperf.measure.host import HOST_ID, host_cpu, host_dir, host_threads
    from hybridperf.report.format import fmt_time

    check_batch(args.batch)
    if args.device == HOST_ID and args.threads is not None and args.threads != host_threads():
        raise InputError(f"--threads {args.threads}: device host predicts for {host_threads()} thread(s), the CPUs this "
                         "process may use, and its model is stored for that count; drop --threads, or run under "
                         f"`taskset -c` with {args.threads} CPUs")
    is_host = args.device == HOST_ID
    if not is_host:  # a named sheet is read at once (no probe): its refusals come before the models are read
        spec_ref = args.device
        spec = _cpu_sheet(spec_ref)
        if spec.id == HOST_ID:  # the cached sheet of this machine, by path: its model goes where host's does
            raise InputError(f"{spec_ref} is this machine's sheet (id host): calibrate it with --device host")
        _check_probed_here(spec)
        threads = _sheet_measure_threads(spec, args.threads, host_threads())
        takeover = _check_named_sheet(spec, args.out)
    duplicates: list[list[str]] = []

    def duplicate(path, same_as) -> None:
        duplicates.append([str(path), str(same_as)])
        what = "named twice" if path.resolve() == same_as.resolve() else f"the same file as {same_as}"
        print(f"hybridperf: warning: --measure {path}: {what}; measured once (twice, it would be in the adaptation "
              "that predicts it held out)", file=sys.stderr)

    models = collect_models(args.measure, args.batch, on_duplicate=duplicate)  # before any probe or measurement
    _check_shots(args.shots, len(models), "given")
    from hybridperf.measure.host import check_writable

    if is_host:
        check_writable(host_dir(), "this machine's sheet and model")  # before a first probe's seconds
        spec_ref = resolve_device(args.device)
        sheet = Path(spec_ref).read_bytes()  # the sheet the model is adapted with: still the cached one when stored
        spec = _cpu_sheet(spec_ref)
        threads = args.threads or host_threads()
        takeover = None
    # --out DIR: the measurements beside the model in DIR (until 2026-12-04 under the data home, where they replaced
    # those of the model predict uses, and `--reset` without --out then removed them)
    out, data = stored_in(HOST_ID if is_host else spec.id, args.out)
    if not args.out:  # --out DIR was checked by check_output_path
        check_writable(out, "the calibrated model")  # before the measuring, not after
        check_writable(data, "the measurements")
    models, collapsed, unscanned = _without_subnormal_hazards(models, args.batch)  # one run each, after cheap checks
    models, unpriced, analyses = _without_unpriced(models, spec_ref, args.batch)
    _check_shots(args.shots, len(models), "whose timing is of the model")

    from hybridperf.measure.rounds import split_half_min

    runs: list[tuple] = []  # (rows, profile, failures, split-half stats) of each run

    def pct(stats) -> float | None:
        """A run's split-half test-retest MAPE in %; None: unknown (one round, or fewer than 2 models)."""
        return stats.mape * 100.0 if stats is not None else None

    def progress(key: str, rnd: int, median_s: float, fastest_s: float) -> None:
        again = f"run {len(runs) + 1}/{STEADY_RUNS}, " if args.steady is not None else ""
        print(f"calibrate: {again}round {rnd + 1}/{args.rounds} {key}: median {fmt_time(median_s)}, fastest "
              f"{fmt_time(fastest_s)}", file=sys.stderr, flush=True)

    while True:
        got = measure_rounds(models, spec.id, threads, rounds=args.rounds, seed=args.seed, on_measured=progress,
                             batch=args.batch)
        runs.append((*got, split_half_min(got[0])))
        last = pct(runs[-1][3])
        if args.steady is None or last is None or last <= args.steady or len(runs) == STEADY_RUNS:
            break
        print(f"hybridperf: warning: run {len(runs)} unsteady: its split-half test-retest is {last:.1f} %, above "
              f"--steady {args.steady:g} %: measuring again ({len(runs) + 1} of at most {STEADY_RUNS})",
              file=sys.stderr, flush=True)
    used = min(range(len(runs)), key=lambda i: pct(runs[i][3]) or 0.0)
    rows, profile, failures, own = runs[used]
    own_pct = pct(own)
    if args.steady is not None and own_pct is not None and own_pct > args.steady:
        print(f"hybridperf: warning: no run steady within --steady {args.steady:g} % in {STEADY_RUNS} (split-half "
              f"test-retest " + ", ".join(f"{pct(r[3]):.1f}" for r in runs) + f" %): adapted to the steadiest "
              f"(run {used + 1}, {own_pct:.1f} %); held-out differences below it are noise", file=sys.stderr)
    elif args.steady is None and own_pct is not None and own_pct > UNSTEADY_PCT:
        print(f"hybridperf: warning: the measurement is unsteady: its split-half test-retest is {own_pct:.1f} % "
              f"(above {UNSTEADY_PCT:g} %), so held-out differences below that are noise; --steady {UNSTEADY_PCT:g} "
              f"measures again (up to {STEADY_RUNS} runs) and keeps the steadiest", file=sys.stderr)
    _say_unscanned(unscanned, rows)
    left_out = {}  # key -> why: not measured (onnxruntime), or measured but not analysed (hybridperf)
    for key, why in dict.fromkeys(failures):  # a model that fails does so in every round: say it once
        print(f"hybridperf: warning: {key}: not measured: {why}", file=sys.stderr)
        left_out.setdefault(key, f"not measured: {why}")
    verbose = getattr(args, "verbose", False)

    def log(line: str) -> None:
        key, sep, why = line.partition(": analysis failed: ")  # featurize_measured's words for a skipped model
        if sep:
            left_out[key] = f"not analysed: {why}"
            print(f"hybridperf: warning: {key}: measured but not analysed, left out: {why}", file=sys.stderr)
        elif verbose:
            print(f"calibrate: {line}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="hybridperf-calibrate-") as tmp:
        staged = Path(tmp) / "calibration"  # the tables replace those in `data` only once the model is stored
        with native_stderr_silenced(not verbose):  # TVM's C++ warnings while featurizing (as predict does)
            n = write_tables(staged, rows, profile, spec_ref, log=log, analyses=analyses)
        if n < 2:
            raise InputError(f"only {n} of {len(models)} models could be measured and analysed; calibration needs 2: "
                             "pass more models (the warnings above say why each was left out)")
        shots = args.shots
        if shots is not None and shots >= n:  # models left out since the check before measuring: said, not silent
            print(f"hybridperf: warning: --shots {shots} leaves no model to hold out of the {n} measured and analysed "
                  f"({len(models) - n} left out): adapted on all {n}, held-out error by leave-one-out instead",
                  file=sys.stderr)
            shots = None
        res = adapt_cross_host(staged, spec, threads, shots=shots, seed=args.seed,
                               cpu=host_cpu() if is_host else "")
        made = _missing_dirs(out) if args.out else []  # removed again (where empty) when nothing is stored
        try:  # the measurements are copied beside `data` before the model is stored: after it, only renames
            swap_in, discard = _stage_dir(staged, data)
        except OSError as exc:
            _remove_empty(made)
            fix = "choose another --out" if args.out else "set HYBRIDPERF_HOME to a writable directory"
            raise InputError(f"cannot store the measurements in {data}: {exc.strerror or exc}; {fix}") from exc
        from contextlib import ExitStack

        from hybridperf.measure.host import probe_lock
        from hybridperf.residual.store import model_lock

        # the model and its measurements under one lock: of two calibrations of one device at once the last stores
        # both whole (until 2026-12-03 the other's `.new` copy could be removed under it, or the pair mixed); with
        # --out the measurements are inside the model's folder, whose lock covers both (save_model takes it again)
        stored = False
        try:
            with ExitStack() as held:
                if is_host:  # and no probe between this check and the store
                    held.enter_context(probe_lock())
                    if not Path(spec_ref).is_file() or Path(spec_ref).read_bytes() != sheet:
                        # until 2026-12-03 stored: a model adapted with one sheet beside another
                        raise InputError(f"this machine's sheet {spec_ref} was probed again (`hybridperf probe "
                                         "--host`, another process) while calibrate measured, and the model is "
                                         "adapted with the previous one; nothing was stored: run calibrate again")
                held.enter_context(model_lock(out if args.out else data))
                held.enter_context(_signals_held())  # Ctrl-C / kill: after the store, not between its renames
                replaced_data = str(data) if data.exists() else None
                replaced = _store(res.model, out, note=args.format == "json")
                stored = True
                if takeover:
                    print(f"hybridperf: note: {takeover}", file=sys.stderr)
                try:
                    swap_in()
                except OSError as exc:
                    raise InputError(f"the model is stored in {out}, but its measurements could not be stored in "
                                     f"{data}: {exc.strerror or exc}; make that folder writable and run calibrate "
                                     "again to store both") from exc
        except BaseException:
            if not stored:  # nothing of this run is left: the staged copy, and the folders made for it
                discard()
                _remove_empty(made)
            raise
    half = args.rounds // 2
    per_fold, untested_why = heldout_adaptation(res.n, res.k, shots)
    untested = untested_why is not None
    result = {"device": spec.id, "stored": str(out), "replaced": replaced, "replaced_measurements": replaced_data,
              "correction_kept": res.model.keeps_correction(), "data": str(data), "models": res.n,
              "adapted_on": res.k, "heldout_adapted_on": per_fold,
              "threads": threads, "measured": _provenance(rows), "duplicates_left_out": duplicates,
              "not_calibrated_on": [{"key": k, "why": v} for k, v in left_out.items()],
              "left_out_subnormal": [str(p) for p in collapsed],
              "left_out_unpriced": [{"model": str(p), "why": why} for p, why in unpriced.items()], "heldout": res.heldout, "calibration": res.model.describe(), "label": res.model.label,
              "heldout_mape_pct": {"roofline": res.roofline_mape_pct, "zero_shot": res.zero_shot_mape_pct,
                                   "adapted": None if untested else res.adapted_mape_pct},
              # the "zero_shot" figures' model: with a training host's own offset (this CPU was trained on), or None:
              # zero-shot (as `predict` said before calibrating)
              "base_offset_of": res.base_offset_of or None,
              # the training hosts of this CPU with other threads (the base figures are then not zero-shot either)
              "base_same_cpu": list(res.base_same_cpu),
              # how to go back to the packaged model (until 2026-12-04 no command; the folder was deleted by hand)
              "reset_command": f"hybridperf calibrate --device {args.device} --reset"
                               + (f" --out {args.out}" if args.out else ""),
              "predict_uses_it": not args.out,  # --out DIR: stored there only, predict looks where it stores
              "heldout_unknown_reason": untested_why,
              # the measurements' own test-retest (None: unknown, one round); held-out differences below it are noise
              "measurement_retest": {"rounds": args.rounds,
                                     "halves": [[1, half], [half + 1, args.rounds]] if args.rounds >= 2 else None,
                                     "models": own.n if own else None,
                                     "mape_pct": own_pct,
                                     "within_10_pct": dict(own.within)[0.10] * 100.0 if own else None,
                                     # --steady: each run's split-half MAPE %, the run used (1-based), the bound
                                     "steady_pct": args.steady, "run_used": used + 1,
                                     "runs_mape_pct": [pct(r[3]) for r in runs]},
              "per_model": [dict(zip(("key", "measured_s", "roofline_s", "zero_shot_s", "adapted_s"),
                                     (*r[:4], None if untested else r[4]))) for r in res.per_model]}
    from hybridperf.commands._common import warn_if_adaptation_worse

    if untested:
        print(f"hybridperf: warning: held-out error of the adaptation unknown: {untested_why}", file=sys.stderr)
    elif result["correction_kept"]:  # none kept: the stored model prices as the base does, and the text says so
        # on a training CPU the base is that host's offset, as predict says (until 2026-12-04 called zero-shot here)
        warn_if_adaptation_worse(result["heldout_mape_pct"], base=f"the base model's (the offset of training host "
                                 f"{res.base_offset_of})" if res.base_offset_of else
                                 "the base model's" if res.base_same_cpu else "the zero-shot model's")
    if args.format == "json":
        sys.stdout.write(json_text(result) + "\n")
        return ExitCode.OK
    from hybridperf.report.calibration import measure_calibration_text

    sys.stdout.write(measure_calibration_text(result) + "\n")
    return ExitCode.OK


def _provenance(rows) -> dict:
    """How and when the models were measured (:data:`hybridperf.measure.calibrate.PROVENANCE_FIELDS` of the
    measurement rows; None where unknown): the runtime and its version, the CPU, hybridperf's version, and the first
    and last measurement's UTC dates."""
    from hybridperf.measure.calibrate import PROVENANCE_FIELDS

    def once(key):
        values = {r.get(key) for r in rows} - {None, ""}
        return values.pop() if len(values) == 1 else None

    firsts = sorted(r["date_utc"] for r in rows if r.get("date_utc"))
    lasts = sorted(r["date_utc_last"] for r in rows if r.get("date_utc_last"))
    return {**{k: once(k) for k in PROVENANCE_FIELDS if k != "input_shapes"},
            "first_utc": firsts[0] if firsts else None, "last_utc": lasts[-1] if lasts else None}


def heldout_adaptation(n: int, k: int, shots: int | None) -> tuple[int, str | None]:
    """How many models the adaptation behind each held-out prediction saw (``n - 1`` by leave-one-out, else the K
    of ``--shots``), and why the held-out error of the adaptation is unknown (None: it is known). With one model an
    adaptation keeps no correction (:meth:`~hybridperf.residual.model.ResidualModel.adapt`: every candidate's
    leave-one-out error is the base model's), so its "adapted" figure would be the zero-shot one again and test
    nothing of the model stored, which ``k`` models adapted."""
    per_fold = n - 1 if shots is None or shots >= n else shots
    if per_fold >= 2:
        return per_fold, None
    return per_fold, (f"each held-out model was predicted by an adaptation on {per_fold} model, which keeps no "
                      f"correction: measure 3 or more models to test the adaptation (the stored one is adapted on "
                      f"all {k})")


def _check_shots(shots: int | None, n: int | None, which: str) -> None:
    """Refuse a ``--shots K`` that cannot adapt on K models and hold out the rest: K takes 2 to ``n - 1`` of the
    ``n`` models (those ``which``; ``None``: not read yet, so only ``K >= 1`` is checked, and ``K = 1`` waits for
    ``n``, which the fix depends on). An adaptation on one model keeps no correction
    (:meth:`~hybridperf.residual.model.ResidualModel.adapt`: every candidate's leave-one-out error is the base
    model's), so its stored model would be the zero-shot one; K of ``n`` leaves none to hold out. With fewer than 3
    models no K works, and the line says so (until 2026-12-05 2 models got "use at most 1" for ``--shots 2`` and "use
    --shots 2 or more" for ``--shots 1``).

    Raises
    ------
    InputError
        ``shots`` is given and below 1, or ``n`` is known and ``shots`` is 1 or not below ``n``.
    """
    from hybridperf.errors import InputError

    if shots is None:
        return
    if n is None:
        fix = "it must also leave a model to hold out (with 2 models drop --shots): use --shots 2 or more"
    elif n >= 3:
        fix = f"use --shots 2 to {n - 1} of the {n} {which}, or drop --shots for leave-one-out"
    else:
        fix = (f"no --shots works with {n} (2 to adapt on and 1 to hold out take 3 models): drop --shots for "
               "leave-one-out, or pass 3 or more models")
    if shots < 1:
        raise InputError(f"--shots must be >= 1 model to adapt on, and 1 keeps no correction; {fix} (got {shots})")
    if shots == 1 and n is not None:
        raise InputError("--shots 1: an adaptation on one model keeps no correction (it takes 2 to choose one by "
                         f"leave-one-out), so the stored model would be the zero-shot one; {fix}")
    if n is not None and shots >= n:
        raise InputError(f"--shots {shots} leaves no model to hold out of the {n} {which}; {fix}")


def _without_subnormal_hazards(models, batch: int | None):
    """The models whose timing would be of the model, not of subnormal assists (:mod:`hybridperf.measure.subnormal`):
    each hazard is named on stderr and left out before any measurement; fewer than 2 left is an input error.
    Returns ``(kept, left out, not scanned)``, the last ``{path: why}`` of the models the scan could not run: said
    by :func:`_say_unscanned` once measuring has run them (a model onnxruntime cannot run is named there once, as not
    measured; until 2026-12-04 it got a "not scanned" warning before that one as well)."""
    from hybridperf.commands._common import scan_subnormals

    out, unscanned = [], {}
    for path in models:
        s = scan_subnormals(path, None, batch, "left out of the calibration", unscanned=unscanned)
        if s is not None and s.hazard:
            out.append(path)
    kept = _at_least_two(models, out, "time the model rather than subnormal assists", "pass exports with trained "
                         "weights")
    return kept, out, unscanned


def _without_unpriced(models, device, batch: int | None):
    """The models a calibration can learn from (:func:`hybridperf.measure.calibrate.unpriced`: a roofline above 0):
    each other one is named on stderr and left out before any measurement; fewer than 2 left is an input error.
    Returns ``(kept, {left out: why}, analyses)``, ``analyses`` :func:`~hybridperf.measure.calibrate.unpriced`'s (for
    :func:`~hybridperf.measure.calibrate.write_tables`: each model analysed once; TVM started before the first, so
    that the analysis times the tables record are the models' own: :func:`~hybridperf.residual.features.start_tvm`)."""
    from hybridperf.measure.calibrate import unpriced
    from hybridperf.residual.features import start_tvm

    start_tvm()
    out, analyses = unpriced(models, device, batch)
    for path, why in out.items():
        print(f"hybridperf: warning: {path}: {why}, so no calibration can learn from it; left out of the calibration",
              file=sys.stderr)
    kept = _at_least_two(models, out, "have a roofline above 0 (some op priced)", "add models with priced ops "
                         "(Conv, MatMul, ...)")
    return kept, out, analyses


def _at_least_two(models, left_out, which: str, fix: str) -> list:
    """``models`` less those in ``left_out``, in order. Raises InputError (``only K of N models {which}; calibration
    needs 2: {fix}``) when fewer than 2 are left."""
    from hybridperf.errors import InputError

    kept = [p for p in models if p not in left_out]
    if len(kept) < 2:
        raise InputError(f"only {len(kept)} of {len(models)} models {which}; calibration needs 2: {fix}")
    return kept


def _say_unscanned(unscanned, rows) -> None:
    """One warning per model measured (a row of ``rows`` names its absolute path) that the subnormal scan could not
    run; a model not measured is named by the measuring's warning instead."""
    measured = {str(r.get("model")) for r in rows}
    for path, why in unscanned.items():
        if str(Path(path).resolve()) in measured or str(path) in measured:
            print(f"hybridperf: warning: {path}: not scanned for subnormal activations ({why})", file=sys.stderr)


def _sheet_measure_threads(spec, asked: int | None, usable: int) -> int:
    """The onnxruntime threads ``calibrate --measure`` runs a named CPU sheet's models with: those its predictions
    assume (:func:`~hybridperf.residual.cross_host.sheet_threads`, its core count), else ``asked`` or the ``usable``
    CPUs.

    Raises
    ------
    InputError
        ``asked`` differs from the sheet's core count, or fewer CPUs are usable than it has cores.
    """
    from hybridperf.errors import InputError
    from hybridperf.residual.cross_host import sheet_threads

    cores, given = sheet_threads(spec)
    if not given:
        return asked or usable
    if asked is not None and asked != cores:
        raise InputError(f"--threads {asked}: the sheet {spec.id} covers {cores} core(s) (compute_units.count), the "
                         f"threads its predictions assume; drop --threads, or probe a sheet of {asked} core(s) "
                         f"(`taskset -c` with {asked} CPUs, then `hybridperf probe --out ID.yaml`) and calibrate that")
    if usable < cores:
        raise InputError(f"the sheet {spec.id} covers {cores} core(s) but this process may use {usable} CPU(s); run "
                         "it where that many are free, or probe this machine (`hybridperf probe --out ID.yaml`) and "
                         "calibrate that sheet")
    return cores


def _check_out_measurements(folder: Path) -> None:
    """``--out DIR`` with ``DIR/calibration`` that is not a folder of measurements ``calibrate`` wrote
    (:func:`~hybridperf.measure.calibrate.is_table_folder`): refused before anything is measured, since storing would
    replace it (``--out .`` in a checkout with its own ``calibration/``).

    Raises
    ------
    InputError
        ``folder`` exists and holds something else.
    """
    from hybridperf.errors import InputError
    from hybridperf.measure.calibrate import is_table_folder

    if (folder.exists() or folder.is_symlink()) and not is_table_folder(folder):
        raise InputError(f"--out {folder.parent}: {folder} is not a folder of measurements calibrate wrote, and "
                         f"calibrate --measure stores its measurements there; choose another --out, or move {folder}")


def _missing_dirs(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist, deepest first (what storing into ``path`` creates)."""
    from itertools import takewhile

    from hybridperf.files import nearest_existing

    p = Path(path).absolute()
    top = nearest_existing(p)
    return list(takewhile(lambda d: d != top, (p, *p.parents)))


def _remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) while they are empty: those a run created and failed to store into."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (another process's, a lock file), or gone
            return


@contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM while the model and its measurements are stored (a few renames under their locks),
    and deliver the first one caught once both are in place: an interruption there stops the command after the
    store, not between its renames (until 2026-12-05 a Ctrl-C or ``kill`` between them could leave part of a model,
    which predictions refuse, or a new model beside the previous run's measurements). A signal ignored before stays
    ignored; outside the main thread nothing is held."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s, handler in before.items():
        if handler is not signal.SIG_IGN:
            signal.signal(s, lambda signum, frame: caught.append(signum))
    stored = False
    try:
        yield
        stored = True
    finally:
        for s, handler in before.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        if caught:
            if stored:
                print("hybridperf: note: interrupted while storing: the model and its measurements were stored "
                      "whole first", file=sys.stderr, flush=True)
            signal.raise_signal(caught[0])


def _store(model, out, note: bool) -> str | None:
    """Store ``model`` in ``out`` whole (:func:`hybridperf.residual.store.save_model`); what it replaced there, or None.
    ``note``: say it on stderr too (``--format json``, whose stdout is data; the text report says it on stdout, and
    until 2026-12-05 a rerun printed "replaced the model" on both)."""
    from pathlib import Path

    from hybridperf.errors import InputError
    from hybridperf.residual.store import describe_stored, save_model

    before = describe_stored(out)
    try:
        save_model(model, out)
    except OSError as exc:
        raise InputError(f"cannot store the model in {out}: {exc.strerror or exc}; choose another --out, or set "
                         "HYBRIDPERF_HOME to a writable directory") from exc
    if before is not None and note:
        print(f"hybridperf: note: replaced the model stored in {Path(out)} before ({before})", file=sys.stderr)
    return before


def _cpu_sheet(ref):
    """The CPU sheet ``ref`` names; a sheet of another kind is refused (onnxruntime times this CPU)."""
    from hybridperf.device.spec import load_spec
    from hybridperf.errors import InputError

    spec = load_spec(ref)
    if spec.kind != "cpu":
        raise InputError(f"--measure calibrates CPUs (onnxruntime CPU provider); {spec.id} is a {spec.kind}: name a "
                         "CPU sheet, or host for this machine (`hybridperf devices` lists each sheet's kind)")
    return spec


def _check_probed_here(spec) -> None:
    """A CPU sheet that says its CPU must be of this machine's: a calibration on a machine of another CPU would adapt
    that CPU's sheet to this one's timings (until 2026-12-03 stored silently, the two hosts mixed in one model). Two
    things are compared where the sheet gives them: its ``cpu_identity`` (vendor, family, model; until 2026-12-04
    not there, and ``lscpu`` calls Zen 3, 4 and 5 all "AMD EPYC", so ``-d host-epyc-1c`` calibrated on a Zen 5), and
    the CPU a sheet written by ``hybridperf probe --out`` names in its notes (``CPU: NAME;``). Sheets that say
    neither are not judged.

    Raises
    ------
    InputError
        The sheet's identity, or the model name it was probed on, is not this machine's.
    """
    from hybridperf.errors import InputError
    from hybridperf.measure.host import cpu_elsewhere
    from hybridperf.measure.probe import probed_elsewhere

    # by the sheet's cpu_identity, else (a sheet without one) by the vendor / ISA its name and notes give
    other = cpu_elsewhere(spec)
    if other is not None:
        theirs, here = other
        packaged = "packaged " if spec.packaged else ""
        raise InputError(f"--device {spec.id} is the {packaged}sheet of another CPU ({theirs}; this machine: {here}): "
                         "its model would be adapted to this machine's timings; calibrate this machine with --device "
                         "host, or a sheet probed here (`hybridperf probe --out my-box.yaml`)")
    elsewhere = probed_elsewhere(spec.notes)
    if elsewhere is not None:
        probed, here = elsewhere
        raise InputError(f"--device {spec.id}: its sheet was probed on another CPU ({probed}; this "
                         f"machine: {here}), and the model would adapt it to this machine's timings; calibrate on "
                         "that machine, or probe this one (`hybridperf probe --out ID.yaml`) and calibrate that sheet")


def _check_named_sheet(spec, out) -> str | None:
    """A named CPU sheet calibrated by ``--measure``: the model goes to ``models/ID/``, where ``predict --device ID``
    finds it before the packaged one. Refused where that would price a packaged sheet with another sheet's
    measurements (a sheet file whose id is a packaged sheet's) or with another CPU's (this machine is not the CPU of
    a packaged sheet that the cross-host model names). Returns what storing the model changes for a packaged sheet's
    predictions (for stderr, once it is stored), or None."""
    from hybridperf.device.spec import available_devices
    from hybridperf.errors import InputError
    from hybridperf.measure.host import host_cpu
    from hybridperf.residual.cross_host import training_host_cpu

    if spec.id not in available_devices():
        return None
    packaged = spec.packaged
    if not packaged:
        if out:
            return None  # stored elsewhere: nothing shadows the packaged sheet
        raise InputError(f"the sheet {spec.path} has the id of the packaged sheet {spec.id}: its model would be stored "
                         f"as, and used for, the packaged one; give the sheet another id (file name and `id:`)")
    here = host_cpu()
    # a sheet with a cpu_identity was judged by it (_check_probed_here): the training host's stepping is not compared
    theirs = training_host_cpu(spec.id) if getattr(spec, "cpu_identity", None) is None else ""
    if here and theirs and here != theirs:
        raise InputError(f"--device {spec.id} is the packaged sheet of another CPU ({theirs}; this machine: {here}): "
                         "its model would be adapted to this machine's timings; calibrate this machine with --device "
                         "host, or a sheet probed here (`hybridperf probe --out my-box.yaml`)")
    if out:
        return None
    return (f"{spec.id} is a packaged sheet: the model calibrated here prices it (`predict --device {spec.id}`) "
            f"instead of the packaged one, from this machine's timings ({here or 'its CPU unknown'}); "
            f"`hybridperf calibrate --device {spec.id} --reset` goes back")


def _stage_dir(src, dest):
    """Copy the directory ``src`` beside ``dest`` (its parents created when missing); returns ``(swap_in, discard)``:
    the function that puts the copy in place of ``dest`` by renames (``dest`` is never half-written; called after the
    model is stored, the model and its measurements are replaced a rename apart, not a copy apart), and the one that
    removes the copy instead."""
    import shutil

    import os

    from hybridperf.files import remove_dead_stages

    dest.parent.mkdir(parents=True, exist_ok=True)
    # named by this process: another calibration of the same device stages its own copy (until 2026-12-03 both used
    # `.new` and `.old`, and one removed the other's); those of killed processes are removed when the next swaps in
    new, old = (dest.with_name(f"{dest.name}.{kind}-{os.getpid()}") for kind in ("new", "old"))
    for stale in (new, old, dest.with_name(dest.name + ".new"), dest.with_name(dest.name + ".old")):
        shutil.rmtree(stale, ignore_errors=True)
    try:
        shutil.copytree(src, new)
    except BaseException:  # a disk that filled during the copy: no half copy left beside `dest`
        shutil.rmtree(new, ignore_errors=True)
        raise

    def swap_in() -> None:  # called under the lock of `dest` (run_measure)
        for kind in ("new", "old"):
            remove_dead_stages(dest.parent, f"{dest.name}.{kind}-")
        if dest.exists():
            dest.rename(old)
        new.rename(dest)
        shutil.rmtree(old, ignore_errors=True)

    return swap_in, lambda: shutil.rmtree(new, ignore_errors=True)
