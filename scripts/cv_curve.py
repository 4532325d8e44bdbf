"""Cross-validation curve of one reproduction training under config overrides (training subjects only).

Used to choose settings the paper leaves open for the small datasets without looking at any test
subject: it deals the unit's *training* subjects into ``--cv-folds`` folds exactly as
``skelact reproduce`` does, trains one model per fold with the reproduction config plus the
overrides, and prints the held-out accuracy per epoch (per fold and head, and the mean over folds;
the two-stream model's fused score with the preset's fusion weight), and the last epoch's mean
beside the best (the recipe's stability check, ``reports/recipe.md``).

Example (the AS-GCN small-data optimiser, ``configs/asgcn/_small.yaml``)::

    python scripts/cv_curve.py msr3d as1 asgcn --threads 1 \\
        train.optim.name=sgd train.optim.lr=0.1 train.optim.weight_decay=1e-4 \\
        train.schedule.name=step train.schedule.step_size=20 train.epochs=60
    python scripts/cv_curve.py msr3d as1 asgcn --threads 1 \\
        train.optim.name=adam train.optim.lr=1e-3 train.optim.weight_decay=0 train.schedule.name=none

A longer budget for the two-stream ARRN-LSTM (joint, line and fused curves)::

    python scripts/cv_curve.py msr3d as1 arrn --threads 1 --every 10 train.epochs=200
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def _shown(epochs, curve, every: int, digits: int) -> str:
    """``epoch:accuracy`` pairs of every ``every``-th epoch."""
    return " ".join(f"{e}:{a:.{digits}f}" for e, a in zip(epochs, curve, strict=True) if e % every == 0)


def _mpjpe(mean: dict[str, float]) -> str:
    """The model's mean MPJPE over the predicted frames and its ratio to each baseline."""
    model = mean.get("model")
    base = {k: v for k, v in mean.items() if k != "model"}
    ratios = ", ".join(f"{model / v:.2f}x {k.replace('_', ' ')}" for k, v in base.items() if model and v)
    return f"model {model:.4g} ({ratios}); " + ", ".join(f"{k} {v:.4g}" for k, v in base.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="msr3d or florence3d")
    parser.add_argument("unit", help="e.g. as1, fold03")
    parser.add_argument("training", help="arrn, rrn or asgcn")
    parser.add_argument("overrides", nargs="*", help="config overrides KEY=VALUE")
    parser.add_argument(
        "--store", type=Path, help="prepared store (default: skelact reproduce's, prepared into --work-dir)"
    )
    parser.add_argument("--work-dir", type=Path, default=Path("work_dirs/reproduce"))
    parser.add_argument("--cv-folds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--every", type=int, default=5, help="print every N-th epoch")
    parser.add_argument(
        "--forecast", action="store_true",
        help="also the future-pose error (MPJPE) of the prediction head after the last epoch (AS-GCN)",
    )  # fmt: skip
    args = parser.parse_intermixed_args(argv)

    import torch

    from skelact.data import protocols
    from skelact.data.prepared import resolve_store
    from skelact.evaluation import fused_probabilities
    from skelact.repro.protocol import unit_split
    from skelact.repro.targets import ALL_TRAININGS, get_target
    from skelact.repro.unit_config import Context, build_config
    from skelact.train.config import load_config
    from skelact.train.fit import fit_and_score

    if args.threads:
        torch.set_num_threads(args.threads)
    target = get_target(args.target)
    unit = next((u for u in target.units if u.key == args.unit), None)
    training = next((t for t in ALL_TRAININGS if t.key == args.training), None)
    if unit is None or training is None:
        parser.error(f"unknown unit {args.unit!r} or training {args.training!r}")
    store = resolve_store(target.dataset, target.raw_folder, src=None, store=args.store,  # as reproduce
                          stores_dir=Path(args.work_dir) / "stores", name=target.name)
    ctx = Context(target, store, args.work_dir)
    _, preset, overrides = build_config(ctx, training, unit, args.seed)
    cfg = load_config(preset, [*overrides, *args.overrides])
    train_idx, _ = unit_split(ctx, unit)  # the test positions are never used here
    subjects = np.asarray(ctx.store.index["subject"])
    folds = protocols.subject_folds(ctx.store, train_idx, args.cv_folds, seed=args.seed)
    print(
        f"{preset} on {store}, {len(train_idx)} training sequences (subjects "
        f"{np.unique(subjects[train_idx]).tolist()}), {len(folds)} folds; overrides {args.overrides}"
    )
    epochs = int(cfg.train.epochs)
    alpha = 0.5 if cfg.fusion.alpha is None else float(cfg.fusion.alpha)
    curves: dict[str, list[np.ndarray]] = {}
    forecasts = []
    for j, fold in enumerate(folds, 1):
        started = time.time()
        rec = fit_and_score(cfg, fold["train"], fold["val"], epochs=epochs, forecast=args.forecast)
        held_out = np.unique(subjects[fold["val"]]).tolist()
        print(f"fold {j} (held out subjects {held_out}, {time.time() - started:.0f} s)", flush=True)
        heads = dict(rec.scores)
        if {"joint", "line"} <= set(heads):
            heads["fused"] = fused_probabilities(heads["joint"], heads["line"], alpha)
        for head, scores in heads.items():
            acc = 100.0 * (scores.argmax(-1) == rec.labels).mean(-1)
            curves.setdefault(head, []).append(acc)
            print(f"  {head} {_shown(rec.epochs, acc, args.every, 0)}", flush=True)
        if rec.forecast is not None:
            forecasts.append(rec.forecast["mean"])
            print(f"  forecast MPJPE {_mpjpe(rec.forecast['mean'])}", flush=True)
    for head, per_fold in curves.items():
        mean = np.mean(per_fold, axis=0)
        fused = f"; fusion weight alpha {alpha:g} (the preset's)" if head == "fused" else ""
        print(
            f"mean {head} {_shown(rec.epochs, mean, args.every, 1)}; last epoch {mean[-1]:.1f}, "
            f"best {mean.max():.1f} at epoch {int(rec.epochs[mean.argmax()])}{fused}"
        )
    if forecasts:
        mean = {k: float(np.mean([f[k] for f in forecasts])) for k in forecasts[0]}
        print(f"mean forecast MPJPE {_mpjpe(mean)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
