"""Vectorised per-sample transforms on NumPy arrays of shape ``(C, T, V, M)``.

Every transform is a small callable class ``t(x, rng=None) -> x'``: ``x`` is one sample
``(C, T, V, M)`` = (channels, frames, joints, bodies), as a dataset item before batching. A
transform never writes into its input (store samples are read-only memory maps) and keeps the
"missing" convention: a joint, body or frame that is all zeros stays zero (models rely on zero
padding). Random transforms draw only from the ``np.random.Generator`` they are given, so a run is
reproducible from its seeds (:class:`~skelact.data.dataset.SkeletonDataset` passes one generator per
``(seed, epoch, index)``); with ``rng=None`` they use a fresh, unseeded generator.

Transforms are composable (:class:`Compose`) and can be built from config dicts::

    build_transforms([{"name": "CenterOnHip"}, {"name": "RandomSample", "frames": 20}], layout="kinect20")

Coordinate channels are the first ``layout.dims`` channels (x, y, z; or x, y for OpenPose, whose
third channel is the detection score and is left alone).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError
from .layouts import Layout, get_layout
from .lines import line_features

TRANSFORMS: dict[str, type[Transform]] = {}


def register_transform(cls: type[Transform]) -> type[Transform]:
    """Class decorator adding a transform to :data:`TRANSFORMS` under its class name."""
    TRANSFORMS[cls.__name__] = cls
    return cls


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng()


def _check_sample(x: np.ndarray, name: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name}: expected one sample of shape (C, T, V, M), got {x.shape}")


def _present(x: np.ndarray) -> np.ndarray:
    """Mask ``(T, V, M)``: True where a joint has any non-zero channel."""
    return np.any(x != 0, axis=0)


def _take_frames(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Frames ``x[:, idx]``; ``idx == -1`` gives an all-zero frame (padding)."""
    c, _, v, m = x.shape
    out = np.zeros((c, len(idx), v, m), dtype=x.dtype)
    keep = idx >= 0
    out[:, keep] = x[:, idx[keep]]
    return out


class Transform:
    """Base class: ``__call__(x, rng=None)`` maps a ``(C, T, V, M)`` array to a new array."""

    random = False  # True for transforms that draw from ``rng``

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"

    def _params(self) -> dict[str, Any]:
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self" and hasattr(self, k)}


class Compose(Transform):
    """Apply transforms in order, passing the same generator to each."""

    def __init__(self, transforms: Iterable[Callable[..., np.ndarray]]):
        self.transforms = list(transforms)

    @property
    def random(self) -> bool:  # type: ignore[override]
        return any(getattr(t, "random", False) for t in self.transforms)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        for t in self.transforms:
            x = t(x, rng)
        return x

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(map(repr, self.transforms)) + "])"


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------
def _rotation_to(v: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) taking the direction of ``v`` onto ``target`` about the axis ``v x target``.

    Rodrigues' formula, ``R = I cos a + sin a [k]_x + (1 - cos a) k k^T``; identity when ``v`` is
    (near) zero or already aligned, and, as in the official AS-GCN/2s-AGCN code, also when it is
    exactly opposite (the cross product vanishes).
    """
    v = np.asarray(v, dtype=np.float64)
    axis = np.cross(v, target)
    if np.abs(axis).sum() < 1e-6 or np.abs(v).sum() < 1e-6:
        return np.eye(3)
    angle = np.arccos(np.clip(v @ target / (np.linalg.norm(v) * np.linalg.norm(target)), -1.0, 1.0))
    if abs(angle) < 1e-6:
        return np.eye(3)
    k = axis / np.linalg.norm(axis)
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) * np.cos(angle) + np.sin(angle) * kx + (1.0 - np.cos(angle)) * np.outer(k, k)


def _rotate(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Apply rotation ``r`` (3, 3) to the xyz channels of ``x`` (C, T, V, M); other channels kept."""
    out = np.array(x, copy=True)
    out[:3] = _apply(r, x[:3])
    return out


