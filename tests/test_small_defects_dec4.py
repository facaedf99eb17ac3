"""Three small defects fixed on 2026-12-04: a measure error that did not name a guessed input, the HTML report's
tflm arena, and the below-scale note of an alone-blended CPU adaptation.

Golden values are arithmetic: int8 1 B per element.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from hybridperf.cli import ExitCode, main


# --------------------------------------------------------------------------- measure: a guessed input named


def _reshape_to_input(path: Path) -> Path:
    """``y = Reshape(x, shape)`` with ``shape`` a graph input: measure fills it with 0s (a 1-element target, which
    copies dim 0 of a 2x3 ``x``: 2 elements for 6, so onnxruntime fails)."""
    import onnx

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    shape = helper.make_tensor_value_info("shape", TensorProto.INT64, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    g = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"], name="r")], "g", [x, shape], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


def test_a_run_that_fails_on_a_guessed_input_names_it_and_the_fix(tmp_path, capfd):
    """Until 2026-12-04 the error named onnxruntime's reason and ``check the --shape / --batch values`` only: not that
    ``shape`` had been filled with 0s by a guess, nor that measure cannot guess the values a model needs."""
    model = _reshape_to_input(tmp_path / "r.onnx")
    code = main(["measure", str(model), "--no-subnormal-scan", "--repeats", "1", "--warmup", "0"])
    out, err = capfd.readouterr()
    assert code == ExitCode.INPUT_ERROR and out == ""
    assert err.splitlines() == [err.strip()] and err.startswith(f"hybridperf: error: onnxruntime cannot run {model}")
    assert "(input 'shape' filled with 0s: an integer not used as indices or a mask)" in err
    assert "node 'r' (Reshape)" in err  # the start of onnxruntime's reason: its end gives way to a long path
    assert len(err.strip()) <= len("hybridperf: error: ") + 400  # whole: the CLI cuts the middle of a longer line
    assert err.rstrip().endswith("measure cannot guess the real values (a shape, a count): make it an initializer "
                                 "holding them, or check --shape / --batch")


def test_only_guessed_fills_are_named():
    """Floats and ids drawn from a table the file states are valid by construction: only 0s, masks and booleans are
    named (and past ``most``, counted)."""
    from hybridperf.measure.inputs import Fill, InputFill
    from hybridperf.measure.onnxruntime import guessed_fills

    fills = {"x": InputFill(Fill.RANDOM, reason="float input: uniform in [0, 1)"),
             "ids": InputFill(Fill.INDICES, 30, "indices of Gather 'emb' (table of 30 rows): uniform in [0, 30)"),
             "mask": InputFill(Fill.ONES, reason="a mask (by its name): ones, every position kept"),
             "flag": InputFill(Fill.ONES, reason="boolean input: all true"),
             "n": InputFill(Fill.ZEROS, reason="an integer not used as indices or a mask: 0")}
    named, fix = guessed_fills(fills)
    assert named == ("inputs 'mask' filled with 1s: a mask (by its name); 'flag' filled with true: boolean input; "
                     "'n' filled with 0s: an integer not used as indices or a mask")
    assert "make each an initializer" in fix
    assert guessed_fills(fills, most=1)[0] == "inputs 'mask' filled with 1s: a mask (by its name); 2 more"
    assert guessed_fills({k: fills[k] for k in ("x", "ids")}) == ("", "")


# --------------------------------------------------------------------------- the HTML report of a tflm arena


def test_html_report_of_an_npu_says_the_tflm_arena(tmp_path, capsys):
    """Until 2026-12-04 the page's peak-memory card read ``on tflm; TVM plan ...``: not that the peak is the tensor
    arena (planned activations + outputs + inputs) nor that the weights are in flash, as the text report says."""
    from test_npu_arena import _int8_pool_tflite

    from hybridperf.report.format import fmt_bytes

    hw, cout = 8, 16
    p = _int8_pool_tflite(tmp_path, hw, cout)
    assert main(["predict", str(p), "-d", "ethos-u55", "--top", "0"]) == ExitCode.OK
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("memory"))
    arena = (f"planned activations {fmt_bytes(hw * hw * cout)} + outputs {fmt_bytes(cout)} + inputs "
             f"{fmt_bytes(hw * hw * 3)} (tensor arena in SRAM, no kernel workspace); weights 648 B in flash, "
             "not in the peak")  # 1.00 KiB (8*8*16) + 16 B (1x1x1x16) + 192 B (8*8*3)
    assert f"on tflm = {arena}" in line  # the text report, as it was
    out = tmp_path / "r.html"
    assert main(["report", str(p), "-d", "ethos-u55", "--html", str(out)]) == ExitCode.OK
    page = out.read_text()
    peak = fmt_bytes(hw * hw * cout + cout + hw * hw * 3)
    assert f'<div class="v">{peak}</div><div class="d">on tflm = {arena}; TVM ' in page
    assert (f"On tflm the peak memory is the tensor arena in SRAM, {peak} (planned activations + outputs + inputs); "
            "the weights (648 B, in the chart's lower band) are in flash, not in the peak.") in page


# --------------------------------------------------------------------------- a blended CPU adaptation's note


def _tiny(tmp_path):
    from test_no_silent_zeros import _save as save_graph

    w = numpy_helper.from_array(np.ones((64, 64), np.float32), "W")
    return save_graph([helper.make_node("MatMul", ["x", "W"], ["y"])],
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 64])], tmp_path / "tiny.onnx", [w])


@pytest.mark.parametrize("fastest_s", [20e-6, None])
def test_below_scale_note_of_an_alone_blend_is_of_the_blended_figure(tmp_path, fastest_s):
    """An adapted zen4 model (its 100 us overhead) blended half-and-half with an alone model without overhead, on a
    2x64 MatMul. Until 2026-12-04 the note was judged on the adapted model before the blend: its ~110 us total is
    above the K models' fastest (20 us), so the blended ~13 us figure was not marked; and without that fastest the
    note named the pre-blend 100 us overhead, not what the blended figure holds."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.device.spec import load_spec
    from hybridperf.estimate.pricing import BELOW_TRAINING_SCALE, predict_on
    from hybridperf.residual.cross_host import for_sheet

    spec = load_spec("host-epyc-zen4-1c")
    base = for_sheet(spec)
    alone = copy.copy(base)
    alone.overhead_s_, alone.adaptation_, alone.alone_ = 0.0, None, None
    blended = copy.copy(base)
    blended.adaptation_ = {"method": "offset", "offset": 0.0, "slope": 0.0, "center": 0.0, "k": 10,
                           "kernel_rounds": 0, "shrink": 1.0, "loo_abs_log_error": {}, "alone_weight": 0.5,
                           "group_scales": None, "min_latency_s": fastest_s}
    blended.alone_ = alone
    before = copy.copy(blended)
    before.adaptation_, before.alone_ = {**blended.adaptation_, "alone_weight": 0.0}, None
    a = analyze(str(_tiny(tmp_path)))
    p0, pa, p = (predict_on(a, spec, None, residual=m) for m in (before, alone, blended))
    assert p.latency_s == pytest.approx(math.sqrt(p0.latency_s * pa.latency_s), rel=1e-9)
    if fastest_s is not None:
        assert p0.latency_s >= fastest_s > p.latency_s and p0.latency_note == ""
    (k,) = [k for k in p.kernels if k.calibrated]
    overhead_s = p.latency_s - k.latency_s  # the blended figure less its one kernel
    assert p.latency_note.startswith(f"unverified: the model's fitted constant overhead ({overhead_s * 1e6:.0f} us) "
                                     f"is most of this figure (its kernels {k.latency_s * 1e6:.1f} us): "
                                     f"{BELOW_TRAINING_SCALE}")
    assert "(100 us)" not in p.latency_note
