"""Arguments shared by the commands that take a model."""

from __future__ import annotations

import argparse

from hybridperf.errors import InputError

DEFAULT_DEVICE = "host-epyc-1c"


def add_model_arguments(p: argparse.ArgumentParser, device: bool = True) -> None:
    p.add_argument("model", help="model file (.onnx; .tflite)")
    if device:
        p.add_argument("--device", "-d", default=DEFAULT_DEVICE, help=f"device id from `hybridperf devices` or a spec file (default {DEFAULT_DEVICE})")
    p.add_argument("--shape", action="append", metavar="NAME=DxD..", help="bind an input shape, e.g. --shape input=1x3x224x224 (repeatable)")
    p.add_argument("--batch", type=int, help="bind a symbolic leading (batch) dimension of every input")
    p.add_argument("--no-fuse", action="store_true", help="one kernel per op instead of TVM's FuseOps grouping")
    p.add_argument("--precision", choices=["tf32", "fp16", "bf16", "fp8", "int8"], help="run float32 ops at this precision (fp16/bf16 also halve their traffic)")


def add_format_argument(p: argparse.ArgumentParser, choices=("table", "json")) -> None:
    p.add_argument("--format", choices=choices, default=choices[0], help="output format (default %(default)s)")


def shapes_from_args(args: argparse.Namespace):
    from hybridperf.frontend import parse_shape_flags

    if args.batch is not None and args.batch <= 0:
        raise InputError(f"--batch must be a positive integer, got {args.batch}")
    return parse_shape_flags(args.shape)


class native_stderr_silenced:
    """Swallow what TVM's C++ logging writes to file descriptor 2 (warnings such as
    "Fast mode segfaults when there are out-of-bounds indices" from LegalizeOps),
    so that the CLI's stderr carries only its own one-line messages. ``-v`` keeps it."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._saved: int | None = None
        self._tmp = None

    def __enter__(self):
        if not self.enabled:
            return self
        import os
        import sys
        import tempfile

        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
        except OSError:
            return self
        self._tmp = tempfile.TemporaryFile()
        os.dup2(self._tmp.fileno(), 2)
        return self

    def __exit__(self, *exc):
        import os

        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._saved = None
        if self._tmp is not None:
            self._tmp.close()
        return False
