"""A block table: price search-space variants from their blocks' figures, without reading a graph.

Architecture search describes a variant by its own encoding: a sequence of blocks, each a hashable key
(e.g. ``(stage, first_in_stage, kernel, expansion, resolution)``). A :class:`BlockTable` keeps, per key, the
block's share of what a :class:`~hybridperf.api.Session` prediction is made of, and prices a variant whose
blocks are all known from those shares alone: no ONNX model is built, loaded or analysed.

The first time a variant holds a block the table does not know, it is built (the caller's ``build``) and
predicted through the session (block cache, whole pipeline): that prediction is the answer, and the table
learns each block's share from it. A block's share is what the session's composition of the model from
graph segments (:class:`hybridperf.analysis.blocks.Segments`) attributes to the segments lying between the
cuts at its ends:

* its op records' FLOPs;
* on every device, each fused kernel's roofline estimate (:func:`hybridperf.estimate.pricing.price`): its
  latency and energy, kernels of the segments' main grouping loop apart from the rest;
* on a GPU priced by the cross-device model (:class:`~hybridperf.residual.zero_shot.ZeroShotGpu`), each
  launched kernel's device time by group and its host weight (its :class:`Breakdown` row), and its roofline
  dynamic energy (the work the energy is priced on: the launches, not TVM's fused kernels).

A variant's figures are then formed exactly as :func:`hybridperf.estimate.pricing.predict_on` forms them, from
the same numbers in the same order: the roofline latency and energy are the Python ``sum`` of the kernels'
values in kernel order (each block's main kernels, then each block's rest); a GPU's latency is its model's
:meth:`~hybridperf.residual.zero_shot.ZeroShotGpu.latency_s`, step by step as
:meth:`~hybridperf.residual.zero_shot.Breakdown.latency_s` takes it (each group's device times added in
launch order from 0.0, the host floor once per launch, the runtime's composition); its energy the launches'
dynamic energy summed in launch order (:func:`~hybridperf.estimate.pricing.launched_dynamic_energy_j`) plus idle
power x latency; every energy capped by :func:`~hybridperf.estimate.pricing.bounded_energy`.
So a table prediction is ``==`` to ``Session.predict``'s on the same variant. Its notes are the session's too,
made by the functions the session makes them with: the energy note from the cap and the sheet's estimated power
figures; the latency note, on the zero-shot GPU model, from the sheet's figures against its training GPUs' at each
precision the blocks' operator-priced launches are at (recorded per block) and, for an adapted model, the sheet
it was adapted on (:meth:`_Device.latency_note`). :meth:`BlockTable.predict_many` vectorises those ordered
sums over many variants with ``np.add.accumulate`` (the same additions in the same order; where Python's ``sum``
compensates rounding, 3.12 on, it composes each variant alone). Each variant learned is composed from the table
right away and compared; a device whose figures or notes do not come out identical is priced through the session
from then on (never a figure or note the session would not give).

What is not composed:

* **peak memory** (TVM's planner over the whole call stream is not a sum of blocks):
  :attr:`TablePrediction.peak_memory_bytes` is None (unknown) for a table-priced variant; a variant that ran
  through the session carries the session's peak;
* a device whose residual is another kind (a per-device :class:`~hybridperf.residual.model.ResidualModel` or
  the cross-host CPU model: their kernel rows carry whole-model context features and their model-level
  booster reads :data:`~hybridperf.residual.features.MODEL_FEATURES`, among them the memory plan's planned
  bytes, which no sum of blocks gives; an adapted GPU model with a :class:`ResidualKernel`): every variant is
  predicted through the session on it (exact, at the session's speed);
* a model the block cache analyses whole (no safe cut, int8 regrouping): nothing is learned from it.

Blocks whose graph segments straddle a block boundary (no cut crossed by the boundary tensor alone, or a
kernel launched across it) are kept together: the group is keyed by the tuple of their keys, and a variant
is priced from the table only where its key sequence splits into known groups (the longest known group
first at each position). The caller's keys must determine each block's nodes, attributes, shapes, and so
where the graph is cut at its ends: the table checks this whenever a variant runs through the session (a
key known with other figures, or known alone but now inside a group, is an
:class:`~hybridperf.errors.InputError`), and ``verify_every`` re-runs every n-th table-priced variant
through the session and compares.
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from types import MappingProxyType
from typing import Any

from hybridperf.analysis.analyze import Analyzed
# the API's edge: an InputError raised to a caller outside the package names Python parameters (batch=N), not the
# CLI's flags; until 2026-12-04 the table's errors (a build() model with an unbound dim) kept the flags, since
# the session was called from this module, which the wrapper takes for the CLI
from hybridperf.api import _python_errors
from hybridperf.errors import InputError
from hybridperf.estimate.pricing import bounded_energy, price, price_kernel

__all__ = ["BlockTable", "TablePrediction"]

#: a variant's model and the tensors between its blocks (one fewer than blocks), built on demand
Build = Callable[[], tuple[Any, Sequence[str]]]

#: the fix named when two blocks of one key were built differently (the table assumes a key determines its block)
_KEY_FIX = ("give each block a key that differs wherever the block does (its configuration and input shape), or "
            "build the variant as its keys say")


@dataclass(frozen=True)
class TablePrediction:
    """A variant priced on one device (what :meth:`BlockTable.predict` returns per device id).

    Built by the table (the constructor checks nothing); its parameters are the attributes, in order.

    Parameters
    ----------
    device : str
        The device sheet's id.
    latency_s : float
        Latency in seconds, as :attr:`hybridperf.estimate.pricing.Prediction.latency_s` has it (the identical value).
    energy_j : float
        Energy per inference in joules, as :attr:`~hybridperf.estimate.pricing.Prediction.energy_j` has it (the
        identical value: capped at max power x latency).
    flops : int
        FLOPs of the variant (FLOP = 2 x MAC).
    peak_memory_bytes : int or None
        The session's peak in bytes (TVM's memory plan; None where the session has none) where the variant ran
        through it; None (unknown, never 0) where it was priced from the table: TVM's memory plan over the whole
        stream is not composed from blocks.
    from_table : bool
        Whether the figures were composed from the table (else the session predicted the built model).
    uncosted_ops : tuple of str, default ()
        Op types without a cost rule (then every figure is a lower bound, as the session's prediction says); only
        a variant predicted through the session can have any: the table learns from complete predictions only.
    latency_note : str, default ""
        What qualifies ``latency_s``, as :attr:`hybridperf.estimate.pricing.Prediction.latency_note` has it (the
        identical text): ``unverified: ...`` where the zero-shot GPU model prices a device unlike those it was
        trained on (its fp32 peak, or the peak of each precision its launches are priced at), or where an adapted
        model's sheet changed since; else "".
    energy_note : str, default ""
        What qualifies ``energy_j``, as :attr:`~hybridperf.estimate.pricing.Prediction.energy_note` has it (the
        identical text): capped at max power, and/or priced on a sheet whose power figures are estimates; else "".
        Until 2026-12-04 a table prediction had neither note, so a sweep on such a device read its figures as
        verified.
    """

    device: str
    latency_s: float
    energy_j: float
    flops: int
    peak_memory_bytes: int | None
    from_table: bool
    uncosted_ops: tuple[str, ...] = ()
    latency_note: str = ""
    energy_note: str = ""


@dataclass(frozen=True)
class _Share:
    """One block group's share of a prediction on one device: per fused kernel (its main grouping loop's, then
    the rest, each in kernel order) the roofline latency and energy; for a GPU priced by the cross-device model,
    its launched kernels' device times per :data:`~hybridperf.residual.zero_shot.GROUPS` entry, host weights and
    roofline dynamic energies (each in launch order), and the precisions its operator-priced launches (not at
    roofline) are priced at, which the latency note checks the sheet's peaks of
    (:func:`~hybridperf.residual.zero_shot.unverified_reason`)."""

    latency_s: tuple[tuple[float, ...], tuple[float, ...]]
    energy_j: tuple[tuple[float, ...], tuple[float, ...]]
    launch_s: tuple[tuple[float, ...], ...] = ()
    host_weights: tuple[float, ...] = ()
    launch_dynamic_j: tuple[float, ...] = ()
    priced_at: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Entry:
    flops: int
    #: device id -> share
    shares: Mapping[str, _Share]
    #: position in the table's :class:`_Pool` (-1: not in the table)
    index: int = field(default=-1, compare=False)


@dataclass
class _Device:
    """How one device is priced: ``kind`` "roofline" (no residual), "zero_shot" (the cross-device GPU model)
    or "session" (anything else: every variant through the session)."""

    spec: Any
    kind: str
    model: Any = None
    #: from a learned variant's breakdown (GPU): host floor and execution mode, what composing needs
    host_floor_s: float | None = None
    execution: Any = None
    #: the latency note of a zero-shot variant per set of precisions its launches are priced at (:meth:`latency_note`)
    latency_notes: dict[frozenset[str], str] = field(default_factory=dict)
    #: what an energy note says of the sheet's estimated power figures ("" where they are not), once known
    power_note: str | None = None

    def latency_note(self, priced_at: frozenset[str]) -> str:
        """:attr:`TablePrediction.latency_note` of a variant whose operator-priced launches are at ``priced_at``
        (the union of its blocks' :attr:`_Share.priced_at`) on the zero-shot GPU model (the only device kind that
        composes one; a roofline device has none): the note :meth:`~hybridperf.residual.zero_shot.ZeroShotGpu.apply`
        gives (:meth:`~hybridperf.residual.zero_shot.ZeroShotGpu.latency_note`). It depends on nothing else (the
        sheet, the model), so it is kept per ``priced_at``; :meth:`BlockTable._learn` checks it against the
        session's."""
        got = self.latency_notes.get(priced_at)
        if got is None:
            got = self.latency_notes[priced_at] = self.model.latency_note(self.spec, priced_at)
        return got

    def energy_note(self, capped: str) -> str:
        """:attr:`TablePrediction.energy_note`: ``capped`` (:func:`~hybridperf.estimate.pricing.bounded_energy`'s
        note), then what :func:`~hybridperf.estimate.pricing.predict_on` adds for a sheet whose power figures are
        estimates."""
        from hybridperf.estimate.pricing import energy_note, estimated_power_note

        if self.power_note is None:  # the sheet's alone: once (show_ref looks at the file)
            self.power_note = estimated_power_note(self.spec)
        return energy_note(capped, self.spec, self.power_note)


