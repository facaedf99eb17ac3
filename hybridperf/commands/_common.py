"""Arguments shared by the commands that take a model."""

from __future__ import annotations

import argparse

from hybridperf.errors import InputError
from hybridperf.precision import OVERRIDES


class StoreOnce(argparse.Action):
    """``store`` that refuses a flag given twice with different values (a budget set twice in one command line:
    until 2026-12-03 the last one won silently, so ``--max-latency 1ms --max-latency 100ms`` judged 100 ms). What
    was given is kept apart from the default, so a flag with a default is refused as well: until 2026-12-04
    ``predict -d t4 -d l4`` priced l4 alone, and ``--batch 1 --batch 2``, ``--precision fp16 --precision int8``,
    ``--runtime``, ``--format`` and the other single-valued flags of every command took the last value without a word
    (``calibrate --measure a.onnx --measure b.onnx`` measured b alone)."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = getattr(namespace, "_given_once", None)
        if given is None:
            given = {}
            setattr(namespace, "_given_once", given)
        if self.dest in given and given[self.dest] != values:
            parser.error(f"{option_string} given twice ({given[self.dest]} and {values}); give it once")
        given[self.dest] = values
        setattr(namespace, self.dest, values)


def given(args: argparse.Namespace, dest: str) -> bool:
    """Whether the flag of ``dest`` (a :class:`StoreOnce` one) was given on the command line, not left at its
    default."""
    return dest in getattr(args, "_given_once", {})


#: this machine, probed once and cached under the user data directory (:mod:`hybridperf.measure.host`)
DEFAULT_DEVICE = "host"


#: the model argument's help
MODEL_HELP = "model file (.onnx; .tflite; .pt2 from torch.export, with the torch extra)"


def add_model_arguments(p: argparse.ArgumentParser, device: bool = True, model_help: str = MODEL_HELP) -> None:
    p.add_argument("model", help=model_help)
    if device:
        p.add_argument("--device", "-d", default=DEFAULT_DEVICE, action=StoreOnce, help=f"device id from `hybridperf devices` or a spec file (default {DEFAULT_DEVICE}: this machine, "
                       "probed once (about 10 s) and cached, predicted by the cross-host CPU model (zero-shot, or with its training "
                       "host's offset on a training CPU) until `hybridperf calibrate --device host`)")
    p.add_argument("--shape", action="append", metavar="NAME=DxD..", help="bind an input shape, e.g. --shape input=1x3x224x224 (repeatable)")
    p.add_argument("--batch", type=int, action=StoreOnce, help="bind a symbolic leading (batch) dimension of every input")
    p.add_argument("--no-fuse", action="store_true", help="one kernel per op instead of TVM's FuseOps grouping")
    p.add_argument("--precision", choices=OVERRIDES, action=StoreOnce, help="run float32 ops at this precision and store float32 tensors in its size (fp16/bf16 2 B, fp8/int8 1 B; tf32 4 B): latency, traffic, energy and memory follow")


def resolve_device(device, warn_busy: bool = True):
    """``device`` as ``load_spec`` takes it: ``host`` becomes this machine's cached sheet, probed first
    (one line on stderr) when there is none or an older probe wrote it; anything else is returned unchanged.

    ``warn_busy``: one warning line on stderr whenever the sheet's probe was judged busy (another process competed for
    the CPU), naming the fix (:func:`warn_busy_sheet`); until 2026-12-04 only the command that probed said so, and
    every later prediction used the low figures without a word. ``devices show`` passes False (the sheet's notes say
    it). A first probe of ``host`` says so whatever ``warn_busy`` is.
    """
    from hybridperf.measure.host import (HOST_ID, CacheState, check_writable, device_ref, host_spec_path,
                                         host_spec_state)

    state = host_spec_state() if str(device) == HOST_ID else CacheState.CURRENT
    if state is not CacheState.CURRENT:
        import sys

        check_writable(host_spec_path().parent, "this machine's probed sheet")  # one error line, before "probing"
        why = ("probing this machine once (about 10 s; cached under the user data directory)"
               if state is CacheState.MISSING else
               f"the cached sheet {host_spec_path()} was written by an older probe; probing this machine again (about 10 s)")
        print(f"hybridperf: device host: {why}", file=sys.stderr)

        def waiting(pid: int | None) -> None:  # another command of this user data directory probes it now
            from hybridperf.files import holder_text

            print(f"hybridperf: device host: {holder_text(pid)} is probing this machine; waiting for its sheet (two probes at once "
                  "would each read a busy CPU)", file=sys.stderr, flush=True)

        ref = device_ref(device, on_wait=waiting)
        warn_busy_sheet(device, ref, just_probed=True)
        return ref
    ref = device_ref(device)
    if warn_busy:
        warn_busy_sheet(device, ref)
    return ref


def device_spec_of(device):
    """The sheet of ``device`` for a command: :func:`resolve_device` (``host`` probed first where it must be), parsed
    once; a sheet file's busy-probe warning (:func:`warn_busy_sheet`) reads that parsed sheet. Until 2026-12-04
    ``predict``, ``annotate``, ``report``, ``mig`` and ``predict-many`` parsed a ``-d my.yaml`` twice, once for the
    warning and once to price on."""
    from hybridperf.device.spec import load_spec, names_spec_file

    sheet = names_spec_file(device)  # the one kind of device whose warning reads the parsed sheet
    ref = resolve_device(device, warn_busy=not sheet)
    spec = load_spec(ref)
    if sheet:
        warn_busy_sheet(device, ref, spec=spec)
    return spec


def warn_busy_sheet(device, ref, just_probed: bool = False, spec=None) -> None:
    """One warning line on stderr where the sheet ``ref`` of ``device`` (as :func:`resolve_device` returns it) is from
    a probe judged busy (:func:`hybridperf.measure.host.probe_warning`: ``host``'s cached sheet, or a sheet ``probe
    --out`` wrote), naming the probe to rerun; ``just_probed``: this command's own first probe of ``host``. A
    packaged id is not read (no probe of this machine wrote it). Until 2026-12-04 a sheet of ``probe --out`` that the
    probe judged busy priced ``predict -d my.yaml`` (and report, annotate, predict-many) without a word."""
    import shlex
    import sys

    from hybridperf.device.spec import load_spec, names_spec_file
    from hybridperf.measure.host import HOST_ID, host_probe_warning, host_spec_path, probe_warning

    host = str(device) == HOST_ID
    if not (host or names_spec_file(device)):
        return
    if host:  # its cached probe's warning (probe_warning's rule for host): the sheet need not be parsed here too
        warning, sheet_id = host_probe_warning(), HOST_ID
    else:  # ``spec``: the sheet of ``ref`` where the caller has parsed it already
        spec = spec if spec is not None else load_spec(ref)
        warning, sheet_id = probe_warning(spec), spec.id
    if not warning:
        return
    if host:
        fix = "hybridperf probe --host"
        what = "" if just_probed else f"its cached sheet {host_spec_path()} is from a busy probe: "
    else:
        fix = f"hybridperf probe --out {shlex.quote(str(ref))}"
        what = f"its sheet {ref} is from a busy probe: "
    print(f"hybridperf: warning: device {sheet_id}: {what}{warning}; rerun `{fix}` when the machine is idle",
          file=sys.stderr)


def print_warnings(pred) -> None:
    """A prediction's warnings on stderr, one ``hybridperf: warning:`` line each: what predict, annotate, mig and report
    print after their output (each wrote this loop of its own until 2026-12-04)."""
    import sys

    for w in pred.warnings:
        print(f"hybridperf: warning: {w}", file=sys.stderr)


#: ``--runtime``: the runtime the model will run on (execution mode on a GPU; whose peak memory is the headline)
RUNTIME_CHOICES = ("auto", "torch", "torch-eager", "torch-cudagraph", "onnxruntime", "tvm", "tflm")


def add_runtime_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runtime", choices=RUNTIME_CHOICES, default="auto", action=StoreOnce,
                   help="the runtime the model runs on: on a GPU the execution mode priced (kernel granularity, "
                        "per-launch host floor, how host and GPU time compose); on every device whose peak memory is "
                        "the headline and what --max-memory, the capacity check and MIG judge (onnxruntime: CPU "
                        "session + memory pattern; torch: CUDA caching allocator; tvm: exact plan + kernel workspace; "
                        "tflm: TensorFlow Lite Micro's tensor arena on an NPU, weights in flash). "
                        "Default auto: the device kind's (CPU onnxruntime, GPU eager torch, NPU tflm)")


def runtime_from_args(args: argparse.Namespace, spec) -> str:
    """The ``--runtime`` value with ``auto`` resolved for ``spec``'s device kind."""
    from hybridperf.estimate.runtime_memory import resolve_runtime

    return resolve_runtime(getattr(args, "runtime", None), spec.kind, spec.id).value


