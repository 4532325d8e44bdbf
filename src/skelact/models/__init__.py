"""Models: AS-GCN and two-stream ARRN-LSTM, built by name through :func:`build`.

Every model takes a batch ``x`` of shape ``(N, C, T, V, M)`` and returns class logits ``(N, K)``.
"""

from __future__ import annotations

import importlib

from .registry import MODELS, build, list_models, register_model

# Importing a family registers it. A family still under construction must not break the others.
for _family in ("asgcn", "arrn"):
    try:
        importlib.import_module(f"{__name__}.{_family}")
    except ModuleNotFoundError as _e:  # pragma: no cover - only while a family is absent
        if _e.name != f"{__name__}.{_family}":
            raise

from .asgcn.official import from_official  # noqa: E402  (official checkpoints -> skelact models)

__all__ = ["MODELS", "build", "from_official", "list_models", "register_model"]
