"""ARRN-LSTM attention masks (eq. 9) drawn on the skeleton and as bars with joint names."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..data.layouts import Layout, get_layout
from ._style import new_figure, save, short_name, styled, suptitle
from ._templates import template_pose
from .skeleton import SkeletonView, to_sequence

__all__ = ["attention_weights", "plot_attention"]

_STREAM_TITLES = {"joint": "joint stream", "line": "line stream (node i = lines of joint i)"}


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def attention_weights(model_or_weights: Any) -> dict[str, np.ndarray]:
    """``{stream: (V,) weights}`` from a model with ``attention_weights()``, a dict, or an array
    (``(V,)`` = one stream called ``"joint"``; ``(S, V)`` = streams ``stream 1..S``)."""
    src = model_or_weights
    if hasattr(src, "attention_weights"):
        src = src.attention_weights()
    if isinstance(src, dict):
        return {str(k): _numpy(v).ravel() for k, v in src.items()}
    arr = _numpy(src)
    if arr.ndim == 1:
        return {"joint": arr}
    if arr.ndim == 2:
        return {f"stream {i + 1}": row for i, row in enumerate(arr)}
    raise ValueError(f"attention weights must be (V,) or (S, V), got {arr.shape}")


def _model_layout(model: Any) -> str | None:
    for attr in ("hparams", "spec"):
        d = getattr(model, attr, None)
        if isinstance(d, dict) and d.get("layout"):
            return d["layout"]
    return None


def _norm(w: np.ndarray):
    lo, hi = float(np.min(w)), float(np.max(w))
    if lo < 0 < hi:
        m = max(-lo, hi)
        return TwoSlopeNorm(vcenter=0.0, vmin=-m, vmax=m), colormaps["PuOr_r"]
    if hi - lo < 1e-12:
        hi = lo + 1.0
    return Normalize(vmin=lo, vmax=hi), colormaps["viridis"]


@styled
def plot_attention(
    model: Any,
    layout: str | Layout | None = None,
    path: str | os.PathLike | None = None,
    *,
    pose: Any = None,
    frame: int = 0,
    top: int = 3,
    title: str | None = None,
    dpi: int = 100,
) -> Figure:
    """The learned node mask ``m`` of ARRN-LSTM (eq. 9), one row per stream.

    Left: the skeleton (a standing template, or frame ``frame`` of ``pose`` when given) with each
    joint's marker size and colour by its weight, the ``top`` heaviest joints named. Right: the
    weights as bars with joint names. For the line stream node ``i`` holds the lines of joint ``i``
    (eq. 2), so the same drawing applies.

    Args:
        model: an ARRN-LSTM (anything with ``attention_weights()``), or the weights themselves
            (dict stream -> (V,), or an array).
        layout: the joint layout; default the model's (``model.hparams["layout"]``).
        pose: optional sample (any input :func:`~skelact.viz.animate_skeleton` takes) to draw on.
    """
    streams = attention_weights(model)
    lay_name = layout or _model_layout(model)
    if lay_name is None:
        raise ValueError("plot_attention needs layout= (the model does not record one)")
    lay = get_layout(lay_name)
    for name, w in streams.items():
        if w.size != lay.num_joints:
            raise ValueError(f"stream {name!r} has {w.size} weights, layout {lay.name!r} has "
                             f"{lay.num_joints} joints")

    if pose is None:
        data = template_pose(lay)[None, None]
        view = SkeletonView(data, lay, mode="flat")
        frame = 0
    else:
        data, lay2, meta = to_sequence(pose, lay)
        view = SkeletonView(data, lay2, meta=meta)
    n = len(streams)
    v = lay.num_joints
    row_h = max(3.2, 0.15 * v + 0.9)
    fig = new_figure(8.0, row_h * n + 0.5, dpi=dpi)
    grid = fig.add_gridspec(n, 2, width_ratios=[1.1, 1.25])
    names = [short_name(j) for j in lay.joints]
    for r, (stream, w) in enumerate(streams.items()):
        norm, cmap = _norm(w)
        colors = cmap(norm(w))
        mag = np.abs(w)
        span = mag.max() - mag.min()
        sizes = 25 + 230 * ((mag - mag.min()) / span if span > 1e-12 else np.full(v, 0.4))
        uniform = span <= 1e-9 * max(mag.max(), 1.0)
        if uniform:
            colors = np.tile(np.array([[0.55, 0.55, 0.55, 1.0]]), (v, 1))

        ax = view.make_axes(fig, grid[r, 0])
        view.draw(ax, frame, color="#b8b8b8", linewidth=2.0, joint_size=0, zorder=1)
        pts = view.points[frame, 0] if view.points.shape[1] else None
        vis = view.visible[frame, 0]
        order = np.argsort(mag)  # big markers last (on top)
        order = order[vis[order]]
        if view.mode == "3d":
            ax.scatter(pts[order, 0], pts[order, 1], pts[order, 2], s=sizes[order], c=colors[order],
                       edgecolors="#333333", linewidths=0.5, depthshade=False, zorder=3)
        else:
            ax.scatter(pts[order, 0], pts[order, 1], s=sizes[order], c=colors[order],
                       edgecolors="#333333", linewidths=0.5, zorder=3)
        if not uniform and top > 0:
            best = [i for i in np.argsort(-mag) if vis[i]][:top]
            for i in best:
                side = 1 if pts[i, 0] >= np.median(pts[vis, 0]) else -1
                if view.mode == "3d":
                    ax.text(*pts[i], "  " + names[i], fontsize=7, ha="left", zorder=4)
                else:
                    ax.annotate(names[i], pts[i, :2], xytext=(8 * side, 4), textcoords="offset points",
                                ha="left" if side > 0 else "right", fontsize=7, color="#202020",
                                zorder=4)
        ax.set_title(_STREAM_TITLES.get(stream, stream), fontsize=9)
        if view.mode == "flat":
            for s in ax.spines.values():
                s.set_visible(False)

        if not uniform:
            cbar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.65, pad=0.02,
                                aspect=25)
            cbar.outline.set_visible(False)
            cbar.set_label("mask weight m", fontsize=8)
            cbar.ax.tick_params(labelsize=7)

        bax = fig.add_subplot(grid[r, 1])
        y = np.arange(v)
        lo, hi = float(w.min()), float(w.max())
        narrow = lo > 0 and not uniform and (hi - lo) < 0.25 * hi
        if narrow:
            # weights close together far from 0 (a mask trained from ones): bars from 0 would all
            # look equal, so a dot plot around the mean on a zoomed axis shows the differences
            mean = float(w.mean())
            bax.hlines(y, mean, w, color=colors, lw=2.0)
            bax.scatter(w, y, c=colors, s=28, edgecolors="#333333", linewidths=0.4, zorder=3)
            bax.axvline(mean, color="#555555", lw=0.8, ls="--")
            pad = 0.08 * (hi - lo)
            bax.set_xlim(lo - pad, hi + pad)
            bax.xaxis.set_major_locator(MaxNLocator(5))
        else:
            bax.barh(y, w, color=colors, edgecolor="#777777", linewidth=0.4, height=0.75)
            bax.axvline(0, color="#555555", lw=0.8)
        bax.set_yticks(y)
        bax.set_yticklabels(names, fontsize=7 if v > 20 else 8)
        bax.invert_yaxis()
        bax.set_ylim(v - 0.5, -0.5)
        bax.tick_params(axis="y", length=0)
        bax.grid(axis="x")
        bax.set_axisbelow(True)
        bax.set_xlabel("weight" + ("  (zoomed; dashed = mean)" if narrow else ""))
        bax.set_title("uniform mask (untrained or no attention)" if uniform else "per-joint weight",
                      fontsize=9, fontweight="normal")
    suptitle(fig, title or "ARRN-LSTM attention mask (eq. 9)")
    return save(fig, path)
