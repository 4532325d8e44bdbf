"""Recurrent relational network of ARRN-LSTM (eqs. 4-8)."""

from __future__ import annotations

import pytest
import torch

from skelact.models.arrn import MessageFunction, RecurrentRelationalNetwork


def _literal_messages(f: MessageFunction, h: torch.Tensor) -> torch.Tensor:
    """eqs. 5-6 read literally: m_i = sum_{j != i} f(h_i, h_j), one pair at a time."""
    b, j, _ = h.shape
    out = []
    for i in range(j):
        out.append(sum(f.pairwise(h[:, i], h[:, k]) for k in range(j) if k != i))
    return torch.stack(out, dim=1)


def test_message_split_trick_equals_literal_pairwise_sum():
    f = MessageFunction(dim=6, hidden=5)
    h = torch.randn(3, 4, 6, dtype=torch.float64, requires_grad=True)
    f = f.double()
    fast = f(h)
    ref = _literal_messages(f, h)
    torch.testing.assert_close(fast, ref)
    # identical gradients too (w.r.t. the input and every weight)
    g = torch.randn_like(fast)
    grads_fast = torch.autograd.grad(fast, [h, *f.parameters()], g)
    grads_ref = torch.autograd.grad(_literal_messages(f, h), [h, *f.parameters()], g)
    for a, b in zip(grads_fast, grads_ref, strict=True):
        torch.testing.assert_close(a, b)


def _literal_rrn(rrn: RecurrentRelationalNetwork, v: torch.Tensor) -> torch.Tensor:
    """eqs. 4-8 with h^0 = v and g = GRU([v_i; m_i], h_i), node by node."""
    h = v
    for _ in range(rrn.iterations):
        m = _literal_messages(rrn.message, h)
        h = torch.stack([rrn.node(torch.cat([v[:, i], m[:, i]], dim=-1), h[:, i]) for i in range(v.shape[1])],
                        dim=1)
    return h


def test_rrn_matches_node_by_node_reference():
    rrn = RecurrentRelationalNetwork(dim=5, iterations=3, message_hidden=7).double()
    v = torch.randn(2, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(rrn(v), _literal_rrn(rrn, v))


def test_rrn_is_permutation_equivariant_over_nodes():
    rrn = RecurrentRelationalNetwork(dim=8, iterations=5)
    v = torch.randn(6, 25, 8)
    perm = torch.randperm(25)
    torch.testing.assert_close(rrn(v[:, perm]), rrn(v)[:, perm], atol=1e-5, rtol=1e-5)


def test_node_sets_are_independent_and_every_iteration_counts():
    rrn = RecurrentRelationalNetwork(dim=4, iterations=2)
    v = torch.randn(3, 5, 4)
    w = rrn(v)
    v2 = v.clone()
    v2[1] += 1.0  # change set 1 only
    w2 = rrn(v2)
    torch.testing.assert_close(w2[[0, 2]], w[[0, 2]])
    assert not torch.allclose(w2[1], w[1])
    rrn.iterations = 1
    assert not torch.allclose(rrn(v), w)


def test_rrn_gradients_reach_all_parameters():
    rrn = RecurrentRelationalNetwork(dim=4, iterations=2)
    v = torch.randn(3, 5, 4, requires_grad=True)
    rrn(v).pow(2).sum().backward()
    assert v.grad.abs().sum() > 0
    for name, p in rrn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_rrn_rejects_zero_iterations():
    with pytest.raises(ValueError):
        RecurrentRelationalNetwork(dim=4, iterations=0)


def test_other_nodes_rows_hold_every_other_node_once():
    from skelact.models.arrn.rrn import _other_nodes

    ids = torch.arange(6.0).view(1, 6, 1)  # node i carries the value i
    rows = _other_nodes(ids)[0, :, :, 0]  # (J, J-1)
    for i in range(6):
        assert sorted(rows[i].tolist()) == [j for j in range(6) if j != i]
