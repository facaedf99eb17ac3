"""Work re-used across the models of a sweep, held in one explicit object.

An :class:`AnalysisCache` is passed to :func:`hybridperf.analysis.analyze.analyze` (usually by
:class:`hybridperf.api.Session`); without one every analysis starts from scratch. What it keeps
never changes a figure: each entry is keyed by everything its result depends on, and
``tests/test_session.py`` compares cached and uncached predictions field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hybridperf.analysis.blocks import BlockCache
from hybridperf.ir.call_stream import ReshapePatterns
from hybridperf.ir.lowering import LegalizeCache

__all__ = ["AnalysisCache"]


@dataclass
class AnalysisCache:
    """Caches of the device-independent stage.

    Attributes
    ----------
    legalize : LegalizeCache
        Legalized PrimFuncs by op signature (the slow part of lowering).
    reshape_patterns : ReshapePatterns
        Which of those PrimFuncs are reshapes (what the memory plan asks of each unfused kernel).
    blocks : BlockCache or None
        Segments of ONNX graphs analysed once and composed into whole models
        (:mod:`hybridperf.analysis.blocks`); None analyses every model whole.
    """

    legalize: LegalizeCache = field(default_factory=LegalizeCache)
    reshape_patterns: ReshapePatterns = field(default_factory=ReshapePatterns)
    blocks: BlockCache | None = field(default_factory=BlockCache)

    def stats(self) -> dict[str, int]:
        """Hit / miss counters, for benchmarks and logs."""
        lc = self.legalize
        return {"legalize_entries": len(lc), "legalize_hits": lc.hits, "legalize_misses": lc.misses,
                "legalize_uncached": lc.uncached, "legalize_one_pass": lc.one_pass,
                "reshape_patterns": len(self.reshape_patterns),
                **(self.blocks.stats() if self.blocks is not None else {})}
