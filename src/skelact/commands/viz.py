"""``skelact viz KIND ... [--out PATH]``: figures and animations from files, checkpoints and runs.

Kinds::

    skeleton   FILE                 animation (.gif/.mp4) or frame strip (.png/.svg/.pdf)
    alinks     CHECKPOINT FILE      AS-GCN A-links on the skeleton (paper Fig. 8)
    links      CHECKPOINT FILE      AS-GCN A-link probability matrices
    edges      CHECKPOINT           learned S-link edge importance
    attention  CHECKPOINT           ARRN-LSTM attention mask per stream
    forecast   CHECKPOINT FILE      AS-GCN future-pose prediction vs the truth
    confusion  RUN_DIR|metrics.json confusion matrix
    accuracy   RUN_DIR|metrics.json per-class accuracy bars
    curves     RUN_DIR|metrics.csv  training / validation curves

The output format follows the extension of ``--out`` (png, svg, pdf; gif, mp4 for animations).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
from typing import Any

from ..errors import ConfigError

KINDS = ("skeleton", "alinks", "links", "edges", "attention", "forecast", "confusion", "accuracy", "curves")
FIGURE_EXT = {".png", ".svg", ".pdf"}
ANIMATION_EXT = {".gif", ".mp4"}


def _view(values: list[float] | None) -> tuple[float, float] | None:
    return None if values is None else (float(values[0]), float(values[1]))


def _frames(text: str | None):
    """``"0,10,20"`` -> [0, 10, 20]; ``"10:60:2"`` -> slice(10, 60, 2)."""
    if text is None:
        return None
    if ":" in text:
        parts = [int(p) if p.strip() else None for p in text.split(":")]
        return slice(*parts)
    return [int(p) for p in text.split(",") if p.strip()]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "viz",
        help="draw skeletons, A-links, attention, forecasts, confusion matrices and curves",
        description="Figures and animations. The format follows the extension of --out "
        "(.png, .svg, .pdf; .gif, and .mp4 when ffmpeg is installed).",
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)

    def common(sp: argparse.ArgumentParser, default_ext: str) -> None:
        sp.add_argument("--out", "-o", metavar="PATH",
                        help=f"output file (default: derived from the input, {default_ext})")
        sp.add_argument("--title", help="figure title (default: from the data)")
        sp.add_argument("--dpi", type=int, default=None, help="resolution (default: 100; 80 for animations)")
        sp.set_defaults(func=run, default_ext=default_ext)

    def sample_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--index", type=int, default=0, metavar="N",
                        help="which sequence of a multi-sequence file or prepared store (default: 0)")
        sp.add_argument("--view", type=float, nargs=2, metavar=("ELEV", "AZIM"),
                        help="3D camera elevation and azimuth in degrees")

    sp = kinds.add_parser("skeleton", help="animate or draw a skeleton sequence",
                          description="Animate a raw skeleton file (any supported format) or a sample of a "
                          "prepared store (a directory): .gif/.mp4 = animation, "
                          ".png/.svg/.pdf = frame strip.")
    sp.add_argument("file", metavar="FILE", help="raw skeleton file, or a prepared store directory")
    sample_opts(sp)
    sp.add_argument("--fps", type=float, default=15, help="animation frame rate (default: 15)")
    sp.add_argument("--frames", metavar="SPEC", help="frames to use: 'a:b:step' or 'i,j,k' (default: all)")
    sp.add_argument("--num-frames", type=int, default=5, help="frames in a static strip (default: 5)")
    sp.add_argument("--labels", nargs="?", const="names", choices=("names", "index"),
                    help="label the joints (names, or indices)")
    common(sp, ".gif")

    sp = kinds.add_parser("alinks", help="AS-GCN A-links drawn on the skeleton (paper Fig. 8)")
    sp.add_argument("checkpoint", metavar="CHECKPOINT")
    sp.add_argument("file", metavar="FILE", help="raw skeleton file")
    sample_opts(sp)
    sp.add_argument("--threshold", type=float, default=0.9, help="draw links above this probability (0.9)")
    sp.add_argument("--frames", metavar="SPEC", help="frames to draw: 'i,j,k' (default: 4 evenly spread)")
    common(sp, ".png")

    sp = kinds.add_parser("links", help="AS-GCN A-link probability matrices")
    sp.add_argument("checkpoint", metavar="CHECKPOINT")
    sp.add_argument("file", metavar="FILE", help="raw skeleton file")
    sp.add_argument("--index", type=int, default=0, metavar="N", help="sequence of a multi-sequence file")
    common(sp, ".png")

    sp = kinds.add_parser("edges", help="AS-GCN learned edge importance (S-links)")
    sp.add_argument("checkpoint", metavar="CHECKPOINT")
    sp.add_argument("--blocks", metavar="I,J", help="show these blocks (0-based) instead of the mean")
    common(sp, ".png")

    sp = kinds.add_parser("attention", help="ARRN-LSTM attention mask per stream")
    sp.add_argument("checkpoint", metavar="CHECKPOINT")
    common(sp, ".png")

    sp = kinds.add_parser("forecast", help="AS-GCN future-pose prediction next to the truth")
    sp.add_argument("checkpoint", metavar="CHECKPOINT")
    sp.add_argument("file", metavar="FILE", help="raw skeleton file")
    sample_opts(sp)
    sp.add_argument("--steps", type=int, default=None,
                    help="frames to predict (default: the model's horizon)")
    common(sp, ".png")

    for kind, text in (("confusion", "confusion matrix"), ("accuracy", "per-class accuracy bars")):
        sp = kinds.add_parser(kind, help=f"{text} of an evaluated run")
        sp.add_argument("run", metavar="RUN_DIR", help="run directory or its metrics.json")
        sp.add_argument("--split", default="test", help="which metrics (test, val; default: test)")
        if kind == "confusion":
            sp.add_argument("--counts", action="store_true", help="colour raw counts, not row shares")
        common(sp, ".png")

    sp = kinds.add_parser("curves", help="training / validation curves of a run")
    sp.add_argument("run", metavar="RUN_DIR", help="run directory (logs/**/metrics.csv) or a metrics.csv")
    common(sp, ".png")


def _out_path(args: argparse.Namespace, source: str, allowed: set[str]) -> pathlib.Path:
    if args.out:
        out = pathlib.Path(args.out)
    else:
        stem = pathlib.Path(source.rstrip("/")).stem or "figure"
        out = pathlib.Path(f"{stem}_{args.kind}{args.default_ext}")
    ext = out.suffix.lower()
    if ext not in allowed:
        raise ConfigError(f"--out {out}: unsupported extension {ext or '(none)'!r}; use one of "
                          f"{', '.join(sorted(allowed))}")
    return out


def _read_sample(path: str, index: int, **options: Any):
    """A :class:`~skelact.Skeleton` from a raw file (sequence ``index``) or a prepared store."""
    p = pathlib.Path(path)
    if p.is_dir():
        from ..data.store import SkeletonStore

        store = SkeletonStore(p)
        if not 0 <= index < len(store):
            raise ConfigError(f"--index {index}: the store has {len(store)} samples")
        return store.skeleton(index)
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    from ..data.io import iter_samples

    for k, sk in enumerate(iter_samples(p, **options)):
        if k == index:
            return sk
    raise ConfigError(f"--index {index}: {path} holds fewer sequences")


def _model_input(checkpoint: str, file: str, index: int):
    """(model, config, skeleton, model input (C, T, V, M)) with the checkpoint's preprocessing."""
    from ..train.inference import Predictor

    pred = Predictor(checkpoint)
    for k, sk in enumerate(pred.read(file)):
        if k == index:
            return pred.model, pred.cfg, sk, pred.prepare(sk, file)
    raise ConfigError(f"--index {index}: {file} holds fewer sequences")


