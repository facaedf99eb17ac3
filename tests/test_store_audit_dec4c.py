"""A stored model or user data home that is damaged, old or odd (2026-12-04 audit).

Each damaged store is built in ``tmp_path`` from the packaged ``host-epyc-1c`` model stored with ``save_model`` (no
measuring); LightGBM never parses a file the checks refuse, so the cases that crashed the process run in-process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hybridperf.cli import main
from hybridperf.errors import InputError

PKG_MODELS = Path(__file__).resolve().parents[1] / "hybridperf" / "data" / "models"
DEVICE = "host-epyc-1c"

# the fixtures home and stored: tests/conftest.py


def _refused(device: str = DEVICE) -> str:
    from hybridperf.residual.store import _load_cached, load_for_device

    _load_cached.cache_clear()
    with pytest.raises(InputError) as exc:
        load_for_device(device)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def _edit_sidecar(d: Path, **changes) -> None:
    side = d / "residual.json"
    meta = json.loads(side.read_text())
    meta.update(changes)
    side.write_text(json.dumps(meta))


RESET = f"`hybridperf calibrate --device {DEVICE} --reset` removes it"


# --------------------------------------------------------------------------- boosters cut short, emptied, swapped


def test_a_booster_cut_in_its_trees_is_refused(stored):
    """Until 2026-12-04: predict aborted (SIGABRT, `terminate called without an active exception`)."""
    text = (stored / "residual.txt").read_text()
    (stored / "residual.txt").write_text(text[:text.index("Tree=0") + 100])
    msg = _refused()
    assert msg.startswith(f"{stored / 'residual.txt'} is not a whole LightGBM model") and "cut short" in msg
    assert RESET in msg


def test_a_booster_cut_in_its_parameters_is_refused(stored):
    """Until 2026-12-04: predict crashed with SIGSEGV (LightGBM read past the end looking for `end of parameters`)."""
    text = (stored / "residual.txt").read_text()
    (stored / "residual.txt").write_text(text[:text.index("parameters:") + 40])
    assert "no `end of parameters`" in _refused()


def test_an_empty_booster_is_refused(stored):
    """Until 2026-12-04: exit 3, LightGBMError `Unknown model format`."""
    (stored / "residual.txt").write_text("")
    assert "the file is empty" in _refused()


def test_a_booster_of_other_features_is_refused(stored):
    """Until 2026-12-04: another model's booster (here the kernel booster as the model booster) was read as this
    one's."""
    (stored / "residual.txt").write_text((stored / "residual_kernel.txt").read_text())
    assert "it reads 36 features, the sidecar names 31" in _refused()  # KERNEL_INPUTS 32 + 4 context, MODEL 31


def test_a_directory_in_place_of_the_booster_is_refused(stored):
    """Until 2026-12-04: exit 3 (LightGBMError)."""
    (stored / "residual_kernel.txt").unlink()
    (stored / "residual_kernel.txt").mkdir()
    assert "residual_kernel.txt is not a readable LightGBM model (Is a directory)" in _refused()


@pytest.mark.parametrize("edit, why", [
    (lambda t: t.replace("left_child=1 -1", "left_child=1 -9"), "children do not make a tree"),  # a leaf past the end
    (lambda t: t.replace("left_child=1 -1", "left_child=0 -1"), "children do not make a tree"),  # a loop to the root
    (lambda t: t.replace("split_feature=2 19", "split_feature=2 31"), "a split on a feature past the 31"),
    (lambda t: t.replace("leaf_count=74 42 52", "leaf_count=7442 52 "), "not of its 3 leaves"),  # tree_sizes kept
    (lambda t: t.replace("leaf_count=74 42 52", "leaf_count=74 42 5="), "not a number"),
    (lambda t: t.replace("[objective: regression]", "[objective regression"), "not `[name: value]`"),
])
def test_a_booster_edited_where_lightgbm_does_not_check_is_refused(edit, why):
    """Each of these crashed or hung LightGBM's parser or predictor (a byte-flip fuzz of the packaged boosters: 6 of
    450 files crashed the process); the checks refuse them, and pass every packaged booster."""
    from hybridperf.residual.model import KERNEL_INPUTS, MODEL_FEATURES
    from hybridperf.residual.sidecar import booster_problem

    text = (PKG_MODELS / DEVICE / "residual.txt").read_text()
    assert booster_problem(text, MODEL_FEATURES) is None
    assert booster_problem((PKG_MODELS / DEVICE / "residual_kernel.txt").read_text(), KERNEL_INPUTS) is None
    one_leaf = _one_leaf_booster()  # what `calibrate --data` stores for a constant model booster
    assert booster_problem(one_leaf.model_to_string(), [f"f{i}" for i in range(3)]) is None
    assert edit(text) != text
    assert why in booster_problem(edit(text), MODEL_FEATURES)


