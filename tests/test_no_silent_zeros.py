"""Issue 10 §2: no silent zeros, no silently ignored input.

Each figure is either right or says why it is not: a lower bound (ops without a cost), unknown
(no memory plan), refused (absurd shapes), warned about (an ignored batch, a peak above the
device's memory), or bounded (energy above the device's maximum power).
"""

import dataclasses
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from test_energy import toy

from hybridperf.analysis.memory import MemoryPlan
from hybridperf.api import analyze, check, predict_on
from hybridperf.cli import ExitCode, main
from hybridperf.errors import InputError
from hybridperf.estimate.pricing import bounded_energy
from hybridperf.report.text import to_dict, to_table


def _save(nodes, inputs, outputs, path, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return str(path)


def _relu(path, shape=(4, 8)):
    """A Relu of a float32 ``shape`` (4*8 = 32 FLOP by default), saved at ``path``."""
    return _save([helper.make_node("Relu", ["x"], ["y"])], [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], path)


def _nms(path):
    """NonMaxSuppression alone (100 boxes, one class: nothing priced), saved at ``path``."""
    return _save([helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"])],
                 [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 100, 4]),
                  helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, 100])],
                 [helper.make_tensor_value_info("sel", TensorProto.INT64, None)], path)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("silent")
    f32 = TensorProto.FLOAT
    out = {}
    # Relu then NonZero: the second op has no cost rule and a data-dependent output shape
    out["nonzero"] = _save(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("NonZero", ["r"], ["y"])],
        [helper.make_tensor_value_info("x", f32, [4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, None)],
        d / "nonzero.onnx",
    )
    # a fixed batch dim of 1
    out["fixed"] = _save(
        [helper.make_node("Relu", ["x"], ["y"])],
        [helper.make_tensor_value_info("x", f32, [1, 1024])],
        [helper.make_tensor_value_info("y", f32, [1, 1024])],
        d / "fixed.onnx",
    )
    # a symbolic batch dim N
    out["dynamic"] = _save(
        [helper.make_node("Relu", ["x"], ["y"])],
        [helper.make_tensor_value_info("x", f32, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("y", f32, ["N", 3, 32, 32])],
        d / "dynamic.onnx",
    )
    # x[1,64] @ W[64,32], then Relu: float32 activations, weights and inputs; the same in float16
    for key, elem, dtype in (("matmul", f32, np.float32), ("matmul_fp16", TensorProto.FLOAT16, np.float16)):
        out[key] = _save(
            [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
            [helper.make_tensor_value_info("x", elem, [1, 64])],
            [helper.make_tensor_value_info("y", elem, [1, 32])],
            d / f"{key}.onnx",
            [numpy_helper.from_array(np.ones((64, 32), dtype), "W")],
        )
    # x @ W, then If(c) {Relu} else {Neg} on a run-time condition c, then @ W2
    then = helper.make_graph([helper.make_node("Relu", ["h"], ["r"])], "then", [],
                             [helper.make_tensor_value_info("r", f32, [1, 32])])
    other = helper.make_graph([helper.make_node("Neg", ["h"], ["n"])], "else", [],
                              [helper.make_tensor_value_info("n", f32, [1, 32])])
    out["if_runtime"] = _save(
        [helper.make_node("MatMul", ["x", "W"], ["h"]),
         helper.make_node("If", ["c"], ["b"], then_branch=then, else_branch=other),
         helper.make_node("MatMul", ["b", "W2"], ["y"])],
        [helper.make_tensor_value_info("x", f32, [1, 64]), helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", f32, [1, 16])],
        d / "if_runtime.onnx",
        [numpy_helper.from_array(np.ones((64, 32), np.float32), "W"),
         numpy_helper.from_array(np.ones((32, 16), np.float32), "W2")],
    )
    return out


# --------------------------------------------------------------------------- 1. uncosted ops


def test_uncosted_op_makes_every_figure_a_lower_bound(models):
    pred = predict_on(analyze(models["nonzero"]), toy(), residual=None)
    assert pred.uncosted_ops == ["relax.nonzero"] and not pred.complete
    d = to_dict(pred)
    assert d["totals"]["lower_bound"] is True
    assert d["totals"]["lower_bound_reason"] == "lower bound: 1 op uncosted: nonzero"
    assert d["coverage"]["uncosted_ops"] == ["relax.nonzero"]
    assert d["memory"]["lower_bound"] is True  # NonZero's output size is data-dependent
    headline = to_table(pred).splitlines()[2]
    assert headline.startswith("latency   ≥ ") and "(lower bound: 1 op uncosted: nonzero)" in headline


def test_control_flow_on_a_runtime_condition_is_uncosted_not_skipped(models, capsys):
    """An ``If`` whose condition is an input: its branches were left out with coverage 100 % and a confident total of
    the two MatMuls (2 x 64 x 32 + 2 x 32 x 16 FLOP); since 2026-12-03 it is an uncosted op, so the figures are lower
    bounds and ``check`` cannot pass them."""
    pred = predict_on(analyze(models["if_runtime"]), toy(), residual=None)
    assert pred.uncosted_ops == ["relax.If"] and not pred.complete
    assert pred.flops == 2 * 64 * 32 + 2 * 32 * 16  # the MatMuls only: a lower bound
    assert pred.lower_bound_reason == "lower bound: 1 op uncosted: If"
    assert repr(pred).endswith(", lower_bound='lower bound: 1 op uncosted: If')")  # a notebook shows it too
    assert to_table(pred).splitlines()[0].endswith("inputs x=1x64, c=scalar")  # a 0-d input read "c=" before
    argv = ["check", models["if_runtime"], "-d", "t4", "--max-latency", "1s", "--roofline-only"]
    assert main(argv) == ExitCode.INPUT_ERROR
    assert "UNDECIDED (lower bound)" in capsys.readouterr().out


def test_check_refuses_a_lower_bound_unless_allowed(models, capsys):
    argv = ["check", models["nonzero"], "-d", "t4", "--max-latency", "1s", "--roofline-only"]
    assert main(argv) == ExitCode.INPUT_ERROR
    out, err = capsys.readouterr()
    assert "UNDECIDED (lower bound)" in out
    assert out.splitlines()[-1] == "1 limit checked on 1 model x device pair: 1 cannot be judged"  # not "within budget"
    assert err.strip() == (
        f"hybridperf: error: cannot judge 1 limit: latency of {models['nonzero']} on t4 (lower bound: 1 op type "
        "has no cost (relax.nonzero)); add cost rules, or pass --allow-unsupported to judge the lower bound"
    )
    assert main([*argv, "--allow-unsupported"]) == ExitCode.OK
    assert "ok (lower bound)" in capsys.readouterr().out
    # a lower bound already over the limit is a definite failure
    assert main(["check", models["nonzero"], "-d", "t4", "--max-latency", "1ns", "--roofline-only"]) == ExitCode.BUDGET_EXCEEDED


def test_api_check_is_falsy_on_a_lower_bound(models):
    result = check(models["nonzero"], "t4", max_latency="1s", residual=None)
    assert not result and len(result.undecided) == 1 and result.failures == ()
    assert check(models["nonzero"], "t4", max_latency="1s", residual=None, allow_unsupported=True)


def test_predict_many_marks_lower_bounds(models, tmp_path, capsys):
    import shutil

    shutil.copy(models["nonzero"], tmp_path / "a.onnx")
    assert main(["predict-many", str(tmp_path), "-d", "t4", "--jobs", "1", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["models"]
    assert row["status"] == "lower bound" and row["lower_bound"] is True
    assert row["lower_bound_reason"] == "lower bound: 1 op uncosted: nonzero"


# --------------------------------------------------------------------------- 2. unknown memory


def test_unknown_memory_is_none_never_zero(models):
    an = analyze(models["matmul"])
    unknown = dataclasses.replace(an, memory=MemoryPlan.unknown(8192, 256, "TVM lowering failed (ValueError)"))
    pred = predict_on(unknown, toy(), residual=None)
    assert pred.peak_memory_bytes is None and pred.memory.live_peak_bytes is None
    d = to_dict(pred)
    assert d["memory"]["known"] is False and d["memory"]["peak_bytes"] is None
    assert d["memory"]["weight_bytes"] == 64 * 32 * 4 and d["memory"]["input_bytes"] == 64 * 4
    assert "memory    peak unknown (no memory plan: TVM lowering failed (ValueError))" in to_table(pred)
    result = check(unknown, "t4", max_memory="1GiB", residual=None)
    (mem,) = [c for c in result.checks if c.metric.value == "memory"]
    assert not result and mem.undecided and mem.value is None and mem.unknown.startswith("no memory plan")


# --------------------------------------------------------------------------- 3. absurd shapes


def test_absurd_shape_is_exit_2(models, capsys):
    code = main(["predict", models["dynamic"], "--shape", "x=99999999999x3x32x32"])
    assert code == ExitCode.INPUT_ERROR
    # 99999999999 * 3 * 32 * 32 * 4 B = 1.23e15 B > 2^48 B
    assert capsys.readouterr().err.strip() == (
        "hybridperf: error: --shape x=99999999999x3x32x32 is 1.23e+15 B, more than the 2^48 B (256 TiB) "
        "any device can address; bind a smaller shape"
    )
    assert main(["predict", models["dynamic"], "--batch", str(2**70)]) == ExitCode.INPUT_ERROR
    assert "input x=1180591620717411303424x3x32x32" in capsys.readouterr().err


# --------------------------------------------------------------------------- 4. ignored batch


def test_batch_that_no_input_takes_is_exit_2_before_any_figure(models, capsys):
    """``--batch`` on a fixed-batch model (or against a batch bound by ``--shape``) would price another batch, and
    ``check`` would judge a budget on it: one line, exit 2 (a warning until 2026-12-03, when ``check --batch 64``
    passed on the batch-1 figure)."""
    with pytest.raises(InputError, match=r"^batch=8 cannot be applied: no input has a symbolic batch dim "
                                         r"\(x=1x1024\); drop batch="):  # the API names its parameter
        analyze(models["fixed"], batch=8)
    assert analyze(models["fixed"], batch=1).input_shapes == {"x": (1, 1024)}  # the batch it has
    assert analyze(models["dynamic"], batch=8).input_shapes == {"x": (8, 3, 32, 32)}
    for argv in (["predict", models["fixed"], "-d", "t4", "--batch", "8", "--format", "json"],
                 ["check", models["fixed"], "-d", "t4", "--batch", "8", "--max-latency", "1s"]):
        assert main(argv) == ExitCode.INPUT_ERROR
        out, err = capsys.readouterr()
        assert out == "" and err == ("hybridperf: error: --batch 8 cannot be applied: no input has a symbolic batch "
                                     "dim (x=1x1024); drop --batch (these shapes are fixed), or re-export the model "
                                     "with a dynamic batch axis\n")
    assert main(["predict", models["dynamic"], "--shape", "x=2x3x32x32", "--batch", "8"]) == ExitCode.INPUT_ERROR
    assert capsys.readouterr().err == ("hybridperf: error: --batch 8 disagrees with the shapes bound (x=2x3x32x32): "
                                       "drop --batch, or give the batch in --shape\n")
    # annotate and measure ignored it silently until then
    for argv in (["annotate", models["fixed"], "-d", "t4", "--batch", "8"],
                 ["measure", models["fixed"], "--batch", "8", "--repeats", "2"]):
        assert main(argv) == ExitCode.INPUT_ERROR
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("hybridperf: error: --batch 8 cannot be applied: no input has a symbolic "
                                            "batch dim (x=1x1024)") and err.count("\n") == 1


# --------------------------------------------------------------------------- 5. one precision policy


def test_precision_override_prices_traffic_memory_and_report_alike(models):
    spec = toy()
    an = analyze(models["matmul"])
    full = predict_on(an, spec, residual=None)
    half = predict_on(an, spec, "fp16", residual=None)
    quarter = predict_on(an, spec, "int8", residual=None)
    # weights 64*32*4 B, input 64*4 B: 2 B per element at fp16, 1 B at int8
    assert (full.memory.weight_bytes, full.memory.input_bytes) == (64 * 32 * 4, 64 * 4)
    assert (half.memory.weight_bytes, half.memory.input_bytes) == (64 * 32 * 2, 64 * 2)
    assert (quarter.memory.weight_bytes, quarter.memory.input_bytes) == (64 * 32, 64)
    # every tensor is float32, so every figure scales exactly
    assert half.peak_memory_bytes * 2 == full.peak_memory_bytes == quarter.peak_memory_bytes * 4
    assert half.memory.live_peak_bytes * 2 == full.memory.live_peak_bytes
    d_full, d_half = to_dict(full), to_dict(half)
    assert d_half["totals"]["bytes_read"] * 2 == d_full["totals"]["bytes_read"]
    assert d_half["memory"]["peak_bytes"] == half.peak_memory_bytes
    costed = [k for k in d_half["kernels"] if k["status"] == "counted"]
    assert costed and {k["precision"] for k in costed} == {"fp16"} == {k["compute_precision"] for k in costed}
    assert d_half["precision"] == {"override": "fp16", "float32_storage_bytes": 2, "compute_precisions": ["fp16"]}
    # latency: the memory time of each kernel is its halved traffic over the bandwidth (1000 GB/s)
    for kf, kh in zip(full.kernels, half.kernels):
        assert kh.estimate.memory_s == pytest.approx(kf.estimate.memory_s / 2)
        assert kh.estimate.memory_s == pytest.approx(kf.kernel.cost.bytes_total / 2 / 1000e9)


def test_precision_without_a_peak_says_where_compute_runs(models):
    spec = toy(peaks={"fp32": {"value": 10, "unit": "TFLOP/s", "source": "test"}})
    pred = predict_on(analyze(models["matmul"]), spec, "fp16", residual=None)
    header = to_table(pred).splitlines()[1]
    assert header.endswith(
        "precision fp16 (float32 ops at fp16, float32 tensors stored in 2 B; toy has no fp16 peak: compute priced at fp32)"
    )
    costed = [k for k in to_dict(pred)["kernels"] if k["status"] == "counted"]
    assert {(k["precision"], k["compute_precision"]) for k in costed} == {("fp16", "fp32")}


def test_a_precision_the_sheet_lacks_is_a_warning_naming_the_peak_used(models):
    """``--precision fp16`` on a sheet without an fp16 peak is priced at its fallback's: the precision line says so,
    and since 2026-12-03 so do the warnings (JSON ``warnings``, stderr), as for every input not honoured as given."""
    spec = toy(peaks={"fp32": {"value": 10, "unit": "TFLOP/s", "source": "test"}})
    pred = predict_on(analyze(models["matmul"]), spec, precision="fp16", residual=None)
    assert pred.warnings == ("--precision fp16: toy lists no fp16 peak; its kernels are priced at its fp32 peak and energy per MAC",)
    assert predict_on(analyze(models["matmul"]), toy(), precision="fp16", residual=None).warnings == ()  # it has one


def test_a_precision_override_with_no_float32_op_to_reprice_is_a_warning(models):
    """``--precision int8`` on an fp16 model re-prices nothing (the override applies to float32 ops): since 2026-12-03
    a warning says so; before, the prediction was the fp16 one with no word that the input was not honoured."""
    analyzed = analyze(models["matmul_fp16"])
    plain = predict_on(analyzed, toy(), residual=None)
    pred = predict_on(analyzed, toy(), precision="int8", residual=None)
    assert pred.latency_s == plain.latency_s  # nothing was re-priced
    assert pred.warnings == ("--precision int8: the model has no float32 op to re-price (its ops are fp16); it is "
                             "priced at its own precision",)
    assert predict_on(analyzed, toy(), precision="fp16", residual=None).warnings == ()  # what it is already
    f32 = predict_on(analyze(models["matmul"]), toy(), precision="fp16", residual=None)
    assert f32.warnings == () and f32.latency_s != predict_on(analyze(models["matmul"]), toy(), residual=None).latency_s


def test_a_precision_override_says_the_onnxruntime_peak_ignores_it(models):
    """On a CPU sheet the headline peak (what ``check --max-memory`` judges) is onnxruntime's, which runs the graph as
    stored: the override moves only the TVM plan. Since 2026-12-03 a warning says so (before: JSON notes only)."""
    a = analyze(models["matmul"])
    plain = predict_on(a, "host-epyc-1c", residual=None, runtime="onnxruntime")
    half = predict_on(a, "host-epyc-1c", "fp16", residual=None, runtime="onnxruntime")
    assert half.peak_memory_bytes == plain.peak_memory_bytes  # onnxruntime's figure: the override is not applied
    assert half.memory.weight_bytes * 2 == plain.memory.weight_bytes  # the TVM plan's weights: 2 B instead of 4
    assert ("--precision fp16: the peak memory is onnxruntime's for the model as stored (onnxruntime on a CPU does "
            "not apply the override; the TVM plan line prices it)") in half.warnings
    assert plain.warnings == ()


# --------------------------------------------------------------------------- 6. device capacity


def test_inputs_alone_above_device_memory_warn_when_no_plan_could_be_made(models):
    """A batch so large that no memory plan is made (the peak is unknown) still says the model cannot fit when its
    inputs alone exceed the device's memory (before: no warning, a latency of over an hour on a 16 GB T4)."""
    spec = toy()
    small = dataclasses.replace(spec, memory={"dram": dataclasses.replace(spec.dram, capacity_bytes=1000.0)})
    pred = predict_on(analyze(models["matmul"]), small, residual=None)
    unplanned = dataclasses.replace(pred, memory_plan=MemoryPlan.unknown(pred.memory.weight_bytes, 4096, "no plan"))
    assert unplanned.peak_memory_bytes is None
    assert unplanned.warnings == ("the inputs alone (4.00 KiB) exceed toy's 1000 B of memory; the model does not "
                                  "fit (lower the batch or the precision)",)


def test_peak_above_device_memory_warns_and_fails_check(models, capsys):
    spec = toy()
    small = dataclasses.replace(spec, memory={"dram": dataclasses.replace(spec.dram, capacity_bytes=1000.0)})
    pred = predict_on(analyze(models["matmul"]), small, residual=None)
    assert pred.peak_memory_bytes > 1000  # 8192 B of weights alone
    kib = pred.peak_memory_bytes / 2**10  # it read "0.00 GiB exceeds toy's 0.00 GiB" until 2026-12-03
    assert pred.warnings == (
        f"predicted peak memory {kib:.2f} KiB exceeds toy's 1000 B of memory; the model does not fit "
        "(lower the batch or the precision)",
    )
    result = check(models["matmul"], small, max_latency="1s", residual=None, runtime=None)  # the TVM plan's peak
    (mem,) = result.failures
    assert mem.metric.value == "memory" and mem.limit is None and mem.over_capacity
    assert mem.over_by == pytest.approx(pred.peak_memory_bytes / 1000 - 1)
    # the 16 GB sheet value: fits, and memory stays unbudgeted
    assert check(models["matmul"], spec, max_latency="1s", residual=None)


# --------------------------------------------------------------------------- 7. power bound


def test_energy_is_bounded_by_max_power():
    spec = toy()  # max 300 W
    assert bounded_energy(1.0, 1e-3, spec) == (
        pytest.approx(0.3),  # 300 W x 1 ms
        "capped at max power 300 W x latency (the energy model implied 1000.0 W, above the sheet's maximum)",
    )
    assert bounded_energy(0.2, 1e-3, spec) == (0.2, "")


def test_prediction_energy_never_implies_more_than_max_power(models):
    spec = dataclasses.replace(toy(), idle_power_w=300.0)  # idle = max: any dynamic energy goes over
    pred = predict_on(analyze(models["matmul"]), spec, residual=None)
    assert pred.energy_j == pytest.approx(300.0 * pred.latency_s)
    assert pred.energy_note.startswith("capped at max power 300 W x latency")
    assert to_dict(pred)["totals"]["energy_note"] == pred.energy_note


def test_energy_on_an_estimated_power_figure_says_so(models):
    from types import MappingProxyType

    from hybridperf.device.spec import load_spec

    assert load_spec("host-epyc-zen4-1c").power_estimated and load_spec("raspberry-pi-4b").power_estimated
    # a datasheet max power with an estimated idle draw is flagged too (since 2026-12-03: a tiny model's energy on
    # a T4 is ~98 % its estimated 10 W idle); NVML-measured figures are not
    assert load_spec("t4").power_estimated and load_spec("ryzen-9-7950x").power_estimated
    assert load_spec("t4").power_note == "idle power of t4 estimated, not measured"
    assert not load_spec("h100-sxm-measured").power_estimated and load_spec("h100-sxm-measured").power_note == ""
    spec = toy()
    plain = predict_on(analyze(models["matmul"]), spec, residual=None)
    assert plain.energy_note == ""
    for which, note in (({"power.max"}, f"max power of {spec.id} estimated, not measured"),
                        ({"power.idle"}, f"idle power of {spec.id} estimated, not measured"),
                        ({"power.max", "power.idle"}, f"power of {spec.id} estimated, not measured")):
        sources = MappingProxyType({**spec.sources, **{k: "estimate, not measured: a typical board" for k in which}})
        guessed = predict_on(analyze(models["matmul"]), dataclasses.replace(spec, sources=sources), residual=None)
        assert guessed.energy_j == plain.energy_j
        assert guessed.energy_note == f"{note}: `hybridperf devices show {spec.id}`"
        assert to_dict(guessed)["totals"]["energy_note"] == guessed.energy_note


# --------------------------------------------------------------------------- 8. predict-many exit rule


def test_predict_many_fail_on_error(models, tmp_path, capsys):
    import shutil

    shutil.copy(models["fixed"], tmp_path / "good.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"junk")
    argv = ["predict-many", str(tmp_path), "-d", "t4", "--jobs", "1"]
    assert main(argv) == ExitCode.OK  # one model predicted: the documented default
    capsys.readouterr()
    assert main([*argv, "--fail-on-error"]) == ExitCode.INPUT_ERROR
    assert capsys.readouterr().err.strip().endswith("hybridperf: error: 1 of 2 models failed (--fail-on-error)")
