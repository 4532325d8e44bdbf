"""Skeleton graph utilities: adjacency, hop distance, spatial partition, normalisation, powers."""

from __future__ import annotations

import numpy as np
import pytest

from skelact.data.layouts import LAYOUTS, get_layout
from skelact.models import graph


def _stgcn_spatial(layout: str, max_hop: int, variant: str | None = None) -> np.ndarray:
    """Independent reference: ST-GCN's ``Graph(strategy='spatial')`` written as in its code
    (column form ``A[j, i]``, loops over joint pairs), returned in our row form and group order."""
    lay = get_layout(layout)
    v = lay.num_joints
    edges = [(i, i) for i in range(v)] + list(lay.edges(variant))
    a = np.zeros((v, v))
    for i, j in edges:
        a[i, j] = a[j, i] = 1
    transfer = [np.linalg.matrix_power(a, d) for d in range(max_hop + 1)]
    arrive = np.stack(transfer) > 0
    hop = np.full((v, v), np.inf)
    for d in range(max_hop, -1, -1):
        hop[arrive[d]] = d
    adj = (hop <= max_hop).astype(float)
    norm = adj / adj.sum(0, keepdims=True)  # normalize_digraph: A D^-1 (column sums)
    out = []
    for h in range(max_hop + 1):
        root, close, further = np.zeros((v, v)), np.zeros((v, v)), np.zeros((v, v))
        for i in range(v):
            for j in range(v):
                if hop[j, i] == h:
                    if hop[j, lay.center] == hop[i, lay.center]:
                        root[j, i] = norm[j, i]
                    elif hop[j, lay.center] > hop[i, lay.center]:
                        close[j, i] = norm[j, i]
                    else:
                        further[j, i] = norm[j, i]
        if h == 0:
            out.append(root)
        else:  # ST-GCN appends (root + close, further); ours is (centripetal, centrifugal)
            out += [further, root + close]
    return np.stack(out).transpose(0, 2, 1)  # column form -> row form


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_adjacency_is_the_layout_bone_graph(name):
    lay = get_layout(name)
    a = graph.adjacency(name)
    assert a.shape == (lay.num_joints, lay.num_joints) and a.dtype == np.float32
    np.testing.assert_array_equal(a, a.T)
    assert np.trace(a) == 0 and a.sum() == 2 * len(lay.bones)
    looped = graph.adjacency(name, self_loops=True)
    np.testing.assert_array_equal(looped, a + np.eye(lay.num_joints))
    assert looped.dtype == np.float32  # A + I stays float32


def test_bone_variants_change_only_the_ntu_hand_edges():
    stgcn, pyskl = graph.adjacency("ntu25"), graph.adjacency("ntu25", variant="pyskl")
    diff = np.argwhere(stgcn != pyskl)
    assert set(map(tuple, diff)) <= {(i, j) for i in (7, 11, 21, 22, 23, 24) for j in (7, 11, 21, 22, 23, 24)}
    # ST-GCN: tip(22)-thumb(23)-hand(8) chain; PYSKL: tip and thumb both on the hand (1-based).
    assert stgcn[21, 22] == 1 and stgcn[21, 7] == 0
    assert pyskl[21, 7] == 1 and pyskl[22, 7] == 1 and pyskl[21, 22] == 0
    with pytest.raises(KeyError, match="no bone variant"):
        graph.adjacency("ntu25", variant="nope")


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_hop_distance_matches_breadth_first_search(name):
    lay = get_layout(name)
    np.testing.assert_array_equal(graph.hop_distance(lay.adjacency()), lay.hop_distance())
    limited = graph.hop_distance(lay.adjacency(), max_hop=2)
    full = lay.hop_distance()
    np.testing.assert_array_equal(limited[full <= 2], full[full <= 2])
    assert np.isinf(limited[full > 2]).all()


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.parametrize("max_hop", [1, 2, 4])
def test_partition_masks_split_the_neighbourhood(name, max_hop):
    lay = get_layout(name)
    masks = graph.partition_masks(name, max_hop=max_hop)
    assert masks.shape == (1 + 2 * max_hop, lay.num_joints, lay.num_joints)
    assert masks.sum(axis=0).max() == 1  # disjoint
    hops = lay.hop_distance()
    np.testing.assert_array_equal(masks.any(axis=0), hops <= max_hop)
    np.testing.assert_array_equal(masks[0], np.eye(lay.num_joints, dtype=bool))


