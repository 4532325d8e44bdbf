"""Cross-validation curve of one reproduction training under config overrides (training subjects only).

Used to choose settings the paper leaves open for the small datasets without looking at any test
subject: it deals the unit's *training* subjects into ``--cv-folds`` folds exactly as
``skelact reproduce`` does, trains one model per fold with the reproduction config plus the
overrides, and prints the held-out accuracy per epoch (per fold and the mean over folds).

Example (the AS-GCN small-data optimiser, ``configs/asgcn/_small.yaml``)::

    python scripts/cv_curve.py msr3d as1 asgcn --threads 1 \\
        train.optim.name=sgd train.optim.lr=0.1 train.optim.weight_decay=1e-4 \\
        train.schedule.name=step train.schedule.step_size=20 train.epochs=60
    python scripts/cv_curve.py msr3d as1 asgcn --threads 1 \\
        train.optim.name=adam train.optim.lr=1e-3 train.optim.weight_decay=0 train.schedule.name=none
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


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
    args = parser.parse_intermixed_args(argv)

    import torch

    from skelact.repro.protocol import Context, build_config, cv_split
    from skelact.repro.runner import resolve_store
    from skelact.repro.selection import accuracy_curve, mean_curve, pick_epoch
    from skelact.repro.targets import ALL_TRAININGS, get_target
    from skelact.repro.training import fit_and_score
    from skelact.train.config import load_config

    if args.threads:
        torch.set_num_threads(args.threads)
    target = get_target(args.target)
    unit = next((u for u in target.units if u.key == args.unit), None)
    training = next((t for t in ALL_TRAININGS if t.key == args.training), None)
    if unit is None or training is None:
        parser.error(f"unknown unit {args.unit!r} or training {args.training!r}")
    store = resolve_store(target, src=None, store=args.store, work_dir=args.work_dir)  # as reproduce
    ctx = Context(target, store, args.work_dir, cv_folds=args.cv_folds)
    _, preset, overrides = build_config(ctx, training, unit, args.seed)
    cfg = load_config(preset, [*overrides, *args.overrides])
    cv = cv_split(ctx, unit, args.seed)  # the test positions (cv.test) are never used here
    print(
        f"{preset} on {store}, {len(cv.train)} training sequences (subjects "
        f"{np.unique(cv.subjects[cv.train]).tolist()}), {len(cv.folds)} folds; overrides {args.overrides}"
    )
    curves = []
    for j, fold in enumerate(cv.folds, 1):
        started = time.time()
        rec = fit_and_score(cfg, fold["train"], fold["val"], epochs=int(cfg.train.epochs))
        head = next(iter(rec.scores)) if "logits" not in rec.scores else "logits"
        acc = accuracy_curve(rec.scores[head], rec.labels)
        curves.append(acc)
        shown = " ".join(f"{e}:{a:.0f}" for e, a in zip(rec.epochs, acc, strict=True) if e % args.every == 0)
        held_out = np.unique(cv.subjects[fold["val"]]).tolist()
        took = time.time() - started
        print(f"fold {j} (held out subjects {held_out}, {took:.0f} s, {head}) {shown}", flush=True)
    mean = mean_curve(curves)
    shown = " ".join(f"{e}:{a:.1f}" for e, a in zip(rec.epochs, mean, strict=True) if e % args.every == 0)
    print(f"mean {shown}; max {mean.max():.1f} at epoch {pick_epoch(mean, rec.epochs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
