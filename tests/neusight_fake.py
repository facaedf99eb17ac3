"""A NeuSight-format operator tree written in the tests (``ops/<op>/<GPU file>.csv.gz``, latency in ms)."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

#: column headers of the two operator files the tests write (NeuSight's ``ops/`` layout)
HEADERS = {"bmm": ["OPName", "Latency", "B", "M", "N", "K"], "add": ["OPName", "Latency", "B", "H"]}


def write_ops(root: Path, dev_file: str, rows_by_op: dict[str, list[list]]) -> None:
    """Write ``rows_by_op[op]`` (rows of :data:`HEADERS` ``[op]``) as ``root/ops/<op>/<dev_file>.csv.gz``."""
    for op, rows in rows_by_op.items():
        path = Path(root) / "ops" / op / f"{dev_file}.csv.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(HEADERS[op])
            w.writerows(rows)
