"""Evaluation figures: confusion matrix, per-class accuracy bars, training/validation curves."""

from __future__ import annotations

import csv
import os
import pathlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from ._style import CYCLE, OKABE_ITO, fit_title, new_figure, save, styled, suptitle, wrap_label

__all__ = ["find_metrics_csv", "plot_confusion_matrix", "plot_curves", "plot_per_class_accuracy",
           "read_metrics_csv", "save_run_figures"]


def _class_names(class_names: Sequence[str] | None, k: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(k)]
    names = [str(n) for n in class_names]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for {k} classes")
    return names


def _fontsize_for(k: int) -> float:
    """Tick label size for ``k`` classes (readable up to ~60)."""
    if k <= 10:
        return 9
    if k <= 20:
        return 8
    if k <= 40:
        return 7
    return 6


@styled
def plot_confusion_matrix(
    cm: Any,
    class_names: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    normalize: bool = True,
    title: str | None = None,
    *,
    annotate: bool | None = None,
    max_label_chars: int = 28,
    dpi: int = 100,
) -> Figure:
    """Confusion matrix heatmap; rows = true class, columns = predicted class.

    Args:
        cm: ``(K, K)`` counts (``cm[i, j]`` = samples of class ``i`` predicted as ``j``).
        class_names: K names (default: indices). Long names are shortened to ``max_label_chars``.
        path: save here when given (format from the extension).
        normalize: colour by the fraction of each true class (row-normalised, i.e. recall on the
            diagonal); classes with no samples stay blank. ``False`` colours raw counts.
        title: figure title; the overall accuracy is always added below it.
        annotate: write the value in each cell; default only up to 20 classes.
    Returns:
        The figure. Its size grows with K (about 0.19 in per class beyond 20 classes).
    """
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square (K, K), got {cm.shape}")
    k = cm.shape[0]
    names = [wrap_label(n, max_label_chars) for n in _class_names(class_names, k)]
    support = cm.sum(axis=1)
    total = cm.sum()
    accuracy = float(np.trace(cm) / total) if total > 0 else float("nan")
    if normalize:
        with np.errstate(invalid="ignore", divide="ignore"):
            values = cm / support[:, None]
        values[support == 0] = np.nan
        vmax = 1.0
    else:
        values = cm.copy()
        vmax = max(float(np.nanmax(values)) if values.size else 1.0, 1.0)
    annotate = k <= 20 if annotate is None else annotate

    fs = _fontsize_for(k)
    longest = max((len(n) for n in names), default=1)
    label_in = min(0.055 * fs / 7 * longest + 0.3, 2.4)  # room the rotated names take
    cell = 0.42 if k <= 10 else (0.3 if k <= 20 else 0.19)
    side = max(k * cell, 3.0)
    fig = new_figure(side + label_in + 1.4, side + label_in + 0.8, dpi=dpi)
    ax = fig.add_subplot()
    cmap = colormaps["Blues"].with_extremes(bad="#f2f2f2")
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest",
                   aspect="equal")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(names, rotation=90 if k > 10 else 45, ha="center" if k > 10 else "right",
                       rotation_mode="default" if k > 10 else "anchor", fontsize=fs)
    ax.set_yticklabels(names, fontsize=fs)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    # thin separators between cells help reading large matrices
    ax.set_xticks(np.arange(-0.5, k, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, k, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=0.5 if k > 20 else 1.0)
    ax.tick_params(which="minor", length=0)

    if annotate:
        afs = 8 if k <= 10 else 6.5
        for i in range(k):
            for j in range(k):
                v = values[i, j]
                if not np.isfinite(v) or (v == 0 and i != j):
                    continue
                text = f"{100 * v:.0f}" if normalize else f"{int(round(v))}"
                dark = v / vmax > 0.55
                ax.text(j, i, text, ha="center", va="center", fontsize=afs,
                        color="white" if dark else "#202020")

    cbar = fig.colorbar(im, ax=ax, shrink=min(0.8, 0.5 + 4.0 / max(side, 1)), pad=0.02, aspect=30)
    cbar.outline.set_visible(False)
    if normalize:
        cbar.ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        cbar.set_label("share of the true class")
    else:
        cbar.set_label("samples")
    heading = title or "Confusion matrix"
    sub = f"accuracy {100 * accuracy:.1f}% on {int(total)} samples" if total > 0 else "no samples"
    if normalize and annotate:
        sub += " (cells in %)"
    ax.set_title(fit_title(heading, side, 10)[0] + "\n", loc="center")
    ax.text(0.5, 1.0 + 0.1 / max(side, 1), sub, transform=ax.transAxes, ha="center", va="bottom",
            fontsize=8, color="#444444")
    return save(fig, path)


@styled
def plot_per_class_accuracy(
    acc: Any,
    class_names: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    *,
    sort: bool = True,
    title: str | None = None,
    support: Sequence[int] | None = None,
    max_label_chars: int = 32,
    dpi: int = 100,
) -> Figure:
    """Horizontal bars of per-class accuracy, best first (``sort=False`` keeps class order).

    ``acc`` holds fractions in [0, 1] or percentages (taken as such when any value exceeds 1);
    NaN (a class without test samples) is listed as "n/a". The dashed line is the mean over the
    classes that have samples (the balanced accuracy).
    """
    acc = np.asarray(acc, dtype=np.float64).ravel()
    k = acc.size
    names = [wrap_label(n, max_label_chars) for n in _class_names(class_names, k)]
    pct = acc if np.nanmax(np.abs(acc), initial=0.0) > 1.0 else 100.0 * acc
    order = np.arange(k)
    if sort:
        order = np.argsort(np.where(np.isnan(pct), -np.inf, pct), kind="stable")[::-1]
    fs = _fontsize_for(k)
    bar_in = 0.26 if k <= 20 else 0.17
    longest = max((len(n) for n in names), default=1)
    fig = new_figure(min(3.6 + 0.06 * longest * fs / 7, 7.5), max(2.2, k * bar_in + 1.0), dpi=dpi)
    ax = fig.add_subplot()
    y = np.arange(k)
    vals = np.nan_to_num(pct[order], nan=0.0)
    mean = float(np.nanmean(pct)) if np.isfinite(pct).any() else float("nan")
    colors = [OKABE_ITO["blue"] if v >= mean else OKABE_ITO["sky_blue"] for v in vals]
    ax.barh(y, vals, color=colors, height=0.75)
    ax.set_yticks(y)
    ax.set_yticklabels([names[i] for i in order], fontsize=fs)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
    ax.set_xlabel("accuracy")
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x")
    ax.set_axisbelow(True)
    ax.set_ylim(k - 0.5, -0.5)
    for yi, i in zip(y, order, strict=True):
        text = "n/a" if np.isnan(pct[i]) else f"{pct[i]:.0f}"
        if support is not None:
            text += f"  (n={int(support[i])})"
        inside = not np.isnan(pct[i]) and pct[i] > 80
        ax.text(pct[i] - 1 if inside else (0 if np.isnan(pct[i]) else pct[i]) + 1, yi, text,
                va="center", ha="right" if inside else "left", fontsize=max(fs - 1, 5.5),
                color="white" if inside else "#333333")
    if np.isfinite(mean):
        ax.axvline(mean, color=OKABE_ITO["vermillion"], ls="--", lw=1.2, label=f"class mean {mean:.1f}%")
        ax.legend(loc="lower right" if sort else "best", fontsize=7, frameon=True, framealpha=0.9)
    ax.set_title(fit_title(title or "Per-class accuracy", fig.get_figwidth() * 0.95, 10)[0])
    return save(fig, path)


# ----------------------------------------------------------------------------------------------
# training curves
# ----------------------------------------------------------------------------------------------
def save_run_figures(metrics: dict[str, Any], run_dir: str | os.PathLike) -> dict[str, str]:
    """The figures of a finished training run, saved into its directory: ``confusion_matrix.png``
    from the test metrics (``metrics["test"]``: ``confusion_matrix``, ``class_names``).

    The ``figures`` writer ``skelact train`` and ``skelact demo`` pass to
    :func:`skelact.train.runner.run_experiment`; returns ``{figure name: file name}``, what the run's
    ``metrics.json`` records under ``"figures"``.
    """
    test = metrics["test"]
    path = pathlib.Path(run_dir) / "confusion_matrix.png"
    plot_confusion_matrix(np.asarray(test["confusion_matrix"]), test["class_names"], path)
    return {"confusion_matrix": path.name}


def find_metrics_csv(run_dir: str | os.PathLike) -> pathlib.Path:
    """The Lightning CSVLogger file of a run: ``run_dir`` itself when it is a CSV, else the newest
    ``metrics.csv`` under ``run_dir/logs/`` (any depth), else under ``run_dir``."""
    run_dir = pathlib.Path(run_dir)
    if run_dir.is_file():
        return run_dir
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run directory or metrics.csv at {run_dir}")
    for root in (run_dir / "logs", run_dir):
        if root.is_dir():
            found = sorted(root.rglob("metrics.csv"), key=lambda p: (p.stat().st_mtime, str(p)))
            if found:
                return found[-1]
    raise FileNotFoundError(f"no metrics.csv under {run_dir} (expected logs/**/metrics.csv)")


def read_metrics_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Columns of a metrics CSV as float arrays (empty cells and non-numbers are NaN)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    cols: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        vals = np.full(len(body), np.nan)
        for i, row in enumerate(body):
            if j < len(row) and row[j].strip():
                try:
                    vals[i] = float(row[j])
                except ValueError:
                    pass
        cols[name.strip()] = vals
    return cols


_SPLITS = ("train", "val", "valid", "validation", "test")
_LOSS_WORDS = {"loss", "ce", "nll", "kl", "pred", "mse", "predict"}


def _metric_kind(name: str) -> str | None:
    low = name.lower()
    if low in {"epoch", "step", "global_step", "time", "created_at"}:
        return None
    tokens = [t for t in re.split(r"[/_\-.]", low) if t]
    if low.startswith("lr") or "lr" in tokens or "learning_rate" in low:
        return "lr"
    if "acc" in low or "top1" in low or "top5" in low or "top-" in low:
        return "acc"
    if "loss" in low or (set(tokens) & _LOSS_WORDS):
        return "loss"
    return None


def _split_of(name: str) -> tuple[str, str]:
    """(split, metric) from e.g. ``val/acc``, ``train_loss_epoch``, ``lr-SGD``."""
    low = name.lower()
    m = re.match(r"^(train|val|valid|validation|test)[/_\-.](.*)$", low)
    if m:
        split = "val" if m.group(1) in {"valid", "validation"} else m.group(1)
        metric = m.group(2)
    else:
        m2 = re.match(r"^(.*?)[/_\-.](train|val|valid|validation|test)$", low)
        if m2:
            split = "val" if m2.group(2) in {"valid", "validation"} else m2.group(2)
            metric = m2.group(1)
        else:
            split, metric = "", low
    metric = re.sub(r"[_/](epoch|step)$", "", metric)
    return split, metric


def _epoch_axis(cols: dict[str, np.ndarray]) -> tuple[np.ndarray, str]:
    """x position of every row: epochs completed (fractional for step-level rows), else steps."""
    n = len(next(iter(cols.values())))
    epoch, step = cols.get("epoch"), cols.get("step")
    if epoch is None or not np.isfinite(epoch).any():
        if step is None:
            return np.arange(n, dtype=float), "row"
        return step, "step"
    epoch = epoch.copy()
    if step is None or not np.isfinite(step).any():
        return epoch + 1, "epoch"
    x = epoch + 1.0
    for e in np.unique(epoch[np.isfinite(epoch)]):
        sel = epoch == e
        s = step[sel]
        if np.isfinite(s).sum() < 2:
            continue
        lo, hi = np.nanmin(s), np.nanmax(s)
        x[sel] = e + (s - lo + 1) / (hi - lo + 1)
    return x, "epoch"


def _drop_duplicates(names: list[str], cols: dict[str, np.ndarray]) -> list[str]:
    """Leave out a component column identical to its split's ``loss`` column (e.g. ``train/ce``
    when cross-entropy is the whole loss): two curves on top of each other read as one."""
    out = []
    for name in names:
        split, metric = _split_of(name)
        twin = next((o for o in names if o != name and _split_of(o) == (split, "loss")), None)
        if metric != "loss" and twin is not None:
            a, b = cols[name], cols[twin]
            both = np.isfinite(a) & np.isfinite(b)
            same_rows = np.array_equal(np.isfinite(a), np.isfinite(b))
            if both.any() and same_rows and np.allclose(a[both], b[both]):
                continue
        out.append(name)
    return out


@styled
def plot_curves(
    run_dir: str | os.PathLike,
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
    dpi: int = 100,
) -> Figure:
    """Training / validation curves of a run (Lightning ``CSVLogger`` output).

    Reads the newest ``run_dir/logs/**/metrics.csv`` (or ``run_dir`` when it is the CSV) and
    plots every loss-, accuracy- and learning-rate-like column it finds, one panel each (panels
    without data are left out). NaN-sparse rows, as Lightning writes them, are fine: each column
    is drawn through its own non-empty rows. x is epochs completed (step-level rows at fractional
    epochs), or steps when the CSV has no epoch column. Colour = metric, line style = split
    (train solid, validation dashed, test dotted); the best validation accuracy is marked.
    """
    csv_path = find_metrics_csv(run_dir)
    cols = read_metrics_csv(csv_path)
    if not cols or not len(next(iter(cols.values()))):
        raise ValueError(f"{csv_path} has no rows")
    x, xlabel = _epoch_axis(cols)
    panels: dict[str, list[str]] = {"loss": [], "acc": [], "lr": []}
    for name, vals in cols.items():
        kind = _metric_kind(name)
        if kind and np.isfinite(vals).any():
            panels[kind].append(name)
    panels = {k: v for k, v in panels.items() if v}
    if not panels:
        raise ValueError(f"{csv_path}: no loss, accuracy or learning-rate column among {list(cols)}")

    n = len(panels)
    fig = new_figure(4.2 * n if n > 1 else 5.0, 3.3, dpi=dpi)
    axes = fig.subplots(1, n, squeeze=False)[0]
    style = {"train": "-", "val": "--", "test": ":", "": "-"}
    titles = {"loss": "Loss", "acc": "Accuracy", "lr": "Learning rate"}
    # the end of training: the last x of a train column (else of any non-test column). Rows after
    # it are evaluations of the chosen checkpoint once training is over (test, and a final
    # validation pass that repeats the best epoch): drawn as markers there, not as more epochs.
    def _last_x(pred) -> float | None:
        xs_ = [x[np.isfinite(cols[nm]) & np.isfinite(x)] for names in panels.values() for nm in names
               if pred(_split_of(nm)[0])]
        xs_ = [v for v in xs_ if v.size]
        return max(float(v.max()) for v in xs_) if xs_ else None

    x_end = _last_x(lambda sp: sp == "train") or _last_x(lambda sp: sp != "test") or float(np.nanmax(x))
    for ax, (kind, names) in zip(axes, panels.items(), strict=True):
        metric_colors: dict[str, str] = {}
        names = _drop_duplicates(names, cols)
        # step-level columns (several values per epoch) are drawn thinner and lighter
        for name in sorted(names, key=lambda s: (_split_of(s)[1], _SPLITS.index(_split_of(s)[0])
                                                 if _split_of(s)[0] in _SPLITS else 9)):
            split, metric = _split_of(name)
            vals = cols[name]
            ok = np.isfinite(vals) & np.isfinite(x)
            if split != "test":
                ok &= x <= x_end + 1e-9
            xs, ys = x[ok], vals[ok]
            if not len(xs):
                continue
            order = np.argsort(xs, kind="stable")
            xs, ys = xs[order], ys[order]
            if kind == "acc" and np.nanmax(np.abs(ys), initial=0) <= 1.0:
                ys = 100.0 * ys
            color = metric_colors.setdefault(metric, CYCLE[len(metric_colors) % len(CYCLE)])
            if split == "test":  # evaluated once after training: a marker at the end, labelled
                v = ys[-1]
                ax.plot([x_end], [v], ls="none", marker="*", ms=9, color=color, label=name,
                        markeredgecolor="white", markeredgewidth=0.5, zorder=4)
                text = f"{v:.1f}%" if kind == "acc" else f"{v:.3g}"
                ax.annotate(f"test {text}", (x_end, v), xytext=(-5, 5), textcoords="offset points",
                            ha="right", va="bottom", fontsize=7, color=color)
                continue
            step_level = name.lower().endswith("_step") or (
                xlabel == "epoch" and np.any(np.abs(xs - np.round(xs)) > 1e-9)
            )
            ax.plot(xs, ys, ls=style.get(split, "-"), color=color,
                    lw=0.8 if step_level else 1.6, alpha=0.55 if step_level else 1.0,
                    marker="o" if len(xs) <= 30 and not step_level else None, ms=3, label=name)
            if kind == "acc" and split == "val" and len(ys):
                b = int(np.argmax(ys))
                ax.annotate(f"best {ys[b]:.1f}%", (xs[b], ys[b]), xytext=(0, 8), textcoords="offset points",
                            ha="center", fontsize=7, color=color)
        x_start = float(np.nanmin(x[np.isfinite(x)])) if np.isfinite(x).any() else 0.0
        pad = 0.04 * max(x_end - x_start, 1.0)
        ax.set_xlim(min(x_start, x_end) - pad, x_end + pad)  # same range in every panel
        ax.set_title(titles[kind])
        ax.set_xlabel(xlabel + ("s completed" if xlabel == "epoch" else ""))
        ax.grid(True)
        ax.set_axisbelow(True)
        if xlabel in {"epoch", "step"}:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=8))
        if kind == "acc":
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
            lo, hi = ax.get_ylim()
            ax.set_ylim(max(lo, 0), min(hi + 4, 101))
        if kind == "lr":
            ys_all = np.concatenate([cols[nm][np.isfinite(cols[nm])] for nm in names])
            if ys_all.size and ys_all.min() > 0 and ys_all.max() / ys_all.min() > 20:
                ax.set_yscale("log")
            else:
                ax.set_ylim(0, max(float(ys_all.max()) * 1.15, 1e-12) if ys_all.size else 1.0)
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
        if kind == "loss":
            ys_all = np.concatenate([cols[nm][np.isfinite(cols[nm])] for nm in names])
            if ys_all.size and ys_all.min() > 0 and ys_all.max() / ys_all.min() > 100:
                ax.set_yscale("log")
        ax.legend(fontsize=7, ncols=1 if len(names) <= 4 else 2, loc="best")
    run_name = pathlib.Path(run_dir).name if pathlib.Path(run_dir).is_dir() else csv_path.parent.name
    suptitle(fig, title or f"Training curves \u2014 {run_name}")
    return save(fig, path)

