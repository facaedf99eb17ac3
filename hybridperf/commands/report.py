"""``hybridperf report MODEL --device ID --html out.html``: a self-contained HTML report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hybridperf.cli import ExitCode
from hybridperf.commands._common import (add_model_arguments, add_roofline_only_argument,
                                         add_runtime_argument, predict_from_args)
from hybridperf.errors import InputError


#: ``--html -``: the page goes to stdout (the summary line to stderr)
STDOUT = "-"


def _check_output_path(path: Path) -> None:
    """Fail before the (slow) analysis when the page cannot be written there (missing folders are
    created, unlike :func:`~hybridperf.commands._common.check_output_path`): a directory, a file where a folder
    should be, or a folder this process cannot create a file in (tried with an empty temporary file: permission
    bits say nothing to root, nor of a read-only file system)."""
    import os
    import tempfile

    from hybridperf.commands._common import check_path_lookup
    from hybridperf.files import nearest_existing

    check_path_lookup(path, "--html")
    if path.is_dir():
        raise InputError(f"--html {path} is a directory; name the file to write, e.g. {path / 'report.html'}")
    if path.exists() and not path.is_file():  # /dev/stdout, a FIFO: written in place, not replaced
        return
    parent = nearest_existing(path.absolute().parent)
    if not parent.is_dir():
        raise InputError(f"--html {path}: {parent} is not a directory; choose another path")
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".hybridperf-", suffix=".probe")
    except OSError as exc:
        raise InputError(f"--html {path}: cannot write in {parent} ({exc.strerror or exc}); choose a writable "
                         f"path, or --html - for stdout") from exc
    os.close(fd)
    os.unlink(probe)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    add_runtime_argument(p)
    p.add_argument("--html", required=True, metavar="PATH", help="write the report page here (written atomically; missing folders are created); - writes it to stdout")
    p.add_argument("--title", help="page title (default: model and device)")
    add_roofline_only_argument(p)


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.report.html import render_html, write_html, written_line

    from hybridperf.commands._common import model_device_spec

    spec = model_device_spec(args)
    to_stdout = args.html == STDOUT
    if not to_stdout:
        if not args.html.strip():  # Path("") is "."
            raise InputError("--html is empty; name the file to write (e.g. report.html), or - for stdout")
        _check_output_path(Path(args.html))
    pred = predict_from_args(args, spec)
    if to_stdout:  # the page is the data; the summary line goes beside it on stderr
        sys.stdout.write(render_html(pred, title=args.title))
        sys.stdout.flush()
        print(written_line(pred, Path("<stdout>")), file=sys.stderr)
        return ExitCode.OK
    try:
        path = write_html(pred, args.html, title=args.title)
    except OSError as exc:
        raise InputError(f"cannot write --html {args.html}: {exc.strerror or exc}; choose a writable path, or "
                         "--html - for stdout") from exc
    sys.stdout.write(written_line(pred, path) + "\n")
    return ExitCode.OK
