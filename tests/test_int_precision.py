"""Integer and bool ops (index arithmetic, masks, comparisons of indices) are labelled ``int32``, not ``fp32``:
a float precision override (``--precision fp16``) re-prices float32 work only, so their traffic stays at their
own dtype's size, and they still run on the fp32 path (the same latency, energy and features without an override).

Golden values as arithmetic: an int32 tensor of 8x8 is 8*8*4 B, a bool tensor of 4x8 is 4*8*1 B, a float32
8x8 under fp16 storage is 8*8*2 B.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybridperf.analysis.cost_pass import precision_of
from hybridperf.device.spec import load_spec
from hybridperf.precision import OVERRIDES, PRECISIONS, Precision, alu_precision, fallback_chain


def _save(path: Path, nodes, inputs, outputs, inits=()) -> str:
    import onnx
    from onnx import helper

    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return str(path)


def _vi(name: str, elem: int, shape):
    from onnx import helper

    return helper.make_tensor_value_info(name, elem, shape)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, str]:
    from onnx import TensorProto, helper

    d = tmp_path_factory.mktemp("intprec")
    i32, f32, f16, i64, b = TensorProto.INT32, TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT64, TensorProto.BOOL
    return {
        # c = a + b on int32 8x8
        "int_add": _save(d / "int_add.onnx", [helper.make_node("Add", ["a", "b"], ["c"])],
                         [_vi("a", i32, [8, 8]), _vi("b", i32, [8, 8])], [_vi("c", i32, [8, 8])]),
        # y = not m on bool 4x8
        "bool_not": _save(d / "bool_not.onnx", [helper.make_node("Not", ["m"], ["y"])],
                          [_vi("m", b, [4, 8])], [_vi("y", b, [4, 8])]),
        # one float32 add and one int32 add side by side
        "mixed": _save(d / "mixed.onnx", [helper.make_node("Add", ["x", "x"], ["y"]), helper.make_node("Add", ["a", "a"], ["c"])],
                       [_vi("x", f32, [8, 8]), _vi("a", i32, [8, 8])], [_vi("y", f32, [8, 8]), _vi("c", i32, [8, 8])]),
        # an fp16 model with its index arithmetic in int64: ids + ids, then a gather of fp16 rows
        "fp16_ids": _save(d / "fp16_ids.onnx", [helper.make_node("Add", ["ids", "ids"], ["ids2"]),
                                                helper.make_node("Gather", ["table", "ids2"], ["y"], axis=0)],
                          [_vi("table", f16, [64, 8]), _vi("ids", i64, [4])], [_vi("y", f16, [4, 8])]),
    }


def _kernels(pred) -> list[dict]:
    from hybridperf.report.text import to_dict

    return [k for k in to_dict(pred)["kernels"] if k["status"] == "counted"]


# ------------------------------------------------------------------ the label


def test_precision_of_labels_integer_and_bool_work_int32():
    assert precision_of(["int32", "int32"]) == "int32"
    assert precision_of(["int64"]) == "int32"
    assert precision_of(["bool"]) == "int32"
    assert precision_of(["bool", "int64", "uint32", "int16"]) == "int32"
    # any float operand: the op is float work (a float gather with int64 indices, a float Where on a bool mask)
    assert precision_of(["float32", "int64"]) == "fp32"
    assert precision_of(["bool", "float32", "float32"]) == "fp32"
    assert precision_of(["float16", "int64"]) == "fp16"
    assert precision_of(["int8", "int32"]) == "int8"  # an int8 kernel with its int32 bias stays int8
    assert precision_of([]) == "fp32"  # nothing known: as before
    assert precision_of(["float32"]) == "fp32"


def test_int32_is_an_op_label_not_a_sheet_precision_nor_an_override():
    assert "int32" not in PRECISIONS and "int32" not in OVERRIDES  # sheets and --precision cannot name it
    assert Precision.INT32.storage_bytes is None and Precision.INT32.is_integer
    assert fallback_chain("int32") == ("int32", "fp32", "int8")
    assert alu_precision("int32") == "fp32" and alu_precision("fp16") == "fp16"
    t4 = load_spec("t4")
    assert t4.resolve_precision("int32") == "fp32"
    assert t4.peak_flops("int32") == t4.peak_flops("fp32")
    assert t4.energy_per_mac_pj("int32") == t4.energy_per_mac_pj("fp32")
    u55 = load_spec("ethos-u55")  # an integer NPU with no float unit: its int8 rate
    assert u55.resolve_precision("int32") == "int8" and u55.peak_flops("int32") == u55.peak_flops("int8")


# ------------------------------------------------------------------ the override leaves integer work alone


@pytest.mark.parametrize("device", ["host-epyc-1c", "t4"])
def test_int32_add_keeps_its_traffic_under_fp16(models, device):
    from hybridperf.api import analyze, predict_on

    an = analyze(models["int_add"])
    none, fp16 = (predict_on(an, device, p, residual=None) for p in (None, "fp16"))
    for pred in (none, fp16):
        (k,) = _kernels(pred)
        assert k["precision"] == "int32" and k["compute_precision"] == "fp32"
        assert (k["flops"], k["bytes_read"], k["bytes_written"]) == (8 * 8, 2 * 8 * 8 * 4, 8 * 8 * 4)  # was 256/128 B
    # the same kernel on the same fp32 path: the same figures
    assert fp16.latency_s == none.latency_s and fp16.energy_j == none.energy_j
    spec = load_spec(device)
    assert fp16.latency_s == pytest.approx(max(8 * 8 / spec.peak_flops("fp32"),
                                               (2 * 8 * 8 * 4 + 8 * 8 * 4) / spec.dram_bandwidth_bytes_per_s)
                                           + spec.launch_overhead_s)
    assert fp16.peak_memory_bytes == none.peak_memory_bytes  # int32 tensors are stored as they are


def test_bool_not_keeps_its_traffic_under_int8(models):
    from hybridperf.api import analyze, predict_on

    pred = predict_on(analyze(models["bool_not"]), "a100-sxm-80gb", "int8", residual=None)
    (k,) = _kernels(pred)
    assert k["precision"] == "int32" and k["compute_precision"] == "fp32"
    assert (k["bytes_read"], k["bytes_written"]) == (4 * 8 * 1, 4 * 8 * 1)  # was 32/32 B under fp16, 8/8 B under int8
    assert pred.warnings[0] == ("--precision int8: the model has no float32 op to re-price (its ops are int32); "
                                "it is priced at its own precision")


def test_mixed_model_float_work_shrinks_integer_work_does_not(models):
    from hybridperf.api import analyze, predict_on
    from hybridperf.report.text import to_dict

    pred = predict_on(analyze(models["mixed"], fused=False), "l4", "fp16", residual=None)
    by_prec = {k["precision"]: k for k in _kernels(pred)}
    assert (by_prec["fp16"]["bytes_read"], by_prec["fp16"]["bytes_written"]) == (8 * 8 * 2, 8 * 8 * 2)  # Add(x, x): x once
    assert (by_prec["int32"]["bytes_read"], by_prec["int32"]["bytes_written"]) == (8 * 8 * 4, 8 * 8 * 4)
    assert by_prec["fp16"]["compute_precision"] == "fp16" and by_prec["int32"]["compute_precision"] == "fp32"
    rep = to_dict(pred)
    assert rep["totals"]["bytes_read"] == 8 * 8 * 2 + 8 * 8 * 4
    assert rep["totals"]["bytes_written"] == 8 * 8 * 2 + 8 * 8 * 4
    assert rep["precision"]["compute_precisions"] == ["fp16", "fp32"]
    assert pred.warnings == ()  # the float32 add was re-priced: nothing to say


def test_fp16_model_with_int64_index_ops_does_not_warn_under_fp16(models):
    """The override equals the model's float precision: its int64 index arithmetic is no reason to warn."""
    from hybridperf.api import analyze, predict_on

    pred = predict_on(analyze(models["fp16_ids"], fused=False), "t4", "fp16", residual=None)
    assert sorted({k["precision"] for k in _kernels(pred)}) == ["fp16", "int32"]
    assert not any("no float32 op" in w for w in pred.warnings)
    pred = predict_on(analyze(models["fp16_ids"], fused=False), "t4", "int8", residual=None)
    assert any("no float32 op to re-price (its ops are fp16, int32)" in w for w in pred.warnings)


