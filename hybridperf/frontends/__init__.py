"""Frontends: turn a model file or object into a Relax module with static shapes.

Owns loading (:mod:`.load` dispatches on the file kind), ONNX import and normalisation
(:mod:`.onnx`, :mod:`.normalize`), QOperator -> QDQ rewriting (:mod:`.qoperator`), PyTorch
``torch.export`` (:mod:`.torch_export`), TFLite (:mod:`.tflite`) and hand-written Relax modules
(:mod:`.relax_module`); every loader returns a
:class:`~hybridperf.frontends.common.LoadedModel`. May import the foundation
(:mod:`hybridperf.errors`, :mod:`hybridperf.units`) and :mod:`hybridperf.ir`; nothing above.
"""
