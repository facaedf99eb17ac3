"""The JSON sidecar every stored LightGBM model carries (schema, features, settings, versions).

One writer and one reader for :mod:`hybridperf.residual.model` (per device, cross-host) and
:mod:`hybridperf.residual.cross_device`; each model keeps its own keys and version checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hybridperf.errors import InputError


def write_sidecar(path: Path, meta: dict[str, Any]) -> None:
    """Write ``meta`` with the LightGBM and hybridperf versions appended, as indented JSON."""
    import lightgbm

    from hybridperf._version import __version__

    meta = {**meta, "lightgbm_version": lightgbm.__version__, "hybridperf_version": __version__}
    path.write_text(json.dumps(meta, indent=1, default=float) + "\n")


def read_sidecar(directory: Path, model_file: str, sidecar_file: str, missing: str) -> dict[str, Any]:
    """The sidecar of the model stored in ``directory``; :class:`InputError` with ``missing`` (a
    sentence naming what is absent and the fix) when it or the booster file is not there."""
    side = directory / sidecar_file
    if not side.exists() or not (directory / model_file).exists():
        raise InputError(missing)
    return json.loads(side.read_text())


__all__ = ["read_sidecar", "write_sidecar"]
