"""Worker processes that end with the command that started them.

A ``predict-many`` worker (a process of its pool) and ``measure``'s isolated onnxruntime worker call
:func:`end_with_parent` first: when the command is killed (``kill PID``, ``timeout``, a CI job cancelled: SIGTERM
to that process alone, not Ctrl-C to its whole group) they end too. Until 2026-12-05 they stayed: a pool's
workers (TVM imported, about 350 MiB each) waited forever for work, and a measurement kept timing the CPUs for up
to its 600 s. Imports nothing of hybridperf.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

#: ``prctl`` option: the signal this process gets when its parent dies (linux/prctl.h)
PR_SET_PDEATHSIG = 1
#: how often the watchdog thread of a platform without ``PR_SET_PDEATHSIG`` looks at its parent, in seconds
POLL_S = 1.0


def end_with_parent(parent: int | None) -> None:
    """End this process when ``parent`` (the pid of the process that started it) ends.

    On Linux the kernel sends SIGTERM then (``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon thread polls the parent
    pid every :data:`POLL_S`. A parent already gone (it died while this process started) ends this one at once.

    Parameters
    ----------
    parent : int or None
        The parent's pid as the parent gave it; None: ``os.getppid()`` now (a parent that died before this call is
        then not noticed).
    """
    parent = os.getppid() if parent is None else parent
    if not (sys.platform.startswith("linux") and _set_pdeathsig()):
        threading.Thread(target=_watch, args=(parent,), name="end-with-parent", daemon=True).start()
    if os.getppid() != parent:  # reparented before the signal was set: nobody waits for this process
        os._exit(1)


def _set_pdeathsig() -> bool:
    """Ask the kernel for SIGTERM when the parent dies; False where ``prctl`` cannot be called."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    """Poll until this process's parent is no longer ``parent``, then end the process."""
    import time

    while os.getppid() == parent:
        time.sleep(POLL_S)
    os._exit(1)


__all__ = ["end_with_parent"]
