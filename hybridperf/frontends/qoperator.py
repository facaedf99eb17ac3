"""QOperator-format int8 ONNX models: detect them, and rewrite ``QLinearConv`` / ``QLinearMatMul`` (and
onnxruntime's ``QGemm`` and ``QLinear*`` contrib ops) as ``DequantizeLinear -> Conv/MatMul/Gemm/... ->
QuantizeLinear`` (QDQ) so that TVM can import them.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any
import numpy as np


__all__ = ["QOPERATOR_OPS", "check_qoperator", "integer_conv_note", "qoperator_to_qdq"]


#: ONNX QOperator / integer ops TVM's ONNX frontend cannot import
QOPERATOR_OPS = frozenset(
    {
        "QLinearConv",
        "QLinearMatMul",
        "QGemm",
        "QLinearAdd",
        "QLinearMul",
        "QLinearSigmoid",
        "QLinearLeakyRelu",
        "QLinearAveragePool",
        "QLinearGlobalAveragePool",
        "QLinearConcat",
        "QLinearSoftmax",
        "QLinearWhere",
        "QAttention",
        "ConvInteger",
        "MatMulInteger",
        "DynamicQuantizeMatMul",
        "MatMulIntegerToFloat",
    }
)


def check_qoperator(model: Any, source: str = "model") -> None:
    """Raise :class:`UnsupportedModelError` when an ONNX model uses QOperator int8 ops.

    Uses :func:`hybridperf.frontends.normalize.unsupported_ops`; call it before the
    generic check so that the message gives the QDQ fix.
    """
    from hybridperf.errors import UnsupportedModelError
    from hybridperf.frontends.normalize import unsupported_ops

    ids = unsupported_ops(model)
    q = sorted({i for i in ids if i.rsplit("::", 1)[-1] in QOPERATOR_OPS})
    if not q:
        return
    others = [i for i in ids if i not in q]
    more = f"; also unsupported: {', '.join(others)}" if others else ""
    raise UnsupportedModelError(
        f"{source}: QOperator-format int8 ops cannot be imported by TVM: {', '.join(q)}{more}; "
        "re-quantize in QDQ format (onnxruntime.quantization.quantize_static(..., quant_format=QuantFormat.QDQ))"
    )


def integer_conv_note(model: Any) -> str:
    """A load note for an ONNX model with ``ConvInteger`` nodes (what ``quantize_dynamic`` makes of every ``Conv``),
    "" for one without: they are priced as int8 convolutions (:func:`qoperator_to_qdq`), while onnxruntime runs them
    on its CPU ``ConvInteger`` kernel, not its packed int8 convolution (``QLinearConv``). Reads the node lists only.

    Until 2026-12-05 nothing said so: measured with onnxruntime 1.32 on one Zen 4 thread, ``quantize_dynamic``'s
    ResNet-18 took 310 ms against 33 ms float and 39 ms static QOperator (predicted 53 ms), its MobileNetV3-small
    75 ms against 2.3 ms (predicted 4.8 ms); its ``MatMulInteger`` transformers run at their priced rate.
    """
    from hybridperf.frontends.normalize import walk_nodes

    n = sum(1 for node in walk_nodes(model.graph.node) if node.op_type == "ConvInteger" and node.domain in ("", "ai.onnx"))
    if not n:
        return ""
    return (f"{n} ConvInteger node{'s' if n != 1 else ''} (quantize_dynamic of a Conv) priced as int8 convolutions; "
            "onnxruntime's CPU ConvInteger kernel is not its packed int8 convolution and measured 9-33x slower than "
            "the float model (ResNet-18 9x, MobileNetV3-small 32x): on onnxruntime they take far longer than priced; "
            "quantize the convolutions statically (quantize_static) or leave them float "
            "(quantize_dynamic(..., op_types_to_quantize=['MatMul', 'Gemm']))")


#: integer ops with an int32 result -> the float op they are (ONNX defines them on zero-point-shifted ints)
_INTEGER_OPS = {"MatMulInteger": "MatMul", "ConvInteger": "Conv"}

#: the op types :func:`qoperator_to_qdq` rewrites
_REWRITTEN = frozenset({"QLinearConv", "QLinearMatMul", *_INTEGER_OPS})

#: onnxruntime's ``com.microsoft`` QLinear ops (``quantize_static(..., quant_format=QuantFormat.QOperator)`` writes
#: them after every quantized Add, Mul, Softmax, pooling, Concat...) -> the float op each computes between
#: dequantized inputs and a quantized output (onnxruntime ``contrib_ops/quantization_defs.cc``); the attributes
#: that op does not take are dropped
_MS_QLINEAR = {
    "QLinearAdd": ("Add", ()),
    "QLinearMul": ("Mul", ()),
    "QLinearSigmoid": ("Sigmoid", ()),
    "QLinearLeakyRelu": ("LeakyRelu", ("alpha",)),
    "QLinearSoftmax": ("Softmax", ("axis",)),
    "QLinearGlobalAveragePool": ("GlobalAveragePool", ()),
    "QLinearAveragePool": ("AveragePool", ("auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides")),
    "QLinearConcat": ("Concat", ("axis",)),
}
_MS_DOMAIN = "com.microsoft"


def _ms_qlinear_layout(n: Any) -> tuple[list[tuple[str, str, str]], tuple[str, str]] | None:
    """The ``(x, scale, zero point)`` triple of each quantized input of a ``com.microsoft`` QLinear node and its
    output's ``(scale, zero point)``; None for a form not rewritten (``channels_last`` pooling, a missing
    output zero point, the opset-12 Softmax semantics on an axis that is not the last)."""
    ins = list(n.input)
    if _attr_int(n, "channels_last"):
        return None
    if n.op_type == "QLinearConcat":
        if len(ins) < 5 or (len(ins) - 2) % 3:
            return None
        triples = [tuple(ins[k:k + 3]) for k in range(2, len(ins), 3)]
        out = (ins[0], ins[1])
    elif n.op_type in ("QLinearAdd", "QLinearMul"):
        ins += [""] * (8 - len(ins))
        triples, out = [tuple(ins[0:3]), tuple(ins[3:6])], (ins[6], ins[7])
    else:
        ins += [""] * (5 - len(ins))
        triples, out = [tuple(ins[0:3])], (ins[3], ins[4])
        if n.op_type == "QLinearSoftmax" and (_attr_int(n, "opset") or 13) < 13 and (_attr_int(n, "axis") or -1) != -1:
            return None  # opset < 13 flattens to 2-D at the axis: not one Softmax
    if not out[1] or not all(x and s for x, s, _ in triples):
        return None
    return triples, out


class _Graph:
    """What the rewrite asks of a graph, each read in one walk when first asked (until 2026-12-03 each
    ``MatMulInteger`` / ``ConvInteger`` walked every node twice, for its zero points' producer and its output's
    readers, and every lookup of an initializer walked the initializers: quadratic in a model's size).

    Attributes
    ----------
    dynamic_zero_points : frozenset of str
        The zero-point outputs (scalars, by the op's definition) of the graph's ``DynamicQuantizeLinear`` nodes:
        what onnxruntime's ``quantize_dynamic`` feeds every ``ConvInteger`` / ``MatMulInteger``.
    readers : dict
        Tensor name -> ``(node, what its subgraphs read)`` of each node that reads it, as an input or from a
        subgraph, in graph order.
    """

    def __init__(self, graph: Any) -> None:
        self._graph = graph

    @cached_property
    def dynamic_zero_points(self) -> frozenset[str]:
        return frozenset(n.output[2] for n in self._graph.node
                         if n.op_type == "DynamicQuantizeLinear" and n.domain in ("", "ai.onnx") and len(n.output) > 2)

    @cached_property
    def readers(self) -> dict[str, list[tuple[Any, set[str]]]]:
        out: dict[str, list[tuple[Any, set[str]]]] = {}
        for n in self._graph.node:
            sub = _subgraph_reads(n)
            for name in dict.fromkeys([*n.input, *sub]):
                out.setdefault(name, []).append((n, sub))
        return out

    @cached_property
    def _initializers(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for t in self._graph.initializer:
            out.setdefault(t.name, t)  # the first of a name, as a walk finds it
        return out

    def initializer_array(self, name: str):
        """The initializer ``name`` as a numpy array, None when there is none."""
        from onnx import numpy_helper  # noqa: PLC0415

        t = self._initializers.get(name)
        return None if t is None else numpy_helper.to_array(t)


def _integer_op_as_qdq(model: Any, n: Any, fresh: Any, graph: _Graph,
                       unit_scale: Any) -> tuple[list[Any], list[Any]] | None:
    """``MatMulInteger`` / ``ConvInteger`` node ``n`` as ``DequantizeLinear`` (scale 1) on both operands,
    the float op, and a ``Cast`` to int32: the nodes and the new initializers (none), or None when a
    zero point is not an initializer (its shape, which the scale must share, is then unknown). ``graph``: the
    :class:`_Graph` of ``model``'s graph; ``unit_scale(shape)`` names the float32 ones of that shape that every
    rewritten node shares (:func:`qoperator_to_qdq`)."""
    from onnx import TensorProto, helper  # noqa: PLC0415

    a, b, a_zp, b_zp = (list(n.input) + [""] * 4)[:4]
    conv = n.op_type == "ConvInteger"
    operands = []
    for x, zp, per_axis in ((a, a_zp, -2), (b, b_zp, 0 if conv else -1)):
        zp_arr = graph.initializer_array(zp) if zp else np.zeros((), np.int8)
        if zp_arr is None and zp in graph.dynamic_zero_points:
            zp_arr = np.zeros((), np.int8)  # a DynamicQuantizeLinear's zero point: a scalar computed at run time
        if zp_arr is None:
            return None
        operands.append((x, zp, per_axis, zp_arr.shape))
    nodes = []
    tag = n.name or n.op_type
    for role, (x, zp, per_axis, shape) in zip("ab", operands):
        y = fresh(f"{tag}_{role}_dq")
        kw = {"axis": per_axis} if len(shape) == 1 and shape[0] > 1 else {}
        ins = [x, unit_scale(shape)] + ([zp] if zp else [])
        nodes.append(helper.make_node("DequantizeLinear", ins, [y], name=y, **kw))
    y = n.output[0]
    # The usual consumer is a Cast to float (onnxruntime's dynamic quantization), which takes the float
    # result as it is, and a graph output takes it as float32 (4 B, as int32: the same bytes). Any other
    # consumer gets the int32 the node promised: TVM's float -> int32 Cast is eight elementwise ops, so
    # it is added only there.
    to_float = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16)
    keep_int32 = not all(m.op_type == "Cast" and y not in sub and _attr_int(m, "to") in to_float
                         for m, sub in graph.readers.get(y, ()))
    yf = fresh(f"{tag}_out") if keep_int32 else y
    op = helper.make_node(_INTEGER_OPS[n.op_type], [nodes[0].output[0], nodes[1].output[0]], [yf], name=fresh(f"{tag}_float"))
    op.attribute.extend(n.attribute)
    if not keep_int32:
        for o in model.graph.output:
            if o.name == y and o.type.HasField("tensor_type"):
                o.type.tensor_type.elem_type = TensorProto.FLOAT
        return [*nodes, op], []
    cast = helper.make_node("Cast", [yf], [y], name=fresh(f"{tag}_int32"), to=TensorProto.INT32)
    return [*nodes, op, cast], []


def _qgemm_as_qdq(n: Any, graph: _Graph, fresh: Any, dq: Any, float_bias: Any) -> tuple[list[Any], list[Any]] | None:
    """onnxruntime's ``com.microsoft`` ``QGemm`` (what ``quantize_static(..., quant_format=QuantFormat.QOperator)``
    writes for every Gemm: a CNN's classifier head) as ``DequantizeLinear`` on A and B, a float ``Gemm``
    (``alpha``, ``transA``, ``transB``; its int32 C dequantized with scale ``alpha * a_scale * b_scale``, the op's
    definition with beta 1) and a ``QuantizeLinear`` when the node has an output scale (else its output is float,
    as the op's is). The nodes and the new initializer (the float32 C, or its scale where C is computed), or None when ``a_scale`` or ``b_scale`` is not an
    initializer (the bias scale is then unknown) or a zero point is missing where a scale is given. ``dq`` appends
    a ``DequantizeLinear`` to the nodes being built and returns its output; ``float_bias(c, scale, tag)`` names the
    constant C dequantized once (:func:`_float_bias`), None where it is computed."""
    from onnx import helper, numpy_helper  # noqa: PLC0415

    a, a_s, a_z, b, b_s, b_z, c, y_s, y_z = (list(n.input) + [""] * 9)[:9]
    attrs = {at.name: at for at in n.attribute}
    alpha = float(attrs["alpha"].f) if "alpha" in attrs else 1.0
    trans_b = _attr_int(n, "transB") or 0
    a_scale, b_scale = graph.initializer_array(a_s), graph.initializer_array(b_s)
    if a_scale is None or b_scale is None or not a_z or (y_s and not y_z):
        return None
    per_column = b_scale.ndim == 1 and b_scale.size > 1
    nodes: list[Any] = []
    inits: list[Any] = []
    tag = n.name or "qgemm"
    af = dq(a, a_s, a_z, None, tag)
    bf = dq(b, b_s, b_z, (0 if trans_b else 1) if per_column else None, tag)
    ins = [af, bf]
    if c:
        c_scale = (alpha * a_scale * b_scale).astype(np.float32).reshape(b_scale.shape)
        folded = float_bias(c, c_scale, tag)
        if folded is not None:  # the bias dequantized once: the bytes onnxruntime stores (:func:`_float_bias`)
            ins.append(folded)
        else:
            cs = fresh(f"{tag}_bias_scale")
            inits.append(numpy_helper.from_array(c_scale, cs))
            c_arr = graph.initializer_array(c)
            c_axis = (0 if c_arr is None or c_arr.ndim <= 1 else c_arr.ndim - 1) if per_column else None
            ins.append(dq(c, cs, "", c_axis, tag))
    yf = fresh(f"{tag}_out") if y_s else n.output[0]
    gemm = helper.make_node("Gemm", ins, [yf], name=fresh(f"{tag}_float"))
    gemm.attribute.extend(at for at in n.attribute if at.name in ("alpha", "transA", "transB"))
    nodes.append(gemm)
    if y_s:
        nodes.append(helper.make_node("QuantizeLinear", [yf, y_s, y_z], [n.output[0]], name=fresh(f"{tag}_q")))
    return nodes, inits


def _attr_int(node: Any, name: str) -> int | None:
    return next((int(a.i) for a in node.attribute if a.name == name), None)


def _float_bias(graph: _Graph, bias: str, scale: np.ndarray) -> np.ndarray | None:
    """The int32 ``bias`` initializer dequantized once, ``float32(bias) * scale`` as ``DequantizeLinear`` computes
    it, of the bias's shape; None when ``bias`` is not an initializer or ``scale`` does not broadcast onto it.

    Stored as a float32 initializer it is 4 B per element, as the int32 bias it replaces, so the imported module
    holds the bytes onnxruntime stores. Until 2026-12-04 the rewrite kept the int32 bias and added a
    ``DequantizeLinear`` with a new float32 scale initializer (``x_scale * w_scale``, one per output channel) and
    TVM's importer a zero point per node: weights the runtime never stores, counted as weights."""
    b = graph.initializer_array(bias)
    if b is None or b.dtype != np.int32 or np.broadcast_shapes(b.shape, scale.shape) != b.shape:
        return None
    return b.astype(np.float32) * scale.astype(np.float32)


def _subgraph_reads(node: Any) -> set[str]:
    from hybridperf.frontends.normalize import _subgraph_inputs  # noqa: PLC0415

    return _subgraph_inputs(node)


def qoperator_to_qdq(model: Any) -> Any:
    """Rewrite ``QLinearConv`` / ``QLinearMatMul`` nodes (and onnxruntime's ``com.microsoft`` QLinear ops of
    :data:`_MS_QLINEAR`) as ``DequantizeLinear -> Conv/MatMul/... -> QuantizeLinear``.

    The QDQ form is what TVM imports and what :func:`find_int8` prices as
    int8 kernels; the arithmetic is the same (ONNX defines both QLinear ops as
    dequantize, float op, quantize). The int32 ``QLinearConv`` bias, dequantized with scale ``x_scale * w_scale``
    (per output channel when the weight scale is), becomes a float32 initializer of its 4 B per element
    (:func:`_float_bias`: the weights onnxruntime stores), or a ``DequantizeLinear`` where it is not an
    initializer. onnxruntime's ``QLinearAdd``, ``QLinearMul``, ``QLinearSigmoid``,
    ``QLinearLeakyRelu``, ``QLinearSoftmax``, ``QLinearGlobalAveragePool``, ``QLinearAveragePool``
    and ``QLinearConcat`` become the float op between ``DequantizeLinear`` s and a ``QuantizeLinear``
    (a channels-last pooling and a node without an output zero point are left as they are); ``QGemm``
    becomes a float ``Gemm`` between them (:func:`_qgemm_as_qdq`; until 2026-12-04 it was left, so every
    QOperator CNN with a Gemm head was refused); the rest (``QAttention``...) are left, so
    :func:`check_qoperator` still names them.

    ``MatMulInteger`` / ``ConvInteger`` (int8 operands, int32 result) become
    ``DequantizeLinear`` (scale 1, one initializer of ones per zero-point shape shared by the whole model,
    their zero points) -> ``MatMul`` / ``Conv`` -> ``Cast`` to int32: TVM imports ``MatMulInteger`` as an
    int32 matmul of operands cast to int32 (priced at fp32 with 4 B per int8 weight) and cannot import
    ``ConvInteger`` at all.
    A node whose zero point is neither an initializer nor a ``DynamicQuantizeLinear`` output
    (``quantize_dynamic``'s form) is left as it is.

    Returns
    -------
    onnx.ModelProto
        ``model`` itself when it has no such node, else a rewritten copy.
    """
    from onnx import helper, numpy_helper  # noqa: PLC0415

    if not any((n.op_type in _REWRITTEN and n.domain in ("", "ai.onnx"))
               or (n.op_type in (*_MS_QLINEAR, "QGemm") and n.domain == _MS_DOMAIN) for n in model.graph.node):
        return model
    out = type(model)()
    out.CopyFrom(model)
    g = out.graph
    nodes, extra_inits = [], []
    replaced: dict[str, int] = {}  # int32 bias -> the nodes that read it dequantized (:func:`_float_bias`)
    float_biases: dict[tuple[str, bytes], str] = {}  # (int32 bias, its float32 bytes) -> the initializer holding them

    def fresh(base: str) -> str:
        return f"{base}__hp{len(nodes) + len(extra_inits)}"

    def dq(x, scale, zp, axis: int | None, tag: str) -> str:
        y = fresh(f"{tag}_dq")
        ins = [x, scale] + ([zp] if zp else [])
        kw = {} if axis is None else {"axis": axis}
        nodes.append(helper.make_node("DequantizeLinear", ins, [y], name=y, **kw))
        return y

    def emit(n, rewritten) -> None:
        """The rewritten nodes and initializers in place of ``n``, or ``n`` itself where it was not rewritten."""
        if rewritten is None:
            nodes.append(n)
            return
        new_nodes, new_inits = rewritten
        nodes.extend(new_nodes)
        extra_inits.extend(new_inits)

    def float_bias(bias: str, scale: np.ndarray, tag: str) -> str | None:
        """The float32 initializer of ``bias`` dequantized with ``scale`` (:func:`_float_bias`), one per distinct
        value: onnxruntime's quantizer stores equal int32 biases once (SqueezeNet 1.1's zero biases), and a zero
        bias is the same zeros at every scale."""
        arr = _float_bias(graph, bias, scale)
        if arr is None:
            return None
        key = (bias, arr.tobytes() + str(arr.shape).encode())
        if key not in float_biases:
            float_biases[key] = fresh(f"{tag}_bias_float")
            extra_inits.append(numpy_helper.from_array(arr, float_biases[key]))
        replaced[bias] = replaced.get(bias, 0) + 1
        return float_biases[key]

    unit_scales: dict[tuple[int, ...], str] = {}  # zero-point shape -> the float32 ones every integer op shares

    def unit_scale(shape: tuple[int, ...]) -> str:
        """The float32 ones of ``shape``, the scale of the ``DequantizeLinear`` s an integer op becomes: one
        initializer per shape for the whole model (TVM imports it as one constant, counted once), 4 B for
        ``quantize_dynamic``'s scalar zero points. onnxruntime stores no such scale; until 2026-12-04 each
        ``MatMulInteger`` / ``ConvInteger`` added two of its own, 4 B per zero point counted as weights."""
        if shape not in unit_scales:
            unit_scales[shape] = fresh("integer_op_unit_scale")
            extra_inits.append(numpy_helper.from_array(np.ones(shape, np.float32), unit_scales[shape]))
        return unit_scales[shape]

    graph = _Graph(g)  # read once, before any node is rewritten (the rewrite reads the graph as it was)
    for n in g.node:
        if n.domain == _MS_DOMAIN and n.op_type == "QGemm":
            emit(n, _qgemm_as_qdq(n, graph, fresh, dq, float_bias))
            continue
        if n.domain == _MS_DOMAIN and n.op_type in _MS_QLINEAR:
            layout = _ms_qlinear_layout(n)
            if layout is None:
                nodes.append(n)
                continue
            triples, (ys, yz) = layout
            op_type, keep = _MS_QLINEAR[n.op_type]
            xfs = [dq(x, s, z, None, n.name or x) for x, s, z in triples]
            yf = fresh(f"{n.name or op_type}_out")
            op = helper.make_node(op_type, xfs, [yf], name=yf)
            op.attribute.extend(a for a in n.attribute if a.name in keep)
            nodes += [op, helper.make_node("QuantizeLinear", [yf, ys, yz], [n.output[0]], name=fresh(f"{n.name or n.op_type}_q"))]
            continue
        if n.domain not in ("", "ai.onnx") or n.op_type not in _REWRITTEN:
            nodes.append(n)
            continue
        if n.op_type in _INTEGER_OPS:
            emit(n, _integer_op_as_qdq(out, n, fresh, graph, unit_scale))
            continue
        ins = list(n.input) + [""] * (9 - len(n.input))
        x, xs, xz, w, ws, wz, ys, yz, bias = ins[:9]
        w_scale = graph.initializer_array(ws)
        per_channel = w_scale is not None and w_scale.ndim == 1 and w_scale.size > 1
        xf = dq(x, xs, xz, None, n.name or x)
        if n.op_type == "QLinearConv":
            wf = dq(w, ws, wz, 0 if per_channel else None, n.name or w)
            conv_in = [xf, wf]
            if bias:
                x_scale = graph.initializer_array(xs)
                if x_scale is None or w_scale is None:
                    raise ValueError(f"{n.name or 'QLinearConv'}: bias scale needs constant x_scale and w_scale")
                b_scale = (x_scale * w_scale).astype(np.float32).reshape(w_scale.shape)
                folded = float_bias(bias, b_scale, n.name or "conv")
                if folded is not None:  # the bias dequantized once: the bytes onnxruntime stores (:func:`_float_bias`)
                    conv_in.append(folded)
                else:
                    bs = fresh(f"{n.name or 'conv'}_bias_scale")
                    extra_inits.append(numpy_helper.from_array(b_scale, bs))
                    conv_in.append(dq(bias, bs, "", 0 if per_channel else None, n.name or bias))
            yf = fresh(f"{n.name or 'conv'}_out")
            conv = helper.make_node("Conv", conv_in, [yf], name=yf)
            conv.attribute.extend(n.attribute)
            nodes.append(conv)
        else:
            wf = dq(w, ws, wz, None, n.name or w)  # default axis 1: per-column scales of a 2-D B
            yf = fresh(f"{n.name or 'matmul'}_out")
            nodes.append(helper.make_node("MatMul", [xf, wf], [yf], name=yf))
        q = helper.make_node("QuantizeLinear", [yf, ys, yz], [n.output[0]], name=fresh(f"{n.name or n.op_type}_q"))
        nodes.append(q)
    # an int32 bias every reader of which now reads its float32 copy is dropped (one listed as an input stays);
    # its readers are the graph's as it was, so they are counted before its nodes are replaced
    kept_names = {o.name for o in g.output} | {i.name for i in g.input}
    dropped = {b for b, k in replaced.items() if k == len(graph.readers.get(b, ())) and b not in kept_names}
    del g.node[:]
    g.node.extend(nodes)
    if dropped:
        kept = [i for i in g.initializer if i.name not in dropped]
        del g.initializer[:]
        g.initializer.extend(kept)
    g.initializer.extend(extra_inits)
    return out
