"""Second audit of the Python API (:mod:`hybridperf.api`) as a NAS loop or notebook uses it: its error messages name
its parameters (``batch=3``) where the CLI's name flags (``--batch 3``), budgets take numpy numbers, ``check`` refuses
two sheets it would merge, an :class:`Analyzed` prints as a summary, :func:`report_dict` is the CLI's JSON, and a
:class:`Session` in a loop gives :func:`predict`'s figures without printing."""

import dataclasses
import json
import shutil
import warnings

import numpy as np
import onnx
import pytest

import hybridperf
from hybridperf import api
from hybridperf.device.spec import default_spec_dir
from hybridperf.errors import DynamicShapeError, InputError, SpecError, python_words
from test_api_audit import K, N, matmul  # the same MatMul graph as the first API audit


@pytest.fixture(scope="module")
def mm_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("audit2") / "mm.onnx"
    onnx.save(matmul(), str(path))
    return str(path)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [  # until this audit each named the CLI's flags: "--batch N or --shape x=Nx64", "--batch 3 ...", "--runtime ..."
        (lambda: hybridperf.predict(matmul(), "t4", residual=None), DynamicShapeError,
         "input 'x' dim 0 ('B') is symbolic; bind it with batch=N or shapes={'x': 'Nx64'}"),
        (lambda: api.Session().predict(matmul(), "t4", residual=None), DynamicShapeError,
         "input 'x' dim 0 ('B') is symbolic; bind it with batch=N or shapes={'x': 'Nx64'}"),
        (lambda: hybridperf.predict(matmul(8), "t4", batch=3, residual=None), InputError,
         "batch=3 cannot be applied: no input has a symbolic batch dim (x=8x64); drop batch= (these shapes are "
         "fixed), or re-export the model with a dynamic batch axis"),
        (lambda: hybridperf.analyze(matmul(), batch=2, shapes={"x": (4, K)}), InputError,
         "batch=2 disagrees with the shapes bound (x=4x64): drop batch=, or give the batch in shapes="),
        (lambda: hybridperf.analyze(matmul(), shapes={"z": (1, K)}), InputError,
         "shapes= names unknown input 'z'; the model's inputs are x"),
        (lambda: hybridperf.analyze(matmul(), shapes={"x": "1x2x3"}), InputError,
         "shapes={'x': '1x2x3'} has rank 3 but the model's input has rank 2 (Bx64)"),
        (lambda: hybridperf.analyze(matmul(), shapes={"x": (1, 3)}), InputError,
         "shapes['x']: dim 1 is fixed to 64 in the model, cannot bind it to 3; re-export the model with a dynamic axis"),
        (lambda: hybridperf.predict(matmul(8), "t4", runtime="onnxruntime"), InputError,
         "runtime='onnxruntime' runs on cpu devices and t4 is a gpu: use runtime='torch' or 'torch-cudagraph' or "
         "'tvm', or leave it out (auto: torch)"),
        (lambda: hybridperf.check(matmul(8), "t4", max_latency=1, runtime="onnxruntime"), InputError,
         "runtime='onnxruntime' runs on cpu devices"),
        (lambda: api.predict_on(hybridperf.analyze(matmul(8)), "t4", runtime="onnxruntime"), InputError,
         "runtime='onnxruntime' runs on cpu devices"),
    ],
)
def test_api_errors_name_parameters_not_flags(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value).startswith(message)
    assert "--" not in str(info.value)


def test_the_cli_keeps_its_flags(mm_path, capsys):
    """The rewrite is the API's edge only: the CLI calls ``predict_on`` / ``run_check`` / ``Session`` too."""
    from hybridperf.cli import main

    assert main(["predict", mm_path, "--device", "t4"]) == 2
    assert "bind it with --batch N or --shape x=Nx64" in capsys.readouterr().err
    assert main(["check", mm_path, "--device", "t4", "--batch", "1", "--max-latency", "1s",
                 "--runtime", "onnxruntime"]) == 2
    assert "--runtime onnxruntime runs on cpu devices" in capsys.readouterr().err
    assert main(["predict-many", mm_path, "--device", "t4"]) == 2
    assert "bind it with --batch N or --shape x=Nx64" in capsys.readouterr().out  # the row's error


def test_python_words_keeps_commands_to_run():
    assert python_words("no model: run `hybridperf calibrate --device ID`, or pass --device host") == \
        "no model: run `hybridperf calibrate --device ID`, or pass device='host'"
    assert python_words("bind it with --shape x=1xN (API: batch= / shapes=)") == "bind it with shapes={'x': '1xN'}"
    assert python_words("roofline only (--roofline-only); --help") == "roofline only (residual=None); --help"


