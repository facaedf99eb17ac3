"""Exception classes. The CLI maps each class to one documented exit code.

Every message is one line that names what is wrong and how to fix it.
"""

from __future__ import annotations


class HybridperfError(Exception):
    """Base class of every error the package raises on purpose."""


class InputError(HybridperfError):
    """Bad user input: model file, shape flag, spec file, budget file (exit code 2)."""


class ModelLoadError(InputError):
    """The model file cannot be read or imported."""


class DynamicShapeError(InputError):
    """A symbolic dimension has no bound; the message names the flag that binds it."""


class UnsupportedModelError(InputError):
    """The model uses operators that no frontend can import."""


class SpecError(InputError):
    """A device spec file is invalid or a device id is unknown."""


class NotFittedError(HybridperfError, ValueError):
    """A residual model was used before ``fit``."""
