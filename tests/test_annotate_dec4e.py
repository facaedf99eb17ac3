"""``hybridperf annotate`` as an ML engineer uses it (the audit of 2026-12-04).

Each test is a regression test for one defect; its comment says what happened until 2026-12-04.
"""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("tvm")

from hybridperf.cli import ExitCode, main  # noqa: E402
from hybridperf.report.format import fmt_bound, fmt_energy, fmt_flops, fmt_time  # noqa: E402

B, I, H = 2, 32, 64  # the GRU-like step of test_fold_runtime_dec4: batch, input and hidden size; gates 3H wide
G = 3 * H
#: FLOPs every runtime computes: x @ W_ih, the add of both halves (1 an element), the sigmoid (4 an element)
RUN_ALWAYS = 2 * B * I * G + B * G + 4 * B * G
#: FLOPs of the constant subexpression h0 @ W_hh + b_hh: folded by TVM and onnxruntime, run every call by eager torch
CONSTANT = 2 * B * H * G + B * G


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def gru_script(tmp_path_factory):
    """The GRU-like step written as TVMScript with its constants (a Relax module file annotate reads)."""
    from test_fold_runtime_dec4 import _gru_step_module

    path = tmp_path_factory.mktemp("annotate") / "gru.py"
    path.write_text(_gru_step_module().script(show_meta=True))
    return path


def test_annotate_prices_the_runtime_predict_prices(gru_script, capsys):
    """Until 2026-12-04 annotate had no --runtime and priced every sheet as TVM runs the model (constants folded): on
    t4, where predict's default runtime is eager torch (which runs h0 @ W_hh every call), the header read RUN_ALWAYS
    FLOPs and predict RUN_ALWAYS + CONSTANT, and nothing said which runtime the annotation was of."""
    code, out, _ = _run(capsys, "annotate", gru_script, "-d", "t4")
    assert code == ExitCode.OK
    head = out.splitlines()
    assert head[0].endswith(f", {fmt_flops(RUN_ALWAYS + CONSTANT)}")
    assert "runtime torch (--runtime)" in head[1]
    hw = next(line for line in out.splitlines() if "R.matmul(metadata" in line)  # h0 @ W_hh: priced, not zero-cost
    assert hw.split("  # ")[1].startswith(f"{fmt_flops(2 * B * H * G)}, read ")
    code, out, _ = _run(capsys, "annotate", gru_script, "-d", "t4", "--runtime", "tvm")
    assert code == ExitCode.OK
    assert out.splitlines()[0].endswith(f", {fmt_flops(RUN_ALWAYS)}") and "runtime tvm (--runtime)" in out


@pytest.mark.parametrize("device, runtime", [("t4", "torch"), ("t4", "tvm"), ("host-xeon-2c", "onnxruntime")])
def test_annotate_totals_are_predict_roofline_only_with_energy(model_dir, capsys, device, runtime):
    """Until 2026-12-04 the annotation printed no energy (per call or in total) and did not name the predict command
    its totals are those of; now its second line gives the energy of one call and that command, whose JSON totals
    it matches."""
    model = model_dir / "resnet_like.onnx"
    code, out, _ = _run(capsys, "annotate", model, "-d", device, "--batch", 1, "--runtime", runtime)
    assert code == ExitCode.OK
    code, js, _ = _run(capsys, "predict", model, "-d", device, "--batch", 1, "--runtime", runtime, "--roofline-only",
                       "--format", "json")
    t = json.loads(js)["totals"]
    head = out.splitlines()
    assert f"latency {fmt_time(t['latency_s'])} [" in head[0] and head[0].endswith(f", {fmt_flops(t['flops'])}")
    # the energy note follows the figure, as predict's table gives it (since 2026-12-05; until then its cap part only)
    note = json.loads(js)["totals"]["energy_note"]
    energy = f"{fmt_energy(t['energy_j'])} ({note})" if note else fmt_energy(t["energy_j"])
    assert head[1] == (f"# energy {energy} per call; runtime {runtime} (--runtime); the totals of "
                       f"`hybridperf predict --roofline-only --runtime {runtime}`")
    assert head[2].startswith("# each op: its FLOPs, bytes read and bytes written per call of main")


def test_annotate_energy_of_an_unpriced_op_is_a_lower_bound(tmp_path, capsys):
    """An uncosted op: the energy is a lower bound, never a bare figure (it was not printed at all until 2026-12-04)."""
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Unique", ["r"], ["y"], sorted=1)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "unique.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    code, out, _ = _run(capsys, "annotate", path, "-d", "t4")
    code_p, js, _ = _run(capsys, "predict", path, "-d", "t4", "--roofline-only", "--format", "json")
    assert code == code_p == ExitCode.OK
    energy = json.loads(js)["totals"]["energy_j"]
    assert out.splitlines()[1].startswith(f"# energy {fmt_bound(energy, fmt_energy, True)} (")
    assert out.splitlines()[1].startswith("# energy ≥ ")
    assert re.search(r"R\.unique\(.*# UNSUPPORTED: ", out)


