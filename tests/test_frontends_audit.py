"""Frontend audit: user-built ONNX files through ``hybridperf predict -d t4 --format json``.

Each model is built here with ``onnx.helper`` into ``tmp_path``; the figures are checked by hand
arithmetic (FLOP = 2 x MAC, weight bytes from dtype sizes) and bad input by exit code 2 with one
line on stderr that names the fix.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridperf.cli import main


def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "audit", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _vi(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, dims)


def _save(model, path):
    onnx.save_model(model, str(path))
    return path


def predict(capsys, path, *flags):
    """(exit code, JSON report or None, stderr lines) of ``predict PATH -d t4 --format json``."""
    rc = main(["predict", str(path), "-d", "t4", "--format", "json", *flags])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if rc == 0 else None), err.splitlines()


def assert_input_error(capsys, path, *fragments, flags=()):
    rc, _, err = predict(capsys, path, *flags)
    assert rc == 2, err
    assert len(err) == 1 and err[0].startswith("hybridperf: error: "), err
    for f in fragments:
        assert f in err[0], err[0]
    assert "Traceback" not in err[0]


def kernels_by_op(report):
    return {tuple(k["ops"]): k for k in report["kernels"]}


# ------------------------------------------------------------------- models ----

def mlp(opset=17, wdtype=np.float32):
    """x[1,64] @ W[64,32] + B[32] -> Relu -> @ W2[32,16]."""
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(wdtype))
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.random(s).astype(wdtype), n) for n, s in (("W", (64, 32)), ("B", (32,)), ("W2", (32, 16)))]
    nodes = [helper.make_node("MatMul", ["x", "W"], ["a"]), helper.make_node("Add", ["a", "B"], ["b"]),
             helper.make_node("Relu", ["b"], ["c"]), helper.make_node("MatMul", ["c", "W2"], ["y"])]
    return _model(nodes, [_vi("x", [1, 64], elem)], [_vi("y", [1, 16], elem)], inits, opset)


MLP_FLOPS = 2 * 64 * 32 + 32 + 32 + 2 * 32 * 16  # two matmuls (2 x MAC), the bias add and relu: 1 per element
MLP_WEIGHTS = 64 * 32 + 32 + 32 * 16  # elements


@pytest.mark.parametrize("opset", [11, 13, 17, 21])
def test_opsets_give_the_same_figures(capsys, tmp_path, opset):
    rc, rep, _ = predict(capsys, _save(mlp(opset), tmp_path / f"mlp{opset}.onnx"))
    assert rc == 0
    t = rep["totals"]
    assert t["flops"] == MLP_FLOPS == 5184
    assert t["weight_bytes"] == 4 * MLP_WEIGHTS
    assert rep["memory"]["input_bytes"] == 4 * 64
    assert {k["precision"] for k in rep["kernels"]} == {"fp32"}


def test_fp16_weights_priced_at_fp16_with_2_bytes(capsys, tmp_path):
    rc, rep, _ = predict(capsys, _save(mlp(wdtype=np.float16), tmp_path / "h.onnx"))
    assert rc == 0
    assert rep["totals"]["flops"] == MLP_FLOPS
    assert rep["totals"]["weight_bytes"] == 2 * MLP_WEIGHTS
    assert {k["compute_precision"] for k in rep["kernels"]} == {"fp16"}


def test_external_data_loaded_from_another_directory(capsys, tmp_path, monkeypatch):
    d = tmp_path / "model dir é"  # a space and a non-ASCII character in the path
    d.mkdir()
    W = numpy_helper.from_array(np.ones((256, 256), np.float32), "W")
    m = _model([helper.make_node("MatMul", ["x", "W"], ["y"])], [_vi("x", [1, 256])], [_vi("y", [1, 256])], [W])
    onnx.save_model(m, str(d / "big.onnx"), save_as_external_data=True, location="big.data", size_threshold=0)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    rc, rep, _ = predict(capsys, d / "big.onnx")
    assert rc == 0
    assert rep["totals"]["flops"] == 2 * 256 * 256
    assert rep["totals"]["weight_bytes"] == 4 * 256 * 256
    os.remove(d / "big.data")
    assert_input_error(capsys, d / "big.onnx", "external data file 'big.data' not found", "copy it next to the model")


def test_initializer_listed_as_input_is_a_weight(capsys, tmp_path):
    m = mlp(opset=9)
    m.ir_version = 3
    m.graph.input.extend([_vi("W", [64, 32]), _vi("B", ["b"]), _vi("W2", [32, 16])])  # old exporters; one symbolic
    rc, rep, _ = predict(capsys, _save(m, tmp_path / "old.onnx"))
    assert rc == 0
    assert rep["input_shapes"] == {"x": [1, 64]}
    assert rep["totals"]["weight_bytes"] == 4 * MLP_WEIGHTS


def test_named_symbolic_dim_needs_a_shape(capsys, tmp_path):
    W = numpy_helper.from_array(np.ones((64, 32), np.float32), "W")
    m = _model([helper.make_node("MatMul", ["x", "W"], ["y"])], [_vi("x", ["batch", "seq", 64])], [_vi("y", ["batch", "seq", 32])], [W])
    p = _save(m, tmp_path / "seq.onnx")
    assert_input_error(capsys, p, "dim 1 ('seq') is symbolic", "--shape x=NxNx64", flags=("--batch", "2"))
    rc, rep, _ = predict(capsys, p, "--shape", "x=2x10x64")
    assert rc == 0
    assert rep["totals"]["flops"] == 2 * (2 * 10) * 64 * 32


def test_zero_sized_dim_names_a_shape_that_works(capsys, tmp_path):
    p = _save(_model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [1, 0, 4])], [_vi("y", [1, 0, 4])]), tmp_path / "z.onnx")
    # before: "dim 1 (0) is symbolic; bind it with --shape x=1x0x4", a flag that is refused in turn
    assert_input_error(capsys, p, "dim 1 is 0", "--shape x=1xNx4")
    rc, rep, _ = predict(capsys, p, "--shape", "x=1x5x4")
    assert rc == 0 and rep["totals"]["flops"] == 1 * 5 * 4


def test_string_input_is_named(capsys, tmp_path):
    m = _model([helper.make_node("Identity", ["s"], ["y"])], [_vi("s", [1], TensorProto.STRING)], [_vi("y", [1], TensorProto.STRING)])
    # before: "import into TVM Relax failed: unknown dtype `object`; re-export the model, or report it"
    assert_input_error(capsys, _save(m, tmp_path / "s.onnx"), "input 's' is a string tensor")


def test_scalar_and_bool_inputs(capsys, tmp_path):
    m = _model([helper.make_node("Mul", ["s", "s"], ["y"])], [_vi("s", [])], [_vi("y", [])])
    rc, rep, _ = predict(capsys, _save(m, tmp_path / "scalar.onnx"))
    assert rc == 0 and rep["totals"]["flops"] == 1 and rep["memory"]["peak_bytes"] == 4 + 4
    m = _model([helper.make_node("Not", ["b"], ["y"])], [_vi("b", [2, 3], TensorProto.BOOL)], [_vi("y", [2, 3], TensorProto.BOOL)])
    rc, rep, _ = predict(capsys, _save(m, tmp_path / "bool.onnx"))
    assert rc == 0 and rep["totals"]["flops"] == 2 * 3 and rep["memory"]["input_bytes"] == 2 * 3  # 1 B per bool


def test_graph_without_nodes_says_nothing_to_predict(capsys, tmp_path):
    m = _model([], [_vi("x", [1, 4])], [_vi("x", [1, 4])])
    # before: "... the file is corrupt or not an ONNX model", about a valid model
    assert_input_error(capsys, _save(m, tmp_path / "pass.onnx"), "no nodes", "nothing to predict")


@pytest.mark.parametrize("payload", [b"", b"hello, not a model\n", None])
def test_corrupt_files(capsys, tmp_path, payload):
    p = tmp_path / "bad.onnx"
    if payload is None:  # truncated in the middle of the weights
        data = mlp().SerializeToString()
        payload = data[: len(data) // 2]
    p.write_bytes(payload)
    assert_input_error(capsys, p, "re-export it")


def test_directory_is_refused(capsys, tmp_path):
    (tmp_path / "d.onnx").mkdir()
    assert_input_error(capsys, tmp_path / "d.onnx", "is a directory")


@pytest.mark.parametrize("op_type,domain", [("Normalizer", "ai.onnx.ml"), ("MyOp", "com.example")])
def test_other_domains_are_named(capsys, tmp_path, op_type, domain):
    g = helper.make_graph([helper.make_node(op_type, ["x"], ["y"], domain=domain)], "d", [_vi("x", [1, 4])], [_vi("y", [1, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(domain, 1)])
    assert_input_error(capsys, _save(m, tmp_path / "d.onnx"), f"{domain}::{op_type} (1)")


# --------------------------------------------------------- If on a constant ----

def _if_model(cond_from_shape: bool):
    """x[1,64] @ W -> If(cond) {then: Relu, else: Mul by a branch-local constant} -> @ W2.

    ``cond_from_shape``: the condition is ``Shape(x)[0] == 1`` (what exporters emit for a Python
    ``if`` on a size), else a bool initializer."""
    then_g = helper.make_graph([helper.make_node("Relu", ["a"], ["t"])], "then", [], [_vi("t", [1, 32])])
    k = numpy_helper.from_array(np.full((32,), 2.0, np.float32), "k")
    else_g = helper.make_graph([helper.make_node("Mul", ["a", "k"], ["e"])], "else", [], [_vi("e", [1, 32])], [k])
    inits = [numpy_helper.from_array(np.ones((64, 32), np.float32), "W"), numpy_helper.from_array(np.ones((32, 16), np.float32), "W2")]
    nodes = [helper.make_node("MatMul", ["x", "W"], ["a"])]
    if cond_from_shape:
        inits += [numpy_helper.from_array(np.array(0, np.int64), "zero"), numpy_helper.from_array(np.array(1, np.int64), "one")]
        nodes += [helper.make_node("Shape", ["x"], ["sx"]), helper.make_node("Gather", ["sx", "zero"], ["n"]),
                  helper.make_node("Equal", ["n", "one"], ["cond"])]
    else:
        inits.append(numpy_helper.from_array(np.array(False), "cond"))
    nodes += [helper.make_node("If", ["cond"], ["b"], then_branch=then_g, else_branch=else_g),
              helper.make_node("MatMul", ["b", "W2"], ["y"])]
    return _model(nodes, [_vi("x", ["N", 64])], [_vi("y", ["N", 16])], inits)


@pytest.mark.parametrize("cond_from_shape,batch,branch_op", [(True, 1, "relax.nn.relu"), (True, 3, "relax.multiply"),
                                                             (False, 1, "relax.multiply")])
def test_if_on_a_constant_condition_prices_the_branch_taken(capsys, tmp_path, cond_from_shape, batch, branch_op):
    p = _save(_if_model(cond_from_shape), tmp_path / "if.onnx")
    rc, rep, _ = predict(capsys, p, "--batch", str(batch))
    assert rc == 0
    # before: the If's branches were not priced at all (2 * batch * 64 * 32 + 2 * batch * 32 * 16, coverage 100 %)
    assert rep["totals"]["flops"] == 2 * batch * 64 * 32 + batch * 32 + 2 * batch * 32 * 16
    assert branch_op in {op for k in rep["kernels"] for op in k["ops"]}
    extra = 32 if branch_op == "relax.multiply" else 0  # the else branch's constant k: 32 fp32
    assert rep["totals"]["weight_bytes"] == 4 * (64 * 32 + 32 * 16 + extra)


# ------------------------------------------------------------- integer ops ----

def _matmul_integer(cast_to_float: bool):
    """x uint8 [1,64] (zero point 128) x W int8 [64,32] (per-column zero points) -> int32 [1,32]
    (``cast_to_float``: -> Cast float -> Mul by a scale, onnxruntime's dynamic quantization)."""
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.integers(-100, 100, (64, 32)).astype(np.int8), "Wq"),
             numpy_helper.from_array(np.array(128, np.uint8), "xz"),
             numpy_helper.from_array(rng.integers(-3, 3, 32).astype(np.int8), "wz")]
    nodes = [helper.make_node("MatMulInteger", ["x", "Wq", "xz", "wz"], ["yi"])]
    out = _vi("yi", [1, 32], TensorProto.INT32)
    if cast_to_float:
        inits.append(numpy_helper.from_array(np.array(0.01, np.float32), "s"))
        nodes += [helper.make_node("Cast", ["yi"], ["yf"], to=TensorProto.FLOAT), helper.make_node("Mul", ["yf", "s"], ["y"])]
        out = _vi("y", [1, 32])
    return _model(nodes, [_vi("x", [1, 64], TensorProto.UINT8)], [out], inits)


