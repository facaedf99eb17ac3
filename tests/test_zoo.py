"""The model zoo: registry checks without torch, one tiny export with torch."""

from __future__ import annotations

import pytest

from benchmarks import zoo


def test_registry_has_40_unique_entries_with_families():
    entries = zoo.list_models()
    names = [e.name for e in entries]
    assert len(entries) >= 40
    assert len(set(names)) == len(names)
    assert all(e.family and e.family == e.family.strip().lower() for e in entries)
    assert all(e.source in ("torchvision", "transformers") for e in entries)
    assert len({e.family for e in entries}) >= 20  # enough families to hold some out


def test_every_input_spec_is_complete():
    for e in zoo.list_models():
        spec = e.input
        if spec.kind is zoo.InputKind.IMAGE:
            assert spec.resolution and spec.resolution > 0, e.name
        else:
            assert spec.seq_len and spec.seq_len > 0, e.name
        if spec.kind is zoo.InputKind.TOKENS:
            assert spec.vocab_size, e.name
        assert e.batches and all(b > 0 for b in e.batches), e.name


def test_registry_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys; from benchmarks import zoo; zoo.list_models(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_name_suggests_a_close_one():
    with pytest.raises(zoo.ZooError, match="did you mean 'resnet18'"):
        zoo.get("resnet-18")


def test_shape_defaults_and_misuse():
    assert zoo.resolve_shape("resnet18") == {"resolution": 224, "seq_len": None}
    assert zoo.resolve_shape("bert_tiny", seq_len=64) == {"resolution": None, "seq_len": 64}
    with pytest.raises(zoo.ZooError):
        zoo.resolve_shape("bert_tiny", resolution=224)
    with pytest.raises(zoo.ZooError):
        zoo.resolve_shape("whisper_tiny_encoder", seq_len=100)


def test_onnx_path_names_the_shape(tmp_path):
    p = zoo.onnx_path("bert_tiny", batch=8, seq_len=32, exporter="dynamo", out_dir=tmp_path)
    assert p == tmp_path / "bert_tiny_b8_s32_dynamo.onnx"


def test_cli_list(capsys):
    assert zoo.main(["--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(zoo.list_models())


@pytest.mark.torch
def test_legacy_export_of_squeezenet_runs_in_onnxruntime(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")

    path = zoo.export("squeezenet1_1", batch=2, resolution=64, out_dir=tmp_path)
    assert path.name == "squeezenet1_1_b2_r64_legacy.onnx"
    model = onnx.load(str(path))
    assert model.opset_import[0].version == zoo.DEFAULT_OPSET
    (x,) = zoo.example_inputs("squeezenet1_1", batch=2, resolution=64)
    with torch.no_grad():
        want = zoo.build("squeezenet1_1")(x).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"pixel_values": x.numpy()})[0]
    assert got.shape == (2, 1000)
    assert abs(got - want).max() < 1e-3
    assert zoo.export("squeezenet1_1", batch=2, resolution=64, out_dir=tmp_path) == path  # cached


@pytest.mark.torch
def test_tiny_bert_builds_with_seeded_weights():
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")

    (ids,) = zoo.example_inputs("bert_tiny", batch=2, seq_len=16)
    assert ids.dtype == torch.int64 and ids.shape == (2, 16)
    with torch.no_grad():
        a = zoo.build("bert_tiny")(ids)
        b = zoo.build("bert_tiny")(ids)
    assert a.shape == (2, 16, 128)  # hidden_size of bert_tiny
    assert torch.equal(a, b)  # same seed, same weights


@pytest.mark.torch
def test_failed_export_is_reported_not_raised_raw(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")

    def boom(*args, **kwargs):
        raise RuntimeError("exporter exploded\nsecond line")

    monkeypatch.setattr(torch.onnx, "export", boom)
    records = zoo.export_many(["squeezenet1_1"], out_dir=tmp_path)
    assert records[0]["ok"] is False
    assert "exporter exploded" in records[0]["error"]
    assert not list(tmp_path.glob("*.onnx"))
    assert (tmp_path / "export_report_legacy_b1.json").exists()
