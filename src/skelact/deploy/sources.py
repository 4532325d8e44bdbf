"""Live pose sources for streaming recognition: JSON lines and OpenPose per-frame JSON folders.

Every source yields :class:`FrameRecord` objects, one per frame, in stream order. A record holds
the detected bodies of one frame as ``coords (B, V, C)`` in the layout's channel order
(``x, y, z`` for 3D layouts; ``x, y, score`` for the 2D OpenPose layout, as the Kinetics-skeleton
data) plus ``confidence (B, V)``; a joint with confidence 0 was not detected. ``B`` may be 0 (no
body in the frame) and may change from frame to frame. Bad input never stops a source: the bad
line or file is passed to ``on_error`` as a :class:`~skelact.errors.SkeletonFormatError` (file and
1-based line number) and skipped.

JSON-lines schema (``format="jsonl"``): one JSON object per line, blank lines ignored::

    {"frame": 17, "bodies": [[[x, y, z, c], [x, y, z, c], ...], ...]}

* ``bodies``: list (possibly empty) of bodies, in a stable order (body ``i`` fills model body slot
  ``i``; ``null`` marks an absent body that keeps the later ones in their slots); a body is a list
  of exactly V joints (V of the layout: 25 for ``ntu25``, 20 for ``kinect20``, 18 for
  ``openpose18``...); a joint is a list of numbers: ``[x, y, z]`` or ``[x, y, z, c]`` for 3D
  layouts, ``[x, y]`` or ``[x, y, c]`` for 2D layouts (``c`` = detection confidence in [0, 1]). A
  joint given as ``null`` or ``[]``, with ``c == 0`` or with a non-finite coordinate is missing.
* ``frame`` (optional, int): the frame number. A jump (e.g. 17 -> 20) marks missing frames, which
  the recogniser fills by holding the last pose.
* Instead of ``bodies``, an OpenPose frame object is accepted on one line:
  ``{"people": [{"pose_keypoints_2d": [x0, y0, c0, x1, y1, c1, ...]}, ...]}`` (2D layouts).

OpenPose folder (``format="openpose-dir"``): the files OpenPose writes with ``--write_json DIR``,
one per frame, named ``<video>_<frame:012d>_keypoints.json``::

    {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": [x0, y0, c0, ...], ...}]}

Files are read in frame-number order (the last run of digits in the name). Keypoints in the
COCO-18 model (18 joints, the Kinetics-skeleton layout) are used as they are; BODY_25 (25 joints,
OpenPose's default) is mapped to COCO-18 by dropping the mid-hip and foot keypoints. OpenPose
writes pixel coordinates unless run with ``--keypoint_scale 3``; pass ``image_size=(W, H)`` to
divide by the frame size, giving the [0, 1] coordinates of Kinetics-skeleton.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..data.layouts import Layout, get_layout
from ..errors import SkeletonFormatError

ErrorHandler = Callable[[SkeletonFormatError], None]

#: BODY_25 keypoint index for each COCO-18 joint (BODY_25 adds 8 MidHip and six foot keypoints).
BODY25_TO_COCO18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)

SOURCE_FORMATS = ("jsonl", "openpose-dir")


@dataclass
class FrameRecord:
    """One frame of a live source.

    Attributes:
        coords: float32 ``(B, V, C)``: joint values in the layout's channel order; zeros where a
            joint is missing.
        confidence: float32 ``(B, V)``; 0 marks a missing joint.
        index: the frame number the source gave (JSON ``frame`` key, OpenPose file number), or
            None.
        where: file name and line for messages (``"file:12"``).
    """

    coords: np.ndarray
    confidence: np.ndarray
    index: int | None = None
    where: str = ""

    @property
    def num_bodies(self) -> int:
        return int(self.coords.shape[0])


def warn_to_stderr(err: SkeletonFormatError) -> None:
    """Default error handler: one warning line on stderr; the stream goes on."""
    print(f"skelact stream: warning: {err} (skipped)", file=sys.stderr, flush=True)


# --- parsing one frame ----------------------------------------------------------------------------


class _BadFrame(ValueError):
    pass


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _BadFrame(f"joint values must be numbers, got {type(value).__name__} {value!r:.40}")
    return float(value)


def _parse_bodies(bodies: Any, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(bodies, list):
        raise _BadFrame(f"'bodies' must be a list of bodies, got {type(bodies).__name__}")
    v, c = layout.num_joints, len(layout.channels)
    dims = layout.dims
    coords = np.zeros((len(bodies), v, c), dtype=np.float32)
    conf = np.zeros((len(bodies), v), dtype=np.float32)
    allowed = (dims, dims + 1)
    for b, body in enumerate(bodies):
        if body is None:
            continue  # an absent body that keeps the slot order of the bodies after it
        if not isinstance(body, list):
            raise _BadFrame(f"body {b}: must be a list of {v} joints, got {type(body).__name__}")
        if len(body) != v:
            raise _BadFrame(f"body {b}: has {len(body)} joints, layout {layout.name!r} has {v}")
        for j, joint in enumerate(body):
            if joint is None or joint == []:
                continue  # missing joint
            if not isinstance(joint, list) or len(joint) not in allowed:
                raise _BadFrame(
                    f"body {b} joint {j}: expected {' or '.join(map(str, allowed))} numbers "
                    f"({', '.join(layout.channels[:dims])}[, confidence]), got {joint!r:.60}"
                )
            vals = [_num(x) for x in joint]
            score = vals[dims] if len(vals) > dims else 1.0
            if not all(math.isfinite(x) for x in vals) or score <= 0.0:
                continue
            coords[b, j, :dims] = vals[:dims]
            conf[b, j] = min(score, 1.0) if len(vals) > dims else 1.0
            if c > dims:  # 2D layouts carry the score as a model channel (x, y, score)
                coords[b, j, dims] = score
    return coords, conf


def _parse_people(people: Any, layout: Layout, image_size: tuple[float, float] | None):
    if layout.name != "openpose18":
        raise _BadFrame(
            f"OpenPose 'people' gives 2D COCO-18 / BODY_25 keypoints; they cannot feed a model "
            f"with layout {layout.name!r} (use layout 'openpose18')"
        )
    if not isinstance(people, list):
        raise _BadFrame(f"'people' must be a list, got {type(people).__name__}")
    bodies = []
    for p, person in enumerate(people):
        if not isinstance(person, dict):
            raise _BadFrame(f"person {p}: must be an object, got {type(person).__name__}")
        kp = person.get("pose_keypoints_2d", person.get("pose_keypoints"))
        if kp is None or kp == []:
            continue  # OpenPose writes [] when the body model did not run
        if not isinstance(kp, list) or len(kp) % 3:
            raise _BadFrame(f"person {p}: pose_keypoints_2d must be a flat list of x, y, c triples")
        k = len(kp) // 3
        if k == 25:
            order = BODY25_TO_COCO18
        elif k == 18:
            order = tuple(range(18))
        else:
            raise _BadFrame(f"person {p}: {k} keypoints; supported: 18 (COCO) or 25 (BODY_25)")
        body = []
        for j in order:
            x, y, c = (_num(kp[3 * j + i]) for i in range(3))
            if image_size is not None:
                x, y = x / image_size[0], y / image_size[1]
            body.append([x, y, c])
        bodies.append(body)
    return _parse_bodies(bodies, layout)


def parse_frame(obj: Any, layout: Layout | str, image_size: tuple[float, float] | None = None):
    """Parse one decoded JSON frame object (see the module docstring) into ``(coords, conf, index)``.

    Raises ValueError with a readable reason when the object does not follow the schema.
    """
    layout = get_layout(layout)
    if isinstance(obj, list):  # a bare list of bodies
        obj = {"bodies": obj}
    if not isinstance(obj, dict):
        raise _BadFrame(f"a frame must be a JSON object, got {type(obj).__name__}")
    index = obj.get("frame", obj.get("frame_index"))
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise _BadFrame(f"'frame' must be an integer, got {index!r:.40}")
    if "bodies" in obj:
        coords, conf = _parse_bodies(obj["bodies"], layout)
    elif "people" in obj:
        coords, conf = _parse_people(obj["people"], layout, image_size)
    else:
        raise _BadFrame("a frame object needs a 'bodies' (or OpenPose 'people') key")
    return coords, conf, index


# --- JSON lines -----------------------------------------------------------------------------------


def iter_jsonl(
    source: str | os.PathLike | IO[str],
    layout: Layout | str,
    *,
    on_error: ErrorHandler | None = warn_to_stderr,
    image_size: tuple[float, float] | None = None,
) -> Iterator[FrameRecord]:
    """Frames from a JSON-lines file, an open text stream, or ``"-"`` (standard input).

    Reads line by line, so a pipe is consumed as it is written; ends at end of file. A line that
    is not valid JSON or does not follow the schema is reported to ``on_error`` with its line
    number and skipped.
    """
    layout = get_layout(layout)
    if isinstance(source, (str, os.PathLike)) and os.fspath(source) == "-":
        yield from _iter_lines(sys.stdin, "<stdin>", layout, on_error, image_size)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        with path.open("r", encoding="utf-8", errors="replace", newline=None) as f:
            yield from _iter_lines(f, str(path), layout, on_error, image_size)
    else:
        yield from _iter_lines(source, getattr(source, "name", "<stream>"), layout, on_error, image_size)


def _iter_lines(f: IO[str], name: str, layout: Layout, on_error, image_size) -> Iterator[FrameRecord]:
    # readline (not the file iterator) so an interactive pipe yields each line as it arrives.
    for lineno, line in enumerate(iter(f.readline, ""), start=1):
        text = line.strip()
        if not text:
            continue
        try:
            obj = json.loads(text)
            coords, conf, index = parse_frame(obj, layout, image_size)
        except (ValueError, RecursionError) as e:  # JSONDecodeError and _BadFrame are ValueErrors
            reason = f"invalid JSON: {e.msg}" if isinstance(e, json.JSONDecodeError) else str(e)
            if on_error is not None:
                on_error(SkeletonFormatError(name, reason, line=lineno))
            continue
        yield FrameRecord(coords, conf, index, f"{name}:{lineno}")


# --- OpenPose folder ------------------------------------------------------------------------------

_DIGITS = re.compile(r"(\d+)")


def _frame_number(name: str) -> int | None:
    runs = _DIGITS.findall(Path(name).name)
    return int(runs[-1]) if runs else None


def _sort_key(path: Path):
    n = _frame_number(path.name)
    return (n is None, n if n is not None else 0, path.name)


def _list_json(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.suffix.lower() == ".json" and p.is_file()]
    keyed = [p for p in files if p.name.endswith("_keypoints.json")]
    return sorted(keyed or files, key=_sort_key)


def iter_openpose_dir(
    folder: str | os.PathLike,
    layout: Layout | str = "openpose18",
    *,
    image_size: tuple[float, float] | None = None,
    on_error: ErrorHandler | None = warn_to_stderr,
    follow: bool = False,
    poll_interval: float = 0.05,
    idle_timeout: float = 2.0,
) -> Iterator[FrameRecord]:
    """Frames from a folder of OpenPose per-frame JSON files, in frame-number order.

    With ``follow=True`` the folder is watched while OpenPose writes into it: new files are read
    as they appear and the source ends after ``idle_timeout`` seconds without a new file. A file
    that does not parse is reported to ``on_error`` and skipped (when following, it is first
    retried once, in case it was caught half-written).
    """
    layout = get_layout(layout)
    if layout.name != "openpose18":
        raise ValueError(f"an OpenPose folder holds 2D COCO-18 / BODY_25 keypoints; they cannot feed a model "
                         f"with layout {layout.name!r} (it needs layout 'openpose18')")
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"OpenPose folder not found: {folder}")
    return _iter_openpose_dir(folder, layout, image_size, on_error, follow, poll_interval, idle_timeout)


def _iter_openpose_dir(folder: Path, layout: Layout, image_size, on_error, follow: bool, poll_interval: float,
                       idle_timeout: float) -> Iterator[FrameRecord]:
    done: set[str] = set()
    retry: set[str] = set()
    last_new = time.monotonic()
    while True:
        fresh = [p for p in _list_json(folder) if p.name not in done]
        for path in fresh:
            try:
                obj = json.loads(path.read_text(encoding="utf-8", errors="replace"))
                coords, conf, _ = parse_frame(obj, layout, image_size)
            except (ValueError, OSError, RecursionError) as e:
                if follow and path.name not in retry:
                    retry.add(path.name)
                    break  # retry this file (and keep order) on the next poll
                done.add(path.name)
                reason = f"invalid JSON: {e.msg}" if isinstance(e, json.JSONDecodeError) else str(e)
                if on_error is not None:
                    on_error(SkeletonFormatError(path, reason))
                continue
            done.add(path.name)
            last_new = time.monotonic()
            yield FrameRecord(coords, conf, _frame_number(path.name), str(path))
        if not follow:
            return
        if time.monotonic() - last_new > idle_timeout:
            return
        time.sleep(poll_interval)


def open_source(
    source: str | os.PathLike | IO[str],
    layout: Layout | str,
    format: str | None = None,  # noqa: A002 - the CLI option's name
    **options: Any,
) -> Iterable[FrameRecord]:
    """Open a frame source by format (``"jsonl"`` or ``"openpose-dir"``; None: a folder is
    ``openpose-dir``, anything else ``jsonl``). ``options`` go to the source function."""
    if format is None:
        is_dir = isinstance(source, (str, os.PathLike)) and os.fspath(source) != "-" and Path(source).is_dir()
        format = "openpose-dir" if is_dir else "jsonl"  # noqa: A001
    if format == "jsonl":
        options.pop("follow", None)
        options.pop("poll_interval", None)
        options.pop("idle_timeout", None)
        if isinstance(source, (str, os.PathLike)) and os.fspath(source) != "-" and not Path(source).is_file():
            raise FileNotFoundError(f"JSON-lines source not found: {source}")
        return iter_jsonl(source, layout, **options)
    if format == "openpose-dir":
        if not isinstance(source, (str, os.PathLike)) or os.fspath(source) == "-":
            raise ValueError("format 'openpose-dir' reads a folder; standard input is JSON lines only")
        return iter_openpose_dir(source, layout, **options)
    raise ValueError(f"unknown source format {format!r}; known: {', '.join(SOURCE_FORMATS)}")


def skeleton_to_jsonl(data: np.ndarray, fp: IO[str], *, confidence: bool = False, start: int = 0) -> int:
    """Write a ``(T, M, V, C)`` sequence as JSON lines (one frame per line; an all-zero body is
    written as ``null``, trailing ones dropped).

    The inverse of :func:`iter_jsonl` for 3D layouts; used to replay a recorded sample as a live
    stream (tests, demos). Returns the number of lines written.
    """
    t_len = data.shape[0]
    for t in range(t_len):
        bodies: list[Any] = []
        for body in data[t]:
            if not np.any(body):
                bodies.append(None)
                continue
            joints = body.tolist()
            if confidence:
                joints = [[*j, 1.0] for j in joints]
            bodies.append(joints)
        while bodies and bodies[-1] is None:
            bodies.pop()
        fp.write(json.dumps({"frame": start + t, "bodies": bodies}) + "\n")
    return t_len