def _load_metrics(run: str, split: str) -> tuple[Any, list[str] | None, dict]:
    p = pathlib.Path(run)
    path = p / "metrics.json" if p.is_dir() else p
    if not path.is_file():
        raise FileNotFoundError(f"no metrics.json at {path}")
    data = json.loads(path.read_text(encoding="utf-8"))
    block = data.get(split) if isinstance(data.get(split), dict) else None
    if block and "confusion_matrix" in block:
        return block["confusion_matrix"], block.get("class_names"), block
    if "confusion_matrix" in data:  # a bare metrics summary
        return data["confusion_matrix"], data.get("class_names"), data
    mean = data.get("mean") or {}
    if "pooled_confusion_matrix" in mean:  # a cross-validation summary: pool the folds
        names = None
        for fold in (data.get("folds") or {}).values():
            fold_file = path.parent / str(fold.get("dir", "")) / "metrics.json"
            if fold_file.is_file():
                names = json.loads(fold_file.read_text(encoding="utf-8")).get(split, {}).get("class_names")
                break
        return mean["pooled_confusion_matrix"], names, {}
    raise ConfigError(f"{path}: no {split!r} confusion matrix")


def run(args: argparse.Namespace) -> int:
    from .. import viz

    kind = args.kind
    dpi = {"dpi": args.dpi} if args.dpi else {}
    view = {"view": _view(args.view)} if getattr(args, "view", None) else {}

    if kind == "skeleton":
        out = _out_path(args, args.file, FIGURE_EXT | ANIMATION_EXT)
        sk = _read_sample(args.file, args.index)
        if out.suffix.lower() in ANIMATION_EXT:
            try:
                viz.animate_skeleton(sk, path=out, fps=args.fps, labels=args.labels or False,
                                     frames=_frames(args.frames), title=args.title, **view, **dpi)
            except RuntimeError as e:  # no ffmpeg for .mp4
                print(f"skelact viz: error: {e}", file=sys.stderr)
                return 2
        else:
            frames = _frames(args.frames)
            if isinstance(frames, slice):
                frames = list(range(sk.num_frames))[frames]
            viz.plot_skeleton_frames(sk, path=out, frames=frames, num_frames=args.num_frames,
                                     labels=args.labels or False, title=args.title, **view, **dpi)
    elif kind in {"alinks", "links"}:
        out = _out_path(args, args.file, FIGURE_EXT)
        model, _, sk, x = _model_input(args.checkpoint, args.file, args.index)
        _require(model, "infer_links", "A-links (an AS-GCN with A-links)")
        if kind == "alinks":
            frames = _frames(args.frames)
            viz.plot_alinks(model, x, out, threshold=args.threshold,
                            frames=None if isinstance(frames, slice) else frames,
                            title=args.title, **view, **dpi)
        else:
            viz.plot_link_matrix(model, x, out, title=args.title, **dpi)
    elif kind == "edges":
        out = _out_path(args, args.checkpoint, FIGURE_EXT)
        model = _load(args.checkpoint)
        blocks = [int(b) for b in args.blocks.split(",")] if args.blocks else None
        try:
            viz.plot_edge_importance(model, out, blocks=blocks, title=args.title, **dpi)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    elif kind == "attention":
        out = _out_path(args, args.checkpoint, FIGURE_EXT)
        model = _load(args.checkpoint)
        _require(model, "attention_weights", "an attention mask (an ARRN-LSTM)")
        viz.plot_attention(model, model.spec["layout"] if hasattr(model, "spec") else None, out,
                           title=args.title, **dpi)
    elif kind == "forecast":
        out = _out_path(args, args.file, FIGURE_EXT)
        model, _, sk, x = _model_input(args.checkpoint, args.file, args.index)
        _require(model, "forecast", "a prediction head (AS-GCN with prediction_head)")
        observed, predicted, truth = forecast_sample(model, x, args.steps)
        viz.plot_forecast(observed, predicted, truth, sk.layout, out, title=args.title,
                          **view, **dpi)
    elif kind in {"confusion", "accuracy"}:
        out = _out_path(args, args.run, FIGURE_EXT)
        cm, names, block = _load_metrics(args.run, args.split)
        if kind == "confusion":
            viz.plot_confusion_matrix(cm, names, out, normalize=not args.counts, title=args.title, **dpi)
        else:
            import numpy as np

            cm = np.asarray(cm, dtype=float)
            support = cm.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                acc = np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)
            viz.plot_per_class_accuracy(acc, names, out, title=args.title, support=support.astype(int), **dpi)
    elif kind == "curves":
        out = _out_path(args, args.run, FIGURE_EXT)
        viz.plot_curves(args.run, out, title=args.title, **dpi)
    else:  # pragma: no cover - argparse restricts the choices
        raise ConfigError(f"unknown kind {kind!r}")
    print(os.fspath(out))
    return 0


