"""Graph utilities and AS-GCN construction: defaults, messages and edge cases the other tests miss.

Covers: hop distances on a chain (the one graph whose diameter is ``V - 1``), ``normalize_rows`` on
integer input, the documented defaults of ``partition_masks`` / ``spatial_kernels`` /
``structural_kernels`` and their full error messages, the defaults of ``ASGCNBlock`` and of
``ASGCN`` built directly (not through the registry), the refusal of an unvalidated config with
fewer strides than blocks, the ``aim_iterations`` option reaching the AIM encoder, and the
channels-last memory format of the model's convolution weights.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from tiny_asgcn import TINY, tiny_asgcn

from skelact.models import graph
from skelact.models.asgcn.config import ASGCNConfig
from skelact.models.asgcn.model import ASGCN, ASGCNBlock


# ------------------------------------------------------------------------------------ graph ---
def test_hop_distance_of_a_chain_reaches_its_far_end():
    # 0 - 1 - 2 - 3: the far ends are V - 1 = 3 hops apart, the longest any shortest path can be.
    v = 4
    chain = np.zeros((v, v))
    for i in range(v - 1):
        chain[i, i + 1] = chain[i + 1, i] = 1
    expected = np.abs(np.arange(v)[:, None] - np.arange(v)[None, :]).astype(float)
    np.testing.assert_array_equal(graph.hop_distance(chain), expected)
    limited = graph.hop_distance(chain, max_hop=2)
    assert limited[0, 3] == np.inf and limited[3, 0] == np.inf and limited[0, 2] == 2


def test_normalize_rows_accepts_integer_input():
    out = graph.normalize_rows([[0, 2, 2], [1, 0, 3], [0, 0, 0]])  # a plain list of ints
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([[0, 0.5, 0.5], [0.25, 0, 0.75], [0, 0, 0]], np.float32))
    stack = graph.normalize_rows(np.array([[[1, 1], [0, 4]], [[0, 0], [2, 0]]], dtype=np.int64))
    np.testing.assert_array_equal(stack, [[[0.5, 0.5], [0, 1]], [[0, 0], [1, 0]]])


def test_partition_and_kernel_defaults_are_one_hop():
    masks = graph.partition_masks("ntu25")
    assert masks.shape == (3, 25, 25)  # root, centripetal, centrifugal: max_hop = 1
    np.testing.assert_array_equal(masks, graph.partition_masks("ntu25", max_hop=1))
    np.testing.assert_array_equal(masks.any(axis=0), graph.hop_distance(graph.adjacency("ntu25")) <= 1)
    kernels = graph.spatial_kernels("ntu25")
    assert kernels.shape == (3, 25, 25)
    np.testing.assert_array_equal(kernels, graph.normalize_rows(masks.astype(np.float32)))


def test_structural_kernels_default_to_first_order_powers():
    k = graph.structural_kernels("ntu25")
    assert k.shape == (3, 25, 25)  # order 1: the three transition matrices themselves
    np.testing.assert_array_equal(k, graph.spatial_kernels("ntu25", max_hop=1, normalize="partition"))


def test_spatial_kernels_bad_normalize_message():
    msg = "normalize must be 'partition' or 'graph', got 'sym'"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        graph.spatial_kernels("ntu25", normalize="sym")


def test_structural_kernels_bad_scheme_message():
    msg = "scheme must be 'powers' or 'hops', got 'chebyshev'"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        graph.structural_kernels("ntu25", scheme="chebyshev")


# ------------------------------------------------------------------------------- ASGCNBlock ---
def test_asgcn_block_defaults_are_the_documented_ones():
    eye = np.eye(3)
    chain = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    structural = torch.from_numpy(graph.normalize_rows(np.stack([eye, chain])))
    torch.manual_seed(0)
    default = ASGCNBlock(2, 2, structural, 1).train()
    torch.manual_seed(0)
    explicit = ASGCNBlock(
        2, 2, structural, 1, kernel=9, stride=1, residual=True, dropout=0.0, edge_importance=True,
        lambda_act=0.5, bias=False,
    ).train()
    assert default.tcn[0].kernel_size == (9, 1) and default.tcn[0].padding == (4, 0)
    assert default.gcn.bias is None and default.gcn.importance is not None
    assert [(n, p.shape) for n, p in default.named_parameters()] == [
        (n, p.shape) for n, p in explicit.named_parameters()
    ]
    torch.manual_seed(1)
    x, act = torch.randn(2, 2, 11, 3), torch.rand(2, 1, 3, 3)
    out = default(x, act)
    assert out.shape == (2, 2, 11, 3)  # stride 1, "same" padding: frames kept
    # training mode, no dropout: deterministic and equal to the explicit block (lambda 0.5 included)
    assert torch.equal(out, explicit(x, act))
    assert (out > 0).any()


# ------------------------------------------------------------------------------------ ASGCN ---
def test_asgcn_built_directly_defaults_to_ntu25_three_channels_and_the_paper_config():
    torch.manual_seed(0)
    m = ASGCN(4)
    assert m.layout == "ntu25" and m.num_joints == 25 and m.in_channels == 3
    assert m.config == ASGCNConfig()
    assert m.hparams == {"num_classes": 4, "layout": "ntu25", "in_channels": 3, **ASGCNConfig().to_dict()}
    assert m.data_bn.num_features == 2 * 25 * 3  # "mvc": bodies x joints x channels


def test_asgcn_built_directly_with_a_config_keeps_the_default_layout_and_channels():
    cfg = ASGCNConfig(**TINY, links="s", prediction_head=False)
    m = ASGCN(4, config=cfg).eval()
    assert m.hparams["in_channels"] == 3 and m.hparams["layout"] == "ntu25"
    assert m(torch.randn(1, 3, 6, 25, 2)).shape == (1, 4)
    with pytest.raises(ValueError, match="built for in_channels=3, got C=4"):
        m(torch.randn(1, 4, 6, 25, 2))


def test_asgcn_refuses_an_unvalidated_config_with_fewer_strides_than_blocks():
    cfg = ASGCNConfig(**{**TINY, "strides": (1,)}, links="s", prediction_head=False)  # not resolved
    with pytest.raises(ValueError, match="shorter"):
        ASGCN(4, config=cfg)


@pytest.mark.parametrize("iterations", [1, 3])
def test_aim_iterations_set_the_encoder_depth(iterations):
    m = tiny_asgcn(links="as", aim_iterations=iterations)
    assert len(m.aim.encoder.node_mlps) == iterations
    assert len(m.aim.encoder.edge_mlps) == iterations


def test_asgcn_convolution_weights_are_channels_last():
    m = tiny_asgcn(links="s")
    w = m.backbone[1].tcn[0].weight  # (16, 16, 3, 1)
    assert w.shape == (16, 16, 3, 1)
    assert w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()
    res = m.backbone[1].residual[0].weight  # strided 1x1 residual (8 -> 16): channels-last strides too
    assert res.stride() == (8, 1, 8, 8)
