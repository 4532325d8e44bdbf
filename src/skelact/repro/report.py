"""The reproduction report: ``reproduction.json`` (:mod:`skelact.repro.entries`) and
``reproduction.md``, rendered from the template ``templates/reproduction.md.j2``.

This module turns the entries and unit results into the template's context (table cells, notes);
the prose is in the template. Every number comes from the unit results, the data facts and the
paper tables; nothing is typed in.
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
from ..machine import hardware
from .entries import build_entries, data_facts, hardware_text
from .figures import draw_figures
from .provenance import summarize, summary_text, time_by_device, units_text
from .targets import MODELS, TARGETS, trainings_for
from .templating import render

__all__ = ["build_entries", "data_facts", "hardware", "render_markdown", "signed_points", "write_report"]

JSON_NAME = "reproduction.json"
MD_NAME = "reproduction.md"
TEMPLATE = "reproduction.md.j2"


# ---------------------------------------------------------------------------------------------
# cells
# ---------------------------------------------------------------------------------------------
def signed_points(x: float) -> str:
    """A difference in points, one decimal with its sign; one that rounds to zero reads +0.0, never
    -0.0 (two accuracies equal up to a rounding residue, e.g. 83.02 against 83.0189)."""
    text = f"{x:+.1f}"
    return "+0.0" if text == "-0.0" else text


def fmt(x: float | None, nd: int = 1) -> str:
    """A number with ``nd`` decimals; "–" for a missing one."""
    return "–" if x is None else f"{x:.{nd}f}"


def mean_cell(e: Mapping[str, Any]) -> str:
    """``mean ± std (n=seeds)`` of an entry; the spread only over several complete seeds, and
    "partial" while no seed has every unit."""
    if e["mean"] is None:
        return "–"
    if not e["seeds"]:  # no seed has every unit: the mean is over the units finished so far
        return f"{e['mean']:.1f} (partial: {len(e['folds'])} of {e.get('units_planned', '?')} units)"
    n = len(e["seeds"])
    if n < 2:  # no spread over seeds to show
        return f"{e['mean']:.1f} (n={n})"
    return f"{e['mean']:.1f} ± {e['std']:.1f} (n={n})"


def duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


# ---------------------------------------------------------------------------------------------
# context
# ---------------------------------------------------------------------------------------------
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


def _attention_rows(mine: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for e in mine:
        ab = e.get("vs_without_attention")
        if not ab:
            continue
        other = next(o for o in mine if o["row"] == ab["row"])
        spread = "" if ab["standard_error"] is None else f" ± {ab['standard_error']:.1f}"
        paper = " / ".join(signed_points(v) for v in ab["paper_difference"].values()) or "–"
        rows.append([
            f"{e['name']} vs {ab['name']}", mean_cell(e), mean_cell(other),
            f"{signed_points(ab['mean_difference'])}{spread}",
            f"{ab['better']} / {ab['equal']} / {ab['worse']} of {ab['pairs']}", paper,
        ])  # fmt: skip
    return rows


def _forecasts(mine: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    from ..evaluation.forecast import METHOD_LABELS

    out = []
    for e in mine:
        fc = e.get("forecast")
        if not fc:
            continue
        mean = fc["mean"]
        model, zero, const = mean.get("model"), mean.get("zero_velocity"), mean.get("constant_velocity")
        out.append({
            "name": e["name"], "steps": int(fc["steps"]), "observed_frames": fc["observed_frames"],
            "units": fc["units"], "runs": fc["runs"],
            "step_names": [f"t+{k + 1}" for k in range(int(fc["steps"]))],
            "rows": [
                [METHOD_LABELS.get(m, m), *(fmt(v, 4) for v in fc["mpjpe"][m]), fmt(mean[m], 4)]
                for m in fc["methods"]
            ],
            "ratio_zero": model / zero if model is not None and zero else None,
            "ratio_constant": model / const if model is not None and zero and const else None,
            "pred_weight": None if fc.get("pred_weight") is None else f"{fc['pred_weight']:g}",
            "worse": model is not None and zero is not None and model > zero,
        })  # fmt: skip
    return out


def _facts_rows(f: Mapping[str, Any]) -> list[list[Any]]:
    rows = []
    for u in f["units"]:
        where = []
        if u["all_empty_in_train"]:
            where.append("train: " + ", ".join(u["all_empty_in_train"]))
        if u["all_empty_in_test"]:
            where.append("test: " + ", ".join(u["all_empty_in_test"]))
        rows.append([
            u["unit"], u["num_train"], u["num_test"],
            " ".join(f"s{s}:{n}" for s, n in u["train_per_subject"].items()),
            " ".join(f"s{s}:{n}" for s, n in u["test_per_subject"].items()),
            fmt(u["points_per_test_sample"], 2), "; ".join(where) or "–",
        ])  # fmt: skip
    return rows


def _centring(f: Mapping[str, Any]) -> str:
    layout = LAYOUTS.get(f.get("layout", ""))
    if layout is not None and not layout.hip_joints:
        return f"hip centring, a no-op here: layout `{layout.name}` has no hip joints ({layout.description})"
    return "hip centring"


def _chosen_cell(per: Mapping[str, Any]) -> str:
    return "; ".join(
        f"{s}: epoch {c.get('epoch')}" + (f", α {c['alpha']:.2f}" if c.get("alpha") is not None else "")
        for s, c in per.items()
    )


def _target_context(
    name: str, mine: list[dict[str, Any]], f: Mapping[str, Any], figures: list[tuple[str, str]]
) -> dict[str, Any]:
    target = TARGETS[name]
    units = list(mine[0]["folds"])
    compared = [e for e in mine if e["paper"] is not None and e["mean"] is not None]
    points = ", ".join(
        f"{u['unit']} {u['points_per_test_sample']:.2f}"
        for u in f.get("units", [])
        if u["points_per_test_sample"]
    )
    return {
        "name": name,
        "data": mine[0]["variant_details"],
        "protocol": target.protocol,
        "selection": mine[0]["selection"],
        "unit_kind": target.unit_kind,
        "units": units,
        "comparable": mine[0]["comparable"],
        "small": mine[0].get("scheme") == "last-epoch",
        "unfinished": sorted(
            {s for e in mine if e["seeds"] for s in e["per_seed"] if int(s) not in e["seeds"]}, key=int
        ),
        "accuracy": [
            [
                e["name"],
                *(fmt(e["folds"].get(u)) for u in units),
                mean_cell(e),
                str(e["paper"]["value"]) if e["paper"] else "–",
            ]
            for e in mine
        ],  # fmt: skip
        "pooled": [f"{e['name']} {fmt(e['pooled'])}" for e in mine if e.get("pooled") is not None]
        if target.unit_kind == "fold"
        else [],
        "per_seed": [
            [e["name"], s, *(fmt(v["folds"].get(u)) for u in units), fmt(v["mean"])]
            for e in mine
            for s, v in e["per_seed"].items()
        ],
        "chosen": [[e["name"], *(_chosen_cell(e["chosen"].get(u, {})) for u in units)] for e in mine],
        "attention": _attention_rows(mine),
        "forecasts": _forecasts(mine),
        "figures": figures,
        "facts": f or None,
        "facts_rows": _facts_rows(f) if f else [],
        "gaps": [
            f"{e['name']}: ours {mean_cell(e)} vs {e['paper']['value']} in Table {e['paper']['table']} "
            f"({e['paper'].get('note') or 'as published'}); difference "
            f"{signed_points(e['paper']['difference'])} points."
            for e in compared
        ],
        "granularity": points,
        "centring": _centring(f),
    }


def _schedule(s: Any) -> str:
    if s.name == "step":
        return f"step (x{s.gamma:g} every {s.step_size} epochs)"
    if s.name == "multistep":
        return f"multistep (x{s.gamma:g} at {s.milestones})"
    return str(s.name)


def _dropout(model: str, options: Mapping[str, Any]) -> Any:
    """The dropout a model was built with (its option, else the model's default)."""
    if "dropout" in options:
        return options["dropout"]
    try:
        if model == "arrn_lstm":
            from ..models.arrn import ARRNOptions

            return ARRNOptions().dropout
        if model == "asgcn":
            from ..models.asgcn.config import resolve_config

            return resolve_config(**dict(options)).dropout
    except Exception:  # noqa: BLE001 - informative only
        pass
    return "default"


def settings_rows(results: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Training settings of each model run, read back from its resolved config."""
    from ..train.config import load_config

    rows, seen = [], set()
    for r in results:
        key = (r["target"], r["training"])
        if key in seen:
            continue
        seen.add(key)
        try:
            cfg = load_config(r["preset"], r["overrides"])
        except Exception:  # noqa: BLE001 - a preset renamed since the run: leave the row out
            continue
        o, t, d = cfg.train.optim, cfg.train, cfg.data
        opts = cfg.model.options
        width = opts.get("channels") or opts.get("lstm_sizes") or "preset"
        rows.append([
            r["target"], r["training"], f"{o.name} lr {o.lr:g}, wd {o.weight_decay:g}", _schedule(t.schedule),
            "none" if t.averaging.name == "none" else f"{t.averaging.name} {t.averaging.decay:g}",
            str(d.batch_size), str(d.frames), str(_dropout(cfg.model.name, opts)), str(width),
            str(r.get("num_parameters") or "–"),
            " → ".join(s["name"] if isinstance(s, dict) else str(s) for s in d.train_transforms),
            " → ".join(s["name"] if isinstance(s, dict) else str(s) for s in d.test_transforms),
        ])  # fmt: skip
    return rows


def _configs(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out, seen = [], set()
    for e in entries:
        key = (e["target"], tuple(e["config"]["presets"].values()))
        if key in seen:
            continue
        seen.add(key)
        out.append({
            "target": e["target"],
            "names": [
                x["name"] for x in entries
                if x["target"] == e["target"] and tuple(x["config"]["presets"].values()) == key[1]
            ],
            "presets": sorted(set(e["config"]["presets"].values())),
            "overrides": e["config"]["overrides"],
        })  # fmt: skip
    return out


def _devices_text(results: Sequence[Mapping[str, Any]]) -> str:
    """Where the training time was spent: per device the units were trained on (their records)."""
    parts = []
    for g in time_by_device(results):
        device = g["device"] or "device not recorded"
        threads = f", {g['threads']} torch thread{'' if g['threads'] == 1 else 's'}" if g["threads"] else ""
        parts.append(f"{duration(g['wall_time_s'])} on {device} ({units_text(g['units'])}{threads})")
    return ", ".join(parts)


def report_context(
    entries: list[dict[str, Any]],
    results_by_target: Mapping[str, list[dict[str, Any]]],
    facts: Mapping[str, Mapping[str, Any]],
    figs: Mapping[str, list[tuple[str, str]]],
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything the Markdown template shows, computed from the entries, results and facts."""
    hw = meta["hardware"]
    all_results = [r for rs in results_by_target.values() for r in rs]
    small = [r for r in all_results if r.get("selection") == "last-epoch"]
    summary = []
    for e in entries:
        p = e["paper"]
        summary.append([
            e["target"], e["name"], mean_cell(e),
            str(p["value"]) + ("" if p["comparable"] else " (other data)") if p else "not in the papers",
            signed_points(p["difference"]) if p and p.get("difference") is not None else "–",
            "yes" if e["comparable"] else "no (variant)",
        ])  # fmt: skip
    targets = []
    for name in results_by_target:
        mine = [e for e in entries if e["target"] == name]
        if mine:
            targets.append(_target_context(name, mine, facts.get(name, {}), figs.get(name, [])))
    return {
        "version": __version__,
        "finished": meta["finished"],
        "quick": meta["quick"],
        "scope_notes": scope_notes(results_by_target, meta["seeds"], meta["quick"]),
        "partial": not all(e["complete"] for e in entries),
        "command": meta["command"],
        "machine": hardware_text(hw) + f", Python {hw.get('python')}",
        "trained_with": summary_text(summarize(all_results)),
        "seeds": [str(s) for s in meta["seeds"]],
        "total_time": duration(meta["wall_time_s"]),
        "records": meta.get("records"),
        "summary": summary,
        "targets": targets,
        "small": {
            "epochs": small[0]["max_epochs"],
            "averaging": small[0].get("averaging", "none"),
            "settings": settings_rows(small),
        }
        if small
        else None,  # fmt: skip
        "large": any(r.get("selection") == "validation" for r in all_results),
        "augment": meta.get("augment"),
        "configs": _configs(entries),
        "wall_rows": [
            [e["target"], e["name"], duration(e["wall_time_s"]), str(e.get("num_parameters") or "–")]
            for e in entries
        ],
        "devices": _devices_text(all_results),
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
    total = sum(r["wall_time_s"] for rs in results_by_target.values() for r in rs)
    shown = None  # the records folder as the report names it: relative to the report when inside
    if results_dir is not None:
        rd, top = Path(results_dir).resolve(), out.resolve()
        shown = f"{rd.relative_to(top)}/" if rd.is_relative_to(top) else str(results_dir)
    meta = {
        "hardware": hw, "command": command, "quick": quick, "seeds": list(seeds), "wall_time_s": total,
        "augment": augment, "records": shown,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip
    json_path, md_path = out / JSON_NAME, out / MD_NAME
    for path, text in (
        (json_path, json.dumps(entries, indent=1, allow_nan=False) + "\n"),
        (md_path, render_markdown(entries, results_by_target, facts, figs, meta)),
    ):
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return json_path, md_path, entries
