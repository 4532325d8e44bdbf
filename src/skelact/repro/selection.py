"""Choosing the number of epochs and the fusion weight by cross-validation over training subjects.

Pure NumPy, independent of training: the inputs are the scores each cross-validation fold's model
gave its held-out training subjects after every epoch (:class:`FoldScores`); the outputs are the
chosen epoch per table row, and for the fused two-stream row also the fusion weight alpha
(:class:`Choice`).

The rules (see :func:`select`):

* **curves**: for each fold and epoch the accuracy on the fold's held-out subjects; the curve of a
  row is the mean over folds (each fold weighs the same), optionally smoothed by a centred moving
  average of ``smooth`` epochs (shrinking at the ends);
* **epoch**: the maximum of that curve; ties go to the earlier epoch (less training, the same
  estimated accuracy);
* **alpha** (eq. 12 of ARRN-LSTM, ``y = a y_joint + (1 - a) y_line`` on softmax scores): at every
  epoch, the grid value with the most correct predictions over the pooled out-of-fold scores of
  all folds (ties: closest to 0.5, then the larger; :func:`~skelact.evaluation.fit_fusion_alpha`);
  the fused curve uses that epoch's alpha, and the chosen alpha is the one of the chosen epoch.

Nothing here sees a test sample: the callers pass scores of held-out *training* subjects only,
and :func:`assert_disjoint` checks it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..evaluation.fusion import ALPHA_GRID, fit_fusion_alpha, fused_probabilities, softmax
from ..evaluation.selection import assert_disjoint

__all__ = [
    "ALPHA_GRID",
    "Choice",
    "FoldScores",
    "accuracy_curve",
    "assert_disjoint",
    "fused_probabilities",
    "mean_curve",
    "pick_epoch",
    "select",
    "select_alpha",
    "smooth_curve",
    "softmax",
]

#: Heads a row can be chosen on: a stream's scores, the fused two-stream score, or a model's logits.
HEADS = ("joint", "line", "fused", "logits")
_TIE = 1e-9


@dataclass
class FoldScores:
    """What one cross-validation fold's model gave its held-out training subjects.

    Attributes:
        name: the fold's name (e.g. ``"cv1"``).
        indices: store positions of the held-out samples ``(N,)``.
        labels: their class labels ``(N,)`` (the protocol's class numbering).
        epochs: the epochs scored, 1-based ``(E,)``; the same for every fold of a selection.
        scores: per head (``"joint"``, ``"line"`` or ``"logits"``) the scores ``(E, N, K)``
            (logits: softmax is applied where probabilities are needed).
        train_indices: store positions the fold's model was trained on (checked by
            :func:`assert_disjoint`, not used for selection).
    """

    name: str
    indices: np.ndarray
    labels: np.ndarray
    epochs: np.ndarray
    scores: dict[str, np.ndarray]
    train_indices: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __post_init__(self) -> None:
        self.indices = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        self.epochs = np.asarray(self.epochs, dtype=np.int64).reshape(-1)
        self.train_indices = np.asarray(self.train_indices, dtype=np.int64).reshape(-1)
        n, e = len(self.labels), len(self.epochs)
        if len(self.indices) != n:
            raise ValueError(f"fold {self.name}: {len(self.indices)} indices for {n} labels")
        for head, s in self.scores.items():
            s = np.asarray(s)
            if s.ndim != 3 or s.shape[:2] != (e, n):
                raise ValueError(
                    f"fold {self.name}: scores[{head!r}] must be (E={e}, N={n}, K), got {s.shape}"
                )
            self.scores[head] = s


@dataclass
class Choice:
    """The settings chosen for one table row."""

    head: str
    epoch: int
    cv_accuracy: float  # the (smoothed) mean curve at the chosen epoch, percent
    curve: list[float]  # mean over folds per epoch, percent (before smoothing)
    epochs: list[int]
    alpha: float | None = None  # fused row only
    alphas: list[float] | None = None  # fused row: alpha per epoch (pooled out-of-fold)
    smooth: int = 1

    def to_dict(self) -> dict[str, Any]:
        out = {
            "head": self.head,
            "epoch": self.epoch,
            "cv_accuracy": round(self.cv_accuracy, 4),
            "curve": [round(v, 4) for v in self.curve],
            "epochs": list(self.epochs),
            "smooth": self.smooth,
        }
        if self.alpha is not None:
            out["alpha"] = self.alpha
            out["alphas"] = self.alphas
        return out


# ---------------------------------------------------------------------------------------------
# curves
# ---------------------------------------------------------------------------------------------
def accuracy_curve(scores: npt.ArrayLike, labels: npt.ArrayLike) -> np.ndarray:
    """Accuracy (percent) per epoch of scores ``(E, N, K)`` against ``labels (N,)``: ``(E,)``."""
    s = np.asarray(scores)
    y = np.asarray(labels).reshape(-1)
    if s.shape[1] == 0:
        raise ValueError("no held-out samples")
    out: np.ndarray = 100.0 * (s.argmax(-1) == y).mean(axis=-1)
    return out


def smooth_curve(curve: npt.ArrayLike, window: int = 1) -> np.ndarray:
    """Centred moving average over ``window`` epochs (odd; the window shrinks at the ends)."""
    c = np.array(curve, dtype=np.float64)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"smooth must be an odd number >= 1, got {window}")
    if window == 1:
        return c
    half = window // 2
    csum = np.concatenate([[0.0], np.cumsum(c)])
    idx = np.arange(len(c))
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, len(c))
    out: np.ndarray = (csum[hi] - csum[lo]) / (hi - lo)
    return out


def mean_curve(curves: npt.ArrayLike) -> np.ndarray:
    """The mean over folds of per-fold curves ``(F, E) -> (E,)`` (each fold weighs the same)."""
    arr = np.asarray(curves, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"expected per-fold curves (F, E), got shape {arr.shape}")
    out: np.ndarray = arr.mean(axis=0)
    return out


def pick_epoch(curve: npt.ArrayLike, epochs: npt.ArrayLike | None = None) -> int:
    """The epoch of the curve's maximum; ties (within 1e-9) go to the earlier epoch."""
    c = np.asarray(curve, dtype=np.float64)
    if c.size == 0:
        raise ValueError("empty curve")
    e = np.arange(1, len(c) + 1) if epochs is None else np.asarray(epochs)
    best = np.flatnonzero(c >= c.max() - _TIE)
    return int(e[best[0]])


