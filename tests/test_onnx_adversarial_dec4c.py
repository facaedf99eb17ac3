"""Adversarial ONNX models: each either priced right or refused with one line naming the fix (exit 2).

Found by fuzzing ``predict`` / ``annotate`` with small hand-built graphs on 2026-12-04; each test says what
happened until then.
"""

from __future__ import annotations


import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from test_onnx_followup_dec4c import _cli_error  # one exit-2, one-line check (predict on t4)
from hybridperf.errors import InputError, ModelLoadError, UnsupportedModelError


def _model(nodes, inputs, outputs, inits=(), opset: int = 17) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _conv(pads) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    return _model([helper.make_node("Conv", ["x", "w"], ["y"], pads=pads)], [_vi("x", [1, 3, 8, 8])],
                  [_vi("y", None)], [w])


def _analyze(model):
    from hybridperf.analysis.analyze import analyze

    return analyze(model)




def test_complex_input_is_refused_naming_it():
    # until 2026-12-04: SIGSEGV inside TVM (exit 139), no message
    m = _model([helper.make_node("Identity", ["x"], ["y"])], [_vi("x", [2, 3], TensorProto.COMPLEX64)],
               [_vi("y", [2, 3], TensorProto.COMPLEX64)])
    with pytest.raises(InputError, match=r"input 'x' is a complex64 tensor"):
        _analyze(m)


def test_import_failing_before_nodes_is_an_error_not_a_crash():
    # until 2026-12-04: a complex initializer failed TVM's import before its function scope, and ending that
    # scope anyway ended the process with SIGSEGV (exit 139)
    c = numpy_helper.from_array(np.ones((2, 3), np.complex64), "c")
    m = _model([helper.make_node("Add", ["x", "c"], ["y"])], [_vi("x", [2, 3])], [_vi("y", [2, 3])], [c])
    with pytest.raises(ModelLoadError, match="complex64"):
        _analyze(m)


def test_conv_whose_pads_make_a_negative_output_is_refused():
    # until 2026-12-04: 1x4x-14x-14 priced as 2 * 4*14*14 * 3*3*3 = 42336 FLOP, exit 0
    with pytest.raises(InputError, match=r"1x4x-14x-14, a negative size"):
        _analyze(_conv([-10, -10, -10, -10]))


def test_pool_window_larger_than_its_input_is_refused(tmp_path, capsys):
    # until 2026-12-04: 1x3x-7x-7 priced as 3*7*7 * 16*16 = 37632 FLOP, exit 0
    m = _model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[16, 16])], [_vi("x", [1, 3, 8, 8])],
               [_vi("y", None)])
    path = tmp_path / "pool.onnx"
    onnx.save(m, path)
    _cli_error(capsys, path, "1x3x-7x-7", "negative size")


def test_negative_pads_that_leave_a_positive_output_are_priced():
    # pads -1 crop: (8 - 2 - 3) // 1 + 1 = 4, so 1x4x4x4 outputs of 3*3*3 MACs each
    a = _analyze(_conv([-1, -1, -1, -1]))
    assert a.analysis.flops == 2 * (4 * 4 * 4) * (3 * 3 * 3)


def test_model_without_outputs_is_refused(tmp_path, capsys):
    # until 2026-12-04: every node dead, priced as a confident 0 FLOP model, exit 0
    path = tmp_path / "no_outputs.onnx"
    onnx.save(_model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2, 3])], []), path)
    _cli_error(capsys, path, "lists no outputs", "nothing to predict")


def test_model_whose_outputs_fold_to_constants_is_refused():
    # until 2026-12-04: a Constant node alone was folded away and priced as 0 FLOP, exit 0, while a file with
    # no nodes at all was refused
    value = numpy_helper.from_array(np.ones((2, 2), np.float32))
    m = _model([helper.make_node("Constant", [], ["y"], value=value)], [], [_vi("y", [2, 2])])
    with pytest.raises(ModelLoadError, match="every output is an input or a constant"):
        _analyze(m)


def test_opset_newer_than_onnx_knows_is_refused():
    # until 2026-12-04: an opset-99 Relu was priced as today's Relu, exit 0
    known = onnx.defs.onnx_opset_version()
    m = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2, 3])], [_vi("y", [2, 3])], opset=known + 1)
    with pytest.raises(UnsupportedModelError, match=f"re-export with opset <= {known}"):
        _analyze(m)


def test_huge_matmul_counts_exact_integers():
    # 1e6 x 1e6 @ 1e6 x 1e6: 2 * 10**6 * 10**6 * 10**6 FLOP, exact (no float rounding), under the 2^48 B cap
    n = 10**6
    m = _model([helper.make_node("MatMul", ["a", "b"], ["y"])], [_vi("a", [n, n]), _vi("b", [n, n])],
               [_vi("y", [n, n])])
    a = _analyze(m)
    assert a.analysis.flops == 2 * n * n * n
    assert isinstance(a.analysis.flops, int)
