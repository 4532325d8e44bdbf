"""Optimisers and learning-rate schedules from :class:`~skelact.train.config.OptimConfig` /
:class:`~skelact.train.config.ScheduleConfig` (plain ``torch.optim``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from .config import OptimConfig, ScheduleConfig

__all__ = ["build_optimizer", "build_scheduler"]


def build_optimizer(cfg: OptimConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if cfg.name == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov and cfg.momentum > 0,
            weight_decay=cfg.weight_decay,
        )
    betas = (float(cfg.betas[0]), float(cfg.betas[1]))
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay)


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
