"""Kinetics-skeleton JSON (OpenPose COCO-18, 2D + confidence; layout ``openpose18``).

File format (one clip per file, as released by the ST-GCN authors)::

    {"data": [{"frame_index": 1,                                  # 1-based
               "skeleton": [{"pose": [x0, y0, ..., x17, y17],       # 36 numbers in [0, 1]
                             "score": [s0, ..., s17]}, ...]},       # 18 OpenPose confidences
              ...],
     "label": "<class name>", "label_index": <int>}

Output: ``Skeleton.data`` float32 ``(T, M, 18, 3)`` with channels ``x, y, score`` exactly as in the
file (no centring, no padding: those are transforms). ``T`` is the largest ``frame_index``; output
frame ``t`` holds ``frame_index == t + 1``; frames that are missing or list nobody are zeros.

Body selection (``body_selection``), among the first ``candidates`` persons listed in each frame
(ST-GCN's ``num_person_in = 5``; ``None`` = all):

* ``"score"`` (default, ST-GCN's ``feeder_kinetics``): in every frame, rank the persons by the sum
  of their joint scores and keep the best ``max_bodies`` (2), best first (ties keep file order).
* ``"max_confidence"`` (AS-GCN's variant, used with ``max_bodies=1``): persons are identified by
  their position in each frame's list; keep the ``max_bodies`` positions with the highest average
  joint confidence over all ``T`` frames (a frame where the position is empty counts as 0).

Labels: ``meta["label"]`` is the file's ``label_index`` unless ``label_map`` is given: a
``{clip id or class name: index}`` mapping, or a path to ``kinetics_*_label.json`` (``{clip id:
{"label_index": ...}}``) or ``label_name.txt`` (one class name per line, line ``i`` = index ``i``);
the clip id is looked up first, then the file's ``label`` name. Some redistributed train clips carry
rewritten indices (see ``PROVENANCE.md`` of the shared data), which a label map corrects.

NTU RGB+D clips converted to this format (file names ``SsssCcccPpppRrrrAaaa*.json``, e.g. the
``ntu_rgb_openpose_json`` samples) carry the **1-based** NTU action number in ``label_index``; for
such names the label comes from the name (``action - 1``), with ``setup``, ``camera``, ``subject``
and ``replication``, and ``meta["dataset"]`` is ``"ntu-openpose"``.

Metadata: ``sample`` (file stem), ``dataset``, ``label``, ``label_name`` (the file's ``label``),
``label_index_file`` (the raw ``label_index``), ``label_source`` (``"file"``, ``"label_map"`` or
``"name"``), ``channels``, ``persons_per_frame`` (int ``(T,)``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError, SkeletonFormatError
from ..skeleton import Skeleton
from ._options import as_choice, as_int
from .ntu import parse_name as parse_ntu_name

LAYOUT = "openpose18"
NUM_JOINTS = 18
CHANNELS = ("x", "y", "score")
SELECTIONS = ("score", "max_confidence")
# Sanity bound on frame_index (Kinetics clips have <= 300 frames): a corrupt index must not make
# the reader allocate gigabytes.
MAX_FRAME_INDEX = 100_000


def sniff(head: bytes) -> bool:
    """Whether the start of a file looks like JSON (an object)."""
    return head.lstrip()[:1] == b"{"


def samples(
    raw: bytes,
    path: str,
    name: str,
    *,
    max_bodies: int = 2,
    body_selection: str = "score",
    candidates: int | None = 5,
    label_map: str | os.PathLike[str] | Mapping[str, Any] | None = None,
) -> Iterator[Skeleton]:
    """Yield the one clip of a Kinetics-skeleton JSON file (see the module docstring)."""
    as_choice("body_selection", body_selection, SELECTIONS)
    max_bodies = as_int("max_bodies", max_bodies)
    candidates = None if candidates is None else as_int("candidates", candidates)
    mapping = _label_map(label_map) if label_map is not None else None

    doc = _parse_json(raw, path)
    # JSON booleans would pass NumPy's number check as 0/1: look at every value if any is present.
    strict = b"true" in raw or b"false" in raw
    frames, ranks, poses, scores, num_frames, persons = _collect(doc, path, candidates, strict)
    values = np.empty((frames.size, NUM_JOINTS, 3), dtype=np.float64)  # (P, 18, 3) one row per person
    values[:, :, 0] = poses[:, 0::2]
    values[:, :, 1] = poses[:, 1::2]
    values[:, :, 2] = scores

    slot = _slots(frames, ranks, scores, num_frames, max_bodies, body_selection)
    keep = slot >= 0
    data = np.zeros((num_frames, max_bodies, NUM_JOINTS, 3), dtype=np.float32)
    data[frames[keep], slot[keep]] = values[keep]

    sample = name[:-5] if name.lower().endswith(".json") else name
    meta: dict[str, Any] = {"sample": sample, "dataset": "kinetics", "channels": CHANNELS}
    label_name = doc.get("label")
    label_index = _as_int(doc.get("label_index"))
    if isinstance(label_name, str):
        meta["label_name"] = label_name
    if label_index is not None:
        meta["label_index_file"] = label_index
    ntu = parse_ntu_name(sample)
    if ntu:
        meta.update(ntu, dataset="ntu-openpose", label_source="name")
    elif mapping is not None and (found := _lookup(mapping, sample, label_name)) is not None:
        meta.update(label=found, label_source="label_map")
    elif label_index is not None:
        meta.update(label=label_index, label_source="file")
    meta["persons_per_frame"] = persons
    yield Skeleton(data=data, layout=LAYOUT, meta=meta)


# --- parsing ---------------------------------------------------------------------------------


def _as_int(value: Any) -> int | None:
    """``value`` if it is a JSON integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parse_json(raw: bytes, path: str) -> dict[str, Any]:
    if not raw.strip():
        raise SkeletonFormatError(path, "file is empty", line=1)
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as e:
        raise SkeletonFormatError(path, f"invalid JSON: {e.msg} (column {e.colno})", line=e.lineno) from None
    except UnicodeDecodeError as e:
        raise SkeletonFormatError(path, f"invalid JSON: not UTF-8 text ({e.reason})") from None
    except RecursionError:
        raise SkeletonFormatError(path, "invalid JSON: nested too deeply") from None
    if not isinstance(doc, dict):
        found = type(doc).__name__
        raise SkeletonFormatError(path, f"expected a JSON object at the top level, found {found}")
    return doc


