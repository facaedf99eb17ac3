"""Energy audit of 2026-12-05: figures hand-checked from the shipped sheets, written as arithmetic.

energy = MACs x pJ/MAC[precision run at] + bytes x pJ/byte[dram] (dynamic) + idle W x latency (static), capped at
max W x latency (the cap said in the energy note); MACs = FLOPs / 2.
"""

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridperf.costs import OpCost
from hybridperf.device.spec import load_spec
from hybridperf.estimate.pricing import bounded_energy
from hybridperf.estimate.roofline import roofline
from hybridperf.report.format import fmt_energy

PJ = 1e-12
N = 1024  # a 1024 x 1024 @ 1024 x 1024 MatMul: 2 * 1024**3 FLOP, 1024**3 MACs


def _matmul_cost(elem_bytes: int) -> OpCost:
    """Reads x and W (2 * 1024 * 1024 elements), writes y (1024 * 1024), each ``elem_bytes`` B."""
    return OpCost(flops=2 * N**3, bytes_read=2 * N * N * elem_bytes, bytes_written=N * N * elem_bytes,
                  weight_bytes=N * N * elem_bytes)


def test_fmt_energy_nan_is_unknown_and_inf_does_not_raise():
    # until 2026-12-05 a NaN energy read "nan pJ" (a number in a unit) and an infinite one raised ValueError
    assert fmt_energy(float("nan")) == "-"
    assert fmt_energy(float("inf")) == "inf J"
    assert fmt_energy(2e-3) == "2.000 mJ"  # unchanged


def test_t4_fp32_matmul_roofline_energy_is_capped_at_70_w():
    t4 = load_spec("t4")  # 8.1 TFLOP/s fp32, 320 GB/s, 5 us launch, idle 10 W (estimate), max 70 W, 14.8 pJ/MAC, 112 pJ/B
    est = roofline(_matmul_cost(4), t4, "fp32")
    latency = 2 * N**3 / 8.1e12 + 5e-6  # 265.121 us compute (memory 12582912 B / 320 GB/s = 39.3 us) + 5 us = 270.121 us
    dynamic = N**3 * 14.8 * PJ + 3 * N * N * 4 * 112 * PJ  # 15.891 mJ + 1.409 mJ = 17.301 mJ
    assert est.latency_s == pytest.approx(latency)
    assert est.dynamic_energy_j == pytest.approx(dynamic)
    assert est.energy_j == pytest.approx(dynamic + 10 * latency)  # + 2.701 mJ = 20.002 mJ: 74.0 W, above 70 W
    energy, note = bounded_energy(est.energy_j, est.latency_s, t4)
    assert energy == pytest.approx(70 * latency)  # 18.909 mJ, what `predict --roofline-only -d t4` prints
    assert note.startswith("capped at max power 70 W x latency (the energy model implied 74.0 W")


def test_ethos_u55_int8_matmul_energy():
    u55 = load_spec("ethos-u55")  # 256 GOPS int8, 4 GB/s, 1 us launch, idle 0.01 W, max 0.5 W, 0.3 pJ/MAC, 12.5 pJ/B
    est = roofline(_matmul_cost(1), u55, "int8")  # --precision int8: 1 B per element
    latency = 2 * N**3 / 256e9 + 1e-6  # 8.388608 ms compute (memory 3145728 B / 4 GB/s = 0.786 ms) + 1 us
    dynamic = N**3 * 0.3 * PJ + 3 * N * N * 12.5 * PJ  # 0.32212 mJ + 0.03932 mJ
    assert est.latency_s == pytest.approx(latency)
    assert est.energy_j == pytest.approx(dynamic + 0.01 * latency)  # + 0.0839 mJ = 0.44534 mJ (53.1 mW < 0.5 W)
    assert bounded_energy(est.energy_j, est.latency_s, u55) == (est.energy_j, "")


def test_int8_kernel_on_a_sheet_without_int8_is_priced_at_fp32_energy_and_says_fp32():
    pi = load_spec("raspberry-pi-4b")  # fp32 96 GFLOP/s, no int8 peak; fp32 pJ/MAC (6.4 - 2.7) W / 48 G MAC/s = 77.1
    est = roofline(_matmul_cost(1), pi, "int8")
    assert est.precision == "fp32"  # kernels[].compute_precision: the precision whose peak and pJ/MAC priced it
    assert est.dynamic_energy_j == pytest.approx(N**3 * 77.1 * PJ + 3 * N * N * 160 * PJ)


@pytest.fixture(scope="module")
def matmul_onnx(tmp_path_factory) -> str:
    w = numpy_helper.from_array(np.ones((N, N), np.float32), "W")
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [N, N])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [N, N])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path_factory.mktemp("nrg") / "mm.onnx"
    onnx.save(m, path)
    return str(path)


def test_predict_t4_roofline_energy_capped_and_labelled(matmul_onnx):
    from hybridperf.api import predict

    pred = predict(matmul_onnx, "t4", residual=None)
    latency = 2 * N**3 / 8.1e12 + 5e-6
    assert pred.latency_s == pytest.approx(latency)
    assert pred.energy_j == pytest.approx(70 * latency)  # 70 W x 270.121 us = 18.909 mJ
    assert pred.energy_note.startswith("capped at max power 70 W x latency")
    assert pred.energy_note.endswith("idle power of t4 estimated, not measured: `hybridperf devices show t4`")
    assert math.isclose(pred.energy_j / pred.latency_s, 70)