def test_ntu_centripetal_neighbour_is_the_parent():
    lay = get_layout("ntu25")
    root, centripetal, centrifugal = graph.partition_masks("ntu25", max_hop=1)
    to_centre = lay.hop_distance()[:, lay.center]
    # A tree: every joint but the centre has exactly one neighbour nearer the centre.
    np.testing.assert_array_equal(centripetal.sum(1), (np.arange(25) != lay.center).astype(int))
    i, j = np.nonzero(centripetal)
    assert (to_centre[j] == to_centre[i] - 1).all()
    i, j = np.nonzero(centrifugal)
    assert (to_centre[j] == to_centre[i] + 1).all()
    assert centrifugal[lay.center].sum() == 4  # spine-shoulder: neck, both shoulders, spine-mid


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_transition_matrices_rows_sum_to_one(name):
    kernels = graph.spatial_kernels(name, max_hop=1, normalize="partition")
    sums = kernels.sum(axis=-1)
    nonempty = graph.partition_masks(name, max_hop=1).any(axis=-1)
    np.testing.assert_allclose(sums[nonempty], 1.0, rtol=1e-6)
    assert (sums[~nonempty] == 0).all()
    # whole-graph normalisation: the rows of the sum of the kernels sum to one
    np.testing.assert_allclose(
        graph.spatial_kernels(name, max_hop=2, normalize="graph").sum((0, 2)), 1.0, rtol=1e-6
    )


@pytest.mark.parametrize(
    "name,max_hop,variant",
    [
        ("ntu25", 1, None),
        ("ntu25", 4, None),
        ("ntu25", 2, "pyskl"),
        ("openpose18", 1, None),
        ("openpose18", 4, None),
        ("florence8", 2, None),
    ],
)
def test_graph_normalised_kernels_equal_stgcn_spatial_strategy(name, max_hop, variant):
    ours = graph.spatial_kernels(
        name, variant, max_hop=max_hop, normalize="graph", truncate_centre_distance=True
    )
    np.testing.assert_allclose(ours, _stgcn_spatial(name, max_hop, variant), atol=1e-7)
    if get_layout(name).hop_distance()[:, get_layout(name).center].max() > max_hop + 1:
        exact = graph.spatial_kernels(name, variant, max_hop=max_hop, normalize="graph")
        assert not np.allclose(exact, ours)
        np.testing.assert_allclose(exact.sum(0), ours.sum(0))  # same neighbourhoods, other groups
    hops = graph.structural_kernels(name, variant, order=max_hop, scheme="hops")
    np.testing.assert_array_equal(hops, ours)  # the official S-links


def test_normalize_rows_and_powers():
    a = np.array([[0, 2, 2], [1, 0, 0], [0, 0, 0]], dtype=np.float32)
    np.testing.assert_allclose(graph.normalize_rows(a), [[0, 0.5, 0.5], [1, 0, 0], [0, 0, 0]])
    rng = np.random.default_rng(0)
    m = rng.random((4, 4))
    p = graph.matrix_powers(m, 3)
    for l in range(3):
        np.testing.assert_allclose(p[l], np.linalg.matrix_power(m, l + 1), rtol=1e-5)
    with pytest.raises(ValueError):
        graph.matrix_powers(m, 0)


def test_structural_kernels_powers_reach_l_hop_ancestors():
    k = graph.structural_kernels("ntu25", order=3, scheme="powers")
    assert k.shape == (9, 25, 25)
    # powers of D^-1 A are sub-stochastic: walks that reach a leaf (or the centre) stop
    assert (k.sum(-1) <= 1 + 1e-6).all() and (k >= 0).all()
    centripetal = k.reshape(3, 3, 25, 25)[:, 1]  # order-major: (l, p)
    tip, thumb, hand, wrist = 21, 22, 7, 6  # ST-GCN chain: tip - thumb - hand - wrist
    assert (
        centripetal[0, tip, thumb] == 1 and centripetal[1, tip, hand] == 1 and centripetal[2, tip, wrist] == 1
    )
    pyskl = graph.structural_kernels("ntu25", "pyskl", order=2).reshape(2, 3, 25, 25)[:, 1]
    assert pyskl[0, tip, hand] == 1 and pyskl[1, tip, wrist] == 1
    root = k.reshape(3, 3, 25, 25)[:, 0]
    np.testing.assert_array_equal(root, np.broadcast_to(np.eye(25), root.shape))
    assert graph.structural_kernels("openpose18", order=4, scheme="hops").shape == (9, 18, 18)
    with pytest.raises(ValueError):
        graph.structural_kernels("ntu25", scheme="chebyshev")
