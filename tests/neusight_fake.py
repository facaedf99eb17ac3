"""A NeuSight-format operator tree written in the tests (``ops/<op>/<GPU file>.csv.gz``, latency in ms)."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hybridperf.costs import build_registry
from hybridperf.device.spec import load_spec
from hybridperf.residual.neusight import price_op

#: (NeuSight file name, sheet id) of the two GPUs the fake trees hold
DEVICES = (("Tesla_T4", "t4"), ("Tesla_V100-PCIE-32GB", "v100-pcie-32gb"))
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


def write_tree(root: Path, calls: int, measured_s: Callable, tiny: int = 0) -> Path:
    """A bmm + add tree of the two :data:`DEVICES` under ``root``: ``calls`` calls of each op per GPU, shapes
    drawn from one generator (seed 0; B, M, N, K in 1-299, B, H in 1-1999), the first ``tiny`` of them one
    element (no draw), each call's latency ``measured_s(op, cost, spec)`` seconds (``cost``: the call priced by
    :func:`~hybridperf.residual.neusight.price_op`). Returns ``root``."""
    reg = build_registry(check_exists=False)
    rng = np.random.default_rng(0)
    for dev_file, dev in DEVICES:
        spec = load_spec(dev)
        bmm, add = [], []
        for i in range(calls):
            b, m, n, k = (1, 1, 1, 1) if i < tiny else (int(v) for v in rng.integers(1, 300, 4))
            bmm.append(["bmm", measured_s("bmm", price_op("bmm", {"B": b, "M": m, "N": n, "K": k}, reg), spec) * 1e3,
                        b, m, n, k])
            bb, h = (1, 1) if i < tiny else (int(v) for v in rng.integers(1, 2000, 2))
            add.append(["add", measured_s("add", price_op("add", {"B": bb, "H": h}, reg), spec) * 1e3, bb, h])
        write_ops(root, dev_file, {"bmm": bmm, "add": add})
    return Path(root)
