"""A Session's caches never change a figure: cached and uncached predictions compared field by field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

DEVICES = ("host-epyc-1c", "t4", "a100-sxm-80gb")
ZOO = Path("/work/main/.zoo")
ZOO_MODELS = ("squeezenet1_1_b1_r224_legacy.onnx", "mobilenet_v3_small_b1_r224_legacy.onnx")


def figures(pred) -> dict:
    """Every figure of a prediction (the analysis's stage timings excluded: they are wall times)."""
    a = pred.analyzed
    return {
        "latency_s": pred.latency_s,
        "roofline_latency_s": pred.roofline_latency_s,
        "energy_j": pred.energy_j,
        "energy_note": pred.energy_note,
        "calibration": pred.calibration,
        "peak_memory_bytes": pred.peak_memory_bytes,
        "memory": pred.memory,
        "kernels": [(k.kernel, k.estimate, k.latency_s, k.calibrated) for k in pred.kernels],
        "records": a.analysis.records,
        "weight_bytes": a.analysis.weight_bytes,
        "inputs": dict(a.analysis.input_infos),
        "outputs": a.analysis.output_infos,
        "analyzed": dataclasses.replace(a, timings_s={}),
        "warnings": pred.warnings,
    }


def _compare(paths, batches=(None,)):
    from hybridperf import api

    session = api.Session()
    for path in paths:
        for batch in batches:
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
        plain = lowering.tag_and_legalize(mod, record_vars)
        cached = lowering.tag_and_legalize(mod, record_vars, cache=cache)
        assert structural_equal(plain, cached)
        # function names too (kernel names come from them); the buffer names inside a PrimFunc come
        # from the model that first legalized its signature, so whole texts match for the first model
        assert [gv.name_hint for gv, _ in plain.functions_items()] == [gv.name_hint for gv, _ in cached.functions_items()]
        if i == 0:
            assert plain.script() == cached.script()
    assert cache.hits > 0 and len(cache) > 0


def test_session_reuses_specs_and_analyses(model_dir):
    from hybridperf import api

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
        assert structural_equal(lowering.tag_and_legalize(mod, record_vars), cached)
    assert len(cache) == 3 and cache.hits == 3
