"""Issue 10 section 2 (input handling) and section 3 (external data left on disk).

Each bad input: the documented exit code, one line on stderr that names the fix,
nothing on stdout, nothing written. External weights: never read, and every
figure identical to the in-memory model.
"""

from __future__ import annotations

import os
import stat
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridperf.cli import main

sys.path.insert(0, str(Path(__file__).parent))
import onnx_models  # noqa: E402


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, out, err, *fragments):
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hybridperf: error: ")
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def _save_external(model, path: Path, location: str) -> None:
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=location, size_threshold=0)


def _big_mlp():
    """x[1,256] -> MatMul w1[256,512] -> Add b1[512] -> Relu -> MatMul w2[512,128]: two weights above 64 KiB."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((256, 512)).astype(np.float32), "w1")  # 512 KiB
    b1 = numpy_helper.from_array(rng.standard_normal(512).astype(np.float32), "b1")  # 2 KiB: read into memory
    w2 = numpy_helper.from_array(rng.standard_normal((512, 128)).astype(np.float16), "w2")  # 128 KiB
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
        helper.make_node("Add", ["h", "b1"], ["hb"], name="add1"),
        helper.make_node("Relu", ["hb"], ["r"], name="relu"),
        helper.make_node("Cast", ["r"], ["r16"], name="cast", to=TensorProto.FLOAT16),
        helper.make_node("MatMul", ["r16", "w2"], ["y"], name="mm2"),
    ]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [1, 128])], initializer=[w1, b1, w2])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


# --------------------------------------------------------------------------- section 3: external data on disk


def _figures(analyzed):
    return (analyzed.analysis.flops, analyzed.analysis.weight_bytes, analyzed.memory,
            [(k.name, k.cost) for k in analyzed.kernels], [(r.op, r.cost, r.status) for r in analyzed.analysis.records])


def test_external_weights_stay_on_disk_with_identical_figures(tmp_path):
    from hybridperf.analysis.analyze import analyze
    from hybridperf.frontends.onnx_import import INLINE_EXTERNAL_BYTES, load_onnx_proto

    m = _big_mlp()
    onnx.save(m, str(tmp_path / "mem.onnx"))
    _save_external(m, tmp_path / "ext.onnx", "ext.onnx.data")
    proto = load_onnx_proto(tmp_path / "ext.onnx")
    where = {t.name: (t.data_location, len(t.raw_data)) for t in proto.graph.initializer}
    assert INLINE_EXTERNAL_BYTES == 65536
    assert where == {"w1": (TensorProto.EXTERNAL, 0), "w2": (TensorProto.EXTERNAL, 0), "b1": (TensorProto.DEFAULT, 512 * 4)}

    full, ext = analyze(onnx.load(str(tmp_path / "mem.onnx"))), analyze(tmp_path / "ext.onnx")
    assert _figures(ext) == _figures(full)
    assert ext.analysis.weight_bytes == 256 * 512 * 4 + 512 * 4 + 512 * 128 * 2  # w1 fp32 + b1 fp32 + w2 fp16
    assert ext.analysis.flops == full.analysis.flops > 2 * 256 * 512 + 2 * 512 * 128  # both matmuls, 2 x MAC, + add/relu


def _folded_weights():
    """Weights reshaped on the way to their ops, as exporters write them (dynamo: Transpose -> Gemm;
    fp16 storage: Cast; Reshape/Unsqueeze/Squeeze/Neg/Abs): TVM folds each into a constant."""
    rng = np.random.default_rng(1)
    inits = [
        numpy_helper.from_array(rng.standard_normal((512, 256)).astype(np.float32), "wt"),  # 512 KiB, transposed
        numpy_helper.from_array(rng.standard_normal((256, 256)).astype(np.float16), "w16"),  # 128 KiB, cast to fp32
        numpy_helper.from_array(rng.standard_normal((1, 256, 256)).astype(np.float32), "w3"),  # squeezed, negated, abs
        numpy_helper.from_array(rng.standard_normal(65536).astype(np.float32), "wflat"),  # reshaped, unsqueezed
        numpy_helper.from_array(np.array([256, 256], dtype=np.int64), "shape"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axes"),
    ]
    nodes = [
        helper.make_node("Transpose", ["wt"], ["wt_t"], perm=[1, 0]),
        helper.make_node("Gemm", ["x", "wt_t"], ["h1"]),  # [1,256] x [256,512]
        helper.make_node("Cast", ["w16"], ["w32"], to=TensorProto.FLOAT),
        helper.make_node("Squeeze", ["w3", "axes"], ["w3s"]),
        helper.make_node("Neg", ["w3s"], ["w3n"]),
        helper.make_node("Abs", ["w3n"], ["w3a"]),
        helper.make_node("Reshape", ["wflat", "shape"], ["wr"]),
        helper.make_node("Unsqueeze", ["wr", "axes"], ["wu"]),
        helper.make_node("Slice", ["h1", "s0", "s1", "s2"], ["h1s"]),
        helper.make_node("MatMul", ["h1s", "w32"], ["a"]),
        helper.make_node("MatMul", ["a", "w3a"], ["b"]),
        helper.make_node("MatMul", ["b", "wu"], ["y"]),  # [1,256] x [1,256,256] -> [1,1,256]
    ]
    inits += [numpy_helper.from_array(np.array(v, dtype=np.int64), n) for n, v in (("s0", [0]), ("s1", [256]), ("s2", [1]))]
    g = helper.make_graph(nodes, "folded", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_weights_folded_by_type_give_identical_figures(tmp_path):
    """Each op in onnx_import._TYPE_FOLDED_OPS on a weight left on disk prices like the loaded weight."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.frontends import onnx_import

    m = _folded_weights()
    assert {n.op_type for n in m.graph.node} >= onnx_import._TYPE_FOLDED_OPS
    onnx.save(m, str(tmp_path / "mem.onnx"))
    _save_external(m, tmp_path / "ext.onnx", "w.bin")
    on_disk = [t.name for t in onnx_import.load_onnx_proto(tmp_path / "ext.onnx").graph.initializer if t.data_location == TensorProto.EXTERNAL]
    assert on_disk == ["wt", "w16", "w3", "wflat"]
    full, ext = analyze(onnx.load(str(tmp_path / "mem.onnx"))), analyze(tmp_path / "ext.onnx")
    assert _figures(ext) == _figures(full)
    # the folded constants are what the matmuls read: wt^T fp32, w16 as fp32, w3 squeezed, wflat as 1x256x256
    assert full.analysis.weight_bytes == (256 * 512 + 256 * 256 + 256 * 256 + 65536) * 4


