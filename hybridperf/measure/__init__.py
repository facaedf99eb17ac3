"""Measure: ground truth, of models and of machines. Owns onnxruntime latency runs
(:mod:`.onnxruntime`), memory measurements (:mod:`.memory`), PyTorch CUDA timing (:mod:`.torch_cuda`)
the device probe that writes a measured spec (:mod:`.probe`), the probed-once device ``host``
(:mod:`.host`) and the measurement rounds + training tables of ``calibrate --measure`` (:mod:`.calibrate`). May import :mod:`hybridperf.device`,
:mod:`hybridperf.ir`, the feature tables of :mod:`hybridperf.residual.features` and the foundation;
nothing here predicts.
"""
