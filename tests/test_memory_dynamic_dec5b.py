"""Peak memory of models whose outputs have a data-dependent size (NonMaxSuppression, NonZero, Unique, TopK).

TVM lowers NonMaxSuppression to a fixed-size kernel (``max_output_boxes_per_class`` rows of 3 int64) and a
``dynamic_strided_slice`` of it to the count found: that slice's output (and every tensor computed from it) is an
allocation of symbolic shape, made at run time, outside TVM's static plan. The plan still equals TVM's; it must be
labelled a lower bound naming what it leaves out.
"""

from __future__ import annotations

import json
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

BOXES = 100  # boxes (1, 100, 4) float32, scores (1, 1, 100) float32
MAX_OUT = 10  # max_output_boxes_per_class


def _save(tmp_path, name, nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path / f"{name}.onnx"
    onnx.save(m, path)
    return path


def _nms(tmp_path, relu_boxes=True, after=()):
    """[Relu on the boxes ->] NonMaxSuppression(max 10 per class, iou 0.5, score 0.1) [-> ``after`` ops]."""
    inits = [numpy_helper.from_array(np.array([MAX_OUT], np.int64), "mo"),
             numpy_helper.from_array(np.array([0.5], np.float32), "iou"),
             numpy_helper.from_array(np.array([0.1], np.float32), "st")]
    nodes = [helper.make_node("Relu", ["b"], ["b2"])] if relu_boxes else []
    nodes.append(helper.make_node("NonMaxSuppression", ["b2" if relu_boxes else "b", "s", "mo", "iou", "st"], ["sel"]))
    last, elem = "sel", TensorProto.INT64
    for k, (op, attrs) in enumerate(after):
        nodes.append(helper.make_node(op, [last], [f"y{k}"], **attrs))
        last = f"y{k}"
        elem = attrs.get("to", elem)
    ins = [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, BOXES, 4]),
           helper.make_tensor_value_info("s", TensorProto.FLOAT, [1, 1, BOXES])]
    return _save(tmp_path, "nms", nodes, ins, [helper.make_tensor_value_info(last, elem, None)], inits)


def _plan(path):
    from hybridperf.analysis.analyze import analyze_with_memory_module
    from hybridperf.analysis.memory import tvm_planned_bytes

    an, mem_mod = analyze_with_memory_module(str(path), fused=True)
    return an, tvm_planned_bytes(mem_mod)


def test_nms_plan_equals_tvms_and_is_a_lower_bound_naming_the_run_time_output(tmp_path):
    # until 2026-12-05b: 1904 B shown as exact (JSON lower_bound false); the NMS result, a run-time allocation of
    # data-dependent size (s_1, s_2) int64 that TVM's planner leaves out, was not named anywhere
    an, tvm = _plan(_nms(tmp_path))
    # Relu out 1x100x4 float32; NMS's fixed buffer 10 rows x 3 int64; its count (1 int64, its block enlarged to 16 B
    # by the 2-element strides), the slice's begin and end (2 int64 each) and its shape tensor (2 int64, unplanned)
    assert an.memory.planned_bytes == tvm == 1 * BOXES * 4 * 4 + MAX_OUT * 3 * 8 + 4 * (2 * 8)
    assert an.memory_is_lower_bound
    assert an.memory.ops_outside_plan == (("dynamic_strided_slice_k6 run-time output", None),)
    assert an.memory.lower_bound_reason == (
        "op outputs not in TVM's plan: dynamic_strided_slice_k6 run-time output (size unknown)")


def test_nms_then_cast_relu_symbolic_storage_counts_zero_and_every_run_time_output_is_named(tmp_path):
    # until 2026-12-05b: tvm_planned_bytes raised AttributeError ('Mul' object has no attribute 'value') on TVM's
    # symbolic-size storage blocks (8 * s_1 * s_2), and the 304 B plan was shown as exact
    an, tvm = _plan(_nms(tmp_path, relu_boxes=False, after=[("Cast", {"to": TensorProto.FLOAT}), ("Relu", {})]))
    # NMS's fixed buffer 10 x 3 int64 and the four 2-int64 tensors as above; the slice, cast and relu outputs: 0 B
    assert an.memory.planned_bytes == tvm == MAX_OUT * 3 * 8 + 4 * (2 * 8)
    assert an.memory_is_lower_bound
    names = [op for op, nbytes in an.memory.ops_outside_plan if nbytes is None]
    assert len(names) == 2 and names[0].startswith("dynamic_strided_slice") and "relu" in names[1]


def test_nms_cli_json_marks_the_tvm_peak_a_lower_bound(tmp_path, home, capsys):
    # until 2026-12-05b: "lower_bound": false, "lower_bound_reason": null
    from hybridperf.cli import ExitCode, main

    argv = ["predict", str(_nms(tmp_path)), "-d", "raspberry-pi-4b", "--runtime", "tvm", "--format", "json"]
    assert main(argv) == ExitCode.OK
    mem = json.loads(capsys.readouterr().out)["memory"]
    assert mem["lower_bound"] is True and "dynamic_strided_slice" in mem["lower_bound_reason"]
    # planned activations + weights (3 scalars: int64 10, float32 0.5 and 0.1) + inputs (1x100x4 + 1x1x100 float32)
    assert mem["peak_bytes"] == (BOXES * 4 * 4 + MAX_OUT * 3 * 8 + 4 * (2 * 8)) + (8 + 4 + 4) + (BOXES * 4 + BOXES) * 4


def test_topk_with_constant_k_stays_exact_and_equal_to_tvm(tmp_path):
    """No run-time allocation: not a lower bound (the fix flags symbolic allocations only)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])
    outs = [helper.make_tensor_value_info("v", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("i", TensorProto.INT64, None)]
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("TopK", ["r", "k"], ["v", "i"])]
    path = _save(tmp_path, "topk", nodes, [x], outs, [numpy_helper.from_array(np.array([3], np.int64), "k")])
    an, tvm = _plan(path)
    assert an.memory.planned_bytes == tvm == 4 * 8 * 4 + 4 * 3 * 4 + 4 * 3 * 8  # relu out, values, indices
    assert not an.memory_is_lower_bound and an.memory.lower_bound_reason == ""


@pytest.mark.parametrize(("op", "attrs", "elem", "runtime_fn"), [
    ("NonZero", {}, TensorProto.INT64, "relax.run.nonzero"),
    ("Unique", {"sorted": 1}, TensorProto.FLOAT, "relax.run.unique"),
])
def test_nonzero_and_unique_stay_lower_bounds(tmp_path, op, attrs, elem, runtime_fn):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])
    path = _save(tmp_path, op, [helper.make_node("Relu", ["x"], ["r"]), helper.make_node(op, ["r"], ["y"], **attrs)],
                 [x], [helper.make_tensor_value_info("y", elem, None)])
    an, tvm = _plan(path)
    assert an.memory.planned_bytes == tvm == 4 * 8 * 4  # the Relu's output
    assert an.memory_is_lower_bound and an.memory.ops_outside_plan == ((runtime_fn, None),)
