"""How a runtime executes a model: kernel granularity, per-launch host floor, and how host and device time compose.

The execution mode is part of the device/runtime description, not a hidden bias of a learned
residual. One :class:`Execution` per :class:`~hybridperf.estimate.runtime_memory.Runtime` (the one
runtime enum, shared with the per-runtime memory model):

=================  ===========  ================================  ==============================================  =========
runtime            kernels      host time per launch              latency                                         constants
=================  ===========  ================================  ==============================================  =========
torch (eager)      one per op   the runtime's dispatch floor      ``max(host sum, device sum) + sync``            run
torch-cudagraph    one per op   0 (one graph launch)              ``device sum + sync``                           run
onnxruntime        fused        the runtime's dispatch floor      ``max(host sum, device sum) + sync`` on a GPU   folded
tvm                fused        0 (compiled VM, ~free dispatch)   ``device sum + sync``                           folded
=================  ===========  ================================  ==============================================  =========

*One per op* means one kernel per Relax op, except views (reshape, ...; zero-cost ops launch
nothing) and the bias add that PyTorch's convolution / linear kernels carry themselves.
*Fused* is TVM's ``FuseOps`` grouping (what :attr:`Analyzed.kernels` holds).

The host floor of eager PyTorch is the per-op dispatch time (Python + ATen + one launch): a
tiny op's measured latency on the device, or, for a device measured nowhere, the figure the
caller passes (the cross-device model's median tiny-op latency over its training GPUs). GPU
work is asynchronous, so a host that dispatches slower than the GPU computes hides the GPU
time and the latency is the host's; CUDA graphs replay every launch from one host call.

Default per device kind (:func:`hybridperf.estimate.runtime_memory.default_runtime`): GPUs
``torch`` (eager; what this project measures on GPUs), CPUs ``onnxruntime``, others ``tvm``.
On a CPU the host *is* the device: times add up (``serial``).

*Constants*: an op whose every input is a constant (a GRU's first ``h0 @ W_hh`` from a zero initial state) is
computed once at load time by onnxruntime (constant folding, a basic graph optimisation, on by default:
https://onnxruntime.ai/docs/performance/model-optimizations/graph-optimizations.html) and by TVM (``FoldConstant``);
eager PyTorch runs the graph as written, every call, and so does a CUDA graph captured from it
(:func:`hybridperf.estimate.pricing.as_run_by`). So do the nodes the ONNX normaliser folds before the cost pass (a
causal mask, rotary tables): under those two runtimes each is one more launch, an element-wise kernel on its elements
(:func:`hybridperf.estimate.pricing.folded_records`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

from hybridperf.estimate.runtime_memory import Runtime, default_runtime


class Granularity(str, enum.Enum):
    """What one launched kernel is."""

    PER_OP = "per-op"  # one kernel per Relax op (views and carried bias adds excepted)
    FUSED = "fused"  # TVM FuseOps groups


class Composition(str, enum.Enum):
    """How per-kernel host and device times make the model's latency."""

    ASYNC = "max(host, device) + sync"  # the host enqueues; the device runs behind it
    DEVICE = "device + sync"  # host cost is one call (CUDA graph replay, compiled VM)
    SERIAL = "host + device"  # one processor does both (CPU)


@dataclass(frozen=True)
class Execution:
    """A runtime's execution mode.

    Attributes
    ----------
    runtime : Runtime
    granularity : Granularity
    host_per_launch : bool
        Whether every launch costs the host a dispatch floor (eager runtimes).
    device_floor_s : float
        Smallest device-side time of one kernel (launch latency + a minimal kernel) when the host
        is not the bottleneck: a few microseconds on NVIDIA GPUs (a graph node / back-to-back launch).
    composition : Composition
    sync_s : float
        Once per inference: the final synchronisation / graph launch.
    folds_constants : bool
        Whether the runtime computes constant subexpressions once at load time (onnxruntime, TVM) rather than every
        call (eager PyTorch and its CUDA graphs).
    """

    runtime: Runtime
    granularity: Granularity
    host_per_launch: bool
    device_floor_s: float
    composition: Composition
    sync_s: float
    folds_constants: bool

    def compose(self, host_s: Sequence[float], device_s: Sequence[float]) -> float:
        """The model's latency from per-kernel host and device times (seconds)."""
        h, d = float(sum(host_s)), float(sum(device_s))
        if self.composition is Composition.ASYNC:
            return max(h, d) + self.sync_s
        if self.composition is Composition.DEVICE:
            return d + self.sync_s
        return h + d + self.sync_s

    def host_times(self, launches: int, host_floor_s: float, weights: Sequence[float] = ()) -> list[float]:
        """Host time of each of ``launches`` kernels under a per-launch dispatch floor ``host_floor_s``.

        ``weights`` (one per launch, default 1): the op's dispatch cost in units of the floor (a cuBLAS /
        cuDNN call costs the host more than an element-wise op).
        """
        if not self.host_per_launch:
            return [0.0] * launches
        if not weights:
            return [host_floor_s] * launches
        return [host_floor_s * w for w in weights]

    def to_dict(self) -> dict:
        return {"runtime": self.runtime.value, "granularity": self.granularity.value,
                "host_per_launch": self.host_per_launch, "device_floor_s": self.device_floor_s,
                "composition": self.composition.value, "sync_s": self.sync_s, "folds_constants": self.folds_constants}


