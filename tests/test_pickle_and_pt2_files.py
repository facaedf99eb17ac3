"""Pickling by one rule, and torch files that are no torch.export program, 2026-12-04.

* ``Analyzed`` pickled itself through a private pickler nested in its ``__reduce__`` (a pickle inside the pickle);
  ``ModelAnalysis`` and ``OpRecord`` did not pickle on their own ("cannot pickle 'mappingproxy' object"). All three
  now reduce to their fields with each read-only mapping as a plain copy and are rebuilt read-only
  (:func:`hybridperf.analysis.cost_pass.reduce_read_only`), as ``DeviceSpec`` is.
* A ``torch.save`` checkpoint or a TorchScript archive named ``.pt2`` read "cannot read ... as a torch.export program
  (RuntimeError)", and a TorchScript ``.pt`` was called a pickle of weights: each is now named, with the fix. The
  files are built here as zip archives with the members torch writes, so no torch is needed.
"""

from __future__ import annotations

import collections
import copy
import json
import pickle
import zipfile
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from hybridperf import api
from hybridperf.analysis.cost_pass import ModelAnalysis
from hybridperf.cli import main
from hybridperf.errors import ModelLoadError
from hybridperf.frontends import torch_export
from hybridperf.frontends.load import load_model
from hybridperf.report.text import to_json

SQUEEZENET = "examples/squeezenet1_1.onnx"
PROTOCOLS = [0, 2, pickle.HIGHEST_PROTOCOL]


@pytest.fixture(scope="module")
def squeezenet():
    return api.analyze(SQUEEZENET)


def _read_only_mappings(analysis: ModelAnalysis) -> list:
    return [analysis.input_infos, analysis.weight_bytes_by_dtype, *(r.attrs for r in analysis.records)]


# --- 1. ModelAnalysis and OpRecord pickle on their own ----------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_op_record_pickles_on_its_own(squeezenet, protocol):
    conv = squeezenet.analysis.records[0]
    assert conv.op == "relax.nn.conv2d" and conv.attrs["strides"] == [2, 2]  # squeezenet's stem: attrs to carry
    back = pickle.loads(pickle.dumps(conv, protocol))
    assert back == conv and back is not conv
    assert type(back.attrs) is MappingProxyType and dict(back.attrs) == dict(conv.attrs)  # attrs: compare=False
    assert back.read_vars == conv.read_vars  # compare=False too
    with pytest.raises(TypeError):
        back.attrs["groups"] = 2  # type: ignore[index]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_model_analysis_pickles_on_its_own(squeezenet, protocol):
    analysis = squeezenet.analysis
    back = pickle.loads(pickle.dumps(analysis, protocol))
    assert back == analysis and back.flops == analysis.flops and back.output_vars == analysis.output_vars
    assert all(type(m) is MappingProxyType for m in _read_only_mappings(back))
    assert [dict(r.attrs) for r in back.records] == [dict(r.attrs) for r in analysis.records]
    assert dict(back.weight_bytes_by_dtype) == dict(analysis.weight_bytes_by_dtype)


def test_nested_read_only_mappings_come_back_read_only(squeezenet):
    """A read-only mapping among a read-only mapping's values comes back read-only, at any depth; a plain dict
    among them stays a plain dict (pickle, copy.copy and copy.deepcopy alike)."""
    inner = MappingProxyType({"z": MappingProxyType({"w": 1})})
    record = replace(squeezenet.analysis.records[0], attrs=MappingProxyType({"x": inner, "plain": {"p": 2}}))
    copies = [pickle.loads(pickle.dumps(record, p)) for p in PROTOCOLS] + [copy.copy(record), copy.deepcopy(record)]
    for back in copies:
        assert type(back.attrs) is MappingProxyType
        assert type(back.attrs["x"]) is MappingProxyType and type(back.attrs["x"]["z"]) is MappingProxyType
        assert back.attrs["x"]["z"]["w"] == 1
        assert type(back.attrs["plain"]) is dict and back.attrs["plain"] == {"p": 2}


