"""A preallocated ring buffer of skeleton frames with a zero-copy, time-ordered window view.

The buffer holds the last ``capacity`` frames of shape ``frame_shape`` (``(M, V, C)``). It is backed
by one array of ``2 * capacity`` frames: every frame is written twice, at ``i`` and
``i + capacity``, so the newest ``capacity`` frames are always one contiguous slice, in time
order, and reading the window never copies or allocates. Memory is fixed at construction: pushing
any number of frames never grows it.
"""

from __future__ import annotations

import numpy as np


class FrameRing:
    """Fixed-size FIFO of frames; :meth:`window` returns the newest frames oldest first.

    Args:
        capacity: number of frames kept (the sliding-window length).
        frame_shape: shape of one frame, e.g. ``(M, V, C)``.
        dtype: storage dtype (float32 by default, the model input dtype).
    """

    def __init__(self, capacity: int, frame_shape: tuple[int, ...], dtype=np.float32):
        if int(capacity) < 1:
            raise ValueError(f"ring capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.frame_shape = tuple(int(s) for s in frame_shape)
        self._data = np.zeros((2 * self.capacity, *self.frame_shape), dtype=dtype)
        self._next = 0  # slot the next frame goes to, in [0, capacity)
        self._size = 0  # frames held, <= capacity
        self.total = 0  # frames ever pushed

    def __len__(self) -> int:
        return self._size

    @property
    def full(self) -> bool:
        return self._size == self.capacity

    @property
    def nbytes(self) -> int:
        """Bytes of the backing array (constant for the life of the buffer)."""
        return int(self._data.nbytes)

    @property
    def storage(self) -> np.ndarray:
        """The backing array itself (for inspection; do not write to it)."""
        return self._data

    def push(self, frame: np.ndarray) -> None:
        """Append one frame (copied into the buffer), dropping the oldest when full."""
        i = self._next
        self._data[i] = frame
        self._data[i + self.capacity] = frame
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)
        self.total += 1

    def last(self) -> np.ndarray | None:
        """View of the newest frame, or None when empty."""
        if self._size == 0:
            return None
        return self._data[(self._next - 1) % self.capacity]

    def window(self) -> np.ndarray:
        """View ``(len(self), *frame_shape)`` of the held frames, oldest first (no copy)."""
        end = self._next + self.capacity
        return self._data[end - self._size : end]

    def clear(self) -> None:
        """Forget every frame (keeps the allocation)."""
        self._data.fill(0)
        self._next = 0
        self._size = 0
        self.total = 0
