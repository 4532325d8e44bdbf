"""Data: layouts, readers (``formats``), the prepared store, protocols, transforms, datasets."""

from __future__ import annotations

from .layouts import LAYOUTS, Layout, get_layout
from .skeleton import Skeleton

__all__ = ["LAYOUTS", "Layout", "Skeleton", "get_layout"]
