"""Constant subexpressions reach the cost pass, and every path that prices them names its runtime.

Until 2026-12-04:

* the ONNX normaliser (:mod:`hybridperf.frontends.normalize`) evaluated every node whose constant inputs held at most
  2**20 elements, float matrix products included, so a small GRU or LSTM exported with a zero initial state lost its
  first ``h0 @ W_hh`` Gemm before the cost pass saw it: under eager PyTorch (which runs it every call) such a model
  read ~6.4 % low in FLOPs (hidden 64);
* ``hybridperf.predict_on`` and ``Session.predict_on`` did not pass ``runtime`` on to the pricing, so a roofline-only
  prediction (``--roofline-only --runtime torch``) read those ops as folded under every runtime;
* the block cache's composed records (``blocks._placed_records``) dropped what a folded op costs where it runs
  (``OpRecord.unfolded``), so a composed model read them as free under torch too.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

B, I, H = 2, 8, 64  # batch, input and hidden size of one GRU-like step: gates 3H wide
G = 3 * H
#: FLOPs every runtime computes: x @ W_ih^T, its bias add, the add of both halves, the sigmoid (4 an element)
ALWAYS = 2 * B * I * G + B * G + B * G + 4 * B * G
#: FLOPs of the constant subexpression h0 @ W_hh^T and its bias add (folded by onnxruntime and TVM, run by torch)
CONSTANT = 2 * B * H * G + B * G


def _gru_step(with_shape_subgraph: bool = False) -> onnx.ModelProto:
    """One recurrent step from a zero state as a PyTorch legacy export writes it: two Gemms with transB, ``h0`` a
    zero initializer; W_hh (3H x H = 12288 elements) small enough for the normaliser to have folded it. With
    ``with_shape_subgraph`` the output is reshaped by a target computed from ``Shape`` (what must still fold)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("W_ih", rng.standard_normal((G, I)).astype("float32")), ("b_ih", np.zeros(G, "float32")),
        ("W_hh", rng.standard_normal((G, H)).astype("float32")), ("b_hh", rng.standard_normal(G).astype("float32")),
        ("h0", np.zeros((B, H), "float32")))]
    nodes = [helper.make_node("Gemm", ["x", "W_ih", "b_ih"], ["xw"], transB=1),
             helper.make_node("Gemm", ["h0", "W_hh", "b_hh"], ["hw"], transB=1),
             helper.make_node("Add", ["xw", "hw"], ["s"]), helper.make_node("Sigmoid", ["s"], ["y"])]
    out_shape = [B, G]
    if with_shape_subgraph:
        nodes[-1].output[0] = "sg"
        inits += [numpy_helper.from_array(np.array([0], np.int64), "i0"),
                  numpy_helper.from_array(np.array([-1], np.int64), "m1")]
        nodes += [helper.make_node("Shape", ["sg"], ["sh"]), helper.make_node("Gather", ["sh", "i0"], ["n"], axis=0),
                  helper.make_node("Concat", ["n", "m1"], ["target"], axis=0),
                  helper.make_node("Reshape", ["sg", "target"], ["y"])]
    graph = helper.make_graph(nodes, "gru_step", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [B, I])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_normalize_keeps_float_matrix_products_on_constants_and_folds_shape_work():
    from hybridperf.frontends.normalize import normalize

    res = normalize(_gru_step(with_shape_subgraph=True))
    # until 2026-12-04 the h0 Gemm was evaluated here ({"Gemm": 1, ...}) and reached no one
    assert [n.op_type for n in res.model.graph.node] == ["Gemm", "Gemm", "Add", "Sigmoid", "Reshape"]
    assert dict(res.folded_op_types) == {"Shape": 1, "Gather": 1, "Concat": 1}  # the shape subgraph still folds
    ort = pytest.importorskip("onnxruntime")
    x = np.random.default_rng(1).standard_normal((B, I)).astype("float32")
    run = [ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
           for m in (_gru_step(with_shape_subgraph=True), res.model)]
    np.testing.assert_allclose(run[0], run[1], rtol=1e-6, atol=1e-6)


def test_normalize_still_folds_integer_matmul_of_constants():
    """Only float arithmetic stays: integer work on constants (index and shape arithmetic) is still evaluated."""
    from hybridperf.frontends.normalize import normalize

    a = numpy_helper.from_array(np.arange(4, dtype=np.int64).reshape(2, 2), "a")
    nodes = [helper.make_node("MatMul", ["a", "a"], ["aa"]), helper.make_node("Cast", ["aa"], ["af"], to=1),
             helper.make_node("Add", ["x", "af"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])], [a])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    res = normalize(model)
    assert [n.op_type for n in res.model.graph.node] == ["Add"]
    assert dict(res.folded_op_types) == {"MatMul": 1, "Cast": 1}