def add_roofline_only_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--roofline-only", action="store_true", help="price by the roofline alone: no learned model (calibrated, or zero-shot from spec)")


def predict_from_args(args: argparse.Namespace, spec):
    """``args.model`` analysed (``--shape``, ``--batch``, ``--no-fuse``; TVM's native log silenced
    unless ``-v``) and priced on ``spec`` (``--precision``, ``--runtime``, ``--roofline-only``): the
    model-to-prediction step of predict, mig and report."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.api import predict_on

    shapes = shapes_from_args(args)
    runtime = runtime_from_args(args, spec)
    with native_stderr_silenced(not args.verbose):
        analyzed = analyze(args.model, shapes, args.batch, fused=not args.no_fuse, workspace=runtime == "tvm")
    return predict_on(analyzed, spec, args.precision, residual=None if args.roofline_only else "auto", runtime=runtime)


def add_format_argument(p: argparse.ArgumentParser, choices=("table", "json")) -> None:
    p.add_argument("--format", choices=choices, default=choices[0], action=StoreOnce, help="output format (default %(default)s)")


def shapes_from_args(args: argparse.Namespace):
    from hybridperf.units import parse_shape_flags

    check_batch(args.batch)
    return parse_shape_flags(args.shape)


def check_batch(batch: int | None) -> None:
    """Refuse a ``--batch`` below 1 (None: not given)."""
    if batch is not None and batch <= 0:
        raise InputError(f"--batch must be a positive integer, got {batch}")


def model_device_spec(args: argparse.Namespace):
    """The spec of ``args.device`` for a command on ``args.model``: a mistyped model path fails first (before a
    host probe), then a bad device (before the slow import). When ``host`` is still to be probed, an ONNX file is
    read first too, so a file that is not ONNX fails without the probe's seconds and its line on stderr.

    ``--shape`` and ``--batch`` (:func:`add_model_arguments`: every command that calls this has them) are checked
    first of all: until 2026-12-04 ``predict`` and ``report`` refused a bad or twice-given ``--shape`` only after the
    ~10 s probe of ``host`` (annotate checked them first the day before)."""
    from pathlib import Path

    from hybridperf.frontends.load import check_model_file, is_onnx_file
    from hybridperf.frontends.relax_module import is_relax_file
    from hybridperf.measure.host import HOST_ID, CacheState, host_spec_state

    shapes_from_args(args)  # pure parsing: the command parses them again where it uses them
    check_model_file(args.model)
    # a Relax module file (annotate's .py / .json) is not ONNX: until 2026-12-05 `annotate mod.py` on an unprobed
    # host read it as ONNX, "cannot read mod.py as ONNX (DecodeError)"
    if (str(args.device) == HOST_ID and isinstance(args.model, (str, Path)) and is_onnx_file(args.model)
            and not is_relax_file(args.model) and host_spec_state() is not CacheState.CURRENT):
        from hybridperf.frontends.onnx_import import load_onnx_proto

        load_onnx_proto(args.model)
    return device_spec_of(args.device)


def native_stderr_silenced(enabled: bool = True):
    """Keep what TVM's C++ logging writes to file descriptor 2 (warnings such as "Fast mode segfaults when there are
    out-of-bounds indices" from LegalizeOps) off the CLI's stderr, so that it carries only hybridperf's own one-line
    messages: :class:`hybridperf.ir.tvm_compat.native_log_captured`, the one home of the redirect (the lines go to the
    ``hybridperf.tvm`` logger, which ``-v`` prints). ``enabled=False`` (``-v``): nothing is captured here."""
    from contextlib import nullcontext

    from hybridperf.ir.tvm_compat import native_log_captured

    return native_log_captured() if enabled else nullcontext()


def check_path_lookup(path, flag: str):
    """``path`` as a ``Path``, refused (exit 2) when the file system cannot even look it up: a name longer than
    NAME_MAX makes ``Path.exists`` raise ENAMETOOLONG (until 2026-12-03 exit 3, "internal error: OSError: ... File
    name too long"), and a symbolic link whose links loop back names no file."""
    from pathlib import Path

    from hybridperf.files import is_link_loop

    p = Path(path)
    try:
        p.exists()
    except OSError as exc:
        raise InputError(f"{flag} {p} cannot be looked up ({exc.strerror}); choose a shorter path") from None
    if is_link_loop(p):  # until 2026-12-04 exit 3 ("RuntimeError: Symlink loop") for --junit-xml and --html
        raise InputError(f"{flag} {p} is a symbolic link whose links loop back to it; remove the link or name "
                         "another path")
    return p


def check_output_path(path, flag: str, directory: bool = False, example: str = "out.json"):
    """Fail now (exit 2) when ``path`` could not be written later, before any slow work.

    A file's folder must exist; a directory (``directory=True``) may be created,
    below the nearest existing folder. Either way that folder must be a
    directory the process can write in. Returns ``path`` as a ``Path``.
    ``example``: the file name the hint suggests when ``path`` is a directory (``DIR/out.json``).
    """
    if not str(path).strip():  # Path("") is ".": until 2026-12-03 `measure --out ''` wrote nothing and exited 0
        raise InputError(f"{flag} is empty; name the {'directory' if directory else 'file'} to write")
    p = check_path_lookup(path, flag)
    if directory:
        if p.exists() and not p.is_dir():
            raise InputError(f"{flag} {p} is a file; name a directory to store into")
        base = p
    else:
        if p.is_dir():
            raise InputError(f"{flag} {p} is a directory; name the file to write, e.g. {p / example}")
        base = p.parent
    check_folder_writable(p, base, flag, must_exist=not directory)
    return p


def check_folder_writable(p, base, flag: str, must_exist: bool = False) -> None:
    """Refuse (exit 2) output ``p`` whose folder ``base`` could not be created (its nearest existing ancestor is a
    file, or this process may not write in it) or, with ``must_exist``, does not exist."""
    import os

    from hybridperf.files import nearest_existing

    above = nearest_existing(base)
    if not above.is_dir():
        raise InputError(f"{flag} {p}: {above} is a file, not a directory; choose another path")
    if must_exist and above != base:
        raise InputError(f"{flag} {p}: directory {base} does not exist; create it first")
    if not os.access(above, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {p}: no permission to write in {above}; choose another path")
    why = cannot_create_in(above)
    if why:
        raise InputError(f"{flag} {p}: cannot write in {above} ({why}); choose another path")


def cannot_create_in(folder) -> str:
    """Why no file can be created in ``folder`` (the OS's words), or "" when one can: tried with an empty temporary
    file, since permission bits say nothing to root, nor of a read-only file system. Until 2026-12-04 root's
    ``predict-many -o /sys/x.jsonl`` was exit 3 ("internal error: PermissionError") and ``check --junit-xml
    /sys/x.xml`` analysed every model before it failed."""
    import os
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".hybridperf-", suffix=".probe")
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(probe)
    return ""


def check_rename_target(path, flag: str) -> None:
    """Refuse (exit 2), before any slow work, an output that :func:`hybridperf.files.write_atomic` will refuse after
    it (:func:`hybridperf.files.renamable`). Until 2026-12-03 ``measure --out /proc/x.json`` measured first and
    ``probe --out FIFO.yaml`` probed for 10 s."""
    from hybridperf.files import NOT_RENAMABLE, renamable

    if not renamable(path):
        raise InputError(f"{flag} {path} is {NOT_RENAMABLE}")


def scan_subnormals(model, shapes=None, batch: int | None = None, consequence: str = "",
                    unscanned: dict | None = None):
    """:func:`hybridperf.measure.subnormal.scan_inputs` of ``model`` for a command: a hazard is named on stderr with
    ``consequence``; a model the scan cannot run gets ``None`` (its timing, or its measurement's failure, stands on its
    own) and one warning, or, given ``unscanned``, no warning but ``unscanned[model]`` = why (``calibrate`` says it
    once measuring has run the model: one it cannot run is named there, as not measured)."""
    import sys

    from hybridperf.measure.subnormal import scan_inputs

    try:
        s = scan_inputs(model, shapes, batch)
    except Exception as exc:  # noqa: BLE001 - the scan is a check on a timing, never a reason to lose it
        why = f"{type(exc).__name__}: {exc}"
        if unscanned is not None:
            unscanned[model] = why
        else:
            print(f"hybridperf: warning: {model}: not scanned for subnormal activations ({why})", file=sys.stderr)
        return None
    if s.hazard:
        print(s.warning(str(model), consequence), file=sys.stderr)
    return s


#: what to do about an adaptation worse than zero-shot, on a CPU calibrated here
QUIET_ADVICE = ("or calibrate again when the machine is quiet (a busy machine times each model at a different "
                "speed)")


def warn_if_adaptation_worse(heldout_mape_pct, advice: str = QUIET_ADVICE, base: str = "the zero-shot model's") -> None:
    """A calibration whose adapted model predicts its held-out models worse than the base model did (``base``: the
    zero-shot model, or on a training CPU its host's offset) says so on stderr, with ``advice`` after "measure more
    models," (the model is stored all the same: the user asked for it, and a rerun replaces it)."""
    import sys

    adapted, zero = heldout_mape_pct["adapted"], heldout_mape_pct["zero_shot"]
    if adapted > zero:
        print(f"hybridperf: warning: the adapted model's held-out error ({adapted:.1f} %) is above {base} "
              f"({zero:.1f} %) on these models: measure more models, {advice}", file=sys.stderr)
