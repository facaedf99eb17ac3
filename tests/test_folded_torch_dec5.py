"""The nodes the ONNX normaliser folds into constants (a causal mask, rotary tables) are priced under the runtimes
that run them every call (torch, torch-cudagraph): one launch each, an element-wise kernel on its elements, its FLOPs
and bytes in the totals; onnxruntime and TVM fold them at load time, so their figures do not change.

Until 2026-12-05 no runtime priced them: under torch a note said "N constant-foldable nodes folded before pricing
(not priced; eager PyTorch runs them each call)", and the tiny Llama's 9 launches (2.5 % of its eager latency on a
T4) and T5-small's 13 (7 %) were missing from every figure.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from hybridperf.frontends.normalize import FoldedNode, FoldedWork, normalize

S = 16  # sequence length: the mask is S x S

ZOO_LLAMA = Path(__file__).resolve().parents[1] / ".zoo" / "llama_tiny_b1_s128_legacy.onnx"
RESNET_LIKE = Path(__file__).resolve().parents[1] / "examples" / "resnet_like.onnx"

#: the three kernels of the mask chain: Range (S int64), Less (S x S bool), Where (S x S float32)
FOLDED_FLOPS = S + S * S + S * S
#: the model's own work: the one Add of x and the mask
ADD_FLOPS = S * S


def _mask_model() -> onnx.ModelProto:
    """``y = x + causal_mask``, x 1 x S x S, the mask built as exports build it (``Range`` -> ``Unsqueeze`` twice ->
    ``Less`` -> ``Where``), all of it constant."""
    i64 = lambda v, dims=(): helper.make_tensor("v", TensorProto.INT64, list(dims), [v])  # noqa: E731
    f32 = lambda v: helper.make_tensor("v", TensorProto.FLOAT, [], [v])  # noqa: E731
    nodes = [
        helper.make_node("Constant", [], ["start"], value=i64(0)),
        helper.make_node("Constant", [], ["limit"], value=i64(S)),
        helper.make_node("Constant", [], ["delta"], value=i64(1)),
        helper.make_node("Range", ["start", "limit", "delta"], ["pos"]),
        helper.make_node("Constant", [], ["ax0"], value=i64(0, (1,))),
        helper.make_node("Constant", [], ["ax1"], value=i64(1, (1,))),
        helper.make_node("Unsqueeze", ["pos", "ax0"], ["row"]),
        helper.make_node("Unsqueeze", ["pos", "ax1"], ["col"]),
        helper.make_node("Less", ["row", "col"], ["future"]),
        helper.make_node("Constant", [], ["neg"], value=f32(-1e9)),
        helper.make_node("Constant", [], ["zero"], value=f32(0.0)),
        helper.make_node("Where", ["future", "zero", "neg"], ["mask"]),
        helper.make_node("Add", ["x", "mask"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "mask", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, S, S])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, S, S])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def analyzed():
    import hybridperf

    return hybridperf.analyze(_mask_model())


@pytest.fixture(scope="module")
def session():
    from hybridperf import api

    return api.Session()


def _bare(analyzed):
    """The same analysis with nothing folded to price (what every runtime priced until 2026-12-05)."""
    return dataclasses.replace(analyzed, folded=None)


def test_normaliser_keeps_each_folded_node():
    # until 2026-12-05 only the totals were kept: nothing to price a launch from
    work = normalize(_mask_model()).folded
    assert [k.op_type for k in work.kernels] == ["Range", "Less", "Where"]
    assert [k.relax_op for k in work.kernels] == ["relax.arange", "relax.less", "relax.where"]
    assert work.kernels[1] == FoldedNode("Less", "future", (((1, S), "int64"), ((S, 1), "int64")),
                                         (((S, S), "bool"),))
    assert work.priced and work.nodes == len(work.kernels) == 3
    assert sum(k.elements for k in work.kernels) == work.elements == FOLDED_FLOPS
    assert sum(k.bytes_read for k in work.kernels) == work.bytes_read
    assert sum(k.bytes_written for k in work.kernels) == work.bytes_written
    # the JSON totals keep their four keys; equality is the totals'
    assert set(work.to_dict()) == {"nodes", "elements", "bytes_read", "bytes_written"}
    assert work == FoldedWork(work.nodes, work.elements, work.bytes_read, work.bytes_written)


def test_analysis_cache_and_pickle_keep_the_nodes(analyzed):
    from hybridperf import api

    assert pickle.loads(pickle.dumps(analyzed)).folded.kernels == analyzed.folded.kernels  # a sweep ships analyses
    cached = api.Session(keep_analyses=0).analyze(_mask_model())
    assert cached.folded.kernels == analyzed.folded.kernels


@pytest.mark.parametrize("runtime", ["torch", "torch-cudagraph"])
def test_roofline_prices_them_under_torch(analyzed, runtime):
    # until 2026-12-05 the roofline and FLOPs under torch were those of the Add alone
    from hybridperf.estimate.pricing import predict_on, price

    pred, bare = predict_on(analyzed, "t4", runtime=runtime), predict_on(_bare(analyzed), "t4", runtime=runtime)
    assert bare.flops == ADD_FLOPS
    assert pred.flops == ADD_FLOPS + FOLDED_FLOPS  # 16*16 + (16 + 16*16 + 16*16)
    folded = [kp for kp in pred.kernels if kp.kernel.name.startswith("folded:")]
    assert [kp.kernel.name for kp in folded] == ["folded:pos", "folded:future", "folded:mask"]
    assert len(pred.kernels) == len(bare.kernels) + 3
    # each is an element-wise kernel on its elements and bytes, priced by the one pricing function
    extra = sum(price(kp.kernel.cost, kp.kernel.precision, pred.spec).latency_s for kp in folded)
    assert pred.roofline_latency_s == pytest.approx(bare.roofline_latency_s + extra)
    assert pred.energy_j > bare.energy_j


def test_eager_launches_and_latency_include_them(analyzed, session):
    # until 2026-12-05: 1 launch (the Add) under torch, 4 now; the host pays one dispatch floor per launch
    pred = session.predict_on(analyzed, "t4", runtime="torch")
    bare = session.predict_on(_bare(analyzed), "t4", runtime="torch")
    assert (bare.execution.launches, pred.execution.launches) == (1, 1 + 3)
    assert pred.execution.host_s == pytest.approx(4 * bare.execution.host_s)  # 4 launches x the same floor
    assert pred.latency_s > bare.latency_s
    assert pred.folded_note == ("3 constant-foldable nodes folded before the cost pass, priced as 3 launches under "
                                "torch (eager PyTorch runs them each call)")
    assert pred.latency_note == ""  # a disclosure, not a qualifier


def test_cuda_graph_replays_their_device_time(analyzed, session):
    from hybridperf.estimate.execution import GPU_KERNEL_FLOOR_S

    pred = session.predict_on(analyzed, "h100-sxm", runtime="torch-cudagraph")
    bare = session.predict_on(_bare(analyzed), "h100-sxm", runtime="torch-cudagraph")
    assert pred.execution.launches == bare.execution.launches + 3 and pred.execution.host_s == 0.0
    # no host dispatch, but each launch at least the device floor
    assert pred.execution.device_s - bare.execution.device_s >= 3 * GPU_KERNEL_FLOOR_S * (1 - 1e-9)
    assert pred.latency_s == pytest.approx(bare.latency_s + pred.execution.device_s - bare.execution.device_s)
    assert "priced as 3 launches under torch-cudagraph (a CUDA graph captured" in pred.folded_note


@pytest.mark.parametrize("device, runtime", [("t4", "tvm"), ("h100-sxm", "tvm"), ("host-xeon-1c", "onnxruntime"),
                                             ("host-xeon-1c", None)])
def test_runtimes_that_fold_them_are_unchanged(analyzed, session, device, runtime):
    from hybridperf.estimate.pricing import predict_on

    for predict in (predict_on, session.predict_on):
        pred, bare = predict(analyzed, device, runtime=runtime), predict(_bare(analyzed), device, runtime=runtime)
        assert (pred.latency_s, pred.roofline_latency_s, pred.energy_j, pred.flops) == (
            bare.latency_s, bare.roofline_latency_s, bare.energy_j, bare.flops)
        assert pred.flops == ADD_FLOPS and pred.folded_note == ""


def test_totals_alone_are_not_priced(analyzed):
    # a FoldedWork of totals alone (as built before 2026-12-05) cannot be priced: the note says so, no figure moves
    from hybridperf.estimate.pricing import predict_on

    w = analyzed.folded
    totals_only = dataclasses.replace(analyzed, folded=FoldedWork(w.nodes, w.elements, w.bytes_read, w.bytes_written))
    pred, bare = predict_on(totals_only, "t4", runtime="torch"), predict_on(_bare(analyzed), "t4", runtime="torch")
    assert (pred.latency_s, pred.flops) == (bare.latency_s, bare.flops)
    assert pred.folded_note == ("3 constant-foldable nodes folded before pricing (not priced; eager PyTorch runs them "
                                "each call)")


def test_launch_memo_serves_the_gpus_of_one_analysis(analyzed):
    # as_run_by makes a copy per GPU; the memo keyed by identity alone would price the launches again for each
    from hybridperf.estimate.execution import Granularity, execution
    from hybridperf.estimate.pricing import as_run_by
    from hybridperf.residual.zero_shot import LaunchMemo

    a, b = as_run_by(analyzed, execution("torch")), as_run_by(analyzed, execution("torch"))
    assert a is not b
    memo = LaunchMemo()
    assert memo.table(a, Granularity.PER_OP) is memo.table(b, Granularity.PER_OP)
    assert memo.table(analyzed, Granularity.PER_OP) is not memo.table(a, Granularity.PER_OP)  # 1 launch, not 4


def test_predict_json_totals(tmp_path, monkeypatch, capsys):
    from hybridperf.cli import main

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    path = tmp_path / "mask.onnx"
    onnx.save(_mask_model(), str(path))
    got = {}
    for rt in ("torch", "tvm"):
        assert main(["predict", str(path), "--device", "t4", "--runtime", rt, "--format", "json"]) == 0
        got[rt] = json.loads(capsys.readouterr().out)
    torch, tvm = got["torch"], got["tvm"]
    assert torch["totals"]["flops"] == ADD_FLOPS + FOLDED_FLOPS and tvm["totals"]["flops"] == ADD_FLOPS
    assert torch["totals"]["folded_constants"] == tvm["totals"]["folded_constants"]  # the work, whoever runs it
    assert torch["totals"]["folded_constants"]["nodes"] == 3 and torch["execution"]["launches"] == 4
    assert "priced as 3 launches under torch" in torch["totals"]["folded_note"]
    assert tvm["totals"]["folded_note"] is None
    # the records it priced are in ops[] (which sums to the totals), named by the folded output
    folded = [o for o in torch["ops"] if o["var"].startswith("folded:")]
    assert [(o["var"], o["op"], o["flops"]) for o in folded] == [
        ("folded:pos", "relax.arange", S), ("folded:future", "relax.less", S * S),
        ("folded:mask", "relax.where", S * S)]
    assert sum(o["flops"] for o in torch["ops"]) == torch["totals"]["flops"]
    assert not any(o["var"].startswith("folded:") for o in tvm["ops"])


@pytest.mark.skipif(not RESNET_LIKE.is_file(), reason="examples/resnet_like.onnx is missing")
def test_a_cnn_folds_nothing_and_is_unchanged():
    import hybridperf
    from hybridperf.estimate.execution import execution
    from hybridperf.estimate.pricing import as_run_by

    a = hybridperf.analyze(str(RESNET_LIKE), batch=1)
    assert a.folded.nodes == 0
    assert as_run_by(a, execution("torch")) is a and as_run_by(a, execution("torch-cudagraph")) is a


@pytest.mark.skipif(not ZOO_LLAMA.is_file(), reason="the model zoo (.zoo/) is not built")
def test_llama_tiny_runs_its_mask_and_rotary_tables(session):
    # 9 launches: the causal mask (LessOrEqual, And x2, the padding Gather, a bool->float Where) and the rotary tables
    # (Cos, Sin and their attention-scaling Mul x2); until 2026-12-05 in no figure (355 launches under torch, 364 now)
    a = session.analyze(str(ZOO_LLAMA))
    pred, bare = session.predict_on(a, "t4", runtime="torch"), session.predict_on(_bare(a), "t4", runtime="torch")
    assert pred.execution.launches == bare.execution.launches + 9
    assert pred.flops == bare.flops + 4 * 128 * 128 + 128 + 4 * 128 * 64  # one operation per element written
    assert pred.latency_s > bare.latency_s
    assert np.isclose(pred.execution.host_s, bare.execution.host_s * pred.execution.launches / bare.execution.launches)