class BlockTable:
    """Predictions of search-space variants from a table of their blocks (see the module docstring).

    Parameters
    ----------
    devices : str, Path, DeviceSpec or sequence of them
        Devices every variant is priced on (one device alone is taken as a list of one, as
        :func:`hybridperf.api.predict` takes it).
    session : Session, optional
        Where unknown variants are predicted (a new one with the block cache by default; it must keep it on).
    precision : str, optional
        Precision override, as :func:`hybridperf.api.predict`'s (checked here, not at the first prediction).
    verify_every : int, default 0
        Also predict every n-th table-priced variant through the session and raise
        :class:`~hybridperf.errors.InputError` on any difference (0: never).
    roofline_only : str or collection of str, default ()
        Ids of devices priced by their sheet's roofline alone, as ``predict --roofline-only`` (and so from the
        table), even where a learned model would price them: every CPU sheet has the cross-host model, whose
        whole-model features send each variant through the session. One id alone is a collection of one.

    Raises
    ------
    InputError
        No device, two sheets with one id, ``session`` not a :class:`~hybridperf.api.Session` or one without its
        block cache, a ``precision`` that is no override, ``verify_every`` not an int >= 0, ``roofline_only`` not
        device ids or naming a device not in ``devices``.
    SpecError
        An unknown device id or an invalid spec file (:func:`hybridperf.api.device_spec`'s).

    Attributes
    ----------
    hits, learned, unlearnable, verified : int
        Variants priced from the table; variants predicted through the session whose blocks were learned;
        variants predicted through the session with nothing learned (analysed whole); table-priced variants
        re-checked through the session.

    Examples
    --------
    >>> table = BlockTable(["host-epyc-zen4-1c", "t4"])  # doctest: +SKIP
    >>> preds = table.predict(arch.block_keys, lambda: build_with_boundaries(arch))  # doctest: +SKIP
    >>> preds["t4"].latency_s  # doctest: +SKIP
    """

    @_python_errors
    def __init__(self, devices: Sequence[Any], session: Any = None, precision: str | None = None,
                 verify_every: int = 0, roofline_only: Iterable[str] = ()) -> None:
        from hybridperf.api import Session, _device_list, _precision

        # until 2026-12-04 a str was iterated ("t4": devices 't' and '4', roofline_only {'t', '4'}), a bad precision
        # or verify_every (-1, 2.5, "3") was kept and failed, or worked on, later, and session=5 was an AttributeError
        devices = _device_list(devices)
        if not devices:
            raise InputError("BlockTable needs at least one device; pass a list of device ids, e.g. BlockTable(['t4'])")
        if session is not None and not isinstance(session, Session):
            raise InputError(f"session must be a hybridperf.api.Session (or None: the table makes its own), got "
                             f"{type(session).__name__}")
        self.session = session if session is not None else Session(keep_analyses=0)
        if self.session.cache.blocks is None:
            raise InputError("BlockTable needs a Session with its block cache (Session(block_cache=True))")
        self.precision = _precision(precision)
        if isinstance(verify_every, bool) or not isinstance(verify_every, numbers.Integral) or verify_every < 0:
            raise InputError(f"verify_every must be an int >= 0 (0: never re-check), got {verify_every!r}")
        self.verify_every = int(verify_every)
        self._roofline_only = _ids("roofline_only", roofline_only)
        self._devices = [self._device(d) for d in devices]
        ids = [d.spec.id for d in self._devices]
        if len(set(ids)) != len(ids):
            raise InputError(f"BlockTable devices repeat an id: {ids}; name each device once")
        if not self._roofline_only <= set(ids):
            raise InputError(f"roofline_only names devices not in the table: {sorted(self._roofline_only - set(ids))} "
                             f"(devices: {ids})")
        self._groups: dict[tuple, _Entry] = {}
        #: key -> lengths of the known groups starting with it, longest first
        self._starts: dict[Hashable, tuple[int, ...]] = {}
        #: keys known only inside a group of several blocks
        self._grouped: set[Hashable] = set()
        self.hits = self.learned = self.unlearnable = self.verified = 0
        self._pool = _Pool()

    # ------------------------------------------------------------------ public

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(d.spec.id for d in self._devices)

    def __len__(self) -> int:
        """Known block groups."""
        return len(self._groups)

    def table_devices(self) -> tuple[str, ...]:
        """The devices priced from the table (the others go through the session for every variant)."""
        return tuple(d.spec.id for d in self._devices if d.kind != "session")

    @_python_errors
    def known(self, keys: Sequence[Hashable]) -> bool:
        """Whether the variant of block ``keys`` would be priced from the table (every block in a known group).

        Parameters
        ----------
        keys : sequence of hashable
            The variant's block keys, one per block, in graph order (as :meth:`predict` takes them).

        Returns
        -------
        bool
            True when ``keys`` splits into known block groups (the longest known group first at each position):
            :meth:`predict` would build no model (unless a device goes through the session for every variant,
            :meth:`table_devices`).

        Raises
        ------
        InputError
            ``keys`` empty (until 2026-12-04 an empty variant was known), a str, not a sequence, or holding an
            unhashable key.
        """
        return self._split(_variant_keys("keys", keys)) is not None

    @_python_errors
    def predict(self, keys: Sequence[Hashable], build: Build | None) -> dict[str, TablePrediction]:
        """The variant of block ``keys`` on every device: from the table when its blocks are known, else
        through the session on ``build()``, learning them.

        Parameters
        ----------
        keys : sequence of hashable
            The variant's block keys, one per block, in graph order; they must determine each block's nodes,
            attributes and shapes (the module docstring).
        build : callable or None
            Called without arguments only where the variant goes through the session (a block not in the table, a
            device priced by the session, a ``verify_every`` re-check): returns ``(model, boundaries)``, an ONNX
            model (``ModelProto`` or path) and the names of the ``len(keys) - 1`` tensors between its blocks.
            None where the caller means the variant to be known: an unknown block is then an
            :class:`~hybridperf.errors.InputError` naming it.

        Returns
        -------
        dict of str to TablePrediction
            Device id -> :class:`TablePrediction`, in the table's device order. Composed from the table its
            ``latency_s``, ``energy_j`` and ``flops`` are ``==`` to :meth:`hybridperf.api.Session.predict_on`'s
            and ``peak_memory_bytes`` is None (unknown).

        Raises
        ------
        InputError
            ``keys`` empty, a str, not a sequence or holding an unhashable key; ``build`` needed but not callable
            (the message names the first block not in the table), or returning other than ``(model, tensor
            names)`` or a count of names other than ``len(keys) - 1``; keys that do not determine their blocks
            (known with other figures, cut otherwise, or a ``verify_every`` re-check that differs); the model's
            own errors (:func:`hybridperf.api.analyze`'s, naming Python parameters).
        """
        return self._predict(_variant_keys("keys", keys), build, "build")

    def _predict(self, keys: tuple, build: Any, name: str) -> dict[str, TablePrediction]:
        """:meth:`predict` of checked ``keys``; ``name``: the parameter ``build`` is, for messages."""
        groups = self._split(keys)
        if groups is None or any(d.kind == "session" for d in self._devices):
            return self._through_session(keys, build, groups, name)
        out = self._compose(groups)
        self.hits += 1
        if self.verify_every and self.hits % self.verify_every == 0:
            self._verify(keys, build, out, name)
        return out

    @_python_errors
    def predict_many(self, variants: Iterable[tuple[Sequence[Hashable], Build | None]]
                     ) -> list[dict[str, TablePrediction]]:
        """:meth:`predict` of each ``(keys, build)``, in order; the known variants between two unknown ones are
        composed together, each figure's ordered sum vectorised over them with numpy (``np.add.accumulate``
        along the kernel order: the same additions in the same order as Python's ``sum``; where ``sum``
        compensates rounding, Python >= 3.12, each variant is composed alone).

        Parameters
        ----------
        variants : iterable of (keys, build)
            Each variant's block keys and its ``build`` (or None), as :meth:`predict` takes them.

        Returns
        -------
        list of dict of str to TablePrediction
            One per variant, in order, each ``==`` to what :meth:`predict` of it alone gives.

        Raises
        ------
        InputError
            ``variants`` a str or not iterable, an item that is not a ``(keys, build)`` pair, and :meth:`predict`'s
            errors, each naming the variant (``variants[3]``). The variants before the one in error have been
            predicted (and learned from).
        """
        if isinstance(variants, (str, bytes)) or not isinstance(variants, Iterable):
            raise InputError(f"variants must be an iterable of (keys, build) pairs, got {type(variants).__name__}")
        out: list[dict[str, TablePrediction] | None] = []
        known: list[tuple[int, tuple, Any, list[_Entry]]] = []
        batch = _SEQUENTIAL_SUM is not None and not any(d.kind == "session" for d in self._devices)
        for i, variant in enumerate(variants):
            if isinstance(variant, (str, bytes)) or not isinstance(variant, Sequence) or len(variant) != 2:
                raise InputError(f"variants[{i}] must be a (keys, build) pair, got {type(variant).__name__} "
                                 f"{variant!r:.60}")
            keys = _variant_keys(f"variants[{i}][0] (keys)", variant[0])
            build = variant[1]
            groups = self._split(keys) if batch else None
            if groups is None:
                self._flush(known, out)
                out.append(self._predict(keys, build, f"variants[{i}][1] (build)"))
            else:
                known.append((len(out), keys, build, groups))
                out.append(None)
        self._flush(known, out)
        return out  # type: ignore[return-value]

    def _flush(self, known: list, out: list) -> None:
        """Compose the variants of ``known`` together into their places in ``out``, and empty it."""
        if not known:
            return
        got = self._compose_batch([g for _, _, _, g in known])
        for (i, keys, build, _), preds in zip(known, got):
            out[i] = preds
            self.hits += 1
            if self.verify_every and self.hits % self.verify_every == 0:
                self._verify(keys, build, preds, f"variants[{i}][1] (build)")
        known.clear()

    def _unknown(self, keys: tuple) -> str:
        """Why ``keys`` (not known) needs a model: the first block where no known group starts."""
        i, n = 0, len(keys)
        while i < n:
            length = next((m for m in self._starts.get(keys[i], ()) if keys[i:i + m] in self._groups), None)
            if length is None:
                break
            i += length
        k = keys[i]
        if k in self._starts or k in self._grouped:
            return f"no known block group starts at block {k!r:.80} (keys[{i}]; it is known inside another group)"
        return f"block {k!r:.80} (keys[{i}]) is not in the table"

    def _compose_batch(self, variants: list[list[_Entry]]) -> list[dict[str, TablePrediction]]:
        """:meth:`_compose` of many variants, each ordered sum vectorised over them (:meth:`_Pool.sums`)."""
        from hybridperf.residual.zero_shot import GROUPS

        ids = [[e.index for e in v] for v in variants]
        batch = _Batch.of(ids)
        flops = [sum([e.flops for e in v]) for v in variants]
        out: list[dict[str, TablePrediction]] = [{} for _ in variants]
        pool = self._pool
        for dev in self._devices:
            did = dev.spec.id
            if dev.kind == "zero_shot" and not dev.model.weighted_host:
                dynamic = pool.sums(did, "launch_dynamic_j", batch).tolist()
                groups = [pool.sums(did, ("launch", gi), batch).tolist() for gi in range(len(GROUPS))]
                ex = dev.execution
                floor = dev.host_floor_s * math.exp(dev.model.log_scale.get("host", 0.0))
                host = pool.host_sums(floor if ex.host_per_launch else 0.0, pool.launches(did, ids))  # host_times
                scale = [math.exp(dev.model.log_scale.get(g, 0.0)) for g in GROUPS]
                for v in range(len(variants)):
                    # ZeroShotGpu.latency_s: Breakdown.latency_s's composition, times exp(0.0) without a kernel
                    device = [groups[gi][v] * scale[gi] for gi in range(len(GROUPS))]
                    latency = float(ex.compose([host[v]], device) * math.exp(0.0))
                    energy, capped = bounded_energy(dynamic[v] + dev.spec.idle_power_w * latency, latency, dev.spec)
                    note = dev.latency_note(_priced_at(variants[v], did))
                    out[v][did] = TablePrediction(did, latency, energy, flops[v], None, True, (), note,
                                                  dev.energy_note(capped))
            elif dev.kind == "zero_shot":
                for v, entries in enumerate(variants):
                    out[v][did] = self._compose(entries)[did]
            else:
                latency = pool.sums(did, "latency_s", batch).tolist()
                energy = pool.sums(did, "energy_j", batch).tolist()
                for v in range(len(variants)):  # a roofline device: no latency note
                    e, capped = bounded_energy(energy[v], latency[v], dev.spec)
                    out[v][did] = TablePrediction(did, latency[v], e, flops[v], None, True, (), "",
                                                  dev.energy_note(capped))
        return out

    def stats(self) -> dict[str, int]:
        return {"table_groups": len(self._groups), "table_hits": self.hits, "table_learned": self.learned,
                "table_unlearnable": self.unlearnable, "table_verified": self.verified}

    # ------------------------------------------------------------------ devices

    def _device(self, device: Any) -> _Device:
        from hybridperf.residual.zero_shot import ZeroShotGpu

        spec = self.session.spec(device)
        if spec.id in self._roofline_only:
            return _Device(spec, "roofline")
        model = self.session.residual(spec, None)
        if model is None:
            return _Device(spec, "roofline")
        if type(model) is ZeroShotGpu and model.kernel_time is None and model.kernel is None:
            return _Device(spec, "zero_shot", model)
        return _Device(spec, "session", model)

    def _residual(self, dev: _Device) -> Any:
        """The ``residual`` argument of the session's prediction on ``dev``: None (roofline) for a
        ``roofline_only`` device, else ``"auto"``."""
        return None if dev.spec.id in self._roofline_only else "auto"

    # ------------------------------------------------------------------ composing

    def _split(self, keys: tuple) -> list[_Entry] | None:
        """The known groups ``keys`` splits into (the longest known group first at each position), or None."""
        out = []
        i, n = 0, len(keys)
        groups, starts = self._groups, self._starts
        while i < n:
            for length in starts.get(keys[i], ()):
                e = groups.get(keys[i:i + length])
                if e is not None:
                    out.append(e)
                    i += length
                    break
            else:
                return None
        return out

    def _compose(self, entries: list[_Entry]) -> dict[str, TablePrediction]:
        """The figures of the variant made of ``entries``, formed as the session forms them (module docstring)."""
        flops = sum([e.flops for e in entries])
        out = {}
        for dev in self._devices:
            did = dev.spec.id
            shares = [e.shares[did] for e in entries]
            if dev.kind == "zero_shot":
                latency = self._gpu_latency(dev, shares)
                # pricing.launched_dynamic_energy_j: the launches' dynamic energy, summed in launch order
                dynamic = sum(chain.from_iterable([s.launch_dynamic_j for s in shares]))
                energy = dynamic + dev.spec.idle_power_w * latency
                note = dev.latency_note(_priced_at(entries, did))
            else:
                latency = sum(_in_order(shares, "latency_s"))
                energy = sum(_in_order(shares, "energy_j"))
                note = ""  # a roofline device: no latency note
            energy, capped = bounded_energy(energy, latency, dev.spec)
            out[did] = TablePrediction(did, latency, energy, flops, None, True, (), note, dev.energy_note(capped))
        return out

    @staticmethod
    def _gpu_latency(dev: _Device, shares: list[_Share]) -> float:
        """:meth:`ZeroShotGpu.latency_s` of the :class:`Breakdown` of the blocks' launches, step by step as
        :meth:`Breakdown.latency_s` takes them (no :class:`ResidualKernel`: such a model is priced by the session)."""
        from hybridperf.residual.zero_shot import GROUPS

        model, scale = dev.model, dev.model.log_scale
        parts = [s.launch_s for s in shares]
        # Breakdown._group_sums: out[g] += t in launch order, from 0.0
        group_sums = [(g, _fold(chain.from_iterable([p[gi] for p in parts]))) for gi, g in enumerate(GROUPS)]
        n = sum([len(s.host_weights) for s in shares])
        weights = list(chain.from_iterable([s.host_weights for s in shares])) if model.weighted_host else ()
        floor = dev.host_floor_s * math.exp(scale.get("host", 0.0))
        host = float(sum(dev.execution.host_times(n, floor, weights)))
        device = [t * math.exp(scale.get(g, 0.0)) for g, t in group_sums]
        return float(dev.execution.compose([host], device) * math.exp(0.0))

    # ------------------------------------------------------------------ the session path

    def _through_session(self, keys: tuple, build: Any, groups: list[_Entry] | None,
                         name: str) -> dict[str, TablePrediction]:
        if groups is None:
            why = self._unknown(keys)
        else:
            why = f"{next(d.spec.id for d in self._devices if d.kind == 'session')} is priced through the session"
        model, boundaries = _built(build, name, why, len(keys))
        s = self.session
        analyzed = s.analyze(model)
        preds = {d.spec.id: s.predict_on(analyzed, d.spec, self.precision, residual=self._residual(d))
                 for d in self._devices}
        out = {i: TablePrediction(i, p.latency_s, p.energy_j, p.flops, p.peak_memory_bytes, False,
                                  tuple(p.uncosted_ops), p.latency_note, p.energy_note)
               for i, p in preds.items()}
        if groups is None:
            if self._learn(keys, boundaries, analyzed, out):
                self.learned += 1
            else:
                self.unlearnable += 1
        return out

    def _verify(self, keys: tuple, build: Any, got: dict[str, TablePrediction], name: str) -> None:
        model, _ = _built(build, name, f"verify_every={self.verify_every} re-checks this variant through the session",
                          len(keys))
        analyzed = self.session.analyze(model)
        self.verified += 1
        for dev in self._devices:
            p = self.session.predict_on(analyzed, dev.spec, self.precision, residual=self._residual(dev))
            t = got[dev.spec.id]
            if (p.latency_s, p.energy_j, p.flops) != (t.latency_s, t.energy_j, t.flops):
                raise InputError(f"block table differs from the session on {dev.spec.id} for {keys!r}: latency "
                                 f"{t.latency_s!r} vs {p.latency_s!r}; the block keys do not determine the blocks: "
                                 f"{_KEY_FIX}")
            if (p.latency_note, p.energy_note) != (t.latency_note, t.energy_note):
                raise InputError(f"block table notes differ from the session's on {dev.spec.id} for {keys!r}: "
                                 f"{(t.latency_note, t.energy_note)!r} vs {(p.latency_note, p.energy_note)!r}; the "
                                 f"block keys do not determine the blocks: {_KEY_FIX}")

    # ------------------------------------------------------------------ learning

    def _learn(self, keys: tuple, boundaries: tuple[str, ...], analyzed: Analyzed,
               session_preds: dict[str, TablePrediction]) -> bool:
        """Learn the block groups of one variant predicted through the session; False when it was analysed whole
        (nothing to learn) or a device's composition of it is not the session's (that device leaves the table)."""
        seg = analyzed.segments
        if seg is None or analyzed.uncosted_ops:
            return False
        # a block boundary is a cut crossed by its tensor alone
        cut_at = {live[0]: c for c, live in enumerate(seg.cut_tensors) if len(live) == 1}
        open_ = {i for i, t in enumerate(boundaries) if t not in cut_at}
        bounds = [cut_at.get(t) for t in boundaries]
        launches = {}
        for dev in self._devices:
            if dev.kind == "zero_shot":
                bd, ls = dev.model.breakdown(analyzed, dev.spec, self.precision)
                dev.host_floor_s, dev.execution = bd.host_floor_s, bd.execution
                launches[dev.spec.id] = (bd, ls)
        # the normaliser's folds a runtime runs every call (as_run_by, in the breakdown) are launched after the graph,
        # in no block: such a variant is priced through the session (until 2026-12-05 the breakdown read them as folded)
        n_records = len(analyzed.analysis.records)
        if any(i >= n_records for _, ls in launches.values() for ln in ls for i in ln.op_indices):
            return False
        while True:
            runs = _runs(len(keys), open_)
            groups = _segment_groups(runs, bounds, len(seg.record_spans))
            if groups is None:
                return False
            rec_group = [g for (a, b), g in zip(seg.record_spans, groups) for _ in range(b - a)]
            crossing = _crossing(launches.values(), rec_group, runs)
            if not crossing:
                break
            open_ |= crossing
        entries = self._entries(runs, groups, rec_group, analyzed, launches)
        for (a, b), entry in zip(runs, entries):
            self._add(keys[a:b], entry)
        # composing the variant from what was just learned, alone and as a batch, must give the session's figures
        pooled = [self._groups[keys[a:b]] for a, b in runs]
        for again in (self._compose(pooled), self._compose_batch([pooled])[0]):
            for dev in self._devices:
                p, t = session_preds[dev.spec.id], again[dev.spec.id]
                if dev.kind != "session" and _said(p) != _said(t):
                    dev.kind = "session"  # never a figure or note the session would not give
        return True

    def _entries(self, runs: list[tuple[int, int]], seg_group: list[int], rec_group: list[int], analyzed: Analyzed,
                 launches: dict[str, Any]) -> list[_Entry]:
        """Each run's share of the variant: FLOPs, and per device its kernels' and launches' values."""
        seg = analyzed.segments
        records = analyzed.analysis.records
        n = len(runs)
        flops = [0] * n
        for r, g in zip(records, rec_group):
            flops[g] += r.cost.flops
        from hybridperf.residual.zero_shot import GROUPS

        kernel_group = [seg_group[s] for s in seg.kernel_segments]
        shares: list[dict[str, _Share]] = [{} for _ in range(n)]
        for dev in self._devices:
            did = dev.spec.id
            cols: list[list[list]] = [[[] for _ in range(4)] for _ in range(n)]
            for i, (k, g) in enumerate(zip(analyzed.kernels, kernel_group)):
                est = price_kernel(k, records, dev.spec, self.precision)
                rest = 1 if i >= seg.first_rest_kernel else 0
                c = cols[g]
                c[0 + rest].append(est.latency_s)
                c[2 + rest].append(est.energy_j)
            lcols: list[list[list]] = [[[] for _ in GROUPS] for _ in range(n)]
            weights: list[list[float]] = [[] for _ in range(n)]
            dynamic: list[list[float]] = [[] for _ in range(n)]
            priced_at: list[set[str]] = [set() for _ in range(n)]
            if did in launches:
                bd, ls = launches[did]
                hw = bd.host_weights or (1.0,) * len(ls)
                priced = bd.priced_precisions
                for j, ln in enumerate(ls):
                    g = rec_group[ln.op_indices[0]]
                    lcols[g][GROUPS.index(bd.group[j])].append(bd.device_s[j])
                    if priced[j] is not None:
                        priced_at[g].add(priced[j])
                    weights[g].append(hw[j])
                    # a launch's cost is at the precision override already (ZeroShotGpu prices it so)
                    dynamic[g].append(price(ln.cost, ln.precision, dev.spec).dynamic_energy_j)
            for g in range(n):
                c = [tuple(x) for x in cols[g]]
                shares[g][did] = _Share((c[0], c[1]), (c[2], c[3]), tuple(tuple(x) for x in lcols[g]),
                                        tuple(weights[g]), tuple(dynamic[g]), frozenset(priced_at[g]))
        return [_Entry(f, MappingProxyType(s)) for f, s in zip(flops, shares)]

    def _add(self, group: tuple, entry: _Entry) -> None:
        known = self._groups.get(group)
        if known is not None:
            if known != entry:
                raise InputError(f"block group {group!r} priced differently in two variants: the block keys do not "
                                 f"determine the blocks: {_KEY_FIX}")
            return
        if len(group) > 1:
            alone = [k for k in group if (k,) in self._groups]
            if alone:
                raise InputError(f"block {alone[0]!r} was cut alone before and is now inside group {group!r}: the "
                                 f"block keys do not determine where the graph is cut: {_KEY_FIX}")
            self._grouped.update(group)
        elif group[0] in self._grouped:
            raise InputError(f"block {group[0]!r} was inside a group before and is now cut alone: the block keys do "
                             f"not determine where the graph is cut: {_KEY_FIX}")
        entry = replace(entry, index=self._pool.add(entry))
        self._groups[group] = entry
        lengths = set(self._starts.get(group[0], ())) | {len(group)}
        self._starts[group[0]] = tuple(sorted(lengths, reverse=True))


