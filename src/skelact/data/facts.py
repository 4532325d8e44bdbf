"""Counts measured on a prepared store: sequences, subjects, lengths, frames without a skeleton,
and per split the samples of each subject (what a report says about the data it ran on)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from . import protocols
from .store import SkeletonStore

__all__ = ["store_facts"]


def store_facts(store: SkeletonStore, splits: Iterable[tuple[str, str, int | None]] = ()) -> dict[str, Any]:
    """Counts of ``store`` and of each split ``(name, protocol, fold)`` in ``splits`` (a split the
    store lacks the fields for is left out): samples per subject, points one test sample is worth,
    sequences empty throughout; frame counts with and without the empty frames (all joints zero)."""
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
    for name, protocol, fold in splits:
        try:
            split = protocols.split(store, protocol, fold)
        except Exception:  # noqa: BLE001 - a store without the fields: facts are optional
            continue
        tr, te = np.asarray(split["train"]), np.asarray(split["test"])
        units.append({
            "unit": name,
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
