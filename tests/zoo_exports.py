"""Where the zoo's ONNX exports live (``python -m benchmarks.zoo --export-all``; gitignored): the repository's
``.zoo/`` directory, wherever the checkout is. Tests that need them skip when they are not there."""

from __future__ import annotations

from pathlib import Path

from benchmarks.zoo import DEFAULT_OUT_DIR

ZOO = Path(__file__).resolve().parents[1] / DEFAULT_OUT_DIR
