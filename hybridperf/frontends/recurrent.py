"""ONNX recurrent layers (``LSTM``, ``GRU``, ``RNN``) as Relax, unrolled over the input's static sequence length.

TVM's Relax ONNX frontend converts none of them (``shared/TVM_NOTES.md``), and ``torch.onnx.export`` writes every
``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` as one. Each converter here lowers one node into the Relax ops that compute
it, with the semantics of the ONNX operator schema (gates ``iofc`` for LSTM, ``zrh`` for GRU; ``layout``,
``direction``, ``clip``, peepholes, ``input_forget``, ``linear_before_reset``, the activation lists) and in the
order onnxruntime's CPU kernels run it (``onnxruntime/core/providers/cpu/rnn``): per direction, one product of
the whole sequence with the input weights ``W`` (both biases added), then per step the product of the hidden
state with the recurrent weights ``R`` and the gates' element-wise work (none for a zero or absent initial state:
its first step has no state product). The cost pass prices each of these and TVM plans their memory, so a layer of
``T`` steps from a given state is ``1 + T`` matrix products (GRU without ``linear_before_reset``: ``1 + 2T``) and
``T`` groups of element-wise kernels; :mod:`hybridperf.analysis.recurrent` marks the weights the steps re-read.

Not handled (:class:`NotImplementedError` naming the case; the importer turns it into one line, exit 2):
``sequence_lens`` that is not a constant equal to the sequence length for every batch entry (variable-length
batches: the steps a padded entry skips are not known before run time), an activation onnxruntime does not
know.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hybridperf.frontends.relax_build import (
    attr,
    input_at,
    outputs,
    relax_ops,
    static_info,
    wanted,
)

__all__ = ["ACTIVATIONS", "CONVERTERS", "GATES", "RECURRENT_OPS"]

#: gates per op, in the order of the rows of ``W``, ``R`` and each half of ``B``
GATES = {"LSTM": "iofc", "GRU": "zrh", "RNN": "i"}
#: the ONNX ops this module unrolls
RECURRENT_OPS = frozenset(GATES)

#: the default activation list of one direction
_DEFAULT_ACTIVATIONS = {"LSTM": ("Sigmoid", "Tanh", "Tanh"), "GRU": ("Sigmoid", "Tanh"), "RNN": ("Tanh",)}

#: activation (lower case) -> (reads an alpha, reads a beta, default alpha, default beta), as onnxruntime consumes
#: ``activation_alpha`` / ``activation_beta``: one value per activation that reads it, in list order, the default
#: where the list has run out (``onnxruntime/core/providers/cpu/rnn/rnn_helpers.cc``)
ACTIVATIONS: dict[str, tuple[bool, bool, float, float]] = {
    "affine": (True, True, 0.0, 0.0), "relu": (False, False, 0.0, 0.0), "leakyrelu": (True, False, 0.01, 0.0),
    "thresholdedrelu": (True, False, 0.0, 0.0), "tanh": (False, False, 0.0, 0.0),
    "scaledtanh": (True, True, 0.0, 0.0), "sigmoid": (False, False, 0.0, 0.0), "hardsigmoid": (True, True, 0.2, 0.5),
    "elu": (True, False, 1.0, 0.0), "softsign": (False, False, 0.0, 0.0), "softplus": (False, False, 0.0, 0.0),
}


def _activations(op: str, attrs: dict, directions: int, dtype: str) -> list[list[Callable[[Any], Any]]]:
    """The activation functions of each direction (``f, g, h`` for LSTM, ``f, g`` for GRU, ``f`` for RNN), with
    their alpha / beta read as onnxruntime reads them; ``clip`` (if set) bounds each one's input."""
    per = len(_DEFAULT_ACTIVATIONS[op])
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in (attrs.get("activations") or ())]
    if not names:
        names = list(_DEFAULT_ACTIVATIONS[op]) * directions
    if len(names) != per * directions:
        raise NotImplementedError(f"{op} has {len(names)} activations; {per} per direction ({per * directions}) "
                                  "are expected")
    alphas = [float(a) for a in (attrs.get("activation_alpha") or ())]
    betas = [float(b) for b in (attrs.get("activation_beta") or ())]
    clip = attrs.get("clip")
    funcs = []
    for name in names:
        key = name.lower()
        if key not in ACTIVATIONS:
            raise NotImplementedError(f"{op} activation {name!r} is not an ONNX recurrent activation "
                                      f"(one of {', '.join(sorted(ACTIVATIONS))}, any case)")
        reads_a, reads_b, alpha, beta = ACTIVATIONS[key]
        if reads_a and alphas:
            alpha = alphas.pop(0)
        if reads_b and betas:
            beta = betas.pop(0)
        # onnxruntime clips every gate's input, but not the cell state an LSTM's h reads (deep_cpu_lstm.cc)
        unclipped = op == "LSTM" and len(funcs) % per == 2
        funcs.append(_activation(key, alpha, beta, None if clip is None or unclipped else float(clip), dtype))
    return [funcs[d * per:(d + 1) * per] for d in range(directions)]


