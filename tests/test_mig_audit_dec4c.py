"""Audit 2026-12-04 (c) of ``hybridperf mig``: each profile's latency recomputed by hand from ``predict --format json``
and the sheet's SM counts / memory slices, and the defects the audit fixed (each test says what happened until
2026-12-04).

The model is one 1024x1024 @ 1024x1024 float32 MatMul, both operands inputs: 2*1024**3 FLOP, 3 * 4 MiB of traffic
(12582912 B), so every profile's roofline is compute-bound and the arithmetic fits in a line.
"""

import dataclasses
import json

import pytest
from onnx import TensorProto, helper

import hybridperf
from hybridperf.cli import ExitCode, main
from hybridperf.estimate.mig import caveats, suggest
from hybridperf.report.mig import to_dict, to_table

FLOP = 2 * 1024**3  # 2 x MAC, 1024**3 MACs
TRAFFIC = 3 * 1024 * 1024 * 4  # two operands read, one result written, float32


@pytest.fixture(scope="module")
def matmul(tmp_path_factory):
    import onnx

    f32 = TensorProto.FLOAT
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "mm",
        [helper.make_tensor_value_info("x", f32, [1024, 1024]), helper.make_tensor_value_info("w", f32, [1024, 1024])],
        [helper.make_tensor_value_info("y", f32, [1024, 1024])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path_factory.mktemp("mig_dec4c") / "matmul.onnx"
    onnx.save(m, str(path))
    return str(path)


def _json(capsys, *argv):
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


def test_roofline_only_profiles_by_hand_on_a100_40gb(matmul, capsys):
    """--roofline-only (no execution summary: latency' = latency * D'/D, one kernel so D'/D is its slowdown)."""
    code, p = _json(capsys, "predict", matmul, "-d", "a100-sxm-40gb", "--roofline-only", "--format", "json")
    assert code == ExitCode.OK
    launch = 5e-6  # the sheet's launch_overhead, 5 us
    # whole GPU: 2*1024**3 / 19.5e12 = 110.127 us of compute (memory 12582912 / 1555e9 = 8.09 us), + 5 us launch
    assert p["totals"]["latency_s"] == pytest.approx(FLOP / 19.5e12 + launch, rel=1e-12)
    code, m = _json(capsys, "mig", matmul, "-d", "a100-sxm-40gb", "--roofline-only", "--format", "json")
    assert code == ExitCode.OK
    by = {r["name"]: r for r in m["profiles"]}
    # 1g.5gb: 14 of 108 SMs, 5/40 = 1/8 of the bandwidth: 110.127 us * 108/14 = 849.55 us (memory 8.09 us * 8 = 64.7
    # us), + 5 us = 854.55 us
    assert by["1g.5gb"]["compute_fraction"] == 14 / 108 and by["1g.5gb"]["memory_fraction"] == 1 / 8
    assert by["1g.5gb"]["latency_s"] == pytest.approx(FLOP / 19.5e12 * 108 / 14 + launch, rel=1e-12)
    # 3g.20gb: 42 SMs, 4/8 of the bandwidth: 110.127 us * 108/42 + 5 us = 288.18 us
    assert by["3g.20gb"]["latency_s"] == pytest.approx(FLOP / 19.5e12 * 108 / 42 + launch, rel=1e-12)
    # 7g.40gb runs 98 of the 108 SMs: 110.127 us * 108/98 + 5 us = 126.37 us, not predict's 115.13 us
    assert by["7g.40gb"]["latency_s"] == pytest.approx(FLOP / 19.5e12 * 108 / 98 + launch, rel=1e-12)
    # memory: the torch peak + 500 MiB against 5e9 B (the sheet's 5 GB)
    need = p["runtime_memory"]["peak_bytes"] + 500 * 2**20
    assert m["peak_memory_bytes"] == p["runtime_memory"]["peak_bytes"] and by["1g.5gb"]["required_bytes"] == need
    assert by["1g.5gb"]["memory_bytes"] == 5 * 10**9 and m["suggested"] == "1g.5gb"


def test_eager_profile_by_hand_on_h100_sxm(matmul, capsys):
    """Eager torch: latency' = max(host, t * r) + (latency - max(host, t)), r the kernel's roofline slowdown."""
    code, p = _json(capsys, "predict", matmul, "-d", "h100-sxm", "--format", "json")
    assert code == ExitCode.OK and p["execution"]["composition"] == "max(host, device) + sync"
    (k,) = p["kernels"]
    t, host, lat = k["latency_s"], p["execution"]["host_s"], p["totals"]["latency_s"]
    launch = 5e-6
    whole = FLOP / 66.9e12 + launch  # 32.10 us compute + 5 us = 37.10 us, the kernel's roofline
    assert k["roofline_latency_s"] == pytest.approx(whole, rel=1e-12)
    # 1g.10gb: 16 of 132 SMs (32.10 us * 132/16 = 264.8 us; memory 12582912 / 3350e9 * 8 = 30.0 us), + 5 us
    r = (FLOP / 66.9e12 * 132 / 16 + launch) / whole
    want = max(host, t * r) + (lat - max(host, t))  # 49.80 us * 7.27 = 362.2 us device, + 10 us sync = 372.2 us
    code, m = _json(capsys, "mig", matmul, "-d", "h100-sxm", "--format", "json")
    assert code == ExitCode.OK
    assert m["profiles"][0]["name"] == "1g.10gb" and m["profiles"][0]["latency_s"] == pytest.approx(want, rel=1e-12)
    assert m["profiles"][-1]["latency_s"] == lat  # 7g.80gb: 132 of 132 SMs, the prediction itself
    # a budget between 1g.10gb's and 1g.20gb's (26 SMs: 32.10 us * 132/26 + 5 us) picks 1g.20gb, the smallest meeting it
    r20 = (FLOP / 66.9e12 * 132 / 26 + launch) / whole
    between = (want + max(host, t * r20) + (lat - max(host, t))) / 2
    budget = f"{between * 1e6:.3f}us"
    code, m = _json(capsys, "mig", matmul, "-d", "h100-sxm", "--format", "json", "--max-latency", budget)
    assert code == ExitCode.OK and m["suggested"] == "1g.20gb"
    assert [r["meets_latency"] for r in m["profiles"]] == [False, True, True, True, True, True]


@pytest.mark.parametrize("given, want", [
    # until 2026-12-04: "is not a finite number; leave the limit out to set none, or write a positive number ..."
    # (leaving --headroom out keeps 500MiB)
    ("inf", "--headroom 'inf': is not a finite number; write 0 (none), or a positive number and one of B, KB"),
    # until 2026-12-04: "...; leave the limit out to set none"
    # (and "the largest memory limit" until 2026-12-05: the headroom is no limit, tests/test_budget_dec5.py)
    ("1e30B", "is more than the largest headroom, 1048576 TiB (2^60 B, 1024 PiB); write a smaller figure, or 0 "
              "for none"),
    # until 2026-12-04: "a limit needs a unit; write a positive number and ..." (0 is taken, and means none); until
    # 2026-12-05 "a limit needs a unit; write 0 (none), ..."
    ("500", "--headroom '500': the headroom needs a unit; write 0 (none), or a positive number and one of B, KB"),
    ("abc", "--headroom 'abc': write 0 (none), or a positive number and one of B, KB"),
])
def test_headroom_hints_say_0_is_none(matmul, capsys, given, want):
    code = main(["mig", matmul, "-d", "a100-sxm-80gb", "--headroom", given])
    err = capsys.readouterr().err
    assert code == ExitCode.INPUT_ERROR and want in err and "leave the limit out" not in err
    assert err.count("\n") == 1


def test_no_fit_says_by_how_much(matmul, capsys):
    """Until 2026-12-04: ``holds 74.51 GiB < 74.51 GiB needed`` (both sides rounded alike)."""
    code = main(["mig", matmul, "-d", "a100-sxm-80gb", "--headroom", "80GB"])
    last = capsys.readouterr().out.splitlines()[-1]
    assert code == ExitCode.BUDGET_EXCEEDED
    assert last.startswith("no profile fits: even 7g.80gb holds 74.51 GiB < 74.5")  # 80e9 B = 74.51 GiB
    assert " MiB short); reduce the batch or the --headroom" in last  # short by the peak alone: 80 GB of headroom


def test_no_fit_from_the_peak_alone_does_not_blame_the_headroom(matmul):
    """Until 2026-12-04 a peak over the largest profile (even at ``--headroom 0``) was told to "reduce the batch or
    the --headroom"."""
    pred = hybridperf.predict(matmul, "a100-sxm-40gb", residual=None, runtime="auto")
    s = suggest(pred, 0)
    peak = 41 * 10**9  # 41e9 B = 38.18 GiB, over 7g.40gb's 40e9 B = 37.25 GiB by 1e9 B = 953.67 MiB
    over = dataclasses.replace(
        s, peak_memory_bytes=peak,
        options=tuple(dataclasses.replace(o, required_bytes=peak, fits_memory=False) for o in s.options))
    assert to_table(over, "m").splitlines()[-1] == (
        "no profile fits: even 7g.40gb holds 37.25 GiB < 38.18 GiB needed (953.67 MiB short), and the torch peak "
        "alone is 38.18 GiB; reduce the batch or the precision")


def test_an_estimated_runtime_peak_is_never_judged(matmul):
    """A runtime peak resting on guessed sizes (``peak_kind`` "estimate") is unknown to ``check --max-memory``; until
    2026-12-04 ``mig`` judged it as exact and suggested a profile (exit 0)."""
    pred = hybridperf.predict(matmul, "a100-sxm-80gb", residual=None, runtime="auto")
    rt = dataclasses.replace(pred.runtime_memory, unsized_ops=("NonZero",))
    guessed = dataclasses.replace(pred, runtime_memory=rt)
    s = suggest(guessed)
    for allow in (False, True):
        c = caveats(guessed, s, allow)
        assert c.memory_estimate and c.undecided.startswith("memory unknown (torch's peak rests on 1 node of unknown ")
        d = to_dict(s, "m", c)
        assert d["suggested"] is None and "fits_memory" in d["unknown_fields"] and d["memory_estimate"] is True
        lines = to_table(s, "m", c).splitlines()
        assert "needs ≈ " in lines[0] and lines[4].split()[5] == "unknown"
        assert lines[-1].startswith("no suggestion: memory unknown")
    exact = caveats(pred, suggest(pred), False)
    assert not exact.memory_estimate and not exact.undecided
