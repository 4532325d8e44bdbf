"""Model registry: models are plain ``nn.Module`` classes or builder functions registered by name.

Every builder is called with the uniform arguments ``num_classes``, ``layout`` and ``in_channels``
plus its own options. The clip length ``frames`` (``T``) is uniform too: :func:`build` passes it on
to builders whose signature names a ``frames`` parameter (models whose weights depend on ``T``,
e.g. ARRN-LSTM's ``readout="concat"``) and leaves it out for length-agnostic ones.

Each model also declares its *training recipe* at registration (``register_model(name,
training=...)``): the name of the schedule the training engine runs it with, ``"standard"`` (one
optimiser on ``model.losses``) unless said otherwise, or a function of the built model giving that
name (AS-GCN: ``"aim_warmup"``, its AIM warm-up and two optimisers, when it has an A-link inference
module). :func:`training_recipe` answers it; ``skelact.train.module.module_class`` maps it to a
training module. :func:`build` records the registered name on every model it builds
(``model.registry_name``).

>>> from skelact.models import build
>>> model = build("asgcn", num_classes=60, layout="ntu25", frames=300)   # doctest: +SKIP
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeAlias

import torch.nn as nn

#: A training recipe: its name, or a function of the built model giving its name.
TrainingRecipe: TypeAlias = str | Callable[[nn.Module], str]

MODELS: dict[str, Callable[..., nn.Module]] = {}
#: The training recipe each registered model declared (:func:`register_model`).
TRAINING: dict[str, TrainingRecipe] = {}
#: The recipe of a model that declares none.
STANDARD_RECIPE = "standard"
#: The attribute :func:`build` sets on every model it builds: the name it was built by.
NAME_ATTRIBUTE = "registry_name"


def register_model(
    name: str, *, training: TrainingRecipe = STANDARD_RECIPE
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class/function decorator adding a model builder to the registry under ``name``.

    ``training`` is the model's training recipe: a recipe name (``"standard"``: one optimiser on
    ``model.losses``) or a function of the built model returning one (see :func:`training_recipe`).
    """
    if not (isinstance(training, str) or callable(training)):
        raise TypeError(f"model {name!r}: training must be a recipe name or a function of the model")

    def deco(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in MODELS and MODELS[name] is not builder:
            raise ValueError(f"model {name!r} registered twice")
        MODELS[name] = builder
        TRAINING[name] = training
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
    the others do not depend on ``T``. The model gets the attribute ``registry_name`` = ``name``
    (what :func:`training_recipe` is looked up by). Raises ``KeyError`` naming the known models when
    ``name`` is not registered.
    """
    builder = _builder(name)
    if frames is not None and accepts_frames(name):
        kwargs["frames"] = frames
    model = builder(**kwargs)
    setattr(model, NAME_ATTRIBUTE, name)  # a plain attribute (nn.Module types its attributes as tensors)
    return model


def training_recipe(name: str, model: nn.Module | None = None) -> str:
    """The training recipe of the registered model ``name``, for the built ``model``.

    A recipe declared as a function of the model needs ``model``; the answer is a recipe name
    (e.g. ``"standard"``, ``"aim_warmup"``), for the training engine to map to its schedule. Raises
    ``KeyError`` naming the known models when ``name`` is not registered.
    """
    _builder(name)
    recipe = TRAINING.get(name, STANDARD_RECIPE)
    if callable(recipe):
        if model is None:
            raise ValueError(f"model {name!r}: its training recipe depends on the built model; pass it")
        recipe = recipe(model)
    if not isinstance(recipe, str):
        raise TypeError(f"model {name!r}: the training recipe is {recipe!r}, not a recipe name")
    return recipe