class _Pool:
    """The table's figures as flat arrays, for composing many variants at once (:meth:`BlockTable.predict_many`).

    Per device and figure, every entry's values lie in one float array (position 0 holds 0.0, the start of every
    sum), each entry's at ``(start, length)``; a figure with main and rest kernels has both parts (``(name, 0)``,
    ``(name, 1)``).
    """

    def __init__(self) -> None:
        self._values: dict[tuple, list[float]] = {}
        self._ranges: dict[tuple, list[tuple[int, int]]] = {}
        self._launches: dict[str, list[int]] = {}
        self._arrays: dict[tuple, tuple[Any, Any, Any]] = {}
        self.n = 0

    def _put(self, key: tuple, values: Sequence[float]) -> None:
        vals = self._values.setdefault(key, [0.0])
        self._ranges.setdefault(key, []).append((len(vals), len(values)))
        vals.extend(values)
        self._arrays.pop(key, None)

    def add(self, entry: _Entry) -> int:
        """Put ``entry``'s figures in; its index."""
        for did, s in entry.shares.items():
            for name in ("latency_s", "energy_j"):
                for part in (0, 1):
                    self._put((did, name, part), getattr(s, name)[part])
            self._put((did, "launch_dynamic_j", 0), s.launch_dynamic_j)
            for gi, times in enumerate(s.launch_s):
                self._put((did, ("launch", gi), 0), times)
            self._launches.setdefault(did, []).append(len(s.host_weights))
            self._arrays.pop((did, "launches"), None)
        self.n += 1
        return self.n - 1

    def _array(self, key: tuple) -> tuple[Any, Any, Any]:
        got = self._arrays.get(key)
        if got is None:
            import numpy as np

            r = np.array(self._ranges[key], dtype=np.int64).reshape(-1, 2)
            got = self._arrays[key] = (np.array(self._values[key], dtype=np.float64), r[:, 0], r[:, 1])
        return got

    def launches(self, did: str, ids: list[list[int]]) -> list[int]:
        """Launched kernels of each variant (entries ``ids``) on ``did``."""
        counts = self._launches[did]
        return [sum([counts[i] for i in v]) for v in ids]

    @staticmethod
    def host_sums(floor: float, n: list[int]) -> list[float]:
        """``sum([floor] * k)`` for each ``k`` in ``n`` (:meth:`Breakdown.host_s`: the per-launch host time, 0.0
        where the runtime launches from one host call, added in turn)."""
        import numpy as np

        acc = np.add.accumulate(np.concatenate([[0.0], np.full(max(n, default=0), floor)]))
        return acc[n].tolist()

    def sums(self, did: str, name: Any, batch: _Batch) -> Any:
        """Per variant of ``batch``, ``0.0 + x0 + x1 + ...`` of figure ``name`` in the composed order: every entry's
        main part, then (figures with two parts) every entry's rest; vectorised over the variants
        (``np.add.accumulate`` down the kernel order, one vector addition per position: the recurrence, no
        reassociation; a shorter variant's padding adds 0.0)."""
        import numpy as np

        flat, var_of = batch.flat, batch.var_of
        ranges = []
        base = 0
        values = []
        for part in (0, 1):
            key = (did, name, part)
            if key not in self._ranges:
                continue
            vals, st, ln = self._array(key)
            ln = ln[flat]
            if part and not ln.any():
                continue  # no rest kernels in these variants
            ranges.append((st[flat] + base, ln))
            values.append(vals)
            base += len(vals)
        if len(ranges) == 1:
            st, ln = ranges[0]
            own = var_of
        else:  # order by variant, then part; entries keep their order within a part (stable sort)
            order = np.argsort(np.concatenate([var_of, var_of]), kind="stable")
            st = np.concatenate([r[0] for r in ranges])[order]
            ln = np.concatenate([r[1] for r in ranges])[order]
            own = np.concatenate([var_of, var_of])[order]
        pool = values[0] if len(values) == 1 else np.concatenate(values)
        ends = np.cumsum(ln)
        begin = ends - ln
        total = np.bincount(own, weights=ln, minlength=batch.n).astype(np.int64)
        first = np.cumsum(total) - total  # each variant's first element among all variants' elements
        rep = np.repeat(np.arange(len(ln)), ln)
        intra = np.arange(int(ends[-1]) if len(ends) else 0) - begin[rep]
        idx = np.zeros((int(total.max(initial=0)) + 1, batch.n), dtype=np.int64)  # row 0: the 0.0 sums start from
        idx[begin[rep] - first[own[rep]] + intra + 1, own[rep]] = st[rep] + intra
        return np.add.accumulate(pool[idx], axis=0)[-1]


