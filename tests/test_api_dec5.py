"""Python API audit of 2026-12-05 (an ML engineer's notebook / build script): argument checks of ``analyze`` and
``Session.analyze``, and what an IRModule with unbound symbolic dims says about them."""

from pathlib import Path

import pytest

import hybridperf
from hybridperf.analysis.cache import AnalysisCache
from hybridperf.errors import InputError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "resnet_like.onnx"


@pytest.mark.parametrize("value", ["no", "False", 1, None])
def test_workspace_must_be_a_bool(value):
    # until 2026-12-05 workspace="no" (any truthy non-bool) sized the kernels' workspace: lowered every kernel, as True
    with pytest.raises(InputError, match=r"^workspace must be True .* or False, got "):
        hybridperf.analyze(EXAMPLE, batch=1, workspace=value)
    with pytest.raises(InputError, match=r"^workspace must be True .* or False, got "):
        hybridperf.Session().analyze(EXAMPLE, batch=1, workspace=value)


@pytest.mark.parametrize("value", ["yes", {}, hybridperf.Session])
def test_cache_must_be_an_analysis_cache(value):
    # until 2026-12-05 a cache of another type failed inside the lowering, caught as a TVM failure: the analysis came
    # back with fusion_note "lowering failed (AttributeError: 'str' object has no attribute 'legalize')", one kernel
    # per op and no memory plan (peak_memory_bytes None), and no error
    with pytest.raises(InputError, match=r"^cache must be a hybridperf\.analysis\.cache\.AnalysisCache or None, got "
                                         r".*use a hybridperf\.Session"):
        hybridperf.analyze(EXAMPLE, batch=1, cache=value)


def test_an_analysis_cache_is_taken():
    a = hybridperf.analyze(EXAMPLE, batch=1, cache=AnalysisCache())
    assert a.fusion_note == "" and a.memory.peak_bytes == hybridperf.analyze(EXAMPLE, batch=1).memory.peak_bytes


def _symbolic_module():
    from tvm import relax, tirx

    n = tirx.Var("n", "int64")
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((n, 64), "float32"))
    w = relax.Var("w", relax.TensorType((64, 32), "float32"))
    with bb.function("main", [x, w]):
        with bb.dataflow():
            out = bb.emit_output(bb.emit(relax.op.matmul(x, w)))
        bb.emit_func_output(out)
    return bb.get()


def test_unbound_dims_of_an_irmodule_are_named_with_the_fix():
    # until 2026-12-05 a Relax IRModule with an unbound symbolic dim (not refused, unlike a file's) read only
    # "symbolic shapes: no fusion or memory plan" and "lower bound: 1 op uncosted: matmul": nothing named the dim or
    # how to bind it
    pytest.importorskip("tvm")
    mod = _symbolic_module()
    a = hybridperf.analyze(mod)
    assert a.fusion_note == ("symbolic shapes: no fusion or memory plan; unbound input dims: x (n): bind them with "
                             "--batch N or --shape NAME=DxD (the API: batch= or shapes=)")
    assert a.memory.peak_bytes is None
    bound = hybridperf.analyze(mod, batch=8)
    assert bound.fusion_note == "" and bound.analysis.flops == 2 * 8 * 64 * 32  # 2 x MAC
