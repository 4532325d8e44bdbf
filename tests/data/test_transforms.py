"""Transforms on (C, T, V, M): normalisation geometry on a real NTU file, lengths, augmentations, config."""

from __future__ import annotations

import numpy as np
import pytest

from skelact import ConfigError
from skelact.data.layouts import NTU25
from skelact.data.transforms import (
    TRANSFORMS,
    CenterOnHip,
    Compose,
    GaussianNoise,
    KineticsCentre,
    PadTo,
    PreNormalize3D,
    RandomCrop,
    RandomMove,
    RandomRotate,
    RandomSample,
    RandomScale,
    TimeWarp,
    UniformSample,
    build_transforms,
)

TWO_PERSON = "S001C001P001R001A050.skeleton"
ONE_PERSON = "S001C001P001R001A001.skeleton"


def read_ntu_xyz(path, max_bodies=2):
    """Independent plain-text parse of an NTU .skeleton file: (C=3, T, V=25, M) float32."""
    lines = iter(path.read_text().splitlines())
    frames = int(next(lines))
    out = np.zeros((3, frames, 25, max_bodies), np.float32)
    for t in range(frames):
        for m in range(int(next(lines))):
            next(lines)  # body info
            for v in range(int(next(lines))):
                xyz = [float(s) for s in next(lines).split()[:3]]
                if m < max_bodies:
                    out[:, t, v, m] = xyz
    return out


@pytest.fixture(scope="module")
def ntu2(sample_data):
    x = read_ntu_xyz(sample_data / "ntu_rgbd" / TWO_PERSON)
    x.flags.writeable = False  # transforms must not write into their input (store maps are read-only)
    return x


def official_prenormalize_reference(x):
    """Loop transcription of the official algorithm (AS-GCN data_gen/preprocess.py), as a reference."""
    s = x.transpose(3, 1, 2, 0).astype(np.float32).copy()  # (M, T, V, C)

    def rotation(axis, theta):
        if np.abs(axis).sum() < 1e-6 or abs(theta) < 1e-6:
            return np.eye(3)
        k = axis / np.linalg.norm(axis)
        a, (b, c, d) = np.cos(theta / 2), -k * np.sin(theta / 2)
        return np.array([
            [a * a + b * b - c * c - d * d, 2 * (b * c + a * d), 2 * (b * d - a * c)],
            [2 * (b * c - a * d), a * a + c * c - b * b - d * d, 2 * (c * d + a * b)],
            [2 * (b * d + a * c), 2 * (c * d - a * b), a * a + d * d - b * b - c * c],
        ])  # fmt: skip

    def angle(v1, v2):
        if np.abs(v1).sum() < 1e-6:
            return 0.0
        return np.arccos(np.clip(v1 @ v2 / np.linalg.norm(v1) / np.linalg.norm(v2), -1, 1))

    centre = s[0][:, 1:2, :].copy()
    for p in range(s.shape[0]):
        if s[p].sum() == 0:
            continue
        mask = (s[p].sum(-1) != 0)[..., None]
        s[p] = (s[p] - centre) * mask
    for target, (j0, j1) in (([0, 0, 1], (0, 1)), ([1, 0, 0], (4, 8))):
        target = np.array(target, float)
        v = s[0, 0, j1] - s[0, 0, j0]
        r = rotation(np.cross(v, target), angle(v, target))
        for p in range(s.shape[0]):
            for t in range(s.shape[1]):
                if s[p, t].sum() == 0:
                    continue
                for j in range(s.shape[2]):
                    s[p, t, j] = r @ s[p, t, j]
    return s.transpose(3, 1, 2, 0)


def _angle(a, b):
    return np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))


def test_prenormalize_official_matches_reference_loops(ntu2):
    out = PreNormalize3D("ntu25")(ntu2)
    np.testing.assert_allclose(out, official_prenormalize_reference(ntu2), atol=2e-5)


def test_prenormalize_official_geometry_on_real_ntu(ntu2):
    out = PreNormalize3D("ntu25")(ntu2)
    assert out.shape == ntu2.shape and out.dtype == np.float32
    left, right = NTU25.shoulders
    shoulder = out[:, 0, right, 0] - out[:, 0, left, 0]
    assert _angle(shoulder, np.array([1.0, 0, 0])) < 1e-3  # exactly along +x
    spine = out[:, 0, NTU25.spine_joint, 0] - out[:, 0, NTU25.spine_base, 0]
    # two minimal rotations: the spine ends near z; it cannot be closer than the shoulders' deviation
    # from perpendicular to it (the angle between them is kept and the shoulders lie on x)
    raw_spine = ntu2[:, 0, 1, 0] - ntu2[:, 0, 0, 0]
    raw_shoulder = ntu2[:, 0, right, 0] - ntu2[:, 0, left, 0]
    alpha = _angle(raw_spine, raw_shoulder)
    assert abs(_angle(spine, shoulder) - alpha) < 1e-3
    assert abs(90 - alpha) - 1e-3 <= _angle(spine, np.array([0, 0, 1.0])) < 5
    # centred per frame on the first body's spine joint
    np.testing.assert_allclose(out[:, :, NTU25.spine_joint, 0], 0, atol=1e-5)


