"""MIG sizing: the scaling model as arithmetic, and each boundary (exact fit, one byte over, latency at budget)."""

import json
import math
from pathlib import Path

import pytest

from hybridperf.cli import ExitCode, main
from hybridperf.estimate.mig import (
    DEFAULT_HEADROOM_BYTES,
    NoMigProfilesError,
    memory_fraction,
    require_profiles,
    slice_latency_s,
    suggest,
)
from hybridperf.device.spec import load_spec
from hybridperf.costs import OpCost
from hybridperf.estimate.pricing import price


@pytest.fixture(scope="module")
def pred(model_dir):
    from hybridperf.api import predict

    return predict(str(model_dir / "resnet_like.onnx"), "a100-sxm-80gb", batch=1, residual=None)


def test_scaling_arithmetic():
    # 1g.10gb on an A100 80GB: 1/7 of the compute, 10/80 = 1/8 of the bandwidth; the slice divides
    # each roofline term by its share, the launch overhead stays
    spec = load_spec("a100-sxm-80gb")
    peak, bw, launch = spec.peak_flops("fp32"), spec.dram_bandwidth_bytes_per_s, spec.launch_overhead_s
    compute_bound = OpCost(flops=int(1e-3 * peak), bytes_read=int(0.5e-3 * bw))  # 1 ms compute, 0.5 ms memory
    memory_bound = OpCost(flops=int(1e-5 * peak), bytes_read=int(2e-4 * bw))  # 10 us compute, 0.2 ms memory
    got = [price(c, "fp32", spec, compute_share=1 / 7, memory_share=1 / 8).latency_s for c in (compute_bound, memory_bound)]
    want = [max(1e-3 * 7, 0.5e-3 * 8) + launch, max(1e-5 * 7, 2e-4 * 8) + launch]  # 7 ms, 1.6 ms, + a launch each
    assert got == pytest.approx(want)
    whole = [price(c, "fp32", spec).latency_s for c in (compute_bound, memory_bound)]
    assert whole == pytest.approx([1e-3 + launch, 2e-4 + launch])


def test_full_gpu_slice_reproduces_the_prediction(pred):
    assert slice_latency_s(pred, 1.0, 1.0) == pred.roofline_latency_s  # same arithmetic, so exactly


def test_profiles_and_bandwidth_share():
    spec = load_spec("a100-sxm-80gb")
    profs = require_profiles(spec)
    assert [p.name for p in profs] == ["1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"]
    assert [memory_fraction(p, spec) for p in profs] == pytest.approx([1 / 8, 2 / 8, 2 / 8, 4 / 8, 4 / 8, 1.0])
    with pytest.raises(NoMigProfilesError, match="'t4' lists no MIG profiles"):
        require_profiles(load_spec("t4"))


def test_full_gpu_profile_reproduces_prediction(pred, model_dir):
    # an A100's 7g.80gb runs 98 of its 108 SMs (nvidia-smi mig -lgip): a roofline slowed by that share of compute
    full = suggest(pred).options[-1]
    assert (full.profile.name, full.compute_fraction) == ("7g.80gb", 98 / 108)
    assert full.latency_s == pytest.approx(slice_latency_s(pred, 98 / 108, 1.0), rel=1e-12)
    lats = [o.latency_s for o in suggest(pred).options]
    assert lats[0] > lats[-1]  # a smaller slice is never faster here
    # a sheet without the profiles' SM counts: the whole-GPU profile is the whole GPU, predict's figure itself
    from hybridperf.api import predict

    pcie = predict(str(model_dir / "resnet_like.onnx"), "h100-pcie", batch=1, residual=None)
    full = suggest(pcie).options[-1]
    assert (full.profile.name, full.compute_fraction, full.latency_s) == ("7g.80gb", 1.0, pcie.latency_s)


def test_full_gpu_profile_is_predicts_figure_on_the_cross_device_model(capsys):
    """With the default latency model (zero-shot cross-device, PyTorch eager's host time and launches) the whole-GPU
    profile reads what ``predict`` says (until 2026-12-03 the full profile of SqueezeNet 1.1 read 5.543 ms against
    ``predict``'s 2.535 ms). SqueezeNet 1.1 is host-bound under eager PyTorch: its device time, slowed kernel by kernel
    on the smallest slice, still hides behind the host's dispatch time, so every profile reads the same latency (until
    2026-12-04 the host time was slowed too: 4.642 ms on 1g.10gb)."""
    example = str(Path(__file__).resolve().parents[1] / "examples" / "squeezenet1_1.onnx")
    assert main(["mig", example, "-d", "a100-sxm-80gb", "--format", "json"]) == ExitCode.OK
    profiles = json.loads(capsys.readouterr().out)["profiles"]
    assert main(["predict", example, "-d", "a100-sxm-80gb", "--format", "json"]) == ExitCode.OK
    latency = json.loads(capsys.readouterr().out)["totals"]["latency_s"]
    assert profiles[-1]["name"] == "7g.80gb" and profiles[-1]["latency_s"] == pytest.approx(latency, rel=1e-12)
    assert all(p["latency_s"] == pytest.approx(latency, rel=1e-12) for p in profiles[:-1])


