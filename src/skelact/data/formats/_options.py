"""Checking reader options: bad values raise :class:`~skelact.errors.ConfigError` naming the option."""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError


def as_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (bools and non-integral numbers are refused)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        if not (isinstance(value, float) and value.is_integer()):
            raise ConfigError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    number = int(value)
    if number < minimum:
        raise ConfigError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return number


def as_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def as_float(name: str, value: Any) -> float:
    """``value`` as a finite float."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{name}: expected a finite number, got {value!r}")
    return number
