"""Peak memory on microcontroller NPU sheets (ethos-u55, ethos-u65): TensorFlow Lite Micro's tensor arena (``tflm``),
integer average pools lowered for TVM's memory planner, and onnxruntime's ``NhwcMaxPool`` sized.

Golden values are arithmetic: int8 / uint8 1 B per element, int32 / float32 4 B.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


# ------------------------------------------------------------------ the tflm runtime ----


def test_tflm_is_the_npu_default_and_only_for_npus():
    from hybridperf.errors import InputError
    from hybridperf.estimate.runtime_memory import Runtime, default_runtime, resolve_runtime

    assert default_runtime("npu") is Runtime.TFLM
    assert resolve_runtime("auto", "npu") is Runtime.TFLM
    assert resolve_runtime("tvm", "npu") is Runtime.TVM  # still available on an NPU
    assert default_runtime("cpu") is Runtime.ONNXRUNTIME and default_runtime("gpu") is Runtime.TORCH  # unchanged
    for kind in ("cpu", "gpu"):
        with pytest.raises(InputError, match="--runtime tflm runs on npu devices"):
            resolve_runtime("tflm", kind, "somewhere")


def test_tflm_peak_is_arena_and_weights_are_flash():
    from hybridperf.estimate.runtime_memory import tflm_peak, tvm_peak

    p = tflm_peak(planned_bytes=1000, output_bytes=16, input_bytes=192, weight_bytes=648)
    assert p.runtime == "tflm"
    assert p.peak_bytes == 1000 + 16 + 192  # no weights, no kernel workspace
    assert dict(p.parts) == {"planned_activations": 1000, "outputs": 16, "inputs": 192}
    assert p.flash_bytes == 648
    assert p.to_dict()["flash_bytes"] == 648
    assert "weights in flash" in p.includes and "no kernel workspace" in p.includes
    # the other runtimes' JSON carries no flash key (their figures and blocks are unchanged)
    assert "flash_bytes" not in tvm_peak(100, 20, 1000, 7).to_dict()


def _int8_pool_tflite(tmp_path, hw=8, cout=16) -> Path:
    pytest.importorskip("tflite")
    from test_edge_user_audit import int8_conv_avgpool_tflite

    p = tmp_path / "pool.tflite"
    p.write_bytes(int8_conv_avgpool_tflite(hw, cout))
    return p


def test_npu_default_peak_is_the_tflm_arena(tmp_path, capsys):
    """Full-int8 CONV_2D -> AVERAGE_POOL_2D on ethos-u55: the headline peak is the arena (int8 activations as planned,
    the int8 output, the int8 input), the weights are named as flash, and nothing is a CPU kernel's workspace."""
    from hybridperf.cli import ExitCode, main

    hw, cout = 8, 16
    p = _int8_pool_tflite(tmp_path, hw, cout)
    assert main(["predict", str(p), "-d", "ethos-u55", "--format", "json"]) == ExitCode.OK
    d = json.loads(capsys.readouterr().out)
    rt = d["runtime_memory"]
    assert rt["runtime"] == "tflm" and rt["applied"]
    assert rt["parts"] == {"planned_activations": hw * hw * cout,  # the int8 feature map
                           "outputs": cout,  # 1x1x1xcout int8
                           "inputs": hw * hw * 3}  # 1xhwxhwx3 int8
    assert rt["peak_bytes"] == hw * hw * cout + cout + hw * hw * 3
    assert rt["flash_bytes"] == d["memory"]["weight_bytes"] > 0
    assert main(["predict", str(p), "-d", "ethos-u65", "--top", "0"]) == ExitCode.OK
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("memory"))
    assert "on tflm = planned activations 1.00 KiB + outputs 16 B + inputs 192 B" in line
    assert "(tensor arena in SRAM, no kernel workspace); weights 648 B in flash, not in the peak" in line


@pytest.fixture(scope="module")
def qdq_resnet(tmp_path_factory):
    """``examples/resnet_like.onnx`` (batch 1, BatchNormalization folded by onnxruntime's pre-processing) quantized by
    ``quantize_static`` in QDQ format from 3 random calibration inputs: the audit's model."""
    pytest.importorskip("onnxruntime")
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.it = iter([{"x": rng.random((1, 3, 32, 32)).astype(np.float32)} for _ in range(3)])

        def get_next(self):
            return next(self.it, None)

    d = tmp_path_factory.mktemp("npu_qdq")
    m = onnx.load(str(EXAMPLES / "resnet_like.onnx"))
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(m, str(d / "b1.onnx"))
    quant_pre_process(str(d / "b1.onnx"), str(d / "pre.onnx"), skip_symbolic_shape=True)
    quantize_static(str(d / "pre.onnx"), str(d / "qdq.onnx"), Reader(), quant_format=QuantFormat.QDQ)
    return d / "qdq.onnx"


