"""NTU RGB+D / NTU RGB+D 120 ``.skeleton`` files (Kinect v2, 25 joints, layout ``ntu25``).

File format (text, LF or CRLF)::

    <num_frames>
    per frame:  <num_bodies>
      per body: <bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence
                 handRightState isRestricted leanX leanY trackingState>        (10 values)
                <num_joints = 25>
                per joint: x y z depthX depthY colorX colorY
                           orientationW orientationX orientationY orientationZ trackingState

Output: ``Skeleton.data`` float32 ``(T, M, 25, C)``, ``M = max_bodies`` (zero-padded), frames
without a body are zeros. Channels default to ``x, y, z`` (metres, camera space); any of the 12
per-joint fields can be requested by name (``channels=("x", "y", "z", "trackingState")`` or
``channels="all"``).

Body selection (``body_selection``):

* ``"energy"`` (default), as the official AS-GCN / 2s-AGCN ``read_xyz``: the bodies are put in
  *slots* by their position in each frame's list, the first ``candidates`` (4) slots are read, and
  the ``max_bodies`` slots with the largest motion energy are kept, in decreasing energy. The energy
  of a slot is ``std(x) + std(y) + std(z)`` over all joints of the frames in which the slot holds a
  body with non-zero coordinates (``get_nonzero_std``). Ties keep file order (the official code's
  ``argsort()[::-1]`` reverses exact ties; exact ties between non-empty slots do not occur in
  practice).
* ``"first"``, as ST-GCN's ``ntu_read_skeleton``: the first ``max_bodies`` bodies listed in each
  frame.
* ``"track"``, PYSKL-like denoising after the NTU preprocessing of Zhang et al. (View Adaptive
  networks, ``get_raw_denoised_data.py``): bodies are tracked by ``bodyID``; a track is noise if it
  appears in at most ``noise_length`` (11) frames, or if more than ``noise_spread_ratio``
  (0.69754) of its frames are wider than ``noise_spread`` (0.8) times their height (x extent vs y
  extent of the joints; people are taller than wide, false detections are not). If every track is
  noise, none is dropped. The remaining tracks are ranked by the energy above and packed greedily
  into ``max_bodies`` slots: a track joins the first slot whose frames it does not overlap (so a
  person whose id changes mid-sequence stays in one slot), else it is dropped.

Metadata (``Skeleton.meta``): ``sample`` (file stem), ``dataset`` ("ntu"), ``channels``; from the
file name ``SsssCcccPpppRrrrAaaa``: ``setup``, ``camera``, ``subject`` (performer), ``replication``,
``action`` (1-based) and ``label`` (``action - 1``); ``bodies_per_frame`` (int ``(T,)``, bodies
listed in each frame) and ``body_ids`` (int64 ``(T, M)``, the Kinect ``bodyID`` in each output
slot, -1 where empty).

Two readers give bit-identical results. The compiled one (``_cntu.c``, built by ``setup.py``
where a C compiler is available) reads a regular file (single spaces, LF or CRLF line ends) in one
pass, checking every count and line length and converting only the requested columns. Anything
it does not accept (irregular whitespace, any error) goes to the vectorised NumPy reader (see
:mod:`._text`), which also serves builds without a compiler and ``SKELACT_NO_C=1``: it walks the
structure with integer arithmetic over token indices and raises the located
:class:`~skelact.SkeletonFormatError`. Both convert numbers exactly as ``float()`` does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from ..skeleton import Skeleton
from . import _text
from ._options import as_choice, as_float, as_int

try:  # the optional compiled reader (setup.py builds it where a C compiler is available)
    from . import _cntu
except ImportError:  # pragma: no cover - depends on the build
    _cntu = None  # type: ignore[assignment]

#: Environment variable: ``1`` switches the compiled reader off (the NumPy reader then reads all).
NO_C_ENV = "SKELACT_NO_C"
_UNLIMITED = 1 << 62  # "no list-position limit"

LAYOUT = "ntu25"
NUM_JOINTS = 25
BODY_VALUES = 10  # values on a body header line
JOINT_VALUES = 12  # values on a joint line
BODY_TOKENS = BODY_VALUES + 1 + NUM_JOINTS * JOINT_VALUES  # 311

FIELDS = (
    "x", "y", "z", "depthX", "depthY", "colorX", "colorY",
    "orientationW", "orientationX", "orientationY", "orientationZ", "trackingState",
)
_FIELD_INDEX = {name.lower(): i for i, name in enumerate(FIELDS)}
SELECTIONS = ("energy", "first", "track")

NAME_PATTERN = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")

_TWENTY_FIVE = ord("2") | ord("5") << 8  # b"25" as a little-endian uint16
# Line-ending token offsets inside one body block: header (10th value), joint count, each joint row.
_BODY_LINE_ENDS = np.array(
    [BODY_VALUES - 1, BODY_VALUES] + [BODY_VALUES + JOINT_VALUES * (j + 1) for j in range(NUM_JOINTS)]
)


def parse_name(name: str) -> dict[str, int]:
    """Sample facts from an NTU name ``SsssCcccPpppRrrrAaaa`` (NTU60 and NTU120, S001-S032).

    Returns ``{}`` if the name does not contain the pattern; else ``setup``, ``camera``,
    ``subject``, ``replication``, ``action`` (1-based, as in the name) and ``label`` (0-based).
    """
    match = NAME_PATTERN.search(name)
    if match is None:
        return {}
    setup, camera, subject, replication, action = (int(g) for g in match.groups())
    return {
        "setup": setup, "camera": camera, "subject": subject, "replication": replication,
        "action": action, "label": action - 1,
    }


def read_missing_list(path: str | Path) -> set[str]:
    """Read an official "samples with missing skeletons" list.

    Accepts both released forms: the ROSE Lab files (an English header, a blank line, then one
    name per line) and ST-GCN's copy (names only). Any line that is not an NTU sample name
    (optionally followed by ``.skeleton``) is skipped.

    Returns:
        the set of sample names, e.g. ``{"S001C002P005R002A008", ...}``.
    """
    names = set()
    with open(path, "rb") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            name = parts[0].decode("ascii", errors="replace").removesuffix(".skeleton")
            if len(parts) == 1 and NAME_PATTERN.fullmatch(name):
                names.add(name)
    return names


def sniff(head: bytes) -> bool:
    """Whether the start of a file looks like an NTU ``.skeleton`` file."""
    lines = head.split(b"\n", 3)[:3]
    if len(lines) < 2:
        return False
    try:
        num_frames, num_bodies = int(lines[0]), int(lines[1])
    except ValueError:
        return False
    return num_frames >= 1 and (num_bodies == 0 or (len(lines) == 3 and len(lines[2].split()) == BODY_VALUES))


def _channel_columns(channels: str | Sequence[str]) -> tuple[tuple[str, ...], list[int]]:
    """Canonical names and column indices of the requested per-joint fields."""
    if isinstance(channels, str):
        channels = FIELDS if channels.lower() == "all" else (channels,)
    if not isinstance(channels, Sequence):
        raise ConfigError(f"channels: expected field names or 'all', got {channels!r}")
    names, cols = [], []
    for ch in channels:
        col = _FIELD_INDEX.get(str(ch).lower())
        if col is None:
            raise ConfigError(f"channels: unknown NTU field {ch!r}; known: {', '.join(FIELDS)} or 'all'")
        names.append(FIELDS[col])
        cols.append(col)
    if not cols:
        raise ConfigError("channels: at least one channel is needed")
    return tuple(names), cols


def samples(
    raw: bytes,
    path: str,
    name: str,
    *,
    channels: str | Sequence[str] = ("x", "y", "z"),
    body_selection: str = "energy",
    max_bodies: int = 2,
    candidates: int = 4,
    noise_length: int = 11,
    noise_spread: float = 0.8,
    noise_spread_ratio: float = 0.69754,
) -> Iterator[Skeleton]:
    """Yield the one sequence of an NTU ``.skeleton`` file (see the module docstring)."""
    names, cols = _channel_columns(channels)
    as_choice("body_selection", body_selection, SELECTIONS)
    max_bodies = as_int("max_bodies", max_bodies)
    candidates = max(as_int("candidates", candidates), max_bodies)
    noise_length = as_int("noise_length", noise_length, minimum=0)
    noise_spread = as_float("noise_spread", noise_spread)
    noise_spread_ratio = as_float("noise_spread_ratio", noise_spread_ratio)

    # Only the records a selection can keep are converted to numbers.
    limit = candidates if body_selection == "energy" else max_bodies
    if body_selection == "track":
        limit = _UNLIMITED
    parse_cols = [0, 1, 2] + [c for c in cols if c > 2]
    nbodies, frame, slot, values, ids = _records(raw, path, parse_cols, limit)
    num_frames = nbodies.size

    if body_selection == "track":
        slot = _track_slots(ids, frame, values[:, :, :3], num_frames, max_bodies,
                            noise_length, noise_spread, noise_spread_ratio)
    elif body_selection == "energy" and slot.size and slot.max() > 0:  # one list position: no choice
        slot = _energy_slots(slot, values[:, :, :3], candidates, max_bodies)
    keep = (slot >= 0) & (slot < max_bodies)
    frame, slot = frame[keep], slot[keep]

    out_cols = [parse_cols.index(c) for c in cols]
    data = np.zeros((num_frames, max_bodies, NUM_JOINTS, len(cols)), dtype=np.float32)
    kept = values[keep] if out_cols == list(range(values.shape[2])) else values[keep][:, :, out_cols]
    data[frame, slot] = kept
    body_ids = np.full((num_frames, max_bodies), -1, dtype=np.int64)
    body_ids[frame, slot] = ids[keep]

    sample = name[: -len(".skeleton")] if name.lower().endswith(".skeleton") else name
    meta = {"sample": sample, "dataset": "ntu", **parse_name(sample), "channels": names,
            "bodies_per_frame": nbodies, "body_ids": body_ids}
    yield Skeleton(data=data, layout=LAYOUT, meta=meta)


def _records(
    raw: bytes, path: str, parse_cols: list[int], limit: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bodies listed per frame ``(T,)`` and, for the body records at list position < ``limit``
    in file order, their frame, position, ``parse_cols`` values ``(B, 25, len(parse_cols))``
    float64 and bodyID (int64).

    The compiled reader (``_cntu``, when built) reads regular files in one pass; anything it does
    not accept, and every error, goes to the vectorised NumPy reader, which gives identical values.
    """
    fast = _cntu.parse(raw, bytes(parse_cols), limit) if use_compiled() else None
    if fast is not None:
        nbodies = np.frombuffer(fast[0], dtype=np.int64)
        ids = np.frombuffer(fast[1], dtype=np.int64)
        values = np.frombuffer(fast[2], dtype=np.float64).reshape(ids.size, NUM_JOINTS, len(parse_cols))
        frame, slot = _frame_slot(nbodies)
        wanted = slot < limit  # the records the compiled reader converted
        if not wanted.all():
            frame, slot = frame[wanted], slot[wanted]
        return nbodies, frame, slot, values, ids

    tok = _text.tokenize(raw, path)
    nbodies, frame, slot, body_tok = _structure(tok)  # (T,), then (B,) per body record
    wanted = slot < limit
    if not wanted.all():
        frame, slot, body_tok = frame[wanted], slot[wanted], body_tok[wanted]
    # Token offsets of the wanted values inside a body block, joint-major: (25 * columns,).
    joint_starts = BODY_VALUES + 1 + JOINT_VALUES * np.arange(NUM_JOINTS)
    offsets = (joint_starts[:, None] + np.asarray(parse_cols)).ravel()
    values = _text.parse_floats(tok, body_tok[:, None] + offsets, "joint value")  # (B, 25 * columns)
    values = values.reshape(body_tok.size, NUM_JOINTS, len(parse_cols))
    return nbodies, frame, slot, values, _body_ids(tok, body_tok)


