"""Command-line entry point: ``hybridperf <command> ...``.

Subcommands live in ``hybridperf/commands/<name>.py``; each module defines
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> ExitCode``.
They are imported only when their command runs, so ``--help`` stays fast and
never imports TVM.

Exit codes (:class:`ExitCode`): 0 ok, 1 budget exceeded, 2 input or usage
error, 3 internal error, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM). Errors are one line on
stderr; ``-v`` adds the traceback.
"""

from __future__ import annotations

import argparse
import enum
import errno
import importlib
import importlib.util  # `import importlib` alone does not bind the submodule (it only works where something else imported it)
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


class ExitCode(enum.IntEnum):
    """Process exit codes, documented in README.md."""

    OK = 0
    BUDGET_EXCEEDED = 1
    INPUT_ERROR = 2
    INTERNAL_ERROR = 3
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, the shell's convention; exit 3, "internal", until 2026-12-04)
    TERMINATED = 143  # SIGTERM under :func:`terminated_cleanly` (128 + SIGTERM); elsewhere the signal's default


class Terminated(BaseException):
    """SIGTERM, raised where :func:`terminated_cleanly` holds it, as Ctrl-C raises KeyboardInterrupt: a
    ``BaseException`` so that ``except Exception`` lets it through to :func:`run_guarded` (exit 143)."""


#: command name -> module under hybridperf.commands
COMMANDS: dict[str, str] = {
    "predict": "predict",
    "annotate": "annotate",
    "devices": "devices",
    "probe": "probe",
    "measure": "measure",
    "calibrate": "calibrate",
    "check": "check",
    "mig": "mig",
    "report": "report",
    "predict-many": "predict_many",
}

#: one-line help per command, kept here so ``--help`` imports nothing else
HELP: dict[str, str] = {
    "predict": "predict latency, energy, FLOPs and peak memory of a model on a device",
    "annotate": "print the model's Relax IR with each binding's cost as a comment",
    "devices": "list device spec sheets, or show one (devices show ID)",
    "probe": "measure the spec of the machine this runs on and write a spec file",
    "measure": "measure a model's real latency and memory with onnxruntime (ground truth)",
    "calibrate": "train the LightGBM residual model of a device from measurements",
    "check": "fail (exit 1) when a model exceeds a latency / memory / energy budget",
    "mig": "suggest the smallest MIG profile that fits a model",
    "report": "write a self-contained HTML report (roofline plot, per-layer bars)",
    "predict-many": "predict every model in a directory, in parallel",
}