@pytest.fixture(scope="module")
def gru_step(tmp_path_factory):
    import hybridperf

    path = tmp_path_factory.mktemp("gru") / "gru_step_h64.onnx"
    onnx.save(_gru_step(), str(path))
    return hybridperf.analyze(path)


def test_a_small_gru_from_a_zero_state_counts_its_recurrent_gemm_under_torch(gru_step):
    from hybridperf.estimate.pricing import predict_on

    # onnxruntime and TVM fold it at load time: the figures they had
    assert predict_on(gru_step, "h100-sxm", runtime="tvm").flops == gru_step.analysis.flops == ALWAYS
    assert predict_on(gru_step, "host-epyc-zen5-1c", runtime="onnxruntime").flops == ALWAYS
    # eager PyTorch and its CUDA graphs run it (until 2026-12-04: ALWAYS, the Gemm folded by the normaliser)
    for rt in ("torch", "torch-cudagraph"):
        assert predict_on(gru_step, "h100-sxm", runtime=rt).flops == ALWAYS + CONSTANT


def test_api_predict_on_passes_the_runtime_to_a_roofline_only_prediction(gru_step):
    import hybridperf

    # residual None: no learned model names the runtime, so only ``runtime`` can (until 2026-12-04: ALWAYS for torch)
    assert hybridperf.predict_on(gru_step, "h100-sxm", residual=None, runtime="torch").flops == ALWAYS + CONSTANT
    assert hybridperf.predict_on(gru_step, "h100-sxm", residual=None, runtime="tvm").flops == ALWAYS
    session = hybridperf.Session()
    assert session.predict_on(gru_step, "h100-sxm", residual=None, runtime="torch-cudagraph").flops == ALWAYS + CONSTANT
    assert session.predict_on(gru_step, "h100-sxm", residual=None, runtime="tvm").flops == ALWAYS
    # None: the TVM plan, as before
    assert session.predict_on(gru_step, "h100-sxm", residual=None).flops == ALWAYS


C, HW, LAYERS = 8, 8, 3
#: one 3x3 convolution 8 -> 8 channels on 8x8 (padded): 2 x MAC, MAC = C_out*H*W * C_in*3*3
CONV = 2 * (C * HW * HW) * (C * 3 * 3)


def _chain_with_constant_convs() -> onnx.ModelProto:
    """``LAYERS`` x (``Relu(Conv(x, w_i) + Conv(z_i, w_i))``), 1x8x8x8: each layer holds a convolution on constants
    only (folded by onnxruntime and TVM, run by eager PyTorch), and a cut before each layer's first Conv."""
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(LAYERS):
        inits += [numpy_helper.from_array(rng.standard_normal((C, C, 3, 3)).astype("float32"), f"w{i}"),
                  numpy_helper.from_array(rng.standard_normal((1, C, HW, HW)).astype("float32"), f"z{i}")]
        nodes += [helper.make_node("Conv", [x, f"w{i}"], [f"t{i}"], pads=[1, 1, 1, 1]),
                  helper.make_node("Conv", [f"z{i}", f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
                  helper.make_node("Add", [f"t{i}", f"c{i}"], [f"s{i}"]),
                  helper.make_node("Relu", [f"s{i}"], [f"r{i}"])]
        x = f"r{i}"
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, HW, HW])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, C, HW, HW])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def test_block_cache_composition_keeps_what_folded_ops_cost_where_they_run(tmp_path):
    from hybridperf import api

    path = tmp_path / "chain.onnx"
    onnx.save(_chain_with_constant_convs(), str(path))
    whole = api.analyze(str(path))
    session = api.Session(keep_analyses=0)
    composed = session.analyze(str(path))
    assert session.stats()["block_models_composed"] == 1
    folded = [r for r in composed.analysis.records if r.unfolded is not None]
    # until 2026-12-04 the composed records had none: their convolutions free under torch
    assert len(folded) == LAYERS and all(r.unfolded.cost.flops == CONV for r in folded)
    always = LAYERS * (CONV + 2 * C * HW * HW)  # the input's conv, the add, the relu
    for an in (whole, composed):
        assert api.predict_on(an, "h100-sxm", residual=None, runtime="tvm").flops == always
        assert api.predict_on(an, "h100-sxm", residual=None, runtime="torch").flops == always + LAYERS * CONV
