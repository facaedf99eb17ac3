"""onnxruntime's peak for a named CPU sheet is priced with that sheet's instruction set, never the running machine's.

Until 2026-12-04 ``runtime_peak`` read ``host_isa()`` (/proc/cpuinfo of the machine running hybridperf) for every
device: ``predict --device raspberry-pi-4b`` on an AVX-512 machine got AVX-512's NCHWc block (16) and its int8
convolution kernels, on an AVX2 machine block 8: one command, two figures.
"""
from __future__ import annotations

import dataclasses

import pytest
from onnx import TensorProto, helper, numpy_helper
import numpy as np

import hybridperf.estimate.runtime_memory as rm
from hybridperf.device.spec import load_spec, sheet_isa_flags
from test_int8_memory_dec4e import _qconv as int8_qconv


@pytest.mark.parametrize("text, isa, flags, unnamed", [
    ("AMD EPYC (Zen 3, AVX2)", "x86-64", ("avx2",), ()),
    ("Intel Xeon (AVX-512 + AMX)", "x86-64", ("avx2", "avx512f"), ()),
    ("Probed ... x86_64 ... ISA flags: avx2 avx512f avx512_vnni.", "x86-64", ("avx2", "avx512f"), ()),
    ("AMD Ryzen 9 7950X (16 cores, Zen 4)", "x86-64", (), ("avx2", "avx512f")),
    ("4x Cortex-A72; no int8 dot product", "arm", (), ()),
    ("Neoverse N1, asimd asimddp", "arm", ("asimddp",), ()),
    ("Kryo 485", "arm", (), ("asimddp",)),
    ("a GPU", "", (), ()),
])
def test_sheet_isa_flags(text, isa, flags, unnamed):
    named = sheet_isa_flags(text)
    assert (named.isa, named.flags, named.unnamed) == (isa, flags, unnamed)


def test_cross_host_reads_the_one_sheet_isa():
    """cross_host reads a sheet's instruction set and AVX-512 through ``DeviceSpec.instruction_set`` (one home; until
    2026-12-04 its own word search, so "no AVX-512" read as AVX-512 there)."""
    import dataclasses as dc

    from hybridperf.residual.cross_host import host_figures

    zen3 = load_spec("host-epyc-1c")
    assert not host_figures(zen3).avx512 and host_figures(zen3).isa == "x86-64"
    assert host_figures(dc.replace(zen3, notes=zen3.notes + " AVX-512F")).avx512
    assert not host_figures(dc.replace(zen3, notes=zen3.notes + " (no AVX-512)")).avx512


@pytest.mark.parametrize("device, isa", [
    ("raspberry-pi-4b", ("arm",)),  # Cortex-A72, "no int8 dot product"
    ("host-epyc-1c", ("x86-64", "avx2")),  # Zen 3, AVX2
    ("host-xeon-1c", ("x86-64", "avx2", "avx512f")),
    ("ryzen-9-7950x", ("x86-64", "avx2", "avx512f")),  # Zen 4: its notes name AVX-512 since 2026-12-04
    ("snapdragon-855", ("arm", "asimddp")),  # its notes name the dot product since 2026-12-04
])
def test_ort_isa_comes_from_the_sheet(monkeypatch, device, isa):
    for here in (("x86-64", "avx2", "avx512f"), ("x86-64",), ("arm", "asimddp"), ()):
        monkeypatch.setattr(rm, "host_isa", lambda here=here: here)
        got, note = rm.ort_isa(load_spec(device))
        assert got == isa and note == ""  # named by the sheet: nothing assumed


def test_only_host_falls_back_to_this_machine(monkeypatch):
    monkeypatch.setattr(rm, "host_isa", lambda: ("arm", "asimddp"))
    spec = load_spec("h100-sxm")  # names no CPU instruction set
    assert rm.ort_isa(spec) == (rm.ORT_ASSUMED_ISA, rm.ort_isa(spec)[1]) and "assumed" in rm.ort_isa(spec)[1]
    host = dataclasses.replace(spec, id="host", name="this machine", notes="")
    assert rm.ort_isa(host) == (("arm", "asimddp"), "")


def test_nchwc_block():
    # MlasNchwcGetBlockSize: 16 with AVX-512F, 8 on x86-64 otherwise, 1 (no NCHWc kernels) on ARM64
    assert rm.nchwc_block(("x86-64", "avx2", "avx512f")) == 16
    assert rm.nchwc_block(("x86-64", "avx2")) == rm.nchwc_block(("x86-64",)) == 8
    assert rm.nchwc_block(("arm", "asimddp")) == 1


