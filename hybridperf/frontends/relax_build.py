"""Helpers of the converters that lower one ONNX node into Relax ops by hand (:mod:`.contrib`, :mod:`.recurrent`):
each converter has the signature ``(bb, inputs, attrs, node)`` of TVM's ONNX frontend and returns one Relax
expression, or a tuple for a node with several outputs."""

from __future__ import annotations

from typing import Any

__all__ = ["attr", "input_at", "outputs", "relax_ops", "static_info", "wanted"]


def relax_ops() -> Any:
    """The ``tvm.relax`` module (imported on first use)."""
    from hybridperf.ir.tvm_compat import tvm_modules  # noqa: PLC0415

    return tvm_modules()[1]


def static_info(bb: Any, expr: Any) -> tuple[Any, tuple[int, ...], str]:
    """``expr`` bound (normalised), its static shape and dtype; a symbolic shape raises
    :class:`NotImplementedError` (the importer turns it into one line, exit 2)."""
    from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

    expr = bb.normalize(expr)
    infos = _tvm.tensor_infos(_tvm.expr_type(expr))
    if len(infos) != 1 or infos[0].shape is None:
        raise NotImplementedError("an op input has no static shape; bind every input with --shape")
    return expr, tuple(int(d) for d in infos[0].shape), infos[0].dtype


def attr(attrs: dict, name: str, default: Any) -> Any:
    """Attribute ``name`` of a node (``default`` where absent); bytes decoded to str."""
    v = attrs.get(name, default)
    return v.decode() if isinstance(v, bytes) else v


def outputs(bb: Any, node: Any, values: list[Any]) -> Any:
    """The converter's result for ``node``'s outputs, each bound: ``values[k]`` for each named output, a
    placeholder for an unnamed one (nothing reads it); one output is returned bare."""
    relax = relax_ops()
    n = len(node.output)
    out = []
    for k in range(n):
        v = values[k] if k < len(values) else None
        if v is None:
            if node.output[k]:
                raise NotImplementedError(f"{node.op_type} output {k} ({node.output[k]!r}) is not supported; "
                                          "only the outputs inference reads are")
            v = relax.const(0, "float32")
        out.append(bb.normalize(v))
    return out[0] if n == 1 else relax.Tuple(out)


def wanted(node: Any, k: int) -> bool:
    """Whether output ``k`` of ``node`` is named (read by the graph)."""
    return k < len(node.output) and bool(node.output[k])


def input_at(inputs: list[Any], k: int) -> Any:
    """Input ``k`` of a node, None where it is absent (optional inputs left empty)."""
    return inputs[k] if k < len(inputs) else None
