"""Budgets: parse limits, read them from ``pyproject.toml``, check predictions.

A budget caps a model's predicted latency, peak memory and energy on one
device. Limits are written as a positive number and a unit:

* latency: ``s``, ``ms``, ``us`` (or ``µs``), ``ns`` -- e.g. ``20ms``, ``1.5 s``
* memory: ``B``, ``KB``, ``MB``, ``GB``, ``TB`` (powers of 1000) and ``KiB``,
  ``MiB``, ``GiB``, ``TiB`` (powers of 1024) -- e.g. ``512MiB``
* energy: ``kJ``, ``J``, ``mJ``, ``uJ`` (or ``µJ``), ``nJ``, ``pJ``, ``fJ``, and ``kWh``, ``Wh``, ``mWh``
  (3.6 MJ, 3600 J, 3.6 J) -- e.g. ``50mJ``, ``2kJ``, ``0.3Wh``

Anything else (``20 msec``, ``-5ms``, ``512MB/s``, a bare ``20``) is an
:class:`BudgetError` naming the flag or key and the accepted units; so is a limit
above :data:`LARGEST` (1000000 s, 1048576 TiB, 1000000 J): leave a limit out for none.
Case matters in a prefix (``MJ`` is mega, not ``mJ``). The Python
API also takes plain numbers, read in SI base units (s, B, J).

Configuration schema (``[tool.hybridperf]`` in ``pyproject.toml``)
-------------------------------------------------------------------
::

    [tool.hybridperf]
    devices = ["a100-sxm-80gb"]      # default devices of every model (optional)
    batch = 1                        # default binding of a symbolic batch dim (optional; a model
                                     # with fixed shapes keeps them, where --batch is refused)
    max-latency = "50ms"             # default limits of every model (optional)
    max-memory = "2GiB"
    max-energy = "1J"

    [tool.hybridperf.budgets."models/resnet.onnx"]   # path relative to this file
    batch = 8                        # optional, overrides the default
    shapes = {input = "8x3x224x224"} # optional, like --shape input=8x3x224x224
    precision = "fp16"               # optional, like --precision
    max-latency = "20ms"             # optional, overrides the default
    max-memory = "512MiB"
    max-energy = "50mJ"
    devices = ["a100-sxm-80gb", "t4"]          # EITHER a list of device ids ...

    # ... OR a table of device id -> overrides; each key is a device to check (the keys replace the
    # default devices, as the list does: check notes a default left unchecked on stderr; both at once
    # are refused naming the fix):
    # [tool.hybridperf.budgets."models/resnet.onnx".devices."a100-sxm-80gb"]
    # max-latency = "5ms"
    # [tool.hybridperf.budgets."models/resnet.onnx".devices."t4"]
    # (an empty table checks t4 with the model's limits)

A device given as a spec file (``"specs/my-gpu.yaml"``) is, like a model path, relative to
this file. Keys are exactly those above; any other key is rejected with a suggestion
(``pyproject.toml: [tool.hybridperf.budgets."m.onnx"] unknown key 'max-latncy'
(did you mean 'max-latency'?)``). Limits in the file must carry a unit.

Precedence, highest first: command-line flag (``--max-latency``, ``--device``,
``--batch``, ``--shape``, ``--precision``), per-device table, model table,
``[tool.hybridperf]`` defaults. A model named on the command line but absent
from the file gets the defaults; with no model on the command line every model
of the file is checked. A limit is met when ``predicted <= limit``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any
import enum
import math
import re

from hybridperf.device.spec import names_spec_file, sheet_key
from hybridperf.errors import InputError, did_you_mean, error_line
from hybridperf.files import resolved
from hybridperf.frozen import reduce_read_only
from hybridperf.precision import OVERRIDES
from hybridperf.units import UNITS, numel, parse_dims, shapes_text, split_quantity, unit_hint, units_of

#: the most elements a shape of a budget file may have: 2^48, the bytes any device can address (a tensor of at least
#: one byte per element is over it beyond this; the exact bound per element type is the frontends')
MAX_ELEMENTS = 2**48


__all__ = ["Budget", "BudgetConfig", "BudgetError", "CheckResult", "LARGEST", "Metric", "MetricCheck", "ModelEntry", "Target", "compare", "load_config", "Override", "overridden", "parse_config", "parse_limit", "resolve_targets", "uncosted_text", "unchecked_defaults", "value_of"]


class BudgetError(InputError):
    """A malformed limit or budget configuration (exit code 2)."""


class Metric(str, enum.Enum):
    """What a budget limits, with the prediction field it reads."""

    LATENCY = "latency"
    MEMORY = "memory"
    ENERGY = "energy"

    @property
    def flag(self) -> str:
        return f"--max-{self.value}"

    @property
    def key(self) -> str:
        return f"max-{self.value}"

    @property
    def quantity(self) -> str:
        """The quantity of :data:`hybridperf.units.UNITS` that this metric's limits are written in."""
        return {"latency": "time", "memory": "capacity", "energy": "energy"}[self.value]

    @property
    def si_unit(self) -> str:
        return {"latency": "s", "memory": "B", "energy": "J"}[self.value]


_EXAMPLE = {Metric.LATENCY: "20ms", Metric.MEMORY: "512MiB", Metric.ENERGY: "50mJ"}

#: the largest limit of each metric, in SI units, and how a message writes it: far beyond any inference (11.6 days,
#: 1024 PiB, a 700 W board for 24 minutes) and what the reports still print in a few digits. A larger one is refused
#: (``--max-memory 1e30GB`` was taken and printed as ``888178419700125178789888.00 PiB`` until 2026-12-03): it is a
#: slip, or a wish for no limit, which leaving the limit out says
LARGEST: Mapping[Metric, tuple[float, str]] = MappingProxyType({
    Metric.LATENCY: (1e6, "1000000 s (11.6 days)"),
    Metric.MEMORY: (2.0**60, "1048576 TiB (2^60 B, 1024 PiB)"),
    Metric.ENERGY: (1e6, "1000000 J"),
})


