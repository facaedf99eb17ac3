"""This machine's CPU as ``/proc/cpuinfo`` says it: identity (vendor, family, model, stepping) and the instruction-set
flags that choose a runtime's kernels. One reader for the measurement records (:mod:`hybridperf.measure.onnxruntime`)
and the runtime-memory estimate's ``--device host`` (:func:`hybridperf.estimate.runtime_memory.host_isa`); the file
is read once per process (a machine's CPU does not change while it runs).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: ISA flags that change which kernels a runtime picks (recorded with every measurement, listed in a probed sheet's
#: notes after ``ISA flags:``)
KEY_ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "asimd", "asimddp", "sve")

CPUINFO_PATH = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuIdentity:
    """What identifies a CPU beyond its marketing name (one "AMD EPYC" may be Zen 3 or Zen 4).

    Attributes
    ----------
    model_name : str
        ``model name`` of /proc/cpuinfo.
    vendor : str
        ``vendor_id`` (``AuthenticAMD``, ``GenuineIntel``); empty if unknown.
    family, model, stepping : int or None
        ``cpu family``, ``model`` and ``stepping`` of /proc/cpuinfo.
    isa : tuple of str
        The :data:`KEY_ISA_FLAGS` the CPU reports, in that order.
    arch : str
        ``"x86-64"`` where the flags come from a ``flags`` line, ``"arm"`` where from a ``Features`` line, ``""``
        where /proc/cpuinfo has neither.
    """

    model_name: str
    vendor: str = ""
    family: int | None = None
    model: int | None = None
    stepping: int | None = None
    isa: tuple[str, ...] = ()
    arch: str = ""

    def as_row(self) -> dict[str, Any]:
        """CSV columns ``cpu_model, cpu_vendor, cpu_family, cpu_model_id, cpu_stepping, cpu_isa``."""
        def num(x: int | None) -> int | str:
            return "" if x is None else x

        return {"cpu_model": self.model_name, "cpu_vendor": self.vendor, "cpu_family": num(self.family),
                "cpu_model_id": num(self.model), "cpu_stepping": num(self.stepping), "cpu_isa": "|".join(self.isa)}


def parse_cpuinfo(text: str) -> CpuIdentity:
    """The :class:`CpuIdentity` of the first processor block of a /proc/cpuinfo text."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # end of the first processor block
            continue
        k, _, v = line.partition(":")
        fields.setdefault(k.strip(), v.strip())

    def num(key: str) -> int | None:
        v = fields.get(key, "")
        return int(v) if v.isdigit() else None

    arch = "x86-64" if "flags" in fields else "arm" if "Features" in fields else ""
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    return CpuIdentity(model_name=fields.get("model name", ""), vendor=fields.get("vendor_id", ""),
                       family=num("cpu family"), model=num("model"), stepping=num("stepping"),
                       isa=tuple(f for f in KEY_ISA_FLAGS if f in flags), arch=arch)


@functools.cache
def cpuinfo_text() -> str | None:
    """This machine's /proc/cpuinfo, read once per process; None where it cannot be read."""
    try:
        return CPUINFO_PATH.read_text()
    except OSError:
        return None


def this_cpu() -> CpuIdentity | None:
    """This machine's :class:`CpuIdentity` (:func:`parse_cpuinfo` of :func:`cpuinfo_text`), None where
    /proc/cpuinfo cannot be read."""
    text = cpuinfo_text()
    return None if text is None else parse_cpuinfo(text)


__all__ = ["KEY_ISA_FLAGS", "CpuIdentity", "parse_cpuinfo", "cpuinfo_text", "this_cpu"]
