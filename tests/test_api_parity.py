"""The Python API against the CLI and its own contracts (audit of 2026-12-04):

* ``Session.predict_many`` passed no runtime (its peak was the TVM plan's: resnet_like on t4 241040 B where
  ``hybridperf predict-many`` gives PyTorch's 9807522 B) and took no ``shapes``, ``runtime`` or ``roofline_only``;
* ``Session.spec`` keyed a relative spec file by its text and kept its relative path (after ``os.chdir`` the
  sheet's ``path`` named another folder's file);
* ``CheckResult.predictions`` was a mutable dict inside a frozen dataclass;
* ``max_memory=float("inf")`` said "must be positive";
* :class:`~hybridperf.block_table.BlockTable`'s errors named the CLI's flags (``--batch N``) to Python callers.
"""

from __future__ import annotations

import copy
import json
import os
import pickle

import pytest

import hybridperf
from hybridperf import api
from hybridperf.cli import main
from hybridperf.errors import InputError

MODELS = ("resnet_like", "mobilenetv2_like", "bert_like")
DEVICES = ("t4", "host-epyc-1c")


def _cli_rows(capsys, paths, device, *flags):
    """``hybridperf predict-many`` rows (``--jobs 1``, JSON), by model path."""
    rc = main(["predict-many", *map(str, paths), "--device", device, "--jobs", "1", "--format", "json", *flags])
    out = capsys.readouterr().out
    assert rc == 0
    rows = json.loads(out)["models"]
    assert all(r["status"] == "ok" for r in rows), rows
    return {r["model"]: r for r in rows}


def _as_row(pred):
    """The figures of a ``predict-many`` row (:func:`hybridperf.commands._sweep.predict_row`) of ``pred``, as JSON
    gives them back."""
    return json.loads(json.dumps({
        "input_shapes": {k: list(v) for k, v in pred.analyzed.input_shapes.items()},
        "runtime": pred.runtime,
        "latency_s": pred.latency_s,
        "energy_j": pred.energy_j,
        "energy_note": pred.energy_note or None,
        "peak_memory_bytes": pred.peak_memory_bytes,
        "flops": pred.flops,
        "calibration": pred.calibration,
        "lower_bound": not pred.complete,
        "lower_bound_reason": pred.lower_bound_reason or None,
        "warnings": list(pred.warnings),
    }))


def _same(got, row):
    assert got == {k: row[k] for k in got}, row["model"]


def test_predict_many_gives_the_clis_rows_on_three_models_and_two_devices(model_dir, capsys):
    """Default options: every figure of every (model, device) is the command's, the peak the runtime's."""
    paths = [model_dir / f"{m}.onnx" for m in MODELS]
    preds = api.Session().predict_many(paths, list(DEVICES), batch=1)
    for device in DEVICES:
        rows = _cli_rows(capsys, paths, device, "--batch", "1")
        for i, p in enumerate(paths):
            _same(_as_row(preds[(i, device)]), rows[str(p)])
    # the audit's figure: the CLI's headline is PyTorch's peak on a GPU, onnxruntime's on a CPU, not the TVM plan's
    t4 = preds[(0, "t4")]
    assert t4.runtime == "torch" and t4.runtime_memory is not None
    assert t4.peak_memory_bytes == t4.runtime_memory.peak_bytes != t4.memory.peak_bytes
    assert preds[(0, "host-epyc-1c")].runtime == "onnxruntime"


