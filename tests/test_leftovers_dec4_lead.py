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


def test_mig_names_what_priced_its_latency_in_table_and_json(capsys):
    # until 2026-12-04 neither the mig table nor its JSON said whether the whole-GPU latency every profile's is
    # derived from was learned (zero-shot from spec, a calibration) or the roofline's
    import json
    from pathlib import Path

    example = str(Path(__file__).resolve().parents[1] / "examples" / "squeezenet1_1.onnx")
    assert main(["predict", example, "-d", "a100-sxm-80gb", "--format", "json"]) == ExitCode.OK
    calibration = json.loads(capsys.readouterr().out)["calibration"]
    assert main(["mig", example, "-d", "a100-sxm-80gb"]) == ExitCode.OK
    assert f"latency from: {calibration}" in capsys.readouterr().out.splitlines()
    assert main(["mig", example, "-d", "a100-sxm-80gb", "--format", "json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["latency_source"] == calibration


def test_h200_smallest_mig_slice_holds_what_nvidia_smi_reports():
    # until 2026-12-04 the sheet read the profile's name, 18 GB, where `nvidia-smi mig -lgip` lists 16.00 GiB:
    # a 16.5 GiB model was told it fits 1g.18gb
    from hybridperf.device.spec import load_spec
    from hybridperf.estimate.mig import require_profiles

    (smallest,) = [p for p in require_profiles(load_spec("h200-sxm")) if p.name == "1g.18gb"]
    assert smallest.memory_bytes == 16 * 2**30


def test_a_probed_gpu_sheet_gives_the_zero_shot_model_its_sms_lanes_and_clock():
    # until 2026-12-04 a probed GPU sheet kept the SM count in its notes only: the zero-shot GPU model assumed 1 SM
    # and 64 lanes for every probed GPU and said "unverified (... 1 SM assumed)"
    from hybridperf.device.spec import parse_spec
    from hybridperf.measure import probe
    from hybridperf.residual.zero_shot import unverified_reason

    gpu = {"device_name": "NVIDIA A10", "compute_capability": "8.6", "sm_count": 72, "sm_clock_max_mhz": 1695,
           "total_memory_bytes": 24 * 2**30, "l2_cache_bytes": 6 * 2**20, "gemm_errors": {}}
    host = probe.HostInfo(cpu_model="x", logical_cpus=2, usable_cpus=2, memory_bytes=2**30, governor=None,
                          machine="x86_64", python="3", numpy="2", blas="b", onnxruntime="1")
    gemm = (probe.GemmRate("fp32", 8192, 30e12, 2 * 8192**3 / 30e12, 10, "torch"),)
    result = probe.ProbeResult(date="2026-12-04", version="0.1.0", quick=False, kind="gpu", host=host, caches=(),
                               gemm=gemm, bandwidth=(probe.Bandwidth("copy", "dram", 2**31, 1, 500e9, 20),),
                               dispatch=None, errors={}, gpu=gpu)
    spec = parse_spec(probe.spec_dict(result, "a10-probed"), "<probe>")
    assert (spec.compute_unit_count, spec.fp32_lanes_per_unit, spec.boost_clock_hz) == (72, 128, 1695 * 10**6)
    assert "SM assumed" not in unverified_reason(spec) and "lanes assumed" not in unverified_reason(spec)


def test_an_unverified_latency_is_flagged_in_predict_json_and_every_predict_many_format(tmp_path, capsys):
    # until 2026-12-04 predict's JSON said "unverified" only inside the calibration text, and predict-many's table,
    # CSV and JSON rows gave no sign that a zero-shot latency was for a device unlike the training GPUs (h200-sxm)
    import csv
    import io
    import json
    import shutil
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "squeezenet1_1.onnx"
    assert main(["predict", str(example), "-d", "h200-sxm", "--format", "json"]) == ExitCode.OK
    note = json.loads(capsys.readouterr().out)["totals"]["latency_note"]
    assert note.startswith("unverified: ") and "SM count 132" in note
    shutil.copy(example, tmp_path / "m.onnx")
    assert main(["predict-many", str(tmp_path), "-d", "h200-sxm", "-j", "1", "--format", "csv"]) == ExitCode.OK
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["latency_note"] == note and row["calibration"].startswith("zero-shot from spec")
    assert main(["predict-many", str(tmp_path), "-d", "h200-sxm", "-j", "1"]) == ExitCode.OK
    assert capsys.readouterr().out.splitlines()[2].endswith("ok (unverified)")
    assert main(["predict-many", str(tmp_path), "-d", "t4", "-j", "1", "--format", "csv"]) == ExitCode.OK
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["latency_note"] == ""  # t4 is a training GPU: nothing to flag


def test_a_mig_profile_is_priced_on_the_sms_it_really_gets():
    # until 2026-12-04 a profile's compute share was its slices (7g.40gb: the whole A100; H100's 4g.40gb 4/7), where
    # nvidia-smi mig -lgip lists 98 of the A100's 108 SMs and 64 of the H100's 132
    from hybridperf.device.spec import load_spec
    from hybridperf.estimate.mig import compute_fraction, require_profiles

    for device, want in (("a100-sxm-40gb", [14, 14, 28, 42, 56, 98]), ("h100-sxm", [16, 26, 32, 60, 64, 132]),
                         ("h100-pcie", [14, 14, 30, 46, 62, 114])):  # h100-pcie: slice shares until 2026-12-04
        spec = load_spec(device)
        got = [compute_fraction(p, spec) for p in require_profiles(spec)]
        assert got == [n / spec.compute_unit_count for n in want]


def test_a_mig_sm_count_is_checked(tmp_path):
    import pytest
    import yaml

    from hybridperf.device.spec import SpecError, load_spec

    with open(load_spec("a100-sxm-40gb").path) as fh:
        raw = yaml.safe_load(fh)
    raw["id"] = "mine"
    for sm, fragment in (({"value": 200, "unit": "SM", "source": "x"}, "a profile holds some of the GPU's SMs"),
                         ({"value": 14, "unit": "core", "source": "x"}, "whole number of SMs (unit: SM)")):
        raw["mig_profiles"][0]["sm_count"] = sm
        (tmp_path / "mine.yaml").write_text(yaml.safe_dump(raw))
        with pytest.raises(SpecError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
            load_spec(tmp_path / "mine.yaml")


def test_a_zero_shot_latency_at_fp16_checks_the_peak_it_is_priced_at(capsys):
    # the operator data is fp32: a T4 at fp16 is priced at its 65 TFLOP/s tensor-core peak as the fp32 operators'
    # rate, far outside the training GPUs' 5.5-19.5 TFLOP/s; until 2026-12-04 only the fp32 peak was checked
    import json
    from pathlib import Path

    example = str(Path(__file__).resolve().parents[1] / "examples" / "squeezenet1_1.onnx")
    argv = ["predict", example, "-d", "t4", "--format", "json"]
    assert main(argv) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["totals"]["latency_note"] is None
    assert main([*argv, "--precision", "fp16"]) == ExitCode.OK
    note = json.loads(capsys.readouterr().out)["totals"]["latency_note"]
    assert note == ("unverified: its fp16 peak (priced as the fp32 operators' rate) 65 TFLOP/s is outside the "
                    "training GPUs' 5.5-19.5")


def test_the_api_submodule_is_reachable_from_the_package():
    # until 2026-12-04 `import hybridperf; hybridperf.api.predict(...)` raised AttributeError in a fresh process
    import subprocess
    import sys

    code = "import hybridperf; print(hybridperf.api.device_spec('t4').id, hybridperf.block_table.BlockTable.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "t4 BlockTable\n"


def test_few_shot_calibration_refuses_rows_featurized_for_another_sheet(tmp_path, monkeypatch, capsys):
    # until 2026-12-04 `calibrate --few-shot` adapted the base model with another device's rows without a word
    from pathlib import Path

    monkeypatch.setenv("HYBRIDPERF_HOME", str(tmp_path / "home"))
    data = Path(__file__).resolve().parents[1] / "calibration" / "host-epyc-1c-ort-disabled"
    argv = ["calibrate", "-d", "host-xeon-2c", "--data", str(data), "--few-shot", "5", "--base-device", "host-epyc-1c"]
    assert main(argv) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "not host-xeon-2c" in err
    assert not (tmp_path / "home" / "models" / "host-xeon-2c").exists()
