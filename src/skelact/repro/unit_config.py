"""What one reproduction unit trains: the run's shared settings (:class:`Context`) and the config
of one training (:func:`build_config`: the preset plus the reproduction's data handling, the same
augmentation for every model, width and epochs)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..data.store import SkeletonStore
from ..errors import ConfigError
from ..train import config as train_config  # through the module: a test swaps load_config
from .targets import ASGCN_SMALL_WIDTH, QUICK_WIDTH, Target, Training, Unit

__all__ = ["AUGMENT_POLICIES", "Context", "augmentation_specs", "build_config"]

#: Transforms that fix the sequence length (the augmentation goes before them).
LENGTH_TRANSFORMS = ("RandomSample", "UniformSample", "PadTo", "RandomCrop")
AUGMENT_POLICIES = ("standard", "strong", "stronger", "none")
#: Per policy: (max rotation about the vertical axis, about the other two, in degrees; scale range
#: half-width; time-warp strength).
_AUGMENT_STRENGTH = {
    "standard": (15.0, 5.0, 0.1, 0.2),
    "strong": (30.0, 10.0, 0.2, 0.3),
    "stronger": (45.0, 15.0, 0.3, 0.4),
}
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


def _specs(specs: Sequence[Any]) -> list[dict[str, Any]]:
    return [dict(s) if isinstance(s, dict) else {"name": str(s)} for s in specs]


def augmentation_specs(policy: str, store: SkeletonStore, train_specs: Sequence[Any]) -> list[dict[str, Any]]:
    """The training augmentation of ``policy`` for data of ``store`` (the same for every model).

    ``standard``: a random rotation (up to 15 degrees about the vertical axis, 5 about the other two)
    where the coordinates are metric 3-D positions (MSRAction3D real-world form, Florence3D world
    file, NTU; not the screen form and not Florence3D's normalised features), a random scale in
    [0.9, 1.1] and a random time warp (speed 0.8-1.2 in 4 pieces). ``strong``: twice the angles
    (30 and 10 degrees), scale in [0.8, 1.2], time warp 0.7-1.3; ``stronger``: 45 and 15 degrees,
    scale in [0.7, 1.3], time warp 0.6-1.4. ``none``: nothing.
    """
    if policy not in AUGMENT_POLICIES:
        raise ConfigError(f"augment must be one of {', '.join(AUGMENT_POLICIES)}, got {policy!r}")
    if policy == "none":
        return []
    names = [s["name"] for s in _specs(train_specs)]
    metric = list(store.manifest.get("channels") or []) == ["x", "y", "z"] and store.layout != "florence8"
    angle, tilt, scale, warp = _AUGMENT_STRENGTH[policy]
    out: list[dict[str, Any]] = []
    if metric:
        vertical = "z" if "PreNormalize3D" in names else "y"  # PreNormalize3D puts the spine on z
        out.append({"name": "RandomRotate", "max_angle": angle, "max_tilt": tilt, "vertical": vertical})
    out += [
        {"name": "RandomScale", "low": round(1.0 - scale, 6), "high": round(1.0 + scale, 6)},
        {"name": "TimeWarp", "strength": warp, "knots": 4},
    ]
    return out


def _insert_before_length(specs: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pos = next((i for i, s in enumerate(specs) if s["name"] in LENGTH_TRANSFORMS), len(specs))
    return specs[:pos] + extra + specs[pos:]


def _drop_empty(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if any(s["name"] == "DropEmptyFrames" for s in specs):
        return specs
    return [{"name": "DropEmptyFrames"}, *specs]


def build_config(ctx: Context, training: Training, unit: Unit, seed: int) -> tuple[Any, str, list[str]]:
    """``(config, preset name, overrides)`` of one training: the preset plus the reproduction's
    overrides (store, seed, data handling, augmentation, width, epochs)."""
    preset = training.preset_for(unit)
    base = train_config.load_config(preset)
    overrides = [f"data.store={ctx.store_path}"]
    if ctx.target.selection == "cv":
        train = _drop_empty(_specs(base.data.train_transforms))
        train = _insert_before_length(train, augmentation_specs(ctx.augment, ctx.store, train))
        test = _drop_empty(_specs(base.data.test_transforms))
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
