"""Execution modes, the zero-shot GPU path (a sheet with no measurements), and few-shot adaptation."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from hybridperf.costs import Status
from hybridperf.estimate.execution import Composition, Granularity, execution
from hybridperf.estimate.runtime_memory import Runtime
from hybridperf.ir.tvm_compat import TensorInfo
from hybridperf.residual.zero_shot import ZERO_SHOT_NOTE, Breakdown, for_device, neusight_view


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


@pytest.mark.parametrize("device", ["l4", "t4", "a100-sxm-80gb"])
def test_shipped_gpu_sheets_are_zero_shot(analyzed, device):
    from hybridperf.api import predict_on

    pred = predict_on(analyzed, device)
    assert "zero-shot from spec" in pred.calibration and pred.execution.zero_shot


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
    adapted = base.adapt([(bd, measured)] * 5, ridge=0.01)
    assert base.log_scale == {} and base.adapted_on == 0  # never mutated
    assert adapted.adapted_on == 5
    assert bd.latency_s(adapted.log_scale) == pytest.approx(measured, rel=0.05)
    path = adapted.save_adaptation("t4")  # under the user data dir (conftest: an empty HYBRIDPERF_HOME)
    assert path.name == "gpu_adaptation-torch-cudagraph.json"
    assert json.loads(path.read_text())["adapted_on"] == 5
    try:
        pred = predict_on(analyzed, spec, runtime="torch-cudagraph")
        assert "few-shot adapted on 5" in pred.calibration and not pred.execution.zero_shot
        assert pred.latency_s == pytest.approx(measured, rel=0.05)
        # other runtimes stay zero-shot
        assert predict_on(analyzed, spec, runtime="torch").execution.zero_shot
    finally:
        shutil.rmtree(path.parent)


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
    assert out["execution"]["runtime"] == "torch-cudagraph" and out["execution"]["zero_shot"]
    assert out["calibration"].startswith(ZERO_SHOT_NOTE)


def test_fused_runtime_launches_tvm_kernels(analyzed):
    from hybridperf.api import predict_on

    pred = predict_on(analyzed, "t4", runtime="tvm")
    fused = sum(1 for k in analyzed.kernels if k.counts_toward_time and k.status is not Status.ZERO_COST)
    assert pred.execution.runtime == "tvm" and pred.execution.launches == fused
    assert pred.execution.host_s == 0.0
