"""Small ONNX graphs built in the tests, with their FLOPs written by hand.

Each builder returns ``(model, expected_flops)`` where ``expected_flops`` is
accumulated from ONNX-level formulas (FLOP = 2 x MAC):

* Conv: ``2 * N * C_out * H_out * W_out * (C_in / groups) * kh * kw``
* Gemm/MatMul: ``2 * M * N * K`` (+ ``M * N`` for the bias add)
* BatchNormalization: 4 per element; Relu/Add/Clip-free elementwise: 1 (Clip 2)
* GlobalAveragePool: input elements + output elements
* MaxPool: output elements x window
* Softmax: 5 per element; LayerNormalization: 8 per element
* Erf-GELU written as Div, Erf, Add, Mul, Mul: 5 per element
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _G:
    def __init__(self, seed: int = 0):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.flops = 0
        self.n = 0
        self.rng = np.random.default_rng(seed)

    def name(self, p: str) -> str:
        self.n += 1
        return f"{p}{self.n}"

    def const(self, arr: np.ndarray) -> str:
        nm = self.name("w")
        self.inits.append(numpy_helper.from_array(arr, nm))
        return nm

    def node(self, op: str, ins: list[str], **attrs) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    def model(self, inputs, outputs, opset: int = 17) -> onnx.ModelProto:
        g = helper.make_graph(self.nodes, "g", inputs, outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 8
        return m


def conv_bn_relu(g: _G, x: str, n: int, cin: int, cout: int, hw: int, k: int, stride: int, groups: int = 1, relu: bool = True, relu6: bool = False):
    pad = k // 2
    ho = (hw + 2 * pad - k) // stride + 1
    w = g.const(g.rng.standard_normal((cout, cin // groups, k, k)).astype(np.float32) * 0.1)
    y = g.node("Conv", [x, w], kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=groups)
    g.flops += 2 * n * cout * ho * ho * (cin // groups) * k * k
    scale = g.const(np.ones(cout, np.float32))
    bias = g.const(np.zeros(cout, np.float32))
    mean = g.const(np.zeros(cout, np.float32))
    var = g.const(np.ones(cout, np.float32))
    y = g.node("BatchNormalization", [y, scale, bias, mean, var], epsilon=1e-5)
    g.flops += 4 * n * cout * ho * ho
    if relu6:
        lo = g.const(np.array(0.0, np.float32))
        hi = g.const(np.array(6.0, np.float32))
        y = g.node("Clip", [y, lo, hi])
        g.flops += 2 * n * cout * ho * ho
    elif relu:
        y = g.node("Relu", [y])
        g.flops += n * cout * ho * ho
    return y, ho


def classifier_head(g: _G, y: str, n: int, c: int, h: int, hw: int, classes: int):
    """GAP, flatten, FC to ``logits``; returns the model (input ``x``: N x 3 x hw x hw) and its FLOPs."""
    y = g.node("GlobalAveragePool", [y])
    g.flops += n * c * h * h + n * c
    y = g.node("Flatten", [y], axis=1)
    w = g.const(g.rng.standard_normal((classes, c)).astype(np.float32))
    b = g.const(np.zeros(classes, np.float32))
    y = g.node("Gemm", [y, w, b], transB=1)
    g.flops += 2 * n * classes * c + n * classes
    g.nodes[-1].output[0] = "logits"
    m = g.model(
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, hw, hw])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])],
    )
    return m, g.flops


def resnet_like(batch: int = 1, hw: int = 32, width: int = 16, classes: int = 10):
    """Stem conv, max-pool, two basic residual blocks (one strided with a 1x1 shortcut), GAP, FC."""
    g = _G(0)
    n = batch
    y, h = conv_bn_relu(g, "x", n, 3, width, hw, 3, 1)
    y = g.node("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    h //= 2
    g.flops += n * width * h * h * 2 * 2
    c = width
    for stride, cout in ((1, width), (2, width * 2)):
        a, h2 = conv_bn_relu(g, y, n, c, cout, h, 3, stride)
        b, _ = conv_bn_relu(g, a, n, cout, cout, h2, 3, 1, relu=False)
        if stride != 1 or c != cout:
            sc, _ = conv_bn_relu(g, y, n, c, cout, h, 1, stride, relu=False)
        else:
            sc = y
        y = g.node("Add", [b, sc])
        g.flops += n * cout * h2 * h2
        y = g.node("Relu", [y])
        g.flops += n * cout * h2 * h2
        c, h = cout, h2
    return classifier_head(g, y, n, c, h, hw, classes)



def densenet_like(batch: int = 1, hw: int = 16, growth: int = 8, layers: int = 3, classes: int = 10):
    """Stem, max-pool, one dense block (each layer reads the concatenation of all earlier maps), GAP, FC.

    The repeated concatenations make TVM's lowering reuse variable name hints
    (``lv4`` bound twice), which the memory planner must not confuse.
    """
    g = _G(3)
    n = batch
    y, h = conv_bn_relu(g, "x", n, 3, 16, hw, 3, 1)
    y = g.node("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    h //= 2
    g.flops += n * 16 * h * h * 2 * 2
    feats, c = [y], 16
    for _ in range(layers):
        x = g.node("Concat", feats, axis=1) if len(feats) > 1 else feats[0]
        scale, bias = g.const(np.ones(c, np.float32)), g.const(np.zeros(c, np.float32))
        mean, var = g.const(np.zeros(c, np.float32)), g.const(np.ones(c, np.float32))
        x = g.node("BatchNormalization", [x, scale, bias, mean, var], epsilon=1e-5)
        g.flops += 4 * n * c * h * h
        x = g.node("Relu", [x])
        g.flops += n * c * h * h
        x, _ = conv_bn_relu(g, x, n, c, 4 * growth, h, 1, 1)
        w = g.const(g.rng.standard_normal((growth, 4 * growth, 3, 3)).astype(np.float32) * 0.1)
        x = g.node("Conv", [x, w], kernel_shape=[3, 3], pads=[1] * 4)
        g.flops += 2 * n * growth * h * h * 4 * growth * 3 * 3
        feats.append(x)
        c += growth
    y = g.node("Concat", feats, axis=1)
    return classifier_head(g, y, n, c, h, hw, classes)

def mobilenetv2_like(batch: int = 1, hw: int = 32, classes: int = 10):
    """Stem, then inverted residual blocks (1x1 expand, 3x3 depthwise, 1x1 project) with ReLU6."""
    g = _G(1)
    n = batch
    y, h = conv_bn_relu(g, "x", n, 3, 16, hw, 3, 2, relu6=True)
    c = 16
    for t, cout, stride in ((1, 16, 1), (4, 24, 2), (4, 24, 1), (4, 32, 2)):
        hidden = c * t
        inp = y
        z = y
        if t != 1:
            z, _ = conv_bn_relu(g, z, n, c, hidden, h, 1, 1, relu6=True)
        z, h2 = conv_bn_relu(g, z, n, hidden, hidden, h, 3, stride, groups=hidden, relu6=True)
        z, _ = conv_bn_relu(g, z, n, hidden, cout, h2, 1, 1, relu=False)
        if stride == 1 and c == cout:
            z = g.node("Add", [z, inp])
            g.flops += n * cout * h2 * h2
        y, c, h = z, cout, h2
    return classifier_head(g, y, n, c, h, hw, classes)


def bert_like(batch: int = 1, seq: int = 16, hidden: int = 32, heads: int = 2, layers: int = 2, ffn: int = 64):
    """Transformer encoder layers: QKV projections, scaled dot-product attention,
    output projection, residual + LayerNorm, GELU(erf) FFN, residual + LayerNorm."""
    g = _G(2)
    b, s, d, hd = batch, seq, hidden, hidden // heads
    x = "x"
    rows = b * s

    def linear(inp: str, k: int, m: int) -> str:
        w = g.const(g.rng.standard_normal((k, m)).astype(np.float32) * 0.1)
        bias = g.const(np.zeros(m, np.float32))
        y = g.node("MatMul", [inp, w])
        y = g.node("Add", [y, bias])
        g.flops += 2 * rows * k * m + rows * m
        return y

    def layer_norm(inp: str) -> str:
        sc = g.const(np.ones(d, np.float32))
        bi = g.const(np.zeros(d, np.float32))
        g.flops += 8 * rows * d
        return g.node("LayerNormalization", [inp, sc, bi], axis=-1, epsilon=1e-5)

    split_shape = g.const(np.array([b, s, heads, hd], np.int64))
    merge_shape = g.const(np.array([b, s, d], np.int64))
    for _ in range(layers):
        heads_t = []
        for _qkv in range(3):
            p = linear(x, d, d)
            p = g.node("Reshape", [p, split_shape])
            p = g.node("Transpose", [p], perm=[0, 2, 1, 3])
            heads_t.append(p)
        q, k, v = heads_t
        kt = g.node("Transpose", [k], perm=[0, 1, 3, 2])
        scores = g.node("MatMul", [q, kt])
        g.flops += 2 * b * heads * s * s * hd
        scale = g.const(np.array(1.0 / np.sqrt(hd), np.float32))
        scores = g.node("Mul", [scores, scale])
        g.flops += b * heads * s * s
        probs = g.node("Softmax", [scores], axis=-1)
        g.flops += 5 * b * heads * s * s
        ctx = g.node("MatMul", [probs, v])
        g.flops += 2 * b * heads * s * s * hd
        ctx = g.node("Transpose", [ctx], perm=[0, 2, 1, 3])
        ctx = g.node("Reshape", [ctx, merge_shape])
        attn = linear(ctx, d, d)
        x = g.node("Add", [attn, x])
        g.flops += rows * d
        x = layer_norm(x)
        h = linear(x, d, ffn)
        c = g.const(np.array(np.sqrt(2.0), np.float32))
        one = g.const(np.array(1.0, np.float32))
        half = g.const(np.array(0.5, np.float32))
        e = g.node("Div", [h, c])
        e = g.node("Erf", [e])
        e = g.node("Add", [e, one])
        e = g.node("Mul", [h, e])
        e = g.node("Mul", [e, half])
        g.flops += 5 * rows * ffn
        o = linear(e, ffn, d)
        x = g.node("Add", [o, x])
        g.flops += rows * d
        x = layer_norm(x)
    g.nodes[-1].output[0] = "out"
    m = g.model(
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [b, s, d])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [b, s, d])],
    )
    return m, g.flops


def batches_taken(path, batches):
    """The ``batches`` a saved model's inputs can take: all of them where some input's leading dimension is
    symbolic, else only its fixed one (``--batch`` that no input takes is an input error)."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    leading = [vi.type.tensor_type.shape.dim[0] for vi in m.graph.input
               if vi.name not in inits and vi.type.tensor_type.shape.dim]
    if any(not d.HasField("dim_value") for d in leading):
        return tuple(batches)
    return tuple(b for b in batches if b is None or any(d.dim_value == b for d in leading))