def test_conv_sym_kernels():
    # MLAS_CONV_SYM_DISPATCH (convsym.cpp): FilterOutputChannelPackCount / KernelInput- / KernelOutputChannelAlignment
    k = rm.conv_sym_kernel
    assert (k(("avx2",)).pack_out, k(("avx2",)).align_in, k(("avx2",)).align_out) == (16, 4, 8)
    assert (k(("avx512f",)).align_out, k(("avx512f",)).group_align) == (4, 16)
    assert k(("x86-64",)) is None  # no AVX2: ConvSymU8S8Dispatch stays null
    neon, dot = k(("arm",)), k(("arm", "asimddp"))
    assert (neon.pack_out, neon.align_in, neon.align_out, neon.group_align, neon.min_in) == (8, 8, 8, 8, 64)
    assert (dot.pack_out, dot.align_in, dot.align_out) == (16, 4, 16)
    assert neon.signed and not neon.pointwise and not k(("avx2",)).signed


def _qconv(c: int, m: int, kernel: int, hw: int = 8):
    """One symmetric-eligible QLinearConv of ``c`` -> ``m`` channels (uint8 activations, int8 weights of zero point
    0), channels-last, ``hw`` x ``hw`` pixels kept by the padding."""
    return int8_qconv((1, hw, hw, c), (m, c, kernel, kernel), (1, hw, hw, m), pads=(kernel // 2,) * 4)


def test_int8_conv_path_by_isa():
    """A 3x3 conv of 32 -> 64 channels: x86 AVX2 takes the symmetric path (an indirection buffer of a pointer per
    tap and pixel); ARM64 leaves a conv of fewer than 64 input channels to the GEMM path (an int32 accumulator and
    an im2col buffer)."""
    node, tensors, consts = _qconv(32, 64, 3)
    assert rm.ort_kernel_scratch_bytes(node, tensors, consts, ("x86-64", "avx2")) == 8 * 9 * 64  # 8 B x 9 taps x 8x8
    assert rm.ort_kernel_scratch_bytes(node, tensors, consts, ("arm",)) == 4 * 64 * 64 + 32 * 9 * 64
    node, tensors, consts = _qconv(64, 64, 3)  # 64 input channels: ARM64's NEON symmetric kernel too
    assert rm.ort_kernel_scratch_bytes(node, tensors, consts, ("arm",)) == 8 * 9 * 64
    node, tensors, consts = _qconv(64, 64, 1)  # pointwise: ARM64 uses the GEMM path, an int32 accumulator only
    assert rm.ort_kernel_scratch_bytes(node, tensors, consts, ("arm",)) == 4 * 64 * 64
    assert rm.ort_kernel_scratch_bytes(node, tensors, consts, ("x86-64", "avx2")) == 0  # symmetric, direct input


def _tiny_conv_model(channels: int = 24):
    """A float conv of 16 -> ``channels`` channels on 32x32: NCHWc on x86-64 (block 8) where 8 divides it."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 32, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, 32, 32])
    w = numpy_helper.from_array(np.ones((channels, 16, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    return helper.make_model(helper.make_graph([node], "g", [x], [y], [w]),
                             opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("device", ["raspberry-pi-4b", "host-epyc-1c", "host-xeon-1c"])
def test_named_sheet_figure_does_not_depend_on_this_machine(monkeypatch, device):
    """The same sheet, priced as if run on an AVX-512, an AVX2 and an Arm machine: one figure (the optimised graph
    is this machine's onnxruntime's either way; only the flags read here change)."""
    pytest.importorskip("onnxruntime")
    model = _tiny_conv_model(32)
    spec = load_spec(device)
    figures = set()
    for here in (("x86-64", "avx2", "avx512f"), ("x86-64", "avx2"), ("arm",)):
        monkeypatch.setattr(rm, "host_isa", lambda here=here: here)
        isa, _ = rm.ort_isa(spec)
        figures.add(rm.onnxruntime_peak(rm.ort_features(model, isa)).peak_bytes)
    assert len(figures) == 1


def test_arm_sheet_has_no_nchwc_layout():
    """ARM64 (no NCHWc kernels in onnxruntime's released builds): the graph is optimised without the NCHWc pass."""
    pytest.importorskip("onnxruntime")
    model = _tiny_conv_model(32)
    opt_arm, ok = rm.ort_optimized_model(model, "all", ("NchwcTransformer",))
    assert ok and not any(n.domain == "com.microsoft.nchwc" for n in opt_arm.graph.node)
    feat = rm.ort_features(model, ("arm",))
    # the conv's weight stays 32 x 16 x 3 x 3 floats (not reordered into NCHWc blocks)
    assert feat.initializer_bytes == 32 * 16 * 3 * 3 * 4


def test_a_sheet_naming_no_avx_level_is_assumed_avx2_and_says_so(monkeypatch):
    # ryzen-9-7950x named no AVX level until 2026-12-04; a sheet like it gets AVX2 and a note, whatever runs hybridperf
    bare = dataclasses.replace(load_spec("ryzen-9-7950x"), notes="")
    for here in (("x86-64", "avx2", "avx512f"), ("arm", "asimddp")):
        monkeypatch.setattr(rm, "host_isa", lambda here=here: here)
        got, note = rm.ort_isa(bare)
        assert got == ("x86-64", "avx2") and "AVX2" in note
