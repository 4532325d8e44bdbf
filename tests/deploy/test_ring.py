"""FrameRing: time order, no growth, zero-copy window."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from skelact.deploy.ring import FrameRing


@pytest.mark.parametrize("capacity", [1, 3, 7])
def test_window_is_the_newest_frames_oldest_first(capacity):
    ring = FrameRing(capacity, (2, 4, 3))
    ref: deque[np.ndarray] = deque(maxlen=capacity)
    rng = np.random.default_rng(0)
    for i in range(5 * capacity + 2):
        frame = rng.normal(size=(2, 4, 3)).astype(np.float32)
        ring.push(frame)
        ref.append(frame)
        np.testing.assert_array_equal(ring.window(), np.stack(ref))
        np.testing.assert_array_equal(ring.last(), frame)
        assert len(ring) == min(i + 1, capacity)
        assert ring.total == i + 1


def test_memory_is_fixed_and_window_is_a_view():
    ring = FrameRing(10, (2, 25, 3))
    storage, nbytes = ring.storage, ring.nbytes
    for i in range(1000):
        ring.push(np.full((2, 25, 3), i, dtype=np.float32))
        assert ring.storage is storage and ring.nbytes == nbytes
    win = ring.window()
    assert np.shares_memory(win, storage)  # reading the window never copies
    assert win[:, 0, 0, 0].tolist() == list(range(990, 1000))
    assert ring.full and len(ring) == 10


def test_push_copies_and_clear_forgets():
    ring = FrameRing(2, (1, 2, 3))
    frame = np.ones((1, 2, 3), np.float32)
    ring.push(frame)
    frame[...] = 5  # the caller may reuse its array
    assert ring.window().max() == 1
    ring.clear()
    assert len(ring) == 0 and ring.window().shape == (0, 1, 2, 3) and ring.last() is None


def test_bad_capacity():
    with pytest.raises(ValueError, match="capacity"):
        FrameRing(0, (1, 2, 3))
