"""Execution modes, the zero-shot GPU path (a sheet with no measurements), and few-shot adaptation."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from hybridperf.costs import Status
from hybridperf.device.spec import load_spec
from hybridperf.report.format import fmt_time
from hybridperf.estimate.execution import Composition, Granularity, execution
from hybridperf.estimate.runtime_memory import Runtime
from hybridperf.ir.tvm_compat import TensorInfo
from hybridperf.residual.zero_shot import (
    HOST_WEIGHT,
    ZERO_SHOT_NOTE,
    Breakdown,
    ResidualKernel,
    for_device,
    neusight_view,
)


def _t(*shape):
    return TensorInfo(tuple(shape), "float32")


def _rec(op, ins, outs, attrs=None):
    return SimpleNamespace(op=op, inputs=tuple(ins), outputs=tuple(outs), attrs=attrs or {})


# --------------------------------------------------------------------------- execution modes


def test_one_runtime_enum_shared_with_memory():
    assert Runtime("torch-eager") is Runtime.TORCH
    assert Runtime("torch-cudagraph") is Runtime.TORCH_CUDAGRAPH


def test_eager_is_max_of_host_and_device_plus_sync():
    ex = execution("torch", "gpu")
    assert ex.granularity is Granularity.PER_OP and ex.composition is Composition.ASYNC
    host = ex.host_times(3, 20e-6)  # 3 launches x 20 us dispatch
    assert host == [20e-6] * 3
    # host-bound: 60 us of dispatch hides 30 us of GPU work
    assert ex.compose(host, [10e-6] * 3) == pytest.approx(60e-6 + ex.sync_s)
    # GPU-bound: 3 x 1 ms of GPU work
    assert ex.compose(host, [1e-3] * 3) == pytest.approx(3e-3 + ex.sync_s)


def test_cudagraph_is_device_sum_without_host_floor():
    ex = execution("torch-cudagraph", "gpu")
    assert ex.host_times(4, 20e-6) == [0.0] * 4
    assert ex.compose(ex.host_times(4, 20e-6), [10e-6] * 4) == pytest.approx(40e-6 + ex.sync_s)


def test_default_runtime_per_device_kind():
    assert execution(None, "gpu").runtime is Runtime.TORCH
    assert execution(None, "cpu").runtime is Runtime.ONNXRUNTIME
    assert execution(None, "cpu").composition is Composition.SERIAL


# --------------------------------------------------------------------------- op mapping


def test_matmul_with_weight_is_linear_and_batched_is_bmm():
    # (2, 16, 64) @ (64, 32): rows B x M, one weight
    assert neusight_view(_rec("relax.matmul", [_t(2, 16, 64), _t(64, 32)], [_t(2, 16, 32)])) == (
        "linear", {"B": 2, "M": 16, "N": 32, "K": 64})
    # attention scores: (1, 4, 16, 8) @ (1, 4, 8, 16): 4 batched GEMMs
    assert neusight_view(_rec("relax.matmul", [_t(1, 4, 16, 8), _t(1, 4, 8, 16)], [_t(1, 4, 16, 16)])) == (
        "bmm", {"B": 4, "M": 16, "N": 16, "K": 8})


def test_conv_norm_and_elementwise_views():
    conv = _rec("relax.nn.conv2d", [_t(1, 3, 32, 32), _t(8, 3, 3, 3)], [_t(1, 8, 16, 16)],
                {"strides": [2, 2], "padding": [1, 1, 1, 1], "groups": 1})
    assert neusight_view(conv) == ("conv", {"B": 1, "Input_Channel": 3, "Output_Channel": 8, "Kernel_Szie": 3,
                                            "Input_Size": 32, "Stride": 2, "Padding": 1})
    depthwise = _rec("relax.nn.conv2d", [_t(1, 8, 32, 32), _t(8, 1, 3, 3)], [_t(1, 8, 32, 32)], {"groups": 8})
    assert neusight_view(depthwise) is None  # no grouped conv in the operator data: roofline
    assert neusight_view(_rec("relax.nn.layer_norm", [_t(2, 16, 64), _t(64), _t(64)], [_t(2, 16, 64)])) == (
        "ln", {"B": 32, "H": 64})
    # x + bias: the broadcast operand makes it the "u" (one full-size operand) kernel
    assert neusight_view(_rec("relax.add", [_t(4, 64), _t(64)], [_t(4, 64)]))[0] == "addu"
    assert neusight_view(_rec("relax.add", [_t(4, 64), _t(4, 64)], [_t(4, 64)]))[0] == "add"
    assert neusight_view(_rec("relax.nn.max_pool2d", [_t(1, 8, 4, 4)], [_t(1, 8, 2, 2)])) is None


# --------------------------------------------------------------------------- zero-shot and adapted paths


@pytest.fixture(scope="module")
def analyzed(model_dir):
    from hybridperf.analysis.analyze import analyze

    return analyze(str(model_dir / "resnet_like.onnx"), batch=1)


def test_sheet_without_measurements_gets_zero_shot(analyzed, tmp_path):
    """A temporary device sheet (an L4 under a new id) that nothing was ever measured on."""
    from hybridperf.api import predict_on
    from hybridperf.device.spec import default_spec_dir, load_spec

    text = (default_spec_dir() / "l4.yaml").read_text().replace("id: l4", "id: my-new-gpu")
    path = tmp_path / "my-new-gpu.yaml"
    path.write_text(text)
    spec = load_spec(path)
    pred = predict_on(analyzed, spec)
    assert pred.calibration.startswith(ZERO_SHOT_NOTE)
    assert pred.execution is not None and pred.execution.zero_shot and pred.execution.runtime == "torch"
    assert pred.execution.covered > 0
    assert pred.latency_s > 0 and pred.latency_s != pred.roofline_latency_s
    graph = predict_on(analyzed, spec, runtime="torch-cudagraph")
    assert graph.execution.host_s == 0.0
    # eager adds the host floor: never faster than the same kernels replayed as a graph
    assert pred.latency_s >= graph.latency_s
    roof = predict_on(analyzed, spec, residual=None)
    assert roof.execution is None and roof.calibration.startswith("roofline only")


@pytest.mark.parametrize("device", ["l4", "a100-sxm-80gb"])  # t4, a training GPU: test_gpu_training_label_dec5b
def test_shipped_gpu_sheets_are_zero_shot(analyzed, device):
    from hybridperf.api import predict_on

    pred = predict_on(analyzed, device)
    assert "zero-shot from spec" in pred.calibration and pred.execution.zero_shot


def test_eager_note_says_where_the_host_floor_comes_from():
    """Eager (one host dispatch per launch): a GPU of the operator data uses its own measured floor, any other GPU the
    data's median, and the note says which; CUDA graphs have no per-launch host cost to explain."""
    from hybridperf.api import latency_model
    from hybridperf.residual.zero_shot import for_device

    t4, orin = latency_model("t4"), latency_model("jetson-agx-orin-64gb")
    assert "per launch (its dispatch floor in the operator data)" in t4
    assert "per launch (the operator data's median dispatch floor: this device's host was never timed)" in orin
    model = for_device(load_spec("jetson-agx-orin-64gb"))
    assert f"host {fmt_time(model.model.default_floor_s_)} per launch" in orin
    assert "per launch" not in latency_model("jetson-agx-orin-64gb", runtime="torch-cudagraph")


