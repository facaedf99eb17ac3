"""Review of reading onnxruntime's instruction set from the device sheet (``device.spec.sheet_isa_flags``,
``estimate.runtime_memory.ort_isa``), each finding with what happened until 2026-12-04."""
from __future__ import annotations

import dataclasses
import glob
import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import hybridperf.estimate.runtime_memory as rm
from hybridperf.device import cpuinfo
from hybridperf.device.spec import load_spec, parse_spec, sheet_isa, sheet_isa_flags


# --------------------------------------------------------------------------- D1: words saying an extension is absent


@pytest.mark.parametrize("text, isa, flags, unnamed", [
    # until 2026-12-04 each of these read as HAVING the extension it says is absent, with no note
    ("Intel Xeon E5 (AVX2, no AVX-512)", "x86-64", ("avx2",), ()),
    ("Intel Core i7-12700 (AVX2 but not AVX-512)", "x86-64", ("avx2",), ()),
    ("Intel Core i5: AVX-512 not supported", "x86-64", (), ("avx2",)),
    ("Cortex-A76 without the dot product", "arm", (), ()),
    ("Neoverse core that lacks asimddp", "arm", (), ()),
    ("Cortex-A55; dot product not supported", "arm", (), ()),
    ("4x Cortex-A72; no int8 dot product", "arm", (), ()),
    # a phrase about the past does not hide words naming the extension: ryzen-9-7950x's notes
    ("Zen 4. ISA: x86-64 with AVX2 and AVX-512. Until 2026-12-04 read as a CPU without AVX-512.", "x86-64",
     ("avx2", "avx512f"), ()),
])
def test_absence_is_read_before_presence(text, isa, flags, unnamed):
    assert sheet_isa_flags(text) == type(sheet_isa_flags(text))(isa, flags, unnamed)


def test_a_sheet_saying_no_dot_product_is_priced_without_it_and_without_a_note():
    # until 2026-12-04 "without the dot product" gave onnxruntime's dot-product kernels (alignment 16 / 4 / 16)
    spec = dataclasses.replace(load_spec("raspberry-pi-4b"), id="box", name="Arm Cortex-A76 box",
                               notes="Cortex-A76 without the dot product.")
    assert rm.ort_isa(spec) == (("arm",), "")
    spec = dataclasses.replace(load_spec("host-epyc-1c"), id="box", name="Intel Xeon", notes="AVX-512 not supported.")
    isa, note = rm.ort_isa(spec)
    assert isa == ("x86-64", "avx2") and "no AVX-512" in note and "neither" not in note  # AVX2 assumed, said


# --------------------------------------------------------------------------- D2: sheets that are not a CPU's


@pytest.mark.parametrize("device", ["a10", "a100-pcie-40gb", "a100-pcie-80gb", "rtx-3090", "ethos-u55", "ethos-u65",
                                    "jetson-agx-orin-64gb", "jetson-orin-nano-8gb", "h100-sxm-measured"])
def test_a_sheet_that_is_not_a_cpu_names_no_instruction_set(device):
    # until 2026-12-04 "Ampere" (NVIDIA's GPUs) and "Arm Cortex-M55" read as an arm CPU, h100-sxm-measured as x86-64
    assert load_spec(device).instruction_set == type(load_spec(device).instruction_set)("")


def test_ampere_is_an_arm_cpu_only_as_ampere_computing():
    assert sheet_isa("NVIDIA A10 (Ampere GA102)") == ""  # until 2026-12-04: "arm"
    assert sheet_isa("Ampere Altra Q80-30") == sheet_isa("AmpereOne A192") == "arm"


#: what every shipped CPU sheet's words say (unchanged by the findings above: cross_host reads the same)
CPU_SHEETS = {
    "host-epyc-1c": ("x86-64", ("avx2",), ()),
    "host-epyc-zen4-1c": ("x86-64", ("avx2", "avx512f"), ()),
    "host-epyc-zen4-2c": ("x86-64", ("avx2", "avx512f"), ()),
    "host-epyc-zen5-1c": ("x86-64", ("avx2", "avx512f"), ()),
    "host-xeon-1c": ("x86-64", ("avx2", "avx512f"), ()),
    "host-xeon-2c": ("x86-64", ("avx2", "avx512f"), ()),
    "host-xeon-amx-2c": ("x86-64", ("avx2", "avx512f"), ()),
    "raspberry-pi-4b": ("arm", (), ()),
    "ryzen-9-7950x": ("x86-64", ("avx2", "avx512f"), ()),
    "snapdragon-855": ("arm", ("asimddp",), ()),
}


