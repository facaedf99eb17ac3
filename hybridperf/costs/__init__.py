"""Cost rules, one module per op family, collected into one registry.

``default_registry()`` builds the registry once per process; it is frozen,
so no code can mutate it after start-up.
"""

from __future__ import annotations

import functools

from hybridperf.costs.registry import (
    FLOPS_PER_MAC,
    CostRegistry,
    OpContext,
    OpCost,
    RuleResult,
    Status,
    op_cost,
)

FAMILY_MODULES = ("conv", "matmul", "attention", "pool", "elementwise", "norm", "reduce", "data_movement")


def build_registry(check_exists: bool = True) -> CostRegistry:
    """A fresh registry holding every family's rules."""
    import importlib

    reg = CostRegistry(check_exists=check_exists)
    for name in FAMILY_MODULES:
        importlib.import_module(f"hybridperf.costs.{name}").register(reg)
    return reg.freeze()


@functools.cache
def default_registry() -> CostRegistry:
    return build_registry()


__all__ = [
    "FLOPS_PER_MAC",
    "CostRegistry",
    "OpContext",
    "OpCost",
    "RuleResult",
    "Status",
    "build_registry",
    "default_registry",
    "op_cost",
]
