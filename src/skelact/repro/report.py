"""The reproduction report: ``reproduction.json`` (:mod:`skelact.repro.entries`) and
``reproduction.md``, rendered from the template ``templates/reproduction.md.j2``.

Where the report is written beside the recipe's ``recipe.json`` (``--out reports``), its goals
section cites that cross-validation (:func:`~skelact.repro.goals.cv_evidence`) for every goal
that is not met.

This module gathers the template's context (the entries, the data facts, the figures, the settings
read back from each run's config); the tables and the prose are in the template. Every number
comes from the unit results, the data facts and the paper tables; nothing is typed in.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..data.layouts import LAYOUTS
from ..evaluation.forecast import METHOD_LABELS
from ..machine import hardware
from ..models.arrn import ARRNOptions
from ..models.asgcn.config import resolve_config as asgcn_config
from ..train import config as train_config
from .cache import write_json, write_text
from .entries import build_entries, data_facts, hardware_text
from .figures import draw_figures
from .goals import cv_evidence
from .provenance import summarize, time_by_device
from .sitting import sitting
from .targets import MODELS, TARGETS, trainings_for
from .templating import mean_cell, render, signed_points

__all__ = [
    "build_entries", "data_facts", "hardware", "mean_cell", "render_markdown", "scope_notes", "signed_points",
    "write_report",
]  # fmt: skip

JSON_NAME = "reproduction.json"
MD_NAME = "reproduction.md"
TEMPLATE = "reproduction.md.j2"


def scope_notes(
    results_by_target: Mapping[str, list[dict[str, Any]]], seeds: Sequence[int], quick: bool
) -> list[str]:
    """Why a run is smaller than the full protocol (fewer than 3 seeds, a target with no finished
    unit, trainings not run), derived from the results themselves; empty for a full or quick run."""
    if quick:
        return []
    notes = []
    if len(seeds) < 3:
        notes.append(f"{len(seeds)} seed(s); the full protocol uses 3 (`--seeds 0 1 2`)")
    for name, results in results_by_target.items():
        if not results:
            notes.append(f"{name}: no unit has finished yet, so it has no section below")
            continue
        run = {r["training"] for r in results}
        missing = [t for t in trainings_for(TARGETS[name], MODELS) if t.key not in run]
        if missing:
            rows = ", ".join(row.label for t in missing for row in t.rows)
            notes.append(f"{name}: not trained in this run: {rows}")
    return notes


def _dropout(model: str, options: Mapping[str, Any]) -> Any:
    """The dropout a model was built with (its option, else the model's default)."""
    if "dropout" in options:
        return options["dropout"]
    try:
        if model == "arrn_lstm":
            return ARRNOptions().dropout
        if model == "asgcn":
            return asgcn_config(**dict(options)).dropout
    except Exception:  # noqa: BLE001 - informative only
        pass
    return "default"


def settings_rows(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per model run (target and training): its resolved config, dropout and parameter count.

    A run whose preset no longer loads (renamed or changed since the run) keeps its row, with
    ``cfg`` None and the reason in ``error``: the report says so instead of dropping the row."""
    rows, seen = [], set()
    for r in results:
        if (r["target"], r["training"]) in seen:
            continue
        seen.add((r["target"], r["training"]))
        try:
            cfg = train_config.load_config(r["preset"], r["overrides"])
        except Exception as exc:  # noqa: BLE001 - any reason the preset does not load is reported
            rows.append({"target": r["target"], "training": r["training"], "cfg": None,
                         "error": f"preset `{r['preset']}` does not load now ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''})"})  # fmt: skip
            continue
        rows.append({
            "target": r["target"], "training": r["training"], "cfg": cfg,
            "parameters": r.get("num_parameters"), "dropout": _dropout(cfg.model.name, cfg.model.options),
        })  # fmt: skip
    return rows


def _configs(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The presets and common overrides of each target's runs, the rows they give listed together."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in entries:
        presets = tuple(e["config"]["presets"].values())
        group = groups.setdefault((e["target"], presets), {
            "target": e["target"], "names": [], "presets": sorted(set(presets)),
            "overrides": e["config"]["overrides"],
        })  # fmt: skip
        group["names"].append(e["name"])
    return list(groups.values())


def _target_context(
    name: str, mine: list[dict[str, Any]], facts: Mapping[str, Any], figures: list[tuple[str, str]]
) -> dict[str, Any]:
    layout = LAYOUTS.get(facts.get("layout", ""))
    return {
        "name": name,
        "entries": mine,
        "unit_kind": TARGETS[name].unit_kind,
        "units": list(mine[0]["folds"]),
        # seeds with some units only: shown per seed, left out of the per-unit means
        "unfinished": sorted(
            {s for e in mine if e["seeds"] for s in e["per_seed"] if int(s) not in e["seeds"]}, key=int
        ),
        "figures": figures,
        "facts": facts or None,
        "hipless": layout if layout is not None and not layout.hip_joints else None,
    }


def report_context(
    entries: list[dict[str, Any]],
    results_by_target: Mapping[str, list[dict[str, Any]]],
    facts: Mapping[str, Mapping[str, Any]],
    figs: Mapping[str, list[tuple[str, str]]],
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything the Markdown template shows, from the entries, results and facts."""
    results = [r for rs in results_by_target.values() for r in rs]
    small = [r for r in results if r.get("selection") == "last-epoch"]
    return {
        **meta,
        "version": __version__,
        "entries": entries,
        "scope_notes": scope_notes(results_by_target, meta["seeds"], meta["quick"]),
        "machine": hardware_text(meta["hardware"]),
        "python": meta["hardware"].get("python"),
        "trained_with": summarize(results),
        "targets": [
            _target_context(name, mine, facts.get(name, {}), figs.get(name, []))
            for name in results_by_target
            if (mine := [e for e in entries if e["target"] == name])
        ],
        "small": small[0] if small else None,
        "settings": settings_rows(small),
        "large": any(r.get("selection") == "validation" for r in results),
        "configs": _configs(entries),
        "devices": time_by_device(results),
        "sitting": sitting(small),
        "method_labels": METHOD_LABELS,
    }


def render_markdown(
    entries: list[dict[str, Any]],
    results_by_target: Mapping[str, list[dict[str, Any]]],
    facts: Mapping[str, Mapping[str, Any]],
    figs: Mapping[str, list[tuple[str, str]]],
    meta: Mapping[str, Any],
) -> str:
    """``reproduction.md``: the template rendered with :func:`report_context`."""
    return render(TEMPLATE, report_context(entries, results_by_target, facts, figs, meta))


def write_report(
    results_by_target: Mapping[str, list[dict[str, Any]]],
    out_dir: str | os.PathLike[str],
    *,
    seeds: Sequence[int],
    models: Sequence[str],
    facts: Mapping[str, Mapping[str, Any]],
    command: str,
    quick: bool,
    work_dir: str | os.PathLike[str],
    augment: str = "standard",
    planned: Mapping[str, Sequence[str]] | None = None,
    log: Callable[[str], None] = print,
    results_dir: str | os.PathLike[str] | None = None,
) -> tuple[Path, Path, list[dict[str, Any]]]:
    """Write ``reproduction.json`` and ``reproduction.md`` (and ``figures/``) into ``out_dir``.

    ``results_dir``: the unit records folder (where figures' inputs are also looked for).

    Returns ``(json path, markdown path, entries)``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hw = hardware()
    entries = build_entries(
        results_by_target, seeds=seeds, models=models, facts=facts, command=command, hw=hw, quick=quick,
        planned=planned,
    )  # fmt: skip
    records = () if results_dir is None else (Path(results_dir),)
    figs = draw_figures(results_by_target, entries, out, Path(work_dir), log, records)
    shown = None  # the records folder as the report names it: relative to the report when inside
    if results_dir is not None:
        rd, top = Path(results_dir).resolve(), out.resolve()
        shown = f"{rd.relative_to(top)}/" if rd.is_relative_to(top) else str(results_dir)
    meta = {
        "hardware": hw, "command": command, "quick": quick, "seeds": list(seeds), "augment": augment,
        "wall_time_s": sum(r["wall_time_s"] for rs in results_by_target.values() for r in rs),
        "records": shown,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip
    recipe = out / "recipe.json"  # the recipe's cross-validation, when the report sits beside it
    meta["evidence"] = cv_evidence(json.loads(recipe.read_text())) if recipe.is_file() else None
    json_path, md_path = out / JSON_NAME, out / MD_NAME
    write_json(entries, json_path)
    write_text(md_path, render_markdown(entries, results_by_target, facts, figs, meta))
    return json_path, md_path, entries
