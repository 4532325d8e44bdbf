"""The reproduction report: ``reproduction.json`` (machine-readable) and ``reproduction.md``.

Every number in both files is computed from the unit results (:mod:`skelact.repro.protocol`), the
data (:func:`data_facts`) and the paper tables (:mod:`skelact.repro.paper`); nothing is typed in.

``reproduction.json`` is a list of entries, one per dataset target and table row::

    {"dataset", "target", "model", "row", "name", "stream", "attention", "protocol", "variant",
     "comparable", "folds": {unit: mean accuracy over the seeds of "seeds"}, "mean", "std", "pooled", "seeds",
     "per_seed": {seed: {"folds": {unit: accuracy}, "mean"}}, "complete", "units_planned", "config",
     "command", "hardware", "trained_with", "wall_time_s", "paper",
     "chosen": {unit: {seed: {"epoch", "alpha", "cv_accuracy"}}}, "selection", "quick", "skelact_version"}

Accuracies are top-1 in percent. ``mean`` is the mean over seeds of each seed's mean over units
(MSRAction3D: the average of AS1-AS3, as the paper; Florence3D: the mean over the 10 folds);
``std`` is the sample standard deviation (ddof = 1) of those per-seed means; ``pooled`` the
accuracy over all test sequences of all units (mean over seeds). While no seed has every unit
(``seeds`` empty, ``complete`` false), ``mean`` is over the units finished so far and the tables
say so ("partial: k of ``units_planned`` units"). ``folds`` averages the same seeds as ``mean``
(the complete ones, while there are any), so its mean over units equals ``mean``; a seed still
running shows only in ``per_seed``. ``hardware`` is the machine that wrote the
report; ``trained_with`` counts the row's unit results per skelact version, git commit, torch and
device they were trained with (:mod:`skelact.repro.provenance`).
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..data.layouts import LAYOUTS
from ..errors import ConfigError
from ..machine import hardware
from .paper import paper_result
from .protocol import FORECAST_EXAMPLE, unit_path
from .provenance import summarize, summary_text, time_by_device, units_text
from .targets import MODELS, TARGETS, Row, Target, Training, trainings_for

__all__ = ["build_entries", "data_facts", "hardware", "write_report"]

JSON_NAME = "reproduction.json"
MD_NAME = "reproduction.md"
#: written by scripts/peek_at_test.py beside the report (.md, .json); the report quotes its summary
PEEKING_NAME = "test_peeking"
FIGURES = "figures"
MAIN_ROWS = ("arrn_two_stream", "asgcn")


# ---------------------------------------------------------------------------------------------
# environment and data facts
# ---------------------------------------------------------------------------------------------
def data_facts(target: Target, store: Any) -> dict[str, Any]:
    """Counts measured on the store: samples per unit and subject, lengths, empty frames."""
    from ..data import protocols

    index = store.index
    subjects = np.asarray(index["subject"])
    lengths = np.asarray(index["length"])
    names = [str(s) for s in index["sample"]]
    empty_frames = np.zeros(len(store), dtype=np.int64)
    for i in range(len(store)):
        x = np.asarray(store[i])
        empty_frames[i] = int((~np.any(x != 0, axis=(1, 2, 3))).sum()) if x.size else 0
    all_empty = [i for i in range(len(store)) if lengths[i] > 0 and empty_frames[i] == lengths[i]]
    kept = (lengths - empty_frames)[lengths > empty_frames]  # sequences with at least one pose
    units = []
    for unit in target.units:
        try:
            split = protocols.split(store, unit.protocol, unit.fold)
        except Exception:  # noqa: BLE001 - a store without the fields: facts are optional
            continue
        tr, te = np.asarray(split["train"]), np.asarray(split["test"])
        units.append({
            "unit": unit.name,
            "num_train": int(len(tr)),
            "num_test": int(len(te)),
            "train_per_subject": {int(s): int((subjects[tr] == s).sum()) for s in np.unique(subjects[tr])},
            "test_per_subject": {int(s): int((subjects[te] == s).sum()) for s in np.unique(subjects[te])},
            "points_per_test_sample": round(100.0 / len(te), 3) if len(te) else None,
            "all_empty_in_train": [names[i] for i in all_empty if i in set(tr.tolist())],
            "all_empty_in_test": [names[i] for i in all_empty if i in set(te.tolist())],
        })  # fmt: skip
    manifest = store.manifest
    return {
        "dataset": store.dataset,
        "layout": store.layout,
        "channels": list(manifest.get("channels") or []),
        "num_samples": int(len(store)),
        "num_subjects": int(len(np.unique(subjects))) if (subjects >= 0).all() else None,
        "frames": {
            "min": int(lengths.min()), "mean": round(float(lengths.mean()), 1), "max": int(lengths.max()),
        },
        "frames_without_empty": {
            "min": int(kept.min()), "mean": round(float(kept.mean()), 1), "max": int(kept.max()),
        },
        "sequences_with_empty_frames": int((empty_frames > 0).sum()),
        "empty_frames_total": int(empty_frames.sum()),
        "all_empty_sequences": [names[i] for i in all_empty],
        "source": (manifest.get("prepare") or {}).get("src"),
        "units": units,
    }  # fmt: skip


@dataclass(frozen=True)
class Variant:
    """The data a target ran on: a short name, a description, comparability with the paper."""

    name: str
    description: str
    comparable: bool
    note: str | None = None


def variant_of(target: Target, facts: Mapping[str, Any]) -> Variant:
    """Which variant of the data the store holds (from its layout and channels)."""
    n = facts.get("num_samples")
    if target.name == "msr3d":
        if facts.get("channels") == ["x", "y", "z"]:
            return Variant(
                "Real3D, 20 joints",
                f"MSRAction3DSkeletonReal3D: real-world joint coordinates (--msr-form real3d), {n} sequences",
                True,
            )
        return Variant(
            "screen coordinates, 20 joints",
            f"MSRAction3DSkeleton(20joints): screen coordinates u, v, depth (--msr-form screen), "
            f"{n} sequences",
            True,
        )
    if target.name == "florence3d":
        if facts.get("layout") == "florence8":
            return Variant(
                "features file, 8 joints",
                f"Florence_dataset_Features.txt: 8 normalised joints, {n} sequences",
                False,
                "variant, not directly comparable: the paper used the 15-joint world-coordinates file; this "
                "is the 8-joint normalised features file (elbows, wrists, knees, ankles)",
            )
        return Variant(
            "world coordinates, 15 joints",
            f"Florence_dataset_WorldCoordinates.txt: 15 joints, {n} sequences (as the paper)",
            True,
        )
    return Variant(
        f"{facts.get('layout')}",
        f"{facts.get('dataset')} store, {n} sequences, layout {facts.get('layout')}",
        True,
    )


def hardware_text(hw: Mapping[str, Any]) -> str:
    """One line: CPU, cores, GPU, torch."""
    gpu = f", GPU {hw['gpu']}" if hw.get("gpu") else ", no GPU"
    return (
        f"{hw.get('cpu')}, {hw.get('cpu_count')} cores{gpu}; torch {hw.get('torch')} "
        f"({hw.get('torch_threads')} threads)"
    )


# ---------------------------------------------------------------------------------------------
# aggregation
# ---------------------------------------------------------------------------------------------
def _std(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _r(x: float | None, nd: int = 4) -> float | None:
    """Round for the JSON. Four decimals, so that the one-decimal Markdown formatted from these
    numbers equals the raw value's (two decimals made 15/19 = 78.947 into 78.95 and then "79.0")."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), nd)


