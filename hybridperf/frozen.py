"""Frozen records that hold read-only mappings (:class:`types.MappingProxyType`), picklable and copyable.

A mappingproxy neither pickles nor deep-copies ("cannot pickle 'mappingproxy' object"). A frozen dataclass that
holds some (a device sheet, a model analysis, a check result) returns :func:`reduce_read_only` from its
``__reduce__``: its fields travel with each read-only mapping (at any depth among mapping values) as its items, and
come back read-only; a plain dict stays a plain dict. ``pickle``, ``copy.copy`` and ``copy.deepcopy`` all go
through it.
"""

from __future__ import annotations

from dataclasses import fields
from types import MappingProxyType
from typing import Any

__all__ = ["rebuild_read_only", "reduce_read_only"]


class _ReadOnlyItems(dict):
    """A read-only mapping's items on their way through a pickle or a copy (a mappingproxy neither pickles nor
    deep-copies): :func:`rebuild_read_only` makes each one read-only again. A type of its own, so that a plain dict
    stays a plain dict."""

    __slots__ = ()


def reduce_read_only(record: Any) -> tuple[Any, tuple[type, dict[str, Any]]]:
    """What ``__reduce__`` returns for a frozen dataclass that holds read-only mappings
    (:class:`types.MappingProxyType`): its class and its fields, each read-only mapping (and each one among its
    values) as its items (:class:`_ReadOnlyItems`), for :func:`rebuild_read_only`. ``pickle``, ``copy.copy`` and
    ``copy.deepcopy`` all go through it; the copy is as read-only as the record."""
    return rebuild_read_only, (type(record), {f.name: _items_of(getattr(record, f.name)) for f in fields(record)})


def rebuild_read_only(cls: type, state: dict[str, Any]) -> Any:
    """``cls`` from the fields :func:`reduce_read_only` gave, each :class:`_ReadOnlyItems` read-only again."""
    return cls(**{name: _read_only(value) for name, value in state.items()})


def _items_of(value: Any) -> Any:
    if type(value) is MappingProxyType:
        return _ReadOnlyItems({k: _items_of(v) for k, v in value.items()})
    return value


def _read_only(value: Any) -> Any:
    if type(value) is _ReadOnlyItems:
        return MappingProxyType({k: _read_only(v) for k, v in value.items()})
    return value
