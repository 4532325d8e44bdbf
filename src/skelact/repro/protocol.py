"""The reproduction protocol: per unit and seed, train once and test once.

Small datasets (``selection="cv"`` targets: MSRAction3D subsets, Florence3D folds): one model per
training (:mod:`skelact.repro.targets`), unit and seed trains on all the unit's training subjects
with the preset's recipe, and its last epoch tests the test subjects once. The recipe and the
fusion weight were chosen beforehand by cross-validation over training subjects
(:mod:`skelact.tune.recipe`), so nothing is chosen per unit. (The earlier protocol chose an epoch
per unit by cross-validation and retrained; its report and records are kept in
``reports/earlier/2026-12-02/``.) Large datasets (``selection="validation"``; NTU, Kinetics) run the
table presets as they are (:func:`skelact.train.runner.run_experiment`, the preset's validation
split choosing the checkpoint and alpha); two-stream checkpoints are scored once more per stream.

Each result is found again under a fingerprint of everything that determines it
(:mod:`skelact.repro.cache`), in the work directory (``<work>/<target>/<training>/<unit>/seed_<s>/``,
so an interrupted run continues) and in the unit records folder beside the report
(``Context.results_dir``, small enough to commit: a fresh clone rebuilds the report from it with
``--report-only``, and a run on another machine trains only the units it lacks).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import protocols
from ..errors import ConfigError
from ..evaluation import accuracy_summary, assert_disjoint, collect_scores, fused_probabilities
from ..train import fit as train_fit
from ..train.checkpoint import load_trained
from ..train.config import ExperimentConfig
from ..train.data import SkeletonDataModule
from ..train.runner import run_experiment
from . import cache
from .provenance import unit_provenance
from .targets import Training, Unit
from .unit_config import QUICK_TEST, QUICK_TRAIN, Context, build_config

__all__ = ["PROTOCOL", "evenly", "run_unit", "unit_split"]

#: The small-data protocol: train once on all training subjects, read the last epoch (with the
#: recipe's weight average), the fusion weight fixed by the preset (:mod:`skelact.tune.recipe`).
PROTOCOL = "last-epoch"


def evenly(idx: np.ndarray, k: int) -> np.ndarray:
    """At most ``k`` of the sorted positions ``idx``, evenly spaced (all of them if fewer)."""
    positions = np.asarray(idx)
    if len(positions) <= k:
        return positions
    out: np.ndarray = positions[np.unique(np.linspace(0, len(positions) - 1, k).round().astype(np.int64))]
    return out


def _digest(idx: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(idx, dtype=np.int64).tobytes()).hexdigest()[:16]


def unit_split(ctx: Context, unit: Unit) -> tuple[np.ndarray, np.ndarray]:
    """The unit's training and test positions (``--quick``, a smoke test: a few sequences of
    every subject)."""
    split = protocols.split(ctx.store, unit.protocol, unit.fold)
    train_idx, test_idx = np.asarray(split["train"]), np.asarray(split["test"])
    if ctx.quick:
        train_idx, test_idx = evenly(train_idx, QUICK_TRAIN), evenly(test_idx, QUICK_TEST)
    return train_idx, test_idx


def _rows(
    training: Training, scores: dict[str, np.ndarray], labels: np.ndarray, num_classes: int, epoch: int,
    alpha: float | None,
) -> dict[str, Any]:  # fmt: skip
    """Each table row of ``training``: its head's scores (the fused row: eq. 12 at ``alpha``)."""
    out = {}
    for row in training.rows:
        fused = row.head == "fused"
        probs = fused_probabilities(scores["joint"], scores["line"], alpha) if fused else scores[row.head]
        out[row.key] = {
            **accuracy_summary(probs, labels, num_classes),
            "head": row.head, "epoch": epoch, "alpha": alpha if fused else None,
        }  # fmt: skip
    return out


def run_unit(
    ctx: Context, training: Training, unit: Unit, seed: int, *, label: str = ""
) -> dict[str, Any] | None:
    """Run (or find done earlier) one training of one unit and seed; returns its result (also
    written to ``unit.json`` in the unit's directory and to the records folder), or None when
    ``ctx.cached_only`` and it has not been run."""
    cfg, preset, overrides = build_config(ctx, training, unit, seed)
    last_epoch = ctx.target.selection == "cv"
    extra: dict[str, Any] = {}
    if last_epoch:  # the split, the epochs and alpha enter the fingerprint
        train_idx, test_idx = unit_split(ctx, unit)
        assert_disjoint([train_idx], test_idx, np.asarray(ctx.store.index["subject"]))
        if cfg.fusion.alpha is None and any(row.head == "fused" for row in training.rows):
            raise ConfigError(
                f"{preset}: the last-epoch protocol needs a fixed fusion.alpha in the preset (chosen by "
                "cross-validation over training subjects with the recipe: scripts/choose_recipe.py)"
            )
        extra = {
            "protocol": PROTOCOL, "epochs": int(cfg.train.epochs), "train": _digest(train_idx),
            "test": _digest(test_idx), "rows": {row.key: row.head for row in training.rows},
            "alpha": cfg.fusion.alpha, "forecast": int(training.model == "asgcn"),
        }  # fmt: skip
    fingerprint = cache.unit_fingerprint(ctx, cfg, preset, overrides, extra)
    unit_dir = cache.work_unit_dir(ctx, training, unit, seed)
    done, earlier = cache.find_earlier(ctx, training, unit, seed, label, unit_dir, fingerprint)
    if done:
        return earlier
    what = f"{label} {training.key} {unit.name} seed {seed}"
    if last_epoch:
        body = _last_epoch(ctx, training, cfg, train_idx, test_idx, unit_dir, what)
    else:
        ctx.log(f"{what}: training {preset} into {unit_dir / 'run'} ...")
        body = _validation(ctx, training, cfg, unit_dir / "run")
    result = {
        "fingerprint": fingerprint, "target": ctx.target.name, "dataset": ctx.store.dataset,
        "training": training.key, "model": training.model, "unit": unit.key, "unit_name": unit.name,
        "protocol": unit.protocol, "fold": unit.fold, "seed": seed,
        "selection": PROTOCOL if last_epoch else "validation",
        "trained_with": unit_provenance(),  # provenance only, not part of the fingerprint
        "preset": preset, "overrides": overrides, "max_epochs": int(cfg.train.epochs), **body,
    }  # fmt: skip
    cache.write_json(result, unit_dir / cache.RESULT_FILE)
    cache.publish(ctx, training, unit, seed, result)
    return result