def _units_text(metric: Metric) -> str:
    return ", ".join(units_of(metric.quantity))


def parse_limit(value: Any, metric: Metric | str, where: str | None = None, allow_number: bool = True,
                zero_is_none: bool = False, noun: str = "limit") -> float:
    """Parse ``"20ms"`` / ``"512MiB"`` / ``"50mJ"`` (or a number in SI units) to SI units.

    Parameters
    ----------
    value : str or float
        The limit; numbers are read in s, B or J.
    metric : Metric or str
        Which unit family applies.
    where : str, optional
        How the user wrote it (``--max-latency``, ``pyproject.toml: key 'max-latency'``),
        used in the error message; defaults to the metric's flag.
    allow_number : bool
        Accept plain numbers (the Python API does, the CLI and config files do not).
    zero_is_none : bool
        The messages are of a figure whose 0 means none (``mig --headroom``, whose caller takes 0 itself): they offer
        0 where a limit's say to leave it out (leaving ``--headroom`` out keeps its default).
    noun : str
        What the figure is, as the messages name it: ``"headroom"`` for ``mig --headroom``, which is no limit (until
        2026-12-05 ``--headroom 500`` read "a limit needs a unit").

    Raises
    ------
    BudgetError
        One line naming ``where``, the text given, and the accepted units.
    """
    metric = Metric(metric)
    where = where or metric.flag
    given = f"{where}{value!r}" if where.endswith("=") else f"{where} {value!r}"  # max_latency='5 msec'
    units = {u: UNITS[u][1] for u in units_of(metric.quantity, aliases=True)}
    accepted = (f"write {'0 (none), or ' if zero_is_none else ''}a positive number and one of {_units_text(metric)}, "
                f"e.g. {_EXAMPLE[metric]}")
    unlimited = "" if zero_is_none else "leave the limit out to set none"  # how to ask for none besides `accepted`
    smaller = "write a smaller figure, or 0 for none" if zero_is_none else unlimited  # the fix of a figure too large
    one = "a limit" if noun == "limit" else f"the {noun}"  # "a limit needs a unit", "the headroom needs a unit"
    too_large = "too large to be a limit" if noun == "limit" else f"too large for {one}"
    if isinstance(value, bool):
        raise BudgetError(f"{given}: {accepted}")
    if isinstance(value, (int, float)):
        if not allow_number:
            raise BudgetError(f"{given}: {one} needs a unit; {accepted}")
        if math.isnan(value):
            raise BudgetError(f"{given}: is not a number; {accepted}" + (f", or {unlimited}" if unlimited else ""))
        if value <= 0:
            raise BudgetError(f"{given}: must be positive; {accepted}")
        if math.isinf(value):  # until 2026-12-04 "must be positive", of a limit that is: a wish for no limit
            raise BudgetError(f"{given}: is not finite ({too_large}; {_largest(metric, noun)} is "
                              f"{LARGEST[metric][1]}); {smaller}")
        return _at_most_largest(float(value), metric, given, smaller, noun)
    if not isinstance(value, str):
        raise BudgetError(f"{given}: {accepted}")
    if value.strip().startswith("-"):
        raise BudgetError(f"{given}: must be positive; {accepted}")
    quantity = split_quantity(value)
    if quantity is None:
        if _not_finite(value):  # "inf", "infms": until 2026-12-04 only "write a positive number ...", of a wish for none
            raise BudgetError(f"{given}: is not a finite number; " + (f"{unlimited}, or " if unlimited else "")
                              + accepted)
        raise BudgetError(f"{given}: {accepted}")
    num, unit = quantity
    if not unit:  # "15", "1.5e7": which unit was meant is a guess, so none is made
        why = f"{one} needs a unit" if float(num) > 0 else "must be positive and carry a unit"
        raise BudgetError(f"{given}: {why}; {accepted}")
    unit = unit.replace("\u03bc", "\u00b5")  # Greek mu (what NFKC makes of the micro sign) is the micro prefix too
    if unit not in units:
        hint = unit_hint(unit, metric.quantity, units) or did_you_mean(unit, units) or _other_metric(unit)
        raise BudgetError(f"{given}: unknown unit {unit!r}{hint}; {accepted}")
    number = float(num)
    if number <= 0:
        raise BudgetError(f"{given}: must be positive; {accepted}")
    if not math.isfinite(number):  # "1e400MiB": beyond a float, so no figure could be judged against it
        raise BudgetError(f"{given}: {too_large}; {accepted}")
    # exact decimal arithmetic, so that "100us" is the float nearest 1e-4, not 100 * 1e-6
    try:
        limit = float(Fraction(num) * Fraction(repr(units[unit])))
    except OverflowError:  # "1e300GiB": past a float once scaled (until 2026-12-04 exit 3, "internal error")
        limit = math.inf
    if metric is Metric.MEMORY and limit < 1:  # "0.5B": no tensor fits, so every model would be over it
        raise BudgetError(f"{given}: is less than one byte; {accepted}")
    return _at_most_largest(limit, metric, given, smaller, noun)


def _not_finite(text: str) -> bool:
    """Whether ``text`` starts with an infinity or a NaN as :class:`float` reads them (``inf``, ``-Infinity ms``,
    ``nan``)."""
    word = text.strip().lstrip("+-").lower()
    return word.startswith(("inf", "nan"))


