"""Data: layouts, readers (``formats``), the prepared store, protocols, transforms, datasets."""

from __future__ import annotations

from typing import Any

from .bundled import bundled_path
from .io import detect_format, iter_samples, load
from .layouts import LAYOUTS, Layout, get_layout
from .skeleton import Skeleton
from .store import SkeletonStore, StoreError, StoreWriter

__all__ = [
    "LAYOUTS",
    "Layout",
    "Skeleton",
    "SkeletonDataset",
    "SkeletonStore",
    "StoreError",
    "StoreWriter",
    "bundled_path",
    "detect_format",
    "get_layout",
    "iter_samples",
    "load",
]


def __getattr__(name: str) -> Any:
    # SkeletonDataset needs torch: imported on first use so readers and `skelact prepare` stay light.
    if name == "SkeletonDataset":
        from .dataset import SkeletonDataset

        return SkeletonDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
