"""AS-GCN future-pose forecast (the prediction head, paper Sec. 4.4 / Fig. 7; results Sec. 5.4):
observed, predicted and true poses side by side, on shared axes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..data.layouts import Layout
from ..evaluation.forecast import METHOD_LABELS
from ._style import new_figure, save, styled, suptitle
from .skeleton import DEFAULT_VIEW, SkeletonView, _legend, to_sequence

__all__ = ["plot_forecast", "plot_forecast_error"]


def _pick(n: int, k: int, last: bool = False) -> list[int]:
    if k >= n:
        return list(range(n))
    if last:
        return list(range(n - k, n))
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, k)})


def _pad_bodies(a: np.ndarray, m: int) -> np.ndarray:
    if a.shape[1] == m:
        return a
    out = np.zeros((a.shape[0], m, *a.shape[2:]), dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out


@styled
def plot_forecast(
    observed: Any,
    predicted: Any,
    truth: Any = None,
    layout: str | Layout | None = None,
    path: str | os.PathLike | None = None,
    *,
    num_observed: int = 3,
    num_future: int = 4,
    view: tuple[float, float] = DEFAULT_VIEW,
    title: str | None = None,
    panel_size: float = 2.0,
    dpi: int = 100,
) -> Figure:
    """Observed last frames, predicted future poses and (when given) the true future poses.

    Args:
        observed: the observed frames, ``(C, T, V, M)``, ``(T, M, V, C)`` or ``(T, V, C)``.
        predicted: predicted future frames, same layouts (``T'`` frames).
        truth: true future frames (``T'`` frames), optional.
        layout: joint layout (guessed from V when omitted).
        num_observed: how many of the last observed frames to show.
        num_future: how many future frames to show (spread over ``T'``).
    Returns:
        The figure: rows "observed", "predicted" (the true pose faint underneath, mean joint error
        in the title) and "ground truth", all panels on the same axes and camera.
    """
    obs, lay, _ = to_sequence(observed, layout)
    pred, _, _ = to_sequence(predicted, lay)
    seqs = [obs, pred]
    tru = None
    if truth is not None:
        tru, _, _ = to_sequence(truth, lay)
        if tru.shape[0] != pred.shape[0]:
            raise ValueError(f"predicted has {pred.shape[0]} frames, truth {tru.shape[0]}")
        seqs.append(tru)
    m = max(s.shape[1] for s in seqs)
    c = min(s.shape[3] for s in seqs)
    seqs = [_pad_bodies(s[..., :c], m).copy() for s in seqs]
    t_obs, t_fut = seqs[0].shape[0], seqs[1].shape[0]
    # a body absent from the observed frames is absent from the forecast too (a prediction head
    # outputs something for every body slot, padding included)
    observed_bodies = np.abs(seqs[0]).sum(axis=(0, 2, 3)) > 0
    for s in seqs[1:]:
        s[:, ~observed_bodies] = 0.0
    # one view over everything: shared limits, vertical axis and camera
    sv = SkeletonView(np.concatenate(seqs, axis=0), lay)
    off_pred, off_true = t_obs, t_obs + t_fut

    obs_idx = [t for t in _pick(t_obs, num_observed, last=True) if sv.frame_valid[t]]
    fut_idx = _pick(t_fut, num_future)
    cols = max(len(obs_idx), len(fut_idx), 1)
    rows = 3 if tru is not None else 2
    fig = new_figure(panel_size * cols, panel_size * sv.panel_aspect(view) * rows + 0.7, dpi=dpi)
    grid = fig.add_gridspec(rows, cols)
    artists = None
    for k, t in enumerate(obs_idx):
        ax = sv.make_axes(fig, grid[0, k], view=view)
        artists = sv.draw(ax, t)
        rel = f"{t - t_obs + 1}".replace("-", "\u2212")
        ax.set_title(f"observed, t = {rel}", fontsize=8, fontweight="normal", pad=1)
    for k, t in enumerate(fut_idx):
        ax = sv.make_axes(fig, grid[1, k], view=view)
        label = f"predicted, t = +{t + 1}"
        if tru is not None:
            if sv.mode == "3d":
                ax.computed_zorder = False  # keep the prediction above the faint truth
            sv.draw(ax, off_true + t, color="#c8c8c8", linewidth=3.2, joint_size=0, zorder=1)
            both = sv.visible[off_pred + t] & sv.visible[off_true + t]
            if both.any():
                diff = seqs[1][t][..., :3] - seqs[2][t][..., :3]
                err = float(np.linalg.norm(diff, axis=-1)[both].mean())
                label += f"\nmean joint error {err:.3g}"
        sv.draw(ax, off_pred + t, zorder=2)
        ax.set_title(label, fontsize=8, fontweight="normal", pad=1)
        if tru is not None:
            ax2 = sv.make_axes(fig, grid[2, k], view=view)
            sv.draw(ax2, off_true + t)
            ax2.set_title(f"ground truth, t = +{t + 1}", fontsize=8, fontweight="normal", pad=1)
    suptitle(fig, title or "Future pose prediction")
    if artists is not None:
        _legend(fig, artists, loc="outside lower center", ncols=4)
    return save(fig, path)


_METHOD_STYLE = {"model": ("-", "o"), "zero_velocity": ("--", "s"), "constant_velocity": (":", "^")}


@styled
def plot_forecast_error(
    result: Mapping[str, Any],
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
    unit: str = "",
    dpi: int = 100,
) -> Figure:
    """Mean per-joint position error per predicted step, one line per method.

    Args:
        result: ``{"mpjpe": {method: [error per step (None where nothing was scored)]}, ...}``, as
            :func:`skelact.evaluation.forecast.evaluate_forecast` returns it (or the reproduction
            report's pooled summary).
        unit: the unit of the errors, for the axis label (e.g. ``"m"``).
    """
    fig = new_figure(5.0, 3.4, dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    for method, values in result["mpjpe"].items():
        style, marker = _METHOD_STYLE.get(method, ("-", "."))
        label = METHOD_LABELS.get(method, method)
        steps = [k + 1 for k, v in enumerate(values) if v is not None]
        errs = [v for v in values if v is not None]
        ax.plot(steps, errs, linestyle=style, marker=marker, markersize=4, label=label)
    ax.set_xlabel("predicted frame (t + k)")
    ax.set_ylabel("MPJPE" + (f" ({unit})" if unit else ""))
    ax.set_xticks(range(1, max(len(v) for v in result["mpjpe"].values()) + 1))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    suptitle(fig, title or "Future-pose error per predicted frame")
    return save(fig, path)
