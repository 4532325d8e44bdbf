"""Model registry: models are plain ``nn.Module`` classes or builder functions registered by name.

>>> from skelact.models import build
>>> model = build("asgcn", num_classes=60, layout="ntu25")   # doctest: +SKIP
"""

from __future__ import annotations

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


def build(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model by name, e.g. ``build("arrn_lstm", num_classes=20, layout="kinect20")``.

    Raises ``KeyError`` naming the known models when ``name`` is not registered.
    """
    try:
        builder = MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(list_models()) or '(none)'}") from None
    return builder(**kwargs)
