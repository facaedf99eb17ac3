"""The Python API: ``hybridperf.predict / analyze / check``, lazily exported."""

import subprocess
import sys

import pytest

import hybridperf
from hybridperf.errors import DynamicShapeError, InputError, SpecError
from hybridperf.estimate.budget import BudgetError, CheckResult, Metric


def test_import_is_cheap_and_lazy():
    code = (
        "import sys, hybridperf; "
        "assert 'tvm' not in sys.modules and 'hybridperf.api' not in sys.modules, sorted(sys.modules); "
        "assert {'predict', 'analyze', 'check'} <= set(dir(hybridperf)); "
        "f = hybridperf.check; assert callable(f); assert 'tvm' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_api_names_resolve_to_the_api_module():
    from hybridperf.api import predict_on  # the pipeline stages behind the API

    assert callable(predict_on)
    assert hybridperf.predict is hybridperf.api.predict
    assert hybridperf.analyze is hybridperf.api.analyze
    assert hybridperf.check is hybridperf.api.check
    with pytest.raises(AttributeError):
        hybridperf.no_such_thing  # noqa: B018


@pytest.fixture(scope="module")
def proto():
    import onnx_models

    return onnx_models.resnet_like(1)[0]


@pytest.fixture(scope="module")
def analyzed(proto):
    return hybridperf.analyze(proto, batch=1)


def test_path_and_proto_agree(model_dir, proto, analyzed):
    from_file = hybridperf.predict(str(model_dir / "resnet_like.onnx"), "t4", batch=1, residual=None)
    from_proto = hybridperf.predict(proto, "t4", batch=1, residual=None)
    assert from_proto.analyzed.source.startswith("<onnx.ModelProto")
    assert from_proto.latency_s == pytest.approx(from_file.latency_s)
    assert from_proto.peak_memory_bytes == from_file.peak_memory_bytes
    assert from_proto.flops == from_file.flops
    again = hybridperf.predict(analyzed, "t4", residual=None)  # an Analyzed is re-used as is
    assert again.analyzed is analyzed and again.latency_s == pytest.approx(from_file.latency_s)


def test_host_is_a_device_in_the_api_as_in_the_cli(analyzed):
    """``host`` (the CLI's default device) names this machine's stored sheet in the Python API too."""
    from hybridperf.api import Session
    from hybridperf.device.spec import load_spec
    from hybridperf.measure.host import host_spec_path

    by_id = hybridperf.predict(analyzed, "host")
    by_sheet = hybridperf.predict(analyzed, load_spec(host_spec_path()))
    assert by_id.spec.id == "host" and "zero-shot from spec" in by_id.calibration
    assert by_id.latency_s == by_sheet.latency_s and by_id.peak_memory_bytes == by_sheet.peak_memory_bytes
    assert Session().predict_on(analyzed, "host").latency_s == by_id.latency_s
    assert hybridperf.check(analyzed, "host", max_latency="10s").passed


def test_proto_is_read_in_memory_and_left_unchanged(proto, tmp_path, monkeypatch):
    import tempfile

    before = proto.SerializeToString()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # any temporary file would land here
    from_proto = hybridperf.predict(proto, "t4", batch=1, residual=None)
    assert proto.SerializeToString() == before  # shapes bound and folded in a copy
    assert list(tmp_path.iterdir()) == []
    assert from_proto.analyzed.input_shapes == {"x": (1, 3, 32, 32)}


def test_shapes_argument(proto):
    a = hybridperf.analyze(proto, shapes={"x": "2x3x32x32"})
    b = hybridperf.analyze(proto, shapes={"x": (2, 3, 32, 32)})
    assert a.input_shapes["x"] == b.input_shapes["x"] == (2, 3, 32, 32)
    assert a.analysis.flops == b.analysis.flops
    with pytest.raises(InputError, match="shapes\\['x'\\]"):
        hybridperf.analyze(proto, shapes={"x": "2x3xN"})


def test_check_strings_and_numbers(analyzed):
    pred = hybridperf.predict(analyzed, "a100-sxm-80gb", residual=None)
    res = hybridperf.check(analyzed, ["a100-sxm-80gb", "t4"], max_latency="1s", max_memory=2**30, residual=None)
    assert isinstance(res, CheckResult) and res.passed and bool(res)
    assert len(res.checks) == 2 * 3
    assert res.predictions[(analyzed.source, "a100-sxm-80gb")].latency_s == pytest.approx(pred.latency_s)
    at = hybridperf.check(analyzed, "a100-sxm-80gb", max_latency=pred.latency_s, residual=None)
    assert at.passed  # exactly at the limit
    over = hybridperf.check(analyzed, "a100-sxm-80gb", max_energy=pred.energy_j / 2, residual=None)
    assert not over
    (fail,) = over.failures
    assert fail.metric is Metric.ENERGY and fail.over_by == pytest.approx(1.0)


def test_errors(proto, analyzed):
    with pytest.raises(BudgetError, match="max_latency='20 msec'"):
        hybridperf.check(analyzed, "t4", max_latency="20 msec")
    with pytest.raises(InputError, match="at least one of max_latency"):
        hybridperf.check(analyzed, "t4")
    with pytest.raises(SpecError, match="did you mean 'a100-sxm-80gb'"):
        hybridperf.predict(analyzed, "a100-sxm-80g")
    with pytest.raises(DynamicShapeError):
        hybridperf.analyze(proto)  # symbolic batch, no bound
    with pytest.raises(InputError, match="batch must be a positive integer"):
        hybridperf.analyze(proto, batch=0)
    with pytest.raises(InputError, match="write batch=8"):
        hybridperf.analyze(proto, 8)  # the second positional is example_inputs (torch only)
    with pytest.raises(InputError, match="re-used as analysed"):
        hybridperf.predict(analyzed, "t4", batch=2)


# ----------------------------------------------------- torch end to end ----


def _tiny_cnn(torch):
    from torch import nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).mean((2, 3)))

    torch.manual_seed(0)
    return Tiny().eval()