def test_device_with_stored_measurements_keeps_its_model(analyzed):
    from hybridperf.api import predict_on

    pred = predict_on(analyzed, "host-epyc-1c")
    assert pred.execution is None and "zero-shot" not in pred.calibration


def test_fp16_uses_the_sheet_fp16_peak_and_says_so(analyzed):
    from hybridperf.api import predict_on

    pred = predict_on(analyzed, "h100-sxm", "fp16", runtime="torch-cudagraph")
    assert "operator data is fp32" in pred.calibration
    assert pred.latency_s < predict_on(analyzed, "h100-sxm", runtime="torch-cudagraph").latency_s


def test_adapt_returns_a_new_model_and_is_stored(analyzed, tmp_path):
    from hybridperf.api import predict_on
    from hybridperf.device.spec import load_spec

    spec = load_spec("t4")
    base = for_device(spec, "torch-cudagraph")
    bd, _ = base.breakdown(analyzed, spec)
    measured = 2.0 * bd.latency_s()  # the device runs everything twice as slow as predicted
    adapted = base.adapt([(bd, measured)] * 5)
    assert base.log_scale == {} and base.adapted_on == 0 and base.kernel is None  # never mutated
    assert adapted.adapted_on == 5
    assert adapted.latency_s(bd) == pytest.approx(measured, rel=0.05)
    path = adapted.save_adaptation("t4")  # under the user data dir (conftest: an empty HYBRIDPERF_HOME)
    assert path.name == "gpu_adaptation-torch-cudagraph.json"
    assert json.loads(path.read_text())["adapted_on"] == 5
    try:
        pred = predict_on(analyzed, spec, runtime="torch-cudagraph")
        assert "few-shot adapted on 5" in pred.calibration and not pred.execution.zero_shot
        assert pred.latency_s == pytest.approx(measured, rel=0.05)
        # other runtimes stay unadapted (on t4, a training GPU: not zero-shot, test_gpu_training_label_dec5b)
        assert predict_on(analyzed, spec, runtime="torch").calibration.startswith("cross-device model, not zero-shot")
    finally:
        shutil.rmtree(path.parent)


