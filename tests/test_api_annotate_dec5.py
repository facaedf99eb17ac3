"""The annotation in the Python API: ``hybridperf.annotate_text`` and ``hybridperf.annotate_module`` (2026-12-05).

Until 2026-12-05 "annotate Relax graphs with costs" existed only as the CLI's ``hybridperf annotate`` text: the API had
no way to get it, and no way to get the figures onto a Relax module as attributes a TVM pass can read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tvm")

import hybridperf  # noqa: E402
from hybridperf.cli import ExitCode, main  # noqa: E402
from hybridperf.errors import InputError, SpecError  # noqa: E402

SQUEEZENET = Path(__file__).resolve().parents[1] / "examples" / "squeezenet1_1.onnx"
CPU = "host-xeon-2c"  # a CPU sheet: TVM's fused kernels are what is priced
GPU = "t4"  # eager PyTorch by default: one kernel per op
C, HW = 16, 8  # the tiny module's channels and spatial size
#: conv2d 3x3 (2 x MAC) + relu + add, one fused kernel; then a (C x HW x HW) @ (HW x HW) matmul
CONV = 2 * C * HW * HW * C * 3 * 3
MATMUL = 2 * C * HW * HW * HW


def _tiny():
    """conv2d -> relu -> add -> matmul, written with a BlockBuilder."""
    from tvm import relax

    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((1, C, HW, HW), "float32"))
    w = relax.Var("w", relax.TensorType((C, C, 3, 3), "float32"))
    with bb.function("main", [x, w]):
        with bb.dataflow():
            c = bb.emit(relax.op.nn.conv2d(x, w, padding=1))
            r = bb.emit(relax.op.nn.relu(c))
            s = bb.emit(relax.op.add(r, x))
            m = bb.emit(relax.op.matmul(s, s))
            out = bb.emit_output(m)
        bb.emit_func_output(out)
    return bb.get()


def _attrs(func) -> dict:
    return {str(k): v for k, v in dict(func.attrs or {}).items() if str(k).startswith("hybridperf.")}


def _annotated(mod) -> dict[str, dict]:
    """Function name -> its ``hybridperf.*`` attributes (besides the op tags), for each function that has some."""
    out = {}
    for gv, f in mod.functions.items():
        a = {k: v for k, v in _attrs(f).items() if k != "hybridperf.origin"}
        if a:
            out[gv.name_hint] = a
    return out


def _kernel_figures_match(attrs: dict, kd: dict) -> None:
    """A kernel function's attributes are its record of the JSON report, unknown figures left out and named."""
    for key in ("latency_s", "roofline_latency_s", "energy_j", "flops", "bytes_read", "bytes_written"):
        if kd[key] is None:
            assert f"hybridperf.{key}" not in attrs and key in attrs["hybridperf.unknown"]
        else:
            assert attrs[f"hybridperf.{key}"] == kd[key]
    assert attrs["hybridperf.kernel"] == kd["name"] and attrs["hybridperf.status"] == kd["status"]
    assert tuple(attrs["hybridperf.ops"]) == tuple(kd["ops"])


def _totals_match(main_attrs: dict, pred) -> None:
    t = hybridperf.report_dict(pred)["totals"]
    assert main_attrs["hybridperf.latency_s"] == pred.latency_s == t["latency_s"]
    assert main_attrs["hybridperf.energy_j"] == pred.energy_j
    assert main_attrs["hybridperf.flops"] == pred.flops == t["flops"]
    assert main_attrs["hybridperf.bytes_read"] == t["bytes_read"]
    assert main_attrs["hybridperf.bytes_written"] == t["bytes_written"]
    assert main_attrs["hybridperf.peak_memory_bytes"] == pred.peak_memory_bytes
    assert main_attrs["hybridperf.device"] == pred.spec.id and main_attrs["hybridperf.calibration"] == pred.calibration
    assert tuple(main_attrs["hybridperf.unknown"]) == ()


