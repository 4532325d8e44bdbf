"""Skeleton layouts: the one source of truth for joint names, bones and reference joints.

Every other part of skelact (readers, transforms, graphs, visualisation) takes joint facts from
here. Indices are 0-based.

Fields of a :class:`Layout`:

* ``joints``: joint names in file order.
* ``bones``: undirected edges ``(child, parent)`` of the skeleton graph, parent nearer the centre.
* ``center``: the root of the spatial partition (ST-GCN's "centre of gravity"): the joint from which
  "centripetal" and "centrifugal" neighbours are defined.
* ``hip_joints``: joints averaged for hip centring. ARRN-LSTM (Sec. 4.1) subtracts "the average
  value of the 5 joints close to the hip joint". Our rule: the 5 joints nearest to the hip centre
  by hop distance, ties broken toward the torso (torso joints are rigid, so the centre does not
  move with the limbs). Per layout:

  - ``ntu25``: base of spine (hop 0), spine-mid, left hip, right hip (hop 1), spine-shoulder
    (hop 2, chosen over the knees).
  - ``kinect20``: hip centre, spine, left hip, right hip, shoulder centre (same rule).
  - ``florence15``: the file has no hip-centre joint; the torso joints around it: spine, left hip,
    right hip, neck (4 joints; the 5th candidates are limb joints, left out by the rule).
  - ``openpose18``: COCO-18 has no hip centre and no spine; the two hips.
  - ``florence8``: empty. The features file is already normalised by the dataset authors and has
    no torso joint; centring is a no-op.

* ``spine_joint``, ``spine_base``, ``shoulders``: reference joints of the AS-GCN / 2s-AGCN
  pre-normalisation: centre on ``spine_joint``, rotate so the bone ``spine_base -> spine_joint`` is
  parallel to z and the vector right shoulder -> left shoulder (``shoulders = (left, right)``) is
  parallel to x (see :mod:`skelact.data.transforms`). ``None`` where the layout lacks them.
* ``symmetry``: ``(left, right)`` joint pairs, for mirroring augmentation and visualisation colours.
* ``bone_variants``: alternative bone lists by name (e.g. PYSKL's NTU hand edges).
* ``channels``: names of the channels readers return by default.
* ``dims``: 3 for 3D layouts, 2 for image-plane layouts (OpenPose).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Layout:
    name: str
    joints: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    center: int
    hip_joints: tuple[int, ...]
    symmetry: tuple[tuple[int, int], ...]
    channels: tuple[str, ...]
    dims: int = 3
    spine_joint: int | None = None
    spine_base: int | None = None
    shoulders: tuple[int, int] | None = None  # (left, right)
    bone_variants: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    description: str = ""

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def edges(self, variant: str | None = None) -> tuple[tuple[int, int], ...]:
        """Bone list; ``variant`` picks one of ``bone_variants`` (None = the default ``bones``)."""
        if variant is None or variant == "default":
            return self.bones
        try:
            return self.bone_variants[variant]
        except KeyError:
            known = ", ".join(["default", *self.bone_variants]) or "default"
            raise KeyError(f"layout {self.name!r} has no bone variant {variant!r} (known: {known})") from None

    def adjacency(self, variant: str | None = None) -> np.ndarray:
        """Symmetric 0/1 adjacency matrix (V, V) without self-loops."""
        a = np.zeros((self.num_joints, self.num_joints), dtype=np.float32)
        for i, j in self.edges(variant):
            a[i, j] = a[j, i] = 1.0
        return a

    def hop_distance(self, variant: str | None = None) -> np.ndarray:
        """Shortest-path hop distances (V, V); ``inf`` between disconnected joints."""
        v = self.num_joints
        nbrs: list[list[int]] = [[] for _ in range(v)]
        for i, j in self.edges(variant):
            nbrs[i].append(j)
            nbrs[j].append(i)
        dist = np.full((v, v), np.inf)
        for s in range(v):
            dist[s, s] = 0
            q = deque([s])
            while q:
                u = q.popleft()
                for w in nbrs[u]:
                    if dist[s, w] == np.inf:
                        dist[s, w] = dist[s, u] + 1
                        q.append(w)
        return dist

    def index(self, joint: str) -> int:
        """Index of a joint by name."""
        try:
            return self.joints.index(joint)
        except ValueError:
            raise KeyError(f"layout {self.name!r} has no joint {joint!r}") from None


def _one_based(pairs: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    return tuple((a - 1, b - 1) for a, b in pairs)


# --- NTU RGB+D, Kinect v2, 25 joints (official order, 1-based in the dataset docs) ---------------
_NTU_JOINTS = (
    "base_of_spine", "middle_of_spine", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)
_NTU_BODY = (
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10),
    (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19),
)
# ST-GCN / official AS-GCN hand edges: tip -> thumb -> hand (a chain).
_NTU_HANDS_STGCN = ((22, 23), (23, 8), (24, 25), (25, 12))
# PYSKL hand edges: tip and thumb each attached to the hand (a fork), anatomically closer.
_NTU_HANDS_PYSKL = ((22, 8), (23, 8), (24, 12), (25, 12))

NTU25 = Layout(
    name="ntu25",
    joints=_NTU_JOINTS,
    # Default: ST-GCN's edges, which the official AS-GCN code inherits, so its published numbers
    # and our "official" preset use the same graph. PYSKL's variant is one option away.
    bones=_one_based(_NTU_BODY + _NTU_HANDS_STGCN),
    bone_variants={
        "stgcn": _one_based(_NTU_BODY + _NTU_HANDS_STGCN),
        "pyskl": _one_based(_NTU_BODY + _NTU_HANDS_PYSKL),
    },
    center=20,  # spine_shoulder, as ST-GCN
    hip_joints=(0, 1, 12, 16, 20),
    symmetry=_one_based(((5, 9), (6, 10), (7, 11), (8, 12), (13, 17), (14, 18), (15, 19), (16, 20),
                         (22, 24), (23, 25))),
    channels=("x", "y", "z"),
    spine_joint=1,
    spine_base=0,
    shoulders=(4, 8),
    description="NTU RGB+D (Kinect v2), 25 joints",
)

# --- OpenPose COCO-18 (Kinetics-skeleton) -------------------------------------------------------
OPENPOSE18 = Layout(
    name="openpose18",
    joints=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
        "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
        "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
    ),
    # ST-GCN's openpose edges.
    bones=((4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2),
           (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14)),
    center=1,  # neck, as ST-GCN
    hip_joints=(8, 11),
    symmetry=((5, 2), (6, 3), (7, 4), (11, 8), (12, 9), (13, 10), (15, 14), (17, 16)),
    channels=("x", "y", "score"),
    dims=2,
    shoulders=(5, 2),
    description="OpenPose COCO-18 (Kinetics-skeleton), 2D + confidence",
)

# --- MSRAction3D, Kinect v1, 20 joints (order from the dataset's PROVENANCE.md) ------------------
KINECT20 = Layout(
    name="kinect20",
    joints=(
        "left_shoulder", "right_shoulder", "shoulder_center", "spine", "left_hip", "right_hip",
        "hip_center", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand",
        "right_hand", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_foot",
        "right_foot", "head",
    ),
    bones=_one_based(((20, 3), (1, 3), (2, 3), (8, 1), (10, 8), (12, 10), (9, 2), (11, 9), (13, 11),
                      (4, 3), (7, 4), (5, 7), (6, 7), (14, 5), (15, 6), (16, 14), (17, 15), (18, 16),
                      (19, 17))),
    center=2,  # shoulder centre, the analogue of NTU's spine_shoulder
    hip_joints=(6, 3, 4, 5, 2),
    symmetry=_one_based(((1, 2), (5, 6), (8, 9), (10, 11), (12, 13), (14, 15), (16, 17), (18, 19))),
    channels=("x", "y", "z"),
    spine_joint=3,
    spine_base=6,
    shoulders=(0, 1),
    description="MSRAction3D (Kinect v1), 20 joints",
)

# --- Florence3D world coordinates, 15 joints (order from the dataset README) ---------------------
FLORENCE15 = Layout(
    name="florence15",
    joints=(
        "head", "neck", "spine", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
        "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip",
        "right_knee", "right_ankle",
    ),
    bones=((0, 1), (2, 1), (3, 1), (4, 3), (5, 4), (6, 1), (7, 6), (8, 7), (9, 2), (10, 9), (11, 10),
           (12, 2), (13, 12), (14, 13)),
    center=1,  # neck
    hip_joints=(2, 9, 12, 1),
    symmetry=((3, 6), (4, 7), (5, 8), (9, 12), (10, 13), (11, 14)),
    channels=("x", "y", "z"),
    spine_joint=2,
    spine_base=2,
    shoulders=(3, 6),
    description="Florence3D world coordinates, 15 joints",
)

# --- Florence3D features file, 8 normalised joints ----------------------------------------------
FLORENCE8 = Layout(
    name="florence8",
    joints=(
        "left_elbow", "right_elbow", "left_knee", "right_knee",
        "left_wrist", "right_wrist", "left_ankle", "right_ankle",
    ),
    # Real bones: elbow-wrist and knee-ankle. The file has no torso, so the graph would fall apart
    # into 4 pieces; "virtual torso" links join elbows and knees (left-right and upper-lower) so
    # graph convolutions can pass information between limbs. Documented, not anatomical.
    bones=((4, 0), (5, 1), (6, 2), (7, 3), (1, 0), (2, 0), (3, 1), (3, 2)),
    center=0,
    hip_joints=(),
    symmetry=((0, 1), (2, 3), (4, 5), (6, 7)),
    channels=("x", "y", "z"),
    description="Florence3D features file: 8 normalised joints (elbows, knees, wrists, ankles)",
)

LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in (NTU25, OPENPOSE18, KINECT20, FLORENCE15, FLORENCE8)}


def get_layout(name: str | Layout) -> Layout:
    """Look a layout up by name (a :class:`Layout` is returned as is)."""
    if isinstance(name, Layout):
        return name
    try:
        return LAYOUTS[name]
    except KeyError:
        raise KeyError(f"unknown layout {name!r}; known: {', '.join(sorted(LAYOUTS))}") from None
