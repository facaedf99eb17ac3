"""The device-independent stage: load (if a path), cost pass, kernel grouping, memory plan, int8.

``analyze`` runs once per model; :mod:`hybridperf.estimate.pricing` then prices the result
on each device.
"""

from __future__ import annotations

import dataclasses

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
import time

from hybridperf.analysis.cost_pass import ModelAnalysis
from hybridperf.analysis.kernels import Kernel, group_kernels, unfused_kernels
from hybridperf.analysis.memory import MemoryPlan, plan_memory, plan_stream
from hybridperf.analysis.marks import analyze_loaded
from hybridperf.costs import Status
from hybridperf.errors import error_line
from hybridperf.frozen import reduce_read_only
from hybridperf.units import check_batch_taken, dims_text, shapes_text


__all__ = ["Analyzed", "analyze", "analyze_with_memory_module", "plan_lowered_memory"]


@dataclass(frozen=True)
class Analyzed:
    """Device-independent analysis of one model. It pickles, its read-only mappings (and those of the
    :class:`ModelAnalysis` and :class:`~hybridperf.analysis.cost_pass.OpRecord` it holds) coming back read-only
    (:func:`~hybridperf.frozen.reduce_read_only`), so a sweep can keep or ship it."""

    source: str
    input_shapes: Mapping[str, tuple[int, ...]]
    analysis: ModelAnalysis
    kernels: tuple[Kernel, ...]
    memory: MemoryPlan
    fused: bool
    fusion_note: str = ""
    timings_s: Mapping[str, float] = field(default_factory=dict)
    #: Relax binding var name -> source graph node name (ONNX models; empty for other formats)
    source_nodes: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: where each segment of a model composed by the block cache lies in it
    #: (:class:`hybridperf.analysis.blocks.Segments`); None for a model analysed whole
    segments: Any = field(default=None, repr=False, compare=False)
    #: the dynamic quantization ops (:data:`~hybridperf.analysis.int8.DYNAMIC_QUANT_OPS`) of a model given as an
    #: ``onnx.ModelProto`` (a file's are read from it where asked): what an integer-only device's error names
    dynamic_quant_ops: tuple[str, ...] = field(default=(), repr=False, compare=False)
    #: the work of the nodes the ONNX normaliser folded into constants that eager PyTorch computes every call (masks,
    #: rotary tables: :class:`~hybridperf.frontends.normalize.FoldedWork`): priced, one launch per node, under the
    #: runtimes that do not fold constants (``torch``, ``torch-cudagraph``; since 2026-12-05: until then in no figure)
    #: and named in their note (:func:`~hybridperf.estimate.pricing.predict_on`); None: not an ONNX model, unknown
    folded: Any = None
    #: what the load assumed that the figures depend on (:attr:`~hybridperf.frontends.common.LoadedModel.notes`: a
    #: TFLite input's dynamic batch priced at its stored size), one line each; shown among the prediction's warnings
    load_notes: tuple[str, ...] = ()

    @property
    def memory_is_lower_bound(self) -> bool:
        """A plan exists but some op's output is not in it: its size is data-dependent (NonZero, Unique), or
        TVM does not lower the op (:attr:`~hybridperf.analysis.memory.MemoryPlan.lower_bound_reason` names it)."""
        return self.memory.known and (bool(self.memory.ops_outside_plan)
                                      or any(o.shape is None for r in self.analysis.records for o in r.outputs))

    @property
    def uncosted_ops(self) -> list[str]:
        """Op types without a cost (unsupported or symbolic): every total is then a lower bound."""
        return sorted({r.op for r in self.analysis.records if r.status in (Status.UNSUPPORTED, Status.SYMBOLIC)})

    def __reduce__(self) -> tuple[Any, tuple[type, dict[str, Any]]]:
        # a mappingproxy does not pickle ("cannot pickle 'mappingproxy' object" until 2026-12-04): the rule of every
        # record that holds one (DeviceSpec's too), its fields with each read-only mapping as a plain copy
        return reduce_read_only(self)

    def __repr__(self) -> str:
        # the generated repr printed every op record (16 817 characters for the 25-op examples/resnet_like.onnx)
        uncosted = self.uncosted_ops
        return (f"Analyzed(source={self.source!r}, input_shapes={dict(self.input_shapes)!r}, "
                f"ops={len(self.analysis.records)}, kernels={len(self.kernels)}, flops={self.analysis.flops}, "
                f"peak_memory_bytes={self.memory.peak_bytes}, fused={self.fused}"
                + (f", uncosted_ops={uncosted!r}" if uncosted else "") + ")")


