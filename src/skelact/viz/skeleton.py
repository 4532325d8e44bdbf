"""Skeleton drawing: static frame strips and animations (GIF via Pillow, MP4 via ffmpeg).

Input: a :class:`~skelact.Skeleton`, or an array / tensor in any of skelact's layouts: a raw
sequence ``(T, M, V, C)``, a model sample ``(C, T, V, M)``, a one-sample batch ``(1, C, T, V, M)``,
a single-body sequence ``(T, V, C)`` or one pose ``(V, C)``. Joint facts (names, bones, left/right)
come from :mod:`skelact.data.layouts`; the layout is taken from the skeleton, from ``layout=`` or
guessed from the number of joints.

Conventions:

* 3D layouts are drawn in 3D with a fixed camera and axis limits fixed over the whole sequence,
  equal scale on all axes. The vertical axis is found from the data (the mean of the upper-body
  joints minus the mean of the lower-body joints): raw Kinect data is y-up, AS-GCN-normalised data
  z-up, screen coordinates y-down; all are drawn upright. The horizontal axis keeps the direction
  of the data's x, so a raw NTU sequence looks as in its colour video.
* 2D layouts (OpenPose) are drawn in image coordinates (y down). Joints with confidence 0 are
  hidden (files without any confidence hide the (0, 0) joints instead). Normalised coordinates
  (all within [-1, 2]) are scaled by the image size (``image_size=``, the skeleton's
  ``meta["image_size"]`` or Kinetics-skeleton's 340 x 256) so the aspect is true.
* Bodies that are all zeros in a frame are not drawn; frames without any body are skipped.
* Left limbs are cool colours, right limbs warm (from ``layout.symmetry``); each body has its own
  pair (see :data:`skelact.viz._style.BODY_COLORS`).
"""

from __future__ import annotations

import os
import pathlib
import shutil
from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.animation import FFMpegWriter
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from mpl_toolkits.mplot3d.art3d import Line3DCollection
from PIL import Image

from ..data.class_names import CLASS_NAMES
from ..data.layouts import LAYOUTS, Layout, get_layout
from ..data.skeleton import Skeleton
from ._style import BODY_COLORS, fit_title, new_figure, save, short_name, styled, suptitle

__all__ = ["animate_skeleton", "draw_skeleton", "plot_skeleton_frames", "to_sequence"]

DEFAULT_VIEW = (12.0, -72.0)
KINETICS_IMAGE_SIZE = (340, 256)

_UPPER = ("head", "neck", "shoulder", "nose", "eye", "ear", "elbow")
_LOWER = ("hip", "knee", "ankle", "foot")


# ----------------------------------------------------------------------------------------------
# input normalisation
# ----------------------------------------------------------------------------------------------
def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _guess_layout(num_joints: int) -> Layout:
    matches = [lay for lay in LAYOUTS.values() if lay.num_joints == num_joints]
    if len(matches) != 1:
        raise ValueError(f"cannot guess the layout of {num_joints} joints; pass layout=")
    return matches[0]


