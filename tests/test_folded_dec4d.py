"""The nodes the ONNX normaliser folds into constants (causal masks, rotary tables, T5's position buckets) are
reported: counted on the analysis, named in a note (``Prediction.folded_note``, not the latency note) of a runtime
that computes them every call, carried by ``predict --format json`` and predict-many rows; no figure changes.

Until 2026-12-04 their work vanished silently: the normaliser folds every constant subgraph before the cost pass
(right for onnxruntime and TVM, which fold them too at load time), but eager PyTorch and CUDA graphs captured from
it run them every call, and nothing said that the latency left them out.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridperf.frontends.normalize import FoldedWork, folded_work, normalize

S = 16  # sequence length of the synthetic model: the mask is S x S

#: the note's words under each runtime that does not fold constants
#: since 2026-12-05 priced, one launch each, under the runtimes that run them (tests/test_folded_torch_dec5.py)
EAGER = "constant-foldable nodes folded before the cost pass, priced as {n} launches under torch (eager PyTorch runs them each call)"
CUDA_GRAPH = ("constant-foldable nodes folded before the cost pass, priced as {n} launches under torch-cudagraph (a CUDA "
              "graph captured from eager PyTorch replays them each call)")

ZOO_LLAMA = Path(__file__).resolve().parents[1] / ".zoo" / "llama_tiny_b1_s128_legacy.onnx"


def _masked_model() -> onnx.ModelProto:
    """``y = x + causal_mask + cos(table)``, x 1 x S x S: the mask built as exports build it (``Range`` ->
    ``Unsqueeze`` twice -> ``Less`` -> ``Where``), a rotary-like ``Cos`` of a constant table, all constant."""
    f32 = lambda v: helper.make_tensor("v", TensorProto.FLOAT, [], [v])  # noqa: E731
    i64 = lambda v: helper.make_tensor("v", TensorProto.INT64, [], [v])  # noqa: E731
    table = np.linspace(0.0, 1.0, S * S, dtype=np.float32).reshape(S, S)
    nodes = [
        helper.make_node("Constant", [], ["start"], value=i64(0)),
        helper.make_node("Constant", [], ["limit"], value=i64(S)),
        helper.make_node("Constant", [], ["delta"], value=i64(1)),
        helper.make_node("Range", ["start", "limit", "delta"], ["pos"]),
        helper.make_node("Constant", [], ["ax0"], value=helper.make_tensor("v", TensorProto.INT64, [1], [0])),
        helper.make_node("Constant", [], ["ax1"], value=helper.make_tensor("v", TensorProto.INT64, [1], [1])),
        helper.make_node("Unsqueeze", ["pos", "ax0"], ["row"]),  # 1 x S
        helper.make_node("Unsqueeze", ["pos", "ax1"], ["col"]),  # S x 1
        helper.make_node("Less", ["row", "col"], ["future"]),  # S x S bool
        helper.make_node("Constant", [], ["neg"], value=f32(-1e9)),
        helper.make_node("Constant", [], ["zero"], value=f32(0.0)),
        helper.make_node("Where", ["future", "zero", "neg"], ["mask"]),  # S x S float
        helper.make_node("Cos", ["table"], ["cos"]),  # S x S float
        helper.make_node("Add", ["x", "mask"], ["xm"]),
        helper.make_node("Add", ["xm", "cos"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "masked", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, S, S])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, S, S])],
                              [numpy_helper.from_array(table, "table")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


#: Range (S int64), Less (S*S bool), Where (S*S float32), Cos (S*S float32); the Constants and the two Unsqueeze
#: (views in PyTorch) launch nothing
MASKED = FoldedWork(
    nodes=4,
    elements=S + 3 * S * S,
    # Range: 3 int64 scalars; Less: 1xS and Sx1 int64; Where: S*S bool and 2 float32 scalars; Cos: S*S float32
    bytes_read=3 * 8 + 2 * S * 8 + (S * S + 2 * 4) + S * S * 4,
    # Range: S int64; Less: S*S bool; Where and Cos: S*S float32 each
    bytes_written=S * 8 + S * S + 2 * S * S * 4,
)


@pytest.fixture(scope="module")
def analyzed():
    import hybridperf

    return hybridperf.analyze(_masked_model())


def test_normalize_reports_the_folded_work():
    # until 2026-12-04 normalize said only which op types it folded (folded_op_types), not what they computed
    res = normalize(_masked_model())
    assert res.folded == MASKED
    assert dict(res.folded_op_types)["Constant"] == 7
    assert res.folded.to_dict() == {"nodes": 4, "elements": MASKED.elements, "bytes_read": MASKED.bytes_read,
                                    "bytes_written": MASKED.bytes_written}


def _node(op: str, **attrs) -> onnx.NodeProto:
    return helper.make_node(op, ["a"], ["b"], **attrs)


@pytest.mark.parametrize("node, ins, outs, want", [
    # shape arithmetic: Python ints in PyTorch, no kernel
    (_node("Gather"), [np.array([1, 128, 64], np.int64)], [np.array(128, np.int64)], FoldedWork()),
    (_node("Concat"), [np.array([1], np.int64)], [np.array([1, 128, -1, 64], np.int64)], FoldedWork()),
    # views and same-dtype casts: no kernel
    (_node("Reshape"), [np.zeros((4, 4), np.float32)], [np.zeros(16, np.float32)], FoldedWork()),
    (_node("Cast"), [np.zeros((4, 4), bool)], [np.zeros((4, 4), bool)], FoldedWork()),
    # a cast that changes the dtype is a kernel: 16 elements, 16 bool bytes read, 16 float32 written
    (_node("Cast"), [np.zeros((4, 4), bool)], [np.zeros((4, 4), np.float32)], FoldedWork(1, 16, 16, 16 * 4)),
    # an integer tensor past a shape's length: torch.arange(16) is a kernel
    (_node("Range"), [np.array(0), np.array(16), np.array(1)], [np.arange(16)], FoldedWork(1, 16, 3 * 8, 16 * 8)),
])
def test_what_counts_as_a_kernel(node, ins, outs, want):
    assert folded_work(node, ins, outs) == want


@pytest.mark.parametrize("node, ins, outs, want", [
    # swin_t's window-padding pads, a (2, 4) int64 table: 8 Python ints in PyTorch (a rank-2 output counted as a
    # kernel until 2026-12-04, one of the 325 nodes swin_t reported)
    (_node("Concat"), [np.zeros((1, 4), np.int64)], [np.zeros((2, 4), np.int64)], FoldedWork()),
    (_node("Add"), [np.zeros((2, 2, 2), np.int64)], [np.zeros((2, 2, 2), np.int64)], FoldedWork()),
    # a permute is a view in PyTorch (a folded Transpose counted as a kernel until 2026-12-04)
    (_node("Transpose"), [np.zeros((8, 8), np.float32)], [np.zeros((8, 8), np.float32)], FoldedWork()),
    # one element past the host's shape arithmetic: a kernel, 9 elements of 8 bytes read and written
    (_node("Add"), [np.zeros((3, 3), np.int64)], [np.zeros((3, 3), np.int64)], FoldedWork(1, 3 * 3, 9 * 8, 9 * 8)),
    # a small float tensor is no shape arithmetic: a kernel
    (_node("Cos"), [np.zeros((2, 4), np.float32)], [np.zeros((2, 4), np.float32)], FoldedWork(1, 8, 8 * 4, 8 * 4)),
])
def test_host_arithmetic_at_any_rank_and_permutes(node, ins, outs, want):
    assert folded_work(node, ins, outs) == want


def _slice_assigned_mask() -> onnx.ModelProto:
    """``y = x + mask``, x 1 x 4 x 4, where ``mask = zeros(4, 4); mask[0:3, 0:3] = 1.0`` as an export writes it: the
    3 x 3 index grid from ``Range`` / ``Add`` / ``Concat`` and a ``ConstantOfShape`` of the value into a
    ``ScatterND`` (swin_t's shifted-window masks, nine regions each)."""
    i64 = lambda *v: helper.make_tensor("v", TensorProto.INT64, [len(v)], list(v))  # noqa: E731
    scalar = lambda v: helper.make_tensor("v", TensorProto.INT64, [], [v])  # noqa: E731
    nodes = [
        helper.make_node("Constant", [], ["shape44"], value=i64(4, 4)),
        helper.make_node("Constant", [], ["shape33"], value=i64(3, 3)),
        helper.make_node("ConstantOfShape", ["shape44"], ["zeros"],
                         value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.0])),
        helper.make_node("Constant", [], ["start"], value=scalar(0)),
        helper.make_node("Constant", [], ["limit"], value=scalar(3)),
        helper.make_node("Constant", [], ["delta"], value=scalar(1)),
        helper.make_node("Range", ["start", "limit", "delta"], ["r"]),  # 3 int64: host arithmetic
        helper.make_node("Constant", [], ["ax0"], value=i64(0)),
        helper.make_node("Constant", [], ["ax1"], value=i64(1)),
        helper.make_node("Constant", [], ["axl"], value=i64(-1)),
        helper.make_node("Unsqueeze", ["r", "ax1"], ["rows"]),  # 3 x 1
        helper.make_node("Unsqueeze", ["r", "ax0"], ["cols"]),  # 1 x 3
        helper.make_node("Sub", ["cols", "cols"], ["cols0"]),  # 1 x 3 zeros: host arithmetic
        helper.make_node("Sub", ["rows", "rows"], ["rows0"]),  # 3 x 1 zeros: host arithmetic
        helper.make_node("Add", ["rows", "cols0"], ["grid_r"]),  # 3 x 3 int64
        helper.make_node("Add", ["cols", "rows0"], ["grid_c"]),  # 3 x 3 int64
        helper.make_node("Unsqueeze", ["grid_r", "axl"], ["gr"]),
        helper.make_node("Unsqueeze", ["grid_c", "axl"], ["gc"]),
        helper.make_node("Concat", ["gr", "gc"], ["idx"], axis=-1),  # 3 x 3 x 2 int64
        helper.make_node("ConstantOfShape", ["shape33"], ["ones"],
                         value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),  # 3 x 3 float32
        helper.make_node("ScatterND", ["zeros", "idx", "ones"], ["mask"]),
        helper.make_node("Add", ["x", "mask"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "sliced", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_slice_assignment_index_grids_are_not_kernels():
    # until 2026-12-04 the two 3 x 3 grids (Add x2), the 3 x 3 x 2 Concat and the 3 x 3 ConstantOfShape of the value
    # counted too (6 nodes): eager PyTorch writes mask[0:3, 0:3] = 1.0 as one fill on a view, the ScatterND here
    res = normalize(_slice_assigned_mask())
    assert res.folded == FoldedWork(
        nodes=2,  # the zeros (ConstantOfShape 4 x 4) and the fill (ScatterND)
        elements=2 * 4 * 4,
        # zeros: its (2,) int64 shape; ScatterND: the 4 x 4 float32 zeros, 3 x 3 x 2 int64 indices, 3 x 3 float32 value
        bytes_read=2 * 8 + (4 * 4 * 4 + 3 * 3 * 2 * 8 + 3 * 3 * 4),
        bytes_written=2 * 4 * 4 * 4,
    )


def test_check_does_not_call_it_unverified(tmp_path, monkeypatch, capsys):
    # until 2026-12-04 the note was a reason of latency_note ("unverified: 4 constant-foldable nodes..."): check said
    # "ok (unverified)" of every LLM under the default torch runtime on a GPU sheet, and its JSON listed the note
    # under "estimated" (an estimated device figure / unverified zero-shot model)
    from hybridperf.cli import main

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    path = tmp_path / "masked.onnx"
    onnx.save(_masked_model(), str(path))
    argv = ["check", str(path), "-d", "t4", "--runtime", "torch", "--max-latency", "1s"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    latency_row = next(line for line in out.splitlines() if " latency " in f" {line} ")
    assert latency_row.endswith(" ok") and "unverified" not in out
    assert main([*argv, "--format", "json"]) == 0
    latency = next(c for c in json.loads(capsys.readouterr().out)["checks"] if c["metric"] == "latency")
    assert latency["passed"] is True and latency["estimated"] is None


def test_predict_many_rows_carry_it_apart(tmp_path):
    # until 2026-12-04 a row had it only inside latency_note, so its status read "ok (unverified)"
    from hybridperf.commands._sweep import FIGURES, predict_row
    from hybridperf.report.many import _status

    path = tmp_path / "masked.onnx"
    onnx.save(_masked_model(), str(path))
    row = predict_row(str(path), "t4", None, None, True, roofline_only=True, runtime="torch")
    assert row["error"] is None, row["error"]
    assert "folded_note" in FIGURES and row["folded_note"] == f"4 {EAGER.format(n=4)}"
    assert row["latency_note"] is None and _status(row) == "ok"
    assert predict_row(str(path), "t4", None, None, True, roofline_only=True, runtime="tvm")["folded_note"] is None


def _big_table_lookup() -> onnx.ModelProto:
    """``y = x + table[idx]``, ``table`` 128 x 256 float32 (128 KiB, over the 64 KiB a file path reads into memory),
    ``idx`` a constant: a position-embedding lookup as BERT's exports have it."""
    rows, cols = 128, 256
    table = np.arange(rows * cols, dtype=np.float32).reshape(rows, cols)
    idx = np.arange(4, dtype=np.int64).reshape(1, 4)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "idx"], ["emb"]), helper.make_node("Add", ["x", "emb"], ["y"])],
        "lookup", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, cols])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, cols])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(idx, "idx")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_the_count_is_the_normalisers_and_follows_the_load_path(tmp_path):
    # documented, not changed (2026-12-04): a file path leaves initializers over INLINE_EXTERNAL_BYTES on disk, so the
    # normaliser does not fold what reads them (TVM's importer folds it later, uncounted); an in-memory ModelProto
    # holds them all. bert_base: 0 folded nodes from its path, 1 (the position-embedding Gather) from onnx.load
    import hybridperf
    from hybridperf.frontends.onnx_import import INLINE_EXTERNAL_BYTES

    model = _big_table_lookup()
    assert 128 * 256 * 4 > INLINE_EXTERNAL_BYTES
    path = tmp_path / "lookup.onnx"
    onnx.save(model, str(path))
    from_path, in_memory = hybridperf.analyze(str(path)), hybridperf.analyze(onnx.load(str(path)))
    assert from_path.folded == FoldedWork()
    # the Gather: 4 x 256 float32 written; the 128 x 256 table and the 1 x 4 int64 indices read
    assert in_memory.folded == FoldedWork(1, 4 * 256, 128 * 256 * 4 + 4 * 8, 4 * 256 * 4)
    assert from_path.analysis.flops == in_memory.analysis.flops  # no figure depends on it


