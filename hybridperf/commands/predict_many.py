"""``hybridperf predict-many DIR|MODEL ... --device ID [--jobs N] [--batch N] [--shape NAME=DxD] [--precision P]
[--runtime R] [--roofline-only] [--backend local|ray] [-o FILE.jsonl]``.

Predicts every ``*.onnx``, ``*.tflite`` and ``*.pt2`` under each DIR (recursively, sorted by
path, leaving out hidden sub-folders and ``__pycache__`` / ``node_modules`` / ``site-packages``: stderr names those
that hold models, and one named as a DIR is searched; a DIR with none is refused) and each MODEL named (a shell
glob), each file once, on one device, with
``predict``'s options (each row's figures are ``hybridperf predict``'s for that model), in
parallel: a ``ProcessPoolExecutor`` of ``--jobs``
workers (default: every core this process may run on; more than that runs that many, and says so on stderr),
each importing TVM once when it starts and keeping one :class:`hybridperf.api.Session` for its models.
``--jobs 1`` runs in this process (through one session, whose caches serve every model). A worker that dies
(killed for memory) fails only the model it was predicting (its row says so, and a resumed run predicts it again).
A progress bar goes to stderr when stderr is a terminal.

``--backend ray`` spreads the models over a Ray cluster (``pip install 'hybridperf[ray]'``):
``--address`` names a running cluster (``auto``, ``ray://head:10001``), else a local Ray
instance with ``--jobs`` CPUs is started. Each worker is an actor that imports TVM once and
keeps one :class:`~hybridperf.api.Session` (caches) for all its models; model paths must be
readable by the workers (a shared file system). ``--output FILE.jsonl`` writes each row as it
arrives (any backend); run the same command again after an interruption and the models
already in the file (same device sheet, batch, shapes, precision, fusion, runtime, roofline-only, stored models and
hybridperf version, and the model file unchanged, however its path is spelled) are not predicted again.

``--format csv`` writes the rows as CSV on stdout (units in the column names, an unknown figure
as an empty cell). One row per model: latency, energy, peak memory, FLOPs, and a status: ``ok``,
``lower bound`` (some ops have no cost rule: the figures are lower bounds, the
ops are named) or the error message; the runtime and input shapes priced, and (``runtime_memory_note``) why the
peak is the TVM plan's where the runtime's is not modelled (a ``.tflite`` on onnxruntime). Warnings (a peak above the device's
memory, an unverified latency) go to stderr and into the rows.

Exit code: 0 when at least one model was predicted, even if others failed (a warning counts them)
(their error rows say why); 2 when every model failed (one cause: named), DIR holds no model file,
or an argument is bad (unknown device: before any work starts). With
``--fail-on-error`` (for CI) any failed model exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridperf.cli import ExitCode
from hybridperf.precision import OVERRIDES
from hybridperf.commands._common import (StoreOnce, add_format_argument, add_roofline_only_argument,
                                         add_runtime_argument, check_output_path)
from hybridperf.commands._sweep import WORKER_DIED, _init_worker, capped_jobs, died_row, predict_row
from hybridperf.errors import InputError

#: file suffixes predicted (lower case); other files are ignored (``check`` finds a directory's models by these)
MODEL_SUFFIXES = (".onnx", ".tflite")
#: what predict-many takes, from a directory too: ``predict``'s ``.pt2`` (torch.export; the torch extra) as well
#: (until 2026-12-04 a folder of .pt2 variants read "no .onnx files", a .pt2 named "not a model file")
SWEEP_SUFFIXES = (*MODEL_SUFFIXES, ".pt2")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="DIR|MODEL",
                   help="directories searched recursively for .onnx, .tflite and .pt2 files (not in hidden, "
                   "__pycache__, node_modules or site-packages sub-folders: name one to search it), and model files (a "
                   "shell glob works); a file named twice is predicted once")
    p.add_argument("--device", "-d", action="append", help="device id from `hybridperf devices` or a spec file (default "
                   "host: this machine, probed once and cached); one per run")
    p.add_argument("--jobs", "-j", type=int, default=None, action=StoreOnce,
                   help="worker processes (default: every usable core; at most that many, and one per model, except on "
                   "a Ray cluster; 1 = in this process)")
    p.add_argument("--batch", type=int, action=StoreOnce, help="bind a symbolic leading (batch) dimension of every input")
    p.add_argument("--shape", action="append", metavar="NAME=DxD..", help="bind the input NAME of every model to this "
                   "shape, e.g. --shape input=1x3x224x224 (repeatable; a model without that input fails, its row says why)")
    p.add_argument("--precision", choices=OVERRIDES, action=StoreOnce, help="run float32 ops at this precision")
    p.add_argument("--no-fuse", action="store_true", help="one kernel per op instead of TVM's FuseOps grouping")
    p.add_argument("--backend", choices=["local", "ray"], default="local", action=StoreOnce,
                   help="local process pool (default) or a Ray cluster (the optional ray extra)")
    p.add_argument("--address", action=StoreOnce, help="with --backend ray: a running cluster (auto, ray://HOST:10001); default: start a local one")
    p.add_argument("--output", "-o", type=Path, metavar="FILE.jsonl", action=StoreOnce,
                   help="append one JSON row per model as it finishes; rows already there are not redone (resume)")
    p.add_argument(
        "--fail-on-error",
        action="store_true",
        help="exit 2 when any model fails (default: exit 0 when at least one model was predicted, 2 when none was)",
    )
    add_format_argument(p, ("table", "json", "csv"))
    add_roofline_only_argument(p)
    add_runtime_argument(p)


#: folder names a directory search does not enter (a name starting with "." too: ``.venv``, ``.git``, ``.tox``):
#: environments and caches, whose packages ship model files of their own (the onnx package: ~300 test models). Until
#: 2026-12-05 ``predict-many .`` in a project predicted them all. A folder named on the command line is searched.
SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages"})


def skipped_folder(name: str) -> bool:
    """Whether a directory search leaves a sub-folder of this name out (:data:`SKIPPED_FOLDERS`, or hidden)."""
    return name.startswith(".") or name in SKIPPED_FOLDERS


@dataclass(frozen=True)
class ModelSearch:
    """What :func:`search_models` found.

    Attributes
    ----------
    files : tuple of Path
        The model files, in the order :func:`find_models` gives them.
    skipped : tuple of Path
        The hidden or environment folders (:func:`skipped_folder`) left out of a directory's search that hold a
        model file, each the outermost such folder, in the order met; a folder also named on the command line is
        not among them.
    """

    files: tuple[Path, ...]
    skipped: tuple[Path, ...]


def _walk(root: Path, suffixes: tuple[str, ...]) -> tuple[list[Path], list[Path]]:
    """The files of ``suffixes`` under the directory ``root`` (sorted by path) and the folders left out that hold
    one (:func:`skipped_folder`; ``root`` itself is searched whatever its name).

    As ``Path.rglob``: a link to a directory is not entered; a link that names no file (dangling, or looping) is
    kept, to fail as its model (until 2026-12-04 it was left out without a word, so ``check DIR`` passed a model it
    never priced); an unreadable folder is passed over.
    """
    import os

    files: list[Path] = []
    skipped: list[Path] = []
    for top, dirs, names in os.walk(root):
        here = Path(top)
        kept = []
        for name in sorted(dirs):
            sub = here / name
            if sub.is_symlink():  # not entered, nor a model (a link to a folder named x.onnx)
                continue
            if skipped_folder(name):
                if _holds_model(sub, suffixes):
                    skipped.append(sub)
            else:
                kept.append(name)
        dirs[:] = kept
        files += (f for f in (here / n for n in names if Path(n).suffix.lower() in suffixes)
                  if f.is_file() or f.is_symlink())  # not a pipe or socket of that name
    return sorted(files), sorted(skipped)


def _holds_model(folder: Path, suffixes: tuple[str, ...]) -> bool:
    """Whether any file under ``folder`` (every sub-folder, hidden ones too) has one of ``suffixes``."""
    import os

    return any(Path(n).suffix.lower() in suffixes for _, _, names in os.walk(folder) for n in names)


def search_models(*paths: str | Path, suffixes: tuple[str, ...] = MODEL_SUFFIXES,
                  each_dir: bool = False) -> ModelSearch:
    """The model files of ``paths``, in their order: a directory's files of ``suffixes`` (recursively, sorted
    by path), a file itself. A file reached twice (``a.onnx ./a.onnx``, or a file inside a directory also named) is
    kept once, under its first spelling. A directory's hidden and environment sub-folders (:func:`skipped_folder`:
    ``.venv``, ``.git``, ``node_modules``, ``site-packages``, ...) are not searched; those that hold a model file are
    :attr:`ModelSearch.skipped`, for the command to name. A directory named in ``paths`` is searched whatever its
    name. ``each_dir``: a directory named that holds no model file is refused, even when the others hold some (a
    mistyped folder of a sweep).

    Raises
    ------
    InputError
        A path that does not exist, a file of another suffix, or (``each_dir``) a directory without a model file.
    """
    from hybridperf.files import resolved

    found: dict[Path, Path] = {}
    skipped: list[Path] = []
    several = len(paths) > 1
    for path in paths:
        d = Path(path)
        if not d.exists():
            if any(ch in str(d) for ch in "*?["):  # a quoted glob reaches us as it was typed (until 2026-12-05 "check
                # the path" alone)
                raise InputError(f"not found: {d}; a pattern is expanded by the shell, not here: drop the quotes "
                                 "around it, or name the folder that holds the models")
            raise InputError(f"not found: {d}; check the path (a directory of models, or a model file)")
        if d.is_dir():
            files, left_out = _walk(d, suffixes)
            skipped += left_out
            if each_dir and not files and several:  # until 2026-12-04 skipped without a word
                raise InputError(f"no model file ({', '.join(suffixes)}) under {d}{skipped_hint(left_out)}; check the "
                                 "folder, or drop it")
        elif d.suffix.lower() in suffixes:
            files = [d]
        else:
            raise InputError(f"{d} is not a model file ({', '.join(suffixes)}) or a directory; drop it")
        for f in files:
            found.setdefault(resolved(f), f)
    named = {resolved(p) for p in paths}
    left = dict.fromkeys(s for s in skipped if resolved(s) not in named)  # `. .venv`: .venv was searched
    return ModelSearch(tuple(found.values()), tuple(left))


def find_models(*paths: str | Path, suffixes: tuple[str, ...] = MODEL_SUFFIXES,
                each_dir: bool = False) -> list[Path]:
    """:attr:`ModelSearch.files` of :func:`search_models` (hidden and environment sub-folders left out)."""
    return list(search_models(*paths, suffixes=suffixes, each_dir=each_dir).files)


def skipped_hint(skipped: tuple[Path, ...] | list[Path]) -> str:
    """The clause an error about a folder without models adds for its skipped folders ("" when none)."""
    if not skipped:
        return ""
    what = "hidden/environment folders that hold" if len(skipped) > 1 else "a hidden/environment folder that holds"
    return f" (not searched: {_names(skipped)}, {what} model files: name one to search it)"


def skipped_note(skipped: tuple[Path, ...] | list[Path]) -> str | None:
    """The note a command prints (after ``hybridperf: note: ``) for the folders :func:`search_models` left out that
    hold model files; None when there are none."""
    if not skipped:
        return None
    from hybridperf.units import plural

    return (f"skipped {plural(len(skipped), 'hidden/environment folder')} holding model files ({_names(skipped)}): "
            "name one to search it")


def _names(folders: tuple[Path, ...] | list[Path], most: int = 3) -> str:
    """The first ``most`` of ``folders``, one line each (a newline in a name as its escape), then ``...``."""
    from hybridperf.report.format import one_line

    shown = ", ".join(one_line(str(f)) for f in folders[:most])
    return shown + (", ..." if len(folders) > most else "")


#: ``--output`` suffixes of another format: the file holds JSON lines whatever its name
_NOT_JSONL = (".csv", ".tsv", ".json", ".xml", ".xlsx", ".parquet", ".yaml", ".yml")


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.report.many import to_csv, to_json, to_table
    from hybridperf.report.progress import ProgressBar

    if args.jobs is not None and args.jobs <= 0:
        raise InputError(f"--jobs must be a positive integer, got {args.jobs}")
    from hybridperf.commands._common import shapes_from_args

    shapes = shapes_from_args(args)  # checks --batch too
    if args.address and args.backend != "ray":  # until 2026-12-04 ignored: the sweep ran here, on this machine only
        raise InputError(f"--address {args.address} names a Ray cluster; add --backend ray (or drop --address to run "
                         "here)")
    if args.backend == "ray":  # before any work and before --output is created (until 2026-12-04 an empty file stayed)
        from hybridperf.commands.ray_backend import _import_ray

        _import_ray()
    # the same id given twice is one device, as predict's -d t4 -d t4 (until 2026-12-05 refused: "one device per run")
    devices = list(dict.fromkeys(args.device or ["host"]))
    if len(devices) > 1:
        raise InputError(f"predict-many prices one device per run (got {' '.join('-d ' + d for d in devices)}); run it "
                         "once per device: its rows carry the device id, so one --output file can hold them all")
    if args.output is not None:  # before any work: appended to (resume), so its folder must exist and it not be one
        # the hint of a directory names a .jsonl: until 2026-12-04 it was `DIR/out.json`, a name this command then
        # refused (`-o ''` read as `.` too)
        check_output_path(args.output, "--output", example="rows.jsonl")
        if args.output.exists() and not args.output.is_file():  # read back to resume: until 2026-12-03 /dev/full
            # (endless zeros) hung here
            raise InputError(f"--output {args.output} is not a regular file; it is read back to resume, so name a "
                             "file of its own, e.g. rows.jsonl")
        from hybridperf.frontends.common import MODEL_SUFFIXES as _MODEL_FILES

        if args.output.suffix.lower() in _MODEL_FILES:  # `-o models/*.onnx`: the glob's first model was taken for
            # the output, and (until 2026-12-04) refused as "not a file of predict-many rows", naming no cause
            raise InputError(f"--output {args.output} is a model file, not a file of rows; name the file to write, "
                             "e.g. rows.jsonl (a shell glob right after -o puts its first model there)")
        if args.output.suffix.lower() in _NOT_JSONL:
            kind, name = args.output.suffix.lstrip(".").upper(), args.output.with_suffix(".jsonl").name
            raise InputError(f"--output {args.output}: the file gets JSON lines (one row per model, appended, "
                             f"resumed), not {kind}; name it {name} (a table: --format csv or json on stdout)")
    search = search_models(*args.paths, suffixes=SWEEP_SUFFIXES, each_dir=True)  # a bad path fails before a host
    # probe
    models = list(search.files)
    if not models:  # so does an empty folder (until 2026-12-04 `-d host` probed the machine first, ~15 s)
        raise InputError(f"no .onnx files under {' '.join(map(str, args.paths))} (and no .tflite or .pt2 files)"
                         f"{skipped_hint(search.skipped)}; name model files, or a folder that holds them")
    from hybridperf.commands._common import device_spec_of

    spec = device_spec_of(devices[0])  # a bad device fails before any work
    spec_ref = spec.path or devices[0]
    from hybridperf.commands._common import runtime_from_args

    runtime = runtime_from_args(args, spec)  # a runtime of another device kind fails before any work
    note = skipped_note(search.skipped)  # after the arguments are checked: bad input gets its one line alone
    if note:  # until 2026-12-05 `predict-many .` predicted the onnx package's test models under .venv
        print(f"hybridperf: note: {note}", file=sys.stderr)
    call = {"batch": args.batch, "precision": args.precision, "fused": not args.no_fuse, "shapes": shapes,
            "roofline_only": args.roofline_only, "runtime": runtime}  # predict_row's keywords
    settings = {"device": spec.id, "batch": args.batch, "precision": args.precision, "fused": not args.no_fuse,
                "shapes": {k: list(v) for k, v in sorted(shapes.items())} or None, "roofline_only": args.roofline_only,
                "runtime": runtime, **resume_settings(spec)}
    defaults = {**SETTING_DEFAULTS, "runtime": runtime_from_args(argparse.Namespace(runtime="auto"), spec)}
    files = {str(m): model_file(m) for m in models} if args.output else {}  # before any work: what is predicted
    sink = RowFile(args.output, files, settings, defaults) if args.output else None  # opened before any work
    rows: dict[str, dict[str, Any]] = dict(sink.done) if sink is not None else {}
    todo = [m for m in models if str(m) not in rows]
    if len(todo) < len(models):  # resumed: until 2026-12-04 the rows taken from the file went without a word
        from hybridperf.units import plural

        print(f"hybridperf: note: reused {plural(len(models) - len(todo), 'row')} of {args.output} (resumed, not "
              f"predicted again); {len(todo)} to predict", file=sys.stderr)
    progress = ProgressBar(len(todo))
    try:
        for path, row in _results(args, todo, spec, spec_ref, call):
            rows[path] = row
            if sink is not None:
                sink.append(path, {**row, **settings, "model_file": files[path]})
            progress.step(Path(path).name[:40])
    finally:
        progress.close()
        if sink is not None:
            sink.close()
    ordered = [rows[str(m)] for m in models]
    # the run's --precision in every format (until 2026-12-04 in none: an int8 run read as an fp32 one)
    out = {"json": to_json, "csv": to_csv, "table": to_table}[args.format](ordered, spec.id, args.precision)
    sys.stdout.write(out + "\n")
    # a path with a newline keeps each stderr line one line (until 2026-12-04 it split the line in two)
    from hybridperf.report.format import one_line as shown

    for r in ordered:
        for w in r.get("warnings") or ():
            print(shown(f"hybridperf: warning: {r['model']}: {w}"), file=sys.stderr)
    failed = sum(1 for r in ordered if r["status"] == "error")
    if failed == len(ordered):
        errors = {r["error"] for r in ordered}
        if failed == 1:  # its error, not "fix or remove those files" (until 2026-12-04, also where --batch was at fault)
            print(shown(f"hybridperf: error: {ordered[0]['model']}: {errors.pop()}"), file=sys.stderr)
        elif len(errors) == 1:  # one cause (the device, --precision, --batch): say it, not "the files"
            # (until 2026-12-04 "fix or remove those files" where no file was at fault, e.g. fp32 on ethos-u55)
            print(shown(f"hybridperf: error: every model failed ({failed} of {failed}) with the same error: "
                        f"{errors.pop()}"), file=sys.stderr)
        elif len({_cause(e) for e in errors}) == 1 and _cause(ordered[0]["error"]).startswith("--"):
            # one flag at fault, its fix worded per model (`--shape names unknown input 'y'; the model's inputs are
            # x`): until 2026-12-05 "fix or remove those files", where no file was at fault
            first = ordered[0]
            rest = first["error"][len(_cause(first["error"])) + 2:]
            print(shown(f"hybridperf: error: every model failed ({failed} of {failed}) with the same error: "
                        f"{_cause(first['error'])}; {first['model']}: {rest}"), file=sys.stderr)
        else:
            print(f"hybridperf: error: every model failed ({failed} of {failed}; each row says why): fix or remove "
                  "those files", file=sys.stderr)
        return ExitCode.INPUT_ERROR
    if failed and args.fail_on_error:
        print(f"hybridperf: error: {failed} of {len(ordered)} models failed (--fail-on-error)", file=sys.stderr)
        return ExitCode.INPUT_ERROR
    if failed:  # exit 0 (the others were predicted), but not silently: the error rows may scroll past
        print(f"hybridperf: warning: {failed} of {len(ordered)} models failed (their rows say why; --fail-on-error "
              "makes that exit 2)", file=sys.stderr)
    return ExitCode.OK


def _cause(error: str) -> str:
    """An error row's cause: its message up to the fix (``"; "``), which may name the model's own inputs or shapes."""
    return error.partition("; ")[0]


def _results(args: argparse.Namespace, models: list[Path], spec: Any, spec_ref: str, call: dict[str, Any]):
    """``(path, row)`` for each model, in the order they finish, from the chosen backend."""
    if not models:
        return
    if args.backend == "ray":
        from hybridperf.commands.ray_backend import predict_rows

        workers = args.jobs
        if args.jobs is not None and not args.address:  # a local Ray instance: this machine's cores, as below (a
            # cluster's --jobs is its own)
            workers, note = capped_jobs(args.jobs, len(models))
            if note:
                print(f"hybridperf: note: {note}", file=sys.stderr)
        yield from predict_rows([str(m) for m in models], spec, call, address=args.address, workers=workers)
        return
    jobs, note = capped_jobs(args.jobs, len(models))
    if note:
        print(f"hybridperf: note: {note}", file=sys.stderr)
    if jobs == 1 and not note:  # capped to one (one usable core): still a worker, so that its death fails one model
        from hybridperf.api import Session

        session = Session(keep_analyses=0)
        for m in models:
            yield str(m), predict_row(str(m), spec_ref, **call, session=session)
        return
    yield from _pool_results([str(m) for m in models], spec_ref, call, jobs)


def _pool_results(models: list[str], spec_ref: str, call: dict[str, Any], jobs: int):
    """``(path, row)`` for each of ``models`` from a process pool of ``jobs`` workers, in the order they finish.

    At most ``jobs + 1`` models are in flight, so when a worker dies (the whole pool breaks) only those are suspects:
    each is predicted again alone in a fresh one-worker pool, and the one whose worker dies again gets an error row
    (:data:`WORKER_DIED`); the rest go on in a fresh pool. Until 2026-12-04 one model that killed its worker (out of
    memory) ended the whole sweep with exit 3 and no table.
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    # spawn: workers never inherit a half-initialised TVM (thread pools) from a parent that imported it
    ctx = multiprocessing.get_context("spawn")
    todo = models[::-1]
    while todo:
        suspects: list[str] = []
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker) as pool:
            running: dict[Any, str] = {}
            try:
                while todo or running:
                    while todo and len(running) <= jobs:
                        m = todo[-1]
                        # submit raises BrokenProcessPool once a worker has died: the model stays to do (until
                        # 2026-12-06 it was popped first and lost, and the table ended in an internal KeyError)
                        running[pool.submit(predict_row, m, spec_ref, **call)] = m
                        todo.pop()
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        row = fut.result()  # BrokenProcessPool: a worker died
                        yield running.pop(fut), row
            except BrokenProcessPool:
                suspects = [m for m in models if m in set(running.values())]
        for m in suspects:  # each alone: only the model that kills its worker again gets the error row
            with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init_worker) as alone:
                try:
                    row = alone.submit(predict_row, m, spec_ref, **call).result()
                except BrokenProcessPool:
                    row = died_row(m, call)
            yield m, row


