"""Measure the activation memory a real runtime uses, to check :mod:`hybridperf.analysis.memory`.

The module that :func:`hybridperf.analysis.memory.plan_memory` plans (:func:`~hybridperf.analysis.analyze.analyze_with_memory_module`,
the state just before ``StaticPlanBlockMemory``) is compiled with the rest of TVM's
CPU build (``StaticPlanBlockMemory`` ... ``AttachGlobalSymbol``, then the TIR
pipeline for ``llvm``) and run once on TVM's Relax VM. Two measurements come out:

* ``requested_bytes``: the allocation trace of the VM. A VM instrument sees every
  call to ``vm.builtin.alloc_storage`` and adds up the bytes it asked for.
* ``rss_peak_bytes``: what the operating system saw. On a fresh thread (so the
  thread-local workspace pool of the CPU device is empty), after a warm-up run,
  after clearing the VM's pooled allocator and returning free heap pages with
  ``malloc_trim``, the peak resident set size (``VmHWM``, reset through
  ``/proc/self/clear_refs``) minus the resident size just before the run.
  Weights and inputs are resident before the run, so this is activations only:
  planned storage, the output, intermediate buffers inside kernels (workspace),
  allocator page rounding.

``workspace_bytes`` is the static counterpart of the intra-kernel part: the largest
global allocation inside any one compiled kernel (``calculate_allocated_bytes`` of
TIR), which TVM's planner and ``estimate_memory_usage`` do not count.

:func:`pooled_vm_bytes` predicts what TVM's pooled allocator holds: it reuses blocks
that ``KillAfterLastUse`` frees, so the runtime can sit below the static plan.
``pooled_vm_bytes + workspace_bytes`` is the predicted resident peak of the VM.

The resident figure is exact only if freed memory goes back to the OS: measure in a
fresh process started with ``MALLOC_MMAP_THRESHOLD_=4096`` (glibc), as
``benchmarks/memory_accuracy.py`` does; otherwise heap reuse can hide pages.

:func:`measure_onnxruntime_peak` gives the same resident-size figure for
onnxruntime, which plans its own memory (memory pattern) and fuses differently.
Only Linux reports ``VmHWM``; elsewhere the resident figures are ``None``.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybridperf.ir import tvm_compat as _tvm
from hybridperf.ir.lowering import ALIAS_OPS
from hybridperf.measure.onnxruntime import (  # the /proc readers of the latency harness
    _malloc_trim,
    _reset_hwm,
    _rss_kib,
)

_FINALIZE_PASSES = (
    "StaticPlanBlockMemory",
    "LowerAllocTensor",
    "KillAfterLastUse",
    "LowerRuntimeBuiltin",
    "ComputePrimValue",
    "VMShapeLower",
    "AttachGlobalSymbol",
)


@dataclass(frozen=True)
class RuntimeMemory:
    """Activation memory of one inference on TVM's Relax VM (CPU)."""

    requested_bytes: int
    storage_allocs: int
    rss_peak_bytes: int | None
    workspace_bytes: int
    build_s: float


def peak_rss_delta_bytes(run: Any) -> int | None:
    """Peak resident bytes added while ``run()`` executes on a new thread.

    The baseline is the resident size right before the call; the peak is
    ``VmHWM`` after it, reset beforehand. ``None`` when ``/proc`` does not
    offer both (not Linux).
    """
    result: list[int | None] = [None]
    error: list[BaseException] = []

    def body() -> None:
        try:
            gc.collect()
            _malloc_trim()
            base = _rss_kib().get("VmRSS")
            if base is None or not _reset_hwm():
                run()
                return
            keep = run()
            peak = _rss_kib().get("VmHWM")
            del keep
            result[0] = None if peak is None else max(0, peak - base) * 1024
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            error.append(exc)

    t = threading.Thread(target=body, name="hybridperf-measure-memory")
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]


def build_planned(memory_module: Any, opt_level: int = 0) -> Any:
    """Compile the planned module with the rest of TVM's CPU build; returns a ``VMExecutable``.

    ``opt_level`` is LLVM's; memory does not depend on it and 0 compiles about 20x faster.
    """
    tvm, relax = _tvm.tvm_modules()
    finalize = tvm.transform.Sequential([getattr(relax.transform, p)() for p in _FINALIZE_PASSES])
    target = tvm.target.Target({"kind": "llvm", "num-cores": 1, "opt-level": opt_level})
    return relax.build(memory_module, target=target, relax_pipeline=finalize)


# moved to the IR layer, where the TVM runtime's predicted peak reads it too; re-exported here
from hybridperf.ir.workspace import kernel_workspace_bytes  # noqa: E402,F401


POOL_PAGE_BYTES = 4096


