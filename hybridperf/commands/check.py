"""``hybridperf check [MODEL ...] --device ID --max-latency 20ms --max-memory 512MiB --max-energy 50mJ``.

Exit 0 when every model is within budget on every device, 1 when any limit is
exceeded (memory is also checked against the device's capacity, with or
without ``--max-memory``), 2 on bad input (model, device, limit syntax, config
file) and when a limit cannot be judged: a figure that is unknown (no memory
plan) or only a lower bound (ops without a cost rule, named on stderr). A lower
bound above its limit still fails with 1; so does a peak with no memory plan whose
known floor (the inputs alone) is over ``--max-memory`` or the device's memory
(until 2026-12-04 exit 2, "cannot judge"); under every limit it stays exit 2.
``--allow-unsupported`` judges lower bounds as they are and marks them
``(lower bound)``. Exit 2 wins over 1: a limit exceeded
beside one that cannot be judged exits 2, both reported. Limits
also come from ``[tool.hybridperf]`` in ``pyproject.toml`` (schema and
precedence: :mod:`hybridperf.estimate.budget`); a flag that replaces a different value of
the file says so on stderr (``hybridperf: note: --max-latency 1.000 s replaces max-latency
50.000 ms of pyproject.toml (m.onnx on t4): the command line wins``). Each model file is
analysed once (``m.onnx`` and ``./m.onnx`` are one model) and priced on each device; a
model that cannot be analysed is named in the error. A directory stands for every model
file under it, as ``predict-many`` finds them (``*.onnx``, ``*.tflite`` and ``*.pt2``, recursively,
sorted by path, hidden and environment folders left out): each is checked as if named, one result per model.

Output formats: ``table`` (one row per model x device x metric), ``json``,
``github`` (a ``::error`` workflow command per exceeded limit, shown as an
annotation on the model file). An energy capped at the device's max power carries
``predict``'s note in each (a ``note:`` line, JSON ``note``, a JUnit property, a ``::notice``
or the ``::error`` message). ``--junit-xml FILE`` also writes a JUnit report,
one testcase per model x device x metric (unbudgeted metrics are skipped
testcases). The file is written atomically (temporary file + rename) and only
after every model was checked, so bad input never leaves a partial file; a
symbolic link is written through, a device or pipe (``/dev/stdout``) refused.

Pre-commit: the repository's ``.pre-commit-hooks.yaml`` defines the hook
``hybridperf-check`` (``entry: hybridperf check``, ``files: \\.onnx$``); the
staged models are passed as MODEL arguments and the limits come from
``pyproject.toml``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from hybridperf.cli import ExitCode
from hybridperf.precision import OVERRIDES
from hybridperf.files import write_atomic
from hybridperf.errors import InputError

#: ``check --help``'s epilog: budgets in pyproject.toml (every key; the full schema: :mod:`hybridperf.estimate.budget`)
CONFIG_EXAMPLE = """\
budgets in pyproject.toml (paths relative to it; a flag on the command line wins):

  [tool.hybridperf]
  devices = ["host-epyc-1c"]        # default devices (else host, this machine)
  batch = 1                         # binds a symbolic batch dim (fixed shapes stay)
  max-latency = "50ms"              # default limits of every model
  max-memory = "2GiB"
  max-energy = "1J"

  [tool.hybridperf.budgets."models/resnet.onnx"]
  max-latency = "20ms"              # also batch, shapes = {x = "8x3x224x224"},
  devices = ["a100-sxm-80gb", "t4"] # precision, max-memory, max-energy

  # or limits per device (the tables name the model's devices, as the list does):
  # [tool.hybridperf.budgets."models/resnet.onnx".devices."t4"]
  # max-latency = "5ms"

