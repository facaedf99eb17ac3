"""Frontend leftovers: Dropout's bool mask, einsum chains priced pairwise, ``measure`` on a TVMScript file, and
``--shape`` values that give one symbolic dim two values. Models are built here with ``onnx.helper``."""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("tvm")
from onnx import TensorProto, helper  # noqa: E402

from hybridperf.cli import main  # noqa: E402


def _save(path, nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, str(path))
    return m


def _vi(name, elem, dims):
    return helper.make_tensor_value_info(name, elem, dims)


def _predict_json(path, capsys, *flags):
    assert main(["predict", str(path), "--device", "t4", "--format", "json", *flags]) == 0
    return json.loads(capsys.readouterr().out)


# ------------------------------------------------------------------ 1. Dropout's mask is bool

X = (1, 64, 32, 32)
N = 1 * 64 * 32 * 32


def _dropout(path, with_mask):
    outs = [_vi("y", TensorProto.FLOAT, X)] + ([_vi("mask", TensorProto.BOOL, X)] if with_mask else [])
    ratio = helper.make_tensor("ratio", TensorProto.FLOAT, [], [0.5])
    node = helper.make_node("Dropout", ["x", "ratio"], [o.name for o in outs])
    return _save(path, [node], [_vi("x", TensorProto.FLOAT, X)], outs, [ratio])


