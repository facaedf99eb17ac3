"""TFLite frontend: ``.tflite`` flatbuffers to Relax.

Needs the optional extra ``pip install 'hybridperf[tflite]'`` (``tflite``, the generated
flatbuffer reader that TVM's TFLite frontend parses the file with).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
import dataclasses
import functools
import gc
import re
import warnings

from hybridperf.errors import DynamicShapeError, InputError, ModelLoadError, UnsupportedModelError, error_line
from hybridperf.frontends.common import SHAPE_MISFIT, LoadedModel, shapes_misfit_fix


__all__ = ["load_tflite", "tflite_input_specs"]


#: TFLite flatbuffer file identifier (bytes 4..8 of every .tflite file)
TFLITE_IDENTIFIER = b"TFL3"

_TFLITE_HINT = "install the optional extra: pip install 'hybridperf[tflite]'"


@dataclasses.dataclass(frozen=True)
class TFLiteInput:
    """One graph input of a TFLite model: stored shape, signature (-1 = dynamic) and dtype."""

    name: str
    shape: tuple[int, ...]
    signature: tuple[int, ...] | None
    dtype: str


def _read_tflite(p: Path) -> Any:
    from hybridperf.frontends.common import check_model_file  # noqa: PLC0415

    check_model_file(p)
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
    except Exception as exc:  # noqa: BLE001 - flatbuffers raises IndexError, struct.error, ...
        raise _corrupt(p, exc) from exc
    return model


def _corrupt(p: Path | str, exc: BaseException) -> ModelLoadError:
    """The one error of a flatbuffer that cannot be read where ``exc`` was raised (a field past the file's end, a
    name that is not UTF-8): corrupt or truncated."""
    return ModelLoadError(f"cannot read {p} as TFLite ({type(exc).__name__}); the file is corrupt or truncated: "
                          "re-export it")


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
) -> tuple[dict[str, tuple[int, ...]], tuple[str, ...]]:
    """The shape each input is priced at (``shapes``, else ``batch`` on a dynamic batch, else the stored size of a
    dynamic batch), and one note per input whose dynamic batch (signature ``-1``) is priced at its stored size, as the
    interpreter runs it without ``resize_tensor_input`` (until 2026-12-05 unsaid, where an ONNX or .pt2 model's
    unbound batch is refused)."""
    from hybridperf.units import dims_text, shape_example  # noqa: PLC0415

    shapes = {k: tuple(int(d) for d in v) for k, v in (shapes or {}).items()}
    names = {s.name for s in specs}
    for n in shapes:
        if n not in names:
            raise InputError(f"--shape names unknown input {n!r}; the model's inputs are {', '.join(sorted(names))}")
    out: dict[str, tuple[int, ...]] = {}
    notes: list[str] = []
    for s in specs:
        if s.name in shapes:
            # the checks :func:`hybridperf.units.check_shape_flags` makes of an ONNX model's (a TFLite input's stored
            # dims stay resizable, as the interpreter's ``resize_tensor_input`` allows); until 2026-12-04 a zero dim
            # was priced (0 FLOP) and a wrong rank failed inside TVM's converter with its raw message
            want, stored = shapes[s.name], s.signature if s.signature is not None else s.shape
            if any(d <= 0 for d in want):
                raise InputError(f"--shape {s.name}={dims_text(want)} has a non-positive dim; every dim must be >= 1")
            if len(want) != len(stored):
                raise InputError(f"--shape {s.name}={dims_text(want)} has rank {len(want)} but the model's input has rank "
                                 f"{len(stored)} ({'x'.join(str(d) if d > 0 else '?' for d in stored)}); give one dim "
                                 f"per axis, e.g. --shape {s.name}={shape_example(stored)}")
            out[s.name] = want
            continue
        dims = list(s.signature) if s.signature is not None else list(s.shape)
        for axis, d in enumerate(dims):
            if d > 0:
                continue
            if axis == 0 and batch is not None:
                dims[0] = int(batch)
            elif axis == 0 and s.signature is not None and s.shape and s.shape[0] > 0:
                dims[0] = s.shape[0]  # a dynamic batch: the stored size, the interpreter's own before a resize
                if s.signature[0] < 0:  # a signature dim of 0 is no dynamic batch
                    notes.append(f"input {s.name} has a dynamic batch; priced at its stored size {s.shape[0]}, as the "
                                 "interpreter runs it without a resize; pass --batch N")
            else:
                # a dynamic dim past the batch (a sequence, an image size) is stored with the converter's placeholder
                # 1: until 2026-12-05 it was priced at that size (a BERT at 1 token), unsaid
                example = "x".join(str(x) if x > 0 and i != axis else "N" for i, x in enumerate(dims))
                placeholder = s.shape[axis] if axis < len(s.shape) else 0
                stored = f" (the file stores {placeholder}, a placeholder)" if placeholder > 0 else ""
                how = f"--shape {s.name}={example}" + (" or --batch N" if axis == 0 else "")
                raise DynamicShapeError(
                    f"{source}: input {s.name!r} has a dynamic dim at axis {axis}{stored}; bind it with {how}, N the "
                    "size to price"
                )
        out[s.name] = tuple(dims)
    return out, tuple(notes)


def _int16_quantized_tensors(sg: Any) -> list[str]:
    """Names of the quantized int16 tensors of a subgraph (16x8 quantization's activations)."""
    from tvm.relax.frontend.tflite.tflite_frontend import get_tensor_name  # noqa: PLC0415

    out = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        q = t.Quantization()
        if t.Type() == _TFLITE_INT16 and q is not None and q.ScaleLength() > 0:
            out.append(get_tensor_name(sg, i))
    return out


#: tflite.TensorType.INT16
_TFLITE_INT16 = 7

#: tflite.BuiltinOperator.CUSTOM
_TFLITE_CUSTOM = 32

#: the custom operators TVM's TFLite frontend converts
_TVM_CUSTOM_OPS = frozenset({"TFLite_Detection_PostProcess"})


def _custom_operators(model: Any, sg: Any) -> dict[str, int]:
    """Custom code -> number of operators of subgraph ``sg`` that are that CUSTOM operator, for the custom codes TVM's
    frontend has no converter for (until 2026-12-04 its "Custom operators are currently not supported" named none)."""
    out: dict[str, int] = {}
    for i in range(sg.OperatorsLength()):
        oc = model.OperatorCodes(sg.Operators(i).OpcodeIndex())
        if max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()) != _TFLITE_CUSTOM:
            continue
        code = (oc.CustomCode() or b"").decode("utf-8", "replace") or "(no custom code)"
        if code not in _TVM_CUSTOM_OPS:
            out[code] = out.get(code, 0) + 1
    return out