exit codes: 0 within budget; 1 over budget, or over the device's memory; 2 bad input,
or a limit that cannot be judged (unknown figure, lower bound without --allow-unsupported).
2 wins over 1: a check with a limit exceeded and another not judged exits 2 (both are
reported); a model that cannot be read stops the whole check (exit 2, one line naming it;
no report, and --junit-xml writes nothing: a file of an earlier run stays as it was)"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from hybridperf.commands._common import StoreOnce, add_roofline_only_argument, add_runtime_argument
    from hybridperf.units import units_of  # the units parse_limit accepts, so that the help lists no fewer (until
    # 2026-12-04 --max-energy's read "kJ, J, mJ, uJ, Wh, mWh" and left out nJ, pJ, fJ and kWh, which it takes)

    p.add_argument("models", nargs="*", metavar="MODEL|DIR", help="model files, and directories searched recursively "
                   "for .onnx, .tflite and .pt2 files as predict-many does, hidden and environment folders (.venv, "
                   "site-packages, ...) left out (default: every model in [tool.hybridperf.budgets])")
    p.add_argument("--device", "-d", action="append", default=[], metavar="ID", help="device id or spec file (repeatable; "
                   "default: the devices of the model's [tool.hybridperf.budgets] entry, else of [tool.hybridperf], "
                   "else host, this machine)")
    p.add_argument("--max-latency", action=StoreOnce, metavar="T", help=f"latency limit: {', '.join(units_of('time'))} (e.g. 20ms)")
    p.add_argument("--max-memory", action=StoreOnce, metavar="M",
                   help=f"peak memory limit: {', '.join(units_of('capacity'))} (e.g. 512MiB)")
    p.add_argument("--max-energy", action=StoreOnce, metavar="E",
                   help=f"energy limit per inference: {', '.join(units_of('energy'))} (e.g. 50mJ)")
    p.add_argument("--shape", action="append", metavar="NAME=DxD..", help="bind an input shape (repeatable)")
    p.add_argument("--batch", type=int, action=StoreOnce, help="bind a symbolic leading (batch) dimension of every input")
    p.add_argument("--precision", choices=OVERRIDES, action=StoreOnce, help="run float32 ops at this precision")
    p.add_argument("--no-fuse", action="store_true", help="one kernel per op instead of TVM's FuseOps grouping")
    add_roofline_only_argument(p)
    add_runtime_argument(p)
    p.add_argument(
        "--allow-unsupported",
        action="store_true",
        help="judge a model with uncosted ops by its lower-bound figures (default: exit 2 naming the ops)",
    )
    p.add_argument("--format", choices=("table", "json", "github"), default="table", action=StoreOnce, help="output format (default %(default)s)")
    p.add_argument("--junit-xml", metavar="FILE", action=StoreOnce,  # a str: Path("") would be ".", a directory
                   help="also write a JUnit XML report to FILE (missing folders are created)")
    p.add_argument("--config", metavar="FILE", type=Path, action=StoreOnce, help="TOML file with [tool.hybridperf] (default ./pyproject.toml)")
    # the schema (hybridperf.estimate.budget) in the help: an installed package has no README beside it
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = CONFIG_EXAMPLE
    # argparse takes "-5ms" (space-separated) for an option and stops with "expected one argument"; a
    # leading minus and a digit is a (negative) limit here, so the limit parser can say "must be positive"
    p._negative_number_matcher = re.compile(r"^-\.?\d")  # noqa: SLF001 - this parser's own setting


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.api import run_check
    from hybridperf.commands._common import shapes_from_args
    from hybridperf.estimate.budget import Budget, load_config, overridden, resolve_targets, unchecked_defaults
    from hybridperf.report.check import override_line

    # Validate everything cheap before the slow analysis: limits, config, devices, output path.
    cli_budget = Budget.parse(args.max_latency, args.max_memory, args.max_energy, allow_number=False)
    shapes = shapes_from_args(args)
    args.models, skipped = _models_of(args.models)
    config = load_config(args.config, required=args.config is not None)
    devices = list(args.device)
    if not devices and not (config and (config.devices or any(m.devices for m in config.models))):
        devices = ["host"]  # no device anywhere: this machine (hybridperf.measure.host)
    targets = resolve_targets(args.models, config, cli_budget, devices, args.batch, shapes, args.precision)
    notes = [override_line(o) for o in overridden(args.models, config, cli_budget, args.device, args.batch,
                                                   args.precision, shapes)]
    notes += unchecked_defaults(args.models, config, args.device)  # a per-device table names the model's devices
    from hybridperf.commands.predict_many import skipped_note

    notes += [n for n in [skipped_note(skipped)] if n]  # .venv, .git, ... (until 2026-12-05 searched)
    from hybridperf.device.spec import names_spec_file

    specs_read = [d for t in targets for d in t.devices if names_spec_file(d)]
    inputs = [t.model for t in targets] + specs_read
    junit = None if args.junit_xml is None else _junit_target(args.junit_xml, inputs, config.path)
    from hybridperf.frontends.load import check_model_file

    for t in targets:
        try:
            check_model_file(t.model)  # a mistyped path fails before a host probe
        except InputError as exc:
            raise InputError(f"{exc}{_listed_in(t.model, args.models, config)}") from exc
    specs = None
    if any("host" in t.devices for t in targets):
        from hybridperf.commands._common import device_spec_of

        specs = {"host": device_spec_of("host")}
    # [tool.hybridperf]'s batch is the default binding of a *symbolic* batch dim: a model with fixed shapes keeps them
    defaulted = set()
    if args.batch is None and config.batch is not None:
        defaulted = {t.model for t in targets if not ((e := config.entry_for(t.model)) and (e.batch or e.shapes))}
    origins = {t.model: _config_origins(t, config, shapes, args.batch) for t in targets}
    result = _check_each(targets, run_check, specs, defaulted, fused=not args.no_fuse,
                         residual=None if args.roofline_only else "auto", allow_unsupported=args.allow_unsupported,
                         runtime=args.runtime, origins=origins, cli_devices=args.device, config=config)
    from hybridperf.report.check import to_github, to_json, to_junit_xml, to_table, undecided_line

    # annotations name each model's file from the repository root, which the runner exports (the step's
    # working-directory may be a folder below it)
    workspace = os.environ.get("GITHUB_WORKSPACE") or None
    render = {"table": to_table, "json": to_json, "github": lambda r: to_github(r, workspace)}[args.format]
    if junit is not None:
        try:
            junit.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(junit, to_junit_xml(result))
        except OSError as exc:
            raise InputError(f"cannot write --junit-xml {args.junit_xml}: {exc.strerror or exc}") from exc
    sys.stdout.write(render(result) + "\n")
    for line in notes:  # after the work, so that bad input still gets one line on stderr
        print(f"hybridperf: note: {line}", file=sys.stderr)
    # one line per model and warning, naming every device it holds on (until 2026-12-05 a model's load note, e.g. a
    # TFLite dynamic batch priced at its stored size, was printed once per device)
    devices_of: dict[tuple[str, str], list[str]] = {}
    for pred in result.predictions.values():
        for w in pred.warnings:
            ids = devices_of.setdefault((str(pred.analyzed.source), w), [])
            if pred.spec.id not in ids:
                ids.append(pred.spec.id)
    for (source, w), ids in devices_of.items():
        print(f"hybridperf: warning: {source} on {', '.join(ids)}: {w}", file=sys.stderr)
    if result.undecided:
        print(f"hybridperf: error: {undecided_line(result.undecided)}", file=sys.stderr)
        return ExitCode.INPUT_ERROR
    return ExitCode.OK if result.passed else ExitCode.BUDGET_EXCEEDED


