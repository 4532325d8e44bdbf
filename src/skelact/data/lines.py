"""Line features of ARRN-LSTM (Sec. 3.2.1, eq. 2): per joint, its differences to every other joint.

The line stream of the two-stream ARRN-LSTM (Li et al., "Skeleton-Based Action Recognition with
Attentional Recurrent Relational Network-LSTM") describes joint ``i`` of a frame by the vectors to
all other joints,

    l_{t,i} = (c_{t,i} - c_{t,1}, ..., c_{t,i} - c_{t,J})   skipping j = i        (eq. 2)

i.e. ``C * (J - 1)`` values (``3 (J - 1)`` for 3D joints), ordered other-joint-major and
channel-minor: ``x_i - x_1, y_i - y_1, z_i - z_1, x_i - x_2, ...``.

This module is the ONE implementation of eq. 2 in skelact: the model's line stream calls it (it
lives here, below the models, so that the :class:`~skelact.data.transforms.LineFeatures` transform
can call it too; :mod:`skelact.models.arrn.lines` re-exports it). It works on NumPy arrays and torch
tensors alike (same code path, advanced indexing), with the joint and channel axes anywhere, and it
never imports torch itself: ``skelact.data`` stays importable without it (a tensor argument means
torch is loaded already).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

ArrayT = TypeVar("ArrayT", np.ndarray, "torch.Tensor")

__all__ = ["line_features", "other_joints_index"]


def other_joints_index(num_joints: int) -> np.ndarray:
    """Index table ``(J, J-1)``: row ``i`` lists the joints ``j != i`` in increasing order.

    Shared by the line features (eq. 2) and the RRN's message sum over neighbours ``j != i``
    (eq. 6), so both skip the self-pair the same way.

    >>> other_joints_index(3).tolist()
    [[1, 2], [0, 2], [0, 1]]
    """
    if num_joints < 2:
        raise ValueError(f"need at least 2 joints, got {num_joints}")
    cols = np.arange(num_joints - 1)[None, :]  # (1, J-1)
    rows = np.arange(num_joints)[:, None]  # (J, 1)
    return cols + (cols >= rows)  # shift past the diagonal: (J, J-1)


def line_features(x: ArrayT, joint_axis: int = -2, channel_axis: int = -1) -> ArrayT:
    """Eq. 2: replace each joint's ``C`` coordinates by its ``C (J-1)`` differences to the others.

    Args:
        x: joints, a NumPy array or torch tensor with ``J`` joints on ``joint_axis`` and ``C``
            channels on ``channel_axis``; any other axes (batch, frames, bodies) are carried along.
            E.g. a raw sequence ``(T, M, V, C)`` (the defaults), a dataset item ``(C, T, V, M)``
            (``joint_axis=2, channel_axis=0``) or a model batch ``(N, C, T, V, M)``
            (``joint_axis=3, channel_axis=1``).
        joint_axis, channel_axis: the axes of joints and channels (negative indices allowed).

    Returns:
        Same type, dtype and device as ``x``, same shape except ``channel_axis`` has
        ``C * (J - 1)`` entries; entry ``k * C + c`` of joint ``i`` is ``x[i, c] - x[j_k, c]`` where
        ``j_k`` is the ``k``-th joint other than ``i`` (eq. 2's order).

    Frames or bodies that are all zeros (padding, a missing second person) map to all zeros.
    """
    nd = x.ndim
    ja, ca = joint_axis % nd, channel_axis % nd
    if ja == ca:
        raise ValueError("joint_axis and channel_axis must differ")
    num_joints, num_channels = x.shape[ja], x.shape[ca]
    idx = other_joints_index(num_joints)  # (J, J-1)
    th = sys.modules.get("torch")  # loaded whenever x is a tensor; None: x cannot be one
    if th is not None and isinstance(x, th.Tensor):
        xs = th.movedim(x, (ja, ca), (-2, -1))  # (..., J, C)
        idx_t = th.as_tensor(idx, device=x.device)
        lines = xs.unsqueeze(-2) - xs[..., idx_t, :]  # (..., J, J-1, C)
        lines = lines.flatten(-2)  # (..., J, (J-1) C)
        return th.movedim(lines, (-2, -1), (ja, ca))
    xs = np.moveaxis(np.asarray(x), (ja, ca), (-2, -1))  # (..., J, C)
    lines = xs[..., :, None, :] - xs[..., idx, :]  # (..., J, J-1, C)
    lines = lines.reshape(*lines.shape[:-2], (num_joints - 1) * num_channels)  # (..., J, (J-1) C)
    return np.ascontiguousarray(np.moveaxis(lines, (-2, -1), (ja, ca)))
