"""Measure: ground truth, of models and of machines. Owns onnxruntime latency runs
(:mod:`.onnxruntime`), the inputs every measurement runs, valid for the graph by construction (:mod:`.inputs`), the check that a timing is of the model and not of subnormal assists (:mod:`.subnormal`),
memory measurements (:mod:`.memory`), PyTorch CUDA timing (:mod:`.torch_cuda`)
the device probe that writes a measured spec (:mod:`.probe`), the probed-once device ``host``
(:mod:`.host`), worker processes that end with their command (:mod:`.child`) and the measurement rounds + training tables of ``calibrate --measure`` (:mod:`.calibrate`). May import :mod:`hybridperf.device`,
:mod:`hybridperf.ir`, the input-shape binding of :mod:`hybridperf.frontends.normalize` (measure binds shapes as
predict does), the feature tables of :mod:`hybridperf.residual.features` and the foundation;
nothing here predicts.
"""
