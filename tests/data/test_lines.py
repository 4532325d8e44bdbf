"""Line features of ARRN-LSTM (eq. 2): one implementation for NumPy and torch, any axes, in
``skelact.data.lines`` (re-exported by ``skelact.models.arrn``), importable without torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import skelact.models.arrn
import skelact.models.arrn.lines
from skelact.data.lines import line_features, other_joints_index

# A 3-joint skeleton in 3D (one frame), chosen so every difference is distinct.
C3 = np.array([[0.0, 0.0, 0.0],
               [1.0, 2.0, 3.0],
               [-4.0, 5.0, 0.5]], dtype=np.float32)  # (J=3, C=3)


def test_known_skeleton_matches_hand_computed_differences():
    # eq. 2: l_i = (c_i - c_1, ..., c_i - c_J) skipping j = i, other-joint-major, channel-minor
    expected = np.array([
        [0 - 1, 0 - 2, 0 - 3, 0 + 4, 0 - 5, 0 - 0.5],       # joint 1: c1-c2, c1-c3
        [1 - 0, 2 - 0, 3 - 0, 1 + 4, 2 - 5, 3 - 0.5],       # joint 2: c2-c1, c2-c3
        [-4 - 0, 5 - 0, 0.5 - 0, -4 - 1, 5 - 2, 0.5 - 3],   # joint 3: c3-c1, c3-c2
    ], dtype=np.float32)
    out = line_features(C3)
    assert out.shape == (3, 6)  # 3 (J - 1) values per joint
    np.testing.assert_array_equal(out, expected)
    out_t = line_features(torch.from_numpy(C3))
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32
    np.testing.assert_array_equal(out_t.numpy(), expected)


def test_other_joints_index_skips_self():
    idx = other_joints_index(4)
    assert idx.tolist() == [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]]
    with pytest.raises(ValueError):
        other_joints_index(1)


def test_axes_of_every_skelact_layout_agree():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(5, 2, 4, 3)).astype(np.float32)  # (T, M, V, C)
    ref = line_features(raw)  # (T, M, V, 9)
    assert ref.shape == (5, 2, 4, 9)
    item = raw.transpose(3, 0, 2, 1)  # (C, T, V, M), a dataset item
    out_item = line_features(item, joint_axis=2, channel_axis=0)
    assert out_item.shape == (9, 5, 4, 2)
    np.testing.assert_allclose(out_item, ref.transpose(3, 0, 2, 1))
    batch = torch.from_numpy(item[None].copy())  # (N, C, T, V, M), a model batch
    out_batch = line_features(batch, joint_axis=3, channel_axis=1)
    np.testing.assert_allclose(out_batch[0].numpy(), ref.transpose(3, 0, 2, 1))


def test_zero_body_gives_zero_lines_and_translation_cancels():
    x = np.zeros((3, 5, 3), dtype=np.float32)
    assert not line_features(x).any()
    rng = np.random.default_rng(1)
    y = rng.normal(size=(3, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(line_features(y + np.float32(7.0)), line_features(y), atol=1e-5)


def test_torch_gradient_flows():
    x = torch.randn(2, 6, 3, requires_grad=True)
    line_features(x).pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_same_axis_rejected():
    with pytest.raises(ValueError):
        line_features(np.zeros((3, 3)), joint_axis=0, channel_axis=-2)


@settings(max_examples=25, deadline=None)
@given(joints=st.integers(2, 7), channels=st.integers(1, 4), lead=st.integers(1, 3), seed=st.integers(0, 99))
def test_numpy_and_torch_agree_with_a_loop_reference(joints, channels, lead, seed):
    x = np.random.default_rng(seed).normal(size=(lead, joints, channels)).astype(np.float32)
    ref = np.stack([np.concatenate([x[:, i] - x[:, j] for j in range(joints) if j != i], axis=-1)
                    for i in range(joints)], axis=1)  # (lead, J, C (J-1))
    np.testing.assert_allclose(line_features(x), ref, atol=1e-6)
    np.testing.assert_allclose(line_features(torch.from_numpy(x)).numpy(), ref, atol=1e-6)


def test_models_re_export_the_data_implementation():
    assert skelact.models.arrn.line_features is line_features
    assert skelact.models.arrn.lines.line_features is line_features
    assert skelact.models.arrn.lines.other_joints_index is other_joints_index


def test_line_features_and_transforms_import_without_torch():
    """The data package stays light: the LineFeatures transform and eq. 2 need no torch import."""
    code = (
        "import sys; import numpy as np; from skelact.data.transforms import build_transforms; "
        "x = np.ones((3, 4, 25, 2), np.float32); "
        "assert build_transforms(['LineFeatures'])(x).shape[0] == 72; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
