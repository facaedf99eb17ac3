"""Frontends: model files -> TVM Relax ``IRModule`` with static shapes.

ONNX is the primary format. Input shapes come from the model, from explicit
``--shape NAME=1x3x224x224`` flags, or from ``--batch N`` for a symbolic
leading dimension; anything left symbolic is an error that names the flag.
Before import, :mod:`hybridperf.frontends.normalize` lists every op TVM cannot import
(all of them, in one line) and folds the shape subgraphs exporters emit.
Weights stored as ONNX external data are never read (:func:`load_onnx_proto`):
they import as placeholder constants of the right shape and dtype, so a 5 GB
export is analysed in about 0.3 GB of memory with the figures of a full load.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any
import contextlib
import io
import warnings

from hybridperf.errors import ModelLoadError, UnsupportedModelError
from hybridperf.frontends.common import OTHER_MODEL_SUFFIXES, SHAPE_MISFIT, LoadedModel, shapes_misfit_fix
from hybridperf.frontends.recurrent import RECURRENT_OPS
from hybridperf.frontends.torch_files import torch_archive_error


#: external tensors up to this many bytes are read into memory (shape arithmetic and quantisation
#: scales need their values); larger ones (the weights) stay on disk: analysis reads only dims and dtype
INLINE_EXTERNAL_BYTES = 1 << 16


def load_onnx_proto(path: str | Path, read_weights: bool = False):
    """Read an ONNX file, raising :class:`ModelLoadError` with a one-line fix.

    Weights stored as ONNX external data are not read: every external tensor is
    checked (its file exists and holds ``offset + length`` bytes), tensors of at
    most :data:`INLINE_EXTERNAL_BYTES` are loaded, and the rest stay on disk
    (``data_location == EXTERNAL``); :func:`from_onnx` imports them as
    placeholders of the right shape and dtype. Memory then scales with the
    graph, not with the weights (a 5 GB export: see ``benchmarks/big_export.py``).

    Weights stored inside the file are treated the same unless ``read_weights``: a tensor
    whose ``raw_data`` exceeds :data:`INLINE_EXTERNAL_BYTES` is left in the file, as an
    external-data reference to its own bytes there (:func:`_parse_leaving_weights`), so a
    415 MB BERT-base export is parsed without reading its weights.
    """
    import onnx

    p = Path(path)
    try:
        exists = p.exists()
    except OSError as exc:  # ENAMETOOLONG: Path.exists raises it (until 2026-12-03: exit 3, "internal error")
        raise ModelLoadError(f"model file {p} cannot be looked up ({exc.strerror}); check the path") from None
    if not exists:
        raise ModelLoadError(f"model file not found: {p}; check the path")
    if p.is_dir():
        raise ModelLoadError(f"{p} is a directory; pass an .onnx file (or use predict-many for a directory)")
    try:
        model = onnx.load(str(p), load_external_data=False) if read_weights else parse_graph(p)
    except Exception as exc:  # noqa: BLE001 - protobuf raises several kinds
        raise onnx_read_error(p, exc) from exc
    if len(model.graph.node) == 0 and len(model.graph.output):
        raise ModelLoadError(
            f"{p}: its ONNX graph has no nodes (every output is an input or a constant): nothing to predict; "
            "pass a model that computes its outputs"
        )
    if len(model.graph.node) == 0:
        other = other_format(p)  # a TFLite flatbuffer or a torch archive may parse as an empty ModelProto
        if other:
            raise ModelLoadError(f"{p} is not an ONNX model: {other}")
        raise ModelLoadError(f"{p} holds no ONNX graph nodes; the file is corrupt or not an ONNX model: re-export it")
    _load_small_external_data(model, p)
    return model


def onnx_read_error(path: str | Path, exc: BaseException, measuring: bool = False) -> ModelLoadError:
    """The one-line error for a file ``onnx.load`` cannot read, naming the fix: the frontends' and ``measure``'s
    (``measuring``: onnxruntime runs ONNX only, so a Relax module or another format is priced, not measured)."""
    p = Path(path)
    if isinstance(exc, OSError):  # until 2026-12-03: "(PermissionError); the file is corrupt ...: re-export it"
        return ModelLoadError(f"cannot read {p}: {exc.strerror or exc}; check the file's permissions")
    head = f"cannot read {p} as ONNX ({type(exc).__name__})"
    suffix = p.suffix.lower()
    if suffix in (".py", ".tvmscript", ".json"):  # a Relax module file: annotate reads those
        if measuring:
            return ModelLoadError(f"{head}; measure runs ONNX models only: a Relax module file (TVMScript, TVM JSON) "
                                  "is priced by `hybridperf annotate` (or the API, as an IRModule), not measured")
        return ModelLoadError(f"{head}; a Relax module file (TVMScript, TVM JSON) is read by `hybridperf annotate`, "
                              "or by the API as an IRModule")
    if measuring and suffix in OTHER_MODEL_SUFFIXES:
        return ModelLoadError(f"{head}; measure runs ONNX models only: a {suffix} model is priced by "
                              "`hybridperf predict`, not measured (export it to ONNX to measure it)")
    other = other_format(p, measuring)
    if other:  # what it is, not the decoder's complaint
        return ModelLoadError(f"{p} is not an ONNX model: {other}")
    return ModelLoadError(f"{head}; the file is corrupt or not an ONNX model: re-export it")


def other_format(path: str | Path, measuring: bool = False) -> str:
    """What a file that is no ONNX model is, told by its bytes, and the fix; "" where it is none of these: a TFLite
    flatbuffer (identifier ``TFL3`` at bytes 4..8: rename it to ``.tflite``), a torch.export archive (rename it to
    ``.pt2``), a TorchScript archive or a ``torch.save`` checkpoint (export the module). Until 2026-12-04 such a file
    named ``.onnx`` read "the file is corrupt or not an ONNX model: re-export it" (``measuring``: ``measure`` runs
    ONNX only, so the renamed file is priced by ``predict``)."""
    import zipfile

    p = Path(path)
    priced = "; `hybridperf predict` prices it, measure runs ONNX models only" if measuring else ""
    try:
        with p.open("rb") as f:
            head = f.read(8)
        if head[4:8] == b"TFL3":  # hybridperf.frontends.tflite.TFLITE_IDENTIFIER
            return (f"it is a TFLite model (flatbuffer identifier TFL3); rename it to "
                    f"{p.with_suffix('.tflite').name}{priced}")
        if not zipfile.is_zipfile(p):
            return ""
        with zipfile.ZipFile(p) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile):
        return ""
    if any("serialized_exported_program" in n or n.rsplit("/", 1)[-1] == "archive_format" for n in names):
        return (f"it is a torch.export program (torch.export.save archive); rename it to "
                f"{p.with_suffix('.pt2').name}{priced}")
    if any(n.rsplit("/", 1)[-1] in ("data.pkl", "constants.pkl") for n in names):
        return "it is " + torch_archive_error(p).removeprefix(f"{p} is ")
    return ""


def _varint(buf: Any, pos: int) -> tuple[int, int]:
    """The protobuf varint at ``buf[pos]`` and the position after it."""
    value, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _fields(buf: Any, start: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """``(field number, wire type, field start, value start, value end)`` of each field of the
    protobuf message ``buf[start:end]``."""
    pos = start
    while pos < end:
        first = pos
        key, pos = _varint(buf, pos)
        wire = key & 7
        if wire == 0:
            _, after = _varint(buf, pos)
        elif wire == 1:
            after = pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            after = pos + n
        elif wire == 5:
            after = pos + 4
        else:
            raise ValueError(f"wire type {wire}")
        if after > end:
            raise ValueError("field runs past its message")
        yield key >> 3, wire, first, pos, after
        pos = after


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _encode_varint(field << 3 | 2) + _encode_varint(len(payload)) + payload


#: field numbers in onnx.proto3 (ModelProto.graph, GraphProto.initializer, TensorProto.raw_data /
#: external_data / data_location, StringStringEntryProto.key / value)
_MODEL_GRAPH, _GRAPH_INITIALIZER, _TENSOR_RAW_DATA, _TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 7, 5, 9, 13, 14


def _tensor_left_in_file(buf: Any, start: int, end: int, location: str) -> bytes | None:
    """The TensorProto ``buf[start:end]`` with its ``raw_data`` replaced by an external-data
    reference to those bytes in ``location`` (the model file itself), or None when it has no
    ``raw_data`` above :data:`INLINE_EXTERNAL_BYTES`."""
    raw = None
    kept = []
    for field, _, first, vs, ve in _fields(buf, start, end):
        if field == _TENSOR_RAW_DATA:
            raw = (vs, ve)
        elif field == _TENSOR_EXTERNAL_DATA:
            # inline bytes and an external-data entry: onnx reads the external file, so the tensor is left
            # as written for _load_small_external_data to check that file (until 2026-12-04 the entry was
            # dropped here and onnxruntime's memory model tripped over it later, on CPU sheets only)
            return None
        elif field != _TENSOR_DATA_LOCATION:
            kept.append(buf[first:ve])
    if raw is None or raw[1] - raw[0] <= INLINE_EXTERNAL_BYTES:
        return None
    for key, value in (("location", location), ("offset", str(raw[0])), ("length", str(raw[1] - raw[0]))):
        kept.append(_length_delimited(_TENSOR_EXTERNAL_DATA, _length_delimited(1, key.encode()) + _length_delimited(2, value.encode())))
    kept.append(_encode_varint(_TENSOR_DATA_LOCATION << 3) + _encode_varint(_ONNX_EXTERNAL))
    return b"".join(kept)


def parse_graph(path: Path):
    """The ModelProto in ``path`` without reading its weights: inline tensors over :data:`INLINE_EXTERNAL_BYTES` left
    in the file (:func:`_parse_leaving_weights`), external data not loaded. Raises what ``onnx.load`` raises for a
    file that is not a readable ONNX model (each caller words its own refusal)."""
    import onnx

    model = _parse_leaving_weights(path)
    if model is None:  # no inline tensor over the threshold, or not a well-formed ModelProto: onnx reports it
        model = onnx.load(str(path), load_external_data=False)
    return model


def _parse_leaving_weights(path: Path):
    """The ModelProto in ``path`` with every initializer whose ``raw_data`` exceeds
    :data:`INLINE_EXTERNAL_BYTES` left in the file as external data (``location`` = the file's
    own name, ``offset`` / ``length`` = where its bytes are): only the protobuf's field headers
    are walked (memory-mapped), the weights are never read. None (the caller parses the file
    as usual) when the file is not a well-formed ModelProto or has no such tensor."""
    import mmap

    import onnx

    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            out, changed = [], False
            for field, wire, first, vs, ve in _fields(buf, 0, len(buf)):
                if field != _MODEL_GRAPH or wire != 2:
                    out.append(buf[first:ve])
                    continue
                graph = []
                for gfield, gwire, gfirst, gvs, gve in _fields(buf, vs, ve):
                    left = None
                    if gfield == _GRAPH_INITIALIZER and gwire == 2 and gve - gvs > INLINE_EXTERNAL_BYTES:
                        left = _tensor_left_in_file(buf, gvs, gve, path.name)
                    if left is None:
                        graph.append(buf[gfirst:gve])
                    else:
                        graph.append(_length_delimited(_GRAPH_INITIALIZER, left))
                        changed = True
                out.append(_length_delimited(_MODEL_GRAPH, b"".join(graph)))
            if not changed:
                return None
            model = onnx.ModelProto()
            model.ParseFromString(b"".join(out))
            return model
    except Exception:  # noqa: BLE001 - malformed or unreadable: onnx.load reports it as usual
        return None


def _all_tensors(graph) -> Iterator[Any]:
    """Every TensorProto of ``graph``: initializers, sparse initializers, node attributes, subgraphs."""
    import onnx

    yield from graph.initializer
    for sp in graph.sparse_initializer:
        yield sp.values
        yield sp.indices
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                yield a.t
            elif a.type == onnx.AttributeProto.TENSORS:
                yield from a.tensors
            elif a.type == onnx.AttributeProto.GRAPH:
                yield from _all_tensors(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from _all_tensors(g)


def _expected_bytes(t) -> int | None:
    """Bytes of ``t``'s payload from dims x element size (:func:`~hybridperf.precision.tensor_bytes`: int4 packed);
    None for strings and unknown dtypes."""
    import onnx

    from hybridperf.frontends.onnx_dtype import onnx_elem_bytes
    from hybridperf.units import numel

    if t.data_type in (onnx.TensorProto.STRING, onnx.TensorProto.UNDEFINED):
        return None
    try:
        return onnx_elem_bytes(t.data_type, numel(t.dims))
    except Exception:  # noqa: BLE001 - an exotic dtype: the length field alone decides
        return None


def _load_small_external_data(model, path: Path) -> None:
    """Check every external tensor's file and bounds; read the small ones (see :func:`load_onnx_proto`)."""
    import onnx
    from onnx.external_data_helper import ExternalDataInfo, load_external_data_for_tensor

    base = path.parent
    sizes: dict[str, int] = {}
    for t in _all_tensors(model.graph):
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        try:
            info = ExternalDataInfo(t)
        except ValueError as exc:
            raise ModelLoadError(f"{path}: tensor {t.name!r} has a bad external-data entry ({exc}); re-export the model") from exc
        location = info.location
        if location not in sizes:
            f = base / location
            if location and _outside(base, location):
                raise ModelLoadError(
                    f"{path}: tensor {t.name!r} names external data file {location!r}, outside the model's folder "
                    f"{base}; onnx reads external data only from files beside the model: re-export the model"
                )
            if not location or not f.is_file():
                raise ModelLoadError(
                    f"{path}: external data file {location!r} not found (looked for {f}, needed by tensor {t.name!r}); "
                    "copy it next to the model, or re-export the model"
                )
            sizes[location] = f.stat().st_size
        offset = info.offset or 0
        need = info.length if info.length is not None else _expected_bytes(t)
        if need is not None and offset + need > sizes[location]:
            raise ModelLoadError(
                f"{path}: external data file {location!r} is truncated ({sizes[location]} bytes, tensor {t.name!r} "
                f"needs bytes {offset}..{offset + need}); copy it again, or re-export the model"
            )
        if need is not None and need <= INLINE_EXTERNAL_BYTES:
            try:
                load_external_data_for_tensor(t, str(base))
            except (OSError, ValueError, onnx.checker.ValidationError) as exc:
                raise ModelLoadError(f"{path}: cannot read external data of tensor {t.name!r} from {location!r} ({exc}); re-export the model") from exc