def _one_leaf_booster():
    import lightgbm as lgb
    import numpy as np

    X = np.arange(30.0).reshape(10, 3)
    return lgb.train({"verbose": -1, "min_data_in_bin": 1}, lgb.Dataset(X, np.ones(10), feature_name=["f0", "f1", "f2"]),
                     num_boost_round=1)


# --------------------------------------------------------------------------- sidecars


@pytest.mark.parametrize("content, why", [
    ("{not json", "not JSON: Expecting property name enclosed in double quotes at line 1"),
    ("", "the file is empty"),
    ("[1, 2]", "a JSON list, not an object"),
    (b"\xff\xfe", "not UTF-8 text"),
])
def test_a_sidecar_that_is_not_one_is_refused(stored, content, why):
    """Until 2026-12-04: exit 3 (JSONDecodeError, UnicodeDecodeError, AttributeError)."""
    side = stored / "residual.json"
    side.write_bytes(content if isinstance(content, bytes) else content.encode())
    msg = _refused()
    assert msg.startswith(str(side)) and why in msg and RESET in msg


def test_a_sidecar_missing_its_keys_is_refused(stored):
    """Until 2026-12-04: exit 3 (KeyError 'params')."""
    (stored / "residual.json").write_text(json.dumps({"schema_version": 2, "features_version": "1"}))
    assert "is not a sidecar this hybridperf wrote (no 'params')" in _refused()


def test_a_directory_in_place_of_the_sidecar_is_refused(stored):
    """Until 2026-12-04: exit 3 (IsADirectoryError)."""
    (stored / "residual.json").unlink()
    (stored / "residual.json").mkdir()
    assert "residual.json is not a readable model sidecar (Is a directory)" in _refused()


def test_a_sidecar_of_a_newer_hybridperf_says_to_upgrade(stored):
    """Until 2026-12-04 it said `rerun hybridperf calibrate`, which would replace the newer model."""
    _edit_sidecar(stored, schema_version=3)
    msg = _refused()
    assert "schema 3 / features 1 are newer than this hybridperf's (schema 2, features 1); upgrade hybridperf, or" in msg
    assert RESET in msg


def test_a_sidecar_of_another_device_is_refused(stored):
    """Until 2026-12-04: an A100's model copied into models/host-epyc-1c priced host-epyc-1c, nothing said."""
    _edit_sidecar(stored, device="a100-sxm-80gb")
    assert "is a model of 'a100-sxm-80gb', not of 'host-epyc-1c' whose folder holds it" in _refused()


def test_the_host_folder_holding_another_devices_model_is_refused(home):
    """Until 2026-12-04: `predict --device host` used a model stored for another device in hosts/<key>/model."""
    from hybridperf.measure.host import host_model_dir
    from hybridperf.residual.model import ResidualModel
    from hybridperf.residual.store import save_model

    d = save_model(ResidualModel.load(PKG_MODELS / DEVICE), host_model_dir())
    with pytest.raises(InputError, match="not of 'host' whose folder holds it.*`hybridperf calibrate --device host "
                                         "--reset` removes it"):
        ResidualModel.load(d)


def test_a_booster_without_its_sidecar_is_refused_and_reset_removes_it(stored, capsys):
    """A calibrate killed while it stored (or a sidecar deleted): until 2026-12-04 the packaged model was used,
    silently, and `calibrate --reset` said "no calibrated model stored ... nothing removed", leaving the files."""
    (stored / "residual.json").unlink()
    msg = _refused()
    assert msg == (f"no residual model in {stored} (expected residual.txt and residual.json); {RESET} (predict then "
                   "uses the packaged model again), or calibrate again")
    assert main(["calibrate", "--device", DEVICE, "--reset"]) == 0
    assert "a model that does not load (incomplete or damaged)" in capsys.readouterr().out
    assert not stored.exists()


