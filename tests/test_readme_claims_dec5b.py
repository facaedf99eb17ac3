"""README claims checked against the tool (audit of 2026-12-05b): what a stored model's sheet-change warning
writes ("warn naming each changed figure", README *Stored models and edited sheets*) uses the units the rest of
the reports use for the same figure."""

from __future__ import annotations

from hybridperf.precision import Precision
from hybridperf.residual.sheet import sheet_changes


def test_sheet_change_names_integer_peaks_in_ops_per_second():
    # until 2026-12-05b: an int8 peak changed by a re-probe read "peak_compute.int8 166.2 GFLOP/s -> 169.2 GFLOP/s"
    # in predict's warning, where `devices`, `devices show` and `probe` write that figure in OP/s (166.2 GOP/s)
    recorded = {"peak_compute.int8": 166.2e9, "peak_compute.fp32": 67.97e9}
    now = {"peak_compute.int8": 169.2e9, "peak_compute.fp32": 98.78e9}
    assert sheet_changes(recorded, now) == [
        "peak_compute.fp32 67.97 GFLOP/s -> 98.78 GFLOP/s",
        "peak_compute.int8 166.2 GOP/s -> 169.2 GOP/s",
    ]


def test_sheet_change_units_follow_the_precision_enum():
    # until 2026-12-05b: every peak_compute.* key was written in FLOP/s, integer precisions included
    for p in Precision:
        text = sheet_changes({f"peak_compute.{p.value}": 1e12}, {f"peak_compute.{p.value}": 2e12})[0]
        unit = "OP/s" if p.is_integer else "FLOP/s"
        assert text == f"peak_compute.{p.value} 1 T{unit} -> 2 T{unit}", text  # 1e12 and 2 * 1e12
