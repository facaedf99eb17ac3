"""hybridperf: predict latency, energy and peak memory of a DL model on a device.

Compiler-pass analytical + learned hybrid: models are lowered to TVM Relax,
an analysis pass counts FLOPs (FLOP = 2 x MAC), bytes and tensor lifetimes,
a roofline over a device spec sheet gives latency and energy, and a LightGBM
residual model trained on real measurements corrects device effects.

Python API (loaded on first use, see :mod:`hybridperf.api`)::

    hybridperf.predict(model, device, *, batch=None, shapes=None, precision=None, runtime=None, ...) -> Prediction
    hybridperf.analyze(model, example_inputs=None, *, batch=None, shapes=None, ...) -> Analyzed
    hybridperf.check(model, devices, *, max_latency=None, max_memory=None, max_energy=None, ...) -> CheckResult
    hybridperf.report_dict(prediction_or_check_result) -> dict   # the CLI's `--format json` report

and ``Session``, ``predict_on``, ``device_spec``, ``latency_model``, ``analyze_torch``, ``annotate_text``
(``hybridperf annotate``'s text) and ``annotate_module`` (the Relax module priced, its functions carrying the figures
as ``hybridperf.*`` attributes) (``...``: the other keyword options, in each function's docstring).

Importing this package is cheap: TVM is imported only when a model is analysed.

The stages behind the API live in subpackages, in pipeline order: ``frontends`` ->
``ir`` -> ``analysis`` (+ ``costs``) -> ``device`` -> ``estimate`` -> ``residual`` ->
``measure`` -> ``report``; :mod:`hybridperf.api` composes them and ``cli`` / ``commands`` render.
:mod:`hybridperf.block_table` (on top of a ``Session``) prices architecture-search variants from a table of
their blocks.
"""

from hybridperf._version import __version__

#: public name -> attribute of hybridperf.api, imported on first access (PEP 562)
_API = ("predict", "analyze", "check", "Session", "predict_on", "device_spec", "latency_model", "analyze_torch",
        "report_dict", "annotate_text", "annotate_module")

__all__ = ["__version__", *_API]


#: public submodules, imported on first access too (``import hybridperf; hybridperf.api.predict(...)``: until
#: 2026-12-04 an AttributeError unless something had imported the submodule first)
_SUBMODULES = ("api", "block_table")


def __getattr__(name: str):
    if name in _API:
        from hybridperf import api

        return getattr(api, name)
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"hybridperf.{name}")
    raise AttributeError(f"module 'hybridperf' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API) | set(_SUBMODULES))
