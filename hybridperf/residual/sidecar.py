"""The files of every stored LightGBM model: its JSON sidecar (schema, features, settings, versions) and its boosters'
LightGBM text.

One writer and one reader for :mod:`hybridperf.residual.model` (per device, cross-host),
:mod:`hybridperf.residual.cross_device` (the model, its bag and its specialists) and
:mod:`hybridperf.residual.kernel_time` (its members); each model keeps its own keys and version checks. The readers
refuse a file that is not what the writers write (cut short, emptied, edited, a directory in its place) with one line
naming it, before LightGBM reads it: until 2026-12-04 LightGBM's parser aborted the process (SIGABRT, SIGSEGV) on a
booster cut short, and an unreadable sidecar was exit 3. A sidecar records the sha256 of each booster written with it
(:data:`DIGESTS_KEY`, :func:`write_booster`), and a booster whose text is not that one is refused
(:func:`read_booster`); the packaged models' sidecars record them too. Sidecars written before 2026-12-04 record none,
and their boosters are read checked (:func:`booster_problem`) but unverified. Until 2026-12-04 the cross-device and
kernel-time models wrote and read their boosters through LightGBM's C path (no digest, no check; a folder whose name
is not UTF-8 failed).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hybridperf.errors import InputError, error_line

#: a line of the ``parameters:`` section of a LightGBM text model
_PARAM = re.compile(r"\[[a-z0-9_]+: [^\[\]\n]*\]")
#: the sidecar key of the sha256 of each booster file saved with it (:func:`write_booster`), file name -> digest;
#: absent from sidecars written before 2026-12-04 (the packaged models' record it): their boosters are read unverified
DIGESTS_KEY = "sha256"
#: the sidecar key of the sha256 of the figures it records that price (:func:`figures_digest`; each model names its
#: own; a GPU adaptation's file records it too, :func:`hybridperf.residual.zero_shot.read_adaptation`): absent from
#: sidecars written before 2026-12-05 (the packaged ones too), whose figures are read unverified.
#: Until 2026-12-05 a figure edited by hand (an ``overhead_s`` x100, an adaptation's offset) priced as stored, silently
FIGURES_KEY = "figures_sha256"


def booster_digest(text: str) -> str:
    """The sha256 (hex) of a booster's text, as :func:`write_booster` records it and :func:`read_booster` checks it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_booster(path: Path, booster) -> str:
    """Write ``booster`` (a ``lightgbm.Booster``) to ``path`` as LightGBM text, whole or not at all; returns its
    :func:`booster_digest`, for the sidecar to record.

    The same text as ``Booster.save_model``, written by Python: LightGBM's C path cannot name a directory that is not
    UTF-8 (until 2026-12-03: exit 3, UnicodeEncodeError, for such an ``--out`` or ``HYBRIDPERF_HOME``).
    """
    from hybridperf.files import write_atomic

    text = booster.model_to_string()
    write_atomic(path, text)
    return booster_digest(text)


def recorded_digests(recorded: Any, files: Sequence[str]) -> dict[str, str | None]:
    """The sha256 a sidecar records (``recorded``, its :data:`DIGESTS_KEY` value) of each booster file of ``files``,
    for :func:`read_booster`: None for each where the sidecar records none (one written before 2026-12-04).

    Raises
    ------
    TypeError
        ``recorded`` is not a map of file names to digests.
    ValueError
        ``recorded`` is a map without a digest of one of ``files`` (until 2026-12-04 that file was read unverified).
    """
    if recorded is None:
        return dict.fromkeys(files)
    if not isinstance(recorded, dict) or not all(isinstance(v, str) for v in recorded.values()):
        raise TypeError(f"its {DIGESTS_KEY} is not a map of file names to digests")
    missing = [f for f in files if f not in recorded]
    if missing:
        raise ValueError(f"its {DIGESTS_KEY} records no digest of {', '.join(missing)}")
    return {f: recorded[f] for f in files}


