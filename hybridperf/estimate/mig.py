"""Multi-Instance GPU sizing: the smallest MIG profile that fits a model.

A profile *fits* when ``peak_memory + headroom <= profile memory``. The
headroom (default :data:`DEFAULT_HEADROOM_BYTES`, 500 MiB) stands for what the
runtime itself holds on the instance: the CUDA context, cuBLAS/cuDNN
workspaces, the allocator's slack.

Latency scaling model
---------------------
A profile with ``compute_slices / total_slices = f_c`` of the GPU's compute
and ``memory / dram capacity = f_m`` of its memory gets the same share of
peak FLOP/s and of DRAM bandwidth (MIG partitions memory controllers with the
memory: on an A100 80GB each 10 GB memory slice is 1/8 of the bandwidth; on a
GPU of 7 compute slices ``f_m`` is the nearest whole eighth, so H200's 18 GB
of 141 GB is 1/8).
Each kernel is priced again on the slice (:func:`hybridperf.estimate.pricing.price` with
``compute_share=f_c, memory_share=f_m``)::

    latency_profile = sum over kernels of
        max(compute_s / f_c, memory_s / f_m) + launch overhead (unchanged)

``f_m`` is capped at 1 and falls back to ``f_c`` when the spec has no DRAM
capacity. The profile's latency is the prediction's, scaled by this slowdown
of the kernels' roofline on the slice against the whole GPU::

    latency_s(profile) = pred.latency_s * latency_profile / latency_profile(f_c = f_m = 1)

so the full-GPU profile (``7g.80gb`` on an 80 GB part) reproduces the full-GPU
prediction, whatever prices it (a residual, the cross-device model and its
runtime's host time). Until 2026-12-03 the factor was
``latency_s / roofline_latency_s``, and where the prediction's roofline
differs from the kernels' sum (a runtime's launches and host time) the
full profile read 5.543 ms against ``predict``'s 2.535 ms (SqueezeNet 1.1 on
``a100-sxm-80gb``). L2 cache, which MIG also partitions, is not modelled.

The suggestion is the first profile, ordered by (memory, compute slices),
that fits and, when a latency budget is given, meets it
(``latency_profile <= max_latency``).
"""

from __future__ import annotations

from dataclasses import dataclass

from hybridperf.device.spec import DeviceSpec, MigProfile
from hybridperf.errors import InputError
from hybridperf.estimate.pricing import price

#: runtime memory kept free on the instance besides the model's peak (CUDA context etc.)
DEFAULT_HEADROOM_BYTES = 500 * 2**20


class NoMigProfilesError(InputError):
    """The device spec lists no MIG profiles."""


@dataclass(frozen=True)
class MigOption:
    """One profile judged against one prediction."""

    profile: MigProfile
    compute_fraction: float
    memory_fraction: float
    required_bytes: int
    fits_memory: bool
    latency_s: float
    meets_latency: bool | None  # None: no latency budget

    @property
    def suitable(self) -> bool:
        return self.fits_memory and self.meets_latency is not False


@dataclass(frozen=True)
class MigSuggestion:
    """Every profile's verdict, smallest first, and the chosen one (None if none fits)."""

    device: str
    peak_memory_bytes: int
    headroom_bytes: int
    max_latency_s: float | None
    options: tuple[MigOption, ...]
    #: which peak ``peak_memory_bytes`` is (:func:`hybridperf.estimate.runtime_memory.memory_figure`)
    memory_figure: str = ""

    @property
    def chosen(self) -> MigOption | None:
        return next((o for o in self.options if o.suitable), None)


def require_profiles(spec: DeviceSpec) -> tuple[MigProfile, ...]:
    """The spec's profiles, smallest first; :class:`NoMigProfilesError` when it lists none."""
    if not spec.mig_profiles:
        raise NoMigProfilesError(
            f"device {spec.id!r} lists no MIG profiles; MIG sizing needs a device with mig_profiles "
            f"(e.g. a100-sxm-80gb, h100-sxm)"
        )
    return tuple(sorted(spec.mig_profiles, key=lambda p: (p.memory_bytes, p.compute_slices)))


#: memory slices of a MIG GPU with 7 compute slices (A100, H100, H200): every profile holds a whole number of eighths
#: of the memory and of its controllers (NVIDIA MIG user guide, "Fraction of Memory": 1/8, 2/8, 4/8, 8/8)
MEMORY_SLICES_OF_7 = 8


def memory_fraction(profile: MigProfile, spec: DeviceSpec) -> float:
    """Share of DRAM bandwidth a profile gets: its memory over the device's DRAM capacity (<= 1); on a GPU of 7
    compute slices, the nearest whole eighth (H200's 1g.18gb holds 18 GB of 141 GB, 0.128, and gets 1/8 of the
    bandwidth: ``mig`` printed 0.128, 0.248 and 0.504 for its profiles until 2026-12-03)."""
    cap = spec.dram.capacity_bytes
    if not cap:
        return profile.compute_fraction
    share = min(1.0, profile.memory_bytes / cap)
    if profile.total_slices == 7:
        share = max(1, round(share * MEMORY_SLICES_OF_7)) / MEMORY_SLICES_OF_7
    return share


