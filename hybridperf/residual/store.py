"""Stored residual models: find a device's model, load it as the kind it was stored as, and store one in place
of another.

Above both model kinds (:mod:`hybridperf.residual.model` per device, :mod:`hybridperf.residual.cross_host`
adapted by ``calibrate --measure``), so neither imports the other to load one.
"""

from __future__ import annotations

import os
import shutil
from functools import lru_cache
from pathlib import Path

from hybridperf.residual.cross_host import ALONE_DIR, CrossHostModel, is_cross_host
from hybridperf.residual.model import KERNEL_FILE, MODEL_FILE, SIDECAR_FILE, ResidualModel, find_model_dir

#: what :meth:`ResidualModel.save` (and :meth:`CrossHostModel.save`) may write into a model directory
MODEL_ENTRIES = (MODEL_FILE, KERNEL_FILE, ALONE_DIR, SIDECAR_FILE)


@lru_cache(maxsize=16)
def _load_cached(path: str, key: object) -> ResidualModel:
    return _load(path)


def _load(path: str | Path) -> ResidualModel:
    return CrossHostModel.load(path) if is_cross_host(path) else ResidualModel.load(path)


def load_for_device(device_id: str, calib_dir: str | Path | None = None) -> ResidualModel | None:
    """The stored residual model of ``device_id`` (see :func:`find_model_dir`), or None if there is none.

    Cached per directory and sidecar file key: do not modify the result (``adapt`` a fresh ``ResidualModel.load``).
    """
    from hybridperf.analysis.cache import file_key

    d = find_model_dir(device_id, calib_dir)
    if d is None:
        return None
    # keyed by the sidecar's size, time stamps and inode (a digest when just written), not its mtime alone: until
    # 2026-12-03 a model restored over another with its mtime kept (cp -p, rsync -t) was served as the old one
    return _load_cached(str(d), file_key(d / SIDECAR_FILE))


def describe_stored(directory: str | Path) -> str | None:
    """What the model stored in ``directory`` is (:meth:`ResidualModel.describe`), ``None`` when there is none;
    a model that no longer loads (another schema, a damaged file) is described as such."""
    d = Path(directory)
    if not (d / SIDECAR_FILE).exists():
        return None
    try:
        return _load(d).describe()
    except Exception as exc:  # noqa: BLE001 - any failure to read it: it is replaced all the same
        return f"a model that does not load ({type(exc).__name__})"


def save_model(model: ResidualModel, directory: str | Path) -> Path:
    """Store ``model`` in ``directory`` so that no reader ever loads half of it, or half of it and half of the model
    stored there before: it is saved into a fresh folder beside ``directory`` first; then the old sidecar (which
    readers look for first, :func:`find_model_dir`) is removed, the new files are moved in by renames, and the new
    sidecar comes last. An interrupted store leaves no model there (predictions fall back to the packaged one and
    say so) or the new one whole. Files in ``directory`` that are no model's are left alone. Returns the directory.

    Raises
    ------
    OSError
        ``directory`` cannot be created or written.
    """
    d = Path(directory).absolute()  # `--out .` has a name to stage beside
    d.parent.mkdir(parents=True, exist_ok=True)
    stage = d.parent / f".{d.name}.saving-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    try:
        model.save(stage)
        if not d.exists():
            stage.rename(d)  # one rename: the whole model appears at once
            return d
        (d / SIDECAR_FILE).unlink(missing_ok=True)
        new = {p.name for p in stage.iterdir()}
        for name in MODEL_ENTRIES:  # stale entries of the old model (e.g. a kernel booster the new one lacks)
            if name not in new:
                _remove(d / name)
        for name in sorted(new - {SIDECAR_FILE}):
            _remove(d / name)
            os.replace(stage / name, d / name)
        os.replace(stage / SIDECAR_FILE, d / SIDECAR_FILE)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return d


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    else:
        p.unlink(missing_ok=True)


__all__ = ["MODEL_ENTRIES", "describe_stored", "load_for_device", "save_model"]
