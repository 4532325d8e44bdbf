"""AS-GCN links: inferred A-links on the skeleton (paper Fig. 8), A-link matrices, and the learned
S-link / edge-importance masks as heatmaps."""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..data.layouts import Layout, get_layout
from ..data.skeleton import Skeleton
from ._style import LINK_COLOR, new_figure, save, short_name, styled, suptitle
from .skeleton import DEFAULT_VIEW, SkeletonView, to_sequence

__all__ = ["edge_importance", "kernel_labels", "link_probabilities", "plot_alinks", "plot_edge_importance",
           "plot_link_matrix"]


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _model_layout(model: Any) -> str | None:
    for attr in ("hparams", "spec"):
        d = getattr(model, attr, None)
        if isinstance(d, dict) and d.get("layout"):
            return d["layout"]
    lay = getattr(model, "layout", None)
    if isinstance(lay, Layout):
        return lay.name
    return lay if isinstance(lay, str) else None


def _batch(x: Any):
    """Model input ``(1, C, T, V, M)`` float32 tensor from a Skeleton / (C,T,V,M) / (N,C,T,V,M)."""
    if isinstance(x, Skeleton):
        x = x.to_model_input()
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32)
    if t.ndim == 4:
        t = t.unsqueeze(0)
    if t.ndim != 5:
        raise ValueError(f"model input must be (C, T, V, M) or (N, C, T, V, M), got {tuple(t.shape)}")
    return t


def _ghost_index(model: Any, num_types: int, ghost: int | str | None) -> int | None:
    if ghost is None:
        ghost = getattr(model, "ghost_index", None)
        if ghost is None:
            aim = getattr(model, "aim", None)
            ghost = getattr(aim, "ghost_index", None) if aim is not None else None
        if ghost is None:
            ghost = "first"
    if ghost == "first":
        cfg = getattr(model, "config", None)
        if cfg is not None and getattr(cfg, "has_ghost", True) is False:
            ghost = "none"  # the model was built without a ghost link type
    if ghost in ("none", False):
        return None
    if ghost == "first":
        return 0
    if ghost == "last":
        return num_types - 1
    return int(ghost) % num_types


def link_probabilities(
    model_or_links: Any, x: Any = None, *, ghost: int | str | None = None, sample: int = 0
) -> np.ndarray:
    """A-link probabilities ``(C, V, V)`` of one sample, the ghost link removed.

    ``model_or_links`` is an AS-GCN (``infer_links(x)`` is called on ``x``) or the link tensor
    itself, ``(N, C+1, V, V)`` or ``(C+1, V, V)``. ``ghost`` says where the ghost ("no link") type
    is: ``"first"`` (the paper's index 0), ``"last"``, an index, or ``"none"`` when the links carry
    no ghost; default the model's ``ghost_index`` attribute, else ``"first"``.
    """
    if hasattr(model_or_links, "infer_links"):
        if x is None:
            raise ValueError("a model needs a sample x to infer links from")
        with torch.no_grad():
            links = model_or_links.infer_links(_batch(x))
    else:
        links = model_or_links
    a = _numpy(links)
    if a.ndim == 4:
        a = a[sample]
    if a.ndim != 3 or a.shape[1] != a.shape[2]:
        raise ValueError(f"links must be (N, C+1, V, V) or (C+1, V, V), got {a.shape}")
    g = _ghost_index(model_or_links, a.shape[0], ghost)
    if g is not None:
        a = np.delete(a, g, axis=0)
    return a


