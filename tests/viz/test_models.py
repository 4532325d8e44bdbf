"""Model figures (AS-GCN links, edge importance, forecasts; ARRN-LSTM attention) on tiny models
built from the registry and real NTU samples. No checkpoint is needed for the Python API."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from skelact.models import build
from skelact.viz import (
    edge_importance,
    link_probabilities,
    plot_alinks,
    plot_attention,
    plot_edge_importance,
    plot_forecast,
    plot_link_matrix,
)

TINY_ASGCN = dict(channels=(8, 8), strides=(1, 1), aim_hidden=8, aim_frames=10, horizon=5,
                  pred_collapse=((8, 3, 2), (8, 3, 1)), pred_refine=(8,), order=2)


def _check_png(path, fig):
    w, h = fig.get_size_inches() * fig.dpi
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == (round(w), round(h))


@pytest.fixture(scope="module")
def asgcn():
    torch.manual_seed(0)
    model = build("asgcn", num_classes=60, layout="ntu25", **TINY_ASGCN).eval()
    with torch.no_grad():  # a "trained" look: masks away from their initial ones
        for mod in model.modules():
            if getattr(mod, "importance", None) is not None:
                mod.importance.add_(0.2 * torch.randn_like(mod.importance))
    return model


@pytest.fixture(scope="module")
def sample(ntu_two):
    return ntu_two.to_model_input()[:, :40]  # (C, T, V, M), two bodies


def test_alinks_on_skeleton(asgcn, sample, tmp_path):
    probs = link_probabilities(asgcn, sample)
    assert probs.shape == (3, 25, 25)  # ghost (first) removed
    assert np.all((probs >= 0) & (probs <= 1))
    fig = plot_alinks(asgcn, sample, tmp_path / "alinks.png", threshold=0.25, frames=[0, 39], dpi=50)
    _check_png(tmp_path / "alinks.png", fig)
    panels = [ax for ax in fig.axes if ax.name == "3d"]
    assert len(panels) == 3 * 2  # link types x frames
    drawn = sum(len(ax.lines) for ax in panels)
    assert drawn > 3 * 2 * 6  # joint markers (3 sides x 2 bodies) + some links above 0.25


def test_alinks_none_above_threshold_says_so(asgcn, sample, tmp_path):
    fig = plot_alinks(asgcn, sample, None, threshold=0.999, num_frames=2)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("no link above 0.999" in t for t in texts)


def test_link_matrix(asgcn, sample, tmp_path):
    fig = plot_link_matrix(asgcn, sample, tmp_path / "lm.png")
    _check_png(tmp_path / "lm.png", fig)
    heat = [ax for ax in fig.axes if ax.get_images()]
    assert len(heat) == 3
    assert heat[0].get_yticklabels()[0].get_text() == "base of spine"


def test_edge_importance(asgcn, tmp_path):
    masks = edge_importance(asgcn)
    assert "block 1" in masks and masks["block 1"].shape == (6, 25, 25)  # 3 partitions x order 2
    assert np.isnan(masks["block 1"]).any()  # off-kernel pairs masked
    fig = plot_edge_importance(asgcn, tmp_path / "edges.png", dpi=60)
    _check_png(tmp_path / "edges.png", fig)
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert titles[:3] == ["order 1 \u00b7 root", "order 1 \u00b7 centripetal", "order 1 \u00b7 centrifugal"]
    assert "mean over 2 blocks" in fig._suptitle.get_text()
    fig2 = plot_edge_importance(asgcn, None, blocks=[0, "block 2"])
    assert len([ax for ax in fig2.axes if ax.get_images()]) == 12


def test_forecast_from_model(asgcn, sample, tmp_path):
    obs, truth = sample[:, :30], sample[:, 30:35]
    with torch.no_grad():
        pred = asgcn.forecast(torch.from_numpy(obs).unsqueeze(0), 5)[0].numpy()
    assert pred.shape == truth.shape
    fig = plot_forecast(obs, pred, truth, "ntu25", tmp_path / "fc.png", num_future=3)
    _check_png(tmp_path / "fc.png", fig)
    titles = [ax.get_title() for ax in fig.axes]
    assert sum(t.startswith("observed") for t in titles) == 3
    assert sum(t.startswith("predicted") for t in titles) == 3
    assert sum(t.startswith("ground truth") for t in titles) == 3
    assert any("mean joint error" in t for t in titles)


def test_forecast_arrays_tvc(ntu_one, tmp_path):
    seq = ntu_one.data[:, 0]  # (T, V, C)
    fig = plot_forecast(seq[:50], seq[50:56], None, "ntu25", tmp_path / "fc.svg")
    assert "<svg" in (tmp_path / "fc.svg").read_text()
    assert not any(ax.get_title().startswith("ground truth") for ax in fig.axes)


def test_forecast_error_lines_follow_the_result(tmp_path):
    from skelact.viz import plot_forecast_error

    result = {"mpjpe": {"model": [0.1, 0.2, None], "zero_velocity": [0.05, 0.1, 0.15],
                        "constant_velocity": [0.02, 0.08, 0.2]}}  # fmt: skip
    fig = plot_forecast_error(result, tmp_path / "err.png", unit="m")
    _check_png(tmp_path / "err.png", fig)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert len(lines) == 3 and ax.get_ylabel() == "MPJPE (m)"
    model = lines["AS-GCN prediction head"]
    assert list(model.get_xdata()) == [1, 2] and list(model.get_ydata()) == [0.1, 0.2]  # None: no point
    assert list(lines["constant velocity"].get_ydata()) == [0.02, 0.08, 0.2]


@pytest.fixture(scope="module")
def arrn():
    torch.manual_seed(0)
    return build("arrn_lstm", num_classes=60, layout="ntu25", attention_init="random", embed_dim=4,
                 attention_dim=4, lstm_sizes=(4,), iterations=1)


def test_attention_two_streams(arrn, tmp_path):
    fig = plot_attention(arrn, "ntu25", tmp_path / "att.png")
    _check_png(tmp_path / "att.png", fig)
    bars = [ax for ax in fig.axes if ax.patches and ax.get_yticklabels()]
    assert len(bars) == 2  # joint and line stream
    names = [t.get_text() for t in bars[0].get_yticklabels()]
    assert names[:2] == ["base of spine", "middle of spine"] and len(names) == 25
    titles = " ".join(ax.get_title() for ax in fig.axes)
    assert "joint stream" in titles and "line stream" in titles


def test_attention_on_a_pose_and_other_layouts(arrn, ntu_one, tmp_path):
    fig = plot_attention(arrn, None, tmp_path / "att_pose.png", pose=ntu_one, frame=30)
    _check_png(tmp_path / "att_pose.png", fig)
    for layout, v in (("openpose18", 18), ("kinect20", 20), ("florence15", 15), ("florence8", 8)):
        w = torch.linspace(-1, 1, v)
        plot_attention({"joint": w}, layout, tmp_path / f"att_{layout}.png", dpi=40)
    with pytest.raises(ValueError, match="weights"):
        plot_attention({"joint": torch.ones(5)}, "ntu25")