def to_sequence(obj: Any, layout: str | Layout | None = None) -> tuple[np.ndarray, Layout, dict]:
    """Normalise any accepted input to ``(data (T, M, V, C) float64, layout, meta)``.

    4-D arrays are ``(T, M, V, C)`` when the last axis has as many entries as the layout has
    channels (or dims) and ``(C, T, V, M)`` when the first does; when both fit, the reading with
    fewer bodies wins.
    """
    meta: dict = {}
    if isinstance(obj, Skeleton):
        meta = dict(obj.meta)
        layout = layout or obj.layout
        obj = obj.data
    arr = _to_numpy(obj)
    if arr.ndim == 5:
        if arr.shape[0] != 1:
            raise ValueError(f"expected one sample, got a batch of {arr.shape[0]}; index it first")
        arr = arr[0]
    if arr.ndim == 2:  # (V, C)
        arr = arr[None, None]
    elif arr.ndim == 3:  # (T, V, C)
        arr = arr[:, None]
    elif arr.ndim != 4:
        raise ValueError(f"cannot draw an array of shape {arr.shape}")
    if arr.ndim == 4 and layout is None:
        layout = _guess_layout(arr.shape[2])
    lay = get_layout(layout)
    if arr.shape[2] != lay.num_joints:
        raise ValueError(f"layout {lay.name!r} has {lay.num_joints} joints, data has {arr.shape[2]}")
    chans = {len(lay.channels), lay.dims}
    tmvc, ctvm = arr.shape[3] in chans, arr.shape[0] in chans
    if ctvm and (not tmvc or arr.shape[3] < arr.shape[1]):
        arr = arr.transpose(1, 3, 2, 0)
    elif not tmvc:
        raise ValueError(
            f"cannot tell the channel axis of shape {arr.shape} for layout {lay.name!r} "
            f"({len(lay.channels)} channels)"
        )
    if arr.shape[3] < lay.dims:
        raise ValueError(f"layout {lay.name!r} needs {lay.dims} coordinates, data has {arr.shape[3]}")
    return arr, lay, meta


def _body_side(layout: Layout) -> np.ndarray:
    """Per joint: 0 = left, 1 = right, 2 = centre."""
    side = np.full(layout.num_joints, 2, dtype=int)
    for left, right in layout.symmetry:
        side[left], side[right] = 0, 1
    return side


def _bone_side(layout: Layout, bones: Sequence[tuple[int, int]]) -> np.ndarray:
    js = _body_side(layout)
    out = []
    for a, b in bones:
        sa, sb = js[a], js[b]
        if sa == sb or sb == 2:
            out.append(sa)
        elif sa == 2:
            out.append(sb)
        else:  # a left-right link (virtual torso links): centre colour
            out.append(2)
    return np.asarray(out, dtype=int)


def _vertical(data: np.ndarray, layout: Layout, valid: np.ndarray) -> tuple[int, float]:
    """(axis, sign) of "up" in a 3D sequence, from upper-body minus lower-body joints."""
    names = layout.joints
    upper = [i for i, n in enumerate(names) if any(k in n for k in _UPPER)]
    lower = [i for i, n in enumerate(names) if any(k in n for k in _LOWER)]
    if not upper or not lower or not valid.any():
        return 1, 1.0
    frames = data[valid]  # (K, V, C)
    vec = frames[:, upper, :3].mean(axis=(0, 1)) - frames[:, lower, :3].mean(axis=(0, 1))
    axis = int(np.argmax(np.abs(vec)))
    if not np.isfinite(vec[axis]) or vec[axis] == 0:
        return 1, 1.0
    return axis, float(np.sign(vec[axis]))