def _pairs(p: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """Undirected pairs ``(i, j, prob)``, ``i < j``, with ``max(p_ij, p_ji) > threshold``."""
    sym = np.maximum(p, p.T)
    iu, ju = np.triu_indices(p.shape[0], k=1)
    keep = sym[iu, ju] > threshold
    return [(int(i), int(j), float(sym[i, j])) for i, j in zip(iu[keep], ju[keep], strict=True)]


@styled
def plot_alinks(
    model: Any,
    x: Any,
    path: str | os.PathLike | None = None,
    threshold: float = 0.9,
    frames: Any = None,
    *,
    num_frames: int = 4,
    ghost: int | str | None = None,
    layout: str | Layout | None = None,
    links: Any = None,
    view: tuple[float, float] = DEFAULT_VIEW,
    title: str | None = None,
    panel_size: float = 2.1,
    dpi: int = 100,
) -> Figure:
    """Inferred A-links drawn on the skeleton over a few frames (AS-GCN Fig. 8).

    One row per (non-ghost) link type, one column per frame. Links whose probability exceeds
    ``threshold`` (either direction; the paper uses 0.9) are drawn in orange, wider for larger
    probability, on every body shown. A-links are inferred once per sample, so each row shows the
    same links moving with the body.

    Args:
        model: an AS-GCN with ``infer_links(x) -> (N, C+1, V, V)``.
        x: the sample, a model input ``(C, T, V, M)`` / ``(1, C, T, V, M)`` or a
            :class:`~skelact.Skeleton` (used as is: apply the model's transforms first).
        frames: frame indices; default ``num_frames`` evenly spread frames that show a body.
        ghost: where the ghost link is among the C+1 types (see :func:`link_probabilities`).
        links: precomputed link probabilities (skips ``infer_links``).
    """
    probs = link_probabilities(model if links is None else links, x, ghost=ghost)
    data, lay, meta = to_sequence(x, layout or _model_layout(model))
    if probs.shape[-1] != lay.num_joints:
        raise ValueError(f"links are over {probs.shape[-1]} joints, layout {lay.name!r} has {lay.num_joints}")
    sv = SkeletonView(data, lay, meta=meta)
    picked = sv.pick_frames(num_frames) if frames is None else [int(t) for t in frames]
    n_types = probs.shape[0]
    fig = new_figure(panel_size * len(picked) + 0.3, panel_size * sv.panel_aspect(view) * n_types + 0.9,
                     dpi=dpi)
    grid = fig.add_gridspec(n_types, len(picked))
    lo, hi = threshold, max(threshold + 1e-6, 1.0)
    for c in range(n_types):
        pairs = _pairs(probs[c], threshold)
        for k, t in enumerate(picked):
            ax = sv.make_axes(fig, grid[c, k], view=view)
            if sv.mode == "3d":
                ax.computed_zorder = False
            sv.draw(ax, t, alpha=0.45, linewidth=1.6, joint_size=2.2, zorder=1)
            for b in range(sv.points.shape[1]):
                if not sv.body_used[b]:
                    continue
                pts, vis = sv.points[t, b], sv.visible[t, b]
                for i, j, p in pairs:
                    if not (vis[i] and vis[j]):
                        continue
                    w = 0.8 + 3.2 * (p - lo) / (hi - lo)
                    seg = np.stack([pts[i], pts[j]])
                    ax.plot(*seg.T, color=LINK_COLOR, lw=w, alpha=0.9, solid_capstyle="round", zorder=3)
            head = f"t = {t}"
            if k == 0:
                head = f"A-link type {c + 1}   " + head
            ax.set_title(head, fontsize=8, fontweight="bold" if k == 0 else "normal", pad=1,
                         loc="left" if k == 0 else "center")
            if not pairs and k == 0:
                msg = f"no link above {threshold:g}"
                if sv.mode == "3d":
                    ax.text2D(0.5, 0.0, msg, transform=ax.transAxes, ha="center", va="bottom", fontsize=7,
                              color="#666666")
                else:
                    ax.text(0.5, 0.01, msg, transform=ax.transAxes, ha="center", va="bottom", fontsize=7,
                            color="#666666")
    handles = [Line2D([], [], color=LINK_COLOR, lw=0.8), Line2D([], [], color=LINK_COLOR, lw=4.0)]
    fig.legend(handles, [f"p = {threshold:g}", "p = 1"], loc="outside lower center", ncols=2,
               title="A-link probability (line width)", title_fontsize=8)
    suptitle(fig, title or f"Inferred A-links (probability > {threshold:g})")
    return save(fig, path)


@styled
def plot_link_matrix(
    model_or_links: Any,
    x: Any = None,
    path: str | os.PathLike | None = None,
    *,
    ghost: int | str | None = None,
    layout: str | Layout | None = None,
    title: str | None = None,
    dpi: int = 100,
) -> Figure:
    """A-link probabilities as ``V x V`` heatmaps, one per (non-ghost) link type, joint names on
    the axes (row = joint i, column = joint j, value ``A[i, j, c]``)."""
    probs = link_probabilities(model_or_links, x, ghost=ghost)
    lay_name = layout or _model_layout(model_or_links)
    lay = get_layout(lay_name) if lay_name else None
    names = ([short_name(n) for n in lay.joints] if lay is not None and lay.num_joints == probs.shape[-1]
             else [str(i) for i in range(probs.shape[-1])])
    return _heatmaps(
        [(f"A-link type {c + 1}", probs[c]) for c in range(probs.shape[0])],
        names, path, title or "Inferred A-link probabilities", vmin=0.0, vmax=1.0,
        cbar_label="probability", cols=min(3, probs.shape[0]), dpi=dpi,
    )


def _heatmaps(panels, names, path, title, *, vmin=None, vmax=None, cbar_label="", cols=3, cmap="viridis",
              center=None, dpi=100) -> Figure:
    v = len(names)
    n = len(panels)
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    fs = 7 if v <= 20 else (6 if v <= 25 else 5)
    side = (3.0 if v <= 20 else 3.4) if n <= 3 else (2.5 if v <= 20 else 2.8)
    longest = max((len(n) for n in names), default=1)
    label_in = 0.3 + 0.055 * longest * fs / 7
    fig = new_figure(cols * side + label_in + 1.0, rows * (side + 0.3) + label_in + 0.5, dpi=dpi)
    axes = fig.subplots(rows, cols, squeeze=False)
    if vmin is None or vmax is None:
        allv = np.concatenate([np.ravel(m) for _, m in panels])
        allv = allv[np.isfinite(allv)]
        if center is not None:
            d = float(np.max(np.abs(allv - center))) if allv.size else 1.0
            d = d if d > 1e-6 else 0.05
            vmin, vmax, cmap = center - d, center + d, "PuOr_r"
        else:
            vmin = float(allv.min()) if vmin is None else vmin
            vmax = float(allv.max()) if vmax is None else vmax
            if vmin < 0 < vmax:
                m = max(-vmin, vmax)
                vmin, vmax, cmap = -m, m, "PuOr_r"
    cmap = colormaps[cmap].with_extremes(bad="#cfcfcf") if isinstance(cmap, str) else cmap
    im = None
    for idx, ax in enumerate(axes.flat):
        if idx >= n:
            ax.set_visible(False)
            continue
        name, mat = panels[idx]
        im = ax.imshow(np.ma.masked_invalid(mat), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest",
                       aspect="equal")
        ax.set_title(name, fontsize=9)
        ax.set_xticks(range(v))
        ax.set_yticks(range(v))
        show_y = idx % cols == 0
        show_x = idx + cols >= n
        ax.set_xticklabels(names if show_x else [], rotation=90, fontsize=fs)
        ax.set_yticklabels(names if show_y else [], fontsize=fs)
        ax.tick_params(length=0)
        for s in ax.spines.values():
            s.set_visible(False)
    if im is not None:
        cbar = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.7, aspect=30, pad=0.02)
        cbar.outline.set_visible(False)
        cbar.set_label(cbar_label)
    suptitle(fig, title)
    return save(fig, path)