def _collect(
    doc: dict[str, Any], path: str, candidates: int | None, strict: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
    """Persons of all frames as flat arrays.

    Returns:
        frames (P,) int: output frame (``frame_index - 1``); ranks (P,) int: position in the frame's
        list; poses (P, 36) and scores (P, 18) float64; T; persons per frame (T,) int.
    """
    data = doc.get("data")
    if not isinstance(data, list):
        raise SkeletonFormatError(path, "missing or invalid 'data' list")
    if not data:
        raise SkeletonFormatError(path, "'data' holds no frames")
    frame_of: list[int] = []
    rank_of: list[int] = []
    pose_rows: list[Any] = []
    score_rows: list[Any] = []
    seen: dict[int, int] = {}
    listed: dict[int, int] = {}
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise SkeletonFormatError(path, f"data[{i}]: expected an object, found {type(item).__name__}")
        index = _as_int(item.get("frame_index"))
        if index is None or not 1 <= index <= MAX_FRAME_INDEX:
            raise SkeletonFormatError(
                path,
                f"data[{i}]: 'frame_index' must be an integer in 1..{MAX_FRAME_INDEX}, "
                f"got {item.get('frame_index')!r}",
            )
        if index in seen:
            message = f"data[{i}]: frame_index {index} already used by data[{seen[index]}]"
            raise SkeletonFormatError(path, message)
        seen[index] = i
        people = item.get("skeleton")
        if not isinstance(people, list):
            message = f"data[{i}] (frame_index {index}): missing or invalid 'skeleton' list"
            raise SkeletonFormatError(path, message)
        listed[index] = len(people)
        for m, person in enumerate(people if candidates is None else people[:candidates]):
            if not isinstance(person, dict) or "pose" not in person or "score" not in person:
                raise SkeletonFormatError(
                    path, f"data[{i}] (frame_index {index}): person {m + 1} needs 'pose' and 'score'"
                )
            frame_of.append(index - 1)
            rank_of.append(m)
            pose_rows.append(person["pose"])
            score_rows.append(person["score"])
    num_frames = max(seen)
    poses = _matrix(pose_rows, 2 * NUM_JOINTS, "pose", path, frame_of, rank_of, seen, strict)
    scores = _matrix(score_rows, NUM_JOINTS, "score", path, frame_of, rank_of, seen, strict)
    persons = np.zeros(num_frames, dtype=np.int64)
    persons[np.fromiter(listed, dtype=np.int64, count=len(listed)) - 1] = list(listed.values())
    return (np.asarray(frame_of, dtype=np.int64), np.asarray(rank_of, dtype=np.int64), poses, scores,
            num_frames, persons)


def _matrix(
    rows: list[Any],
    width: int,
    key: str,
    path: str,
    frame_of: list[int],
    rank_of: list[int],
    seen: dict[int, int],
    strict: bool,
) -> np.ndarray:
    """Stack per-person number lists into float64 ``(P, width)``; locate the first bad row.

    ``strict`` forces the per-value type check (NumPy would silently read JSON ``true`` as 1).
    """
    if not rows:
        return np.zeros((0, width), dtype=np.float64)
    try:
        arr = np.asarray(rows)
    except (ValueError, TypeError, OverflowError):
        arr = None
    if strict or arr is None or arr.ndim != 2 or arr.shape[1] != width or arr.dtype.kind not in "iuf":
        for p, row in enumerate(rows):  # find the first offending person
            if not isinstance(row, list) or len(row) != width:
                found = f"{len(row)} values" if isinstance(row, list) else f"a {type(row).__name__}"
                message = f"'{key}' has {found}, expected {width} numbers"
                raise _person_error(path, seen, frame_of[p], rank_of[p], message)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row):
                message = f"'{key}' holds a value that is not a number"
                raise _person_error(path, seen, frame_of[p], rank_of[p], message)
        try:
            arr = np.asarray(rows, dtype=np.float64)
        except OverflowError:
            arr = np.full((len(rows), width), np.inf)
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        message = f"'{key}' has a value that is not finite"
        raise _person_error(path, seen, frame_of[bad], rank_of[bad], message)
    return arr


