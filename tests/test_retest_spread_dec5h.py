"""``benchmarks.retest_cpu.kernel_spread_line``: how far each reference kernel's fastest run moved between rounds."""


def _sample(rnd, gemm, conv, add):
    return {"round": str(rnd), "gemm_min_s": str(gemm), "conv_min_s": str(conv), "stream_min_s": str(add)}


def test_each_kernel_reads_its_fastest_run_per_round_then_the_fastest_and_slowest_round():
    from benchmarks.retest_cpu import kernel_spread_line

    samples = [_sample(0, 0.0005, 0.0004, 0.0003), _sample(0, 0.0006, 0.0005, 0.0009),  # round 0: 0.5, 0.4, 0.3 ms
               _sample(1, 0.00055, 0.0004, 0.0006), _sample(1, 0.0007, 0.0008, 0.0012)]  # round 1: 0.55, 0.4, 0.6 ms
    line = kernel_spread_line(samples)
    # GEMM 0.5 / 0.55 ms (0.55 / 0.5 = 1.10x), conv 0.4 / 0.4 (1.00x), add 0.3 / 0.6 (0.6 / 0.3 = 2.00x)
    assert line.endswith("GEMM 0.500 / 0.550 (1.10x), conv 0.400 / 0.400 (1.00x), add 0.300 / 0.600 (2.00x).")


def test_runs_without_the_kernels_fastest_runs_print_no_line():
    """Directories from before the kernels' fastest runs were recorded: no line, not a line of zeros."""
    from benchmarks.retest_cpu import kernel_spread_line

    assert kernel_spread_line([]) == ""
    assert kernel_spread_line([{"round": "0", "gemm_s": "0.0005", "conv_s": "0.0004", "stream_s": "0.0003"}]) == ""
