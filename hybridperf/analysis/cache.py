"""Work re-used across the models of a sweep, held in one explicit object.

An :class:`AnalysisCache` is passed to :func:`hybridperf.analysis.analyze.analyze` (usually by
:class:`hybridperf.api.Session`); without one every analysis starts from scratch. What it keeps
never changes a figure: each entry is keyed by everything its result depends on, and
``tests/test_session.py`` compares cached and uncached predictions field by field.
"""

from __future__ import annotations

import os
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from hybridperf.analysis.blocks import BlockCache
from hybridperf.ir.call_stream import ReshapePatterns
from hybridperf.ir.lowering import LegalizeCache

__all__ = ["AnalysisCache", "file_crc", "file_key", "is_racy"]

#: a file changed less than this long ago may change again without its time stamps moving (a clock tick, or the
#: 1-2 s granularity of FAT, HFS+ and some network file systems): :func:`file_key` adds a digest of its bytes
RACY_NS = 3_000_000_000


def file_key(path: str | os.PathLike, digest: bool = True) -> tuple | None:
    """What a file's cached result is keyed by: ``(resolved path, size, mtime_ns, ctime_ns, inode, device,
    digest)``; None when it cannot be read (then nothing is cached for it).

    The time stamps and inode catch an edit in place, a re-export over the file (``os.replace``: a new inode), and a
    file copied over it with its old mtime kept (``cp -p``, ``rsync -t``, ``touch -r``: the ctime moves; until
    2026-12-03 :class:`hybridperf.api.Session` keyed by path, size and mtime only and served such a model's old
    figures). A file changed within the last :data:`RACY_NS` can change again within the same time-stamp tick, so
    its key also holds a CRC-32 of its bytes (the rule git uses for "racily clean" index entries): a NAS loop writing
    each candidate to one path is keyed by content, checksumming only files just written. CRC-32 rather than a
    cryptographic digest: it guards against an accidental same-size rewrite within one tick, not an adversary, and
    costs about 3 ms for a 10 MB candidate where BLAKE2b cost 16 ms, twice per variant, a third of a sweep's time.
    ``digest=False`` leaves it None (the time stamps alone: "was the file touched since").
    """
    p = Path(path)
    try:
        st = p.stat()
        resolved = str(p.resolve())
    except (OSError, RuntimeError, ValueError):
        return None
    key = (resolved, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
    if not (digest and is_racy(key, time.time_ns())):
        return (*key, None)
    crc = file_crc(p)
    return None if crc is None else (*key, crc)


def file_crc(path: str | os.PathLike) -> int | None:
    """CRC-32 of the file's bytes, read in 1 MiB chunks (the digest of :func:`file_key`); None when it cannot be
    read."""
    crc = 0
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                crc = zlib.crc32(chunk, crc)
    except OSError:
        return None
    return crc


def is_racy(key: tuple, now_ns: int) -> bool:
    """Whether the file :func:`file_key` keyed as ``key`` (stat'ed at ``now_ns``) was changed less than
    :data:`RACY_NS` before: a rewrite within the same time-stamp tick could keep every field of its key."""
    return max(key[2], key[3]) > now_ns - RACY_NS


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
