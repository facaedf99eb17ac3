"""Imports only run down the README's "Layout" picture, function-local imports included."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hybridperf"

#: the README's picture, top (10) to foundation (0); a module imports its own layer or a lower one
RANK = {"cli": 10, "commands": 10, "__main__": 10, "api": 9, "block_table": 9, "report": 8, "measure": 7,
        "residual": 6, "estimate": 5, "device": 4, "analysis": 3, "costs": 3, "frontends": 2, "ir": 1,
        "errors": 0, "units": 0, "precision": 0, "files": 0, "frozen": 0, "json_text": 0, "_version": 0, "data": 0}


def _layer(dotted: str) -> str:
    return dotted.split(".")[1]


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("hybridperf.")]
    if isinstance(node, ast.ImportFrom) and node.level:
        raise AssertionError(f"relative import at line {node.lineno}: the package imports absolutely")
    if isinstance(node, ast.ImportFrom) and node.module:
        if node.module == "hybridperf":  # a module (``json_text``), ``__version__``, or the API the package re-exports
            return [f"hybridperf.{a.name if a.name in RANK else '_version' if a.name == '__version__' else 'api'}"
                    for a in node.names]
        if node.module.startswith("hybridperf."):
            return [node.module]
    return []


def test_every_import_runs_down_the_layout():
    # until 2026-12-05b: residual/zero_shot.py imported report.format (two layers up) inside a function
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        if rel.parts == ("hybridperf", "__init__"):
            continue  # the package's front door re-exports the API
        own = _layer(".".join(rel.parts))
        assert own in RANK, f"{path}: a layer the README's picture does not name"
        for node in ast.walk(ast.parse(path.read_text())):
            for name in _imported(node):
                if RANK[_layer(name)] > RANK[own]:
                    upward.append(f"{rel}:{node.lineno} imports {name}")
    assert upward == []
