"""Audit of 2026-12-05: a Relax IRModule with its weights as parameters (``from_onnx(...,
keep_params_in_input=True)``), a ``main`` that returns a constant, a model path holding a NUL, and a TFLite input's
dynamic batch priced at its stored size without a word.

Each test is a regression test; its docstring says what happened until 2026-12-05.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tvm")

from test_relax_input_audit import _copy  # noqa: E402
from tvm import relax  # noqa: E402

import hybridperf  # noqa: E402
from hybridperf.errors import ModelLoadError  # noqa: E402
from hybridperf.ir.tvm_compat import structural_equal  # noqa: E402


@pytest.fixture(scope="module")
def weights_as_params(model_dir):
    """``resnet_like.onnx`` imported by TVM with its weights as trailing parameters of main (``num_input`` 1, their
    values in main's ``params`` attribute), and the file's own analysis."""
    import onnx
    from tvm.relax.frontend.onnx import from_onnx

    path = model_dir / "resnet_like.onnx"
    mod = from_onnx(onnx.load(str(path)), shape_dict={"x": [1, 3, 32, 32]}, keep_params_in_input=True)
    assert int(mod["main"].attrs["num_input"]) == 1 and len(mod["main"].params) > 1
    return mod, hybridperf.analyze(str(path), batch=1)


def _same_as_the_file(an, file_an):
    assert dict(an.input_shapes) == {"x": (1, 3, 32, 32)}
    assert an.memory.input_bytes == 1 * 3 * 32 * 32 * 4  # x alone, float32
    assert an.analysis.weight_bytes == file_an.analysis.weight_bytes > 0
    assert list(an.analysis.input_infos) == ["x"]
    assert an.analysis.flops == file_an.analysis.flops
    assert an.memory.peak_bytes == file_an.memory.peak_bytes


def test_weights_passed_as_parameters_are_weights_not_inputs(weights_as_params):
    """Every parameter of main was an input: on examples/resnet_like.onnx weight_bytes 0 (the file: 81 128),
    input_bytes 93 416 (the file: 12 288), 33 input shapes, CPU latency 0.2353 ms against the file's 0.2318 ms. Now
    the parameters past ``num_input`` are bound to the values main's ``params`` holds, as the file imports them."""
    mod, file_an = weights_as_params
    before = _copy(mod)
    _same_as_the_file(hybridperf.analyze(mod), file_an)
    assert structural_equal(mod, before)  # the caller's module is left as it was
    got = hybridperf.predict(mod, "host-epyc-1c", residual=None)
    want = hybridperf.predict(file_an, "host-epyc-1c", residual=None)
    assert got.latency_s == pytest.approx(want.latency_s, rel=1e-12)


def test_weight_parameters_without_values_are_still_weights(weights_as_params):
    """With the values kept apart (``relax.frontend.detach_params``: main keeps ``num_input`` but no ``params``) the
    weights were inputs too; now the cost pass counts the parameters past ``num_input`` as weights."""
    mod, file_an = weights_as_params
    detached, params = relax.frontend.detach_params(mod)
    assert "params" not in detached["main"].attrs and params
    _same_as_the_file(hybridperf.analyze(detached), file_an)


def test_shape_names_only_inputs_of_a_module_with_weight_parameters(weights_as_params):
    """A weight parameter was offered as an input to bind with --shape (and listed as one)."""
    from hybridperf.errors import InputError

    mod, _ = weights_as_params
    detached, _ = relax.frontend.detach_params(mod)
    name = str(detached["main"].params[1].name)  # a weight
    with pytest.raises(InputError, match=r"unknown input .*main takes x$"):
        hybridperf.analyze(detached, shapes={name: (16, 3, 3, 3)})


def _returns_constant(n: int = 1000):
    """main(x: 4 float32) returning a constant of ``n`` float32 (``n * 4`` B), bound to a var first or not."""
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((4,), "float32"))
    with bb.function("main", [x]):
        bb.emit_func_output(relax.const(np.ones((n,), "float32")))
    return bb.get()