#: TFLite operators that move quantized values without computing on them: TFLite's kernels require one scale and
#: zero point on their quantized inputs and outputs, and TVM's converters apply them to the int8 tensor as it is
#: (a quantized PAD pads with the zero point). TVM 0.27's frontend refuses every quantized operator outside the list
#: it lowers through dequantize / quantize, so until 2026-12-04 an int8 model with a PAD (Keras MobileNetV2's
#: ZeroPadding2D), TRANSPOSE, SQUEEZE, STRIDED_SLICE, SPLIT, GATHER... was refused ("The following quantized TFLite
#: operators are not supported in frontend TFLite yet: 'PAD'")
QUANTIZED_PASS_THROUGH = frozenset({
    "BATCH_TO_SPACE_ND", "BROADCAST_TO", "DEPTH_TO_SPACE", "EXPAND_DIMS", "GATHER", "MIRROR_PAD", "PACK", "PAD",
    "PADV2", "RESIZE_NEAREST_NEIGHBOR", "REVERSE_V2", "SLICE", "SPACE_TO_BATCH_ND", "SPACE_TO_DEPTH", "SPLIT",
    "SPLIT_V", "SQUEEZE", "STRIDED_SLICE", "TILE", "TRANSPOSE", "UNPACK",
})


#: TVM's refusal of quantized operators it has no dequantize / quantize lowering for: group 1 names them
_QUANTIZED_REFUSED = re.compile(r"quantized TFLite operators are not supported in frontend TFLite yet: (.+?)\. Quantized")


@functools.cache
def _operator_converter() -> type:
    """TVM's ``OperatorConverter`` (``from_tflite``'s ``op_converter``) taking the quantized operators of
    :data:`QUANTIZED_PASS_THROUGH` whose quantized tensors share one scale and zero point; one whose tensors do not
    is refused by name. The class is made once (it holds no state of its own: ``from_tflite`` instantiates it per
    subgraph); until 2026-12-04 every load defined it anew."""
    from tvm.error import OpNotImplemented  # noqa: PLC0415
    from tvm.relax.frontend.tflite.tflite_frontend import OperatorConverter  # noqa: PLC0415

    class PassThroughConverter(OperatorConverter):
        _SUPPORTED_QUANTIZED_OPS = OperatorConverter._SUPPORTED_QUANTIZED_OPS | QUANTIZED_PASS_THROUGH

        def check_unsupported_ops(self):
            mixed = set()
            for i in range(self.subgraph.OperatorsLength()):
                op = self.subgraph.Operators(i)
                name = self.get_op_code_str(op)
                if name not in QUANTIZED_PASS_THROUGH or name in OperatorConverter._SUPPORTED_QUANTIZED_OPS:
                    continue
                quantized = [t for t in (*self.get_input_tensors(op), *self.get_output_tensors(op)) if t.qnn_params]
                if any(not self.has_same_qnn_params(quantized[0], t) for t in quantized[1:]):
                    mixed.add(name)
            if mixed:
                raise OpNotImplemented(
                    f"quantized {', '.join(sorted(mixed))} with a different scale or zero point on its output than on "
                    "its input is not supported (TFLite's converter writes one)"
                )
            super().check_unsupported_ops()

    return PassThroughConverter


