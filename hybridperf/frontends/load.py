"""Load any supported model file (dispatch on the suffix to the ONNX, torch.export or TFLite
frontend) or an in-memory ``onnx.ModelProto``.
"""

from __future__ import annotations

import pickletools
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hybridperf.errors import ModelLoadError
from hybridperf.frontends.common import OTHER_MODEL_SUFFIXES, LoadedModel, is_onnx_proto
from hybridperf.frontends.onnx_import import from_onnx, load_onnx_proto


def check_model_file(path: str | Path | Any) -> None:
    """Raise :class:`~hybridperf.errors.ModelLoadError` when ``path`` names no model file (missing, or a
    directory); an ``onnx.ModelProto`` passes. Cheap: the commands call it before a device probe or the TVM
    import, so a mistyped path fails at once."""
    if is_onnx_proto(path):
        return
    if not str(path).strip():  # Path("") is ".", a directory: the message would name "."
        raise ModelLoadError("the model path is empty; pass a model file (.onnx, .tflite or .pt2)")
    p = Path(path)
    try:
        exists = p.exists()
    except OSError as exc:  # ENAMETOOLONG, EACCES on a folder above: Path.exists raises these
        raise ModelLoadError(f"model file {p} cannot be looked up ({exc.strerror}); check the path") from None
    if not exists:
        raise ModelLoadError(f"model file not found: {p}; check the path")
    if p.is_dir():
        raise ModelLoadError(f"{p} is a directory; pass a model file (.onnx, .tflite or .pt2)")


def is_onnx_file(path: str | Path) -> bool:
    """Whether :func:`load_model` reads ``path`` with the ONNX frontend: an ``.onnx`` file, or an existing file of
    any suffix but ``.tflite``, ``.pt2`` and ``.pt`` / ``.pth`` (torch archives)."""
    p = Path(path)
    suffix = p.suffix.lower()
    return suffix == ".onnx" or (suffix not in OTHER_MODEL_SUFFIXES and p.exists() and not p.is_dir())


def load_model(
    path: str | Path | Any,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    batch: int | None = None,
    provenance: bool = False,
) -> LoadedModel:
    """Load a model file into Relax, dispatching on the file suffix, or an ``onnx.ModelProto``
    (left unchanged) the same way as an ONNX file (``provenance``: see :func:`from_onnx`)."""
    if is_onnx_proto(path):
        source = f"<onnx.ModelProto {path.graph.name or 'model'}>"
        if len(path.graph.node) == 0:
            raise ModelLoadError(f"{source} holds no ONNX graph nodes; pass a model with a graph")
        return _load_onnx(path, shapes, batch, provenance, source, inplace=False)
    check_model_file(path)  # a missing, unreachable (name too long) or directory path: one message for every format
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".pt", ".pth", ".pt2") and p.is_file():
        not_a_program = _not_an_export_program(p, suffix)
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


#: the fix every torch file that is no torch.export program ends its message with
_EXPORT_FIX = ("torch.export.export(model, example_inputs) and torch.export.save(program, 'model.pt2'), and pass the "
               ".pt2 file (or export to ONNX)")


