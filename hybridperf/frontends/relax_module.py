"""A Relax ``IRModule`` written by hand (TVMScript, ``relax.BlockBuilder``) as a model.

The cost pass prices the bindings of ``main``. :func:`load_relax_module` checks that there is a Relax ``main``,
inlines the Relax functions ``main`` calls (so that their ops are priced, and the memory they allocate planned, as
TVM's planner sees them after inlining), and binds symbolic input dims named by ``shapes`` / ``batch``. It works on a
copy: the caller's module is never changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hybridperf.errors import InputError, ModelLoadError
from hybridperf.frontends.common import LoadedModel
from hybridperf.ir import tvm_compat as _tvm
from hybridperf.units import dims_text, shape_example

__all__ = ["RELAX_SUFFIXES", "SOURCE", "bind_weight_params", "check_relax_module", "inline_calls", "is_relax_file",
           "is_relax_module", "load_relax_file", "load_relax_module"]

#: the ``source`` of a model given as an IRModule
SOURCE = "<Relax IRModule>"

#: model files read as a Relax module: TVMScript text (``mod.script()``, what ``hybridperf annotate --show-meta``
#: prints) or TVM's JSON (``tvm.ir.save_json(mod)``)
RELAX_SUFFIXES = (".py", ".tvmscript", ".json")


def is_relax_module(model: Any) -> bool:
    """Whether ``model`` is a ``tvm.IRModule`` (told without importing TVM: a module means TVM is loaded)."""
    return type(model).__name__ == "IRModule" and hasattr(model, "functions")


def check_relax_module(mod: Any) -> None:
    """Raise :class:`~hybridperf.errors.ModelLoadError` (one line naming the fix) when ``mod`` has no Relax ``main``."""
    names = sorted(gv.name_hint for gv in mod.get_global_vars())
    if "main" not in names:
        relax_names = [n for n in names if _tvm.is_relax_function(mod[n])]
        has = f"its functions are {', '.join(relax_names)}" if relax_names else "it has no Relax function"
        raise ModelLoadError(f"the Relax IRModule has no function named main ({has}); name the entry function "
                             "main (def main in TVMScript, bb.function('main', ...) with a BlockBuilder)")
    if not _tvm.is_relax_function(mod["main"]):
        raise ModelLoadError("main of the IRModule is a TIR PrimFunc, not a Relax function; write a Relax main that "
                             "calls it with R.call_tir")


def _called_functions(mod: Any) -> list[str]:
    """Names of the Relax functions that ``main``'s bindings call, in order, each once."""
    out: list[str] = []
    for b in _tvm.bindings(mod["main"]):
        v = b.value
        if _tvm.is_call(v) and _tvm.is_global_var(v.op):
            name = v.op.name_hint
            if name != "main" and _tvm.is_relax_function(mod[name]) and name not in out:
                out.append(name)
    return out


def inline_calls(mod: Any) -> tuple[Any, tuple[str, ...]]:
    """A copy of ``mod`` whose ``main`` has the Relax functions it calls inlined (TVM's
    ``InlinePrivateFunctions`` on a copy where they are private), and their names; ``mod`` itself when it calls
    none. A function that calls itself stays a call (an unsupported op in the cost pass)."""
    _, relax = _tvm.tvm_modules()
    done: list[str] = []
    for _ in range(_MAX_DEPTH):  # a callee's own calls come into main with it: inline again
        called = [n for n in _called_functions(mod) if n not in done]
        if not called:
            break
        inlined = relax.transform.InlinePrivateFunctions()(_without_attr(mod, "global_symbol", called))
        still = set(_called_functions(inlined))
        if all(n in still for n in called):
            break  # nothing inlined (a recursive function): it stays a call, and public as it was
        mod = inlined
        done += [n for n in called if n not in still]
    return mod, tuple(done)


#: at most this many levels of calls are inlined
_MAX_DEPTH = 16


def _param_dims(mod: Any) -> dict[str, list[Any] | None]:
    """main's tensor inputs (its parameters before ``num_input``, :func:`~hybridperf.ir.tvm_compat.num_inputs`;
    those after are weights): name -> dims (int for a fixed dim, the TIR expression for a symbolic one)."""
    tvm, relax = _tvm.tvm_modules()
    out: dict[str, list[Any] | None] = {}
    main = mod["main"]
    for p in main.params[:_tvm.num_inputs(main)]:
        ty = _tvm.expr_type(p)
        if not isinstance(ty, relax.TensorType):
            continue
        shape = ty.shape
        if shape is None or not hasattr(shape, "values"):
            out[_tvm.var_name(p)] = None
            continue
        values = _tvm.items(shape.values)
        out[_tvm.var_name(p)] = [int(v.value) if isinstance(v, tvm.tirx.IntImm) else v for v in values]
    return out