def test_every_cpu_sheet_reads_as_before():
    shipped = {os.path.basename(p)[:-5] for p in glob.glob(os.path.join(os.path.dirname(rm.__file__), "..", "data",
                                                                        "hw_specs", "*.yaml"))}
    cpus = {d for d in shipped if load_spec(d).kind == "cpu"}
    assert cpus == set(CPU_SHEETS)
    for d, (isa, flags, unnamed) in CPU_SHEETS.items():
        got = load_spec(d).instruction_set
        assert (got.isa, got.flags, got.unnamed) == (isa, flags, unnamed), d
        assert sheet_isa(" ".join([load_spec(d).name, load_spec(d).notes])) == isa, d  # cross_host's reading


# --------------------------------------------------------------------------- R1: a probed sheet's flag list is complete


@pytest.mark.parametrize("text, isa, flags", [
    # until 2026-12-04 a flag missing from the list read as "not said" (AVX2 assumed, dot product unnamed)
    ("Probed ... x86_64 ... ISA flags: avx2 avx_vnni. Power", "x86-64", ("avx2",)),
    ("Probed ... x86_64 ... ISA flags: none. Power", "x86-64", ()),
    ("Probed ... aarch64 ... ISA flags: asimd asimddp sve. Power", "arm", ("asimddp",)),
    ("Probed ... aarch64 ... ISA flags: asimd. Power", "arm", ()),
    ("Probed ... aarch64 ... ISA flags: none. Power", "arm", ()),
])
def test_a_flag_list_is_complete(text, isa, flags):
    named = sheet_isa_flags(text)
    assert (named.isa, named.flags, named.unnamed) == (isa, flags, ())


def test_a_probed_cpu_without_key_flags_says_none_and_runs_without_avx2(toy_probe):
    from hybridperf.measure import probe

    res, host = toy_probe, toy_probe.host
    # flags not read (no /proc/cpuinfo): no list, nothing claimed
    assert "ISA flags" not in probe.spec_dict(res, "toy")["notes"]
    res = dataclasses.replace(res, host=dataclasses.replace(host, isa_read=True))
    sheet = probe.spec_dict(res, "toy")
    assert "ISA flags: none." in sheet["notes"]  # until 2026-12-04: no list at all, so nothing was known
    assert rm.ort_isa(parse_spec(sheet, "<probe>")) == (("x86-64",), "")  # no AVX2: MLAS's SSE kernels, no note


def test_the_probe_marks_the_flags_read(monkeypatch):
    from hybridperf.measure import probe

    monkeypatch.setattr(cpuinfo, "this_cpu", lambda: cpuinfo.parse_cpuinfo("model name : Old\nflags : fpu sse2\n"))
    host = probe.read_host_info()
    assert (host.isa, host.isa_read) == ((), True)
    monkeypatch.setattr(cpuinfo, "this_cpu", lambda: cpuinfo.CpuIdentity("CPU"))  # no flags line
    assert probe.read_host_info().isa_read is False


def test_asimddp_is_a_key_flag_read_from_cpuinfo():
    # the one /proc/cpuinfo reader (device.cpuinfo) feeds both the measurement records and --device host
    assert "asimddp" in cpuinfo.KEY_ISA_FLAGS
    ident = cpuinfo.parse_cpuinfo("processor : 0\nFeatures : fp asimd asimddp sve\nCPU part : 0xd0c\n")
    assert (ident.arch, ident.isa) == ("arm", ("asimd", "asimddp", "sve"))
    assert cpuinfo.parse_cpuinfo("flags : fpu sse2 avx2\n").arch == "x86-64"
    assert cpuinfo.parse_cpuinfo("model name : Toy\n").arch == ""


# --------------------------------------------------------------------------- R2: AVX-512 core is F + BW + DQ + VL


def test_conv_sym_kernel_says_avx512_core_needs_bw_dq_vl():
    assert all(w in rm.conv_sym_kernel.__doc__ for w in ("BW", "DQ", "VL", "ConvSymDispatchAvx512Core"))