class SkeletonView:
    """A sequence mapped to plot coordinates, with fixed limits, ready to draw frame by frame.

    ``mode``: ``"3d"`` (3D layouts), ``"image"`` (2D, y down) or ``"flat"`` (2D, y up: template
    poses). ``points`` is ``(T, M, V, D)`` in plot coordinates, ``visible`` ``(T, M, V)``.
    """

    def __init__(
        self,
        data: np.ndarray,
        layout: Layout,
        *,
        meta: dict | None = None,
        mode: str | None = None,
        image_size: tuple[float, float] | None = None,
        up: str | None = None,
        bones: Sequence[tuple[int, int]] | None = None,
    ):
        self.layout = layout
        self.meta = meta or {}
        self.bones = tuple(bones if bones is not None else layout.bones)
        self.joint_side = _body_side(layout)
        self.bone_side = _bone_side(layout, self.bones)
        mode = mode or ("3d" if layout.dims == 3 else "image")
        if mode not in {"3d", "image", "flat"}:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        data = np.asarray(data, dtype=np.float64)
        coords = data[..., : layout.dims if mode != "3d" else 3]
        body_valid = np.abs(data).sum(axis=-1).sum(axis=-1) > 0  # (T, M)
        if mode == "3d":
            self.visible = np.broadcast_to(body_valid[..., None], data.shape[:3]).copy()
            if up is None:
                axis, sign = _vertical(data, layout, body_valid)
            else:
                sign = -1.0 if up.startswith("-") else 1.0
                axis = "xyz".index(up.lstrip("+-"))
            others = [a for a in range(3) if a != axis]
            self.points = np.stack(
                [coords[..., others[0]], coords[..., others[1]], sign * coords[..., axis]], axis=-1
            )
            up_label = ("" if sign > 0 else "\u2212") + "xyz"[axis]
            self.axis_labels = ("xyz"[others[0]], "xyz"[others[1]], up_label)
        else:
            xy = coords[..., :2].copy()
            nonzero = np.abs(xy).sum(axis=-1) > 0
            if data.shape[-1] > 2 and layout.dims == 2:
                score = data[..., 2]
                vis = (score > 0) if (score > 0).any() else nonzero
            else:
                vis = nonzero if mode == "image" else np.ones(xy.shape[:-1], dtype=bool)
            self.visible = vis & body_valid[..., None]
            if mode == "image":
                if image_size is None:
                    image_size = self.meta.get("image_size")
                if image_size is None and self.meta.get("width") and self.meta.get("height"):
                    image_size = (self.meta["width"], self.meta["height"])
                pts = xy[self.visible]
                # normalised (maybe centred) coordinates; OpenPose overshoots [0, 1] a little
                normalised = pts.size > 0 and pts.min() >= -1.0 and pts.max() <= 2.0
                if image_size is None and normalised:
                    image_size = KINETICS_IMAGE_SIZE
                if image_size is not None and normalised:
                    xy = xy * np.asarray(image_size, dtype=np.float64)
            self.points = xy
            self.axis_labels = ("x", "y")
        self.dims = self.points.shape[-1]
        self.frame_valid = self.visible.any(axis=(1, 2))
        self.body_used = self.visible.any(axis=(0, 2))
        self._limits()

    # -- limits ------------------------------------------------------------------------------
    def _limits(self, pad: float = 0.06, min_frac: float = 0.35) -> None:
        pts = self.points[self.visible]
        if pts.size == 0:
            lo, hi = np.zeros(self.dims), np.ones(self.dims)
        else:
            lo, hi = pts.min(axis=0), pts.max(axis=0)
        span = hi - lo
        big = float(span.max()) if span.size and span.max() > 0 else 1.0
        # Each axis at least min_frac of the largest span (a flat depth axis is unreadable), equal
        # scale everywhere: limits grow, scale never changes between axes.
        span = np.maximum(span, min_frac * big) * (1 + 2 * pad)
        mid = (lo + hi) / 2
        self.lo, self.hi = mid - span / 2, mid + span / 2

    def panel_aspect(self, view: tuple[float, float] = DEFAULT_VIEW) -> float:
        """Height / width of a panel that fits the drawing, within [0.6, 1.7]."""
        if self.mode == "3d":
            return 1.0  # matplotlib keeps 3D axes square; the box is fitted inside
        span = self.hi - self.lo
        return float(np.clip(span[1] / max(span[0], 1e-9), 0.6, 1.7))

    @property
    def valid_frames(self) -> np.ndarray:
        return np.flatnonzero(self.frame_valid)

    def pick_frames(self, num: int) -> list[int]:
        """``num`` frames evenly spread over the frames that show a body."""
        valid = self.valid_frames
        if valid.size == 0:
            raise ValueError("nothing to draw: no body in any frame")
        idx = np.unique(np.round(np.linspace(0, valid.size - 1, min(num, valid.size))).astype(int))
        return [int(valid[i]) for i in idx]

    # -- axes --------------------------------------------------------------------------------
    def make_axes(self, fig: Figure, spec: Any = 111, view: tuple[float, float] = DEFAULT_VIEW,
                  ticks: bool = False, zoom: float = 1.0):
        spec = spec if isinstance(spec, tuple) else (spec,)
        if self.mode == "3d":
            ax = fig.add_subplot(*spec, projection="3d")
            ax.view_init(elev=view[0], azim=view[1])
            ax.set_proj_type("persp", focal_length=2.5)  # a mild perspective (about 44 degrees)
            ax.set_xlim(self.lo[0], self.hi[0])
            ax.set_ylim(self.lo[1], self.hi[1])
            ax.set_zlim(self.lo[2], self.hi[2])
            ax.set_box_aspect(tuple(self.hi - self.lo), zoom=zoom)
            for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
                axis.set_pane_color((0.97, 0.97, 0.97, 1.0))
                axis.pane.set_edgecolor("#d0d0d0")
                axis._axinfo["grid"].update(color="#e2e2e2", linewidth=0.5)
            if ticks:
                ax.set_xlabel(self.axis_labels[0], labelpad=-8)
                ax.set_ylabel(self.axis_labels[1], labelpad=-8)
                ax.set_zlabel(self.axis_labels[2], labelpad=-8)
                ax.tick_params(labelsize=6, pad=-3)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_zticks([])
        else:
            ax = fig.add_subplot(*spec)
            ax.set_xlim(self.lo[0], self.hi[0])
            if self.mode == "image":
                ax.set_ylim(self.hi[1], self.lo[1])  # y down
            else:
                ax.set_ylim(self.lo[1], self.hi[1])
            ax.set_aspect("equal", adjustable="box")
            if ticks and self.mode == "image":
                ax.tick_params(labelsize=6)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(True)
                s.set_color("#d0d0d0")
        return ax

    # -- drawing -----------------------------------------------------------------------------
    def draw(self, ax, t: int, **kw) -> _FrameArtists:
        artists = _FrameArtists(self, ax, **kw)
        artists.update(t)
        return artists


