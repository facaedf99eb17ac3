"""End-to-end on ResNet-, MobileNetV2- and BERT-like graphs built in tests/onnx_models.py:
FLOPs equal hand formulas at the ONNX level, and peak memory equals TVM's own planner."""

import re

import onnx_models
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hybridperf.analysis.analyze import analyze, analyze_with_memory_module
from hybridperf.analysis.memory import tvm_planned_bytes
from hybridperf.frontends.normalize import normalize
from hybridperf.frontends.onnx_import import from_onnx

BUILDERS = ["resnet_like", "mobilenetv2_like", "bert_like", "densenet_like"]


def _analyze(name, batch=1, fused=True):
    model, flops = getattr(onnx_models, name)(batch=batch)
    res = normalize(model, batch=batch)
    loaded = from_onnx(res.model, res.input_shapes)
    return analyze(loaded.module, fused=fused), flops


@pytest.mark.parametrize("name", BUILDERS)
def test_flops_equal_onnx_hand_formulas(name):
    an, expected = _analyze(name, batch=2)
    assert an.analysis.flops == expected
    assert an.analysis.unsupported_ops == []


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("fused", [True, False])
def test_peak_memory_equals_tvm_planner(name, fused):
    from tvm import relax

    model, _ = getattr(onnx_models, name)(batch=2)
    res = normalize(model, batch=2)
    an, mem_mod = analyze_with_memory_module(from_onnx(res.model, res.input_shapes).module, fused=fused)
    ours = an.memory.planned_bytes
    assert ours == tvm_planned_bytes(mem_mod)
    # and the same number as TVM's own text report (GiB to 4 significant digits)
    planned = relax.transform.StaticPlanBlockMemory()(mem_mod)
    text = relax.analysis.estimate_memory_usage(planned)
    gib = float(re.search(r"With memory planning, there are \d+ constant-size memory allocation\(s\) with total size ([0-9.e+-]+) GB", text).group(1))
    assert ours / 2**30 == pytest.approx(gib, rel=1e-3)


@pytest.mark.parametrize("name", BUILDERS)
def test_memory_bounds_are_ordered(name):
    an, _ = _analyze(name, batch=2)
    m = an.memory
    largest = max(lt.nbytes for lt in m.lifetimes)
    assert largest <= m.live_peak_bytes <= m.planned_bytes <= m.no_reuse_bytes
    assert m.peak_bytes == m.planned_bytes + m.weight_bytes + m.input_bytes


def test_fusion_reduces_kernels_and_keeps_flops():
    fused, _ = _analyze("mobilenetv2_like", fused=True)
    unfused, _ = _analyze("mobilenetv2_like", fused=False)
    n_f = sum(1 for k in fused.kernels if k.counts_toward_time)
    n_u = sum(1 for k in unfused.kernels if k.counts_toward_time)
    assert n_f < n_u
    assert sum(k.cost.flops for k in fused.kernels) == sum(k.cost.flops for k in unfused.kernels)
    # intermediates inside a fused kernel do not touch DRAM
    assert sum(k.cost.bytes_total for k in fused.kernels) < sum(k.cost.bytes_total for k in unfused.kernels)
    # every costed op lands in exactly one kernel
    members = [i for k in fused.kernels for i in k.op_indices]
    assert len(members) == len(set(members))


@settings(max_examples=4, deadline=None)
@given(batch=st.integers(min_value=1, max_value=4))
def test_flops_linear_in_batch(batch):
    one, _ = _analyze("resnet_like", batch=1)
    many, expected = _analyze("resnet_like", batch=batch)
    assert many.analysis.flops == batch * one.analysis.flops == expected
