"""The planned activation bytes against what TVM's runtime really allocates.

The planned module is built for llvm and run on TVM's Relax VM: the VM's allocation
trace must request exactly the planned bytes; TVM's pooled allocator then reuses
killed blocks (replayed by ``pooled_vm_bytes``), and on a graph with large tensors the
resident-set peak of one run matches that replay.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx_models
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridperf.analysis.analyze import analyze_with_memory_module
from hybridperf.frontends.normalize import normalize
from hybridperf.frontends.onnx_import import from_onnx
from hybridperf.measure.memory import kernel_workspace_bytes, measure_tvm, pooled_vm_bytes


def _analyze(model, batch=1, fused=True):
    res = normalize(model, batch=batch)
    return analyze_with_memory_module(from_onnx(res.model, res.input_shapes).module, fused=fused)


def _graph(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _elementwise_chain(rows=1024, cols=1024):
    """x -> Relu -> Neg -> Abs -> Relu: every tensor is rows*cols float32."""
    f = TensorProto.FLOAT
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Neg", ["a"], ["b"]),
        helper.make_node("Abs", ["b"], ["c"]),
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    return _graph(nodes, [helper.make_tensor_value_info("x", f, [rows, cols])], [helper.make_tensor_value_info("y", f, [rows, cols])])


def _padded_conv(c=8, hw=32):
    f = TensorProto.FLOAT
    w = numpy_helper.from_array(np.ones((c, c, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    return _graph([node], [helper.make_tensor_value_info("x", f, [1, c, hw, hw])], [helper.make_tensor_value_info("y", f, [1, c, hw, hw])], [w])


def test_vm_requests_exactly_the_planned_bytes_small_graph():
    an, mem_mod = _analyze(_elementwise_chain(64, 64), fused=False)
    r = measure_tvm(mem_mod)
    assert r.requested_bytes == an.memory.planned_bytes
    # unfused: a, b, c alternate between two planned blocks; y is the unplanned output
    assert an.memory.planned_bytes == 3 * 64 * 64 * 4
    assert r.storage_allocs == 3


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet_like", "mobilenetv2_like", "bert_like"])
@pytest.mark.parametrize("fused", [True, False])
def test_vm_requests_exactly_the_planned_bytes(name, fused):
    model, _ = getattr(onnx_models, name)(batch=2)
    an, mem_mod = _analyze(model, batch=2, fused=fused)
    assert measure_tvm(mem_mod).requested_bytes == an.memory.planned_bytes


def test_padded_conv_workspace_is_the_padded_input():
    an, mem_mod = _analyze(_padded_conv(c=8, hw=32))
    # conv2d legalizes to a pad buffer 1 x 8 x (32+2) x (32+2) float32 inside the kernel
    assert kernel_workspace_bytes(mem_mod) == 1 * 8 * 34 * 34 * 4
    # the planner sees only the output, which is the function's (unplanned) result
    assert an.memory.planned_bytes == 1 * 8 * 32 * 32 * 4


def test_pooled_allocator_reuses_killed_blocks():
    an, mem_mod = _analyze(_elementwise_chain(1024, 1024), fused=False)
    # planned: a/c share one block, b another, the output y a third
    assert an.memory.planned_bytes == 3 * 1024 * 1024 * 4
    # at run time b's block is killed before y is allocated and the pool hands it to y
    assert pooled_vm_bytes(mem_mod) == 2 * 1024 * 1024 * 4
    assert pooled_vm_bytes(mem_mod) == an.memory.live_peak_bytes


_RSS_SCRIPT = """
import json
from test_measure_memory import _analyze, _elementwise_chain
from hybridperf.measure.memory import measure_tvm, pooled_vm_bytes
an, mem_mod = _analyze(_elementwise_chain(1024, 1024), fused=False)
r = measure_tvm(mem_mod)
print(json.dumps({"rss": r.rss_peak_bytes, "pooled": pooled_vm_bytes(mem_mod), "ws": r.workspace_bytes}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux-only")
def test_resident_peak_matches_pool_replay_on_large_tensors():
    # a fresh process whose freed blocks go back to the OS, as benchmarks/memory_accuracy.py runs it
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="4096", PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), *sys.path]))
    out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT], env=env, capture_output=True, text=True, check=True, timeout=300)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["ws"] == 0
    # two 4 MiB blocks; the resident peak adds only a few pages of bookkeeping
    assert r["pooled"] == 2 * 1024 * 1024 * 4
    assert r["rss"] == pytest.approx(r["pooled"], rel=0.02)