@pytest.mark.parametrize("cast_to_float", [False, True])
def test_matmul_integer_priced_as_int8(capsys, tmp_path, cast_to_float):
    rc, rep, _ = predict(capsys, _save(_matmul_integer(cast_to_float), tmp_path / "mmi.onnx"))
    assert rc == 0
    mm = kernels_by_op(rep)[("relax.matmul",)]
    # before: an int32 matmul of operands cast to int32, priced at fp32 and reading 4 B per int8 weight
    assert mm["precision"] == "int8" and mm["flops"] == 2 * 64 * 32
    assert mm["bytes_read"] == 64 + 64 * 32  # uint8 activations + int8 weights, 1 B each
    assert mm["bytes_written"] == 4 * 32
    assert len(rep["kernels"]) == (2 if cast_to_float else 1)  # no float -> int32 Cast chain


def test_matmul_integer_rewrite_computes_the_same_result():
    ort = pytest.importorskip("onnxruntime")
    from hybridperf.frontends.qoperator import qoperator_to_qdq

    for cast_to_float in (False, True):
        m = _matmul_integer(cast_to_float)
        q = qoperator_to_qdq(m)
        onnx.checker.check_model(q)
        x = np.random.default_rng(3).integers(0, 255, (1, 64)).astype(np.uint8)
        a, b = (ort.InferenceSession(p.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0] for p in (m, q))
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=1e-6)


