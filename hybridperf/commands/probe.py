"""``hybridperf probe``: measure this machine and write its spec file.

::

    hybridperf probe --out my-box.yaml [--id my-box] [--name TEXT] [--quick] [--cpu-only]
                     [--format table|json]
    hybridperf probe --host [--quick] [--format table|json]

CPU: numpy GEMM (fp32, fp64), onnxruntime MatMulInteger (int8), STREAM-like
copy / triad, cache sizes from sysfs, onnxruntime dispatch overhead. Where
``torch.cuda.is_available()`` the GPU is probed instead (GEMM per precision,
device-to-device copy, launch overhead, NVML power) unless ``--cpu-only``.
Progress goes to stderr, the summary to stdout. Use the written sheet by path
(``hybridperf predict MODEL --device my-box.yaml``); ``--out`` has no default, so
nothing is written inside the installed package.

``--host`` probes this machine's CPU again and replaces the cached sheet that ``--device host`` uses (first
written by the full probe on first use; see :mod:`hybridperf.measure.host`), e.g. when that first probe ran while
the machine was busy. A model stored by ``hybridperf calibrate --device host`` is kept; it was adapted with the
previous sheet, which this command says.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from hybridperf.cli import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hybridperf.commands._common import StoreOnce

    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", action=StoreOnce, help="spec file to write (ID.yaml), or a directory to write ID.yaml into")
    where.add_argument("--host", action="store_true",
                       help="probe this machine's CPU again and replace the cached sheet of `--device host` (under the "
                            "user data directory)")
    parser.add_argument("--id", default=None, action=StoreOnce, help="with --out: device id (default: the --out file name)")
    parser.add_argument("--name", default=None, action=StoreOnce, help="with --out: human-readable device name (default: the CPU / GPU model)")
    parser.add_argument("--quick", action="store_true", help="about 4 s instead of about 8 s (CPU): noisier figures")
    parser.add_argument("--cpu-only", action="store_true", help="probe the CPU even where a CUDA GPU is available")
    parser.add_argument("--format", choices=("table", "json"), default="table", action=StoreOnce,
                        help="summary format (default: table)")


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.measure import probe

    if args.host:
        return _run_host(args)
    out, device_id = probe.check_out(args.out, args.id)  # fail before a minute of benchmarks
    _check_own_id(device_id)
    _check_not_packaged(out)
    _check_name(args.name)
    _check_writable(out)
    replaced = _replaced_sheet(out)
    with _one_probe_at_a_time():
        result = _with_progress(lambda bar: probe.probe(quick=args.quick, progress=bar,
                                                        use_gpu=False if args.cpu_only else None))
    spec = probe.write_spec(result, out, device_id=device_id, name=args.name)
    _note_stored_model(device_id, out)
    return _summary(args, result, spec, out, replaced)


def _run_host(args: argparse.Namespace) -> ExitCode:
    """``--host``: re-probe this machine's cached ``host`` sheet (the CPU; ``--cpu-only`` is implied)."""
    from hybridperf.device.spec import load_spec
    from hybridperf.errors import InputError
    from hybridperf.measure.host import host_model_dir, probe_host_spec

    if args.id is not None or args.name is not None:
        raise InputError("--id / --name go with --out; the sheet --host writes is always the device `host`: drop "
                         "--id / --name, or probe into a sheet of its own with --out ID.yaml")
    out, result = _with_progress(lambda bar: probe_host_spec(quick=args.quick, progress=bar,
                                                             on_wait=lambda pid: _waiting(pid, "device host: ")))
    model = host_model_dir()
    if model.exists():
        print(f"hybridperf: note: the model calibrated for host ({model}) was adapted with the previous sheet; "
              "rerun `hybridperf calibrate --device host --measure ...` to adapt it to this one", file=sys.stderr)
    return _summary(args, result, load_spec(out), out)


def _waiting(pid: int | None, who: str = "") -> None:
    """Say once on stderr that another command of this user data directory probes this machine now, and that this
    one waits for it (two probes at once would each time the other)."""
    from hybridperf.files import holder_text

    print(f"hybridperf: {who}{holder_text(pid)} is probing this machine; waiting for it to finish before probing "
          "again", file=sys.stderr, flush=True)


def _one_probe_at_a_time():
    """The probe lock of the user data directory (:func:`hybridperf.measure.host.probe_lock`, which ``--host`` and a
    first ``--device host`` take) for a ``--out`` probe; no lock where that directory cannot hold one (``--out``
    does not need it: the probe then runs, unguarded, rather than being refused). Until 2026-12-04 ``probe --out``
    took no lock: beside a ``probe --host`` both ran at once, each reading 13-15 % of the CPU time of 2 threads (BUSY),
    and a first ``predict -d host`` during it cached a sheet of a busy machine."""
    from contextlib import nullcontext

    from hybridperf.errors import InputError
    from hybridperf.measure.host import check_writable, host_dir, probe_lock

    try:
        hosts = host_dir().parent
        check_writable(hosts, "the probe lock")
    except (InputError, OSError):
        return nullcontext()
    return probe_lock(on_wait=_waiting)


def _check_name(name: str | None) -> None:
    """Refuse a ``--name`` that is empty or holds control characters (until 2026-12-04 ``--name ''`` was taken for
    no ``--name`` and a name with a line break split the summary's head line)."""
    from hybridperf.errors import InputError

    if name is None:
        return
    if not name.strip():
        raise InputError("--name is empty; give the device a name, or drop --name for the CPU / GPU model")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InputError(f"--name {name!r} holds control characters (a line break, a tab); give it on one line")