# ------------------------------------------------------------------ the zero-shot GPU model


def test_zero_shot_groups_integer_launches_with_fp32(models):
    """The operator data is fp32: integer launches stay in the fp32 group (family probes, notes, sheet view as
    before) while the report's kernels carry their own label."""
    from hybridperf.api import analyze, predict_on
    from hybridperf.estimate.execution import Granularity
    from hybridperf.residual.zero_shot import launch_table

    an = analyze(models["mixed"])
    table = launch_table(an, Granularity.PER_OP)
    assert sorted(k.precision for k in table.kernels) == ["fp32", "int32"]
    assert set(table.precisions) == {"fp32"} and [m.precision for m in table.mapped] == ["fp32"]
    assert sorted(len(m.index) for m in table.mapped) == [2]  # both adds priced by the operator data together
    pred = predict_on(an, "t4", None)
    assert "non-fp32 kernels" not in pred.calibration
    assert sorted(k["precision"] for k in _kernels(pred)) == ["fp32", "int32"]


# ------------------------------------------------------------------ the CLI


def test_cli_json_labels_and_traffic(models, capsys):
    from hybridperf.cli import main

    code = main(["predict", models["int_add"], "-d", "t4", "--precision", "fp16", "--roofline-only", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    rep = json.loads(out)
    (k,) = [k for k in rep["kernels"] if k["status"] == "counted"]
    assert (k["precision"], k["bytes_read"], k["bytes_written"]) == ("int32", 2 * 8 * 8 * 4, 8 * 8 * 4)
    assert (rep["totals"]["bytes_read"], rep["totals"]["bytes_written"]) == (2 * 8 * 8 * 4, 8 * 8 * 4)
