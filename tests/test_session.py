"""A Session's caches never change a figure: cached and uncached predictions compared field by field."""

from __future__ import annotations

import pytest
from onnx_models import batches_taken
from prediction_figures import figures
from zoo_exports import ZOO

DEVICES = ("host-epyc-1c", "t4", "a100-sxm-80gb")
ZOO_MODELS = ("squeezenet1_1_b1_r224_legacy.onnx", "mobilenet_v3_small_b1_r224_legacy.onnx")


def _compare(paths, batches=(None,)):
    from hybridperf import api

    session = api.Session()
    for path in paths:
        for batch in batches_taken(path, batches):
            analyzed = api.analyze(str(path), batch=batch)  # the uncached path (api.predict = analyze + predict_on)
            for dev in DEVICES:
                plain = api.predict_on(analyzed, dev)
                cached = session.predict(str(path), dev, batch=batch)
                a, b = figures(plain), figures(cached)
                assert plain.memory.known, f"{path}: no memory plan ({plain.memory.unknown_reason})"
                for key in a:
                    assert a[key] == b[key], f"{path} batch {batch} on {dev}: {key} differs"
    return session


def test_session_predictions_equal_uncached(model_dir):
    session = _compare(sorted(model_dir.glob("*.onnx")), batches=(1, 2))
    stats = session.cache.stats()
    assert stats["legalize_hits"] > 0  # later models re-used earlier models' PrimFuncs


def test_legalize_cache_gives_the_same_module(model_dir):
    from hybridperf.analysis.cost_pass import analyze_module
    from hybridperf.frontends.load import load_model
    from hybridperf.ir import lowering
    from hybridperf.ir.tvm_compat import structural_equal

    cache = lowering.LegalizeCache()
    for i, name in enumerate(("mobilenetv2_like", "bert_like", "resnet_like", "mobilenetv2_like")):
        mod = load_model(model_dir / f"{name}.onnx", batch=1).module
        record_vars = [r.var for r in analyze_module(mod).records]
        plain = lowering.legalize_then_tag(mod, record_vars)  # TVM's own, no cache
        # the one-pass path (tags while legalizing) builds the general path's module; it does not
        # apply where the frontend already emitted call_tir (Clip: maximum/minimum PrimFuncs)
        one_pass = cache.tag_and_legalize(mod, record_vars)
        assert (one_pass is None) == (name == "mobilenetv2_like")
        if one_pass is not None:
            assert structural_equal(lowering.legalize_then_tag(mod, record_vars, cache), one_pass)
        cached = lowering.tag_and_legalize(mod, record_vars, cache=cache)
        assert structural_equal(plain, cached)
        alone = lowering.tag_and_legalize(mod, record_vars)  # a cache for this module alone
        assert structural_equal(plain, alone)
        assert plain.script() == alone.script()  # names, and bodies from each signature's first site
        # function names too (kernel names come from them); the buffer names inside a PrimFunc come
        # from the model that first legalized its signature, so whole texts match for the first model
        assert [gv.name_hint for gv, _ in plain.functions_items()] == [gv.name_hint for gv, _ in cached.functions_items()]
        if i == 0:
            assert plain.script() == cached.script()
    assert cache.hits > 0 and len(cache) > 0


def test_session_reuses_specs_and_analyses(model_dir, monkeypatch):
    from hybridperf import api

    # the fixture's files may be seconds old, inside the cache's racy window (run alone, until 2026-12-04 this test
    # failed now and then): the reuse is what is tested here, not that window
    monkeypatch.setattr("hybridperf.analysis.cache.RACY_NS", 0)
    s = api.Session()
    path = model_dir / "resnet_like.onnx"
    a1 = s.analyze(path, batch=1)
    assert s.analyze(path, batch=1) is a1
    assert s.analyze(path, batch=2) is not a1
    assert s.spec("t4") is s.spec("t4")
    preds = s.predict_many([path, model_dir / "bert_like.onnx"], ["t4", "host-epyc-1c"], batch=1)
    assert set(preds) == {(0, "t4"), (0, "host-epyc-1c"), (1, "t4"), (1, "host-epyc-1c")}
    assert preds[(0, "t4")].analyzed is a1


