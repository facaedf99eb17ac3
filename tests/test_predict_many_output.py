"""predict-many --output: rows written as they finish, and a rerun resumes (local backend)."""

from __future__ import annotations

import json
import shutil


def test_output_jsonl_resume_local(model_dir, tmp_path, capsys):
    from hybridperf.cli import main

    d = tmp_path / "models"
    d.mkdir()
    for name in ("resnet_like", "bert_like"):
        shutil.copy(model_dir / f"{name}.onnx", d / f"{name}.onnx")
    out_file = tmp_path / "rows.jsonl"
    argv = ["predict-many", str(d), "-d", "t4", "--batch", "1", "--jobs", "1", "--format", "json", "--output", str(out_file)]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)["models"]
    lines = out_file.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(x)["device"] == "t4" for x in lines)
    out_file.write_text(lines[0] + "\n" + lines[1][:15])  # interrupted while writing the second row
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)["models"]
    assert [r["latency_s"] for r in again] == [r["latency_s"] for r in first]
    assert again[0]["wall_s"] == first[0]["wall_s"]  # the finished model was not redone
    assert len(out_file.read_text().splitlines()) == 3  # kept row, torn fragment, redone row
    # other settings (batch 2) are not taken from the file
    assert main([*argv[:5], "2", *argv[6:]]) == 0  # the same command at batch 2
    capsys.readouterr()
    assert len(out_file.read_text().splitlines()) == 5
