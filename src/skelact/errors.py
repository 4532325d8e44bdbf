"""Exceptions raised by skelact."""

from __future__ import annotations

import os


class SkeletonFormatError(ValueError):
    """A skeleton file could not be parsed.

    Always names the offending file and, where known, the 1-based line number, so a user can open
    the file at the right place. The CLI turns it into a one-line message and exit code 2.
    """

    def __init__(self, path: str | os.PathLike[str] | None, message: str, line: int | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.reason = message
        where = self.path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class ConfigError(ValueError):
    """A configuration is invalid (unknown key, wrong type, bad value); the message names the key."""