def _activation(key: str, alpha: float, beta: float, clip: float | None, dtype: str) -> Callable[[Any], Any]:
    """One activation as a function of a Relax expression of ``dtype`` (the layer's)."""
    relax = relax_ops()

    def apply(x: Any) -> Any:
        c = lambda v: relax.const(v, dtype)  # noqa: E731
        if clip is not None:
            x = relax.op.clip(x, -clip, clip)
        if key == "sigmoid":
            return relax.op.sigmoid(x)
        if key == "tanh":
            return relax.op.tanh(x)
        if key == "relu":
            return relax.op.nn.relu(x)
        if key == "leakyrelu":
            return relax.op.nn.leakyrelu(x, alpha)
        if key == "affine":
            return relax.op.add(relax.op.multiply(x, c(alpha)), c(beta))
        if key == "scaledtanh":
            return relax.op.multiply(relax.op.tanh(relax.op.multiply(x, c(beta))), c(alpha))
        if key == "hardsigmoid":
            return relax.op.clip(relax.op.add(relax.op.multiply(x, c(alpha)), c(beta)), 0.0, 1.0)
        if key == "thresholdedrelu":
            return relax.op.where(relax.op.greater(x, c(alpha)), x, c(0.0))
        if key == "elu":
            neg = relax.op.multiply(relax.op.subtract(relax.op.exp(x), c(1.0)), c(alpha))
            return relax.op.where(relax.op.greater(x, c(0.0)), x, neg)
        if key == "softsign":
            return relax.op.divide(x, relax.op.add(relax.op.abs(x), c(1.0)))
        return relax.op.nn.softplus(x)  # softplus

    return apply


def _direction_weight(bb: Any, w: Any, d: int, rows: tuple[int, int] | None = None) -> Any:
    """``w[d]`` (its gate rows ``rows[0]:rows[1]``, default all) transposed (``[gates * H, K] -> [K, gates * H]``),
    bound: a new constant where ``w`` is one (what onnxruntime's pre-packing of the weights does once), else
    slice and transpose ops."""
    from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

    relax = relax_ops()
    if _tvm.is_constant(w):
        part = _tvm.constant_array(w)[d]
        return relax.const(np.ascontiguousarray((part if rows is None else part[rows[0]:rows[1]]).T))
    w, shape, _ = static_info(bb, w)
    start, end = rows or (0, shape[1])
    one = relax.op.strided_slice(w, axes=[0, 1], begin=[d, start], end=[d + 1, end])
    return bb.emit(relax.op.permute_dims(relax.op.reshape(one, (end - start, shape[2])), [1, 0]))


def _direction_bias(bb: Any, b: Any, d: int, hidden: int, gates: int, keep_recurrent: Sequence[int] = ()
                    ) -> tuple[Any, Any]:
    """``(input bias, recurrent bias left apart)`` of direction ``d`` of ``B`` (``[directions, 2 * gates * H]``):
    the input bias is ``Wb + Rb`` but for the gates listed in ``keep_recurrent`` (indices of ``H``-wide blocks),
    whose ``Rb`` is returned apart (GRU's ``Rbh``, added inside the reset gate's product); None for an absent
    ``B``."""
    from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

    relax = relax_ops()
    if b is None:
        return None, None
    width = gates * hidden
    if _tvm.is_constant(b):
        row = _tvm.constant_array(b)[d]
        wb, rb = row[:width].copy(), row[width:].copy()
        apart = None
        for g in keep_recurrent:
            apart = rb[g * hidden:(g + 1) * hidden].copy()
            rb[g * hidden:(g + 1) * hidden] = 0
        return relax.const(wb + rb), None if apart is None else relax.const(apart)
    b, _, _ = static_info(bb, b)
    row = relax.op.reshape(relax.op.strided_slice(b, axes=[0], begin=[d], end=[d + 1]), (2 * width,))
    wb = relax.op.strided_slice(row, axes=[0], begin=[0], end=[width])
    rb = relax.op.strided_slice(row, axes=[0], begin=[width], end=[2 * width])
    if not keep_recurrent:
        return relax.op.add(wb, rb), None
    (g,) = keep_recurrent  # GRU: the one gate h
    kept = relax.op.strided_slice(rb, axes=[0], begin=[0], end=[g * hidden])
    apart = relax.op.strided_slice(rb, axes=[0], begin=[g * hidden], end=[(g + 1) * hidden])
    zeros = relax.op.zeros((hidden,), str(b.ty.dtype))
    return relax.op.add(wb, relax.op.concat([kept, zeros], axis=0)), apart


