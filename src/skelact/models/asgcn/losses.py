"""AS-GCN objectives as plain functions (Sec. 4.1, 4.4, eq. 6).

* :func:`recognition_loss`: ``L_recog = -y^T log(y_hat)`` (cross-entropy, Sec. 4.4).
* :func:`prediction_loss`: ``L_predict = 1 / (n d T') sum ||X_hat - X||^2`` (eq. 6), the mean
  squared error over joints, coordinates and future frames, over the bodies selected by a mask.
* :func:`gaussian_nll` + :func:`kl_categorical`: the AIM loss ``L_AIM`` (Sec. 4.1): the Gaussian
  negative log-likelihood of the next pose (variance ``sigma^2``) plus the KL divergence of the
  link posterior from the prior, both summed over joints / links and frames and divided by
  ``batch x joints`` (the normalisation of the NRI and official code).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["gaussian_nll", "kl_categorical", "prediction_loss", "recognition_loss"]


def recognition_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of class logits ``(N, K)`` against labels ``(N,)``."""
    return F.cross_entropy(logits, labels)


def prediction_loss(
    pred: torch.Tensor, target: torch.Tensor, bodies: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. 6 on ``(N, C, T', V, M)`` predictions and targets.

    Args:
        bodies: optional boolean mask of what counts: ``(N, M)`` (a body in every future frame) or
            ``(N, T', M)`` (a body in one future frame; padding, e.g. an absent second person, is
            left out). ``None`` = all.
    """
    sq = (pred - target).square()  # (N, C, T', V, M)
    if bodies is None:
        return sq.mean()
    if bodies.dim() == 2:
        bodies = bodies[:, None, :].expand(-1, sq.shape[2], -1)  # (N, T', M)
    w = bodies.to(sq.dtype)[:, None, :, None, :]  # (N, 1, T', 1, M)
    per_body_frame = sq.shape[1] * sq.shape[3]  # C V
    return (sq * w).sum() / (w.sum() * per_body_frame).clamp_min(1.0)


def gaussian_nll(
    mean: torch.Tensor, target: torch.Tensor, variance: float, add_const: bool = False
) -> torch.Tensor:
    """``sum ||target - mean||^2 / (2 sigma^2)`` over ``(B, T, V, C)``, divided by ``B V``.

    ``add_const`` adds the normalising constant ``log(2 pi sigma^2) / 2`` per coordinate.
    """
    nll = (mean - target).square() / (2.0 * variance)
    if add_const:
        nll = nll + 0.5 * math.log(2.0 * math.pi * variance)
    b, _, v, _ = target.shape
    return nll.sum() / (b * v)


def kl_categorical(probs: torch.Tensor, log_prior: torch.Tensor, eps: float = 1e-16) -> torch.Tensor:
    """``KL(q || prior) = sum q (log q - log prior)`` over links ``(B, V, V - 1, types)``, divided by ``B V``.

    Zero exactly when every link's posterior equals the prior.
    """
    kl = probs * (torch.log(probs + eps) - log_prior)
    return kl.sum() / (probs.shape[0] * probs.shape[1])
