"""``--runtime tvm`` audit: the TVM peak's parts on a tiny conv, and under a precision override.

Model: Conv 3->8, 3x3, pad 1, no bias, + Relu on a 1x3x8x8 float32 input (one fused kernel).
TVM peak = plan + largest kernel workspace + weights + inputs:

* plan: the 1x8x8x8 output, 8*8*8*4 = 2048 B
* workspace (llvm TIR of the fused kernel): the padded input 3*10*10*4 = 1200 B + the conv result before
  the relu 8*8*8*4 = 2048 B
* weights 8*3*3*3*4 = 864 B, inputs 3*8*8*4 = 768 B
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import hybridperf
from hybridperf.cli import main

PLAN = 8 * 8 * 8 * 4
WORKSPACE = 3 * 10 * 10 * 4 + 8 * 8 * 8 * 4
WEIGHTS = 8 * 3 * 3 * 3 * 4
INPUTS = 3 * 8 * 8 * 4


@pytest.fixture(scope="module")
def conv_path(tmp_path_factory):
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((8, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    p = tmp_path_factory.mktemp("tvmrt") / "conv.onnx"
    onnx.save(m, str(p))
    return str(p)


def test_tvm_peak_parts_add_up(conv_path):
    p = hybridperf.predict(conv_path, "host-epyc-1c", runtime="tvm")
    assert dict(p.runtime_memory.parts) == {"planned_activations": PLAN, "kernel_workspace": WORKSPACE,
                                            "weights": WEIGHTS, "inputs": INPUTS}
    assert p.peak_memory_bytes == PLAN + WORKSPACE + WEIGHTS + INPUTS  # 6928


def test_fp16_halves_the_kernel_workspace_too(conv_path, capsys):
    # before: the workspace stayed at its float32 3248 B while plan, weights and inputs were halved
    p = hybridperf.predict(conv_path, "t4", runtime="tvm", precision="fp16")
    assert dict(p.runtime_memory.parts) == {"planned_activations": PLAN // 2, "kernel_workspace": WORKSPACE // 2,
                                            "weights": WEIGHTS // 2, "inputs": INPUTS // 2}
    assert p.peak_memory_bytes == (PLAN + WORKSPACE + WEIGHTS + INPUTS) // 2  # 3464
    assert main(["predict", conv_path, "-d", "t4", "--runtime", "tvm", "--precision", "fp16", "--format", "json"]) == 0
    rm = json.loads(capsys.readouterr().out)["runtime_memory"]
    assert rm["peak_bytes"] == (PLAN + WORKSPACE + WEIGHTS + INPUTS) // 2
    assert rm["parts"]["kernel_workspace"] == WORKSPACE // 2


def test_gpu_tvm_latency_is_device_sum_plus_sync(conv_path, capsys):
    p = hybridperf.predict(conv_path, "t4", runtime="tvm")
    assert main(["predict", conv_path, "-d", "t4", "--runtime", "tvm", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    ex = d["execution"]
    assert (ex["runtime"], ex["composition"], ex["host_s"], ex["launches"]) == ("tvm", "device + sync", 0.0, 1)
    assert d["totals"]["latency_s"] == pytest.approx(p.latency_s, rel=1e-12)
    assert ex["device_s"] == pytest.approx(sum(k["latency_s"] for k in d["kernels"]), rel=1e-12)
    assert d["totals"]["latency_s"] > ex["device_s"]  # + sync


def test_check_judges_the_tvm_peak(conv_path, capsys):
    total = PLAN + WORKSPACE + WEIGHTS + INPUTS
    assert main(["check", conv_path, "-d", "t4", "--runtime", "tvm", "--max-memory", f"{total - 1}B"]) == 1
    assert main(["check", conv_path, "-d", "t4", "--runtime", "tvm", "--max-memory", f"{total}B"]) == 0
    assert "memory (tvm)" in capsys.readouterr().out
