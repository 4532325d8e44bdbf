"""The model input spec: what a model is built from and what one input sample holds.

:class:`InputSpec` is resolved once per experiment (by the training engine, from the config and the
prepared store), saved in every checkpoint as the plain dict :meth:`InputSpec.to_dict`, and read
back by everything that runs a trained model (evaluation, prediction, export, streaming). Nothing
derives the number of frames again from the config:

* ``frames`` is the recognition window ``T`` (``data.frames``): what a stream's window holds and
  what models whose weights depend on ``T`` are built with (``skelact.models.build(..., frames=T)``);
* ``input_frames`` is what one input sample holds: ``frames`` plus any frames the model reads
  beyond the window (AS-GCN's prediction target), as the model says (:func:`model_input_frames`).

Checkpoints written before ``frames`` was saved hold ``input_frames`` only; :meth:`InputSpec.from_dict`
takes ``frames`` from the saved config for them.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch.nn as nn

from ..errors import ConfigError
from .registry import accepts_frames, build, list_models

__all__ = ["InputSpec", "build_for_spec", "model_input_frames"]


@dataclass(frozen=True)
class InputSpec:
    """What a model is built from and what its input holds (saved as a checkpoint's ``spec``).

    Attributes:
        num_classes: classes the model scores.
        layout: joint layout name (fixes ``V`` and the graph).
        in_channels: channels ``C`` per joint.
        frames: the recognition window ``T`` (``data.frames``).
        input_frames: frames of one input sample: ``frames`` plus what the model reads beyond the
            window (see :func:`model_input_frames`).
        bodies: body slots ``M`` of the store.
        class_names: names of the classes the model scores, by label.
        dataset: the store's dataset name.
        channels: the store's channel names.
        normalize: transform specs the store applied at prepare time (applied to raw input too).
        store_class_names: the store's class names (its label space, before a protocol's subset).
    """

    num_classes: int
    layout: str
    in_channels: int
    frames: int
    input_frames: int
    bodies: int = 2
    class_names: tuple[str, ...] = ()
    dataset: str | None = None
    channels: tuple[str, ...] = ()
    normalize: tuple[Any, ...] | None = None
    store_class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("num_classes", "in_channels", "frames", "input_frames", "bodies"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"input spec: {name} must be >= 1, got {getattr(self, name)!r}")
        if self.input_frames < self.frames:
            raise ConfigError(
                f"input spec: input_frames ({self.input_frames}) is fewer than the window's frames "
                f"({self.frames})"
            )

    # -- checkpoint format ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The plain dict saved as a checkpoint's ``spec`` (lists, strings and numbers only)."""
        return {
            "num_classes": int(self.num_classes),
            "layout": str(self.layout),
            "in_channels": int(self.in_channels),
            "class_names": list(self.class_names),
            "frames": int(self.frames),
            "input_frames": int(self.input_frames),
            "dataset": self.dataset,
            "bodies": int(self.bodies),
            "channels": list(self.channels),
            "normalize": None if self.normalize is None else copy.deepcopy(list(self.normalize)),
            "store_class_names": list(self.store_class_names),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], frames: int | None = None) -> InputSpec:
        """Read a checkpoint's ``spec`` dict. ``frames`` is used when the dict has none (checkpoints
        written before it was saved: pass the saved config's ``data.frames``)."""
        missing = [k for k in ("num_classes", "layout", "in_channels") if k not in data]
        if missing:
            raise ConfigError(f"input spec: missing {', '.join(missing)}")
        window = data.get("frames", frames)
        if window is None:
            window = data.get("input_frames")
        if window is None:
            raise ConfigError("input spec: no frames (and no saved data.frames to take them from)")
        normalize = data.get("normalize")
        return cls(
            num_classes=int(data["num_classes"]),
            layout=str(data["layout"]),
            in_channels=int(data["in_channels"]),
            frames=int(window),
            input_frames=int(data.get("input_frames", window)),
            bodies=int(data.get("bodies") or 2),
            class_names=tuple(str(c) for c in data.get("class_names") or ()),
            dataset=data.get("dataset"),
            channels=tuple(str(c) for c in data.get("channels") or ()),
            normalize=None if normalize is None else tuple(copy.deepcopy(list(normalize))),
            store_class_names=tuple(str(c) for c in data.get("store_class_names") or ()),
        )

    # -- derived specs --------------------------------------------------------------------------------
    def for_model(self, model: nn.Module) -> InputSpec:
        """This spec with ``input_frames`` as ``model`` needs them for the window ``frames``."""
        return dataclasses.replace(self, input_frames=model_input_frames(model, self.frames))

    def build_kwargs(self) -> dict[str, Any]:
        """The uniform builder arguments: ``num_classes``, ``layout``, ``in_channels``, ``frames``."""
        return {
            "num_classes": int(self.num_classes),
            "layout": self.layout,
            "in_channels": int(self.in_channels),
            "frames": int(self.frames),
        }


def model_input_frames(model: nn.Module, frames: int) -> int:
    """Frames one input sample must hold for a recognition window of ``frames``.

    A model that reads frames beyond the window says so with an ``input_frames(frames)`` method
    (AS-GCN with its prediction head: ``frames + horizon``, the forecast target); any other model
    reads the window as it is. This is the only place that asks.
    """
    extra = getattr(model, "input_frames", None)
    return int(extra(int(frames))) if callable(extra) else int(frames)


def build_for_spec(name: str, options: Mapping[str, Any] | None, spec: InputSpec) -> nn.Module:
    """Build the registered model ``name`` with ``options`` (a config's ``model.options``) for ``spec``.

    The builder gets the uniform arguments of :meth:`InputSpec.build_kwargs`. A config that still
    states ``model.options.frames`` (the model's own ``T``, which is now ``data.frames``) is accepted
    when it agrees with ``spec.frames`` and refused when it does not. Bad names and options become
    :class:`~skelact.errors.ConfigError` naming the config key.
    """
    options = dict(options or {})
    if "frames" in options and accepts_frames(name):
        stated = options.pop("frames")
        if stated is not None and int(stated) != int(spec.frames):
            raise ConfigError(
                f"model.options.frames: {stated} disagrees with data.frames = {spec.frames}; the model is "
                "built for data.frames (drop model.options.frames, or set data.frames)"
            )
    try:
        return build(name, **spec.build_kwargs(), **options)
    except KeyError as e:
        if name not in list_models():
            raise ConfigError(f"model.name: {e.args[0]}") from None
        raise
    except TypeError as e:
        raise ConfigError(f"model.options: {name}: {e}") from None
    except ConfigError as e:
        raise ConfigError(f"model.options: {e}") from None
