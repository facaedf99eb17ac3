"""Bad and odd command lines found by fuzzing every subcommand (audit of 2026-12-03).

Each case: exit 2, one line on stderr that starts ``hybridperf: error:`` and names the fix, nothing on stdout,
nothing written. Before the fix each of these exited 3 ("internal error") or named no fix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridperf.cli import main


def _save(graph_nodes, inputs, outputs, path: Path, inits=(), opset: int = 17) -> Path:
    g = helper.make_graph(graph_nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def _tiny(path: Path, shape=(2, 8), opset: int = 17) -> Path:
    """x[shape] @ W[8, 4] -> Relu."""
    w = numpy_helper.from_array(np.ones((8, 4), np.float32), "W")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [*shape[:-1], 4])
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["y"])]
    return _save(nodes, [x], [y], path, [w], opset)


def one_line_error(capsys, argv, *fragments):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hybridperf: error: "), lines[0]
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def too_long(tmp_path):
    """A model path whose file name is longer than NAME_MAX (255): stat() raises ENAMETOOLONG, not ENOENT."""
    return str(tmp_path / ("x" * 300 + ".onnx"))


# until 2026-12-03: exit 3, "internal error: OSError: [Errno 36] File name too long" (Path.exists raises it)
@pytest.mark.parametrize("argv", [
    ["predict", "{m}", "-d", "t4"],
    ["annotate", "{m}", "-d", "t4"],
    ["check", "{m}", "-d", "t4", "--max-latency", "1s"],
    ["mig", "{m}", "-d", "a100-sxm-80gb"],
    ["report", "{m}", "-d", "t4", "--html", "{out}"],
    ["measure", "{m}", "--repeats", "2", "--no-subnormal-scan"],
], ids=lambda a: a[0])
def test_model_name_too_long(capsys, tmp_path, too_long, argv):
    out = tmp_path / "r.html"
    argv = [a.format(m=too_long, out=out) for a in argv]
    one_line_error(capsys, argv, "cannot be looked up (File name too long); check the path")
    assert not out.exists()


def test_model_name_too_long_tflite(capsys, tmp_path):
    one_line_error(capsys, ["predict", str(tmp_path / ("x" * 300 + ".tflite")), "-d", "t4"],
                   "cannot be looked up (File name too long)")


# until 2026-12-03: "hybridperf: error: . is a directory; ..." for an empty model argument
@pytest.mark.parametrize("cmd", [["predict", "", "-d", "t4"], ["mig", "", "-d", "a100-sxm-80gb"],
                                 ["check", "", "-d", "t4", "--max-latency", "1s"], ["measure", ""]], ids=lambda a: a[0])
def test_empty_model_path(capsys, cmd):
    one_line_error(capsys, cmd, "the model path is empty; pass a model file")


def test_measure_not_a_regular_file(capsys):
    # until 2026-12-03: "model file /dev/null does not exist"
    one_line_error(capsys, ["measure", "/dev/null", "--repeats", "2", "--no-subnormal-scan"],
                   "model file /dev/null is missing or not a regular file; pass an .onnx file")


@pytest.mark.parametrize("threads", ["1025", "99999999999"])
def test_measure_threads_too_many(capsys, tmp_path, threads):
    # until 2026-12-03 (99999999999): onnxruntime's "incompatible function arguments", naming no fix
    one_line_error(capsys, ["measure", str(_tiny(tmp_path / "m.onnx")), "--threads", threads, "--repeats", "2"],
                   f"--threads {threads} is more than 1024; give the CPUs to use")


def _measure_in_process(m, shapes=None):
    """``measure`` without its worker process (the CLI runs the same code in one; the worker costs ~3 s)."""
    from hybridperf.measure.onnxruntime import measure

    return measure(m, shapes, repeats=2, warmup=0, profile=False, isolate=False)


def test_measure_unloadable_model_names_fix(tmp_path):
    # opset 99 does not exist: onnxruntime refuses it; until 2026-12-03 its message alone, naming no fix
    from hybridperf.errors import ModelLoadError

    m = _tiny(tmp_path / "m.onnx", opset=99)
    with pytest.raises(ModelLoadError, match=r"^onnxruntime cannot load .*m\.onnx: .*; the file is corrupt, or uses "
                                             r"an op or opset this onnxruntime lacks: re-export it"):
        _measure_in_process(m)


def test_measure_inputs_too_large(tmp_path):
    # 1e5^3 float32 = 4e15 B = 3.55 PiB; until 2026-12-03: "measurement ... failed in the worker: numpy ...
    # _ArrayMemoryError: Unable to allocate 3.55 PiB ...", naming no fix
    from hybridperf.errors import InputError

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [100000, 100000, 100000])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [100000, 100000, 100000])
    m = _save([helper.make_node("Relu", ["x"], ["y"])], [x], [y], tmp_path / "huge.onnx")
    # beyond what any device addresses: predict's own size check (measure binds shapes as predict does)
    with pytest.raises(InputError, match=r"input x=100000x100000x100000 is 4e\+15 B, more than the 2\^48 B"):
        _measure_in_process(m)
    # 1e6^2 float32 = 4e12 B: addressable, but not in this machine's memory
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1000000, 1000000])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1000000, 1000000])
    m = _save([helper.make_node("Relu", ["x"], ["y"])], [x], [y], tmp_path / "big.onnx")
    with pytest.raises(InputError, match=r"\(x=1000000x1000000\) do not fit in this machine's memory; bind a "
                                         r"smaller shape with --shape or --batch$"):
        _measure_in_process(m)


def _spec_files(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "specs"
    d.mkdir()
    (d / "binary.yaml").write_bytes(b"\xff\xfe\x00garbage")
    (d / "list.yaml").write_text("- a\n- b\n")
    (d / "empty.yaml").write_text("")
    (d / "dir.yaml").mkdir()
    return {p.stem: p for p in d.iterdir()}


SPEC_CASES = {
    # until 2026-12-03: exit 3, "internal error: UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff ..."
    "binary": ": not UTF-8 text (byte 0); save the spec file as UTF-8 YAML",
    # until 2026-12-03: "top level must be a mapping", naming no fix
    "list": ": top level must be a mapping of keys (schema_version, id, kind, ...); copy a shipped sheet",
    "empty": ": top level must be a mapping of keys",
    # until 2026-12-03: "cannot parse YAML ([Errno 21] Is a directory ...); fix the file syntax"
    "dir": " is a directory; pass a spec file (ID.yaml) or a device id",
}


@pytest.mark.parametrize("case", list(SPEC_CASES))
@pytest.mark.parametrize("cmd", ["predict", "devices", "check", "mig"])
def test_bad_spec_file(capsys, tmp_path, case, cmd):
    spec = _spec_files(tmp_path)[case]
    model = str(_tiny(tmp_path / "m.onnx"))
    argv = {"predict": ["predict", model, "-d", str(spec)], "devices": ["devices", "show", str(spec)],
            "check": ["check", model, "-d", str(spec), "--max-latency", "1s"], "mig": ["mig", model, "-d", str(spec)]}[cmd]
    one_line_error(capsys, argv, f"{spec}{SPEC_CASES[case]}")


@pytest.mark.parametrize("case", ["list", "missing"])
def test_measure_bad_spec_file_is_not_a_label(capsys, tmp_path, case):
    # until 2026-12-03: a spec file that does not load was taken as a free-form label: exit 0, the record's device
    # the file's path
    spec = _spec_files(tmp_path).get(case, tmp_path / "nope.yaml")
    out = tmp_path / "r.json"
    one_line_error(capsys, ["measure", str(_tiny(tmp_path / "m.onnx")), "--device", str(spec), "--repeats", "2",
                            "--out", str(out)], str(spec))
    assert not out.exists()


def test_spec_file_without_yaml_suffix(capsys, tmp_path):
    # until 2026-12-03: "unknown device '.../okt4.txt': run `hybridperf devices` ..., or pass a spec file path"
    spec = tmp_path / "okt4.txt"
    spec.write_text("schema_version: 1\n")
    one_line_error(capsys, ["devices", "show", str(spec)], f"{spec}: a spec file is named ID.yaml", "rename it to okt4.yaml")


@pytest.mark.parametrize("device", ["/dev/null", "{tmp}"])
def test_device_path_not_a_file(capsys, tmp_path, device):
    # until 2026-12-03: "unknown device '/dev/null': ..., or pass a spec file path"
    device = device.format(tmp=tmp_path)
    one_line_error(capsys, ["devices", "show", device], f"{device} is not a spec file; pass a spec file (ID.yaml)")


def test_spec_dir_is_a_file(capsys, tmp_path):
    # until 2026-12-03: "spec directory '...' does not exist" for a file that exists
    f = tmp_path / "t4.yaml"
    f.write_text("")
    one_line_error(capsys, ["devices", "--spec-dir", str(f)], f"spec directory '{f}' is not a directory; pass --spec-dir DIR")


@pytest.mark.parametrize("text, phrase", [
    ("tool = 5\n", "pyproject.toml: key 'tool' must be a table ([tool.hybridperf]); fix the file"),  # was exit 3
    ("[tool.hybridperf\n", "pyproject.toml: cannot parse TOML (Expected ']'"),  # named no fix
])
def test_bad_pyproject(capsys, tmp_path, monkeypatch, text, phrase):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(text)
    line = one_line_error(capsys, ["check", str(_tiny(tmp_path / "m.onnx")), "-d", "t4", "--max-latency", "1s"], phrase)
    assert line.endswith("fix the file syntax") or line.endswith("fix the file")


@pytest.mark.parametrize("config", ["/dev/null", "{tmp}"])
def test_config_not_a_file(capsys, tmp_path, config):
    # until 2026-12-03: "config file not found: /dev/null"
    config = config.format(tmp=tmp_path)
    one_line_error(capsys, ["check", str(_tiny(tmp_path / "m.onnx")), "-d", "t4", "--max-latency", "1s", "--config", config],
                   f"config file {config} is not a regular file; pass a TOML file to --config")


@pytest.mark.parametrize("argv, phrase", [
    # until 2026-12-03: exit 0, no file written, the flag ignored
    (["measure", "{m}", "--repeats", "2", "--out", ""], "--out is empty; name the file to write"),
    # until 2026-12-03: "--html . is a directory"
    (["report", "{m}", "-d", "t4", "--html", ""], "--html is empty; name the file to write"),
    # until 2026-12-03: exit 0 after a probe, host-probe.yaml written into the working directory
    (["probe", "--out", ""], "--out is empty; name the spec file to write (ID.yaml), or a directory"),
], ids=lambda a: a[0] if isinstance(a, list) else None)
def test_empty_output_path(capsys, tmp_path, monkeypatch, argv, phrase):
    monkeypatch.chdir(tmp_path)
    m = str(_tiny(tmp_path / "m.onnx"))
    one_line_error(capsys, [a.format(m=m) for a in argv], phrase)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


@pytest.mark.parametrize("output", ["/dev/full", "/dev/null"])
def test_predict_many_output_not_a_regular_file(capsys, tmp_path, output):
    # until 2026-12-03 /dev/full hung (the resume read its endless zeros)
    one_line_error(capsys, ["predict-many", str(_tiny(tmp_path / "m.onnx")), "-d", "t4", "-j", "1", "-o", output],
                   f"--output {output} is not a regular file; it is read back to resume")


# until 2026-12-03: exit 3, "internal error: OSError: [Errno 36] File name too long" for every output flag
@pytest.mark.parametrize("argv, flag", [
    (["report", "{m}", "-d", "t4", "--html", "{long}.html"], "--html"),
    (["check", "{m}", "-d", "t4", "--max-latency", "1s", "--junit-xml", "{long}.xml"], "--junit-xml"),
    (["measure", "{m}", "--repeats", "2", "--out", "{long}.json"], "--out"),
    (["predict-many", "{m}", "-d", "t4", "-o", "{long}.jsonl"], "--output"),
    (["probe", "--out", "{long}.yaml"], "--out"),
], ids=lambda a: a[0] if isinstance(a, list) else None)
def test_output_name_too_long(capsys, tmp_path, argv, flag):
    long = str(tmp_path / ("y" * 300))
    m = str(_tiny(tmp_path / "m.onnx"))
    one_line_error(capsys, [a.format(m=m, long=long) for a in argv],  # the line keeps its start and end
                   f"{flag} {tmp_path}/yyy", "cannot be looked up (File name too long); choose a shorter path")


def test_non_utf8_names_are_written_escaped(capsys, tmp_path):
    # a file name that is not UTF-8 reaches Python as a lone surrogate; until 2026-12-03 writing it into the JUnit
    # report or the HTML page was exit 3, "UnicodeEncodeError ... surrogates not allowed"
    m = str(_tiny(tmp_path / "bad\udcffname.onnx"))
    junit, page = tmp_path / "j.xml", tmp_path / "r.html"
    assert main(["check", m, "-d", "t4", "--max-latency", "1s", "--junit-xml", str(junit)]) == 0
    assert main(["report", m, "-d", "t4", "--html", str(page), "--title", "T\udcfe"]) == 0
    capsys.readouterr()
    assert "bad\\udcffname.onnx" in junit.read_text(encoding="utf-8")
    assert "<title>T\\udcfe</title>" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("content", [b"5\n", b"\xff\xfe\n", b"[1, 2]\n"])
def test_predict_many_output_not_rows(capsys, tmp_path, content):
    # until 2026-12-03: exit 3 (AttributeError: 'int' object has no attribute 'get'; UnicodeDecodeError)
    out = tmp_path / "rows.jsonl"
    out.write_bytes(content)
    one_line_error(capsys, ["predict-many", str(_tiny(tmp_path / "m.onnx")), "-d", "t4", "-j", "1", "-o", str(out)],
                   f"--output {out} is not a file of predict-many rows (JSON objects, one a line); name a new file")
    assert out.read_bytes() == content  # nothing appended


def test_strict_stdout_escapes_undecodable_names(monkeypatch):
    # under a UTF-8 locale stdout is strict: until 2026-12-03 `predict` on a file name that is not UTF-8 was exit 3,
    # "UnicodeEncodeError ... surrogates not allowed", when it printed the name
    import io
    import sys

    from hybridperf.cli import _escape_undecodable_output

    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8", errors="strict"))
    _escape_undecodable_output()
    sys.stdout.write("model bad\udcffname.onnx\n")
    sys.stdout.flush()
    assert raw.getvalue() == b"model bad\\udcffname.onnx\n"


@pytest.mark.parametrize("device_id", ["", "Bad Id!"])
def test_probe_bad_id_fails_before_probing(capsys, tmp_path, device_id):
    # until 2026-12-03 `--id ''` was taken for no --id (exit 0 after a probe), and `--id 'Bad Id!'` said "name the file
    # Bad Id!.yaml or drop --id"
    one_line_error(capsys, ["probe", "--out", str(tmp_path / "x.yaml"), "--id", device_id],
                   f"--id {device_id!r} must be lower case letters, digits, '.', '_' or '-'")
    assert list(tmp_path.iterdir()) == []


def test_unreadable_model_names_permissions(tmp_path, monkeypatch):
    # root reads any file, so the permission error is raised by hand; until 2026-12-03 the message was
    # "cannot read ... as ONNX (PermissionError); the file is corrupt or not an ONNX model: re-export it"
    import onnx as onnx_mod

    from hybridperf.errors import ModelLoadError
    from hybridperf.frontends import onnx_import

    m = _tiny(tmp_path / "m.onnx")

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied", str(m))

    monkeypatch.setattr(onnx_import, "_parse_leaving_weights", lambda p: None)
    monkeypatch.setattr(onnx_mod, "load", denied)
    with pytest.raises(ModelLoadError, match=r"^cannot read .*m\.onnx: Permission denied; check the file's permissions$"):
        onnx_import.load_onnx_proto(m)


@pytest.mark.parametrize("content, phrase", [
    # until 2026-12-03: exit 3, "KeyError: 'key'"
    (b"measured_latency_s,a\n0.1,2\n", "features.csv has no `key` column, so it is not a featurize table; re-run"),
    # until 2026-12-03: exit 3, "UnicodeDecodeError"
    (b"\xff\xfe\x00\n", "features.csv is not UTF-8 text, so it is not a featurize table; re-run"),
    # until 2026-12-03: "has no measured rows", naming no fix
    (b"a,b\n1,2\n", "features.csv has no measured rows (no `measured_latency_s` values); re-run"),
    # a feature column missing: until 2026-12-03 exit 3, "KeyError"
    (b"key,measured_latency_s,features_version\nm,0.1,{v}\n", "a table is not as featurize writes it (no column"),
])
def test_calibrate_bad_features_table(capsys, tmp_path, content, phrase):
    from hybridperf.residual.features import FEATURES_VERSION

    d = tmp_path / "cal"
    d.mkdir()
    (d / "features.csv").write_bytes(content.replace(b"{v}", str(FEATURES_VERSION).encode()))
    out = tmp_path / "out"
    (d / "measurements.csv").write_text("key,latency_min_s\nm,0.1\n")
    one_line_error(capsys, ["calibrate", "-d", "host-epyc-zen4-1c", "--data", str(d), "--out", str(out)], phrase)
    assert not out.exists()


@pytest.mark.parametrize("model_shape, shape, phrase", [
    # until 2026-12-03 measure said "input 'x' has a symbolic dimension N", not that y is no input
    (("N", 8), {"y": (1, 8)}, "--shape names unknown input 'y'; the model's inputs are x"),
    # until 2026-12-03: "failed in the worker: ... INVALID_ARGUMENT : Invalid rank for input"
    (("N", 8), {"x": (2, 8, 3)}, "--shape x=2x8x3 has rank 3 but the model's input has rank 2 (Nx8)"),
    # until 2026-12-03: "failed in the worker: Please fix either the inputs/outputs or the model."
    ((2, 8), {"x": (2, 9)}, "--shape x: dim 1 is fixed to 8 in the model, cannot bind it to 9; re-export the model"),
    # until 2026-12-03: exit 0, a run on an empty tensor timed
    (("N", 8), {"x": (0, 8)}, "--shape x=0x8 has a non-positive dim; every dim must be >= 1"),
])
def test_measure_shape_checked_as_predict(tmp_path, model_shape, shape, phrase):
    from hybridperf.errors import InputError

    with pytest.raises(InputError) as info:
        _measure_in_process(_tiny(tmp_path / "m.onnx", shape=model_shape), shape)
    assert phrase in str(info.value)


def test_measure_zero_dim_cli(capsys, tmp_path):
    # the same through the command and its worker process: one line, exit 2
    one_line_error(capsys, ["measure", str(_tiny(tmp_path / "m.onnx", shape=("N", 8))), "--shape", "x=0x8",
                            "--repeats", "2", "--no-subnormal-scan"], "--shape x=0x8 has a non-positive dim")


def test_devices_show_spec_dir_missing(capsys, tmp_path):
    # until 2026-12-03: "unknown device 't4': ... (0 sheets, and host: this machine)"
    d = tmp_path / "nope"
    one_line_error(capsys, ["devices", "show", "t4", "--spec-dir", str(d)], f"spec directory '{d}' does not exist; pass --spec-dir DIR")
