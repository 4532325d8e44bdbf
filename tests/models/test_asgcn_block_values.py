"""AS-GCN blocks, kernels and model checks on tiny inputs, against hand-computed values.

Covers: ``to_dense`` and ``actional_kernels`` (helper tensors follow the input's device and dtype,
not the global default device / dtype; the ``scale`` factor for every value other than 1), the
``ASGC`` error for missing or miscounted actional kernels (full message), the in-place ReLUs of
``ASGCNBlock`` (on the batch-norm output and on the block output), the default ``readout`` of
``PredictionHead``, and the full error messages of ``ASGCN.observed`` and ``ASGCN._check_input``.
"""

from __future__ import annotations

import re
from functools import partial

import pytest
import torch
from tiny_asgcn import tiny_asgcn

from skelact.models.asgcn.aim import to_dense
from skelact.models.asgcn.links import ASGC, actional_kernels
from skelact.models.asgcn.model import ASGCNBlock, PredictionHead


def _model(**options):
    return tiny_asgcn(**options).eval()


# ---------------------------------------------------------------------------------- to_dense ---
def test_to_dense_index_follows_input_device_not_default_device():
    pairs = torch.arange(1.0, 13.0).reshape(1, 3, 2, 2)  # (B, V, V-1, K)
    senders = torch.tensor([[1, 2], [0, 2], [0, 1]])
    with torch.device("meta"):  # a global default device must not leak into the row index
        dense = to_dense(pairs, senders, diagonal=-1.0)
    assert dense.device.type == "cpu"
    expected = torch.tensor(
        [
            [[-1.0, 1.0, 3.0], [5.0, -1.0, 7.0], [9.0, 11.0, -1.0]],
            [[-1.0, 2.0, 4.0], [6.0, -1.0, 8.0], [10.0, 12.0, -1.0]],
        ]
    )[None]
    assert torch.equal(dense, expected)


# -------------------------------------------------------------------------- actional_kernels ---
def test_actional_kernels_self_loops_keep_input_dtype():
    links = torch.tensor([[[[0.0, 1.0], [3.0, 0.0]]]], dtype=torch.bfloat16)
    out = actional_kernels(links, self_loops=True)
    assert out.dtype == torch.bfloat16
    expected = torch.tensor([[[[0.5, 0.5], [0.75, 0.25]]]], dtype=torch.bfloat16)
    assert torch.equal(out, expected)


def test_actional_kernels_self_loops_on_input_device_not_default_device():
    links = torch.tensor([[[[0.0, 1.0], [3.0, 0.0]]]])
    with torch.device("meta"):
        out = actional_kernels(links, self_loops=True)
    assert out.device.type == "cpu"
    assert torch.equal(out, torch.tensor([[[[0.5, 0.5], [0.75, 0.25]]]]))


def test_actional_kernels_scale_two_is_applied():
    links = torch.tensor([[[[0.0, 1.0], [3.0, 1.0]]]])
    out = actional_kernels(links, scale=2.0)
    assert torch.equal(out, torch.tensor([[[[0.0, 2.0], [1.5, 0.5]]]]))


# ---------------------------------------------------------------------------- ASGC actional ---
def test_asgc_missing_actional_kernels_message():
    torch.manual_seed(0)
    gc = ASGC(2, 3, torch.eye(4)[None], num_actional=2)
    x = torch.randn(1, 2, 3, 4)
    msg = "ASGC expects 2 actional kernels (B, C, V, V), got None"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        gc(x, None)
    msg = "ASGC expects 2 actional kernels (B, C, V, V), got (1, 3, 4, 4)"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        gc(x, torch.rand(1, 3, 4, 4))


# ------------------------------------------------------------------------- ASGCNBlock ReLUs ---
def _block(**kw):
    torch.manual_seed(0)
    return ASGCNBlock(2, 2, torch.eye(3)[None], kernel=1, **kw).eval()


def test_block_first_relu_runs_in_place_on_the_batch_norm_output():
    blk = _block()
    seen = {}

    def hook(_mod, _inp, out):
        seen["out"], seen["before"] = out, out.clone()

    blk.bn.register_forward_hook(hook)
    torch.manual_seed(1)
    blk(torch.randn(1, 2, 4, 3))
    before = seen["before"]
    assert (before < 0).any()  # the ReLU has something to clip
    assert torch.equal(seen["out"], before.clamp_min(0))  # the BN output tensor itself was rectified


def test_block_final_relu_runs_in_place():
    blk = _block()
    torch.manual_seed(1)
    x = torch.randn(1, 2, 4, 3)
    with torch.no_grad():
        out = blk(x)
    assert out._version == 1  # the fresh residual sum, rectified in place (one in-place write)
    assert (out >= 0).all() and (out > 0).any()
    no_act = _block(activation=False)
    with torch.no_grad():
        raw = no_act(x)
    assert raw._version == 0 and (raw < 0).any()
    assert torch.equal(out, raw.clamp_min(0))


# --------------------------------------------------------------------------- PredictionHead ---
def test_prediction_head_default_readout_is_frame_major():
    block = partial(ASGCNBlock, structural=torch.eye(3)[None])
    head = PredictionHead(4, 2, 2, ((4, 1, 1),), (), block)
    assert head.readout == "frame_major"


# ------------------------------------------------------------------------------ model errors ---
def test_observed_rejects_non_five_dim_input_with_message():
    m = _model(pred=True)
    msg = "AS-GCN expects (N, C, T, V, M), got shape (2, 3, 12, 25)"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        m.observed(torch.zeros(2, 3, 12, 25))


def test_observed_too_few_frames_message_reports_frame_count():
    m = _model(pred=True)
    msg = (
        "AS-GCN with the prediction head needs more than horizon=3 frames "
        "(the last 3 are the target), got 2"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        m.observed(torch.zeros(1, 3, 2, 25, 1))


def test_check_input_channels_message():
    m = _model(pred=False, links="s")
    msg = "AS-GCN was built for in_channels=3, got C=2"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        m(torch.zeros(1, 2, 6, 25, 2))