def test_dropout_mask_is_bool_as_onnxruntime_returns_it(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from hybridperf.frontends.load import load_model
    from hybridperf.ir import tvm_compat as _tvm

    model = _dropout(tmp_path / "d.onnx", with_mask=True)
    x = np.random.default_rng(0).random(X, dtype=np.float32)
    y, mask = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert mask.dtype == np.bool_ and mask.all() and np.array_equal(y, x)  # inference: y = x, mask all true
    mod = load_model(model).module
    out = _tvm.tensor_infos(_tvm.expr_type(mod["main"].body))
    assert [(o.dtype, tuple(o.shape)) for o in out] == [("float32", X), ("bool", X)]  # was float32, float32


def test_dropout_7_mask_keeps_the_input_dtype(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from hybridperf.frontends.load import load_model
    from hybridperf.ir import tvm_compat as _tvm

    outs = [_vi("y", TensorProto.FLOAT, X), _vi("mask", TensorProto.FLOAT, X)]  # Dropout-7: mask is T, not bool
    node = helper.make_node("Dropout", ["x"], ["y", "mask"], ratio=0.5)
    model = _save(tmp_path / "d7.onnx", [node], [_vi("x", TensorProto.FLOAT, X)], outs, opset=7)
    x = np.ones(X, np.float32)
    _, mask = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    out = _tvm.tensor_infos(_tvm.expr_type(load_model(model).module["main"].body))
    assert [o.dtype for o in out] == ["float32", str(mask.dtype)] == ["float32", "float32"]


def test_dropout_with_a_used_mask_writes_one_byte_per_element(tmp_path, capsys):
    # was bytes_read 262144, bytes_written 2*N*4 = 524288 (a float32 mask), peak 786432
    _dropout(tmp_path / "d.onnx", with_mask=True)
    d = _predict_json(tmp_path / "d.onnx", capsys)
    assert (d["totals"]["flops"], d["totals"]["bytes_read"], d["totals"]["bytes_written"]) == (0, 0, N * 1)
    assert d["memory"]["input_bytes"] == N * 4
    assert d["memory"]["peak_bytes"] == N * 4 + N * 1  # the input (which y is) + the bool mask


def test_dropout_without_mask_is_its_input(tmp_path, capsys):
    # was a copy kernel writing y and an unused float32 mask: bytes_written 2*N*4
    _dropout(tmp_path / "d.onnx", with_mask=False)
    d = _predict_json(tmp_path / "d.onnx", capsys)
    assert (d["totals"]["bytes_read"], d["totals"]["bytes_written"], d["totals"]["kernels"]) == (0, 0, 0)
    assert d["memory"]["peak_bytes"] == N * 4


# ------------------------------------------------------------------ 2. einsum of 3+ operands: pairwise


def _einsum_flops(subscripts, *shapes):
    from tvm import relax

    from hybridperf.analysis.cost_pass import analyze_module
    from hybridperf.costs import Status

    bb = relax.BlockBuilder()
    params = [relax.Var(f"x{i}", relax.TensorType(s, "float32")) for i, s in enumerate(shapes)]
    with bb.function("main", params):
        with bb.dataflow():
            out = bb.emit_output(relax.op.einsum(params, subscripts))
        bb.emit_func_output(out)
    (r,) = analyze_module(bb.get()).records
    assert r.op == "relax.einsum" and r.status is Status.COUNTED
    return r.cost.flops


def test_einsum_chain_is_the_sum_of_its_pairwise_contractions():
    # was 2 * 32**4 = 2097152 (one loop over i, j, k, l)
    assert _einsum_flops("ij,jk,kl->il", (32, 32), (32, 32), (32, 32)) == 2 * 32**3 + 2 * 32**3
    # the optimal order, not left to right (2*100*200*300 + 2*100*300): jk,k->j then ij,j->i
    assert _einsum_flops("ij,jk,k->i", (100, 200), (200, 300), (300,)) == 2 * 200 * 300 + 2 * 100 * 200
    # four operands: jk,kl->jl (2 * 8*64*8), ij,jl->il (2 * 64*8*8), il,lm->im (2 * 64*8*64); left to right
    # would be 2 * (64*8*64 + 64*64*8 + 64*8*64)
    assert _einsum_flops("ij,jk,kl,lm->im", (64, 8), (8, 64), (64, 8), (8, 64)) == 2 * (
        8 * 64 * 8 + 64 * 8 * 8 + 64 * 8 * 64)
    # implicit output and broadcast "..." dims (batch 2 from the first and third operands, absent in the second):
    # dij,jk->dik (2 * 2*8*16*4), then dik,dkl->dil (2 * 2*8*4*32)
    assert _einsum_flops("...ij,jk,...kl", (2, 8, 16), (16, 4), (1, 4, 32)) == 2 * (2 * 8 * 16 * 4 + 2 * 8 * 4 * 32)
    # no index summed: two element-wise products, each priced as the two-operand case prices one
    assert _einsum_flops("ij,ij,ij->ij", (3, 4), (3, 4), (3, 4)) == 2 * (2 * 3 * 4)


def test_einsum_of_two_operands_is_unchanged():
    assert _einsum_flops("bhid,bhjd->bhij", (2, 3, 4, 5), (2, 3, 6, 5)) == 2 * (2 * 3) * 4 * 6 * 5


def test_onnx_einsum_chain_is_one_relax_einsum_priced_pairwise_and_matches_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    import tvm
    from tvm import relax

    from hybridperf.analysis.analyze import analyze
    from hybridperf.frontends.load import load_model

    ins = [_vi(n, TensorProto.FLOAT, [32, 32]) for n in "abc"]
    node = helper.make_node("Einsum", ["a", "b", "c"], ["y"], equation="ij,jk,kl->il")
    model = _save(tmp_path / "e.onnx", [node], ins, [_vi("y", TensorProto.FLOAT, [32, 32])])
    # was a call_tir of TVM's topi.einsum priced by its TIR loop: 3 * 32**4 = 3145728
    (r,) = [r for r in analyze(model).analysis.records if r.cost.flops]
    assert (r.op, r.cost.flops) == ("relax.einsum", 2 * 32**3 + 2 * 32**3)
    rng = np.random.default_rng(1)
    feeds = {n: rng.random((32, 32), dtype=np.float32) for n in "abc"}
    (want,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    vm = relax.VirtualMachine(relax.build(load_model(model).module, target="llvm"), tvm.cpu())
    got = vm["main"](*(tvm.runtime.tensor(feeds[n]) for n in "abc")).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5)


# ------------------------------------------------------------------ 3. measure on a file that is not ONNX


def test_measure_on_a_tvmscript_file_says_it_runs_onnx_only(tmp_path, capsys):
    # was "...; the file is corrupt or not an ONNX model: re-export it"
    f = tmp_path / "sym.py"
    f.write_text("from tvm.script import relax as R\n")
    assert main(["measure", str(f), "--threads", "1"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (f"hybridperf: error: cannot read {f} as ONNX (DecodeError); measure runs ONNX models "
                                 "only: a Relax module file (TVMScript, TVM JSON) is priced by `hybridperf annotate` "
                                 "(or the API, as an IRModule), not measured\n")


def test_measure_on_a_tflite_file_names_predict(tmp_path):
    from hybridperf.errors import ModelLoadError
    from hybridperf.measure.onnxruntime import input_specs

    f = tmp_path / "m.tflite"
    f.write_text("TFL3")
    with pytest.raises(ModelLoadError) as exc:
        input_specs(f, None, None)
    assert str(exc.value) == (f"cannot read {f} as ONNX (DecodeError); measure runs ONNX models only: a .tflite model "
                              "is priced by `hybridperf predict`, not measured (export it to ONNX to measure it)")


def test_measure_and_load_share_one_message(tmp_path):
    from hybridperf.frontends.onnx_import import load_onnx_proto
    from hybridperf.measure.onnxruntime import input_specs

    f = tmp_path / "junk.onnx"
    f.write_text("not a model")
    for read in (lambda: load_onnx_proto(f), lambda: input_specs(f, None, None)):
        with pytest.raises(Exception) as exc:
            read()
        assert str(exc.value) == f"cannot read {f} as ONNX (DecodeError); the file is corrupt or not an ONNX model: " \
                                 "re-export it"


# ------------------------------------------------------------------ 4. one symbolic dim, two --shape values


@pytest.fixture(scope="module")
def two_branch(tmp_path_factory):
    """input_ids [batch, seq] and attention_mask [batch, seq] in two branches that never meet: no op refuses
    a mismatch, so predict priced 1x128 and 1x64 until this check."""
    path = tmp_path_factory.mktemp("shapes") / "m.onnx"
    nodes = [helper.make_node("Cast", ["input_ids"], ["ids_f"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT)]
    _save(path, nodes, [_vi("input_ids", TensorProto.INT64, ["batch", "seq"]),
                        _vi("attention_mask", TensorProto.INT64, ["batch", "seq"])],
          [_vi("ids_f", TensorProto.FLOAT, ["batch", "seq"]), _vi("mask_f", TensorProto.FLOAT, ["batch", "seq"])])
    return path


SEQ_LINE = ("--shape input_ids=1x128 and --shape attention_mask=1x64 bind symbolic dim 'seq' to 128 and 64; give 'seq' "
            "one value in every input that names it (e.g. --shape attention_mask=1x128)")


@pytest.mark.parametrize("command", [["predict", "--device", "t4"], ["measure", "--threads", "1", "--repeats", "1"]])
def test_conflicting_shapes_for_one_symbolic_dim_are_refused(two_branch, tmp_path, capsys, command):
    out_file = tmp_path / "out.json"
    argv = [command[0], str(two_branch), *command[1:], "--shape", "input_ids=1x128", "--shape", "attention_mask=1x64"]
    if command[0] == "measure":
        argv += ["--out", str(out_file)]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"hybridperf: error: {SEQ_LINE}\n"
    assert not out_file.exists()


@pytest.mark.parametrize(("shaped", "other"), [("input_ids", "attention_mask"), ("attention_mask", "input_ids")])
def test_a_shape_and_batch_that_disagree_are_refused_whichever_input_comes_first(two_branch, capsys, shaped, other):
    # with attention_mask shaped, input_ids (first) took --batch 4 and attention_mask 1: priced 4x128 and 1x128
    assert main(["predict", str(two_branch), "--device", "t4", "--shape", f"{shaped}=1x128", "--batch", "4"]) == 2
    assert capsys.readouterr().err == (
        f"hybridperf: error: --shape {shaped}=1x128 binds symbolic dim 'batch' to 1 but --batch 4 binds it to 4 in "
        f"input {other!r}; give it one value: drop --batch, or give the batch in every --shape\n")


def test_agreeing_shapes_still_bind(two_branch, capsys):
    d = _predict_json(two_branch, capsys, "--shape", "input_ids=2x64", "--batch", "2")
    assert d["input_shapes"] == {"input_ids": [2, 64], "attention_mask": [2, 64]}
