"""The package version (foundation: imports nothing)."""

__version__ = "0.1.0"
