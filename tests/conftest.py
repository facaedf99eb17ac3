import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """The hand-built test models saved as ONNX files (with symbolic batch N)."""
    import onnx
    import onnx_models

    d = tmp_path_factory.mktemp("models")
    for name in ("resnet_like", "mobilenetv2_like", "bert_like", "densenet_like"):
        m, _ = getattr(onnx_models, name)()
        onnx.save(m, str(d / f"{name}.onnx"))
    return d


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A data home of the test's own (``HYBRIDPERF_HOME``), not yet created."""
    h = tmp_path / "home"
    monkeypatch.setenv("HYBRIDPERF_HOME", str(h))
    return h


@pytest.fixture
def stored(home):
    """The packaged host-epyc-1c model stored as if calibrated: ``<home>/models/host-epyc-1c`` (no measuring)."""
    from hybridperf.residual.model import ResidualModel
    from hybridperf.residual.store import _load_cached, save_model

    _load_cached.cache_clear()
    packaged = Path(__file__).resolve().parents[1] / "hybridperf" / "data" / "models" / "host-epyc-1c"
    return save_model(ResidualModel.load(packaged), home / "models" / "host-epyc-1c")


@pytest.fixture
def homeless(monkeypatch):
    """No data home to be found: HYBRIDPERF_HOME, XDG_DATA_HOME and HOME unset, and no passwd entry for the uid (a
    container's user)."""
    import pwd

    def no_entry(uid):
        raise KeyError(uid)

    for name in ("HYBRIDPERF_HOME", "XDG_DATA_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_entry)


@pytest.fixture(scope="session")
def chain(tmp_path_factory):
    """x -> Relu -> Exp, float32 [64, 1024], analysed: TVM fuses the two into one kernel, torch eager launches two
    (the energy tests' graph)."""
    from onnx import TensorProto, helper
    from test_no_silent_zeros import _save

    from hybridperf.api import analyze

    f32 = TensorProto.FLOAT
    return analyze(_save(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Exp", ["r"], ["y"])],
        [helper.make_tensor_value_info("x", f32, [64, 1024])],
        [helper.make_tensor_value_info("y", f32, [64, 1024])],
        tmp_path_factory.mktemp("chain") / "chain.onnx",
    ))


@pytest.fixture(scope="session")
def views(tmp_path_factory):
    """A lone Reshape of a 1x3x4x4 float32 input to 1x48, saved as ONNX: every op zero-cost, no kernel (the
    ``call_overhead`` tests' model)."""
    from onnx import TensorProto, helper
    from test_no_silent_zeros import _save

    shape = helper.make_tensor("s", TensorProto.INT64, [2], [1, 48])
    return _save([helper.make_node("Reshape", ["x", "s"], ["y"])],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 48])],
                 tmp_path_factory.mktemp("views") / "views.onnx", inits=[shape])


@pytest.fixture(scope="session")
def analyzed(views):
    """:func:`views`, analysed."""
    from hybridperf.api import analyze

    return analyze(views)


@pytest.fixture(scope="session", autouse=True)
def _own_user_data_dir(tmp_path_factory):
    """An empty HYBRIDPERF_HOME: models calibrated on this machine must not change the results."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HYBRIDPERF_HOME", str(tmp_path_factory.mktemp("hybridperf-home")))
        # the default device `host` is this machine; give it a stored sheet so no test probes (~15 s)
        from hybridperf.device.spec import default_spec_dir
        from hybridperf.measure.host import install_host_spec

        install_host_spec(default_spec_dir() / "host-epyc-zen4-1c.yaml")
        # and a CPU no training host has, so `host` is priced zero-shot whatever machine runs the tests (a machine
        # with a training host's CPU and threads gets that host's offset: tested with the CPU given explicitly)
        import hybridperf.measure.host as host

        mp.setattr(host, "host_cpu", lambda identity=None: "")
        yield


@pytest.fixture
def toy_probe():
    """A probe result of a toy 1-CPU x86-64 machine (no ISA flags read): what ``probe.spec_dict`` writes a sheet from."""
    from hybridperf.measure import probe

    host = probe.HostInfo(cpu_model="Toy CPU", logical_cpus=1, usable_cpus=1, memory_bytes=2**33, governor=None,
                          machine="x86_64", python="3", numpy="2", blas="toyblas", onnxruntime="1")
    return probe.ProbeResult(date="2025-01-01", version="0.1.0", quick=True, kind="cpu", host=host,
                            caches=(probe.CacheLevel(2, "Unified", 2**20, 1),),
                            gemm=(probe.GemmRate("fp32", 512, 100e9, 0.1, 3, "numpy"),),
                            bandwidth=(probe.Bandwidth("copy", "dram", 2**28, 1, 10e9, 3),), dispatch=None)
