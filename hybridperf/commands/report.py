"""``hybridperf report MODEL --device ID --html out.html``: a self-contained HTML report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hybridperf.cli import ExitCode
from hybridperf.commands._common import (StoreOnce, add_model_arguments, add_roofline_only_argument,
                                         add_runtime_argument, predict_from_args, print_warnings)
from hybridperf.errors import InputError


#: ``--html -``: the page goes to stdout (the summary line to stderr)
STDOUT = "-"


#: paths that are this process's stdout: ``--html /dev/stdout`` is ``--html -``
STDOUT_PATHS = ("/dev/stdout", "/dev/fd/1", "/proc/self/fd/1")


def _check_output_path(path: Path, inputs=()) -> None:
    """Fail before the (slow) analysis when the page cannot be written there (missing folders are
    created, unlike :func:`~hybridperf.commands._common.check_output_path`): a directory, a file where a folder
    should be, a folder this process cannot create a file in (:func:`~hybridperf.commands._common.cannot_create_in`),
    a model file or one of ``inputs`` (the model and a spec file the command reads: until 2026-12-04
    ``report m.onnx --html m.onnx`` wrote the page over the model), or a file under /dev or /proc that a rename
    cannot replace (``--html /dev/stderr`` with stderr redirected to a file: refused after the analysis until
    2026-12-04)."""
    from hybridperf.commands._common import cannot_create_in, check_path_lookup
    from hybridperf.files import NOT_RENAMABLE, nearest_existing, renamable, resolved
    from hybridperf.frontends.common import MODEL_SUFFIXES

    check_path_lookup(path, "--html")
    if path.is_dir():
        raise InputError(f"--html {path} is a directory; name the file to write, e.g. {path / 'report.html'}")
    target = resolved(path)
    if path.suffix.lower() in MODEL_SUFFIXES or target in {resolved(i) for i in inputs}:
        raise InputError(f"--html {path} is a file this report reads (a model or spec file), not a page; name the "
                         "file to write, e.g. report.html")
    if target.exists() and not target.is_file():  # a device or a FIFO: written in place, not replaced
        return
    if not renamable(path):  # under /dev or /proc, yet a regular file (a stream redirected to a file)
        raise InputError(f"--html {path} is {NOT_RENAMABLE}, or --html - for stdout")
    parent = nearest_existing(path.absolute().parent)
    if not parent.is_dir():
        raise InputError(f"--html {path}: {parent} is not a directory; choose another path")
    why = cannot_create_in(parent)
    if why:
        raise InputError(f"--html {path}: cannot write in {parent} ({why}); choose a writable path, or --html - for "
                         "stdout")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    add_runtime_argument(p)
    p.add_argument("--html", required=True, metavar="PATH", action=StoreOnce, help="write the report page here (written atomically; missing folders are created); - writes it to stdout")
    p.add_argument("--title", action=StoreOnce, help="page title (default: model and device)")
    add_roofline_only_argument(p)


def run(args: argparse.Namespace) -> ExitCode:
    from hybridperf.report.html import render_html, write_html, written_line

    from hybridperf.commands._common import model_device_spec

    if args.title is not None and not args.title.strip():  # until 2026-12-04 "" gave the default title, unsaid
        raise InputError("--title is empty; give the page a title, or drop --title for the default (model and device)")
    spec = model_device_spec(args)
    to_stdout = args.html == STDOUT or args.html in STDOUT_PATHS
    if not to_stdout:
        if not args.html.strip():  # Path("") is "."
            raise InputError("--html is empty; name the file to write (e.g. report.html), or - for stdout")
        _check_output_path(Path(args.html), [args.model, *([spec.path] if spec.path else [])])
    pred = predict_from_args(args, spec)
    if to_stdout:  # the page is the data; the summary line goes beside it on stderr
        sys.stdout.write(render_html(pred, title=args.title))
        sys.stdout.flush()
        print(written_line(pred, Path("<stdout>")), file=sys.stderr)
        print_warnings(pred)
        return ExitCode.OK
    try:
        path = write_html(pred, args.html, title=args.title)
    except OSError as exc:
        raise InputError(f"cannot write --html {args.html}: {exc.strerror or exc}; choose a writable path, or "
                         "--html - for stdout") from exc
    sys.stdout.write(written_line(pred, path) + "\n")
    # on stderr as predict prints them (until 2026-12-04 only inside the page: `latency 155.3 us` gave no sign of an
    # unverified latency)
    print_warnings(pred)
    return ExitCode.OK