def _models_of(paths: list[str]) -> tuple[list[str], list[Path]]:
    """The MODEL arguments with each directory replaced by its model files, as ``predict-many`` finds them
    (:func:`hybridperf.commands.predict_many.search_models`: recursively, sorted by path, hidden and environment
    sub-folders left out), and those left-out folders that hold a model file; a file stays as it was given (a
    ``.pt2`` too). Until 2026-12-03 a directory was refused ("is a directory; pass a model file").

    Raises
    ------
    InputError
        A directory that holds no model file.
    """
    out: list[str] = []
    skipped: list[Path] = []
    for p in paths:
        try:
            folder = bool(str(p).strip()) and Path(p).is_dir()
        except OSError:  # a name too long: check_model_file says so, naming it
            folder = False
        if not folder:
            out.append(p)
            continue
        from hybridperf.commands.predict_many import SWEEP_SUFFIXES, search_models, skipped_hint

        # with predict-many's suffixes: until 2026-12-04 a folder's .pt2 files were left out of check (not of
        # predict-many)
        search = search_models(p, suffixes=SWEEP_SUFFIXES)
        if not search.files:
            raise InputError(f"no model file ({', '.join(SWEEP_SUFFIXES)}) under {p}{skipped_hint(search.skipped)}; "
                             "pass a directory of models or model files")
        out += [str(f) for f in search.files]
        skipped += search.skipped
    from hybridperf.files import resolved

    named = {resolved(p) for p in paths}  # `check . .venv`: .venv was searched
    return out, [s for s in dict.fromkeys(skipped) if resolved(s) not in named]


