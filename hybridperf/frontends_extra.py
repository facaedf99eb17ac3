"""Frontends beyond ONNX: PyTorch (``torch.export``) and TFLite flatbuffers.

Both produce the same :class:`~hybridperf.frontend.LoadedModel` as the ONNX
path, so everything downstream (cost pass, kernels, memory plan, roofline) is
shared. Their Python dependencies are optional extras and are imported only
when a loader runs:

* PyTorch: ``pip install 'hybridperf[torch]'`` (``torch``).
* TFLite: ``pip install 'hybridperf[tflite]'`` (``tflite``, the generated
  flatbuffer reader that TVM's TFLite frontend parses the file with).

PyTorch import strategy
-----------------------
TVM's ``from_exported_program`` can run PyTorch's decompositions first
(``run_ep_decomposition=True``) or translate the exported ATen ops as they are.
Undecomposed graphs keep high-level ops that map to one Relax op each --
``scaled_dot_product_attention`` becomes ``relax.nn.attention``, ``silu``,
``adaptive_avg_pool2d`` and bicubic resize stay single ops -- which is both
closer to what a deployment runtime launches and much faster to import
(MobileNetV2 0.14 s vs 3.3 s). Some ATen ops are only supported after
decomposition (``amax``, ``rms_norm``, ``mish``, ``fill_``), so the loader
tries undecomposed first and falls back to decomposed.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hybridperf.errors import DynamicShapeError, InputError, ModelLoadError, UnsupportedModelError
from hybridperf.frontend import LoadedModel

if TYPE_CHECKING:  # pragma: no cover
    from hybridperf.pipeline import Analyzed

__all__ = ["analyze_torch", "load_exported_program", "load_pt2", "load_tflite", "load_torch", "tflite_input_specs"]

#: TFLite flatbuffer file identifier (bytes 4..8 of every .tflite file)
TFLITE_IDENTIFIER = b"TFL3"

_TORCH_HINT = "install the optional extra: pip install 'hybridperf[torch]'"
_TFLITE_HINT = "install the optional extra: pip install 'hybridperf[tflite]'"


def _first_line(exc: BaseException, limit: int = 200) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    msg = lines[-1] if lines else type(exc).__name__
    for ln in lines:  # prefer the line that names the problem
        low = ln.lower()
        if "unsupported" in low or "not supported" in low:
            msg = ln
            break
    return msg[:limit]


def _count_calls(mod: Any) -> int:
    from hybridperf import _tvm

    return sum(1 for b in _tvm.bindings(mod["main"]) if _tvm.is_call(b.value))


def _param_shapes(mod: Any) -> dict[str, tuple[int, ...]]:
    from hybridperf import _tvm

    out: dict[str, tuple[int, ...]] = {}
    for p in mod["main"].params:
        infos = _tvm.tensor_infos(_tvm.expr_type(p))
        if infos and infos[0].shape is not None:
            out[_tvm.var_name(p)] = tuple(int(d) for d in infos[0].shape)
    return out


# ---------------------------------------------------------------- PyTorch ----


def _import_torch():
    try:
        import torch  # noqa: PLC0415
    except ImportError as exc:
        raise ModelLoadError(f"PyTorch models need torch; {_TORCH_HINT}") from exc
    return torch


def load_exported_program(ep: Any, source: str = "<torch.export>") -> LoadedModel:
    """Import a ``torch.export.ExportedProgram`` into Relax (see the module notes).

    Raises
    ------
    UnsupportedModelError
        TVM's PyTorch importer has no converter for some ATen op (the message lists them).
    ModelLoadError
        Any other import failure.
    """
    from hybridperf._tvm import tvm_modules

    tvm_modules()
    from tvm.relax.frontend.torch import from_exported_program  # noqa: PLC0415

    node_count = sum(1 for n in ep.graph.nodes if n.op == "call_function")
    errors: list[BaseException] = []
    for decompose in (False, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mod = from_exported_program(ep, keep_params_as_input=False, run_ep_decomposition=decompose)
        except Exception as exc:  # noqa: BLE001 - the importer raises AssertionError, KeyError, TVMError...
            errors.append(exc)
            continue
        fmt = "torch.export (decomposed)" if decompose else "torch.export"
        return LoadedModel(module=mod, input_shapes=_param_shapes(mod), source=source, format=fmt, node_count=node_count)
    # report the undecomposed failure when it names unsupported ops: that list is the actionable one
    unsupported = [e for e in errors if "unsupported function types" in str(e).lower()]
    exc = unsupported[0] if unsupported else errors[-1]
    msg = _first_line(exc)
    if unsupported:
        raise UnsupportedModelError(
            f"{source}: TVM's PyTorch importer cannot convert this model ({msg}); "
            "rewrite those ops with supported ones or export to ONNX"
        ) from exc
    raise ModelLoadError(f"{source}: import of the exported program into TVM Relax failed ({type(exc).__name__}: {msg})") from exc


def load_torch(module: Any, example_inputs: Sequence[Any] | Any, source: str | None = None) -> LoadedModel:
    """Export ``module`` with ``torch.export`` and import it into Relax.

    Parameters
    ----------
    module : torch.nn.Module
        The model; it is exported in eval mode (its training flag is restored).
    example_inputs : tensor or sequence of tensors
        Inputs whose shapes fix every dimension (the export is static).
    source : str, optional
        Name shown in reports; defaults to the module's class name.

    Returns
    -------
    LoadedModel
        ``format`` is ``"torch.export"`` (or ``"torch.export (decomposed)"``
        when only the decomposed graph could be imported).
    """
    torch = _import_torch()
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"load_torch needs a torch.nn.Module, got {type(module).__name__}")
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    if not example_inputs:
        raise InputError("load_torch needs example inputs: pass a tensor or a tuple of tensors with the shapes to analyse")
    source = source or f"<torch {type(module).__name__}>"
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            ep = torch.export.export(module, example_inputs)
    except Exception as exc:  # noqa: BLE001 - export raises many kinds (Unsupported, UserError, ...)
        raise ModelLoadError(
            f"{source}: torch.export.export failed ({type(exc).__name__}: {_first_line(exc)}); "
            "make the model exportable (no data-dependent control flow) or export it to ONNX"
        ) from exc
    finally:
        module.train(was_training)
    return load_exported_program(ep, source=source)


def load_pt2(path: str | Path, shapes: Mapping[str, tuple[int, ...]] | None = None, batch: int | None = None) -> LoadedModel:
    """Load a ``torch.export.save``-d program (``.pt2``); its shapes are the exported ones.

    ``shapes``/``batch`` cannot re-bind an exported program; passing either is an error.
    """
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"model file not found: {p}; check the path")
    if shapes or batch is not None:
        raise InputError(f"{p}: a .pt2 program has the shapes it was exported with; drop --shape/--batch and re-export instead")
    torch = _import_torch()
    try:
        ep = torch.export.load(str(p))
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot read {p} as a torch.export program ({type(exc).__name__}); re-export it with torch.export.save") from exc
    loaded = load_exported_program(ep, source=str(p))
    return loaded


def analyze_torch(module: Any, example_inputs: Sequence[Any] | Any, fused: bool = True) -> Analyzed:
    """:func:`hybridperf.pipeline.analyze` for a PyTorch module.

    Examples
    --------
    >>> a = analyze_torch(torchvision.models.resnet18(), torch.randn(1, 3, 224, 224))  # doctest: +SKIP
    >>> predict_on(a, "a100-sxm-40gb").latency_s  # doctest: +SKIP
    """
    from hybridperf.pipeline import analyze  # noqa: PLC0415

    loaded = load_torch(module, example_inputs)
    analyzed = analyze(loaded.module, fused=fused)
    return dataclasses.replace(analyzed, source=loaded.source, input_shapes=dict(loaded.input_shapes))


# ----------------------------------------------------------------- TFLite ----


@dataclasses.dataclass(frozen=True)
class TFLiteInput:
    """One graph input of a TFLite model: stored shape, signature (-1 = dynamic) and dtype."""

    name: str
    shape: tuple[int, ...]
    signature: tuple[int, ...] | None
    dtype: str


def _read_tflite(p: Path) -> Any:
    if not p.exists():
        raise ModelLoadError(f"model file not found: {p}; check the path")
    if p.is_dir():
        raise ModelLoadError(f"{p} is a directory; pass a .tflite file")
    try:
        import tflite  # noqa: PLC0415
    except ImportError as exc:
        raise ModelLoadError(f"{p}: reading .tflite files needs the 'tflite' package; {_TFLITE_HINT}") from exc
    data = p.read_bytes()
    if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
        raise ModelLoadError(
            f"{p} is not a TFLite flatbuffer (no {TFLITE_IDENTIFIER.decode()} identifier); the file is corrupt or "
            "not a .tflite model: re-export it with the TFLite converter"
        )
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() < 1:
            raise ValueError("no subgraphs")
        sg = model.Subgraphs(0)
        for i in range(sg.InputsLength()):
            sg.Tensors(sg.Inputs(i)).ShapeAsNumpy()
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - flatbuffers raises IndexError, struct.error, ...
        raise ModelLoadError(
            f"cannot read {p} as TFLite ({type(exc).__name__}); the file is corrupt or truncated: re-export it"
        ) from exc
    return model


def tflite_input_specs(model: Any) -> list[TFLiteInput]:
    """Graph inputs of subgraph 0 of a parsed ``tflite.Model``."""
    from tvm.relax.frontend.tflite.tflite_frontend import _decode_type, get_tensor_name  # noqa: PLC0415

    sg = model.Subgraphs(0)
    out = []
    for i in range(sg.InputsLength()):
        idx = sg.Inputs(i)
        t = sg.Tensors(idx)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        sig = tuple(int(d) for d in t.ShapeSignatureAsNumpy()) if t.ShapeSignatureLength() else None
        out.append(TFLiteInput(get_tensor_name(sg, idx), shape, sig, _decode_type(t.Type())))
    return out


def _bind_tflite_shapes(
    specs: list[TFLiteInput], shapes: Mapping[str, tuple[int, ...]] | None, batch: int | None, source: str
) -> dict[str, tuple[int, ...]]:
    shapes = dict(shapes or {})
    names = {s.name for s in specs}
    for n in shapes:
        if n not in names:
            raise InputError(f"--shape names unknown input {n!r}; the model's inputs are {', '.join(sorted(names))}")
    out: dict[str, tuple[int, ...]] = {}
    for s in specs:
        if s.name in shapes:
            out[s.name] = tuple(shapes[s.name])
            continue
        dims = list(s.signature) if s.signature is not None else list(s.shape)
        for axis, d in enumerate(dims):
            if d > 0:
                continue
            if axis == 0 and batch is not None:
                dims[0] = int(batch)
            elif s.signature is not None and axis < len(s.shape) and s.shape[axis] > 0:
                dims[axis] = s.shape[axis]  # dynamic in the signature, stored with a placeholder size
            else:
                example = "x".join(str(x) if x > 0 else "1" for x in dims)
                raise DynamicShapeError(
                    f"{source}: input {s.name!r} has a dynamic dim at axis {axis}; pass --shape {s.name}={example} or --batch N"
                )
        if batch is not None and s.signature is not None and s.signature and s.signature[0] < 0:
            dims[0] = int(batch)
        out[s.name] = tuple(dims)
    return out


def load_tflite(path: str | Path, shapes: Mapping[str, tuple[int, ...]] | None = None, batch: int | None = None) -> LoadedModel:
    """Import a ``.tflite`` flatbuffer (float or full-integer) into Relax.

    Parameters
    ----------
    shapes : mapping, optional
        Input name -> shape, overriding the stored shapes.
    batch : int, optional
        Binds a dynamic leading dimension (signature ``-1``) of every input.

    Raises
    ------
    ModelLoadError
        The file is missing, not a TFLite flatbuffer, corrupt, or ``tflite`` is not installed.
    UnsupportedModelError
        TVM's TFLite frontend has no converter for some operators (listed).
    """
    p = Path(path)
    source = str(p)
    model = _read_tflite(p)
    specs = tflite_input_specs(model)
    input_shapes = _bind_tflite_shapes(specs, shapes, batch, source)
    from hybridperf._tvm import tvm_modules

    tvm_modules()
    from tvm.relax.frontend.tflite import from_tflite  # noqa: PLC0415

    sg = model.Subgraphs(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod = from_tflite(
                model,
                shape_dict={k: tuple(v) for k, v in input_shapes.items()},
                dtype_dict={s.name: s.dtype for s in specs},
            )
    except Exception as exc:  # noqa: BLE001 - the frontend raises OpNotImplemented, AssertionError, ValueError...
        text = " ".join(str(exc).split())
        low = text.lower()
        if "not supported" in low or "dynamic range quantization" in low or type(exc).__name__ == "OpNotImplemented":
            raise UnsupportedModelError(
                f"{source}: TVM's TFLite frontend cannot import this model ({_first_line(exc)}); "
                f"{sg.OperatorsLength()} operators"
            ) from exc
        raise ModelLoadError(f"{source}: import into TVM Relax failed ({type(exc).__name__}: {_first_line(exc)})") from exc
    return LoadedModel(module=mod, input_shapes=input_shapes, source=source, format="tflite", node_count=sg.OperatorsLength())
