"""Stored residual models: find a device's model, load it as the kind it was stored as, and store one in place
of another.

Above both model kinds (:mod:`hybridperf.residual.model` per device, :mod:`hybridperf.residual.cross_host`
adapted by ``calibrate --measure``), so neither imports the other to load one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import lru_cache
from pathlib import Path

from hybridperf.errors import InputError
from hybridperf.files import LockTimeout, file_lock, remove_dead_stages
from hybridperf.residual.cross_host import ALONE_DIR, CrossHostModel, is_cross_host
from hybridperf.residual.model import (KERNEL_FILE, MODEL_FILE, SIDECAR_FILE, ResidualModel, find_model_dir,
                                       holds_model, model_search_path)

#: what :meth:`ResidualModel.save` (and :meth:`CrossHostModel.save`) may write into a model directory
MODEL_ENTRIES = (MODEL_FILE, KERNEL_FILE, ALONE_DIR, SIDECAR_FILE)
#: how long a store waits for readers and another store of the same directory, and a reader for a store (each holds
#: the lock for a few renames, or the reading of a few files)
LOCK_TIMEOUT_S = 60.0


def lock_path(directory: str | Path) -> Path:
    """The lock file of the model directory ``directory``: ``.<name>.lock`` beside it (a store may rename the whole
    directory into place, so the lock cannot be inside it)."""
    d = Path(directory).absolute()
    return d.parent / f".{d.name}.lock"


@contextmanager
def model_lock(directory: str | Path, shared: bool = False) -> Iterator[None]:
    """Hold the lock of a model directory: exclusive to store a model there (:func:`save_model`), ``shared`` to read
    the one stored (:func:`load_for_device`, :func:`reading`). A reader locks only where a store ever locked (the
    lock file exists), so reading a packaged model creates nothing in the package.

    Raises
    ------
    InputError
        Another process held it more than :data:`LOCK_TIMEOUT_S`.
    """
    def busy(exc: LockTimeout) -> InputError:
        return InputError(f"{exc.who} has held the model in {Path(directory)} for more than {exc.timeout_s:g} s (lock "
                          f"{exc.path}); wait for it to finish, or end it and run again")

    with file_lock(lock_path(directory), shared=shared, timeout_s=LOCK_TIMEOUT_S, create=not shared, on_timeout=busy):
        yield


def reading(directory: str | Path):
    """Hold the shared lock of a model directory while its files are checked and read (:func:`model_lock`)."""
    return model_lock(directory, shared=True)


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

    bases = (Path(calib_dir),) if calib_dir is not None else model_search_path()
    with ExitStack() as held:  # a store under way is waited for: its directory holds no model for a moment
        for base in bases:
            held.enter_context(reading(base / device_id))
        d = find_model_dir(device_id, calib_dir)
        if d is None:
            return None
        # keyed by the sidecar's size, time stamps and inode (a digest when just written), not its mtime alone:
        # until 2026-12-03 a model restored over another with its mtime kept (cp -p, rsync -t) was served as the old
        return _load_cached(str(d), file_key(d / SIDECAR_FILE))


def describe_stored(directory: str | Path) -> str | None:
    """What the model stored in ``directory`` is (:meth:`ResidualModel.describe`), ``None`` when there is none;
    a model that no longer loads (another schema, a damaged file, part of one: :func:`holds_model`) is described as
    such. Until 2026-12-04 a booster cut short aborted the process here (``calibrate --reset`` could not remove it),
    and a booster without its sidecar was "no model stored": ``--reset`` left it there."""
    d = Path(directory)
    try:
        with reading(d):
            if not holds_model(d):
                return None
            return _load(d).describe()
    except Exception as exc:  # noqa: BLE001 - any failure to read it: it is replaced all the same
        why = type(exc).__name__
        if isinstance(exc, InputError):  # what it said, in a word: the cause it names, else that it is not whole
            why = type(exc.__cause__).__name__ if exc.__cause__ is not None else "incomplete or damaged"
        return f"a model that does not load ({why})"


def save_model(model: ResidualModel, directory: str | Path) -> Path:
    """Store ``model`` in ``directory`` so that no reader ever loads half of it, or half of it and half of the model
    stored there before: it is saved into a fresh folder beside ``directory`` first; then, holding the directory's
    lock (:func:`model_lock`: readers wait for the few renames, and of two stores at once the last one wins whole),
    the old sidecar (which readers look for first, :func:`find_model_dir`) is removed, the new files are moved in by
    renames, and the new sidecar comes last. An interrupted store leaves no model there, or part of one (which
    predictions refuse, naming the ``calibrate --reset`` that removes it: :func:`find_model_dir`), or the new one whole; the folder a killed store left beside it is removed by the
    next one. Files in ``directory`` that are no model's are left alone. Returns the directory.

    Until 2026-12-03 there was no lock: a process loading while two others stored two models in turn got, in 2 538
    loads, 503 "no residual model" (the packaged model used silently) and 6 models mixed of the two (one's sidecar
    with the other's booster).

    Raises
    ------
    OSError
        ``directory`` cannot be created or written.
    InputError
        Another process held the directory more than :data:`LOCK_TIMEOUT_S`.
    """
    d = Path(directory).absolute()  # `--out .` has a name to stage beside
    d.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{d.name}.saving-"
    stage = d.parent / f"{prefix}{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    try:
        model.save(stage)
        with model_lock(d):
            remove_dead_stages(d.parent, prefix)
            if not d.exists():
                stage.rename(d)  # one rename: the whole model appears at once
                return d
            _remove(d / SIDECAR_FILE)  # a folder in its place too (a damaged store: until 2026-12-04 nothing stored)
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


def remove_model(directory: str | Path) -> None:
    """Remove the model stored in ``directory`` (the caller holds its :func:`model_lock`): its sidecar first (readers
    look for it first, so none loads half a model), then the other files a model writes (:data:`MODEL_ENTRIES`), then
    the folder where nothing else is in it (a folder of ``--out`` may hold the user's own files: they are left alone).
    A sidecar that is a folder (a damaged store) is removed too: until 2026-12-04 ``calibrate --reset`` failed on it.

    Raises
    ------
    OSError
        A file or folder of the model cannot be removed.
    """
    d = Path(directory)
    _remove(d / SIDECAR_FILE)
    for name in MODEL_ENTRIES:
        if name != SIDECAR_FILE:  # removed first, above
            _remove(d / name)
    try:
        d.rmdir()
    except OSError:  # other files: not the model's
        pass


def _remove(p: Path) -> None:
    """Remove the entry ``p`` of a model directory: a folder with what is in it, a file or link itself."""
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    else:
        p.unlink(missing_ok=True)


__all__ = ["LOCK_TIMEOUT_S", "MODEL_ENTRIES", "describe_stored", "load_for_device", "lock_path", "model_lock", "reading",
           "remove_model", "save_model"]
