"""PyTorch frontend: ``torch.export`` programs (in memory or ``.pt2`` files) to Relax.

TVM's ``from_exported_program`` can run PyTorch's decompositions first
(``run_ep_decomposition=True``) or translate the exported ATen ops as they are.
Undecomposed graphs keep high-level ops that map to one Relax op each --
``scaled_dot_product_attention`` becomes ``relax.nn.attention``, ``silu``,
``adaptive_avg_pool2d`` and bicubic resize stay single ops -- which is both
closer to what a deployment runtime launches and much faster to import
(MobileNetV2 0.14 s vs 3.3 s). Some ATen ops are only supported after
decomposition (``amax``, ``rms_norm``, ``mish``, ``fill_``), so the loader
tries undecomposed first and falls back to decomposed. Needs the optional
extra: ``pip install 'hybridperf[torch]'``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
import warnings

from hybridperf.errors import InputError, ModelLoadError, UnsupportedModelError, error_line
from hybridperf.frontends.common import LoadedModel, _param_shapes


__all__ = ["load_exported_program", "load_pt2", "load_torch"]


_TORCH_HINT = "install the optional extra: pip install 'hybridperf[torch]'"


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
    from hybridperf.ir.tvm_compat import tvm_modules

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
    msg = error_line(exc, 200, last=True)
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
            f"{source}: torch.export.export failed ({type(exc).__name__}: {error_line(exc, 200, last=True)}); "
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
