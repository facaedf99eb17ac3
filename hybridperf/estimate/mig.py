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
``compute_share=f_c, memory_share=f_m``); its slowdown is that roofline's on the slice against the whole GPU::

    r_k = max(compute_s / f_c, memory_s / f_m) + launch overhead  /  (the same with f_c = f_m = 1)

and the kernel's own time in the prediction (learned, or its roofline) is multiplied by ``r_k``, so the device
time on the slice is ``D' = sum_k t_k * r_k``. ``f_m`` is capped at 1 and falls back to ``f_c`` when the spec has no
DRAM capacity. Only the device runs slower on a slice: the host's dispatch time does not change, so the
profile's latency is composed as the prediction's was (:class:`~hybridperf.estimate.execution.ExecutionSummary`)::

    eager runtimes (max(host, device) + sync):  latency' = max(host, D') + (latency - max(host, D))
    device-only runtimes (device + sync):       latency' = latency + (D' - D)
    no execution summary (roofline-only, a per-device residual):  latency' = latency * D' / D

so a profile with the whole GPU's shares (``f_c = f_m = 1``: H100 SXM's ``7g.80gb``, 132 of 132 SMs) reproduces the
full-GPU prediction, whatever prices it (a residual, the cross-device model and its runtime's host time); the A100's
``7g`` profiles run 98 of its 108 SMs, so they read the prediction only where its kernels are host- or memory-bound.
Until 2026-12-03 the factor was ``latency_s / roofline_latency_s``, and where the prediction's roofline differs from
the kernels' sum (a runtime's launches and host time) the full profile read 5.543 ms against ``predict``'s 2.535 ms
(SqueezeNet 1.1 on ``a100-sxm-80gb``). Until 2026-12-04 the whole latency, host time included, was multiplied by the
kernels' roofline slowdown: SqueezeNet 1.1 (host 2.525 ms, device 660 us on ``a100-sxm-80gb``, host-bound) read
4.642 ms on ``1g.10gb``, where its 1.2 ms of device time on the slice still hides behind the host's 2.525 ms (now
2.535 ms). L2 cache, which MIG also partitions, is not modelled. A profile's compute share ``f_c`` is the SMs it
really gets over the GPU's where the sheet lists them (``sm_count``, as ``nvidia-smi mig -lgip`` prints it: 98 of
the A100's 108 SMs for ``7g.40gb``), else its compute slices over the GPU's (:func:`compute_fraction`).

