"""Regression tests from the peak-memory audit of 2026-12-04 (per-runtime peaks: onnxruntime, torch, tvm)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from hybridperf.estimate.runtime_memory import bind_input_shapes, ort_features  # noqa: E402


def _unknown_rank_model() -> onnx.ModelProto:
    """x (no declared shape) @ W[256, 256] -> Relu -> @ W: an input whose rank only --shape gives."""
    w = numpy_helper.from_array(np.zeros((256, 256), np.float32), "W")
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"]), helper.make_node("Relu", ["y"], ["z"]),
         helper.make_node("MatMul", ["z", "W"], ["o"])], "unknown_rank",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("o", TensorProto.FLOAT, None)], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_bind_input_shapes_gives_an_unknown_rank_input_its_shape():
    # until 2026-12-04 only the declared dims were bound (none here): the input stayed rank-unknown
    bound = bind_input_shapes(_unknown_rank_model(), {"x": (1024, 256)})
    dims = [d.dim_value for d in bound.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1024, 256]


def test_bind_input_shapes_still_binds_a_symbolic_batch():
    m = _unknown_rank_model()
    vi = m.graph.input[0]
    vi.CopyFrom(helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 256]))
    bound = bind_input_shapes(m, {"x": (8, 256)})
    assert [d.dim_value for d in bound.graph.input[0].type.tensor_type.shape.dim] == [8, 256]
    assert not any(d.dim_param for d in bound.graph.input[0].type.tensor_type.shape.dim)


def test_onnxruntime_peak_sizes_an_unknown_rank_input_bound_by_shape():
    # until 2026-12-04 `predict --shape x=1024x256` on such a model priced x as a scalar (inputs 4 B) and its first
    # MatMul as unsized (the figure an estimate, 15 % under the measured peak)
    feat = ort_features(bind_input_shapes(_unknown_rank_model(), {"x": (1024, 256)}))
    assert feat.input_bytes == 1024 * 256 * 4
    assert feat.unknown_ops == ()
    assert feat.activations.output_bytes == 1024 * 256 * 4  # o


# --------------------------------------------------------------------------- BFC arena growth (onnxruntime)

MiB = 1 << 20


def test_bfc_arena_region_doubles_until_it_holds_the_request():
    from hybridperf.estimate.runtime_memory import bfc_arena_reserved_bytes

    # until 2026-12-04 a region was max(next size, request): 3 MiB for a 3 MiB request; onnxruntime doubles 1 MiB to 4
    assert bfc_arena_reserved_bytes([3 * MiB]) == 4 * MiB


def test_bfc_arena_next_region_does_not_double_after_a_raise():
    from hybridperf.estimate.runtime_memory import bfc_arena_reserved_bytes

    # until 2026-12-04 [3 MiB, 100 B] reserved 3 + 2 MiB; onnxruntime hands the 4 MiB chunk out whole (4 < 2 * 3 and
    # 1 MiB of dead bytes < 128 MiB) and, the size having just been raised to 4 MiB, reserves 4 MiB again
    assert bfc_arena_reserved_bytes([3 * MiB, 100]) == 4 * MiB + 4 * MiB


def test_bfc_arena_reuses_free_space_of_earlier_regions_and_caps_at_1_gib():
    from hybridperf.estimate.runtime_memory import bfc_arena_reserved_bytes

    # until 2026-12-04 the tail of an earlier region was never reused: 512 KiB + 2 MiB + 300 KiB took 1 + 2 + 4 MiB
    # (the 300 KiB fits the 512 KiB left of the first region: 1 MiB >= 2 * 512 KiB, so it was split)
    assert bfc_arena_reserved_bytes([512 * 1024, 2 * MiB, 300 * 1024]) == MiB + 2 * MiB
    # 600 MiB: 1 MiB doubled to 1 GiB; next region 1 GiB (capped, not 2 GiB); the 424 MiB tails are split off but
    # too small for 600 MiB
    assert bfc_arena_reserved_bytes([600 * MiB] * 3) == 3 * (1 << 30)


# --------------------------------------------------------------------------- If: sizes after it (onnxruntime)


def _if_model() -> onnx.ModelProto:
    """x[N, 256] -> ReduceSum -> Greater -> If (then: Relu(x @ W), else: x * 2) -> y @ W: an If whose output is x's
    shape, not its bool condition's."""
    w = numpy_helper.from_array(np.zeros((256, 256), np.float32), "W")
    then_g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["t1"]), helper.make_node("Relu", ["t1"], ["t_out"])], "then", [],
        [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, ["N", 256])])
    else_g = helper.make_graph([helper.make_node("Mul", ["x", "two"], ["e_out"])], "else", [],
                               [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, ["N", 256])])
    g = helper.make_graph(
        [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0), helper.make_node("Greater", ["s", "zero"], ["c"]),
         helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
         helper.make_node("MatMul", ["y", "W"], ["z"])], "if_graph",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 256])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 256])],
        [w, numpy_helper.from_array(np.array(0, np.float32), "zero"),
         numpy_helper.from_array(np.array(2, np.float32), "two")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_if_output_and_what_follows_are_sized_from_the_whole_model():
    from hybridperf.estimate.runtime_memory import ort_tensor_shapes

    # until 2026-12-04 the If's output took its condition's shape (a bool scalar: y 4 bytes), the MatMul after it
    # failed and was sized as its largest input (z as W: 256 x 256)
    tensors, unknown = ort_tensor_shapes(bind_input_shapes(_if_model(), {"x": (64, 256)}))
    assert tensors["y"] == ((64, 256), 64 * 256 * 4)
    assert tensors["z"] == ((64, 256), 64 * 256 * 4)
    assert unknown == ("If",)  # its branches' tensors stay unsized: the peak is still marked an estimate


# --------------------------------------------------------------------------- check: an unknown peak over a limit

BATCH = 10**8
INPUT_BYTES = BATCH * 3 * 32 * 32 * 4  # resnet_like's x[N, 3, 32, 32] float32: 1.12 TiB


def _check(capsys, model_dir, *argv):
    from hybridperf.cli import main

    code = main(["check", str(model_dir / "resnet_like.onnx"), "-d", "h100-sxm", "--batch", str(BATCH), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_table_fails_a_peak_whose_inputs_alone_exceed_the_budget(capsys, model_dir):
    # until 2026-12-04 UNKNOWN, exit 2 ("no memory plan"), though the inputs alone (1.12 TiB) were over --max-memory
    code, out, err = _check(capsys, model_dir, "--max-memory", "1TiB")
    assert code == 1, err
    row = next(line for line in out.splitlines() if "memory" in line and "resnet_like" in line)
    assert "≥ 1.12 TiB" in row and "OVER" in row
    assert "at least 1.12 TiB (the inputs alone" in out
    assert "cannot judge" not in err


def test_check_json_fails_a_peak_whose_inputs_alone_exceed_the_budget(capsys, model_dir):
    import json

    # until 2026-12-04 "undecided": true, exit 2
    code, out, err = _check(capsys, model_dir, "--max-memory", "1TiB", "--format", "json")
    assert code == 1, err
    mem = next(c for c in json.loads(out)["checks"] if c["metric"] == "memory")
    assert mem["predicted"] is None  # the peak itself stays unknown
    assert mem["at_least"] == INPUT_BYTES and mem["at_least_is"] == "the inputs alone"
    assert mem["exceeded"] is True and mem["undecided"] is False and mem["passed"] is False


def test_check_without_a_memory_budget_fails_inputs_over_the_device_memory(capsys, model_dir):
    # until 2026-12-04 exit 0: the memory row read "no budget" while predict warned the model does not fit
    # (README: exit 1 "a peak exceeds the device's memory (check)", with or without --max-memory)
    code, out, err = _check(capsys, model_dir, "--max-latency", "1000s")
    assert code == 1, err
    assert "OVER device memory" in out


def test_a_floor_under_every_limit_stays_undecided():
    from hybridperf.estimate.budget import CheckResult, Metric, MetricCheck
    from hybridperf.report.check import to_dict, to_table

    # kept as before 2026-12-04: a floor within the limits says nothing of the peak, --allow-unsupported or not
    for accepted in (False, True):
        c = MetricCheck("m.onnx", "d", Metric.MEMORY, None, 100 * MiB, 80 * MiB, lower_bound_accepted=accepted,
                        unknown="no memory plan", at_least=10 * MiB, at_least_is="the inputs alone")
        assert c.undecided and not c.exceeded and not c.passed
        result = CheckResult((c,))
        assert "UNKNOWN" in to_table(result) and "at least" not in to_table(result)
        row = to_dict(result)["checks"][0]
        assert row["undecided"] is True and row["exceeded"] is False and row["at_least"] == 10 * MiB


def test_a_floor_over_a_limit_is_over_by_its_excess():
    from hybridperf.estimate.budget import CheckResult, Metric, MetricCheck
    from hybridperf.report.check import to_junit_xml

    # until 2026-12-04 undecided (exit 2): an unknown figure was never judged, even by a floor over the budget
    c = MetricCheck("m.onnx", "d", Metric.MEMORY, None, 100 * MiB, None, unknown="no memory plan",
                    at_least=150 * MiB, at_least_is="the inputs alone")
    assert c.exceeded and not c.undecided and not c.skipped
    assert c.over_by == 150 / 100 - 1
    assert "predicted at least" in to_junit_xml(CheckResult((c,)))
