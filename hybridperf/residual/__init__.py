"""Residual: the learned correction on top of the roofline. Owns the feature list and the
dataset / profile joins (:mod:`.features`) and the LightGBM model with its text + JSON
persistence (:mod:`.model`). May import :mod:`hybridperf.estimate` and everything below it.
"""