def _body_colors(body: int) -> tuple[str, str, str]:
    return BODY_COLORS[body % len(BODY_COLORS)]


class _FrameArtists:
    """The artists of one skeleton panel; ``update(t)`` moves them to frame ``t``."""

    def __init__(
        self,
        view: SkeletonView,
        ax,
        *,
        bodies: Sequence[int] | None = None,
        color: str | None = None,
        alpha: float = 1.0,
        linewidth: float = 2.2,
        joint_size: float = 3.0,
        labels: bool | str = False,
        label_fontsize: float = 6.0,
        zorder: float = 2.0,
    ):
        self.view, self.ax = view, ax
        m = view.points.shape[1]
        self.bodies = [b for b in (range(m) if bodies is None else bodies) if view.body_used[b]]
        self.color = color
        is3d = view.mode == "3d"
        self.lines, self.joints = {}, {}
        for b in self.bodies:
            coll_cls = Line3DCollection if is3d else LineCollection
            coll = coll_cls([], linewidths=linewidth, alpha=alpha, capstyle="round", zorder=zorder)
            if is3d:
                ax.add_collection3d(coll, autolim=False)
            else:
                ax.add_collection(coll, autolim=False)
            self.lines[b] = coll
            cols = _body_colors(b)
            marks = []
            for side in range(3):
                c = color or cols[side]
                if is3d:
                    (ln,) = ax.plot([], [], [], ls="none", marker="o", ms=joint_size, color=c,
                                    mec="white", mew=0.4, alpha=alpha, zorder=zorder + 0.1)
                else:
                    (ln,) = ax.plot([], [], ls="none", marker="o", ms=joint_size, color=c,
                                    mec="white", mew=0.4, alpha=alpha, zorder=zorder + 0.1)
                marks.append(ln)
            self.joints[b] = marks
        self.labels = labels
        self.texts: list = []
        if labels:
            names = (
                [str(i) for i in range(view.layout.num_joints)]
                if labels == "index"
                else [short_name(n) for n in view.layout.joints]
            )
            for name in names:
                kwargs = dict(fontsize=label_fontsize, color="#202020", ha="left", va="bottom",
                              zorder=zorder + 1, clip_on=True)
                txt = ax.text(0, 0, 0, name, **kwargs) if is3d else ax.text(0, 0, name, **kwargs)
                self.texts.append(txt)

    def update(self, t: int) -> None:
        view = self.view
        is3d = view.mode == "3d"
        label_body = None
        for b in self.bodies:
            pts, vis = view.points[t, b], view.visible[t, b]
            cols = _body_colors(b)
            segs, colors = [], []
            for (i, j), side in zip(view.bones, view.bone_side, strict=True):
                if vis[i] and vis[j]:
                    segs.append([pts[i], pts[j]])
                    colors.append(self.color or cols[side])
            coll = self.lines[b]
            coll.set_segments(segs)
            coll.set_color(colors)
            for side, ln in enumerate(self.joints[b]):
                sel = vis & (view.joint_side == side)
                p = pts[sel]
                if is3d:
                    ln.set_data_3d(p[:, 0], p[:, 1], p[:, 2])
                else:
                    ln.set_data(p[:, 0], p[:, 1])
            if label_body is None and vis.any():
                label_body = b
        for v, txt in enumerate(self.texts):
            show = label_body is not None and view.visible[t, label_body, v]
            txt.set_visible(bool(show))
            if show:
                p = view.points[t, label_body, v]
                if is3d:
                    txt.set_position_3d(tuple(p))
                else:
                    txt.set_position(tuple(p))

    def legend_handles(self) -> tuple[list, list[str]]:
        handles, names = [], []
        if self.color is not None:
            return handles, names
        if len(self.bodies) <= 1:
            cols = _body_colors(self.bodies[0] if self.bodies else 0)
            for side, name in ((0, "left"), (1, "right")):
                handles.append(Line2D([], [], color=cols[side], lw=2.2))
                names.append(name)
        else:
            for b in self.bodies:
                cols = _body_colors(b)
                handles.append((Line2D([], [], color=cols[0], lw=2.2), Line2D([], [], color=cols[1], lw=2.2)))
                names.append(f"body {b + 1} (L, R)")
        return handles, names