def test_prenormalize_orthonormal_puts_spine_on_z_and_shoulders_on_x(ntu2):
    out = PreNormalize3D("ntu25", mode="orthonormal")(ntu2)
    left, right = NTU25.shoulders
    spine = out[:, 0, NTU25.spine_joint, 0] - out[:, 0, NTU25.spine_base, 0]
    shoulder = out[:, 0, right, 0] - out[:, 0, left, 0]
    assert _angle(spine, np.array([0, 0, 1.0])) < 1e-3
    assert abs(shoulder[1]) < 1e-5 and shoulder[0] > 0  # in the x-z plane, pointing to +x


@pytest.mark.parametrize("mode", ["official", "orthonormal"])
def test_prenormalize_is_rigid_per_frame(ntu2, mode):
    """Per-frame translation + one global rotation: distances between joints of a frame are kept."""
    out = PreNormalize3D("ntu25", mode=mode)(ntu2)
    for t in (0, 30, ntu2.shape[1] - 1):
        pts_in = ntu2[:, t].reshape(3, -1).T
        pts_out = out[:, t].reshape(3, -1).T
        d_in = np.linalg.norm(pts_in[:, None] - pts_in[None], axis=-1)
        d_out = np.linalg.norm(pts_out[:, None] - pts_out[None], axis=-1)
        np.testing.assert_allclose(d_out, d_in, atol=1e-4)


def test_prenormalize_drops_leading_empty_frames_and_keeps_missing_bodies_zero(sample_data):
    x = read_ntu_xyz(sample_data / "ntu_rgbd" / ONE_PERSON)
    padded = np.concatenate([np.zeros((3, 7, 25, 2), np.float32), x], axis=1)
    t = PreNormalize3D("ntu25")
    out = t(padded)
    assert out.shape[1] == x.shape[1]
    np.testing.assert_allclose(out, t(x), atol=1e-6)
    assert not out[..., 1].any()  # second body absent in this file: stays zero
    assert PreNormalize3D("ntu25", drop_leading_empty=False)(padded).shape[1] == x.shape[1] + 7
    assert not PreNormalize3D("ntu25")(np.zeros((3, 4, 25, 2), np.float32)).any()


def test_prenormalize_center_first(ntu2):
    out = PreNormalize3D("ntu25", center="first")(ntu2)
    np.testing.assert_allclose(out[:, 0, NTU25.spine_joint, 0], 0, atol=1e-5)
    assert np.abs(out[:, 1:, NTU25.spine_joint, 0]).max() > 1e-3  # later frames move


def test_prenormalize_refuses_2d_layouts():
    with pytest.raises(ValueError, match="openpose18"):
        PreNormalize3D("openpose18")


def test_center_on_hip_makes_hip_mean_zero(ntu2):
    out = CenterOnHip("ntu25")(ntu2)
    hips = list(NTU25.hip_joints)
    np.testing.assert_allclose(out[:, :, hips, :].mean(axis=2), 0, atol=1e-5)
    # a translation per frame and body: bone vectors unchanged
    np.testing.assert_allclose(out[:, :, 3] - out[:, :, 2], ntu2[:, :, 3] - ntu2[:, :, 2], atol=1e-5)


def test_center_on_hip_keeps_missing_joints_and_skips_absent_hips():
    x = np.ones((3, 2, 20, 1), np.float32)
    x[:, 0, 10] = 0  # a missing wrist
    x[:, 1, [6, 3, 4, 5, 2]] = 0  # frame 1: no hip joint present
    out = CenterOnHip("kinect20")(x)
    assert not out[:, 0, 10].any() and not out[:, 0, [0, 1]].any()
    np.testing.assert_array_equal(out[:, 1], x[:, 1])
    y = np.random.default_rng(0).standard_normal((3, 5, 8, 1)).astype(np.float32)
    np.testing.assert_array_equal(CenterOnHip("florence8")(y), y)  # no hip joints: no-op


