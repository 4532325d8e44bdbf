"""Skips that say what is missing and how to get it, and that fail under CI instead."""

from __future__ import annotations

import os
import pathlib

import pytest

#: ``../shared/data`` beside the repository (the real datasets; absent on a user's fresh clone).
SHARED_DATA = (pathlib.Path(__file__).resolve().parents[2] / "shared" / "data").resolve()

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


class RealFiles:
    """A folder of real data files, ``folder / name``: the bundled copy when the package bundles
    that file (it runs on a fresh clone), else the one in ``../shared/data`` (the ``shared_data``
    fixture, which skips, or fails under CI, when that is absent)."""

    def __init__(self, request: pytest.FixtureRequest, sample_data, folder: str):
        self.request, self.sample_data, self.folder = request, sample_data, folder

    def __truediv__(self, name: str):
        bundled = self.sample_data / self.folder / name
        if bundled.exists():
            return bundled
        return self.request.getfixturevalue("shared_data") / self.folder / name