@pytest.mark.parametrize("name", ["resnet_like", "mobilenetv2_like", "densenet_like"])
def test_every_weight_stubbed_gives_identical_figures(tmp_path, monkeypatch, name):
    """With the inline threshold at 0 every initializer is a placeholder: conv nets still price the same."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.frontends import onnx_import

    m, _ = getattr(onnx_models, name)()
    onnx.save(m, str(tmp_path / "mem.onnx"))
    _save_external(m, tmp_path / "ext.onnx", "w.bin")
    monkeypatch.setattr("hybridperf.frontends.onnx_import.INLINE_EXTERNAL_BYTES", 0)
    assert all(t.data_location == TensorProto.EXTERNAL for t in onnx_import.load_onnx_proto(tmp_path / "ext.onnx").graph.initializer)
    assert _figures(analyze(tmp_path / "ext.onnx", batch=2)) == _figures(analyze(onnx.load(str(tmp_path / "mem.onnx")), batch=2))


def test_missing_external_data_file_is_named(tmp_path, capsys):
    _save_external(_big_mlp(), tmp_path / "ext.onnx", "weights.bin")
    (tmp_path / "weights.bin").unlink()
    code, out, err = run(capsys, "predict", str(tmp_path / "ext.onnx"), "-d", "t4")
    line = one_line_error(code, out, err, "external data file 'weights.bin' not found", "copy it next to the model")
    assert "corrupt" not in line


def test_truncated_external_data_file(tmp_path, capsys):
    _save_external(_big_mlp(), tmp_path / "ext.onnx", "weights.bin")
    with open(tmp_path / "weights.bin", "r+b") as f:
        f.truncate(1000)
    code, out, err = run(capsys, "predict", str(tmp_path / "ext.onnx"), "-d", "t4")
    one_line_error(code, out, err, "external data file 'weights.bin' is truncated (1000 bytes", "needs bytes 0..524288")


# --------------------------------------------------------------------------- section 2


def _two_input_add(path: Path) -> None:
    g = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"], name="add")], "g",
                          [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 4]),
                           helper.make_tensor_value_info("b", TensorProto.FLOAT, ["M", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))


def test_incompatible_bound_shapes_one_line_and_clean_stdout(tmp_path, capsys):
    _two_input_add(tmp_path / "add.onnx")
    code, out, err = run(capsys, "predict", str(tmp_path / "add.onnx"), "-d", "t4", "--shape", "a=3x4", "--shape", "b=2x4",
                         "--format", "json")
    line = one_line_error(code, out, err, "at node 'add' (Add)", "dim 0 is 3", "dim 0 is 2", "not broadcastable",
                          "input shapes (a=3x4, b=2x4) do not fit the model", "--shape")
    assert "Error converting operator" not in out + err
    assert "ir.Op(" not in line and "T.int64" not in line and len(line) < 400


def test_negative_limit_space_separated(capsys, model_dir):
    for flag, value in (("--max-latency", "-5ms"), ("--max-memory", "-1e3MiB"), ("--max-energy", "-.5mJ")):
        code, out, err = run(capsys, "check", str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", "t4", flag, value)
        one_line_error(code, out, err, f"{flag} '{value}': must be positive")


def test_measure_out_under_a_file_fails_before_measuring(tmp_path, capsys, model_dir, monkeypatch):
    import hybridperf.measure.onnxruntime

    def boom(*a, **k):
        raise AssertionError("measured before validating --out")

    monkeypatch.setattr(hybridperf.measure.onnxruntime, "measure", boom)
    (tmp_path / "afile").write_text("x")
    model = str(model_dir / "resnet_like.onnx")
    code, out, err = run(capsys, "measure", model, "--batch", "1", "--out", str(tmp_path / "afile" / "m.json"))
    one_line_error(code, out, err, "afile is a file, not a directory")
    code, out, err = run(capsys, "measure", model, "--batch", "1", "--out", str(tmp_path / "nodir" / "m.csv"))
    one_line_error(code, out, err, "does not exist; create it first")
    code, out, err = run(capsys, "measure", model, "--batch", "1", "--out", str(tmp_path))
    one_line_error(code, out, err, "is a directory; name the file to write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_calibrate_out_under_a_file_fails_before_training(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "data").mkdir()
    code, out, err = run(capsys, "calibrate", "-d", "host-epyc-1c", "--data", str(tmp_path / "data"),
                         "--out", str(tmp_path / "afile" / "sub" / "model"))
    one_line_error(code, out, err, "--out", "afile is a file, not a directory")


def test_roofline_only_says_so(capsys, model_dir):
    code, out, err = run(capsys, "predict", str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", "host-epyc-1c",
                         "--roofline-only")
    assert code == 0, err
    assert "roofline only (--roofline-only)" in out and "no residual model" not in out


def test_top_negative_rejected_and_zero_is_summary_only(capsys, model_dir):
    model = str(model_dir / "resnet_like.onnx")
    code, out, err = run(capsys, "predict", model, "--batch", "1", "-d", "t4", "--top", "-1")
    one_line_error(code, out, err, "--top must be >= 0", "got -1")
    code, out, err = run(capsys, "predict", model, "--batch", "1", "-d", "t4", "--top", "0")
    assert code == 0 and err == ""
    assert out.startswith("model ") and "latency " in out
    assert not any(line.startswith("kernel ") for line in out.splitlines())  # no table header
    assert "more kernels" not in out  # no "use --top N" hint


def test_torch_save_pickle_points_to_pt2(tmp_path, capsys):
    with zipfile.ZipFile(tmp_path / "model.pt", "w") as z:  # the layout torch.save writes: a zipped pickle
        z.writestr("model/data.pkl", b"\x80\x02}q\x00.")
        z.writestr("model/version", b"3\n")
    (tmp_path / "old.pth").write_bytes(b"\x80\x02}q\x00.")  # the legacy (non-zip) pickle
    for name in ("model.pt", "old.pth"):
        code, out, err = run(capsys, "predict", str(tmp_path / name), "-d", "t4")
        line = one_line_error(code, out, err, "torch.save pickles", "torch.export.save", ".pt2")
        assert "not an ONNX model" not in line


def test_missing_device_file_is_file_not_found(capsys, model_dir):
    code, out, err = run(capsys, "predict", str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", "missing.yaml")
    line = one_line_error(code, out, err, "device spec file not found: missing.yaml")
    assert "unknown device" not in line


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_junit_xml_mode_follows_umask(tmp_path, capsys, model_dir, umask, mode):
    old = os.umask(umask)
    try:
        code, _, err = run(capsys, "check", str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", "t4",
                           "--max-latency", "1s", "--junit-xml", str(tmp_path / "r.xml"))
    finally:
        os.umask(old)
    assert code == 0, err
    assert stat.S_IMODE((tmp_path / "r.xml").stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["r.xml"]  # no temporary file left


def test_prediction_repr_is_short(model_dir):
    from hybridperf.api import predict

    pred = predict(str(model_dir / "resnet_like.onnx"), "t4", batch=1)
    text = repr(pred)
    assert len(text) < 400, len(text)
    assert text.startswith("Prediction(source=") and "device='t4'" in text and f"flops={pred.flops}" in text


def test_onnxruntime_memory_of_a_model_over_the_optimiser_limit_never_reads_weights(tmp_path, monkeypatch):
    """Above ORT_OPTIMISE_MAX_BYTES the onnxruntime peak is sized from the graph as written: weights
    stay on disk (a deleted data file would make any read fail), and the report says which graph it used."""
    from hybridperf.api import predict
    from hybridperf.estimate import runtime_memory

    _save_external(_big_mlp(), tmp_path / "ext.onnx", "w.bin")
    monkeypatch.setattr(runtime_memory, "ORT_OPTIMISE_MAX_BYTES", 1024)
    pred = predict(tmp_path / "ext.onnx", "host-epyc-1c", runtime="onnxruntime")
    (tmp_path / "w.bin").unlink()  # analysis is done; the runtime model must not need the data either
    peak, why = runtime_memory.runtime_peak(pred, "onnxruntime")
    assert why == "" and peak.part("initializers") >= (256 * 512 * 4 + 512 * 4 + 512 * 128 * 2)
    assert any("as written" in n for n in peak.notes)


def test_device_without_a_model_says_so_not_roofline_only_flag(capsys, model_dir):
    """A device with no stored model and no zero-shot model is priced by the roofline *because none exists*:
    the note must not claim --roofline-only was passed (a regression of the regroup, benchmarks/behaviour_diff.py)."""
    code, out, err = run(capsys, "predict", str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", "ethos-u55",
                         "--precision", "int8", "--top", "0")  # an NPU: neither the GPU nor the CPU model applies
    assert code == 0, err
    assert "roofline only: no residual model for ethos-u55" in out and "--roofline-only" not in out