def test_check_on_npu_judges_the_arena_not_tvm_workspace(qdq_resnet, capsys):
    """Until 2026-12-04 ``check --max-memory 100KiB -d ethos-u55`` judged "peak on tvm" = plan + TVM's CPU kernel
    workspace + weights + inputs (about 150 KiB here: exit 1); the arena holds the int8 activations as planned (the
    quantized input among them), the float32 input as the model declares it and the output."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.cli import ExitCode, main

    a = analyze(qdq_resnet)
    m = a.memory
    assert m.execution == "int8" and m.known
    for dev in ("ethos-u55", "ethos-u65"):
        assert main(["check", str(qdq_resnet), "-d", dev, "--max-memory", "100KiB", "--format", "json"]) == ExitCode.OK
        (mem,) = [r for r in json.loads(capsys.readouterr().out)["checks"] if r["metric"] == "memory"]
        assert mem["figure"] == "tflm peak" and mem["passed"]
        assert mem["predicted"] == m.planned_bytes + m.input_bytes  # plan (outputs included) + inputs; no weights
    assert m.input_bytes == 1 * 3 * 32 * 32 * 4  # float32, as the file declares it
    # the same check on TVM's runtime still counts the CPU kernel workspace and the weights
    assert main(["check", str(qdq_resnet), "-d", "ethos-u55", "--runtime", "tvm", "--max-memory", "100KiB"]) \
        == ExitCode.BUDGET_EXCEEDED
    capsys.readouterr()


# ---------------------------------------------------------- integer average pools ----


def _int_pool_module(dtype: str):
    from tvm.script import ir as I
    from tvm.script import relax as R

    if dtype == "int32":
        @I.ir_module
        class M:
            @R.function
            def main(x: R.Tensor((1, 8, 8, 16), "int8")):
                with R.dataflow():
                    a = R.astype(x, "int32")
                    b = R.nn.avg_pool2d(a, pool_size=(8, 8), strides=(1, 1), layout="NHWC")
                    c = R.astype(b, "int8")
                    R.output(c)
                return c
        return M

    @I.ir_module
    class F:
        @R.function
        def main(x: R.Tensor((1, 16, 8, 8), "float32")):
            with R.dataflow():
                b = R.nn.avg_pool2d(x, pool_size=(3, 3), strides=(2, 2), padding=(1, 1, 1, 1))
                R.output(b)
            return b
    return F


def _prim_out_dtypes(mod) -> dict[str, str]:
    """PrimFunc name -> dtype of the tensor its ``call_tir`` in ``main`` writes."""
    from hybridperf.ir import tvm_compat as _tvm

    out = {}
    for b in _tvm.bindings(mod["main"]):
        if _tvm.is_call(b.value) and getattr(b.value.op, "name", "") == "relax.call_tir":
            out[b.value.args[0].name_hint] = str(_tvm.expr_type(b.value).dtype)
    return out


def test_int32_avg_pool_kernel_writes_the_ops_dtype():
    """TOPI's integer average pool divides by an int64 window size: TVM 0.27's legalization writes an int64 buffer
    where the Relax call says int32, and FuseTIR then stops ("Inconsistent buffers pool_avg")."""
    pytest.importorskip("tvm")
    from tvm import relax

    from hybridperf.ir import lowering

    mod = _int_pool_module("int32")
    assert _prim_out_dtypes(relax.transform.LegalizeOps()(mod))["avg_pool2d"] == "int64"  # TVM's own
    ours = relax.transform.LegalizeOps(lowering._fixed_legalize_map(mod))(mod)
    assert _prim_out_dtypes(ours)["avg_pool2d"] == "int32"
    fused = lowering.to_memory_plannable(lowering.fuse(ours), True)  # FuseTIR and the planner's passes run
    assert fused is not None


def test_float_avg_pool_keeps_tvms_legalization():
    pytest.importorskip("tvm")
    import tvm
    from tvm import relax

    from hybridperf.ir import lowering

    mod = _int_pool_module("float32")
    tvm.ir.assert_structural_equal(relax.transform.LegalizeOps(lowering._fixed_legalize_map(mod))(mod),
                                   relax.transform.LegalizeOps()(mod))


def test_int8_tflite_average_pool_has_a_tvm_peak_on_npus(tmp_path, capsys):
    """Until 2026-12-04 the TFLite int8 AVERAGE_POOL_2D model's TVM lowering failed wherever the workspace is sized:
    "peak unknown", one kernel per op, and ``check --max-memory`` exit 2 on ethos-u55 / ethos-u65."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.cli import ExitCode, main

    hw, cout = 8, 16
    p = _int8_pool_tflite(tmp_path, hw, cout)
    a = analyze(p, workspace=True)
    assert a.fusion_note == ""
    assert a.memory.known and a.memory.workspace_bytes is not None
    assert a.memory.planned_bytes == hw * hw * cout + cout  # the int8 plan, as without the workspace
    assert len([k for k in a.kernels if k.counts_toward_time]) == 2  # conv and pool kernels, fused as before
    for dev in ("ethos-u55", "ethos-u65"):
        for rt in ("tvm", "tflm"):
            assert main(["check", str(p), "-d", dev, "--runtime", rt, "--max-memory", "100KiB"]) == ExitCode.OK
    capsys.readouterr()


