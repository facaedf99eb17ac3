"""Exception classes. The CLI maps each class to one documented exit code.

Every message is one line that names what is wrong and how to fix it. Messages are written with the CLI's
flags (``--batch N``, ``--shape x=1x64``); the Python API names its parameters instead (``batch=N``,
``shapes={'x': '1x64'}``): :func:`python_words` rewrites a message at the API's edge. A misspelt name of a closed
set (a command, a key, a unit, a device id) gets its suggestion from :func:`did_you_mean`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping


class HybridperfError(Exception):
    """Base class of every error the package raises on purpose."""


class InputError(HybridperfError):
    """Bad user input: model file, shape flag, spec file, budget file (exit code 2)."""


class ModelLoadError(InputError):
    """The model file cannot be read or imported."""


class DynamicShapeError(InputError):
    """A symbolic dimension has no bound; the message names the flag (the API: the parameter) that binds it."""


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


def _folded(text: str) -> str:
    return text.strip().lower()


def did_you_mean(value: object, choices: Iterable[str], aliases: Mapping[str, str] | None = None, *,
                 fold: Callable[[str], str] = _folded, spelling: bool = True, note: str = "") -> str:
    """The hint after a name that is not one of ``choices``: `` (did you mean 'fp16'?)``, or "" when nothing is close.

    The guess is, in this order: the choice that ``value`` spells another way (``fold`` of both agree: by default
    case and surrounding blanks, so ``FP16`` -> ``fp16``), the choice ``aliases`` gives for ``fold(value)``
    (``{"bfloat16": "bf16"}``), or with ``spelling`` the closest spelling (:func:`difflib.get_close_matches`, cutoff
    0.6, of the folded texts: ``max-latncy`` -> ``max-latency``). The one "did you mean" of every message: the CLI's
    commands, budget keys and units, device ids, sheet keys, precisions, memory levels and units.

    Parameters
    ----------
    value : object
        What the user wrote; anything but a str gets "".
    choices : iterable of str
        The names that are known, in the order a tie is settled.
    aliases : mapping of str to str, optional
        Other spellings, keyed by their ``fold``, -> the choice they mean.
    fold : callable
        What two spellings of one name share.
    spelling : bool
        Whether a close spelling is a guess (not for a set whose names are alike, as ``gpu`` and ``cpu``).
    note : str
        Said after the guess, inside the parentheses (`` (did you mean 'MB'? a lowercase b is a bit ...)``).
    """
    if not isinstance(value, str):
        return ""
    key, folded = fold(value), {}
    for c in choices:
        folded.setdefault(fold(c), c)
    guess = folded.get(key) or (aliases or {}).get(key)
    if guess is None and spelling:
        import difflib  # not on the CLI's `--help` path

        close = difflib.get_close_matches(key, list(folded), n=1)
        guess = folded[close[0]] if close else None
    return f" (did you mean {guess!r}?{' ' + note if note else ''})" if guess else ""


#: CLI flag -> the Python API's parameter, as :func:`python_words` writes a bare flag
_PARAMETERS = {"batch": "batch=", "shape": "shapes=", "device": "device=", "precision": "precision=",
               "runtime": "runtime=", "roofline-only": "residual=None", "no-fuse": "fused=False",
               "allow-unsupported": "allow_unsupported=True", "max-latency": "max_latency=",
               "max-memory": "max_memory=", "max-energy": "max_energy="}

#: flag with its value -> parameter with its value, tried before the bare flags
_WITH_VALUE = (
    (re.compile(r" \(API: [^()]*\)"), ""),  # a message that spelled out both forms keeps the one that now applies
    (re.compile(r"--shape ([^\s=:/`]+)=([\w?]+)"), r"shapes={'\1': '\2'}"),
    (re.compile(r"--shape ([^\s=:/`]+):"), r"shapes['\1']:"),
    (re.compile(r"--batch (\d+|N)\b"), r"batch=\1"),
    (re.compile(r"--(precision|device) ([\w.-]*\w)"), r"\1='\2'"),
    (re.compile(r"--runtime ([\w-]+)((?: or [\w-]+)*)"),
     lambda m: "runtime=" + " or ".join(f"'{r}'" for r in [m[1], *m[2].split(" or ")[1:]])),
)
_FLAG = re.compile(r"--([a-z][a-z-]*[a-z])")


def python_words(message: str) -> str:
    """``message`` with the CLI's flags written as the Python API's parameters: ``--batch 3`` -> ``batch=3``,
    ``--shape x=Nx64`` -> ``shapes={'x': 'Nx64'}``, ``--runtime torch or tvm`` -> ``runtime='torch' or 'tvm'``,
    ``--roofline-only`` -> ``residual=None``. A command quoted in backticks (```hybridperf calibrate --device ID```) is
    a command to run and keeps its flags; a flag the API has no parameter for is left as it is."""
    parts = message.split("`")
    for i in range(0, len(parts), 2):  # the even parts are outside backticks
        text = parts[i]
        for pattern, repl in _WITH_VALUE:
            text = pattern.sub(repl, text)
        parts[i] = _FLAG.sub(lambda m: _PARAMETERS.get(m[1], m[0]), text)
    return "`".join(parts)
