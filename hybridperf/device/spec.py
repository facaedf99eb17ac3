"""Device spec sheets: schema, units and loading.

One YAML file per device in ``hybridperf/data/hw_specs/``; the file name (without ``.yaml``) is
the device id. Every number is written as ``{value, unit, source}`` so that a
unit mistake (``GB/s`` where ``TFLOP/s`` belongs) is caught at load time and
every figure can be traced to where it came from. Schema version 1::

    schema_version: 1
    id: a100-sxm-80gb              # must equal the file name
    name: NVIDIA A100 SXM4 80GB
    kind: gpu                      # gpu | cpu | npu
    peak_compute:                  # dense peaks, one entry per precision
      fp32: {value: 19.5, unit: TFLOP/s, source: "NVIDIA A100 datasheet"}
      int8: {value: 624, unit: TOPS, source: "..."}
    sparsity:                      # optional, never folded into peak_compute
      structured_2_4: {speedup: 2.0, source: "..."}
    memory:                        # one entry per level: dram, l2, llc, sram, flash
      dram:
        bandwidth: {value: 2039, unit: GB/s, source: "..."}
        capacity: {value: 80, unit: GB, source: "..."}
        attainable_bandwidth: {value: 1700, unit: GB/s, source: "measured ...", measured: true}
    launch_overhead: {value: 5, unit: us, source: "..."}
    call_overhead:                 # optional, CPU sheets only; one inference call of a runtime, by runtime
      onnxruntime: {value: 9, unit: us, source: "measured ...", measured: true}
    subnormal_assist:              # optional, CPU sheets only; extra time onnxruntime takes per float32 subnormal
      mac: {value: 2.2, unit: ns, source: "measured ...", measured: true}       # a MatMul multiply-add reading one
      softmax: {value: 6.5, unit: ns, source: "measured ...", measured: true}   # a Softmax output that is one
    transpose:                     # optional, CPU sheets only; extra time onnxruntime's Transpose takes per element
      innermost: {value: 3.1, unit: ns, source: "measured ...", measured: true}  # moving the innermost axis (not 2-D)
    elementwise_math:              # optional, CPU sheets only; extra time per element over a copy, by function
      sin: {value: 1.8, unit: ns, source: "measured ...", measured: true}  # also cos, tan, log
    depthwise_conv1d:              # optional, CPU sheets only; onnxruntime's time per multiply-add and per output
      conv_mac: {value: 0.14, unit: ns, source: "measured ...", measured: true}    # by class: conv, conv_strided,
      conv_output: {value: 0.45, unit: ns, source: "measured ...", measured: true} # transpose, transpose_strided
    gather:                        # optional, CPU sheets only; extra time onnxruntime's Gather takes per copied block
      block: {value: 7.3, unit: ns, source: "measured ...", measured: true}  # beyond a copy of the block's elements
    broadcast:                     # optional, CPU sheets only; extra time onnxruntime's Add / Sub / Mul / Div take
      span: {value: 9.0, unit: ns, source: "measured ...", measured: true}   # per broadcast span beyond their work
    power:
      idle: {value: 50, unit: W, source: "..."}
      max: {value: 400, unit: W, source: "..."}
    energy:
      per_mac: {fp32: {value: 1.0, unit: pJ, source: "..."}}
      per_byte: {dram: {value: 7.0, unit: pJ, source: "..."}}
    mig_profiles:                  # optional
      - {name: 1g.10gb, compute_slices: 1, total_slices: 7,
         memory: {value: 10, unit: GB, source: "..."}}
    compute_units:                 # optional; what the processor is built from
      count: {value: 108, unit: SM, source: "..."}              # SMs, CUs or cores (integer)
      fp32_lanes_per_unit: {value: 64, unit: lanes, source: "..."}
      boost_clock: {value: 1410, unit: MHz, source: "..."}
    cpu_identity:                  # optional, CPU sheets only; the CPU the sheet describes (/proc/cpuinfo)
      {vendor: AuthenticAMD, family: 25, model: 17, stepping: 1, source: "lscpu on the probed host"}
    family_probes:                 # optional; written by `hybridperf probe` on a CUDA device
      measured_on: "2026-12-01"
      shapes:                      # one fixed operator shape each (NeuSight op type and dims), timed fp32
        - {op: bmm, dims: {B: 32, M: 75, N: 30, K: 288},
           latency: {value: 21.5, unit: us, source: "...", measured: true}}
    notes: free text               # optional

Precisions: fp64, fp32, tf32, fp16, bf16, fp8, int8, int4. Memory levels:
dram, l2, llc, sram, flash. Quantity entries accept the keys ``value``,
``unit``, ``source``, ``measured`` and ``note``; anything else is rejected.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hybridperf.analysis.broadcast import BROADCAST_KEYS
from hybridperf.analysis.depthwise1d import DEPTHWISE_CONV1D_KEYS
from hybridperf.analysis.gather import GATHER_KEYS
from hybridperf.analysis.elementwise_math import ELEMENTWISE_MATH_KEYS
from hybridperf.errors import SpecError, did_you_mean, error_line
from hybridperf.frozen import reduce_read_only
from hybridperf.precision import PRECISIONS, fallback_chain
from hybridperf.units import UNITS, format_si, split_quantity, unit_hint, units_of

SCHEMA_VERSION = 1
#: the device id of this machine (``--device host``): reserved for its probed sheet, cached under the user data
#: directory as ``hosts/<key>/host.yaml`` (:mod:`hybridperf.measure.host`); a sheet file of another place with this id
#: is refused (:func:`load_spec`)
HOST_ID = "host"
#: the largest file read as a sheet: the shipped ones are under 10 KiB, a probe's with 64 family probes per op type
#: about 100 KiB
MAX_SHEET_BYTES = 2**20

MEMORY_LEVELS = ("dram", "l2", "llc", "sram", "flash")
KINDS = ("gpu", "cpu", "npu")

_TOP_KEYS_REQUIRED = (
    "schema_version",
    "id",
    "name",
    "kind",
    "peak_compute",
    "memory",
    "launch_overhead",
    "power",
    "energy",
)
_TOP_KEYS_OPTIONAL = ("sparsity", "mig_profiles", "compute_units", "cpu_identity", "family_probes", "call_overhead",
                      "subnormal_assist", "transpose", "elementwise_math", "depthwise_conv1d", "gather",
                      "broadcast", "notes")
#: the figures of a sheet's ``subnormal_assist`` (seconds): per multiply-add of onnxruntime's MatMul that reads a
#: float32 subnormal operand, per output of its Softmax that is one (:mod:`hybridperf.analysis.subnormal`)
SUBNORMAL_ASSIST_KEYS = ("mac", "softmax")
#: the figures of a sheet's ``transpose`` (seconds per input element): the extra time onnxruntime's Transpose takes
#: for a permutation that moves the innermost axis other than as a 2-D transpose, beyond one that keeps it
#: (:mod:`hybridperf.analysis.transpose`)
TRANSPOSE_KEYS = ("innermost",)
#: the runtimes whose per-call overhead a sheet's ``call_overhead`` may give: onnxruntime's ``session.run`` (what
#: ``hybridperf probe`` times on a CPU), the one runtime of a CPU sheet whose call a prediction prices
#: (:func:`hybridperf.estimate.pricing.predict_on`: a model that launches no kernel); a GPU's execution model has its
#: synchronisation of its own
CALL_OVERHEAD_RUNTIMES = ("onnxruntime",)
_CPU_IDENTITY_KEYS = ("vendor", "family", "model", "source")
_CPU_IDENTITY_OPTIONAL = ("stepping",)
#: ``cpu_identity.vendor`` is /proc/cpuinfo's ``vendor_id``, not the brand: these spellings would never match a machine
_VENDOR_IDS = {"amd": "AuthenticAMD", "intel": "GenuineIntel", "hygon": "HygonGenuine"}
_FAMILY_PROBE_KEYS = ("op", "dims", "latency")
_COMPUTE_UNIT_KEYS = ("count", "fp32_lanes_per_unit", "boost_clock")
_QUANTITY_KEYS = frozenset({"value", "unit", "source", "measured", "note"})
#: ``sparsity`` entries: speed-ups that need sparse weights (kept apart from the dense peaks)
SPARSITY_KINDS = ("structured_2_4",)

#: other spellings of a precision, for the "did you mean" of an unknown one
_PRECISION_ALIASES = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32", "float": "fp32",
                      "single": "fp32", "float64": "fp64", "double": "fp64", "tensorfloat32": "tf32", "float8": "fp8",
                      "e4m3": "fp8", "e5m2": "fp8", "i8": "int8", "i4": "int4"}
#: other names of a memory level
_LEVEL_ALIASES = {"hbm": "dram", "hbm2": "dram", "hbm2e": "dram", "hbm3": "dram", "hbm3e": "dram", "gddr": "dram",
                  "gddr6": "dram", "gddr6x": "dram", "ddr": "dram", "ddr4": "dram", "ddr5": "dram", "lpddr5": "dram",
                  "main": "dram", "vram": "dram", "l3": "llc", "smem": "sram", "shared": "sram"}
#: what to write for a missing required key, after "is required but missing"
_MISSING_FIX = {
    "power": "; give power.idle and power.max in W (max: the datasheet's TDP; idle: a measurement, or "
             "`estimate: <reasoning>`)",
    "energy": "; give energy.per_mac (pJ per MAC for each precision of peak_compute) and energy.per_byte.dram; without "
              "a measurement derive per_mac as (max power - idle power) / (peak / 2), see hw_specs/README.md",
    "memory": "; give memory.dram.bandwidth (and capacity) of main memory",
    "peak_compute": "; give the dense peak of at least one precision, e.g. fp32: {value: 19.5, unit: TFLOP/s, "
                    "source: ...}",
    "launch_overhead": "; give the per-kernel launch overhead, e.g. {value: 5, unit: us, source: ...}",
    # the four below said only "is required but missing" until 2026-12-04
    "schema_version": f"; write schema_version: {SCHEMA_VERSION} as the first line",
    "id": "; write id: ID, the file's name without .yaml",
    "kind": "; write kind: gpu, cpu or npu",
    "energy.per_byte": "; give energy.per_byte.dram, the pJ per byte of DRAM traffic",
}
#: sources that only hold a place (the README's template writes "...")
_PLACEHOLDER_SOURCES = frozenset({"...", "\u2026", "todo", "tbd", "fixme", "xxx", "?", "??", "???", "-", "--", "n/a",
                                  "na", "none", "null", "unknown", "source", "tba"})


def _is_placeholder(src: str) -> bool:
    """Whether a ``source`` only holds a place (``...``, ``TODO: datasheet``) rather than naming where a number comes
    from."""
    text = src.strip().lower()
    return text in _PLACEHOLDER_SOURCES or re.match(r"(todo|tbd|fixme)\b", text) is not None


def is_estimate(source: str) -> bool:
    """Whether a figure's ``source`` marks it an estimate: it starts ``estimate`` (``estimate: <reasoning>``,
    ``estimate, not measured (...)`` as ``hybridperf probe`` writes; any case), the README's mark for a number no
    datasheet or measurement gives. The one test :attr:`DeviceSpec.power_estimated` and ``devices show`` read."""
    return source.strip().lower().startswith("estimate")


def _name_key(name: str) -> str:
    """A closed-set name folded so that ``FP16``, ``fp-16`` and ``fp_16`` (``structured_24``) meet, as
    :data:`_PRECISION_ALIASES` and :data:`_LEVEL_ALIASES` are keyed."""
    return name.strip().lower().replace("-", "").replace("_", "")


def _name_hint(name: Any, known, aliases: Mapping[str, str]) -> str:
    """`` (did you mean 'fp16'?)`` for a misspelt closed-set name (case, a known alias, a close spelling), else ""."""
    return did_you_mean(str(name), known, aliases, fold=_name_key)


def _text_value_fix(val: str) -> str:
    """The fix for a ``value`` written as text: ``600 GB/s`` (unit inside) or ``'31.2'`` (a quoted number)."""
    quantity = split_quantity(val)
    if quantity is None:
        return f"must be a positive number, got the text {val!r}"
    number, unit = quantity
    if unit:
        return (f"must be a positive number, got the text {val!r}; write the number in value and the unit in unit "
                f"(value: {number}, unit: {unit})")
    return f"must be a positive number, got the text {val!r}; write the number without quotes"


#: said after "``KEY.source`` is required but missing"
_SOURCE_FIX = ("; name where {key} comes from (a datasheet, a measurement, `derived: <arithmetic>` or `estimate: "
               "<reasoning>`)")


def _bare_quantity_fix(q: Any, category: str) -> str:
    """The fix for a figure written bare (``launch_overhead: 5``, ``launch_overhead: 5 us``), else "": the mapping it
    should be, with the number and unit the writer gave (or the category's units)."""
    if isinstance(q, bool) or not isinstance(q, (int, float, str)):
        return ""
    quantity = split_quantity(q) if isinstance(q, str) else (q, "")
    if quantity is None:
        return ""
    number, unit = quantity
    unit = unit or " | ".join(units_of(category)[:4])
    return f"; write {{value: {number}, unit: {unit}, source: \"<where it comes from>\"}}"


def _per_action_unit_fix(unit: Any, key: str, category: str, value: Any) -> str:
    """The fix for a unit written per action or as a rate the key does not take, else "": ``pJ/bit`` (a per-byte
    energy is 8x a per-bit one: HBM's 3.9 pJ/bit is 31.2 pJ per byte), ``pJ/B`` or ``pJ/MAC`` (the key already says
    per byte or per MAC), ``pJ/FLOP`` (a MAC is 2 FLOP), ``MT/s`` (a transfer rate, not bytes per second). Until
    2026-12-04 these were "unknown unit" with no hint, and a writer who dropped the ``/bit`` priced DRAM traffic 8x
    too cheap."""
    if not isinstance(unit, str) or "/" not in unit:
        return ""
    base, per = (part.strip() for part in unit.split("/", 1))
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def times(k: float) -> str:
        return f"value: {number * k:g}, unit: {base}" if number is not None else f"value x {k:g}, unit: {base}"

    if category == "energy" and UNITS.get(base, ("",))[0] == "energy":
        action = "bit" if per in ("b", "bit", "bits") else "byte" if per in ("B", "byte", "bytes") else per.lower()
        if action == "bit" and ".per_byte." in key:
            return f"{unit!r} is per bit, but {key} is per byte (8 bits): write 8x the figure ({times(8)})"
        if (action, key.split(".")[1:2]) in (("byte", ["per_byte"]), ("mac", ["per_mac"])):
            return f"{unit!r}: write unit: {base} ({key} is per {'MAC' if action == 'mac' else action} already)"
        if action in ("flop", "op") and ".per_mac." in key:
            return f"{unit!r} is per {per}, but {key} is per MAC (2 {per}): write 2x the figure ({times(2)})"
    if category == "bandwidth" and per.lower() == "s" and base.upper() in ("MT", "GT"):
        return (f"{unit!r} is a transfer rate, not bytes per second: write the bandwidth, transfers x bus width in "
                "bytes x channels, in GB/s (DDR5-4800, 64-bit, 2 channels: 4800e6 x 8 B x 2 = 76.8 GB/s), with "
                "`derived: <that arithmetic>` as its source")
    return ""


@dataclass(frozen=True)
class MemoryLevel:
    """One level of the memory hierarchy. ``None`` where the sheet gives no figure."""

    bandwidth_bytes_per_s: float | None
    capacity_bytes: float | None
    attainable_bandwidth_bytes_per_s: float | None = None

    @property
    def effective_bandwidth_bytes_per_s(self) -> float | None:
        """Attainable (measured) bandwidth where known, else the sheet peak."""
        if self.attainable_bandwidth_bytes_per_s is not None:
            return self.attainable_bandwidth_bytes_per_s
        return self.bandwidth_bytes_per_s


@dataclass(frozen=True)
class MigProfile:
    """A Multi-Instance GPU partition."""

    name: str
    compute_slices: int
    total_slices: int
    memory_bytes: float
    #: the SMs the profile really gets (``nvidia-smi mig -lgip``), None where the sheet gives none
    sm_count: int | None = None

    @property
    def compute_fraction(self) -> float:
        """The nominal share: compute slices over the GPU's (the profile's real one:
        :func:`hybridperf.estimate.mig.compute_fraction`)."""
        return self.compute_slices / self.total_slices


@dataclass(frozen=True)
class FamilyProbe:
    """One fixed operator shape timed on the device (fp32): a NeuSight op type, its dims, the latency."""

    op: str
    dims: tuple[tuple[str, int], ...]
    latency_s: float


@dataclass(frozen=True)
class SheetCpu:
    """The CPU a CPU sheet describes (its optional ``cpu_identity``), as /proc/cpuinfo names it: ``lscpu``'s model
    name is not enough ("AMD EPYC" is Zen 3, Zen 4 and Zen 5 alike under KVM).

    Attributes
    ----------
    vendor : str
        ``vendor_id`` (``AuthenticAMD``, ``GenuineIntel``).
    family, model : int
        ``cpu family`` and ``model``.
    stepping : int or None
        ``stepping``; None where the sheet does not give it (unknown, not judged).
    source : str
        Where the identity comes from.
    """

    vendor: str
    family: int
    model: int
    stepping: int | None = None
    source: str = ""

    @property
    def label(self) -> str:
        """``"AuthenticAMD family 25 model 17 stepping 1"`` (without the stepping where it is unknown), the words
        of :func:`hybridperf.residual.cross_host.cpu_label`."""
        return cpu_words(self.vendor, self.family, self.model, self.stepping)

    def same_cpu(self, vendor: str | None, family: int | None, model: int | None) -> bool | None:
        """Whether a machine of ``vendor``, ``family`` and ``model`` (/proc/cpuinfo) is this CPU; None where the
        machine's identity is not known (any of the three missing), so it cannot be judged. The stepping (a
        revision of one design) is not compared."""
        if not vendor or family is None or model is None:
            return None
        return (vendor, int(family), int(model)) == (self.vendor, self.family, self.model)


#: words of a CPU sheet's name or notes (a probed sheet's notes list the ``lscpu`` flags) that name its instruction set;
#: "Ampere" only as Ampere Computing's Altra / AmpereOne (NVIDIA's Ampere GPUs are no Arm CPU: until 2026-12-04 the
#: a10, a100-pcie and rtx-3090 sheets read as ``arm``)
ISA_WORDS = {
    "x86-64": re.compile(r"\b(x86|x86[-_]64|amd64|intel|amd|xeon|epyc|ryzen|threadripper|core i[3579]|avx2?|sse4)\b", re.I),
    "arm": re.compile(r"\b(arm|arm64|aarch64|cortex|neoverse|kryo|snapdragon|graviton|ampere ?(altra|one)|apple m\d)\b",
                      re.I),
}
#: words of a sheet's name or notes that name AVX-512 (``avx512f`` and the other AVX-512 flags, "AVX-512")
AVX512_WORDS = re.compile(r"avx-?512", re.I)
#: ... that name AVX2 (``avx2``, "AVX2"); a sheet naming AVX-512 has it too (every AVX-512 CPU has AVX2)
AVX2_WORDS = re.compile(r"\bavx-?2\b", re.I)
#: ... that name the Arm int8 dot product (``lscpu``'s ``asimddp``, "dotprod", "dot product")
DOT_WORDS = re.compile(r"\b(asimddp|dotprod|dot[- ]product)", re.I)
#: ... that say AVX-512 is absent ("no AVX-512", "AVX2 but not AVX-512", "AVX-512 not supported"), read before
#: :data:`AVX512_WORDS` (until 2026-12-04 such words read as having it)
NO_AVX512_WORDS = re.compile(r"\b(no|without|lacks?|not)\b[^.;]{0,24}avx-?512|avx-?512\w*\b[^.;]{0,12}\bnot "
                             r"(supported|present)", re.I)
#: ... that say the dot product is absent ("no int8 dot product", "without the dot product", "lacks asimddp",
#: "dot product not supported"), read before :data:`DOT_WORDS`
NO_DOT_WORDS = re.compile(r"\b(no|without|lacks?|not)\b[^.;]{0,24}(asimddp|dot[- ]?prod)|(asimddp|dotprod|dot[- ]product)"
                          r"\b[^.;]{0,12}\bnot (supported|present)", re.I)
#: a probed sheet's complete list of the CPU's key flags (:data:`~hybridperf.device.cpuinfo.KEY_ISA_FLAGS`), "none"
#: where it has none of them (:func:`hybridperf.measure.probe.spec_dict`)
FLAG_LIST_WORDS = re.compile(r"\bISA flags:\s*([\w ]*)", re.I)


def sheet_isa(text: str) -> str:
    """The instruction set a CPU sheet's text names (:data:`ISA_WORDS`): ``"x86-64"``, ``"arm"``, or ``""`` when it
    names none or both."""
    found = [isa for isa, words in ISA_WORDS.items() if words.search(text)]
    return found[0] if len(found) == 1 else ""


@dataclass(frozen=True)
class SheetIsa:
    """What a CPU sheet's name and notes say of its instruction set (:attr:`DeviceSpec.instruction_set`).

    Attributes
    ----------
    isa : ``"x86-64"``, ``"arm"``, or ``""`` where the words name none or both (:func:`sheet_isa`), or the sheet is
        not a CPU's
    flags : the extensions the words name, of those that choose a runtime's kernels: ``"avx2"`` and ``"avx512f"``
        (x86-64), ``"asimddp"`` (arm: the int8 dot product)
    unnamed : the extensions of ``isa`` the words say nothing of (neither present nor absent): on x86-64 both AVX
        levels where neither AVX2 nor AVX-512 is named (naming AVX2 alone says there is no AVX-512), AVX2 where only
        AVX-512's absence is said; on arm ``"asimddp"`` where the dot product is neither named nor said to be absent
    """

    isa: str
    flags: tuple[str, ...] = ()
    unnamed: tuple[str, ...] = ()


def sheet_isa_flags(text: str) -> SheetIsa:
    """The :class:`SheetIsa` of a CPU sheet's text (its name and notes).

    A list after ``ISA flags:`` (a probed sheet's: every key flag the CPU has, or ``none``) is complete: a flag not
    in it is absent. Otherwise an extension is present where the words name it outside the phrases saying it is
    absent (:data:`NO_AVX512_WORDS`, :data:`NO_DOT_WORDS`: "AVX2 and AVX-512 ... until then read as a CPU without
    AVX-512" has it), absent where only such a phrase names it, and ``unnamed`` where nothing does.
    """
    isa = sheet_isa(text)
    listed = FLAG_LIST_WORDS.search(text)
    if isa and listed:
        have = set(listed.group(1).lower().split())
        keys = ("avx2", "avx512f") if isa == "x86-64" else ("asimddp",)
        return SheetIsa(isa, tuple(f for f in keys if f in have))
    if isa == "x86-64":
        avx2 = bool(AVX2_WORDS.search(text))
        if AVX512_WORDS.search(NO_AVX512_WORDS.sub(" ", text)):
            return SheetIsa(isa, ("avx2", "avx512f"))
        if NO_AVX512_WORDS.search(text):
            return SheetIsa(isa, ("avx2",)) if avx2 else SheetIsa(isa, (), ("avx2",))
        return SheetIsa(isa, ("avx2",)) if avx2 else SheetIsa(isa, (), ("avx2", "avx512f"))
    if isa == "arm":
        if DOT_WORDS.search(NO_DOT_WORDS.sub(" ", text)):
            return SheetIsa(isa, ("asimddp",))
        return SheetIsa(isa) if NO_DOT_WORDS.search(text) else SheetIsa(isa, (), ("asimddp",))
    return SheetIsa(isa)


def cpu_words(vendor: str | None, family: int | None, model: int | None, stepping: int | None = None) -> str:
    """A CPU identity in words, ``"AuthenticAMD family 26 model 2 stepping 1"``; the parts that are unknown (None or
    empty) are left out, and ``"an unknown CPU"`` is said where all are."""
    parts = [str(vendor).strip()] if vendor and str(vendor).strip() else []
    parts += [f"{name} {n}" for name, n in (("family", family), ("model", model), ("stepping", stepping))
              if n is not None]
    return " ".join(parts) or "an unknown CPU"


@dataclass(frozen=True)
class DeviceSpec:
    """A validated device spec sheet, all figures in SI units."""

    id: str
    name: str
    kind: str
    peak_flops_per_s: Mapping[str, float]
    memory: Mapping[str, MemoryLevel]
    launch_overhead_s: float
    idle_power_w: float
    max_power_w: float
    energy_pj_per_mac: Mapping[str, float]
    energy_pj_per_byte: Mapping[str, float]
    sparsity_speedup: Mapping[str, float] = field(default_factory=dict)
    mig_profiles: tuple[MigProfile, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)
    measured: frozenset[str] = frozenset()
    notes: str = ""
    #: per-figure ``note`` texts, keyed like :attr:`sources` (``"peak_compute.fp64"``)
    field_notes: Mapping[str, str] = field(default_factory=dict)
    path: str = ""
    #: optional ``compute_units`` figures (``None`` where the sheet gives none): streaming multiprocessors /
    #: compute units / cores, FP32 lanes in each, and the boost clock
    compute_unit_count: int | None = None
    fp32_lanes_per_unit: int | None = None
    boost_clock_hz: float | None = None
    #: optional ``family_probes``: fixed operator shapes timed on the device by ``hybridperf probe`` (empty: none),
    #: and the date they were measured on
    family_probes: tuple[FamilyProbe, ...] = ()
    family_probes_measured_on: str = ""
    #: optional ``cpu_identity`` of a CPU sheet: the CPU it describes (None: not given, unknown)
    cpu_identity: SheetCpu | None = None
    #: optional ``call_overhead`` of a CPU sheet: seconds of one inference call of a runtime (its name, one of
    #: :data:`CALL_OVERHEAD_RUNTIMES`) beyond its kernels, e.g. onnxruntime's ``session.run`` as ``hybridperf probe``
    #: measures it; absent where the sheet gives none (unknown, never 0). Priced only for a model that launches no
    #: kernel (:func:`hybridperf.estimate.pricing.predict_on`); a model with kernels has it in its learned model's
    #: figure already. Not a :func:`latency_figures` figure: no stored model is made with it
    call_overhead_s: Mapping[str, float] = field(default_factory=dict)
    #: optional ``subnormal_assist`` of a CPU sheet: extra seconds onnxruntime takes, at the sheet's threads, per
    #: MatMul multiply-add that reads a float32 subnormal (``mac``) and per Softmax output that is one (``softmax``),
    #: as ``hybridperf probe`` times them; None where the sheet gives none (unknown, never 0). Priced for the
    #: subnormals a model makes itself (:mod:`hybridperf.analysis.subnormal`;
    #: :func:`hybridperf.estimate.pricing.with_subnormal_assists`); not a :func:`latency_figures` figure
    subnormal_mac_s: float | None = None
    subnormal_softmax_s: float | None = None
    #: optional ``transpose.innermost`` of a CPU sheet: extra seconds per input element onnxruntime's Transpose takes,
    #: at the sheet's threads, for a permutation that moves the innermost axis other than as a 2-D transpose, beyond
    #: one that keeps it, as ``hybridperf probe`` times them; None where the sheet gives none (unknown, never 0).
    #: Priced for the transposes the cost pass counts (:mod:`hybridperf.analysis.transpose`;
    #: :func:`hybridperf.estimate.pricing.with_innermost_transposes`); not a :func:`latency_figures` figure
    innermost_transpose_s_per_element: float | None = None
    #: optional ``elementwise_math`` of a CPU sheet: extra seconds per float32 output element onnxruntime's kernel of
    #: each function (:data:`ELEMENTWISE_MATH_KEYS`) takes, at the sheet's threads, beyond a copy, as ``hybridperf
    #: probe`` times them; empty where the sheet gives none (unknown, never 0). Priced for the ops the cost pass counts
    #: (:mod:`hybridperf.analysis.elementwise_math`; :func:`hybridperf.estimate.pricing.with_elementwise_math`); not a
    #: :func:`latency_figures` figure
    elementwise_math_s_per_element: Mapping[str, float] = field(default_factory=dict)
    #: optional ``depthwise_conv1d`` of a CPU sheet: seconds onnxruntime takes, at the sheet's threads, per
    #: multiply-add and per output element of a depthwise 1-D convolution of each class (:data:`DEPTHWISE_CONV1D_KEYS`),
    #: as ``hybridperf probe`` times them; empty where the sheet gives none (unknown, never 0). Prices those
    #: convolutions (:mod:`hybridperf.analysis.depthwise1d`; :func:`hybridperf.estimate.pricing.with_depthwise_conv1d`);
    #: not a :func:`latency_figures` figure
    depthwise_conv1d_s_per_item: Mapping[str, float] = field(default_factory=dict)
    #: optional ``gather.block`` of a CPU sheet: extra seconds onnxruntime's ``Gather`` takes, at the sheet's threads,
    #: per copied block beyond a copy of the block's elements, as ``hybridperf probe`` times it; None where the sheet
    #: gives none (unknown, never 0). Priced for the gathers of many short blocks the cost pass counts
    #: (:mod:`hybridperf.analysis.gather`; :func:`hybridperf.estimate.pricing.with_short_gathers`); not a
    #: :func:`latency_figures` figure
    gather_s_per_block: float | None = None
    #: optional ``broadcast.span`` of a CPU sheet: extra seconds onnxruntime's ``Add`` / ``Sub`` / ``Mul`` / ``Div``
    #: take, at the sheet's threads, per broadcast span beyond the op's work, as ``hybridperf probe`` times it; None
    #: where the sheet gives none (unknown, never 0). Priced for the ops that broadcast over many short spans the cost
    #: pass counts (:mod:`hybridperf.analysis.broadcast`; :func:`hybridperf.estimate.pricing.with_short_broadcasts`);
    #: not a :func:`latency_figures` figure
    broadcast_s_per_span: float | None = None

    def __hash__(self) -> int:
        """Hash of the identity and the headline figures: equal sheets hash equal (their mappings are read-only
        views, which do not hash; ``hash(spec)`` raised TypeError until 2026-12-04)."""
        return hash((self.id, self.name, self.kind, self.path, self.launch_overhead_s, self.idle_power_w,
                     self.max_power_w, tuple(sorted(self.peak_flops_per_s.items()))))

    def __repr__(self) -> str:
        """Short: the id, kind, name and file (the dataclass repr printed every source text, several KB in a notebook
        cell, until 2026-12-04); every figure stays on the attributes and in ``hybridperf devices show``."""
        return f"DeviceSpec(id={self.id!r}, kind={self.kind!r}, name={self.name!r}, path={self.path!r})"

    def peak_flops(self, precision: str) -> float:
        """Dense peak FLOP/s (or OP/s) for ``precision``, following :attr:`~hybridperf.precision.Precision.fallback`."""
        for p in fallback_chain(precision):
            if p in self.peak_flops_per_s:
                return self.peak_flops_per_s[p]
        listed = ", ".join(sorted(self.peak_flops_per_s))
        run_at = next((p for p in ("fp16", "bf16", "int8", "fp8", "tf32") if p in self.peak_flops_per_s), None)
        how = f"run it at {run_at} (--precision {run_at}), " if run_at else ""
        raise SpecError(
            f"device {self.id!r} has no peak for {precision} (it lists {listed}); "
            f"{how}quantize the model or pick a device that supports {precision}"
        )

    def resolve_precision(self, precision: str) -> str:
        """The precision whose peak :meth:`peak_flops` actually uses."""
        for p in fallback_chain(precision):
            if p in self.peak_flops_per_s:
                return p
        return precision

    def energy_per_mac_pj(self, precision: str) -> float | None:
        for p in fallback_chain(precision):
            if p in self.energy_pj_per_mac:
                return self.energy_pj_per_mac[p]
        return None

    @property
    def dram(self) -> MemoryLevel:
        return self.memory["dram"]

    @property
    def instruction_set(self) -> SheetIsa:
        """The instruction set and vector extensions this sheet's name and notes name (:func:`sheet_isa_flags`; a
        probed sheet's notes list the machine and its ``lscpu`` flags); none for a sheet that is not a CPU's (until
        2026-12-04 a GPU or NPU sheet's words were read as its CPU's: "Ampere", "Arm Cortex-M55")."""
        if self.kind != "cpu":
            return SheetIsa("")
        return sheet_isa_flags(" ".join([self.name, self.notes]))

    @property
    def unused_figures(self) -> tuple[str, ...]:
        """The figures of this sheet (keys of :attr:`sources`) that no prediction reads, so that ``devices show`` says
        so rather than let a figure look priced: sparsity speed-ups (no prediction assumes sparse weights), the pJ per
        MAC of a precision without a peak (its work runs, and is priced, at the fallback's peak), bandwidths
        of levels other than DRAM (the roofline reads DRAM only, and a CPU's L2 and LLC rates for the weights a
        recurrent layer re-reads: :mod:`hybridperf.analysis.recurrent`), energy per byte of levels other than DRAM (energy
        prices DRAM traffic), the boost clock, and cache or unit figures the device's learned model does not take (the
        cross-device GPU model: l2, else llc capacity, unit count and lanes; the cross-host CPU model: l2 and llc
        capacity, core count; an NPU: roofline only)."""
        read = {"dram"} | {"gpu": {"l2" if "l2" in self.memory else "llc"}, "cpu": {"l2", "llc"}}.get(self.kind, set())
        units = {"gpu": ("count", "fp32_lanes_per_unit"), "cpu": ("count",)}.get(self.kind, ())
        out = []
        for key in self.sources:
            parts = key.split(".")
            if parts[0] == "sparsity" or key == "compute_units.boost_clock":
                out.append(key)
            elif key in ("memory.llc.bandwidth", "memory.l2.bandwidth") and self.kind == "cpu":
                continue  # priced: the weights recurrent layers re-read from a cache (pricing.with_cache_reads)
            elif parts[0] == "memory" and parts[1] != "dram" and (parts[2] != "capacity" or parts[1] not in read):
                out.append(key)
            elif parts[0] == "energy" and parts[1] == "per_byte" and parts[2] != "dram":
                out.append(key)
            elif parts[0] == "energy" and parts[1] == "per_mac" and parts[2] not in self.peak_flops_per_s:
                out.append(key)  # work runs, and is priced, at a listed peak's precision
            elif parts[0] == "compute_units" and parts[1] not in units:
                out.append(key)
        return tuple(out)

    @property
    def estimated_power_figures(self) -> tuple[str, ...]:
        """Which of the power figures energy is priced with, ``idle`` (x latency) and ``max`` (the cap and the
        derived pJ/MAC), are estimates: their source starts ``estimate`` (:func:`is_estimate`: a probe without a
        power reading, a board with no published figure) rather than naming a datasheet or a measurement. Read in any
        case (a sheet's ``Estimate: ...`` priced energy that read as measured until 2026-12-03)."""
        return tuple(k for k in ("idle", "max") if is_estimate(self.sources.get(f"power.{k}", "")))

    @property
    def estimated_energy_figures(self) -> tuple[str, ...]:
        """The keys of the energy figures pricing reads (the pJ per MAC of each precision with a peak, the pJ per DRAM
        byte) whose source marks them an estimate (:func:`is_estimate`), e.g. the DRAM pJ/B of a GPU probe whose copy
        loop gave no NVML reading. A figure no prediction reads (:attr:`unused_figures`) is left out."""
        keys = [f"energy.per_mac.{p}" for p in self.energy_pj_per_mac if p in self.peak_flops_per_s]
        keys += [f"energy.per_byte.{lv}" for lv in self.energy_pj_per_byte if lv == "dram"]
        return tuple(k for k in keys if is_estimate(self.sources.get(k, "")))

    @property
    def power_estimated(self) -> bool:
        """Whether a power or energy figure energy is priced with is an estimate (:attr:`estimated_power_figures`,
        :attr:`estimated_energy_figures`); energy priced on it is an estimate too. Until 2026-12-03 only
        ``power.max`` was looked at, so a tiny model on a T4, 98 % of whose energy is the estimated 10 W idle, read
        as datasheet-priced; until 2026-12-04 the energy table was not looked at, so a GPU probe's estimated DRAM pJ
        per byte (NVML power measured, the copy loop's not) priced energy that read as measured."""
        return bool(self.estimated_power_figures or self.estimated_energy_figures)

    @property
    def power_note(self) -> str:
        """What an energy priced on this sheet says of itself (the prediction's note, a budget check), else "": the
        estimated figures, then ``of ID estimated, not measured``. ``power`` where both power figures are estimates,
        ``idle power`` (or ``max power``) where one is; ``energy per DRAM byte`` and ``energy per MAC (fp32, ...)``
        for :attr:`estimated_energy_figures` (``power and energy per DRAM byte of ID estimated, not measured``)."""
        which = self.estimated_power_figures
        parts = [f"{'' if len(which) == 2 else which[0] + ' '}power"] if which else []
        energy = self.estimated_energy_figures
        if "energy.per_byte.dram" in energy:
            parts.append("energy per DRAM byte")
        macs = [k.rsplit(".", 1)[1] for k in energy if k.startswith("energy.per_mac.")]
        if macs:
            parts.append(f"energy per MAC ({', '.join(macs)})")
        if not parts:
            return ""
        what = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
        return f"{what} of {self.id} estimated, not measured"

    @property
    def packaged(self) -> bool:
        """Whether this sheet is one the package ships (its file in :func:`default_spec_dir`); False for a sheet of
        no file or one that cannot be looked up."""
        return bool(self.path) and in_packaged_folder(self.path)

    @property
    def show_ref(self) -> str:
        """What ``hybridperf devices show`` takes for this sheet: its id for a shipped sheet, for ``host`` and for a
        sheet of no file, else its file (shell-quoted where needed). Until 2026-12-04 an energy note said ``devices show my-gpu`` for a sheet
        loaded from ``my-gpu.yaml``, which that command refused as an unknown device."""
        if not self.path or self.id == HOST_ID:
            return self.id
        p = Path(self.path)
        try:  # a sheet of no file (parsed from a mapping, ``<toy>``) is named by its id as well
            by_id = not p.is_file() or (self.packaged and p.stem == self.id)
        except OSError:
            by_id = True
        if by_id:
            return self.id
        import shlex

        return shlex.quote(self.path)

    @property
    def dram_bandwidth_bytes_per_s(self) -> float:
        bw = self.dram.effective_bandwidth_bytes_per_s
        assert bw is not None  # validated at load time
        return bw

    @property
    def l2_bandwidth_bytes_per_s(self) -> float | None:
        """The rate of the L2 caches of the cores the sheet runs on, together (a CPU sheet's ``memory.l2.bandwidth``:
        since 2026-12-07 ``hybridperf probe``'s onnxruntime LSTM re-reading a weight they hold,
        :func:`hybridperf.measure.probe.l2_reread`; on sheets probed before, a copy of L2-sized arrays x cores, their
        source says which); None where the sheet gives none."""
        l2 = self.memory.get("l2")
        return None if l2 is None else l2.effective_bandwidth_bytes_per_s

    @property
    def llc_bandwidth_bytes_per_s(self) -> float | None:
        """The rate at which the last-level cache serves a weight it holds (a CPU sheet's ``memory.llc.bandwidth``:
        ``hybridperf probe`` times onnxruntime re-reading one); None where the sheet gives none."""
        llc = self.memory.get("llc")
        return None if llc is None else llc.effective_bandwidth_bytes_per_s

    def __reduce__(self) -> tuple[Any, tuple[type, dict[str, Any]]]:
        # a mappingproxy does not pickle, so neither did a loaded sheet ("cannot pickle 'mappingproxy' object", and
        # copy.deepcopy failed the same way, until 2026-12-04): :func:`hybridperf.frozen.reduce_read_only`
        return reduce_read_only(self)


def default_spec_dir() -> Path:
    """The device sheets shipped in the package (``hybridperf/data/hw_specs/``)."""
    from hybridperf.data import packaged_dir

    return packaged_dir("hw_specs")


#: the suffixes of a spec file, the first the one a file of an id is looked up by first
SPEC_SUFFIXES = (".yaml", ".yml")


def in_packaged_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` (resolved) is a file in the package's own sheets folder (:func:`default_spec_dir`), where a
    sheet is a shipped one (:attr:`DeviceSpec.packaged`); False where it cannot be resolved (a link loop)."""
    try:
        return Path(path).resolve().parent == default_spec_dir().resolve()
    except (OSError, RuntimeError):
        return False


def _spec_files(d: Path) -> dict[str, Path]:
    """``id -> file`` of the spec files (``*.yaml``, ``*.yml``) in folder ``d``.

    Raises
    ------
    SpecError
        Two files of one id (``x.yaml`` and ``x.yml``): which one is meant cannot be told.
    """
    found: dict[str, Path] = {}
    # files only: a folder named x.yaml in a --spec-dir stopped `devices --spec-dir DIR` with "is a directory" until
    # 2026-12-04; *.yml was not listed until 2026-12-04 ("0 devices" for a folder of t4.yml that `-d t4.yml` loaded)
    for p in sorted(p for suffix in SPEC_SUFFIXES for p in d.glob(f"*{suffix}") if p.is_file()):
        if p.stem in found:
            raise _two_sheets(d, p.stem, found[p.stem].name, p.name)
        found[p.stem] = p
    return found


def _two_sheets(d: Path, sheet_id: str, first: str, second: str) -> SpecError:
    """The refusal of a folder holding two sheets of one id (``x.yaml`` and ``x.yml``)."""
    return SpecError(f"{d} has two sheets of id {sheet_id!r}: {first} and {second}; remove or rename one")


def available_devices(spec_dir: Path | None = None) -> list[str]:
    """Device ids (file stems of ``*.yaml`` and ``*.yml``) found in ``spec_dir``, sorted.

    Raises
    ------
    SpecError
        Two files of one id (``x.yaml`` and ``x.yml``).
    """
    return sorted(_spec_files(spec_dir or default_spec_dir()))


def names_spec_file(device: Any) -> bool:
    """Whether ``device`` (a str or path) names a spec file rather than a device id: a ``.yaml`` / ``.yml`` name or a
    path with a folder. The one rule :func:`load_spec` reads it by (and ``measure --device``, the API's sheet cache)."""
    text = os.fspath(device) if isinstance(device, os.PathLike) else device
    return isinstance(text, str) and (Path(text).suffix in (".yaml", ".yml") or "/" in text)


def sheet_key(device: str) -> str | Path:
    """What identifies the sheet ``device`` names: a spec file (:func:`names_spec_file`) by its resolved path
    (``specs/x.yaml``, ``./specs/x.yaml`` and its absolute path are one sheet), an id as it is. The one rule by which
    ``check`` tells two ``--device`` values apart and finds a device's table in ``pyproject.toml``."""
    from hybridperf.files import resolved

    return resolved(device) if names_spec_file(device) else device


def load_spec(device: str | Path, spec_dir: Path | None = None) -> DeviceSpec:
    """Load and validate a spec by device id or by path to a YAML file.

    Raises
    ------
    SpecError
        Unknown id (with a close-match suggestion), unreadable YAML, unknown or
        missing keys, non-positive numbers, unit mistakes.
    """
    path = Path(device)
    if names_spec_file(device) and not path.exists():  # a path, not an id
        raise SpecError(f"device spec file not found: {path}; check the path, or pass a device id from `hybridperf devices`")
    if path.suffix not in (".yaml", ".yml") and "/" in str(device) and path.exists():  # until 2026-12-03: "unknown
        # device '/x/t4.txt': ... or pass a spec file path", for the spec file path it was passed
        if not path.is_file():
            raise SpecError(f"{path} is not a spec file; pass a spec file (ID.yaml) or a device id from `hybridperf "
                            "devices`")
        raise SpecError(f"{path}: a spec file is named ID.yaml (its id, then .yaml); rename it to {path.stem}.yaml")
    if path.suffix not in (".yaml", ".yml") or not path.exists():
        d = spec_dir or default_spec_dir()
        path = d / f"{device}.yaml"
        if not path.exists() and (d / f"{device}.yml").exists():  # ID.yml: listed, so found too
            path = d / f"{device}.yml"
        elif path.exists() and (d / f"{device}.yml").is_file():  # both: which one is meant cannot be told
            raise _two_sheets(d, str(device), path.name, f"{device}.yml")
        if not path.exists():
            known = available_devices(d)
            if spec_dir is not None and Path(spec_dir).resolve() != default_spec_dir().resolve():
                # until 2026-12-04 "run `hybridperf devices` ... (2 sheets, and host: this machine)": that lists the
                # shipped sheets, and host is not looked up in a folder of one's own
                raise SpecError(f"unknown device {str(device)!r}{did_you_mean(str(device), known)}: {d} has "
                                f"{len(known)} sheet(s) (`hybridperf devices --spec-dir {d}` lists them); pass one of "
                                "their ids, or a spec file path")
            raise SpecError(
                f"unknown device {str(device)!r}{did_you_mean(str(device), known)}: run `hybridperf devices` to list "
                f"the known ids ({len(known)} sheets, and host: this machine), or pass a spec file path"
            )
    import yaml

    if path.is_dir():  # until 2026-12-03: "cannot parse YAML ([Errno 21] Is a directory ...); fix the file syntax"
        raise SpecError(f"{path} is a directory; pass a spec file (ID.yaml) or a device id from `hybridperf devices`")
    try:
        size = path.stat().st_size
        if size > MAX_SHEET_BYTES:  # until 2026-12-03 a 200 MB file was parsed for minutes before its first error
            raise SpecError(f"{path}: {size / 2**20:.0f} MiB is not a spec sheet (a sheet is a few KiB of YAML, at most "
                            f"{MAX_SHEET_BYTES // 2**20} MiB); pass the device's ID.yaml")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:  # until 2026-12-03: exit 3, "internal error: UnicodeDecodeError"
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start}); save the spec file as UTF-8 YAML") from exc
    except OSError as exc:  # until 2026-12-03: "cannot parse YAML ([Errno 13] ...); fix the file syntax"
        raise SpecError(f"{path}: cannot read the file ({exc.strerror or error_line(exc)}); check its path and "
                        "permissions") from exc
    try:
        raw = yaml.load(text, Loader=_strict_loader())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: cannot parse YAML ({_yaml_problem(exc)}); fix the file syntax") from exc
    spec = parse_spec(raw, str(path))
    _check_host_id(spec, path)
    _check_own_id(spec, path)
    return spec


