"""MSRAction3D skeleton text files (Kinect v1, 20 joints, layout ``kinect20``).

One line per joint, 20 lines per frame, 4 numbers per line. Two released forms:

* ``aXX_sYY_eZZ_skeleton3D.txt`` (``MSRAction3DSkeletonReal3D``): real-world coordinates
  ``x y z c`` in metres (Kinect camera frame), LF line ends. Channels ``x, y, z``.
* ``aXX_sYY_eZZ_skeleton.txt`` (``MSRAction3DSkeleton(20joints)``): screen coordinates
  ``u v depth c``, scientific notation, CRLF line ends: ``u``, ``v`` are pixel coordinates in the
  320x240 depth image and ``depth`` is the depth value of the joint (Kinect depth units). Channels
  ``u, v, depth``.

``c`` is the tracking confidence in [0, 1]; it is dropped by default and returned as a 4th channel
``confidence`` with ``confidence=True``. The form is told by the file name (``_skeleton3D`` vs
``_skeleton``), else by ``coordinates="world" | "screen"``, else by the values (screen
coordinates are pixel-sized).

Frames whose 20 joints are all zeros (no skeleton tracked; ``a13_s09_e02`` is all zeros) are kept
and flagged: ``meta["zero_frames"]`` (bool ``(T,)``), ``meta["num_zero_frames"]`` and
``meta["all_zero"]``.

Metadata from the name ``aXX_sYY_eZZ``: ``action`` (1-based), ``label`` (``XX - 1``), ``subject``
(``YY``), ``replication`` (``ZZ``); also ``sample`` (``aXX_sYY_eZZ``), ``dataset`` ("msr3d"),
``coordinates`` ("world" or "screen") and ``channels``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from ...errors import SkeletonFormatError
from ..skeleton import Skeleton
from . import _text
from ._options import as_choice

LAYOUT = "kinect20"
NUM_JOINTS = 20
NAME_PATTERN = re.compile(r"(?i)a(\d\d)_s(\d\d)_e(\d\d)")
CHANNELS = {"world": ("x", "y", "z"), "screen": ("u", "v", "depth")}
# Screen coordinates are pixels (up to 320 x 240); world coordinates are metres (|x|, |y| < ~3).
_SCREEN_MIN_PIXELS = 10.0


def sniff(head: bytes) -> bool:
    """Whether the start of a file looks like an MSRAction3D file (4 numbers per line)."""
    lines = head.split(b"\n", 2)[:2]
    if len(lines[0].split()) != 4:
        return False
    try:
        [float(v) for v in lines[0].split()]
    except ValueError:
        return False
    return True


def parse_name(name: str) -> dict[str, int]:
    """``action``, ``label``, ``subject``, ``replication`` from ``aXX_sYY_eZZ`` ({} if absent)."""
    match = NAME_PATTERN.search(name)
    if match is None:
        return {}
    action, subject, replication = (int(g) for g in match.groups())
    return {"action": action, "label": action - 1, "subject": subject, "replication": replication}


def _form(name: str, coordinates: str | None, xy: np.ndarray) -> str:
    if coordinates is not None:
        return as_choice("coordinates", coordinates, tuple(CHANNELS))
    lowered = name.lower()
    if "skeleton3d" in lowered:
        return "world"
    if "_skeleton" in lowered:
        return "screen"
    return "screen" if xy.size and float(np.abs(xy).max()) > _SCREEN_MIN_PIXELS else "world"


def samples(
    raw: bytes, path: str, name: str, *, confidence: bool = False, coordinates: str | None = None
) -> Iterator[Skeleton]:
    """Yield the one sequence of an MSRAction3D skeleton file (see the module docstring)."""
    table = _text.read_table(_text.tokenize(raw, path), 4, "joint value")  # (L, 4) float64
    lines = table.shape[0]
    if lines % NUM_JOINTS:
        start = lines - lines % NUM_JOINTS
        raise SkeletonFormatError(
            path,
            f"incomplete frame: {lines} joint lines is not a multiple of {NUM_JOINTS} "
            f"(the last frame starts here and has {lines % NUM_JOINTS})",
            line=start + 1,
        )
    frames = table.reshape(lines // NUM_JOINTS, 1, NUM_JOINTS, 4)  # (T, M=1, V, 4)
    form = _form(name, coordinates, frames[..., :2])
    zero_frames = ~frames[:, 0, :, :3].any(axis=(1, 2))  # (T,)
    channels = CHANNELS[form] + (("confidence",) if confidence else ())
    data = np.ascontiguousarray(frames[..., : len(channels)], dtype=np.float32)

    sample = NAME_PATTERN.search(name)
    meta = {
        "sample": sample.group(0) if sample else name.rsplit(".", 1)[0],
        "dataset": "msr3d",
        **parse_name(name),
        "coordinates": form,
        "channels": channels,
        "zero_frames": zero_frames,
        "num_zero_frames": int(zero_frames.sum()),
        "all_zero": bool(zero_frames.all()),
    }
    yield Skeleton(data=data, layout=LAYOUT, meta=meta)