@pytest.mark.slow
@pytest.mark.skipif(not all((ZOO / m).exists() for m in ZOO_MODELS), reason="zoo exports not present")
def test_session_equal_uncached_on_zoo():
    _compare([ZOO / m for m in ZOO_MODELS])


def test_legalize_cache_keeps_repeated_arguments_apart(tmp_path):
    """``x * x`` and ``x * y`` have the same shapes but are separate cache entries."""
    import onnx
    from onnx import TensorProto, helper

    from hybridperf.analysis.cost_pass import analyze_module
    from hybridperf.frontends.load import load_model
    from hybridperf.ir import lowering
    from hybridperf.ir.tvm_compat import structural_equal

    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 8]) for n in ("x", "y", "out")]
    nodes = [helper.make_node("Mul", ["x", "x"], ["sq"]), helper.make_node("Mul", ["x", "y"], ["xy"]),
             helper.make_node("Add", ["sq", "xy"], ["out"])]
    model = helper.make_model(helper.make_graph(nodes, "alias", vi[:2], vi[2:]), opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "alias.onnx"
    onnx.save(model, str(path))
    mod = load_model(path).module
    record_vars = [r.var for r in analyze_module(mod).records]
    cache = lowering.LegalizeCache()
    for _ in range(2):
        cached = lowering.tag_and_legalize(mod, record_vars, cache=cache)
        assert structural_equal(lowering.legalize_then_tag(mod, record_vars), cached)
    assert len(cache) == 3 and cache.hits == 3


def _onnx_file(tmp_path, name, nodes, inputs, output, inits=()):
    import onnx
    from onnx import TensorProto, helper

    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n, shape in inputs]
    out = [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, name, vi, out, initializer=list(inits))
    path = tmp_path / f"{name}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _assert_same_lowering(path, cache):
    """Cached (one-pass) and uncached legalization of ``path`` give the same module, names included."""
    from hybridperf.analysis.cost_pass import analyze_module
    from hybridperf.frontends.load import load_model
    from hybridperf.ir import lowering
    from hybridperf.ir.tvm_compat import structural_equal

    mod = load_model(path).module
    record_vars = [r.var for r in analyze_module(mod).records]
    plain = lowering.legalize_then_tag(mod, record_vars)  # TVM's own, no cache
    cached = cache.tag_and_legalize(mod, record_vars)
    assert cached is not None
    assert structural_equal(plain, cached)
    assert [gv.name_hint for gv, _ in plain.functions_items()] == [gv.name_hint for gv, _ in cached.functions_items()]
    return plain, cached


def test_legalize_cache_keys_small_constants_by_value(tmp_path):
    """``x * 0.5`` and ``x * 0.25``: TVM inlines a 0-d constant into the PrimFunc, so they are two
    PrimFuncs (``multiply``, ``multiply1``) and two cache entries; ``x * 0.5`` twice is one."""
    from onnx import helper, numpy_helper
    import numpy as np

    from hybridperf.ir import lowering

    inits = [numpy_helper.from_array(np.array(v, dtype=np.float32), n) for n, v in (("a", 0.5), ("b", 0.25), ("c", 0.5))]
    nodes = [helper.make_node("Mul", ["x", "a"], ["p"]), helper.make_node("Mul", ["p", "b"], ["q"]),
             helper.make_node("Mul", ["q", "c"], ["out"])]
    path = _onnx_file(tmp_path, "scalars", nodes, [("x", [2, 8])], "out", inits)
    cache = lowering.LegalizeCache()
    plain, _ = _assert_same_lowering(path, cache)
    names = sorted(gv.name_hint for gv, _ in plain.functions_items())
    assert names == ["main", "multiply1_k1", "multiply_k0", "multiply_k2"]
    assert len(cache) == 2  # 0.5 (twice) and 0.25
    _assert_same_lowering(path, cache)  # all hits now
    assert cache.hits == 1 + 3


