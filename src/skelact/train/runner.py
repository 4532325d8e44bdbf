"""Run experiments: one (fold of a) protocol, or every fold, into a run directory.

Python API (what ``skelact train`` / ``eval`` and ``skelact reproduce`` are built on):

* :func:`run_experiment` trains and evaluates one experiment (one fold) and returns its metrics;
  ``indices={"train": ..., "val": ..., "test": ...}`` trains on explicit store positions (e.g.
  cross-validation over training subjects).
* :func:`run_protocol` runs every fold of a folded protocol (``data.fold: all``) into
  ``fold_XX/`` sub-directories and writes a summary with per-fold numbers, mean and std.
* :func:`run` dispatches between the two on ``data.fold``.
* :func:`evaluate_checkpoint` re-computes the metrics of a checkpoint on a split.

A run directory holds::

    config.yaml              the resolved config
    checkpoints/best.ckpt    the checkpoint evaluated (best validation score, or the last epoch)
    checkpoints/last.ckpt    written atomically at each epoch end: what --resume continues from
                             (a link to best.ckpt when the last epoch is the best)
    metrics.json             test (and validation) metrics, fusion weight, wall time, seed, command
    logs/version_N/          CSV logs (one version per start); TensorBoard logs when installed
    confusion_matrix.png     drawn by the ``figures`` writer, when given (``skelact train`` passes
                             :func:`skelact.viz.save_run_figures`; the trainer imports no figures)
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from lightning_fabric.utilities.seed import seed_everything
from pytorch_lightning.callbacks import EMAWeightAveraging, ModelCheckpoint, ThroughputMonitor
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from torch.optim.swa_utils import get_ema_multi_avg_fn

from .._version import __version__
from ..allocator import keep_freed_memory
from ..data import protocols
from ..errors import ConfigError
from ..evaluation.forecast import evaluate_forecast
from ..evaluation.metrics import aggregate_folds, format_table
from ..machine import code_version, hardware
from ..models.checkpoint import read_saved_checkpoint
from .callbacks import EpochSeed, FaultInjection, FiniteLossGuard, ProgressBar, StepCounter
from .checkpoint import AtomicCheckpointIO, build_model, read_checkpoint_file, update_checkpoint
from .config import ExperimentConfig, config_diff, config_from_dict, config_to_dict, dump_config, load_config
from .data import SkeletonDataModule, resolve_store_path
from .inputs import build_experiment_model, open_store
from .module import ActionModule, AIMScheduleModule, module_class

__all__ = [
    "Experiment", "FigureWriter", "evaluate_checkpoint", "forecast_error", "prepare_experiment", "run",
    "run_experiment", "run_protocol",
]  # fmt: skip

log = logging.getLogger("skelact.train")

#: Keys that may differ between a run and its resumption (they do not change results).
RESUME_IGNORED = ("data.num_workers", "data.pin_memory", "train.progress", "description", "name")
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def is_global_zero_env() -> bool:
    """Before a Trainer exists: is this process rank 0 (also under torchrun / Lightning's launcher)?"""
    return all(os.environ.get(k, "0") == "0" for k in ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK"))


def write_json(data: Any, path: str | os.PathLike) -> None:
    """Write JSON atomically (temporary file + rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _command() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith(("skelact", "__main__.py")):
        argv[0] = "skelact"
    return shlex.join(argv)


def _hardware(trainer: pl.Trainer | None = None) -> dict[str, Any]:
    """:func:`skelact.machine.hardware` plus the trainer's accelerator and world size."""
    out = hardware()
    if trainer is not None:
        out["accelerator"] = type(trainer.accelerator).__name__.replace("Accelerator", "").lower()
        out["world_size"] = trainer.world_size
    return out


def _quiet_lightning() -> None:
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*`ThroughputMonitor`.*")
    warnings.filterwarnings("ignore", message=".*Experiment logs directory.*")
    warnings.filterwarnings("ignore", message=".*treespec.*")


def _tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


#: Draws a finished run's figures into its directory: ``(metrics, run_dir) -> {figure name: file
#: name}``, recorded in ``metrics.json`` under ``"figures"``. Given by the caller (``skelact train``:
#: :func:`skelact.viz.save_run_figures`): the trainer itself draws nothing.
FigureWriter = Callable[[dict[str, Any], Path], Mapping[str, str]]


def _draw_figures(figures: FigureWriter | None, metrics: dict[str, Any], out: Path) -> dict[str, str]:
    if figures is None:
        return {}
    try:
        return {str(k): str(v) for k, v in figures(metrics, out).items()}
    except Exception as e:  # noqa: BLE001 - a figure must never fail a finished run
        log.warning("could not draw the run's figures: %s", e)
        return {}


# ---------------------------------------------------------------------------------------------
# Trainer
# ---------------------------------------------------------------------------------------------
def foreach_ema(decay: float) -> EMAWeightAveraging:
    """Lightning's EMA callback (every optimiser step) with the average taken by one foreach lerp
    over all tensors (``get_ema_multi_avg_fn``) instead of its Python loop of per-tensor updates.
    The class, and so the callback's key in checkpoints, stays Lightning's; ``AveragedModel``
    takes one of ``avg_fn`` / ``multi_avg_fn``, which the callback keeps in ``_kwargs``."""
    callback = EMAWeightAveraging(decay=decay)
    callback._kwargs = {k: v for k, v in callback._kwargs.items() if k != "avg_fn"}
    callback._kwargs["multi_avg_fn"] = get_ema_multi_avg_fn(decay)
    return callback


def build_trainer(
    cfg: ExperimentConfig,
    out_dir: Path | None,
    *,
    has_val: bool,
    module: ActionModule,
    evaluation_only: bool = False,
) -> tuple[pl.Trainer, ModelCheckpoint | None]:
    """A Lightning Trainer for ``cfg``; checkpoints / logs go under ``out_dir`` (None: neither)."""
    t = cfg.train
    if t.keep_freed_memory:
        keep_freed_memory()
    callbacks: list[pl.Callback] = []
    checkpoint_cb = None
    if t.averaging.name == "ema" and not evaluation_only:
        callbacks.append(foreach_ema(t.averaging.decay))
    if t.progress:
        callbacks.append(ProgressBar())
    loggers: list[Any] = []
    kwargs: dict[str, Any] = {}
    if out_dir is not None and not evaluation_only:
        monitor = t.checkpoint.monitor
        if monitor is not None and monitor.startswith("val/") and not has_val:
            monitor = None  # no validation split: the last epoch is the best
        ckpt_dir = out_dir / "checkpoints"
        common = {
            "dirpath": ckpt_dir,
            "save_top_k": 1,
            "auto_insert_metric_name": False,
            "enable_version_counter": False,
        }
        if monitor is None:
            # every epoch is the best so far: best.ckpt, and last.ckpt a link to it (Lightning
            # copies where links are refused) instead of a second write of the whole state
            checkpoint_cb = ModelCheckpoint(filename="best", monitor=None, save_last="link", **common)
            callbacks.append(checkpoint_cb)
        else:
            # Lightning's save_last only copies when a best checkpoint is saved; resuming needs
            # last.ckpt at every epoch end, so it gets its own callback (run after "best", so its
            # file holds the best callback's updated state).
            checkpoint_cb = ModelCheckpoint(
                filename="best", monitor=monitor, mode=t.checkpoint.mode, **common
            )
            callbacks += [checkpoint_cb, ModelCheckpoint(filename="last", monitor=None, **common)]
        callbacks += [
            EpochSeed(cfg.seed),
            FiniteLossGuard(out_dir / "checkpoints" / "last.ckpt"),
            FaultInjection(),
            StepCounter(),
            ThroughputMonitor(batch_size_fn=lambda batch: int(batch[0].shape[0]), window_size=10),
        ]
        loggers.append(CSVLogger(out_dir, name="logs"))
        if _tensorboard_available():
            loggers.append(TensorBoardLogger(out_dir, name="logs", version="tensorboard"))
        kwargs["plugins"] = [AtomicCheckpointIO()]
    if module.automatic_optimization and t.gradient_clip:
        kwargs["gradient_clip_val"] = t.gradient_clip
    warmup = t.aim.warmup_epochs if isinstance(module, AIMScheduleModule) else 0
    strategy = "auto" if evaluation_only else t.strategy
    if isinstance(module, AIMScheduleModule) and strategy in ("ddp", "ddp_spawn"):
        # each phase leaves some parameters without gradients (the backbone during the AIM
        # warm-up, the AIM decoder afterwards): DDP must not wait for them
        strategy = f"{strategy}_find_unused_parameters_true"
    deterministic: Any = t.deterministic
    try:
        trainer = pl.Trainer(
            max_epochs=t.epochs + warmup,
            accelerator=t.accelerator,
            devices=1 if evaluation_only else t.devices,
            num_nodes=1 if evaluation_only else t.num_nodes,
            strategy=strategy,
            precision=t.precision,
            deterministic=deterministic,
            log_every_n_steps=t.log_every_n_steps,
            check_val_every_n_epoch=t.val_every_n_epochs,
            limit_val_batches=1.0 if has_val else 0,
            num_sanity_val_steps=0,
            reload_dataloaders_every_n_epochs=1,
            use_distributed_sampler=False,
            callbacks=callbacks,
            logger=loggers or False,
            enable_checkpointing=checkpoint_cb is not None,
            enable_progress_bar=t.progress,
            enable_model_summary=False,
            **kwargs,
        )
    except (MisconfigurationException, ValueError) as e:
        raise ConfigError(f"train: {e}") from None
    return trainer, checkpoint_cb


# ---------------------------------------------------------------------------------------------
# One experiment
# ---------------------------------------------------------------------------------------------
def _with_indices(
    cfg: ExperimentConfig, indices: dict[str, Any] | None, fold: int | None
) -> ExperimentConfig:
    data = cfg.data
    if fold is not None:
        data = dataclasses.replace(data, fold=fold)
    if indices:
        unknown = set(indices) - {"train", "val", "test"}
        if unknown:
            raise ValueError(f"indices: unknown split(s) {sorted(unknown)}; use train, val, test")
        conv = {f"{k}_indices": [int(i) for i in np.asarray(v).reshape(-1)] for k, v in indices.items()}
        data = dataclasses.replace(data, **conv)
    return dataclasses.replace(cfg, data=data)


def _without_validation(cfg: ExperimentConfig) -> ExperimentConfig:
    """No validation split: a plateau schedule watching ``val/...`` watches the training loss."""
    schedule = cfg.train.schedule
    if schedule.name != "plateau" or not schedule.monitor.startswith("val/"):
        return cfg
    log.warning(
        "no validation split: the plateau schedule monitors train/loss instead of %s", schedule.monitor
    )
    schedule = dataclasses.replace(schedule, monitor="train/loss", mode="min")
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, schedule=schedule))


