"""Stored residual models: find a device's model and load it as the kind it was stored as.

Above both model kinds (:mod:`hybridperf.residual.model` per device, :mod:`hybridperf.residual.cross_host`
adapted by ``calibrate --measure``), so neither imports the other to load one.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from hybridperf.residual.cross_host import CrossHostModel, is_cross_host
from hybridperf.residual.model import SIDECAR_FILE, ResidualModel, find_model_dir


@lru_cache(maxsize=16)
def _load_cached(path: str, mtime: float) -> ResidualModel:
    return CrossHostModel.load(path) if is_cross_host(path) else ResidualModel.load(path)


def load_for_device(device_id: str, calib_dir: str | Path | None = None) -> ResidualModel | None:
    """The stored residual model of ``device_id`` (see :func:`find_model_dir`), or None if there is none.

    Cached per directory and sidecar mtime: do not modify the result (``adapt`` a fresh ``ResidualModel.load``).
    """
    d = find_model_dir(device_id, calib_dir)
    if d is None:
        return None
    return _load_cached(str(d), (d / SIDECAR_FILE).stat().st_mtime)


__all__ = ["load_for_device"]
