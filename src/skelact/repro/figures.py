"""The report's figures: confusion matrices of each target's main row and AS-GCN's forecast.

A figure never fails the report: one that cannot be drawn is logged and left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..viz import plot_confusion_matrix, plot_forecast, plot_forecast_error
from .cache import FORECAST_EXAMPLE, unit_path
from .targets import ALL_TRAININGS, TARGETS

__all__ = ["FIGURES", "MAIN_ROWS", "draw_figures"]

FIGURES = "figures"
MAIN_ROWS = ("arrn_two_stream", "asgcn")
Figures = list[tuple[str, str]]  # (caption, path relative to the report)


def _draw(
    items: Figures, caption: str, log: Callable[[str], None], plot: Callable[..., Any], png: Path, *args: Any,
    **kwargs: Any,
) -> None:  # fmt: skip
    """``plot(png, *args, **kwargs)`` writes ``png``; the figure is added to ``items``, a failure logged."""
    try:
        png.parent.mkdir(parents=True, exist_ok=True)
        plot(png, *args, **kwargs)
        items.append((caption, f"{FIGURES}/{png.name}"))
    except Exception as e:  # noqa: BLE001 - a figure must never fail the report
        log(f"warning: could not draw {png.name}: {e}")


def _confusion(png: Path, cm: np.ndarray, classes: list[str], title: str) -> None:
    plot_confusion_matrix(cm, classes, png, title=title, dpi=70)


def _forecast_error(png: Path, summary: Mapping[str, Any], title: str) -> None:
    plot_forecast_error(summary, png, title=title, dpi=70)


def _forecast_example(png: Path, example: Path, title: str) -> None:
    with np.load(example) as z:
        plot_forecast(z["observed"], z["predicted"], z["truth"], path=png, dpi=70, title=title)


def draw_figures(
    results_by_target: Mapping[str, list[dict[str, Any]]],
    entries: Sequence[Mapping[str, Any]],
    out: Path,
    work: Path,
    log: Callable[[str], None],
    records: Sequence[Path] = (),
) -> dict[str, Figures]:
    """Confusion matrices of the main row and AS-GCN's forecast figures; ``{target: [(caption, path)]}``.
    A forecast example is looked for in the work directory ``work``, then in the unit records
    folders ``records``."""
    figs: dict[str, Figures] = {}
    fig_dir = out / FIGURES
    for name, results in results_by_target.items():
        target = TARGETS[name]
        main = next((r for r in MAIN_ROWS if any(r in res["rows"] for res in results)), None)
        if main is None:
            continue
        items: Figures = []
        label = next(row.label for t in ALL_TRAININGS for row in t.rows if row.key == main)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for r in results:  # units with the same classes are summed (Florence folds), others apart (MSR)
            if main in r["rows"]:
                groups.setdefault(tuple(r["class_names"]), []).append(r)
        for classes, group in groups.items():
            units = sorted({r["unit_name"] for r in group}, key=[u.name for u in target.units].index)
            cm = np.sum([np.asarray(r["rows"][main]["confusion_matrix"]) for r in group], axis=0)
            tag = units[0].replace(" ", "") if len(units) == 1 else "all"
            png = fig_dir / f"{name}_{main}_confusion_{tag}.png"
            few, seeds = len(units) <= 3, sorted({r["seed"] for r in group})
            title = f"{label}, {name} {', '.join(units) if few else f'{len(units)} folds'}"
            which = ", ".join(units) if few else "all folds"
            caption = f"Confusion matrix, {label}, {which}, test sequences summed over seeds {seeds}"
            _draw(items, caption, log, _confusion, png, cm, list(classes), title)
        summary = next((e["forecast"] for e in entries if e["target"] == name and e.get("forecast")), None)
        if summary is not None:  # AS-GCN's future-pose error per step against the baselines
            png = fig_dir / f"{name}_asgcn_forecast_error.png"
            caption = (
                "Future-pose error (MPJPE) per predicted frame of the AS-GCN prediction head against the "
                f"zero- and constant-velocity baselines, {name} test sequences, pooled over "
                f"{summary['units']} {target.unit_kind}(s) and {summary['runs']} run(s)"
            )
            _draw(items, caption, log, _forecast_error, png, summary, f"AS-GCN future-pose error, {name}")
            first = min((r for r in results if r.get("forecast")), key=lambda r: (r["unit"], r["seed"]))
            where = (first["training"], first["unit"], first["seed"])
            found = [unit_path(root, name, *where) / FORECAST_EXAMPLE for root in (work, *records)]
            example = next((p for p in found if p.is_file()), None)
            if example is not None:  # one test clip's forecast
                clip = f"first test clip of {first['unit_name']}, seed {first['seed']}"
                png = fig_dir / f"{name}_asgcn_forecast_example.png"
                caption = (f"The {clip}: the last observed frames, the AS-GCN forecast (true pose in grey "
                           "underneath) and the true future frames")  # fmt: skip
                _draw(items, caption, log, _forecast_example, png, example, f"AS-GCN forecast, {clip}")
        figs[name] = items
    return figs
