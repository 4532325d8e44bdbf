"""Evaluation: metrics, future-pose error, two-stream fusion (eq. 12) and the selection guard.

Above data and models, below the trainer: it imports torch, NumPy, torchmetrics, ``skelact.data`` and
``skelact.models`` (eq. 12 lives with ARRN-LSTM, :mod:`skelact.models.arrn.fusion`), nothing of the
trainer (no Lightning), so training, reproduction and figures build on it.

* :mod:`.metrics`: top-1 / top-k / confusion matrix (torchmetrics), JSON summaries, fold means.
* :mod:`.forecast`: MPJPE per predicted frame of AS-GCN's prediction head and two baselines.
* :mod:`.fusion`: eq. 12 of ARRN-LSTM and fitting its weight α on validation scores (re-exported
  from :mod:`skelact.models.arrn.fusion`).
* :mod:`.scores`: a model's raw scores over a loader, and their accuracy summary.
* :mod:`.selection`: :func:`assert_disjoint`, nothing chosen on test samples or subjects.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the submodule that defines it. Imported on first use (PEP 562), so that importing
#: one submodule (e.g. ``evaluation.forecast``) does not pull in the others (torchmetrics).
_WHERE = {
    "evaluate_forecast": "forecast", "format_forecast": "forecast",
    "ALPHA_GRID": "fusion", "fit_fusion_alpha": "fusion", "fused_log_scores": "fusion",
    "fused_probabilities": "fusion", "softmax": "fusion",
    "ClassificationMetrics": "metrics", "aggregate_folds": "metrics", "format_table": "metrics",
    "summarise": "metrics",
    "accuracy_summary": "scores", "collect_scores": "scores", "confusion_matrix": "scores",
    "assert_disjoint": "selection",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'skelact.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = [
    "ALPHA_GRID",
    "ClassificationMetrics",
    "accuracy_summary",
    "aggregate_folds",
    "assert_disjoint",
    "collect_scores",
    "confusion_matrix",
    "evaluate_forecast",
    "fit_fusion_alpha",
    "format_forecast",
    "format_table",
    "fused_log_scores",
    "fused_probabilities",
    "softmax",
    "summarise",
]
