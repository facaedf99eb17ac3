"""Device features, NeuSight pricing and the cross-device model: golden arithmetic, tiny synthetic sets."""

from __future__ import annotations

import csv
import gzip
import math

import numpy as np
import pytest

from hybridperf.cross_device import FEATURES, CrossDeviceModel, dispatch_floors, featurize
from hybridperf.device_features import (
    DERIVED_FEATURES,
    DEVICE_FEATURES,
    DeviceFigures,
    conv_as_gemm,
    derived_features,
    device_vector,
    gemm_tiles,
    wave_time_s,
    waves,
)
from hybridperf.errors import NotFittedError
from hybridperf.neusight import conv_out_size, load_ops, price_op, shape_row
from hybridperf.roofline import roofline
from hybridperf.spec import load_spec

T4 = DeviceFigures(peak_flops_per_s=8.1e12, peak_fp16_flops_per_s=65e12, dram_bytes_per_s=320e9, l2_bytes=4e6,
                   compute_units=40, fp32_lanes_per_unit=64, clock_hz=1.59e9, launch_overhead_s=5e-6)


# --------------------------------------------------------------------------- device features


def test_waves_and_tail_golden():
    # 512 x 512 in 128 x 128 tiles: 4 x 4 = 16 tiles
    assert gemm_tiles(512, 512, 1, 128, 128) == 16
    assert gemm_tiles(513, 512, 2, 128, 128) == 2 * 5 * 4  # ceil(513/128) = 5
    w, t = waves(16, 40)
    assert w == pytest.approx(16 / 40) and t == pytest.approx(16 / 40)  # one wave, 16 of 40 SMs busy
    w, t = waves(16, 108)
    assert t == pytest.approx(16 / 108)
    w, t = waves(100, 40)  # 2.5 waves: 3 waves of 40 slots hold 100 tiles
    assert w == pytest.approx(2.5) and t == pytest.approx(100 / 120)
    _, t = waves(80, 40)
    assert t == 1.0  # full waves


def test_wave_time_prices_whole_waves():
    # 256 x 256 x 64: 4 tiles of 128 x 128 -> one wave on 40 SMs, each SM does 2*128*128*64 FLOP at 8.1e12/40
    got = wave_time_s(256, 256, 64, 1, 128, 128, T4)
    assert got == pytest.approx(2 * 128 * 128 * 64 / (8.1e12 / 40))
    # 41 tiles -> two waves
    assert wave_time_s(128 * 41, 128, 64, 1, 128, 128, T4) == pytest.approx(2 * 2 * 128 * 128 * 64 / (8.1e12 / 40))


def test_conv_as_gemm():
    # B=2, 3 -> 8 channels, 3x3 kernel, 16x16 output: M = 2*16*16, N = 8, K = 3*3*3
    assert conv_as_gemm(2, 3, 8, 3, 16) == (512, 8, 27)


def test_ridge_and_device_vector_from_sheet():
    spec = load_spec("t4")
    fig = DeviceFigures.from_spec(spec)
    assert fig.ridge_flop_per_byte == pytest.approx(8.1e12 / 320e9)  # 25.3 FLOP/byte
    assert fig.compute_units == 40 and fig.fp32_lanes_per_unit == 64 and fig.clock_hz == 1590e6
    assert fig.l2_bytes == 4e6
    v = device_vector(fig)
    assert v.shape == (len(DEVICE_FEATURES),)
    assert v[DEVICE_FEATURES.index("compute_units")] == 40
    assert v[DEVICE_FEATURES.index("log_ridge_flop_per_byte")] == pytest.approx(math.log(8.1e12 / 320e9))
    assert v[DEVICE_FEATURES.index("log_peak_fp16_flops_per_s")] == pytest.approx(math.log(65e12))


def test_sheet_figures_agree_with_their_peak():
    # SMs x lanes x 2 FLOP x clock reproduces the datasheet FP32 peak within rounding
    for dev in ("t4", "v100-pcie-32gb", "p100-pcie-16gb", "p4", "a100-pcie-40gb", "a100-pcie-80gb", "h100-sxm", "l4"):
        s = load_spec(dev)
        assert s.compute_unit_count * s.fp32_lanes_per_unit * 2 * s.boost_clock_hz == pytest.approx(
            s.peak_flops("fp32"), rel=0.01), dev


def test_derived_features_shape_and_ratio_to_ridge():
    flops, nbytes = np.array([2.0 * 64**3]), np.array([3 * 64 * 64 * 4.0])
    X = derived_features(flops, nbytes, [64], [64], [64], [1], [64 * 64], T4, [1e-5], [flops[0] / 8.1e12],
                         [nbytes[0] / 320e9])
    assert X.shape == (1, len(DERIVED_FEATURES))
    ai = flops[0] / nbytes[0]  # 2*64^3 / (3*64*64*4) = 10.67 FLOP/byte
    assert X[0, DERIVED_FEATURES.index("log_intensity_over_ridge")] == pytest.approx(math.log(ai / 25.3125), abs=1e-9)
    assert X[0, DERIVED_FEATURES.index("tail_128x128")] == pytest.approx(1 / 40)  # one tile on 40 SMs
    # not a GEMM (m = 0): no tiles, tail 1
    Z = derived_features(flops, nbytes, [0], [0], [0], [0], [100], T4, [1e-5], [1e-6], [1e-6])
    assert Z[0, DERIVED_FEATURES.index("tail_64x64")] == 1.0


# --------------------------------------------------------------------------- NeuSight pricing