@dataclass(frozen=True)
class _Batch:
    """Variants composed together: each one's entries (:attr:`_Entry.index`) flat, and whose each is."""

    n: int
    flat: Any
    var_of: Any

    @classmethod
    def of(cls, ids: list[list[int]]) -> _Batch:
        import numpy as np

        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64)
        return cls(len(ids), flat, np.repeat(np.arange(len(ids)), [len(v) for v in ids]))


def _ids(name: str, ids: Any) -> frozenset[str]:
    """``ids`` checked: device ids, one str alone being a collection of one."""
    if isinstance(ids, str):
        return frozenset([ids])
    if isinstance(ids, bytes) or not isinstance(ids, Iterable) or not all(isinstance(i, str) for i in ids):
        raise InputError(f"{name} must be device ids (str), e.g. {name}=['host-epyc-zen4-1c'], got {ids!r:.80}")
    return frozenset(ids)


def _variant_keys(name: str, keys: Any) -> tuple:
    """``keys`` checked: a sequence of hashable block keys, at least one (``name``: the parameter, for the message).
    Until 2026-12-04 a str was taken as one key per character, an empty variant was known, and a key that is no
    key (a list) raised Python's TypeError."""
    if isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
        one = f" (one key alone: ({keys!r:.60},))" if isinstance(keys, (str, bytes)) else ""
        raise InputError(f"{name} must be a sequence of hashable block keys, one per block{one}, got "
                         f"{type(keys).__name__}")
    keys = tuple(keys)
    if not keys:
        raise InputError(f"{name} is empty: a variant needs at least one block key")
    for i, k in enumerate(keys):
        try:
            hash(k)
        except TypeError:
            raise InputError(f"{name}[{i}] = {k!r:.60} is not hashable: make each block key hashable (a tuple, "
                             "not a list)") from None
    return keys


