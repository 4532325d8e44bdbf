"""The reproduction report's data: one JSON entry per target and table row, from the unit results.

Every number is computed from the unit results (:mod:`skelact.repro.protocol`), the data
(:func:`data_facts`) and the paper tables (:mod:`skelact.repro.paper`); nothing is typed in.
``reproduction.json`` is the list of entries::

    {"dataset", "target", "model", "row", "name", "stream", "attention", "protocol", "variant",
     "comparable", "folds": {unit: mean accuracy over the seeds of "seeds"}, "mean", "std", "pooled", "seeds",
     "per_seed": {seed: {"folds": {unit: accuracy}, "mean"}}, "complete", "units_planned", "config",
     "command", "hardware", "trained_with", "wall_time_s", "paper",
     "chosen": {unit: {seed: {"epoch", "alpha"}}}, "goal", "selection", "quick", "skelact_version"}

Accuracies are top-1 in percent. ``mean`` is the mean over seeds of each seed's mean over units
(MSRAction3D: the average of AS1-AS3, as the paper; Florence3D: the mean over the 10 folds);
``std`` is the sample standard deviation (ddof = 1) of those per-seed means; ``pooled`` the
accuracy over all test sequences of all units (mean over seeds). While no seed has every unit
(``seeds`` empty, ``complete`` false), ``mean`` is over the units finished so far and the report
says so ("partial: k of ``units_planned`` units"). ``folds`` averages the same seeds as ``mean``
(the complete ones, while there are any), so its mean over units equals ``mean``; a seed still
running shows only in ``per_seed``. ``hardware`` is the machine that wrote the report;
``trained_with`` counts the row's unit results per skelact version, git commit, torch and device
they were trained with (:mod:`skelact.repro.provenance`). ``goal`` is the project's goal for the
row (:mod:`skelact.repro.goals`: ``text``, ``met``, and for a leave-one-subject-out row that misses
it ``folds``, what its folds say: :func:`~skelact.repro.goals.fold_evidence`) or None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._version import __version__
from ..data.facts import store_facts
from ..models.asgcn.config import resolve_config as asgcn_config
from ..train import config as train_config
from .goals import fold_evidence, goal_for
from .paper import paper_result
from .provenance import summarize
from .targets import TARGETS, Row, Target, Training, trainings_for
from .templating import load_data

__all__ = ["Variant", "attention_ablation", "build_entries", "data_facts", "forecast_summary", "variant_of"]


def data_facts(target: Target, store: Any) -> dict[str, Any]:
    """Counts measured on the store (:func:`~skelact.data.facts.store_facts`), per unit of ``target``."""
    return store_facts(store, [(u.name, u.protocol, u.fold) for u in target.units])


@dataclass(frozen=True)
class Variant:
    """The data a target ran on: a short name, a description, comparability with the paper."""

    name: str
    description: str
    comparable: bool
    note: str | None = None


#: The data variants' names and texts, from ``variants.yaml`` beside this module.
_VARIANTS = load_data("variants.yaml")


def variant_of(target: Target, facts: Mapping[str, Any]) -> Variant:
    """Which variant of the data the store holds (from its layout and channels)."""
    fill = {"n": facts.get("num_samples"), "layout": facts.get("layout"), "dataset": facts.get("dataset")}
    for v in [*_VARIANTS["targets"].get(target.name, ()), _VARIANTS["default"]]:
        if all(facts.get(key) == value for key, value in v.get("when", {}).items()):
            name, text = v["name"].format(**fill), v["description"].format(**fill)
            return Variant(name, text, v["comparable"], v.get("note"))
    raise AssertionError("variants.yaml: the default matches every store")


def hardware_text(hw: Mapping[str, Any]) -> str:
    """One line: CPU, cores, GPU, torch."""
    gpu = f", GPU {hw['gpu']}" if hw.get("gpu") else ", no GPU"
    threads = hw.get("torch_threads")
    return f"{hw.get('cpu')}, {hw.get('cpu_count')} cores{gpu}; torch {hw.get('torch')} ({threads} threads)"


def _std(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _r(x: float | None, nd: int = 4) -> float | None:
    """Round for the JSON. Four decimals, so that the one-decimal Markdown formatted from these
    numbers equals the raw value's (two decimals made 15/19 = 78.947 into 78.95 and then "79.0")."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), nd)


