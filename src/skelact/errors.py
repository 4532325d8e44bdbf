"""Exceptions raised by skelact, and warnings that point at the user's code."""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the first frame outside the skelact package: the user's line
    that called into skelact (``build(...)``, a config loader, ...), however many skelact frames lie
    between it and the check (Python 3.12's ``skip_file_prefixes``, for every supported Python)."""
    frame: FrameType | None = sys._getframe(1)
    level = 2  # level 1 is this function, 2 its caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


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