def _common_overrides(results: Sequence[Mapping[str, Any]]) -> list[str]:
    lists = [[o for o in r["overrides"] if not o.startswith("seed=")] for r in results]
    first = lists[0]
    return [o for o in first if all(o in other for other in lists)]


def _row_entry(
    target: Target,
    planned: Sequence[str],
    training: Training,
    row: Row,
    results: list[dict[str, Any]],
    seeds: Sequence[int],
    facts: Mapping[str, Any],
    common: Mapping[str, Any],
) -> dict[str, Any]:
    units = [u for u in target.units if any(r["unit"] == u.key for r in results)]
    by = {(r["unit"], r["seed"]): r for r in results}
    per_seed: dict[str, Any] = {}
    complete_seeds = []
    for seed in seeds:
        accs = {u.name: by[(u.key, seed)]["rows"][row.key]["top1"] for u in units if (u.key, seed) in by}
        if not accs:
            continue
        correct = sum(
            np.trace(np.asarray(by[(u.key, seed)]["rows"][row.key]["confusion_matrix"]))
            for u in units
            if (u.key, seed) in by
        )
        total = sum(by[(u.key, seed)]["rows"][row.key]["num_samples"] for u in units if (u.key, seed) in by)
        per_seed[str(seed)] = {
            "folds": {k: _r(v) for k, v in accs.items()},
            "mean": _r(float(np.mean(list(accs.values())))),
            "pooled": _r(100.0 * correct / total) if total else None,
        }
        if len(accs) == len(planned):
            complete_seeds.append(seed)
    means = [per_seed[str(s)]["mean"] for s in complete_seeds] or [v["mean"] for v in per_seed.values()]
    # Per unit, the mean over the same seeds as ``mean`` (the complete ones), so that the per-unit
    # row averages to the Mean column; an unfinished seed shows only in ``per_seed``.
    folds = {}
    for u in units:
        vals = [by[(u.key, s)]["rows"][row.key]["top1"] for s in complete_seeds or seeds if (u.key, s) in by]
        folds[u.name] = _r(float(np.mean(vals)))
    chosen = {
        u.name: {
            str(s): {
                k: by[(u.key, s)]["rows"][row.key].get(k)
                for k in ("epoch", "alpha", "cv_accuracy")
                if by[(u.key, s)]["rows"][row.key].get(k) is not None
            }
            for s in seeds
            if (u.key, s) in by
        }
        for u in units
    }
    paper = paper_result(target.name, row.key)
    variant = variant_of(target, facts)
    comparable = variant.comparable
    mean = _r(float(np.mean(means))) if means else None
    paper_dict = None
    if paper is not None:
        paper_dict = {**paper.to_dict(), "comparable": comparable}
        if mean is not None:
            paper_dict["difference"] = _r(mean - paper.value)
    presets = {u.name: training.preset_for(u) for u in units}
    one = results[0]
    return {
        "dataset": target.dataset,
        "target": target.name,
        "model": row.label,
        "architecture": row.model,
        "row": row.key,
        "name": row.label,
        "stream": row.stream,
        "attention": row.attention,
        "protocol": target.short_protocol,
        "protocol_details": target.protocol,
        "selection": _selection_text(target, one),
        "scheme": one.get("selection"),
        "variant": variant.name,
        "variant_details": variant.description,
        "note": variant.note,
        "comparable": comparable,
        "folds": folds,
        "mean": mean,
        "std": _r(_std(means)) if means else None,
        "pooled": _r(float(np.mean([per_seed[str(s)]["pooled"] for s in complete_seeds])))
        if complete_seeds
        else None,
        "seeds": complete_seeds,
        "per_seed": per_seed,
        "complete": len(complete_seeds) == len(seeds) and len(seeds) > 0,
        "units_planned": len(planned),
        "config": {
            "presets": presets,
            "overrides": _common_overrides(results),
            "seed_override": "seed=<seed>",
            "max_epochs": one.get("max_epochs"),
            "cv_folds": one.get("cv_folds"),
            "smooth": one.get("smooth"),
        },
        "command": common["command"],
        "hardware": hardware_text(common["hardware"]),
        "hardware_details": common["hardware"],
        "trained_with": summarize(results),
        "wall_time_s": _r(sum(r["wall_time_s"] for r in results), 1),
        "wall_time_note": "training time of the model run that gives this row (shared by the rows of one "
        "run)",
        "num_parameters": one.get("num_parameters"),
        "paper": paper_dict,
        "chosen": chosen,
        "forecast": forecast_summary(target, results),
        "quick": common["quick"],
        "skelact_version": __version__,
    }