#: file suffixes ``--junit-xml`` refuses besides the models': a device sheet's and a config file's
_NOT_A_REPORT = {".yaml": "device sheet (YAML)", ".yml": "device sheet (YAML)", ".toml": "TOML config"}


def _junit_target(path: str, inputs=(), config: Path | None = None) -> Path:
    """The file ``--junit-xml`` writes, checked before any work: its folder exists and is writable, and it is a
    regular file or absent. A symbolic link is written through to its target (the rename of the atomic write
    would replace the link itself); a path under /dev or /proc, or a device, pipe or socket, is refused: until
    2026-12-03 the rename replaced ``/dev/full`` with a regular file, and ``/dev/stdout`` redirected to a log
    file replaced that log)."""
    from hybridperf.commands._common import check_folder_writable, check_output_path, check_path_lookup
    from hybridperf.files import resolved, under_dev_or_proc
    from hybridperf.frontends.common import MODEL_SUFFIXES

    if not str(path).strip():  # Path("") is ".": it was refused as ". is a directory"
        raise InputError("--junit-xml is empty; name the file to write, e.g. hybridperf.xml")
    path = check_path_lookup(path, "--junit-xml")
    target = resolved(path)
    # `check --junit-xml models/*.onnx`: the shell put the first model after the flag, and until 2026-12-03 the report
    # was written over that model (the file was lost); a model file is never a report, nor is a file this check reads
    if path.suffix.lower() in MODEL_SUFFIXES:  # a model file is never a report
        raise InputError(f"--junit-xml {path} is a model file, not a report; name the file to write, e.g. "
                         "hybridperf.xml (a shell glob right after --junit-xml puts its first model there)")
    if target in {resolved(m) for m in inputs} or (config is not None and target == resolved(config)):
        raise InputError(f"--junit-xml {path} is a file this check reads (a model, spec or config file), not a "
                         "report; name the file to write, e.g. hybridperf.xml")
    # nor is a spec sheet or a TOML config, read by this check or not: until 2026-12-04 `--junit-xml sub/pyproject.toml`
    # and `--junit-xml specs/my-gpu.yaml` (neither read by that run) were replaced by the report
    if path.suffix.lower() in _NOT_A_REPORT:
        raise InputError(f"--junit-xml {path} is a {_NOT_A_REPORT[path.suffix.lower()]} file name, not a report's; "
                         "name the file to write, e.g. hybridperf.xml")
    # /dev/stdout resolves to the stream's file (a CI log), which a rename would replace, losing what it held
    if under_dev_or_proc(path) or under_dev_or_proc(target):
        raise InputError(f"--junit-xml {path}: the report is written whole, by a rename, so it needs a file of its "
                         "own; name one, e.g. hybridperf.xml (then cat it)")
    if path.is_dir():
        raise InputError(f"--junit-xml {path} is a directory; name the file to write, e.g. {path / 'hybridperf.xml'}")
    if target.exists() and not target.is_file():
        raise InputError(f"--junit-xml {path} is not a regular file (a device, pipe or socket); name a file to "
                         "write, e.g. hybridperf.xml")
    # missing folders are created when the report is written (as report --html does: a CI job's `reports/` folder
    # seldom exists on a fresh checkout; refused until 2026-12-03); what exists above must be a writable folder
    out = target if path.is_symlink() else path
    if out.parent.exists():
        check_output_path(out, "--junit-xml")
    else:
        check_folder_writable(out, out.parent, "--junit-xml")
    if target.exists() and not os.access(target, os.W_OK):
        raise InputError(f"--junit-xml {path}: no permission to write it")
    return target


