"""What the benchmarks that time onnxruntime nodes alone share (``transpose_cost --probe``, ``depth_to_space_cost``,
``einsum_cost``): the host recorded with the rows, the fastest of a session's runs, the rows appended to a CSV, and
the medians over rounds read back."""

from __future__ import annotations

import csv
import datetime
import statistics
import subprocess
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
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
