"""Fixtures of the model tests."""

from __future__ import annotations

from typing import Any

import pytest
import torch


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