def _initial_state(bb: Any, state: Any, d: int, batch: int, hidden: int, dtype: str, layout: int) -> Any:
    """Direction ``d`` of ``initial_h`` / ``initial_c`` (``[directions, batch, H]``; ``layout`` 1:
    ``[batch, directions, H]``); None where it is absent (zeros: the first step has no term of it, and no product
    of zeros with ``R`` that a constant folder would take for work done at load time)."""
    from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

    relax = relax_ops()
    if state is None or (_tvm.is_constant(state) and not np.any(_tvm.constant_array(state))):
        return None  # absent, or zeros as an exporter writes them (torch: Expand of a zero constant, folded)
    state, _, _ = static_info(bb, state)
    axis = 1 if layout else 0
    return relax.op.reshape(relax.op.strided_slice(state, axes=[axis], begin=[d], end=[d + 1]), (batch, hidden))


class _Layer:
    """What the three converters share: the input as ``[T, batch, K]``, directions, hidden size, weights."""

    def __init__(self, bb: Any, inputs: list[Any], attrs: dict, node: Any) -> None:
        relax = relax_ops()
        self.bb, self.node, self.op = bb, node, node.op_type
        self.layout = int(attr(attrs, "layout", 0))
        x, shape, self.dtype = static_info(bb, inputs[0])
        if len(shape) != 3:
            raise NotImplementedError(f"{self.op} input X has shape {shape}; 3 axes are expected")
        if self.layout:
            x = relax.op.permute_dims(x, [1, 0, 2])
            shape = (shape[1], shape[0], shape[2])
        self.x = bb.normalize(x)
        self.steps, self.batch, _ = shape
        direction = attr(attrs, "direction", "forward")
        if direction not in ("forward", "reverse", "bidirectional"):
            raise NotImplementedError(f"{self.op} direction {direction!r} is not forward, reverse or bidirectional")
        self.reverse = [direction == "reverse"] if direction != "bidirectional" else [False, True]
        _, wshape, _ = static_info(bb, inputs[1])
        gates = len(GATES[self.op])
        self.hidden = int(attr(attrs, "hidden_size", 0)) or wshape[1] // gates
        if wshape[0] != len(self.reverse) or wshape[1] != gates * self.hidden:
            raise NotImplementedError(f"{self.op} W has shape {wshape}; [{len(self.reverse)}, "
                                      f"{gates * self.hidden}, input size] is expected for direction "
                                      f"{direction!r} and hidden_size {self.hidden}")
        self._check_lengths(input_at(inputs, 4))
        self.activations = _activations(self.op, attrs, len(self.reverse), self.dtype)

    def _check_lengths(self, lengths: Any) -> None:
        from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

        if lengths is None:
            return
        if _tvm.is_constant(lengths):
            values = np.asarray(_tvm.constant_array(lengths)).reshape(-1)
            if values.size == self.batch and bool(np.all(values == self.steps)):
                return
        raise NotImplementedError(
            f"{self.op} {self.node.name or self.node.output[0]!r} reads sequence_lens that are not all the "
            f"sequence length {self.steps}: a padded batch's skipped steps are only known at run time; export "
            "without sequence_lens (every entry the full length, e.g. without pack_padded_sequence)")

    def input_products(self, w: Any, d: int, bias: Any) -> list[Any]:
        """``X_t @ W[d]^T (+ bias)`` of every step ``t``, from one product of the whole sequence."""
        relax = relax_ops()
        xw = relax.op.matmul(self.x, _direction_weight(self.bb, w, d))
        if bias is not None:
            xw = relax.op.add(xw, bias)
        xw = self.bb.normalize(xw)
        width = static_info(self.bb, xw)[1][-1]
        if self.steps == 1:
            return [self.bb.normalize(relax.op.reshape(xw, (self.batch, width)))]
        parts = self.bb.normalize(relax.op.split(xw, self.steps, axis=0))
        return [self.bb.normalize(relax.op.reshape(relax.TupleGetItem(parts, t), (self.batch, width)))
                for t in range(self.steps)]

    def order(self, d: int) -> range:
        return range(self.steps - 1, -1, -1) if self.reverse[d] else range(self.steps)

    def results(self, hs: list[list[Any]], finals: list[list[Any]]) -> Any:
        """The node's outputs: ``Y`` (``[T, directions, batch, H]``, or ``[batch, T, directions, H]`` with
        ``layout``) from each direction's states in time order, then each ``finals`` entry (a state per
        direction) as ``[directions, batch, H]`` (``[batch, directions, H]``)."""
        relax = relax_ops()
        values = [None]
        if wanted(self.node, 0):
            y = relax.op.stack([relax.op.stack(h, axis=0) for h in hs], axis=1)  # [T, D, batch, H]
            values[0] = relax.op.permute_dims(y, [2, 0, 1, 3]) if self.layout else y
        for k, last in enumerate(finals, start=1):
            if wanted(self.node, k):
                s = relax.op.stack(last, axis=0)  # [D, batch, H]
                values.append(relax.op.permute_dims(s, [1, 0, 2]) if self.layout else s)
            else:
                values.append(None)
        return outputs(self.bb, self.node, values)


