"""``hybridperf calibrate --device GPU --data ROWS.csv``: what a user gets from bad rows, the other runtime's rows,
CPU / unknown / ``host`` ids, options that do not apply, an unwritable home, calibrating twice, an interrupted
store, and whether ``predict`` afterwards tells the truth about the adaptation.

Latencies are made up for ``a100-sxm-80gb`` / ``l4`` (no H100 row); the models are the hand-built test graphs.
"""

from __future__ import annotations

import csv
import json
import math

import pytest

from hybridperf.cli import main

DEVICE = "a100-sxm-80gb"
HEADER = ("model", "batch", "dtype", "mode", "status", "latency_median_s", "onnx_file")


def _write(path, rows, header=HEADER):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _good_rows(mode="eager", scale=1.0):
    """Four configurations of three test graphs with a symbolic batch (bert_like's batch is fixed at 1)."""
    return [("resnet_like", 1, "fp32", mode, "ok", 0.8e-3 * scale, "resnet_like.onnx"),
            ("mobilenetv2_like", 1, "fp32", mode, "ok", 1.3e-3 * scale, "mobilenetv2_like.onnx"),
            ("bert_like", 1, "fp32", mode, "ok", 0.7e-3 * scale, "bert_like.onnx"),
            ("resnet_like", 2, "fp32", mode, "ok", 0.9e-3 * scale, "resnet_like.onnx")]


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("HYBRIDPERF_HOME", str(h))
    return h


def _one_line_error(capsys) -> str:
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("hybridperf: error: ")
    return err[len("hybridperf: error: "):-1]


# --------------------------------------------------------------------------- reading rows (no analysis)


def test_read_rows_skips_bad_rows_and_repeats_and_reads_the_mode(model_dir, tmp_path):
    """Each unusable row is skipped with its reason; ``inf`` latency was kept (printed ``inf s``), batch ``1.0``
    became "the file's own shapes", and a repeated row was kept twice (in the adaptation that predicted it held out)."""
    from hybridperf.measure.gpu_calibration import read_rows

    rows = _write(tmp_path / "rows.csv", [
        ("resnet_like", 1, "fp32", "eager", "ok", 0.001, "resnet_like.onnx"),
        ("resnet_like", "1.0", "fp32", "eager", "ok", 0.002, "resnet_like.onnx"),  # the same configuration
        ("resnet_like", 2, "fp16", "eager", "ok", 0.001, "resnet_like.onnx"),
        ("resnet_like", "2.5", "fp32", "eager", "ok", 0.001, "resnet_like.onnx"),
        ("bert_like", 1, "fp32", "eager", "error", 0.001, "bert_like.onnx"),
        ("bert_like", 1, "fp32", "eager", "ok", "inf", "bert_like.onnx"),
        ("bert_like", 1, "fp32", "eager", "ok", "nan", "bert_like.onnx"),
        ("bert_like", 1, "fp32", "eager", "ok", "-1", "bert_like.onnx"),
        ("bert_like", 1, "fp32", "eager", "ok", "0", "bert_like.onnx"),
        ("bert_like", 1, "fp32", "eager", "ok", "1ms", "bert_like.onnx"),
        ("bert_like", 1, "fp32", "compile", "ok", 0.001, "bert_like.onnx"),
        ("nope", 1, "fp32", "eager", "ok", 0.001, "nope.onnx"),
        ("mobilenetv2_like", 1, "float16", "eager", "ok", 0.001, "mobilenetv2_like.onnx"),  # was exit 3
        ("mobilenetv2_like", 1, "fp32", "graph", "ok", 0.001, "mobilenetv2_like.onnx"),
    ])
    got, skipped = read_rows(rows, model_dir)
    assert [(r.key, r.batch, r.dtype, r.measured_s, r.runtime) for r in got] == [
        ("resnet_like b1 fp32", 1, "fp32", 0.001, "torch"),
        ("resnet_like b2 fp16", 2, "fp16", 0.001, "torch"),
        ("mobilenetv2_like b1 fp32", 1, "fp32", 0.001, "torch-cudagraph")]
    assert [k for k, _ in skipped] == ["resnet_like b1 fp32", "resnet_like b2.5 fp32"] + ["bert_like b1 fp32"] * 7 + [
        "nope b1 fp32", "mobilenetv2_like b1 float16"]
    why = [w for _, w in skipped]
    assert why[0] == "line 3 repeats line 2 (the same file, batch and dtype): kept once"
    assert why[1] == "batch '2.5' is not a positive whole number"
    assert why[2] == "status error"
    assert why[3:7] == [f"latency_median_s {v!r} is not a positive finite number" for v in ("inf", "nan", "-1", "0")]
    assert why[7] == "latency_median_s '1ms' is not a number"
    assert why[8].startswith("mode compile: a GPU calibration adapts eager (torch) or graph (torch-cudagraph)")
    assert why[9].startswith("nope.onnx not found in ")
    assert why[10] == "dtype 'float16' is not one of fp64, fp32, tf32, fp16, bf16, fp8, int8, int4"


