"""Choosing the small-data training recipe by cross-validation over training subjects only.

The recipe (learning-rate schedule, weight averaging, dropout, readout, epochs, augmentation
strength, weight decay, label smoothing, gradient clipping) is
chosen once, before any unit is trained, one factor at a time (coordinate ascent): each
:class:`Stage` tries its candidate settings on top of the settings chosen so far and keeps the one
with the best cross-validated accuracy (ties keep the earlier candidate, the incumbent). Every
candidate is scored the same way:

* MSRAction3D, each subset AS1-AS3, the two-stream ARRN-LSTM of the preset with the settings;
* the subset's *training* subjects (1, 3, 5, 7, 9) are dealt into ``k`` folds
  (:func:`skelact.data.protocols.subject_folds`); for each fold a model trains on the other folds'
  subjects for the recipe's epochs and scores the held-out training subjects; the test subjects
  are never loaded (checked by :func:`~skelact.evaluation.assert_disjoint`);
* the model read is the **last epoch's** (with weight averaging: the averaged weights), never a
  chosen epoch: the point of the recipe is that its last epoch is as good as its best. The best
  epoch and the mean of the last epochs are recorded beside it to show that;
* criterion: the two-stream score fused with ``alpha = 0.5`` (eq. 12), out-of-fold accuracy,
  mean over the three subsets, among the *stable* candidates: those whose last epoch is within
  :data:`STABLE_MARGIN` points of their best epoch (a constant learning rate, whose last epoch may
  land anywhere in a 10-point swing, is not a recipe whose last epoch can be read).

After the last stage the fusion weight alpha is chosen on the pooled out-of-fold scores of the
winning recipe (the paper picks it "based on validation set"). :func:`choose_recipe` writes a JSON
file and a Markdown table; ``scripts/choose_recipe.py`` is its command line. Each training is
cached under the work directory, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ..data import protocols
from ..data.store import SkeletonStore
from ..evaluation.fusion import ALPHA_GRID, fused_probabilities, softmax
from ..evaluation.selection import assert_disjoint
from ..repro.cache import save_npz
from ..repro.targets import get_target, trainings_for
from ..repro.templating import render
from ..repro.unit_config import Context, build_config
from ..train.config import load_config
from ..train.fit import fit_and_score

__all__ = ["Candidate", "Stage", "STAGES", "choose_recipe", "evaluate_scores", "recipe_markdown"]

#: The MSRAction3D subsets the recipe is cross-validated on, and their presets.
UNITS = ("as1", "as2", "as3")
TRAINING = "arrn_lstm/msr3d_{unit}_two_stream_arrn"
CRITERION = "out-of-fold top-1 of the two-stream score fused with alpha 0.5, last epoch, mean of AS1-AS3"
#: A candidate is eligible only when its last epoch is within this many points of its best epoch
#: (the criterion's two-stream score, mean of the subsets): the recipe's final model must be as good
#: as its best epoch, or reading the last epoch reads a random phase of a swing. One held-out
#: sequence is worth 0.8-0.9 points of a subset here, and the best of ~30 recorded epochs of a
#: stable curve still lies a few sequences above its end, so the margin is 3 points (a constant
#: learning rate's last epoch lies 9 points under its best). It was 1 point when the sweep began,
#: which also ruled out the 150-epoch candidate (1.4 points); see reports/recipe.md.
STABLE_MARGIN = 3.0
#: How many final epochs are averaged to show that the last epoch is not a lucky one.
TAIL = 20


@dataclass(frozen=True)
class Candidate:
    """One setting of a factor: config overrides and the augmentation policy."""

    name: str
    overrides: tuple[str, ...] = ()
    augment: str | None = None  # None: keep the current policy


@dataclass(frozen=True)
class Stage:
    """One factor and its candidates; the first candidate is the incumbent."""

    factor: str
    candidates: tuple[Candidate, ...]


#: The sweep's data (``recipe.yaml`` beside this module): the preset it starts from (:data:`BASE`),
#: the factors it leaves alone (:data:`NOT_COMPARED`) and the stages in the order they are decided
#: (:data:`STAGES`; the first stage compares the old preset with a cosine schedule plus an EMA of the
#: weights, the last four are the regularisers). The file explains each.
_SWEEP = yaml.safe_load(Path(__file__).with_name("recipe.yaml").read_text(encoding="utf-8"))
BASE: tuple[str, ...] = tuple(_SWEEP["base"])
NOT_COMPARED: tuple[str, ...] = tuple(_SWEEP["not_compared"])
STAGES: tuple[Stage, ...] = tuple(
    Stage(s["factor"], tuple(Candidate(c["name"], tuple(c.get("overrides", ())), c.get("augment"))
                             for c in s["candidates"]))
    for s in _SWEEP["stages"]
)  # fmt: skip


@dataclass
class Settings:
    """The settings chosen so far (overrides keyed by their dotted key, and the augmentation)."""

    overrides: dict[str, str] = field(default_factory=dict)
    augment: str = "standard"

    def with_candidate(self, c: Candidate) -> Settings:
        over = dict(self.overrides)
        over.update(o.partition("=")[::2] for o in c.overrides)
        return Settings(over, c.augment or self.augment)

    def override_list(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.overrides.items()]

    def to_dict(self) -> dict[str, Any]:
        return {"overrides": self.override_list(), "augment": self.augment}

    def key(self) -> str:
        """The same key for the same settings, whatever order they were set in."""
        data = {"overrides": sorted(self.override_list()), "augment": self.augment}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def evaluate_scores(
    scores: dict[str, np.ndarray], labels: np.ndarray, epochs: np.ndarray, alpha: float = 0.5
) -> dict[str, Any]:
    """Accuracies of one set of out-of-fold scores ``{head: (E, N, K)}`` recorded at ``epochs``:
    the last epoch's (``joint``, ``line``, ``fused`` at ``alpha``), the best epoch's and the mean
    over the last :data:`TAIL` recorded epochs, in percent."""
    def acc(e: int, head: str) -> float:
        if head == "fused":
            probs = fused_probabilities(scores["joint"][e], scores["line"][e], alpha)
        else:
            probs = softmax(scores[head][e])
        return float(100.0 * (probs.argmax(-1) == labels).mean())

    out: dict[str, Any] = {}
    for head in ("joint", "line", "fused"):
        curve = [acc(e, head) for e in range(len(epochs))]
        tail = [c for c, ep in zip(curve, epochs, strict=True) if ep > epochs[-1] - TAIL]
        out[head] = {"last": curve[-1], "best": max(curve), "tail_mean": float(np.mean(tail))}
    return out


def _job(args: tuple[Any, ...]) -> str:
    """One cross-validation training in a worker process: train, score every 10th epoch and each
    of the last :data:`TAIL`, save ``.npz``."""
    store, unit_key, settings, fold_train, fold_val, out, threads = args
    torch.set_num_threads(threads)
    target = get_target("msr3d")
    ctx = Context(target=target, store_path=Path(store), work_dir=Path(out).parent, augment=settings.augment)
    training = trainings_for(target, ["arrn"])[0]
    unit = next(u for u in target.units if u.key == unit_key)
    _, preset, overrides = build_config(ctx, training, unit, 0)
    cfg = load_config(preset, [*overrides, *settings.override_list()])
    epochs = int(cfg.train.epochs)
    scored = sorted({*range(10, epochs + 1, 10), *range(max(1, epochs - TAIL + 1), epochs + 1)})
    rec = fit_and_score(cfg, np.asarray(fold_train), np.asarray(fold_val), epochs=epochs, score_epochs=scored)
    save_npz(Path(out), {"labels": rec.labels, "epochs": rec.epochs, "wall": np.array(rec.wall_time_s),
                         **{f"scores_{k}": v.astype(np.float32) for k, v in rec.scores.items()}})  # fmt: skip
    return str(out)


def _pooled(paths: Sequence[Path]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, float]:
    """Concatenate the held-out scores of a unit's folds: ``(scores, labels, epochs, wall s)``."""
    scores: dict[str, list[np.ndarray]] = {}
    labels, wall, epochs = [], 0.0, None
    for p in paths:
        with np.load(p) as z:
            labels.append(z["labels"])
            wall += float(z["wall"])
            epochs = z["epochs"]
            for k in z.files:
                if k.startswith("scores_"):
                    scores.setdefault(k[len("scores_") :], []).append(z[k])
    assert epochs is not None
    return {k: np.concatenate(v, axis=1) for k, v in scores.items()}, np.concatenate(labels), epochs, wall