def save_static(d, names) -> list:
    """Save the builders ``names`` into folder ``d`` (created) as ``NAME.onnx`` with every symbolic dim of their
    inputs and outputs bound to 1: the static shapes ``calibrate --measure`` needs. ``names`` may also map a file
    name to ``(builder, keyword arguments)``. Returns the paths."""
    from pathlib import Path

    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    builds = names.items() if isinstance(names, dict) else ((name, (globals()[name], {})) for name in names)
    out = []
    for name, (build, kw) in builds:
        m, _ = build(**kw)
        for io in [*m.graph.input, *m.graph.output]:
            for dim in io.type.tensor_type.shape.dim:
                if dim.HasField("dim_param"):
                    dim.dim_value = 1
        onnx.save(m, str(d / f"{name}.onnx"))
        out.append(d / f"{name}.onnx")
    return out


# ------------------------------------------------------------ quantized-model test helpers ----
# (the int8 audits' graphs: tests/test_edge_int8_audit.py, tests/test_edge_user_audit.py)


def value_info(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, dims)


def opset17_model(nodes, inputs, outputs, inits, ms=False):
    """A graph at opset 17 (and com.microsoft 1 with ``ms``), IR version 8."""
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.microsoft", 1)] if ms else [])
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, inits), opset_imports=opsets)
    m.ir_version = 8
    return m


def ort_run_unoptimised(model, feeds, all_outputs=False):
    """The first output of onnxruntime's CPU run of ``model`` with every graph optimisation off (``all_outputs``:
    the list of every output)."""
    import pytest

    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    outs = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feeds)
    return outs if all_outputs else outs[0]


def stored_bytes(model):
    """The bytes of ``model``'s initializers as stored (what onnxruntime holds as weights)."""
    return sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)


def records_of(analyzed, op):
    return [r for r in analyzed.analysis.records if r.op == op]