def _selection_text(result: Mapping[str, Any]) -> str:
    if result.get("selection") == "last-epoch":
        return (
            f"one training on all training subjects for {result['max_epochs']} epochs, its last epoch tested "
            f"once (weight averaging: {result.get('averaging', 'none')}); the fusion weight fixed by the "
            "preset (chosen by cross-validation over training subjects with the recipe)"
        )
    return "the preset's validation split chooses the checkpoint and the fusion weight; tested once"


def _row_entry(
    target: Target, planned: Sequence[str], training: Training, row: Row, results: list[dict[str, Any]],
    seeds: Sequence[int], facts: Mapping[str, Any], common: Mapping[str, Any],
) -> dict[str, Any]:  # fmt: skip
    cell = {(r["unit"], r["seed"]): r["rows"][row.key] for r in results}  # the row's result per unit, seed
    units = [u for u in target.units if any(r["unit"] == u.key for r in results)]
    per_seed: dict[str, Any] = {}
    complete = []  # the seeds with every planned unit
    for seed in seeds:
        got = {u.name: cell[(u.key, seed)] for u in units if (u.key, seed) in cell}
        if not got:
            continue
        correct = sum(np.trace(np.asarray(c["confusion_matrix"])) for c in got.values())
        total = sum(c["num_samples"] for c in got.values())
        per_seed[str(seed)] = {
            "folds": {k: _r(c["top1"]) for k, c in got.items()},
            "mean": _r(float(np.mean([c["top1"] for c in got.values()]))),
            "pooled": _r(100.0 * correct / total) if total else None,
        }
        if len(got) == len(planned):
            complete.append(seed)
    means = [per_seed[str(s)]["mean"] for s in complete] or [v["mean"] for v in per_seed.values()]
    # per unit, the mean over the same seeds as ``mean`` (the complete ones), so that the per-unit
    # row averages to the Mean column; an unfinished seed shows only in ``per_seed``
    folds = {
        u.name: _r(float(np.mean([cell[k]["top1"] for s in complete or seeds if (k := (u.key, s)) in cell])))
        for u in units
    }
    chosen = {
        u.name: {
            str(s): {k: v for k in ("epoch", "alpha") if (v := cell[(u.key, s)].get(k)) is not None}
            for s in seeds if (u.key, s) in cell
        }
        for u in units
    }  # fmt: skip
    paper = paper_result(target.name, row.key)
    variant = variant_of(target, facts)
    mean = _r(float(np.mean(means))) if means else None
    paper_dict = None
    if paper is not None:
        paper_dict = {**paper.to_dict(), "comparable": variant.comparable}
        if mean is not None:
            paper_dict["difference"] = _r(mean - paper.value)
    goal = goal_for(target.name, row.key)
    one = results[0]
    overrides = [[o for o in r["overrides"] if not o.startswith("seed=")] for r in results]
    return {
        "dataset": target.dataset, "target": target.name, "model": row.label, "architecture": row.model,
        "row": row.key, "name": row.label, "stream": row.stream, "attention": row.attention,
        "protocol": target.short_protocol, "protocol_details": target.protocol,
        "selection": _selection_text(one), "scheme": one.get("selection"),
        "variant": variant.name, "variant_details": variant.description, "note": variant.note,
        "comparable": variant.comparable, "folds": folds, "mean": mean,
        "std": _r(_std(means)) if means else None,
        "pooled": _r(float(np.mean([per_seed[str(s)]["pooled"] for s in complete]))) if complete else None,
        "seeds": complete, "per_seed": per_seed,
        "complete": len(complete) == len(seeds) and len(seeds) > 0, "units_planned": len(planned),
        "config": {
            "presets": {u.name: training.preset_for(u) for u in units},
            "overrides": [o for o in overrides[0] if all(o in other for other in overrides)],  # common to all
            "seed_override": "seed=<seed>", "max_epochs": one.get("max_epochs"),
        },
        "command": common["command"], "hardware": hardware_text(common["hardware"]),
        "hardware_details": common["hardware"], "trained_with": summarize(results),
        "wall_time_s": _r(sum(r["wall_time_s"] for r in results), 1),
        "wall_time_note": "training time of the model run that gives this row (shared by the rows of one "
        "run)", "num_parameters": one.get("num_parameters"), "paper": paper_dict, "chosen": chosen,
        "goal": None if goal is None or mean is None else {
            "text": goal.text,  # a spread over seeds needs two seeds or more
            "met": goal.met({"mean": mean, "std": _r(_std(means)) if len(means) > 1 else None})},
        "forecast": forecast_summary(target, results), "quick": common["quick"],
        "skelact_version": __version__,
    }  # fmt: skip


