"""Hand-written Relax modules (TVMScript / BlockBuilder) as the model: ``hybridperf.analyze(mod)``,
``hybridperf.predict(mod, device)`` and the annotated text (:func:`hybridperf.report.annotate.annotate_text`).

Each test is a regression test for a defect found by the audit of 2026-12-03 (see the docstrings)."""

from __future__ import annotations

import pytest

tvm = pytest.importorskip("tvm")

from tvm import relax  # noqa: E402
from tvm.script import ir as I, relax as R, tirx as T  # noqa: E402

import hybridperf  # noqa: E402
from hybridperf.costs import Status  # noqa: E402
from hybridperf.errors import InputError, ModelLoadError  # noqa: E402
from hybridperf.ir.tvm_compat import structural_equal  # noqa: E402
from hybridperf.report.annotate import annotate_text  # noqa: E402


def _copy(mod):
    return tvm.ir.load_json(tvm.ir.save_json(mod))


def _predict(mod, **kw):
    """predict on t4 (roofline only), checking that ``mod`` is left as it was."""
    before = _copy(mod)
    pred = hybridperf.predict(mod, "t4", residual=None, **kw)
    assert structural_equal(mod, before)
    return pred


def _code_lines(text):
    """The binding lines of an annotated text that call something (``= R.`` or ``= cls.``)."""
    return [ln for ln in text.splitlines() if "= R." in ln or "= cls." in ln]


@I.ir_module
class Multi:
    @R.function
    def sub(x: R.Tensor((1, 64), "float32"), w: R.Tensor((64, 32), "float32")) -> R.Tensor((1, 32), "float32"):
        with R.dataflow():
            y = R.matmul(x, w)
            R.output(y)
        return y

    @R.function
    def main(x: R.Tensor((1, 64), "float32"), w: R.Tensor((64, 32), "float32")) -> R.Tensor((1, 32), "float32"):
        cls = Multi
        y = cls.sub(x, w)
        z = R.nn.relu(y)
        return z


def test_ops_of_a_called_relax_function_are_priced():
    """main calling a Relax function: the call was one UNSUPPORTED row 'no cost rule for this op' (32 FLOP, the relu
    alone, and a plan without sub's output); now the function is inlined (on a copy) and its matmul priced."""
    pred = _predict(Multi)
    recs = pred.analyzed.analysis.records
    assert [(r.op, r.status) for r in recs] == [("relax.matmul", Status.COUNTED), ("relax.nn.relu", Status.COUNTED)]
    assert pred.flops == 2 * 1 * 64 * 32 + 1 * 32  # FLOP = 2 x MAC, + relu 1 per element
    assert pred.analyzed.memory.planned_bytes == 32 * 4 + 32 * 4  # y (storage) + z (output), float32
    text = annotate_text(pred, Multi, show_meta=True)
    assert "# Relax functions inlined into main (their ops are priced there): sub" in text
    assert all("# " in ln for ln in _code_lines(text))
    tvm.script.from_source(text)


@I.ir_module
class CallTir:
    @T.prim_func(private=True, s_tir=True)
    def mm(A: T.Buffer((16, 32), "float32"), B: T.Buffer((32, 8), "float32"), C: T.Buffer((16, 8), "float32")):
        for i, j, k in T.grid(16, 8, 32):
            with T.sblock("C"):
                vi, vj, vk = T.axis.remap("SSR", [i, j, k])
                with T.init():
                    C[vi, vj] = T.float32(0)
                C[vi, vj] = C[vi, vj] + A[vi, vk] * B[vk, vj]

    @R.function
    def main(a: R.Tensor((16, 32), "float32"), b: R.Tensor((32, 8), "float32")) -> R.Tensor((16, 8), "float32"):
        cls = CallTir
        with R.dataflow():
            c = R.call_tir(cls.mm, (a, b), out_ty=R.Tensor((16, 8), "float32"))
            d = R.nn.relu(c)
            R.output(d)
        return d