@register_transform
class PreNormalize3D(Transform):
    """The official AS-GCN / 2s-AGCN pre-normalisation (``data_gen/preprocess.py``), vectorised.

    Steps on one sample (C, T, V, M), joints taken from the layout:

    1. drop leading frames in which every body is empty (``drop_leading_empty``; 2s-AGCN's
       null-frame step, applied to the whole sample so bodies stay aligned in time);
    2. centre: subtract the ``spine_joint`` of the **first body** from every body; ``center="frame"``
       (official) uses that joint in each frame, ``center="first"`` only its first-frame position.
       Missing joints stay zero;
    3. rotate every point so the first body's first-frame bone ``spine_base -> spine_joint`` is
       parallel to +z;
    4. rotate so the first-frame vector left shoulder -> right shoulder is parallel to +x (the
       official ``xaxis=[8, 4]``: right minus left).

    ``mode="official"`` performs 3 and 4 as the official code does: two minimal rotations, so the
    shoulders end exactly on x and the spine is on z only up to the shoulders' deviation from
    perpendicular to it. ``mode="orthonormal"`` builds one rotation from the orthonormalised pair
    instead: the spine lands exactly on +z and the shoulders in the x-z plane (y = 0, x > 0).
    """

    def __init__(
        self,
        layout: str | Layout,
        mode: str = "official",
        center: str = "frame",
        drop_leading_empty: bool = True,
    ):
        lay = get_layout(layout)
        if lay.dims != 3 or lay.spine_joint is None or lay.spine_base is None or lay.shoulders is None:
            raise ValueError(f"layout {lay.name!r} lacks the 3D spine/shoulder joints PreNormalize3D needs")
        if mode not in ("official", "orthonormal"):
            raise ValueError(f"mode must be 'official' or 'orthonormal', got {mode!r}")
        if center not in ("frame", "first"):
            raise ValueError(f"center must be 'frame' or 'first', got {center!r}")
        self.layout = lay.name
        self._lay = lay
        self._shoulders: tuple[int, int] = lay.shoulders
        self.mode = mode
        self.center = center
        self.drop_leading_empty = drop_leading_empty

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "PreNormalize3D")
        lay = self._lay
        if not np.any(x[:3]):
            return np.array(x, copy=True)
        if self.drop_leading_empty:
            nonempty = np.flatnonzero(np.any(x != 0, axis=(0, 2, 3)))
            x = x[:, nonempty[0] :]
        # (2) centre on the first body's spine joint: (3, T) per frame, or (3, 1) first frame only
        origin = x[:3, :, lay.spine_joint, 0]
        if self.center == "first":
            origin = origin[:, :1]
        centred = (x[:3] - origin[:, :, None, None]) * _present(x)  # (3, T, V, M); missing stay 0
        # (3, 4) one rotation from the first body's first frame (rotations are linear, so the
        # official second step's shoulder vector is the first rotation applied to the raw one)
        first = centred[:, 0, :, 0].astype(np.float64)  # (3, V)
        left, right = self._shoulders
        spine = first[:, lay.spine_joint] - first[:, lay.spine_base]
        shoulder = first[:, right] - first[:, left]
        if self.mode == "official":
            r1 = _rotation_to(spine, np.array([0.0, 0.0, 1.0]))
            r = _rotation_to(r1 @ shoulder, np.array([1.0, 0.0, 0.0])) @ r1
        else:
            r = _orthonormal_frame(spine, shoulder)
        out = np.array(x, copy=True)
        out[:3] = _apply(r, centred)
        return out


