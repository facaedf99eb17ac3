"""Input-error messages that named the problem but not its fix (erraudit, 2026-12-04): each now ends with the fix,
and stays one line on stderr with exit 2."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import yaml
from onnx import TensorProto, helper

from hybridperf.cli import main
from hybridperf.errors import InputError, SpecError



def _relu(path: Path, dims) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(dims))
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _one_line(capsys, argv) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("hybridperf: error: ")
    return line


def test_shape_of_wrong_rank_gives_an_example(tmp_path, capsys):
    # until 2026-12-04: "--shape x=2x8x3 has rank 3 but the model's input has rank 2 (Nx8)", no fix named
    line = _one_line(capsys, ["predict", str(_relu(tmp_path / "m.onnx", ("N", 8))), "-d", "t4", "--shape", "x=2x8x3"])
    assert line.endswith("--shape x=2x8x3 has rank 3 but the model's input has rank 2 (Nx8); give one dim per axis, "
                         "e.g. --shape x=1x8")


def test_shape_of_wrong_rank_in_api_words(tmp_path):
    import hybridperf

    with pytest.raises(InputError) as info:
        hybridperf.analyze(str(_relu(tmp_path / "m.onnx", ("N", 8))), shapes={"x": (2, 8, 3)})
    assert str(info.value).endswith("e.g. shapes={'x': '1x8'}")


def test_non_tensor_input_names_the_fix(tmp_path, capsys):
    # until 2026-12-04: "input 'q' is not a tensor; only tensor inputs are supported", no fix named
    q = helper.make_tensor_sequence_value_info("q", TensorProto.FLOAT, None)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("SequenceAt", ["q", "i"], ["y"])], "g", [q], [y],
                              [helper.make_tensor("i", TensorProto.INT64, [], [0])])
    path = tmp_path / "seq.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    line = _one_line(capsys, ["predict", str(path), "-d", "t4"])
    assert "input 'q' is not a tensor; only tensor inputs are supported: re-export the model with tensor inputs" in line


def _t4_sheet(tmp_path: Path, name: str, edit) -> Path:
    from hybridperf.device.spec import load_spec

    raw = yaml.safe_load(Path(load_spec("t4").path).read_text())
    raw["id"] = name
    edit(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_idle_power_above_max_names_the_fix(tmp_path, capsys):
    # until 2026-12-04: "key 'power.idle' is larger than power.max", no fix named
    path = _t4_sheet(tmp_path, "idle", lambda r: r["power"]["idle"].update(value=100))
    line = _one_line(capsys, ["predict", str(_relu(tmp_path / "m.onnx", (1, 8))), "-d", str(path)])
    assert line.endswith("key 'power.idle' is larger than power.max; fix one of them (the idle draw is at most the "
                         "board power)")


def test_unit_of_wrong_quantity_lists_the_units(tmp_path):
    # until 2026-12-04: "'GB' is a capacity unit but this key needs power (W, mW)": the units, not that they are the fix
    from hybridperf.device.spec import load_spec

    path = _t4_sheet(tmp_path, "unitw", lambda r: r["power"]["max"].update(unit="GB"))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).endswith("key 'power.max.unit' 'GB' is a capacity unit but this key needs power; use one "
                                    "of W, mW")


def test_schema_version_names_the_fix(tmp_path):
    # until 2026-12-04: "key 'schema_version' is 99; this hybridperf reads 1", no fix named
    from hybridperf.device.spec import SCHEMA_VERSION, load_spec

    path = _t4_sheet(tmp_path, "sv", lambda r: r.update(schema_version=99))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert f"this hybridperf reads {SCHEMA_VERSION}: write schema_version: {SCHEMA_VERSION}" in str(info.value)


def test_measure_directory_without_models_names_the_fix(tmp_path):
    # until 2026-12-04: "--measure DIR: no .onnx file in this directory", no fix named
    from hybridperf.measure.calibrate import collect_files

    with pytest.raises(InputError) as info:
        collect_files([tmp_path], ".onnx")
    assert str(info.value) == (f"--measure {tmp_path}: no .onnx file in this directory; pass a directory that holds "
                               ".onnx files, or the files themselves")


def test_gpu_rows_not_found_names_the_flag(tmp_path, capsys):
    # until 2026-12-04: "measured rows ... do not exist (a CSV with columns ...)", no fix named
    line = _one_line(capsys, ["calibrate", "-d", "t4", "--data", str(tmp_path / "rows.csv")])
    assert "do not exist" in line and line.endswith("; check the --data path")
