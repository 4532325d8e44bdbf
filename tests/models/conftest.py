"""Fixtures of the model tests."""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch


def pytest_collection_modifyitems(config, items) -> None:
    """Under mutation testing, run the tests marked ``slow`` last.

    mutmut (``scripts/mutation.sh``) names the mutant under test in ``MUTANT_UNDER_TEST`` and
    stops at the first failing test (``-x``); a mutant is nearly always killed by a fast test, so
    the slow ones (seconds to half a minute each) run only for the mutants that survive the rest.
    The order of an ordinary run is left alone.
    """
    if os.environ.get("MUTANT_UNDER_TEST"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is not None)  # stable


@pytest.fixture
def torch_load_kwargs(monkeypatch) -> dict[str, Any]:
    """The keyword arguments of the latest ``torch.load`` call (the call itself goes through)."""
    seen: dict[str, Any] = {}
    real = torch.load

    def spy(f, **kw):
        seen.clear()
        seen.update(kw)
        return real(f, **kw)

    monkeypatch.setattr(torch, "load", spy)
    return seen