def test_annotate_refuses_a_shape_twice_before_probing_host(model_dir, home, capsys):
    """Until 2026-12-04 ``annotate m.onnx --shape x=.. --shape x=..`` on the default device probed this machine first
    (about 10 s, a line on stderr) and only then refused the shapes."""
    code, out, err = _run(capsys, "annotate", model_dir / "resnet_like.onnx", "--shape", "x=1x3x32x32",
                          "--shape", "x=2x3x32x32")
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err == "hybridperf: error: --shape x given twice (1x3x32x32 and 2x3x32x32); give each input one shape\n"
    assert not (home / "hosts").exists()


@pytest.mark.parametrize("argv, words", [
    (["--runtime", "torch", "--runtime", "tvm"], "--runtime given twice"),
    (["--runtime", "tflm"], "--runtime"),  # tflm runs on an NPU sheet only
])
def test_annotate_runtime_flag_refusals(gru_script, capsys, argv, words):
    """--runtime (new on 2026-12-04) refuses a second value and a runtime of another device kind: one line, exit 2."""
    code, out, err = _run(capsys, "annotate", gru_script, "-d", "t4", *argv)
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert words in err and err.count("\n") == 1


#: an SI prefix of fmt_energy -> its factor
_J = {"M": 1e6, "k": 1e3, "": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12}


def _joules(text):
    """``"12.3 uJ"`` -> (joules, half a unit of its last digit: what the display rounded off)."""
    value, unit = text.split()
    factor = _J[unit[:-1]]
    decimals = len(value.split(".")[1]) if "." in value else 0
    return float(value) * factor, 0.5 * 10 ** -decimals * factor


@pytest.mark.parametrize("device, runtime", [("t4", "torch"), ("t4", "tvm"), ("host-xeon-2c", "onnxruntime")])
def test_annotate_kernel_energies_add_up_to_the_header(model_dir, capsys, device, runtime):
    """Until 2026-12-04 a kernel's comment gave its time only: the header's energy per call could not be traced to a
    kernel. Each kernel's energy now follows its time, and they add up to the header's energy (to display rounding)."""
    code, out, _ = _run(capsys, "annotate", model_dir / "resnet_like.onnx", "-d", device, "--batch", 1,
                        "--runtime", runtime)
    assert code == ExitCode.OK
    head = out.splitlines()[1]
    assert "capped" not in head  # a capped header's energy is below its kernels' sum, as it says
    total, total_tol = _joules(re.match(r"# energy ([0-9.]+ [kmunp]?J)( \(.*\))? per call", head).group(1))
    kernels = [_joules(e) for e in re.findall(r"  # .* [0-9.]+ [num]?s, ([0-9.]+ [kmunp]?J)$", out, re.M)]
    assert len(kernels) > 1
    assert sum(e for e, _ in kernels) == pytest.approx(total, abs=total_tol + sum(t for _, t in kernels))


def test_annotate_kernel_comment_never_reads_an_unpriced_kernel_as_zero(model_dir):
    """A kernel left unpriced (an uncosted op fused with priced ones) has latency 0 in the prediction: until
    2026-12-04 its priced op's comment read ``0.0 us``; now its time and energy read unknown."""
    from dataclasses import replace

    from hybridperf.api import analyze, predict_on
    from hybridperf.costs import Status
    from hybridperf.estimate.roofline import ZERO
    from hybridperf.report.annotate import record_comments

    pred = predict_on(analyze(model_dir / "resnet_like.onnx", batch=1), "t4", residual=None)
    kp = next(k for k in pred.kernels if len(k.kernel.op_indices) > 1 and k.kernel.counts_toward_time)
    unpriced = replace(kp, kernel=replace(kp.kernel, status=Status.UNSUPPORTED), estimate=ZERO, latency_s=0.0)
    pred = replace(pred, kernels=tuple(unpriced if k is kp else k for k in pred.kernels))
    comments = [c for c in record_comments(pred) if f"kernel {kp.kernel.name} (" in c]
    assert len(comments) == 1 and comments[0].endswith(
        f"kernel {kp.kernel.name} ({len(kp.kernel.op_indices)} ops) latency unknown, energy unknown")


def _no_probe(monkeypatch):
    """Make any probe of this machine fail the test."""
    from hybridperf.measure import probe

    monkeypatch.setattr(probe, "probe", lambda **kw: pytest.fail("probed this machine before refusing --shape"))


@pytest.mark.parametrize("command, extra", [("predict", []), ("report", ["--html", "-"]), ("check", [])])
@pytest.mark.parametrize("shape_flags, words", [
    (["--shape", "x=1x3x32x32", "--shape", "x=2x3x32x32"], "--shape x given twice"),
    (["--shape", "x=1xqx32x32"], "--shape"),
])
def test_shape_refused_before_probing_host(model_dir, home, monkeypatch, capsys, command, extra, shape_flags, words):
    """Until 2026-12-04 ``predict`` and ``report`` on the default device (host) parsed ``--shape`` only after
    resolving the device, so a bad or twice-given shape was refused after the ~10 s probe of this machine (and its
    line on stderr); ``check`` already parsed it first (pinned here too)."""
    _no_probe(monkeypatch)
    code, out, err = _run(capsys, command, model_dir / "resnet_like.onnx", *shape_flags, *extra)
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err.startswith("hybridperf: error: ") and words in err and err.count("\n") == 1
    assert "probing" not in err and not (home / "hosts").exists()
