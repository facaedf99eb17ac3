"""Estimate: price an analysis on a device. Owns the pure roofline (:mod:`.roofline`), the
priced records and their pricing (:mod:`.pricing`), MIG slices (:mod:`.mig`) and budget
evaluation (:mod:`.budget`). May import :mod:`hybridperf.analysis`, :mod:`hybridperf.costs`,
:mod:`hybridperf.device` and the foundation; a learned correction is passed in, never loaded here.
"""