#: what a resumed row must match besides the command's settings: hybridperf's version, the device sheet's bytes
#: (an edited sheet, a user sheet with a packaged sheet's id, ``host`` re-probed) and the stored models'
#: files (a calibration stored or replaced); each row also carries its model file's key (:func:`model_file`)
RESUME_KEYS = ("version", "device_sheet", "stored_models", "model_file")


def resume_settings(spec: Any) -> dict[str, Any]:
    """The settings of :data:`RESUME_KEYS` a row of this run carries (until 2026-12-03 a rerun took the rows of
    another sheet with the same id, an older calibration, or a model file since replaced, as done)."""
    import hashlib

    from hybridperf import __version__
    from hybridperf.residual.model import user_model_dir

    sheet = None
    if spec.path:
        try:
            sheet = hashlib.blake2b(Path(spec.path).read_bytes(), digest_size=16).hexdigest()
        except OSError:
            sheet = None
    stored = hashlib.blake2b(digest_size=16)
    dirs = [user_model_dir()]
    if spec.id == "host":
        from hybridperf.measure.host import host_model_dir

        dirs.append(host_model_dir())
    for d in dirs:  # every stored model (any device's: a new one may change which applies), by name, size and time
        try:
            found = sorted(p for p in d.rglob("*") if p.is_file())
        except OSError:
            found = []
        for f in found:
            try:
                st = f.stat()
            except OSError:
                continue
            stored.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\n".encode("utf-8", "replace"))
    return {"version": __version__, "device_sheet": sheet, "stored_models": stored.hexdigest()}


