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
