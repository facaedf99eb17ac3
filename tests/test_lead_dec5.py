"""Regression tests of defects the lead fixed on 2026-12-05."""

import argparse

import hybridperf.commands._common as common
import hybridperf.measure.host as host


def test_annotate_of_a_relax_file_on_an_unprobed_host_is_not_read_as_onnx(tmp_path, monkeypatch):
    # until 2026-12-05 `hybridperf annotate mod.py` (no --device) on a machine whose host sheet was not probed yet
    # read the TVMScript file as ONNX first: "cannot read mod.py as ONNX (DecodeError)", exit 2
    mod = tmp_path / "mod.py"
    mod.write_text("# from tvm.script import relax as R\n")
    monkeypatch.setattr(host, "host_spec_state", lambda: host.CacheState.MISSING)
    monkeypatch.setattr(common, "device_spec_of", lambda device: ("spec of", device))
    args = argparse.Namespace(model=str(mod), device=host.HOST_ID, shape=None, batch=None)
    assert common.model_device_spec(args) == ("spec of", host.HOST_ID)


def _linear_then_relu(tmp_path, batch):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((1000, 512), np.float32), "w")
    b = numpy_helper.from_array(np.ones((1000,), np.float32), "b")
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["g"], transB=1), helper.make_node("Relu", ["g"], ["y"])]
    graph = helper.make_graph(nodes, "fc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 512])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 1000])], [w, b])
    path = tmp_path / f"fc_b{batch}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_a_bias_as_large_as_the_output_joins_its_kernel(tmp_path):
    # until 2026-12-05 a linear layer's bias at batch 1 ((1000,) against an output of (1, 1000)) was a launch of its
    # own under eager PyTorch: ResNet-18 read 69 launches at batch 1 and 68 at
    # batch 2, so its prediction fell with the batch
    from hybridperf.api import analyze
    from hybridperf.residual.zero_shot import Granularity, launches

    for batch in (1, 2):
        ls = launches(analyze(_linear_then_relu(tmp_path, batch)), Granularity.PER_OP)
        assert [launch.op for launch in ls][:1] == ["linear"] and len(ls) == 2  # linear + bias, then the relu
        assert ls[0].cost.flops == 2 * batch * 512 * 1000 + batch * 1000  # the bias add's FLOPs join the GEMM's


def test_annotate_header_names_an_estimated_energy(tmp_path, monkeypatch, capsys):
    # until 2026-12-05 annotate's energy line kept only the cap part of the energy note: on t4 it never said that the
    # idle power it prices is estimated, not measured (predict's table does)
    from hybridperf.cli import main

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    model = _linear_then_relu(tmp_path, 1)
    assert main(["annotate", str(model), "-d", "t4"]) == 0
    energy_line = capsys.readouterr().out.splitlines()[1]
    assert energy_line.startswith("# energy ") and "idle power of t4 estimated, not measured" in energy_line
