"""Shared test fixtures. Real data is read from ../shared/data (beside the repo root)."""

from __future__ import annotations

import os
import pathlib

import pytest
import torch

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()

# Two cores on CI: keep each test process single-threaded so xdist workers don't fight.
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")


from prerequisites import require  # noqa: E402


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    require(
        SHARED_DATA.is_dir(),
        f"the real datasets are not at {SHARED_DATA}",
        "these tests read ../shared/data beside the repository (see each dataset's PROVENANCE.md for "
        "its source); the tests on the bundled sample run without it",
    )
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