def test_annotate_module_fused_kernels_carry_predicts_figures():
    """On a CPU sheet (TVM's fused kernels priced) the fused conv+relu+add function and the matmul's PrimFunc carry
    predict's per-kernel figures, main its totals (nothing of this existed until 2026-12-05)."""
    mod = _tiny()
    annotated = hybridperf.annotate_module(mod, CPU)
    pred = hybridperf.predict(mod, CPU)
    kernels = hybridperf.report_dict(pred)["kernels"]
    funcs = _annotated(annotated)
    fused = next(a for n, a in funcs.items() if n.startswith("fused_conv2d"))
    matmul = next(a for n, a in funcs.items() if n.startswith("matmul"))
    assert len(kernels) == 2 and len(funcs) == 3
    _kernel_figures_match(fused, kernels[0])
    _kernel_figures_match(matmul, kernels[1])
    assert fused["hybridperf.flops"] == CONV + 2 * C * HW * HW  # relu and add: 1 FLOP an element each
    assert matmul["hybridperf.flops"] == MATMUL
    _totals_match(funcs["main"], pred)
    assert "hybridperf.latency_s" not in _attrs(mod["main"])  # the model given is left as it is


def test_annotate_module_per_op_runtime_annotates_each_ops_function():
    """On a GPU, eager PyTorch (the default) launches one kernel per op: each op's PrimFunc carries its kernel, not a
    fused function holding four kernels' ops with the first one's figures."""
    mod = _tiny()
    annotated = hybridperf.annotate_module(mod, GPU)
    pred = hybridperf.predict(mod, GPU)
    kernels = hybridperf.report_dict(pred)["kernels"]
    funcs = _annotated(annotated)
    assert len(kernels) == 4 and len(funcs) == 5
    assert not any(n.startswith("fused_") for n in funcs)
    by_kernel = {a["hybridperf.kernel"]: a for n, a in funcs.items() if n != "main"}
    for kd in kernels:
        _kernel_figures_match(by_kernel[kd["name"]], kd)
    _totals_match(funcs["main"], pred)


def test_annotate_module_roofline_figures_are_predict_roofline_only():
    mod = _tiny()
    annotated = hybridperf.annotate_module(mod, CPU, residual=None)
    pred = hybridperf.predict(mod, CPU, residual=None)
    _totals_match(_attrs(annotated["main"]), pred)
    assert _attrs(annotated["main"])["hybridperf.latency_s"] == pred.roofline_latency_s


def test_annotated_module_prints_parses_back_and_builds():
    import tvm
    from tvm import relax

    annotated = hybridperf.annotate_module(_tiny(), CPU)
    back = tvm.script.from_source(annotated.script(show_meta=True))
    tvm.ir.assert_structural_equal(back, annotated)
    assert _annotated(back) == _annotated(annotated)
    assert tvm.ir.load_json(tvm.ir.save_json(annotated))["main"].attrs["hybridperf.flops"] == CONV + 2 * C * HW * HW \
        + MATMUL
    relax.build(annotated, tvm.target.Target({"kind": "llvm", "num-cores": 2}))


def test_squeezenet_attributes_equal_predict():
    """examples/squeezenet1_1.onnx: every kernel function carries its kernel's figures, main the totals."""
    import tvm

    annotated = hybridperf.annotate_module(str(SQUEEZENET), CPU, residual=None)
    pred = hybridperf.predict(str(SQUEEZENET), CPU, residual=None)
    kernels = {kd["name"]: kd for kd in hybridperf.report_dict(pred)["kernels"]}
    funcs = _annotated(annotated)
    _totals_match(funcs.pop("main"), pred)
    assert len(funcs) == len(kernels)
    for attrs in funcs.values():
        _kernel_figures_match(attrs, kernels[attrs["hybridperf.kernel"]])
    assert sum(a["hybridperf.flops"] for a in funcs.values()) == pred.flops
    back = tvm.script.from_source(annotated.script(show_meta=True))
    assert _annotated(back) == _annotated(annotated)