def test_conv_integer_imports_as_int8(capsys, tmp_path):
    rng = np.random.default_rng(4)
    inits = [numpy_helper.from_array(rng.integers(-100, 100, (4, 3, 3, 3)).astype(np.int8), "Wq"),
             numpy_helper.from_array(np.array(128, np.uint8), "xz"), numpy_helper.from_array(np.array([0, 1, 2, 3], np.int8), "wz")]
    m = _model([helper.make_node("ConvInteger", ["x", "Wq", "xz", "wz"], ["y"], pads=[1, 1, 1, 1])],
               [_vi("x", [1, 3, 8, 8], TensorProto.UINT8)], [_vi("y", [1, 4, 8, 8], TensorProto.INT32)], inits, opset=10)
    rc, rep, _ = predict(capsys, _save(m, tmp_path / "ci.onnx"))
    assert rc == 0  # before: exit 2, ConvInteger cannot be imported
    conv = kernels_by_op(rep)[("relax.nn.conv2d",)]
    assert conv["precision"] == "int8"
    assert conv["flops"] == 2 * (4 * 8 * 8) * (3 * 3 * 3)
    assert conv["bytes_read"] == 3 * 8 * 8 + 4 * 3 * 3 * 3


def test_qdq_conv_int8_weights_one_byte(capsys, tmp_path):
    rng = np.random.default_rng(5)
    s = lambda n, v: numpy_helper.from_array(np.array(v, np.float32), n)  # noqa: E731
    z = lambda n: numpy_helper.from_array(np.array(0, np.int8), n)  # noqa: E731
    inits = [s("xs", 0.05), z("xz"), s("ws", 0.01), z("wz"), s("ys", 0.1), z("yz"),
             numpy_helper.from_array(rng.integers(-100, 100, (4, 3, 3, 3)).astype(np.int8), "Wq")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]), helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xf"]),
             helper.make_node("DequantizeLinear", ["Wq", "ws", "wz"], ["Wf"]), helper.make_node("Conv", ["xf", "Wf"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["cq"]), helper.make_node("DequantizeLinear", ["cq", "ys", "yz"], ["y"])]
    rc, rep, _ = predict(capsys, _save(_model(nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", [1, 4, 8, 8])], inits), tmp_path / "q.onnx"))
    assert rc == 0
    conv = kernels_by_op(rep)[("relax.nn.conv2d",)]
    assert conv["precision"] == "int8" and conv["flops"] == 2 * (4 * 8 * 8) * (3 * 3 * 3)
    assert conv["bytes_read"] == 3 * 8 * 8 + 4 * 3 * 3 * 3 and conv["bytes_written"] == 4 * 8 * 8
    assert rep["totals"]["weight_bytes"] == 4 * 3 * 3 * 3 + 3 * 4 + 3  # int8 weights, 3 fp32 scales, 3 int8 zero points


def test_loop_hint_names_unrolling(capsys, tmp_path):
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]), helper.make_node("Add", ["v_in", "v_in"], ["v_out"])], "body",
        [_vi("i", [], TensorProto.INT64), _vi("c_in", [], TensorProto.BOOL), _vi("v_in", [1, 4])],
        [_vi("c_out", [], TensorProto.BOOL), _vi("v_out", [1, 4])])
    m = _model([helper.make_node("Loop", ["M", "", "x"], ["y"], body=body)], [_vi("x", [1, 4])], [_vi("y", [1, 4])],
               [numpy_helper.from_array(np.array(3, np.int64), "M")])
    # before: "... (e.g. opset <= 22, no custom ops)", neither of which removes a Loop
    assert_input_error(capsys, _save(m, tmp_path / "loop.onnx"), "ai.onnx::Loop (1)", "unrolled")