def _outside(base: Path, location: str) -> bool:
    """Whether an external-data ``location`` leaves the model's folder ``base`` (absolute, or ``..`` above it),
    which onnx refuses to read."""
    import os

    if os.path.isabs(location):
        return True
    return not os.path.normpath(os.path.join(base.resolve(), location)).startswith(str(base.resolve()) + os.sep)


#: ``onnx.TensorProto.EXTERNAL`` (onnx is imported lazily)
_ONNX_EXTERNAL = 1

#: ops that TVM's ONNX converters fold with numpy when their data input is a constant and whose
#: result only depends on the input's type: on a weight left on disk they are folded by type
#: (tests pin that each gives the figures of the fully loaded model)
_TYPE_FOLDED_OPS = frozenset({"Transpose", "Cast", "Reshape", "Unsqueeze", "Squeeze", "Neg", "Abs"})


def _conv2d_type(expr: Any) -> Any:
    """The type TVM infers for ``expr``, a ``relax.nn.conv2d`` call not yet typed, in the plain case
    (NCHW data, OIHW weight, NCHW output, one dtype, static shapes, channels that match); else None
    (TVM infers it, or reports the error).

    TVM's inference builds three layout maps per call (about 0.5 ms: half of importing a
    MobileNet); the output shape is TVM's arithmetic, ``(H + pad - dilation * (k - 1) - 1) //
    stride + 1`` per spatial axis. ``tests/test_onnx_import_fast.py`` checks that imported modules
    are structurally equal either way.
    """
    from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

    tvm, relax = _tvm.tvm_modules()
    if (not _tvm.is_call(expr) or not isinstance(expr.op, tvm.ir.Op) or expr.op.name != "relax.nn.conv2d"
            or len(expr.args) != 2 or _tvm.is_typed(expr)):
        return None
    a = expr.attrs
    if (a.data_layout, a.kernel_layout, a.out_layout) != ("NCHW", "OIHW", "NCHW") or a.out_dtype is not None:
        return None
    data, weight = (getattr(x, "ty", None) for x in expr.args)
    if not isinstance(data, relax.TensorType) or not isinstance(weight, relax.TensorType):
        return None
    if data.vdevice is not None or weight.vdevice is not None or str(data.dtype) != str(weight.dtype):
        return None
    (d,), (w,) = _tvm.tensor_infos(data) or (None,), _tvm.tensor_infos(weight) or (None,)
    if d is None or w is None or d.shape is None or w.shape is None or len(d.shape) != 4 or len(w.shape) != 4:
        return None
    (n, c, h, wd), (o, i, kh, kw) = d.shape, w.shape
    groups, (sh, sw), (pt, pl, pb, pr), (dh, dw) = a.groups, a.strides, a.padding, a.dilation
    if groups <= 0 or c != i * groups or o % groups:
        return None
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    if oh <= 0 or ow <= 0:
        return None
    return relax.TensorType([n, o, oh, ow], str(data.dtype))