def draw_skeleton(ax, pose: Any, layout: str | Layout | None = None, *, view: SkeletonView | None = None,
                  frame: int = 0, **style) -> _FrameArtists:
    """Draw frame ``frame`` of ``pose`` (any accepted input) on an existing matplotlib axes.

    The axes must match the layout (3D axes for 3D layouts). Returns the artists; ``update(t)``
    moves them to another frame. Style keywords: ``color`` (one colour for all bones), ``alpha``,
    ``linewidth``, ``joint_size``, ``labels`` (False, True/"names" or "index"), ``bodies``.
    """
    if view is None:
        data, lay, meta = to_sequence(pose, layout)
        view = SkeletonView(data, lay, meta=meta, mode="3d" if getattr(ax, "name", "") == "3d" else None)
    return view.draw(ax, frame, **style)


def _class_name(meta: dict) -> str | None:
    """The action name of a sample from its meta (``label_name``, or dataset + label)."""
    for key in ("label_name", "class_name", "action_name"):
        if meta.get(key):
            return str(meta[key])
    label, dataset = meta.get("label"), str(meta.get("dataset") or "").lower()
    if label is None or int(label) < 0 or not dataset:
        return None
    key = next((k for k in ("ntu120", "msr3d", "florence3d") if dataset.startswith(k[:3])), None)
    names = CLASS_NAMES.get(key or "", ())
    return names[int(label)] if int(label) < len(names) else None


def _title_from_meta(meta: dict) -> str | None:
    parts = []
    if meta.get("sample"):
        parts.append(pathlib.Path(str(meta["sample"])).stem if str(meta["sample"]).endswith(
            (".skeleton", ".json", ".txt")) else str(meta["sample"]))
    name = _class_name(meta)
    if name:
        parts.append(name)
    elif meta.get("label") is not None and meta.get("label", -1) != -1:
        parts.append(f"label {meta['label']}")
    return " \u2014 ".join(parts) or None


