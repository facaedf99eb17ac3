"""Small TFLite models written in the tests with the ``tflite`` package's flatbuffer builders (no TensorFlow
needed): :func:`tflite_model` assembles a one-subgraph Model from tensors and builtin operators, any options
table by name (``options=("Conv2DOptions", {"Padding": 0, ...})``)."""

from __future__ import annotations

import importlib

import numpy as np

_TYPES = {"float32": 0, "float16": 1, "int32": 2, "uint8": 3, "int64": 4, "int8": 9}  # tflite.TensorType


def _m(name):
    return importlib.import_module(f"tflite.{name}")


def _ivec(b, start, vals):
    start(b, len(vals))
    for v in reversed(vals):
        b.PrependInt32(int(v))
    return b.EndVector()


def _ovec(b, start, offs):
    start(b, len(offs))
    for x in reversed(offs):
        b.PrependUOffsetTRelative(x)
    return b.EndVector()


def _options(b, name, fields):
    """The ``tflite.<name>`` options table with ``fields`` ({Field: value}) and its BuiltinOptions code."""
    from tflite.BuiltinOptions import BuiltinOptions

    mod = _m(name)
    getattr(mod, f"{name}Start")(b)
    for k, v in fields.items():
        getattr(mod, f"{name}Add{k}")(b, v)
    return getattr(mod, f"{name}End")(b), getattr(BuiltinOptions, name)


def _quant(b, QP, scale, zp):
    sc, zps = np.atleast_1d(np.asarray(scale, np.float32)), np.atleast_1d(np.asarray(zp, np.int64))
    QP.QuantizationParametersStartScaleVector(b, len(sc))
    for v in reversed(sc):
        b.PrependFloat32(float(v))
    scv = b.EndVector()
    QP.QuantizationParametersStartZeroPointVector(b, len(zps))
    for v in reversed(zps):
        b.PrependInt64(int(v))
    zpv = b.EndVector()
    QP.QuantizationParametersStart(b)
    QP.QuantizationParametersAddScale(b, scv)
    QP.QuantizationParametersAddZeroPoint(b, zpv)
    return QP.QuantizationParametersEnd(b)


def tflite_model(tensors: list[dict], ops: list[dict], inputs: list[int], outputs: list[int]) -> bytes:
    """A one-subgraph TFLite flatbuffer. ``tensors``: ``name, shape, dtype`` and optionally ``data``,
    ``scale`` / ``zp`` and ``signature`` (the shape with -1 for dynamic dims). ``ops``: ``op`` (a BuiltinOperator name), ``inputs``, ``outputs``, optionally
    ``options`` = (options table name, {field: value}) and ``custom`` (the custom code of a CUSTOM op)."""
    import flatbuffers
    from tflite.BuiltinOperator import BuiltinOperator

    M, SG, T, OP, OC, BUF, QP = (_m(n) for n in ("Model", "SubGraph", "Tensor", "Operator", "OperatorCode", "Buffer",
                                                  "QuantizationParameters"))
    b = flatbuffers.Builder(1024)
    payloads: list[bytes | None] = [None]
    buf_of = []
    for t in tensors:
        buf_of.append(len(payloads) if t.get("data") is not None else 0)
        if t.get("data") is not None:
            payloads.append(np.ascontiguousarray(t["data"]).tobytes())
    buf_offs = []
    for d in payloads:
        vec = b.CreateByteVector(d) if d is not None else None
        BUF.BufferStart(b)
        if vec is not None:
            BUF.BufferAddData(b, vec)
        buf_offs.append(BUF.BufferEnd(b))
    t_offs = []
    for t, bi in zip(tensors, buf_of):
        name, shape = b.CreateString(t["name"]), _ivec(b, T.TensorStartShapeVector, t["shape"])
        sig = _ivec(b, T.TensorStartShapeSignatureVector, t["signature"]) if t.get("signature") else None
        q = _quant(b, QP, t["scale"], t.get("zp", 0)) if t.get("scale") is not None else None
        T.TensorStart(b)
        T.TensorAddShape(b, shape)
        if sig is not None:
            T.TensorAddShapeSignature(b, sig)
        T.TensorAddType(b, _TYPES[t["dtype"]])
        T.TensorAddBuffer(b, bi)
        T.TensorAddName(b, name)
        if q is not None:
            T.TensorAddQuantization(b, q)
        t_offs.append(T.TensorEnd(b))
    codes: list[tuple[str, str | None]] = []
    for o in ops:
        if (o["op"], o.get("custom")) not in codes:
            codes.append((o["op"], o.get("custom")))
    op_offs = []
    for o in ops:
        ins, outs = _ivec(b, OP.OperatorStartInputsVector, o["inputs"]), _ivec(b, OP.OperatorStartOutputsVector, o["outputs"])
        opt = _options(b, *o["options"]) if o.get("options") else None
        OP.OperatorStart(b)
        OP.OperatorAddOpcodeIndex(b, codes.index((o["op"], o.get("custom"))))
        OP.OperatorAddInputs(b, ins)
        OP.OperatorAddOutputs(b, outs)
        if opt is not None:
            OP.OperatorAddBuiltinOptionsType(b, opt[1])
            OP.OperatorAddBuiltinOptions(b, opt[0])
        op_offs.append(OP.OperatorEnd(b))
    tv, ov = _ovec(b, SG.SubGraphStartTensorsVector, t_offs), _ovec(b, SG.SubGraphStartOperatorsVector, op_offs)
    iv, outv = _ivec(b, SG.SubGraphStartInputsVector, inputs), _ivec(b, SG.SubGraphStartOutputsVector, outputs)
    SG.SubGraphStart(b)
    SG.SubGraphAddTensors(b, tv)
    SG.SubGraphAddOperators(b, ov)
    SG.SubGraphAddInputs(b, iv)
    SG.SubGraphAddOutputs(b, outv)
    sg = SG.SubGraphEnd(b)
    code_offs = []
    for c, custom in codes:
        code = getattr(BuiltinOperator, c)
        cs = b.CreateString(custom) if custom else None
        OC.OperatorCodeStart(b)
        OC.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        OC.OperatorCodeAddBuiltinCode(b, code)
        if cs is not None:
            OC.OperatorCodeAddCustomCode(b, cs)
        OC.OperatorCodeAddVersion(b, 1)
        code_offs.append(OC.OperatorCodeEnd(b))
    cv, sv = _ovec(b, M.ModelStartOperatorCodesVector, code_offs), _ovec(b, M.ModelStartSubgraphsVector, [sg])
    bv = _ovec(b, M.ModelStartBuffersVector, buf_offs)
    M.ModelStart(b)
    M.ModelAddVersion(b, 3)
    M.ModelAddOperatorCodes(b, cv)
    M.ModelAddSubgraphs(b, sv)
    M.ModelAddBuffers(b, bv)
    b.Finish(M.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())
