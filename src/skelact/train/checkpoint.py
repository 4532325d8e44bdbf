"""Checkpoints: atomic writes, and loading a trained model back from its checkpoint alone.

A skelact checkpoint is a Lightning checkpoint whose ``hyper_parameters`` hold the resolved
experiment config (``config``) and what the model was built with (``spec``: ``num_classes``,
``layout``, ``in_channels``, ``class_names``, ``input_frames``). So
:func:`load_model` rebuilds the model without any YAML file or dataset at hand.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from ..errors import ConfigError
from .config import ExperimentConfig, config_from_dict

__all__ = [
    "AtomicCheckpointIO",
    "atomic_torch_save",
    "build_model",
    "load_checkpoint",
    "load_model",
    "read_checkpoint_file",
    "update_checkpoint",
]

MODEL_PREFIX = "model."


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, then rename over ``path``.

    A reader (or a run resumed after ``kill -9``) sees either the old file or the new one, never
    a partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # pragma: no cover - platforms without directory fds
        pass


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O plugin writing every checkpoint with :func:`atomic_torch_save`."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options")
        atomic_torch_save(checkpoint, path)


def read_checkpoint_file(path: str | os.PathLike) -> Any:
    """``torch.load`` of ``path`` onto the CPU with ``weights_only=True``: tensors and plain data
    (dicts, lists, strings, numbers) only, so opening a checkpoint someone else trained never runs
    code its pickle carries. A file that needs more (a pickled class or function) is refused with a
    :class:`~skelact.errors.ConfigError` naming it; nothing in it is executed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ConfigError(
            f"{path}: refused: the checkpoint holds more than tensors and plain data (loading it would "
            "run code from its pickle; skelact reads checkpoints with weights_only=True). "
            + str(e).splitlines()[0]
        ) from None
    except Exception as e:  # noqa: BLE001 - any other failure means "not a checkpoint"
        raise ConfigError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a skelact checkpoint onto the CPU (:func:`read_checkpoint_file`: tensors and plain data
    only); a clear error when it is not a skelact checkpoint."""
    path = Path(path)
    ckpt = read_checkpoint_file(path)
    hp = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    if not isinstance(hp, dict) or "config" not in hp or "spec" not in hp or "state_dict" not in ckpt:
        raise ConfigError(f"{path}: not a skelact training checkpoint (no config/spec/state_dict)")
    return ckpt


def update_checkpoint(path: str | os.PathLike, fn: Callable[[dict[str, Any]], None]) -> None:
    """Load a checkpoint, let ``fn`` modify it in place, write it back atomically."""
    ckpt = read_checkpoint_file(path)
    fn(ckpt)
    atomic_torch_save(ckpt, path)


def build_model(cfg: ExperimentConfig, spec: dict[str, Any]) -> torch.nn.Module:
    """Build ``cfg.model`` with the data facts in ``spec`` (num_classes, layout, in_channels)."""
    from .. import models

    options = dict(cfg.model.options)
    try:
        return models.build(
            cfg.model.name,
            num_classes=int(spec["num_classes"]),
            layout=spec["layout"],
            in_channels=int(spec["in_channels"]),
            **options,
        )
    except KeyError as e:
        if cfg.model.name not in models.list_models():
            raise ConfigError(f"model.name: {e.args[0]}") from None
        raise
    except TypeError as e:
        raise ConfigError(f"model.options: {cfg.model.name}: {e}") from None
    except ConfigError as e:
        raise ConfigError(f"model.options: {e}") from None


def model_state(ckpt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The model's own state dict out of a Lightning checkpoint (``model.`` prefix removed)."""
    return {k[len(MODEL_PREFIX) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(MODEL_PREFIX)}


def load_model(path: str | os.PathLike) -> tuple[torch.nn.Module, ExperimentConfig]:
    """Rebuild the model saved in a checkpoint: ``(model in eval mode on the CPU, config)``.

    The config is the resolved experiment config saved at training time; ``model.spec``
    (attribute set here) holds ``num_classes``, ``layout``, ``in_channels``, ``class_names`` and
    ``input_frames``.
    """
    ckpt = load_checkpoint(path)
    hp = ckpt["hyper_parameters"]
    cfg = config_from_dict(hp["config"], where=f"{path} (saved config)")
    spec = dict(hp["spec"])
    model = build_model(cfg, spec)
    model.load_state_dict(model_state(ckpt))
    model.spec = spec
    model.eval()
    return model, cfg