def _replaced_sheet(out) -> str | None:
    """What ``--out`` will replace: None where nothing is there, else ``probed DATE by hybridperf VERSION`` of the sheet
    a probe wrote there before. A file a probe did not write (a hand-written sheet, a config) is refused: until
    2026-12-04 it was replaced without a word after the probe's seconds."""
    from hybridperf.errors import InputError
    from hybridperf.measure.probe import PROBED_HEADER, header_version_date

    if not out.is_file():
        return None
    try:
        with open(out, encoding="utf-8", errors="replace") as fh:
            head = fh.readline().strip()
    except OSError as exc:
        raise InputError(f"--out {out} exists and cannot be read ({exc.strerror or exc}); "
                         "choose another path") from None
    if not head.startswith(PROBED_HEADER):
        raise InputError(f"--out {out} exists and was not written by `hybridperf probe`; choose another name, or "
                         "remove it first")
    written = header_version_date(head)
    return "probed before" if written is None else f"probed {written[1]} by hybridperf {written[0]}"


def _note_stored_model(device_id: str, out) -> None:
    """Say on stderr that a model ``hybridperf calibrate`` stored for ``device_id`` was adapted with the sheet of that
    id before this probe's (as ``--host`` says of ``host``'s)."""
    from hybridperf.residual.model import user_model_dir

    model = user_model_dir() / device_id
    if model.is_dir():
        print(f"hybridperf: note: the model calibrated for {device_id} ({model}) was adapted with the sheet of that "
              f"id before; rerun `hybridperf calibrate --device {out} --measure ...` to adapt it to this one",
              file=sys.stderr)


def _check_own_id(device_id: str) -> None:
    """Refuse an id that names another sheet: ``host`` (this machine's cached sheet, which ``--host`` writes; a file
    with that id is taken for it by ``predict``) or a packaged sheet's (``--device ID`` would keep pricing the
    packaged sheet, and a model calibrated for the probed one would be stored as, and used for, the packaged one)."""
    from hybridperf.device.spec import available_devices
    from hybridperf.errors import InputError
    from hybridperf.measure.host import HOST_ID

    if device_id == HOST_ID:
        raise InputError("the id host is this machine's cached sheet: `hybridperf probe --host` probes it again; give a "
                         "sheet file of your own another name (--out my-box.yaml)")
    if device_id in available_devices():
        raise InputError(f"the id {device_id} is a packaged sheet's (`hybridperf devices show {device_id}`); name the "
                         "probed sheet after this machine (--out my-box.yaml, or --id my-box)")


def _check_not_packaged(out) -> None:
    """Refuse an ``--out`` in the package's own sheets folder (:func:`hybridperf.device.spec.default_spec_dir`, the
    folder :attr:`DeviceSpec.packaged <hybridperf.device.spec.DeviceSpec.packaged>` judges by): until 2026-12-04 a
    probed sheet was written there and then listed by ``hybridperf devices`` as a shipped one (not judged as a
    probed sheet, and replaced by a reinstall)."""
    from hybridperf.device.spec import default_spec_dir, in_packaged_folder
    from hybridperf.errors import InputError

    if in_packaged_folder(out):  # False for a link loop: _check_writable names it
        raise InputError(f"--out {out} is in the package's own sheets folder ({default_spec_dir()}), where a probed "
                         f"sheet would be listed as a shipped one; write it elsewhere, e.g. --out ./{out.name}")


def _check_writable(out) -> None:
    """``--out``'s folder can be created (as ``write_spec`` does) and written, and ``--out`` is a file a rename may
    replace: checked before the benchmarks, which otherwise ran their seconds and then failed."""
    from hybridperf.commands._common import check_folder_writable, check_rename_target

    check_folder_writable(out, out.parent, "--out")
    check_rename_target(out, "--out")


def _with_progress(run_probe):
    """``run_probe(bar)`` with the probe's progress bar on stderr, closed whatever happens."""
    from hybridperf.report.progress import ProgressBar

    bar = ProgressBar(prefix="probe ", width=24, log=True)
    try:
        return run_probe(bar)
    finally:
        bar.close()


def _summary(args: argparse.Namespace, result, spec, out, replaced: str | None = None) -> ExitCode:
    """The probe's summary on stdout (table, or JSON with the sheet's path and id); a busy CPU during the probe
    is one warning line on stderr."""
    from hybridperf.report.probe import to_table

    if result.contention is not None and result.contention.busy:
        again = "hybridperf probe --host" if args.host else "the probe"
        print(f"hybridperf: warning: {result.contention.describe()}; rerun {again} when the machine is idle",
              file=sys.stderr)

    if args.format == "json":
        data = asdict(result)
        if result.contention is not None:  # the judgement the table and the warning show, not only its inputs
            data["contention"]["busy"] = bool(result.contention.busy)
        data["spec_path"] = str(out)
        data["spec_id"] = spec.id
        if not args.host:  # the probed sheet --out replaced (probed DATE by ...), None: none
            data["replaced"] = replaced
        from hybridperf.json_text import dumps

        # a figure the timer could not resolve (a GEMM timed at 0 s: infinite FLOP/s) is null, unknown (until
        # 2026-12-04 written as Infinity, which no JSON parser reads)
        sys.stdout.write(dumps(data, nonfinite_as_null=True, default=str) + "\n")
        return ExitCode.OK

    sys.stdout.write(to_table(result, spec, out, replaced) + "\n")
    return ExitCode.OK