def test_predict_many_takes_the_clis_options(model_dir, capsys):
    """``shapes``, ``precision``, ``roofline_only`` and ``runtime`` as ``--shape``, ``--precision``,
    ``--roofline-only`` and ``--runtime``: the same rows."""
    paths = [model_dir / f"{m}.onnx" for m in ("resnet_like", "mobilenetv2_like")]
    s = api.Session()
    for device, runtime in (("t4", "torch-cudagraph"), ("host-epyc-1c", "tvm")):
        preds = s.predict_many(paths, device, shapes={"x": "2x3x32x32"}, precision="fp16", roofline_only=True,
                               runtime=runtime)
        rows = _cli_rows(capsys, paths, device, "--shape", "x=2x3x32x32", "--precision", "fp16", "--roofline-only",
                         "--runtime", runtime)
        for i, p in enumerate(paths):
            got = _as_row(preds[(i, device)])
            assert got["input_shapes"] == {"x": [2, 3, 32, 32]} and got["runtime"] == runtime
            _same(got, rows[str(p)])
    # runtime=None keeps the TVM plan's peak, as Session.predict's default does
    plain = s.predict_many(paths[:1], "t4", batch=1, runtime=None)[(0, "t4")]
    assert plain.runtime is None and plain.peak_memory_bytes == plain.memory.peak_bytes


def test_predict_many_checks_its_new_options_before_any_work(model_dir):
    path = model_dir / "resnet_like.onnx"
    s = api.Session()
    with pytest.raises(InputError, match="runtime='torch' runs on gpu devices"):
        s.predict_many([path], ["t4", "host-epyc-1c"], batch=1, runtime="torch")
    with pytest.raises(InputError, match=r"shapes\['x'\] = 'x2'"):
        s.predict_many([path], "t4", shapes={"x": "x2"})
    with pytest.raises(InputError, match="roofline_only must be True"):
        s.predict_many([path], "t4", batch=1, roofline_only="yes")
    with pytest.raises(InputError, match="drop one of them"):
        s.predict_many([path], "t4", batch=1, roofline_only=True, residual=object.__new__(_Fitted))
    assert s.stats()["analyses"] == 0  # nothing analysed


class _Fitted:
    def apply(self, *args, **kwargs):  # pragma: no cover - never called
        raise AssertionError


def _sheet_copy(folder, name):
    """The packaged t4 sheet as ``folder/my.yaml`` (id ``my``), named ``name``."""
    from hybridperf.device.spec import default_spec_dir

    folder.mkdir()
    text = (default_spec_dir() / "t4.yaml").read_text(encoding="utf-8")
    assert "\nid: t4\nname: NVIDIA T4 16GB\n" in text
    (folder / "my.yaml").write_text(text.replace("\nid: t4\nname: NVIDIA T4 16GB\n", f"\nid: my\nname: {name}\n", 1),
                                    encoding="utf-8")


def test_a_relative_spec_file_is_the_current_folders_after_chdir(tmp_path, monkeypatch):
    """``Session.spec("my.yaml")`` in folder a, then in folder b. Until 2026-12-04 the sheet was keyed by the text
    "my.yaml" and kept its relative path: b's call was served only because the reload-on-change check found another
    file there (every change of folder read the file again), and a's sheet's ``path`` then named b's file."""
    _sheet_copy(tmp_path / "a", "sheet a")
    _sheet_copy(tmp_path / "b", "sheet b")
    s = api.Session()
    monkeypatch.chdir(tmp_path / "a")
    first = s.spec("my.yaml")
    assert first.name == "sheet a"
    monkeypatch.chdir(tmp_path / "b")
    assert s.spec("my.yaml").name == "sheet b"  # was sheet a
    assert s.spec("../a/my.yaml") is first  # the same file however it is spelled: read once
    assert s.spec(tmp_path / "a" / "my.yaml") is first
    assert os.path.isabs(first.path)  # names its file from any folder
    # an edited file is read again, from any folder
    edited = (tmp_path / "a" / "my.yaml").read_text().replace("name: sheet a", "name: sheet a2")
    (tmp_path / "a" / "my.yaml").write_text(edited)
    assert s.spec("../a/my.yaml").name == "sheet a2"
    # a missing file's error names the path as written
    with pytest.raises(InputError, match="device spec file not found: nothere.yaml;"):
        s.spec("nothere.yaml")
    assert s.spec("t4").name == "NVIDIA T4 16GB"  # an id is an id in any folder


