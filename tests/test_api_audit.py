"""Audit of the Python API (:mod:`hybridperf.api`) as a notebook or NAS loop uses it: bad arguments are
:class:`~hybridperf.errors.InputError` naming the fix, the API and the CLI judge the same inputs alike, and a
:class:`~hybridperf.api.Session` gives :func:`~hybridperf.api.predict`'s figures whatever it did before."""

import dataclasses

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import hybridperf
from hybridperf import api
from hybridperf.errors import InputError

K, N = 64, 32  # MatMul x[B, K] @ W[K, N]


def matmul(batch="B") -> onnx.ModelProto:
    """``y = x @ W`` with float32 ``x`` of shape ``[batch, K]`` (``batch`` symbolic by default)."""
    w = numpy_helper.from_array(np.ones((K, N), dtype=np.float32), "W")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "mm",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, K])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, N])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_module_docstring_has_no_stray_fragment():
    """The sentence on ``shapes`` was glued after the torch example as a dangling " ``shapes`` maps input" line."""
    doc = api.__doc__
    assert "\n ``shapes`` maps input\n" not in doc
    assert "``shapes`` maps input names to shapes" in doc
    assert "device_spec" in api.__all__


@pytest.mark.parametrize(
    ("kwargs", "fix"),
    [
        ({"precision": "FP16"}, "did you mean 'fp16'"),
        ({"precision": "fp32"}, "pass precision=None"),  # was a KeyError; since 2026-12-04 says fp32 needs none
        ({"runtime": "pytorch"}, "'torch-cudagraph'"),  # was a ValueError
        ({"residual": "none"}, "None (roofline only)"),  # was an AttributeError after the analysis
        ({"residual": False}, "None (roofline only)"),
        ({"device": None}, "a spec file path or a DeviceSpec"),  # was a TypeError
        ({"device": 4}, "a spec file path or a DeviceSpec"),
        ({"model": b"\x08\x08"}, "pass a model file path"),  # serialized bytes: was a TypeError
        ({"model": None}, "pass a model file path"),
        ({"model": {}}, "pass a model file path"),  # was KeyError 'main' from the cost pass
        ({"shapes": [("x", (8, K))]}, "shapes must map input names to shapes"),  # was an AttributeError
        ({"shapes": {"x": 8}}, "give the whole shape"),  # was a TypeError
        ({"shapes": {0: (8, K)}}, "input names (str)"),
    ],
)
def test_bad_arguments_are_input_errors_naming_the_fix(kwargs, fix):
    args = {"model": matmul(batch=8), "device": "t4", "residual": None, **kwargs}
    with pytest.raises(InputError, match=fix.replace("(", r"\(").replace(")", r"\)")):
        hybridperf.predict(args.pop("model"), args.pop("device"), **args)


def test_bad_session_and_latency_model_arguments_are_input_errors():
    s = api.Session()
    an = s.analyze(matmul(batch=8))
    with pytest.raises(InputError, match="is not an override"):
        s.predict_on(an, "t4", precision="float16")
    with pytest.raises(InputError, match="is not a runtime"):
        s.predict(matmul(batch=8), "t4", runtime="cuda")
    with pytest.raises(InputError, match="runs on cpu devices and t4 is a gpu"):  # was a GPU model said to run on ORT
        api.latency_model("t4", runtime="onnxruntime")
    with pytest.raises(InputError, match="is not a runtime"):
        api.latency_model("t4", runtime="bogus")
    with pytest.raises(InputError, match="runs on cpu devices and t4 is a gpu"):  # refused before any analysis
        hybridperf.check(matmul(batch=8), ["host-epyc-1c", "t4"], max_latency="1s", runtime="onnxruntime")


def test_numpy_integer_dims_bind_like_ints():
    """A notebook's ``np.array([8, 64])`` shape was refused as 'not positive integers'."""
    got = hybridperf.predict(matmul(), "t4", shapes={"x": np.array([8, K])}, residual=None)
    assert dict(got.analyzed.input_shapes) == {"x": (8, K)}
    assert all(type(d) is int for d in got.analyzed.input_shapes["x"])
    assert got.flops == 2 * 8 * K * N  # FLOP = 2 x MAC
    assert got.peak_memory_bytes == 8 * K * 4 + K * N * 4 + 8 * N * 4  # x + W + y, float32, nothing reused


def test_precision_enum_is_taken_as_its_name():
    from hybridperf.precision import Precision

    by_enum = hybridperf.predict(matmul(batch=8), "t4", precision=Precision.FP16, residual=None)
    by_name = hybridperf.predict(matmul(batch=8), "t4", precision="fp16", residual=None)
    assert by_enum.precision == "fp16"
    assert by_enum.latency_s == by_name.latency_s
    assert by_enum.peak_memory_bytes == 8 * K * 2 + K * N * 2 + 8 * N * 2  # float32 tensors stored in 2 B