def _listed_in(model: str, cli_models, config) -> str:
    """`` (listed in [tool.hybridperf.budgets."KEY"] of FILE)`` for a model that the config file names and the
    command line does not, else "": until 2026-12-04 a stale key read "model file not found: sub/old.onnx; check the
    path", of a path the user never typed."""
    entry = config.entry_for(model) if config is not None else None
    if cli_models or entry is None:
        return ""
    return f' (listed in [tool.hybridperf.budgets."{entry.key}"] of {config.path}: fix the key there)'


def _device_listed_in(cli_devices, config) -> str:
    """`` (in devices of FILE)`` for a device that the config file gives and the command line does not, else ""."""
    if cli_devices or config is None or config.path is None:
        return ""
    return f" (a device of {config.path}: fix it there)"


def _config_origins(t, config, cli_shapes, cli_batch) -> dict[str, str]:
    """Where ``t``'s shapes and batch come from when the config file gave them (``{"--shape": "...", "--batch":
    "..."}``; a value of a flag is not named), for an error that names the flag: the frontends' messages say
    ``--shape x=1x3 has rank 2 ...`` of a shape wherever it was written."""
    entry = config.entry_for(t.model)
    where = f'[tool.hybridperf.budgets."{entry.key}"]' if entry else ""
    out = {}
    if not cli_shapes and entry and entry.shapes:
        out["--shape"] = f"shapes of {where}"
    if cli_batch is None and t.batch is not None:
        out["--batch"] = f"batch of {where}" if entry and entry.batch else "batch of [tool.hybridperf]"
    return {flag: f"{text} in {config.path}" for flag, text in out.items()}


def _check_each(targets, run_check, specs, defaulted=frozenset(), origins=None, cli_devices=(), config=None, **kw):
    """``run_check`` over ``targets``, one model at a time, so that a model that cannot be analysed is named in
    the one-line error (``input 'x' dim 0 ('N') is symbolic`` alone does not say which of several models). Every
    device is resolved first, so a mistyped id still fails before any analysis.

    A model in ``defaulted`` has the batch of ``[tool.hybridperf]`` (no ``--batch``, nothing of its own): where
    that batch cannot be applied, the model's shapes are fixed and it is checked as it is (until 2026-12-03 a
    repository-wide ``batch = 1`` refused every model whose fixed batch was another).
    """
    from hybridperf.commands._common import device_spec_of
    from hybridperf.estimate.budget import CheckResult

    specs = dict(specs or {})
    for t in targets:
        for d in t.devices:
            if d not in specs:
                try:
                    specs[d] = device_spec_of(d)  # a sheet of a busy probe warns (until 2026-12-04 priced without
                    # a word)
                except InputError as exc:  # a device of the config file is named with the file (until 2026-12-04
                    # "unknown device 'nosuch'" named no file, of an id the command line never had)
                    raise InputError(f"{exc}{_device_listed_in(cli_devices, config)}") from exc
    checks, preds = [], {}
    for t in targets:
        try:
            r = _check_one(t, run_check, specs, t.model in defaulted, kw)
        except InputError as exc:
            # a flag the command line did not have is named with where the value came from: until 2026-12-04
            # `shapes = {y = "1x3"}` of pyproject.toml read "--shape names unknown input 'y'", naming no file
            notes = [f"{flag} here is the {text}, not a flag: fix it there"
                     for flag, text in (origins or {}).get(t.model, {}).items() if flag in str(exc)]
            if notes or (len(targets) > 1 and t.model not in str(exc)):
                text = str(exc) if t.model in str(exc) else f"{t.model}: {exc}"
                raise InputError(text + "".join(f" ({n})" for n in notes)) from exc
            raise
        checks.extend(r.checks)
        preds.update(r.predictions)
    return CheckResult(tuple(checks), preds)


def _check_one(t, run_check, specs, defaulted: bool, kw):
    """``run_check`` of one target; a ``defaulted`` batch that the model cannot take (fixed shapes) is dropped, and
    any other failure is the first attempt's to report."""
    from dataclasses import replace

    try:
        return run_check([t], specs=specs, **kw)
    except InputError as exc:
        if not defaulted or t.batch is None:
            raise
        first = exc
    try:
        return run_check([replace(t, batch=None)], specs=specs, **kw)
    except InputError:
        raise first from None
