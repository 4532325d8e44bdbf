"""Skeleton strips and animations on real NTU (3D) and Kinetics (2D OpenPose) sequences."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from skelact import Skeleton
from skelact.data.layouts import NTU25
from skelact.viz import animate_skeleton, draw_skeleton, plot_skeleton_frames, to_sequence
from skelact.viz import skeleton as skel_mod
from skelact.viz.skeleton import SkeletonView


def _png_size(fig):
    w, h = fig.get_size_inches() * fig.dpi
    return round(w), round(h)


def test_strip_png_one_body(ntu_one, tmp_path):
    out = tmp_path / "strip.png"
    fig = plot_skeleton_frames(ntu_one, path=out, num_frames=4)
    with Image.open(out) as im:
        assert im.format == "PNG"
        assert im.size == _png_size(fig)
    assert len([a for a in fig.axes if a.name == "3d"]) == 4
    assert "drink water" in fig._suptitle.get_text()


def test_strip_svg_two_bodies_with_labels(ntu_two, tmp_path):
    out = tmp_path / "strip.svg"
    plot_skeleton_frames(ntu_two, path=out, frames=[0, 40], labels="index")
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert "body 2" in text  # legend names both bodies


def test_gif_two_bodies(ntu_two, tmp_path):
    out = animate_skeleton(ntu_two, path=tmp_path / "a.gif", frames=slice(0, 12, 3), fps=10,
                           size=(3.0, 3.0), dpi=60)
    with Image.open(out) as im:
        assert im.format == "GIF"
        assert im.n_frames == 4
        assert im.size == (180, 180)
        assert im.info["duration"] == 100


def test_gif_accepts_model_input_layout(ntu_one, tmp_path):
    x = ntu_one.to_model_input()  # (C, T, V, M)
    out = animate_skeleton(x[:, :6], path=tmp_path / "b.gif", size=(2.5, 2.5), dpi=50, labels=True)
    with Image.open(out) as im:
        assert im.n_frames == 6


def test_kinetics_2d_skips_empty_frames_and_hides_undetected_joints(kinetics_clip, tmp_path):
    data = kinetics_clip.data
    present = np.abs(data).sum(axis=(1, 2, 3)) > 0
    assert not present.all(), "fixture should have frames without a person"
    frames = list(range(0, data.shape[0], 25))
    out = animate_skeleton(kinetics_clip, path=tmp_path / "k.gif", frames=frames, size=(3, 2.5), dpi=50)
    with Image.open(out) as im:
        assert im.n_frames == int(present[frames].sum())
    seq, lay, meta = to_sequence(kinetics_clip)
    view = SkeletonView(seq, lay, meta=meta)
    assert view.mode == "image"
    score = seq[..., 2]
    assert not view.visible[score <= 0].any()  # confidence-0 joints hidden
    assert view.visible[score > 0].all()
    # normalised coordinates are scaled to the 340 x 256 Kinetics frame, y axis pointing down
    assert view.points[view.visible].max() > 2.0


def test_all_zero_input_raises(tmp_path):
    sk = Skeleton(np.zeros((5, 1, 25, 3), np.float32), "ntu25", {})
    with pytest.raises(ValueError, match="no body"):
        animate_skeleton(sk, path=tmp_path / "z.gif")


def test_mp4_needs_ffmpeg(ntu_one, tmp_path, monkeypatch):
    monkeypatch.setattr(skel_mod, "_ffmpeg_available", lambda: False)
    with pytest.raises(RuntimeError, match="ffmpeg"):
        animate_skeleton(ntu_one, path=tmp_path / "a.mp4")
    with pytest.raises(ValueError, match="gif or .mp4"):
        animate_skeleton(ntu_one, path=tmp_path / "a.avi")


def test_layouts_and_vertical_axis(ntu_one):
    raw = ntu_one.data
    a, lay, _ = to_sequence(raw)
    b, _, _ = to_sequence(raw.transpose(3, 0, 2, 1))  # (C, T, V, M)
    c, _, _ = to_sequence(raw[:, 0])  # (T, V, C)
    assert lay.name == "ntu25"
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a[:, :1], c)
    up_y = SkeletonView(a, lay)
    # the same body, z-up (as after AS-GCN pre-normalisation): drawn upright the same way
    z_up = a[..., [0, 2, 1]] * np.array([1, -1, 1])
    up_z = SkeletonView(z_up, lay)
    head, foot = lay.index("head"), lay.index("left_foot")
    for v in (up_y, up_z):
        assert (v.points[:, 0, head, 2] > v.points[:, 0, foot, 2]).all()
    assert up_y.axis_labels[2] == "y" and up_z.axis_labels[2] == "z"


def test_mp4_pipeline_with_a_stand_in_ffmpeg(ntu_one, tmp_path, monkeypatch):
    """The MP4 path pipes frames to ffmpeg; a stand-in binary checks the frames arrive (the real
    ffmpeg is not required by the tests)."""
    import os
    import stat

    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "ffmpeg"
    fake.write_text('#!/bin/sh\nfor last; do :; done\nwc -c > "$last"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    out = animate_skeleton(ntu_one, path=tmp_path / "a.mp4", frames=[0, 1, 2], size=(2.5, 2.5), dpi=41)
    size = 102 * 102 * 4  # even-sized RGBA frames (41 dpi * 2.5 in = 102.5 -> 102)
    assert int(out.read_text().split()[0]) == 3 * size


def test_draw_skeleton_on_own_axes(kinetics_clip, ntu_one):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    ax2d = fig.add_subplot(121)
    t = int(np.flatnonzero(np.abs(kinetics_clip.data).sum(axis=(1, 2, 3)) > 0)[0])
    artists = draw_skeleton(ax2d, kinetics_clip, frame=t, color="black")
    assert any(len(c.get_segments()) > 0 for c in artists.lines.values())
    ax3d = fig.add_subplot(122, projection="3d")
    artists = draw_skeleton(ax3d, ntu_one, frame=10, labels=True)
    FigureCanvasAgg(fig).draw()  # 3D segments are projected at draw time
    assert len(artists.lines[0].get_segments()) == len(NTU25.bones)
    assert sum(t.get_visible() for t in artists.texts) == 25


def test_strip_of_empty_sequence_raises():
    with pytest.raises(ValueError, match="no body"):
        plot_skeleton_frames(np.zeros((4, 2, 18, 3), np.float32), "openpose18")
