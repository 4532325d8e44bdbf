"""Scores of a model over a loader, and the accuracy summary of one set of scores.

:func:`collect_scores` is the one place a trained model is run over an evaluation loader for its
raw scores: two-stream ARRN-LSTM gives each stream's logits (``"joint"``, ``"line"``, what eq. 12
fuses and :func:`~skelact.models.arrn.fusion.fit_fusion_alpha` fits on), any other model its logits
(``"logits"``). :func:`accuracy_summary` turns scores and labels into top-1 / top-5 and the
confusion matrix.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

__all__ = ["accuracy_summary", "collect_scores", "confusion_matrix"]


@torch.no_grad()
def collect_scores(
    model: torch.nn.Module, loader: Iterable[Any], device: torch.device | str | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run ``model`` (eval mode) over a loader of ``(x, y, ...)`` batches.

    Returns ``({head: (N, K) float32 logits}, labels (N,))``: the heads are the streams of a
    two-stream model (``stream_logits`` and a ``fusion_alpha``: ``"joint"``, ``"line"``), else
    ``"logits"``.
    The model's training mode is restored afterwards.
    """
    if device is None:
        device = next(model.parameters()).device
    streams = getattr(model, "stream_logits", None) if hasattr(model, "fusion_alpha") else None
    was_training = model.training
    model.eval()
    out: dict[str, list[np.ndarray]] = {}
    labels: list[np.ndarray] = []
    try:
        for batch in loader:
            x, y = batch[0].to(device), batch[1]
            heads = streams(x) if callable(streams) else {"logits": model(x)}
            for name, s in heads.items():
                out.setdefault(name, []).append(s.float().cpu().numpy())
            labels.append(np.asarray(torch.as_tensor(y).cpu()).reshape(-1))
    finally:
        model.train(was_training)
    if not labels:
        raise ValueError("the loader gave no batches")
    return {k: np.concatenate(v) for k, v in out.items()}, np.concatenate(labels)


def confusion_matrix(pred: np.ndarray, labels: np.ndarray, num_classes: int) -> list[list[int]]:
    """``cm[true, predicted]`` counts as nested lists (JSON-ready)."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(pred)), 1)
    out: list[list[int]] = cm.tolist()
    return out


def accuracy_summary(scores: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, Any]:
    """Top-1 and top-5 accuracy (percent), the number of samples and the confusion matrix of
    ``scores (N, K)`` (logits or probabilities: only their order counts) against ``labels (N,)``."""
    s, y = np.asarray(scores), np.asarray(labels).reshape(-1)
    pred = s.argmax(-1)
    top5 = np.argsort(-s, axis=-1, kind="stable")[:, : min(5, num_classes)]
    return {
        "top1": float(100.0 * (pred == y).mean()),
        "top5": float(100.0 * (top5 == y[:, None]).any(-1).mean()),
        "num_samples": int(len(y)),
        "confusion_matrix": confusion_matrix(pred, y, num_classes),
    }