def _apply(r: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """``r`` (3, 3) applied to every point of ``xyz`` (3, ...), one float32 matrix product."""
    return (r.astype(np.float32) @ xyz.reshape(3, -1).astype(np.float32, copy=False)).reshape(xyz.shape)


def _orthonormal_frame(z_dir: np.ndarray, x_dir: np.ndarray) -> np.ndarray:
    """Rotation whose rows are (e_x, e_y, e_z): e_z along ``z_dir``, e_x along ``x_dir`` minus its
    e_z part. Falls back to the minimal rotation of ``z_dir`` when the pair is degenerate."""
    nz = np.linalg.norm(z_dir)
    if nz < 1e-9:
        return _rotation_to(x_dir, np.array([1.0, 0.0, 0.0]))
    e_z = z_dir / nz
    xo = x_dir - (x_dir @ e_z) * e_z
    nx = np.linalg.norm(xo)
    if nx < 1e-9:
        return _rotation_to(z_dir, np.array([0.0, 0.0, 1.0]))
    e_x = xo / nx
    return np.stack([e_x, np.cross(e_z, e_x), e_z])


@register_transform
class CenterOnHip(Transform):
    """ARRN-LSTM (Sec. 4.1): subtract, per frame and body, the mean of the layout's ``hip_joints``.

    Only hip joints that are present (non-zero) enter the mean; body-frames with none present and
    missing joints are left as they are (zero). A no-op for layouts without hip joints
    (``florence8``, already normalised by the dataset authors).
    """

    def __init__(self, layout: str | Layout):
        lay = get_layout(layout)
        self.layout = lay.name
        self._hips = list(lay.hip_joints)
        self._dims = lay.dims

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "CenterOnHip")
        out = np.array(x, copy=True)
        if not self._hips:
            return out
        d = self._dims
        hips = x[:d, :, self._hips, :].astype(np.float64)  # (d, T, H, M)
        valid = np.any(x[:, :, self._hips, :] != 0, axis=0)  # (T, H, M)
        count = valid.sum(axis=1)  # (T, M)
        centre = (hips * valid).sum(axis=2) / np.maximum(count, 1)  # (d, T, M)
        apply = _present(x) & (count > 0)[:, None, :]  # (T, V, M)
        out[:d] = (x[:d] - centre[:, :, None, :] * apply).astype(x.dtype)
        return out


@register_transform
class KineticsCentre(Transform):
    """ST-GCN's Kinetics feeder centring: ``x, y -= 0.5``; joints with score 0 (not detected) set to 0.

    Expects OpenPose channels ``(x, y, score)`` with x, y normalised to [0, 1].
    """

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "KineticsCentre")
        if x.shape[0] < 3:
            raise ValueError(f"KineticsCentre needs channels (x, y, score), got C={x.shape[0]}")
        out = np.array(x, copy=True)
        detected = x[2] != 0  # (T, V, M)
        out[:2] = (x[:2] - 0.5) * detected
        return out


@register_transform
class LineFeatures(Transform):
    """ARRN-LSTM line features (eq. 2): each joint's ``C`` coordinates become its ``C (J-1)``
    differences to the other joints, ``(C, T, V, M) -> (C (V-1), T, V, M)``.

    Delegates to :func:`skelact.data.lines.line_features`, the one implementation of eq. 2
    (the ARRN model computes its line stream with it too, so use this transform only for models
    that take line features as input).
    """

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "LineFeatures")
        return line_features(np.asarray(x), joint_axis=2, channel_axis=0)


# ---------------------------------------------------------------------------------------------
# Temporal length
# ---------------------------------------------------------------------------------------------
def _check_frames(frames: int) -> int:
    if int(frames) < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    return int(frames)


@register_transform
class DropEmptyFrames(Transform):
    """Remove frames in which every body is all zeros (no skeleton tracked), keeping the order.

    MSRAction3D has such frames inside sequences (e.g. 36 of the 45 frames of ``a07_s04_e01``);
    dropping them before a length transform makes every sampled frame a real pose. A sample
    whose frames are all empty (``a13_s09_e02``) is returned unchanged, so it is still seen (as
    zeros) rather than silently becoming a zero-length sequence.
    """

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "DropEmptyFrames")
        keep = np.any(x != 0, axis=(0, 2, 3))  # (T,)
        if keep.all() or not keep.any():
            return np.array(x, copy=True)
        return np.array(x[:, keep], copy=True)


@register_transform
class PadTo(Transform):
    """Pad to at least ``frames`` frames; longer samples are returned unchanged.

    ``mode="zero"`` appends zero frames; ``mode="repeat"`` loops the sequence from its start
    (ST-GCN / AS-GCN Kinetics: "pad each sequence by repeating the data from the start").
    """

    def __init__(self, frames: int, mode: str = "zero"):
        if mode not in ("zero", "repeat"):
            raise ValueError(f"mode must be 'zero' or 'repeat', got {mode!r}")
        self.frames = _check_frames(frames)
        self.mode = mode

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "PadTo")
        t = x.shape[1]
        if t >= self.frames:
            return np.array(x, copy=True)
        if self.mode == "repeat" and t > 0:
            idx = np.arange(self.frames) % t
        else:
            idx = np.where(np.arange(self.frames) < t, np.arange(self.frames), -1)
        return _take_frames(x, idx)


