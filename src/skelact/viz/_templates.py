"""A standing stick figure for every layout, for figures that have no sample to draw on.

Coordinates are metres-like, x to the right, y up, the body's left on the left of the picture (as a
raw NTU sequence appears in its mirrored colour video and in our 3D renderings). Joints are looked
up by name, so any layout whose joint names follow the conventions of
:mod:`skelact.data.layouts` gets a template; a joint without one raises ``KeyError``.
"""

from __future__ import annotations

import numpy as np

from ..data.layouts import Layout

_L = -1.0  # body left = picture left

# (x for the body's left side, y); right side mirrors x. Centre joints have x = 0.
_SIDED = {
    "shoulder": (0.20, 1.42),
    "elbow": (0.27, 1.15),
    "wrist": (0.31, 0.91),
    "hand": (0.325, 0.84),
    "hand_tip": (0.335, 0.75),
    "thumb": (0.27, 0.83),
    "hip": (0.10, 0.95),
    "knee": (0.12, 0.52),
    "ankle": (0.13, 0.10),
    "foot": (0.17, 0.03),
    "eye": (0.035, 1.66),
    "ear": (0.075, 1.63),
}
_CENTRE = {
    "head": 1.69,
    "nose": 1.61,
    "neck": 1.50,
    "spine_shoulder": 1.42,
    "shoulder_center": 1.42,
    "middle_of_spine": 1.20,
    "spine": 1.17,
    "base_of_spine": 0.97,
    "hip_center": 0.97,
}


def template_pose(layout: Layout) -> np.ndarray:
    """``(V, 3)`` standing pose (z = 0) for ``layout``, joints in layout order."""
    out = np.zeros((layout.num_joints, 3), dtype=np.float64)
    for v, name in enumerate(layout.joints):
        if name in _CENTRE:
            out[v, :2] = (0.0, _CENTRE[name])
            continue
        side, _, part = name.partition("_")
        if side in {"left", "right"} and part in _SIDED:
            x, y = _SIDED[part]
            out[v, :2] = (_L * x if side == "left" else -_L * x, y)
            continue
        raise KeyError(f"no template position for joint {name!r} of layout {layout.name!r}")
    if layout.name == "florence15":  # its "spine" is the hip centre (hips hang from it)
        out[layout.joints.index("spine"), 1] = _CENTRE["base_of_spine"]
    return out
