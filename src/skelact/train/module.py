"""LightningModules wrapping any skelact model (see the model contract in docs/architecture.md).

* :class:`ActionModule`: one optimiser, automatic optimisation; the training objective is
  ``model.losses(x, y)["loss"]``, evaluation uses ``model(x)`` logits.
* :class:`AIMScheduleModule`: AS-GCN's two-optimiser schedule (manual optimisation). For the first
  ``train.aim.warmup_epochs`` epochs only the A-link inference module (AIM) learns, from its own
  losses (``model.aim_losses(x)``: next-pose NLL + KL), with ``train.aim.optim`` (paper: Adam
  5e-4). Then the backbone and heads learn recognition + prediction (``model.losses``) with
  ``train.optim`` (paper: SGD 0.1, x0.1 every 20 epochs) while the AIM encoder keeps being refined
  by the same loss through its own optimiser (if the model's ``refine_links`` lets the loss reach
  it; the official code freezes the AIM). The learning-rate schedule counts recognition epochs only.

:func:`module_class` picks the one of the training recipe the model declares in the registry
(``register_model(name, training=...)``); :func:`make_module` builds a config's model and wraps it.

Mixed precision (``train.precision=bf16-mixed``) is Lightning's: the training and evaluation steps
run under ``torch.autocast`` (bfloat16 matrix products and convolutions, float32 weights, optimiser
states and losses), also for the manual optimisation of :class:`AIMScheduleModule`.

``train.compile=true`` runs the model's calls that the modules make (:data:`MODEL_CALLS`:
``model.losses``, ``model.aim_losses``, ``model(x)``, ``model.stream_logits``) through
``torch.compile`` (options: :data:`COMPILE_OPTIONS`). The model is passed to the compiled function
as an argument instead of being wrapped: ``self.model`` stays the plain model, its ``state_dict``
keys (and so every checkpoint) are those of an uncompiled run, and a copy of the module (weight
averaging, ``ddp_spawn``) carries no compiled state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torchmetrics.aggregation import CatMetric

from ..evaluation.metrics import ClassificationMetrics, summarise
from ..models.registry import NAME_ATTRIBUTE, training_recipe
from .checkpoint import build_model
from .config import ExperimentConfig, config_from_dict
from .optim import build_optimizer, build_scheduler

__all__ = [
    "COMPILE_OPTIONS", "MODEL_CALLS", "RECIPE_MODULES", "AIMScheduleModule", "ActionModule",
    "compiled_call", "make_module", "module_class",
]  # fmt: skip

#: What a two-stream model's evaluation pass gathers for fitting the fusion weight.
STREAM_SCORES = ("joint", "line", "labels")


# -- the model calls the modules make (compiled with train.compile) ----------------------------------
def _losses(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    return model.losses(x, y)


def _aim_losses(model: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return model.aim_losses(x)


def _logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x)


def _stream_logits(model: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return model.stream_logits(x)


#: The model calls of the training modules, each a function of ``(model, *inputs)``.
MODEL_CALLS: dict[str, Callable[..., Any]] = {
    "losses": _losses,
    "aim_losses": _aim_losses,
    "logits": _logits,
    "stream_logits": _stream_logits,
}

#: Keyword arguments of ``torch.compile`` for ``train.compile=true`` (default: inductor, default
#: mode); e.g. ``{"mode": "max-autotune"}``, or ``{"backend": "aot_eager"}`` to check graph capture
#: without code generation.
COMPILE_OPTIONS: dict[str, Any] = {}

_compiled: dict[tuple[str, str], Callable[..., Any]] = {}


#: Precisions that train with a gradient scaler, which Lightning cannot combine with gradient
#: clipping on a fused optimiser.
SCALED_PRECISIONS = ("16-mixed", "16", 16)


def _fused_allowed(t: Any) -> bool:
    """A fused optimiser, unless gradients are clipped under a gradient scaler."""
    return not (t.gradient_clip and t.precision in SCALED_PRECISIONS)


def compiled_call(name: str) -> Callable[..., Any]:
    """``torch.compile`` of the model call ``name`` of :data:`MODEL_CALLS` with the current
    :data:`COMPILE_OPTIONS`, made once per process. It serves every module: Dynamo guards on the
    model it is given (its structure and mode, not its identity) and compiles again for another
    model; past ``torch._dynamo.config.recompile_limit`` graphs of one call it warns and runs the
    call uncompiled."""
    key = (name, repr(sorted(COMPILE_OPTIONS.items())))
    fn = _compiled.get(key)
    if fn is None:
        fn = _compiled[key] = torch.compile(MODEL_CALLS[name], **COMPILE_OPTIONS)
    return fn


class ActionModule(pl.LightningModule):
    """Train and evaluate a skelact model.

    Args:
        config: the resolved experiment config as a plain dict (saved in checkpoints).
        spec: the model's input spec as saved in checkpoints
            (:meth:`skelact.models.spec.InputSpec.to_dict`: ``num_classes``, ``layout``,
            ``in_channels``, ``frames``, ``input_frames``, ``class_names``, ...).
    """

    def __init__(self, config: dict[str, Any], spec: dict[str, Any], model: torch.nn.Module | None = None):
        super().__init__()
        self.save_hyperparameters(ignore=["model"])
        self.cfg: ExperimentConfig = config_from_dict(config, where="checkpoint config")
        self.spec = dict(spec)
        self.model = build_model(self.cfg, self.spec) if model is None else model
        k = int(self.spec["num_classes"])
        self.val_metrics = ClassificationMetrics(k)
        self.test_metrics = ClassificationMetrics(k)
        self.stream_scores = torch.nn.ModuleDict()  # filled by collect_stream_scores()
        self.test_results: dict[str, Any] | None = None
        self.val_results: dict[str, Any] | None = None
        self.flops_per_batch = None  # read by Lightning's ThroughputMonitor

    @property
    def plateau_monitor(self) -> str:
        return self.cfg.train.schedule.monitor

    @property
    def compiled(self) -> bool:
        """Whether the model's calls go through ``torch.compile`` (``train.compile``)."""
        return bool(self.cfg.train.compile)

    def call_model(self, name: str, *inputs: Any) -> Any:
        """The model call ``name`` of :data:`MODEL_CALLS` on ``inputs``: compiled with
        ``train.compile=true`` (:func:`compiled_call`), else the plain call."""
        fn = compiled_call(name) if self.compiled else MODEL_CALLS[name]
        return fn(self.model, *inputs)

    # -- forward / losses ---------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.call_model("logits", x)

    def _log_losses(self, losses: dict[str, torch.Tensor], prefix: str = "train/") -> None:
        """Epoch means under ``<prefix><name>`` (logs), the step's total loss in the progress bar."""
        for name, value in losses.items():
            self.log(f"{prefix}{name}", value.detach(), on_step=False, on_epoch=True, sync_dist=True)
        self.log("loss", losses["loss"].detach(), on_step=True, on_epoch=False, prog_bar=True, logger=False)

    def _log_lr(self, optimizer: torch.optim.Optimizer, name: str = "lr") -> None:
        self.log(
            name, optimizer.param_groups[0]["lr"], on_step=True, on_epoch=False, prog_bar=True, logger=False
        )
        self.log(f"train/{name}", optimizer.param_groups[0]["lr"], on_step=False, on_epoch=True)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        losses = self.call_model("losses", x, y)
        self._log_losses(losses)
        self._log_lr(self.trainer.optimizers[0])
        return losses["loss"]

    # -- evaluation ---------------------------------------------------------------------------
    def _eval_step(self, batch: Any, metrics: ClassificationMetrics) -> None:
        x, y = batch
        logits = self.call_model("logits", x)
        loss = F.cross_entropy(logits.float(), y)
        metrics.update(logits, y, loss)
        if len(self.stream_scores) and hasattr(self.model, "stream_logits"):
            for name, s in self.call_model("stream_logits", x).items():
                self.stream_scores[name].update(s.float())
            self.stream_scores["labels"].update(y.float())

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_step(batch, self.val_metrics)

    def on_validation_epoch_end(self) -> None:
        values = self.val_metrics.compute()
        self.val_metrics.reset()
        self.log_dict({"val/top1": 100.0 * values["top1"], "val/loss": values["loss"]}, prog_bar=True)
        self.val_results = summarise(values, self.spec.get("class_names"))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_step(batch, self.test_metrics)

    def on_test_epoch_end(self) -> None:
        values = self.test_metrics.compute()
        self.test_metrics.reset()
        self.log_dict({"test/top1": 100.0 * values["top1"], "test/loss": values["loss"]})
        self.test_results = summarise(values, self.spec.get("class_names"))

    # -- two-stream fusion --------------------------------------------------------------------
    def collect_stream_scores(self, enable: bool = True) -> None:
        """Make evaluation passes also gather each stream's logits (synchronised under DDP)."""
        if enable:
            self.stream_scores = torch.nn.ModuleDict({n: CatMetric() for n in STREAM_SCORES})
            self.stream_scores.to(self.device)
        else:
            self.stream_scores = torch.nn.ModuleDict()

    def gathered_stream_scores(self) -> dict[str, torch.Tensor]:
        return {k: m.compute() for k, m in self.stream_scores.items()}

    # -- optimisation -------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        t = self.cfg.train
        optimizer = build_optimizer(t.optim, self.model.parameters(), allow_fused=_fused_allowed(t))
        scheduler = build_scheduler(t.schedule, optimizer, t.epochs)
        if scheduler is None:
            return optimizer
        sched: dict[str, Any] = {"scheduler": scheduler, "interval": "epoch", "frequency": 1}
        if t.schedule.name == "plateau":
            sched["monitor"] = self.plateau_monitor
        return {"optimizer": optimizer, "lr_scheduler": sched}