@register_transform
class UniformSample(Transform):
    """Deterministic: ``frames`` frames at the centres of equal segments of a longer sample.

    Shorter samples are zero-padded at the end (``short="pad"``, consistent with
    :class:`RandomSample`) or stretched by repeating frames evenly (``short="stretch"``).
    """

    def __init__(self, frames: int, short: str = "pad"):
        if short not in ("pad", "stretch"):
            raise ValueError(f"short must be 'pad' or 'stretch', got {short!r}")
        self.frames = _check_frames(frames)
        self.short = short

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "UniformSample")
        t, n = x.shape[1], self.frames
        if t >= n or (self.short == "stretch" and t > 0):
            idx = ((np.arange(n) + 0.5) * t / n).astype(np.int64)
        else:
            idx = np.where(np.arange(n) < t, np.arange(n), -1)
        return _take_frames(x, idx)


@register_transform
class RandomSample(Transform):
    """ARRN-LSTM (Sec. 4.1): random sampling of ``frames`` frames from longer samples, in temporal
    order (without replacement); zero padding of shorter ones."""

    random = True

    def __init__(self, frames: int):
        self.frames = _check_frames(frames)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "RandomSample")
        t, n = x.shape[1], self.frames
        if t > n:
            idx = np.sort(_rng(rng).choice(t, size=n, replace=False))
        else:
            idx = np.where(np.arange(n) < t, np.arange(n), -1)
        return _take_frames(x, idx)


@register_transform
class RandomCrop(Transform):
    """ST-GCN ``random_choose``: a random window of ``frames`` consecutive frames from longer
    samples; shorter ones are zero-padded, placed at a random offset (``pad="random"``, ST-GCN's
    ``random_pad``), at the start (``pad="end"``) or left as they are (``pad="none"``)."""

    random = True

    def __init__(self, frames: int, pad: str = "random"):
        if pad not in ("random", "end", "none"):
            raise ValueError(f"pad must be 'random', 'end' or 'none', got {pad!r}")
        self.frames = _check_frames(frames)
        self.pad = pad

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "RandomCrop")
        t, n = x.shape[1], self.frames
        if t == n or (t < n and self.pad == "none"):
            return np.array(x, copy=True)
        if t > n:
            start = int(_rng(rng).integers(0, t - n + 1))
            return np.array(x[:, start : start + n], copy=True)
        begin = int(_rng(rng).integers(0, n - t + 1)) if self.pad == "random" else 0
        idx = np.full(n, -1)
        idx[begin : begin + t] = np.arange(t)
        return _take_frames(x, idx)


# ---------------------------------------------------------------------------------------------
# Geometric augmentation
# ---------------------------------------------------------------------------------------------
@register_transform
class RandomMove(Transform):
    """ST-GCN ``random_move``: a rotation, scale and translation in the x-y plane (channels 0, 1)
    that varies linearly in time between ``move_time + 1`` random key values.

    Angles are in degrees. Unlike ST-GCN, missing (all-zero) joints stay zero.
    """

    random = True

    def __init__(
        self,
        angles: Sequence[float] = (-10.0, -5.0, 0.0, 5.0, 10.0),
        scales: Sequence[float] = (0.9, 1.0, 1.1),
        shifts: Sequence[float] = (-0.2, -0.1, 0.0, 0.1, 0.2),
        move_time: Sequence[int] = (1,),
    ):
        self.angles, self.scales, self.shifts = tuple(angles), tuple(scales), tuple(shifts)
        self.move_time = tuple(int(m) for m in move_time)
        if not (self.angles and self.scales and self.shifts and self.move_time) or min(self.move_time) < 1:
            raise ValueError("RandomMove needs non-empty candidate lists and move_time >= 1")

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "RandomMove")
        rng = _rng(rng)
        t = x.shape[1]
        if t == 0:
            return np.array(x, copy=True)
        moves = int(rng.choice(self.move_time))
        nodes = np.append(np.arange(0, t, t / moves).round().astype(np.int64), t)  # key frames
        k = len(nodes)
        a_key = np.deg2rad(rng.choice(self.angles, k))
        s_key, tx_key, ty_key = (
            rng.choice(self.scales, k),
            rng.choice(self.shifts, k),
            rng.choice(self.shifts, k),
        )
        # per frame: linear ramp from key i to key i+1 over [node_i, node_{i+1}), as ST-GCN's linspace
        seg = np.searchsorted(nodes, np.arange(t), side="right") - 1  # (T,)
        span = np.maximum(nodes[seg + 1] - nodes[seg] - 1, 1)
        w = (np.arange(t) - nodes[seg]) / span

        def ramp(key: np.ndarray) -> np.ndarray:
            return key[seg] * (1 - w) + key[seg + 1] * w

        a, s, tx, ty = ramp(a_key), ramp(s_key), ramp(tx_key), ramp(ty_key)
        rot = np.array([[np.cos(a) * s, -np.sin(a) * s], [np.sin(a) * s, np.cos(a) * s]])  # (2, 2, T)
        xy = x[:2].astype(np.float64)  # (2, T, V, M)
        moved = np.einsum("ijt,jtvm->itvm", rot, xy) + np.stack([tx, ty])[:, :, None, None]
        out = np.array(x, copy=True)
        out[:2] = (moved * _present(x)).astype(x.dtype)
        return out