def test_select_runtime_reads_the_mode_column():
    from hybridperf.errors import InputError
    from hybridperf.measure.gpu_calibration import MeasuredModel, select_runtime

    e = MeasuredModel("a b1 fp32", None, "fp32", 1e-3, 1, "torch")
    g = MeasuredModel("b b1 fp32", None, "fp32", 1e-3, 1, "torch-cudagraph")
    n = MeasuredModel("c b1 fp32", None, "fp32", 1e-3, 1, None)  # no mode column
    assert select_runtime([g, g], None) == ("torch-cudagraph", [g, g], [])
    assert select_runtime([n, n], None) == ("torch", [n, n], [])
    assert select_runtime([e, g], "torch") == ("torch", [e], [("b b1 fp32", "measured under torch-cudagraph (column "
                                                                            "mode), not torch")])
    with pytest.raises(InputError, match="hold rows of torch and torch-cudagraph"):
        select_runtime([e, g], None, "rows.csv")
    with pytest.raises(InputError) as exc:
        select_runtime([g, g], "torch", "rows.csv")
    assert str(exc.value) == ("--runtime torch: rows.csv were measured under torch-cudagraph (column mode graph); "
                              "pass --runtime torch-cudagraph")


# --------------------------------------------------------------------------- refusals: one line, exit 2, nothing stored


def test_refusals_before_any_work(model_dir, tmp_path, home, capsys):
    good = _write(tmp_path / "good.csv", _good_rows())
    graph = _write(tmp_path / "graph.csv", _good_rows("graph"))
    one = _write(tmp_path / "one.csv", _good_rows()[:1])
    empty = _write(tmp_path / "empty.csv", [])
    nocol = _write(tmp_path / "nocol.csv", [r[:5] + r[6:] for r in _good_rows()],
                   [h for h in HEADER if h != "latency_median_s"])
    cases = [
        (["--device", DEVICE, "--runtime", "torch", "--data", str(graph)],
         f"--runtime torch: {graph} were measured under torch-cudagraph (column mode graph); pass --runtime "
         "torch-cudagraph"),
        (["--device", "host-epyc-1c", "--data", str(good)],  # said "data directory ... does not exist"
         f"--data {good} (a file of measured rows) calibrates a GPU; host-epyc-1c is a cpu; a CPU sheet's --data is a "
         "calibration directory (features.csv)"),
        (["--device", "host", "--runtime", "torch", "--data", str(good)],  # said "unknown device 'host'"
         "--runtime torch calibrates a GPU; host is this machine's CPU: name a GPU sheet (hybridperf devices), or "
         "calibrate host with --measure MODEL.onnx ..."),
        (["--device", DEVICE, "--data", str(good), "--dtype", "fp16"],  # was ignored
         "--dtype goes with --measure: the rows of --data carry their own precision (column dtype)"),
        (["--device", DEVICE, "--data", str(good), "--batch", "8"],  # was ignored
         "--batch is for CPU calibration: the rows carry their own batch (column batch)"),
        (["--device", DEVICE, "--data", str(one)],
         f"1 usable measured model(s) in {one}; a GPU calibration needs at least 2: measure more models, or add "
         "their rows to the --data file"),
        (["--device", DEVICE, "--data", str(empty)],
         f"0 usable measured model(s) in {empty}; a GPU calibration needs at least 2: measure more models, or "
         "add their rows to the --data file"),
        (["--device", DEVICE, "--data", str(nocol)],
         f"{nocol}: missing column(s) latency_median_s; expected model, batch, dtype, status, latency_median_s, "
         "onnx_file"),
    ]
    for argv, line in cases:
        assert main(["calibrate", *argv, "--models", str(model_dir)] if "--batch" not in argv and "--dtype" not in argv
                    else ["calibrate", *argv]) == 2, argv
        assert _one_line_error(capsys) == line
    # an unknown id with a CSV: said "data directory ... does not exist"
    assert main(["calibrate", "--device", "nosuchgpu", "--data", str(good)]) == 2
    assert _one_line_error(capsys).startswith("unknown device 'nosuchgpu'")
    assert not home.exists()


