"""``skelact eval CHECKPOINT [--split test|val|train] [--json]``: re-compute a checkpoint's metrics.

The data, transforms and batch size come from the config saved in the checkpoint, so the test
metrics equal those logged in the run's ``metrics.json``. AS-GCN models with a prediction head
also report the future-pose error (MPJPE) against zero- and constant-velocity baselines.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluate a checkpoint on its dataset split",
        description="Evaluate a training checkpoint (e.g. runs/NAME/checkpoints/best.ckpt) on the split of "
        "the data it was trained on: top-1 / top-5 accuracy, per-class accuracy, confusion matrix.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a .ckpt file written by skelact train")
    p.add_argument(
        "--split", choices=("test", "val", "train"), default="test", help="which split (default: test)"
    )
    p.add_argument("--store", metavar="DIR", help="the prepared store, if it moved since training")
    p.add_argument("--json", action="store_true", help="print all metrics as JSON")
    p.set_defaults(func=run)


def format_metrics(m: dict[str, Any], split: str) -> str:
    lines = [
        f"{split}: top-1 {m['top1']:.2f} %   top-5 {m['top5']:.2f} %   ({m['num_samples']} samples)",
        "",
        f"{'class':<36} {'accuracy %':>10}",
    ]
    support = [sum(row) for row in m["confusion_matrix"]]
    for (name, acc), n in zip(m["per_class_accuracy"].items(), support, strict=True):
        shown = "-" if acc is None else f"{acc:.1f}"
        lines.append(f"{name[:36]:<36} {shown:>10}   (n={n})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..train.runner import evaluate_checkpoint

    result = evaluate_checkpoint(args.checkpoint, args.split, store=args.store)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(format_metrics(result[args.split], args.split))
    forecast = result.get("forecast")
    if forecast:
        from ..evaluation.forecast import format_forecast

        print("\nfuture-pose forecast (MPJPE per predicted frame):")
        print(format_forecast(forecast))
    return 0
