"""Audit of the Python API (:mod:`hybridperf.api`) on 2026-12-04, as an ML engineer drives it from a notebook or a
script: calls from several threads, a session's residual model asked for by device id, a float32 precision spelt
the numpy / PyTorch way, and numpy docstrings on every public name. Each test says what happened until 2026-12-04."""

import inspect
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnx
import pytest

import hybridperf
from hybridperf import api
from hybridperf.errors import InputError, SpecError
from hybridperf.precision import Precision
from onnx_models import resnet_like
from test_api_audit import matmul


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("api_dec4")
    out = []
    for i, (model, _) in enumerate((resnet_like(), resnet_like(hw=16), resnet_like(width=8), resnet_like(classes=4))):
        path = d / f"m{i}.onnx"
        onnx.save(model, str(path))
        out.append(str(path))
    return out


def _figures(pred):
    return pred.latency_s, pred.energy_j, pred.flops, pred.peak_memory_bytes


def test_threads_keep_the_process_stdout_and_stderr(models):
    """Until 2026-12-04 two threads importing ONNX models at once (``ThreadPoolExecutor.map(hybridperf.predict,
    ...)``) restored each other's swap of ``sys.stdout`` and fd 2 (the ONNX import's print and TVM log capture): from
    then on every ``print`` went to a discarded buffer and fd 2 to a deleted temporary file, and a script ended with
    exit status 0 and no output; four threads under pytest crashed the process (SIGSEGV). The API's calls now run
    one at a time, with the same figures as one by one."""
    stdout, fd2 = sys.stdout, os.fstat(2)
    def figures(m):
        return _figures(hybridperf.predict(m, "t4", batch=1, residual=None))

    alone = {m: figures(m) for m in models}
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda m: (m, figures(m)), models * 2))
    assert sys.stdout is stdout
    assert (os.fstat(2).st_dev, os.fstat(2).st_ino) == (fd2.st_dev, fd2.st_ino)
    assert all(fig == alone[m] for m, fig in together)


def test_one_session_shared_by_threads_gives_its_one_by_one_figures(models):
    """Until 2026-12-04 a session shared by threads lost the process's output as above (and its cache dicts were
    trimmed by two threads at once); now its figures are those of a fresh session, one by one."""
    fresh = {m: _figures(hybridperf.Session().predict(m, "a100-sxm-80gb", batch=2)) for m in models[:2]}
    s = hybridperf.Session(keep_analyses=1)  # every other call trims the analyses kept
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(lambda m: (m, _figures(s.predict(m, "a100-sxm-80gb", batch=2))), models[:2] * 3))
    assert all(fig == fresh[m] for m, fig in got)


def test_session_residual_takes_a_device_id_and_checks_the_runtime():
    """Until 2026-12-04 ``Session().residual("t4")`` was ``AttributeError: 'str' object has no attribute 'id'``,
    ``residual(spec, "bogus")`` a bare ``ValueError``, and ``residual(t4, "onnxruntime")`` (a CPU runtime) was
    taken."""
    s = hybridperf.Session()
    spec = s.spec("t4")
    assert s.residual("t4") is s.residual(spec)  # the session's own sheet of t4: one model
    assert s.residual("t4", "auto") is s.residual(spec, "torch")  # auto on a GPU is eager torch
    with pytest.raises(InputError, match=r"^runtime='bogus' is not a runtime: use one of "):
        s.residual(spec, "bogus")
    with pytest.raises(InputError, match=r"^runtime='onnxruntime' runs on cpu devices and t4 is a gpu"):
        s.residual("t4", "onnxruntime")
    with pytest.raises(SpecError, match=r"^unknown device 'nope'"):
        s.residual("nope")


@pytest.mark.parametrize("fp32", ["fp32", "FP32", "float32", Precision.FP32, np.dtype("float32"), np.float32])
def test_float32_as_precision_says_none_not_tf32(fp32):
    """Until 2026-12-04 ``precision='fp32'`` said "did you mean 'tf32'?": an override that prices float32 ops at
    TF32's (tensor core) peak, not what was asked for. fp32 is what no override prices a float32 model at."""
    with pytest.raises(InputError) as err:
        hybridperf.predict(matmul(2), "t4", precision=fp32)
    msg = str(err.value)
    assert "pass precision=None" in msg and "did you mean" not in msg and "\n" not in msg


@pytest.mark.parametrize(("spelling", "override"), [("half", "fp16"), ("float16", "fp16"), ("bfloat16", "bf16"),
                                                    (np.dtype("float16"), "fp16"), (np.float16, "fp16")])
def test_numpy_and_torch_names_of_an_override_get_its_name(spelling, override):
    """Until 2026-12-04 ``precision='half'``, ``'bfloat16'`` or ``np.float16`` got no suggestion."""
    with pytest.raises(InputError, match=rf"is not an override \(did you mean '{override}'\?\): use one of "):
        hybridperf.predict(matmul(2), "t4", precision=spelling)


def _public_callables():
    for name in api.__all__:
        obj = getattr(api, name)
        yield name, obj
        if inspect.isclass(obj):
            for meth, value in vars(obj).items():
                if not meth.startswith("_") and callable(value):
                    yield f"{name}.{meth}", value


@pytest.mark.parametrize(("name", "obj"), list(_public_callables()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_public_name_has_numpy_sections(name, obj):
    """Until 2026-12-04 ``device_spec``, ``predict_on``, ``latency_model``, ``run_check``, ``analyze_torch`` and the
    :class:`Session` methods had prose docstrings only (no Parameters / Returns / Raises sections)."""
    doc = inspect.getdoc(obj) or ""
    assert "Returns\n-------" in doc or "Parameters\n----------" in doc, name
    assert "Raises\n------" in doc or name in ("Session.stats",), name


def test_all_is_what_the_package_exports():
    """``__all__`` names every public API function, and nothing it does not have."""
    assert set(hybridperf.__all__) == {"__version__", *hybridperf._API}
    assert all(hasattr(hybridperf, n) for n in hybridperf.__all__)
    assert set(hybridperf._API) | {"run_check"} == set(api.__all__)