def _built(build: Any, name: str, why: str, n_keys: int) -> tuple[Any, tuple[str, ...]]:
    """``build()``, checked: ``(model, tensor names between blocks)``, ``n_keys - 1`` names for a variant of ``n_keys``
    blocks; ``why``: the block that makes it needed. Every call of a ``build`` is checked here (until 2026-12-04 the
    ``verify_every`` re-check took a build giving the wrong count of names)."""
    if not callable(build):
        raise InputError(f"{why} and {name} is {build!r:.60}: pass {name}=a callable returning (model, tensor names "
                         "between blocks) to predict it through the session and learn its blocks")
    got = build()
    if not isinstance(got, Sequence) or isinstance(got, (str, bytes)) or len(got) != 2:
        raise InputError(f"{name}() must return (model, tensor names between blocks), got {type(got).__name__}")
    model, boundaries = got
    if isinstance(boundaries, (str, bytes)) or not isinstance(boundaries, Iterable):
        raise InputError(f"{name}() must return (model, tensor names between blocks): the names are a sequence of "
                         f"str, got {type(boundaries).__name__} {boundaries!r:.60}")
    boundaries = tuple(boundaries)
    bad = [b for b in boundaries if not isinstance(b, str)]
    if bad:
        raise InputError(f"{name}() must return (model, tensor names between blocks): {bad[0]!r:.60} is no tensor name")
    if len(boundaries) != n_keys - 1:
        raise InputError(f"{n_keys} block keys need {n_keys - 1} tensors between blocks; "
                         f"{name}() gave {len(boundaries)}")
    return model, boundaries