def _other_metric(unit: str) -> str:
    """`` (a unit of latency: --max-latency / max-latency)`` where ``unit`` is another metric's (``--max-memory 20ms``),
    else "": until 2026-12-04 such a limit read only "unknown unit 'ms'"."""
    for m in Metric:
        if unit in units_of(m.quantity, aliases=True):
            return f" (a unit of {m.value}: {m.flag} / {m.key})"
    return ""


def _at_most_largest(limit: float, metric: Metric, given: str, fix: str, noun: str = "limit") -> float:
    """``limit``, or a :class:`BudgetError` where it is above the metric's :data:`LARGEST`, ending in ``fix``."""
    largest, text = LARGEST[metric]
    if limit > largest:
        raise BudgetError(f"{given}: is more than {_largest(metric, noun)}, {text}; {fix}")
    return limit


def _largest(metric: Metric, noun: str) -> str:
    """``"the largest memory limit"``; ``"the largest headroom"`` of another ``noun`` (:func:`parse_limit`)."""
    return f"the largest {metric.value} limit" if noun == "limit" else f"the largest {noun}"


@dataclass(frozen=True)
class Budget:
    """Limits in SI units; ``None`` means unlimited."""

    max_latency_s: float | None = None
    max_memory_bytes: float | None = None
    max_energy_j: float | None = None

    def limit(self, metric: Metric) -> float | None:
        return {
            Metric.LATENCY: self.max_latency_s,
            Metric.MEMORY: self.max_memory_bytes,
            Metric.ENERGY: self.max_energy_j,
        }[metric]

    @property
    def empty(self) -> bool:
        return all(self.limit(m) is None for m in Metric)

    def over(self, other: Budget) -> Budget:
        """This budget's limits where set, else ``other``'s."""
        return Budget(
            *(self.limit(m) if self.limit(m) is not None else other.limit(m) for m in Metric)
        )

    @classmethod
    def parse(
        cls,
        max_latency: Any = None,
        max_memory: Any = None,
        max_energy: Any = None,
        where: str = "",
        allow_number: bool = True,
    ) -> Budget:
        """Build from strings/numbers; ``where`` prefixes key names in errors (empty: flags)."""
        vals = []
        for metric, raw in zip(Metric, (max_latency, max_memory, max_energy)):
            loc = f"{where}{metric.key}" if where else metric.flag
            vals.append(None if raw is None else parse_limit(raw, metric, loc, allow_number))
        return cls(*vals)


@dataclass(frozen=True)
class Target:
    """One model to check: where it is, how to bind it, and its limits per device."""

    model: str
    devices: tuple[str, ...]
    budgets: Mapping[str, Budget]  # device id -> effective limits
    batch: int | None = None
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    precision: str | None = None


@dataclass(frozen=True)
class MetricCheck:
    """One model x device x metric comparison. ``limit`` None: no budget set (skipped).

    Three outcomes besides a plain pass: *exceeded* (over the budget, or for memory over the
    device's ``capacity`` even without a budget; exit 1), *undecided* (the figure is unknown,
    or only a lower bound that is within the budget; exit 2 -- a check never passes a figure
    it does not know, unless ``lower_bound_accepted`` (``--allow-unsupported``) takes the bound).
    An unknown figure with a known floor (:attr:`at_least`) over a limit is exceeded too; under
    every limit it stays undecided, with or without ``--allow-unsupported``.
    """

    model: str
    device: str
    metric: Metric
    value: float | None
    limit: float | None
    #: the device's memory capacity in bytes (memory checks only)
    capacity: float | None = None
    #: ``value`` is a lower bound (some ops have no cost): why, else ""
    lower_bound: str = ""
    lower_bound_accepted: bool = False
    #: why ``value`` rests on an estimated device figure (energy on a sheet whose power is an estimate; latency of an
    #: unverified zero-shot model, :attr:`~hybridperf.estimate.pricing.Prediction.latency_note`), else "";
    #: it is judged all the same, and the reports say so beside the status
    estimated: str = ""
    #: why ``value`` is None (unknown), else ""
    unknown: str = ""
    #: which figure ``value`` is (memory: ``"onnxruntime peak"``, ``"torch peak"``, ``"TVM plan peak"``,
    #: :func:`hybridperf.estimate.runtime_memory.memory_figure`), else ""
    figure: str = ""
    #: what ``predict`` says of the figure beyond ``estimated``, in its words (energy capped at the device's max power:
    #: :attr:`~hybridperf.estimate.pricing.Prediction.energy_note`, which also names an estimated power), else "":
    #: until 2026-12-04 a capped energy was judged with no word of the cap in any of check's outputs
    note: str = ""
    #: the peak memory ``predict`` shows as an estimate (``peak ≈ 10.41 MiB on onnxruntime``) where ``value`` is None
    #: because it rests on guessed sizes (memory checks only), else None: shown, never judged (the report read it
    #: from the prediction again by a rule of its own until 2026-12-04)
    estimate: float | None = None
    #: a floor of ``value`` known where ``value`` is None (memory without a plan: the inputs alone), else None: judged
    #: only where it is over a limit (exceeded: "at least X"), never passed. Until 2026-12-04 such a check was
    #: UNKNOWN (exit 2) though its inputs alone were over the budget and the device's memory
    at_least: float | None = None
    #: what :attr:`at_least` counts (``"the inputs alone"``), else ""
    at_least_is: str = ""

    @property
    def _limits(self) -> list[float]:
        return [x for x in (self.limit, self.capacity) if x is not None]

    @property
    def judged_value(self) -> float | None:
        """The figure judged against the limits: ``value``, else its known floor :attr:`at_least`, else None."""
        return self.value if self.value is not None else self.at_least

    @property
    def exceeded(self) -> bool:
        v = self.judged_value
        return v is not None and any(v > x for x in self._limits)

    @property
    def over_capacity(self) -> bool:
        v = self.judged_value
        return v is not None and self.capacity is not None and v > self.capacity

    @property
    def skipped(self) -> bool:
        return self.limit is None and not self.exceeded

    @property
    def undecided(self) -> bool:
        if self.skipped or self.exceeded:
            return False
        return self.value is None or (bool(self.lower_bound) and not self.lower_bound_accepted)

    @property
    def passed(self) -> bool:
        return self.skipped or not (self.exceeded or self.undecided)

    @property
    def over_by(self) -> float:
        """Relative excess over the tightest limit exceeded (0.25 = 25 % over); 0 otherwise."""
        if not self.exceeded:
            return 0.0
        v = self.judged_value
        assert v is not None
        return v / min(self._limits) - 1.0