def _prepare_run_dir(cfg: ExperimentConfig, out: Path, resume: bool) -> None:
    saved = out / CONFIG_FILE
    if not is_global_zero_env():
        return  # rank 0 prepared it; other ranks only read
    started = (out / "checkpoints" / "last.ckpt").exists() or (out / METRICS_FILE).exists()
    if started and not resume:
        raise ConfigError(
            f"{out} already holds a run; pass --resume to continue it, or --out DIR to start a new one"
        )
    if resume and saved.exists():
        previous = load_config(saved)
        diff = config_diff(previous, cfg, ignore=RESUME_IGNORED)
        if diff:
            raise ConfigError(
                f"--resume: the config differs from the one saved in {saved} at: {', '.join(diff)}"
            )
    out.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, saved)


def _check_input(cfg: ExperimentConfig, model: torch.nn.Module, dm: SkeletonDataModule) -> None:
    """One test sample through the model before training: a model/data mismatch (bodies, joints,
    channels, frames) becomes a clear error here instead of a deep traceback mid-epoch."""
    x = (
        dm.dataset("test")[0][0][None]
        if len(dm.indices["test"])
        else dm.dataset("train", augment=False)[0][0][None]
    )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    except (RuntimeError, ValueError, IndexError) as e:
        raise ConfigError(
            f"model {cfg.model.name!r} cannot take this data: a sample (N, C, T, V, M) = {tuple(x.shape)} "
            f"from {dm.store_path} ({dm.layout}) fails with: {e} (check model.options and data.frames)"
        ) from None
    finally:
        model.train(was_training)


