"""Kernel workspace: buffers compiled kernels allocate inside themselves, which no Relax-level planner sees.

Used by the TVM runtime's peak (:mod:`hybridperf.estimate.runtime_memory`) and checked against TVM's VM
(:mod:`hybridperf.measure.memory`, ``benchmarks/memory_accuracy.py``).
"""

from __future__ import annotations

from typing import Any

from hybridperf.ir import tvm_compat as _tvm


def kernel_workspace_bytes(memory_module: Any) -> int:
    """Largest intra-kernel allocation: global-scope buffers of one PrimFunc after the llvm
    TIR pipeline up to ``MakePackedAPI`` (``StorageRewrite`` has merged what it can).

    Buffers of at most 1 KiB end up on the stack in LLVM code but are counted here.
    """
    tvm, _ = _tvm.tvm_modules()
    from tvm.s_tir.analysis import calculate_allocated_bytes

    prims = {gv: f.with_attr("global_symbol", gv.name_hint) for gv, f in memory_module.functions_items() if _tvm.is_prim_func(f)}
    if not prims:
        return 0
    target = tvm.target.Target({"kind": "llvm", "num-cores": 1})
    tir_mod = tvm.tirx.transform.BindTarget(target.with_host(target))(tvm.IRModule(prims))
    lowered = tvm.tirx.get_tir_pipeline("default")[0](tir_mod)
    best = 0
    for _, func in lowered.functions_items():
        for scopes in calculate_allocated_bytes(func).values():
            best = max(best, int(scopes.get("global", 0)))
    return best


__all__ = ["kernel_workspace_bytes"]
