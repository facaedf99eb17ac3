"""Regression tests for defects the lead fixed on 2026-12-04, third session (outside the helpers' files)."""

from __future__ import annotations

import csv
from pathlib import Path

from hybridperf.cli import ExitCode, main


def test_measure_refuses_a_model_that_is_not_onnx(tmp_path, capsys):
    # until 2026-12-04 a .tflite or .pt2 reached onnxruntime, which said "No graph was found ... the file is corrupt"
    for name in ("m.tflite", "m.pt2"):
        model = tmp_path / name
        model.write_bytes(b"not onnx at all")
        assert main(["measure", str(model), "--no-subnormal-scan"]) == ExitCode.INPUT_ERROR
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert "measure times ONNX models with onnxruntime only" in err and name in err


def test_gpu_calibrate_names_the_runtime_of_a_csv_of_the_other_runtime(tmp_path, capsys):
    # until 2026-12-04 `--runtime torch` on CUDA-graph rows whose files were missing said "0 usable ... not found",
    # never that the rows were of the other runtime
    src = Path(__file__).resolve().parents[1] / "calibration" / "h100-sxm" / "torch-cudagraph-fp32-fp16.csv"
    with open(src, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {r["mode"] for r in rows} == {"graph"}
    out = tmp_path / "graph.csv"
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows[:5])
    rc = main(["calibrate", "--device", "h100-sxm", "--runtime", "torch", "--data", str(out),
               "--models", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err.strip()
    assert rc == ExitCode.INPUT_ERROR
    assert err.splitlines()[-1].endswith("pass --runtime torch-cudagraph")
    assert "measured under torch-cudagraph" in err


def test_a_sheet_saying_a_training_cpu_gets_that_hosts_offset_under_any_name(tmp_path):
    # until 2026-12-04 a copy of a training host's sheet under another id (a user's probed sheet of a Zen 5 core) was
    # priced zero-shot, while `host` on that very CPU got the training host's own offset
    from hybridperf.device.spec import default_spec_dir, load_spec
    from hybridperf.residual.cross_host import for_sheet

    text = (default_spec_dir() / "host-epyc-zen5-1c.yaml").read_text()
    assert "\nid: host-epyc-zen5-1c\n" in text
    copy = tmp_path / "my-zen5.yaml"
    copy.write_text(text.replace("\nid: host-epyc-zen5-1c\n", "\nid: my-zen5\n"))
    packaged = for_sheet(load_spec("host-epyc-zen5-1c"))
    mine = for_sheet(load_spec(str(copy)))
    assert packaged.own_host() is not None
    assert mine.own_host() == packaged.own_host()
    assert mine.host_offset() == packaged.host_offset()
    # without the stepping the CPU is not known well enough to match a training host's words: zero-shot
    no_stepping = tmp_path / "my-zen5-nostep.yaml"
    no_stepping.write_text(copy.read_text().replace("stepping: 1, ", "").replace("\nid: my-zen5\n",
                                                                                  "\nid: my-zen5-nostep\n"))
    spec = load_spec(str(no_stepping))
    assert spec.cpu_identity is not None and spec.cpu_identity.stepping is None
    assert for_sheet(spec).own_host() is None


def test_a_device_spec_repr_is_short():
    # until 2026-12-04 the dataclass repr printed every figure's source text (several KB in a notebook cell)
    from hybridperf.device.spec import load_spec

    spec = load_spec("t4")
    text = repr(spec)
    assert text.startswith("DeviceSpec(id='t4', kind='gpu', name=") and len(text) < 300


def test_ctrl_c_exits_130_not_internal_error(monkeypatch, capsys):
    # until 2026-12-04 an interrupted command exited 3, "internal error", which asks the user to report a defect
    import hybridperf.commands.devices as devices

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(devices, "run", interrupted)
    assert main(["devices"]) == ExitCode.INTERRUPTED == 130
    assert capsys.readouterr().err.startswith("hybridperf: interrupted")


def test_predict_many_csv_names_the_precision_of_the_run():
    # until 2026-12-04 an int8 or fp16 run's CSV rows did not say they were priced at that precision
    from hybridperf.report.many import to_csv

    row = {"model": "a.onnx", "status": "ok", "latency_s": 1e-3}
    header, line = to_csv([row], "t4", "fp16").splitlines()
    assert header.endswith(",precision,subnormal_assist_s,innermost_transpose_s,elementwise_math_s,depthwise_conv1d_s,"
                           "short_gather_s,short_broadcast_s,latency_lower_bound_reason")
    assert line.endswith(",fp16,,,,,,,")
    assert to_csv([row], "t4").splitlines()[1].endswith(",")  # no override: an empty cell


def test_devices_show_gives_the_sms_mig_prices_a_profile_on(capsys):
    # until 2026-12-04 `devices show` gave "1/7 compute" while `mig` priced 14 of the A100's 108 SMs from the same sheet
    import json

    assert main(["devices", "show", "a100-sxm-80gb", "--format", "json"]) == ExitCode.OK
    profiles = {m["name"]: m for m in json.loads(capsys.readouterr().out)["mig_profiles"]}
    assert profiles["1g.10gb"]["sm_count"] == 14
    assert main(["devices", "show", "a100-sxm-80gb"]) == ExitCode.OK
    assert any(line.startswith("mig.1g.10gb") and "1/7 compute (14 SMs)" in line
               for line in capsys.readouterr().out.splitlines())


def test_the_desktop_ryzen_sheet_says_its_cpu():
    # until 2026-12-04 ryzen-9-7950x had no cpu_identity, so an AMD EPYC (same vendor and ISA) could not be told apart
    from hybridperf.device.spec import load_spec

    ident = load_spec("ryzen-9-7950x").cpu_identity
    assert (ident.vendor, ident.family, ident.model, ident.stepping) == ("AuthenticAMD", 0x19, 0x61, None)


def test_a_model_entrys_shapes_take_precedence_over_the_top_level_batch(tmp_path, capsys):
    # until 2026-12-04 `batch = 1` in [tool.hybridperf] and a model's `shapes = {x = "8x3x32x32"}` exited 2 ("--batch 1
    # disagrees with the shapes bound"), though `check --help` shows both keys together
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 32, 32])
    m = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(tmp_path / "relu.onnx"))
    (tmp_path / "pyproject.toml").write_text(
        '[tool.hybridperf]\ndevices = ["t4"]\nbatch = 1\nmax-latency = "1s"\n\n'
        '[tool.hybridperf.budgets."relu.onnx"]\nshapes = {x = "8x3x32x32"}\n')
    assert main(["check", "--config", str(tmp_path / "pyproject.toml"), "--format", "json"]) == ExitCode.OK
    from hybridperf.estimate.budget import load_config, resolve_targets

    (target,) = resolve_targets([], load_config(tmp_path / "pyproject.toml"))
    assert target.batch is None and target.shapes == {"x": (8, 3, 32, 32)}
    (target,) = resolve_targets([], load_config(tmp_path / "pyproject.toml"), cli_batch=2)
    assert target.batch == 2  # the command line still wins
