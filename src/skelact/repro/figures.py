"""The report's figures: confusion matrices of each target's main row and AS-GCN's forecast.

A figure never fails the report: one that cannot be drawn is logged and left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .cache import FORECAST_EXAMPLE, unit_path
from .targets import TARGETS, trainings_for

__all__ = ["FIGURES", "MAIN_ROWS", "draw_figures"]

FIGURES = "figures"
MAIN_ROWS = ("arrn_two_stream", "asgcn")


def draw_figures(
    results_by_target: Mapping[str, list[dict[str, Any]]],
    entries: Sequence[Mapping[str, Any]],
    out: Path,
    work: Path,
    log: Callable[[str], None],
    records: Sequence[Path] = (),
) -> dict[str, list[tuple[str, str]]]:
    """Confusion matrices of the main row and AS-GCN's forecast figures; ``{target: [(caption, path)]}``."""
    try:
        from ..viz import plot_confusion_matrix
    except ImportError:
        return {}
    figs: dict[str, list[tuple[str, str]]] = {}
    fig_dir = out / FIGURES
    for name, results in results_by_target.items():
        target = TARGETS[name]
        items: list[tuple[str, str]] = []
        main = next((r for r in MAIN_ROWS if any(r in res["rows"] for res in results)), None)
        if main is None:
            continue
        mine = [r for r in results if main in r["rows"]]
        label = next(
            row.label
            for t in trainings_for(target, ["arrn_lstm", "asgcn"])
            for row in t.rows
            if row.key == main
        )
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for r in mine:  # units with the same classes are summed (Florence folds), others apart (MSR)
            groups.setdefault(tuple(r["class_names"]), []).append(r)
        for classes, group in groups.items():
            units = sorted({r["unit_name"] for r in group}, key=[u.name for u in target.units].index)
            cm = np.sum([np.asarray(r["rows"][main]["confusion_matrix"]) for r in group], axis=0)
            tag = units[0].replace(" ", "") if len(units) == 1 else "all"
            path = fig_dir / f"{name}_{main}_confusion_{tag}.png"
            seeds = sorted({r["seed"] for r in group})
            title = f"{label}, {name} {', '.join(units) if len(units) <= 3 else f'{len(units)} folds'}"
            try:
                fig_dir.mkdir(parents=True, exist_ok=True)
                plot_confusion_matrix(cm, list(classes), path, title=title, dpi=70)
                items.append(
                    (
                        f"Confusion matrix, {label}, {', '.join(units) if len(units) <= 3 else 'all folds'}, "
                        f"test sequences summed over seeds {seeds}",
                        f"{FIGURES}/{path.name}",
                    )
                )
            except Exception as e:  # noqa: BLE001 - a figure must never fail the report
                log(f"warning: could not draw {path.name}: {e}")
        summary = next((e["forecast"] for e in entries if e["target"] == name and e.get("forecast")), None)
        if summary is not None:
            items += _forecast_figures(name, summary, results, fig_dir, work, log, records)
        figs[name] = items
    return figs


def _forecast_figures(
    name: str,
    summary: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    fig_dir: Path,
    work: Path,
    log: Callable[[str], None],
    records: Sequence[Path] = (),
) -> list[tuple[str, str]]:
    """AS-GCN forecast (``summary``: :func:`forecast_summary` of the results): MPJPE per step
    against the baselines, and one test clip's forecast (its example is looked for in the work
    directory, then in the unit records folders ``records``)."""
    from ..viz import plot_forecast, plot_forecast_error

    target = TARGETS[name]
    items: list[tuple[str, str]] = []
    png = fig_dir / f"{name}_asgcn_forecast_error.png"
    try:
        fig_dir.mkdir(parents=True, exist_ok=True)
        plot_forecast_error(summary, png, title=f"AS-GCN future-pose error, {name}", dpi=70)
        items.append((
            f"Future-pose error (MPJPE) per predicted frame of the AS-GCN prediction head against the "
            f"zero- and constant-velocity baselines, {name} test sequences, pooled over "
            f"{summary['units']} {target.unit_kind}(s) and {summary['runs']} run(s)",
            f"{FIGURES}/{png.name}",
        ))  # fmt: skip
    except Exception as e:  # noqa: BLE001 - a figure must never fail the report
        log(f"warning: could not draw {png.name}: {e}")
    first = min((r for r in results if r.get("forecast")), key=lambda r: (r["unit"], r["seed"]))
    where = (first["training"], first["unit"], first["seed"])
    found = [unit_path(root, name, *where) / FORECAST_EXAMPLE for root in (work, *records)]
    example = next((p for p in found if p.is_file()), None)
    if example is not None:
        png = fig_dir / f"{name}_asgcn_forecast_example.png"
        try:
            clip = f"first test clip of {first['unit_name']}, seed {first['seed']}"
            with np.load(example) as z:
                plot_forecast(
                    z["observed"],
                    z["predicted"],
                    z["truth"],
                    path=png,
                    dpi=70,
                    title=f"AS-GCN forecast, {clip}",
                )
            items.append((
                f"The {clip}: the last observed frames, the AS-GCN forecast (true pose in grey underneath) "
                "and the true future frames",
                f"{FIGURES}/{png.name}",
            ))  # fmt: skip
        except Exception as e:  # noqa: BLE001
            log(f"warning: could not draw {png.name}: {e}")
    return items
