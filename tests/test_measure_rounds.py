"""The interleaved-rounds protocol: order, speed-index arithmetic, summary and retest (no timing)."""

from __future__ import annotations

import math

import pytest

from hybridperf.errors import ModelLoadError
from hybridperf.device.cpuinfo import parse_cpuinfo
from hybridperf.measure.onnxruntime import Measurement
from hybridperf.measure.rounds import (
    RoundResult,
    SpeedSample,
    geometric_mean,
    normalise,
    retest,
    round_order,
    round_rows,
    round_speed_index,
    run_round,
    speed_row,
    split_half_min,
    summarize,
)

KEYS = [f"m{i}" for i in range(12)]


# --------------------------------------------------------------------------- order


def test_round_order_is_a_permutation_of_the_keys():
    for r in range(4):
        assert sorted(round_order(KEYS, r)) == sorted(KEYS)


def test_round_order_is_deterministic_and_ignores_input_order():
    assert round_order(KEYS, 2, seed=7) == round_order(list(reversed(KEYS)), 2, seed=7)


def test_round_order_differs_between_rounds_and_seeds():
    orders = {tuple(round_order(KEYS, r)) for r in range(4)}
    assert len(orders) == 4  # 12! orders: four rounds sharing one would be a bug
    assert round_order(KEYS, 0, seed=0) != round_order(KEYS, 0, seed=1)


def test_round_order_drops_duplicate_keys():
    assert round_order(["a", "b", "a"], 0) in (["a", "b"], ["b", "a"])


# --------------------------------------------------------------------------- speed index


def test_speed_sample_index_is_the_geometric_mean_of_its_kernels():
    s = SpeedSample(gemm_s=0.002, conv_s=0.004, stream_s=0.001)
    assert s.index_s == pytest.approx((0.002 * 0.004 * 0.001) ** (1 / 3))  # cube root of the product


def test_round_index_is_the_geometric_mean_of_start_and_end():
    start = SpeedSample(0.001, 0.001, 0.001)
    end = SpeedSample(0.004, 0.004, 0.004)
    assert round_speed_index(start, end) == pytest.approx(0.002)  # sqrt(1 ms * 4 ms)


def test_geometric_mean_rejects_non_positive_values():
    with pytest.raises(ValueError):
        geometric_mean([1.0, 0.0])
    with pytest.raises(ValueError):
        geometric_mean([])


def test_normalise_divides_by_the_index():
    assert normalise(0.030, 0.002) == pytest.approx(15.0)  # 30 ms / 2 ms
    with pytest.raises(ValueError):
        normalise(0.03, 0.0)


def test_a_uniformly_slower_host_leaves_normalised_latency_unchanged():
    # host 10 % slower: model and reference both take 1.1x as long
    assert normalise(0.030 * 1.1, 0.002 * 1.1) == pytest.approx(normalise(0.030, 0.002))


# --------------------------------------------------------------------------- summary


def _row(key, rnd, lat, idx, low=None):
    return {"key": key, "round": str(rnd), "latency_s": str(lat), "speed_index_s": str(idx),
            "latency_min_s": "" if low is None else str(low)}


ROWS = [
    # round 0: index 2 ms; round 1: host 1.5x slower (3 ms); round 2: index 2 ms
    _row("a", 0, 0.010, 0.002, 0.009), _row("a", 1, 0.015, 0.003, 0.014), _row("a", 2, 0.012, 0.002, 0.011),
    _row("b", 0, 0.100, 0.002), _row("b", 1, 0.150, 0.003), _row("b", 2, 0.100, 0.002),
]


def test_summary_keeps_median_and_minimum_over_rounds():
    a, b = summarize(ROWS)
    assert (a.key, a.rounds) == ("a", 3)
    assert a.latency_median_s == pytest.approx(0.012)  # median(10, 15, 12) ms
    assert a.latency_min_s == pytest.approx(0.009)  # fastest run of any round
    assert a.round_spread == pytest.approx(1.5)  # 15 ms / 10 ms
    assert b.latency_min_s == pytest.approx(0.100)  # no latency_min_s column: the round median stands in


def test_summary_normalises_each_round_by_its_own_index():
    a, b = summarize(ROWS)
    assert a.latency_norm_median == pytest.approx(5.0)  # median(10/2, 15/3, 12/2) = median(5, 5, 6)
    assert a.latency_norm_min == pytest.approx(4.5)  # min(9/2, 14/3, 11/2)
    assert b.latency_norm_median == pytest.approx(50.0)  # 100/2, 150/3, 100/2: the slow round is explained
    assert b.reference_index_s == pytest.approx(0.002)  # median of the rounds' indices (2, 3, 2 ms)
    assert b.latency_norm_s == pytest.approx(0.100)  # 50 reference units x 2 ms


