"""Classification metrics (torchmetrics) and their JSON summaries, per run and across folds.

:class:`ClassificationMetrics` accumulates top-1 / top-k accuracy and the confusion matrix over
an evaluation pass (synchronised across processes under DDP by torchmetrics);
:func:`summarise` turns the computed values into plain JSON data; :func:`aggregate_folds` adds
mean and standard deviation over folds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

__all__ = ["ClassificationMetrics", "aggregate_folds", "format_table", "summarise"]


class ClassificationMetrics(torch.nn.Module):
    """Top-1, top-k (micro) accuracy, confusion matrix and mean loss of one evaluation pass."""

    def __init__(self, num_classes: int, topk: int = 5):
        super().__init__()
        self.num_classes = num_classes
        self.topk = max(1, min(topk, num_classes))
        self.acc = MetricCollection(
            {
                "top1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
                f"top{self.topk}": MulticlassAccuracy(num_classes, top_k=self.topk, average="micro"),
            }
        )
        self.confusion = MulticlassConfusionMatrix(num_classes)
        self.loss = MeanMetric()

    def update(self, logits: torch.Tensor, target: torch.Tensor, loss: torch.Tensor | None = None) -> None:
        logits = logits.detach().float()
        self.acc.update(logits, target)
        self.confusion.update(logits.argmax(-1), target)
        if loss is not None:
            self.loss.update(loss.detach().float(), weight=target.numel())

    def compute(self) -> dict[str, Any]:
        out = {k: float(v) for k, v in self.acc.compute().items()}
        out["confusion"] = self.confusion.compute().long().cpu()
        out["loss"] = float(self.loss.compute()) if self.loss.update_count else float("nan")
        return out

    def reset(self) -> None:
        self.acc.reset()
        self.confusion.reset()
        self.loss.reset()


def summarise(values: dict[str, Any], class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """JSON-ready metrics: accuracies in percent, per-class accuracy, confusion matrix, class names.

    Per-class accuracy is ``None`` for a class without test samples.
    """
    cm = np.asarray(values["confusion"], dtype=np.int64)
    support = cm.sum(axis=1)
    per_class = [None if n == 0 else float(100.0 * cm[i, i] / n) for i, n in enumerate(support)]
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(cm))]
    topk_keys = sorted((k for k in values if k.startswith("top") and k != "top1"), key=lambda k: int(k[3:]))
    out: dict[str, Any] = {"top1": 100.0 * values["top1"]}
    for k in topk_keys:
        out[k] = 100.0 * values[k]
    if "top5" not in out:  # fewer than 5 classes: top-5 is certain
        out["top5"] = 100.0
    loss = values.get("loss")
    out["loss"] = None if loss is None or not math.isfinite(loss) else float(loss)
    out["num_samples"] = int(cm.sum())
    out["per_class_accuracy"] = dict(zip(names, per_class, strict=True))
    out["class_names"] = names
    out["confusion_matrix"] = cm.tolist()
    return out


def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=0)),
        "min": float(arr.min()),
        "max": float(arr.max()),
    }


def aggregate_folds(per_fold: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean / std (population) / min / max of top-1 and top-5 over folds, plus the pooled
    accuracy over all test samples (sum of the folds' confusion matrices)."""
    if not per_fold:
        raise ValueError("no folds to aggregate")
    out: dict[str, Any] = {"num_folds": len(per_fold)}
    for key in ("top1", "top5"):
        out[key] = _stats([m["test"][key] for m in per_fold.values()])
    cms = [np.asarray(m["test"]["confusion_matrix"]) for m in per_fold.values()]
    if len({cm.shape for cm in cms}) == 1:
        pooled = np.sum(cms, axis=0)
        out["pooled_top1"] = float(100.0 * np.trace(pooled) / max(pooled.sum(), 1))
        out["pooled_confusion_matrix"] = pooled.tolist()
    return out


def format_table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """A plain-text table of top-1 / top-5 / samples, one row per (label, test metrics)."""
    header = f"{'run':<24} {'top-1 %':>8} {'top-5 %':>8} {'samples':>8}"
    lines = [header, "-" * len(header)]
    for label, m in rows:
        lines.append(f"{label:<24} {m['top1']:>8.2f} {m['top5']:>8.2f} {m.get('num_samples', 0):>8d}")
    return "\n".join(lines)
