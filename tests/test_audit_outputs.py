"""Audit findings on what commands write and what they record: a bad ``predict-many --output`` path is refused
(exit 2, one line naming the fix) before any work, and ``measure --device`` never records this machine's timing
as a named CPU sheet's that this process cannot be."""

from __future__ import annotations

import json
import shutil

import pytest


@pytest.fixture
def one_model_dir(model_dir, tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(model_dir / "resnet_like.onnx", d / "resnet_like.onnx")
    return d


@pytest.fixture
def no_predicting(monkeypatch):
    """Fail the test if predict-many resolves a device or predicts a model: the refusal must come first."""
    import hybridperf.commands._common as common
    import hybridperf.commands.predict_many as pm

    def boom(*a, **k):
        raise AssertionError("work started before the --output check")

    monkeypatch.setattr(common, "resolve_device", boom)
    monkeypatch.setattr(pm, "predict_row", boom)


def test_predict_many_refuses_an_output_that_is_a_directory(one_model_dir, tmp_path, capsys, no_predicting):
    from hybridperf.cli import main

    out_dir = tmp_path / "somedir"
    out_dir.mkdir()
    assert main(["predict-many", str(one_model_dir), "-d", "t4", "--jobs", "1", "-o", str(out_dir)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (f"hybridperf: error: --output {out_dir} is a directory; name the file to write, "
                                 f"e.g. {out_dir / 'rows.jsonl'}\n")
    assert list(out_dir.iterdir()) == []


def test_predict_many_refuses_an_output_whose_folder_is_missing(one_model_dir, tmp_path, capsys, no_predicting):
    from hybridperf.cli import main

    target = tmp_path / "nodir" / "x.jsonl"
    assert main(["predict-many", str(one_model_dir), "-d", "t4", "--jobs", "1", "-o", str(target)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (f"hybridperf: error: --output {target}: directory {tmp_path / 'nodir'} does not "
                                 "exist; create it first\n")
    assert not (tmp_path / "nodir").exists()


def test_predict_many_still_appends_to_an_existing_output_file(one_model_dir, tmp_path, capsys):
    """The check passes an existing JSONL file (resume appends to it)."""
    from hybridperf.cli import main

    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"model": "elsewhere.onnx", "device": "t4"}\n')
    argv = ["predict-many", str(one_model_dir), "-d", "t4", "--batch", "1", "--jobs", "1", "--format", "json",
            "-o", str(rows)]
    assert main(argv) == 0
    capsys.readouterr()
    lines = rows.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["model"] == "elsewhere.onnx"
    assert json.loads(lines[1])["model"] == str(one_model_dir / "resnet_like.onnx")


@pytest.fixture(scope="module")
def record(model_dir):
    pytest.importorskip("onnxruntime")
    from hybridperf.measure.onnxruntime import measure

    from dataclasses import replace

    # the contention reading is this host's load at fixture time: judged elsewhere, not by these tests
    return replace(measure(model_dir / "resnet_like.onnx", batch=1, threads=1, repeats=2, warmup=0), contention=None)


@pytest.fixture
def timed(monkeypatch, record):
    """measure's timing replaced by ``record``; the list holds the threads each call asked for."""
    import hybridperf.measure.onnxruntime as ortm

    seen: list[int] = []
    monkeypatch.setattr(ortm, "measure", lambda *a, threads, **k: seen.append(threads) or record)
    return seen


def _cpus(monkeypatch, n: int) -> None:
    import hybridperf.measure.host as host

    monkeypatch.setattr(host, "host_threads", lambda: n)


def test_measure_refuses_a_cpu_sheet_with_more_cores_than_this_process_may_use(model_dir, monkeypatch, capsys, timed,
                                                                               tmp_path):
    """ryzen-9-7950x covers 16 cores: timing 1 usable CPU and recording it as that machine's is refused before any
    run, with or without --threads, and --out is not written."""
    from hybridperf.cli import main

    _cpus(monkeypatch, 1)
    model = str(model_dir / "resnet_like.onnx")
    line = ("hybridperf: error: --device ryzen-9-7950x: its sheet covers 16 core(s) (compute_units.count) but this "
            "process may use 1 CPU(s), and measure times this machine: run it on that machine with its cores free, "
            "or leave --device out (this machine: host)\n")
    for extra in ([], ["--threads", "1"], ["--out", str(tmp_path / "m.json")]):
        assert main(["measure", model, "--batch", "1", "--device", "ryzen-9-7950x", *extra]) == 2
        assert capsys.readouterr() == ("", line)
    assert timed == [] and not (tmp_path / "m.json").exists()


def test_measure_times_a_cpu_sheet_with_the_threads_its_predictions_assume(model_dir, monkeypatch, capsys, timed):
    """Where the sheet's cores are usable (on that machine, as ``calibrate --measure`` runs it): its core count
    by default, silently; another --threads is timed as asked and said on stderr."""
    from hybridperf.cli import main

    _cpus(monkeypatch, 16)
    model = str(model_dir / "resnet_like.onnx")
    assert main(["measure", model, "--batch", "1", "--device", "ryzen-9-7950x", "--no-subnormal-scan"]) == 0
    assert capsys.readouterr().err == "" and timed == [16]
    assert main(["measure", model, "--batch", "1", "--device", "ryzen-9-7950x", "--threads", "4",
                 "--no-subnormal-scan"]) == 0
    assert timed == [16, 4] and capsys.readouterr().err == (
        "hybridperf: warning: --threads 4: predictions for device ryzen-9-7950x assume 16 thread(s), its cores "
        "(compute_units.count); compare them with a measurement at --threads 16\n")


def test_measure_under_a_one_core_sheet_on_one_cpu_records_that_sheet(model_dir, monkeypatch, capsys):
    """The legitimate case, really timed (2 runs): a 1-core sheet of a machine measured on one usable CPU."""
    pytest.importorskip("onnxruntime")
    from dataclasses import replace

    import hybridperf.measure.onnxruntime as ortm
    from hybridperf.cli import main

    _cpus(monkeypatch, 1)
    # the timed runs' contention is this host's load (busy: a warning on stderr; it failed once under load): judged
    # by tests/test_measure.py on a faked reading, not here
    real = ortm.measure
    monkeypatch.setattr(ortm, "measure", lambda *a, **k: replace(real(*a, **k), contention=None))
    assert main(["measure", str(model_dir / "resnet_like.onnx"), "--batch", "1", "--device", "host-epyc-1c",
                 "--repeats", "2", "--warmup", "0", "--no-subnormal-scan", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    rec = json.loads(out)
    assert err == "" and rec["device"] == "host-epyc-1c" and rec["threads"] == 1


def test_measure_out_names_json_or_csv_before_timing(model_dir, capsys, timed, tmp_path):
    """``--out x.txt`` wrote JSON though the help names FILE.json or FILE.csv: refused before timing, nothing
    written; ``.CSV`` is a CSV (the suffix was compared case-sensitively)."""
    from hybridperf.cli import main

    model = str(model_dir / "resnet_like.onnx")
    assert main(["measure", model, "--batch", "1", "--out", str(tmp_path / "x.txt")]) == 2
    assert capsys.readouterr() == ("", f"hybridperf: error: --out {tmp_path / 'x.txt'}: name FILE.json (the full "
                                       "record) or FILE.csv (one row)\n")
    assert timed == [] and not (tmp_path / "x.txt").exists()
    assert main(["measure", model, "--batch", "1", "--out", str(tmp_path / "m.CSV"), "--no-subnormal-scan"]) == 0
    assert (tmp_path / "m.CSV").read_text().startswith("model,")
