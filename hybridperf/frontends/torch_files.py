"""Torch files that hold no torch.export program, told apart by their zip members without importing torch.

One home for the messages: :mod:`hybridperf.frontends.load` (a ``.pt`` / ``.pth`` / ``.pt2``) and
:mod:`hybridperf.frontends.onnx_import` (a torch archive named ``.onnx``) both name the file's kind and the fix.
"""

from __future__ import annotations

import pickletools
import zipfile
from pathlib import Path


#: the fix every torch file that is no torch.export program ends its message with
_EXPORT_FIX = ("torch.export.export(model, example_inputs) and torch.export.save(program, 'model.pt2'), and pass the "
               ".pt2 file (or export to ONNX)")


def not_an_export_program(path: Path, suffix: str) -> str:
    """The one-line error for a torch file that holds no torch.export program, told apart by its zip members
    without importing torch: a TorchScript archive (``torch.jit.save``: ``code/`` and ``constants.pkl``) or a
    ``torch.save`` checkpoint (``data.pkl``, or a bare pickle as before torch 1.6) of a state dict or a whole model.
    "" for a torch.export archive (``archive_format``, ``serialized_exported_program*``) and for a ``.pt2`` that is
    none of these (:func:`~hybridperf.frontends.torch_export.load_pt2` says what it cannot read); an empty ``.pt`` /
    ``.pth`` is called empty, any other is taken for a checkpoint. Until 2026-12-04 a checkpoint or TorchScript archive named ``.pt2`` read
    "cannot read ... as a torch.export program (RuntimeError)", and a TorchScript ``.pt`` was called a pickle of
    weights."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        if not head and suffix != ".pt2":  # until 2026-12-05 "is a torch.save checkpoint ... load them into the model"
            return f"{path} is empty (0 bytes), not a torch.export program: save it again with {_EXPORT_FIX}"
        pickled = head in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")  # protocol 2 to 5
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
    """The one-line error of :func:`not_an_export_program` for a torch archive (TorchScript or ``torch.save``) under
    any name (an ``.onnx`` one: :func:`~hybridperf.frontends.onnx_import.other_format`)."""
    return not_an_export_program(path, ".pt")


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