def test_reset_removes_a_booster_cut_short(stored, capsys):
    """Until 2026-12-04 `calibrate --reset` loaded the model to describe it and crashed (SIGSEGV): the damaged model
    could not be removed with the command its own error named."""
    text = (stored / "residual.txt").read_text()
    (stored / "residual.txt").write_text(text[:len(text) // 2])
    assert main(["devices", "show", DEVICE]) == 2
    assert RESET in capsys.readouterr().err
    assert main(["calibrate", "--device", DEVICE, "--reset"]) == 0
    assert not stored.exists()
    assert main(["devices", "show", DEVICE]) == 0


def test_a_stray_stage_of_a_killed_store_is_not_read(stored):
    """The folder a killed store leaves beside the model (``.ID.saving-PID``) is never taken for the model."""
    from hybridperf.residual.store import _load_cached, load_for_device

    stage = stored.parent / f".{DEVICE}.saving-999999999"
    stage.mkdir()
    (stage / "residual.txt").write_text("")
    _load_cached.cache_clear()
    assert load_for_device(DEVICE).device == DEVICE


# --------------------------------------------------------------------------- the user data home


def test_a_relative_home_is_made_absolute(tmp_path, monkeypatch):
    """Until 2026-12-04 a relative HYBRIDPERF_HOME was returned as given: messages named a folder of some working
    directory."""
    from hybridperf.data import user_data_dir

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HYBRIDPERF_HOME", "rel/home")
    assert user_data_dir() == tmp_path / "rel" / "home"
    monkeypatch.setenv("HYBRIDPERF_HOME", "")  # empty: unset
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert user_data_dir() == tmp_path / "xdg" / "hybridperf"


@pytest.mark.parametrize("value", ["", "relative"])
def test_an_empty_or_relative_home_is_not_taken(tmp_path, monkeypatch, value):
    """Until 2026-12-04 HOME= gave /.local/share/hybridperf and HOME=relative a folder of the working directory."""
    import pwd

    from hybridperf.data import user_data_dir

    monkeypatch.delenv("HYBRIDPERF_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", value)
    assert user_data_dir() == Path(pwd.getpwuid(os.getuid()).pw_dir) / ".local" / "share" / "hybridperf"


def test_no_home_at_all_is_one_line_and_packaged_models_still_price(homeless):
    """A container's uid with no passwd entry and HOME unset: until 2026-12-04 exit 3 (RuntimeError from
    Path.home()) for any command that looked for a stored model."""
    from hybridperf.data import user_data_dir
    from hybridperf.residual.model import model_search_path
    from hybridperf.residual.store import load_for_device

    with pytest.raises(InputError, match="no home directory to keep hybridperf's data in .*set HYBRIDPERF_HOME"):
        user_data_dir()
    assert model_search_path() == (PKG_MODELS,)
    assert load_for_device(DEVICE).device == DEVICE


# --------------------------------------------------------------------------- lead's follow-ups (2026-12-04 evening)


def test_host_with_a_booster_but_no_sidecar_is_refused(home):
    """Until 2026-12-04 `predict --device host` priced with the zero-shot model, without a word, where the host's model
    folder held a booster without its sidecar (a killed calibrate)."""
    from hybridperf.api import _host_residual
    from hybridperf.device.spec import load_spec
    from hybridperf.measure.host import host_model_dir
    from hybridperf.residual.model import ResidualModel
    from hybridperf.residual.store import save_model

    d = save_model(ResidualModel.load(PKG_MODELS / DEVICE), host_model_dir())
    (d / "residual.json").unlink()
    with pytest.raises(InputError, match="`hybridperf calibrate --device host --reset` removes it"):
        _host_residual(load_spec("host-epyc-zen5-1c"))


def test_reset_removes_a_directory_in_place_of_the_sidecar(stored, capsys):
    """Until 2026-12-04 `calibrate --reset` failed on it: "cannot remove ... Is a directory" (exit 2)."""
    (stored / "residual.json").unlink()
    (stored / "residual.json").mkdir()
    assert main(["calibrate", "--device", DEVICE, "--reset"]) == 0
    assert not stored.exists()


def test_a_sidecar_naming_another_alone_model_path_is_refused(tmp_path):
    """Until 2026-12-04 a cross-host sidecar's `alone_model` was joined onto the folder unchecked (`../x` read a
    model outside it)."""
    from hybridperf.residual.cross_host import ALONE_DIR, CrossHostModel

    meta = {"cross_host": {"host_features_version": __import__("hybridperf.residual.cross_host",
                                                                 fromlist=["HOST_FEATURES_VERSION"]).HOST_FEATURES_VERSION,
                           "host": None, "host_effects": []},
            "adaptation": {"alone_weight": 0.5, "alone_model": "../elsewhere"}}
    with pytest.raises(InputError, match=f"names the few-shot alone model '../elsewhere', not '{ALONE_DIR}'"):
        CrossHostModel()._read_sidecar_extra(meta, tmp_path / "m")