@pytest.mark.torch
def test_torch_module_predicted_end_to_end():
    torch = pytest.importorskip("torch")
    from hybridperf.api import predict_on

    net, x = _tiny_cnn(torch), torch.randn(2, 3, 16, 16)
    analyzed = hybridperf.analyze(net, x)  # the spelling: module, example inputs
    assert analyzed.source == "<torch Tiny>" and analyzed.input_shapes == {"x": (2, 3, 16, 16)}
    conv = next(r for r in analyzed.analysis.records if r.op == "relax.nn.conv2d")
    assert conv.cost.flops == 2 * 2 * 8 * 16 * 16 * 3 * 3 * 3  # 2 * N*Cout*H*W * Cin*kh*kw
    pred = hybridperf.predict(net, "t4", example_inputs=x, residual=None)
    assert pred.latency_s == pytest.approx(predict_on(analyzed, "t4", residual=None).latency_s, rel=1e-12)
    assert pred.latency_s > 0 and pred.energy_j > 0
    assert pred.peak_memory_bytes >= analyzed.memory.weight_bytes + 2 * 3 * 16 * 16 * 4  # weights + fp32 input
    assert hybridperf.check(net, "t4", example_inputs=x, max_latency="1s", residual=None)
    assert not hybridperf.check(net, "t4", example_inputs=x, max_latency=pred.latency_s / 2, residual=None)


@pytest.mark.torch
def test_torch_exported_program_and_errors():
    torch = pytest.importorskip("torch")

    net, x = _tiny_cnn(torch), torch.randn(1, 3, 8, 8)
    ep = torch.export.export(net, (x,))
    a = hybridperf.analyze(ep)
    assert list(a.input_shapes.values()) == [(1, 3, 8, 8)]
    assert hybridperf.predict(ep, "l4", residual=None).latency_s == pytest.approx(
        hybridperf.predict(net, "l4", example_inputs=x, residual=None).latency_s, rel=1e-9
    )
    with pytest.raises(InputError, match="needs example_inputs"):
        hybridperf.analyze(net)
    with pytest.raises(InputError, match="drop batch/shapes"):
        hybridperf.analyze(net, x, batch=4)
    with pytest.raises(InputError, match="drop example_inputs"):
        hybridperf.analyze(ep, x)