def _select_frames(view: SkeletonView, frames: Any) -> list[int]:
    num = view.points.shape[0]
    if frames is None:
        picked = view.valid_frames.tolist()
    elif isinstance(frames, slice):
        picked = [t for t in range(num)[frames] if view.frame_valid[t]]
    else:
        picked = []
        for t in frames:
            t = int(t)
            if not -num <= t < num:
                raise IndexError(f"frame {t} out of range (sequence has {num} frames)")
            if view.frame_valid[t % num]:
                picked.append(t % num)
    if not picked:
        raise ValueError("nothing to draw: no body in the selected frames")
    return picked


def _legend(fig_or_ax, artists: _FrameArtists, **kw) -> None:
    handles, names = artists.legend_handles()
    if handles:
        fig_or_ax.legend(handles, names, handler_map={tuple: HandlerTuple(ndivide=None, pad=0.3)},
                         handlelength=2.4 if len(artists.bodies) > 1 else 1.6, **kw)


@styled
def plot_skeleton_frames(
    skeleton: Any,
    layout: str | Layout | None = None,
    path: str | os.PathLike | None = None,
    *,
    frames: Sequence[int] | None = None,
    num_frames: int = 5,
    labels: bool | str = False,
    view: tuple[float, float] = DEFAULT_VIEW,
    title: str | None = None,
    panel_size: float = 2.2,
    image_size: tuple[float, float] | None = None,
    dpi: int = 100,
) -> Figure:
    """A static strip of a few frames of a sequence (PNG/SVG/PDF when ``path`` is given).

    Args:
        skeleton: a :class:`~skelact.Skeleton` or an array (see the module docstring).
        layout: layout name when it cannot be taken from ``skeleton``.
        path: where to save the figure; format from the extension.
        frames: frame indices to show; default ``num_frames`` frames spread evenly over the frames
            that show a body.
        labels: joint labels: False, True (names) or ``"index"``.
        view: ``(elevation, azimuth)`` of the 3D camera in degrees.
        title: figure title; default from the skeleton's meta (sample and label).
    Returns:
        The :class:`~matplotlib.figure.Figure`.
    """
    data, lay, meta = to_sequence(skeleton, layout)
    sv = SkeletonView(data, lay, meta=meta, image_size=image_size)
    picked = sv.pick_frames(num_frames) if frames is None else _select_frames(sv, frames)
    n = len(picked)
    height = panel_size * sv.panel_aspect(view) + 0.55
    fig = new_figure(panel_size * n, height, dpi=dpi)
    artists = None
    for k, t in enumerate(picked):
        ax = sv.make_axes(fig, (1, n, k + 1), view=view)
        artists = sv.draw(ax, t, labels=labels)
        ax.set_title(f"t = {t}", fontsize=8, fontweight="normal", pad=1)
    title = title if title is not None else _title_from_meta(meta)
    if title:
        suptitle(fig, title)
    if artists is not None:
        _legend(fig, artists, loc="outside lower center", ncols=4)
    return save(fig, path)


