"""The lone dense 1-D convolutions of ``benchmarks/dense_conv1d.py``: the node computes what the ONNX operator means,
its multiply-adds are counted as the product counts them, and the depthwise nodes of ``depthwise_conv1d`` are as
before."""

from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")


def _run(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def _weights(model):
    from onnx import numpy_helper

    return numpy_helper.to_array(model.graph.initializer[0])


def test_a_dense_conv_is_the_sum_over_inputs_and_taps():
    from benchmarks.depthwise_conv1d import _model

    model, macs = _model("Conv", 3, 10, 4, 2, cout=5, groups=1)
    x = np.random.default_rng(2).standard_normal((1, 3, 10)).astype(np.float32)
    w = _weights(model)
    out_len = (10 - 4) // 2 + 1
    want = np.array([[sum(w[o, i, j] * x[0, i, t * 2 + j] for i in range(3) for j in range(4))
                      for t in range(out_len)] for o in range(5)])
    assert np.allclose(_run(model, x)[0], want, atol=1e-4)
    assert macs == 5 * 3 * 4 * out_len


def test_a_dense_transposed_conv_scatters_every_input_over_its_taps():
    from benchmarks.depthwise_conv1d import _model

    model, macs = _model("ConvTranspose", 3, 6, 4, 2, cout=5, groups=1)
    x = np.random.default_rng(3).standard_normal((1, 3, 6)).astype(np.float32)
    w = _weights(model)  # (in, out, taps) for ConvTranspose
    want = np.zeros((5, (6 - 1) * 2 + 4))
    for i in range(3):
        for t in range(6):
            for j in range(4):
                want[:, t * 2 + j] += w[i, :, j] * x[0, i, t]
    assert np.allclose(_run(model, x)[0], want, atol=1e-4)
    assert macs == 3 * 5 * 4 * 6


def test_the_product_counts_the_same_multiply_adds():
    """FLOPs of the product's analysis are twice the node's multiply-adds (FLOP = 2 x MAC)."""
    from benchmarks.dense_conv1d import SHAPES
    from benchmarks.depthwise_conv1d import _model
    from hybridperf.api import analyze

    for op in ("Conv", "ConvTranspose"):
        _, cin, cout, n, k, s = next(sh for sh in SHAPES if sh[0] == op)
        model, macs = _model(op, cin, n, k, s, cout=cout, groups=1)
        assert analyze(model).analysis.flops == 2 * macs, op


def test_the_depthwise_default_is_unchanged():
    from benchmarks.depthwise_conv1d import _model

    model, macs = _model("Conv", 4, 12, 3, 1)
    assert _weights(model).shape == (4, 1, 3) and macs == 4 * 3 * (12 - 3 + 1)
    assert model.graph.node[0].attribute[0].name == "group" and model.graph.node[0].attribute[0].i == 4


def test_measuring_needs_a_sheet(capsys):
    from benchmarks.dense_conv1d import main

    with pytest.raises(SystemExit) as e:
        main(["--out", "unused"])
    assert e.value.code == 2 and "--sheet" in capsys.readouterr().err


def test_the_committed_report_is_recomputed_from_the_committed_rows(monkeypatch):
    """``benchmarks/results/dense_conv1d_zen3.md`` is what ``report`` makes of the rows under
    ``calibration/host-epyc-zen3-dense1d`` (3 rounds of 12 shapes at 1 and 2 threads), each row recording its CPU."""
    import csv
    from pathlib import Path

    from benchmarks.dense_conv1d import CSV, SHAPES, report

    root = Path(__file__).resolve().parents[1]
    out = Path("calibration") / "host-epyc-zen3-dense1d"
    rows = list(csv.DictReader((root / out / CSV).open()))
    assert len(rows) == 3 * 2 * len(SHAPES)
    assert {r["cpu_model"] for r in rows} == {"AMD EPYC"} and {r["cpu_family"] for r in rows} == {"25"}
    monkeypatch.chdir(root)
    assert report(out) + "\n" == (root / "benchmarks" / "results" / "dense_conv1d_zen3.md").read_text()
