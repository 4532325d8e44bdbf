"""Model registry: models are plain ``nn.Module`` classes or builder functions registered by name.

Every builder is called with the uniform arguments ``num_classes``, ``layout`` and ``in_channels``
plus its own options. The clip length ``frames`` (``T``) is uniform too: :func:`build` passes it on
to builders whose signature names a ``frames`` parameter (models whose weights depend on ``T``,
e.g. ARRN-LSTM's ``readout="concat"``) and leaves it out for length-agnostic ones.

>>> from skelact.models import build
>>> model = build("asgcn", num_classes=60, layout="ntu25", frames=300)   # doctest: +SKIP
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch.nn as nn

MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class/function decorator adding a model builder to the registry under ``name``."""

    def deco(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in MODELS and MODELS[name] is not builder:
            raise ValueError(f"model {name!r} registered twice")
        MODELS[name] = builder
        return builder

    return deco


def list_models() -> list[str]:
    return sorted(MODELS)


def _builder(name: str) -> Callable[..., nn.Module]:
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(list_models()) or '(none)'}") from None


def accepts_frames(name: str) -> bool:
    """Whether the builder of ``name`` takes the clip length ``frames`` (names it as a parameter)."""
    try:
        params = inspect.signature(_builder(name)).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    param = params.get("frames")
    return param is not None and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)


def build(name: str, *, frames: int | None = None, **kwargs: Any) -> nn.Module:
    """Build a registered model by name, e.g. ``build("arrn_lstm", num_classes=20, layout="kinect20")``.

    ``frames`` (the clip length ``T``) reaches the builders that take it (:func:`accepts_frames`);
    the others do not depend on ``T``. Raises ``KeyError`` naming the known models when ``name`` is
    not registered.
    """
    builder = _builder(name)
    if frames is not None and accepts_frames(name):
        kwargs["frames"] = frames
    return builder(**kwargs)