The suggestion is the first profile, ordered by (memory, compute slices),
that fits and, when a latency budget is given, meets it
(``latency_profile <= max_latency``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    latency_s: float | None  # None: unknown (nothing priced, ops without a cost)
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
    #: what priced the whole-GPU latency every profile's is derived from: the prediction's
    #: :attr:`~hybridperf.estimate.pricing.Prediction.calibration` (``"none (roofline only)"``, ``"zero-shot from spec
    #: (cross-device model ...); runtime torch (...)"``, a calibrated model), for the report to state
    latency_source: str = ""
    #: the GPU's SM count (``compute_units.count``), None where the sheet gives none
    gpu_sm_count: int | None = None

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


def compute_fraction(profile: MigProfile, spec: DeviceSpec) -> float:
    """Share of the GPU's compute a profile gets: its SMs over the GPU's where the sheet lists both (``nvidia-smi mig
    -lgip``: A100's 7g.40gb runs 98 of its 108 SMs, 0.907; H100 SXM's 4g.40gb 64 of 132, 0.485), else its compute
    slices over the GPU's (until 2026-12-04 always the slices: 7g.40gb read the whole A100, 4g.40gb 4/7 = 0.571)."""
    if profile.sm_count is not None and spec.compute_unit_count:
        return min(1.0, profile.sm_count / spec.compute_unit_count)
    return profile.compute_fraction


def slice_latency_s(pred, compute_fraction: float, memory_fraction: float) -> float:
    """Roofline latency of a :class:`~hybridperf.estimate.pricing.Prediction`'s kernels on a slice of
    its device with these shares of compute and bandwidth (kernels that add no time stay at 0)."""
    return sum(
        price(kp.kernel.cost, kp.kernel.precision, pred.spec, pred.precision, compute_fraction, memory_fraction).latency_s
        for kp in pred.kernels
        if kp.kernel.counts_toward_time
    )


def device_time_on_slice_s(pred, compute_fraction: float, memory_fraction: float) -> tuple[float, float]:
    """``(D, D')``: the device time of ``pred``'s priced kernels as predicted (each kernel's own time ``t_k``, learned
    or roofline) and on a slice with these shares, ``sum_k t_k * r_k`` with ``r_k`` the kernel's roofline slowdown on
    the slice (1 for a kernel whose roofline is 0)."""
    whole = sliced = 0.0
    for kp in pred.kernels:
        if not kp.kernel.counts_toward_time:
            continue
        t = float(kp.latency_s)
        base = price(kp.kernel.cost, kp.kernel.precision, pred.spec, pred.precision).latency_s
        on = price(kp.kernel.cost, kp.kernel.precision, pred.spec, pred.precision, compute_fraction,
                   memory_fraction).latency_s
        whole += t
        sliced += t * (on / base) if base > 0 else t
    return whole, sliced


def profile_latency_s(pred, compute_fraction: float, memory_fraction: float) -> float:
    """The prediction's latency on a slice with these shares of compute and bandwidth: its device time slowed kernel
    by kernel (:func:`device_time_on_slice_s`), its host time unchanged, composed as the prediction was (module
    docstring). The whole GPU (1, 1) returns ``pred.latency_s`` itself."""
    if compute_fraction >= 1.0 and memory_fraction >= 1.0:
        return float(pred.latency_s)
    whole, sliced = device_time_on_slice_s(pred, compute_fraction, memory_fraction)
    if whole <= 0:  # no priced kernel: nothing runs slower
        return float(pred.latency_s)
    from hybridperf.estimate.execution import Composition

    ex = pred.execution
    if ex is None or ex.composition == Composition.SERIAL.value:
        return float(pred.latency_s) * sliced / whole
    host, device = float(ex.host_s), float(ex.device_s)
    device_on_slice = device * sliced / whole  # the summary's device time, slowed as its kernels are
    if ex.composition == Composition.ASYNC.value:
        return max(host, device_on_slice) + (float(pred.latency_s) - max(host, device))
    return float(pred.latency_s) + (device_on_slice - device)  # device + sync: the host's one call is unchanged


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

        reason = pred.memory.unknown_reason
        fix = ("bind its symbolic dims with --shape / --batch" if reason == "symbolic shapes"
               else f"pick a profile by hand from `hybridperf devices show {spec.id}`")
        raise InputError(
            f"{pred.analyzed.source}: peak memory unknown (no memory plan: {reason}); no MIG profile can be sized for "
            f"it: {fix}"
        )
    required = int(pred.peak_memory_bytes) + int(headroom_bytes)
    # the latency the prediction marks unknown (nothing priced and ops without a cost; or no kernel launched where the
    # runtime's call is not modelled, a lone Reshape under --roofline-only: until 2026-12-05 "0.0 us" that met any
    # --max-latency) is unknown on every profile (None, JSON null), never a 0
    unknown = "latency_s" in pred.unknown_figures
    options = []
    for prof in profiles:
        fc = compute_fraction(prof, spec)
        fm = memory_fraction(prof, spec)
        lat = None if unknown else profile_latency_s(pred, fc, fm)
        options.append(
            MigOption(
                profile=prof,
                compute_fraction=fc,
                memory_fraction=fm,
                required_bytes=required,
                fits_memory=required <= prof.memory_bytes,
                latency_s=lat,
                # an unknown latency is judged on its lower bound, 0 (caveats() then withholds the suggestion)
                meets_latency=None if max_latency_s is None else (lat or 0.0) <= max_latency_s,
            )
        )
    from hybridperf.estimate.runtime_memory import memory_figure

    return MigSuggestion(spec.id, int(pred.peak_memory_bytes), int(headroom_bytes), max_latency_s, tuple(options),
                         memory_figure(pred), str(getattr(pred, "calibration", "") or ""), spec.compute_unit_count)


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
    memory_estimate : bool
        The peak is a runtime's estimate (:func:`~hybridperf.estimate.runtime_memory.peak_kind` ``"estimate"``):
        whether a profile holds it is unknown, and ``undecided`` says so.
    unpriced : str
        Why the latency is unknown though every op has a cost
        (:attr:`~hybridperf.estimate.pricing.Prediction.unpriced_reason`), else "".
    """

    lower_bound: str = ""
    memory_lower_bound: bool = False
    undecided: str = ""
    accepted: bool = False
    latency_note: str = ""
    #: the peak is a runtime's estimate (neither exact nor a bound): every profile's "fits" is unknown
    memory_estimate: bool = False
    #: why the latency is unknown though every op has a cost (no kernel launched, the runtime's call not modelled:
    #: :attr:`~hybridperf.estimate.pricing.Prediction.unpriced_reason`), else ""
    unpriced: str = ""


EXACT = Caveats()


def latency_unknown(s: MigSuggestion, c: Caveats) -> bool:
    """Every profile's latency is unknown: a lower bound of 0 (nothing was priced), or no kernel launched where the
    runtime's call is not modelled (:attr:`Caveats.unpriced`)."""
    return bool(c.unpriced) or (bool(c.lower_bound) and not any(o.latency_s for o in s.options))


def caveats(pred, s: MigSuggestion, allow_unsupported: bool) -> Caveats:
    """The :class:`Caveats` of suggestion ``s`` for prediction ``pred``: which figures are lower bounds or unknown,
    and why the suggestion is undecided (exit 2), if it is. ``allow_unsupported`` accepts lower bounds (a latency
    budget still cannot be judged on an unknown latency, nor a profile's memory on a runtime peak that is an estimate:
    :func:`~hybridperf.estimate.runtime_memory.peak_kind`, as ``check --max-memory`` reads it unknown; until
    2026-12-04 ``mig`` judged such a peak as exact)."""
    from hybridperf.estimate.budget import uncosted_text
    from hybridperf.estimate.runtime_memory import peak_kind

    note = getattr(pred, "latency_note", "")
    c = Caveats(pred.lower_bound_reason, pred.analyzed.memory_is_lower_bound, accepted=allow_unsupported,
                latency_note=note, unpriced=pred.unpriced_reason)
    if peak_kind(pred) == "estimate":  # neither exact nor a bound: no "fits" or "does not fit" can rest on it
        rt = pred.runtime_memory
        why = (f"memory unknown ({rt.runtime}'s peak rests on {rt.unsized_reason}); no profile can be judged to hold "
               "it, with or without --allow-unsupported")
        return replace(c, undecided=why, memory_estimate=True)
    if s.chosen is None:  # nothing fits even on the lower bounds: a definite "no"
        return c
    ops = uncosted_text(pred)
    if latency_unknown(s, c) and s.max_latency_s is not None:
        cause = c.unpriced or f"no op priced: {ops}"
        why = f"latency unknown on every profile ({cause}); no latency budget can be checked against it"
    elif (c.lower_bound or c.memory_lower_bound) and not allow_unsupported:
        latency = "latency unknown (no op priced)" if latency_unknown(s, c) else "latency only a lower bound"
        parts = ((latency, c.lower_bound), ("memory only a lower bound", c.memory_lower_bound))
        what = ", ".join(w for w, on in parts if on)
        why = (what + (f" ({ops})" if ops else "")
               + "; add cost rules, or pass --allow-unsupported to size on the lower bound")
    else:
        return c
    return replace(c, undecided=why)


__all__ = [
    "Caveats",
    "compute_fraction",
    "DEFAULT_HEADROOM_BYTES",
    "EXACT",
    "MEMORY_SLICES_OF_7",
    "MigOption",
    "MigSuggestion",
    "NoMigProfilesError",
    "caveats",
    "device_time_on_slice_s",
    "latency_unknown",
    "memory_fraction",
    "profile_latency_s",
    "require_profiles",
    "slice_latency_s",
    "suggest",
]