def test_line_features_delegate_to_the_one_implementation(ntu2):
    from skelact.data.lines import line_features

    out = build_transforms(["LineFeatures"])(ntu2)
    assert out.shape == (3 * 24, *ntu2.shape[1:])
    np.testing.assert_array_equal(out, line_features(ntu2, joint_axis=2, channel_axis=0))
    # joint 0's first line is joint 0 minus joint 1 (eq. 2), per frame and body
    np.testing.assert_allclose(out[:3, :, 0], ntu2[:, :, 0] - ntu2[:, :, 1], atol=1e-6)
    assert not out[..., 1].any() or ntu2[..., 1].any()


def test_kinetics_centre():
    x = np.array([0.75, 0.25, 0.9, 0.3, 0.6, 0.0], np.float32).reshape(2, 3).T.reshape(3, 1, 2, 1)
    out = KineticsCentre()(x)
    np.testing.assert_allclose(out[:, 0, 0, 0], [0.25, -0.25, 0.9])
    np.testing.assert_allclose(out[:, 0, 1, 0], [0.0, 0.0, 0.0])  # score 0: not detected


def _seq(t, c=3, v=4, m=2):
    x = np.arange(1, c * t * v * m + 1, dtype=np.float32).reshape(c, t, v, m)
    x.flags.writeable = False
    return x


def test_pad_to_zero_and_repeat():
    x = _seq(3)
    z = PadTo(7)(x)
    assert z.shape == (3, 7, 4, 2)
    np.testing.assert_array_equal(z[:, :3], x)
    assert not z[:, 3:].any()
    r = PadTo(7, mode="repeat")(x)
    np.testing.assert_array_equal(r, x[:, [0, 1, 2, 0, 1, 2, 0]])
    np.testing.assert_array_equal(PadTo(2)(x), x)  # longer: unchanged
    assert PadTo(4, mode="repeat")(np.zeros((3, 0, 4, 2), np.float32)).shape == (3, 4, 4, 2)


def test_uniform_sample():
    x = _seq(10)
    np.testing.assert_array_equal(UniformSample(4)(x), x[:, [1, 3, 6, 8]])
    np.testing.assert_array_equal(UniformSample(10)(x), x)
    short = UniformSample(5)(_seq(3))
    np.testing.assert_array_equal(short[:, :3], _seq(3))
    assert not short[:, 3:].any()
    np.testing.assert_array_equal(UniformSample(6, short="stretch")(_seq(3)), _seq(3)[:, [0, 0, 1, 1, 2, 2]])