@dataclass(frozen=True)
class CheckResult:
    """Every comparison of a check, with the predictions behind them."""

    checks: tuple[MetricCheck, ...]
    #: ``(model, device id) -> Prediction``, read-only (a :class:`types.MappingProxyType` over a copy of the mapping
    #: given): until 2026-12-04 a plain dict, so a frozen result's predictions could be replaced or deleted
    predictions: Mapping[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "predictions", MappingProxyType(dict(self.predictions)))

    def __reduce__(self) -> tuple[Any, tuple[type, dict[str, Any]]]:  # a mappingproxy does not pickle
        return reduce_read_only(self)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> tuple[MetricCheck, ...]:
        """Limits exceeded (exit 1)."""
        return tuple(c for c in self.checks if c.exceeded)

    @property
    def undecided(self) -> tuple[MetricCheck, ...]:
        """Limits that cannot be judged: unknown figures, or lower bounds not accepted (exit 2)."""
        return tuple(c for c in self.checks if c.undecided)

    def __bool__(self) -> bool:
        return self.passed


def value_of(pred: Any, metric: Metric) -> float | None:
    """The predicted quantity a metric limits (latency_s, peak_memory_bytes, energy_j); None when unknown."""
    if metric is Metric.LATENCY:
        return float(pred.latency_s)
    if metric is Metric.MEMORY:
        return None if pred.peak_memory_bytes is None else float(pred.peak_memory_bytes)
    return float(pred.energy_j)


def uncosted_text(pred: Any) -> str:
    """``"2 op types have no cost (a, b)"`` for a prediction with uncosted ops, else "" (why its latency, energy and
    traffic are lower bounds; ``check`` and ``mig`` say it alike)."""
    uncosted = list(getattr(pred, "uncosted_ops", []))
    kinds = "op type has" if len(uncosted) == 1 else "op types have"
    return f"{len(uncosted)} {kinds} {NO_COST} ({', '.join(uncosted)})" if uncosted else ""


#: the words of a lower bound's reason that ops have no cost rule (:func:`uncosted_text`), answered with cost rules
NO_COST = "no cost"


def unpriced_terms_text(pred: Any) -> str:
    """``"the time of element-wise math is not priced (the warning says why; ...)"`` for a prediction with an unpriced
    term, else "" (:attr:`~hybridperf.estimate.pricing.Prediction.unpriced_terms_reason`, the one text ``predict``
    prints beside the latency too): its latency and energy leave that time out, so they are lower bounds (since
    2026-12-07 ``check`` judges them so; they were warnings only)."""
    return getattr(pred, "unpriced_terms_reason", "")


def _caveats(pred: Any, metric: Metric) -> tuple[str, str, float | None]:
    """(why the figure is a lower bound, why it is unknown, :attr:`MetricCheck.estimate`) for ``metric`` of
    ``pred``."""
    lower = uncosted_text(pred)
    if metric is not Metric.MEMORY:  # a term left out of the latency (and its idle energy) makes both lower bounds
        lower = "; ".join(t for t in (lower, unpriced_terms_text(pred)) if t)
    if metric is Metric.MEMORY:
        # the peak's kind as every report marks it (peak_kind): onnxruntime's peak is judged on onnxruntime's own
        # graph and sizes, not on the TVM plan (until 2026-12-03 an unknown TVM plan was ignored here and a guessed
        # size of a data-dependent output passed: now it cannot be judged)
        from hybridperf.estimate.runtime_memory import peak_kind

        kind = peak_kind(pred)
        if kind == "estimate":
            rt = pred.runtime_memory
            return "", f"{rt.runtime}'s peak rests on {rt.unsized_reason}", float(pred.peak_memory_bytes)
        if kind == "unknown":
            return "", f"no memory plan ({pred.memory.unknown_reason or 'unknown'})", None
        return (lower if kind == "lower_bound" else ""), "", None
    return lower, "", None


def _energy_note(pred: Any) -> str:
    """``predict``'s note on ``pred``'s energy (:attr:`~hybridperf.estimate.pricing.Prediction.energy_note`) where it
    says more than :attr:`MetricCheck.estimated` does: the energy was capped at the device's max power x latency by
    :func:`~hybridperf.estimate.pricing.bounded_energy`, as the note itself says (it names an estimated power too),
    else "" (an estimated power alone is ``estimated``'s, which every output marks already)."""
    from hybridperf.estimate.pricing import energy_capped

    note = getattr(pred, "energy_note", "")
    return note if energy_capped(note) else ""