@styled
def animate_skeleton(
    skeleton: Any,
    layout: str | Layout | None = None,
    path: str | os.PathLike | None = None,
    *,
    fps: float = 15,
    labels: bool | str = False,
    view: tuple[float, float] = DEFAULT_VIEW,
    frames: Sequence[int] | slice | None = None,
    title: str | None = None,
    size: tuple[float, float] = (4.0, 4.2),
    dpi: int = 80,
    image_size: tuple[float, float] | None = None,
) -> pathlib.Path:
    """Animate a skeleton sequence to ``path`` (``.gif`` via Pillow, ``.mp4`` when ffmpeg exists).

    3D layouts use a fixed camera (``view`` = (elevation, azimuth) degrees) and fixed axis limits
    over the whole sequence; 2D layouts are drawn in image coordinates with low-confidence joints
    hidden. Frames without any body are skipped; ``frames`` picks a subset (indices or a slice).
    Returns ``path`` as a :class:`pathlib.Path`.
    """
    if path is None:
        raise TypeError("animate_skeleton() needs a path (.gif or .mp4)")
    path = pathlib.Path(path)
    ext = path.suffix.lower()
    if ext not in {".gif", ".mp4"}:
        raise ValueError(f"cannot write an animation as {path.name!r}: use .gif or .mp4")
    if ext == ".mp4" and not _ffmpeg_available():
        raise RuntimeError(
            "writing MP4 needs ffmpeg on PATH (or matplotlib's animation.ffmpeg_path); "
            "it was not found: save as .gif instead"
        )
    if fps <= 0:
        raise ValueError("fps must be positive")
    data, lay, meta = to_sequence(skeleton, layout)
    sv = SkeletonView(data, lay, meta=meta, image_size=image_size)
    picked = _select_frames(sv, frames)

    fig = new_figure(*size, dpi=dpi)
    ax = sv.make_axes(fig, 111, view=view)
    title = title if title is not None else _title_from_meta(meta)
    title, lines = fit_title(title, size[0], 9) if title else ("", 0)
    if sv.mode == "3d":
        title_h = max(lines, 1) * 9 * 1.35 / 72 / size[1]  # figure fraction the title takes
        ax.set_position([0.0, 0.05, 1.0, 0.975 - title_h - 0.05])
        fig.set_layout_engine("none")
    artists = sv.draw(ax, picked[0], labels=labels)
    if title:
        fig.suptitle(title, fontsize=9, y=0.985, va="top")
    counter = fig.text(0.02, 0.015, "", fontsize=7, color="#555555", ha="left", va="bottom")
    _legend(fig, artists, loc="lower right", bbox_to_anchor=(0.99, 0.0), fontsize=7, ncols=2)
    total = sv.points.shape[0]

    def frames_iter():
        for t in picked:
            artists.update(t)
            counter.set_text(f"frame {t + 1} / {total}")
            yield t

    path.parent.mkdir(parents=True, exist_ok=True)
    if ext == ".gif":
        _write_gif(fig, frames_iter(), path, fps)
    else:
        _write_mp4(fig, frames_iter(), path, fps, dpi)
    return path


def _ffmpeg_available() -> bool:
    exe = mpl.rcParams.get("animation.ffmpeg_path", "ffmpeg")
    return shutil.which(exe) is not None or shutil.which("ffmpeg") is not None


def _write_gif(fig: Figure, frames, path: pathlib.Path, fps: float) -> None:
    canvas = fig.canvas
    images = []
    for _ in frames:
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
        images.append(Image.fromarray(rgba[..., :3].copy()))
    # One palette for all frames (no flicker), built from a sample of frames so that colours that
    # appear late (a second body) are in it too; the figure has few colours.
    sample = images[:: max(1, len(images) // 8)][:8]
    mosaic = Image.new("RGB", (images[0].width, images[0].height * len(sample)))
    for k, im in enumerate(sample):
        mosaic.paste(im, (0, k * im.height))
    palette = mosaic.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    quantized = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    duration = max(int(round(1000.0 / fps)), 20)
    quantized[0].save(path, save_all=True, append_images=quantized[1:], duration=duration, loop=0,
                      optimize=False, disposal=1)


def _write_mp4(fig: Figure, frames, path: pathlib.Path, fps: float, dpi: int) -> None:
    writer = FFMpegWriter(fps=fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"])
    # yuv420p needs even sizes
    w, h = fig.get_size_inches() * dpi
    fig.set_size_inches((int(w) // 2 * 2) / dpi, (int(h) // 2 * 2) / dpi)
    with writer.saving(fig, str(path), dpi):
        for _ in frames:
            writer.grab_frame()
