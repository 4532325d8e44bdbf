"""Evaluation: metrics, future-pose error, two-stream fusion (eq. 12) and the selection guard.

A leaf package: it imports torch, NumPy and torchmetrics, nothing of the trainer (no Lightning)
and no model code, so models, training, reproduction and figures all build on it.

* :mod:`.metrics`: top-1 / top-k / confusion matrix (torchmetrics), JSON summaries, fold means.
* :mod:`.forecast`: MPJPE per predicted frame of AS-GCN's prediction head and two baselines.
* :mod:`.fusion`: eq. 12 of ARRN-LSTM and fitting its weight α on validation scores.
* :mod:`.scores`: a model's raw scores over a loader, and their accuracy summary.
* :mod:`.selection`: :func:`assert_disjoint`, nothing chosen on test samples or subjects.
"""

from .forecast import evaluate_forecast, format_forecast
from .fusion import ALPHA_GRID, fit_fusion_alpha, fused_log_scores, fused_probabilities, softmax
from .metrics import ClassificationMetrics, aggregate_folds, format_table, summarise
from .scores import accuracy_summary, collect_scores, confusion_matrix
from .selection import assert_disjoint

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