def figures_digest(figures: dict[str, Any]) -> str:
    """The sha256 (hex) of ``figures`` (a sidecar's figures that price, as its model picks them) as JSON text: the
    same for the figures given to :func:`write_sidecar` and for those read back from the file it wrote.

    Raises
    ------
    ValueError
        A NaN or infinite figure (a sidecar that holds one was not written by :func:`write_sidecar`).
    """
    from hybridperf.json_text import dumps

    plain = json.loads(dumps(figures, indent=None, default=float))  # numpy numbers, tuples: as the file holds them
    return hashlib.sha256(json.dumps(plain, sort_keys=True, separators=(",", ":")).encode("ascii")).hexdigest()


def check_figures(side: Path, meta: dict[str, Any], figures: dict[str, Any], fix: str = "") -> None:
    """Refuse the sidecar ``side`` (read as ``meta``) whose ``figures`` (its figures that price) are not the ones its
    :data:`FIGURES_KEY` records: edited by hand since it was stored. A sidecar that records none (written before
    2026-12-05) is not checked.

    Raises
    ------
    InputError
        The figures differ from the recorded digest, or the digest recorded is not a string.
    """
    recorded = meta.get(FIGURES_KEY)
    if recorded is None:
        return
    try:
        same = isinstance(recorded, str) and figures_digest(figures) == recorded
    except (TypeError, ValueError):
        same = False
    if not same:
        raise InputError(f"{side} was edited since hybridperf stored it (its figures that price, e.g. "
                         f"{', '.join(sorted(figures)[:3])}, are not the ones its {FIGURES_KEY} records){fix}")


def figure(value: Any, name: str, low: float | None = None, integer: bool = False, positive: bool = False) -> Any:
    """``value``, the figure ``name`` of a stored file, checked: a finite number (an int with ``integer``), at least
    ``low``, above 0 where ``positive``. A bool is not a number here (JSON ``true`` is not a figure).

    Raises
    ------
    ValueError
        It is not such a number (the message names ``name`` and the value).
    """
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) \
            or (low is not None and value < low):
        want = "an integer" if integer else "a finite number"
        raise ValueError(f"its {name} {value!r} is not {want}{f' of at least {low:g}' if low is not None else ''}")
    if positive and value <= 0:
        raise ValueError(f"its {name} {value!r} is not positive")
    return value


def number(meta: dict[str, Any], key: str, low: float | None = None, integer: bool = False,
           optional: bool = False) -> Any:
    """``meta[key]`` checked as a sidecar's figure (:func:`figure`): a finite number (an int with ``integer``), at
    least ``low``; None where ``optional`` and it is null or absent.

    Raises
    ------
    KeyError
        ``key`` is absent (and not ``optional``).
    ValueError
        It is not such a number (the message names ``key`` and the value).
    """
    value = meta.get(key) if optional else meta[key]
    if value is None and optional:
        return None
    return figure(value, key, low=low, integer=integer)


#: the JSON name of each Python type :func:`json.loads` gives
_JSON_KINDS = {str: "string", int: "number", float: "number", bool: "boolean", type(None): "null", list: "array",
               dict: "object"}


def json_kind(value: Any) -> str:
    """The JSON type of ``value`` (read by :func:`json.loads`) in JSON's words: ``"string"``, ``"number"``,
    ``"array"``; another Python type by its name."""
    return _JSON_KINDS.get(type(value), type(value).__name__)


def shown_version(got: Any, have: Any) -> str:
    """The version ``got`` of a stored file as a refusal shows it: as JSON writes it where it is not of the type of
    ``have`` (this hybridperf's), so that ``"2"`` is not shown as this hybridperf's ``2`` (until 2026-12-05: "schema 2
    ... do not match this hybridperf's (schema 2 ...)")."""
    if type(got) is type(have):
        return str(got)
    return f"{json.dumps(got)} (a JSON {json_kind(got)}, not a {json_kind(have)})"