def _axis_rotation(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = [k for k in range(3) if k != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


@register_transform
class RandomRotate(Transform):
    """Random 3D rotation: up to ``max_angle`` degrees about the vertical axis and up to ``max_tilt``
    degrees about each of the two other axes (uniform). ``vertical`` names the up axis: ``"y"`` for
    raw Kinect camera coordinates, ``"z"`` after :class:`PreNormalize3D`."""

    random = True

    def __init__(self, max_angle: float = 30.0, max_tilt: float = 5.0, vertical: str = "y"):
        if vertical not in ("x", "y", "z"):
            raise ValueError(f"vertical must be 'x', 'y' or 'z', got {vertical!r}")
        self.max_angle, self.max_tilt, self.vertical = float(max_angle), float(max_tilt), vertical

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "RandomRotate")
        if x.shape[0] < 3:
            raise ValueError(f"RandomRotate needs 3 coordinate channels, got C={x.shape[0]}")
        rng = _rng(rng)
        up = "xyz".index(self.vertical)
        others = [k for k in range(3) if k != up]
        yaw = np.deg2rad(rng.uniform(-self.max_angle, self.max_angle))
        tilts = np.deg2rad(rng.uniform(-self.max_tilt, self.max_tilt, size=2))
        r = (
            _axis_rotation(up, yaw)
            @ _axis_rotation(others[0], tilts[0])
            @ _axis_rotation(others[1], tilts[1])
        )
        return _rotate(x, r)


@register_transform
class RandomScale(Transform):
    """Multiply coordinates by a factor drawn uniformly from ``[low, high]`` (one per axis with
    ``per_axis``). Only the layout's coordinate channels are scaled (not OpenPose's score); without
    a layout, the first 3 channels."""

    random = True

    def __init__(
        self, low: float = 0.9, high: float = 1.1, per_axis: bool = False, layout: str | Layout | None = None
    ):
        if not 0 < low <= high:
            raise ValueError(f"need 0 < low <= high, got low={low}, high={high}")
        self.low, self.high, self.per_axis = float(low), float(high), per_axis
        self.layout = None if layout is None else get_layout(layout).name
        self.dims = 3 if layout is None else get_layout(layout).dims

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "RandomScale")
        d = min(self.dims, x.shape[0])
        factor = _rng(rng).uniform(self.low, self.high, size=d if self.per_axis else 1)
        out = np.array(x, copy=True)
        out[:d] = (x[:d] * factor.reshape(-1, 1, 1, 1)).astype(x.dtype)
        return out


@register_transform
class GaussianNoise(Transform):
    """Add ``N(0, std^2)`` noise to the coordinates of present joints (missing joints stay zero);
    coordinate channels as in :class:`RandomScale`."""

    random = True

    def __init__(self, std: float = 0.01, layout: str | Layout | None = None):
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        self.std = float(std)
        self.layout = None if layout is None else get_layout(layout).name
        self.dims = 3 if layout is None else get_layout(layout).dims

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "GaussianNoise")
        d = min(self.dims, x.shape[0])
        noise = _rng(rng).standard_normal(size=(d, *x.shape[1:]), dtype=np.float32)
        noise *= np.float32(self.std)
        noise *= _present(x)
        out = np.array(x, copy=True)
        out[:d] += noise
        return out