def test_price_bmm_linear_conv_ln_rows():
    c = price_op("bmm", {"B": 2, "M": 3, "N": 4, "K": 5})
    assert c.flops == 2 * 2 * 3 * 4 * 5  # FLOP = 2 x MAC; B*M*N outputs x K
    assert c.bytes_total == (2 * 3 * 5 + 2 * 5 * 4 + 2 * 3 * 4) * 4
    lin = price_op("linear", {"B": 1, "M": 3, "N": 4, "K": 5})
    assert lin.flops == 2 * 3 * 4 * 5 + 3 * 4  # GEMM + bias add
    assert lin.bytes_total == (3 * 5 + 5 * 4 + 4 + 3 * 4) * 4 and lin.weight_bytes == (5 * 4 + 4) * 4
    dims = {"B": 1, "Input_Channel": 3, "Output_Channel": 8, "Kernel_Szie": 3, "Input_Size": 8, "Stride": 1, "Padding": 1}
    cv = price_op("conv", dims)
    assert conv_out_size(8, 3, 1, 1) == 8
    assert cv.flops == 2 * (1 * 8 * 8 * 8) * (3 * 3 * 3)  # outputs x C_in x k x k MACs
    assert cv.bytes_total == (3 * 8 * 8 + 8 * 3 * 3 * 3 + 8 * 8 * 8) * 4
    ln = price_op("ln", {"B": 2, "H": 16})
    assert ln.flops == 8 * 2 * 16  # 8 FLOP per normalised element
    assert ln.bytes_total == (2 * 16 + 16 + 16 + 2 * 16) * 4
    assert price_op("addu", {"B": 2, "H": 16}).bytes_total == (2 * 16 + 1 + 2 * 16) * 4  # scalar operand
    row = dict(zip(("batch", "gemm_m", "gemm_n", "gemm_k"), shape_row("conv", dims)[:4]))
    assert row == {"batch": 1, "gemm_m": 64, "gemm_n": 8, "gemm_k": 27}


def _write(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def tiny_neusight(tmp_path):
    """Two devices, bmm + add; measured = 3 x roofline + 20 us (so the model has something to learn)."""
    rng = np.random.default_rng(0)
    for dev_file, dev in (("Tesla_T4", "t4"), ("Tesla_V100-PCIE-32GB", "v100-pcie-32gb")):
        spec = load_spec(dev)
        bmm, add = [], []
        for _ in range(60):
            b, m, n, k = (int(v) for v in rng.integers(1, 300, 4))
            r = roofline(price_op("bmm", {"B": b, "M": m, "N": n, "K": k}), spec).latency_s
            bmm.append(["bmm", (3 * r + 2e-5) * 1e3, b, m, n, k])
            b, h = (int(v) for v in rng.integers(1, 2000, 2))
            r = roofline(price_op("add", {"B": b, "H": h}), spec).latency_s
            add.append(["add", (3 * r + 2e-5) * 1e3, b, h])
        _write(tmp_path / "ops" / "bmm" / f"{dev_file}.csv.gz", ["OPName", "Latency", "B", "M", "N", "K"], bmm)
        _write(tmp_path / "ops" / "add" / f"{dev_file}.csv.gz", ["OPName", "Latency", "B", "H"], add)
    return tmp_path


def test_load_ops_prices_rows_on_their_sheet(tiny_neusight):
    rows = load_ops(tiny_neusight)
    assert len(rows) == 2 * 2 * 60
    assert set(rows.device) == {"t4", "v100-pcie-32gb"}
    i = int(np.where((rows.op == "bmm") & (rows.device == "t4"))[0][0])
    b, m, n, k = (int(rows.shapes[c][i]) for c in ("batch", "gemm_m", "gemm_n", "gemm_k"))
    est = roofline(price_op("bmm", {"B": b, "M": m, "N": n, "K": k}), load_spec("t4"))
    assert rows.roofline_s[i] == pytest.approx(est.latency_s)
    assert rows.target[i] == pytest.approx(math.log(rows.measured_s[i] / est.latency_s))


# --------------------------------------------------------------------------- model


def test_model_round_trip_and_a_sheet_without_measurements(tiny_neusight, tmp_path):
    rows = load_ops(tiny_neusight)
    specs = {d: load_spec(d) for d in ("t4", "v100-pcie-32gb", "l4")}
    floors = dispatch_floors(rows, quantile=0.0)
    X = featurize(rows, specs, floors)
    assert X.shape == (len(rows), len(FEATURES))
    with pytest.raises(NotFittedError):
        CrossDeviceModel().predict(X)
    m = CrossDeviceModel(n_estimators=20, num_leaves=7, min_data_in_leaf=5).fit(X, rows.target, devices=["t4", "v100-pcie-32gb"],
                                                                               floors=floors)
    assert m is not None and m.devices_ == ("t4", "v100-pcie-32gb")
    pred = m.predict(X)
    assert np.mean(np.abs(pred - rows.target)) < np.mean(np.abs(rows.target - rows.target.mean()))
    d = m.save(tmp_path / "model")
    assert (d / "cross_device.txt").exists() and (d / "cross_device.json").exists()
    m2 = CrossDeviceModel.load(d)
    np.testing.assert_allclose(m2.predict(X), pred)
    assert m2.floors_ == floors and m2.get_params() == m.get_params()
    # an L4 has no measurement anywhere: it is priced from its sheet and the training devices' median floor
    l4_rows = load_ops(tiny_neusight, devices=["t4"], specs={"t4": specs["l4"]}).take(np.arange(5))
    l4_rows = type(l4_rows)(**{**l4_rows.__dict__, "device": np.array(["l4"] * 5)})
    lat = m2.predict_latency(l4_rows, specs)
    assert lat.shape == (5,) and np.all(np.isfinite(lat)) and np.all(lat > 0)
    assert m2.floor_for("l4") == pytest.approx(np.median(list(floors.values())))