def _step_product(bb: Any, h: Any, r_t: Any) -> Any:
    """``h @ r_t``; None for a zero state (None)."""
    return None if h is None else bb.normalize(relax_ops().op.matmul(h, r_t))


def _parts(bb: Any, x: Any, n: int) -> list[Any]:
    """``x`` (``[batch, n * H]``) split into its ``n`` gate blocks by one ``split``."""
    relax = relax_ops()
    whole = bb.normalize(relax.op.split(x, n, axis=1))
    return [relax.TupleGetItem(whole, k) for k in range(n)]


def _plus(a: Any, b: Any) -> Any:
    """``a + b``, ``a`` where ``b`` is None (a zero term left out)."""
    return a if b is None else relax_ops().op.add(a, b)


def _times(a: Any, b: Any) -> Any:
    """``a * b``, None where ``b`` is None (a zero state)."""
    return None if b is None else relax_ops().op.multiply(a, b)


def _lstm(bb, inputs, attrs, node):
    """``LSTM``: ``i, o, f = f(X W^T + H R^T + b + P (.) C)``, ``c~ = g(...)``, ``C = f (.) C + i (.) c~``,
    ``H = o (.) h(C)`` per step (peepholes ``P`` of ``i`` and ``f`` read the previous cell, of ``o`` the new one;
    ``input_forget``: ``f = 1 - i``)."""
    relax = relax_ops()
    layer = _Layer(bb, inputs, attrs, node)
    hid, dtype = layer.hidden, layer.dtype
    coupled = int(attr(attrs, "input_forget", 0))
    peep = input_at(inputs, 7)
    hs, last_h, last_c = [], [], []
    for d in range(len(layer.reverse)):
        f, g, h_act = layer.activations[d]
        bias, _ = _direction_bias(bb, input_at(inputs, 3), d, hid, 4)
        xs = layer.input_products(inputs[1], d, bias)
        r_t = _direction_weight(bb, inputs[2], d)
        p = None
        if peep is not None:
            pd, _, _ = static_info(bb, peep)
            p = [bb.normalize(relax.op.strided_slice(relax.op.reshape(pd, (-1,)), axes=[0], begin=[(3 * d + k) * hid],
                                                     end=[(3 * d + k + 1) * hid])) for k in range(3)]
        h = _initial_state(bb, input_at(inputs, 5), d, layer.batch, hid, dtype, layer.layout)
        c = _initial_state(bb, input_at(inputs, 6), d, layer.batch, hid, dtype, layer.layout)
        out = [None] * layer.steps
        for t in layer.order(d):
            gates = bb.normalize(_plus(xs[t], _step_product(bb, h, r_t)))
            gi, go, gf, gc = _parts(bb, gates, 4)
            if p is not None:
                gi = _plus(gi, _times(p[0], c))
                gf = _plus(gf, _times(p[2], c))
            i_t = bb.normalize(f(gi))
            f_t = relax.op.subtract(relax.const(1.0, dtype), i_t) if coupled else f(gf)
            c = bb.normalize(_plus(relax.op.multiply(i_t, g(gc)), _times(f_t, c)))
            if p is not None:
                go = relax.op.add(go, relax.op.multiply(p[1], c))
            h = bb.normalize(relax.op.multiply(f(go), h_act(c)))
            out[t] = h
        hs.append(out)
        last_h.append(h)
        last_c.append(c)
    return layer.results(hs, [last_h, last_c])


