"""Data files shipped inside the package, and the per-user data directory.

Owns ``hw_specs/`` (one device sheet per file; schema in ``hw_specs/README.md``) and
``models/<device id>/`` (the stored residual models that ``hybridperf predict`` applies) and
``probes/`` (the GPU family-probe shapes ``hybridperf probe`` times), all read through :mod:`importlib.resources`, so an editable checkout and an installed
wheel find them the same way; and :func:`user_data_dir`, where commands write what a user
makes (``hybridperf calibrate``), never inside the installed package, with the names of its ``hosts/`` folders
(:data:`HOSTS_DIR`, :data:`HOST_MODEL_DIR`) and of its ``models/`` (:data:`USER_MODELS`). Imports nothing
from hybridperf but :class:`hybridperf.errors.InputError`, where no home directory is known.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

#: environment variable that overrides :func:`user_data_dir`
HOME_ENV = "HYBRIDPERF_HOME"
#: the folder of the user data directory holding ``<cpu key>/`` folders of the device ``host``
#: (:func:`hybridperf.measure.host.host_dir`), and the folder in one that holds its calibrated model
#: (:func:`hybridperf.measure.host.host_model_dir`): ``hosts/<cpu key>/model/``. Here, beside
#: :func:`user_data_dir`, so that :mod:`hybridperf.measure.host` reads them without loading numpy (until 2026-12-04
#: it kept its own literal ``"hosts"``)
HOSTS_DIR, HOST_MODEL_DIR = "hosts", "model"
#: the folder of the user data directory holding ``<device id>/`` model directories
#: (:func:`hybridperf.residual.model.user_model_dir`)
USER_MODELS = "models"


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
    """Per-user data of hybridperf, always an absolute path: ``$HYBRIDPERF_HOME`` (``~`` expanded, a relative one
    taken from the working directory; empty: unset), else ``$XDG_DATA_HOME/hybridperf`` (relative: ignored, as the
    XDG spec says), else ``~/.local/share/hybridperf``, where ``~`` is ``$HOME`` when it is absolute, else the home
    directory of the password database. Not created here.

    Until 2026-12-04 ``HOME=`` (empty) gave ``/.local/share/hybridperf`` and a relative ``HOME`` a folder of the working
    directory, and a user with no home directory (a container's arbitrary uid, HOME unset) got exit 3 (RuntimeError).

    Raises
    ------
    InputError
        None of these names a home directory (imported then: the only import of hybridperf here).
    """
    home = os.environ.get(HOME_ENV)
    if home:
        if home.startswith("~"):
            home = os.path.join(_user_home(), home[2:]) if home == "~" or home.startswith("~/") else os.path.expanduser(home)
        return Path(os.path.abspath(home))
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path(_user_home()) / ".local" / "share"
    return base / "hybridperf"


def _user_home() -> str:
    """``$HOME`` when it is an absolute path, else the user's home directory in the password database."""
    home = os.environ.get("HOME", "")
    if os.path.isabs(home):
        return home
    try:
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    except ImportError:  # not a Unix
        home = str(Path.home()) if "HOME" not in os.environ else ""
    except (KeyError, OSError):  # no entry for this uid
        home = ""
    if not os.path.isabs(home):
        from hybridperf.errors import InputError

        raise InputError(f"no home directory to keep hybridperf's data in (HOME is {os.environ.get('HOME', 'unset')!r}"
                         f" and this user has none in the password database); set {HOME_ENV} to an absolute directory")
    return home


__all__ = ["HOME_ENV", "HOSTS_DIR", "HOST_MODEL_DIR", "USER_MODELS", "packaged_dir", "user_data_dir"]