def _probed_gpu_sheet(directory, family_probe_latency_s=None):
    """A sheet ``hybridperf probe`` writes on a CUDA device (faked probe_cuda dict, no GPU needed)."""
    from hybridperf.measure import probe

    out = {"device_name": "NVIDIA L4", "total_memory_bytes": 24 * 10**9, "gemm_n": 4096,
           "peak_flops_per_s": {"fp32": 25e12, "fp16": 100e12}, "gemm_errors": {}, "gemm_avg_power_w": {},
           "copy_bytes": 2**30, "dram_copy_bandwidth_bytes_per_s": 250e9, "launch_queued_s": 4e-6}
    if family_probe_latency_s is not None:
        out["family_probe_latency_s"] = family_probe_latency_s
    host = probe.HostInfo(cpu_model="Toy CPU", logical_cpus=4, usable_cpus=4, memory_bytes=8 * 2**30, governor=None,
                          machine="x86_64", python="3", numpy="2", blas="toyblas", onnxruntime="1")
    result = probe.result_from_cuda_probe(out, host=host, date="2026-01-01")
    directory.mkdir(exist_ok=True)
    return probe.write_spec(result, directory / "probed-gpu.yaml")


def test_family_probes_from_a_probed_sheet_rescale_their_family(analyzed, tmp_path):
    """Family probes travel probe_cuda dict -> ProbeResult -> sheet -> DeviceSpec -> zero-shot: convolutions
    measured 2x slower than the model predicts them get slower by 2 ** family_shrink, the rest stay put."""
    import copy
    from dataclasses import replace

    from hybridperf.api import predict_on
    from hybridperf.residual.cross_device import FAMILY_PROBE_SHAPES, family_probe_ops

    plain = _probed_gpu_sheet(tmp_path / "plain")
    zs = for_device(plain, "torch-cudagraph")
    # what the model predicts for the probe shapes on this sheet at this runtime's device floor
    ex = zs.execution_for(plain)
    probe = replace(zs.model.probe_for(plain.id, plain), dispatch_floor_s=ex.device_floor_s)
    fp = family_probe_ops(plain.id, plain, [1.0] * len(FAMILY_PROBE_SHAPES))
    predicted = zs.model.predict_latency(fp, {plain.id: plain}, {plain.id: probe})
    timed = [{"op": op, "dims": dict(d), "latency_s": float(t) * (2 if op == "conv" else 1)}
             for (op, d), t in zip(FAMILY_PROBE_SHAPES, predicted)]
    probed = _probed_gpu_sheet(tmp_path / "probed", timed)
    assert len(probed.family_probes) == len(FAMILY_PROBE_SHAPES)

    before, ls = zs.breakdown(analyzed, plain)
    after, _ = zs.breakdown(analyzed, probed)
    ratio = np.array(after.device_s) / np.array(before.device_s)
    conv = np.array([ln.op == "conv" for ln in ls])
    assert conv.any() and (~conv).any()
    # the shipped model also weighs its device specialists by the probes (probe_weighted): each member is
    # rescaled by its own probe residuals, so the 2x lands near 2 ** shrink, not on it
    assert zs.model.specialists_ and zs.model.family_weight_tau > 0
    assert np.all((ratio[conv] > 1.5) & (ratio[conv] < 3.0))  # 2.17-2.27 with the model shipped 2026-12-02
    assert ratio[~conv] == pytest.approx(1, rel=3e-2)  # their probes are the bag's prediction: 0.985-1.017
    # without the weighing: the bag's prediction rescaled by the median log(2) x shrink, the rest put (the sheet
    # keeps 4 significant digits of each latency)
    bag = copy.copy(zs.model)
    bag.family_weight_tau = 0.0
    zs_bag = type(zs)(bag, zs.runtime)
    after, before = (np.array(zs_bag.breakdown(analyzed, s)[0].device_s) for s in (probed, plain))
    ratio = after / before
    assert ratio[conv] == pytest.approx(2 ** zs.model.family_shrink, rel=1e-3)
    assert ratio[~conv] == pytest.approx(1, rel=1e-3)

    pred_before = predict_on(analyzed, plain, runtime="torch-cudagraph")
    pred_after = predict_on(analyzed, probed, runtime="torch-cudagraph")
    assert pred_after.latency_s > pred_before.latency_s
    assert "family probes measured on 2026-01-01" in pred_after.calibration
    assert "family probes" not in pred_before.calibration


