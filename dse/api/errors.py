"""Errors the orchestrator reports to users as one clear message (no traceback)."""

from __future__ import annotations


class DseError(Exception):
    """Base class: an error whose message alone tells the user what to do."""


class ConfigError(DseError):
    """A configuration value is missing, of the wrong type or out of range."""


class PluginError(DseError):
    """A plugin cannot be found, imported, or does not implement its interface."""


class DatasetError(DseError):
    """A dataset root is missing or does not hold the expected files."""


class TrackingError(DseError):
    """The tracking server cannot be reached or refuses the request."""


class TrainingError(DseError):
    """Training diverged (NaN or exploding loss)."""


def require(condition: bool, field: str, expectation: str, value: object) -> None:
    """Raise a ConfigError naming the field when ``condition`` is false.

    >>> require(bits >= 1, "quantizer.bits", "must be >= 1", bits)
    """
    if not condition:
        raise ConfigError(f"{field} {expectation} (got {value!r})")
