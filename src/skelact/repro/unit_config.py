"""What one reproduction unit trains: the run's shared settings (:class:`Context`) and the config
of one training (:func:`build_config`: the preset plus the reproduction's data handling, the same
augmentation for every model (:mod:`skelact.data.augment`), width and epochs)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..data.augment import AUGMENT_POLICIES, as_specs, augmentation_specs, with_augmentation
from ..data.store import SkeletonStore
from ..train import config as train_config  # through the module: a test swaps load_config
from .targets import ASGCN_SMALL_WIDTH, QUICK_WIDTH, Target, Training, Unit

__all__ = ["AUGMENT_POLICIES", "Context", "augmentation_specs", "build_config"]

#: ``--quick``: at most this many training / test sequences per unit (evenly spaced).
QUICK_TRAIN, QUICK_TEST = 48, 32


@dataclass
class Context:
    """Settings shared by every unit of a reproduction run."""

    target: Target
    store_path: Path
    work_dir: Path
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int | None = None  # maximum epochs (default: the preset's train.epochs)
    augment: str = "standard"
    quick: bool = False
    command: str = ""
    #: only collect unit results already in the work directory (train nothing; missing: None)
    cached_only: bool = False
    #: the unit records folder (see the module docstring): finished units are written there and
    #: read back from there when the work directory lacks them; None: the work directory only
    results_dir: Path | None = None
    log: Callable[[str], None] = field(default=lambda s: print(s, file=sys.stderr, flush=True))
    _store: SkeletonStore | None = None

    @property
    def store(self) -> SkeletonStore:
        if self._store is None:
            self._store = SkeletonStore(self.store_path)
        return self._store


def _flow(value: Any) -> str:
    return str(yaml.safe_dump(value, default_flow_style=True, width=1 << 20, sort_keys=False)).strip()


def _drop_empty(specs: Sequence[Any]) -> list[dict[str, Any]]:
    out = as_specs(specs)
    return out if any(s["name"] == "DropEmptyFrames" for s in out) else [{"name": "DropEmptyFrames"}, *out]


def build_config(ctx: Context, training: Training, unit: Unit, seed: int) -> tuple[Any, str, list[str]]:
    """``(config, preset name, overrides)`` of one training: the preset plus the reproduction's
    overrides (store, seed, data handling, augmentation, width, epochs)."""
    preset = training.preset_for(unit)
    base = train_config.load_config(preset)
    overrides = [f"data.store={ctx.store_path}"]
    if ctx.target.selection == "cv":
        train = _drop_empty(base.data.train_transforms)
        train = with_augmentation(train, augmentation_specs(ctx.augment, ctx.store, train))
        test = _drop_empty(base.data.test_transforms)
        overrides += [
            "data.num_workers=0",  # ~100 sequences: worker start-up costs more than loading
            "data.validation.fraction=0.0",  # selection is by cross-validation (this module)
            "fusion.fit=false",  # alpha is chosen by cross-validation and applied here
            f"data.train_transforms={_flow(train)}",
            f"data.test_transforms={_flow(test)}",
        ]
        if training.model == "asgcn" and not ctx.quick:
            overrides += list(ASGCN_SMALL_WIDTH)
    overrides += list(training.overrides)
    if ctx.quick:
        overrides += list(QUICK_WIDTH[training.model])
        if ctx.target.selection != "cv":
            overrides += ["data.num_workers=0", "train.progress=false"]
        if training.model == "asgcn":
            overrides.append("train.aim.warmup_epochs=1")
    epochs = ctx.epochs if ctx.epochs is not None else (2 if ctx.quick else None)
    if epochs is not None:
        overrides.append(f"train.epochs={int(epochs)}")
    overrides.append(f"seed={int(seed)}")
    return train_config.load_config(preset, overrides), preset, overrides
