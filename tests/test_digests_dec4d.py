"""Booster digests of every stored model (2026-12-04): the cross-device model (its bag and specialists) and the
kernel-time model's members are written and read through :mod:`hybridperf.residual.sidecar` as the per-device
residual is, and a sidecar's digest map that lacks a booster it reads is refused.

Cross-device stores are the packaged model cut to one bag member and one specialist (no training).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from hybridperf.cli import main
from hybridperf.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
PKG_MODELS = ROOT / "hybridperf" / "data" / "models"
DEVICE = "host-epyc-1c"
RESET = f"`hybridperf calibrate --device {DEVICE} --reset` removes it"
RETRAIN = "; retrain the model"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_text().encode("utf-8")).hexdigest()


def _edit_leaf_value(text: str) -> str:
    """``text`` with the first digit of its first leaf value changed in place (structure intact)."""
    m = re.search(r"\nleaf_value=-?(\d)", text)
    return text[:m.start(1)] + ("1" if m.group(1) != "1" else "2") + text[m.end(1):]


def _cut(path: Path) -> None:
    text = path.read_text()
    path.write_text(text[:text.index("Tree=0") + 100])


def _edit_sidecar(path: Path, edit) -> None:
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def small_cross_device():
    """The packaged cross-device model with one bag member and one specialist."""
    from hybridperf.residual.cross_device import CrossDeviceModel

    m = copy.copy(CrossDeviceModel.load(PKG_MODELS / "cross-device"))
    m.bag_, m.bag_groups_ = [m.bag_[0]], m.bag_groups_[:1]
    m.specialists_, m.specialist_groups_ = [m.specialists_[0]], m.specialist_groups_[:1]
    return m


@pytest.fixture
def cd_dir(small_cross_device, tmp_path):
    return small_cross_device.save(tmp_path / "cd")


@pytest.fixture
def kt_dir(small_cross_device, tmp_path):
    """A kernel-time model of two members (the cut cross-device model, and its bag member as the second)."""
    from hybridperf.residual.kernel_time import KernelTimeModel

    first = copy.copy(small_cross_device)
    first.bag_, first.bag_groups_, first.specialists_, first.specialist_groups_ = [], (), [], ()
    second = copy.copy(first)
    second.booster_ = small_cross_device.bag_[0]
    m = KernelTimeModel(bag=2)
    m.members_, m.dispatch_weights_, m.default_floor_s_ = [first, second], {"add": 1.0}, first.default_floor_s_
    return m.save(tmp_path / "kt")


# --------------------------------------------------------------------------- cross-device model


def test_cross_device_save_records_each_boosters_sha256(cd_dir):
    """Until 2026-12-04 the cross-device sidecar recorded no digest (boosters written by LightGBM's save_model)."""
    meta = json.loads((cd_dir / "cross_device.json").read_text())
    names = ["cross_device.txt", "cross_device.bag1.txt", "cross_device.specialist1.txt"]
    assert meta["sha256"] == {n: _sha(cd_dir / n) for n in names}
    assert meta["bag_files"] == names[1:2] and meta["specialist_files"] == names[2:]


def test_cross_device_round_trip(cd_dir, small_cross_device):
    from hybridperf.residual.cross_device import CrossDeviceModel

    m = CrossDeviceModel.load(cd_dir)
    for got, want in [(m.booster_, small_cross_device.booster_), (m.bag_[0], small_cross_device.bag_[0]),
                      (m.specialists_[0], small_cross_device.specialists_[0])]:
        assert got.model_to_string() == want.model_to_string()


@pytest.mark.parametrize("name", ["cross_device.txt", "cross_device.bag1.txt"])
def test_cross_device_booster_edited_in_place_is_refused(cd_dir, name):
    """Until 2026-12-04 a cross-device booster edited in place was read as the model stored."""
    from hybridperf.residual.cross_device import CrossDeviceModel

    path = cd_dir / name
    path.write_text(_edit_leaf_value(path.read_text()))
    with pytest.raises(InputError) as exc:
        CrossDeviceModel.load(cd_dir)
    msg = str(exc.value)
    assert msg.startswith(f"{path} is not the booster stored with its sidecar") and msg.endswith(RETRAIN)


def test_cross_device_specialist_edited_is_refused_when_first_read(cd_dir):
    from hybridperf.residual.cross_device import CrossDeviceModel

    path = cd_dir / "cross_device.specialist1.txt"
    path.write_text(_edit_leaf_value(path.read_text()))
    m = CrossDeviceModel.load(cd_dir)  # specialists are read on first use
    with pytest.raises(InputError, match="is not the booster stored with its sidecar"):
        m.specialists_[0]


@pytest.mark.parametrize("name", ["cross_device.txt", "cross_device.bag1.txt", "cross_device.specialist1.txt"])
def test_cross_device_booster_cut_short_without_digests_is_refused_not_a_crash(cd_dir, name):
    """Until 2026-12-04 LightGBM read the cross-device boosters unchecked: one cut short aborted the process
    (SIGABRT) or was exit 3. A sidecar without digests (the packaged one) still gets the structure check."""
    from hybridperf.residual.cross_device import CrossDeviceModel

    _edit_sidecar(cd_dir / "cross_device.json", lambda meta: meta.pop("sha256"))
    _cut(cd_dir / name)
    with pytest.raises(InputError) as exc:
        m = CrossDeviceModel.load(cd_dir)
        m.specialists_[0]
    msg = str(exc.value)
    assert msg.startswith(f"{cd_dir / name} is not a whole LightGBM model") and "cut short" in msg
    assert msg.endswith(RETRAIN)


def test_cross_device_digest_map_without_a_member_is_refused(cd_dir):
    """Until 2026-12-04 (once digests were recorded) a member the map did not name was read unverified."""
    from hybridperf.residual.cross_device import CrossDeviceModel

    _edit_sidecar(cd_dir / "cross_device.json", lambda meta: meta["sha256"].pop("cross_device.specialist1.txt"))
    with pytest.raises(InputError) as exc:
        CrossDeviceModel.load(cd_dir)
    assert str(exc.value) == (f"{cd_dir / 'cross_device.json'} is not a sidecar this hybridperf wrote (its sha256 "
                              f"records no digest of cross_device.specialist1.txt){RETRAIN}")


def test_packaged_cross_device_model_loads_every_member():
    from hybridperf.residual.cross_device import CrossDeviceModel

    m = CrossDeviceModel.load(PKG_MODELS / "cross-device")
    assert len(m.bag_) == len(m.specialists_) == 5
    assert all(s.num_trees() > 0 for s in m.specialists_)


def test_cross_device_saves_and_loads_in_a_folder_not_utf8(small_cross_device, tmp_path):
    """Until 2026-12-04: UnicodeEncodeError (exit 3) from LightGBM's C path for such a folder."""
    from hybridperf.residual.cross_device import CrossDeviceModel

    d = small_cross_device.save(tmp_path / os.fsdecode(b"caf\xe9"))
    assert CrossDeviceModel.load(d).specialists_[0].num_trees() > 0


# --------------------------------------------------------------------------- kernel-time model


def test_kernel_time_records_member_digests_and_round_trips(kt_dir, small_cross_device):
    from hybridperf.residual.kernel_time import KernelTimeModel

    meta = json.loads((kt_dir / "kernel_time.json").read_text())
    assert meta["member_files"] == ["kernel_member_1.txt"]
    assert meta["sha256"] == {"kernel_member_1.txt": _sha(kt_dir / "kernel_member_1.txt")}
    m = KernelTimeModel.load(kt_dir)
    assert m.members_[1].booster_.model_to_string() == small_cross_device.bag_[0].model_to_string()


def test_kernel_time_member_edited_is_refused(kt_dir):
    """Until 2026-12-04 a kernel-time member was read by LightGBM unverified."""
    from hybridperf.residual.kernel_time import KernelTimeModel

    path = kt_dir / "kernel_member_1.txt"
    path.write_text(_edit_leaf_value(path.read_text()))
    with pytest.raises(InputError, match="is not the booster stored with its sidecar"):
        KernelTimeModel.load(kt_dir)


def test_kernel_time_member_cut_short_without_digests_is_refused_not_a_crash(kt_dir):
    """Until 2026-12-04 a member cut short aborted the process in LightGBM's parser; sidecars without digests (the
    benchmark's saved model) still load, checked."""
    from hybridperf.residual.kernel_time import KernelTimeModel

    _edit_sidecar(kt_dir / "kernel_time.json", lambda meta: meta.pop("sha256"))
    assert len(KernelTimeModel.load(kt_dir).members_) == 2
    _cut(kt_dir / "kernel_member_1.txt")
    with pytest.raises(InputError, match="kernel_member_1.txt is not a whole LightGBM model.*cut short"):
        KernelTimeModel.load(kt_dir)


def test_kernel_time_digest_map_without_a_member_is_refused(kt_dir):
    from hybridperf.residual.kernel_time import KernelTimeModel

    _edit_sidecar(kt_dir / "kernel_time.json", lambda meta: meta["sha256"].clear())
    with pytest.raises(InputError, match=r"its sha256 records no digest of kernel_member_1.txt\); retrain the model"):
        KernelTimeModel.load(kt_dir)


def test_kernel_time_sidecar_not_json_is_one_line(kt_dir):
    """Until 2026-12-04: a JSONDecodeError out of KernelTimeModel.load (exit 3)."""
    from hybridperf.residual.kernel_time import KernelTimeModel

    (kt_dir / "kernel_time.json").write_text("{")
    with pytest.raises(InputError, match=r"kernel_time.json is not a readable model sidecar \(not JSON"):
        KernelTimeModel.load(kt_dir)


def test_benchmark_kernel_time_model_without_digests_loads():
    from hybridperf.residual.kernel_time import KernelTimeModel

    assert len(KernelTimeModel.load(ROOT / "benchmarks" / "models" / "cross-device-kernel").members_) == 5


def test_kernel_time_saves_and_loads_in_a_folder_not_utf8(kt_dir, tmp_path):
    from hybridperf.residual.kernel_time import KernelTimeModel

    d = KernelTimeModel.load(kt_dir).save(tmp_path / os.fsdecode(b"k\xe9"))
    assert len(KernelTimeModel.load(d).members_) == 2


# --------------------------------------------------------------------------- per-device residual: digest map


@pytest.fixture
def stored(tmp_path, monkeypatch):
    from hybridperf.residual.model import ResidualModel
    from hybridperf.residual.store import _load_cached, save_model

    home = tmp_path / "home"
    monkeypatch.setenv("HYBRIDPERF_HOME", str(home))
    _load_cached.cache_clear()
    return save_model(ResidualModel.load(PKG_MODELS / DEVICE), home / "models" / DEVICE)


@pytest.mark.parametrize("name", ["residual.txt", "residual_kernel.txt"])
def test_a_digest_map_without_a_booster_read_is_refused(stored, name, capsys):
    """Until 2026-12-04 a sidecar's sha256 map without an entry for a booster it reads left that booster unverified
    (an edited one was priced)."""
    _edit_sidecar(stored / "residual.json", lambda meta: meta["sha256"].pop(name))
    (stored / name).write_text(_edit_leaf_value((stored / name).read_text()))
    assert main(["predict", str(ROOT / "examples" / "squeezenet1_1.onnx"), "-d", DEVICE]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"hybridperf: error: {stored / 'residual.json'} is not a sidecar this hybridperf wrote (its sha256 records no "
        f"digest of {name}); {RESET}")


def test_a_verified_booster_still_has_its_features_checked(stored):
    """A booster whose digest matches skips the walk of its trees, not the check of its features against the
    sidecar's list (an edited ``kernel_features`` is refused, as before)."""
    from hybridperf.residual.model import ResidualModel

    _edit_sidecar(stored / "residual.json", lambda meta: meta.update(kernel_features=meta["kernel_features"][::-1]))
    with pytest.raises(InputError, match="residual_kernel.txt is not a whole LightGBM model of this model's features"):
        ResidualModel.load(stored)


# --------------------------------------------------------------------------- review: a matching digest keeps the layout checks

_CUT_AND_READ = """
import json, sys
from pathlib import Path
from hybridperf.errors import InputError
from hybridperf.residual.sidecar import booster_digest, read_booster
src, cut, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
text = src.read_text()
names = json.loads((src.parent / "residual.json").read_text())["model_features"]
at = {"mid-tree": text.index("Tree=0") + 200, "before-end": text.index("end of trees"),
      "mid-parameters": text.index("end of parameters") - 5}[cut]
out.write_text(text[:at])
try:
    read_booster(out, names, "; retrain the model", sha256=booster_digest(text[:at]))
except InputError as exc:
    print("REFUSED", exc)
else:
    print("READ")
"""


@pytest.mark.parametrize("cut, why", [
    ("mid-tree", "tree 0 of 1 is not where the header says"), ("before-end", "no `end of trees` after its last tree"),
    ("mid-parameters", "no `end of parameters` after its parameters")])
def test_a_booster_cut_short_whose_digest_matches_is_refused_not_a_crash(tmp_path, cut, why):
    """Until 2026-12-04 a digest that matched skipped every check but the features', so a booster cut short whose
    digest was recorded from the cut text reached LightGBM's parser (which reads past the end; it may abort the
    process): run in a subprocess. The cheap layout checks now always run; only each tree's arrays are vouched for."""
    import subprocess
    import sys

    src = PKG_MODELS / DEVICE / "residual.txt"
    p = subprocess.run([sys.executable, "-c", _CUT_AND_READ, str(src), cut, str(tmp_path / "residual.txt")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.startswith(f"REFUSED {tmp_path / 'residual.txt'} is not a whole LightGBM model of this model's "
                               f"features: {why}"), p.stdout
    assert p.stdout.rstrip().endswith("; retrain the model")
