"""A tiny two-stream ARRN-LSTM fits a handful of real MSRAction3D sequences."""

from __future__ import annotations

import numpy as np
import torch

from skelact.data.layouts import get_layout
from skelact.models import build

# (file stem, label): 4 actions, 2 subjects each (high arm wave, bend, forward kick, jogging).
SAMPLES = [("a01_s01_e01", 0), ("a01_s02_e01", 0), ("a13_s01_e01", 1), ("a13_s02_e01", 1),
           ("a14_s01_e01", 2), ("a14_s02_e01", 2), ("a16_s01_e01", 3), ("a16_s02_e01", 3)]
FRAMES = 20  # the paper's T for MSRAction3D


def _load(path, layout) -> np.ndarray:
    """Real3D text file (20 lines `x y z c` per frame) -> hip-centred (C, T, V, 1), T = FRAMES."""
    xyz = np.loadtxt(path, dtype=np.float32).reshape(-1, layout.num_joints, 4)[..., :3]  # (T, V, 3)
    xyz = xyz - xyz[:, list(layout.hip_joints)].mean(axis=1, keepdims=True)  # Sec. 4.1 centring
    idx = np.linspace(0, len(xyz) - 1, FRAMES).round().astype(int)  # uniform frame sampling
    return xyz[idx].transpose(2, 0, 1)[..., None]


def test_tiny_two_stream_model_overfits_real_samples(shared_data):
    layout = get_layout("kinect20")
    root = shared_data / "msr_action3d" / "MSRAction3DSkeletonReal3D"
    x = torch.from_numpy(np.stack([_load(root / f"{s}_skeleton3D.txt", layout) for s, _ in SAMPLES]))
    y = torch.tensor([label for _, label in SAMPLES])
    assert x.shape == (8, 3, FRAMES, 20, 1)

    model = build("arrn_lstm", num_classes=4, layout=layout, stream="two_stream", embed_dim=8, iterations=2,
                  attention_dim=16, lstm_sizes=(24,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(80):
        opt.zero_grad()
        out = model.losses(x, y)
        out["loss"].backward()
        opt.step()
        first = float(out["loss"].detach()) if first is None else first
    model.eval()
    with torch.no_grad():
        final = model.losses(x, y)
        streams = model.stream_logits(x)
        assert model(x).argmax(1).equal(y)
    assert streams["joint"].argmax(1).equal(y) and streams["line"].argmax(1).equal(y)
    assert float(final["loss"]) < 0.1 * first