class _TypingBuilder:
    """The importer's ``BlockBuilder`` as a converter sees it, typing plain ``conv2d`` calls itself
    (:func:`_conv2d_type`) before the builder normalises them; everything else is the builder's."""

    def __init__(self, bb: Any) -> None:
        self._bb = bb

    def normalize(self, expr: Any) -> Any:
        ty = _conv2d_type(expr)
        if ty is not None:
            from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

            _, relax = _tvm.tvm_modules()
            if not all(_tvm.is_var(a) or _tvm.is_constant(a) for a in expr.args):
                # the builder binds a nested argument before the call (and rebuilds the call, untyped):
                # bind them first, in the same order and through the same memo, as a tuple's fields
                args = self._bb.normalize(relax.Tuple(list(expr.args))).fields
                expr = relax.Call(expr.op, list(args), expr.attrs, expr.ty_args)
            _tvm.set_type(expr, ty)
        return self._bb.normalize(expr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bb, name)


def _tracing_importer(base: type) -> type:
    """``base`` (TVM's ONNX importer class) that also remembers which ONNX node produced which expression."""
    # Long by design (STYLE.md 16): the body is one class definition, a subclass of the importer class
    # passed in at run time, and each of its methods is already a short named step (node tracing,
    # placeholders for weights left on disk, folding by type). Splitting it would only move the
    # class away from the base it closes over.

    class TracingImporter(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.hp_node_exprs: list[tuple[str, Any]] = []
            #: (op type, node name) of the node whose conversion raised
            self.hp_failed_node: tuple[str, str] | None = None
            self._hp_nodes: list[Any] = []
            self._hp_next = 0
            #: hash -> placeholder constant standing in for a weight left on disk (or derived from one)
            self._hp_placeholders: dict[int, Any] = {}
            #: whether the importer entered its ``main`` function scope (it converts nodes only inside it)
            self.hp_in_scope = False

        def from_onnx(self, graph, opset):
            self._hp_nodes = list(graph.node)
            return super().from_onnx(graph, opset)

        def _construct_nodes(self, graph):
            self.hp_in_scope = True
            return super()._construct_nodes(graph)

        def _check_for_unsupported_ops(self, graph):
            # TVM's check by op name, less the nodes an onnxruntime contrib converter of ours takes
            from hybridperf.frontends.contrib import converter_for  # noqa: PLC0415

            nodes = [n for n in graph.node if converter_for(n) is None]
            if len(nodes) == len(graph.node):
                return super()._check_for_unsupported_ops(graph)
            import onnx  # noqa: PLC0415

            rest = onnx.GraphProto()
            rest.node.extend(nodes)
            return super()._check_for_unsupported_ops(rest)

        def _parse_array(self, tensor_proto):
            # a weight left on disk (see load_onnx_proto): a placeholder of its shape and dtype. Nothing
            # reads constant values after import (costs, kernels and memory use types only), and the
            # runtime allocates the placeholder lazily, so its pages are never touched.
            if tensor_proto.data_location == _ONNX_EXTERNAL:
                from hybridperf.frontends.onnx_dtype import onnx_dtype_name  # noqa: PLC0415
                from hybridperf.ir.tvm_compat import empty_tensor  # noqa: PLC0415

                return empty_tensor(tuple(int(d) for d in tensor_proto.dims), onnx_dtype_name(tensor_proto.data_type))
            return super()._parse_array(tensor_proto)

        def _parse_graph_initializers(self, graph):
            super()._parse_graph_initializers(graph)
            for t in graph.initializer:
                if t.data_location == _ONNX_EXTERNAL:
                    self._hp_placeholders[hash(self._nodes[t.name])] = self._nodes[t.name]

        def _hp_is_placeholder(self, expr) -> bool:
            known = self._hp_placeholders.get(hash(expr)) if expr is not None else None
            return known is not None and known.same_as(expr)

        def _hp_placeholder(self, ty):
            """A new placeholder constant of Relax type ``ty`` (None unless one static tensor)."""
            from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

            infos = _tvm.tensor_infos(ty) if not _tvm.is_tuple_type(ty) else []
            if len(infos) != 1 or infos[0].shape is None:
                return None
            _, relax = _tvm.tvm_modules()
            const = relax.const(_tvm.empty_tensor(infos[0].shape, infos[0].dtype))
            self._hp_placeholders[hash(const)] = const
            return const

        def _hp_keep_mask(self, inputs, sym):
            """The placeholder an Add of a weight left on disk and a read constant folds into, holding that constant
            (broadcast; the weight read as 0) where it has entries whose ``exp`` is a float32 subnormal: a mask of
            -100 added to a relative-position bias (Hugging Face's Swin) would otherwise become a placeholder of
            zeros, and the cost pass would not see the subnormals it makes (:mod:`hybridperf.analysis.subnormal`).
            ``sym`` itself elsewhere, or where the result would exceed
            :data:`~hybridperf.precision.SUBNORMAL_MASK_ELEMENTS`."""
            import numpy as np  # noqa: PLC0415

            from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415
            from hybridperf.precision import SUBNORMAL_MASK_ELEMENTS, exp_subnormal_entries  # noqa: PLC0415

            if not self._hp_is_placeholder(sym):
                return sym
            infos = _tvm.tensor_infos(_tvm.expr_type(sym))
            if len(infos) != 1 or infos[0].shape is None or infos[0].dtype != "float32":
                return sym
            read = [_tvm.constant_array(x) for x in inputs
                    if x is not None and _tvm.is_constant(x) and not self._hp_is_placeholder(x)]
            if not any(exp_subnormal_entries(a) for a in read) or (infos[0].numel or 0) > SUBNORMAL_MASK_ELEMENTS:
                return sym
            kept = np.zeros(infos[0].shape, np.float32)
            for a in read:
                kept = kept + a.astype(np.float32)
            _, relax = _tvm.tvm_modules()
            const = relax.const(np.ascontiguousarray(np.broadcast_to(kept, infos[0].shape)))
            self._hp_placeholders[hash(const)] = const
            return const

        def _hp_fold_by_type(self, op_name, inputs, attrs, opset):
            """The constant TVM's converter would fold ``op_name`` into, as a placeholder of its type.

            The converter runs on variables standing in for the placeholders, in a scratch
            builder; its (unfolded) result gives the type without computing any value.
            """
            from tvm.relax.frontend.onnx import onnx_frontend  # noqa: PLC0415

            from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

            _, relax = _tvm.tvm_modules()
            stand_ins = [relax.Var(f"hp_placeholder{k}", x.ty) if self._hp_is_placeholder(x) else x
                         for k, x in enumerate(inputs)]
            convert = onnx_frontend._get_convert_map()[op_name].get_converter(opset)  # noqa: SLF001
            bb = relax.BlockBuilder()
            try:
                with bb.function("hp_type_fold", params=[v for v in stand_ins if isinstance(v, relax.Var)]):
                    with bb.dataflow():
                        out = bb.normalize(convert(bb, stand_ins, dict(attrs), [self._nodes, self._params]))
                        ty = _tvm.expr_type(out)
                        res = bb.emit_output(out)
                    bb.emit_func_output(res)
            except Exception:  # noqa: BLE001 - the converter's own run (with the values) decides
                return None
            return self._hp_placeholder(ty)

        def _hp_convert(self, op_name, inputs, attrs, opset, node=None):
            """TVM's converter; a Conv's sees a builder that types its ``conv2d`` (:class:`_TypingBuilder`);
            an onnxruntime contrib op's is :mod:`hybridperf.frontends.contrib`'s; an op whose output dtype
            TVM's converter changes is :mod:`hybridperf.frontends.onnx_dtype`'s."""
            from hybridperf.frontends import onnx_dtype  # noqa: PLC0415
            from hybridperf.frontends.contrib import converter_for  # noqa: PLC0415

            contrib = converter_for(node) if node is not None else None
            if contrib is not None:
                return contrib(self.bb, list(inputs), attrs, node)
            typed = onnx_dtype.converter_for(op_name, node, opset)
            if typed is not None:  # TVM's converter would change (or refuse) ONNX's output dtype
                got = typed(self.bb, list(inputs), attrs, node)
                if got is not None:
                    return got
            if op_name == "Einsum" and len(inputs) >= 3:
                # TVM's converter emits one topi.einsum kernel, priced by its TIR loop over every index
                # (3 x i*j*k*l for ij,jk,kl->il); relax.einsum legalizes to the same kernel and is priced
                # as the pairwise contractions runtimes run (hybridperf.costs.matmul.einsum)
                from hybridperf.ir.tvm_compat import tvm_modules  # noqa: PLC0415

                equation = attrs["equation"]
                equation = equation.decode("utf-8") if isinstance(equation, bytes) else str(equation)
                return self.bb.normalize(tvm_modules()[1].op.einsum(list(inputs), equation))
            if op_name == "LayerNormalization" and opset < 17:
                # onnxruntime's own LayerNormalization (ONNX domain, opset 1) is the opset-17 op; TVM has only v17
                from tvm.relax.frontend.onnx import onnx_frontend  # noqa: PLC0415

                # normalised as TVM's own _convert_operator does: a Shape node reading the output needs its type
                # (until 2026-12-03 an ORT_ENABLE_EXTENDED save of a dynamic-axes BERT exited 2 with
                # "'Type' object has no attribute 'shape'", blamed on the input shapes)
                return self.bb.normalize(onnx_frontend.LayerNormalization._impl_v17(  # noqa: SLF001
                    self.bb, inputs, attrs, [self._nodes, self._params]))
            if op_name != "Conv":
                return super()._convert_operator(op_name, inputs, attrs, opset)
            bb = self.bb
            self.bb = _TypingBuilder(bb)
            try:
                return super()._convert_operator(op_name, inputs, attrs, opset)
            finally:
                self.bb = bb

        def _convert_operator(self, op_name, inputs, attrs, opset):
            from hybridperf.ir import tvm_compat as _tvm  # noqa: PLC0415

            name = str(attrs.get("tvm_custom", {}).get("name", ""))
            # the importer converts the graph's nodes in order; an unnamed node is known by its first output
            node = None
            for k in range(self._hp_next, len(self._hp_nodes)):
                if self._hp_nodes[k].op_type == op_name and self._hp_nodes[k].name == name:
                    node, self._hp_next = self._hp_nodes[k], k + 1
                    break
            sym = None
            try:
                # an op on weights left on disk, with nothing else but constants: TVM's converter would
                # fold it with numpy, reading every weight; fold by type instead (or drop the values after)
                on_placeholders = any(self._hp_is_placeholder(x) for x in inputs) and all(
                    x is None or _tvm.is_constant(x) for x in inputs)
                if on_placeholders and op_name in _TYPE_FOLDED_OPS:
                    sym = self._hp_fold_by_type(op_name, inputs, attrs, opset)
                if sym is None:
                    sym = self._hp_convert(op_name, inputs, attrs, opset, node)
                    if on_placeholders and _tvm.is_constant(sym):
                        sym = self._hp_placeholder(_tvm.expr_type(sym)) or sym
                if on_placeholders and op_name == "Add":
                    sym = self._hp_keep_mask(inputs, sym)
            except Exception:
                self.hp_failed_node = (op_name, name)
                raise
            if node is not None and not name:
                name = node_name(node)
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

    from hybridperf.ir import tvm_compat as _tvm

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
    this point were already checked op by op by :func:`hybridperf.frontends.normalize.check_supported`.
    Everything else is the frontend's own importer, called as ``from_onnx`` calls it.
    """
    from tvm.relax.frontend.onnx import onnx_frontend

    if model.ir_version < 3:
        raise ValueError(f"Model IR version {model.ir_version} not supported. Must be at least after 1.1.0.")
    importer = _tracing_importer(onnx_frontend.ONNXGraphImporter)(
        shape_dict, "float32", keep_params_in_input=False, sanitize=True)
    try:
        # the frontend print()s "Error converting operator ..." before re-raising: keep it off our stdout
        with contextlib.redirect_stdout(io.StringIO()):
            mod = importer.from_onnx(model.graph, opset if opset is not None else 1)
        return mod, importer.hp_node_exprs
    except Exception as exc:
        exc.hp_failed_node = importer.hp_failed_node  # read by from_onnx's one-line message
        from hybridperf.ir.tvm_compat import end_open_blocks  # noqa: PLC0415

        # a converter that raised left its block and scope open; a failure before the scope (an input or initializer
        # of a dtype TVM has no name for: complex64) leaves none, and ending a scope never begun crashes TVM (until
        # 2026-12-04 a complex64 input ended the process with SIGSEGV, exit 139)
        end_open_blocks(importer.bb, scope=importer.hp_in_scope)
        raise


#: ONNX ops whose Relax conversion is a reshape -> ``permute_dims`` -> reshape but which onnxruntime's CPU provider runs
#: with a kernel of its own, not its Transpose: on a Zen 4 (2026-12-06, 1 thread, 1 x 256 x 56 x 56 float32, block 2)
#: DepthToSpace 1.80 ns per element (CRD and DCR), SpaceToDepth 0.29 ns, against 4.00 ns for the same permutation
#: as a Transpose and 0.22 ns for one keeping the innermost axis (`calibration/host-epyc-zen4-transpose/depth-to-space`,
#: `benchmarks.depth_to_space_cost`, 1 and 2 threads alike). The transpose term does not price them
#: (:attr:`~hybridperf.frontends.common.LoadedModel.own_kernel_vars`)
OWN_KERNEL_OPS = frozenset({"DepthToSpace", "SpaceToDepth"})

#: ONNX activations whose Relax conversion is a chain of cheap element-wise ops (``Softplus``: ``maximum``, ``abs``,
#: ``exp``, ``add``, ``log``; ``Elu``: ``exp``, ``subtract``, ``relu``, ...) but which onnxruntime's CPU provider runs
#: with a kernel of its own that evaluates one element at a time: on a Zen 4 (2026-12-07, 1 thread, 2^20 float32
#: elements) Softplus 11.1, Mish 11.7, Elu 1.8, Selu 1.9 ns per element against 0.26 for a ``Neg`` (plan (28) of
#: CHANGELOG 2026-12-07; ``Celu``, 2.0 ns, is not imported by TVM 0.27 at all). ONNX op -> its key in a CPU sheet's
#: ``elementwise_math``
#: (:attr:`~hybridperf.frontends.common.LoadedModel.activation_vars`, :mod:`hybridperf.analysis.elementwise_math`)
SCALAR_ACTIVATION_OPS = MappingProxyType({"Softplus": "softplus", "Mish": "mish", "Elu": "elu", "Selu": "selu"})


def recurrent_directions(node: Any) -> int:
    """The directions of an ONNX recurrent node (2 for ``direction="bidirectional"``, else 1)."""
    for a in node.attribute:
        if a.name == "direction":
            return 2 if a.s in (b"bidirectional", "bidirectional") else 1
    return 1


def node_name(node: Any) -> str:
    """The name an ONNX node is known by in :func:`source_nodes`: its own, else ``output:<its first output>`` (as a
    profile's ``graph_node`` names an unnamed node: :func:`hybridperf.measure.onnxruntime.unnamed_node_name`)."""
    return node.name or (f"output:{node.output[0]}" if node.output else "")


def from_onnx(model, input_shapes: Mapping[str, tuple[int, ...]], source: str = "<memory>",
              provenance: bool = False, shapes_given: bool = False) -> LoadedModel:
    """Import an ONNX ModelProto into Relax with static input shapes.

    ``provenance`` also fills :attr:`LoadedModel.source_nodes` (Relax var -> ONNX node;
    used to join runtime profiles to kernels when building training tables; about 6 ms
    on a BERT-base export whose analysis takes 1.3 s). ``shapes_given``: the user bound
    ``input_shapes`` (``--shape`` / ``--batch``), so a shape error may be theirs to fix;
    otherwise it is the model's own.
    """
    from hybridperf.ir.tvm_compat import tvm_modules

    tvm_modules()

    from hybridperf.frontends.normalize import default_opset  # noqa: PLC0415

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod, node_exprs = _relax_from_onnx(model, {k: list(v) for k, v in input_shapes.items()},
                                               default_opset(model))
    except Exception as exc:  # noqa: BLE001 - the frontend raises many kinds
        from hybridperf.ir.tvm_compat import error_line  # noqa: PLC0415

        msg = str(exc).strip().splitlines()
        first = error_line(exc)
        from hybridperf.frontends.normalize import data_dependent_shape_ops  # noqa: PLC0415

        dynamic = data_dependent_shape_ops(model)
        if dynamic:
            listed = ", ".join(f"{k} ({v})" for k, v in sorted(dynamic.items()))
            raise UnsupportedModelError(
                f"{source}: shapes depend on the input values ({listed} feed shape computations), "
                f"so they stay dynamic at any input shape and TVM's ONNX frontend failed ({first.strip()[:120]}); "
                f"{len(model.graph.node)} nodes; export the model without its data-dependent post-processing "
                "(e.g. a detector's backbone and heads, without box selection / NMS)"
            ) from exc
        failed = getattr(exc, "hp_failed_node", None)
        if type(exc) is NotImplementedError and failed:
            # a converter of ours (hybridperf.frontends.contrib, .recurrent) names the case: whole, not cut; a
            # recurrent layer's names its fix too, an onnxruntime fusion's is the export before the fusions
            at = f"node {failed[1]!r} ({failed[0]})" if failed[1] else f"a {failed[0]} node"
            fix = "" if failed[0] in RECURRENT_OPS else ("; pass the model as exported, before onnxruntime's fusions, or "
                                                 "re-export it without that op")
            raise UnsupportedModelError(f"{source}: {at} cannot be imported: {first.strip()}{fix}") from exc
        if "not supported" in " ".join(msg).lower() or isinstance(exc, NotImplementedError):
            raise UnsupportedModelError(
                f"{source}: TVM's ONNX frontend cannot import this model ({first.strip()[:200]}); "
                f"{len(model.graph.node)} nodes; re-export the model without that op (or at another opset)"
            ) from exc
        where = f" at node {failed[1]!r} ({failed[0]})" if failed and failed[1] else f" at a {failed[0]} node" if failed else ""
        fix = "; re-export the model, or report it"
        if SHAPE_MISFIT.search(first):
            if shapes_given:
                fix = f"; {shapes_misfit_fix(input_shapes)}"
            else:  # until 2026-12-04 this also blamed --shape / --batch, which the user had not passed
                at = where.removeprefix(" at ") or "one of its nodes"
                raise ModelLoadError(f"{source}: the model's own shapes are inconsistent at {at}: "
                                     f"{first[:240].rstrip('.')}; fix the model (re-export it)") from exc
        raise ModelLoadError(f"{source}: import into TVM Relax failed{where}: {first[:240].rstrip('.')}{fix}") from exc
    # the nodes of OWN_KERNEL_OPS, and the vars converted from them: provenance worked out once, where asked or needed
    own = {node_name(n) for n in model.graph.node if n.op_type in OWN_KERNEL_OPS}
    # the recurrent nodes (name -> directions), whose steps re-read their weights
    recurrent = {node_name(n): recurrent_directions(n) for n in model.graph.node
                 if n.op_type in RECURRENT_OPS and (n.domain or "") in ("", "ai.onnx")}
    # the activations onnxruntime runs with a kernel of its own (name -> sheet key)
    activations = {node_name(n): SCALAR_ACTIVATION_OPS[n.op_type] for n in model.graph.node
                   if n.op_type in SCALAR_ACTIVATION_OPS and (n.domain or "") in ("", "ai.onnx")}
    sources = source_nodes(mod, node_exprs) if provenance or own or recurrent or activations else {}
    return LoadedModel(module=mod, input_shapes=dict(input_shapes), source=source, format="onnx",
                       node_count=len(model.graph.node), source_nodes=sources if provenance else {},
                       own_kernel_vars=frozenset(v for v, n in sources.items() if n in own),
                       recurrent_vars={v: (n, recurrent[n]) for v, n in sources.items() if n in recurrent},
                       activation_vars={v: (n, activations[n]) for v, n in sources.items() if n in activations})