def _failed_operator(exc: BaseException) -> str:
    """`` at operator K (NAME)``: the TFLite operator TVM's converter was converting when ``exc`` was raised
    (read from the converter loop's frame), or ``""`` when the failure was outside that loop."""
    tb = exc.__traceback__
    found = ""
    while tb is not None:
        f = tb.tb_frame
        if f.f_code.co_name == "convert_op_to_relax" and "op_code_str" in f.f_locals:
            found = f" at operator {f.f_locals.get('op_idx')} ({f.f_locals['op_code_str']})"
        tb = tb.tb_next
    return found


def load_tflite(path: str | Path, shapes: Mapping[str, tuple[int, ...]] | None = None, batch: int | None = None) -> LoadedModel:
    """Import a ``.tflite`` flatbuffer (float or full-integer) into Relax.

    fp16 weights count their stored 2 B (weights = the file's; XNNPACK's fp32 copy at load is runtime memory, unpriced).

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
    from hybridperf.ir.tvm_compat import native_log_captured, tvm_modules

    tvm_modules()
    from tvm.relax.frontend.tflite import from_tflite  # noqa: PLC0415 - outside the try below: not the file's fault

    try:
        specs = tflite_input_specs(model)
    except Exception as exc:  # noqa: BLE001 - a corrupt name or dims: UnicodeDecodeError until 2026-12-05 (exit 3)
        raise _corrupt(p, exc) from exc
    input_shapes, notes = _bind_tflite_shapes(specs, shapes, batch, source)

    sg = model.Subgraphs(0)
    try:
        with warnings.catch_warnings(), native_log_captured():
            warnings.simplefilter("ignore")
            mod = from_tflite(
                model,
                shape_dict={k: tuple(v) for k, v in input_shapes.items()},
                dtype_dict={s.name: s.dtype for s in specs},
                op_converter=_operator_converter(),
            )
    except Exception as exc:  # noqa: BLE001 - the frontend raises OpNotImplemented, AssertionError, ValueError...
        # the frontend's frames hold its BlockBuilder, whose C++ destructor logs "BlockBuilder destroyed with
        # remaining blocks!" to stderr: free them here, while that log is captured, not when the error is printed
        where = _failed_operator(exc)
        with native_log_captured():
            exc.__traceback__ = None
            gc.collect()
        text = " ".join(str(exc).split())
        low = text.lower()
        try:  # the file read again to name the cause: a corrupt one raised struct.error here until 2026-12-05 (exit 3)
            int16, custom = _int16_quantized_tensors(sg), _custom_operators(model, sg)
        except Exception as read_exc:  # noqa: BLE001 - flatbuffers raises IndexError, struct.error, ...
            raise _corrupt(p, read_exc) from exc
        if int16:
            raise UnsupportedModelError(
                f"{source}: TVM's TFLite frontend cannot import this 16x8 quantization (int16 activations: "
                f"{', '.join(int16[:3])}{', ...' if len(int16) > 3 else ''}){where} ({type(exc).__name__}: "
                f"{error_line(exc, 120, last=True)}); convert with full-integer int8 quantization (TFLiteConverter "
                "with target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8])"
            ) from exc
        n_ops = sg.OperatorsLength()
        if custom and "custom operators" in low:
            named = ", ".join(f"{c} ({k} node{'s' if k > 1 else ''})" for c, k in custom.items())
            raise UnsupportedModelError(
                f"{source}: custom operator{'s' if len(custom) > 1 else ''} {named} "
                f"{'are' if len(custom) > 1 else 'is'} not supported by TVM's TFLite frontend; convert the model with "
                "builtin operators only (TFLiteConverter without allow_custom_ops or SELECT_TF_OPS)"
            ) from exc
        quantized = _QUANTIZED_REFUSED.search(text)
        if quantized and "not supported in frontend TFLite:" not in text and "dynamic range" not in low:
            # TVM's message ran past the line's cut mid-word and named no way on until 2026-12-04
            raise UnsupportedModelError(
                f"{source}: TVM's TFLite frontend has no int8 lowering for quantized {quantized.group(1)}{where}; "
                "price the float model at int8 instead (hybridperf predict MODEL_FLOAT.tflite --precision int8)"
            ) from exc
        if "not supported" in low or "dynamic range quantization" in low or type(exc).__name__ == "OpNotImplemented":
            raise UnsupportedModelError(
                f"{source}: TVM's TFLite frontend cannot import this model ({error_line(exc, 200, last=True)}){where}; "
                f"{n_ops} operator{'' if n_ops == 1 else 's'}; convert the model without that operator, or export it "
                "to ONNX"
            ) from exc
        fix = "convert the model again, or export it to ONNX"
        if (shapes or batch is not None) and SHAPE_MISFIT.search(text):
            # the ONNX frontend's rule (:func:`~hybridperf.frontends.onnx_import.from_onnx`); until 2026-12-05 a
            # --shape that does not fit the model read "convert the model again"
            fix = shapes_misfit_fix(input_shapes)
        raise ModelLoadError(
            f"{source}: import into TVM Relax failed{where} ({type(exc).__name__}: {error_line(exc, 200, last=True)}); "
            f"{fix}"
        ) from exc
    return LoadedModel(module=mod, input_shapes=input_shapes, source=source, format="tflite",
                       node_count=sg.OperatorsLength(), notes=notes)
