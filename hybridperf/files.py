"""Foundation: writing files so that no reader sees half of one, and locks that let processes sharing the user
data directory take turns (imports nothing of hybridperf)."""

from __future__ import annotations

import errno
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    """The process umask, read without changing it where Linux reports it."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic read-by-setting, restored at once
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, text: str, mode: int | None = None) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename, so a
    reader never sees half a file; returns the path.

    The file gets ``mode``, else the mode a plain ``open(path, "w")`` would give it: the
    existing file's mode, else 0666 less the umask (``mkstemp`` alone would leave it 0600).
    A symlink is written through (the link stays, its target is replaced).

    Raises
    ------
    OSError
        ``path`` is not one a rename may replace: under ``/dev`` or ``/proc`` (``/dev/stdout``, ``/dev/full``), or
        an existing directory, device or pipe (until 2026-12-03 the rename replaced ``/dev/full`` by a file).
    """
    path = Path(path)
    target = resolved(path)
    if not renamable(path):
        raise OSError(errno.EINVAL, NOT_RENAMABLE, str(path))
    if mode is None:
        try:
            mode = target.stat().st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # a file name that is not UTF-8 (argv bytes decoded as surrogates) is written as its escape, \udcff (as
        # json_text.escape_undecodable writes it, by the same handler, json_text.UNDECODABLE): until 2026-12-03 it
        # was exit 3, "UnicodeEncodeError ... surrogates not allowed", for report --html and --junit-xml
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            os.fchmod(f.fileno(), mode)
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class LockTimeout(TimeoutError):
    """Another process held a :func:`file_lock` longer than the caller would wait."""

    def __init__(self, path: Path, timeout_s: float, holder: int | None) -> None:
        self.path, self.timeout_s, self.holder = path, timeout_s, holder
        self.who = holder_text(holder)
        super().__init__(f"{self.who} holds the lock {path} (waited {timeout_s:g} s)")


def holder_text(pid: int | None) -> str:
    """A lock holder as messages name it: ``process 8484``, or ``another process`` when its pid is unknown."""
    return f"process {pid}" if pid else "another process"


#: locks each thread holds (``.locks``: absolute path -> exclusive): a second flock of the same file from the same
#: thread would wait on itself, since flock locks belong to open files, not to processes or threads (so another thread
#: of this process does wait for it)
_held = threading.local()


@contextmanager
def file_lock(path: str | Path, *, shared: bool = False, timeout_s: float = 60.0, create: bool = True,
              on_wait: Callable[[int | None], None] | None = None, note_holder: bool = True,
              on_timeout: Callable[[LockTimeout], BaseException] | None = None) -> Iterator[None]:
    """Hold an advisory lock on the file ``path`` (``fcntl.flock``): exclusive, or ``shared`` with other readers.

    The kernel releases it when the process ends however it ends (``kill -9`` included), so a lock file left behind is
    never stale: the next process takes it at once. An exclusive holder writes its pid into the file, for the message
    of a process that waits. ``create=False`` (readers): where the file does not exist or cannot be opened (no writer
    ever locked there, a read-only install) nothing is locked. Where ``fcntl`` is missing (not a Unix) nothing is
    locked. Taken again inside itself by the same thread (same or weaker kind) it does not wait on itself.

    Parameters
    ----------
    on_wait
        Called once, with the holder's pid (None: unknown), when the lock is busy and this process starts waiting.
    note_holder
        False: the file is data of its own (a file of rows locked while a row is appended): its bytes are not
        replaced by the pid.
    on_timeout
        Makes the exception raised (from the :class:`LockTimeout`) where the lock stays busy: a caller's own message
        (an ``InputError`` naming what holds it), raised before the block runs.

    Raises
    ------
    LockTimeout
        Still busy after ``timeout_s`` seconds (or what ``on_timeout`` makes of it).
    OSError
        ``create`` and the lock file cannot be created (a read-only or missing folder).
    """
    try:
        import fcntl
    except ImportError:  # not a Unix: no advisory locks
        yield
        return
    path = Path(path)
    key = str(path.absolute())
    held: dict[str, bool] = _held.__dict__.setdefault("locks", {})
    if key in held and (held[key] or shared):
        yield
        return
    try:
        fd = os.open(path, (os.O_RDWR | os.O_CREAT) if create else os.O_RDONLY, 0o666)
    except OSError:
        if create:
            raise
        yield
        return
    try:
        kind = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        deadline, waited = time.monotonic() + timeout_s, False
        while True:
            try:
                fcntl.flock(fd, kind | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    timeout = LockTimeout(path, timeout_s, _lock_holder(fd))
                    if on_timeout is None:
                        raise timeout from None
                    raise on_timeout(timeout) from timeout
                if not waited and on_wait is not None:
                    on_wait(_lock_holder(fd))
                waited = True
                time.sleep(0.05)
        if not shared and create and note_holder:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        held[key] = not shared
        try:
            yield
        finally:
            del held[key]
    finally:
        os.close(fd)  # releases the lock


def _lock_holder(fd: int) -> int | None:
    """The pid the last exclusive holder wrote into the lock file (None: none written, or not a number)."""
    try:
        return int(os.pread(fd, 32, 0).decode("ascii").strip() or "x")
    except (OSError, ValueError):
        return None


def remove_dead_stages(folder: Path, prefix: str) -> None:
    """Remove the entries ``<prefix><pid>...`` of ``folder`` whose process is gone (killed while it staged a store):
    call it while holding the lock of the store, so that a live process's stage is never touched."""
    import shutil

    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        rest = entry.name[len(prefix):] if entry.name.startswith(prefix) else ""
        digits = rest[:len(rest) - len(rest.lstrip("0123456789"))]
        if not digits or int(digits) == os.getpid() or _alive(int(digits)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


#: why :func:`write_atomic` refuses a path that is not :func:`renamable`
NOT_RENAMABLE = ("not a regular file (a device, pipe, /proc entry or directory), and the output is written whole by "
                 "a rename: name a file of its own")


def renamable(path: str | Path) -> bool:
    """Whether :func:`write_atomic` may write ``path`` (its link target, for a symlink): not under /dev or /proc, and
    absent or a regular file (the rename would replace a device, a pipe or a directory)."""
    target = resolved(path)
    return not (under_dev_or_proc(path) or under_dev_or_proc(target) or (target.exists() and not target.is_file()))


def resolved(path: str | Path) -> Path:
    """``Path(path).resolve()`` that never raises: a chain of symbolic links that loops back (``a -> b -> a``) is
    left as its absolute path, to be found missing or refused where it is opened (until 2026-12-04 Python 3.11's
    RuntimeError "Symlink loop" was exit 3 for ``check LOOP.onnx``, ``check --junit-xml LOOP``, ``report --html
    LOOP``)."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError):
        return Path(path).absolute()


def is_link_loop(path: str | Path) -> bool:
    """Whether ``path`` is a symbolic link whose chain of links loops back, so that it names no file at all."""
    try:
        Path(path).resolve(strict=True)
    except RuntimeError:  # Python < 3.13
        return True
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def under_dev_or_proc(path: str | Path) -> bool:
    """A path under ``/dev`` or ``/proc``: devices and process entries, never a file a rename should replace."""
    parts = Path(path).absolute().parts
    return len(parts) > 1 and parts[1] in ("dev", "proc")


def nearest_existing(path: str | Path) -> Path:
    """``path`` itself or its nearest ancestor that exists: the folder in which creating ``path`` (and its missing
    parents) starts, whose kind and permissions decide whether it can be created."""
    above = Path(path)
    while not above.exists() and above != above.parent:
        above = above.parent
    return above
