"""Device features, NeuSight pricing and the cross-device model: golden arithmetic, tiny synthetic sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from neusight_fake import write_tree

from hybridperf.costs import build_registry
from hybridperf.residual.cross_device import FEATURES, CrossDeviceModel, baseline, featurize, runtime_probes
from hybridperf.residual.device_features import (
    DERIVED_FEATURES,
    DeviceFigures,
    RuntimeProbe,
    base_latency_s,
    conv_as_gemm,
    derived_features,
    gemm_tiles,
    wave_time_s,
    waves,
)
from hybridperf.device.spec import load_spec
from hybridperf.errors import InputError, NotFittedError
from hybridperf.estimate.roofline import roofline
from hybridperf.residual.neusight import conv_out_size, load_ops, price_op, shape_row

T4 = DeviceFigures(peak_flops_per_s=8.1e12, dram_bytes_per_s=320e9, l2_bytes=4e6, compute_units=40,
                   fp32_lanes_per_unit=64)
#: cost rules without the TVM existence check (the rules are the same; building is faster)
REG = build_registry(check_exists=False)


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


def test_figures_from_sheet():
    fig = DeviceFigures.from_spec(load_spec("t4"))
    assert fig.ridge_flop_per_byte == pytest.approx(8.1e12 / 320e9)  # 25.3 FLOP/byte
    assert fig.compute_units == 40 and fig.fp32_lanes_per_unit == 64 and fig.l2_bytes == 4e6


def test_runtime_probe_rejects_non_positive():
    with pytest.raises(ValueError):
        RuntimeProbe(0.0)
    with pytest.raises(ValueError):
        RuntimeProbe(2e-5, -1.0)


def test_baseline_is_max_of_compute_memory_floor():
    probe = RuntimeProbe(2e-5)
    # 8.1e9 FLOP at 8.1e12 = 1 ms; 3.2e6 bytes at 320e9 = 10 us; floor 20 us -> compute
    assert base_latency_s(8.1e9, 3.2e6, T4, probe) == pytest.approx(1e-3)
    # tiny op: the floor
    assert base_latency_s(10.0, 40.0, T4, probe) == pytest.approx(2e-5)
    # memory-bound at the probed bandwidth (160 GB/s): 3.2e7 bytes -> 200 us
    assert base_latency_s(1e3, 3.2e7, T4, RuntimeProbe(2e-5, 160e9)) == pytest.approx(3.2e7 / 160e9)


def test_sheet_figures_agree_with_their_peak():
    # SMs x lanes x 2 FLOP x clock reproduces the datasheet FP32 peak within rounding
    for dev in ("t4", "v100-pcie-32gb", "p100-pcie-16gb", "p4", "a100-pcie-40gb", "a100-pcie-80gb", "h100-sxm", "l4"):
        s = load_spec(dev)
        assert s.compute_unit_count * s.fp32_lanes_per_unit * 2 * s.boost_clock_hz == pytest.approx(
            s.peak_flops("fp32"), rel=0.01), dev


def test_derived_features_golden():
    flops, nbytes = np.array([2.0 * 64**3]), np.array([3 * 64 * 64 * 4.0])
    probe = RuntimeProbe(2e-5)
    X = derived_features(flops, nbytes, [64], [64], [64], [1], [64 * 64], T4, probe)
    assert X.shape == (1, len(DERIVED_FEATURES))
    col = {n: X[0, i] for i, n in enumerate(DERIVED_FEATURES)}
    ai = flops[0] / nbytes[0]  # 2*64^3 / (3*64*64*4) = 10.67 FLOP/byte
    assert col["log_compute_over_memory"] == pytest.approx(math.log(ai / 25.3125), abs=1e-4)  # logs carry eps = 1e-12 s
    memory_s = nbytes[0] / 320e9  # memory-bound: 0.154 us of work against a 20 us floor
    assert col["log_work_over_floor"] == pytest.approx(math.log(memory_s / 2e-5), abs=1e-4)
    assert col["log_working_set_over_l2"] == pytest.approx(math.log(nbytes[0] / (4e6 + 1)), abs=1e-4)
    assert col["tail_128x128"] == pytest.approx(1 / 40)  # one tile on 40 SMs
    assert col["log_waves_64x64"] == pytest.approx(math.log(1 / 40))
    # one 128x128 tile of K = 64 at one SM's share of the peak over the ideal time: 128*128 / (64*64) * 40
    assert col["log_wave_time_128x128_over_compute"] == pytest.approx(math.log(128 * 128 / (64 * 64) * 40), abs=1e-4)
    # 4096 elements over 40 SMs x 64 lanes x 8 elements
    assert col["log_waves_elementwise"] == pytest.approx(math.log(4096 / (40 * 64 * 8)), abs=1e-4)
    # not a GEMM (m = 0): no tiles, tail 1, wave-time ratio 0
    Z = derived_features(flops, nbytes, [0], [0], [0], [0], [100], T4, probe)
    assert Z[0, DERIVED_FEATURES.index("tail_64x64")] == 1.0
    assert Z[0, DERIVED_FEATURES.index("log_wave_time_64x64_over_compute")] == 0.0


def test_features_carry_no_absolute_device_figure():
    # the same kernel on a device with everything twice as fast and a half floor has identical features
    flops, nbytes = np.array([1e9]), np.array([1e7])
    fast = DeviceFigures(2 * 8.1e12, 2 * 320e9, 4e6, 40, 64)
    a = derived_features(flops, nbytes, [512], [512], [512], [1], [512 * 512], T4, RuntimeProbe(2e-5))
    b = derived_features(flops, nbytes, [512], [512], [512], [1], [512 * 512], fast, RuntimeProbe(1e-5))
    np.testing.assert_allclose(a, b, atol=1e-9)


# --------------------------------------------------------------------------- NeuSight pricing


def test_price_bmm_linear_conv_ln_rows():
    c = price_op("bmm", {"B": 2, "M": 3, "N": 4, "K": 5}, REG)
    assert c.flops == 2 * 2 * 3 * 4 * 5  # FLOP = 2 x MAC; B*M*N outputs x K
    assert c.bytes_total == (2 * 3 * 5 + 2 * 5 * 4 + 2 * 3 * 4) * 4
    lin = price_op("linear", {"B": 1, "M": 3, "N": 4, "K": 5}, REG)
    assert lin.flops == 2 * 3 * 4 * 5 + 3 * 4  # GEMM + bias add
    assert lin.bytes_total == (3 * 5 + 5 * 4 + 4 + 3 * 4) * 4 and lin.weight_bytes == (5 * 4 + 4) * 4
    dims = {"B": 1, "Input_Channel": 3, "Output_Channel": 8, "Kernel_Szie": 3, "Input_Size": 8, "Stride": 1, "Padding": 1}
    cv = price_op("conv", dims, REG)
    assert conv_out_size(8, 3, 1, 1) == 8
    assert cv.flops == 2 * (1 * 8 * 8 * 8) * (3 * 3 * 3)  # outputs x C_in x k x k MACs
    assert cv.bytes_total == (3 * 8 * 8 + 8 * 3 * 3 * 3 + 8 * 8 * 8) * 4
    ln = price_op("ln", {"B": 2, "H": 16}, REG)
    assert ln.flops == 8 * 2 * 16  # 8 FLOP per normalised element
    assert ln.bytes_total == (2 * 16 + 16 + 16 + 2 * 16) * 4
    assert price_op("addu", {"B": 2, "H": 16}, REG).bytes_total == (2 * 16 + 1 + 2 * 16) * 4  # scalar operand
    row = dict(zip(("batch", "gemm_m", "gemm_n", "gemm_k"), shape_row("conv", dims)[:4]))
    assert row == {"batch": 1, "gemm_m": 64, "gemm_n": 8, "gemm_k": 27}


@pytest.fixture
def tiny_neusight(tmp_path):
    """Two devices, bmm + add; measured = 3 x roofline + 20 us (so the model has something to learn)."""
    return write_tree(tmp_path, 60, lambda op, cost, spec: 3 * roofline(cost, spec).latency_s + 2e-5)


def test_load_ops_prices_rows_on_their_sheet(tiny_neusight):
    rows = load_ops(tiny_neusight, registry=REG)
    assert len(rows) == 2 * 2 * 60
    assert set(rows.device) == {"t4", "v100-pcie-32gb"}
    i = int(np.where((rows.op == "bmm") & (rows.device == "t4"))[0][0])
    b, m, n, k = (int(rows.shapes[c][i]) for c in ("batch", "gemm_m", "gemm_n", "gemm_k"))
    est = roofline(price_op("bmm", {"B": b, "M": m, "N": n, "K": k}, REG), load_spec("t4"))
    assert rows.roofline_s[i] == pytest.approx(est.latency_s)
    assert rows.target[i] == pytest.approx(math.log(rows.measured_s[i] / est.latency_s))


# --------------------------------------------------------------------------- model


def test_runtime_probes_golden(tiny_neusight):
    rows = load_ops(tiny_neusight, registry=REG)
    pr = runtime_probes(rows, floor_ops=("add",), quantile=0.0)
    for dev in ("t4", "v100-pcie-32gb"):
        on = (rows.device == dev) & (rows.op == "add")
        assert pr[dev].dispatch_floor_s == pytest.approx(rows.measured_s[on].min())  # the smallest add
        i = np.where(on)[0][np.argmax(rows.bytes_total[on])]  # the largest add: bytes / latency
        assert pr[dev].stream_bytes_per_s == pytest.approx(rows.bytes_total[i] / rows.measured_s[i])


def test_model_round_trip_and_a_sheet_without_measurements(tiny_neusight, tmp_path):
    rows = load_ops(tiny_neusight, registry=REG)
    specs = {d: load_spec(d) for d in ("t4", "v100-pcie-32gb", "l4")}
    probes = runtime_probes(rows, floor_ops=("add",), quantile=0.0)
    X = featurize(rows, specs, probes)
    y = np.log(rows.measured_s / baseline(rows, specs, probes))
    assert X.shape == (len(rows), len(FEATURES))
    with pytest.raises(InputError):
        featurize(rows, specs, {})  # every device needs a probe
    with pytest.raises(NotFittedError):
        CrossDeviceModel().predict(X)
    m = CrossDeviceModel(n_estimators=20, num_leaves=7, min_data_in_leaf=5).fit(
        X, y, devices=["t4", "v100-pcie-32gb"], probes=probes, specs=specs)
    assert m.devices_ == ("t4", "v100-pcie-32gb")
    pred = m.predict(X)
    assert np.mean(np.abs(pred - y)) < np.mean(np.abs(y - y.mean()))
    d = m.save(tmp_path / "model")
    assert (d / "cross_device.txt").exists() and (d / "cross_device.json").exists()
    m2 = CrossDeviceModel.load(d)
    np.testing.assert_allclose(m2.predict(X), pred)
    assert m2.probes_ == probes and m2.get_params() == m.get_params()
    # an L4 has no measurement anywhere ("zero-shot from spec"): the training devices' median floor and the
    # L4 sheet bandwidth x their median attainable fraction
    frac = np.median([probes[dv].stream_bytes_per_s / specs[dv].dram_bandwidth_bytes_per_s for dv in probes])
    zs = m2.probe_for("l4", specs["l4"])
    assert zs.dispatch_floor_s == pytest.approx(np.median([p.dispatch_floor_s for p in probes.values()]))
    assert zs.stream_bytes_per_s == pytest.approx(frac * specs["l4"].dram_bandwidth_bytes_per_s)
    assert m2.probe_for("t4", specs["t4"]) == probes["t4"]  # a trained device keeps its own probe
    l4_rows = load_ops(tiny_neusight, devices=["t4"], specs={"t4": specs["l4"]}, registry=REG).take(np.arange(5))
    l4_rows = type(l4_rows)(**{**l4_rows.__dict__, "device": np.array(["l4"] * 5)})
    lat = m2.predict_latency(l4_rows, specs)
    assert lat.shape == (5,) and np.all(np.isfinite(lat)) and np.all(lat > 0)


def test_device_bag_is_the_mean_of_the_model_and_one_per_left_out_group(tiny_neusight, tmp_path):
    rows = load_ops(tiny_neusight, registry=REG)
    specs = {d: load_spec(d) for d in ("t4", "v100-pcie-32gb")}
    probes = runtime_probes(rows, floor_ops=("add",), quantile=0.0)
    X = featurize(rows, specs, probes)
    y = np.log(rows.measured_s / baseline(rows, specs, probes))
    params = {"n_estimators": 20, "num_leaves": 7, "min_data_in_leaf": 5}
    with pytest.raises(InputError):
        CrossDeviceModel(**params, device_bagging=True).fit(X, y, probes=probes, specs=specs)  # no groups
    with pytest.raises(InputError):
        CrossDeviceModel(**params, device_bagging=True).fit(X, y, probes=probes, specs=specs,
                                                            groups=["t4"] * len(y))  # one group leaves nothing
    m = CrossDeviceModel(**params, device_bagging=True).fit(
        X, y, devices=["t4", "v100-pcie-32gb"], probes=probes, specs=specs, groups=rows.device)
    assert m.bag_groups_ == ("t4", "v100-pcie-32gb") and len(m.bag_) == 2  # 1 + 2 boosters
    # each left-out member equals a plain model fitted without that group's rows
    for g, member in zip(m.bag_groups_, m.bag_):
        keep = rows.device != g
        alone = CrossDeviceModel(**params).fit(X[keep], y[keep], probes=probes, specs=specs)
        np.testing.assert_allclose(member.predict(X), alone.predict(X))
    full = CrossDeviceModel(**params).fit(X, y, probes=probes, specs=specs).predict(X)
    np.testing.assert_allclose(m.predict(X), (full + m.bag_[0].predict(X) + m.bag_[1].predict(X)) / 3)
    d = m.save(tmp_path / "bag")
    assert sorted(f.name for f in d.glob("cross_device.bag*.txt")) == ["cross_device.bag1.txt", "cross_device.bag2.txt"]
    np.testing.assert_allclose(CrossDeviceModel.load(d).predict(X), m.predict(X))
    # a single model saved over it leaves no stale bag members behind
    CrossDeviceModel(**params).fit(X, y, probes=probes, specs=specs).save(d)
    assert not list(d.glob("cross_device.bag*.txt")) and CrossDeviceModel.load(d).bag_ == []


def test_stored_model_loads_and_predicts():
    from pathlib import Path

    import hybridperf

    d = Path(hybridperf.__file__).parent / "data" / "models" / "cross-device"
    m = CrossDeviceModel.load(d)
    assert set(m.devices_) >= {"p4", "t4", "v100-pcie-32gb", "p100-pcie-16gb", "a100-pcie-40gb"}
    assert m.stream_fraction_ < 1.0 and 1e-6 < m.default_floor_s_ < 1e-4


# --------------------------------------------------------------------------- GEMM probe


def _priced(ops, devices, measured_s, flops, shapes):
    """Hand-made priced rows: ``shapes`` rows of (batch, m, n, k); bytes 0, other shape columns 0."""
    from types import MappingProxyType

    from hybridperf.residual.neusight import SHAPE_COLUMNS, PricedOps

    n = len(ops)
    cols = {c: np.zeros(n) for c in SHAPE_COLUMNS}
    for j, c in enumerate(("batch", "gemm_m", "gemm_n", "gemm_k")):
        cols[c] = np.array([s[j] for s in shapes], float)
    z = np.zeros(n)
    return PricedOps(np.array(ops), np.array(["bmm"] * n), np.array(devices), np.array(measured_s, float),
                     np.array(flops, float), z, z + 1.0, z, z, MappingProxyType(cols))


def test_runtime_probe_gemm_figures():
    assert RuntimeProbe(2e-5).gemm_figures(T4) == T4  # no GEMM probe: the sheet
    fig = RuntimeProbe(2e-5, None, 3e12).gemm_figures(T4)
    assert fig.peak_flops_per_s == 3e12 and fig.dram_bytes_per_s == T4.dram_bytes_per_s
    with pytest.raises(ValueError):
        RuntimeProbe(2e-5, None, 0.0)


def test_gemm_probe_rows_and_rate_golden():
    from hybridperf.residual.cross_device import gemm_probe_rows

    big, mid, small, only_t4 = (1, 100, 100, 100), (2, 50, 50, 50), (1, 10, 10, 10), (4, 100, 100, 100)
    shapes = [big, mid, small, only_t4, big, mid, small]
    devices = ["t4"] * 4 + ["v100"] * 3
    flops = [2 * b * m * n * k for b, m, n, k in shapes]
    measured = [1e-3, 1e-4, 1e-5, 1e-3, 5e-4, 2e-4, 1e-5]
    rows = _priced(["bmm"] * 7, devices, measured, flops, shapes)
    # the largest shapes both devices measured: `only_t4` (4 x 100^3) is not common; top 2 = big (2e6 FLOP), mid (5e5)
    got = gemm_probe_rows(rows, top=2)
    assert sorted(got.tolist()) == [0, 1, 4, 5]
    pr = runtime_probes(rows.take(np.arange(7)), floor_ops=("bmm",), quantile=0.0, stream_op="none", gemm_rows=got)
    # t4: median of 2e6 / 1e-3 and 5e5 / 1e-4 = (2e9 + 5e9) / 2
    assert pr["t4"].gemm_flops_per_s == pytest.approx((2e6 / 1e-3 + 5e5 / 1e-4) / 2)
    assert pr["v100"].gemm_flops_per_s == pytest.approx((2e6 / 5e-4 + 5e5 / 2e-4) / 2)
    assert runtime_probes(rows, floor_ops=("bmm",), quantile=0.0)["t4"].gemm_flops_per_s is None


def test_baseline_prices_bmm_at_the_gemm_probe(tiny_neusight):
    rows = load_ops(tiny_neusight, registry=REG)
    specs = {d: load_spec(d) for d in ("t4", "v100-pcie-32gb")}
    probes = runtime_probes(rows, floor_ops=("add",), quantile=0.0)
    slow = {d: RuntimeProbe(p.dispatch_floor_s, p.stream_bytes_per_s, 1e9) for d, p in probes.items()}  # 1 GFLOP/s
    a, b = baseline(rows, specs, probes), baseline(rows, specs, slow)
    i = int(np.where((rows.op == "bmm") & (rows.device == "t4"))[0][0])
    bw = probes["t4"].stream_bytes_per_s
    assert b[i] == pytest.approx(max(rows.flops[i] / 1e9, rows.bytes_total[i] / bw, probes["t4"].dispatch_floor_s))
    assert a[i] == pytest.approx(max(rows.flops[i] / 8.1e12, rows.bytes_total[i] / bw, probes["t4"].dispatch_floor_s))
    add = rows.op == "add"
    np.testing.assert_allclose(a[add], b[add])  # element-wise rows keep the sheet peak


def test_gemm_probe_model_defaults_and_round_trip(tiny_neusight, tmp_path):
    rows = load_ops(tiny_neusight, registry=REG)
    specs = {d: load_spec(d) for d in ("t4", "v100-pcie-32gb", "l4")}
    base = runtime_probes(rows, floor_ops=("add",), quantile=0.0)
    gemm = {"t4": 4.05e12, "v100-pcie-32gb": 10.5e12}  # 50 % and 75 % of the sheet fp32 peaks (8.1, 14 TFLOP/s)
    probes = {d: RuntimeProbe(p.dispatch_floor_s, p.stream_bytes_per_s, gemm[d]) for d, p in base.items()}
    X = featurize(rows, specs, probes)
    y = np.log(rows.measured_s / baseline(rows, specs, probes))
    with pytest.raises(InputError):  # gemm_probe without GEMM rates
        CrossDeviceModel(n_estimators=5, gemm_probe=True).fit(X, y, devices=list(base), probes=base, specs=specs)
    m = CrossDeviceModel(n_estimators=20, num_leaves=7, min_data_in_leaf=5, gemm_probe=True).fit(
        X, y, devices=list(probes), probes=probes, specs=specs)
    assert m.gemm_efficiency_ == pytest.approx((0.5 + 0.75) / 2)
    m2 = CrossDeviceModel.load(m.save(tmp_path / "model"))
    assert m2.probes_ == probes and m2.gemm_efficiency_ == pytest.approx(0.625)
    # zero-shot on an L4 sheet: GEMM rate = sheet fp32 peak x the median efficiency
    zs = m2.probe_for("l4", specs["l4"])
    assert zs.gemm_flops_per_s == pytest.approx(0.625 * specs["l4"].peak_flops("fp32"))
    # a given probe keeps its figures, missing ones are filled the zero-shot way
    given = m2.complete_probe(RuntimeProbe(3e-5, None, 2e12), specs["l4"])
    assert given.gemm_flops_per_s == 2e12 and given.stream_bytes_per_s == pytest.approx(zs.stream_bytes_per_s)
    # a model without gemm_probe drops a GEMM rate
    plain = CrossDeviceModel(n_estimators=5).fit(X, y, devices=list(probes), probes=probes, specs=specs)
    assert plain.complete_probe(RuntimeProbe(3e-5, None, 2e12), specs["l4"]).gemm_flops_per_s is None


def test_probed_sheet_gives_its_gemm_rate(tiny_neusight):
    from dataclasses import replace

    rows = load_ops(tiny_neusight, registry=REG)
    specs = {d: load_spec(d) for d in ("t4", "v100-pcie-32gb")}
    base = runtime_probes(rows, floor_ops=("add",), quantile=0.0)
    probes = {d: RuntimeProbe(p.dispatch_floor_s, p.stream_bytes_per_s, 0.5 * specs[d].peak_flops("fp32"))
              for d, p in base.items()}
    m = CrossDeviceModel(n_estimators=5, num_leaves=7, min_data_in_leaf=5, gemm_probe=True).fit(
        featurize(rows, specs, probes), np.log(rows.measured_s / baseline(rows, specs, probes)),
        devices=list(probes), probes=probes, specs=specs)
    l4 = load_spec("l4")
    probed = replace(l4, id="my-l4", measured=frozenset({"peak_compute.fp32"}))  # as `hybridperf probe` writes it
    assert m.probe_for("my-l4", probed).gemm_flops_per_s == l4.peak_flops("fp32")
    assert m.probe_for("l4", l4).gemm_flops_per_s == pytest.approx(0.5 * l4.peak_flops("fp32"))


# --------------------------------------------------------------------------- family probes


def test_family_probe_rows_picks_common_shapes_at_work_quantiles():
    from hybridperf.residual.cross_device import family_probe_rows

    # four bmm shapes both devices measured (work 2 x 10^3, 2 x 20^3, 2 x 30^3, 2 x 40^3 FLOP) and one only t4 measured
    common = [(1, n, n, n) for n in (10, 20, 30, 40)]
    shapes = common + [(1, 50, 50, 50)] + common
    devices = ["t4"] * 5 + ["v100"] * 4
    flops = [2 * b * m * n * k for b, m, n, k in shapes]
    rows = _priced(["bmm"] * 9, devices, [1e-4] * 9, flops, shapes)
    # one per family: the quantile 0.5 of 4 common shapes = index int(0.5 x 4) = 2 (30^3), on both devices
    assert family_probe_rows(rows, per_family=1).tolist() == [2, 7]
    # two: quantiles 0.25 and 0.75 -> indices 1 (20^3) and 3 (40^3)
    assert family_probe_rows(rows, per_family=2).tolist() == [1, 3, 6, 8]


def test_family_offsets_golden():
    from hybridperf.residual.cross_device import family_offsets

    family = np.array(["bmm", "bmm", "bmm", "bmm", "conv", "softmax"])
    log_size = np.array([0.0, 2.0, 1.0, 5.0, 0.0, 0.0])
    resid = np.array([0.1, 0.3, 9.0, 9.0, 9.0, 0.2])
    probe = np.array([True, True, False, False, False, True])
    # bmm probes: residuals 0.1, 0.3 (median 0.2) at sizes 0, 2 (slope 0.1, median size 1); conv has no probe
    got = family_offsets(family, log_size, resid, probe, shrink=0.5)
    assert got.tolist() == pytest.approx([0.5 * 0.2] * 4 + [0.0, 0.5 * 0.2])
    got = family_offsets(family, log_size, resid, probe, shrink=1.0, slope_shrink=1.0)
    # size 5 is clipped to the probes' largest, 2
    assert got.tolist() == pytest.approx([0.2 + 0.1 * (0 - 1), 0.2 + 0.1 * (2 - 1), 0.2, 0.2 + 0.1 * (2 - 1), 0.0, 0.2])


def test_family_probe_size_is_intensity_for_bmm_and_log_roofline_otherwise():
    from hybridperf.residual.cross_device import FAMILY_PROBE_SHAPES, family_probe_ops, family_probe_size

    shapes = [("bmm", {"B": 32, "M": 75, "N": 30, "K": 288}), *FAMILY_PROBE_SHAPES]
    rows = family_probe_ops("t4", load_spec("t4"), [1e-4] * len(shapes), shapes)
    size = family_probe_size(rows)
    # a small bmm, 32 x (75x288 @ 288x30) on a T4 sheet (8.1 TFLOP/s fp32, 320 GB/s):
    # log(compute_s / memory_s) = log((2*32*75*30*288 / 8.1e12) / (4*(32*75*288 + 32*288*30 + 32*75*30) / 320e9))
    flops, nbytes = 2 * 32 * 75 * 30 * 288, 4 * (32 * 75 * 288 + 32 * 288 * 30 + 32 * 75 * 30)
    assert size[0] == pytest.approx(math.log((flops / 8.1e12) / (nbytes / 320e9)), rel=1e-6)  # logs of x + 1e-12
    other = rows.family != "bmm"
    np.testing.assert_allclose(size[other], np.log(rows.roofline_s[other]), rtol=1e-6)


def test_family_probe_shapes_are_per_family_count_in_work_order():
    from hybridperf.measure.torch_cuda import FAMILY_PROBE_CALLS
    from hybridperf.residual.cross_device import (
        FAMILY_PROBE_OPS,
        FAMILY_PROBE_SHAPES,
        FAMILY_PROBES_PER_FAMILY as k,
        family_probe_ops,
    )

    assert k == 64
    assert [op for op, _ in FAMILY_PROBE_SHAPES] == [op for op in FAMILY_PROBE_OPS.values() for _ in range(k)]
    assert set(FAMILY_PROBE_OPS.values()) <= set(FAMILY_PROBE_CALLS)  # the GPU probe can run every shape
    rows = family_probe_ops("t4", load_spec("t4"), [1e-4] * len(FAMILY_PROBE_SHAPES))
    assert list(rows.family) == [f for f in FAMILY_PROBE_OPS for _ in range(k)]
    for f in FAMILY_PROBE_OPS:  # increasing work, as family_probe_rows picks them (FLOPs for matmuls / conv)
        work = (rows.flops if f in ("bmm", "linear", "conv") else rows.bytes_total)[rows.family == f]
        assert np.all(np.diff(work) > 0)
    # golden: the smallest bmm (9 x 318x89 @ 89x3) and the largest linear (5278 x 7911 -> 25463, with bias)
    assert rows.flops[0] == 2 * 9 * 318 * 3 * 89
    assert rows.flops[2 * k - 1] == 2 * 5278 * 25463 * 7911 + 5278 * 25463
    with pytest.raises(InputError):
        family_probe_ops("t4", load_spec("t4"), [1e-4])


def test_family_probe_shapes_are_what_family_probe_rows_picks_on_neusight():
    from pathlib import Path

    from hybridperf.residual.cross_device import FAMILY_PROBE_SHAPES, family_probe_rows

    data = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "neusight"
    if not (data / "ops").is_dir():
        pytest.skip("NeuSight data not present")
    ops = ("ln", "softmax", "mul")  # the small families (loading bmm / linear / conv takes a minute)
    rows = load_ops(data, ops=ops)
    picked = {(str(rows.op[i]), int(rows.shapes["batch"][i]), int(rows.shapes["row"][i]))
              for i in family_probe_rows(rows)}
    assert picked == {(op, d["B"], d["H"]) for op, d in FAMILY_PROBE_SHAPES if op in ops}


def test_family_probes_rescale_their_family(tiny_neusight, tmp_path):
    from hybridperf.residual.cross_device import FAMILY_PROBE_SHAPES, family_probe_ops

    rows = load_ops(tiny_neusight, registry=REG)
    specs = {d: load_spec(d) for d in ("t4", "v100-pcie-32gb")}
    probes = runtime_probes(rows, floor_ops=("add",), quantile=0.0)
    X, y = featurize(rows, specs, probes), np.log(rows.measured_s / baseline(rows, specs, probes))
    m = CrossDeviceModel(n_estimators=20, num_leaves=7, min_data_in_leaf=5, family_shrink=0.5).fit(
        X, y, devices=list(specs), probes=probes, specs=specs)
    t4 = rows.take(rows.device == "t4")
    plain = m.predict_latency(t4, specs)
    # every bmm probe measured at twice the model's prediction; no other family probed
    shapes = [s for s in FAMILY_PROBE_SHAPES if s[0] == "bmm"][::16]
    pred = m.predict_latency(family_probe_ops("t4", specs["t4"], [1.0] * 4, shapes), specs)
    fp = family_probe_ops("t4", specs["t4"], 2 * pred, shapes)
    got = m.predict_latency(t4, specs, family_probes={"t4": fp})
    bmm = t4.family == "bmm"
    np.testing.assert_allclose(got[bmm], plain[bmm] * 2 ** 0.5)  # shrink 0.5 of the log offset log 2
    np.testing.assert_allclose(got[~bmm], plain[~bmm])  # add: no probe of its family
    m2 = CrossDeviceModel.load(m.save(tmp_path / "m"))
    np.testing.assert_allclose(m2.predict_latency(t4, specs, family_probes={"t4": fp}), got)
    assert CrossDeviceModel(n_estimators=20).get_params()["family_shrink"] == 0.0  # off unless chosen


def test_probe_weighted_golden():
    from hybridperf.residual.cross_device import family_offsets, probe_weighted

    log_pred = np.array([[0.0, 0.0, 0.0, 5.0], [0.0, 1.0, 0.0, 7.0]])  # two members
    family = np.array(["bmm", "bmm", "bmm", "conv"])
    probe = np.array([True, True, False, False])
    log_meas = np.array([1.0, 1.0, 0.0, 0.0])
    size = np.zeros(4)
    # member 0: probe residuals 1, 1 (median 1, deviation e = 0): its bmm row 0 + 1 = 1
    # member 1: probe residuals 1, 0 (median 0.5, e = 0.5): its bmm row 0 + 0.5; weight exp(-0.5 / 0.25) = e^-2
    got = probe_weighted(log_pred, family, size, log_meas, probe, tau=0.25, main=1)
    w = math.exp(-2)
    assert got[2] == pytest.approx((1.0 + w * 0.5) / (1 + w))
    assert got[3] == 5.0  # conv has no probe: the mean of the first `main` members
    assert probe_weighted(log_pred, family, size, log_meas, probe, tau=0.25)[3] == 6.0  # main: all members
    # one member: its prediction rescaled by family_offsets
    one = probe_weighted(log_pred[1:], family, size, log_meas, probe, shrink=0.5)
    np.testing.assert_allclose(one, log_pred[1] + family_offsets(family, size, log_meas - log_pred[1], probe, 0.5))
    with pytest.raises(InputError):
        probe_weighted(log_pred, family, size, log_meas, probe, tau=0.0)


def test_device_specialists_are_weighed_by_family_probes_and_round_trip(tiny_neusight, tmp_path):
    from hybridperf.residual.cross_device import (
        FAMILY_PROBE_SHAPES,
        family_probe_ops,
        family_probe_size,
        probe_weighted,
    )

    rows = load_ops(tiny_neusight, registry=REG)
    specs = {d: load_spec(d) for d in ("t4", "v100-pcie-32gb")}
    probes = runtime_probes(rows, floor_ops=("add",), quantile=0.0)
    X, y = featurize(rows, specs, probes), np.log(rows.measured_s / baseline(rows, specs, probes))
    small = {"n_estimators": 20, "num_leaves": 7, "min_data_in_leaf": 5}
    params = {**small, "device_bagging": True, "family_shrink": 1.0}
    with pytest.raises(InputError):  # specialists need groups
        CrossDeviceModel(**small, device_specialists=True).fit(X, y, probes=probes, specs=specs)
    bag = CrossDeviceModel(**params).fit(X, y, probes=probes, specs=specs, groups=rows.device)
    m = CrossDeviceModel(**params, device_specialists=True, family_weight_tau=0.05).fit(
        X, y, devices=list(specs), probes=probes, specs=specs, groups=rows.device)
    assert m.specialist_groups_ == ("t4", "v100-pcie-32gb") and len(m.specialists_) == 2
    for g, member in zip(m.specialist_groups_, m.specialists_):  # a plain model on its group's rows alone
        keep = rows.device == g
        alone = CrossDeviceModel(**small).fit(X[keep], y[keep], probes=probes, specs=specs)
        np.testing.assert_allclose(member.predict(X), alone.predict(X))
    np.testing.assert_allclose(m.predict(X), bag.predict(X))  # specialists stay out of plain predictions
    assert m.predict_members(X).shape == (5, len(X))  # model, 2 left-out, 2 specialists
    t4 = rows.take(rows.device == "t4")
    plain = m.predict_latency(t4, specs)
    np.testing.assert_allclose(plain, bag.predict_latency(t4, specs))
    shapes = [s for s in FAMILY_PROBE_SHAPES if s[0] == "bmm"][::16]
    pred = m.predict_latency(family_probe_ops("t4", specs["t4"], [1.0] * 4, shapes), specs)
    fp = family_probe_ops("t4", specs["t4"], pred * np.array([2.0, 2.0, 3.0, 1.5]), shapes)
    got = m.predict_latency(t4, specs, family_probes={"t4": fp})
    pr = {"t4": m.probe_for("t4", specs["t4"])}

    def log_members(r):
        return np.log(baseline(r, specs, pr)) + m.predict_members(featurize(r, specs, pr))

    n, k = len(fp), len(t4)
    want = probe_weighted(np.concatenate([log_members(fp), log_members(t4)], axis=1),
                          np.concatenate([fp.family, t4.family]),
                          np.concatenate([family_probe_size(fp), family_probe_size(t4)]),
                          np.concatenate([np.log(fp.measured_s), np.zeros(k)]), np.arange(n + k) < n, 1.0, 0.0, 0.05,
                          main=3)[n:]
    np.testing.assert_allclose(got, np.exp(want))
    bmm = t4.family == "bmm"
    assert not np.allclose(got[bmm], plain[bmm])
    np.testing.assert_allclose(got[~bmm], plain[~bmm])  # no probe of their family: the bag's prediction
    d = m.save(tmp_path / "m")
    assert sorted(f.name for f in d.glob("cross_device.specialist*.txt")) == [
        "cross_device.specialist1.txt", "cross_device.specialist2.txt"]
    m2 = CrossDeviceModel.load(d)
    assert m2.get_params() == m.get_params() and m2.specialist_groups_ == m.specialist_groups_
    np.testing.assert_allclose(m2.predict_latency(t4, specs, family_probes={"t4": fp}), got)
    bag.save(d)  # a model without specialists saved over it leaves none behind
    assert not list(d.glob("cross_device.specialist*.txt")) and len(CrossDeviceModel.load(d).specialists_) == 0
