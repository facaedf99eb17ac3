"""Small OFA-MobileNetV3 sweep variants (:mod:`benchmarks.nas_sweep`) for the cache equality tests."""

from __future__ import annotations

from pathlib import Path

#: (resolution, depths, kernels, expansions): 64x64 inputs keep the tests fast; blocks, and so kernels and
#: kernel costs, repeat across the variants
SMALL = (
    (64, (2, 2, 2, 2, 2), ((3, 5),) * 5, ((3, 4),) * 5),
    (64, (2, 3, 2, 2, 3), ((5, 3), (3, 3, 7), (3, 5), (7, 7), (3, 5, 3)), ((4, 3), (3, 4, 6), (3, 4), (4, 4), (3, 4, 3))),
    (96, (3, 2, 2, 2, 2), ((7, 3, 5), (5, 5), (3, 7), (3, 3), (5, 7)), ((6, 3, 4), (4, 6), (3, 3), (6, 4), (4, 6))),
)


def write_variants(directory: Path, indices: tuple[int, ...]) -> list[Path]:
    """Build ``SMALL[i]`` for each ``i`` in ``indices`` (seed = its position) as ONNX files in ``directory``."""
    import onnx

    from benchmarks.nas_sweep import Arch, build

    paths = []
    for pos, i in enumerate(indices):
        path = directory / f"v{pos}.onnx"
        onnx.save(build(Arch(*SMALL[i]), seed=pos), str(path))
        paths.append(path)
    return paths
