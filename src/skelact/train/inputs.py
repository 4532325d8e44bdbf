"""The model input spec of an experiment, resolved once from its config and its prepared store.

:func:`build_experiment_model` is the one place the training engine decides what a model is built
from and what one sample holds (an :class:`~skelact.models.spec.InputSpec`): the number of classes
and their names (the protocol's class subset, or ``model.num_classes``), the layout, channels and
bodies of the store, the window ``data.frames``, and the frames one sample holds as the built model
asks for them. The data module receives that spec at construction, the training module saves it
in every checkpoint, and everything downstream (evaluation, prediction, export, streaming) reads it
from there.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch.nn as nn

from ..data import protocols
from ..data.store import SkeletonStore
from ..errors import ConfigError
from ..models.spec import InputSpec, build_for_spec
from .config import ExperimentConfig

__all__ = [
    "DATA_ENV",
    "build_experiment_model",
    "experiment_classes",
    "open_store",
    "resolve_input_spec",
    "resolve_store_path",
]

DATA_ENV = "SKELACT_DATA"


def resolve_store_path(cfg: ExperimentConfig) -> Path:
    """``data.store``, else ``$SKELACT_DATA/<dataset>`` (``./data/<dataset>`` without the variable)."""
    if cfg.data.store:
        return Path(os.path.expanduser(cfg.data.store))
    if not cfg.data.dataset:
        raise ConfigError("data.store: not set (and no data.dataset to find a store by); pass data.store=DIR")
    root = Path(os.environ.get(DATA_ENV) or "data")
    return root / cfg.data.dataset


def open_store(cfg: ExperimentConfig) -> SkeletonStore:
    """The prepared store of ``cfg`` (:func:`resolve_store_path`); a clear error when there is none."""
    path = resolve_store_path(cfg)
    if not path.exists():
        raise FileNotFoundError(
            f"no prepared store at {path} (data.store); make one with "
            f"`skelact prepare {cfg.data.dataset or 'DATASET'} --src RAW_DIR --out {path}`"
        )
    return SkeletonStore(path)


def uses_protocol(cfg: ExperimentConfig) -> bool:
    """Whether ``cfg`` splits and numbers classes by a protocol (not ``data.protocol: none``)."""
    return bool(cfg.data.protocol) and cfg.data.protocol != "none"


def experiment_classes(cfg: ExperimentConfig, store: SkeletonStore) -> np.ndarray | None:
    """The store labels the protocol keeps, in the order of the model's classes (None: all of them)."""
    if not uses_protocol(cfg):
        return None
    return protocols.protocol_classes(cfg.data.protocol, store.dataset)


def resolve_input_spec(cfg: ExperimentConfig, store: SkeletonStore) -> InputSpec:
    """The data side of the spec: classes, layout, channels, bodies and the window ``data.frames``.

    ``input_frames`` is the window itself here; :func:`build_experiment_model` completes it with
    what the model reads beyond the window.
    """
    names = list(store.class_names or [str(i) for i in range(store.num_classes)])
    classes = experiment_classes(cfg, store)
    if classes is not None:
        names = [names[int(c)] for c in classes]
    bodies, _, channels = store.frame_shape
    return InputSpec(
        num_classes=int(cfg.model.num_classes or len(names)),
        layout=store.layout,
        in_channels=int(channels),
        frames=int(cfg.data.frames),
        input_frames=int(cfg.data.frames),
        bodies=int(bodies),
        class_names=tuple(str(n) for n in names),
        dataset=store.dataset,
        channels=tuple(str(c) for c in store.manifest.get("channels") or ()),
        # transforms applied at prepare time: prediction applies them to raw files too
        normalize=_normalize(store),
        store_class_names=tuple(str(n) for n in store.class_names or ()),
    )


def _normalize(store: SkeletonStore) -> tuple | None:
    specs = (store.manifest.get("prepare") or {}).get("normalize")
    return None if specs is None else tuple(specs)


def build_experiment_model(cfg: ExperimentConfig, store: SkeletonStore) -> tuple[nn.Module, InputSpec]:
    """Build ``cfg.model`` for the data in ``store`` and resolve the experiment's input spec, once.

    Returns ``(model, spec)``: the model built with the uniform arguments of the spec (classes,
    layout, channels, ``frames = data.frames``) and the spec whose ``input_frames`` is what the model
    reads per sample (:func:`skelact.models.spec.model_input_frames`). Draws the model's initial
    weights from the global generator: seed first.
    """
    spec = resolve_input_spec(cfg, store)
    model = build_for_spec(cfg.model.name, cfg.model.options, spec)
    return model, spec.for_model(model)
