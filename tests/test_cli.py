"""CLI happy paths: predict (table/json) and annotate on the bundled example."""

import json
from pathlib import Path

import pytest

from hybridperf.cli import ExitCode, main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "resnet_like.onnx"


def test_help_lists_commands(capsys):
    assert main(["--help"]) == ExitCode.OK
    out = capsys.readouterr().out
    for cmd in ("predict", "annotate"):
        assert cmd in out


def test_unknown_command_suggests(capsys):
    assert main(["prdict"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert "predict" in err and len(err.strip().splitlines()) == 1


def test_predict_table(capsys):
    assert main(["predict", str(EXAMPLE), "--batch", "1", "--device", "a100-sxm-80gb"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "latency" in out and "peak" in out and "conv2d" in out


def test_predict_json_report(capsys):
    assert main(["predict", str(EXAMPLE), "--batch", "2", "--format", "json", "--roofline-only",
                 "--device", "host-epyc-1c"]) == ExitCode.OK
    rep = json.loads(capsys.readouterr().out)
    assert rep["schema_version"] == 1
    assert rep["input_shapes"] == {"x": [2, 3, 32, 32]}
    t = rep["totals"]
    # resnet_like(batch 2, 32x32, width 16): conv 2*N*Cout*H*W*Cin*K*K, batch norm 4 per element,
    # relu / add 1 per element, 2x2 max-pool 4 per output, mean = sum + divide, FC = matmul + bias
    n = 2
    convs = 2 * n * (16 * 32 * 32 * 3 * 9 + 2 * 16 * 16 * 16 * 16 * 9 + 32 * 8 * 8 * 16 * 9 + 32 * 8 * 8 * 32 * 9 + 32 * 8 * 8 * 16)
    norms = 4 * n * (16 * 32 * 32 + 2 * 16 * 16 * 16 + 3 * 32 * 8 * 8)
    relu_add = n * (16 * 32 * 32 + 3 * 16 * 16 * 16 + 3 * 32 * 8 * 8)
    pool = 4 * n * 16 * 16 * 16
    head = n * 32 * 8 * 8 + n * 32 + 2 * n * 32 * 10 + n * 10
    assert t["flops"] == convs + norms + relu_add + pool + head == 10_511_700
    # weights: conv kernels, FC weight + bias, 4 batch-norm parameters per channel, all float32
    conv_w = 16 * 3 * 9 + 2 * 16 * 16 * 9 + 32 * 16 * 9 + 32 * 32 * 9 + 32 * 16
    assert rep["memory"]["weight_bytes"] == 4 * (conv_w + 32 * 10 + 10 + 4 * (3 * 16 + 3 * 32)) == 81_128
    assert rep["memory"]["input_bytes"] == 4 * n * 3 * 32 * 32
    # every counted kernel is its roofline on the device; energy is the kernels' roofline energy, under max power
    from hybridperf.device.spec import load_spec

    spec = load_spec("host-epyc-1c")
    for k in rep["kernels"]:
        if k["status"] != "counted":
            continue
        compute_s = k["flops"] / spec.peak_flops(k["compute_precision"])
        memory_s = (k["bytes_read"] + k["bytes_written"]) / spec.dram_bandwidth_bytes_per_s
        assert k["latency_s"] == pytest.approx(max(compute_s, memory_s) + spec.launch_overhead_s)
        work_s = max(compute_s, memory_s)
        want = "overhead" if work_s < spec.launch_overhead_s else ("compute" if compute_s >= memory_s else "memory")
        assert k["bound"] == want
    # capped at 10 W x latency until 2026-12-03, when pJ/MAC was 10 W / (rate / 2) and idle 3 W came on top
    assert rep["device"]["id"] == "host-epyc-1c"
    assert t["energy_note"] == ("power and energy per DRAM byte of host-epyc-1c estimated, not measured: "
                                "`hybridperf devices show host-epyc-1c`")  # energy figures named since 2026-12-04
    assert t["energy_j"] == pytest.approx(sum(k["energy_j"] for k in rep["kernels"]), rel=1e-12)
    assert spec.idle_power_w * t["latency_s"] < t["energy_j"] < spec.max_power_w * t["latency_s"]
    assert rep["memory"]["peak_bytes"] == (
        rep["memory"]["planned_activation_bytes"] + rep["memory"]["weight_bytes"] + rep["memory"]["input_bytes"]
    )
    assert rep["coverage"]["unsupported_ops"] == []
    # kernel latencies add up to the total
    assert sum(k["latency_s"] for k in rep["kernels"]) == pytest.approx(t["latency_s"])
    assert {op["status"] for op in rep["ops"]} <= {"counted", "estimated", "zero-cost"}


def test_batch_scales_flops(capsys):
    main(["predict", str(EXAMPLE), "--batch", "1", "--format", "json", "--roofline-only"])
    one = json.loads(capsys.readouterr().out)["totals"]["flops"]
    main(["predict", str(EXAMPLE), "--batch", "3", "--format", "json", "--roofline-only"])
    three = json.loads(capsys.readouterr().out)["totals"]["flops"]
    assert three == 3 * one


def test_annotate_comments_every_costed_binding(capsys):
    assert main(["annotate", str(EXAMPLE), "--batch", "1"]) == ExitCode.OK
    out = capsys.readouterr().out
    from hybridperf.report.annotate import ROOFLINE_NOTE

    assert out.startswith("# hybridperf: host: latency ") and f"[{ROOFLINE_NOTE}], TVM plan peak memory " in out
    conv_lines = [line for line in out.splitlines() if "R.nn.conv2d(" in line]
    assert conv_lines and all("FLOP" in line for line in conv_lines)


def test_missing_batch_names_the_flag(capsys):
    assert main(["predict", str(EXAMPLE)]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err.strip()
    assert "--batch" in err and "--shape" in err and len(err.splitlines()) == 1


def test_unknown_device(capsys):
    assert main(["predict", str(EXAMPLE), "--batch", "1", "--device", "a100-sxm-80"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert "a100-sxm-80gb" in err


def test_corrupt_model(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01garbage" * 10)
    assert main(["predict", str(bad)]) == ExitCode.INPUT_ERROR
    captured = capsys.readouterr()
    assert "re-export" in captured.err and captured.out == ""


def _unique_model(path):
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Unique", ["r"], ["y"], sorted=1)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_op_without_cost_is_a_visible_row_and_strict_fails(tmp_path, capsys):
    p = tmp_path / "uniq.onnx"
    _unique_model(p)
    assert main(["predict", str(p), "--format", "json", "--roofline-only"]) == ExitCode.OK
    rep = json.loads(capsys.readouterr().out)
    statuses = {op["op"]: op["status"] for op in rep["ops"]}
    assert statuses["relax.nn.relu"] == "counted"
    assert statuses["relax.unique"] in ("unsupported", "symbolic")
    assert rep["coverage"]["covered_share"] < 1.0
    assert main(["predict", str(p), "--strict"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert "relax.unique" in err and len(err.strip().splitlines()) == 1


def test_error_message_is_one_line(capsys):
    from hybridperf.cli import _one_line

    assert _one_line(ValueError("a\n  b\tc")) == "a b c"
    assert len(_one_line(ValueError("x" * 1000))) == 400


def test_fmt_time_units():
    from hybridperf.report.format import fmt_time

    assert fmt_time(2.5) == "2.500 s"
    assert fmt_time(2.5e-3) == "2.500 ms"
    assert fmt_time(2.5e-6) == "2.5 us"
    assert fmt_time(2.5e-9) == "2.5 ns"
    assert fmt_time(0.0) == "0.0 us"


def test_pt2_missing_file_is_an_input_error(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "m.pt2"), "--device", "t4"]) == ExitCode.INPUT_ERROR
    err = capsys.readouterr().err
    assert "not found" in err and err.count("\n") == 1


@pytest.mark.torch
def test_pt2_file_predicts_end_to_end(tmp_path, capsys):
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(64, 32)

        def forward(self, x):
            return torch.relu(self.fc(x))

    p = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(Net().eval(), (torch.randn(4, 64),)), str(p))
    assert main(["predict", str(p), "--device", "t4", "--format", "json"]) == ExitCode.OK
    report = json.loads(capsys.readouterr().out)
    # Linear 4x64 -> 32: 2 * 4 * 64 * 32 FLOP for the matmul, + 4*32 bias adds + 4*32 relu
    assert report["totals"]["flops"] == 2 * 4 * 64 * 32 + 4 * 32 + 4 * 32