# ---------------------------------------------------------------------------------------------
# selection
# ---------------------------------------------------------------------------------------------
def _check_folds(folds: Sequence[FoldScores], heads: Iterable[str]) -> np.ndarray:
    if not folds:
        raise ValueError("no cross-validation folds")
    epochs = folds[0].epochs
    for f in folds:
        if not np.array_equal(f.epochs, epochs):
            raise ValueError(
                f"fold {f.name} scored epochs {f.epochs.tolist()}, fold {folds[0].name} "
                f"{epochs.tolist()}: every fold must score the same epochs"
            )
        missing = [h for h in heads if h not in f.scores]
        if missing:
            raise ValueError(f"fold {f.name} has no scores for {missing}")
    seen = np.concatenate([f.indices for f in folds])
    if len(np.unique(seen)) != len(seen):
        raise ValueError("the held-out parts of the folds overlap (a sample is held out twice)")
    return epochs


def select_alpha(
    folds: Sequence[FoldScores], epoch_pos: int, grid: npt.ArrayLike = ALPHA_GRID
) -> tuple[float, np.ndarray]:
    """Fusion weight on the pooled out-of-fold scores of all folds at one epoch (its position).

    Returns ``(alpha, accuracy per grid value)``; ties as
    :func:`~skelact.evaluation.fit_fusion_alpha` (closest to 0.5, then the larger).
    """
    joint = np.concatenate([f.scores["joint"][epoch_pos] for f in folds])
    line = np.concatenate([f.scores["line"][epoch_pos] for f in folds])
    labels = np.concatenate([f.labels for f in folds])
    values = [float(a) for a in np.asarray(grid, dtype=np.float64).reshape(-1)]
    alpha, acc = fit_fusion_alpha(joint, line, labels, grid=values)
    return float(round(alpha, 6)), acc


def _fused_curves(folds: Sequence[FoldScores], grid: npt.ArrayLike) -> tuple[np.ndarray, list[float]]:
    epochs = folds[0].epochs
    alphas, per_fold = [], np.zeros((len(folds), len(epochs)))
    for e in range(len(epochs)):
        alpha, _ = select_alpha(folds, e, grid)
        alphas.append(alpha)
        for i, f in enumerate(folds):
            fused = fused_probabilities(f.scores["joint"][e], f.scores["line"][e], alpha)
            per_fold[i, e] = 100.0 * float((fused.argmax(-1) == f.labels).mean())
    return per_fold, alphas


def select(
    folds: Sequence[FoldScores],
    rows: Mapping[str, str],
    *,
    smooth: int = 1,
    grid: npt.ArrayLike = ALPHA_GRID,
) -> dict[str, Choice]:
    """Choose the epoch (and alpha for fused rows) of each row from cross-validation scores.

    Args:
        folds: one :class:`FoldScores` per cross-validation fold (same epochs in each).
        rows: ``{row name: head}``, head one of ``"joint"``, ``"line"``, ``"logits"`` (a stream's
            or a model's own scores) or ``"fused"`` (needs ``"joint"`` and ``"line"`` scores).
        smooth: odd moving-average window applied to the mean curve before taking its maximum.
        grid: fusion weights searched for fused rows.
    """
    heads = {h for h in rows.values()}
    bad = heads - set(HEADS)
    if bad:
        raise ValueError(f"unknown head(s) {sorted(bad)}; known: {HEADS}")
    needed = {"joint", "line"} if "fused" in heads else set()
    epochs = _check_folds(folds, (heads - {"fused"}) | needed)
    out: dict[str, Choice] = {}
    for row, head in rows.items():
        alphas = None
        if head == "fused":
            per_fold, alphas = _fused_curves(folds, grid)
        else:
            per_fold = np.stack([accuracy_curve(f.scores[head], f.labels) for f in folds])
        curve = mean_curve(per_fold)
        smoothed = smooth_curve(curve, smooth)
        epoch = pick_epoch(smoothed, epochs)
        pos = int(np.flatnonzero(epochs == epoch)[0])
        out[row] = Choice(
            head=head,
            epoch=epoch,
            cv_accuracy=float(smoothed[pos]),
            curve=curve.tolist(),
            epochs=epochs.tolist(),
            alpha=None if alphas is None else alphas[pos],
            alphas=alphas,
            smooth=smooth,
        )
    return out
