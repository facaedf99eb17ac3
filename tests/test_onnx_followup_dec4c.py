"""Follow-up to the ONNX fuzzing and int8 audits of 2026-12-04: each defect they found, fixed, pinned here.

Each test says what happened until 2026-12-04.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridperf.cli import main
from hybridperf.errors import ModelLoadError
from hybridperf.precision import OVERRIDES, Precision, dtype_bits, tensor_bytes


def _model(nodes, inputs, outputs, inits=(), opset: int = 17, ir: int = 8) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir)


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _save(m: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(m.SerializeToString())
    return path


def _cli_error(capsys, path: Path, *fragments: str, device: str = "t4", extra: tuple[str, ...] = ()) -> str:
    code = main(["predict", str(path), "-d", device, *extra])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hybridperf: error: "), err
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def _traffic(m: onnx.ModelProto) -> tuple[int, int]:
    from hybridperf.analysis.analyze import analyze

    a = analyze(m)
    return sum(k.cost.bytes_read for k in a.kernels), sum(k.cost.bytes_written for k in a.kernels)


# ---------------------------------------------------------------- 1. dtype sizes


@pytest.mark.parametrize("dtype, bits", [
    ("float32", 32), ("bfloat16", 16), ("int64", 64), ("bool", 8),
    # until 2026-12-04 every digit of the name counted: float8_e4m3fn read as 843 bits (106 B per element)
    ("float8_e4m3fn", 8), ("float8_e5m2", 8), ("e4m3_float8", 8),
    ("float4_e2m1fn", 4),  # was 53 B per element ("421" bits)
    ("int4", 4), ("uint1", 1), ("float32x4", 32 * 4),
])
def test_dtype_bits_reads_only_the_width_after_the_type_name(dtype, bits):
    assert dtype_bits(dtype) == bits


def test_sub_byte_tensors_are_packed_and_rounded_up_per_tensor():
    # until 2026-12-04 int4 was counted 1 B per element
    assert tensor_bytes("int4", 6) == 6 * 4 // 8
    assert tensor_bytes("int4", 5) == (5 * 4 + 7) // 8
    assert tensor_bytes("float8_e4m3fn", 6) == 6 * 1
    assert tensor_bytes("handle", 6) == 0


def test_override_storage_sizes_come_from_the_same_table():
    assert {p: Precision(p).storage_bytes for p in OVERRIDES} == {"tf32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}


def test_fp8_relu_reads_one_byte_per_element():
    # until 2026-12-04: a 2x3 fp8 Relu read 636 B (6 x 106) instead of 6
    m = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2, 3], TensorProto.FLOAT8E4M3FN)],
               [_vi("y", [2, 3], TensorProto.FLOAT8E4M3FN)], opset=19, ir=9)
    assert _traffic(m) == (2 * 3 * 1, 2 * 3 * 1)


def test_int4_add_reads_half_a_byte_per_element():
    # until 2026-12-04: 6 B read for a 2x3 int4 tensor (1 B per element)
    m = _model([helper.make_node("Add", ["x", "x"], ["y"])], [_vi("x", [2, 3], TensorProto.INT4)],
               [_vi("y", [2, 3], TensorProto.INT4)], opset=21, ir=10)
    assert _traffic(m) == (2 * 3 * 4 // 8, 2 * 3 * 4 // 8)


# ---------------------------------------------------------------- 2. external data checked at load


def _matmul_with_marker(location: str) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((256, 256), np.float32), "w")
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [1, 256])], [_vi("y", [1, 256])], [w])
    from onnx.external_data_helper import set_external_data

    t = m.graph.initializer[0]
    set_external_data(t, location=location)  # raw_data stays inline: the file was never written
    t.data_location = TensorProto.EXTERNAL
    return m


@pytest.mark.parametrize("device", ["t4", "host-epyc-zen4-1c"])
def test_inline_bytes_with_a_missing_external_file_is_refused_on_every_device(capsys, tmp_path, device):
    # until 2026-12-04: exit 3 ("internal error: ValidationError") on CPU sheets, whose onnxruntime memory model
    # read the external file; exit 0 on t4
    p = _save(_matmul_with_marker("nowhere.bin"), tmp_path / "m.onnx")
    _cli_error(capsys, p, "external data file 'nowhere.bin' not found", "needed by tensor 'w'", device=device)


@pytest.mark.parametrize("device", ["t4", "host-epyc-zen4-1c"])
def test_external_file_outside_the_model_folder_is_refused(capsys, tmp_path, device):
    # until 2026-12-04: the same exit 3 on CPU sheets when the location escaped the folder to a file that exists
    (tmp_path / "outside.bin").write_bytes(b"\0" * (256 * 256 * 4))
    (tmp_path / "sub").mkdir()
    p = _save(_matmul_with_marker("../outside.bin"), tmp_path / "sub" / "m.onnx")
    _cli_error(capsys, p, "'../outside.bin', outside the model's folder", device=device)


# ---------------------------------------------------------------- 3. shape errors blame whom they should


def test_inconsistent_model_shapes_do_not_blame_flags_never_given(capsys, tmp_path):
    # until 2026-12-04: "... do not fit the model: check the --shape / --batch values", with neither passed
    s = numpy_helper.from_array(np.array([-1, -1], np.int64), "s")
    p = _save(_model([helper.make_node("Reshape", ["x", "s"], ["y"])], [_vi("x", [2, 3, 4])], [_vi("y", None)], [s]),
              tmp_path / "r.onnx")
    line = _cli_error(capsys, p, "the model's own shapes are inconsistent at a Reshape node", "fix the model")
    assert "--shape" not in line and "--batch" not in line


def test_matmul_mismatch_in_a_fixed_shape_model_names_the_node(capsys, tmp_path):
    node = helper.make_node("MatMul", ["a", "b"], ["y"], name="mm1")
    p = _save(_model([node], [_vi("a", [2, 3]), _vi("b", [4, 5])], [_vi("y", None)]), tmp_path / "mm.onnx")
    line = _cli_error(capsys, p, "inconsistent at node 'mm1' (MatMul)")
    assert "--shape" not in line


def test_shapes_the_user_bound_still_get_the_flag_hint(capsys, tmp_path):
    p = _save(_model([helper.make_node("MatMul", ["a", "b"], ["y"])], [_vi("a", ["n", 3]), _vi("b", [4, 5])],
                     [_vi("y", None)]), tmp_path / "mm.onnx")
    _cli_error(capsys, p, "check the --shape / --batch values", extra=("--shape", "a=2x3"))


# ---------------------------------------------------------------- 4. invalid graphs refused, not priced


def test_two_nodes_writing_one_tensor_are_refused(capsys, tmp_path):
    # until 2026-12-04: the Sigmoid (last writer) was priced, the Relu dropped silently, exit 0
    m = _model([helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Sigmoid", ["x"], ["y"], name="sig")],
               [_vi("x", [2, 3])], [_vi("y", [2, 3])])
    _cli_error(capsys, _save(m, tmp_path / "d.onnx"), "tensor 'y' is written by two nodes",
               "Relu node #0 and node 'sig' (Sigmoid)")


def test_duplicate_graph_inputs_are_refused(capsys, tmp_path):
    # until 2026-12-04: priced, exit 0
    m = _model([helper.make_node("Add", ["x", "x"], ["y"])], [_vi("x", [2, 3]), _vi("x", [2, 3])], [_vi("y", [2, 3])])
    _cli_error(capsys, _save(m, tmp_path / "d.onnx"), "graph input 'x' is declared twice")


def test_old_style_inputs_listing_their_initializers_still_load():
    from hybridperf.frontends.normalize import check_graph

    w = numpy_helper.from_array(np.ones((3, 3), np.float32), "w")
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [_vi("x", [2, 3]), _vi("w", [3, 3])],
               [_vi("y", [2, 3])], [w])
    check_graph(m)  # no error; and an omitted optional input ("") is fine:
    c = helper.make_node("Clip", ["x", "", "hi"], ["y"])
    hi = numpy_helper.from_array(np.array(6, np.float32), "hi")
    check_graph(_model([c], [_vi("x", [2, 3])], [_vi("y", [2, 3])], [hi]))


# ---------------------------------------------------------------- 5. TVM's cryptic failures named up front


def test_empty_input_name_is_named(capsys, tmp_path):
    # until 2026-12-04: TVM's "Check failed: (n.defined()) is false: Found null pointer node while traversing AST"
    m = _model([helper.make_node("Relu", [""], ["y"])], [_vi("", [2, 3])], [_vi("y", [2, 3])])
    _cli_error(capsys, _save(m, tmp_path / "e.onnx"), "a graph input has an empty name")
    m = _model([helper.make_node("Relu", [""], ["y"], name="r")], [_vi("x", [2, 3])], [_vi("y", [2, 3])])
    with pytest.raises(ModelLoadError, match=r"node 'r' \(Relu\) has an empty name for its required input #0"):
        from hybridperf.frontends.normalize import check_graph

        check_graph(m)


def test_a_name_nothing_defines_is_named(capsys, tmp_path):
    # until 2026-12-04: "import into TVM Relax failed: 'ghost'; re-export the model, or report it"
    m = _model([helper.make_node("Add", ["x", "ghost"], ["y"])], [_vi("x", [2, 3])], [_vi("y", [2, 3])])
    _cli_error(capsys, _save(m, tmp_path / "g.onnx"), "Add node #0 reads 'ghost', which no graph input")


def test_a_cycle_is_named(capsys, tmp_path):
    # until 2026-12-04: "import into TVM Relax failed: 'b'"
    m = _model([helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])],
               [_vi("x", [2, 3])], [_vi("b", [2, 3])])
    _cli_error(capsys, _save(m, tmp_path / "c.onnx"), "depends on its own output (the graph has a cycle)")


def test_unsorted_graphs_still_load():
    from hybridperf.frontends.normalize import check_graph

    check_graph(_model([helper.make_node("Relu", ["a"], ["y"]), helper.make_node("Sigmoid", ["x"], ["a"])],
                       [_vi("x", [2, 3])], [_vi("y", [2, 3])]))


def test_zero_stride_is_named(capsys, tmp_path):
    # until 2026-12-04: "import into TVM Relax failed at a Conv node: integer division or modulo by zero"
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    m = _model([helper.make_node("Conv", ["x", "w"], ["y"], strides=[0, 0], name="c1")], [_vi("x", [1, 3, 8, 8])],
               [_vi("y", None)], [w])
    _cli_error(capsys, _save(m, tmp_path / "s.onnx"), "node 'c1' (Conv) has strides=[0, 0]; each must be at least 1")


# ---------------------------------------------------------------- 6. dynamically quantized models


def _dynamic_matmul() -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((4, 4), np.int8), "w")
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
             helper.make_node("MatMulInteger", ["xq", "w", "xz"], ["acc"]),
             helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["accf", "xs"], ["y"])]
    return _model(nodes, [_vi("x", [2, 4])], [_vi("y", [2, 4])], [w])


def test_dynamic_quantization_hint_points_to_static_full_integer(tmp_path):
    # until 2026-12-04 an integer-only device told a quantize_dynamic model only to "quantize the model"
    from hybridperf.analysis.int8 import float_work_hint

    hint = float_work_hint(str(_save(_dynamic_matmul(), tmp_path / "dyn.onnx")))
    assert "already quantized dynamically (DynamicQuantizeLinear)" in hint
    assert "quantize_static" in hint and "QDQ" in hint
    float_model = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [2, 3])], [_vi("y", [2, 3])])
    assert float_work_hint(str(_save(float_model, tmp_path / "f.onnx"))) == ""
    assert float_work_hint("<onnx.ModelProto g>") == ""


def test_predict_on_an_integer_only_npu_gives_the_dynamic_quantization_hint(tmp_path, capsys):
    # end to end: the hint reaches the one error line of `predict -d ethos-u55` (pricing.predict_on)
    from hybridperf.cli import main

    path = _save(_dynamic_matmul(), tmp_path / "dyn.onnx")
    assert main(["predict", str(path), "-d", "ethos-u55"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no peak for fp32" in err
    assert "already quantized dynamically (DynamicQuantizeLinear)" in err and "quantize_static" in err