def choose_recipe(
    store: str | os.PathLike,
    work_dir: str | os.PathLike,
    *,
    folds: int = 2,
    jobs: int = 2,
    threads: int = 1,
    stages: Sequence[Stage] = STAGES,
    base: Sequence[str] = BASE,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
) -> dict[str, Any]:
    """Run the stages on the MSRAction3D store ``store`` and return the result (see the module
    docstring); trainings are cached in ``work_dir``."""
    st = SkeletonStore(store)
    subjects = np.asarray(st.index["subject"])
    splits = {}
    for unit in UNITS:
        split = protocols.split(st, f"msr3d-{unit}")
        cv = protocols.subject_folds(st, np.asarray(split["train"]), folds, seed=0)
        held_out = [f["train"] for f in cv] + [f["val"] for f in cv]
        assert_disjoint(held_out, np.asarray(split["test"]), subjects)
        splits[unit] = cv
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    evaluated: dict[str, dict[str, Any]] = {}

    def paths(s: Settings) -> dict[str, list[Path]]:
        return {u: [work / s.key() / f"{u}_cv{j + 1}.npz" for j in range(folds)] for u in UNITS}

    def run(candidates: list[Settings]) -> None:
        todo = []
        for s in candidates:
            for unit, ps in paths(s).items():
                for fold, p in zip(splits[unit], ps, strict=True):
                    if not p.is_file():
                        p.parent.mkdir(parents=True, exist_ok=True)
                        (p.parent / "settings.json").write_text(json.dumps(s.to_dict(), indent=1))
                        item = (fold["train"].tolist(), fold["val"].tolist(), str(p), threads)
                        todo.append((str(store), unit, s, *item))
        if not todo:
            return
        log(f"  {len(todo)} cross-validation training(s), {jobs} at a time ...")
        started = time.time()
        with contextlib.ExitStack() as stack:
            if jobs == 1:  # in this process
                done = map(_job, todo)
            else:
                pool = stack.enter_context(ProcessPoolExecutor(jobs, mp_context=get_context("spawn")))
                done = pool.map(_job, todo)
            for n, path in enumerate(done, 1):
                log(f"  [{n}/{len(todo)}] {path} ({time.time() - started:.0f} s)")

    def score(s: Settings) -> dict[str, Any]:
        if s.key() not in evaluated:
            per_unit, wall = {}, 0.0
            for unit, ps in paths(s).items():
                scores, labels, epochs, w = _pooled(ps)
                per_unit[unit] = evaluate_scores(scores, labels, epochs)
                wall += w
            mean = {h: {m: float(np.mean([per_unit[u][h][m] for u in UNITS])) for m in per_unit[UNITS[0]][h]}
                    for h in ("joint", "line", "fused")}  # fmt: skip
            evaluated[s.key()] = {
                "settings": s.to_dict(), "per_unit": per_unit, "mean": mean,
                "criterion": mean["fused"]["last"], "train_wall_s": round(wall, 1),
            }  # fmt: skip
        return evaluated[s.key()]

    current = Settings().with_candidate(Candidate("base", base))
    stage_results = []
    for stage in stages:
        log(f"stage: {stage.factor}")
        options = [current.with_candidate(c) for c in stage.candidates]
        run(options)
        rows = [{"candidate": c.name, **score(s)} for c, s in zip(stage.candidates, options, strict=True)]
        for row in rows:
            row["stable"] = bool(row["mean"]["fused"]["best"] - row["mean"]["fused"]["last"] <= STABLE_MARGIN)
        eligible = [i for i, row in enumerate(rows) if row["stable"]] or list(range(len(rows)))
        best = max(eligible, key=lambda i: (rows[i]["criterion"], -i))
        current = options[best]
        stage_results.append({"factor": stage.factor, "chosen": rows[best]["candidate"], "rows": rows})
        log(f"  chosen: {rows[best]['candidate']} (CV two-stream {rows[best]['criterion']:.1f})")

    # the fusion weight, on the winner's pooled out-of-fold scores of all subsets (last epoch)
    correct, total = np.zeros(len(ALPHA_GRID)), 0
    for ps in paths(current).values():
        scores, labels, _, _ = _pooled(ps)
        for i, a in enumerate(ALPHA_GRID):
            fused = fused_probabilities(scores["joint"][-1], scores["line"][-1], a)
            correct[i] += (fused.argmax(-1) == labels).sum()
        total += len(labels)
    # the most sequences right; ties: the alpha closest to 0.5, then the larger
    best_alpha = min(
        range(len(ALPHA_GRID)), key=lambda i: (-correct[i], abs(ALPHA_GRID[i] - 0.5), -ALPHA_GRID[i])
    )
    return {
        "cv": {
            "dataset": "msr3d", "units": list(UNITS), "folds": folds, "fold_seed": 0,
            "model": TRAINING.format(unit="{as1,as2,as3}"), "criterion": CRITERION,
            "stable_margin": STABLE_MARGIN,
        },
        "base": list(base),
        "stages": stage_results,
        # every distinct training once (a stage's incumbent is the previous stage's winner)
        "trainings": len(evaluated) * len(UNITS) * folds,
        "train_time_s": round(sum(r["train_wall_s"] for r in evaluated.values()), 1),
        "chosen": current.to_dict(),
        "alpha": {"value": float(ALPHA_GRID[best_alpha]), "grid": ALPHA_GRID.tolist(),
                  "oof_top1": [float(100.0 * c / total) for c in correct]},
    }  # fmt: skip


def recipe_markdown(result: dict[str, Any]) -> str:
    """The recipe choice as a Markdown page (``templates/recipe.md.j2``): one table per factor, then
    the chosen settings."""
    cv = result["cv"]
    return render("recipe.md.j2", package="skelact.tune", context={
        "command": result.get("command", "scripts/choose_recipe.py"), "trainings": result["trainings"],
        "train_time_s": result["train_time_s"], "machine": result.get("machine"), "units": cv["units"],
        "cv": cv, "margin": cv.get("stable_margin", STABLE_MARGIN), "tail": TAIL, "stages": result["stages"],
        "not_compared": NOT_COMPARED, "chosen": result["chosen"], "alpha": result["alpha"],
    })  # fmt: skip
