"""One home each: the "rounds up to the next prefix" rule in :func:`hybridperf.units.si_prefix` (``shown``), read by
:func:`~hybridperf.units.format_si`, :func:`~hybridperf.units.bytes_text` and the fixed-decimal formatters;
:func:`~hybridperf.report.format.fmt_bound`'s ``unknown`` for None; the reason printed beside a latency
(:attr:`~hybridperf.estimate.pricing.Prediction.latency_reason`); annotate's figure keys."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hybridperf.estimate.pricing import Prediction
from hybridperf.report.format import fmt_bound, fmt_bytes, fmt_count, fmt_energy, fmt_flops, fmt_time
from hybridperf.units import DECIMAL, SUBMULTIPLE, bytes_text, format_si, si_prefix

# --------------------------------------------------------------------------- the next prefix


@pytest.mark.parametrize("value, unit, digits, text", [
    # until 2026-12-05 format_si wrote a figure that rounds up to 1000 of its prefix at that prefix: "1000 kB",
    # "1000 us", "1000 ns", "1000 MB/s"; to three digits in scientific notation ("1e-6 s", "0.001 s")
    (1e6 - 40, "B", 4, "1 MB"),  # 999.96 kB
    (1e-3 - 1e-8, "s", 4, "1 ms"),  # 999.99 us
    (1e-6 - 4e-11, "s", 4, "1 us"),  # 999.96 ns
    (1e9 - 4e4, "B/s", 4, "1 GB/s"),  # 999.96 MB/s
    (1e-6 - 4e-11, "s", 3, "1 us"),
    (1e-3 - 1e-8, "s", 3, "1 ms"),
    (1 - 1e-5, "s", 4, "1 s"),  # 999.99 ms
    (1e15 - 4e10, "FLOP/s", 4, "1 PFLOP/s"),
    (1e3 - 0.04, "B", 4, "1 kB"),  # under every prefix: the unit is the rung below k
])
def test_format_si_rounding_up_reads_at_the_next_prefix(value, unit, digits, text):
    assert format_si(value, unit, digits) == text
    assert format_si(-value, unit, digits) == "-" + text


@pytest.mark.parametrize("value, unit, text", [
    (1e6 - 500, "B", "999.5 kB"),  # stays below: 4 digits show it
    (1e-3 - 1e-7, "s", "999.9 us"),
    (1e19, "FLOP/s", "1e19 FLOP/s"),  # past the largest prefix: scientific, as before
    (1e-12, "s", "1e-12 s"),  # below the smallest sub-multiple: as before
    (999.96, "W", "1000 W"),  # watts take no prefix
])
def test_format_si_elsewhere_unchanged(value, unit, text):
    assert format_si(value, unit) == text


def test_si_prefix_shown_steps_up_only_where_the_shown_number_reaches_the_next_factor():
    shown = lambda v, f: float(f"{v / f:.4g}")  # noqa: E731 - format_si's own rounding
    assert si_prefix(999960, DECIMAL) == (1e3, "k")  # no rounding given: the first prefix reached
    assert si_prefix(999960, DECIMAL, shown=shown) == (1e6, "M")
    assert si_prefix(999.96, DECIMAL, shown=shown) == (1e3, "k")  # from `below`, the rung under k
    assert si_prefix(999.4, DECIMAL, shown=shown) == (1.0, "")
    assert si_prefix(1e-12, SUBMULTIPLE, shown=shown) == (1.0, "")  # `below` above the ladder: no step
    assert si_prefix(2e18, DECIMAL, shown=shown) == (1e15, "P")  # the largest: nowhere to step


@pytest.mark.parametrize("fmt, value, text", [
    # the three copies of the rule, now si_prefix's: the same figures as before
    (bytes_text, 2**20 - 1, "1.00 MiB"),
    (bytes_text, 1023.6, "1.00 KiB"),
    (bytes_text, 1023.4, "1023 B"),
    (bytes_text, 9999.999 * 2**60, "1.153e22 B"),  # 10000.00 EiB shown: scientific
    (fmt_bytes, 2**30 - 2**10, "1.00 GiB"),
    (fmt_time, 1e-3 - 4e-11, "1.000 ms"),
    (fmt_time, 1e-6 - 4e-12, "1.0 us"),
    (fmt_time, 1e-3 - 1e-7, "999.9 us"),  # one decimal under the milli unit
    (fmt_energy, 1e3 - 4e-4, "1.000 kJ"),
    (fmt_energy, 1e-9 - 4e-14, "1.0 nJ"),
    (fmt_count, 999.6, "1.000 k"),
    (fmt_count, 999999.6, "1.000 M"),
    (fmt_count, 999.4, "999 "),
    (fmt_flops, 1e13 * 1000 - 1, "1.000e16 FLOP"),
])
def test_fixed_formatters_step_up_as_before(fmt, value, text):
    assert fmt(value) == text


# --------------------------------------------------------------------------- fmt_bound of None


@pytest.mark.parametrize("fmt", [fmt_time, fmt_energy, fmt_flops, fmt_bytes])
def test_fmt_bound_none_is_unknown(fmt):
    # until 2026-12-05 an exact None was fmt(None): "-" (fmt_time, fmt_energy, fmt_bytes) or a TypeError (fmt_flops),
    # and mig, predict-many and the HTML cards worked round it, each its own way
    assert fmt_bound(None, fmt, False) == "unknown"
    assert fmt_bound(None, fmt, True) == "unknown"
    assert fmt_bound(0, fmt_time, False) == "0.0 us"  # an exact 0 stays 0


# --------------------------------------------------------------------------- the latency's reason


@pytest.mark.parametrize("lower, terms, unpriced, overhead, reason", [
    ("lower bound: 1 op uncosted: nonzero", "", "", "", "lower bound: 1 op uncosted: nonzero"),
    # a term of probed figures not priced (since 2026-12-07): a lower bound too, after the uncosted ops
    ("", "the time of x is not priced", "", "", "lower bound: the time of x is not priced"),
    ("lower bound: 1 op uncosted: nonzero", "the time of x is not priced", "", "",
     "lower bound: 1 op uncosted: nonzero; lower bound: the time of x is not priced"),
    ("", "", "nothing priced: ...", "", "nothing priced: ..."),
    ("", "", "", "the per-call overhead ...", "the per-call overhead ..."),
    ("", "", "", "", ""),
])
def test_latency_reason_is_the_first_of_lower_unpriced_overhead(lower, terms, unpriced, overhead, reason):
    pred = SimpleNamespace(lower_bound_reason=lower, unpriced_terms_reason=terms, unpriced_reason=unpriced,
                           call_overhead_note=overhead)
    assert Prediction.latency_reason.fget(pred) == reason


def test_latency_reason_of_a_model_of_views(analyzed):
    from hybridperf.api import predict_on
    from hybridperf.estimate.pricing import NO_CALL_OVERHEAD
    from hybridperf.report.annotate import header_line
    from hybridperf.report.text import to_table

    pred = predict_on(analyzed, "raspberry-pi-4b", residual="auto")  # a sheet without call_overhead
    assert pred.latency_reason == NO_CALL_OVERHEAD.format(runtime="onnxruntime", device="raspberry-pi-4b")
    assert f"latency   unknown   ({pred.latency_reason})" in to_table(pred)
    assert f"latency unknown ({pred.latency_reason})" in header_line(pred)


def test_annotate_figures_are_the_lower_bound_totals():
    from hybridperf.report.annotate import KERNEL_FIGURES, TOTAL_FIGURES
    from hybridperf.report.text import LOWER_BOUND_TOTALS

    assert KERNEL_FIGURES == TOTAL_FIGURES == LOWER_BOUND_TOTALS