# ----------------------------------------------------------------------------------------------
# learned masks (S-links / edge importance)
# ----------------------------------------------------------------------------------------------
_PARTS = ("root", "centripetal", "centrifugal")


def edge_importance(model: Any) -> dict[str, np.ndarray]:
    """Learned edge-importance masks ``M`` by block: ``{name: (K, V, V)}``.

    From ``model.edge_importance()`` when the model has it (a dict of ``(K, V, V)`` tensors, or one
    tensor ``(B, K, V, V)`` / ``(K, V, V)``); else from every sub-module holding an ``importance``
    parameter ``(K, V, V)`` (AS-GCN's :class:`~skelact.models.asgcn.links.ASGC`, ST-GCN style).
    Where the module also holds the fixed kernels (``structural``), entries outside their support
    (pairs the kernel never uses, whose mask never changes) are NaN.
    """
    out: dict[str, np.ndarray] = {}
    if callable(getattr(model, "edge_importance", None)):
        got = model.edge_importance()
        if isinstance(got, dict):
            items = list(got.items())
        else:
            a = _numpy(got)
            items = [(f"block {b + 1}", m) for b, m in enumerate(a)] if a.ndim == 4 else [("mask", a)]
        for name, t in items:
            a = _numpy(t)
            out[str(name)] = a[None] if a.ndim == 2 else a
    else:
        for name, mod in model.named_modules():
            imp = getattr(mod, "importance", None)
            if imp is None or not hasattr(imp, "shape") or len(imp.shape) != 3:
                continue
            a = _numpy(imp).copy()
            support = getattr(mod, "structural", None)
            if support is not None and tuple(support.shape) == a.shape:
                a[_numpy(support) == 0] = np.nan
            out[_block_name(name)] = a
    if not out:
        raise ValueError(f"{type(model).__name__} has no learned edge-importance masks "
                         "(no edge_importance() method and no 'importance' parameters)")
    return out