def analyze(model: str | Path | Any, shapes: Mapping[str, tuple[int, ...]] | None = None, batch: int | None = None,
            **options: Any) -> Analyzed:
    """Load (if a path), run the cost pass, group kernels and plan memory.

    Parameters
    ----------
    model : path, onnx.ModelProto, LoadedModel or tvm.IRModule
        A model file or ONNX proto (see :func:`~hybridperf.frontends.load.load_model`), a model
        already loaded, or a Relax module (:func:`~hybridperf.frontends.relax_module.load_relax_module`: the
        functions ``main`` calls inlined, its symbolic dims bound by ``shapes`` / ``batch`` on a copy; a dim left
        unbound makes the ops that use it ``Status.SYMBOLIC``, without a cost, where a file's is refused).
    shapes : mapping of str to tuple of int, optional
        Whole input shapes by input name, binding their symbolic dims.
    batch : int, optional
        The value of a symbolic leading (batch) dim.
    **options
        The keywords below (:func:`analyze_with_memory_module` takes the same parameters).
    fused : bool
        Group ops into kernels with TVM's FuseOps (default) or one kernel per op.
    int8 : bool
        Price quantize → op → dequantize (QDQ) patterns as int8 kernels at the
        device's int8 peak with 1-byte tensors (default); False keeps the float view.
    provenance : bool
        Record which ONNX node each Relax op came from (:attr:`Analyzed.source_nodes`), to join
        runtime profiles to kernels when building training tables; off by default (only they need it).
    cache : AnalysisCache, optional
        Work kept across the models of a sweep (:class:`hybridperf.analysis.cache.AnalysisCache`);
        the result is the same with or without it.
    workspace : bool
        Also size the kernels' internal workspace (:attr:`MemoryPlan.workspace_bytes`), which the TVM
        runtime's peak needs; off by default because it lowers every kernel.

    Returns
    -------
    Analyzed
        Frozen: the op records (:attr:`Analyzed.analysis`), kernels, memory plan (its ``peak_bytes`` None when no
        plan could be made: symbolic shapes or a failed lowering, :attr:`Analyzed.fusion_note` says which) and the
        input shapes bound.

    Raises
    ------
    InputError
        As :func:`hybridperf.api.analyze`'s (a model that cannot be loaded, shapes that do not fit it, a tensor
        over 2^48 B).
    """
    return analyze_with_memory_module(model, shapes, batch, memory_module=False, **options)[0]


