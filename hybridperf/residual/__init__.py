"""Residual: the learned correction on top of the roofline. Owns the feature list and the
dataset / profile joins (:mod:`.features`) and the LightGBM model with its text + JSON
persistence (:mod:`.model`); the CPU cross-host model whose kernel rows carry the host's figures
(:mod:`.cross_host`). May import :mod:`hybridperf.estimate` and everything below it.
"""
