"""An op that reads one tensor through two operands (``Mul(y, y)``) reads it from memory once, as
:class:`hybridperf.costs.registry.OpCost` says; until 2026-12-03 it counted it twice."""

import onnx
from onnx import TensorProto, helper

import hybridperf.api as api


def _square(path, n=8):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Mul", ["r", "r"], ["y"])]
    graph = helper.make_graph(nodes, "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_repeated_operand_is_read_once(tmp_path):
    path = tmp_path / "square.onnx"
    _square(path)
    a = api.analyze(str(path), fused=False)
    mul = next(r for r in a.analysis.records if r.op == "relax.multiply")
    assert mul.cost.flops == 8 * 8
    assert mul.cost.bytes_read == 8 * 8 * 4  # r once, not 2 * 8 * 8 * 4
    assert mul.cost.bytes_written == 8 * 8 * 4
    assert len(mul.inputs) == 2  # the rule still sees both operands


def test_fused_kernel_reads_repeated_operand_once(tmp_path):
    path = tmp_path / "square.onnx"
    _square(path)
    a = api.analyze(str(path))
    assert sum(k.cost.bytes_read for k in a.kernels) == 8 * 8 * 4  # x read once by relu+mul fused
