"""predict-many --backend ray gives the local backend's rows, and --output resumes."""

from __future__ import annotations

import json
import shutil

import pytest

pytestmark = pytest.mark.ray

ray = pytest.importorskip("ray")

_VOLATILE = ("wall_s",)


def _rows(out: str) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in _VOLATILE} for r in json.loads(out)["models"]]


@pytest.fixture(scope="module")
def sweep_dir(model_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    for name in ("resnet_like", "mobilenetv2_like", "bert_like"):
        shutil.copy(model_dir / f"{name}.onnx", d / f"{name}.onnx")
    (d / "broken.onnx").write_bytes(b"not a model")
    return d


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_rows_equal_local_rows(sweep_dir, local_ray, capsys, tmp_path):
    from hybridperf.cli import main

    argv = ["predict-many", str(sweep_dir), "-d", "t4", "--batch", "1", "--format", "json"]
    assert main([*argv, "--jobs", "1"]) == 0
    local = _rows(capsys.readouterr().out)
    out_file = tmp_path / "rows.jsonl"
    assert main([*argv, "--backend", "ray", "--jobs", "2", "--output", str(out_file)]) == 0
    remote = _rows(capsys.readouterr().out)
    assert remote == local
    assert [r["status"] for r in remote] == ["ok", "error", "ok", "ok"]  # bert, broken, mobilenet, resnet
    assert len(out_file.read_text().splitlines()) == 4


def test_output_resumes_without_redoing(sweep_dir, local_ray, capsys, tmp_path):
    from hybridperf.cli import main

    out_file = tmp_path / "rows.jsonl"
    argv = ["predict-many", str(sweep_dir), "-d", "t4", "--batch", "1", "--format", "json", "--output", str(out_file)]
    assert main([*argv, "--backend", "ray", "--jobs", "2"]) == 0
    first = _rows(capsys.readouterr().out)
    lines = out_file.read_text().splitlines()
    # an interrupted sweep: two rows written, the third torn mid-line
    out_file.write_text("\n".join(lines[:2]) + "\n" + lines[2][:20])
    assert main([*argv, "--backend", "ray", "--jobs", "2"]) == 0
    assert _rows(capsys.readouterr().out) == first
    rows = [json.loads(x) for x in out_file.read_text().splitlines()[3:]]  # after the torn line: only the redone models
    assert len(rows) == 2