#: the :class:`~hybridperf.estimate.pricing.Prediction` field each priced metric reads, as its
#: :attr:`~hybridperf.estimate.pricing.Prediction.unknown_figures` names it (memory's unknown is the peak's own:
#: :func:`hybridperf.estimate.runtime_memory.peak_kind`)
_PRICED_FIELD = {Metric.LATENCY: "latency_s", Metric.ENERGY: "energy_j"}


def compare(
    pred: Any, budget: Budget, model: str, device: str, allow_unsupported: bool = False
) -> tuple[MetricCheck, ...]:
    """One :class:`MetricCheck` per metric (limit None where the budget sets none).

    Memory is also checked against the device's capacity. ``allow_unsupported`` accepts a
    lower bound (a model with uncosted ops) as the figure to judge. A figure the prediction itself marks unknown
    (:attr:`~hybridperf.estimate.pricing.Prediction.unknown_figures`: nothing priced, or no kernel launched where the
    runtime's per-call overhead is not modelled) is unknown here too, with or without ``allow_unsupported``: it is
    never passed.
    """
    out = []
    for m in Metric:
        lower, unknown, estimate = _caveats(pred, m)
        value = None if unknown else value_of(pred, m)
        if _PRICED_FIELD.get(m) in pred.unknown_figures:
            # nothing priced: the prediction says so itself (pricing applies no learned model there, whose constant
            # -- 10 us on t4 -- would be no bound), so the figure is unknown ("≥ 0" says nothing) and
            # --allow-unsupported has no bound to judge (as mig: "latency unknown (no op priced)"). Until 2026-12-03
            # this read a roofline of 0 by a rule of its own, beside pricing's. A model whose every op is zero-cost
            # (views only) on a sheet that prices no runtime call is unknown too (unpriced_reason): until 2026-12-05
            # its latency and energy of 0 passed every limit
            value = None
            unknown = f"nothing priced: {lower}" if lower else pred.unpriced_reason
        cap = pred.spec.dram.capacity_bytes if m is Metric.MEMORY else None
        estimated = {Metric.ENERGY: pred.spec.power_note, Metric.LATENCY: pred.latency_note}.get(m, "")
        figure = ""
        if m is Metric.MEMORY:
            from hybridperf.estimate.runtime_memory import memory_figure

            figure = memory_figure(pred)
        note = _energy_note(pred) if m is Metric.ENERGY else ""
        # no peak, yet the inputs are in any runtime's peak: a floor that fails a limit it is over (predict warns alike)
        floor = pred.memory.input_bytes if m is Metric.MEMORY and value is None and pred.memory.input_bytes else None
        out.append(MetricCheck(model, device, m, value, budget.limit(m), cap, lower, allow_unsupported,
                               unknown=unknown, estimated=estimated, figure=figure, note=note, estimate=estimate,
                               at_least=None if floor is None else float(floor),
                               at_least_is="the inputs alone" if floor else ""))
    return tuple(out)


_LIMIT_KEYS = tuple(m.key for m in Metric)

_TOP_KEYS = ("devices", "batch", "precision", "budgets", *_LIMIT_KEYS)

_MODEL_KEYS = ("devices", "batch", "shapes", "precision", *_LIMIT_KEYS)

_DEVICE_KEYS = _LIMIT_KEYS


@dataclass(frozen=True)
class ModelEntry:
    """One ``[tool.hybridperf.budgets."PATH"]`` table, validated."""

    key: str
    path: Path
    budget: Budget
    devices: tuple[str, ...] | None
    device_budgets: Mapping[str, Budget]
    batch: int | None
    shapes: Mapping[str, tuple[int, ...]]
    precision: str | None


@dataclass(frozen=True)
class BudgetConfig:
    """``[tool.hybridperf]`` of one file; empty when the file has no such table."""

    path: Path | None = None
    budget: Budget = Budget()
    devices: tuple[str, ...] = ()
    batch: int | None = None
    precision: str | None = None
    models: tuple[ModelEntry, ...] = ()

    def entry_for(self, model: str | Path) -> ModelEntry | None:
        p = resolved(model)
        for e in self.models:
            if e.path == p:
                return e
        return None


class _Where:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, table: str, msg: str):
        raise BudgetError(f"{self.path}: [{table}] {msg}")

    def keys(self, d: Mapping[str, Any], table: str, allowed: Sequence[str]) -> None:
        for k in d:
            if k not in allowed:
                hint = did_you_mean(k, allowed) or f" (known keys: {', '.join(allowed)})"
                self.fail(table, f"unknown key {k!r}{hint}")

    def limit(self, d: Mapping[str, Any], table: str) -> Budget:
        return Budget.parse(
            d.get("max-latency"),
            d.get("max-memory"),
            d.get("max-energy"),
            where=f"{self.path}: [{table}] key ",
            allow_number=False,
        )

    def batch(self, d: Mapping[str, Any], table: str) -> int | None:
        b = d.get("batch")
        if b is not None and (isinstance(b, bool) or not isinstance(b, int) or b <= 0):
            self.fail(table, f"key 'batch' must be a positive integer, got {b!r}")
        return b

    def precision(self, d: Mapping[str, Any], table: str) -> str | None:
        p = d.get("precision")
        if p is not None and p not in OVERRIDES:  # a hint as --precision's (none until 2026-12-04: "FP16")
            self.fail(table, f"key 'precision' is {p!r}{did_you_mean(p, OVERRIDES)}; use one of {', '.join(OVERRIDES)}")
        return p

    def device_list(self, v: Any, table: str) -> tuple[str, ...]:
        if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
            # a table of device id -> limits only in a model's table: until 2026-12-04 [tool.hybridperf] offered it
            # too, and refused it when written
            either = "" if table == "tool.hybridperf" else " or a table of device id -> limits"
            self.fail(table, f"key 'devices' must be a non-empty list of device ids{either}")
        return tuple(self.device(d) for d in v)

    def device(self, d: str) -> str:
        """A device id as is; a spec file (``.yaml``) relative to this file, as model paths are (it was read
        relative to the working directory, so ``--config ci/pyproject.toml`` did not find ``specs/x.yaml``)."""
        if not names_spec_file(d) or Path(d).is_absolute():
            return d
        return _display_path(resolved(self.path.parent / d))