def test_default_headroom(pred):
    s = suggest(pred)
    assert DEFAULT_HEADROOM_BYTES == 500 * 2**20
    assert s.options[0].required_bytes == pred.peak_memory_bytes + 500 * 2**20
    assert s.chosen.profile.name == "1g.10gb"


def test_memory_exactly_fits_and_one_byte_over(pred):
    small = 10 * 10**9  # 1g.10gb
    exact = small - pred.peak_memory_bytes
    s = suggest(pred, headroom_bytes=exact)
    assert s.options[0].required_bytes == small and s.options[0].fits_memory
    assert s.chosen.profile.name == "1g.10gb"
    s = suggest(pred, headroom_bytes=exact + 1)
    assert not s.options[0].fits_memory
    assert s.chosen.profile.name == "1g.20gb"  # next smallest
    s = suggest(pred, headroom_bytes=80 * 10**9 - pred.peak_memory_bytes + 1)
    assert s.chosen is None and not any(o.fits_memory for o in s.options)


def test_latency_exactly_at_budget(pred):
    opts = suggest(pred, headroom_bytes=0).options
    at = opts[0].latency_s
    s = suggest(pred, headroom_bytes=0, max_latency_s=at)
    assert s.options[0].meets_latency is True and s.chosen.profile.name == "1g.10gb"
    below = math.nextafter(at, 0.0)
    s = suggest(pred, headroom_bytes=0, max_latency_s=below)
    assert s.options[0].meets_latency is False
    assert s.chosen is not None and s.chosen.latency_s <= below
    assert suggest(pred, max_latency_s=pred.latency_s / 2).chosen is None  # not even the whole GPU


def test_cli_table(capsys, model_dir):
    code = main(["mig", str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", "h100-sxm", "--max-latency", "1s"])
    out, err = capsys.readouterr()
    assert code == ExitCode.OK and err == ""
    lines = out.splitlines()
    assert "headroom 500.00 MiB" in lines[0] and "latency budget 1.000 s" in lines[0]
    assert lines[2].split()[:7] == ["profile", "compute", "bw", "share", "memory", "fits", "latency"]
    assert lines[4].startswith("1g.10gb") and lines[4].rstrip().endswith("<- suggested")
    assert lines[-1] == "suggested: 1g.10gb (smallest profile that fits and meets the budget)"


def test_cli_json_and_nothing_fits(capsys, model_dir):
    code = main(["mig", str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", "a100-sxm-80gb", "--headroom", "80GB", "--format", "json"])
    out, _ = capsys.readouterr()
    assert code == ExitCode.BUDGET_EXCEEDED
    d = json.loads(out)
    assert d["suggested"] is None and d["headroom_bytes"] == 80 * 10**9
    assert [p["fits_memory"] for p in d["profiles"]] == [False] * 6


def test_cli_says_why_nothing_fits(capsys, model_dir, pred):
    model = str(model_dir / "resnet_like.onnx")
    code = main(["mig", model, "--batch", "1", "-d", "a100-sxm-80gb", "--max-latency", "10us"])
    out, _ = capsys.readouterr()
    assert code == ExitCode.BUDGET_EXCEEDED
    assert out.splitlines()[-1].startswith("no profile meets the latency budget: even 7g.80gb (98 of 108 SMs; the GPU without MIG may do better) is "
                                      "predicted at ")
    assert out.splitlines()[-1].endswith("> 10.0 us; relax the budget or reduce the batch")
    code = main(["mig", model, "--batch", "1", "-d", "a100-sxm-80gb", "--headroom", "80GB"])
    out, _ = capsys.readouterr()
    assert code == ExitCode.BUDGET_EXCEEDED
    assert out.splitlines()[-1].startswith("no profile fits: even 7g.80gb holds 74.51 GiB < ")  # 80e9 B = 74.51 GiB


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["-d", "t4"], "device 't4' lists no MIG profiles"),
        ([], "pass --device with MIG profiles (e.g. a100-sxm-80gb, h100-sxm); the default device, host, is this"),
        (["-d", "a100-sxm-80gb", "--max-latency", "5 msec"], "--max-latency '5 msec': unknown unit"),
        (["-d", "a100-sxm-80gb", "--headroom", "lots"], "--headroom 'lots'"),
    ],
)
def test_cli_bad_input(capsys, model_dir, argv, fragment):
    code = main(["mig", str(model_dir / "resnet_like.onnx"), "--batch", "1", *argv])
    out, err = capsys.readouterr()
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert len(err.splitlines()) == 1 and fragment in err