def _available_commands() -> dict[str, str]:
    return {name: mod for name, mod in COMMANDS.items() if importlib.util.find_spec(f"hybridperf.commands.{mod}")}


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's error convention: one line on stderr naming the fix, exit 2 (argparse's own prints
    the whole usage block first: eight lines for ``predict --batch 2.5``)."""

    def error(self, message: str):
        where = self.prog.removeprefix("hybridperf").strip()
        message = _choice_hint(message)
        _error_line(f"hybridperf: error: {where + ': ' if where else ''}{message} (see `{self.prog} --help`)")
        raise SystemExit(ExitCode.INPUT_ERROR)


def _choice_hint(message: str) -> str:
    """argparse's "invalid choice" message with the choice meant, where one is close (``--format JSON``: until
    2026-12-04 no hint, as the commands' names and the device ids have)."""
    import re

    m = re.match(r"(argument [^:]+: invalid choice: )'([^']*)' (\(choose from (.*)\))$", message)
    if not m:
        return message
    from hybridperf.errors import did_you_mean

    choices = [c.strip().strip("'") for c in m[4].split(",")]
    hint = did_you_mean(m[2], choices)
    return f"{m[1]}{m[2]!r}{hint} {m[3]}" if hint else message


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the parser; with ``only`` set, import just that command's module."""
    from hybridperf._version import __version__

    parser = _Parser(
        prog="hybridperf",
        description="Predict how fast, how energy-hungry and how memory-hungry a model is\non a device.",
        # how to reach a command's options (until 2026-12-04 not said: the list shows no command's options)
        epilog="a command's options: `hybridperf help COMMAND` (or `hybridperf COMMAND --help`)\n"
               "exit codes: 0 ok, 1 budget exceeded, 2 input/usage error, 3 internal error,\n"
               "            130 interrupted (Ctrl-C), 143 terminated (SIGTERM)",  # not listed until 2026-12-05
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the epilog's lines stay as written
    )
    parser.add_argument("--version", action="version", version=f"hybridperf {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod in _available_commands().items():
        p = sub.add_parser(name, help=HELP.get(name, ""), description=HELP.get(name, ""))
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
        if only == name:
            importlib.import_module(f"hybridperf.commands.{mod}").add_arguments(p)
        else:
            p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def _pick_command(argv: Sequence[str]) -> str | None:
    for tok in argv:
        if tok.startswith("-"):
            continue
        return tok
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit code (also used by ``python -m hybridperf``).

    A closed stdout or stderr (``hybridperf check m.onnx | head -0``) loses the text written to it, never the exit
    code: the command runs to its end and exits as it would have (0 where it succeeded; 1, 2 or 3 where it did not);
    so does one closed before it starts (``2>&-``), whose descriptor then points at the null device.
    Until 2026-12-04 a write into a closed pipe exited 0 from wherever it happened: ``check`` over budget with its
    table into a closed pipe exited 0, and ``predict-many`` with every model failed exited 0 with stdout or stderr
    closed.
    """
    streams = sys.stdout, sys.stderr
    for fd, stream in ((1, sys.stdout), (2, sys.stderr)):
        if stream is None:  # started closed (`2>&-`): the descriptor is free, and a file opened later would take it
            try:
                _to_null_device(fd, only_if_closed=True)
            except OSError:
                pass
    sys.stdout, sys.stderr = _PipeSafe(sys.stdout), _PipeSafe(sys.stderr)
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    finally:
        sys.stdout, sys.stderr = streams


class _PipeSafe:
    """``sys.stdout`` or ``sys.stderr`` for the length of one command: a write or flush into a closed pipe or a closed
    file points the stream's descriptor at the null device (so that the interpreter's last flush stays quiet too) and
    drops the text from then on, instead of raising ``BrokenPipeError`` out of the command and losing its exit code.
    No stream at all (``None``: the command started with it closed, ``2>&-``) drops every text; until 2026-12-04 an
    error line into it raised AttributeError out of :func:`main`, exit 1 ("budget exceeded") for an input error.

    Parameters
    ----------
    stream : TextIO or None
        The stream it stands for; every attribute but ``write``, ``writelines`` and ``flush`` is the stream's own.
    """

    def __init__(self, stream) -> None:
        self._stream = stream
        self.pipe_closed = stream is None

    def write(self, text: str) -> int:
        if not self.pipe_closed:
            try:
                return self._stream.write(text)
            except (BrokenPipeError, ValueError):  # ValueError: I/O operation on closed file
                self._lose()
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.pipe_closed:
            try:
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                self._lose()

    def _lose(self) -> None:
        self.pipe_closed = True
        try:
            _to_null_device(self._stream.fileno())
            self._stream.flush()  # what the pipe refused, into the null device
        except (OSError, ValueError, AttributeError):  # no descriptor (a test's capture), or one already closed
            pass

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _to_null_device(fd: int, only_if_closed: bool = False) -> None:
    """Point descriptor ``fd`` at the null device (until 2026-12-04 the descriptor opened for it was left open);
    with ``only_if_closed``, only where ``fd`` is not open.

    Raises
    ------
    OSError
        Where the null device cannot be opened or ``fd`` cannot be pointed at it.
    """
    import os

    if only_if_closed:
        try:
            os.fstat(fd)
            return
        except OSError:
            pass
    null = os.open(os.devnull, os.O_WRONLY)
    if null == fd:  # a closed fd is the lowest free one, so open may have handed out fd itself: opened
        # non-inheritable, it would leave child processes (predict-many's pool workers) without fd 2, sys.stderr None
        # (until 2026-12-04 every predict-many row failed under 2>&-)
        os.set_inheritable(fd, True)
        return
    try:
        os.dup2(null, fd)  # dup2 makes fd inheritable
    finally:
        os.close(null)


def _error_line(text: str, code: int = 2) -> int:
    """Print ``text`` as one line on stderr and return ``code`` (within :func:`main`, a closed stderr loses the line
    and keeps the code)."""
    print(text, file=sys.stderr, flush=True)
    return code


def _help_argv(argv: list[str]) -> list[str]:
    """``help [COMMAND]`` as ``[COMMAND] --help`` (``pip help install``, ``git help log``: until 2026-12-04 "unknown
    command 'help'"); any other ``argv`` as it is."""
    if _pick_command(argv) != "help":
        return argv
    at = argv.index("help")  # the first token that is no option: "help" is none
    topic = _pick_command(argv[at + 1:])
    return argv[:at] + ([topic] if topic is not None else []) + ["--help"]


def _main(argv: list[str]) -> int:
    known = _available_commands()
    argv = _help_argv(argv)
    cmd = _pick_command(argv)
    if cmd is not None and cmd not in known:
        from hybridperf.errors import did_you_mean

        at = argv.index(cmd)
        later = next((t for t in argv[at + 1:] if t in known), None)
        if later is not None and at and argv[at - 1].startswith("-"):  # `hybridperf -d t4 predict m.onnx`: until
            # 2026-12-04 "unknown command 't4'"
            return _error_line(f"hybridperf: error: {argv[at - 1]} {cmd} comes before the command; options go after "
                               f"it: `hybridperf {later} ... {argv[at - 1]} {cmd}`", ExitCode.INPUT_ERROR)
        return _error_line(f"hybridperf: error: unknown command {cmd!r}{did_you_mean(cmd, known)}; `hybridperf --help` "
                           "lists the commands", ExitCode.INPUT_ERROR)
    parser = build_parser(only=cmd)
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return ExitCode.OK if exc.code in (0, None) else ExitCode.INPUT_ERROR
    if extra:  # the top-level parser's error named `hybridperf --help`, which lists no command's options
        where = f"{args.command}: " if args.command else ""
        return _error_line(f"hybridperf: error: {where}unrecognized arguments: {' '.join(extra)} (see `hybridperf "
                           f"{args.command + ' ' if args.command else ''}--help`)", ExitCode.INPUT_ERROR)
    if args.command is None:
        return _error_line("hybridperf: error: no command given; `hybridperf --help` lists them (e.g. `hybridperf "
                           "predict MODEL.onnx`)", ExitCode.INPUT_ERROR)
    module = importlib.import_module(f"hybridperf.commands.{known[args.command]}")
    _escape_undecodable_output()
    return run_guarded(module.run, args)


def _escape_undecodable_output() -> None:
    """A file name that is not UTF-8 reaches Python as lone surrogates; under a UTF-8 locale stdout is strict and
    printing it raised UnicodeEncodeError (until 2026-12-03: exit 3 for ``predict``, ``check``, ``report --html -``,
    ``predict-many`` on such a file). Print it as its escape (``\\udcff``, as JSON documents hold it:
    :func:`hybridperf.json_text.escape_undecodable`) instead; a stream that already handles it (``surrogateescape``
    under the C locale) is left alone."""
    from hybridperf.json_text import UNDECODABLE

    stream = sys.stdout
    if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
        stream.reconfigure(errors=UNDECODABLE)


@contextmanager
def terminated_cleanly() -> Iterator[None]:
    """Within the block SIGTERM (``kill PID``, ``timeout``, a CI job cancelled) raises :class:`Terminated`, as Ctrl-C
    raises KeyboardInterrupt, so that what the command wrote is removed on the way out; :func:`run_guarded` says
    "hybridperf: terminated" and returns exit 143. The handler only raises (until 2026-12-05 it printed from inside the
    signal handler, and its ``SystemExit(143)`` went past :func:`run_guarded`). Outside the main thread (no signal
    handler can be set there), or where SIGTERM is ignored, nothing changes; the handler before is put back after."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        yield
        return

    def stop(signum, frame):
        raise Terminated(signum)

    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def run_guarded(func, args) -> int:
    """Call ``func(args)`` and map exceptions to exit codes and one-line messages.

    :class:`~hybridperf.errors.InputError` is exit 2, Ctrl-C 130, SIGTERM under :func:`terminated_cleanly` 143, a
    write that found no room (a full disk) exit 2, anything else exit 3. A closed stdout or stderr is no error here:
    :func:`main` drops what is written into it and the command keeps its own exit code, so a ``BrokenPipeError`` that
    reaches this guard came from some other pipe and is exit 3 (until 2026-12-04 every ``BrokenPipeError`` was exit
    0, a failed ``check`` among them).
    """
    from hybridperf.errors import HybridperfError, InputError

    verbose = getattr(args, "verbose", False)
    if verbose:  # TVM's C++ log lines, captured off stderr while passes run (ir.tvm_compat.native_log_captured),
        # and PyTorch's, held off its handlers while torch.export runs (frontends.torch_export.torch_logs_captured)
        import logging

        for name in ("hybridperf.tvm", "hybridperf.torch"):
            native = logging.getLogger(name)
            native.setLevel(logging.DEBUG)
            if not native.handlers:
                native.addHandler(logging.StreamHandler(sys.stderr))
    try:
        code = func(args)
        sys.stdout.flush()  # here, so that a full disk is this command's error, not one at exit
        return int(code if code is not None else ExitCode.OK)
    except InputError as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        return _error_line(f"hybridperf: error: {_one_line(exc)}", ExitCode.INPUT_ERROR)
    except KeyboardInterrupt:
        return _error_line("hybridperf: interrupted", ExitCode.INTERRUPTED)
    except Terminated:
        return _error_line("hybridperf: terminated", ExitCode.TERMINATED)
    except OSError as exc:  # a BrokenPipeError here is not stdout's or stderr's (main's _PipeSafe keeps those): exit 3
        if exc.errno not in _NO_ROOM:
            return _internal(exc, verbose)
        # until 2026-12-04 `predict m.onnx > /dev/full` (a full disk, a quota) was exit 3, "internal error"
        return _error_line(f"hybridperf: error: cannot write {exc.filename or 'the output'}: {exc.strerror}; free some "
                           "space, or write it elsewhere", ExitCode.INPUT_ERROR)
    except (HybridperfError, Exception) as exc:  # noqa: BLE001 - the one place that maps everything
        return _internal(exc, verbose)


#: errno values of a write that found no room (a full disk or ``/dev/full``, a quota, a file too large): the
#: machine's state, not a defect of hybridperf
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _internal(exc: BaseException, verbose: bool) -> int:
    """Report ``exc`` as an internal error (exit 3): one line, and the traceback with ``-v``."""
    if verbose:
        import traceback

        traceback.print_exc()
    return _error_line(f"hybridperf: internal error: {type(exc).__name__}: {_one_line(exc)} (rerun with -v and report "
                       "it)", ExitCode.INTERNAL_ERROR)


def _one_line(exc: BaseException, limit: int = 400) -> str:
    """The exception text on one line (TVM errors carry multi-line tracebacks), at most ``limit`` chars: a longer
    text loses its middle, so that the fix at its end stays (until 2026-12-03 the end was cut, and with a long path
    in the message, "model file /a/very/long/... cannot be looked ..." named no fix)."""
    text = " ".join(str(exc).split())
    if len(text) <= limit:
        return text
    tail = (limit - 5) // 2
    return text[: limit - 5 - tail] + " ... " + text[len(text) - tail:]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
