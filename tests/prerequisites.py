"""Skips that say what is missing and how to get it, and that fail under CI instead."""

from __future__ import annotations

import os

import pytest

#: Under CI (``CI=true``) a missing prerequisite fails the test instead of skipping it: a CI runner
#: without the data or an extra must not stay green with part of the suite never run.
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(condition: object, missing: str, how: str = "") -> None:
    """Skip the calling test when ``condition`` is false, naming what is ``missing`` and ``how`` to
    get it; under CI fail instead (see :data:`IN_CI`)."""
    if condition:
        return
    message = f"{missing}{f'; {how}' if how else ''}"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)
