"""``skelact train CONFIG [dotted.key=value ...] [--out DIR] [--resume] [--list]``.

CONFIG is a YAML file or a preset name (``skelact train --list``). Folded protocols with
``data.fold: all`` (Florence3D LOSO) run every fold and report per-fold and mean accuracy.
Multi-GPU: ``train.devices=4 train.strategy=ddp``; several machines: start the same command on
each with ``torchrun --nnodes N --nproc-per-node G ... -m skelact train ... train.num_nodes=N
train.devices=G train.strategy=ddp``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train and evaluate a model from a config or preset",
        description="Train a model, evaluate it on the protocol's test split and write a run directory "
        "(config.yaml, checkpoints/best.ckpt and last.ckpt, metrics.json, logs/). CONFIG is a YAML file or a "
        "preset name (see --list); dotted.key=value arguments override it, e.g. train.epochs=5 "
        "data.store=/data/msr3d.",
        epilog="Data: data.store=DIR, or $SKELACT_DATA/<data.dataset>. Resume after an interruption with the "
        "same command plus --resume. Multi-GPU: train.devices=N train.strategy=ddp; multi-node: launch with "
        "torchrun -m skelact train ... train.num_nodes=K.",
    )
    p.add_argument("config", nargs="?", metavar="CONFIG", help="a YAML config file or a preset name")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (dotted keys)")
    p.add_argument("--out", metavar="DIR", help="run directory (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--list", action="store_true", help="list the preset names and exit")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    p.set_defaults(func=run)


def _list_presets() -> int:
    from ..train.config import load_config
    from ..train.presets import list_presets

    for name in list_presets():
        description = load_config(name).description
        print(f"{name:<48} {description}" if description else name)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list_presets()
    if not args.config:
        print("skelact train: error: CONFIG is required (or --list)", file=sys.stderr)
        return 2
    from ..train.callbacks import TrainingDiverged
    from ..train.config import dump_config, load_config
    from ..train.runner import is_global_zero_env, summary_table
    from ..train.runner import run as run_config
    from ..viz import save_run_figures

    cfg = load_config(args.config, args.overrides)
    if args.print_config:
        print(dump_config(cfg), end="")
        return 0
    out = Path(args.out) if args.out else Path("runs") / cfg.name
    command = shlex.join(
        ["skelact", "train", args.config, *args.overrides, "--out", str(out)]
        + (["--resume"] if args.resume else [])
    )
    try:
        metrics = run_config(cfg, out, resume=args.resume, command=command, figures=save_run_figures)
    except TrainingDiverged as e:
        print(f"skelact train: {e}", file=sys.stderr)
        return 3
    if not is_global_zero_env():
        return 0  # other DDP processes: rank 0 reports
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(summary_table(metrics))
        print(f"run directory: {out}  (metrics: {out / 'metrics.json'})")
    return 0
