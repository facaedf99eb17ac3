"""Regression tests for defects the lead fixed on 2026-12-04 (outside the helpers' files)."""

from __future__ import annotations

from hybridperf.cli import ExitCode, main


def test_check_of_a_directory_finds_pt2_files_as_predict_many_does(tmp_path, capsys):
    # until 2026-12-04 `check DIR` looked for .onnx and .tflite only: a folder of torch.export files read
    # "no model file (.onnx, .tflite) under DIR" where predict-many found them
    (tmp_path / "m.pt2").write_bytes(b"not a zip")
    code = main(["check", str(tmp_path), "--device", "t4", "--max-latency", "1s"])
    err = capsys.readouterr().err
    assert code == ExitCode.INPUT_ERROR
    assert "no model file" not in err and len(err.splitlines()) == 1
