"""Two-stream score fusion, eq. 12 of ARRN-LSTM: ``y = α y_j + β y_l`` with ``β = 1 - α``.

``y_j`` and ``y_l`` are the softmax scores of the joint and the line stream. This module holds the
one implementation of the equation (:func:`fused_log_scores`, used by the model's forward and, via
:func:`fused_probabilities`, by every evaluation) and of choosing ``α`` on validation scores
(:func:`fit_fusion_alpha`, the paper's "set ... based on validation set", Sec. 4.1). It lives with
the model that uses it; :mod:`skelact.evaluation.fusion` re-exports it for evaluation and reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

__all__ = ["ALPHA_GRID", "fit_fusion_alpha", "fused_log_scores", "fused_probabilities", "softmax"]

#: The fusion weights searched by default: 0, 0.05, ..., 1.
ALPHA_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)


def fused_log_scores(
    joint_logits: torch.Tensor, line_logits: torch.Tensor, alpha: float | torch.Tensor
) -> torch.Tensor:
    """``log(α softmax(joint) + (1 - α) softmax(line))`` (eq. 12), computed stably.

    Returned as logits: their softmax is the fused score ``y``; ``α = 1`` gives the joint stream's
    log-softmax exactly, ``α = 0`` the line stream's.
    """
    if isinstance(alpha, torch.Tensor):
        a = alpha.to(joint_logits.dtype)
    else:
        a = joint_logits.new_tensor(alpha)
    return torch.logaddexp(
        torch.log(a) + F.log_softmax(joint_logits, dim=-1),
        torch.log1p(-a) + F.log_softmax(line_logits, dim=-1),
    )


def fused_probabilities(joint: npt.ArrayLike, line: npt.ArrayLike, alpha: float) -> np.ndarray:
    """The fused score ``y`` of eq. 12 as probabilities (float64 NumPy, any leading shape) from the
    streams' logits: the softmax of :func:`fused_log_scores`."""
    j, ln = _float64(joint), _float64(line)
    out: np.ndarray = fused_log_scores(j, ln, float(alpha)).exp().numpy()
    return out


def softmax(scores: npt.ArrayLike) -> np.ndarray:
    """Softmax over the last axis (float64 NumPy): one stream's score ``y`` from its logits."""
    out: np.ndarray = torch.softmax(_float64(scores), -1).numpy()
    return out


def _float64(x: Any) -> torch.Tensor:
    """``x`` (NumPy, a list or a torch tensor on any device) as a float64 CPU tensor; NumPy views of
    any strides (``scores[::-1]``) are copied, which ``torch.as_tensor`` alone refuses."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))


def fit_fusion_alpha(
    joint_scores: Any,
    line_scores: Any,
    labels: Any,
    grid: Iterable[float] | None = None,
    logits: bool = True,
) -> tuple[float, np.ndarray]:
    """Grid search of the fusion weight ``α`` of eq. 12 on validation scores.

    Args:
        joint_scores, line_scores: ``(N, K)`` per-stream scores (NumPy or torch): logits
            (``logits=True``, softmax applied here) or softmax probabilities (``logits=False``).
        labels: ``(N,)`` integer class labels.
        grid: candidate values of ``α`` in ``[0, 1]`` (default :data:`ALPHA_GRID`).

    Returns:
        ``(alpha, accuracy)``: the ``α`` with the most correct ``argmax(α y_j + (1-α) y_l)`` and the
        accuracy of every grid value. Ties go to the ``α`` closest to 0.5 (equal weighting, the least
        committed choice), and between two equally close ones to the larger ``α`` (the joint stream,
        the stronger single stream in the paper's Table 2).
    """
    values = ALPHA_GRID if grid is None else np.asarray(list(grid), dtype=np.float64)
    if values.size == 0 or np.any((values < 0) | (values > 1)):
        raise ValueError("grid must be a non-empty set of values in [0, 1]")

    def as_logits(s: Any) -> np.ndarray:  # probabilities p enter as log p (softmax(log p) = p)
        t = _float64(s)
        return (t if logits else torch.log(t)).numpy()

    zj, zl = as_logits(joint_scores), as_logits(line_scores)  # (N, K)
    y = (labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)).reshape(-1)  # (N,)
    if zj.shape != zl.shape or zj.ndim != 2 or zj.shape[0] != y.shape[0]:
        raise ValueError(f"score shapes {zj.shape}, {zl.shape} and labels {y.shape} do not match")
    fused = np.stack([fused_probabilities(zj, zl, float(a)) for a in values])  # (G, N, K)
    correct = (fused.argmax(-1) == y).sum(-1)  # (G,) exact counts, compared without rounding
    best = np.flatnonzero(correct == correct.max())
    pick = min(best, key=lambda g: (round(abs(values[g] - 0.5), 9), -values[g]))  # 9 dp: float noise
    return float(values[pick]), correct / max(len(y), 1)