def test_annotate_text_is_the_cli_text(tmp_path, capsys, home):
    """annotate_text prints what `hybridperf annotate` does, for an IRModule, its TVMScript file, an ONNX file and an
    Analyzed of it."""
    mod = _tiny()
    path = tmp_path / "tiny.py"
    path.write_text(mod.script(show_meta=True))
    assert main(["annotate", str(path), "-d", GPU]) == ExitCode.OK
    cli = capsys.readouterr().out
    assert hybridperf.annotate_text(mod, GPU) + "\n" == cli
    assert hybridperf.annotate_text(str(path), GPU) + "\n" == cli
    assert "runtime torch (--runtime)" in cli.splitlines()[1]
    assert main(["annotate", str(SQUEEZENET), "-d", CPU, "--runtime", "tvm", "--precision", "fp16"]) == ExitCode.OK
    cli = capsys.readouterr().out
    assert hybridperf.annotate_text(SQUEEZENET, CPU, runtime="tvm", precision="fp16") + "\n" == cli
    assert main(["annotate", str(SQUEEZENET), "-d", CPU]) == ExitCode.OK
    assert hybridperf.annotate_text(hybridperf.analyze(SQUEEZENET), CPU) + "\n" == capsys.readouterr().out
    assert "(--runtime)" not in hybridperf.annotate_text(mod, GPU, runtime=None).splitlines()[1]  # TVM's view, unnamed


def test_unknown_op_is_marked_unknown_never_zero():
    """An opaque packed call has no cost: main's latency and energy are lower bounds, written under
    KEY_lower_bound with the reason, never as the figure."""
    from test_relax_input_audit import Extern  # the same packed call feeding an add

    annotated = hybridperf.annotate_module(Extern, CPU, residual=None)
    m = _attrs(annotated["main"])
    assert "hybridperf.latency_s" not in m and "hybridperf.energy_j" not in m
    assert m["hybridperf.latency_s_lower_bound"] > 0 and m["hybridperf.flops_lower_bound"] == 16 * 32
    assert "call_dps_packed" in m["hybridperf.lower_bound_reason"]
    add = next(a for n, a in _annotated(annotated).items() if n != "main")
    assert add["hybridperf.status"] == "counted" and add["hybridperf.flops"] == 16 * 32


def test_unbound_symbolic_dims_leave_every_time_figure_unknown():
    """A Relax module with an unbound dim: nothing priced, so latency, energy and FLOPs are named unknown and left
    out; no kernel function (no lowering was made), the module is the analysed one."""
    from tvm.script import ir as I
    from tvm.script import relax as R

    @I.ir_module
    class Sym:
        @R.function
        def main(x: R.Tensor(("n", 64), "float32")) -> R.Tensor(("n", 64), "float32"):
            with R.dataflow():
                y = R.nn.relu(x)
                R.output(y)
            return y

    annotated = hybridperf.annotate_module(Sym, CPU, residual=None)
    m = _attrs(annotated["main"])
    for key in ("latency_s", "energy_j", "flops", "peak_memory_bytes"):
        assert key in m["hybridperf.unknown"]
        assert f"hybridperf.{key}" not in m and f"hybridperf.{key}_lower_bound" not in m
    assert list(_annotated(annotated)) == ["main"]


@pytest.mark.parametrize("call, error, words", [
    (lambda m: hybridperf.annotate_text(m, "no-such-device"), SpecError, "no-such-device"),
    (lambda m: hybridperf.annotate_module(m, CPU, precision="fp33"), InputError, "precision='fp33'"),
    (lambda m: hybridperf.annotate_text(m, CPU, show_meta="yes"), InputError, "show_meta must be"),
    (lambda m: hybridperf.annotate_module(m, CPU, residual="none"), InputError, "residual='none'"),
    (lambda m: hybridperf.annotate_text(m, CPU, runtime="bogus"), InputError, "runtime='bogus'"),
    (lambda m: hybridperf.annotate_text(m, CPU, example_inputs=2), InputError, "batch=2"),
    (lambda m: hybridperf.annotate_text(m["main"], CPU), InputError, "tvm.IRModule({'main': func})"),
    (lambda m: hybridperf.annotate_module(hybridperf.analyze(m), CPU), InputError, "pass the model itself"),
    (lambda m: hybridperf.annotate_text(m, CPU, batch=0), InputError, "batch must be a positive integer"),
])
def test_bad_arguments_are_input_errors(call, error, words):
    with pytest.raises(error) as info:
        call(_tiny())
    assert words in str(info.value)
    assert "--" not in str(info.value).split(";")[0]  # the API's words, not the CLI's flags


def test_exported_from_the_package():
    assert {"annotate_text", "annotate_module"} <= set(hybridperf.__all__)
    assert hybridperf.annotate_module is hybridperf.api.annotate_module
