"""Training augmentation policies for the small datasets, as transform specs (``data.train_transforms``).

One policy is applied identically to every model of a comparison (the reproduction's ``--augment``;
its strength is one of the recipe's factors, ``reports/recipe.md``). The specs go before the
transform that fixes the sequence length, after the preset's own (centring, normalisation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError
from .store import SkeletonStore

__all__ = ["AUGMENT_POLICIES", "LENGTH_TRANSFORMS", "augmentation_specs", "as_specs", "with_augmentation"]

#: Transforms that fix the sequence length (the augmentation goes before them).
LENGTH_TRANSFORMS = ("RandomSample", "UniformSample", "PadTo", "RandomCrop")
AUGMENT_POLICIES = ("standard", "strong", "stronger", "none")
#: Per policy: (max rotation about the vertical axis, about the other two, in degrees; scale range
#: half-width; time-warp strength).
_STRENGTH = {
    "standard": (15.0, 5.0, 0.1, 0.2),
    "strong": (30.0, 10.0, 0.2, 0.3),
    "stronger": (45.0, 15.0, 0.3, 0.4),
}


def as_specs(specs: Sequence[Any]) -> list[dict[str, Any]]:
    """Transform specs as dicts (a bare name ``"CenterOnHip"`` becomes ``{"name": "CenterOnHip"}``)."""
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
    names = [s["name"] for s in as_specs(train_specs)]
    metric = list(store.manifest.get("channels") or []) == ["x", "y", "z"] and store.layout != "florence8"
    angle, tilt, scale, warp = _STRENGTH[policy]
    out: list[dict[str, Any]] = []
    if metric:
        vertical = "z" if "PreNormalize3D" in names else "y"  # PreNormalize3D puts the spine on z
        out.append({"name": "RandomRotate", "max_angle": angle, "max_tilt": tilt, "vertical": vertical})
    out += [
        {"name": "RandomScale", "low": round(1.0 - scale, 6), "high": round(1.0 + scale, 6)},
        {"name": "TimeWarp", "strength": warp, "knots": 4},
    ]
    return out


def with_augmentation(specs: Sequence[Any], extra: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``specs`` with ``extra`` inserted before the first length transform (at the end if none)."""
    out = as_specs(specs)
    pos = next((i for i, s in enumerate(out) if s["name"] in LENGTH_TRANSFORMS), len(out))
    return out[:pos] + list(extra) + out[pos:]
