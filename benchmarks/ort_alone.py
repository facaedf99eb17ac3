"""What the benchmarks that time onnxruntime nodes alone share (``transpose_cost --probe``, ``depth_to_space_cost``,
``einsum_cost``): the host recorded with the rows, the fastest of a session's runs, the rows appended to a CSV, and
the medians over rounds read back, the shuffled rounds and their command-line options."""

from __future__ import annotations

import argparse
import csv
import datetime
import random
import statistics
import subprocess
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

#: the columns :func:`host_columns` gives every row, after the case's own
HOST_FIELDS = ["cpu_model", "cpu_family", "cpu_model_id", "cpu_stepping", "onnxruntime", "date_utc"]


def start(out: Path) -> Any:
    """Make ``out``, write this machine's ``lscpu`` to ``out`` / ``lscpu.txt`` and return its
    :class:`~hybridperf.measure.probe.HostInfo`."""
    from hybridperf.measure.probe import read_host_info

    out.mkdir(parents=True, exist_ok=True)
    (out / "lscpu.txt").write_text(subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout)
    return read_host_info()


def host_columns(host: Any) -> dict[str, Any]:
    """The :data:`HOST_FIELDS` of a row timed now on ``host``."""
    import onnxruntime as ort

    return {"cpu_model": host.cpu_model, "cpu_family": host.cpu_family, "cpu_model_id": host.cpu_model_id,
            "cpu_stepping": host.cpu_stepping, "onnxruntime": ort.__version__,
            "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def fastest_s(sess: Any, feed: Mapping[str, Any], runs: int, warmup: int) -> float:
    """The fastest of ``runs`` timed ``sess.run`` calls after ``warmup`` untimed ones
    (:func:`hybridperf.measure.probe._best_seconds`)."""
    from hybridperf.measure.probe import _best_seconds

    return _best_seconds(lambda: sess.run(None, feed), runs, warmup=warmup)


def append_rows(path: Path, fields: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Append ``rows`` to the CSV ``path`` (its header first where it is new)."""
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, list(fields))
        if new:
            w.writeheader()
        w.writerows(rows)


def medians(path: Path, key: Callable[[Mapping[str, str]], Hashable], column: str) -> dict[Hashable, float]:
    """key -> the median of ``column`` over the rows of the CSV ``path`` with that key, keys sorted."""
    with path.open() as f:
        groups: dict[Hashable, list[float]] = {}
        for r in csv.DictReader(f):
            groups.setdefault(key(r), []).append(float(r[column]))
    return {k: statistics.median(groups[k]) for k in sorted(groups)}


def shuffled_rounds(cases: Iterable[Any], threads: Sequence[int], rounds: int, seed: int,
                    variants: Sequence[Any] = (None,)) -> Iterator[tuple[int, Any, int, Any]]:
    """``(round, case, threads, variant)``: in each of ``rounds`` rounds every case at every thread count (and
    variant) once, in an order shuffled by one ``random.Random(seed)`` over the rounds."""
    cases = list(cases)
    rng = random.Random(seed)
    for r in range(rounds):
        order = [(c, t, v) for c in cases for t in threads for v in variants]
        rng.shuffle(order)
        for c, t, v in order:
            yield r, c, t, v


def timing_options(p: argparse.ArgumentParser, timed_runs: int) -> None:
    """The options of a benchmark timed in :func:`shuffled_rounds`: ``--threads`` (comma-separated counts, default
    1,2), ``--rounds`` (3), ``--timed-runs`` (``timed_runs``) and ``--seed`` (0)."""
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--timed-runs", type=int, default=timed_runs)
    p.add_argument("--seed", type=int, default=0)


def thread_counts(args: argparse.Namespace) -> list[int]:
    """The thread counts of :func:`timing_options`' ``--threads``."""
    return [int(t) for t in args.threads.split(",")]
