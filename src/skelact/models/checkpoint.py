"""Trained models out of skelact checkpoints, without the training engine (no Lightning import).

A skelact checkpoint (written by ``skelact train``) is a dict whose ``hyper_parameters`` hold the
resolved experiment config as plain data (``config``) and the model's input spec (``spec``,
:class:`~skelact.models.spec.InputSpec`), and whose ``state_dict`` holds the weights under the
``model.`` prefix (the averaged weights when the run used EMA). :func:`load_checkpoint_model`
rebuilds the model from these alone, through the model registry; :func:`read_saved_checkpoint`
also gives the saved config and the test-time transforms (what export and streaming need).

Checkpoints are read with ``torch.load(weights_only=True)``: tensors and plain data only, so opening
a checkpoint someone else trained never runs code its pickle carries.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..data.transforms import fill_frames
from ..errors import ConfigError
from .spec import InputSpec, build_for_spec

__all__ = [
    "MODEL_PREFIX",
    "SavedCheckpoint",
    "load_checkpoint_model",
    "model_state",
    "read_checkpoint",
    "read_checkpoint_file",
    "read_saved_checkpoint",
]

#: Prefix of the model's weights in a checkpoint's ``state_dict`` (the training module's attribute).
MODEL_PREFIX = "model."


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
        with path.open("rb") as f:
            head = f.read(4)
        # torch reports any bytes it cannot unpickle this way; a torch checkpoint is a zip archive
        # (PK) or, in the legacy format, a pickle (protocol byte 0x80)
        if not (head.startswith(b"PK") or head[:1] == b"\x80"):
            raise ConfigError(f"{path}: not a readable checkpoint (not a PyTorch file: it starts with "
                              f"{head!r})") from None
        raise ConfigError(
            f"{path}: refused: the checkpoint holds more than tensors and plain data (loading it would "
            "run code from its pickle; skelact reads checkpoints with weights_only=True). "
            + str(e).splitlines()[0]
        ) from None
    except Exception as e:  # noqa: BLE001 - any other failure means "not a checkpoint"
        raise ConfigError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a skelact checkpoint onto the CPU (:func:`read_checkpoint_file`); a clear error when it
    is not a skelact checkpoint (no ``config`` / ``spec`` / ``state_dict``)."""
    path = Path(path)
    ckpt = read_checkpoint_file(path)
    hp = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    if not isinstance(hp, dict) or "config" not in hp or "spec" not in hp or "state_dict" not in ckpt:
        raise ConfigError(f"{path}: not a skelact training checkpoint (no config/spec/state_dict)")
    return ckpt


def model_state(ckpt: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The model's own state dict out of a checkpoint (``model.`` prefix removed)."""
    return {k[len(MODEL_PREFIX) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(MODEL_PREFIX)}


def _section(config: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = config.get(key)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: the saved config has no {key} section")
    return value


@dataclass(frozen=True)
class SavedCheckpoint:
    """What a checkpoint says about its model, read as plain data.

    Attributes:
        path: the checkpoint file.
        config: the resolved experiment config saved at training time (plain dicts and lists).
        spec: the model's input spec.
        state_dict: the model's weights (``model.`` prefix removed).
    """

    path: Path
    config: Mapping[str, Any]
    spec: InputSpec
    state_dict: Mapping[str, torch.Tensor]

    @property
    def model_name(self) -> str:
        """The registered model name (``model.name``)."""
        name = _section(self.config, "model", str(self.path)).get("name")
        if not isinstance(name, str):
            raise ConfigError(f"{self.path}: the saved config has no model.name")
        return name

    @property
    def model_options(self) -> dict[str, Any]:
        """The model's options (``model.options``)."""
        return dict(_section(self.config, "model", str(self.path)).get("options") or {})

    def test_transforms(self) -> list[Any]:
        """The evaluation transform specs (``data.test_transforms``) with ``${input_frames}`` filled
        from the spec: what offline evaluation applies to one sample."""
        specs = _section(self.config, "data", str(self.path)).get("test_transforms") or []
        return fill_frames(list(specs), self.spec.input_frames)

    def build_model(self) -> nn.Module:
        """The model with its trained weights, in eval mode on the CPU."""
        try:
            model = build_for_spec(self.model_name, self.model_options, self.spec)
        except ConfigError as e:
            raise ConfigError(f"{self.path} (saved config): {e}") from None
        model.load_state_dict(dict(self.state_dict))
        return model.eval()


def read_saved_checkpoint(path: str | os.PathLike) -> SavedCheckpoint:
    """Read the config, input spec and model weights of a skelact checkpoint (no model built yet)."""
    path = Path(path)
    ckpt = read_checkpoint(path)
    hp = ckpt["hyper_parameters"]
    config = hp["config"]
    if not isinstance(config, Mapping) or not isinstance(hp["spec"], Mapping):
        raise ConfigError(f"{path}: not a skelact training checkpoint (config/spec are not mappings)")
    data = config.get("data")
    frames = data.get("frames") if isinstance(data, Mapping) else None
    try:
        spec = InputSpec.from_dict(hp["spec"], frames=frames)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    return SavedCheckpoint(path=path, config=config, spec=spec, state_dict=model_state(ckpt))


def load_checkpoint_model(path: str | os.PathLike) -> tuple[nn.Module, InputSpec]:
    """Rebuild the model a checkpoint holds: ``(model in eval mode on the CPU, its input spec)``."""
    saved = read_saved_checkpoint(path)
    return saved.build_model(), saved.spec
