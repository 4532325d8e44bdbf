"""The project's own goals for the small-data reproduction, shown beside the paper's numbers.

Not published numbers (those are :mod:`skelact.repro.paper`): what the reproduction is meant to
reach on the data we have, set before the runs. MSRAction3D's two-stream goal is 5 points under the
paper's 95.0 with a seed spread of at most 2 points; the single-stream goal of 86.1 is the best
single stream an untuned implementation of the same architecture reached with one seed (epoch
chosen on a held-out training subject). Florence3D runs on the 8-joint features file, not the
paper's 15-joint file, so its goals are our own marks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


#: ``(target, row key) -> Goal``.
GOALS: dict[tuple[str, str], Goal] = {
    ("msr3d", "arrn_two_stream"): Goal(90.0, max_std=2.0),
    ("msr3d", "arrn_joint"): Goal(86.1),
    ("msr3d", "arrn_line"): Goal(86.1),
    ("florence3d", "arrn_two_stream"): Goal(85.0),
    ("florence3d", "asgcn"): Goal(82.6, strict=True),
}


def goal_for(target: str, row: str) -> Goal | None:
    """The goal of ``row`` on ``target``, or None where there is none."""
    return GOALS.get((target, row))
