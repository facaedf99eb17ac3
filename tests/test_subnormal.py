"""Subnormal activations (:mod:`hybridperf.measure.subnormal`): collapsed activations are a hazard that
``measure`` warns about and ``calibrate --measure`` leaves out; subnormal entries at a normal scale are not."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

import onnx
from onnx import TensorProto, helper, numpy_helper

from hybridperf.cli import main
from hybridperf.measure.subnormal import MOSTLY, scan, scan_inputs

WIDTH = 8


def _save(path, nodes, inits):
    g = helper.make_graph(nodes, path.stem, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, WIDTH])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, WIDTH])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def collapsed(path):
    """x in [0.5, 1.5) -> three MatMuls by s * I: scales 1e-20 (normal), then 1e-40 (subnormal), then 1."""
    eye = np.eye(WIDTH, dtype=np.float32)
    inits = [numpy_helper.from_array(eye * np.float32(1e-20), "tiny"), numpy_helper.from_array(eye, "one"),
             numpy_helper.from_array(np.full((1, WIDTH), 0.5, np.float32), "half")]
    nodes = [helper.make_node("Add", ["x", "half"], ["x1"]),
             helper.make_node("MatMul", ["x1", "tiny"], ["h1"], name="mm1"),
             helper.make_node("MatMul", ["h1", "tiny"], ["h2"], name="mm2"),
             helper.make_node("MatMul", ["h2", "one"], ["y"], name="mm3")]
    return _save(path, nodes, inits)


def masked(path):
    """Swin's case: exp(x - 100) on a quarter of the entries (a -100 mask before a softmax), then a MatMul."""
    mask = np.zeros((1, WIDTH), np.float32)
    mask[0, : WIDTH // 4] = -100.0
    inits = [numpy_helper.from_array(mask, "mask"), numpy_helper.from_array(np.eye(WIDTH, dtype=np.float32), "one")]
    nodes = [helper.make_node("Add", ["x", "mask"], ["a"]),
             helper.make_node("Exp", ["a"], ["e"]),
             helper.make_node("MatMul", ["e", "one"], ["y"], name="mm")]
    return _save(path, nodes, inits)


def test_collapsed_activations_are_a_hazard(tmp_path):
    s = scan_inputs(collapsed(tmp_path / "collapsed.onnx"))
    # mm1 reads x + 0.5 (normal), mm2 reads ~1e-20 (normal), mm3 reads ~1e-40: every one of its 8 values subnormal
    assert (s.nodes, s.values, s.subnormal) == (3, 3 * WIDTH, WIDTH)
    assert s.nodes_mostly_subnormal == 1 and s.worst_node == "mm3" and s.worst_node_share == 1.0
    assert s.mean_node_share == pytest.approx((0 + 0 + 1) / 3)
    assert s.share == pytest.approx(WIDTH / (3 * WIDTH))
    assert s.hazard
    assert "1 of 3 nodes mostly subnormal" in s.describe()


def test_subnormal_entries_at_a_normal_scale_are_the_models_own(tmp_path):
    """exp(-100 + [0, 1)) is 3.7e-44 to 1.0e-43: a quarter of the MatMul's inputs, under :data:`MOSTLY`."""
    s = scan_inputs(masked(tmp_path / "masked.onnx"))
    assert (s.nodes, s.values, s.subnormal) == (1, WIDTH, WIDTH // 4)
    assert s.worst_node_share == pytest.approx(1 / 4) and s.worst_node_share < MOSTLY
    assert s.nodes_mostly_subnormal == 0 and not s.hazard


def test_graph_inputs_are_read_too(tmp_path):
    """A MatMul fed straight by the graph input reads the feeds: subnormal feeds are counted."""
    path = _save(tmp_path / "direct.onnx", [helper.make_node("MatMul", ["x", "one"], ["y"], name="mm")],
                 [numpy_helper.from_array(np.eye(WIDTH, dtype=np.float32), "one")])
    s = scan(path, {"x": np.full((1, WIDTH), 1e-40, np.float32)})
    assert (s.nodes, s.values, s.subnormal, s.hazard) == (1, WIDTH, WIDTH, True)
    s = scan(path, {"x": np.ones((1, WIDTH), np.float32)})
    assert (s.subnormal, s.hazard) == (0, False) and s.describe().startswith("no subnormal activations")


def test_measure_warns_and_records(tmp_path, capsys):
    path = collapsed(tmp_path / "collapsed.onnx")
    assert main(["measure", str(path), "--threads", "1", "--repeats", "2", "--warmup", "0", "--format", "json"]) == 0
    out = capsys.readouterr()
    rec = json.loads(out.out)["extra"]["subnormal_activations"]
    assert rec["hazard"] is True and rec["nodes_mostly_subnormal"] == 1 and rec["worst_node"] == "mm3"
    warn = [ln for ln in out.err.splitlines() if "subnormal" in ln]
    assert len(warn) == 1 and "measure an export with trained weights" in warn[0]
    assert main(["measure", str(masked(tmp_path / "masked.onnx")), "--threads", "1", "--repeats", "2",
                 "--warmup", "0", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["extra"]["subnormal_activations"]["hazard"] is False
    assert "subnormal" not in out.err
    assert main(["measure", str(path), "--threads", "1", "--repeats", "2", "--warmup", "0", "--no-subnormal-scan",
                 "--format", "json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["extra"]["subnormal_activations"] is None and "subnormal" not in out.err


def test_calibrate_leaves_collapsed_models_out_before_measuring(tmp_path, capsys, monkeypatch):
    """Two models, one collapsed: one is left, fewer than calibration needs, so exit 2 before any measurement."""
    import hybridperf.measure.calibrate as cal

    def never(*a, **k):
        raise AssertionError("measured")

    monkeypatch.setattr(cal, "measure_rounds", never)
    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    code = main(["calibrate", "--device", "host-epyc-zen4-1c", "--measure", str(collapsed(tmp_path / "c.onnx")),
                 str(masked(tmp_path / "m.onnx"))])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert "left out of the calibration" in err[0] and "c.onnx" in err[0]
    assert err[-1].startswith("hybridperf: error: only 1 of 2 models time the model")
    assert not (tmp_path / "home").exists()