def is_newer_version(got: Any, have: Any) -> bool:
    """Whether the version ``got`` of a stored file is above ``have`` (this hybridperf's): written by a newer one."""
    try:
        return int(got) > int(have)
    except (TypeError, ValueError):
        return False


def write_sidecar(path: Path, meta: dict[str, Any]) -> None:
    """Write ``meta`` with the LightGBM and hybridperf versions appended, as indented strict JSON; a NaN or infinite
    figure raises ValueError (a defect of the model: until 2026-12-04 it was stored as ``NaN``, which no JSON parser
    reads)."""
    import lightgbm

    from hybridperf._version import __version__
    from hybridperf.json_text import dumps

    meta = {**meta, "lightgbm_version": lightgbm.__version__, "hybridperf_version": __version__}
    path.write_text(dumps(meta, indent=1, default=float) + "\n")


def read_sidecar(directory: Path, model_file: str, sidecar_file: str, missing: str, fix: str = "") -> dict[str, Any]:
    """The sidecar of the model stored in ``directory``.

    Parameters
    ----------
    missing : str
        The message (naming what is absent and the fix) when the sidecar or the booster file is not there.
    fix : str
        Appended to the message of a sidecar that is there but cannot be read (``"; <what to do>"``).

    Raises
    ------
    InputError
        Either file is missing; the sidecar is not readable, not UTF-8, not JSON, or not a JSON object.
    """
    side = directory / sidecar_file
    if not side.exists() or not (directory / model_file).exists():
        raise InputError(missing)
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{side} is not a readable model sidecar ({_why(exc)}){fix}") from exc
    if not isinstance(meta, dict):
        raise InputError(f"{side} is not a model sidecar (a JSON {type(meta).__name__}, not an object){fix}")
    return meta


def read_booster(path: Path, names: Sequence[str], fix: str = "", sha256: str | None = None):
    """The LightGBM booster stored as text in ``path``, checked before LightGBM parses it: always the layout its
    parser trusts (features, where each tree starts, ``end of trees``, the parameters' lines: cheap), and each tree's
    arrays (:func:`booster_problem` whole) unless its text is the one whose digest is ``sha256`` (a file cut short is
    said to be so, not only to differ from its digest). The check of each tree's arrays costs ~0.1 s for each of the
    cross-device model's 1.7 MB boosters; a sha256, ~1 ms.

    Parameters
    ----------
    names : sequence of str
        The features the booster must read, in order (the sidecar's list).
    fix : str
        Appended to the message of a file that is not a whole booster of ``names`` (``"; <what to do>"``).
    sha256 : str, optional
        The :func:`booster_digest` the sidecar recorded (None: a sidecar written before digests, not verified). Until
        2026-12-04 a booster whose numbers were edited in place was read as the model stored.

    Returns
    -------
    lightgbm.Booster

    Raises
    ------
    InputError
        The file cannot be read, is not UTF-8, is not a whole LightGBM text model of ``names``, or is not the text
        whose digest is ``sha256``.
    """
    import lightgbm as lgb

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable LightGBM model ({_why(exc)}){fix}") from exc
    verified = sha256 is not None and booster_digest(text) == sha256
    problem = booster_problem(text, names, trees=not verified)
    if problem:
        raise InputError(f"{path} is not a whole LightGBM model of this model's features: {problem}{fix}")
    if sha256 is not None and not verified:
        raise InputError(f"{path} is not the booster stored with its sidecar (its sha256 is not the one recorded: "
                         f"edited or replaced since){fix}")
    try:
        return lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:  # what the checks above do not look at
        raise InputError(f"{path}: LightGBM cannot read it ({error_line(exc, 160)}){fix}") from exc


