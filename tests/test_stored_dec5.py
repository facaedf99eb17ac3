"""A stored model's sidecar edited by hand is refused in one line naming it and the fix (2026-12-05).

Until 2026-12-05 ``ResidualModel.load`` read the sidecar's figures as they came: an ``overhead_s`` of ``NaN``
(Python's JSON reader takes it), ``-1`` or ``true`` priced NaN, a negative or a +1 s latency; an adaptation or a sheet
of another type, an adaptation missing a key or with scales of another length, a ``trained_on`` that is a number and
``params.context`` of ``false`` beside a kernel booster of context features were exit 3 (KeyError, TypeError,
IndexError, LightGBMError); ``seen_families`` given as a string was read as its letters (every kernel at roofline); and
a plausible figure edited by hand (an overhead x100, an adaptation's offset) priced as the model stored, silently. A
sidecar now records the sha256 of its figures that price (``figures_sha256``) and a sidecar whose figures are not
those is refused; sidecars written before 2026-12-05 (the packaged ones) record none and load as before, their figures
checked for type and range.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hybridperf.cli import main
from hybridperf.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "squeezenet1_1.onnx"
PKG = ROOT / "hybridperf" / "data" / "models"
DEVICE = "host-epyc-1c"
RESET = f"`hybridperf calibrate --device {DEVICE} --reset` removes it"


def _edit(d: Path, edit) -> None:
    side = d / "residual.json"
    meta = json.loads(side.read_text())
    edit(meta)
    side.write_text(json.dumps(meta))  # json.dumps writes NaN as `NaN`, which json.loads reads back


def _refused(d: Path) -> str:
    from hybridperf.residual.store import _load_cached, load_for_device

    _load_cached.cache_clear()
    with pytest.raises(InputError) as exc:
        load_for_device(d.name)
    msg = str(exc.value)
    assert "\n" not in msg and str(d / "residual.json") in msg
    assert f"`hybridperf calibrate --device {d.name} --reset` removes it" in msg
    return msg


def _set(key, value):
    return lambda meta: meta.__setitem__(key, value)


def _adapt(**a):
    return _set("adaptation", {"method": "offset", "offset": 0.1, "slope": 0.0, "center": -5.0, "k": 3, **a})


def _without_figures_digest(edit):
    """``edit``, on a sidecar written before 2026-12-05 (no ``figures_sha256``): its figures are checked by type."""
    def both(meta):
        meta.pop("figures_sha256")
        edit(meta)
    return both


@pytest.mark.parametrize("edit, said", [
    # until 2026-12-05: priced NaN, inf, -0.99 s and +1 s (JSON true is 1.0)
    (_set("overhead_s", math.nan), "its overhead_s nan is not a finite number of at least 0"),
    (_set("overhead_s", math.inf), "its overhead_s inf is not a finite number of at least 0"),
    (_set("overhead_s", -1.0), "its overhead_s -1.0 is not a finite number of at least 0"),
    (_set("overhead_s", True), "its overhead_s True is not a finite number of at least 0"),
    # until 2026-12-05: read as its letters, every kernel priced at roofline ("no kernel of a trained op family")
    (_set("seen_families", "conv"), "its seen_families is not a list of names"),
    (_set("n_train", -5), "its n_train -5 is not an integer of at least 0"),
    # until 2026-12-05: "no" read as true; false beside a kernel booster of 36 features, a LightGBMError (exit 3)
    (lambda m: m["params"].__setitem__("context", "no"), "its params' context 'no' is not a bool"),
    (lambda m: m["params"].__setitem__("context", False),
     "its kernel booster reads 36 features, with the context features, and its params' context is false"),
    # until 2026-12-05: NaN priced NaN; the others were KeyError, TypeError, IndexError (exit 3)
    (_adapt(offset=math.nan), "its adaptation's offset nan is not a finite number"),
    (_set("adaptation", {"method": "offset"}), "its adaptation has no 'offset'"),
    (_set("adaptation", [1]), "its adaptation is a JSON list, not an object"),
    (_adapt(method="group_scales", group_scales=[1.0]), "its adaptation's group_scales are not 6 finite positive"),
    (_adapt(method="group_scales", group_scales=[math.nan] * 6), "its adaptation's group_scales are not 6 finite"),
    # until 2026-12-05: TypeError, AttributeError (exit 3)
    (_set("trained_on", 5), "its trained_on 5 is not a date"),
    (_set("sheet", "x"), "its sheet is a JSON str, not an object"),
])
def test_a_figure_of_another_type_or_range_is_refused(stored, edit, said):
    _edit(stored, _without_figures_digest(edit))
    msg = _refused(stored)
    assert f"{stored / 'residual.json'} is not a sidecar this hybridperf wrote ({said}" in msg


@pytest.mark.parametrize("name, edit", [
    (DEVICE, lambda m: m.__setitem__("overhead_s", m["overhead_s"] * 100)),  # until 2026-12-05: 9.37 -> 19.3 ms
    (DEVICE, _adapt(offset=2.0)),  # until 2026-12-05: every figure e**2 = 7.39 times the model's
    (DEVICE, _set("seen_families", [])),
    (DEVICE, lambda m: m.__setitem__("kernel_file", None)),  # until 2026-12-05: priced without its kernel booster
    ("cross-host-cpu", lambda m: m["cross_host"]["host_effects"][0].__setitem__("log_offset", 1.0)),
], ids=["overhead", "offset", "families", "kernel_file", "host_effect"])
def test_a_figure_edited_by_hand_is_refused(home, name, edit):
    from hybridperf.residual.model import ResidualModel
    from hybridperf.residual.store import _load, save_model

    model = _load(PKG / name)
    d = save_model(model, home / "models" / model.device)  # host-epyc-1c, cross-host
    _edit(d, edit)
    msg = _refused(d)
    assert f"{d / 'residual.json'} was edited since hybridperf stored it (its figures that price" in msg
    assert ResidualModel.load(PKG / DEVICE).booster_ is not None  # the packaged one is not concerned


def test_a_stored_model_and_its_words_edited_still_load(stored):
    """What is not priced (the sheet, the label, metrics: sidecars before them lack them) is not in the digest."""
    from hybridperf.residual.model import ResidualModel

    assert isinstance(json.loads((stored / "residual.json").read_text())["figures_sha256"], str)
    _edit(stored, lambda m: (m.pop("sheet"), m["params"].pop("label"), m.__setitem__("metrics", {})))
    assert ResidualModel.load(stored).label == "latency_s"  # LEGACY_LABEL


@pytest.mark.parametrize("name", ["host-epyc-1c", "cross-host-cpu"])
def test_a_stored_model_round_trips_its_figures_digest(home, name):
    from hybridperf.residual.store import _load, save_model

    model = _load(PKG / name)
    d = save_model(model, home / "models" / model.device)
    assert _load(d).overhead_s_ == _load(PKG / name).overhead_s_
    # host-epyc-1c's packaged sidecar predates the digest: read, checked by type, unverified; the cross-host model was
    # stored again on 2026-12-06 (three more training hosts) and carries one
    digest = "figures_sha256" in json.loads((PKG / name / "residual.json").read_text())
    assert digest == (name == "cross-host-cpu")


def test_a_version_of_another_json_type_is_shown_as_such(stored):
    # until 2026-12-05: "schema 2 / features 1 do not match this hybridperf's (schema 2, features 1)"
    _edit(stored, _set("schema_version", "2"))
    msg = _refused(stored)
    assert 'schema "2" (a JSON string, not a number) / features 1 do not match this hybridperf\'s (schema 2' in msg


def test_predict_with_an_edited_stored_model_is_exit_2_in_one_line(stored, capsys):
    _edit(stored, lambda m: m.__setitem__("overhead_s", m["overhead_s"] * 100))
    from hybridperf.residual.store import _load_cached

    _load_cached.cache_clear()
    assert main(["predict", str(EXAMPLE), "--batch", "1", "--device", DEVICE]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was edited since hybridperf stored it" in err[0] and RESET in err[0]