def _not_an_export_program(path: Path, suffix: str) -> str:
    """The one-line error for a torch file that holds no torch.export program, told apart by its zip members
    without importing torch: a TorchScript archive (``torch.jit.save``: ``code/`` and ``constants.pkl``) or a
    ``torch.save`` checkpoint (``data.pkl``, or a bare pickle as before torch 1.6) of a state dict or a whole model.
    "" for a torch.export archive (``archive_format``, ``serialized_exported_program*``) and for a ``.pt2`` that is
    none of these (:func:`~hybridperf.frontends.torch_export.load_pt2` says what it cannot read); any other ``.pt`` /
    ``.pth`` is taken for a checkpoint. Until 2026-12-04 a checkpoint or TorchScript archive named ``.pt2`` read
    "cannot read ... as a torch.export program (RuntimeError)", and a TorchScript ``.pt`` was called a pickle of
    weights."""
    try:
        with open(path, "rb") as f:
            pickled = f.read(2) in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")  # protocol 2 to 5
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            if any(n.rsplit("/", 1)[-1] in ("archive_format", "serialized_exported_program.json")
                   or "serialized_exported_program" in n for n in names):
                return ""
            under_root = [n.split("/", 1)[1] for n in names if "/" in n]  # torch's archives keep one root folder
            if "constants.pkl" in under_root or any(n.startswith("code/") for n in under_root):
                return (f"{path} is a TorchScript archive (torch.jit.save), not a torch.export program: export the "
                        f"nn.Module it was scripted from with {_EXPORT_FIX}")
            if "data.pkl" not in under_root and suffix == ".pt2":
                return ""
            pkl = next((n for n in names if n.count("/") == 1 and n.endswith("/data.pkl")), None)
            model = _pickled_object_class(z, pkl) if pkl else ""
    except zipfile.BadZipFile:
        if suffix == ".pt2" and not pickled:
            return ""  # not a pickle either
        model = ""
    except OSError:
        return ""  # unreadable: the loader's own message names the error
    if model:
        return (f"{path} is a torch.save checkpoint of a whole model ({model}), not a torch.export program: torch.save "
                f"pickles hold Python objects, not a graph; load it (model = torch.load(path, weights_only=False)) "
                f"and export it with {_EXPORT_FIX}")
    return (f"{path} is a torch.save checkpoint, not a torch.export program: torch.save pickles hold weights, not a "
            f"graph; load them into the model (model.load_state_dict(...)) and export it with {_EXPORT_FIX}")


def torch_archive_error(path: Path) -> str:
    """The one-line error of :func:`_not_an_export_program` for a torch archive (TorchScript or ``torch.save``) under
    any name (an ``.onnx`` one: :func:`~hybridperf.frontends.onnx_import.other_format`)."""
    return _not_an_export_program(path, ".pt")


def _pickled_object_class(archive: zipfile.ZipFile, member: str) -> str:
    """``module.Class`` of the object a ``torch.save`` pickle holds where it is an instance of a class of its own (a
    whole ``nn.Module``: the pickle starts with its class, then NEWOBJ), else "" (a dict or an OrderedDict of
    tensors: a state dict or a training checkpoint). Reads the pickle's first opcodes without running it."""
    strings: list[str] = []
    cls = ""
    try:
        with archive.open(member) as f:
            for op, arg, _ in pickletools.genops(f):
                if op.name in ("PROTO", "FRAME", "BINPUT", "LONG_BINPUT", "PUT", "MEMOIZE", "EMPTY_TUPLE"):
                    continue
                if op.name == "GLOBAL" and not cls:
                    cls = str(arg).replace(" ", ".")
                elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE") and not cls:
                    strings.append(str(arg))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2 and not cls:
                    cls = ".".join(strings[-2:])
                elif op.name in ("NEWOBJ", "NEWOBJ_EX") and cls:
                    return "" if cls.startswith(("collections.", "builtins.")) else cls
                else:
                    return ""
    except (ValueError, zipfile.BadZipFile, OSError, EOFError):  # a truncated or odd pickle: no class named
        return ""
    return ""


def importable_onnx(model: Any, source: str) -> Any:
    """``model`` with its QOperator ops rewritten to QDQ (priced as int8; a copy when it rewrites), checked op by op:
    raises :class:`~hybridperf.errors.UnsupportedModelError` naming the QOperator ops left (``QGemm``,
    ``QAttention``: re-quantize in QDQ format), else every op TVM's ONNX frontend cannot import."""
    from hybridperf.frontends.normalize import check_supported
    from hybridperf.frontends.qoperator import check_qoperator, qoperator_to_qdq

    model = qoperator_to_qdq(model)
    check_qoperator(model, source)
    check_supported(model, source)
    return model


def _load_onnx(model: Any, shapes: Mapping[str, tuple[int, ...]] | None, batch: int | None, provenance: bool,
               source: str, inplace: bool) -> LoadedModel:
    """QOperator -> QDQ, support check, normalisation (in ``model`` itself with ``inplace``), import."""
    from hybridperf.frontends.normalize import normalize

    model = importable_onnx(model, source)
    res = normalize(model, shapes, batch, inplace=inplace)
    return from_onnx(res.model, res.input_shapes, source=source, provenance=provenance)
