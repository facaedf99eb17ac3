"""What a non-editable install needs: data files inside the package, user data outside it, imports that bind.

The wheel itself is built, installed into a fresh environment and run from an empty directory by
``.ci/wheel_check.sh`` (a stage of ``.ci/run``).
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

import hybridperf
from hybridperf.cli import main
from hybridperf.data import packaged_dir, user_data_dir
from hybridperf.residual.model import (
    SIDECAR_FILE,
    find_model_dir,
    model_search_path,
    user_model_dir,
)
from hybridperf.residual.store import load_for_device

PACKAGE = Path(hybridperf.__file__).parent
ROOT = PACKAGE.parent


def test_data_files_live_in_the_package():
    assert packaged_dir("hw_specs") == PACKAGE / "data" / "hw_specs"
    assert (packaged_dir("hw_specs") / "host-epyc-1c.yaml").exists()
    assert (packaged_dir("models") / "host-epyc-1c" / SIDECAR_FILE).exists()


def test_package_data_globs_cover_every_data_file():
    """pyproject's package-data for hybridperf.data ships every file under hybridperf/data/."""
    import tomllib

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["hybridperf.data"]
    data = PACKAGE / "data"
    shipped = {p for g in globs for p in data.glob(g)}
    files = {p for p in data.rglob("*") if p.is_file() and p.suffix != ".pyc" and p.name != "__init__.py"}
    assert files - shipped == set()


def test_user_data_dir_follows_hybridperf_home_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "hp"))
    assert user_data_dir() == tmp_path / "hp"
    monkeypatch.delenv("HYBRIDPERF_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert user_data_dir() == tmp_path / "xdg" / "hybridperf"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")  # ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_data_dir() == tmp_path / "home" / ".local" / "share" / "hybridperf"


def test_user_models_come_before_packaged_ones(monkeypatch, tmp_path):
    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path))
    assert model_search_path() == (tmp_path / "models", packaged_dir("models"))
    assert find_model_dir("host-epyc-1c") == packaged_dir("models") / "host-epyc-1c"
    assert load_for_device("host-epyc-1c").device == "host-epyc-1c"
    mine = user_model_dir() / "host-epyc-1c"
    shutil.copytree(packaged_dir("models") / "host-epyc-1c", mine)
    assert find_model_dir("host-epyc-1c") == mine
    assert find_model_dir("no-such-device") is None


def test_calibrate_stores_in_the_user_data_dir_by_default(monkeypatch, tmp_path, capsys):
    """Not inside the installed package: few-shot adaptation of the shipped model, no --out."""
    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    data = ROOT / "calibration" / "host-xeon-2c"  # rows featurized for host-xeon-2c's sheet
    if not (data / "features.csv").exists():
        pytest.fail(f"{data}/features.csv is missing")
    code = main(["calibrate", "-d", "host-xeon-2c", "--data", str(data), "--few-shot", "5", "--base-device", "host-epyc-1c"])
    assert code == 0, capsys.readouterr().err
    assert find_model_dir("host-xeon-2c") == tmp_path / "home" / "models" / "host-xeon-2c"


#: submodules that ``import PACKAGE`` does not bind
SUBMODULES = frozenset({"importlib.util", "importlib.metadata", "importlib.resources", "importlib.machinery",
                        "concurrent.futures", "logging.handlers", "logging.config", "urllib.parse", "urllib.request",
                        "xml.etree", "email.utils"})


def _unbound_submodule_uses(source: str) -> set[str]:
    """``importlib.util.x`` style uses of a :data:`SUBMODULES` entry the file never imports
    (``import importlib`` alone works only where something else imported ``importlib.util`` first)."""
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported |= {f"{node.module}.{a.name}" for a in node.names}
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            used.add(f"{node.value.id}.{node.attr}")
    return (used & SUBMODULES) - imported


def test_submodules_are_imported_where_used():
    bad = {str(p.relative_to(ROOT)): sorted(_unbound_submodule_uses(p.read_text())) for p in PACKAGE.rglob("*.py")}
    assert {k: v for k, v in bad.items() if v} == {}
    assert _unbound_submodule_uses("import importlib\nimportlib.util.find_spec('x')\n") == {"importlib.util"}