class AIMScheduleModule(ActionModule):
    """AS-GCN: AIM warm-up, then recognition + prediction with two optimisers (see module docs)."""

    def __init__(self, config: dict[str, Any], spec: dict[str, Any], model: torch.nn.Module | None = None):
        super().__init__(config, spec, model)
        self.automatic_optimization = False
        groups = self.model.parameter_groups()
        self._backbone = list(groups["backbone"])
        self._aim_encoder = list(groups.get("aim_encoder", []))
        self._aim_decoder = list(groups.get("aim_decoder", []))

    @property
    def in_warmup(self) -> bool:
        return self.current_epoch < self.cfg.train.aim.warmup_epochs

    def configure_optimizers(self) -> Any:
        t = self.cfg.train
        main = build_optimizer(t.optim, self._backbone, allow_fused=_fused_allowed(t))
        aim_params = self._aim_encoder + self._aim_decoder
        if not aim_params:  # S-links only: no AIM
            scheduler = build_scheduler(t.schedule, main, t.epochs)
            return ([main], [scheduler]) if scheduler is not None else main
        aim = build_optimizer(t.aim.optim, aim_params, allow_fused=_fused_allowed(t))
        scheduler = build_scheduler(t.schedule, main, t.epochs)
        return ([main, aim], [scheduler]) if scheduler is not None else [main, aim]

    def _optimizers(self) -> tuple[Any, Any | None]:
        opts = self.optimizers()
        if not isinstance(opts, (list, tuple)):
            return opts, None
        return opts[0], (opts[1] if len(opts) > 1 else None)

    def _step(self, optimizer: Any) -> None:
        clip = self.cfg.train.gradient_clip
        if clip:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")
        optimizer.step()

    def training_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
        x, y = batch
        main, aim = self._optimizers()
        if self.in_warmup and aim is not None:
            losses = self.call_model("aim_losses", x)
            aim.zero_grad()
            self.manual_backward(losses["loss"])
            self._step(aim)
            self._log_losses(losses, prefix="train/aim_")  # train/aim_loss, train/aim_nll, train/aim_kl
            self._log_lr(self.trainer.optimizers[1])
            return {"loss": losses["loss"].detach()}
        losses = self.call_model("losses", x, y)
        main.zero_grad()
        if aim is not None:
            aim.zero_grad()
        self.manual_backward(losses["loss"])
        self._step(main)
        if aim is not None:
            # A-links are refined through the encoder only (when the model lets the recognition
            # loss reach it, option refine_links); the decoder learns from its warm-up loss only.
            for p in self._aim_decoder:
                p.grad = None
            self._step(aim)
        self._log_losses(losses)
        self._log_lr(self.trainer.optimizers[0])
        return {"loss": losses["loss"].detach()}

    def on_train_epoch_end(self) -> None:
        if self.in_warmup:
            return
        scheduler = self.lr_schedulers()
        if scheduler is None:
            return
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            value = self.trainer.callback_metrics.get(self.plateau_monitor)
            if value is not None:
                scheduler.step(float(value))
        else:
            scheduler.step()


