"""The reproduction protocol: per unit and seed, train once and test once.

Small datasets (``selection="cv"`` targets: MSRAction3D subsets, Florence3D folds): one model per
training (:mod:`skelact.repro.targets`), unit and seed is trained on all the unit's training
subjects with the preset's recipe, and its last epoch tests the test subjects once
(:func:`_run_last_epoch_unit`). The recipe and the fusion weight were chosen beforehand by
cross-validation over training subjects (:mod:`skelact.repro.recipe`), so nothing is chosen per
unit. (The earlier protocol chose an epoch per unit by cross-validation and retrained; its report
and records are kept in ``reports/earlier/2026-12-02/``.)

Each unit is cached in the work directory (``<work>/<target>/<training>/<unit>/seed_<s>/``) under a
fingerprint of everything that determines it (the resolved config, :func:`config_digest`, so an
edited preset file is not served from the cache; the split; the protocol settings), so an
interrupted run continues where it stopped. The data enter the fingerprint as the checksums of the
prepared store (:func:`store_identity`), not as its path, so a result is found again under another
work directory or with a ``--store`` prepared elsewhere from the same files.

The work directory lives on one machine. A finished unit's result (``unit.json``, and for AS-GCN
the forecast example the report draws) is also written to the *unit records* folder
(``Context.results_dir``; ``skelact reproduce`` uses ``<out>/units``), which is small enough to
commit beside the report: a fresh clone rebuilds the report from it (``--report-only``) and a run on
another machine continues from it, training only the units it lacks. A record is used only when its
fingerprint matches, exactly like the work directory's.

Large datasets (``selection="validation"``; NTU, Kinetics) run the table presets as they are
(:func:`skelact.train.runner.run_experiment`, with the preset's validation split choosing the
checkpoint and alpha); two-stream ARRN-LSTM checkpoints are scored once more per stream.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import yaml

from ..data import protocols
from ..data.store import SkeletonStore
from ..errors import ConfigError
from ..evaluation import accuracy_summary, assert_disjoint, fused_probabilities
from .provenance import unit_provenance
from .targets import ASGCN_SMALL_WIDTH, QUICK_WIDTH, Target, Training, Unit

__all__ = [
    "Context",
    "augmentation_specs",
    "publish",
    "build_config",
    "config_digest",
    "store_identity",
    "evenly",
    "run_unit",
    "unit_path",
]

#: Transforms that fix the sequence length (the augmentation goes before them).
LENGTH_TRANSFORMS = ("RandomSample", "UniformSample", "PadTo", "RandomCrop")
AUGMENT_POLICIES = ("standard", "strong", "none")
#: Per policy: (max rotation about the vertical axis, about the other two, in degrees; scale range
#: half-width; time-warp strength).
_AUGMENT_STRENGTH = {"standard": (15.0, 5.0, 0.1, 0.2), "strong": (30.0, 10.0, 0.2, 0.3)}
#: The small-data protocol: train once on all training subjects, read the last epoch (with the
#: recipe's weight average), the fusion weight fixed by the preset (:mod:`skelact.repro.recipe`).
PROTOCOL = "last-epoch"
RESULT_FILE = "unit.json"
#: The unit records folder inside the report folder (``skelact reproduce --out``).
RECORDS_DIR = "units"
#: One test clip and the final AS-GCN's forecast of it (for the report's figure).
FORECAST_EXAMPLE = "forecast_example.npz"
#: ``--quick``: at most this many training / test sequences per unit (evenly spaced).
QUICK_TRAIN, QUICK_TEST = 48, 32


@dataclass
class Context:
    """Settings shared by every unit of a reproduction run."""

    target: Target
    store_path: Path
    work_dir: Path
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int | None = None  # maximum epochs (default: the preset's train.epochs)
    augment: str = "standard"
    quick: bool = False
    command: str = ""
    #: only collect unit results already in the work directory (train nothing; missing: None)
    cached_only: bool = False
    #: the unit records folder (see the module docstring): finished units are written there and
    #: read back from there when the work directory lacks them; None: the work directory only
    results_dir: Path | None = None
    log: Callable[[str], None] = field(default=lambda s: print(s, file=sys.stderr, flush=True))
    _store: SkeletonStore | None = None

    @property
    def store(self) -> SkeletonStore:
        if self._store is None:
            self._store = SkeletonStore(self.store_path)
        return self._store


# ---------------------------------------------------------------------------------------------
# configs
# ---------------------------------------------------------------------------------------------
def _flow(value: Any) -> str:
    return str(yaml.safe_dump(value, default_flow_style=True, width=1 << 20, sort_keys=False)).strip()


def _specs(specs: Sequence[Any]) -> list[dict[str, Any]]:
    return [dict(s) if isinstance(s, dict) else {"name": str(s)} for s in specs]


def augmentation_specs(policy: str, store: SkeletonStore, train_specs: Sequence[Any]) -> list[dict[str, Any]]:
    """The training augmentation of ``policy`` for data of ``store`` (the same for every model).

    ``standard``: a random rotation (up to 15 degrees about the vertical axis, 5 about the other two)
    where the coordinates are metric 3-D positions (MSRAction3D real-world form, Florence3D world
    file, NTU; not the screen form and not Florence3D's normalised features), a random scale in
    [0.9, 1.1] and a random time warp (speed 0.8-1.2 in 4 pieces). ``strong``: twice the angles
    (30 and 10 degrees), scale in [0.8, 1.2], time warp 0.7-1.3. ``none``: nothing.
    """
    if policy not in AUGMENT_POLICIES:
        raise ConfigError(f"augment must be one of {', '.join(AUGMENT_POLICIES)}, got {policy!r}")
    if policy == "none":
        return []
    names = [s["name"] for s in _specs(train_specs)]
    metric = list(store.manifest.get("channels") or []) == ["x", "y", "z"] and store.layout != "florence8"
    angle, tilt, scale, warp = _AUGMENT_STRENGTH[policy]
    out: list[dict[str, Any]] = []
    if metric:
        vertical = "z" if "PreNormalize3D" in names else "y"  # PreNormalize3D puts the spine on z
        out.append({"name": "RandomRotate", "max_angle": angle, "max_tilt": tilt, "vertical": vertical})
    out += [
        {"name": "RandomScale", "low": round(1.0 - scale, 6), "high": round(1.0 + scale, 6)},
        {"name": "TimeWarp", "strength": warp, "knots": 4},
    ]
    return out


def _insert_before_length(specs: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pos = next((i for i, s in enumerate(specs) if s["name"] in LENGTH_TRANSFORMS), len(specs))
    return specs[:pos] + extra + specs[pos:]


def _drop_empty(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if any(s["name"] == "DropEmptyFrames" for s in specs):
        return specs
    return [{"name": "DropEmptyFrames"}, *specs]


def build_config(ctx: Context, training: Training, unit: Unit, seed: int) -> tuple[Any, str, list[str]]:
    """``(config, preset name, overrides)`` of one training: the preset plus the reproduction's
    overrides (store, seed, data handling, augmentation, width, epochs)."""
    from ..train.config import load_config

    preset = training.preset_for(unit)
    base = load_config(preset)
    overrides = [f"data.store={ctx.store_path}"]
    if ctx.target.selection == "cv":
        train = _drop_empty(_specs(base.data.train_transforms))
        train = _insert_before_length(train, augmentation_specs(ctx.augment, ctx.store, train))
        test = _drop_empty(_specs(base.data.test_transforms))
        overrides += [
            "data.num_workers=0",  # ~100 sequences: worker start-up costs more than loading
            "data.validation.fraction=0.0",  # selection is by cross-validation (this module)
            "fusion.fit=false",  # alpha is chosen by cross-validation and applied here
            f"data.train_transforms={_flow(train)}",
            f"data.test_transforms={_flow(test)}",
        ]
        if training.model == "asgcn" and not ctx.quick:
            overrides += list(ASGCN_SMALL_WIDTH)
    overrides += list(training.overrides)
    if ctx.quick:
        overrides += list(QUICK_WIDTH[training.model])
        if ctx.target.selection != "cv":
            overrides += ["data.num_workers=0", "train.progress=false"]
        if training.model == "asgcn":
            overrides.append("train.aim.warmup_epochs=1")
    epochs = ctx.epochs if ctx.epochs is not None else (2 if ctx.quick else None)
    if epochs is not None:
        overrides.append(f"train.epochs={int(epochs)}")
    overrides.append(f"seed={int(seed)}")
    return load_config(preset, overrides), preset, overrides


def _result_header(
    ctx: Context, training: Training, unit: Unit, seed: int, fingerprint: str, dataset: Any, selection: str
) -> dict[str, Any]:
    """The identifying fields every unit result starts with (both selection schemes)."""
    return {
        "fingerprint": fingerprint,
        "target": ctx.target.name,
        "dataset": dataset,
        "training": training.key,
        "model": training.model,
        "unit": unit.key,
        "unit_name": unit.name,
        "protocol": unit.protocol,
        "fold": unit.fold,
        "seed": seed,
        "selection": selection,
        "trained_with": unit_provenance(),  # provenance only, not part of the fingerprint
    }


# ---------------------------------------------------------------------------------------------
# caching
# ---------------------------------------------------------------------------------------------
def _fingerprint(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


#: Config settings added after results were recorded: at these defaults they are left out of
#: :func:`config_digest`, so the results recorded before they existed keep their fingerprints
#: (a new config setting must be added here, or every committed unit record is trained again).
ADDED_AT_DEFAULT: tuple[tuple[str, str, Any], ...] = (
    ("train", "averaging", {"name": "none", "decay": 0.99}),
)


def config_digest(cfg: Any, store: str | None = None) -> str:
    """A digest of the resolved config ``cfg`` (preset files, ``_base_`` chain and overrides applied):
    part of every cache fingerprint, so a changed preset file invalidates the units trained with it.
    Settings of :data:`ADDED_AT_DEFAULT` at their default are left out.
    ``store``: what stands for ``data.store`` in the digest instead of its path."""
    from ..train.config import config_to_dict

    data = config_to_dict(cfg)
    for section, key, default in ADDED_AT_DEFAULT:
        if data.get(section, {}).get(key) == default:  # a setting added later, left at its default
            del data[section][key]
    if store is not None:
        data.setdefault("data", {})["store"] = store
    return _fingerprint(data)


def store_identity(ctx: Context) -> str:
    """What identifies the data of a reproduction in its fingerprints: the checksums of the prepared
    store's files (``manifest.json``), so the same data prepared under another path give the same
    fingerprints; the store's path for a store whose manifest has no checksums."""
    sums = ctx.store.manifest.get("checksum") or {}
    if not any(k != "algorithm" for k in sums):
        return str(ctx.store_path)
    return f"store:{_fingerprint(sums)}"


def unit_fingerprint(
    ctx: Context, cfg: Any, preset: str, overrides: Sequence[str], extra: dict[str, Any]
) -> str:
    """The fingerprint a unit result is saved and found under: the preset, the overrides and the
    resolved config (:func:`config_digest`) with the data as :func:`store_identity` instead of the
    store's path, plus the protocol settings ``extra``."""
    identity = store_identity(ctx)
    by_path = f"data.store={ctx.store_path}"
    return _fingerprint({
        "preset": preset,
        "overrides": [f"data.store={identity}" if o == by_path else o for o in overrides],
        "config": config_digest(cfg, store=identity),
        **extra,
    })  # fmt: skip


def _write_json(data: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _load_cached(path: Path, fingerprint: str) -> dict[str, Any] | None:
    """The result saved at ``path`` when it has ``fingerprint``, else None."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if data.get("fingerprint") == fingerprint else None


def _save_npz(path: Path, arrays: dict[str, Any]) -> None:
    """Write ``arrays`` to ``path`` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# one unit
# ---------------------------------------------------------------------------------------------
def evenly(idx: np.ndarray, k: int) -> np.ndarray:
    """At most ``k`` of the sorted positions ``idx``, evenly spaced (all of them if fewer)."""
    positions = np.asarray(idx)
    if len(positions) <= k:
        return positions
    out: np.ndarray = positions[np.unique(np.linspace(0, len(positions) - 1, k).round().astype(np.int64))]
    return out


def _digest(idx: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(idx, dtype=np.int64).tobytes()).hexdigest()[:16]


def _unit_split(ctx: Context, unit: Unit) -> tuple[np.ndarray, np.ndarray]:
    """The unit's training and test positions (``--quick``, a smoke test: a few sequences of
    every subject)."""
    split = protocols.split(ctx.store, unit.protocol, unit.fold)
    train_idx, test_idx = np.asarray(split["train"]), np.asarray(split["test"])
    if ctx.quick:
        train_idx, test_idx = evenly(train_idx, QUICK_TRAIN), evenly(test_idx, QUICK_TEST)
    return train_idx, test_idx


def unit_path(root: Path, target: str, training: str, unit: str, seed: int) -> Path:
    """The folder of one unit and seed under ``root`` (a work directory or a unit records folder):
    ``<root>/<target>/<training>/<unit>/seed_<seed>``."""
    return Path(root) / target / training / unit / f"seed_{seed}"


def _unit_dir(ctx: Context, training: Training, unit: Unit, seed: int) -> Path:
    return unit_path(ctx.work_dir, ctx.target.name, training.key, unit.key, seed)


def _record_dir(ctx: Context, training: Training, unit: Unit, seed: int) -> Path | None:
    if ctx.results_dir is None:
        return None
    return unit_path(ctx.results_dir, ctx.target.name, training.key, unit.key, seed)


def publish(
    ctx: Context,
    training: Training,
    unit: Unit,
    seed: int,
    result: dict[str, Any],
) -> None:
    """Write ``result`` (and its forecast example, when the work directory has one) to the unit
    records folder. A record there with the result's fingerprint is kept as it is: the records are
    what reports are built from, so a unit trained again elsewhere does not replace one."""
    record_dir = _record_dir(ctx, training, unit, seed)
    if record_dir is None or _load_cached(record_dir / RESULT_FILE, result["fingerprint"]) is not None:
        return
    _write_json(result, record_dir / RESULT_FILE)
    example = _unit_dir(ctx, training, unit, seed) / FORECAST_EXAMPLE
    if example.is_file():
        with np.load(example) as z:
            _save_npz(record_dir / FORECAST_EXAMPLE, {k: z[k] for k in z.files})
    else:
        (record_dir / FORECAST_EXAMPLE).unlink(missing_ok=True)  # one of an older result


def _earlier(
    ctx: Context,
    training: Training,
    unit: Unit,
    seed: int,
    label: str,
    unit_dir: Path,
    fingerprint: str,
) -> tuple[bool, dict[str, Any] | None]:
    """``(True, result)`` for a unit done earlier with ``fingerprint`` (in the records folder or
    the work directory), ``(True, None)`` for one not run yet under ``ctx.cached_only`` (nothing to
    do either way), else ``(False, None)``."""
    what = f"{label} {training.key} {unit.name} seed {seed}"
    record_dir = _record_dir(ctx, training, unit, seed)
    for path in ([] if record_dir is None else [record_dir / RESULT_FILE]) + [unit_dir / RESULT_FILE]:
        cached = _load_cached(path, fingerprint)
        if cached is not None:
            ctx.log(f"{what}: done earlier ({path})")
            if path.parent == unit_dir:  # e.g. trained before the records folder existed
                publish(ctx, training, unit, seed, cached)
            return True, cached
    if ctx.cached_only:
        ctx.log(f"{what}: not run yet (left out of the report)")
        return True, None
    return False, None


def run_unit(
    ctx: Context, training: Training, unit: Unit, seed: int, *, label: str = ""
) -> dict[str, Any] | None:
    """Run (or load from the work directory) one training of one unit and seed; returns its
    result (also written to ``unit.json`` in the unit's directory), or None when
    ``ctx.cached_only`` and it has not been run."""
    if ctx.target.selection == "cv":
        return _run_last_epoch_unit(ctx, training, unit, seed, label)
    return _run_validation_unit(ctx, training, unit, seed, label)


def _run_last_epoch_unit(
    ctx: Context, training: Training, unit: Unit, seed: int, label: str
) -> dict[str, Any] | None:
    """The ``last-epoch`` protocol: one training on all training subjects for the preset's epochs;
    the test subjects are scored once, after the last epoch (with the weight average when the
    recipe keeps one); the fused row uses the preset's fixed ``fusion.alpha``. Nothing is chosen
    here, so nothing here can be chosen on the test subjects."""
    from ..train.fit import fit_and_score

    cfg, preset, overrides = build_config(ctx, training, unit, seed)
    train_idx, test_idx = _unit_split(ctx, unit)
    subjects = np.asarray(ctx.store.index["subject"])
    assert_disjoint([train_idx], test_idx, subjects)
    epochs = int(cfg.train.epochs)
    alpha = cfg.fusion.alpha
    if alpha is None and any(row.head == "fused" for row in training.rows):
        raise ConfigError(
            f"{preset}: the last-epoch protocol needs a fixed fusion.alpha in the preset (chosen by "
            "cross-validation over training subjects with the recipe: scripts/choose_recipe.py)"
        )
    rows = {row.key: row.head for row in training.rows}
    forecast = training.model == "asgcn"
    fingerprint = unit_fingerprint(ctx, cfg, preset, overrides, {
        "protocol": PROTOCOL, "epochs": epochs, "train": _digest(train_idx), "test": _digest(test_idx),
        "rows": rows, "alpha": alpha, "forecast": int(forecast),
    })  # fmt: skip
    unit_dir = _unit_dir(ctx, training, unit, seed)
    done, earlier = _earlier(ctx, training, unit, seed, label, unit_dir, fingerprint)
    if done:
        return earlier
    what = (
        f"{label} {training.key} {unit.name} seed {seed}: training on all {len(train_idx)} training "
        f"sequences for {epochs} epochs, test ({len(test_idx)}) scored after the last"
    )
    ctx.log(f"{what} ...")
    final = fit_and_score(cfg, train_idx, test_idx, epochs=epochs, score_epochs=[epochs], forecast=forecast)
    ctx.log(f"{what}: {final.wall_time_s:.0f} s")
    if final.forecast_example is not None:
        _save_npz(unit_dir / FORECAST_EXAMPLE, final.forecast_example)
    num_classes = len(final.class_names)
    results: dict[str, Any] = {}
    for row in training.rows:
        if row.head == "fused":
            assert alpha is not None
            probs = fused_probabilities(final.scores["joint"][-1], final.scores["line"][-1], alpha)
        else:
            probs = final.scores[row.head][-1]
        results[row.key] = {
            **accuracy_summary(probs, final.labels, num_classes),
            "head": row.head, "epoch": epochs, "alpha": alpha if row.head == "fused" else None,
        }  # fmt: skip
    result = {
        **_result_header(ctx, training, unit, seed, fingerprint, ctx.store.dataset, "last-epoch"),
        "preset": preset,
        "overrides": overrides,
        "max_epochs": epochs,
        "averaging": cfg.train.averaging.name,
        "split": {
            "num_train": int(len(train_idx)), "num_test": int(len(test_idx)),
            "train_subjects": np.unique(subjects[train_idx]).tolist(),
            "test_subjects": np.unique(subjects[test_idx]).tolist(),
        },
        "test_positions": np.asarray(test_idx).tolist(),
        "final": {"epochs": [epochs], "wall_time_s": round(final.wall_time_s, 2)},
        "rows": results,
        "class_names": final.class_names,
        "num_parameters": final.num_parameters,
        "forecast": None if final.forecast is None else {**final.forecast, "epoch": epochs},
        "wall_time_s": round(final.wall_time_s, 2),
    }  # fmt: skip
    _write_json(result, unit_dir / RESULT_FILE)
    publish(ctx, training, unit, seed, result)
    return result


def _run_validation_unit(
    ctx: Context, training: Training, unit: Unit, seed: int, label: str
) -> dict[str, Any] | None:
    import torch

    from ..evaluation.scores import collect_scores
    from ..train.checkpoint import load_trained
    from ..train.data import SkeletonDataModule
    from ..train.runner import run_experiment

    cfg, preset, overrides = build_config(ctx, training, unit, seed)
    unit_dir = _unit_dir(ctx, training, unit, seed)
    fingerprint = unit_fingerprint(ctx, cfg, preset, overrides, {})
    done, earlier = _earlier(ctx, training, unit, seed, label, unit_dir, fingerprint)
    if done:
        return earlier
    run_dir = unit_dir / "run"
    ctx.log(f"{label} {training.key} {unit.name} seed {seed}: training {preset} into {run_dir} ...")
    started = time.time()
    metrics = run_experiment(cfg, run_dir, resume=(run_dir / "config.yaml").exists(), command=ctx.command)
    test = metrics["test"]
    k = len(test["class_names"])
    fusion = metrics.get("fusion") or {}
    results: dict[str, Any] = {}
    epoch = int(metrics["checkpoint"]["epoch"]) + 1
    if any(row.head in ("joint", "line") for row in training.rows):
        model, saved, spec = load_trained(run_dir / metrics["checkpoint"]["evaluated"])
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model.to(device)
        dm = SkeletonDataModule(saved, spec=spec)
        scores, labels = collect_scores(model, dm.eval_dataloader("test"), device)
        if fusion.get("alpha") is not None:
            alpha = float(fusion["alpha"])
        else:
            alpha = float(cast(torch.Tensor, model.fusion_alpha))
        for row in training.rows:
            if row.head == "fused":
                probs = fused_probabilities(scores["joint"], scores["line"], alpha)
            else:
                probs = scores[row.head]
            results[row.key] = {
                **accuracy_summary(probs, labels, k),
                "head": row.head,
                "epoch": epoch,
                "alpha": alpha if row.head == "fused" else None,
            }
    else:
        for row in training.rows:
            results[row.key] = {
                "top1": float(test["top1"]),
                "top5": float(test["top5"]),
                "num_samples": int(test["num_samples"]),
                "confusion_matrix": test["confusion_matrix"],
                "head": row.head,
                "epoch": epoch,
                "alpha": None,
            }
    result = {
        **_result_header(ctx, training, unit, seed, fingerprint, metrics.get("dataset"), "validation"),
        "preset": preset,
        "overrides": overrides,
        "max_epochs": int(cfg.train.epochs),
        "split": {k_: int(v) for k_, v in metrics.get("num_samples", {}).items()},
        "fusion": fusion or None,
        "rows": results,
        "class_names": test["class_names"],
        "forecast": metrics.get("forecast"),  # AS-GCN's prediction head on the test split
        "run_dir": str(run_dir),
        "wall_time_s": round(float(metrics.get("wall_time_s") or time.time() - started), 2),
    }
    _write_json(result, unit_dir / RESULT_FILE)
    publish(ctx, training, unit, seed, result)
    return result
