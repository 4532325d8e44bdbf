"""Fixtures for the deploy tests: real shared samples and tiny models (narrow layers, short T)."""

from __future__ import annotations

import numpy as np
import pytest

import skelact

NTU_FILES = (
    "S001C001P001R001A050.skeleton",  # 74 frames, 2 bodies
    "S001C001P001R001A001.skeleton",  # 103 frames, 1 body
)


@pytest.fixture(scope="session")
def ntu_samples(sample_data):
    """Real NTU sequences as ``(T, 2, 25, 3)`` float32 arrays (second body zero when absent), from
    the files the package bundles (they run on a fresh clone): A050 (74 frames, 2 bodies), A001
    (103 frames, 1 body) and a third, two-person clip of 66 frames (A050's frames 8-73)."""
    out = []
    for name in NTU_FILES:
        sk = skelact.load(sample_data / "ntu_rgbd" / name)
        data = np.zeros((sk.num_frames, 2, 25, 3), dtype=np.float32)
        data[:, : min(2, sk.num_bodies)] = sk.data[:, :2]
        out.append(data)
    out.append(np.ascontiguousarray(out[0][8:]))
    return out