def test_annotated_module_with_a_primfunc_parses_back():
    """Only main was printed, so its ``R.call_tir(mm, ...)`` named a PrimFunc the text did not hold and
    ``tvm.script.from_source`` failed; now a module with other functions is printed whole."""
    pred = _predict(CallTir)
    (rec, _) = pred.analyzed.analysis.records
    assert rec.status is Status.ESTIMATED and rec.cost.flops == 2 * 16 * 8 * 32  # TVM's TIR estimate, 2 x MAC
    text = annotate_text(pred, CallTir, show_meta=True)
    call = next(ln for ln in _code_lines(text) if "R.call_tir" in ln)
    assert "# 8.192 kFLOP (TIR estimate)" in call
    parsed = tvm.script.from_source(text)
    assert sorted(gv.name_hint for gv in parsed.get_global_vars()) == ["main", "mm"]


def test_comment_follows_a_var_the_printer_renames():
    """A binding named like a parameter (BlockBuilder name_hint 'x') prints as ``x_1`` and lost its cost comment
    (matched by name); comments are now attached to the binding objects."""
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((4, 8), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            t = bb.emit(relax.op.nn.relu(x), name_hint="t")
            u = bb.emit(relax.op.add(t, t), name_hint="x")
            o = bb.emit_output(u)
        bb.emit_func_output(o)
    mod = bb.get()
    text = annotate_text(_predict(mod), mod)
    add = next(ln for ln in text.splitlines() if "R.add(" in ln)
    assert "x_1" in add and add.endswith("# 32 FLOP, read 128 B, write 128 B, in kernel fused_relu_k0_add_k1")  # add(t, t) reads t once


@I.ir_module
class NoMain:
    @R.function
    def forward(x: R.Tensor((4, 8), "float32")) -> R.Tensor((4, 8), "float32"):
        y = R.nn.relu(x)
        return y


def test_module_without_main_is_one_line_input_error():
    """TVM's ValueError 'Cannot find global var "main" in the Module' (two lines, not an InputError) reached
    the caller; now one line naming the fix."""
    with pytest.raises(ModelLoadError) as got:
        hybridperf.predict(NoMain, "t4", residual=None)
    (line,) = str(got.value).splitlines()
    assert line == ("the Relax IRModule has no function named main (its functions are forward); name the entry "
                    "function main (def main in TVMScript, bb.function('main', ...) with a BlockBuilder)")
    prim_main = tvm.IRModule({"main": CallTir["mm"]})
    with pytest.raises(ModelLoadError, match="main of the IRModule is a TIR PrimFunc, not a Relax function; write a "
                                             "Relax main that calls it with R.call_tir$"):
        hybridperf.analyze(prim_main)


@I.ir_module
class Chain:
    @R.function
    def main(x: R.Tensor((64, 64), "float32")) -> R.Tensor((64, 64), "float32"):
        a = R.nn.relu(x)
        b = R.exp(a)
        with R.dataflow():
            c = R.nn.relu(b)
            d = R.exp(c)
            e = R.nn.relu(d)
            R.output(e)
        f = R.exp(e)
        g = R.nn.relu(f)
        return g


@pytest.mark.parametrize("fused", [True, False])
def test_plan_of_several_blocks_equals_tvm_planner(fused):
    """Dataflow and non-dataflow blocks in main: each block was planned apart, so a tensor crossing blocks was never
    reused (81 920 B unfused, 65 536 B fused); TVM merges the blocks before StaticPlanBlockMemory: 49 152 B."""
    from hybridperf.analysis.analyze import analyze_with_memory_module
    from hybridperf.analysis.memory import tvm_planned_bytes

    plan = _predict(Chain, fused=fused).analyzed.memory
    _, lowered = analyze_with_memory_module(Chain, fused=fused)
    tensor = 64 * 64 * 4
    assert plan.planned_bytes == tvm_planned_bytes(lowered) == 2 * tensor + tensor  # two reused blocks + output g
    assert plan.storage_bytes == (tensor, tensor)


@I.ir_module
class Sym:
    @R.function
    def main(x: R.Tensor(("n", 64), "float32"), w: R.Tensor((64, 64), "float32")) -> R.Tensor(("n", 64), "float32"):
        R.func_attr({"tir_var_upper_bound": {"n": 128}})
        with R.dataflow():
            y = R.matmul(x, w)
            z = R.nn.relu(y)
            R.output(z)
        return z


def test_symbolic_dims_of_a_module_bind_with_shapes_or_batch():
    """A symbolic module was priced 'unknown' with a note 'bind it with --shape or --batch', and shapes= was
    refused for an IRModule ('shapes do not apply'); now shapes= and batch= bind its symbolic dims (on a copy)."""
    unbound = _predict(Sym)
    assert {r.status for r in unbound.analyzed.analysis.records} == {Status.SYMBOLIC} and not unbound.complete
    by_shape = _predict(Sym, shapes={"x": (8, 64)})
    by_batch = _predict(Sym, batch=8)
    assert by_shape.flops == by_batch.flops == 2 * 8 * 64 * 64 + 8 * 64  # matmul 2 x MAC + relu
    assert dict(by_shape.analyzed.input_shapes) == {"x": (8, 64), "w": (64, 64)}
    assert "# priced at inputs x=8x64, w=64x64" in annotate_text(by_shape, Sym)
    with pytest.raises(InputError, match=r"^shapes= names unknown input 'q'; the module's main takes x, w$"):
        hybridperf.predict(Sym, "t4", shapes={"q": (8, 64)}, residual=None)
    with pytest.raises(InputError, match="^shapes do not apply to a Relax IRModule's fixed dims: w dim 0 is 64, not 8"):
        hybridperf.predict(Sym, "t4", shapes={"w": (8, 64)}, residual=None)


def test_tuple_parameter_counts_every_tensor():
    """A tuple parameter counted its first tensor alone as input (128 B of 256 B)."""

    @I.ir_module
    class TupParam:
        @R.function
        def main(xs: R.Tuple(R.Tensor((4, 8), "float32"), R.Tensor((4, 8), "float32"))) -> R.Tensor((4, 8), "float32"):
            with R.dataflow():
                a = xs[0]
                b = xs[1]
                c = R.add(a, b)
                R.output(c)
            return c

    a = hybridperf.analyze(TupParam)
    assert a.memory.input_bytes == 2 * 4 * 8 * 4
    assert dict(a.input_shapes) == {"xs[0]": (4, 8), "xs[1]": (4, 8)}


@I.ir_module
class Extern:
    """An opaque packed call (no cost rule) feeding a priced add: shared with tests/test_api_annotate_dec5.py."""

    @R.function
    def main(a: R.Tensor((16, 32), "float32")) -> R.Tensor((16, 32), "float32"):
        with R.dataflow():
            b = R.call_dps_packed("my_ext_op", (a,), out_ty=R.Tensor((16, 32), "float32"))
            c = R.add(b, a)
            R.output(c)
        return c


def test_packed_call_names_its_function():
    """R.call_dps_packed / R.call_packed showed 'no cost rule for this op'; now the note names the function and
    the fix."""
    pred = _predict(Extern)
    ext, add = pred.analyzed.analysis.records
    assert ext.status is Status.UNSUPPORTED and add.cost.flops == 16 * 32
    assert ext.note == ("packed function my_ext_op is opaque, cost unknown; write it as a PrimFunc called with "
                        "R.call_tir to price it")
    assert not pred.complete and pred.flops == 16 * 32
    line = next(ln for ln in _code_lines(annotate_text(pred, Extern)) if "call_dps_packed" in ln)
    assert line.endswith("# UNSUPPORTED: " + ext.note)


@I.ir_module
class Recursive:
    @R.function
    def f(x: R.Tensor((4, 8), "float32"), n: R.Tensor((), "int64")) -> R.Tensor((4, 8), "float32"):
        cls = Recursive
        c = R.greater(n, R.const(0, "int64"))
        if c:
            y = R.nn.relu(x)
            m = R.subtract(n, R.const(1, "int64"))
            r = cls.f(y, m)
        else:
            r = x
        return r

    @R.function
    def main(x: R.Tensor((4, 8), "float32"), n: R.Tensor((), "int64")) -> R.Tensor((4, 8), "float32"):
        cls = Recursive
        z = cls.f(x, n)
        return z


def test_recursive_call_stays_a_named_unpriced_call():
    """A call that cannot be inlined (recursion) is one UNSUPPORTED row that says why, and the text keeps f public."""
    pred = _predict(Recursive)
    (rec,) = pred.analyzed.analysis.records
    assert rec.status is Status.UNSUPPORTED and not pred.complete
    assert rec.note == "call of Relax function f is not priced (a recursive call is not inlined into main)"
    text = annotate_text(pred, Recursive)
    assert "@R.function(private=True)" not in text
    assert next(ln for ln in _code_lines(text) if "cls.f(x, n)" in ln).endswith("# UNSUPPORTED: " + rec.note)


def test_conv_matmul_attention_flops_and_dtypes():
    """Golden FLOPs of hand-written ops (checked correct by the audit; kept as a guard)."""
    from hybridperf.costs.elementwise import SOFTMAX_FLOPS_PER_ELEM

    @I.ir_module
    class Ops:
        @R.function
        def main(x: R.Tensor((1, 3, 32, 32), "float32"), w: R.Tensor((16, 3, 3, 3), "float32"),
                 q: R.Tensor((2, 128, 4, 64), "float32"), k: R.Tensor((2, 256, 4, 64), "float32"),
                 v: R.Tensor((2, 256, 4, 32), "float32"), i8: R.Tensor((8, 64), "int8"), w8: R.Tensor((64, 32), "int8"),
                 h: R.Tensor((8, 64), "float16"), wh: R.Tensor((64, 32), "float16")):
            with R.dataflow():
                c = R.nn.conv2d(x, w, strides=1, padding=1)
                a = R.nn.attention(q, k, v)
                m8 = R.matmul(i8, w8, out_dtype="int32")
                m16 = R.matmul(h, wh)
                R.output(c, a, m8, m16)
            return (c, a, m8, m16)

    recs = {r.var: r for r in _predict(Ops).analyzed.analysis.records}
    assert recs["c"].cost.flops == 2 * (16 * 32 * 32) * (3 * 3 * 3)
    scores = 2 * 4 * 128 * 256  # B H S S_kv
    assert recs["a"].cost.flops == 2 * scores * 64 + 2 * scores * 32 + (1 + SOFTMAX_FLOPS_PER_ELEM) * scores
    assert recs["m8"].cost.flops == recs["m16"].cost.flops == 2 * 8 * 64 * 32
    assert (recs["m8"].precision, recs["m16"].precision) == ("int8", "fp16")


# --------------------------------------------------------------------------- the CLI on Relax module files


def test_cli_annotates_a_tvmscript_or_json_module_file(tmp_path, capsys):
    """``hybridperf annotate module.py`` read the file as ONNX: 'cannot read ... as ONNX (DecodeError); the file is
    corrupt or not an ONNX model', exit 2, so a hand-written module could not be annotated from the CLI; now
    TVMScript text (``mod.script()``) and TVM's JSON (``tvm.ir.save_json``) are read, and the output parses back."""
    from hybridperf.cli import main

    script, js = tmp_path / "calltir.py", tmp_path / "calltir.json"
    script.write_text(CallTir.script(show_meta=True))
    js.write_text(tvm.ir.save_json(CallTir))
    for path in (script, js):
        code = main(["annotate", str(path), "-d", "t4", "--show-meta"])
        out, err = capsys.readouterr()
        assert code == 0 and err == ""
        assert "# 8.192 kFLOP (TIR estimate)" in next(ln for ln in out.splitlines() if "R.call_tir(cls.mm" in ln)
        assert structural_equal(tvm.script.from_source(out), CallTir)  # the comments do not change the module
    sym = tmp_path / "sym.py"
    sym.write_text(Sym.script())
    assert main(["annotate", str(sym), "-d", "t4", "--shape", "x=8x64"]) == 0
    assert "65.536 kFLOP" in next(ln for ln in capsys.readouterr().out.splitlines() if "R.matmul(" in ln)  # 2*8*64*64


def test_cli_unparsable_module_file_is_one_line(tmp_path):
    """The text of main alone (``mod['main'].script()``) names a function it does not hold: one stderr line naming
    the problem and its line (TVM's diagnostic ended with a caret line), and no 'BlockBuilder destroyed' line after."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "main_only.py"
    path.write_text(Multi["main"].script())
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "hybridperf", "annotate", str(path), "-d", "t4"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [f"hybridperf: error: {path}: cannot read it as TVMScript (DiagnosticError: "
                                        "Undefined variable: sub (line 5)); write it with mod.script()"]


def test_annotate_show_meta_of_an_onnx_clip_parses_back(tmp_path, capsys):
    """An ONNX Clip imports as call_tir to generated PrimFuncs and ``R.const("-inf", "float32")`` bounds: the
    ``--show-meta`` text printed main alone (``R.call_tir(maximum, ...)`` undefined) and TVM's printer writes -inf as a
    string its parser refuses ('value has to be scalar or Tensor'); now the module is printed whole, -inf as
    ``float("-inf")``, and the text parses back."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from hybridperf.cli import main

    inits = [numpy_helper.from_array(np.ones((16, 16), np.float32), "W"),
             numpy_helper.from_array(np.array(0, np.float32), "lo"), numpy_helper.from_array(np.array(6, np.float32), "hi")]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"]), helper.make_node("Clip", ["y", "lo", "hi"], ["z"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [4, 16])], inits)
    path = tmp_path / "clip.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert main(["annotate", str(path), "-d", "t4", "--show-meta"]) == 0
    out = capsys.readouterr().out
    assert 'R.const(float("-inf"), "float32")' in out
    parsed = tvm.script.from_source(out)
    assert sorted(gv.name_hint for gv in parsed.get_global_vars()) == ["main", "maximum", "minimum"]


@I.ir_module
class BoundedDim:
    @R.function
    def main(x: R.Tensor(("n", 64), "float32")) -> R.Tensor(("n", 64), "float32"):
        R.func_attr({"tir_var_upper_bound": {"n": 128}, "tir_var_lower_bound": {"n": 2}})
        with R.dataflow():
            y = R.nn.relu(x)
            R.output(y)
        return y


def test_bound_outside_the_declared_range_is_refused():
    """main declares n in 2..128 (TVM plans static memory at the upper bound): n = 128 is priced, 256 and 1 are
    refused naming the range (until 2026-12-03 they were priced as given)."""
    pred = hybridperf.predict(BoundedDim, "t4", shapes={"x": (128, 64)}, residual=None)
    assert pred.flops == 128 * 64  # one max(x, 0) per element
    for n in (256, 1):
        with pytest.raises(InputError, match=rf"^n = {n} is outside main's declared range 2\.\.128 "):
            hybridperf.predict(BoundedDim, "t4", shapes={"x": (n, 64)}, residual=None)


def test_predict_on_a_tvmscript_file_points_to_annotate(tmp_path, capsys):
    """``predict sym.py`` said only "the file is corrupt or not an ONNX model: re-export it"."""
    from hybridperf.cli import main

    f = tmp_path / "sym.py"
    f.write_text("x = 1\n")
    assert main(["predict", str(f), "-d", "t4"]) == 2
    assert capsys.readouterr().err == (f"hybridperf: error: cannot read {f} as ONNX (DecodeError); a Relax module file "
                                       "(TVMScript, TVM JSON) is read by `hybridperf annotate`, or by the API as an "
                                       "IRModule\n")
