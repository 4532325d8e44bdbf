"""Fixtures for the visualisation tests: real skeleton sequences from the shared data, read with
:func:`skelact.load`."""

from __future__ import annotations

import pytest

import skelact
from skelact import Skeleton


@pytest.fixture(scope="session")
def ntu_one(sample_data) -> Skeleton:
    """A one-person NTU sequence (A001 drink water, 103 frames)."""
    return skelact.load(sample_data / "ntu_rgbd" / "S001C001P001R001A001.skeleton")


@pytest.fixture(scope="session")
def ntu_two(sample_data) -> Skeleton:
    """A two-person NTU interaction (A050 punching/slapping other person, 74 frames)."""
    return skelact.load(sample_data / "ntu_rgbd" / "S001C001P001R001A050.skeleton")


@pytest.fixture(scope="session")
def kinetics_clip(shared_data) -> Skeleton:
    """A Kinetics-skeleton clip (2D OpenPose, up to 2 people kept) with frames without anyone."""
    return skelact.load(shared_data / "kinetics_skeleton" / "__vOysOPoCY.json")
