"""Residual: the learned correction on top of the roofline. Owns the feature list and the
dataset / profile joins (:mod:`.features`) and the LightGBM model with its text + JSON
persistence (:mod:`.model`); the CPU cross-host model whose kernel rows carry the host's figures
(:mod:`.cross_host`); the figures of the sheet a stored model was made with, and what a prediction says when the
sheet it prices has others (:mod:`.sheet`). May import :mod:`hybridperf.estimate` and everything below it.
"""
