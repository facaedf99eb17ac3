"""Did another process compete for the CPU while we timed? (``getrusage`` over a timing window.)

A best-of or median figure filters a neighbour's bursts, not a neighbour that runs the whole time: then every
timed call is slowed, and a probe's peak figures (so every prediction priced on its sheet) or a measurement's
latency come out slow without any sign. Counting the involuntary context switches of our own threads over the
window shows it: a process alone on its CPU is preempted about once a second, one sharing it with a CPU-bound
process about 125 times a second (measured on this project's Zen 4 host, a busy loop pinned to the same core:
1-14 vs 125 per second, CPU share 0.996 vs 0.50, probed fp32 102 vs 52 GFLOP/s). Used by :mod:`hybridperf.measure.probe`
and :mod:`hybridperf.measure.onnxruntime`. Linux and macOS (``resource``); elsewhere nothing is measured.

Only single-thread work is judged: with several threads the process's own threads (a thread pool, BLAS or
onnxruntime threads spinning after a call) preempt each other, so the count no longer says whether anyone else
wanted the CPU (an unpinned 2-thread probe on an idle 2-core host: 272 a second). There the figures are stated,
not judged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

#: involuntary context switches per second of the window above which the CPU counts as shared
BUSY_PREEMPTIONS_PER_S = 20.0
#: on one usable CPU: the share of it below which the window counts as shared (alone: 0.99-1.0)
BUSY_CPU_SHARE = 0.9

#: a reading of :func:`usage`: (wall seconds, process CPU seconds, involuntary context switches)
Usage = tuple[float, float, int]


@dataclass(frozen=True)
class Contention:
    """How much a timing window had to share its CPUs.

    ``cpu_share`` is the CPU time the process got per second per thread of the timed work: 1.0 alone on one CPU,
    about 0.5 sharing it with one busy process. Judged only for single-thread work (see the module docstring).
    """

    window_s: float
    preemptions_per_s: float  # involuntary context switches of the process's threads per second
    cpu_share: float  # process CPU time / (window x usable CPUs), at most 1
    threads: int  # threads the timed work ran on

    @property
    def busy(self) -> bool:
        """Single-thread work that another process competed with: preempted more than
        :data:`BUSY_PREEMPTIONS_PER_S` times a second and given less than :data:`BUSY_CPU_SHARE` of its CPU. Work on
        several threads is never judged busy (:attr:`judged` is False)."""
        return self.judged and self.preemptions_per_s > BUSY_PREEMPTIONS_PER_S and self.cpu_share < BUSY_CPU_SHARE

    @property
    def judged(self) -> bool:
        """Whether :attr:`busy` means anything: single-thread work only."""
        return self.threads == 1

    def describe(self, during: str = "the probe", so: str = "its figures may be low") -> str:
        """One clause for notes and warnings: ``another process competed for the CPU during {during} (...): {so}``."""
        share = f"; it got {self.cpu_share:.0%} of its CPU time" if self.judged else ""
        return (f"another process competed for the CPU during {during} (preempted {self.preemptions_per_s:.0f} "
                f"times a second{share}): {so}")


def usage() -> Usage | None:
    """(wall, process CPU seconds, involuntary context switches) now; None where ``resource`` is missing."""
    try:
        import resource
    except ImportError:  # not a Unix
        return None
    return time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw


def contention_between(start: Usage | None, end: Usage | None, threads: int) -> Contention | None:
    """:class:`Contention` of the window between two :func:`usage` readings of work on ``threads`` threads (None
    where either reading is)."""
    if start is None or end is None:
        return None
    window = max(end[0] - start[0], 1e-9)
    return Contention(window_s=window, preemptions_per_s=(end[2] - start[2]) / window,
                      cpu_share=min((end[1] - start[1]) / (window * max(threads, 1)), 1.0), threads=threads)


__all__ = ["BUSY_CPU_SHARE", "BUSY_PREEMPTIONS_PER_S", "Contention", "Usage", "contention_between", "usage"]
