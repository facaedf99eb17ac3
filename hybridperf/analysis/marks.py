"""The cost pass over a loaded model with what its frontend knows of its nodes: the ops onnxruntime runs with kernels
of their own (DepthToSpace / SpaceToDepth, :meth:`~hybridperf.analysis.cost_pass.ModelAnalysis.with_own_kernels`),
the activations it evaluates one element at a time
(:meth:`~hybridperf.analysis.cost_pass.ModelAnalysis.with_activations`) and the weights an unrolled recurrent layer
re-reads (:func:`hybridperf.analysis.recurrent.with_rereads`). One place for the whole model's analysis and for each
segment's (:mod:`hybridperf.analysis.blocks`)."""

from __future__ import annotations

from typing import Any

from hybridperf.analysis.cost_pass import ModelAnalysis, analyze_module
from hybridperf.analysis.recurrent import with_rereads

__all__ = ["analyze_loaded"]


def analyze_loaded(loaded: Any) -> ModelAnalysis:
    """The cost pass over ``loaded.module`` (a :class:`~hybridperf.frontends.common.LoadedModel`) with its frontend's
    marks applied."""
    analysis = analyze_module(loaded.module).with_own_kernels(loaded.own_kernel_vars)
    return with_rereads(analysis.with_activations(loaded.activation_vars), loaded.recurrent_vars)