def pooled_vm_bytes(memory_module: Any, page_bytes: int = POOL_PAGE_BYTES, func_name: str = "main") -> int:
    """Bytes TVM's pooled VM allocator holds after one run of the planned module (a replay).

    Replays the storage allocations and kills of the built module (``StaticPlanBlockMemory``,
    ``LowerAllocTensor``, ``KillAfterLastUse``) through the allocator's policy: sizes rounded
    up to ``page_bytes``; a block returns to the pool once its storage and every tensor on it
    are killed; a request takes a pooled block of exactly the rounded size, else a new block.
    The pool never shrinks during a run, so what it holds at the end is its peak. Because
    freed blocks are reused, this can be below the static plan.
    """
    tvm, relax = _tvm.tvm_modules()
    T = relax.transform
    mod = tvm.transform.Sequential([T.StaticPlanBlockMemory(), T.LowerAllocTensor(), T.KillAfterLastUse()])(memory_module)
    free: dict[int, int] = {}
    refs: dict[int, int] = {}
    owner: dict[Any, int] = {}  # keyed by Var identity: TVM reuses name hints
    total = 0
    next_id = 0

    def drop(expr: Any) -> None:
        if not _tvm.is_var(expr):
            return
        block = owner.pop(expr, None)
        if block is None:
            return
        refs[block] -= 1
        if refs[block] == 0:
            size = sizes[block]
            free[size] = free.get(size, 0) + 1

    sizes: dict[int, int] = {}
    for b in _tvm.bindings(mod[func_name]):
        name = b.var
        v = b.value
        if _tvm.is_var(v) and v in owner:
            block = owner[v]
            owner[name] = block
            refs[block] += 1
            continue
        if not _tvm.is_call(v):
            continue
        opn = _tvm.op_name(v)
        if opn == "relax.memory.alloc_storage":
            size = -(-int(v.args[0].values[0]) // page_bytes) * page_bytes
            if free.get(size, 0):
                free[size] -= 1
                block = next(k for k, sz in sizes.items() if sz == size and refs[k] == 0)
            else:
                block, next_id = next_id, next_id + 1
                sizes[block] = size
                total += size
            refs[block] = 1
            owner[name] = block
        elif opn == "relax.memory.alloc_tensor" and _tvm.is_var(v.args[0]) and v.args[0] in owner:
            block = owner[v.args[0]]
            owner[name] = block
            refs[block] += 1
        elif opn in ("relax.memory.kill_storage", "relax.memory.kill_tensor"):
            drop(v.args[0])
        elif opn in ALIAS_OPS and _tvm.is_var(v.args[0]) and v.args[0] in owner:
            block = owner[v.args[0]]
            owner[name] = block
            refs[block] += 1
    return total


def random_inputs(memory_module: Any, seed: int = 0, func_name: str = "main") -> list[np.ndarray]:
    """One array per parameter of ``func_name`` (static shapes): :func:`hybridperf.measure.inputs.fill_inputs`
    without a graph to read, i.e. floats uniform in [0, 1), booleans true, integers 0 (an index into any table, so
    a gather's ``take`` in TVM's fast mode stays in bounds)."""
    from hybridperf.measure.inputs import fill_inputs

    specs: dict[str, tuple[tuple[int, ...], str]] = {}
    for i, p in enumerate(memory_module[func_name].params):
        info = _tvm.tensor_infos(_tvm.expr_type(p))[0]
        if info.shape is None:
            raise ValueError(f"input {_tvm.var_name(p)} has a symbolic shape; bind it before measuring")
        specs[f"{i}:{_tvm.var_name(p)}"] = (tuple(info.shape), info.dtype)
    return list(fill_inputs(specs, None, seed).values())


def measure_tvm(memory_module: Any, inputs: list[np.ndarray] | None = None, opt_level: int = 0) -> RuntimeMemory:
    """Build ``memory_module`` for llvm, run it, and measure its activation memory.

    Parameters
    ----------
    memory_module : tvm.IRModule
        ``Analyzed.memory_module`` (what :func:`hybridperf.analysis.memory.plan_memory` planned).
    inputs : list of numpy arrays, optional
        Arguments of ``main``; random ones by default.
    """
    tvm, relax = _tvm.tvm_modules()
    t0 = time.perf_counter()
    ex = build_planned(memory_module, opt_level)
    build_s = time.perf_counter() - t0
    dev = tvm.cpu()
    vm = relax.VirtualMachine(ex, dev)
    args = [tvm.runtime.tensor(a, dev) for a in (inputs if inputs is not None else random_inputs(memory_module))]
    sizes: list[int] = []

    def instrument(func, symbol, before, ret, *call_args):  # noqa: ANN001 - TVM callback
        if before and str(symbol) == "vm.builtin.alloc_storage":
            sizes.append(int(call_args[1][0]))
        return 0

    vm.set_instrument(tvm.runtime.convert(instrument))
    out = vm["main"](*args)  # also the warm-up: code pages, thread pool, lazy lookups
    del out
    vm.set_instrument(None)
    clear = tvm.get_global_func("vm.builtin.memory_manager.clear")
    clear()
    rss = peak_rss_delta_bytes(lambda: vm["main"](*args))
    clear()
    return RuntimeMemory(
        requested_bytes=sum(sizes),
        storage_allocs=len(sizes),
        rss_peak_bytes=rss,
        workspace_bytes=kernel_workspace_bytes(memory_module),
        build_s=build_s,
    )


def measure_onnxruntime_peak(model_path: str | Path, inputs: dict[str, np.ndarray]) -> int | None:
    """Resident bytes onnxruntime (CPU, one thread, arena off, memory pattern on) adds during one inference.

    The session is created and warmed up first (weights, pre-packed weights and the
    learned memory pattern are resident), then the run is measured like
    :func:`peak_rss_delta_bytes`. Run it in a fresh process: the arena keeps what it
    grew to, so a second measurement in the same session reads about zero.
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.enable_cpu_mem_arena = False
    sess = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
    sess.run(None, inputs)
    return peak_rss_delta_bytes(lambda: sess.run(None, inputs))