def slice_latency_s(pred, compute_fraction: float, memory_fraction: float) -> float:
    """Roofline latency of a :class:`~hybridperf.estimate.pricing.Prediction`'s kernels on a slice of
    its device with these shares of compute and bandwidth (kernels that add no time stay at 0)."""
    return sum(
        price(kp.kernel.cost, kp.kernel.precision, pred.spec, pred.precision, compute_fraction, memory_fraction).latency_s
        for kp in pred.kernels
        if kp.kernel.counts_toward_time
    )


def suggest(
    pred,
    headroom_bytes: int = DEFAULT_HEADROOM_BYTES,
    max_latency_s: float | None = None,
) -> MigSuggestion:
    """Judge every MIG profile of ``pred.spec`` against a :class:`~hybridperf.estimate.pricing.Prediction`."""
    spec = pred.spec
    profiles = require_profiles(spec)
    if pred.peak_memory_bytes is None:
        from hybridperf.errors import InputError

        raise InputError(
            f"{pred.analyzed.source}: peak memory unknown (no memory plan: {pred.memory.unknown_reason}); "
            "no MIG profile can be sized for it"
        )
    required = int(pred.peak_memory_bytes) + int(headroom_bytes)
    whole = slice_latency_s(pred, 1.0, 1.0)
    options = []
    for prof in profiles:
        fc = prof.compute_fraction
        fm = memory_fraction(prof, spec)
        lat = pred.latency_s * slice_latency_s(pred, fc, fm) / whole if whole else 0.0  # nothing priced: unknown
        options.append(
            MigOption(
                profile=prof,
                compute_fraction=fc,
                memory_fraction=fm,
                required_bytes=required,
                fits_memory=required <= prof.memory_bytes,
                latency_s=lat,
                meets_latency=None if max_latency_s is None else lat <= max_latency_s,
            )
        )
    from hybridperf.estimate.runtime_memory import memory_figure

    return MigSuggestion(spec.id, int(pred.peak_memory_bytes), int(headroom_bytes), max_latency_s, tuple(options),
                         memory_figure(pred))


@dataclass(frozen=True)
class Caveats:
    """What a suggestion's figures are: exact, lower bounds or unknown, and whether a suggestion can be made.

    lower_bound : str
        Why every profile latency is a lower bound (``"lower bound: 1 op uncosted: nonzero"``), else "".
    memory_lower_bound : bool
        The peak memory (so each "fits") is a lower bound.
    undecided : str
        Why no profile is suggested though one may fit (exit 2), else "".
    accepted : bool
        ``--allow-unsupported``: the suggestion is judged on the lower bounds.
    latency_note : str
        Why the prediction's latency, so every profile's, is unverified (a zero-shot model outside its training
        range: :attr:`~hybridperf.estimate.pricing.Prediction.latency_note`), else ""; judged all the same, as
        ``check`` does (``ok (unverified)``), and the reports say so.
    """

    lower_bound: str = ""
    memory_lower_bound: bool = False
    undecided: str = ""
    accepted: bool = False
    latency_note: str = ""


EXACT = Caveats()


def latency_unknown(s: MigSuggestion, c: Caveats) -> bool:
    """Every profile's latency is a lower bound of 0: nothing was priced."""
    return bool(c.lower_bound) and not any(o.latency_s for o in s.options)


def caveats(pred, s: MigSuggestion, allow_unsupported: bool) -> Caveats:
    """The :class:`Caveats` of suggestion ``s`` for prediction ``pred``: which figures are lower bounds or unknown,
    and why the suggestion is undecided (exit 2), if it is. ``allow_unsupported`` accepts lower bounds (a latency
    budget still cannot be judged on an unknown latency)."""
    from hybridperf.estimate.budget import uncosted_text

    note = getattr(pred, "latency_note", "")
    c = Caveats(pred.lower_bound_reason, pred.analyzed.memory_is_lower_bound, accepted=allow_unsupported,
                latency_note=note)
    if s.chosen is None:  # nothing fits even on the lower bounds: a definite "no"
        return c
    ops = uncosted_text(pred)
    if latency_unknown(s, c) and s.max_latency_s is not None:
        why = f"latency unknown on every profile (no op priced: {ops}); no latency budget can be checked against it"
    elif (c.lower_bound or c.memory_lower_bound) and not allow_unsupported:
        latency = "latency unknown (no op priced)" if latency_unknown(s, c) else "latency only a lower bound"
        parts = ((latency, c.lower_bound), ("memory only a lower bound", c.memory_lower_bound))
        what = ", ".join(w for w, on in parts if on)
        why = (what + (f" ({ops})" if ops else "")
               + "; add cost rules, or pass --allow-unsupported to size on the lower bound")
    else:
        return c
    return Caveats(c.lower_bound, c.memory_lower_bound, why, allow_unsupported, note)


__all__ = [
    "Caveats",
    "DEFAULT_HEADROOM_BYTES",
    "EXACT",
    "MEMORY_SLICES_OF_7",
    "MigOption",
    "MigSuggestion",
    "NoMigProfilesError",
    "caveats",
    "latency_unknown",
    "memory_fraction",
    "require_profiles",
    "slice_latency_s",
    "suggest",
]