def test_unwritable_home_exits_2_before_analysing(model_dir, tmp_path, monkeypatch, capsys):
    """A HYBRIDPERF_HOME that is a file: exit 3 (NotADirectoryError) after analysing every model, until 2026-12-03."""
    blocker = tmp_path / "home-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("HYBRIDPERF_HOME", str(blocker))
    import hybridperf.measure.gpu_calibration as gc

    def no_analysis(*a, **k):
        raise AssertionError("analysed before refusing")

    monkeypatch.setattr(gc, "adapt_gpu", no_analysis)
    good = _write(tmp_path / "good.csv", _good_rows())
    assert main(["calibrate", "--device", DEVICE, "--data", str(good), "--models", str(model_dir)]) == 2
    assert _one_line_error(capsys) == (f"cannot store the GPU adaptation of {DEVICE} in {blocker}/models/{DEVICE}: "
                                       f"{blocker} is not a directory; set HYBRIDPERF_HOME to a writable directory")


def test_measure_without_cuda_is_one_line(tmp_path, home, capsys):
    from hybridperf.measure.gpu_calibration import cuda_unavailable

    why = cuda_unavailable()
    if why is None:
        pytest.skip("this machine has CUDA: --measure would measure")
    prog = tmp_path / "m.pt2"
    prog.write_bytes(b"")
    assert main(["calibrate", "--device", DEVICE, "--measure", str(prog)]) == 2
    assert _one_line_error(capsys) == (f"--measure on {DEVICE} needs PyTorch with CUDA here ({why}; onnxruntime "
                                       "--measure calibrates CPUs): measure on the GPU machine or pass measured rows "
                                       "with --data FILE.csv")


def test_milliseconds_in_the_seconds_column_are_refused(model_dir, tmp_path, home, capsys):
    """Latencies written in ms (1000x) were adapted to and stored (held-out error 97 %, no word on units)."""
    ms = _write(tmp_path / "ms.csv", _good_rows(scale=1000.0))
    assert main(["calibrate", "--device", DEVICE, "--data", str(ms), "--models", str(model_dir)]) == 2
    line = _one_line_error(capsys)
    assert line.startswith("the measured latencies are a median ") and "latency_median_s must be seconds" in line
    assert not home.exists()


# --------------------------------------------------------------------------- a calibration, stored, then predict


