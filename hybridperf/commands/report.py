"""``hybridperf report MODEL --device ID --html out.html``: a self-contained HTML report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hybridperf.cli import ExitCode
from hybridperf.commands._common import (add_model_arguments, add_roofline_only_argument,
                                         add_runtime_argument, predict_from_args)
from hybridperf.errors import InputError


def _check_output_path(path: Path) -> None:
    """Fail before the (slow) analysis when the page cannot be written there (missing folders are
    created, unlike :func:`~hybridperf.commands._common.check_output_path`)."""
    if path.is_dir():
        raise InputError(f"--html {path} is a directory; name the file to write, e.g. {path / 'report.html'}")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is None or not parent.is_dir():
        raise InputError(f"--html {path}: {parent} is not a directory")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    add_runtime_argument(p)
    p.add_argument("--html", required=True, metavar="PATH", help="write the report page here (written atomically)")
    p.add_argument("--title", help="page title (default: model and device)")
    add_roofline_only_argument(p)


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.report.html import write_html, written_line

    from hybridperf.commands._common import model_device_spec

    spec = model_device_spec(args)
    _check_output_path(Path(args.html))
    pred = predict_from_args(args, spec)
    try:
        path = write_html(pred, args.html, title=args.title)
    except OSError as exc:
        raise InputError(f"cannot write --html {args.html}: {exc.strerror or exc}") from exc
    sys.stdout.write(written_line(pred, path) + "\n")
    return ExitCode.OK