def _symbolic_values(mod: Any, shapes: Mapping[str, tuple[int, ...]] | None, batch: int | None) -> dict[str, int]:
    """TIR var name -> value, from ``shapes`` (whole input shapes) and ``batch`` (a symbolic leading dim)."""
    tvm, _ = _tvm.tvm_modules()
    params = _param_dims(mod)
    values: dict[str, int] = {}
    for name, want in (shapes or {}).items():
        if name not in params:
            raise InputError(f"--shape names unknown input {name!r}; the module's main takes "
                             f"{', '.join(params) or '(no tensor)'}")
        dims = params[name]
        if dims is None:
            raise InputError(f"--shape {name}: main's parameter {name} has no shape (R.Tensor(ndim=...)); give it a "
                             "symbolic shape in the module, e.g. R.Tensor(('n', 64))")
        if len(dims) != len(want):
            raise InputError(f"--shape {name}={dims_text(want)} has rank {len(want)} but main's parameter has rank "
                             f"{len(dims)}; give one dim per axis, e.g. --shape {name}={shape_example(dims)}")
        for i, (d, w) in enumerate(zip(dims, want)):
            if isinstance(d, int):
                if d != w:
                    raise InputError(f"shapes do not apply to a Relax IRModule's fixed dims: {name} dim {i} is {d}, "
                                     f"not {w}; bind only symbolic dims, or change the module")
            elif isinstance(d, tvm.tirx.Var):
                if values.setdefault(d.name, w) != w:
                    raise InputError(f"--shape binds {d.name} to both {values[d.name]} and {w}; give one value")
    if batch is not None:
        leading = [dims[0] for dims in params.values() if dims and isinstance(dims[0], tvm.tirx.Var)]
        for d in leading:
            values.setdefault(d.name, batch)
    # main's declared range of each dim (TVM's planner sizes static memory at the upper bound; a build for a value
    # outside it cannot run): a value outside is refused (until 2026-12-03 it was priced as given)
    attrs = mod["main"].attrs or {}
    lower = {str(k): int(v) for k, v in dict(attrs.get("tir_var_lower_bound", {}) or {}).items()}
    upper = {str(k): int(v) for k, v in dict(attrs.get("tir_var_upper_bound", {}) or {}).items()}
    for name, value in values.items():
        lo, hi = lower.get(name, 0), upper.get(name)
        if value < lo or (hi is not None and value > hi):
            raise InputError(f"{name} = {value} is outside main's declared range {lo}..{hi if hi is not None else ''} "
                             "(tir_var_lower_bound / tir_var_upper_bound); bind a value in that range, or widen it in "
                             "the module")
    return values


def load_relax_module(mod: Any, shapes: Mapping[str, tuple[int, ...]] | None = None,
                      batch: int | None = None) -> LoadedModel:
    """``mod`` as a :class:`LoadedModel`: checked (:func:`check_relax_module`), the Relax functions ``main``
    calls inlined (:func:`inline_calls`), and the symbolic dims that ``shapes`` / ``batch`` name bound (TVM's
    ``BindSymbolicVars``). A copy where anything changes; ``mod`` is left as it is."""
    check_relax_module(mod)
    _, relax = _tvm.tvm_modules()
    out, _ = inline_calls(bind_weight_params(mod))
    values = _symbolic_values(out, shapes, batch)
    if values:
        out = relax.transform.BindSymbolicVars(values, func_name="main")(out)
    in_shapes = {n: tuple(d) for n, d in _param_dims(out).items()
                 if d is not None and all(isinstance(x, int) for x in d)}
    n_ops = sum(1 for b in _tvm.bindings(out["main"]) if _tvm.is_call(b.value))
    return LoadedModel(module=out, input_shapes=in_shapes, source=SOURCE, format="relax", node_count=n_ops)


