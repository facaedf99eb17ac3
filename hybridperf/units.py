"""Foundation: units, shapes and messages shared by every stage (imports nothing of hybridperf
but :mod:`hybridperf.errors`).
"""

from __future__ import annotations

import re

from hybridperf.errors import InputError


def parse_shape_flags(flags: list[str] | None) -> dict[str, tuple[int, ...]]:
    """Parse ``["x=1x3x224x224", "mask=1x128"]`` into a dict of shapes."""
    out: dict[str, tuple[int, ...]] = {}
    for flag in flags or []:
        m = re.fullmatch(r"\s*([^=\s]+)\s*=\s*(\d+(?:[x,]\d+)*)\s*", flag)
        if not m:
            raise InputError(f"bad --shape {flag!r}: write NAME=DxDxD, e.g. --shape input=1x3x224x224")
        out[m.group(1)] = tuple(int(d) for d in re.split("[x,]", m.group(2)))
    return out
