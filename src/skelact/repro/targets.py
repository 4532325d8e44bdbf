"""What ``skelact reproduce TARGET`` runs: datasets, evaluation units, trainings and table rows.

A *target* is a dataset with its paper protocol, cut into *units* (MSRAction3D: the subsets AS1,
AS2, AS3; Florence3D: the 10 leave-one-subject-out folds; NTU / Kinetics: the one split). For each
unit and seed, *trainings* run (one per model configuration) and each gives one or more *rows* of
the result tables:

* ``arrn_lstm``: a two-stream ARRN-LSTM (attention mask on) gives three rows, its joint stream,
  its line stream and the fused two-stream score (eq. 12); the same network with the mask off
  (RRN-LSTM) gives the three RRN rows. The streams are trained with independent losses
  (``ce_joint + ce_line``), so each stream is the single-stream model of the ablation.
* ``asgcn``: one AS-GCN, one row (not in the papers for these small datasets; a comparison).

How a unit is trained and tested (the small targets' last-epoch protocol, the large ones' validation
split) is :mod:`skelact.repro.protocol`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .templating import load_data

__all__ = [
    "ASGCN_SMALL_WIDTH", "DEFAULT_WORK_DIR", "MODELS", "QUICK_WIDTH", "TARGETS", "Row", "Target",
    "Training", "Unit",
    "get_target", "trainings_for",
]  # fmt: skip

MODELS = ("arrn_lstm", "asgcn")
#: Stores, caches and runs of ``skelact reproduce`` (relative to the working directory).
DEFAULT_WORK_DIR = Path("work_dirs") / "reproduce"


@dataclass(frozen=True)
class Row:
    """One row of a result table."""

    key: str  # e.g. "arrn_two_stream"
    label: str  # e.g. "Two-stream ARRN-LSTM"
    head: str  # scores it is read from: "joint", "line", "fused" or "logits"
    model: str  # "arrn_lstm" or "asgcn"
    stream: str | None = None  # ARRN-LSTM: "joint", "line" or "two_stream"
    attention: bool | None = None  # ARRN-LSTM: attention mask (ARRN) or not (RRN)


@dataclass(frozen=True)
class Training:
    """One model configuration trained per unit and seed; ``preset`` has a ``{unit}`` field."""

    key: str  # "arrn", "rrn", "asgcn"
    model: str
    preset: str
    rows: tuple[Row, ...]
    overrides: tuple[str, ...] = ()

    def preset_for(self, unit: Unit) -> str:
        return self.preset.format(unit=unit.preset)


@dataclass(frozen=True)
class Unit:
    """One subset / fold / split of a target's protocol."""

    key: str  # "as1", "fold01", "xsub"
    name: str  # "AS1", "fold 1" (subject 1 tested), "xsub"
    protocol: str
    preset: str  # the preset stem: "msr3d_as1", "florence3d_loso", "ntu60_xsub"
    fold: int | None = None


@dataclass(frozen=True)
class Target:
    """A dataset and its paper protocol."""

    name: str
    dataset: str  # store dataset name
    raw_folder: str  # its folder name under the shared data root
    units: tuple[Unit, ...]
    #: "cv": small data, the recipe chosen by cross-validation over training subjects, each unit
    #: trained once and read at its last epoch; "validation": the preset's validation split
    selection: str
    protocol: str  # human-readable protocol
    models: tuple[str, ...] = MODELS
    unit_kind: str = "subset"
    short_protocol: str = ""


def _arrn_rows(att: bool) -> tuple[Row, ...]:
    tag, name = ("arrn", "ARRN") if att else ("rrn", "RRN")
    return (
        Row(f"{tag}_joint", f"Joint-{name}-LSTM", "joint", "arrn_lstm", "joint", att),
        Row(f"{tag}_line", f"Line-{name}-LSTM", "line", "arrn_lstm", "line", att),
        Row(f"{tag}_two_stream", f"Two-stream {name}-LSTM", "fused", "arrn_lstm", "two_stream", att),
    )


ARRN_TRAININGS = (
    Training("arrn", "arrn_lstm", "arrn_lstm/{unit}_two_stream_arrn", _arrn_rows(True)),
    Training("rrn", "arrn_lstm", "arrn_lstm/{unit}_two_stream_rrn", _arrn_rows(False)),
)
ASGCN_TRAINING = Training("asgcn", "asgcn", "asgcn/{unit}", (Row("asgcn", "AS-GCN", "logits", "asgcn"),))
ALL_TRAININGS = (*ARRN_TRAININGS, ASGCN_TRAINING)
#: Single trainings selectable by key (``--models arrn`` runs only the attention-on ARRN-LSTM).
TRAINING_KEYS = tuple(t.key for t in ALL_TRAININGS if t.key not in MODELS)

def _units(spec: dict[str, Any] | list[dict[str, Any]]) -> tuple[Unit, ...]:
    """A target's units from ``targets.yaml``: listed, or ``each`` k of one pattern."""
    if isinstance(spec, list):
        return tuple(Unit(**u) for u in spec)
    fields = {k: v for k, v in spec.items() if k != "each"}
    return tuple(
        Unit(**{k: int(v.format(k=i)) if k == "fold" else v.format(k=i) for k, v in fields.items()})
        for i in range(1, spec["each"] + 1)
    )


#: The targets, their units and the width overrides, from ``targets.yaml`` beside this module.
_DATA = load_data("targets.yaml")
#: AS-GCN for ~100-200 training sequences: the first six blocks of the paper's backbone at half width.
ASGCN_SMALL_WIDTH: tuple[str, ...] = tuple(_DATA["asgcn_small_width"])
#: ``--quick``: tiny networks, for checking the pipeline end to end in seconds.
QUICK_WIDTH: dict[str, tuple[str, ...]] = {model: tuple(o) for model, o in _DATA["quick_width"].items()}
TARGETS: dict[str, Target] = {
    name: Target(name, **{**t, "units": _units(t["units"]), "models": tuple(t.get("models", MODELS))})
    for name, t in _DATA["targets"].items()
}


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise ConfigError(f"unknown reproduce target {name!r}; known: {', '.join(TARGETS)}") from None


def trainings_for(target: Target, models: tuple[str, ...] | list[str]) -> list[Training]:
    """The trainings a target runs for ``models`` (those the target has a preset for).

    ``models`` holds model names (``arrn_lstm`` = both ARRN trainings, ``asgcn``) and / or single
    training keys (``arrn``: attention on, ``rrn``: attention off), so a smaller budget can run a
    subset of the ablation rows with the same protocol.
    """
    unknown = sorted(set(models) - set(MODELS) - set(TRAINING_KEYS))
    if unknown:
        known = ", ".join((*MODELS, *TRAINING_KEYS))
        raise ConfigError(f"unknown model(s) {', '.join(unknown)}; known: {known}")
    return [  # table order, whatever the order asked
        t for t in ALL_TRAININGS if t.model in target.models and (t.model in models or t.key in models)
    ]