def test_copies_of_the_records(squeezenet):
    analysis = squeezenet.analysis
    shallow = copy.copy(analysis)
    assert shallow == analysis and shallow is not analysis
    assert shallow.records is analysis.records  # shallow: the records are shared
    assert all(type(m) is MappingProxyType for m in _read_only_mappings(shallow))
    deep = copy.deepcopy(analysis)
    assert deep == analysis and deep.records[0] is not analysis.records[0]
    assert all(type(m) is MappingProxyType for m in _read_only_mappings(deep))
    record = analysis.records[0]
    for again in (copy.copy(record), copy.deepcopy(record)):
        assert again == record and type(again.attrs) is MappingProxyType and dict(again.attrs) == dict(record.attrs)


def test_analyzed_is_one_pickle_with_what_surrounds_it(squeezenet):
    """Its fields go into the caller's pickle (no pickle nested inside it): what they share with the objects
    pickled beside it stays shared, and the protocol asked for holds."""
    both = pickle.loads(pickle.dumps([squeezenet, squeezenet.analysis], 2))
    assert both[0].analysis is both[1]  # a nested pickle gave a second copy
    assert both[0] == squeezenet
    text = pickle.dumps(squeezenet, 0)
    assert text.isascii()  # protocol 0 all the way down (the nested pickle was binary, whatever the protocol)
    assert pickle.loads(text) == squeezenet


def test_analyzed_copies_stay_read_only(squeezenet):
    for again in (copy.copy(squeezenet), copy.deepcopy(squeezenet)):
        assert again == squeezenet
        assert all(type(m) is MappingProxyType for m in (again.input_shapes, again.timings_s, again.source_nodes,
                                                          *_read_only_mappings(again.analysis)))
    assert copy.copy(squeezenet).analysis is squeezenet.analysis


# --- 2. A Prediction round-trip prices identically -------------------------------------------------------------------


def _without_timings(report: str) -> dict:
    doc = json.loads(report)
    doc.pop("timings_s", None)
    return doc


def test_prediction_round_trip_prices_identically(squeezenet):
    pred = api.predict(squeezenet, "t4", runtime="auto")
    back = pickle.loads(pickle.dumps(pred))
    assert back == pred
    assert to_json(back) == to_json(pred)  # the whole JSON report, every kernel's figures in it
    again = api.predict(back.analyzed, back.spec, runtime="auto")  # priced anew from the unpickled pair
    assert _without_timings(to_json(again)) == _without_timings(to_json(pred))
    assert (again.latency_s, again.energy_j, again.peak_memory_bytes) == (pred.latency_s, pred.energy_j,
                                                                          pred.peak_memory_bytes)


# --- 3. torch files that hold no torch.export program ---------------------------------------------------------------


class Net:
    """Stands in for an nn.Module: ``torch.save(model)`` pickles it as its class, then NEWOBJ."""


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _checkpoint(path: Path, obj: object, protocol: int = 2) -> Path:
    """The layout ``torch.save`` writes (protocol 2 by default): one root folder, ``data.pkl``, storages in ``data/``."""
    return _zip(path, {"archive/data.pkl": pickle.dumps(obj, protocol), "archive/byteorder": b"little",
                       "archive/data/0": b"\0" * 16, "archive/version": b"3\n",
                       "archive/.data/serialization_id": b"1234"})


def _torchscript(path: Path) -> Path:
    """The layout ``torch.jit.save`` writes: ``data.pkl`` as torch.save's, with ``constants.pkl`` and ``code/``."""
    return _zip(path, {"m/data.pkl": pickle.dumps({}, 2), "m/constants.pkl": pickle.dumps((), 2),
                       "m/code/__torch__/m.py": b"class M(Module):\n  pass\n", "m/version": b"3\n",
                       "m/.data/version": b"3\n"})


@pytest.fixture
def no_torch_loader(monkeypatch):
    """The torch.export loader (which imports torch) must not be reached: these files are told apart without it."""
    def refuse(*args, **kwargs):
        raise AssertionError("load_pt2 reached")

    monkeypatch.setattr(torch_export, "load_pt2", refuse)


def _error(path: Path) -> str:
    with pytest.raises(ModelLoadError) as exc:
        load_model(path)
    return str(exc.value)


