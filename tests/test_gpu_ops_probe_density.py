"""The local correction grid of benchmarks/gpu_ops_probe_density.py on tiny arrays (no data files)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import gpu_ops_probe_density as pd

FAMILY = np.array(["a", "a", "a", "b"])
PROBE = np.array([True, True, False, False])
RESID = np.array([0.2, -0.1, 99.0, 99.0])  # read on the probe rows only
UNIT = {"a": (np.zeros(1), np.ones(1))}


def test_local_correction_is_a_shrunk_kernel_smooth():
    x = np.array([[0.0], [1.0], [0.5], [7.0]])
    out = pd.local_corrections(x, FAMILY, RESID, PROBE, UNIT, grid=((1.0, 0.5),))[(1.0, 0.5)]
    w01 = math.exp(-0.5 * 1.0)  # probe 0 to probe 1: d2 = 1, h = 1
    w2 = math.exp(-0.5 * 0.25)  # row 2 to either probe: d2 = 0.5^2
    assert out[0] == pytest.approx((0.2 + w01 * -0.1) / (1 + w01 + 0.5))
    assert out[1] == pytest.approx((w01 * 0.2 - 0.1) / (w01 + 1 + 0.5))
    assert out[2] == pytest.approx(w2 * (0.2 - 0.1) / (2 * w2 + 0.5))
    assert out[3] == 0.0  # family "b" has no probe rows


def test_distance_is_a_mean_over_the_features_that_vary():
    x1 = np.array([[0.0], [1.0], [0.5], [7.0]])
    # a duplicated feature leaves the mean squared difference as it was; a constant one (sd 0) is dropped
    x3 = np.column_stack([x1, x1, np.full(4, 3.0)])
    scales = {"a": (np.zeros(3), np.array([1.0, 1.0, 0.0]))}
    grid = ((0.25, 0.01), (0.5, 0.1))
    one = pd.local_corrections(x1, FAMILY, RESID, PROBE, UNIT, grid=grid)
    three = pd.local_corrections(x3, FAMILY, RESID, PROBE, scales, grid=grid)
    for hc in grid:
        np.testing.assert_allclose(three[hc], one[hc])


def test_scales_come_from_the_rows_given():
    from hybridperf.residual.cross_device import family_scales

    x = np.array([[0.0], [2.0], [10.0], [5.0]])
    ref = np.array([True, True, False, True])  # the benchmark passes the training GPUs' rows only
    scales = family_scales(x[ref], FAMILY[ref])
    mean, sd = scales["a"]
    assert mean[0] == pytest.approx(1.0)  # (0 + 2) / 2; row 2 (10) is not a reference row
    assert sd[0] == pytest.approx(1.0)  # sqrt(((0 - 1)^2 + (2 - 1)^2) / 2)
    assert scales["b"][1][0] == 0.0  # one row: constant, dropped from the distance


def test_shipped_probe_calls_count_the_first_call():
    assert pd.shipped_calls(1e-6) == 1 + 2 + 20  # first call, 2 more warm-up, 20 timed
    assert pd.shipped_calls(1.0) == 1 + 0 + 3
