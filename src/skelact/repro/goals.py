"""The project's own goals for the small-data reproduction, shown beside the paper's numbers.

Not published numbers (those are :mod:`skelact.repro.paper`): what the reproduction is meant to
reach on the data we have, set before the runs. They live in ``goals.yaml`` beside this module,
with the reason for each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .templating import load_data

__all__ = ["GOALS", "Goal", "goal_for"]


@dataclass(frozen=True)
class Goal:
    """At least ``mean`` top-1 % (``strict``: more than), and at most ``max_std`` over seeds."""

    mean: float
    max_std: float | None = None
    strict: bool = False

    @property
    def text(self) -> str:
        text = f"{'>' if self.strict else '≥'} {self.mean:.1f}"
        return text + (f", std ≤ {self.max_std:.1f}" if self.max_std is not None else "")

    def met(self, entry: Mapping[str, Any]) -> bool:
        mean = float(entry["mean"])
        ok = mean > self.mean if self.strict else mean >= self.mean
        std = entry.get("std")
        if self.max_std is not None and (std is None or float(std) > self.max_std):
            ok = False
        return ok


#: ``(target, row key) -> Goal``, from ``goals.yaml`` beside this module.
GOALS: dict[tuple[str, str], Goal] = {
    (target, row): Goal(**goal)
    for target, rows in load_data("goals.yaml").items()
    for row, goal in rows.items()
}


def goal_for(target: str, row: str) -> Goal | None:
    """The goal of ``row`` on ``target``, or None where there is none."""
    return GOALS.get((target, row))
