"""Load any supported model file (dispatch on the suffix to the ONNX, torch.export or TFLite
frontend) or an in-memory ``onnx.ModelProto``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from hybridperf.errors import ModelLoadError
from hybridperf.frontends.common import OTHER_MODEL_SUFFIXES, LoadedModel, check_model_file, is_onnx_proto
from hybridperf.frontends.onnx_import import from_onnx, load_onnx_proto
from hybridperf.frontends.torch_files import not_an_export_program


def _is_onnx_model(p: Path) -> bool:
    """Whether the file ``p`` parses as an ONNX model with graph nodes; read only where its first byte is the tag of
    ``ModelProto.ir_version`` (field 1, a varint), which no zip archive, pickle or TFLite flatbuffer starts with."""
    from hybridperf.frontends.onnx_import import parse_graph

    try:
        with p.open("rb") as f:
            if f.read(1) != b"\x08":
                return False
        return len(parse_graph(p).graph.node) > 0
    except Exception:  # noqa: BLE001 - not ONNX either: the format's own loader says what it cannot read
        return False


def is_onnx_file(path: str | Path) -> bool:
    """Whether :func:`load_model` reads ``path`` with the ONNX frontend: an ``.onnx`` file, or an existing file of
    any suffix but ``.tflite``, ``.pt2`` and ``.pt`` / ``.pth`` (torch archives)."""
    p = Path(path)
    suffix = p.suffix.lower()
    return suffix == ".onnx" or (suffix not in OTHER_MODEL_SUFFIXES and p.exists() and not p.is_dir())


def proto_source(model: Any) -> str:
    """What messages call an in-memory ``onnx.ModelProto``: ``<onnx.ModelProto NAME>`` (its graph's name, else
    ``model``)."""
    return f"<onnx.ModelProto {model.graph.name or 'model'}>"


def load_model(
    path: str | Path | Any,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    batch: int | None = None,
    provenance: bool = False,
) -> LoadedModel:
    """Load a model file into Relax, dispatching on the file suffix, or an ``onnx.ModelProto``
    (left unchanged) the same way as an ONNX file (``provenance``: see :func:`from_onnx`)."""
    if is_onnx_proto(path):
        source = proto_source(path)
        if len(path.graph.node) == 0:
            raise ModelLoadError(f"{source} holds no ONNX graph nodes; pass a model with a graph")
        return _load_onnx(path, shapes, batch, provenance, source, inplace=False)
    check_model_file(path)  # a missing, unreachable (name too long) or directory path: one message for every format
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in OTHER_MODEL_SUFFIXES and _is_onnx_model(p):
        # until 2026-12-05 an ONNX file named .pt read "is a torch.save checkpoint", named .pt2 "cannot read ... as a
        # torch.export program (BadZipFile)"
        raise ModelLoadError(f"{p} is an ONNX model, not a {suffix} file: rename it to {p.with_suffix('.onnx').name}")
    if suffix in (".pt", ".pth", ".pt2") and p.is_file():
        not_a_program = not_an_export_program(p, suffix)
        if not_a_program:
            raise ModelLoadError(not_a_program)
        suffix = ".pt2"  # a torch.export.save archive, under whichever of the three names
    if is_onnx_file(p):
        return _load_onnx(load_onnx_proto(p), shapes, batch, provenance, str(p), inplace=True)
    if suffix == ".pt2":
        from hybridperf.frontends.torch_export import load_pt2  # noqa: PLC0415

        return load_pt2(p, shapes, batch)
    if suffix == ".tflite":
        from hybridperf.frontends.tflite import load_tflite  # noqa: PLC0415

        return load_tflite(p, shapes, batch)
    check_model_file(p)
    raise ModelLoadError(f"{p}: unknown model format {suffix!r}; pass an .onnx, .tflite or .pt2 (torch.export.save) file")


def importable_onnx(model: Any, source: str) -> Any:
    """``model``, checked to be a valid graph (:func:`~hybridperf.frontends.normalize.check_graph`), with its
    QOperator ops rewritten to QDQ (priced as int8; a copy when it rewrites), checked op by op:
    raises :class:`~hybridperf.errors.UnsupportedModelError` naming the QOperator ops left (``QGemm``,
    ``QAttention``: re-quantize in QDQ format), else every op TVM's ONNX frontend cannot import."""
    from hybridperf.frontends.normalize import check_graph, check_supported
    from hybridperf.frontends.qoperator import check_qoperator, qoperator_to_qdq

    check_graph(model, source)
    model = qoperator_to_qdq(model)
    check_qoperator(model, source)
    check_supported(model, source)
    return model


def normalized_onnx(model: Any, shapes: Mapping[str, tuple[int, ...]] | None, batch: int | None, source: str,
                    inplace: bool) -> Any:
    """``model`` made importable (:func:`importable_onnx`), normalised (in ``model`` itself with ``inplace``) and
    checked to compute something: the :class:`~hybridperf.frontends.normalize.NormalizeResult` both ONNX paths
    import, the whole model (:func:`load_model`) and its segments (:func:`hybridperf.analysis.blocks.analyze_segments`).
    """
    from hybridperf.frontends.normalize import check_computes, normalize

    model = importable_onnx(model, source)
    res = normalize(model, shapes, batch, inplace=inplace)
    check_computes(res, source)
    return res


def _load_onnx(model: Any, shapes: Mapping[str, tuple[int, ...]] | None, batch: int | None, provenance: bool,
               source: str, inplace: bool) -> LoadedModel:
    """:func:`normalized_onnx`, then the import; a model with ``ConvInteger`` nodes gets a load note
    (:func:`~hybridperf.frontends.qoperator.integer_conv_note`, read before the normaliser rewrites it)."""
    from hybridperf.frontends.qoperator import integer_conv_note

    note = integer_conv_note(model)
    loaded = import_normalized(normalized_onnx(model, shapes, batch, source, inplace), source, shapes, batch,
                               provenance)
    return replace(loaded, notes=(*loaded.notes, note)) if note else loaded


def import_normalized(res: Any, source: str, shapes: Mapping[str, tuple[int, ...]] | None, batch: int | None,
                      provenance: bool = False) -> LoadedModel:
    """The import of a :func:`normalized_onnx` result ``res`` (:func:`~hybridperf.frontends.onnx_import.from_onnx`:
    a shape error is the user's to fix where ``shapes`` or ``batch`` bound the inputs), carrying its folded work:
    the whole model (:func:`load_model`) and a model the block cache takes whole
    (:func:`hybridperf.analysis.blocks.analyze_segments`)."""
    loaded = from_onnx(res.model, res.input_shapes, source=source, provenance=provenance,
                       shapes_given=bool(shapes) or batch is not None)
    return replace(loaded, folded=res.folded)