#: Training module of each training recipe a model may declare in the registry
#: (``register_model(name, training=...)``, :func:`skelact.models.registry.training_recipe`).
RECIPE_MODULES: dict[str, type[ActionModule]] = {
    "standard": ActionModule,
    "aim_warmup": AIMScheduleModule,
}


def module_class(model: torch.nn.Module, name: str | None = None) -> type[ActionModule]:
    """The training module for ``model``: the one of the training recipe its registered model
    declares (:data:`RECIPE_MODULES`: ``"standard"`` -> :class:`ActionModule`, ``"aim_warmup"`` ->
    :class:`AIMScheduleModule`).

    ``name`` is the registered model name; by default the one :func:`skelact.models.build` recorded
    on the model (``model.registry_name``). A model of unknown name, or a recipe without a module,
    is a ``ValueError`` saying so.
    """
    if name is None:
        name = getattr(model, NAME_ATTRIBUTE, None)
        if not isinstance(name, str):
            raise ValueError(
                f"module_class: {type(model).__name__} carries no registered model name (models built by "
                "skelact.models.build do); pass name="
            )
    try:
        recipe = training_recipe(name, model)
    except KeyError as e:
        raise ValueError(f"module_class: {e.args[0]}") from None
    try:
        return RECIPE_MODULES[recipe]
    except KeyError:
        raise ValueError(
            f"model {name!r} declares the training recipe {recipe!r}, which has no training module "
            f"(known recipes: {', '.join(RECIPE_MODULES)})"
        ) from None


def make_module(config: dict[str, Any], spec: dict[str, Any]) -> ActionModule:
    """Build the model of ``config`` and wrap it in the right LightningModule."""
    model = build_model(config_from_dict(config, where="config"), spec)
    return module_class(model)(config, spec, model)
