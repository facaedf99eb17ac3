"""Stored models and calibrate's options after the 2026-12-04 tidy: booster digests, the booster check's one parse,
one table of calibrate's refusals, one home for where a calibration stores and for removing a stored model.

Stores are built in ``tmp_path`` from the packaged ``host-epyc-1c`` model stored with ``save_model`` (no measuring).
"""

from __future__ import annotations

import json
import re
from argparse import Namespace
from pathlib import Path

import pytest

from hybridperf.cli import main
from hybridperf.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
PKG_MODELS = ROOT / "hybridperf" / "data" / "models"
DEVICE = "host-epyc-1c"  # the packaged model the fixtures home and stored (tests/conftest.py) store
RESET = f"`hybridperf calibrate --device {DEVICE} --reset` removes it"

from test_store_audit_dec4c import _refused  # noqa: E402  (the same device's loader refusal, one home)


def _edit_leaf_value(text: str) -> str:
    """``text`` with the first digit of its first leaf value changed in place: the same length and structure, so
    :func:`~hybridperf.residual.sidecar.booster_problem` passes it."""
    m = re.search(r"\nleaf_value=-?(\d)", text)
    digit = m.group(1)
    return text[:m.start(1)] + ("1" if digit != "1" else "2") + text[m.end(1):]


# --------------------------------------------------------------------------- booster digests


def test_save_records_each_boosters_sha256(stored):
    import hashlib

    meta = json.loads((stored / "residual.json").read_text())
    assert meta["sha256"] == {
        name: hashlib.sha256((stored / name).read_text().encode("utf-8")).hexdigest()
        for name in ("residual.txt", "residual_kernel.txt")}


@pytest.mark.parametrize("booster", ["residual.txt", "residual_kernel.txt"])
def test_a_booster_with_numbers_edited_in_place_is_refused(stored, booster):
    """Until 2026-12-04 a leaf value edited in place (structure intact) was read as the model stored, and priced."""
    from hybridperf.residual.model import KERNEL_INPUTS, MODEL_FEATURES
    from hybridperf.residual.sidecar import booster_problem

    path = stored / booster
    edited = _edit_leaf_value(path.read_text())
    names = MODEL_FEATURES if booster == "residual.txt" else KERNEL_INPUTS
    assert booster_problem(edited, names) is None  # what the structure checks cannot see
    path.write_text(edited)
    msg = _refused()
    assert msg.startswith(f"{path} is not the booster stored with its sidecar (its sha256 is not the one recorded")
    assert RESET in msg