def test_analysis_carries_it(analyzed):
    import hybridperf

    assert analyzed.folded == MASKED
    assert pickle.loads(pickle.dumps(analyzed)).folded == MASKED  # a sweep ships analyses
    # a Relax module did not go through the normaliser: unknown, never 0
    assert hybridperf.analyze(_relax_add()).folded is None


def _relax_add():
    from hybridperf.ir.tvm_compat import tvm_modules

    _, relax = tvm_modules()
    x = relax.Var("x", relax.TensorType((4, 4), "float32"))
    bb = relax.BlockBuilder()
    with bb.function("main", [x]):
        with bb.dataflow():
            out = bb.emit_output(relax.op.add(x, x))
        bb.emit_func_output(out)
    return bb.get()


@pytest.mark.parametrize("runtime, words", [("torch", EAGER), ("torch-cudagraph", CUDA_GRAPH)])
def test_runtimes_that_run_them_say_so(analyzed, runtime, words):
    # until 2026-12-04: latency_note "" under torch, with the mask and the Cos table in no figure
    from hybridperf.estimate.pricing import predict_on

    pred = predict_on(analyzed, "t4", runtime=runtime)
    assert pred.folded_note == f"4 {words.format(n=4)}"
    # a disclosure, not a qualifier: the latency is not unverified by it (t4 is a training GPU: nothing else to say)
    assert pred.latency_note == ""
    # since 2026-12-05 the folded nodes are priced as the runtime runs them: every figure rises over the same
    # analysis with nothing folded (until then the note changed and no figure)
    bare = predict_on(dataclasses.replace(analyzed, folded=None), "t4", runtime=runtime)
    assert pred.latency_s > bare.latency_s and pred.energy_j > bare.energy_j
    assert pred.roofline_latency_s >= bare.roofline_latency_s
    assert bare.folded_note == ""


