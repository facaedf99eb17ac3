"""onnxruntime's contrib ops as Relax: what its transformer optimizer and graph optimizer write.

``onnxruntime.transformers.optimizer.optimize_model`` (``model_type`` bert / gpt2) and a session saved
at ``ORT_ENABLE_EXTENDED`` (``SessionOptions.optimized_model_filepath``) fuse subgraphs into
``com.microsoft`` ops. TVM's ONNX frontend converts some by name, with restrictions (its
``SkipLayerNormalization`` needs a bias and returns three outputs where GPT-2's has four; its
``Attention`` takes no past state and no causal flag) and others not at all. Each converter here lowers
one op into the Relax ops that compute it, with the semantics of onnxruntime's op schema
(``onnxruntime/core/graph/contrib_ops/*_defs.cc``), so that TVM plans its memory and the cost registry
prices each step. A case a converter does not handle raises :class:`NotImplementedError` naming the
attribute or input; the importer turns it into one line (exit 2).

:data:`CONVERTERS` (with :mod:`.recurrent`'s ONNX ``LSTM`` / ``GRU`` / ``RNN``) is keyed by ``(domain, op_type)``; :func:`hybridperf.frontends.normalize.check_supported`
treats its keys as importable, and the importer calls them instead of TVM's converter of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hybridperf.frontends.onnx_shapes import conv_shape, fused_matmul_shape, gemm_shape
from hybridperf.frontends.recurrent import CONVERTERS as RECURRENT_CONVERTERS
from hybridperf.frontends.relax_build import attr, input_at, outputs, relax_ops, static_info, wanted

__all__ = ["CONVERTERS", "converter_for"]

MS = "com.microsoft"


# --------------------------------------------------------------------------- normalisations


def _skip_norm(simplified: bool) -> Callable:
    """``SkipLayerNormalization`` / ``SkipSimplifiedLayerNormalization``: ``s = input + skip (+ bias)``,
    output 0 the layer (RMS) norm of ``s`` over the last axis, output 3 ``s`` itself."""

    def convert(bb, inputs, attrs, node):
        relax = relax_ops()
        x, skip, gamma = inputs[0], inputs[1], inputs[2]
        beta = None if simplified else input_at(inputs, 3)
        bias = input_at(inputs, 3 if simplified else 4)
        eps = float(attr(attrs, "epsilon", 1e-12))
        s = bb.normalize(relax.op.add(x, skip))
        if bias is not None:
            s = bb.normalize(relax.op.add(s, bias))
        if simplified:
            y = relax.op.nn.rms_norm(s, gamma, axes=[-1], epsilon=eps)
        else:
            if beta is None:
                _, gshape, gdtype = static_info(bb, gamma)
                beta = relax.const(np.zeros(gshape, gdtype))
                y = relax.op.nn.layer_norm(s, gamma, beta, axes=[-1], epsilon=eps, center=False)
            else:
                y = relax.op.nn.layer_norm(s, gamma, beta, axes=[-1], epsilon=eps)
        return outputs(bb, node, [y, None, None, s])

    return convert


def _simplified_layer_norm(bb, inputs, attrs, node):
    """``SimplifiedLayerNormalization`` (onnxruntime registers it in the ONNX domain): RMS norm over
    the axes from ``axis`` on."""
    relax = relax_ops()
    x, shape, _ = static_info(bb, inputs[0])
    axis = int(attr(attrs, "axis", -1)) % len(shape)
    eps = float(attr(attrs, "epsilon", 1e-5))
    return outputs(bb, node, [relax.op.nn.rms_norm(x, inputs[1], axes=list(range(axis, len(shape))), epsilon=eps)])


# --------------------------------------------------------------------------- matmuls and activations


def _swap_last(expr: Any, rank: int) -> Any:
    relax = relax_ops()
    axes = list(range(rank))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return relax.op.permute_dims(expr, axes)


def _fused_matmul(bb, inputs, attrs, node):
    """``FusedMatMul``: ``alpha * op(A) @ op(B)``, ``op`` a transpose of the last two axes when ``transA`` /
    ``transB``."""
    relax = relax_ops()
    if int(attr(attrs, "transBatchA", 0)) or int(attr(attrs, "transBatchB", 0)):
        raise NotImplementedError("FusedMatMul with transBatchA / transBatchB is not supported")
    a, ashape, dtype = static_info(bb, inputs[0])
    b, bshape, _ = static_info(bb, inputs[1])
    if int(attr(attrs, "transA", 0)) and len(ashape) >= 2:
        a = _swap_last(a, len(ashape))
    if int(attr(attrs, "transB", 0)) and len(bshape) >= 2:
        b = _swap_last(b, len(bshape))
    y = relax.op.matmul(a, b)
    alpha = float(attr(attrs, "alpha", 1.0))
    if alpha != 1.0:
        y = relax.op.multiply(bb.normalize(y), relax.const(alpha, dtype))
    return outputs(bb, node, [y])


def _activation(x: Any, kind: str, attrs: dict, op: str = "FusedGemm") -> Any:
    """``FusedGemm``'s / ``FusedConv``'s ``activation`` attribute applied to ``x`` (``FusedConv`` passes its
    parameters as ``activation_params``: LeakyRelu's alpha, Clip's min and max, HardSigmoid's alpha and beta)."""
    relax = relax_ops()
    params = [float(p) for p in (attrs.get("activation_params") or ())]
    if kind == "Relu":
        return relax.op.nn.relu(x)
    if kind == "Sigmoid":
        return relax.op.sigmoid(x)
    if kind == "Tanh":
        return relax.op.tanh(x)
    if kind == "LeakyRelu":
        return relax.op.nn.leakyrelu(x, params[0] if params else float(attr(attrs, "activation_alpha", 0.01)))
    if kind == "Clip" and op == "FusedConv" and len(params) == 2:
        return relax.op.clip(x, params[0], params[1])
    if kind == "HardSigmoid" and op == "FusedConv":
        alpha, beta = (params + [0.2, 0.5][len(params):])[:2]
        dtype = str(x.ty.dtype)
        scaled = relax.op.add(relax.op.multiply(x, relax.const(alpha, dtype)), relax.const(beta, dtype))
        return relax.op.clip(scaled, 0.0, 1.0)
    allowed = "Relu, LeakyRelu, Sigmoid, Tanh" + (", Clip, HardSigmoid" if op == "FusedConv" else "")
    raise NotImplementedError(f"{op} activation {kind!r} is not supported ({allowed} are)")


def _fused_conv(bb, inputs, attrs, node):
    """``FusedConv`` (onnxruntime's Conv + activation fusion, in sessions saved at ``ORT_ENABLE_EXTENDED`` on CPU):
    ``activation(conv(X, W, B) + Z)``, the convolution by TVM's own Conv converter."""
    from tvm.relax.frontend.onnx import onnx_frontend  # noqa: PLC0415

    relax = relax_ops()
    x = bb.normalize(inputs[0])
    conv_attrs = {k: v for k, v in attrs.items() if not k.startswith("activation")}
    y = onnx_frontend.Conv._impl_v11(bb, [x, inputs[1], input_at(inputs, 2)], conv_attrs, [{}, {}])  # noqa: SLF001
    z = input_at(inputs, 3)
    if z is not None:
        y = relax.op.add(bb.normalize(y), z)
    kind = attr(attrs, "activation", "")
    if kind:
        y = _activation(bb.normalize(y), kind, attrs, op="FusedConv")
    return outputs(bb, node, [y])


def _fused_gemm(bb, inputs, attrs, node):
    """``FusedGemm``: ``activation(alpha * op(A) @ op(B) + beta * C)``."""
    relax = relax_ops()
    a, _, dtype = static_info(bb, inputs[0])
    b = inputs[1]
    if int(attr(attrs, "transA", 0)):
        a = relax.op.permute_dims(a, [1, 0])
    if int(attr(attrs, "transB", 0)):
        b = relax.op.permute_dims(b, [1, 0])
    y = relax.op.matmul(a, b)
    alpha, beta = float(attr(attrs, "alpha", 1.0)), float(attr(attrs, "beta", 1.0))
    if alpha != 1.0:
        y = relax.op.multiply(bb.normalize(y), relax.const(alpha, dtype))
    c = input_at(inputs, 2)
    if c is not None and beta != 0.0:
        if beta != 1.0:
            c = relax.op.multiply(c, relax.const(beta, dtype))
        y = relax.op.add(bb.normalize(y), c)
    kind = attr(attrs, "activation", "")
    if kind:
        y = _activation(bb.normalize(y), kind, attrs)
    return outputs(bb, node, [y])


def _quick_gelu(bb, inputs, attrs, node):
    """``QuickGelu``: ``x * sigmoid(alpha * x)``, ``alpha`` 1.702 by default."""
    relax = relax_ops()
    x, _, dtype = static_info(bb, inputs[0])
    alpha = float(attr(attrs, "alpha", 1.702))
    # alpha 1 is SiLU / Swish (onnxruntime fuses EfficientNet's x * sigmoid(x) into QuickGelu alpha=1): no scaling
    # multiply (until 2026-12-03 it was priced, 1 FLOP per element the model does not run)
    scaled = x if alpha == 1.0 else relax.op.multiply(x, relax.const(alpha, dtype))
    return outputs(bb, node, [relax.op.multiply(x, relax.op.sigmoid(scaled))])


def _bias_add(bb, inputs, attrs, node):
    """``BiasAdd``: ``X + bias + skip``."""
    relax = relax_ops()
    return outputs(bb, node, [relax.op.add(bb.normalize(relax.op.add(inputs[0], inputs[1])), inputs[2])])


# --------------------------------------------------------------------------- attention


def _mask_bias(bb, mask: Any, batch: int, seq: int, total: int, dtype: str, fill: float) -> Any:
    """An additive attention bias ``(B, 1, S or 1, T)`` from an onnxruntime mask: 2-D ``(B, T)`` or 3-D
    ``(B, S, T)`` with 1 to attend and 0 not (``fill`` where 0), or 1-D ``(B,)`` valid lengths (key
    positions at or past the length get ``fill``)."""
    relax = relax_ops()
    mask, mshape, _ = static_info(bb, mask)
    if len(mshape) == 1 and mshape[0] == batch:
        pos = relax.const(np.arange(total, dtype=np.int64).reshape(1, total))
        ends = relax.op.reshape(relax.op.astype(mask, "int64"), (batch, 1))
        keep = relax.op.astype(relax.op.less(pos, ends), dtype)
        shape4 = (batch, 1, 1, total)
    elif len(mshape) == 2 and mshape == (batch, total):
        keep, shape4 = relax.op.astype(mask, dtype), (batch, 1, 1, total)
    elif len(mshape) == 3 and mshape == (batch, seq, total):
        keep, shape4 = relax.op.astype(mask, dtype), (batch, 1, seq, total)
    else:
        raise NotImplementedError(f"an attention mask of shape {mshape} is not supported "
                                  f"((B,), (B, T) or (B, S, T) are, here B={batch}, S={seq}, T={total})")
    bias = relax.op.multiply(relax.op.subtract(relax.const(1, dtype), keep), relax.const(fill, dtype))
    return bb.normalize(relax.op.reshape(bias, shape4))


def _attention_bias(bb, key_mask: Any, attention_bias: Any, attrs: dict, batch: int, seq: int, total: int,
                    dtype: str) -> Any:
    """The additive bias of an attention (None: neither input given): its onnxruntime ``key_mask`` as a bias
    (:func:`_mask_bias`, masked positions get ``mask_filter_value``) plus its ``attention_bias`` input."""
    relax = relax_ops()
    fill = float(attr(attrs, "mask_filter_value", -10000.0))
    bias = None if key_mask is None else _mask_bias(bb, key_mask, batch, seq, total, dtype, fill)
    if attention_bias is not None:
        bias = attention_bias if bias is None else bb.normalize(relax.op.add(bias, attention_bias))
    return bias


def _attend(q: Any, k: Any, v: Any, bias: Any, attrs: dict) -> Any:
    """``softmax(q k^T * scale + bias) v`` for BSNH ``q``, ``k``, ``v`` (``bias`` additive, or None), causal
    (bottom right: query ``i`` sees the past and keys up to ``i``) when ``unidirectional``."""
    relax = relax_ops()
    scale = float(attr(attrs, "scale", 0.0)) or None
    causal = "BottomRight" if int(attr(attrs, "unidirectional", 0)) else None
    return relax.op.nn.attention(q, k, v, bias, scale=scale, causal_mask=causal)


def _bnsh(expr: Any) -> Any:
    """BSNH <-> BNSH (the same permutation both ways)."""
    return relax_ops().op.permute_dims(expr, [0, 2, 1, 3])


def _attention(bb, inputs, attrs, node):
    """``Attention`` (com.microsoft): one ``input @ weight + bias`` gives Q, K, V (``qkv_hidden_sizes``, else
    thirds); ``past`` ``(2, B, N, P, H)`` is prepended to K and V, ``present`` returns them."""
    relax = relax_ops()
    for unsupported in ("do_rotary", "past_present_share_buffer"):
        if int(attr(attrs, unsupported, 0)):
            raise NotImplementedError(f"Attention with {unsupported}=1 is not supported")
    if input_at(inputs, 6) is not None:
        raise NotImplementedError("Attention with a past_sequence_length input is not supported")
    x, (batch, seq, _), dtype = static_info(bb, inputs[0])
    w, wshape, _ = static_info(bb, inputs[1])
    heads = int(attr(attrs, "num_heads", 0))
    sizes = list(attr(attrs, "qkv_hidden_sizes", [])) or [wshape[1] // 3] * 3
    dq, dk, dv = (int(s) for s in sizes)
    if heads <= 0 or dq % heads or dk % heads or dv % heads or dq != dk:
        raise NotImplementedError(f"Attention hidden sizes {sizes} do not split into num_heads={heads} heads")
    qkv = relax.op.matmul(x, w)
    if input_at(inputs, 2) is not None:
        qkv = relax.op.add(bb.normalize(qkv), inputs[2])
    parts = bb.normalize(relax.op.split(bb.normalize(qkv), [dq, dq + dk], axis=2))
    q, k, v = (bb.normalize(relax.op.reshape(relax.TupleGetItem(parts, i), (batch, seq, heads, d // heads)))
               for i, d in enumerate((dq, dk, dv)))
    past = input_at(inputs, 4)
    if past is not None:
        past, pshape, _ = static_info(bb, past)
        halves = bb.normalize(relax.op.split(past, 2, axis=0))
        pk, pv = (bb.normalize(relax.op.squeeze(relax.TupleGetItem(halves, i), [0])) for i in (0, 1))
        k = bb.normalize(relax.op.concat([_bnsh(pk), k], axis=1))
        v = bb.normalize(relax.op.concat([_bnsh(pv), v], axis=1))
    total = seq + (pshape[3] if past is not None else 0)
    bias = _attention_bias(bb, input_at(inputs, 3), input_at(inputs, 5), attrs, batch, seq, total, dtype)
    y = relax.op.reshape(bb.normalize(_attend(q, k, v, bias, attrs)), (batch, seq, dv))
    present = None
    if wanted(node, 1):
        present = relax.op.concat([relax.op.expand_dims(_bnsh(k), [0]), relax.op.expand_dims(_bnsh(v), [0])], axis=0)
    return outputs(bb, node, [y, present])


def _multi_head_attention(bb, inputs, attrs, node):
    """``MultiHeadAttention``: Q ``(B, S, D)``, K and V ``(B, L, D)`` (or BNSH ``(B, N, L, H)``, as a
    decoder's cross attention passes them), an optional packed bias ``(D + D + Dv)``, a key padding mask,
    an attention bias and ``past_key`` / ``past_value`` ``(B, N, P, H)`` prepended to K and V."""
    relax = relax_ops()
    if input_at(inputs, 1) is None or input_at(inputs, 2) is None:
        raise NotImplementedError("MultiHeadAttention with packed QKV (no key / value input) is not supported")
    if any(input_at(inputs, i) is not None for i in (8, 9)):
        raise NotImplementedError("MultiHeadAttention with past_sequence_length / cache_indirection is not supported")
    heads = int(attr(attrs, "num_heads", 0))
    q, qshape, dtype = static_info(bb, inputs[0])
    k, kshape, _ = static_info(bb, inputs[1])
    v, vshape, _ = static_info(bb, inputs[2])
    if len(qshape) != 3 or len(kshape) not in (3, 4) or len(vshape) != len(kshape):
        raise NotImplementedError(f"MultiHeadAttention shapes query {qshape}, key {kshape} are not supported "
                                  "(query (B, S, D) with key and value (B, L, D) or (B, N, L, H) are)")
    batch, seq, dq = qshape
    if heads <= 0 or dq % heads:
        raise NotImplementedError(f"MultiHeadAttention hidden size {dq} does not split into num_heads={heads} heads")
    bias = input_at(inputs, 3)
    if bias is not None:
        if len(kshape) != 3:
            raise NotImplementedError("MultiHeadAttention with a bias and BNSH key / value is not supported")
        parts = bb.normalize(relax.op.split(bias, [dq, dq + kshape[2]], axis=0))
        q = relax.op.add(q, relax.TupleGetItem(parts, 0))
        k = relax.op.add(k, relax.TupleGetItem(parts, 1))
        v = relax.op.add(v, relax.TupleGetItem(parts, 2))
    q = bb.normalize(relax.op.reshape(q, (batch, seq, heads, dq // heads)))
    if len(kshape) == 3:
        k = bb.normalize(relax.op.reshape(k, (batch, kshape[1], heads, kshape[2] // heads)))
        v = bb.normalize(relax.op.reshape(v, (batch, vshape[1], heads, vshape[2] // heads)))
    else:
        k, v = bb.normalize(_bnsh(k)), bb.normalize(_bnsh(v))
    past_k, past_v = input_at(inputs, 6), input_at(inputs, 7)
    if (past_k is None) != (past_v is None):
        raise NotImplementedError("MultiHeadAttention with only one of past_key / past_value is not supported")
    if past_k is not None:
        k = bb.normalize(relax.op.concat([_bnsh(past_k), k], axis=1))
        v = bb.normalize(relax.op.concat([_bnsh(past_v), v], axis=1))
    total = static_info(bb, k)[1][1]
    _, _, vheads, vsize = static_info(bb, v)[1]
    bias = _attention_bias(bb, input_at(inputs, 4), input_at(inputs, 5), attrs, batch, seq, total, dtype)
    y = relax.op.reshape(bb.normalize(_attend(q, k, v, bias, attrs)), (batch, seq, vheads * vsize))
    present_k = _bnsh(k) if wanted(node, 1) else None
    present_v = _bnsh(v) if wanted(node, 2) else None
    return outputs(bb, node, [y, present_k, present_v])


#: (domain, op type) -> converter ``(bb, inputs, attrs, node) -> Relax expression or tuple``
CONVERTERS: dict[tuple[str, str], Callable] = {
    (MS, "SkipLayerNormalization"): _skip_norm(simplified=False),
    (MS, "SkipSimplifiedLayerNormalization"): _skip_norm(simplified=True),
    ("", "SimplifiedLayerNormalization"): _simplified_layer_norm,
    (MS, "SimplifiedLayerNormalization"): _simplified_layer_norm,
    (MS, "FusedMatMul"): _fused_matmul,
    (MS, "FusedGemm"): _fused_gemm,
    (MS, "FusedConv"): _fused_conv,
    (MS, "QuickGelu"): _quick_gelu,
    (MS, "BiasAdd"): _bias_add,
    (MS, "Attention"): _attention,
    (MS, "MultiHeadAttention"): _multi_head_attention,
    **RECURRENT_CONVERTERS,  # ONNX LSTM / GRU / RNN, which TVM's frontend does not convert
}


def converter_for(node: Any) -> Callable | None:
    """The converter of an ONNX node, or None (TVM's own converter, or none, handles it)."""
    domain = node.domain or ""
    return CONVERTERS.get(("" if domain == "ai.onnx" else domain, node.op_type))


# --------------------------------------------------------------------------- shapes for normalisation

#: contrib ops whose outputs 0 (and 3: the sum of a skip norm) have their first input's shape (TVM's
#: converters take ``BiasGelu``, ``FastGelu`` and ``Gelu``)
_SAME_SHAPE = frozenset({"SkipLayerNormalization", "SkipSimplifiedLayerNormalization", "SimplifiedLayerNormalization",
                         "QuickGelu", "BiasAdd", "BiasGelu", "FastGelu", "Gelu"})


def _matmul_shape(a: tuple[int, ...], b: tuple[int, ...], attrs: dict) -> tuple[int, ...] | None:
    """``FusedMatMul``'s output shape (:func:`~hybridperf.frontends.onnx_shapes.fused_matmul_shape`), None where an
    operand is 1-D or the batch axes do not broadcast."""
    if len(a) < 2 or len(b) < 2:
        return None
    try:
        return tuple(fused_matmul_shape(a, b, attrs))
    except ValueError:
        return None


def _conv_shape(x: tuple[int, ...], w: tuple[int, ...], attrs: dict) -> tuple[int, ...] | None:
    """``FusedConv``'s output shape (:func:`~hybridperf.frontends.onnx_shapes.conv_shape`), None where ``x`` has no
    spatial axis, ``w`` another rank, or an output axis would be empty."""
    if len(x) < 3 or len(w) != len(x):
        return None
    out = conv_shape(x, w, attrs)
    return None if any(d <= 0 for d in out[2:]) else tuple(out)


#: (domain, op type) of the ops :func:`output_shapes` knows
SHAPED = frozenset({(MS, op) for op in _SAME_SHAPE | {"FusedMatMul", "FusedGemm", "FusedConv", "Attention",
                                                       "MultiHeadAttention"}}
                   | {("", "SimplifiedLayerNormalization"), ("ai.onnx", "SimplifiedLayerNormalization")}
                   # onnxruntime's LayerNormalization (ONNX domain, in graphs of opset < 17, whose shape inference
                   # does not know it): until 2026-12-03 the Shape -> Expand after it in an ORT_ENABLE_EXTENDED save of
                   # a dynamic-axes BERT stayed symbolic and TVM's Expand converter failed
                   | {("", "LayerNormalization"), ("ai.onnx", "LayerNormalization")})


def output_shapes(node: Any, shapes: list[tuple[int, ...] | None]) -> list[tuple[int, ...] | None]:
    """Static shapes of the outputs of ``node`` (an op with a converter here) from its inputs' (None where
    unknown): onnx's shape inference knows none of these ops, so :mod:`~hybridperf.frontends.normalize`
    asks here to fold the shape arithmetic that follows them."""
    import onnx  # noqa: PLC0415

    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    get = lambda k: shapes[k] if k < len(shapes) else None  # noqa: E731
    op, x = node.op_type, get(0)
    if op in _SAME_SHAPE:
        return [x, None, None, x]
    if op == "LayerNormalization":  # output 0 only: the mean and inverse std are not asked for by exporters
        return [x]
    if x is None:
        return []
    if op == "FusedMatMul" and get(1) is not None:
        return [_matmul_shape(x, get(1), attrs)]
    if op == "FusedConv" and get(1) is not None:
        return [_conv_shape(x, get(1), attrs)]
    if op == "FusedGemm" and get(1) is not None and len(x) == 2 and len(get(1)) == 2:
        return [tuple(gemm_shape(x, get(1), attrs))]
    heads = int(attrs.get("num_heads", 0) or 0)
    if op == "Attention" and get(1) is not None and len(x) == 3 and heads > 0:
        _, dk, dv = list(attrs.get("qkv_hidden_sizes", [])) or [get(1)[1] // 3] * 3
        past = get(4)
        total = x[1] + (past[3] if past is not None and len(past) == 5 else 0)
        return [(x[0], x[1], dv), (2, x[0], heads, total, dk // heads)]
    if op == "MultiHeadAttention" and get(1) is not None and get(2) is not None and len(x) == 3 and heads > 0:
        k, v = get(1), get(2)
        if len(k) == 3 and len(v) == 3:
            length, hk, hv = k[1], k[2] // heads, v[2] // heads
        elif len(k) == 4 and len(v) == 4:
            length, hk, hv = k[2], k[3], v[3]
        else:
            return []
        past = get(6)
        total = length + (past[2] if past is not None and len(past) == 4 else 0)
        return [(x[0], x[1], heads * hv), (x[0], heads, total, hk), (x[0], heads, total, hv)]
    return []