def _frame_slot(nbodies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per body record ``(B,)``: its frame and its position in the frame's list."""
    frame = np.repeat(np.arange(nbodies.size), nbodies)
    slot = np.arange(frame.size) - np.repeat(np.cumsum(nbodies) - nbodies, nbodies)
    return frame, slot


def use_compiled() -> bool:
    """Whether the compiled reader is built and not switched off (``SKELACT_NO_C=1``)."""
    return _cntu is not None and os.environ.get(NO_C_ENV, "") in ("", "0")


def _body_ids(tok: _text.Tokens, body_tok: np.ndarray) -> np.ndarray:
    """The Kinect ``bodyID`` of each body record, exact int64 ``(B,)``."""
    if body_tok.size > 256:
        return _text.parse_ints(tok, body_tok, "bodyID")
    starts, ends = tok.spans(body_tok)
    buf = tok.buf
    try:  # few records: Python ints are cheaper than the vectorised parser's fixed cost
        return np.array([int(buf[s:e]) for s, e in zip(starts.tolist(), ends.tolist(), strict=True)],
                        dtype=np.int64)
    except (ValueError, OverflowError):
        return _text.parse_ints(tok, body_tok, "bodyID")  # locates the bad token


# --- structure -------------------------------------------------------------------------------


def _structure(tok: _text.Tokens) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bodies listed per frame ``(T,)``, and per body record ``(B,)`` in file order: its frame,
    its position in the frame's list and its first token.

    Fast path: walk the frames assuming 25 joints per body (without a loop when every frame lists
    the same number of bodies), then check every joint count and every line's number of values at
    once. On any inconsistency, :func:`_careful_walk` re-walks the file
    body by body to report the first problem with its line number.
    """
    num_frames = tok.int_at(0, "the number of frames")
    if num_frames < 1:
        raise tok.error(0, f"the number of frames must be >= 1, found {num_frames}")
    n = len(tok)
    if num_frames > n:
        _careful_walk(tok, num_frames)
    walked = _constant_bodies(tok, num_frames)
    frame_tok, nbodies = walked if walked is not None else _walk(tok, num_frames)
    frame, slot = _frame_slot(nbodies)  # (B,)
    body_tok = frame_tok[frame] + 1 + BODY_TOKENS * slot  # (B,)
    # Every line must hold exactly its expected number of values: the tokens that must end a
    # line do, and no other token does (a count of the line ends).
    line_ends = np.concatenate([[0], frame_tok, (body_tok[:, None] + _BODY_LINE_ENDS).ravel()])
    ok = np.count_nonzero(tok.line_end) == line_ends.size and bool(tok.line_end[line_ends].all())
    if ok:  # and the joint count of every body is "25"
        nj = body_tok + BODY_VALUES
        start, end = tok.spans(nj)
        ok = bool((end - start == 2).all()) and bool((_two_chars(tok, start) == _TWENTY_FIVE).all())
    if not ok:
        _careful_walk(tok, num_frames)
        raise tok.error(0, "inconsistent file structure")  # pragma: no cover - defensive
    return nbodies, frame, slot, body_tok


def _constant_bodies(tok: _text.Tokens, num_frames: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The walk without a loop when every frame lists the same number (< 10) of bodies.

    Most files do: the frame count tokens are then at fixed strides, which one vectorised check
    of their text confirms. ``None`` if the guess does not hold.
    """
    if len(tok) < 2:
        return None
    first = tok.text(1)
    if not (len(first) == 1 and first.isdigit()):
        return None
    step = 1 + BODY_TOKENS * int(first)
    if 1 + num_frames * step != len(tok):
        return None
    frame_tok = 1 + step * np.arange(num_frames)
    start, end = tok.spans(frame_tok)
    if not ((end - start == 1).all() and (tok.bytes_[start] == first[0]).all()):
        return None
    return frame_tok, np.full(num_frames, int(first), dtype=np.int64)


def _walk(tok: _text.Tokens, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Token index of each frame's body count and the counts, following the counts frame by frame
    (assuming 25 joints per body; checked afterwards)."""
    buf, end, n = tok.buf, tok.ends.item, len(tok)
    frame_toks, counts = [], []
    k = 1
    try:
        for _ in range(num_frames):
            nb = int(buf[end(k - 1) + 1 : end(k)])  # int() ignores the b"\n" of a CRLF
            if not 0 <= nb <= n:  # more bodies than tokens is a corrupt count
                raise ValueError
            frame_toks.append(k)
            counts.append(nb)
            k += 1 + BODY_TOKENS * nb
    except (ValueError, IndexError):
        _careful_walk(tok, num_frames)
        raise tok.error(min(k, n), "inconsistent file structure") from None  # pragma: no cover
    if k != n:
        _careful_walk(tok, num_frames)
        raise tok.error(min(k, n), "inconsistent file structure")  # pragma: no cover
    return np.array(frame_toks, dtype=np.int64), np.array(counts, dtype=np.int64)


def _two_chars(tok: _text.Tokens, start: np.ndarray) -> np.ndarray:
    """The two bytes at offsets ``start`` (tokens of length >= 2) as little-endian uint16 ``(n,)``."""
    a = tok.bytes_
    pair: np.ndarray = a[start].astype(np.uint16) | (a[start + 1].astype(np.uint16) << 8)
    return pair


def _careful_walk(tok: _text.Tokens, num_frames: int) -> None:
    """Walk the file line by line and raise at the first structural problem."""
    is_end = tok.line_end
    n = len(tok)

    def line(k: int, count: int, what: str) -> None:
        if k >= n:
            raise tok.error(k, f"file ends early: expected {what}")
        stop = min(k + count, n)
        nl = np.flatnonzero(is_end[k:stop])
        found = int(nl[0]) + 1 if nl.size else None
        if found != count:
            if found is None:  # the line continues past the expected count
                rest = np.flatnonzero(is_end[k:])
                found = int(rest[0]) + 1 if rest.size else n - k
            raise tok.error(k, f"expected {count} value(s) on the line of {what}, found {found}")

    line(0, 1, "the number of frames")
    k = 1
    for t in range(num_frames):
        where = f"frame {t + 1}"
        line(k, 1, f"the number of bodies in {where}")
        nb = tok.int_at(k, f"the number of bodies in {where}")
        if nb < 0:
            raise tok.error(k, f"the number of bodies in {where} is negative ({nb})")
        k += 1
        for b in range(nb):
            body = f"body {b + 1} of {where}"
            line(k, BODY_VALUES, f"the header of {body}")
            k += BODY_VALUES
            line(k, 1, f"the number of joints of {body}")
            nj = tok.int_at(k, f"the number of joints of {body}")
            if nj != NUM_JOINTS:
                raise tok.error(k, f"expected {NUM_JOINTS} joints for {body}, found {nj}")
            k += 1
            for j in range(NUM_JOINTS):
                line(k, JOINT_VALUES, f"joint {j + 1} of {body}")
                k += JOINT_VALUES
    if k < n:
        raise tok.error(k, f"unexpected data after the last frame (the file declares {num_frames} frames)")


# --- body selection --------------------------------------------------------------------------


def _slot_energy(group: np.ndarray, xyz: np.ndarray, groups: int) -> np.ndarray:
    """Official motion energy per group: sum over x, y, z of the std over non-zero frames x joints.

    ``get_nonzero_std`` of the official code, for all groups at once (one-pass moments, which
    differ from ``np.std`` by rounding only).

    Args:
        group: int ``(B,)``, the group (slot or track) of each body record.
        xyz: float64 ``(B, V, 3)`` record coordinates.

    Returns:
        float64 ``(groups,)``; 0 for a group without a non-zero record.
    """
    records, joints = xyz.shape[:2]
    flat = xyz.reshape(records, joints * 3)  # (B, 3V)
    weight = np.zeros((groups, records))
    weight[group, np.arange(records)] = flat.sum(axis=1) != 0  # (G, B) records that count
    count = weight.sum(axis=1) * joints  # (G,) values per channel
    first = (weight @ flat).reshape(groups, joints, 3).sum(axis=1)  # (G, 3) sums
    second = (weight @ (flat * flat)).reshape(groups, joints, 3).sum(axis=1)  # (G, 3) sums of squares
    n = np.maximum(count, 1)[:, None]
    var = np.maximum(second / n - (first / n) ** 2, 0.0)
    return np.where(count > 0, np.sqrt(var).sum(axis=1), 0.0)


def _energy_slots(slot: np.ndarray, xyz: np.ndarray, candidates: int, max_bodies: int) -> np.ndarray:
    """Map list positions to output slots by decreasing slot energy (-1 = dropped)."""
    energy = _slot_energy(slot, xyz, candidates)
    order = np.argsort(-energy, kind="stable")[:max_bodies]  # kept list positions, best first
    new = np.full(candidates, -1, dtype=np.int64)
    new[order] = np.arange(order.size)
    slots: np.ndarray = new[slot]
    return slots


def _track_slots(
    ids: np.ndarray,
    frame: np.ndarray,
    xyz: np.ndarray,
    num_frames: int,
    max_bodies: int,
    noise_length: int,
    noise_spread: float,
    noise_spread_ratio: float,
) -> np.ndarray:
    """Slot of each record after tracking by bodyID and dropping noise tracks (-1 = dropped).

    Args:
        ids, frame: int64 ``(B,)`` bodyID and frame of each body record.
        xyz: float64 ``(B, 25, 3)`` record coordinates.
    """
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    uniq, track = np.unique(ids, return_inverse=True)
    ntracks = uniq.size
    # A bodyID listed twice in one frame: keep its first record.
    _, first = np.unique(frame * ntracks + track, return_index=True)
    unique_rec = np.zeros(ids.size, dtype=bool)
    unique_rec[first] = True
    present = np.zeros((ntracks, num_frames), dtype=bool)
    present[track[unique_rec], frame[unique_rec]] = True
    length = present.sum(axis=1)

    extent = xyz.max(axis=1) - xyz.min(axis=1)  # (B, 3)
    wide = extent[:, 0] > noise_spread * extent[:, 1]
    wide_ratio = np.bincount(track, wide.astype(np.float64), ntracks) / np.bincount(track, minlength=ntracks)
    noise = (length <= noise_length) | (wide_ratio > noise_spread_ratio)
    if noise.all():
        noise[:] = False

    energy = _slot_energy(track[unique_rec], xyz[unique_rec], ntracks)
    slot_of_track = np.full(ntracks, -1, dtype=np.int64)
    occupied = np.zeros((max_bodies, num_frames), dtype=bool)
    for k in np.argsort(-energy, kind="stable"):
        if noise[k]:
            continue
        free = ~(occupied & present[k]).any(axis=1)
        if free.any():
            s = int(np.argmax(free))
            occupied[s] |= present[k]
            slot_of_track[k] = s
    return np.where(unique_rec, slot_of_track[track], -1)
