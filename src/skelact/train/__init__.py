"""The training and evaluation engine (PyTorch Lightning + torchmetrics).

* :mod:`.config`: typed experiment config, YAML ``_base_`` inheritance, ``dotted.key=value``
  overrides; :mod:`.presets`: the named presets of every paper experiment.
* :mod:`.data`: the LightningDataModule (store, protocol split, transforms, loaders).
* :mod:`.module`: LightningModules (one optimiser; AS-GCN's AIM warm-up + two optimisers).
* :mod:`.runner`: :func:`run_experiment`, :func:`run_protocol` (every fold), :func:`evaluate_checkpoint`.
* :mod:`.checkpoint`: atomic checkpoints and :func:`load_model`.
* :mod:`.inference`: predictions for raw skeleton files; :mod:`.metrics`, :mod:`.callbacks`.

Names below are imported lazily, so ``import skelact.train`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ExperimentConfig": "config",
    "load_config": "config",
    "dump_config": "config",
    "list_presets": "presets",
    "run": "runner",
    "run_experiment": "runner",
    "run_protocol": "runner",
    "evaluate_checkpoint": "runner",
    "load_model": "checkpoint",
    "predict_files": "inference",
    "TrainingDiverged": "callbacks",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
