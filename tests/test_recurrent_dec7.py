"""ONNX LSTM / GRU / RNN import (hybridperf.frontends.recurrent, since 2026-12-07; until then every one exited 2 with
"TVM's ONNX frontend cannot import"): the unrolled Relax module computes what onnxruntime computes, its products
are the ones onnxruntime runs (one over the sequence with W, one per step with R), and what cannot be unrolled
says so in one line."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

ort = pytest.importorskip("onnxruntime")

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def layer(op, T=5, B=2, I=3, H=4, direction="forward", layout=0, attrs=None, bias=True, init=True, peep=False,
          outs=("Y", "Y_h", "Y_c"), seq_lens=None, seed=0):
    """One recurrent node with random weights; X (and h0, c0 with ``init``) graph inputs."""
    rng = np.random.default_rng(seed)
    D, G = (2 if direction == "bidirectional" else 1), GATES[op]
    f32 = lambda a, n: numpy_helper.from_array(np.asarray(a, np.float32), n)  # noqa: E731
    inits = [f32(rng.standard_normal((D, G * H, I)), "W"), f32(rng.standard_normal((D, G * H, H)), "R")]
    ins = ["X", "W", "R", "B" if bias else ""]
    if bias:
        inits.append(f32(rng.standard_normal((D, 2 * G * H)), "B"))
    if seq_lens is not None:
        inits.append(numpy_helper.from_array(np.asarray(seq_lens, np.int32), "L"))
    ins.append("L" if seq_lens is not None else "")
    gin = [helper.make_tensor_value_info("X", TensorProto.FLOAT, (T, B, I) if not layout else (B, T, I))]
    state = (D, B, H) if not layout else (B, D, H)
    states = ["h0", "c0"][:2 if op == "LSTM" else 1] if init else []
    for s in states:
        gin.append(helper.make_tensor_value_info(s, TensorProto.FLOAT, state))
    ins += states or (["", ""] if op == "LSTM" and peep else [])
    if peep:
        inits.append(f32(rng.standard_normal((D, 3 * H)), "P"))
        ins.append("P")
    outs = [o for o in outs if op == "LSTM" or o != "Y_c"]
    node = helper.make_node(op, ins, outs, hidden_size=H, direction=direction, **({"layout": 1} if layout else {}),
                            **(attrs or {}))
    graph = helper.make_graph([node], "g", gin, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                                                 for o in outs if o], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def feeds_of(model, seed=1):
    rng = np.random.default_rng(seed)
    return {i.name: rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim]).astype(np.float32)
            for i in model.graph.input}


def ort_outputs(model, feeds):
    layout = any(a.name == "layout" and a.i for a in model.graph.node[0].attribute)
    if not layout:
        return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    # onnxruntime's CPU kernels refuse layout 1: its layout-0 twin on the transposed tensors
    twin = onnx.ModelProto()
    twin.CopyFrom(model)
    node = twin.graph.node[0]
    kept = [a for a in node.attribute if a.name != "layout"]
    del node.attribute[:]
    node.attribute.extend(kept)
    for i in twin.graph.input:
        d = i.type.tensor_type.shape.dim
        d[0].dim_value, d[1].dim_value = d[1].dim_value, d[0].dim_value
    swapped = {k: np.ascontiguousarray(np.swapaxes(v, 0, 1)) for k, v in feeds.items()}
    ref = ort.InferenceSession(twin.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, swapped)
    return [np.transpose(r, (2, 0, 1, 3)) if r.ndim == 4 else np.swapaxes(r, 0, 1) for r in ref]


def relax_outputs(model, feeds):
    import tvm

    from hybridperf.frontends.load import load_model
    from hybridperf.ir.tvm_compat import var_name

    loaded = load_model(model)
    vm = tvm.relax.VirtualMachine(tvm.compile(loaded.module, target="llvm"), tvm.cpu())
    got = vm["main"](*[tvm.runtime.tensor(feeds[var_name(p)]) for p in loaded.module["main"].params])
    return [got.numpy()] if hasattr(got, "numpy") else [g.numpy() for g in got]


CASES = [
    ("LSTM", {}),
    ("LSTM", {"direction": "bidirectional", "peep": True}),
    ("LSTM", {"direction": "reverse", "attrs": {"clip": 0.5}}),  # onnxruntime clips the gates, not h's cell input
    ("LSTM", {"attrs": {"input_forget": 1}, "bias": False, "init": False}),
    ("LSTM", {"layout": 1, "direction": "bidirectional"}),
    ("LSTM", {"T": 1, "outs": ("", "Y_h")}),
    ("GRU", {}),
    ("GRU", {"attrs": {"linear_before_reset": 1}, "direction": "bidirectional"}),
    ("GRU", {"attrs": {"clip": 0.5, "linear_before_reset": 1}, "layout": 1}),
    ("GRU", {"attrs": {"activations": ["HardSigmoid", "Softsign"], "activation_alpha": [0.3]}}),
    ("RNN", {"attrs": {"activations": ["Relu"]}, "init": False}),
    ("RNN", {"direction": "bidirectional", "attrs": {"activations": ["LeakyRelu", "Elu"], "activation_alpha": [0.1]}}),
]


@pytest.mark.parametrize("op, kw", CASES, ids=[f"{op}-{k}" for k, (op, _) in enumerate(CASES)])
def test_unrolled_layer_computes_what_onnxruntime_computes(op, kw):
    model = layer(op, **kw)
    feeds = feeds_of(model)
    ref, got = ort_outputs(model, feeds), relax_outputs(model, feeds)
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, atol=2e-5, rtol=1e-5)


def test_costs_are_the_products_onnxruntime_runs():
    """FLOPs of an LSTM of T steps from a zero state: the input product 2*T*B*I*4H and T - 1 recurrent products
    2*B*H*4H (the first step's state is zeros: no product); GRU without linear_before_reset: the reset gate scales H
    before its own product, so two products a step."""
    from hybridperf.api import analyze

    T, B, I, H = 7, 2, 16, 32
    lstm = analyze(layer("LSTM", T=T, B=B, I=I, H=H, init=False))
    products = 2 * T * B * I * 4 * H + (T - 1) * 2 * B * H * 4 * H
    matmuls = [r for r in lstm.analysis.records if r.op == "relax.matmul"]
    assert sum(r.cost.flops for r in matmuls) == products
    assert len(matmuls) == T
    with_state = [r for r in analyze(layer("LSTM", T=T, B=B, I=I, H=H)).analysis.records if r.op == "relax.matmul"]
    assert sum(r.cost.flops for r in with_state) == products + 2 * B * H * 4 * H and len(with_state) == 1 + T
    gru = analyze(layer("GRU", T=T, B=B, I=I, H=H, init=False))
    matmuls = [r for r in gru.analysis.records if r.op == "relax.matmul"]
    assert sum(r.cost.flops for r in matmuls) == 2 * T * B * I * 3 * H + (T - 1) * (2 * B * H * 2 * H + 2 * B * H * H)
    assert len(matmuls) == 1 + 2 * (T - 1)
    # the weights are counted once each (W and R transposed into new constants, the original ones unread), the
    # two biases Wb + Rb as their sum (one 4H vector)
    weights = 4 * (4 * H * I + 4 * H * H + 4 * H)
    assert lstm.memory.weight_bytes == weights


def test_variable_sequence_lengths_are_one_line(tmp_path):
    """sequence_lens shorter than the sequence: the steps each entry skips are known at run time only."""
    import subprocess
    import sys

    full = layer("LSTM", T=5, B=2, seq_lens=[5, 5])
    from hybridperf.api import analyze

    assert analyze(full).analysis.flops > 0  # every entry the full length: nothing skipped, imported
    path = tmp_path / "padded.onnx"
    onnx.save(layer("LSTM", T=5, B=2, seq_lens=[5, 3]), path)
    proc = subprocess.run([sys.executable, "-m", "hybridperf", "predict", str(path), "--device", "t4"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert "sequence_lens" in line and "pack_padded_sequence" in line


def test_unknown_activation_is_one_line(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "odd.onnx"
    onnx.save(layer("RNN", attrs={"activations": ["Swish"]}), path)
    proc = subprocess.run([sys.executable, "-m", "hybridperf", "predict", str(path), "--device", "t4"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert "'Swish'" in line and "softsign" in line


def test_recurrent_ops_are_importable_and_loops_still_are_not():
    from hybridperf.frontends.normalize import unsupported_ops

    assert unsupported_ops(layer("LSTM")) == []
    assert unsupported_ops(layer("GRU")) == []
    assert unsupported_ops(layer("RNN")) == []


def test_a_zero_initial_state_is_no_state():
    """torch.onnx.export writes h0 / c0 as an Expand of a zero constant, which the normaliser folds: the same layer
    as one without initial state (no product of zeros with R at the first step, which a constant folder would read
    as load-time work), not one product more."""
    from hybridperf.api import analyze

    T, B, I, H = 4, 1, 8, 16
    model = layer("GRU", T=T, B=B, I=I, H=H)
    zeros = numpy_helper.from_array(np.zeros((1, B, H), np.float32), "h0")
    del model.graph.input[1:]
    model.graph.initializer.append(zeros)
    got = [r.cost.flops for r in analyze(model).analysis.records if r.op == "relax.matmul"]
    none = [r.cost.flops for r in analyze(layer("GRU", T=T, B=B, I=I, H=H, init=False)).analysis.records
            if r.op == "relax.matmul"]
    assert got == none and len(got) == 1 + 2 * (T - 1)


def test_a_contrib_converters_refusal_is_one_whole_line_with_its_fix(tmp_path):
    """Since 2026-12-07 a refusal of one of our converters is its whole message (it was cut at 200 characters inside
    "TVM's ONNX frontend cannot import this model (...)"), with the fix an onnxruntime fusion has."""
    import subprocess
    import sys

    node = helper.make_node("FusedMatMul", ["A", "B"], ["Y"], domain="com.microsoft", transBatchA=1)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("A", TensorProto.FLOAT, (2, 3, 4)),
                                            helper.make_tensor_value_info("B", TensorProto.FLOAT, (2, 4, 5))],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    path = tmp_path / "fused.onnx"
    onnx.save(model, path)
    proc = subprocess.run([sys.executable, "-m", "hybridperf", "predict", str(path), "--device", "t4"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert "FusedMatMul node cannot be imported" in line and "transBatchA" in line
    assert "before onnxruntime's fusions" in line


@pytest.mark.parametrize("op, kw", [("GRU", {"attrs": {"linear_before_reset": 1}}), ("GRU", {}),
                                    ("LSTM", {"direction": "bidirectional", "peep": True})])
def test_weights_given_as_inputs_are_sliced_and_transposed_in_the_graph(op, kw):
    """W, R, B (and P) as graph inputs rather than initializers: the converter slices and transposes them with ops
    (a constant is transposed once, at import); the outputs are onnxruntime's all the same."""
    model = layer(op, **kw)
    inits = list(model.graph.initializer)
    del model.graph.initializer[:]
    for t in inits:
        model.graph.input.append(helper.make_tensor_value_info(t.name, TensorProto.FLOAT, numpy_helper.to_array(t).shape))
    feeds = feeds_of(model)
    for g, r in zip(relax_outputs(model, feeds), ort_outputs(model, feeds)):
        np.testing.assert_allclose(g, r, atol=2e-5, rtol=1e-5)
