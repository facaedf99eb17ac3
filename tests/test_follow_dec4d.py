"""Follow-ups of the 2026-12-04 tidy-ups (helper "follow"): each calibration model read once for its static-shape and
``--batch`` checks (:func:`hybridperf.measure.calibrate.collect_models`); calibrate's subnormal scan through
:func:`hybridperf.commands._common.scan_subnormals`; the ``hosts/<cpu key>/model/`` layout named once in
:mod:`hybridperf.residual.model`; the ``ai.onnx`` opset read through
:func:`hybridperf.frontends.normalize.default_opset` by ``check_graph`` and the runtime memory model; the API's sheet
key from :func:`hybridperf.device.spec.sheet_key`; ``predict-many``'s table from structured fields, not the words of
``energy_note``."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from hybridperf.errors import InputError


def _add_model(path: Path, batch_dim: int | str) -> Path:
    """``y = x + x`` with ``x`` of shape ``(batch_dim, 4)``."""
    g = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch_dim, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch_dim, 4])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=7), str(path))
    return path


# --------------------------------------------------------------------------- 1. each model read once


def test_collect_models_reads_each_model_once_for_both_checks(tmp_path, monkeypatch):
    """Until 2026-12-04 calibrate read every model once for its static shapes and again for ``--batch``
    (``input_specs``); now one ``onnx.load`` a model covers both."""
    from hybridperf.measure.calibrate import collect_models

    paths = [_add_model(tmp_path / "a.onnx", "N"), _add_model(tmp_path / "b.onnx", 2)]
    loads = []
    real = onnx.load

    def counting(f, *a, **k):
        loads.append(Path(f).name)
        return real(f, *a, **k)

    monkeypatch.setattr(onnx, "load", counting)
    assert collect_models([str(p) for p in paths], batch=2) == paths
    assert sorted(loads) == ["a.onnx", "b.onnx"]


def test_collect_models_refuses_a_fixed_other_batch_after_the_duplicates_are_said(tmp_path):
    from hybridperf.measure.calibrate import collect_models

    dyn = _add_model(tmp_path / "dyn.onnx", "N")
    one = _add_model(tmp_path / "one.onnx", 1)
    _add_model(tmp_path / "two.onnx", 2)
    said = []
    with pytest.raises(InputError) as exc:
        collect_models([str(tmp_path), str(one)], batch=2, on_duplicate=lambda p, same: said.append(p.name))
    assert said == ["one.onnx"]  # the repeat is named before the refusal, as before
    assert str(exc.value) == ("--batch 2 cannot be applied to 1 of 3 models, whose batch is fixed at another size "
                              "(one.onnx); drop --batch, or measure only models with a dynamic batch axis")
    assert collect_models([str(dyn), str(tmp_path / "two.onnx")], batch=2)  # a fixed batch of N goes
    assert collect_models([str(one), str(tmp_path / "two.onnx")]) == [one, tmp_path / "two.onnx"]  # no --batch


def test_collect_models_still_names_a_symbolic_dimension_batch_does_not_bind(tmp_path):
    from hybridperf.measure.calibrate import collect_models

    a = _add_model(tmp_path / "a.onnx", "N")
    b = _add_model(tmp_path / "b.onnx", 1)
    with pytest.raises(InputError, match=r"input 'x' has a symbolic dimension at axis 0; pass --batch N"):
        collect_models([str(a), str(b)])


# --------------------------------------------------------------------------- 2. one subnormal scan


def test_scan_subnormals_holds_the_not_scanned_warning_for_calibrate(tmp_path, capsys, monkeypatch):
    import hybridperf.measure.subnormal as subnormal
    from hybridperf.commands._common import scan_subnormals

    def broken(model, shapes=None, batch=None):
        raise RuntimeError("no session")

    monkeypatch.setattr(subnormal, "scan_inputs", broken)
    held: dict = {}
    assert scan_subnormals("m.onnx", None, None, "left out", unscanned=held) is None
    assert held == {"m.onnx": "RuntimeError: no session"} and capsys.readouterr().err == ""
    assert scan_subnormals("m.onnx") is None  # measure's way: said at once
    assert capsys.readouterr().err == ("hybridperf: warning: m.onnx: not scanned for subnormal activations "
                                       "(RuntimeError: no session)\n")


def test_calibrate_leaves_out_hazards_through_scan_subnormals(capsys, monkeypatch):
    import hybridperf.measure.subnormal as subnormal
    from hybridperf.commands.calibrate import _without_subnormal_hazards

    class Scan:
        def __init__(self, hazard):
            self.hazard = hazard

        def warning(self, model, consequence):
            return f"hazard {model}: {consequence}"

    def fake(model, shapes=None, batch=None):
        if model == "bad":
            raise ValueError("x")
        return Scan(model == "sub")

    monkeypatch.setattr(subnormal, "scan_inputs", fake)
    kept, out, unscanned = _without_subnormal_hazards(["a", "sub", "bad", "b"], None)
    assert (kept, out, unscanned) == (["a", "bad", "b"], ["sub"], {"bad": "ValueError: x"})
    assert capsys.readouterr().err == "hazard sub: left out of the calibration\n"


# --------------------------------------------------------------------------- 3. the host model's place


def test_the_host_model_folder_is_where_stored_for_looks(tmp_path, monkeypatch):
    from hybridperf.measure.host import host_dir, host_model_dir
    from hybridperf.data import HOST_MODEL_DIR, HOSTS_DIR
    from hybridperf.residual.model import stored_for

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    ident = {"model_name": "Test CPU", "vendor": "AuthenticAMD", "family": 25, "model": 17, "stepping": 1,
             "flags": [], "threads": 1}
    d = host_model_dir(ident)
    assert d == host_dir(ident) / HOST_MODEL_DIR and d.parent.parent == tmp_path / "home" / HOSTS_DIR
    d.mkdir(parents=True)
    assert stored_for(d)[0] == "host"


# --------------------------------------------------------------------------- 4. the opset, one reading


def _resize(domain: str, opset: int) -> onnx.ModelProto:
    """A Resize with an empty second input: ``scales`` (required) at opset 10, ``roi`` (optional) from 11 on."""
    g = helper.make_graph([helper.make_node("Resize", ["x", "", "s"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2]),
                           helper.make_tensor_value_info("s", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid(domain, opset)], ir_version=7)


@pytest.mark.parametrize("domain", ["", "ai.onnx"])
def test_check_graph_reads_the_opset_under_either_domain_name(domain):
    from hybridperf.errors import ModelLoadError
    from hybridperf.frontends.normalize import check_graph

    with pytest.raises(ModelLoadError, match="empty"):
        check_graph(_resize(domain, 10))
    check_graph(_resize(domain, 13))


@pytest.mark.parametrize("domain", ["", "ai.onnx"])
def test_runtime_memory_infers_at_the_declared_opset_under_either_domain_name(domain):
    """Squeeze's ``axes`` is an attribute at opset 11 (an input from 13): inferred at 11 either way, not at the
    fallback 17 (where the node would stay unknown)."""
    from hybridperf.estimate.runtime_memory import ort_tensor_shapes

    g = helper.make_graph([helper.make_node("Squeeze", ["x"], ["y"], axes=[0])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(domain, 11)], ir_version=7)
    shapes, unknown = ort_tensor_shapes(m)
    assert shapes["y"] == ((3,), 3 * 4) and unknown == ()


# --------------------------------------------------------------------------- 5. the sheet key


def test_session_keys_a_sheet_file_by_its_resolved_path(tmp_path, monkeypatch):
    from hybridperf.api import Session
    from hybridperf.device.spec import default_spec_dir

    sheet = (default_spec_dir() / "t4.yaml").read_text()
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "x.yaml").write_text(sheet.replace("id: t4", "id: x", 1).replace(
            "name: NVIDIA T4 16GB", f"name: sheet {sub}", 1))
    s = Session()
    monkeypatch.chdir(tmp_path / "a")
    assert s.spec("x.yaml").name == "sheet a"
    monkeypatch.chdir(tmp_path / "b")
    assert s.spec("x.yaml").name == "sheet b"
    assert s.spec(str(tmp_path / "b" / "x.yaml")) is s.spec("./x.yaml")


def test_session_spec_of_a_path_with_a_nul_is_not_found_not_a_python_error():
    """``sheet_key`` resolves the path, which raises ValueError for a NUL: the refactor keeps the old fallback (the
    file named not found), rather than a ValueError out of :meth:`Session.spec`."""
    from hybridperf.api import Session

    with pytest.raises(InputError, match="device spec file not found"):
        Session().spec("a\0.yaml")


# --------------------------------------------------------------------------- 6. the table reads fields


EST = "idle power of t4 estimated, not measured: `hybridperf devices show t4`"
BASE = {"status": "ok", "lower_bound": False, "latency_s": 1e-3, "energy_j": 2e-3, "peak_memory_bytes": 1024,
        "flops": 10, "runtime": "torch"}


def test_the_table_takes_the_estimated_power_from_its_field():
    """A row's ``estimated_power_note`` is what the summary names, whatever ``energy_note`` says in words (until
    2026-12-04 the table looked for "estimated, not measured" in ``energy_note``)."""
    from hybridperf.report.many import to_table

    rows = [{**BASE, "model": "a.onnx", "energy_note": "words without the phrase", "estimated_power_note": "P"},
            {**BASE, "model": "b.onnx", "energy_note": None, "estimated_power_note": None}]
    assert to_table(rows, "t4").splitlines()[-1] == "2 models on t4: 2 ok, 0 failed; energy: P"


@pytest.mark.parametrize("note", [EST, f"capped at max power 70 W x latency (the energy model implied 80.0 W, above "
                                       f"the sheet's maximum); {EST}"])
def test_rows_of_an_older_output_file_fall_back_to_the_energy_note(note):
    from hybridperf.report.many import to_table

    lines = to_table([{**BASE, "model": "a.onnx", "energy_note": note}], "t4").splitlines()
    assert lines[-1] == f"1 model on t4: 1 ok, 0 failed; energy: {EST}"
    assert lines[-2].rstrip().endswith("ok; energy capped at max power") == note.startswith("capped")


def test_a_predict_many_row_carries_the_sheets_estimated_power(tmp_path):
    import onnx_models
    from hybridperf.commands._sweep import FIGURES, blank_row, predict_row
    from hybridperf.device.spec import load_spec
    from hybridperf.estimate.pricing import estimated_power_note

    assert "estimated_power_note" in FIGURES and blank_row("m", "torch")["estimated_power_note"] is None
    (path,) = onnx_models.save_static(tmp_path, ("resnet_like",))
    row = predict_row(str(path), "t4", None, None, True, roofline_only=True, runtime="auto")
    assert row["status"] == "ok"
    assert row["estimated_power_note"] == (estimated_power_note(load_spec("t4")) or None)
    assert row["energy_note"] and row["energy_note"].endswith(row["estimated_power_note"] or "")