def _is_two_stream(model: torch.nn.Module) -> bool:
    return hasattr(model, "fit_fusion") and hasattr(model, "fusion_alpha")


def _fusion(
    cfg: ExperimentConfig, trainer: pl.Trainer, module: ActionModule, dm: SkeletonDataModule, ckpt: Path
) -> dict[str, Any] | None:
    """Fit the two-stream fusion weight on the validation split and store it in ``ckpt``."""
    model = module.model
    if not _is_two_stream(model):
        return None
    f = cfg.fusion
    info: dict[str, Any] = {"alpha": None, "source": None}
    if f.alpha is not None:
        alpha, info["source"] = float(f.alpha), "config (fusion.alpha)"
    elif f.fit and dm.has_validation:
        module.collect_stream_scores(True)
        trainer.validate(
            module, dataloaders=dm.val_dataloader(), ckpt_path=str(ckpt), verbose=False, weights_only=True
        )
        scores = module.gathered_stream_scores()
        module.collect_stream_scores(False)
        labels = scores["labels"].long().cpu()
        grid = np.linspace(0.0, 1.0, f.grid_points)
        alpha = float(model.fit_fusion(scores["joint"].cpu(), scores["line"].cpu(), labels, grid=grid))
        pj, pl_ = (
            torch.softmax(scores["joint"].double().cpu(), -1),
            torch.softmax(scores["line"].double().cpu(), -1),
        )

        def acc(p: torch.Tensor) -> float:
            return float(100.0 * (p.argmax(-1) == labels).double().mean())

        info.update(
            source="validation",
            val_top1=acc(alpha * pj + (1 - alpha) * pl_),
            val_top1_joint=acc(pj),
            val_top1_line=acc(pl_),
            grid_points=f.grid_points,
        )
    else:
        alpha = float(model.fusion_alpha)
        info["source"] = "default (no validation split to fit it on)"
        log.warning(
            "two-stream model: no validation split (data.validation.fraction = 0); keeping alpha = %s", alpha
        )
    info["alpha"] = alpha
    if trainer.is_global_zero:

        def set_alpha(c: dict[str, Any]) -> None:
            key = "model.fusion_alpha"
            c["state_dict"][key] = torch.tensor(alpha, dtype=c["state_dict"][key].dtype)

        update_checkpoint(ckpt, set_alpha)
    trainer.strategy.barrier("fusion_alpha")
    return info


