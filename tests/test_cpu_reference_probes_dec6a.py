"""``benchmarks.cpu_reference_probes``: the reference kernels of every round as family probes of a held-out CPU (a
question answered no, 2026-12-05; its table is `benchmarks/results/cpu_reference_probes.md`)."""

import csv

import numpy as np
import pytest

from benchmarks import cpu_reference_probes as rp


def _samples(path, rows):
    cols = ["round", "sample", "gemm_min_s", "conv_min_s", "stream_min_s"]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow(dict(zip(cols, r)))


def test_the_probe_label_is_the_fastest_run_of_every_round(tmp_path):
    _samples(tmp_path / "reference_samples.csv",
             [(0, 0, 5e-4, 4e-4, 7e-4), (0, 1, 4e-4, 6e-4, 9e-4), (1, 0, 6e-4, 5e-4, 6e-4)])
    assert rp.fastest_probe_s(tmp_path) == {"gemm": 4e-4, "conv": 4e-4, "stream": 6e-4}


def test_a_run_without_reference_timings_has_no_probes(tmp_path):
    """Zen 3 and the Xeon slice were measured before reference kernels were timed: None, never a made-up figure."""
    assert rp.fastest_probe_s(tmp_path) is None
    _samples(tmp_path / "reference_samples.csv", [(0, 0, "", "", "")])
    assert rp.fastest_probe_s(tmp_path) is None


def test_group_deltas_follow_the_kernel_group():
    from hybridperf.residual.features import KERNEL_FEATURES

    kx = np.zeros((3, len(KERNEL_FEATURES)))
    kx[0, KERNEL_FEATURES.index("group_matmul")] = 1.0
    kx[1, KERNEL_FEATURES.index("group_conv")] = 1.0
    kx[2, KERNEL_FEATURES.index("group_norm")] = 1.0
    got = rp.kernel_deltas(kx, {"gemm": -0.1, "conv": -0.2, "stream": -0.3})
    np.testing.assert_allclose(got, [-0.1, -0.2, -0.3])


def test_the_choice_is_the_lowest_mean_on_the_planned_design_hosts():
    names = [c[0] for c in rp.CANDIDATES]
    assert names == ["(a) x0.5", "(a) x1", "(b) x0.5", "(b) x1", "(c) x0.5", "(c) x1"]
    design = dict.fromkeys(names, 20.0)
    design["(c) x1"] = 5.0
    results = {h: {"mape": {**design, "zero-shot": 8.0}} for h in rp.PLANNED_DESIGN}
    results["host-epyc-zen5-1c"] = {"mape": {**dict.fromkeys(names, 1.0), "zero-shot": 8.0}}  # a test host: not seen
    assert rp.chosen(results) == "(c) x1"
    results[rp.PLANNED_DESIGN[0]]["mape"]["(c) x1"] = 35.0  # mean 20 now: the first of the tie, in the planned order
    assert rp.chosen(results) == "(a) x0.5"


def test_the_design_hosts_are_design_hosts_of_the_cross_host_table():
    from benchmarks.cpu_cross_host import DESIGN_HOSTS, HOSTS

    assert set(rp.PLANNED_DESIGN) <= set(DESIGN_HOSTS) and set(rp.PLANNED_DESIGN) <= set(HOSTS)


@pytest.mark.parametrize("host", ["host-epyc-zen4-1c"])
def test_every_probe_is_priced_with_the_kernel_rows_predict_reads(tmp_path, host):
    """The three reference ONNX models priced on the host's sheet: one row each, in PROBES order, labelled by the
    fastest reference run, each with its kernel rows (the first version of the benchmark priced them without: a
    model-level guess, not what `hybridperf predict` does)."""
    X, y, kt, fast = rp.probe_tables([host], tmp_path)[host]
    assert X.shape[0] == 3 and set(fast) == set(rp.PROBES) and all(v > 0 for v in fast.values())
    assert np.all(np.isfinite(y))
    assert kt is not None and sorted(set(kt.row.tolist())) == [0, 1, 2]
    from hybridperf.residual.features import KERNEL_FEATURES

    main = kt.X[kt.row == 0][:, KERNEL_FEATURES.index("group_matmul")]
    assert main.max() == 1.0  # the GEMM probe's kernel is a matmul kernel