def test_random_sample_keeps_order_and_is_seeded():
    x = _seq(50)
    a = RandomSample(20)(x, np.random.default_rng(3))
    b = RandomSample(20)(x, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    frames = (a[0, :, 0, 0] - 1) / (4 * 2)  # recover frame indices from the arange values
    assert np.all(np.diff(frames) > 0) and len(set(frames)) == 20
    c = RandomSample(20)(x, np.random.default_rng(4))
    assert not np.array_equal(a, c)
    short = RandomSample(8)(_seq(5), np.random.default_rng(0))
    np.testing.assert_array_equal(short[:, :5], _seq(5))
    assert not short[:, 5:].any()


def test_random_crop_window_and_random_pad():
    x = _seq(30)
    out = RandomCrop(10)(x, np.random.default_rng(1))
    start = int((out[0, 0, 0, 0] - 1) // 8)
    np.testing.assert_array_equal(out, x[:, start : start + 10])
    padded = RandomCrop(12)(_seq(5), np.random.default_rng(2))
    present = np.flatnonzero(padded.any(axis=(0, 2, 3)))
    assert len(present) == 5 and np.all(np.diff(present) == 1)
    np.testing.assert_array_equal(padded[:, present], _seq(5))
    assert RandomCrop(12, pad="none")(_seq(5)).shape[1] == 5


def test_random_move_identity_and_rotation():
    x = np.random.default_rng(0).standard_normal((3, 6, 4, 1)).astype(np.float32)
    x[:, :, 3] = 0  # a missing joint
    ident = RandomMove(angles=(0,), scales=(1,), shifts=(0,))(x, np.random.default_rng(0))
    np.testing.assert_allclose(ident, x, atol=1e-6)
    rot = RandomMove(angles=(90,), scales=(2,), shifts=(0.5,))(x, np.random.default_rng(0))
    np.testing.assert_allclose(rot[0, :, :3], -2 * x[1, :, :3] + 0.5, atol=1e-5)
    np.testing.assert_allclose(rot[1, :, :3], 2 * x[0, :, :3] + 0.5, atol=1e-5)
    np.testing.assert_array_equal(rot[2], x[2])
    assert not rot[:, :, 3].any()
    varied = RandomMove(move_time=(3,))(x, np.random.default_rng(5))
    assert varied.shape == x.shape and not varied[:, :, 3].any()


def test_random_rotate_is_a_rotation(ntu2):
    out = RandomRotate(max_angle=45, max_tilt=10)(ntu2, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), np.linalg.norm(ntu2, axis=0), rtol=1e-5)
    assert not np.allclose(out, ntu2)
    assert not out[..., 1].any() or ntu2[..., 1].any()
    # about the vertical axis only: the vertical coordinate is unchanged
    yaw = RandomRotate(max_angle=45, max_tilt=0, vertical="y")(ntu2, np.random.default_rng(1))
    np.testing.assert_allclose(yaw[1], ntu2[1], atol=1e-6)


def test_random_scale_and_noise_keep_missing_joints():
    x = np.ones((3, 4, 5, 2), np.float32)
    x[..., 1] = 0
    s = RandomScale(0.5, 0.5)(x, np.random.default_rng(0))
    np.testing.assert_allclose(s[..., 0], 0.5)
    assert not s[..., 1].any()
    kin = np.ones((3, 4, 18, 1), np.float32)
    s2 = build_transforms([{"name": "RandomScale", "low": 2, "high": 2}], layout="openpose18")(kin)
    np.testing.assert_allclose(s2[:2], 2)
    np.testing.assert_allclose(s2[2], 1)  # OpenPose score untouched
    big = np.ones((3, 200, 25, 2), np.float32)
    big[..., 1] = 0
    n = GaussianNoise(std=0.1)(big, np.random.default_rng(0))
    assert not n[..., 1].any()
    assert abs(float((n[..., 0] - 1).std()) - 0.1) < 0.005


def test_time_warp():
    x = np.random.default_rng(0).standard_normal((3, 40, 5, 1)).astype(np.float32)
    np.testing.assert_allclose(TimeWarp(strength=0)(x, np.random.default_rng(0)), x, atol=1e-6)
    w = TimeWarp(strength=0.5)(x, np.random.default_rng(1))
    assert w.shape == x.shape
    np.testing.assert_allclose(w[:, [0, -1]], x[:, [0, -1]], atol=1e-6)  # end points kept
    assert not np.allclose(w, x)
    # a static body that leaves after frame 20: interpolating it with the empty frames would give
    # shrunken skeletons; every output frame must be either the body or empty
    gap = np.zeros_like(x)
    gap[:, :20] = x[:, :1]
    g = TimeWarp(strength=0.5)(gap, np.random.default_rng(1))
    for t in range(40):
        assert not g[:, t].any() or np.allclose(g[:, t], x[:, 0], atol=1e-6)
    assert 15 < sum(g[:, t].any() for t in range(40)) < 25


def test_random_transforms_are_reproducible_from_the_generator(ntu2):
    aug = Compose([RandomRotate(), RandomScale(), GaussianNoise(), TimeWarp(), RandomMove(), RandomCrop(40)])
    a = aug(ntu2, np.random.default_rng(7))
    b = aug(ntu2, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert aug.random


def test_build_transforms_from_config():
    t = build_transforms(
        [{"name": "CenterOnHip"}, "PreNormalize3D", {"name": "UniformSample", "frames": 20}], layout="ntu25"
    )
    assert [type(s).__name__ for s in t.transforms] == ["CenterOnHip", "PreNormalize3D", "UniformSample"]
    assert t.transforms[0].layout == "ntu25"
    assert "UniformSample(frames=20" in repr(t)
    out = t(_seq(30, v=25, m=1))
    assert out.shape == (3, 20, 25, 1)
    assert len(build_transforms(None)) == 0


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ([{"name": "Flip"}], "unknown transform 'Flip'"),
        ([{"name": "PadTo", "frame": 3}], "unknown argument.*frame"),
        ([{"name": "PadTo"}], "missing argument.*frames"),
        ([{"name": "PadTo", "frames": 0}], "frames must be >= 1"),
        ([{"name": "PadTo", "frames": 5, "mode": "loop"}], "mode"),
        ([{"frames": 5}], "needs a 'name'"),
        ([{"name": "CenterOnHip"}], "needs a layout"),
        ({"name": "PadTo", "frames": 5}, "list"),
    ],
)
def test_build_transforms_errors(spec, match):
    with pytest.raises(ConfigError, match=match):
        build_transforms(spec)


def test_every_registered_transform_leaves_read_only_input_alone(ntu2):
    defaults = {"PadTo": {"frames": 90}, "UniformSample": {"frames": 20}, "RandomSample": {"frames": 20},
                "RandomCrop": {"frames": 20}}  # fmt: skip
    for name in TRANSFORMS:
        t = build_transforms([{"name": name, **defaults.get(name, {})}], layout="ntu25")
        before = ntu2.copy()
        out = t(ntu2, np.random.default_rng(0))
        np.testing.assert_array_equal(ntu2, before)
        assert out.dtype == np.float32 and out.ndim == 4