def _check_host_id(spec: DeviceSpec, path: Path) -> None:
    """Refuse a sheet file with the id :data:`HOST_ID` other than this machine's cached sheet
    (``<user data dir>/hosts/<key>/host.yaml``): what is stored for ``host`` (its calibrated model, its probe) is this
    machine's and would be applied to that file's figures (until 2026-12-03 ``./host.yaml`` was priced with this
    machine's calibrated model, silently)."""
    if spec.id != HOST_ID:
        return
    from hybridperf.data import HOSTS_DIR, user_data_dir

    try:
        cached = (path.name == f"{HOST_ID}.yaml"
                  and path.resolve().parent.parent == (user_data_dir() / HOSTS_DIR).resolve())
    except OSError:
        cached = False
    if not cached:
        raise SpecError(f"{path}: key 'id' is {HOST_ID!r}, reserved for this machine's probed sheet (--device "
                        f"{HOST_ID}); give your sheet another id (and file name), e.g. id: my-box in my-box.yaml")


def latency_figures(spec: DeviceSpec) -> dict[str, Any]:
    """The latency side of ``spec`` as a flat mapping (SI units): what models and probes stored under a device id were
    made with, which a sheet file may not change under a shipped id (:func:`load_spec`) and which a stored model
    records beside it (:mod:`hybridperf.residual.sheet`). Keys ``kind``, ``peak_compute.<precision>``,
    ``memory.<level>.bandwidth`` / ``.capacity`` / ``.attainable_bandwidth``, ``launch_overhead``,
    ``compute_units.count`` / ``.fp32_lanes_per_unit`` and ``family_probes`` (their count and a digest), in that
    order. A figure the sheet does not give is left out (absent, never 0).

    Parameters
    ----------
    spec : DeviceSpec
        The sheet.

    Returns
    -------
    dict of str to float, int or str
        Figure key -> value in SI units (FLOP/s, B/s, B, s), counts as ints, ``kind`` and ``family_probes`` as text;
        JSON-serialisable.
    """
    import hashlib
    import json

    out: dict[str, Any] = {"kind": spec.kind}
    for p, v in sorted(spec.peak_flops_per_s.items()):
        out[f"peak_compute.{p}"] = float(v)
    for level, m in sorted(spec.memory.items()):
        for name, v in (("bandwidth", m.bandwidth_bytes_per_s), ("capacity", m.capacity_bytes),
                        ("attainable_bandwidth", m.attainable_bandwidth_bytes_per_s)):
            if v is not None:
                out[f"memory.{level}.{name}"] = float(v)
    out["launch_overhead"] = float(spec.launch_overhead_s)
    if spec.compute_unit_count is not None:
        out["compute_units.count"] = int(spec.compute_unit_count)
    if spec.fp32_lanes_per_unit is not None:
        out["compute_units.fp32_lanes_per_unit"] = int(spec.fp32_lanes_per_unit)
    if spec.family_probes:
        text = json.dumps([[p.op, list(map(list, p.dims)), p.latency_s] for p in spec.family_probes])
        out["family_probes"] = f"{len(spec.family_probes)} shapes, sha256 {hashlib.sha256(text.encode()).hexdigest()[:12]}"
    return out


