"""One training on explicit store positions, scoring a held-out set after chosen epochs.

The reproduction's and the recipe choice's training (:func:`fit_and_score`). It sets up exactly as
``skelact train`` does, through the same :func:`~skelact.train.runner.prepare_experiment` (store,
input spec, model, data module, Lightning module) and :func:`~skelact.train.runner.build_trainer`
(optimiser, schedule, weight averaging, AS-GCN warm-up), plus per-epoch seeding, so a training
here is ``skelact train`` with ``data.train_indices`` / ``data.test_indices``, without checkpoints
or logs. A :class:`ScoreRecorder` callback scores the held-out set after the epochs asked for
(every epoch for a cross-validation fold, only the last for a reproduction unit).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import WeightAveraging

from ..evaluation.scores import collect_scores
from .callbacks import EpochSeed
from .config import ExperimentConfig
from .module import AIMScheduleModule
from .runner import build_trainer, forecast_error, prepare_experiment

__all__ = ["Recorded", "ScoreRecorder", "fit_and_score"]


def _quiet() -> None:
    """Keep Lightning's per-run banners and small-data warnings out of the progress output."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for message in (".*does not have many workers.*", ".*treespec.*", ".*LeafSpec.*", ".*litlogger.*"):
        warnings.filterwarnings("ignore", message=message)


def evaluated_model(trainer: pl.Trainer, pl_module: pl.LightningModule) -> torch.nn.Module:
    """The model evaluation would use now: the weight average while a
    :class:`~pytorch_lightning.callbacks.WeightAveraging` callback keeps one (``train.averaging``),
    else the trained model itself."""
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        average = getattr(callback, "_average_model", None) if isinstance(callback, WeightAveraging) else None
        if average is not None:
            return cast(torch.nn.Module, average.module.model)
    return cast(torch.nn.Module, pl_module.model)


class ScoreRecorder(pl.Callback):
    """Score a loader at the end of training epochs (1-based recognition epochs; AS-GCN's AIM
    warm-up epochs, ``offset`` of them, are not counted) with the model evaluation would use
    (:func:`evaluated_model`: the weight average when there is one)."""

    def __init__(self, loader: Iterable[Any], epochs: Iterable[int] | None = None, offset: int = 0):
        self.loader = loader
        self.epochs = None if epochs is None else {int(e) for e in epochs}
        self.offset = int(offset)
        self.recorded: list[int] = []
        self.scores: dict[str, list[np.ndarray]] = {}
        self.labels: np.ndarray | None = None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1 - self.offset
        if epoch < 1 or (self.epochs is not None and epoch not in self.epochs):
            return
        scores, labels = collect_scores(evaluated_model(trainer, pl_module), self.loader, pl_module.device)
        if self.labels is None:
            self.labels = labels
        for name, s in scores.items():
            self.scores.setdefault(name, []).append(s)
        self.recorded.append(epoch)


@dataclass
class Recorded:
    """What :func:`fit_and_score` returns."""

    epochs: np.ndarray  # (E,) epochs scored, 1-based
    scores: dict[str, np.ndarray]  # head -> (E, N, K)
    labels: np.ndarray  # (N,)
    class_names: list[str]
    wall_time_s: float
    num_parameters: int
    #: future-pose error on the evaluation set after the last epoch (``forecast=True``; see
    #: :func:`skelact.evaluation.forecast.evaluate_forecast`), else None
    forecast: dict[str, Any] | None = None
    #: one evaluation clip and the model's forecast of it: ``observed`` ``(C, T, V, M)``,
    #: ``predicted`` / ``truth`` ``(C, S, V, M)`` float32 (``forecast=True``)
    forecast_example: dict[str, np.ndarray] | None = None


def fit_and_score(
    cfg: ExperimentConfig,
    train_idx: np.ndarray,
    eval_idx: np.ndarray,
    *,
    epochs: int,
    score_epochs: Iterable[int] | None = None,
    forecast: bool = False,
) -> Recorded:
    """Train ``cfg`` on store positions ``train_idx`` for ``epochs`` epochs and score ``eval_idx``.

    ``score_epochs``: the epochs after which ``eval_idx`` is scored (default: every epoch).
    ``forecast``: for a model with a prediction head (AS-GCN), also measure its future-pose error
    on ``eval_idx`` after the last epoch, against the zero- and constant-velocity baselines.
    ``cfg.data.protocol`` still decides the class numbering (MSR subsets: 8 classes); its split is
    not used.
    """
    _quiet()
    data = dataclasses.replace(
        cfg.data,
        train_indices=[int(i) for i in np.asarray(train_idx).reshape(-1)],
        val_indices=[],
        test_indices=[int(i) for i in np.asarray(eval_idx).reshape(-1)],
    )
    train = dataclasses.replace(cfg.train, epochs=int(epochs), progress=False)
    cfg = dataclasses.replace(cfg, data=data, train=train)
    started = time.time()
    exp = prepare_experiment(cfg)
    model, spec, dm, module = exp.model, exp.spec, exp.dm, exp.module
    trainer, _ = build_trainer(exp.cfg, None, has_val=False, module=module)
    offset = cfg.train.aim.warmup_epochs if isinstance(module, AIMScheduleModule) else 0
    wanted = None if score_epochs is None else sorted({int(e) for e in score_epochs})
    if wanted is not None and (not wanted or wanted[0] < 1 or wanted[-1] > epochs):
        raise ValueError(f"score_epochs must lie in 1..{epochs}, got {wanted}")
    recorder = ScoreRecorder(dm.eval_dataloader("test"), wanted, offset)
    cast(Any, trainer).callbacks.extend([EpochSeed(cfg.seed), recorder])
    trainer.fit(module, datamodule=dm)
    if not recorder.recorded:
        raise RuntimeError("training ended before any epoch was scored")
    assert recorder.labels is not None
    forecast_result, example = _forecast(model, dm) if forecast else (None, None)
    return Recorded(
        epochs=np.asarray(recorder.recorded, dtype=np.int64),
        scores={k: np.stack(v) for k, v in recorder.scores.items()},
        labels=recorder.labels,
        class_names=list(spec.class_names),
        wall_time_s=time.time() - started,
        num_parameters=int(sum(p.numel() for p in model.parameters())),
        forecast=forecast_result,
        forecast_example=example,
    )


def _forecast(model: torch.nn.Module, dm: Any) -> tuple[dict[str, Any] | None, dict[str, np.ndarray] | None]:
    """Future-pose error on the evaluation loader and the forecast of its first clip (None, None
    for a model without a prediction head)."""
    result = forecast_error(model, dm, "test")
    if result is None:
        return None, None
    steps = int(result["steps"])
    x, _ = next(iter(dm.eval_dataloader("test")))
    clip = x[:1].float()
    observed, truth = clip[:, :, :-steps], clip[:, :, -steps:]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            predicted = cast(Callable[[torch.Tensor, int], torch.Tensor], model.forecast)(observed, steps)
    finally:
        model.train(was_training)
    example = {
        "observed": observed[0].numpy().astype(np.float32),
        "predicted": predicted[0].float().numpy().astype(np.float32),
        "truth": truth[0].numpy().astype(np.float32),
    }
    return result, example
