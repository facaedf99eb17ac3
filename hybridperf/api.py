"""Python API mirroring the CLI, for notebooks and NAS loops.

::

    import hybridperf

    pred = hybridperf.predict("resnet.onnx", "a100-sxm-80gb", batch=8)  # batch binds a symbolic batch dim
    pred.latency_s, pred.energy_j, pred.peak_memory_bytes               # s, J, B (None: no memory plan)

    analyzed = hybridperf.analyze(candidate_proto, batch=1)             # device-independent, once
    result = hybridperf.check(analyzed, ["a100-sxm-80gb", "t4"], max_latency="5ms", max_memory=256 * 2**20)
    if not result:                                                      # falsy when over budget or undecided
        ...

``model`` is a file path, an ``onnx.ModelProto``, a Relax ``IRModule`` (a
Relax ``main``; the Relax functions it calls are inlined, its symbolic dims
bound by ``shapes`` / ``batch``; the module itself is left unchanged), a
``torch.nn.Module`` with ``example_inputs`` (exported with ``torch.export``;
needs the ``torch`` extra), a ``torch.export.ExportedProgram``,
or an :class:`~hybridperf.analysis.analyze.Analyzed` (re-used as is, so a model
analysed once can be priced on many devices)::

    analyzed = hybridperf.analyze(net, torch.randn(8, 3, 224, 224))  # shapes come from the inputs
    hybridperf.predict(net, "l4", example_inputs=torch.randn(8, 3, 224, 224))

``shapes`` maps input names to shapes (tuples of ints or ``"1x3x224x224"``).
Budget limits are strings with a unit (``"20ms"``, ``"512MiB"``, ``"50mJ"``)
or numbers in SI units (s, B, J). ``precision`` is one of
:data:`hybridperf.precision.OVERRIDES` or None; ``runtime`` a
:class:`~hybridperf.estimate.runtime_memory.Runtime` name, ``"auto"`` (the
device kind's, as the CLI's default) or None (the TVM plan's peak memory; the
default of :func:`predict` and :meth:`Session.predict`, so their
``peak_memory_bytes`` is the TVM plan's where the CLI's headline is the
runtime's: pass ``runtime="auto"`` for the CLI's figure; :func:`check` and
:meth:`Session.predict_many` default to ``"auto"``, as ``check`` and
``predict-many`` do). Errors for bad
input are the same :class:`~hybridperf.errors.InputError` subclasses the CLI
turns into exit code 2; their messages name this API's parameters
(``bind it with batch=N or shapes={'x': 'Nx64'}``) where the CLI's name its
flags (``--batch N or --shape x=Nx64``). A figure that is unknown (nothing
priced: a lower bound of 0) is named in ``Prediction.unknown_figures``; its
value stays 0.0.

``import hybridperf`` exports ``predict``, ``analyze``, ``check``, ``Session``,
``predict_on``, ``device_spec``, ``latency_model``, ``analyze_torch``,
``report_dict`` (a prediction as the JSON report of ``hybridperf predict
--format json``: ``json.dumps(hybridperf.report_dict(pred))``, a check result as
``hybridperf check --format json``'s), ``annotate_text`` (what ``hybridperf
annotate`` prints) and ``annotate_module`` (the Relax module priced, with the
figures as ``hybridperf.*`` function attributes); ``run_check`` is imported
from ``hybridperf.api``.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hybridperf.analysis.analyze import Analyzed, analyze as _analyze
from hybridperf.device.spec import DeviceSpec, load_spec, names_spec_file, sheet_key
from hybridperf.errors import InputError, did_you_mean, python_words
from hybridperf.estimate import pricing
from hybridperf.estimate.budget import Budget, CheckResult, Metric, Target, parse_limit, MetricCheck, compare
from hybridperf.estimate.pricing import Prediction
from hybridperf.frontends.common import LoadedModel
from hybridperf.frontends.torch_export import load_torch
from hybridperf.units import parse_dims

ShapeArg = Mapping[str, "tuple[int, ...] | Sequence[int] | str"]

#: held by every public call of this module (and :mod:`hybridperf.block_table`): see :func:`_python_errors`
_ONE_CALL = threading.RLock()


def _python_errors(func):
    """``func`` whose :class:`InputError` names this API's parameters (``batch=3``) where the message was written
    with the CLI's flags (``--batch 3``; :func:`hybridperf.errors.python_words`), when called from outside the package.

    The messages are written once, with flags, deep in the frontends and shared by both faces; the rewrite happens
    at the one edge where the caller is known. The CLI's commands call these functions too (``run_check``,
    ``predict_on``, ``Session``) and keep their flags: a call from a ``hybridperf`` module is not the edge. A
    Python-only class built on these (:class:`hybridperf.block_table.BlockTable`) wraps its own public methods, the
    edge its callers meet (until 2026-12-04 its errors kept the flags: it calls the session from the package).

    Calls run one at a time per process (:data:`_ONE_CALL`, re-entrant: the calls a call makes go through). Importing
    an ONNX model swaps the process's ``sys.stdout`` and fd 2 for the import's duration (the TVM frontend prints and
    logs there); until 2026-12-04 two threads importing at once restored each other's swap, and from then on the
    process's stdout and stderr went to a discarded buffer and a deleted temporary file (a ``ThreadPoolExecutor``
    over ``hybridperf.predict``: every later ``print`` and traceback lost, exit status 0), or the process died
    (SIGSEGV, four threads under pytest). A :class:`Session`'s caches are plain dicts, kept consistent the same way.
    """

    @functools.wraps(func)
    def at_the_edge(*args, **kwargs):
        try:
            with _ONE_CALL:
                return func(*args, **kwargs)
        except InputError as exc:
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller != "hybridperf" and not caller.startswith("hybridperf.") and exc.args \
                    and isinstance(exc.args[0], str):
                exc.args = (python_words(exc.args[0]), *exc.args[1:])
            raise

    return at_the_edge


@_python_errors
def device_spec(device: str | Path | DeviceSpec) -> DeviceSpec:
    """The sheet of ``device``: a :class:`DeviceSpec`, a known id, a spec file, or ``host`` (this machine:
    its cached probe, probed once, without output, when there is none; as ``--device host`` in the CLI).

    Parameters
    ----------
    device : str, path or DeviceSpec
        A device id from ``hybridperf devices`` (``"t4"``), a spec file (``ID.yaml``), a :class:`DeviceSpec`
        (returned as it is) or ``"host"``.

    Returns
    -------
    DeviceSpec
        Frozen; peak FLOP/s per precision, bandwidth and capacity per memory level, power, energy table.

    Raises
    ------
    SpecError
        An unknown id (with a suggestion), a missing or invalid spec file (naming the file and key).
    InputError
        ``device`` is neither a str, a path nor a :class:`DeviceSpec`.
    """
    if isinstance(device, DeviceSpec):
        return device
    if not isinstance(device, (str, os.PathLike)):
        raise InputError(f"device must be a device id such as 't4', a spec file path or a DeviceSpec, got "
                         f"{type(device).__name__} {device!r}; `hybridperf devices` lists the ids")
    from hybridperf.measure.host import device_ref

    return load_spec(device_ref(device))


def _shapes(shapes: ShapeArg | None) -> dict[str, tuple[int, ...]] | None:
    """``shapes`` checked and normalised to ``{name: tuple of int}`` (numpy integers taken as ints); None when empty."""
    if shapes is None:
        return None
    if not isinstance(shapes, Mapping):
        raise InputError(f"shapes must map input names to shapes, e.g. shapes={{'input': (1, 3, 224, 224)}}, got "
                         f"{type(shapes).__name__}")
    out = {}
    for name, s in shapes.items():
        if not isinstance(name, str):
            raise InputError(f"shapes keys are input names (str), got {name!r}; key each shape by its input's "
                             "name, e.g. shapes={'input': (1, 3, 224, 224)}")
        if isinstance(s, str):
            parsed = parse_dims(s)
            if parsed is None:
                raise InputError(f"shapes[{name!r}] = {s!r}: write dimensions as 'DxDxD', e.g. '1x3x224x224'")
            s = list(parsed)
        try:
            dims = tuple(s)
        except TypeError:
            raise InputError(f"shapes[{name!r}] = {s!r}: give the whole shape, e.g. (1, 3, 224, 224) or "
                             "'1x3x224x224'") from None
        if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in dims):
            raise InputError(f"shapes[{name!r}] = {s!r}: dimensions must be positive integers")
        out[name] = tuple(int(d) for d in dims)
    return out or None


def _precision(precision: Any) -> str | None:
    """``precision`` checked: None or one of :data:`hybridperf.precision.OVERRIDES` (as its string)."""
    if precision is None:
        return None
    from hybridperf.precision import OVERRIDES

    value = getattr(precision, "value", precision)
    if not isinstance(value, str) or value not in OVERRIDES:
        # a dtype (np.dtype('float16'), np.float16, torch.float16) is guessed from its name
        name = value if isinstance(value, str) else getattr(value, "name", None) or getattr(value, "__name__", None) \
            or str(value).removeprefix("torch.")
        if isinstance(name, str) and name.strip().lower() in _OWN_PRECISION:
            # until 2026-12-04 'fp32' got "did you mean 'tf32'?", an override that prices float32 ops at TF32's peak
            raise InputError(f"precision={precision!r} is not an override: float32 ops are priced at fp32 without "
                             f"one, pass precision=None (each op at the model's own precision), or one of "
                             f"{', '.join(OVERRIDES)}")
        hint = did_you_mean(name, OVERRIDES, _PRECISION_ALIASES)
        raise InputError(f"precision={precision!r} is not an override{hint}: use one of {', '.join(OVERRIDES)}, or "
                         "None to price each op at the model's own precision")
    return value


#: spellings of float32, which is no override (None prices a float32 model at fp32)
_OWN_PRECISION = ("fp32", "float32", "float", "single")
#: other names of an override, as numpy / PyTorch spell them -> the override
_PRECISION_ALIASES = {"float16": "fp16", "half": "fp16", "bfloat16": "bf16", "float8": "fp8", "int8_t": "int8",
                      "tensorfloat32": "tf32", "tensorfloat-32": "tf32"}


def _batch(batch: Any) -> int | None:
    """``batch`` checked: None or a positive integer (a numpy integer taken as an int, as a dim of ``shapes`` is)."""
    if batch is None:
        return None
    if isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch <= 0:
        raise InputError(f"batch must be a positive integer, got {batch!r}")
    return int(batch)


def _flag(name: str, value: Any, meaning: str) -> bool:
    """``value`` checked: a bool (numpy's too); a string such as ``"no"`` was taken as True."""
    if isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")):
        return bool(value)
    raise InputError(f"{name} must be {meaning}, got {value!r}")


def _fused(fused: Any) -> bool:
    """``fused`` checked (:func:`_flag`)."""
    return _flag("fused", fused, "True (TVM's FuseOps kernels) or False (one kernel per op)")


def _workspace(workspace: Any) -> bool:
    """``workspace`` checked (:func:`_flag`; until 2026-12-05 ``workspace="no"`` sized the workspace)."""
    return _flag("workspace", workspace, "True (also size the kernels' workspace, which runtime='tvm' needs) or False")


def _cache(cache: Any) -> Any:
    """``cache`` checked: None or an :class:`~hybridperf.analysis.cache.AnalysisCache` (until 2026-12-05 any other
    object failed inside the lowering, reported as "lowering failed (AttributeError ...)" with no memory plan)."""
    if cache is None:
        return None
    from hybridperf.analysis.cache import AnalysisCache

    if not isinstance(cache, AnalysisCache):
        raise InputError(f"cache must be a hybridperf.analysis.cache.AnalysisCache or None, got "
                         f"{type(cache).__name__}; to keep work across models use a hybridperf.Session "
                         "(session.analyze(model)), which holds its own")
    return cache


def _analyzed(analyzed: Any) -> Analyzed:
    """``analyzed`` checked: what :func:`predict_on` prices is an :class:`Analyzed`."""
    if not isinstance(analyzed, Analyzed):
        raise InputError(f"predict_on prices an Analyzed, got {type(analyzed).__name__}: analyze the model first "
                         "(analyzed = hybridperf.analyze(model)), or price it in one call with "
                         "hybridperf.predict(model, device)")
    return analyzed


def _device_list(devices: Any) -> list[Any]:
    """``devices`` as a list: one device (an id, a spec file, a :class:`DeviceSpec`) or an iterable of them."""
    if isinstance(devices, (str, os.PathLike, DeviceSpec)):
        return [devices]
    if devices is None or isinstance(devices, bytes) or not isinstance(devices, Iterable):
        raise InputError(f"devices must be a device id such as 't4', a spec file path, a DeviceSpec or a list of "
                         f"them, got {type(devices).__name__} {devices!r}")
    return list(devices)


def _one_sheet_per_id(specs: Sequence[DeviceSpec]) -> None:
    """Refuse two different sheets with one id: a result keyed by id would keep one of them silently."""
    for s in specs:
        first = next(t for t in specs if t.id == s.id)
        if dataclasses.replace(s, path=first.path) != first:  # the same sheet read from another file is the same
            raise InputError(f"two different device sheets have the id {s.id!r}; give each its own id, e.g. "
                             f"dataclasses.replace(spec, id='{s.id}-edited'), or price them in two calls")


def _residual(residual: Any) -> None:
    """Refuse a ``residual`` that is neither ``"auto"``, None nor a model with ``apply``."""
    if residual is None or (isinstance(residual, str) and residual == "auto"):
        return
    if isinstance(residual, (str, bool)) or not callable(getattr(residual, "apply", None)):
        raise InputError(f"residual={residual!r}: use 'auto' (the device's learned model), None (roofline only) or "
                         "a fitted residual model")


def _torch_kind(model: Any) -> str | None:
    """``"module"``, ``"exported"`` or None, without importing torch (a torch object means torch is loaded)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    if isinstance(model, torch.nn.Module):
        return "module"
    if isinstance(model, torch.export.ExportedProgram):
        return "exported"
    return None


def _load_torch(model: Any, kind: str, example_inputs: Any, batch: Any, shapes: Any, example: str) -> LoadedModel:
    """The :class:`~hybridperf.frontends.common.LoadedModel` of a torch ``model`` of ``kind`` (:func:`_torch_kind`):
    a ``torch.nn.Module`` exported at ``example_inputs``, an ExportedProgram bound by ``shapes`` / ``batch``.
    ``example``: the call a message shows for a module without ``example_inputs`` (the caller's function)."""
    from hybridperf.frontends import torch_export  # noqa: PLC0415

    if kind == "module":
        if batch is not None or shapes:
            raise InputError("a torch.nn.Module has the shapes of its example inputs; drop batch/shapes and change "
                             "example_inputs instead")
        if example_inputs is None:
            raise InputError(f"a torch.nn.Module needs example_inputs: {example}")
        return load_torch(model, example_inputs)
    if example_inputs is not None:
        raise InputError("an ExportedProgram has its shapes already; drop example_inputs")
    # an ExportedProgram with dynamic dims (torch.export.Dim) is bound like a .pt2 file, within the exported range
    return torch_export.load_exported_program(model, shapes=_shapes(shapes), batch=batch)


def _analyze_torch(model: Any, kind: str, example_inputs: Any, batch: Any, shapes: Any, fused: bool) -> Analyzed:
    loaded = _load_torch(model, kind, example_inputs, batch, shapes,
                         example="hybridperf.analyze(module, torch.randn(1, 3, 224, 224))")
    analyzed = _analyze(loaded.module, fused=fused)
    return dataclasses.replace(analyzed, source=loaded.source, input_shapes=MappingProxyType(dict(loaded.input_shapes)))


@_python_errors
def analyze(
    model: Any,
    example_inputs: Any = None,
    *,
    batch: int | None = None,
    shapes: ShapeArg | None = None,
    fused: bool = True,
    cache: Any = None,
    workspace: bool = False,
) -> Analyzed:
    """Device-independent analysis (cost pass, kernel grouping, memory plan) of ``model``.

    Parameters
    ----------
    model
        See the module docstring for the accepted kinds.
    example_inputs : tensor or tuple of tensors, optional
        Only for a ``torch.nn.Module``: the inputs it is exported with (they fix every shape).
    batch, shapes
        Bind symbolic input dimensions of an ONNX/TFLite model or a Relax IRModule.
    fused : bool
        Group ops into kernels with TVM's FuseOps (default) or one kernel per op.
    cache : AnalysisCache, optional
        Work kept across a sweep (:class:`Session` passes its own); figures are the same without it.
    workspace : bool
        Also size the kernels' workspace (what ``runtime="tvm"``'s peak memory needs).

    Returns
    -------
    Analyzed
        Frozen: the cost records, kernels, memory plan and ``input_shapes`` bound; price it with :func:`predict_on`
        (on any number of devices) or :func:`check`.

    Raises
    ------
    InputError
        Bad input: a model of no accepted kind, an unbound symbolic dim of a model file, proto or ExportedProgram
        (:class:`~hybridperf.errors.DynamicShapeError`; a Relax IRModule's unbound dims are not refused: its ops
        that use them are ``Status.SYMBOLIC``, without a cost, and the figures they make unknown are named in
        ``Prediction.unknown_figures``), a file that cannot be read
        (:class:`~hybridperf.errors.ModelLoadError`), ops no frontend imports
        (:class:`~hybridperf.errors.UnsupportedModelError`), bad ``batch`` / ``shapes`` / ``fused`` / ``cache`` /
        ``workspace`` (``fused=False`` for an :class:`Analyzed` of fused kernels, which is re-used as analysed).
    """
    if isinstance(model, Analyzed):
        if example_inputs is not None or batch is not None or shapes:
            raise InputError("an Analyzed model is re-used as analysed; analyze the model again to change its inputs")
        if not _fused(fused) and model.fused:  # until 2026-12-04 priced on its fused kernels, unsaid
            raise InputError("fused=False: this Analyzed model was analysed with fused kernels and is re-used as "
                             "analysed; analyze the model again with fused=False")
        return model
    batch, fused = _batch(batch), _fused(fused)
    workspace, cache = _workspace(workspace), _cache(cache)
    kind = _torch_kind(model)
    if kind is not None:
        return _analyze_torch(model, kind, example_inputs, batch, shapes, fused)
    _refuse_example_inputs(model, example_inputs)
    bound = _shapes(shapes)
    _check_model_kind(model, bound)
    return _analyze(model, bound, batch, fused=fused, cache=cache, workspace=workspace)


def _refuse_example_inputs(model: Any, example_inputs: Any) -> None:
    """Refuse ``example_inputs`` for a model that is not a ``torch.nn.Module``, with what was likely meant."""
    if example_inputs is None:
        return
    if isinstance(example_inputs, numbers.Integral) and not isinstance(example_inputs, bool):
        hint = f"; to bind the batch write batch={example_inputs!r}"
    elif isinstance(example_inputs, Mapping):  # analyze(path, {"x": (1, 64)}): shapes given by position
        hint = f"; to bind input shapes write shapes={dict(example_inputs)!r}"
    else:
        hint = "; drop example_inputs (batch= and shapes= bind a model file's inputs)"
    raise InputError(f"example_inputs is for torch.nn.Module models, not {type(model).__name__}{hint}")


def _check_model_kind(model: Any, shapes: Mapping[str, Any] | None) -> None:
    """Refuse a ``model`` no frontend takes."""
    from hybridperf.frontends.common import is_onnx_proto

    if isinstance(model, (str, os.PathLike)) or is_onnx_proto(model) or isinstance(model, LoadedModel):
        return
    # a TVM object means its module is loaded: refusing None does not import TVM (2 s)
    tvm_ir, relax = sys.modules.get("tvm.ir"), sys.modules.get("tvm.relax")
    if tvm_ir is not None and isinstance(model, tvm_ir.IRModule):  # shapes bind its symbolic dims (relax_module)
        return
    hint = ""
    if isinstance(model, (bytes, bytearray, memoryview)):
        hint = " (serialized ONNX: pass onnx.load_model_from_string(data))"
    elif relax is not None and isinstance(model, relax.Function):
        hint = " (a Relax function: pass tvm.IRModule({'main': func}))"
    raise InputError(f"cannot analyze a model of type {type(model).__name__}{hint}: pass a model file path (.onnx, "
                     ".tflite, .pt2), an onnx.ModelProto, a Relax IRModule, a torch.nn.Module with example_inputs, a "
                     "torch.export.ExportedProgram or an Analyzed")


@_python_errors
def predict(
    model: Any,
    device: str | Path | DeviceSpec,
    *,
    example_inputs: Any = None,
    batch: int | None = None,
    shapes: ShapeArg | None = None,
    precision: str | None = None,
    fused: bool = True,
    residual: Any = "auto",
    runtime: Any = None,
) -> Prediction:
    """Predict latency, energy and peak memory of ``model`` on ``device`` (like ``hybridperf predict``).

    Latency, energy and warnings are the CLI's for the same inputs. ``runtime=None`` (the default) makes
    ``peak_memory_bytes`` the TVM plan's; ``runtime="auto"`` gives the CLI's headline peak (the device kind's
    runtime: onnxruntime on a CPU, PyTorch on a GPU, TensorFlow Lite Micro's arena on an NPU). ``precision``,
    ``residual`` and ``runtime``: see :func:`predict_on`.

    Parameters
    ----------
    model
        See the module docstring for the accepted kinds.
    device : str, path or DeviceSpec
        A device id (``"t4"``), a spec file, a :class:`DeviceSpec`, or ``"host"`` (see :func:`device_spec`).
    example_inputs, batch, shapes
        As :func:`analyze`'s.
    precision : str, optional
        One of :data:`hybridperf.precision.OVERRIDES`: float32 ops run at it and float32 tensors are stored in its
        size; None prices each op at the model's own precision.
    fused : bool
        As :func:`analyze`'s.
    residual : "auto", None or a fitted residual model
        As :func:`predict_on`'s (``"auto"``, the default: the device's learned model; None: the roofline alone).
    runtime : str, Runtime, "auto" or None
        As :func:`predict_on`'s; None (the default): ``peak_memory_bytes`` is the TVM plan's.

    Returns
    -------
    Prediction
        Frozen; ``latency_s`` (s), ``energy_j`` (J), ``peak_memory_bytes`` (B; None when no memory plan could be
        made), ``flops``, ``warnings``; ``complete`` is False (and ``lower_bound_reason`` says why) when some op has
        no cost: latency and energy are then lower bounds, and a figure with nothing priced (a bound of 0) stays 0.0
        and is named in ``unknown_figures``.

    Raises
    ------
    InputError
        Bad input (an unknown device, an unbound symbolic dim, a bad argument), before any figure is made; a bad
        device or argument before the model is analysed.
    """
    spec = device_spec(device)  # a bad device fails fast
    precision = _precision(precision)
    _residual(residual)
    runtime = _resolve_auto(runtime, spec)
    analyzed = analyze(model, example_inputs, batch=batch, shapes=shapes, fused=fused,
                       workspace=_needs_workspace(runtime, [spec]))
    return _proto_runtime_memory(predict_on(analyzed, spec, precision, residual=residual, runtime=runtime), model)


def _proto_runtime_memory(pred: Prediction, model: Any) -> Prediction:
    """``pred`` of an in-memory ``onnx.ModelProto`` ``model`` with onnxruntime's peak memory where that is its runtime.

    The onnxruntime memory model reads the ONNX file (:func:`~hybridperf.estimate.runtime_memory.runtime_peak`); the
    proto is saved to a temporary one for it. Until 2026-12-03 the TVM plan's peak stood in for a proto ("the
    onnxruntime model needs an ONNX file"): ``check(proto, cpu, max_memory=...)`` passed a model that failed as the
    file it was loaded from (resnet_like: 0.24 MB judged where onnxruntime's peak is 11.2 MB). A proto whose weights
    are in external files not loaded, or one over protobuf's 2 GiB, keeps the TVM plan's peak and the note.
    """
    from hybridperf.frontends.common import is_onnx_proto

    if pred.runtime != "onnxruntime" or pred.runtime_memory is not None or not is_onnx_proto(model):
        return pred
    import tempfile

    import onnx
    from onnx.external_data_helper import uses_external_data

    from hybridperf.estimate.runtime_memory import runtime_peak

    if any(uses_external_data(t) for t in model.graph.initializer):
        return pred
    with tempfile.TemporaryDirectory(prefix="hybridperf-") as folder:
        path = Path(folder) / "model.onnx"
        try:
            onnx.save(model, str(path))
        except (ValueError, OSError):  # over 2 GiB in one protobuf, or no room for the copy
            return pred
        on_file = dataclasses.replace(pred, analyzed=dataclasses.replace(pred.analyzed, source=str(path)))
        peak, why = runtime_peak(on_file, "onnxruntime")
    return dataclasses.replace(pred, runtime_memory=peak, runtime_memory_note=why)


def _needs_workspace(runtime: Any, specs: Sequence[DeviceSpec]) -> bool:
    """Whether the TVM runtime's peak is asked for on one of ``specs`` (it needs the kernel workspace)."""
    if runtime is None:
        return False
    from hybridperf.estimate.runtime_memory import Runtime, resolve_runtime

    return any(resolve_runtime(runtime, s.kind, s.id) is Runtime.TVM for s in specs)


def _annotated_model(model: Any, example_inputs: Any, batch: int | None, shapes: ShapeArg | None, fused: bool,
                     workspace: bool, cache: Any = None) -> tuple[Any, Analyzed]:
    """The Relax module of ``model`` as its analysis prices it (``main``'s Relax calls inlined, its symbolic dims
    bound) and that analysis: :func:`analyze`'s, the module kept (an ONNX file is analysed whole, never composed
    from cached graph segments, which leave no module). An :class:`Analyzed` of a model file is re-used, its
    module loaded again from the file at its input shapes and checked to be the one analysed. ``cache`` (an
    :class:`~hybridperf.analysis.cache.AnalysisCache` without blocks): the analysis's, kept for a later lowering of
    the same module (:func:`annotate_module`'s)."""
    from hybridperf.frontends.load import load_model
    from hybridperf.frontends.relax_module import is_relax_file, is_relax_module, load_relax_file, load_relax_module

    if isinstance(model, Analyzed):
        analyzed = analyze(model, example_inputs, batch=batch, shapes=shapes, fused=fused)  # its refusals
        if not Path(analyzed.source).is_file():
            raise InputError(f"this Analyzed model ({analyzed.source}) holds no Relax module to annotate, and its "
                             "source is no model file to load it from: pass the model itself (the IRModule, proto "
                             "or file)")
        load = load_relax_file if is_relax_file(analyzed.source) else load_model
        loaded = load(analyzed.source, dict(analyzed.input_shapes) or None, None)
        if not _records_match(loaded.module, analyzed):
            raise InputError(f"{analyzed.source} is not the model this Analyzed was made from (changed since it was "
                             "analysed?): pass the file itself, or analyze it again")
        return loaded.module, analyzed
    batch, fused, bound = _batch(batch), _fused(fused), _shapes(shapes)
    kind = _torch_kind(model)
    if kind is not None:
        example = "hybridperf.annotate_text(module, device, example_inputs=torch.randn(1, 3, 224, 224))"
        loaded = _load_torch(model, kind, example_inputs, batch, bound, example=example)
    else:
        _refuse_example_inputs(model, example_inputs)
        _check_model_kind(model, bound)
        if isinstance(model, LoadedModel):
            loaded = model
        elif is_relax_module(model):
            loaded = load_relax_module(model, bound, batch)
        elif is_relax_file(model):
            loaded = load_relax_file(model, bound, batch)
        else:
            loaded = load_model(model, bound, batch)
    return loaded.module, _analyze(loaded, bound, batch, fused=fused, workspace=workspace, cache=cache)


def _records_match(module: Any, analyzed: Analyzed) -> bool:
    """Whether the cost records of ``analyzed`` are those of ``module``'s ``main``: one per call, by var name."""
    from hybridperf.frontends.relax_module import inline_calls
    from hybridperf.ir import tvm_compat as _tvm

    calls = [_tvm.var_name(b.var) for b in _tvm.bindings(inline_calls(module)[0]["main"])
             if _tvm.is_call(b.value) or _tvm.is_if(b.value)]
    return calls == [r.var for r in analyzed.analysis.records]


@_python_errors
def _annotation(
    model: Any,
    device: str | Path | DeviceSpec,
    *,
    example_inputs: Any = None,
    batch: int | None = None,
    shapes: ShapeArg | None = None,
    precision: str | None = None,
    fused: bool = True,
    runtime: Any = "auto",
) -> tuple[Prediction, Any, str | None]:
    """What ``hybridperf annotate`` (and :func:`annotate_text`) prints, before it is printed: the roofline
    prediction of ``model`` on ``device``, the Relax module it prices and the runtime priced;
    :func:`hybridperf.report.annotate.annotate_text` renders them.

    Parameters
    ----------
    model, device, example_inputs, batch, shapes, precision, fused, runtime
        As :func:`annotate_text`'s.

    Returns
    -------
    (Prediction, IRModule, str or None)
        The roofline's prediction (no learned correction, as the command's), the module analysed (``main``'s
        Relax calls inlined, its symbolic dims bound) and ``runtime`` resolved (``"auto"``: the device kind's).

    Raises
    ------
    InputError
        As :func:`annotate_text`'s.
    """
    from hybridperf.report.annotate import ROOFLINE_NOTE

    spec = device_spec(device)  # a bad device fails fast
    precision = _precision(precision)
    runtime = _resolve_auto(runtime, spec)
    module, analyzed = _annotated_model(model, example_inputs, batch, shapes, fused,
                                        workspace=_needs_workspace(runtime, [spec]))
    pred = pricing.predict_on(_analyzed(analyzed), spec, precision, residual=None, roofline_note=ROOFLINE_NOTE,
                              runtime=runtime)
    return pred, module, runtime


@_python_errors
def annotate_text(
    model: Any,
    device: str | Path | DeviceSpec,
    *,
    example_inputs: Any = None,
    batch: int | None = None,
    shapes: ShapeArg | None = None,
    precision: str | None = None,
    fused: bool = True,
    runtime: Any = "auto",
    show_meta: bool = False,
) -> str:
    """The Relax module of ``model`` as TVMScript with each binding's cost as a comment: the text
    ``hybridperf annotate MODEL --device DEVICE`` prints (without its final newline), for the same options.

    The figures are the roofline's (``hybridperf predict --roofline-only``'s; the header says so): each op's FLOPs
    and bytes, each kernel's latency and energy once, on its first op; an op without a cost says why (no figure:
    unknown, not 0). For the figures as attributes a TVM pass can read, see :func:`annotate_module`.

    Parameters
    ----------
    model
        As :func:`analyze` takes it, or a Relax module file (``.py`` / ``.tvmscript`` TVMScript, ``.json`` TVM JSON),
        as the command takes it. An :class:`Analyzed` is priced as analysed, its module loaded again from its model
        file (an Analyzed of an in-memory model holds no module: pass the model itself).
    device : str, path or DeviceSpec
        As :func:`device_spec` takes it.
    example_inputs, batch, shapes
        As :func:`analyze`'s.
    precision : str, optional
        As :func:`predict`'s.
    fused : bool
        As :func:`analyze`'s.
    runtime : str, Runtime, "auto" or None
        The runtime priced (``--runtime``): ``"auto"`` (the default, as the command's) the device kind's; the header
        names it and the ``predict`` command whose totals these are. None: TVM's view (constants folded), unnamed.
    show_meta : bool
        Print the module's constants (every weight: large), so that the text parses back with
        ``tvm.script.from_source`` (``--show-meta``).

    Returns
    -------
    str
        TVMScript text whose first lines are ``#`` comments (totals, legend).

    Raises
    ------
    InputError
        As :func:`predict`'s; a bad ``show_meta``; an :class:`Analyzed` without a model file to load its module from.

    Examples
    --------
    >>> print(hybridperf.annotate_text("examples/squeezenet1_1.onnx", "t4"))  # doctest: +SKIP
    """
    show_meta = _flag("show_meta", show_meta, "True (print the constants: the text parses back) or False")
    from hybridperf.report import annotate as _annotate

    pred, module, runtime = _annotation(model, device, example_inputs=example_inputs, batch=batch, shapes=shapes,
                                       precision=precision, fused=fused, runtime=runtime)
    return _annotate.annotate_text(pred, module, show_meta=show_meta, runtime=runtime)


@_python_errors
def annotate_module(
    model: Any,
    device: str | Path | DeviceSpec,
    *,
    example_inputs: Any = None,
    batch: int | None = None,
    shapes: ShapeArg | None = None,
    precision: str | None = None,
    fused: bool = True,
    residual: Any = "auto",
    runtime: Any = None,
) -> Any:
    """The Relax module ``model`` is priced on, with :func:`predict`'s figures as function attributes (keys
    ``hybridperf.*``, units in the names) that a later TVM pass reads with ``func.attrs``.

    The module is the one the prediction's kernels were read off, not the module as given (whose bindings are ops,
    not kernels): ``main`` with its Relax calls inlined and its symbolic dims bound, after ``LegalizeOps`` with one
    PrimFunc per op site (tagged ``hybridperf.origin``: the op's index) and, with ``fused=True`` where the
    prediction prices TVM's fused kernels (not where the runtime launches one kernel per op: eager PyTorch on a
    GPU, the default there), TVM's ``AnnotateTIROpPattern`` + ``FuseOps``. Each kernel is then a private Relax
    function (``Primitive``, what ``FuseTIR`` turns into one PrimFunc) or a lone PrimFunc that ``main`` calls with
    ``R.call_tir``; where no lowering was made (unbound symbolic dims, a lowering TVM failed:
    ``Analyzed.fusion_note`` says which) it is the analysed module itself, with ``main``'s attributes only. The
    model given is never changed. The module prints,
    parses back (``tvm.script.from_source(mod.script(show_meta=True))``) and builds (``tvm.relax.build``) as the
    model's own does; it is not what ``annotate_text`` prints (that is the model's ops, with the roofline's figures).

    Attributes of ``main``: ``hybridperf.latency_s``, ``.roofline_latency_s``, ``.energy_j``, ``.flops``,
    ``.bytes_read``, ``.bytes_written``, ``.weight_bytes``, ``.peak_memory_bytes`` (the prediction's totals, as
    ``report_dict(pred)["totals"]`` and ``pred.peak_memory_bytes``), ``.device``, ``.calibration``, ``.kernels``
    (the timed kernel count) and, where set, ``.runtime``, ``.precision``, ``.lower_bound_reason``. Attributes of
    each kernel's function: ``hybridperf.latency_s``, ``.roofline_latency_s``, ``.energy_j``, ``.flops``,
    ``.bytes_read``, ``.bytes_written`` (its record in ``report_dict(pred)["kernels"]``), ``.kernel`` (its name
    there), ``.status`` (``counted``, ``estimated``, ``zero-cost``, ``unsupported``, ``symbolic``), ``.ops``,
    ``.precision``, ``.bound``. A figure that is unknown is left out and its key (without the prefix) named in the
    function's ``hybridperf.unknown`` (never written as 0); a total that is only a lower bound (some op without a
    cost) is written as ``hybridperf.KEY_lower_bound`` (``latency_s_lower_bound``), never as the figure. A kernel
    that stays an op call in ``main`` (an op TVM does not legalize, ``R.call_dps_packed``) has no function to carry
    its figures.

    Parameters
    ----------
    model, device, example_inputs, batch, shapes, precision, fused
        As :func:`annotate_text`'s.
    residual : "auto", None or a fitted residual model
        As :func:`predict`'s (``"auto"``, the default: the device's learned model; None: the roofline alone, the
        figures of :func:`annotate_text`).
    runtime : str, Runtime, "auto" or None
        As :func:`predict`'s (None, the default: ``peak_memory_bytes`` is the TVM plan's).

    Returns
    -------
    tvm.IRModule
        A new module; ``mod["main"].attrs["hybridperf.latency_s"]`` is ``predict(model, device, ...).latency_s``
        for the same arguments.

    Raises
    ------
    InputError
        As :func:`predict`'s; an :class:`Analyzed` without a model file to load its module from.

    Examples
    --------
    >>> mod = hybridperf.annotate_module(relax_mod, "t4")  # doctest: +SKIP
    >>> {gv.name_hint: f.attrs["hybridperf.latency_s"] for gv, f in mod.functions.items()  # doctest: +SKIP
    ...  if f.attrs is not None and "hybridperf.latency_s" in f.attrs}
    """
    from hybridperf.analysis.cache import AnalysisCache
    from hybridperf.report.annotate import with_cost_attributes

    spec = device_spec(device)  # a bad device fails fast
    precision = _precision(precision)
    _residual(residual)
    runtime = _resolve_auto(runtime, spec)
    cache = AnalysisCache(blocks=None)  # the analysis's legalized PrimFuncs, re-used by _kernel_module's lowering
    module, analyzed = _annotated_model(model, example_inputs, batch, shapes, fused,
                                        workspace=_needs_workspace(runtime, [spec]), cache=cache)
    pred = _proto_runtime_memory(predict_on(analyzed, spec, precision, residual=residual, runtime=runtime), model)
    return with_cost_attributes(pred, _kernel_module(module, pred, cache))


def _kernel_module(module: Any, pred: Prediction, cache: Any = None) -> Any:
    """The module the kernels of ``pred`` are launches of (:func:`hybridperf.analysis.analyze.analyze` makes it and
    keeps only the kernels): ``module`` legalized with one tagged PrimFunc per op site, and fused where the
    prediction's kernels are the analysis's fused ones (a runtime that launches one kernel per op, eager PyTorch,
    prices per op); ``module`` itself where the analysis made no lowering (symbolic shapes, a failed lowering).
    ``cache``: the :class:`~hybridperf.analysis.cache.AnalysisCache` the analysis legalized with (its PrimFuncs
    re-used, the same module as without)."""
    from hybridperf.costs import Status
    from hybridperf.ir import lowering

    analyzed = pred.analyzed
    records = analyzed.analysis.records
    if analyzed.fusion_note or any(r.status is Status.SYMBOLIC for r in records):
        return module
    tagged = lowering.tag_and_legalize(module, [r.var for r in records],
                                       cache=cache.legalize if cache is not None else None)
    as_analysed = [kp.kernel.op_indices for kp in pred.kernels] == [k.op_indices for k in analyzed.kernels]
    return lowering.fuse(tagged) if analyzed.fused and as_analysed else tagged


@_python_errors
def check(
    model: Any,
    devices: str | Path | DeviceSpec | Sequence[str | Path | DeviceSpec],
    *,
    max_latency: str | float | None = None,
    max_memory: str | float | None = None,
    max_energy: str | float | None = None,
    example_inputs: Any = None,
    batch: int | None = None,
    shapes: ShapeArg | None = None,
    precision: str | None = None,
    fused: bool = True,
    residual: Any = "auto",
    allow_unsupported: bool = False,
    runtime: Any = "auto",
) -> CheckResult:
    """Check ``model`` against a budget on each device (like ``hybridperf check``).

    A figure that is unknown, or only a lower bound (ops without a cost), leaves its limit
    undecided (``result.undecided``; the result is falsy) unless ``allow_unsupported`` judges
    the lower bound. Memory is also checked against each device's capacity.
    ``runtime`` (default ``"auto"``, as the CLI's ``--runtime``): memory is judged on that runtime's
    peak (each device kind's own runtime); None judges the TVM plan's peak.

    Parameters
    ----------
    model
        As :func:`predict`'s; an :class:`Analyzed` is priced as it is (an analysis of an in-memory
        ``onnx.ModelProto`` has no file for onnxruntime's memory model: on a CPU its memory is judged on the TVM
        plan's peak, as the check's ``figure`` says; pass the proto itself for onnxruntime's).
    devices : device or sequence of devices
        Ids, spec files or :class:`DeviceSpec` objects (see :func:`device_spec`); every one is loaded before the
        model is analysed, so an unknown one fails first. The same device twice is checked once; two different
        sheets with one id are refused (the result is keyed by id).
    max_latency, max_memory, max_energy : str or number, optional
        A limit with its unit (``"5ms"``, ``"256MiB"``, ``"50mJ"``) or a number in s, B or J (numpy scalars too);
        at least one.
    example_inputs, batch, shapes, precision, fused, residual
        As :func:`predict`'s.
    allow_unsupported : bool
        Judge a lower bound (a model with ops without a cost) against its limit instead of leaving it undecided;
        a figure with nothing priced stays undecided.
    runtime : str, Runtime, "auto" or None
        As above (default ``"auto"``, where :func:`predict`'s is None).

    Returns
    -------
    CheckResult
        ``.passed`` (also its truth value: falsy when a limit is exceeded or undecided), ``.failures`` (exceeded),
        ``.undecided``, ``.checks`` (one per device x metric; a metric without a limit is skipped, but memory over
        the device's capacity fails), and ``.predictions[(source, device id)]``: ``source`` is the model's path as a
        str, as ``str(pathlib.Path(model))`` writes it (``'./m.onnx'`` is ``'m.onnx'``; a label such as
        ``'<onnx.ModelProto g>'`` for an in-memory model: ``result.checks[0].model`` is it), the id the sheet's own.

    Raises
    ------
    InputError
        A malformed limit (:class:`~hybridperf.estimate.budget.BudgetError`), no limit, no device, an unknown
        device, a runtime of another device kind, or bad model input.
    """
    budget = Budget(
        *(
            None if raw is None else parse_limit(_plain_number(raw), metric, f"max_{metric.value}=", allow_number=True)
            for metric, raw in zip(Metric, (max_latency, max_memory, max_energy))
        )
    )
    if budget.empty:
        raise InputError("check needs at least one of max_latency, max_memory, max_energy")
    specs = [device_spec(d) for d in _device_list(devices)]
    if not specs:
        raise InputError("check needs at least one device")
    _one_sheet_per_id(specs)  # the result is keyed by device id
    precision = _precision(precision)
    batch = _batch(batch)
    allow_unsupported = _flag("allow_unsupported", allow_unsupported,
                              "True (judge a lower bound) or False (leave it undecided)")
    _residual(residual)
    for s in specs:
        _resolve_auto(runtime, s)  # a runtime of another device kind fails before the analysis
    analyzed = analyze(model, example_inputs, batch=batch, shapes=shapes, fused=fused,
                       workspace=_needs_workspace(runtime, specs))
    ids = tuple(dict.fromkeys(s.id for s in specs))
    target = Target(analyzed.source, ids, {d: budget for d in ids}, batch, {}, precision)
    by_id = {s.id: s for s in specs}
    return run_check(
        [target], analyzed={analyzed.source: analyzed}, specs=by_id, residual=residual,
        allow_unsupported=allow_unsupported, runtime=runtime, protos={analyzed.source: model},
    )


def _plain_number(raw: Any) -> Any:
    """A numpy or other :class:`numbers.Real` scalar (``np.int64(2**28)``, ``np.float32(5e-3)``) as a float, which
    :func:`~hybridperf.estimate.budget.parse_limit` takes; anything else (a string, a bool) as it is."""
    if isinstance(raw, numbers.Real) and not isinstance(raw, (bool, int, float)) and type(raw).__name__ != "bool_":
        return float(raw)
    return raw


@_python_errors
def analyze_torch(module: Any, example_inputs: Sequence[Any] | Any, fused: bool = True) -> Analyzed:
    """:func:`hybridperf.analysis.analyze.analyze` for a PyTorch module (exported with ``torch.export``).

    Parameters
    ----------
    module : torch.nn.Module
        The model; needs the ``torch`` extra.
    example_inputs : tensor or sequence of tensors
        The inputs it is exported with; they fix every shape.
    fused : bool
        As :func:`analyze`'s.

    Returns
    -------
    Analyzed
        As :func:`analyze`'s; ``source`` names the module's class.

    Raises
    ------
    InputError
        torch is not installed (:class:`~hybridperf.errors.ModelLoadError`), or the module cannot be exported.

    Examples
    --------
    >>> a = analyze_torch(torchvision.models.resnet18(), torch.randn(1, 3, 224, 224))  # doctest: +SKIP
    >>> predict_on(a, "a100-sxm-40gb").latency_s  # doctest: +SKIP
    """
    from hybridperf.analysis.analyze import analyze  # noqa: PLC0415

    fused = _fused(fused)
    loaded = load_torch(module, example_inputs)
    analyzed = analyze(loaded.module, fused=fused)
    return dataclasses.replace(analyzed, source=loaded.source, input_shapes=MappingProxyType(dict(loaded.input_shapes)))


def _host_residual(spec: DeviceSpec):
    """The residual of the ``host`` sheet: what ``calibrate --device host`` stored, else the packaged
    cross-host CPU model for ``spec`` (:mod:`hybridperf.measure.host`): zero-shot, or with a training host's offset
    where this machine's CPU and threads are one the model was trained on."""
    from hybridperf.measure.host import host_cpu, host_identity, host_model_dir, host_threads
    from hybridperf.residual.cross_host import CrossHostModel, base_model
    from hybridperf.residual.model import holds_model

    identity = host_identity()  # read once: it names both the stored model's directory and the CPU
    mine = host_model_dir(identity)
    from hybridperf.residual.store import reading

    with reading(mine):  # a `calibrate --device host` storing a model now: waited for, not read half-stored
        # any file of a model: loaded, and refused when not whole (until 2026-12-04 a booster without its sidecar
        # fell back to the zero-shot model without a word)
        if holds_model(mine):
            return CrossHostModel.load(mine)
    return base_model(spec, host_threads(), host_cpu(identity))


def _load_residual(spec: DeviceSpec, runtime: Any = None):
    """The device's stored residual; else, for a GPU, the cross-device model (zero-shot from spec, or
    adapted where a few-shot adaptation for ``runtime`` is stored), for a CPU sheet the cross-host CPU model
    (zero-shot from spec, run with the sheet's core count); else None."""
    if spec.id == "host":  # this machine (--device host): its calibrated model, else the cross-host CPU model
        return _host_residual(spec)
    try:
        from hybridperf.residual.cross_host import for_sheet
        from hybridperf.residual.store import load_for_device
        from hybridperf.residual.zero_shot import for_device
    except ImportError:
        return None
    stored = load_for_device(spec.id)
    if stored is not None:
        return stored
    return for_sheet(spec) if spec.kind == "cpu" else for_device(spec, runtime)


@_python_errors
def latency_model(device: str | Path | DeviceSpec, runtime: Any = "auto") -> str:
    """How :func:`predict_on` prices latency on ``device`` with the default ``residual="auto"``, in the words its
    report uses: the stored or packaged model (zero-shot, the device's own, or adapted) and, on a GPU, the runtime;
    or that the roofline alone does.

    Parameters
    ----------
    device : str, path or DeviceSpec
        As :func:`device_spec` takes it.
    runtime : str, Runtime or None
        As :func:`predict_on`'s; ``"auto"`` (default): the device kind's.

    Returns
    -------
    str
        One line, e.g. ``"zero-shot from spec (cross-device model ...)"``.

    Raises
    ------
    InputError
        An unknown device, or a runtime that is unknown or of another device kind.
    """
    spec = device_spec(device)
    runtime = _resolve_auto(runtime, spec)
    model = _load_residual(spec, runtime)
    if model is None:
        return _roofline_note(spec, True)
    if hasattr(model, "summary"):
        return model.summary(spec)
    return model.describe()


@_python_errors
def run_check(
    targets: Sequence[Target],
    fused: bool = True,
    residual: Any = "auto",
    analyzed: Mapping[str, Any] | None = None,
    specs: Mapping[str, Any] | None = None,
    allow_unsupported: bool = False,
    runtime: Any = None,
    protos: Mapping[str, Any] | None = None,
) -> CheckResult:
    """Analyse each model once and price it on each of its devices.

    Every device spec is loaded before any model is analysed, so a bad device
    id fails fast. ``analyzed`` (model -> Analyzed) and ``specs`` (id ->
    DeviceSpec) supply work already done. ``allow_unsupported`` judges the lower
    bound of a model with uncosted ops instead of leaving it undecided. ``runtime`` (see :func:`predict_on`)
    judges memory on that runtime's peak; ``protos`` (model -> ``onnx.ModelProto``) gives the in-memory model whose
    onnxruntime peak is judged (``model`` is then its label, not a file).

    Parameters
    ----------
    targets : sequence of Target
        Each a model, its devices and their budgets (:class:`~hybridperf.estimate.budget.Target`, as a budget file
        gives them).
    fused, residual
        As :func:`check`'s.
    analyzed, specs : mapping, optional
        Work already done, as above.
    allow_unsupported, runtime
        As :func:`check`'s (``runtime`` defaults to None here: the TVM plan's peak).
    protos : mapping, optional
        The in-memory models of ``targets``, as above.

    Returns
    -------
    CheckResult
        As :func:`check`'s, over every target.

    Raises
    ------
    InputError
        An unknown device, or bad model input.
    """
    from hybridperf.analysis.analyze import analyze

    specs = dict(specs or {})
    for t in targets:
        for d in t.devices:
            if d not in specs:
                specs[d] = device_spec(d)
    done = dict(analyzed or {})
    checks: list[MetricCheck] = []
    preds: dict[tuple[str, str], Any] = {}
    for t in targets:
        an = done.get(t.model)
        if an is None:
            an = analyze(t.model, t.shapes or None, t.batch, fused=fused,
                         workspace=_needs_workspace(runtime, [specs[d] for d in t.devices]))
        for dev in t.devices:
            pred = predict_on(an, specs[dev], t.precision, residual=residual, runtime=runtime)
            pred = _proto_runtime_memory(pred, (protos or {}).get(t.model))
            preds[(t.model, dev)] = pred
            checks.extend(compare(pred, t.budgets[dev], t.model, dev, allow_unsupported))
    return CheckResult(tuple(checks), preds)


@_python_errors
def predict_on(analyzed: Analyzed, device: str | Path | DeviceSpec, precision: str | None = None,
               residual: Any = "auto", runtime: Any = None) -> Prediction:
    """Price an analysis on one device and apply the learned correction.

    ``residual`` is a ``ResidualModel``, None (roofline only) or ``"auto"``: the device's
    calibrated model if one exists, else on a GPU the cross-device model and on a CPU the cross-host model
    (zero-shot from spec).
    ``runtime`` (:class:`~hybridperf.estimate.runtime_memory.Runtime` or its name, e.g. ``"torch-cudagraph"``)
    is the execution mode of that GPU prediction (default: the device kind's) and, with or without a residual,
    whether constant subexpressions are run every call (eager PyTorch, CUDA graphs) or folded
    (:func:`hybridperf.estimate.pricing.as_run_by`; until 2026-12-04 a roofline-only prediction read them as folded
    under every runtime). The pricing itself is
    :func:`hybridperf.estimate.pricing.predict_on`. A ``runtime`` (or ``"auto"``) also makes that runtime's peak
    memory the prediction's peak (:func:`hybridperf.estimate.runtime_memory.with_runtime`); None keeps the
    TVM plan's peak.

    Parameters
    ----------
    analyzed : Analyzed
        From :func:`analyze` (priced on any number of devices without analysing again).
    device : str, path or DeviceSpec
        As :func:`device_spec` takes it.
    precision : str, optional
        As :func:`predict`'s.
    residual : "auto", None or a fitted residual model
        As above.
    runtime : str, Runtime, "auto" or None
        As above.

    Returns
    -------
    Prediction
        As :func:`predict`'s.

    Raises
    ------
    InputError
        ``analyzed`` is not an :class:`Analyzed`, an unknown device, a bad precision, residual or runtime.
    """
    analyzed = _analyzed(analyzed)
    spec = device_spec(device)
    runtime = _resolve_auto(runtime, spec)
    precision = _precision(precision)
    _residual(residual)
    auto = isinstance(residual, str) and residual == "auto"
    model = _load_residual(spec, runtime) if auto else residual
    return _with_runtime_memory(pricing.predict_on(analyzed, spec, precision, residual=model,
                                                   roofline_note=_roofline_note(spec, auto), runtime=runtime), runtime)


def _roofline_note(spec: DeviceSpec, auto: bool) -> str:
    """Why a prediction is the roofline's: no model found for the device (``"auto"``), or none asked for."""
    if auto:
        return f"roofline only: no residual model for {spec.id} (train one with `hybridperf calibrate`)"
    return "roofline only (--roofline-only)"


def _resolve_auto(runtime: Any, spec: DeviceSpec) -> str | None:
    """``runtime`` checked for ``spec`` and named by its value: ``"auto"`` -> the runtime of ``spec``'s device kind (a
    ``check`` over several devices passes one value), None stays None (the TVM plan's peak).

    Raises
    ------
    InputError
        An unknown runtime name, or one of another device kind (``"onnxruntime"`` on a GPU).
    """
    if runtime is None:
        return None
    from hybridperf.estimate.runtime_memory import Runtime, resolve_runtime

    try:
        return resolve_runtime(runtime, spec.kind, spec.id).value
    except (ValueError, TypeError):
        names = ", ".join(repr(r.value) for r in Runtime)
        raise InputError(f"runtime={runtime!r} is not a runtime: use one of {names}, 'auto' (the device kind's) or "
                         "None (the TVM plan's peak memory)") from None


def _with_runtime_memory(pred: Prediction, runtime: Any) -> Prediction:
    """``pred`` with ``runtime``'s peak memory as its peak (``"auto"``: the device kind's runtime); None: unchanged."""
    if runtime is None:
        return pred
    from hybridperf.estimate.runtime_memory import with_runtime

    return with_runtime(pred, runtime)


#: onnxruntime peaks a :class:`Session` keeps (a few hundred bytes each)
_KEEP_RUNTIME_PEAKS = 4096


class Session:
    """Predictions that share work: the object a sweep (NAS loop, ``predict-many`` worker) keeps.

    Holds every cache explicitly (no module state): the analysis cache (legalized PrimFuncs by
    op signature and, unless ``block_cache=False``, the results of each ONNX graph segment, from
    which a model that repeats known blocks is composed without importing it whole:
    :class:`~hybridperf.analysis.cache.AnalysisCache`, :mod:`hybridperf.analysis.blocks`), device sheets parsed once
    per id, each device's residual model loaded once, the analysis of each model file
    (keyed by resolved path, size, time stamps, inode, shapes, batch, fusion and workspace:
    :func:`~hybridperf.analysis.cache.file_key`; a file rewritten at the same path is analysed again; an in-memory
    model, a proto or an IRModule, is analysed on every call) so a model priced on several devices
    is analysed once, and onnxruntime's peak memory of each model file (same key; its graph
    optimiser is the slow part of ``runtime="onnxruntime"``), and for each GPU model the cross-device model's
    scores of the kernels it priced (at most ``keep_kernel_scores`` rows per device and runtime, 0: none;
    :class:`~hybridperf.residual.cross_device.PredictionCache`) and the last analysis's kernel launches, shared
    by the GPUs it is priced on (:class:`~hybridperf.residual.zero_shot.LaunchMemo`), and each device sheet's
    roofline estimate of every kernel cost it priced (at most ``keep_rooflines`` per sheet, 0: none;
    :class:`~hybridperf.estimate.pricing.RooflineMemo`). Every figure is the same as :func:`predict`'s.

    A session may be shared by threads: its calls, as every call of this module, run one at a time per process
    (:func:`_python_errors`), so threads give no speed-up; a sweep runs processes (``hybridperf predict-many
    --jobs N``, one session per worker).

    Parameters
    ----------
    keep_analyses : int
        Analyses of model files kept (the oldest dropped first; 0: none).
    block_cache : bool
        Compose a model that repeats known ONNX graph segments from their kept results.
    keep_kernel_scores : int
        Cross-device model scores kept per GPU and runtime (0: none).
    keep_rooflines : int
        Roofline estimates kept per device sheet (0: none).

    Raises
    ------
    InputError
        A count that is not an int >= 0, or ``block_cache`` not a bool.

    Examples
    --------
    >>> s = Session()  # doctest: +SKIP
    >>> for path in candidates:  # doctest: +SKIP
    ...     for dev in ("host-epyc-1c", "t4", "a100-sxm-80gb"):
    ...         s.predict(path, dev).latency_s
    """

    def __init__(self, keep_analyses: int = 8, block_cache: bool = True, keep_kernel_scores: int = 50_000,
                 keep_rooflines: int = 50_000) -> None:
        from hybridperf.analysis.cache import AnalysisCache

        for name, value in (("keep_analyses", keep_analyses), ("keep_kernel_scores", keep_kernel_scores),
                            ("keep_rooflines", keep_rooflines)):  # keep_analyses="8" failed at the first analysis
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise InputError(f"{name} must be a count >= 0 (0: keep none), got {value!r}")
        if not isinstance(block_cache, bool):
            raise InputError(f"block_cache must be True or False, got {block_cache!r}")
        keep_analyses, keep_kernel_scores, keep_rooflines = int(keep_analyses), int(keep_kernel_scores), \
            int(keep_rooflines)

        self.cache = AnalysisCache() if block_cache else AnalysisCache(blocks=None)
        self.keep_analyses = keep_analyses
        self.keep_kernel_scores = keep_kernel_scores
        self._rooflines = pricing.RooflineMemo(keep_rooflines) if keep_rooflines > 0 else None
        self._launch_memo: Any = None  # the last analysis's GPU kernel launches, shared by the GPU models
        # device (a spec file by its resolved path) -> (sheet, its file's key, that file)
        self._specs: dict[str, tuple[DeviceSpec, Any, Any]] = {}
        self._residuals: dict[str, Any] = {}
        self._analyses: dict[tuple, tuple[Analyzed, bool]] = {}  # key -> (analysis, trusted: not made racily)
        self._runtime_peaks: dict[tuple, tuple[Any, str]] = {}

    @_python_errors
    def spec(self, device: str | Path | DeviceSpec) -> DeviceSpec:
        """The device sheet, parsed on first use and again when its file changed (until 2026-12-03 an edited
        sheet, or ``host`` re-probed, kept its old figures for the session's life).

        Parameters
        ----------
        device : str, path or DeviceSpec
            As :func:`device_spec` takes it.

        Returns
        -------
        DeviceSpec

        Raises
        ------
        InputError
            As :func:`device_spec`'s.
        """
        if isinstance(device, DeviceSpec):
            return device
        from hybridperf.analysis.cache import file_key

        # a spec file by its resolved path (until 2026-12-04 its path as given, so after ``os.chdir`` a relative
        # "my.yaml" served the sheet of the old folder's file), an id as it is
        try:
            key = str(sheet_key(device))
        except ValueError:  # a NUL in the path: device_spec names the file not found
            key = str(device)
        got = self._specs.get(key)
        if got is None or got[2] is None or file_key(got[2]) != got[1]:
            # a spec file is read by its resolved path, so the sheet's path names it from any folder (one not found
            # is read as given: its error names the path as the caller wrote it)
            spec = device_spec(key if names_spec_file(device) and Path(key).is_file() else device)
            where = key if names_spec_file(device) else spec.path
            got = self._specs[key] = (spec, file_key(where) if where else None, where)
        return got[0]

    @_python_errors
    def residual(self, spec: str | Path | DeviceSpec, runtime: Any = None) -> Any:
        """The device's stored residual model (else a GPU's cross-device or a CPU's cross-host model; None if neither),
        loaded on first use. Keyed by the sheet's id and held by identity, as the roofline memo is: another sheet
        object with that id (an edited copy, e.g. another core count) loads its own (a CPU's cross-host model is
        built from its sheet).

        Parameters
        ----------
        spec : str, path or DeviceSpec
            The device, as :meth:`spec` takes it (until 2026-12-04 only a :class:`DeviceSpec`: ``residual("t4")``
            was an ``AttributeError``).
        runtime : str, Runtime or None
            The GPU runtime whose model is wanted (``"auto"``: the device kind's); checked as :func:`predict_on`
            checks it (until 2026-12-04 ``"bogus"`` was a bare ``ValueError`` and ``"onnxruntime"`` on a GPU was
            taken).

        Returns
        -------
        object or None
            The model :meth:`predict_on` applies with ``residual="auto"``; None: the roofline alone.

        Raises
        ------
        InputError
            An unknown device, or a runtime that is unknown or of another device kind.
        """
        spec = self.spec(spec)
        return self._residual_model(spec, _resolve_auto(runtime, spec))

    def _residual_model(self, spec: DeviceSpec, runtime: Any) -> Any:
        """:meth:`residual` of a sheet and runtime already resolved (:meth:`predict_on`'s per-call path: not through
        the public method's checks and lock a second time)."""
        key = (spec.id, runtime)
        got = self._residuals.get(key)
        if got is None or got[0] is not spec:
            model = _load_residual(spec, runtime)
            if self.keep_kernel_scores > 0 and hasattr(model, "with_cache"):  # a GPU's cross-device model
                from hybridperf.residual.cross_device import PredictionCache
                from hybridperf.residual.zero_shot import LaunchMemo

                if self._launch_memo is None:
                    self._launch_memo = LaunchMemo()
                model = model.with_cache(PredictionCache(self.keep_kernel_scores), self._launch_memo, self._rooflines)
            got = self._residuals[key] = (spec, model)
        return got[1]

    @_python_errors
    def analyze(self, model: Any, example_inputs: Any = None, *, batch: int | None = None,
                shapes: ShapeArg | None = None, fused: bool = True, workspace: bool = False) -> Analyzed:
        """:func:`analyze` with this session's caches (a model file analysed before is re-used, unless it changed).

        Parameters
        ----------
        model, example_inputs, batch, shapes, fused, workspace
            As :func:`analyze`'s.

        Returns
        -------
        Analyzed

        Raises
        ------
        InputError
            As :func:`analyze`'s.
        """
        from hybridperf.analysis.cache import file_key, is_racy

        if not isinstance(model, Analyzed):  # the key holds the values analyze() binds (np.int64(2) is batch 2)
            batch, fused, workspace = _batch(batch), _fused(fused), _workspace(workspace)
        key = fk = None
        if isinstance(model, (str, Path)) and example_inputs is None:
            now = time.time_ns()
            fk = file_key(model, digest=False)  # path, size, time stamps, inode
            if fk is not None:
                frozen = tuple(sorted((k, str(v)) for k, v in (shapes or {}).items()))
                key = (fk, frozen, batch, fused, workspace)
                got = self._analyses.get(key)
                # an entry made while the file was racily new is not trusted: a rewrite within the same time-stamp
                # tick keeps the key (analysed again, no checksum: a sweep analyses each new file once)
                if got is not None and got[1]:
                    return got[0]
        analyzed = analyze(model, example_inputs, batch=batch, shapes=shapes, fused=fused, cache=self.cache,
                           workspace=workspace)
        after = file_key(model, digest=False) if key is not None else None
        if after == fk and key is not None and self.keep_analyses > 0:  # not rewritten while analysed
            self._analyses.pop(key, None)
            while len(self._analyses) >= self.keep_analyses:
                self._analyses.pop(next(iter(self._analyses)))
            self._analyses[key] = (analyzed, not is_racy(fk, now))
        return analyzed

    @_python_errors
    def predict_on(self, analyzed: Analyzed, device: str | Path | DeviceSpec, precision: str | None = None,
                   residual: Any = "auto", runtime: Any = None) -> Prediction:
        """:func:`predict_on` with the session's device sheets and residual models.

        Parameters
        ----------
        analyzed, device, precision, residual, runtime
            As :func:`predict_on`'s.

        Returns
        -------
        Prediction
            The same figures as :func:`predict_on`'s.

        Raises
        ------
        InputError
            As :func:`predict_on`'s.
        """
        analyzed = _analyzed(analyzed)
        spec = self.spec(device)
        runtime = _resolve_auto(runtime, spec)
        precision = _precision(precision)
        _residual(residual)
        auto = isinstance(residual, str) and residual == "auto"
        model = self._residual_model(spec, runtime) if auto else residual
        return self._with_runtime_memory(pricing.predict_on(analyzed, spec, precision, residual=model,
                                                            roofline_note=_roofline_note(spec, auto),
                                                            rooflines=self._rooflines, runtime=runtime), runtime)

    def _with_runtime_memory(self, pred: Prediction, runtime: Any) -> Prediction:
        """:func:`_with_runtime_memory`, with onnxruntime's peak (its graph optimiser runs once per
        model, 0.2-15 s) kept per model file, input shapes, precision and the sheet's instruction sets, what it depends
        on."""
        if runtime is None:
            return pred
        from hybridperf.estimate.runtime_memory import Runtime, ort_isa, resolve_runtime, runtime_peak

        rt = resolve_runtime(runtime, pred.spec.kind, pred.spec.id)
        from hybridperf.analysis.cache import file_key as _file_key

        src = pred.analyzed.source  # keyed as analyze() keys it: a model copied over with its old mtime is another
        file_key = _file_key(src) if rt is Runtime.ONNXRUNTIME and Path(str(src)).suffix.lower() == ".onnx" else None
        if file_key is None:
            return _with_runtime_memory(pred, runtime)
        # and by the sheet's instruction sets and their note (ort_isa), which the peak and its notes depend on: until
        # 2026-12-05b a session gave raspberry-pi-4b the NCHWc peak of the x86 sheet priced before it
        key = (file_key, tuple(sorted(pred.analyzed.input_shapes.items())), pred.precision, ort_isa(pred.spec))
        got = self._runtime_peaks.get(key)
        if got is None:
            while len(self._runtime_peaks) >= _KEEP_RUNTIME_PEAKS:
                self._runtime_peaks.pop(next(iter(self._runtime_peaks)))
            got = self._runtime_peaks[key] = runtime_peak(pred, rt)
        peak, why = got
        return dataclasses.replace(pred, runtime=rt.value, runtime_memory=peak, runtime_memory_note=why)

    def stats(self) -> dict[str, int]:
        """Sizes and hit counters of the session's caches, for benchmarks and logs.

        Returns
        -------
        dict of str to int
            Entries held per cache (``analyses``, ``specs``, ``residuals``, ``rooflines``, ...) and the analysis
            cache's hits and misses.
        """
        return {**self.cache.stats(), "analyses": len(self._analyses), "specs": len(self._specs),
                "residuals": len(self._residuals), "runtime_peaks": len(self._runtime_peaks),
                "rooflines": len(self._rooflines) if self._rooflines is not None else 0,
                "kernel_scores": sum(len(c) for c in (getattr(m, "cache", None) for _, m in self._residuals.values())
                                     if c is not None)}

    @_python_errors
    def predict(self, model: Any, device: str | Path | DeviceSpec, *, example_inputs: Any = None,
                batch: int | None = None, shapes: ShapeArg | None = None, precision: str | None = None,
                fused: bool = True, residual: Any = "auto", runtime: Any = None) -> Prediction:
        """:func:`predict` with this session's caches.

        Parameters
        ----------
        model, device, example_inputs, batch, shapes, precision, fused, residual, runtime
            As :func:`predict`'s (``runtime`` defaults to None: the TVM plan's peak).

        Returns
        -------
        Prediction
            The same figures as :func:`predict`'s.

        Raises
        ------
        InputError
            As :func:`predict`'s.
        """
        spec = self.spec(device)  # a bad device fails fast
        precision = _precision(precision)
        _residual(residual)
        runtime = _resolve_auto(runtime, spec)
        analyzed = self.analyze(model, example_inputs, batch=batch, shapes=shapes, fused=fused,
                                workspace=_needs_workspace(runtime, [spec]))
        return _proto_runtime_memory(self.predict_on(analyzed, spec, precision, residual=residual, runtime=runtime),
                                     model)

    @staticmethod
    def _naming_model(func: Any, i: int, model: Any, *args: Any, **kwargs: Any) -> Any:
        """``func(model, *args, **kwargs)`` whose :class:`InputError` names the model as the caller of
        :meth:`predict_many` gave it (``models[3] (sweep/v3.onnx): ...``; the path left out where the message names
        it). Until 2026-12-04 a model with an unbound dynamic dim among a sweep's thousand read ``input 'x' dim 0
        ('N') is symbolic`` with nothing to say which one, and a missing file was found only when the loop reached
        it."""
        try:
            return func(model, *args, **kwargs)
        except InputError as exc:
            if exc.args and isinstance(exc.args[0], str):
                path = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
                where = f" ({path})" if path is not None and str(path) not in exc.args[0] else ""
                exc.args = (f"models[{i}]{where}: {exc.args[0]}", *exc.args[1:])
            raise

    @_python_errors
    def predict_many(self, models: Sequence[Any],
                     devices: str | Path | DeviceSpec | Sequence[str | Path | DeviceSpec], *,
                     batch: int | None = None, shapes: ShapeArg | None = None, precision: str | None = None,
                     fused: bool = True, residual: Any = "auto", runtime: Any = "auto",
                     roofline_only: bool = False) -> dict[tuple[int, str], Prediction]:
        """Every model on every device: ``{(model index, device id): Prediction}``, each model analysed once (twice
        where one device's runtime is ``tvm``, whose peak needs the kernels' workspace, and another's is not).

        The options and their defaults are ``hybridperf predict-many``'s, and each prediction's figures are that
        command's row for the model on the device (:func:`hybridperf.commands._sweep.predict_row`): ``batch``,
        ``shapes`` (``--shape``), ``precision``, ``fused`` (not ``--no-fuse``), ``runtime`` (``--runtime``; default
        ``"auto"``, the device kind's runtime, whose peak memory is ``peak_memory_bytes``; None: the TVM plan's
        peak) and ``roofline_only`` (``--roofline-only``: the roofline alone, as ``residual=None``). Until
        2026-12-04 no runtime was passed, so the peak was the TVM plan's where the command's is the runtime's
        (resnet_like on t4: 241040 B against PyTorch's 9807522 B), and ``shapes``, ``runtime`` and
        ``roofline_only`` were not taken.

        ``devices`` is one device or a sequence of them (as :func:`check`'s); two different sheets with one id are
        refused (the result is keyed by id). Every argument and device is checked before any model is analysed.

        Parameters
        ----------
        models : sequence of models
            Model files or any kind :func:`analyze` takes (a list: one path alone is refused).
        devices : device or sequence of devices
            As :func:`check`'s.
        batch, shapes, precision, fused, residual, runtime, roofline_only
            As above.

        Returns
        -------
        dict of (int, str) to Prediction
            ``{(model index, device id): Prediction}``.

        Raises
        ------
        InputError
            A bad argument or device, or a model file that does not exist (before any analysis), or a model that
            cannot be analysed; a model's error starts with the model it is about (``models[3] (v3.onnx): ...``).
        """
        from hybridperf.frontends.common import is_onnx_proto

        if isinstance(models, (str, bytes, os.PathLike)) or not isinstance(models, Iterable) \
                or is_onnx_proto(models):  # a path was iterated as its characters ('/' a directory)
            raise InputError(f"models must be a list of models, got one {type(models).__name__}: pass [model], "
                             "or for a directory sorted(pathlib.Path(folder).glob('*.onnx'))")
        specs = [self.spec(d) for d in _device_list(devices)]
        _one_sheet_per_id(specs)
        batch, fused, precision = _batch(batch), _fused(fused), _precision(precision)
        _shapes(shapes)  # checked before any work; analyze() binds them
        _residual(residual)
        # the CLI's flag in backticks: a command, which python_words leaves as written (until 2026-12-04 the message
        # read "as predict-many residual=None")
        if _flag("roofline_only", roofline_only,
                 "True (the roofline alone, as `predict-many --roofline-only`) or False"):
            if residual is not None and not (isinstance(residual, str) and residual == "auto"):
                raise InputError("roofline_only=True prices by the roofline alone, without the residual model given; "
                                 "drop one of them")
            residual = None
        runtimes = {s.id: _resolve_auto(runtime, s) for s in specs}  # another device kind's runtime fails here
        models = list(models)
        from hybridperf.frontends.load import check_model_file

        for i, m in enumerate(models):  # a mistyped path fails before any analysis, not after the models before it
            if isinstance(m, (str, os.PathLike)):
                self._naming_model(check_model_file, i, m)
        out: dict[tuple[int, str], Prediction] = {}
        for i, m in enumerate(models):
            analyses: dict[bool, Analyzed] = {}  # by workspace: what predict-many analyses for each device
            for spec in specs:
                rt = runtimes[spec.id]
                workspace = _needs_workspace(rt, [spec])
                if workspace not in analyses:
                    analyses[workspace] = self._naming_model(self.analyze, i, m, batch=batch, shapes=shapes,
                                                             fused=fused, workspace=workspace)
                pred = self.predict_on(analyses[workspace], spec, precision, residual=residual, runtime=rt)
                out[(i, spec.id)] = _proto_runtime_memory(pred, m)
        return out


@_python_errors
def report_dict(result: Prediction | CheckResult) -> dict[str, Any]:
    """``result`` as the versioned JSON report the CLI prints with ``--format json``: a :class:`Prediction` as
    ``hybridperf predict``'s, a :class:`CheckResult` as ``hybridperf check``'s (plain types only: ``json.dumps`` takes
    it). As in the CLI's output, a figure that is unknown (nothing priced: a lower bound of 0) is null and is named in
    ``totals.unknown_fields``; a check's unknown figure is ``"predicted": null``.

    Parameters
    ----------
    result : Prediction or CheckResult
        From :func:`predict` / :func:`predict_on` or :func:`check`.

    Returns
    -------
    dict
        Plain types, ``schema_version`` first; no NaN or infinity (``json.dumps(..., allow_nan=False)`` takes it).

    Raises
    ------
    InputError
        ``result`` is neither (an :class:`Analyzed` is priced first: ``predict_on(analyzed, device)``).
    """
    if isinstance(result, Prediction):
        from hybridperf.report.text import to_dict

        return to_dict(result)
    if isinstance(result, CheckResult):
        from hybridperf.report.check import to_dict as check_dict

        return check_dict(result)
    raise InputError(f"report_dict takes a Prediction or a CheckResult, got {type(result).__name__}"
                     + ("; price it first: hybridperf.predict_on(analyzed, device)" if isinstance(result, Analyzed)
                        else ""))


__all__ = ["Session", "analyze", "analyze_torch", "annotate_module", "annotate_text", "check",
           "device_spec", "latency_model", "predict", "predict_on", "report_dict", "run_check"]