def load_config(path: str | Path | None = None, required: bool = False) -> BudgetConfig:
    """Read ``[tool.hybridperf]`` from ``path`` (default ``./pyproject.toml``).

    A missing default file, or a file without ``[tool.hybridperf]``, gives an
    empty :class:`BudgetConfig`; a missing file named explicitly (``required``)
    is an error.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10 (requires-python >= 3.10): tomli, the same parser, is a dependency there
        import tomli as tomllib

    p = Path(path) if path is not None else Path("pyproject.toml")
    if not p.is_file():
        if required or path is not None:
            # until 2026-12-03 a directory or device was said not to exist
            if p.exists():
                raise BudgetError(f"config file {p} is not a regular file; pass a TOML file to --config")
            raise BudgetError(f"config file not found: {p}; check --config")
        return BudgetConfig()
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        both = _devices_twice(text, exc, tomllib) if isinstance(exc, tomllib.TOMLDecodeError) else ""
        raise BudgetError(f"{p}: {both}" if both else f"{p}: cannot parse TOML ({error_line(exc)}); fix the file "
                          "syntax") from exc
    tool = data.get("tool", {})
    if not isinstance(tool, dict):  # until 2026-12-03 `tool = 5` was exit 3, "AttributeError: 'int' object ..."
        raise BudgetError(f"{p}: key 'tool' must be a table ([tool.hybridperf]); fix the file")
    section = tool.get("hybridperf")
    if section is None:
        return BudgetConfig(path=p)
    return parse_config(section, p)


def _devices_twice(text: str, exc: Exception, tomllib: Any) -> str:
    """The fix, where TOML refused ``text`` because a table gives ``devices`` both as a list and as per-device tables
    (``devices = ["a100-sxm-80gb", "t4"]`` and ``[...devices."t4"]``, in either order, or as dotted keys), else "".
    Until 2026-12-05 that read TOML's own "Cannot declare ('tool', 'hybridperf', 'budgets', 'm.onnx', 'devices',
    't4') twice", naming no fix. ``tomllib``: the parser that raised ``exc``."""
    at = re.search(r"at line (\d+)", str(exc))
    lines = text.splitlines(keepends=True)
    if at is None or not 0 < int(at[1]) <= len(lines):
        return ""
    n = int(at[1])
    try:  # what the lines above the failing one declare, and the key path the failing line touches
        before = tomllib.loads("".join(lines[:n - 1]))
        table = next((_key_path(tomllib.loads(h)) for h in reversed(lines[:n - 1]) if re.match(r"\s*\[[^\[]", h)), ())
        line = lines[n - 1]
        key = re.match(r"\s*([^=#\[]+?)\s*=", line)
        if re.match(r"\s*\[[^\[]", line):  # a table header
            path = _key_path(tomllib.loads(line))
        elif key:  # a key of the table above, dotted or not
            path = table + _key_path(tomllib.loads(f"{key[1]} = 0"))
        else:
            return ""
    except (tomllib.TOMLDecodeError, TypeError):
        return ""
    at_model = len(path) >= 5 and path[:3] == ("tool", "hybridperf", "budgets") and path[4] == "devices"
    if not (at_model or path[:3] == ("tool", "hybridperf", "devices")):
        return ""
    owner = path[:5] if at_model else path[:3]
    given: Any = before
    for k in owner:
        given = given.get(k) if isinstance(given, dict) else None
    if not (isinstance(given, list) and len(path) > len(owner) or isinstance(given, dict) and path == owner):
        return ""  # not a list beside tables (a table declared twice, say): TOML's own words
    if not at_model:
        return (f"[tool.hybridperf] key 'devices' is a list of device ids, and line {n} gives it a table too; limits "
                f"per device go in a model's table ([tool.hybridperf.budgets.\"MODEL\".devices.\"ID\"])")
    device = path[5] if len(path) > 5 else next(iter(given), "ID")
    model = f'tool.hybridperf.budgets."{path[3]}"'
    return (f"[{model}] gives 'devices' both as a list and as a table per device (line {n}); keep one: the "
            f"tables alone ([{model}.devices.\"{device}\"], one per device to check, an empty one for the model's "
            "limits), or the list alone")