def booster_problem(text: str, names: Sequence[str], trees: bool = True) -> str | None:
    """What makes ``text`` other than a whole LightGBM text model reading the features ``names``: None when nothing.

    Checks what LightGBM's parser trusts without checking (it reads past the end of a model cut short, follows child
    indices out of range, loops on a cycle): the header's feature names, each tree where ``tree_sizes`` says it
    starts, each tree's arrays of the lengths its ``num_leaves`` gives, split features and children in range, every
    node and leaf the child of one node, ``end of trees`` after the last, and ``[name: value]`` lines up to ``end of
    parameters`` after ``parameters:``. Numbers edited in place are not caught here: the sidecar's digest catches
    them (:func:`read_booster`).

    Parameters
    ----------
    trees : bool
        False: each tree's own arrays are not checked (its digest vouches for them), but the layout LightGBM's parser
        trusts still is: the header, each tree where ``tree_sizes`` says it starts, ``end of trees`` and the
        parameters' lines (until 2026-12-04 a booster whose digest matched skipped these too, and a booster cut short
        whose digest was recorded from the cut text reached LightGBM's parser).
    """
    if not text.strip():
        return "the file is empty"
    if not text.startswith("tree\n"):
        return "it does not begin with `tree`"
    data = text.encode("utf-8")
    at = data.find(b"\nTree=")
    if at < 0:
        return "it holds no tree (cut short?)"
    header = dict(line.split("=", 1) for line in text[:at].splitlines() if "=" in line)
    got = header.get("feature_names", "").split(" ")
    try:
        counts = int(header["max_feature_idx"]) + 1, len(header["feature_infos"].split(" "))
        int(header["num_class"]), int(header["num_tree_per_iteration"])
    except (KeyError, ValueError) as exc:
        return f"its header has no number {exc}"
    if counts != (len(got), len(got)):
        return f"its header counts {counts[0]} features, names {len(got)} and describes {counts[1]}"
    if got != list(names):
        return (f"it reads {len(got)} features, the sidecar names {len(names)}" if len(got) != len(names) else
                f"its features are not the sidecar's (`{next(a for a, b in zip(got, names) if a != b)}`)")
    try:
        sizes = [int(s) for s in header["tree_sizes"].split()]
    except (KeyError, ValueError):
        return "its header has no tree sizes"
    pos = at + 1
    for i, size in enumerate(sizes):
        if size < 0 or pos + size > len(data) or not data.startswith(b"Tree=%d\n" % i, pos):
            return f"tree {i} of {len(sizes)} is not where the header says (cut short?)"
        why = _tree_problem(data[pos:pos + size].decode("utf-8"), len(names)) if trees else None
        if why:
            return f"tree {i}: {why}"
        pos += size
    tail = data[pos:]
    if not tail.lstrip(b"\n").startswith(b"end of trees"):
        return "no `end of trees` after its last tree (cut short?)"
    params = tail.find(b"\nparameters:\n")
    if params >= 0:
        stop = tail.find(b"\nend of parameters", params)
        if stop < 0:  # LightGBM reads on to it, past the end
            return "no `end of parameters` after its parameters (cut short?)"
        lines = tail[params + len(b"\nparameters:\n"):stop].decode("utf-8").splitlines()
        if any(line and not _PARAM.fullmatch(line) for line in lines):  # LightGBM's parser of them crashes
            return "a line of its parameters is not `[name: value]`"
    return None


#: the keys of a tree whose values are read as integers (the others as floats)
_INT_KEYS = frozenset({"split_feature", "decision_type", "left_child", "right_child", "cat_boundaries",
                       "cat_threshold", "num_features", "leaf_features"})
#: arrays of a tree with ``n`` leaves (more than one) of ``n - 1`` values (one a node) and of ``n`` (one a leaf)
_NODE_ARRAYS = ("split_feature", "split_gain", "threshold", "decision_type", "left_child", "right_child",
                "internal_value", "internal_weight", "internal_count")
_LEAF_ARRAYS = ("leaf_value", "leaf_weight", "leaf_count")