def model_file(path: Path) -> list | None:
    """A model file's key as a resumed row must match it (:func:`hybridperf.analysis.cache.file_key`, a list as
    JSON holds it): resolved path, size, time stamps, inode; None when unreadable (never matched). The path is as the
    row's JSON text holds it (an undecodable byte as its escape, :func:`hybridperf.json_text.escape_undecodable`), so
    the row read back is the file's (until 2026-12-05 the row of such a file was never resumed)."""
    from hybridperf.analysis.cache import file_key
    from hybridperf.json_text import escape_undecodable

    key = file_key(path)
    return None if key is None else [escape_undecodable(key[0]), *key[1:]]


#: settings that are also keys of a row on stdout (kept in a resumed row)
ROW_KEYS = ("runtime",)

#: settings a row written before 2026-12-04 does not carry, and the value it was made with (``runtime``: the device
#: kind's default, filled in per run); a row without one matches a run with that value
SETTING_DEFAULTS: dict[str, Any] = {"shapes": None, "roofline_only": False}


def load_done(path: Path, models: dict[str, list | None], settings: dict[str, Any],
              defaults: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Rows of ``models`` (path -> :func:`model_file` key) already in the JSONL file ``path`` with the same
    ``settings`` and model file key (resume).

    A torn last line (the run was killed while writing it) is ignored; its model is redone.
    """
    if not path.exists():
        return {}
    return _rows_in(path.read_bytes(), path, models, settings, defaults=defaults)


def _rows_in(data: bytes, path: Path, models: dict[str, list | None], settings: dict[str, Any],
             strict: bool = True, defaults: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """:func:`load_done` of the bytes ``data`` of ``path``; ``strict=False``: lines that are no rows are skipped
    rather than refused (the lines another run appended meanwhile)."""
    done: dict[str, dict[str, Any]] = {}
    wanted = models
    # a row is the model's however the path was spelled (until 2026-12-04 `predict-many /abs/dir` resumed nothing of
    # a `predict-many dir` run): its key's resolved path names the file
    by_file = {k[0]: m for m, k in models.items() if k}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # until 2026-12-03 this and a line such as `5` were exit 3 (internal error)
        text = None if strict else data.decode("utf-8", "replace")
    for line in (text or "").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(row, dict):
            if not strict:
                continue
            text = None
            break
        m = row.get("model")
        if (isinstance(m, str) and m not in wanted and isinstance(row.get("model_file"), list) and row["model_file"]
                and isinstance(row["model_file"][0], str)):
            m = by_file.get(row["model_file"][0], m)
            row = {**row, "model": m}
        if (isinstance(m, str) and m in wanted and _same_file(row.get("model_file"), wanted[m], m)
                and not _transient(row)
                and all(row.get(k, (defaults or {}).get(k)) == v for k, v in settings.items())):
            done[m] = {k: v for k, v in row.items() if (k not in settings or k in ROW_KEYS) and k != "model_file"}
    if text is None:
        raise InputError(f"--output {path} is not a file of predict-many rows (JSON objects, one a line); name a new "
                         "file, or the .jsonl an earlier run wrote")
    return done


def _same_file(recorded: Any, key: list | None, path: str) -> bool:
    """Whether a row's ``model_file`` key ``recorded`` is still the file ``path`` (now keyed ``key``).

    A key made while the file was racily new carries a CRC-32 of its bytes (:func:`hybridperf.analysis.cache.file_key`),
    one made later does not: then the time stamps must agree and the bytes still give that CRC. Until 2026-12-04 the
    keys were compared whole, so a sweep over variants written just before it (within 3 s) resumed nothing: every
    model was predicted again.
    """
    if key is None or not isinstance(recorded, list) or len(recorded) != len(key):
        return False
    if recorded == key:
        return True
    if recorded[:-1] != key[:-1] or recorded[-1] is None or key[-1] is not None:
        return False
    from hybridperf.analysis.cache import file_crc

    return file_crc(path) == recorded[-1]


def _transient(row: dict[str, Any]) -> bool:
    """Whether ``row`` is the error of a run rather than of its model (its worker died, an internal error): such a row
    is predicted again on resume (until 2026-12-04 a model whose worker was killed for memory stayed an error row in
    every rerun); an input error (a corrupt file, a shape the model cannot take) is kept, since its key is the file's."""
    err = row.get("error")
    return row.get("status") == "error" and isinstance(err, str) and (err == WORKER_DIED or
                                                                      err.startswith("internal error:"))


#: how long an append waits for another run's append to the same ``--output`` (each holds it for one line)
APPEND_LOCK_TIMEOUT_S = 60.0


class RowFile:
    """The ``--output`` file of a run: the rows already there (:attr:`done`, resume), and each new row appended whole,
    under the file's lock (:func:`hybridperf.files.file_lock`).

    Two runs may append to one file at once (CI jobs, one per device, or the same command twice): each append first
    reads what the other appended since, so a row of the same model and settings is not written twice, and a line
    torn by a killed run is closed before the next row. Until 2026-12-03 the same command run twice at once on one
    file wrote every model twice (4 lines for 2 models).
    """

    def __init__(self, path: Path, models: dict[str, list | None], settings: dict[str, Any],
                 defaults: dict[str, Any] | None = None) -> None:
        import os

        self.path, self.models, self.settings, self.defaults = path, models, settings, defaults
        self._offset = 0  # bytes of the file this run has read (or written)
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as exc:  # until 2026-12-04 exit 3, "internal error: PermissionError" (a read-only mount)
            raise InputError(f"--output {path}: cannot open it to append ({exc.strerror or exc}); choose another "
                             "path") from exc
        try:
            with self._lock():
                self.done: dict[str, dict[str, Any]] = _rows_in(self._new_bytes(), path, models, settings,
                                                                defaults=defaults)
        except BaseException:
            os.close(self._fd)
            raise

    def _lock(self):
        from hybridperf.files import file_lock

        return file_lock(self.path, timeout_s=APPEND_LOCK_TIMEOUT_S, note_holder=False, on_timeout=lambda exc: InputError(
            f"--output {self.path}: {exc}; wait for the other run, or name another file"))

    def _new_bytes(self) -> bytes:
        """The bytes appended since this run last read the file (all of it, the first time)."""
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        return data

    def append(self, model: str, record: dict[str, Any]) -> bool:
        """Append ``record`` (the row of ``model``) as one line; False when another run appended that model's row
        with the same settings since this one read the file (not written twice).

        Raises
        ------
        InputError
            Another process held the file's lock more than :data:`APPEND_LOCK_TIMEOUT_S`.
        """
        import os

        from hybridperf.json_text import dumps

        line = (dumps(record, indent=None) + "\n").encode("utf-8")  # unknown is null; a NaN raises
        with self._lock():
            new = self._new_bytes()
            if model in _rows_in(new, self.path, self.models, self.settings, strict=False, defaults=self.defaults):
                return False
            if self._offset and not self._ends_with_newline():
                line = b"\n" + line  # after a line torn by a killed run
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view):]
            self._offset += len(line)
        return True

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as f:
            f.seek(self._offset - 1)
            return f.read(1) == b"\n"

    def close(self) -> None:
        import os

        os.close(self._fd)