def _gru(bb, inputs, attrs, node):
    """``GRU``: ``z, r = f(X W^T + H R^T + b)``; ``h~ = g(X Wh^T + (r (.) H) Rh^T + Rbh + Wbh)``, or with
    ``linear_before_reset`` ``g(X Wh^T + r (.) (H Rh^T + Rbh) + Wbh)``; ``H = (1 - z) (.) h~ + z (.) H`` per
    step."""
    relax = relax_ops()
    layer = _Layer(bb, inputs, attrs, node)
    hid, dtype = layer.hidden, layer.dtype
    before = int(attr(attrs, "linear_before_reset", 0))
    hs, last_h = [], []
    for d in range(len(layer.reverse)):
        f, g = layer.activations[d]
        bias, rbh = _direction_bias(bb, input_at(inputs, 3), d, hid, 3, keep_recurrent=(2,) if before else ())
        xs = layer.input_products(inputs[1], d, bias)
        r_t = _direction_weight(bb, inputs[2], d)  # [H, 3H]
        if not before:  # the reset gate scales H before its product: z and r from one product, h from another
            r_zr = _direction_weight(bb, inputs[2], d, (0, 2 * hid))
            r_h = _direction_weight(bb, inputs[2], d, (2 * hid, 3 * hid))
        h = _initial_state(bb, input_at(inputs, 5), d, layer.batch, hid, dtype, layer.layout)
        out = [None] * layer.steps
        for t in layer.order(d):
            xz, xr, xh = _parts(bb, xs[t], 3)
            hz = hr = hh = None  # the state's products: none for a zero state
            if before:
                if h is not None:
                    hz, hr, hh = _parts(bb, _step_product(bb, h, r_t), 3)
                z, r = bb.normalize(f(_plus(xz, hz))), bb.normalize(f(_plus(xr, hr)))
                hh = rbh if hh is None else _plus(hh, rbh)
                cand = g(_plus(xh, _times(r, hh)))
            else:
                if h is not None:
                    hz, hr = _parts(bb, _step_product(bb, h, r_zr), 2)
                z, r = bb.normalize(f(_plus(xz, hz))), bb.normalize(f(_plus(xr, hr)))
                cand = g(_plus(xh, _step_product(bb, None if h is None else bb.normalize(relax.op.multiply(r, h)), r_h)))
            one_minus = relax.op.subtract(relax.const(1.0, dtype), z)
            h = bb.normalize(_plus(relax.op.multiply(one_minus, cand), _times(z, h)))
            out[t] = h
        hs.append(out)
        last_h.append(h)
    return layer.results(hs, [last_h])


def _rnn(bb, inputs, attrs, node):
    """``RNN``: ``H = f(X W^T + H R^T + Wb + Rb)`` per step."""
    layer = _Layer(bb, inputs, attrs, node)
    hs, last_h = [], []
    for d in range(len(layer.reverse)):
        (f,) = layer.activations[d]
        bias, _ = _direction_bias(bb, input_at(inputs, 3), d, layer.hidden, 1)
        xs = layer.input_products(inputs[1], d, bias)
        r_t = _direction_weight(bb, inputs[2], d)
        h = _initial_state(bb, input_at(inputs, 5), d, layer.batch, layer.hidden, layer.dtype, layer.layout)
        out = [None] * layer.steps
        for t in layer.order(d):
            h = bb.normalize(f(_plus(xs[t], _step_product(bb, h, r_t))))
            out[t] = h
        hs.append(out)
        last_h.append(h)
    return layer.results(hs, [last_h])


#: (domain, op type) -> converter, as :data:`hybridperf.frontends.contrib.CONVERTERS` takes them
CONVERTERS: dict[tuple[str, str], Callable] = {("", "LSTM"): _lstm, ("", "GRU"): _gru, ("", "RNN"): _rnn}
