"""hybridperf: predict latency, energy and peak memory of a DL model on a device.

Compiler-pass analytical + learned hybrid: models are lowered to TVM Relax,
an analysis pass counts FLOPs (FLOP = 2 x MAC), bytes and tensor lifetimes,
a roofline over a device spec sheet gives latency and energy, and a LightGBM
residual model trained on real measurements corrects device effects.

Python API (loaded on first use, see :mod:`hybridperf.api`)::

    hybridperf.predict(model, device, batch=None, shapes=None, precision=None) -> Prediction
    hybridperf.analyze(model, batch=None, shapes=None) -> Analyzed
    hybridperf.check(model, devices, max_latency=..., max_memory=..., max_energy=...) -> CheckResult

Importing this package is cheap: TVM is imported only when a model is analysed.

``hybridperf.predict`` is the API function even though a submodule of the
same name exists: import from the submodule with
``from hybridperf.predict import analyze, predict_on`` (``import
hybridperf.predict as m`` would bind the function).
"""

from __future__ import annotations

import sys
import types

__version__ = "0.1.0"

#: public name -> attribute of hybridperf.api, imported on first access (PEP 562)
_API = ("predict", "analyze", "check")

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from hybridperf import api

        return getattr(api, name)
    raise AttributeError(f"module 'hybridperf' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))


class _Package(types.ModuleType):
    """Keeps ``hybridperf.predict`` the API function.

    Importing the submodule ``hybridperf.predict`` makes the import system bind
    it as an attribute of this package, which would shadow the lazy API
    function; that binding is skipped (the submodule stays in ``sys.modules``).
    """

    def __setattr__(self, name: str, value) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