def test_an_edited_booster_is_one_line_exit_2_in_predict(stored, capsys):
    (stored / "residual.txt").write_text(_edit_leaf_value((stored / "residual.txt").read_text()))
    assert main(["predict", str(ROOT / "examples" / "squeezenet1_1.onnx"), "-d", DEVICE]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not the booster stored with its sidecar" in err[0] and RESET in err[0]


def test_reset_removes_an_edited_booster(stored, capsys):
    (stored / "residual.txt").write_text(_edit_leaf_value((stored / "residual.txt").read_text()))
    assert main(["calibrate", "--device", DEVICE, "--reset"]) == 0
    assert not stored.exists()


def test_a_sidecar_without_digests_still_loads(stored):
    """Sidecars saved before 2026-12-04 record no digest: their boosters are read unverified, as before."""
    from hybridperf.residual.model import ResidualModel

    side = stored / "residual.json"
    meta = json.loads(side.read_text())
    del meta["sha256"]
    side.write_text(json.dumps(meta))
    (stored / "residual.txt").write_text(_edit_leaf_value((stored / "residual.txt").read_text()))
    assert ResidualModel.load(stored).device == DEVICE


@pytest.mark.parametrize("name", ["host-epyc-1c", "cross-host-cpu"])
def test_packaged_models_load(name):
    from hybridperf.residual.model import ResidualModel
    from hybridperf.residual.store import _load

    # the packaged sidecars record their boosters' digests (added 2026-12-04), so they load verified
    side = json.loads((PKG_MODELS / name / "residual.json").read_text())
    assert set(side["sha256"]) == {"residual.txt", "residual_kernel.txt"}
    loaded = _load(PKG_MODELS / name) if name == "cross-host-cpu" else ResidualModel.load(PKG_MODELS / name)
    assert loaded.booster_ is not None


@pytest.mark.parametrize("digests", [["x"], {"residual.txt": 1}])
def test_a_sidecar_with_digests_not_written_by_hybridperf_is_refused(stored, digests):
    side = stored / "residual.json"
    meta = json.loads(side.read_text())
    meta["sha256"] = digests
    side.write_text(json.dumps(meta))
    msg = _refused()
    assert "is not a sidecar this hybridperf wrote (its sha256 is not a map of file names to digests)" in msg
    assert RESET in msg


def test_a_cross_host_model_and_its_alone_model_record_digests(tmp_path):
    from hybridperf.residual.store import _load

    m = _load(PKG_MODELS / "cross-host-cpu")
    d = m.save(tmp_path / "m")
    assert set(json.loads((d / "residual.json").read_text())["sha256"]) == {"residual.txt", "residual_kernel.txt"}
    assert _load(d).booster_.model_to_string() == m.booster_.model_to_string()


# --------------------------------------------------------------------------- the booster check


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_a_categorical_split_on_a_threshold_not_finite_is_refused_not_raised(bad):
    """Until 2026-12-04 booster_problem raised (ValueError for nan, OverflowError for inf) out of ResidualModel.load:
    exit 3 instead of the one line naming the fix."""
    from hybridperf.residual.model import MODEL_FEATURES
    from hybridperf.residual.sidecar import booster_problem

    text = (PKG_MODELS / DEVICE / "residual.txt").read_text()
    m = re.search(r"\nthreshold=(\S+)", text)
    first = m.group(1)
    assert len(first) >= 4
    edited = text[:m.start(1)] + bad.ljust(len(first)) + text[m.end(1):]  # tree_sizes kept
    edited = re.sub(r"\ndecision_type=(\d+)", lambda d: f"\ndecision_type={int(d.group(1)) | 1}", edited, count=1)
    assert booster_problem(edited, MODEL_FEATURES) == "tree 0: its categorical splits do not match its categories"


@pytest.mark.parametrize("old, new, why", [
    ("split_feature=2 19", "split_feature=2.0 19", "invalid literal for int() with base 10: '2.0' is missing or not a number"),
    ("split_feature=2 19", "split_feature=x 19", "`split_feature` holds a value that is not a number"),
    ("leaf_count=74 42 52", "leaf_count=74 42 5=", "`leaf_count` holds a value that is not a number"),
    ("num_leaves=3", "num_leaves=x", "`num_leaves` holds a value that is not a number"),
])
def test_the_booster_checks_words_are_kept(old, new, why):
    """One parse of a tree's numbers (until 2026-12-04 each was parsed twice): the same words for each problem."""
    from hybridperf.residual.model import MODEL_FEATURES
    from hybridperf.residual.sidecar import booster_problem

    text = (PKG_MODELS / DEVICE / "residual.txt").read_text()
    assert old in text
    assert booster_problem(text.replace(old, new, 1), MODEL_FEATURES) == f"tree 0: {why}"


# --------------------------------------------------------------------------- the store


def test_a_store_over_a_folder_in_place_of_the_sidecar_replaces_it(stored, capsys):
    """Until 2026-12-04 storing there failed ("cannot store the model in ...: Is a directory"): the damaged sidecar
    was unlinked as a file; `--reset` removed it, storing did not."""
    from hybridperf.residual.model import ResidualModel
    from hybridperf.residual.store import save_model

    (stored / "residual.json").unlink()
    (stored / "residual.json").mkdir()
    save_model(ResidualModel.load(PKG_MODELS / DEVICE), stored)
    assert ResidualModel.load(stored).device == DEVICE


def test_remove_model_leaves_the_users_files(stored):
    from hybridperf.residual.store import remove_model

    (stored / "notes.txt").write_text("mine")
    remove_model(stored)
    assert sorted(p.name for p in stored.iterdir()) == ["notes.txt"]
    (stored / "notes.txt").unlink()
    remove_model(stored)  # nothing stored: the empty folder goes
    assert not stored.exists()


# --------------------------------------------------------------------------- calibrate's options and folders


def _args(**given) -> Namespace:
    keys = ("shots", "batch", "threads", "rounds", "seed", "few_shot", "base_device", "target", "runtime", "models",
            "dtype")
    return Namespace(**{k: given.get(k) for k in keys})


@pytest.mark.parametrize("flow, given, line", [
    ("gpu-data", {"rounds": 3, "few_shot": 2}, "--few-shot is for CPU calibration; a GPU calibration adapts on every "
                                                "measured model and reports leave-one-out error"),
    ("gpu-data", {"seed": 1, "threads": 2}, "--threads is for CPU calibration: GPU runtimes are not timed by thread "
                                             "count"),
    ("gpu-measure", {"models": "x"}, "--models goes with --data (where the rows' onnx_file are); --measure names its "
                                     ".pt2 files"),
    ("gpu-measure", {"dtype": "fp16", "rounds": 3}, "--rounds goes with a CPU --measure (onnxruntime's interleaved "
                                                    "rounds); a GPU --measure does not read it: drop --rounds"),
    ("cpu-data", {"threads": 2, "shots": 2}, "--shots goes with --measure; a CPU --data adapts on K of its rows with "
                                             "--few-shot K --base-device ID"),
    ("cpu-data", {"batch": 2, "shots": 2}, "--batch goes with --measure (the rows of --data carry their own shapes)"),
])
def test_one_table_of_refusals_own_words_first(flow, given, line):
    from hybridperf.commands.calibrate_options import refuse_unread

    with pytest.raises(InputError) as exc:
        refuse_unread(_args(**given), flow)
    assert str(exc.value) == line


def test_stored_in(home):
    from hybridperf.commands.calibrate_options import stored_in
    from hybridperf.measure.host import host_dir, host_model_dir

    assert stored_in("x", "/o") == (Path("/o"), Path("/o/calibration"))
    assert stored_in(DEVICE, None) == (home / "models" / DEVICE, home / "calibration" / DEVICE)
    assert stored_in("host", None) == (host_model_dir(), host_dir() / "calibration")


def test_reset_out_needs_no_data_home(tmp_path, capsys, homeless):
    """`--reset --out DIR` touches only DIR: until 2026-12-04 it looked up the data home first (for the folders it
    then did not use), so where there is none (HOME unset, no passwd entry) it failed, exit 2."""
    from hybridperf.residual.model import ResidualModel
    from hybridperf.residual.store import save_model

    out = save_model(ResidualModel.load(PKG_MODELS / DEVICE), tmp_path / "mine")
    assert main(["calibrate", "--device", DEVICE, "--reset", "--out", str(out)]) == 0, capsys.readouterr().err
    assert not out.exists()
