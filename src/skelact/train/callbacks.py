"""Lightning callbacks of the training engine, one job each.

* :class:`EpochSeed`: re-seeds every RNG from ``(seed, epoch, rank)`` at the start of each epoch,
  so an epoch interrupted by a kill is replayed identically after ``--resume``.
* :class:`FiniteLossGuard`: stops the run with :class:`TrainingDiverged` on a NaN/inf loss (the
  last good checkpoint, written at the previous epoch end, is left untouched).
* :class:`ProgressBar`: Lightning's tqdm bar plus training throughput in samples/s.
* :class:`FaultInjection`: kills the process at a given ``epoch:batch`` when the environment
  variable ``SKELACT_FAULT_KILL_AT`` is set, or makes it wait there forever with
  ``SKELACT_FAULT_HANG_AT`` (for a test to send it a real ``SIGKILL``); inert otherwise.
* :class:`StepCounter`: what this process trained (first epoch and step, batches run), so a
  resumed run shows that it resumed.
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

__all__ = [
    "EpochSeed",
    "FaultInjection",
    "FiniteLossGuard",
    "ProgressBar",
    "StepCounter",
    "TrainingDiverged",
    "derive_seed",
]

FAULT_ENV = "SKELACT_FAULT_KILL_AT"
HANG_ENV = "SKELACT_FAULT_HANG_AT"


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


#: How often each fault point was reached in this process (over every trainer, e.g. every fold).
_REACHED: dict[tuple[str, int, int], int] = {}


class FaultInjection(pl.Callback):
    """Test hook: ``SKELACT_FAULT_KILL_AT=EPOCH:BATCH`` ends the process abruptly (``os._exit``,
    no clean-up, like ``kill -9``) before that training batch runs; ``SKELACT_FAULT_HANG_AT``
    makes it wait there until something kills it. ``EPOCH:BATCH:N`` acts the N-th time the point
    is reached in the process (e.g. in the second fold of a fold protocol; default 1)."""

    def __init__(self, spec: str | None = None, hang: str | None = None):
        self.at = self._parse(os.environ.get(FAULT_ENV) if spec is None else spec)
        self.hang = self._parse(os.environ.get(HANG_ENV) if hang is None else hang)

    @staticmethod
    def _parse(spec: str | None) -> tuple[int, int, int] | None:
        if not spec:
            return None
        parts = [int(p) for p in spec.split(":")] + [0, 1][len(spec.split(":")) - 1 :]
        return parts[0], parts[1], parts[2]

    @staticmethod
    def _reached(kind: str, point: tuple[int, int, int] | None, where: tuple[int, int]) -> bool:
        if point is None or where != point[:2]:
            return False
        key = (kind, *where)
        _REACHED[key] = _REACHED.get(key, 0) + 1
        return _REACHED[key] == point[2]

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        where = (trainer.current_epoch, batch_idx)
        if self._reached("kill", self.at, where):
            os._exit(137)
        if self._reached("hang", self.hang, where):
            while True:
                time.sleep(0.05)


class StepCounter(pl.Callback):
    """What this process trained: the epoch and optimiser step it started from (0 unless resumed
    from a checkpoint), where it ended, and the training batches it ran (:meth:`summary`)."""

    def __init__(self) -> None:
        self.start_epoch = self.start_step = self.end_step = self.batches = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start_epoch, self.start_step, self.batches = trainer.current_epoch, trainer.global_step, 0

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        self.batches += 1

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.end_step = trainer.global_step

    def summary(self) -> dict[str, int]:
        return {
            "start_epoch": self.start_epoch,
            "start_step": self.start_step,
            "end_step": self.end_step,
            "batches_run": self.batches,
        }
