"""hybridperf's planned activation bytes vs what TVM 0.27's own default llvm pipeline plans for the same import.

hybridperf's plan equals ``StaticPlanBlockMemory`` on the module *hybridperf* lowers (tests assert it). That
module is not the one ``tvm.compile(mod, target="llvm")`` builds: hybridperf runs ``DeadCodeElimination`` right after
``LegalizeOps`` (it drops BatchNorm's unused mean / variance outputs, so the normalisation fuses with its
neighbours) and skips ``FoldConstant``. This script plans each model both ways and prints the difference:

* ``hybridperf``: :attr:`hybridperf.analysis.memory.MemoryPlan.planned_bytes` of ``analyze(path)``;
* ``tvm default``: the passes of ``tvm.relax.backend.cpu_generic`` (library dispatch, legalize with
  ``FoldConstant`` + ``FuseOps`` + ``FuseTIR``, dataflow lowering) then ``StaticPlanBlockMemory``, on the module
  hybridperf imports (shapes bound, before its own lowering); the bytes of every ``relax.memory.alloc_storage`` and
  ``relax.builtin.alloc_tensor`` it leaves.

Both figures are activations only (no weights, no inputs). Models: the bundled example, the hand-built test graphs,
and the zoo exports found under ``.zoo/`` (``python -m benchmarks.zoo --export NAME``); missing ones are skipped
and listed.

Usage::

    taskset -c 1 python -m benchmarks.tvm_pipeline_plan --out benchmarks/results/tvm_pipeline_plan.md
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZOO = ["squeezenet1_1_b1_r224_legacy", "resnet18_b1_r224_legacy", "mobilenet_v2_b1_r224_legacy",
       "efficientnet_b0_b1_r224_legacy", "densenet121_b1_r224_legacy", "bert_tiny_b1_s128_legacy"]


def tvm_default_plan_bytes(module) -> int:
    """Activation bytes TVM's default llvm pipeline plans for ``module`` (up to and including its memory planner)."""
    import tvm
    from tvm import relax
    from tvm.relax.backend.cpu_generic import pipeline as cpu_generic

    target = tvm.target.Target("llvm")
    passes = [*cpu_generic.library_dispatch_passes(target), *cpu_generic.legalize_passes(target),
              *cpu_generic.dataflow_lower_passes(target), relax.transform.StaticPlanBlockMemory()]
    with target:
        planned = tvm.transform.Sequential(passes)(module)
    total = 0
    for block in planned["main"].body.blocks:
        for binding in block.bindings:
            v = binding.value
            if not (isinstance(v, relax.Call) and isinstance(v.op, tvm.ir.Op)):
                continue
            if v.op.name == "relax.memory.alloc_storage":
                total += int(v.args[0].values[0].value)
            elif v.op.name == "relax.builtin.alloc_tensor":
                n = 1
                for d in v.ty.shape.values:
                    n *= int(d)
                total += n * tvm.runtime.DataType(v.ty.dtype).bits // 8
    return total


def models(tmp: Path) -> tuple[list[tuple[str, str, int | None]], list[str]]:
    """``(label, path, batch)`` of every model to compare, and the zoo names not found."""
    sys.path.insert(0, str(ROOT / "tests"))
    import onnx
    import onnx_models

    out = [("examples/squeezenet1_1.onnx", str(ROOT / "examples" / "squeezenet1_1.onnx"), None)]
    for name, batch in (("resnet_like", 1), ("resnet_like", 8), ("mobilenetv2_like", 1), ("densenet_like", 8),
                        ("bert_like", 1)):
        p = tmp / f"{name}_b{batch}.onnx"
        onnx.save(getattr(onnx_models, name)(batch=batch)[0], str(p))  # (model, expected FLOPs)
        out.append((f"{name} (test graph) b{batch}", str(p), batch))
    missing = []
    for name in ZOO:
        p = ROOT / ".zoo" / f"{name}.onnx"
        if p.exists():
            out.append((name, str(p), None))
        else:
            missing.append(name)
    return out, missing


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write the Markdown table here too")
    args = ap.parse_args(argv)
    import tvm

    from hybridperf.analysis.analyze import analyze
    from hybridperf.frontends.load import load_model

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        todo, missing = models(Path(tmp))
        for label, path, batch in todo:
            ours = analyze(path, batch=batch).memory.planned_bytes
            theirs = tvm_default_plan_bytes(load_model(path, None, batch).module)
            rows.append((label, ours, theirs, 100.0 * (ours / theirs - 1.0)))
            print(f"{label}: hybridperf {ours} B, tvm default {theirs} B", file=sys.stderr, flush=True)
    lines = ["# hybridperf's plan vs TVM's default llvm pipeline", "",
             "Reproduce: `taskset -c 1 python -m benchmarks.tvm_pipeline_plan --out "
             "benchmarks/results/tvm_pipeline_plan.md`", "",
             f"apache-tvm {tvm.__version__}. Activations only (no weights, no inputs). `tvm default`: "
             "`tvm.relax.backend.cpu_generic`'s passes (with `FoldConstant`) then `StaticPlanBlockMemory`, on the "
             "module hybridperf imports; `hybridperf`: its own lowering (`DeadCodeElimination` after `LegalizeOps`, "
             "no `FoldConstant`), planned as `StaticPlanBlockMemory` plans it.", "",
             "| model | hybridperf (B) | tvm default (B) | hybridperf vs tvm |", "|---|---:|---:|---:|"]
    lines += [f"| {label} | {ours:,} | {theirs:,} | {diff:+.1f} % |" for label, ours, theirs, diff in rows]
    diffs = [d for *_, d in rows]
    higher, lower = [d for d in diffs if d >= 0.05], [d for d in diffs if d <= -0.05]
    lines += ["", f"{len(rows)} models: equal on {len(rows) - len(higher) - len(lower)}, hybridperf higher on "
              f"{len(higher)}" + (f" (at most {max(higher):+.1f} %)" if higher else "") + f", lower on {len(lower)}"
              + (f" (at most {min(lower):+.1f} %)" if lower else "") + "."]
    if missing:
        lines += ["", f"Not found under `.zoo/` (skipped): {', '.join(missing)}."]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