def _block_name(module_path: str) -> str:
    """``backbone.3.gcn`` -> ``block 4``; ``predictor.collapse.0.gcn`` -> ``predictor collapse 1``."""
    m = re.fullmatch(r"(?:model\.)?backbone\.(\d+)(?:\..*)?", module_path)
    if m:
        return f"block {int(m.group(1)) + 1}"
    parts = [p for p in module_path.split(".") if p not in {"gcn", "model"}]
    parts = [str(int(p) + 1) if p.isdigit() else p for p in parts]
    return " ".join(parts) or "model"


def _model_option(model: Any, key: str) -> Any:
    for attr in ("config", "cfg", "options", "hparams"):
        src = getattr(model, attr, None)
        if isinstance(src, dict) and key in src:
            return src[key]
        if src is not None and not isinstance(src, dict) and hasattr(src, key):
            return getattr(src, key)
    return None


def kernel_labels(model: Any, num_kernels: int) -> list[str]:
    """Names of the S-link kernels: ``order l, partition`` (paper eq. 5, order-major) or
    ``hop h, partition`` (official "hops" S-links); ``kernel k`` when the scheme is unknown."""
    scheme = _model_option(model, "s_links")
    if scheme is None and num_kernels == 3:
        scheme = "powers"
    if scheme == "powers" and num_kernels % 3 == 0:
        return [f"order {k // 3 + 1} \u00b7 {_PARTS[k % 3]}" for k in range(num_kernels)]
    if scheme == "hops" and num_kernels % 2 == 1:
        return ["root"] + [f"hop {k // 2 + 1} \u00b7 {_PARTS[1 + k % 2]}" for k in range(num_kernels - 1)]
    return [f"kernel {k + 1}" for k in range(num_kernels)]


@styled
def plot_edge_importance(
    model: Any,
    path: str | os.PathLike | None = None,
    *,
    blocks: Any = None,
    layout: str | Layout | None = None,
    title: str | None = None,
    dpi: int = 100,
) -> Figure:
    """Heatmaps of the learned S-link edge importance ``M`` (AS-GCN eq. 5), one per kernel
    (partition x order).

    By default the mean over all blocks is shown (one panel per kernel); ``blocks`` (indices or
    names) shows those blocks instead, one row of kernels each. Colours are centred on 1 (the
    initial value: purple = weakened, orange = strengthened); grey cells are pairs the kernel does
    not connect.
    """
    masks = edge_importance(model)
    names_all = list(masks)
    if blocks is None:
        # the recognition backbone's blocks when the model names them so (a prediction head's
        # blocks are shown only on request)
        chosen = [k for k in names_all if k.startswith("block ")] or names_all
        if len({masks[k].shape for k in chosen}) != 1:
            raise ValueError("blocks have masks of different shapes; pass blocks= to pick some")
        stack = np.stack([masks[k] for k in chosen])
        finite = np.isfinite(stack)
        count = finite.sum(axis=0)
        mean = np.where(count > 0, np.where(finite, stack, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan)
        selected = [(f"mean over {len(chosen)} blocks" if len(chosen) > 1 else chosen[0], mean)]
    else:
        selected = []
        for b in blocks:
            key = names_all[b] if isinstance(b, int) else str(b)
            if key not in masks:
                raise KeyError(f"no block {b!r}; blocks: {', '.join(names_all)}")
            selected.append((key, masks[key]))
    k = selected[0][1].shape[0]
    labels = kernel_labels(model, k)
    v = selected[0][1].shape[-1]
    lay_name = layout or _model_layout(model)
    lay = get_layout(lay_name) if lay_name else None
    names = ([short_name(n) for n in lay.joints] if lay is not None and lay.num_joints == v
             else [str(i) for i in range(v)])
    panels = []
    for block, m in selected:
        for j in range(k):
            head = labels[j] if len(selected) == 1 else f"{_pretty(block)}\n{labels[j]}"
            panels.append((head, m[j]))
    cols = 3 if k % 3 == 0 or k > 4 else k
    if len(selected) > 1:
        cols = k
    sub = selected[0][0] if len(selected) == 1 else None
    heading = title or "Learned edge importance M (S-links)"
    if sub:
        heading += f" \u2014 {sub}"
    return _heatmaps(panels, names, path, heading, cbar_label="M (1 = as initialised)", cols=cols,
                     center=1.0, dpi=dpi)


def _pretty(name: str) -> str:
    name = re.sub(r"^(model\.|backbone\.)", "", name)
    return name.replace("_", " ")
