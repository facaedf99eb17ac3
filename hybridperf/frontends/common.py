"""What every frontend shares: the :class:`LoadedModel` record, the model file suffixes, the rule that blames a
failed import on the input shapes, and two small helpers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybridperf.errors import ModelLoadError
from hybridperf.units import shapes_text


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
    #: the work of the nodes the ONNX normaliser folded that eager PyTorch computes every call
    #: (:class:`~hybridperf.frontends.normalize.FoldedWork`); None: not an ONNX model (nothing was folded by us)
    folded: Any = None
    #: what the load assumed that the figures depend on, one line each (a TFLite input's dynamic batch priced at its
    #: stored size): carried to :attr:`Analyzed.load_notes` and so to the prediction's warnings
    notes: tuple[str, ...] = ()
    #: Relax binding vars converted from ONNX nodes that onnxruntime runs with a kernel of their own rather than as
    #: their Relax decomposition (:data:`~hybridperf.frontends.onnx_import.OWN_KERNEL_OPS`: DepthToSpace,
    #: SpaceToDepth): their ``permute_dims`` is none of onnxruntime's Transposes (:mod:`hybridperf.analysis.transpose`)
    own_kernel_vars: frozenset[str] = frozenset()
    #: Relax binding vars converted from ONNX recurrent nodes (LSTM, GRU, RNN: :mod:`.recurrent`) -> (the node's
    #: name, its directions): what :func:`hybridperf.analysis.recurrent.with_rereads` reads to find the weights each
    #: step re-reads
    recurrent_vars: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    #: Relax binding vars converted from ONNX activations that onnxruntime runs with a kernel of its own evaluating one
    #: element at a time (:data:`~hybridperf.frontends.onnx_import.SCALAR_ACTIVATION_OPS`: Softplus, Mish, Elu, Selu)
    #: -> (the node's name, its key in a CPU sheet's ``elementwise_math``): what
    #: :meth:`hybridperf.analysis.cost_pass.ModelAnalysis.with_activations` reads
    activation_vars: Mapping[str, tuple[str, str]] = field(default_factory=dict)


#: suffixes of the model files that are not ONNX (TFLite flatbuffers, torch.export archives, torch pickles)
OTHER_MODEL_SUFFIXES = (".tflite", ".pt2", ".pt", ".pth")
#: every model file suffix :func:`hybridperf.frontends.load.load_model` dispatches on
MODEL_SUFFIXES = (".onnx", *OTHER_MODEL_SUFFIXES)


def is_onnx_proto(model: Any) -> bool:
    """Whether ``model`` is an ``onnx.ModelProto`` (told without importing onnx)."""
    return type(model).__name__ == "ModelProto" and hasattr(model, "graph")


#: a TVM frontend's error that reads as a shape that does not fit the model: with --shape / --batch given, the failed
#: import is blamed on them (:func:`shapes_misfit_fix`)
SHAPE_MISFIT = re.compile(r"shape|broadcast|dimension|reduction length|rank", re.IGNORECASE)


def shapes_misfit_fix(input_shapes: Mapping[str, tuple[int, ...]]) -> str:
    """The fix a failed import names where the given ``input_shapes`` do not fit the model (its error matched
    :data:`SHAPE_MISFIT`): ``the input shapes (x=1x3x224x224) do not fit the model: check the --shape / --batch
    values``."""
    return f"the input shapes ({shapes_text(input_shapes)}) do not fit the model: check the --shape / --batch values"


def _param_shapes(mod: Any) -> dict[str, tuple[int, ...]]:
    from hybridperf.ir import tvm_compat as _tvm

    out: dict[str, tuple[int, ...]] = {}
    for p in mod["main"].params:
        infos = _tvm.tensor_infos(_tvm.expr_type(p))
        if infos and infos[0].shape is not None:
            out[_tvm.var_name(p)] = tuple(int(d) for d in infos[0].shape)
    return out


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
        raise ModelLoadError(f"model file {shown_path(p)} cannot be looked up ({exc.strerror}); "
                             "check the path") from None
    if not exists:
        raise ModelLoadError(f"model file not found: {shown_path(p)}; check the path")
    if p.is_dir():
        raise ModelLoadError(f"{shown_path(p)} is a directory; pass a model file (.onnx, .tflite or .pt2)")


def shown_path(path: str | Path) -> str:
    """``path`` as an error message shows it: control characters as escapes (``a\\x00b.onnx``: a NUL, which
    ``Path.exists`` answers False for, was echoed raw until 2026-12-05; as :func:`hybridperf.report.format.one_line`
    writes them) and an undecodable byte as its escape (:func:`hybridperf.json_text.escape_undecodable`)."""
    from hybridperf.json_text import escape_control, escape_undecodable

    return escape_undecodable(escape_control(str(path)))
