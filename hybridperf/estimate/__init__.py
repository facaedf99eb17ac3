"""Estimate: price an analysis on a device. Owns the pure roofline (:mod:`.roofline`), the
priced records and their pricing (:mod:`.pricing`), MIG slices (:mod:`.mig`), budget
evaluation (:mod:`.budget`), which kernels eager PyTorch launches (:mod:`.torch_eager`) and the peak
memory of each runtime (:mod:`.runtime_memory`, which
reads the kernel workspace from :mod:`hybridperf.ir.workspace` and, when installed, runs
onnxruntime's graph optimiser). May import :mod:`hybridperf.analysis`, :mod:`hybridperf.costs`,
:mod:`hybridperf.device` and the foundation; a learned correction is passed in, never loaded here.
"""