def test_irmodule_refuses_shapes_it_would_ignore():
    from hybridperf.frontends.load import load_model

    mod = load_model(matmul(batch=8)).module
    assert hybridperf.predict(mod, "t4", residual=None).flops == 2 * 8 * K * N
    with pytest.raises(InputError, match="shapes do not apply to a Relax IRModule"):
        hybridperf.predict(mod, "t4", shapes={"x": (2, K)}, residual=None)


def test_check_judges_memory_on_the_runtime_peak_as_the_cli(model_dir, capsys):
    """``hybridperf.check`` judged the TVM plan's peak where ``hybridperf check`` judges the runtime's
    (``--runtime auto``): a limit between the two passed in the API and failed in the CLI."""
    from hybridperf.cli import main

    path = str(model_dir / "resnet_like.onnx")
    plan = hybridperf.predict(path, "host-epyc-1c", batch=1).peak_memory_bytes
    ort = hybridperf.predict(path, "host-epyc-1c", batch=1, runtime="auto").peak_memory_bytes
    assert ort > plan  # onnxruntime's session and arena sit above the plan
    limit = (plan + ort) // 2
    result = hybridperf.check(path, "host-epyc-1c", batch=1, max_memory=limit)
    assert not result and [c.metric.value for c in result.failures] == ["memory"]
    assert result.predictions[(path, "host-epyc-1c")].peak_memory_bytes == ort
    assert hybridperf.check(path, "host-epyc-1c", batch=1, max_memory=limit, runtime=None)  # the plan's peak
    rc = main(["check", path, "--device", "host-epyc-1c", "--batch", "1", "--max-memory", f"{limit}B"])
    capsys.readouterr()
    assert rc == 1  # the CLI's verdict, now the API's too


def test_session_runtime_tvm_sizes_the_workspace_as_predict(model_dir):
    """``Session.predict(..., runtime="tvm")`` analysed without the kernel workspace: a lower peak than
    :func:`predict`'s, with the note 'kernel workspace not sized'."""
    path = str(model_dir / "resnet_like.onnx")
    s = api.Session()
    plain = s.predict(path, "t4", batch=1)
    fresh = hybridperf.predict(path, "t4", batch=1, runtime="tvm")
    cached = s.predict(path, "t4", batch=1, runtime="tvm")
    assert cached.runtime_memory_note == fresh.runtime_memory_note == ""
    assert cached.peak_memory_bytes == fresh.peak_memory_bytes
    assert cached.peak_memory_bytes >= plain.peak_memory_bytes  # the plan plus the kernels' workspace
    assert s.predict(path, "t4", batch=1).peak_memory_bytes == plain.peak_memory_bytes  # and the plain one kept


def test_session_residual_follows_an_edited_sheet_with_the_same_id(model_dir):
    """A Session kept a CPU's cross-host model (built with the sheet's core count) by id: an edited sheet with the
    same id and 4 cores instead of 16 got the 16-core model."""
    path = str(model_dir / "resnet_like.onnx")
    sheet = api.device_spec("ryzen-9-7950x")
    four = dataclasses.replace(sheet, compute_unit_count=4)
    s = api.Session()
    sixteen = s.predict(path, sheet, batch=1)
    edited = s.predict(path, four, batch=1)
    assert edited.latency_s == hybridperf.predict(path, four, batch=1).latency_s
    assert edited.latency_s != sixteen.latency_s  # the threads are a feature of the model
    assert "(4 thread(s))" in edited.calibration
    assert s.predict(path, sheet, batch=1).latency_s == sixteen.latency_s


def test_session_after_a_failing_model_gives_fresh_figures(model_dir):
    s = api.Session()
    with pytest.raises(InputError, match="no input has a symbolic batch dim"):
        s.predict(matmul(batch=8), "t4", batch=3)
    with pytest.raises(InputError, match="not found"):
        s.predict(str(model_dir / "missing.onnx"), "t4")
    path = str(model_dir / "bert_like.onnx")
    got, fresh = s.predict(path, "t4"), hybridperf.predict(path, "t4")
    assert (got.latency_s, got.energy_j, got.peak_memory_bytes) == (fresh.latency_s, fresh.energy_j,
                                                                     fresh.peak_memory_bytes)


def test_the_package_exports_the_api_and_a_json_path():
    """``hybridperf.predict_on`` & co. raised AttributeError (only four names were exported), and a prediction had no
    JSON path short of the report layer: ``hybridperf.report_dict`` is the CLI's ``--format json`` report."""
    import json

    for name in ("predict_on", "device_spec", "latency_model", "analyze_torch", "report_dict", "Session"):
        assert getattr(hybridperf, name) is getattr(api, name)
    pred = hybridperf.predict(matmul(1), "t4", residual=None)
    d = json.loads(json.dumps(hybridperf.report_dict(pred)))
    assert d["totals"]["flops"] == 2 * 1 * K * N  # one MatMul x[1, K] @ W[K, N]: 2 x MAC
    assert d["totals"]["latency_s"] == pred.latency_s
