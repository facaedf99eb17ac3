"""Ops that mix float32 and integer or bool tensors under a precision override (``--precision fp16``): the op is
labelled by its float operands (compute at the override), and each tensor's bytes follow its own dtype: float32
tensors shrink to the override's storage size, int64 indices and bool masks keep theirs.

Golden values as arithmetic: a float32 element is 4 B (2 B under fp16, 1 B under int8), an int64 element 8 B, a
bool 1 B. A gather reads its index tensor plus the selected rows (one output-sized slice of its table), not the
whole table (:func:`hybridperf.costs.data_movement.gather`).
"""

from __future__ import annotations

import json

import pytest
from test_int_precision import _save, _vi

from hybridperf.costs import OpCost
from hybridperf.device.spec import load_spec
from hybridperf.estimate.pricing import priced_cost


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, str]:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    d = tmp_path_factory.mktemp("mixed")
    f32, i64, b = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
    return {
        # y = table[i]: 8 int64 indices into a 100x16 float32 table
        "gather": _save(d / "gather.onnx", [helper.make_node("Gather", ["t", "i"], ["y"], axis=0)],
                        [_vi("t", f32, [100, 16]), _vi("i", i64, [8])], [_vi("y", f32, [8, 16])]),
        # the same lookup from a constant table (an embedding): the table is a weight
        "embedding": _save(d / "embedding.onnx", [helper.make_node("Gather", ["t", "i"], ["y"], axis=0)],
                           [_vi("i", i64, [2, 8])], [_vi("y", f32, [2, 8, 16])],
                           [numpy_helper.from_array(np.ones((100, 16), np.float32), "t")]),
        "gather_elements": _save(d / "ge.onnx", [helper.make_node("GatherElements", ["x", "i"], ["y"], axis=1)],
                                 [_vi("x", f32, [4, 32]), _vi("i", i64, [4, 8])], [_vi("y", f32, [4, 8])]),
        "scatter_nd": _save(d / "snd.onnx", [helper.make_node("ScatterND", ["x", "i", "u"], ["y"])],
                            [_vi("x", f32, [16, 8]), _vi("i", i64, [4, 1]), _vi("u", f32, [4, 8])],
                            [_vi("y", f32, [16, 8])]),
        # y = where(c, x, z) on a bool 8x8 mask
        "where": _save(d / "where.onnx", [helper.make_node("Where", ["c", "x", "z"], ["y"])],
                       [_vi("c", b, [8, 8]), _vi("x", f32, [8, 8]), _vi("z", f32, [8, 8])], [_vi("y", f32, [8, 8])]),
        # z = float(a) * float(a) on int64 8x8
        "cast_i2f": _save(d / "i2f.onnx", [helper.make_node("Cast", ["a"], ["y"], to=f32),
                                           helper.make_node("Mul", ["y", "y"], ["z"])],
                          [_vi("a", i64, [8, 8])], [_vi("z", f32, [8, 8])]),
        # y = int64(x) on float32 8x8
        "cast_f2i": _save(d / "f2i.onnx", [helper.make_node("Cast", ["x"], ["y"], to=i64)],
                          [_vi("x", f32, [8, 8])], [_vi("y", i64, [8, 8])]),
        # the top 5 of 32 per row: float32 values and int64 indices
        "topk": _save(d / "topk.onnx", [helper.make_node("TopK", ["x", "k"], ["v", "ix"], axis=-1)],
                      [_vi("x", f32, [4, 32])], [_vi("v", f32, [4, 5]), _vi("ix", i64, [4, 5])],
                      [numpy_helper.from_array(np.array([5], np.int64), "k")]),
    }


def _kernel(pred, op: str) -> dict:
    """The kernel of ``op`` on float data (the ONNX frontend also takes from an int64 shape tensor: ``int32``)."""
    from hybridperf.report.text import to_dict

    (k,) = [k for k in to_dict(pred)["kernels"]
            if k["ops"] == [op] and (k["precision"] != "int32" or op == "relax.astype")]
    return k


def _traffic(k: dict) -> tuple[int, int]:
    return k["bytes_read"], k["bytes_written"]


