"""Florence 3D Actions (Kinect v1; one file holds all 215 sequences, one line per frame).

Both released files, told apart by their number of columns:

* ``Florence_dataset_Features.txt``, 28 columns: ``idvideo idactor idcategory`` + 8 normalised
  joints x 3 (elbows, knees, wrists, ankles; left then right) + a normalised frame value.
  Layout ``florence8``; the frame value is ``meta["frame_value"]`` (float32 ``(T,)``). Every joint
  of the file is a unit vector (norm 1 to within 1 %) except 1,457 joint positions of 4,016 frames
  that read exactly ``(5, 5, 5)``: the file's mark of a joint the tracker lost (:data:`UNTRACKED`;
  16.8 % of subject 6's joint positions, 1-7 % of the other subjects'). They are read as missing,
  zeros (the convention of :mod:`skelact.data.transforms`), and counted in
  ``meta["untracked_joints"]``.
* ``Florence_dataset_WorldCoordinates.txt``, 48 columns: ``idvideo idactor idcategory`` + 15 joints
  x 3 world coordinates (Head, Neck, Spine, L-Shoulder, L-Elbow, L-Wrist, R-Shoulder, R-Elbow,
  R-Wrist, L-Hip, L-Knee, L-Ankle, R-Hip, R-Knee, R-Ankle). Layout ``florence15``.

Sequences are the lines of one ``idvideo``, in file order, yielded in order of first appearance.
``idactor`` and ``idcategory`` must not change within a sequence.

Metadata: ``sample`` (``video<idvideo>``, zero-padded to 3 digits), ``video`` (``idvideo``),
``subject`` (``idactor``), ``action`` (``idcategory``), ``label`` (``idcategory - 1``),
``replication`` (1-based rank of the sequence among those of the same subject and action, in file
order), ``line`` (first line of the sequence in the file), ``dataset`` ("florence3d"),
``channels``; the features file adds ``frame_value`` and ``untracked_joints``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ...errors import SkeletonFormatError
from ..skeleton import Skeleton
from . import _text

ID_COLUMNS = 3
FORMS = {  # columns -> (layout, joints, has frame value)
    ID_COLUMNS + 8 * 3 + 1: ("florence8", 8, True),
    ID_COLUMNS + 15 * 3: ("florence15", 15, False),
}
CHANNELS = ("x", "y", "z")
#: The features file's value for all three coordinates of a joint the tracker lost (its joints are
#: otherwise unit vectors); read as a missing joint (zeros).
UNTRACKED = 5.0
#: Bumped when what this reader returns for the same file changes, so that stores prepared by an
#: earlier revision are prepared again (:func:`skelact.data.prepared.prepared_store`). 2: untracked
#: joints of the features file read as zeros (revision 1 kept their ``(5, 5, 5)``).
REVISION = 2


def sniff(head: bytes) -> bool:
    """Whether the start of a file looks like a Florence3D file (28 or 48 columns, 3 integer ids)."""
    first = head.split(b"\n", 1)[0].split()
    return len(first) in FORMS and all(tok.isdigit() for tok in first[:ID_COLUMNS])


def samples(raw: bytes, path: str, name: str) -> Iterator[Skeleton]:
    """Yield every sequence of a Florence3D file (see the module docstring)."""
    table = _text.read_table(_text.tokenize(raw, path), tuple(FORMS), "value")  # (L, 28 | 48)
    layout, joints, has_frame_value = FORMS[table.shape[1]]
    ids_f = table[:, :ID_COLUMNS]
    bad = np.flatnonzero(((ids_f != np.round(ids_f)) | (ids_f < 0) | (ids_f > 2**31)).any(axis=1))
    if bad.size:
        raise SkeletonFormatError(
            path, "idvideo, idactor and idcategory must be non-negative integers", line=int(bad[0]) + 1
        )
    ids = ids_f.astype(np.int64)  # (L, 3)

    # Group lines by idvideo, groups in order of first appearance, lines in file order.
    videos, first, group = np.unique(ids[:, 0], return_index=True, return_inverse=True)
    rank = np.empty(videos.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(videos.size)
    order = np.argsort(rank[group], kind="stable")  # line indices, grouped
    counts = np.bincount(rank[group], minlength=videos.size)
    bounds = np.concatenate([[0], np.cumsum(counts)])

    # idactor / idcategory must be constant within a video.
    lead = ids[order][np.repeat(bounds[:-1], counts)]  # first line's ids for every grouped line
    changed = np.flatnonzero((ids[order, 1:] != lead[:, 1:]).any(axis=1))
    if changed.size:
        line = int(order[changed].min()) + 1
        message = "idactor/idcategory differ from the first line of this idvideo"
        raise SkeletonFormatError(path, message, line=line)

    seen: dict[tuple[int, int], int] = {}
    for g in range(videos.size):
        rows = order[bounds[g] : bounds[g + 1]]  # (T,) file lines of this sequence
        video, subject, category = (int(v) for v in ids[rows[0]])
        seen[subject, category] = seen.get((subject, category), 0) + 1
        coords = table[rows, ID_COLUMNS : ID_COLUMNS + 3 * joints]
        data = coords.reshape(rows.size, 1, joints, 3).astype(np.float32)  # (T, M=1, V, 3)
        meta = {
            "sample": f"video{video:03d}", "dataset": "florence3d", "video": video, "subject": subject,
            "action": category, "label": category - 1, "replication": seen[subject, category],
            "line": int(rows[0]) + 1, "channels": CHANNELS,
        }
        if has_frame_value:
            meta["frame_value"] = table[rows, -1].astype(np.float32)
            lost = (data == UNTRACKED).all(axis=-1)  # (T, M, V)
            data[lost] = 0.0
            meta["untracked_joints"] = int(lost.sum())
        yield Skeleton(data=data, layout=layout, meta=meta)
