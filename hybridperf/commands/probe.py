"""``hybridperf probe``: measure this machine and write its spec file.

::

    hybridperf probe --out my-box.yaml [--id my-box] [--name TEXT] [--quick] [--cpu-only]
                     [--format table|json]

CPU: numpy GEMM (fp32, fp64), onnxruntime MatMulInteger (int8), STREAM-like
copy / triad, cache sizes from sysfs, onnxruntime dispatch overhead. Where
``torch.cuda.is_available()`` the GPU is probed instead (GEMM per precision,
device-to-device copy, launch overhead, NVML power) unless ``--cpu-only``.
Progress goes to stderr, the summary to stdout. Use the written sheet by path
(``hybridperf predict MODEL --device my-box.yaml``); ``--out`` has no default, so
nothing is written inside the installed package.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from hybridperf.cli import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True,
                        help="spec file to write (ID.yaml), or a directory to write ID.yaml into")
    parser.add_argument("--id", default=None, help="device id (default: the --out file name)")
    parser.add_argument("--name", default=None, help="human-readable device name (default: the CPU / GPU model)")
    parser.add_argument("--quick", action="store_true", help="a few seconds instead of ~a minute; noisier figures")
    parser.add_argument("--cpu-only", action="store_true", help="probe the CPU even where a CUDA GPU is available")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="summary format (default: table)")


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.measure import probe
    from hybridperf.report.probe import to_table
    from hybridperf.report.progress import ProgressBar

    out, device_id = probe.check_out(args.out, args.id)  # fail before a minute of benchmarks
    bar = ProgressBar(prefix="probe ", width=24, log=True)
    try:
        result = probe.probe(quick=args.quick, progress=bar, use_gpu=False if args.cpu_only else None)
    finally:
        bar.close()
    spec = probe.write_spec(result, out, device_id=device_id, name=args.name)

    if args.format == "json":
        data = asdict(result)
        data["spec_path"] = str(out)
        data["spec_id"] = spec.id
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return ExitCode.OK

    sys.stdout.write(to_table(result, spec, out) + "\n")
    return ExitCode.OK
