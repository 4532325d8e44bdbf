"""Rendering the reproduction's Markdown pages from their Jinja2 templates (``templates/``).

The numbers come from the caller's context; the prose lives in the template files. A context key
a template needs and the caller lacks is an error (``StrictUndefined``), never an empty string.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jinja2

__all__ = ["render"]


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("skelact.repro", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML  # noqa: S701
    )
    env.filters["code"] = lambda s: f"`{s}`"
    return env


def render(template: str, context: dict[str, Any]) -> str:
    """``template`` (a file name in ``templates/``) rendered with ``context``: one blank line
    between blocks, one newline at the end."""
    text = _environment().get_template(template).render(context)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"
