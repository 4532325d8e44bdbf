"""Lightning callbacks of the training engine, one job each.

* :class:`EpochSeed`: re-seeds every RNG from ``(seed, epoch, rank)`` at the start of each epoch,
  so an epoch interrupted by a kill is replayed identically after ``--resume``.
* :class:`FiniteLossGuard`: stops the run with :class:`TrainingDiverged` on a NaN/inf loss (the
  last good checkpoint, written at the previous epoch end, is left untouched).
* :class:`ProgressBar`: Lightning's tqdm bar plus training throughput in samples/s.
* :class:`FaultInjection`: kills the process at a given ``epoch:batch`` when the environment
  variable ``SKELACT_FAULT_KILL_AT`` is set (for testing resume after ``kill -9``); inert otherwise.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np
import pytorch_lightning as pl
from lightning_fabric.utilities.seed import seed_everything
from pytorch_lightning.callbacks import TQDMProgressBar

__all__ = ["EpochSeed", "FaultInjection", "FiniteLossGuard", "ProgressBar", "TrainingDiverged", "derive_seed"]

FAULT_ENV = "SKELACT_FAULT_KILL_AT"


def derive_seed(*parts: int) -> int:
    """A 31-bit seed derived from integers (e.g. ``(seed, epoch, rank)``), well mixed."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0] & 0x7FFFFFFF)


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


class EpochSeed(pl.Callback):
    """Seed torch, NumPy and ``random`` from ``(seed, epoch, global rank)`` at each epoch start."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seed_everything(derive_seed(self.seed, trainer.current_epoch, trainer.global_rank), verbose=False)


class FiniteLossGuard(pl.Callback):
    """Raise :class:`TrainingDiverged` as soon as a training loss is not finite (on any rank)."""

    def __init__(self, last_checkpoint: str | os.PathLike | None = None):
        self.last_checkpoint = last_checkpoint

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        value = float(loss.detach()) if loss is not None else 0.0
        bad = not math.isfinite(value)
        if trainer.world_size > 1:
            bad = trainer.strategy.reduce_boolean_decision(bad, all=False)
        if bad:
            where = (
                self.last_checkpoint
                if self.last_checkpoint and os.path.exists(self.last_checkpoint)
                else None
            )
            kept = (
                f"the last good checkpoint is kept: {where}"
                if where
                else "no checkpoint had been written yet"
            )
            raise TrainingDiverged(
                f"training loss became {value} at epoch {trainer.current_epoch}, batch {batch_idx}; "
                f"stopped ({kept}). Try a lower train.optim.lr or train.gradient_clip."
            )


class ProgressBar(TQDMProgressBar):
    """tqdm progress bar showing loss, learning rate and training throughput (samples/s, all devices)."""

    def __init__(self, refresh_rate: int = 1):
        super().__init__(refresh_rate=refresh_rate)
        self._t0 = 0.0
        self._samples = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        super().on_train_epoch_start(trainer, *args)
        self._t0 = time.perf_counter()
        self._samples = 0

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        self._samples += int(x.shape[0]) * trainer.world_size
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        elapsed = time.perf_counter() - self._t0
        if trainer.training and self._samples and elapsed > 0:
            items["samples/s"] = f"{self._samples / elapsed:.1f}"
        return items


class FaultInjection(pl.Callback):
    """Test hook: ``SKELACT_FAULT_KILL_AT=EPOCH:BATCH`` ends the process abruptly (``os._exit``,
    no clean-up, like ``kill -9``) before that training batch runs."""

    def __init__(self, spec: str | None = None):
        spec = os.environ.get(FAULT_ENV) if spec is None else spec
        self.at: tuple[int, int] | None = None
        if spec:
            epoch, _, batch = spec.partition(":")
            self.at = (int(epoch), int(batch or 0))

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.at is not None and (trainer.current_epoch, batch_idx) == self.at:
            os._exit(137)