def _tree_problem(block: str, n_features: int) -> str | None:
    lines = [line for line in block.splitlines()[1:] if line]
    if any("=" not in line for line in lines):
        return "a line is not `name=values`"
    kv = dict(line.split("=", 1) for line in lines)
    parsed: dict[str, list] = {}  # each value read once: as integers (_INT_KEYS) or floats
    not_int: dict[str, ValueError] = {}  # numbers, but not the integers the key holds: said where read below
    for key, value in kv.items():
        tokens = value.split()
        try:
            parsed[key] = [int(v) for v in tokens] if key in _INT_KEYS else [float(v) for v in tokens]
        except ValueError as exc:
            if key in _INT_KEYS and all(_is_number(v) for v in tokens):
                not_int[key] = exc
            else:  # LightGBM aborts the process on a token that is not a number
                return f"`{key}` holds a value that is not a number"

    def nums(key: str) -> list:
        if key in not_int:
            raise not_int[key]
        return parsed.get(key, [])

    try:
        leaves, cats = int(kv["num_leaves"]), int(kv.get("num_cat", "0"))
        split, left, right = nums("split_feature"), nums("left_child"), nums("right_child")
        lengths = {"split_feature": split, "threshold": nums("threshold"), "decision_type": nums("decision_type"),
                   "left_child": left, "right_child": right}
        bounds, cat_words = nums("cat_boundaries"), nums("cat_threshold")
        linear = kv.get("is_linear", "0") == "1"
        if linear:
            counts, used, coeff = nums("num_features"), nums("leaf_features"), nums("leaf_coeff")
            const = nums("leaf_const")
    except (KeyError, ValueError) as exc:
        return f"{exc} is missing or not a number"
    if leaves < 1 or cats < 0:
        return f"num_leaves {leaves}, num_cat {cats}"
    sizes = {**{k: leaves - 1 for k in _NODE_ARRAYS}, **{k: leaves for k in _LEAF_ARRAYS}} if leaves > 1 else \
        {**{k: 0 for k in lengths}, "leaf_value": 1}
    wrong = [k for k, n in sizes.items() if len(parsed.get(k, ())) != n]
    if wrong:
        return f"{', '.join(wrong)} not of its {leaves} leaves"
    if any(not 0 <= f < n_features for f in split):
        return f"a split on a feature past the {n_features} it reads"
    children = left + right  # node j >= 0, leaf ~k = -k - 1: each node but the root, and each leaf, once
    if leaves > 1 and sorted(children) != sorted([*range(1, leaves - 1), *range(-leaves, 0)]):
        return "its children do not make a tree"
    # a categorical split's threshold indexes its categories (until 2026-12-04 a nan or inf there raised out of the
    # check: exit 3, not the one line naming the fix)
    cat_at = [int(t) if math.isfinite(t) else -1 for t, d in zip(lengths["threshold"], lengths["decision_type"]) if d & 1]
    if any(not 0 <= c < cats for c in cat_at) or (cats and (len(bounds) != cats + 1 or bounds[0] != 0 or bounds != sorted(bounds)
                                                          or bounds[-1] != len(cat_words))):
        return "its categorical splits do not match its categories"
    if linear and (len(const) != leaves or len(counts) != leaves or len(used) != sum(counts) or len(coeff) != len(used)
                   or any(not 0 <= f < n_features for f in used)):
        return "its linear leaves do not match its leaves"
    return None


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, json.JSONDecodeError):
        empty = not exc.doc.strip()
        return "the file is empty" if empty else f"not JSON: {exc.msg} at line {exc.lineno}"
    return error_line(exc, 120)


__all__ = ["DIGESTS_KEY", "FIGURES_KEY", "booster_digest", "booster_problem", "check_figures", "figure",
           "figures_digest", "is_newer_version", "json_kind", "number", "read_booster", "read_sidecar",
           "recorded_digests", "shown_version", "write_booster", "write_sidecar"]
