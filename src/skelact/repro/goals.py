"""The project's own goals for the small-data reproduction, shown beside the paper's numbers, and
what the recipe's cross-validation says about a goal that is not met.

Not published numbers (those are :mod:`skelact.repro.paper`): what the reproduction is meant to
reach on the data we have, set before the runs. They live in ``goals.yaml`` beside this module,
with the reason for each. :func:`cv_evidence` reads the recipe sweep's result (``recipe.json``,
:mod:`skelact.tune.recipe`) for the report's account of an unmet goal; :func:`fold_evidence` reads
a leave-one-subject-out target's own folds (each a model trained on the other subjects) for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .templating import load_data

__all__ = ["GOALS", "Goal", "cv_evidence", "fold_evidence", "goal_for"]


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

    def reaches(self, accuracy: float) -> bool:
        """Whether ``accuracy`` is at least (``strict``: more than) the goal's mean."""
        return accuracy > self.mean if self.strict else accuracy >= self.mean

    def met(self, entry: Mapping[str, Any]) -> bool:
        ok = self.reaches(float(entry["mean"]))
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


def cv_evidence(result: dict[str, Any]) -> dict[str, Any]:
    """What the recipe's cross-validation (a :func:`skelact.tune.recipe.choose_recipe` result) says
    about its limits.

    ``start`` and ``final``: the CV two-stream accuracy of the old preset and of the chosen recipe;
    ``factors``: per stage, the chosen candidate and its gain over the incumbent (``for_stability``:
    the incumbent's last epoch was not stable, see ``skelact.tune.recipe.STABLE_MARGIN``), and the best other
    candidate's difference; ``per_unit``: the chosen recipe's last-epoch CV accuracy per
    subset and head (joint, line, fused); ``mean``: the same, mean of the subsets; ``weakest``: the
    subset with the lowest fused accuracy and ``weakest_gap`` how far it lies under the mean of the
    others; ``fusion_gain``: fused minus the better stream (means); ``folds``: how many folds the
    training subjects were dealt into (each CV model trains on the others).
    """
    stages = result["stages"]
    factors = []
    for st in stages:
        rows = st["rows"]
        chosen = next(r for r in rows if r["candidate"] == st["chosen"])
        # the other candidates, the incumbent last (a tie names the challenger)
        others = [r for r in rows[1:] + rows[:1] if r is not chosen]
        best_other = max(others, key=lambda r: r["criterion"]) if others else None
        factors.append({
            "factor": st["factor"], "chosen": st["chosen"],
            "gain": chosen["criterion"] - rows[0]["criterion"],
            "for_stability": not rows[0]["stable"] and chosen is not rows[0],
            "other": None if best_other is None else best_other["candidate"],
            "other_difference": None if best_other is None else best_other["criterion"] - chosen["criterion"],
        })  # fmt: skip
    final = next(r for r in stages[-1]["rows"] if r["candidate"] == stages[-1]["chosen"])
    heads = ("joint", "line", "fused")
    per_unit = {u: {h: v[h]["last"] for h in heads} for u, v in final["per_unit"].items()}
    mean = {h: final["mean"][h]["last"] for h in heads}
    weakest = min(per_unit, key=lambda u: per_unit[u]["fused"])
    rest = [v["fused"] for u, v in per_unit.items() if u != weakest]
    gap = float(np.mean(rest)) - per_unit[weakest]["fused"] if rest else 0.0
    return {
        "start": stages[0]["rows"][0]["criterion"], "final": final["criterion"], "factors": factors,
        "per_unit": per_unit, "mean": mean, "folds": result["cv"]["folds"],
        "weakest": weakest, "weakest_gap": gap,
        "fusion_gain": mean["fused"] - max(mean["joint"], mean["line"]),
    }  # fmt: skip


def fold_evidence(
    entry: Mapping[str, Any], entries: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]],
    goal: Goal, top: int = 3,
) -> dict[str, Any]:
    """Where a leave-one-subject-out row ``entry`` (a :mod:`skelact.repro.entries` entry) falls short of
    ``goal``, read off its own folds: every fold is a model trained on the other subjects and tested
    on one, so the folds are a cross-validation over subjects. Read for diagnosis only: nothing is
    chosen on them.

    ``weakest``: the fold with the lowest accuracy (mean over the entry's seeds) and ``weakest_value``
    it; ``others``: the mean of the other folds (the row's mean with the weakest left out) and
    ``others_reach`` whether that reaches the goal; ``at_goal``: how many folds reach the goal, of
    ``folds``; ``streams``: for a two-stream row, the mean of each row trained in the same run (same
    architecture and mask) by stream, and ``fusion_gain`` the fused mean minus the better single
    stream; ``confusions``: the weakest fold's ``top`` most frequent errors of this row pooled over
    the entry's seeds, as ``(true class, predicted class, count, sequences of the true class)``.
    """
    folds = {u: float(v) for u, v in entry["folds"].items() if v is not None}
    weakest = min(folds, key=folds.__getitem__)
    others = [v for u, v in folds.items() if u != weakest]
    others_mean = float(np.mean(others)) if others else None
    streams = {
        str(o["stream"]): float(o["mean"]) for o in entries
        if o["target"] == entry["target"] and o.get("architecture") == entry.get("architecture")
        and o.get("attention") == entry.get("attention") and o.get("mean") is not None
    } if entry.get("stream") == "two_stream" else {}  # fmt: skip
    singles = [v for k, v in streams.items() if k != "two_stream"]
    seeds = set(entry["seeds"]) or {int(s) for s in entry["per_seed"]}
    row = entry["row"]
    mine = [r for r in results if r.get("unit_name") == weakest and r["seed"] in seeds and row in r["rows"]]
    confusions: list[tuple[str, str, int, int]] = []
    if mine:
        cm = sum(np.asarray(r["rows"][row]["confusion_matrix"], dtype=np.int64) for r in mine)
        names = list(mine[0].get("class_names") or range(len(cm)))
        wrong = cm - np.diag(np.diag(cm))  # errors only: (true, predicted) off the diagonal
        found = [(int(wrong[i, j]), int(i), int(j)) for i, j in zip(*np.nonzero(wrong), strict=True)]
        errors = sorted(found, key=lambda e: (-e[0], e[1], e[2]))  # most frequent first, then (true, pred.)
        confusions = [(str(names[i]), str(names[j]), count, int(cm[i].sum())) for count, i, j in errors[:top]]
    return {
        "weakest": weakest, "weakest_value": folds[weakest],
        "others": others_mean,
        "others_reach": others_mean is not None and goal.reaches(others_mean),
        "at_goal": sum(map(goal.reaches, folds.values())), "folds": len(folds), "streams": streams,
        "fusion_gain": streams["two_stream"] - max(singles) if singles else None,
        "confusions": confusions,
    }  # fmt: skip