def forecast_summary(target: Target, results: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Future-pose error (MPJPE per predicted step) of the unit results that measured it (AS-GCN's
    prediction head), pooled over units and seeds (each step's errors weighted by the joints it
    scored), and per unit (pooled over seeds), for the model and the two baselines. None if no
    result has one."""
    with_fc = [r for r in results if r.get("forecast")]
    if not with_fc:
        return None
    first = with_fc[0]["forecast"]
    steps, methods = int(first["steps"]), list(first["mpjpe"])

    def pool(group: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        weight = np.zeros(steps)  # body-frames scored per step (a step without any has no value)
        sums = {m: np.zeros(steps) for m in methods}
        for r in group:
            fc, w = r["forecast"], np.asarray(r["forecast"]["count"], dtype=np.float64)
            weight += w
            for m in methods:
                sums[m] += [0.0 if v is None else v * wk for v, wk in zip(fc["mpjpe"][m], w, strict=True)]
        total = weight.sum()
        return {
            "mpjpe": {
                m: [_r(float(v / k), 4) if k > 0 else None for v, k in zip(sums[m], weight, strict=True)]
                for m in methods
            },
            "mean": {m: _r(float(sums[m].sum() / total), 4) if total > 0 else None for m in methods},
            "body_frames": [int(v) for v in weight],
        }  # fmt: skip

    per_unit = {}
    for u in target.units:
        group = [r for r in with_fc if r["unit"] == u.key]
        if group:
            per_unit[u.name] = {**pool(group), "seeds": sorted({int(r["seed"]) for r in group})}
    return {
        "steps": steps, "pred_weight": _pred_weight(with_fc[0]),
        "observed_frames": first.get("observed_frames"), "coord_channels": first.get("coord_channels"),
        "methods": methods, "units": len(per_unit),
        "runs": len(with_fc), **pool(with_fc), "per_unit": per_unit,
        "note": "MPJPE in the units of the model input (after the preset's transforms); each step's error "
        "is averaged over the scored joints of all test clips, units and seeds",
    }  # fmt: skip


def _pred_weight(result: Mapping[str, Any]) -> float | None:
    """The prediction-loss weight (eq. 6's w_pred) a unit's AS-GCN was trained with."""
    try:
        cfg = train_config.load_config(result["preset"], list(result.get("overrides") or []))
        return float(asgcn_config(**dict(cfg.model.options)).pred_weight)
    except Exception:  # noqa: BLE001 - informative only
        return None


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
            for row in training.rows if mine else ():
                entries.append(_row_entry(target, units, training, row, mine, seeds, facts.get(name, {}),
                                          common))  # fmt: skip
    for e in entries:
        ablation = attention_ablation(e, entries)
        if ablation is not None:
            e["vs_without_attention"] = ablation
        if e["goal"] is not None and not e["goal"]["met"] and TARGETS[e["target"]].unit_kind == "fold":
            goal = goal_for(e["target"], e["row"])
            assert goal is not None  # the entry's goal came from it
            e["goal"]["folds"] = fold_evidence(e, entries, results_by_target[e["target"]], goal)
    return entries


def attention_ablation(
    entry: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The attention mask's effect for an ARRN-LSTM row ``entry``: its accuracy minus that of the
    RRN-LSTM row of the same stream (attention off) on the same target, paired by unit and seed
    (the same protocol split), beside the paper's differences on NTU RGB+D (Table 2, the only table
    with the ablation). None for other rows or without RRN rows."""
    if entry.get("architecture") != "arrn_lstm" or not entry.get("attention"):
        return None
    other = next((
        o for o in entries
        if o["target"] == entry["target"] and o.get("architecture") == "arrn_lstm"
        and not o.get("attention") and o.get("stream") == entry.get("stream")
    ), None)  # fmt: skip
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
        "row": other["row"], "name": other["name"], "pairs": int(d.size),
        "mean_difference": _r(float(d.mean())), "std_difference": _r(sd),
        "standard_error": None if sd is None else _r(sd / np.sqrt(d.size)),
        "better": int((d > 0).sum()), "equal": int((d == 0).sum()), "worse": int((d < 0).sum()),
        "paper_difference": paper,
    }  # fmt: skip
