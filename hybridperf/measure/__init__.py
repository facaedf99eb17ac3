"""Measure: ground truth, of models and of machines. Owns onnxruntime latency runs
(:mod:`.onnxruntime`), memory measurements (:mod:`.memory`), PyTorch CUDA timing (:mod:`.torch_cuda`)
and the device probe that writes a measured spec (:mod:`.probe`). May import :mod:`hybridperf.device`,
:mod:`hybridperf.ir` and the foundation; nothing here predicts.
"""