def analyze_with_memory_module(
    model: str | Path | Any,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    batch: int | None = None,
    fused: bool = True,
    int8: bool = True,
    provenance: bool = False,
    cache: Any = None,
    workspace: bool = False,
    memory_module: bool = True,
) -> tuple[Analyzed, Any]:
    """Load (if a path), run the cost pass, group kernels and plan memory; return the
    :class:`Analyzed` and the lowered Relax module its memory plan was made on (None when there is
    no plan): the IR that memory measurements build and run (:mod:`hybridperf.measure.memory`),
    kept out of the frozen record. Parameters: those of :func:`analyze`, which returns the record alone,
    and ``memory_module``: False plans memory without lowering where
    :func:`hybridperf.ir.call_stream.of_fused` can (the same plan; the module returned is then None).
    """
    from hybridperf.frontends.common import LoadedModel, is_onnx_proto
    from hybridperf.frontends.load import load_model
    from hybridperf.frontends.relax_module import is_relax_module, load_relax_module

    t = {}
    t0 = time.perf_counter()
    dynamic = ()
    if is_onnx_proto(model):  # kept: the proto is gone once analysed (until 2026-12-04 its error had no hint)
        from hybridperf.analysis.int8 import dynamic_quant_ops

        dynamic = dynamic_quant_ops(model)
    if (getattr(cache, "blocks", None) is not None and fused and not provenance and not workspace
            and not memory_module and _block_source(model)):
        from hybridperf.analysis.blocks import Composed, analyze_segments

        got = analyze_segments(model, shapes, batch, cache)
        if isinstance(got, Composed):
            return dataclasses.replace(_from_composed(got, batch, int8, shapes), dynamic_quant_ops=dynamic), None
        model = got  # no safe cut (or a segment outside the composed cases): the whole model, loaded
    if isinstance(model, (str, Path)) or is_onnx_proto(model):
        model = load_model(model, shapes, batch, provenance=provenance)
    elif is_relax_module(model):  # checked, its Relax calls inlined, shapes bound: a copy where anything changes
        model = load_relax_module(model, shapes, batch)
    if not isinstance(model, LoadedModel):  # a module as it is: no shapes, nodes, folded work or notes of a load
        model = LoadedModel(module=model, input_shapes={}, source="<module>", format="relax")
    mod, source, in_shapes = model.module, model.source, model.input_shapes
    src_nodes, folded, load_notes = model.source_nodes, model.folded, model.notes
    t["load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    analysis = analyze_loaded(model)
    t["cost_pass_s"] = time.perf_counter() - t0
    if not in_shapes:
        in_shapes = {k: v.shape for k, v in analysis.input_infos.items() if v.shape is not None}
    check_tensor_sizes(analysis, in_shapes)
    check_batch_taken(batch, in_shapes, shapes)  # a --batch no input took is exit 2 (a warning until 2026-12-03)
    input_bytes = sum(v.nbytes or 0 for v in analysis.input_infos.values())
    t0 = time.perf_counter()
    plan = None
    if int8:
        from hybridperf.analysis.int8 import apply_int8, apply_int8_kernels, find_int8

        plan = find_int8(analysis)
    note, kernels, memory, mem_mod = _lower_and_plan(mod, analysis, input_bytes, fused, cache,
                                                     workspace or memory_module, workspace, plan)
    t["lower_and_plan_s"] = time.perf_counter() - t0
    if plan:
        kernels = apply_int8_kernels(kernels, analysis, plan)
        analysis = apply_int8(analysis, plan)
    return Analyzed(
        source=source,
        input_shapes=MappingProxyType(dict(in_shapes)),
        analysis=analysis,
        kernels=kernels,
        memory=memory,
        fused=fused,
        fusion_note=note,
        timings_s=MappingProxyType(t),
        source_nodes=MappingProxyType(dict(src_nodes)),
        dynamic_quant_ops=dynamic,
        folded=folded,
        load_notes=tuple(load_notes),
    ), mem_mod


def _block_source(model: Any) -> bool:
    """Whether the block cache (:mod:`hybridperf.analysis.blocks`) may compose ``model``: an ONNX
    file (``.onnx``) or an ``onnx.ModelProto`` with nodes; other inputs take the whole-model path."""
    from hybridperf.frontends.common import is_onnx_proto

    if is_onnx_proto(model):
        return len(model.graph.node) > 0
    return isinstance(model, (str, Path)) and Path(model).suffix.lower() == ".onnx" and Path(model).is_file()


def _from_composed(got: Any, batch: int | None, int8: bool,
                   shapes: Mapping[str, tuple[int, ...]] | None = None) -> Analyzed:
    """The :class:`Analyzed` of a model composed from cached segments: the whole-model path's
    checks and int8 step on the composed records (the same records, so the same result)."""
    analysis, kernels, in_shapes = got.analysis, got.kernels, got.input_shapes
    check_tensor_sizes(analysis, in_shapes)
    check_batch_taken(batch, in_shapes, shapes)
    if int8:
        from hybridperf.analysis.int8 import apply_int8, apply_int8_kernels, find_int8

        plan = find_int8(analysis)
        if plan:
            kernels = apply_int8_kernels(kernels, analysis, plan)
            analysis = apply_int8(analysis, plan)
    spans = got.spans if kernels is got.kernels else None  # int8 kernels regrouped: no longer the segments'
    return Analyzed(source=got.source, input_shapes=in_shapes, analysis=analysis, kernels=kernels, memory=got.memory,
                    fused=True, timings_s=got.timings_s, source_nodes=MappingProxyType({}), segments=spans,
                    folded=got.folded, load_notes=tuple(got.notes))


def _lower_and_plan(mod: Any, analysis: Any, input_bytes: int, fused: bool, cache: Any, lower: bool,
                    workspace: bool = False, int8_plan: Any = None) -> tuple[str, Any, MemoryPlan, Any]:
    """Legalize, fuse and memory-plan ``mod`` (best effort): ``(fusion note, kernels, memory plan,
    lowered memory module or None)``; symbolic shapes or a lowering failure give one kernel per op
    and an unknown plan. ``lower``: run the passes before TVM's memory planner and return their
    module; else plan from the fused module where :func:`~hybridperf.ir.call_stream.of_fused`
    can (the same plan). ``workspace``: also size the kernels' workspace (needs ``lower``).
    ``int8_plan`` (:func:`~hybridperf.analysis.int8.find_int8` of ``analysis``): the plan is the int8
    execution's (:func:`~hybridperf.analysis.int8.int8_memory_plan`), TVM's own plan of the module kept beside it."""
    from hybridperf.ir import lowering

    note = ""
    mem_mod = None
    lowered = None
    if any(r.status is Status.SYMBOLIC for r in analysis.records):
        note = symbolic_note(analysis)
        kernels = unfused_kernels(analysis)
        memory = MemoryPlan.unknown(analysis.weight_bytes, input_bytes, "symbolic shapes")
    else:
        try:
            tagged = lowering.tag_and_legalize(mod, [r.var for r in analysis.records],
                                               cache=cache.legalize if cache is not None else None)
            lowered = lowering.fuse(tagged) if fused else tagged
            kernels = group_kernels(analysis, lowered) if fused else unfused_kernels(analysis)
            memory, mem_mod = plan_lowered_memory(lowered, analysis, input_bytes, fused, cache, lower)
            if workspace:
                from hybridperf.ir.workspace import kernel_workspace_bytes

                memory = dataclasses.replace(memory, workspace_bytes=kernel_workspace_bytes(mem_mod))
        except (NameError, UnboundLocalError):
            raise  # a bug of ours, never reported as a lowering failure
        except Exception as exc:  # noqa: BLE001 - lowering is best effort; costs still stand
            first = error_line(exc, 120)
            note = f"lowering failed ({type(exc).__name__}: {first}); one kernel per op, no memory plan"
            kernels = unfused_kernels(analysis)
            memory = MemoryPlan.unknown(analysis.weight_bytes, input_bytes, f"TVM lowering failed ({type(exc).__name__})")
    if int8_plan and lowered is not None and memory.known:  # a failed lowering leaves no plan to rewrite
        from hybridperf.analysis.int8 import int8_memory_plan

        memory = int8_memory_plan(analysis, int8_plan, lowered, memory) or memory
    return note, kernels, memory, mem_mod


def symbolic_note(analysis: ModelAnalysis) -> str:
    """The fusion note of a model with symbolic shapes: which inputs hold the unbound dims and how to bind them
    (until 2026-12-05 "symbolic shapes: no fusion or memory plan" alone; a Relax IRModule's unbound dims are not
    refused, so this note and the ops' status were all that said why its figures are unknown)."""
    unbound = [f"{name} ({', '.join(info.symbolic_dims)})" for name, info in analysis.input_infos.items()
               if info.shape is None and info.symbolic_dims]
    if not unbound:  # dims made inside the model (data-dependent sizes), not by its inputs
        return "symbolic shapes: no fusion or memory plan"
    return (f"symbolic shapes: no fusion or memory plan; unbound input dims: {'; '.join(unbound)}: bind them with "
            "--batch N or --shape NAME=DxD (the API: batch= or shapes=)")


def plan_lowered_memory(module: Any, analysis: ModelAnalysis, input_bytes: int, fused: bool, cache: Any = None,
                        lower: bool = False) -> tuple[MemoryPlan, Any]:
    """The memory plan of ``module`` (the output of :func:`hybridperf.ir.lowering.fuse`, or the
    tagged module when unfused) and the module it was planned on.

    Without ``lower``, the plan comes from ``module``'s call stream
    (:func:`hybridperf.ir.call_stream.of_fused`: no TVM pass runs) and the module returned is
    None; with it, or where that stream does not apply, from the output of
    :func:`~hybridperf.ir.lowering.to_memory_plannable`. Both give the same plan.
    """
    from hybridperf.ir import call_stream, lowering

    if not lower:
        stream = call_stream.of_fused(module, cache.reshape_patterns if cache is not None else None)
        if stream is not None:
            # ToNonDataflow leaves adjacent binding blocks, which TVM's normaliser merges into one: its planner reuses
            # storage across what were several blocks of ``main`` (a hand-written module; ONNX's have one block)
            stream = call_stream.CallStream((tuple(b for block in stream.blocks for b in block),), stream.output)
            return plan_stream(stream, analysis.weight_bytes, input_bytes,
                               ops_outside_plan=lowering.ops_outside_plan(module)), None
    mem_mod = lowering.to_memory_plannable(module, fused)
    return plan_memory(mem_mod, analysis.weight_bytes, input_bytes), mem_mod


def check_tensor_sizes(analysis: ModelAnalysis, input_shapes: Mapping[str, tuple[int, ...]]) -> None:
    """Refuse shapes that make some tensor larger than :data:`MAX_TENSOR_BYTES`, or give it a negative size.

    Such a model cannot run anywhere, and its byte counts overflow TVM's integer arithmetic, so
    every figure would be meaningless (raises :class:`~hybridperf.errors.InputError`, exit 2).
    """
    from hybridperf.errors import InputError
    from hybridperf.frontends.normalize import MAX_TENSOR_BYTES

    named = [(f"input {k}", v) for k, v in analysis.input_infos.items()]
    named += [(f"{r.var} ({r.op})", o) for r in analysis.records for o in r.outputs]
    for what, info in named:
        if info.shape is not None and any(d < 0 for d in info.shape):
            # until 2026-12-04 priced: a Conv with pads -10 (or a MaxPool window larger than its input) gave
            # 1x4x-14x-14, whose sizes multiply to a positive count, and a confident 42.336 kFLOP
            raise InputError(
                f"invalid shapes: {what} would be {dims_text(info.shape)}, a negative size: its kernel, pads, strides "
                f"or dilations do not fit its input (inputs {shapes_text(input_shapes)}); fix the op's attributes, "
                "or bind larger shapes"
            )
        if info.nbytes is not None and info.nbytes > MAX_TENSOR_BYTES:
            shape = dims_text(info.shape or ())
            raise InputError(
                f"shapes too large: {what} would be {shape} {info.dtype} = {info.nbytes:.3g} B, more than the "
                f"2^48 B (256 TiB) any device can address (inputs {shapes_text(input_shapes)}); bind smaller shapes"
            )