@pytest.fixture(scope="module")
def mm(tmp_path_factory):
    """A MatMul x[B, 64] @ W[64, 32] with a symbolic batch B, as a file."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.zeros((64, 32), np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "mm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 32])], [w])
    path = tmp_path_factory.mktemp("mm") / "mm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def test_check_result_predictions_are_read_only(mm, capsys):
    result = hybridperf.check(mm, ["t4", "host-epyc-1c"], batch=4, max_latency="1s")
    key = (mm, "t4")
    assert set(result.predictions) == {key, (mm, "host-epyc-1c")}
    with pytest.raises(TypeError):
        result.predictions[key] = None  # was a dict: the frozen result's prediction replaced
    with pytest.raises(TypeError):
        del result.predictions[key]
    # what reads it still works: the JSON report (the CLI's), a copy and a pickle
    rc = main(["check", mm, "--device", "t4", "--device", "host-epyc-1c", "--batch", "4", "--max-latency", "1s",
               "--format", "json"])
    assert rc == 0 and json.loads(json.dumps(hybridperf.report_dict(result))) == json.loads(capsys.readouterr().out)
    from hybridperf.estimate.budget import CheckResult

    plain = CheckResult(result.checks, {key: 1.5})  # (a Prediction holds mappingproxies of its own: not pickled)
    for again in (copy.deepcopy(plain), pickle.loads(pickle.dumps(plain)), copy.copy(plain)):
        assert again == plain and dict(again.predictions) == {key: 1.5}
        with pytest.raises(TypeError):
            again.predictions[key] = None
    assert CheckResult(result.checks).predictions == {}
    # a dict given is copied: changing it later does not change the result
    given = dict(result.predictions)
    made = CheckResult(result.checks, given)
    given.clear()
    assert set(made.predictions) == set(result.predictions)


@pytest.mark.parametrize("limit", [float("inf"), 1e400])
def test_an_infinite_limit_says_leave_it_out(mm, limit):
    """``max_memory=float("inf")`` (a wish for no limit) said "must be positive"."""
    with pytest.raises(InputError) as err:
        hybridperf.check(mm, "t4", batch=1, max_memory=limit)
    msg = str(err.value)
    assert "not finite" in msg and "leave the limit out" in msg and "must be positive" not in msg
    assert msg.startswith("max_memory=inf: ")


def test_infinite_nan_and_negative_limits_each_say_what_is_wrong(mm):
    from hybridperf.estimate.budget import BudgetError, parse_limit

    with pytest.raises(BudgetError, match="is not a number"):
        parse_limit(float("nan"), "latency", "max_latency=")
    with pytest.raises(BudgetError, match="must be positive"):
        parse_limit(float("-inf"), "latency", "max_latency=")
    with pytest.raises(BudgetError, match=r"max_energy=inf: is not finite .*the largest energy limit is 1000000 J\)"):
        parse_limit(float("inf"), "energy", "max_energy=")


def test_block_table_errors_name_python_parameters(mm):
    """A ``build()`` model with an unbound batch: the table's error named ``--batch N`` / ``--shape`` to Python."""
    from hybridperf.block_table import BlockTable

    table = BlockTable(["t4"], roofline_only=["t4"])
    with pytest.raises(InputError) as err:
        table.predict(("a",), lambda: (mm, ()))
    msg = str(err.value)
    assert "batch=" in msg and "--batch" not in msg and "--shape" not in msg
    with pytest.raises(InputError) as err:
        table.predict_many([(("a",), lambda: (mm, ()))])
    assert "--batch" not in str(err.value) and "batch=" in str(err.value)
    # the CLI's own words are untouched: the same model through the command names its flags
    with pytest.raises(InputError, match="--batch"):
        from hybridperf.analysis.analyze import analyze

        analyze(mm)