#: the groups of :func:`latency_figures` in the order a refusal names the first that differs
_FIGURE_GROUPS = ("kind", "peak_compute", "memory", "launch_overhead", "compute_units", "family_probes")


def _check_own_id(spec: DeviceSpec, path: Path) -> None:
    """Refuse a sheet outside the package that takes a shipped sheet's id with other latency figures: what is stored
    under that id (its residual model, its runtime probes in the cross-device model, a CPU's training offset) was made
    on the shipped device and would be applied to this one's figures, and ``calibrate`` would store its model under the
    shipped id (until 2026-12-03 ``./t4.yaml`` with twice T4's fp32 peak priced kernels with the real T4's measured
    dispatch floor, silently). Edits of power, energy, sources or notes keep the id."""
    packaged = default_spec_dir()
    try:
        inside = path.resolve().parent == packaged.resolve()
    except OSError:
        inside = False
    if inside:
        return
    shipped_ids = available_devices(packaged)
    same = next((s for s in shipped_ids if s.casefold() == spec.id.casefold() and s != spec.id), None)
    if same is not None:  # until 2026-12-04 taken as an id of its own, though on a case-insensitive file system
        # (macOS, Windows) models/T4/ is models/t4/: the shipped device's stored models would price this sheet
        raise SpecError(f"{path}: key 'id' is {spec.id!r}, the shipped sheet {same!r} in other letter case (one folder "
                        f"on macOS and Windows, where models are stored by id); write id: {same} for that device, or "
                        f"give yours its own id, e.g. id: {same}-custom in {same}-custom.yaml")
    if spec.id not in shipped_ids:
        return
    mine, shipped = latency_figures(spec), latency_figures(load_spec(spec.id))
    changed = {k.split(".")[0] for k in mine.keys() | shipped.keys() if mine.get(k) != shipped.get(k)}
    if changed:
        raise SpecError(f"{path}: key 'id' is {spec.id!r}, a shipped sheet's id, but its "
                        f"{min(changed, key=_FIGURE_GROUPS.index)} differs from that sheet's; give your device its own "
                        f"id (and file name), e.g. id: {spec.id}-custom in {spec.id}-custom.yaml")


