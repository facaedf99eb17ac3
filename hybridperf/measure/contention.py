"""Did another process compete for the CPU while we timed? (``getrusage`` over a timing window.)

A best-of or median figure filters a neighbour's bursts, not a neighbour that runs the whole time: then every
timed call is slowed, and a probe's peak figures (so every prediction priced on its sheet) or a measurement's
latency come out slow without any sign. Counting the involuntary context switches of our own threads over the
window shows it: a process alone on its CPU is preempted about once a second, one sharing it with a CPU-bound
process about 125 times a second (measured on this project's Zen 4 host, a busy loop pinned to the same core:
1-14 vs 125 per second, CPU share 0.996 vs 0.50, probed fp32 102 vs 52 GFLOP/s). Used by :mod:`hybridperf.measure.probe`
and :mod:`hybridperf.measure.onnxruntime`. Linux and macOS (``resource``); elsewhere nothing is measured. Also the one
count of the CPUs this process may use (:func:`usable_cpus`: the host's threads, a sweep's workers).

With several threads the process's own threads (a thread pool, BLAS or onnxruntime threads spinning after a call)
preempt each other, so the count no longer says whether anyone else wanted the CPU (an unpinned 2-thread probe on an
idle 2-core host: 60-272 a second). There only the CPU share is judged (since 2026-12-04; until then several threads
were never judged, and a first `host` probe while the machine was busy cached figures half the CPU's without a
word). Measured on this project's Zen 5 host (2 vCPUs, 2 threads): an idle full or quick probe got 0.94 of its CPUs,
`measure` 1.00; with one busy loop beside them 0.63 (probe) and 0.62-0.73 (`measure`), with two 0.46 (probe), their
fp64 GEMM reading 100-106 instead of 204-207 GFLOP/s.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

#: involuntary context switches per second of the window above which the CPU counts as shared
BUSY_PREEMPTIONS_PER_S = 20.0
#: on one usable CPU: the share of it below which the window counts as shared (alone: 0.99-1.0)
BUSY_CPU_SHARE = 0.9
#: work on several threads: the share of its CPUs below which the window counts as shared (module docstring: alone
#: 0.94-1.00, beside one or two busy processes 0.46-0.73)
BUSY_CPU_SHARE_THREADS = 0.8

#: a reading of :func:`usage`: (wall seconds, process CPU seconds, involuntary context switches)
Usage = tuple[float, float, int]


@dataclass(frozen=True)
class Contention:
    """How much a timing window had to share its CPUs.

    ``cpu_share`` is the CPU time the process got per second per thread of the timed work: 1.0 alone on one CPU,
    about 0.5 sharing it with one busy process (see the module docstring for work on several threads).
    """

    window_s: float
    preemptions_per_s: float  # involuntary context switches of the process's threads per second
    cpu_share: float  # process CPU time / (window x usable CPUs), at most 1
    threads: int  # threads the timed work ran on

    @property
    def busy(self) -> bool:
        """Work that another process competed with. Single-thread: preempted more than
        :data:`BUSY_PREEMPTIONS_PER_S` times a second and given less than :data:`BUSY_CPU_SHARE` of its CPU; several
        threads (whose own threads preempt each other): given less than :data:`BUSY_CPU_SHARE_THREADS` of its CPUs."""
        if self.threads > 1:
            return self.cpu_share < BUSY_CPU_SHARE_THREADS
        return self.preemptions_per_s > BUSY_PREEMPTIONS_PER_S and self.cpu_share < BUSY_CPU_SHARE

    def describe(self, during: str = "the probe", so: str = "its figures may be low") -> str:
        """One clause for notes and warnings: ``another process competed for the CPU during {during} (...): {so}``."""
        of = "its CPU time" if self.threads == 1 else f"the CPU time of its {self.threads} threads"
        return (f"another process competed for the CPU during {during} (preempted {self.preemptions_per_s:.0f} "
                f"times a second; it got {self.cpu_share:.0%} of {of}): {so}")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, so taskset / cgroup CPU sets count; ``os.cpu_count()``
    where the platform does not say), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


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


__all__ = ["BUSY_CPU_SHARE", "BUSY_PREEMPTIONS_PER_S", "Contention", "Usage", "contention_between", "usable_cpus", "usage"]
