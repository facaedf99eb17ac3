"""``hybridperf.files.write_atomic``: whole files by a rename, never over a device, a pipe or a directory."""

from __future__ import annotations

import os
import stat

import pytest

from hybridperf.files import write_atomic


def test_writes_whole_file_with_open_mode(tmp_path):
    p = tmp_path / "a.txt"
    write_atomic(p, "one\n")
    assert p.read_text() == "one\n"
    os.chmod(p, 0o640)
    write_atomic(p, "two\n")  # the existing file's mode is kept, as open(path, "w") keeps it
    assert p.read_text() == "two\n" and stat.S_IMODE(p.stat().st_mode) == 0o640
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.txt"]  # no temporary file left


def test_symlink_is_written_through(tmp_path):
    target = tmp_path / "real.xml"
    target.write_text("old")
    link = tmp_path / "link.xml"
    link.symlink_to(target)
    write_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(target)  # the link stays (it became a file before)
    assert target.read_text() == "new"


@pytest.mark.parametrize("where", ["/dev/full", "/dev/stdout", "/proc/self/comm"])
def test_devices_and_proc_refused_before_writing(where):
    before = os.stat(where, follow_symlinks=False)
    with pytest.raises(OSError, match="name a file of its own"):
        write_atomic(where, "x")
    after = os.stat(where, follow_symlinks=False)
    assert (before.st_mode, before.st_ino) == (after.st_mode, after.st_ino)  # /dev/full became a file until 2026-12-03


def test_directory_and_fifo_refused(tmp_path):
    with pytest.raises(OSError, match="not a regular file"):
        write_atomic(tmp_path, "x")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        write_atomic(fifo, "x")
    assert stat.S_ISFIFO(fifo.stat().st_mode)