def bind_weight_params(mod: Any) -> Any:
    """A copy of ``mod`` whose ``main`` has the weights it takes as parameters, with their values in its ``params``
    attribute (``relax.frontend.onnx.from_onnx(..., keep_params_in_input=True)``: the parameters past ``num_input``),
    bound as constants (TVM's ``BindParams``), as the model file would import them; ``mod`` itself when it has
    none. Weight parameters without values stay parameters, which the cost pass counts as weights
    (:func:`~hybridperf.ir.tvm_compat.num_inputs`; until 2026-12-05 both kinds were priced as inputs)."""
    _, relax = _tvm.tvm_modules()
    main = mod["main"]
    attrs = main.attrs
    values = list(attrs.get("params") or []) if attrs is not None else []
    weights = list(main.params[_tvm.num_inputs(main):])
    if not values or len(values) != len(weights):  # values that do not line up with the weights: none bound
        return mod
    bound = relax.transform.BindParams("main", dict(zip(weights, values)))(mod)
    return _without_attr(bound, "params", ("main",))


def _without_attr(mod: Any, attr: str, names: Any) -> Any:
    """A copy of ``mod`` (its attributes and global infos too) whose functions named in ``names`` lack the attribute
    ``attr``; the others as they are."""
    tvm, _ = _tvm.tvm_modules()
    copy = tvm.IRModule({}, attrs=mod.attrs, global_infos=mod.global_infos)
    for gv, func in mod.functions.items():
        if gv.name_hint in names and func.attrs is not None and attr in func.attrs:
            func = func.without_attr(attr)
        copy[gv] = func
    return copy


def is_relax_file(path: Any) -> bool:
    """Whether ``path`` names a Relax module file (:data:`RELAX_SUFFIXES`)."""
    from pathlib import Path

    return isinstance(path, (str, Path)) and Path(path).suffix.lower() in RELAX_SUFFIXES


def load_relax_file(path: Any, shapes: Mapping[str, tuple[int, ...]] | None = None,
                    batch: int | None = None) -> LoadedModel:
    """A Relax module file (TVMScript text, parsed with ``tvm.script.from_source``, which evaluates the expressions in
    it as Python does: read only files you trust; or TVM's JSON) as :func:`load_relax_module` loads a module."""
    import dataclasses
    from pathlib import Path

    from hybridperf.frontends.common import check_model_file

    check_model_file(path)
    tvm, relax = _tvm.tvm_modules()
    p = Path(path)
    json = p.suffix.lower() == ".json"
    problem = ""
    try:
        text = p.read_text(encoding="utf-8")
        if not json:  # the imports mod.script() prints (commented out; a file run as Python has them as code) bind
            # names from_source binds itself, and from_source refuses any import: those lines are blanked (line
            # numbers kept), any other import is still refused (until 2026-12-05 these were too, exit 2)
            import re

            text = re.sub(r"^(import tvm|from tvm\.script import (ir as I|relax as R|tirx? as T)|from tvm\.tirx\."
                          r"layout import Axis)[ \t]*(#[^\r\n]*)?\r?$", "", text, flags=re.M)
        mod = tvm.ir.load_json(text) if json else tvm.script.from_source(text)
    except Exception as exc:  # noqa: BLE001 - TVM's parser raises its own classes, every one a bad file
        problem = f"{type(exc).__name__}: {_parse_error_line(exc)[:160]}"
    if problem:
        # the parser's failed frames hold an open BlockBuilder, which prints "BlockBuilder destroyed with remaining
        # blocks!" to stderr when freed: free it now (the command has native stderr silenced), not at exit
        import gc

        gc.collect()
        what = "TVM JSON (tvm.ir.save_json)" if json else "TVMScript"
        raise ModelLoadError(f"{p}: cannot read it as {what} ({problem}); write it with "
                             f"{'tvm.ir.save_json(mod)' if json else 'mod.script()'}")
    if isinstance(mod, relax.Function):  # the text of one function (``mod['main'].script()``)
        mod = tvm.IRModule({"main": mod})
    if not is_relax_module(mod):
        raise ModelLoadError(f"{p} holds a {type(mod).__name__}, not a Relax IRModule; write one with "
                             f"{'tvm.ir.save_json(mod)' if json else 'mod.script()'}")
    return dataclasses.replace(load_relax_module(mod, shapes, batch), source=str(p))


def _parse_error_line(exc: BaseException) -> str:
    """The problem a TVMScript diagnostic names, with its line (``Undefined variable: sub (line 5)``); else the
    line of a TVM error that names the problem."""
    import re

    lines = str(exc).strip().splitlines()
    if lines and lines[0].startswith("error:"):
        where = next((m for ln in lines[1:3] if (m := re.search(r"--> .*?:(\d+):\d+", ln))), None)
        return lines[0][len("error:"):].strip() + (f" (line {where[1]})" if where else "")
    return _tvm.error_line(exc)