def _yaml_problem(exc: Exception) -> str:
    """What PyYAML found wrong and where (``found character '\\t' that cannot start any token at line 14, column 1``);
    until 2026-12-03 only its context (``while scanning for the next token``), without a line."""
    problem = getattr(exc, "problem", None) or error_line(exc)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def _strict_loader():
    """A ``yaml.SafeLoader`` that rejects duplicate mapping keys (PyYAML keeps the last silently)."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    # YAML 1.2 reads 3e13 and 31.2e12 as numbers; PyYAML (YAML 1.1) read them as text, and a peak written so was
    # refused as "must be a positive number, got '3e13'" until 2026-12-03
    StrictLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
        list("-+0123456789."),
    )
    return StrictLoader


def parse_spec(raw: Any, where: str) -> DeviceSpec:
    """Validate a parsed YAML mapping and build a :class:`DeviceSpec`, one section at a time
    (each reader fails with the file and key at the first problem)."""
    v = _Validator(where)
    dev_id, kind = _identity(v, raw, where)
    peak_flops = _peaks(v, raw)
    memory = _memory_levels(v, raw)
    launch = v.quantity(raw["launch_overhead"], "launch_overhead", "time")
    idle, pmax = _power(v, raw)
    per_mac, per_byte = _energy(v, raw, peak_flops, memory)
    _check_power_at_peak(v, peak_flops, per_mac, pmax)
    sparsity = _sparsity(v, raw)
    _check_tensor_peaks(v, kind, peak_flops, sparsity)
    units = _compute_units(v, raw, kind)
    migs = _mig_profiles(v, raw, kind, memory, units)
    notes = raw.get("notes") or ""
    if not isinstance(notes, str):
        v.fail("notes", "must be a string")
    family_probes, measured_on = _family_probes(v, raw)
    cpu = _cpu_identity(v, raw, kind)
    calls = _call_overhead(v, raw, kind)
    assist = _probed_section(v, raw, kind, "subnormal_assist")
    transpose = _probed_section(v, raw, kind, "transpose")
    math = _probed_section(v, raw, kind, "elementwise_math")
    depthwise = _probed_section(v, raw, kind, "depthwise_conv1d")
    gather = _probed_section(v, raw, kind, "gather")
    broadcast = _probed_section(v, raw, kind, "broadcast")

    return DeviceSpec(
        id=dev_id,
        name=v.string(raw, "name"),
        kind=kind,
        peak_flops_per_s=MappingProxyType(peak_flops),
        memory=MappingProxyType(memory),
        launch_overhead_s=launch,
        idle_power_w=idle,
        max_power_w=pmax,
        energy_pj_per_mac=MappingProxyType(per_mac),
        energy_pj_per_byte=MappingProxyType(per_byte),
        sparsity_speedup=MappingProxyType(sparsity),
        mig_profiles=tuple(migs),
        sources=MappingProxyType(dict(v.sources)),
        measured=frozenset(v.measured),
        notes=notes,
        field_notes=MappingProxyType(dict(v.notes)),
        path=where,
        compute_unit_count=int(units["count"]) if units["count"] is not None else None,
        fp32_lanes_per_unit=int(units["fp32_lanes_per_unit"]) if units["fp32_lanes_per_unit"] is not None else None,
        boost_clock_hz=units["boost_clock"],
        family_probes=family_probes,
        family_probes_measured_on=measured_on,
        cpu_identity=cpu,
        call_overhead_s=MappingProxyType(calls),
        subnormal_mac_s=assist.get("mac"),
        subnormal_softmax_s=assist.get("softmax"),
        innermost_transpose_s_per_element=transpose.get("innermost"),
        elementwise_math_s_per_element=MappingProxyType(math),
        depthwise_conv1d_s_per_item=MappingProxyType(depthwise),
        gather_s_per_block=gather.get("block"),
        broadcast_s_per_span=broadcast.get("span"),
    )


def _identity(v: _Validator, raw: Any, where: str) -> tuple[str, str]:
    """Top-level keys, schema version, id (= the file name) and kind."""
    if not isinstance(raw, dict):
        v.fail("", "top level must be a mapping of keys (schema_version, id, kind, ...); copy a shipped sheet "
                   "(hybridperf/data/hw_specs/t4.yaml) and edit it")
    v.keys(raw, "", _TOP_KEYS_REQUIRED, _TOP_KEYS_OPTIONAL)
    if isinstance(raw["schema_version"], bool) or raw["schema_version"] != SCHEMA_VERSION:
        quoted = " (text: write it without quotes)" if str(raw["schema_version"]).strip() == str(SCHEMA_VERSION) else ""
        v.fail("schema_version", f"is {raw['schema_version']!r}{quoted}; this hybridperf reads {SCHEMA_VERSION}: write "
                                  f"schema_version: {SCHEMA_VERSION} and the keys of a shipped sheet "
                                  "(`hybridperf devices show t4`)")
    dev_id = v.string(raw, "id")
    if dev_id.startswith(".") or any(c in dev_id for c in "/\\") or not dev_id.isprintable():
        # the id names folders (models/ID/ that `calibrate` replaces): until 2026-12-04 `...yaml` with id '..' was
        # read, and its models would have gone to models/../, the user data folder itself
        v.fail("id", f"is {dev_id!r}; an id names folders, so it may not start with '.' or hold '/', '\\' or control "
                     "characters: use letters, digits and '-', e.g. id: my-gpu in my-gpu.yaml")
    stem = Path(where).stem
    if Path(where).suffix in (".yaml", ".yml") and stem != dev_id:
        v.fail("id", f"is {dev_id!r} but the file is named {stem!r}; the file name must equal the id")
    kind = v.string(raw, "kind")
    if kind not in KINDS:
        v.fail("kind", f"is {kind!r}{did_you_mean(kind, KINDS, spelling=False)}; use one of {', '.join(KINDS)}")
    return dev_id, kind


def _peaks(v: _Validator, raw: dict) -> dict[str, float]:
    """``peak_compute``: FLOP/s (or OP/s) per known precision, at least one."""
    peaks = v.section(raw, "peak_compute")
    if not peaks:
        v.fail("peak_compute", "must list at least one precision")
    peak_flops = {}
    for prec, q in peaks.items():
        if prec not in PRECISIONS:
            v.fail(f"peak_compute.{prec}", f"unknown precision{_name_hint(prec, PRECISIONS, _PRECISION_ALIASES)}; "
                                           f"use one of {', '.join(PRECISIONS)}")
        peak_flops[prec] = v.quantity(q, f"peak_compute.{prec}", "compute")
    return peak_flops


def _memory_levels(v: _Validator, raw: dict) -> dict[str, MemoryLevel]:
    """``memory``: bandwidth and capacity per known level; DRAM and its bandwidth are required."""
    mem_raw = v.section(raw, "memory")
    if "dram" not in mem_raw:
        v.fail("memory.dram", "is required (bandwidth and capacity of main memory)")
    memory = {}
    for level, entry in mem_raw.items():
        key = f"memory.{level}"
        if level not in MEMORY_LEVELS:
            v.fail(key, f"unknown memory level{_name_hint(level, MEMORY_LEVELS, _LEVEL_ALIASES)}; use one of "
                        f"{', '.join(MEMORY_LEVELS)}")
        if not isinstance(entry, dict):
            v.fail(key, "must be a mapping with bandwidth / capacity")
        v.keys(entry, key, (), ("bandwidth", "capacity", "attainable_bandwidth"))
        memory[level] = MemoryLevel(
            bandwidth_bytes_per_s=v.opt_quantity(entry, "bandwidth", key, "bandwidth"),
            capacity_bytes=v.opt_quantity(entry, "capacity", key, "capacity"),
            attainable_bandwidth_bytes_per_s=v.opt_quantity(entry, "attainable_bandwidth", key, "bandwidth"),
        )
    if memory["dram"].bandwidth_bytes_per_s is None:
        v.fail("memory.dram.bandwidth", "is required")
    return memory


def _power(v: _Validator, raw: dict) -> tuple[float, float]:
    """``power``: idle and max watts, idle <= max."""
    power = v.section(raw, "power")
    v.keys(power, "power", ("idle", "max"), ())
    idle = v.quantity(power["idle"], "power.idle", "power")
    pmax = v.quantity(power["max"], "power.max", "power")
    if idle > pmax:
        v.fail("power.idle", "is larger than power.max; fix one of them (the idle draw is at most the board power)")
    return idle, pmax


def _energy(v: _Validator, raw: dict, peak_flops: dict[str, float],
            memory: dict[str, MemoryLevel]) -> tuple[dict[str, float], dict[str, float]]:
    """``energy``: pJ per MAC by precision and per byte by memory level, covering every
    precision with a peak and DRAM."""
    energy = v.section(raw, "energy")
    v.keys(energy, "energy", ("per_mac", "per_byte"), ())
    per_mac = {}
    for prec, q in v.section(energy, "per_mac", "energy").items():
        if prec not in PRECISIONS:
            v.fail(f"energy.per_mac.{prec}", f"unknown precision{_name_hint(prec, PRECISIONS, _PRECISION_ALIASES)}; "
                                             f"use one of {', '.join(PRECISIONS)}")
        per_mac[prec] = v.quantity(q, f"energy.per_mac.{prec}", "energy") * 1e12
    per_byte = {}
    for level, q in v.section(energy, "per_byte", "energy").items():
        if level not in MEMORY_LEVELS:
            v.fail(f"energy.per_byte.{level}", f"unknown memory level{_name_hint(level, MEMORY_LEVELS, _LEVEL_ALIASES)}; "
                                               f"use one of {', '.join(MEMORY_LEVELS)}")
        if level not in memory:
            v.fail(f"energy.per_byte.{level}", f"has no memory.{level}; add that level under memory or remove this "
                                               "entry")
        per_byte[level] = v.quantity(q, f"energy.per_byte.{level}", "energy") * 1e12

    # energy must cover every precision the device computes in, and DRAM traffic:
    # a missing entry would otherwise price that work at a silent 0 J
    for prec in peak_flops:
        if prec not in per_mac:
            v.fail(f"energy.per_mac.{prec}", f"is missing; peak_compute lists {prec}, so give its pJ per MAC")
    if "dram" not in per_byte:
        v.fail("energy.per_byte.dram", "is missing; give the pJ per byte of DRAM traffic")
    return per_mac, per_byte


#: how far the dynamic power at a peak (``energy.per_mac`` x the peak's MACs per second) may exceed ``power.max``
#: before a sheet is refused: every shipped sheet is at most 0.95 x (its per-MAC energy derived as (max - idle) /
#: (peak / 2)); a unit slip (``mW`` for ``W``, ``nJ`` for ``pJ``, ``TFLOP/s`` for ``GFLOP/s``) is 1000 x
POWER_AT_PEAK_LIMIT = 10.0


def _check_power_at_peak(v: _Validator, peak_flops: dict[str, float], per_mac_pj: dict[str, float],
                         max_power_w: float) -> None:
    """Refuse a sheet whose MACs at a peak would draw over :data:`POWER_AT_PEAK_LIMIT` x ``power.max``: one of the
    three figures is in the wrong unit. Until 2026-12-05 a Raspberry Pi sheet with its power in ``mW`` (6.4 mW max
    for 6.4 W) loaded, and its idle energy was priced 1000 x low, unsaid."""
    for prec, peak in peak_flops.items():  # _energy refused a peak without its per_mac
        at_peak_w = per_mac_pj[prec] * 1e-12 * peak / 2
        if at_peak_w > POWER_AT_PEAK_LIMIT * max_power_w:
            v.fail("power.max", f"is {format_si(max_power_w, 'W', 3)}, but energy.per_mac.{prec} x "
                                f"peak_compute.{prec} / 2 is {format_si(at_peak_w, 'W', 3)} of MACs at the peak, over "
                                f"{POWER_AT_PEAK_LIMIT:g}x it; one of them is in the wrong unit (W vs mW, pJ vs nJ, "
                                "GFLOP/s vs TFLOP/s): fix its unit")


def _sparsity(v: _Validator, raw: dict) -> dict[str, float]:
    """``sparsity``: speed-ups kept apart from the dense peaks, each with a source."""
    sparsity = {}
    for name, entry in (v.section(raw, "sparsity") if "sparsity" in raw else {}).items():
        key = f"sparsity.{name}"
        if not isinstance(entry, dict):
            v.fail(key, "must be a mapping {speedup, source}")
        if name not in SPARSITY_KINDS:  # any name was taken (and shown) until 2026-12-03
            v.fail(key, f"unknown sparsity{_name_hint(str(name), SPARSITY_KINDS, {})}; use one of "
                        f"{', '.join(SPARSITY_KINDS)}")
        v.keys(entry, key, ("speedup", "source"), ())
        if isinstance(entry["speedup"], str):  # "2x": until 2026-12-04 told to write "value: 2, unit: x"
            v.fail(f"{key}.speedup", f"is the text {entry['speedup']!r}; write the speed-up as a bare number, sparse "
                                     "rate / dense rate (speedup: 2.0 for 2:4)")
        sparsity[name] = v.positive(entry["speedup"], f"{key}.speedup")
        if sparsity[name] < 1:
            v.fail(f"{key}.speedup", f"is {sparsity[name]:g}, below 1; write sparse rate / dense rate (2.0 for 2:4)")
        v.sources[key] = v.string(entry, "source", key)
    return sparsity


#: the Tensor Core precisions whose dense peak is at least the fp32 one on every GPU that has Tensor Cores (GeForce
#: with FP32 accumulate: 2x; data-center parts: 8-16x)
_TENSOR_AT_LEAST_FP32 = ("fp16", "bf16")


def _check_tensor_peaks(v: _Validator, kind: str, peak_flops: dict[str, float], sparsity: dict[str, float]) -> None:
    """Refuse an fp16 or bf16 peak below the fp32 one on a GPU sheet with Tensor Cores (it lists tf32 or a 2:4 sparsity
    speed-up, which only Tensor Cores have): a unit slip (GFLOP/s for TFLOP/s) or a vector rate where the Tensor Core
    one belongs, which would price half-precision work slower than fp32. Until 2026-12-04 such a sheet loaded."""
    if kind != "gpu" or "fp32" not in peak_flops or not ("tf32" in peak_flops or sparsity):
        return
    fp32 = peak_flops["fp32"]
    for p in _TENSOR_AT_LEAST_FP32:
        if p in peak_flops and peak_flops[p] < fp32:
            v.fail(f"peak_compute.{p}", f"is {peak_flops[p] / 1e12:g} TFLOP/s, below the fp32 peak ({fp32 / 1e12:g} "
                                        f"TFLOP/s) of a GPU with Tensor Cores (the sheet lists "
                                        f"{'tf32' if 'tf32' in peak_flops else 'a 2:4 sparsity speed-up'}); give the "
                                        f"dense Tensor Core {p} rate (at least fp32's) and check its unit")


def _mig_profiles(v: _Validator, raw: dict, kind: str, memory: dict[str, MemoryLevel],
                  raw_units: dict[str, float | None]) -> list[MigProfile]:
    """``mig_profiles``: Multi-Instance GPU partitions of a GPU sheet with a DRAM capacity, names unique, one slice
    count, each within the DRAM (a profile's bandwidth share is its memory over the capacity; until 2026-12-03 a 500 GB
    profile of a 24 GB card "fit" with the whole bandwidth, and one without a capacity was given its compute share)."""
    migs = []
    mig_raw = raw.get("mig_profiles") or []
    if not isinstance(mig_raw, list):
        v.fail("mig_profiles", "must be a list of {name, compute_slices, total_slices, memory}")
    for i, entry in enumerate(mig_raw):
        key = f"mig_profiles[{i}]"
        if not isinstance(entry, dict):
            v.fail(key, "must be a mapping")
        v.keys(entry, key, ("name", "compute_slices", "total_slices", "memory"), ("sm_count",))
        cs = entry["compute_slices"]
        ts = entry["total_slices"]
        if not (type(cs) is int and type(ts) is int and 0 < cs <= ts):
            v.fail(key, "compute_slices and total_slices must be integers with 0 < compute_slices <= total_slices")
        sms = None
        if "sm_count" in entry:
            sms = v.quantity(entry["sm_count"], f"{key}.sm_count", "count")
            if sms != int(sms) or entry["sm_count"]["unit"] != "SM":
                v.fail(f"{key}.sm_count", "must be a whole number of SMs (unit: SM), as nvidia-smi mig -lgip lists it")
        migs.append(
            MigProfile(
                name=v.string(entry, "name", key),
                compute_slices=cs,
                total_slices=ts,
                memory_bytes=v.quantity(entry["memory"], f"{key}.memory", "capacity"),
                sm_count=None if sms is None else int(sms),
            )
        )
    names = [m.name for m in migs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        v.fail("mig_profiles", f"profile {dup[0]!r} is listed twice; keep one")
    if migs and kind != "gpu":
        v.fail("mig_profiles", f"is for NVIDIA GPUs (kind gpu), this sheet is kind {kind}; remove it")
    capacity = memory["dram"].capacity_bytes
    if migs and capacity is None:
        v.fail("memory.dram.capacity", "is required with mig_profiles (a profile's bandwidth share is its memory over "
                                       "the DRAM capacity); add it")
    for i, m in enumerate(migs):
        if m.total_slices != migs[0].total_slices:
            v.fail(f"mig_profiles[{i}].total_slices", f"is {m.total_slices} but mig_profiles[0] has "
                                                      f"{migs[0].total_slices}; a GPU has one slice count: "
                                                      "give every profile the same total_slices")
        if m.sm_count is not None and raw_units.get("count") and m.sm_count > raw_units["count"]:
            v.fail(f"mig_profiles[{i}].sm_count", f"is {m.sm_count} but compute_units.count is {raw_units['count']:g}; "
                                                  "a profile holds some of the GPU's SMs: fix sm_count or "
                                                  "compute_units.count")
        if m.memory_bytes > capacity:
            v.fail(f"mig_profiles[{i}].memory", f"{m.memory_bytes / 1e9:g} GB is more than memory.dram.capacity "
                                                f"({capacity / 1e9:g} GB); fix the profile or the capacity")
    _check_mig_sm_counts(v, migs)
    return migs


def _check_mig_sm_counts(v: _Validator, migs: list[MigProfile]) -> None:
    """Refuse SM counts that do not follow the compute slices: a profile of more compute slices holds at least as many
    SMs as one of fewer (``nvidia-smi mig -lgip`` on an H100 SXM: 16, 26, 32, 60, 64, 132 SMs for 1, 1, 2, 3, 4, 7
    slices). Until 2026-12-04 a 2g profile of 14 SMs beside a 1g one of 28 loaded, and ``mig`` priced the larger
    profile slower; counts swapped between profiles are what this catches."""
    counted = [(i, m) for i, m in enumerate(migs) if m.sm_count is not None]
    for j, big in counted:
        out_of_order = [(i, m) for i, m in counted
                        if m.compute_slices < big.compute_slices and m.sm_count > big.sm_count]
        if out_of_order:
            i, m = out_of_order[0]
            v.fail(f"mig_profiles[{j}].sm_count",
                   f"is {big.sm_count} SMs for {big.compute_slices} compute slices ({big.name}), fewer than "
                   f"mig_profiles[{i}] ({m.name}: {m.sm_count} SMs for {m.compute_slices}); a profile of more compute "
                   "slices holds at least as many SMs (nvidia-smi mig -lgip): check the counts")


def _compute_units(v: _Validator, raw: dict, kind: str) -> dict[str, float | None]:
    """``compute_units``: unit count (unit SM, CU or core; SM or CU on a GPU), FP32 lanes per unit (unit lanes), whole
    numbers, and boost clock."""
    units: dict[str, float | None] = dict.fromkeys(_COMPUTE_UNIT_KEYS)
    if "compute_units" in raw:
        cu = v.section(raw, "compute_units")
        v.keys(cu, "compute_units", (), _COMPUTE_UNIT_KEYS)
        for name in ("count", "fp32_lanes_per_unit"):
            if name in cu:
                n = v.quantity(cu[name], f"compute_units.{name}", "count")
                _check_unit_kind(v, name, cu[name]["unit"], kind)
                if n != int(n):
                    v.fail(f"compute_units.{name}.value", f"must be a whole number, got {n!r}")
                units[name] = n
        units["boost_clock"] = v.opt_quantity(cu, "boost_clock", "compute_units", "frequency")
    return units


def _cpu_identity(v: _Validator, raw: dict, kind: str) -> SheetCpu | None:
    """``cpu_identity``: the CPU a CPU sheet describes, /proc/cpuinfo's ``vendor_id``, ``cpu family``, ``model`` and
    optional ``stepping`` (whole numbers), with a source; None where the sheet gives none."""
    if "cpu_identity" not in raw:
        return None
    ci = v.section(raw, "cpu_identity")
    v.keys(ci, "cpu_identity", _CPU_IDENTITY_KEYS, _CPU_IDENTITY_OPTIONAL)
    if kind != "cpu":
        v.fail("cpu_identity", f"is for CPU sheets (kind cpu), this sheet is kind {kind}; remove it")
    vendor = v.string(ci, "vendor", "cpu_identity").strip()
    if vendor.lower() in _VENDOR_IDS or " " in vendor:
        fix = _VENDOR_IDS.get(vendor.lower().split()[0], "AuthenticAMD or GenuineIntel")
        v.fail("cpu_identity.vendor", f"is {vendor!r}; write the vendor_id of /proc/cpuinfo ({fix}), the words a "
                                      "machine is compared in")
    nums = {}
    for name in ("family", "model", "stepping"):
        if name not in ci:
            continue
        n = ci[name]
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            hint = " (decimal, as /proc/cpuinfo writes it, not hex text)" if isinstance(n, str) else ""
            v.fail(f"cpu_identity.{name}", f"must be a whole number >= 0, got {n!r}{hint}")
        nums[name] = n
    src = ci["source"]
    if not isinstance(src, str) or not src.strip():
        v.fail("cpu_identity.source", "must name where the identity comes from (lscpu on the machine, a probe)")
    if _is_placeholder(src):
        v.fail("cpu_identity.source", f"is the placeholder {src.strip()!r}; name where the identity comes from "
                                      "(lscpu on the machine, a probe)")
    return SheetCpu(vendor=vendor, family=nums["family"], model=nums["model"], stepping=nums.get("stepping"),
                    source=src)


def _cpu_section(v: _Validator, raw: dict, kind: str, name: str, gpu_fix: str) -> dict | None:
    """The optional CPU-only section ``name`` of a sheet (None where absent); a sheet of another kind is refused with
    ``gpu_fix``."""
    if name not in raw:
        return None
    section = v.section(raw, name)
    if kind != "cpu":
        v.fail(name, f"is for CPU sheets (kind cpu), this sheet is kind {kind}; remove it ({gpu_fix})")
    return section


def _times_by_key(v: _Validator, section: dict, name: str, allowed: tuple[str, ...], noun: str, use: str,
                  zero_ok: bool = False) -> dict[str, float]:
    """Seconds of each entry of ``section`` (a sheet's ``name``), keyed by one of ``allowed`` (an unknown ``noun``
    names them and what they are, ``use``)."""
    out = {}
    for key, q in section.items():
        if key not in allowed:
            v.fail(f"{name}.{key}", f"unknown {noun}{did_you_mean(str(key), allowed)}; use {', '.join(allowed)}{use}")
        out[key] = v.quantity(q, f"{name}.{key}", "time", zero_ok=zero_ok)
    return out


def _call_overhead(v: _Validator, raw: dict, kind: str) -> dict[str, float]:
    """``call_overhead``: seconds per inference call, by runtime (:data:`CALL_OVERHEAD_RUNTIMES`), CPU sheets only;
    empty where the sheet gives none."""
    calls = _cpu_section(v, raw, kind, "call_overhead", "a GPU's execution model prices its synchronisation itself")
    if calls is None:
        return {}
    if "value" in calls or "unit" in calls:  # {value, unit, source} without the runtime: name the level it lacks
        v.fail("call_overhead", "is by runtime: write call_overhead: {onnxruntime: {value: ..., unit: us, source: "
                                "...}} (the runtime whose session.run it times)")
    return _times_by_key(v, calls, "call_overhead", CALL_OVERHEAD_RUNTIMES, "runtime",
                         " (the runtime whose call is priced)")


#: a CPU sheet's sections of onnxruntime's probed figures (seconds; 0 allowed: measured, none): name -> (the keys
#: allowed, what a key names, what a GPU sheet is told). ``subnormal_assist``: per subnormal operand;
#: ``transpose``: extra per element; ``elementwise_math``: extra per element by function; ``depthwise_conv1d``: per
#: multiply-add and per output by class; ``gather``: extra per copied block; ``broadcast``: extra per broadcast span
_PROBED_SECTIONS = {
    "subnormal_assist": (SUBNORMAL_ASSIST_KEYS, "figure", "the figures are onnxruntime's on an x86 core"),
    "transpose": (TRANSPOSE_KEYS, "figure", "the figure is onnxruntime's CPU Transpose"),
    "elementwise_math": (ELEMENTWISE_MATH_KEYS, "function", "the figures are onnxruntime's CPU kernels"),
    "depthwise_conv1d": (DEPTHWISE_CONV1D_KEYS, "figure", "the figures are onnxruntime's CPU convolutions"),
    "gather": (GATHER_KEYS, "figure", "the figure is onnxruntime's CPU Gather"),
    "broadcast": (BROADCAST_KEYS, "figure", "the figure is onnxruntime's CPU element-wise broadcast"),
}


def _probed_section(v: _Validator, raw: dict, kind: str, name: str) -> dict[str, float]:
    """Seconds by key of the CPU-only section ``name`` of :data:`_PROBED_SECTIONS` (empty where the sheet gives
    none; a GPU sheet's is refused)."""
    keys, noun, what = _PROBED_SECTIONS[name]
    section = _cpu_section(v, raw, kind, name, f"{what}, timed by `hybridperf probe`")
    if section is None:
        return {}
    return _times_by_key(v, section, name, keys, noun, "", zero_ok=True)


def _check_unit_kind(v: _Validator, name: str, unit: str, kind: str) -> None:
    """Refuse a ``compute_units`` figure counted in the other figure's unit: until 2026-12-04 any count unit was taken
    for either, so a GPU's "2560 CUDA cores" written as ``count: {value: 2560, unit: lanes}`` (or ``unit: core``)
    priced it as 2560 SMs."""
    key = f"compute_units.{name}.unit"
    if name == "fp32_lanes_per_unit" and unit != "lanes":
        v.fail(key, f"is {unit!r}; fp32_lanes_per_unit counts the FP32 lanes in one unit (unit: lanes; a GPU's CUDA "
                    "cores per SM, e.g. 64 or 128)")
    if name == "count" and unit == "lanes":
        v.fail(key, "is 'lanes'; count is the number of SMs, CUs or cores (unit SM, CU or core), lanes per unit go in "
                    "fp32_lanes_per_unit (a GPU's CUDA cores / SMs, e.g. 2560 / 40 = 64)")
    if name == "count" and unit == "core" and kind == "gpu":
        v.fail(key, "is 'core' on a GPU sheet, where a datasheet's cores (CUDA cores, stream processors) are lanes: "
                    "give the SM count (unit SM; AMD: CU) and fp32_lanes_per_unit (cores / SMs)")


def _family_probes(v: _Validator, raw: dict) -> tuple[tuple[FamilyProbe, ...], str]:
    """``family_probes``: the date and, per shape, an op name, whole positive dims and a measured latency."""
    if "family_probes" not in raw:
        return (), ""
    fp = v.section(raw, "family_probes")
    v.keys(fp, "family_probes", ("measured_on", "shapes"), ())
    measured_on = fp["measured_on"]
    if not isinstance(measured_on, str):  # YAML reads an unquoted ISO date as a date
        measured_on = str(measured_on)
    if not measured_on.strip():
        v.fail("family_probes.measured_on", "must be a non-empty date")
    shapes = fp["shapes"]
    if not isinstance(shapes, list) or not shapes:
        v.fail("family_probes.shapes", "must be a non-empty list")
    out = []
    for i, entry in enumerate(shapes):
        key = f"family_probes.shapes.{i}"
        if not isinstance(entry, dict):
            v.fail(key, "must be a mapping {op, dims, latency}")
        v.keys(entry, key, _FAMILY_PROBE_KEYS, ())
        op = v.string(entry, "op", key)
        dims = v.section(entry, "dims", key)
        for name, n in dims.items():
            if not isinstance(name, str) or isinstance(n, bool) or not isinstance(n, int) or n <= 0:
                v.fail(f"{key}.dims.{name}", f"must be a positive whole number, got {n!r}")
        latency = v.quantity(entry["latency"], f"{key}.latency", "time")
        out.append(FamilyProbe(op=op, dims=tuple(dims.items()), latency_s=latency))
    return tuple(out), measured_on


class _Validator:
    """Collects sources while checking; every failure names the file and key."""

    def __init__(self, where: str):
        self.where = where
        self.sources: dict[str, str] = {}
        self.measured: set[str] = set()
        self.notes: dict[str, str] = {}

    def fail(self, key: str, msg: str):
        at = f" key {key!r}" if key else ""
        raise SpecError(f"{self.where}:{at} {msg}")

    def keys(self, d: dict, key: str, required, optional):
        unknown = sorted(set(d) - set(required) - set(optional))
        if unknown:
            hint = did_you_mean(str(unknown[0]), (*required, *optional))
            if not hint:  # until 2026-12-04 `vendor: NVIDIA` was refused without naming the keys there are
                free = "; free text goes in notes" if not key and "notes" in optional else ""
                hint = f" (the keys here: {', '.join((*required, *optional))}{free})"
            self.fail(f"{key}.{unknown[0]}" if key else unknown[0], f"is not a known key{hint}")
        for r in required:
            if r not in d:
                full = f"{key}.{r}" if key else r
                fix = _SOURCE_FIX.format(key=key) if r == "source" else _MISSING_FIX.get(full, "")
                self.fail(full, "is required but missing" + fix)

    def section(self, d: dict, key: str, parent: str = "") -> dict:
        val = d[key]
        if not isinstance(val, dict):
            self.fail(f"{parent}.{key}" if parent else key, "must be a mapping")
        return val

    def string(self, d: dict, key: str, parent: str = "") -> str:
        val = d.get(key)
        full = f"{parent}.{key}" if parent else key
        if isinstance(val, (int, float)) and not isinstance(val, bool):  # `id: 4090` (YAML reads a number)
            self.fail(full, f"is the number {val!r}; write it in quotes ({key}: \"{val}\"), it must be text")
        if not isinstance(val, str) or not val.strip():
            self.fail(full, "must be a non-empty string")
        return val

    def positive(self, val: Any, key: str) -> float:
        if isinstance(val, str):  # "600 GB/s" or '31.2': text, refused without saying why until 2026-12-03
            self.fail(key, _text_value_fix(val))
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not math.isfinite(val) or val <= 0:
            self.fail(key, f"must be a positive number, got {val!r}")
        return float(val)

    def quantity(self, q: Any, key: str, category: str, zero_ok: bool = False) -> float:
        """A ``{value, unit, source[, measured, note]}`` mapping in SI units; its value positive (or 0 where
        ``zero_ok``: a cost measured as none)."""
        if not isinstance(q, dict):
            self.fail(key, "must be a mapping {value, unit, source}" + _bare_quantity_fix(q, category))
        unknown = sorted(set(q) - _QUANTITY_KEYS)
        if unknown:
            self.fail(f"{key}.{unknown[0]}", "is not a known key (use value, unit, source, measured, note)")
        for r in ("value", "unit", "source"):
            if r not in q:
                # every number names its source: until 2026-12-04 a missing one said only "is required but missing"
                fix = _SOURCE_FIX.format(key=key) if r == "source" else ""
                self.fail(f"{key}.{r}", "is required but missing" + fix)
        unit = q["unit"]
        if unit not in UNITS:
            fix = _per_action_unit_fix(unit, key, category, q.get("value"))
            self.fail(f"{key}.unit", fix or f"unknown unit {unit!r}{unit_hint(unit, category)}; use one of "
                                            f"{', '.join(units_of(category))}")
        cat, factor = UNITS[unit]
        if cat != category:
            allowed = ", ".join(units_of(category))
            self.fail(f"{key}.unit", f"{unit!r} is a {cat} unit but this key needs {category}; use one of {allowed}")
        value = (0.0 if zero_ok and q["value"] == 0 and not isinstance(q["value"], bool)
                 else self.positive(q["value"], f"{key}.value"))
        src = q["source"]
        if not isinstance(src, str) or not src.strip():
            self.fail(f"{key}.source", "must name where the number comes from")
        if _is_placeholder(src):  # README's template "..." passed as a source until 2026-12-03
            self.fail(f"{key}.source", f"is the placeholder {src.strip()!r}; name where the number comes from (a "
                                       "datasheet, a measurement, `derived: <arithmetic>` or `estimate: <reasoning>`)")
        self.sources[key] = src
        if not isinstance(q.get("measured", False), bool):
            self.fail(f"{key}.measured", "must be true or false")
        if q.get("measured", False) is True:
            self.measured.add(key)
        if "note" in q:
            if not isinstance(q["note"], str):
                self.fail(f"{key}.note", "must be a string")
            self.notes[key] = q["note"]
        si = value * factor
        if not math.isfinite(si):  # until 2026-12-04 `1e300 TFLOP/s` loaded as inf (and JSON wrote Infinity)
            self.fail(key, f"is {si} in SI units, beyond any device; fix its value and unit")  # devices' wording
        return si

    def opt_quantity(self, d: dict, name: str, parent: str, category: str) -> float | None:
        if name not in d:
            return None
        return self.quantity(d[name], f"{parent}.{name}", category)