@dataclasses.dataclass
class Experiment:
    """What one training is set up from: the config (as the run uses it), its store, the model and
    its input spec, the data module and the Lightning module around the model."""

    cfg: ExperimentConfig
    store: Any
    model: torch.nn.Module
    spec: Any
    dm: SkeletonDataModule
    module: ActionModule


def prepare_experiment(cfg: ExperimentConfig) -> Experiment:
    """Seed, open the store, resolve the input spec and build the model, the data module and the
    Lightning module: the set-up shared by :func:`run_experiment` and
    :func:`skelact.train.fit.fit_and_score`. A config without a validation split gets a plateau
    schedule that watches the training loss (:func:`_without_validation`); one test sample goes
    through the model first (:func:`_check_input`)."""
    store = open_store(cfg)
    seed_everything(cfg.seed, workers=True, verbose=False)
    model, spec = build_experiment_model(cfg, store)
    dm = SkeletonDataModule(cfg, spec=spec, store=store)
    cfg = _without_validation(cfg) if not dm.has_validation else cfg
    _check_input(cfg, model, dm)
    module = module_class(model)(config_to_dict(cfg), spec.to_dict(), model)
    return Experiment(cfg, store, model, spec, dm, module)


def run_experiment(
    cfg: ExperimentConfig,
    out_dir: str | os.PathLike,
    resume: bool = False,
    *,
    indices: dict[str, Any] | None = None,
    fold: int | None = None,
    command: str | None = None,
    figures: FigureWriter | None = None,
) -> dict[str, Any]:
    """Train ``cfg`` into ``out_dir``, evaluate it, write ``metrics.json`` and return the metrics.

    Args:
        cfg: the experiment config (``data.fold`` must be an int or None here; see
            :func:`run_protocol` for ``"all"``).
        out_dir: the run directory.
        resume: continue from ``out_dir/checkpoints/last.ckpt`` (a finished run returns its
            metrics). The config must match the saved one (up to :data:`RESUME_IGNORED`).
        indices: explicit store positions ``{"train", "val", "test"}`` replacing the protocol's
            split (saved into ``config.yaml`` so the run is reproducible from its directory).
        fold: the fold to run (overrides ``data.fold``).
        command: the command line recorded in the metrics (default: ``sys.argv``).
        figures: draws the run's figures into ``out_dir`` (:data:`FigureWriter`, e.g.
            :func:`skelact.viz.save_run_figures`: ``confusion_matrix.png``); None: no figures.
    """
    _quiet_lightning()
    cfg = _with_indices(cfg, indices, fold)
    if cfg.data.fold == "all" or isinstance(cfg.data.fold, list):
        raise ConfigError("data.fold: several folds; use run_protocol (skelact train does)")
    out = Path(out_dir)
    if resume and (out / METRICS_FILE).exists():
        return json.loads((out / METRICS_FILE).read_text(encoding="utf-8"))
    code_version()  # the commit of the code this process loaded (cached: a later commit does not change it)
    started = time.time()
    exp = prepare_experiment(cfg)
    cfg, dm, module = exp.cfg, exp.dm, exp.module
    _prepare_run_dir(cfg, out, resume)
    trainer, checkpoint_cb = build_trainer(cfg, out, has_val=dm.has_validation, module=module)

    last = out / "checkpoints" / "last.ckpt"
    ckpt_path = str(last) if resume and last.exists() else None
    if resume and ckpt_path is None:
        log.warning("--resume: no checkpoint in %s yet; starting from scratch", out)
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)

    assert checkpoint_cb is not None
    best = (
        Path(checkpoint_cb.best_model_path)
        if checkpoint_cb.best_model_path
        else out / "checkpoints" / "best.ckpt"
    )
    evaluated = best if cfg.train.checkpoint.evaluate == "best" else last
    fusion = _fusion(cfg, trainer, module, dm, evaluated)
    val = None
    if dm.has_validation:
        trainer.validate(
            module, dataloaders=dm.val_dataloader(), ckpt_path=str(evaluated), verbose=False,
            weights_only=True,
        )  # fmt: skip
        val = module.val_results
    trainer.test(
        module, dataloaders=dm.test_dataloader(), ckpt_path=str(evaluated), verbose=False, weights_only=True
    )
    test = module.test_results
    epoch = int(read_checkpoint_file(evaluated)["epoch"])

    metrics: dict[str, Any] = {
        "name": cfg.name,
        "model": cfg.model.name,
        "dataset": dm.store.dataset,
        "protocol": cfg.data.protocol,
        "fold": dm.fold,
        "seed": cfg.seed,
        "test": test,
        "val": val,
        "fusion": fusion,
        "checkpoint": {
            "evaluated": str(evaluated.relative_to(out)) if evaluated.is_relative_to(out) else str(evaluated),
            "epoch": epoch,
            "monitor": checkpoint_cb.monitor,
            "best_score": None
            if checkpoint_cb.best_model_score is None
            else float(checkpoint_cb.best_model_score),
        },
        "num_samples": {k: int(len(v)) for k, v in dm.indices.items()},
        "epochs": trainer.current_epoch,
        "wall_time_s": round(time.time() - started, 3),
        "resumed": ckpt_path is not None,
        # what this process trained (a resumed run starts at the checkpoint's epoch and step)
        "trained": next(c.summary() for c in trainer.callbacks if isinstance(c, StepCounter)),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command or _command(),
        "skelact_version": __version__,
        "code": code_version(),  # the git commit (skelact.machine.code_version), None for an installed copy
        "hardware": _hardware(trainer),
        "reference": cfg.reference or None,
    }
    if trainer.is_global_zero:
        forecast = forecast_error(module.model, dm, "test")
        if forecast is not None:
            metrics["forecast"] = forecast
        metrics["figures"] = _draw_figures(figures, metrics, out)
        write_json(metrics, out / METRICS_FILE)
    return metrics