# --------------------------------------------------------------------------- R3: QGemm's transposed copy of B


def _qgemm(trans_b: int, b_const: bool):
    ins = ["a", "as", "az", "b", "bs", "bz", "", "ys", "yz"]
    node = helper.make_node("QGemm", ins, ["y"], domain="com.microsoft", transB=trans_b)
    m, k, n = 4, 300, 500
    tensors = {"a": ((m, k), m * k), "b": (((n, k) if trans_b else (k, n)), n * k), "y": ((m, n), m * n)}
    consts = {"b": numpy_helper.from_array(np.zeros((n, k), np.int8), "b")} if b_const else {}
    return node, tensors, consts, (m, k, n)


def test_qgemm_copies_a_non_constant_b_under_transb():
    # until 2026-12-04 QGemm::Compute's TransPoseInputData of B (N x K bytes) was left out of the scratch
    node, tensors, consts, (m, k, n) = _qgemm(1, False)
    assert rm.ort_kernel_scratch_bytes(node, tensors, consts) == \
        rm.malloc_resident_bytes(4 * m * n) + rm.malloc_resident_bytes(n * k)  # int32 product + B^T: 8000 + 150000
    node, tensors, consts, _ = _qgemm(1, True)  # a constant B is pre-packed at load: no copy per run
    assert rm.ort_kernel_scratch_bytes(node, tensors, consts) == rm.malloc_resident_bytes(4 * m * n)
    node, tensors, consts, _ = _qgemm(0, False)  # not transposed: read in place
    assert rm.ort_kernel_scratch_bytes(node, tensors, consts) == rm.malloc_resident_bytes(4 * m * n)


# --------------------------------------------------------------------------- one home


def test_cpuinfo_is_read_once_per_process(monkeypatch, tmp_path):
    # until 2026-12-04 host_isa re-read /proc/cpuinfo up to three times per prediction, beside measure's own parser
    from hybridperf.measure import onnxruntime as ort_measure

    fake = tmp_path / "cpuinfo"
    fake.write_text("processor : 0\nvendor_id : GenuineIntel\nmodel name : Toy\nflags : fpu avx2 avx512f\n")
    monkeypatch.setattr(cpuinfo, "CPUINFO_PATH", fake)
    cpuinfo.cpuinfo_text.cache_clear()
    try:
        assert rm.host_isa() == ("x86-64", "avx2", "avx512f")
        fake.write_text("processor : 0\nFeatures : asimd\n")  # not read again
        assert rm.host_isa() == ("x86-64", "avx2", "avx512f")
        assert ort_measure.cpu_identity().isa == ("avx2", "avx512f")
    finally:
        cpuinfo.cpuinfo_text.cache_clear()


def test_one_page_rounding():
    # until 2026-12-04 written three times (scratch, resident initializers, this test file)
    assert rm.malloc_resident_bytes(rm.MMAP_THRESHOLD_BYTES - 1) == 65536 - 1  # below the threshold: as asked
    assert rm.malloc_resident_bytes(rm.MMAP_THRESHOLD_BYTES + 1) == 17 * 4096  # whole pages of its own
    big = helper.make_tensor("w", TensorProto.FLOAT, [16385], np.zeros(16385, np.float32))  # 65540 B
    small = helper.make_tensor("s", TensorProto.FLOAT, [3], [0.0, 0.0, 0.0])
    model = helper.make_model(helper.make_graph([], "g", [], [], initializer=[big, small]))
    assert rm.ort_resident_initializer_bytes(model) == 17 * 4096 + 3 * 4


def test_includes_built_from_one_list_of_parts():
    assert rm.ORT_INCLUDES_QUANT.replace(rm._ORT_SCRATCH_PART + " + ", "") == rm.ORT_INCLUDES
    assert rm.ORT_INCLUDES.split(" + ")[-3:] == ["graph outputs", "run fixed overhead", "inputs; CPU arena off"]


def test_named_cpu_elsewhere_reads_the_device_layers_words():
    import inspect

    from hybridperf.measure import host

    src = inspect.getsource(host.named_cpu_elsewhere)
    assert "from hybridperf.device.spec import sheet_isa" in src and "cross_host import" not in src
    assert '"host"' not in inspect.getsource(rm.ort_isa)  # HOST_ID, the one spelling of the probed sheet's id
