"""``skelact demo [--data DIR] [--out DIR] [--epochs N]``: prepare, train, evaluate, show.

Without ``--data`` the demo prepares the real Florence3D sample bundled with the package (so it
works in a fresh clone), trains a small joint-stream ARRN-LSTM on one leave-one-subject-out fold
(preset ``demo/florence3d``, a minute or two on a 2-core CPU), evaluates it on the held-out
subject, prints the metrics and saves the confusion matrix (and training curves) as PNG files.
``--data DIR`` runs the same on a store you prepared with ``skelact prepare`` (preset
``demo/<dataset>``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

DEFAULT_OUT = "skelact-demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="prepare the bundled sample, train a small model, evaluate it, plot the results",
        description="End-to-end demo: prepare the Florence3D sample bundled with skelact (or use --data), "
        "train a small ARRN-LSTM briefly, evaluate it on a held-out subject, print the metrics and save a "
        "confusion-matrix plot.",
    )
    p.add_argument(
        "--data", metavar="DIR", help="a store made by `skelact prepare` (default: the bundled sample)"
    )
    p.add_argument(
        "--out", metavar="DIR", default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    p.add_argument("--epochs", type=int, metavar="N", help="training epochs (default: the demo preset's)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _bundled_store(out: Path, quiet: bool) -> Path:
    from ..data import bundled_path
    from ..data.prepare import prepare
    from ..data.store import SkeletonStore, StoreError

    store = out / "store"
    if store.exists():
        try:
            SkeletonStore(store)
            return store
        except StoreError:
            shutil.rmtree(store)
    print(f"[1/3] preparing the bundled Florence3D sample into {store}", flush=True)
    prepare("florence3d", bundled_path("florence3d"), store, workers=1, progress=not quiet)
    return store


def _fresh_run_dir(run_dir: Path) -> None:
    """Remove a previous demo run (only a directory that looks like one)."""
    if run_dir.exists():
        if not (run_dir / "config.yaml").exists():
            raise FileExistsError(f"{run_dir} exists and is not a skelact run; choose another --out")
        shutil.rmtree(run_dir)


def _plot_curves(run_dir: Path) -> Path | None:
    try:
        from ..viz import plot_curves
    except ImportError:
        return None
    path = run_dir / "curves.png"
    try:
        plot_curves(run_dir, path)
    except Exception as e:  # noqa: BLE001 - a figure must never fail the demo
        print(f"(training curves not drawn: {e})", file=sys.stderr)
        return None
    return path


def _report(metrics: dict[str, Any], run_dir: Path) -> str:
    from ..evaluation.metrics import format_table

    test = metrics["test"]
    k = len(test["class_names"])
    lines = [
        "",
        f"dataset {metrics['dataset']}  protocol {metrics['protocol']} fold {metrics['fold']}  "
        f"model {metrics['model']}",
        f"trained on {metrics['num_samples']['train']} sequences for {metrics['epochs']} epochs "
        f"in {metrics['wall_time_s']:.0f} s; tested on {test['num_samples']} held-out sequences",
        "",
        format_table([("test", test)]),
        f"(chance level: top-1 {100.0 / k:.1f} %)",
        "",
        f"{'class':<28} {'accuracy %':>10} {'samples':>8}",
    ]
    support = [sum(row) for row in test["confusion_matrix"]]
    for (name, acc), n in zip(test["per_class_accuracy"].items(), support, strict=True):
        lines.append(f"{name[:28]:<28} {'-' if acc is None else f'{acc:.1f}':>10} {n:>8d}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..data.store import SkeletonStore
    from ..train.config import load_config
    from ..train.presets import is_preset
    from ..train.runner import run as run_config
    from ..viz import save_run_figures

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = Path(args.data) if args.data else _bundled_store(out, args.quiet)
    dataset = SkeletonStore(store).dataset
    preset = f"demo/{dataset}"
    if not is_preset(preset):
        print(f"skelact demo: error: no demo preset for dataset {dataset!r}", file=sys.stderr)
        return 2
    overrides = [f"data.store={store}", f"seed={args.seed}"]
    if args.epochs is not None:
        overrides.append(f"train.epochs={args.epochs}")
    if args.quiet:
        overrides.append("train.progress=false")
    cfg = load_config(preset, overrides)
    run_dir = out / "run"
    _fresh_run_dir(run_dir)
    print(
        f"[2/3] training {cfg.description or cfg.name} ({cfg.train.epochs} epochs) into {run_dir}", flush=True
    )
    metrics = run_config(cfg, run_dir, figures=save_run_figures)
    print("[3/3] evaluation on the held-out subject", flush=True)
    print(_report(metrics, run_dir))
    figures = []
    if (run_dir / "confusion_matrix.png").exists():
        figures.append(run_dir / "confusion_matrix.png")
    curves = _plot_curves(run_dir)
    if curves is not None:
        figures.append(curves)
    print()
    for fig in figures:
        print(f"figure: {fig}")
    print(f"metrics: {run_dir / 'metrics.json'}   checkpoint: {run_dir / 'checkpoints' / 'best.ckpt'}")
    print(f"next: skelact eval {run_dir / 'checkpoints' / 'best.ckpt'}")
    return 0
