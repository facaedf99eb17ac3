"""Element-wise math that onnxruntime's CPU kernels evaluate one element at a time: a time per element that neither
the roofline (one FLOP per element, :mod:`hybridperf.costs.elementwise`) nor the learned CPU models see.

onnxruntime 1.32's CPU ``Sin``, ``Cos`` and ``Log`` take about five times a copy's time per element and ``Tan``
nearly forty, where its ``Exp``, ``Tanh``, ``Sigmoid`` and ``Erf`` take about what a copy takes (up to 1.5 times).
Timed 2026-12-07 on a Zen 4 with 1 thread, lone nodes over 2^20 float32 elements, median of 3 rounds: Sin 1.89, Cos
1.89, Log 1.72, Tan 13.4 ns per element against Exp 0.26, Tanh 0.29, Sigmoid 0.30, Erf 0.52 and a copy-like Neg 0.35
ns (``benchmarks/results/elementwise_math.md``). The learned CPU models' training rows hold these four
ops only in rotary embeddings (LLaMA-, Qwen2-style, a few thousand elements) and T5's bucketed relative positions, so
they price them as cheap element-wise work: Descript's audio codec, whose Snake activations take ``sin`` of every
activation, spent 8.8 of its 71 ms in ``Sin`` on the Zen 4 and was predicted 19 % too fast.

The cost pass counts each such op's output elements (:func:`math_elements`: float32 outputs of the ops of
:data:`SCALAR_MATH_OPS` that run); what an element costs beyond a copy is a figure of the host per function
(:attr:`~hybridperf.device.spec.DeviceSpec.elementwise_math_s_per_element`, ``hybridperf probe``;
:func:`hybridperf.estimate.pricing.with_elementwise_math`).

ONNX activations that TVM's importer lowers into a chain of cheap element-wise ops but that onnxruntime runs with a
kernel of its own evaluating one element at a time (:data:`ACTIVATION_KEYS`: ``Softplus`` 11.1, ``Mish`` 11.7,
``Elu`` 1.8, ``Selu`` 1.9 ns per element on the Zen 4 with 1 thread, 2026-12-07, plan (28) of CHANGELOG 2026-12-07;
``Celu``, 2.0 ns there, is an op TVM 0.27's importer refuses, so no model holding one is priced) are counted once
per ONNX node at its output's elements, under the activation's own figure, and none of the ops of their lowering
under theirs (until plan (28) a ``Softplus``'s ``log`` was counted at ``log``'s figure:
:attr:`~hybridperf.analysis.cost_pass.OpRecord.activation`).

onnxruntime's ``GridSample`` (deformable attention's sampling) interpolates one output element at a time too: 1.7-3.0
ns an output bilinear, 6.6 nearest, 35-51 bicubic with 1 thread on the Zen 4 (2026-12-07, plan (29)), where its
roofline is a fraction of a nanosecond; its outputs count under :data:`GRID_SAMPLE_KEYS` by method. Pure functions of
records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

#: the functions that are one Relax op each (``relax.sin``, ...)
FUNCTION_KEYS = ("sin", "cos", "tan", "log")
#: the ONNX activations onnxruntime runs with a kernel of their own (``Softplus``, ...), lowered by TVM into several
#: Relax ops (:data:`hybridperf.frontends.onnx_import.SCALAR_ACTIVATION_OPS`)
ACTIVATION_KEYS = ("softplus", "mish", "elu", "selu")
#: ``relax.image.grid_sample`` (ONNX ``GridSample``) by method: onnxruntime interpolates one output element at a time
#: (plan (29) of CHANGELOG 2026-12-07)
GRID_SAMPLE_OP = "relax.image.grid_sample"
GRID_SAMPLE_KEYS = ("grid_sample_bilinear", "grid_sample_nearest", "grid_sample_bicubic")
#: the functions of a CPU sheet's ``elementwise_math`` (seconds per float32 output element): the extra time
#: onnxruntime's CPU kernel of the ONNX op of that name (capitalised; ``GridSample`` of that mode) takes per element
#: beyond a copy
ELEMENTWISE_MATH_KEYS = FUNCTION_KEYS + ACTIVATION_KEYS + GRID_SAMPLE_KEYS
#: Relax op -> the key of its figure in a CPU sheet's ``elementwise_math`` section (:data:`FUNCTION_KEYS`)
SCALAR_MATH_OPS: Mapping[str, str] = MappingProxyType({f"relax.{k}": k for k in FUNCTION_KEYS})
#: the element type onnxruntime's kernels of these ops run on a CPU
COUNTED_DTYPE = "float32"

__all__ = ["ACTIVATION_KEYS", "COUNTED_DTYPE", "ELEMENTWISE_MATH_KEYS", "FUNCTION_KEYS", "GRID_SAMPLE_KEYS",
           "GRID_SAMPLE_OP", "SCALAR_MATH_OPS", "math_elements", "math_node", "record_key"]


def math_node(key: str) -> str:
    """The onnxruntime node a sheet key's figure is of: ``Sin``, ``Softplus``, ``GridSample (bilinear)``."""
    grid = key.removeprefix("grid_sample_")
    return f"GridSample ({grid})" if grid != key else key.capitalize()


def record_key(record: Any) -> str | None:
    """The sheet key one record's output elements count under, else None: an ONNX activation's mark, a function's
    op, or a grid sample's method."""
    activation = getattr(record, "activation", "")
    if activation:
        return activation
    if record.op == GRID_SAMPLE_OP:
        key = f"grid_sample_{record.attrs.get('method', 'bilinear')}"
        return key if key in GRID_SAMPLE_KEYS else None
    return SCALAR_MATH_OPS.get(record.op)


def math_elements(records: Iterable[Any]) -> dict[str, int]:
    """Output elements per sheet key of the records that run (``counts_toward_time``) with a static float32 output, in
    the sheet's order (:data:`ELEMENTWISE_MATH_KEYS`); keys with none are left out.

    A record of an ONNX activation's lowering (:attr:`~hybridperf.analysis.cost_pass.OpRecord.activation`) counts
    its ``activation_elements`` (the node's output, on its last record; 0 on the others) under the activation's key;
    any other counts its output under :func:`record_key`'s key (its op's, a grid sample's method's)."""
    out: dict[str, int] = {}
    for r in records:
        activation = getattr(r, "activation", "")
        key = record_key(r)
        if key is None or not r.counts_toward_time or not r.outputs:
            continue
        o = r.outputs[0]
        if o.dtype != COUNTED_DTYPE or o.numel is None:
            continue
        n = r.activation_elements if activation else o.numel
        if n:
            out[key] = out.get(key, 0) + n
    return {k: out[k] for k in ELEMENTWISE_MATH_KEYS if k in out}