def test_summary_of_selected_rounds():
    (a, _) = summarize(ROWS, rounds=[1])
    assert a.rounds == 1 and a.latency_median_s == pytest.approx(0.015) and a.reference_index_s == pytest.approx(0.003)
    assert summarize(ROWS, rounds=[9]) == []


# --------------------------------------------------------------------------- retest


def test_retest_statistics():
    a = {"x": 1.0, "y": 2.0, "z": 4.0, "only_a": 1.0}
    b = {"x": 1.02, "y": 2.2, "z": 4.0, "only_b": 3.0}
    s = retest(a, b)
    assert s.n == 3
    assert s.mape == pytest.approx((0.02 + 0.10 + 0.0) / 3)
    assert s.median_ratio == pytest.approx(1.02)  # ratios 1.02, 1.10, 1.00
    assert dict(s.within) == pytest.approx({0.03: 2 / 3, 0.10: 1.0})


def test_split_half_min_compares_the_halves_fastest_runs_and_is_unknown_without_halves():
    """A calibration's own test-retest: the second half's fastest run against the first's (CSV strings too);
    rows without both halves (one round) leave it unknown, never 0."""
    rows = [{"key": "a", "latency_min_first_half_s": "1e-3", "latency_min_second_half_s": "1.05e-3"},
            {"key": "b", "latency_min_first_half_s": 2e-3, "latency_min_second_half_s": 1.6e-3},
            {"key": "c", "latency_min_first_half_s": "", "latency_min_second_half_s": "1e-3"}]
    s = split_half_min(rows)
    assert s.n == 2 and s.mape == pytest.approx((0.05 + 0.2) / 2)
    assert dict(s.within)[0.10] == pytest.approx(1 / 2)
    assert split_half_min(rows[:1]) is None
    assert split_half_min([{"key": "a", "latency_min_s": 1e-3}, {"key": "b", "latency_min_s": 2e-3}]) is None


def test_retest_needs_common_positive_keys():
    with pytest.raises(ValueError):
        retest({"a": 1.0}, {"b": 1.0})
    with pytest.raises(ValueError):
        retest({"a": 0.0}, {"a": 1.0})


def test_normalisation_removes_a_uniform_slowdown_in_the_retest():
    test = [_row(k, 0, lat, 0.002) for k, lat in (("a", 0.01), ("b", 0.05))]
    later = [_row(k, 0, lat * 1.13, 0.002 * 1.13) for k, lat in (("a", 0.01), ("b", 0.05))]
    s_test, s_later = summarize(test), summarize(later)
    raw = retest({s.key: s.latency_median_s for s in s_test}, {s.key: s.latency_median_s for s in s_later})
    norm = retest({s.key: s.latency_norm_median for s in s_test}, {s.key: s.latency_norm_median for s in s_later})
    assert raw.mape == pytest.approx(0.13)
    assert norm.mape == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------------------- driver (fake measure and reference)


def _measurement(lat: float) -> Measurement:
    return Measurement(model="m.onnx", device="toy", runtime="onnxruntime", runtime_version="0", threads=1,
                       cpu_model="Toy", date_utc="2026-01-01T00:00:00+00:00", hybridperf_version="0",
                       input_shapes={"x": (1, 3)}, repeats=5, warmup=1, latency_s=lat, latency_p10_s=lat,
                       latency_p90_s=lat, latency_mean_s=lat, latency_std_s=0.0, load_avg_1m=0.0, latency_min_s=lat,
                       extra={"cpu": {"cpu_family": 25}})


def test_run_round_measures_in_round_order_between_two_reference_timings():
    samples = iter([SpeedSample(0.001, 0.001, 0.001, "t0"), SpeedSample(0.004, 0.004, 0.004, "t1")])
    seen = []

    def measure_one(key, rnd):
        seen.append((key, rnd))
        if key == "m3":
            raise ModelLoadError("cannot load m3\nsecond line")
        return _measurement(0.01)

    res = run_round(1, KEYS, measure_one, lambda: next(samples), seed=5)
    assert [k for k, _ in seen] == round_order(KEYS, 1, seed=5) and {r for _, r in seen} == {1}
    assert res.failures == (("m3", "cannot load m3"),)
    assert len(res.measurements) == len(KEYS) - 1
    assert res.index_s == pytest.approx(0.002)
    rows = round_rows(res, {"m0": {"family": "toy"}})
    assert [r["position"] for r in rows] == list(range(len(KEYS) - 1))
    r0 = next(r for r in rows if r["key"] == "m0")
    assert r0["family"] == "toy" and r0["cpu_family"] == 25 and r0["round"] == 1
    assert r0["latency_norm"] == pytest.approx(5.0)  # 10 ms / 2 ms
    assert speed_row(res)["drift"] == pytest.approx(4.0)  # end index 4 ms / start 1 ms


