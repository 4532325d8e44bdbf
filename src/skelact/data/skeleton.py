"""The in-memory skeleton sequence returned by every reader.

Tensor layout convention (used everywhere in skelact):

* A raw sequence, as read from a file: ``Skeleton.data`` is a NumPy float32 array of shape
  ``(T, M, V, C)`` = (frames, bodies, joints, channels).
* A model input batch: a torch float32 tensor of shape ``(N, C, T, V, M)`` = (batch, channels,
  frames, joints, bodies), as in ST-GCN. ``Skeleton.to_model_input()`` converts one sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Skeleton:
    """One skeleton sequence.

    Attributes:
        data: float32 array ``(T, M, V, C)``; frames with no body are zeros.
        layout: name of the joint layout (see :mod:`skelact.data.layouts`).
        meta: per-sample facts: always ``sample`` (the sample name); where the format has them
            ``label`` (0-based int), ``subject``, ``camera``, ``setup``, ``replication``, plus
            format-specific extras (documented by each reader).
    """

    data: np.ndarray
    layout: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.data.shape[0])

    @property
    def num_bodies(self) -> int:
        return int(self.data.shape[1])

    @property
    def num_joints(self) -> int:
        return int(self.data.shape[2])

    @property
    def num_channels(self) -> int:
        return int(self.data.shape[3])

    def to_model_input(self) -> np.ndarray:
        """Return the data as ``(C, T, V, M)`` (one sample of a model batch)."""
        return np.ascontiguousarray(self.data.transpose(3, 0, 2, 1))

    def __repr__(self) -> str:  # keep reprs short: data can be large
        return f"Skeleton(layout={self.layout!r}, shape={tuple(self.data.shape)}, meta={self.meta!r})"
