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
import json
import sys
from dataclasses import asdict

from hybridperf.cli import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="spec file to write (ID.yaml), or a directory to write ID.yaml into")
    where.add_argument("--host", action="store_true",
                       help="probe this machine's CPU again and replace the cached sheet of `--device host` (under the "
                            "user data directory)")
    parser.add_argument("--id", default=None, help="with --out: device id (default: the --out file name)")
    parser.add_argument("--name", default=None, help="with --out: human-readable device name (default: the CPU / GPU model)")
    parser.add_argument("--quick", action="store_true", help="about 4 s instead of about 8 s (CPU): noisier figures")
    parser.add_argument("--cpu-only", action="store_true", help="probe the CPU even where a CUDA GPU is available")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="summary format (default: table)")


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.measure import probe

    if args.host:
        return _run_host(args)
    out, device_id = probe.check_out(args.out, args.id)  # fail before a minute of benchmarks
    _check_own_id(device_id)
    _check_writable(out)
    result = _with_progress(lambda bar: probe.probe(quick=args.quick, progress=bar,
                                                    use_gpu=False if args.cpu_only else None))
    spec = probe.write_spec(result, out, device_id=device_id, name=args.name)
    return _summary(args, result, spec, out)


def _run_host(args: argparse.Namespace) -> ExitCode:
    """``--host``: re-probe this machine's cached ``host`` sheet (the CPU; ``--cpu-only`` is implied)."""
    from hybridperf.device.spec import load_spec
    from hybridperf.errors import InputError
    from hybridperf.measure.host import host_model_dir, probe_host_spec

    if args.id is not None or args.name is not None:
        raise InputError("--id / --name go with --out; the sheet --host writes is always the device `host`")
    def waiting(pid: int | None) -> None:  # another command of this user data directory probes it now
        from hybridperf.files import holder_text

        print(f"hybridperf: device host: {holder_text(pid)} is probing this machine; "
              "waiting for it to finish before probing again", file=sys.stderr, flush=True)

    out, result = _with_progress(lambda bar: probe_host_spec(quick=args.quick, progress=bar, on_wait=waiting))
    model = host_model_dir()
    if model.exists():
        print(f"hybridperf: note: the model calibrated for host ({model}) was adapted with the previous sheet; "
              "rerun `hybridperf calibrate --device host --measure ...` to adapt it to this one", file=sys.stderr)
    return _summary(args, result, load_spec(out), out)


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


def _summary(args: argparse.Namespace, result, spec, out) -> ExitCode:
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
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return ExitCode.OK

    sys.stdout.write(to_table(result, spec, out) + "\n")
    return ExitCode.OK