# ------------------------------------------------------------------ the pricing function


def test_priced_cost_resizes_the_float32_part_only():
    # a gather: reads 8 int64 indices + 8 rows of 16 float32, writes 8x16 float32
    c = OpCost(0, 8 * 8 + 8 * 16 * 4, 8 * 16 * 4, 0,
               float32_bytes_read=8 * 16 * 4, float32_bytes_written=8 * 16 * 4, float32_weight_bytes=0)
    got, prec = priced_cost(c, "fp32", "fp16")
    assert prec == "fp16" and got == OpCost(0, 8 * 8 + 8 * 16 * 2, 8 * 16 * 2, 0)
    assert priced_cost(c, "fp32", "int8")[0] == OpCost(0, 8 * 8 + 8 * 16 * 1, 8 * 16 * 1, 0)
    assert priced_cost(c, "fp32", "tf32")[0] == OpCost(0, 8 * 8 + 8 * 16 * 4, 8 * 16 * 4, 0)
    assert priced_cost(c, "fp32", None) == (c, "fp32")  # no override: as analysed
    # an int64 -> float32 cast stays int32 (the fp32 path) and writes its float32 output at the override's size
    cast = OpCost(0, 8 * 8 * 8, 8 * 8 * 4, 0, float32_bytes_read=0, float32_bytes_written=8 * 8 * 4, float32_weight_bytes=0)
    assert priced_cost(cast, "int32", "fp16") == (OpCost(0, 8 * 8 * 8, 8 * 8 * 2, 0), "int32")
    # plain costs as before: fp32 all float32, int32 none of it
    assert priced_cost(OpCost(64, 256, 128, 64), "fp32", "fp16") == (OpCost(64, 128, 64, 32), "fp16")
    assert priced_cost(OpCost(64, 256, 128, 64), "int32", "fp16") == (OpCost(64, 256, 128, 64), "int32")


# ------------------------------------------------------------------ one op, each family


@pytest.mark.parametrize("fused", [True, False])
def test_gather_int64_indices_keep_their_bytes(models, fused):
    from hybridperf.api import analyze, predict_on

    an = analyze(models["gather"], fused=fused)
    none, fp16, int8 = (predict_on(an, "t4", p, residual=None) for p in (None, "fp16", "int8"))
    assert _traffic(_kernel(none, "relax.take")) == (8 * 8 + 8 * 16 * 4, 8 * 16 * 4)
    k = _kernel(fp16, "relax.take")
    assert (k["precision"], k["compute_precision"]) == ("fp16", "fp16")  # labelled by its float operand
    assert _traffic(k) == (8 * 8 + 8 * 16 * 2, 8 * 16 * 2)  # was (8*4 + 8*16*2, 8*16*2): the indices halved
    assert _traffic(_kernel(int8, "relax.take")) == (8 * 8 + 8 * 16 * 1, 8 * 16 * 1)
    # the TVM plan: the float32 table (an input) and output shrink, every integer tensor keeps its bytes
    assert none.peak_memory_bytes - fp16.peak_memory_bytes == (100 * 16 * 4 - 100 * 16 * 2) + (8 * 16 * 4 - 8 * 16 * 2)
    spec = load_spec("t4")
    assert _kernel(fp16, "relax.take")["roofline_latency_s"] == pytest.approx(
        (8 * 8 + 8 * 16 * 2 + 8 * 16 * 2) / spec.dram_bandwidth_bytes_per_s + spec.launch_overhead_s)


