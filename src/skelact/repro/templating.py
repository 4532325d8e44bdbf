"""The reproduction's package files: its Markdown pages rendered from their Jinja2 templates
(``templates/``; :mod:`skelact.tune` renders its page with the same filters), and its data
(:func:`load_data`: the ``*.yaml`` files beside the modules).

The numbers come from the caller's context; the prose lives in the template files. A context key
a template needs and the caller lacks is an error (``StrictUndefined``), never an empty string.
The templates format numbers with the filters below (``num``, ``signed``, ``mean_cell``,
``duration``, ``code``, ``transform_name``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

__all__ = ["duration", "fmt", "load_data", "mean_cell", "render", "signed_points"]


def signed_points(x: float) -> str:
    """A difference in points, one decimal with its sign; one that rounds to zero reads +0.0, never
    -0.0 (two accuracies equal up to a rounding residue, e.g. 83.02 against 83.0189)."""
    text = f"{x:+.1f}"
    return "+0.0" if text == "-0.0" else text


def fmt(x: float | None, nd: int = 1) -> str:
    """A number with ``nd`` decimals; "–" for a missing one."""
    return "–" if x is None else f"{x:.{nd}f}"


def mean_cell(e: Mapping[str, Any]) -> str:
    """``mean ± std (n=seeds)`` of a report entry; the spread only over several complete seeds, and
    "partial" while no seed has every unit."""
    if e["mean"] is None:
        return "–"
    if not e["seeds"]:  # no seed has every unit: the mean is over the units finished so far
        return f"{e['mean']:.1f} (partial: {len(e['folds'])} of {e.get('units_planned', '?')} units)"
    n = len(e["seeds"])
    if n < 2:  # no spread over seeds to show
        return f"{e['mean']:.1f} (n={n})"
    return f"{e['mean']:.1f} ± {e['std']:.1f} (n={n})"


def duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@cache
def _environment(package: str = "skelact.repro") -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML  # noqa: S701
    )
    env.filters.update(
        code=lambda s: f"`{s}`", num=fmt, signed=signed_points, mean_cell=mean_cell, duration=duration,
        transform_name=lambda s: s["name"] if isinstance(s, dict) else str(s),
    )  # fmt: skip
    return env


def render(template: str, context: dict[str, Any], package: str = "skelact.repro") -> str:
    """``template`` (a file name in ``package``'s ``templates/``) rendered with ``context``: one
    blank line between blocks, one newline at the end."""
    text = _environment(package).get_template(template).render(context)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def load_data(name: str) -> Any:
    """The YAML data file ``name`` of :mod:`skelact.repro` (e.g. ``paper.yaml``), parsed."""
    return yaml.safe_load(Path(__file__).with_name(name).read_text(encoding="utf-8"))
