"""Foundation: writing files so that no reader sees half of one (imports nothing of hybridperf)."""

from __future__ import annotations

import errno
import os
import tempfile
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
    target = path.resolve()
    if under_dev_or_proc(path) or under_dev_or_proc(target) or (target.exists() and not target.is_file()):
        raise OSError(errno.EINVAL, "not a regular file (a device, pipe, /proc entry or directory), and the output "
                      "is written whole by a rename: name a file of its own", str(path))
    if mode is None:
        try:
            mode = target.stat().st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # a file name that is not UTF-8 (argv bytes decoded as surrogates) is written as its escape, \udcff: until
        # 2026-12-03 it was exit 3, "UnicodeEncodeError ... surrogates not allowed", for report --html and --junit-xml
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            os.fchmod(f.fileno(), mode)
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
