"""The one home of number formatting (hybridperf.report.format): golden strings per style."""

from hybridperf.report.format import fmt_bytes, fmt_count, fmt_energy, fmt_time, format_si, table


def test_fixed_decimal_style():
    assert [fmt_bytes(n) for n in (None, 512, 1536, 3 * 2**20, 1.5 * 2**30)] == ["-", "512 B", "1.50 KiB", "3.00 MiB", "1.50 GiB"]
    # decimal prefixes up to T only: 2.5e15 stays in T
    assert [fmt_count(n) for n in (12, 2.5e9, 2.5e15)] == ["12 ", "2.500 G", "2500.000 T"]
    assert [fmt_energy(j) for j in (0.0, 2.5e-6, 2e-3, 2.0)] == ["0.0 uJ", "2.5 uJ", "2.000 mJ", "2.000 J"]
    assert fmt_time(None) == "-" and fmt_time(1e-12) == "0.001 ns"  # nonzero: not 0.0 ns


def test_significant_digit_style():
    assert format_si(19.5e12, "FLOP/s") == "19.5 TFLOP/s"
    assert format_si(80e9, "B", 3) == "80 GB"  # decimal prefixes for bytes, as datasheets
    assert format_si(3.35e12, "B/s") == "3.35 TB/s"
    assert [format_si(s, "s") for s in (2.0, 2.5e-3, 4e-6, 7e-9, 0.0)] == ["2 s", "2.5 ms", "4 us", "7 ns", "0 s"]
    assert format_si(0.5, "pJ") == "0.5 pJ" and format_si(700.0, "W") == "700 W"  # no prefix for pJ and W
    assert format_si(1.9789e15, "FLOP/s", sep="") == "1.979PFLOP/s"
    assert format_si(None, "B") == "-"


def test_table_aligns_and_rules():
    assert table([["a", "1"], ["bb", "22"]], ["k", "v"], "lr") == "k    v\n--  --\na    1\nbb  22"
    assert table([["a"]], ["k"], rule=False) == "k\na"