def test_embedding_table_weights_shrink_indices_do_not(models):
    from hybridperf.api import analyze, predict_on
    from hybridperf.report.text import to_dict

    an = analyze(models["embedding"], fused=False)
    (take,) = [r for r in an.analysis.records if r.op == "relax.take" and r.precision == "fp32"]
    assert take.cost.has_float32_part
    assert (take.cost.weight_bytes, take.cost.float32_weight_bytes) == (100 * 16 * 4, 100 * 16 * 4)
    pred = predict_on(an, "a100-sxm-80gb", "fp16", residual=None)
    priced = priced_cost(take.cost, take.precision, "fp16")[0]
    assert (priced.bytes_read, priced.bytes_written, priced.weight_bytes) == (
        2 * 8 * 8 + 2 * 8 * 16 * 2, 2 * 8 * 16 * 2, 100 * 16 * 2)
    rep = to_dict(pred)
    # the table at 2 B, and the two int64 scalars of the frontend's negative-index wrap (0 and 100) at 8 B
    assert rep["totals"]["weight_bytes"] == 100 * 16 * 2 + 2 * 8
    assert rep["memory"]["input_bytes"] == 2 * 8 * 8  # the int64 ids are stored as they are


@pytest.mark.parametrize(("name", "op", "fp32", "fp16"), [
    # reads its indices + an output-sized slice of x; writes 4x8
    ("gather_elements", "relax.gather_elements", (4 * 8 * 8 + 4 * 8 * 4, 4 * 8 * 4), (4 * 8 * 8 + 4 * 8 * 2, 4 * 8 * 2)),
    # reads x, the 4 int64 row indices and the 4x8 updates; writes 16x8
    ("scatter_nd", "relax.scatter_nd", (16 * 8 * 4 + 4 * 8 + 4 * 8 * 4, 16 * 8 * 4),
     (16 * 8 * 2 + 4 * 8 + 4 * 8 * 2, 16 * 8 * 2)),
    # a bool 8x8 mask and two float32 8x8 operands
    ("where", "relax.where", (8 * 8 + 2 * 8 * 8 * 4, 8 * 8 * 4), (8 * 8 + 2 * 8 * 8 * 2, 8 * 8 * 2)),
    # float32 values 4x5 and int64 indices 4x5 out of a float32 4x32
    ("topk", "relax.topk", (4 * 32 * 4, 4 * 5 * 4 + 4 * 5 * 8), (4 * 32 * 2, 4 * 5 * 2 + 4 * 5 * 8)),
    # a float32 -> int64 cast: the float32 input shrinks, the int64 output does not
    ("cast_f2i", "relax.astype", (8 * 8 * 4, 8 * 8 * 8), (8 * 8 * 2, 8 * 8 * 8)),
])
def test_mixed_op_traffic_under_fp16(models, name, op, fp32, fp16):
    from hybridperf.api import analyze, predict_on

    an = analyze(models[name], fused=False)
    none, half = (predict_on(an, "l4", p, residual=None) for p in (None, "fp16"))
    assert _traffic(_kernel(none, op)) == fp32
    k = _kernel(half, op)
    assert _traffic(k) == fp16
    assert (k["precision"], k["compute_precision"]) == ("fp16", "fp16")


def test_cast_int64_to_float32_stays_int32_and_writes_at_the_override(models):
    from hybridperf.api import analyze, predict_on

    an = analyze(models["cast_i2f"], fused=False)
    none, fp16 = (predict_on(an, "t4", p, residual=None) for p in (None, "fp16"))
    assert _traffic(_kernel(none, "relax.astype")) == (8 * 8 * 8, 8 * 8 * 4)
    k = _kernel(fp16, "relax.astype")
    assert (k["precision"], k["compute_precision"]) == ("int32", "fp32")
    assert _traffic(k) == (8 * 8 * 8, 8 * 8 * 2)  # was (8*8*8, 8*8*4): its float32 output kept 4 B
    assert _traffic(_kernel(fp16, "relax.multiply")) == (8 * 8 * 2, 8 * 8 * 2)  # Mul(y, y) reads y once
    # the plan: the int64 input stays, both float32 activations shrink
    assert none.peak_memory_bytes - fp16.peak_memory_bytes == 2 * (8 * 8 * 4 - 8 * 8 * 2)


def test_fused_cast_kernel_keeps_its_int64_input(models):
    """A fused kernel's boundary traffic is split too (analysis/kernels.py): it read 256 B, its int64 input shrunk."""
    from hybridperf.api import analyze, predict_on

    pred = predict_on(analyze(models["cast_i2f"]), "t4", "fp16", residual=None)
    (k,) = [k for k in _kernel_list(pred) if k["ops"] == ["relax.astype", "relax.multiply"]]
    assert _traffic(k) == (8 * 8 * 8, 8 * 8 * 2)


