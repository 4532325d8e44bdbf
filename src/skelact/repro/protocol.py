"""The reproduction protocol: per unit and seed, train once and test once.

Small datasets (``selection="cv"`` targets: MSRAction3D subsets, Florence3D folds): one model per
training (:mod:`skelact.repro.targets`), unit and seed is trained on all the unit's training
subjects with the preset's recipe, and its last epoch tests the test subjects once
(:func:`_run_last_epoch_unit`). The recipe and the fusion weight were chosen beforehand by
cross-validation over training subjects (:mod:`skelact.repro.recipe`), so nothing is chosen per
unit. (The earlier protocol chose an epoch per unit by cross-validation and retrained; its report
and records are kept in ``reports/earlier/2026-12-02/``.)

Each unit is cached in the work directory (``<work>/<target>/<training>/<unit>/seed_<s>/``) under a
fingerprint of everything that determines it (:mod:`skelact.repro.cache`: the resolved config, so
an edited preset file is not served from the cache; the split; the protocol settings), so an
interrupted run continues where it stopped. The data enter the fingerprint as the checksums of the
prepared store, not as its path, so a result is found again under another work directory or with
a ``--store`` prepared elsewhere from the same files.

The work directory lives on one machine. A finished unit's result (``unit.json``, and for AS-GCN
the forecast example the report draws) is also written to the *unit records* folder
(``Context.results_dir``; ``skelact reproduce`` uses ``<out>/units``), which is small enough to
commit beside the report: a fresh clone rebuilds the report from it (``--report-only``) and a run on
another machine continues from it, training only the units it lacks. A record is used only when its
fingerprint matches, exactly like the work directory's.

Large datasets (``selection="validation"``; NTU, Kinetics) run the table presets as they are
(:func:`skelact.train.runner.run_experiment`, with the preset's validation split choosing the
checkpoint and alpha); two-stream ARRN-LSTM checkpoints are scored once more per stream.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, cast

import numpy as np

from ..data import protocols
from ..errors import ConfigError
from ..evaluation import accuracy_summary, assert_disjoint, fused_probabilities
from .cache import (
    FORECAST_EXAMPLE,
    RESULT_FILE,
    find_earlier,
    publish,
    save_npz,
    unit_fingerprint,
    work_unit_dir,
    write_json,
)
from .provenance import unit_provenance
from .targets import Training, Unit
from .unit_config import QUICK_TEST, QUICK_TRAIN, Context, build_config

__all__ = ["PROTOCOL", "evenly", "run_unit", "unit_split"]

#: The small-data protocol: train once on all training subjects, read the last epoch (with the
#: recipe's weight average), the fusion weight fixed by the preset (:mod:`skelact.repro.recipe`).
PROTOCOL = "last-epoch"


def _result_header(
    ctx: Context, training: Training, unit: Unit, seed: int, fingerprint: str, dataset: Any, selection: str
) -> dict[str, Any]:
    """The identifying fields every unit result starts with (both selection schemes)."""
    return {
        "fingerprint": fingerprint,
        "target": ctx.target.name,
        "dataset": dataset,
        "training": training.key,
        "model": training.model,
        "unit": unit.key,
        "unit_name": unit.name,
        "protocol": unit.protocol,
        "fold": unit.fold,
        "seed": seed,
        "selection": selection,
        "trained_with": unit_provenance(),  # provenance only, not part of the fingerprint
    }


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


def run_unit(
    ctx: Context, training: Training, unit: Unit, seed: int, *, label: str = ""
) -> dict[str, Any] | None:
    """Run (or load from the work directory) one training of one unit and seed; returns its
    result (also written to ``unit.json`` in the unit's directory), or None when
    ``ctx.cached_only`` and it has not been run."""
    if ctx.target.selection == "cv":
        return _run_last_epoch_unit(ctx, training, unit, seed, label)
    return _run_validation_unit(ctx, training, unit, seed, label)


def _run_last_epoch_unit(
    ctx: Context, training: Training, unit: Unit, seed: int, label: str
) -> dict[str, Any] | None:
    """The ``last-epoch`` protocol: one training on all training subjects for the preset's epochs;
    the test subjects are scored once, after the last epoch (with the weight average when the
    recipe keeps one); the fused row uses the preset's fixed ``fusion.alpha``. Nothing is chosen
    here, so nothing here can be chosen on the test subjects."""
    from ..train.fit import fit_and_score

    cfg, preset, overrides = build_config(ctx, training, unit, seed)
    train_idx, test_idx = unit_split(ctx, unit)
    subjects = np.asarray(ctx.store.index["subject"])
    assert_disjoint([train_idx], test_idx, subjects)
    epochs = int(cfg.train.epochs)
    alpha = cfg.fusion.alpha
    if alpha is None and any(row.head == "fused" for row in training.rows):
        raise ConfigError(
            f"{preset}: the last-epoch protocol needs a fixed fusion.alpha in the preset (chosen by "
            "cross-validation over training subjects with the recipe: scripts/choose_recipe.py)"
        )
    rows = {row.key: row.head for row in training.rows}
    forecast = training.model == "asgcn"
    fingerprint = unit_fingerprint(ctx, cfg, preset, overrides, {
        "protocol": PROTOCOL, "epochs": epochs, "train": _digest(train_idx), "test": _digest(test_idx),
        "rows": rows, "alpha": alpha, "forecast": int(forecast),
    })  # fmt: skip
    unit_dir = work_unit_dir(ctx, training, unit, seed)
    done, earlier = find_earlier(ctx, training, unit, seed, label, unit_dir, fingerprint)
    if done:
        return earlier
    what = (
        f"{label} {training.key} {unit.name} seed {seed}: training on all {len(train_idx)} training "
        f"sequences for {epochs} epochs, test ({len(test_idx)}) scored after the last"
    )
    ctx.log(f"{what} ...")
    final = fit_and_score(cfg, train_idx, test_idx, epochs=epochs, score_epochs=[epochs], forecast=forecast)
    ctx.log(f"{what}: {final.wall_time_s:.0f} s")
    if final.forecast_example is not None:
        save_npz(unit_dir / FORECAST_EXAMPLE, final.forecast_example)
    num_classes = len(final.class_names)
    results: dict[str, Any] = {}
    for row in training.rows:
        if row.head == "fused":
            assert alpha is not None
            probs = fused_probabilities(final.scores["joint"][-1], final.scores["line"][-1], alpha)
        else:
            probs = final.scores[row.head][-1]
        results[row.key] = {
            **accuracy_summary(probs, final.labels, num_classes),
            "head": row.head, "epoch": epochs, "alpha": alpha if row.head == "fused" else None,
        }  # fmt: skip
    result = {
        **_result_header(ctx, training, unit, seed, fingerprint, ctx.store.dataset, "last-epoch"),
        "preset": preset,
        "overrides": overrides,
        "max_epochs": epochs,
        "averaging": cfg.train.averaging.name,
        "split": {
            "num_train": int(len(train_idx)), "num_test": int(len(test_idx)),
            "train_subjects": np.unique(subjects[train_idx]).tolist(),
            "test_subjects": np.unique(subjects[test_idx]).tolist(),
        },
        "test_positions": np.asarray(test_idx).tolist(),
        "final": {"epochs": [epochs], "wall_time_s": round(final.wall_time_s, 2)},
        "rows": results,
        "class_names": final.class_names,
        "num_parameters": final.num_parameters,
        "forecast": None if final.forecast is None else {**final.forecast, "epoch": epochs},
        "wall_time_s": round(final.wall_time_s, 2),
    }  # fmt: skip
    write_json(result, unit_dir / RESULT_FILE)
    publish(ctx, training, unit, seed, result)
    return result


def _run_validation_unit(
    ctx: Context, training: Training, unit: Unit, seed: int, label: str
) -> dict[str, Any] | None:
    import torch

    from ..evaluation.scores import collect_scores
    from ..train.checkpoint import load_trained
    from ..train.data import SkeletonDataModule
    from ..train.runner import run_experiment

    cfg, preset, overrides = build_config(ctx, training, unit, seed)
    unit_dir = work_unit_dir(ctx, training, unit, seed)
    fingerprint = unit_fingerprint(ctx, cfg, preset, overrides, {})
    done, earlier = find_earlier(ctx, training, unit, seed, label, unit_dir, fingerprint)
    if done:
        return earlier
    run_dir = unit_dir / "run"
    ctx.log(f"{label} {training.key} {unit.name} seed {seed}: training {preset} into {run_dir} ...")
    started = time.time()
    metrics = run_experiment(cfg, run_dir, resume=(run_dir / "config.yaml").exists(), command=ctx.command)
    test = metrics["test"]
    k = len(test["class_names"])
    fusion = metrics.get("fusion") or {}
    results: dict[str, Any] = {}
    epoch = int(metrics["checkpoint"]["epoch"]) + 1
    if any(row.head in ("joint", "line") for row in training.rows):
        model, saved, spec = load_trained(run_dir / metrics["checkpoint"]["evaluated"])
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model.to(device)
        dm = SkeletonDataModule(saved, spec=spec)
        scores, labels = collect_scores(model, dm.eval_dataloader("test"), device)
        if fusion.get("alpha") is not None:
            alpha = float(fusion["alpha"])
        else:
            alpha = float(cast(torch.Tensor, model.fusion_alpha))
        for row in training.rows:
            if row.head == "fused":
                probs = fused_probabilities(scores["joint"], scores["line"], alpha)
            else:
                probs = scores[row.head]
            results[row.key] = {
                **accuracy_summary(probs, labels, k),
                "head": row.head,
                "epoch": epoch,
                "alpha": alpha if row.head == "fused" else None,
            }
    else:
        for row in training.rows:
            results[row.key] = {
                "top1": float(test["top1"]),
                "top5": float(test["top5"]),
                "num_samples": int(test["num_samples"]),
                "confusion_matrix": test["confusion_matrix"],
                "head": row.head,
                "epoch": epoch,
                "alpha": None,
            }
    result = {
        **_result_header(ctx, training, unit, seed, fingerprint, metrics.get("dataset"), "validation"),
        "preset": preset,
        "overrides": overrides,
        "max_epochs": int(cfg.train.epochs),
        "split": {k_: int(v) for k_, v in metrics.get("num_samples", {}).items()},
        "fusion": fusion or None,
        "rows": results,
        "class_names": test["class_names"],
        "forecast": metrics.get("forecast"),  # AS-GCN's prediction head on the test split
        "run_dir": str(run_dir),
        "wall_time_s": round(float(metrics.get("wall_time_s") or time.time() - started), 2),
    }
    write_json(result, unit_dir / RESULT_FILE)
    publish(ctx, training, unit, seed, result)
    return result