# ---------------------------------------------------------------------------------------------
# Every fold
# ---------------------------------------------------------------------------------------------
def protocol_folds(cfg: ExperimentConfig) -> list[int | None]:
    """The folds ``cfg`` runs: all of the protocol's for ``data.fold: all``, the listed ones for a
    list, else the one given (``[None]`` for a protocol without folds)."""
    if isinstance(cfg.data.fold, list):
        return list(cfg.data.fold)
    if cfg.data.fold == "all":
        dataset = cfg.data.dataset
        if dataset is None:
            try:
                dataset = json.loads((resolve_store_path(cfg) / "manifest.json").read_text())["dataset"]
            except (OSError, ValueError, KeyError):
                dataset = None
        folds = protocols.folds(cfg.data.protocol, dataset)
        return list(folds) or [None]
    return [cfg.data.fold if isinstance(cfg.data.fold, int) else None]


def fold_dir(out: Path, fold: int) -> Path:
    return out / f"fold_{fold:02d}"


def run_protocol(
    cfg: ExperimentConfig,
    out_dir: str | os.PathLike,
    resume: bool = False,
    *,
    command: str | None = None,
    figures: FigureWriter | None = None,
) -> dict[str, Any]:
    """Run every fold of ``cfg``'s protocol (one run directory each) and write a summary.

    Returns (and writes to ``out_dir/metrics.json``) ``{"folds": {k: fold metrics}, "mean": {...},
    ...}`` with mean / std of top-1 and top-5 over folds. Finished folds are skipped on resume.
    """
    out = Path(out_dir)
    folds = protocol_folds(cfg)
    if folds == [None]:
        return run_experiment(cfg, out, resume, command=command, figures=figures)
    if is_global_zero_env():
        out.mkdir(parents=True, exist_ok=True)
        dump_config(cfg, out / CONFIG_FILE)
    started = time.time()
    per_fold: dict[str, dict[str, Any]] = {}
    for k in folds:
        assert k is not None
        print(f"== {cfg.name}: fold {k} of {len(folds)} ({cfg.data.protocol})", file=sys.stderr, flush=True)
        per_fold[str(k)] = run_experiment(
            cfg, fold_dir(out, k), resume, fold=k, command=command, figures=figures
        )
    summary = {
        "name": cfg.name,
        "model": cfg.model.name,
        "protocol": cfg.data.protocol,
        "seed": cfg.seed,
        "folds": {
            k: {key: m["test"][key] for key in ("top1", "top5", "num_samples")}
            | {"dir": fold_dir(out, int(k)).name}
            for k, m in per_fold.items()
        },
        "mean": aggregate_folds(per_fold),
        "fusion_alpha": {k: m["fusion"]["alpha"] for k, m in per_fold.items() if m.get("fusion")} or None,
        "wall_time_s": round(time.time() - started, 3),
        "command": command or _command(),
        "skelact_version": __version__,
        "reference": cfg.reference or None,
    }
    if is_global_zero_env():
        write_json(summary, out / METRICS_FILE)
    return summary