def _last_epoch(
    ctx: Context, training: Training, cfg: ExperimentConfig, train_idx: np.ndarray, test_idx: np.ndarray,
    unit_dir: Path, what: str,
) -> dict[str, Any]:  # fmt: skip
    """The ``last-epoch`` protocol: one training on all training subjects for the preset's epochs;
    the test subjects are scored once, after the last epoch (with the weight average when the
    recipe keeps one); the fused row uses the preset's fixed ``fusion.alpha``. Nothing is chosen
    here, so nothing here can be chosen on the test subjects."""
    epochs = int(cfg.train.epochs)
    what += (
        f": training on all {len(train_idx)} training sequences for {epochs} epochs, test ({len(test_idx)}) "
        "scored after the last"
    )
    ctx.log(f"{what} ...")
    final = train_fit.fit_and_score(
        cfg, train_idx, test_idx, epochs=epochs, score_epochs=[epochs], forecast=training.model == "asgcn"
    )
    ctx.log(f"{what}: {final.wall_time_s:.0f} s")
    if final.forecast_example is not None:
        cache.save_npz(unit_dir / cache.FORECAST_EXAMPLE, final.forecast_example)
    subjects = np.asarray(ctx.store.index["subject"])
    scores = {head: s[-1] for head, s in final.scores.items()}
    return {
        "averaging": cfg.train.averaging.name,
        "split": {
            "num_train": int(len(train_idx)), "num_test": int(len(test_idx)),
            "train_subjects": np.unique(subjects[train_idx]).tolist(),
            "test_subjects": np.unique(subjects[test_idx]).tolist(),
        },
        "test_positions": np.asarray(test_idx).tolist(),
        "final": {"epochs": [epochs], "wall_time_s": round(final.wall_time_s, 2)},
        "rows": _rows(training, scores, final.labels, len(final.class_names), epochs, cfg.fusion.alpha),
        "class_names": final.class_names,
        "num_parameters": final.num_parameters,
        "forecast": None if final.forecast is None else {**final.forecast, "epoch": epochs},
        "wall_time_s": round(final.wall_time_s, 2),
    }  # fmt: skip


def _validation(ctx: Context, training: Training, cfg: ExperimentConfig, run_dir: Path) -> dict[str, Any]:
    """The preset through the ``skelact train`` engine; the streams of a two-stream checkpoint are
    scored once more on the test split, fused with the alpha it chose."""
    started = time.time()
    metrics = run_experiment(cfg, run_dir, resume=(run_dir / "config.yaml").exists(), command=ctx.command)
    test, fusion = metrics["test"], metrics.get("fusion") or {}
    epoch = int(metrics["checkpoint"]["epoch"]) + 1
    if any(row.head in ("joint", "line") for row in training.rows):
        model, saved, spec = load_trained(run_dir / metrics["checkpoint"]["evaluated"])
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        loader = SkeletonDataModule(saved, spec=spec).eval_dataloader("test")
        scores, labels = collect_scores(model.to(device), loader, device)
        alpha = float(fusion["alpha"] if fusion.get("alpha") is not None else model.fusion_alpha)
        rows = _rows(training, scores, labels, len(test["class_names"]), epoch, alpha)
    else:
        summary = {
            "top1": float(test["top1"]), "top5": float(test["top5"]), "num_samples": int(test["num_samples"]),
            "confusion_matrix": test["confusion_matrix"],
        }  # fmt: skip
        rows = {r.key: {**summary, "head": r.head, "epoch": epoch, "alpha": None} for r in training.rows}
    return {
        "split": {k: int(v) for k, v in metrics.get("num_samples", {}).items()},
        "fusion": fusion or None,
        "rows": rows,
        "class_names": test["class_names"],
        "forecast": metrics.get("forecast"),  # AS-GCN's prediction head on the test split
        "run_dir": str(run_dir),
        "wall_time_s": round(float(metrics.get("wall_time_s") or time.time() - started), 2),
    }
