"""Pricing the graph as a runtime runs it (:func:`hybridperf.estimate.pricing.as_run_by`): idempotent, done by the
zero-shot GPU model's breakdown for every caller, and without TVM for a stored analysis; the normaliser's folded
totals are its nodes' own.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from hybridperf.device.spec import load_spec
from hybridperf.estimate.execution import execution
from hybridperf.frontends.normalize import normalize

from test_folded_torch_dec5 import FOLDED_FLOPS, S, _mask_model  # the same masked model


@pytest.fixture(scope="module")
def analyzed():
    import hybridperf

    return hybridperf.analyze(_mask_model())


@pytest.fixture(scope="module")
def zero_shot():
    from hybridperf.residual.zero_shot import ZeroShotGpu, load_cross_device

    base = load_cross_device()
    if base is None:
        pytest.fail("no cross-device model installed (hybridperf/data/models/cross-device)")
    return ZeroShotGpu(base, "torch")


def _torch():
    return execution("torch", "gpu")


def test_as_run_by_twice_is_once(analyzed):
    # until 2026-12-05 a second call appended the folded launches again (a tiny Llama's kernels 151 -> 160 -> 169) and
    # predict_on of the run copy under torch counted their FLOPs twice (98,432 too many for the tiny Llama)
    from hybridperf.estimate.pricing import as_run_by, predict_on

    once = as_run_by(analyzed, _torch())
    assert len(once.analysis.records) == len(analyzed.analysis.records) + 3  # Range, Less, Where
    twice = as_run_by(once, _torch())
    assert twice is once
    assert as_run_by(once, execution("torch-cudagraph", "gpu")) is once  # the same work, under either
    flops = predict_on(analyzed, "t4", runtime="torch").flops
    assert predict_on(once, "t4", runtime="torch").flops == flops
    assert flops == S * S + FOLDED_FLOPS  # the model's one Add, and the folded chain


def test_breakdown_prices_the_graph_as_the_runtime_runs_it(analyzed, zero_shot):
    # until 2026-12-05 ZeroShotGpu.breakdown priced what it was given: GPU calibration (`calibrate --device GPU
    # --runtime torch --data ROWS.csv`) and the block table fitted on breakdowns without the folded launches that
    # predict adds
    from hybridperf.estimate.pricing import as_run_by

    spec = load_spec("t4")
    bd, ls = zero_shot.breakdown(analyzed, spec)
    bd_run, ls_run = zero_shot.breakdown(as_run_by(analyzed, _torch()), spec)
    assert (bd, ls) == (bd_run, ls_run)
    folded = [ln for ln in ls if any(analyzed.analysis.records[-1].index < i for i in ln.op_indices)]
    assert len(folded) == 3


def test_gpu_calibration_breakdown_has_the_folded_launches(analyzed, zero_shot, tmp_path):
    # until 2026-12-05 adapt_gpu priced each row as folded: its zero-shot figure was not predict's
    from hybridperf.api import predict_on
    from hybridperf.measure.gpu_calibration import MeasuredModel, adapt_gpu

    path = tmp_path / "mask.onnx"
    onnx.save(_mask_model(), str(path))
    predicted = predict_on(analyzed, "t4", runtime="torch", residual=zero_shot).latency_s
    rows = [MeasuredModel("a", path, "fp32", predicted), MeasuredModel("b", path, "fp32", predicted * 1.1)]
    cal = adapt_gpu(rows, load_spec("t4"), "torch")
    assert [p[2] for p in cal.per_model] == [predicted, predicted]


def test_stored_analysis_is_priced_without_tvm(analyzed, tmp_path):
    # until 2026-12-05 folded_records read the families from default_registry(), which imports TVM (2 s, 390 MiB) to
    # price a pickled analysis under torch in a process without it
    from hybridperf.estimate.pricing import predict_on

    stored = tmp_path / "mask.pkl"
    stored.write_bytes(pickle.dumps(analyzed))
    code = ("import pickle, sys; from hybridperf.estimate.pricing import predict_on; "
            f"a = pickle.loads(open({str(stored)!r}, 'rb').read()); "
            "p = predict_on(a, 't4', runtime='torch'); print(p.flops, 'tvm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.split()
    assert out == [str(predict_on(analyzed, "t4", runtime="torch").flops), "False"]
    assert int(out[0]) == S * S + FOLDED_FLOPS


def test_folded_totals_are_the_nodes_own():
    # the normaliser summed its totals from the numpy arrays and its nodes' figures again from their shapes: one home
    # (FoldedNode.elements / bytes_read / bytes_written) since 2026-12-05, the same figures
    res = normalize(_mask_model())
    work = res.folded
    assert work.elements == sum(k.elements for k in work.kernels) == FOLDED_FLOPS
    # Range reads 3 int64 scalars and writes S int64; Less reads two S-vectors of int64, writes S x S bool (a byte);
    # Where reads S x S bool and two float32 scalars, writes S x S float32
    assert work.bytes_read == sum(k.bytes_read for k in work.kernels) == 3 * 8 + 2 * S * 8 + S * S + 2 * 4
    assert work.bytes_written == sum(k.bytes_written for k in work.kernels) == S * 8 + S * S + S * S * 4


def test_empty_tensor_is_sized_by_the_one_formula():
    # ir.tvm_compat.empty_tensor sized its mapping with its own bits formula until 2026-12-05: precision.tensor_bytes
    from hybridperf.ir.tvm_compat import empty_tensor

    for dtype in ("float32", "bool", "int4", "float32x4"):
        t = empty_tensor((3, 5), dtype)
        assert (tuple(t.shape), str(t.dtype)) == ((3, 5), dtype)
    assert not np.any(empty_tensor((3, 5), "float32").numpy())
