"""A tiny AS-GCN (A- and S-links, prediction head) fits a handful of real NTU RGB+D sequences."""

from __future__ import annotations

import numpy as np
import torch

import skelact
from skelact.models import build

FRAMES, HORIZON = 24, 4  # recognition window + prediction target


def _load(path) -> np.ndarray:
    """``.skeleton`` -> ``(C, T, V, M)``: centred on the first frame's base of spine, frames resampled."""
    data = skelact.load(path).data  # (T, M, V, 3)
    data = data - data[:1, :1, :1]
    data[np.abs(skelact.load(path).data).sum(axis=(2, 3)) == 0] = 0  # absent bodies stay zero
    idx = np.linspace(0, len(data) - 1, FRAMES + HORIZON).round().astype(int)
    return np.ascontiguousarray(data[idx].transpose(3, 0, 2, 1))


def test_tiny_asgcn_overfits_real_samples(shared_data):
    files = sorted((shared_data / "ntu_rgbd").glob("*.skeleton"))[:6]
    x = torch.from_numpy(np.stack([_load(f) for f in files]))
    y = torch.arange(len(files))  # one class per sequence (6 different actions)
    assert x.shape == (6, 3, FRAMES + HORIZON, 25, 2)
    model = build(
        "asgcn",
        num_classes=6,
        layout="ntu25",
        channels=(16, 16),
        strides=(1, 2),
        L=2,
        pred_collapse=((8, 3, 2), (8, 3, 1)),
        pred_refine=(8,),
        horizon=HORIZON,
        aim_hidden=16,
        aim_frames=8,
        temporal_kernel=3,
        dropout=0.0,
        pred_weight=1.0,
    )
    assert model.input_frames(FRAMES) == x.shape[2]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = []
    for _ in range(60):
        opt.zero_grad()
        out = model.losses(x, y)
        out["loss"].backward()
        opt.step()
        history.append({k: float(v.detach()) for k, v in out.items()})
    assert history[-1]["ce"] < 0.1 * history[0]["ce"]
    assert history[-1]["pred"] < 0.5 * history[0]["pred"]
    model.eval()
    with torch.no_grad():
        assert model(x).argmax(1).equal(y)
