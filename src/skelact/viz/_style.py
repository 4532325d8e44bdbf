"""Shared look of every skelact figure: palette, rc settings, figure creation and saving.

Figures are built on :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state), drawn with
the Agg canvas, so they are safe in scripts, servers and tests, and are garbage-collected like any
object. Colours come from the Okabe-Ito palette (safe for the common forms of colour blindness);
heatmaps use perceptually uniform maps (``cividis``/``viridis``) or the colour-blind-safe
diverging ``PuOr``.
"""

from __future__ import annotations

import functools
import os
import pathlib
import textwrap
from collections.abc import Callable
from typing import Any, TypeVar

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}

#: Per-body colours: (left side, right side, centre line). Body 1 uses the classic blue/vermillion
#: pair; further bodies keep "left = cool, right = warm" but change hue so bodies stay apart.
BODY_COLORS: tuple[tuple[str, str, str], ...] = (
    (OKABE_ITO["blue"], OKABE_ITO["vermillion"], "#3a3a3a"),
    (OKABE_ITO["green"], OKABE_ITO["purple"], "#8c6d31"),
    (OKABE_ITO["sky_blue"], OKABE_ITO["orange"], "#8a8a8a"),
)

#: Colour cycle for line plots (curves, bars).
CYCLE = (
    OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["green"], OKABE_ITO["purple"],
    OKABE_ITO["orange"], OKABE_ITO["sky_blue"], OKABE_ITO["black"], OKABE_ITO["yellow"],
)

#: Highlight colour for inferred links (the paper's Fig. 8 draws A-links in orange).
LINK_COLOR = OKABE_ITO["orange"]

RC: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.titlesize": 11,
    "figure.titleweight": "bold",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "image.cmap": "cividis",
    "axes.prop_cycle": mpl.cycler(color=list(CYCLE)),
    "svg.fonttype": "none",  # keep text as text in SVG
}

DEFAULT_DPI = 100

F = TypeVar("F", bound=Callable[..., Any])


def styled(func: F) -> F:
    """Run ``func`` under the skelact rc settings (creation and saving both happen inside)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(RC):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def new_figure(width: float, height: float, dpi: int = DEFAULT_DPI) -> Figure:
    """A pyplot-free figure with an Agg canvas and constrained layout.

    The size is rounded to whole pixels, so a saved PNG is exactly ``figsize * dpi``.
    """
    width, height = max(round(width * dpi), 1) / dpi, max(round(height * dpi), 1) / dpi
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: str | os.PathLike | None, dpi: int | None = None) -> Figure:
    """Save ``fig`` to ``path`` when given (format from the extension; parent folders created).

    The image size is exactly ``figsize * dpi`` (no tight bounding box: constrained layout keeps
    everything inside), so callers can rely on it.
    """
    if path is None:
        return fig
    path = pathlib.Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in {"png", "svg", "pdf", "jpg", "jpeg"}:
        raise ValueError(f"cannot save a figure as {path.name!r}: use .png, .svg or .pdf")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi or fig.dpi, format=fmt)
    return fig


def short_name(name: str) -> str:
    """Joint or class name for display: underscores to spaces."""
    return str(name).replace("_", " ")


def wrap_label(text: str, width: int = 22) -> str:
    """Shorten a long class name for tick labels (keeps the start, ends with an ellipsis)."""
    text = str(text)
    return text if len(text) <= width else text[: width - 1].rstrip() + "\u2026"


def fit_title(title: str, width_in: float, fontsize: float = 11.0) -> tuple[str, int]:
    """Wrap a (bold) title to ``width_in`` inches: parts joined by an em dash go on separate lines
    first, then long parts are wrapped. Returns ``(text, number of lines)``."""
    cap = max(int(width_in * 72 / (0.66 * fontsize)), 10)  # bold glyphs are about 0.66 em wide
    if len(title) <= cap:
        return title, 1
    lines: list[str] = []
    for part in title.split(" \u2014 "):
        lines += textwrap.wrap(part, cap) or [""]
    return "\n".join(lines), len(lines)


def suptitle(fig: Figure, title: str, fontsize: float | None = None, **kw) -> None:
    """``fig.suptitle`` wrapped to the figure width."""
    size = fontsize or mpl.rcParams["figure.titlesize"]
    size = float(size) if not isinstance(size, str) else 11.0
    text, _ = fit_title(title, fig.get_figwidth(), size)
    fig.suptitle(text, fontsize=fontsize, **kw)
