"""``hybridperf measure MODEL``: real latency and memory with onnxruntime on this CPU."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hybridperf.cli import ExitCode
from hybridperf.commands._common import (StoreOnce, add_format_argument, check_batch, check_output_path,
                                        check_rename_target, scan_subnormals)
from hybridperf.files import write_atomic

#: the most ``--threads`` accepted: onnxruntime starts every one (until 2026-12-03 a huge count reached it and failed
#: with "incompatible function arguments", exit 2 naming no fix)
MAX_THREADS = 1024


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX model file")
    p.add_argument("--shape", action="append", metavar="NAME=DxD..", help="bind an input shape (repeatable)")
    p.add_argument("--batch", type=int, action=StoreOnce, help="bind a symbolic leading (batch) dimension of every input")
    p.add_argument("--threads", type=int, action=StoreOnce, help="onnxruntime intra-op threads (default: the CPUs this process may use, "
                   "the count that predictions for device host assume)")
    p.add_argument("--repeats", type=int, default=20, action=StoreOnce, help="timed runs (default %(default)s)")
    p.add_argument("--warmup", type=int, default=5, action=StoreOnce, help="untimed warm-up runs (default %(default)s)")
    p.add_argument("--profile", action="store_true", help="also time every node with onnxruntime's profiler")
    p.add_argument("--graph-optimization", default="all", choices=("all", "extended", "basic", "disabled"), action=StoreOnce,
                   help="onnxruntime graph optimisation level (default %(default)s)")
    p.add_argument("--device", "-d", default="host", action=StoreOnce, help="device id stored with the record (default %(default)s: this machine); "
                   "the timing is always onnxruntime on this CPU, so a sheet of another kind (a GPU, an NPU) is refused, "
                   "and a CPU sheet is timed with the threads its predictions assume (its cores, compute_units.count): "
                   "run it on that machine, where that many CPUs are free")
    p.add_argument("--no-subnormal-scan", action="store_true",
                   help="skip the extra run that checks the timing is of the model and not of subnormal assists "
                        "(JSON extra.subnormal_activations is then null)")
    p.add_argument("--out", action=StoreOnce, help="also write the record to FILE.json (full, with nodes) or FILE.csv (one row); an "
                   "existing measure record is replaced, not appended to (stderr says which); any other file there is "
                   "refused")
    add_format_argument(p)


def run(args: argparse.Namespace) -> ExitCode:
    from dataclasses import replace

    from hybridperf.errors import InputError
    from hybridperf.measure.host import HOST_ID, host_threads
    from hybridperf.measure.onnxruntime import csv_row, measure
    from hybridperf.report.measurement import to_text
    from hybridperf.units import parse_shape_flags

    for flag in ("threads", "repeats"):
        if getattr(args, flag) is not None and getattr(args, flag) <= 0:
            raise InputError(f"--{flag} must be a positive integer, got {getattr(args, flag)}")
    if args.threads is not None and args.threads > MAX_THREADS:  # onnxruntime takes an int32 and starts each one
        raise InputError(f"--threads {args.threads} is more than {MAX_THREADS}; give the CPUs to use (this process "
                         f"may use {host_threads()})")
    if args.warmup < 0:
        raise InputError(f"--warmup must be >= 0, got {args.warmup}")
    check_batch(args.batch)
    if not args.device.strip():  # until 2026-12-04 recorded as the device "" ("on  (AMD EPYC)")
        raise InputError("--device is empty; name a device id, or leave --device out (this machine: host)")
    _check_model_file(args.model)
    spec = _check_device(args.device)
    out = check_output_path(args.out, "--out") if args.out is not None else None  # before the measuring, not after
    if out is not None and out.suffix.lower() not in (".json", ".csv"):  # it wrote JSON under any name
        raise InputError(f"--out {args.out}: name FILE.json (the full record) or FILE.csv (one row)")
    if out is not None:
        check_rename_target(out, "--out")
    usable = host_threads()
    # a named CPU sheet: the threads its predictions assume; refused here when this cannot be that machine
    assumed = _sheet_threads(args.device, spec, usable) if spec is not None else None
    threads = args.threads or assumed or usable
    shapes = parse_shape_flags(args.shape)
    # after the flags' own checks (until 2026-12-04 `--shape bad --out notes.json` named --out first), before timing
    before = _record_before(out) if out is not None else ""  # said on stderr once replaced
    m = measure(args.model, shapes, args.batch, threads=threads, repeats=args.repeats,
                warmup=args.warmup, profile=args.profile, device=args.device, graph_optimization=args.graph_optimization)
    if args.device == HOST_ID and threads != usable:  # after the run: a bad model gets its one error line alone
        print(f"hybridperf: warning: --threads {threads}: predictions for device host assume {usable} thread(s), the "
              f"CPUs this process may use{' (more threads share them)' if threads > usable else ''}; compare them "
              f"with a measurement at --threads {usable}", file=sys.stderr)
    elif assumed is not None and threads != assumed:
        print(f"hybridperf: warning: --threads {threads}: predictions for device {args.device} assume {assumed} "
              f"thread(s), its cores (compute_units.count); compare them with a measurement at --threads {assumed}",
              file=sys.stderr)
    # the record keeps the scan (JSON null: skipped, or the scan could not run the model)
    scan = None if args.no_subnormal_scan else scan_subnormals(args.model, shapes, args.batch,
                                                               "measure an export with trained weights")
    m = replace(m, extra={**m.extra, "subnormal_activations": scan.to_dict() if scan is not None else None},
                model=str(Path(args.model).absolute()))  # until 2026-12-04 as given: "m.onnx" meant nothing elsewhere
    if m.repeats < 2:  # one timed run has no spread: unknown (JSON null), not 0
        m = replace(m, latency_std_s=None)
    if m.contention is not None and m.contention.busy:
        print("hybridperf: warning: " + m.contention.describe("the timed runs", "the latency figures are slow and "
              "noisy; measure again when the machine is idle"), file=sys.stderr)
    if out is not None:
        if out.suffix.lower() == ".csv":
            import csv
            import io

            # with the CPU's identity as calibration rows record it (vendor, family, model, stepping, ISA; until
            # 2026-12-04 the CSV had the lscpu model name only, "AMD EPYC" for Zen 3, 4 and 5 alike)
            ident = (m.extra or {}).get("cpu") or {}
            # the runtime line's other figures (until 2026-12-04 the CSV had neither the graph optimisation level
            # nor the preemptions and CPU share that say whether the timing was shared); empty: unknown
            c = m.contention
            row = csv_row(m, **{k: v for k, v in ident.items() if k != "cpu_model"},
                          graph_optimization=m.extra.get("graph_optimization", ""),
                          preemptions_per_s="" if c is None else c.preemptions_per_s,
                          cpu_share="" if c is None else c.cpu_share)
            buf = io.StringIO(newline="")
            w = csv.DictWriter(buf, fieldnames=list(row))
            w.writeheader()
            w.writerow(row)
            text = buf.getvalue()
        else:
            text = _json(m) + "\n"
        try:
            write_atomic(out, text)
        except OSError as exc:
            raise InputError(f"cannot write --out {out}: {exc.strerror or exc}") from exc
        if before:  # a record only: any other file was refused before measuring
            print(f"hybridperf: note: --out {out}: replaced {before}", file=sys.stderr)
    if args.format == "json":
        sys.stdout.write(_json(m) + "\n")
        return ExitCode.OK
    sys.stdout.write(to_text(m) + "\n")
    return ExitCode.OK


def _json(m) -> str:
    """A measurement's record as strict JSON (``--format json``, ``--out FILE.json``): a figure the timer could not
    resolve, NaN or infinite, is null (until 2026-12-04 written as ``NaN`` / ``Infinity``, which no JSON parser
    reads)."""
    from hybridperf.json_text import dumps

    return dumps(m.to_record(), indent=1, nonfinite_as_null=True)


def _record_before(out: Path) -> str:
    """The measure record an existing ``--out`` file holds, in the words of the note saying it was replaced:
    ``""`` for no file, else ``the record there (MODEL on DEVICE, DATE)``.

    Raises
    ------
    InputError
        The file there holds no measure record (a CSV of other data, notes) or cannot be read: it is not replaced
        (until 2026-12-04 it was, with a note on stderr, and before that without a word).
    """
    import csv
    import json

    from hybridperf.errors import InputError

    fix = "choose another --out path, or delete that file first"
    try:
        if not out.is_file():
            return ""
        text = out.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"--out {out}: the file there cannot be read ({exc.strerror or exc}), so it may be no measure "
                         f"record; {fix}") from exc
    rec = None
    if out.suffix.lower() == ".json":
        try:
            rec = json.loads(text)
        except ValueError:
            rec = None
    else:
        rows = list(csv.DictReader(text.splitlines()))
        rec = rows[0] if len(rows) == 1 else None
    if isinstance(rec, dict) and {"model", "device", "runtime", "latency_s", "date_utc"} <= set(rec):
        return f"the record there ({rec.get('model')} on {rec.get('device')}, {rec.get('date_utc')})"
    raise InputError(f"--out {out}: the file there is no measure record ({len(text.encode('utf-8'))} bytes), so it is "
                     f"not replaced; {fix}")


def _check_device(device: str):
    """Refuse a ``--device`` whose sheet is not a CPU: the record would call a CPU timing a GPU's. An id with no
    sheet is the user's own label for this machine and is kept as given. Returns the CPU sheet, ``None`` for
    ``host`` or a label."""
    from hybridperf.device.spec import HOST_ID, load_spec, names_spec_file
    from hybridperf.errors import InputError, SpecError

    if device == HOST_ID:
        return None
    try:
        spec = load_spec(device)
    except SpecError:
        if names_spec_file(device):  # a spec file, not a label: until 2026-12-03
            raise  # a broken or missing one was recorded as the label, exit 0
        from hybridperf.device.spec import available_devices
        from hybridperf.errors import did_you_mean

        # a label close to a sheet's id is said (until 2026-12-03 a mistyped id was recorded as a label without a word)
        hint = did_you_mean(device, [HOST_ID, *available_devices()])
        if hint:
            print(f"hybridperf: warning: --device {device}: no sheet has this id, so it is recorded as your label for "
                  f"this machine{hint}", file=sys.stderr)
        return None
    if spec.kind != "cpu":
        raise InputError(f"--device {device} is a {spec.kind} sheet, but measure times onnxruntime on this CPU: run it "
                         "on the machine itself, or leave --device out (this machine: host)")
    _check_sheet_cpu(device, spec)
    return spec


def _sheet_cpu(spec) -> tuple[str, str]:
    """``(the sheet's CPU, this machine's)`` in the words a sheet records it, where the sheet says and they differ:
    its ``cpu_identity`` (vendor, family, model), else the vendor or instruction set its name and notes give (the
    check ``calibrate --measure`` applies, :func:`~hybridperf.measure.host.cpu_elsewhere`), the CPU a probed sheet's
    notes name (``CPU: NAME;``: two SKUs of one family and model have other names), else, for a packaged sheet
    without an identity, that of the packaged cross-host model's training host of this id (vendor, family, model,
    stepping); ``("", "")`` where none is known (then it is not judged)."""
    from hybridperf.measure.host import cpu_elsewhere, host_cpu
    from hybridperf.measure.probe import probed_elsewhere
    from hybridperf.residual.cross_host import training_host_cpu

    # "AMD EPYC" names Zen 3, 4 and 5 alike: the identity first (until 2026-12-04 -d host-epyc-1c, a Zen 3's sheet,
    # was measured on a Zen 5 without a word), then the vendor / ISA of a sheet without one (until 2026-12-04
    # -d host-xeon-2c or -d raspberry-pi-4b was measured on an AMD machine without a word)
    elsewhere = cpu_elsewhere(spec) or probed_elsewhere(spec.notes)
    if elsewhere is not None:
        return elsewhere
    if getattr(spec, "cpu_identity", None) is not None:
        return "", ""  # judged by its identity: the training host's stepping is not compared
    if not spec.packaged:
        return "", ""  # the training hosts are the packaged sheets'
    theirs = training_host_cpu(spec.id)
    here = host_cpu()
    return (theirs, here) if theirs and here else ("", "")


def _check_sheet_cpu(device: str, spec) -> None:
    """Refuse a CPU sheet of another CPU than this one: measure times this machine, and the record would file its
    timing under that CPU's id (until 2026-12-04 ``-d host-epyc-zen5-1c`` on a Zen 4 was recorded as Zen 5's, as
    ``calibrate --measure`` refuses it; and, until the sheets said their ``cpu_identity``, ``-d host-epyc-1c``, a
    Zen 3's, on a Zen 5: both are "AMD EPYC"; and, for a sheet without an identity, one whose name and notes give
    another vendor or instruction set, ``-d host-xeon-2c`` on an AMD machine). Sheets that do not say their CPU are
    not judged, nor sheets whose CPU this machine cannot be compared with (its /proc/cpuinfo does not say)."""
    from hybridperf.errors import InputError

    theirs, here = _sheet_cpu(spec)
    if theirs and theirs != here:
        raise InputError(f"--device {device} is the sheet of another CPU ({theirs}; this machine: {here}), and "
                         "measure times this machine: run it on that machine, or leave --device out (this machine: "
                         "host)")


def _sheet_threads(device: str, spec, usable: int) -> int | None:
    """The threads a named CPU sheet's predictions assume (its core count, as ``calibrate --measure`` runs it with;
    ``None``: the sheet gives none). A process with fewer usable CPUs is not that machine with its cores free, and
    its timing would be recorded as the sheet's: refused, as calibrate refuses it."""
    from hybridperf.errors import InputError
    from hybridperf.residual.cross_host import sheet_threads

    cores, given = sheet_threads(spec)
    if not given:
        return None
    if usable < cores:
        raise InputError(f"--device {device}: its sheet covers {cores} core(s) (compute_units.count) but this process "
                         f"may use {usable} CPU(s), and measure times this machine: run it on that machine with its "
                         "cores free, or leave --device out (this machine: host)")
    return cores


def _check_model_file(model: str) -> None:
    """Refuse a directory (naming the command that measures one) or a missing path at once, before any timing."""
    from hybridperf.errors import InputError
    from hybridperf.frontends.load import check_model_file, is_onnx_file

    p = Path(model)
    try:
        is_dir = bool(str(model).strip()) and p.is_dir()  # "" (Path "."): check_model_file says it is empty
    except OSError:  # a name too long to look up: check_model_file names it
        is_dir = False
    if is_dir:
        raise InputError(f"{p} is a directory; pass an .onnx file (`hybridperf calibrate --device host --measure "
                         "DIR` measures a directory)")
    check_model_file(model)
    if not is_onnx_file(model):  # until 2026-12-04 a .pt2 / .tflite got onnxruntime's "No graph was found"
        raise InputError(f"{p}: measure times ONNX models with onnxruntime only; export the model to ONNX and "
                         "measure the .onnx (predict prices .tflite and .pt2 as they are)")
