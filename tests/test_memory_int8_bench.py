"""The pure helpers of benchmarks/memory_int8.py (the int8 onnxruntime peak-memory benchmark)."""

from benchmarks.memory_int8 import formats, row_errors


def test_errors_against_median_with_and_without_scratch():
    # predicted 110 MiB of which 20 MiB kernel scratch, measured median 100 MiB: +10 % after, (90 / 100 - 1) = -10 % before
    mib = 2**20
    e = row_errors({"measured_median": 100 * mib, "predicted": 110 * mib, "kernel_scratch": 20 * mib})
    assert abs(e["err_after"] - (110 / 100 - 1) * 100) < 1e-9
    assert abs(e["err_before"] - (90 / 100 - 1) * 100) < 1e-9


def test_no_scratch_part_means_before_equals_after():
    e = row_errors({"measured_median": 50, "predicted": 55, "kernel_scratch": None})
    assert e["err_after"] == e["err_before"]


def test_unknown_prediction_is_unknown_not_zero():
    assert row_errors({"measured_median": 50, "predicted": None, "kernel_scratch": None}) == {
        "err_after": None, "err_before": None}


def test_transformers_also_get_dynamic():
    assert formats("bert_tiny") == ("QOperator", "QDQ", "dynamic")
    assert formats("resnet18") == ("QOperator", "QDQ")