@pytest.mark.parametrize("name", ["model.pt2", "model.pt", "model.pth"])
def test_state_dict_checkpoint_is_named(tmp_path, no_torch_loader, name):
    path = _checkpoint(tmp_path / name, collections.OrderedDict(conv1_weight=[0.0]))
    msg = _error(path)
    assert msg.startswith(f"{path} is a torch.save checkpoint, not a torch.export program: ")
    assert "load_state_dict" in msg and "torch.export.export(model, example_inputs)" in msg
    assert "torch.export.save(program, 'model.pt2')" in msg and "\n" not in msg


def test_training_checkpoint_dict_is_a_checkpoint(tmp_path, no_torch_loader):
    path = _checkpoint(tmp_path / "ckpt.pt2", {"model": collections.OrderedDict(), "epoch": 3})
    assert _error(path).startswith(f"{path} is a torch.save checkpoint, not a torch.export program: ")


@pytest.mark.parametrize("protocol", [2, 4])  # GLOBAL, and STACK_GLOBAL (torch.save(..., pickle_protocol=4))
def test_whole_model_checkpoint_names_its_class(tmp_path, no_torch_loader, protocol):
    path = _checkpoint(tmp_path / "model.pt2", Net(), protocol)
    msg = _error(path)
    assert msg.startswith(f"{path} is a torch.save checkpoint of a whole model (")
    assert f"{Net.__module__}.Net), not a torch.export program" in msg
    assert "torch.load(path, weights_only=False)" in msg and "torch.export.save(program, 'model.pt2')" in msg


@pytest.mark.parametrize("name", ["model.pt2", "model.pt"])
def test_torchscript_archive_is_named(tmp_path, no_torch_loader, name):
    path = _torchscript(tmp_path / name)
    msg = _error(path)
    assert msg.startswith(f"{path} is a TorchScript archive (torch.jit.save), not a torch.export program: ")
    assert "torch.export.export(model, example_inputs)" in msg and "torch.save" not in msg


def test_legacy_pickle_named_pt2_is_a_checkpoint(tmp_path, no_torch_loader):
    path = tmp_path / "old.pt2"
    path.write_bytes(pickle.dumps(collections.OrderedDict(), 2))  # torch.save before torch 1.6: a bare pickle
    assert _error(path).startswith(f"{path} is a torch.save checkpoint, not a torch.export program: ")


@pytest.mark.parametrize(("name", "members"), [
    ("new.pt2", {"model/archive_format": b"pt2", "model/models/model.json": b"{}", "model/byteorder": b"little"}),
    ("old.pt2", {"old/serialized_exported_program.json": b"{}", "old/serialized_state_dict.pt": b"",
                 "old/version": b"1"}),
    ("renamed.pt", {"model/archive_format": b"pt2", "model/models/model.json": b"{}"}),
])
def test_export_archives_still_reach_the_torch_export_loader(tmp_path, monkeypatch, name, members):
    path = _zip(tmp_path / name, members)
    seen = []
    monkeypatch.setattr(torch_export, "load_pt2", lambda p, shapes, batch: seen.append(Path(p)) or "loaded")
    assert load_model(path) == "loaded" and seen == [path]


@pytest.mark.parametrize("data", [b"not a zip, not a pickle", b""])
def test_other_pt2_files_are_left_to_the_torch_export_loader(tmp_path, monkeypatch, data):
    path = tmp_path / "junk.pt2"
    path.write_bytes(data)
    seen = []
    monkeypatch.setattr(torch_export, "load_pt2", lambda p, shapes, batch: seen.append(Path(p)) or "loaded")
    assert load_model(path) == "loaded" and seen == [path]
    _zip(path, {"x/readme.txt": b"hello"})  # a zip, but nothing torch writes: the loader's message too
    assert load_model(path) == "loaded" and seen == [path, path]


def test_cli_names_a_renamed_checkpoint_in_one_line(tmp_path, capsys, no_torch_loader):
    path = _checkpoint(tmp_path / "resnet.pt2", collections.OrderedDict())
    code = main(["predict", str(path), "-d", "t4"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.splitlines() == [f"hybridperf: error: {path} is a torch.save checkpoint, not a torch.export program: "
                                "torch.save pickles hold weights, not a graph; load them into the model "
                                "(model.load_state_dict(...)) and export it with torch.export.export(model, "
                                "example_inputs) and torch.export.save(program, 'model.pt2'), and pass the .pt2 file "
                                "(or export to ONNX)"]
    assert "RuntimeError" not in err and "cannot read" not in err