def _said(p: TablePrediction) -> tuple:
    """What a prediction says that composing must reproduce: its figures and notes."""
    return p.latency_s, p.energy_j, p.flops, p.latency_note, p.energy_note


def _priced_at(entries: Sequence[_Entry], did: str) -> frozenset[str]:
    """The precisions the operator-priced launches of a variant made of ``entries`` are priced at on ``did``."""
    return frozenset().union(*[e.shares[did].priced_at for e in entries])


def _in_order(shares: list[_Share], field: str) -> list[float]:
    """A kernel figure of every block, in the composed model's kernel order: each block's main kernels, then
    each block's rest (:attr:`hybridperf.analysis.blocks.Segments.first_rest_kernel`)."""
    parts = [getattr(s, field) for s in shares]
    return list(chain(chain.from_iterable([p[0] for p in parts]), chain.from_iterable([p[1] for p in parts])))


def _fold(values: Iterable[float]) -> float:
    """``0.0 + values[0] + values[1] + ...`` from left to right (a loop's ``+=``): ``sum`` where it adds that way
    (Python < 3.12; 3.12 compensates rounding), else :func:`functools.reduce`."""
    return _SEQUENTIAL_SUM(values, 0.0) if _SEQUENTIAL_SUM is not None else functools.reduce(operator.add, values, 0.0)