#: GPU-side floor per kernel (launch-to-launch on an idle stream / one CUDA-graph node): a few microseconds
GPU_KERNEL_FLOOR_S = 2.5e-6
#: one host synchronisation (cudaStreamSynchronize / graph launch) per inference
GPU_SYNC_S = 1.0e-5

EXECUTIONS = MappingProxyType({
    Runtime.TORCH: Execution(Runtime.TORCH, Granularity.PER_OP, True, GPU_KERNEL_FLOOR_S, Composition.ASYNC, GPU_SYNC_S,
                             folds_constants=False),
    Runtime.TORCH_CUDAGRAPH: Execution(Runtime.TORCH_CUDAGRAPH, Granularity.PER_OP, False, GPU_KERNEL_FLOOR_S,
                                       Composition.DEVICE, GPU_SYNC_S, folds_constants=False),
    # onnxruntime's constant folding is a basic graph optimisation, on at every level but ORT_DISABLE_ALL (the
    # default is all): https://onnxruntime.ai/docs/performance/model-optimizations/graph-optimizations.html
    Runtime.ONNXRUNTIME: Execution(Runtime.ONNXRUNTIME, Granularity.FUSED, True, GPU_KERNEL_FLOOR_S, Composition.ASYNC,
                                   GPU_SYNC_S, folds_constants=True),
    Runtime.TVM: Execution(Runtime.TVM, Granularity.FUSED, False, GPU_KERNEL_FLOOR_S, Composition.DEVICE, GPU_SYNC_S,
                           folds_constants=True),  # relax.transform.FoldConstant in its build pipeline
})


def execution(runtime: Runtime | str | None, device_kind: str = "gpu") -> Execution:
    """The :class:`Execution` of ``runtime`` (None: the device kind's default runtime).

    On a CPU the host runs the kernels itself, so times add up (:attr:`Composition.SERIAL`).
    """
    rt = default_runtime(device_kind) if runtime is None else Runtime(runtime)
    ex = EXECUTIONS[rt]
    if device_kind == "cpu":
        from dataclasses import replace

        ex = replace(ex, composition=Composition.SERIAL, sync_s=0.0)
    return ex


__all__ = ["Composition", "EXECUTIONS", "Execution", "ExecutionSummary", "GPU_KERNEL_FLOOR_S", "GPU_SYNC_S", "Granularity", "Runtime",
           "execution"]


@dataclass(frozen=True)
class ExecutionSummary:
    """How a prediction's latency was composed (values for the report layer).

    Attributes
    ----------
    runtime : str
    launches : int
        Kernels launched per inference.
    covered : int
        Of those, kernels priced by a learned operator model (the rest at roofline).
    host_s, device_s : float
        Summed host dispatch time and summed device kernel time.
    composition : str
        :class:`Composition` value.
    zero_shot : bool
        True when nothing measured on the device entered the prediction.
    """

    runtime: str
    launches: int
    covered: int
    host_s: float
    device_s: float
    composition: str
    zero_shot: bool

    def to_dict(self) -> dict:
        return {"runtime": self.runtime, "launches": self.launches, "kernels_learned": self.covered,
                "kernels_roofline": self.launches - self.covered, "host_s": self.host_s, "device_s": self.device_s,
                "composition": self.composition, "zero_shot": self.zero_shot}