# ------------------------------------------------------- onnxruntime's NhwcMaxPool ----


def _nhwc_max_pool_model() -> onnx.ModelProto:
    node = helper.make_node("NhwcMaxPool", ["x"], ["y"], domain="com.microsoft", kernel_shape=[3, 3],
                            strides=[2, 2], pads=[1, 1, 1, 1])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 16, 16, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


def test_nhwc_max_pool_is_sized_like_max_pool_on_nhwc():
    """onnxruntime's optimiser rewrites a quantized MaxPool as ``com.microsoft.NhwcMaxPool``; until 2026-12-04 it was
    unsized, so a QDQ SqueezeNet's onnxruntime peak was an estimate and ``check`` on raspberry-pi-4b exited 2."""
    from hybridperf.estimate.runtime_memory import ort_tensor_shapes

    m = _nhwc_max_pool_model()
    shapes, unknown = ort_tensor_shapes(m)
    assert unknown == ()
    # (16 + 1 + 1 - 3) // 2 + 1 = 8 per spatial axis, channels last, uint8
    assert shapes["y"] == ((1, 8, 8, 8), 1 * 8 * 8 * 8)
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"x": np.zeros((1, 16, 16, 8), np.uint8)})
    assert y.shape == shapes["y"][0] and y.dtype == np.uint8  # onnxruntime's own kernel agrees


def test_quantized_conv_maxpool_onnxruntime_peak_is_sized(tmp_path):
    """A QDQ Conv -> Relu -> MaxPool -> Conv: onnxruntime's graph has NhwcMaxPool, and its peak no unsized node."""
    pytest.importorskip("onnxruntime")
    from onnx import numpy_helper
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    from hybridperf.estimate.runtime_memory import ort_features, ort_optimized_model

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w")
    w2 = numpy_helper.from_array(rng.standard_normal((4, 8, 1, 1)).astype(np.float32), "w2")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["p", "w2"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, w2])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(tmp_path / "f.onnx"))

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": rng.random((1, 3, 16, 16)).astype(np.float32)} for _ in range(2)])

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(tmp_path / "f.onnx"), str(tmp_path / "q.onnx"), Reader(), quant_format=QuantFormat.QDQ)
    q = onnx.load(str(tmp_path / "q.onnx"))
    opt, optimised = ort_optimized_model(q)
    if not optimised or not any(n.op_type == "NhwcMaxPool" for n in opt.graph.node):
        pytest.skip("this onnxruntime does not rewrite the pool to NhwcMaxPool")
    assert ort_features(q).unknown_ops == ()


def test_capacity_rule_judges_the_arena_on_a_sheet_with_an_sram_size(qdq_resnet, tmp_path, capsys):
    """The packaged ethos-u55 / ethos-u65 sheets give no capacity (the SRAM and flash sizes are the SoC's, not the
    NPU IP's). A user's SoC sheet written from ethos-u55 (whose ``dram`` level is the system SRAM holding the arena)
    with its SRAM size: the existing capacity rule judges the tflm arena against it, weights not counted."""
    from hybridperf.analysis.analyze import analyze
    from hybridperf.cli import ExitCode, main
    from hybridperf.device.spec import load_spec

    assert load_spec("ethos-u55").dram.capacity_bytes is None and load_spec("ethos-u65").dram.capacity_bytes is None
    m = analyze(qdq_resnet).memory
    arena = m.planned_bytes + m.input_bytes
    src = (Path(__file__).resolve().parent.parent / "hybridperf" / "data" / "hw_specs" / "ethos-u55.yaml").read_text()
    for name, cap, code in (("soc-small", arena - 1, ExitCode.BUDGET_EXCEEDED), ("soc-fits", arena, ExitCode.OK)):
        text = src.replace("id: ethos-u55", f"id: {name}").replace(
            "  dram:\n", f"  dram:\n    capacity: {{value: {cap}, unit: B, source: \"test\"}}\n", 1)
        sheet = tmp_path / f"{name}.yaml"
        sheet.write_text(text)
        assert main(["check", str(qdq_resnet), "-d", str(sheet), "--max-memory", "1MiB"]) == code
        out = capsys.readouterr().out
        assert "memory (tflm)" in out and (("OVER device memory" in out) == (code == ExitCode.BUDGET_EXCEEDED))
