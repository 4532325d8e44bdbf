"""Checkpoints: atomic writes, and loading a trained model back from its checkpoint alone.

A skelact checkpoint is a Lightning checkpoint whose ``hyper_parameters`` hold the resolved
experiment config (``config``) and the model's input spec (``spec``, the dict of
:class:`~skelact.models.spec.InputSpec`: ``num_classes``, ``layout``, ``in_channels``, ``frames``,
``input_frames``, ``class_names``, ...). Reading one needs no training engine
(:mod:`skelact.models.checkpoint`); :func:`load_model` adds the validated config.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from ..models.checkpoint import (
    MODEL_PREFIX,
    model_state,
    read_checkpoint,
    read_checkpoint_file,
    read_saved_checkpoint,
)
from ..models.spec import InputSpec, build_for_spec
from .config import ExperimentConfig, config_from_dict

__all__ = [
    "MODEL_PREFIX",
    "AtomicCheckpointIO",
    "atomic_torch_save",
    "build_model",
    "load_checkpoint",
    "load_model",
    "load_trained",
    "model_state",
    "read_checkpoint_file",
    "update_checkpoint",
]


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


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a skelact checkpoint onto the CPU (tensors and plain data only); a clear error when it
    is not a skelact checkpoint. See :func:`skelact.models.checkpoint.read_checkpoint`."""
    return read_checkpoint(path)


def update_checkpoint(path: str | os.PathLike, fn: Callable[[dict[str, Any]], None]) -> None:
    """Load a checkpoint, let ``fn`` modify it in place, write it back atomically."""
    ckpt = read_checkpoint_file(path)
    fn(ckpt)
    atomic_torch_save(ckpt, path)


def build_model(cfg: ExperimentConfig, spec: InputSpec | Mapping[str, Any]) -> torch.nn.Module:
    """Build ``cfg.model`` for the input ``spec`` (an :class:`~skelact.models.spec.InputSpec`, or its
    checkpoint dict): :func:`skelact.models.spec.build_for_spec`."""
    if not isinstance(spec, InputSpec):
        spec = InputSpec.from_dict(spec, frames=cfg.data.frames)
    return build_for_spec(cfg.model.name, cfg.model.options, spec)


def load_trained(path: str | os.PathLike) -> tuple[torch.nn.Module, ExperimentConfig, InputSpec]:
    """Rebuild the model saved in a checkpoint: ``(model in eval mode on the CPU, config, input spec)``.

    The config is the resolved experiment config saved at training time, validated; the model is
    built by :mod:`skelact.models.checkpoint` (no training engine involved). ``model.spec`` (attribute
    set here) is the spec's checkpoint dict.
    """
    saved = read_saved_checkpoint(path)
    cfg = config_from_dict(dict(saved.config), where=f"{path} (saved config)")
    model = saved.build_model()
    model.spec = saved.spec.to_dict()
    return model, cfg, saved.spec


def load_model(path: str | os.PathLike) -> tuple[torch.nn.Module, ExperimentConfig]:
    """Rebuild the model saved in a checkpoint: ``(model in eval mode on the CPU, config)``.

    ``model.spec`` (attribute set here) holds the input spec's checkpoint dict: ``num_classes``,
    ``layout``, ``in_channels``, ``class_names``, ``frames``, ``input_frames``, ... (see
    :func:`load_trained` for the spec as an :class:`~skelact.models.spec.InputSpec`).
    """
    model, cfg, _ = load_trained(path)
    return model, cfg
