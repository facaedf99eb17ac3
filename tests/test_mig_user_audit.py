"""MIG sizing as a platform engineer uses it (``hybridperf mig``): a slice slows the device, not the host; an unknown
latency is ``null``, never 0; ``--headroom`` is read once and 0 in any spelling; the suggestion says what priced it.

Golden values are written as arithmetic; the slices' shares are the MIG user guide's (``1g.10gb`` on an A100 80GB:
1/7 of the compute, 1/8 of the memory and so of its controllers).
"""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from hybridperf.cli import ExitCode, main
from hybridperf.costs import OpCost
from hybridperf.device.spec import load_spec
from hybridperf.estimate.execution import Composition, ExecutionSummary
from hybridperf.estimate.mig import (
    device_time_on_slice_s,
    memory_fraction,
    profile_latency_s,
    require_profiles,
    slice_latency_s,
    suggest,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
A100 = load_spec("a100-sxm-80gb")
PEAK, BW, LAUNCH = A100.peak_flops("fp32"), A100.dram_bandwidth_bytes_per_s, A100.launch_overhead_s
SYNC = 1e-5


def _pred(host_s: float, device_s: float, composition: Composition | None, kernel_s: float = 2e-3):
    """A prediction of one kernel on ``a100-sxm-80gb`` whose roofline is 1 ms compute, 0.5 ms memory (+ a launch) and
    whose own (learned) time is ``kernel_s``; composed as ``composition`` with ``host_s`` of dispatch."""
    cost = OpCost(flops=int(1e-3 * PEAK), bytes_read=int(0.5e-3 * BW))
    kernel = SimpleNamespace(cost=cost, precision="fp32", counts_toward_time=True)
    kp = SimpleNamespace(kernel=kernel, latency_s=kernel_s)
    if composition is None:
        return SimpleNamespace(spec=A100, precision=None, kernels=(kp,), execution=None, latency_s=kernel_s)
    ex = ExecutionSummary("torch", 1, 1, host_s, device_s, composition.value, True)
    latency = (max(host_s, device_s) if composition is Composition.ASYNC else device_s) + SYNC
    return SimpleNamespace(spec=A100, precision=None, kernels=(kp,), execution=ex, latency_s=latency)


#: the kernel's roofline slowdown on 1g.10gb: max(1 ms * 7, 0.5 ms * 8) + launch over 1 ms + launch
SLOWDOWN_1G = (max(1e-3 * 7, 0.5e-3 * 8) + LAUNCH) / (1e-3 + LAUNCH)


def test_slice_slows_the_device_not_the_host():
    """Was: the whole latency, the host's dispatch time included, times the kernels' roofline slowdown. An eager model
    whose host time hides its device time stays host-bound on a slice as long as the slowed device time is below it."""
    host_bound = _pred(host_s=20e-3, device_s=2e-3, composition=Composition.ASYNC)
    whole, sliced = device_time_on_slice_s(host_bound, 1 / 7, 1 / 8)
    assert (whole, sliced) == pytest.approx((2e-3, 2e-3 * SLOWDOWN_1G))  # 2 ms -> about 13.8 ms, still < 20 ms
    assert profile_latency_s(host_bound, 1 / 7, 1 / 8) == pytest.approx(20e-3 + SYNC)  # was (20 ms + sync) * 6.9
    device_bound = _pred(host_s=1e-3, device_s=2e-3, composition=Composition.ASYNC)
    assert profile_latency_s(device_bound, 1 / 7, 1 / 8) == pytest.approx(2e-3 * SLOWDOWN_1G + SYNC)
    graph = _pred(host_s=0.0, device_s=2e-3, composition=Composition.DEVICE)  # a CUDA graph: device + sync
    assert profile_latency_s(graph, 1 / 7, 1 / 8) == pytest.approx(2e-3 * SLOWDOWN_1G + SYNC)
    roofline = _pred(0.0, 0.0, None)  # no execution summary: the latency scales as its kernels
    assert profile_latency_s(roofline, 1 / 7, 1 / 8) == pytest.approx(2e-3 * SLOWDOWN_1G)
    for p in (host_bound, device_bound, graph, roofline):  # the whole GPU is the prediction itself
        assert profile_latency_s(p, 1.0, 1.0) == p.latency_s


def test_roofline_only_figures_are_unchanged(model_dir):
    """A roofline-only prediction has no host time: each profile still reads latency x its kernels' roofline
    slowdown, the figure ``mig --roofline-only`` printed before."""
    from hybridperf.api import predict

    pred = predict(str(model_dir / "resnet_like.onnx"), "a100-sxm-80gb", batch=1, residual=None)
    assert pred.execution is None
    whole = slice_latency_s(pred, 1.0, 1.0)
    for prof in require_profiles(A100):
        fc, fm = prof.compute_fraction, memory_fraction(prof, A100)
        assert profile_latency_s(pred, fc, fm) == pytest.approx(pred.latency_s * slice_latency_s(pred, fc, fm) / whole,
                                                                rel=1e-12)


def test_host_bound_squeezenet_fits_the_smallest_slice(capsys):
    """SqueezeNet 1.1 on ``a100-sxm-80gb`` (eager PyTorch, zero-shot): host 2.525 ms, device 660 us. On ``1g.10gb`` the
    device time grows to about 1.39 ms, still under the host's, so the latency stays ``predict``'s 2.535 ms. Was:
    4.642 ms, and a 3 ms budget suggested ``3g.40gb`` (2.916 ms) where ``1g.10gb`` serves."""
    example = str(EXAMPLES / "squeezenet1_1.onnx")
    assert main(["predict", example, "-d", "a100-sxm-80gb", "--format", "json"]) == ExitCode.OK
    pred = json.loads(capsys.readouterr().out)
    host, device = pred["execution"]["host_s"], pred["execution"]["device_s"]
    assert host > device  # host-bound on the whole GPU
    assert main(["mig", example, "-d", "a100-sxm-80gb", "--max-latency", "3ms", "--format", "json"]) == ExitCode.OK
    d = json.loads(capsys.readouterr().out)
    assert d["suggested"] == "1g.10gb"
    for p in d["profiles"]:  # every slice's device time (<= 1/7 of the SMs: < 7 x 660 us...) stays under the host's
        assert p["latency_s"] == pytest.approx(pred["totals"]["latency_s"], rel=1e-9)


@pytest.fixture(scope="module")
def nonzero_only(tmp_path_factory):
    """A model of one NonZero: nothing priced, its latency unknown."""
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("NonZero", ["x"], ["nz"])], "nz",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 256])],
                          [helper.make_tensor_value_info("nz", TensorProto.INT64, [2, None])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path_factory.mktemp("mig") / "nonzero_only.onnx"
    onnx.save(m, str(path))
    return str(path)


def test_unknown_latency_is_null_not_zero(capsys, nonzero_only):
    """Was ``"latency_s": 0.0`` on every profile (an unknown shown as 0, named only in ``unknown_fields``)."""
    code = main(["mig", nonzero_only, "-d", "a100-sxm-80gb", "--allow-unsupported", "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert code == ExitCode.OK and d["unknown_fields"] == ["latency_s"]
    assert [p["latency_s"] for p in d["profiles"]] == [None] * 6
    assert [p["meets_latency"] for p in d["profiles"]] == [None] * 6
    assert main(["mig", nonzero_only, "-d", "a100-sxm-80gb", "--allow-unsupported"]) == ExitCode.OK
    rows = capsys.readouterr().out.splitlines()[4:10]
    # profile, compute, bw share, memory (2 words), fits ("yes (lower bound)": 3 words), latency
    assert [r.split()[8] for r in rows] == ["unknown"] * 6
    # a budget cannot be judged on it, with or without --allow-unsupported
    code = main(["mig", nonzero_only, "-d", "a100-sxm-80gb", "--allow-unsupported", "--max-latency", "1ms"])
    out, err = capsys.readouterr()
    assert code == ExitCode.INPUT_ERROR and "latency unknown on every profile" in err and len(err.splitlines()) == 1


def test_headroom_given_twice_is_refused(capsys, model_dir):
    """Was: ``--headroom 1GiB --headroom 2GiB`` sized on 2 GiB silently (``--max-latency`` twice was refused)."""
    code = main(["mig", str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", "a100-sxm-80gb",
                 "--headroom", "1GiB", "--headroom", "2GiB"])
    out, err = capsys.readouterr()
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert len(err.splitlines()) == 1 and "--headroom given twice (1GiB and 2GiB); give it once" in err


@pytest.mark.parametrize("text", ["0", "0MiB", "0 GB", ".0MiB", "0e0GB", "0.000B"])
def test_headroom_zero_in_any_spelling(capsys, model_dir, text):
    """Was: ``0MiB`` read as none, ``.0MiB`` and ``0e0GB`` refused as "must be positive"."""
    code = main(["mig", str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", "a100-sxm-80gb",
                 "--headroom", text, "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert code == ExitCode.OK and d["headroom_bytes"] == 0
    assert d["profiles"][0]["required_bytes"] == d["peak_memory_bytes"]


def test_negative_headroom_says_zero_is_allowed(capsys, model_dir):
    """Was: ``--headroom -1MiB: must be positive`` though 0 is taken; now it says 0 is allowed."""
    code = main(["mig", str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", "a100-sxm-80gb",
                 "--headroom", "-1MiB"])
    out, err = capsys.readouterr()
    assert code == ExitCode.INPUT_ERROR and out == "" and len(err.splitlines()) == 1
    assert "--headroom '-1MiB': must be positive or 0 (none); write 0, or a positive number" in err


def test_suggestion_carries_what_priced_the_latency(model_dir):
    """The prediction's provenance (roofline only, or the learned model and runtime) goes with the suggestion, for the
    report to state (nothing said whether the profile latencies were learned or roofline)."""
    from hybridperf.api import predict

    roofline = predict(str(model_dir / "resnet_like.onnx"), "a100-sxm-80gb", batch=1, residual=None)
    assert suggest(roofline).latency_source == roofline.calibration
    assert roofline.calibration.startswith("roofline only")
    learned = predict(str(model_dir / "resnet_like.onnx"), "a100-sxm-80gb", batch=1, runtime="auto")
    s = suggest(learned)
    assert s.latency_source == learned.calibration and s.latency_source.startswith("zero-shot from spec")


def test_help_default_headroom_is_the_one_used():
    from hybridperf.commands.mig import HEADROOM, parse_headroom
    from hybridperf.estimate.mig import DEFAULT_HEADROOM_BYTES

    assert parse_headroom(HEADROOM) == DEFAULT_HEADROOM_BYTES == 500 * 2**20