def test_sheet_without_family_probes_prices_as_without_them(analyzed):
    """Unknown stays unknown: t4 has no family probes, and pricing it equals a model that ignores them."""
    import copy

    from hybridperf.device.spec import load_spec

    spec = load_spec("t4")
    assert spec.family_probes == ()
    for runtime in ("torch", "torch-cudagraph"):
        zs = for_device(spec, runtime)
        off = copy.copy(zs.model)
        off.family_shrink = 0.0
        bd, _ = zs.breakdown(analyzed, spec)
        bd_off, _ = type(zs)(off, zs.runtime).breakdown(analyzed, spec)
        assert bd.device_s == bd_off.device_s  # exactly
        assert "family probes" not in zs.describe(spec, bd, None)


def test_breakdown_groups_and_composition():
    ex = execution("torch", "gpu")
    bd = Breakdown((1e-3, 2e-3, 5e-6), ("gemm", "conv", "roofline"), 20e-6, ex)
    assert bd.covered == 2
    assert bd.group_times()["gemm"] == 1e-3
    # doubling gemm: max(3 x 20 us, 2 + 2 + 0.005 ms) + sync
    assert bd.latency_s({"gemm": np.log(2)}) == pytest.approx(4.005e-3 + ex.sync_s)


def test_cli_predict_runtime_json(model_dir, capsys):
    from hybridperf.cli import main

    rc = main(["predict", str(model_dir / "resnet_like.onnx"), "--batch", "1", "--device", "t4", "--runtime",
               "torch-cudagraph", "--format", "json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    # t4 is a training GPU: not zero-shot (until 2026-12-05b ZERO_SHOT_NOTE and zero_shot true)
    assert out["execution"]["runtime"] == "torch-cudagraph" and not out["execution"]["zero_shot"]
    assert out["calibration"].startswith("cross-device model, not zero-shot: t4 is one of its training GPUs")


def test_fused_runtime_launches_tvm_kernels(analyzed):
    from hybridperf.api import predict_on

    pred = predict_on(analyzed, "t4", runtime="tvm")
    fused = sum(1 for k in analyzed.kernels if k.counts_toward_time and k.status is not Status.ZERO_COST)
    assert pred.execution.runtime == "tvm" and pred.execution.launches == fused
    assert pred.execution.host_s == 0.0


# --------------------------------------------------------------------------- few-shot


def test_weighted_host_only_on_request():
    ex = execution("torch", "gpu")
    w = (HOST_WEIGHT["linear"], HOST_WEIGHT["add"])
    bd = Breakdown((1e-6, 1e-6), ("gemm", "elementwise"), 20e-6, ex, host_weights=w)
    assert bd.host_s() == pytest.approx(2 * 20e-6)  # zero-shot: one floor per launch
    assert bd.host_s(weighted_host=True) == pytest.approx(20e-6 * (2.07 + 0.93))


def test_eager_adapt_fits_the_weighted_host_level():
    from hybridperf.residual.zero_shot import ZeroShotGpu

    ex = execution("torch", "gpu")
    rows = []
    for n_lin, n_add in ((10, 40), (30, 20), (5, 80), (20, 20)):
        w = (HOST_WEIGHT["linear"],) * n_lin + (HOST_WEIGHT["add"],) * n_add
        bd = Breakdown((1e-7,) * len(w), ("gemm",) * n_lin + ("elementwise",) * n_add, 20e-6, ex, host_weights=w)
        # host-bound: measured = 1.5 x the weighted host time (+ sync)
        rows.append((bd, 1.5 * bd.host_s(weighted_host=True) + ex.sync_s))
    adapted = ZeroShotGpu(None, "torch").adapt(rows)
    assert adapted.weighted_host and adapted.adapted_on == 4
    for bd, m in rows:
        assert adapted.latency_s(bd) == pytest.approx(m, rel=0.05)


def test_residual_kernel_corrects_similar_models_and_round_trips():
    ex = execution("torch-cudagraph", "gpu")
    conv_heavy = [Breakdown((a, 1e-5), ("conv", "elementwise"), 0.0, ex) for a in (1e-4, 2e-4, 4e-4, 8e-4)]
    tiny_heavy = [Breakdown((1e-5, a), ("conv", "elementwise"), 0.0, ex) for a in (1e-4, 2e-4, 4e-4, 8e-4)]
    comps = np.array([b.composition() for b in conv_heavy + tiny_heavy])
    # conv-heavy models run 1.5x slower than predicted, element-wise-heavy ones 0.7x
    r = np.log([1.5] * 4 + [0.7] * 4)
    k = ResidualKernel.fit(comps, r)
    assert k is not None
    probe_conv = Breakdown((3e-4, 1e-5), ("conv", "elementwise"), 0.0, ex)
    probe_tiny = Breakdown((1e-5, 3e-4), ("conv", "elementwise"), 0.0, ex)
    assert k(probe_conv) > 0.2 and k(probe_tiny) < -0.15
    again = ResidualKernel.from_dict(json.loads(json.dumps(k.to_dict())))
    assert again(probe_conv) == pytest.approx(k(probe_conv))
    # nothing to correct: no kernel
    assert ResidualKernel.fit(comps, np.zeros(8)) is None


# --------------------------------------------------------------------------- hybridperf calibrate on a GPU


def _h100_rows(tmp_path, model_dir, runtime_csv="torch-cudagraph-fp32-fp16.csv"):
    """Three measured H100 rows (their latencies as measured) re-pointed at the test models."""
    import csv
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "calibration" / "h100-sxm" / runtime_csv
    with open(src, newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, [r for r in reader if r["status"] == "ok" and r["batch"] == "1"
                                           and r["dtype"] == "fp32"][:3]
    for r, name in zip(rows, ("resnet_like", "mobilenetv2_like", "densenet_like")):
        r["onnx_file"] = f"{name}.onnx"
    out = tmp_path / "rows.csv"
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return out


def test_cli_calibrate_gpu_from_measured_rows_then_predict_says_adapted(model_dir, tmp_path, capsys):
    """Eager rows (3): the adaptation keeps a host level and `predict --runtime torch` says so; CUDA graphs stay
    zero-shot (a CUDA-graph correction takes 4 or more rows: with 3 the stored file was a no-op labelled "adapted"
    until 2026-12-03)."""
    from hybridperf.cli import main
    from hybridperf.residual.model import user_model_dir

    rows = _h100_rows(tmp_path, model_dir, "torch-eager-fp32-fp16.csv")
    stored = user_model_dir() / "h100-sxm" / "gpu_adaptation-torch.json"
    try:
        rc = main(["calibrate", "--device", "h100-sxm", "--runtime", "torch", "--data", str(rows),
                   "--models", str(model_dir), "--format", "json"])
        assert rc == 0
        cap = capsys.readouterr()
        out = json.loads(cap.out)
        assert out["adapted_on"] == 3 and out["stored"] == str(stored) and stored.exists()
        assert len(out["per_model"]) == 3 and out["heldout_mape_pct"]["adapted"] >= 0
        worse = out["heldout_mape_pct"]["adapted"] > out["heldout_mape_pct"]["zero_shot"]
        assert ("is above the zero-shot model's" in cap.err) == worse  # said on stderr exactly when it is worse
        rc = main(["predict", str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", "h100-sxm", "--runtime",
                   "torch", "--format", "json"])
        assert rc == 0
        pred = json.loads(capsys.readouterr().out)
        assert "few-shot adapted on 3 measured models" in pred["calibration"] and not pred["execution"]["zero_shot"]
        # CUDA graphs stay zero-shot: the adaptation is per runtime
        assert main(["predict", str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", "h100-sxm",
                     "--runtime", "torch-cudagraph", "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["execution"]["zero_shot"]
    finally:
        if stored.exists():
            stored.unlink()


def test_cli_calibrate_gpu_errors_exit_2(model_dir, tmp_path, capsys):
    from hybridperf.cli import main
    from hybridperf.measure.gpu_calibration import cuda_unavailable

    # too few usable rows (the files are not where the CSV says)
    rows = _h100_rows(tmp_path, model_dir)
    assert main(["calibrate", "--device", "h100-sxm", "--runtime", "torch-cudagraph", "--data", str(rows),
                 "--models", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs at least 2" in err[0]
    # a CPU sheet with --runtime
    assert main(["calibrate", "--device", "host-epyc-1c", "--runtime", "torch", "--data", str(rows)]) == 2
    capsys.readouterr()
    if cuda_unavailable() is None:
        pytest.skip("this machine has CUDA: --measure would measure")
    prog = tmp_path / "m.pt2"
    prog.write_bytes(b"")
    assert main(["calibrate", "--device", "h100-sxm", "--runtime", "torch", "--measure", str(prog), str(prog)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs PyTorch with CUDA" in err[0]


def test_residual_kernel_refuses_a_correction_that_only_fits_noise():
    # residuals unrelated to what the models are made of: the best of 24 leave-one-out scores beats "no correction"
    # by chance, the choice itself scored one left-out model at a time does not
    ex = execution("torch-cudagraph", "gpu")
    from hybridperf.residual.zero_shot import _select_kernel

    rng = np.random.default_rng(0)
    bds = [Breakdown((a, b), ("conv", "elementwise"), 0.0, ex) for a, b in rng.uniform(1e-5, 1e-3, (10, 2))]
    comps = np.array([b.composition() for b in bds])
    noise = rng.normal(0.0, 0.3, 10)
    assert _select_kernel(comps, noise) is not None  # one leave-one-out over the grid takes it
    assert ResidualKernel.fit(comps, noise) is None


def test_a_gpu_unlike_the_training_gpus_is_marked_unverified(capsys):
    """A sheet figure more than 10 % outside the training GPUs' range (fp32 5.5-19.5 TFLOP/s, DRAM 192-1935 GB/s,
    20-108 SMs) marks its zero-shot figure unverified in predict and check, as the CPU model marks a CPU unlike its
    training hosts; a training GPU and the A100 SXM (2039 GB/s, 5 % above) are not marked."""
    from hybridperf.device.spec import load_spec
    from hybridperf.residual.zero_shot import unverified_reason

    assert unverified_reason(load_spec("t4")) == "" and unverified_reason(load_spec("a100-sxm-80gb")) == ""
    assert unverified_reason(load_spec("h100-sxm")) == (
        "its fp32 peak 66.9 TFLOP/s is outside the training GPUs' 5.5-19.5; its DRAM bandwidth 3350 GB/s is "
        "outside the training GPUs' 192-1935; its SM count 132 is outside the training GPUs' 20-108")
    assert "DRAM bandwidth 102 GB/s" in unverified_reason(load_spec("jetson-orin-nano-8gb"))
    from pathlib import Path

    from hybridperf.cli import main

    example = str(Path(__file__).resolve().parents[1] / "examples" / "squeezenet1_1.onnx")
    assert main(["predict", example, "-d", "l4", "--format", "json"]) == 0
    assert ", unverified (its fp32 peak 30.3 TFLOP/s is outside the training GPUs' 5.5-19.5)" in json.loads(
        capsys.readouterr().out)["calibration"]
    assert main(["check", example, "-d", "l4", "--max-latency", "1s"]) == 0
    assert capsys.readouterr().out.splitlines()[2].endswith(" ok (unverified)")
    assert main(["check", example, "-d", "t4", "--max-latency", "1s"]) == 0
    assert capsys.readouterr().out.splitlines()[2].endswith(" ok")