def run(
    cfg: ExperimentConfig,
    out_dir: str | os.PathLike,
    resume: bool = False,
    *,
    command: str | None = None,
    figures: FigureWriter | None = None,
) -> dict[str, Any]:
    """:func:`run_protocol` for several folds (``data.fold: all`` or a list), else :func:`run_experiment`."""
    if cfg.data.fold == "all" or isinstance(cfg.data.fold, list):
        return run_protocol(cfg, out_dir, resume, command=command, figures=figures)
    return run_experiment(cfg, out_dir, resume, command=command, figures=figures)


def summary_table(metrics: dict[str, Any]) -> str:
    """Text table of a run's (or a protocol's) test accuracy."""
    if "folds" in metrics:
        rows = [(f"fold {k}", m) for k, m in metrics["folds"].items()]
        mean = metrics["mean"]
        rows.append(
            (
                "mean",
                {
                    "top1": mean["top1"]["mean"],
                    "top5": mean["top5"]["mean"],
                    "num_samples": sum(m["num_samples"] for m in metrics["folds"].values()),
                },
            )
        )
        text = format_table(rows)
        return text + f"\nstd of top-1 over folds: {mean['top1']['std']:.2f}"
    return format_table([(str(metrics.get("name", "run")), metrics["test"])])


# ---------------------------------------------------------------------------------------------
# Evaluation of a checkpoint
# ---------------------------------------------------------------------------------------------
def evaluate_checkpoint(
    checkpoint: str | os.PathLike, split: str = "test", *, store: str | None = None, progress: bool = False
) -> dict[str, Any]:
    """Metrics of ``checkpoint`` on ``split`` of the data it was trained on (same transforms and
    batch size, one device), as in the run's ``metrics.json``.

    ``store`` replaces the saved ``data.store`` (a store that moved). AS-GCN models with a
    prediction head also get a ``"forecast"`` entry (:mod:`skelact.evaluation.forecast`).
    """
    _quiet_lightning()
    saved = read_saved_checkpoint(checkpoint)
    config = dict(saved.config)
    if store is not None:
        config["data"] = {**config["data"], "store": str(store)}
    cfg = config_from_dict(config, where=f"{checkpoint} (saved config)")
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, progress=progress))
    dm = SkeletonDataModule(cfg, spec=saved.spec)
    if split == "val" and not dm.has_validation:
        raise ConfigError("--split val: this run has no validation split")
    model = build_model(cfg, saved.spec)
    module = module_class(model)(config_to_dict(cfg), saved.spec.to_dict(), model)
    module.model.load_state_dict(dict(saved.state_dict))
    trainer, _ = build_trainer(cfg, None, has_val=False, module=module, evaluation_only=True)
    trainer.test(module, dataloaders=dm.eval_dataloader(split), verbose=False)
    out: dict[str, Any] = {
        "checkpoint": str(checkpoint),
        "split": split,
        "name": cfg.name,
        "fold": dm.fold,
        split: module.test_results,
    }
    forecast = forecast_error(module.model, dm, split)
    if forecast is not None:
        out["forecast"] = forecast
    return out


def forecast_error(model: torch.nn.Module, dm: SkeletonDataModule, split: str) -> dict[str, Any] | None:
    """Future-pose error of models with a prediction head (AS-GCN); None for other models."""
    if not hasattr(model, "forecast") or getattr(model, "predictor", None) is None:
        return None
    steps = int(
        getattr(model, "prediction_steps", None) or getattr(getattr(model, "config", None), "horizon", 10)
    )
    model.eval()
    return evaluate_forecast(model, dm.eval_dataloader(split, distributed=False), steps)


def load_run_config(run_dir: str | os.PathLike) -> ExperimentConfig:
    return load_config(Path(run_dir) / CONFIG_FILE)
