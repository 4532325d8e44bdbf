"""Optimisers and learning-rate schedules from :class:`~skelact.train.config.OptimConfig` /
:class:`~skelact.train.config.ScheduleConfig` (plain ``torch.optim``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

from .config import OptimConfig, ScheduleConfig

__all__ = ["FUSED_DEVICES", "build_optimizer", "build_scheduler", "fusable"]


#: Devices where SGD, Adam and AdamW all have PyTorch's fused kernels (``fused=True``; CPU since
#: torch 2.4); parameters elsewhere get the default implementation.
FUSED_DEVICES = ("cpu", "cuda")


def fusable(params: Sequence[torch.Tensor]) -> bool:
    """Whether ``fused=True`` applies: floating-point parameters, all on one device that has the
    fused kernels (:data:`FUSED_DEVICES`)."""
    devices = {p.device.type for p in params}
    return (bool(params) and len(devices) == 1 and devices <= set(FUSED_DEVICES)
            and all(p.is_floating_point() for p in params))


def build_optimizer(cfg: OptimConfig, params: Iterable[torch.nn.Parameter],
                    allow_fused: bool = True) -> torch.optim.Optimizer:
    """The optimiser of ``cfg`` over the parameters that require gradients.

    With ``cfg.fused`` (default) and :func:`fusable` parameters the update runs as PyTorch's fused
    kernel, one pass over every parameter instead of a dozen ``foreach`` passes (the same update
    up to rounding; the MSRAction3D ARRN-LSTM training step 1.02-1.03x as fast,
    ``benchmarks/results/arrn.md``).
    ``allow_fused=False`` keeps the default implementation (Lightning cannot clip the gradients of
    a fused optimiser under a ``16-mixed`` gradient scaler).
    """
    params = [p for p in params if p.requires_grad]
    extra = {"fused": True} if cfg.fused and allow_fused and fusable(params) else {}
    if cfg.name == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov and cfg.momentum > 0,
            weight_decay=cfg.weight_decay,
            **extra,
        )
    betas = (float(cfg.betas[0]), float(cfg.betas[1]))
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay, **extra)
    return torch.optim.AdamW(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay, **extra)


def build_scheduler(cfg: ScheduleConfig, optimizer: torch.optim.Optimizer, epochs: int) -> Any:
    """An epoch-stepped scheduler, or ``None`` for ``name: none``.

    ``plateau`` multiplies the lr by ``gamma`` when ``monitor`` has not improved for ``patience``
    epochs (ARRN-LSTM on NTU: "x0.1 when the accuracy gets saturated").
    """
    if cfg.name == "none":
        return None
    if cfg.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.name == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=list(cfg.milestones), gamma=cfg.gamma
        )
    if cfg.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs), eta_min=cfg.min_lr)
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=cfg.mode, factor=cfg.gamma, patience=cfg.patience, min_lr=cfg.min_lr
    )