def test_summary_reads_round_rows():
    res = RoundResult(0, (SpeedSample(0.002, 0.002, 0.002), SpeedSample(0.002, 0.002, 0.002)),
                      (("a", _measurement(0.01)),), brackets=(0,))
    (s,) = summarize(round_rows(res))
    assert s.latency_norm_median == pytest.approx(5.0) and math.isclose(s.latency_norm_s, 0.01)


def test_reference_every_brackets_each_measurement_with_local_timings():
    # timings 1, 2, 3, 4, 5 ms: start, after configurations 3, 6, 9, end (12 configurations)
    samples = iter([SpeedSample(t, t, t) for t in (0.001, 0.002, 0.003, 0.004, 0.005)])
    res = run_round(0, KEYS, lambda k, r: _measurement(0.01), lambda: next(samples), reference_every=3)
    assert len(res.samples) == 5 and res.brackets == (0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3)
    assert res.local_index_s(0) == pytest.approx(math.sqrt(0.001 * 0.002))
    assert res.local_index_s(11) == pytest.approx(math.sqrt(0.004 * 0.005))
    assert res.index_s == pytest.approx(math.sqrt(0.001 * 0.005))  # start and end only
    assert res.mean_index_s == pytest.approx((0.001 * 0.002 * 0.003 * 0.004 * 0.005) ** 0.2)
    assert res.min_index_s == pytest.approx(0.001)
    rows = round_rows(res)
    by_key = {x.key: x for x in summarize(rows, index_column="local_index_s")}
    assert by_key[rows[0]["key"]].latency_norm_median == pytest.approx(0.01 / math.sqrt(0.001 * 0.002))
    assert by_key[rows[-1]["key"]].latency_norm_median == pytest.approx(0.01 / math.sqrt(0.004 * 0.005))


# --------------------------------------------------------------------------- CPU identity

CPUINFO = """processor	: 0
vendor_id	: AuthenticAMD
cpu family	: 25
model		: 17
model name	: AMD EPYC
stepping	: 1
flags		: fpu sse2 avx2 avx512f avx512_vnni avx512_bf16

processor	: 1
vendor_id	: AuthenticAMD
model name	: something else
"""


def test_parse_cpuinfo_keeps_family_model_stepping_and_key_isa_flags():
    ident = parse_cpuinfo(CPUINFO)
    assert (ident.model_name, ident.vendor, ident.family, ident.model, ident.stepping) == ("AMD EPYC", "AuthenticAMD", 25, 17, 1)
    assert ident.isa == ("avx2", "avx512f", "avx512_vnni", "avx512_bf16")
    assert ident.as_row()["cpu_isa"] == "avx2|avx512f|avx512_vnni|avx512_bf16"


def test_parse_cpuinfo_without_numbers():
    ident = parse_cpuinfo("model name : Toy\nFeatures : asimd\n")
    assert ident.family is None and ident.isa == ("asimd",) and ident.as_row()["cpu_family"] == ""


# --------------------------------------------------------------------------- fastest reference runs


def test_speed_sample_keeps_the_fastest_runs_index():
    s = SpeedSample(0.002, 0.004, 0.001, "t", gemm_min_s=0.001, conv_min_s=0.002, stream_min_s=0.0005)
    assert s.index_min_s == pytest.approx((0.001 * 0.002 * 0.0005) ** (1 / 3))  # cube root of the minima
    assert SpeedSample(0.002, 0.004, 0.001).index_min_s == SpeedSample(0.002, 0.004, 0.001).index_s  # not recorded


def test_round_rows_carry_the_rounds_fastest_reference_runs():
    from hybridperf.measure.rounds import sample_rows

    samples = (SpeedSample(0.004, 0.004, 0.004, "t0", 0.003, 0.003, 0.003),
               SpeedSample(0.004, 0.004, 0.004, "t1", 0.002, 0.002, 0.002))
    res = RoundResult(0, samples, (("k", _measurement(0.010)),), (0,))
    assert res.min_run_index_s == pytest.approx(0.002)  # the second timing's minima
    row = round_rows(res)[0]
    assert row["round_min_run_index_s"] == pytest.approx(0.002)
    assert [r["index_min_s"] for r in sample_rows(res)] == pytest.approx([0.003, 0.002])
    assert speed_row(res)["min_run_index_s"] == pytest.approx(0.002)


def test_timing_spread_is_the_median_p90_over_p10():
    from hybridperf.errors import InputError
    from hybridperf.measure.rounds import timing_spread

    rows = [{"latency_p10_s": "1.0", "latency_p90_s": str(r)} for r in (1.05, 1.10, 1.48)]
    rows.append({"latency_p10_s": "", "latency_p90_s": ""})  # a row without the figures is skipped
    assert timing_spread(rows) == pytest.approx(1.10)
    assert timing_spread([{"latency_p10_s": 0.002, "latency_p90_s": 0.003}]) == pytest.approx(3 / 2)
    with pytest.raises(InputError, match="latency_p10_s"):
        timing_spread([{"key": "a"}])