@pytest.mark.parametrize("device, runtime", [("t4", "tvm"), ("host-xeon-1c", "onnxruntime"), ("host-xeon-1c", None)])
def test_runtimes_that_fold_them_do_not(analyzed, device, runtime):
    # onnxruntime and TVM fold the same subgraphs at load time: the folded figures are theirs
    from hybridperf.estimate.pricing import predict_on

    pred = predict_on(analyzed, device, runtime=runtime)
    assert pred.folded_note == "" and "constant-foldable" not in pred.latency_note


def test_predict_json_carries_it(tmp_path, monkeypatch, capsys):
    from hybridperf.cli import main

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    path = tmp_path / "masked.onnx"
    onnx.save(_masked_model(), str(path))
    assert main(["predict", str(path), "--device", "t4", "--runtime", "torch", "--roofline-only",
                 "--format", "json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["folded_constants"] == MASKED.to_dict()
    assert totals["folded_note"] == f"4 {EAGER.format(n=4)}" and totals["latency_note"] is None
    # the table says it on a note line of its own
    assert main(["predict", str(path), "--device", "t4", "--runtime", "torch", "--roofline-only", "--top", "0"]) == 0
    assert f"note      4 {EAGER.format(n=4)}" in capsys.readouterr().out.splitlines()
    assert main(["predict", str(path), "--device", "t4", "--runtime", "tvm", "--roofline-only", "--top", "0"]) == 0
    assert "constant-foldable" not in capsys.readouterr().out


@pytest.mark.skipif(not ZOO_LLAMA.is_file(), reason="the model zoo (.zoo/) is not built")
def test_llama_tiny_masks_and_rotary_tables():
    # 9 kernels eager PyTorch runs: the causal mask (LessOrEqual, And x2, the padding Gather, a bool->float Where;
    # its same-dtype casts excepted) and the rotary tables (Cos, Sin and their attention-scaling Mul x2); its shape
    # arithmetic (ConstantOfShape / Equal / Where on shape vectors) is Python ints in PyTorch, its views no kernel
    from hybridperf import api
    from hybridperf.estimate.pricing import predict_on

    whole = api.analyze(str(ZOO_LLAMA))
    assert whole.folded.nodes == 9
    # four 128x128 masks (LessOrEqual, And x2, Where), the Gather's 1x128, four 1x128x64 tables (Cos, Sin, Mul x2)
    assert whole.folded.elements == 4 * 128 * 128 + 128 + 4 * 128 * 64
    # composed from cached segments, the same report
    assert api.Session(keep_analyses=0).analyze(str(ZOO_LLAMA)).folded == whole.folded
    assert predict_on(whole, "t4", runtime="torch").folded_note == f"9 {EAGER.format(n=9)}"