def _key_path(parsed: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys of a TOML document of one header or one dotted key (``{"tool": {"hybridperf": {}}}``) in order."""
    out: list[str] = []
    while isinstance(parsed, dict) and len(parsed) == 1:
        k, parsed = next(iter(parsed.items()))
        out.append(k)
    return tuple(out)


def parse_config(section: Any, path: Path) -> BudgetConfig:
    """Validate a parsed ``[tool.hybridperf]`` table (see the module docstring)."""
    w = _Where(path)
    top = "tool.hybridperf"
    if not isinstance(section, dict):
        w.fail(top, "must be a table")
    w.keys(section, top, _TOP_KEYS)
    budget = w.limit(section, top)
    devices = w.device_list(section["devices"], top) if "devices" in section else ()
    batch = w.batch(section, top)
    precision = w.precision(section, top)
    models = []
    budgets = section.get("budgets", {})
    if not isinstance(budgets, dict):
        w.fail(top, "key 'budgets' must be a table of model path -> limits")
    for key, entry in budgets.items():
        table = f'{top}.budgets."{key}"'
        if not isinstance(entry, dict):
            w.fail(table, "must be a table of limits")
        w.keys(entry, table, _MODEL_KEYS)
        m_devices: tuple[str, ...] | None = None
        overrides: dict[str, Budget] = {}
        raw_dev = entry.get("devices")
        if isinstance(raw_dev, dict):
            if not raw_dev:
                w.fail(table, "key 'devices' is an empty table; list at least one device")
            for dev, over in raw_dev.items():
                dtable = f'{table}.devices."{dev}"'
                if not isinstance(over, dict):
                    w.fail(dtable, "must be a table of limits (max-latency, max-memory, max-energy)")
                w.keys(over, dtable, _DEVICE_KEYS)
                overrides[w.device(dev)] = w.limit(over, dtable)
            m_devices = tuple(overrides)
        elif raw_dev is not None:
            m_devices = w.device_list(raw_dev, table)
        shapes = {}
        raw_shapes = entry.get("shapes", {})
        if not isinstance(raw_shapes, dict):
            w.fail(table, 'key \'shapes\' must be a table of input name -> "DxDxD"')
        for name, s in raw_shapes.items():
            dims = parse_dims(s) if isinstance(s, str) else None
            if dims is None:
                w.fail(table, f'key \'shapes\' entry {name!r} must be a string like "1x3x224x224", got {s!r}')
            # here, naming the file: until 2026-12-04 "0x3" and an absurd size failed later as "--shape x=0x3 has a
            # non-positive dim", naming a flag the command line never had
            if any(d <= 0 for d in dims):
                w.fail(table, f"key 'shapes' entry {name!r} is {s!r}: every dim must be >= 1")
            if numel(dims) > MAX_ELEMENTS:
                w.fail(table, f"key 'shapes' entry {name!r} is {s!r}: more than 2^48 elements, beyond what any "
                              "device can address; bind a smaller shape")
            shapes[name] = dims
        same = next((e.key for e in models if e.path == resolved(path.parent / key)), None)
        if same is not None:  # two tables for one file: which limits hold would depend on the spelling
            w.fail(table, f"names the same file as [{top}.budgets.\"{same}\"]; merge the two tables")
        models.append(
            ModelEntry(
                key=key,
                path=resolved(path.parent / key),
                budget=w.limit(entry, table),
                devices=m_devices,
                device_budgets=overrides,
                batch=w.batch(entry, table),
                shapes=shapes,
                precision=w.precision(entry, table),
            )
        )
    return BudgetConfig(path, budget, devices, batch, precision, tuple(models))


def resolve_targets(
    models: Sequence[str],
    config: BudgetConfig,
    cli_budget: Budget = Budget(),
    cli_devices: Sequence[str] = (),
    cli_batch: int | None = None,
    cli_shapes: Mapping[str, tuple[int, ...]] | None = None,
    cli_precision: str | None = None,
) -> list[Target]:
    """Combine command-line values and the config into one :class:`Target` per model.

    Raises
    ------
    BudgetError
        No model given and none configured; a model with no device; a
        model x device with no limit at all.
    """
    chosen = _chosen(models, config)
    targets = []
    for model, entry in chosen:
        devices = tuple(cli_devices) or _config_devices(config, entry)
        if not devices:
            raise BudgetError(f"no device for {model}: pass --device ID or set devices in [tool.hybridperf]")
        budgets = {}
        # one sheet once however its file is spelled (``-d x.yaml -d ./x.yaml`` were two result rows until 2026-12-04)
        unique: dict[str | Path, str] = {}
        for d in devices:
            unique.setdefault(sheet_key(d), d)
        for dev in unique.values():
            b = cli_budget.over(_config_budget(config, entry, dev))
            if b.empty:
                raise BudgetError(
                    f"no budget for {model} on {dev}: pass --max-latency/--max-memory/--max-energy "
                    f"or set them in [tool.hybridperf] of {config.path or 'pyproject.toml'}"
                )
            budgets[dev] = b
        targets.append(
            Target(
                model=model,
                devices=tuple(budgets),
                budgets=budgets,
                batch=_batch_for(cli_batch, cli_shapes, entry, config),
                shapes=dict(cli_shapes) if cli_shapes else dict(entry.shapes if entry else {}),
                precision=cli_precision or (entry.precision if entry else None) or config.precision,
            )
        )
    return targets


def _batch_for(cli_batch: int | None, cli_shapes: Any, entry: ModelEntry | None, config: BudgetConfig) -> int | None:
    """The batch a target binds: ``--batch``, else its model entry's ``batch``; shapes given for the model (``--shape``
    or the entry's ``shapes``) then bind it themselves, so the top-level default ``batch`` applies only to a model
    bound by neither (until 2026-12-04 ``batch = 1`` at the top and a model's ``shapes = {x = "8x3x32x32"}`` exited 2,
    "--batch 1 disagrees with the shapes bound", as ``check --help``'s own example suggests writing)."""
    if cli_batch is not None:
        return cli_batch
    if entry is not None and entry.batch:
        return entry.batch
    if cli_shapes or (entry is not None and entry.shapes):
        return None
    return config.batch


def _chosen(models: Sequence[str], config: BudgetConfig) -> list[tuple[str, ModelEntry | None]]:
    """The models to check with their config tables: ``models`` (one per file: ``m.onnx`` and ``./m.onnx`` are
    checked once, under the first spelling), else every model of ``config``."""
    if models:
        by_file: dict[Path, str] = {}
        for m in models:
            by_file.setdefault(resolved(m), m)
        return [(m, config.entry_for(m)) for m in by_file.values()]
    if not config.models:
        where = f" in [tool.hybridperf.budgets] of {config.path}" if config.path else ""
        raise BudgetError(f"no model to check: pass MODEL paths or list models{where} (see `hybridperf check --help`)")
    return [(_display_path(e.path), e) for e in config.models]


def _config_devices(config: BudgetConfig, entry: ModelEntry | None) -> tuple[str, ...]:
    """The devices the config gives a model: its table's, else ``[tool.hybridperf]``'s."""
    return entry.devices if entry and entry.devices else config.devices


def unchecked_defaults(models: Sequence[str], config: BudgetConfig, cli_devices: Sequence[str] = ()) -> list[str]:
    """One note per model whose per-device tables (``[tool.hybridperf.budgets."M".devices."t4"]``) leave out devices of
    ``[tool.hybridperf]``: the tables name the model's devices, as its ``devices = [...]`` list would, so the defaults
    are not checked for it (the precedence of the module docstring). Until 2026-12-05 they were dropped without a
    word, though a table of limits reads as if it only added limits. Empty where ``--device`` (``cli_devices``) names
    the devices."""
    if cli_devices or not config.devices:
        return []
    out = []
    for model, entry in _chosen(models, config):
        if entry is None or not entry.device_budgets:
            continue
        own = {sheet_key(d) for d in entry.device_budgets}
        left = [d for d in config.devices if sheet_key(d) not in own]
        if left:
            table = f'[tool.hybridperf.budgets."{entry.key}".devices."{left[0]}"]'
            out.append(f"{model} is checked on {', '.join(entry.device_budgets)} only: its tables of limits per device "
                       f"name its devices, in place of {', '.join(left)} of [tool.hybridperf]; to check it there too, "
                       f"add {table} (empty: the model's limits)")
    return out


def _config_budget(config: BudgetConfig, entry: ModelEntry | None, device: str) -> Budget:
    """The limits the config gives a model on a device: per-device table > model table > ``[tool.hybridperf]``. A
    spec file's table is found however ``--device`` spells its path: until 2026-12-04 ``-d ./specs/x.yaml`` missed
    the table of ``specs/x.yaml`` and its limits were silently left unchecked."""
    key = sheet_key(device)
    over = next((b for d, b in entry.device_budgets.items() if sheet_key(d) == key), Budget()) if entry else Budget()
    return over.over(entry.budget if entry else Budget()).over(config.budget)


@dataclass(frozen=True)
class Override:
    """A command-line value that replaces a different value of the config file (the flag wins).

    ``flag`` (``--max-latency``, ``--device``, ``--batch``, ``--precision``, ``--shape``) set to ``new`` replaces
    ``key`` = ``old`` of ``path`` for ``pairs`` (``"models/a.onnx on t4"``, the first of them and how many more).
    Limits are in SI units (:attr:`metric` says which); for ``--device``, ``old`` lists the configured devices left
    unchecked.
    """

    flag: str
    key: str
    new: Any
    old: Any
    path: Path
    pairs: str = ""
    metric: Metric | None = None


def overridden(
    models: Sequence[str],
    config: BudgetConfig,
    cli_budget: Budget = Budget(),
    cli_devices: Sequence[str] = (),
    cli_batch: int | None = None,
    cli_precision: str | None = None,
    cli_shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> list[Override]:
    """The command-line values that replace a different value of ``config`` (the precedence of the module docstring),
    so that ``check`` can say so: a limit set in the file and loosened on a workflow's command line is never
    replaced unseen. Empty without a config file or when nothing differs. ``cli_shapes`` (``--shape``) replace a
    model entry's ``shapes`` whole (until 2026-12-04 unsaid, where ``--batch`` and ``--precision`` said so)."""
    if config.path is None:
        return []
    out = []
    chosen = _chosen(models, config)
    if cli_devices:
        given = {sheet_key(d) for d in cli_devices}
        unchecked = {d for _, e in chosen for d in _config_devices(config, e) if sheet_key(d) not in given}
        if unchecked:
            out.append(Override("--device", "devices", tuple(dict.fromkeys(cli_devices)), tuple(sorted(unchecked)),
                                config.path))
    devices = {m: tuple(cli_devices) or _config_devices(config, e) for m, e in chosen}
    for metric in Metric:
        new = cli_budget.limit(metric)
        if new is None:
            continue
        old: dict[float, list[str]] = {}  # value in the file -> the model x device pairs that had it
        for model, entry in chosen:
            for dev in dict.fromkeys(devices[model]):
                was = _config_budget(config, entry, dev).limit(metric)
                if was is not None and was != new:
                    old.setdefault(was, []).append(f"{model} on {dev}")
        for was, where in old.items():
            pairs = where[0] if len(where) == 1 else f"{where[0]} and {len(where) - 1} more"
            out.append(Override(metric.flag, metric.key, new, was, config.path, pairs, metric))
    for flag, key, new in (("--batch", "batch", cli_batch), ("--precision", "precision", cli_precision)):
        if new is None:
            continue
        was = {(getattr(e, key) if e and getattr(e, key) else getattr(config, key)) for _, e in chosen} - {None, new}
        if was:
            out.append(Override(flag, key, new, tuple(sorted(was, key=str)), config.path))
    if cli_shapes:
        new_shapes = shapes_text(dict(sorted(cli_shapes.items())))
        was = {shapes_text(dict(sorted(e.shapes.items()))) for _, e in chosen if e and e.shapes} - {new_shapes}
        if was:
            out.append(Override("--shape", "shapes", new_shapes, tuple(sorted(was)), config.path))
    return out


def _display_path(p: Path) -> str:
    """``p`` relative to the working directory when below it (what CI annotations expect)."""
    try:
        return str(p.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)