#: ``sum`` when it adds floats from left to right without compensation, else None
_SEQUENTIAL_SUM = sum if sum([1.0, 1e100, 1.0, -1e100]) == 0.0 else None


def _runs(n_blocks: int, open_: set[int]) -> list[tuple[int, int]]:
    """Maximal runs of blocks ``[a, b)`` not separated by a cut (``open_``: boundaries without one)."""
    runs, a = [], 0
    for i in range(n_blocks - 1):
        if i not in open_:
            runs.append((a, i + 1))
            a = i + 1
    runs.append((a, n_blocks))
    return runs


def _segment_groups(runs: list[tuple[int, int]], bounds: list[int | None], n_segments: int) -> list[int] | None:
    """The run (block group) of each graph segment: those between the cuts at the run's ends (``bounds``: the cut
    of each boundary, None where there is none); None when the boundaries' cuts are not in graph order."""
    out: list[int] = []
    for g, (a, b) in enumerate(runs):
        first = 0 if a == 0 else bounds[a - 1] + 1
        end = n_segments if b == len(bounds) + 1 else bounds[b - 1] + 1
        if first != len(out) or end <= first:
            return None
        out.extend([g] * (end - first))
    return out if len(out) == n_segments else None


def _crossing(launch_sets: Iterable[tuple[Any, Any]], rec_group: list[int], runs: list[tuple[int, int]]) -> set[int]:
    """Boundaries (between runs) that a launched kernel spans, or that launches cross out of order."""
    out: set[int] = set()
    for _, ls in launch_sets:
        last = 0
        for ln in ls:
            gs = sorted({rec_group[i] for i in ln.op_indices})
            lo, hi = min(gs[0], last), max(gs[-1], last)  # spanning runs, or back into an earlier one
            if gs[0] >= last:
                lo = gs[0]
            for g in range(lo, hi):
                out.add(runs[g][1] - 1)  # the boundary after run g
            last = max(last, gs[-1])
    return out