@register_transform
class TimeWarp(Transform):
    """Random monotone re-timing at constant length: the playback speed is drawn per each of
    ``knots`` equal pieces from ``[1 - strength, 1 + strength]``, frames are resampled by linear
    interpolation (nearest frame where a body is absent in one of the two neighbours)."""

    random = True

    def __init__(self, strength: float = 0.2, knots: int = 4):
        if not 0 <= strength < 1:
            raise ValueError(f"strength must be in [0, 1), got {strength}")
        if int(knots) < 1:
            raise ValueError(f"knots must be >= 1, got {knots}")
        self.strength, self.knots = float(strength), int(knots)

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        _check_sample(x, "TimeWarp")
        t = x.shape[1]
        if t < 2:
            return np.array(x, copy=True)
        speed = _rng(rng).uniform(1 - self.strength, 1 + self.strength, self.knots)
        warp = np.concatenate([[0.0], np.cumsum(speed)]) / speed.sum()  # monotone map [0,1] -> [0,1]
        pos = np.interp(np.linspace(0, 1, t), np.linspace(0, 1, self.knots + 1), warp) * (t - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, t - 1)
        w = pos - lo  # (T,)
        body = np.any(x != 0, axis=(0, 2))  # (T, M): body present in frame
        both = body[lo] & body[hi]  # (T, M)
        w_tm = np.where(both, w[:, None], np.round(w)[:, None])  # nearest where a neighbour is absent
        w_b = w_tm[None, :, None, :]  # (1, T, 1, M)
        out = x[:, lo] * (1 - w_b) + x[:, hi] * w_b
        return out.astype(x.dtype)


# ---------------------------------------------------------------------------------------------
# Building from config
# ---------------------------------------------------------------------------------------------
def build_transform(spec: str | Mapping[str, Any], layout: str | Layout | None = None) -> Transform:
    """One transform from ``"Name"`` or ``{"name": "Name", **arguments}``.

    ``layout`` is passed to transforms that take one (unless the spec sets it). Unknown names,
    unknown or missing arguments and bad values raise :class:`~skelact.ConfigError` naming them.
    """
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ConfigError(f"a transform spec needs a 'name', got {spec!r}")
    args = {k: v for k, v in spec.items() if k != "name"}
    name = spec["name"]
    cls = TRANSFORMS.get(name)
    if cls is None:
        raise ConfigError(f"unknown transform {name!r}; known: {', '.join(sorted(TRANSFORMS))}")
    params = {
        k: p
        for k, p in inspect.signature(cls.__init__).parameters.items()
        if k != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    unknown = sorted(set(args) - set(params))
    if unknown:
        accepted = ", ".join(params) or "(none)"
        raise ConfigError(f"transform {name}: unknown argument(s) {', '.join(unknown)}; accepted: {accepted}")
    if "layout" in params and "layout" not in args:
        if layout is not None:
            args["layout"] = layout
        elif params["layout"].default is inspect.Parameter.empty:
            raise ConfigError(f"transform {name} needs a layout")
    missing = [k for k, p in params.items() if p.default is inspect.Parameter.empty and k not in args]
    if missing:
        raise ConfigError(f"transform {name}: missing argument(s) {', '.join(missing)}")
    try:
        return cls(**args)
    except (TypeError, ValueError, KeyError) as e:
        raise ConfigError(f"transform {name}: {e}") from None


def build_transforms(
    specs: Iterable[str | Mapping[str, Any]] | None, layout: str | Layout | None = None
) -> Compose:
    """A :class:`Compose` of :func:`build_transform` for each spec (empty for ``None``)."""
    if specs is None:
        return Compose([])
    if isinstance(specs, (str, Mapping)):
        raise ConfigError("transforms must be a list of specs, e.g. [{'name': 'PadTo', 'frames': 300}]")
    return Compose(build_transform(s, layout) for s in specs)


#: Placeholder in transform specs for the number of frames one input sample holds
#: (:attr:`skelact.models.spec.InputSpec.input_frames`); filled by :func:`fill_frames`.
INPUT_FRAMES = "${input_frames}"


def fill_frames(specs: Any, frames: int) -> Any:
    """Transform specs with every ``"${input_frames}"`` replaced by ``frames`` (a deep copy)."""
    if isinstance(specs, Mapping):
        return {k: fill_frames(v, frames) for k, v in specs.items()}
    if isinstance(specs, (list, tuple)):
        return [fill_frames(v, frames) for v in specs]
    return frames if specs == INPUT_FRAMES else specs