def _kernel_list(pred) -> list[dict]:
    from hybridperf.report.text import to_dict

    return to_dict(pred)["kernels"]


# ------------------------------------------------------------------ what does not move


def test_float32_only_ops_keep_the_plain_cost(models):
    from hybridperf.api import analyze

    an = analyze(models["cast_i2f"], fused=False)
    (mul,) = [r for r in an.analysis.records if r.op == "relax.multiply"]
    assert mul.cost == OpCost(8 * 8, 8 * 8 * 4, 8 * 8 * 4, 0) and mul.precision == "fp32"  # no float32 part
    (cast,) = [r for r in an.analysis.records if r.op == "relax.astype"]
    assert cast.cost == OpCost(0, 8 * 8 * 8, 8 * 8 * 4, 0,
                               float32_bytes_read=0, float32_bytes_written=8 * 8 * 4, float32_weight_bytes=0)


def test_without_override_the_figures_are_the_analysis_own(models):
    from hybridperf.api import analyze, predict_on

    an = analyze(models["gather"], fused=False)
    pred = predict_on(an, "t4", None, residual=None)
    for kp in pred.kernels:
        assert priced_cost(kp.kernel.cost, kp.kernel.precision, None)[0] is kp.kernel.cost


def test_ops_and_kernels_sum_to_the_totals(models):
    from hybridperf.api import analyze, predict_on
    from hybridperf.report.text import to_dict

    rep = to_dict(predict_on(analyze(models["gather"], fused=False), "t4", "fp16", residual=None))
    counted = [k for k in rep["kernels"] if k["status"] == "counted"]
    assert sum(k["bytes_read"] for k in counted) == rep["totals"]["bytes_read"] == sum(
        o["bytes_read"] for o in rep["ops"] if o["bytes_read"] is not None)
    assert sum(k["bytes_written"] for k in counted) == rep["totals"]["bytes_written"]


def test_cli_json_gather_under_fp16(models, capsys):
    from hybridperf.cli import main

    code = main(["predict", models["gather"], "-d", "t4", "--precision", "fp16", "--roofline-only",
                 "--format", "json"])
    rep = json.loads(capsys.readouterr().out)
    assert code == 0
    (k,) = [k for k in rep["kernels"] if k["ops"] == ["relax.take"] and k["precision"] == "fp16"]
    assert (k["bytes_read"], k["bytes_written"]) == (8 * 8 + 8 * 16 * 2, 8 * 16 * 2)


def test_weight_only_int8_weights_keep_one_byte_under_an_override(tmp_path):
    """float x (2x16) @ DQ(int8 W 16x4): the matmul is fp32 compute on int8 weights. Under --precision fp16 the float
    input shrinks, the int8 weight keeps its 1 B (it read 2*16*2 + 16*4/2 = 96 B until 2026-12-03: the weight halved
    again), and under int8 the weight stays 16*4 B."""
    import onnx
    from test_quant import weight_only_matmul_model

    from hybridperf.analysis.analyze import analyze
    from hybridperf.analysis.int8 import apply_int8
    from hybridperf.estimate.pricing import priced_cost

    p = tmp_path / "wo.onnx"
    onnx.save(weight_only_matmul_model(), str(p))
    (mm,) = [r for r in apply_int8(analyze(p, int8=False).analysis).records if r.op == "relax.matmul"]
    fp16, prec = priced_cost(mm.cost, mm.precision, "fp16")
    assert prec == "fp16" and (fp16.bytes_read, fp16.weight_bytes) == (2 * 16 * 2 + 16 * 4, 16 * 4)
    assert fp16.bytes_written == 2 * 4 * 2
    int8, _ = priced_cost(mm.cost, mm.precision, "int8")
    assert (int8.bytes_read, int8.weight_bytes) == (2 * 16 * 1 + 16 * 4, 16 * 4)
