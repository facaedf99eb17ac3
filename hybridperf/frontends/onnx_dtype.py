"""ONNX converters that keep ONNX's output dtype where TVM 0.27's converter does not.

An op whose output dtype comes from a non-first input or an attribute can come out of TVM's
ONNX frontend with another dtype, or fail to import:

* ``OneHot`` reads its ``values`` with ``.tolist()``, so a float32 (or float16) pair becomes
  float64 ``PrimValue`` s and the output float64 (an int32 pair int64): 8 indices, depth 10,
  float32 values gave ``8*10*8`` B, ONNX's ``8*10*4``. Its ``depth`` must also be an integer
  there; ONNX allows any numeric type.
* ``EyeLike`` refuses a ``dtype`` attribute other than its input's (and its ``eye_like``
  legalization would ignore it).
* ``Pow`` with an exponent of another dtype than its base (``float16 ** float32(2)``): TVM's
  binary op refuses mixed dtypes; ONNX gives the base's dtype.
* ``Elu``, ``Selu`` and ``ThresholdedRelu`` build float32 constants (and ``ThresholdedRelu`` a
  float32 mask): a float16 or float64 input fails to import.
* ``Dropout`` becomes ``relax.nn.dropout``, whose mask has the input's dtype, and whose kernel
  copies the data and writes that mask even where nothing reads it: a float32 ``1x64x32x32``
  Dropout was priced ``2*65536*4`` B written; ONNX's mask is bool (``65536*1`` B) and inference
  dropout passes its input through. Its converter here builds no dropout op: the input, and a
  used mask as ``ones`` of ONNX's dtype.

Each converter here builds the same Relax ops as TVM's, with ONNX's dtypes; the importer
(:mod:`hybridperf.frontends.onnx_import`) calls them instead of TVM's for the ``ai.onnx``
domain. A converter returns None where TVM's converter is already right (it then runs).
``tests/test_dtype_and_plan.py`` compares ONNX shape inference's output dtype with the Relax one
per op, and OneHot's values with onnxruntime's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
import functools

import numpy as np

__all__ = ["CONVERTERS", "converter_for"]


def _modules() -> tuple[Any, Any]:
    from hybridperf.ir.tvm_compat import tvm_modules  # noqa: PLC0415

    return tvm_modules()


def _dtype(expr: Any) -> str:
    from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

    infos = _tvm.tensor_infos(_tvm.expr_type(expr))
    return infos[0].dtype


def _constant(expr: Any) -> np.ndarray | None:
    """The value of a Relax constant as a numpy array (None: not a constant)."""
    from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

    if expr is None or not _tvm.is_constant(expr):
        return None
    (info,) = _tvm.tensor_infos(_tvm.expr_type(expr))
    data = np.frombuffer(_tvm.constant_bytes(expr), dtype=np.dtype(info.dtype))
    return data.reshape(tuple(int(d) for d in info.shape))


def _scalar(value: Any, dtype: str) -> Any:
    """A Relax scalar constant of ``dtype``."""
    _, relax = _modules()
    return relax.const(np.array(value, dtype=np.dtype(dtype)), dtype)


def onnx_dtype_name(data_type: int) -> str:
    """numpy / TVM dtype name of an ONNX element type (``1`` -> ``"float32"``), as TVM's importer derives it: the one
    home of that lookup (the importer, the normaliser's size check, the runtime memory model and the block cache read
    tensor sizes through it). Raises ``KeyError`` / ``ValueError`` / ``TypeError`` for a type numpy has no dtype
    for."""
    import onnx  # noqa: PLC0415

    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(int(data_type))).name


def onnx_elem_bytes(elem_type: int, numel: int) -> int:
    """Bytes of ``numel`` elements of an ONNX element type (:func:`~hybridperf.precision.tensor_bytes`: int4 packed
    two to a byte, as onnxruntime stores it; a string numpy's object size): the one home of that size (the runtime
    memory model, the block cache, the importer's external-data check). Raises as :func:`onnx_dtype_name` does."""
    from hybridperf.precision import tensor_bytes  # noqa: PLC0415

    dtype = np.dtype(onnx_dtype_name(elem_type))
    return tensor_bytes(dtype.name, numel) or int(numel) * dtype.itemsize


def _one_hot(bb: Any, inputs: list[Any], attrs: dict, node: Any) -> Any:
    """``OneHot(indices, depth, values)``: output dtype = ``values``' dtype (TVM: float64 / int64).
    Negative indices count from ``depth``, as TVM's converter does it (``where(i < 0, i + depth, i)``)."""
    tvm, relax = _modules()
    depth, values = _constant(inputs[1]), _constant(inputs[2])
    if depth is None or values is None or depth.size != 1 or values.size != 2:
        return None  # TVM's converter reports what it does not support
    indices = inputs[0]
    index_dtype = _dtype(indices)
    n = int(depth.reshape(-1)[0])
    dt = str(values.dtype)
    off_value, on_value = (relax.prim_value(tvm.tirx.const(v.item(), dt)) for v in values.reshape(-1))
    extent = relax.const(n, index_dtype)
    negative = bb.normalize(relax.op.less(indices, relax.const(0, index_dtype)))
    wrapped = bb.normalize(relax.op.add(indices, extent))
    indices = bb.normalize(relax.op.where(negative, wrapped, indices))
    return relax.op.one_hot(indices, on_value, off_value, n, int(attrs.get("axis", -1)))


def _eye_like(bb: Any, inputs: list[Any], attrs: dict, node: Any) -> Any:
    """``EyeLike`` with a ``dtype`` attribute: ``eye(rows, cols, k, dtype)`` on the input's static shape.
    TVM refuses a dtype other than the input's, and its ``eye_like`` legalization ignores the dtype
    (the kernel writes the input's dtype into a tensor typed otherwise); ``eye``'s honours it."""
    from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

    _, relax = _modules()
    if "dtype" not in attrs:
        return None
    infos = _tvm.tensor_infos(_tvm.expr_type(inputs[0]))
    if len(infos) != 1 or infos[0].shape is None or len(infos[0].shape) != 2:
        return None
    rows, cols = (int(d) for d in infos[0].shape)
    return relax.op.eye(rows, cols, int(attrs.get("k", 0)), onnx_dtype_name(attrs["dtype"]))


def _pow(bb: Any, inputs: list[Any], attrs: dict, node: Any) -> Any:
    """``Pow(base, exponent)`` of two dtypes: output dtype = the base's. A float exponent of an integer
    base is applied in the exponent's dtype and the result truncated back (``int(pow(b, e))``, as
    onnxruntime computes it); otherwise the exponent is cast to the base's dtype."""
    _, relax = _modules()
    base, exponent = inputs[0], inputs[1]
    if _constant(base) is not None and _constant(exponent) is not None:
        return None  # folded with numpy by TVM's converter
    bt, et = _dtype(base), _dtype(exponent)
    if bt == et:
        return None
    if not bt.startswith(("float", "bfloat")) and et.startswith(("float", "bfloat")):
        return relax.op.astype(relax.op.power(relax.op.astype(base, et), exponent), bt)
    return relax.op.power(base, relax.op.astype(exponent, bt))


def _elu_of(x: Any, alpha: float, dt: str) -> Any:
    """``-alpha * relu(1 - exp(x)) + relu(x)`` (TVM's form of ``Elu``), its constants of dtype ``dt``."""
    _, relax = _modules()
    return _scalar(-alpha, dt) * relax.op.nn.relu(_scalar(1.0, dt) - relax.op.exp(x)) + relax.op.nn.relu(x)


def _elu(bb: Any, inputs: list[Any], attrs: dict, node: Any) -> Any:
    """``Elu`` as TVM builds it (:func:`_elu_of`), constants in the input's dtype."""
    x = inputs[0]
    dt = _dtype(x)
    if dt == "float32":
        return None
    return _elu_of(x, float(attrs.get("alpha", 1.0)), dt)


def _selu(bb: Any, inputs: list[Any], attrs: dict, node: Any) -> Any:
    """``Selu`` as TVM builds it (``gamma * elu(x, alpha)``, :func:`_elu_of`), constants in the input's dtype."""
    x = inputs[0]
    dt = _dtype(x)
    if dt == "float32":
        return None
    alpha = float(attrs.get("alpha", 1.67326319217681884765625))
    gamma = float(attrs.get("gamma", 1.05070102214813232421875))
    return _scalar(gamma, dt) * _elu_of(x, alpha, dt)


def _thresholded_relu(bb: Any, inputs: list[Any], attrs: dict, node: Any) -> Any:
    """``ThresholdedRelu`` as TVM builds it (``(x > alpha) * x``), the mask and constant in the input's dtype."""
    _, relax = _modules()
    x = inputs[0]
    dt = _dtype(x)
    if dt == "float32":
        return None
    return relax.op.greater(x, _scalar(float(attrs.get("alpha", 1.0)), dt)).astype(dt) * x


def _dropout(bb: Any, inputs: list[Any], attrs: dict, node: Any, mask_dtype: str | None = "bool") -> Any:
    """Inference ``Dropout``: the output is the input itself (onnxruntime's optimiser removes the node, PyTorch's
    eval-mode dropout returns its input), and a used ``mask`` output is an all-true tensor of ``mask_dtype``: bool,
    1 B per element, since Dropout-10; the input's dtype (None) in Dropout-6/7. ``training_mode`` set to a
    constant true with a non-zero ``ratio`` is left to TVM's converter."""
    from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

    _, relax = _modules()
    x = inputs[0]
    training, ratio = _constant(_input(inputs, 2)), _constant(_input(inputs, 1))
    if training is not None and training.size == 1 and bool(training.reshape(-1)[0]):
        if ratio is None or ratio.size != 1 or float(ratio.reshape(-1)[0]) != 0.0:
            return None
    if len(node.output) < 2 or not node.output[1]:
        return x
    infos = _tvm.tensor_infos(_tvm.expr_type(x))
    if len(infos) != 1 or infos[0].shape is None:
        return None
    return relax.Tuple([x, relax.op.ones(relax.ShapeExpr(list(infos[0].shape)), mask_dtype or infos[0].dtype)])


def _input(inputs: list[Any], k: int) -> Any:
    """Input ``k``, or None where the node leaves it out."""
    return inputs[k] if k < len(inputs) else None


#: ``ai.onnx`` op type -> converter ``(bb, inputs, attrs, node) -> Relax expression or None``
CONVERTERS: dict[str, Callable[[Any, list[Any], dict, Any], Any]] = {
    "OneHot": _one_hot,
    "EyeLike": _eye_like,
    "Pow": _pow,
    "Elu": _elu,
    "Selu": _selu,
    "ThresholdedRelu": _thresholded_relu,
    "Dropout": _dropout,
}


def converter_for(op_type: str, node: Any,
                  opset: int | None = None) -> Callable[[Any, list[Any], dict, Any], Any] | None:
    """The converter here for ``node`` (an ``ai.onnx`` node of ``op_type`` in a model of ``opset``), or None."""
    if node is not None and node.domain not in ("", "ai.onnx"):
        return None
    if op_type == "Dropout" and opset is not None and opset < 10:  # Dropout-6/7: the mask has the input's dtype
        return functools.partial(_dropout, mask_dtype=None)
    return CONVERTERS.get(op_type)