def _person_error(
    path: str, seen: dict[int, int], frame: int, rank: int, message: str
) -> SkeletonFormatError:
    index = frame + 1
    where = f"data[{seen[index]}] (frame_index {index}), person {rank + 1}"
    return SkeletonFormatError(path, f"{where}: {message}")


# --- body selection --------------------------------------------------------------------------


def _slots(
    frames: np.ndarray, ranks: np.ndarray, scores: np.ndarray, num_frames: int, max_bodies: int,
    body_selection: str,
) -> np.ndarray:
    """Output slot of each person record, -1 if not kept.

    Args:
        frames, ranks: int64 ``(P,)`` output frame and list position of each person record.
        scores: float64 ``(P, 18)`` joint confidences.
    """
    if frames.size == 0:
        return np.zeros(0, dtype=np.int64)
    width = int(ranks.max()) + 1
    total = scores.sum(axis=1)  # (P,) summed joint confidence
    if body_selection == "max_confidence":
        # Average confidence per list position over all T frames (empty = 0), best first.
        mean = np.bincount(ranks, total, minlength=width) / (num_frames * NUM_JOINTS)
        order = np.argsort(-mean, kind="stable")[:max_bodies]
        new = np.full(width, -1, dtype=np.int64)
        new[order] = np.arange(order.size)
        slots: np.ndarray = new[ranks]
        return slots
    # ST-GCN: per frame, rank by summed score (stable: ties keep the listed order).
    grid = np.full((num_frames, width), -np.inf)
    grid[frames, ranks] = total
    order = np.argsort(-grid, axis=1, kind="stable")  # (T, width) list positions, best first
    place = np.empty_like(order)
    np.put_along_axis(place, order, np.arange(width)[None, :], axis=1)  # rank of each position
    slot = place[frames, ranks]
    kept: np.ndarray = np.where(slot < max_bodies, slot, -1)
    return kept


# --- labels ----------------------------------------------------------------------------------


def _lookup(mapping: Mapping[str, Any], sample: str, label_name: Any) -> int | None:
    for key in (sample, label_name):
        if isinstance(key, str) and key in mapping:
            value = mapping[key]
            if isinstance(value, Mapping):
                value = value.get("label_index")
            if _as_int(value) is not None:
                return int(value)
    return None


def _label_map(source: str | os.PathLike[str] | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    try:
        stat = path.stat()
    except OSError as e:
        raise ConfigError(f"label_map: cannot read {path}: {e.strerror}") from None
    return _read_label_map(str(path), stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _read_label_map(path: str, mtime_ns: int) -> Mapping[str, Any]:
    """Read a label file once per (path, mtime): JSON ``{key: index | {"label_index": index}}`` or
    a text file of class names (line ``i`` = index ``i``)."""
    with open(path, "rb") as f:
        raw = f.read()
    if path.lower().endswith(".json"):
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise ConfigError(f"label_map: {path} is not valid JSON ({e})") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"label_map: {path} must hold a JSON object")
        return doc
    names = raw.decode("utf-8", errors="replace").splitlines()
    return {line.strip(): i for i, line in enumerate(names) if line.strip()}