def forecast_summary(target: Target, results: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Future-pose error (MPJPE per predicted step) of the unit results that measured it (AS-GCN's
    prediction head), pooled over units and seeds (each step's errors weighted by the joints it
    scored), and per unit (pooled over seeds), for the model and the two baselines. None if no
    result has one."""
    with_fc = [r for r in results if r.get("forecast")]
    if not with_fc:
        return None
    steps = int(with_fc[0]["forecast"]["steps"])
    methods = list(with_fc[0]["forecast"]["mpjpe"])

    def pool(group: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        weight = np.zeros(steps)  # body-frames scored per step (a step without any has no value)
        sums = {m: np.zeros(steps) for m in methods}
        for r in group:
            fc = r["forecast"]
            w = np.asarray(fc["count"], dtype=np.float64)
            weight += w
            for m in methods:
                sums[m] += [0.0 if v is None else v * wk for v, wk in zip(fc["mpjpe"][m], w, strict=True)]
        per_step = {
            m: [_r(float(v / wt), 4) if wt > 0 else None for v, wt in zip(sums[m], weight, strict=True)]
            for m in methods
        }
        mean = {m: _r(float(sums[m].sum() / weight.sum()), 4) if weight.sum() > 0 else None for m in methods}
        return {"mpjpe": per_step, "mean": mean, "body_frames": [int(v) for v in weight]}

    per_unit = {}
    for u in target.units:
        group = [r for r in with_fc if r["unit"] == u.key]
        if group:
            per_unit[u.name] = {**pool(group), "seeds": sorted({int(r["seed"]) for r in group})}
    return {
        "steps": steps,
        "pred_weight": _pred_weight(with_fc[0]),
        "observed_frames": with_fc[0]["forecast"].get("observed_frames"),
        "coord_channels": with_fc[0]["forecast"].get("coord_channels"),
        "methods": methods,
        "units": len(per_unit),
        "runs": len(with_fc),
        **pool(with_fc),
        "per_unit": per_unit,
        "note": "MPJPE in the units of the model input (after the preset's transforms); each step's error "
        "is averaged over the scored joints of all test clips, units and seeds",
    }


def _pred_weight(result: Mapping[str, Any]) -> float | None:
    """The prediction-loss weight (eq. 6's w_pred) a unit's AS-GCN was trained with."""
    try:
        from ..models.asgcn.config import resolve_config
        from ..train.config import load_config

        options = load_config(result["preset"], list(result.get("overrides") or [])).model.options
        return float(resolve_config(**dict(options)).pred_weight)
    except Exception:  # noqa: BLE001 - informative only
        return None


def _selection_text(target: Target, result: Mapping[str, Any]) -> str:
    if result.get("selection") == "cv":
        return (
            f"epochs (1..{result['max_epochs']}) and the fusion weight chosen by {result['cv_folds']}-fold "
            "cross-validation over the training subjects, then one training on all training subjects, "
            "tested once"
        )
    if result.get("selection") == "last-epoch":
        return (
            f"one training on all training subjects for {result['max_epochs']} epochs, its last epoch tested "
            f"once (weight averaging: {result.get('averaging', 'none')}); the fusion weight fixed by the "
            "preset (chosen by cross-validation over training subjects with the recipe)"
        )
    return "the preset's validation split chooses the checkpoint and the fusion weight; tested once"


def build_entries(
    results_by_target: Mapping[str, list[dict[str, Any]]],
    *,
    seeds: Sequence[int],
    models: Sequence[str],
    facts: Mapping[str, Mapping[str, Any]],
    command: str,
    hw: Mapping[str, Any],
    quick: bool,
    planned: Mapping[str, Sequence[str]] | None = None,
) -> list[dict[str, Any]]:
    """The JSON entries (one per target and row) from the unit results.

    ``planned``: the unit keys run per target (default: all of the target's units); a seed is
    complete when all of them have a result.
    """
    common = {"command": command, "hardware": dict(hw), "quick": quick}
    entries = []
    for name, results in results_by_target.items():
        target = TARGETS[name]
        units = list((planned or {}).get(name) or [u.key for u in target.units])
        for training in trainings_for(target, list(models)):
            mine = [r for r in results if r["training"] == training.key]
            if not mine:
                continue
            for row in training.rows:
                entries.append(
                    _row_entry(target, units, training, row, mine, seeds, facts.get(name, {}), common)
                )
    for e in entries:
        ablation = attention_ablation(e, entries)
        if ablation is not None:
            e["vs_without_attention"] = ablation
    return entries


def attention_ablation(
    entry: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The attention mask's effect for an ARRN-LSTM row ``entry``: its accuracy minus that of the
    RRN-LSTM row of the same stream (attention off) on the same target, paired by unit and seed
    (the same protocol split and cross-validation folds), beside the paper's differences on NTU
    RGB+D (Table 2, the only table with the ablation). None for other rows or without RRN rows."""
    if entry.get("architecture") != "arrn_lstm" or not entry.get("attention"):
        return None
    other = next(
        (
            o for o in entries
            if o["target"] == entry["target"] and o.get("architecture") == "arrn_lstm"
            and not o.get("attention") and o.get("stream") == entry.get("stream")
        ),
        None,
    )  # fmt: skip
    if other is None:
        return None
    diffs = [
        with_mask - o_seed["folds"][u]
        for s, e_seed in entry["per_seed"].items()
        if (o_seed := other["per_seed"].get(s)) is not None
        for u, with_mask in e_seed["folds"].items()
        if o_seed["folds"].get(u) is not None and with_mask is not None
    ]
    if not diffs:
        return None
    d = np.asarray(diffs, dtype=np.float64)
    paper = {}
    for ntu in ("ntu60-xsub", "ntu60-xview"):
        a, r = paper_result(ntu, str(entry["row"])), paper_result(ntu, str(other["row"]))
        if a is not None and r is not None:
            paper[ntu] = round(a.value - r.value, 2)
    sd = _std(d.tolist()) if d.size > 1 else None
    return {
        "row": other["row"],
        "name": other["name"],
        "pairs": int(d.size),
        "mean_difference": _r(float(d.mean())),
        "std_difference": _r(sd),
        "standard_error": None if sd is None else _r(sd / np.sqrt(d.size)),
        "better": int((d > 0).sum()),
        "equal": int((d == 0).sum()),
        "worse": int((d < 0).sum()),
        "paper_difference": paper,
    }


# ---------------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------------
def _figures(
    results_by_target: Mapping[str, list[dict[str, Any]]],
    entries: Sequence[Mapping[str, Any]],
    out: Path,
    work: Path,
    log: Callable[[str], None],
    records: Sequence[Path] = (),
) -> dict[str, list[tuple[str, str]]]:
    """Confusion matrices of the main row and cross-validation curves; ``{target: [(caption, path)]}``."""
    try:
        from ..viz import plot_confusion_matrix, plot_curves
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
        curves = [r for r in results if r.get("selection") == "cv"]
        first: dict[str, dict[str, Any]] = {}
        for r in curves:  # the first unit and seed of each training
            key = r["training"]
            if key not in first or (r["unit"], r["seed"]) < (first[key]["unit"], first[key]["seed"]):
                first[key] = r
        if first:
            cols: dict[str, list[float]] = {}
            epochs: list[int] = []
            for r in first.values():
                for key, row in r["rows"].items():
                    cols[f"val/acc_{key}"] = row["curve"]
                    epochs = row["epochs"]
            csv_path = work / name / "cv_curves.csv"
            png = fig_dir / f"{name}_cv_curves.png"
            r0 = next(iter(first.values()))
            try:
                csv_path.parent.mkdir(parents=True, exist_ok=True)
                with open(csv_path, "w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(["epoch", *cols])
                    for i, epoch in enumerate(epochs):
                        w.writerow([epoch - 1, *(c[i] if i < len(c) else "" for c in cols.values())])
                fig_dir.mkdir(parents=True, exist_ok=True)
                plot_curves(
                    csv_path,
                    png,
                    title=f"Cross-validation curves, {name} {r0['unit_name']}, seed {r0['seed']}",
                    dpi=70,
                )
                items.append(
                    (
                        f"Mean cross-validation accuracy per epoch over the held-out training subjects "
                        f"({r0['unit_name']}, seed {r0['seed']}; the fused curve uses each epoch's pooled "
                        "alpha): what the epochs were chosen on",
                        f"{FIGURES}/{png.name}",
                    )
                )
            except Exception as e:  # noqa: BLE001
                log(f"warning: could not draw {png.name}: {e}")
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
                plot_forecast(z["observed"], z["predicted"], z["truth"], path=png, dpi=70,
                              title=f"AS-GCN forecast, {clip}")
            items.append((
                f"The {clip}: the last observed frames, the AS-GCN forecast (true pose in grey underneath) "
                "and the true future frames",
                f"{FIGURES}/{png.name}",
            ))  # fmt: skip
        except Exception as e:  # noqa: BLE001
            log(f"warning: could not draw {png.name}: {e}")
    return items


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------
def signed_points(x: float) -> str:
    """A difference in points, one decimal with its sign; one that rounds to zero reads +0.0, never
    -0.0 (two accuracies equal up to a rounding residue, e.g. 83.02 against 83.0189)."""
    text = f"{x:+.1f}"
    return "+0.0" if text == "-0.0" else text


def _fmt(x: float | None, nd: int = 1) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def _pm(e: Mapping[str, Any]) -> str:
    if e["mean"] is None:
        return "–"
    if not e["seeds"]:  # no seed has every unit: the mean is over the units finished so far
        return f"{e['mean']:.1f} (partial: {len(e['folds'])} of {e.get('units_planned', '?')} units)"
    n = len(e["seeds"])
    if n < 2:  # no spread over seeds to show
        return f"{e['mean']:.1f} (n={n})"
    return f"{e['mean']:.1f} ± {e['std']:.1f} (n={n})"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _scope_notes(results_by_target: Mapping[str, list[dict[str, Any]]], meta: Mapping[str, Any]) -> list[str]:
    """A warning block, derived from the results themselves, where a run is smaller than the full
    protocol: fewer than 3 seeds, fewer cross-validation folds than the target's default, or some
    of the target's trainings (ablation rows, AS-GCN) not run."""
    if meta["quick"]:
        return []
    notes = []
    if len(meta["seeds"]) < 3:
        notes.append(f"{len(meta['seeds'])} seed(s); the full protocol uses 3 (`--seeds 0 1 2`)")
    for name, results in results_by_target.items():
        target = TARGETS[name]
        if not results:
            notes.append(f"{name}: no unit has finished yet, so it has no section below")
            continue
        run = {r["training"] for r in results}
        missing = [t for t in trainings_for(target, MODELS) if t.key not in run]
        if missing:
            rows = ", ".join(row.label for t in missing for row in t.rows)
            notes.append(f"{name}: not trained in this run: {rows}")
        if target.selection == "cv":
            used = sorted({r.get("cv_folds") for r in results if r.get("cv_folds")})
            if target.cv_folds is None:  # default: leave one training subject out
                reduced = any(len(f["held_out_subjects"]) > 1 for r in results for f in r.get("cv", []))
                default = "one fold per training subject"
            else:
                reduced, default = used != [target.cv_folds], str(target.cv_folds)
            if reduced:
                notes.append(f"{name}: {'/'.join(map(str, used))}-fold cross-validation (default: {default})")
    if not notes:
        return []
    return [
        "> **Reduced run**: smaller than the full protocol, so the numbers below carry more "
        "uncertainty than the paper comparison suggests. "
        + "; ".join(notes)
        + ". The same command with the defaults runs the whole protocol (resumable).",
        "",
    ]


def _markdown(
    entries: list[dict[str, Any]],
    results_by_target: Mapping[str, list[dict[str, Any]]],
    facts: Mapping[str, Mapping[str, Any]],
    figs: Mapping[str, list[tuple[str, str]]],
    meta: Mapping[str, Any],
) -> str:
    hw = meta["hardware"]
    all_results = [r for rs in results_by_target.values() for r in rs]
    lines = ["# Reproduction report", ""]
    if meta["quick"]:
        lines += [
            "> **Quick run (`--quick`)**: one unit, one seed, a few epochs, tiny networks and a few "
            "sequences. "
            "It checks the pipeline end to end; its numbers are **not** a reproduction.",
            "",
        ]
    lines += _scope_notes(results_by_target, meta)
    if not all(e["complete"] for e in entries):
        lines += [
            "> **Partial results**: some units or seeds have not finished yet (see `complete` in the JSON).",
            "",
        ]
    lines += [
        f"Generated by `skelact reproduce` (skelact {__version__}) on {meta['finished']}.",
        "",
        f"- Command: `{meta['command']}`",
        f"- Report written on: {hw.get('cpu')}, {hw.get('cpu_count')} cores"
        + (f", GPU {hw['gpu']}" if hw.get("gpu") else ", no GPU")
        + f"; torch {hw.get('torch')} ({hw.get('torch_threads')} threads), Python {hw.get('python')}",
        f"- Units trained with: {summary_text(summarize(all_results))}"
        " (`trained_with` in the JSON)",
        f"- Seeds: {', '.join(str(s) for s in meta['seeds'])}; total training time "
        f"{_duration(meta['wall_time_s'])}",
        "- Machine-readable numbers: [`reproduction.json`](reproduction.json) (the same numbers as below).",
    ]
    if meta.get("records"):
        lines.append(
            f"- Unit records: `{meta['records']}` (one `unit.json` per unit, seed and model, the results "
            "this report is built from; the command with `--report-only` rebuilds it from them on any "
            "machine, and without it trains only the units they lack)."
        )
    lines += [
        "",
        "## Summary",
        "",
        "Top-1 accuracy (%), mean ± sample standard deviation over seeds of the per-seed protocol mean.",
        "",
    ]
    rows = []
    for e in entries:
        p = e["paper"]
        rows.append([
            e["target"], e["name"], _pm(e),
            str(p["value"]) + ("" if p["comparable"] else " (other data)") if p else "not in the papers",
            (signed_points(p["difference"]) if p and p.get("difference") is not None else "–"),
            "yes" if e["comparable"] else "no (variant)",
        ])  # fmt: skip
    lines += _table(["Target", "Model", "Ours", "Paper", "Ours − paper", "Comparable data"], rows)
    lines.append("")

    for name, results in results_by_target.items():
        target = TARGETS[name]
        mine = [e for e in entries if e["target"] == name]
        if not mine:
            continue
        f = facts.get(name, {})
        lines += [
            f"## {name}",
            "",
            f"- Data: {mine[0]['variant_details']}.",
            f"- Protocol: {target.protocol}.",
            f"- Selection: {mine[0]['selection']}.",
            "",
        ]
        unit_names = list(mine[0]["folds"])
        header = ["Model", *unit_names, "Mean ± std", "Paper"]
        body = []
        for e in mine:
            p = e["paper"]
            body.append(
                [
                    e["name"],
                    *(_fmt(e["folds"].get(u)) for u in unit_names),
                    _pm(e),
                    str(p["value"]) if p else "–",
                ]
            )
        lines += [
            f"### Accuracy per {target.unit_kind} (mean over seeds)",
            "",
            "The rows this run trained (of: the two-stream model and its joint and line streams, with "
            "the attention mask (ARRN) and without it (RRN), and AS-GCN).",
            "",
        ]
        unfinished = sorted(
            {s for e in mine if e["seeds"] for s in e["per_seed"] if int(s) not in e["seeds"]}, key=int
        )
        if unfinished:
            lines += [
                "Each row averages the seeds with every unit finished (the n of its Mean column), so it "
                f"averages to that Mean; unfinished seed(s) {', '.join(unfinished)} are in the per-seed "
                "table only.",
                "",
            ]
        lines += _table(header, body) + [""]
        if any(e.get("pooled") is not None for e in mine) and target.unit_kind == "fold":
            lines += [
                "Pooled over all test sequences of all folds (mean over seeds): "
                + ", ".join(f"{e['name']} {_fmt(e['pooled'])}" for e in mine if e.get("pooled") is not None)
                + ".",
                "",
            ]
        lines += ["### Per seed", ""]
        seed_rows = []
        for e in mine:
            for s, v in e["per_seed"].items():
                seed_rows.append(
                    [e["name"], s, *(_fmt(v["folds"].get(u)) for u in unit_names), _fmt(v["mean"])]
                )
        lines += _table(["Model", "Seed", *unit_names, "Mean"], seed_rows) + [""]
        if results and results[0].get("selection") == "cv":
            lines += [
                "### Chosen settings",
                "",
                "Epoch (and fusion weight α for the two-stream rows) chosen by cross-validation, per seed "
                "(`seed: epoch` or `seed: epoch / α`); in brackets the cross-validation accuracy at that "
                "point.",
                "",
            ]
            ch_rows = []
            for e in mine:
                cells = []
                for u in unit_names:
                    per = e["chosen"].get(u, {})
                    cells.append(
                        "<br>".join(
                            f"{s}: {c['epoch']}"
                            + (f" / {c['alpha']:.2f}" if c.get("alpha") is not None else "")
                            + (f" ({c['cv_accuracy']:.1f})" if c.get("cv_accuracy") is not None else "")
                            for s, c in per.items()
                        )
                    )
                ch_rows.append([e["name"], *cells])
            lines += _table(["Model", *unit_names], ch_rows) + [""]
        else:
            lines += ["### Chosen settings", ""]
            ch_rows = [
                [
                    e["name"],
                    *(
                        "; ".join(
                            f"{s}: epoch {c.get('epoch')}"
                            + (f", α {c['alpha']:.2f}" if c.get("alpha") is not None else "")
                            for s, c in e["chosen"].get(u, {}).items()
                        )
                        for u in unit_names
                    ),
                ]
                for e in mine
            ]
            lines += _table(["Model", *unit_names], ch_rows) + [""]
        lines += _attention_section(mine)
        lines += _forecast_section(mine)
        for caption, path in figs.get(name, []):
            lines += [f"![{caption}]({path})", "", f"*{caption}.*", ""]
        if f:
            lines += _facts_section(name, f)
        lines += _gap_section(name, mine, f, meta.get("peeking"))
    lines += _protocol_section(results_by_target, meta)
    lines += _config_section(entries, results_by_target)
    lines += ["## Wall time", ""]
    wt = [
        [e["target"], e["name"], _duration(e["wall_time_s"]), str(e.get("num_parameters") or "–")]
        for e in entries
    ]
    lines += _table(["Target", "Model", "Training time (its run, all units and seeds)", "Parameters"], wt) + [
        ""
    ]
    lines += [
        f"Total: {_duration(meta['wall_time_s'])} of training: {_devices_text(all_results)}. "
        "Rows of one run share its time.",
        "",
    ]
    return "\n".join(lines).rstrip() + "\n"


def _devices_text(results: Sequence[Mapping[str, Any]]) -> str:
    """Where the training time was spent: per device the units were trained on (their records)."""
    parts = []
    for g in time_by_device(results):
        device = g["device"] or "device not recorded"
        threads = f", {g['threads']} torch thread{'' if g['threads'] == 1 else 's'}" if g["threads"] else ""
        parts.append(f"{_duration(g['wall_time_s'])} on {device} ({units_text(g['units'])}{threads})")
    return ", ".join(parts)


def _attention_section(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The attention-mask ablation (:func:`attention_ablation`) of the ARRN-LSTM rows that have one."""
    rows = []
    for e in entries:
        ab = e.get("vs_without_attention")
        if not ab:
            continue
        other = next(o for o in entries if o["row"] == ab["row"])
        spread = "" if ab["standard_error"] is None else f" ± {ab['standard_error']:.1f}"
        paper = " / ".join(signed_points(v) for v in ab["paper_difference"].values()) or "–"
        rows.append([
            f"{e['name']} vs {ab['name']}", _pm(e), _pm(other),
            f"{signed_points(ab['mean_difference'])}{spread}",
            f"{ab['better']} / {ab['equal']} / {ab['worse']} of {ab['pairs']}", paper,
        ])  # fmt: skip
    if not rows:
        return []
    lines = [
        "### The attention mask (ablation)",
        "",
        "Accuracy with the attention mask (ARRN) minus without it (RRN), stream by stream. The two "
        "runs of a unit and seed share the protocol split and the cross-validation folds, so the "
        "difference is taken pair by pair (mean ± standard error over the pairs; the count says in how "
        "many pairs the mask scored higher / the same / lower). The papers have the ablation only on "
        "NTU RGB+D (ARRN-LSTM Table 2, cross-subject / cross-view).",
        "",
    ]
    lines += _table(
        ["Rows", "With the mask", "Without", "Difference (points)", "Higher / same / lower",
         "Paper, NTU RGB+D"],
        rows,
    )  # fmt: skip
    return lines + [""]


def _forecast_section(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The future-pose table of the rows that have a forecast summary (AS-GCN)."""
    from ..evaluation.forecast import METHOD_LABELS

    lines: list[str] = []
    for e in entries:
        fc = e.get("forecast")
        if not fc:
            continue
        steps = int(fc["steps"])
        lines += [
            f"### Future-pose forecast ({e['name']} prediction head)",
            "",
            "Mean per-joint position error per predicted frame: the model sees "
            f"{fc['observed_frames']} frames and predicts the next {steps}; both baselines are scored on "
            "exactly the same targets (bodies "
            "present in the last two observed frames and in the target frame). Errors are in the units of "
            "the model input, after the preset's transforms; each step pools the test clips of "
            f"{fc['units']} unit(s) and {fc['runs']} run(s) (the final model of each unit and seed).",
            "",
        ]
        rows = [
            [METHOD_LABELS.get(m, m), *(_fmt(v, 4) for v in fc["mpjpe"][m]), _fmt(fc["mean"][m], 4)]
            for m in fc["methods"]
        ]
        lines += _table(["Method", *(f"t+{k + 1}" for k in range(steps)), "Mean"], rows) + [""]
        model, zero = fc["mean"].get("model"), fc["mean"].get("zero_velocity")
        if model is not None and zero:
            lines += [
                f"Mean error of the prediction head: {model / zero:.2f}x that of the zero-velocity baseline"
                + (
                    f", {model / fc['mean']['constant_velocity']:.2f}x that of constant velocity."
                    if fc["mean"].get("constant_velocity")
                    else "."
                ),
                "",
            ]
        if fc.get("pred_weight") is not None:
            worse = model is not None and zero is not None and model > zero
            lines += [
                f"The prediction loss enters training with weight w_pred = {fc['pred_weight']:g} "
                "(`model.options.pred_weight`; the official code's value, the paper gives none), beside "
                "the classification loss that chooses the epoch."
                + (
                    " At this weight the head does worse than repeating the last pose on these runs: its "
                    "output batch-norm starts it at displacements of unit variance. "
                    "`model.options.pred_zero_init=true` starts it at the zero-velocity prediction instead "
                    "(off here, as in the paper and the official code; a cross-validation comparison is in "
                    "`docs/models/asgcn.md`); a larger weight is one override away."
                    if worse
                    else ""
                ),
                "",
            ]
    return lines


def _facts_section(name: str, f: Mapping[str, Any]) -> list[str]:
    lines = ["### The data, counted", ""]
    lines.append(
        f"{f['num_samples']} sequences, {f.get('num_subjects')} subjects, layout `{f['layout']}`; frames per "
        f"sequence {f['frames']['min']}-{f['frames']['max']} (mean {f['frames']['mean']})."
    )
    if f["sequences_with_empty_frames"]:
        lines.append(
            f"{f['sequences_with_empty_frames']} sequences contain frames with no skeleton (all joints "
            "zero), "
            f"{f['empty_frames_total']} such frames in all; they are dropped before the T frames are sampled "
            "(`DropEmptyFrames`), leaving "
            f"{f['frames_without_empty']['min']}-{f['frames_without_empty']['max']} "
            f"frames (mean {f['frames_without_empty']['mean']}). Sequences that are empty throughout are "
            "kept as "
            f"they are (zeros) and counted: {', '.join(f['all_empty_sequences']) or 'none'}."
        )
    lines.append("")
    rows = []
    for u in f["units"]:
        where = []
        if u["all_empty_in_train"]:
            where.append("train: " + ", ".join(u["all_empty_in_train"]))
        if u["all_empty_in_test"]:
            where.append("test: " + ", ".join(u["all_empty_in_test"]))
        rows.append(
            [
                u["unit"],
                u["num_train"],
                u["num_test"],
                " ".join(f"s{s}:{n}" for s, n in u["train_per_subject"].items()),
                " ".join(f"s{s}:{n}" for s, n in u["test_per_subject"].items()),
                _fmt(u["points_per_test_sample"], 2),
                "; ".join(where) or "–",
            ]
        )
    lines += _table(
        [
            "Unit",
            "Train",
            "Test",
            "Train per subject",
            "Test per subject",
            "Points per test sequence",
            "Empty sequences",
        ],
        rows,
    )
    return lines + [""]


#: A chosen epoch in this last fraction of the epoch budget counts as late (:func:`late_choices`).
LATE_FRACTION = 0.1


def late_choices(entry: Mapping[str, Any], last: float = LATE_FRACTION) -> tuple[int, int]:
    """How many of an entry's chosen epochs fall in the last ``last`` fraction of the epoch budget.

    Returns ``(late, total)`` over every unit and seed of ``entry["chosen"]``; ``(0, 0)`` when the
    entry has no budget or no choices. Many late choices mean the cross-validation curve was still
    rising when training stopped: a longer budget may score higher.
    """
    budget = (entry.get("config") or {}).get("max_epochs")
    epochs = [c["epoch"] for seeds in (entry.get("chosen") or {}).values() for c in seeds.values()]
    if not budget or not epochs:
        return 0, 0
    return sum(ep > (1.0 - last) * budget for ep in epochs), len(epochs)


def _budget_note(entries: Sequence[Mapping[str, Any]]) -> str | None:
    parts = []
    for e in entries:
        if e.get("scheme") == "last-epoch":  # the epoch is not chosen: nothing to say
            continue
        late, total = late_choices(e)
        if total:
            parts.append(f"{e['name']} {late} of {total} ({e['config']['max_epochs']} epochs)")
    if not parts:
        return None
    return (
        f"- Training length: chosen epochs in the last {LATE_FRACTION:.0%} of the epoch budget: "
        f"{'; '.join(parts)} "
        "(per unit and seed in *Chosen settings*). Choices at the end of the budget mean the "
        "cross-validation accuracy was still rising when training stopped, so a longer budget "
        "(`--epochs N`) may score higher (a cross-validation comparison of 100 and 200 epochs is in "
        "`docs/training.md`, *Settings the papers leave open*)."
    )


def _peeking_note(name: str, mine: list[dict[str, Any]], peeking: Mapping[str, Any] | None) -> str:
    """What ``scripts/peek_at_test.py`` measured for this target (``test_peeking.json`` beside the
    report), as one sentence; empty when it has not been run."""
    if not peeking:
        return ""
    names = {e["row"]: e["name"] for e in mine}
    found = [s for s in peeking.get("summary", []) if s["target"] == name and s["row"] in names]
    if not found:
        return ""
    parts = [
        f"{names[s['row']]} {s['reported']:.1f} → {s['best_test_epoch']:.1f} ({signed_points(s['gain'])})"
        for s in found
    ]
    runs = max(s["n"] for s in found)
    return (
        f" Measured on {runs} of this run's unit-seed trainings (`scripts/peek_at_test.py`, "
        f"[{PEEKING_NAME}.md]({PEEKING_NAME}.md); a diagnostic that chose nothing here), the best test "
        f"epoch would have reported, instead of the cross-validated choice: {'; '.join(parts)}."
    )


def _gap_section(
    name: str, mine: list[dict[str, Any]], f: Mapping[str, Any], peeking: Mapping[str, Any] | None = None
) -> list[str]:
    compared = [e for e in mine if e["paper"] is not None and e["mean"] is not None]
    if not compared:
        return []
    lines = ["### Gap to the paper", ""]
    for e in compared:
        p = e["paper"]
        lines.append(
            f"- {e['name']}: ours {_pm(e)} vs {p['value']} in Table {p['table']} "
            f"({p.get('note') or 'as published'}); "
            f"difference {signed_points(p['difference'])} points."
        )
    units = f.get("units", [])
    if units:
        pts = ", ".join(
            f"{u['unit']} {u['points_per_test_sample']:.2f}" for u in units if u["points_per_test_sample"]
        )
        lines.append(
            f"- Granularity: one test sequence is worth {pts} points; the per-unit spread over seeds is in "
            "the per-seed table."
        )
    budget = _budget_note(mine)
    if budget:
        lines.append(budget)
    if name == "msr3d":
        lines.append(
            f"- Data: the release used here has {f.get('num_samples')} sequences of {f.get('num_subjects')} "
            'subjects (all kept); the paper describes MSRAction3D as "seven subjects ... three times ... '
            "4020 "
            'action samples" (Sec. 4.2), which matches no release, so the exact sequences behind 95.0 are '
            "unknown. The paper does not say which file form it used; the real-world form is the default "
            "here "
            "(the more common choice), `--msr-form screen` runs the other."
        )
    if name == "florence3d" and not mine[0]["comparable"]:
        lines.append(
            "- Data: these numbers come from the 8-joint normalised features file (elbows, wrists, knees, "
            "ankles; no torso, head or hands), not the 15-joint world coordinates of the paper: the inputs "
            "differ, so the comparison is indicative only. The same command on a folder holding "
            "`Florence_dataset_WorldCoordinates.txt` runs the paper's variant (or `--florence-file world`)."
        )
    if mine[0].get("scheme") == "last-epoch":
        lines.append(
            '- Protocol: the paper sets α "based on validation set" and gives no epochs, batch size or '
            "learning rate for the small datasets (Adam only). Here the training recipe and α were chosen "
            "once, by cross-validation over MSRAction3D training subjects (`reports/recipe.md`); each unit "
            "trains one model on all its training subjects and tests its last epoch once, so nothing is "
            "chosen per unit; a protocol that reads the best test epoch would report higher numbers on "
            "test sets of this size."
        )
    else:
        lines.append(
            '- Protocol: the paper sets α "based on validation set" and gives no epochs, batch size or '
            "learning rate for the small datasets (Adam only). Here epochs and α are chosen by "
            "cross-validation over the training subjects and the test subjects are scored once, at the "
            "chosen epoch; a protocol that reads the best test epoch would report higher numbers on test "
            "sets of this size."
            + _peeking_note(name, mine, peeking)
        )
    centring = "hip centring"
    layout = LAYOUTS.get(f.get("layout", ""))
    if layout is not None and not layout.hip_joints:
        centring = (
            f"hip centring, a no-op here: layout `{layout.name}` has no hip joints ({layout.description})"
        )
    lines.append(
        f"- Preprocessing as Sec. 4.1 ({centring}; T frames by random sampling in training, zero padding); "
        "evaluation samples T frames uniformly (the paper does not say); augmentation is ours (below), the "
        "same for every model."
    )
    return lines + [""]


#: The first lines of both small-data protocols' step lists.
_SMALL_UNIT_INTRO = (
    "Small datasets (MSRAction3D, Florence3D), for every unit (subset or outer fold), seed and model run:",
    "",
    "1. The unit's split gives the training subjects and the test subjects; the test subjects are set aside.",
)
#: How one two-stream run gives three rows (both small-data protocols).
_TWO_STREAM_ROWS = (
    "Rows from one two-stream run: the joint stream, the line stream and the fused score. The streams have "
    "separate losses (`ce_joint + ce_line`), so each stream is trained as the single-stream model would be. "
    "The run with the attention mask off gives the RRN-LSTM rows."
)


def _protocol_section(
    results_by_target: Mapping[str, list[dict[str, Any]]], meta: Mapping[str, Any]
) -> list[str]:
    lines = ["## Protocol as implemented", ""]
    cv = [r for rs in results_by_target.values() for r in rs if r.get("selection") == "cv"]
    if cv:
        r = cv[0]
        lines += [
            *_SMALL_UNIT_INTRO,
            "2. The training subjects are dealt into k folds (seeded by the seed; "
            "`skelact.data.protocols.subject_folds`): "
            + ", ".join(
                f"{n}: k = {sorted({x['cv_folds'] for x in rs if x.get('cv_folds')})}"
                for n, rs in results_by_target.items()
                if any(x.get("selection") == "cv" for x in rs)
            )
            + " (k equal to the number of training subjects is leave-one-training-subject-out).",
            f"3. Per fold, a model is trained on the other folds for up to {r['max_epochs']} epochs (the "
            "preset's "
            "`train.epochs`, or `--epochs`) and scores the held-out subjects after every epoch (joint and "
            "line "
            "stream separately for the two-stream model).",
            "4. Per row, the per-epoch accuracies are averaged over folds"
            + (f", smoothed by a centred {r['smooth']}-epoch moving average," if r["smooth"] > 1 else "")
            + " and the best epoch is taken (ties: the earlier). For the fused row, α is chosen at every "
            "epoch on "
            "the pooled out-of-fold scores of all folds (grid 0, 0.05, ..., 1; ties: closest to 0.5), the "
            "fused curve "
            "uses that α, and α is the one of the chosen epoch.",
            "5. One model is trained on all training subjects up to the latest chosen epoch; the test "
            "subjects are "
            "scored once at each row's chosen epoch (the fused row with its α). Nothing is chosen on test "
            "subjects "
            "(checked on sample positions and subjects for every unit).",
            "",
            _TWO_STREAM_ROWS,
            "",
            "Preprocessing and regularisation (read from the configs listed below; the augmentation, not in "
            "the "
            "papers, is the same for every model):",
            "",
            "- `DropEmptyFrames`: frames without a skeleton are removed before sampling (MSRAction3D has "
            "them; a "
            "sequence that is empty throughout is kept as zeros).",
            f"- Augmentation (`--augment {meta.get('augment')}`): "
            + (
                "none."
                if meta.get("augment") == "none"
                else "random rotation (`RandomRotate`: about the vertical axis and slightly about the "
                "others) where the "
                "coordinates are metric 3-D positions (not for Florence3D's normalised features or "
                "MSRAction3D's "
                "screen form), random scale (`RandomScale`) and random time warp (`TimeWarp`); training only."
            ),
            "",
        ]
        lines += _settings_table(cv)
    last = [r for rs in results_by_target.values() for r in rs if r.get("selection") == "last-epoch"]
    if last:
        lines += [
            *_SMALL_UNIT_INTRO,
            f"2. One model is trained on all training subjects for the preset's {last[0]['max_epochs']} "
            "epochs with the small-data recipe (learning rate decaying to zero, weight averaging "
            f"`{last[0].get('averaging', 'none')}`; chosen once by cross-validation over MSRAction3D "
            "training subjects, `reports/recipe.md`).",
            "3. Its last epoch (the averaged weights) scores the test subjects once; the fused row uses the "
            "preset's fixed α (chosen with the recipe). Nothing is chosen per unit, on training or test "
            "subjects (the training and test subjects are checked to be disjoint for every unit).",
            "",
            _TWO_STREAM_ROWS,
            "",
            f"Augmentation (`--augment {meta.get('augment')}`, the same for every model): "
            + ("none." if meta.get("augment") == "none" else "random rotation where the coordinates are "
               "metric 3-D positions, random scale and random time warp; training only."),
            "",
        ]
        lines += _settings_table(last)
    if any(r.get("selection") == "validation" for rs in results_by_target.values() for r in rs):
        lines += [
            "Large datasets (NTU RGB+D, Kinetics): the table presets as they are (`skelact train` engine): "
            "the "
            "preset's validation split picks the checkpoint and α, the test split is evaluated once; the "
            "joint "
            "and line rows are the streams of the two-stream checkpoint.",
            "",
        ]
    return lines


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

            return resolve_config(**{k: v for k, v in options.items()}).dropout
    except Exception:  # noqa: BLE001 - informative only
        pass
    return "default"


def _settings_table(results: Sequence[Mapping[str, Any]]) -> list[str]:
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
            r["target"], r["training"], f"{o.name} lr {o.lr:g}, wd {o.weight_decay:g}",
            _schedule(t.schedule),
            "none" if t.averaging.name == "none" else f"{t.averaging.name} {t.averaging.decay:g}",
            str(d.batch_size), str(d.frames), str(_dropout(cfg.model.name, opts)), str(width),
            str(r.get("num_parameters") or "–"),
            " → ".join(s["name"] if isinstance(s, dict) else str(s) for s in d.train_transforms),
            " → ".join(s["name"] if isinstance(s, dict) else str(s) for s in d.test_transforms),
        ])  # fmt: skip
    if not rows:
        return []
    return _table(
        [
            "Target",
            "Run",
            "Optimiser",
            "Schedule",
            "Weight averaging",
            "Batch",
            "T",
            "Dropout",
            "Width",
            "Parameters",
            "Training transforms",
            "Evaluation transforms",
        ],
        rows,
    ) + [""]


def _config_section(
    entries: list[dict[str, Any]], results_by_target: Mapping[str, list[dict[str, Any]]]
) -> list[str]:
    lines = [
        "## Configs and commands",
        "",
        "Every number above comes from the command at the top. Per model run: the preset (per unit) and the "
        "overrides the reproduction adds (plus `seed=<seed>`; the training and test positions come from the "
        "protocol). The final training of a unit is the same as `skelact train PRESET OVERRIDES` "
        "(with the cross-validated protocol also `train.epochs=<chosen epoch> fusion.alpha=<chosen α>`; "
        "the protocol split's training part is all training subjects).",
        "",
    ]
    seen = set()
    for e in entries:
        key = (e["target"], tuple(e["config"]["presets"].values()))
        if key in seen:
            continue
        seen.add(key)
        presets = sorted(set(e["config"]["presets"].values()))
        names = [
            x["name"]
            for x in entries
            if x["target"] == e["target"] and tuple(x["config"]["presets"].values()) == key[1]
        ]
        lines += [
            f"**{e['target']}: {', '.join(names)}**: preset{'s' if len(presets) > 1 else ''} "
            + ", ".join(f"`{p}`" for p in presets),
            "",
            "```",
            *e["config"]["overrides"],
            "```",
            "",
        ]
    return lines


def _read_peeking(out: Path) -> dict[str, Any] | None:
    """``test_peeking.json`` in the report folder (written by ``scripts/peek_at_test.py``), if any."""
    path = out / f"{PEEKING_NAME}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not readable as the output of scripts/peek_at_test.py ({e})") from e


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
        results_by_target,
        seeds=seeds,
        models=models,
        facts=facts,
        command=command,
        hw=hw,
        quick=quick,
        planned=planned,
    )
    records = () if results_dir is None else (Path(results_dir),)
    figs = _figures(results_by_target, entries, out, Path(work_dir), log, records)
    total = sum(r["wall_time_s"] for rs in results_by_target.values() for r in rs)
    shown = None  # the records folder as the report names it: relative to the report when inside
    if results_dir is not None:
        rd, top = Path(results_dir).resolve(), out.resolve()
        shown = f"{rd.relative_to(top)}/" if rd.is_relative_to(top) else str(results_dir)
    meta = {
        "hardware": hw, "command": command, "quick": quick, "seeds": list(seeds), "wall_time_s": total,
        "augment": augment, "peeking": _read_peeking(out), "records": shown,
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip
    json_path, md_path = out / JSON_NAME, out / MD_NAME
    for path, text in (
        (json_path, json.dumps(entries, indent=1, allow_nan=False) + "\n"),
        (md_path, _markdown(entries, results_by_target, facts, figs, meta)),
    ):
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return json_path, md_path, entries