def test_legalize_cache_keys_larger_constants_by_shape(tmp_path):
    """A 4-element bias is a PrimFunc argument, not inlined: two biases of one shape share an entry."""
    from onnx import helper, numpy_helper
    import numpy as np

    from hybridperf.ir import lowering

    inits = [numpy_helper.from_array(np.full((1, 8), v, dtype=np.float32), n) for n, v in (("a", 1.0), ("b", 2.0))]
    nodes = [helper.make_node("Add", ["x", "a"], ["p"]), helper.make_node("Add", ["p", "b"], ["out"])]
    path = _onnx_file(tmp_path, "biases", nodes, [("x", [2, 8])], "out", inits)
    cache = lowering.LegalizeCache()
    plain, _ = _assert_same_lowering(path, cache)
    assert sorted(gv.name_hint for gv, _ in plain.functions_items()) == ["add_k0", "add_k1", "main"]
    assert len(cache) == 1 and cache.hits == 1


def test_legalize_cache_dedups_equal_primfuncs_like_the_builder(tmp_path):
    """Two signatures whose PrimFuncs are structurally equal share one name (the builder
    de-duplicates them), and a hint used twice gets TVM's counter suffix."""
    from onnx import helper

    from hybridperf.ir import lowering

    # Relu on two shapes: two PrimFuncs (relu, relu1); Add with x twice vs x and y: alias kept apart
    nodes = [helper.make_node("Relu", ["x"], ["r1"]), helper.make_node("Relu", ["y"], ["r2"]),
             helper.make_node("Relu", ["x"], ["r3"]), helper.make_node("Add", ["r1", "r3"], ["s"]),
             helper.make_node("ReduceSum", ["r2"], ["t"], keepdims=0),
             helper.make_node("Add", ["s", "t"], ["out"])]
    path = _onnx_file(tmp_path, "dedup", nodes, [("x", [2, 8]), ("y", [4, 8])], "out")
    cache = lowering.LegalizeCache()
    for _ in range(2):
        plain, cached = _assert_same_lowering(path, cache)
        assert plain.script() == cached.script()


def test_session_caches_onnxruntime_peak(model_dir):
    """``runtime="onnxruntime"``: the same peak as uncached, its graph optimised once per model file."""
    from hybridperf import api

    s = api.Session()
    path = model_dir / "resnet_like.onnx"
    analyzed = api.analyze(str(path), batch=1)
    plain = api.predict_on(analyzed, "host-epyc-1c", runtime="onnxruntime")
    for _ in range(2):
        cached = s.predict(str(path), "host-epyc-1c", batch=1, runtime="onnxruntime")
        assert cached.runtime_memory == plain.runtime_memory and cached.runtime == plain.runtime
        assert cached.peak_memory_bytes == plain.peak_memory_bytes
        assert cached.runtime_memory_note == plain.runtime_memory_note
    assert s.stats()["runtime_peaks"] == 1
    s.predict(str(path), "host-epyc-1c", batch=2, runtime="onnxruntime")
    assert s.stats()["runtime_peaks"] == 2  # other input shapes, another peak


ZOO_LOWERING = ("bert_tiny_b1_s128_legacy.onnx", "gpt2_b1_s128_legacy.onnx", "efficientnet_b0_b1_r224_legacy.onnx")


@pytest.mark.slow
@pytest.mark.skipif(not all((ZOO / m).exists() for m in ZOO_LOWERING), reason="zoo exports not present")
def test_legalize_cache_same_module_on_zoo():
    """Transformers (``shape_to_tensor``, scalar constants inlined) and a CNN, one cache across them."""
    from hybridperf.ir import lowering

    cache = lowering.LegalizeCache()
    for m in ZOO_LOWERING:
        _assert_same_lowering(ZOO / m, cache)
