"""Analysis: the device-independent view of a model. Owns the per-op records and cost pass
(:mod:`.cost_pass`, over the rules in :mod:`hybridperf.costs`), kernel grouping (:mod:`.kernels`),
int8 QDQ planning (:mod:`.int8`), the memory plan (:mod:`.memory`) and the stage runner
:func:`.analyze.analyze`. May import :mod:`hybridperf.costs`, :mod:`hybridperf.ir`,
:mod:`hybridperf.frontends` and the foundation; nothing about devices.
"""
