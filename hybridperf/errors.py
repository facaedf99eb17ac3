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


def error_line(exc: BaseException, limit: int | None = None, *, last: bool = False) -> str:
    """The one line of an exception's message that names the problem, cut to ``limit`` characters.

    Python messages name the problem first; TVM's and its frontends' end with it after a
    traceback, so ``last=True`` takes the last line, or the first that says something is
    (not) supported. An empty message gives the exception's class name.
    """
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__[:limit]
    text = lines[0]
    if last:
        text = next((ln for ln in lines if "unsupported" in ln.lower() or "not supported" in ln.lower()), lines[-1])
    return text[:limit]
