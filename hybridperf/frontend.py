"""Frontends: model files -> TVM Relax ``IRModule`` with static shapes.

ONNX is the primary format. Input shapes come from the model, from explicit
``--shape NAME=1x3x224x224`` flags, or from ``--batch N`` for a symbolic
leading dimension; anything left symbolic is an error that names the flag.
Before import, :mod:`hybridperf.normalize` lists every op TVM cannot import
(all of them, in one line) and folds the shape subgraphs exporters emit.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybridperf.errors import InputError, ModelLoadError, UnsupportedModelError


@dataclass(frozen=True)
class LoadedModel:
    """A model lowered to Relax, with the shapes it was bound to."""

    module: Any = field(repr=False)
    input_shapes: Mapping[str, tuple[int, ...]]
    source: str
    format: str
    node_count: int = 0
    #: Relax binding var name -> the source graph node (ONNX node name) it was converted from
    source_nodes: Mapping[str, str] = field(default_factory=dict)


def parse_shape_flags(flags: list[str] | None) -> dict[str, tuple[int, ...]]:
    """Parse ``["x=1x3x224x224", "mask=1x128"]`` into a dict of shapes."""
    out: dict[str, tuple[int, ...]] = {}
    for flag in flags or []:
        m = re.fullmatch(r"\s*([^=\s]+)\s*=\s*(\d+(?:[x,]\d+)*)\s*", flag)
        if not m:
            raise InputError(f"bad --shape {flag!r}: write NAME=DxDxD, e.g. --shape input=1x3x224x224")
        out[m.group(1)] = tuple(int(d) for d in re.split("[x,]", m.group(2)))
    return out


def load_onnx_proto(path: str | Path):
    """Read an ONNX file, raising :class:`ModelLoadError` with a one-line fix."""
    import onnx

    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"model file not found: {p}; check the path")
    if p.is_dir():
        raise ModelLoadError(f"{p} is a directory; pass an .onnx file (or use predict-many for a directory)")
    try:
        model = onnx.load(str(p), load_external_data=True)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several kinds
        raise ModelLoadError(
            f"cannot read {p} as ONNX ({type(exc).__name__}); the file is corrupt or not an ONNX model: re-export it"
        ) from exc
    if len(model.graph.node) == 0:
        raise ModelLoadError(f"{p} holds no ONNX graph nodes; the file is corrupt or not an ONNX model: re-export it")
    return model


def _tracing_importer(base: type) -> type:
    """``base`` (TVM's ONNX importer class) that also remembers which ONNX node produced which expression."""

    class TracingImporter(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.hp_node_exprs: list[tuple[str, Any]] = []
            self._hp_nodes: list[Any] = []
            self._hp_next = 0

        def from_onnx(self, graph, opset):
            self._hp_nodes = list(graph.node)
            return super().from_onnx(graph, opset)

        def _convert_operator(self, op_name, inputs, attrs, opset):
            sym = super()._convert_operator(op_name, inputs, attrs, opset)
            name = str(attrs.get("tvm_custom", {}).get("name", ""))
            # the importer converts the graph's nodes in order; an unnamed node is known by its first output
            for k in range(self._hp_next, len(self._hp_nodes)):
                node = self._hp_nodes[k]
                if node.op_type == op_name and node.name == name:
                    self._hp_next = k + 1
                    if not name and node.output:
                        name = f"output:{node.output[0]}"
                    break
            self.hp_node_exprs.append((name, sym))
            return sym

    return TracingImporter


def source_nodes(mod: Any, node_exprs: list[tuple[str, Any]]) -> dict[str, str]:
    """Relax binding var name -> name of the ONNX node whose conversion produced it.

    A node's converter returns one expression (or a tuple of them): the binding
    of that expression is the node's *anchor*. The bindings an anchor depends
    on that are nobody's anchor and not yet owned (the converter's intermediate
    steps, e.g. a Conv's bias reshape) belong to the same node; nodes are
    visited in graph order so each binding has exactly one owner. Bindings with
    no owner (none in the graphs tried) are left out.
    """
    from tvm import relax

    from hybridperf import _tvm

    binds = list(_tvm.bindings(mod["main"]))
    by_value: dict[int, list[int]] = {}
    for i, b in enumerate(binds):
        by_value.setdefault(hash(b.value), []).append(i)
    name_index = {_tvm.var_name(b.var): i for i, b in enumerate(binds)}

    def anchors_of(expr: Any) -> list[int]:
        if expr is None:
            return []
        if _tvm.is_tuple(expr):
            return [a for f in expr.fields for a in anchors_of(f)]
        out = [i for i in by_value.get(hash(expr), []) if binds[i].value.same_as(expr)]
        if _tvm.is_var(expr):  # the converter emitted its result itself
            j = name_index.get(_tvm.var_name(expr))
            if j is not None and binds[j].var.same_as(expr):
                out.append(j)
        return out

    node_anchors = [(name, anchors_of(expr)) for name, expr in node_exprs]
    owner: dict[int, str] = {}
    for name, anchors in node_anchors:
        for a in anchors:
            owner.setdefault(a, name)

    def inputs_of(i: int) -> list[int]:
        found = (name_index.get(_tvm.var_name(v)) for v in relax.analysis.free_vars(binds[i].value))
        return [j for j in found if j is not None and j != i]

    for name, anchors in node_anchors:
        stack = [j for a in anchors for j in inputs_of(a)]
        while stack:
            j = stack.pop()
            if j in owner:
                continue
            owner[j] = name
            stack.extend(inputs_of(j))
    return {_tvm.var_name(binds[i].var): n for i, n in owner.items() if n}


def _relax_from_onnx(model, shape_dict: dict[str, list[int]], opset: int | None):
    """TVM's ``relax.frontend.onnx.from_onnx`` without its up-front ``onnx.checker`` run.

    ``from_onnx`` first calls ``onnx.checker.check_model(model)``, which
    serialises the whole model (weights included) to hand it to the C++
    checker, and only *warns* on failure. On a 415 MB BERT-base export that is
    1.7-3 s of a 4 s import, for warnings we suppress anyway; models reaching
    this point were already checked op by op by :func:`hybridperf.normalize.check_supported`.
    Everything else is the frontend's own importer, called as ``from_onnx`` calls it.
    """
    from tvm.relax.frontend.onnx import onnx_frontend

    if model.ir_version < 3:
        raise ValueError(f"Model IR version {model.ir_version} not supported. Must be at least after 1.1.0.")
    importer = _tracing_importer(onnx_frontend.ONNXGraphImporter)(
        shape_dict, "float32", keep_params_in_input=False, sanitize=True)
    try:
        mod = importer.from_onnx(model.graph, opset if opset is not None else 1)
        return mod, importer.hp_node_exprs
    except Exception:
        # A converter that raises leaves the function's binding block and scope open; the C++
        # BlockBuilder then prints "BlockBuilder destroyed with remaining blocks!" to stderr when
        # it is freed, a second stderr line after our one-line error. Close them first.
        try:
            importer.bb._end_block()  # noqa: SLF001 - the counterpart of the frontend's own begin
            importer.bb.end_scope()
        except Exception:  # noqa: BLE001, S110 - failed before the function scope: nothing is open
            pass
        raise


def from_onnx(model, input_shapes: Mapping[str, tuple[int, ...]], source: str = "<memory>",
              provenance: bool = False) -> LoadedModel:
    """Import an ONNX ModelProto into Relax with static input shapes.

    ``provenance`` also fills :attr:`LoadedModel.source_nodes` (Relax var -> ONNX node;
    used to join runtime profiles to kernels when building training tables; about 6 ms
    on a BERT-base export whose analysis takes 1.3 s).
    """
    from hybridperf._tvm import tvm_modules

    tvm_modules()

    opset = None
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            opset = imp.version
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod, node_exprs = _relax_from_onnx(model, {k: list(v) for k, v in input_shapes.items()}, opset)
    except Exception as exc:  # noqa: BLE001 - the frontend raises many kinds
        msg = str(exc).strip().splitlines()
        first = next((line for line in reversed(msg) if line.strip()), type(exc).__name__)
        from hybridperf.normalize import data_dependent_shape_ops  # noqa: PLC0415

        dynamic = data_dependent_shape_ops(model)
        if dynamic:
            listed = ", ".join(f"{k} ({v})" for k, v in sorted(dynamic.items()))
            raise UnsupportedModelError(
                f"{source}: shapes depend on the input values ({listed} feed shape computations), "
                f"so they stay dynamic at any input shape and TVM's ONNX frontend failed ({first.strip()[:120]}); "
                f"{len(model.graph.node)} nodes; export the model without its data-dependent post-processing "
                "(e.g. a detector's backbone and heads, without box selection / NMS)"
            ) from exc
        if "not supported" in " ".join(msg).lower() or isinstance(exc, NotImplementedError):
            raise UnsupportedModelError(
                f"{source}: TVM's ONNX frontend cannot import this model ({first.strip()[:200]}); "
                f"{len(model.graph.node)} nodes"
            ) from exc
        raise ModelLoadError(f"{source}: import into TVM Relax failed ({first.strip()[:200]})") from exc
    return LoadedModel(module=mod, input_shapes=dict(input_shapes), source=source, format="onnx",
                       node_count=len(model.graph.node),
                       source_nodes=source_nodes(mod, node_exprs) if provenance else {})


def load_model(
    path: str | Path,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    batch: int | None = None,
    provenance: bool = False,
) -> LoadedModel:
    """Load a model file into Relax, dispatching on the file suffix (``provenance``: see :func:`from_onnx`)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".onnx" or (suffix not in (".tflite", ".pt2") and p.exists() and not p.is_dir()):
        from hybridperf.normalize import check_supported, normalize

        from hybridperf.quant import qoperator_to_qdq

        model = qoperator_to_qdq(load_onnx_proto(p))  # QLinear* ops -> QDQ, priced as int8
        check_supported(model, str(p))
        res = normalize(model, shapes, batch, inplace=True)
        return from_onnx(res.model, res.input_shapes, source=str(p), provenance=provenance)
    if suffix == ".pt2":
        from hybridperf.frontends_extra import load_pt2  # noqa: PLC0415

        return load_pt2(p, shapes, batch)
    if suffix == ".tflite":
        from hybridperf.frontends_extra import load_tflite  # noqa: PLC0415

        return load_tflite(p, shapes, batch)
    if not p.exists():
        raise ModelLoadError(f"model file not found: {p}; check the path")
    raise ModelLoadError(f"{p}: unknown model format {suffix!r}; pass an .onnx, .tflite or .pt2 (torch.export.save) file")