def test_a_returned_constant_is_a_weight():
    """A main that returns a constant (4 000 B) read weight_bytes 0 and a peak of the input alone: the constant is
    counted now, once, as a weight."""
    an = hybridperf.analyze(_returns_constant())
    assert an.analysis.weight_bytes == 1000 * 4
    assert an.memory.peak_bytes == 1000 * 4 + 4 * 4  # the constant + x, no activation


def test_a_constant_bound_to_a_var_is_a_weight_once():
    """A constant bound to a var (``c = R.const(...)``) and read by a call and returned was not counted: only one
    passed to a call in place was."""
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((8,), "float32"))
    with bb.function("main", [x]):
        c = bb.emit(relax.const(np.ones((8,), "float32")), name_hint="c")
        y = bb.emit(relax.op.add(x, c), name_hint="y")
        bb.emit_func_output(relax.Tuple([y, c]))
    an = hybridperf.analyze(bb.get())
    assert an.analysis.weight_bytes == 8 * 4  # c, counted once for its read and its return


def test_a_path_with_a_nul_is_echoed_escaped():
    """The "model file not found" message held the NUL itself (and a newline split the line)."""
    for path, shown in (("a\x00b.onnx", "a\\x00b.onnx"), ("new\nline.onnx", "new\\nline.onnx")):
        with pytest.raises(ModelLoadError) as info:
            hybridperf.analyze(path)
        assert str(info.value) == f"model file not found: {shown}; check the path"
    pytest.importorskip("tflite")
    from hybridperf.frontends.tflite import load_tflite

    with pytest.raises(ModelLoadError, match=r"^model file not found: a\\x00b\.tflite; check the path$"):
        load_tflite("a\x00b.tflite")  # its own check, for a caller of the TFLite frontend itself


# ------------------------------------------------------------------- TFLite ----


def _dynamic_batch_fc(tmp_path):
    pytest.importorskip("tflite")
    from tflite_builder import tflite_model

    t = [dict(name="x", shape=[1, 4], dtype="float32", signature=[-1, 4]),
         dict(name="w", shape=[2, 4], dtype="float32", data=np.ones((2, 4), np.float32)),
         dict(name="y", shape=[1, 2], dtype="float32")]
    ops = [dict(op="FULLY_CONNECTED", inputs=[0, 1, -1], outputs=[2], options=("FullyConnectedOptions", {}))]
    p = tmp_path / "fc.tflite"
    p.write_bytes(tflite_model(t, ops, [0], [2]))
    return p


NOTE = ("input x has a dynamic batch; priced at its stored size 1, as the interpreter runs it without a resize; "
        "pass --batch N")


def test_tflite_dynamic_batch_at_its_stored_size_is_said(tmp_path, capsys):
    """A TFLite input with a dynamic batch (signature -1) was priced at its stored size 1 without a word, where an
    ONNX or .pt2 model's unbound batch is refused; the behaviour is kept and now said among the warnings (API, JSON,
    table), and not where --batch or --shape binds it."""
    import json

    from hybridperf.cli import ExitCode, main

    p = _dynamic_batch_fc(tmp_path)
    pred = hybridperf.predict(str(p), "t4", residual=None)
    assert dict(pred.analyzed.input_shapes) == {"x": (1, 4)} and NOTE in pred.warnings
    assert NOTE not in hybridperf.predict(str(p), "t4", residual=None, batch=1).warnings
    assert NOTE not in hybridperf.predict(str(p), "t4", residual=None, shapes={"x": (1, 4)}).warnings
    assert main(["predict", str(p), "-d", "t4", "--roofline-only", "--format", "json"]) == ExitCode.OK
    assert NOTE in json.loads(capsys.readouterr().out)["warnings"]
    assert main(["predict", str(p), "-d", "t4", "--roofline-only"]) == ExitCode.OK
    captured = capsys.readouterr()
    assert NOTE in captured.out + captured.err
    assert main(["predict", str(p), "-d", "t4", "--roofline-only", "--batch", "2"]) == ExitCode.OK
    captured = capsys.readouterr()
    assert "dynamic batch" not in captured.out + captured.err