def test_calibrate_eager_json_loo_replaced_and_predict(model_dir, tmp_path, home, capsys):
    rows = _write(tmp_path / "rows.csv", _good_rows() + [("bert_like", 1, "fp32", "graph", "ok", 1e-3, "bert_like.onnx")])
    argv = ["calibrate", "--device", DEVICE, "--runtime", "torch", "--data", str(rows), "--models", str(model_dir),
            "--format", "json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    stored = home / "models" / DEVICE / "gpu_adaptation-torch.json"
    assert out["stored"] == str(stored) and out["replaced"] is None and out["adapted_on"] == 4 and out["corrected"]
    assert out["skipped"] == [{"key": "bert_like b1 fp32", "why": "measured under torch-cudagraph (column mode), not torch"}]
    assert [r["key"] for r in out["per_model"]] == ["resnet_like b1 fp32", "mobilenetv2_like b1 fp32",
                                                    "bert_like b1 fp32", "resnet_like b2 fp32"]
    assert [r["measured_s"] for r in out["per_model"]] == [0.8e-3, 1.3e-3, 0.7e-3, 0.9e-3]
    # the printed leave-one-out error is the mean |held-out / measured - 1| of the rows it prints
    for col, key in (("adapted_s", "adapted"), ("zero_shot_s", "zero_shot")):
        errs = [abs(r[col] / r["measured_s"] - 1) for r in out["per_model"]]
        assert out["heldout_mape_pct"][key] == pytest.approx(100.0 * sum(errs) / 4, rel=1e-12)
    assert all(math.isfinite(r["adapted_s"]) and r["adapted_s"] > 0 for r in out["per_model"])
    meta = json.loads(stored.read_text())
    assert meta["adapted_on"] == 4 and meta["runtime"] == "torch" and meta["weighted_host"]
    assert not list(stored.parent.glob(".*.tmp"))

    # again: replaced, and said (text)
    assert main(argv[:-2]) == 0
    text = capsys.readouterr().out
    assert f"stored    {stored} (replaced the adaptation on 4 models saved {meta['saved_on']})" in text
    assert text.startswith(f"calibrated {DEVICE} (torch): few-shot adapted on 4 measured models\n")

    # predict: adapted for that runtime only
    model = str(model_dir / "resnet_like.onnx")
    assert main(["predict", model, "--batch", "1", "-d", DEVICE, "--runtime", "torch", "--format", "json"]) == 0
    pred = json.loads(capsys.readouterr().out)
    assert f"few-shot adapted on 4 measured models of {DEVICE}" in pred["calibration"]
    assert not pred["execution"]["zero_shot"]
    assert main(["predict", model, "--batch", "1", "-d", DEVICE, "--runtime", "torch-cudagraph", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["execution"]["zero_shot"]


def test_cuda_graph_adaptation_that_keeps_no_correction_is_not_called_adapted(model_dir, tmp_path, home, capsys):
    """With fewer than 4 models a CUDA-graph adaptation keeps no correction (ResidualKernel.fit): it was stored and
    predict said "few-shot adapted on 3 measured models" with the zero-shot figure, dropping "unverified" on l4."""
    rows = _write(tmp_path / "graph.csv", _good_rows("graph")[:3])
    model = str(model_dir / "resnet_like.onnx")
    assert main(["predict", model, "--batch", "1", "-d", "l4", "--runtime", "torch-cudagraph", "--format", "json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert main(["calibrate", "--device", "l4", "--data", str(rows), "--models", str(model_dir)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("calibrated l4 (torch-cudagraph): no correction kept from 3 measured models")
    assert "predict uses the unadapted model" in text  # 2026-12-05b: it said "zero-shot from spec", wrong on a training GPU
    assert main(["predict", model, "--batch", "1", "-d", "l4", "--runtime", "torch-cudagraph", "--format", "json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["execution"]["zero_shot"] and "few-shot" not in after["calibration"]
    assert after["totals"]["latency_s"] == before["totals"]["latency_s"]
    assert after["calibration"] == before["calibration"] and "unverified" in after["calibration"]


def test_an_interrupted_store_leaves_the_previous_adaptation_whole(model_dir, tmp_path, home, monkeypatch, capsys):
    rows = _write(tmp_path / "rows.csv", _good_rows())
    argv = ["calibrate", "--device", DEVICE, "--data", str(rows), "--models", str(model_dir), "--format", "json"]
    assert main(argv) == 0
    capsys.readouterr()
    stored = home / "models" / DEVICE / "gpu_adaptation-torch.json"
    first = stored.read_text()
    import os

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    assert main(argv) == 130  # interrupted while renaming the new file into place (exit 3 until 2026-12-04)
    assert capsys.readouterr().err.endswith("hybridperf: interrupted\n")
    assert stored.read_text() == first and sorted(p.name for p in stored.parent.iterdir()) == [stored.name]


def test_an_unreadable_stored_adaptation_is_exit_2(model_dir, home, capsys):
    """A truncated adaptation file made predict exit 3 (JSONDecodeError)."""
    stored = home / "models" / DEVICE / "gpu_adaptation-torch.json"
    stored.parent.mkdir(parents=True)
    stored.write_text('{\n "schema_version": 2,\n "dev')
    assert main(["predict", str(model_dir / "resnet_like.onnx"), "--batch", "1", "-d", DEVICE]) == 2
    line = _one_line_error(capsys)
    assert line.startswith(f"stored GPU adaptation {stored} is unreadable (") and line.endswith(
        "); calibrate again or delete it")


# --------------------------------------------------------------------------- rows of another GPU


def test_gpu_model_words():
    from hybridperf.measure.gpu_calibration import gpu_model

    assert [gpu_model(n) for n in ("NVIDIA H100 80GB HBM3", "Tesla V100-PCIE-32GB", "NVIDIA A100-SXM4-80GB",
                                   "NVIDIA GeForce RTX 4090", "NVIDIA A10", "Tesla T4", "Jetson AGX Orin",
                                   "NVIDIA Jetson Orin Nano 8GB (Super, 25 W mode)")] == [
        "H100", "V100", "A100", "4090", "A10", "T4", None, None]


def test_rows_of_another_gpu_are_refused_before_the_analysis(model_dir, tmp_path, home, monkeypatch, capsys):
    """Rows whose ``device_name`` is a T4 were adapted into the A100's model (a T4 runs these graphs a few times slower
    than an A100: inside the 100x unit check); rows of two GPUs likewise. Now one line, exit 2, before analysing."""
    import hybridperf.measure.gpu_calibration as gc

    header = (*HEADER, "device_name")
    t4 = _write(tmp_path / "t4.csv", [(*r, "Tesla T4") for r in _good_rows()], header)
    mixed = _write(tmp_path / "mixed.csv", [(*r, n) for r, n in zip(_good_rows(), ["NVIDIA A100-SXM4-80GB", "Tesla T4",
                                                                                    "NVIDIA A100-SXM4-80GB", "Tesla T4"])], header)
    monkeypatch.setattr(gc, "adapt_gpu", lambda *a, **k: pytest.fail("analysed rows of another GPU"))
    assert main(["calibrate", "--device", DEVICE, "--data", str(t4), "--models", str(model_dir)]) == 2
    assert _one_line_error(capsys) == (f"{t4}: the rows were measured on Tesla T4 (column device_name), but --device "
                                       f"{DEVICE} is the sheet of NVIDIA A100 SXM4 80GB; calibrate the sheet of that GPU, "
                                       f"or measure on {DEVICE}")
    assert main(["calibrate", "--device", DEVICE, "--data", str(mixed), "--models", str(model_dir)]) == 2
    assert "measured on 2 GPUs (NVIDIA A100-SXM4-80GB; Tesla T4)" in _one_line_error(capsys)
    assert not home.exists() or not any(home.rglob("*.json"))


def test_rows_of_the_sheets_gpu_pass_the_name_check(model_dir, tmp_path):
    """nvidia-smi's spelling of the sheet's GPU (``NVIDIA A100-SXM4-80GB`` for ``NVIDIA A100 SXM4 80GB``) and empty
    cells pass; the check compares GPU models, not form factors."""
    from hybridperf.device.spec import load_spec
    from hybridperf.measure.gpu_calibration import check_measured_on, read_rows

    rows = _write(tmp_path / "rows.csv", [(*r, n) for r, n in zip(_good_rows(), ["NVIDIA A100-SXM4-80GB", "",
                                                                                 "NVIDIA A100 80GB PCIe", ""])],
                  (*HEADER, "device_name"))
    got, _ = read_rows(rows, model_dir)
    assert [r.device_name for r in got] == ["NVIDIA A100-SXM4-80GB", "", "NVIDIA A100 80GB PCIe", ""]
    assert check_measured_on(got, load_spec(DEVICE), str(rows)) is None