def test_budgets_take_numpy_numbers():
    """``np.int64(2**28)`` / ``np.float32(5e-3)`` were a BudgetError 'write a positive number and one of B, ...'."""
    got = hybridperf.check(matmul(1), "t4", max_memory=np.int64(256 * 2**20), max_latency=np.float32(5e-3),
                           residual=None, runtime=None)
    limits = {c.metric.value: c.limit for c in got.checks}
    assert limits == {"latency": float(np.float32(5e-3)), "memory": 256 * 2**20, "energy": None}
    assert got  # 2*1*64*32 FLOP is far below both
    assert got.predictions[("<onnx.ModelProto mm>", "t4")].peak_memory_bytes == 1 * K * 4 + K * N * 4 + 1 * N * 4


def test_check_refuses_two_sheets_with_one_id_and_merges_one_device_given_twice(tmp_path):
    """Two edited copies of one sheet were merged by id: one was silently not checked."""
    sheet = api.device_spec("ryzen-9-7950x")
    four = dataclasses.replace(sheet, compute_unit_count=4)
    with pytest.raises(InputError, match="two different device sheets have the id 'ryzen-9-7950x'"):
        hybridperf.check(matmul(1), [sheet, four], max_latency="1s")
    spec_file = tmp_path / "t4.yaml"  # a spec file named for its id
    shutil.copy(default_spec_dir() / "t4.yaml", spec_file)
    got = hybridperf.check(matmul(1), ["t4", spec_file, api.device_spec("t4")], max_latency="1s", residual=None)
    assert [(c.device, c.metric.value) for c in got.checks] == [("t4", "latency"), ("t4", "memory"), ("t4", "energy")]


def test_check_loads_every_device_before_the_model():
    with pytest.raises(SpecError, match="unknown device 'nope'"):  # not the missing model file
        hybridperf.check("/nonexistent/model.onnx", ["t4", "nope"], max_latency="1s")


def test_analyzed_repr_is_a_summary():
    """The generated repr printed every op record: 16 817 characters for the 25-op examples/resnet_like.onnx."""
    got = repr(hybridperf.analyze(matmul(8)))
    assert got == (f"Analyzed(source='<onnx.ModelProto mm>', input_shapes={{'x': (8, {K})}}, ops=1, kernels=1, "
                   f"flops={2 * 8 * K * N}, peak_memory_bytes={8 * K * 4 + K * N * 4 + 8 * N * 4}, fused=True)")


def test_report_dict_is_the_cli_json(mm_path, capsys):
    from hybridperf.cli import main

    assert main(["predict", mm_path, "--device", "t4", "--batch", "4", "--precision", "fp16", "--format", "json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    mine = json.loads(json.dumps(hybridperf.report_dict(hybridperf.predict(mm_path, "t4", batch=4, precision="fp16",
                                                                           runtime="auto"))))
    cli.pop("timings_s"), mine.pop("timings_s")
    assert mine == cli
    assert mine["totals"]["flops"] == 2 * 4 * K * N


def test_session_loop_matches_predict_and_prints_nothing(mm_path, capsys):
    s = api.Session()
    combos = [(b, p, d) for b in (1, 2, 8) for p in (None, "fp16") for d in ("t4", "host-epyc-1c")]
    fresh = {c: hybridperf.predict(mm_path, c[2], batch=c[0], precision=c[1]) for c in combos}
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(3 * len(combos)):
            b, p, d = combos[i % len(combos)]
            got, want = s.predict(mm_path, d, batch=b, precision=p), fresh[(b, p, d)]
            assert (got.latency_s, got.energy_j, got.peak_memory_bytes, got.warnings) == \
                (want.latency_s, want.energy_j, want.peak_memory_bytes, want.warnings)
            size = 2 if p == "fp16" else 4  # float32 stored in 2 B under fp16
            assert got.peak_memory_bytes == (b * K + K * N + b * N) * size
    assert capsys.readouterr() == ("", "")
    assert s.stats()["analyses"] == 3  # one per batch: the documented cache, not one per call


def test_a_model_of_which_nothing_is_priced_names_its_unknown_figures(tmp_path):
    """A NonZero-only model on a CPU sheet: latency_s read 0.0 in the API with only ``complete`` False to tell a NAS
    loop; ``unknown_figures`` names the figures that are unknown (as JSON's ``totals.unknown_fields``), and the repr
    says so. A model with something priced has none."""
    g = onnx.helper.make_graph([onnx.helper.make_node("NonZero", ["x"], ["y"])], "g",
                               [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [4, 8])],
                               [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.INT64, None)])
    m = onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", 17)])
    m.ir_version = 8
    pred = hybridperf.predict(m, "host-epyc-1c")
    assert not pred.complete and pred.latency_s == 0.0
    assert pred.unknown_figures == ("latency_s", "roofline_latency_s", "energy_j", "flops")
    assert "unknown=('latency_s', 'roofline_latency_s', 'energy_j', 'flops')" in repr(pred)
    assert set(pred.unknown_figures) <= set(hybridperf.report_dict(pred)["totals"]["unknown_fields"])
    assert hybridperf.predict(matmul(batch=2), "host-epyc-1c").unknown_figures == ()
