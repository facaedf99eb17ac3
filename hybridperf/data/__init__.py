"""Data files shipped inside the package, and the per-user data directory.

Owns ``hw_specs/`` (one device sheet per file; schema in ``hw_specs/README.md``) and
``models/<device id>/`` (the stored residual models that ``hybridperf predict`` applies) and
``probes/`` (the GPU family-probe shapes ``hybridperf probe`` times), all read through :mod:`importlib.resources`, so an editable checkout and an installed
wheel find them the same way; and :func:`user_data_dir`, where commands write what a user
makes (``hybridperf calibrate``), never inside the installed package. Imports nothing
from hybridperf.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

#: environment variable that overrides :func:`user_data_dir`
HOME_ENV = "HYBRIDPERF_HOME"


def packaged_dir(name: str) -> Path:
    """The directory ``name`` (``"hw_specs"``, ``"models"``, ``"probes"``) shipped in this package.

    Raises
    ------
    RuntimeError
        The package is imported from an archive (zip), not from files: the readers glob
        these directories and LightGBM opens model files by path.
    """
    res = resources.files(__name__).joinpath(name)
    if not isinstance(res, Path):
        raise RuntimeError(f"hybridperf's data files are inside an archive ({res!r}); install hybridperf with pip")
    return res


def user_data_dir() -> Path:
    """Per-user data of hybridperf: ``$HYBRIDPERF_HOME``, else ``$XDG_DATA_HOME/hybridperf``,
    else ``~/.local/share/hybridperf``. Not created here."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"  # the XDG spec ignores relative paths
    return base / "hybridperf"


__all__ = ["HOME_ENV", "packaged_dir", "user_data_dir"]