def _load(checkpoint: str):
    from ..train.checkpoint import load_model

    model, _ = load_model(checkpoint)
    return model


def _require(model: Any, method: str, what: str) -> None:
    if not callable(getattr(model, method, None)):
        raise ConfigError(f"this checkpoint's model ({type(model).__name__}) has no {what}")


def forecast_sample(model: Any, x: Any, steps: int | None = None):
    """Split a prepared input ``(C, T, V, M)`` into observed frames and the true future (the last
    ``steps`` frames that hold a body) and predict the future from the observed part.

    Returns ``(observed, predicted, truth)``, each ``(C, T, V, M)`` NumPy.
    """
    import numpy as np
    import torch

    x = np.asarray(x, dtype=np.float32)
    valid = np.flatnonzero(np.abs(x).sum(axis=(0, 2, 3)) > 0)
    if steps is None:
        steps = int(_option(model, "horizon") or 10)
    if valid.size <= steps + 1:
        raise ConfigError(f"the sequence has {valid.size} frames with a body; need more than {steps + 1}")
    end = int(valid[-1]) + 1
    observed, truth = x[:, : end - steps], x[:, end - steps : end]
    with torch.no_grad():
        pred = model.forecast(torch.from_numpy(observed).unsqueeze(0), steps)
    pred = pred[0] if isinstance(pred, torch.Tensor) and pred.ndim == 5 else pred
    return observed, np.asarray(pred.detach().cpu() if hasattr(pred, "detach") else pred), truth


def _option(model: Any, key: str) -> Any:
    for attr in ("config", "cfg", "options", "hparams"):
        src = getattr(model, attr, None)
        if isinstance(src, dict) and key in src:
            return src[key]
        if src is not None and hasattr(src, key):
            return getattr(src, key)
    return None
